"""Tests for ledger.checkpoint: body format, strict parsing, signature-before-parse."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.errors import CheckpointError, NoteError, SignatureError
from ledger.merkle import root_hash
from ledger.note import CosignatureSigner, Signer, Verifier, cosign_checkpoint, sign_note

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "signed_note_vectors.json"
ROOT = root_hash([b"a", b"b", b"c"])
ORIGIN = "cq.bashu.example/ledger"
LOG = Signer(ORIGIN, bytes(range(32)))
LOG_V = Verifier.from_vkey(LOG.vkey())


@pytest.fixture(scope="module")
def sumdb() -> dict[str, Any]:
    if not VECTORS.is_file():
        pytest.skip(f"published vectors not found at {VECTORS} (copied from shared/vectors)")
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))["sumdb_checkpoint"]
    return data


def test_sumdb_checkpoint_vector(sumdb: dict[str, Any]) -> None:
    v = Verifier.from_vkey(sumdb["vkey"])
    cp = open_checkpoint(sumdb["signed_note"], v, origin=sumdb["origin"])
    assert cp == Checkpoint(sumdb["origin"], sumdb["size"], bytes.fromhex(sumdb["root_hex"]))
    assert cp.body() + "\n" == sumdb["signed_note"].split("\u2014")[0]
    # The sumdb log's key name is not its origin line: the default check refuses it.
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(sumdb["signed_note"], v)
    with pytest.raises(SignatureError, match="invalid signature"):
        open_checkpoint(sumdb["signed_note"].replace("6476701", "6476700"), v, origin="x")
    with pytest.raises(SignatureError, match="no verifiable"):
        open_checkpoint(sumdb["signed_note"], LOG_V, origin=sumdb["origin"])


def test_body_format_and_round_trip() -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT)
    b64 = base64.b64encode(ROOT).decode()
    assert cp.body() == f"{ORIGIN}\n3\n{b64}\n"
    assert Checkpoint.parse(cp.body()) == cp
    ext = Checkpoint(ORIGIN, 0, ROOT, ("time 1700000000", "other ext"))
    assert ext.body() == f"{ORIGIN}\n0\n{b64}\ntime 1700000000\nother ext\n"
    assert Checkpoint.parse(ext.body()) == ext


def test_sign_and_open() -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT)
    note = sign_checkpoint(cp, LOG)
    assert note.startswith(cp.body() + "\n\u2014 " + ORIGIN + " ")
    assert open_checkpoint(note, LOG_V) == cp
    assert open_checkpoint(note.encode(), LOG_V, origin=ORIGIN) == cp
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, LOG_V, origin="sc.bashu.example/ledger")
    # A key whose name differs from the origin: fine when the origin is given.
    other = Signer("key.example", bytes(range(1, 33)))
    note2 = sign_checkpoint(cp, other)
    assert open_checkpoint(note2, Verifier.from_vkey(other.vkey()), origin=ORIGIN) == cp
    with pytest.raises(CheckpointError):
        open_checkpoint(note2, Verifier.from_vkey(other.vkey()))


def test_cosigned_checkpoint_still_opens_with_the_log_key() -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT)
    cosigned = cosign_checkpoint(
        sign_checkpoint(cp, LOG), CosignatureSigner("w.example", b"w" * 32), 5
    )
    assert open_checkpoint(cosigned, LOG_V) == cp


def test_signature_is_verified_before_the_body_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    garbage = "this is\nnot a\ncheckpoint at all\n"
    signed = sign_note(garbage, [LOG])
    text, sig = signed.split("\n\n")
    # Garbage body, invalid signature: SignatureError, never CheckpointError.
    bad_sig = sig.replace(sig.rsplit(" ", 1)[1][:8], "AAAAAAAA", 1)
    with pytest.raises(SignatureError):
        open_checkpoint(text + "\n\n" + bad_sig, LOG_V)
    # Garbage body signed by someone else: SignatureError.
    with pytest.raises(SignatureError):
        open_checkpoint(sign_note(garbage, [Signer(ORIGIN, b"x" * 32)]), LOG_V)
    # Garbage body, valid signature: now the parser speaks.
    with pytest.raises(CheckpointError):
        open_checkpoint(signed, LOG_V)

    # And the parser is not even called for an unverified note.
    def boom(body: str) -> Checkpoint:
        raise AssertionError("parsed before verifying")

    monkeypatch.setattr(Checkpoint, "parse", staticmethod(boom))
    with pytest.raises(SignatureError):
        open_checkpoint(text + "\n\n" + bad_sig, LOG_V)
    with pytest.raises(NoteError):
        open_checkpoint("no signature block at all\n", LOG_V)


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        ("a\x00", 1, ROOT),
        ("tab\there", 1, ROOT),
        (None, 1, ROOT),
        ("o", -1, ROOT),
        ("o", 2**64, ROOT),
        ("o", True, ROOT),
        ("o", 1.0, ROOT),
        ("o", "1", ROOT),
        ("o", 1, ROOT[:31]),
        ("o", 1, ROOT + b"\x00"),
        ("o", 1, bytearray(ROOT)),
        ("o", 1, ROOT.hex()),
        ("o", 1, ROOT, ["list"]),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("two\nlines",)),
        ("o", 1, ROOT, (5,)),
    ],
)
def test_construction_validates(args: tuple[Any, ...]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(*args)


_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        "",
        "\n",
        f"{ORIGIN}\n3\n{_B64}",
        f"{ORIGIN}\n3\n",
        f"{ORIGIN}\n3\n\n",
        f"\n3\n{_B64}\n",
        f"{ORIGIN}\n03\n{_B64}\n",
        f"{ORIGIN}\n+3\n{_B64}\n",
        f"{ORIGIN}\n-3\n{_B64}\n",
        f"{ORIGIN}\n 3\n{_B64}\n",
        f"{ORIGIN}\n3 \n{_B64}\n",
        f"{ORIGIN}\n\u0663\n{_B64}\n",
        f"{ORIGIN}\n0x3\n{_B64}\n",
        f"{ORIGIN}\n3_0\n{_B64}\n",
        f"{ORIGIN}\n{2**64}\n{_B64}\n",
        f"{ORIGIN}\n\n{_B64}\n",
        f"{ORIGIN}\n3\n{_B64[:-1]}\n",
        f"{ORIGIN}\n3\n{_B64.rstrip('=')}\n",
        f"{ORIGIN}\n3\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n3\n{ROOT.hex()}\n",
        f"{ORIGIN}\n3\n{_B64}\n\n",
        f"{ORIGIN}\n3\n{_B64}\next\n\nmore\n",
        f"{ORIGIN}\r\n3\n{_B64}\n",
    ],
)
def test_parse_rejects_malformed_bodies(body: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(body)


def test_parse_rejects_non_str() -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(b"bytes\n1\n" + _B64.encode() + b"\n")  # type: ignore[arg-type]


def test_largest_size() -> None:
    cp = Checkpoint(ORIGIN, 2**64 - 1, ROOT)
    assert Checkpoint.parse(cp.body()).size == 2**64 - 1


_line = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], min_codepoint=0x20), min_size=1, max_size=30
)


@settings(database=None, deadline=None)
@given(
    origin=_line,
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3).map(tuple),
)
def test_property_round_trip(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse(cp.body()) == cp
    assert open_checkpoint(sign_checkpoint(cp, LOG), LOG_V, origin=origin) == cp
