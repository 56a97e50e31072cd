"""services.rowipc must give exactly the bytes of Arrow's take + serialize, or decline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.rowipc import RowEncoder

_TYPES: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.string(), st.text(max_size=40)),
    (pa.large_string(), st.text(max_size=40)),
    (pa.binary(), st.binary(max_size=40)),
    (pa.large_binary(), st.binary(max_size=40)),
    (pa.bool_(), st.booleans()),
    (pa.int8(), st.integers(-(2**7), 2**7 - 1)),
    (pa.int16(), st.integers(-(2**15), 2**15 - 1)),
    (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.uint8(), st.integers(0, 2**8 - 1)),
    (pa.uint64(), st.integers(0, 2**64 - 1)),
    (pa.float32(), st.floats(width=32, allow_nan=False)),
    (pa.float64(), st.floats(allow_nan=False)),
    (pa.date32(), st.dates()),
    (pa.timestamp("us"), st.datetimes(min_value=dt.datetime(1900, 1, 1))),
    (pa.timestamp("ms", tz="Asia/Shanghai"), st.integers(-(2**40), 2**40)),
    (pa.time64("us"), st.times()),
    (pa.duration("s"), st.integers(-(2**40), 2**40)),
]


@st.composite
def batches(draw: st.DrawFn) -> tuple[pa.RecordBatch, int, int]:
    """A batch of several columns (with nulls), sliced from a bigger one at times."""
    kinds = draw(st.lists(st.sampled_from(range(len(_TYPES))), min_size=1, max_size=6))
    rows = draw(st.integers(1, 12))
    arrays = []
    for k in kinds:
        kind, values = _TYPES[k]
        column = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
        arrays.append(pa.array(column, kind))
    batch = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    start = draw(st.integers(0, rows - 1))
    length = draw(st.integers(1, rows - start))
    return batch.slice(start, length), start, length


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=batches(), pick=st.integers(0, 100))
def test_rows_are_arrows_bytes(data: tuple[pa.RecordBatch, int, int], pick: int) -> None:
    batch, _, length = data
    encoder = RowEncoder.of(batch)
    assert encoder is not None
    row = pick % length
    want = batch.take(pa.array([row], pa.int64())).serialize().to_pybytes()
    got = encoder.encode(row)
    assert got == want
    # and Arrow reads it back as that row
    back = pa.ipc.read_record_batch(pa.py_buffer(got), batch.schema)
    assert back.to_pylist() == batch.slice(row, 1).to_pylist()


def test_a_table_of_chunks_uses_each_chunks_own_buffers() -> None:
    table = pa.concat_tables(
        [pa.table({"s": ["a", "bb"], "n": [1, None]}), pa.table({"s": [None, "dddd"], "n": [3, 4]})]
    )
    for batch in table.to_batches():
        encoder = RowEncoder.of(batch)
        assert encoder is not None
        for row in range(batch.num_rows):
            want = batch.take(pa.array([row])).serialize().to_pybytes()
            assert encoder.encode(row) == want


@pytest.mark.parametrize(
    "array",
    [
        pa.array([[1, 2]], pa.list_(pa.int64())),
        pa.array(["a"]).dictionary_encode(),
        pa.array([{"x": 1}]),
        pa.array([1], pa.decimal128(10, 2)),
    ],
)
def test_types_it_does_not_know_are_declined(array: pa.Array) -> None:
    assert RowEncoder.of(pa.RecordBatch.from_arrays([array], names=["c"])) is None


def test_an_empty_batch_is_declined() -> None:
    assert RowEncoder.of(pa.record_batch({"s": pa.array([], pa.string())})) is None
