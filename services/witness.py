"""Witnessing: each node checks that its peers' ledgers only ever grow, and cosigns.

Every ``[federation] witness_interval_s`` a node, for each peer:

1. fetches the peer's latest checkpoint (``LedgerService.GetCheckpoint`` over a
   peer-authenticated channel) and VERIFIES ITS SIGNATURE with the peer's configured
   key(s) before parsing it; a note that does not verify raises CHECKPOINT_INVALID;
2. proves it consistent with the last checkpoint it saw of that peer
   (``GetConsistencyProof``, checked against the two roots it verified itself, not
   against anything the proof response claims);
3. cosigns a consistent, newer checkpoint with its witness key (C2SP
   ``cosignature/v1``), stores the cosignature and serves it through
   ``FederationService.GetCosignatures``;
4. fetches the cosignatures the peer made of ITS OWN latest checkpoint, verifies them
   with the peer's witness key and keeps them, so that ``LedgerService.GetCheckpoint``
   hands them out with the checkpoint.

Two checkpoints of one peer that are not consistent — a proof that fails, equal sizes
with different roots, or a log that shrank below a size it signed — are a fork: both
signed notes and the failed proof are kept (``federation_forks``) and appended to this
node's ledger as a ``ForkDetected`` entry, the ``bashu.witness.forks`` counter goes up,
an ERROR is logged, and a FORK_DETECTED alarm stands in ``bashu federation status``.
The witness then stops cosigning that peer until an operator has dealt with it.

The witness key is the region key's Ed25519 seed under the name
``bashu.exchange/witness/<region>`` (C2SP key type 0x04): one secret to protect and
rotate, and a peer that knows our region key can verify our cosignatures without
further configuration. Its verifier key is published by ``GetPeerInfo``.

Usage::

    witness = Witness(engine, "sc", signer, ledger, peer_channels, settings)
    witness.witness_once()          # {"cq": "cosigned", "sg": "unreachable"}
    witness.start(); ...; witness.stop()

What this module does NOT do: it never trusts a peer's proof response for the roots,
and it does not decide what to do about a fork beyond keeping the evidence.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import grpc
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import ledger_pb2, record_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.errors import InvalidProofError, LedgerError
from ledger.log import Log
from ledger.note import (
    CosignatureSigner,
    CosignatureVerifier,
    Signer,
    Verifier,
    cosign_checkpoint,
    decode_base64,
    verify_cosignature,
)
from services.config import FederationSettings, PeerConfig
from services.db import read_scope, session_scope
from services.models import FederationCosignature, FederationFork, FederationPeerState
from services.peer_state import (
    AlarmKind,
    clear_alarm,
    ensure_peer_row,
    now_us,
    raise_alarm,
    record_contact,
    record_failure,
    standing_alarms,
)
from services.peers import PeerChannels, describe_rpc_error, open_peer_checkpoint
from services.records import encode_record

__all__ = [
    "WITNESS_PREFIX",
    "Cosignature",
    "Witness",
    "checkpoint_proto",
    "cosignature_proto",
    "cosignatures_of",
    "witness_key_name",
    "witness_signer",
    "witness_verifier",
]

log = logging.getLogger(__name__)

WITNESS_PREFIX = "bashu.exchange/witness/"
# Answers that mean "the peer cannot prove what it signed", as opposed to "try later".
_REFUSALS = (grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.NOT_FOUND)


def witness_key_name(region: str) -> str:
    return WITNESS_PREFIX + region


def witness_signer(region_key: Signer, region: str) -> CosignatureSigner:
    """The witness key: the region key's seed under the witness name (type 0x04)."""
    material = decode_base64(region_key.skey().split("+", 4)[4])
    return CosignatureSigner(witness_key_name(region), material[1:])


def witness_verifier(region: str, region_vkey: str) -> CosignatureVerifier:
    """A peer's witness verifier, derived from its configured region key."""
    return CosignatureVerifier(witness_key_name(region), Verifier.from_vkey(region_vkey).public_key)


@dataclass(frozen=True)
class Cosignature:
    """A stored cosignature (ours of a peer's checkpoint, or a peer's of ours)."""

    cosigner_region: str
    key_name: str
    key_id: str
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: int
    signature_line: str


