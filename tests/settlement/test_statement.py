"""Statements: net = sum of lines, every line traces to its entries, both regions agree,
signatures, tampering, rounding, late records, batches and checkpoints."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.note import Signer, Verifier
from services.settlement.adjustments import Adjustment, AdjustmentKind, re_rate
from services.settlement.errors import (
    StatementDigestMismatchError,
    StatementInputError,
    StatementNotReproducibleError,
    StatementSignatureError,
)
from services.settlement.model import BatchRef, CheckpointRef, DisputeHold, EntryRef, log_origin
from services.settlement.money import round_half_up
from services.settlement.statement import (
    EMPTY_ROOT,
    Statement,
    StatementContent,
    StatementState,
    add_signature,
    check_reproduced,
    compute_statement,
    entries_root,
    first_difference,
    region_key_signer,
    region_key_verifier,
    sign_statement,
    trace_line,
    verify_statement,
)
from services.settlement.usage import UsageRecord, UsageTable
from tests.settlement.factories import NOVEMBER, leaf, record, reversals, usage_records

_US = timedelta(microseconds=1)
Inputs = tuple[list[UsageRecord], list[Adjustment], list[DisputeHold]]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SC_KEY = Signer.generate(log_origin("sc"))
CQ_KEY = Signer.generate(log_origin("cq"))
VERIFY = region_key_verifier(
    {"sc": [Verifier.from_vkey(SC_KEY.vkey())], "cq": [Verifier.from_vkey(CQ_KEY.vkey())]}
)


def owed_to_cq(
    records: Sequence[UsageRecord],
    adjustments: Sequence[Adjustment] = (),
    holds: Sequence[DisputeHold] = (),
) -> int:
    """Independent oracle: what sc owes cq, signed, from the inputs alone."""
    total = 0
    for r in records:
        total += r.amount_fen if r.provider_region == "cq" else -r.amount_fen
    for a in adjustments:
        total += a.amount_delta_fen if a.provider_region == "cq" else -a.amount_delta_fen
    for h in holds:
        total -= h.amount_fen if h.provider_region == "cq" else -h.amount_fen
    return total


@st.composite
def statement_inputs(draw: st.DrawFn) -> Inputs:
    records = draw(usage_records(min_size=0, max_size=40))
    to_reverse = [r for r in records if draw(st.booleans()) and draw(st.booleans())]
    adjustments = reversals(to_reverse)
    holds = [
        DisputeHold(
            f"regions/cq/disputes/d{k}",
            *draw(st.sampled_from([("sc", "cq"), ("cq", "sc")])),
            draw(st.integers(1, 10**6)),
        )
        for k in range(draw(st.integers(0, 3)))
    ]
    return records, adjustments, holds


@PROPS
@given(statement_inputs())
def test_net_is_the_sum_of_lines_and_every_line_traces_to_its_records(inputs: Inputs) -> None:
    records, adjustments, holds = inputs
    usage = UsageTable.from_records(records)
    content = compute_statement(NOVEMBER, ("sc", "cq"), usage, adjustments=adjustments, holds=holds)

    # The net follows from the lines, adjustments and holds, and matches the oracle.
    signed_net = sum(
        ln.gross_fen if ln.provider_region == "cq" else -ln.gross_fen for ln in content.lines
    )
    signed_net += sum(
        a.amount_delta_fen if a.provider_region == "cq" else -a.amount_delta_fen
        for a in content.adjustments
    )
    signed_net -= sum(h.amount_fen if h.provider_region == "cq" else -h.amount_fen for h in holds)
    assert signed_net == content.owed_to_first_fen == owed_to_cq(records, adjustments, holds)
    assert content.net_fen == abs(signed_net)
    if signed_net > 0:
        assert (content.net_payer_region, content.net_payee_region) == ("sc", "cq")
    elif signed_net < 0:
        assert (content.net_payer_region, content.net_payee_region) == ("cq", "sc")
    else:
        assert content.net_payer_region == content.net_payee_region == ""
    for t in content.totals:
        assert t.net_fen == t.gross_fen + t.adjustment_fen - t.disputed_fen
    assert content.record_count == len(records) == sum(ln.record_count for ln in content.lines)

    # Every line traces to exactly its records; together they are all records, once.
    by_id = {r.record_id: r for r in records}
    seen: list[str] = []
    for ln in content.lines:
        trace = trace_line(ln, usage)
        trace.check(ln)
        seen.extend(trace.record_ids)
        mine = [by_id[i] for i in trace.record_ids]
        assert ln.gross_fen == sum(r.amount_fen for r in mine)
        assert ln.zero_priced_count == sum(r.amount_fen == 0 for r in mine)
        assert ln.late_record_count == sum(r.late for r in mine)
        assert ln.entries_root == merkle.root_from_leaf_hashes([e.leaf_hash for e in trace.entries])
        assert [e.index for e in trace.entries] == sorted(e.index for e in trace.entries)
        assert all(line_key(r) == ln.key for r in mine)
        residue = sum(
            ((r.exact_fen - r.amount_fen) for r in mine if r.exact_fen is not None), Decimal(0)
        )
        assert ln.rounding_residue_fen == residue
    assert sorted(seen) == sorted(by_id)

    # Reversals trace to the entry they cancel and take away exactly its amount.
    for adj in content.adjustments:
        assert adj.kind is AdjustmentKind.REVERSAL
        assert adj.corrects is not None
        cancelled = [r for r in records if r.entry == adj.corrects]
        assert len(cancelled) == 1
        assert adj.amount_delta_fen == -cancelled[0].amount_fen


def line_key(r: UsageRecord) -> tuple[str, str, str, str, int]:
    return (r.provider_region, r.consumer_region, r.product, r.tariff, int(r.purpose_class))


@PROPS
@given(statement_inputs(), st.randoms(use_true_random=False))
def test_two_regions_compute_byte_identical_content(inputs: Inputs, rnd: random.Random) -> None:
    records, adjustments, holds = inputs
    sc_side = compute_statement(
        NOVEMBER,
        ("sc", "cq"),
        UsageTable.from_records(records),
        adjustments=adjustments,
        holds=holds,
    )
    # cq reads its consumption records in its own order and lists things differently.
    shuffled = list(records)
    rnd.shuffle(shuffled)
    adj2, holds2 = list(adjustments), list(holds)
    rnd.shuffle(adj2)
    rnd.shuffle(holds2)
    cq_side = compute_statement(
        NOVEMBER, ("cq", "sc"), UsageTable.from_records(shuffled), adjustments=adj2, holds=holds2
    )
    assert cq_side.body == sc_side.body
    assert cq_side.digest == sc_side.digest
    assert first_difference(sc_side, cq_side) is None
    check_reproduced(sc_side, cq_side.body, cq_side)


def _content(n: int = 12) -> StatementContent:
    records = [
        record(i, provider="sc" if i % 3 else "cq", consumer="cq" if i % 3 else "sc")
        for i in range(n)
    ]
    return compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records(records))


def test_both_regions_sign_and_the_statement_verifies() -> None:
    content = _content()
    statement = Statement(content)
    assert statement.state is StatementState.UNSIGNED
    sc_signed = sign_statement(
        statement, region_key_signer("sc", SC_KEY), reviewed_digest=content.digest
    )
    assert sc_signed.state is StatementState.PARTIALLY_SIGNED
    verify_statement(sc_signed, VERIFY, require_both=False)
    with pytest.raises(StatementSignatureError) as missing:
        verify_statement(sc_signed, VERIFY)
    assert missing.value.region == "cq"
    # cq computed the same content itself, signs it, and its signature travels back.
    cq_own = Statement(_content())
    cq_signed = sign_statement(cq_own, region_key_signer("cq", CQ_KEY))
    both = add_signature(sc_signed, cq_signed.signatures[0], VERIFY)
    assert both.state is StatementState.SIGNED
    verify_statement(both, VERIFY)
    assert sign_statement(both, region_key_signer("sc", SC_KEY)) == both  # idempotent


def test_a_tampered_statement_fails_verification() -> None:
    content = _content()
    signed = add_signature(
        sign_statement(Statement(content), region_key_signer("sc", SC_KEY)),
        region_key_signer("cq", CQ_KEY)(b"bashu.exchange/statement/v1\x00" + content.body),
        VERIFY,
    )
    verify_statement(signed, VERIFY)
    # A consistent rewrite of one figure (line, totals and net all follow) ...
    line = content.lines[0]
    forged_line = dataclasses.replace(line, gross_fen=line.gross_fen + 1)
    forged = StatementContent.build(
        NOVEMBER, content.regions, lines=(forged_line, *content.lines[1:])
    )
    assert first_difference(content, forged) is not None
    with pytest.raises(StatementSignatureError):
        verify_statement(dataclasses.replace(signed, content=forged), VERIFY)
    # ... an inconsistent one is refused on construction ...
    with pytest.raises(StatementInputError):
        dataclasses.replace(content, lines=(forged_line, *content.lines[1:]))
    # ... a signature by the wrong key, or over other bytes, does not verify.
    bad = dataclasses.replace(signed.signatures[0], signature=bytes(64))
    with pytest.raises(StatementSignatureError):
        add_signature(Statement(content), bad, VERIFY)
    with pytest.raises(StatementNotReproducibleError) as refused:
        check_reproduced(content, forged.body, forged)
    assert "gross_fen" in refused.value.difference
    with pytest.raises(StatementDigestMismatchError):
        sign_statement(
            Statement(forged), region_key_signer("sc", SC_KEY), reviewed_digest=content.digest
        )


def test_rounding_happens_once_per_record_half_up() -> None:
    exacts = [Decimal("0.5"), Decimal("1.5"), Decimal("2.49"), Decimal("2.5"), Decimal("0.499")]
    records = [record(i, exact=x) for i, x in enumerate(exacts)]
    assert [r.amount_fen for r in records] == [1, 2, 2, 3, 0]
    content = compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records(records))
    (line,) = content.lines
    assert line.gross_fen == 8  # the sum of rounded amounts, not round(sum of exact) = 7
    assert line.rounding_residue_fen == Decimal("-0.511")
    assert line.zero_priced_count == 1
    assert round_half_up(Decimal("-2.5")) == -3
    with pytest.raises(Exception, match="rounded half-up"):
        record(9, exact=Decimal("2.5"), amount=2)


def test_re_rating_shows_what_rounding_moved_as_residue() -> None:
    r = record(1, exact=Decimal("10.4"))  # 10 fen
    adj = re_rate(
        r,
        tariff="regions/sc/products/p-census/tariffs/v3",
        exact_fen=Decimal("12.5"),
        name="regions/sc/adjustments/rr1",
        period="2026-11",
        reason="wrong tariff",
    ).posted(EntryRef(log_origin("sc"), 900, leaf("rr1")))
    assert adj.amount_delta_fen == 3  # 13 - 10
    assert adj.residue_fen == Decimal("-0.9")  # (12.5 - 10.4) - 3
    content = compute_statement(
        NOVEMBER, ("sc", "cq"), UsageTable.from_records([r]), adjustments=[adj]
    )
    assert content.rounding_residue_fen == Decimal("0.4") + Decimal("-0.9")
    assert content.total("sc", "cq").net_fen == 13


def test_period_boundaries_and_late_records() -> None:
    start = record(1, at=NOVEMBER.start)
    last = record(2, at=NOVEMBER.end - _US)
    late = record(3, at=NOVEMBER.start - _US, late=True)
    content = compute_statement(
        NOVEMBER, ("sc", "cq"), UsageTable.from_records([start, last, late])
    )
    assert content.record_count == 3
    assert content.lines[0].late_record_count == 1
    for bad in (record(4, at=NOVEMBER.end), record(5, at=NOVEMBER.start - _US)):
        with pytest.raises(StatementInputError):
            compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records([bad]))
    with pytest.raises(StatementInputError):  # "late" but in the period itself
        compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records([record(6, late=True)]))


def test_inputs_that_disagree_are_refused() -> None:
    other_pair = record(1, provider="sg", consumer="cq")
    twice = [record(1), record(2, index=1)]
    for records in ([other_pair], twice):
        with pytest.raises(StatementInputError):
            compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records(records))
    with pytest.raises(StatementInputError):
        compute_statement(NOVEMBER, ("sc", "sc"), UsageTable.from_records([]))
    adj = reversals([record(1)], period="2026-12")
    with pytest.raises(StatementInputError):
        compute_statement(
            NOVEMBER, ("sc", "cq"), UsageTable.from_records([record(1)]), adjustments=adj
        )


def test_batches_must_cover_the_lines_and_checkpoints_cover_every_entry() -> None:
    records = [record(i, index=i) for i in range(5)]
    usage = UsageTable.from_records(records)
    total = sum(r.amount_fen for r in records)
    batch = BatchRef(
        "regions/sc/batches/cq/1",
        "sc",
        "cq",
        1,
        5,
        total,
        leaf("root"),
        leaf("digest"),
        provider_entry=EntryRef(log_origin("sc"), 7, leaf("b")),
    )
    # Only the batched usage entries (#0..#4) must be covered, not the batch's entry.
    small = CheckpointRef(log_origin("sc"), 4, leaf("cp4"))
    big = CheckpointRef(log_origin("sc"), 100, leaf("cp100"))
    fits = CheckpointRef(log_origin("sc"), 5, leaf("cp5"))
    content = compute_statement(
        NOVEMBER, ("sc", "cq"), usage, batches=[batch], checkpoints=[big, small, fits]
    )
    assert content.batches == (batch,)
    assert content.checkpoints == (fits,)  # the smallest that includes entry 4
    short = dataclasses.replace(batch, amount_fen=total - 1)
    with pytest.raises(StatementInputError, match="batches"):
        compute_statement(NOVEMBER, ("sc", "cq"), usage, batches=[short])
    with pytest.raises(StatementInputError, match="checkpoint"):
        compute_statement(NOVEMBER, ("sc", "cq"), usage, batches=[batch], checkpoints=[small])


def test_an_empty_period_still_has_a_statement() -> None:
    content = compute_statement(NOVEMBER, ("cq", "sc"), UsageTable.from_records([]))
    assert content.lines == ()
    assert content.net_fen == 0
    assert [t.direction for t in content.totals] == [("cq", "sc"), ("sc", "cq")]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
def test_entries_root_is_rfc9162(hashes: list[bytes]) -> None:
    expected = merkle.root_from_leaf_hashes(hashes) if hashes else EMPTY_ROOT
    assert entries_root(b"".join(hashes)) == expected


def test_statement_counts_zero_priced_use() -> None:
    free = [record(i, amount=0, tariff="") for i in range(4)]
    content = compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records(free))
    (line,) = content.lines
    assert (line.record_count, line.zero_priced_count, line.gross_fen) == (4, 4, 0)
    assert Counter(t.record_count for t in content.totals) == Counter({4: 1, 0: 1})
