"""Disputes between two regions: RAISED → EVIDENCE → RESPONDED → DECIDED, with deadlines.

A region's finance disputes an amount of a period with the other region. Until the
dispute is decided its amount is held out of the statement's net and of netting
(:func:`holds`); the decision is posted as an adjustment (kind
``DISPUTE_DECISION``) in the current open period, which releases the hold::

    d = raise_dispute(name="regions/cq/disputes/d1", raiser="regions/cq/parties/fin",
                      raiser_region="cq", provider_region="sc", consumer_region="cq",
                      period="2026-11", disputed_fen=1200, reason_code="DUPLICATE_RECORD",
                      description="...", entries=(entry,), clock=clock)
    d = add_evidence(d, [Evidence(...)], actor=..., actor_region="cq", clock=clock)
    d = respond(d, "we agree on half", actor=..., actor_region="sc", conceded_fen=600,
                clock=clock)
    d, adj = decide(d, outcome=DisputeOutcome.PARTIAL, awarded_fen=600, rationale="...",
                    decider="regions/cq/parties/op", landing_period="2026-12",
                    adjustment_name="regions/cq/adjustments/x", clock=clock)

Stages and deadlines (from the raise time; :class:`DisputeDeadlines`, defaults 10,
20 and 30 days as the API says):

=========== ================================= ============================== =========
state       who may act                        next                           until
=========== ================================= ============================== =========
RAISED      either region: evidence            EVIDENCE                       evidence
RAISED,     the counterparty: respond          RESPONDED                      response
EVIDENCE
RESPONDED   an operator: decide                DECIDED (+ adjustment)         decision
=========== ================================= ============================== =========

:func:`check_deadlines` is what the node runs on a schedule: a response deadline
that passes moves the dispute to RESPONDED (the counterparty's silence is recorded
as ``DEADLINE_MISSED``), so it can be decided; a decision deadline that passes is
recorded once (the hold stays until someone decides: money is never released by a
timer). Missed-deadline events carry the deadline as their time, so both regions'
copies record the same history whenever their schedulers run.

What this module does NOT do: no storage, no messages to the other region (the
node sends a ``DisputeNotice`` for every step), no ledger appends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum

from services.settlement.adjustments import Adjustment, AdjustmentKind
from services.settlement.clock import Clock, utc
from services.settlement.errors import (
    DisputeDeadlinePassedError,
    EvidenceTooLargeError,
    InvalidDisputeError,
    InvalidStateTransitionError,
    NotDisputePartyError,
    SettlementValueError,
)
from services.settlement.model import DisputeHold, EntryRef, check_region, check_text
from services.settlement.money import check_fen

__all__ = [
    "MAX_EVIDENCE_BYTES",
    "Dispute",
    "DisputeDeadlines",
    "DisputeDecision",
    "DisputeEvent",
    "DisputeEventKind",
    "DisputeOutcome",
    "DisputeState",
    "Evidence",
    "add_evidence",
    "check_deadlines",
    "decide",
    "holds",
    "raise_dispute",
    "respond",
]

MAX_EVIDENCE_BYTES = 1 << 20
MAX_TEXT = 10_000
MAX_SHORT_TEXT = 2_000
_REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class DisputeState(IntEnum):
    """``bashu.settlement.v1.DisputeState`` (values are the wire numbers)."""

    RAISED = 1
    EVIDENCE = 2
    RESPONDED = 3
    DECIDED = 4


class DisputeEventKind(IntEnum):
    """``bashu.settlement.v1.DisputeEventKind``."""

    RAISED = 1
    EVIDENCE_ADDED = 2
    RESPONDED = 3
    DEADLINE_MISSED = 4
    DECIDED = 5


class DisputeOutcome(IntEnum):
    """``bashu.settlement.v1.DisputeOutcome``."""

    UPHELD = 1
    REJECTED = 2
    PARTIAL = 3


@dataclass(frozen=True)
class DisputeDeadlines:
    """How long after the raise each stage may take (an agreement setting)."""

    evidence: timedelta = timedelta(days=10)
    response: timedelta = timedelta(days=20)
    decision: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.evidence <= self.response <= self.decision:
            raise InvalidDisputeError("deadlines", "0 < evidence ≤ response ≤ decision")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: a document (≤ 1 MiB) and/or ledger entries cited."""

    description: str
    media_type: str = ""
    content: bytes = b""
    entries: tuple[EntryRef, ...] = ()
    submitter: str = ""
    submit_time: datetime | None = None

    def __post_init__(self) -> None:
        check_text(self.description, "evidence.description", max_len=MAX_SHORT_TEXT)
        check_text(self.media_type, "evidence.media_type", max_len=255, empty=True)
        if len(self.content) > MAX_EVIDENCE_BYTES:
            raise EvidenceTooLargeError("evidence.content", len(self.content), MAX_EVIDENCE_BYTES)
        if self.content and not self.media_type:
            raise InvalidDisputeError("evidence.media_type", "required with content")
        object.__setattr__(self, "entries", tuple(self.entries))

    @property
    def content_digest(self) -> bytes:
        return hashlib.sha256(self.content).digest()


