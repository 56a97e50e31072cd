"""Peer authentication: signed node-to-node calls, and every way to get them wrong."""

from __future__ import annotations

import dataclasses
import time

import grpc
import pytest
from bashu.access.v1 import access_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import ledger_pb2
from google.protobuf.message import Message

from ledger.note import CosignatureVerifier, Signer
from services.config import PeerConfig
from services.db import make_engine
from services.errors import UnauthenticatedError
from services.node import build_node
from services.peer_auth import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_REGION,
    InMemoryNonceStore,
    PeerAuthenticator,
    SqlNonceStore,
    signed_metadata,
)
from services.peers import PeerChannels
from tests.federation.conftest import Region
from tests.node.test_node import _reason

FED = "/bashu.federation.v1.FederationService/"
PEER_INFO = FED + "GetPeerInfo"
DELIVER = FED + "DeliverMessages"
STATUS = FED + "GetFederationStatus"
CHECKPOINT = "/bashu.ledger.v1.LedgerService/GetCheckpoint"

# --- the scheme on its own (no network, no database) ---------------------------------


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> dict[str, Signer]:
    return {r: Signer.generate(f"bashu.exchange/log/{r}") for r in ("sc", "cq")}


def _authenticator(keys: dict[str, Signer], clock: _Clock) -> PeerAuthenticator:
    return PeerAuthenticator.from_vkeys(
        "sc", {"cq": [keys["cq"].vkey()]}, InMemoryNonceStore(clock), clock=clock
    )


def _reason_of(exc: pytest.ExceptionInfo[UnauthenticatedError]) -> str:
    return exc.value.reason


def test_signed_call_verifies_and_every_corruption_fails(keys: dict[str, Signer]) -> None:
    clock = _Clock(1_800_000_000.0)
    auth = _authenticator(keys, clock)
    body = federation_pb2.DeliverMessagesRequest(request_id="r1").SerializeToString()

    def meta(**kw: object) -> dict[str, str]:
        args: dict[str, object] = {
            "signer": keys["cq"],
            "method": DELIVER,
            "caller": "cq",
            "callee": "sc",
            "body": body,
            "now": clock.now,
        }
        args.update(kw)
        return dict(signed_metadata(**args))  # type: ignore[arg-type]

    peer = auth.authenticate(DELIVER, meta(), body)
    assert (peer.region, peer.key_id) == ("cq", keys["cq"].key_id.hex())

    twins: list[tuple[str, dict[str, str], str, bytes]] = [
        ("PEER_SIGNATURE_INVALID", meta(), PEER_INFO, body),  # another method
        ("PEER_SIGNATURE_INVALID", meta(), DELIVER, body + b"\x10\x01"),  # another body
        ("PEER_SIGNATURE_INVALID", meta(callee="sg"), DELIVER, body),  # for another node
        (
            "PEER_SIGNATURE_INVALID",
            meta(signer=Signer.generate("bashu.exchange/log/cq")),
            DELIVER,
            body,
        ),
        ("PEER_UNKNOWN", meta(caller="zz"), DELIVER, body),
        ("PEER_TIMESTAMP_SKEW", meta(now=clock.now - 301), DELIVER, body),
        ("PEER_TIMESTAMP_SKEW", meta(now=clock.now + 301), DELIVER, body),
    ]
    tampered = meta()
    tampered["x-bashu-timestamp"] = str(int(clock.now) + 1)  # signed value changed
    twins.append(("PEER_SIGNATURE_INVALID", tampered, DELIVER, body))
    for header in ("x-bashu-region", "x-bashu-timestamp", "x-bashu-nonce", "x-bashu-signature"):
        partial = meta()
        del partial[header]
        twins.append(("PEER_AUTH_MISSING", partial, DELIVER, body))
    for reason, metadata, method, sent in twins:
        with pytest.raises(UnauthenticatedError) as err:
            auth.authenticate(method, metadata, sent)
        assert err.value.reason == reason, (reason, metadata)

    # Within the window a nonce works once; just inside the window is still accepted.
    once = meta(now=clock.now - 299)
    auth.authenticate(DELIVER, once, body)
    with pytest.raises(UnauthenticatedError) as err:
        auth.authenticate(DELIVER, once, body)
    assert err.value.reason == "PEER_NONCE_REPLAYED"
    # Without x-bashu-key-id every configured key is tried.
    bare = meta()
    del bare[HEADER_KEY_ID]
    assert auth.authenticate(DELIVER, bare, body).region == "cq"


