"""Settlement benchmark: settling and reconciling a period of a million usage records
stored in the node's own tables.

Run from the repository root::

    .venv/bin/python bench/settlement.py --quick    # < 1 minute, 1,000,000 records, 1 run
    .venv/bin/python bench/settlement.py            # same size, best of 5 runs each
    .venv/bin/python bench/settlement.py --records 200000

It prints a ``rich`` table and, as its LAST line, one JSON object with at least
``settle_ratio`` and ``reconcile_records_per_s`` (and the sizes and timings behind
them).

The data: two node databases (sc and cq) created by the node's migrations, holding
the cross-region uses of November 2026 between the two regions the way the nodes
store them: in the provider's ``access_usage`` (RECORDED, with the licence they were
made under in ``licences``) and in the consumer's ``market_consumption``. Two
thirds are sc → cq. cq's copy carries injected differences (missing, extra, changed
amount, changed quantity, duplicated), 100 of each.

What is measured, on sc's database, warm (the GROUP BY, and without ``--quick`` the
settle too, run once before timing; then best of N, settle and GROUP BY alternating):

* **settle**: what the node does to compute the period's statement with cq, through
  the very function the node's ``SettlementBook`` calls
  (``services.settlement_store.statement_content``): read both directions' records
  of the period from the node's tables into Arrow
  (``services.reconciliation_store.statement_usage``, the licence's tariff and
  purpose joined in, late records assigned), the adjustments, held disputes and
  covered batches, and compute the statement (``compute_statement``: lines per product,
  tariff and purpose, zero-priced counts, quantities, gross, each line's RFC 9162
  Merkle root over its entries, the canonical body and digest). Against it a plain
  ``SELECT … GROUP BY`` over the same rows with the same WHERE clause giving the
  same sums. ``settle_ratio`` = settle / GROUP BY (target ≤ 3); the bench checks
  both give the same figures per line.
* **reconcile**: the whole record tier as the node runs it, end to end except the
  network: cq's side is produced as cq's node produces ``ExportPeriodRecords`` (its
  records read, ordered by id, cut into Arrow IPC chunks of 10,000 records) in a
  separate process, as the peer node is, while sc reads its own side; then every
  record is reconciled and the report stored with its discrepancies
  (``ReportStore``). ``reconcile_records_per_s`` = records compared
  (ours) / that time. The bench checks exactly the injected differences are found.

What it does not measure: gRPC transport between two processes and the ledger
append of the report (one entry) — the node tests cover those paths for correctness.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

# Run as a script, this file's directory is sys.path[0] and bench/ledger.py would
# shadow the ledger package: put the repository root first instead.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from services.db import make_engine, read_scope  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.reconciliation_store import (  # noqa: E402
    ReportStore,
    arrow_chunks,
    load_records,
    read_arrow_chunks,
    sort_records,
    usage_table,
)
from services.settlement.periods import Cadence  # noqa: E402
from services.settlement.reconcile import (  # noqa: E402
    MatchStatus,
    ReconciliationReport,
    RecordSet,
    Tier,
    reconcile,
)
from services.settlement.statement import StatementContent  # noqa: E402
from services.settlement_store import statement_content  # noqa: E402

PERIOD = Cadence.monthly().period("2026-11")
START_US = int(PERIOD.start.timestamp()) * 1_000_000
SPAN_US = int((PERIOD.end - PERIOD.start).total_seconds()) * 1_000_000
REGIONS = ("cq", "sc")
PRODUCTS = 40
LICENCES = 600
INJECT_EACH = 100
T = TypeVar("T")
U = TypeVar("U")

PURPOSES = ("COMMERCIAL", "PUBLIC_WELFARE", "GOVERNMENT_SHARING", "RESEARCH")

# sc's side in GROUP BY form: the provider side grouped by licence (whose tariff and
# purpose the lines need, joined in), the consumer side by its own columns.
GROUP_BY_SQL = """
SELECT :sc AS p, u.consumer_region AS c, :pp || u.product_id AS product,
       CASE WHEN l.tariff_version IS NULL THEN ''
            ELSE :pp || u.product_id || '/tariffs/' || l.tariff_version END AS tariff,
       l.purpose_class, count(*), sum(CASE WHEN u.amount_fen = 0 THEN 1 ELSE 0 END),
       sum(u.qty_calls), sum(u.qty_rows), sum(u.qty_bytes), sum(u.amount_fen)
