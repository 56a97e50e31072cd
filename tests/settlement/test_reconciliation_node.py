"""Reconciliation between two real nodes (sc and cq) over the federation, on SQLite and
PostgreSQL: zero differences when both ledgers agree, exactly the injected ones when
they do not, the report as a ledger entry, paging, idempotency and the errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from bashu.federation.v1 import federation_pb2
from bashu.settlement.v1 import settlement_pb2

from clients.sdk import errors
from services.config import PeerConfig
from services.peers import PeerChannels
from services.reconciliation_store import read_arrow_chunks, records_from_messages
from services.records import decode_record
from services.settlement.reconcile import RecordScope
from tests.settlement.reconcile_world import (
    PERIOD,
    Use,
    World,
    drop_consumption_uniqueness,
    duo_db_urls,
    start_world,
    uses,
)

RECORD = settlement_pb2.RECONCILIATION_TIER_RECORD
PRODUCT_DAY = settlement_pb2.RECONCILIATION_TIER_PRODUCT_DAY
TOTALS = settlement_pb2.RECONCILIATION_TIER_STATEMENT_TOTALS
S = settlement_pb2


@pytest.fixture
def duo_urls(db_url: str) -> Iterator[dict[str, str]]:
    yield from duo_db_urls(db_url)


@pytest.fixture
def world(tmp_path: Path, duo_urls: dict[str, str]) -> Iterator[World]:
    w = start_world(tmp_path, duo_urls)
    try:
        yield w
    finally:
        for region in w.regions.values():
            region.stop()
        w.close()


def _consistent(world: World, n_sc: int = 30, n_cq: int = 15) -> tuple[list[Use], list[Use]]:
    sc_cq, cq_sc = uses(n_sc, "sc", "cq"), uses(n_cq, "cq", "sc")
    for u in sc_cq + cq_sc:
        world.record_both(u)
    return sc_cq, cq_sc


def _record_items(
    world: World, report: S.ReconciliationReport
) -> dict[str, tuple[int, tuple[str, ...]]]:
    client = world.client("sc")
    out = {}
    for d in client.reconciliation.discrepancies(report.name, tier="record", page_size=3):
        assert d.key not in out
        out[d.key] = (int(d.status), tuple(d.differing_fields))
    return out


def test_consistent_ledgers_reconcile_to_zero_and_the_report_is_a_ledger_entry(
    world: World,
) -> None:
    sc_cq, cq_sc = _consistent(world)
    client = world.client("sc")
    report = client.reconciliation.reconcile(PERIOD, "cq")

    assert report.record_counts == S.MatchCounts(matched=len(sc_cq) + len(cq_sc))
    assert report.discrepancy_count == 0
    assert [t.tier for t in report.tiers] == [TOTALS, PRODUCT_DAY, RECORD]
    assert all(t.passed for t in report.tiers)
    assert report.tiers[0].counts.matched == 2  # sc>cq and cq>sc
    assert list(client.reconciliation.discrepancies(report.name)) == []
    assert report.their_checkpoint.origin == "bashu.exchange/log/cq"
    assert report.our_checkpoint.tree_size > 0

    # The report is itself a ledger entry: the DiscrepancyReport payload is the report
    # (without its own entry reference), and the stored report points at it.
    node = world.regions["sc"].running()
    entry = node.ledger.get_entry(report.ledger_entry.index)
    assert entry.leaf_hash == report.ledger_entry.leaf_hash
    record = decode_record(entry.data)
    assert record.WhichOneof("payload") == "discrepancy_report"
    without_entry = S.ReconciliationReport()
    without_entry.CopyFrom(report)
    without_entry.ClearField("ledger_entry")
    assert record.discrepancy_report.report == without_entry

    assert client.reconciliation.get(report.name) == report
    assert [r.name for r in client.reconciliation.reports(PERIOD)] == [report.name]
    assert [r.name for r in client.reconciliation.reports("-", "cq")] == [report.name]
    assert list(client.reconciliation.reports("-", "sg")) == []

    # Reports and discrepancies name other parties' records: finance and operators
    # read them, a provider is refused (so is netting, the same finance view).
    assert world.client("sc", "operator").reconciliation.get(report.name) == report
    provider = world.client("sc", "provider")
    refused: list[Callable[[], object]] = [
        lambda: provider.reconciliation.get(report.name),
        lambda: list(provider.reconciliation.reports(PERIOD)),
        lambda: list(provider.reconciliation.discrepancies(report.name)),
        lambda: provider.settlement.net(PERIOD, allow_unsigned=True),
    ]
    for call in refused:
        with pytest.raises(errors.PermissionDeniedError) as denied:
            call()
        assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_every_injected_difference_is_found_and_nothing_else(world: World) -> None:
    sc_cq, cq_sc = _consistent(world, 40, 20)
    # Differences in cq's copy of sc>cq uses (cq holds the consumption records).
    missing = uses(2, "sc", "cq", seed="missing-")
    for u in missing:  # sc recorded the use; cq never did
        world.record_usage(u)
    extra = uses(2, "sc", "cq", seed="extra-")
    for u in extra:  # cq claims uses sc never recorded
        world.record_consumption(u, (0, b"\x00" * 32))
    amount = uses(2, "sc", "cq", seed="amount-")
    for u in amount:
        world.record_consumption(u, world.record_usage(u), amount_fen=u.amount_fen + 5)
    quantity = uses(2, "sc", "cq", seed="quantity-")
    for u in quantity:
        world.record_consumption(u, world.record_usage(u), rows=u.rows + 3)
    # Differences in the other direction (cq is the provider, sc the consumer).
    missing_back = uses(1, "cq", "sc", seed="missing-back-")
    for u in missing_back:  # sc consumed, cq has no usage record
        world.record_consumption(u, (0, b"\x00" * 32))
    amount_back = uses(1, "cq", "sc", seed="amount-back-")
    for u in amount_back:
        world.record_consumption(u, world.record_usage(u, amount_fen=u.amount_fen + 9))
    # A duplicate: cq holds one of the uses twice (its storage lost its uniqueness).
    drop_consumption_uniqueness(world.engine("cq"))
    duplicated = sc_cq[5]
    world.record_consumption(duplicated, (0, b"\x00" * 32))

    client = world.client("sc")
    report = client.reconciliation.reconcile(PERIOD, "cq")
    found = _record_items(world, report)
    expected = {
        **{u.record_id: (S.MATCH_STATUS_OURS_ONLY, ()) for u in missing},
        **{u.record_id: (S.MATCH_STATUS_THEIRS_ONLY, ()) for u in extra},
        **{u.record_id: (S.MATCH_STATUS_MISMATCHED, ("amount",)) for u in amount},
        **{u.record_id: (S.MATCH_STATUS_MISMATCHED, ("rows", "bytes")) for u in quantity},
        **{u.record_id: (S.MATCH_STATUS_OURS_ONLY, ()) for u in missing_back},
        **{u.record_id: (S.MATCH_STATUS_MISMATCHED, ("amount",)) for u in amount_back},
        duplicated.record_id: (S.MATCH_STATUS_THEIRS_ONLY, ("duplicate",)),
    }
    assert found == expected
    # The duplicated use also matched once; every consistent use matched.
    n_matched = len(sc_cq) + len(cq_sc)
    assert report.record_counts == S.MatchCounts(
        matched=n_matched, mismatched=5, ours_only=3, theirs_only=3
    )
    # The bucket tiers flag exactly the product-days holding a difference.
    different = {u for u in expected}
    all_uses = {
        u.record_id: u
        for u in [*missing, *extra, *amount, *quantity, *missing_back, *amount_back, duplicated]
    }
    days = {
        f"regions/{all_uses[k].provider}/products/census-{all_uses[k].provider}/"
        + _day(all_uses[k].time_us)
        for k in different
    }
    bucket_keys = {
        d.key for d in client.reconciliation.discrepancies(report.name, tier="product-day")
    }
    assert bucket_keys == days
    totals = list(client.reconciliation.discrepancies(report.name, tier="statement-totals"))
    assert sorted(d.key for d in totals) == ["cq>sc", "sc>cq"]
    assert report.discrepancy_count == len(expected) + len(days) + 2

    # Filters and paging agree with the whole list.
    only = list(client.reconciliation.discrepancies(report.name, statuses=["ours-only"]))
    assert {d.key for d in only if d.tier == RECORD} == {
        u.record_id for u in [*missing, *missing_back]
    }
    everything = list(client.reconciliation.discrepancies(report.name, page_size=4))
    assert len(everything) == report.discrepancy_count
    assert [(d.tier, d.key) for d in everything] == sorted((d.tier, d.key) for d in everything)

    # From cq's side the same differences appear mirrored.
    mirrored = world.client("cq").reconciliation.reconcile(PERIOD, "sc")
    assert mirrored.record_counts == S.MatchCounts(
        matched=n_matched, mismatched=5, ours_only=3, theirs_only=3
    )


def _day(us: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).date().isoformat()


def test_tolerances_make_small_differences_within_tolerance(world: World) -> None:
    _consistent(world, 10, 0)
    near = uses(1, "sc", "cq", seed="near-")[0]
    near = replace(near, amount_fen=1000)
    world.record_consumption(near, world.record_usage(near), amount_fen=1001)
    client = world.client("sc")
    strict = client.reconciliation.reconcile(PERIOD, "cq")
    assert strict.record_counts.mismatched == 1
    lenient = client.reconciliation.reconcile(PERIOD, "cq", amount_fen=1)
    assert lenient.record_counts == S.MatchCounts(matched=10, within_tolerance=1)
    assert lenient.tolerance.amount_fen == 1
    assert all(t.passed for t in lenient.tiers)
    [item] = [d for d in client.reconciliation.discrepancies(lenient.name) if d.tier == RECORD]
    assert item.status == S.MATCH_STATUS_WITHIN_TOLERANCE
    assert (item.our_amount.amount_fen, item.their_amount.amount_fen) == (1000, 1001)
    assert item.our_entry.origin == "bashu.exchange/log/sc"
    assert item.their_entry.origin == "bashu.exchange/log/cq"


def test_a_retry_returns_the_first_report_and_reuse_is_refused(world: World) -> None:
    _consistent(world, 5, 5)
    client = world.client("sc")
    first = client.reconciliation.reconcile(PERIOD, "cq", request_id="close-2026-10")
    size = world.regions["sc"].running().ledger.size()
    again = client.reconciliation.reconcile(PERIOD, "cq", request_id="close-2026-10")
    assert again == first
    assert world.regions["sc"].running().ledger.size() == size
    with pytest.raises(errors.InvalidArgumentError) as info:
        client.reconciliation.reconcile(PERIOD, "cq", amount_fen=3, request_id="close-2026-10")
    assert info.value.reason == "REQUEST_ID_REUSED"


def test_errors_are_typed(world: World) -> None:
    client = world.client("sc")
    rec = client.reconciliation
    with pytest.raises(errors.InvalidArgumentError):
        rec.reconcile("regions/sc/periods/not a period", "cq")
    with pytest.raises(errors.InvalidArgumentError) as bad_period:
        rec.reconcile("2026-13", "cq")
    assert bad_period.value.reason == "INVALID_PERIOD"
    with pytest.raises(errors.NotFoundError) as future:
        rec.reconcile("2099-01", "cq")
    assert future.value.reason == "PERIOD_NOT_FOUND"
    with pytest.raises(errors.UnavailableError) as unknown:
        rec.reconcile(PERIOD, "sg")
    assert unknown.value.reason == "PEER_UNAVAILABLE"
    with pytest.raises(errors.InvalidArgumentError):
        rec.reconcile(PERIOD, "sc")
    with pytest.raises(errors.NotFoundError) as missing:
        rec.get(f"regions/sc/periods/{PERIOD}/reconciliationReports/{'0' * 32}")
    assert missing.value.reason == "RECONCILIATION_REPORT_NOT_FOUND"
    with pytest.raises(errors.NotFoundError):
        list(rec.discrepancies(f"regions/sc/periods/{PERIOD}/reconciliationReports/{'1' * 32}"))
    with pytest.raises(errors.InvalidArgumentError):
        list(rec.reports("2026-10", page_size=-1))
    provider = world.client("sc", "provider")
    with pytest.raises(errors.PermissionDeniedError):
        provider.reconciliation.reconcile(PERIOD, "cq")
    # The peer down: the node says so instead of hanging or reporting nothing.
    world.regions["cq"].stop()
    with pytest.raises(errors.UnavailableError) as down:
        rec.reconcile(PERIOD, "cq")
    assert down.value.reason == "PEER_UNAVAILABLE"


def test_export_in_arrow_and_in_messages_carries_the_same_records(world: World) -> None:
    sc_cq, cq_sc = _consistent(world, 12, 6)
    sc = world.regions["sc"]
    cq = world.regions["cq"]
    channels = PeerChannels("sc", sc.signer, [PeerConfig("cq", cq.address, cq.vkey)])
    try:
        peer = channels.federation("cq")
        summary = peer.GetPeriodSummary(
            federation_pb2.GetPeriodSummaryRequest(period=PERIOD), timeout=10
        )
        assert {(t.provider_region, t.consumer_region, t.record_count) for t in summary.totals} == {
            ("sc", "cq", len(sc_cq)),
            ("cq", "sc", len(cq_sc)),
        }
        assert sum(b.record_count for b in summary.buckets) == len(sc_cq) + len(cq_sc)
        zero = sum(1 for u in sc_cq + cq_sc if u.amount_fen == 0)
        assert sum(t.zero_priced_count for t in summary.totals) == zero

        def export(buckets: Sequence[str] = (), tree_size: int = 0) -> tuple[pa.Table, pa.Table]:
            def ask(arrow: bool) -> federation_pb2.ExportPeriodRecordsRequest:
                return federation_pb2.ExportPeriodRecordsRequest(
                    period=PERIOD, buckets=buckets, tree_size=tree_size, arrow=arrow
                )

            arrow = read_arrow_chunks(
                c.arrow_records for c in peer.ExportPeriodRecords(ask(True), timeout=10)
            )
            msgs = [r for c in peer.ExportPeriodRecords(ask(False), timeout=10) for r in c.records]
            return arrow, records_from_messages(msgs)

        arrow, messages = export()
        ids = arrow.column("record_id").to_pylist()
        assert ids == sorted(u.record_id for u in sc_cq + cq_sc)
        assert arrow.drop_columns(["licence"]).equals(messages.drop_columns(["licence"]))
        # cq's consumption records cite sc's usage entries.
        cited = arrow.filter(pa.compute.equal(arrow.column("provider_region"), "sc"))
        assert cited.column("cited_entry_index").null_count == 0

        bucket = summary.buckets[0]
        key = f"{bucket.provider_region}>{bucket.consumer_region}/{bucket.product}/{bucket.day}"
        only, only_msgs = export(buckets=[key])
        assert only.num_rows == bucket.record_count == only_msgs.num_rows

        early, _ = export(tree_size=3)
        assert early.num_rows < arrow.num_rows
        assert max(early.column("entry_index").to_pylist(), default=-1) < 3

        with pytest.raises(grpc.RpcError) as bad:
            list(
                peer.ExportPeriodRecords(
                    federation_pb2.ExportPeriodRecordsRequest(period=PERIOD, buckets=["nope"]),
                    timeout=10,
                )
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as future:
            peer.GetPeriodSummary(federation_pb2.GetPeriodSummaryRequest(period="2099-01"))
        assert future.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        channels.close()
    # A party's API key cannot read a peer's export.
    from bashu.federation.v1 import federation_pb2_grpc

    from clients.sdk.channel import open_channel

    channel = open_channel(cq.address, cq.keys["finance"])
    try:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetPeriodSummary(federation_pb2.GetPeriodSummaryRequest(period=PERIOD))
        assert refused.value.code() in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAUTHENTICATED,
        )
    finally:
        channel.close()


def test_differing_buckets_scope_ships_only_the_buckets_that_differ(world: World) -> None:
    """The faster mode: only product-days whose totals differ are exported and compared
    record by record; the records of matching buckets count as matched."""
    from services.auth import Principal, Role
    from services.reconciliation_service import Reconciliations
    from services.registry import NodeContext

    sc_cq, cq_sc = _consistent(world, 20, 10)
    changed = uses(1, "sc", "cq", seed="bucket-")[0]
    world.record_consumption(changed, world.record_usage(changed), rows=changed.rows + 1)
    node = world.regions["sc"].running()
    ctx = NodeContext(node.config, node.engine, node.signer, node.ledger, node.federation)
    finance = Principal("f", "regions/sc/parties/f", frozenset({Role.FINANCE}), "k")
    fast = Reconciliations(ctx, scope=RecordScope.DIFFERING_BUCKETS)
    report = fast.reconcile(
        finance,
        S.ReconcileRequest(
            period=f"regions/sc/periods/{PERIOD}", counterparty="cq", request_id="fast-1"
        ),
    )
    [record_tier] = [t for t in report.tiers if t.tier == RECORD]
    assert report.record_counts == S.MatchCounts(matched=len(sc_cq) + len(cq_sc), mismatched=1)
    # Only the changed record's bucket was compared record by record.
    assert record_tier.counts.mismatched == 1
    assert record_tier.counts.matched < len(sc_cq) + len(cq_sc)
    items = fast.discrepancies(
        S.ListReconciliationDiscrepanciesRequest(parent=report.name, tier=RECORD)
    ).discrepancies
    assert [(d.key, tuple(d.differing_fields)) for d in items] == [
        (changed.record_id, ("rows", "bytes"))
    ]
