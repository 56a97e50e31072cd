"""Reliability of the sequencer and of verification, against real failures.

1. kill -9 of a child process in the middle of heavy appending, many rounds, on
   SQLite and PostgreSQL: every acknowledged entry survives, with its bytes, at its
   index; no gap; ``verify_log`` passes; a retry of an acknowledged key returns
   the same entry.
2. Four processes appending concurrently to one PostgreSQL log (plus keys they
   all share): gap-free, duplicate-free, one entry per key, verify passes.
3. Tampering, applied directly with SQL to a copy of a good log (a Hypothesis
   property over random tamperings; many on SQLite, a few on PostgreSQL): verify
   reports not-ok every time, and ok for the untouched copy.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import ledger.verify as verify_mod
from ledger.log import Log
from ledger.note import Signer, Verifier
from ledger.verify import verify_log
from services.db import make_engine
from services.migrate import upgrade
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
)
from tests.ledger.appender import data_for

ORIGIN = "reliability.bashu.example/ledger"
ROOT = Path(__file__).resolve().parents[2]
KILL_ROUNDS = 10


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _start_appender(url: str, signer: Signer, prefix: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.appender", url, signer.skey(), prefix, *extra],
        cwd=ROOT,
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _AckReader:
    """Collects ``<index> <key>`` lines from a child in a thread (complete lines only)."""

    def __init__(self, stream: IO[str]) -> None:
        self.acks: list[tuple[int, str]] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._stream:
            if line.endswith("\n"):  # a line cut by SIGKILL was never acknowledged
                idx, key = line.split()
                self.acks.append((int(idx), key))

    def join(self) -> None:
        self._thread.join(30)


def _settle_after_kill(url: str) -> None:
    """On PostgreSQL, wait until the killed appender's server sessions are done.

    SIGKILL stops the client, not its server session: a COMMIT it had already sent
    still completes (and only then does the session notice the closed socket), so a
    check that reads the log before that sees it grow underneath. Until then such a
    session shows as active or inside a transaction.
    """
    if make_url(url).get_backend_name() != "postgresql":
        return
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 30
        with engine.connect() as conn:
            while True:
                busy = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend' AND state <> 'idle'"
                    )
                ).scalar_one()
                # The statistics views are a snapshot per transaction: end it to look again.
                conn.rollback()
                if busy == 0:
                    return
                assert time.monotonic() < deadline, f"{busy} sessions still busy after kill -9"
                time.sleep(0.02)
    finally:
        engine.dispose()


def _check_acked(url: str, signer: Signer, acked: dict[str, int]) -> int:
    """Every acknowledged key is at its index with its bytes; verify passes; returns size."""
    engine = make_engine(url)
    try:
        report = verify_log(engine, Verifier.from_vkey(signer.vkey()), ORIGIN)
        assert report.ok, report
        with Log(engine, signer, ORIGIN) as log:
            size = log.size()
            assert report.size == size
            stored = {e.index: e for e in log.entries(0, size)}
            for key, index in acked.items():
                entry = stored[index]
                assert entry.idempotency_key == key
                assert entry.data == data_for(key)
            # An acknowledged append retried after the crash returns the same entry.
            sample = random.Random(size).sample(sorted(acked), min(20, len(acked)))
            for key in sample:
                res = log.append(data_for(key), key)
                assert (res.index, res.duplicate) == (acked[key], True)
            assert log.size() == size
        return size
    finally:
        engine.dispose()


def test_kill_9_never_loses_an_acknowledged_entry(migrated_db_url: str) -> None:
    signer = Signer.generate(ORIGIN)
    acked: dict[str, int] = {}
    rng = random.Random(1234)
    for rnd in range(KILL_ROUNDS):
        proc = _start_appender(migrated_db_url, signer, f"r{rnd}", "--threads", "4")
        assert proc.stdout is not None
        reader = _AckReader(proc.stdout)
        # Kill at a different point each round: after a few or after many acks.
        target = rng.choice([1, 20, 200, 1000, 3000])
        deadline = time.monotonic() + 60
        while len(reader.acks) < target and proc.poll() is None:
            assert time.monotonic() < deadline, "the appender made no progress"
            time.sleep(0.005)
        time.sleep(rng.random() * 0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _settle_after_kill(migrated_db_url)
        reader.join()
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
        for index, key in reader.acks:
            assert acked.setdefault(key, index) == index
        indexes = list(acked.values())
        assert len(set(indexes)) == len(indexes)
        size = _check_acked(migrated_db_url, signer, acked)
        assert size >= len(acked)
    assert len(acked) > KILL_ROUNDS


@pytest.mark.postgres
def test_four_processes_append_to_one_postgres_log() -> None:
    if postgres_admin_url() is None:
        pytest.skip("BASHU_TEST_POSTGRES_URL is not set")
    url, name = create_postgres_database()
    try:
        upgrade(url)
        signer = Signer.generate(ORIGIN)
        per_thread, threads, shared = 600, 2, 40
        # All four start appending at the same moment, once their imports are done.
        start_at = time.time() + 3.0
        procs = [
            _start_appender(
                url,
                signer,
                f"p{p}",
                "--threads",
                str(threads),
                "--count",
                str(per_thread),
                "--shared",
                str(shared),
                "--max-batch",
                "12",
                "--start-at",
                str(start_at),
            )
            for p in range(4)
        ]
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            outputs.append(out)
        by_key: dict[str, set[int]] = {}
        for out in outputs:
            for line in out.splitlines():
                idx, key = line.split()
                by_key.setdefault(key, set()).add(int(idx))
        assert all(len(v) == 1 for v in by_key.values()), "a key got two entries"
        expected_size = 4 * threads * per_thread + shared
        assert len(by_key) == expected_size
        assert sorted(next(iter(v)) for v in by_key.values()) == list(range(expected_size))
        acked = {k: next(iter(v)) for k, v in by_key.items()}
        # The processes really interleaved: in index order, the writer changes often.
        writers = [k.split("-")[0] for k, _ in sorted(acked.items(), key=lambda kv: kv[1])]
        switches = sum(1 for x, y in itertools.pairwise(writers) if x != y)
        assert switches >= 8, switches
        assert _check_acked(url, signer, acked) == expected_size
    finally:
        drop_postgres_database(name)


# --- tampering ------------------------------------------------------------------------------

TAMPER_ENTRIES = 45
TAMPER_CHECKPOINT_SIZES = (0, 7, 16, 45)


@dataclass(frozen=True)
class Tamper:
    kind: str
    a: int
    b: int
    pos: int
    bit: int

    def describe(self) -> str:
        return f"{self.kind}(a={self.a}, b={self.b}, pos={self.pos}, bit={self.bit})"


TAMPER_KINDS = (
    "flip_data",
    "grow_data",
    "flip_leaf",
    "flip_node",
    "null_nodes",
    "grow_nodes",
    "delete_entry",
    "duplicate_into_gap",
    "swap_rows",
    "extra_entry",
    "flip_note",
    "flip_checkpoint_root",
    "change_checkpoint_size",
    "flip_head_root",
    "change_head_size",
)

tampers = st.builds(
    Tamper,
    kind=st.sampled_from(TAMPER_KINDS),
    a=st.integers(0, TAMPER_ENTRIES - 1),
    b=st.integers(0, TAMPER_ENTRIES - 1),
    pos=st.integers(0, 10_000),
    bit=st.integers(0, 7),
)


def _flip(value: bytes, pos: int, bit: int) -> bytes:
    buf = bytearray(value)
    buf[pos % len(buf)] ^= 1 << bit
    return bytes(buf)


def apply_tamper(conn: Any, ph: str, t: Tamper) -> None:
    """Apply ``t`` with plain SQL on a DB-API connection (``ph`` is the placeholder)."""

    def q(sql: str) -> str:
        return sql.replace("?", ph)

    cur = conn.cursor()

    def one(sql: str, *params: Any) -> Any:
        cur.execute(q(sql), params)
        return cur.fetchone()

    def run(sql: str, *params: Any) -> None:
        cur.execute(q(sql), params)

    a, b = t.a, t.b
    if b == a:
        b = (a + 1 + t.pos) % TAMPER_ENTRIES
        if b == a:
            b = (a + 1) % TAMPER_ENTRIES
    if t.kind == "flip_data":
        (data,) = one("SELECT data FROM ledger_entries WHERE idx = ?", a)
        run("UPDATE ledger_entries SET data = ? WHERE idx = ?", _flip(bytes(data), t.pos, t.bit), a)
    elif t.kind == "grow_data":
        (data,) = one("SELECT data FROM ledger_entries WHERE idx = ?", a)
        run("UPDATE ledger_entries SET data = ? WHERE idx = ?", bytes(data) + b"\x00", a)
    elif t.kind == "flip_leaf":
        (leaf,) = one("SELECT leaf_hash FROM ledger_entries WHERE idx = ?", a)
        run(
            "UPDATE ledger_entries SET leaf_hash = ? WHERE idx = ?",
            _flip(bytes(leaf), t.pos, t.bit),
            a,
        )
    elif t.kind in ("flip_node", "null_nodes", "grow_nodes"):
        odd = a | 1 if (a | 1) < TAMPER_ENTRIES else a - 1 | 1  # odd rows hold nodes
        (nodes,) = one("SELECT nodes FROM ledger_entries WHERE idx = ?", odd)
        nodes = bytes(nodes)
        new = {
            "flip_node": _flip(nodes, t.pos, t.bit),
            "null_nodes": None,
            "grow_nodes": nodes + nodes[:32],
        }[t.kind]
        run("UPDATE ledger_entries SET nodes = ? WHERE idx = ?", new, odd)
    elif t.kind == "delete_entry":
        run("DELETE FROM ledger_entries WHERE idx = ?", a)
    elif t.kind == "duplicate_into_gap":
        run("DELETE FROM ledger_entries WHERE idx = ?", a)
        run(
            "INSERT INTO ledger_entries "
            "(idx, data, leaf_hash, nodes, idempotency_key, appended_at) "
            "SELECT ?, data, leaf_hash, nodes, idempotency_key || '-copy', appended_at "
            "FROM ledger_entries WHERE idx = ?",
            a,
            b,
        )
    elif t.kind == "swap_rows":
        ra = one("SELECT data, leaf_hash, nodes FROM ledger_entries WHERE idx = ?", a)
        rb = one("SELECT data, leaf_hash, nodes FROM ledger_entries WHERE idx = ?", b)
        run("UPDATE ledger_entries SET data = ?, leaf_hash = ? WHERE idx = ?", rb[0], rb[1], a)
        run("UPDATE ledger_entries SET data = ?, leaf_hash = ? WHERE idx = ?", ra[0], ra[1], b)
    elif t.kind == "extra_entry":
        data = b"forged"
        run(
            "INSERT INTO ledger_entries "
            "(idx, data, leaf_hash, nodes, idempotency_key, appended_at) "
            "VALUES (?, ?, ?, NULL, 'forged', 0)",
            TAMPER_ENTRIES + (t.pos % 3),
            data,
            bytes(32),
        )
    elif t.kind in ("flip_note", "flip_checkpoint_root", "change_checkpoint_size"):
        cur.execute("SELECT id FROM ledger_checkpoints ORDER BY id")
        ids = [r[0] for r in cur.fetchall()]
        cid = ids[a % len(ids)]
        if t.kind == "flip_note":
            (note,) = one("SELECT note FROM ledger_checkpoints WHERE id = ?", cid)
            body_len = note.index("\n\n")  # tamper with the signed text itself
            i = t.pos % body_len
            repl = "A" if note[i] != "A" else "B"
            if note[i] == "\n":
                repl = " "
            run(
                "UPDATE ledger_checkpoints SET note = ? WHERE id = ?",
                note[:i] + repl + note[i + 1 :],
                cid,
            )
        elif t.kind == "flip_checkpoint_root":
            (root,) = one("SELECT root_hash FROM ledger_checkpoints WHERE id = ?", cid)
            run(
                "UPDATE ledger_checkpoints SET root_hash = ? WHERE id = ?",
                _flip(bytes(root), t.pos, t.bit),
                cid,
            )
        else:
            run("UPDATE ledger_checkpoints SET tree_size = tree_size + 1 WHERE id = ?", cid)
    elif t.kind == "flip_head_root":
        (root,) = one("SELECT root_hash FROM ledger_head WHERE id = 1")
        run("UPDATE ledger_head SET root_hash = ? WHERE id = 1", _flip(bytes(root), t.pos, t.bit))
    elif t.kind == "change_head_size":
        run("UPDATE ledger_head SET tree_size = tree_size + ? WHERE id = 1", 1 if t.bit & 1 else -1)
    else:  # pragma: no cover
        raise AssertionError(t.kind)
    cur.close()
    conn.commit()


def _build_pristine(url: str, signer: Signer) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        with Log(engine, signer, ORIGIN) as log:
            done = 0
            for size in TAMPER_CHECKPOINT_SIZES:
                if size > done:
                    log.append_many(
                        [
                            (b"record %d " % i + bytes([i]) * (i % 9), f"key-{i}")
                            for i in range(done, size)
                        ]
                    )
                    done = size
                log.checkpoint()
    finally:
        engine.dispose()


@dataclass
class Pristine:
    path: Path
    signer: Signer


@pytest.fixture(scope="module")
def pristine_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    path = tmp_path_factory.mktemp("pristine") / "ledger.db"
    signer = Signer.generate(ORIGIN)
    _build_pristine(f"sqlite:///{path}", signer)
    # Fold the WAL into the main file so one copy of the file is the whole database.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return Pristine(path, signer)


def _verify_copy(url: str, signer: Signer, chunk_log2: int) -> verify_mod.VerifyReport:
    engine = make_engine(url)
    old = verify_mod.CHUNK_LOG2
    verify_mod.CHUNK_LOG2 = chunk_log2  # small chunks exercise the cross-chunk paths
    try:
        return verify_log(engine, Verifier.from_vkey(signer.vkey()), ORIGIN)
    finally:
        verify_mod.CHUNK_LOG2 = old
        engine.dispose()


def _sqlite_copy(pristine: Pristine) -> tuple[Path, Callable[[], None]]:
    d = pristine.path.parent / f"copy-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    dest = d / "ledger.db"
    shutil.copyfile(pristine.path, dest)
    return dest, lambda: shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("chunk_log2", [2, 3, 15])
def test_untampered_copy_verifies(pristine_sqlite: Pristine, chunk_log2: int) -> None:
    dest, cleanup = _sqlite_copy(pristine_sqlite)
    try:
        report = _verify_copy(f"sqlite:///{dest}", pristine_sqlite.signer, chunk_log2)
        assert report.ok, report
        assert report.size == TAMPER_ENTRIES
        assert report.checkpoints_checked == len(TAMPER_CHECKPOINT_SIZES)
    finally:
        cleanup()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tamper=tampers, chunk_log2=st.sampled_from([2, 3, 15]))
def test_every_tampering_is_caught_on_sqlite(
    pristine_sqlite: Pristine, tamper: Tamper, chunk_log2: int
) -> None:
    dest, cleanup = _sqlite_copy(pristine_sqlite)
    try:
        conn = sqlite3.connect(dest)
        apply_tamper(conn, "?", tamper)
        conn.close()
        report = _verify_copy(f"sqlite:///{dest}", pristine_sqlite.signer, chunk_log2)
        assert not report.ok, tamper.describe()
        assert report.error is not None
        assert report.reason
    finally:
        cleanup()


@dataclass
class PristinePostgres:
    name: str
    signer: Signer


@pytest.fixture(scope="module")
def pristine_postgres() -> Iterator[PristinePostgres]:
    if postgres_admin_url() is None:
        pytest.skip("BASHU_TEST_POSTGRES_URL is not set")
    url, name = create_postgres_database()
    signer = Signer.generate(ORIGIN)
    try:
        _build_pristine(url, signer)
        yield PristinePostgres(name, signer)
    finally:
        drop_postgres_database(name)


@pytest.mark.postgres
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tamper=tampers)
def test_tampering_is_caught_on_postgres(
    pristine_postgres: PristinePostgres, tamper: Tamper
) -> None:
    admin = postgres_admin_url()
    assert admin is not None
    name = f"bashu_tamper_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pristine_postgres.name}"'))
    eng.dispose()
    try:
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain) as conn:
            apply_tamper(conn, "%s", tamper)
        report = _verify_copy(url, pristine_postgres.signer, 3)
        assert not report.ok, tamper.describe()
    finally:
        drop_postgres_database(name)
