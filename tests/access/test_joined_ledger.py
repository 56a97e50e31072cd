"""Joined ledger appends (``ledger.sequencer.joined``), which the metering writer uses to
commit a call's claim, usage row and ledger entry in ONE transaction: the entries
commit or roll back with the caller's transaction, interleave with ordinary appends
without a gap or a fork, and keep idempotency. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from ledger import merkle
from ledger.log import Log
from ledger.note import Signer, Verifier
from ledger.sequencer import joined, write_gate
from ledger.verify import verify_log
from services.db import make_engine

ORIGIN = "test.bashu.example/joined"


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
    with Log(engine, signer, ORIGIN) as lg:
        yield lg


def _append_joined(
    engine: Engine, log: Log, items: list[tuple[bytes, str]], *, commit: bool
) -> list[int]:
    with write_gate(engine), engine.connect() as conn:
        tx = conn.begin()
        conn.execute(text("SELECT 1"))  # the transaction is open (BEGIN IMMEDIATE on SQLite)
        with joined(engine, conn.connection.dbapi_connection):
            results = log.append_many(items)
        if commit:
            tx.commit()
        else:
            tx.rollback()
    return [r.index for r in results]


def _leaves(log: Log) -> list[bytes]:
    return [e.data for e in log.entries(0, log.size())]


def test_joined_entries_commit_and_roll_back_with_the_caller(
    engine: Engine, log: Log, signer: Signer
) -> None:
    log.append(b"first", "k-first")
    assert _append_joined(engine, log, [(b"a", "k-a"), (b"b", "k-b")], commit=True) == [1, 2]
    assert log.size() == 3
    # Rolled back with the caller: no entry, and the next appends (ordinary or joined)
    # continue from the committed head, not from the forgotten one.
    assert _append_joined(engine, log, [(b"lost", "k-lost")], commit=False) == [3]
    assert log.size() == 3
    assert log.append(b"c", "k-c").index == 3
    assert _append_joined(engine, log, [(b"d", "k-d")], commit=True) == [4]
    assert log.append(b"e", "k-e").index == 5
    data = _leaves(log)
    assert data == [b"first", b"a", b"b", b"c", b"d", b"e"]
    assert log.root_at(6) == merkle.root_hash(data)
    assert verify_log(engine, Verifier.from_vkey(signer.vkey()), ORIGIN).ok


def test_joined_appends_are_idempotent(engine: Engine, log: Log) -> None:
    first = log.append(b"x", "k-x")
    with write_gate(engine), engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT 1"))
        with joined(engine, conn.connection.dbapi_connection):
            again, new, dup = log.append_many([(b"x", "k-x"), (b"y", "k-y"), (b"y", "k-y")])
    assert again.duplicate
    assert again.index == first.index
    assert not new.duplicate
    assert new.index == 1
    assert dup.duplicate
    assert dup.index == 1
    assert log.size() == 2


def test_joined_and_ordinary_appends_interleave_without_a_fork(
    engine: Engine, log: Log, signer: Signer
) -> None:
    errors: list[BaseException] = []

    def ordinary(n: int) -> None:
        try:
            for i in range(15):
                log.append(b"o-%d-%d" % (n, i), f"o-{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def joined_writer() -> None:
        try:
            for i in range(15):
                _append_joined(engine, log, [(b"j-%d" % i, f"j-{i}")], commit=i % 3 != 0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ordinary, args=(n,)) for n in range(2)]
    threads.append(threading.Thread(target=joined_writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = _leaves(log)
    assert len(data) == 30 + 10  # every third joined append was rolled back
    assert sorted(data) == sorted(
        [b"o-%d-%d" % (n, i) for n in range(2) for i in range(15)]
        + [b"j-%d" % i for i in range(15) if i % 3 != 0]
    )
    assert log.root_at(len(data)) == merkle.root_hash(data)
    assert verify_log(engine, Verifier.from_vkey(signer.vkey()), ORIGIN).ok
