"""Witnessing: regions cosign each other's checkpoints, and a rewritten history is caught."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from bashu.federation.v1 import federation_pb2, federation_pb2_grpc
from bashu.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

import clients
from clients.sdk.channel import ErrorTranslating
from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.errors import InvalidProofError
from ledger.note import CosignatureVerifier, Signer, Verifier, open_note, verify_cosignature
from services.auth import Role
from services.config import PeerConfig
from services.db import session_scope
from services.models import FederationFork
from services.node import Node
from services.parties import record_party
from services.peer_state import AlarmKind
from services.peers import PeerChannels
from services.records import decode_record
from tests.federation.conftest import Region, configure, prepare_region
from tests.node.test_node import _reason

JS_VERIFIER = Path(__file__).with_name("verify_cosignature.mjs")
CONSUMER = frozenset({Role.CONSUMER})


def _grow(region: Region, n: int) -> None:
    node = region.running()
    start = node.ledger.size()
    for i in range(start, start + n):
        record_party(node.ledger, region.name, f"p{i}", f"Party {i}", CONSUMER)


def _witness(node: Node) -> dict[str, str]:
    assert node.federation is not None
    return node.federation.witness.witness_once()


def _records(node: Node, payload: str) -> list[Any]:
    out = []
    for entry in node.ledger.entries(0, node.ledger.size()):
        record = decode_record(entry.data)
        if record.WhichOneof("payload") == payload:
            out.append(getattr(record, payload))
    return out


def test_regions_cosign_each_other(trio: dict[str, Region]) -> None:
    for i, region in enumerate(trio.values()):
        _grow(region, 2 + i)
    nodes = {r: region.running() for r, region in trio.items()}
    # Round 1 cosigns; round 2 also collects what the others cosigned in round 1.
    for node in nodes.values():
        assert set(_witness(node).values()) == {"cosigned"}
    for node in nodes.values():
        _witness(node)

    sc, cq = trio["sc"], trio["cq"]
    witness_vkeys: dict[str, str] = {}
    channels = PeerChannels(
        "sc", sc.signer, [PeerConfig(r, trio[r].address, trio[r].vkey) for r in ("cq", "sg")]
    )
    try:
        for r in ("cq", "sg"):
            info = channels.federation(r).GetPeerInfo(
                federation_pb2.GetPeerInfoRequest(), timeout=10
            )
            witness_vkeys[r] = info.witness_verifier_key
        # As a peer, sc asks cq for cq's cosignatures of sc's own log.
        mine = channels.federation("cq").GetCosignatures(
            federation_pb2.GetCosignaturesRequest(), timeout=10
        )
        assert [c.cosigner_region for c in mine.cosignatures] == ["cq"]
        with pytest.raises(grpc.RpcError) as err:
            channels.federation("cq").GetCosignatures(
                federation_pb2.GetCosignaturesRequest(origin="bashu.exchange/log/sg"), timeout=10
            )
        assert _reason(err.value) == "INVALID_ARGUMENT"
    finally:
        channels.close()

    # sc's GetCheckpoint carries both peers' cosignatures; each verifies by C2SP rules,
    # alone and all together with the region's own signature.
    with clients.connect(sc.address, sc.keys["consumer"]) as client:
        response = client.ledger._stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest())
    note = response.checkpoint.signed_note
    assert sorted(c.cosigner_region for c in response.cosignatures) == ["cq", "sg"]
    cosigned = note + "".join(c.signature_line + "\n" for c in response.cosignatures)
    verifiers = {r: CosignatureVerifier.from_vkey(v) for r, v in witness_vkeys.items()}
    for c in response.cosignatures:
        assert c.origin == "bashu.exchange/log/sc"
        assert c.tree_size == response.checkpoint.tree_size
        assert verify_cosignature(cosigned, verifiers[c.cosigner_region]) == c.time.seconds
    opened = open_note(cosigned, [Verifier.from_vkey(sc.vkey), *verifiers.values()])
    assert len(opened.sigs) == 3
    # A peer's cosignature is worthless on a checkpoint it did not see.
    other = Checkpoint("bashu.exchange/log/sc", 99, b"\x01" * 32)
    forged = sign_checkpoint(other, sc.signer) + response.cosignatures[0].signature_line + "\n"
    with pytest.raises(Exception, match="signature"):
        verify_cosignature(forged, verifiers[response.cosignatures[0].cosigner_region])
    if shutil.which("node") is not None:
        for r, vkey in witness_vkeys.items():
            js = subprocess.run(
                ["node", str(JS_VERIFIER), vkey],
                input=cosigned,
                capture_output=True,
                text=True,
                check=False,
            )
            assert js.returncode == 0, (r, js.stderr)
        js = subprocess.run(
            ["node", str(JS_VERIFIER), witness_vkeys["cq"]],
            input=cosigned.replace("\n", "\nx", 1),
            capture_output=True,
            text=True,
            check=False,
        )
        assert js.returncode == 1

    # An operator of cq reads its cosignatures of any peer's log.
    with clients.connect(cq.address, cq.keys["operator"]) as client:
        stub = ErrorTranslating(federation_pb2_grpc.FederationServiceStub(client.channel))
        listed = stub.GetCosignatures(
            federation_pb2.GetCosignaturesRequest(origin="bashu.exchange/log/sg")
        )
        assert [c.cosigner_region for c in listed.cosignatures] == ["cq"]
        with pytest.raises(clients.NotFoundError) as missing:
            stub.GetCosignatures(
                federation_pb2.GetCosignaturesRequest(origin="bashu.exchange/log/zz")
            )
        assert missing.value.reason == "CHECKPOINT_NOT_FOUND"

    # cq grows: sc proves the new checkpoint consistent with the one it saw, cosigns it.
    before = sc.fed.status().peers[0]
    _grow(cq, 5)
    assert _witness(sc.running())["cq"] == "cosigned"
    assert _witness(sc.running())["cq"] == "unchanged"
    after = sc.fed.status().peers[0]
    assert before.last_cosigned is not None
    assert after.last_cosigned is not None
    assert after.last_cosigned.size == before.last_cosigned.size + 5
    assert (after.reachable, after.alarms) == (True, ())
    assert after.clock_skew_ms is not None
    assert abs(after.clock_skew_ms) < 5000
    # The first cosignature of each peer is in sc's ledger (then at most hourly).
    witnessed = _records(sc.running(), "checkpoint_witnessed")
    assert sorted(w.peer_region for w in witnessed) == ["cq", "sg"]


# --- a peer that rewrites its history ---------------------------------------------------


class FakePeer(
    ledger_pb2_grpc.LedgerServiceServicer, federation_pb2_grpc.FederationServiceServicer
):
    """A test double of region ``sg``: real signatures over whatever log it is told."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.entries: list[bytes] = []
        self.time = 1_800_000_000

    def note(self) -> str:
        self.time += 1
        cp = Checkpoint(
            "bashu.exchange/log/sg",
            len(self.entries),
            merkle.root_hash(self.entries),
            (f"time {self.time}",),
        )
        return sign_checkpoint(cp, self.signer)

    def GetCheckpoint(
        self, request: ledger_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetCheckpointResponse:
        response = ledger_pb2.GetCheckpointResponse()
        response.checkpoint.signed_note = self.note()
        return response

    def GetConsistencyProof(
        self, request: ledger_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext
    ) -> ledger_pb2.GetConsistencyProofResponse:
        if request.second_tree_size > len(self.entries):
            context.abort(grpc.StatusCode.OUT_OF_RANGE, "tree size not reached")
        tree = self.entries[: request.second_tree_size]
        return ledger_pb2.GetConsistencyProofResponse(
            first_tree_size=request.first_tree_size,
            second_tree_size=request.second_tree_size,
            hashes=merkle.consistency_proof(tree, request.first_tree_size),
        )

    def GetPeerInfo(
        self, request: federation_pb2.GetPeerInfoRequest, context: grpc.ServicerContext
    ) -> federation_pb2.GetPeerInfoResponse:
        now = Timestamp()
        now.GetCurrentTime()
        return federation_pb2.GetPeerInfoResponse(region="sg", server_time=now)

    def GetCosignatures(
        self, request: federation_pb2.GetCosignaturesRequest, context: grpc.ServicerContext
    ) -> federation_pb2.GetCosignaturesResponse:
        context.abort(grpc.StatusCode.NOT_FOUND, "no cosignatures")


@pytest.fixture
def fake_sg() -> Iterator[tuple[FakePeer, str]]:
    fake = FakePeer(Signer.generate("bashu.exchange/log/sg"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(fake, server)
    federation_pb2_grpc.add_FederationServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        server.stop(0)


@pytest.fixture
def witness_of_fake(
    tmp_path: Path, db_url: str, fake_sg: tuple[FakePeer, str]
) -> Iterator[tuple[Region, FakePeer]]:
    fake, address = fake_sg
    sc = prepare_region("sc", tmp_path / "sc", db_url)
    configure(sc, [], extra_peers=(PeerConfig("sg", address, fake.signer.vkey()),))
    sc.start()
    try:
        yield sc, fake
    finally:
        sc.stop()


def _metric(region: Region, name: str) -> list[tuple[dict[str, object], float]]:
    assert region.metrics is not None
    data = region.metrics.get_metrics_data()
    points: list[tuple[dict[str, object], float]] = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == name:
                    points += [
                        (dict(p.attributes or {}), float(p.value))  # type: ignore[union-attr]
                        for p in m.data.data_points
                    ]
    return points


REWRITES = {
    # rewritten in the middle and extended: the consistency proof fails
    "grown": [b"a", b"X", b"c", b"d", b"e"],
    # same size, another root: no proof can help
    "same_size": [b"a", b"X", b"c"],
    # shorter than a size it signed: it cannot even be asked for a proof
    "shrunk": [b"a", b"X"],
}


@pytest.mark.parametrize("rewrite", sorted(REWRITES))
def test_a_rewritten_history_is_caught_with_evidence(
    witness_of_fake: tuple[Region, FakePeer], rewrite: str, caplog: pytest.LogCaptureFixture
) -> None:
    sc, fake = witness_of_fake
    node = sc.running()
    assert node.federation is not None
    fake.entries = [b"a", b"b", b"c"]
    assert _witness(node) == {"sg": "cosigned"}
    seen = sc.fed.status().peers[0].last_seen
    assert seen is not None
    first_note = seen.note

    fake.entries = REWRITES[rewrite]
    with caplog.at_level(logging.ERROR, logger="services.witness"):
        assert _witness(node) == {"sg": "fork"}
    assert any("FORK" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)

    # Evidence in the ledger: both signed notes (each verifies with sg's key), the proof.
    (fork,) = _records(node, "fork_detected")
    sg = Verifier.from_vkey(fake.signer.vkey())
    first = open_checkpoint(fork.first.signed_note, sg)
    second = open_checkpoint(fork.second.signed_note, sg)
    assert fork.first.signed_note == first_note
    assert (first.size, second.size) == (3, len(REWRITES[rewrite]))
    if rewrite == "grown":
        assert list(fork.consistency_proof)
        with pytest.raises(InvalidProofError):
            merkle.verify_consistency(
                first.size,
                second.size,
                first.root_hash,
                second.root_hash,
                list(fork.consistency_proof),
            )
    with session_scope(node.engine) as session:
        (row,) = session.query(FederationFork).all()
        assert (row.first_note, row.second_note) == (
            fork.first.signed_note,
            fork.second.signed_note,
        )

    # The alarm stands in the status, pointing at the evidence; the counter counted it.
    (peer,) = node.federation.status().peers
    (alarm,) = peer.alarms
    assert alarm.kind == AlarmKind.FORK_DETECTED
    assert alarm.evidence is not None
    assert alarm.evidence[0] == row.ledger_index
    assert _metric(sc, "bashu.witness.forks") == [({"peer": "sg"}, 1)]
    assert [a for a, _ in _metric(sc, "bashu.witness.lag")] == [{"peer": "sg"}]
    # The witness stops cosigning sg, and records the fork once.
    assert _witness(node) == {"sg": "suspended"}
    assert len(_records(node, "fork_detected")) == 1
    assert peer.last_cosigned is not None
    assert peer.last_cosigned.size == 3


def test_a_checkpoint_that_does_not_verify_is_not_cosigned(
    witness_of_fake: tuple[Region, FakePeer],
) -> None:
    sc, fake = witness_of_fake
    node = sc.running()
    assert node.federation is not None
    fake.entries = [b"a"]
    honest = fake.signer
    fake.signer = Signer.generate("bashu.exchange/log/sg")  # not the configured key
    assert _witness(node) == {"sg": "invalid"}
    (peer,) = node.federation.status().peers
    assert [a.kind for a in peer.alarms] == [AlarmKind.CHECKPOINT_INVALID]
    assert peer.last_cosigned is None
    fake.signer = honest
    assert _witness(node) == {"sg": "cosigned"}
    (peer,) = node.federation.status().peers
    assert peer.alarms == ()
    assert _records(node, "fork_detected") == []


def test_an_unreachable_peer_is_reported(tmp_path: Path, db_url: str) -> None:
    sc = prepare_region("sc", tmp_path / "sc", db_url)
    ghost = Signer.generate("bashu.exchange/log/cq")
    from tests.federation.conftest import free_port

    configure(sc, [], extra_peers=(PeerConfig("cq", f"127.0.0.1:{free_port()}", ghost.vkey()),))
    sc.start()
    try:
        assert _witness(sc.running()) == {"cq": "unreachable"}
        (peer,) = sc.fed.status().peers
        assert not peer.reachable
        assert peer.last_error.startswith("UNAVAILABLE")
    finally:
        sc.stop()
