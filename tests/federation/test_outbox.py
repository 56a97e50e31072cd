"""The durable outbox and inbox: nothing lost while a peer is down, nothing done twice."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from bashu.federation.v1 import federation_pb2
from google.protobuf.message import Message
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.config import FederationSettings, PeerConfig
from services.db import make_engine, session_scope
from services.models import FederationInboxMessage, FederationOutboxMessage
from services.node import Node
from services.outbox import (
    Deliverer,
    HandlerContext,
    MessageHandlers,
    MessageRejectedError,
    Outbox,
    backoff_delay,
)
from services.peer_state import AlarmKind
from services.peers import PeerChannels
from tests.federation.conftest import FAST, Region, configure, prepare_region
from tests.node.test_node import _reason

MK = federation_pb2.MessageKind
NOTICE = federation_pb2.LicenceNotice(kind=federation_pb2.LICENCE_NOTICE_KIND_REVOKED)


class Recorder:
    """A licence-notice handler that counts both of its steps."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Callable[[Session], None]:
        with self.lock:
            self.seen[message.message_id] += 1

        def apply(session: Session) -> None:
            with self.lock:
                self.applied[message.message_id] += 1

        return apply


def _enqueue(node: Node, recipient: str, n: int = 1, payload: Message = NOTICE) -> list[str]:
    assert node.federation is not None
    ids = []
    with session_scope(node.engine) as session:
        for _ in range(n):
            ids.append(node.federation.outbox.enqueue(session, recipient, payload))
    return ids


def _rows(node: Node, model: type, **where: object) -> int:
    with session_scope(node.engine) as session:
        query = select(func.count()).select_from(model)
        for k, v in where.items():
            query = query.where(getattr(model, k) == v)
        return int(session.scalar(query) or 0)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (60, 30.0), (10**6, 30.0)]:
        for _ in range(50):
            delay = backoff_delay(attempt, 1.0, 30.0, rng)
            assert ceiling / 2 <= delay <= ceiling
    assert len({round(backoff_delay(5, 1.0, 30.0, rng), 6) for _ in range(20)}) > 1


def test_message_delivered_once_end_to_end(trio: dict[str, Region]) -> None:
    sc, cq = trio["sc"].running(), trio["cq"].running()
    assert sc.federation is not None
    assert cq.federation is not None
    recorder = Recorder()
    cq.federation.handlers.register(MK.MESSAGE_KIND_LICENCE_NOTICE, recorder, replace=True)

    # An enqueue whose transaction rolls back leaves nothing to send.
    def failing_change() -> None:
        with session_scope(sc.engine) as session:
            trio["sc"].fed.outbox.enqueue(session, "cq", NOTICE)
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert _rows(sc, FederationOutboxMessage) == 0
    (mid,) = _enqueue(sc, "cq")
    report = sc.federation.deliverer.deliver_once()
    assert (report.sent, report.delivered, report.failed_peers) == (1, 1, ())
    assert recorder.seen[mid] == recorder.applied[mid] == 1
    assert _rows(sc, FederationOutboxMessage, state="DELIVERED") == 1
    assert _rows(cq, FederationInboxMessage, sender_region="sc", message_id=mid) == 1

    # The same message delivered again (a retry after a lost answer): DUPLICATE, no effect.
    with session_scope(sc.engine) as session:
        raw = session.get(FederationOutboxMessage, mid)
        assert raw is not None
        message = federation_pb2.OutboxMessage.FromString(raw.message)
    stub = sc.federation.channels.federation("cq")
    for request_id, expected in (("again-1", "DUPLICATE"), ("again-1", "DUPLICATE")):
        response = stub.DeliverMessages(
            federation_pb2.DeliverMessagesRequest(messages=[message], request_id=request_id),
            timeout=10,
        )
        assert [federation_pb2.AckStatus.Name(a.status) for a in response.acks] == [
            f"ACK_STATUS_{expected}"
        ]
    assert recorder.applied[mid] == 1
    assert _rows(cq, FederationInboxMessage) == 1
    assert sc.federation.deliverer.deliver_once(force=True).sent == 0


