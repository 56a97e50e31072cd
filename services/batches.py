"""Usage batches between regions: sealed by the provider, countersigned or returned.

The provider region groups its cross-region usage (``access_usage`` rows RECORDED
for a consumer of another region) per counterparty into batches::

    batches = Batches(engine, "sc", signer, ledger, outbox, peers, settings)
    batches.register_handlers(federation.handlers)
    batches.seal_once()               # one batch per peer with usage waiting
    BatchSealer(batches).start()      # or every [federation] batch_interval_s

A batch carries a sequence number per (provider, consumer) pair (1, 2, 3 … without
gaps), the event-time range and settlement period of its entries, the record count,
total quantities and amount, the RFC 9162 root over the entries' leaf hashes, and a
signed checkpoint of the provider's ledger that includes them; the provider region
signs the body. Sealing appends a ``BatchSealed`` entry and queues the batch in the
durable outbox (:mod:`services.outbox`): a consumer that is down for hours delays
countersigning and loses nothing.

The consumer checks the batch against its own consumption records
(``market_consumption``) and answers through its outbox:

* FATAL (the batch is refused whole): SIGNATURE_INVALID, MALFORMED, WRONG_REGIONS,
  CHECKPOINT_INVALID, RECORD_COUNT_MISMATCH, TOTAL_MISMATCH, MERKLE_ROOT_MISMATCH,
  ENTRY_ORDER, SEQUENCE_CONFLICT (a sequence number reused with other content);
* SEVERE (the named records are returned): EXTRA_RECORD (no consumption record for
  the entry), MISSING_RECORD (a consumption record in the batch's time range that no
  batch covers), AMOUNT_MISMATCH, QUANTITY_MISMATCH, ENTRY_MISMATCH (the consumption
  cites another provider entry), DUPLICATE_ENTRY (twice in the batch, or already in a
  countersigned batch);
* WARNING (countersigned with notes): TIME_SKEW (event times differ), LATE_RECORD
  (an entry older than the previous countersigned batch's range), UNKNOWN_RETURN (a
  correction citing a return this region did not issue).

With no FATAL or SEVERE error the consumer countersigns (``BatchCountersignature``),
otherwise it signs a ``BatchReturn``. Both sides' ledgers get ``BatchSealed`` (the
consumer's "received") and ``BatchCountersigned`` or ``BatchReturned`` entries.

**Records the consumer has not recorded yet.** The home node records its
consumption entry after the provider's receipt arrives, so for a moment the provider
has a use the consumer does not. Such a race is resolved by waiting and re-batching,
not by refusing: the provider seals only uses older than ``batch_min_age_s``; a
consumer that finds an entry it has no consumption for, younger than
``batch_grace_s`` by its clock, answers the whole message RETRY_LATER
(``CONSUMPTION_PENDING``, nothing recorded) and the provider's outbox retries it with
backoff. Past the grace it is returned EXTRA_RECORD; the provider holds that use out
of batches for another ``batch_grace_s`` and then batches it again, at most
``MAX_RETURNS`` times, after which it is PARKED for an operator (``bashu federation
batches list --items``). A use the consumer has and no batch covers comes back as
MISSING_RECORD and is re-batched at once. Uses returned with other SEVERE errors
(amounts differ, …) are PARKED: re-sending the same figures cannot fix them; a
dispute or adjustment does. Every other use of a returned batch goes back to the
pool, and the next batch sealed for that consumer cites the return it answers
(``corrects_return``).

**Sequence gaps.** A consumer receiving sequence n+2 before n+1 answers RETRY_LATER
``BATCH_SEQUENCE_GAP``, raises the BATCH_SEQUENCE_GAP alarm and sends a
``BatchRequest`` for the missing numbers; the provider queues those batches again.

**Exactly once.** The inbox answers each message id once; a batch received again
under another message id (after a BatchRequest) is recognised by the digest of its
body and has no second effect; every ledger append has an idempotency key derived
from the batch, so a crash between an append and its transaction repeats nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import record_pb2
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.errors import LedgerError
from ledger.log import Log
from ledger.note import Signer, Verifier
from services.config import FederationSettings, PeerConfig
from services.db import read_scope, session_scope
from services.errors import BashuError
from services.models import (
    ConsumptionRow,
    FederationBatch,
    FederationBatchItem,
    FederationOutboxMessage,
    UsageRow,
)
from services.outbox import (
    Apply,
    HandlerContext,
    MessageHandlers,
    MessageRejectedError,
    Outbox,
    RetryLaterError,
)
from services.peer_state import AlarmKind, clear_alarm, now_us, raise_alarm, standing_alarms
from services.peers import open_peer_checkpoint
from services.records import encode_record
from services.signing import (
    USAGE_BATCH_CONTEXT,
    USAGE_BATCH_COUNTERSIGNATURE_CONTEXT,
    USAGE_BATCH_RETURN_CONTEXT,
    DocumentSignature,
    sign_document,
    verify_document,
)
from services.witness import checkpoint_proto

__all__ = [
    "MAX_ENTRIES",
    "MAX_RETURNS",
    "BatchProgressView",
    "BatchSealer",
    "BatchView",
    "Batches",
    "Consumed",
    "ConsumerView",
    "Grading",
    "ItemView",
    "SealedBatch",
    "UsageItem",
    "batch_digest",
    "batch_name",
    "batch_progress",
    "build_body",
    "fill_batch_progress",
    "grade_batch",
    "list_batches",
    "list_items",
    "progress_message",
    "seal_body",
]

log = logging.getLogger(__name__)

# Entries per batch: a batch travels in one outbox message (under the 3 MiB a
# delivery call carries); more waiting uses go into the next sequence number.
MAX_ENTRIES = 2000
# How often a use may come back EXTRA_RECORD before it is parked for an operator.
MAX_RETURNS = 3
# A consumer asks for missing batches at most this often (µs).
_ASK_AGAIN_US = 60_000_000

FATAL = federation_pb2.ErrorGrade.ERROR_GRADE_FATAL
SEVERE = federation_pb2.ErrorGrade.ERROR_GRADE_SEVERE
WARNING = federation_pb2.ErrorGrade.ERROR_GRADE_WARNING

# Batch row states.
SEALING, SEALED, COUNTERSIGNED, RETURNED = "SEALING", "SEALED", "COUNTERSIGNED", "RETURNED"
# Item states (provider: BATCHED, HELD, PARKED; consumer: COUNTERSIGNED).
BATCHED, HELD, PARKED = "BATCHED", "HELD", "PARKED"
# SEVERE codes whose records re-sending cannot fix.
_PARKING_CODES = frozenset(
    {"AMOUNT_MISMATCH", "QUANTITY_MISMATCH", "ENTRY_MISMATCH", "DUPLICATE_ENTRY"}
)


def batch_name(provider: str, consumer: str, sequence: int) -> str:
    return f"regions/{provider}/batches/{consumer}/{sequence}"


def batch_digest(batch: federation_pb2.UsageBatch) -> bytes:
    return hashlib.sha256(batch.body).digest()


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def _sig_proto(s: DocumentSignature) -> common_pb2.Signature:
    return common_pb2.Signature(
        signer_region=s.signer_region,
        key_name=s.key_name,
        key_id=s.key_id,
        signature=s.signature,
        sign_time=_ts(s.sign_us),
    )


def _verify(
    verifiers: Sequence[Verifier], context: str, body: bytes, sig: common_pb2.Signature
) -> str | None:
    """Why ``sig`` does not verify over ``body``, or None when it does."""
    try:
        document = DocumentSignature(
            signer_region=sig.signer_region,
            key_name=sig.key_name,
            key_id=sig.key_id,
            signature=bytes(sig.signature),
            sign_us=0,
        )
        verify_document(verifiers, context, body, document)
    except BashuError as exc:
        return str(exc)
    return None


def _error(
    grade: int,
    code: str,
    detail: str,
    *,
    index: int | None = None,
    leaf_hash: bytes = b"",
    usage_record_id: str = "",
) -> federation_pb2.BatchError:
    error = federation_pb2.BatchError(
        grade=grade,  # type: ignore[arg-type]
        code=code,
        leaf_hash=leaf_hash,
        usage_record_id=usage_record_id,
        detail=detail,
    )
    if index is not None:
        error.entry_index = index
    return error


# --- the pure part: building and grading a batch ---------------------------------------


@dataclass(frozen=True)
class UsageItem:
    """One provider use as a batch lists it."""

    usage_record_id: str
    index: int
    leaf_hash: bytes
    calls: int
    rows: int
    bytes: int
    amount_fen: int
    time_us: int
    usage_id: str = ""


def build_body(
    provider: str,
    consumer: str,
    sequence: int,
    items: Sequence[UsageItem],
    *,
    period: str,
    checkpoint: common_pb2.Checkpoint,
    seal_us: int,
    currency: str = "CNY",
    corrects_return: str = "",
) -> federation_pb2.UsageBatchBody:
    """The body of a batch of ``items`` (in ledger index order), control totals computed."""
    ordered = sorted(items, key=lambda i: i.index)
    body = federation_pb2.UsageBatchBody(
        name=batch_name(provider, consumer, sequence),
        provider_region=provider,
        consumer_region=consumer,
        sequence=sequence,
        record_count=len(ordered),
        total_quantity=common_pb2.Quantity(
            calls=sum(i.calls for i in ordered),
            rows=sum(i.rows for i in ordered),
            bytes=sum(i.bytes for i in ordered),
        ),
        total_amount=common_pb2.Money(
            currency_code=currency, amount_fen=sum(i.amount_fen for i in ordered)
        ),
        merkle_root=merkle.root_from_leaf_hashes([i.leaf_hash for i in ordered]),
        corrects_return=corrects_return,
        period=period,
        checkpoint=checkpoint,
        seal_time=_ts(seal_us),
    )
    if ordered:
        # Inclusive start, exclusive end: exactly the entries' event times.
        body.time_range.start_time.FromMicroseconds(min(i.time_us for i in ordered))
        body.time_range.end_time.FromMicroseconds(max(i.time_us for i in ordered) + 1)
    for i in ordered:
        body.entries.add(
            index=i.index,
            leaf_hash=i.leaf_hash,
            usage_record_id=i.usage_record_id,
            quantity=common_pb2.Quantity(calls=i.calls, rows=i.rows, bytes=i.bytes),
            amount_fen=i.amount_fen,
            time=_ts(i.time_us),
        )
    return body


def seal_body(
    signer: Signer, region: str, body: federation_pb2.UsageBatchBody, *, now: float
) -> federation_pb2.UsageBatch:
    """Sign ``body`` (deterministic bytes) with the provider region key."""
    data = body.SerializeToString(deterministic=True)
    signature = sign_document(signer, region, USAGE_BATCH_CONTEXT, data, now=now)
    return federation_pb2.UsageBatch(body=data, provider_signature=_sig_proto(signature))


@dataclass(frozen=True)
class Consumed:
    """The consumer's record of one use (a ``market_consumption`` row)."""

    usage_record_id: str
    entry_index: int
    leaf_hash: bytes
    calls: int
    rows: int
    bytes: int
    amount_fen: int
    time_us: int


