"""Netting conserves money: positions sum to zero, transfers reproduce them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.errors import SettlementValueError, StatementNotSignedError
from services.settlement.model import DisputeHold
from services.settlement.netting import (
    NettingMode,
    Obligation,
    net,
    net_statements,
    obligation_of,
)
from services.settlement.statement import Statement, compute_statement
from services.settlement.usage import UsageRecord, UsageTable
from tests.settlement.factories import NOVEMBER, usage_records

REGIONS = ("cq", "sc", "sg")
PAIRS = (("cq", "sc"), ("cq", "sg"), ("sc", "sg"))


@st.composite
def obligations(draw: st.DrawFn, regions: tuple[str, ...] = REGIONS) -> list[Obligation]:
    out = []
    pairs = [(a, b) for i, a in enumerate(regions) for b in regions[i + 1 :]]
    for a, b in pairs:
        if draw(st.booleans()) or len(pairs) == 1:
            payer, payee = (a, b) if draw(st.booleans()) else (b, a)
            out.append(Obligation(payer, payee, draw(st.integers(0, 10**12))))
    return out


@settings(max_examples=200, deadline=None)
@given(obligations(), st.sampled_from([None, NettingMode.BILATERAL, NettingMode.MULTILATERAL]))
def test_three_region_netting_conserves_money(
    obs: list[Obligation], mode: NettingMode | None
) -> None:
    result = net("2026-11", obs, mode=mode, regions=REGIONS)
    assert result.regions == REGIONS
    assert sum(p.net_fen for p in result.positions) == 0
    assert result.conserved
    paid = dict.fromkeys(REGIONS, 0)
    for t in result.transfers:
        assert t.amount_fen > 0
        paid[t.payee_region] += t.amount_fen
        paid[t.payer_region] -= t.amount_fen
    assert paid == {p.region: p.net_fen for p in result.positions}
    for p in result.positions:
        owed_to = sum(o.amount_fen for o in obs if o.payee_region == p.region)
        owes = sum(o.amount_fen for o in obs if o.payer_region == p.region)
        assert p.net_fen == owed_to - owes
    if result.mode is NettingMode.MULTILATERAL:
        assert len(result.transfers) <= len(REGIONS) - 1
        assert all(
            result.position(t.payer_region).net_fen < 0 < result.position(t.payee_region).net_fen
            for t in result.transfers
        )
    # The matrix rows are what each region pays, the columns what it receives.
    for i, r in enumerate(result.regions):
        assert sum(result.matrix[i]) == result.position(r).payable_fen
        assert sum(row[i] for row in result.matrix) == result.position(r).receivable_fen
    text = "\n".join(result.explain())
    assert "Check: the nets sum to 0" in text


@settings(max_examples=25, deadline=None)
@given(st.tuples(*(usage_records(regions=pair, max_size=12) for pair in PAIRS)))
def test_statements_of_three_pairs_net_to_zero(records: tuple[list[UsageRecord], ...]) -> None:
    statements = [
        Statement(compute_statement(NOVEMBER, pair, UsageTable.from_records(rs)))
        for pair, rs in zip(PAIRS, records, strict=True)
    ]
    with pytest.raises(StatementNotSignedError):
        net_statements(statements)
    result = net_statements(statements, allow_unsigned=True)
    assert not result.all_statements_signed
    assert sum(p.net_fen for p in result.positions) == 0
    assert {o.statement_digest for o in result.gross_obligations} == {
        s.digest.hex() for s in statements
    }


def test_a_worked_example_and_held_disputes() -> None:
    obs = [Obligation("cq", "sc", 1000), Obligation("sc", "sg", 700), Obligation("sg", "cq", 200)]
    bilateral = net("2026-11", obs, mode=NettingMode.BILATERAL)
    assert set(bilateral.transfers) == set(obs)
    multi = net("2026-11", obs)
    assert multi.mode is NettingMode.MULTILATERAL
    assert {p.region: p.net_fen for p in multi.positions} == {"cq": -800, "sc": 300, "sg": 500}
    assert [(t.payer_region, t.payee_region, t.amount_fen) for t in multi.transfers] == [
        ("cq", "sg", 500),
        ("cq", "sc", 300),
    ]
    # sc disputes 400 of the 700 sg charged it: held out until decided.
    held = net("2026-11", obs, extra_holds=[DisputeHold("regions/sc/disputes/d1", "sg", "sc", 400)])
    assert {p.region: p.net_fen for p in held.positions} == {"cq": -800, "sc": 700, "sg": 100}
    assert "Hold out disputes" in held.steps[1].description
    with pytest.raises(SettlementValueError):
        net("2026-11", [Obligation("cq", "sc", 1), Obligation("sc", "cq", 2)])
    with pytest.raises(SettlementValueError):
        net("2026-11", [])


def test_obligation_of_a_statement() -> None:
    content = compute_statement(NOVEMBER, ("sc", "cq"), UsageTable.from_records([]))
    zero = obligation_of(content)
    assert zero.amount_fen == 0
    assert zero.statement_digest == content.digest.hex()