@dataclass(frozen=True)
class DisputeEvent:
    """One step of a dispute's history. ``stage`` names the deadline of a
    ``DEADLINE_MISSED`` event ("response", "decision")."""

    kind: DisputeEventKind
    time: datetime
    actor: str = ""
    actor_region: str = ""
    text: str = ""
    evidence: tuple[Evidence, ...] = ()
    stage: str = ""


@dataclass(frozen=True)
class DisputeDecision:
    """The decision: the awarded amount is corrected in favour of the raiser."""

    outcome: DisputeOutcome
    awarded_fen: int
    rationale: str
    decider: str
    decide_time: datetime
    adjustment: str


@dataclass(frozen=True)
class Dispute:
    """A dispute over amounts of one period between two regions."""

    name: str
    raiser: str
    raiser_region: str
    counterparty: str
    period: str
    provider_region: str
    consumer_region: str
    disputed_fen: int
    reason_code: str
    description: str
    create_time: datetime
    deadlines: DisputeDeadlines
    state: DisputeState = DisputeState.RAISED
    entries: tuple[EntryRef, ...] = ()
    statement: str = ""
    events: tuple[DisputeEvent, ...] = ()
    conceded_fen: int | None = None
    decision: DisputeDecision | None = None
    update_time: datetime | None = field(default=None)

    def __post_init__(self) -> None:
        check_text(self.name, "name")
        check_text(self.raiser, "raiser")
        check_region(self.provider_region, "provider_region")
        check_region(self.consumer_region, "consumer_region")
        parties = {self.provider_region, self.consumer_region}
        if len(parties) != 2:
            raise InvalidDisputeError("consumer_region", "must differ from provider_region")
        if self.raiser_region not in parties or self.counterparty not in parties:
            raise InvalidDisputeError("counterparty", "raiser and counterparty are the two regions")
        if self.raiser_region == self.counterparty:
            raise InvalidDisputeError("counterparty", "a region cannot dispute with itself")
        check_text(self.period, "period", max_len=64)
        check_fen(self.disputed_fen, "disputed_amount")
        if self.disputed_fen == 0:
            raise InvalidDisputeError("disputed_amount", "must be positive")
        if not isinstance(self.reason_code, str) or not _REASON_CODE.fullmatch(self.reason_code):
            raise InvalidDisputeError("reason_code", "UPPER_SNAKE, e.g. DUPLICATE_RECORD")
        check_text(self.description, "description", max_len=MAX_TEXT)
        object.__setattr__(self, "create_time", utc(self.create_time, "create_time"))
        object.__setattr__(self, "entries", tuple(self.entries))
        if (self.state is DisputeState.DECIDED) != (self.decision is not None):
            raise InvalidDisputeError("decision", "a decision goes with DECIDED")

    @property
    def evidence_deadline(self) -> datetime:
        return self.create_time + self.deadlines.evidence

    @property
    def response_deadline(self) -> datetime:
        return self.create_time + self.deadlines.response

    @property
    def decision_deadline(self) -> datetime:
        return self.create_time + self.deadlines.decision

    @property
    def is_open(self) -> bool:
        return self.state is not DisputeState.DECIDED

    @property
    def hold(self) -> DisputeHold | None:
        """The amount held out of netting, while undecided."""
        if not self.is_open:
            return None
        return DisputeHold(self.name, self.provider_region, self.consumer_region, self.disputed_fen)

    def _missed(self, stage: str) -> bool:
        return any(
            e.kind is DisputeEventKind.DEADLINE_MISSED and e.stage == stage for e in self.events
        )


