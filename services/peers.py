"""Connections to the peer regions: one signed gRPC channel per configured peer.

Every call on these channels is signed with this node's region key
(:class:`~services.peer_auth.PeerSigningInterceptor`) and carries the trace context,
so the peer authenticates the calling region and continues the trace::

    peers = PeerChannels("sc", signer, config.peers)
    info = peers.federation("cq").GetPeerInfo(federation_pb2.GetPeerInfoRequest(), timeout=5)
    cp = peers.ledger("cq").GetCheckpoint(ledger_pb2.GetCheckpointRequest(log="regions/cq/log"))
    peers.close()

The stubs serialise requests deterministically, because the signature covers the
hash of exactly those bytes. Channels are opened on first use and reconnect by
themselves (gRPC's own backoff); a call to a peer that is down fails fast with
UNAVAILABLE, which callers record with :func:`describe_rpc_error`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import grpc
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import ledger_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import LedgerError
from ledger.note import Signer, Verifier
from services.config import PeerConfig
from services.errors import ConfigError, UnavailableError
from services.peer_auth import PeerSigningInterceptor

__all__ = ["PeerChannels", "PeerStub", "describe_rpc_error", "open_peer_checkpoint", "peer_stub"]

FEDERATION_SERVICE = federation_pb2.DESCRIPTOR.services_by_name["FederationService"]
LEDGER_SERVICE = ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"]


def _deterministic(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


class PeerStub:
    """A stub for one service on one channel whose requests are serialised
    deterministically (attribute per method, like a generated stub)."""

    def __init__(self, channel: grpc.Channel, service: ServiceDescriptor) -> None:
        self._methods: dict[str, Callable[..., Any]] = {}
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            response = message_factory.GetMessageClass(method.output_type)
            factory = channel.unary_stream if method.server_streaming else channel.unary_unary
            self._methods[method.name] = factory(
                path,
                request_serializer=_deterministic,
                response_deserializer=response.FromString,
            )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            return self._methods[name]
        except KeyError:
            raise AttributeError(name) from None


def peer_stub(channel: grpc.Channel, service: ServiceDescriptor) -> PeerStub:
    return PeerStub(channel, service)


def open_peer_checkpoint(note: str, peer: PeerConfig) -> Checkpoint:
    """Verify a checkpoint note with any of the peer's keys (current first), then parse it.

    Raises the ledger's NoteError/SignatureError/CheckpointError when it does not.
    """
    error: LedgerError | None = None
    for vkey in peer.verifier_keys:
        try:
            return open_checkpoint(note, Verifier.from_vkey(vkey), origin=peer.origin)
        except LedgerError as exc:
            error = error or exc
    assert error is not None
    raise error


def _credentials(index: int, peer: PeerConfig) -> grpc.ChannelCredentials:
    assert peer.tls is not None
    files: dict[str, bytes | None] = {}
    for name in ("ca_file", "cert_file", "key_file"):
        path: Path | None = getattr(peer.tls, name)
        try:
            files[name] = path.read_bytes() if path is not None else None
        except OSError as exc:
            raise ConfigError(f"peers[{index}].{name}", str(exc)) from None
    return grpc.ssl_channel_credentials(
        root_certificates=files["ca_file"],
        private_key=files["key_file"],
        certificate_chain=files["cert_file"],
    )


def describe_rpc_error(err: grpc.RpcError) -> str:
    """``"CODE REASON: message"`` of a failed peer call, for status and logs."""
    # Every RpcError a call raises is also a grpc.Call; the typing stubs cannot say so.
    call = cast(grpc.Call, err) if hasattr(err, "code") else None
    code = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    reason = ""
    message = (call.details() if call is not None else str(err)) or ""
    status = rpc_status.from_call(call) if call is not None else None
    if status is not None:
        message = status.message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
    head = f"{code.name} {reason}".strip()
    return f"{head}: {message}" if message else head


class PeerChannels:
    """Signed channels to every configured peer; thread-safe, opened lazily."""

    def __init__(
        self,
        region: str,
        signer: Signer,
        peers: Sequence[PeerConfig],
        *,
        max_message_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.region = region
        self._signer = signer
        self._peers = {p.region: p for p in peers}
        self._max_message_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._open: dict[str, tuple[grpc.Channel, PeerStub, PeerStub]] = {}
        self._closed = False
        # Read now so a missing certificate stops the node at start, not a thread later.
        self._credentials = {
            p.region: _credentials(i, p) for i, p in enumerate(peers) if p.tls is not None
        }

    @property
    def peers(self) -> tuple[PeerConfig, ...]:
        return tuple(sorted(self._peers.values(), key=lambda p: p.region))

    def config(self, region: str) -> PeerConfig:
        peer = self._peers.get(region)
        if peer is None:
            raise UnavailableError(
                f"{region!r} is not a configured peer", reason="PEER_UNAVAILABLE"
            )
        return peer

    def _channel(self, region: str) -> tuple[grpc.Channel, PeerStub, PeerStub]:
        with self._lock:
            if self._closed:
                raise UnavailableError("peer channels are closed", reason="NODE_DRAINING")
            opened = self._open.get(region)
            if opened is None:
                peer = self.config(region)
                raw = self._dial(peer)
                channel = grpc.intercept_channel(
                    raw, PeerSigningInterceptor(self._signer, self.region, peer.region)
                )
                opened = (
                    raw,
                    peer_stub(channel, FEDERATION_SERVICE),
                    peer_stub(channel, LEDGER_SERVICE),
                )
                self._open[region] = opened
            return opened

    def _dial(self, peer: PeerConfig) -> grpc.Channel:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", self._max_message_bytes),
            ("grpc.max_send_message_length", self._max_message_bytes),
            # Reconnect soon after a peer comes back rather than after gRPC's 2 min cap.
            ("grpc.max_reconnect_backoff_ms", 5000),
        ]
        creds = self._credentials.get(peer.region)
        if peer.tls is None or creds is None:
            return grpc.insecure_channel(peer.address, options=options)
        if peer.tls.server_name:
            options.append(("grpc.ssl_target_name_override", peer.tls.server_name))
        return grpc.secure_channel(peer.address, creds, options=options)

    def federation(self, region: str) -> PeerStub:
        """FederationService of peer ``region``."""
        return self._channel(region)[1]

    def ledger(self, region: str) -> PeerStub:
        """LedgerService of peer ``region``."""
        return self._channel(region)[2]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._open = self._open, {}
        for raw, _, _ in opened.values():
            raw.close()
