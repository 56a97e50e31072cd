"""Storage of settlement: periods, statements, signatures, adjustments, disputes.

The SQL edge of :mod:`services.settlement_service`: rows of the ``settlement_*``
tables (``services.models``, migration 0009) to and from the pure domain types of
:mod:`services.settlement`, the usage a statement is computed from, and the API form
of disputes and adjustments (disputes are stored in their API form, so the
conversions live here).

Usage a statement counts, for a pair (this region, counterparty):

* provider side — this region's usage records of the counterparty's consumers
  (``access_usage``, state RECORDED, in the ledger); arrival = when the record was
  written (``update_us``);
* consumer side — this region's consumption records of the counterparty's data
  (``market_consumption``, written by the consumer's home node, citing the
  provider's entry); arrival = ``create_us``.

Both sides name the PROVIDER's usage entry, so two honest ledgers give the same
lines. A record whose own period was CLOSED when it arrived counts in the next open
period, marked late (:func:`services.settlement.periods.assign_period`), so nothing
that arrives after a close changes the closed period. The records are read by
:func:`services.reconciliation_store.statement_usage` (one vectorised read, the
same one reconciliation and ``bench/settlement.py`` use).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.settlement.v1 import settlement_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.db import read_scope
from services.models import (
    ConsumptionRow,
    FederationBatch,
    SettlementAdjustment,
    SettlementDispute,
    SettlementDisputeEvent,
    SettlementPeriod,
    SettlementStatement,
    SettlementStatementSignature,
    UsageRow,
)
from services.reconciliation_store import statement_usage, usage_of_entry
from services.settlement import (
    Adjustment,
    AdjustmentKind,
    BatchRef,
    Cadence,
    CheckpointRef,
    Dispute,
    DisputeDeadlines,
    DisputeState,
    EntryRef,
    Evidence,
    Period,
    PeriodSpan,
    PeriodState,
    Quantity,
    RegionSignature,
    StatementContent,
    UsageTable,
    compute_statement,
    holds,
    log_origin,
)
from services.settlement.clock import from_micros, micros
from services.settlement.disputes import (
    DisputeDecision,
    DisputeEvent,
    DisputeEventKind,
    DisputeOutcome,
)

__all__ = [
    "UsageSource",
    "adjustment_from_row",
    "adjustment_proto",
    "dispute_from_rows",
    "dispute_proto",
    "entry_proto",
    "entry_ref",
    "event_proto",
    "evidence_from_proto",
    "load_adjustments",
    "load_dispute",
    "load_disputes",
    "load_periods",
    "period_from_row",
    "save_dispute",
    "signatures_of",
    "ts",
]


def ts(us: int | None) -> Timestamp | None:
    if us is None:
        return None
    t = Timestamp()
    t.FromMicroseconds(us)
    return t


def entry_proto(e: EntryRef) -> common_pb2.EntryRef:
    return common_pb2.EntryRef(origin=e.origin, index=e.index, leaf_hash=e.leaf_hash)


def entry_ref(e: common_pb2.EntryRef) -> EntryRef:
    """Domain form of an API entry ref (validated: SettlementValueError when malformed)."""
    return EntryRef(e.origin, e.index, bytes(e.leaf_hash))


# --- periods ------------------------------------------------------------------------


def period_from_row(row: SettlementPeriod) -> Period:
    span = PeriodSpan(from_micros(row.start_us), from_micros(row.end_us), row.period_id)
    return Period(
        span,
        PeriodState[row.state],
        timedelta(microseconds=row.grace_window_us),
        tuple(c for c in row.counterparties.split(",") if c),
        closing_time=None if row.closing_us is None else from_micros(row.closing_us),
        grace_end_time=None if row.grace_end_us is None else from_micros(row.grace_end_us),
        close_time=None if row.close_us is None else from_micros(row.close_us),
        closer=row.closer,
    )


def load_periods(session: Session) -> dict[str, Period]:
    return {
        row.period_id: period_from_row(row) for row in session.scalars(select(SettlementPeriod))
    }


# --- usage --------------------------------------------------------------------------


class UsageSource:
    """The usage records of one pair of regions on this node: the statement reader
    (:func:`services.reconciliation_store.statement_usage`, one vectorised read shared
    with reconciliation and the benchmark) plus the few counts and single-record
    lookups settlement needs, all on the caller's transaction."""

    def __init__(self, engine: Engine, region: str) -> None:
        self._engine = engine
        self._region = region

    def usage(
        self,
        session: Session,
        counterparty: str,
        span: PeriodSpan,
        cadence: Cadence,
        periods: dict[str, Period],
    ) -> UsageTable:
        """Every record of the pair that counts toward ``span`` (late ones flagged)."""
        return statement_usage(
            session.connection(), self._region, counterparty, span, cadence, periods
        )

    def late_count(
        self,
        session: Session,
        counterparties: Sequence[str],
        period: Period,
    ) -> int:
        """Records with event time in ``period`` that arrived after it closed."""
        if period.close_time is None or not counterparties:
            return 0
        start, end = micros(period.span.start), micros(period.span.end)
        closed = micros(period.close_time)
        u, c = UsageRow, ConsumptionRow
        provided = session.scalar(
            select(func.count()).where(
                u.consumer_region.in_(list(counterparties)),
                u.state == "RECORDED",
                u.ledger_index.is_not(None),
                u.time_us >= start,
                u.time_us < end,
                u.update_us >= closed,
            )
        )
        consumed = session.scalar(
            select(func.count()).where(
                c.provider_region.in_(list(counterparties)),
                c.ledger_index.is_not(None),
                c.usage_time_us >= start,
                c.usage_time_us < end,
                c.create_us >= closed,
            )
        )
        return int(provided or 0) + int(consumed or 0)

    def find_usage(self, session: Session, ref: EntryRef) -> dict[str, Any] | None:
        """The usage record behind a provider usage entry (ours or a peer's that one
        of our consumption records cites), as a row of the statement reader."""
        provider = ref.region
        if provider == self._region:
            row = session.execute(
                select(UsageRow.consumer_region).where(UsageRow.ledger_index == ref.index)
            ).first()
            if row is None:
                return None
            counterparty = str(row[0])
        else:
            counterparty = provider
        return usage_of_entry(
            session.connection(), self._region, counterparty, provider, ref.index, ref.leaf_hash
        )