def test_previous_key_accepted_during_rotation(keys: dict[str, Signer]) -> None:
    clock = _Clock(1_800_000_000.0)
    old = Signer.generate("bashu.exchange/log/cq")
    auth = PeerAuthenticator.from_vkeys(
        "sc", {"cq": [keys["cq"].vkey(), old.vkey()]}, InMemoryNonceStore(clock), clock=clock
    )
    metadata = dict(signed_metadata(old, PEER_INFO, "cq", "sc", b"", now=clock.now))
    assert auth.authenticate(PEER_INFO, metadata, b"").key_id == old.key_id.hex()


def test_canonical_bytes_recovered_for_map_fields(keys: dict[str, Signer]) -> None:
    """The signature covers the deterministic serialization; a sender whose bytes put
    map entries in another order still authenticates (the callee re-serialises)."""
    clock = _Clock(1_800_000_000.0)
    auth = _authenticator(keys, clock)
    method = FED + "ForwardLookupRecord"
    request = federation_pb2.ForwardLookupRecordRequest(
        request=access_pb2.LookupRecordRequest(key={"a": "1", "b": "2"})
    )
    canonical = request.SerializeToString(deterministic=True)
    # Same message, entries in reverse order on the wire (protobuf merges the halves).
    reordered = b"".join(
        federation_pb2.ForwardLookupRecordRequest(
            request=access_pb2.LookupRecordRequest(key={k: v})
        ).SerializeToString()
        for k, v in (("b", "2"), ("a", "1"))
    )
    assert reordered != canonical
    metadata = dict(signed_metadata(keys["cq"], method, "cq", "sc", canonical, now=clock.now))

    def parse(raw: bytes) -> Message:
        return federation_pb2.ForwardLookupRecordRequest.FromString(raw)

    assert auth.authenticate(method, metadata, reordered, parse).region == "cq"


