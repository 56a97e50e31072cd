"""Peer authentication: node-to-node calls signed with the calling region's key.

Every call one node makes to another carries the metadata the federation API
defines (``proto/bashu/federation/v1/federation.proto``): the calling region, a
timestamp, a random nonce and an Ed25519 signature by the region key over::

    bashu-federation/v1\\n{method}\\n{caller}\\n{callee}\\n{timestamp}\\n{nonce}\\n{body hash}\\n

where the body hash is the hex SHA-256 of the request's deterministic serialization.
The callee checks, in this order: the metadata is there (``PEER_AUTH_MISSING``), the
region is a configured peer (``PEER_UNKNOWN``), the signature verifies with one of
its configured keys (``PEER_SIGNATURE_INVALID``), the timestamp is within ±300 s of
its own clock (``PEER_TIMESTAMP_SKEW``), and the nonce was never seen from that
region (``PEER_NONCE_REPLAYED``). The signature comes before the clock and the nonce
so that nothing unauthenticated reaches the database or learns anything but "no".

Usage::

    meta = signed_metadata(signer, "/bashu.federation.v1.FederationService/GetPeerInfo",
                           "cq", "sc", request_bytes)           # the caller
    peer = authenticator.authenticate(method, dict(meta), request_bytes)   # the callee
    peer.region                                                  # "cq"

A nonce is remembered until its timestamp has left the window: a replay after that
is refused by the clock check, so the store never grows beyond one window of calls.
:class:`SqlNonceStore` keeps nonces in the node's database, so every process sharing
it refuses a nonce any of them has seen.

What this module does NOT do: it does not decide which methods peers may call (that
is :mod:`services.permissions`) and it opens no network connections (see
:mod:`services.peers`).
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.protobuf.message import DecodeError, Message
from opentelemetry import propagate
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from ledger.note import Signer, Verifier
from services.db import session_scope
from services.errors import UnauthenticatedError
from services.models import FederationNonce

__all__ = [
    "HEADER_KEY_ID",
    "HEADER_NONCE",
    "HEADER_REGION",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SCHEME",
    "WINDOW_S",
    "InMemoryNonceStore",
    "NonceStore",
    "Peer",
    "PeerAuthenticator",
    "PeerSigningInterceptor",
    "SqlNonceStore",
    "body_hash",
    "has_peer_metadata",
    "new_nonce",
    "signed_metadata",
    "signing_string",
]

SCHEME = "bashu-federation/v1"
WINDOW_S = 300
HEADER_REGION = "x-bashu-region"
HEADER_TIMESTAMP = "x-bashu-timestamp"
HEADER_NONCE = "x-bashu-nonce"
HEADER_SIGNATURE = "x-bashu-signature"
HEADER_KEY_ID = "x-bashu-key-id"
_REQUIRED = (HEADER_REGION, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{22}")
_TIMESTAMP_RE = re.compile(r"0|[1-9][0-9]{0,18}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True)
class Peer:
    """An authenticated calling region and the key id its request was signed with."""

    region: str
    key_id: str


def body_hash(body: bytes) -> str:
    """Lower-case hex SHA-256 of the request bytes."""
    return hashlib.sha256(body).hexdigest()


def signing_string(
    method: str, caller: str, callee: str, timestamp: str, nonce: str, digest: str
) -> bytes:
    """The exact bytes a peer signs (see the module docstring)."""
    return f"{SCHEME}\n{method}\n{caller}\n{callee}\n{timestamp}\n{nonce}\n{digest}\n".encode()


def new_nonce() -> str:
    """16 random bytes, unpadded base64url (22 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def signed_metadata(
    signer: Signer,
    method: str,
    caller: str,
    callee: str,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> list[tuple[str, str]]:
    """The x-bashu-* metadata that authenticates one call as region ``caller``."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or new_nonce()
    message = signing_string(method, caller, callee, timestamp, nonce, body_hash(body))
    return [
        (HEADER_REGION, caller),
        (HEADER_TIMESTAMP, timestamp),
        (HEADER_NONCE, nonce),
        (HEADER_SIGNATURE, base64.b64encode(signer.sign(message)).decode("ascii")),
        (HEADER_KEY_ID, signer.key_id.hex()),
    ]


def has_peer_metadata(metadata: Mapping[str, str | bytes]) -> bool:
    """Whether the caller attempts peer authentication at all."""
    return any(h in metadata for h in _REQUIRED)


# --- nonces ---------------------------------------------------------------------------


class NonceStore(Protocol):
    """Remembers (region, nonce) pairs until ``expires_at`` (Unix seconds)."""

    def use(self, region: str, nonce: str, expires_at: int) -> bool:
        """Record the nonce; False if it was already recorded (a replay)."""
        ...


class InMemoryNonceStore:
    """A single-process store for tests and tools; the node uses :class:`SqlNonceStore`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def use(self, region: str, nonce: str, expires_at: int) -> bool:
        with self._lock:
            now = self._clock()
            self._seen = {k: v for k, v in self._seen.items() if v >= now}
            if (region, nonce) in self._seen:
                return False
            self._seen[(region, nonce)] = expires_at
            return True


class SqlNonceStore:
    """Nonces in the ``federation_nonces`` table, shared by every process of a node.

    The primary key (region, nonce) makes the check atomic across processes: of two
    concurrent uses, the second insert fails. Expired rows are deleted at most every
    ``prune_every_s`` seconds, in the same transaction as an insert.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        prune_every_s: float = 60.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._prune_every_s = prune_every_s
        self._next_prune = 0.0
        self._lock = threading.Lock()

    def _prune_due(self, now: float) -> bool:
        with self._lock:
            if now < self._next_prune:
                return False
            self._next_prune = now + self._prune_every_s
            return True

    def use(self, region: str, nonce: str, expires_at: int) -> bool:
        now = self._clock()
        try:
            with session_scope(self._engine) as session:
                if self._prune_due(now):
                    session.execute(
                        delete(FederationNonce).where(FederationNonce.expires_at < int(now) - 1)
                    )
                session.add(FederationNonce(region=region, nonce=nonce, expires_at=expires_at))
                session.flush()
        except IntegrityError:
            return False
        return True

    def prune(self) -> int:
        """Delete every expired nonce now; return how many."""
        now = int(self._clock())
        with session_scope(self._engine) as session:
            result = session.execute(
                delete(FederationNonce).where(FederationNonce.expires_at < now - 1)
            )
            return int(getattr(result, "rowcount", 0) or 0)


# --- the callee -----------------------------------------------------------------------


def _text(value: str | bytes | None) -> str | None:
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _refuse(reason: str, message: str) -> UnauthenticatedError:
    return UnauthenticatedError(message, reason=reason)


class PeerAuthenticator:
    """Verifies the x-bashu-* metadata of incoming peer calls (see the module docstring)."""

    def __init__(
        self,
        region: str,
        peer_keys: Mapping[str, Sequence[Verifier]],
        nonces: NonceStore,
        *,
        clock: Callable[[], float] = time.time,
        window_s: int = WINDOW_S,
    ) -> None:
        self._region = region
        self._keys = {r: tuple(v) for r, v in peer_keys.items()}
        self._nonces = nonces
        self._clock = clock
        self._window_s = window_s

    @classmethod
    def from_vkeys(
        cls,
        region: str,
        peer_vkeys: Mapping[str, Sequence[str]],
        nonces: NonceStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> PeerAuthenticator:
        keys = {r: [Verifier.from_vkey(k) for k in ks] for r, ks in peer_vkeys.items()}
        return cls(region, keys, nonces, clock=clock)

    def authenticate(
        self,
        method: str,
        metadata: Mapping[str, str | bytes],
        body: bytes,
        parse: Callable[[bytes], Any] | None = None,
    ) -> Peer:
        """The calling region, or UnauthenticatedError with the published reason.

        ``parse`` (the method's request deserializer) is used only when the raw bytes
        do not match the signature: a sender whose serializer was not deterministic
        signed the canonical bytes, which re-serializing the parsed request recovers.
        """
        values = {h: _text(metadata.get(h)) for h in (*_REQUIRED, HEADER_KEY_ID)}
        missing = [h for h in _REQUIRED if not values[h]]
        if missing:
            raise _refuse("PEER_AUTH_MISSING", f"peer call lacks {', '.join(missing)}")
        region, timestamp, nonce, signature_b64 = (values[h] or "" for h in _REQUIRED)
        candidates = self._keys.get(region)
        if not candidates:
            raise _refuse("PEER_UNKNOWN", f"region {region!r} is not a configured peer")
        key_id = values[HEADER_KEY_ID]
        if key_id:
            if not _KEY_ID_RE.fullmatch(key_id):
                raise _refuse("PEER_SIGNATURE_INVALID", "x-bashu-key-id is not 8 hex digits")
            candidates = tuple(v for v in candidates if v.key_id.hex() == key_id)
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise _refuse("PEER_SIGNATURE_INVALID", "x-bashu-signature is not base64") from None
        verifier = self._verify(method, region, timestamp, nonce, body, signature, candidates)
        if verifier is None and parse is not None:
            canonical = _canonical(body, parse)
            if canonical is not None and canonical != body:
                verifier = self._verify(
                    method, region, timestamp, nonce, canonical, signature, candidates
                )
        if verifier is None:
            raise _refuse("PEER_SIGNATURE_INVALID", f"signature of {region!r} does not verify")
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            raise _refuse("PEER_TIMESTAMP_SKEW", "x-bashu-timestamp is not decimal seconds")
        signed_at = int(timestamp)
        now = self._clock()
        if abs(now - signed_at) > self._window_s:
            raise _refuse(
                "PEER_TIMESTAMP_SKEW",
                f"timestamp {signed_at} is {int(now - signed_at)} s from this node's clock "
                f"(window ±{self._window_s} s)",
            )
        if not _NONCE_RE.fullmatch(nonce):
            raise _refuse("PEER_AUTH_MISSING", "x-bashu-nonce is not 16 bytes of base64url")
        if not self._nonces.use(region, nonce, signed_at + self._window_s):
            raise _refuse("PEER_NONCE_REPLAYED", f"nonce already used by {region!r}")
        return Peer(region=region, key_id=verifier.key_id.hex())

    def _verify(
        self,
        method: str,
        region: str,
        timestamp: str,
        nonce: str,
        body: bytes,
        signature: bytes,
        candidates: Sequence[Verifier],
    ) -> Verifier | None:
        message = signing_string(method, region, self._region, timestamp, nonce, body_hash(body))
        return next((v for v in candidates if v.verify(message, signature)), None)


def _canonical(body: bytes, parse: Callable[[bytes], Any]) -> bytes | None:
    try:
        message = parse(body)
    except (DecodeError, ValueError, TypeError):
        return None
    if not isinstance(message, Message):
        return None
    return message.SerializeToString(deterministic=True)


# --- the caller -----------------------------------------------------------------------


class _ClientCallDetails(
    collections.namedtuple(
        "_ClientCallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class PeerSigningInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Signs every call on a channel to one peer, and carries the trace context.

    The body hash is over the request's deterministic serialization; pair this
    interceptor with stubs that send exactly those bytes (:func:`services.peers.peer_stub`).
    """

    def __init__(
        self,
        signer: Signer,
        caller: str,
        callee: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._caller = caller
        self._callee = callee
        self._clock = clock

    def _details(self, details: grpc.ClientCallDetails, request: Any) -> grpc.ClientCallDetails:
        body = b""
        if isinstance(request, Message):
            body = request.SerializeToString(deterministic=True)
        # Typed str, but some gRPC versions hand the method over as bytes.
        raw_method: str | bytes = details.method
        method = raw_method.decode() if isinstance(raw_method, bytes) else raw_method
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        auth = signed_metadata(
            self._signer, method, self._caller, self._callee, body, now=self._clock()
        )
        metadata = [*(details.metadata or ()), *auth, *carrier.items()]
        return _ClientCallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details, request), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details, request), request)