def _sign_time(cp: Checkpoint) -> int:
    for ext in cp.extensions:
        key, _, value = ext.partition(" ")
        if key == "time" and value.isdigit():
            return int(value)
    return 0


def checkpoint_proto(note: str, cp: Checkpoint) -> common_pb2.Checkpoint:
    """The API form of a verified checkpoint note."""
    return common_pb2.Checkpoint(
        origin=cp.origin,
        tree_size=cp.size,
        root_hash=cp.root_hash,
        signed_note=note,
        sign_time=Timestamp(seconds=_sign_time(cp)),
    )


def cosignature_proto(c: Cosignature) -> common_pb2.Cosignature:
    return common_pb2.Cosignature(
        cosigner_region=c.cosigner_region,
        key_name=c.key_name,
        origin=c.origin,
        tree_size=c.tree_size,
        root_hash=c.root_hash,
        time=Timestamp(seconds=c.timestamp),
        signature_line=c.signature_line,
    )


def _row_to_cosignature(row: FederationCosignature) -> Cosignature:
    return Cosignature(
        cosigner_region=row.cosigner_region,
        key_name=row.key_name,
        key_id=row.key_id,
        origin=row.origin,
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp=row.timestamp,
        signature_line=row.signature_line,
    )


def cosignatures_of(
    engine: Engine,
    origin: str,
    *,
    tree_size: int | None = None,
    root_hash: bytes | None = None,
    cosigner: str | None = None,
) -> list[Cosignature]:
    """Stored cosignatures of ``origin``'s checkpoint of ``tree_size`` (None: the
    largest size that has any), optionally only by ``cosigner`` or of ``root_hash``."""
    conditions = [FederationCosignature.origin == origin]
    if cosigner is not None:
        conditions.append(FederationCosignature.cosigner_region == cosigner)
    if root_hash is not None:
        conditions.append(FederationCosignature.root_hash == root_hash)
    with read_scope(engine) as session:
        if tree_size is None:
            top = session.scalar(
                select(func.max(FederationCosignature.tree_size)).where(*conditions)
            )
            if top is None:
                return []
            tree_size = int(top)
        rows = list(
            session.scalars(
                select(FederationCosignature).where(
                    *conditions, FederationCosignature.tree_size == tree_size
                )
            )
        )
    return sorted(
        (_row_to_cosignature(r) for r in rows), key=lambda c: (c.cosigner_region, c.key_id)
    )


def _store_cosignature(session: Session, c: Cosignature, created_us: int) -> None:
    """Insert unless this cosigner already cosigned that size (first one kept)."""
    exists = session.scalar(
        select(FederationCosignature.id).where(
            FederationCosignature.origin == c.origin,
            FederationCosignature.tree_size == c.tree_size,
            FederationCosignature.cosigner_region == c.cosigner_region,
            FederationCosignature.key_id == c.key_id,
        )
    )
    if exists is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                FederationCosignature(
                    origin=c.origin,
                    tree_size=c.tree_size,
                    root_hash=c.root_hash,
                    cosigner_region=c.cosigner_region,
                    key_name=c.key_name,
                    key_id=c.key_id,
                    timestamp=c.timestamp,
                    signature_line=c.signature_line,
                    create_us=created_us,
                )
            )
    except IntegrityError:
        pass  # another process stored it first


@dataclass(frozen=True)
class _Seen:
    size: int
    root: bytes
    note: str
    cosigned_size: int | None
    recorded_us: int | None


