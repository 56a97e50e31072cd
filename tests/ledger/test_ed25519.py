"""Tests for ledger.ed25519: the GIL-keeping signer must agree with PyNaCl bit for bit."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from ledger import ed25519


@settings(max_examples=200, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=4096))
def test_signature_is_pynacls(seed: bytes, msg: bytes) -> None:
    key = SigningKey(seed)
    sign = ed25519.detached_signer(key)
    got = sign(msg)
    assert got == bytes(key.sign(msg).signature)
    key.verify_key.verify(msg, got)  # raises if the signature were wrong


def test_direct_path_is_in_use_here() -> None:
    # The bundled libsodium exports the symbol, so the self-test must pass: if it
    # silently fell back, the server would lose the speed without anyone noticing.
    assert ed25519._checked() is not None


def test_falls_back_to_pynacl_when_libsodium_is_unusable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ed25519, "_loaded", False)
    monkeypatch.setattr(ed25519, "_raw", None)
    monkeypatch.setattr(ed25519, "_load", lambda: None)
    key = SigningKey(bytes(32))
    assert ed25519.detached_signer(key)(b"m") == bytes(key.sign(b"m").signature)


def test_a_library_giving_wrong_answers_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(out: object, _siglen: object, _m: bytes, _n: int, _sk: bytes) -> int:
        return 0  # leaves the buffer all zero: not the right signature

    monkeypatch.setattr(ed25519, "_loaded", False)
    monkeypatch.setattr(ed25519, "_raw", None)
    monkeypatch.setattr(ed25519, "_load", lambda: wrong)
    assert ed25519._checked() is None
    key = SigningKey(bytes(range(32)))
    assert ed25519.detached_signer(key)(b"x") == bytes(key.sign(b"x").signature)


def test_concurrent_signing_agrees() -> None:
    key = SigningKey(bytes(range(1, 33)))
    sign = ed25519.detached_signer(key)
    msgs = [i.to_bytes(4, "big") * 10 for i in range(400)]
    want = {m: bytes(key.sign(m).signature) for m in msgs}
    bad: list[bytes] = []

    def work(part: list[bytes]) -> None:
        bad.extend(m for m in part if sign(m) != want[m])

    threads = [threading.Thread(target=work, args=(msgs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []
