"""Money in settlement: integer fen, one rounding point, decimal residues.

Rules (DESIGN.md "Money", ``bashu.common.v1`` "Money"):

* Every amount is an ``int`` of fen (1/100 yuan) with the ISO 4217 code
  :data:`CURRENCY` ("CNY"). No floats anywhere.
* There is one rounding point: the amount of ONE usage line (one usage record) is
  rounded half-up to a whole fen when the use is metered (:func:`round_half_up`;
  a tie rounds away from zero, so 2.5 → 3 and −2.5 → −3). Statements, netting and
  reports only add integers; they never round again.
* What rounding moved is reported, never settled: the *rounding residue* of a record
  is ``exact − rounded`` (a ``Decimal`` of fen, |residue| ≤ 0.5). A statement line
  shows the sum over its records; a re-rating shows ``exact delta − rounded delta``.
  Residues are informational and never enter a net amount.

Example::

    round_half_up(Decimal("12.5"))    # 13
    format_fen(Decimal("-0.3750"))    # "-0.375"
    format_yuan(123456)               # "1,234.56"
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from services.settlement.errors import SettlementValueError

__all__ = [
    "CURRENCY",
    "MAX_FEN",
    "check_fen",
    "format_fen",
    "format_yuan",
    "parse_fen_decimal",
    "round_half_up",
]

CURRENCY = "CNY"
MAX_FEN = 2**63 - 1  # int64 on the wire


def check_fen(value: object, field: str, *, allow_negative: bool = False) -> int:
    """``value`` as an int64 amount of fen, or :class:`SettlementValueError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettlementValueError(field, "must be an integer number of fen")
    if not allow_negative and value < 0:
        raise SettlementValueError(field, "must not be negative")
    if not -MAX_FEN <= value <= MAX_FEN:
        raise SettlementValueError(field, "out of int64 range")
    return value


def round_half_up(exact_fen: Decimal) -> int:
    """The rounding rule: a usage line's exact fen to whole fen, ties away from zero."""
    if not exact_fen.is_finite():
        raise SettlementValueError("exact_fen", "must be finite")
    return int(exact_fen.to_integral_value(rounding=ROUND_HALF_UP))


def parse_fen_decimal(text: str, field: str = "exact_fen") -> Decimal:
    """A decimal string of fen (``"12.345"``) as a finite ``Decimal``."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise SettlementValueError(field, f"not a decimal number: {text!r}") from None
    if not value.is_finite():
        raise SettlementValueError(field, "must be finite")
    return value


def format_fen(value: Decimal) -> str:
    """Canonical decimal string of a fen residue: no exponent, no trailing zeros,
    ``"0"`` for zero (never ``"-0"``). Both regions must print the same text."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_yuan(fen: int) -> str:
    """``123456`` → ``"1,234.56"`` (for people; machines read fen)."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d}"
