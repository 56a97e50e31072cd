"""Reconciliation: compare this region's records of a period with a counterparty's.

Both regions hold every cross-region use: the provider its ``UsageRecorded`` entry,
the consumer its ``ConsumptionRecorded`` entry citing it. Reconciliation compares
the two ledgers' records for one period in three tiers
(``bashu.settlement.v1.ReconciliationTier``):

1. **statement totals** per direction (``"sc>cq"``): record count, quantities, amount;
2. **product-day** totals (``"{product}/{YYYY-MM-DD}"``, UTC day);
3. **record by record**, keyed by usage record id (``"{consumer party}/{request_id}"``).

Every record ends as exactly one of MATCHED, WITHIN_TOLERANCE, MISMATCHED,
OURS_ONLY or THEIRS_ONLY (``MatchStatus``). A record id present k times on one side
and m times on the other is paired by occurrence (in ledger order), so a duplicated
record shows up as one extra OURS_ONLY/THEIRS_ONLY item marked ``duplicate``::

    report = reconcile(RecordSet("sc", ours), RecordSet("cq", theirs),
                       period="2026-11", tolerance=Tolerance(amount_fen=1))
    report.record_counts.mismatched, report.discrepancies[0].differing_fields
    report.digest                      # pins the whole report (a ledger entry later)

Tolerances (an agreement setting, :class:`Tolerance`) apply per record: a record
whose product, tariff, purpose, regions and calls agree and whose amount, rows,
bytes and event time differ by no more than the tolerances is WITHIN_TOLERANCE.
The amount tolerance is the larger of an absolute number of fen and a fraction of
the larger amount. At the bucket tiers a bucket with equal record counts is within
tolerance when its differences are within n × the per-record tolerances.

Scope. :attr:`RecordScope.ALL` (the default) compares every record, so it finds
every difference, including ones that cancel inside a bucket.
:attr:`RecordScope.DIFFERING_BUCKETS` compares records only in buckets that did not
match at tier 2 (what ``FederationService.ExportPeriodRecords`` with bucket filters
ships); records of matching buckets count as matched, as the API says. Buckets whose
totals match by coincidence while their records differ are then not examined:
use it only when shipping every record is too expensive.

Speed: the record tier is Arrow all the way (a hash aggregate for duplicates, one
``Table.join`` on (id, occurrence), vectorised comparisons); Python only touches the
discrepancies. A million records per side reconcile in a few seconds.

Digest. Each discrepancy is encoded as ``bashu.settlement.v1.Discrepancy``;
``discrepancies_digest`` is SHA-256 over them, each varint-length-prefixed, in
(tier, key) order; :attr:`ReconciliationReport.digest` is SHA-256 of the report's
``ReconciliationReport`` encoding (counts, tiers, tolerance, that digest).

What this module does NOT do: fetch the counterparty's records (the node uses
``GetPeriodSummary`` / ``ExportPeriodRecords``), append the report, or decide what
to do about a difference (a dispute or an adjustment does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum, IntEnum
from fractions import Fraction
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from services.settlement.clock import from_micros
from services.settlement.errors import SettlementValueError
from services.settlement.model import EntryRef, Quantity, check_region, log_origin
from services.settlement.money import CURRENCY
from services.settlement.usage import UsageTable, safe_sum_type
from services.settlement.wire import (
    ProtoWriter,
    encode_entry_ref,
    encode_money,
    encode_quantity,
    length_prefixed,
)

__all__ = [
    "Bucket",
    "DirectionSummary",
    "Discrepancy",
    "MatchCounts",
    "MatchStatus",
    "PeriodSummary",
    "ReconciliationReport",
    "RecordScope",
    "RecordSet",
    "Tier",
    "TierResult",
    "Tolerance",
    "reconcile",
    "summarize",
]

_COMPARED_TEXT = ("provider_region", "consumer_region", "product", "tariff", "purpose_class")
_BUCKET_KEYS = ("provider_region", "consumer_region", "product", "day")
# Compared column → the name a discrepancy reports ("differing_fields").
_FIELD_LABELS = {
    "provider_region": "provider_region",
    "consumer_region": "consumer_region",
    "product": "product",
    "tariff": "tariff",
    "purpose_class": "purpose",
    "event_time": "time",
    "calls": "calls",
    "rows": "rows",
    "bytes": "bytes",
    "amount_fen": "amount",
}


class Tier(IntEnum):
    """``bashu.settlement.v1.ReconciliationTier``."""

    STATEMENT_TOTALS = 1
    PRODUCT_DAY = 2
    RECORD = 3


class MatchStatus(IntEnum):
    """``bashu.settlement.v1.MatchStatus``."""

    MATCHED = 1
    WITHIN_TOLERANCE = 2
    MISMATCHED = 3
    OURS_ONLY = 4
    THEIRS_ONLY = 5


class RecordScope(Enum):
    ALL = "all"
    DIFFERING_BUCKETS = "differing_buckets"


@dataclass(frozen=True)
class Tolerance:
    """Per-record tolerances agreed between two regions (all zero: exact)."""

    amount_fen: int = 0
    amount_relative: Decimal = Decimal(0)
    rows: int = 0
    bytes: int = 0
    time_skew: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if min(self.amount_fen, self.rows, self.bytes) < 0:
            raise SettlementValueError("tolerance", "must not be negative")
        if not (self.amount_relative.is_finite() and 0 <= self.amount_relative < 1):
            raise SettlementValueError("tolerance.amount_relative", "a fraction in [0, 1)")
        if self.time_skew < timedelta(0):
            raise SettlementValueError("tolerance.time_skew", "must not be negative")

    @property
    def time_skew_us(self) -> int:
        return self.time_skew // timedelta(microseconds=1)

    def amount_allowed(self, ours: int, theirs: int, n: int = 1) -> int:
        """The largest amount difference still within tolerance for ``n`` records."""
        rel = Fraction(self.amount_relative) * max(abs(ours), abs(theirs))
        return max(self.amount_fen * n, int(rel))


@dataclass(frozen=True)
class MatchCounts:
    """Compared items by outcome."""

    matched: int = 0
    within_tolerance: int = 0
    mismatched: int = 0
    ours_only: int = 0
    theirs_only: int = 0

    @property
    def total(self) -> int:
        return (
            self.matched
            + self.within_tolerance
            + self.mismatched
            + self.ours_only
            + self.theirs_only
        )

    @property
    def differences(self) -> int:
        return self.total - self.matched

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(
            self.matched + other.matched,
            self.within_tolerance + other.within_tolerance,
            self.mismatched + other.mismatched,
            self.ours_only + other.ours_only,
            self.theirs_only + other.theirs_only,
        )

    @classmethod
    def of(cls, statuses: Sequence[MatchStatus]) -> MatchCounts:
        counts = dict.fromkeys(MatchStatus, 0)
        for s in statuses:
            counts[s] += 1
        return cls(
            counts[MatchStatus.MATCHED],
            counts[MatchStatus.WITHIN_TOLERANCE],
            counts[MatchStatus.MISMATCHED],
            counts[MatchStatus.OURS_ONLY],
            counts[MatchStatus.THEIRS_ONLY],
        )

    def encode(self) -> bytes:
        w = ProtoWriter().int64(1, self.matched).int64(2, self.within_tolerance)
        w.int64(3, self.mismatched).int64(4, self.ours_only).int64(5, self.theirs_only)
        return w.finish()


@dataclass(frozen=True)
class TierResult:
    tier: Tier
    counts: MatchCounts

    @property
    def passed(self) -> bool:
        """Every item matched or is within tolerance."""
        c = self.counts
        return c.mismatched == c.ours_only == c.theirs_only == 0

    def encode(self) -> bytes:
        w = ProtoWriter().int64(1, int(self.tier)).message(2, self.counts.encode())
        return w.boolean(3, self.passed).finish()


@dataclass(frozen=True)
class Discrepancy:
    """One item that did not match (``bashu.settlement.v1.Discrepancy``), with both
    sides' values. ``details`` (field, ours, theirs) shows the differing values of
    fields that are not quantities or amounts; it is for people and not part of the
    digest (the entries cited pin those values)."""

    tier: Tier
    key: str
    status: MatchStatus
    differing_fields: tuple[str, ...] = ()
    product: str = ""
    our_record_count: int = 0
    their_record_count: int = 0
    our_quantity: Quantity | None = None
    their_quantity: Quantity | None = None
    our_amount_fen: int | None = None
    their_amount_fen: int | None = None
    our_entry: EntryRef | None = None
    their_entry: EntryRef | None = None
    details: tuple[tuple[str, str, str], ...] = ()

    @property
    def sort_key(self) -> tuple[int, str, int, int, int]:
        return (
            int(self.tier),
            self.key,
            int(self.status),
            -1 if self.our_entry is None else self.our_entry.index,
            -1 if self.their_entry is None else self.their_entry.index,
        )

    def encode(self, currency: str = CURRENCY) -> bytes:
        w = ProtoWriter().int64(1, int(self.tier)).string(2, self.key)
        w.int64(3, int(self.status)).strings(4, self.differing_fields).string(5, self.product)
        w.int64(6, self.our_record_count).int64(7, self.their_record_count)
        w.message(8, None if self.our_quantity is None else encode_quantity(self.our_quantity))
        w.message(9, None if self.their_quantity is None else encode_quantity(self.their_quantity))
        w.message(
            10, None if self.our_amount_fen is None else encode_money(self.our_amount_fen, currency)
        )
        w.message(
            11,
            None
            if self.their_amount_fen is None
            else encode_money(self.their_amount_fen, currency),
        )
        w.message(12, None if self.our_entry is None else encode_entry_ref(self.our_entry))
        w.message(13, None if self.their_entry is None else encode_entry_ref(self.their_entry))
        return w.finish()


@dataclass(frozen=True)
class RecordSet:
    """One region's records of the period (with ``record_id``); entries are in
    ``region``'s own ledger."""

    region: str
    usage: UsageTable

    def __post_init__(self) -> None:
        check_region(self.region)
        if not self.usage.has("record_id"):
            raise SettlementValueError("record_id", "reconciliation needs record ids")

    @property
    def origin(self) -> str:
        return log_origin(self.region)


