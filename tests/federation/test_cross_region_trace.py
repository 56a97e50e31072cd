"""One trace spans a cross-region read: the consumer's SDK, its home node (cq), the
provider's node (sc) and sc's ledger append of the usage record.

Two real nodes on loopback, each with its own OpenTelemetry providers and an
in-memory span exporter (as ``--otel`` builds them); the trace context travels in
``traceparent`` from the SDK to cq and, with the signed peer call, from cq to sc.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

import clients
from services.db import make_engine
from services.node import build_node
from services.telemetry import setup_telemetry
from tests.access.conftest import people
from tests.federation.conftest import Region, configure, prepare_region
from tests.federation.test_market import descriptor

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def pair(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> Iterator[dict[str, tuple[Region, InMemorySpanExporter]]]:
    regions = {r: prepare_region(r, tmp_path / r, region_db_urls[r]) for r in ("sc", "cq")}
    spans = {r: InMemorySpanExporter() for r in regions}
    for region in regions.values():
        config = configure(region, list(regions.values()))
        telemetry = setup_telemetry(region.name, "none", span_exporter=spans[region.name])
        region.node = build_node(config, telemetry=telemetry)
        region.node.start()
    try:
        yield {r: (regions[r], spans[r]) for r in regions}
    finally:
        for region in regions.values():
            region.stop()


def _one(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_a_cross_region_read_is_one_trace(
    pair: dict[str, tuple[Region, InMemorySpanExporter]],
) -> None:
    (sc, sc_spans), (cq, cq_spans) = pair["sc"], pair["cq"]
    pq.write_table(people(20), sc.data_dir / "people.parquet")
    opened = []
    try:
        provider = clients.connect(sc.address, sc.keys["provider"], region="sc")
        consumer = clients.connect(cq.address, cq.keys["consumer"], region="cq")
        opened += [provider, consumer]
        engine = make_engine(sc.db_url)
        with engine.connect() as conn:
            (pid,) = conn.execute(
                text("SELECT id FROM parties WHERE name = 'party-provider'")
            ).one()
        engine.dispose()
        made = provider.catalog.create_product(
            descriptor(f"regions/sc/parties/{pid}", personal=False), product_id="stats"
        )
        provider.catalog.create_tariff("stats", unit="PER_ROW", unit_price="0.015")
        provider.access.register_source(
            str(made.revision.name), path="people.parquet", key_columns=["city"]
        )
        granted = consumer.licensing.request_licence(
            "stats",
            provider_region="sc",
            purpose_class="COMMERCIAL",
            scenario_code="FIN-CREDIT-01",
            access_modes=("BULK",),
        )
        licence = str(granted.licence.name)
        assert licence, granted

        sc_spans.clear()
        cq_spans.clear()
        with TracerProvider().get_tracer("consumer-app").start_as_current_span("read") as root:
            result = consumer.access.read_result(licence)
        assert result.table.num_rows == 20
        assert result.receipt.signer_region == "sc"
    finally:
        for c in opened:
            c.close()

    trace_id = root.get_span_context().trace_id
    home = _one(cq_spans.get_finished_spans(), "bashu.access.v1.AccessService/ReadData")
    relay = _one(
        sc_spans.get_finished_spans(), "bashu.federation.v1.FederationService/ForwardReadData"
    )
    for span in (home, relay):
        assert span.kind == SpanKind.SERVER
        assert span.context is not None
        assert span.context.trace_id == trace_id
    assert home.parent is not None
    assert home.parent.span_id == root.get_span_context().span_id
    # sc's server span continues a span of cq's call (cq's span or its client child).
    assert relay.parent is not None
    assert relay.parent.is_remote
    assert relay.attributes is not None
    assert relay.attributes["bashu.peer.region"] == "cq"
    appends = [s for s in sc_spans.get_finished_spans() if s.name == "bashu.ledger.append"]
    assert relay.context is not None
    usage_append = [
        s
        for s in appends
        if s.context is not None
        and s.context.trace_id == trace_id
        and s.parent is not None
        and s.parent.span_id == relay.context.span_id
    ]
    assert len(usage_append) == 1, [(s.name, s.parent) for s in appends]
    assert usage_append[0].attributes is not None
    assert usage_append[0].attributes["bashu.ledger.index"] == result.receipt.entry_index
