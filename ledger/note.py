"""C2SP signed notes (Ed25519, type 0x01) and tlog cosignatures (cosignature/v1, type 0x04).

A signed note is UTF-8 text ending in a newline, a blank line, then one or more
signature lines ``— <key name> base64(4-byte key ID || signature)``
(c2sp.org/signed-note). Region keys sign checkpoints this way; witnesses add
timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature) to the same note.

Usage::

    from ledger.note import Signer, Verifier, sign_note, open_note

    signer = Signer.generate("cq.bashu.example/ledger")
    note = sign_note("hello\\n", [signer])
    opened = open_note(note, [Verifier.from_vkey(signer.vkey())])
    assert opened.text == "hello\\n"

    witness = CosignatureSigner.generate("sc.bashu.example/witness")
    cosigned = cosign_checkpoint(checkpoint_note, witness, timestamp=1_700_000_000)
    when = verify_cosignature(cosigned, CosignatureVerifier.from_vkey(witness.vkey()))

Rules enforced when opening (``open_note``), following the spec and Go's
golang.org/x/mod/sumdb/note:

* the note is valid UTF-8 without ASCII control characters other than newline;
* the text is everything up to and including the newline before the LAST blank
  line; every following line is a signature line; at most
  :data:`MAX_SIGNATURES` of them (the spec requires accepting at least 16);
* base64 must be canonical standard base64 (RFC 4648 §4, padded), so a
  signature line has exactly one spelling;
* a signature is attributed to a known key only if BOTH name and key ID match;
  others are returned as ``unverified_sigs`` (duplicates dropped) and ignored;
* every signature by a known key is verified, and one bad signature rejects the
  whole note (``SignatureError``), as does having no verified signature at all.

What this module does NOT do: no I/O, no clocks (cosignature timestamps are
passed in), no key storage, and it gives no meaning to the text; checkpoint
parsing is in ``ledger.checkpoint``. Errors: ``NoteError`` for malformed notes,
key strings and names; ``SignatureError`` (a ``NoteError``) for signature
failures. Nothing else escapes for hostile input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as _NaclCryptoError
from nacl.signing import SigningKey, VerifyKey

from ledger.ed25519 import detached_signer
from ledger.errors import NoteError, SignatureError

__all__ = [
    "COSIGNATURE_TYPE",
    "ED25519_TYPE",
    "MAX_SIGNATURES",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "Signer",
    "Verifier",
    "add_signatures",
    "cosign_checkpoint",
    "cosignature_message",
    "cosignature_timestamp",
    "decode_base64",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "sign_note",
    "verifier_from_vkey",
    "verify_cosignature",
]

ED25519_TYPE = 0x01
"""Signature type byte of plain Ed25519 note signatures."""

COSIGNATURE_TYPE = 0x04
"""Signature type byte of timestamped Ed25519 cosignatures (cosignature/v1)."""

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (Go's limit; the spec's floor is 16)."""

MAX_COSIGNATURE_TIMESTAMP = 2**63 - 1

_SIG_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
_COSIG_HEADER = "cosignature/v1\n"
_SEED_SIZE = 32


# --- helpers ---------------------------------------------------------------------


def decode_base64(text: str) -> bytes:
    """Decode canonical, padded standard base64 (RFC 4648 §4); ValueError otherwise.

    Non-canonical spellings (stray padding bits, missing padding, whitespace) are
    refused so that every signed value has exactly one textual form.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError(f"invalid base64: {exc}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def is_valid_key_name(name: object) -> bool:
    """Key names are non-empty, contain no '+', no whitespace and no control characters."""
    if not isinstance(name, str) or not name:
        return False
    if "+" in name or _CONTROL.search(name) or any(c.isspace() for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _require_name(name: object) -> str:
    if not is_valid_key_name(name):
        raise NoteError(f"invalid key name {name!r}")
    assert isinstance(name, str)
    return name


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], the 4-byte key ID."""
    data = name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key
    return hashlib.sha256(data).digest()[:4]


