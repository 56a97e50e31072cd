"""Tests for ledger.tlogproof: c2sp.org/tlog-proof@v1 round trips and corrupted twins."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.errors import (
    CheckpointError,
    InvalidProofError,
    LedgerError,
    NoteError,
    SignatureError,
    TlogProofError,
)
from ledger.merkle import inclusion_proof, leaf_hash, root_hash
from ledger.note import (
    CosignatureSigner,
    CosignatureVerifier,
    Signer,
    Verifier,
    cosign_checkpoint,
    verify_cosignature,
)
from ledger.tlogproof import (
    HEADER,
    TlogProof,
    format_tlog_proof,
    parse_tlog_proof,
    verify_tlog_proof,
)

ORIGIN = "sc.bashu.example/ledger"
LOG = Signer(ORIGIN, bytes(range(32)))
LOG_V = Verifier.from_vkey(LOG.vkey())
ENTRIES = [f"usage record {i}".encode() for i in range(13)]
CP = Checkpoint(ORIGIN, len(ENTRIES), root_hash(ENTRIES))
CP_NOTE = sign_checkpoint(CP, LOG)


def _proof_text(index: int, extra: bytes | None = None, note: str = CP_NOTE) -> str:
    return format_tlog_proof(index, inclusion_proof(ENTRIES, index), note, extra)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_round_trip_every_entry() -> None:
    for i, entry in enumerate(ENTRIES):
        text = _proof_text(i)
        proof = parse_tlog_proof(text)
        assert proof == TlogProof(i, tuple(inclusion_proof(ENTRIES, i)), CP_NOTE)
        assert proof.format() == text
        assert verify_tlog_proof(proof, LOG_V, entry=entry) == CP
        assert verify_tlog_proof(text, LOG_V, leaf_hash=leaf_hash(entry)) == CP
        assert verify_tlog_proof(text.encode(), LOG_V, entry=entry, origin=ORIGIN) == CP


def test_layout_follows_the_spec() -> None:
    proof = inclusion_proof(ENTRIES, 5)
    text = _proof_text(5, extra=b"receipt context")
    want = (
        f"{HEADER}\nextra {_b64(b'receipt context')}\nindex 5\n"
        + "".join(f"{_b64(h)}\n" for h in proof)
        + "\n"
        + CP_NOTE
    )
    assert text == want
    parsed = parse_tlog_proof(text)
    assert parsed.extra == b"receipt context"
    assert parse_tlog_proof(_proof_text(5, extra=b"")).extra == b""
    # A single-entry log has an empty inclusion proof: index line, then the blank line.
    one = sign_checkpoint(Checkpoint(ORIGIN, 1, root_hash([b"only"])), LOG)
    single = format_tlog_proof(0, [], one)
    assert single == f"{HEADER}\nindex 0\n\n{one}"
    assert verify_tlog_proof(single, LOG_V, entry=b"only").size == 1


def test_parses_the_spec_example() -> None:
    # The example printed in c2sp.org/tlog-proof (signatures elided there with [...]).
    example = (
        "c2sp.org/tlog-proof@v1\n"
        "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
        "index 73894\n"
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
        "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
        "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
        "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
        "\n"
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"
        "\u2014 example.com/fancylog hI2DJw[...]1roloI=\n"
    )
    proof = parse_tlog_proof(example)
    assert proof.index == 73894
    assert len(proof.proof) == 5
    assert proof.extra is not None
    assert proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.checkpoint.startswith("example.com/fancylog\n109482\n")
    assert proof.format() == example
    # Its signatures are elided, so it cannot verify: a note error, not a crash.
    with pytest.raises(NoteError):
        verify_tlog_proof(proof, Verifier.from_vkey(LOG.vkey()), leaf_hash=b"\x00" * 32)


def test_witness_cosignatures_travel_with_the_proof() -> None:
    witness = CosignatureSigner("witness.example/w1", b"w" * 32)
    cosigned = cosign_checkpoint(CP_NOTE, witness, 1_700_000_000)
    proof = parse_tlog_proof(_proof_text(3, note=cosigned))
    assert verify_tlog_proof(proof, LOG_V, entry=ENTRIES[3]) == CP
    v = CosignatureVerifier.from_vkey(witness.vkey())
    assert verify_cosignature(proof.checkpoint, v) == 1_700_000_000


def _replace_line(text: str, lineno: int, new: str | None) -> str:
    lines = text.split("\n")
    if new is None:
        del lines[lineno]
    else:
        lines[lineno] = new
    return "\n".join(lines)


def test_corrupted_twins_fail_with_ledger_errors() -> None:
    index = 6
    text = _proof_text(index)
    entry = ENTRIES[index]
    proof = inclusion_proof(ENTRIES, index)
    first_hash_line = 2  # header, index, then hashes
    other_log = Signer(ORIGIN, b"o" * 32)
    twins: dict[str, tuple[str, type[LedgerError]]] = {
        "index + 1": (_replace_line(text, 1, f"index {index + 1}"), InvalidProofError),
        "index past the tree": (_replace_line(text, 1, f"index {len(ENTRIES)}"), InvalidProofError),
        "dropped hash": (_replace_line(text, first_hash_line, None), InvalidProofError),
        "extra hash": (
            _replace_line(text, first_hash_line, f"{_b64(b'x' * 32)}\n{_b64(proof[0])}"),
            InvalidProofError,
        ),
        "swapped hashes": (
            _replace_line(
                _replace_line(text, first_hash_line, _b64(proof[1])),
                first_hash_line + 1,
                _b64(proof[0]),
            ),
            InvalidProofError,
        ),
        "checkpoint size changed": (text.replace("\n13\n", "\n14\n"), SignatureError),
        "checkpoint re-signed by another key": (
            _proof_text(index, note=sign_checkpoint(CP, other_log)),
            SignatureError,
        ),
        "checkpoint for another tree": (
            _proof_text(index, note=sign_checkpoint(Checkpoint(ORIGIN, 13, b"\x01" * 32), LOG)),
            InvalidProofError,
        ),
        "checkpoint of another origin": (
            _proof_text(
                index, note=sign_checkpoint(Checkpoint("x.example", 13, CP.root_hash), LOG)
            ),
            CheckpointError,
        ),
    }
    for i, h in enumerate(proof):
        bad = bytearray(h)
        bad[i % 32] ^= 0x80
        twins[f"flipped hash {i}"] = (
            _replace_line(text, first_hash_line + i, _b64(bytes(bad))),
            InvalidProofError,
        )
    for desc, (bad_text, error) in twins.items():
        with pytest.raises(error):
            verify_tlog_proof(bad_text, LOG_V, entry=entry)
        assert issubclass(error, LedgerError), desc
    with pytest.raises(InvalidProofError):
        verify_tlog_proof(text, LOG_V, entry=entry + b"!")
    with pytest.raises(InvalidProofError):
        verify_tlog_proof(text, LOG_V, leaf_hash=leaf_hash(ENTRIES[index + 1]))
    with pytest.raises(SignatureError):
        verify_tlog_proof(text, Verifier.from_vkey(other_log.vkey()), entry=entry)
    with pytest.raises(CheckpointError):
        verify_tlog_proof(text, LOG_V, entry=entry, origin="cq.bashu.example/ledger")
    # The extra data is not authenticated (the spec says never to trust it): changing
    # it leaves the proof valid, which is why callers must not rely on it.
    changed_extra = _proof_text(index, extra=b"anything")
    assert verify_tlog_proof(changed_extra, LOG_V, entry=entry) == CP


def test_exactly_one_of_entry_or_leaf_hash() -> None:
    text = _proof_text(0)
    with pytest.raises(TypeError):
        verify_tlog_proof(text, LOG_V)
    with pytest.raises(TypeError):
        verify_tlog_proof(text, LOG_V, entry=ENTRIES[0], leaf_hash=leaf_hash(ENTRIES[0]))


_GOOD = _proof_text(4, extra=b"ctx")


@pytest.mark.parametrize(
    ("desc", "text"),
    [
        ("empty", ""),
        ("header only", HEADER),
        ("wrong header", _GOOD.replace(HEADER, "c2sp.org/tlog-proof@v2")),
        ("header with trailing space", _GOOD.replace(HEADER, HEADER + " ")),
        ("missing index", _replace_line(_GOOD, 2, None)),
        ("extra without space", _replace_line(_GOOD, 1, "extra")),
        ("extra bad base64", _replace_line(_GOOD, 1, "extra !!!")),
        ("extra unpadded", _replace_line(_GOOD, 1, "extra YWJjZA")),
        ("index leading zero", _replace_line(_GOOD, 2, "index 04")),
        ("index negative", _replace_line(_GOOD, 2, "index -4")),
        ("index plus", _replace_line(_GOOD, 2, "index +4")),
        ("index empty", _replace_line(_GOOD, 2, "index ")),
        ("index hex", _replace_line(_GOOD, 2, "index 0x4")),
        ("index too large", _replace_line(_GOOD, 2, f"index {2**64}")),
        ("index arabic digit", _replace_line(_GOOD, 2, "index \u0664")),
        ("index twice", _replace_line(_GOOD, 3, "index 4")),
        ("uppercase INDEX", _replace_line(_GOOD, 2, "INDEX 4")),
        ("hash bad base64", _replace_line(_GOOD, 3, "not base64!")),
        ("hash 31 bytes", _replace_line(_GOOD, 3, _b64(b"x" * 31))),
        ("hash 33 bytes", _replace_line(_GOOD, 3, _b64(b"x" * 33))),
        ("hash hex", _replace_line(_GOOD, 3, (b"x" * 32).hex())),
        ("hash with space", _replace_line(_GOOD, 3, " " + _b64(b"x" * 32))),
        ("crlf", _GOOD.replace("\n", "\r\n", 3)),
        ("no blank line", _GOOD.replace("\n\n", "\n", 1)),
        ("no checkpoint", _GOOD.split("\n\n")[0] + "\n\n"),
        ("blank line before checkpoint twice", _GOOD.replace("\n\n", "\n\n\n", 1)),
        ("too many hashes", _replace_line(_GOOD, 3, "\n".join([_b64(b"x" * 32)] * 65))),
    ],
)
def test_malformed_text_raises_tlog_proof_error(desc: str, text: str) -> None:
    with pytest.raises(TlogProofError):
        parse_tlog_proof(text)
    with pytest.raises(LedgerError):
        verify_tlog_proof(text, LOG_V, entry=ENTRIES[4])


def test_non_utf8_and_wrong_types() -> None:
    with pytest.raises(TlogProofError, match="UTF-8"):
        parse_tlog_proof(_GOOD.encode() + b"\xff")
    with pytest.raises(TlogProofError):
        parse_tlog_proof(None)  # type: ignore[arg-type]
    err = TlogProofError("x", 3)
    assert "line 3" in str(err)


@pytest.mark.parametrize(
    "args",
    [
        (-1, [], CP_NOTE),
        (2**64, [], CP_NOTE),
        (True, [], CP_NOTE),
        (0, [b"short"], CP_NOTE),
        (0, ["x" * 32], CP_NOTE),
        (0, b"x" * 32, CP_NOTE),
        (0, [], "no final newline"),
        (0, [], ""),
        (0, [], "\nstarts blank\n"),
        (0, [b"x" * 32] * 65, CP_NOTE),
    ],
)
def test_format_rejects_invalid_values(args: tuple[object, ...]) -> None:
    with pytest.raises(TlogProofError):
        format_tlog_proof(*args)  # type: ignore[arg-type]
    with pytest.raises(TlogProofError):
        format_tlog_proof(0, [], CP_NOTE, "text")  # type: ignore[arg-type]


@st.composite
def mutated_proofs(draw: st.DrawFn) -> tuple[int, str]:
    index = draw(st.integers(0, len(ENTRIES) - 1))
    lines = _proof_text(index, extra=b"ctx").split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "replace", "char"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "replace":
            lines[i] = draw(st.sampled_from(["", "index 1", _b64(b"\x00" * 32), "x", "extra "]))
        elif lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + draw(st.sampled_from("A/+=0 \u2014")) + lines[i][j + 1 :]
        if not lines:
            lines = [""]
    return index, "\n".join(lines)


@settings(database=None, deadline=None)
@given(case=mutated_proofs())
def test_property_mutated_proofs_verify_correctly_or_raise_ledger_errors(
    case: tuple[int, str],
) -> None:
    index, text = case
    try:
        cp = verify_tlog_proof(text, LOG_V, entry=ENTRIES[index])
    except LedgerError:
        return
    # Anything that still verifies must prove the same entry against the same tree.
    assert cp == CP
    assert parse_tlog_proof(text).index == index