FROM access_usage u JOIN bench_licence_purpose l ON l.id = u.licence_id
WHERE u.state = 'RECORDED' AND u.consumer_region = :cq AND u.time_us >= :start
  AND u.time_us < :end AND u.ledger_index IS NOT NULL
GROUP BY u.consumer_region, u.product_id, l.tariff_version, l.purpose_class
UNION ALL
SELECT provider_region, :sc, product, tariff, purpose_class, count(*),
       sum(CASE WHEN amount_fen = 0 THEN 1 ELSE 0 END),
       sum(qty_calls), sum(qty_rows), sum(qty_bytes), sum(amount_fen)
FROM market_consumption
WHERE provider_region = :cq AND usage_time_us >= :start AND usage_time_us < :end
  AND ledger_index IS NOT NULL
GROUP BY provider_region, product, tariff, purpose_class
"""


def _bulk(path: Path) -> sqlite3.Connection:
    """A connection for the untimed set-up: no journal, no fsync, a large cache (the
    node's own settings are restored before anything is timed)."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")
    return con


def _truth(con: sqlite3.Connection, n: int) -> None:
    """``truth``: the n uses, generated in SQL (deterministic, no Python per row)."""
    con.execute(
        """
        CREATE TEMP TABLE truth AS
        WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :n)
        SELECT i,
               CASE WHEN i % 3 = 0 THEN 'cq' ELSE 'sc' END AS provider,
               CASE WHEN i % 3 = 0 THEN 'sc' ELSE 'cq' END AS consumer,
               (i * 7919) % :licences AS lic,
               ((i * 2654435761) % 800) AS party,
               :start + ((i * 40503) % :span_s) * 1000000 + (i % 1000000) AS time_us,
               1 + (i * 48271) % 4999 AS n_rows,
               randomblob(32) AS leaf
        FROM k
        """,
        {"n": n, "licences": LICENCES, "start": START_US, "span_s": SPAN_US // 1_000_000},
    )


def _licence_rows(region: str) -> list[tuple[Any, ...]]:
    rows = []
    for k in range(LICENCES):
        p = k % PRODUCTS
        free = p % 10 == 0  # public-welfare products: metered, zero-priced
        purpose = "PUBLIC_WELFARE" if free else PURPOSES[(p % 4) if p % 4 != 1 else 0]
        terms = json.dumps({"purpose": {"purpose_class": purpose, "scenario_code": "X"}})
        rows.append(
            (
                f"l{region}{k:03d}",
                f"r{region}{k:03d}",
                f"p{p:02d}",
                1,
                "party-provider",
                f"regions/cq/parties/c{k:03d}",
                terms,
                "[]",
                None if free else 1 + p % 3,
                "policy/v1",
                "ACTIVE",
                START_US,
                b"doc",
                b"\x00" * 64,
                "key",
                "k1",
                START_US,
                START_US,
                START_US,
            )
        )
    return rows


def _record_templates(region: str) -> list[tuple[int, bytes]]:
    """Per licence, the serialized ``UsageRecord`` its uses carry (the per-use fields
    are left out: the settlement reads product, tariff and purpose from it)."""
    from bashu.access.v1 import access_pb2
    from bashu.licensing.v1 import licensing_pb2

    out = []
    for k, row in enumerate(_licence_rows(region)):
        p = k % PRODUCTS
        purpose = json.loads(row[6])["purpose"]["purpose_class"]
        product = f"regions/{region}/products/p{p:02d}"
        record = access_pb2.UsageRecord(
            name=f"regions/{region}/usageRecords/{'0' * 32}",
            source=f"//bashu.exchange/regions/{region}",
            subject=f"regions/{region}/licences/{row[0]}",
            type="exchange.bashu.usage.v1.read",
            spec_version="1.0",
            provider_party=f"regions/{region}/parties/party-provider",
            provider_region=region,
            product=product,
            product_revision=f"{product}/revisions/1",
            tariff="" if row[8] is None else f"{product}/tariffs/{row[8]}",
            purpose=licensing_pb2.Purpose(
                scenario_code="X", purpose_class=f"PURPOSE_CLASS_{purpose}"
            ),
            columns=["id_no", "name", "city", "born", "score"],
            status=access_pb2.USAGE_RECORD_STATUS_RECORDED,
        )
        out.append((k, record.SerializeToString()))
    return out


def _price(p_expr: str) -> str:
    """Amount per row in fen of product ``p`` (0 for the free ones), as SQL."""
    return f"CASE WHEN ({p_expr}) % 10 = 0 THEN 0 ELSE 1 + ({p_expr}) % 7 END"


def build(tmp: Path, n: int) -> tuple[Path, Path, dict[str, set[str]]]:
    """sc's and cq's node databases (cq's with the injected differences)."""
    paths = {r: tmp / f"{r}.db" for r in REGIONS}
    for path in paths.values():
        upgrade(f"sqlite:///{path}")
    scratch = _bulk(tmp / "truth.db")
    _truth(scratch, n)
    scratch.execute("CREATE TABLE truth_copy AS SELECT * FROM temp.truth")
    scratch.execute("CREATE TABLE templates (t_region TEXT, t_lic INTEGER, t_record BLOB)")
    for region in REGIONS:
        scratch.executemany(
            "INSERT INTO templates VALUES (?, ?, ?)",
            [(region, k, blob) for k, blob in _record_templates(region)],
        )
    scratch.commit()
    scratch.close()
    for region, path in paths.items():
        other = "cq" if region == "sc" else "sc"
        con = _bulk(path)
        con.execute("PRAGMA foreign_keys=OFF")  # licences without their requests
        con.execute(f"ATTACH DATABASE '{tmp / 'truth.db'}' AS t")
        con.executemany(
            "INSERT INTO licences (id, licence_request_id, product_id, revision, provider_party,"
            " consumer_party, terms, masking, tariff_version, policy_version, state,"
            " valid_from_us, document, signature, signature_key_name, signature_key_id,"
            " sign_us, grant_us, update_us) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            _licence_rows(region),
        )
        # Bulk loads are faster into bare tables: the indexes are rebuilt afterwards.
        indexes = con.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('access_usage', 'market_consumption')"
        ).fetchall()
        for (sql,) in indexes:
            con.execute("DROP INDEX " + sql.split()[2])
        # Provider side: this region's uses by the other region's consumers.
        con.execute(
            f"""
            INSERT INTO access_usage (id, consumer_party, request_id, request_fingerprint, mode,
              licence_id, product_id, revision, provider_party, consumer_region, state,
              lease_until_us, reserved_calls, reserved_rows, reserved_bytes, qty_calls,
              qty_rows, qty_bytes, amount_fen, currency_code, time_us, period, day, outcome,
              rejection_reason, record, receipt_key_name, receipt_key_id, receipt_sign_us,
              create_us, update_us, ledger_index, ledger_leaf_hash)
            SELECT printf('u%010d', i), printf('regions/%s/parties/c%03d', consumer, party),
              printf('req-%08d', i), '', 'BULK', printf('l%s%03d', provider, lic),
              printf('p%02d', lic % {PRODUCTS}), 1, 'party-provider', consumer, 'RECORDED', 0,
              0, 0, 0, 1, n_rows, n_rows * 180, n_rows * ({_price(f"lic % {PRODUCTS}")}),
              'CNY', time_us, '2026-11', '2026-11-01', 'FOUND', '', t_record, '', '', 0,
              time_us, time_us, i, leaf
            FROM t.truth_copy JOIN t.templates ON t_region = provider AND t_lic = lic
            WHERE provider = ?
            """,
            (region,),
        )
        # Consumer side: this region's uses of the other region's data.
        con.execute(
            f"""
            INSERT INTO market_consumption (id, usage_record_id, usage_record, provider_region,
              consumer_party, licence, product, tariff, purpose_class, mode,
              provider_entry_index, provider_leaf_hash, qty_calls, qty_rows, qty_bytes,
              amount_fen, currency_code, usage_time_us, period, day, receipt, ledger_index,
              ledger_leaf_hash, create_us)
            SELECT printf('c%010d', i),
              printf('regions/%s/parties/c%03d/req-%08d', consumer, party, i),
              printf('regions/%s/usageRecords/u%010d', provider, i), provider,
              printf('regions/%s/parties/c%03d', consumer, party),
              printf('regions/%s/licences/l%s%03d', provider, provider, lic),
              printf('regions/%s/products/p%02d', provider, lic % {PRODUCTS}),
              CASE WHEN (lic % {PRODUCTS}) % 10 = 0 THEN ''
                   ELSE printf('regions/%s/products/p%02d/tariffs/%d', provider,
                               lic % {PRODUCTS}, 1 + (lic % {PRODUCTS}) % 3) END,
              CASE WHEN (lic % {PRODUCTS}) % 10 = 0 THEN 2
                   WHEN (lic % {PRODUCTS}) % 4 = 1 THEN 1
                   ELSE 1 + (lic % {PRODUCTS}) % 4 END,
              'BULK', i, leaf, 1, n_rows, n_rows * 180,
              n_rows * ({_price(f"lic % {PRODUCTS}")}), 'CNY', time_us, '2026-11',
              '2026-11-01', zeroblob(300), {n} + i, leaf, time_us
            FROM t.truth_copy WHERE provider = ?
            """,
            (other,),
        )
        for (sql,) in indexes:
            con.execute(sql)
        con.commit()
        con.execute("DETACH DATABASE t")
        con.execute("PRAGMA journal_mode=WAL")  # as the node runs it
        con.close()
    injected = _inject(paths["cq"], n)
    return paths["sc"], paths["cq"], injected


def _inject(path: Path, n: int) -> dict[str, set[str]]:
    """Differences in cq's copy of sc → cq uses (cq holds their consumption rows)."""
    con = _bulk(path)
    ids = [
        str(r[0])
        for r in con.execute(
            "SELECT usage_record_id FROM market_consumption ORDER BY provider_entry_index LIMIT ?",
            (5 * INJECT_EACH * 7,),
        )
    ]
    picks = ids[::7][: 4 * INJECT_EACH]
    missing, amount, quantity, duplicated = (
        picks[k * INJECT_EACH : (k + 1) * INJECT_EACH] for k in range(4)
    )

    def where(part: list[str]) -> str:
        return "usage_record_id IN (" + ",".join(f"'{x}'" for x in part) + ")"

    con.execute(f"DELETE FROM market_consumption WHERE {where(missing)}")
    con.execute(f"UPDATE market_consumption SET amount_fen = amount_fen + 7 WHERE {where(amount)}")
    con.execute(f"UPDATE market_consumption SET qty_rows = qty_rows + 3 WHERE {where(quantity)}")
    # A duplicate can only exist where uniqueness was lost: rebuild the table without it.
    con.execute("ALTER TABLE market_consumption RENAME TO mc_old")
    con.execute("CREATE TABLE market_consumption AS SELECT * FROM mc_old")
    con.execute("DROP TABLE mc_old")
    con.execute("CREATE INDEX ix_bench_mc ON market_consumption (provider_region, usage_time_us)")
    con.execute("CREATE INDEX ix_bench_mc_id ON market_consumption (usage_record_id)")
    con.execute(
        "INSERT INTO market_consumption SELECT 'd' || substr(id, 2), usage_record_id,"
        " usage_record, provider_region, consumer_party, licence, product, tariff,"
        " purpose_class, mode, provider_entry_index, provider_leaf_hash, qty_calls, qty_rows,"
        " qty_bytes, amount_fen, currency_code, usage_time_us, period, day, receipt,"
        f" ledger_index + {10 * n}, ledger_leaf_hash, create_us FROM market_consumption"
        f" WHERE {where(duplicated)}"
    )
    extras = [f"regions/cq/parties/c999/extra-{k:04d}" for k in range(INJECT_EACH)]
    con.executemany(
        "INSERT INTO market_consumption SELECT 'e' || ? , ?, usage_record, provider_region,"
        " consumer_party, licence, product, tariff, purpose_class, mode, provider_entry_index,"
        " provider_leaf_hash, qty_calls, qty_rows, qty_bytes, amount_fen, currency_code,"
        f" usage_time_us, period, day, receipt, ledger_index + {20 * n} + ?, ledger_leaf_hash,"
        " create_us FROM market_consumption WHERE usage_record_id = ?",
        [(str(k), rid, k, ids[-1]) for k, rid in enumerate(extras)],
    )
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return {
        "missing": set(missing),
        "amount": set(amount),
        "quantity": set(quantity),
        "duplicated": set(duplicated),
        "extra": set(extras),
    }


def interleaved(
    first: Callable[[], T], second: Callable[[], U], repeats: int, *, warm_first: bool = True
) -> tuple[float, T, float, U]:
    """Best wall times of ``first`` and ``second`` over ``repeats`` alternating runs,
    after a warm-up run of ``second`` (it reads the same rows, so it warms the page
    cache for both) and, with ``warm_first``, of ``first``."""
    b = second()
    a = first() if warm_first else None
    best_a = best_b = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a = first()
        best_a = min(best_a, time.perf_counter() - start)
        start = time.perf_counter()
        b = second()
        best_b = min(best_b, time.perf_counter() - start)
    assert a is not None
    return best_a, a, best_b, b


def timed(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Best of one run plus ``repeats`` more (the tables are warm from the settle runs)."""
    start = time.perf_counter()
    result = fn()
    best = time.perf_counter() - start
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def settle(engine: Engine) -> StatementContent:
    """Compute the period's statement of sc with cq exactly as the node does
    (``services.settlement_store.statement_content``, what ``SettlementBook`` signs):
    the usage read by ``statement_usage`` (both directions, provider entries, late
    records), adjustments, held disputes, covered batches, then ``compute_statement``."""
    with read_scope(engine) as session:
        return statement_content(session, "sc", "cq", PERIOD, Cadence.monthly())


def _purpose_view(engine: Engine) -> None:
    """A view exposing each licence's purpose class as a number, so the GROUP BY can
    join it (the licence keeps its terms as JSON)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE VIEW IF NOT EXISTS bench_licence_purpose AS SELECT id, tariff_version,"
                " CASE json_extract(terms, '$.purpose.purpose_class')"
                " WHEN 'COMMERCIAL' THEN 1 WHEN 'PUBLIC_WELFARE' THEN 2"
                " WHEN 'GOVERNMENT_SHARING' THEN 3 WHEN 'RESEARCH' THEN 4 ELSE 0 END"
                " AS purpose_class FROM licences"
            )
        )