def _parse_hex_id(text: str) -> bytes:
    if not _HEX_ID.fullmatch(text):
        raise NoteError(f"key ID {text!r} is not 8 hex digits")
    return bytes.fromhex(text)


def _decode_key_material(text: str, what: str) -> tuple[int, bytes]:
    try:
        raw = decode_base64(text)
    except ValueError as exc:
        raise NoteError(f"{what}: {exc}") from None
    if len(raw) < 1:
        raise NoteError(f"{what}: empty key material")
    return raw[0], raw[1:]


def _parse_skey(skey: str) -> tuple[str, bytes, int, bytes]:
    """PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)> -> (name, id, type, seed)."""
    if not isinstance(skey, str):
        raise NoteError("signer key must be a string")
    # Names cannot contain '+', base64 can: split only the leading fields.
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("signer key is not PRIVATE+KEY+<name>+<id>+<key>")
    name = _require_name(parts[2])
    kid = _parse_hex_id(parts[3])
    sig_type, seed = _decode_key_material(parts[4], "signer key")
    if len(seed) != _SEED_SIZE:
        raise NoteError(f"signer key seed is {len(seed)} bytes, want {_SEED_SIZE}")
    return name, kid, sig_type, seed


def _parse_vkey(vkey: str) -> tuple[str, bytes, int, bytes]:
    """<name>+<hex id>+<base64(type || public key)> -> (name, id, type, public key)."""
    if not isinstance(vkey, str):
        raise NoteError("verifier key must be a string")
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key is not <name>+<id>+<key>")
    name = _require_name(parts[0])
    kid = _parse_hex_id(parts[1])
    sig_type, public_key = _decode_key_material(parts[2], "verifier key")
    if len(public_key) != 32:
        raise NoteError(f"verifier key is {len(public_key)} bytes, want 32")
    return name, kid, sig_type, public_key


def _seed(seed: object) -> bytes:
    if not isinstance(seed, bytes) or len(seed) != _SEED_SIZE:
        raise NoteError(f"an Ed25519 seed is {_SEED_SIZE} bytes")
    return seed


def _verify_key(public_key: object) -> VerifyKey:
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    try:
        return VerifyKey(public_key)
    except (_NaclCryptoError, ValueError, TypeError) as exc:
        raise NoteError(f"invalid Ed25519 public key: {exc}") from None


def _ed25519_verify(key: VerifyKey, msg: bytes, sig: bytes) -> bool:
    if len(sig) != 64:
        return False
    try:
        key.verify(msg, sig)
    except (BadSignatureError, _NaclCryptoError, ValueError, TypeError):
        return False
    return True


# --- keys ----------------------------------------------------------------------


class NoteSigner(Protocol):
    """Anything that can put a signature line on a note."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, msg: bytes) -> bytes: ...


class NoteVerifier(Protocol):
    """Anything that can check a signature line; matched by (name, key_id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, msg: bytes, sig: bytes) -> bool: ...


