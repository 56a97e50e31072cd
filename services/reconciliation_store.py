"""Reconciliation storage: a region's cross-region records of a period as Arrow, and
the reports reconciliation leaves behind.

Both regions hold every cross-region use. In the provider region it is a RECORDED
``access_usage`` row (consumer region ≠ this region) with its ``UsageRecorded``
entry; in the consumer region a ``market_consumption`` row with its
``ConsumptionRecorded`` entry citing the provider's. :func:`load_records` reads both
kinds for one counterparty and period straight from the database cursor into one
Arrow table (:data:`RECORD_SCHEMA`), a million rows in about a second, without an
ORM object per row::

    span = period_span("2026-11")
    records = load_records(engine, "sc", "cq", span, tree_size=cp.size)
    usage = usage_table(records)              # services.settlement.UsageTable
    for blob in arrow_chunks(sort_records(records)):   # ExportPeriodRecords chunks
        ...

Periods are cut by event time, half-open, with the cadence of the agreement
(calendar months in UTC unless configured). ``tree_size`` limits the rows to entries
below that size of this region's ledger, so a summary and an export taken at one
checkpoint describe exactly the same records.

:class:`ReportStore` keeps reconciliation reports (their API form, with the ledger
entry) and their discrepancies, one row each, paged in the (tier, key) order the
report's digest pins.

What this module does NOT do: compare anything (``services.settlement.reconcile``),
call peers or append to the ledger (``services.reconciliation_service``).
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.settlement.v1 import settlement_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, text

from ledger.log import Log
from services.catalog import PageRequest, decode_token, encode_token
from services.errors import FieldViolation, InvalidArgumentError, NotFoundError
from services.ledger_service import checkpoint_message
from services.models import LicenceRow, ReconciliationDiscrepancyRow, ReconciliationReportRow
from services.settlement.clock import from_micros
from services.settlement.model import PurposeClass, log_origin
from services.settlement.periods import Cadence, Period, PeriodSpan, PeriodState, assign_period
from services.settlement.reconcile import Bucket, DirectionSummary, PeriodSummary, summarize
from services.settlement.usage import UsageTable

__all__ = [
    "CHUNK_RECORDS",
    "RECORD_SCHEMA",
    "PeerPeriod",
    "ReportStore",
    "StoredReport",
    "arrow_chunks",
    "bucket_key",
    "load_records",
    "only_buckets",
    "period_span",
    "period_state",
    "read_arrow_chunks",
    "record_messages",
    "records_from_messages",
    "report_id_for",
    "sort_records",
    "statement_usage",
    "summary_from_message",
    "summary_message",
    "usage_of_entry",
    "usage_table",
]

# At most this many records per ExportPeriodRecords chunk (the API's promise).
CHUNK_RECORDS = 10_000
_US = 1_000_000

RECORD_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("entry_index", pa.int64()),
        ("leaf_hash", pa.binary(32)),
        ("provider_region", pa.string()),
        ("consumer_region", pa.string()),
        ("product", pa.string()),
        ("tariff", pa.string()),
        ("purpose_class", pa.int32()),
        ("event_time", pa.int64()),  # µs since the epoch, UTC
        ("calls", pa.int64()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("amount_fen", pa.int64()),
        ("licence", pa.string()),
        ("cited_entry_index", pa.int64()),  # a consumer's record: the provider's entry
        ("cited_leaf_hash", pa.binary(32)),
    ]
)

# Provider side: this region's RECORDED usage by the counterparty's consumers. The
# tariff and purpose are the licence's; they are mapped from ``licence`` (the
# licence id here) after reading, one small lookup instead of a join per row.
_PROVIDER_SQL = (
    "SELECT consumer_party || '/' || request_id AS record_id, ledger_index AS entry_index,"
    " ledger_leaf_hash AS leaf_hash, consumer_region, product_id AS product, time_us AS"
    ' event_time, qty_calls AS calls, qty_rows AS "rows", qty_bytes AS "bytes", amount_fen,'
    " licence_id AS licence{arrival} FROM access_usage WHERE state = 'RECORDED'"
    " AND consumer_region = :counterparty AND {window} AND ledger_index IS NOT NULL"
)
# Event time in the period; or (late candidates) before it but arrived since it began.
_PROVIDER_WINDOWS = {
    "period": "time_us >= :start AND time_us < :end",
    "early": "time_us < :start AND update_us >= :start",
    "entry": "ledger_index = :index",
}
_PROVIDER_TYPES = {
    "record_id": pa.string(),
    "entry_index": pa.int64(),
    "leaf_hash": pa.binary(32),
    "consumer_region": pa.string(),
    "product": pa.string(),
    "event_time": pa.int64(),
    "calls": pa.int64(),
    "rows": pa.int64(),
    "bytes": pa.int64(),
    "amount_fen": pa.int64(),
    "licence": pa.string(),
    "arrival": pa.int64(),
}
# Consumer side: this region's consumption records of the counterparty's data.
_CONSUMER_SQL = (
    "SELECT usage_record_id AS record_id, ledger_index AS entry_index, ledger_leaf_hash AS"
    " leaf_hash, provider_region, product, tariff, purpose_class, usage_time_us AS"
    ' event_time, qty_calls AS calls, qty_rows AS "rows", qty_bytes AS "bytes", amount_fen,'
    " licence, provider_entry_index AS cited_entry_index, provider_leaf_hash AS"
    " cited_leaf_hash{arrival} FROM market_consumption WHERE provider_region = :counterparty"
    " AND {window} AND ledger_index IS NOT NULL"
)
_CONSUMER_WINDOWS = {
    "period": "usage_time_us >= :start AND usage_time_us < :end",
    "early": "usage_time_us < :start AND create_us >= :start",
    "entry": "provider_entry_index = :index",
}
_CONSUMER_TYPES = {
    "record_id": pa.string(),
    "entry_index": pa.int64(),
    "leaf_hash": pa.binary(32),
    "provider_region": pa.string(),
    "product": pa.string(),
    "tariff": pa.string(),
    "purpose_class": pa.int32(),
    "event_time": pa.int64(),
    "calls": pa.int64(),
    "rows": pa.int64(),
    "bytes": pa.int64(),
    "amount_fen": pa.int64(),
    "licence": pa.string(),
    "cited_entry_index": pa.int64(),
    "cited_leaf_hash": pa.binary(32),
    "arrival": pa.int64(),
}


# --- periods ------------------------------------------------------------------------


def period_span(period_id: str, cadence: Cadence | None = None) -> PeriodSpan:
    """The event-time range of ``period_id`` (``InvalidPeriodError`` if malformed)."""
    return (cadence or Cadence.monthly()).period(period_id)


def _span_us(span: PeriodSpan) -> tuple[int, int]:
    start = int(span.start.timestamp()) * _US + span.start.microsecond
    end = int(span.end.timestamp()) * _US + span.end.microsecond
    return start, end


def period_state(conn: Connection, span: PeriodSpan, now_us: int) -> PeriodState:
    """The period's state on this node: its row in ``settlement_periods`` when
    settlement has one, else OPEN (nothing was closed)."""
    row = conn.execute(
        text("SELECT state FROM settlement_periods WHERE period_id = :p"), {"p": span.id}
    ).first()
    if row is not None and row[0] in PeriodState.__members__:
        return PeriodState[row[0]]
    return PeriodState.OPEN


# --- reading records ----------------------------------------------------------------


def _fetch(
    conn: Connection, sql: str, params: dict[str, Any], types: dict[str, pa.DataType]
) -> pa.Table:
    """Drain one query into Arrow: rows of plain values become a struct array in one
    call (Arrow transposes them), no Python object per value beyond the driver's."""
    result = conn.execute(text(sql), params)
    cursor = result.cursor
    assert cursor is not None
    assert cursor.description is not None
    names = [str(d[0]) for d in cursor.description]
    struct = pa.struct([(n, types[n]) for n in names])
    chunks: list[pa.Array] = []
    collecting = gc.isenabled()
    gc.disable()  # a million fresh tuples would trigger the cyclic collector again and again
    try:
        while True:
            rows = cursor.fetchmany(100_000)
            if not rows:
                break
            chunks.append(pa.array(rows, type=struct))
    finally:
        if collecting:
            gc.enable()
        result.close()
    if not chunks:
        return pa.table({n: pa.array([], types[n]) for n in names})
    arrays = pa.chunked_array(chunks, type=struct)
    return pa.table(
        {n: pa.chunked_array([c.field(i) for c in arrays.chunks]) for i, n in enumerate(names)}
    )


