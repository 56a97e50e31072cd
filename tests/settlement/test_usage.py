"""Usage tables, corrections and agreements: validated on construction."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from services.settlement.adjustments import (
    AdjustmentKind,
    adjust,
    check_correction,
    re_rate,
    reverse,
)
from services.settlement.agreement import Agreement
from services.settlement.errors import (
    EntryAlreadyReversedError,
    InvalidAdjustmentError,
    SettlementValueError,
)
from services.settlement.model import EntryRef, Quantity, log_origin
from services.settlement.usage import SCHEMA, UsageTable
from tests.settlement.factories import NOVEMBER, leaf, record

NAMES = (
    "record_id",
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
    "exact_fen",
    "late",
)


def row(i: int, **over: object) -> tuple[object, ...]:
    values: dict[str, object] = {
        "record_id": f"regions/cq/parties/c/{i}",
        "entry_index": i,
        "leaf_hash": leaf(i),
        "provider_region": "sc",
        "consumer_region": "cq",
        "product": "regions/sc/products/p",
        "tariff": "v1",
        "purpose_class": 1,
        "event_time": int(NOVEMBER.start.timestamp() * 1_000_000) + i,
        "calls": 1,
        "rows": 5,
        "bytes": 50,
        "amount_fen": 13,
        "exact_fen": "12.5",
        "late": 0,
    }
    values.update(over)
    return tuple(values[n] for n in NAMES)


def test_from_cursor_reads_storage_rows() -> None:
    con = sqlite3.connect(":memory:")
    con.execute(f"CREATE TABLE u ({', '.join(NAMES)})")
    con.executemany(
        f"INSERT INTO u VALUES ({','.join('?' * len(NAMES))})", [row(i) for i in range(5)]
    )
    con.execute("INSERT INTO u VALUES (" + ",".join("?" * len(NAMES)) + ")", row(9, exact_fen=None))
    table = UsageTable.from_cursor(con.execute("SELECT * FROM u"), chunk_rows=2)
    assert table.num_rows == 6
    assert table.table.schema.field("event_time").type == SCHEMA.field("event_time").type
    assert table.column("exact_fen")[0].as_py() == Decimal("12.5")
    # The general path (datetimes, Decimals, bools) gives the same table.
    general = UsageTable.from_rows(
        NAMES,
        [
            row(
                i,
                event_time=NOVEMBER.start + timedelta(microseconds=i),
                exact_fen=Decimal("12.5"),
                late=False,
            )
            for i in range(5)
        ]
        + [
            row(
                9, event_time=NOVEMBER.start + timedelta(microseconds=9), exact_fen=None, late=False
            )
        ],
    )
    assert general.table.equals(table.table)
    assert [r.record_id for r in table.records()][:2] == [
        "regions/cq/parties/c/0",
        "regions/cq/parties/c/1",
    ]
    empty = UsageTable.from_cursor(con.execute("SELECT * FROM u WHERE 0"))
    assert empty.num_rows == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_fen": -1}, "amount_fen"),
        ({"rows": -3}, "rows"),
        ({"provider_region": "SC"}, "region"),
        ({"consumer_region": "sc"}, "consumer_region"),
        ({"purpose_class": 0}, "purpose_class"),
        ({"purpose_class": 9}, "purpose_class"),
        ({"product": ""}, "product"),
        ({"amount_fen": 12}, "amount_fen"),  # 12.5 rounds half-up to 13
        ({"exact_fen": "1.0000000000001"}, "exact_fen"),
        ({"leaf_hash": b"short"}, "leaf_hash"),
        ({"record_id": ""}, "record_id"),
        ({"event_time": datetime(2026, 11, 2)}, "event_time"),
    ],
)
def test_bad_rows_are_refused_with_the_field_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(SettlementValueError) as bad:
        UsageTable.from_rows(NAMES, [row(1), row(2, **change)])
    assert bad.value.field == field


def test_a_table_needs_its_columns() -> None:
    with pytest.raises(SettlementValueError, match="missing columns"):
        UsageTable(pa.table({"product": ["p"]}))


def test_corrections() -> None:
    r = record(1, exact=Decimal("99.5"))
    rev = reverse(r, name="regions/sc/adjustments/a1", period="2026-12", reason="duplicate")
    assert (rev.amount_delta_fen, rev.quantity_delta) == (-100, -r.quantity)
    assert rev.residue_fen == Decimal("0.5")
    assert rev.entry is None
    posted = rev.posted(EntryRef(log_origin("sc"), 77, leaf("a1")))
    again = reverse(r, name="regions/sc/adjustments/a2", period="2026-12", reason="again")
    with pytest.raises(EntryAlreadyReversedError) as twice:
        check_correction(again, [posted])
    assert twice.value.reversal == "regions/sc/adjustments/a1"
    rr = re_rate(r, tariff="t2", exact_fen=Decimal("80"), name="n", period="2026-12", reason="x")
    with pytest.raises(EntryAlreadyReversedError):
        check_correction(rr, [posted])
    with pytest.raises(InvalidAdjustmentError):
        check_correction(dataclasses.replace(again, name=posted.name), [posted])
    fine = adjust(
        r.entry,
        provider_region="sc",
        consumer_region="cq",
        amount_delta_fen=-5,
        name="regions/sc/adjustments/a3",
        period="2026-12",
        reason="goodwill",
    )
    assert fine.kind is AdjustmentKind.ADJUSTMENT
    check_correction(fine, [])
    with pytest.raises(InvalidAdjustmentError) as bad:
        dataclasses.replace(rev, amount_delta_fen=5)
    assert bad.value.reason == "INVALID_ADJUSTMENT"
    with pytest.raises(InvalidAdjustmentError):
        dataclasses.replace(rev, quantity_delta=Quantity(1, 0, 0))
    with pytest.raises(InvalidAdjustmentError):
        dataclasses.replace(rev, corrects=None)
    with pytest.raises(InvalidAdjustmentError):
        dataclasses.replace(rr, tariff="")
    with pytest.raises(InvalidAdjustmentError):
        dataclasses.replace(fine, reason="")


def test_agreements() -> None:
    a = Agreement(("sc", "cq"))
    assert a.regions == ("cq", "sc")
    assert a.counterparty_of("sc") == "cq"
    assert a.cadence.period_of(datetime(2026, 11, 5, tzinfo=UTC)).id == "2026-11"
    with pytest.raises(SettlementValueError):
        Agreement(("sc", "sc"))
    with pytest.raises(SettlementValueError):
        a.counterparty_of("sg")
