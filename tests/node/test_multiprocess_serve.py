"""Several ``bashu node serve`` processes of one region on one PostgreSQL database.

Three real processes share one ``node.toml``, one region key and one fresh database
(as behind a load balancer, docs/operations.md). Clients spread concurrent writes
over them: product listings, licence requests, metered lookups racing for one quota,
bulk reads, and retries of one request_id sent to two processes at once; every process
also signs checkpoints on a short interval while the others append. Afterwards the
ledger verifies, its indices are exactly 0..n-1, every event is in it exactly once,
and the quota was never exceeded.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from bashu.ledger.v1 import record_pb2
from sqlalchemy import text

import clients
from clients.sdk import errors
from clients.sdk.client import Client
from services.db import make_engine
from tests.access.conftest import PRODUCT_ID, descriptor, id_number, people
from tests.node.processes import ServeProcess, add_party, bashu, start

pytestmark = pytest.mark.postgres

PROCESSES = 3
QUOTA_CALLS = 30
LOOKUPS = 45
PRODUCTS = 12
LICENCES = 6
READS = 6
RETRIED = 5


def _licence(consumer: Client, provider: Client, quota_calls: int) -> str:
    resp = consumer.licensing.request_licence(
        PRODUCT_ID,
        purpose_class="COMMERCIAL",
        scenario_code="FIN-CREDIT-01",
        access_modes=("LOOKUP", "BULK"),
        quota={"calls": quota_calls, "rows": 0, "bytes": 0},
        request_id=uuid.uuid4().hex,
    )
    if resp.licence.name:
        return str(resp.licence.name)
    return str(provider.licensing.approve(resp.licence_request.name).licence.name)


def _retrying(call: Callable[[], Any]) -> Any:
    """A retry of a request_id still running elsewhere is ABORTED: retry later."""
    for _ in range(100):
        try:
            return call()
        except errors.AbortedError:
            time.sleep(0.05)
    raise AssertionError("request stayed in progress")


def test_three_processes_share_one_database(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "sc"
    bashu("node", "init", "--region", "sc", "--data-dir", str(data_dir),
          "--listen", "127.0.0.1:0", "--database-url", pg_url)  # fmt: skip
    config = data_dir / "node.toml"
    # Every process signs checkpoints often, racing the others' appends.
    toml = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"checkpoint_interval_s = .*", "checkpoint_interval_s = 0.3", toml))
    provider_id, provider_key = add_party(config, "Sichuan Big Data Center", "provider")
    _, consumer_key = add_party(config, "Chengdu Credit Co.", "consumer")
    pq.write_table(people(200), data_dir / "people.parquet")
    provider_party = f"regions/sc/parties/{provider_id}"

    nodes: list[ServeProcess] = []
    opened: list[Client] = []
    try:
        nodes = [start(config) for _ in range(PROCESSES)]
        assert len({n.address for n in nodes}) == PROCESSES

        def client(i: int, key: str) -> Client:
            c = clients.connect(nodes[i % PROCESSES].address, key, region="sc")
            opened.append(c)
            return c

        providers = [client(i, provider_key) for i in range(PROCESSES)]
        consumers = [client(i, consumer_key) for i in range(PROCESSES)]
        created = providers[0].catalog.create_product(
            descriptor(provider_party), product_id=PRODUCT_ID
        )
        providers[1].catalog.create_tariff(PRODUCT_ID, unit="PER_ROW", unit_price="0.015")
        providers[2].access.register_source(
            created.revision.name, path="people.parquet", key_columns=["id_no"]
        )
        limited = _licence(consumers[0], providers[0], QUOTA_CALLS)
        open_licence = _licence(consumers[1], providers[1], 0)

        def list_product(i: int) -> str:
            providers[i % PROCESSES].catalog.create_product(
                descriptor(provider_party), product_id=f"extra-{i}"
            )
            return "listed"

        def request_licence(i: int) -> str:
            return _licence(consumers[i % PROCESSES], providers[(i + 1) % PROCESSES], 0)

        def lookup(i: int) -> str:
            try:
                consumers[i % PROCESSES].access.lookup(limited, {"id_no": id_number(i)})
            except errors.ResourceExhaustedError:
                return "refused"
            return "metered"

        def read(i: int) -> str:
            table = consumers[i % PROCESSES].access.read(open_licence)
            assert table.num_rows == 200
            return "read"

        def retried(i: int) -> str:
            # The same request_id on two processes at once: one use, one record.
            rid = f"retry-{i}"
            first, second = consumers[i % PROCESSES], consumers[(i + 1) % PROCESSES]

            def once(c: Client) -> Any:
                return _retrying(
                    lambda: c.access.lookup(open_licence, {"id_no": id_number(i)}, request_id=rid)
                )

            with ThreadPoolExecutor(2) as pair:
                ra, rb = pair.map(once, (first, second))
            assert ra.receipt.entry_index == rb.receipt.entry_index
            return "retried"

        jobs: list[Callable[[], str]] = [
            *(lambda i=i: list_product(i) for i in range(PRODUCTS)),
            *(lambda i=i: request_licence(i) for i in range(LICENCES)),
            *(lambda i=i: lookup(i) for i in range(LOOKUPS)),
            *(lambda i=i: read(i) for i in range(READS)),
            *(lambda i=i: retried(i) for i in range(RETRIED)),
        ]
        # Interleaved so every kind of write is in flight on every process at once.
        jobs = [jobs[j] for j in sorted(range(len(jobs)), key=lambda j: (j * 7919) % len(jobs))]
        with ThreadPoolExecutor(12) as pool:
            outcomes = Counter(
                o if o in {"listed", "metered", "refused", "read", "retried"} else "licence"
                for o in pool.map(lambda job: job(), jobs)
            )
        assert outcomes == {
            "listed": PRODUCTS,
            "licence": LICENCES,
            "metered": QUOTA_CALLS,
            "refused": LOOKUPS - QUOTA_CALLS,
            "read": READS,
            "retried": RETRIED,
        }
    finally:
        for c in opened:
            c.close()
        for n in nodes:
            n.stop()  # SIGTERM: each drains and exits 0
        # Shown by pytest only when the test fails: what each node (and its metering
        # writer, which shares its stderr) logged.
        for n in nodes:
            print(f"--- node {n.address} stderr ---\n{''.join(n.stderr_lines[-200:])}")

    report = json.loads(bashu("ledger", "verify", "--config", str(config), "--json"))
    assert report["ok"], report
    assert report["checkpoints_checked"] >= PROCESSES

    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT idx, data, idempotency_key FROM ledger_entries ORDER BY idx")
            ).all()
            (size,) = conn.execute(text("SELECT tree_size FROM ledger_head")).one()
            (used,) = conn.execute(
                text("SELECT used_calls FROM licences WHERE id = :id"),
                {"id": limited.rsplit("/", 1)[-1]},
            ).one()
    finally:
        engine.dispose()
    assert [r.idx for r in rows] == list(range(size))
    assert len({r.idempotency_key for r in rows}) == size
    records = [record_pb2.LedgerRecord.FromString(r.data) for r in rows]
    kinds = Counter(r.WhichOneof("payload") for r in records)
    assert kinds["party_registered"] == 2
    assert kinds["product_listed"] == 1 + PRODUCTS
    assert kinds["usage_recorded"] == QUOTA_CALLS + READS + RETRIED
    granted = [
        r.licence_decided.licence.name
        for r in records
        if r.WhichOneof("payload") == "licence_decided"
    ]
    granted = [name for name in granted if name]
    assert len(granted) == len(set(granted)) == 2 + LICENCES
    usage_ids = [
        r.usage_recorded.usage_record.name
        for r in records
        if r.WhichOneof("payload") == "usage_recorded"
    ]
    assert len(set(usage_ids)) == len(usage_ids)
    assert used == QUOTA_CALLS
