"""A cross-region call is one OpenTelemetry trace across both nodes."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import clients
from services.node import build_node
from services.telemetry import Telemetry
from tests.federation.conftest import configure, prepare_region


def test_a_relayed_search_is_one_trace_on_both_nodes(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> None:
    regions = [prepare_region(r, tmp_path / r, region_db_urls[r]) for r in ("sc", "cq")]
    exporters = {}
    for region in regions:
        configure(region, regions)
        exporter = InMemorySpanExporter()
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        exporters[region.name] = exporter
        assert region.config is not None
        region.node = build_node(region.config, telemetry=Telemetry(tracing, MeterProvider()))
        region.node.start()
    cq = regions[1]
    try:
        with clients.connect(cq.address, cq.keys["consumer"], region="cq") as client:
            found = client.catalog.search_products()
        assert not found.degraded
    finally:
        for region in regions:
            region.stop()
    home = [s for s in exporters["cq"].get_finished_spans() if s.name.endswith("SearchProducts")]
    peer = [s for s in exporters["sc"].get_finished_spans() if s.name.endswith("SearchCatalog")]
    assert len(home) == 1
    assert len(peer) == 1
    assert home[0].context is not None
    assert peer[0].context is not None
    assert peer[0].context.trace_id == home[0].context.trace_id
    assert peer[0].parent is not None
    assert peer[0].parent.span_id == home[0].context.span_id