# --- adjustments --------------------------------------------------------------------


def adjustment_from_row(row: SettlementAdjustment) -> Adjustment:
    corrects = None
    if row.corrects_origin and row.corrects_index is not None and row.corrects_leaf_hash:
        corrects = EntryRef(row.corrects_origin, row.corrects_index, row.corrects_leaf_hash)
    entry = None
    if row.ledger_index is not None and row.ledger_leaf_hash is not None:
        entry = EntryRef(log_origin(row.origin_region), row.ledger_index, row.ledger_leaf_hash)
    return Adjustment(
        name=row.name,
        kind=AdjustmentKind[row.kind],
        provider_region=row.provider_region,
        consumer_region=row.consumer_region,
        amount_delta_fen=row.amount_delta_fen,
        period=row.period,
        reason=row.reason,
        corrects=corrects,
        entry=entry,
        usage_record=row.usage_record,
        quantity_delta=Quantity(row.qty_calls, row.qty_rows, row.qty_bytes),
        tariff=row.tariff,
        dispute=row.dispute,
        exact_delta_fen=Decimal(row.exact_delta_fen) if row.exact_delta_fen else None,
    )


def adjustment_row(
    adj: Adjustment, *, origin_region: str, creator: str, create_us: int, request_id: str | None
) -> SettlementAdjustment:
    c = adj.corrects
    return SettlementAdjustment(
        name=adj.name,
        origin_region=origin_region,
        kind=adj.kind.name,
        corrects_origin=c.origin if c else "",
        corrects_index=c.index if c else None,
        corrects_leaf_hash=c.leaf_hash if c else None,
        usage_record=adj.usage_record,
        provider_region=adj.provider_region,
        consumer_region=adj.consumer_region,
        amount_delta_fen=adj.amount_delta_fen,
        qty_calls=adj.quantity_delta.calls,
        qty_rows=adj.quantity_delta.rows,
        qty_bytes=adj.quantity_delta.bytes,
        exact_delta_fen="" if adj.exact_delta_fen is None else str(adj.exact_delta_fen),
        tariff=adj.tariff,
        dispute=adj.dispute,
        reason=adj.reason,
        period=adj.period,
        creator=creator,
        request_id=request_id or None,
        create_us=create_us,
        ledger_index=adj.entry.index if adj.entry else None,
        ledger_leaf_hash=adj.entry.leaf_hash if adj.entry else None,
    )


