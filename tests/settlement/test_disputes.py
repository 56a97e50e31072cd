"""Disputes: RAISED → EVIDENCE → RESPONDED → DECIDED, deadlines, holds, decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.settlement.adjustments import AdjustmentKind
from services.settlement.clock import ManualClock
from services.settlement.disputes import (
    MAX_EVIDENCE_BYTES,
    Dispute,
    DisputeEventKind,
    DisputeOutcome,
    DisputeState,
    Evidence,
    add_evidence,
    check_deadlines,
    decide,
    holds,
    raise_dispute,
    respond,
)
from services.settlement.errors import (
    DisputeDeadlinePassedError,
    EvidenceTooLargeError,
    InvalidDisputeError,
    InvalidStateTransitionError,
    NotDisputePartyError,
)
from services.settlement.model import EntryRef, log_origin
from services.settlement.statement import compute_statement
from services.settlement.usage import UsageTable
from tests.settlement.factories import NOVEMBER, leaf, record

RAISED_AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ENTRY = EntryRef(log_origin("sc"), 41, leaf("e41"))


def raised(clock: ManualClock, *, raiser_region: str = "cq", amount: int = 1200) -> Dispute:
    return raise_dispute(
        name="regions/cq/disputes/d1",
        raiser=f"regions/{raiser_region}/parties/fin",
        raiser_region=raiser_region,
        provider_region="sc",
        consumer_region="cq",
        period="2026-11",
        disputed_fen=amount,
        reason_code="DUPLICATE_RECORD",
        description="the same read was metered twice",
        entries=(ENTRY,),
        clock=clock,
    )


def evidence() -> list[Evidence]:
    return [Evidence("our consumption log", "text/csv", b"id,rows\nr1,10\n", (ENTRY,))]


def test_the_whole_life_of_a_dispute() -> None:
    clock = ManualClock(RAISED_AT)
    d = raised(clock)
    assert d.state is DisputeState.RAISED
    assert d.counterparty == "sc"
    assert d.hold is not None
    assert d.hold.amount_fen == 1200
    assert (d.evidence_deadline - RAISED_AT, d.response_deadline - RAISED_AT) == (
        timedelta(days=10),
        timedelta(days=20),
    )
    clock.advance(timedelta(days=2))
    d = add_evidence(d, evidence(), actor="regions/cq/parties/fin", actor_region="cq", clock=clock)
    assert d.state is DisputeState.EVIDENCE
    assert d.events[-1].evidence[0].submitter == "regions/cq/parties/fin"
    d = add_evidence(d, evidence(), actor="regions/sc/parties/fin", actor_region="sc", clock=clock)
    clock.advance(timedelta(days=5))
    d = respond(
        d,
        "half was a retry",
        actor="regions/sc/parties/fin",
        actor_region="sc",
        conceded_fen=600,
        clock=clock,
    )
    assert d.state is DisputeState.RESPONDED
    assert d.conceded_fen == 600
    clock.advance(timedelta(days=1))
    decided, adj = decide(
        d,
        outcome=DisputeOutcome.PARTIAL,
        awarded_fen=600,
        rationale="committee: half",
        decider="regions/cq/parties/op",
        landing_period="2026-12",
        adjustment_name="regions/cq/adjustments/dd1",
        clock=clock,
    )
    assert decided.state is DisputeState.DECIDED
    assert decided.hold is None
    assert [e.kind for e in decided.events] == [
        DisputeEventKind.RAISED,
        DisputeEventKind.EVIDENCE_ADDED,
        DisputeEventKind.EVIDENCE_ADDED,
        DisputeEventKind.RESPONDED,
        DisputeEventKind.DECIDED,
    ]
    # The consumer raised it: the decision lowers what cq owes sc, in the open period.
    assert (adj.kind, adj.amount_delta_fen, adj.period) == (
        AdjustmentKind.DISPUTE_DECISION,
        -600,
        "2026-12",
    )
    assert adj.corrects == ENTRY
    assert adj.dispute == d.name
    with pytest.raises(InvalidStateTransitionError):
        respond(decided, "late", actor="x", actor_region="sc", clock=clock)


def test_the_hold_keeps_the_amount_out_until_the_decision_posts_it() -> None:
    clock = ManualClock(RAISED_AT)
    d = raised(clock)
    records = [record(i, amount=1000) for i in range(3)]
    usage = UsageTable.from_records(records)
    held = compute_statement(NOVEMBER, ("sc", "cq"), usage, holds=holds([d], period="2026-11"))
    assert held.total("sc", "cq").disputed_fen == 1200
    assert held.net_fen == 3000 - 1200
    clock.advance(timedelta(days=21))
    d = check_deadlines(d, clock=clock)
    decided, adj = decide(
        d,
        outcome=DisputeOutcome.UPHELD,
        awarded_fen=1200,
        rationale="no response",
        decider="op",
        landing_period="2026-12",
        adjustment_name="regions/cq/adjustments/a",
        clock=clock,
    )
    assert holds([decided]) == ()
    assert adj.amount_delta_fen == -1200


def test_deadlines() -> None:
    clock = ManualClock(RAISED_AT)
    d = raised(clock)
    clock.advance(timedelta(days=10, seconds=1))
    with pytest.raises(DisputeDeadlinePassedError) as late:
        add_evidence(d, evidence(), actor="a", actor_region="cq", clock=clock)
    assert late.value.stage == "evidence"
    # Before the response deadline the dispute waits; deciding it is not allowed.
    with pytest.raises(InvalidStateTransitionError):
        decide(
            d,
            outcome=DisputeOutcome.REJECTED,
            awarded_fen=0,
            rationale="r",
            decider="op",
            landing_period="2026-12",
            adjustment_name="a",
            clock=clock,
        )
    clock.advance(timedelta(days=10))
    with pytest.raises(DisputeDeadlinePassedError):
        respond(d, "too late", actor="a", actor_region="sc", clock=clock)
    d = check_deadlines(d, clock=clock)
    assert d.state is DisputeState.RESPONDED
    missed = [e for e in d.events if e.kind is DisputeEventKind.DEADLINE_MISSED]
    assert [(e.stage, e.time) for e in missed] == [("response", d.response_deadline)]
    clock.advance(timedelta(days=30))
    d = check_deadlines(d, clock=clock)
    d = check_deadlines(d, clock=clock)  # idempotent
    stages = [e.stage for e in d.events if e.kind is DisputeEventKind.DEADLINE_MISSED]
    assert stages == ["response", "decision"]
    assert d.hold is not None  # money is never released by a timer


def test_who_may_act_and_what_a_decision_may_say() -> None:
    clock = ManualClock(RAISED_AT)
    d = raised(clock)
    with pytest.raises(NotDisputePartyError) as wrong:
        respond(d, "we raised it ourselves", actor="a", actor_region="cq", clock=clock)
    assert wrong.value.expected == "sc"
    with pytest.raises(NotDisputePartyError):
        add_evidence(d, evidence(), actor="a", actor_region="sg", clock=clock)
    with pytest.raises(InvalidDisputeError):
        respond(d, "more than asked", actor="a", actor_region="sc", conceded_fen=1201, clock=clock)
    d = respond(d, "no", actor="a", actor_region="sc", clock=clock)
    for outcome, awarded in (
        (DisputeOutcome.UPHELD, 1000),
        (DisputeOutcome.REJECTED, 5),
        (DisputeOutcome.PARTIAL, 1200),
        (DisputeOutcome.PARTIAL, 1300),
    ):
        with pytest.raises(InvalidDisputeError):
            decide(
                d,
                outcome=outcome,
                awarded_fen=awarded,
                rationale="r",
                decider="op",
                landing_period="2026-12",
                adjustment_name="a",
                clock=clock,
            )
    _, adj = decide(
        d,
        outcome=DisputeOutcome.REJECTED,
        awarded_fen=0,
        rationale="r",
        decider="op",
        landing_period="2026-12",
        adjustment_name="a",
        clock=clock,
    )
    assert adj.amount_delta_fen == 0


def test_a_provider_raised_dispute_increases_what_is_owed() -> None:
    clock = ManualClock(RAISED_AT)
    d = respond(raised(clock, raiser_region="sc"), "ok", actor="a", actor_region="cq", clock=clock)
    _, adj = decide(
        d,
        outcome=DisputeOutcome.UPHELD,
        awarded_fen=1200,
        rationale="under-billed",
        decider="op",
        landing_period="2026-12",
        adjustment_name="a",
        clock=clock,
    )
    assert adj.amount_delta_fen == 1200


def test_malformed_disputes_and_evidence() -> None:
    clock = ManualClock(RAISED_AT)
    with pytest.raises(InvalidDisputeError):
        raised(clock, amount=0)
    with pytest.raises(InvalidDisputeError):
        raised(clock, raiser_region="sg")
    with pytest.raises(EvidenceTooLargeError):
        Evidence("big", "application/pdf", b"x" * (MAX_EVIDENCE_BYTES + 1))
    assert Evidence("ok", "text/plain", b"x").content_digest.hex().startswith("2d711642")