@dataclass(frozen=True)
class _LicenceFacts:
    name: str
    tariff: str
    purpose_class: int


def _licences(conn: Connection, region: str, ids: Sequence[str]) -> dict[str, _LicenceFacts]:
    out: dict[str, _LicenceFacts] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        rows = conn.execute(
            select(
                LicenceRow.id, LicenceRow.product_id, LicenceRow.tariff_version, LicenceRow.terms
            ).where(LicenceRow.id.in_(part))
        )
        for lid, product_id, tariff_version, terms in rows:
            purpose = json.loads(terms).get("purpose", {}).get("purpose_class", "UNSPECIFIED")
            out[lid] = _LicenceFacts(
                name=f"regions/{region}/licences/{lid}",
                tariff=(
                    f"regions/{region}/products/{product_id}/tariffs/{tariff_version}"
                    if tariff_version
                    else ""
                ),
                purpose_class=int(PurposeClass[purpose])
                if purpose in PurposeClass.__members__
                else 0,
            )
    return out


def _sql(template: str, window: str, arrival: str | None, params: dict[str, Any]) -> str:
    sql = template.format(window=window, arrival=f", {arrival} AS arrival" if arrival else "")
    return sql + (" AND ledger_index < :size" if "size" in params else "")


def _provider_side(
    conn: Connection,
    region: str,
    counterparty: str,
    params: dict[str, Any],
    window: str = "period",
    arrival: bool = False,
) -> pa.Table:
    sql = _sql(_PROVIDER_SQL, _PROVIDER_WINDOWS[window], "update_us" if arrival else None, params)
    raw = _fetch(conn, sql, params, _PROVIDER_TYPES)
    n = raw.num_rows
    ids = pc.unique(raw.column("licence")).to_pylist() if n else []
    facts = _licences(conn, region, [str(i) for i in ids])
    missing = [i for i in ids if i not in facts]
    if missing:
        raise NotFoundError(f"licence {missing[0]} of recorded usage", reason="LICENCE_NOT_FOUND")
    keys = pa.array(ids, pa.string())
    pos = pc.index_in(raw.column("licence"), value_set=keys)
    names = pa.array([facts[i].name for i in ids], pa.string())
    tariffs = pa.array([facts[i].tariff for i in ids], pa.string())
    purposes = pa.array([facts[i].purpose_class for i in ids], pa.int32())
    products = pc.binary_join_element_wise(f"regions/{region}/products/", raw.column("product"), "")
    return pa.table(
        {
            "record_id": raw.column("record_id"),
            "entry_index": raw.column("entry_index"),
            "leaf_hash": raw.column("leaf_hash"),
            "provider_region": pa.nulls(n, pa.string()).fill_null(region),
            "consumer_region": raw.column("consumer_region"),
            "product": products,
            "tariff": tariffs.take(pos),
            "purpose_class": purposes.take(pos),
            "event_time": raw.column("event_time"),
            "calls": raw.column("calls"),
            "rows": raw.column("rows"),
            "bytes": raw.column("bytes"),
            "amount_fen": raw.column("amount_fen"),
            "licence": names.take(pos),
            "cited_entry_index": pa.nulls(n, pa.int64()),
            "cited_leaf_hash": pa.nulls(n, pa.binary(32)),
            **({"arrival": raw.column("arrival")} if arrival else {}),
        },
        schema=_schema(arrival),
    )