@dataclass(frozen=True)
class ConsumerView:
    """What the consumer knows that a batch is checked against.

    ``consumed``: its consumption records of the provider for the batch's entries and
    for the batch's time range; ``covered``: usage record ids already in a batch it
    countersigned; ``returns``: names of the returns it issued to the provider;
    ``last_end_us``: end of the previous countersigned batch's range (0 if none).
    """

    consumed: Mapping[str, Consumed]
    covered: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    last_end_us: int = 0
    now_us: int = 0
    grace_us: int = 0


@dataclass(frozen=True)
class Grading:
    """The verdict on one batch: its body (None when it could not be opened), the
    errors found, and the entries not refused but not recorded here yet."""

    body: federation_pb2.UsageBatchBody | None
    errors: tuple[federation_pb2.BatchError, ...] = ()
    pending: tuple[str, ...] = ()

    @property
    def fatal(self) -> bool:
        return any(e.grade == FATAL for e in self.errors)

    @property
    def refused(self) -> bool:
        """Returned rather than countersigned (a FATAL or a SEVERE error)."""
        return any(e.grade in (FATAL, SEVERE) for e in self.errors)

    @property
    def warnings(self) -> list[federation_pb2.BatchError]:
        return [e for e in self.errors if e.grade == WARNING]

    def codes(self) -> list[tuple[str, str]]:
        """(grade name without prefix, code) of every error, for tests and logs."""
        return [
            (federation_pb2.ErrorGrade.Name(e.grade).removeprefix("ERROR_GRADE_"), e.code)
            for e in self.errors
        ]


def open_batch(
    batch: federation_pb2.UsageBatch,
    verifiers: Sequence[Verifier],
    *,
    provider: str,
    consumer: str,
) -> Grading:
    """Verify the provider's signature, then parse the body and check its regions."""
    why = _verify(verifiers, USAGE_BATCH_CONTEXT, batch.body, batch.provider_signature)
    if why is not None:
        return Grading(None, (_error(FATAL, "SIGNATURE_INVALID", why),))
    body = federation_pb2.UsageBatchBody()
    try:
        body.ParseFromString(batch.body)
    except DecodeError as exc:
        return Grading(None, (_error(FATAL, "MALFORMED", f"body: {exc}"),))
    expected = batch_name(provider, consumer, body.sequence)
    if (
        body.provider_region != provider
        or body.consumer_region != consumer
        or body.name != expected
        or body.sequence < 1
    ):
        detail = f"batch {body.name!r} from {body.provider_region!r} to {body.consumer_region!r}"
        return Grading(body, (_error(FATAL, "WRONG_REGIONS", f"{detail}; expected {expected}"),))
    return Grading(body)


