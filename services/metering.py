"""Metering: licence enforcement, quota reservations, exactly-once usage records, receipts.

Every data call (bulk read, keyed lookup, verify) goes through one :class:`Meter`::

    claim = meter.start(terms, call, Quantity(calls=1, rows=1, bytes=412))   # or a Replay
    ... the data flows ...
    receipt = meter.finish(claim, delivered, reserved, Outcome(...))           # durable first
    meter.abandon(claim, reserved)          # nothing was delivered: nothing is recorded

Contracts:

* **Refusals record nothing.** :meth:`Meter.start` checks the licence's validity,
  state (suspended, revoked, expired), the product's state and the quota, and either
  claims the call or refuses with the published reason; a refused call leaves no row
  and no reservation behind.
* **Quota never overshoots.** Reservations are conditional UPDATEs of the licence's
  counters (``used + n <= limit`` in the WHERE clause), so concurrent calls, in this
  process or in any other process on the same PostgreSQL database, can never
  together exceed a limit. Streams reserve batch by batch before the batch is sent
  and :meth:`Meter.finish` settles the counters to exactly what was delivered.
* **Exactly once.** The claim is a row keyed by (consumer party, request_id) under a
  unique constraint. A retry after the call ended gets the first receipt back
  (:class:`Replay`) and meters nothing; a retry while it runs gets
  ``REQUEST_IN_PROGRESS``; a reused request_id with another request gets
  ``REQUEST_ID_REUSED``. A claim whose process died is taken over when its lease
  ends: if the ledger already holds its record the call is completed from the
  ledger, otherwise its reservation is released and the call runs afresh.
* **Durable before the receipt.** The usage record is appended to the ledger (idempotency
  key ``usage/{consumer party}/{request_id}``) and only then is the receipt, signed
  by the region key over its exact bytes, returned and stored. Records that fail
  validation are kept as REJECTED with the reason, never dropped, never settled.

Writes to the claim rows and the licence counters are group-committed: one calling
thread at a time (leader/follower, no dedicated writer thread) runs every queued
operation in one transaction, so many concurrent calls share one commit (as the
ledger's sequencer does for appends). An
operation that fails on its own is retried alone so it cannot fail its neighbours.
One-shot calls (:meth:`Meter.once`) go further: their claims, the quota UPDATE that
re-checks the licence's state, their ledger entries (appended inside the same
transaction, ``ledger.sequencer.joined``), signed receipts and stored records all
commit together, in one transaction and one fsync for the whole batch. A stream's
end (:meth:`Meter.finish`) appends, settles and stores in one transaction too, in
the caller's thread. Every such transaction locks licence rows before the ledger
head, so two of them (in any process) never wait on each other in a cycle.

What this module does NOT do: it never reads the data itself (``services.sources``),
never decides masking (the licence does; ``services.masking`` applies it) and never
touches protobuf except to build the ledger record and the receipt bytes.
"""

from __future__ import annotations

import _thread
import base64
import binascii
import enum
import functools
import hashlib
import itertools
import json
import logging
import operator
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, cast

from bashu.access.v1 import access_pb2
from bashu.common.v1 import common_pb2
from bashu.licensing.v1 import licensing_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Connection, Engine, TextClause, create_engine, text
from sqlalchemy.pool import QueuePool

from ledger.errors import EntryNotFoundError
from ledger.log import Log
from ledger.note import Signer
from ledger.sequencer import AppendResult, joined, write_gate
from services.auth import Principal, Role
from services.db import retry_transient
from services.errors import (
    AbortedError,
    BashuError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    UnavailableError,
)
from services.masking import MaskingRule
from services.records import (
    decode_record,
    encode_record_serialized,
    length_delimited,
)
from services.signing import USAGE_RECEIPT_CONTEXT, DocumentSignature, sign_document
from services.sources import FieldType

__all__ = [
    "AccessMode",
    "CallSpec",
    "Claim",
    "CrossBorder",
    "FieldInfo",
    "LicenceDirectory",
    "LicenceTerms",
    "Meter",
    "Money",
    "Outcome",
    "Purpose",
    "Quantity",
    "RatingError",
    "Receipt",
    "Replay",
    "ReserveResult",
    "UsageFilter",
    "UsageGrouping",
    "UsageItem",
    "UsageSummary",
    "check_fields",
    "check_holder",
    "check_mode",
    "fingerprint",
    "reading_engine",
    "request_id_valid",
    "request_lock_key",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# How long a running call's claim holds before another process may take it over.
DEFAULT_LEASE_S = 600.0
DEFAULT_PAGE = 50
MAX_PAGE = 1000
INT64_MAX = (1 << 63) - 1
EVENT_TYPES = {
    "BULK": "exchange.bashu.usage.v1.read",
    "LOOKUP": "exchange.bashu.usage.v1.lookup",
    "VERIFY": "exchange.bashu.usage.v1.verify",
}


# --- domain values ---------------------------------------------------------------------


class AccessMode(enum.StrEnum):
    BULK = "BULK"
    LOOKUP = "LOOKUP"
    VERIFY = "VERIFY"


@dataclass(frozen=True)
class Quantity:
    """Use along the three metered dimensions; never negative."""

    calls: int = 0
    rows: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        if min(self.calls, self.rows, self.bytes) < 0:
            raise ValueError(f"quantities are never negative: {self}")

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.calls + other.calls, self.rows + other.rows, self.bytes + other.bytes)

    def minus(self, other: Quantity) -> Quantity:
        """``self - other``, floored at zero per dimension."""
        return Quantity(
            max(0, self.calls - other.calls),
            max(0, self.rows - other.rows),
            max(0, self.bytes - other.bytes),
        )


@dataclass(frozen=True)
class Money:
    currency_code: str
    amount_fen: int

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{3}", self.currency_code):
            raise ValueError(f"bad currency code {self.currency_code!r}")


@dataclass(frozen=True)
class Purpose:
    scenario_code: str
    purpose_class: str  # PurposeClass name without prefix: COMMERCIAL, PUBLIC_WELFARE, ...
    description: str = ""


@dataclass(frozen=True)
class CrossBorder:
    destination_country: str
    approval_kind: str  # ApprovalKind name without prefix
    approval_reference: str


@dataclass(frozen=True)
class FieldInfo:
    """A descriptor field as access needs it."""

    name: str
    type: FieldType
    sensitivity: str = "INTERNAL"  # FieldSensitivity name without prefix