def _schema(arrival: bool) -> pa.Schema:
    return RECORD_SCHEMA.append(pa.field("arrival", pa.int64())) if arrival else RECORD_SCHEMA


def _consumer_side(
    conn: Connection,
    region: str,
    params: dict[str, Any],
    window: str = "period",
    arrival: bool = False,
) -> pa.Table:
    sql = _sql(_CONSUMER_SQL, _CONSUMER_WINDOWS[window], "create_us" if arrival else None, params)
    raw = _fetch(conn, sql, params, _CONSUMER_TYPES)
    cols = {name: raw.column(name) for name in raw.column_names}
    cols["consumer_region"] = pa.nulls(raw.num_rows, pa.string()).fill_null(region)
    schema = _schema(arrival)
    return pa.table({f.name: cols[f.name] for f in schema}, schema=schema)


def load_records(
    engine: Engine | Connection,
    region: str,
    counterparty: str,
    span: PeriodSpan,
    *,
    tree_size: int | None = None,
) -> pa.Table:
    """This region's cross-region records with ``counterparty`` whose event time is in
    ``span``: both directions, in :data:`RECORD_SCHEMA`, entries of this region's ledger
    (below ``tree_size`` when given). Provider-side rows first, then consumer-side."""
    start, end = _span_us(span)
    params: dict[str, Any] = {"counterparty": counterparty, "start": start, "end": end}
    if tree_size is not None:
        params["size"] = tree_size
    if isinstance(engine, Connection):
        return _load(engine, region, counterparty, params)
    with engine.connect() as conn:
        return _load(conn, region, counterparty, params)