@dataclass(frozen=True)
class DirectionSummary:
    provider_region: str
    consumer_region: str
    record_count: int
    quantity: Quantity
    amount_fen: int

    @property
    def key(self) -> str:
        return f"{self.provider_region}>{self.consumer_region}"


@dataclass(frozen=True)
class Bucket:
    """Totals of one (direction, product, UTC day) (``SettlementBucket``)."""

    provider_region: str
    consumer_region: str
    product: str
    day: date
    record_count: int
    quantity: Quantity
    amount_fen: int

    @property
    def ident(self) -> tuple[str, str, str, date]:
        return (self.provider_region, self.consumer_region, self.product, self.day)

    @property
    def key(self) -> str:
        return f"{self.product}/{self.day.isoformat()}"


@dataclass(frozen=True)
class PeriodSummary:
    """Tiers 1 and 2 of one side (``GetPeriodSummaryResponse`` totals and buckets)."""

    totals: tuple[DirectionSummary, ...]
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True)
class ReconciliationReport:
    """The outcome of one reconciliation."""

    region: str
    counterparty: str
    period: str
    tolerance: Tolerance
    scope: RecordScope
    tiers: tuple[TierResult, ...]
    record_counts: MatchCounts
    discrepancies: tuple[Discrepancy, ...]
    currency: str = CURRENCY

    @property
    def discrepancy_count(self) -> int:
        return len(self.discrepancies)

    @cached_property
    def discrepancies_digest(self) -> bytes:
        body = length_prefixed(d.encode(self.currency) for d in self.discrepancies)
        return hashlib.sha256(body).digest()

    @cached_property
    def body(self) -> bytes:
        """``bashu.settlement.v1.ReconciliationReport`` with the fields both the
        content and the ledger entry need (no name, creator, times or checkpoints)."""
        w = ProtoWriter().string(2, self.counterparty)
        w.string(3, f"regions/{self.region}/periods/{self.period}")
        w.message(4, _encode_tolerance(self.tolerance))
        w.messages(5, (t.encode() for t in self.tiers))
        w.message(6, self.record_counts.encode())
        w.int64(7, self.discrepancy_count).blob(8, self.discrepancies_digest)
        return w.finish()

    @cached_property
    def digest(self) -> bytes:
        return hashlib.sha256(self.body).digest()

    @property
    def clean(self) -> bool:
        """No discrepancy beyond tolerance at any tier."""
        return all(t.passed for t in self.tiers)

    def tier(self, tier: Tier) -> TierResult | None:
        return next((t for t in self.tiers if t.tier is tier), None)