class Witness:
    """Witnesses every configured peer; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        region: str,
        region_key: Signer,
        ledger: Log,
        channels: PeerChannels,
        settings: FederationSettings,
        *,
        meter: metrics.Meter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self.region = region
        self._ledger = ledger
        self._channels = channels
        self._settings = settings
        self._clock = clock
        self.cosigner = witness_signer(region_key, region)
        self._started = clock()
        self._last_ok: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        meter = meter or metrics.get_meter("bashu.node")
        self._forks = meter.create_counter(
            "bashu.witness.forks",
            unit="{fork}",
            description="Inconsistent checkpoint pairs detected per peer",
        )
        meter.create_observable_gauge(
            "bashu.witness.lag",
            callbacks=[self._observe_lag],
            unit="s",
            description="Seconds since each peer's checkpoint was last verified consistent",
        )

    def _observe_lag(self, _options: CallbackOptions) -> Iterable[Observation]:
        now = self._clock()
        return [
            Observation(now - self._last_ok.get(p.region, self._started), {"peer": p.region})
            for p in self._channels.peers
        ]

    def witness_once(self) -> dict[str, str]:
        """One round over every peer; the outcome per peer (for logs and tests)."""
        outcomes: dict[str, str] = {}
        for peer in self._channels.peers:
            try:
                outcomes[peer.region] = self.witness_peer(peer)
            except grpc.RpcError as err:
                error = describe_rpc_error(err)
                record_failure(self._engine, peer.region, error, now_us=now_us(self._clock()))
                log.warning("witnessing %s failed: %s", peer.region, error)
                outcomes[peer.region] = "unreachable"
        return outcomes

    # -- one peer --------------------------------------------------------------------

    def witness_peer(self, peer: PeerConfig) -> str:
        """Witness one peer; grpc.RpcError escapes when the peer cannot be reached."""
        region = peer.region
        federation = self._channels.federation(region)
        timeout = self._settings.peer_timeout_s
        before = self._clock()
        info = federation.GetPeerInfo(federation_pb2.GetPeerInfoRequest(), timeout=timeout)
        after = self._clock()
        # The peer read its clock somewhere in the call: compare with the midpoint.
        skew_ms = int((info.server_time.ToNanoseconds() / 1e9 - (before + after) / 2) * 1000)
        record_contact(self._engine, region, now_us=now_us(after), clock_skew_ms=skew_ms)
        with read_scope(self._engine) as session:
            forked = standing_alarms(session, region, [AlarmKind.FORK_DETECTED])
        if forked:
            return "suspended"
        response = self._channels.ledger(region).GetCheckpoint(
            ledger_pb2.GetCheckpointRequest(log=f"regions/{region}/log"), timeout=timeout
        )
        note = response.checkpoint.signed_note
        try:
            cp = open_peer_checkpoint(note, peer)
        except LedgerError as exc:
            self._invalid_checkpoint(region, note, str(exc))
            return "invalid"
        self._clear(f"CHECKPOINT_INVALID:{region}")
        seen = self._seen(region)
        if seen is None:
            return self._accept(peer, note, cp, previous=0, seen=None)
        if cp.size >= seen.size:
            proof: list[bytes] = []
            if cp.size > seen.size and seen.size > 0:
                try:
                    proof = self._proof(region, seen.size, cp.size)
                except grpc.RpcError as err:
                    if err.code() not in _REFUSALS:
                        raise
                    self._unprovable(region, seen, note, describe_rpc_error(err))
                    return "unprovable"
            try:
                merkle.verify_consistency(seen.size, cp.size, seen.root, cp.root_hash, proof)
            except InvalidProofError as exc:
                self._fork(peer, seen.note, note, proof, f"not consistent: {exc}")
                return "fork"
            self._clear(f"CONSISTENCY_PROOF_INVALID:{region}")
            return self._accept(peer, note, cp, previous=seen.size, seen=seen)
        # The peer served a smaller tree than one it signed before: fine only if that
        # is an old view of the same log, i.e. the larger one extends it.
        if cp.size == 0:
            return "stale"
        try:
            proof = self._proof(region, cp.size, seen.size)
        except grpc.RpcError as err:
            if err.code() not in _REFUSALS:
                raise
            detail = f"log shrank from {seen.size} to {cp.size}: {describe_rpc_error(err)}"
            self._fork(peer, seen.note, note, [], detail)
            return "fork"
        try:
            merkle.verify_consistency(cp.size, seen.size, cp.root_hash, seen.root, proof)
        except InvalidProofError as exc:
            self._fork(peer, seen.note, note, proof, f"not consistent: {exc}")
            return "fork"
        return "stale"

    def _proof(self, region: str, first: int, second: int) -> list[bytes]:
        response = self._channels.ledger(region).GetConsistencyProof(
            ledger_pb2.GetConsistencyProofRequest(
                log=f"regions/{region}/log", first_tree_size=first, second_tree_size=second
            ),
            timeout=self._settings.peer_timeout_s,
        )
        return list(response.hashes)

    def _seen(self, region: str) -> _Seen | None:
        with read_scope(self._engine) as session:
            state = session.get(FederationPeerState, region)
            if (
                state is None
                or state.seen_size is None
                or state.seen_root is None
                or state.seen_note is None
            ):
                return None
            return _Seen(
                state.seen_size,
                state.seen_root,
                state.seen_note,
                state.cosigned_size,
                state.recorded_us,
            )

    def _accept(
        self, peer: PeerConfig, note: str, cp: Checkpoint, *, previous: int, seen: _Seen | None
    ) -> str:
        region = peer.region
        now = self._clock()
        self._last_ok[region] = now
        cosign = seen is None or seen.cosigned_size is None or cp.size > seen.cosigned_size
        cosignature = None
        cosigned_note = None
        if cosign:
            cosigned_note = cosign_checkpoint(note, self.cosigner, int(now))
            cosignature = Cosignature(
                cosigner_region=self.region,
                key_name=self.cosigner.name,
                key_id=self.cosigner.key_id.hex(),
                origin=cp.origin,
                tree_size=cp.size,
                root_hash=cp.root_hash,
                timestamp=int(now),
                signature_line=_line_of(cosigned_note, self.cosigner),
            )
        record = cosignature is not None and self._record_due(seen, now)
        with session_scope(self._engine) as session:
            ensure_peer_row(session, region)
            values: dict[str, object] = {
                "seen_size": cp.size,
                "seen_root": cp.root_hash,
                "seen_note": note,
                "seen_us": now_us(now),
            }
            if cosignature is not None:
                _store_cosignature(session, cosignature, now_us(now))
                values.update(
                    cosigned_size=cp.size, cosigned_note=cosigned_note, cosigned_us=now_us(now)
                )
            if record:
                values["recorded_us"] = now_us(now)
            # Only forward: a slower process must not move the view back.
            session.execute(
                update(FederationPeerState)
                .where(
                    FederationPeerState.region == region,
                    or_(
                        FederationPeerState.seen_size.is_(None),
                        FederationPeerState.seen_size <= cp.size,
                    ),
                )
                .values(values)
            )
        if record and cosignature is not None:
            self._record_witnessed(region, note, cp, previous, cosignature)
        self._collect_own_cosignatures(peer)
        return "cosigned" if cosignature is not None else "unchanged"

    def _record_due(self, seen: _Seen | None, now: float) -> bool:
        interval = self._settings.witness_record_interval_s
        if interval <= 0:
            return False
        last = seen.recorded_us if seen is not None else None
        return last is None or now_us(now) - last >= interval * 1_000_000

    def _record_witnessed(
        self, region: str, note: str, cp: Checkpoint, previous: int, cosignature: Cosignature
    ) -> None:
        key = f"witnessed/{region}/{cp.size}"
        data = encode_record(
            self.region,
            f"regions/{self.region}/node",
            key,
            checkpoint_witnessed=record_pb2.CheckpointWitnessed(
                peer_region=region,
                checkpoint=checkpoint_proto(note, cp),
                previous_tree_size=previous,
                cosignature=cosignature_proto(cosignature),
            ),
        )
        self._ledger.append(data, key)

    def _collect_own_cosignatures(self, peer: PeerConfig) -> None:
        """Fetch and keep the peer's cosignatures of this node's latest checkpoint."""
        try:
            response = self._channels.federation(peer.region).GetCosignatures(
                federation_pb2.GetCosignaturesRequest(),
                timeout=self._settings.peer_timeout_s,
            )
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                log.warning(
                    "cosignatures from %s unavailable: %s", peer.region, describe_rpc_error(err)
                )
            return
        verifier = witness_verifier(peer.region, peer.verifier_key)
        accepted: list[Cosignature] = []
        for c in response.cosignatures:
            own = self._own_note(c.tree_size, bytes(c.root_hash))
            if own is None or c.origin != self._ledger.origin:
                continue
            try:
                timestamp = verify_cosignature(
                    own.rstrip("\n") + "\n" + c.signature_line.rstrip("\n") + "\n", verifier
                )
            except LedgerError as exc:
                log.warning("cosignature from %s does not verify: %s", peer.region, exc)
                continue
            accepted.append(
                Cosignature(
                    cosigner_region=peer.region,
                    key_name=verifier.name,
                    key_id=verifier.key_id.hex(),
                    origin=c.origin,
                    tree_size=c.tree_size,
                    root_hash=bytes(c.root_hash),
                    timestamp=timestamp,
                    signature_line=c.signature_line.rstrip("\n"),
                )
            )
        if accepted:
            with session_scope(self._engine) as session:
                for c in accepted:
                    _store_cosignature(session, c, now_us(self._clock()))

    def _own_note(self, size: int, root: bytes) -> str | None:
        signed = self._ledger.checkpoint_at_least(size)
        if signed is None or signed.checkpoint.size != size or signed.checkpoint.root_hash != root:
            return None
        return signed.note

    # -- alarms ----------------------------------------------------------------------

    def _clear(self, key: str) -> None:
        with session_scope(self._engine) as session:
            clear_alarm(session, key, now_us=now_us(self._clock()))

    def _invalid_checkpoint(self, region: str, note: str, why: str) -> None:
        log.error("checkpoint from %s does not verify: %s", region, why)
        with session_scope(self._engine) as session:
            raise_alarm(
                session,
                f"CHECKPOINT_INVALID:{region}",
                region,
                AlarmKind.CHECKPOINT_INVALID,
                f"{why}; note: {note[:500]!r}",
                now_us=now_us(self._clock()),
            )

    def _unprovable(self, region: str, seen: _Seen, note: str, why: str) -> None:
        log.error(
            "%s cannot prove its checkpoint consistent with size %d: %s", region, seen.size, why
        )
        with session_scope(self._engine) as session:
            raise_alarm(
                session,
                f"CONSISTENCY_PROOF_INVALID:{region}",
                region,
                AlarmKind.CONSISTENCY_PROOF_INVALID,
                f"no consistency proof from size {seen.size}: {why}",
                now_us=now_us(self._clock()),
            )

    def _fork(
        self,
        peer: PeerConfig,
        first_note: str,
        second_note: str,
        proof: Sequence[bytes],
        detail: str,
    ) -> None:
        """Keep the evidence (table and ledger), count it, log it, raise the alarm."""
        region = peer.region
        fork_id = hashlib.sha256(first_note.encode() + b"\x00" + second_note.encode()).hexdigest()[
            :32
        ]
        # Both notes were verified when they arrived; opened again rather than parsed,
        # because the stored one came back from the database.
        first, second = (
            open_peer_checkpoint(first_note, peer),
            open_peer_checkpoint(second_note, peer),
        )
        key = f"fork/{region}/{fork_id}"
        data = encode_record(
            self.region,
            f"regions/{self.region}/node",
            key,
            fork_detected=record_pb2.ForkDetected(
                peer_region=region,
                first=checkpoint_proto(first_note, first),
                second=checkpoint_proto(second_note, second),
                consistency_proof=list(proof),
                detail=detail,
            ),
        )
        # The ledger entry first: it is idempotent by key, so a crash before the
        # table row is written repeats nothing when the fork is found again.
        entry = self._ledger.append(data, key)
        now = now_us(self._clock())
        with session_scope(self._engine) as session:
            new = session.get(FederationFork, fork_id) is None
            if new:
                session.add(
                    FederationFork(
                        id=fork_id,
                        peer_region=region,
                        first_note=first_note,
                        second_note=second_note,
                        proof=b"".join(proof),
                        detail=detail,
                        detect_us=now,
                        ledger_index=entry.index,
                        ledger_leaf_hash=entry.leaf_hash,
                    )
                )
            raise_alarm(
                session,
                f"FORK_DETECTED:{region}",
                region,
                AlarmKind.FORK_DETECTED,
                f"checkpoints of size {first.size} and {second.size} are not consistent: {detail}",
                now_us=now,
                evidence=(entry.index, entry.leaf_hash),
            )
        if new:
            self._forks.add(1, {"peer": region})
        log.error(
            "FORK: %s served checkpoints of size %d and %d that are not consistent (%s); "
            "evidence at ledger index %d",
            region,
            first.size,
            second.size,
            detail,
            entry.index,
        )

    # -- the thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the witness is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="witness", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._settings.witness_interval_s):
            try:
                self.witness_once()
            except Exception:
                log.exception("witness round failed")

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()


def _line_of(note: str, signer: CosignatureSigner) -> str:
    prefix = f"\u2014 {signer.name} "
    for line in reversed(note.rstrip("\n").split("\n")):
        if line.startswith(prefix):
            return line
    raise LedgerError("cosignature line missing")  # pragma: no cover - we just added it
