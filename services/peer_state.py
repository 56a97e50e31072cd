"""What a node knows about its peers: contact, clock skew, alarms, and the status view.

The deliverer and the witness record every call they make to a peer here, and raise
alarms (fork evidence, rejected messages, invalid checkpoints); ``bashu federation
status`` and ``FederationService.GetFederationStatus`` read it back::

    record_contact(engine, "cq", now_us=now_us())
    record_failure(engine, "cq", "UNAVAILABLE: connection refused", now_us=now_us())
    with session_scope(engine) as session:
        raise_alarm(session, "MESSAGE_REJECTED:m-1", "cq", AlarmKind.MESSAGE_REJECTED, "…")
    status = federation_status(engine, config, ledger.latest_checkpoint())

Two alarms are not stored but derived when the status is taken: PEER_UNREACHABLE
(no successful call for longer than ``[federation] unreachable_alarm_s``) and
CLOCK_SKEW (the peer's clock is off by more than half the signature window).
Every write touches only the columns of its own concern, so the deliverer and the
witness (possibly in several processes) never overwrite each other's observations.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.checkpoint import Checkpoint
from ledger.errors import LedgerError
from ledger.log import SignedCheckpoint
from services.config import NodeConfig, PeerConfig
from services.db import read_scope, session_scope
from services.models import (
    FederationAlarm,
    FederationOutboxMessage,
    FederationPeerState,
)
from services.peer_auth import WINDOW_S
from services.peers import open_peer_checkpoint

__all__ = [
    "AlarmKind",
    "AlarmView",
    "CheckpointView",
    "FederationStatus",
    "PeerStatusView",
    "clear_alarm",
    "ensure_peer_row",
    "federation_status",
    "now_us",
    "raise_alarm",
    "record_contact",
    "record_failure",
    "standing_alarms",
]

log = logging.getLogger(__name__)


class AlarmKind(enum.StrEnum):
    """Alarm kinds, by the names of ``bashu.federation.v1.AlarmKind`` (no prefix)."""

    FORK_DETECTED = "FORK_DETECTED"
    CHECKPOINT_INVALID = "CHECKPOINT_INVALID"
    CONSISTENCY_PROOF_INVALID = "CONSISTENCY_PROOF_INVALID"
    PEER_UNREACHABLE = "PEER_UNREACHABLE"
    BATCH_SEQUENCE_GAP = "BATCH_SEQUENCE_GAP"
    BATCH_RETURNED = "BATCH_RETURNED"
    MESSAGE_REJECTED = "MESSAGE_REJECTED"
    CLOCK_SKEW = "CLOCK_SKEW"


def now_us(clock: float | None = None) -> int:
    return int((time.time() if clock is None else clock) * 1_000_000)


def ensure_peer_row(session: Session, region: str) -> None:
    """Create the peer's state row if it is missing (safe against a concurrent insert)."""
    if session.get(FederationPeerState, region) is not None:
        return
    try:
        with session.begin_nested():
            session.add(FederationPeerState(region=region, last_error=""))
    except IntegrityError:
        pass  # another process created it first: what we wanted


def record_contact(
    engine: Engine, region: str, *, now_us: int, clock_skew_ms: int | None = None
) -> None:
    """A call to ``region`` succeeded (and, from GetPeerInfo, its clock offset)."""
    values: dict[str, object] = {"last_contact_us": now_us}
    if clock_skew_ms is not None:
        values["clock_skew_ms"] = clock_skew_ms
    with session_scope(engine) as session:
        ensure_peer_row(session, region)
        session.execute(
            update(FederationPeerState).where(FederationPeerState.region == region).values(values)
        )


def record_failure(engine: Engine, region: str, error: str, *, now_us: int) -> None:
    """A call to ``region`` failed with ``error`` ("CODE REASON: message")."""
    with session_scope(engine) as session:
        ensure_peer_row(session, region)
        session.execute(
            update(FederationPeerState)
            .where(FederationPeerState.region == region)
            .values(last_error=error[:2000], last_error_us=now_us)
        )


def raise_alarm(
    session: Session,
    key: str,
    peer: str,
    kind: AlarmKind,
    detail: str,
    *,
    now_us: int,
    evidence: tuple[int, bytes] | None = None,
) -> bool:
    """Raise (or re-open) the alarm ``key``; False if it was already standing."""
    row = session.get(FederationAlarm, key)
    if row is not None and row.cleared_us is None:
        return False
    if row is None:
        row = FederationAlarm(key=key, peer_region=peer, kind=kind.value)
        session.add(row)
    row.since_us = now_us
    row.detail = detail[:4000]
    row.cleared_us = None
    if evidence is not None:
        row.evidence_index, row.evidence_leaf_hash = evidence
    return True


def clear_alarm(session: Session, key: str, *, now_us: int) -> None:
    session.execute(
        update(FederationAlarm)
        .where(FederationAlarm.key == key, FederationAlarm.cleared_us.is_(None))
        .values(cleared_us=now_us)
    )


# --- the status view ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointView:
    """A peer checkpoint this node verified: the note, what it says, and when."""

    note: str
    checkpoint: Checkpoint
    time_us: int

    @property
    def size(self) -> int:
        return self.checkpoint.size


