"""Settlement periods: cadences, the OPEN → CLOSING → CLOSED life cycle, bucketing.

A *cadence* cuts time into periods. Agreements default to calendar months (ids
``"2026-11"``); an agreement between two regions may choose ISO weeks
(``"2026-W45"``) or a fixed length from an anchor (ids are the local start date,
``"2026-11-03"``, or the start minute, ``"2026-11-03T0600"``, when the length is
not whole days). A cadence has a fixed UTC offset (default UTC; ``+08:00`` makes
"November" the Beijing/Singapore calendar month). Periods are half-open:
``start <= event_time < end``.

A period's states (``bashu.settlement.v1.PeriodState``)::

    OPEN ──close_period (after end)──▶ CLOSING ──grace window over, or end_grace_now──▶ CLOSED

Transitions are pure functions of a :class:`Period` and an injected clock; they
return a new ``Period`` and never mutate. Once CLOSED nothing counting toward the
period changes.

Bucketing is by event time. A record whose own period had already CLOSED when the
record arrived (arrival = the seal time of the batch carrying it, which both
regions know, so both bucket it alike) is *late*: it counts in the first period
after its own that was still OPEN at arrival, flagged ``late``, and its own
period's ``late_record_count`` says so::

    cadence = Cadence.monthly()
    span = cadence.period_of(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))   # "2026-11"
    p = open_period(span, grace_window=timedelta(days=5))
    p = close_period(p, clock=clock, actor="regions/sc/parties/fin")      # CLOSING
    a = assign_period(cadence, event_time, arrival_time, periods)          # Assignment

What this module does NOT do: it stores nothing and appends no ledger entry (the
node records each transition as a ``PeriodStatusChanged`` entry); it does not
decide when a batch arrived.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from enum import Enum, IntEnum

from services.settlement.clock import Clock, utc
from services.settlement.errors import (
    InvalidPeriodError,
    InvalidStateTransitionError,
    NoOpenPeriodError,
    PeriodNotEndedError,
    SettlementValueError,
)
from services.settlement.model import check_int64, check_region, check_text

__all__ = [
    "DEFAULT_GRACE_WINDOW",
    "Assignment",
    "Cadence",
    "CadenceKind",
    "Period",
    "PeriodSpan",
    "PeriodState",
    "advance",
    "assign_period",
    "begin_closing",
    "close_period",
    "current_open_period",
    "finish_closing",
    "open_period",
    "record_late",
]

DEFAULT_GRACE_WINDOW = timedelta(days=5)
_MAX_STEPS = 10_000  # periods searched for the next open one
_WEEK_ID = re.compile(r"(\d{4})-W(\d{2})")
_MONTH_ID = re.compile(r"(\d{4})-(\d{2})")


class PeriodState(IntEnum):
    """``bashu.settlement.v1.PeriodState`` (values are the wire numbers)."""

    OPEN = 1
    CLOSING = 2
    CLOSED = 3


class CadenceKind(Enum):
    MONTH = "month"
    WEEK = "week"
    FIXED = "fixed"


@dataclass(frozen=True, order=True)
class PeriodSpan:
    """A period's identity and event-time range ``[start, end)`` (UTC)."""

    start: datetime
    end: datetime
    id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start, "period.start"))
        object.__setattr__(self, "end", utc(self.end, "period.end"))
        check_text(self.id, "period.id", max_len=64)
        if self.end <= self.start:
            raise InvalidPeriodError("period", "end must be after start")

    def contains(self, t: datetime) -> bool:
        return self.start <= utc(t) < self.end