def load_adjustments(
    session: Session, *, period: str | None = None, pair: Sequence[str] = ()
) -> list[Adjustment]:
    q = select(SettlementAdjustment).order_by(
        SettlementAdjustment.create_us, SettlementAdjustment.name
    )
    if period is not None:
        q = q.where(SettlementAdjustment.period == period)
    out = []
    for row in session.scalars(q):
        if pair and {row.provider_region, row.consumer_region} != set(pair):
            continue
        out.append(adjustment_from_row(row))
    return out


def adjustment_proto(adj: Adjustment, row: SettlementAdjustment) -> settlement_pb2.Adjustment:
    m = settlement_pb2.Adjustment(
        name=adj.name,
        kind=int(adj.kind),  # type: ignore[arg-type]
        usage_record=adj.usage_record,
        provider_region=adj.provider_region,
        consumer_region=adj.consumer_region,
        amount_delta=common_pb2.Money(currency_code="CNY", amount_fen=adj.amount_delta_fen),
        quantity_delta=common_pb2.Quantity(
            calls=adj.quantity_delta.calls,
            rows=adj.quantity_delta.rows,
            bytes=adj.quantity_delta.bytes,
        ),
        tariff=adj.tariff,
        dispute=adj.dispute,
        reason=adj.reason,
        period=adj.period,
        creator=row.creator,
        create_time=ts(row.create_us),
    )
    if adj.corrects is not None:
        m.corrects.CopyFrom(entry_proto(adj.corrects))
    if adj.entry is not None:
        m.ledger_entry.CopyFrom(entry_proto(adj.entry))
    return m


# --- disputes -----------------------------------------------------------------------


def _evidence_proto(e: Evidence) -> settlement_pb2.Evidence:
    return settlement_pb2.Evidence(
        description=e.description,
        media_type=e.media_type,
        content=e.content,
        content_digest=e.content_digest,
        entries=[entry_proto(x) for x in e.entries],
        submitter=e.submitter,
        submit_time=ts(None if e.submit_time is None else micros(e.submit_time)),
    )


def evidence_from_proto(m: settlement_pb2.Evidence) -> Evidence:
    return Evidence(
        description=m.description,
        media_type=m.media_type,
        content=bytes(m.content),
        entries=tuple(entry_ref(x) for x in m.entries),
        submitter=m.submitter,
        submit_time=from_micros(m.submit_time.ToMicroseconds())
        if m.HasField("submit_time")
        else None,
    )


def event_proto(e: DisputeEvent) -> settlement_pb2.DisputeEvent:
    return settlement_pb2.DisputeEvent(
        kind=int(e.kind),  # type: ignore[arg-type]
        actor=e.actor,
        actor_region=e.actor_region,
        time=ts(micros(e.time)),
        text=e.text,
        evidence=[_evidence_proto(x) for x in e.evidence],
    )


def _event_from(m: settlement_pb2.DisputeEvent, stage: str) -> DisputeEvent:
    return DisputeEvent(
        kind=DisputeEventKind(m.kind),
        time=from_micros(m.time.ToMicroseconds()),
        actor=m.actor,
        actor_region=m.actor_region,
        text=m.text,
        evidence=tuple(evidence_from_proto(x) for x in m.evidence),
        stage=stage,
    )


def _period_name(region: str, period: str) -> str:
    return f"regions/{region}/periods/{period}"


