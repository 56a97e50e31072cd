"""Usage records as settlement reads them: one frozen record, or a validated Arrow table.

A *usage record* is one metered use of data (``bashu.access.v1.UsageRecord``, or
the consumer's ``ConsumptionRecorded`` citing it): who provided and who used it,
product, tariff version, purpose class, event time, quantities and the amount in
fen already rounded half-up for that one record. Settlement works on many of them at
once, so the working form is a :class:`UsageTable`, an Arrow table checked on
construction (columns, types, no nulls where a value is required, non-negative
amounts and quantities, region ids, the rounding rule when the exact amount is
known)::

    table = UsageTable.from_records([UsageRecord(...), ...])
    table = UsageTable.from_cursor(sqlite_cursor)        # column names = field names
    table.num_rows, table.table                          # the pyarrow.Table

Columns (``*`` = optional; an absent optional column means the default):

============== ======================== ==============================================
record_id *    string                   "{consumer party}/{request_id}"
entry_index    int64                    the entry's index in its ledger (see below)
leaf_hash      fixed_size_binary(32)    the entry's RFC 9162 leaf hash
provider_region string                  is owed
consumer_region string                  owes
product        string                   product resource name
tariff         string                   tariff version ("" when unpriced)
purpose_class  int32                    :class:`~services.settlement.model.PurposeClass`
event_time     timestamp[us, UTC]       when the use happened (decides the period)
calls, rows, bytes  int64               quantities
amount_fen     int64                    rounded amount of this record
exact_fen *    decimal128(38, 12)       unrounded amount, when the rater reports it
late *         bool                     counted here after its own period closed
licence *      string                   licence resource name (provider reports)
============== ======================== ==============================================

Which ledger ``entry_index``/``leaf_hash`` point into depends on the use: for a
statement they are the PROVIDER's ``UsageRecorded`` entry (a consumer node takes
them from ``ConsumptionRecorded.provider_entry``), so both regions name the same
entries; for reconciliation they are the exporting region's own entry.

What this module does NOT do: no I/O of its own (``from_cursor`` only drains a
cursor it is handed), no period assignment (:mod:`~services.settlement.periods`),
no aggregation (:mod:`~services.settlement.statement`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from services.settlement.clock import utc
from services.settlement.errors import SettlementValueError
from services.settlement.model import (
    HASH_SIZE,
    EntryRef,
    PurposeClass,
    Quantity,
    check_region,
    check_text,
    log_origin,
)
from services.settlement.money import check_fen, round_half_up

__all__ = [
    "EXACT_TYPE",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEMA",
    "Cursor",
    "UsageRecord",
    "UsageTable",
    "safe_sum_type",
]

EXACT_TYPE = pa.decimal128(38, 12)
TIME_TYPE = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("entry_index", pa.int64()),
        ("leaf_hash", pa.binary(HASH_SIZE)),
        ("provider_region", pa.string()),
        ("consumer_region", pa.string()),
        ("product", pa.string()),
        ("tariff", pa.string()),
        ("purpose_class", pa.int32()),
        ("event_time", TIME_TYPE),
        ("calls", pa.int64()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("amount_fen", pa.int64()),
        ("exact_fen", EXACT_TYPE),
        ("late", pa.bool_()),
        ("licence", pa.string()),
    ]
)
REQUIRED_COLUMNS = (
    "entry_index",
    "leaf_hash",
    "provider_region",
    "consumer_region",
    "product",
    "tariff",
    "purpose_class",
    "event_time",
    "calls",
    "rows",
    "bytes",
    "amount_fen",
)
OPTIONAL_COLUMNS = ("record_id", "exact_fen", "late", "licence")
_NON_NEGATIVE = ("entry_index", "calls", "rows", "bytes", "amount_fen")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class UsageRecord:
    """One usage record (one row of a :class:`UsageTable`)."""

    record_id: str
    entry: EntryRef
    provider_region: str
    consumer_region: str
    product: str
    tariff: str
    purpose_class: PurposeClass
    event_time: datetime
    quantity: Quantity
    amount_fen: int
    exact_fen: Decimal | None = None
    late: bool = False
    licence: str = ""

    def __post_init__(self) -> None:
        check_text(self.record_id, "record_id")
        check_region(self.provider_region, "provider_region")
        check_region(self.consumer_region, "consumer_region")
        if self.provider_region == self.consumer_region:
            raise SettlementValueError("consumer_region", "must differ from provider_region")
        check_text(self.product, "product")
        check_text(self.tariff, "tariff", empty=True)
        object.__setattr__(self, "purpose_class", _purpose(self.purpose_class))
        object.__setattr__(self, "event_time", utc(self.event_time, "event_time"))
        self.quantity.check_non_negative()
        check_fen(self.amount_fen, "amount_fen")
        if self.exact_fen is not None and round_half_up(self.exact_fen) != self.amount_fen:
            raise SettlementValueError(
                "amount_fen", f"{self.amount_fen} is not {self.exact_fen} rounded half-up"
            )
        check_text(self.licence, "licence", empty=True)

    def row(self) -> dict[str, Any]:
        """The record as a table row (column name → value)."""
        return {
            "record_id": self.record_id,
            "entry_index": self.entry.index,
            "leaf_hash": self.entry.leaf_hash,
            "provider_region": self.provider_region,
            "consumer_region": self.consumer_region,
            "product": self.product,
            "tariff": self.tariff,
            "purpose_class": int(self.purpose_class),
            "event_time": self.event_time,
            "calls": self.quantity.calls,
            "rows": self.quantity.rows,
            "bytes": self.quantity.bytes,
            "amount_fen": self.amount_fen,
            "exact_fen": self.exact_fen,
            "late": self.late,
            "licence": self.licence,
        }


def _purpose(value: object) -> PurposeClass:
    try:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(value)
        purpose = PurposeClass(value)
    except (ValueError, TypeError):
        raise SettlementValueError("purpose_class", f"unknown purpose class {value!r}") from None
    if purpose is PurposeClass.UNSPECIFIED:
        raise SettlementValueError("purpose_class", "must be set")
    return purpose


class Cursor(Protocol):
    """The part of a DB-API 2.0 cursor :meth:`UsageTable.from_cursor` uses."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def fetchmany(self, size: int = ...) -> Sequence[Sequence[Any]]: ...


