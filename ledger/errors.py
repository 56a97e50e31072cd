"""The ledger's one exception tree.

Every failure the pure ledger core reports on purpose is a :class:`LedgerError`,
so callers (the gRPC error interceptor, the CLI, the SDK) can map one base class
and then refine by subclass. Each exception carries its facts as attributes, not
only as text, and its ``str()`` is one readable line::

    from ledger.errors import LedgerError, InvalidProofError

    try:
        verify_inclusion(leaf, index, size, proof, root)
    except InvalidProofError as exc:
        print("bad proof:", exc.reason)

The tree::

    LedgerError
    ├── InvalidProofError(reason)          a Merkle proof did not verify
    ├── NoteError(reason)                  malformed signed note, key string or key name
    │   └── SignatureError(reason, key_name, key_id)
    │                                      no known key's signature verifies, or a
    │                                      signature by a known key is bad
    ├── CheckpointError(reason)            malformed checkpoint body, or origin mismatch
    ├── TlogProofError(reason, line)       malformed c2sp.org/tlog-proof text
    ├── EntryNotFoundError(index, size)    no entry at that index in a tree of that size
    ├── TreeSizeError(size, current)       asked for a tree size larger than the log
    └── IntegrityError(index, reason)      stored log failed verification (tampering)

What this module does NOT do: it has no logic and no I/O. Programming errors
(wrong argument types passed by our own code) may still raise ``TypeError`` or
``ValueError``; hostile *input* (proofs, notes, checkpoints) never does.

Other modules may append further ``LedgerError`` subclasses at the end of this
file. Keep the constructor convention: ``super().__init__(*fields)`` so that
``args`` holds the fields (exceptions then pickle and compare sensibly) and
``__str__`` renders the message.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "EntryNotFoundError",
    "IntegrityError",
    "InvalidProofError",
    "LedgerError",
    "NoteError",
    "SignatureError",
    "TlogProofError",
    "TreeSizeError",
]


class LedgerError(Exception):
    """Base class of every error the ledger core raises on purpose."""


class InvalidProofError(LedgerError):
    """An inclusion or consistency proof failed verification, for any reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid proof: {self.reason}"


class NoteError(LedgerError):
    """A signed note, key string (vkey/skey) or key name is malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed note: {self.reason}"


class SignatureError(NoteError):
    """No signature by a known key verifies, or a known key's signature is bad.

    ``key_name``/``key_id`` identify the offending key when one is known (a bad
    signature); both are None when the note simply carries no verifiable signature.
    """

    def __init__(
        self, reason: str, key_name: str | None = None, key_id: bytes | None = None
    ) -> None:
        # Bypass NoteError.__init__ so that args holds all three fields.
        LedgerError.__init__(self, reason, key_name, key_id)
        self.reason = reason
        self.key_name = key_name
        self.key_id = key_id

    def __str__(self) -> str:
        if self.key_name is None:
            return f"signature error: {self.reason}"
        key_id = self.key_id.hex() if self.key_id is not None else "?"
        return f"signature error: {self.reason} (key {self.key_name}+{key_id})"


class CheckpointError(LedgerError):
    """A checkpoint body is malformed, or its origin is not the expected one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"bad checkpoint: {self.reason}"


class TlogProofError(LedgerError):
    """A c2sp.org/tlog-proof text is malformed; ``line`` is 1-based, None if unknown."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason, line)
        self.reason = reason
        self.line = line

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        return f"malformed tlog-proof{where}: {self.reason}"


class EntryNotFoundError(LedgerError):
    """There is no entry ``index`` in a tree of ``size`` entries."""

    def __init__(self, index: int, size: int) -> None:
        super().__init__(index, size)
        self.index = index
        self.size = size

    def __str__(self) -> str:
        return f"no entry at index {self.index} in a tree of size {self.size}"


class TreeSizeError(LedgerError):
    """Asked for tree size ``size``, but the log (or the other tree) has ``current``."""

    def __init__(self, size: int, current: int) -> None:
        super().__init__(size, current)
        self.size = size
        self.current = current

    def __str__(self) -> str:
        return f"tree size {self.size} is not available (current size {self.current})"


class IntegrityError(LedgerError):
    """Verifying the stored log found tampering.

    ``index`` is the first bad entry index, or None when the fault is not tied to
    one entry (for example a stored root or checkpoint that does not match).
    """

    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(index, reason)
        self.index = index
        self.reason = reason

    def __str__(self) -> str:
        if self.index is None:
            return f"ledger integrity failure: {self.reason}"
        return f"ledger integrity failure at entry {self.index}: {self.reason}"


class StorageError(LedgerError):
    """The log's database failed or refused (connection lost, schema missing, log closed).

    Appended by ledger.storage. An append that fails this way was NOT acknowledged;
    it may or may not have been committed, so retry it with the same idempotency
    key: a retry of a committed append returns the first entry.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"ledger storage error: {self.reason}"


__all__ += ["StorageError"]