def _load(
    conn: Connection,
    region: str,
    counterparty: str,
    params: dict[str, Any],
    window: str = "period",
    arrival: bool = False,
) -> pa.Table:
    provider = _provider_side(conn, region, counterparty, params, window, arrival)
    consumer = _consumer_side(conn, region, params, window, arrival)
    return pa.concat_tables([provider, consumer]).combine_chunks()


def statement_usage(
    engine: Engine | Connection,
    region: str,
    counterparty: str,
    span: PeriodSpan,
    cadence: Cadence,
    periods: Mapping[str, Period],
) -> UsageTable:
    """Every record of the pair that counts toward ``span`` in a statement, with the
    PROVIDER's entries and ``late`` set: records whose event time is in the period,
    except those that arrived after the period was CLOSED (they count later), plus
    records of earlier periods that arrived after those CLOSED and fall here
    (:func:`~services.settlement.periods.assign_period`). Arrival is when the row was
    written (``update_us`` of a usage record, ``create_us`` of a consumption record).

    Vectorised: only the few records of earlier periods arriving since the period
    began are assigned one by one."""
    start, _ = _span_us(span)
    params: dict[str, Any] = {
        "counterparty": counterparty,
        "start": start,
        "end": _span_us(span)[1],
    }
    if isinstance(engine, Connection):
        now = _load(engine, region, counterparty, params, "period", True)
        early = _load(engine, region, counterparty, params, "early", True)
    else:
        with engine.connect() as conn:
            now = _load(conn, region, counterparty, params, "period", True)
            early = _load(conn, region, counterparty, params, "early", True)
    held = periods.get(span.id)
    if held is not None and held.close_time is not None:
        closed_us = _us(held.close_time)
        now = now.filter(pc.less(now.column("arrival"), closed_us))
    keep = [
        assign_period(cadence, from_micros(t), from_micros(a), periods).period == span.id
        for t, a in zip(
            early.column("event_time").to_pylist(), early.column("arrival").to_pylist(), strict=True
        )
    ]
    early = early.filter(pa.array(keep, pa.bool_()))
    n_now, n_early = now.num_rows, early.num_rows
    records = pa.concat_tables([now, early]).drop_columns(["arrival"])
    late = pa.array([False] * n_now + [True] * n_early, pa.bool_())
    usage = usage_table(records, provider_entries=True)
    return UsageTable(usage.table.append_column("late", late))


def usage_of_entry(
    conn: Connection,
    region: str,
    counterparty: str,
    provider_region: str,
    index: int,
    leaf_hash: bytes,
) -> dict[str, Any] | None:
    """The one use of the pair behind the PROVIDER's usage entry ``index`` (ours
    when ``provider_region`` is this region, else the peer's entry one of our
    consumption records cites), as a row of :func:`statement_usage`'s table without
    ``late``; None when no record of the pair has that entry."""
    params: dict[str, Any] = {"counterparty": counterparty, "index": index}
    if provider_region == region:
        side = _provider_side(conn, region, counterparty, params, "entry")
    else:
        side = _consumer_side(conn, region, params, "entry")
    for row in usage_table(side, provider_entries=True).table.to_pylist():
        if row["provider_region"] == provider_region and row["leaf_hash"] == leaf_hash:
            return dict(row)
    return None


def _us(t: datetime) -> int:
    return int(t.timestamp()) * _US + t.microsecond