def check_integrity(
    body: federation_pb2.UsageBatchBody,
    open_checkpoint: Callable[[str], Checkpoint] | None = None,
) -> list[federation_pb2.BatchError]:
    """FATAL errors of the body on its own: control totals, root, order, checkpoint."""
    errors: list[federation_pb2.BatchError] = []
    entries = list(body.entries)
    if body.record_count != len(entries):
        errors.append(
            _error(
                FATAL,
                "RECORD_COUNT_MISMATCH",
                f"record_count {body.record_count}, {len(entries)} entries listed",
            )
        )
    q = body.total_quantity
    sums = (
        sum(e.quantity.calls for e in entries),
        sum(e.quantity.rows for e in entries),
        sum(e.quantity.bytes for e in entries),
        sum(e.amount_fen for e in entries),
    )
    if (q.calls, q.rows, q.bytes, body.total_amount.amount_fen) != sums:
        errors.append(
            _error(
                FATAL,
                "TOTAL_MISMATCH",
                f"totals (calls, rows, bytes, fen) {(q.calls, q.rows, q.bytes)}, "
                f"{body.total_amount.amount_fen}; the entries add up to {sums}",
            )
        )
    if any(len(e.leaf_hash) != 32 for e in entries):
        errors.append(_error(FATAL, "MALFORMED", "a leaf hash is not 32 bytes"))
    elif merkle.root_from_leaf_hashes([bytes(e.leaf_hash) for e in entries]) != body.merkle_root:
        errors.append(_error(FATAL, "MERKLE_ROOT_MISMATCH", "root of the entries' leaf hashes"))
    if any(b.index < a.index for a, b in itertools.pairwise(entries)):
        errors.append(_error(FATAL, "ENTRY_ORDER", "entries are not in ledger index order"))
    if open_checkpoint is not None and entries:
        try:
            cp = open_checkpoint(body.checkpoint.signed_note)
        except LedgerError as exc:
            errors.append(_error(FATAL, "CHECKPOINT_INVALID", str(exc)))
        else:
            last = max(e.index for e in entries)
            if cp.size <= last:
                errors.append(
                    _error(
                        FATAL,
                        "CHECKPOINT_INVALID",
                        f"checkpoint of size {cp.size} does not include entry {last}",
                    )
                )
    return errors


def _entry_error(
    e: federation_pb2.BatchEntry, grade: int, code: str, detail: str
) -> federation_pb2.BatchError:
    return _error(
        grade,
        code,
        detail,
        index=e.index,
        leaf_hash=bytes(e.leaf_hash),
        usage_record_id=e.usage_record_id,
    )


def grade_entries(body: federation_pb2.UsageBatchBody, view: ConsumerView) -> Grading:
    """SEVERE and WARNING errors: the entries against the consumer's records."""
    errors: list[federation_pb2.BatchError] = []
    pending: list[str] = []
    seen: set[str] = set()
    for e in body.entries:
        rid = e.usage_record_id

        if rid in seen or rid in view.covered:
            where = "twice in the batch" if rid in seen else "in a batch countersigned before"
            errors.append(_entry_error(e, SEVERE, "DUPLICATE_ENTRY", f"{rid} {where}"))
            continue
        seen.add(rid)
        time_us = e.time.ToMicroseconds()
        c = view.consumed.get(rid)
        if c is None:
            if view.now_us - time_us < view.grace_us:
                pending.append(rid)
            else:
                errors.append(
                    _entry_error(e, SEVERE, "EXTRA_RECORD", f"no consumption record of {rid}")
                )
            continue
        if c.entry_index != e.index or c.leaf_hash != bytes(e.leaf_hash):
            errors.append(
                _entry_error(
                    e,
                    SEVERE,
                    "ENTRY_MISMATCH",
                    f"the consumption record cites entry {c.entry_index}",
                )
            )
        if c.amount_fen != e.amount_fen:
            errors.append(
                _entry_error(
                    e,
                    SEVERE,
                    "AMOUNT_MISMATCH",
                    f"{e.amount_fen} fen in the batch, {c.amount_fen} recorded",
                )
            )
        theirs = (e.quantity.calls, e.quantity.rows, e.quantity.bytes)
        if (c.calls, c.rows, c.bytes) != theirs:
            errors.append(
                _entry_error(
                    e,
                    SEVERE,
                    "QUANTITY_MISMATCH",
                    f"{theirs} in the batch, {(c.calls, c.rows, c.bytes)} recorded",
                )
            )
        if c.time_us != time_us:
            errors.append(
                _entry_error(e, WARNING, "TIME_SKEW", f"event time {time_us} vs {c.time_us} µs")
            )
        if time_us < view.last_end_us:
            errors.append(
                _entry_error(e, WARNING, "LATE_RECORD", "older than the previous batch's range")
            )
    if body.entries:
        start = body.time_range.start_time.ToMicroseconds()
        end = body.time_range.end_time.ToMicroseconds()
        for c in sorted(view.consumed.values(), key=lambda c: c.entry_index):
            rid = c.usage_record_id
            if start <= c.time_us < end and rid not in seen and rid not in view.covered:
                errors.append(
                    _error(
                        SEVERE,
                        "MISSING_RECORD",
                        f"{rid} was consumed in the batch's range and no batch covers it",
                        index=c.entry_index,
                        leaf_hash=c.leaf_hash,
                        usage_record_id=rid,
                    )
                )
    if body.corrects_return and body.corrects_return not in view.returns:
        errors.append(
            _error(WARNING, "UNKNOWN_RETURN", f"{body.corrects_return} was not issued here")
        )
    return Grading(body, tuple(errors), tuple(pending))


def grade_batch(
    batch: federation_pb2.UsageBatch,
    verifiers: Sequence[Verifier],
    view: Callable[[federation_pb2.UsageBatchBody], ConsumerView],
    *,
    provider: str,
    consumer: str,
    open_checkpoint: Callable[[str], Checkpoint] | None = None,
) -> Grading:
    """The whole check: open, integrity (FATAL), then the entries (SEVERE, WARNING).

    A FATAL error stops the check: the batch is refused whole, its entries unjudged.
    """
    opened = open_batch(batch, verifiers, provider=provider, consumer=consumer)
    if opened.body is None or opened.errors:
        return opened
    fatal = check_integrity(opened.body, open_checkpoint)
    if fatal:
        return Grading(opened.body, tuple(fatal))
    return grade_entries(opened.body, view(opened.body))


# --- views (status, CLI) ----------------------------------------------------------------


@dataclass(frozen=True)
class BatchView:
    name: str
    digest: str
    provider_region: str
    consumer_region: str
    sequence: int
    state: str
    record_count: int
    amount_fen: int
    period: str
    seal_us: int
    update_us: int
    corrects_return: str
    return_name: str
    delivered: bool
    ledger_index: int | None


@dataclass(frozen=True)
class BatchProgressView:
    """The latest batch in one direction, as ``BatchProgress`` carries it."""

    batch: str
    sequence: int
    state: str  # SEALED, DELIVERED, COUNTERSIGNED, RETURNED
    update_us: int


@dataclass(frozen=True)
class ItemView:
    provider_region: str
    consumer_region: str
    usage_record_id: str
    entry_index: int
    state: str
    returns: int
    reason: str
    hold_until_us: int


def _view_of(row: FederationBatch, delivered: bool) -> BatchView:
    return BatchView(
        name=row.name,
        digest=row.digest,
        provider_region=row.provider_region,
        consumer_region=row.consumer_region,
        sequence=row.sequence,
        state=row.state,
        record_count=row.record_count,
        amount_fen=row.amount_fen,
        period=row.period,
        seal_us=row.seal_us,
        update_us=row.update_us,
        corrects_return=row.corrects_return,
        return_name=row.return_name,
        delivered=delivered,
        ledger_index=row.ledger_index,
    )


