"""Concurrency and exactly-once: quotas hold under many clients, retries never meter
twice, and a stream the client breaks records exactly the batches delivered.

Every test runs twice: one-shot calls committed by the metering writer process (the
node's default) and in the server's own threads (``limits.metering_process =
false``, as for a node on an in-memory database or built with another ledger)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from clients.sdk.access import Receipt
from clients.sdk.errors import BashuRpcError
from services.db import is_sqlite, make_engine
from services.records import decode_record
from tests.access.conftest import Market, id_number, people, running_market


@pytest.fixture(params=["writer-process", "in-process"])
def market(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Iterator[Market]:
    with running_market(tmp_path, db_url, metering_process=request.param == "writer-process") as m:
        yield m


def _usage_entries(market: Market) -> int:
    return int(market.sql("SELECT count(*) FROM access_usage WHERE state = 'RECORDED'")[0][0])


def test_many_clients_on_one_licence_never_exceed_the_quota(market: Market) -> None:
    lic = market.licence(quota=(0, 40, 0))
    ok = 0
    refused: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        nonlocal ok
        access = market.client("consumer").access
        for i in range(8):
            try:
                access.lookup(lic, {"id_no": id_number(n * 8 + i)})
            except BashuRpcError as exc:
                with lock:
                    refused.append(exc.reason)
            else:
                with lock:
                    ok += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ok == 40
    assert set(refused) == {"QUOTA_EXHAUSTED"}
    assert market.quota_used(lic)[1] == 40
    assert _usage_entries(market) == 40
    # Bulk readers racing on what is left of a row quota get it exactly, not more.
    lic2 = market.licence(quota=(0, 250, 0))

    def read(_: int) -> tuple[int, int, str]:
        try:
            r = market.client("consumer").access.read_result(lic2, max_batch_rows=32)
        except BashuRpcError as exc:  # a reader that starts after the others used it all
            return 0, 0, exc.reason
        return r.table.num_rows, r.receipt.rows, r.receipt.truncation_reason

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, range(4)))
    assert sum(delivered for delivered, _, _ in results) == 250
    assert sum(metered for _, metered, _ in results) == 250
    assert {why for _, _, why in results} <= {"", "QUOTA_EXHAUSTED"}
    assert market.quota_used(lic2)[1] == 250


def test_retries_never_meter_twice(market: Market) -> None:
    lic = market.licence()
    access = market.client("consumer").access
    rid = "retry-1"
    first = access.lookup(lic, {"id_no": id_number(3)}, request_id=rid)
    again = access.lookup(lic, {"id_no": id_number(3)}, request_id=rid)
    assert again.receipt.body == first.receipt.body
    assert again.found
    assert again.table is None  # a retry gets the receipt, not the data again
    read1 = access.read_result(lic, request_id="retry-2")
    read2 = access.read_result(lic, request_id="retry-2")
    assert read2.receipt.body == read1.receipt.body
    assert read2.table.num_rows == 0
    v1 = access.verify(lic, {"id_no": id_number(3)}, request_id="retry-3")
    v2 = access.verify(lic, {"id_no": id_number(3)}, request_id="retry-3")
    assert (v2.verdict, v2.receipt.body) == (v1.verdict, v1.receipt.body)
    assert market.quota_used(lic)[0] == 3
    assert _usage_entries(market) == 3
    with pytest.raises(BashuRpcError) as err:
        access.lookup(lic, {"id_no": id_number(4)}, request_id=rid)
    assert err.value.reason == "REQUEST_ID_REUSED"

    # Concurrent retries of one call: one is metered, the others replay or wait.
    bodies: list[bytes] = []
    busy: list[str] = []

    def call(_: int) -> None:
        try:
            bodies.append(
                market.client("consumer")
                .access.lookup(lic, {"id_no": id_number(5)}, request_id="retry-4")
                .receipt.body
            )
        except BashuRpcError as exc:
            busy.append(f"{exc.code.name}/{exc.reason}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(8)))
    assert len(set(bodies)) == 1
    assert set(busy) <= {"ABORTED/REQUEST_IN_PROGRESS"}
    assert market.quota_used(lic)[0] == 4
    assert _usage_entries(market) == 4


def test_a_broken_stream_meters_exactly_what_was_delivered(market: Market) -> None:
    # ~29 MB of Arrow data: more than HTTP/2 flow control lets the server hand to the
    # transport before the client's cancel arrives, even when the client is starved
    # of CPU (with a few MB the whole stream can be sent, and so metered, before the
    # cancel lands).
    total = 400_000
    pq.write_table(people(total), market.data_dir / "big.parquet")
    market.client("provider").access.register_source(market.revision, path="big.parquet")
    lic = market.licence()
    access = market.client("consumer").access
    rid = uuid.uuid4().hex
    stream = access.stream(lic, max_batch_rows=1000, request_id=rid)
    received = 0
    for frame in stream:
        if frame.WhichOneof("frame") == "record_batch":
            received += 1000
            if received == 2000:
                break
    stream.cancel()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = market.sql("SELECT state, qty_rows FROM access_usage WHERE request_id = :r", r=rid)
        if rows and rows[0][0] != "RUNNING":
            break
        time.sleep(0.05)
    state, metered = rows[0]
    assert state == "RECORDED"
    assert metered % 1000 == 0
    assert received <= metered < total
    receipt: Receipt = access.receipt(rid)
    assert (receipt.rows, receipt.truncated, receipt.truncation_reason) == (
        metered,
        True,
        "CLIENT_CANCELLED",
    )
    assert market.quota_used(lic)[1] == metered
    # A retry after the break gets the receipt of what was delivered, nothing more.
    replay = access.read_result(lic, max_batch_rows=1000, request_id=rid)
    assert replay.receipt.body == receipt.body
    assert market.quota_used(lic)[1] == metered


@contextlib.contextmanager
def _writes_held(market: Market, licence: str) -> Iterator[None]:
    """Hold off the node's metering commits: the database's write lock (SQLite), or
    the licence row (PostgreSQL), taken by another connection until the block ends."""
    engine = make_engine(market.db_url)
    try:
        # On SQLite the engine begins every transaction with BEGIN IMMEDIATE, which
        # takes the write lock.
        with engine.begin() as conn:
            if not is_sqlite(engine):
                conn.execute(
                    text("SELECT id FROM licences WHERE id = :id FOR UPDATE"),
                    {"id": licence.rsplit("/", 1)[-1]},
                )
            yield
    finally:
        engine.dispose()


def test_calls_committed_as_one_batch_are_each_metered_once(market: Market) -> None:
    """Lookups that queue while a commit waits are claimed, appended and stored in one
    transaction: repeats of one request id in it meter once, a retry replays, and
    each stored row is the finished record its receipt names."""
    lic = market.licence()
    access = market.client("consumer").access
    earlier = access.lookup(lic, {"id_no": id_number(9)}, request_id="batch-earlier")
    used = market.quota_used(lic)[0]
    start = market.ledger_size()
    results: dict[str, list[Receipt]] = {}
    refused: list[str] = []
    lock = threading.Lock()

    def call(request_id: str, n: int) -> None:
        try:
            got = market.client("consumer").access.lookup(
                lic, {"id_no": id_number(n)}, request_id=request_id
            )
        except BashuRpcError as exc:
            with lock:
                refused.append(f"{request_id}:{exc.code.name}/{exc.reason}")
        else:
            with lock:
                results.setdefault(request_id, []).append(got.receipt)

    calls = [("batch-lead", 1)]
    calls += [("batch-same", 2)] * 4 + [("batch-earlier", 9)]
    calls += [(f"batch-{n}", n) for n in range(10, 14)]
    with _writes_held(market, lic):
        # The first call leads the next commit and waits for the lock; the rest queue
        # behind it and commit together once it is released.
        threads = [threading.Thread(target=call, args=c) for c in calls]
        threads[0].start()
        time.sleep(0.3)
        for t in threads[1:]:
            t.start()
        time.sleep(1.0)
    for t in threads:
        t.join()

    assert set(refused) <= {"batch-same:ABORTED/REQUEST_IN_PROGRESS"}
    assert len({r.body for r in results["batch-same"]}) == 1
    assert [r.body for r in results["batch-earlier"]] == [earlier.receipt.body]
    metered = ["batch-lead", "batch-same", *(f"batch-{n}" for n in range(10, 14))]
    assert market.quota_used(lic)[0] == used + len(metered)
    assert market.ledger_size() == start + len(metered)
    for request_id in metered:
        receipt = results[request_id][0]
        row = market.sql(
            "SELECT state, qty_calls, qty_rows, reserved_calls, reserved_rows, reserved_bytes,"
            " ledger_index, receipt_body, receipt_signature, record, outcome"
            " FROM access_usage WHERE request_id = :rid",
            rid=request_id,
        )
        assert len(row) == 1
        state, calls_, rows, *reserved, index, body, sig, record, outcome = row[0]
        assert (state, calls_, rows, reserved, outcome) == ("RECORDED", 1, 1, [0, 0, 0], "FOUND")
        assert (index, bytes(body), bytes(sig)) == (
            receipt.entry_index,
            receipt.body,
            receipt.signature,
        )
        assert receipt.entry_index is not None
        entry = market.node.ledger.get_entry(receipt.entry_index)
        usage = decode_record(entry.data).usage_recorded.usage_record
        assert usage.id == request_id
        assert usage.SerializeToString(deterministic=True) == bytes(record)