def usage_table(records: pa.Table, *, provider_entries: bool = False) -> UsageTable:
    """The records as a validated :class:`UsageTable`. With ``provider_entries`` a
    consumer's record names the provider's entry it cites (what statements cite);
    otherwise every record names this region's own entry (what reconciliation
    compares)."""
    t = records
    if provider_entries and t.num_rows:
        cited = pc.is_valid(t.column("cited_entry_index"))
        for own, other in (
            ("entry_index", "cited_entry_index"),
            ("leaf_hash", "cited_leaf_hash"),
        ):
            i = t.schema.get_field_index(own)
            t = t.set_column(i, own, pc.if_else(cited, t.column(other), t.column(own)))
    t = t.drop_columns(["cited_entry_index", "cited_leaf_hash"])
    i = t.schema.get_field_index("event_time")
    t = t.set_column(i, "event_time", pc.cast(t.column("event_time"), pa.timestamp("us", tz="UTC")))
    return UsageTable(t)


def sort_records(records: pa.Table) -> pa.Table:
    """Ordered by record id, then entry index (the order of ExportPeriodRecords)."""
    return records.sort_by([("record_id", "ascending"), ("entry_index", "ascending")])


def bucket_key(provider_region: str, consumer_region: str, product: str, day: date) -> str:
    """``"{provider}>{consumer}/{product}/{YYYY-MM-DD}"`` (ExportPeriodRecords buckets)."""
    return f"{provider_region}>{consumer_region}/{product}/{day.isoformat()}"


def _parse_bucket(key: str, index: int) -> tuple[str, str, str, date]:
    direction, _, rest = key.partition("/")
    product, _, day = rest.rpartition("/")
    provider, sep, consumer = direction.partition(">")
    try:
        when = date.fromisoformat(day)
    except ValueError:
        when = None
    if not sep or not provider or not consumer or not product or when is None:
        raise InvalidArgumentError(
            [FieldViolation(f"buckets[{index}]", "not '{provider}>{consumer}/{product}/{day}'")]
        )
    return provider, consumer, product, when


def only_buckets(records: pa.Table, buckets: Sequence[str]) -> pa.Table:
    """The records falling in one of ``buckets`` (UTC days of event time)."""
    wanted = [_parse_bucket(b, i) for i, b in enumerate(buckets)]
    if not wanted or records.num_rows == 0:
        return records.slice(0, 0)
    keys = (
        pa.table(
            {
                "provider_region": [w[0] for w in wanted],
                "consumer_region": [w[1] for w in wanted],
                "product": [w[2] for w in wanted],
                "day": pa.array([w[3] for w in wanted], pa.date32()),
            }
        )
        .group_by(["provider_region", "consumer_region", "product", "day"])
        .aggregate([])
    )
    day = pc.cast(pc.cast(records.column("event_time"), pa.timestamp("us", tz="UTC")), pa.date32())
    probe = pa.table(
        {
            "provider_region": records.column("provider_region"),
            "consumer_region": records.column("consumer_region"),
            "product": records.column("product"),
            "day": day,
            "_row": pa.array(range(records.num_rows), pa.int64()),
        }
    )
    joined = probe.join(
        keys, keys=["provider_region", "consumer_region", "product", "day"], join_type="inner"
    )
    rows = pc.sort_indices(joined.column("_row"))
    return records.take(joined.column("_row").take(rows))


# --- the wire forms -----------------------------------------------------------------


def arrow_chunks(records: pa.Table, chunk: int = CHUNK_RECORDS) -> Iterator[bytes]:
    """Arrow IPC streams of at most ``chunk`` records each (at least one, maybe empty)."""
    for start in range(0, max(records.num_rows, 1), chunk):
        part = records.slice(start, chunk).combine_chunks()
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, RECORD_SCHEMA) as writer:
            writer.write_table(part)
        yield sink.getvalue()


def read_arrow_chunks(chunks: Iterable[bytes]) -> pa.Table:
    """The records of ExportPeriodRecords ``arrow_records`` chunks, in stream order."""
    tables = [pa.ipc.open_stream(blob).read_all() for blob in chunks if blob]
    if not tables:
        return RECORD_SCHEMA.empty_table()
    for t in tables:
        if not t.schema.equals(RECORD_SCHEMA):
            raise InvalidArgumentError(
                [FieldViolation("arrow_records", "columns differ from the export schema")]
            )
    return pa.concat_tables(tables).combine_chunks()


def _entry(origin: str, index: int | None, leaf_hash: bytes | None) -> common_pb2.EntryRef | None:
    if index is None or leaf_hash is None:
        return None
    return common_pb2.EntryRef(origin=origin, index=index, leaf_hash=leaf_hash)