def _now(clock: Clock) -> datetime:
    return utc(clock(), "clock")


def _stamp(evidence: Sequence[Evidence], actor: str, now: datetime) -> tuple[Evidence, ...]:
    return tuple(replace(e, submitter=actor, submit_time=now) for e in evidence)


def raise_dispute(
    *,
    name: str,
    raiser: str,
    raiser_region: str,
    provider_region: str,
    consumer_region: str,
    period: str,
    disputed_fen: int,
    reason_code: str,
    description: str,
    clock: Clock,
    entries: Sequence[EntryRef] = (),
    evidence: Sequence[Evidence] = (),
    statement: str = "",
    deadlines: DisputeDeadlines | None = None,
) -> Dispute:
    """A new RAISED dispute against the other region of the pair."""
    now = _now(clock)
    counterparty = consumer_region if raiser_region == provider_region else provider_region
    try:
        return Dispute(
            name=name,
            raiser=raiser,
            raiser_region=raiser_region,
            counterparty=counterparty,
            period=period,
            provider_region=provider_region,
            consumer_region=consumer_region,
            disputed_fen=disputed_fen,
            reason_code=reason_code,
            description=description,
            create_time=now,
            deadlines=deadlines or DisputeDeadlines(),
            entries=tuple(entries),
            statement=statement,
            events=(
                DisputeEvent(
                    DisputeEventKind.RAISED,
                    now,
                    raiser,
                    raiser_region,
                    description,
                    _stamp(evidence, raiser, now),
                ),
            ),
            update_time=now,
        )
    except InvalidDisputeError:
        raise
    except SettlementValueError as exc:
        raise InvalidDisputeError(exc.field, exc.description) from None


def check_deadlines(dispute: Dispute, *, clock: Clock) -> Dispute:
    """Record deadlines that passed: a missed response moves RAISED/EVIDENCE to
    RESPONDED; a missed decision is noted once. Idempotent."""
    now = _now(clock)
    d = dispute
    if d.state in (DisputeState.RAISED, DisputeState.EVIDENCE) and now > d.response_deadline:
        event = DisputeEvent(
            DisputeEventKind.DEADLINE_MISSED,
            d.response_deadline,
            actor_region=d.counterparty,
            text="no response by the deadline",
            stage="response",
        )
        d = replace(d, state=DisputeState.RESPONDED, events=(*d.events, event), update_time=now)
    if d.is_open and now > d.decision_deadline and not d._missed("decision"):
        event = DisputeEvent(
            DisputeEventKind.DEADLINE_MISSED,
            d.decision_deadline,
            text="no decision by the deadline",
            stage="decision",
        )
        d = replace(d, events=(*d.events, event), update_time=now)
    return d


def _party(dispute: Dispute, region: str) -> None:
    if region not in (dispute.provider_region, dispute.consumer_region):
        raise NotDisputePartyError(
            dispute.name, region, f"{dispute.raiser_region} or {dispute.counterparty}"
        )


def add_evidence(
    dispute: Dispute,
    evidence: Sequence[Evidence],
    *,
    actor: str,
    actor_region: str,
    clock: Clock,
    comment: str = "",
) -> Dispute:
    """RAISED or EVIDENCE → EVIDENCE, by either region, until the evidence deadline."""
    now = _now(clock)
    if dispute.state not in (DisputeState.RAISED, DisputeState.EVIDENCE):
        raise InvalidStateTransitionError(dispute.name, dispute.state.name, "add evidence")
    _party(dispute, actor_region)
    if now > dispute.evidence_deadline:
        raise DisputeDeadlinePassedError(dispute.name, "evidence", dispute.evidence_deadline, now)
    if not evidence:
        raise InvalidDisputeError("evidence", "at least one piece")
    check_text(comment, "comment", max_len=MAX_SHORT_TEXT, empty=True)
    event = DisputeEvent(
        DisputeEventKind.EVIDENCE_ADDED,
        now,
        actor,
        actor_region,
        comment,
        _stamp(evidence, actor, now),
    )
    return replace(
        dispute, state=DisputeState.EVIDENCE, events=(*dispute.events, event), update_time=now
    )


