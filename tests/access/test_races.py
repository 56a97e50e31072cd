"""Metering when several processes of a node write one PostgreSQL database.

Their transactions lock the same rows (a licence's quota, the ledger head, a request
id), so PostgreSQL may abort one of them to break a deadlock. The node runs such a
transaction again rather than fail the call or give up on a stream's record, and takes
a retried request id's lock before any licence row, so two nodes racing one request
id do not deadlock in the first place.

The deadlocks here are real: a second connection takes the rows a call needs in the
other order. It waits with a long ``deadlock_timeout`` so that the node's transaction,
whose check runs first (PostgreSQL's default second), is the one aborted.
"""

from __future__ import annotations

import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

import clients
from clients.sdk.errors import AbortedError
from services.db import TransactionAborted, is_transient, make_engine, retry_transient
from services.errors import status_for
from services.metering import request_lock_key
from services.node import build_node
from tests.access.conftest import Market, id_number, running_market

pytestmark = pytest.mark.postgres

RACES = 100


@pytest.fixture(params=["writer-process", "in-process"])
def market(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> Iterator[Market]:
    with running_market(tmp_path, pg_url, metering_process=request.param == "writer-process") as m:
        yield m


def _deadlocks(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def _wait_for_lock_wait(engine: Engine, statement_prefix: str, *, not_pid: int) -> None:
    """Until another backend waits on a lock while running ``statement_prefix``..."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND pid <> :pid AND datname = current_database()"
                    " AND query LIKE :prefix"
                ),
                {"pid": not_pid, "prefix": statement_prefix + "%"},
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError(f"nothing came to wait on {statement_prefix!r}")


class Blocker:
    """A transaction on its own connection and thread that takes locks on cue."""

    def __init__(self, engine: Engine) -> None:
        self.conn: Connection = engine.connect()
        self.pid = int(self.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        # Never the one to detect (and so lose) the deadlock: see the module docstring.
        self.conn.execute(text("SET deadlock_timeout = '60s'"))
        self.conn.commit()
        self.conn.begin()
        self.errors: list[BaseException] = []
        self._thread: threading.Thread | None = None

    def run(self, statement: str, **params: Any) -> None:
        self.conn.execute(text(statement), params)

    def then_in_background(self, statement: str, **params: Any) -> None:
        """Run ``statement`` (it will wait for the node), then commit."""

        def go() -> None:
            try:
                self.conn.execute(text(statement), params)
                self.conn.commit()
            except BaseException as exc:  # reported by join()
                self.errors.append(exc)

        self._thread = threading.Thread(target=go)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.conn.close()
        assert not self.errors, self.errors


def _licence_id(licence: str) -> str:
    return licence.rsplit("/", 1)[-1]


def test_a_lookup_that_loses_a_deadlock_is_run_again(market: Market) -> None:
    lic = market.licence()
    consumer = market.client("consumer")
    consumer.access.lookup(lic, {"id_no": id_number(0)})  # the child, if any, is up
    engine = make_engine(market.db_url)
    try:
        before = _deadlocks(engine)
        request_id = uuid.uuid4().hex
        blocker = Blocker(engine)
        # The licence row first: the lookup's transaction takes its request id lock,
        # then waits here on the licence ...
        blocker.run(
            "UPDATE licences SET used_calls = used_calls WHERE id = :id", id=_licence_id(lic)
        )
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(
                consumer.access.lookup, lic, {"id_no": id_number(1)}, request_id=request_id
            )
            _wait_for_lock_wait(engine, "UPDATE licences", not_pid=blocker.pid)
            # ... while this waits on its request id lock: a deadlock.
            blocker.then_in_background(
                "SELECT pg_advisory_xact_lock(:k)",
                k=request_lock_key(market.party("consumer"), request_id),
            )
            result = call.result(timeout=60)
        blocker.join()
        assert _deadlocks(engine) == before + 1
    finally:
        engine.dispose()
    assert result.found
    assert result.table is not None
    stored = market.sql(
        "SELECT state, ledger_index FROM access_usage WHERE request_id = :r", r=request_id
    )
    assert [tuple(r) for r in stored] == [("RECORDED", result.receipt.entry_index)]
    assert market.quota_used(lic)[0] == 2


def test_a_request_id_is_locked_before_its_licence(market: Market) -> None:
    """A call whose request id another transaction is metering waits for it holding
    nothing: not the licence row, which others may need meanwhile."""
    lic = market.licence()
    consumer = market.client("consumer")
    consumer.access.lookup(lic, {"id_no": id_number(0)})  # the child, if any, is up
    request_id = uuid.uuid4().hex
    engine = make_engine(market.db_url)
    try:
        blocker = Blocker(engine)
        blocker.run(
            "SELECT pg_advisory_xact_lock(:k)",
            k=request_lock_key(market.party("consumer"), request_id),
        )
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(
                consumer.access.lookup, lic, {"id_no": id_number(1)}, request_id=request_id
            )
            _wait_for_lock_wait(engine, "SELECT pg_advisory_xact_lock", not_pid=blocker.pid)
            with engine.connect() as third:
                third.execute(text("SET lock_timeout = '200ms'"))
                third.execute(
                    text("UPDATE licences SET used_calls = used_calls WHERE id = :id"),
                    {"id": _licence_id(lic)},
                )
                third.commit()
            assert not call.done()
            blocker.then_in_background("SELECT 1")
            result = call.result(timeout=60)
        blocker.join()
    finally:
        engine.dispose()
    assert result.found
    assert market.quota_used(lic)[0] == 2


def test_a_stream_whose_record_loses_a_deadlock_is_still_recorded(market: Market) -> None:
    lic = market.licence()
    consumer = market.client("consumer")
    engine = make_engine(market.db_url)
    try:
        before = _deadlocks(engine)
        blocker = Blocker(engine)
        # The ledger head first: the finished stream's transaction settles its licence
        # row, then waits here on the head ...
        blocker.run("SELECT tree_size FROM ledger_head WHERE id = 1 FOR UPDATE")
        with ThreadPoolExecutor(1) as pool:
            read = pool.submit(consumer.access.read, lic, request_id=uuid.uuid4().hex)
            _wait_for_lock_wait(engine, "SELECT tree_size", not_pid=blocker.pid)
            # ... while this waits on that licence row: a deadlock.
            blocker.then_in_background(
                "UPDATE licences SET used_rows = used_rows WHERE id = :id", id=_licence_id(lic)
            )
            table = read.result(timeout=60)
        blocker.join()
        assert _deadlocks(engine) == before + 1
    finally:
        engine.dispose()
    assert table.num_rows == 200
    # Recorded in the ledger on the second try, not kept as LEDGER_APPEND_FAILED.
    (stored,) = market.sql("SELECT state, rejection_reason, ledger_index FROM access_usage")
    assert (stored.state, stored.rejection_reason) == ("RECORDED", "")
    assert stored.ledger_index == market.ledger_size() - 1


def test_two_nodes_racing_one_request_id_meter_it_once(tmp_path: Path, pg_url: str) -> None:
    """What several ``bashu node serve`` processes behind a balancer meet: a retry sent
    to two of them at once, many times over, while lookups on another licence and
    bulk reads (whose records settle the first licence) are in flight on both."""
    with running_market(tmp_path, pg_url) as m:
        other = build_node(m.node.config)
        other.start()
        try:
            lic, second = m.licence(), m.licence()
            there_client = clients.connect(other.address, m.keys["consumer"], region="sc")
            nodes = (m.client("consumer").access, there_client.access)
            try:

                def retrying(call: Callable[[], Any]) -> Any:
                    for _ in range(200):
                        try:
                            return call()
                        except AbortedError:  # still running on the other node
                            time.sleep(0.01)
                    raise AssertionError("request stayed in progress")

                def race(i: int) -> tuple[int, int]:
                    rid, key = f"race-{i}", {"id_no": id_number(i)}
                    with ThreadPoolExecutor(4) as group:
                        both = group.map(
                            lambda access: retrying(
                                lambda: access.lookup(lic, key, request_id=rid)
                            ),
                            nodes,
                        )
                        group.submit(nodes[i % 2].lookup, second, key).result()
                        if i % 10 == 0:
                            assert group.submit(nodes[i % 2].read, lic).result().num_rows == 200
                        a, b = both
                    return a.receipt.entry_index, b.receipt.entry_index

                with ThreadPoolExecutor(16) as pool:
                    pairs = list(pool.map(race, range(RACES)))
            finally:
                there_client.close()
        finally:
            other.stop(grace=1.0)
    assert all(a == b for a, b in pairs), pairs
    assert len({a for a, _ in pairs}) == RACES
    assert m.quota_used(second)[0] == RACES
    states = m.sql("SELECT state, count(*) FROM access_usage GROUP BY state")
    assert {r[0]: r[1] for r in states} == {"RECORDED": 2 * RACES + RACES // 10}


def _deadlock(engine: Engine) -> DBAPIError:
    """Two transactions, each updating the row the other holds: PostgreSQL aborts one
    (40P01). Returns the error the loser got."""
    a, b = engine.connect(), engine.connect()
    errors: list[DBAPIError] = []

    def second() -> None:
        try:
            b.execute(text("UPDATE race_rows SET n = n + 1 WHERE id = 2"))
            b.execute(text("UPDATE race_rows SET n = n + 1 WHERE id = 1"))
            b.commit()
        except DBAPIError as exc:
            errors.append(exc)
            b.rollback()

    try:
        a.execute(text("UPDATE race_rows SET n = n + 1 WHERE id = 1"))
        t = threading.Thread(target=second)
        t.start()
        _wait_for_lock_wait(engine, "UPDATE race_rows", not_pid=-1)
        try:
            a.execute(text("UPDATE race_rows SET n = n + 1 WHERE id = 2"))
            a.commit()
        except DBAPIError as exc:
            errors.append(exc)
            a.rollback()
        t.join(timeout=30)
    finally:
        a.close()
        b.close()
    assert len(errors) == 1, errors
    return errors[0]


def _serialization_failure(engine: Engine) -> DBAPIError:
    """A REPEATABLE READ transaction updating a row changed since its snapshot (40001)."""
    a = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        a.execute(text("SELECT n FROM race_rows WHERE id = 1"))  # the snapshot
        with engine.begin() as b:
            b.execute(text("UPDATE race_rows SET n = n + 1 WHERE id = 1"))
        with pytest.raises(DBAPIError) as caught:
            a.execute(text("UPDATE race_rows SET n = n + 1 WHERE id = 1"))
        a.rollback()
    finally:
        a.close()
    return caught.value


@pytest.fixture
def race_rows(pg_url: str) -> Iterator[Engine]:
    """An engine on a database with two rows for transactions to fight over."""
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE race_rows (id int PRIMARY KEY, n int)"))
            conn.execute(text("INSERT INTO race_rows VALUES (1, 0), (2, 0)"))
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("make", "sqlstate"), [(_deadlock, "40P01"), (_serialization_failure, "40001")]
)
def test_transient_errors_are_aborted_not_internal(
    race_rows: Engine, make: Callable[[Engine], DBAPIError], sqlstate: str
) -> None:
    exc = make(race_rows)
    assert getattr(exc.orig, "sqlstate", None) == sqlstate
    assert is_transient(exc)
    # Wrapped the way the ledger wraps its driver's errors, it is still recognised.
    wrapped = RuntimeError("append failed")
    wrapped.__cause__ = exc.orig
    assert is_transient(wrapped)
    assert status_for(exc) == (grpc.StatusCode.ABORTED, "TRANSACTION_ABORTED")
    assert not is_transient(RuntimeError("something else"))


def test_a_race_lost_every_time_ends_as_transaction_aborted(race_rows: Engine) -> None:
    lost = _deadlock(race_rows)
    tries: list[BaseException] = []

    def run(error: BaseException) -> None:
        tries.append(error)
        raise error

    with pytest.raises(TransactionAborted) as caught:
        retry_transient(lambda: run(lost), "the test transaction")
    assert len(tries) > 1
    assert caught.value.__cause__ is lost
    # It crosses the metering writer's pipe whole, and is still ABORTED there.
    crossed = pickle.loads(pickle.dumps(caught.value))
    assert status_for(crossed) == (grpc.StatusCode.ABORTED, "TRANSACTION_ABORTED")
    # Anything else is not run again.
    tries.clear()
    with pytest.raises(ValueError, match="bad"):
        retry_transient(lambda: run(ValueError("bad")), "the test transaction")
    assert len(tries) == 1
