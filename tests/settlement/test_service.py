"""SettlementService on real nodes: two regions close a period and sign identical
statements, a tampered or unreproducible statement is refused, every line traces to
ledger entries, three regions net to zero, and a dispute runs to its decision."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import record_pb2
from bashu.settlement.v1 import settlement_pb2

from clients.sdk.errors import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    VerificationError,
)
from clients.sdk.ledger import verify_inclusion_offline
from clients.sdk.settlement import verify_statement_signatures
from services.db import read_scope, session_scope
from services.models import FederationBatch
from services.records import decode_record
from services.settlement import ManualClock
from services.settlement.statement import entries_root, signed_message
from services.settlement_store import load_periods
from services.witness import checkpoint_proto
from tests.settlement.test_service_support import (
    OCTOBER,
    Federation,
    Use,
    book_of,
    oct_,
    pair,
    region_db_urls,
    seed_use,
    trio3,
)

__all__ = ["pair", "region_db_urls", "trio3"]

S = settlement_pb2


def close_everywhere(fed: Federation, period: str = OCTOBER) -> None:
    for name in fed.regions:
        c = fed.client(name)
        p = c.settlement.close_period(period)
        assert p.state == S.PERIOD_STATE_CLOSING
        p = c.settlement.close_period(period, end_grace_now=True)
        assert p.state == S.PERIOD_STATE_CLOSED


def test_two_regions_sign_identical_statements(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    seed_use(sc, cq, at=oct_(3), amount_fen=1250)
    seed_use(
        sc, cq, at=oct_(4), amount_fen=0, purpose_class=common_pb2.PURPOSE_CLASS_PUBLIC_WELFARE
    )
    seed_use(sc, cq, at=oct_(31, 23), amount_fen=333, product="p-licence")
    seed_use(cq, sc, at=oct_(9), amount_fen=700)
    close_everywhere(pair)

    ours = pair.client("sc").settlement.statement(OCTOBER, "cq")
    theirs = pair.client("cq").settlement.statement(OCTOBER, "sc")
    assert ours.content_body == theirs.content_body
    assert ours.state == S.STATEMENT_STATE_UNSIGNED
    c = ours.content
    assert c.record_count == 4
    assert (c.net_payer_region, c.net_payee_region) == ("cq", "sc")
    assert c.net_amount.amount_fen == 1250 + 333 - 700
    assert sum(line.zero_priced_count for line in c.lines) == 1

    signed = pair.client("sc").settlement.sign(OCTOBER, "cq", ours.content_digest)
    assert signed.state == S.STATEMENT_STATE_PARTIALLY_SIGNED
    pair.deliver()
    final_sc = pair.client("sc").settlement.statement(OCTOBER, "cq")
    final_cq = pair.client("cq").settlement.statement(OCTOBER, "sc")
    assert final_sc.state == S.STATEMENT_STATE_SIGNED
    assert final_cq.state == S.STATEMENT_STATE_SIGNED
    keys = {"sc": [sc.vkey], "cq": [cq.vkey]}
    assert verify_statement_signatures(final_sc, keys) == ["cq", "sc"]
    assert verify_statement_signatures(final_cq, keys) == ["cq", "sc"]
    assert final_sc.content_body == final_cq.content_body
    # Both ledgers hold the complete signature.
    for region in (sc, cq):
        found = [
            decode_record(e.data).statement_signed
            for e in region.running().ledger.entries(0, 1000)
            if decode_record(e.data).WhichOneof("payload") == "statement_signed"
        ]
        assert any(f.complete and f.content_body == ours.content_body for f in found)
        # The computed statement was pinned before anyone signed it.
        computed = [f for f in found if not f.HasField("signature")]
        assert [f.content_body for f in computed] == [ours.content_body]


def test_late_record_lands_in_the_next_open_period(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    seed_use(sc, cq, at=oct_(3), amount_fen=1250)
    close_everywhere(pair)
    before = pair.client("sc").settlement.statement(OCTOBER, "cq")
    now = datetime.now(UTC)
    late = seed_use(sc, cq, at=oct_(20), amount_fen=99, arrival=now)
    # Nothing that arrives after the close changes the closed period ...
    for region, cp in (("sc", "cq"), ("cq", "sc")):
        again = pair.client(region).settlement.statement(OCTOBER, cp)
        assert again.content_body == before.content_body
        assert pair.client(region).settlement.period(OCTOBER).late_record_count == 1
    # ... it counts in the next open period, marked late, on both sides alike.
    book = book_of(sc)
    november = book.cadence.period("2026-11")
    with read_scope(book.engine) as session:
        periods = load_periods(session)
        table = book.usage.usage(session, "cq", november, book.cadence, periods)
    rows = table.table.to_pylist()
    assert [(r["record_id"], r["late"]) for r in rows] == [(late.record_id, True)]


def test_net_is_sum_of_lines_traced_to_ledger_entries(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    uses = [seed_use(sc, cq, at=oct_(d), amount_fen=d * 101 + 1) for d in range(1, 9)]
    uses += [seed_use(cq, sc, at=oct_(d), amount_fen=d * 7, product="p-x") for d in (2, 5)]
    close_everywhere(pair)
    st = pair.client("cq").settlement.statement(OCTOBER, "sc")
    c = st.content
    nets = {(t.provider_region, t.consumer_region): t.net_amount.amount_fen for t in c.totals}
    for t in c.totals:
        lines = [ln for ln in c.lines if ln.provider_region == t.provider_region]
        assert t.gross_amount.amount_fen == sum(ln.gross_amount.amount_fen for ln in lines)
        assert t.net_amount.amount_fen == t.gross_amount.amount_fen
    assert c.net_amount.amount_fen == abs(nets[("sc", "cq")] - nets[("cq", "sc")])
    # Every line: its provider's usage entries, read back from that ledger, give the
    # line's record count, gross amount and entries root.
    for line in c.lines:
        region = pair[line.provider_region].running()
        picked = []
        for e in region.ledger.entries(0, 1000):
            rec = decode_record(e.data)
            if rec.WhichOneof("payload") != "usage_recorded":
                continue
            u = rec.usage_recorded.usage_record
            if (u.product, u.tariff, u.consumer_region) == (
                line.product,
                line.tariff,
                line.consumer_region,
            ):
                picked.append((e.index, e.leaf_hash, u.amount.amount_fen))
        assert len(picked) == line.record_count
        assert sum(a for _, _, a in picked) == line.gross_amount.amount_fen
        assert entries_root(b"".join(h for _, h, _ in sorted(picked))) == line.entries_root


def test_tampered_statement_is_refused(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    seed_use(sc, cq, at=oct_(5), amount_fen=5000)
    close_everywhere(pair)
    st = pair.client("sc").settlement.statement(OCTOBER, "cq")
    sig = book_of(sc).sign_with(signed_message(st.content_body))
    content = S.StatementContent.FromString(st.content_body)
    content.lines[0].gross_amount.amount_fen += 1
    tampered = content.SerializeToString(deterministic=True)

    def message(body: bytes, signature: bytes) -> federation_pb2.OutboxMessage:
        m = federation_pb2.OutboxMessage(
            message_id=hashlib.sha256(body + signature).hexdigest()[:32],
            kind=federation_pb2.MESSAGE_KIND_STATEMENT_FOR_SIGNATURE,
            sender_region="sc",
            recipient_region="cq",
        )
        m.statement_for_signature.period = OCTOBER
        m.statement_for_signature.content_body = body
        m.statement_for_signature.signature.CopyFrom(
            common_pb2.Signature(
                signer_region="sc", key_name=sig.key_name, key_id=sig.key_id, signature=signature
            )
        )
        return m

    # One fen changed under sc's signature: the signature no longer verifies.
    (ack,) = cq.fed.inbox.receive("sc", [message(tampered, sig.signature)])
    assert (ack.status, ack.reason) == ("REJECTED", "SIGNATURE_INVALID")
    # Validly signed but not what cq's own ledger gives: refused, saying where.
    resigned = book_of(sc).sign_with(signed_message(tampered)).signature
    (ack,) = cq.fed.inbox.receive("sc", [message(tampered, resigned)])
    assert ack.status == "ACCEPTED"
    held = pair.client("cq").settlement.statement(OCTOBER, "sc")
    assert held.state == S.STATEMENT_STATE_REFUSED
    assert "lines[0].gross_amount.amount_fen: 5000 != 5001" in held.refusal_reason
    assert held.signatures == []


def test_statement_the_counterparty_cannot_reproduce_is_not_signed(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    seed_use(sc, cq, at=oct_(5), amount_fen=5000)
    seed_use(sc, None, at=oct_(6), amount_fen=10, consumer_region="cq")  # cq never heard
    close_everywhere(pair)
    st = pair.client("sc").settlement.statement(OCTOBER, "cq")
    pair.client("sc").settlement.sign(OCTOBER, "cq", st.content_digest)
    pair.deliver()
    after = pair.client("sc").settlement.statement(OCTOBER, "cq")
    assert after.state == S.STATEMENT_STATE_REFUSED
    assert "cq cannot reproduce" in after.refusal_reason
    assert "record_count" in after.refusal_reason
    assert [s.signer_region for s in after.signatures] == ["sc"]
    with pytest.raises(FailedPreconditionError) as info:
        pair.client("sc").settlement.net(OCTOBER)
    assert info.value.reason == "STATEMENT_NOT_SIGNED"


def test_period_lifecycle_errors(pair: Federation) -> None:
    c = pair.client("sc").settlement
    with pytest.raises(FailedPreconditionError) as info:
        c.close_period("2026-11")
    assert info.value.reason == "PERIOD_NOT_ENDED"
    with pytest.raises(NotFoundError):
        c.period("2027-05")
    with pytest.raises(FailedPreconditionError) as info:
        c.statement(OCTOBER, "cq")
    assert info.value.reason == "PERIOD_NOT_CLOSED"
    c.close_period(OCTOBER)
    with pytest.raises(FailedPreconditionError) as info:
        c.close_period(OCTOBER)
    assert info.value.reason == "INVALID_STATE_TRANSITION"
    closed = c.close_period(OCTOBER, end_grace_now=True)
    assert closed.state == S.PERIOD_STATE_CLOSED
    assert closed.ledger_entry.index > 0
    names = [p.name for p in c.periods()]
    assert names[:2] == ["regions/sc/periods/2026-11", "regions/sc/periods/2026-10"]
    kinds = [
        decode_record(e.data).period_status_changed.new_state
        for e in pair["sc"].running().ledger.entries(0, 1000)
        if decode_record(e.data).WhichOneof("payload") == "period_status_changed"
    ]
    assert kinds == [S.PERIOD_STATE_CLOSING, S.PERIOD_STATE_CLOSED]
    _ = record_pb2


def sign_pair(fed: Federation, signer: str, counterparty: str) -> None:
    c = fed.client(signer).settlement
    st = c.statement(OCTOBER, counterparty)
    c.sign(OCTOBER, counterparty, st.content_digest)


def test_three_regions_net_to_zero(trio3: Federation) -> None:
    sc, cq, sg = trio3["sc"], trio3["cq"], trio3["sg"]
    # cq owes sc 10.00, sc owes sg 7.00, sg owes cq 2.00 (the docs' example) ...
    seed_use(sc, cq, at=oct_(2), amount_fen=600)
    seed_use(sc, cq, at=oct_(3), amount_fen=400)
    seed_use(sg, sc, at=oct_(4), amount_fen=700)
    seed_use(cq, sg, at=oct_(5), amount_fen=250)
    seed_use(sg, cq, at=oct_(6), amount_fen=50)  # ... net of this one: sg owes cq 2.00
    close_everywhere(trio3)
    sign_pair(trio3, "sc", "cq")
    sign_pair(trio3, "cq", "sg")
    sign_pair(trio3, "sg", "sc")
    trio3.deliver()
    for a, b in (("sc", "cq"), ("cq", "sg"), ("sg", "sc")):
        assert trio3.client(a).settlement.statement(OCTOBER, b).state == S.STATEMENT_STATE_SIGNED

    # sc nets all three; the cq-sg statement comes from its peers, signatures checked.
    n = trio3.client("sc").settlement.net(OCTOBER, ["sc", "cq", "sg"])
    assert n.mode == S.NETTING_MODE_MULTILATERAL
    assert n.conserved
    assert n.all_statements_signed
    positions = {p.region: p.net.amount_fen for p in n.positions}
    assert positions == {"cq": -800, "sc": 300, "sg": 500}
    assert sum(positions.values()) == 0
    moved = dict.fromkeys(positions, 0)
    for t in n.transfers:
        moved[t.payer_region] -= t.amount.amount_fen
        moved[t.payee_region] += t.amount.amount_fen
    assert moved == positions
    assert len(n.transfers) <= 2
    assert [s.step for s in n.steps] == list(range(1, len(n.steps) + 1))
    assert any("payer\\payee" in s.description for s in n.steps)
    # The same from another region, and bilateral per pair.
    other = trio3.client("sg").settlement.net(OCTOBER, ["sc", "cq", "sg"])
    assert {p.region: p.net.amount_fen for p in other.positions} == positions
    bilateral = trio3.client("cq").settlement.net(OCTOBER, mode=S.NETTING_MODE_BILATERAL)
    assert {(t.payer_region, t.payee_region, t.amount.amount_fen) for t in bilateral.transfers} == {
        ("cq", "sc", 1000),
        ("sc", "sg", 700),
        ("sg", "cq", 200),
    }


def test_dispute_to_its_end_is_held_out_then_posted(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    use = seed_use(sc, cq, at=oct_(7), amount_fen=3000)
    seed_use(sc, cq, at=oct_(8), amount_fen=1000)
    close_everywhere(pair)
    cq_fin = pair.client("cq").settlement
    d = cq_fin.raise_dispute(
        OCTOBER,
        provider_region="sc",
        consumer_region="cq",
        amount_fen=3000,
        reason_code="DUPLICATE_RECORD",
        description="delivered twice",
        entries=[use.entry],
        evidence=[S.Evidence(description="our log", media_type="text/csv", content=b"a,b\n")],
    )
    assert d.state == S.DISPUTE_STATE_RAISED
    pair.deliver()
    # Both regions hold it and keep its amount out of the statement's net.
    copy = pair.client("sc").settlement.dispute(d.name)
    assert copy.state == S.DISPUTE_STATE_RAISED
    assert copy.raiser == d.raiser
    for region, cp in (("sc", "cq"), ("cq", "sc")):
        st = pair.client(region).settlement.statement(OCTOBER, cp)
        assert [h.dispute for h in st.content.disputed] == [d.name]
        assert st.content.net_amount.amount_fen == 1000
    preview = cq_fin.net(OCTOBER, allow_unsigned=True)
    assert {p.region: p.net.amount_fen for p in preview.positions} == {"sc": 1000, "cq": -1000}

    d = cq_fin.add_evidence(
        d.name, [S.Evidence(description="the two receipts", entries=[use.entry])]
    )
    assert d.state == S.DISPUTE_STATE_EVIDENCE
    pair.deliver()
    with pytest.raises(PermissionDeniedError) as denied:
        cq_fin.respond(d.name, "we respond to ourselves")
    assert denied.value.reason == "NOT_DISPUTE_PARTY"
    d = pair.client("sc").settlement.respond(d.name, "half was a retry", conceded_fen=1500)
    assert d.state == S.DISPUTE_STATE_RESPONDED
    pair.deliver()
    with pytest.raises(PermissionDeniedError):
        pair.client("sc").settlement.decide(d.name, S.DISPUTE_OUTCOME_PARTIAL, 1500, "split")
    decided = pair.client("sc", "operator").settlement.decide(
        d.name, S.DISPUTE_OUTCOME_PARTIAL, 1500, "the committee splits it"
    )
    adj = decided.adjustment
    assert decided.dispute.state == S.DISPUTE_STATE_DECIDED
    assert adj.kind == S.ADJUSTMENT_KIND_DISPUTE_DECISION
    assert adj.amount_delta.amount_fen == -1500  # cq, the consumer, owes less
    assert adj.period == "2026-11"  # the current open period, not October
    assert adj.corrects.index == use.provider_index
    pair.deliver()
    # The other region holds the same adjustment (same ledger entry) and history.
    theirs = [a for a in cq_fin.adjustments(period="2026-11") if a.dispute == d.name]
    assert len(theirs) == 1
    assert theirs[0].ledger_entry == adj.ledger_entry
    assert cq_fin.dispute(d.name).state == S.DISPUTE_STATE_DECIDED
    assert len(cq_fin.dispute(d.name).events) == len(decided.dispute.events) == 4
    # The hold is released: October's statements no longer keep it out, identically.
    ours = pair.client("sc").settlement.statement(OCTOBER, "cq")
    theirs_st = cq_fin.statement(OCTOBER, "sc")
    assert ours.content_body == theirs_st.content_body
    assert list(ours.content.disputed) == []
    assert ours.content.net_amount.amount_fen == 4000
    # Every step is in the ledger of the node that took it.
    steps = [
        decode_record(e.data).dispute_event.event.kind
        for e in sc.running().ledger.entries(0, 1000)
        if decode_record(e.data).WhichOneof("payload") == "dispute_event"
    ]
    assert steps == [1, 2, 3, 5]


def test_corrections_cite_what_they_correct(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    use = seed_use(sc, cq, at=oct_(7), amount_fen=3000, rows=40)
    close_everywhere(pair)
    fin = pair.client("sc").settlement
    rev = fin.reverse(use.entry, "delivered twice")
    assert rev.amount_delta.amount_fen == -3000
    assert rev.quantity_delta.rows == -40
    assert rev.period == "2026-11"
    assert rev.corrects == use.entry
    assert rev.ledger_entry.index > use.provider_index
    assert fin.adjustment(rev.name) == rev
    with pytest.raises(FailedPreconditionError) as info:
        fin.reverse(use.entry, "again")
    assert info.value.reason == "ENTRY_ALREADY_REVERSED"
    missing = common_pb2.EntryRef(origin=use.entry.origin, index=9999, leaf_hash=bytes(32))
    with pytest.raises(NotFoundError) as nf:
        fin.reverse(missing, "nothing there")
    assert nf.value.reason == "ENTRY_NOT_FOUND"
    posted = [
        decode_record(e.data).adjustment.adjustment
        for e in sc.running().ledger.entries(0, 1000)
        if decode_record(e.data).WhichOneof("payload") == "adjustment"
    ]
    assert [p.corrects.index for p in posted] == [use.provider_index]
    # October is unchanged: corrections land now, not then.
    st = fin.statement(OCTOBER, "cq")
    assert list(st.content.adjustments) == []


def test_scheduler_closes_after_the_grace_window_and_records_missed_deadlines(
    pair: Federation,
) -> None:
    sc, cq = pair["sc"], pair["cq"]
    seed_use(sc, cq, at=oct_(7), amount_fen=800)
    fin = pair.client("sc").settlement
    closing = fin.close_period(OCTOBER, request_id="close-oct")
    assert closing.state == S.PERIOD_STATE_CLOSING
    # A retry with the same request id returns the first result, no second transition.
    assert fin.close_period(OCTOBER, request_id="close-oct").state == S.PERIOD_STATE_CLOSING
    book = book_of(sc)
    book.run_once()
    assert fin.period(OCTOBER).state == S.PERIOD_STATE_CLOSING
    grace_end = closing.grace_end_time.ToDatetime(tzinfo=UTC)
    book.clock = ManualClock(grace_end + timedelta(seconds=1))
    book.run_once()
    closed = fin.period(OCTOBER)
    assert closed.state == S.PERIOD_STATE_CLOSED
    assert closed.closer == "regions/sc/node"
    assert fin.statement(OCTOBER, "cq").content.record_count == 1

    d = pair.client("cq").settlement.raise_dispute(
        "2026-11",
        provider_region="sc",
        consumer_region="cq",
        amount_fen=100,
        reason_code="OTHER",
        description="no answer expected",
    )
    pair.deliver()
    cq_book = book_of(cq)
    cq_book.clock = ManualClock(d.response_deadline.ToDatetime(tzinfo=UTC) + timedelta(days=1))
    cq_book.run_once()
    after = pair.client("cq").settlement.dispute(d.name)
    assert after.state == S.DISPUTE_STATE_RESPONDED
    assert after.events[-1].kind == S.DISPUTE_EVENT_KIND_DEADLINE_MISSED
    assert after.events[-1].time == d.response_deadline
    pair.deliver()
    copy = pair.client("sc").settlement.dispute(d.name)
    assert copy.state == S.DISPUTE_STATE_RESPONDED
    assert len(copy.events) == 2
    # Money is never released by a timer: still held until someone decides.
    with pytest.raises(FailedPreconditionError) as info:
        pair.client("sc").settlement.respond(d.name, "too late?")
    assert info.value.reason == "INVALID_STATE_TRANSITION"


def test_roles(pair: Federation) -> None:
    with pytest.raises(PermissionDeniedError):
        pair.client("sc", "provider").settlement.period(OCTOBER)
    with pytest.raises(PermissionDeniedError):
        pair.client("sc", "operator").settlement.close_period(OCTOBER)
    assert pair.client("sc", "operator").settlement.period(OCTOBER).state == S.PERIOD_STATE_OPEN


def test_a_correction_reaches_the_counterparty_with_the_statement(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    use = seed_use(sc, cq, at=oct_(7), amount_fen=3000, rows=40)
    seed_use(sc, cq, at=datetime(2026, 11, 2, tzinfo=UTC), amount_fen=500)
    rev = pair.client("sc").settlement.reverse(use.entry, "delivered twice")
    assert rev.period == "2026-11"
    december = ManualClock(datetime(2026, 12, 2, tzinfo=UTC))
    book_of(sc).clock = book_of(cq).clock = december
    close_everywhere(pair, "2026-11")
    # cq has not seen the reversal: its own statement lacks it ...
    assert list(pair.client("cq").settlement.statement("2026-11", "sc").content.adjustments) == []
    st = pair.client("sc").settlement.statement("2026-11", "cq")
    assert [a.adjustment for a in st.content.adjustments] == [rev.name]
    # 5.00 of November usage minus the 30.00 reversed: sc owes cq 25.00 back.
    assert (st.content.net_payer_region, st.content.net_amount.amount_fen) == ("sc", 2500)
    pair.client("sc").settlement.sign("2026-11", "cq", st.content_digest)
    pair.deliver()
    # ... until sc's statement cites it: cq fetches the entry, checks its leaf hash
    # against the citation, recomputes and signs the same bytes.
    theirs = pair.client("cq").settlement.statement("2026-11", "sc")
    assert theirs.state == S.STATEMENT_STATE_SIGNED
    assert theirs.content_body == st.content_body
    assert pair.client("sc").settlement.statement("2026-11", "cq").state == (
        S.STATEMENT_STATE_SIGNED
    )
    copy = pair.client("cq").settlement.adjustment(rev.name)
    assert copy.ledger_entry == rev.ledger_entry


def _countersigned_batch(
    fed: Federation,
    uses: list[Use],
    sequence: int,
    checkpoint: common_pb2.Checkpoint | None = None,
) -> str:
    """A batch of ``uses`` (sc → cq) as both nodes hold it once countersigned."""
    body = federation_pb2.UsageBatchBody(
        name=f"regions/sc/batches/cq/{sequence}",
        provider_region="sc",
        consumer_region="cq",
        sequence=sequence,
        record_count=len(uses),
        total_amount=common_pb2.Money(
            currency_code="CNY", amount_fen=sum(u.amount_fen for u in uses)
        ),
        merkle_root=entries_root(b"".join(u.provider_leaf for u in uses)),
        entries=[
            federation_pb2.BatchEntry(
                index=u.provider_index, leaf_hash=u.provider_leaf, usage_record_id=u.record_id
            )
            for u in uses
        ],
        period=OCTOBER,
        checkpoint=checkpoint,
    ).SerializeToString(deterministic=True)
    digest = hashlib.sha256(body).hexdigest()
    answer = federation_pb2.BatchCountersignature(
        batch=f"regions/sc/batches/cq/{sequence}",
        batch_digest=bytes.fromhex(digest),
        consumer_entry=common_pb2.EntryRef(
            origin="bashu.exchange/log/cq", index=sequence, leaf_hash=bytes([sequence]) * 32
        ),
    ).SerializeToString(deterministic=True)
    for region in ("sc", "cq"):
        with session_scope(fed[region].running().engine) as session:
            session.add(
                FederationBatch(
                    digest=digest,
                    name=f"regions/sc/batches/cq/{sequence}",
                    provider_region="sc",
                    consumer_region="cq",
                    sequence=sequence,
                    state="COUNTERSIGNED",
                    batch=federation_pb2.UsageBatch(body=body).SerializeToString(),
                    record_count=len(uses),
                    amount_fen=sum(u.amount_fen for u in uses),
                    period=OCTOBER,
                    start_us=0,
                    end_us=0,
                    seal_us=0,
                    answer=answer,
                    update_us=0,
                )
            )
    return digest


def test_statement_cites_the_batches_that_cover_it(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    first = [seed_use(sc, cq, at=oct_(d), amount_fen=100 * d) for d in (1, 2)]
    later = seed_use(sc, cq, at=oct_(3), amount_fen=7)
    _countersigned_batch(pair, first, 1)
    close_everywhere(pair)
    # The direction is only partly batched: no batch is cited.
    st = pair.client("sc").settlement.statement(OCTOBER, "cq")
    assert list(st.content.batches) == []
    digest = _countersigned_batch(pair, [later], 2)
    st = pair.client("sc").settlement.statement(OCTOBER, "cq")
    theirs = pair.client("cq").settlement.statement(OCTOBER, "sc")
    assert st.content_body == theirs.content_body
    cited = [(b.sequence, b.record_count, b.amount.amount_fen) for b in st.content.batches]
    assert cited == [(1, 2, 300), (2, 1, 7)]
    assert st.content.batches[1].batch_digest.hex() == digest
    assert st.content.batches[1].consumer_entry.origin == "bashu.exchange/log/cq"
    pair.client("sc").settlement.sign(OCTOBER, "cq", st.content_digest)
    pair.deliver()
    assert pair.client("cq").settlement.statement(OCTOBER, "sc").state == (S.STATEMENT_STATE_SIGNED)


def _sc_checkpoint(fed: Federation) -> common_pb2.Checkpoint:
    signed = fed["sc"].running().ledger.checkpoint()
    return checkpoint_proto(signed.note, signed.checkpoint)


def test_statement_cites_the_batches_checkpoint_that_proves_its_usage(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    first = [seed_use(sc, cq, at=oct_(d), amount_fen=100 * d) for d in (1, 2)]
    early = _sc_checkpoint(pair)
    later = seed_use(sc, cq, at=oct_(3), amount_fen=7)
    covering = _sc_checkpoint(pair)
    assert early.tree_size <= later.provider_index < covering.tree_size
    _countersigned_batch(pair, first, 1, early)
    _countersigned_batch(pair, [later], 2, covering)
    close_everywhere(pair)
    st = pair.client("sc").settlement.statement(OCTOBER, "cq")
    theirs = pair.client("cq").settlement.statement(OCTOBER, "sc")
    assert st.content_body == theirs.content_body
    # The smallest batch checkpoint that includes every usage entry: not the early one.
    assert list(st.content.checkpoints) == [covering]
    pair.client("sc").settlement.sign(OCTOBER, "cq", st.content_digest)
    pair.deliver()
    signed = pair.client("cq").settlement.statement(OCTOBER, "sc")
    assert signed.state == S.STATEMENT_STATE_SIGNED
    assert signed.content_body == st.content_body
    assert list(signed.content.checkpoints) == [covering]
    # Each usage entry of the statement's line is in sc's ledger at the cited
    # checkpoint, checked offline with sc's key alone.
    uses = [*first, later]
    (line,) = st.content.lines
    assert line.entries_root == entries_root(b"".join(u.provider_leaf for u in uses))
    key = pair.client("sc").ledger.public_key()
    cited = st.content.checkpoints[0]
    for u in uses:
        proof = sc.running().ledger.inclusion_proof(u.provider_index, cited.tree_size)
        cp = verify_inclusion_offline(
            key, u.provider_leaf, u.provider_index, proof, cited.signed_note
        )
        assert cp.size == cited.tree_size
    with pytest.raises(VerificationError):
        verify_inclusion_offline(
            key,
            first[0].provider_leaf,
            later.provider_index,
            sc.running().ledger.inclusion_proof(later.provider_index, cited.tree_size),
            cited.signed_note,
        )


def test_statement_without_a_covering_batch_checkpoint_cites_none(pair: Federation) -> None:
    sc, cq = pair["sc"], pair["cq"]
    uses = [seed_use(sc, cq, at=oct_(d), amount_fen=100 * d) for d in (1, 2)]
    _countersigned_batch(pair, uses, 1)
    close_everywhere(pair)
    st = pair.client("sc").settlement.statement(OCTOBER, "cq")
    assert len(st.content.batches) == 1
    assert list(st.content.checkpoints) == []