def test_envelope_problems_and_rejections(trio: dict[str, Region]) -> None:
    sc, cq = trio["sc"].running(), trio["cq"].running()
    assert sc.federation is not None
    assert cq.federation is not None
    stub = sc.federation.channels.federation("cq")

    def deliver(*messages: federation_pb2.OutboxMessage) -> list[tuple[str, str]]:
        response = stub.DeliverMessages(
            federation_pb2.DeliverMessagesRequest(messages=messages, request_id="x"), timeout=10
        )
        return [
            (federation_pb2.AckStatus.Name(a.status).removeprefix("ACK_STATUS_"), a.reason)
            for a in response.acks
        ]

    def message(mid: str, **kw: object) -> federation_pb2.OutboxMessage:
        fields: dict[str, object] = {
            "message_id": mid,
            "kind": MK.MESSAGE_KIND_LICENCE_NOTICE,
            "sender_region": "sc",
            "recipient_region": "cq",
            "licence_notice": NOTICE,
        }
        fields.update(kw)
        return federation_pb2.OutboxMessage(**fields)  # type: ignore[arg-type]

    # A kind this node does not handle (as a node of an older release would not).
    cq.federation.handlers.unregister(MK.MESSAGE_KIND_BATCH_REQUEST)
    assert deliver(
        message("m1", recipient_region="sg"),
        message("m2", sender_region="sg"),
        message("m3", kind=MK.MESSAGE_KIND_DISPUTE_NOTICE),
        message(
            "m4",
            kind=MK.MESSAGE_KIND_BATCH_REQUEST,
            licence_notice=None,
            batch_request=federation_pb2.BatchRequest(sequences=[1]),
        ),
        message(""),
    ) == [
        ("REJECTED", "WRONG_RECIPIENT"),
        ("REJECTED", "INVALID_ARGUMENT"),
        ("REJECTED", "INVALID_ARGUMENT"),
        ("RETRY_LATER", "NOT_IMPLEMENTED"),  # a kind this release has no handler for
        ("REJECTED", "INVALID_ARGUMENT"),
    ]
    with pytest.raises(grpc.RpcError) as err:
        deliver(*[message(f"n{i}") for i in range(101)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _reason(err.value) == "TOO_MANY_MESSAGES"

    # A message the peer refuses for good is parked, and the sender raises an alarm.
    def refuse(message: federation_pb2.OutboxMessage, context: HandlerContext) -> None:
        raise MessageRejectedError("SIGNATURE_INVALID", "no good")

    cq.federation.handlers.register(MK.MESSAGE_KIND_DISPUTE_NOTICE, refuse, replace=True)
    (mid,) = _enqueue(sc, "cq", payload=federation_pb2.DisputeNotice())
    report = sc.federation.deliverer.deliver_once()
    assert (report.rejected, report.delivered) == (1, 0)
    with session_scope(sc.engine) as session:
        row = session.get(FederationOutboxMessage, mid)
        assert row is not None
        assert row.state == "REJECTED"
    (cq_status,) = [p for p in sc.federation.status().peers if p.region == "cq"]
    assert [a.kind for a in cq_status.alarms] == [AlarmKind.MESSAGE_REJECTED]
    # Redelivered, a rejected message gets the same answer (it was recorded).
    with session_scope(sc.engine) as session:
        row = session.get(FederationOutboxMessage, mid)
        assert row is not None
        again = federation_pb2.OutboxMessage.FromString(row.message)
    assert deliver(again) == [("REJECTED", "SIGNATURE_INVALID")]


def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_peer_down_delays_delivery_and_loses_nothing(
    tmp_path: Path, region_db_urls: dict[str, str]
) -> None:
    """cq stops; sc's messages wait with backoff; cq restarts; sc's deliverer thread
    delivers every message exactly once."""
    settings = FederationSettings(**{**FAST.__dict__, "deliver_interval_s": 0.1})
    regions = {r: prepare_region(r, tmp_path / r, region_db_urls[r]) for r in ("sc", "cq")}
    for region in regions.values():
        configure(region, list(regions.values()), settings)
    try:
        sc, cq = regions["sc"], regions["cq"]
        recorder = Recorder()
        cq.handlers = MessageHandlers.defaults()
        cq.handlers.register(MK.MESSAGE_KIND_LICENCE_NOTICE, recorder, replace=True)
        cq.start()
        sc_node = sc.start()
        assert sc_node.federation is not None
        (first,) = _enqueue(sc_node, "cq")
        _wait(lambda: recorder.applied[first] == 1)

        cq.stop()
        ids = _enqueue(sc_node, "cq", 3)
        _wait(lambda: _rows(sc_node, FederationOutboxMessage, state="PENDING") == 3)

        def failed_attempts() -> bool:
            with session_scope(sc_node.engine) as session:
                rows = session.scalars(
                    select(FederationOutboxMessage).where(
                        FederationOutboxMessage.message_id.in_(ids)
                    )
                ).all()
                return all(r.attempts >= 2 and "UNAVAILABLE" in r.last_error for r in rows)

        _wait(failed_attempts)
        (cq_view,) = sc_node.federation.status().peers
        assert (cq_view.reachable, cq_view.outbox_backlog) == (False, 3)
        assert "UNAVAILABLE" in cq_view.last_error

        cq.start()  # the same address and database: the peer returns
        _wait(lambda: _rows(sc_node, FederationOutboxMessage, state="DELIVERED") == 4)
        assert all(recorder.applied[m] == 1 for m in [first, *ids])
        assert sum(recorder.applied.values()) == 4
        assert _rows(cq.running(), FederationInboxMessage) == 4
        (cq_view,) = sc_node.federation.status().peers
        assert (cq_view.reachable, cq_view.outbox_backlog, cq_view.last_error) == (True, 0, "")
    finally:
        for region in regions.values():
            region.stop()


def test_concurrent_deliverers_claim_disjoint_messages(migrated_db_url: str) -> None:
    """Several processes on one database never claim the same message at once."""
    from ledger.note import Signer

    engine = make_engine(migrated_db_url)
    outbox = Outbox("sc", ["cq"])
    with session_scope(engine) as session:
        for _ in range(40):
            outbox.enqueue(session, "cq", NOTICE)
    channels = PeerChannels(
        "sc",
        Signer.generate("bashu.exchange/log/sc"),
        [PeerConfig("cq", "127.0.0.1:1", Signer.generate("bashu.exchange/log/cq").vkey())],
    )
    deliverers = [Deliverer(engine, channels, FAST, max_batch=7) for _ in range(4)]
    claimed: list[str] = []
    lock = threading.Lock()

    def work(d: Deliverer) -> None:
        while batch := d._claim("cq", force=False):
            with lock:
                claimed.extend(c.message_id for c in batch)

    threads = [threading.Thread(target=work, args=(d,)) for d in deliverers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 40
    assert len(set(claimed)) == 40
    engine.dispose()
