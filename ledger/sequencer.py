"""Group commit for one log: many concurrent appends, one transaction per batch.

A :class:`Sequencer` owns one background thread and one database connection. Callers
hand it prepared items (``(idempotency_key, data, leaf_hash)``) and block; the thread
takes everything queued (up to ``max_batch`` entries), assigns indexes, computes the
interior nodes the batch completes, and writes the entries (each row carries the
nodes its leaf completes) and the new head in ONE transaction::

    seq = Sequencer(store, clock=time.time, max_batch=4096, max_delay=0.002)
    [result] = seq.submit([(key, data, merkle.leaf_hash(data))])
    seq.close()   # drains what is queued, then stops

Contract:

* ``submit`` returns only after the transaction holding its entries has COMMITTED
  (SQLite WAL with synchronous=FULL, PostgreSQL synchronous_commit): an
  acknowledged entry survives a crash of the process or the machine.
* Idempotency: an item whose key already exists, in the database or earlier in
  the same batch, gets the FIRST entry back with ``duplicate=True``; it never
  creates a second entry. The UNIQUE constraint is the backstop.
* All or nothing: if a batch fails, every caller in it gets the error (a
  :class:`~ledger.errors.LedgerError`); none is acknowledged. The items of one
  ``submit`` call are never split across transactions, so ``append_many`` is
  atomic.
* Several processes (each with its own sequencer) may append to one PostgreSQL
  log: each batch locks the head row first, and if the head is not the one this
  sequencer last wrote (another process appended), it reloads the right edge of
  the tree from the stored node hashes before assigning indexes. So there is no
  gap, no duplicate index and no fork. On SQLite ``BEGIN IMMEDIATE`` serialises.

Why a dedicated thread rather than "the first caller commits for everyone": the
thread keeps the one write connection and the cached right edge of the tree, and
callers never hold the database lock while their own code runs.

Joined appends: a caller that already holds a write transaction on the log's
database (the metering writer, whose claims and usage rows must commit atomically
with their ledger entries) wraps its appends in :func:`joined`; ``submit`` then
appends in THAT transaction, in the caller's thread, and the entries are durable
when the caller commits (rolled back with it otherwise). The head row is locked
and the edge checked exactly as for a batch of this sequencer's own, so joined and
ordinary appends, in this process or another, never fork the log.

What this module does NOT do: no SQL (``ledger.storage``), no signing, no reads
for callers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger import merkle
from ledger.errors import IntegrityError, LedgerError, StorageError
from ledger.storage import Head, Store, Writer, _Conn

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["AppendResult", "PreparedItem", "Sequencer", "joined", "write_gate"]

PreparedItem = tuple[str, bytes, bytes]
"""``(idempotency_key, data, leaf_hash)``: the leaf hash is computed by the caller's
thread so the sequencer's critical section does less."""


class AppendResult(NamedTuple):
    """Where an appended entry lives. ``duplicate`` means the key existed already and
    ``index``/``leaf_hash`` are those of the FIRST entry with that key."""

    # A NamedTuple (cheap to build by the thousand); "index" shadows tuple.index.
    index: int  # type: ignore[assignment]
    leaf_hash: bytes
    duplicate: bool


class _Request:
    __slots__ = ("done", "error", "items", "result")

    def __init__(self, items: Sequence[PreparedItem]) -> None:
        self.items = items
        self.done = threading.Event()
        self.result: list[AppendResult] | None = None
        self.error: BaseException | None = None


@dataclass
class _Edge:
    """The right edge of the tree this sequencer last committed (a compact range)."""

    size: int
    root: bytes
    peaks: list[bytes]


_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

_joined = threading.local()


@contextlib.contextmanager
def joined(engine: Engine, dbapi_connection: Any) -> Iterator[None]:
    """Make appends of this thread to a log on ``engine``'s database run inside the
    transaction open on ``dbapi_connection`` (see the module docstring).

    The caller holds that transaction (and, on SQLite, the :func:`write_gate`) for
    the whole block and commits or rolls back afterwards; an append that fails
    leaves the transaction to be rolled back.
    """
    previous = getattr(_joined, "value", None)
    _joined.value = (_database_key(engine), dbapi_connection)
    try:
        yield
    finally:
        _joined.value = previous


def _database_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


_gates: dict[str, threading.Lock] = {}
_gates_lock = threading.Lock()