def dispute_proto(d: Dispute, *, with_events: bool = True) -> settlement_pb2.Dispute:
    m = settlement_pb2.Dispute(
        name=d.name,
        counterparty=d.counterparty,
        period=_period_name(d.raiser_region, d.period),
        statement=d.statement,
        entries=[entry_proto(e) for e in d.entries],
        disputed_amount=common_pb2.Money(currency_code="CNY", amount_fen=d.disputed_fen),
        provider_region=d.provider_region,
        consumer_region=d.consumer_region,
        reason_code=d.reason_code,
        description=d.description,
        state=int(d.state),  # type: ignore[arg-type]
        evidence_deadline=ts(micros(d.evidence_deadline)),
        response_deadline=ts(micros(d.response_deadline)),
        decision_deadline=ts(micros(d.decision_deadline)),
        raiser=d.raiser,
        create_time=ts(micros(d.create_time)),
        update_time=ts(None if d.update_time is None else micros(d.update_time)),
    )
    if with_events:
        m.events.extend(event_proto(e) for e in d.events)
    if d.decision is not None:
        dec = d.decision
        m.decision.CopyFrom(
            settlement_pb2.DisputeDecision(
                outcome=int(dec.outcome),  # type: ignore[arg-type]
                awarded_amount=common_pb2.Money(currency_code="CNY", amount_fen=dec.awarded_fen),
                rationale=dec.rationale,
                adjustment=dec.adjustment,
                decider=dec.decider,
                decide_time=ts(micros(dec.decide_time)),
            )
        )
    return m


def _stage_of(m: settlement_pb2.DisputeEvent) -> str:
    if m.kind != settlement_pb2.DISPUTE_EVENT_KIND_DEADLINE_MISSED:
        return ""
    return "decision" if "decision" in m.text else "response"


def dispute_from_proto(
    m: settlement_pb2.Dispute, events: Sequence[tuple[settlement_pb2.DisputeEvent, str]] = ()
) -> Dispute:
    """Domain form of a dispute's API form; ``events`` (with their stage) replace
    ``m.events`` when given."""
    raiser_region = m.name.split("/")[1] if m.name.startswith("regions/") else ""
    created = from_micros(m.create_time.ToMicroseconds())
    deadlines = DisputeDeadlines(
        evidence=from_micros(m.evidence_deadline.ToMicroseconds()) - created,
        response=from_micros(m.response_deadline.ToMicroseconds()) - created,
        decision=from_micros(m.decision_deadline.ToMicroseconds()) - created,
    )
    pairs = list(events) or [(e, _stage_of(e)) for e in m.events]
    decision = None
    if m.HasField("decision"):
        dec = m.decision
        decision = DisputeDecision(
            outcome=DisputeOutcome(dec.outcome),
            awarded_fen=dec.awarded_amount.amount_fen,
            rationale=dec.rationale,
            decider=dec.decider,
            decide_time=from_micros(dec.decide_time.ToMicroseconds()),
            adjustment=dec.adjustment,
        )
    conceded = None
    for e, _ in pairs:
        if e.kind == settlement_pb2.DISPUTE_EVENT_KIND_RESPONDED:
            conceded = 0
    return Dispute(
        name=m.name,
        raiser=m.raiser,
        raiser_region=raiser_region,
        counterparty=m.counterparty,
        period=m.period.rsplit("/", 1)[-1],
        provider_region=m.provider_region,
        consumer_region=m.consumer_region,
        disputed_fen=m.disputed_amount.amount_fen,
        reason_code=m.reason_code,
        description=m.description,
        create_time=created,
        deadlines=deadlines,
        state=DisputeState(m.state),
        entries=tuple(entry_ref(e) for e in m.entries),
        statement=m.statement,
        events=tuple(_event_from(e, stage) for e, stage in pairs),
        conceded_fen=conceded,
        decision=decision,
        update_time=from_micros(m.update_time.ToMicroseconds())
        if m.HasField("update_time")
        else None,
    )


def dispute_from_rows(row: SettlementDispute, events: Iterable[SettlementDisputeEvent]) -> Dispute:
    header = settlement_pb2.Dispute.FromString(row.header)
    pairs = [
        (settlement_pb2.DisputeEvent.FromString(e.event), e.stage)
        for e in sorted(events, key=lambda e: e.seq)
    ]
    return dispute_from_proto(header, pairs)