@dataclass(frozen=True)
class LicenceTerms:
    """What a licence lets its holder do, with the facts a usage record carries.

    Everything here is immutable for the life of the licence (its state, which is
    not, is checked on every call by :meth:`Meter.start`).
    """

    licence: str  # regions/{region}/licences/{id}
    licence_id: str
    region: str  # the provider's region (this node's)
    consumer_party: str  # party resource name
    consumer_region: str
    provider_party: str  # party id
    product_id: str
    revision: int
    purpose: Purpose
    fields: tuple[FieldInfo, ...]  # granted, in descriptor order
    masking: Mapping[str, MaskingRule]  # for every granted field
    key_fields: tuple[str, ...]
    access_modes: frozenset[AccessMode]
    quota: Quantity
    valid_from_us: int
    valid_until_us: int | None
    tariff: str = ""  # tariff resource name, "" when free
    data_grade: str = "GENERAL"
    personal_info_class: str = "NONE"
    cross_border: CrossBorder | None = None
    all_fields: tuple[FieldInfo, ...] = ()  # the whole descriptor (claims, lookups)

    @property
    def product(self) -> str:
        return f"regions/{self.region}/products/{self.product_id}"

    @property
    def product_revision(self) -> str:
        return f"{self.product}/revisions/{self.revision}"

    @property
    def provider_party_name(self) -> str:
        return f"regions/{self.region}/parties/{self.provider_party}"

    @property
    def granted(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def rule(self, name: str) -> MaskingRule:
        return self.masking.get(name, MaskingRule.NONE)


@dataclass(frozen=True)
class CallSpec:
    """One data call as metering sees it."""

    consumer_party: str  # the caller's party resource name (request ids are scoped to it)
    request_id: str
    mode: AccessMode
    fingerprint: str  # digest of the request, to tell a retry from a reuse


@dataclass(frozen=True)
class Claim:
    """A call that passed :meth:`Meter.start` and holds a reservation."""

    usage_id: str
    call: CallSpec
    terms: LicenceTerms
    start_us: int


@dataclass(frozen=True)
class Receipt:
    """A signed usage receipt: ``body`` is a serialized UsageReceiptBody, as signed."""

    body: bytes
    signature: DocumentSignature


@dataclass(frozen=True)
class Replay:
    """A retry of a call that already ended: its first receipt, nothing metered."""

    receipt: Receipt
    outcome: str


@dataclass(frozen=True)
class Outcome:
    """How a call ended, for the record."""

    columns: tuple[str, ...] = ()
    masking: tuple[tuple[str, MaskingRule], ...] = ()
    result: str = ""  # FOUND / NOT_FOUND / VALID / INVALID / UNKNOWN / "" for reads
    truncation_reason: str = ""  # QUOTA_EXHAUSTED, CLIENT_CANCELLED, ROW_LIMIT, ...


@dataclass(frozen=True)
class ReserveResult:
    granted: bool
    remaining: Quantity  # what is left in each dimension (INT64_MAX when unlimited)


class RatingError(Exception):
    """The tariff could not rate a use; the record is kept as REJECTED with ``reason``."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


Rater = Callable[[LicenceTerms, Quantity], Money]


class LicenceDirectory:
    """Where the data plane learns a licence's immutable terms (and may cache them)."""

    def terms(self, licence: str) -> LicenceTerms:  # pragma: no cover - interface
        raise NotImplementedError


def reading_engine(engine: Engine) -> Engine:
    """An engine for reads that never queue behind writers.

    The node's SQLite engine opens every transaction with ``BEGIN IMMEDIATE`` (the
    right thing for writes); a read under it waits for the write lock, and the busy
    handler's backoff turns a group commit into milliseconds of latency for every
    reader. In WAL mode a plain read sees the last committed state without any lock,
    so reads of the data plane go through this pooled engine instead. Other
    databases use the node's engine as it is.
    """
    if engine.dialect.name != "sqlite":
        return engine
    return create_engine(
        engine.url,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=56,
        connect_args={"timeout": 30.0, "check_same_thread": False},
    )


def free_rater(terms: LicenceTerms, quantity: Quantity) -> Money:
    """Rates every use at zero (a node without tariffs)."""
    return Money("CNY", 0)


# --- request checks (pure) --------------------------------------------------------------


def request_id_valid(request_id: str) -> None:
    if not request_id:
        raise InvalidArgumentError(
            [FieldViolation("request_id", "required")], reason="REQUEST_ID_REQUIRED"
        )
    if not REQUEST_ID_RE.match(request_id):
        raise InvalidArgumentError(
            [FieldViolation("request_id", "1 to 128 characters of [A-Za-z0-9._:-]")]
        )


class _UsageIds:
    """Usage ids: 16 hex digits drawn at random per process, then a counter.

    uuid4 reads the OS random source on every call, and that read releases the GIL:
    on a busy server the caller then waits behind every runnable thread to get it
    back, once per metered call. Unique across processes by the random part (a
    forked child draws its own), within one by the counter."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


new_usage_id = _UsageIds()


def fingerprint(*parts: object) -> str:
    """A digest of a request's meaningful content (order matters)."""
    canon = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


def check_holder(terms: LicenceTerms, party: str) -> None:
    if party != terms.consumer_party:
        raise PermissionDeniedError(
            f"{terms.licence} is not held by {party}",
            reason="NOT_LICENCE_HOLDER",
            metadata={"licence": terms.licence},
        )


def check_mode(terms: LicenceTerms, mode: AccessMode) -> None:
    if mode not in terms.access_modes:
        raise PermissionDeniedError(
            f"{terms.licence} does not grant {mode.value}",
            reason="ACCESS_MODE_NOT_GRANTED",
            metadata={"licence": terms.licence, "access_mode": mode.value},
        )


def check_fields(
    terms: LicenceTerms,
    *,
    columns: Iterable[str] = (),
    filtered: Iterable[str] = (),
    claimed: Iterable[str] = (),
) -> None:
    """FIELD_NOT_GRANTED for a column, filter column or claim field outside the
    licence, or a filter on a masked field (filtering would reveal the value)."""
    granted = set(terms.granted)
    for name in [*columns, *claimed]:
        if name not in granted:
            raise _field_error(terms, name, "is not granted")
    for name in filtered:
        if name not in granted:
            raise _field_error(terms, name, "is not granted")
        if terms.rule(name) is not MaskingRule.NONE:
            raise _field_error(terms, name, "is masked and cannot be filtered on")


def _field_error(terms: LicenceTerms, name: str, why: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"field {name!r} {why} by {terms.licence}",
        reason="FIELD_NOT_GRANTED",
        metadata={"licence": terms.licence, "field": name},
    )


# --- group commit ----------------------------------------------------------------------


Bulk = Callable[[Connection, list["_Pending[Any]"]], None]
"""Runs many pendings of one kind together (setting each one's ``result``)."""


class _Signal:
    """A one-shot wake-up for the one thread that waits on it: a bare lock, cheaper
    than an Event (a Condition and a waiter lock per wait) on the per-call path.
    ``set`` may be called again once set (a batch's leader was woken to lead, then
    finishes its batch); only the first call wakes."""

    __slots__ = ("_is_set", "_lock")

    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self._is_set = False

    def set(self) -> None:
        # Called by one thread at a time for a given pending (the leader that ran it,
        # or the one that handed it the lead), so the flag needs no lock of its own.
        if not self._is_set:
            self._is_set = True
            self._lock.release()

    def wait(self) -> None:
        self._lock.acquire()


class _Pending(Generic[T]):
    __slots__ = ("bulk", "done", "error", "lead", "op", "result")

    def __init__(self, op: Callable[[Connection], T], bulk: tuple[int, Bulk] | None) -> None:
        self.op: Callable[[Connection], Any] = op
        self.bulk = bulk  # (order, executor) or None
        self.done = _Signal()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.lead = False  # woken to commit the next batch rather than with a result


BeforeCommit = Callable[[Connection, list[_Pending[Any]]], None]
"""Runs in the committing thread after every operation of a transaction, before it
commits, with the pendings that ran (it may fail the transaction by raising)."""


class _Batcher:
    """Leader/follower group commit: queued operations run in shared transactions.

    The first caller to find no commit in progress commits the whole queue in its own
    thread, then wakes the oldest waiter to commit what queued meanwhile, so no
    dedicated writer thread has to win the GIL back for every batch.

    ``run(op)`` returns only after the transaction holding ``op`` committed. Operations
    must not raise for expected outcomes (they return them); an operation that does
    raise makes the batch roll back, and every operation of that batch is then run
    again alone, so only the faulty one fails.

    ``run(op, bulk=(order, executor))`` also lets the executor run every pending of
    that kind in the batch together (one multi-row INSERT, one UPDATE per licence …)
    instead of statement by statement; ``op`` remains the one-by-one fallback. Kinds
    run in ``order`` (claims before settlements), so row locks are taken in one order.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 256,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self._engine = engine
        self._before_commit = before_commit
        self._gate = write_gate(engine)
        self._max_batch = max_batch
        self._queue: deque[_Pending[Any]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._leading = False  # a caller is committing a batch

    def run(self, op: Callable[[Connection], T], bulk: tuple[int, Bulk] | None = None) -> T:
        pending: _Pending[T] = _Pending(op, bulk)
        with self._cond:
            if self._closing:
                raise UnavailableError("the node is shutting down", reason="NODE_DRAINING")
            self._queue.append(pending)
            if not self._leading:
                self._leading = pending.lead = True
        if not pending.lead:
            pending.done.wait()
        if pending.error is None and pending.lead:
            self._lead()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def close(self) -> None:
        """Finish what is queued, then stop (later ``run`` calls are refused)."""
        with self._cond:
            self._closing = True
            while self._leading:
                self._cond.wait()

    def _lead(self) -> None:
        """Commit one batch in the calling thread (whose own operation is in it), then
        hand the lead to the oldest waiter, which has to wake up anyway: no thread
        switch beyond the ones the callers need to answer."""
        with self._cond:
            batch: list[_Pending[Any]] = []
            while self._queue and len(batch) < self._max_batch:
                batch.append(self._queue.popleft())
        try:
            if batch:
                self.commit_now(batch)
        except BaseException as exc:
            for p in batch:
                if p.error is None:
                    p.error = (
                        exc
                        if isinstance(exc, Exception)
                        else UnavailableError("the metering writer stopped", reason="INTERNAL")
                    )
            raise
        finally:
            with self._cond:
                if self._queue:
                    nxt = self._queue[0]
                    nxt.lead = True
                    nxt.done.set()
                else:
                    self._leading = False
                    self._cond.notify_all()
            for p in batch:
                p.lead = False
                p.done.set()

    def commit_now(self, batch: list[_Pending[Any]]) -> None:
        """Commit ``batch`` as one transaction in the calling thread, setting each
        pending's result or error (the metering writer process calls this directly:
        its batches arrive already grouped).

        A batch that loses a race with another process (a deadlock PostgreSQL broke)
        is run again whole (its operations set their results afresh); one that fails
        otherwise runs each operation alone, so only the faulty one fails."""
        try:
            retry_transient(functools.partial(self._commit, batch), "metering batch")
        except Exception:
            for p in batch:
                try:
                    retry_transient(functools.partial(self._commit, [p]), "metering call")
                except Exception as exc:
                    p.error = exc

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        conn = self._engine.connect()
        try:
            with self._gate, conn.begin():
                self._execute(conn, batch)
                if self._before_commit is not None:
                    self._before_commit(conn, batch)
        except BaseException:
            _close_quietly(conn)
            raise
        # Back to the pool: no connection outlives the batch, so a stopped node's
        # disposed engine leaves nothing open.
        conn.close()

    @staticmethod
    def _execute(conn: Connection, batch: list[_Pending[Any]]) -> None:
        groups: dict[tuple[int, Bulk], list[_Pending[Any]]] = {}
        for p in batch:
            if p.bulk is None:
                p.result = p.op(conn)
            else:
                groups.setdefault(p.bulk, []).append(p)
        for (_, executor), pendings in sorted(groups.items(), key=lambda kv: kv[0][0]):
            if len(pendings) == 1:
                pendings[0].result = pendings[0].op(conn)
            else:
                executor(conn, pendings)


class OnceJob(NamedTuple):
    """A one-shot call as the metering writer process receives it: the caller's thread
    has checked it against the licence's terms; the writer reads the same (immutable)
    terms by name, so they do not cross the pipe."""

    licence: str
    call: CallSpec
    amount: Quantity
    outcome: Outcome
    now_us: int
    usage_id: str


class OnceWriter(Protocol):
    """Commits :class:`OnceJob` elsewhere (``services.metering_writer``)."""

    def run(self, job: OnceJob) -> _Start:
        """How ``job``'s claim ended, once committed (a CLAIMED start has its receipt)."""
        ...


def _close_quietly(conn: Connection | None) -> None:
    """Close the DBAPI connection itself, not only the checkout: the engine may have
    been disposed meanwhile (the node stopped), and a connection handed back to a
    disposed pool would otherwise linger until garbage collection."""
    if conn is not None:
        try:
            conn.invalidate()
            conn.close()
        except Exception:  # a broken connection may fail to close too
            log.debug("closing a failed metering connection", exc_info=True)


# --- SQL -------------------------------------------------------------------------------


_CLAIM_COLUMNS = (
    "id",
    "consumer_party",
    "request_id",
    "request_fingerprint",
    "mode",
    "licence_id",
    "product_id",
    "revision",
    "provider_party",
    "consumer_region",
    "state",
    "lease_until_us",
    "reserved_calls",
    "reserved_rows",
    "reserved_bytes",
    "qty_calls",
    "qty_rows",
    "qty_bytes",
    "amount_fen",
    "currency_code",
    "time_us",
    "period",
    "day",
    "outcome",
    "rejection_reason",
    "receipt_key_name",
    "receipt_key_id",
    "receipt_sign_us",
    "create_us",
    "update_us",
)


def _rows_insert(dialect: str, columns: Sequence[str], n: int) -> str:
    """An INSERT of ``n`` rows into access_usage (positional, ``columns`` order)."""
    row = "(" + _marks(dialect, len(columns)) + ")"
    # Fixed fragments only (column names and placeholders); values are bound.
    return "".join(
        (
            "INSERT INTO access_usage (",
            ", ".join(columns),
            ") VALUES ",
            ", ".join(row for _ in range(n)),
        )
    )


