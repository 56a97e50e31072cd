"""Sources without a node: locations, typed reads, filters, lookups, bounded batches."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from services.errors import FailedPreconditionError, InvalidArgumentError, UnavailableError
from services.sources import (
    Column,
    FieldType,
    FileLocation,
    FilterOp,
    RowFilter,
    SqlLocation,
    check_covers,
    encode_bounded,
    inspect_source,
    open_reader,
    validate_location,
)

COLUMNS = [
    Column("id_no", FieldType.STRING),
    Column("born", FieldType.DATE),
    Column("n", FieldType.INT64),
]
TABLE = pa.table(
    {
        "id_no": ["a1", "b2", "c3"],
        "born": [dt.date(1990, 1, 1), dt.date(1991, 2, 2), dt.date(1992, 3, 3)],
        "n": pa.array([1, 2, 3], pa.int32()),
    }
)


def test_locations_cannot_escape_the_data_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.parquet"
    pq.write_table(TABLE, outside)
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(outside, data / "link.parquet")
    for bad in ("/etc/passwd.csv", "../outside.parquet", "link.parquet", "a/../../x.csv"):
        problems = validate_location(FileLocation(bad), data)
        assert [p.field for p in problems] == ["source.file.path"], bad
    assert validate_location(FileLocation("ok.parquet"), data) == []
    assert [p.field for p in validate_location(SqlLocation("sqlite:////etc/x.db", "t"), data)] == [
        "source.sql.url"
    ]
    problems = validate_location(SqlLocation("mysql://u:p@h/d", "t;x", "delete from t"), data)
    assert len(problems) == 4
    with pytest.raises(InvalidArgumentError) as err:
        open_reader(FileLocation("../outside.parquet"), data, COLUMNS)
    assert err.value.reason == "INVALID_SOURCE"
    with pytest.raises(UnavailableError):
        inspect_source(FileLocation("missing.parquet"), data)


@pytest.mark.parametrize("kind", ["parquet", "csv", "sqlite-table", "sqlite-query"])
def test_every_kind_reads_typed_filtered_and_by_key(tmp_path: Path, kind: str) -> None:
    if kind == "parquet":
        pq.write_table(TABLE, tmp_path / "t.parquet")
        loc: FileLocation | SqlLocation = FileLocation("t.parquet")
    elif kind == "csv":
        pacsv.write_csv(TABLE, tmp_path / "t.csv")
        loc = FileLocation("t.csv")
    else:
        con = sqlite3.connect(tmp_path / "s.db")
        con.execute("CREATE TABLE people (id_no TEXT, born DATE, n INTEGER)")
        con.executemany(
            "INSERT INTO people VALUES (?, ?, ?)",
            [("a1", "1990-01-01", 1), ("b2", "1991-02-02", 2), ("c3", "1992-03-03", 3)],
        )
        con.commit()
        con.close()
        loc = SqlLocation(
            "sqlite:///s.db",
            *(("people", "") if kind == "sqlite-table" else ("", "SELECT * FROM people")),
        )
    shape = inspect_source(loc, tmp_path, COLUMNS)
    check_covers(shape, COLUMNS)
    reader = open_reader(loc, tmp_path, COLUMNS, ("id_no",))
    assert reader.schema.field("n").type == pa.int64()
    assert reader.schema.field("born").type == pa.date32()
    got = pa.Table.from_batches(
        list(reader.scan(["id_no", "n"], [RowFilter("born", FilterOp.GE, "1991-01-01")], 1)),
        schema=reader.output_schema(["id_no", "n"]),
    )
    assert got.to_pylist() == [{"id_no": "b2", "n": 2}, {"id_no": "c3", "n": 3}]
    inset = list(reader.scan(["n"], [RowFilter("n", FilterOp.IN, values=("1", "3"))], 10))
    assert sum(b.num_rows for b in inset) == 2
    row = reader.lookup(reader.parse_key({"id_no": "c3"}), ["born"])
    assert row.to_pylist() == [{"born": dt.date(1992, 3, 3)}]
    assert reader.lookup(reader.parse_key({"id_no": "zz"}), ["born"]).num_rows == 0
    with pytest.raises(InvalidArgumentError) as err:
        reader.parse_key({"n": "1"})
    assert err.value.reason == "INVALID_KEY"
    with pytest.raises(InvalidArgumentError) as err:
        reader.check_filters([RowFilter("n", FilterOp.LT, "x")])
    assert err.value.reason == "INVALID_FILTER"


def test_schema_mismatch_names_the_field(tmp_path: Path) -> None:
    pq.write_table(TABLE.drop(["n"]), tmp_path / "t.parquet")
    with pytest.raises(FailedPreconditionError) as err:
        check_covers(inspect_source(FileLocation("t.parquet"), tmp_path), COLUMNS)
    assert (err.value.reason, err.value.metadata["field"]) == ("SOURCE_SCHEMA_MISMATCH", "n")
    pacsv.write_csv(
        pa.table({"id_no": ["a"], "born": ["not a date"], "n": [1]}), tmp_path / "t.csv"
    )
    with pytest.raises(FailedPreconditionError) as err:
        inspect_source(FileLocation("t.csv"), tmp_path, COLUMNS)
    assert err.value.metadata["field"] == "born"


def test_batches_stay_within_the_byte_bound() -> None:
    batch = pa.RecordBatch.from_pydict({"s": ["x" * 1000] * 1000})
    pieces = list(encode_bounded(batch, 100_000))
    assert sum(p.rows for p in pieces) == 1000
    assert all(p.body_bytes <= 100_000 for p in pieces)
    huge = pa.RecordBatch.from_pydict({"s": ["y" * 300_000]})
    (alone,) = encode_bounded(huge, 100_000)  # a single row larger than the bound goes alone
    assert alone.rows == 1