def load_dispute(session: Session, name: str, *, for_update: bool = False) -> Dispute | None:
    q = select(SettlementDispute).where(SettlementDispute.name == name)
    if for_update:
        q = q.with_for_update()
    row = session.scalars(q).first()
    if row is None:
        return None
    events = session.scalars(
        select(SettlementDisputeEvent).where(SettlementDisputeEvent.dispute == name)
    ).all()
    return dispute_from_rows(row, events)


def load_disputes(session: Session, *, period: str | None = None) -> list[Dispute]:
    q = select(SettlementDispute)
    if period is not None:
        q = q.where(SettlementDispute.period == period)
    rows = session.scalars(q).all()
    if not rows:
        return []
    names = [r.name for r in rows]
    events: dict[str, list[SettlementDisputeEvent]] = {n: [] for n in names}
    for e in session.scalars(
        select(SettlementDisputeEvent).where(SettlementDisputeEvent.dispute.in_(names))
    ):
        events[e.dispute].append(e)
    return [dispute_from_rows(r, events[r.name]) for r in rows]


def save_dispute(
    session: Session,
    d: Dispute,
    *,
    request_id: str | None = None,
    step_request_id: str | None = None,
    ledger: dict[int, EntryRef] | None = None,
) -> None:
    """Insert or bring up to date a dispute and its events (events are appended,
    never rewritten: only those past the stored count are added)."""
    header = dispute_proto(d, with_events=False).SerializeToString(deterministic=True)
    update_us = micros(d.update_time or d.create_time)
    row = session.get(SettlementDispute, d.name)
    if row is None:
        session.add(
            SettlementDispute(
                name=d.name,
                raiser_region=d.raiser_region,
                counterparty=d.counterparty,
                period=d.period,
                state=d.state.name,
                disputed_fen=d.disputed_fen,
                header=header,
                raiser=d.raiser,
                request_id=request_id or None,
                create_us=micros(d.create_time),
                update_us=update_us,
            )
        )
        have = 0
    else:
        row.state = d.state.name
        row.header = header
        row.update_us = update_us
        have = len(
            session.scalars(
                select(SettlementDisputeEvent.seq).where(SettlementDisputeEvent.dispute == d.name)
            ).all()
        )
    ledger = ledger or {}
    for seq in range(have, len(d.events)):
        e = d.events[seq]
        ref = ledger.get(seq)
        session.add(
            SettlementDisputeEvent(
                dispute=d.name,
                seq=seq,
                kind=e.kind.name,
                stage=e.stage,
                time_us=micros(e.time),
                event=event_proto(e).SerializeToString(deterministic=True),
                request_id=step_request_id if seq == len(d.events) - 1 else None,
                ledger_index=ref.index if ref else None,
                ledger_leaf_hash=ref.leaf_hash if ref else None,
            )
        )
    session.flush()


# --- statements ---------------------------------------------------------------------


def signatures_of(
    session: Session, period: str, counterparty: str, digest: bytes
) -> list[tuple[RegionSignature, SettlementStatementSignature]]:
    rows = session.scalars(
        select(SettlementStatementSignature).where(
            SettlementStatementSignature.period_id == period,
            SettlementStatementSignature.counterparty == counterparty,
            SettlementStatementSignature.content_digest == digest,
        )
    ).all()
    return [(RegionSignature(r.signer_region, r.key_name, r.key_id, r.signature), r) for r in rows]


def statement_rows(
    engine: Engine, period: str | None, states: Sequence[str] = ()
) -> list[SettlementStatement]:
    with read_scope(engine) as session:
        q = select(SettlementStatement).order_by(
            SettlementStatement.period_id, SettlementStatement.counterparty
        )
        if period is not None:
            q = q.where(SettlementStatement.period_id == period)
        if states:
            q = q.where(SettlementStatement.state.in_(list(states)))
        return list(session.scalars(q).all())


@dataclass(frozen=True)
class Loaded:
    """A stored statement with its parsed content and signatures."""

    row: SettlementStatement
    content: settlement_pb2.StatementContent
    signatures: list[tuple[RegionSignature, SettlementStatementSignature]]


