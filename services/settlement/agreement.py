"""The settlement terms two regions agree on, in one frozen value.

An agreement fixes what both nodes must configure identically, because both compute
the same statement and reconcile with the same rules: the cadence of periods, the
grace window, the currency, reconciliation tolerances and dispute deadlines::

    sc_cq = Agreement(("cq", "sc"), cadence=Cadence.monthly(timedelta(hours=8)),
                      tolerance=Tolerance(amount_fen=1))
    sc_cq.cadence.period_of(event_time).id     # "2026-11"

Where it lives (node configuration, per peer) is the node's business; this module
only validates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from services.settlement.disputes import DisputeDeadlines
from services.settlement.errors import SettlementValueError
from services.settlement.model import check_region
from services.settlement.money import CURRENCY
from services.settlement.periods import DEFAULT_GRACE_WINDOW, Cadence
from services.settlement.reconcile import Tolerance

__all__ = ["Agreement"]


@dataclass(frozen=True)
class Agreement:
    """Settlement terms between two regions (``regions`` is stored sorted)."""

    regions: tuple[str, str]
    cadence: Cadence = field(default_factory=Cadence.monthly)
    grace_window: timedelta = DEFAULT_GRACE_WINDOW
    tolerance: Tolerance = field(default_factory=Tolerance)
    dispute_deadlines: DisputeDeadlines = field(default_factory=DisputeDeadlines)
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        pair = tuple(sorted(check_region(r, "agreement.regions") for r in self.regions))
        if len(pair) != 2 or pair[0] == pair[1]:
            raise SettlementValueError("agreement.regions", "two different regions")
        object.__setattr__(self, "regions", pair)
        if self.grace_window < timedelta(0):
            raise SettlementValueError("agreement.grace_window", "must not be negative")
        if self.currency != CURRENCY:
            raise SettlementValueError("agreement.currency", f"only {CURRENCY} is settled")

    def counterparty_of(self, region: str) -> str:
        a, b = self.regions
        if region not in self.regions:
            raise SettlementValueError("region", f"{region} is not a party to {a}-{b}")
        return b if region == a else a