def safe_sum_type(column: pa.ChunkedArray | pa.Array) -> pa.DataType:
    """int64 when summing ``column`` (non-negative int64) cannot overflow, else an
    exact decimal: Arrow's int64 sums wrap silently, money must not."""
    if len(column) == 0:
        return pa.int64()
    top = pc.max(pc.abs(column)).as_py() or 0
    return pa.int64() if top * len(column) <= _INT64_MAX else pa.decimal128(38, 0)


@dataclass(frozen=True)
class UsageTable:
    """A validated Arrow table of usage records (see the module docstring)."""

    table: pa.Table
    _checked: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._checked:
            object.__setattr__(self, "table", _validate(self.table))
            object.__setattr__(self, "_checked", True)

    # --- construction ----------------------------------------------------------------

    @classmethod
    def from_records(cls, records: Iterable[UsageRecord]) -> UsageTable:
        """A table of ``records`` (every optional column present)."""
        rows = [r.row() for r in records]
        return cls(pa.Table.from_pylist(rows, schema=SCHEMA))

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> UsageTable:
        """A table from column name → sequence or Arrow array (types coerced)."""
        return cls(_coerce(dict(columns)))

    @classmethod
    def from_rows(
        cls, names: Sequence[str], rows: Iterable[Sequence[Any]], *, chunk_rows: int = 100_000
    ) -> UsageTable:
        """A table from row tuples whose values are in ``names`` order.

        ``event_time`` may be aware datetimes or integer microseconds since the
        epoch (UTC); ``exact_fen`` decimal strings or ``Decimal``; ``late`` 0/1.
        """
        chunks: list[pa.Table] = []
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk_rows:
                chunks.append(_transpose(names, batch))
                batch = []
        if batch or not chunks:
            chunks.append(_transpose(names, batch))
        return cls(pa.concat_tables(chunks))

    @classmethod
    def from_cursor(cls, cursor: Cursor, *, chunk_rows: int = 100_000) -> UsageTable:
        """Drain a DB-API cursor whose column names are this module's column names."""
        if cursor.description is None:
            raise SettlementValueError("cursor", "has no result set")
        names = [str(d[0]) for d in cursor.description]
        chunks: list[pa.Table] = []
        # Each fetched row is a fresh tuple, and a million tuples set off the cyclic
        # garbage collector again and again although rows of plain values hold no
        # cycles; pausing it while draining saves about a fifth of the read time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            while True:
                rows = cursor.fetchmany(chunk_rows)
                if not rows:
                    break
                chunks.append(_transpose(names, rows))
        finally:
            if collecting:
                gc.enable()
        if not chunks:
            chunks.append(_transpose(names, []))
        return cls(pa.concat_tables(chunks))

    # --- access ----------------------------------------------------------------------

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def has(self, column: str) -> bool:
        return column in self.table.column_names

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    def filter(self, mask: pa.ChunkedArray | pa.Array) -> UsageTable:
        """The rows where ``mask`` is true (already valid: no re-check)."""
        return UsageTable(self.table.filter(mask), _checked=True)

    def in_ledger_order(self) -> UsageTable:
        """Rows sorted by entry index (stable), i.e. in ledger order per log."""
        idx = self.table.column("entry_index")
        if (
            self.num_rows < 2
            or pc.all(pc.greater_equal(idx.slice(1), idx.slice(0, self.num_rows - 1))).as_py()
        ):
            return self
        order = pc.sort_indices(self.table, sort_keys=[("entry_index", "ascending")])
        return UsageTable(self.table.take(order), _checked=True)

    def records(self, origin_region: str | None = None) -> Iterator[UsageRecord]:
        """The rows as :class:`UsageRecord` (for small tables: tracing, tests).

        Entries are placed in ``origin_region``'s ledger, or the provider's by default.
        """
        for row in self.table.to_pylist():
            region = origin_region or row["provider_region"]
            yield UsageRecord(
                record_id=row.get("record_id") or f"#{row['entry_index']}",
                entry=EntryRef(log_origin(region), row["entry_index"], row["leaf_hash"]),
                provider_region=row["provider_region"],
                consumer_region=row["consumer_region"],
                product=row["product"],
                tariff=row["tariff"],
                purpose_class=PurposeClass(row["purpose_class"]),
                event_time=row["event_time"],
                quantity=Quantity(row["calls"], row["rows"], row["bytes"]),
                amount_fen=row["amount_fen"],
                exact_fen=_normal(row.get("exact_fen")),
                late=bool(row.get("late") or False),
                licence=row.get("licence") or "",
            )


