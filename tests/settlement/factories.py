"""Builders and Hypothesis strategies for settlement tests.

Records are built the way a node would see them: each use has a provider entry in
the provider's ledger (index and leaf hash), the amount is its exact amount rounded
half-up, and ids are "{consumer party}/{request_id}".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from services.settlement.adjustments import Adjustment, reverse
from services.settlement.model import EntryRef, PurposeClass, Quantity, log_origin
from services.settlement.money import round_half_up
from services.settlement.periods import Cadence, PeriodSpan
from services.settlement.usage import UsageRecord

NOVEMBER: PeriodSpan = Cadence.monthly().period("2026-11")
PRODUCTS = ("p-census", "p-licence", "p-weather")
TARIFFS = ("v1", "v2", "")


def leaf(*parts: object) -> bytes:
    return hashlib.sha256("/".join(map(str, parts)).encode()).digest()


def record(
    i: int,
    *,
    provider: str = "sc",
    consumer: str = "cq",
    product: str = "p-census",
    tariff: str = "v1",
    purpose: PurposeClass = PurposeClass.COMMERCIAL,
    at: datetime | None = None,
    rows: int = 10,
    amount: int | None = None,
    exact: Decimal | None = None,
    index: int | None = None,
    late: bool = False,
    span: PeriodSpan = NOVEMBER,
) -> UsageRecord:
    """Usage record ``i`` (amount = exact rounded half-up when exact is given)."""
    if amount is None:
        amount = round_half_up(exact) if exact is not None else 100 + i
    rid = f"regions/{consumer}/parties/c{i % 7}/req-{i:06d}"
    return UsageRecord(
        record_id=rid,
        entry=EntryRef(log_origin(provider), i if index is None else index, leaf(provider, rid)),
        provider_region=provider,
        consumer_region=consumer,
        product=f"regions/{provider}/products/{product}",
        tariff=f"regions/{provider}/products/{product}/tariffs/{tariff}" if tariff else "",
        purpose_class=purpose,
        event_time=at or span.start + timedelta(minutes=17 * i),
        quantity=Quantity(1, rows, rows * 64),
        amount_fen=amount,
        exact_fen=exact,
        late=late,
    )


@st.composite
def usage_records(
    draw: st.DrawFn,
    regions: Sequence[str] = ("sc", "cq"),
    *,
    min_size: int = 0,
    max_size: int = 40,
    span: PeriodSpan = NOVEMBER,
) -> list[UsageRecord]:
    """Records between the regions of ``regions`` (every ordered pair), in the period;
    some zero-priced, some with exact amounts at the rounding boundary (x.5), some
    late (event time before the period)."""
    n = draw(st.integers(min_size, max_size))
    pairs = [(a, b) for a in regions for b in regions if a != b]
    next_index = dict.fromkeys(regions, 0)
    out = []
    seconds = int((span.end - span.start).total_seconds()) - 1
    for i in range(n):
        provider, consumer = draw(st.sampled_from(pairs))
        kind = draw(st.sampled_from(["plain", "zero", "half", "exact", "late"]))
        exact: Decimal | None = None
        amount: int | None = None
        if kind == "zero":
            amount = 0
        elif kind == "half":
            exact = Decimal(draw(st.integers(0, 5000))) + Decimal("0.5")
        elif kind == "exact":
            exact = Decimal(draw(st.integers(0, 500_000))) / Decimal(1000)
        else:
            amount = draw(st.integers(0, 10**9))
        if kind == "late":
            at = span.start - timedelta(seconds=draw(st.integers(1, 86400 * 20)))
        else:
            at = span.start + timedelta(seconds=draw(st.integers(0, seconds)))
        # Indices grow in ledger order but with gaps (other entries in between).
        next_index[provider] += draw(st.integers(1, 5))
        out.append(
            record(
                i,
                provider=provider,
                consumer=consumer,
                product=draw(st.sampled_from(PRODUCTS)),
                tariff=draw(st.sampled_from(TARIFFS)),
                purpose=draw(st.sampled_from(list(PurposeClass)[1:])),
                at=at,
                rows=draw(st.integers(0, 10**6)),
                amount=amount,
                exact=exact,
                index=next_index[provider],
                late=kind == "late",
                span=span,
            )
        )
    return out


def reversals(
    records: Iterable[UsageRecord], *, period: str = "2026-11", start_index: int = 10**6
) -> list[Adjustment]:
    """A posted reversal of each record, appended in the provider's ledger."""
    out = []
    for k, r in enumerate(records):
        adj = reverse(
            r,
            name=f"regions/{r.provider_region}/adjustments/rev-{k}",
            period=period,
            reason="duplicate delivery",
        )
        out.append(
            adj.posted(
                EntryRef(
                    log_origin(r.provider_region), start_index + k, leaf("adj", k, r.record_id)
                )
            )
        )
    return out


__all__ = ["NOVEMBER", "leaf", "record", "reversals", "usage_records"]
