"""Recompute a stored log from its bytes and check every stored fact against it.

``bashu ledger verify`` calls :func:`verify_log`; so can anyone holding a copy of a
region's database and its public key::

    from ledger.note import Verifier
    from ledger.verify import verify_log

    report = verify_log(engine, Verifier.from_vkey(vkey), "sc.bashu.example/ledger",
                        check_entry=parse_ledger_record_or_reason)
    if not report.ok:
        print(report.first_bad_index, report.reason)

What is checked, in one streaming pass in index order:

* indexes are exactly 0..n-1 (no gap, no duplicate, nothing inserted or reordered);
* every leaf hash is recomputed from the stored bytes and compared with the stored
  one; ``check_entry(index, data)`` (when given) says whether the bytes are a well
  formed record: it returns None when they are, else the reason;
* every stored interior node (the ``nodes`` column: the subtrees each leaf
  completes) equals the node recomputed from the leaves; none is missing, none is
  extra;
* the head row's size and root equal the recomputed tree;
* every stored checkpoint's signature verifies (before it is parsed), its origin is
  ``origin``, its size/root columns equal its signed body, its size is not beyond
  the log, and its root equals the recomputed root at its size.

Contract: :func:`verify_log` never raises for tampering; it returns a
:class:`VerifyReport` whose ``error`` is the first problem found as an
:class:`~ledger.errors.IntegrityError` (``index`` is the first bad entry, or None
when the fault is not tied to one entry). It reads one consistent snapshot.

Speed: leaves arrive in chunks of ``2**CHUNK_LOG2`` rows aligned to that size, so
every node up to that level is computed with whole-level list comprehensions and
compared list-against-list; Python does a handful of operations per entry, not per
node. What this module does NOT do: parse records (``check_entry`` does), repair
anything, or trust any stored hash it can recompute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import IntegrityError, LedgerError
from ledger.note import Verifier
from ledger.storage import HASH_SIZE, CheckpointRow, Reader, Store

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["CHUNK_LOG2", "VerifyReport", "verify_log"]

CHUNK_LOG2 = 15
"""Entries are read and hashed 2**15 = 32768 at a time (about 10 MB of rows)."""

CheckEntry = Callable[[int, bytes], "str | None"]
Progress = Callable[[int, int], None]

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :func:`verify_log`. ``ok`` iff ``error`` is None."""

    ok: bool
    size: int
    """Entries found and checked before stopping (the whole log when ``ok``)."""
    head_size: int | None
    root_hash: bytes | None
    """The recomputed root of the whole log (None if verification stopped early)."""
    entries_checked: int
    checkpoints_checked: int
    error: IntegrityError | None = None

    @property
    def first_bad_index(self) -> int | None:
        return None if self.error is None else self.error.index

    @property
    def reason(self) -> str | None:
        return None if self.error is None else self.error.reason

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``bashu ledger verify --json``)."""
        return {
            "ok": self.ok,
            "size": self.size,
            "head_size": self.head_size,
            "root_hash": None if self.root_hash is None else self.root_hash.hex(),
            "entries_checked": self.entries_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "first_bad_index": self.first_bad_index,
            "reason": self.reason,
        }


class _Found(Exception):
    """Internal: unwinds the scan at the first problem."""

    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(index, reason)
        self.error = IntegrityError(index, reason)


def verify_log(
    engine: Engine,
    verifier: Verifier | Sequence[Verifier],
    origin: str,
    *,
    check_entry: CheckEntry | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check the whole stored log; see the module docstring. Never raises for tampering.

    ``verifier`` may be several keys (the current region key and retired ones):
    a checkpoint is valid if one of them signed it.
    """
    verifiers = [verifier] if isinstance(verifier, Verifier) else list(verifier)
    store = Store(engine)
    scan = _Scan(verifiers, origin, check_entry, progress)
    try:
        with store.reading(snapshot=True) as reader:
            scan.run(reader)
    except _Found as found:
        scan.error = found.error
    except LedgerError as exc:
        # Missing tables, a broken connection: the log cannot be shown intact.
        scan.error = IntegrityError(None, f"cannot read the log: {exc}")
    finally:
        store.dispose()
    return scan.report()


