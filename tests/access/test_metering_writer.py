"""The metering writer process: one-shot calls committed by a child of the node.

What must hold is what holds in process: a call is answered only once its usage is
durable, a retry is never metered twice, and a child that dies loses nothing that
was acknowledged (its calls in flight fail UNAVAILABLE and their retries find out
whether they committed). The node starts the child at its first lookup or verify
(or when prewarmed, as ``bashu node serve`` does) and stops it after the server
drained.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import sys
import threading
from pathlib import Path

import pytest

from clients.sdk.access import Receipt
from clients.sdk.errors import BashuRpcError
from ledger.log import Log
from services import errors
from services.keys import load_region_key
from services.metering import AccessMode, CallSpec, OnceJob, Outcome, Quantity
from services.metering_writer import MeteringWriter, WriterSpec, writer_for
from services.node import build_node
from services.records import decode_record
from tests.access.conftest import Market, id_number, start_market
from tests.node.conftest import make_node_config


def _writer(market: Market) -> MeteringWriter:
    [writer] = [p for p in market.node.processes if isinstance(p, MeteringWriter)]
    return writer


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_lookups_and_verifies_are_committed_by_the_child(market: Market) -> None:
    writer = _writer(market)
    lic = market.licence()
    access = market.client("consumer").access
    got = access.lookup(lic, {"id_no": id_number(4)}, request_id="child-lookup")
    verified = access.verify(lic, {"id_no": id_number(5)}, request_id="child-verify")
    assert writer.pid is not None
    assert writer.pid != os.getpid()
    assert _alive(writer.pid)
    for request_id, receipt in (("child-lookup", got.receipt), ("child-verify", verified.receipt)):
        assert receipt.entry_index is not None
        entry = market.node.ledger.get_entry(receipt.entry_index)
        assert decode_record(entry.data).usage_recorded.usage_record.id == request_id
        [(index, body)] = market.sql(
            "SELECT ledger_index, receipt_body FROM access_usage WHERE request_id = :r",
            r=request_id,
        )
        assert (index, bytes(body)) == (receipt.entry_index, receipt.body)
    # The parent's ledger sees the child's appends: checkpoints and proofs cover them.
    checkpoint = market.node.ledger.checkpoint()
    assert checkpoint.checkpoint.size > (got.receipt.entry_index or 0)
    # A retry is answered by the child from the stored row, metered once.
    again = access.lookup(lic, {"id_no": id_number(4)}, request_id="child-lookup")
    assert again.receipt.body == got.receipt.body
    assert market.quota_used(lic)[0] == 2


def test_refusals_cross_the_pipe_with_their_reason(market: Market) -> None:
    lic = market.licence(quota=(1, 0, 0))
    access = market.client("consumer").access
    access.lookup(lic, {"id_no": id_number(1)})
    market.baseline()
    with pytest.raises(BashuRpcError) as info:
        access.lookup(lic, {"id_no": id_number(2)})
    assert info.value.reason == "QUOTA_EXHAUSTED"
    market.assert_nothing_recorded()


def test_a_child_killed_under_load_loses_nothing_and_meters_each_call_once(
    market: Market,
) -> None:
    """Callers retry with their request id until answered: every call ends metered
    exactly once, with the receipt its stored row holds, however the kill fell."""
    writer = _writer(market)
    lic = market.licence()
    receipts: dict[str, Receipt] = {}
    stopped: list[str] = []
    lock = threading.Lock()
    go = threading.Event()
    half = threading.Barrier(9)

    def caller(n: int) -> None:
        access = market.client("consumer").access
        go.wait()
        for i in range(12):
            request_id = f"kill-{n}-{i}"
            if i == 6:
                half.wait()
            for _ in range(50):
                try:
                    got = access.lookup(
                        lic, {"id_no": id_number(n * 12 + i)}, request_id=request_id
                    )
                except BashuRpcError as exc:
                    with lock:
                        stopped.append(exc.reason)
                    continue
                with lock:
                    receipts[request_id] = got.receipt
                break

    market.node.prewarm()
    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    first = writer.pid
    assert first is not None
    go.set()
    half.wait()  # every caller is halfway: kill the child while they go on
    os.kill(first, signal.SIGKILL)
    for t in threads:
        t.join()

    # A call the kill caught failed UNAVAILABLE; its retry may meet its own claim,
    # committed by the dead child or still held by the running transaction.
    assert set(stopped) <= {"METERING_WRITER_STOPPED", "REQUEST_IN_PROGRESS"}
    assert len(receipts) == 8 * 12
    assert writer.pid not in (None, first)  # a new child took over
    assert market.quota_used(lic)[0] == 8 * 12
    rows = market.sql(
        "SELECT request_id, state, ledger_index, receipt_body FROM access_usage"
        " WHERE request_id LIKE 'kill-%'"
    )
    assert sorted(r[0] for r in rows) == sorted(receipts)
    for request_id, state, index, body in rows:
        assert state == "RECORDED"
        assert (index, bytes(body)) == (receipts[request_id].entry_index, receipts[request_id].body)
    indexes = [r[2] for r in rows]
    assert len(set(indexes)) == len(indexes)


def test_the_child_starts_when_first_needed_and_stops_after_the_node(
    tmp_path: Path, db_url: str
) -> None:
    market = start_market(tmp_path, db_url)
    writer = _writer(market)
    pids = [writer.pid]  # serving, but no one-shot call yet
    lic = market.licence()
    market.client("consumer").access.lookup(lic, {"id_no": id_number(1)})
    pids.append(writer.pid)
    for c in market.clients_:
        c.close()
    market.node.stop(grace=1.0)
    pids.append(writer.pid)
    assert pids[0] is None
    assert pids[1] is not None
    assert pids[2] is None
    assert not _alive(pids[1])


def test_prewarm_starts_the_child_before_any_call(tmp_path: Path, db_url: str) -> None:
    node = build_node(make_node_config(tmp_path / "sc", "sc", db_url))
    [writer] = node.processes
    assert isinstance(writer, MeteringWriter)
    try:
        node.start()
        node.prewarm()
        pid = writer.pid
        assert pid is not None
        assert _alive(pid)
    finally:
        node.stop(grace=0)
    assert not _alive(pid)


def test_nodes_that_cannot_share_their_ledger_meter_in_process(tmp_path: Path, db_url: str) -> None:
    config = make_node_config(tmp_path / "sc", "sc", db_url)
    signer = load_region_key(config.key_file)
    assert isinstance(writer_for(config, signer), MeteringWriter)
    node = build_node(config, ledger_factory=lambda e, s, o, k: Log(e, s, o))
    assert node.processes == []
    assert node.config.limits.metering_process is False
    node.stop(grace=0)
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:m?mode=memory&uri=true"):
        assert writer_for(dataclasses.replace(config, database_url=url), signer) is None
    off = dataclasses.replace(
        config, limits=dataclasses.replace(config.limits, metering_process=False)
    )
    assert writer_for(off, signer) is None


@pytest.mark.parametrize(
    "error",
    [
        errors.BashuError("plain", reason="SOMETHING", metadata={"a": "b"}),
        errors.NotFoundError("regions/sc/licences/x", reason="LICENCE_NOT_FOUND"),
        errors.InvalidArgumentError([errors.FieldViolation("request_id", "too long")]),
        errors.UnavailableError("later", reason="METERING_WRITER_STOPPED"),
    ],
)
def test_errors_survive_the_pipe(error: errors.BashuError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert (str(back), back.reason, back.metadata) == (str(error), error.reason, error.metadata)
    assert back.__dict__ == error.__dict__


def test_a_stopped_node_s_writer_refuses_calls(tmp_path: Path, db_url: str) -> None:
    market = start_market(tmp_path, db_url)
    writer = _writer(market)
    job = None
    try:
        lic = market.licence()
        market.client("consumer").access.lookup(lic, {"id_no": id_number(1)})
    finally:
        for c in market.clients_:
            c.close()
        market.node.stop(grace=1.0)
    with pytest.raises(errors.UnavailableError) as info:
        writer.run(job)  # type: ignore[arg-type]
    assert info.value.reason == "NODE_DRAINING"


# --- children that misbehave (real processes speaking the pipe's protocol) -------------

_CHILD = """
import sys
from multiprocessing.connection import Connection
conn = Connection(int(sys.argv[-1]))
conn.recv()  # the spec
{body}
"""
_READY = 'conn.send("ready")\n'


def _odd_writer(body: str) -> MeteringWriter:
    spec = WriterSpec("sqlite:///unused.db", "o", "sc", "not a key")
    return MeteringWriter(spec, command=(sys.executable, "-c", _CHILD.format(body=body)))


def _job(n: int) -> OnceJob:
    return OnceJob(
        "regions/sc/licences/x",
        CallSpec("regions/sc/parties/p", f"r{n}", AccessMode.LOOKUP, "f"),
        Quantity(1, 1, 1),
        Outcome(),
        0,
        f"u{n}",
    )


@pytest.mark.parametrize(
    "body",
    [
        _READY + "sys.exit(3)",  # dies before reading anything
        _READY + "conn.recv(); sys.exit(3)",  # dies with the batch in flight
        _READY + "jobs = conn.recv(); conn.send(([[None] * (len(jobs) + 1)], None))",
        _READY + "jobs = conn.recv(); conn.send('garbage')",  # something else entirely
    ],
)
def test_a_child_that_fails_fails_its_calls_and_never_strands_them(body: str) -> None:
    writer = _odd_writer(body)
    try:
        for n in range(3):  # each call meets a new child (the last one is gone)
            with pytest.raises(errors.UnavailableError) as info:
                writer.run(_job(n))
            assert info.value.reason == "METERING_WRITER_STOPPED"
    finally:
        writer.close()


def test_answers_reach_their_own_callers_under_concurrency() -> None:
    # The child answers each call with its own request id, after a pause that makes
    # calls queue: every caller must get its own answer back.
    writer = _odd_writer(
        _READY + "import time\n"
        "while (jobs := conn.recv()) is not None:\n"
        "    time.sleep(0.002)\n"
        "    conn.send(([[j.call.request_id for j in jobs]], None))\n"
    )
    got: dict[int, object] = {}

    def call(n: int) -> None:
        got[n] = writer.run(_job(n))

    try:
        threads = [threading.Thread(target=call, args=(n,)) for n in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        writer.close()
    assert got == {n: f"r{n}" for n in range(200)}


class _Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:  # pickling rebuilds it with one argument
        super().__init__(f"{a}/{b}")


def test_the_child_sends_errors_whole_or_as_internal() -> None:
    from ledger.errors import StorageError
    from services.errors import status_for
    from services.metering_writer import _portable

    stored = _portable(StorageError("connection lost"))
    assert isinstance(stored, StorageError)
    assert status_for(stored) == status_for(StorageError("connection lost"))
    odd = _portable(_Unpicklable("a", "b"))
    assert type(odd) is errors.BashuError
    assert odd.reason == "INTERNAL"
    assert _portable("CLAIMED") == "CLAIMED"


def test_a_child_that_cannot_start_is_not_restarted_for_every_call(tmp_path: Path) -> None:
    # It says why it cannot start (as the real one does when, say, the database is
    # unreachable), and counts its starts in a file.
    starts = tmp_path / "starts"
    writer = _odd_writer(
        f"open({str(starts)!r}, 'a').write('x')\nconn.send('OperationalError: no database')\n"
    )
    try:
        reasons = []
        for n in range(5):
            with pytest.raises(errors.UnavailableError) as info:
                writer.run(_job(n))
            reasons.append((info.value.reason, "no database" in info.value.message))
    finally:
        writer.close()
    # Every call fails naming the cause; after the first, at once, without starting
    # a child each (the back-off starts at half a second).
    assert reasons == [("METERING_WRITER_STOPPED", True)] * 5
    assert starts.read_text() == "x"
