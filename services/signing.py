"""Signed documents: detached Ed25519 signatures by a region key over exact bytes.

A signed document is a byte string (``body``, for example a serialized
``LicenceDocument``) kept exactly as signed, next to a signature over
``context ‖ 0x00 ‖ body``, where ``context`` is the ASCII label of the kind of
document fixed by the API (see ``bashu.common.v1.Signature``). The label makes a
signature over one kind of document useless as a signature over another kind, even
when the bytes happen to parse as both::

    sig = sign_document(signer, "sc", LICENCE_CONTEXT, body, now=time.time())
    verify_document([Verifier.from_vkey(vkey)], LICENCE_CONTEXT, body, sig)   # or raises

Licences use it today; usage receipts, batches and statements use the same two
functions with their own context.

What this module does NOT do: it never serializes or parses the body (verifiers
check the stored bytes, never a re-serialization), it keeps no keys, and it does no
I/O. A signature that does not verify raises :class:`SignatureInvalidError`
(INVALID_ARGUMENT ``SIGNATURE_INVALID``), never a bare ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.note import Signer, Verifier
from services.errors import BashuError, FieldViolation, InvalidArgumentError

__all__ = [
    "CONTEXTS",
    "KEY_ROTATION_CONTEXT",
    "LICENCE_CONTEXT",
    "STATEMENT_CONTEXT",
    "USAGE_BATCH_CONTEXT",
    "USAGE_BATCH_COUNTERSIGNATURE_CONTEXT",
    "USAGE_BATCH_RETURN_CONTEXT",
    "USAGE_RECEIPT_CONTEXT",
    "DocumentSignature",
    "SignatureInvalidError",
    "sign_document",
    "signed_message",
    "verify_document",
]

LICENCE_CONTEXT = "bashu.exchange/licence/v1"
USAGE_RECEIPT_CONTEXT = "bashu.exchange/usage-receipt/v1"
USAGE_BATCH_CONTEXT = "bashu.exchange/usage-batch/v1"
USAGE_BATCH_COUNTERSIGNATURE_CONTEXT = "bashu.exchange/usage-batch-countersignature/v1"
USAGE_BATCH_RETURN_CONTEXT = "bashu.exchange/batch-return/v1"
STATEMENT_CONTEXT = "bashu.exchange/statement/v1"
KEY_ROTATION_CONTEXT = "bashu.exchange/key-rotation/v1"

# The labels the API fixes; signing under any other label is a programming error.
CONTEXTS = frozenset(
    {
        LICENCE_CONTEXT,
        USAGE_RECEIPT_CONTEXT,
        USAGE_BATCH_CONTEXT,
        USAGE_BATCH_COUNTERSIGNATURE_CONTEXT,
        USAGE_BATCH_RETURN_CONTEXT,
        STATEMENT_CONTEXT,
        KEY_ROTATION_CONTEXT,
    }
)

SIGNATURE_SIZE = 64


class SignatureInvalidError(InvalidArgumentError):
    """A signed document's signature does not verify (or names an unknown key)."""

    def __init__(self, context: str, detail: str) -> None:
        super().__init__(
            [FieldViolation("signature", f"{context}: {detail}")], reason="SIGNATURE_INVALID"
        )
        self.context = context
        self.detail = detail


_HEX_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class DocumentSignature:
    """A detached signature as ``bashu.common.v1.Signature`` carries it.

    ``key_id`` is the C2SP key id (8 lower-case hex digits) that tells a rotated key
    from its successor; ``sign_us`` is informational and not part of the signed
    message.
    """

    signer_region: str
    key_name: str
    key_id: str
    signature: bytes
    sign_us: int

    def __post_init__(self) -> None:
        if len(self.signature) != SIGNATURE_SIZE:
            raise SignatureInvalidError("signature", f"must be {SIGNATURE_SIZE} bytes")
        if len(self.key_id) != 8 or not _HEX_DIGITS.issuperset(self.key_id):
            raise SignatureInvalidError("signature", "key_id must be 8 lower-case hex digits")


def signed_message(context: str, body: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers: ``context ‖ 0x00 ‖ body``."""
    if context not in CONTEXTS:
        # Not a caller's mistake: a context is a constant of the code that signs.
        raise BashuError(f"unknown signing context {context!r}")
    return context.encode("ascii") + b"\x00" + body


def sign_document(
    signer: Signer, region: str, context: str, body: bytes, *, now: float
) -> DocumentSignature:
    """Sign ``body`` under ``context`` with the region key."""
    return DocumentSignature(
        signer_region=region,
        key_name=signer.name,
        key_id=signer.key_id.hex(),
        signature=signer.sign(signed_message(context, body)),
        sign_us=int(now * 1_000_000),
    )


def verify_document(
    verifiers: Sequence[Verifier], context: str, body: bytes, signature: DocumentSignature
) -> Verifier:
    """Check ``signature`` over ``body``; return the verifier that accepted it.

    The verifier is chosen by key name AND key id (a rotated key keeps its name but
    not its id), so a signature by an unknown or retired-and-forgotten key fails
    rather than being checked against the wrong key.
    """
    for verifier in verifiers:
        if verifier.name == signature.key_name and verifier.key_id.hex() == signature.key_id:
            if verifier.verify(signed_message(context, body), signature.signature):
                return verifier
            raise SignatureInvalidError(context, "signature does not verify")
    raise SignatureInvalidError(context, f"no known key {signature.key_name}+{signature.key_id}")