def load_statement_row(session: Session, row: SettlementStatement) -> Loaded:
    sigs = signatures_of(session, row.period_id, row.counterparty, row.content_digest)
    return Loaded(row, settlement_pb2.StatementContent.FromString(row.content_body), sigs)


def signature_proto(s: RegionSignature, sign_us: int) -> common_pb2.Signature:
    return common_pb2.Signature(
        signer_region=s.signer_region,
        key_name=s.key_name,
        key_id=s.key_id,
        signature=s.signature,
        sign_time=ts(sign_us),
    )


def statement_message(region: str, loaded: Loaded) -> settlement_pb2.Statement:
    """The API form of a stored statement held by ``region``."""
    row = loaded.row
    m = settlement_pb2.Statement(
        name=f"regions/{region}/periods/{row.period_id}/statements/{row.counterparty}",
        counterparty=row.counterparty,
        content=loaded.content,
        content_body=row.content_body,
        content_digest=row.content_digest,
        signatures=[
            signature_proto(s, r.sign_us)
            for s, r in sorted(loaded.signatures, key=lambda x: x[0].signer_region)
        ],
        state=f"STATEMENT_STATE_{row.state}",
        refusal_reason=row.refusal_reason,
        create_time=ts(row.create_us),
        update_time=ts(row.update_us),
    )
    if row.ledger_index is not None and row.ledger_leaf_hash is not None:
        m.ledger_entry.CopyFrom(
            common_pb2.EntryRef(
                origin=log_origin(region), index=row.ledger_index, leaf_hash=row.ledger_leaf_hash
            )
        )
    return m


def signed_statements(
    engine: Engine, region: str, period: str, page_size: int, page_token: str
) -> tuple[list[settlement_pb2.Statement], str]:
    """FederationService.ListSignedStatements: this node's statements of ``period``
    signed by both regions, ordered by counterparty, paged by offset."""
    size = min(page_size or 50, 1000)
    try:
        start = int(page_token) if page_token else 0
    except ValueError:
        start = -1
    if start < 0 or page_size < 0:
        from services.errors import FieldViolation, InvalidArgumentError

        raise InvalidArgumentError([FieldViolation("page_token", "not a valid token")])
    rows = statement_rows(engine, period, ["SIGNED"])
    chunk = rows[start : start + size]
    with read_scope(engine) as session:
        out = [statement_message(region, load_statement_row(session, r)) for r in chunk]
    return out, (str(start + size) if start + size < len(rows) else "")


# --- batches ------------------------------------------------------------------------


def batches_covering(session: Session, pair: Sequence[str], usage: UsageTable) -> list[BatchRef]:
    """The countersigned usage batches of the pair whose entries are all counted in
    ``usage``, per direction, when they cover that direction's records and amounts
    exactly (what a statement may cite; a direction only partly batched cites none).

    Both regions hold each countersigned batch with the consumer's countersignature
    (``federation_batches.answer``), so both cite it alike: digest, control totals,
    Merkle root and the consumer's ``BatchCountersigned`` entry. The provider's
    ``BatchSealed`` entry is not cited: the consumer region does not learn its index.
    """
    a, b = sorted(pair)
    t = usage.table
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    counted: dict[str, pa.Array] = {}
    if t.num_rows:
        # Vectorised: a statement of a million records must not loop over them here.
        sums = t.group_by(["provider_region", "consumer_region"]).aggregate(
            [("amount_fen", "sum"), ("amount_fen", "count")]
        )
        for provider, consumer, fen, n in zip(
            sums.column("provider_region").to_pylist(),
            sums.column("consumer_region").to_pylist(),
            sums.column("amount_fen_sum").to_pylist(),
            sums.column("amount_fen_count").to_pylist(),
            strict=True,
        ):
            totals[(provider, consumer)] = (int(n), int(fen))
        for provider in {p for p, _ in totals}:
            mask = pc.equal(t.column("provider_region"), provider)
            counted[provider] = pc.unique(t.column("entry_index").filter(mask))
    rows = session.scalars(
        select(FederationBatch).where(
            FederationBatch.state == "COUNTERSIGNED",
            FederationBatch.provider_region.in_([a, b]),
            FederationBatch.consumer_region.in_([a, b]),
        )
    ).all()
    found: dict[tuple[str, str], list[BatchRef]] = {}
    for row in rows:
        if row.provider_region == row.consumer_region or row.answer is None:
            continue
        body = federation_pb2.UsageBatchBody.FromString(
            federation_pb2.UsageBatch.FromString(row.batch).body
        )
        indices = pa.array([e.index for e in body.entries], pa.int64())
        known = counted.get(row.provider_region)
        if not len(indices) or known is None:
            continue
        if not pc.all(pc.is_in(indices, value_set=known)).as_py():
            continue
        answer = federation_pb2.BatchCountersignature.FromString(row.answer)
        consumer_entry = None
        if answer.HasField("consumer_entry"):
            consumer_entry = EntryRef(
                log_origin(row.consumer_region),
                answer.consumer_entry.index,
                bytes(answer.consumer_entry.leaf_hash),
            )
        found.setdefault((row.provider_region, row.consumer_region), []).append(
            BatchRef(
                batch=body.name,
                provider_region=body.provider_region,
                consumer_region=body.consumer_region,
                sequence=body.sequence,
                record_count=body.record_count,
                amount_fen=body.total_amount.amount_fen,
                merkle_root=bytes(body.merkle_root),
                batch_digest=bytes.fromhex(row.digest),
                consumer_entry=consumer_entry,
            )
        )
    out: list[BatchRef] = []
    for direction, refs in sorted(found.items()):
        covered = (sum(r.record_count for r in refs), sum(r.amount_fen for r in refs))
        if covered == totals.get(direction, (0, 0)):
            out.extend(refs)
    return out


