"""Netting: from what each pair of regions owes to the few transfers that settle it all.

Input is one :class:`Obligation` per signed statement (its net: who pays whom how
much). Two modes (``bashu.settlement.v1.NettingMode``):

* **bilateral** — per pair of regions, the larger direction minus the smaller: one
  transfer per pair;
* **multilateral** (3+ regions) — every region's receivables minus payables gives
  one net position; net payers pay net payees (largest first, ties by region id),
  so at most n − 1 transfers settle everything.

Either way money is conserved: the positions' nets sum to zero, and the transfers
reproduce every position exactly. Both are checked on every run
(:class:`~services.settlement.errors.NettingNotConservedError` would be a bug).
The computation is returned step by step, with the payer × payee matrix, so finance
can follow it (:meth:`Netting.explain`)::

    netting = net("2026-11", [obligation_of(s.content) for s in statements])
    for line in netting.explain():
        print(line)

Disputed amounts are already held out of each statement's net; ``extra_holds`` holds
out disputes raised after a statement was signed, until they are decided.

What this module does NOT do: fetch statements from peers or check their
signatures (:func:`net_statements` refuses unsigned ones unless asked; the node
verifies signatures with :func:`~services.settlement.statement.verify_statement`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from services.settlement.errors import (
    NettingNotConservedError,
    SettlementValueError,
    StatementNotSignedError,
)
from services.settlement.model import DisputeHold, check_region
from services.settlement.money import CURRENCY, check_fen, format_yuan
from services.settlement.statement import Statement, StatementContent, StatementState

__all__ = [
    "Netting",
    "NettingMode",
    "NettingStep",
    "Obligation",
    "RegionPosition",
    "net",
    "net_statements",
    "obligation_of",
]


class NettingMode(IntEnum):
    """``bashu.settlement.v1.NettingMode`` (values are the wire numbers)."""

    BILATERAL = 1
    MULTILATERAL = 2


@dataclass(frozen=True, order=True)
class Obligation:
    """``payer_region`` owes ``payee_region`` ``amount_fen`` (≥ 0)."""

    payer_region: str
    payee_region: str
    amount_fen: int
    statement_digest: str = ""

    def __post_init__(self) -> None:
        check_region(self.payer_region, "obligation.payer_region")
        check_region(self.payee_region, "obligation.payee_region")
        if self.payer_region == self.payee_region:
            raise SettlementValueError("obligation", "payer and payee must differ")
        check_fen(self.amount_fen, "obligation.amount_fen")

    def __str__(self) -> str:
        return f"{self.payer_region} → {self.payee_region}: {format_yuan(self.amount_fen)}"


@dataclass(frozen=True)
class RegionPosition:
    """A region's totals: what it is owed, what it owes, and the difference."""

    region: str
    receivable_fen: int
    payable_fen: int

    @property
    def net_fen(self) -> int:
        """Positive: the region receives; negative: it pays."""
        return self.receivable_fen - self.payable_fen

    def __str__(self) -> str:
        verb = "receives" if self.net_fen > 0 else "pays" if self.net_fen < 0 else "is even"
        return (
            f"{self.region}: receivable {format_yuan(self.receivable_fen)}, payable "
            f"{format_yuan(self.payable_fen)}, net {format_yuan(self.net_fen)} ({verb})"
        )


@dataclass(frozen=True)
class NettingStep:
    """One step, as ``bashu.settlement.v1.NettingStep``."""

    step: int
    description: str
    obligations: tuple[Obligation, ...] = ()
    positions: tuple[RegionPosition, ...] = ()