def _normal(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


# Row values as storage hands them over: event time as integer microseconds, exact
# amounts as decimal strings, flags as 0/1. Rows in this shape are transposed by
# Arrow itself (a struct array built from the tuples), twice as fast as zip(*rows).
_RAW_TYPES = {
    f.name: {"event_time": pa.int64(), "exact_fen": pa.string(), "late": pa.int64()}.get(
        f.name, f.type
    )
    for f in SCHEMA
}


def _transpose(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    if rows and all(name in _RAW_TYPES for name in names):
        raw = pa.struct([(name, _RAW_TYPES[name]) for name in names])
        try:
            fields = pa.array(rows, type=raw).flatten()
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass  # datetimes, Decimals, bools...: the general path below
        else:
            return _coerce(dict(zip(names, fields, strict=True)))
    columns: dict[str, Any] = {name: [] for name in names}
    if rows:
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            columns[name] = values
    return _coerce(columns)


def _coerce(columns: dict[str, Any]) -> pa.Table:
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name, values in columns.items():
        if name not in SCHEMA.names:
            continue  # extra columns of a storage row are ignored
        target = SCHEMA.field(name).type
        try:
            arrays[name] = _to_arrow(name, values, target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
            raise SettlementValueError(name, f"cannot be read as {target}: {exc}") from None
    return pa.table(arrays)


def _to_arrow(name: str, values: Any, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values
    elif name == "exact_fen":
        array = pa.array([None if v is None else str(v) for v in values], pa.string())
    elif name == "event_time":
        values = list(values)
        if values and isinstance(values[0], int):
            array = pa.array(values, pa.int64())
        else:
            array = pa.array([None if v is None else utc(v, "event_time") for v in values])
    elif name == "late":
        array = pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    else:
        array = pa.array(values, target)
    if name == "event_time" and pa.types.is_timestamp(array.type) and array.type.tz is None:
        raise SettlementValueError("event_time", "timestamps must carry a time zone")
    if name == "event_time" and pa.types.is_integer(array.type):
        array = pc.cast(array, pa.int64())
    if array.type == pa.dictionary(pa.int32(), pa.string()):
        array = pc.cast(array, pa.string())
    return pc.cast(array, target) if array.type != target else array


def _validate(table: pa.Table) -> pa.Table:
    if not isinstance(table, pa.Table):
        raise SettlementValueError("table", "must be a pyarrow.Table")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise SettlementValueError("table", f"missing columns {missing}")
    table = _coerce({name: table.column(name) for name in table.column_names})
    if "exact_fen" in table.column_names and table.column("exact_fen").null_count == len(table):
        table = table.drop_columns(["exact_fen"])
    for name in REQUIRED_COLUMNS:
        if table.column(name).null_count:
            raise SettlementValueError(name, "must not be null")
    if table.num_rows == 0:
        return table
    for name in _NON_NEGATIVE:
        if pc.min(table.column(name)).as_py() < 0:
            raise SettlementValueError(name, "must not be negative")
    purposes = pc.unique(table.column("purpose_class")).to_pylist()
    for value in purposes:
        _purpose(value)
    regions: set[str] = set()
    for name in ("provider_region", "consumer_region"):
        regions.update(pc.unique(table.column(name)).to_pylist())
    for region in regions:
        check_region(region, "region")
    same = pc.equal(table.column("provider_region"), table.column("consumer_region"))
    if pc.any(same).as_py():
        raise SettlementValueError("consumer_region", "must differ from provider_region")
    if pc.min(pc.utf8_length(table.column("product"))).as_py() == 0:
        raise SettlementValueError("product", "must not be empty")
    if "record_id" in table.column_names:
        ids = table.column("record_id")
        if ids.null_count or pc.min(pc.utf8_length(ids)).as_py() == 0:
            raise SettlementValueError("record_id", "must not be empty")
    if "exact_fen" in table.column_names:
        exact = table.column("exact_fen")
        rounded = pc.cast(pc.round(exact, 0, round_mode="half_towards_infinity"), pa.int64())
        wrong = pc.fill_null(pc.not_equal(rounded, table.column("amount_fen")), False)
        if pc.any(wrong).as_py():
            first = pc.index(wrong, True).as_py()
            raise SettlementValueError(
                "amount_fen",
                f"row {first}: amount is not its exact amount rounded half-up "
                f"({exact[first].as_py()} → {table.column('amount_fen')[first].as_py()})",
            )
    return table
