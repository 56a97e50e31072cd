"""Masking: how a field's values are disguised before they leave the provider's node.

Pure functions, no I/O: one scalar reference implementation per rule (``mask_value``)
and a vectorised Arrow implementation (``mask_array`` / ``mask_batch``) that must
agree with it value for value (a Hypothesis property test checks both, and that no
value ever reveals more characters than its rule allows)::

    mask_value(MaskingRule.ID_NUMBER, "11010519900101123X")   # "110105***********X"
    mask_value(MaskingRule.PHONE, "13812345678")              # "138****5678"
    mask_value(MaskingRule.NAME, "张三丰")                     # "张**"
    key = hash_key(secret, "regions/sc/licences/l-1")
    masked = mask_batch(batch, {"id_no": MaskingRule.ID_NUMBER}, key)

Rules (the ``bashu.common.v1.MaskingRule`` values):

* ``NONE`` — sent in clear.
* ``REDACT`` — every value becomes null.
* ``ID_NUMBER`` — a value of at least 15 characters keeps its first 6 (the region
  code) and its last (the check digit); every other character becomes ``*``. A
  shorter value is not an identity number and is masked entirely.
* ``PHONE`` — 11 characters or more keep the first 3 and the last 4; 8 to 10 keep
  only the last 4; shorter values are masked entirely.
* ``NAME`` — keeps the first character (the surname); a one-character value is
  masked entirely.
* ``HASH`` — HMAC-SHA-256 with a per-licence key (see :func:`hash_key`): strings
  become lower-case hex, binary the 32 raw bytes, integers the first 8 bytes as a
  signed big-endian integer; other types become null. Joins within one licence,
  never across licences.
* ``TRUNCATE_DATE`` — dates become the first of their month, timestamps the first
  of their month at 00:00 (unit and time zone kept), ISO strings their first 7
  characters (``YYYY-MM``); anything else becomes null.

Masked values keep their column's type (the text rules apply to strings; on any
other type they fall back to ``REDACT``), and nulls stay null. Lengths are counted
in Unicode code points, so names in Chinese mask by character.

What this module does NOT do: it does not decide which rule applies to a field
(the licence does) and it never sees keys other than the one it is handed.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "MASK_CHAR",
    "MaskingRule",
    "allowed_reveal",
    "hash_key",
    "mask_array",
    "mask_batch",
    "mask_value",
]

MASK_CHAR = "*"
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}")


class MaskingRule(enum.StrEnum):
    NONE = "NONE"
    REDACT = "REDACT"
    ID_NUMBER = "ID_NUMBER"
    PHONE = "PHONE"
    NAME = "NAME"
    HASH = "HASH"
    TRUNCATE_DATE = "TRUNCATE_DATE"


_TEXT_RULES = frozenset({MaskingRule.ID_NUMBER, MaskingRule.PHONE, MaskingRule.NAME})


def hash_key(secret: bytes, licence: str) -> bytes:
    """The HMAC key of ``licence``: derived from a node secret, so joins hold within
    one licence and never across two."""
    return hmac.new(secret, b"bashu.exchange/masking/v1\x00" + licence.encode(), "sha256").digest()


def allowed_reveal(rule: MaskingRule, length: int) -> int:
    """How many characters of a ``length``-character string the rule may keep."""
    if rule is MaskingRule.ID_NUMBER:
        return 7 if length >= 15 else 0
    if rule is MaskingRule.PHONE:
        return 7 if length >= 11 else 4 if length >= 8 else 0
    if rule is MaskingRule.NAME:
        return 1 if length >= 2 else 0
    if rule is MaskingRule.NONE:
        return length
    return 0


# --- the scalar reference ------------------------------------------------------------


def _mask_text(rule: MaskingRule, value: str) -> str:
    n = len(value)
    if rule is MaskingRule.ID_NUMBER:
        return value[:6] + MASK_CHAR * (n - 7) + value[-1] if n >= 15 else MASK_CHAR * n
    if rule is MaskingRule.PHONE:
        if n >= 11:
            return value[:3] + MASK_CHAR * (n - 7) + value[-4:]
        if n >= 8:
            return MASK_CHAR * (n - 4) + value[-4:]
        return MASK_CHAR * n
    # NAME
    return value[0] + MASK_CHAR * (n - 1) if n >= 2 else MASK_CHAR * n


def _digest(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def mask_value(rule: MaskingRule, value: Any, key: bytes = b"") -> Any:
    """Mask one Python value (None stays None); the reference for :func:`mask_array`."""
    if value is None or rule is MaskingRule.NONE:
        return value
    if rule in _TEXT_RULES:
        return _mask_text(rule, value) if isinstance(value, str) else None
    if rule is MaskingRule.HASH:
        if isinstance(value, str):
            return _digest(key, value.encode()).hex()
        if isinstance(value, bytes):
            return _digest(key, value)
        if isinstance(value, int) and not isinstance(value, bool):
            return int.from_bytes(_digest(key, str(value).encode())[:8], "big", signed=True)
        return None
    if rule is MaskingRule.TRUNCATE_DATE:
        if isinstance(value, datetime):
            return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if isinstance(value, date):
            return value.replace(day=1)
        if isinstance(value, str):
            return value[:7] if _ISO_MONTH.match(value) else None
        return None
    return None  # REDACT


# --- vectorised --------------------------------------------------------------------------


def _stars(counts: pa.Array) -> pa.Array:
    return pc.binary_repeat(MASK_CHAR, pc.max_element_wise(counts, 0))


def _mask_strings(rule: MaskingRule, arr: pa.Array) -> pa.Array:
    n = pc.utf8_length(arr)
    all_stars = _stars(n)
    if rule is MaskingRule.ID_NUMBER:
        kept = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(arr, 0, 6),
            _stars(pc.subtract(n, 7)),
            pc.utf8_slice_codeunits(arr, -1),
            "",
        )
        return pc.if_else(pc.greater_equal(n, 15), kept, all_stars)
    if rule is MaskingRule.PHONE:
        last4 = pc.utf8_slice_codeunits(arr, -4)
        long_form = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(arr, 0, 3), _stars(pc.subtract(n, 7)), last4, ""
        )
        mid_form = pc.binary_join_element_wise(_stars(pc.subtract(n, 4)), last4, "")
        return pc.if_else(
            pc.greater_equal(n, 11),
            long_form,
            pc.if_else(pc.greater_equal(n, 8), mid_form, all_stars),
        )
    kept = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(arr, 0, 1), _stars(pc.subtract(n, 1)), ""
    )
    return pc.if_else(pc.greater_equal(n, 2), kept, all_stars)


def _hash_array(arr: pa.Array, key: bytes) -> pa.Array:
    typ = arr.type
    values = arr.to_pylist()
    out = [mask_value(MaskingRule.HASH, v, key) for v in values]
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return pa.array(out, type=typ)
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return pa.array(out, type=typ)
    if pa.types.is_integer(typ):
        # Narrower integer columns cannot hold 64-bit digests: redact them instead.
        return pa.array(out, type=typ) if typ == pa.int64() else pa.nulls(len(arr), typ)
    return pa.nulls(len(arr), typ)


def _truncate_dates(arr: pa.Array) -> pa.Array:
    typ = arr.type
    if pa.types.is_date32(typ) or pa.types.is_date64(typ) or pa.types.is_timestamp(typ):
        if pa.types.is_timestamp(typ) and typ.tz is not None:
            # floor_temporal works on local wall time; the first of the month is wanted
            # in UTC, which the stored values already are.
            naive = arr.cast(pa.timestamp(typ.unit))
            floored = pc.floor_temporal(naive, unit="month")
            return floored.cast(typ)
        return pc.floor_temporal(arr, unit="month")
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        ok = pc.match_substring_regex(arr, _ISO_MONTH.pattern)
        return pc.if_else(ok, pc.utf8_slice_codeunits(arr, 0, 7), pa.nulls(len(arr), typ)).cast(typ)
    return pa.nulls(len(arr), typ)


def mask_array(rule: MaskingRule, arr: pa.Array | pa.ChunkedArray, key: bytes = b"") -> pa.Array:
    """Mask every value of ``arr``; the result has the same type and length."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    typ = arr.type
    if rule is MaskingRule.NONE:
        return arr
    if rule in _TEXT_RULES:
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            return _mask_strings(rule, arr.cast(pa.string())).cast(typ)
        return pa.nulls(len(arr), typ)
    if rule is MaskingRule.HASH:
        return _hash_array(arr, key)
    if rule is MaskingRule.TRUNCATE_DATE:
        return _truncate_dates(arr)
    return pa.nulls(len(arr), typ)


# Below this many rows the scalar reference is cheaper than a dozen compute kernels.
SMALL_BATCH = 16


def _mask_small(rule: MaskingRule, arr: pa.Array, key: bytes) -> pa.Array:
    typ = arr.type
    out = [mask_value(rule, v, key) for v in arr.to_pylist()]
    try:
        return pa.array(out, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.nulls(len(arr), typ)


def mask_batch(
    batch: pa.RecordBatch, rules: Mapping[str, MaskingRule], key: bytes = b""
) -> pa.RecordBatch:
    """Mask the columns of ``batch`` named in ``rules`` (others pass unchanged)."""
    if not any(
        rules.get(name, MaskingRule.NONE) is not MaskingRule.NONE for name in batch.schema.names
    ):
        return batch
    small = batch.num_rows <= SMALL_BATCH
    columns = []
    for i, name in enumerate(batch.schema.names):
        rule = rules.get(name, MaskingRule.NONE)
        column = batch.column(i)
        if rule is MaskingRule.NONE:
            columns.append(column)
        elif small and not pa.types.is_large_string(column.type):
            columns.append(_mask_small(rule, column, key))
        else:
            columns.append(mask_array(rule, column, key))
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)
