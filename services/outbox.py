"""The durable outbox and inbox: everything a node tells a peer, delivered once.

Sending side. A message to a peer is written to ``federation_outbox`` IN THE SAME
TRANSACTION as the state change that causes it, so a change is never committed
without its message nor a message sent for a change that rolled back::

    with session_scope(engine) as session:
        ...                                              # the state change
        outbox.enqueue(session, "cq", notice)          # a LicenceNotice

A :class:`Deliverer` (a thread of the node, or ``bashu federation deliver`` once)
sends due messages with ``FederationService.DeliverMessages``, up to 100 per call,
oldest first. A row is marked DELIVERED only on the peer's ACCEPTED or DUPLICATE
ack; RETRY_LATER, a missing ack or a failed call schedule the next attempt after an
exponential backoff with jitter, capped at ``[federation] retry_max_s``; REJECTED
parks the message and raises a MESSAGE_REJECTED alarm. Several processes sharing a
PostgreSQL database claim disjoint rows (``FOR UPDATE SKIP LOCKED``, then a lease:
``next_attempt_us`` moves past the call's deadline); on SQLite ``BEGIN IMMEDIATE``
serialises the claim. A process that dies mid-call leaves its rows to be retried when
the lease ends: the peer may then see a message twice, which the inbox absorbs.

Receiving side. :class:`Inbox` answers each delivered message once per (sender
region, message id): the first delivery runs the handler registered for its kind and
records the message in ``federation_inbox`` in the handler's transaction; a later
delivery is answered DUPLICATE with no second effect. Handlers are registered by
kind in :class:`MessageHandlers`, so batches, countersignatures and statements plug
in without touching the transport. A handler runs in two steps:

1. ``handler(message, context)`` outside any transaction: verify, read, append
   ledger entries (idempotent by key, so a retry after a crash repeats nothing), and
   return an ``apply(session)`` function (or None);
2. ``apply(session)`` inside the transaction that inserts the inbox row: the state
   change, and any outbox messages it causes.

It raises :class:`RetryLaterError` (acked RETRY_LATER, nothing recorded) or
:class:`MessageRejectedError` (acked REJECTED, recorded so a redelivery gets the same
answer). A kind with no handler is answered RETRY_LATER ``NOT_IMPLEMENTED``: a peer
running a newer release loses nothing while this node catches up.

Messages are protobuf ``OutboxMessage``s end to end: their payloads are signed
documents whose exact bytes matter, so they are stored and handed to handlers as
received, not converted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from bashu.federation.v1 import federation_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.config import FederationSettings
from services.db import read_scope, session_scope
from services.errors import (
    FieldViolation,
    InvalidArgumentError,
    UnavailableError,
)
from services.models import FederationInboxMessage, FederationOutboxMessage
from services.peer_state import AlarmKind, now_us, raise_alarm, record_contact, record_failure
from services.peers import PeerChannels, describe_rpc_error

__all__ = [
    "MAX_MESSAGES_PER_CALL",
    "PAYLOAD_KINDS",
    "Ack",
    "Deliverer",
    "DeliveryReport",
    "HandlerContext",
    "Inbox",
    "MessageHandler",
    "MessageHandlers",
    "MessageRejectedError",
    "Outbox",
    "RetryLaterError",
    "backoff_delay",
    "keep_in_inbox",
    "kind_name",
]

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_CALL = 100
# Under the 4 MiB default message limit of a peer, leaving room for the envelope.
MAX_CALL_BYTES = 3 * 1024 * 1024
MAX_MESSAGE_ID_LEN = 64

MK = federation_pb2.MessageKind
# The payload field of OutboxMessage that each kind carries.
PAYLOAD_KINDS: dict[str, federation_pb2.MessageKind] = {
    "usage_batch": MK.MESSAGE_KIND_USAGE_BATCH,
    "batch_countersignature": MK.MESSAGE_KIND_BATCH_COUNTERSIGNATURE,
    "batch_return": MK.MESSAGE_KIND_BATCH_RETURN,
    "batch_request": MK.MESSAGE_KIND_BATCH_REQUEST,
    "statement_for_signature": MK.MESSAGE_KIND_STATEMENT_FOR_SIGNATURE,
    "statement_signature": MK.MESSAGE_KIND_STATEMENT_SIGNATURE,
    "licence_notice": MK.MESSAGE_KIND_LICENCE_NOTICE,
    "dispute_notice": MK.MESSAGE_KIND_DISPUTE_NOTICE,
}

# Payload message type (full name) -> its OutboxMessage field.
_PAYLOAD_FIELDS: dict[str, str] = {
    f.message_type.full_name: f.name
    for f in federation_pb2.OutboxMessage.DESCRIPTOR.oneofs_by_name["payload"].fields
    if f.message_type is not None
}

PENDING, DELIVERED, REJECTED = "PENDING", "DELIVERED", "REJECTED"
AS = federation_pb2.AckStatus


def kind_name(kind: int) -> str:
    """``MESSAGE_KIND_LICENCE_NOTICE`` -> ``LICENCE_NOTICE`` (as stored)."""
    return str(MK.Name(kind)).removeprefix("MESSAGE_KIND_")


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based).

    Exponential (base · 2^(attempt-1)), capped, with "equal jitter": between half and
    all of that, so processes and messages that failed together spread out but a
    retry never comes sooner than half the intended delay.
    """
    ceiling = min(cap_s, base_s * 2.0 ** min(max(attempt, 1) - 1, 60))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


