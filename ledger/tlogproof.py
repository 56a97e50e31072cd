"""C2SP tlog-proof: an offline-verifiable receipt that an entry is in a log.

Implements the text format of c2sp.org/tlog-proof (``c2sp.org/tlog-proof@v1``)
as the spec text in the C2SP repository describes it::

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>          (optional line)
    index <decimal entry index>
    <base64 inclusion proof hash>       (zero or more lines, leaf's sibling first,
    ...                                  RFC 6962 §2.1.1 order)
    <empty line>
    <the signed checkpoint note, verbatim, with any witness cosignatures>

Usage::

    from ledger.tlogproof import format_tlog_proof, parse_tlog_proof, verify_tlog_proof

    text = format_tlog_proof(index, proof_hashes, checkpoint_note)
    ...
    proof = parse_tlog_proof(text)
    cp = verify_tlog_proof(proof, region_verifier, entry=entry_bytes)

Verification opens the checkpoint first (signature verified before the body is
parsed, and the origin checked), then checks the inclusion proof with
``ledger.merkle.verify_inclusion`` against the checkpoint's size and root.

What this module does NOT do: no I/O; it does not interpret or authenticate the
``extra`` data (the spec says it MUST NOT be trusted implicitly), and it applies
no witness policy: check cosignatures on ``proof.checkpoint`` with
``ledger.note.verify_cosignature`` if you require them. Errors: TlogProofError
for malformed text; NoteError/SignatureError/CheckpointError from the
checkpoint; InvalidProofError when the inclusion proof fails. All are LedgerError.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import TlogProofError
from ledger.note import NoteVerifier, decode_base64

__all__ = [
    "HEADER",
    "TlogProof",
    "format_tlog_proof",
    "parse_tlog_proof",
    "verify_tlog_proof",
]

HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every proof."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
# An inclusion proof in a uint64 tree has at most 64 hashes.
_MAX_PROOF_HASHES = 64


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class TlogProof:
    """A parsed proof. ``checkpoint`` is the signed note text, not yet verified."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.index, bool)
            or not isinstance(self.index, int)
            or not 0 <= self.index < merkle.MAX_TREE_SIZE
        ):
            raise TlogProofError(f"index {self.index!r} is not a uint64 entry index")
        if not isinstance(self.proof, tuple) or len(self.proof) > _MAX_PROOF_HASHES:
            raise TlogProofError(f"proof must be a tuple of at most {_MAX_PROOF_HASHES} hashes")
        for h in self.proof:
            if not isinstance(h, bytes) or len(h) != merkle.HASH_SIZE:
                raise TlogProofError("every proof hash must be 32 bytes")
        if self.extra is not None and not isinstance(self.extra, bytes):
            raise TlogProofError("extra data must be bytes")
        cp = self.checkpoint
        # The checkpoint follows an empty line, so it cannot itself start with one,
        # and a note always ends with a newline.
        if not isinstance(cp, str) or not cp or cp.startswith("\n") or not cp.endswith("\n"):
            raise TlogProofError("checkpoint must be a signed note ending with a newline")

    def format(self) -> str:
        """The proof as c2sp.org/tlog-proof@v1 text."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {_b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(_b64(h) for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint


def format_tlog_proof(
    index: int,
    proof: Sequence[bytes],
    checkpoint_note: str,
    extra_data: bytes | None = None,
) -> str:
    """Format a proof; raises TlogProofError for values the format cannot carry."""
    hashes: object = proof
    if isinstance(hashes, bytes | str):
        # A bare bytes/str is a Sequence too, but never a list of hashes.
        raise TlogProofError("proof must be a sequence of hashes")
    return TlogProof(index, tuple(proof), checkpoint_note, extra_data).format()


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Parse c2sp.org/tlog-proof@v1 text strictly; TlogProofError on any deviation.

    The checkpoint is taken verbatim and NOT verified here.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise TlogProofError("proof is not valid UTF-8") from None
    if not isinstance(text, str):
        raise TlogProofError("proof must be str or bytes")

    pos = 0
    line_no = 0

    def next_line() -> str:
        nonlocal pos, line_no
        end = text.find("\n", pos)
        line_no += 1
        if end < 0:
            raise TlogProofError("unexpected end of proof", line_no)
        line = text[pos:end]
        pos = end + 1
        return line

    if next_line() != HEADER:
        raise TlogProofError(f"first line is not {HEADER!r}", line_no)

    extra: bytes | None = None
    line = next_line()
    if line.startswith("extra "):
        try:
            extra = decode_base64(line[len("extra ") :])
        except ValueError as exc:
            raise TlogProofError(f"extra data: {exc}", line_no) from None
        line = next_line()

    if not line.startswith("index "):
        raise TlogProofError("expected 'index <n>'", line_no)
    index_text = line[len("index ") :]
    if not _DECIMAL.fullmatch(index_text):
        raise TlogProofError(f"index {index_text!r} is not a canonical decimal", line_no)
    index = int(index_text)
    if index >= merkle.MAX_TREE_SIZE:
        raise TlogProofError("index is too large", line_no)

    hashes: list[bytes] = []
    while (line := next_line()) != "":
        if len(hashes) == _MAX_PROOF_HASHES:
            raise TlogProofError(f"more than {_MAX_PROOF_HASHES} proof hashes", line_no)
        try:
            h = decode_base64(line)
        except ValueError as exc:
            raise TlogProofError(f"proof hash: {exc}", line_no) from None
        if len(h) != merkle.HASH_SIZE:
            raise TlogProofError(f"proof hash is {len(h)} bytes, want 32", line_no)
        hashes.append(h)

    checkpoint = text[pos:]
    if not checkpoint:
        raise TlogProofError("missing checkpoint", line_no + 1)
    try:
        return TlogProof(index, tuple(hashes), checkpoint, extra)
    except TlogProofError as exc:
        raise TlogProofError(exc.reason, line_no + 1) from None


def verify_tlog_proof(
    proof: TlogProof | str | bytes,
    verifier: NoteVerifier,
    *,
    entry: bytes | None = None,
    leaf_hash: bytes | None = None,
    origin: str | None = None,
) -> Checkpoint:
    """Verify that ``entry`` (or its ``leaf_hash``) is in the log, per the proof.

    Give exactly one of ``entry`` (raw entry bytes) or ``leaf_hash``. Opens the
    checkpoint with ``verifier`` (signature first; ``origin`` defaults to the
    verifier's name), then verifies the inclusion proof against its size and
    root. Returns the verified checkpoint; raises a LedgerError subclass on any
    failure.
    """
    if (entry is None) == (leaf_hash is None):
        raise TypeError("give exactly one of entry= or leaf_hash=")
    if not isinstance(proof, TlogProof):
        proof = parse_tlog_proof(proof)
    cp = open_checkpoint(proof.checkpoint, verifier, origin=origin)
    if entry is not None:
        if not isinstance(entry, bytes):
            raise TypeError("entry must be bytes")
        leaf = merkle.leaf_hash(entry)
    else:
        assert leaf_hash is not None
        leaf = leaf_hash
    merkle.verify_inclusion(leaf, proof.index, cp.size, proof.proof, cp.root_hash)
    return cp
