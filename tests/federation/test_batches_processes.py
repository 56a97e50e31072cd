"""Kill the counterparty during a batch exchange and bring it back: nothing lost or doubled.

sc and cq run as ``bashu node serve`` processes, peers of each other, sealing every
half second (uses at least 3 s old) and delivering every 0.3 s. cq's consumer reads
sc's data through its home node (real relayed calls: sc records the usage, cq the
consumption). cq is killed with SIGKILL while sc seals and sends the batch, and
restarted; then again. When things settle, every cross-region use is in exactly one
countersigned batch on both sides, the sequence numbers run 1..n without gaps on both
sides with the same digests, every batch has exactly one BatchSealed and one
BatchCountersigned entry on each side, and both ledgers verify (``bashu ledger
verify``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from bashu.licensing.v1 import licensing_pb2
from sqlalchemy import text

import clients
from clients.sdk.errors import NotFoundError
from services.db import make_engine
from services.records import decode_record
from tests.access.conftest import people
from tests.federation.conftest import free_port
from tests.federation.test_market import descriptor, request
from tests.node.processes import ServeProcess, add_party, bashu, start

pytestmark = pytest.mark.timeout(300)

FEDERATION = """
[federation]
witness_interval_s = 30.0
deliver_interval_s = 0.3
retry_base_s = 0.2
retry_max_s = 1.0
peer_timeout_s = 3.0
batch_interval_s = 0.5
batch_min_age_s = 3.0
"""


def _init(root: Path, region: str, port: int, db_url: str) -> Path:
    data_dir = root / region
    bashu("node", "init", "--region", region, "--data-dir", str(data_dir),
          "--listen", f"127.0.0.1:{port}", "--database-url", db_url)  # fmt: skip
    config = data_dir / "node.toml"
    body = config.read_text(encoding="utf-8")
    body = re.sub(r"checkpoint_interval_s = .*", "checkpoint_interval_s = 0.5", body)
    config.write_text(body + FEDERATION, encoding="utf-8")
    return config


def _peer(config: Path, region: str, other: Path) -> None:
    key = bashu("node", "public-key", "--config", str(other)).strip()
    address = re.search(r'listen = "([^"]+)"', other.read_text(encoding="utf-8"))
    assert address is not None
    bashu("federation", "add-peer", "--config", str(config), "--region", region,
          "--address", address.group(1), "--key", key)  # fmt: skip


def _sql(db_url: str, statement: str, **params: object) -> list[tuple[Any, ...]]:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            return [tuple(r) for r in conn.execute(text(statement), params).all()]
    finally:
        engine.dispose()


def _wait(what: str, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def _kill(node: ServeProcess) -> None:
    """SIGKILL: no drain, no clean shutdown."""
    node.proc.kill()
    node.proc.wait(timeout=30)
    for reader in node.readers:
        reader.join(timeout=10)
    for pipe in (node.proc.stdout, node.proc.stderr):
        if pipe is not None:
            pipe.close()


def _name(party_id: str, region: str) -> str:
    return party_id if party_id.startswith("regions/") else f"regions/{region}/parties/{party_id}"


def test_counterparty_killed_mid_exchange_loses_and_doubles_nothing(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> None:
    urls = {r: region_db_urls[r] for r in ("sc", "cq")}
    cfg = {r: _init(tmp_path, r, free_port(), urls[r]) for r in ("sc", "cq")}
    _peer(cfg["sc"], "cq", cfg["cq"])
    _peer(cfg["cq"], "sc", cfg["sc"])
    provider_id, provider_key = add_party(cfg["sc"], "party-provider", "provider")
    _, consumer_key = add_party(cfg["cq"], "party-consumer", "consumer")
    table = people(40)
    pq.write_table(table, tmp_path / "sc" / "people.parquet")
    ids = [str(v) for v in table.column("id_no").to_pylist()]

    running: dict[str, ServeProcess] = {}
    opened: list[clients.Client] = []
    try:
        running = {r: start(cfg[r]) for r in ("sc", "cq")}
        provider = clients.connect(running["sc"].address, provider_key, region="sc")
        opened.append(provider)
        made = provider.catalog.create_product(
            descriptor(_name(provider_id, "sc"), personal=True), product_id="people"
        )
        provider.catalog.create_tariff("people", unit="PER_ROW", unit_price="0.015")
        provider.access.register_source(
            str(made.revision.name), path="people.parquet", key_columns=["id_no"]
        )

        def consumer() -> clients.Client:
            c = clients.connect(running["cq"].address, consumer_key, region="cq")
            opened.append(c)
            return c

        held = request(consumer(), "people")
        licence = str(provider.licensing.approve(held.licence_request.name).licence.name)
        home = consumer()

        def granted() -> bool:
            try:
                state = home.licensing.get_licence(licence).state
            except NotFoundError:
                return False  # the approval notice is still on its way
            return bool(state == licensing_pb2.LICENCE_STATE_ACTIVE)

        _wait("cq holds the approved licence", granted)

        def reads(first: int, n: int) -> None:
            c = consumer()
            c.access.read_result(licence, request_id=uuid.uuid4().hex)
            for key in ids[first : first + n - 1]:
                assert c.access.lookup(licence, {"id_no": key}).found

        def batched() -> int:
            """Uses sc has put into a batch (sealed, whatever its answer)."""
            return int(_sql(urls["sc"], "SELECT count(*) FROM federation_batch_items")[0][0])

        # Round 1: reads; cq dies as soon as sc has sealed them (uses are sealed 3 s
        # after they happen, so the batch is on its way, not yet answered).
        reads(0, 4)
        _wait("sc seals the first round", lambda: batched() == 4)
        _kill(running.pop("cq"))
        time.sleep(1.5)  # sc keeps trying (and backing off) meanwhile
        running["cq"] = start(cfg["cq"])

        # Round 2: reads, and cq dies at once: sc seals and sends while it is down.
        reads(10, 5)
        _kill(running.pop("cq"))
        _wait("sc seals the second round", lambda: batched() == 9)
        time.sleep(1.0)
        # With cq down the newest batch waits in sc's outbox, sealed and unanswered.
        latest = _sql(urls["sc"], "SELECT state FROM federation_batches ORDER BY sequence")
        assert latest[-1] == ("SEALED",)
        backlog = "SELECT count(*) FROM federation_outbox WHERE state = 'PENDING'"
        assert int(_sql(urls["sc"], backlog)[0][0]) >= 1
        running["cq"] = start(cfg["cq"])

        def settled() -> bool:
            states = _sql(urls["sc"], "SELECT state FROM federation_batches")
            pending = _sql(
                urls["sc"], "SELECT count(*) FROM federation_outbox WHERE state = 'PENDING'"
            ) + _sql(urls["cq"], "SELECT count(*) FROM federation_outbox WHERE state = 'PENDING'")
            return (
                bool(states)
                and {s for (s,) in states} == {"COUNTERSIGNED"}
                and all(n == 0 for (n,) in pending)
            )

        _wait("every batch is countersigned and both outboxes are empty", settled)

        status = bashu("federation", "status", "--config", str(cfg["sc"]))
        assert "countersigned" in status
        listed = bashu("federation", "batches", "list", "--config", str(cfg["cq"]))
        assert "regions/sc/batches/cq/1" in listed
        assert "received" in listed
    finally:
        for c in opened:
            c.close()
        for node in running.values():
            node.stop()

    # Every cross-region use: once on each side, in exactly one countersigned batch.
    uses = _sql(
        urls["sc"],
        "SELECT consumer_party || '/' || request_id FROM access_usage "
        "WHERE consumer_region = 'cq' AND state = 'RECORDED'",
    )
    assert len(uses) == 9
    consumed = _sql(urls["cq"], "SELECT usage_record_id FROM market_consumption")
    assert sorted(consumed) == sorted(uses)
    sc_items = _sql(
        urls["sc"],
        "SELECT i.usage_record_id FROM federation_batch_items i "
        "JOIN federation_batches b ON b.digest = i.batch WHERE b.state = 'COUNTERSIGNED'",
    )
    cq_items = _sql(
        urls["cq"],
        "SELECT usage_record_id FROM federation_batch_items WHERE state = 'COUNTERSIGNED'",
    )
    assert sorted(sc_items) == sorted(uses)  # no use twice, none left out
    assert sorted(cq_items) == sorted(uses)
    batches = {
        r: _sql(
            urls[r],
            "SELECT sequence, digest, record_count FROM federation_batches ORDER BY sequence",
        )
        for r in ("sc", "cq")
    }
    assert batches["sc"] == batches["cq"]
    assert [s for s, _, _ in batches["sc"]] == list(range(1, len(batches["sc"]) + 1))
    assert sum(int(n) for _, _, n in batches["sc"]) == 9

    for r in ("sc", "cq"):
        entries = _sql(urls[r], "SELECT data FROM ledger_entries ORDER BY idx")
        kinds = [decode_record(bytes(d)).WhichOneof("payload") for (d,) in entries]
        assert kinds.count("batch_sealed") == len(batches[r]), r
        assert kinds.count("batch_countersigned") == len(batches[r]), r
        assert "batch_returned" not in kinds
        report = json.loads(bashu("ledger", "verify", "--config", str(cfg[r]), "--json"))
        assert report["ok"], (r, report)
