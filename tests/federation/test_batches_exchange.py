"""Usage batches exchanged between two running nodes (sc provides, cq consumes).

The nodes are real (gRPC servers on loopback, their own databases and keys); the
tests drive sealing (``Batches.seal_once``) and the outboxes (``deliver_once``) by
hand so each step can be looked at. Cross-region uses are made by :func:`make_use`,
which writes what a relayed data call leaves behind on each side (the provider's
UsageRecorded entry and ``access_usage`` row, the consumer's ConsumptionRecorded
entry and ``market_consumption`` row); the process test drives real relayed reads.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from bashu.access.v1 import access_pb2
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2, federation_pb2_grpc
from bashu.ledger.v1 import record_pb2
from sqlalchemy import func, select, update

from ledger.note import Verifier
from ledger.verify import verify_log
from services.batches import Batches, BatchSealer
from services.config import render_peer
from services.db import read_scope, session_scope
from services.models import (
    ConsumptionRow,
    FederationAlarm,
    FederationBatch,
    FederationBatchItem,
    FederationInboxMessage,
    FederationOutboxMessage,
    UsageRow,
)
from services.records import check_entry, decode_record, encode_record
from tests.federation.conftest import FAST, Region, configure, prepare_region
from tests.node.processes import bashu, run

pytestmark = pytest.mark.timeout(180)

SETTINGS = dataclasses.replace(FAST, batch_interval_s=3600.0, batch_min_age_s=0.0)
PARTY = "regions/cq/parties/consumer-1"


@pytest.fixture
def duo(tmp_path: Path, region_db_urls: dict[str, str]) -> Iterator[dict[str, Region]]:
    """sc and cq, peers of each other, running."""
    regions = {r: prepare_region(r, tmp_path / r, region_db_urls[r]) for r in ("sc", "cq")}
    for region in regions.values():
        configure(region, list(regions.values()), SETTINGS)
    try:
        for region in regions.values():
            region.start()
        yield regions
    finally:
        for region in regions.values():
            region.stop()


def batches_of(region: Region) -> Batches:
    return next(b.batches for b in region.running().background if isinstance(b, BatchSealer))


def set_grace(region: Region, seconds: float) -> None:
    b = batches_of(region)
    b.settings = dataclasses.replace(b.settings, batch_grace_s=seconds)


@dataclass(frozen=True)
class Use:
    usage_record_id: str
    request_id: str
    index: int
    leaf_hash: bytes
    rows: int
    amount_fen: int
    time_us: int


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def make_use(
    sc: Region,
    cq: Region | None,
    *,
    rows: int = 3,
    fen: int = 45,
    age_s: float = 5.0,
    consumer_fen: int | None = None,
) -> Use:
    """One relayed use as both nodes record it (``cq`` None: the consumer has not)."""
    t = _now_us() - int(age_s * 1_000_000)
    rid = uuid.uuid4().hex
    usage_id = uuid.uuid4().hex
    record = access_pb2.UsageRecord(
        name=f"regions/sc/usageRecords/{usage_id}",
        id=rid,
        consumer_party=PARTY,
        consumer_region="cq",
        provider_region="sc",
    )
    record.time.FromMicroseconds(t)
    key = f"usage/{PARTY}/{rid}"
    node = sc.running()
    entry = node.ledger.append(
        encode_record(
            "sc",
            "regions/sc/node",
            key,
            usage_recorded=record_pb2.UsageRecorded(usage_record=record),
        ),
        key,
    )
    day = datetime.fromtimestamp(t / 1e6, UTC)
    with session_scope(node.engine) as session:
        session.add(
            UsageRow(
                id=usage_id,
                consumer_party=PARTY,
                request_id=rid,
                request_fingerprint="f" * 64,
                mode="BULK",
                licence_id="lic",
                product_id="people",
                revision=1,
                provider_party="regions/sc/parties/provider-1",
                consumer_region="cq",
                state="RECORDED",
                lease_until_us=0,
                qty_calls=1,
                qty_rows=rows,
                qty_bytes=rows * 100,
                amount_fen=fen,
                currency_code="CNY",
                time_us=t,
                period=day.strftime("%Y-%m"),
                day=day.strftime("%Y-%m-%d"),
                create_us=t,
                update_us=t,
                ledger_index=entry.index,
                ledger_leaf_hash=entry.leaf_hash,
            )
        )
    use = Use(f"{PARTY}/{rid}", rid, entry.index, entry.leaf_hash, rows, fen, t)
    if cq is not None:
        record_consumption(cq, use, fen=consumer_fen)
    return use


def record_consumption(cq: Region, use: Use, *, fen: int | None = None) -> None:
    node = cq.running()
    fen = use.amount_fen if fen is None else fen
    key = f"consumption/{use.usage_record_id}"
    payload = record_pb2.ConsumptionRecorded(
        usage_record=f"regions/sc/usageRecords/{use.request_id}",
        usage_record_id=use.usage_record_id,
        consumer_party=PARTY,
        provider_region="sc",
        provider_entry=common_pb2.EntryRef(
            origin="bashu.exchange/log/sc", index=use.index, leaf_hash=use.leaf_hash
        ),
        quantity=common_pb2.Quantity(calls=1, rows=use.rows, bytes=use.rows * 100),
        amount=common_pb2.Money(currency_code="CNY", amount_fen=fen),
    )
    payload.usage_time.FromMicroseconds(use.time_us)
    entry = node.ledger.append(
        encode_record("cq", "regions/cq/node", key, consumption_recorded=payload), key
    )
    day = datetime.fromtimestamp(use.time_us / 1e6, UTC)
    with session_scope(node.engine) as session:
        session.add(
            ConsumptionRow(
                id=uuid.uuid4().hex,
                usage_record_id=use.usage_record_id,
                usage_record=payload.usage_record,
                provider_region="sc",
                consumer_party=PARTY,
                licence="regions/sc/licences/lic",
                product="regions/sc/products/people",
                tariff="",
                purpose_class=1,
                mode="BULK",
                provider_entry_index=use.index,
                provider_leaf_hash=use.leaf_hash,
                qty_calls=1,
                qty_rows=use.rows,
                qty_bytes=use.rows * 100,
                amount_fen=fen,
                currency_code="CNY",
                usage_time_us=use.time_us,
                period=day.strftime("%Y-%m"),
                day=day.strftime("%Y-%m-%d"),
                receipt=b"",
                ledger_index=entry.index,
                ledger_leaf_hash=entry.leaf_hash,
                create_us=_now_us(),
            )
        )


def deliver(region: Region) -> None:
    region.fed.deliverer.deliver_once(force=True)


def exchange(sc: Region, cq: Region) -> None:
    """sc's outbox to cq, then cq's answers back."""
    deliver(sc)
    deliver(cq)


def rows(region: Region) -> list[FederationBatch]:
    with read_scope(region.running().engine) as session:
        return list(session.scalars(select(FederationBatch).order_by(FederationBatch.sequence)))


def payloads(region: Region) -> list[str]:
    node = region.running()
    found = []
    for e in node.ledger.entries(0, node.ledger.size()):
        kind = decode_record(e.data).WhichOneof("payload") or ""
        if kind.startswith("batch_"):
            found.append(kind)
    return found


def alarms(region: Region, kind: str) -> list[str]:
    with read_scope(region.running().engine) as session:
        return list(
            session.scalars(
                select(FederationAlarm.key).where(
                    FederationAlarm.kind == kind, FederationAlarm.cleared_us.is_(None)
                )
            )
        )


def assert_verifies(region: Region) -> None:
    node = region.running()
    report = verify_log(
        node.engine, Verifier.from_vkey(region.vkey), node.ledger.origin, check_entry=check_entry
    )
    assert report.ok, report.error


def status(region: Region, peer: str) -> federation_pb2.PeerStatus:
    with grpc.insecure_channel(region.address) as channel:
        response = federation_pb2_grpc.FederationServiceStub(channel).GetFederationStatus(
            federation_pb2.GetFederationStatusRequest(),
            metadata=[("authorization", f"Bearer {region.keys['operator']}")],
        )
    found: list[federation_pb2.PeerStatus] = [p for p in response.peers if p.region == peer]
    assert len(found) == 1
    return found[0]


def test_batch_sealed_countersigned_and_recorded_on_both_sides(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    uses = [make_use(sc, cq, rows=n, fen=15 * n) for n in range(1, 6)]

    (sealed,) = batches_of(sc).seal_once()
    assert sealed.name == "regions/sc/batches/cq/1"
    assert (sealed.record_count, sealed.amount_fen) == (5, 15 * 15)
    assert batches_of(sc).seal_once() == []  # nothing left to seal
    assert status(sc, "cq").last_batch_sent.state == federation_pb2.BATCH_EXCHANGE_STATE_SEALED

    deliver(sc)
    assert status(sc, "cq").last_batch_sent.state == (federation_pb2.BATCH_EXCHANGE_STATE_DELIVERED)
    (received,) = rows(cq)
    assert received.state == "COUNTERSIGNED"
    assert status(cq, "sc").last_batch_received.state == (
        federation_pb2.BATCH_EXCHANGE_STATE_COUNTERSIGNED
    )
    deliver(cq)
    (sent,) = rows(sc)
    assert sent.state == "COUNTERSIGNED"
    assert sent.digest == received.digest
    progress = status(sc, "cq").last_batch_sent
    assert (progress.batch, progress.sequence) == ("regions/sc/batches/cq/1", 1)
    assert progress.state == federation_pb2.BATCH_EXCHANGE_STATE_COUNTERSIGNED

    # Both ledgers hold the batch and the countersignature.
    assert payloads(sc) == ["batch_sealed", "batch_countersigned"]
    assert payloads(cq) == ["batch_sealed", "batch_countersigned"]
    cs = federation_pb2.BatchCountersignature.FromString(sent.answer or b"")
    assert cs.consumer_entry.origin == "bashu.exchange/log/cq"
    assert cs.consumer_entry.index == received.answer_index
    batch = federation_pb2.UsageBatch.FromString(sent.batch)
    body = federation_pb2.UsageBatchBody.FromString(batch.body)
    assert [e.usage_record_id for e in body.entries] == [u.usage_record_id for u in uses]
    assert [e.index for e in body.entries] == [u.index for u in uses]
    assert body.checkpoint.tree_size > uses[-1].index

    # New uses go into sequence 2.
    make_use(sc, cq)
    (second,) = batches_of(sc).seal_once()
    assert second.name == "regions/sc/batches/cq/2"
    exchange(sc, cq)
    assert [r.state for r in rows(sc)] == ["COUNTERSIGNED", "COUNTERSIGNED"]
    assert [r.state for r in rows(cq)] == ["COUNTERSIGNED", "COUNTERSIGNED"]
    assert_verifies(sc)
    assert_verifies(cq)


def test_messages_delivered_twice_have_no_second_effect(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    for _ in range(3):
        make_use(sc, cq)
    batches_of(sc).seal_once()
    with read_scope(sc.running().engine) as session:
        (outgoing,) = session.scalars(
            select(FederationOutboxMessage.message).where(
                FederationOutboxMessage.kind == "USAGE_BATCH"
            )
        )
    exchange(sc, cq)
    sizes = (sc.running().ledger.size(), cq.running().ledger.size())

    # The same message again (a retry after a lost ack): DUPLICATE, nothing new.
    message = federation_pb2.OutboxMessage.FromString(outgoing)
    acks = cq.fed.inbox.receive("sc", [message])
    assert [a.status for a in acks] == ["DUPLICATE"]
    # The same batch under a new message id (re-sent after a BatchRequest): accepted,
    # recognised by its digest, no second entry, no second countersignature.
    again = federation_pb2.OutboxMessage()
    again.CopyFrom(message)
    again.message_id = str(uuid.uuid4())
    assert [a.status for a in cq.fed.inbox.receive("sc", [again])] == ["ACCEPTED"]
    # The countersignature delivered again under a new id: no second entry on sc.
    with read_scope(cq.running().engine) as session:
        (answer,) = session.scalars(
            select(FederationOutboxMessage.message).where(
                FederationOutboxMessage.kind == "BATCH_COUNTERSIGNATURE"
            )
        )
    cs = federation_pb2.OutboxMessage.FromString(answer)
    cs.message_id = str(uuid.uuid4())
    assert [a.status for a in sc.fed.inbox.receive("cq", [cs])] == ["ACCEPTED"]
    exchange(sc, cq)
    assert (sc.running().ledger.size(), cq.running().ledger.size()) == sizes
    assert len(rows(sc)) == len(rows(cq)) == 1
    assert payloads(cq) == ["batch_sealed", "batch_countersigned"]
    assert payloads(sc) == ["batch_sealed", "batch_countersigned"]


def test_extra_record_returned_then_corrected_and_rebatched_later(
    duo: dict[str, Region],
) -> None:
    sc, cq = duo["sc"], duo["cq"]
    set_grace(cq, 0.0)  # cq returns at once what it has not recorded
    set_grace(sc, 3600.0)  # sc holds a returned use out of batches for an hour
    uses = [make_use(sc, cq) for _ in range(3)]
    late = make_use(sc, None)  # cq has no consumption for it (yet)

    batches_of(sc).seal_once()
    exchange(sc, cq)
    (first,) = rows(sc)
    assert first.state == "RETURNED"
    returned = federation_pb2.BatchReturn.FromString(first.answer or b"")
    body = federation_pb2.BatchReturnBody.FromString(returned.body)
    assert [(e.grade, e.code, e.usage_record_id) for e in body.errors] == [
        (federation_pb2.ERROR_GRADE_SEVERE, "EXTRA_RECORD", late.usage_record_id)
    ]
    assert body.consumer_entry.origin == "bashu.exchange/log/cq"
    assert payloads(sc) == ["batch_sealed", "batch_returned"]
    assert payloads(cq) == ["batch_sealed", "batch_returned"]
    (alarm,) = alarms(sc, "BATCH_RETURNED")
    assert body.name in alarm
    assert status(sc, "cq").last_batch_sent.state == (federation_pb2.BATCH_EXCHANGE_STATE_RETURNED)

    # The corrected batch: the other three, citing the return; the extra one is held.
    (corrected,) = batches_of(sc).seal_once()
    assert corrected.sequence == 2
    assert corrected.record_count == 3
    assert corrected.corrects_return == body.name
    exchange(sc, cq)
    assert [r.state for r in rows(sc)] == ["RETURNED", "COUNTERSIGNED"]
    assert alarms(sc, "BATCH_RETURNED") == []  # answered

    # The consumption arrives late; once the hold ends the use is batched again.
    record_consumption(cq, late)
    assert batches_of(sc).seal_once() == []  # still held
    with session_scope(sc.running().engine) as session:
        session.execute(update(FederationBatchItem).values(hold_until_us=0).where(
            FederationBatchItem.usage_record_id == late.usage_record_id))  # fmt: skip
    (third,) = batches_of(sc).seal_once()
    assert (third.sequence, third.record_count) == (3, 1)
    exchange(sc, cq)
    assert [r.state for r in rows(sc)] == ["RETURNED", "COUNTERSIGNED", "COUNTERSIGNED"]
    # Every use is covered by exactly one countersigned batch, on both sides.
    with read_scope(cq.running().engine) as session:
        covered = session.scalar(
            select(func.count())
            .select_from(FederationBatchItem)
            .where(
                FederationBatchItem.provider_region == "sc",
                FederationBatchItem.state == "COUNTERSIGNED",
            )
        )
    assert covered == len(uses) + 1
    assert_verifies(sc)
    assert_verifies(cq)


def test_amount_mismatch_returned_and_parked(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    good = make_use(sc, cq)
    bad = make_use(sc, cq, fen=50, consumer_fen=40)
    batches_of(sc).seal_once()
    exchange(sc, cq)
    first = rows(sc)[0]
    body = federation_pb2.BatchReturnBody.FromString(
        federation_pb2.BatchReturn.FromString(first.answer or b"").body
    )
    assert [(e.code, e.usage_record_id) for e in body.errors] == [
        ("AMOUNT_MISMATCH", bad.usage_record_id)
    ]
    (corrected,) = batches_of(sc).seal_once()
    assert corrected.record_count == 1  # only the good one; the other is parked
    exchange(sc, cq)
    with read_scope(sc.running().engine) as session:
        states = dict(
            session.execute(
                select(FederationBatchItem.usage_record_id, FederationBatchItem.state)
            ).all()
        )
    assert states == {good.usage_record_id: "BATCHED", bad.usage_record_id: "PARKED"}
    assert rows(sc)[1].state == "COUNTERSIGNED"


def test_consumption_in_flight_waits_instead_of_refusing(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    set_grace(cq, 3600.0)
    done = make_use(sc, cq)
    in_flight = make_use(sc, None)
    batches_of(sc).seal_once()
    deliver(sc)
    # cq answered RETRY_LATER and recorded nothing.
    assert rows(cq) == []
    assert payloads(cq) == []
    with read_scope(sc.running().engine) as session:
        (row,) = session.scalars(
            select(FederationOutboxMessage).where(FederationOutboxMessage.kind == "USAGE_BATCH")
        )
        assert row.state == "PENDING"
        assert "CONSUMPTION_PENDING" in row.last_error
    record_consumption(cq, in_flight)
    exchange(sc, cq)
    (sent,) = rows(sc)
    assert sent.state == "COUNTERSIGNED"
    assert sent.record_count == 2
    assert done.usage_record_id != in_flight.usage_record_id


def test_missing_sequence_is_noticed_and_asked_for(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    make_use(sc, cq)
    batches_of(sc).seal_once()
    make_use(sc, cq)
    batches_of(sc).seal_once()
    # Batch 1's message is lost (marked delivered without reaching cq).
    with session_scope(sc.running().engine) as session:
        first = session.scalars(select(FederationBatch).where(FederationBatch.sequence == 1)).one()
        session.execute(
            update(FederationOutboxMessage)
            .where(FederationOutboxMessage.message_id == first.message_id)
            .values(state="DELIVERED")
        )
    deliver(sc)
    assert rows(cq) == []  # 2 is not taken before 1
    assert alarms(cq, "BATCH_SEQUENCE_GAP") == ["BATCH_SEQUENCE_GAP:sc"]
    with read_scope(cq.running().engine) as session:
        (request,) = session.scalars(
            select(FederationOutboxMessage.message).where(
                FederationOutboxMessage.kind == "BATCH_REQUEST"
            )
        )
    assert list(federation_pb2.OutboxMessage.FromString(request).batch_request.sequences) == [1]
    deliver(cq)  # the request reaches sc, which queues batch 1 again
    deliver(sc)  # 2 (retried first, still behind the gap: asked for once only), then 1
    assert [(r.sequence, r.state) for r in rows(cq)] == [(1, "COUNTERSIGNED")]
    exchange(sc, cq)  # 2 again, now in order
    assert [(r.sequence, r.state) for r in rows(sc)] == [(1, "COUNTERSIGNED"), (2, "COUNTERSIGNED")]
    assert [(r.sequence, r.state) for r in rows(cq)] == [(1, "COUNTERSIGNED"), (2, "COUNTERSIGNED")]
    assert alarms(cq, "BATCH_SEQUENCE_GAP") == []
    with read_scope(cq.running().engine) as session:
        kinds = dict(
            session.execute(
                select(FederationInboxMessage.kind, func.count()).group_by(
                    FederationInboxMessage.kind
                )
            ).all()
        )
    assert kinds == {"USAGE_BATCH": 2}
    assert payloads(cq).count("batch_countersigned") == 2


def _toml(region: Region, peer: Region) -> Path:
    """A node.toml for ``region`` as it runs here (for the operator's CLI)."""
    path = region.data_dir / "node.toml"
    path.write_text(
        f'region = "{region.name}"\nlisten = "{region.address}"\n'
        f'database_url = "{region.db_url}"\nkey_file = "region.key"\n\n'
        "[federation]\nbatch_min_age_s = 0\npeer_timeout_s = 3\n\n"
        + render_peer(peer.name, peer.address, peer.vkey),
        encoding="utf-8",
    )
    return path


def test_operator_seals_and_lists_with_the_cli(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    config = _toml(sc, cq)
    assert "nothing to seal" in bashu("federation", "batches", "seal", "--config", str(config))
    for _ in range(2):
        make_use(sc, cq, fen=30)
    bad = run("federation", "batches", "seal", "--config", str(config), "--peer", "zz")
    assert bad.returncode != 0
    assert "not a configured peer" in bad.stderr
    assert "Traceback" not in bad.stderr

    out = bashu("federation", "batches", "seal", "--config", str(config))
    assert "regions/sc/batches/cq/1" in out
    assert "delivered 1 of 1" in out  # pushed to cq at once, which countersigned
    deliver(cq)
    assert [r.state for r in rows(sc)] == ["COUNTERSIGNED"]

    listed = bashu("federation", "batches", "list", "--config", str(config))
    (line,) = [x for x in listed.splitlines() if "regions/sc/batches/cq/1" in x]
    assert "sent" in line
    assert "countersigned" in line
    assert " 60 " in line  # amount in fen
    status = bashu("federation", "status", "--config", str(config))
    assert "sent #1 countersigned" in status
    assert "received —" in status
    assert "no held or parked uses" in bashu(
        "federation", "batches", "list", "--items", "--config", str(config)
    )


def test_batch_altered_on_the_way_is_refused_whole_and_corrected(
    duo: dict[str, Region],
) -> None:
    sc, cq = duo["sc"], duo["cq"]
    uses = [make_use(sc, cq) for _ in range(3)]
    batches_of(sc).seal_once()
    # The message in sc's outbox is altered (one bit of the signed body).
    with session_scope(sc.running().engine) as session:
        row = session.scalars(
            select(FederationOutboxMessage).where(FederationOutboxMessage.kind == "USAGE_BATCH")
        ).one()
        message = federation_pb2.OutboxMessage.FromString(row.message)
        body = message.usage_batch.body
        message.usage_batch.body = body[:-1] + bytes([body[-1] ^ 1])
        row.message = message.SerializeToString(deterministic=True)
    exchange(sc, cq)
    (first,) = rows(sc)
    assert first.state == "RETURNED"
    returned = federation_pb2.BatchReturnBody.FromString(
        federation_pb2.BatchReturn.FromString(first.answer or b"").body
    )
    assert [(e.grade, e.code) for e in returned.errors] == [
        (federation_pb2.ERROR_GRADE_FATAL, "SIGNATURE_INVALID")
    ]
    assert returned.batch == "regions/sc/batches/cq/1"
    # Refused whole: every use goes back to the pool and into the corrected batch.
    (corrected,) = batches_of(sc).seal_once()
    assert (corrected.sequence, corrected.record_count) == (2, len(uses))
    assert corrected.corrects_return == returned.name
    exchange(sc, cq)
    assert [(r.sequence, r.state) for r in rows(sc)] == [(1, "RETURNED"), (2, "COUNTERSIGNED")]
    assert [(r.sequence, r.state) for r in rows(cq)] == [(1, "RETURNED"), (2, "COUNTERSIGNED")]
    assert alarms(cq, "BATCH_SEQUENCE_GAP") == []
    assert_verifies(sc)
    assert_verifies(cq)


def test_a_long_pool_is_cut_into_batches_by_event_time(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    batches_of(sc).max_entries = 3
    # Recorded in one order, happened in another: the ledger order is not time order.
    ages = [9.0, 5.0, 8.0, 6.0, 7.0, 4.0, 3.0]
    uses = [make_use(sc, cq, age_s=a) for a in ages]
    sealed = batches_of(sc).seal_once()
    assert [b.record_count for b in sealed] == [3, 3, 1]
    exchange(sc, cq)
    assert [r.state for r in rows(sc)] == ["COUNTERSIGNED"] * 3  # no MISSING_RECORD
    first = federation_pb2.UsageBatchBody.FromString(
        federation_pb2.UsageBatch.FromString(rows(sc)[0].batch).body
    )
    oldest = sorted(uses, key=lambda u: u.time_us)[:3]
    assert sorted(e.usage_record_id for e in first.entries) == sorted(
        u.usage_record_id for u in oldest
    )
    assert [e.index for e in first.entries] == sorted(e.index for e in first.entries)


def test_missing_record_brings_a_held_use_back_at_once(duo: dict[str, Region]) -> None:
    sc, cq = duo["sc"], duo["cq"]
    set_grace(cq, 0.0)
    set_grace(sc, 3600.0)
    held = make_use(sc, None, age_s=5.0)
    make_use(sc, cq, age_s=5.0)
    batches_of(sc).seal_once()
    exchange(sc, cq)  # returned: EXTRA_RECORD for `held`
    batches_of(sc).seal_once()
    exchange(sc, cq)  # the correction, without `held`, countersigned
    assert [r.state for r in rows(sc)] == ["RETURNED", "COUNTERSIGNED"]

    record_consumption(cq, held)  # cq has it now; sc holds it for another hour
    before, after = make_use(sc, cq, age_s=10.0), make_use(sc, cq, age_s=1.0)
    (third,) = batches_of(sc).seal_once()
    assert third.record_count == 2
    exchange(sc, cq)
    third_row = rows(sc)[2]
    assert third_row.state == "RETURNED"
    body = federation_pb2.BatchReturnBody.FromString(
        federation_pb2.BatchReturn.FromString(third_row.answer or b"").body
    )
    assert [(e.grade, e.code, e.usage_record_id) for e in body.errors] == [
        (federation_pb2.ERROR_GRADE_WARNING, "LATE_RECORD", before.usage_record_id),
        (federation_pb2.ERROR_GRADE_SEVERE, "MISSING_RECORD", held.usage_record_id),
    ]
    (fourth,) = batches_of(sc).seal_once()  # no waiting for the hold
    assert fourth.record_count == 3
    assert fourth.corrects_return == body.name
    exchange(sc, cq)
    assert rows(sc)[3].state == "COUNTERSIGNED"
    with read_scope(cq.running().engine) as session:
        covered = set(
            session.scalars(
                select(FederationBatchItem.usage_record_id).where(
                    FederationBatchItem.state == "COUNTERSIGNED"
                )
            )
        )
    assert {held.usage_record_id, before.usage_record_id, after.usage_record_id} <= covered
    assert len(covered) == 4
