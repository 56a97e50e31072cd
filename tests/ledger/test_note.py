"""Tests for ledger.note: published signed-note vectors, malformed input, cosignatures."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import VerifyKey

from ledger import note as note_mod
from ledger.errors import LedgerError, NoteError, SignatureError
from ledger.note import (
    MAX_SIGNATURES,
    CosignatureSigner,
    CosignatureVerifier,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    add_signatures,
    cosign_checkpoint,
    cosignature_message,
    cosignature_timestamp,
    decode_base64,
    is_valid_key_name,
    key_id,
    open_note,
    sign_note,
    verifier_from_vkey,
    verify_cosignature,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "signed_note_vectors.json"
PROPS = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))
CHECKPOINT_TEXT = "example.com/log\n5\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n"


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    if not VECTORS.is_file():
        pytest.skip(f"published vectors not found at {VECTORS} (copied from shared/vectors)")
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


# --- published vectors ------------------------------------------------------------


def test_go_sign_vector_reproduces_byte_for_byte(vectors: dict[str, Any]) -> None:
    v = vectors["go_note_sign"]
    signer = Signer.from_skey(v["skey"])
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == v["key_id_hex"]
    assert signer.public_key.hex() == v["public_key_hex"]
    assert signer.vkey() == v["vkey"]
    assert signer.skey() == v["skey"]
    assert sign_note(v["text"], [signer]) == v["signed_note"]
    # Built from the raw seed it is the same key.
    same = Signer("PeterNeumann", bytes.fromhex(v["seed_hex"]))
    assert same.skey() == v["skey"]
    verifier = Verifier.from_vkey(v["vkey"])
    assert verifier.key_id == signer.key_id
    assert verifier.vkey() == v["vkey"]
    opened = open_note(v["signed_note"], [verifier])
    assert opened.text == v["text"]


def test_go_open_vector_cases(vectors: dict[str, Any]) -> None:
    v = vectors["go_note_open"]
    signed = v["text"] + "\n" + "".join(v["signature_lines"])
    for case in v["cases"]:
        verifiers = [Verifier.from_vkey(k) for k in case["verifiers"]]
        msg = signed
        if "mutate" in case:
            msg = signed.replace("cryptography", "cryptographY", 1)
            assert msg != signed
        if "expect_error" in case:
            with pytest.raises(SignatureError, match=case["expect_error"]):
                open_note(msg, verifiers)
            continue
        opened = open_note(msg, verifiers)
        assert opened.text == v["text"]
        assert [s.name for s in opened.sigs] == case["verified"]
        assert [s.name for s in opened.unverified_sigs] == case["unverified"]
        # bytes in, same result
        assert open_note(msg.encode(), verifiers) == opened


def test_c2sp_example(vectors: dict[str, Any]) -> None:
    v = vectors["c2sp_example"]
    verifier = Verifier.from_vkey(v["vkey"])
    opened = open_note(v["signed_note"], [verifier])
    assert opened.text == "This is an example message.\n"
    assert opened.sigs[0].line() == v["signed_note"].split("\n\n")[1]
    assert opened.sigs[0].key_id.hex() == "530d903a"


def test_sumdb_checkpoint(vectors: dict[str, Any]) -> None:
    v = vectors["sumdb_checkpoint"]
    opened = open_note(v["signed_note"], [Verifier.from_vkey(v["vkey"])])
    assert opened.text.split("\n")[:2] == [v["origin"], str(v["size"])]
    tampered = v["signed_note"].replace("6476701", "6476702")
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(tampered, [Verifier.from_vkey(v["vkey"])])


# --- keys ---------------------------------------------------------------------------


def test_key_id_is_sha256_of_name_type_and_key() -> None:
    s = Signer("example.com/a", SEED_A)
    want = hashlib.sha256(b"example.com/a\n\x01" + s.public_key).digest()[:4]
    assert s.key_id == want == key_id("example.com/a", 0x01, s.public_key)
    c = CosignatureSigner("example.com/a", SEED_A)
    assert c.public_key == s.public_key
    assert c.key_id == hashlib.sha256(b"example.com/a\n\x04" + s.public_key).digest()[:4]
    assert c.key_id != s.key_id


def test_generate_and_round_trip_key_strings() -> None:
    s = Signer.generate("bashu.example/cq")
    assert Signer.from_skey(s.skey()).public_key == s.public_key
    v = Verifier.from_vkey(s.vkey())
    assert (v.name, v.key_id, v.public_key) == (s.name, s.key_id, s.public_key)
    assert v == Verifier(s.name, s.public_key)
    assert hash(v) == hash(Verifier(s.name, s.public_key))
    assert "PRIVATE" not in repr(s)
    assert s.skey() not in repr(s)
    assert v.verify(b"m", s.sign(b"m"))
    assert not v.verify(b"n", s.sign(b"m"))
    assert not v.verify(b"m", s.sign(b"m")[:63])
    assert not v.verify(b"m", b"")


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "tab\tname", "nl\nname", "a\u00a0b", "a\u3000b", "\x01x", "\ud800"]
)
def test_invalid_key_names(name: str) -> None:
    assert not is_valid_key_name(name)
    with pytest.raises(NoteError):
        Signer(name, SEED_A)
    with pytest.raises(NoteError):
        CosignatureSigner(name, SEED_A)


def test_valid_key_names() -> None:
    for name in ["a", "example.com/log42", "重庆.example/账本", "oid/1.3.6.1.4.1.99999"]:
        assert is_valid_key_name(name)
        Signer(name, SEED_A)


_GOOD = Signer("example.com/k", SEED_A)
_GOOD_VKEY = _GOOD.vkey()
_NAME, _HEXID, _MATERIAL = _GOOD_VKEY.split("+", 2)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "example.com/k",
        f"{_NAME}+{_HEXID}",
        f"{_NAME}+{_HEXID}+",
        f"+{_HEXID}+{_MATERIAL}",
        f"{_NAME}+{_HEXID[:7]}+{_MATERIAL}",
        f"{_NAME}+{_HEXID}0+{_MATERIAL}",
        f"{_NAME}+zzzzzzzz+{_MATERIAL}",
        f"{_NAME}+00000000+{_MATERIAL}",
        f"{_NAME} x+{_HEXID}+{_MATERIAL}",
        f"{_NAME}+{_HEXID}+{_MATERIAL[:-1]}",
        f"{_NAME}+{_HEXID}+{_MATERIAL}=",
        f"{_NAME}+{_HEXID}+ {_MATERIAL}",
        f"{_NAME}+{_HEXID}+" + base64.b64encode(b"\x02" + _GOOD.public_key).decode(),
        f"{_NAME}+{_HEXID}+" + base64.b64encode(b"\x01" + _GOOD.public_key[:31]).decode(),
        f"{_NAME}+{_HEXID}+" + base64.b64encode(b"\x01" + _GOOD.public_key + b"\x00").decode(),
        f"{_NAME}+{_HEXID}+AQ==",
        "other.example/k" + f"+{_HEXID}+{_MATERIAL}",
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.from_vkey(vkey)
    with pytest.raises(NoteError):
        verifier_from_vkey(vkey)


def test_malformed_skeys() -> None:
    skey = _GOOD.skey()
    parts = skey.split("+", 4)
    bad = [
        "",
        skey.replace("PRIVATE", "PUBLIC"),
        skey.replace("+KEY+", "+KEX+"),
        "+".join(parts[:4]),
        "+".join([*parts[:3], "00000000", parts[4]]),
        "+".join([*parts[:2], "other.example/k", *parts[3:]]),
        "+".join([*parts[:4], parts[4][:-2]]),
        "+".join([*parts[:4], base64.b64encode(b"\x01" + SEED_A[:31]).decode()]),
        "+".join([*parts[:4], base64.b64encode(b"\x09" + SEED_A).decode()]),
    ]
    for s in bad:
        with pytest.raises(NoteError):
            Signer.from_skey(s)
    with pytest.raises(NoteError):
        Signer("x", b"short")
    with pytest.raises(NoteError):
        Verifier("x", b"short")


def test_decode_base64_is_strict() -> None:
    assert decode_base64("AAEC") == b"\x00\x01\x02"
    assert decode_base64("") == b""
    for bad in ["AAE", "AAE=X", "AAF=", "AA EC", "AAEC\n", "A-_C", "éé=="]:
        with pytest.raises(ValueError, match="base64"):
            decode_base64(bad)


# --- signing and opening ------------------------------------------------------------


def test_sign_and_open_with_several_signers() -> None:
    a, b = Signer("a.example", SEED_A), Signer("b.example", SEED_B)
    text = "line one\n\nline three after a blank line\n"
    signed = sign_note(text, [a, b])
    assert signed.startswith(text + "\n\u2014 a.example ")
    opened = open_note(signed, [Verifier.from_vkey(a.vkey()), Verifier.from_vkey(b.vkey())])
    assert opened == Note(text, opened.sigs, ())
    assert [s.name for s in opened.sigs] == ["a.example", "b.example"]
    only_b = open_note(signed, [Verifier.from_vkey(b.vkey())])
    assert [s.name for s in only_b.sigs] == ["b.example"]
    assert [s.name for s in only_b.unverified_sigs] == ["a.example"]


def test_text_that_looks_like_signatures() -> None:
    a = Signer("a.example", SEED_A)
    text = "x\n\n\u2014 a.example AAAA\n"
    opened = open_note(sign_note(text, [a]), [Verifier.from_vkey(a.vkey())])
    assert opened.text == text
    assert open_note(sign_note("\n", [a]), [Verifier.from_vkey(a.vkey())]).text == "\n"


@pytest.mark.parametrize(
    "text", ["", "no newline", "a\x00b\n", "tab\there\n", "cr\r\n", "\ud800\n"]
)
def test_sign_rejects_invalid_text(text: str) -> None:
    with pytest.raises(NoteError):
        sign_note(text, [_GOOD])


def test_sign_rejects_bad_signer_lists() -> None:
    with pytest.raises(NoteError, match="at least one"):
        sign_note("x\n", [])
    with pytest.raises(NoteError, match="share the key"):
        sign_note("x\n", [_GOOD, Signer("example.com/k", SEED_A)])


def test_add_signatures_appends_and_replaces() -> None:
    a, b = Signer("a.example", SEED_A), Signer("b.example", SEED_B)
    va, vb = Verifier.from_vkey(a.vkey()), Verifier.from_vkey(b.vkey())
    signed = sign_note("hello\n", [a])
    both = add_signatures(signed, [b])
    assert both.startswith(signed)
    assert len(open_note(both, [va, vb]).sigs) == 2
    again = add_signatures(both, [a])  # a's line is replaced, not duplicated
    assert again.count("\u2014 a.example ") == 1
    assert len(open_note(again, [va, vb]).sigs) == 2
    with pytest.raises(NoteError):
        add_signatures("hello\n", [a])  # not a signed note
    with pytest.raises(NoteError):
        add_signatures(signed, [])


def _signed() -> tuple[str, Verifier]:
    return sign_note("hello\nworld\n", [_GOOD]), Verifier.from_vkey(_GOOD.vkey())


def _sig_b64(line: str) -> str:
    return line.rsplit(" ", 1)[1]


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(b64: str) -> str:
    """Same bytes, different spelling: set a padding bit of the last data character."""
    stripped = b64.rstrip("=")
    assert len(b64) - len(stripped) in (1, 2)
    last = _B64.index(stripped[-1])
    assert last & 1 == 0
    spelled = stripped[:-1] + _B64[last | 1] + b64[len(stripped) :]
    assert base64.b64decode(spelled) == base64.b64decode(b64)
    return spelled


def test_malformed_notes_raise_note_error() -> None:
    signed, v = _signed()
    text, sigline = signed.split("\n\n")
    b64 = _sig_b64(sigline.rstrip("\n"))
    raw = base64.b64decode(b64)
    cases = {
        "missing blank line": text + "\n" + sigline,
        "no signature block": text + "\n\n",
        "no final newline": signed[:-1],
        "bad base64": signed.replace(b64, b64[:-4] + "!!!="),
        "non-canonical base64": signed.replace(b64, _non_canonical(b64)),
        "unpadded base64": signed.replace(b64, b64.rstrip("=")),
        "empty base64": signed.replace(" " + b64, " "),
        "too-short signature": signed.replace(b64, base64.b64encode(raw[:4]).decode()),
        "hyphen instead of em dash": signed.replace("\u2014", "-"),
        "en dash": signed.replace("\u2014", "\u2013"),
        "no space after dash": signed.replace("\u2014 ", "\u2014"),
        "bad key name": signed.replace("example.com/k", "exa+mple"),
        "extra field": signed[:-1] + " extra\n",
        "control character": signed.replace("world", "wor\x07ld"),
        "carriage return": signed.replace("\n\n", "\r\n\n"),
        "trailing text": signed + "garbage",
        "blank line at end": signed + "\n",
    }
    for desc, bad in cases.items():
        with pytest.raises(NoteError) as exc:
            open_note(bad, [v])
        assert not isinstance(exc.value, SignatureError), desc
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(signed.encode() + b"\xff\n", [v])
    with pytest.raises(NoteError):
        open_note(None, [v])  # type: ignore[arg-type]


def test_signature_failures_raise_signature_error() -> None:
    signed, v = _signed()
    b64 = _sig_b64(signed.rstrip("\n"))
    raw = base64.b64decode(b64)
    with pytest.raises(SignatureError, match="invalid signature") as exc:
        open_note(signed.replace("world", "World"), [v])
    assert exc.value.key_name == "example.com/k"
    assert exc.value.key_id == _GOOD.key_id
    flipped = raw[:10] + bytes([raw[10] ^ 1]) + raw[11:]
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(signed.replace(b64, base64.b64encode(flipped).decode()), [v])
    # A wrong key ID makes the line unknown: nothing verifies.
    wrong_id = b"\x00\x00\x00\x00" + raw[4:]
    with pytest.raises(SignatureError, match="no verifiable"):
        open_note(signed.replace(b64, base64.b64encode(wrong_id).decode()), [v])
    # Same ID, other name: also unknown.
    with pytest.raises(SignatureError, match="no verifiable"):
        open_note(signed.replace("example.com/k", "example.com/j"), [v])
    # A known key with a too-short (but well-formed) signature is an invalid signature.
    short = base64.b64encode(raw[:40]).decode()
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(signed.replace(b64, short), [v])
    with pytest.raises(SignatureError, match="no verifiable"):
        open_note(signed, [])


def test_one_bad_line_by_a_known_key_rejects_the_note() -> None:
    signed, v = _signed()
    text, sigline = signed.split("\n\n")
    other = Signer("example.com/k", SEED_B)  # same name, other key: unknown to v
    forged = NoteSignature("example.com/k", _GOOD.key_id, other.sign(b"hello\nworld\n")).line()
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(text + "\n\n" + sigline + forged, [v])
    with pytest.raises(SignatureError, match="invalid signature"):
        open_note(text + "\n\n" + forged + sigline, [v])


def test_duplicates_and_unknown_keys_are_collapsed() -> None:
    signed, v = _signed()
    text, sigline = signed.split("\n\n")
    unknown = NoteSignature("x.example", b"\x01\x02\x03\x04", b"\x00" * 64).line()
    note = text + "\n\n" + sigline + sigline + unknown + unknown
    opened = open_note(note, [v])
    assert len(opened.sigs) == 1
    assert opened.unverified_sigs == (
        NoteSignature("x.example", b"\x01\x02\x03\x04", b"\x00" * 64),
    )


def test_signature_limit() -> None:
    signed, v = _signed()
    text, sigline = signed.split("\n\n")
    junk = NoteSignature("x.example", b"\x01\x02\x03\x04", b"\x00" * 64).line()
    ok = text + "\n\n" + sigline + junk * (MAX_SIGNATURES - 1)
    assert len(open_note(ok, [v]).sigs) == 1
    with pytest.raises(NoteError, match="more than"):
        open_note(ok + junk, [v])
    # The spec's floor: at least 16 signatures must be accepted.
    assert MAX_SIGNATURES >= 16


def test_ambiguous_verifiers_are_refused() -> None:
    signed, v = _signed()

    class Impostor:
        name = v.name
        key_id = v.key_id

        def verify(self, msg: bytes, sig: bytes) -> bool:
            return True

    with pytest.raises(NoteError, match="ambiguous"):
        open_note(signed, [v, Impostor()])
    assert open_note(signed, [v, Verifier.from_vkey(_GOOD.vkey())]).text == "hello\nworld\n"


# --- cosignatures -------------------------------------------------------------------


def _checkpoint_note() -> tuple[str, Signer]:
    log = Signer("example.com/log", SEED_A)
    return sign_note(CHECKPOINT_TEXT, [log]), log


def test_cosignature_format_matches_spec() -> None:
    note, _ = _checkpoint_note()
    witness = CosignatureSigner("witness.example/w1", SEED_B)
    cosigned = cosign_checkpoint(note, witness, 1679315147)
    assert cosigned.startswith(note)
    line = cosigned[len(note) :]
    assert line.startswith("\u2014 witness.example/w1 ")
    raw = base64.b64decode(line.rstrip("\n").rsplit(" ", 1)[1])
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == witness.key_id
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    # Independently: the Ed25519 signature is over "cosignature/v1\ntime T\n" + body.
    msg = b"cosignature/v1\ntime 1679315147\n" + CHECKPOINT_TEXT.encode()
    assert cosignature_message(CHECKPOINT_TEXT, 1679315147) == msg
    VerifyKey(witness.public_key).verify(msg, raw[12:])


def test_spec_example_timestamp_is_big_endian() -> None:
    # The cosigned checkpoint printed in c2sp.org/tlog-cosignature (time 1679315147).
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4UR"
        "YN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZ"
        "CB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    _, parsed = note_mod._split_note(example)
    assert cosignature_timestamp(parsed[1][1]) == 1679315147
    with pytest.raises(NoteError):
        cosignature_timestamp(parsed[0][1])


def test_cosign_and_verify_round_trip() -> None:
    note, log = _checkpoint_note()
    w1 = CosignatureSigner("witness.example/w1", SEED_B)
    w2 = CosignatureSigner.generate("witness.example/w2")
    v1 = CosignatureVerifier.from_vkey(w1.vkey())
    v2 = CosignatureVerifier.from_vkey(w2.vkey())
    cosigned = cosign_checkpoint(cosign_checkpoint(note, w1, 1_700_000_000), w2, 1_700_000_005)
    assert verify_cosignature(cosigned, v1) == 1_700_000_000
    assert verify_cosignature(cosigned, v2) == 1_700_000_005
    log_v = Verifier.from_vkey(log.vkey())
    # The log's verifier ignores the cosignatures; all three verify together.
    assert len(open_note(cosigned, [log_v]).unverified_sigs) == 2
    assert [s.name for s in open_note(cosigned, [log_v, v1, v2]).sigs] == [
        "example.com/log",
        "witness.example/w1",
        "witness.example/w2",
    ]
    # Re-cosigning replaces the witness's line.
    again = cosign_checkpoint(cosigned, w1, 1_700_000_100)
    assert again.count("witness.example/w1") == 1
    assert verify_cosignature(again, v1) == 1_700_000_100
    # No cosignature by this witness: SignatureError.
    with pytest.raises(SignatureError, match="no verifiable"):
        verify_cosignature(note, v1)


def test_tampered_cosignatures_fail() -> None:
    note, _ = _checkpoint_note()
    w = CosignatureSigner("witness.example/w1", SEED_B)
    v = CosignatureVerifier.from_vkey(w.vkey())
    cosigned = cosign_checkpoint(note, w, 1_700_000_000)
    line = cosigned[len(note) :].rstrip("\n")
    b64 = line.rsplit(" ", 1)[1]
    raw = base64.b64decode(b64)
    later = raw[:4] + (1_700_000_001).to_bytes(8, "big") + raw[12:]
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_cosignature(cosigned.replace(b64, base64.b64encode(later).decode()), v)
    huge = raw[:4] + (2**63).to_bytes(8, "big") + raw[12:]
    forged = cosigned.replace(b64, base64.b64encode(huge).decode())
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_cosignature(forged, v)
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_cosignature(cosigned.replace("\n5\n", "\n6\n"), v)
    # A plain Ed25519 signature by the witness key is not a cosignature.
    assert not v.verify(CHECKPOINT_TEXT.encode(), Signer(w.name, SEED_B).sign(b"x"))


def test_cosigner_keys() -> None:
    w = CosignatureSigner("witness.example/w1", SEED_B)
    assert base64.b64decode(w.vkey().split("+", 2)[2])[0] == 0x04
    assert isinstance(verifier_from_vkey(w.vkey()), CosignatureVerifier)
    assert CosignatureSigner.from_skey(w.skey()).key_id == w.key_id
    plain = Signer("witness.example/w1", SEED_B)
    # A plain Ed25519 key string may be reused for cosigning (transparency-dev/formats).
    assert CosignatureSigner.from_skey(plain.skey()).key_id == w.key_id
    assert CosignatureVerifier.from_vkey(plain.vkey()).key_id == w.key_id
    assert isinstance(verifier_from_vkey(plain.vkey()), Verifier)
    with pytest.raises(NoteError):
        Verifier.from_vkey(w.vkey())  # a cosigner key is not a note key
    with pytest.raises(NoteError):
        Signer.from_skey(w.skey())
    with pytest.raises(NoteError):
        CosignatureVerifier.from_vkey(w.vkey().replace(w.key_id.hex(), plain.key_id.hex()))


@pytest.mark.parametrize("ts", [-1, 2**63, 1.5, True, "1"])
def test_cosignature_timestamp_range(ts: object) -> None:
    note, _ = _checkpoint_note()
    with pytest.raises(NoteError):
        cosign_checkpoint(note, CosignatureSigner("w.example", SEED_B), ts)  # type: ignore[arg-type]


def test_cosign_refuses_non_checkpoints() -> None:
    with pytest.raises(NoteError, match="checkpoint"):
        cosign_checkpoint(sign_note("hello\n", [_GOOD]), CosignatureSigner("w", SEED_B), 1)
    with pytest.raises(NoteError):
        cosign_checkpoint("not a note\n", CosignatureSigner("w", SEED_B), 1)


# --- properties: random mutations never escape the error tree --------------------------

_ALPHABET = "abAB01+/=\n \u2014\u2013-.\x00\x07\r" + "é重"
_A_VERIFIER = Verifier.from_vkey(Signer("a.example", SEED_A).vkey())
_BASE_NOTE = add_signatures(
    sign_note("origin.example\n42\nline three\n", [Signer("a.example", SEED_A)]),
    [Signer("unknown.example", SEED_B)],
)
_BASE_TEXT = "origin.example\n42\nline three\n"


@st.composite
def mutated_notes(draw: st.DrawFn) -> str | bytes:
    s = _BASE_NOTE
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "dup", "bytes"]))
        pos = draw(st.integers(0, len(s)))
        if kind == "replace" and pos < len(s):
            s = s[:pos] + draw(st.sampled_from(_ALPHABET)) + s[pos + 1 :]
        elif kind == "insert":
            s = s[:pos] + draw(st.text(alphabet=_ALPHABET, min_size=1, max_size=4)) + s[pos:]
        elif kind == "delete":
            s = s[:pos] + s[pos + draw(st.integers(1, 8)) :]
        elif kind == "truncate":
            s = s[:pos]
        elif kind == "dup":
            s = s + s[pos:]
        elif s:
            raw = s.encode()
            i = draw(st.integers(0, len(raw) - 1))
            return raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1 :]
    return s


@PROPS
@given(mutated=mutated_notes())
def test_property_mutations_verify_identically_or_raise_note_error(mutated: str | bytes) -> None:
    try:
        opened = open_note(mutated, [_A_VERIFIER])
    except NoteError:
        return
    except LedgerError as exc:  # pragma: no cover - would be a bug
        pytest.fail(f"unexpected {type(exc).__name__}: {exc}")
    assert opened.text == _BASE_TEXT
    assert [s.name for s in opened.sigs] == ["a.example"]


@PROPS
@given(text=st.text(min_size=0, max_size=60))
def test_property_any_valid_text_round_trips(text: str) -> None:
    text = text + "\n"
    try:
        signed = sign_note(text, [_GOOD])
    except NoteError:
        bad = set(map(chr, range(32))) - {"\n"}
        valid_utf8 = True
        try:
            text.encode()
        except UnicodeEncodeError:
            valid_utf8 = False
        assert not valid_utf8 or any(c in bad for c in text)
        return
    assert open_note(signed, [Verifier.from_vkey(_GOOD.vkey())]).text == text