def write_gate(engine: Engine) -> contextlib.AbstractContextManager[Any]:
    """The lock this process's writers of one SQLite database take around a write
    transaction (a no-op context elsewhere).

    SQLite admits one writer at a time; a second ``BEGIN IMMEDIATE`` waits in the busy
    handler, which polls with sleeps of up to tens of milliseconds, so two group
    committers of one process (this sequencer, the metering writer) would spend
    most of their time asleep. Queuing on a lock wakes the next one as soon as the
    previous transaction ended. Other processes are still serialised by SQLite.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return contextlib.nullcontext()
    key = os.path.realpath(url.database)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = threading.Lock()
    return gate


class Sequencer:
    """The single writer of one log in this process; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 4096,
        max_delay: float = 0.002,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if max_delay < 0:
            raise ValueError("max_delay must be >= 0")
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._writer: Writer | None = None
        self._edge: _Edge | None = None
        self._gate = write_gate(store.engine)
        self._database = _database_key(store.engine)
        # Whether the last batch had company: only then is lingering for more
        # requests worth its latency (a lone appender should not wait max_delay).
        self._contended = False
        self._thread = threading.Thread(target=self._run, name="ledger-sequencer", daemon=True)
        self._thread.start()

    # --- caller side ----------------------------------------------------------------

    def submit(self, items: Sequence[PreparedItem]) -> list[AppendResult]:
        """Append ``items`` in order, atomically; return only once they are durable
        (inside a :func:`joined` block: once the caller's transaction commits)."""
        if not items:
            return []
        join = getattr(_joined, "value", None)
        if join is not None and join[0] == self._database:
            return self._append_joined(join[1], items)
        req = _Request(items)
        with self._cond:
            if self._closing:
                raise StorageError("the log is closed")
            self._queue.append(req)
            self._cond.notify()
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def close(self) -> None:
        """Finish everything queued, then stop the thread and close the connection."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    # --- the sequencer thread -----------------------------------------------------------

    def _take_batch(self) -> list[_Request] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            batch = [self._queue.popleft()]
            count = len(batch[0].items)
            if self._contended and self._max_delay > 0:
                deadline = time.monotonic() + self._max_delay
                while count < self._max_batch:
                    if not self._queue:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or self._closing:
                            break
                        self._cond.wait(remaining)
                        continue
                    if count + len(self._queue[0].items) > self._max_batch:
                        break
                    req = self._queue.popleft()
                    batch.append(req)
                    count += len(req.items)
            else:
                while self._queue and count + len(self._queue[0].items) <= self._max_batch:
                    req = self._queue.popleft()
                    batch.append(req)
                    count += len(req.items)
            self._contended = len(batch) > 1 or bool(self._queue)
            return batch

    def _run(self) -> None:
        try:
            while True:
                batch = self._take_batch()
                if batch is None:
                    return
                try:
                    results = self._commit(batch)
                except BaseException as exc:
                    self._reset()
                    err = exc if isinstance(exc, LedgerError) else _wrap(exc)
                    for req in batch:
                        req.error = err
                        req.done.set()
                    continue
                for req, res in zip(batch, results, strict=True):
                    req.result = res
                    req.done.set()
        finally:
            self._reset()
            # Anyone who slipped in after the thread ended is told, not left waiting.
            with self._cond:
                self._closing = True
                left = list(self._queue)
                self._queue.clear()
            for req in left:
                req.error = StorageError("the log is closed")
                req.done.set()

    def _reset(self) -> None:
        """Forget the connection and the cached edge after any failure.

        A failed COMMIT may still have committed; the next batch re-reads the head
        under the lock and reloads the edge, so either way nothing forks.
        """
        self._edge = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _commit(self, batch: list[_Request]) -> list[list[AppendResult]]:
        with self._gate:
            return self._commit_locked(batch)

    def _commit_locked(self, batch: list[_Request]) -> list[list[AppendResult]]:
        items = [item for req in batch for item in req.items]
        if self._writer is None:
            self._writer = self._store.writer()
        writer = self._writer
        head = writer.begin()
        try:
            edge = self._edge_for(writer, head)
            now = self._clock()
            # Fast path: assume no key exists yet (the usual case) and let the UNIQUE
            # constraint tell us otherwise; a refusal rolls back and we redo the batch
            # with an explicit lookup. Skipping the lookup saves an index probe per key.
            plan = _plan(items, edge, {}, now)
            if not writer.insert(plan.rows, plan.head, now):
                head = writer.begin()
                edge = self._edge_for(writer, head)
                existing = writer.existing_keys(list({key for key, _, _ in items}))
                plan = _plan(items, edge, existing, now)
                if plan.rows and not writer.insert(plan.rows, plan.head, now):
                    raise StorageError("an idempotency key was taken concurrently")
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        self._edge = plan.edge
        results: list[list[AppendResult]] = []
        pos = 0
        for req in batch:
            n = len(req.items)
            results.append(plan.results[pos : pos + n])
            pos += n
        return results

    def _append_joined(
        self, dbapi_connection: Any, items: Sequence[PreparedItem]
    ) -> list[AppendResult]:
        """Append ``items`` in the caller's open transaction (see :func:`joined`)."""
        if self._closing:
            raise StorageError("the log is closed")
        conn = _Conn(dbapi_connection, self._store.postgres)
        writer = Writer(self._store, conn)
        try:
            # The same lock an ordinary batch takes first (Writer.begin, minus BEGIN).
            row = conn.fetchone(conn.sql.lock_head)
            if row is None:
                raise StorageError("the ledger_head row is missing (are the migrations applied?)")
            head = Head(int(row[0]), bytes(row[1]))
            edge = self._edge_for(writer, head)
            # Keys are looked up first: a refused insert would roll back the caller's
            # whole transaction, not just these entries.
            existing = writer.existing_keys(list({key for key, _, _ in items}))
            now = self._clock()
            plan = _plan(list(items), edge, existing, now)
            if plan.rows and not writer.insert(plan.rows, plan.head, now):
                raise StorageError("an idempotency key was taken concurrently")
        except LedgerError:
            self._edge = None
            raise
        except Exception as exc:
            self._edge = None
            raise _wrap(exc) from exc
        # Kept optimistically: if the caller rolls back, the head no longer matches
        # this edge and the next append reloads it (see _edge_for).
        self._edge = plan.edge
        return plan.results

    def _edge_for(self, writer: Writer, head: Head) -> _Edge:
        """The right edge matching ``head``: cached, or reloaded if the head moved."""
        edge = self._edge
        if edge is not None and edge.size == head.size and edge.root == head.root_hash:
            return edge
        coords = merkle.perfect_subtrees(0, head.size)
        stored = writer.node_hashes(coords)
        try:
            peaks = [stored[c] for c in coords]
        except KeyError as exc:
            raise IntegrityError(
                None, f"stored tree node {exc.args[0]} needed to append is missing"
            ) from None
        # Refuse to extend a tree whose stored edge disagrees with its head: that
        # would sign a fork of whatever the checkpoints already committed to.
        if merkle.fold_right_edge(peaks) != head.root_hash:
            raise IntegrityError(
                None, f"stored right edge does not fold to the head root at size {head.size}"
            )
        edge = _Edge(head.size, head.root_hash, peaks)
        self._edge = edge
        return edge