@dataclass(frozen=True)
class Netting:
    """The result (``bashu.settlement.v1.Netting``) plus the payer × payee matrix."""

    period: str
    mode: NettingMode
    regions: tuple[str, ...]
    gross_obligations: tuple[Obligation, ...]
    positions: tuple[RegionPosition, ...]
    transfers: tuple[Obligation, ...]
    steps: tuple[NettingStep, ...]
    matrix: tuple[tuple[int, ...], ...]
    conserved: bool
    all_statements_signed: bool
    currency: str = CURRENCY

    def position(self, region: str) -> RegionPosition:
        for p in self.positions:
            if p.region == region:
                return p
        raise SettlementValueError("region", f"{region} is not netted")

    def matrix_lines(self) -> list[str]:
        """The matrix as text: row = payer, column = payee, amounts in yuan."""
        width = max(12, *(len(format_yuan(v)) + 2 for row in self.matrix for v in row))
        head = "payer\\payee".ljust(12) + "".join(r.rjust(width) for r in self.regions)
        lines = [head]
        for region, row in zip(self.regions, self.matrix, strict=True):
            lines.append(region.ljust(12) + "".join(format_yuan(v).rjust(width) for v in row))
        return lines

    def explain(self) -> list[str]:
        """Every step in words, with the obligations or positions it produced."""
        out: list[str] = []
        for step in self.steps:
            out.append(f"{step.step}. {step.description}")
            out.extend(f"     {o}" for o in step.obligations)
            out.extend(f"     {p}" for p in step.positions)
            if step.description.startswith("Matrix"):
                out.extend(f"     {line}" for line in self.matrix_lines())
        return out


def obligation_of(content: StatementContent) -> Obligation:
    """A statement's net as an obligation (zero when the two directions cancel)."""
    a, b = content.regions
    payer, payee = (
        (content.net_payer_region, content.net_payee_region) if content.net_fen else (b, a)
    )
    return Obligation(payer, payee, content.net_fen, content.digest.hex())


def net_statements(
    statements: Sequence[Statement],
    *,
    mode: NettingMode | None = None,
    extra_holds: Iterable[DisputeHold] = (),
    allow_unsigned: bool = False,
) -> Netting:
    """:func:`net` over statements of one period; unsigned ones are refused
    (``STATEMENT_NOT_SIGNED``) unless ``allow_unsigned`` (a preview)."""
    if not statements:
        raise SettlementValueError("statements", "nothing to net")
    periods = {s.content.period for s in statements}
    if len(periods) != 1:
        raise SettlementValueError("statements", f"statements of several periods {sorted(periods)}")
    signed = all(s.state is StatementState.SIGNED for s in statements)
    if not signed and not allow_unsigned:
        first = next(s for s in statements if s.state is not StatementState.SIGNED)
        raise StatementNotSignedError(f"{first.content.period}/{'-'.join(first.content.regions)}")
    return net(
        periods.pop(),
        [obligation_of(s.content) for s in statements],
        mode=mode,
        extra_holds=extra_holds,
        all_statements_signed=signed,
    )


