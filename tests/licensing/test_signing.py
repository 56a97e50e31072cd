"""Signed documents: a good signature verifies, and every corrupted twin fails."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.note import Signer, Verifier
from services.errors import BashuError, InvalidArgumentError
from services.signing import (
    LICENCE_CONTEXT,
    USAGE_RECEIPT_CONTEXT,
    DocumentSignature,
    SignatureInvalidError,
    sign_document,
    signed_message,
    verify_document,
)

KEY = Signer.generate("bashu.exchange/log/sc")
BODY = b"\x0a\x1bregions/sc/licences/l-1 and more bytes"


def signed() -> DocumentSignature:
    return sign_document(KEY, "sc", LICENCE_CONTEXT, BODY, now=1_700_000_000.5)


def test_sign_and_verify() -> None:
    sig = signed()
    assert (sig.signer_region, sig.key_name, sig.key_id) == ("sc", KEY.name, KEY.key_id.hex())
    assert sig.sign_us == 1_700_000_000_500_000
    verifier = Verifier.from_vkey(KEY.vkey())
    assert verify_document([verifier], LICENCE_CONTEXT, BODY, sig) == verifier
    assert signed_message(LICENCE_CONTEXT, b"x") == b"bashu.exchange/licence/v1\x00x"


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    "twin",
    [
        "body byte flipped",
        "body extended",
        "signature byte flipped",
        "other context",
        "other key, same name",
        "unknown key id",
        "unknown key name",
    ],
)
def test_corrupted_twins_fail(twin: str) -> None:
    sig = signed()
    body, context = BODY, LICENCE_CONTEXT
    verifiers = [Verifier.from_vkey(KEY.vkey())]
    if twin == "body byte flipped":
        body = _flip(BODY, 5)
    elif twin == "body extended":
        body = BODY + b"\x00"
    elif twin == "signature byte flipped":
        sig = dataclasses.replace(sig, signature=_flip(sig.signature, 10))
    elif twin == "other context":
        context = USAGE_RECEIPT_CONTEXT
    elif twin == "other key, same name":
        verifiers = [Verifier.from_vkey(Signer.generate(KEY.name).vkey())]
    elif twin == "unknown key id":
        sig = dataclasses.replace(sig, key_id="00000000")
    elif twin == "unknown key name":
        sig = dataclasses.replace(sig, key_name="bashu.exchange/log/cq")
    with pytest.raises(SignatureInvalidError) as err:
        verify_document(verifiers, context, body, sig)
    assert err.value.reason == "SIGNATURE_INVALID"


def test_malformed_signatures_and_contexts_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        dataclasses.replace(signed(), signature=b"short")
    with pytest.raises(InvalidArgumentError):
        dataclasses.replace(signed(), key_id="XYZ")
    with pytest.raises(BashuError):
        signed_message("bashu.exchange/made-up/v1", BODY)