def record_messages(
    records: pa.Table, region: str, chunk: int = CHUNK_RECORDS
) -> Iterator[list[settlement_pb2.SettlementRecord]]:
    """The records as ``SettlementRecord`` messages, ``chunk`` at a time (entries are
    in ``region``'s ledger; cited entries in the provider's)."""
    origin = log_origin(region)
    for start in range(0, records.num_rows, chunk):
        out = []
        for r in records.slice(start, chunk).to_pylist():
            ts = Timestamp()
            ts.FromMicroseconds(r["event_time"])
            msg = settlement_pb2.SettlementRecord(
                id=r["record_id"],
                provider_region=r["provider_region"],
                consumer_region=r["consumer_region"],
                product=r["product"],
                tariff=r["tariff"],
                purpose_class=r["purpose_class"],
                time=ts,
                quantity=common_pb2.Quantity(calls=r["calls"], rows=r["rows"], bytes=r["bytes"]),
                amount_fen=r["amount_fen"],
                entry=_entry(origin, r["entry_index"], r["leaf_hash"]),
                cited_entry=_entry(
                    log_origin(r["provider_region"]), r["cited_entry_index"], r["cited_leaf_hash"]
                ),
            )
            out.append(msg)
        yield out


def records_from_messages(messages: Iterable[settlement_pb2.SettlementRecord]) -> pa.Table:
    """``SettlementRecord`` messages as a :data:`RECORD_SCHEMA` table (licence unknown)."""
    cols: dict[str, list[Any]] = {f.name: [] for f in RECORD_SCHEMA}
    for m in messages:
        cols["record_id"].append(m.id)
        cols["entry_index"].append(m.entry.index)
        cols["leaf_hash"].append(m.entry.leaf_hash)
        cols["provider_region"].append(m.provider_region)
        cols["consumer_region"].append(m.consumer_region)
        cols["product"].append(m.product)
        cols["tariff"].append(m.tariff)
        cols["purpose_class"].append(int(m.purpose_class))
        cols["event_time"].append(m.time.ToMicroseconds())
        cols["calls"].append(m.quantity.calls)
        cols["rows"].append(m.quantity.rows)
        cols["bytes"].append(m.quantity.bytes)
        cols["amount_fen"].append(m.amount_fen)
        cols["licence"].append("")
        cited = m.HasField("cited_entry")
        cols["cited_entry_index"].append(m.cited_entry.index if cited else None)
        cols["cited_leaf_hash"].append(m.cited_entry.leaf_hash if cited else None)
    return pa.table(cols, schema=RECORD_SCHEMA)


def summary_message(
    summary: PeriodSummary, zero_priced: dict[tuple[str, str], int], currency: str = "CNY"
) -> tuple[list[settlement_pb2.DirectionTotal], list[settlement_pb2.SettlementBucket]]:
    """Tiers 1 and 2 in their API form. Totals are of usage only (gross = net):
    corrections and disputes are the statement's business, not reconciliation's."""
    totals = []
    for t in summary.totals:
        money = common_pb2.Money(currency_code=currency, amount_fen=t.amount_fen)
        totals.append(
            settlement_pb2.DirectionTotal(
                provider_region=t.provider_region,
                consumer_region=t.consumer_region,
                record_count=t.record_count,
                zero_priced_count=zero_priced.get((t.provider_region, t.consumer_region), 0),
                quantity=_quantity(t.quantity.calls, t.quantity.rows, t.quantity.bytes),
                gross_amount=money,
                adjustment_amount=common_pb2.Money(currency_code=currency),
                disputed_amount=common_pb2.Money(currency_code=currency),
                net_amount=money,
            )
        )
    buckets = [
        settlement_pb2.SettlementBucket(
            provider_region=b.provider_region,
            consumer_region=b.consumer_region,
            product=b.product,
            day=b.day.isoformat(),
            record_count=b.record_count,
            quantity=_quantity(b.quantity.calls, b.quantity.rows, b.quantity.bytes),
            amount_fen=b.amount_fen,
        )
        for b in summary.buckets
    ]
    return totals, buckets


def _quantity(calls: int, rows: int, nbytes: int) -> common_pb2.Quantity:
    return common_pb2.Quantity(calls=calls, rows=rows, bytes=nbytes)