def net(
    period: str,
    obligations: Iterable[Obligation],
    *,
    mode: NettingMode | None = None,
    regions: Iterable[str] = (),
    extra_holds: Iterable[DisputeHold] = (),
    all_statements_signed: bool = True,
) -> Netting:
    """Net ``obligations`` (one per region pair). ``mode`` defaults to bilateral for
    two regions and multilateral for more."""
    gross = tuple(obligations)
    pairs = [frozenset((o.payer_region, o.payee_region)) for o in gross]
    if len(set(pairs)) != len(pairs):
        raise SettlementValueError("obligations", "one obligation per pair of regions")
    names = set(regions)
    for o in gross:
        names.update((o.payer_region, o.payee_region))
    region_t = tuple(sorted(check_region(r) for r in names))
    if len(region_t) < 2:
        raise SettlementValueError("regions", "netting needs at least two regions")
    if mode is None:
        mode = NettingMode.BILATERAL if len(region_t) == 2 else NettingMode.MULTILATERAL
    steps: list[NettingStep] = [
        NettingStep(1, "Net obligation of each statement (disputed amounts held out)", gross)
    ]

    # owed[(payer, payee)] signed, normalised per pair afterwards
    owed: dict[tuple[str, str], int] = {}
    for o in gross:
        owed[(o.payer_region, o.payee_region)] = o.amount_fen
    holds = sorted(extra_holds)
    if holds:
        for h in holds:
            # The consumer region owes the provider region less while the dispute is open.
            key = (h.consumer_region, h.provider_region)
            rev = (h.provider_region, h.consumer_region)
            if rev in owed:
                owed[rev] += h.amount_fen
            else:
                owed[key] = owed.get(key, 0) - h.amount_fen
        adjusted = _normalise(owed)
        owed = {(o.payer_region, o.payee_region): o.amount_fen for o in adjusted}
        steps.append(
            NettingStep(
                len(steps) + 1,
                "Hold out disputes raised after the statements: "
                + ", ".join(f"{h.dispute} {format_yuan(h.amount_fen)}" for h in holds),
                tuple(adjusted),
            )
        )
    after_holds = _normalise(owed)
    index = {r: i for i, r in enumerate(region_t)}
    matrix = [[0] * len(region_t) for _ in region_t]
    for o in after_holds:
        matrix[index[o.payer_region]][index[o.payee_region]] = o.amount_fen
    steps.append(NettingStep(len(steps) + 1, "Matrix of obligations (row pays column)"))
    positions = tuple(
        RegionPosition(
            r,
            receivable_fen=sum(o.amount_fen for o in after_holds if o.payee_region == r),
            payable_fen=sum(o.amount_fen for o in after_holds if o.payer_region == r),
        )
        for r in region_t
    )
    steps.append(
        NettingStep(
            len(steps) + 1,
            "Sum per region: receivable (column total), payable (row total), net",
            positions=positions,
        )
    )
    if mode is NettingMode.BILATERAL:
        transfers = tuple(o for o in after_holds if o.amount_fen)
        description = "Bilateral: one transfer per pair, the larger direction minus the smaller"
    else:
        transfers = _multilateral(positions)
        description = (
            "Multilateral: net payers pay net payees, largest amounts first (ties by region)"
        )
    steps.append(NettingStep(len(steps) + 1, description, transfers))
    total = sum(p.net_fen for p in positions)
    reproduced = {r: 0 for r in region_t}
    for t in transfers:
        reproduced[t.payee_region] += t.amount_fen
        reproduced[t.payer_region] -= t.amount_fen
    conserved = total == 0 and all(reproduced[p.region] == p.net_fen for p in positions)
    if not conserved:
        raise NettingNotConservedError(total)
    steps.append(
        NettingStep(
            len(steps) + 1,
            "Check: the nets sum to 0 and the transfers reproduce every region's net",
        )
    )
    return Netting(
        period=period,
        mode=mode,
        regions=region_t,
        gross_obligations=gross,
        positions=positions,
        transfers=transfers,
        steps=tuple(steps),
        matrix=tuple(tuple(row) for row in matrix),
        conserved=conserved,
        all_statements_signed=all_statements_signed,
    )


def _normalise(owed: dict[tuple[str, str], int]) -> list[Obligation]:
    """Signed amounts per ordered pair → one non-negative obligation per pair."""
    per_pair: dict[tuple[str, str], int] = {}
    for (payer, payee), amount in owed.items():
        a, b = sorted((payer, payee))
        per_pair[(a, b)] = per_pair.get((a, b), 0) + (amount if payer == a else -amount)
    out = []
    for (a, b), amount in sorted(per_pair.items()):
        out.append(Obligation(a, b, amount) if amount >= 0 else Obligation(b, a, -amount))
    return out


def _multilateral(positions: Sequence[RegionPosition]) -> tuple[Obligation, ...]:
    payers = sorted(((-p.net_fen, p.region) for p in positions if p.net_fen < 0), key=_largest)
    payees = sorted(((p.net_fen, p.region) for p in positions if p.net_fen > 0), key=_largest)
    transfers = []
    i = j = 0
    owe = [amount for amount, _ in payers]
    due = [amount for amount, _ in payees]
    while i < len(payers) and j < len(payees):
        amount = min(owe[i], due[j])
        transfers.append(Obligation(payers[i][1], payees[j][1], amount))
        owe[i] -= amount
        due[j] -= amount
        if owe[i] == 0:
            i += 1
        if due[j] == 0:
            j += 1
    return tuple(transfers)


def _largest(item: tuple[int, str]) -> tuple[int, str]:
    return (-item[0], item[1])
