"""A real node on port 0, called through the SDK and through raw channels."""

from __future__ import annotations

import grpc
import pytest
from bashu.ledger.v1 import ledger_pb2
from google.protobuf import descriptor_pool
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

import clients
from ledger.note import Signer
from services import auth
from services.auth import Role
from services.db import make_engine, session_scope
from services.permissions import METHOD_ROLES, PEER_METHODS
from services.registry import SERVICE_NAMES
from tests.node.conftest import RunningNode


def _all_methods() -> list[tuple[str, bool]]:
    """(full method name, server-streaming?) for every method of every Bashu service."""
    pool = descriptor_pool.Default()
    out = []
    for name in SERVICE_NAMES:
        service = pool.FindServiceByName(name)
        for m in service.methods:
            out.append((f"/{name}/{m.name}", m.server_streaming))
    return out


ALL_METHODS = _all_methods()


def _call_raw(
    address: str, method: str, streaming: bool, payload: bytes, key: str | None
) -> grpc.RpcError:
    metadata: tuple[tuple[str, str | bytes], ...] = (
        (("authorization", f"Bearer {key}"),) if key else ()
    )
    with grpc.insecure_channel(address) as channel:
        try:
            if streaming:
                list(
                    channel.unary_stream(method, None, None)(payload, metadata=metadata, timeout=10)
                )
            else:
                channel.unary_unary(method, None, None)(payload, metadata=metadata, timeout=10)
        except grpc.RpcError as err:
            return err
    raise AssertionError(f"{method} accepted the call")


def _reason(err: grpc.RpcError) -> str:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, "error carries no google.rpc.Status"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            assert info.domain == "bashu.exchange"
            return str(info.reason)
    raise AssertionError("no ErrorInfo in status")


def test_every_method_is_in_the_role_table_or_region_only() -> None:
    operator_views = {"GetFederationStatus", "GetPeerInfo", "GetCosignatures"}
    for method, _ in ALL_METHODS:
        name = method.rsplit("/", 1)[1]
        if "/bashu.federation.v1.FederationService/" in method and name not in operator_views:
            # Peers only: a party's API key never reaches these.
            assert method not in METHOD_ROLES
            assert method in PEER_METHODS
        else:
            assert method in METHOD_ROLES, f"{method} has no roles: it would be refused to all"
    assert "/bashu.federation.v1.FederationService/GetFederationStatus" not in PEER_METHODS


def test_health_per_service_and_reflection(running_node: RunningNode) -> None:
    with grpc.insecure_channel(running_node.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in [*SERVICE_NAMES, ""]:
            resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as err:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        listed = {s.name for r in responses for s in r.list_services_response.service}
    assert set(SERVICE_NAMES) <= listed
    assert "grpc.health.v1.Health" in listed


def test_checkpoint_verifies_with_public_key(running_node: RunningNode) -> None:
    vkey = running_node.node.signer.vkey()
    with clients.connect(running_node.address, running_node.keys["consumer"]) as client:
        assert client.ledger.public_key() == vkey
        cp = client.ledger.checkpoint(vkey)
    assert cp.origin == "bashu.exchange/log/sc"
    assert cp.size == running_node.node.ledger.size()


@pytest.mark.parametrize(("method", "streaming"), ALL_METHODS, ids=[m for m, _ in ALL_METHODS])
def test_bad_credentials_and_roles_matrix(
    running_node: RunningNode, method: str, streaming: bool
) -> None:
    """Missing, malformed, unknown, revoked keys and wrong roles, on every method:
    the right code and reason, and the ledger does not change."""
    address = running_node.address
    size_before = running_node.node.ledger.size()
    empty = b""

    if method in PEER_METHODS and method not in METHOD_ROLES:
        # Peer-only: no API key is even looked at, valid or not.
        for role in [None, *Role]:
            key = running_node.keys[role.value] if role else None
            err = _call_raw(address, method, streaming, empty, key)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert _reason(err) == "PEER_AUTH_MISSING"
        return

    err = _call_raw(address, method, streaming, empty, None)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err) == "API_KEY_MISSING"

    err = _call_raw(address, method, streaming, empty, "bsk_nothere_000")
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(err) == "API_KEY_INVALID"

    allowed = METHOD_ROLES.get(method, frozenset())
    denied = [r for r in Role if r not in allowed]
    for role in denied:
        err = _call_raw(address, method, streaming, empty, running_node.keys[role.value])
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, role
        assert _reason(err) == "ROLE_NOT_ALLOWED"

    if allowed:
        role = sorted(allowed)[0]
        err = _call_raw(address, method, streaming, b"\xff\xff\xff\xff", running_node.keys[role])
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _reason(err) == "INVALID_ARGUMENT"

    assert running_node.node.ledger.size() == size_before