@dataclass(frozen=True)
class Cadence:
    """How an agreement cuts time into periods. Build with :meth:`monthly`,
    :meth:`weekly` or :meth:`fixed`."""

    kind: CadenceKind = CadenceKind.MONTH
    utc_offset: timedelta = timedelta(0)
    length: timedelta | None = None
    anchor: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, CadenceKind):
            raise InvalidPeriodError("cadence.kind", f"unknown cadence {self.kind!r}")
        if abs(self.utc_offset) >= timedelta(hours=15) or self.utc_offset % timedelta(minutes=1):
            raise InvalidPeriodError("cadence.utc_offset", "whole minutes, under 15 hours")
        if self.kind is CadenceKind.FIXED:
            if self.length is None or self.anchor is None:
                raise InvalidPeriodError("cadence", "a fixed cadence needs length and anchor")
            if self.length < timedelta(hours=1) or self.length % timedelta(minutes=1):
                raise InvalidPeriodError("cadence.length", "whole minutes, at least one hour")
            object.__setattr__(self, "anchor", utc(self.anchor, "cadence.anchor"))
        elif self.length is not None or self.anchor is not None:
            raise InvalidPeriodError("cadence", "length and anchor are for fixed cadences")

    @classmethod
    def monthly(cls, utc_offset: timedelta = timedelta(0)) -> Cadence:
        return cls(CadenceKind.MONTH, utc_offset)

    @classmethod
    def weekly(cls, utc_offset: timedelta = timedelta(0)) -> Cadence:
        return cls(CadenceKind.WEEK, utc_offset)

    @classmethod
    def fixed(
        cls, length: timedelta, anchor: datetime, utc_offset: timedelta = timedelta(0)
    ) -> Cadence:
        return cls(CadenceKind.FIXED, utc_offset, length, anchor)

    @property
    def _tz(self) -> timezone:
        return timezone(self.utc_offset)

    def period_of(self, t: datetime) -> PeriodSpan:
        """The period containing event time ``t``."""
        local = utc(t).astimezone(self._tz)
        if self.kind is CadenceKind.MONTH:
            return self._month(local.year, local.month)
        if self.kind is CadenceKind.WEEK:
            monday = local.date() - timedelta(days=local.weekday())
            return self._week(monday)
        assert self.length is not None
        assert self.anchor is not None
        n = (utc(t) - self.anchor) // self.length
        return self._fixed(self.anchor + n * self.length)

    def following(self, span: PeriodSpan) -> PeriodSpan:
        """The period right after ``span``."""
        return self.period_of(span.end)

    def period(self, period_id: str) -> PeriodSpan:
        """The period named ``period_id``; :class:`InvalidPeriodError` when the id is
        malformed or is not a period of this cadence."""
        try:
            span = self._parse(period_id)
        except ValueError:
            span = None
        if span is None or span.id != period_id or self.period_of(span.start) != span:
            raise InvalidPeriodError("period", f"{period_id!r} is not a {self.kind.value} period")
        return span

    def _parse(self, period_id: str) -> PeriodSpan | None:
        if self.kind is CadenceKind.MONTH:
            m = _MONTH_ID.fullmatch(period_id)
            return self._month(int(m[1]), int(m[2])) if m else None
        if self.kind is CadenceKind.WEEK:
            m = _WEEK_ID.fullmatch(period_id)
            return self._week(date.fromisocalendar(int(m[1]), int(m[2]), 1)) if m else None
        fmt = "%Y-%m-%dT%H%M" if "T" in period_id else "%Y-%m-%d"
        local = datetime.strptime(period_id, fmt).replace(tzinfo=self._tz)
        return self.period_of(local)

    def _month(self, year: int, month: int) -> PeriodSpan:
        start = datetime(year, month, 1, tzinfo=self._tz)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=self._tz)
        return PeriodSpan(start, end, f"{year:04d}-{month:02d}")

    def _week(self, monday: date) -> PeriodSpan:
        start = datetime(monday.year, monday.month, monday.day, tzinfo=self._tz)
        iso = monday.isocalendar()
        return PeriodSpan(start, start + timedelta(days=7), f"{iso.year:04d}-W{iso.week:02d}")

    def _fixed(self, start: datetime) -> PeriodSpan:
        assert self.length is not None
        local = start.astimezone(self._tz)
        whole_days = self.length % timedelta(days=1) == timedelta(0)
        midnight = local.time() == datetime.min.time()
        pid = local.strftime("%Y-%m-%d" if whole_days and midnight else "%Y-%m-%dT%H%M")
        return PeriodSpan(start, start + self.length, pid)


@dataclass(frozen=True)
class Period:
    """A period of one region's settlement with its state (``bashu.settlement.v1.Period``)."""

    span: PeriodSpan
    state: PeriodState = PeriodState.OPEN
    grace_window: timedelta = DEFAULT_GRACE_WINDOW
    counterparties: tuple[str, ...] = ()
    closing_time: datetime | None = None
    grace_end_time: datetime | None = None
    close_time: datetime | None = None
    closer: str = ""
    late_record_count: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.state, PeriodState):
            raise InvalidPeriodError("period.state", f"unknown state {self.state!r}")
        if self.grace_window < timedelta(0):
            raise InvalidPeriodError("period.grace_window", "must not be negative")
        cps = tuple(sorted({check_region(r, "period.counterparties") for r in self.counterparties}))
        object.__setattr__(self, "counterparties", cps)
        for name in ("closing_time", "grace_end_time", "close_time"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, utc(value, f"period.{name}"))
        check_int64(self.late_record_count, "period.late_record_count")
        closing = self.state in (PeriodState.CLOSING, PeriodState.CLOSED)
        if closing != (self.closing_time is not None and self.grace_end_time is not None):
            raise InvalidPeriodError("period", "closing and grace end times go with CLOSING")
        if (self.state is PeriodState.CLOSED) != (self.close_time is not None):
            raise InvalidPeriodError("period", "close_time goes with CLOSED")
        if self.closing_time is not None and self.closing_time < self.span.end:
            raise InvalidPeriodError("period.closing_time", "before the period's end")

    @property
    def id(self) -> str:
        return self.span.id

    def is_closed_at(self, t: datetime) -> bool:
        """True when the period was CLOSED at time ``t`` (nothing counts toward it)."""
        return self.close_time is not None and utc(t) >= self.close_time

    def is_open_at(self, t: datetime) -> bool:
        """True when the period had not started closing at time ``t``."""
        return self.closing_time is None or utc(t) < self.closing_time


