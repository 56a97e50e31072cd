"""C2SP tlog-checkpoint: a log's signed tree head (origin, size, root hash).

A checkpoint body is::

    <origin>\\n
    <tree size, ASCII decimal, no leading zeroes>\\n
    <base64 root hash>\\n
    [<extension line>\\n ...]

and the region signs it as a C2SP signed note (``ledger.note``). Usage::

    from ledger.checkpoint import Checkpoint, sign_checkpoint, open_checkpoint

    cp = Checkpoint("cq.bashu.example/ledger", size, root)
    note = sign_checkpoint(cp, signer)                  # text for peers and receipts
    cp2 = open_checkpoint(note, verifier)               # signature first, then parse
    assert cp2 == cp

Security rule: :func:`open_checkpoint` VERIFIES THE SIGNATURE BEFORE PARSING the
body, so hostile bytes never reach the parser unless the log's key signed them
(a note with a garbage body and a bad signature fails with SignatureError, not
CheckpointError). It also checks that the origin line is the expected one (by
default the verifier's key name, which the spec says SHOULD match the origin).

What this module does NOT do: no I/O, no clocks, no consistency checking between
checkpoints (use ``ledger.merkle.verify_consistency``), no witness policy (see
``ledger.note.verify_cosignature``). Errors: CheckpointError for malformed bodies
or a wrong origin; NoteError/SignatureError from opening the note.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from ledger.errors import CheckpointError
from ledger.merkle import HASH_SIZE, MAX_TREE_SIZE
from ledger.note import NoteSigner, NoteVerifier, decode_base64, open_note, sign_note

__all__ = ["Checkpoint", "open_checkpoint", "sign_checkpoint"]

_SIZE = re.compile(r"0|[1-9][0-9]*")
# Lines of a note may not hold ASCII control characters (newline splits lines).
_BAD_LINE_CHAR = re.compile(r"[\x00-\x1f]")


def _check_line(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise CheckpointError(f"{what} must be a non-empty string")
    if _BAD_LINE_CHAR.search(value):
        raise CheckpointError(f"{what} must be one line without control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid UTF-8") from None
    return value


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: validated on construction, immutable."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise CheckpointError(f"tree size {self.size!r} is not a uint64")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("extensions must be a tuple of lines")
        for ext in self.extensions:
            _check_line(ext, "extension line")

    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines; each ends in a newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body; CheckpointError if it is not exactly one.

        Only call this on text whose signature was verified (see open_checkpoint).
        """
        if not isinstance(body, str):
            raise CheckpointError("checkpoint body must be a str")
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint needs origin, size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE.fullmatch(size_text):
            raise CheckpointError(f"tree size {size_text!r} is not a canonical decimal")
        try:
            root = decode_base64(root_text)
        except ValueError as exc:
            raise CheckpointError(f"root hash: {exc}") from None
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> str:
    """The signed note for ``cp``: its body, a blank line, the signer's signature line."""
    return sign_note(cp.body(), [signer])


def open_checkpoint(
    note: str | bytes, verifier: NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """Verify the note's signature by ``verifier``, THEN parse the body as a checkpoint.

    ``origin`` defaults to the verifier's key name. Raises NoteError /
    SignatureError (note malformed or not validly signed by this key) before
    looking at the body, then CheckpointError (bad body or another origin).
    Other signatures on the note (witness cosignatures) are ignored here.
    """
    opened = open_note(note, [verifier])
    cp = Checkpoint.parse(opened.text)
    expected = verifier.name if origin is None else origin
    if cp.origin != expected:
        raise CheckpointError(f"origin {cp.origin!r} is not the expected {expected!r}")
    return cp