def _delivered(session: Session, rows: Iterable[FederationBatch]) -> set[str]:
    ids = [r.message_id for r in rows if r.message_id]
    if not ids:
        return set()
    return set(
        session.scalars(
            select(FederationOutboxMessage.message_id).where(
                FederationOutboxMessage.message_id.in_(ids),
                FederationOutboxMessage.state == "DELIVERED",
            )
        )
    )


def list_batches(engine: Engine, *, peer: str | None = None, limit: int = 50) -> list[BatchView]:
    """Batches sealed or received, newest first (``peer`` either side)."""
    with read_scope(engine) as session:
        query = select(FederationBatch).order_by(
            FederationBatch.seal_us.desc(), FederationBatch.digest
        )
        if peer:
            query = query.where(
                or_(
                    FederationBatch.provider_region == peer, FederationBatch.consumer_region == peer
                )
            )
        rows = list(session.scalars(query.limit(limit)))
        delivered = _delivered(session, rows)
        return [_view_of(r, r.message_id in delivered) for r in rows]


def list_items(engine: Engine, *, states: Sequence[str] = (HELD, PARKED)) -> list[ItemView]:
    """Uses held out of batches or parked after returns."""
    with read_scope(engine) as session:
        rows = session.scalars(
            select(FederationBatchItem)
            .where(FederationBatchItem.state.in_(list(states)))
            .order_by(FederationBatchItem.provider_region, FederationBatchItem.entry_index)
        )
        return [
            ItemView(
                r.provider_region,
                r.consumer_region,
                r.usage_record_id,
                r.entry_index,
                r.state,
                r.returns,
                r.reason,
                r.hold_until_us,
            )
            for r in rows
        ]


def batch_progress(
    engine: Engine, region: str
) -> dict[str, tuple[BatchProgressView | None, BatchProgressView | None]]:
    """Per peer: (the latest batch sealed for it, the latest it sealed for us)."""
    with read_scope(engine) as session:
        latest: dict[tuple[str, str], FederationBatch] = {}
        for row in session.scalars(
            select(FederationBatch)
            .where(FederationBatch.sequence_claim.is_not(None))
            .order_by(FederationBatch.sequence)
        ):
            latest[(row.provider_region, row.consumer_region)] = row
        delivered = _delivered(session, latest.values())
    out: dict[str, tuple[BatchProgressView | None, BatchProgressView | None]] = {}

    def progress(row: FederationBatch | None) -> BatchProgressView | None:
        if row is None:
            return None
        state = row.state
        if state == SEALING:
            state = SEALED
        if state == SEALED and row.message_id in delivered:
            state = "DELIVERED"
        return BatchProgressView(row.name, row.sequence, state, row.update_us)

    peers = {p for pair in latest for p in pair if p != region}
    for peer in peers:
        out[peer] = (progress(latest.get((region, peer))), progress(latest.get((peer, region))))
    return out


# --- the stateful part ------------------------------------------------------------------


@dataclass(frozen=True)
class SealedBatch:
    name: str
    consumer_region: str
    sequence: int
    record_count: int
    amount_fen: int
    corrects_return: str