def _encode_tolerance(tol: Tolerance) -> bytes:
    """``bashu.settlement.v1.Tolerance``; the relative amount tolerance has no field
    there yet, so it is not pinned by the digest."""
    skew_s, skew_us = divmod(tol.time_skew_us, 1_000_000)
    duration = ProtoWriter().int64(1, skew_s).int64(2, skew_us * 1000).finish()
    w = ProtoWriter().int64(1, tol.amount_fen).int64(2, tol.rows).int64(3, tol.bytes)
    return w.message(4, duration).finish()


# --- tiers 1 and 2 ------------------------------------------------------------------


def _with_day(t: pa.Table) -> pa.Table:
    return t.append_column("day", pc.cast(t.column("event_time"), pa.date32()))


def summarize(usage: UsageTable) -> PeriodSummary:
    """Per-direction and per-(direction, product, UTC day) totals of ``usage``."""
    t = _with_day(usage.table)
    cols: dict[str, Any] = {k: t.column(k) for k in _BUCKET_KEYS}
    for name in ("calls", "rows", "bytes", "amount_fen"):
        cols[name] = pc.cast(t.column(name), safe_sum_type(t.column(name)))
    aggs = [("amount_fen", "count")] + [
        (n, "sum") for n in ("calls", "rows", "bytes", "amount_fen")
    ]
    grouped = pa.table(cols).group_by(list(_BUCKET_KEYS)).aggregate(aggs).to_pylist()
    buckets = sorted(
        (
            Bucket(
                r["provider_region"],
                r["consumer_region"],
                r["product"],
                r["day"],
                r["amount_fen_count"],
                Quantity(int(r["calls_sum"]), int(r["rows_sum"]), int(r["bytes_sum"])),
                int(r["amount_fen_sum"]),
            )
            for r in grouped
        ),
        key=lambda b: b.ident,
    )
    totals: dict[tuple[str, str], list[Any]] = {}
    for b in buckets:
        acc = totals.setdefault((b.provider_region, b.consumer_region), [0, Quantity(), 0])
        acc[0] += b.record_count
        acc[1] = acc[1] + b.quantity
        acc[2] += b.amount_fen
    return PeriodSummary(
        tuple(DirectionSummary(p, c, n, q, a) for (p, c), (n, q, a) in sorted(totals.items())),
        tuple(buckets),
    )