# --- sending --------------------------------------------------------------------------


class Outbox:
    """Queues messages for peers inside the caller's transaction."""

    def __init__(
        self, region: str, peers: Iterable[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.region = region
        self._peers = frozenset(peers)
        self._clock = clock

    def enqueue(
        self,
        session: Session,
        recipient: str,
        payload: Message,
        *,
        message_id: str | None = None,
    ) -> str:
        """Add one message to the outbox in ``session``'s transaction; return its id.

        ``payload`` is one of OutboxMessage's payload types (LicenceNotice, UsageBatch,
        …); its type says which field and kind it is.
        """
        if recipient not in self._peers:
            raise UnavailableError(
                f"{recipient!r} is not a configured peer", reason="PEER_UNAVAILABLE"
            )
        name = _PAYLOAD_FIELDS.get(payload.DESCRIPTOR.full_name)
        if name is None:
            raise ValueError(f"{payload.DESCRIPTOR.full_name} is not an outbox payload")
        content = payload
        message_id = message_id or str(uuid.uuid4())
        if not 0 < len(message_id) <= MAX_MESSAGE_ID_LEN:
            raise ValueError(f"message id must be 1..{MAX_MESSAGE_ID_LEN} characters")
        created = now_us(self._clock())
        message = federation_pb2.OutboxMessage(
            message_id=message_id,
            kind=PAYLOAD_KINDS[name],
            sender_region=self.region,
            recipient_region=recipient,
            create_time=_ts(created),
        )
        getattr(message, name).CopyFrom(content)
        session.add(
            FederationOutboxMessage(
                message_id=message_id,
                recipient_region=recipient,
                kind=kind_name(PAYLOAD_KINDS[name]),
                message=message.SerializeToString(deterministic=True),
                state=PENDING,
                attempts=0,
                create_us=created,
                next_attempt_us=created,
                ack_status="",
                last_error="",
            )
        )
        return message_id


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0
    delivered: int = 0
    rejected: int = 0
    retrying: int = 0
    failed_peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Claimed:
    message_id: str
    attempts: int
    message: bytes


class Deliverer:
    """Sends the outbox to the peers; see the module docstring for the guarantees."""

    def __init__(
        self,
        engine: Engine,
        channels: PeerChannels,
        settings: FederationSettings,
        *,
        meter: metrics.Meter | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        max_batch: int = MAX_MESSAGES_PER_CALL,
        max_call_bytes: int = MAX_CALL_BYTES,
    ) -> None:
        self._engine = engine
        self._channels = channels
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()  # jitter, not secrets
        self._max_batch = max_batch
        self._max_call_bytes = max_call_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backlog: dict[str, int] = {}
        meter = meter or metrics.get_meter("bashu.node")
        self._acks = meter.create_counter(
            "bashu.outbox.acks", unit="{message}", description="Peer answers to delivered messages"
        )
        meter.create_observable_gauge(
            "bashu.outbox.backlog",
            callbacks=[self._observe_backlog],
            unit="{message}",
            description="Messages waiting in the outbox, per peer",
        )

    def _observe_backlog(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"peer": peer}) for peer, n in sorted(self._backlog.items())]

    # -- one round -------------------------------------------------------------------

    def deliver_once(self, *, force: bool = False) -> DeliveryReport:
        """Send every due message to every peer once; ``force`` ignores retry times
        (a running node may be sending the same rows: the peer de-duplicates)."""
        totals = DeliveryReport()
        for peer in self._channels.peers:
            # Bounded per round so one peer with a deep backlog cannot starve the others.
            for _ in range(20):
                report, more = self._deliver_batch(peer.region, force=force)
                totals = _add(totals, report)
                if not more:
                    break
        self._refresh_backlog()
        return totals

    def _refresh_backlog(self) -> None:
        with read_scope(self._engine) as session:
            counts = dict(
                session.execute(
                    select(FederationOutboxMessage.recipient_region, func.count())
                    .where(FederationOutboxMessage.state == PENDING)
                    .group_by(FederationOutboxMessage.recipient_region)
                ).all()
            )
        self._backlog = {p.region: int(counts.get(p.region, 0)) for p in self._channels.peers}

    def _claim(self, peer: str, *, force: bool) -> list[_Claimed]:
        now = now_us(self._clock())
        lease = now + int((self._settings.peer_timeout_s + 5.0) * 1_000_000)
        with session_scope(self._engine) as session:
            query = (
                select(
                    FederationOutboxMessage.message_id,
                    FederationOutboxMessage.attempts,
                    FederationOutboxMessage.message,
                )
                .where(
                    FederationOutboxMessage.state == PENDING,
                    FederationOutboxMessage.recipient_region == peer,
                )
                .order_by(FederationOutboxMessage.create_us, FederationOutboxMessage.message_id)
                .limit(self._max_batch)
                # PostgreSQL: rows another process is claiming are skipped, not waited
                # for. SQLite ignores the clause; BEGIN IMMEDIATE serialises claims.
                .with_for_update(skip_locked=True)
            )
            if not force:
                query = query.where(FederationOutboxMessage.next_attempt_us <= now)
            claimed: list[_Claimed] = []
            size = 0
            for message_id, attempts, message in session.execute(query):
                if claimed and size + len(message) > self._max_call_bytes:
                    break
                size += len(message)
                claimed.append(_Claimed(message_id, attempts + 1, message))
            for c in claimed:
                session.execute(
                    update(FederationOutboxMessage)
                    .where(FederationOutboxMessage.message_id == c.message_id)
                    .values(attempts=c.attempts, next_attempt_us=lease)
                )
        return claimed

    def _deliver_batch(self, peer: str, *, force: bool) -> tuple[DeliveryReport, bool]:
        claimed = self._claim(peer, force=force)
        if not claimed:
            return DeliveryReport(), False
        request = federation_pb2.DeliverMessagesRequest(request_id=str(uuid.uuid4()))
        for c in claimed:
            message = request.messages.add()
            message.ParseFromString(c.message)
            message.attempt = c.attempts
        try:
            response = self._channels.federation(peer).DeliverMessages(
                request, timeout=self._settings.peer_timeout_s
            )
        except grpc.RpcError as err:
            error = describe_rpc_error(err)
            log.warning("delivery of %d message(s) to %s failed: %s", len(claimed), peer, error)
            record_failure(self._engine, peer, error, now_us=now_us(self._clock()))
            self._reschedule(claimed, {c.message_id: error for c in claimed})
            return DeliveryReport(
                sent=len(claimed), retrying=len(claimed), failed_peers=(peer,)
            ), False
        record_contact(self._engine, peer, now_us=now_us(self._clock()))
        report = self._apply_acks(peer, claimed, list(response.acks))
        return report, len(claimed) == self._max_batch and report.retrying == 0

    def _apply_acks(
        self, peer: str, claimed: Sequence[_Claimed], acks: Sequence[federation_pb2.MessageAck]
    ) -> DeliveryReport:
        by_id = {a.message_id: a for a in acks}
        now = now_us(self._clock())
        delivered = rejected = 0
        retry: dict[str, str] = {}
        with session_scope(self._engine) as session:
            for c in claimed:
                ack = by_id.get(c.message_id)
                status = AS.Name(ack.status).removeprefix("ACK_STATUS_") if ack else "NO_ACK"
                self._acks.add(1, {"peer": peer, "status": status})
                pending = (
                    FederationOutboxMessage.message_id == c.message_id,
                    FederationOutboxMessage.state == PENDING,
                )
                if ack is not None and ack.status in (
                    AS.ACK_STATUS_ACCEPTED,
                    AS.ACK_STATUS_DUPLICATE,
                ):
                    delivered += 1
                    session.execute(
                        update(FederationOutboxMessage)
                        .where(*pending)
                        .values(state=DELIVERED, delivered_us=now, ack_status=status, last_error="")
                    )
                elif ack is not None and ack.status == AS.ACK_STATUS_REJECTED:
                    rejected += 1
                    detail = f"{ack.reason}: {ack.detail}" if ack.detail else ack.reason
                    session.execute(
                        update(FederationOutboxMessage)
                        .where(*pending)
                        .values(state=REJECTED, ack_status=status, last_error=detail)
                    )
                    raise_alarm(
                        session,
                        f"MESSAGE_REJECTED:{peer}:{c.message_id}",
                        peer,
                        AlarmKind.MESSAGE_REJECTED,
                        f"message {c.message_id} rejected by {peer}: {detail}",
                        now_us=now,
                    )
                    log.error("message %s parked: %s rejected it (%s)", c.message_id, peer, detail)
                else:
                    reason = f"{status} {ack.reason}".strip() if ack else "no ack for the message"
                    retry[c.message_id] = reason
        self._reschedule([c for c in claimed if c.message_id in retry], retry)
        return DeliveryReport(
            sent=len(claimed), delivered=delivered, rejected=rejected, retrying=len(retry)
        )

    def _reschedule(self, claimed: Sequence[_Claimed], errors: dict[str, str]) -> None:
        if not claimed:
            return
        now = self._clock()
        with session_scope(self._engine) as session:
            for c in claimed:
                delay = backoff_delay(
                    c.attempts, self._settings.retry_base_s, self._settings.retry_max_s, self._rng
                )
                session.execute(
                    update(FederationOutboxMessage)
                    .where(
                        FederationOutboxMessage.message_id == c.message_id,
                        FederationOutboxMessage.state == PENDING,
                    )
                    .values(
                        next_attempt_us=now_us(now + delay),
                        last_error=errors.get(c.message_id, "")[:2000],
                    )
                )

    # -- the thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the deliverer is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox-deliverer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.deliver_once()
            except Exception:
                # A database hiccup must not kill delivery for good: log, try next round.
                log.exception("outbox delivery round failed")
            if self._stop.wait(self._settings.deliver_interval_s):
                return

    def stop(self) -> None:
        """Stop after the current round (which is bounded by the peer call deadline)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()


def _add(a: DeliveryReport, b: DeliveryReport) -> DeliveryReport:
    return DeliveryReport(
        sent=a.sent + b.sent,
        delivered=a.delivered + b.delivered,
        rejected=a.rejected + b.rejected,
        retrying=a.retrying + b.retrying,
        failed_peers=tuple(sorted(set(a.failed_peers) | set(b.failed_peers))),
    )


# --- receiving ------------------------------------------------------------------------


class RetryLaterError(Exception):
    """The message cannot be processed now (acked RETRY_LATER; nothing is recorded)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MessageRejectedError(Exception):
    """The message is refused for good (acked REJECTED; recorded in the inbox)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class HandlerContext:
    """Who sent a message and to whom (already checked against the authenticated peer)."""

    region: str
    sender_region: str


Apply = Callable[[Session], None]


class MessageHandler(Protocol):
    """Step 1 of handling a message kind (see the module docstring)."""

    def __call__(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None: ...


def keep_in_inbox(message: federation_pb2.OutboxMessage, context: HandlerContext) -> Apply | None:
    """Accept and keep the message in the inbox, with no further effect.

    The handler for kinds whose domain has not landed yet (licence notices until the
    licensing half of federation applies them to the consumer's copies): the message
    is durable here and can be applied later from ``federation_inbox``.
    """
    return None


@dataclass
class MessageHandlers:
    """The handler of each message kind; registered at node build time."""

    _handlers: dict[int, MessageHandler] = field(default_factory=dict)

    def register(self, kind: int, handler: MessageHandler, *, replace: bool = False) -> None:
        if kind not in PAYLOAD_KINDS.values():
            raise ValueError(f"unknown message kind {kind}")
        if kind in self._handlers and not replace:
            raise ValueError(f"{kind_name(kind)} already has a handler")
        self._handlers[kind] = handler

    def unregister(self, kind: int) -> None:
        """Stop handling ``kind``: its messages are answered RETRY_LATER NOT_IMPLEMENTED
        and stay in the sender's outbox (how a node running an older release behaves)."""
        self._handlers.pop(kind, None)

    def get(self, kind: int) -> MessageHandler | None:
        return self._handlers.get(kind)

    def kinds(self) -> list[int]:
        return sorted(self._handlers)

    @classmethod
    def defaults(cls) -> MessageHandlers:
        handlers = cls()
        handlers.register(MK.MESSAGE_KIND_LICENCE_NOTICE, keep_in_inbox)
        return handlers


@dataclass(frozen=True)
class Ack:
    """The inbox's answer to one message (status by AckStatus name, no prefix)."""

    message_id: str
    status: str
    reason: str = ""
    detail: str = ""


class Inbox:
    """Processes delivered messages at most once each; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        region: str,
        handlers: MessageHandlers,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self.region = region
        self.handlers = handlers
        self._clock = clock

    def receive(
        self,
        sender: str,
        messages: Sequence[federation_pb2.OutboxMessage],
        request_id: str = "",
    ) -> list[Ack]:
        """Answer each message from the authenticated peer ``sender``, in order."""
        if len(messages) > MAX_MESSAGES_PER_CALL:
            raise InvalidArgumentError(
                [FieldViolation("messages", f"at most {MAX_MESSAGES_PER_CALL} per call")],
                reason="TOO_MANY_MESSAGES",
            )
        return [self._receive_one(sender, m, request_id) for m in messages]

    def _receive_one(
        self, sender: str, message: federation_pb2.OutboxMessage, request_id: str
    ) -> Ack:
        mid = message.message_id
        problem = _check_envelope(message, sender, self.region)
        if problem is not None:
            reason, detail = problem
            return Ack(mid, "REJECTED", reason, detail)
        previous = self._previous(sender, mid)
        if previous is not None:
            return _repeat(previous, request_id)
        handler = self.handlers.get(message.kind)
        if handler is None:
            return Ack(
                mid, "RETRY_LATER", "NOT_IMPLEMENTED", f"no handler for {kind_name(message.kind)}"
            )
        context = HandlerContext(region=self.region, sender_region=sender)
        try:
            apply = handler(message, context)
            return self._record(sender, message, request_id, apply, None)
        except RetryLaterError as exc:
            return Ack(mid, "RETRY_LATER", exc.reason, exc.detail)
        except MessageRejectedError as exc:
            return self._record(sender, message, request_id, None, exc)
        except Exception:
            # One message's bug must not fail the others in the call: this one is
            # retried by the sender (and logged here); nothing of it was committed.
            log.exception("handling %s %s from %s failed", kind_name(message.kind), mid, sender)
            return Ack(mid, "RETRY_LATER", "INTERNAL", "the receiver failed; retry later")

    def _previous(self, sender: str, mid: str) -> FederationInboxMessage | None:
        with read_scope(self._engine) as session:
            return session.get(FederationInboxMessage, (sender, mid))

    def _record(
        self,
        sender: str,
        message: federation_pb2.OutboxMessage,
        request_id: str,
        apply: Apply | None,
        rejection: MessageRejectedError | None,
    ) -> Ack:
        mid = message.message_id
        row = FederationInboxMessage(
            sender_region=sender,
            message_id=mid,
            kind=kind_name(message.kind),
            status="REJECTED" if rejection else "ACCEPTED",
            reason=rejection.reason if rejection else "",
            detail=rejection.detail[:4000] if rejection else "",
            message=message.SerializeToString(deterministic=True),
            delivery_request_id=request_id[:128],
            receive_us=now_us(self._clock()),
        )
        try:
            with session_scope(self._engine) as session:
                session.add(row)
                # The key is claimed before the effect: a concurrent delivery of the same
                # message (another process) fails here, or waits here and then fails.
                session.flush()
                if apply is not None:
                    apply(session)
        except IntegrityError:
            previous = self._previous(sender, mid)
            if previous is None:
                raise
            return _repeat(previous, request_id)
        if rejection is not None:
            return Ack(mid, "REJECTED", rejection.reason, rejection.detail)
        return Ack(mid, "ACCEPTED")


def _repeat(previous: FederationInboxMessage, request_id: str) -> Ack:
    """The answer to a message seen before: the same outcome, with no new effect."""
    if previous.status == "REJECTED":
        return Ack(previous.message_id, "REJECTED", previous.reason, previous.detail)
    if request_id and previous.delivery_request_id == request_id:
        # A retry of the very call that delivered it gets that call's answer.
        return Ack(previous.message_id, "ACCEPTED")
    return Ack(previous.message_id, "DUPLICATE")


def _check_envelope(
    message: federation_pb2.OutboxMessage, sender: str, region: str
) -> tuple[str, str] | None:
    if not 0 < len(message.message_id) <= MAX_MESSAGE_ID_LEN:
        return "INVALID_ARGUMENT", f"message_id must be 1..{MAX_MESSAGE_ID_LEN} characters"
    if message.sender_region != sender:
        return "INVALID_ARGUMENT", f"sender_region {message.sender_region!r} is not the caller"
    if message.recipient_region != region:
        return "WRONG_RECIPIENT", f"addressed to {message.recipient_region!r}, this is {region!r}"
    payload = message.WhichOneof("payload")
    if payload is None or PAYLOAD_KINDS.get(payload) != message.kind:
        return "INVALID_ARGUMENT", "kind does not match the payload"
    return None