class _Ed25519Key:
    """Shared key handling for Signer and CosignatureSigner."""

    _TYPE = ED25519_TYPE
    __slots__ = ("_key", "_key_id", "_name", "_public_key", "_sign")

    def __init__(self, name: str, seed: bytes) -> None:
        self._name = _require_name(name)
        self._key = SigningKey(_seed(seed))
        self._sign = detached_signer(self._key)
        self._public_key = bytes(self._key.verify_key)
        self._key_id = key_id(self._name, self._TYPE, self._public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID (big-endian uint32 on the wire)."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex id>+<base64(type || public key)>``."""
        material = _b64(bytes([self._TYPE]) + self._public_key)
        return f"{self._name}+{self._key_id.hex()}+{material}"

    def skey(self) -> str:
        """The secret key string ``PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>``."""
        material = _b64(bytes([self._TYPE]) + bytes(self._key))
        return f"PRIVATE+KEY+{self._name}+{self._key_id.hex()}+{material}"

    def __repr__(self) -> str:
        # Never print the seed.
        return f"{type(self).__name__}({self._name!r}, key_id={self._key_id.hex()})"


class Signer(_Ed25519Key):
    """An Ed25519 note signer (signature type 0x01)."""

    __slots__ = ()

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new signer with a fresh random key."""
        return cls(name, bytes(SigningKey.generate()))

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+...``; the type must be 0x01 and the key ID must match."""
        name, kid, sig_type, seed = _parse_skey(skey)
        if sig_type != ED25519_TYPE:
            raise NoteError(f"signer key has type 0x{sig_type:02x}, want 0x01 (Ed25519)")
        signer = cls(name, seed)
        if signer.key_id != kid:
            raise NoteError("signer key ID does not match the key")
        return signer

    def sign(self, msg: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``msg``."""
        return self._sign(msg)


class _Ed25519Verifier:
    _TYPE = ED25519_TYPE
    __slots__ = ("_key", "_key_id", "_name", "_public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        self._name = _require_name(name)
        self._key = _verify_key(public_key)
        self._public_key = public_key
        self._key_id = key_id(self._name, self._TYPE, public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def vkey(self) -> str:
        material = _b64(bytes([self._TYPE]) + self._public_key)
        return f"{self._name}+{self._key_id.hex()}+{material}"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, _Ed25519Verifier)
            and (other._name, other._public_key) == (self._name, self._public_key)
        )

    def __hash__(self) -> int:
        return hash((type(self), self._name, self._public_key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey()!r})"


class Verifier(_Ed25519Verifier):
    """An Ed25519 note verifier (signature type 0x01)."""

    __slots__ = ()

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex id>+<base64(0x01 || key)>``; the key ID must match."""
        name, kid, sig_type, public_key = _parse_vkey(vkey)
        if sig_type != ED25519_TYPE:
            raise NoteError(f"verifier key has type 0x{sig_type:02x}, want 0x01 (Ed25519)")
        verifier = cls(name, public_key)
        if verifier.key_id != kid:
            raise NoteError("verifier key ID does not match the key")
        return verifier

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """True iff ``sig`` is a valid Ed25519 signature of ``msg``."""
        return _ed25519_verify(self._key, msg, sig)


# --- notes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, signature bytes (without the ID)."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line as it appears in a note, newline included."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text and the signatures verified / not checked (unknown keys)."""

    text: str
    sigs: tuple[NoteSignature, ...]
    unverified_sigs: tuple[NoteSignature, ...] = ()


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise NoteError("note text must be a str")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("note text is not valid UTF-8") from None
    if _CONTROL.search(text):
        raise NoteError("note text contains control characters")
    return text


def _split_note(note: object) -> tuple[str, list[tuple[str, NoteSignature]]]:
    """Split a signed note into its text and (line, signature) pairs, verifying nothing."""
    if isinstance(note, bytes | bytearray):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise NoteError("note must be str or bytes")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("note is not valid UTF-8") from None
    if _CONTROL.search(note):
        raise NoteError("note contains control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("signature block is empty or does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    parsed: list[tuple[str, NoteSignature]] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("signature line does not start with an em dash and space")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not b64 or not is_valid_key_name(name):
            raise NoteError("malformed signature line")
        try:
            raw = decode_base64(b64)
        except ValueError as exc:
            raise NoteError(f"signature of {name!r}: {exc}") from None
        if len(raw) < 5:
            raise NoteError(f"signature of {name!r} is too short")
        parsed.append((line, NoteSignature(name, raw[:4], raw[4:])))
    return text, parsed


def _known_keys(verifiers: Sequence[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        slot = (v.name, v.key_id)
        other = known.get(slot)
        if other is not None and other != v:
            # Two different keys claim the same name and ID: we could not tell
            # which one a signature line means, so refuse rather than guess.
            raise NoteError(f"ambiguous verifiers for {v.name}+{v.key_id.hex()}")
        known[slot] = v
    return known


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> Note:
    """Parse a signed note and verify it against the known keys.

    Raises NoteError if malformed, SignatureError if a known key's signature is
    invalid or if no known key signed it. Signatures by unknown keys are returned
    unchecked in ``unverified_sigs``; never trust the text because of them.
    """
    text, parsed = _split_note(note)
    known = _known_keys(verifiers)
    msg = text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    seen_lines: set[str] = set()
    for line, sig in parsed:
        slot = (sig.name, sig.key_id)
        v = known.get(slot)
        if v is None:
            if line not in seen_lines:
                seen_lines.add(line)
                unverified.append(sig)
            continue
        # Verify every line by a known key, repeated ones too: one bad line means
        # someone tampered with the note, whatever the other lines say.
        if not v.verify(msg, sig.signature):
            raise SignatureError("invalid signature", sig.name, sig.key_id)
        if slot not in seen:
            seen.add(slot)
            verified.append(sig)
    if not verified:
        raise SignatureError("no verifiable signatures")
    return Note(text, tuple(verified), tuple(unverified))


def _signature_lines(text: str, signers: Sequence[NoteSigner]) -> dict[tuple[str, bytes], str]:
    msg = text.encode("utf-8")
    lines: dict[tuple[str, bytes], str] = {}
    for s in signers:
        name = _require_name(s.name)
        slot = (name, s.key_id)
        if len(s.key_id) != 4:
            raise NoteError("a key ID is 4 bytes")
        if slot in lines:
            raise NoteError(f"two signers share the key {name}+{s.key_id.hex()}")
        lines[slot] = NoteSignature(name, s.key_id, s.sign(msg)).line()
    return lines


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (UTF-8, ends with a newline, no control characters) with every signer.

    Returns the full note text: the text, a blank line, one line per signer.
    """
    _check_text(text)
    if not signers:
        raise NoteError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(_signature_lines(text, signers).values())


def _with_lines(
    text: str, parsed: list[tuple[str, NoteSignature]], new: dict[tuple[str, bytes], str]
) -> str:
    # Replace a key's old line rather than stacking a second one: re-signing or
    # re-cosigning the same note updates the signature in place.
    kept = [line + "\n" for line, sig in parsed if (sig.name, sig.key_id) not in new]
    lines = kept + list(new.values())
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(lines)


def add_signatures(note: str | bytes, signers: Sequence[NoteSigner]) -> str:
    """Add the signers' signatures to an existing signed note, after the existing ones.

    An existing line by the same key (name and ID) is replaced. The existing
    signatures are NOT verified here; open the note first if that matters.
    """
    text, parsed = _split_note(note)
    if not signers:
        raise NoteError("no signers given")
    return _with_lines(text, parsed, _signature_lines(text, signers))


# --- cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1) ----------


def _check_timestamp(timestamp: object) -> int:
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int)
        or not 0 <= timestamp <= MAX_COSIGNATURE_TIMESTAMP
    ):
        raise NoteError(f"cosignature timestamp {timestamp!r} is not in [0, 2^63-1]")
    return timestamp


def cosignature_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: header line, time line, then the checkpoint body."""
    ts = _check_timestamp(timestamp)
    return f"{_COSIG_HEADER}time {ts}\n{body}".encode()


class CosignatureSigner(_Ed25519Key):
    """A witness key producing timestamped Ed25519 cosignatures (type 0x04).

    The key ID uses type byte 0x04; the signature on the note line is the 8-byte
    big-endian timestamp followed by the 64-byte Ed25519 signature of
    :func:`cosignature_message`. It deliberately has no plain ``sign(msg)``: a
    cosignature always commits to a time, which the caller passes in.
    """

    _TYPE = COSIGNATURE_TYPE
    __slots__ = ()

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, bytes(SigningKey.generate()))

    @classmethod
    def from_skey(cls, skey: str) -> CosignatureSigner:
        """Parse an skey of type 0x04, or a plain Ed25519 (0x01) skey reused for cosigning.

        The key ID in the string is checked against the type it declares.
        """
        name, kid, sig_type, seed = _parse_skey(skey)
        if sig_type not in (ED25519_TYPE, COSIGNATURE_TYPE):
            raise NoteError(f"signer key has type 0x{sig_type:02x}, want 0x04 or 0x01")
        signer = cls(name, seed)
        if key_id(name, sig_type, signer.public_key) != kid:
            raise NoteError("signer key ID does not match the key")
        return signer

    def sign_cosignature(self, body: str, timestamp: int) -> bytes:
        """``timestamp (8 bytes, big-endian) || Ed25519 signature`` over the checkpoint body."""
        msg = cosignature_message(body, timestamp)
        return timestamp.to_bytes(8, "big") + self._sign(msg)


class CosignatureVerifier(_Ed25519Verifier):
    """Checks cosignature/v1 lines; usable with :func:`open_note` like any NoteVerifier."""

    _TYPE = COSIGNATURE_TYPE
    __slots__ = ()

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``<name>+<hex id>+<base64(0x04 || key)>`` (the spec's encoding).

        A plain Ed25519 vkey (type 0x01) of the same key is accepted too, as
        transparency-dev/formats does. The key ID in the string is checked against
        the type it declares; the cosignature key ID always uses 0x04.
        """
        name, kid, sig_type, public_key = _parse_vkey(vkey)
        if sig_type not in (ED25519_TYPE, COSIGNATURE_TYPE):
            raise NoteError(f"verifier key has type 0x{sig_type:02x}, want 0x04 or 0x01")
        if key_id(name, sig_type, public_key) != kid:
            raise NoteError("verifier key ID does not match the key")
        return cls(name, public_key)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """``msg`` is the note text (checkpoint body); ``sig`` is timestamp || signature."""
        if len(sig) != 72:
            return False
        timestamp = int.from_bytes(sig[:8], "big")
        if timestamp > MAX_COSIGNATURE_TIMESTAMP:
            return False
        signed = f"{_COSIG_HEADER}time {timestamp}\n".encode() + msg
        return _ed25519_verify(self._key, signed, sig[8:])


def verifier_from_vkey(vkey: str) -> Verifier | CosignatureVerifier:
    """Parse a vkey of either supported type (0x01 note key, 0x04 cosigner key)."""
    _, _, sig_type, _ = _parse_vkey(vkey)
    if sig_type == COSIGNATURE_TYPE:
        return CosignatureVerifier.from_vkey(vkey)
    return Verifier.from_vkey(vkey)


def cosignature_timestamp(sig: NoteSignature) -> int:
    """The timestamp carried by a cosignature/v1 signature line."""
    if len(sig.signature) != 72:
        raise NoteError("not a cosignature/v1 signature (want 72 bytes)")
    return int.from_bytes(sig.signature[:8], "big")


def cosign_checkpoint(note: str | bytes, signer: CosignatureSigner, timestamp: int) -> str:
    """Add ``signer``'s cosignature over the note's text (the checkpoint body) to the note.

    A previous cosignature by the same key is replaced. This does NOT check the
    log's signature or the checkpoint's consistency: a witness must have done
    both (``open_checkpoint`` and a consistency proof) before calling it.
    """
    text, parsed = _split_note(note)
    if text.count("\n") < 3:
        # Origin, size and root hash at least: refuse to cosign anything else.
        raise NoteError("a cosigned note must be a checkpoint (three or more lines)")
    sig = signer.sign_cosignature(text, timestamp)
    line = NoteSignature(signer.name, signer.key_id, sig).line()
    return _with_lines(text, parsed, {(signer.name, signer.key_id): line})


def verify_cosignature(note: str | bytes, verifier: CosignatureVerifier) -> int:
    """Verify ``verifier``'s cosignature on the note; return its timestamp.

    Raises SignatureError if the note carries no valid cosignature by this key
    (other signatures are ignored), NoteError if the note is malformed.
    """
    opened = open_note(note, [verifier])
    return cosignature_timestamp(opened.sigs[0])
