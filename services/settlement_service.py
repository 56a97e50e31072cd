"""SettlementService: periods, statements signed by both regions, netting,
corrections and disputes, wired to the node's ledger, database and federation.

:class:`SettlementBook` does the work on top of the pure core
(:mod:`services.settlement`) and the storage edge (:mod:`services.settlement_store`);
:class:`SettlementServicer` converts protobuf to calls on it and back (the
reconciliation methods come from :class:`ReconciliationServicerMixin`).

Periods. One cadence for the region (the agreements' default: calendar months, UTC,
5-day grace window; see docs/settlement.md). A period id names a period once its
start has passed; it is stored OPEN on first use. ``ClosePeriod`` moves OPEN →
CLOSING (or with ``end_grace_now`` CLOSING → CLOSED); the scheduler
(:meth:`SettlementBook.run_once`, run by the node every ``interval_s`` and on every
``ClosePeriod``) moves CLOSING periods whose grace window is over to CLOSED. Each
transition is a ``PeriodStatusChanged`` ledger entry (idempotency key
``period/{id}/{STATE}``, so two processes making the same move append one entry).
On CLOSED the statements with every counterparty are computed.

Statements. Computed with :func:`services.settlement.compute_statement`: one
rounding rule (each usage record's amount was rounded half-up once, when metered; a
statement only adds integers). Each distinct content computed is a ledger entry (a
``StatementSigned`` without signature, ``complete`` false). ``SignStatement``
recomputes the content from this node's ledger, signs the exact bytes, appends a
``StatementSigned`` entry and sends a ``StatementForSignature`` through the durable
outbox. The counterparty's handler verifies the sender's signature (a tampered
statement is REJECTED), recomputes from ITS OWN ledger and signs only identical
bytes (``StatementSignature``); otherwise it answers a refusal naming the first
difference. The answer's handler adds the
signature (SIGNED) or records the refusal (REFUSED).

Corrections and disputes. Corrections cite the entry they correct and land in the
current open period (``AdjustmentPosted`` entries). Disputes move RAISED → EVIDENCE
→ RESPONDED → DECIDED (``DisputeEventRecorded`` entries); every step goes to the
other region as a ``DisputeNotice`` so both keep the same dispute; the decision is
posted as a ``DISPUTE_DECISION`` adjustment and travels in the notice (the DECIDED
event cites the adjustment entry and carries the Adjustment message as evidence), so
both regions' statements list the same adjustment. Other corrections reach the
other region with the statement that lists them: the receiver fetches each cited
``AdjustmentPosted`` entry from the sender's ledger (``LedgerService.GetEntry``),
checks it against the cited leaf hash and keeps a copy before recomputing. A
re-rating's rounding residue is not part of the shared content (the API's
Adjustment carries no exact amount).

Batches. A statement cites the countersigned usage batches of the pair whose
entries it counts, per direction, when they cover that direction exactly
(:func:`services.settlement_store.batches_covering`). Not wired: checkpoints are not
listed (both sides leave them empty alike), and a record's arrival time is when
this node recorded it, not its batch's seal time (a seal after the close would
otherwise move a record out of a closed period).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import ledger_pb2, record_pb2
from bashu.settlement.v1 import settlement_pb2, settlement_pb2_grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError, Message
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ledger.log import Log
from ledger.note import Signer, Verifier
from services.db import read_scope, session_scope
from services.errors import (
    BashuError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from services.interceptors import current_principal
from services.models import (
    CatalogTariff,
    SettlementAdjustment,
    SettlementDispute,
    SettlementPeriod,
    SettlementStatement,
    SettlementStatementSignature,
)
from services.outbox import (
    Apply,
    HandlerContext,
    MessageHandlers,
    MessageRejectedError,
    Outbox,
    RetryLaterError,
)
from services.peers import PeerChannels, describe_rpc_error
from services.reconciliation_service import ReconciliationServicerMixin
from services.records import decode_record, encode_record
from services.settlement import (
    Adjustment,
    AdjustmentKind,
    Cadence,
    Dispute,
    DisputeDeadlines,
    DisputeOutcome,
    EntryRef,
    Evidence,
    NettingMode,
    Obligation,
    Period,
    PeriodState,
    RegionSignature,
    StatementContent,
    add_evidence,
    adjust,
    check_correction,
    check_deadlines,
    close_period,
    current_open_period,
    decide,
    log_origin,
    net,
    open_period,
    raise_dispute,
    re_rate,
    region_key_signer,
    region_key_verifier,
    respond,
    reverse,
    system_clock,
)
from services.settlement.clock import Clock, micros
from services.settlement.disputes import DisputeEventKind
from services.settlement.errors import (
    InvalidAdjustmentError,
    InvalidDisputeError,
    PeriodNotClosedError,
    SettlementValueError,
    StatementDigestMismatchError,
    StatementNotReproducibleError,
    StatementNotSignedError,
)
from services.settlement.netting import Netting
from services.settlement.periods import DEFAULT_GRACE_WINDOW, advance
from services.settlement.statement import signed_message
from services.settlement.usage import UsageRecord
from services.settlement_store import (
    Loaded,
    UsageSource,
    adjustment_from_row,
    adjustment_proto,
    adjustment_row,
    dispute_from_proto,
    dispute_proto,
    entry_ref,
    event_proto,
    evidence_from_proto,
    load_dispute,
    load_disputes,
    load_periods,
    load_statement_row,
    period_from_row,
    save_dispute,
    signature_proto,
    statement_content,
    statement_message,
    statement_rows,
    ts,
)

if TYPE_CHECKING:
    from services.registry import NodeContext

__all__ = [
    "ADJUSTMENT_MEDIA_TYPE",
    "SettlementBook",
    "SettlementScheduler",
    "SettlementServicer",
    "proto_difference",
]

log = logging.getLogger(__name__)

ADJUSTMENT_MEDIA_TYPE = "application/x-protobuf; proto=bashu.settlement.v1.Adjustment"
MK = federation_pb2.MessageKind
T = TypeVar("T")
_MAX_PAGE = 1000


def _party(region: str) -> str:
    return f"regions/{region}/parties/{current_principal().party_id}"


def _invalid(field: str, description: str, reason: str | None = None) -> InvalidArgumentError:
    return InvalidArgumentError([FieldViolation(field, description)], reason=reason)


def _money(fen: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="CNY", amount_fen=fen)


def proto_difference(ours: Message, theirs: Message, path: str = "") -> str | None:
    """The first field where two messages of one type differ, as
    ``"lines[3].gross_amount.amount_fen: 1200 != 1250"`` (None when equal)."""
    for field in ours.DESCRIPTOR.fields:
        name = f"{path}.{field.name}" if path else field.name
        a, b = getattr(ours, field.name), getattr(theirs, field.name)
        if field.is_repeated:
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                found = (
                    proto_difference(x, y, f"{name}[{i}]")
                    if field.message_type is not None
                    else (None if x == y else f"{name}[{i}]: {x!r} != {y!r}")
                )
                if found:
                    return found
            if len(a) != len(b):
                return f"{name}: {len(a)} items != {len(b)} items"
        elif field.message_type is not None:
            found = proto_difference(a, b, name)
            if found:
                return found
        elif a != b:
            show = (lambda v: v.hex()) if isinstance(a, bytes) else repr
            return f"{name}: {show(a)} != {show(b)}"
    return None


class SettlementBook:
    """Settlement of one region (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        region: str,
        signer: Signer,
        ledger: Log,
        *,
        counterparties: Sequence[str] = (),
        peer_keys: dict[str, Sequence[Verifier]] | None = None,
        outbox: Outbox | None = None,
        channels: PeerChannels | None = None,
        clock: Clock = system_clock,
        cadence: Cadence | None = None,
        grace_window: timedelta = DEFAULT_GRACE_WINDOW,
        deadlines: DisputeDeadlines | None = None,
        peer_timeout_s: float = 10.0,
    ) -> None:
        self.engine = engine
        self.region = region
        self.origin = log_origin(region)
        self.ledger = ledger
        self.signer = signer
        self.counterparties = tuple(sorted(counterparties))
        self.outbox = outbox
        self.channels = channels
        self.clock = clock
        self.cadence = cadence or Cadence.monthly()
        self.grace_window = grace_window
        self.deadlines = deadlines or DisputeDeadlines()
        self.usage = UsageSource(engine, region)
        self.node_actor = f"regions/{region}/node"
        self._peer_timeout_s = peer_timeout_s
        keys: dict[str, Sequence[Verifier]] = dict(peer_keys or {})
        keys[region] = [Verifier.from_vkey(signer.vkey())]
        self._keys = keys
        self.verifier = region_key_verifier(keys)
        self.sign_with = region_key_signer(region, signer)

    # --- plumbing ---------------------------------------------------------------------

    def register_handlers(self, handlers: MessageHandlers) -> None:
        # Replacing: a handler set handed to a node again (a restarted node in one
        # process) still holds the previous node's handlers, bound to a closed book.
        for kind, handler in (
            (MK.MESSAGE_KIND_STATEMENT_FOR_SIGNATURE, self.on_statement_for_signature),
            (MK.MESSAGE_KIND_STATEMENT_SIGNATURE, self.on_statement_signature),
            (MK.MESSAGE_KIND_DISPUTE_NOTICE, self.on_dispute_notice),
        ):
            handlers.register(kind, handler, replace=True)

    def _now(self) -> datetime:
        return self.clock()

    def _append(self, key: str, actor: str, **payload: Message) -> EntryRef:
        data = encode_record(self.region, actor, key, now=self._now().timestamp(), **payload)
        result = self.ledger.append(data, key)
        return EntryRef(self.origin, result.index, result.leaf_hash)

    def _send(self, session: Session, recipient: str, payload: Message) -> None:
        if self.outbox is None:
            raise UnavailableError(f"no federation to reach {recipient}", reason="PEER_UNAVAILABLE")
        self.outbox.enqueue(session, recipient, payload)

    # --- periods ----------------------------------------------------------------------

    def _ensure_period(self, session: Session, period_id: str) -> SettlementPeriod:
        row = session.get(SettlementPeriod, period_id)
        if row is not None:
            return row
        try:
            span = self.cadence.period(period_id)
        except SettlementValueError:
            raise NotFoundError(
                f"regions/{self.region}/periods/{period_id}", reason="PERIOD_NOT_FOUND"
            ) from None
        now = self._now()
        if span.start > now:
            raise NotFoundError(
                f"regions/{self.region}/periods/{period_id}", reason="PERIOD_NOT_FOUND"
            )
        p = open_period(span, grace_window=self.grace_window, counterparties=self.counterparties)
        row = SettlementPeriod(
            period_id=p.id,
            start_us=micros(span.start),
            end_us=micros(span.end),
            state=p.state.name,
            grace_window_us=micros(span.start + p.grace_window) - micros(span.start),
            counterparties=",".join(p.counterparties),
            closer="",
            closing_request_id="",
            close_request_id="",
            update_us=micros(now),
        )
        session.add(row)
        session.flush()
        return row

    def get_period(self, period_id: str) -> tuple[SettlementPeriod, int]:
        with session_scope(self.engine) as session:
            row = self._ensure_period(session, period_id)
        return row, self.late_count(row)

    def late_count(self, row: SettlementPeriod) -> int:
        """Records of the period that arrived after it closed (0 until CLOSED)."""
        if row.close_us is None:
            return 0
        with read_scope(self.engine) as session:
            return self.usage.late_count(session, self.counterparties, period_from_row(row))

    def list_periods(self, states: Sequence[str]) -> list[SettlementPeriod]:
        self.ensure_current()
        with read_scope(self.engine) as session:
            q = select(SettlementPeriod).order_by(SettlementPeriod.start_us.desc())
            if states:
                q = q.where(SettlementPeriod.state.in_(list(states)))
            return list(session.scalars(q).all())

    def ensure_current(self) -> None:
        with session_scope(self.engine) as session:
            self._ensure_period(session, self.cadence.period_of(self._now()).id)

    def _transition(
        self, period_id: str, change: Callable[[Period], Period], actor: str, request_id: str
    ) -> SettlementPeriod:
        """Apply ``change`` to the stored period: ledger entry first (idempotent by
        key), then the conditional row update."""
        with session_scope(self.engine) as session:
            row = self._ensure_period(session, period_id)
            before = period_from_row(row)
        after = change(before)
        if after == before:
            return row
        entry = self._append(
            f"period/{self.region}/{period_id}/{after.state.name}",
            actor,
            period_status_changed=record_pb2.PeriodStatusChanged(
                period=f"regions/{self.region}/periods/{period_id}",
                old_state=int(before.state),  # type: ignore[arg-type]
                new_state=int(after.state),  # type: ignore[arg-type]
            ),
        )
        values: dict[str, Any] = {
            "state": after.state.name,
            "closer": after.closer,
            "closing_us": None if after.closing_time is None else micros(after.closing_time),
            "grace_end_us": None if after.grace_end_time is None else micros(after.grace_end_time),
            "close_us": None if after.close_time is None else micros(after.close_time),
            "update_us": micros(self._now()),
            "ledger_index": entry.index,
            "ledger_leaf_hash": entry.leaf_hash,
        }
        if request_id:
            key = "close_request_id" if after.state is PeriodState.CLOSED else "closing_request_id"
            values[key] = request_id
        with session_scope(self.engine) as session:
            session.execute(
                update(SettlementPeriod)
                .where(
                    SettlementPeriod.period_id == period_id,
                    SettlementPeriod.state == before.state.name,
                )
                .values(**values)
            )
            row = session.get(SettlementPeriod, period_id)  # type: ignore[assignment]
            assert row is not None
        if after.state is PeriodState.CLOSED:
            self.compute_statements(period_id)
        return row

    def close(
        self, period_id: str, *, actor: str, end_grace_now: bool, request_id: str = ""
    ) -> SettlementPeriod:
        with session_scope(self.engine) as session:
            row = self._ensure_period(session, period_id)
            if request_id and request_id in (row.closing_request_id, row.close_request_id):
                return row
        row = self._transition(
            period_id,
            lambda p: close_period(p, clock=self.clock, actor=actor, end_grace_now=end_grace_now),
            actor,
            request_id,
        )
        self.run_once()
        with read_scope(self.engine) as session:
            fresh = session.get(SettlementPeriod, period_id)
            return fresh or row

    def run_once(self) -> None:
        """The scheduler step: the current period exists, CLOSING periods whose grace
        window is over close, and dispute deadlines are recorded."""
        self.ensure_current()
        with read_scope(self.engine) as session:
            closing = session.scalars(
                select(SettlementPeriod.period_id).where(SettlementPeriod.state == "CLOSING")
            ).all()
        for period_id in closing:
            self._transition(
                period_id,
                lambda p: advance(p, clock=self.clock, actor=self.node_actor),
                self.node_actor,
                "",
            )
        with read_scope(self.engine) as session:
            missing = [
                (p, cp)
                for p in session.scalars(
                    select(SettlementPeriod.period_id).where(SettlementPeriod.state == "CLOSED")
                ).all()
                for cp in self.counterparties
                if session.get(SettlementStatement, (p, cp)) is None
            ]
        for period_id, cp in missing:
            self._refresh_statement(period_id, cp)
        self._check_dispute_deadlines()

    # --- statements -------------------------------------------------------------------

    def _content(self, session: Session, period: Period, counterparty: str) -> StatementContent:
        return statement_content(session, self.region, counterparty, period.span, self.cadence)

    def _closed_period(self, session: Session, period_id: str) -> Period:
        period = period_from_row(self._ensure_period(session, period_id))
        if period.state is not PeriodState.CLOSED:
            raise PeriodNotClosedError(period_id, period.state.name)
        return period

    def compute_statements(self, period_id: str) -> None:
        for cp in self.counterparties:
            try:
                self._refresh_statement(period_id, cp)
            except BashuError:
                log.exception("statement %s with %s could not be computed", period_id, cp)

    def _refresh_statement(self, period_id: str, counterparty: str) -> SettlementStatement:
        """The stored statement, computed now if there is none, or recomputed when no
        region has signed it yet (a dispute or correction may have changed it). Each
        distinct content computed is pinned by a ``StatementSigned`` entry without a
        signature (``complete`` false), appended before the row changes."""
        with session_scope(self.engine) as session:
            period = self._closed_period(session, period_id)
        with read_scope(self.engine) as session:
            row = session.get(SettlementStatement, (period_id, counterparty))
            if row is not None and row.state in ("PARTIALLY_SIGNED", "SIGNED"):
                return row
            content = self._content(session, period, counterparty)
        if row is not None and row.content_body == content.body:
            return row
        entry = self._append(
            f"statement/{period_id}/{counterparty}/computed/{content.digest.hex()}",
            self.node_actor,
            statement_signed=record_pb2.StatementSigned(
                statement=self._statement_name(period_id, counterparty),
                content_body=content.body,
                content_digest=content.digest,
            ),
        )
        now = micros(self._now())
        with session_scope(self.engine) as session:
            row = session.get(SettlementStatement, (period_id, counterparty), with_for_update=True)
            if row is None:
                row = SettlementStatement(
                    period_id=period_id,
                    counterparty=counterparty,
                    content_body=content.body,
                    content_digest=content.digest,
                    state="UNSIGNED",
                    refusal_reason="",
                    create_us=now,
                    update_us=now,
                    ledger_index=entry.index,
                    ledger_leaf_hash=entry.leaf_hash,
                )
                session.add(row)
            elif row.state in ("UNSIGNED", "REFUSED") and row.content_body != content.body:
                row.content_body = content.body
                row.content_digest = content.digest
                row.state = "UNSIGNED"
                row.refusal_reason = ""
                row.update_us = now
                row.ledger_index = entry.index
                row.ledger_leaf_hash = entry.leaf_hash
            session.flush()
            return row

    def _check_counterparty(self, counterparty: str) -> None:
        if counterparty not in self.counterparties:
            raise NotFoundError(
                f"statement with {counterparty!r} (not a counterparty)",
                reason="STATEMENT_NOT_FOUND",
            )

    def load_statement(self, period_id: str, counterparty: str) -> Loaded:
        self._check_counterparty(counterparty)
        row = self._refresh_statement(period_id, counterparty)
        return self._loaded(row)

    def _loaded(self, row: SettlementStatement) -> Loaded:
        with read_scope(self.engine) as session:
            return load_statement_row(session, row)

    def list_statements(self, period_id: str | None, states: Sequence[str]) -> list[Loaded]:
        if period_id is not None:
            with session_scope(self.engine) as session:
                self._closed_period(session, period_id)
            for cp in self.counterparties:
                self._refresh_statement(period_id, cp)
        return [self._loaded(r) for r in statement_rows(self.engine, period_id, states)]

    def sign(self, period_id: str, counterparty: str, reviewed: bytes, *, actor: str) -> Loaded:
        loaded = self.load_statement(period_id, counterparty)
        row = loaded.row
        if reviewed and reviewed != row.content_digest:
            raise StatementDigestMismatchError(reviewed, row.content_digest)
        if row.state in ("PARTIALLY_SIGNED", "SIGNED"):
            return loaded
        # Sign only what this node reproduces from its own ledger right now.
        with read_scope(self.engine) as session:
            period = self._closed_period(session, period_id)
            ours = self._content(session, period, counterparty)
        if ours.body != row.content_body:
            raise StatementNotReproducibleError(
                period_id,
                proto_difference(
                    settlement_pb2.StatementContent.FromString(ours.body), loaded.content
                )
                or "content changed",
            )
        signature = self.sign_with(signed_message(row.content_body))
        entry = self._statement_entry(period_id, counterparty, row.content_body, signature, False)
        with session_scope(self.engine) as session:
            self._store_signature(
                session, period_id, counterparty, row.content_digest, signature, entry
            )
            session.execute(
                update(SettlementStatement)
                .where(
                    SettlementStatement.period_id == period_id,
                    SettlementStatement.counterparty == counterparty,
                    SettlementStatement.content_digest == row.content_digest,
                )
                .values(
                    state="PARTIALLY_SIGNED",
                    refusal_reason="",
                    update_us=micros(self._now()),
                    ledger_index=entry.index,
                    ledger_leaf_hash=entry.leaf_hash,
                )
            )
            self._send(
                session,
                counterparty,
                federation_pb2.StatementForSignature(
                    period=period_id,
                    content_body=row.content_body,
                    signature=signature_proto(signature, micros(self._now())),
                ),
            )
        return self.load_statement(period_id, counterparty)

    def _statement_name(self, period_id: str, counterparty: str) -> str:
        return f"regions/{self.region}/periods/{period_id}/statements/{counterparty}"

    def _statement_entry(
        self,
        period_id: str,
        counterparty: str,
        body: bytes,
        signature: RegionSignature,
        complete: bool,
    ) -> EntryRef:
        digest = hashlib.sha256(body).digest()
        return self._append(
            f"statement/{period_id}/{counterparty}/{signature.signer_region}/{digest.hex()}",
            self.node_actor,
            statement_signed=record_pb2.StatementSigned(
                statement=self._statement_name(period_id, counterparty),
                content_body=body,
                content_digest=digest,
                signature=signature_proto(signature, micros(self._now())),
                complete=complete,
            ),
        )

    def _store_signature(
        self,
        session: Session,
        period_id: str,
        counterparty: str,
        digest: bytes,
        signature: RegionSignature,
        entry: EntryRef | None,
    ) -> None:
        existing = session.get(
            SettlementStatementSignature, (period_id, counterparty, signature.signer_region)
        )
        if existing is not None:
            session.delete(existing)
            session.flush()
        session.add(
            SettlementStatementSignature(
                period_id=period_id,
                counterparty=counterparty,
                signer_region=signature.signer_region,
                content_digest=digest,
                key_name=signature.key_name,
                key_id=signature.key_id,
                signature=signature.signature,
                sign_us=micros(self._now()),
                ledger_index=entry.index if entry else None,
                ledger_leaf_hash=entry.leaf_hash if entry else None,
            )
        )

    # Counterparty side: a statement arrives for signature.
    def on_statement_for_signature(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        m = message.statement_for_signature
        theirs = _region_signature(m.signature)
        if theirs is None or theirs.signer_region != sender:
            raise MessageRejectedError("SIGNATURE_INVALID", "not signed by the sending region")
        if not self.verifier(signed_message(m.content_body), theirs):
            raise MessageRejectedError(
                "SIGNATURE_INVALID", f"{sender}'s signature does not verify over the content"
            )
        try:
            their_content = settlement_pb2.StatementContent.FromString(m.content_body)
        except DecodeError as exc:
            raise MessageRejectedError("INVALID_ARGUMENT", f"content: {exc}") from None
        if their_content.period != m.period or sorted(their_content.regions) != sorted(
            (sender, self.region)
        ):
            raise MessageRejectedError("INVALID_ARGUMENT", "period or regions do not match")
        if sender not in self.counterparties:
            raise MessageRejectedError("PEER_UNKNOWN", f"{sender} is not a counterparty")
        self._copy_cited_adjustments(sender, their_content)
        try:
            row = self._refresh_statement(m.period, sender)
        except PeriodNotClosedError as exc:
            # Finance here has not closed the period yet: the sender's outbox retries.
            raise RetryLaterError("PERIOD_NOT_CLOSED", exc.message) from None
        except NotFoundError as exc:
            raise RetryLaterError("PERIOD_NOT_FOUND", exc.message) from None
        digest = hashlib.sha256(m.content_body).digest()
        if row.content_body != m.content_body:
            ours = settlement_pb2.StatementContent.FromString(row.content_body)
            difference = proto_difference(ours, their_content) or "content digest differs"
            reason = f"{self.region} cannot reproduce the statement: {difference}"
            log.warning("refusing %s's statement of %s: %s", sender, m.period, difference)

            def refuse(session: Session) -> None:
                session.execute(
                    update(SettlementStatement)
                    .where(
                        SettlementStatement.period_id == m.period,
                        SettlementStatement.counterparty == sender,
                        SettlementStatement.state.in_(["UNSIGNED", "REFUSED"]),
                    )
                    .values(state="REFUSED", refusal_reason=reason, update_us=micros(self._now()))
                )
                self._send(
                    session,
                    sender,
                    federation_pb2.StatementSignature(
                        period=m.period, content_digest=digest, refused=True, refusal_reason=reason
                    ),
                )

            return refuse
        ours_sig = self.sign_with(signed_message(m.content_body))
        self._statement_entry(m.period, sender, m.content_body, theirs, False)
        entry = self._statement_entry(m.period, sender, m.content_body, ours_sig, True)

        def accept(session: Session) -> None:
            self._store_signature(session, m.period, sender, digest, theirs, None)
            self._store_signature(session, m.period, sender, digest, ours_sig, entry)
            session.execute(
                update(SettlementStatement)
                .where(
                    SettlementStatement.period_id == m.period,
                    SettlementStatement.counterparty == sender,
                )
                .values(
                    state="SIGNED",
                    refusal_reason="",
                    update_us=micros(self._now()),
                    ledger_index=entry.index,
                    ledger_leaf_hash=entry.leaf_hash,
                )
            )
            self._send(
                session,
                sender,
                federation_pb2.StatementSignature(
                    period=m.period,
                    content_digest=digest,
                    signature=signature_proto(ours_sig, micros(self._now())),
                ),
            )

        return accept

    def _copy_cited_adjustments(
        self, sender: str, content: settlement_pb2.StatementContent
    ) -> None:
        """Corrections the sender posted in its own ledger reach this region in the
        statements that list them: each cited AdjustmentPosted entry this node does
        not hold is fetched from the sender's ledger, checked against the cited leaf
        hash (RFC 9162: SHA-256(0x00 || entry)) and kept as a copy, so the statement
        is recomputed here with it. An entry that does not match is not copied (the
        statement is then refused with the difference)."""
        origin = log_origin(sender)
        wanted = [a for a in content.adjustments if a.entry.origin == origin]
        if not wanted:
            return
        with read_scope(self.engine) as session:
            held = set(
                session.scalars(
                    select(SettlementAdjustment.name).where(
                        SettlementAdjustment.name.in_([a.adjustment for a in wanted])
                    )
                ).all()
            )
        copies = []
        for a in wanted:
            if a.adjustment in held:
                continue
            if self.channels is None:
                raise RetryLaterError("PEER_UNAVAILABLE", "no federation channels")
            try:
                got = self.channels.ledger(sender).GetEntry(
                    ledger_pb2.GetEntryRequest(log=f"regions/{sender}/log", index=a.entry.index),
                    timeout=self._peer_timeout_s,
                )
            except grpc.RpcError as err:
                raise RetryLaterError("PEER_UNAVAILABLE", describe_rpc_error(err)) from None
            data = bytes(got.entry.data)
            if hashlib.sha256(b"\x00" + data).digest() != bytes(a.entry.leaf_hash):
                log.warning("%s's entry #%d does not match the cited leaf", sender, a.entry.index)
                continue
            record = decode_record(data)
            if record.WhichOneof("payload") != "adjustment" or record.region != sender:
                continue
            posted = record.adjustment.adjustment
            posted.ledger_entry.CopyFrom(a.entry)
            if {posted.provider_region, posted.consumer_region} != {sender, self.region}:
                continue
            copies.append(self._adjustment_row_of(posted, sender))
        if copies:
            with session_scope(self.engine) as session:
                for row in copies:
                    if session.get(SettlementAdjustment, row.name) is None:
                        session.add(row)

    # Signer side: the counterparty's signature (or refusal) comes back.
    def on_statement_signature(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        m = message.statement_signature
        with read_scope(self.engine) as session:
            row = session.get(SettlementStatement, (m.period, sender))
        if row is None or row.content_digest != m.content_digest:
            log.warning("signature of %s for an unknown statement content of %s", sender, m.period)
            return None
        if m.refused:
            reason = m.refusal_reason or f"{sender} refused to sign"

            def refused(session: Session) -> None:
                session.execute(
                    update(SettlementStatement)
                    .where(
                        SettlementStatement.period_id == m.period,
                        SettlementStatement.counterparty == sender,
                        SettlementStatement.content_digest == m.content_digest,
                    )
                    .values(state="REFUSED", refusal_reason=reason, update_us=micros(self._now()))
                )

            return refused
        theirs = _region_signature(m.signature)
        if (
            theirs is None
            or theirs.signer_region != sender
            or not self.verifier(signed_message(row.content_body), theirs)
        ):
            raise MessageRejectedError("SIGNATURE_INVALID", "the signature does not verify")
        entry = self._statement_entry(m.period, sender, row.content_body, theirs, True)

        def signed(session: Session) -> None:
            self._store_signature(session, m.period, sender, m.content_digest, theirs, entry)
            session.execute(
                update(SettlementStatement)
                .where(
                    SettlementStatement.period_id == m.period,
                    SettlementStatement.counterparty == sender,
                    SettlementStatement.content_digest == m.content_digest,
                )
                .values(
                    state="SIGNED",
                    refusal_reason="",
                    update_us=micros(self._now()),
                    ledger_index=entry.index,
                    ledger_leaf_hash=entry.leaf_hash,
                )
            )

        return signed

    def signed_statements(self, period_id: str) -> list[Loaded]:
        """Statements of ``period_id`` signed by both regions (ListSignedStatements)."""
        return [self._loaded(r) for r in statement_rows(self.engine, period_id, ["SIGNED"])]

    # --- netting ----------------------------------------------------------------------

    def netting(
        self,
        period_id: str,
        regions: Sequence[str],
        mode: NettingMode | None,
        allow_unsigned: bool,
    ) -> Netting:
        with read_scope(self.engine) as session:
            if session.get(SettlementPeriod, period_id) is None:
                raise NotFoundError(
                    f"regions/{self.region}/periods/{period_id}", reason="PERIOD_NOT_FOUND"
                )
        names = sorted(set(regions) | {self.region}) if regions else None
        if names is None:
            names = sorted({self.region, *self.counterparties})
        if len(names) < 2:
            raise _invalid("regions", "at least two regions")
        contents: dict[frozenset[str], tuple[settlement_pb2.StatementContent, bool]] = {}
        for cp in names:
            if cp == self.region:
                continue
            self._check_counterparty(cp)
            loaded = self.load_statement(period_id, cp)
            contents[frozenset((self.region, cp))] = (
                loaded.content,
                loaded.row.state == "SIGNED",
            )
        others = [r for r in names if r != self.region]
        for i, a in enumerate(others):
            for b in others[i + 1 :]:
                got = self._fetch_signed(period_id, a, b)
                if got is not None:
                    contents[frozenset((a, b))] = (got, True)
        obligations: list[Obligation] = []
        all_signed = True
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                found = contents.get(frozenset((a, b)))
                if found is None or not found[1]:
                    if not allow_unsigned:
                        raise StatementNotSignedError(f"{period_id}/{a}-{b}")
                    all_signed = False
                if found is None:
                    continue
                c = found[0]
                digest = hashlib.sha256(c.SerializeToString(deterministic=True)).hexdigest()
                a0, b0 = c.regions
                if c.net_amount.amount_fen:
                    obligations.append(
                        Obligation(
                            c.net_payer_region, c.net_payee_region, c.net_amount.amount_fen, digest
                        )
                    )
                else:
                    obligations.append(Obligation(b0, a0, 0, digest))
        extra = []
        with read_scope(self.engine) as session:
            for d in load_disputes(session, period=period_id):
                hold = d.hold
                pair = frozenset((d.provider_region, d.consumer_region))
                if hold is None or pair not in contents:
                    continue
                if not pair <= set(names):
                    continue
                if not any(h.dispute == d.name for h in contents[pair][0].disputed):
                    extra.append(hold)
        return net(
            period_id,
            obligations,
            mode=mode,
            regions=names,
            extra_holds=extra,
            all_statements_signed=all_signed,
        )

    def _fetch_signed(
        self, period_id: str, a: str, b: str
    ) -> settlement_pb2.StatementContent | None:
        """The statement between two other regions, from either of them, with both
        signatures checked."""
        if self.channels is None:
            raise UnavailableError("no federation", reason="PEER_UNAVAILABLE")
        errors = []
        for peer in (a, b):
            try:
                response = self.channels.federation(peer).ListSignedStatements(
                    federation_pb2.ListSignedStatementsRequest(period=period_id, page_size=1000),
                    timeout=self._peer_timeout_s,
                )
            except grpc.RpcError as err:
                errors.append(f"{peer}: {describe_rpc_error(err)}")
                continue
            for s in response.statements:
                content = settlement_pb2.StatementContent.FromString(s.content_body)
                if sorted(content.regions) != sorted((a, b)) or content.period != period_id:
                    continue
                sigs = [_region_signature(x) for x in s.signatures]
                message = signed_message(s.content_body)
                signers = {
                    x.signer_region for x in sigs if x is not None and self.verifier(message, x)
                }
                if signers >= {a, b}:
                    return content
            return None
        raise UnavailableError(
            f"no statement of {a}-{b}: " + "; ".join(errors), reason="PEER_UNAVAILABLE"
        )

    # --- corrections ------------------------------------------------------------------

    def _landing_period(self, session: Session) -> str:
        periods = load_periods(session)
        landing = current_open_period(self.cadence, periods, self._now())
        self._ensure_period(session, landing)
        return landing

    def create_adjustment(
        self, m: settlement_pb2.Adjustment, *, actor: str, request_id: str
    ) -> tuple[Adjustment, SettlementAdjustment]:
        if request_id:
            with read_scope(self.engine) as session:
                row = session.scalars(
                    select(SettlementAdjustment).where(
                        SettlementAdjustment.creator == actor,
                        SettlementAdjustment.request_id == request_id,
                    )
                ).first()
                if row is not None:
                    return adjustment_from_row(row), row
        if m.kind == settlement_pb2.ADJUSTMENT_KIND_DISPUTE_DECISION:
            raise InvalidAdjustmentError("kind", "dispute decisions are posted by DecideDispute")
        if m.kind not in (1, 2, 3):
            raise InvalidAdjustmentError("kind", "REVERSAL, ADJUSTMENT or RE_RATING")
        if not m.HasField("corrects"):
            raise InvalidAdjustmentError("corrects", "must cite the entry it corrects")
        try:
            corrects = entry_ref(m.corrects)
        except SettlementValueError as exc:
            raise InvalidAdjustmentError(exc.field, exc.description) from None
        name = f"regions/{self.region}/adjustments/{uuid.uuid4().hex[:16]}"
        with session_scope(self.engine) as session:
            landing = self._landing_period(session)
            found = self.usage.find_usage(session, corrects)
            record = None
            if found is not None:
                record = UsageRecord(
                    record_id=found["record_id"],
                    entry=corrects,
                    provider_region=found["provider_region"],
                    consumer_region=found["consumer_region"],
                    product=found["product"],
                    tariff=found["tariff"],
                    purpose_class=found["purpose_class"],
                    event_time=found["event_time"],
                    quantity=_quantity(found["calls"], found["rows"], found["bytes"]),
                    amount_fen=found["amount_fen"],
                )
            elif m.kind != settlement_pb2.ADJUSTMENT_KIND_ADJUSTMENT or not self._is_adjustment(
                session, corrects
            ):
                raise NotFoundError(str(corrects), reason="ENTRY_NOT_FOUND")
            kind = AdjustmentKind(m.kind)
            if self.region not in (
                record.provider_region if record else m.provider_region,
                record.consumer_region if record else m.consumer_region,
            ):
                raise InvalidAdjustmentError(
                    "corrects", "not a use between this region and another"
                )
            if kind is AdjustmentKind.REVERSAL:
                assert record is not None
                adj = reverse(record, name=name, period=landing, reason=m.reason)
            elif kind is AdjustmentKind.RE_RATING:
                assert record is not None
                adj = re_rate(
                    record,
                    tariff=m.tariff,
                    exact_fen=self._exact_at(session, m.tariff, record),
                    name=name,
                    period=landing,
                    reason=m.reason,
                )
            else:
                q = m.quantity_delta
                adj = adjust(
                    corrects,
                    provider_region=record.provider_region if record else m.provider_region,
                    consumer_region=record.consumer_region if record else m.consumer_region,
                    amount_delta_fen=m.amount_delta.amount_fen,
                    name=name,
                    period=landing,
                    reason=m.reason,
                    quantity_delta=_quantity(q.calls, q.rows, q.bytes, signed=True),
                    usage_record=record.record_id if record else "",
                )
            existing = [
                adjustment_from_row(r)
                for r in session.scalars(
                    select(SettlementAdjustment).where(
                        SettlementAdjustment.corrects_origin == corrects.origin,
                        SettlementAdjustment.corrects_index == corrects.index,
                    )
                )
            ]
            check_correction(adj, existing)
            if kind is AdjustmentKind.RE_RATING and any(
                e.kind is AdjustmentKind.REVERSAL for e in existing
            ):
                raise InvalidAdjustmentError("corrects", "a reversed entry cannot be re-rated")
        adj, row, _ = self._post_adjustment(adj, name, actor, request_id)
        with session_scope(self.engine) as session:
            session.add(row)
        return adj, row

    def _post_adjustment(
        self, adj: Adjustment, name: str, actor: str, request_id: str
    ) -> tuple[Adjustment, SettlementAdjustment, EntryRef]:
        """Append ``adj`` as an AdjustmentPosted entry; the posted adjustment, its row
        (not yet added to a session) and the entry."""
        create_us = micros(self._now())
        entry = self._append(
            f"adjustment/{name}",
            actor,
            adjustment=record_pb2.AdjustmentPosted(
                adjustment=_unposted(adjustment_proto(adj, _creator_row(actor, create_us)))
            ),
        )
        posted = adj.posted(entry)
        row = adjustment_row(
            posted,
            origin_region=self.region,
            creator=actor,
            create_us=create_us,
            request_id=request_id,
        )
        return posted, row, entry

    def _is_adjustment(self, session: Session, ref: EntryRef) -> bool:
        a = SettlementAdjustment
        return (
            session.scalars(
                select(a.name).where(
                    a.origin_region == ref.region,
                    a.ledger_index == ref.index,
                    a.ledger_leaf_hash == ref.leaf_hash,
                )
            ).first()
            is not None
        )

    def _exact_at(self, session: Session, tariff: str, record: UsageRecord) -> Decimal:
        """The exact (unrounded) fen of ``record`` at ``tariff`` (this region's)."""
        parts = tariff.split("/")
        if (
            len(parts) != 6
            or parts[0] != "regions"
            or parts[2] != "products"
            or parts[4] != "tariffs"
        ):
            raise InvalidAdjustmentError("tariff", "regions/{r}/products/{p}/tariffs/{version}")
        if parts[1] != self.region or record.provider_region != self.region:
            raise InvalidAdjustmentError("tariff", "only the provider region re-rates its uses")
        if f"regions/{parts[1]}/products/{parts[3]}" != record.product:
            raise InvalidAdjustmentError("tariff", "a tariff of another product")
        try:
            version = int(parts[5])
        except ValueError:
            raise InvalidAdjustmentError("tariff", "version must be a number") from None
        row = session.get(CatalogTariff, (parts[3], version))
        if row is None:
            raise NotFoundError(tariff, reason="TARIFF_NOT_FOUND")
        prices: dict[str, str] = json.loads(row.purpose_prices or "{}")
        purpose = record.purpose_class.name
        price = Decimal(prices.get(purpose, row.unit_price or "0") or "0")
        q = record.quantity
        units = {
            "PER_CALL": Decimal(q.calls),
            "PER_ROW": Decimal(q.rows),
            "PER_MIB": Decimal(q.bytes) / Decimal(1_048_576),
        }.get(row.unit, Decimal(0))
        return units * price * 100

    def get_adjustment(self, name: str) -> tuple[Adjustment, SettlementAdjustment]:
        with read_scope(self.engine) as session:
            row = session.get(SettlementAdjustment, name)
        if row is None:
            raise NotFoundError(name, reason="ADJUSTMENT_NOT_FOUND")
        return adjustment_from_row(row), row

    def list_adjustments(
        self, period: str, counterparty: str
    ) -> list[tuple[Adjustment, SettlementAdjustment]]:
        with read_scope(self.engine) as session:
            q = select(SettlementAdjustment).order_by(
                SettlementAdjustment.create_us, SettlementAdjustment.name
            )
            if period:
                q = q.where(SettlementAdjustment.period == period)
            rows = session.scalars(q).all()
        out = []
        for r in rows:
            if counterparty and counterparty not in (r.provider_region, r.consumer_region):
                continue
            out.append((adjustment_from_row(r), r))
        return out

    # --- disputes ---------------------------------------------------------------------

    def _record_events(self, d: Dispute, start: int, actor: str) -> dict[int, EntryRef]:
        refs = {}
        for seq in range(start, len(d.events)):
            e = d.events[seq]
            amount = 0
            if e.kind is DisputeEventKind.RAISED:
                amount = d.disputed_fen
            elif e.kind is DisputeEventKind.DECIDED and d.decision is not None:
                amount = d.decision.awarded_fen
            refs[seq] = self._append(
                f"dispute/{d.name}/{seq}",
                e.actor or actor,
                dispute_event=record_pb2.DisputeEventRecorded(
                    dispute=d.name,
                    state=int(d.state),  # type: ignore[arg-type]
                    event=event_proto(e),
                    amount=_money(amount),
                ),
            )
        return refs

    def _notify(self, session: Session, d: Dispute) -> None:
        other = d.counterparty if d.raiser_region == self.region else d.raiser_region
        self._send(
            session,
            other,
            federation_pb2.DisputeNotice(dispute=dispute_proto(d), event=event_proto(d.events[-1])),
        )

    def _check_entries(self, entries: Iterable[EntryRef]) -> None:
        size = self.ledger.size()
        for e in entries:
            if e.region != self.region:
                continue
            if e.index >= size or self.ledger.get_entry(e.index).leaf_hash != e.leaf_hash:
                raise NotFoundError(str(e), reason="ENTRY_NOT_FOUND")

    def raise_dispute(
        self,
        m: settlement_pb2.Dispute,
        evidence: Sequence[settlement_pb2.Evidence],
        *,
        actor: str,
        request_id: str,
    ) -> Dispute:
        if request_id:
            with read_scope(self.engine) as session:
                name = session.scalars(
                    select(SettlementDispute.name).where(
                        SettlementDispute.raiser == actor,
                        SettlementDispute.request_id == request_id,
                    )
                ).first()
                if name is not None:
                    found = load_dispute(session, name)
                    assert found is not None
                    return found
        period_id = m.period.rsplit("/", 1)[-1]
        if not period_id:
            raise InvalidDisputeError("period", "required, regions/{region}/periods/{period}")
        if self.region not in (m.provider_region, m.consumer_region):
            raise InvalidDisputeError(
                "provider_region", "this region must be the provider or the consumer region"
            )
        try:
            entries = [entry_ref(e) for e in m.entries]
            ev = [evidence_from_proto(e) for e in evidence]
        except SettlementValueError as exc:
            raise InvalidDisputeError(exc.field, exc.description) from None
        self._check_entries(entries)
        name = f"regions/{self.region}/disputes/{uuid.uuid4().hex[:16]}"
        with session_scope(self.engine) as session:
            self._ensure_period(session, period_id)
        d = raise_dispute(
            name=name,
            raiser=actor,
            raiser_region=self.region,
            provider_region=m.provider_region,
            consumer_region=m.consumer_region,
            period=period_id,
            disputed_fen=m.disputed_amount.amount_fen,
            reason_code=m.reason_code,
            description=m.description,
            clock=self.clock,
            entries=entries,
            evidence=ev,
            statement=m.statement,
            deadlines=self.deadlines,
        )
        if m.counterparty and m.counterparty != d.counterparty:
            raise InvalidDisputeError("counterparty", f"must be {d.counterparty}")
        if d.counterparty not in self.counterparties:
            raise InvalidDisputeError("counterparty", f"{d.counterparty} is not a counterparty")
        refs = self._record_events(d, 0, actor)
        with session_scope(self.engine) as session:
            save_dispute(session, d, request_id=request_id, ledger=refs)
            self._notify(session, d)
        return d

    def _step(
        self,
        name: str,
        change: Callable[[Dispute], Dispute],
        *,
        actor: str,
        request_id: str,
    ) -> Dispute:
        with read_scope(self.engine) as session:
            d = load_dispute(session, name)
            if d is None:
                raise NotFoundError(name, reason="DISPUTE_NOT_FOUND")
            if request_id:
                from services.models import SettlementDisputeEvent

                done = session.scalars(
                    select(SettlementDisputeEvent.seq).where(
                        SettlementDisputeEvent.dispute == name,
                        SettlementDisputeEvent.request_id == request_id,
                    )
                ).first()
                if done is not None:
                    return d
        after = change(d)
        refs = self._record_events(after, len(d.events), actor)
        with session_scope(self.engine) as session:
            save_dispute(session, after, step_request_id=request_id, ledger=refs)
            self._notify(session, after)
        return after

    def add_evidence(
        self,
        name: str,
        evidence: Sequence[settlement_pb2.Evidence],
        comment: str,
        *,
        actor: str,
        request_id: str,
    ) -> Dispute:
        try:
            ev = [evidence_from_proto(e) for e in evidence]
        except SettlementValueError as exc:
            raise InvalidDisputeError(exc.field, exc.description) from None
        return self._step(
            name,
            lambda d: add_evidence(
                d, ev, actor=actor, actor_region=self.region, clock=self.clock, comment=comment
            ),
            actor=actor,
            request_id=request_id,
        )

    def respond(
        self,
        name: str,
        response: str,
        evidence: Sequence[settlement_pb2.Evidence],
        conceded_fen: int,
        *,
        actor: str,
        request_id: str,
    ) -> Dispute:
        ev = [evidence_from_proto(e) for e in evidence]
        return self._step(
            name,
            lambda d: respond(
                d,
                response,
                actor=actor,
                actor_region=self.region,
                clock=self.clock,
                conceded_fen=conceded_fen,
                evidence=ev,
            ),
            actor=actor,
            request_id=request_id,
        )

    def decide(
        self,
        name: str,
        outcome: int,
        awarded_fen: int,
        rationale: str,
        *,
        actor: str,
        request_id: str,
    ) -> tuple[Dispute, Adjustment, SettlementAdjustment]:
        try:
            out = DisputeOutcome(outcome)
        except ValueError:
            raise InvalidDisputeError("decision.outcome", "UPHELD, REJECTED or PARTIAL") from None
        with session_scope(self.engine) as session:
            d = load_dispute(session, name)
            if d is None:
                raise NotFoundError(name, reason="DISPUTE_NOT_FOUND")
            if d.decision is not None:
                row = session.get(SettlementAdjustment, d.decision.adjustment)
                if row is not None and request_id and row.request_id == request_id:
                    return d, adjustment_from_row(row), row
            landing = self._landing_period(session)
        adj_name = f"regions/{self.region}/adjustments/{uuid.uuid4().hex[:16]}"
        decided, adj = decide(
            d,
            outcome=out,
            awarded_fen=awarded_fen,
            rationale=rationale,
            decider=actor,
            landing_period=landing,
            adjustment_name=adj_name,
            clock=self.clock,
        )
        adj, row, entry = self._post_adjustment(adj, adj_name, actor, request_id)
        # The DECIDED step carries the posted adjustment, so the other region lists the
        # same adjustment (same entry) in its statements.
        posted = adjustment_proto(adj, row)
        last = decided.events[-1]
        decided = replace(
            decided,
            events=(
                *decided.events[:-1],
                replace(
                    last,
                    evidence=(
                        Evidence(
                            description=f"decision posted as {adj_name}",
                            media_type=ADJUSTMENT_MEDIA_TYPE,
                            content=posted.SerializeToString(deterministic=True),
                            entries=(entry,),
                            submitter=actor,
                            submit_time=last.time,
                        ),
                    ),
                ),
            ),
        )
        # Deadline events check_deadlines may have added come before the decision.
        refs = self._record_events(decided, len(d.events), actor)
        with session_scope(self.engine) as session:
            session.add(row)
            save_dispute(session, decided, step_request_id=request_id, ledger=refs)
            self._notify(session, decided)
        return decided, adj, row

    def get_dispute(self, name: str) -> Dispute:
        with read_scope(self.engine) as session:
            d = load_dispute(session, name)
        if d is None:
            raise NotFoundError(name, reason="DISPUTE_NOT_FOUND")
        return d

    def list_disputes(
        self, raiser_region: str, states: Sequence[int], counterparty: str, period: str
    ) -> list[Dispute]:
        with read_scope(self.engine) as session:
            found = load_disputes(session, period=period or None)
        out = []
        for d in found:
            if raiser_region not in ("-", d.raiser_region) and raiser_region != self.region:
                continue
            if states and int(d.state) not in states:
                continue
            if counterparty and counterparty not in (d.provider_region, d.consumer_region):
                continue
            out.append(d)
        return sorted(out, key=lambda d: (d.create_time, d.name), reverse=True)

    def on_dispute_notice(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        try:
            incoming = dispute_from_proto(message.dispute_notice.dispute)
        except (SettlementValueError, ValueError, IndexError) as exc:
            raise MessageRejectedError("INVALID_DISPUTE", str(exc)) from None
        if {sender, self.region} != {incoming.provider_region, incoming.consumer_region}:
            raise MessageRejectedError("NOT_DISPUTE_PARTY", "a dispute between other regions")
        with read_scope(self.engine) as session:
            local = load_dispute(session, incoming.name)
        have = 0 if local is None else len(local.events)
        if have >= len(incoming.events):
            return None
        refs = self._record_events(incoming, have, f"regions/{sender}/node")
        copies: list[SettlementAdjustment] = []
        for e in incoming.events[have:]:
            for ev in e.evidence:
                if ev.media_type == ADJUSTMENT_MEDIA_TYPE and ev.content:
                    copies.append(self._adjustment_copy(ev, sender))

        def apply(session: Session) -> None:
            save_dispute(session, incoming, ledger=refs)
            for row in copies:
                if session.get(SettlementAdjustment, row.name) is None:
                    session.add(row)

        return apply

    def _adjustment_copy(self, ev: Evidence, sender: str) -> SettlementAdjustment:
        m = settlement_pb2.Adjustment.FromString(ev.content)
        if not m.name.startswith(f"regions/{sender}/") or not m.HasField("ledger_entry"):
            raise MessageRejectedError(
                "INVALID_ADJUSTMENT", "decision adjustment of another region"
            )
        return self._adjustment_row_of(m, sender)

    def _adjustment_row_of(self, m: settlement_pb2.Adjustment, sender: str) -> SettlementAdjustment:
        """This node's copy of ``sender``'s posted adjustment (entry in ``m.ledger_entry``)."""
        corrects = entry_ref(m.corrects) if m.HasField("corrects") else None
        q = m.quantity_delta
        adj = Adjustment(
            name=m.name,
            kind=AdjustmentKind(m.kind),
            provider_region=m.provider_region,
            consumer_region=m.consumer_region,
            amount_delta_fen=m.amount_delta.amount_fen,
            period=m.period,
            reason=m.reason,
            corrects=corrects,
            entry=entry_ref(m.ledger_entry),
            usage_record=m.usage_record,
            quantity_delta=_quantity(q.calls, q.rows, q.bytes, signed=True),
            tariff=m.tariff,
            dispute=m.dispute,
        )
        return adjustment_row(
            adj,
            origin_region=sender,
            creator=m.creator,
            create_us=m.create_time.ToMicroseconds(),
            request_id=None,
        )

    def _check_dispute_deadlines(self) -> None:
        with read_scope(self.engine) as session:
            disputes = [d for d in load_disputes(session) if d.is_open]
        for d in disputes:
            after = check_deadlines(d, clock=self.clock)
            if len(after.events) == len(d.events):
                continue
            refs = self._record_events(after, len(d.events), self.node_actor)
            with session_scope(self.engine) as session:
                save_dispute(session, after, ledger=refs)
                if d.raiser_region == self.region:
                    self._notify(session, after)


def _quantity(calls: int, rows: int, nbytes: int, *, signed: bool = False) -> Any:
    from services.settlement import Quantity

    q = Quantity(calls, rows, nbytes)
    return q if signed else q.check_non_negative()


def _creator_row(actor: str, create_us: int) -> SettlementAdjustment:
    return SettlementAdjustment(creator=actor, create_us=create_us)


def _unposted(m: settlement_pb2.Adjustment) -> settlement_pb2.Adjustment:
    m.ClearField("ledger_entry")
    return m


def _region_signature(m: common_pb2.Signature) -> RegionSignature | None:
    try:
        return RegionSignature(m.signer_region, m.key_name, m.key_id, bytes(m.signature))
    except BashuError:
        return None


# --- the scheduler --------------------------------------------------------------------


class SettlementScheduler:
    """Runs :meth:`SettlementBook.run_once` every ``interval_s`` on a thread (started
    and stopped with the node, like the witness)."""

    def __init__(self, book: SettlementBook, interval_s: float = 60.0) -> None:
        self.book = book
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="settlement", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.book.run_once()
            except Exception:
                log.exception("settlement scheduler step failed")

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()


# --- the servicer ---------------------------------------------------------------------


def _page(items: Sequence[T], size: int, token: str) -> tuple[Sequence[T], str]:
    if size < 0:
        raise _invalid("page_size", "must not be negative")
    size = min(size or 50, _MAX_PAGE)
    try:
        start = int(token) if token else 0
    except ValueError:
        raise _invalid("page_token", "not a token from a previous response") from None
    if start < 0:
        raise _invalid("page_token", "not a token from a previous response")
    chunk = items[start : start + size]
    return chunk, (str(start + size) if start + size < len(items) else "")


def _parts(name: str, field: str, *pattern: str) -> list[str]:
    """``regions/{r}/periods/{p}`` style names: the variable parts, or INVALID_ARGUMENT."""
    parts = name.split("/")
    if len(parts) != len(pattern) or any(
        (want != "*" and got != want) or not got for got, want in zip(parts, pattern, strict=True)
    ):
        raise _invalid(field, f"must be {'/'.join(pattern)} (got {name!r})")
    return [got for got, want in zip(parts, pattern, strict=True) if want == "*"]


class SettlementServicer(
    ReconciliationServicerMixin, settlement_pb2_grpc.SettlementServiceServicer
):
    def __init__(self, book: SettlementBook, ctx: NodeContext) -> None:
        self._book = book
        self.book = book
        # The reconciliation mixin builds its work from the node context.
        self._ctx = ctx
        self._region = book.region

    # -- helpers --

    def _own(self, region: str, field: str) -> None:
        if region != self._region:
            raise _invalid(field, f"this node serves region {self._region}, not {region!r}")

    def _period_id(self, name: str, field: str = "name") -> str:
        region, period = _parts(name, field, "regions", "*", "periods", "*")
        self._own(region, field)
        return period

    def _period(self, row: SettlementPeriod, late: int) -> settlement_pb2.Period:
        p = period_from_row(row)
        m = settlement_pb2.Period(
            name=f"regions/{self._region}/periods/{row.period_id}",
            time_range=common_pb2.TimeRange(start_time=ts(row.start_us), end_time=ts(row.end_us)),
            state=int(p.state),  # type: ignore[arg-type]
            counterparties=list(p.counterparties),
            closing_time=ts(row.closing_us),
            grace_end_time=ts(row.grace_end_us),
            close_time=ts(row.close_us),
            closer=row.closer,
            late_record_count=late,
        )
        grace = Duration()
        grace.FromMicroseconds(row.grace_window_us)
        m.grace_window.CopyFrom(grace)
        if row.ledger_index is not None and row.ledger_leaf_hash is not None:
            m.ledger_entry.CopyFrom(
                common_pb2.EntryRef(
                    origin=self._book.origin, index=row.ledger_index, leaf_hash=row.ledger_leaf_hash
                )
            )
        return m

    def _statement(self, loaded: Loaded) -> settlement_pb2.Statement:
        return statement_message(self._region, loaded)

    # -- periods --

    def ListPeriods(
        self, request: settlement_pb2.ListPeriodsRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ListPeriodsResponse:
        (region,) = _parts(request.parent, "parent", "regions", "*")
        self._own(region, "parent")
        states = [
            settlement_pb2.PeriodState.Name(s).removeprefix("PERIOD_STATE_") for s in request.states
        ]
        rows = self._book.list_periods(states)
        chunk, token = _page(rows, request.page_size, request.page_token)
        return settlement_pb2.ListPeriodsResponse(
            periods=[self._period(r, self._book.late_count(r)) for r in chunk],
            next_page_token=token,
        )

    def GetPeriod(
        self, request: settlement_pb2.GetPeriodRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.GetPeriodResponse:
        row, late = self._book.get_period(self._period_id(request.name))
        return settlement_pb2.GetPeriodResponse(period=self._period(row, late))

    def ClosePeriod(
        self, request: settlement_pb2.ClosePeriodRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ClosePeriodResponse:
        period_id = self._period_id(request.name)
        row = self._book.close(
            period_id,
            actor=_party(self._region),
            end_grace_now=request.end_grace_now,
            request_id=request.request_id,
        )
        return settlement_pb2.ClosePeriodResponse(
            period=self._period(row, self._book.late_count(row))
        )

    # -- statements --

    def _statement_name(self, name: str) -> tuple[str, str]:
        region, period, cp = _parts(name, "name", "regions", "*", "periods", "*", "statements", "*")
        self._own(region, "name")
        return period, cp

    def GetStatement(
        self, request: settlement_pb2.GetStatementRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.GetStatementResponse:
        period, cp = self._statement_name(request.name)
        return settlement_pb2.GetStatementResponse(
            statement=self._statement(self._book.load_statement(period, cp))
        )

    def ListStatements(
        self, request: settlement_pb2.ListStatementsRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ListStatementsResponse:
        period = self._period_id(request.parent, "parent")
        states = [
            settlement_pb2.StatementState.Name(s).removeprefix("STATEMENT_STATE_")
            for s in request.states
        ]
        found = self._book.list_statements(None if period == "-" else period, states)
        chunk, token = _page(found, request.page_size, request.page_token)
        return settlement_pb2.ListStatementsResponse(
            statements=[self._statement(s) for s in chunk], next_page_token=token
        )

    def SignStatement(
        self, request: settlement_pb2.SignStatementRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.SignStatementResponse:
        period, cp = self._statement_name(request.name)
        if request.content_digest and len(request.content_digest) != 32:
            raise _invalid("content_digest", "32 bytes (SHA-256)")
        loaded = self._book.sign(
            period, cp, bytes(request.content_digest), actor=_party(self._region)
        )
        return settlement_pb2.SignStatementResponse(statement=self._statement(loaded))

    # -- netting --

    def ComputeNetting(
        self, request: settlement_pb2.ComputeNettingRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ComputeNettingResponse:
        (region,) = _parts(request.parent, "parent", "regions", "*")
        self._own(region, "parent")
        if not request.period:
            raise _invalid("period", "required, for example 2026-11")
        mode = NettingMode(request.mode) if request.mode else None
        n = self._book.netting(request.period, list(request.regions), mode, request.allow_unsigned)
        return settlement_pb2.ComputeNettingResponse(netting=netting_proto(n, self._book.clock()))

    # -- adjustments --

    def CreateAdjustment(
        self, request: settlement_pb2.CreateAdjustmentRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.CreateAdjustmentResponse:
        (region,) = _parts(request.parent, "parent", "regions", "*")
        self._own(region, "parent")
        adj, row = self._book.create_adjustment(
            request.adjustment, actor=_party(self._region), request_id=request.request_id
        )
        return settlement_pb2.CreateAdjustmentResponse(adjustment=adjustment_proto(adj, row))

    def GetAdjustment(
        self, request: settlement_pb2.GetAdjustmentRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.GetAdjustmentResponse:
        _parts(request.name, "name", "regions", "*", "adjustments", "*")
        adj, row = self._book.get_adjustment(request.name)
        return settlement_pb2.GetAdjustmentResponse(adjustment=adjustment_proto(adj, row))

    def ListAdjustments(
        self, request: settlement_pb2.ListAdjustmentsRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ListAdjustmentsResponse:
        (region,) = _parts(request.parent, "parent", "regions", "*")
        self._own(region, "parent")
        found = self._book.list_adjustments(request.period, request.counterparty)
        chunk, token = _page(found, request.page_size, request.page_token)
        return settlement_pb2.ListAdjustmentsResponse(
            adjustments=[adjustment_proto(a, r) for a, r in chunk], next_page_token=token
        )

    # -- disputes --

    def RaiseDispute(
        self, request: settlement_pb2.RaiseDisputeRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.RaiseDisputeResponse:
        (region,) = _parts(request.parent, "parent", "regions", "*")
        self._own(region, "parent")
        d = self._book.raise_dispute(
            request.dispute,
            list(request.evidence),
            actor=_party(self._region),
            request_id=request.request_id,
        )
        return settlement_pb2.RaiseDisputeResponse(dispute=dispute_proto(d))

    def _dispute_name(self, name: str) -> str:
        _parts(name, "name", "regions", "*", "disputes", "*")
        return name

    def AddDisputeEvidence(
        self, request: settlement_pb2.AddDisputeEvidenceRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.AddDisputeEvidenceResponse:
        d = self._book.add_evidence(
            self._dispute_name(request.name),
            list(request.evidence),
            request.comment,
            actor=_party(self._region),
            request_id=request.request_id,
        )
        return settlement_pb2.AddDisputeEvidenceResponse(dispute=dispute_proto(d))

    def RespondToDispute(
        self, request: settlement_pb2.RespondToDisputeRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.RespondToDisputeResponse:
        d = self._book.respond(
            self._dispute_name(request.name),
            request.response,
            list(request.evidence),
            request.conceded_amount.amount_fen,
            actor=_party(self._region),
            request_id=request.request_id,
        )
        return settlement_pb2.RespondToDisputeResponse(dispute=dispute_proto(d))

    def DecideDispute(
        self, request: settlement_pb2.DecideDisputeRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.DecideDisputeResponse:
        dec = request.decision
        d, adj, row = self._book.decide(
            self._dispute_name(request.name),
            dec.outcome,
            dec.awarded_amount.amount_fen,
            dec.rationale,
            actor=_party(self._region),
            request_id=request.request_id,
        )
        return settlement_pb2.DecideDisputeResponse(
            dispute=dispute_proto(d), adjustment=adjustment_proto(adj, row)
        )

    def GetDispute(
        self, request: settlement_pb2.GetDisputeRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.GetDisputeResponse:
        d = self._book.get_dispute(self._dispute_name(request.name))
        return settlement_pb2.GetDisputeResponse(dispute=dispute_proto(d))

    def ListDisputes(
        self, request: settlement_pb2.ListDisputesRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ListDisputesResponse:
        (region,) = _parts(request.parent, "parent", "regions", "*")
        found = self._book.list_disputes(
            region, [int(s) for s in request.states], request.counterparty, request.period
        )
        chunk, token = _page(found, request.page_size, request.page_token)
        return settlement_pb2.ListDisputesResponse(
            disputes=[dispute_proto(d) for d in chunk], next_page_token=token
        )


def _obligation(o: Obligation) -> settlement_pb2.Obligation:
    return settlement_pb2.Obligation(
        payer_region=o.payer_region,
        payee_region=o.payee_region,
        amount=_money(o.amount_fen),
        statement_digest=o.statement_digest,
    )


def netting_proto(n: Netting, now: datetime) -> settlement_pb2.Netting:
    def position(p: Any) -> settlement_pb2.RegionPosition:
        return settlement_pb2.RegionPosition(
            region=p.region,
            receivable=_money(p.receivable_fen),
            payable=_money(p.payable_fen),
            net=_money(p.net_fen),
        )

    steps = []
    for s in n.steps:
        description = s.description
        if description.startswith("Matrix"):
            description = "\n".join([description, *n.matrix_lines()])
        steps.append(
            settlement_pb2.NettingStep(
                step=s.step,
                description=description,
                obligations=[_obligation(o) for o in s.obligations],
                positions=[position(p) for p in s.positions],
            )
        )
    return settlement_pb2.Netting(
        period=n.period,
        mode=int(n.mode),  # type: ignore[arg-type]
        regions=list(n.regions),
        currency_code=n.currency,
        gross_obligations=[_obligation(o) for o in n.gross_obligations],
        positions=[position(p) for p in n.positions],
        transfers=[_obligation(o) for o in n.transfers],
        steps=steps,
        conserved=n.conserved,
        all_statements_signed=n.all_statements_signed,
        compute_time=ts(micros(now)),
    )


def build_settlement(
    engine: Engine,
    region: str,
    signer: Signer,
    ledger: Log,
    *,
    peers: Sequence[Any] = (),
    outbox: Outbox | None = None,
    channels: PeerChannels | None = None,
    handlers: MessageHandlers | None = None,
    clock: Clock = system_clock,
    peer_timeout_s: float = 10.0,
    cadence: Cadence | None = None,
    grace_window: timedelta = DEFAULT_GRACE_WINDOW,
) -> SettlementBook:
    """The book of a node (called by the registry), its handlers registered."""
    book = SettlementBook(
        engine,
        region,
        signer,
        ledger,
        counterparties=[p.region for p in peers],
        peer_keys={p.region: [Verifier.from_vkey(k) for k in p.verifier_keys] for p in peers},
        outbox=outbox,
        channels=channels,
        clock=clock,
        peer_timeout_s=peer_timeout_s,
        cadence=cadence,
        grace_window=grace_window,
    )
    if handlers is not None:
        book.register_handlers(handlers)
    return book