@dataclass
class _Scan:
    verifiers: list[Verifier]
    origin: str
    check_entry: CheckEntry | None
    progress: Progress | None
    head_size: int | None = None
    count: int = 0
    root: bytes | None = None
    checkpoints_checked: int = 0
    error: IntegrityError | None = None
    # Peaks of the tree over whole chunks: hashes of level >= CHUNK_LOG2, largest first.
    top: list[bytes] = field(default_factory=list)

    def report(self) -> VerifyReport:
        ok = self.error is None
        return VerifyReport(
            ok=ok,
            size=self.count,
            head_size=self.head_size,
            root_hash=self.root if ok else None,
            entries_checked=self.count,
            checkpoints_checked=self.checkpoints_checked,
            error=self.error,
        )

    def run(self, r: Reader) -> None:
        head = r.head()
        self.head_size = head.size
        # Checkpoints by size; each is checked against the tree when the scan passes it.
        pending = sorted(self._open_checkpoints(r.checkpoints()), key=lambda c: c[0].tree_size)
        self._scan(r, head.size, pending)
        if self.count != head.size:
            raise _Found(
                min(self.count, head.size),
                f"the head row says {head.size} entries, the table holds {self.count}",
            )
        root = self.root
        assert root is not None
        if root != head.root_hash:
            raise _Found(None, "the head row's root does not match the recomputed tree")

    def _open_checkpoints(
        self, rows: list[CheckpointRow]
    ) -> Iterator[tuple[CheckpointRow, Checkpoint]]:
        for row in rows:
            cp = self._open(row)
            if cp.size != row.tree_size or cp.root_hash != row.root_hash:
                raise _Found(
                    None, f"checkpoint {row.id}: stored size/root differ from its signed note"
                )
            yield row, cp

    def _open(self, row: CheckpointRow) -> Checkpoint:
        reason = "no verifier given"
        for v in self.verifiers:
            try:
                # open_checkpoint verifies the signature before it parses the body.
                return open_checkpoint(row.note, v, origin=self.origin)
            except LedgerError as exc:
                reason = str(exc)
            except Exception as exc:  # a tampered column of the wrong type
                reason = f"{type(exc).__name__}: {exc}"
        raise _Found(None, f"checkpoint {row.id} (size {row.tree_size}): {reason}")

    def _scan(
        self,
        r: Reader,
        head_size: int,
        pending: list[tuple[CheckpointRow, Checkpoint]],
    ) -> None:
        chunk = 1 << CHUNK_LOG2
        pattern = _node_lengths(CHUNK_LOG2)
        cp_pos = 0
        # Checkpoints of the empty tree are checked before any entry.
        cp_pos = self._check_checkpoints(pending, cp_pos, 0, [[]])
        base = 0
        # The last chunk if it was partial (a full one has gone into self.top).
        tail: list[list[bytes]] = [[]]
        entries = r.stream_entries(chunk)
        try:
            for rows in entries:
                m = len(rows)
                levels = self._chunk(base, rows, pattern)
                end = base + m
                if cp_pos < len(pending) and pending[cp_pos][0].tree_size <= end:
                    cp_pos = self._check_checkpoints(pending, cp_pos, base, levels)
                base = end
                self.count = base
                if self.progress is not None:
                    self.progress(base, head_size)
                if m < chunk:
                    tail = levels
                    break
                self._push_top(levels[CHUNK_LOG2][0], (base >> CHUNK_LOG2) - 1, rows[-1])
        finally:
            entries.close()
        self.root = merkle.fold_right_edge(self.top + _partial_peaks(tail, len(tail[0])))
        if cp_pos < len(pending):
            row = pending[cp_pos][0]
            raise _Found(
                self.count,
                f"checkpoint {row.id} is for size {row.tree_size}, "
                f"but the log holds only {self.count} entries",
            )

    def _chunk(self, base: int, rows: list[Any], pattern: list[int]) -> list[list[bytes]]:
        """Check one aligned chunk of entries; return its node hashes level by level."""
        m = len(rows)
        problems: list[tuple[int, str]] = []
        idxs = [row[0] for row in rows]
        if idxs != list(range(base, base + m)):
            at = next(i for i, got in enumerate(idxs) if got != base + i)
            problems.append((base + at, f"expected entry {base + at}, found index {idxs[at]!r}"))
            # Everything after a gap or duplicate is shifted; hashes would only add noise.
            m = at
            rows = rows[:at]
        sha = _sha256
        try:
            leaves = [sha(_LEAF + row[1]).digest() for row in rows]
        except TypeError:
            at = next(i for i, row in enumerate(rows) if not isinstance(row[1], bytes))
            raise _Found(base + at, "entry data is not a byte string") from None
        stored = [row[2] for row in rows]
        if leaves != stored:
            at = next(i for i in range(m) if leaves[i] != stored[i])
            problems.append((base + at, "stored leaf hash does not match the entry's bytes"))
        # Each row holds exactly the nodes its leaf completes: 32 bytes per trailing
        # one bit of its index. The last row of a whole chunk also holds nodes above
        # the chunk, whose count depends on the chunk's position.
        lengths = [len(row[3]) if row[3] is not None else 0 for row in rows]
        want_lengths = pattern[:m]
        if m == len(pattern):
            want_lengths = [*pattern[:-1], HASH_SIZE * (CHUNK_LOG2 + _ones(base >> CHUNK_LOG2))]
        if lengths != want_lengths:
            at = next(i for i in range(m) if lengths[i] != want_lengths[i])
            problems.append(
                (
                    base + at,
                    f"entry {base + at} stores {lengths[at]} bytes of subtree hashes, "
                    f"expected {want_lengths[at]}",
                )
            )
        if self.check_entry is not None:
            bad = self._check_entries(base, rows)
            if bad is not None:
                problems.append(bad)
        if problems:
            raise _Found(*min(problems, key=lambda p: p[0]))
        levels = [leaves]
        level_hashes = leaves
        for level in range(1, CHUNK_LOG2 + 1):
            it = iter(level_hashes)
            level_hashes = [sha(_NODE + a + b).digest() for a, b in zip(it, it, strict=False)]
            if not level_hashes:
                break
            levels.append(level_hashes)
            # Node (level, j) of this chunk lives in its last leaf's row.
            lo = (level - 1) * HASH_SIZE
            hi = lo + HASH_SIZE
            step = 1 << level
            stored_nodes = [row[3][lo:hi] for row in rows[step - 1 :: step]]
            if stored_nodes != level_hashes:
                j = next(i for i, h in enumerate(level_hashes) if stored_nodes[i] != h)
                first = (base >> level) + j
                raise _Found(
                    first << level,
                    f"stored tree node (level {level}, index {first}) does not match "
                    f"entries [{first << level}, {(first + 1) << level})",
                )
        return levels

    def _check_entries(self, base: int, rows: list[Any]) -> tuple[int, str] | None:
        check = self.check_entry
        assert check is not None
        for i, row in enumerate(rows):
            try:
                reason = check(base + i, row[1])
            except Exception as exc:
                reason = f"entry check raised {type(exc).__name__}: {exc}"
            if reason is not None:
                return base + i, f"malformed entry: {reason}"
        return None

    def _push_top(self, h: bytes, n: int, last_row: Any) -> None:
        """Add a whole chunk's root to the upper tree, checking each node it completes.

        Those nodes are stored in the chunk's last row, above the chunk's own levels.
        """
        level = CHUNK_LOG2
        top = self.top
        blob = last_row[3]
        while n & 1:
            h = _sha256(_NODE + top.pop() + h).digest()
            n >>= 1
            level += 1
            lo = (level - 1) * HASH_SIZE
            if blob[lo : lo + HASH_SIZE] != h:
                raise _Found(
                    n << level,
                    f"stored tree node (level {level}, index {n}) does not match "
                    f"entries [{n << level}, {(n + 1) << level})",
                )
        top.append(h)

    def _check_checkpoints(
        self,
        pending: list[tuple[CheckpointRow, Checkpoint]],
        pos: int,
        base: int,
        levels: list[list[bytes]],
    ) -> int:
        end = base + len(levels[0])
        while pos < len(pending) and pending[pos][0].tree_size <= end:
            row, cp = pending[pos]
            t = cp.size - base
            root = merkle.fold_right_edge(self.top + _partial_peaks(levels, t))
            if root != cp.root_hash:
                raise _Found(
                    None,
                    f"checkpoint {row.id} (size {cp.size}) does not match the tree at that size",
                )
            self.checkpoints_checked += 1
            pos += 1
        return pos


def _partial_peaks(levels: list[list[bytes]], t: int) -> list[bytes]:
    """Peaks of the first ``t`` leaves of a chunk, from its level lists, largest first."""
    out: list[bytes] = []
    offset = 0
    for level in range(min(t.bit_length(), len(levels)) - 1, -1, -1):
        if t >> level & 1:
            out.append(levels[level][offset >> level])
            offset += 1 << level
    return out


def _ones(n: int) -> int:
    """Number of trailing one bits of ``n``."""
    return (~n & (n + 1)).bit_length() - 1


def _node_lengths(k: int) -> list[int]:
    """Bytes of subtree hashes stored by each row of an aligned chunk of 2**k rows."""
    return [HASH_SIZE * _ones(i) for i in range(1 << k)]
