"""OpenTelemetry for a node: providers chosen by flag or ``OTEL_*``, and what it measures.

The providers are built here and handed to the node (never installed globally and
never by monkey-patching gRPC). ``mode`` is ``none``, ``console`` or ``otlp``. When
it is not given, the standard variables decide: ``OTEL_TRACES_EXPORTER`` for traces
and ``OTEL_METRICS_EXPORTER`` for metrics (each falls back to the other, then to
``none``: a node does not dial a collector nobody configured), and
``OTEL_SDK_DISABLED=true`` turns both off. The OTLP exporter (gRPC) reads its own
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, certificate, timeout);
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the process, and
``OTEL_METRIC_EXPORT_INTERVAL`` sets how often metrics are exported (ms). Console
output goes to stderr, so stdout keeps the one "listening" line scripts wait for.

What is measured, besides the server span per RPC the interceptor opens:

* :class:`RpcMetricsInterceptor` (outermost interceptor): ``bashu.rpc.calls`` per
  method and status code, and ``bashu.refusals`` per method and ``ErrorInfo`` reason
  (quota, licence, role, validation …) for every call that did not succeed.
* :class:`MeteredLog` (the node's ledger): a ``bashu.ledger.append`` span around each
  append (so a trace reaches the durable write), ``bashu.ledger.appends`` per record
  kind, ``bashu.usage.calls``/``.rows``/``.bytes`` from each usage record this node
  meters as provider, and the ``bashu.ledger.size`` gauge (the log's size, read from
  the database: with several processes on one database every process reports it).
* The federation's own instruments, created on this meter: ``bashu.outbox.backlog``
  and ``bashu.outbox.acks`` (services/outbox.py), ``bashu.witness.lag`` and
  ``bashu.witness.forks`` (services/witness.py).

Counters are per process: sum them across the processes of a region.

Example::

    tel = setup_telemetry("sc", mode="console")
    node = build_node(config, telemetry=tel)     # wires the interceptor and the log
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
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
from opentelemetry.trace import SpanKind

from ledger.log import Log
from ledger.sequencer import AppendResult
from services.errors import ConfigError

__all__ = [
    "MODES",
    "AppendTally",
    "MeteredLog",
    "RpcMetricsInterceptor",
    "Telemetry",
    "resolve_modes",
    "setup_telemetry",
    "tally_appends",
]

MODES = ("none", "console", "otlp")
_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class Instruments:
    """The node's own instruments on one meter (created once per Telemetry)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.rpc_calls = meter.create_counter(
            "bashu.rpc.calls", unit="{call}", description="RPCs served, by method and status"
        )
        self.refusals = meter.create_counter(
            "bashu.refusals",
            unit="{call}",
            description="RPCs that did not succeed, by method and ErrorInfo reason",
        )
        self.appends = meter.create_counter(
            "bashu.ledger.appends",
            unit="{entry}",
            description="Entries appended to the ledger by this process, by record kind "
            "(retries answered with the first entry have duplicate=true)",
        )
        self.usage_calls = meter.create_counter(
            "bashu.usage.calls", unit="{call}", description="Metered data calls (provider side)"
        )
        self.usage_rows = meter.create_counter(
            "bashu.usage.rows", unit="{row}", description="Metered rows delivered"
        )
        self.usage_bytes = meter.create_counter(
            "bashu.usage.bytes", unit="By", description="Metered Arrow bytes delivered"
        )
        self._meter = meter

    def observe_ledger_size(self, size: Callable[[], int], origin: str) -> None:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            try:
                return [Observation(size(), {"origin": origin})]
            except Exception:
                # The final export at shutdown may run after the database is closed.
                return []

        self._meter.create_observable_gauge(
            "bashu.ledger.size",
            callbacks=[callback],
            unit="{entry}",
            description="Entries in the region's log (read from the database)",
        )


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

    @functools.cached_property
    def instruments(self) -> Instruments:
        return Instruments(self.meter)

    def rpc_interceptor(self) -> RpcMetricsInterceptor:
        return RpcMetricsInterceptor(self.instruments)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _env_mode(name: str) -> str | None:
    value = os.environ.get(name, "").strip().lower()
    # The spec allows a comma-separated list; a node uses one exporter, the first.
    return value.split(",")[0].strip() or None


def resolve_modes(mode: str | None = None) -> tuple[str, str]:
    """``(traces, metrics)`` exporters from the flag, else the ``OTEL_*`` variables."""
    if mode is not None:
        traces = metrics_mode = mode.lower()
    elif os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        traces = metrics_mode = "none"
    else:
        env_traces = _env_mode("OTEL_TRACES_EXPORTER")
        env_metrics = _env_mode("OTEL_METRICS_EXPORTER")
        traces = env_traces or env_metrics or "none"
        metrics_mode = env_metrics or env_traces or "none"
    for which, value in (("traces", traces), ("metrics", metrics_mode)):
        if value not in MODES:
            raise ConfigError(
                "otel", f"unknown {which} exporter {value!r} (choose {', '.join(MODES)})"
            )
    if "otlp" in (traces, metrics_mode):
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc").strip().lower()
        if protocol != "grpc":
            raise ConfigError(
                "otel", f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this node exports OTLP/gRPC"
            )
    return traces, metrics_mode


def setup_telemetry(
    region: str,
    mode: str | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    metric_readers: Sequence[MetricReader] = (),
) -> Telemetry:
    """Build the providers. ``span_exporter``/``metric_readers`` are added as well
    (tests pass in-memory ones)."""
    traces, metrics_mode = resolve_modes(mode)
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", f"bashu-node-{region}"),
            "bashu.region": region,
        }
    )
    tracer_provider = TracerProvider(resource=resource)
    if traces == "console":
        tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif traces == "otlp":
        # Imported lazily: the OTLP exporter pulls in its own gRPC channel setup.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    readers: list[MetricReader] = list(metric_readers)
    if metrics_mode == "console":
        # The interval comes from OTEL_METRIC_EXPORT_INTERVAL (60 s by default).
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(out=sys.stderr)))
    elif metrics_mode == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