@dataclass(frozen=True)
class AlarmView:
    kind: AlarmKind
    since_us: int
    detail: str
    evidence: tuple[int, bytes] | None = None


@dataclass(frozen=True)
class PeerStatusView:
    region: str
    address: str
    reachable: bool
    last_contact_us: int | None
    last_error: str
    last_seen: CheckpointView | None
    last_cosigned: CheckpointView | None
    outbox_backlog: int
    oldest_pending_us: int | None
    alarms: tuple[AlarmView, ...]
    clock_skew_ms: int | None


@dataclass(frozen=True)
class FederationStatus:
    region: str
    checkpoint: SignedCheckpoint | None
    peers: tuple[PeerStatusView, ...]
    time_us: int


def _reachable(state: FederationPeerState | None) -> bool:
    if state is None or state.last_contact_us is None:
        return False
    return state.last_error_us is None or state.last_contact_us >= state.last_error_us


def federation_status(
    engine: Engine,
    config: NodeConfig,
    checkpoint: SignedCheckpoint | None,
    *,
    clock: float | None = None,
) -> FederationStatus:
    """Every configured peer's status, ordered by region (one read transaction)."""
    now = now_us(clock)
    with read_scope(engine) as session:
        states = {s.region: s for s in session.scalars(select(FederationPeerState))}
        backlog = {
            region: (count, oldest)
            for region, count, oldest in session.execute(
                select(
                    FederationOutboxMessage.recipient_region,
                    func.count(),
                    func.min(FederationOutboxMessage.create_us),
                )
                .where(FederationOutboxMessage.state == "PENDING")
                .group_by(FederationOutboxMessage.recipient_region)
            )
        }
        alarms: dict[str, list[AlarmView]] = {}
        for alarm in session.scalars(
            select(FederationAlarm)
            .where(FederationAlarm.cleared_us.is_(None))
            .order_by(FederationAlarm.since_us, FederationAlarm.key)
        ):
            evidence = None
            if alarm.evidence_index is not None and alarm.evidence_leaf_hash is not None:
                evidence = (alarm.evidence_index, alarm.evidence_leaf_hash)
            alarms.setdefault(alarm.peer_region, []).append(
                AlarmView(AlarmKind(alarm.kind), alarm.since_us, alarm.detail, evidence)
            )
    peers = [
        _peer_view(p, states.get(p.region), backlog, alarms, config, now)
        for p in sorted(config.peers, key=lambda p: p.region)
    ]
    return FederationStatus(config.region, checkpoint, tuple(peers), now)


def _view(peer: PeerConfig, note: str | None, time_us: int | None) -> CheckpointView | None:
    if not note:
        return None
    try:
        # Stored notes are verified again: the database is not trusted more than a peer.
        cp = open_peer_checkpoint(note, peer)
    except LedgerError as exc:
        log.error("stored checkpoint of %s does not verify: %s", peer.region, exc)
        return None
    return CheckpointView(note, cp, time_us or 0)


def _peer_view(
    peer: PeerConfig,
    state: FederationPeerState | None,
    backlog: Mapping[str, tuple[int, int | None]],
    alarms: Mapping[str, list[AlarmView]],
    config: NodeConfig,
    now: int,
) -> PeerStatusView:
    region = peer.region
    count, oldest = backlog.get(region, (0, None))
    standing: list[AlarmView] = list(alarms.get(region, []))
    reachable = _reachable(state)
    settings = config.federation
    last_contact = state.last_contact_us if state else None
    if not reachable and state is not None and state.last_error_us is not None:
        since = last_contact or state.last_error_us
        if now - since > settings.unreachable_alarm_s * 1_000_000:
            detail = f"no successful call since {since // 1_000_000} (Unix s): {state.last_error}"
            standing.append(AlarmView(AlarmKind.PEER_UNREACHABLE, since, detail))
    skew = state.clock_skew_ms if state else None
    if skew is not None and abs(skew) > WINDOW_S * 1000 // 2:
        standing.append(
            AlarmView(AlarmKind.CLOCK_SKEW, last_contact or now, f"peer clock off by {skew} ms")
        )
    seen = _view(peer, state.seen_note, state.seen_us) if state else None
    cosigned = _view(peer, state.cosigned_note, state.cosigned_us) if state else None
    return PeerStatusView(
        region=region,
        address=peer.address,
        reachable=reachable,
        last_contact_us=last_contact,
        last_error="" if reachable or state is None else state.last_error,
        last_seen=seen,
        last_cosigned=cosigned,
        outbox_backlog=int(count),
        oldest_pending_us=oldest,
        alarms=tuple(standing),
        clock_skew_ms=skew,
    )


def standing_alarms(session: Session, peer: str, kinds: Sequence[AlarmKind]) -> list[str]:
    """Keys of the standing alarms of ``peer`` of the given kinds."""
    return list(
        session.scalars(
            select(FederationAlarm.key).where(
                FederationAlarm.peer_region == peer,
                FederationAlarm.cleared_us.is_(None),
                FederationAlarm.kind.in_([k.value for k in kinds]),
            )
        )
    )