def test_sql_nonces_are_pruned_after_the_window(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    clock = _Clock(1_800_000_000.0)
    store = SqlNonceStore(engine, clock=clock, prune_every_s=3600)
    assert store.use("cq", "n" * 22, int(clock.now) + 300)
    assert not store.use("cq", "n" * 22, int(clock.now) + 300)
    assert store.use("sg", "n" * 22, int(clock.now) + 300)  # per region
    clock.now += 302
    assert store.prune() == 2
    assert store.use("cq", "n" * 22, int(clock.now) + 300)
    engine.dispose()


# --- against running nodes ------------------------------------------------------------


def _raw_call(
    address: str, method: str, body: bytes, metadata: list[tuple[str, str]]
) -> grpc.RpcError | bytes:
    with grpc.insecure_channel(address) as channel:
        try:
            result: bytes = channel.unary_unary(method, None, None)(
                body, metadata=tuple(metadata), timeout=10
            )
        except grpc.RpcError as err:
            return err
    return result


def _refused(result: grpc.RpcError | bytes, reason: str) -> None:
    assert isinstance(result, grpc.RpcError), f"accepted, expected {reason}"
    assert result.code() == grpc.StatusCode.UNAUTHENTICATED, result
    assert _reason(result) == reason


def test_peer_calls_between_running_nodes(trio: dict[str, Region]) -> None:
    sc, cq = trio["sc"], trio["cq"]
    channels = PeerChannels("cq", cq.signer, [PeerConfig("sc", sc.address, sc.vkey)])
    try:
        info = channels.federation("sc").GetPeerInfo(
            federation_pb2.GetPeerInfoRequest(), timeout=10
        )
        assert (info.region, info.verifier_key, info.log_origin) == (
            "sc",
            sc.vkey,
            "bashu.exchange/log/sc",
        )
        witness = CosignatureVerifier.from_vkey(info.witness_verifier_key)
        assert witness.name == "bashu.exchange/witness/sc"
        assert witness.public_key == sc.signer.public_key
        assert federation_pb2.MESSAGE_KIND_LICENCE_NOTICE in info.message_kinds
        # Peers read the ledger with region authentication (witnessing, receipts).
        cp = channels.ledger("sc").GetCheckpoint(
            ledger_pb2.GetCheckpointRequest(log="regions/sc/log"), timeout=10
        )
        assert cp.checkpoint.origin == "bashu.exchange/log/sc"
    finally:
        channels.close()

    body = b""
    good = signed_metadata(cq.signer, PEER_INFO, "cq", "sc", body)
    assert isinstance(_raw_call(sc.address, PEER_INFO, body, good), bytes)
    _refused(_raw_call(sc.address, PEER_INFO, body, good), "PEER_NONCE_REPLAYED")
    stale = signed_metadata(cq.signer, PEER_INFO, "cq", "sc", body, now=time.time() - 400)
    _refused(_raw_call(sc.address, PEER_INFO, body, stale), "PEER_TIMESTAMP_SKEW")
    stranger = Signer.generate("bashu.exchange/log/zz")
    unknown = signed_metadata(stranger, PEER_INFO, "zz", "sc", body)
    _refused(_raw_call(sc.address, PEER_INFO, body, unknown), "PEER_UNKNOWN")
    forged = signed_metadata(Signer.generate("bashu.exchange/log/cq"), PEER_INFO, "cq", "sc", body)
    _refused(_raw_call(sc.address, PEER_INFO, body, forged), "PEER_SIGNATURE_INVALID")
    # sg's valid signature for cq, replayed to sc, names the wrong callee.
    elsewhere = signed_metadata(trio["sg"].signer, PEER_INFO, "sg", "cq", body)
    _refused(_raw_call(sc.address, PEER_INFO, body, elsewhere), "PEER_SIGNATURE_INVALID")
    partial = [
        (k, v)
        for k, v in signed_metadata(cq.signer, DELIVER, "cq", "sc", body)
        if k in (HEADER_REGION, HEADER_NONCE)
    ]
    _refused(_raw_call(sc.address, DELIVER, body, partial), "PEER_AUTH_MISSING")

    # A party's API key never crosses regions: not even a valid operator key is
    # accepted (or looked at) on a peer method.
    for role in ("operator", "consumer"):
        bearer = [("authorization", f"Bearer {sc.keys[role]}")]
        _refused(_raw_call(sc.address, DELIVER, body, bearer), "PEER_AUTH_MISSING")
    _refused(_raw_call(sc.address, DELIVER, body, []), "PEER_AUTH_MISSING")
    # The operator's status view is not a peer method: region metadata is no key.
    as_peer = signed_metadata(cq.signer, STATUS, "cq", "sc", body)
    _refused(_raw_call(sc.address, STATUS, body, as_peer), "API_KEY_MISSING")
    operator = [("authorization", f"Bearer {sc.keys['operator']}")]
    assert isinstance(_raw_call(sc.address, STATUS, body, operator), bytes)
    # Methods open to both take a party key too.
    assert isinstance(_raw_call(sc.address, PEER_INFO, body, operator), bytes)
    consumer = [("authorization", f"Bearer {sc.keys['consumer']}")]
    assert isinstance(_raw_call(sc.address, CHECKPOINT, body, consumer), bytes)


def test_nonce_is_refused_by_every_process_of_a_node(trio: dict[str, Region]) -> None:
    """Two processes sharing sc's database: a nonce one accepted, the other refuses."""
    sc, cq = trio["sc"], trio["cq"]
    assert sc.config is not None
    second = build_node(dataclasses.replace(sc.config, listen="127.0.0.1:0"))
    second.start()
    try:
        metadata = signed_metadata(cq.signer, PEER_INFO, "cq", "sc", b"")
        assert isinstance(_raw_call(sc.address, PEER_INFO, b"", metadata), bytes)
        _refused(_raw_call(second.address, PEER_INFO, b"", metadata), "PEER_NONCE_REPLAYED")
    finally:
        second.stop(grace=0.5)