def summary_from_message(
    totals: Iterable[settlement_pb2.DirectionTotal],
    buckets: Iterable[settlement_pb2.SettlementBucket],
) -> PeriodSummary:
    from services.settlement.model import Quantity

    return PeriodSummary(
        tuple(
            DirectionSummary(
                t.provider_region,
                t.consumer_region,
                t.record_count,
                Quantity(t.quantity.calls, t.quantity.rows, t.quantity.bytes),
                t.gross_amount.amount_fen,
            )
            for t in totals
        ),
        tuple(
            Bucket(
                b.provider_region,
                b.consumer_region,
                b.product,
                date.fromisoformat(b.day),
                b.record_count,
                Quantity(b.quantity.calls, b.quantity.rows, b.quantity.bytes),
                b.amount_fen,
            )
            for b in buckets
        ),
    )


# --- reports ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredReport:
    id: str
    request_fingerprint: str
    report: settlement_pb2.ReconciliationReport


def _stored(row: Any) -> StoredReport:
    return StoredReport(
        row.id, row.request_fingerprint, settlement_pb2.ReconciliationReport.FromString(row.report)
    )


def report_id_for(creator: str, request_id: str) -> str:
    """A report's id follows from who asked and the request id, so a retry after a
    crash between the ledger append and the insert names the same report."""
    return hashlib.sha256(f"{creator}\x00{request_id}".encode()).hexdigest()[:32]


class ReportStore:
    """Reconciliation reports and their discrepancies (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def find(self, creator: str, request_id: str) -> StoredReport | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(ReconciliationReportRow).where(
                    ReconciliationReportRow.creator == creator,
                    ReconciliationReportRow.request_id == request_id,
                )
            ).first()
        return None if row is None else _stored(row)

    def save(
        self,
        *,
        report_id: str,
        period: str,
        counterparty: str,
        creator: str,
        request_id: str,
        request_fingerprint: str,
        create_us: int,
        report: settlement_pb2.ReconciliationReport,
        discrepancies: Sequence[tuple[int, int, str, bytes]],
    ) -> None:
        """Insert the report and its discrepancies ``(tier, status, key, bytes)`` in
        one transaction (in their (tier, key) order)."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(ReconciliationReportRow).values(
                    id=report_id,
                    period=period,
                    counterparty=counterparty,
                    creator=creator,
                    request_id=request_id,
                    request_fingerprint=request_fingerprint,
                    discrepancy_count=report.discrepancy_count,
                    digest=hashlib.sha256(report.SerializeToString(deterministic=True)).digest(),
                    report=report.SerializeToString(deterministic=True),
                    create_us=create_us,
                    ledger_index=report.ledger_entry.index,
                    ledger_leaf_hash=report.ledger_entry.leaf_hash,
                )
            )
            batch: list[dict[str, Any]] = []
            for seq, (tier, status, key, blob) in enumerate(discrepancies):
                batch.append(
                    {
                        "report_id": report_id,
                        "seq": seq,
                        "tier": tier,
                        "status": status,
                        "item_key": key[:400],
                        "discrepancy": blob,
                    }
                )
                if len(batch) >= 5000:
                    conn.execute(insert(ReconciliationDiscrepancyRow), batch)
                    batch = []
            if batch:
                conn.execute(insert(ReconciliationDiscrepancyRow), batch)

    def get(self, report_id: str, period: str | None = None) -> StoredReport | None:
        with self._engine.connect() as conn:
            q = select(ReconciliationReportRow).where(ReconciliationReportRow.id == report_id)
            if period is not None:
                q = q.where(ReconciliationReportRow.period == period)
            row = conn.execute(q).first()
        return None if row is None else _stored(row)

    def reports(
        self, period: str | None, counterparty: str, page: PageRequest
    ) -> tuple[list[settlement_pb2.ReconciliationReport], str]:
        """Newest first."""
        r = ReconciliationReportRow
        q = select(r.report, r.create_us, r.id)
        if period is not None:
            q = q.where(r.period == period)
        if counterparty:
            q = q.where(r.counterparty == counterparty)
        cursor = decode_token("reconciliationReports", page, (int, str))
        if cursor is not None:
            at_us, at_id = cursor
            q = q.where(or_(r.create_us < at_us, and_(r.create_us == at_us, r.id < at_id)))
        q = q.order_by(r.create_us.desc(), r.id.desc()).limit(page.limit + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(q).all()
        token = ""
        if len(rows) > page.limit:
            rows = rows[: page.limit]
            token = encode_token("reconciliationReports", page, [rows[-1].create_us, rows[-1].id])
        return [settlement_pb2.ReconciliationReport.FromString(x.report) for x in rows], token

    def discrepancies(
        self, report_id: str, statuses: Sequence[int], tier: int, page: PageRequest
    ) -> tuple[list[settlement_pb2.Discrepancy], str]:
        """In the report's (tier, key) order, optionally only some outcomes / one tier."""
        d = ReconciliationDiscrepancyRow
        q = select(d.seq, d.discrepancy).where(d.report_id == report_id)
        if tier:
            q = q.where(d.tier == tier)
        if statuses:
            q = q.where(d.status.in_(list(statuses)))
        cursor = decode_token("discrepancies", page, (int,))
        if cursor is not None:
            q = q.where(d.seq > cursor[0])
        q = q.order_by(d.seq).limit(page.limit + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(q).all()
        token = ""
        if len(rows) > page.limit:
            rows = rows[: page.limit]
            token = encode_token("discrepancies", page, [rows[-1].seq])
        return [settlement_pb2.Discrepancy.FromString(x.discrepancy) for x in rows], token

    def count(self, report_id: str) -> int:
        d = ReconciliationDiscrepancyRow
        with self._engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).where(d.report_id == report_id)).scalar_one()
            )