def _compare_totals(
    ours: DirectionSummary | Bucket | None,
    theirs: DirectionSummary | Bucket | None,
    tol: Tolerance,
) -> tuple[MatchStatus, tuple[str, ...]]:
    if theirs is None:
        return MatchStatus.OURS_ONLY, ()
    if ours is None:
        return MatchStatus.THEIRS_ONLY, ()
    diffs = []
    if ours.record_count != theirs.record_count:
        diffs.append("record_count")
    for name in ("calls", "rows", "bytes"):
        if getattr(ours.quantity, name) != getattr(theirs.quantity, name):
            diffs.append(name)
    if ours.amount_fen != theirs.amount_fen:
        diffs.append("amount")
    if not diffs:
        return MatchStatus.MATCHED, ()
    n = ours.record_count
    within = (
        "record_count" not in diffs
        and "calls" not in diffs
        and abs(ours.quantity.rows - theirs.quantity.rows) <= tol.rows * n
        and abs(ours.quantity.bytes - theirs.quantity.bytes) <= tol.bytes * n
        and abs(ours.amount_fen - theirs.amount_fen)
        <= tol.amount_allowed(ours.amount_fen, theirs.amount_fen, n)
    )
    return (MatchStatus.WITHIN_TOLERANCE if within else MatchStatus.MISMATCHED), tuple(diffs)