def statement_content(
    session: Session, region: str, counterparty: str, span: PeriodSpan, cadence: Cadence
) -> StatementContent:
    """The statement of ``region`` with ``counterparty`` for the closed period ``span``
    as this node computes it (what the node signs and what ``bench/settlement.py``
    times): the usage that counts (:func:`~services.reconciliation_store.statement_usage`),
    the period's adjustments, the held disputed amounts and the batches covered."""
    periods = load_periods(session)
    usage = statement_usage(session.connection(), region, counterparty, span, cadence, periods)
    pair = (region, counterparty)
    # A re-rating's rounding residue is known only to the region that posted it
    # (the API's Adjustment carries no exact amount), so it stays out of the
    # content both regions must reproduce; the lines' residues are shown.
    adjustments = [
        replace(a, exact_delta_fen=None)
        for a in load_adjustments(session, period=span.id, pair=pair)
    ]
    held = holds(load_disputes(session, period=span.id), period=span.id, regions=pair)
    batches = batches_covering(session, pair, usage)
    return compute_statement(
        span,
        pair,
        usage,
        adjustments=adjustments,
        holds=held,
        batches=batches,
        checkpoints=batch_checkpoints(session, batches),
    )


def batch_checkpoints(session: Session, batches: Sequence[BatchRef]) -> list[CheckpointRef]:
    """The signed checkpoints carried inside ``batches`` (each batch body holds a
    checkpoint of the provider's ledger that includes every batched entry): the
    candidates a statement cites from. Both regions hold the same signed batch bytes,
    so both offer the same candidates and select the same checkpoints."""
    if not batches:
        return []
    digests = [b.batch_digest.hex() for b in batches]
    rows = session.scalars(
        select(FederationBatch.batch).where(FederationBatch.digest.in_(digests))
    ).all()
    out: dict[tuple[str, int, bytes, str], CheckpointRef] = {}
    for raw in rows:
        body = federation_pb2.UsageBatchBody.FromString(
            federation_pb2.UsageBatch.FromString(raw).body
        )
        if not body.HasField("checkpoint"):
            continue
        cp = body.checkpoint
        ref = CheckpointRef(
            cp.origin,
            cp.tree_size,
            bytes(cp.root_hash),
            cp.signed_note,
            from_micros(cp.sign_time.ToMicroseconds()) if cp.HasField("sign_time") else None,
        )
        out.setdefault((ref.origin, ref.tree_size, ref.root_hash, ref.signed_note), ref)
    return [out[k] for k in sorted(out)]
