"""What a node measures: one trace from the SDK to the ledger append, and the metrics
for usage, appends, refusals, outbox backlog and witness lag (in-memory exporters on a
real node); exporters chosen by ``--otel`` or the standard ``OTEL_*`` variables (a real
``bashu node serve`` process printing to stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import clients
from clients.sdk import errors
from clients.sdk.client import Client
from services.config import ORIGIN_PREFIX, PeerConfig
from services.errors import ConfigError
from services.keys import create_region_key
from services.node import Node, build_node
from services.telemetry import resolve_modes, setup_telemetry
from tests.access.conftest import PRODUCT_ID, descriptor, id_number, people
from tests.node.conftest import make_node_config, register_role_parties


@dataclass
class Observed:
    node: Node
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    licence: str
    consumer: Client
    stranger: Client  # calls with an API key the node never issued

    def points(self, name: str) -> list[tuple[dict[str, Any], float]]:
        data = self.reader.get_metrics_data()
        assert data is not None
        found: list[tuple[dict[str, Any], float]] = []
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != name:
                        continue
                    for p in metric.data.data_points:
                        value = getattr(p, "value", None)
                        assert value is not None, f"{name} is not a counter or gauge"
                        found.append((dict(p.attributes or {}), float(value)))
        return found

    def total(self, name: str, **attrs: Any) -> float:
        return sum(v for a, v in self.points(name) if all(a.get(k) == w for k, w in attrs.items()))


@pytest.fixture
def observed(tmp_path: Path, db_url: str) -> Iterator[Observed]:
    data_dir = tmp_path / "sc"
    config = make_node_config(data_dir, "sc", db_url)
    # A configured (unreachable) peer, so the federation's gauges have a subject.
    cq_vkey = create_region_key(tmp_path / "cq.key", ORIGIN_PREFIX + "cq").vkey()
    config = replace(config, peers=(PeerConfig("cq", "127.0.0.1:1", cq_vkey),))
    keys, _, party_ids = register_role_parties(db_url)
    pq.write_table(people(50), data_dir / "people.parquet")
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = setup_telemetry("sc", "none", span_exporter=spans, metric_readers=[reader])
    node = build_node(config, telemetry=telemetry)
    node.start()
    provider = clients.connect(node.address, keys["provider"], region="sc")
    consumer = clients.connect(node.address, keys["consumer"], region="sc")
    stranger = clients.connect(node.address, "bx_nosuchkey_000", region="sc")
    try:
        created = provider.catalog.create_product(
            descriptor(f"regions/sc/parties/{party_ids['provider']}"), product_id=PRODUCT_ID
        )
        provider.catalog.create_tariff(PRODUCT_ID, unit="PER_ROW", unit_price="0.015")
        provider.access.register_source(
            created.revision.name, path="people.parquet", key_columns=["id_no"]
        )
        resp = consumer.licensing.request_licence(
            PRODUCT_ID,
            purpose_class="COMMERCIAL",
            scenario_code="FIN-CREDIT-01",
            access_modes=("LOOKUP", "BULK"),
            quota={"calls": 3, "rows": 0, "bytes": 0},
        )
        licence = (
            resp.licence.name or provider.licensing.approve(resp.licence_request.name).licence.name
        )
        yield Observed(node, spans, reader, str(licence), consumer, stranger)
    finally:
        for c in (provider, consumer, stranger):
            c.close()
        node.stop(grace=1.0)


def test_one_trace_from_the_sdk_to_the_ledger_append(observed: Observed) -> None:
    client_tracer = TracerProvider().get_tracer("consumer-app")
    observed.spans.clear()
    with client_tracer.start_as_current_span("consumer-read") as root:
        table = observed.consumer.access.read(observed.licence)
    assert table.num_rows == 50
    receipt = observed.consumer.access.last_receipt
    assert receipt is not None
    trace_id = root.get_span_context().trace_id
    spans = observed.spans.get_finished_spans()
    (server,) = [s for s in spans if s.name == "bashu.access.v1.AccessService/ReadData"]
    assert server.kind == SpanKind.SERVER
    assert server.context is not None
    assert server.context.trace_id == trace_id
    assert server.parent is not None
    assert server.parent.span_id == root.get_span_context().span_id
    # The usage record's append is a child of the RPC's span, in the same trace.
    (append,) = [s for s in spans if s.name == "bashu.ledger.append"]
    assert append.context is not None
    assert append.context.trace_id == trace_id
    assert append.parent is not None
    assert append.parent.span_id == server.context.span_id
    assert append.attributes is not None
    assert append.attributes["bashu.ledger.index"] == receipt.entry_index


def test_metrics_count_usage_appends_refusals_backlog_and_lag(observed: Observed) -> None:
    before_appends = observed.total("bashu.ledger.appends", record="usage_recorded")
    for i in range(3):
        observed.consumer.access.lookup(observed.licence, {"id_no": id_number(i)})
    with pytest.raises(errors.ResourceExhaustedError):
        observed.consumer.access.lookup(observed.licence, {"id_no": id_number(4)})
    with pytest.raises(errors.UnauthenticatedError):
        observed.stranger.ledger.public_key()
    assert observed.node.federation is not None
    observed.node.federation.deliverer.deliver_once()

    assert observed.total("bashu.usage.calls", access_mode="ACCESS_MODE_LOOKUP") == 3
    assert observed.total("bashu.usage.rows", consumer_region="sc") == 3
    assert observed.total("bashu.ledger.appends", record="usage_recorded") - before_appends == 3
    assert observed.total("bashu.ledger.appends", record="product_listed") == 1
    lookup = "bashu.access.v1.AccessService/LookupRecord"
    assert observed.total("bashu.refusals", reason="QUOTA_EXHAUSTED", **{"rpc.method": lookup}) == 1
    assert observed.total("bashu.refusals", reason="API_KEY_INVALID") == 1
    assert observed.total("bashu.rpc.calls", **{"rpc.method": lookup}) == 4
    assert (
        observed.total("bashu.rpc.calls", **{"rpc.method": lookup, "rpc.grpc.status_code": "OK"})
        == 3
    )
    size = observed.points("bashu.ledger.size")
    assert size == [({"origin": "bashu.exchange/log/sc"}, float(observed.node.ledger.size()))]
    assert observed.points("bashu.outbox.backlog") == [({"peer": "cq"}, 0.0)]
    ((attrs, lag),) = observed.points("bashu.witness.lag")
    assert attrs == {"peer": "cq"}
    assert lag >= 0


def test_exporters_follow_the_flag_then_the_otel_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_modes() == ("none", "none")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert resolve_modes() == ("console", "console")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert resolve_modes() == ("console", "none")
    assert resolve_modes("none") == ("none", "none")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert resolve_modes() == ("none", "none")
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigError, match="zipkin"):
        resolve_modes()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    with pytest.raises(ConfigError, match="OTLP/gRPC"):
        resolve_modes("otlp")


def _serve(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    bashu = Path(sys.executable).with_name("bashu")
    return subprocess.Popen(
        [str(bashu), "node", "serve", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_node_serve_exports_to_the_console(tmp_path: Path, how: str) -> None:
    bashu = Path(sys.executable).with_name("bashu")
    subprocess.run(
        [str(bashu), "node", "init", "--region", "sc", "--data-dir", str(tmp_path / "sc"),
         "--listen", "127.0.0.1:0"],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "200"
    env.pop("BASHU_DATABASE_URL", None)
    if how == "env":
        env["OTEL_TRACES_EXPORTER"] = "console"
        proc = _serve(tmp_path / "sc" / "node.toml", env)
    else:
        proc = _serve(tmp_path / "sc" / "node.toml", env, "--otel", "console")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        address = line.rsplit(" ", 1)[1].strip()
        c = clients.connect(address, "bx_nosuchkey_000")
        with pytest.raises(errors.UnauthenticatedError):
            c.ledger.public_key()
        c.close()
        time.sleep(0.6)  # at least one metric export interval
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"name": "bashu.ledger.v1.LedgerService/GetPublicKey"' in err
    assert '"bashu.refusals"' in err
    assert "API_KEY_INVALID" in err