@dataclass
class Batches:
    """Sealing (provider) and checking (consumer) of usage batches for one node."""

    engine: Engine
    region: str
    signer: Signer
    ledger: Log
    outbox: Outbox
    peers: Sequence[PeerConfig]
    settings: FederationSettings = field(default_factory=FederationSettings)
    clock: Callable[[], float] = time.time
    max_entries: int = MAX_ENTRIES
    # Sequences answered RETRY_LATER for pending consumption (this process): a later
    # batch arriving behind one of them is not a lost batch, so it is not asked for.
    _pending: set[tuple[str, int]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def actor(self) -> str:
        return f"regions/{self.region}/node"

    def _peer(self, region: str) -> PeerConfig | None:
        return next((p for p in self.peers if p.region == region), None)

    def _verifiers(self, peer: PeerConfig) -> list[Verifier]:
        return [Verifier.from_vkey(k) for k in peer.verifier_keys]

    def _entry_ref(self, index: int, leaf_hash: bytes) -> common_pb2.EntryRef:
        return common_pb2.EntryRef(origin=self.ledger.origin, index=index, leaf_hash=leaf_hash)

    def register_handlers(self, handlers: MessageHandlers) -> None:
        # replace=True: a node built again on the same handlers (a restart in one
        # process) hands the kinds to its new Batches.
        mk = federation_pb2.MessageKind
        for kind, handler in (
            (mk.MESSAGE_KIND_USAGE_BATCH, self.on_usage_batch),
            (mk.MESSAGE_KIND_BATCH_COUNTERSIGNATURE, self.on_countersignature),
            (mk.MESSAGE_KIND_BATCH_RETURN, self.on_return),
            (mk.MESSAGE_KIND_BATCH_REQUEST, self.on_request),
        ):
            handlers.register(kind, handler, replace=True)

    # -- provider: sealing -----------------------------------------------------------

    def seal_once(
        self, peer: str | None = None, *, min_age_s: float | None = None
    ) -> list[SealedBatch]:
        """Seal every batch due: per peer (or just ``peer``), until its pool is empty."""
        self.record_pending()
        sealed: list[SealedBatch] = []
        for p in self.peers:
            if peer is not None and p.region != peer:
                continue
            for _ in range(100):  # bounded: a huge backlog continues next round
                batch = self.seal_for(p.region, min_age_s=min_age_s)
                if batch is None:
                    break
                sealed.append(batch)
        return sealed

    def _eligible(
        self, session: Session, consumer: str, cutoff_us: int, now: int
    ) -> list[tuple[UsageItem, str, str]]:
        pool = (
            select(UsageRow, FederationBatchItem.state)
            .outerjoin(FederationBatchItem, FederationBatchItem.usage_id == UsageRow.id)
            .where(
                UsageRow.state == "RECORDED",
                UsageRow.consumer_region == consumer,
                UsageRow.ledger_index.is_not(None),
                UsageRow.ledger_leaf_hash.is_not(None),
                UsageRow.time_us < cutoff_us,
                or_(
                    FederationBatchItem.state.is_(None),
                    (FederationBatchItem.state == HELD)
                    & (FederationBatchItem.hold_until_us <= now),
                ),
            )
        )
        first = session.execute(
            pool.order_by(UsageRow.period, UsageRow.currency_code, UsageRow.ledger_index).limit(1)
        ).first()
        if first is None:
            return []
        head: UsageRow = first[0]
        # Taken in event-time order, so that the batch's time range holds every use of
        # the pool in it: a consumer finding one of its uses in the range and not in
        # the batch may then call it MISSING_RECORD. When more wait than fit, the
        # uses at the cut's time are left for the next batch with their equals.
        limit = self.max_entries
        rows = session.execute(
            pool.where(UsageRow.period == head.period, UsageRow.currency_code == head.currency_code)
            .order_by(UsageRow.time_us, UsageRow.ledger_index)
            .limit(limit + 1)
        ).all()
        if len(rows) > limit:
            cut = rows[limit][0].time_us
            kept = [r for r in rows[:limit] if r[0].time_us < cut]
            rows = kept or rows[:limit]
        out: list[tuple[UsageItem, str, str]] = []
        for row, item_state in sorted(rows, key=lambda r: r[0].ledger_index or 0):
            out.append(
                (
                    UsageItem(
                        usage_record_id=f"{row.consumer_party}/{row.request_id}",
                        index=int(row.ledger_index or 0),
                        leaf_hash=bytes(row.ledger_leaf_hash or b""),
                        calls=row.qty_calls,
                        rows=row.qty_rows,
                        bytes=row.qty_bytes,
                        amount_fen=row.amount_fen,
                        time_us=row.time_us,
                        usage_id=row.id,
                    ),
                    row.period,
                    item_state or "",
                )
            )
        return out

    def seal_for(self, consumer: str, *, min_age_s: float | None = None) -> SealedBatch | None:
        """Seal one batch of the uses waiting for ``consumer``; None if there are none."""
        now_s = self.clock()
        now = now_us(now_s)
        age = self.settings.batch_min_age_s if min_age_s is None else min_age_s
        cutoff = now - int(age * 1_000_000)
        with read_scope(self.engine) as session:
            eligible = self._eligible(session, consumer, cutoff, now)
            if not eligible:
                return None
            last = session.scalar(
                select(func.max(FederationBatch.sequence)).where(
                    FederationBatch.provider_region == self.region,
                    FederationBatch.consumer_region == consumer,
                    FederationBatch.sequence_claim.is_not(None),
                )
            )
            answered = list(
                session.scalars(
                    select(FederationBatch)
                    .where(
                        FederationBatch.provider_region == self.region,
                        FederationBatch.consumer_region == consumer,
                        FederationBatch.state == RETURNED,
                        FederationBatch.corrected == 0,
                    )
                    .order_by(FederationBatch.sequence)
                )
            )
        sequence = int(last or 0) + 1
        items = [e[0] for e in eligible]
        period = eligible[0][1]
        corrects = answered[-1].return_name if answered else ""
        signed = self.ledger.checkpoint()
        body = build_body(
            self.region,
            consumer,
            sequence,
            items,
            period=period,
            checkpoint=checkpoint_proto(signed.note, signed.checkpoint),
            seal_us=now,
            corrects_return=corrects,
        )
        batch = seal_body(self.signer, self.region, body, now=now_s)
        digest = batch_digest(batch).hex()
        try:
            with session_scope(self.engine) as session:
                session.add(
                    FederationBatch(
                        digest=digest,
                        name=body.name,
                        provider_region=self.region,
                        consumer_region=consumer,
                        sequence=sequence,
                        sequence_claim=f"{self.region}/{consumer}/{sequence}",
                        state=SEALING,
                        batch=batch.SerializeToString(deterministic=True),
                        record_count=body.record_count,
                        amount_fen=body.total_amount.amount_fen,
                        period=period,
                        start_us=body.time_range.start_time.ToMicroseconds(),
                        end_us=body.time_range.end_time.ToMicroseconds(),
                        seal_us=now,
                        corrects_return=corrects,
                        message_id="",
                        return_name="",
                        corrected=0,
                        update_us=now,
                    )
                )
                session.flush()
                for item, _, state in eligible:
                    self._claim_item(session, consumer, item, digest, state, now)
                for returned in answered:
                    session.execute(
                        update(FederationBatch)
                        .where(FederationBatch.digest == returned.digest)
                        .values(corrected=1)
                    )
        except (IntegrityError, _RaceError):
            # Another process sealed these uses or this sequence number first.
            log.info("sealing for %s lost a race; the next round continues", consumer)
            return None
        self._finish_seal(digest)
        return SealedBatch(
            body.name, consumer, sequence, body.record_count, body.total_amount.amount_fen, corrects
        )

    def _claim_item(
        self, session: Session, consumer: str, item: UsageItem, digest: str, state: str, now: int
    ) -> None:
        if not state:
            session.add(
                FederationBatchItem(
                    provider_region=self.region,
                    usage_record_id=item.usage_record_id,
                    consumer_region=consumer,
                    usage_id=item.usage_id,
                    entry_index=item.index,
                    batch=digest,
                    state=BATCHED,
                    hold_until_us=0,
                    returns=0,
                    reason="",
                    update_us=now,
                )
            )
            session.flush()
            return
        moved = session.execute(
            update(FederationBatchItem)
            .where(
                FederationBatchItem.provider_region == self.region,
                FederationBatchItem.usage_record_id == item.usage_record_id,
                FederationBatchItem.state == HELD,
            )
            .values(batch=digest, state=BATCHED, update_us=now)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise _RaceError(item.usage_record_id)

    def _finish_seal(self, digest: str) -> None:
        """Append the BatchSealed entry, then mark the row SEALED and queue the batch."""
        with read_scope(self.engine) as session:
            row = session.get(FederationBatch, digest)
            if row is None or row.state != SEALING:
                return
            data, name, consumer = bytes(row.batch), row.name, row.consumer_region
        batch = federation_pb2.UsageBatch.FromString(data)
        key = f"batch-sealed/{name}"
        record = encode_record(
            self.region,
            self.actor,
            key,
            batch_sealed=record_pb2.BatchSealed(
                usage_batch=batch, batch_digest=bytes.fromhex(digest)
            ),
        )
        entry = self.ledger.append(record, key)
        message_id = f"batch-{digest[:48]}"
        with session_scope(self.engine) as session:
            done = session.execute(
                update(FederationBatch)
                .where(FederationBatch.digest == digest, FederationBatch.state == SEALING)
                .values(
                    state=SEALED,
                    ledger_index=entry.index,
                    ledger_leaf_hash=entry.leaf_hash,
                    message_id=message_id,
                    update_us=now_us(self.clock()),
                )
            )
            if done.rowcount == 1:  # type: ignore[attr-defined]
                self.outbox.enqueue(session, consumer, batch, message_id=message_id)

    def record_pending(self) -> int:
        """Finish batches a process left SEALING (it died between claim and append)."""
        with read_scope(self.engine) as session:
            digests = list(
                session.scalars(
                    select(FederationBatch.digest).where(
                        FederationBatch.state == SEALING,
                        FederationBatch.provider_region == self.region,
                    )
                )
            )
        for digest in digests:
            self._finish_seal(digest)
        return len(digests)

    # -- consumer: a batch arrives -----------------------------------------------------

    def on_usage_batch(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        peer = self._peer(sender)
        if peer is None:
            raise MessageRejectedError("PEER_UNKNOWN", f"{sender} is not a configured peer")
        batch = message.usage_batch
        digest = batch_digest(batch)
        with read_scope(self.engine) as session:
            if session.get(FederationBatch, digest.hex()) is not None:
                return None  # received before (another message id): no second effect
        opened = open_batch(batch, self._verifiers(peer), provider=sender, consumer=self.region)
        body = opened.body
        errors = list(opened.errors)
        claim: str | None = None
        if body is not None and not errors:
            claim = f"{sender}/{self.region}/{body.sequence}"
            with read_scope(self.engine) as session:
                taken = session.scalar(
                    select(FederationBatch.digest).where(FederationBatch.sequence_claim == claim)
                )
                # Every batch answered counts, also one refused before its sequence
                # could be trusted: the provider moves on past it, so must we.
                last = session.scalar(
                    select(func.max(FederationBatch.sequence)).where(
                        FederationBatch.provider_region == sender,
                        FederationBatch.consumer_region == self.region,
                    )
                )
            if taken is not None:
                claim = None
                errors.append(
                    _error(
                        FATAL,
                        "SEQUENCE_CONFLICT",
                        f"sequence {body.sequence} was received with digest {taken}",
                    )
                )
            elif body.sequence > int(last or 0) + 1:
                self._gap(sender, list(range(int(last or 0) + 1, body.sequence)))
        if body is not None and not errors:
            errors = check_integrity(body, lambda note: open_peer_checkpoint(note, peer))
        grading = Grading(body, tuple(errors))
        if body is not None and not errors:
            grading = grade_entries(body, self._consumer_view(sender, body))
            if grading.pending and not grading.refused:
                with self._lock:
                    self._pending.add((sender, body.sequence))
                raise RetryLaterError(
                    "CONSUMPTION_PENDING",
                    f"{len(grading.pending)} use(s) not recorded here yet, "
                    f"e.g. {grading.pending[0]}",
                )
        if body is not None:
            with self._lock:
                self._pending.discard((sender, body.sequence))
        if grading.refused:
            return self._return(sender, batch, digest, grading, claim, _unverified(batch, sender))
        assert body is not None
        return self._countersign(sender, batch, digest, body, grading, claim)

    def _gap(self, provider: str, missing: list[int]) -> None:
        with self._lock:
            in_flight = all((provider, s) in self._pending for s in missing)
        if not in_flight:
            now = now_us(self.clock())
            with session_scope(self.engine) as session:
                # One request at a time: the provider answers by queueing the batches
                # again, behind the ones that found the gap, which come back here
                # before the missing ones do.
                asked = session.scalar(
                    select(func.count()).where(
                        FederationOutboxMessage.recipient_region == provider,
                        FederationOutboxMessage.kind == "BATCH_REQUEST",
                        or_(
                            FederationOutboxMessage.state == "PENDING",
                            FederationOutboxMessage.create_us > now - _ASK_AGAIN_US,
                        ),
                    )
                )
                if not asked:
                    self.outbox.enqueue(
                        session,
                        provider,
                        federation_pb2.BatchRequest(
                            provider_region=provider,
                            consumer_region=self.region,
                            sequences=missing,
                        ),
                    )
                raise_alarm(
                    session,
                    f"BATCH_SEQUENCE_GAP:{provider}",
                    provider,
                    AlarmKind.BATCH_SEQUENCE_GAP,
                    f"batches {missing} of {provider} missing; asked for them",
                    now_us=now,
                )
            log.warning("batches %s from %s are missing: asked for them", missing, provider)
        raise RetryLaterError("BATCH_SEQUENCE_GAP", f"waiting for sequence(s) {missing}")

    def _consumer_view(self, provider: str, body: federation_pb2.UsageBatchBody) -> ConsumerView:
        ids = [e.usage_record_id for e in body.entries]
        start = body.time_range.start_time.ToMicroseconds()
        end = body.time_range.end_time.ToMicroseconds()
        consumed: dict[str, Consumed] = {}
        with read_scope(self.engine) as session:
            rows: list[ConsumptionRow] = []
            for i in range(0, len(ids), 500):
                rows.extend(
                    session.scalars(
                        select(ConsumptionRow).where(
                            ConsumptionRow.provider_region == provider,
                            ConsumptionRow.usage_record_id.in_(ids[i : i + 500]),
                        )
                    )
                )
            rows.extend(
                session.scalars(
                    select(ConsumptionRow).where(
                        ConsumptionRow.provider_region == provider,
                        ConsumptionRow.usage_time_us >= start,
                        ConsumptionRow.usage_time_us < end,
                    )
                )
            )
            for r in rows:
                consumed[r.usage_record_id] = Consumed(
                    usage_record_id=r.usage_record_id,
                    entry_index=r.provider_entry_index,
                    leaf_hash=bytes(r.provider_leaf_hash),
                    calls=r.qty_calls,
                    rows=r.qty_rows,
                    bytes=r.qty_bytes,
                    amount_fen=r.amount_fen,
                    time_us=r.usage_time_us,
                )
            keys = sorted(set(ids) | set(consumed))
            covered: set[str] = set()
            for i in range(0, len(keys), 500):
                covered.update(
                    session.scalars(
                        select(FederationBatchItem.usage_record_id).where(
                            FederationBatchItem.provider_region == provider,
                            FederationBatchItem.state == COUNTERSIGNED,
                            FederationBatchItem.usage_record_id.in_(keys[i : i + 500]),
                        )
                    )
                )
            returns = set(
                session.scalars(
                    select(FederationBatch.return_name).where(
                        FederationBatch.provider_region == provider,
                        FederationBatch.consumer_region == self.region,
                        FederationBatch.state == RETURNED,
                    )
                )
            )
            last_end = session.scalar(
                select(func.max(FederationBatch.end_us)).where(
                    FederationBatch.provider_region == provider,
                    FederationBatch.consumer_region == self.region,
                    FederationBatch.state == COUNTERSIGNED,
                    FederationBatch.sequence < body.sequence,
                )
            )
        return ConsumerView(
            consumed=consumed,
            covered=frozenset(covered),
            returns=frozenset(returns),
            last_end_us=int(last_end or 0),
            now_us=now_us(self.clock()),
            grace_us=int(self.settings.batch_grace_s * 1_000_000),
        )

    def _received_row(
        self,
        sender: str,
        batch: federation_pb2.UsageBatch,
        digest: bytes,
        body: federation_pb2.UsageBatchBody | None,
        claim: str | None,
        state: str,
    ) -> FederationBatch:
        now = now_us(self.clock())
        return FederationBatch(
            digest=digest.hex(),
            name=body.name if body is not None else "",
            provider_region=sender,
            consumer_region=self.region,
            sequence=body.sequence if body is not None else 0,
            sequence_claim=claim,
            state=state,
            batch=batch.SerializeToString(deterministic=True),
            record_count=body.record_count if body is not None else 0,
            amount_fen=body.total_amount.amount_fen if body is not None else 0,
            period=body.period[:7] if body is not None else "",
            start_us=body.time_range.start_time.ToMicroseconds() if body is not None else 0,
            end_us=body.time_range.end_time.ToMicroseconds() if body is not None else 0,
            seal_us=body.seal_time.ToMicroseconds() if body is not None else now,
            corrects_return=body.corrects_return[:200] if body is not None else "",
            message_id="",
            return_name="",
            corrected=0,
            update_us=now,
        )

    def _received_record(
        self, batch: federation_pb2.UsageBatch, digest: bytes
    ) -> tuple[bytes, str]:
        key = f"batch-received/{digest.hex()}"
        return (
            encode_record(
                self.region,
                self.actor,
                key,
                batch_sealed=record_pb2.BatchSealed(usage_batch=batch, batch_digest=digest),
            ),
            key,
        )

    def _countersign(
        self,
        sender: str,
        batch: federation_pb2.UsageBatch,
        digest: bytes,
        body: federation_pb2.UsageBatchBody,
        grading: Grading,
        claim: str | None,
    ) -> Apply:
        now_s = self.clock()
        signature = sign_document(
            self.signer, self.region, USAGE_BATCH_COUNTERSIGNATURE_CONTEXT, batch.body, now=now_s
        )
        countersignature = federation_pb2.BatchCountersignature(
            batch=body.name,
            batch_digest=digest,
            consumer_signature=_sig_proto(signature),
            warnings=grading.warnings,
        )
        key = f"batch-countersigned/{digest.hex()}"
        received, signed = self.ledger.append_many(
            [
                self._received_record(batch, digest),
                (
                    encode_record(
                        self.region,
                        self.actor,
                        key,
                        batch_countersigned=record_pb2.BatchCountersigned(
                            countersignature=countersignature
                        ),
                    ),
                    key,
                ),
            ]
        )
        countersignature.consumer_entry.CopyFrom(self._entry_ref(signed.index, signed.leaf_hash))
        row = self._received_row(sender, batch, digest, body, claim, COUNTERSIGNED)
        row.answer = countersignature.SerializeToString(deterministic=True)
        row.ledger_index, row.ledger_leaf_hash = received.index, received.leaf_hash
        row.answer_index, row.answer_leaf_hash = signed.index, signed.leaf_hash
        log.info("countersigned %s (%d records)", body.name, body.record_count)

        def apply(session: Session) -> None:
            session.add(row)
            now = now_us(self.clock())
            for e in body.entries:
                session.merge(
                    FederationBatchItem(
                        provider_region=sender,
                        usage_record_id=e.usage_record_id,
                        consumer_region=self.region,
                        usage_id="",
                        entry_index=e.index,
                        batch=digest.hex(),
                        state=COUNTERSIGNED,
                        hold_until_us=0,
                        returns=0,
                        reason="",
                        update_us=now,
                    )
                )
            self.outbox.enqueue(
                session, sender, countersignature, message_id=f"bcs-{digest.hex()[:48]}"
            )
            clear_alarm(session, f"BATCH_SEQUENCE_GAP:{sender}", now_us=now)

        return apply

    def _return(
        self,
        sender: str,
        batch: federation_pb2.UsageBatch,
        digest: bytes,
        grading: Grading,
        claim: str | None,
        claimed: tuple[str, int],
    ) -> Apply:
        now_s = self.clock()
        name = f"regions/{self.region}/batchReturns/{digest.hex()[:32]}"
        body = federation_pb2.BatchReturnBody(
            name=name,
            batch=grading.body.name if grading.body is not None else claimed[0],
            batch_digest=digest,
            errors=grading.errors,
            return_time=_ts(now_us(now_s)),
        )

        def signed(b: federation_pb2.BatchReturnBody) -> federation_pb2.BatchReturn:
            data = b.SerializeToString(deterministic=True)
            sig = sign_document(
                self.signer, self.region, USAGE_BATCH_RETURN_CONTEXT, data, now=now_s
            )
            return federation_pb2.BatchReturn(body=data, consumer_signature=_sig_proto(sig))

        # The ledger's copy cannot name its own entry; the copy sent to the provider
        # does (signed again, with consumer_entry set).
        key = f"batch-returned/{name}"
        received, returned = self.ledger.append_many(
            [
                self._received_record(batch, digest),
                (
                    encode_record(
                        self.region,
                        self.actor,
                        key,
                        batch_returned=record_pb2.BatchReturned(batch_return=signed(body)),
                    ),
                    key,
                ),
            ]
        )
        body.consumer_entry.CopyFrom(self._entry_ref(returned.index, returned.leaf_hash))
        sent = signed(body)
        row = self._received_row(sender, batch, digest, grading.body, claim, RETURNED)
        if grading.body is None:
            row.name, row.sequence = claimed
        row.answer = sent.SerializeToString(deterministic=True)
        row.return_name = name
        row.ledger_index, row.ledger_leaf_hash = received.index, received.leaf_hash
        row.answer_index, row.answer_leaf_hash = returned.index, returned.leaf_hash
        log.warning(
            "returned %s from %s: %s", body.batch or digest.hex(), sender, grading.codes()[:10]
        )

        def apply(session: Session) -> None:
            session.add(row)
            self.outbox.enqueue(session, sender, sent, message_id=f"bret-{digest.hex()[:48]}")

        return apply

    # -- provider: the answers -----------------------------------------------------------

    def _sent_row(self, consumer: str, digest: bytes, name: str = "") -> FederationBatch:
        with read_scope(self.engine) as session:
            row = session.get(FederationBatch, digest.hex())
            if row is None and name:
                # Refused as received, not as sent (altered on the way): the return
                # names the batch it was meant to be.
                row = session.scalars(
                    select(FederationBatch).where(
                        FederationBatch.name == name,
                        FederationBatch.sequence_claim.is_not(None),
                    )
                ).first()
        if row is None or row.provider_region != self.region or row.consumer_region != consumer:
            raise MessageRejectedError(
                "BATCH_NOT_FOUND", f"no batch {digest.hex()} sent to {consumer}"
            )
        return row

    def on_countersignature(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        peer = self._peer(sender)
        if peer is None:
            raise MessageRejectedError("PEER_UNKNOWN", f"{sender} is not a configured peer")
        cs = message.batch_countersignature
        row = self._sent_row(sender, bytes(cs.batch_digest))
        if row.state in (COUNTERSIGNED, RETURNED):
            return None
        if row.state == SEALING:
            raise RetryLaterError("BATCH_NOT_SEALED", "the batch is still being sealed")
        body = federation_pb2.UsageBatch.FromString(row.batch).body
        why = _verify(
            self._verifiers(peer), USAGE_BATCH_COUNTERSIGNATURE_CONTEXT, body, cs.consumer_signature
        )
        if why is not None:
            raise MessageRejectedError("SIGNATURE_INVALID", why)
        key = f"batch-countersigned/{row.digest}"
        entry = self.ledger.append(
            encode_record(
                self.region,
                self.actor,
                key,
                batch_countersigned=record_pb2.BatchCountersigned(countersignature=cs),
            ),
            key,
        )
        digest, corrects = row.digest, row.corrects_return
        log.info("%s countersigned %s", sender, row.name)

        def apply(session: Session) -> None:
            now = now_us(self.clock())
            session.execute(
                update(FederationBatch)
                .where(FederationBatch.digest == digest, FederationBatch.state == SEALED)
                .values(
                    state=COUNTERSIGNED,
                    answer=cs.SerializeToString(deterministic=True),
                    answer_index=entry.index,
                    answer_leaf_hash=entry.leaf_hash,
                    update_us=now,
                )
            )
            if corrects:
                # The returns this batch answered are settled: their alarms end.
                for key in standing_alarms(session, sender, [AlarmKind.BATCH_RETURNED]):
                    clear_alarm(session, key, now_us=now)

        return apply

    def on_return(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        peer = self._peer(sender)
        if peer is None:
            raise MessageRejectedError("PEER_UNKNOWN", f"{sender} is not a configured peer")
        ret = message.batch_return
        why = _verify(
            self._verifiers(peer), USAGE_BATCH_RETURN_CONTEXT, ret.body, ret.consumer_signature
        )
        if why is not None:
            raise MessageRejectedError("SIGNATURE_INVALID", why)
        try:
            body = federation_pb2.BatchReturnBody.FromString(ret.body)
        except DecodeError as exc:
            raise MessageRejectedError("INVALID_ARGUMENT", f"return body: {exc}") from None
        if not body.name.startswith(f"regions/{sender}/batchReturns/"):
            raise MessageRejectedError("INVALID_ARGUMENT", f"return {body.name!r} not {sender}'s")
        row = self._sent_row(sender, bytes(body.batch_digest), body.batch)
        if row.state in (COUNTERSIGNED, RETURNED):
            return None
        if row.state == SEALING:
            raise RetryLaterError("BATCH_NOT_SEALED", "the batch is still being sealed")
        key = f"batch-returned/{body.name}"
        entry = self.ledger.append(
            encode_record(
                self.region,
                self.actor,
                key,
                batch_returned=record_pb2.BatchReturned(batch_return=ret),
            ),
            key,
        )
        digest, name = row.digest, row.name
        fatal = any(e.grade == FATAL for e in body.errors)
        by_id: dict[str, str] = {}
        by_index: dict[int, str] = {}
        missing: list[str] = []
        for e in body.errors:
            if e.grade != SEVERE:
                continue
            if e.code == "MISSING_RECORD":
                missing.append(e.usage_record_id)
            elif e.usage_record_id:
                by_id.setdefault(e.usage_record_id, e.code)
            elif e.HasField("entry_index"):
                by_index.setdefault(e.entry_index, e.code)
        codes = sorted({e.code for e in body.errors})
        log.warning("%s returned %s: %s", sender, name, ", ".join(codes))

        def apply(session: Session) -> None:
            now = now_us(self.clock())
            hold = now + int(self.settings.batch_grace_s * 1_000_000)
            session.execute(
                update(FederationBatch)
                .where(FederationBatch.digest == digest, FederationBatch.state == SEALED)
                .values(
                    state=RETURNED,
                    return_name=body.name,
                    answer=ret.SerializeToString(deterministic=True),
                    answer_index=entry.index,
                    answer_leaf_hash=entry.leaf_hash,
                    update_us=now,
                )
            )
            for item in session.scalars(
                select(FederationBatchItem).where(FederationBatchItem.batch == digest)
            ):
                code = (
                    ""
                    if fatal
                    else by_id.get(item.usage_record_id) or by_index.get(item.entry_index, "")
                )
                item.update_us = now
                item.reason = code
                if code == "EXTRA_RECORD":
                    item.returns += 1
                    item.state = PARKED if item.returns >= MAX_RETURNS else HELD
                    item.hold_until_us = hold
                elif code in _PARKING_CODES:
                    item.state = PARKED
                else:
                    item.state, item.hold_until_us = HELD, 0
            for rid in missing:
                session.execute(
                    update(FederationBatchItem)
                    .where(
                        FederationBatchItem.provider_region == self.region,
                        FederationBatchItem.usage_record_id == rid,
                        # Held or given up as extra: the consumer has it now. Not one
                        # parked for different figures: that needs a dispute.
                        or_(
                            FederationBatchItem.state == HELD,
                            (FederationBatchItem.state == PARKED)
                            & (FederationBatchItem.reason == "EXTRA_RECORD"),
                        ),
                    )
                    .values(state=HELD, hold_until_us=0, reason="MISSING_RECORD", update_us=now)
                )
            raise_alarm(
                session,
                f"BATCH_RETURNED:{sender}:{body.name}",
                sender,
                AlarmKind.BATCH_RETURNED,
                f"{name} returned by {sender}: {', '.join(codes)}",
                now_us=now,
            )

        return apply

    def on_request(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        sender = context.sender_region
        request = message.batch_request
        if request.provider_region != self.region or request.consumer_region != sender:
            raise MessageRejectedError("INVALID_ARGUMENT", "the request names other regions")
        claims = [f"{self.region}/{sender}/{s}" for s in request.sequences[:1000]]
        with read_scope(self.engine) as session:
            rows = list(
                session.scalars(
                    select(FederationBatch).where(
                        FederationBatch.sequence_claim.in_(claims),
                        FederationBatch.state != SEALING,
                    )
                )
            )
        batches = [federation_pb2.UsageBatch.FromString(r.batch) for r in rows]
        unknown = sorted(set(request.sequences) - {r.sequence for r in rows})
        if unknown:
            log.warning("%s asked for batches %s, never sealed here", sender, unknown)

        def apply(session: Session) -> None:
            for batch in batches:
                # A new message id: the first one was delivered (or parked) already;
                # the consumer recognises the batch by its digest.
                self.outbox.enqueue(session, sender, batch, message_id=f"batch-{uuid.uuid4()}")

        return apply


def _unverified(batch: federation_pb2.UsageBatch, provider: str) -> tuple[str, int]:
    """The name and sequence a batch claims, read WITHOUT trusting it.

    Only for the bookkeeping of a batch refused because its signature does not
    verify: the return names it, and the sequence it claims is counted as answered
    (the provider, which sent it over its authenticated channel, moves past it).
    """
    body = federation_pb2.UsageBatchBody()
    try:
        body.ParseFromString(batch.body)
    except DecodeError:
        return "", 0
    if body.provider_region != provider or body.sequence < 1:
        return "", 0
    return body.name[:200], body.sequence


class _RaceError(Exception):
    """A use was claimed by another sealing process meanwhile."""


class BatchSealer:
    """Runs :meth:`Batches.seal_once` every ``[federation] batch_interval_s`` (a thread
    started and stopped with the node, like the witness)."""

    def __init__(self, batches: Batches, interval_s: float | None = None) -> None:
        self.batches = batches
        self._interval_s = interval_s or batches.settings.batch_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.batches.peers:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="batch-sealer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                sealed = self.batches.seal_once()
                if sealed:
                    log.info("sealed %d usage batch(es)", len(sealed))
            except Exception:
                log.exception("batch sealing round failed")

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()


def progress_message(view: BatchProgressView) -> federation_pb2.BatchProgress:
    return federation_pb2.BatchProgress(
        batch=view.batch,
        sequence=view.sequence,
        state=f"BATCH_EXCHANGE_STATE_{view.state}",
        update_time=_ts(view.update_us),
    )


def fill_batch_progress(
    response: federation_pb2.GetFederationStatusResponse, engine: Engine, region: str
) -> None:
    """Set each peer's last batch sent and received in a status response."""
    progress = batch_progress(engine, region)
    for peer in response.peers:
        sent, received = progress.get(peer.region, (None, None))
        if sent is not None:
            peer.last_batch_sent.CopyFrom(progress_message(sent))
        if received is not None:
            peer.last_batch_received.CopyFrom(progress_message(received))
