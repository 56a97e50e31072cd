"""Clocks for the settlement domain: every time-dependent step takes one.

Period transitions and dispute deadlines never read the system time themselves;
they call an injected :data:`Clock` (a zero-argument callable returning an aware
``datetime``). Production passes :func:`system_clock`; tests pass a
:class:`ManualClock` they move by hand::

    clock = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
    clock.advance(timedelta(days=3))
    clock()   # datetime(2026, 12, 4, 0, 0, tzinfo=UTC)

All times in this package are timezone-aware and normalised to UTC by
:func:`utc`; a naive ``datetime`` is refused, because guessing its zone is how
a record lands in the wrong period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.settlement.errors import SettlementValueError

__all__ = ["EPOCH", "Clock", "ManualClock", "from_micros", "micros", "system_clock", "utc"]

Clock = Callable[[], datetime]
"""A source of the current time: returns an aware ``datetime``."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(value: datetime, field: str = "time") -> datetime:
    """``value`` in UTC; raises :class:`SettlementValueError` for a naive datetime."""
    if not isinstance(value, datetime):
        raise SettlementValueError(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SettlementValueError(field, "must be timezone-aware")
    return value.astimezone(UTC)


def micros(value: datetime) -> int:
    """Microseconds since the Unix epoch (exact, no float)."""
    delta = utc(value) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The UTC datetime ``value`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(microseconds=value)


def system_clock() -> datetime:
    """The system's current time, UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (a test fake with the real interface)."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start, "start")

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backward) and return the new time."""
        if delta < timedelta(0):
            raise SettlementValueError("delta", "a clock never moves backward")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (not earlier than now) and return it."""
        when = utc(when, "when")
        if when < self._now:
            raise SettlementValueError("when", "a clock never moves backward")
        self._now = when
        return self._now