class _Plan(NamedTuple):
    rows: list[tuple[int, bytes, bytes, bytes | None, str, float]]
    head: Head
    edge: _Edge
    results: list[AppendResult]


def _plan(
    items: list[PreparedItem],
    edge: _Edge,
    existing: dict[str, tuple[int, bytes]],
    now: float,
) -> _Plan:
    """Assign indexes, dedupe keys and compute the nodes each new leaf completes.

    Leaf ``i`` completes the perfect subtrees ``(level, i >> level)`` for each
    trailing one bit of ``i``; their hashes go into row ``i`` (see
    ``ledger.storage.node_location``). The loop is the append hot path, so it inlines
    the compact-range merge (``merkle.CompactRange.append``) rather than allocating
    node objects per leaf.
    """
    peaks = list(edge.peaks)
    size = edge.size
    rows: list[tuple[int, bytes, bytes, bytes | None, str, float]] = []
    results: list[AppendResult]
    sha = _sha256
    prefix = _NODE_PREFIX
    if not existing and len({item[0] for item in items}) == len(items):
        # The usual batch: every key is new, no per-item dictionary bookkeeping.
        start = size
        results = [AppendResult(start + i, item[2], False) for i, item in enumerate(items)]
        for key, data, leaf in items:
            if size & 1:
                h = leaf
                n = size
                parts = []
                while n & 1:
                    h = sha(prefix + peaks.pop() + h).digest()
                    parts.append(h)
                    n >>= 1
                peaks.append(h)
                rows.append((size, data, leaf, b"".join(parts), key, now))
            else:
                peaks.append(leaf)
                rows.append((size, data, leaf, None, key, now))
            size += 1
    else:
        results = []
        first: dict[str, AppendResult] = {}
        for key, data, leaf in items:
            prior = first.get(key)
            if prior is not None:
                results.append(prior if prior.duplicate else prior._replace(duplicate=True))
                continue
            found = existing.get(key)
            if found is not None:
                res = AppendResult(found[0], found[1], True)
                first[key] = res
                results.append(res)
                continue
            res = AppendResult(size, leaf, False)
            first[key] = res
            results.append(res)
            h = leaf
            n = size
            parts = []
            while n & 1:
                h = sha(prefix + peaks.pop() + h).digest()
                parts.append(h)
                n >>= 1
            peaks.append(h)
            rows.append((size, data, leaf, b"".join(parts) if parts else None, key, now))
            size += 1
    root = merkle.fold_right_edge(peaks) if size != edge.size else edge.root
    return _Plan(rows, Head(size, root), _Edge(size, root, peaks), results)


def _wrap(exc: BaseException) -> StorageError:
    err = StorageError(f"append failed: {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err
