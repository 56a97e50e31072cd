"""Periods: cadences, ids, the OPEN → CLOSING → CLOSED life cycle, bucketing, late records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.clock import ManualClock
from services.settlement.errors import (
    InvalidPeriodError,
    InvalidStateTransitionError,
    PeriodNotEndedError,
    SettlementValueError,
)
from services.settlement.periods import (
    Cadence,
    PeriodState,
    advance,
    assign_period,
    close_period,
    current_open_period,
    open_period,
    record_late,
)

CST = timedelta(hours=8)
FIN = "regions/sc/parties/fin"


def test_calendar_months_weeks_and_fixed_lengths() -> None:
    month = Cadence.monthly()
    nov = month.period_of(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert (nov.id, nov.start, nov.end) == (
        "2026-11",
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert month.period("2026-12").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert month.following(nov).id == "2026-12"
    # Beijing time: 2026-11-30 17:00 UTC is already December there.
    beijing = Cadence.monthly(CST)
    assert beijing.period_of(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)).id == "2026-12"
    assert beijing.period("2026-12").start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    week = Cadence.weekly()
    w = week.period_of(datetime(2026, 11, 4, tzinfo=UTC))
    assert (w.id, w.start.weekday(), w.end - w.start) == ("2026-W45", 0, timedelta(days=7))
    assert week.period("2026-W45") == w
    assert week.period_of(datetime(2027, 1, 1, tzinfo=UTC)).id == "2026-W53"
    ten = Cadence.fixed(timedelta(days=10), datetime(2026, 1, 1, tzinfo=UTC))
    span = ten.period_of(datetime(2026, 1, 15, tzinfo=UTC))
    assert (span.id, span.end - span.start) == ("2026-01-11", timedelta(days=10))
    assert ten.period("2026-01-11") == span
    hours = Cadence.fixed(timedelta(hours=36), datetime(2026, 1, 1, 6, tzinfo=UTC))
    assert hours.period_of(datetime(2026, 1, 2, 20, tzinfo=UTC)).id == "2026-01-02T1800"
    for bad_id, cadence in (
        ("2026-13", month),
        ("2026-W45", month),
        ("2026-01-12", ten),
        ("x", week),
    ):
        with pytest.raises(InvalidPeriodError):
            cadence.period(bad_id)
    with pytest.raises(InvalidPeriodError):
        Cadence.fixed(timedelta(minutes=5), datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(SettlementValueError):
        month.period_of(datetime(2026, 11, 1))  # naive: refused, never guessed


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(
        [
            Cadence.monthly(),
            Cadence.monthly(CST),
            Cadence.weekly(),
            Cadence.fixed(timedelta(days=3), datetime(2024, 5, 1, tzinfo=UTC)),
            Cadence.fixed(timedelta(hours=7), datetime(2024, 5, 1, 3, tzinfo=UTC)),
        ]
    ),
)
def test_periods_tile_time(t: datetime, cadence: Cadence) -> None:
    span = cadence.period_of(t)
    assert span.contains(t)
    assert cadence.period(span.id) == span
    after = cadence.following(span)
    assert after.start == span.end
    assert cadence.period_of(span.end - timedelta(microseconds=1)) == span


def test_closing_a_period() -> None:
    nov = Cadence.monthly().period("2026-11")
    clock = ManualClock(datetime(2026, 11, 20, tzinfo=UTC))
    p = open_period(nov, grace_window=timedelta(days=5), counterparties=("sc", "cq"))
    assert p.counterparties == ("cq", "sc")
    with pytest.raises(PeriodNotEndedError) as early:
        close_period(p, clock=clock, actor=FIN)
    assert early.value.period == "2026-11"
    clock.set(datetime(2026, 12, 1, 8, tzinfo=UTC))
    p = close_period(p, clock=clock, actor=FIN)
    assert p.state is PeriodState.CLOSING
    assert p.grace_end_time == datetime(2026, 12, 6, 8, tzinfo=UTC)
    with pytest.raises(InvalidStateTransitionError):
        close_period(p, clock=clock, actor=FIN)  # grace window still open
    assert advance(p, clock=clock, actor="node") == p
    clock.advance(timedelta(days=5))
    closed = advance(p, clock=clock, actor="regions/sc/node")
    assert closed.state is PeriodState.CLOSED
    assert closed.close_time == clock()
    now = close_period(
        p, clock=ManualClock(datetime(2026, 12, 2, tzinfo=UTC)), actor=FIN, end_grace_now=True
    )
    assert now.state is PeriodState.CLOSED
    with pytest.raises(InvalidStateTransitionError):
        close_period(now, clock=clock, actor=FIN, end_grace_now=True)
    assert record_late(now, 3).late_record_count == 3


def test_bucketing_and_late_records() -> None:
    month = Cadence.monthly()
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    oct_ = open_period(month.period("2026-10"), grace_window=timedelta(days=3))
    clock.set(datetime(2026, 11, 1, 1, tzinfo=UTC))
    oct_ = close_period(oct_, clock=clock, actor=FIN)
    periods = {"2026-10": oct_}
    event = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    # During the grace window a late batch still counts in its own period.
    a = assign_period(month, event, datetime(2026, 11, 2, tzinfo=UTC), periods)
    assert (a.period, a.late) == ("2026-10", False)
    clock.set(datetime(2026, 11, 4, 2, tzinfo=UTC))
    periods["2026-10"] = advance(oct_, clock=clock, actor="node")
    a = assign_period(month, event, datetime(2026, 11, 5, tzinfo=UTC), periods)
    assert (a.period, a.own_period, a.late) == ("2026-11", "2026-10", True)
    # Arriving in December while November is CLOSING: the next OPEN period, December.
    nov = open_period(month.period("2026-11"))
    clock.set(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    periods["2026-11"] = close_period(nov, clock=clock, actor=FIN)
    a = assign_period(month, event, datetime(2026, 12, 2, tzinfo=UTC), periods)
    assert (a.period, a.late) == ("2026-12", True)
    # The period boundary: start inclusive, end exclusive.
    assert (
        assign_period(month, datetime(2026, 12, 1, tzinfo=UTC), clock(), periods).period
        == "2026-12"
    )
    # Corrections land in the current open period.
    assert current_open_period(month, periods, datetime(2026, 12, 2, tzinfo=UTC)) == "2026-12"
    assert current_open_period(month, periods, datetime(2026, 11, 15, tzinfo=UTC)) == "2026-11"