def test_revoked_key_is_refused_on_next_call(running_node: RunningNode) -> None:
    key = running_node.keys["operator"]
    with clients.connect(running_node.address, key) as client:
        client.ledger.public_key()
        engine = make_engine(running_node.node.config.database_url)
        with session_scope(engine) as session:
            auth.revoke_key(session, running_node.key_ids["operator"])
        engine.dispose()
        with pytest.raises(clients.UnauthenticatedError) as err:
            client.ledger.public_key()
    assert err.value.reason == "API_KEY_REVOKED"


def test_unknown_method_and_oversized_request(running_node: RunningNode) -> None:
    key = running_node.keys["consumer"]
    err = _call_raw(running_node.address, "/bashu.ledger.v1.LedgerService/Nope", False, b"", key)
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    big = ledger_pb2.GetCheckpointRequest(
        log="x" * (running_node.node.config.limits.max_message_bytes + 10)
    )
    err = _call_raw(
        running_node.address,
        "/bashu.ledger.v1.LedgerService/GetCheckpoint",
        False,
        big.SerializeToString(),
        key,
    )
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_sdk_raises_typed_errors_with_field_violations(running_node: RunningNode) -> None:
    with clients.connect(running_node.address, running_node.keys["consumer"]) as client:
        with pytest.raises(clients.InvalidArgumentError) as bad:
            client.ledger._stub.ListEntries(ledger_pb2.ListEntriesRequest(page_size=-1))
        assert bad.value.reason == "INVALID_ARGUMENT"
        assert [v.field for v in bad.value.field_violations] == ["page_size"]
        with pytest.raises(clients.NotFoundError) as missing:
            client.ledger.get_entry(10_000)
        assert missing.value.reason == "ENTRY_NOT_FOUND"
        with pytest.raises(clients.NotFoundError) as no_product:
            client.catalog.get_product("regions/sc/products/no-such-product")
        assert no_product.value.reason == "PRODUCT_NOT_FOUND"


def test_every_reason_the_node_uses_is_in_the_published_enum() -> None:
    from bashu.common.v1 import errors_pb2

    from services.errors import STATUS_TABLE

    published = {n.removeprefix("ERROR_REASON_") for n in errors_pb2.ErrorReason.keys()}  # noqa: SIM118
    # Generic domain errors fall back to their code's name; the ledger's errors and
    # the interceptor's refusals carry published reasons.
    ledger_mapped = {r for k, (_, r) in STATUS_TABLE.items() if k.__module__ == "ledger.errors"}
    used = ledger_mapped | {
        "API_KEY_MISSING",
        "API_KEY_INVALID",
        "API_KEY_REVOKED",
        "ROLE_NOT_ALLOWED",
        "INVALID_PAGE_TOKEN",
        "CHECKPOINT_NOT_FOUND",
        "LOG_NOT_FOUND",
        "INVALID_TREE_SIZES",
        "PEER_AUTH_MISSING",
        "PEER_UNKNOWN",
        "PEER_SIGNATURE_INVALID",
        "PEER_TIMESTAMP_SKEW",
        "PEER_NONCE_REPLAYED",
        "TOO_MANY_MESSAGES",
        "WRONG_RECIPIENT",
        "PEER_UNAVAILABLE",
    }
    assert used <= published, used - published


def test_entries_proofs_and_consistency_through_the_sdk(running_node: RunningNode) -> None:
    from services.parties import record_party

    consumer = frozenset({Role.CONSUMER})

    node = running_node.node
    vkey = node.signer.vkey()
    for i in range(5):
        record_party(node.ledger, "sc", f"p{i}", f"Party {i}", consumer)
    with clients.connect(running_node.address, running_node.keys["finance"]) as client:
        old = client.ledger.checkpoint(vkey)
        for i in range(5, 12):
            record_party(node.ledger, "sc", f"p{i}", f"Party {i}", consumer)
        listed = list(client.ledger.entries(page_size=3))
        assert [e.index for e in listed] == list(range(12))
        by_key = client.ledger._stub.GetEntry(
            ledger_pb2.GetEntryRequest(idempotency_key="party:p7")
        )
        assert by_key.entry.index == 7
        for i in range(12):
            proof = client.ledger.prove_inclusion(vkey, i)
            assert proof.tree_size == 12
        new = client.ledger.prove_consistency(vkey, old)
        assert (old.size, new.size) == (5, 12)
        # A proof against a size no checkpoint was signed at is refused, not invented.
        with pytest.raises(clients.NotFoundError) as err:
            client.ledger.prove_inclusion(vkey, 0, tree_size=3)
        assert err.value.reason == "CHECKPOINT_NOT_FOUND"
        # A checkpoint from another key does not verify.
        with pytest.raises(clients.VerificationError):
            client.ledger.checkpoint(Signer.generate("bashu.exchange/log/sc").vkey())