def group_by(engine: Engine) -> list[tuple[Any, ...]]:
    params = {
        "sc": "sc",
        "cq": "cq",
        "pp": "regions/sc/products/",
        "start": START_US,
        "end": START_US + SPAN_US,
    }
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(GROUP_BY_SQL), params)]


def peer_export(db_path: str) -> list[bytes]:
    """What cq's node does for ExportPeriodRecords: read its records of the period,
    order them by id, cut them into Arrow IPC chunks of 10,000 records."""
    engine = make_engine(f"sqlite:///{db_path}")
    try:
        return list(arrow_chunks(sort_records(load_records(engine, "cq", "sc", PERIOD))))
    finally:
        engine.dispose()


def reconcile_path(
    ours_engine: Engine, theirs_db: Path, peer: ProcessPoolExecutor
) -> ReconciliationReport:
    # The counterparty's node works in its own process while this node reads its own
    # side, as two nodes do; the chunks cross a pipe instead of a gRPC stream.
    exported = peer.submit(peer_export, str(theirs_db))
    ours = load_records(ours_engine, "sc", "cq", PERIOD)
    theirs = read_arrow_chunks(exported.result())
    report = reconcile(
        RecordSet("sc", usage_table(ours)),
        RecordSet("cq", usage_table(theirs)),
        period=PERIOD.id,
    )
    store = ReportStore(ours_engine)
    report_id = os.urandom(16).hex()
    from bashu.settlement.v1 import settlement_pb2

    message = settlement_pb2.ReconciliationReport.FromString(report.body)
    message.ledger_entry.index = 0
    message.ledger_entry.leaf_hash = b"\x00" * 32
    store.save(
        report_id=report_id,
        period=PERIOD.id,
        counterparty="cq",
        creator="bench",
        request_id=report_id,
        request_fingerprint="",
        create_us=0,
        report=message,
        discrepancies=[
            (int(d.tier), int(d.status), d.key, d.encode()) for d in report.discrepancies
        ],
    )
    return report