# --- what a peer asks for (FederationService) ---------------------------------------


@dataclass(frozen=True)
class PeerPeriod:
    """One period of this region with one peer, as the peer may read it."""

    engine: Engine
    ledger: Log
    region: str
    counterparty: str
    span: PeriodSpan

    @classmethod
    def of(
        cls,
        engine: Engine,
        ledger: Log,
        region: str,
        counterparty: str,
        period_id: str,
        now_us: int,
        *,
        cadence: Cadence | None = None,
    ) -> PeerPeriod:
        if not period_id:
            raise InvalidArgumentError([FieldViolation("period", "is required")])
        span = period_span(period_id, cadence)
        if _span_us(span)[0] > now_us:
            raise NotFoundError(f"regions/{region}/periods/{period_id}", reason="PERIOD_NOT_FOUND")
        return cls(engine, ledger, region, counterparty, span)

    def summary(self, now_us: int) -> federation_pb2.GetPeriodSummaryResponse:
        """Tiers 1 and 2 at this node's latest checkpoint."""
        signed = self.ledger.checkpoint()
        with self.engine.connect() as conn:
            state = period_state(conn, self.span, now_us)
            records = load_records(
                conn, self.region, self.counterparty, self.span, tree_size=signed.checkpoint.size
            )
        usage = usage_table(records)
        zero = records.filter(pc.equal(records.column("amount_fen"), 0))
        counts = zero.group_by(["provider_region", "consumer_region"]).aggregate(
            [("amount_fen", "count")]
        )
        zero_priced = {
            (r["provider_region"], r["consumer_region"]): int(r["amount_fen_count"])
            for r in counts.to_pylist()
        }
        totals, buckets = summary_message(summarize(usage), zero_priced)
        return federation_pb2.GetPeriodSummaryResponse(
            state=int(state),  # type: ignore[arg-type]
            totals=totals,
            buckets=buckets,
            checkpoint=checkpoint_message(signed),
        )

    def export(
        self, buckets: Sequence[str], tree_size: int, arrow: bool
    ) -> Iterator[federation_pb2.ExportPeriodRecordsResponse]:
        """The records (at ``tree_size``, 0 = now), ordered by id, in chunks."""
        if tree_size < 0:
            raise InvalidArgumentError([FieldViolation("tree_size", "must not be negative")])
        for i, b in enumerate(buckets):
            _parse_bucket(b, i)
        size = min(tree_size, self.ledger.size()) if tree_size else self.ledger.size()
        records = load_records(
            self.engine, self.region, self.counterparty, self.span, tree_size=size
        )
        if buckets:
            records = only_buckets(records, buckets)
        records = sort_records(records)
        if arrow:
            for blob in arrow_chunks(records):
                yield federation_pb2.ExportPeriodRecordsResponse(arrow_records=blob)
            return
        for part in record_messages(records, self.region):
            yield federation_pb2.ExportPeriodRecordsResponse(records=part)