def respond(
    dispute: Dispute,
    response: str,
    *,
    actor: str,
    actor_region: str,
    clock: Clock,
    conceded_fen: int = 0,
    evidence: Sequence[Evidence] = (),
) -> Dispute:
    """RAISED or EVIDENCE → RESPONDED, by the counterparty, until the response deadline."""
    now = _now(clock)
    if dispute.state not in (DisputeState.RAISED, DisputeState.EVIDENCE):
        raise InvalidStateTransitionError(dispute.name, dispute.state.name, "respond")
    if actor_region != dispute.counterparty:
        raise NotDisputePartyError(dispute.name, actor_region, dispute.counterparty)
    if now > dispute.response_deadline:
        raise DisputeDeadlinePassedError(dispute.name, "response", dispute.response_deadline, now)
    check_text(response, "response", max_len=MAX_TEXT)
    check_fen(conceded_fen, "conceded_amount")
    if conceded_fen > dispute.disputed_fen:
        raise InvalidDisputeError("conceded_amount", "above the disputed amount")
    event = DisputeEvent(
        DisputeEventKind.RESPONDED, now, actor, actor_region, response, _stamp(evidence, actor, now)
    )
    return replace(
        dispute,
        state=DisputeState.RESPONDED,
        events=(*dispute.events, event),
        conceded_fen=conceded_fen,
        update_time=now,
    )


def decide(
    dispute: Dispute,
    *,
    outcome: DisputeOutcome,
    awarded_fen: int,
    rationale: str,
    decider: str,
    landing_period: str,
    adjustment_name: str,
    clock: Clock,
) -> tuple[Dispute, Adjustment]:
    """RESPONDED (or any open state once the response deadline has passed) → DECIDED.

    Returns the decided dispute and the ``DISPUTE_DECISION`` adjustment to post in
    ``landing_period`` (the current open period): the awarded amount corrected in the
    raiser's favour (the consumer region owes less when it raised the dispute, more
    when the provider region did); 0 for REJECTED.
    """
    d = check_deadlines(dispute, clock=clock)
    now = _now(clock)
    if d.state is not DisputeState.RESPONDED:
        raise InvalidStateTransitionError(d.name, d.state.name, "decide")
    outcome = DisputeOutcome(outcome)
    check_fen(awarded_fen, "decision.awarded_amount")
    if awarded_fen > d.disputed_fen:
        raise InvalidDisputeError("decision.awarded_amount", "above the disputed amount")
    expected_ok = {
        DisputeOutcome.UPHELD: awarded_fen == d.disputed_fen,
        DisputeOutcome.REJECTED: awarded_fen == 0,
        DisputeOutcome.PARTIAL: 0 < awarded_fen < d.disputed_fen,
    }[outcome]
    if not expected_ok:
        raise InvalidDisputeError("decision.awarded_amount", f"does not fit outcome {outcome.name}")
    check_text(rationale, "decision.rationale", max_len=MAX_TEXT)
    check_text(decider, "decision.decider")
    sign = -1 if d.raiser_region == d.consumer_region else 1
    adjustment = Adjustment(
        name=adjustment_name,
        kind=AdjustmentKind.DISPUTE_DECISION,
        provider_region=d.provider_region,
        consumer_region=d.consumer_region,
        amount_delta_fen=sign * awarded_fen,
        period=landing_period,
        reason=rationale[:MAX_SHORT_TEXT],
        corrects=d.entries[0] if d.entries else None,
        dispute=d.name,
    )
    decision = DisputeDecision(outcome, awarded_fen, rationale, decider, now, adjustment_name)
    event = DisputeEvent(DisputeEventKind.DECIDED, now, decider, "", rationale)
    decided = replace(
        d,
        state=DisputeState.DECIDED,
        decision=decision,
        events=(*d.events, event),
        update_time=now,
    )
    return decided, adjustment


def holds(
    disputes: Iterable[Dispute], *, period: str | None = None, regions: Sequence[str] = ()
) -> tuple[DisputeHold, ...]:
    """Holds of the undecided disputes (of ``period`` and between ``regions`` when
    given), sorted by dispute: what a statement and netting keep out."""
    out = []
    for d in disputes:
        hold = d.hold
        if hold is None or (period is not None and d.period != period):
            continue
        if regions and {d.provider_region, d.consumer_region} != set(regions):
            continue
        out.append(hold)
    return tuple(sorted(out, key=lambda h: h.dispute))