def open_period(
    span: PeriodSpan,
    *,
    grace_window: timedelta = DEFAULT_GRACE_WINDOW,
    counterparties: tuple[str, ...] = (),
) -> Period:
    """A new OPEN period."""
    return Period(span, PeriodState.OPEN, grace_window, counterparties)


def begin_closing(period: Period, *, clock: Clock, actor: str) -> Period:
    """OPEN → CLOSING; the grace window starts now. The period must have ended."""
    now = utc(clock(), "clock")
    if period.state is not PeriodState.OPEN:
        raise InvalidStateTransitionError(period.id, period.state.name, "begin closing")
    if now < period.span.end:
        raise PeriodNotEndedError(period.id, period.span.end, now)
    return replace(
        period,
        state=PeriodState.CLOSING,
        closing_time=now,
        grace_end_time=now + period.grace_window,
        closer=check_text(actor, "actor"),
    )


def finish_closing(
    period: Period, *, clock: Clock, actor: str, end_grace_now: bool = False
) -> Period:
    """CLOSING → CLOSED, once the grace window is over or at once with ``end_grace_now``."""
    now = utc(clock(), "clock")
    if period.state is not PeriodState.CLOSING:
        raise InvalidStateTransitionError(period.id, period.state.name, "close")
    assert period.grace_end_time is not None
    if not end_grace_now and now < period.grace_end_time:
        raise InvalidStateTransitionError(period.id, "CLOSING (grace window open)", "close")
    return replace(
        period, state=PeriodState.CLOSED, close_time=now, closer=check_text(actor, "actor")
    )


def close_period(
    period: Period, *, clock: Clock, actor: str, end_grace_now: bool = False
) -> Period:
    """``SettlementService.ClosePeriod``: OPEN → CLOSING; on a CLOSING period with
    ``end_grace_now`` (or once its grace window is over) → CLOSED. A CLOSED period,
    or a CLOSING one inside its window without the flag, is an invalid transition."""
    if period.state is PeriodState.OPEN:
        return begin_closing(period, clock=clock, actor=actor)
    return finish_closing(period, clock=clock, actor=actor, end_grace_now=end_grace_now)


def advance(period: Period, *, clock: Clock, actor: str) -> Period:
    """What the node does by itself: a CLOSING period whose grace window is over
    becomes CLOSED; anything else is returned unchanged."""
    if (
        period.state is PeriodState.CLOSING
        and period.grace_end_time is not None
        and utc(clock(), "clock") >= period.grace_end_time
    ):
        return finish_closing(period, clock=clock, actor=actor)
    return period


def record_late(period: Period, count: int = 1) -> Period:
    """Count ``count`` more records of ``period`` that arrived after it closed."""
    if count < 0:
        raise SettlementValueError("count", "must not be negative")
    return replace(period, late_record_count=period.late_record_count + count)


@dataclass(frozen=True)
class Assignment:
    """Where a record counts: ``period`` (its own, or a later one when ``late``)."""

    period: str
    own_period: str
    late: bool


def assign_period(
    cadence: Cadence,
    event_time: datetime,
    arrival_time: datetime,
    periods: Mapping[str, Period],
) -> Assignment:
    """Bucket one record by event time.

    ``periods`` maps period id → :class:`Period` as this region holds them; a period
    it does not hold has not started closing. A record counts in its own period
    unless that period was already CLOSED at ``arrival_time``; then it counts in the
    first later period still OPEN at arrival (not CLOSING: that one's content is
    being finalised), and is late.
    """
    own = cadence.period_of(event_time)
    held = periods.get(own.id)
    if held is None or not held.is_closed_at(arrival_time):
        return Assignment(own.id, own.id, False)
    span = own
    for _ in range(_MAX_STEPS):
        span = cadence.following(span)
        later = periods.get(span.id)
        if later is None or later.is_open_at(arrival_time):
            return Assignment(span.id, own.id, True)
    raise NoOpenPeriodError(own.id)


def current_open_period(cadence: Cadence, periods: Mapping[str, Period], now: datetime) -> str:
    """The period corrections and dispute decisions land in at ``now``: the one
    containing ``now`` if it is still OPEN, else the first OPEN one after it."""
    span = cadence.period_of(now)
    for _ in range(_MAX_STEPS):
        held = periods.get(span.id)
        if held is None or held.is_open_at(now):
            return span.id
        span = cadence.following(span)
    raise NoOpenPeriodError(span.id)
