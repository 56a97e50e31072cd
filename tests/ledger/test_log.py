"""Storage contract of ledger.log.Log, run on SQLite and (when configured) PostgreSQL.

Every proof the database answers is compared with merkle's in-memory reference and
verified with ``verify_inclusion`` / ``verify_consistency``; idempotency is checked
sequentially, inside one batch and under concurrent threads; bad indexes and
sizes must raise the ledger's typed errors.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger import merkle
from ledger.checkpoint import open_checkpoint
from ledger.errors import CheckpointError, EntryNotFoundError, StorageError, TreeSizeError
from ledger.log import Log
from ledger.note import Signer, Verifier
from ledger.storage import Writer
from ledger.verify import verify_log
from services.db import make_engine

ORIGIN = "test.bashu.example/ledger"


class FakeClock:
    """Deterministic time: each call advances one second."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.now += 1.0
            return self.now


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[Engine]:
    eng = make_engine(migrated_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def log(engine: Engine, signer: Signer) -> Iterator[Log]:
    with Log(engine, signer, ORIGIN, clock=FakeClock()) as lg:
        yield lg


def verifier_of(signer: Signer) -> Verifier:
    return Verifier.from_vkey(signer.vkey())


def assert_verifies(engine: Engine, signer: Signer) -> None:
    report = verify_log(engine, verifier_of(signer), ORIGIN)
    assert report.ok, report


def data_of(i: int) -> bytes:
    return b"entry-%d-" % i + bytes([i % 251]) * (i % 37)


# --- empty log ---------------------------------------------------------------------------


def test_empty_log_reads_and_signs(log: Log, engine: Engine, signer: Signer) -> None:
    assert log.size() == 0
    assert log.root_at(0) == merkle.EMPTY_ROOT
    assert log.latest_checkpoint() is None
    assert log.consistency_proof(0, 0) == []
    cp = log.checkpoint()
    assert cp.checkpoint.size == 0
    assert cp.checkpoint.root_hash == merkle.EMPTY_ROOT
    assert open_checkpoint(cp.note, verifier_of(signer), origin=ORIGIN) == cp.checkpoint
    # Covered already: no second checkpoint for the same size.
    assert log.checkpoint() == cp
    assert log.list_checkpoints() == [cp]
    assert log.entries(0, 10) == []
    with pytest.raises(EntryNotFoundError):
        log.get_entry(0)
    with pytest.raises(EntryNotFoundError):
        log.inclusion_proof(0, 0)
    with pytest.raises(TreeSizeError):
        log.root_at(1)
    assert_verifies(engine, signer)


# --- appends and proofs -----------------------------------------------------------------


def test_append_stores_exact_bytes_and_time(engine: Engine, signer: Signer) -> None:
    clock = FakeClock()
    with Log(engine, signer, ORIGIN, clock=clock) as lg:
        res = lg.append(b"\x00\xffraw bytes", "key-a")
        assert (res.index, res.duplicate) == (0, False)
        assert res.leaf_hash == merkle.leaf_hash(b"\x00\xffraw bytes")
        entry = lg.get_entry(0)
        assert entry.data == b"\x00\xffraw bytes"
        assert entry.leaf_hash == res.leaf_hash
        assert entry.idempotency_key == "key-a"
        assert entry.appended_at == clock.now
        assert lg.size() == 1


def test_proofs_equal_reference_at_every_size(log: Log, engine: Engine, signer: Signer) -> None:
    datas: list[bytes] = []
    n = 67
    rng = random.Random(7)
    while len(datas) < n:
        # Uneven batches (single appends and append_many) exercise every split of
        # the right edge across transactions.
        k = rng.choice([1, 1, 2, 3, 5, 8])
        batch = [data_of(i) for i in range(len(datas), min(n, len(datas) + k))]
        if len(batch) == 1:
            log.append(batch[0], f"k{len(datas)}")
        else:
            log.append_many([(d, f"k{len(datas) + j}") for j, d in enumerate(batch)])
        datas.extend(batch)
    assert log.size() == n
    for size in range(1, n + 1):
        prefix = datas[:size]
        root = log.root_at(size)
        assert root == merkle.root_hash(prefix)
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert proof == merkle.inclusion_proof(prefix, index)
            merkle.verify_inclusion(merkle.leaf_hash(datas[index]), index, size, proof, root)
        for old in range(size + 1):
            cproof = log.consistency_proof(old, size)
            assert cproof == merkle.consistency_proof(prefix, old)
            merkle.verify_consistency(old, size, log.root_at(old), root, cproof)
    assert [e.data for e in log.entries(0, n + 5)] == datas
    assert [e.index for e in log.entries(60, 3)] == [60, 61, 62]
    assert_verifies(engine, signer)


def test_proofs_in_a_larger_log(log: Log) -> None:
    n = 3000
    datas = [data_of(i) for i in range(n)]
    for start in range(0, n, 700):
        log.append_many([(datas[i], f"k{i}") for i in range(start, min(n, start + 700))])
    rng = random.Random(11)
    hashes = [merkle.leaf_hash(d) for d in datas]
    for _ in range(40):
        size = rng.randint(1, n)
        index = rng.randrange(size)
        root = merkle.root_from_leaf_hashes(hashes[:size])
        assert log.root_at(size) == root
        proof = log.inclusion_proof(index, size)
        merkle.verify_inclusion(hashes[index], index, size, proof, root)
        old = rng.randint(1, size)
        old_root = merkle.root_from_leaf_hashes(hashes[:old])
        merkle.verify_consistency(old, size, old_root, root, log.consistency_proof(old, size))


# --- idempotency -------------------------------------------------------------------------


def test_repeated_key_returns_first_entry(log: Log, engine: Engine, signer: Signer) -> None:
    first = log.append(b"one", "same")
    again = log.append(b"a different body", "same")
    assert again == first._replace(duplicate=True)
    assert log.size() == 1
    assert log.get_entry(0).data == b"one"
    assert_verifies(engine, signer)


def test_repeated_keys_inside_one_batch_and_against_the_db(log: Log) -> None:
    log.append(b"zero", "k0")
    results = log.append_many(
        [(b"a", "ka"), (b"b", "kb"), (b"a again", "ka"), (b"zero again", "k0"), (b"c", "kc")]
    )
    assert [(r.index, r.duplicate) for r in results] == [
        (1, False),
        (2, False),
        (1, True),
        (0, True),
        (3, False),
    ]
    assert results[2].leaf_hash == merkle.leaf_hash(b"a")
    assert results[3].leaf_hash == merkle.leaf_hash(b"zero")
    assert log.size() == 4
    # A batch made only of existing keys appends nothing.
    assert all(r.duplicate for r in log.append_many([(b"x", "ka"), (b"y", "kc")]))
    assert log.size() == 4


def test_concurrent_duplicates_from_threads(log: Log, engine: Engine, signer: Signer) -> None:
    keys = [f"shared-{i}" for i in range(40)]
    seen: list[list[Any]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            out = []
            for i, key in enumerate(keys):
                if i % 3 == 0:
                    out.extend(log.append_many([(b"t%d-%d" % (t, i), key), (b"x", key)]))
                else:
                    out.append(log.append(b"t%d-%d" % (t, i), key))
            seen.append(out)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert log.size() == len(keys)
    by_key: dict[str, set[int]] = {}
    fresh: dict[str, int] = {}
    for out in seen:
        flat = iter(out)
        for i, key in enumerate(keys):
            results = [next(flat)] + ([next(flat)] if i % 3 == 0 else [])
            for r in results:
                by_key.setdefault(key, set()).add(r.index)
                if not r.duplicate:
                    fresh[key] = fresh.get(key, 0) + 1
    assert all(len(idx) == 1 for idx in by_key.values())
    assert fresh == dict.fromkeys(keys, 1)  # exactly one caller created each entry
    assert sorted(next(iter(v)) for v in by_key.values()) == list(range(len(keys)))
    assert_verifies(engine, signer)


def test_concurrent_distinct_appends_are_gap_free(log: Log, engine: Engine, signer: Signer) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        for i in range(60):
            r = log.append(b"w%d-%d" % (t, i), f"w{t}-{i}")
            with lock:
                got.append(r.index)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(got) == list(range(360))
    assert log.size() == 360
    assert_verifies(engine, signer)


def test_two_logs_on_one_database_never_fork(engine: Engine, signer: Signer) -> None:
    # Two Log objects stand in for two node processes: each has its own sequencer
    # and cached right edge, which must be reloaded when the other one appended.
    datas: list[bytes] = []
    with Log(engine, signer, ORIGIN) as a, Log(engine, signer, ORIGIN) as b:
        for i in range(40):
            lg = a if (i * 7) % 3 else b
            batch = [data_of(len(datas) + j) for j in range(1 + i % 4)]
            res = lg.append_many([(d, f"k{len(datas) + j}") for j, d in enumerate(batch)])
            assert [r.index for r in res] == list(range(len(datas), len(datas) + len(batch)))
            datas.extend(batch)
        assert a.root_at(len(datas)) == merkle.root_hash(datas)
        assert b.root_at(len(datas)) == merkle.root_hash(datas)
    assert_verifies(engine, signer)


# --- failures ----------------------------------------------------------------------------


def test_a_failed_batch_fails_every_caller_in_it(
    log: Log, engine: Engine, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.append(b"before", "before")
    release = threading.Event()
    calls = {"n": 0}
    real_begin = Writer.begin

    def flaky_begin(self: Writer) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            release.wait(5)  # hold the sequencer so the next requests share a batch
            raise OSError("disk on fire")
        if calls["n"] == 2:
            raise OSError("still on fire")
        return real_begin(self)

    monkeypatch.setattr(Writer, "begin", flaky_begin)
    outcomes: dict[str, Any] = {}

    def call(key: str) -> None:
        try:
            outcomes[key] = log.append(key.encode(), key)
        except BaseException as exc:
            outcomes[key] = exc

    first = threading.Thread(target=call, args=("first",))
    first.start()
    while calls["n"] == 0:
        time.sleep(0.001)
    others = [threading.Thread(target=call, args=(f"k{i}",)) for i in range(5)]
    for th in others:
        th.start()
    time.sleep(0.2)
    release.set()
    for th in [first, *others]:
        th.join()
    assert all(isinstance(v, StorageError) for v in outcomes.values()), outcomes
    assert log.size() == 1
    # The sequencer recovers; a retry with the same key appends once.
    assert log.append(b"first", "first").index == 1
    assert_verifies(engine, signer)


def test_bad_indexes_and_sizes_raise_typed_errors(log: Log) -> None:
    log.append_many([(data_of(i), f"k{i}") for i in range(5)])
    with pytest.raises(EntryNotFoundError) as e1:
        log.get_entry(5)
    assert (e1.value.index, e1.value.size) == (5, 5)
    with pytest.raises(EntryNotFoundError):
        log.get_entry(-1)
    with pytest.raises(EntryNotFoundError):
        log.entries(-1, 3)
    with pytest.raises(EntryNotFoundError):
        log.inclusion_proof(5, 5)
    with pytest.raises(EntryNotFoundError):
        log.inclusion_proof(-1, 5)
    with pytest.raises(TreeSizeError) as e2:
        log.inclusion_proof(0, 6)
    assert (e2.value.size, e2.value.current) == (6, 5)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(3, 2)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(1, 6)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(-1, 3)
    with pytest.raises(TreeSizeError):
        log.root_at(-1)
    with pytest.raises(TreeSizeError):
        log.root_at(6)
    assert log.entries(5, 3) == []


def test_closed_log_refuses_appends(engine: Engine, signer: Signer) -> None:
    lg = Log(engine, signer, ORIGIN)
    lg.append(b"x", "x")
    lg.close()
    lg.close()  # idempotent
    with pytest.raises(StorageError):
        lg.append(b"y", "y")


def test_signer_must_be_named_after_the_origin(engine: Engine) -> None:
    with pytest.raises(CheckpointError):
        Log(engine, Signer.generate("someone.else/log"), ORIGIN)


# --- checkpoints ---------------------------------------------------------------------------


def test_checkpoints_cover_the_log(log: Log, signer: Signer) -> None:
    empty = log.checkpoint()
    log.append_many([(data_of(i), f"k{i}") for i in range(10)])
    assert log.checkpoint(new_if_stale=False) == empty
    cp10 = log.checkpoint()
    assert (cp10.checkpoint.size, cp10.checkpoint.root_hash) == (10, log.root_at(10))
    log.append_many([(data_of(i), f"k{i}") for i in range(10, 13)])
    cp13 = log.checkpoint()
    assert log.latest_checkpoint() == cp13
    assert log.list_checkpoints() == [empty, cp10, cp13]
    assert log.checkpoint_at_least(1) == cp10
    assert log.checkpoint_at_least(10) == cp10
    assert log.checkpoint_at_least(11) == cp13
    assert log.checkpoint_at_least(14) is None
    for cp in (empty, cp10):
        proof = log.consistency_proof(cp.checkpoint.size, 13)
        merkle.verify_consistency(
            cp.checkpoint.size, 13, cp.checkpoint.root_hash, cp13.checkpoint.root_hash, proof
        )
        open_checkpoint(cp.note, verifier_of(signer), origin=ORIGIN)


def test_scheduled_checkpoints(engine: Engine, signer: Signer) -> None:
    with Log(engine, signer, ORIGIN) as lg:
        lg.start_checkpointing(0.02)
        lg.append_many([(data_of(i), f"k{i}") for i in range(7)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            latest = lg.latest_checkpoint()
            if latest is not None and latest.checkpoint.size == 7:
                break
            time.sleep(0.02)
        latest = lg.latest_checkpoint()
        assert latest is not None
        assert latest.checkpoint.size == 7
    assert_verifies(engine, signer)