def _summary_discrepancy(
    tier: Tier,
    key: str,
    ours: DirectionSummary | Bucket | None,
    theirs: DirectionSummary | Bucket | None,
    status: MatchStatus,
    fields: tuple[str, ...],
) -> Discrepancy:
    either = ours if ours is not None else theirs
    product = either.product if isinstance(either, Bucket) else ""
    return Discrepancy(
        tier=tier,
        key=key,
        status=status,
        differing_fields=fields,
        product=product,
        our_record_count=0 if ours is None else ours.record_count,
        their_record_count=0 if theirs is None else theirs.record_count,
        our_quantity=None if ours is None else ours.quantity,
        their_quantity=None if theirs is None else theirs.quantity,
        our_amount_fen=None if ours is None else ours.amount_fen,
        their_amount_fen=None if theirs is None else theirs.amount_fen,
    )


# --- tier 3 -------------------------------------------------------------------------

_SIDE_COLUMNS = (
    *_COMPARED_TEXT,
    "event_time",
    "calls",
    "rows",
    "bytes",
    "amount_fen",
    "entry_index",
    "leaf_hash",
)


def _zeros(n: int) -> pa.Array:
    return pa.nulls(n, pa.int32()).fill_null(0)


def _side(t: pa.Table, prefix: str) -> pa.Table:
    """``record_id``, ``occ`` (occurrence of the id in ledger order) and the compared
    columns renamed ``{prefix}{name}``."""
    ids = t.column("record_id")
    counts = t.group_by("record_id").aggregate([("record_id", "count")])
    dup_ids = counts.filter(pc.greater(counts.column("record_id_count"), 1)).column("record_id")
    cols = {f"{prefix}{n}": t.column(n) for n in _SIDE_COLUMNS}
    cols[f"{prefix}event_time"] = pc.cast(t.column("event_time"), pa.int64())
    base = pa.table({"record_id": ids, **cols})
    if len(dup_ids) == 0:
        return base.append_column("occ", _zeros(base.num_rows))
    mask = pc.is_in(ids, value_set=dup_ids)
    single = base.filter(pc.invert(mask))
    single = single.append_column("occ", _zeros(single.num_rows))
    dups = base.filter(mask).sort_by(
        [("record_id", "ascending"), (f"{prefix}entry_index", "ascending")]
    )
    occ: list[int] = []
    previous = None
    for rid in dups.column("record_id").to_pylist():
        occ.append(occ[-1] + 1 if rid == previous else 0)
        previous = rid
    dups = dups.append_column("occ", pa.array(occ, pa.int32()))
    return pa.concat_tables([single, dups])


