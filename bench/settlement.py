"""Settlement benchmark: settling and reconciling a period of a million usage records.

Run from the repository root::

    .venv/bin/python bench/settlement.py --quick    # < 1 minute, 1,000,000 records, best of 2
    .venv/bin/python bench/settlement.py            # same size, best of 5 runs each
    .venv/bin/python bench/settlement.py --records 200000

It prints a ``rich`` table and, as its LAST line, one JSON object with at least
``settle_ratio`` and ``reconcile_records_per_s`` (and the sizes and timings behind
them).

What is measured, side by side in one run, on one SQLite database (WAL):

* **settle**: the real code path of a statement: read the period's cross-region
  usage records between two regions from the table (``UsageTable.from_cursor``)
  and compute the statement (``compute_statement``: per product / tariff / purpose
  line, zero-priced counts, quantities, gross, late counts and each line's RFC 9162
  Merkle root over its entries' leaf hashes, plus the canonical body and digest);
  against a plain ``SELECT … GROUP BY`` computing the same sums over the same rows
  with the same WHERE clause. ``settle_ratio`` = settle time / GROUP BY time
  (target ≤ 3). The bench checks that both give the same figures per line.
* **reconcile**: this region's records against the counterparty's copy with
  injected differences (missing, extra, changed amount, changed quantity,
  duplicated) with ``reconcile`` (record scope ALL: every record compared).
  ``reconcile_records_per_s`` counts our records over the reconcile time with both
  sides already read; the time to read both sides from SQLite is reported too
  (``reconcile_end_to_end_s``). The bench checks that exactly the injected
  differences are found.

The table is bench-local, shaped like the access service's usage rows: ``entry_index``
(the provider ledger index; the rowid, so "ledger order" costs nothing), ``id`` (the
usage record id), licence, product, tariff_version, provider_region,
consumer_region, purpose_class, event_time (µs since the epoch, UTC), calls, rows,
bytes, amount_fen, leaf_hash. Both engines see the same file, warm (each query is
run once before it is timed); settle and GROUP BY runs alternate, best time kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

# Run as a script, this file's directory is sys.path[0] and bench/ledger.py would
# shadow the ledger package: put the repository root first instead.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from services.settlement.periods import Cadence  # noqa: E402
from services.settlement.reconcile import (  # noqa: E402
    MatchStatus,
    ReconciliationReport,
    RecordSet,
    Tier,
    reconcile,
)
from services.settlement.statement import StatementContent, compute_statement  # noqa: E402
from services.settlement.usage import UsageTable  # noqa: E402

PERIOD = Cadence.monthly().period("2026-11")
START_US = int(PERIOD.start.timestamp()) * 1_000_000
SPAN_US = int((PERIOD.end - PERIOD.start).total_seconds()) * 1_000_000
REGIONS = ("sc", "cq")
PRODUCTS = 40
INJECT_EACH = 100
T = TypeVar("T")
U = TypeVar("U")

COLUMNS = (
    "entry_index INTEGER PRIMARY KEY, id TEXT NOT NULL, licence TEXT NOT NULL, "
    "product TEXT NOT NULL, tariff_version TEXT NOT NULL, provider_region TEXT NOT NULL, "
    "consumer_region TEXT NOT NULL, purpose_class INTEGER NOT NULL, "
    "event_time INTEGER NOT NULL, calls INTEGER NOT NULL, rows INTEGER NOT NULL, "
    "bytes INTEGER NOT NULL, amount_fen INTEGER NOT NULL, leaf_hash BLOB NOT NULL"
)
PAIR_WHERE = (
    "event_time >= :start AND event_time < :end AND "
    "((provider_region = :a AND consumer_region = :b) OR "
    "(provider_region = :b AND consumer_region = :a))"
)
STATEMENT_SQL = (
    "SELECT entry_index, leaf_hash, provider_region, consumer_region, product, "
    "tariff_version AS tariff, purpose_class, event_time, calls, rows, bytes, amount_fen "
    f"FROM {{table}} WHERE {PAIR_WHERE} ORDER BY entry_index"
)
GROUP_BY_SQL = (
    "SELECT provider_region, consumer_region, product, tariff_version, purpose_class, "
    "count(*), sum(amount_fen = 0), sum(calls), sum(rows), sum(bytes), sum(amount_fen) "
    f"FROM {{table}} WHERE {PAIR_WHERE} GROUP BY 1, 2, 3, 4, 5"
)
RECORDS_SQL = (
    "SELECT id AS record_id, entry_index, leaf_hash, provider_region, consumer_region, "
    "product, tariff_version AS tariff, purpose_class, event_time, calls, rows, bytes, "
    f"amount_fen FROM {{table}} WHERE {PAIR_WHERE} ORDER BY entry_index"
)
PARAMS = {"start": START_US, "end": START_US + SPAN_US, "a": REGIONS[0], "b": REGIONS[1]}


def rows(n: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """``n`` usage rows of November 2026 between sc and cq (two thirds sc → cq)."""
    rnd = random.Random(seed)
    sha = hashlib.sha256
    for i in range(n):
        provider, consumer = ("sc", "cq") if i % 3 else ("cq", "sc")
        p = rnd.randrange(PRODUCTS)
        product = f"regions/{provider}/products/p{p:02d}"
        free = p % 10 == 0  # public-welfare products: metered, zero-priced
        rid = f"regions/{consumer}/parties/c{rnd.randrange(800):03d}/req-{i:08d}"
        n_rows = rnd.randrange(1, 5000)
        yield (
            i,
            rid,
            f"regions/{provider}/licences/l{rnd.randrange(600):03d}",
            product,
            "" if free else f"{product}/tariffs/v{1 + p % 3}",
            provider,
            consumer,
            2 if free else 1 + p % 4,
            START_US + rnd.randrange(SPAN_US),
            1,
            n_rows,
            n_rows * 180,
            0 if free else n_rows * (1 + p % 7),
            sha(rid.encode()).digest(),
        )


def build(db: Path, n: int) -> dict[str, set[str]]:
    """Create ``usage_sc`` (ours) and ``usage_cq`` (theirs, with injected differences)."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")  # set-up only; nothing is timed here
    con.execute(f"CREATE TABLE usage_sc ({COLUMNS})")
    con.executemany("INSERT INTO usage_sc VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows(n))
    con.execute(f"CREATE TABLE usage_cq ({COLUMNS})")
    con.execute("INSERT INTO usage_cq SELECT * FROM usage_sc")
    rnd = random.Random(11)
    picks = rnd.sample(range(n), 4 * INJECT_EACH)

    def ids(part: list[int]) -> list[str]:
        listed = ",".join(map(str, part))
        query = f"SELECT id FROM usage_sc WHERE entry_index IN ({listed})"
        return [str(r[0]) for r in con.execute(query)]

    missing, amount, quantity, duplicated = (
        picks[k * INJECT_EACH : (k + 1) * INJECT_EACH] for k in range(4)
    )
    injected = {
        "missing": set(ids(missing)),
        "amount": set(ids(amount)),
        "quantity": set(ids(quantity)),
        "duplicated": set(ids(duplicated)),
    }
    con.execute(f"DELETE FROM usage_cq WHERE entry_index IN ({','.join(map(str, missing))})")
    con.execute(
        "UPDATE usage_cq SET amount_fen = amount_fen + 7 "
        f"WHERE entry_index IN ({','.join(map(str, amount))})"
    )
    con.execute(
        f"UPDATE usage_cq SET rows = rows + 3 WHERE entry_index IN ({','.join(map(str, quantity))})"
    )
    con.execute(
        "INSERT INTO usage_cq SELECT entry_index + :off, id, licence, product, tariff_version, "
        "provider_region, consumer_region, purpose_class, event_time, calls, rows, bytes, "
        f"amount_fen, leaf_hash FROM usage_sc WHERE entry_index IN "
        f"({','.join(map(str, duplicated))})",
        {"off": 10 * n},
    )
    extras = list(rows(INJECT_EACH, seed=99))
    extras = [(20 * n + k, r[1] + "-extra", *r[2:]) for k, r in enumerate(extras)]
    con.executemany("INSERT INTO usage_cq VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", extras)
    injected["extra"] = {r[1] for r in extras}
    con.commit()
    con.close()
    return injected


def interleaved(
    first: Callable[[], T], second: Callable[[], U], repeats: int
) -> tuple[float, T, float, U]:
    """Best wall times of ``first`` and ``second`` over ``repeats`` alternating runs,
    after one warm-up run each; alternating spreads any noise of a shared machine
    over both."""
    a, b = first(), second()
    best_a = best_b = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a = first()
        best_a = min(best_a, time.perf_counter() - start)
        start = time.perf_counter()
        b = second()
        best_b = min(best_b, time.perf_counter() - start)
    return best_a, a, best_b, b


def timed(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Best wall time of ``repeats`` runs after one warm-up run, and the last result."""
    result = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def settle(con: sqlite3.Connection) -> StatementContent:
    cursor = con.execute(STATEMENT_SQL.format(table="usage_sc"), PARAMS)
    return compute_statement(PERIOD, REGIONS, UsageTable.from_cursor(cursor))


def group_by(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return con.execute(GROUP_BY_SQL.format(table="usage_sc"), PARAMS).fetchall()


def load(con: sqlite3.Connection, table: str) -> UsageTable:
    return UsageTable.from_cursor(con.execute(RECORDS_SQL.format(table=table), PARAMS))


def check_statement(content: StatementContent, sql_rows: list[tuple[Any, ...]]) -> None:
    """The statement's lines carry exactly the GROUP BY's figures."""
    ours = sorted(
        (
            ln.provider_region,
            ln.consumer_region,
            ln.product,
            ln.tariff,
            int(ln.purpose_class),
            ln.record_count,
            ln.zero_priced_count,
            ln.quantity.calls,
            ln.quantity.rows,
            ln.quantity.bytes,
            ln.gross_fen,
        )
        for ln in content.lines
    )
    if ours != sorted(tuple(r) for r in sql_rows):
        raise SystemExit("statement lines differ from the GROUP BY")


def check_report(report: ReconciliationReport, injected: dict[str, set[str]]) -> int:
    """Exactly the injected differences were found; returns how many."""
    found: dict[str, set[str]] = {k: set() for k in injected}
    for d in report.discrepancies:
        if d.tier is not Tier.RECORD:
            continue
        if d.status is MatchStatus.OURS_ONLY and not d.differing_fields:
            found["missing"].add(d.key)
        elif d.status is MatchStatus.THEIRS_ONLY and d.differing_fields == ("duplicate",):
            found["duplicated"].add(d.key)
        elif d.status is MatchStatus.THEIRS_ONLY:
            found["extra"].add(d.key)
        elif d.differing_fields == ("amount",):
            found["amount"].add(d.key)
        elif d.differing_fields == ("rows",):
            found["quantity"].add(d.key)
        else:
            raise SystemExit(f"unexpected discrepancy {d}")
    if found != injected:
        raise SystemExit("reconciliation did not find exactly the injected differences")
    return sum(len(v) for v in found.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="best of 2 runs each (< 1 minute)")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.records
    repeats = 2 if args.quick else 5
    console = Console(stderr=False)
    with tempfile.TemporaryDirectory(prefix="bashu-bench-settle-") as tmp:
        db = Path(tmp) / "usage.db"
        start = time.perf_counter()
        injected = build(db, n)
        setup_s = time.perf_counter() - start
        con = sqlite3.connect(db)
        settle_s, content, group_s, sql_rows = interleaved(
            lambda: settle(con), lambda: group_by(con), repeats
        )
        check_statement(content, sql_rows)
        load_start = time.perf_counter()
        ours, theirs = load(con, "usage_sc"), load(con, "usage_cq")
        load_s = time.perf_counter() - load_start
        reconcile_s, report = timed(
            lambda: reconcile(RecordSet("sc", ours), RecordSet("cq", theirs), period=PERIOD.id),
            repeats,
        )
        found = check_report(report, injected)
        con.close()

    result = {
        "records": n,
        "quick": bool(args.quick),
        "setup_s": round(setup_s, 3),
        "settle_s": round(settle_s, 3),
        "group_by_s": round(group_s, 3),
        "settle_ratio": round(settle_s / group_s, 3),
        "statement_lines": len(content.lines),
        "reconcile_s": round(reconcile_s, 3),
        "reconcile_records_per_s": round(n / reconcile_s),
        "reconcile_load_s": round(load_s, 3),
        "reconcile_end_to_end_s": round(load_s + reconcile_s, 3),
        "reconcile_ratio_vs_group_by": round((load_s + reconcile_s) / group_s, 3),
        "differences_injected": sum(len(v) for v in injected.values()),
        "differences_found": found,
    }
    table = Table(title=f"Settlement of {n:,} usage records (SQLite, best of {repeats})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("compared with", justify="right")
    table.add_row(
        "settle: read + statement",
        f"{settle_s:.2f} s",
        f"GROUP BY {group_s:.2f} s → ×{settle_s / group_s:.2f} (target ≤ 3)",
    )
    table.add_row("statement lines / net", f"{len(content.lines)}", f"net {content.net_fen:,} fen")
    table.add_row(
        "reconcile (both sides in memory)",
        f"{reconcile_s:.2f} s",
        f"{n / reconcile_s:,.0f} records/s",
    )
    table.add_row(
        "reconcile incl. reading both sides",
        f"{load_s + reconcile_s:.2f} s",
        f"×{(load_s + reconcile_s) / group_s:.2f} the GROUP BY",
    )
    table.add_row(
        "differences found / injected",
        f"{found}",
        f"{result['differences_injected']} (5 kinds × {INJECT_EACH})",
    )
    table.add_row("set-up (generate + insert, untimed)", f"{setup_s:.1f} s", "")
    console.print(table)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