@functools.lru_cache(maxsize=512)
def _claims_insert(dialect: str, n: int) -> str:
    """One INSERT of ``n`` claims that skips existing request ids (driver SQL, cached
    per ``n``, positional parameters in ``_CLAIM_COLUMNS`` order).

    No RETURNING: SQLite steps once per returned row, and every step gives up the GIL
    while the write lock is held. The row count says whether all went in (the usual
    case); only otherwise are the inserted ids read back.
    """
    return (
        _rows_insert(dialect, _CLAIM_COLUMNS, n)
        + " ON CONFLICT (consumer_party, request_id) DO NOTHING"
    )


def _mark(dialect: str) -> str:
    """The driver's positional parameter mark."""
    return "%s" if dialect == "postgresql" else "?"


def _marks(dialect: str, n: int) -> str:
    """``n`` positional parameter marks, comma separated."""
    return ", ".join(_mark(dialect) for _ in range(n))


@functools.lru_cache(maxsize=512)
def _finals_insert(dialect: str, n: int) -> str:
    """One INSERT of ``n`` finished one-shot calls (positional, ``_FINAL_COLUMNS`` order).

    No ON CONFLICT: the batch checked, under the write lock (SQLite) or the request
    ids' locks (PostgreSQL), that no row holds these request ids. A conflict means a
    process that takes no such lock (an older version, mid-upgrade) took one
    meanwhile; the batch then rolls back and each call runs alone, where the claim
    INSERT finds that row.
    """
    return _rows_insert(dialect, _FINAL_COLUMNS, n)


@functools.lru_cache(maxsize=512)
def _taken_select(dialect: str, n: int) -> str:
    """The request ids among ``n`` that one party has used (by the unique index)."""
    return "".join(
        (
            "SELECT request_id FROM access_usage WHERE consumer_party = ",
            _mark(dialect),
            " AND request_id IN (",
            _marks(dialect, n),
            ")",
        )
    )


