"""The canonical encoder writes exactly the API's messages: the generated protobuf
classes parse our bytes, and their deterministic serialization gives them back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from bashu.common.v1 import common_pb2
from bashu.settlement.v1 import settlement_pb2
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.model import BatchRef, CheckpointRef, DisputeHold, EntryRef, log_origin
from services.settlement.reconcile import RecordSet, Tolerance, reconcile
from services.settlement.statement import compute_statement
from services.settlement.usage import UsageRecord, UsageTable
from services.settlement.wire import ProtoWriter, encode_money, varint
from tests.settlement.factories import NOVEMBER, leaf, record, reversals, usage_records


def roundtrip(message_type: type[Message], body: bytes) -> Message:
    message = message_type.FromString(body)
    assert message.SerializeToString(deterministic=True) == body
    return message


@settings(max_examples=40, deadline=None)
@given(usage_records(max_size=25), st.integers(0, 3))
def test_statement_content_is_the_api_message(records: list[UsageRecord], n_rev: int) -> None:
    usage = UsageTable.from_records(records)
    adjustments = reversals(records[:n_rev])
    sc_total = sum(r.amount_fen for r in records if r.provider_region == "sc")
    sc_count = sum(r.provider_region == "sc" for r in records)
    batches = (
        [
            BatchRef(
                "regions/sc/batches/cq/1",
                "sc",
                "cq",
                1,
                sc_count,
                sc_total,
                leaf("r"),
                leaf("d"),
                EntryRef(log_origin("sc"), 3, leaf("b")),
                EntryRef(log_origin("cq"), 4, leaf("c")),
            )
        ]
        if sc_count
        else []
    )
    checkpoints = [
        CheckpointRef(log_origin(r), 10**7, leaf("cp", r), "note\n", NOVEMBER.end)
        for r in ("sc", "cq")
    ]
    holds = [DisputeHold("regions/cq/disputes/d1", "sc", "cq", 7)]
    content = compute_statement(
        NOVEMBER,
        ("sc", "cq"),
        usage,
        adjustments=adjustments,
        holds=holds,
        batches=batches,
        checkpoints=checkpoints,
    )
    m = roundtrip(settlement_pb2.StatementContent, content.body)
    assert isinstance(m, settlement_pb2.StatementContent)
    assert m.period == "2026-11"
    assert list(m.regions) == ["cq", "sc"]
    assert m.net_amount.amount_fen == content.net_fen
    assert m.record_count == len(records)
    assert [ln.gross_amount.amount_fen for ln in m.lines] == [ln.gross_fen for ln in content.lines]
    assert [Decimal(ln.rounding_residue_fen) for ln in m.lines] == [
        ln.rounding_residue_fen for ln in content.lines
    ]
    assert [a.amount_delta.amount_fen for a in m.adjustments] == [
        a.amount_delta_fen for a in content.adjustments
    ]
    assert m.period_range.start_time.ToDatetime().isoformat() == "2026-11-01T00:00:00"


def test_reconciliation_report_and_discrepancies_are_the_api_messages() -> None:
    ours = [record(i) for i in range(6)]
    theirs = [record(i, rows=11 if i == 2 else 10) for i in range(1, 7)]
    report = reconcile(
        RecordSet("sc", UsageTable.from_records(ours)),
        RecordSet("cq", UsageTable.from_records(theirs)),
        period="2026-11",
        tolerance=Tolerance(amount_fen=2, time_skew=timedelta(seconds=1, milliseconds=5)),
    )
    for d in report.discrepancies:
        m = roundtrip(settlement_pb2.Discrepancy, d.encode())
        assert isinstance(m, settlement_pb2.Discrepancy)
        assert m.key == d.key
    m = roundtrip(settlement_pb2.ReconciliationReport, report.body)
    assert isinstance(m, settlement_pb2.ReconciliationReport)
    assert m.discrepancy_count == len(report.discrepancies)
    assert m.tolerance.time_skew.nanos == 5_000_000
    assert m.record_counts.ours_only == 1


def test_varints_and_field_order() -> None:
    assert varint(0) == b"\x00"
    assert varint(300) == b"\xac\x02"
    assert varint(-1) == b"\xff" * 9 + b"\x01"
    w = ProtoWriter().int64(2, 1)
    with pytest.raises(ValueError, match="after field"):
        w.int64(1, 1)
    # A negative int64 (an adjustment's delta) parses back as itself.
    money = common_pb2.Money.FromString(encode_money(-5, "CNY"))
    assert (money.currency_code, money.amount_fen) == ("CNY", -5)
