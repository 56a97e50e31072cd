"""Masking properties: the vectorised rules agree with the scalar reference, keep
types and lengths, and never reveal more of a value than the rule allows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from services.masking import (
    MASK_CHAR,
    MaskingRule,
    allowed_reveal,
    hash_key,
    mask_array,
    mask_batch,
    mask_value,
)

TEXT_RULES = [MaskingRule.ID_NUMBER, MaskingRule.PHONE, MaskingRule.NAME]
# Sensitive values as they come: digits, X check digits, Chinese names, and anything.
values = st.one_of(
    st.text(alphabet="0123456789X", min_size=0, max_size=24),
    st.text(alphabet="王李张刘陈杨赵黄周吴小明华", min_size=0, max_size=6),
    st.text(min_size=0, max_size=30).filter(lambda s: MASK_CHAR not in s),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TEXT_RULES), st.lists(st.one_of(st.none(), values), max_size=20))
def test_text_rules_reveal_no_more_than_allowed(rule: MaskingRule, items: list[str | None]) -> None:
    masked = mask_array(rule, pa.array(items, type=pa.string())).to_pylist()
    assert masked == [mask_value(rule, v) for v in items]
    # Small batches take the scalar path, large ones the kernels: same answer.
    batch = pa.RecordBatch.from_pydict({"v": pa.array(items, type=pa.string())})
    assert mask_batch(batch, {"v": rule}).column(0).to_pylist() == masked
    for original, out in zip(items, masked, strict=True):
        if original is None:
            assert out is None
            continue
        assert out is not None
        assert len(out) == len(original)
        revealed = [i for i, ch in enumerate(out) if ch != MASK_CHAR]
        assert all(out[i] == original[i] for i in revealed)
        assert len(revealed) <= allowed_reveal(rule, len(original))
        hidden = len(original) - len(revealed)
        if rule is not MaskingRule.NAME:
            assert hidden >= min(len(original), 4)
        if len(original) >= 2:
            assert out != original, "an unmasked sensitive value left"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), values), max_size=10), st.binary(min_size=1, max_size=8))
def test_hash_joins_within_a_licence_and_never_across(
    items: list[str | None], secret: bytes
) -> None:
    one, two = hash_key(secret, "regions/sc/licences/a"), hash_key(secret, "regions/sc/licences/b")
    arr = pa.array(items, type=pa.string())
    a1, a2, b = (mask_array(MaskingRule.HASH, arr, k).to_pylist() for k in (one, one, two))
    assert a1 == a2
    for original, x, y in zip(items, a1, b, strict=True):
        assert (x is None) == (original is None)
        if original is not None:
            assert x != original
            assert x != y


def test_other_types_keep_their_type() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "born": pa.array([dt.date(1990, 5, 17), None]),
            "at": pa.array(
                [dt.datetime(2026, 11, 3, 8, 30, tzinfo=dt.UTC), None], pa.timestamp("us", tz="UTC")
            ),
            "n": pa.array([12, None], pa.int64()),
            "id_no": pa.array(["11010519900101123X", "short"]),
        }
    )
    out = mask_batch(
        batch,
        {
            "born": MaskingRule.TRUNCATE_DATE,
            "at": MaskingRule.TRUNCATE_DATE,
            "n": MaskingRule.ID_NUMBER,
            "id_no": MaskingRule.ID_NUMBER,
        },
    )
    assert out.schema == batch.schema
    assert out.column("born").to_pylist() == [dt.date(1990, 5, 1), None]
    assert out.column("at").to_pylist()[0] == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert out.column("n").to_pylist() == [None, None]  # a text rule on numbers redacts
    assert out.column("id_no").to_pylist() == ["110105***********X", "*****"]
    assert mask_array(MaskingRule.REDACT, batch.column("n")).null_count == 2
