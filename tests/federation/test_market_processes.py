"""The one market with three ``bashu node serve`` processes on loopback (sc, cq, sg).

sc provides; cq's and sg's consumers reach sc only through their home nodes. The
licence notice of an approval travels through sc's outbox thread; every ledger
verifies at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2
from bashu.licensing.v1 import licensing_pb2
from sqlalchemy import text

import clients
from clients.sdk.access import verify_receipt_offline
from services.config import load_config
from services.db import make_engine
from tests.access.conftest import people
from tests.federation.conftest import free_port
from tests.federation.test_market import descriptor
from tests.node.processes import ServeProcess, add_party, bashu, start

pytestmark = pytest.mark.timeout(300)
REGIONS = ("sc", "cq", "sg")
FAST_FEDERATION = """
[federation]
witness_interval_s = 0.5
deliver_interval_s = 0.3
peer_timeout_s = 3.0
"""


def _init(root: Path, region: str, port: int, db_url: str) -> Path:
    data_dir = root / region
    bashu("node", "init", "--region", region, "--data-dir", str(data_dir),
          "--listen", f"127.0.0.1:{port}", "--database-url", db_url)  # fmt: skip
    config = data_dir / "node.toml"
    config.write_text(config.read_text(encoding="utf-8") + FAST_FEDERATION, encoding="utf-8")
    return config


def _add_peer(config: Path, peer: str, peer_config: Path) -> None:
    key = bashu("node", "public-key", "--config", str(peer_config)).strip()
    address = load_config(peer_config).listen
    bashu("federation", "add-peer", "--config", str(config), "--region", peer,
          "--address", address, "--key", key)  # fmt: skip


def _wait(what: str, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def _count(config: Path, statement: str) -> int:
    engine = make_engine(load_config(config).database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(statement)).scalar_one())
    finally:
        engine.dispose()


def test_three_node_processes_are_one_market(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> None:
    ports = {r: free_port() for r in REGIONS}
    cfg = {r: _init(tmp_path, r, ports[r], region_db_urls[r]) for r in REGIONS}
    for r in REGIONS:
        for other in REGIONS:
            if other != r:
                _add_peer(cfg[r], other, cfg[other])
    provider_id, provider_key = add_party(cfg["sc"], "sc provider", "provider")
    _, sc_operator = add_party(cfg["sc"], "sc operator", "operator")
    cq_id, cq_key = add_party(cfg["cq"], "cq consumer", "consumer")
    _, sg_key = add_party(cfg["sg"], "sg consumer", "consumer")
    pq.write_table(people(30), tmp_path / "sc" / "people.parquet")
    sc_vkey = bashu("node", "public-key", "--config", str(cfg["sc"])).strip()

    running: dict[str, ServeProcess] = {}
    try:
        running = {r: start(cfg[r]) for r in REGIONS}
        with (
            clients.connect(running["sc"].address, provider_key, region="sc") as provider,
            clients.connect(running["sc"].address, sc_operator, region="sc") as operator,
            clients.connect(running["cq"].address, cq_key, region="cq") as consumer,
            clients.connect(running["sg"].address, sg_key, region="sg") as abroad,
        ):
            me = f"regions/sc/parties/{provider_id}"
            made = provider.catalog.create_product(
                descriptor(me, personal=True), product_id="people"
            )
            provider.catalog.create_tariff("people", unit="PER_ROW", unit_price="0.015")
            provider.access.register_source(
                str(made.revision.name), path="people.parquet", key_columns=["id_no"]
            )
            provider.catalog.create_product(descriptor(me, personal=False), product_id="stats")

            # Search on cq finds sc's products (once every node is up and reached: a
            # channel dialled before its peer started reconnects within 5 s).
            _wait("cq reaches both peers", lambda: not consumer.catalog.search_products().degraded)
            found = consumer.catalog.search_products()
            assert not found.degraded
            assert {p.name for p in found.products} == {
                "regions/sc/products/people",
                "regions/sc/products/stats",
            }

            # A held request, approved on sc; the approval reaches cq by itself.
            held = consumer.licensing.request_licence(
                "people",
                provider_region="sc",
                purpose_class="COMMERCIAL",
                scenario_code="FIN-CREDIT-01",
                access_modes=("BULK", "LOOKUP"),
            )
            assert held.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_HELD
            licence = provider.licensing.approve(held.licence_request.name).licence.name
            _wait(
                "cq's copy shows the approval",
                lambda: (
                    consumer.licensing.get_request(held.licence_request.name).state
                    == licensing_pb2.LICENCE_REQUEST_STATE_GRANTED
                ),
            )
            assert consumer.licensing.get_licence(licence).terms.consumer_party == (
                f"regions/cq/parties/{cq_id}"
            )

            # A read through cq: sc's receipt, verified offline with sc's key.
            rid = uuid.uuid4().hex
            result = consumer.access.read_result(licence, request_id=rid)
            assert result.table.num_rows == 30
            receipt = result.receipt
            assert receipt.entry_index is not None
            proof = operator.ledger.prove_inclusion(sc_vkey, receipt.entry_index)
            verify_receipt_offline(receipt, proof, sc_vkey)
            again = consumer.access.read_result(licence, request_id=rid)
            assert again.receipt.body == receipt.body
            assert _count(cfg["cq"], "SELECT count(*) FROM market_consumption") == 1
            assert _count(cfg["sc"], "SELECT count(*) FROM access_usage") == 1

            # Cross-border: sg's consumer needs an approval reference.
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
            cb = licensing_pb2.CrossBorder(
                destination_country="SG",
                approval_kind=common_pb2.APPROVAL_KIND_SECURITY_ASSESSMENT,
            )
            cb.approval_expire_time.FromDatetime(until + dt.timedelta(days=1))

            def ask() -> licensing_pb2.CreateLicenceRequestResponse:
                return abroad.licensing.request_licence(
                    "stats",
                    provider_region="sc",
                    purpose_class="COMMERCIAL",
                    scenario_code="FIN-CREDIT-01",
                    access_modes=("LOOKUP",),
                    cross_border=cb,
                    valid_until=until,
                )

            refused = ask()
            assert refused.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_DENIED
            cb.approval_reference = "CAC-2026-0042"
            assert ask().licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_GRANTED

            # sg dies: cq's search is degraded, says so, and returns in time.
            running.pop("sg").stop()
            started = time.monotonic()
            degraded = consumer.catalog.search_products()
            assert time.monotonic() - started < 10
            assert degraded.degraded
            states = {s.region: s.state for s in degraded.peer_statuses}
            assert states["sc"] == catalog_pb2.PEER_SEARCH_STATE_OK
            assert states["sg"] != catalog_pb2.PEER_SEARCH_STATE_OK
            assert len(degraded.products) == 2
    finally:
        for node in running.values():
            node.stop()
    for r in REGIONS:
        report = json.loads(bashu("ledger", "verify", "--config", str(cfg[r]), "--json"))
        assert report["ok"], (r, report)