def check_statement(content: StatementContent, sql_rows: list[tuple[Any, ...]]) -> None:
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
    theirs = sorted(tuple(int(v) if isinstance(v, int) else v for v in r) for r in sql_rows)
    if ours != theirs:
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one timed run each, no warm-up of settle (< 1 minute)"
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.records
    repeats = 1 if args.quick else 5
    console = Console(stderr=False)
    with tempfile.TemporaryDirectory(prefix="bashu-bench-settle-") as tmp:
        start = time.perf_counter()
        sc_path, cq_path, injected = build(Path(tmp), n)
        setup_s = time.perf_counter() - start
        sc = make_engine(f"sqlite:///{sc_path}")
        _purpose_view(sc)
        settle_s, content, group_s, sql_rows = interleaved(
            lambda: settle(sc), lambda: group_by(sc), repeats, warm_first=not args.quick
        )
        check_statement(content, sql_rows)
        with ProcessPoolExecutor(1) as peer:
            peer.submit(int).result()  # the peer process is up before timing starts
            reconcile_s, report = timed(lambda: reconcile_path(sc, cq_path, peer), repeats - 1)
        found = check_report(report, injected)
        ours_n = report.record_counts.total - report.record_counts.theirs_only
        sc.dispose()

    result = {
        "records": n,
        "backend": "sqlite",
        "quick": bool(args.quick),
        "setup_s": round(setup_s, 3),
        "settle_s": round(settle_s, 3),
        "group_by_s": round(group_s, 3),
        "settle_ratio": round(settle_s / group_s, 3),
        "statement_lines": len(content.lines),
        "reconcile_s": round(reconcile_s, 3),
        "reconcile_records_per_s": round(ours_n / reconcile_s),
        "reconcile_ratio_vs_group_by": round(reconcile_s / group_s, 3),
        "differences_injected": sum(len(v) for v in injected.values()),
        "differences_found": found,
    }
    table = Table(title=f"Settlement of {n:,} stored usage records (SQLite, best of {repeats})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("compared with", justify="right")
    table.add_row(
        "settle: read node tables + statement",
        f"{settle_s:.2f} s",
        f"GROUP BY {group_s:.2f} s → ×{settle_s / group_s:.2f} (target ≤ 3)",
    )
    table.add_row("statement lines / net", f"{len(content.lines)}", f"net {content.net_fen:,} fen")
    table.add_row(
        "reconcile: read both, Arrow export, compare, store",
        f"{reconcile_s:.2f} s",
        f"{ours_n / reconcile_s:,.0f} records/s",
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