# --- the ledger, measured -------------------------------------------------------------------


AppendTally = tuple[dict[tuple[str, bool], int], dict[tuple[int, str], list[int]]]
"""Appends per (record kind, duplicate), and usage (calls, rows, bytes) per
(access mode, consumer region): what :class:`MeteredLog` counts, as plain data."""


def tally_appends(
    datas: Sequence[bytes], results: Sequence[AppendResult], into: AppendTally | None = None
) -> AppendTally:
    """Tally a batch of appends (one counter call per attribute set afterwards, not four
    per record: this runs inside the group commit's critical path)."""
    appends, usage = into if into is not None else ({}, {})
    for data, result in zip(datas, results, strict=True):
        try:
            record: record_pb2.LedgerRecord | None = record_pb2.LedgerRecord.FromString(data)
        except DecodeError:
            record = None
        kind = (record.WhichOneof("payload") if record is not None else None) or "unknown"
        appends[kind, result.duplicate] = appends.get((kind, result.duplicate), 0) + 1
        if record is None or result.duplicate or kind != "usage_recorded":
            continue
        u = record.usage_recorded.usage_record
        q = u.quantity
        sums = usage.setdefault((u.access_mode, u.consumer_region), [0, 0, 0])
        sums[0] += q.calls
        sums[1] += q.rows
        sums[2] += q.bytes
    return appends, usage


class MeteredLog(Log):
    """The node's :class:`~ledger.log.Log` with a span and counters around appends.

    ``ledger/`` stays free of OpenTelemetry; the node builds this subclass instead.
    Appends keep their contract (durable on return); a record that does not parse is
    still appended and counted as kind ``unknown``.
    """

    def __init__(self, *args: Any, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tracer = telemetry.tracer
        self._instruments = telemetry.instruments
        self._instruments.observe_ledger_size(self.size, self.origin)

    def append(self, data: bytes, idempotency_key: str) -> AppendResult:
        with self._tracer.start_as_current_span(
            "bashu.ledger.append", kind=SpanKind.INTERNAL
        ) as span:
            result = super().append(data, idempotency_key)
            span.set_attribute("bashu.ledger.index", result.index)
            span.set_attribute("bashu.ledger.duplicate", result.duplicate)
        self._count([data], [result])
        return result

    def append_many(self, items: Iterable[tuple[bytes, str]]) -> list[AppendResult]:
        pairs = list(items)
        with self._tracer.start_as_current_span(
            "bashu.ledger.append", kind=SpanKind.INTERNAL
        ) as span:
            results = super().append_many(pairs)
            span.set_attribute("bashu.ledger.entries", len(results))
            if results:
                span.set_attribute("bashu.ledger.index", results[0].index)
        self._count([data for data, _ in pairs], results)
        return results

    def _count(self, datas: Sequence[bytes], results: Sequence[AppendResult]) -> None:
        self.add_tally(tally_appends(datas, results))

    def add_tally(self, tally: AppendTally) -> None:
        """Count appends tallied here or by another process of this node (the metering
        writer process appends lookups' usage and sends its tallies back)."""
        appends, usage = tally
        ins = self._instruments
        for (kind, duplicate), n in appends.items():
            ins.appends.add(n, {"record": kind, "duplicate": duplicate})
        for (mode, region), (calls, rows, nbytes) in usage.items():
            attrs = {"access_mode": common_pb2.AccessMode.Name(mode), "consumer_region": region}
            ins.usage_calls.add(calls, attrs)
            ins.usage_rows.add(rows, attrs)
            ins.usage_bytes.add(nbytes, attrs)


# --- RPC outcomes -------------------------------------------------------------------------


def _reason(context: grpc.ServicerContext) -> str:
    """The ErrorInfo reason the call ended with, from the rich status in the trailers."""
    for key, value in context.trailing_metadata() or ():
        if key != _STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            return "UNKNOWN"
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return str(info.reason)
    return ""


class RpcMetricsInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Counts every call by outcome. Installed OUTSIDE the node interceptor, so it
    sees the status that interceptor aborted with (auth and role refusals included)."""

    def __init__(self, instruments: Instruments) -> None:
        self._ins = instruments

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        method: str = details.method
        if handler is None or method.startswith("/grpc."):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _record(
        self,
        method: str,
        context: grpc.ServicerContext,
        failed: bool,
        code: grpc.StatusCode | None = None,
    ) -> None:
        # ServicerContext.code() exists at runtime (grpcio ≥ 1.38) but not in the stubs.
        code = code or getattr(context, "code", lambda: None)()
        if code is None:
            code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
        name = method.lstrip("/")
        self._ins.rpc_calls.add(1, {"rpc.method": name, "rpc.grpc.status_code": code.name})
        if code != grpc.StatusCode.OK:
            attrs: Mapping[str, str] = {
                "rpc.method": name,
                "rpc.grpc.status_code": code.name,
                "reason": _reason(context) or code.name,
            }
            self._ins.refusals.add(1, attrs)

    def _unary(
        self, behavior: Callable[[Any, grpc.ServicerContext], Any], method: str
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
            failed = True
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                self._record(method, context, failed)

        return unary_unary

    def _stream(
        self, behavior: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            failed, code = True, None
            try:
                yield from behavior(request, context)
                failed = False
            except GeneratorExit:
                # The client went away mid-stream.
                code = grpc.StatusCode.CANCELLED
                raise
            finally:
                self._record(method, context, failed, code)

        return unary_stream
