"""OpenTelemetry for a node: tracer and meter providers, chosen by flag or OTEL_*.

The providers are built here and handed to the interceptor and the domain code
(never installed by monkey-patching gRPC). ``mode`` is ``none``, ``console`` or
``otlp``; when it is not given, the standard ``OTEL_TRACES_EXPORTER`` variable
decides (``none`` by default), and the OTLP exporter reads its own ``OTEL_EXPORTER_*``
variables for endpoint and headers.

Example::

    tel = setup_telemetry("sc", mode="console")
    tracer = tel.tracer_provider.get_tracer("bashu.node")
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

from services.errors import ConfigError

__all__ = ["MODES", "Telemetry", "setup_telemetry"]

MODES = ("none", "console", "otlp")


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    @property
    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer("bashu.node")

    @property
    def meter(self) -> metrics.Meter:
        return self.meter_provider.get_meter("bashu.node")

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(region: str, mode: str | None = None) -> Telemetry:
    mode = (mode or os.environ.get("OTEL_TRACES_EXPORTER") or "none").lower()
    if mode not in MODES:
        raise ConfigError("otel", f"unknown exporter {mode!r} (choose {', '.join(MODES)})")
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", f"bashu-node-{region}"),
            "bashu.region": region,
        }
    )
    tracer_provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = []
    if mode == "console":
        tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), 60_000))
    elif mode == "otlp":
        # Imported lazily: the OTLP exporter pulls in its own gRPC channel setup.
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter: SpanExporter = OTLPSpanExporter()
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