def _records(
    ours: pa.Table, theirs: pa.Table, tol: Tolerance, our_origin: str, their_origin: str
) -> tuple[MatchCounts, list[Discrepancy]]:
    j = _side(ours, "o_").join(
        _side(theirs, "t_"), keys=["record_id", "occ"], join_type="full outer"
    )
    if j.num_rows == 0:
        return MatchCounts(), []
    o_here = pc.is_valid(j.column("o_entry_index"))
    t_here = pc.is_valid(j.column("t_entry_index"))
    both = pc.and_(o_here, t_here)

    def col(name: str, side: str) -> pa.ChunkedArray:
        return j.column(f"{side}_{name}")

    def absdiff(name: str) -> pa.ChunkedArray:
        return pc.abs_checked(pc.subtract_checked(col(name, "o"), col(name, "t")))

    same_text = None
    for name in _COMPARED_TEXT:
        eq = pc.equal(col(name, "o"), col(name, "t"))
        same_text = eq if same_text is None else pc.and_(same_text, eq)
    same_calls = pc.equal(col("calls", "o"), col("calls", "t"))
    d_amount, d_rows, d_bytes = absdiff("amount_fen"), absdiff("rows"), absdiff("bytes")
    d_time = absdiff("event_time")
    exact = pc.and_(
        pc.and_(same_text, same_calls),
        pc.and_(
            pc.and_(pc.equal(d_amount, 0), pc.equal(d_rows, 0)),
            pc.and_(pc.equal(d_bytes, 0), pc.equal(d_time, 0)),
        ),
    )
    rel = Fraction(tol.amount_relative)
    larger = pc.max_element_wise(pc.abs(col("amount_fen", "o")), pc.abs(col("amount_fen", "t")))
    rel_allowed = pc.divide(pc.multiply_checked(larger, rel.numerator), rel.denominator)
    allowed = pc.max_element_wise(rel_allowed, pa.scalar(tol.amount_fen, pa.int64()))
    within = pc.and_(
        pc.and_(pc.and_(same_text, same_calls), pc.less_equal(d_amount, allowed)),
        pc.and_(
            pc.and_(pc.less_equal(d_rows, tol.rows), pc.less_equal(d_bytes, tol.bytes)),
            pc.less_equal(d_time, tol.time_skew_us),
        ),
    )
    matched = pc.fill_null(pc.and_(both, exact), False)
    within_only = pc.fill_null(pc.and_(both, pc.and_(within, pc.invert(exact))), False)

    def count(mask: pa.ChunkedArray) -> int:
        return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)

    n_both = count(both)
    counts = MatchCounts(
        matched=count(matched),
        within_tolerance=count(within_only),
        mismatched=n_both - count(matched) - count(within_only),
        ours_only=count(pc.invert(t_here)),
        theirs_only=count(pc.invert(o_here)),
    )
    rest = j.filter(pc.invert(matched))
    within_rest = within_only.filter(pc.invert(matched))
    return counts, [
        _record_discrepancy(row, bool(w), our_origin, their_origin)
        for row, w in zip(rest.to_pylist(), within_rest.to_pylist(), strict=True)
    ]


def _record_discrepancy(
    row: dict[str, Any], within: bool, our_origin: str, their_origin: str
) -> Discrepancy:
    ours_here = row["o_entry_index"] is not None
    theirs_here = row["t_entry_index"] is not None
    fields: list[str] = []
    details: list[tuple[str, str, str]] = []
    if ours_here and theirs_here:
        status = MatchStatus.WITHIN_TOLERANCE if within else MatchStatus.MISMATCHED
        names = {"event_time": "time", "amount_fen": "amount", "purpose_class": "purpose"}
        for name in (*_COMPARED_TEXT, "event_time", "calls", "rows", "bytes", "amount_fen"):
            a, b = row[f"o_{name}"], row[f"t_{name}"]
            if a != b:
                fields.append(
                    names.get(name, name)
                    .replace("_region", "")
                    .replace("provider", "provider_region")
                    .replace("consumer", "consumer_region")
                )
                if name in _COMPARED_TEXT or name == "event_time":
                    details.append((names.get(name, name), str(a), str(b)))
    else:
        status = MatchStatus.OURS_ONLY if ours_here else MatchStatus.THEIRS_ONLY
        if row["occ"]:
            fields.append("duplicate")
    side = "o" if ours_here else "t"
    return Discrepancy(
        tier=Tier.RECORD,
        key=row["record_id"],
        status=status,
        differing_fields=tuple(fields),
        product=row[f"{side}_product"],
        our_record_count=int(ours_here),
        their_record_count=int(theirs_here),
        our_quantity=_quantity(row, "o") if ours_here else None,
        their_quantity=_quantity(row, "t") if theirs_here else None,
        our_amount_fen=row["o_amount_fen"] if ours_here else None,
        their_amount_fen=row["t_amount_fen"] if theirs_here else None,
        our_entry=EntryRef(our_origin, row["o_entry_index"], row["o_leaf_hash"])
        if ours_here
        else None,
        their_entry=EntryRef(their_origin, row["t_entry_index"], row["t_leaf_hash"])
        if theirs_here
        else None,
        details=tuple(details),
    )


def _show(name: str, value: Any) -> str:
    if name == "event_time":
        return from_micros(value).isoformat()
    return str(value)


def _quantity(row: dict[str, Any], side: str) -> Quantity:
    return Quantity(row[f"{side}_calls"], row[f"{side}_rows"], row[f"{side}_bytes"])