def request_lock_key(consumer_party: str, request_id: str) -> int:
    """The PostgreSQL advisory lock key of one party's request id: 64 bits of its
    hash, signed as a bigint is (a collision only makes two requests queue)."""
    digest = hashlib.blake2b(f"{consumer_party}\x00{request_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _lock_requests(conn: Connection, calls: Iterable[CallSpec]) -> None:
    """PostgreSQL: lock ``calls``' request ids for this transaction, in one order
    shared by every process, before any licence row.

    Without it two processes metering the same request id (a retry sent to two
    nodes) meet in the unique index only when the second writes its row, by which
    time it may hold a licence row the first is waiting for: a deadlock, broken by
    aborting one of them after ``deadlock_timeout``. Queued here instead, the second
    waits holding nothing and then finds the first one's committed row. SQLite has
    one writer at a time, so it needs none of this.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({request_lock_key(c.consumer_party, c.request_id) for c in calls})
    if keys:
        # unnest yields the array in order, so the locks are taken in sorted order.
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,)
        )


_FINISH_COLUMNS = (
    "id",
    "state",
    "qty_calls",
    "qty_rows",
    "qty_bytes",
    "amount_fen",
    "currency_code",
    "outcome",
    "rejection_reason",
    "record",
    "receipt_body",
    "receipt_signature",
    "receipt_key_name",
    "receipt_key_id",
    "receipt_sign_us",
    "ledger_index",
    "ledger_leaf_hash",
    "update_us",
)
_FINISH_KEYS = (
    "id",
    "state",
    "calls",
    "rows",
    "bytes",
    "amount",
    "currency",
    "outcome",
    "rejection",
    "record",
    "rbody",
    "rsig",
    "rkey",
    "rkid",
    "rsus",
    "lidx",
    "lleaf",
    "now",
)

# A finished call's values in _FINISH_COLUMNS order, read from its _FINISH parameters.
_FINISH_VALUES = operator.itemgetter(*_FINISH_KEYS)

# A one-shot call's row is written once, finished (see Meter._start_bulk): the claim's
# values that finishing keeps, nothing reserved, then what _FINISH would set.
_KEPT = [
    i for i, c in enumerate(_CLAIM_COLUMNS) if c not in _FINISH_COLUMNS and "reserved_" not in c
]
_KEPT_VALUES = operator.itemgetter(*_KEPT)
_FINAL_COLUMNS = (
    *(_CLAIM_COLUMNS[i] for i in _KEPT),
    "reserved_calls",
    "reserved_rows",
    "reserved_bytes",
    *_FINISH_COLUMNS,
)


def _final_row(claim_values: tuple[Any, ...], finish: Mapping[str, Any]) -> tuple[Any, ...]:
    """A claim row as ``_FINISH`` with ``finish`` would leave it, in _FINAL_COLUMNS order."""
    return (*_KEPT_VALUES(claim_values), 0, 0, 0, *_FINISH_VALUES(finish))


@functools.lru_cache(maxsize=512)
def _finish_many(n: int) -> str:
    """SQLite: ``n`` finished calls in ONE statement (``UPDATE … FROM (VALUES …)``),
    where an executemany would step, and give up the GIL, once per row while the
    write lock is held. Same effect as running ``_FINISH`` for each."""
    row = "(" + ", ".join("?" for _ in _FINISH_COLUMNS) + ")"
    sets = ", ".join(f"{c} = v.column{i + 1}" for i, c in enumerate(_FINISH_COLUMNS) if c != "id")
    # Fixed fragments only (column names and placeholders); values are bound.
    return "".join(
        (
            "UPDATE access_usage SET ",
            sets,
            ", reserved_calls = 0, reserved_rows = 0, reserved_bytes = 0 FROM (VALUES ",
            ", ".join(row for _ in range(n)),
            ") AS v WHERE access_usage.id = v.column1 AND access_usage.state = 'RUNNING'",
        )
    )


_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@functools.lru_cache(maxsize=1024)
def _positional(dialect: str, sql: str) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
    """``sql`` with its ``:name`` parameters as positional marks, and what picks their
    values from a mapping, in order (a name used twice is bound twice)."""
    names = _PARAM.findall(sql)
    pick: Callable[[Mapping[str, Any]], Any]
    if len(names) > 1:
        pick = operator.itemgetter(*names)
    elif names:
        pick = lambda p: (p[names[0]],)  # noqa: E731
    else:
        pick = lambda p: ()  # noqa: E731
    return _PARAM.sub(_mark(dialect), sql), pick


def _run(conn: Connection, stmt: TextClause, params: Any) -> Any:
    """Execute a fixed statement straight through the driver: the hot path of the
    writer, where SQLAlchemy's per-statement compilation cost more than the query.

    Parameters are bound by position: the sqlite3 module gives the GIL up once for
    every NAMED parameter it binds (to ask SQLite the name), and this runs while the
    database's write lock is held."""
    native, pick = _positional(conn.dialect.name, stmt.text)
    if isinstance(params, list):
        return conn.exec_driver_sql(native, [pick(p) for p in params])
    return conn.exec_driver_sql(native, pick(params))


def _run_in(conn: Connection, prefix: str, ids: Sequence[str]) -> Any:
    sql = prefix + "(" + _marks(conn.dialect.name, len(ids)) + ")"
    return conn.exec_driver_sql(sql, tuple(ids))


def _sql(*parts: str) -> TextClause:
    """A statement from fixed fragments (never from request values: those are bound)."""
    return text("".join(parts))


_INSERT_CLAIM = text(
    "INSERT INTO access_usage (id, consumer_party, request_id, request_fingerprint, mode,"
    " licence_id, product_id, revision, provider_party, consumer_region, state,"
    " lease_until_us, reserved_calls, reserved_rows, reserved_bytes, qty_calls, qty_rows,"
    " qty_bytes, amount_fen, currency_code, time_us, period, day, outcome, rejection_reason,"
    " receipt_key_name, receipt_key_id, receipt_sign_us, create_us, update_us)"
    " VALUES (:id, :consumer_party, :request_id, :fp, :mode, :licence_id, :product_id,"
    " :revision, :provider_party, :consumer_region, 'RUNNING', :lease, :rc, :rr, :rb,"
    " 0, 0, 0, 0, 'CNY', :time_us, :period, :day, '', '', '', '', 0, :now, :now)"
    " ON CONFLICT (consumer_party, request_id) DO NOTHING"
)
_SELECT_CLAIM = text(
    "SELECT id, state, request_fingerprint, lease_until_us, outcome, receipt_body,"
    " receipt_signature, receipt_key_name, receipt_key_id, receipt_sign_us, provider_party"
    " FROM access_usage WHERE consumer_party = :consumer_party AND request_id = :request_id"
)
_QUOTA_OK = (
    " (quota_calls = 0 OR used_calls + :c <= quota_calls)"
    " AND (quota_rows = 0 OR used_rows + :r <= quota_rows)"
    " AND (quota_bytes = 0 OR used_bytes + :b <= quota_bytes)"
)
_RESERVE_START = _sql(
    "UPDATE licences SET used_calls = used_calls + :c, used_rows = used_rows + :r,"
    " used_bytes = used_bytes + :b WHERE id = :id AND state = 'ACTIVE' AND",
    _QUOTA_OK,
    " AND"
    " (:room = 0 OR ((quota_rows = 0 OR used_rows < quota_rows)"
    " AND (quota_bytes = 0 OR used_bytes < quota_bytes)))"
    " AND NOT EXISTS (SELECT 1 FROM catalog_products p"
    " WHERE p.id = licences.product_id AND p.state = 'SUSPENDED')",
)
_RESERVE_MORE = _sql(
    "UPDATE licences SET used_calls = used_calls + :c, used_rows = used_rows + :r,"
    " used_bytes = used_bytes + :b WHERE id = :id AND",
    _QUOTA_OK,
)
_RELEASE = text(
    "UPDATE licences SET used_calls = used_calls - :c, used_rows = used_rows - :r,"
    " used_bytes = used_bytes - :b WHERE id = :id"
)
_LICENCE_STATE = text(
    "SELECT l.state, l.quota_calls, l.quota_rows, l.quota_bytes, l.used_calls, l.used_rows,"
    " l.used_bytes, p.state FROM licences l LEFT JOIN catalog_products p"
    " ON p.id = l.product_id WHERE l.id = :id"
)
_ADD_RESERVED = text(
    "UPDATE access_usage SET reserved_calls = reserved_calls + :c,"
    " reserved_rows = reserved_rows + :r, reserved_bytes = reserved_bytes + :b,"
    " lease_until_us = :lease, update_us = :now WHERE id = :id AND state = 'RUNNING'"
)
_DELETE_CLAIM = text("DELETE FROM access_usage WHERE id = :id AND state = 'RUNNING'")
_FINISH = text(
    "UPDATE access_usage SET state = :state, qty_calls = :calls, qty_rows = :rows,"
    " qty_bytes = :bytes, amount_fen = :amount, currency_code = :currency, outcome = :outcome,"
    " rejection_reason = :rejection, record = :record, receipt_body = :rbody,"
    " receipt_signature = :rsig, receipt_key_name = :rkey, receipt_key_id = :rkid,"
    " receipt_sign_us = :rsus, ledger_index = :lidx, ledger_leaf_hash = :lleaf,"
    " reserved_calls = 0, reserved_rows = 0, reserved_bytes = 0, update_us = :now"
    " WHERE id = :id AND state = 'RUNNING'"
)
_CLAIM_RESERVED = text(
    "SELECT reserved_calls, reserved_rows, reserved_bytes, licence_id, state"
    " FROM access_usage WHERE id = :id"
)


def _reused() -> BashuError:
    return InvalidArgumentError(
        [FieldViolation("request_id", "already used for a different request")],
        reason="REQUEST_ID_REUSED",
    )


def _in_progress() -> BashuError:
    return AbortedError(
        "a call with this request_id is still running; retry later",
        reason="REQUEST_IN_PROGRESS",
    )


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


_DAY_US = 86_400_000_000


@functools.lru_cache(maxsize=64)
def _day_names(day: int) -> tuple[str, str]:
    d = datetime.fromtimestamp(day * (_DAY_US // 1_000_000), UTC)
    return d.strftime("%Y-%m"), d.strftime("%Y-%m-%d")


def _period_day(time_us: int) -> tuple[str, str]:
    """The UTC month (``YYYY-MM``) and day (``YYYY-MM-DD``) of ``time_us``."""
    return _day_names(time_us // _DAY_US)


def _ts(time_us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(time_us)
    return ts


def _enum(enum_type: Any, prefix: str, name: str) -> Any:
    try:
        return int(enum_type.Value(f"{prefix}_{name}"))
    except ValueError:
        return 0


def _quantity_msg(q: Quantity) -> common_pb2.Quantity:
    return common_pb2.Quantity(calls=q.calls, rows=q.rows, bytes=q.bytes)


# Setting a field of a sub-message marks it present (as building it whole would), and
# SetInParent keeps it present when every value is zero: same bytes either way.
def _set_quantity(msg: common_pb2.Quantity, q: Quantity) -> None:
    msg.SetInParent()
    msg.calls = q.calls
    msg.rows = q.rows
    msg.bytes = q.bytes


def _set_money(msg: common_pb2.Money, m: Money) -> None:
    msg.SetInParent()
    msg.currency_code = m.currency_code
    msg.amount_fen = m.amount_fen


def _set_time(msg: Timestamp, time_us: int) -> None:
    seconds, micros = divmod(time_us, 1_000_000)
    msg.SetInParent()
    msg.seconds = seconds
    msg.nanos = micros * 1000


_STATUS: dict[str, access_pb2.UsageRecordStatus] = {
    "RECORDED": access_pb2.USAGE_RECORD_STATUS_RECORDED,
    "REJECTED": access_pb2.USAGE_RECORD_STATUS_REJECTED,
}


def _masking_msgs(masking: Sequence[tuple[str, MaskingRule]]) -> list[common_pb2.FieldMasking]:
    return [
        common_pb2.FieldMasking(
            field=name, rule=_enum(common_pb2.MaskingRule, "MASKING_RULE", rule.value)
        )
        for name, rule in masking
    ]


@dataclass(frozen=True)
class _Start:
    kind: str  # CLAIMED, REPLAY, IN_PROGRESS, REUSED, REFUSED, TAKEOVER
    receipt: Receipt | None = None
    outcome: str = ""
    error: BashuError | None = None
    row_id: str = ""


def _receipt_from_row(row: Any) -> Receipt | None:
    if row.receipt_body is None or row.receipt_signature is None:
        return None
    return Receipt(
        bytes(row.receipt_body),
        DocumentSignature(
            signer_region="",
            key_name=row.receipt_key_name,
            key_id=row.receipt_key_id,
            signature=bytes(row.receipt_signature),
            sign_us=int(row.receipt_sign_us),
        ),
    )


@dataclass
class _StartOp:
    """Claiming one call (callable alone; also read by ``Meter._start_bulk``)."""

    meter: Meter
    terms: LicenceTerms
    call: CallSpec
    reserve: Quantity
    need_room: bool
    now_us: int
    usage_id: str
    values: tuple[Any, ...] = ()  # the claim row in _CLAIM_COLUMNS order

    def __post_init__(self) -> None:
        # Built here, in the caller's thread: the writer holds the write lock while
        # it runs the batch, so it should only execute.
        self.values = self.row()

    def __call__(self, conn: Connection) -> _Start:
        return self.meter._start_op(
            conn, self.terms, self.call, self.reserve, self.need_room, self.now_us, self.usage_id
        )

    def row(self) -> tuple[Any, ...]:
        period, day = _period_day(self.now_us)
        now = self.now_us
        terms, call, reserve = self.terms, self.call, self.reserve
        return (
            self.usage_id,
            call.consumer_party,
            call.request_id,
            call.fingerprint,
            call.mode.value,
            terms.licence_id,
            terms.product_id,
            terms.revision,
            terms.provider_party,
            terms.consumer_region,
            "RUNNING",
            now + _us(self.meter.lease_s),
            reserve.calls,
            reserve.rows,
            reserve.bytes,
            0,
            0,
            0,
            0,
            "CNY",
            now,
            period,
            day,
            "",
            "",
            "",
            "",
            0,
            now,
            now,
        )


@dataclass
class _StoreOp:
    """Storing one finished call and settling its quota."""

    params: dict[str, Any]
    licence_id: str
    release: tuple[int, int, int]  # reserved minus delivered: negative where unreserved

    def __call__(self, conn: Connection) -> None:
        done = _run(conn, _FINISH, self.params).rowcount
        if done == 1 and any(self.release):
            _run(
                conn,
                _RELEASE,
                {
                    "id": self.licence_id,
                    "c": self.release[0],
                    "r": self.release[1],
                    "b": self.release[2],
                },
            )


@dataclass
class _OnceOp(_StartOp):
    """A one-shot call (see :meth:`Meter.once`): its claim, and what the writer needs to
    record it, prepared in the caller's thread."""

    outcome: Outcome = field(default_factory=Outcome)
    claim: Claim | None = None
    amount: Money | None = None
    rejection: str = ""
    record_bytes: bytes = b""
    data: bytes | None = None  # the ledger entry (None: REJECTED, nothing to append)
    key: str = ""
    body: access_pb2.UsageReceiptBody | None = None
    receipt: Receipt | None = None  # set by the writer in the transaction recording it
    # Whether this call's claim row was inserted (run alone, see __call__): it is then
    # finished by an UPDATE; in a batch (Meter._start_bulk) its row is inserted finished.
    row_inserted: bool = True

    def __call__(self, conn: Connection) -> _Start:
        self.row_inserted = True
        return super().__call__(conn)

    def prepare(self, outcome: Outcome) -> None:
        meter = self.meter
        claim = Claim(self.usage_id, self.call, self.terms, self.now_us)
        amount, rejection = meter._rate(self.terms, self.reserve)
        status = "REJECTED" if rejection else "RECORDED"
        record = meter._record_message(claim, self.reserve, amount, outcome, status, rejection)
        self.record_bytes = record.SerializeToString(deterministic=True)
        if not rejection:
            self.data, self.key = meter._ledger_data(claim, self.record_bytes)
        self.outcome, self.claim, self.amount, self.rejection = outcome, claim, amount, rejection
        self.body = meter._receipt_body(claim, self.reserve, amount, outcome)


@dataclass
class _ReleaseOp:
    """Forget a running claim and give back what it reserved."""

    usage_id: str

    def __call__(self, conn: Connection) -> None:
        row = _run(conn, _CLAIM_RESERVED, {"id": self.usage_id}).first()
        if row is None or row.state != "RUNNING":
            return
        _run(
            conn,
            _RELEASE,
            {
                "id": row.licence_id,
                "c": row.reserved_calls,
                "r": row.reserved_rows,
                "b": row.reserved_bytes,
            },
        )
        _run(conn, _DELETE_CLAIM, {"id": self.usage_id})


def _store_bulk(conn: Connection, pendings: list[_Pending[Any]]) -> None:
    """Many finished calls at once: one executemany, one release per licence."""
    _store_rows(conn, [cast(_StoreOp, p.op) for p in pendings])
    for p in pendings:
        p.result = None


def _store_rows(conn: Connection, ops: list[_StoreOp]) -> None:
    if len(ops) == 1:
        ops[0](conn)
        return
    releasing = [o for o in ops if any(o.release)]
    running: set[str] = set()
    if releasing:
        running = {
            r[0]
            for r in _run_in(
                conn,
                "SELECT id FROM access_usage WHERE state = 'RUNNING' AND id IN ",
                [o.params["id"] for o in releasing],
            )
        }
    if conn.dialect.name == "sqlite":
        params = tuple(itertools.chain.from_iterable(_FINISH_VALUES(o.params) for o in ops))
        conn.exec_driver_sql(_finish_many(len(ops)), params)
    else:
        _run(conn, _FINISH, [o.params for o in ops])
    totals: dict[str, tuple[int, int, int]] = {}
    for o in releasing:
        if o.params["id"] in running:
            c, r, b = totals.get(o.licence_id, (0, 0, 0))
            totals[o.licence_id] = (c + o.release[0], r + o.release[1], b + o.release[2])
    for licence_id in sorted(totals):
        c, r, b = totals[licence_id]
        _run(conn, _RELEASE, {"id": licence_id, "c": c, "r": r, "b": b})


# --- listing ---------------------------------------------------------------------------


class UsageGrouping(enum.StrEnum):
    LICENCE = "LICENCE"
    PRODUCT = "PRODUCT"
    CONSUMER = "CONSUMER"
    DAY = "DAY"


@dataclass(frozen=True)
class UsageFilter:
    licence: str = ""
    product: str = ""
    consumer_party: str = ""
    period: str = ""
    start_us: int | None = None
    end_us: int | None = None
    statuses: tuple[str, ...] = ()  # RECORDED / REJECTED; empty = RECORDED
    consumer_region: str = ""


@dataclass(frozen=True)
class UsageItem:
    """A stored usage record: the record bytes as built, and where it lives."""

    id: str
    record: bytes  # serialized UsageRecord (ledger_entry unset)
    status: str
    ledger_index: int | None
    ledger_leaf_hash: bytes | None
    period: str


@dataclass(frozen=True)
class UsageSummary:
    key: str
    record_count: int
    zero_priced_count: int
    quantity: Quantity
    amount_fen: int
    currency_code: str = "CNY"


_PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _page_size(size: int) -> int:
    if size < 0:
        raise InvalidArgumentError([FieldViolation("page_size", "must not be negative")])
    return min(size or DEFAULT_PAGE, MAX_PAGE)


def _token(kind: str, bound: str, key: list[Any]) -> str:
    raw = json.dumps({"k": kind, "b": bound, "v": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _untoken(token: str, kind: str, bound: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["k"] != kind or data["b"] != bound or not isinstance(data["v"], list):
            raise ValueError(token)
        return list(data["v"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgumentError(
            [FieldViolation("page_token", "not a token of this request")],
            reason="INVALID_PAGE_TOKEN",
        ) from None


def _id_of(name: str, collection: str, region: str) -> str:
    prefix = f"regions/{region}/{collection}/"
    if not name.startswith(prefix) or "/" in name[len(prefix) :] or len(name) == len(prefix):
        raise InvalidArgumentError(
            [FieldViolation(collection, f"{name!r} is not {prefix}{{id}}")], reason="INVALID_NAME"
        )
    return name[len(prefix) :]


# --- the meter -------------------------------------------------------------------------


@dataclass
class Meter:
    """Claims, reservations and records of one node's data calls (thread-safe)."""

    engine: Engine
    ledger: Log
    signer: Signer
    region: str
    rater: Rater = free_rater
    clock: Callable[[], float] = time.time
    lease_s: float = DEFAULT_LEASE_S
    reads: Engine | None = None  # see reading_engine (default: the engine itself)
    # One-shot calls (lookups, verifies) committed by the metering writer process
    # instead of in this one (``services.metering_writer``); None: here. The child
    # builds the node's own parts (SQL licence directory, tariff rater, system
    # clock), so a Meter given other ones must leave this None.
    writer: OnceWriter | None = None
    _batcher: _Batcher = field(init=False)
    _template_cache: dict[
        tuple[str, str, AccessMode, tuple[str, ...], tuple[tuple[str, MaskingRule], ...]],
        tuple[access_pb2.UsageRecord, access_pb2.UsageReceiptBody],
    ] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._batcher = _Batcher(self.engine, before_commit=self._record_once)
        self._gate = write_gate(self.engine)
        if self.reads is None:
            self.reads = self.engine

    @property
    def _reads(self) -> Engine:
        assert self.reads is not None
        return self.reads

    def close(self) -> None:
        self._batcher.close()

    @property
    def origin(self) -> str:
        return self.ledger.origin

    def usage_name(self, usage_id: str) -> str:
        return f"regions/{self.region}/usageRecords/{usage_id}"

    # -- starting -----------------------------------------------------------------------

    def start(
        self, terms: LicenceTerms, call: CallSpec, reserve: Quantity, *, need_room: bool = False
    ) -> Claim | Replay:
        """Claim ``call`` and reserve ``reserve`` on the licence, or refuse/replay.

        ``need_room`` additionally refuses when a limited rows or bytes quota has
        nothing left (a bulk read that could deliver nothing).
        """
        for _ in range(3):
            now_us = _us(self.clock())
            usage_id = new_usage_id()
            op = _StartOp(self, terms, call, reserve, need_room, now_us, usage_id)
            result = self._batcher.run(op, (0, self._start_bulk))
            match result.kind:
                case "CLAIMED":
                    return Claim(usage_id, call, terms, now_us)
                case "REPLAY":
                    assert result.receipt is not None
                    return Replay(result.receipt, result.outcome)
                case "TAKEOVER":
                    self._recover(result.row_id, call)
                    continue
            assert result.error is not None
            raise result.error
        raise AbortedError("could not claim the request; retry later", reason="REQUEST_IN_PROGRESS")

    def _start_op(
        self,
        conn: Connection,
        terms: LicenceTerms,
        call: CallSpec,
        reserve: Quantity,
        need_room: bool,
        now_us: int,
        usage_id: str,
    ) -> _Start:
        period, day = _period_day(now_us)
        _lock_requests(conn, (call,))
        inserted = _run(
            conn,
            _INSERT_CLAIM,
            {
                "id": usage_id,
                "consumer_party": call.consumer_party,
                "request_id": call.request_id,
                "fp": call.fingerprint,
                "mode": call.mode.value,
                "licence_id": terms.licence_id,
                "product_id": terms.product_id,
                "revision": terms.revision,
                "provider_party": terms.provider_party,
                "consumer_region": terms.consumer_region,
                "lease": now_us + _us(self.lease_s),
                "rc": reserve.calls,
                "rr": reserve.rows,
                "rb": reserve.bytes,
                "time_us": now_us,
                "period": period,
                "day": day,
                "now": now_us,
            },
        ).rowcount
        if inserted != 1:
            return self._existing(conn, call, now_us)
        refusal = self._validity(terms, now_us)
        if refusal is None:
            ok = _run(
                conn,
                _RESERVE_START,
                {
                    "id": terms.licence_id,
                    "c": reserve.calls,
                    "r": reserve.rows,
                    "b": reserve.bytes,
                    "room": 1 if need_room else 0,
                },
            ).rowcount
            if ok == 1:
                return _Start("CLAIMED")
            refusal = self._diagnose(conn, terms, reserve)
        _run(conn, _DELETE_CLAIM, {"id": usage_id})
        return _Start("REFUSED", error=refusal)

    def _existing(self, conn: Connection, call: CallSpec, now_us: int) -> _Start:
        row = _run(
            conn,
            _SELECT_CLAIM,
            {"consumer_party": call.consumer_party, "request_id": call.request_id},
        ).first()
        if row is None:  # deleted between our INSERT and SELECT: let the caller retry
            return _Start("TAKEOVER", row_id="")
        if row.request_fingerprint != call.fingerprint:
            return _Start("REFUSED", error=_reused())
        if row.state != "RUNNING":
            receipt = _receipt_from_row(row)
            if receipt is not None:
                receipt = replace(
                    receipt, signature=replace(receipt.signature, signer_region=self.region)
                )
                return _Start("REPLAY", receipt=receipt, outcome=row.outcome)
        if row.state == "RUNNING" and row.lease_until_us < now_us:
            return _Start("TAKEOVER", row_id=row.id)
        return _Start("REFUSED", error=_in_progress())

    def _validity(self, terms: LicenceTerms, now_us: int) -> BashuError | None:
        if now_us < terms.valid_from_us:
            return FailedPreconditionError(
                f"{terms.licence} is not valid yet",
                reason="LICENCE_NOT_YET_VALID",
                metadata={"licence": terms.licence},
            )
        if terms.valid_until_us is not None and now_us >= terms.valid_until_us:
            return FailedPreconditionError(
                f"{terms.licence} has expired",
                reason="LICENCE_EXPIRED",
                metadata={"licence": terms.licence},
            )
        return None

    def _diagnose(self, conn: Connection, terms: LicenceTerms, asked: Quantity) -> BashuError:
        row = _run(conn, _LICENCE_STATE, {"id": terms.licence_id}).first()
        meta = {"licence": terms.licence}
        if row is None:
            return NotFoundError(terms.licence, reason="LICENCE_NOT_FOUND")
        state, product_state = row[0], row[7]
        if state == "REVOKED":
            return FailedPreconditionError(
                f"{terms.licence} is revoked", reason="LICENCE_REVOKED", metadata=meta
            )
        if state == "SUSPENDED":
            return FailedPreconditionError(
                f"{terms.licence} is suspended", reason="LICENCE_SUSPENDED", metadata=meta
            )
        if state == "EXPIRED":
            return FailedPreconditionError(
                f"{terms.licence} has expired", reason="LICENCE_EXPIRED", metadata=meta
            )
        if state != "ACTIVE":
            return FailedPreconditionError(
                f"{terms.licence} is {state}", reason="INVALID_STATE_TRANSITION", metadata=meta
            )
        if product_state == "SUSPENDED":
            return FailedPreconditionError(
                f"{terms.product} is suspended", reason="PRODUCT_SUSPENDED", metadata=meta
            )
        limits = (row[1], row[2], row[3])
        used = (row[4], row[5], row[6])
        wants = (asked.calls, max(asked.rows, 1), max(asked.bytes, 1))
        for dim, limit, u, want in zip(
            ("calls", "rows", "bytes"), limits, used, wants, strict=True
        ):
            if limit and u + want > limit:
                return QuotaExceededError(terms.licence, dim, int(limit), int(u), want)
        # The counters moved between the UPDATE and this read: report it as quota.
        return QuotaExceededError(terms.licence, "calls", int(row[1]), int(row[4]), asked.calls)

    def _start_bulk(self, conn: Connection, pendings: list[_Pending[Any]]) -> None:
        """Many claims at once: one multi-row INSERT, one quota UPDATE per licence.

        A one-shot call (:class:`_OnceOp`) gets no claim row here: its row is written
        once, finished, by :meth:`_record_once` in this same transaction, so only
        whether its request id is taken is looked up (the answer stays true to the
        commit: SQLite's write lock is held from here, and on PostgreSQL so is the
        request id's lock, :func:`_lock_requests`). Falls back to the per-call path
        exactly where the shortcut cannot decide (an existing request id, a licence
        whose summed reservation does not fit).
        """
        _lock_requests(conn, (cast(_StartOp, p.op).call for p in pendings))
        starts: list[tuple[_Pending[Any], _StartOp]] = []
        onces: list[tuple[_Pending[Any], _OnceOp]] = []
        for p in pendings:
            if isinstance(p.op, _OnceOp):
                onces.append((p, p.op))
            else:
                starts.append((p, cast(_StartOp, p.op)))
        fresh: list[tuple[_Pending[Any], _StartOp]] = []
        if starts:
            params = tuple(itertools.chain.from_iterable(o.values for _, o in starts))
            sql = _claims_insert(conn.dialect.name, len(starts))
            if conn.exec_driver_sql(sql, params).rowcount == len(starts):
                inserted = {o.usage_id for _, o in starts}
            else:  # some request ids exist already (retries): which claims went in?
                found = _run_in(
                    conn,
                    "SELECT id FROM access_usage WHERE id IN ",
                    [o.usage_id for _, o in starts],
                )
                inserted = {r[0] for r in found}
            for p, o in starts:
                if o.usage_id in inserted:
                    fresh.append((p, o))
                else:
                    p.result = self._existing(conn, o.call, o.now_us)
        if onces:
            taken = self._taken(conn, [o.call for _, o in onces])
            first: dict[tuple[str, str], CallSpec] = {}
            for p, o in onces:
                o.row_inserted = False
                ident = (o.call.consumer_party, o.call.request_id)
                if ident in taken:
                    p.result = self._existing(conn, o.call, o.now_us)
                elif ident in first:  # the same request twice in one batch
                    same = first[ident].fingerprint == o.call.fingerprint
                    p.result = _Start("REFUSED", error=_in_progress() if same else _reused())
                else:
                    first[ident] = o.call
                    fresh.append((p, o))
        claimed: dict[str, list[tuple[_Pending[Any], _StartOp]]] = {}
        refused: list[str] = []  # claim rows to delete again
        for p, o in fresh:
            refusal = self._validity(o.terms, o.now_us)
            if refusal is not None:
                p.result = _Start("REFUSED", error=refusal)
                if not isinstance(o, _OnceOp):
                    refused.append(o.usage_id)
                continue
            claimed.setdefault(o.terms.licence_id, []).append((p, o))
        for licence_id in sorted(claimed):
            group = claimed[licence_id]
            total = Quantity()
            for _, o in group:
                total = total + o.reserve
            ok = _run(
                conn,
                _RESERVE_START,
                {
                    "id": licence_id,
                    "c": total.calls,
                    "r": total.rows,
                    "b": total.bytes,
                    "room": 1 if any(o.need_room for _, o in group) else 0,
                },
            ).rowcount
            for p, o in group:
                if ok == 1 or self._reserve_one(conn, o):
                    p.result = _Start("CLAIMED")
                else:
                    p.result = _Start("REFUSED", error=self._diagnose(conn, o.terms, o.reserve))
                    if not isinstance(o, _OnceOp):
                        refused.append(o.usage_id)
        if refused:
            _run_in(conn, "DELETE FROM access_usage WHERE state = 'RUNNING' AND id IN ", refused)

    @staticmethod
    def _taken(conn: Connection, calls: Sequence[CallSpec]) -> set[tuple[str, str]]:
        """Which of ``calls``' (party, request id) pairs have a row already (one batch:
        at most ``max_batch`` ids, well within the drivers' parameter limits)."""
        by_party: dict[str, list[str]] = {}
        for call in calls:
            by_party.setdefault(call.consumer_party, []).append(call.request_id)
        taken: set[tuple[str, str]] = set()
        dialect = conn.dialect.name
        for party, ids in by_party.items():
            rows = conn.exec_driver_sql(_taken_select(dialect, len(ids)), (party, *ids))
            taken.update((party, r[0]) for r in rows)
        return taken

    @staticmethod
    def _reserve_one(conn: Connection, o: _StartOp) -> bool:
        return bool(
            _run(
                conn,
                _RESERVE_START,
                {
                    "id": o.terms.licence_id,
                    "c": o.reserve.calls,
                    "r": o.reserve.rows,
                    "b": o.reserve.bytes,
                    "room": 1 if o.need_room else 0,
                },
            ).rowcount
            == 1
        )

    # -- reserving more (streams) ---------------------------------------------------------

    def reserve(self, claim: Claim, more: Quantity) -> ReserveResult:
        """Reserve ``more`` for a running call, all of it or nothing (then say what is left)."""
        now_us = _us(self.clock())
        lease = now_us + _us(self.lease_s)

        def op(conn: Connection) -> ReserveResult:
            params = {
                "id": claim.terms.licence_id,
                "c": more.calls,
                "r": more.rows,
                "b": more.bytes,
            }
            if _run(conn, _RESERVE_MORE, params).rowcount == 1:
                _run(
                    conn,
                    _ADD_RESERVED,
                    {
                        "id": claim.usage_id,
                        "c": more.calls,
                        "r": more.rows,
                        "b": more.bytes,
                        "lease": lease,
                        "now": now_us,
                    },
                )
                return ReserveResult(True, Quantity())
            row = _run(conn, _LICENCE_STATE, {"id": claim.terms.licence_id}).first()
            if row is None:
                return ReserveResult(False, Quantity())
            left = [
                INT64_MAX if limit == 0 else max(0, int(limit) - int(used))
                for limit, used in ((row[1], row[4]), (row[2], row[5]), (row[3], row[6]))
            ]
            return ReserveResult(False, Quantity(*left))

        return self._batcher.run(op)

    # -- ending ---------------------------------------------------------------------------

    def abandon(self, claim: Claim) -> None:
        """Nothing was delivered: release the reservation and forget the claim."""
        self._batcher.run(_ReleaseOp(claim.usage_id))

    def finish(
        self,
        claim: Claim,
        delivered: Quantity,
        reserved: Quantity,
        outcome: Outcome,
        *,
        data_sent: bool = True,
    ) -> Receipt:
        """Record the call: validate and rate it, append it to the ledger (durable),
        sign the receipt, settle the quota to ``delivered`` and store it all.

        ``data_sent`` says whether data already left (a stream): if the ledger then
        refuses the append, the record is kept as REJECTED ("LEDGER_APPEND_FAILED")
        rather than lost. Before any data left (lookups, verifies), a failed append
        releases the claim and the error propagates: nothing was delivered, nothing
        is recorded.
        """
        amount, rejection = self._rate(claim.terms, delivered)
        record = self._record_message(
            claim, delivered, amount, outcome, "REJECTED" if rejection else "RECORDED", rejection
        )
        if not rejection:
            record_bytes = record.SerializeToString(deterministic=True)
            data, key = self._ledger_data(claim, record_bytes)
            try:
                # Run again while it loses races with other processes: the data has
                # left, so giving up would leave the use REJECTED for a deadlock the
                # next try does not meet.
                return retry_transient(
                    lambda: self._finish_recorded(
                        claim, delivered, reserved, amount, outcome, record_bytes, data, key
                    ),
                    f"recording usage {key}",
                )
            except Exception:
                if not data_sent:
                    self.abandon(claim)
                    raise
                log.exception("usage %s could not be appended; kept as REJECTED", key)
                rejection = "LEDGER_APPEND_FAILED"
                record = self._record_message(
                    claim, delivered, amount, outcome, "REJECTED", rejection
                )
        receipt = self._sign(self._receipt_body(claim, delivered, amount, outcome), None, None)
        op = self._store_op(
            claim,
            delivered,
            reserved,
            amount,
            outcome,
            "REJECTED",
            rejection,
            record.SerializeToString(deterministic=True),
            receipt,
            None,
            None,
        )
        self._batcher.run(op, (1, _store_bulk))
        return receipt

    def _finish_recorded(
        self,
        claim: Claim,
        delivered: Quantity,
        reserved: Quantity,
        amount: Money,
        outcome: Outcome,
        record_bytes: bytes,
        data: bytes,
        key: str,
    ) -> Receipt:
        """Append, sign, settle and store in ONE transaction, in the caller's thread (so
        the append stays in the call's trace): all of it commits or none does."""
        with self._gate, self.engine.connect() as conn, conn.begin():
            # The licence row first: every metering transaction locks licences before
            # the ledger head (see Meter._start_bulk), so two never wait on each other.
            _run(conn, _RELEASE, {"id": claim.terms.licence_id, "c": 0, "r": 0, "b": 0})
            with joined(conn.engine, conn.connection.dbapi_connection):
                appended = self.ledger.append(data, key)
            if appended.duplicate:
                log.warning("usage %s was already in the ledger at %s", key, appended.index)
            receipt = self._sign(
                self._receipt_body(claim, delivered, amount, outcome),
                appended.index,
                appended.leaf_hash,
            )
            self._store_op(
                claim,
                delivered,
                reserved,
                amount,
                outcome,
                "RECORDED",
                "",
                record_bytes,
                receipt,
                appended.index,
                appended.leaf_hash,
            )(conn)
        return receipt

    def _rate(self, terms: LicenceTerms, delivered: Quantity) -> tuple[Money, str]:
        """The amount of a use and, when it cannot be settled, why (else "")."""
        try:
            amount = self.rater(terms, delivered)
            if not 0 <= amount.amount_fen <= INT64_MAX:
                raise RatingError("AMOUNT_OVERFLOW")
        except RatingError as exc:
            return Money("CNY", 0), exc.reason
        return amount, _validate(terms, delivered)

    def _ledger_data(self, claim: Claim, record_bytes: bytes) -> tuple[bytes, str]:
        """The ledger entry of a usage record, from the record's serialised bytes."""
        key = f"usage/{claim.call.consumer_party}/{claim.call.request_id}"
        # UsageRecorded holds only the record (field 1): its bytes are that one field.
        data = encode_record_serialized(
            self.region,
            claim.call.consumer_party,
            key,
            "usage_recorded",
            length_delimited(1, record_bytes),
        )
        return data, key

    def _receipt_body(
        self, claim: Claim, delivered: Quantity, amount: Money, outcome: Outcome
    ) -> access_pb2.UsageReceiptBody:
        """The receipt body, but for the ledger entry (set by :meth:`_sign`)."""
        body = access_pb2.UsageReceiptBody()
        body.CopyFrom(self._templates(claim, outcome)[1])
        body.usage_record = self.usage_name(claim.usage_id)
        body.request_id = claim.call.request_id
        _set_quantity(body.quantity, delivered)
        _set_money(body.amount, amount)
        _set_time(body.time, claim.start_us)
        body.truncated = bool(outcome.truncation_reason)
        body.truncation_reason = outcome.truncation_reason
        return body

    def _templates(
        self, claim: Claim, outcome: Outcome
    ) -> tuple[access_pb2.UsageRecord, access_pb2.UsageReceiptBody]:
        """The parts of a usage record and its receipt that every call of one kind
        shares (licence facts, mode, columns, masking), built once: the records are
        copied from them and only the call's own fields are set."""
        call, terms = claim.call, claim.terms
        # Terms never change for a licence: its name stands for them.
        ident = (terms.licence, call.consumer_party, call.mode, outcome.columns, outcome.masking)
        found = self._template_cache.get(ident)
        if found is not None:
            return found
        mode = _enum(common_pb2.AccessMode, "ACCESS_MODE", call.mode.value)
        masking = _masking_msgs(outcome.masking)
        record = access_pb2.UsageRecord(
            source=f"//bashu.exchange/regions/{self.region}",
            subject=terms.licence,
            type=EVENT_TYPES[call.mode.value],
            spec_version="1.0",
            provider_party=terms.provider_party_name,
            provider_region=self.region,
            consumer_party=call.consumer_party,
            consumer_region=terms.consumer_region,
            product=terms.product,
            product_revision=terms.product_revision,
            tariff=terms.tariff,
            purpose=licensing_pb2.Purpose(
                scenario_code=terms.purpose.scenario_code,
                purpose_class=_enum(
                    common_pb2.PurposeClass, "PURPOSE_CLASS", terms.purpose.purpose_class
                ),
                description=terms.purpose.description,
            ),
            access_mode=mode,
            data_grade=_enum(common_pb2.DataGrade, "DATA_GRADE", terms.data_grade),
            personal_info_class=_enum(
                common_pb2.PersonalInfoClass, "PERSONAL_INFO_CLASS", terms.personal_info_class
            ),
            cross_border=terms.cross_border is not None,
            masking_applied=masking,
            columns=list(outcome.columns),
            relay_region=self.region,
        )
        if terms.cross_border is not None:
            record.destination_country = terms.cross_border.destination_country
            record.approval_kind = _enum(
                common_pb2.ApprovalKind, "APPROVAL_KIND", terms.cross_border.approval_kind
            )
            record.approval_reference = terms.cross_border.approval_reference
        body = access_pb2.UsageReceiptBody(
            licence=terms.licence,
            consumer_party=call.consumer_party,
            provider_region=self.region,
            access_mode=mode,
            tariff=terms.tariff,
            masking_applied=masking,
        )
        if len(self._template_cache) > 4096:
            self._template_cache.clear()
        self._template_cache[ident] = (record, body)
        return record, body

    def _sign(
        self, body: access_pb2.UsageReceiptBody, index: int | None, leaf: bytes | None
    ) -> Receipt:
        """Set the ledger entry (if any), serialize the body once and sign those bytes."""
        if index is not None and leaf is not None:
            body.entry.CopyFrom(
                common_pb2.EntryRef(origin=self.origin, index=index, leaf_hash=leaf)
            )
        body_bytes = body.SerializeToString(deterministic=True)
        sig = sign_document(
            self.signer, self.region, USAGE_RECEIPT_CONTEXT, body_bytes, now=self.clock()
        )
        return Receipt(body_bytes, sig)

    def _store_op(
        self,
        claim: Claim,
        delivered: Quantity,
        reserved: Quantity,
        amount: Money,
        outcome: Outcome,
        status: str,
        rejection: str,
        record_bytes: bytes,
        receipt: Receipt,
        index: int | None,
        leaf: bytes | None,
    ) -> _StoreOp:
        params = {
            "id": claim.usage_id,
            "state": status,
            "calls": delivered.calls,
            "rows": delivered.rows,
            "bytes": delivered.bytes,
            "amount": amount.amount_fen,
            "currency": amount.currency_code,
            "outcome": outcome.result,
            "rejection": rejection,
            "record": record_bytes,
            "rbody": receipt.body,
            "rsig": receipt.signature.signature,
            "rkey": receipt.signature.key_name,
            "rkid": receipt.signature.key_id,
            "rsus": receipt.signature.sign_us,
            "lidx": index,
            "lleaf": leaf,
            "now": _us(self.clock()),
        }
        # Settle to exactly what was delivered: give back what was reserved and not
        # used, and add what was delivered in dimensions the licence does not limit
        # (those are not reserved batch by batch: nothing could refuse them).
        settle = (
            reserved.calls - delivered.calls,
            reserved.rows - delivered.rows,
            reserved.bytes - delivered.bytes,
        )
        return _StoreOp(params, claim.terms.licence_id, settle)

    # -- one-shot calls (lookups, verifies) ----------------------------------------------

    def once(
        self, terms: LicenceTerms, call: CallSpec, amount: Quantity, outcome: Outcome
    ) -> Receipt | Replay:
        """A call whose whole use is known before any data leaves (a lookup, a verify):
        :meth:`start` reserving exactly ``amount`` then :meth:`finish` with nothing
        sent, in ONE group-committed transaction.

        Same contract as those two calls, and all of it atomic: the claim, the
        reservation (with the licence's state checked), the ledger entry (appended in
        the same transaction, see ``ledger.sequencer.joined``), the signed receipt and
        the stored record commit together — many calls in one commit — and only
        then does this return. A refusal records nothing; a ledger that refuses the
        append rolls the whole call back and its error propagates.
        """
        for _ in range(3):
            if self.writer is not None:
                now_us = _us(self.clock())
                sent = OnceJob(terms.licence, call, amount, outcome, now_us, new_usage_id())
                result = self.writer.run(sent)
                receipt = result.receipt
            else:
                job = _OnceOp(self, terms, call, amount, False, _us(self.clock()), new_usage_id())
                job.prepare(outcome)
                result = self._batcher.run(job, (0, self._start_bulk))
                receipt = job.receipt
            assert isinstance(result, _Start)
            match result.kind:
                case "CLAIMED":
                    assert receipt is not None
                    return receipt
                case "REPLAY":
                    assert result.receipt is not None
                    return Replay(result.receipt, result.outcome)
                case "TAKEOVER":
                    self._recover(result.row_id, call)
                    continue
            assert result.error is not None
            raise result.error
        raise AbortedError("could not claim the request; retry later", reason="REQUEST_IN_PROGRESS")

    def commit_once(
        self, directory: LicenceDirectory, jobs: Sequence[OnceJob]
    ) -> list[_Start | BaseException]:
        """The metering writer process's side of :meth:`once`: claim, rate, record and
        sign ``jobs`` in ONE transaction (each failing alone as in :meth:`once`), and
        say how each ended (a CLAIMED start carries its receipt)."""
        answers: list[_Start | BaseException | None] = [None] * len(jobs)
        pendings: list[tuple[int, _Pending[_Start]]] = []
        for i, j in enumerate(jobs):
            try:
                op = _OnceOp(
                    self, directory.terms(j.licence), j.call, j.amount, False, j.now_us, j.usage_id
                )
                op.prepare(j.outcome)
            except Exception as exc:
                answers[i] = exc
                continue
            pendings.append((i, _Pending(op, (0, self._start_bulk))))
        if pendings:
            self._batcher.commit_now([p for _, p in pendings])
        for i, p in pendings:
            if p.error is not None:
                answers[i] = p.error
                continue
            result, ran = p.result, p.op
            assert isinstance(result, _Start)
            assert isinstance(ran, _OnceOp)
            claimed = result.kind == "CLAIMED"
            answers[i] = replace(result, receipt=ran.receipt) if claimed else result
        # One answer per job, in order: the writer process slices them by message.
        done = [a for a in answers if a is not None]
        if len(done) != len(jobs):
            raise AssertionError(f"{len(jobs) - len(done)} of {len(jobs)} calls unanswered")
        return done

    def _record_once(self, conn: Connection, pendings: list[_Pending[Any]]) -> None:
        """Committing thread, inside the transaction that claimed them: append the records
        of the one-shot calls just claimed to the ledger (joined to this transaction,
        one submission), sign their receipts and store them."""
        jobs: list[_OnceOp] = []
        for p in pendings:
            op = p.op
            if isinstance(op, _OnceOp):
                op.receipt = None
                result = p.result
                if isinstance(result, _Start) and result.kind == "CLAIMED":
                    jobs.append(op)
        if not jobs:
            return
        appending = [j for j in jobs if j.data is not None]
        results: list[AppendResult] = []
        if appending:
            with joined(conn.engine, conn.connection.dbapi_connection):
                results = self.ledger.append_many([(j.data or b"", j.key) for j in appending])
        appended_of = dict(zip((id(j) for j in appending), results, strict=True))
        stores: list[_StoreOp] = []
        finals: list[tuple[Any, ...]] = []
        for job in jobs:
            index: int | None = None
            leaf: bytes | None = None
            appended = appended_of.get(id(job))
            if appended is not None:
                index, leaf = appended.index, appended.leaf_hash
                if appended.duplicate:
                    log.warning("usage %s was already in the ledger at %s", job.key, index)
            assert job.body is not None
            assert job.claim is not None
            assert job.amount is not None
            receipt = self._sign(job.body, index, leaf)
            store = self._store_op(
                job.claim,
                job.reserve,
                job.reserve,
                job.amount,
                job.outcome,
                "REJECTED" if job.rejection else "RECORDED",
                job.rejection,
                job.record_bytes,
                receipt,
                index,
                leaf,
            )
            if job.row_inserted:
                stores.append(store)
            else:
                finals.append(_final_row(job.values, store.params))
            job.receipt = receipt
        if stores:
            _store_rows(conn, stores)
        if finals:
            conn.exec_driver_sql(
                _finals_insert(conn.dialect.name, len(finals)),
                tuple(itertools.chain.from_iterable(finals)),
            )

    def _record_message(
        self,
        claim: Claim,
        delivered: Quantity,
        amount: Money,
        outcome: Outcome,
        status: str,
        rejection: str,
    ) -> access_pb2.UsageRecord:
        """The usage record of a call."""
        record = access_pb2.UsageRecord()
        record.CopyFrom(self._templates(claim, outcome)[0])
        record.name = self.usage_name(claim.usage_id)
        record.id = claim.call.request_id
        _set_time(record.time, claim.start_us)
        _set_quantity(record.quantity, delivered)
        _set_money(record.amount, amount)
        record.truncated = bool(outcome.truncation_reason)
        record.truncation_reason = outcome.truncation_reason
        record.status = _STATUS[status]
        record.rejection_reason = rejection
        record.period = _period_day(claim.start_us)[0]
        return record

    # -- recovery -----------------------------------------------------------------------

    def _recover(self, row_id: str, call: CallSpec) -> None:
        """Take over a claim whose lease ended (its process died or hung).

        If the ledger holds the record, the row is completed from it (the call did
        happen); otherwise the reservation is released and the claim deleted, and the
        caller claims afresh.
        """
        if not row_id:
            return
        key = f"usage/{call.consumer_party}/{call.request_id}"
        try:
            entry = self.ledger.get_entry_by_key(key)
        except EntryNotFoundError:
            entry = None
        now_us = _us(self.clock())
        if entry is None:
            self._batcher.run(_ReleaseOp(row_id))
            return
        record = decode_record(entry.data).usage_recorded.usage_record
        q = Quantity(record.quantity.calls, record.quantity.rows, record.quantity.bytes)
        body = access_pb2.UsageReceiptBody(
            usage_record=record.name,
            request_id=record.id,
            licence=record.subject,
            consumer_party=record.consumer_party,
            provider_region=self.region,
            access_mode=record.access_mode,
            entry=common_pb2.EntryRef(
                origin=self.origin, index=entry.index, leaf_hash=entry.leaf_hash
            ),
            quantity=record.quantity,
            amount=record.amount,
            tariff=record.tariff,
            masking_applied=list(record.masking_applied),
            time=record.time,
            truncated=record.truncated,
            truncation_reason=record.truncation_reason,
        ).SerializeToString(deterministic=True)
        sig = sign_document(self.signer, self.region, USAGE_RECEIPT_CONTEXT, body, now=self.clock())
        record_bytes = record.SerializeToString(deterministic=True)

        def complete(conn: Connection) -> None:
            row = _run(conn, _CLAIM_RESERVED, {"id": row_id}).first()
            if row is None or row.state != "RUNNING":
                return
            reserved = Quantity(row.reserved_calls, row.reserved_rows, row.reserved_bytes)
            release = reserved.minus(q)
            _run(
                conn,
                _FINISH,
                {
                    "id": row_id,
                    "state": "RECORDED",
                    "calls": q.calls,
                    "rows": q.rows,
                    "bytes": q.bytes,
                    "amount": record.amount.amount_fen,
                    "currency": record.amount.currency_code or "CNY",
                    "outcome": "",
                    "rejection": "",
                    "record": record_bytes,
                    "rbody": body,
                    "rsig": sig.signature,
                    "rkey": sig.key_name,
                    "rkid": sig.key_id,
                    "rsus": sig.sign_us,
                    "lidx": entry.index,
                    "lleaf": entry.leaf_hash,
                    "now": now_us,
                },
            )
            _run(
                conn,
                _RELEASE,
                {"id": row.licence_id, "c": release.calls, "r": release.rows, "b": release.bytes},
            )

        self._batcher.run(complete)

    # -- reading records ------------------------------------------------------------------

    def receipt(self, consumer_party: str, request_id: str) -> Receipt:
        """The receipt of an earlier call of ``consumer_party`` (USAGE_RECORD_NOT_FOUND)."""
        with self._reads.connect() as conn:
            row = _run(
                conn, _SELECT_CLAIM, {"consumer_party": consumer_party, "request_id": request_id}
            ).first()
        receipt = _receipt_from_row(row) if row is not None else None
        if receipt is None:
            raise NotFoundError(f"usage of request {request_id}", reason="USAGE_RECORD_NOT_FOUND")
        return replace(receipt, signature=replace(receipt.signature, signer_region=self.region))

    def _visibility(self, viewer: Principal) -> tuple[str, dict[str, Any]]:
        """A SQL condition restricting rows to what ``viewer`` may see."""
        if viewer.has_any(frozenset({Role.FINANCE, Role.OPERATOR})):
            return "1 = 1", {}
        clauses = []
        params: dict[str, Any] = {}
        if Role.CONSUMER in viewer.roles:
            clauses.append("consumer_party = :v_party")
            params["v_party"] = f"regions/{self.region}/parties/{viewer.party_id}"
        if Role.PROVIDER in viewer.roles:
            clauses.append("provider_party = :v_pid")
            params["v_pid"] = viewer.party_id
        return "(" + (" OR ".join(clauses) or "1 = 0") + ")", params

    def _filter_sql(self, f: UsageFilter) -> tuple[list[str], dict[str, Any]]:
        where: list[str] = []
        params: dict[str, Any] = {}
        if f.period and not _PERIOD_RE.match(f.period):
            raise InvalidArgumentError(
                [FieldViolation("filter.period", "must be YYYY-MM")], reason="INVALID_PERIOD"
            )
        if f.start_us is not None and f.end_us is not None and f.end_us < f.start_us:
            raise InvalidArgumentError(
                [FieldViolation("filter.time_range", "ends before it starts")],
                reason="INVALID_PERIOD",
            )
        statuses = f.statuses or ("RECORDED",)
        bad = [s for s in statuses if s not in ("RECORDED", "REJECTED")]
        if bad:
            raise InvalidArgumentError([FieldViolation("filter.statuses", f"unknown {bad}")])
        where.append("state IN (" + ",".join(f":st{i}" for i in range(len(statuses))) + ")")
        params.update({f"st{i}": s for i, s in enumerate(statuses)})
        if f.licence:
            where.append("licence_id = :f_licence")
            params["f_licence"] = _id_of(f.licence, "licences", self.region)
        if f.product:
            where.append("product_id = :f_product")
            params["f_product"] = _id_of(f.product, "products", self.region)
        if f.consumer_party:
            where.append("consumer_party = :f_consumer")
            params["f_consumer"] = f.consumer_party
        if f.consumer_region:
            where.append("consumer_region = :f_cregion")
            params["f_cregion"] = f.consumer_region
        if f.period:
            where.append("period = :f_period")
            params["f_period"] = f.period
        if f.start_us is not None:
            where.append("time_us >= :f_start")
            params["f_start"] = f.start_us
        if f.end_us is not None:
            where.append("time_us < :f_end")
            params["f_end"] = f.end_us
        return where, params

    def get_usage(self, viewer: Principal, name: str) -> UsageItem:
        usage_id = _id_of(name, "usageRecords", self.region)
        vis, params = self._visibility(viewer)
        sql = _sql(
            "SELECT id, record, state, ledger_index, ledger_leaf_hash, period FROM access_usage",
            " WHERE id = :id AND state <> 'RUNNING' AND ",
            vis,
        )
        with self._reads.connect() as conn:
            row = conn.execute(sql, {"id": usage_id, **params}).first()
        if row is None or row.record is None:
            raise NotFoundError(name, reason="USAGE_RECORD_NOT_FOUND")
        return _item(row)

    def list_usage(
        self, viewer: Principal, f: UsageFilter, page_size: int, page_token: str
    ) -> tuple[list[UsageItem], str]:
        size = _page_size(page_size)
        bound = fingerprint("list", f)
        where, params = self._filter_sql(f)
        vis, vparams = self._visibility(viewer)
        where.append(vis)
        params.update(vparams)
        if page_token:
            after = _untoken(page_token, "usage", bound)
            where.append("(time_us > :a_t OR (time_us = :a_t AND id > :a_id))")
            params.update({"a_t": int(after[0]), "a_id": str(after[1])})
        sql = _sql(
            "SELECT id, record, state, ledger_index, ledger_leaf_hash, period, time_us",
            " FROM access_usage WHERE ",
            " AND ".join(where),
            " ORDER BY time_us, id LIMIT :lim",
        )
        params["lim"] = size + 1
        with self._reads.connect() as conn:
            rows = conn.execute(sql, params).all()
        more = len(rows) > size
        rows = rows[:size]
        token = _token("usage", bound, [rows[-1].time_us, rows[-1].id]) if more else ""
        return [_item(r) for r in rows], token

    def summarize(
        self,
        viewer: Principal,
        f: UsageFilter,
        grouping: UsageGrouping,
        page_size: int,
        page_token: str,
    ) -> tuple[list[UsageSummary], UsageSummary, str]:
        size = _page_size(page_size)
        bound = fingerprint("summary", f, grouping.value)
        where, params = self._filter_sql(f)
        vis, vparams = self._visibility(viewer)
        where.append(vis)
        params.update(vparams)
        column = {
            UsageGrouping.LICENCE: "licence_id",
            UsageGrouping.PRODUCT: "product_id",
            UsageGrouping.CONSUMER: "consumer_party",
            UsageGrouping.DAY: "day",
        }[grouping]
        aggregates = (
            "count(*), sum(CASE WHEN amount_fen = 0 THEN 1 ELSE 0 END), sum(qty_calls),"
            " sum(qty_rows), sum(qty_bytes), sum(amount_fen)"
        )
        base = " AND ".join(where)
        group_where = base
        group_params = dict(params)
        if page_token:
            after = _untoken(page_token, "summary", bound)
            group_where += f" AND {column} > :a_key"
            group_params["a_key"] = str(after[0])
        group_params["lim"] = size + 1
        grouped = _sql(
            "SELECT ",
            column,
            " AS k, ",
            aggregates,
            " FROM access_usage WHERE ",
            group_where,
            " GROUP BY ",
            column,
            " ORDER BY ",
            column,
            " LIMIT :lim",
        )
        total_sql = _sql("SELECT '' AS k, ", aggregates, " FROM access_usage WHERE ", base)
        with self._reads.connect() as conn:
            rows = conn.execute(grouped, group_params).all()
            total = conn.execute(total_sql, params).one()
        more = len(rows) > size
        rows = rows[:size]
        prefix = {
            UsageGrouping.LICENCE: f"regions/{self.region}/licences/",
            UsageGrouping.PRODUCT: f"regions/{self.region}/products/",
            UsageGrouping.CONSUMER: "",
            UsageGrouping.DAY: "",
        }[grouping]
        out = [_summary(prefix + str(r[0]), r) for r in rows]
        token = _token("summary", bound, [str(rows[-1][0])]) if more else ""
        return out, _summary("", total), token


def _summary(key: str, r: Any) -> UsageSummary:
    return UsageSummary(
        key=key,
        record_count=int(r[1] or 0),
        zero_priced_count=int(r[2] or 0),
        quantity=Quantity(int(r[3] or 0), int(r[4] or 0), int(r[5] or 0)),
        amount_fen=int(r[6] or 0),
    )


def _item(row: Any) -> UsageItem:
    return UsageItem(
        id=row.id,
        record=bytes(row.record),
        status=row.state,
        ledger_index=row.ledger_index,
        ledger_leaf_hash=bytes(row.ledger_leaf_hash) if row.ledger_leaf_hash else None,
        period=row.period,
    )


def _validate(terms: LicenceTerms, q: Quantity) -> str:
    """Why a usage record is not acceptable for settlement, or ''."""
    if max(q.calls, q.rows, q.bytes) > INT64_MAX:
        return "QUANTITY_OVERFLOW"
    if q.calls != 1:
        return "CALL_COUNT_INVALID"
    cb = terms.cross_border
    if cb is not None and (not cb.approval_reference or not cb.destination_country):
        return "CROSS_BORDER_APPROVAL_MISSING"
    if not terms.purpose.scenario_code:
        return "PURPOSE_MISSING"
    return ""
