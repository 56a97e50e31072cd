"""Reconciliation finds every injected difference, and nothing else."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.settlement.errors import SettlementValueError
from services.settlement.model import EntryRef, Quantity, log_origin
from services.settlement.reconcile import (
    MatchStatus,
    ReconciliationReport,
    RecordScope,
    RecordSet,
    Tier,
    Tolerance,
    reconcile,
    summarize,
)
from services.settlement.usage import UsageRecord, UsageTable
from tests.settlement.factories import leaf, record, usage_records

Expected = set[tuple[str, MatchStatus, tuple[str, ...]]]
Injected = tuple[list[UsageRecord], list[UsageRecord], Expected]
KINDS = ("missing", "extra", "amount", "quantity", "duplicate", "our_duplicate")


def as_theirs(records: list[UsageRecord]) -> list[UsageRecord]:
    """The counterparty's copy: same uses, entries in its own ledger (other indices)."""
    return [
        dataclasses.replace(
            r, entry=EntryRef(log_origin("cq"), 10_000 + k, leaf("cq", r.record_id, k))
        )
        for k, r in enumerate(records)
    ]


def run(
    ours: list[UsageRecord],
    theirs: list[UsageRecord],
    *,
    tolerance: Tolerance | None = None,
    scope: RecordScope = RecordScope.ALL,
) -> ReconciliationReport:
    return reconcile(
        RecordSet("sc", UsageTable.from_records(ours)),
        RecordSet("cq", UsageTable.from_records(theirs)),
        period="2026-11",
        tolerance=tolerance,
        scope=scope,
    )


@st.composite
def injected(draw: st.DrawFn) -> Injected:
    base = draw(usage_records(min_size=1, max_size=50))
    n = len(base)
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=min(n, 8)))
    picks = draw(st.permutations(range(n)))[: len(kinds)]
    ours = list(base)
    theirs = as_theirs(base)
    expected: Expected = set()
    drop: set[int] = set()
    for kind, i in zip(kinds, picks, strict=False):
        r = base[i]
        if kind == "missing":
            drop.add(i)
            expected.add((r.record_id, MatchStatus.OURS_ONLY, ()))
        elif kind == "extra":
            new = dataclasses.replace(
                r,
                record_id=r.record_id + "-x",
                entry=EntryRef(log_origin("cq"), 90_000 + i, leaf("x", i)),
            )
            theirs.append(new)
            expected.add((new.record_id, MatchStatus.THEIRS_ONLY, ()))
        elif kind == "amount":
            delta = draw(st.integers(1, 10**6))
            theirs[i] = dataclasses.replace(
                theirs[i], amount_fen=r.amount_fen + delta, exact_fen=None
            )
            expected.add((r.record_id, MatchStatus.MISMATCHED, ("amount",)))
        elif kind == "quantity":
            q = r.quantity
            theirs[i] = dataclasses.replace(
                theirs[i], quantity=Quantity(q.calls, q.rows + draw(st.integers(1, 99)), q.bytes)
            )
            expected.add((r.record_id, MatchStatus.MISMATCHED, ("rows",)))
        elif kind == "duplicate":
            theirs.append(
                dataclasses.replace(
                    theirs[i], entry=EntryRef(log_origin("cq"), 80_000 + i, leaf("d", i))
                )
            )
            expected.add((r.record_id, MatchStatus.THEIRS_ONLY, ("duplicate",)))
        else:
            ours.append(
                dataclasses.replace(r, entry=EntryRef(r.entry.origin, 70_000 + i, leaf("o", i)))
            )
            expected.add((r.record_id, MatchStatus.OURS_ONLY, ("duplicate",)))
    theirs = [t for k, t in enumerate(theirs) if k not in drop]
    return ours, theirs, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(injected())
def test_every_injected_difference_is_found_and_nothing_else(case: Injected) -> None:
    ours, theirs, expected = case
    report = run(ours, theirs)
    found = {
        (d.key, d.status, d.differing_fields) for d in report.discrepancies if d.tier is Tier.RECORD
    }
    assert found == expected
    record_tier = [d for d in report.discrepancies if d.tier is Tier.RECORD]
    assert len(record_tier) == len(expected)
    c = report.record_counts
    assert c.within_tolerance == 0
    assert c.mismatched + c.ours_only + c.theirs_only == len(expected)
    assert c.matched + c.mismatched + c.ours_only == len(ours)
    assert c.matched + c.mismatched + c.theirs_only == len(theirs)
    assert report.clean == (not expected)
    # Both sides' values are shown.
    for d in record_tier:
        assert (d.our_entry is not None) == (d.status is not MatchStatus.THEIRS_ONLY)
        assert (d.their_entry is not None) == (d.status is not MatchStatus.OURS_ONLY)
        if d.status is MatchStatus.MISMATCHED:
            assert d.our_amount_fen is not None
            assert d.their_amount_fen is not None
    # The digest is a function of the facts: the same comparison gives the same digest.
    assert run(ours, theirs).digest == report.digest


