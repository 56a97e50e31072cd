"""The ledger as the node uses it: append, read, prove, checkpoint.

A :class:`Log` is one region's signed, append-only RFC 9162 log stored in one SQL
database (the tables of ``ledger.storage``, created by the node's migrations)::

    from ledger.log import Log
    from ledger.note import Signer

    signer = Signer.generate("sc.bashu.example/ledger")     # the region key
    log = Log(engine, signer, "sc.bashu.example/ledger")
    res = log.append(record_bytes, idempotency_key=request_id)   # durable on return
    cp = log.checkpoint()                                         # signed tree head
    proof = log.inclusion_proof(res.index, cp.checkpoint.size)
    merkle.verify_inclusion(res.leaf_hash, res.index, cp.checkpoint.size, proof,
                            cp.checkpoint.root_hash)
    log.close()

Contracts:

* :meth:`Log.append` / :meth:`Log.append_many` return only after the entries are
  DURABLE (committed). ``append_many`` is atomic: all its entries commit together
  or none does. A key that already exists returns the FIRST entry with that key
  (``duplicate=True``), never a second entry.
* Reads and proofs see every committed entry, including those appended by other
  processes sharing the database. Proofs are built from stored node hashes: any
  proof at any size costs one query of O(log n) rows.
* Checkpoints are signed by the region key (the signer's name is the origin) and
  stored; :meth:`Log.checkpoint` signs a new one only when none covers the current
  size (the empty log included).
* Bad indexes and sizes raise :class:`~ledger.errors.EntryNotFoundError` /
  :class:`~ledger.errors.TreeSizeError`; database failures raise
  :class:`~ledger.errors.StorageError`.

What this module does NOT do: it never parses entries (they are opaque bytes,
usually a serialized ``LedgerRecord``), and it never imports SQLAlchemy (the engine
is only handed to ``ledger.storage``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.errors import (
    CheckpointError,
    EntryNotFoundError,
    IntegrityError,
    LedgerError,
    StorageError,
    TreeSizeError,
)
from ledger.note import Signer, Verifier
from ledger.sequencer import AppendResult, PreparedItem, Sequencer
from ledger.storage import CheckpointRow, EntryRow, Store

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["AppendResult", "Entry", "Log", "SignedCheckpoint"]

_log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 512
"""Longest idempotency key accepted (characters); keys are ids, not payloads."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored entry; ``data`` is exactly the bytes that were hashed."""

    index: int
    data: bytes
    leaf_hash: bytes
    idempotency_key: str
    appended_at: float  # seconds since the epoch, the commit time of its batch


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A stored checkpoint: the signed note as issued, and its verified contents."""

    note: str
    checkpoint: Checkpoint
    created_at: float


class Log:
    """One region's log in one database. Thread-safe; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        origin: str,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 4096,
        max_delay: float = 0.002,
        previous_verifiers: Sequence[Verifier] = (),
    ) -> None:
        """``previous_verifiers`` are retired region keys: checkpoints they signed
        still read back after a key rotation."""
        if signer.name != origin:
            raise CheckpointError(f"signer name {signer.name!r} is not the log origin {origin!r}")
        self.origin = origin
        self._signer = signer
        self._verifiers = [Verifier.from_vkey(signer.vkey()), *previous_verifiers]
        self._clock = clock
        self._store = Store(engine)
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()
        self._sequencer: Sequencer | None = None
        self._closed = False
        self._stop_checkpointing = threading.Event()
        self._checkpointer: threading.Thread | None = None

    # --- appending --------------------------------------------------------------------

    def append(self, data: bytes, idempotency_key: str) -> AppendResult:
        """Append one entry; returns once it is durable (see the module docstring)."""
        return self._seq().submit([_prepare(data, idempotency_key)])[0]

    def append_many(self, items: Iterable[tuple[bytes, str]]) -> list[AppendResult]:
        """Append ``(data, idempotency_key)`` pairs atomically, in order; durable on return."""
        prepared = [_prepare(data, key) for data, key in items]
        return self._seq().submit(prepared)

    def _seq(self) -> Sequencer:
        # Started lazily: read-only users (verify, show, prove) never start a thread.
        seq = self._sequencer
        if seq is not None:
            return seq
        with self._lock:
            if self._closed:
                raise _closed()
            if self._sequencer is None:
                self._sequencer = Sequencer(
                    self._store,
                    clock=self._clock,
                    max_batch=self._max_batch,
                    max_delay=self._max_delay,
                )
            return self._sequencer

    # --- reading ------------------------------------------------------------------------

    def size(self) -> int:
        with self._store.reading() as r:
            return r.head().size

    def get_entry(self, index: int) -> Entry:
        _check_int(index, "index")
        with self._store.reading() as r:
            row = r.entry(index) if index >= 0 else None
            if row is None:
                raise EntryNotFoundError(index, r.head().size)
        return _entry(row)

    def get_entry_by_key(self, idempotency_key: str) -> Entry:
        """The entry appended with ``idempotency_key`` (the first and only one)."""
        with self._store.reading() as r:
            row = r.entry_by_key(idempotency_key)
            if row is None:
                raise EntryNotFoundError(-1, r.head().size)
        return _entry(row)

    def entries(self, start: int, limit: int) -> list[Entry]:
        """Up to ``limit`` entries from index ``start`` on (fewer at the end of the log)."""
        _check_int(start, "start")
        _check_int(limit, "limit")
        if start < 0:
            raise EntryNotFoundError(start, self.size())
        if limit < 0:
            raise ValueError("limit must be >= 0")
        if limit == 0:
            return []
        with self._store.reading() as r:
            return [_entry(row) for row in r.entries(start, limit)]

    def root_at(self, size: int) -> bytes:
        """The root of the tree of the first ``size`` entries."""
        _check_int(size, "size")
        with self._store.reading() as r:
            current = r.head()
            if not 0 <= size <= current.size:
                raise TreeSizeError(size, current.size)
            if size == current.size:
                return current.root_hash
            coords = merkle.perfect_subtrees(0, size)
            stored = r.node_hashes(coords)
        return merkle.fold_right_edge(_pick(stored, coords))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        _check_int(index, "index")
        _check_int(size, "size")
        with self._store.reading() as r:
            current = r.head().size
            if not 0 <= size <= current:
                raise TreeSizeError(size, current)
            refs = merkle.inclusion_proof_nodes(index, size)  # EntryNotFoundError
            stored = r.node_hashes(merkle.required_nodes(refs))
        return merkle.assemble_proof(refs, stored)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old_size`` to that of ``new_size``."""
        _check_int(old_size, "old_size")
        _check_int(new_size, "new_size")
        with self._store.reading() as r:
            current = r.head().size
            if not 0 <= new_size <= current:
                raise TreeSizeError(new_size, current)
            refs = merkle.consistency_proof_nodes(old_size, new_size)  # TreeSizeError
            stored = r.node_hashes(merkle.required_nodes(refs))
        return merkle.assemble_proof(refs, stored)

    # --- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, new_if_stale: bool = True) -> SignedCheckpoint:
        """The latest checkpoint; sign and store a new one if none covers the current size.

        With ``new_if_stale=False`` the latest stored one is returned even if the
        log has grown since; a new one is signed only when none exists at all.
        """
        # One signer at a time in this process, so the schedule and an on-demand call
        # do not both sign the same size (another process still might: harmless).
        with self._checkpoint_lock:
            with self._store.reading() as r:
                current = r.head()
                latest = r.latest_checkpoint()
            if latest is not None and (latest.tree_size == current.size or not new_if_stale):
                opened = self._open(latest)
                # After a key rotation the newest checkpoint may carry a retired key's
                # signature; a fresh one is signed so the latest is always the
                # current key's.
                if not new_if_stale or self._signed_by_current_key(latest.note):
                    return opened
            # Size and root come from one read of the head row, so the signed root is
            # the tree's root at exactly that size.
            # The signing time is part of what is signed (DESIGN: size, root, time), as a
            # C2SP checkpoint extension line that other verifiers may ignore.
            now = self._clock()
            cp = Checkpoint(
                self.origin, current.size, current.root_hash, extensions=(f"time {int(now)}",)
            )
            note = sign_checkpoint(cp, self._signer)
            row = self._store.insert_checkpoint(cp.size, cp.root_hash, note, now)
            return SignedCheckpoint(note, cp, row.created_at)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self._store.reading() as r:
            row = r.latest_checkpoint()
        return None if row is None else self._open(row)

    def _signed_by_current_key(self, note: str) -> bool:
        try:
            open_checkpoint(note, self._verifiers[0], origin=self.origin)
        except LedgerError:
            return False
        return True

    def checkpoint_at_least(self, size: int) -> SignedCheckpoint | None:
        """The smallest stored checkpoint of at least ``size`` entries, if any.

        That is the first checkpoint that covers entry ``size - 1``: the one a
        receipt for that entry is proved against.
        """
        _check_int(size, "size")
        with self._store.reading() as r:
            row = r.checkpoint_at_least(size)
        return None if row is None else self._open(row)

    def list_checkpoints(self) -> list[SignedCheckpoint]:
        """Every stored checkpoint, oldest first."""
        with self._store.reading() as r:
            rows = r.checkpoints()
        return [self._open(row) for row in rows]

    def _open(self, row: CheckpointRow) -> SignedCheckpoint:
        # Verified before it is parsed, even though we wrote it: the database is not
        # trusted more than any other input.
        err: LedgerError | None = None
        for verifier in self._verifiers:
            try:
                cp = open_checkpoint(row.note, verifier, origin=self.origin)
            except LedgerError as exc:
                err = err or exc
                continue
            if cp.size != row.tree_size or cp.root_hash != row.root_hash:
                raise IntegrityError(
                    None, f"checkpoint row {row.id} does not match its signed note"
                )
            return SignedCheckpoint(row.note, cp, row.created_at)
        assert err is not None
        raise err

    def start_checkpointing(self, interval_s: float) -> None:
        """Sign a checkpoint every ``interval_s`` seconds (when the log grew) until close().

        Runs in a daemon thread; a failure is logged and retried next interval.
        """
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        with self._lock:
            if self._closed:
                raise _closed()
            if self._checkpointer is not None:
                raise RuntimeError("checkpointing is already running")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop,
                args=(interval_s,),
                name="ledger-checkpointer",
                daemon=True,
            )
            self._checkpointer.start()

    def _checkpoint_loop(self, interval_s: float) -> None:
        while not self._stop_checkpointing.wait(interval_s):
            try:
                self.checkpoint(new_if_stale=True)
            except Exception:
                _log.exception("scheduled checkpoint failed; retrying in %ss", interval_s)

    # --- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the checkpoint schedule, drain queued appends, release connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            seq, self._sequencer = self._sequencer, None
            checkpointer = self._checkpointer
        self._stop_checkpointing.set()
        if checkpointer is not None:
            checkpointer.join()
        if seq is not None:
            seq.close()
        self._store.dispose()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_sha256 = hashlib.sha256


def _prepare(data: bytes, key: str) -> PreparedItem:
    if not isinstance(data, bytes):
        raise TypeError(f"entry data must be bytes, got {type(data).__name__}")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key must be a str of 1..{MAX_KEY_LENGTH} characters")
    # Hashed here, in the caller's thread, to keep the sequencer's batch short.
    return (key, data, _sha256(b"\x00" + data).digest())


def _check_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int")


def _pick(stored: dict[tuple[int, int], bytes], coords: Sequence[tuple[int, int]]) -> list[bytes]:
    try:
        return [stored[c] for c in coords]
    except KeyError as exc:
        raise IntegrityError(None, f"stored tree node {exc.args[0]} is missing") from None


def _entry(row: EntryRow) -> Entry:
    return Entry(row.idx, row.data, row.leaf_hash, row.idempotency_key, row.appended_at)


def _closed() -> LedgerError:
    return StorageError("the log is closed")