# --- the whole ----------------------------------------------------------------------


def reconcile(
    ours: RecordSet,
    theirs: RecordSet,
    *,
    period: str,
    tolerance: Tolerance | None = None,
    scope: RecordScope = RecordScope.ALL,
    their_summary: PeriodSummary | None = None,
    currency: str = CURRENCY,
) -> ReconciliationReport:
    """Reconcile ``ours`` with ``theirs`` for ``period``.

    With :attr:`RecordScope.DIFFERING_BUCKETS`, ``theirs`` may hold only the records
    of the buckets asked for; pass their full ``their_summary`` (from
    ``GetPeriodSummary``) for tiers 1 and 2 then.
    """
    tol = tolerance or Tolerance()
    if ours.region == theirs.region:
        raise SettlementValueError("counterparty", "cannot reconcile a region with itself")
    our_sum = summarize(ours.usage)
    their_sum = their_summary or summarize(theirs.usage)
    discrepancies: list[Discrepancy] = []
    tiers: list[TierResult] = []

    o_tot = {t.key: t for t in our_sum.totals}
    t_tot = {t.key: t for t in their_sum.totals}
    statuses = []
    for key in sorted(o_tot.keys() | t_tot.keys()):
        status, fields = _compare_totals(o_tot.get(key), t_tot.get(key), tol)
        statuses.append(status)
        if status is not MatchStatus.MATCHED:
            discrepancies.append(
                _summary_discrepancy(
                    Tier.STATEMENT_TOTALS, key, o_tot.get(key), t_tot.get(key), status, fields
                )
            )
    tiers.append(TierResult(Tier.STATEMENT_TOTALS, MatchCounts.of(statuses)))

    o_b = {b.ident: b for b in our_sum.buckets}
    t_b = {b.ident: b for b in their_sum.buckets}
    statuses = []
    differing: list[tuple[str, str, str, date]] = []
    matched_records = 0
    for ident in sorted(o_b.keys() | t_b.keys()):
        ob, tb = o_b.get(ident), t_b.get(ident)
        status, fields = _compare_totals(ob, tb, tol)
        statuses.append(status)
        if status is MatchStatus.MATCHED:
            assert ob is not None
            matched_records += ob.record_count
        else:
            differing.append(ident)
            key = ob.key if ob is not None else tb.key if tb is not None else ""
            discrepancies.append(
                _summary_discrepancy(Tier.PRODUCT_DAY, key, ob, tb, status, fields)
            )
    tiers.append(TierResult(Tier.PRODUCT_DAY, MatchCounts.of(statuses)))

    o_t, t_t = ours.usage.table, theirs.usage.table
    if scope is RecordScope.DIFFERING_BUCKETS:
        o_t, t_t = _only_buckets(o_t, differing), _only_buckets(t_t, differing)
        carried = MatchCounts(matched=matched_records)
    else:
        carried = MatchCounts()
    record_counts, record_discrepancies = _records(o_t, t_t, tol, ours.origin, theirs.origin)
    tiers.append(TierResult(Tier.RECORD, record_counts))
    discrepancies.extend(record_discrepancies)
    discrepancies.sort(key=lambda d: d.sort_key)
    return ReconciliationReport(
        region=ours.region,
        counterparty=theirs.region,
        period=period,
        tolerance=tol,
        scope=scope,
        tiers=tuple(tiers),
        record_counts=record_counts + carried,
        discrepancies=tuple(discrepancies),
        currency=currency,
    )


def _only_buckets(t: pa.Table, buckets: Sequence[tuple[str, str, str, date]]) -> pa.Table:
    if not buckets or t.num_rows == 0:
        return t.slice(0, 0)
    wanted = pa.table(
        {
            "provider_region": [b[0] for b in buckets],
            "consumer_region": [b[1] for b in buckets],
            "product": [b[2] for b in buckets],
            "day": pa.array([b[3] for b in buckets], pa.date32()),
        }
    )
    joined = _with_day(t).join(wanted, keys=list(_BUCKET_KEYS), join_type="inner")
    return joined.drop_columns(["day"])