def test_identical_ledgers_reconcile_to_zero_differences() -> None:
    records = [record(i) for i in range(30)]
    report = run(records, as_theirs(records))
    assert report.discrepancies == ()
    assert report.record_counts.matched == 30
    assert all(t.passed for t in report.tiers)


def test_tolerances_absolute_relative_and_time_skew() -> None:
    ours = [record(0, amount=10_000), record(1, amount=100), record(2), record(3)]
    theirs = as_theirs(ours)
    theirs[0] = dataclasses.replace(theirs[0], amount_fen=10_040)  # 0.4 %: relative
    theirs[1] = dataclasses.replace(theirs[1], amount_fen=102)  # 2 fen: absolute
    theirs[2] = dataclasses.replace(theirs[2], event_time=ours[2].event_time + timedelta(seconds=2))
    theirs[3] = dataclasses.replace(theirs[3], tariff="regions/sc/products/p-census/tariffs/v9")
    tol = Tolerance(amount_fen=2, amount_relative=Decimal("0.005"), time_skew=timedelta(seconds=5))
    report = run(ours, theirs, tolerance=tol)
    status = {d.key: d for d in report.discrepancies if d.tier is Tier.RECORD}
    assert status[ours[0].record_id].status is MatchStatus.WITHIN_TOLERANCE
    assert status[ours[1].record_id].status is MatchStatus.WITHIN_TOLERANCE
    assert status[ours[2].record_id].differing_fields == ("time",)
    assert status[ours[2].record_id].status is MatchStatus.WITHIN_TOLERANCE
    tariff = status[ours[3].record_id]
    assert (tariff.status, tariff.differing_fields) == (MatchStatus.MISMATCHED, ("tariff",))
    assert tariff.details[0][0] == "tariff"
    assert report.record_counts.within_tolerance == 3
    exact = run(ours, theirs)
    assert exact.record_counts.mismatched == 4


def test_differing_buckets_scope_compares_only_what_differs() -> None:
    ours = [record(i, at=None) for i in range(40)]
    theirs = as_theirs(ours)
    theirs[5] = dataclasses.replace(theirs[5], amount_fen=theirs[5].amount_fen + 1)
    full = run(ours, theirs)
    tiered = run(ours, theirs, scope=RecordScope.DIFFERING_BUCKETS)
    assert [d.key for d in tiered.discrepancies if d.tier is Tier.RECORD] == [ours[5].record_id]
    assert tiered.record_counts == full.record_counts
    assert tiered.tier(Tier.PRODUCT_DAY) == full.tier(Tier.PRODUCT_DAY)
    # A change that cancels inside one bucket is invisible to the tiered scope only.
    theirs = as_theirs(ours)
    theirs[1] = dataclasses.replace(theirs[1], amount_fen=theirs[1].amount_fen + 3)
    theirs[2] = dataclasses.replace(theirs[2], amount_fen=theirs[2].amount_fen - 3)
    assert run(ours, theirs).record_counts.mismatched == 2
    assert run(ours, theirs, scope=RecordScope.DIFFERING_BUCKETS).discrepancies == ()


def test_summary_tiers_and_counterparty_summary() -> None:
    ours = [record(i) for i in range(10)] + [record(10, provider="cq", consumer="sc")]
    summary = summarize(UsageTable.from_records(ours))
    assert [t.key for t in summary.totals] == ["cq>sc", "sc>cq"]
    assert sum(b.record_count for b in summary.buckets) == 11
    report = run(ours, as_theirs(ours[:-1]))
    totals = [d for d in report.discrepancies if d.tier is Tier.STATEMENT_TOTALS]
    assert [(d.key, d.status) for d in totals] == [("cq>sc", MatchStatus.OURS_ONLY)]
    with pytest.raises(SettlementValueError):
        reconcile(
            RecordSet("sc", UsageTable.from_records(ours)),
            RecordSet("sc", UsageTable.from_records(ours)),
            period="2026-11",
        )
