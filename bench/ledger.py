"""Ledger benchmark: durable appends, inclusion proofs, full verification.

Run from the repository root::

    .venv/bin/python bench/ledger.py --quick     # < 1 minute: 100k appends, 1M-entry log
    .venv/bin/python bench/ledger.py             # full: 1M appends (300k on PostgreSQL)
    BASHU_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/ledger.py --quick # adds PostgreSQL (scratch database)

It prints a ``rich`` table and, as its LAST line, one JSON object with at least
``appends_per_s_sqlite``, ``append_ratio_sqlite``, ``append_ratio_postgres`` (only
with PostgreSQL), ``proof_p50_ms``, ``verify_ratio`` and the log size each was
measured at (``append_entries``, ``append_entries_postgres``, ``proof_log_size``,
``verify_log_size``).

What is compared, side by side in one run and on the same kind of database:

* appends: ``Log.append_many`` from 4 threads (batches of 1024 entries of 200
  bytes, group-committed by the sequencer into transactions of up to 4096), every
  call returning only once durable; against raw ``executemany`` inserts of the same
  200-byte payloads into a plain table, 4096 rows per transaction, same engine and
  durability settings (SQLite WAL + synchronous=FULL; PostgreSQL defaults). The
  headline uses per-writer sequential idempotency keys (``w3-000000012345``); a
  second SQLite run with random UUID keys is reported too, because a UNIQUE index
  on random keys costs SQLite much more than on clustered ones.
* inclusion proofs: p50/p99 latency of ``Log.inclusion_proof`` for random entries
  of the big log (built through the same append path).
* verification: ``verify_log`` of the big log against a plain loop that hashes the
  same leaves with hashlib and folds the root (data already in memory; only the
  hashing loop is timed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Run as a script, this file's directory is sys.path[0] and its own name ("ledger")
# would shadow the ledger package: put the repository root first instead.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from ledger.log import Log  # noqa: E402
from ledger.note import Signer, Verifier  # noqa: E402
from ledger.verify import verify_log  # noqa: E402
from services.db import make_engine, normalise_url  # noqa: E402
from services.migrate import upgrade  # noqa: E402

ORIGIN = "bench.bashu.example/ledger"
ENTRY_SIZE = 200
WRITERS = 4
CALL_BATCH = 1024
TXN_BATCH = 4096
_PAD = hashlib.sha256(b"bench").digest() * 6  # 192 bytes


def entry(i: int) -> bytes:
    """Entry ``i``: 200 deterministic bytes."""
    return _PAD + i.to_bytes(8, "big")


def seq_key(w: int, i: int) -> str:
    return f"w{w}-{i:012d}"


def uuid_key(w: int, i: int) -> str:
    return str(uuid.uuid4())


# --- appends --------------------------------------------------------------------------


def bench_log_appends(engine: Engine, n: int, key: Callable[[int, int], str]) -> float:
    """Durable entries/s through Log.append_many from WRITERS threads."""
    signer = Signer.generate(ORIGIN)
    log = Log(engine, signer, ORIGIN, max_batch=TXN_BATCH)
    per_writer = n // WRITERS
    work = []
    for w in range(WRITERS):
        items = [(entry(w * per_writer + i), key(w, i)) for i in range(per_writer)]
        work.append([items[s : s + CALL_BATCH] for s in range(0, per_writer, CALL_BATCH)])
    barrier = threading.Barrier(WRITERS + 1)

    def writer(batches: list[list[tuple[bytes, str]]]) -> None:
        barrier.wait()
        for batch in batches:
            log.append_many(batch)

    threads = [threading.Thread(target=writer, args=(b,)) for b in work]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert log.size() == per_writer * WRITERS
    log.close()
    return per_writer * WRITERS / elapsed


def stored_row_bytes(engine: Engine) -> int:
    """Average bytes of one stored ledger row: data, leaf hash, subtree hashes, key, time.

    The raw baseline inserts rows of this same size ("rows of the same size"), so
    the ratio measures the sequencer, hashing and indexing, not a smaller row.
    """
    raw: Any = engine.raw_connection()
    cur = raw.cursor()
    length = "octet_length" if engine.dialect.name == "postgresql" else "length"
    cur.execute(
        f"SELECT avg({length}(data) + {length}(leaf_hash) + coalesce({length}(nodes), 0) "
        f"+ {length}(idempotency_key) + 8) FROM ledger_entries"
    )
    (avg,) = cur.fetchone()
    cur.close()
    raw.close()
    return round(float(avg))


def bench_raw_inserts(engine: Engine, n: int, row_bytes: int) -> float:
    """Rows/s of plain executemany inserts of ``row_bytes``-byte payloads, TXN_BATCH rows
    per committed transaction."""
    postgres = engine.dialect.name == "postgresql"
    raw: Any = engine.raw_connection()
    cur = raw.cursor()
    ph = "%s" if postgres else "?"
    if not postgres:
        cur.execute("BEGIN IMMEDIATE")
    # Same key type as ledger_entries.idx: on SQLite "INTEGER PRIMARY KEY" is the
    # rowid itself (BIGINT would add a second index and flatter the ledger).
    id_type, blob_type = ("BIGINT", "BYTEA") if postgres else ("INTEGER", "BLOB")
    cur.execute(f"CREATE TABLE bench_plain (id {id_type} PRIMARY KEY, data {blob_type} NOT NULL)")
    if postgres:
        raw.commit()
    else:
        cur.execute("COMMIT")
    pad = b"r" * max(0, row_bytes - ENTRY_SIZE)
    rows = [(i, entry(i) + pad) for i in range(n)]
    sql = f"INSERT INTO bench_plain (id, data) VALUES ({ph}, {ph})"
    start = time.perf_counter()
    for s in range(0, n, TXN_BATCH):
        if not postgres:
            cur.execute("BEGIN IMMEDIATE")
        cur.executemany(sql, rows[s : s + TXN_BATCH])
        if postgres:
            raw.commit()
        else:
            cur.execute("COMMIT")
    elapsed = time.perf_counter() - start
    cur.close()
    raw.close()
    return n / elapsed


# --- big log: proofs and verification ------------------------------------------------------


def build_log(engine: Engine, signer: Signer, n: int) -> None:
    """Append n entries through the real path (two submitting threads), then checkpoint."""
    log = Log(engine, signer, ORIGIN, max_batch=2 * TXN_BATCH)
    chunks = list(range(0, n, TXN_BATCH))

    def writer(part: list[int]) -> None:
        for s in part:
            log.append_many([(entry(i), f"b{i:012d}") for i in range(s, min(n, s + TXN_BATCH))])

    threads = [threading.Thread(target=writer, args=(chunks[k::2],)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.checkpoint()
    log.close()


def bench_proofs(engine: Engine, signer: Signer, size: int, samples: int) -> tuple[float, float]:
    log = Log(engine, signer, ORIGIN)
    rng = random.Random(42)
    indexes = [rng.randrange(size) for _ in range(samples)]
    for i in indexes[:50]:  # warm the connection pool and caches
        log.inclusion_proof(i, size)
    lat = []
    for i in indexes:
        t0 = time.perf_counter()
        log.inclusion_proof(i, size)
        lat.append(time.perf_counter() - t0)
    log.close()
    lat.sort()
    return statistics.median(lat) * 1000, lat[int(len(lat) * 0.99)] * 1000


def plain_loop_seconds(engine: Engine, n: int) -> tuple[float, bytes]:
    """Hash the log's n leaves, in index order, and fold the root with hashlib.

    The bytes are read from the database in chunks outside the timed region (the
    appending threads interleave, so the order is the log's, not ``range(n)``); only
    the hashing loop is timed.
    """
    raw: Any = engine.raw_connection()
    cur = raw.cursor()
    sha = hashlib.sha256
    peaks: list[bytes] = []
    size = 0
    elapsed = 0.0
    for s in range(0, n, 1 << 15):
        cur.execute(
            "SELECT data FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (s, min(n, s + (1 << 15))),
        )
        chunk = [bytes(r[0]) for r in cur.fetchall()]
        t0 = time.perf_counter()
        for d in chunk:
            h = sha(b"\x00" + d).digest()
            m = size
            while m & 1:
                h = sha(b"\x01" + peaks.pop() + h).digest()
                m >>= 1
            peaks.append(h)
            size += 1
        elapsed += time.perf_counter() - t0
    t0 = time.perf_counter()
    root = peaks[-1] if peaks else sha(b"").digest()
    for left in reversed(peaks[:-1]):
        root = sha(b"\x01" + left + root).digest()
    elapsed += time.perf_counter() - t0
    cur.close()
    raw.close()
    return elapsed, root


# --- PostgreSQL scratch databases --------------------------------------------------------------


def scratch_postgres(admin_url: str) -> Iterator[str]:
    admin = normalise_url(admin_url)
    name = f"bashu_bench_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


def fresh_sqlite(tmp: Path, name: str, migrate: bool) -> Engine:
    url = f"sqlite:///{tmp / name}"
    if migrate:
        upgrade(url)
    return make_engine(url)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    args = ap.parse_args(argv)
    quick = args.quick
    n_append = 100_000 if quick else 1_000_000
    n_append_pg = 40_000 if quick else 300_000
    n_big = 1_000_000
    samples = 2000 if quick else 10_000
    console = Console(width=120)
    res: dict[str, Any] = {"quick": quick}
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="bashu-bench-") as d:
        tmp = Path(d)
        console.print(f"[bold]appends[/] SQLite: {n_append:,} entries of {ENTRY_SIZE} B …")
        eng = fresh_sqlite(tmp, "seq.db", True)
        log_rate = bench_log_appends(eng, n_append, seq_key)
        row_bytes = stored_row_bytes(eng)
        eng.dispose()
        eng = fresh_sqlite(tmp, "plain.db", False)
        raw_rate = bench_raw_inserts(eng, n_append, row_bytes)
        eng.dispose()
        eng = fresh_sqlite(tmp, "uuid.db", True)
        uuid_rate = bench_log_appends(eng, n_append, uuid_key)
        eng.dispose()
        res.update(
            appends_per_s_sqlite=round(log_rate),
            raw_inserts_per_s_sqlite=round(raw_rate),
            append_ratio_sqlite=round(log_rate / raw_rate, 3),
            appends_per_s_sqlite_uuid_keys=round(uuid_rate),
            append_ratio_sqlite_uuid_keys=round(uuid_rate / raw_rate, 3),
            append_entries=n_append,
            stored_row_bytes=row_bytes,
        )
        rows.append(
            (
                "durable appends/s SQLite (sequential keys)",
                f"{log_rate:,.0f}",
                ">= 50,000",
                f"{n_append:,} entries",
            )
        )
        rows.append(
            (
                "raw executemany rows/s SQLite",
                f"{raw_rate:,.0f}",
                "",
                f"{n_append:,} rows of {row_bytes} B",
            )
        )
        rows.append(("append ratio SQLite", f"{log_rate / raw_rate:.3f}", ">= 0.3", ""))
        rows.append(
            (
                "durable appends/s SQLite (random UUID keys)",
                f"{uuid_rate:,.0f}",
                "",
                f"{n_append:,} entries",
            )
        )
        rows.append(
            ("append ratio SQLite (random UUID keys)", f"{uuid_rate / raw_rate:.3f}", "", "")
        )

        pg_admin = os.environ.get("BASHU_TEST_POSTGRES_URL")
        if pg_admin:
            console.print(f"[bold]appends[/] PostgreSQL: {n_append_pg:,} entries …")
            for url in scratch_postgres(pg_admin):
                upgrade(url)
                eng = make_engine(url)
                pg_rate = bench_log_appends(eng, n_append_pg, seq_key)
                pg_raw = bench_raw_inserts(eng, n_append_pg, stored_row_bytes(eng))
                eng.dispose()
            res.update(
                appends_per_s_postgres=round(pg_rate),
                raw_inserts_per_s_postgres=round(pg_raw),
                append_ratio_postgres=round(pg_rate / pg_raw, 3),
                append_entries_postgres=n_append_pg,
            )
            rows.append(
                ("durable appends/s PostgreSQL", f"{pg_rate:,.0f}", "", f"{n_append_pg:,} entries")
            )
            rows.append(
                ("raw executemany rows/s PostgreSQL", f"{pg_raw:,.0f}", "", f"{n_append_pg:,} rows")
            )
            rows.append(("append ratio PostgreSQL", f"{pg_rate / pg_raw:.3f}", ">= 0.3", ""))

        console.print(f"[bold]big log[/] SQLite: building {n_big:,} entries …")
        signer = Signer.generate(ORIGIN)
        eng = fresh_sqlite(tmp, "big.db", True)
        t0 = time.perf_counter()
        build_log(eng, signer, n_big)
        build_s = time.perf_counter() - t0
        p50, p99 = bench_proofs(eng, signer, n_big, samples)
        console.print("[bold]verify[/] …")
        t0 = time.perf_counter()
        report = verify_log(eng, Verifier.from_vkey(signer.vkey()), ORIGIN)
        verify_s = time.perf_counter() - t0
        assert report.ok, report
        plain_s, plain_root = plain_loop_seconds(eng, n_big)
        eng.dispose()
        assert plain_root == report.root_hash, "verify and the plain loop disagree"
        res.update(
            proof_p50_ms=round(p50, 4),
            proof_p99_ms=round(p99, 4),
            proof_log_size=n_big,
            proof_samples=samples,
            verify_s=round(verify_s, 3),
            plain_loop_s=round(plain_s, 3),
            verify_ratio=round(verify_s / plain_s, 3),
            verify_log_size=n_big,
            big_log_build_entries_per_s=round(n_big / build_s),
        )
        rows.append(("inclusion proof p50 ms", f"{p50:.3f}", "<= 1", f"{n_big:,}-entry log"))
        rows.append(("inclusion proof p99 ms", f"{p99:.3f}", "", f"{samples:,} random entries"))
        rows.append(
            (
                "verify s / plain hashlib loop s",
                f"{verify_s:.2f} / {plain_s:.2f}",
                "",
                f"{n_big:,} entries",
            )
        )
        rows.append(("verify ratio", f"{verify_s / plain_s:.2f}", "<= 3", ""))
        rows.append(("big-log build appends/s", f"{n_big / build_s:,.0f}", "", ""))

    table = Table(title="Bashu ledger benchmark" + (" (--quick)" if quick else ""))
    for col in ("metric", "value", "target", "measured at"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print(json.dumps(res, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
