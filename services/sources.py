"""Sources: where a product revision's data lives, and reading it as Apache Arrow.

A source is a Parquet or CSV file under the node's data directory, or a table or a
read-only query in a SQL database reached by a SQLAlchemy URL. Whatever the source,
readers hand out Arrow data typed by the product descriptor (a source's ``int32``
column of an ``INT64`` field comes out as ``int64``), with column selection, a
simple conjunctive row filter, bounded record batches, keyed lookup and claim
checks::

    location = FileLocation("people/2026.parquet", FileFormat.PARQUET)
    problems = validate_location(location, data_dir)         # [] when acceptable
    shape = inspect_source(location, data_dir)                # schema + row count
    check_covers(shape, columns)                              # SOURCE_SCHEMA_MISMATCH
    reader = open_reader(location, data_dir, columns, key_columns=("id_no",))
    for batch in reader.scan(["name", "city"], [RowFilter("city", FilterOp.EQ, "成都")], 65536):
        ...
    row = reader.lookup({"id_no": "51010519900101123X"}, ["name"])   # 0 or 1 row

Files are read whole into memory (and kept, keyed by path, size and modification
time, under a byte budget) when they are small enough, which makes keyed lookups a
dictionary probe and bulk reads zero-copy slices; larger files are streamed through
``pyarrow.dataset`` scanners. SQL sources run every statement in a read-only
transaction (SQLite files are opened ``mode=ro``).

Failures are domain errors: a bad definition is ``INVALID_SOURCE`` (every problem at
once), a source that cannot be read now ``SOURCE_UNAVAILABLE``, a schema that does
not cover the descriptor ``SOURCE_SCHEMA_MISMATCH``, a bad filter ``INVALID_FILTER``.

What this module does NOT do: no licences, no masking, no metering, no database of
its own (the registrations live in :mod:`services.metering`'s tables).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import enum
import itertools
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from services.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    UnavailableError,
)
from services.rowipc import RowEncoder

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_ROWS",
    "MAX_BATCH_BYTES",
    "Column",
    "EncodedBatch",
    "FieldType",
    "FileFormat",
    "FileLocation",
    "FilterOp",
    "Location",
    "Reader",
    "RowFilter",
    "SourceShape",
    "SqlLocation",
    "arrow_type",
    "check_covers",
    "encode_batch",
    "encode_bounded",
    "inspect_source",
    "ipc_body_size",
    "open_reader",
    "parse_literal",
    "redact_url",
    "validate_location",
]

DEFAULT_BATCH_ROWS = 65_536
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024
MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_IN_VALUES = 1000
# Files up to this size are held in memory; the cache as a whole stays under twice
# that (least recently used files are dropped first).
IN_MEMORY_FILE_BYTES = 256 * 1024 * 1024
CACHE_BUDGET_BYTES = 2 * IN_MEMORY_FILE_BYTES
# Derived views (masked copies) kept per file table.
MAX_DERIVED = 8
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


class FileFormat(enum.StrEnum):
    PARQUET = "PARQUET"
    CSV = "CSV"


class FieldType(enum.StrEnum):
    """A descriptor field's logical type (``bashu.catalog.v1.FieldType``)."""

    STRING = "STRING"
    INT64 = "INT64"
    DOUBLE = "DOUBLE"
    DECIMAL = "DECIMAL"
    BOOL = "BOOL"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    BINARY = "BINARY"
    GEOMETRY_WKB = "GEOMETRY_WKB"


class FilterOp(enum.StrEnum):
    EQ = "EQ"
    NE = "NE"
    LT = "LT"
    LE = "LE"
    GT = "GT"
    GE = "GE"
    IN = "IN"
    IS_NULL = "IS_NULL"
    IS_NOT_NULL = "IS_NOT_NULL"


@dataclass(frozen=True)
class FileLocation:
    """A file under the data directory; ``path`` is relative to it."""

    path: str
    format: FileFormat | None = None  # None: from the extension
    csv_delimiter: str = ","

    @property
    def resolved_format(self) -> FileFormat:
        if self.format is not None:
            return self.format
        return FileFormat.CSV if self.path.lower().endswith(".csv") else FileFormat.PARQUET


@dataclass(frozen=True)
class SqlLocation:
    """A table or a read-only SELECT reached by a SQLAlchemy URL."""

    url: str
    table: str = ""
    query: str = ""


Location = FileLocation | SqlLocation


@dataclass(frozen=True)
class Column:
    """A descriptor field as sources see it: a name and a logical type."""

    name: str
    type: FieldType


@dataclass(frozen=True)
class RowFilter:
    """One condition; values are text literals parsed as the column's type."""

    column: str
    op: FilterOp
    value: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceShape:
    """What registration learns by opening a source."""

    schema: pa.Schema
    row_count: int  # -1 when unknown (queries)
    # Queries: up to 100 rows, so text columns of a SQLite query can be checked by
    # casting what they hold (SQLite keeps dates and decimals as text).
    sample: pa.Table | None = None


@dataclass(frozen=True)
class EncodedBatch:
    """One record batch ready to send: the IPC message and what it counts for."""

    batch: pa.RecordBatch
    ipc: pa.Buffer  # the encapsulated IPC message (metadata + body)
    body_bytes: int  # the body alone, which is what quotas and tariffs count

    @property
    def rows(self) -> int:
        return int(self.batch.num_rows)


# --- types ---------------------------------------------------------------------------

_DECIMAL_DEFAULT = pa.decimal128(38, 8)


def arrow_type(ft: FieldType) -> pa.DataType:
    """The Arrow type a field of type ``ft`` travels as (decimals: see ``_out_type``)."""
    return {
        FieldType.STRING: pa.string(),
        FieldType.INT64: pa.int64(),
        FieldType.DOUBLE: pa.float64(),
        FieldType.DECIMAL: _DECIMAL_DEFAULT,
        FieldType.BOOL: pa.bool_(),
        FieldType.DATE: pa.date32(),
        FieldType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
        FieldType.BINARY: pa.binary(),
        FieldType.GEOMETRY_WKB: pa.binary(),
    }[ft]


def _compatible(src: pa.DataType, ft: FieldType) -> bool:
    t = pa.types
    if t.is_dictionary(src):
        src = src.value_type
    if t.is_null(src):
        return True
    match ft:
        case FieldType.STRING:
            return bool(t.is_string(src) or t.is_large_string(src))
        case FieldType.INT64:
            return bool(t.is_integer(src))
        case FieldType.DOUBLE:
            return bool(t.is_floating(src) or t.is_integer(src))
        case FieldType.DECIMAL:
            return bool(t.is_decimal(src) or t.is_integer(src))
        case FieldType.BOOL:
            return bool(t.is_boolean(src))
        case FieldType.DATE:
            return bool(t.is_date(src))
        case FieldType.TIMESTAMP:
            return bool(t.is_timestamp(src))
        case FieldType.BINARY | FieldType.GEOMETRY_WKB:
            return bool(t.is_binary(src) or t.is_large_binary(src) or t.is_fixed_size_binary(src))


def _out_type(src: pa.DataType, ft: FieldType) -> pa.DataType:
    if ft is FieldType.DECIMAL and pa.types.is_decimal(src):
        return src
    return arrow_type(ft)


def _field_metadata(ft: FieldType) -> dict[bytes, bytes] | None:
    return {b"bashu.geometry": b"wkb"} if ft is FieldType.GEOMETRY_WKB else None


def _cast(arr: pa.Array | pa.ChunkedArray, target: pa.DataType) -> Any:
    if arr.type == target:
        return arr
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(arr.type) and arr.type.tz is None:
        # Naive source timestamps are taken to be UTC.
        arr = pc.assume_timezone(arr, "UTC")
    return arr.cast(target)


def parse_literal(text: str, typ: pa.DataType) -> Any:
    """Parse a text literal as a value of Arrow type ``typ``; ValueError if it is not one.

    ISO 8601 for dates and timestamps, ``true``/``false`` for booleans.
    """
    t = pa.types
    if t.is_string(typ) or t.is_large_string(typ):
        return text
    if t.is_boolean(typ):
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return low == "true"
    if t.is_integer(typ):
        return int(text.strip(), 10)
    if t.is_floating(typ):
        return float(text)
    if t.is_decimal(typ):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a decimal") from None
    if t.is_date(typ):
        return dt.date.fromisoformat(text.strip())
    if t.is_timestamp(typ):
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if t.is_binary(typ) or t.is_large_binary(typ):
        return bytes.fromhex(text)
    raise ValueError(f"cannot compare values of type {typ}")


# --- locations -------------------------------------------------------------------------


def _inside(data_dir: Path, rel: str) -> Path | None:
    if not rel or os.path.isabs(rel) or ".." in Path(rel).parts or "\x00" in rel:
        return None
    root = data_dir.resolve()
    full = (root / rel).resolve()  # follows symbolic links
    return full if full == root or root in full.parents else None


def _sqlite_path(data_dir: Path, url: sa.URL) -> Path | None:
    return _inside(data_dir, url.database or "")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (what responses show)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "***"
    return parsed.render_as_string(hide_password=True)


def validate_location(location: Location, data_dir: Path) -> list[FieldViolation]:
    """Every problem of a source definition (empty when it is acceptable)."""
    out: list[FieldViolation] = []
    if isinstance(location, FileLocation):
        if _inside(data_dir, location.path) is None:
            out.append(
                FieldViolation(
                    "source.file.path", "must be a relative path inside the node's data directory"
                )
            )
        ext = location.path.lower().rsplit(".", 1)[-1] if "." in location.path else ""
        if location.format is None and ext not in ("parquet", "csv"):
            out.append(
                FieldViolation("source.file.format", "give a format or a .parquet/.csv path")
            )
        if len(location.csv_delimiter) != 1:
            out.append(FieldViolation("source.file.csv_delimiter", "must be one character"))
        return out
    try:
        url = make_url(location.url)
    except ArgumentError:
        return [FieldViolation("source.sql.url", "not a SQLAlchemy URL")]
    backend = url.get_backend_name()
    if backend == "sqlite":
        if _sqlite_path(data_dir, url) is None:
            out.append(
                FieldViolation(
                    "source.sql.url",
                    "SQLite files must be relative paths inside the data directory",
                )
            )
    elif backend != "postgresql":
        out.append(FieldViolation("source.sql.url", f"unsupported database {backend!r}"))
    if bool(location.table) == bool(location.query):
        out.append(FieldViolation("source.sql", "give exactly one of table and query"))
    if location.table and not _TABLE_RE.match(location.table):
        out.append(FieldViolation("source.sql.table", "must be NAME or SCHEMA.NAME"))
    if location.query:
        body = location.query.strip().rstrip(";")
        if not _QUERY_START.match(body) or ";" in body:
            out.append(FieldViolation("source.sql.query", "must be one SELECT statement"))
    return out


def _require_valid(location: Location, data_dir: Path) -> None:
    problems = validate_location(location, data_dir)
    if problems:
        raise InvalidArgumentError(problems, reason="INVALID_SOURCE")


def _unavailable(what: str, exc: BaseException | None = None) -> UnavailableError:
    detail = f": {type(exc).__name__}" if exc is not None else ""
    return UnavailableError(
        f"source cannot be read now ({what}{detail})", reason="SOURCE_UNAVAILABLE"
    )


# --- filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cond:
    column: str
    op: FilterOp
    values: tuple[Any, ...]


def _compile_filters(filters: Sequence[RowFilter], schema: pa.Schema) -> list[_Cond]:
    out: list[_Cond] = []
    bad: list[FieldViolation] = []
    for i, f in enumerate(filters):
        where = f"filters[{i}]"
        if f.column not in schema.names:
            bad.append(FieldViolation(f"{where}.column", f"no column {f.column!r}"))
            continue
        typ = schema.field(f.column).type
        raw: tuple[str, ...]
        if f.op in (FilterOp.IS_NULL, FilterOp.IS_NOT_NULL):
            raw = ()
        elif f.op is FilterOp.IN:
            if not 1 <= len(f.values) <= MAX_IN_VALUES:
                bad.append(FieldViolation(f"{where}.values", f"give 1 to {MAX_IN_VALUES} values"))
                continue
            raw = f.values
        else:
            raw = (f.value,)
        try:
            values = tuple(parse_literal(v, typ) for v in raw)
        except (ValueError, TypeError) as exc:
            bad.append(FieldViolation(f"{where}.value", str(exc)))
            continue
        out.append(_Cond(f.column, f.op, values))
    if bad:
        raise InvalidArgumentError(bad, reason="INVALID_FILTER")
    return out


def _arrow_expr(conds: Sequence[_Cond], schema: pa.Schema) -> pc.Expression | None:
    expr: pc.Expression | None = None
    for c in conds:
        field = pc.field(c.column)
        typ = schema.field(c.column).type

        def lit(v: Any, typ: pa.DataType = typ) -> pa.Scalar:
            return pa.scalar(v, type=typ)

        match c.op:
            case FilterOp.EQ:
                e = field == lit(c.values[0])
            case FilterOp.NE:
                e = field != lit(c.values[0])
            case FilterOp.LT:
                e = field < lit(c.values[0])
            case FilterOp.LE:
                e = field <= lit(c.values[0])
            case FilterOp.GT:
                e = field > lit(c.values[0])
            case FilterOp.GE:
                e = field >= lit(c.values[0])
            case FilterOp.IN:
                e = field.isin(pa.array(list(c.values), type=typ))
            case FilterOp.IS_NULL:
                e = field.is_null()
            case FilterOp.IS_NOT_NULL:
                e = field.is_valid()
        expr = e if expr is None else expr & e
    return expr


# --- batches ---------------------------------------------------------------------------


def encode_batch(batch: pa.RecordBatch) -> EncodedBatch:
    """Serialise one record batch as an encapsulated IPC message."""
    buf = batch.serialize()
    return EncodedBatch(batch, buf, ipc_body_size(buf))


def ipc_body_size(message: pa.Buffer | bytes) -> int:
    """The body length of an encapsulated IPC message (as ``batch.serialize()`` makes
    it): the whole, less the continuation marker, the metadata length and the padded
    metadata that length counts. Parsing the message back costs more than the batch."""
    view = memoryview(message)
    if len(view) < 8 or view[:4].tobytes() != b"\xff\xff\xff\xff":
        return int(pa.ipc.read_message(message).body.size)
    return len(view) - 8 - int.from_bytes(view[4:8], "little", signed=True)


def encode_bounded(batch: pa.RecordBatch, max_bytes: int) -> Iterator[EncodedBatch]:
    """Serialise ``batch`` as IPC messages whose bodies stay within ``max_bytes``.

    A batch that is too large is split by rows (estimated from its size, then halved
    until it fits); a single row larger than the bound is sent alone.
    """
    if batch.num_rows == 0:
        return
    # Sized before serialising (no copy): a batch that must be split is not
    # serialised whole first.
    size = pa.ipc.get_record_batch_size(batch)
    if size <= max_bytes or batch.num_rows == 1:
        whole = encode_batch(batch)
        if whole.body_bytes <= max_bytes or batch.num_rows == 1:
            yield whole
            return
        size = whole.body_bytes
    per_row = max(1, size // batch.num_rows)
    step = max(1, min(batch.num_rows // 2, int(max_bytes * 0.9) // per_row))
    start = 0
    while start < batch.num_rows:
        piece = batch.slice(start, min(step, batch.num_rows - start))
        yield from encode_bounded(piece, max_bytes)
        start += piece.num_rows


# --- readers ---------------------------------------------------------------------------


class Reader:
    """An opened source, typed by the descriptor's columns. Thread-safe."""

    def __init__(self, columns: Sequence[Column], key_columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.key_columns = tuple(key_columns)
        self._types = {c.name: c.type for c in columns}

    @property
    def schema(self) -> pa.Schema:
        """The output schema of every descriptor column, in descriptor order."""
        raise NotImplementedError

    def output_schema(self, names: Sequence[str]) -> pa.Schema:
        schema = self.schema
        return pa.schema([schema.field(n) for n in names])

    def check_filters(self, filters: Sequence[RowFilter]) -> None:
        """Raise INVALID_FILTER for unknown operators or unparseable values."""
        _compile_filters(filters, self.schema)

    def estimated_rows(self, filters: Sequence[RowFilter]) -> int:
        return -1

    def scan(
        self, names: Sequence[str], filters: Sequence[RowFilter], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def derived(self, tag: Hashable, build: Callable[[pa.Table], pa.Table]) -> Reader | None:
        """A reader over ``build(whole table)``, computed once and kept with the table,
        or None when this source is not held in memory. ``build`` must keep the
        schema and the rows (masking, for instance), so filters and keys still apply."""
        return None

    def lookup(self, key: Mapping[str, Any], names: Sequence[str]) -> pa.RecordBatch:
        """The row whose key columns equal ``key`` (typed values), 0 or 1 row."""
        raise NotImplementedError

    def lookup_derived_message(
        self,
        key: Mapping[str, Any],
        names: Sequence[str],
        tag: Hashable,
        build: Callable[[pa.Table], pa.Table],
    ) -> tuple[bytes, int] | None:
        """:meth:`lookup`, from the view :meth:`derived` keeps under ``tag`` (the key is
        matched against the source's own values, so a masked key column still finds
        its row), as the row's IPC record-batch message (what ``serialize()`` of that
        row gives) and its row count: built without Arrow's kernels where the column
        types allow (see :mod:`services.rowipc`). None when this source is not held
        in memory."""
        return None

    def parse_key(self, key: Mapping[str, str]) -> dict[str, Any]:
        """Typed key values from text; INVALID_KEY if a key field is missing, extra
        or unparseable (every problem at once)."""
        bad: list[FieldViolation] = []
        out: dict[str, Any] = {}
        schema = self.schema
        for name in self.key_columns:
            if name not in key:
                bad.append(FieldViolation(f"key.{name}", "missing key field"))
                continue
            try:
                out[name] = parse_literal(key[name], schema.field(name).type)
            except (ValueError, TypeError) as exc:
                bad.append(FieldViolation(f"key.{name}", str(exc)))
        for name in key:
            if name not in self.key_columns:
                bad.append(FieldViolation(f"key.{name}", "not a key field"))
        if not self.key_columns:
            bad.append(FieldViolation("key", "the product has no key fields"))
        if bad:
            raise InvalidArgumentError(bad, reason="INVALID_KEY")
        return out


def _output_schema(source: pa.Schema, columns: Sequence[Column]) -> pa.Schema:
    fields = []
    for c in columns:
        src = source.field(c.name).type if c.name in source.names else arrow_type(c.type)
        fields.append(pa.field(c.name, _out_type(src, c.type), metadata=_field_metadata(c.type)))
    return pa.schema(fields)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    arrays = [_cast(table.column(f.name), f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass
class _Cached:
    table: pa.Table
    nbytes: int
    index: dict[tuple[Any, ...], int] | None = None
    derived: dict[Hashable, pa.Table] = dataclasses.field(default_factory=dict)
    # (tag, column names) -> a derived view's batches (zero-copy) and their first rows
    rows: dict[Hashable, _RowView] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class _RowView:
    batches: list[pa.RecordBatch]
    starts: list[int]  # the view's row number of each batch's first row
    positions: pa.Array  # 0, 1, 2 … as long as the longest batch (take() indices)
    # Per batch, the Python encoder of its rows as IPC messages (None: Arrow's).
    encoders: list[RowEncoder | None]
    empty: bytes  # the message of no row

    @classmethod
    def of(cls, batches: list[pa.RecordBatch]) -> _RowView:
        return cls(
            batches,
            list(itertools.accumulate((b.num_rows for b in batches[:-1]), initial=0)),
            pa.array(range(max(b.num_rows for b in batches)), pa.int64()),
            [RowEncoder.of(b) for b in batches],
            batches[0].slice(0, 0).serialize().to_pybytes(),
        )

    def message(self, row: int | None) -> tuple[bytes, int]:
        """The row's IPC record-batch message (as ``serialize()`` of the row taken
        alone) and its row count, encoded without giving the GIL away where the
        types allow."""
        if row is None:
            return self.empty, 0
        i = bisect.bisect_right(self.starts, row) - 1
        at = row - self.starts[i]
        encoder = self.encoders[i]
        if encoder is not None:
            return encoder.encode(at), 1
        # take() rather than slice(): a slice serialises with its parents' buffers'
        # extent, a taken row as compactly as a batch built from it.
        taken = self.batches[i].take(self.positions.slice(at, 1))
        return taken.serialize().to_pybytes(), 1


class _TableCache:
    """Whole small files in memory, least recently used dropped first."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._items: OrderedDict[Hashable, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> _Cached | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, item: _Cached) -> _Cached:
        with self._lock:
            existing = self._items.get(key)
            if existing is not None:
                return existing
            self._items[key] = item
            total = sum(i.nbytes for i in self._items.values())
            while total > self._budget and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.nbytes
            return item

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _TableCache(CACHE_BUDGET_BYTES)


def _file_dataset(path: Path, location: FileLocation) -> pads.Dataset:
    if location.resolved_format is FileFormat.CSV:
        fmt = pads.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=location.csv_delimiter))
        return pads.dataset(str(path), format=fmt)
    return pads.dataset(str(path), format="parquet")


class _FileReader(Reader):
    def __init__(
        self,
        path: Path,
        location: FileLocation,
        columns: Sequence[Column],
        key_columns: Sequence[str],
    ) -> None:
        super().__init__(columns, key_columns)
        self._path = path
        self._location = location
        try:
            st = path.stat()
        except OSError as exc:
            raise _unavailable(location.path, exc) from None
        self._size = st.st_size
        # The cache key, as text: a string keeps its hash, where a tuple of location
        # and column dataclasses was hashed again on every lookup (twice per call).
        self._stamp = repr((str(path), st.st_size, st.st_mtime_ns, location, self.columns))
        self._in_memory = st.st_size <= IN_MEMORY_FILE_BYTES
        self._schema: pa.Schema | None = None
        self._lock = threading.Lock()

    def _read_all(self) -> pa.Table:
        names = [c.name for c in self.columns]
        try:
            if self._location.resolved_format is FileFormat.CSV:
                table = pacsv.read_csv(
                    self._path,
                    parse_options=pacsv.ParseOptions(delimiter=self._location.csv_delimiter),
                    convert_options=pacsv.ConvertOptions(
                        column_types={c.name: arrow_type(c.type) for c in self.columns},
                        include_columns=names,
                    ),
                )
            else:
                table = pq.read_table(self._path, columns=names)
            return _conform(table, _output_schema(table.schema, self.columns))
        except (OSError, pa.ArrowException) as exc:
            raise _unavailable(self._location.path, exc) from None

    def _cached(self) -> _Cached:
        item = _CACHE.get(self._stamp)
        if item is not None:
            return item
        with self._lock:
            item = _CACHE.get(self._stamp)
            if item is None:
                table = self._read_all()
                item = _CACHE.put(self._stamp, _Cached(table, max(table.nbytes, self._size)))
        return item

    def _dataset(self) -> pads.Dataset:
        try:
            return _file_dataset(self._path, self._location)
        except (OSError, pa.ArrowException) as exc:
            raise _unavailable(self._location.path, exc) from None

    @property
    def schema(self) -> pa.Schema:
        if self._in_memory:
            return self._cached().table.schema
        if self._schema is None:
            self._schema = _output_schema(self._dataset().schema, self.columns)
        return self._schema

    def derived(self, tag: Hashable, build: Callable[[pa.Table], pa.Table]) -> Reader | None:
        if not self._in_memory:
            return None
        return _TableReader(
            self._derived_table(self._cached(), tag, build), self.columns, self.key_columns
        )

    def _derived_table(
        self, item: _Cached, tag: Hashable, build: Callable[[pa.Table], pa.Table]
    ) -> pa.Table:
        table = item.derived.get(tag)
        if table is None:
            with self._lock:
                table = item.derived.get(tag)
                if table is None:
                    if len(item.derived) >= MAX_DERIVED:
                        item.derived.clear()
                        item.rows.clear()
                    table = build(item.table)
                    item.derived[tag] = table
        return table

    def _index(self, item: _Cached) -> dict[tuple[Any, ...], int]:
        if item.index is None:
            with self._lock:
                if item.index is None:
                    item.index = _build_index(item.table, self.key_columns)
        return item.index

    def lookup_derived_message(
        self,
        key: Mapping[str, Any],
        names: Sequence[str],
        tag: Hashable,
        build: Callable[[pa.Table], pa.Table],
    ) -> tuple[bytes, int] | None:
        if not self._in_memory:
            return None
        item = self._cached()
        row = self._index(item).get(tuple(key[k] for k in self.key_columns))
        ident = (tag, tuple(names))
        view = item.rows.get(ident)
        if view is None:
            table = self._derived_table(item, tag, build).select(list(names))
            view = _RowView.of(table.to_batches() or [_empty(table.schema)])
            with self._lock:
                if len(item.rows) >= 4 * MAX_DERIVED:
                    item.rows.clear()
                item.rows[ident] = view
        return view.message(row)

    def estimated_rows(self, filters: Sequence[RowFilter]) -> int:
        if self._in_memory:
            item = self._cached()
            if not filters:
                return int(item.table.num_rows)
            expr = _arrow_expr(_compile_filters(filters, item.table.schema), item.table.schema)
            return int(item.table.filter(expr).num_rows)
        return -1

    def scan(
        self, names: Sequence[str], filters: Sequence[RowFilter], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        schema = self.schema
        conds = _compile_filters(filters, schema)
        expr = _arrow_expr(conds, schema)
        out_schema = pa.schema([schema.field(n) for n in names])
        if self._in_memory:
            table = self._cached().table
            if expr is not None:
                table = table.filter(expr)
            table = table.select(list(names))
            yield from table.to_batches(max_chunksize=batch_rows)
            return
        try:
            scanner = self._dataset().scanner(
                columns=list(names), filter=expr, batch_size=batch_rows
            )
            for raw in scanner.to_batches():
                yield pa.RecordBatch.from_arrays(
                    [_cast(raw.column(i), f.type) for i, f in enumerate(out_schema)],
                    schema=out_schema,
                )
        except (OSError, pa.ArrowException) as exc:
            raise _unavailable(self._location.path, exc) from None

    def lookup(self, key: Mapping[str, Any], names: Sequence[str]) -> pa.RecordBatch:
        out_schema = self.output_schema(names)
        if self._in_memory:
            item = self._cached()
            row = self._index(item).get(tuple(key[k] for k in self.key_columns))
            if row is None:
                return _empty(out_schema)
            return item.table.select(list(names)).slice(row, 1).combine_chunks().to_batches()[0]
        conds = [_Cond(k, FilterOp.EQ, (v,)) for k, v in key.items()]
        for batch in self._scan_conds(names, conds):
            if batch.num_rows:
                return batch.slice(0, 1)
        return _empty(out_schema)

    def _scan_conds(self, names: Sequence[str], conds: Sequence[_Cond]) -> Iterator[pa.RecordBatch]:
        schema = self.schema
        expr = _arrow_expr(conds, schema)
        out_schema = pa.schema([schema.field(n) for n in names])
        try:
            scanner = self._dataset().scanner(columns=list(names), filter=expr)
            for raw in scanner.to_batches():
                yield pa.RecordBatch.from_arrays(
                    [_cast(raw.column(i), f.type) for i, f in enumerate(out_schema)],
                    schema=out_schema,
                )
        except (OSError, pa.ArrowException) as exc:
            raise _unavailable(self._location.path, exc) from None


class _TableReader(Reader):
    """A reader over a table already in memory (a derived view of a file's table)."""

    def __init__(
        self, table: pa.Table, columns: Sequence[Column], key_columns: Sequence[str]
    ) -> None:
        super().__init__(columns, key_columns)
        self._table = table

    @property
    def schema(self) -> pa.Schema:
        return self._table.schema

    def estimated_rows(self, filters: Sequence[RowFilter]) -> int:
        if not filters:
            return int(self._table.num_rows)
        return -1

    def scan(
        self, names: Sequence[str], filters: Sequence[RowFilter], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        table = self._table
        expr = _arrow_expr(_compile_filters(filters, table.schema), table.schema)
        if expr is not None:
            table = table.filter(expr)
        yield from table.select(list(names)).to_batches(max_chunksize=batch_rows)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


def _build_index(table: pa.Table, key_columns: Sequence[str]) -> dict[tuple[Any, ...], int]:
    cols = [table.column(k).to_pylist() for k in key_columns]
    index: dict[tuple[Any, ...], int] = {}
    for i, k in enumerate(zip(*cols, strict=True)):
        index.setdefault(k, i)
    return index


# --- SQL -------------------------------------------------------------------------------

_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _sql_engine(location: SqlLocation, data_dir: Path) -> sa.Engine:
    url = make_url(location.url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(data_dir, url)
        assert path is not None  # validated
        key = f"sqlite-ro:{path}"
        target: str | sa.URL = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        key = url.render_as_string(hide_password=False)
        target = url
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            if isinstance(target, str):
                engine = sa.create_engine(target, poolclass=NullPool)
            else:
                engine = sa.create_engine(target, pool_size=4, max_overflow=4, pool_pre_ping=True)
            _ENGINES[key] = engine
    return engine


@contextlib.contextmanager
def _read_only(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            yield conn
        finally:
            conn.rollback()


def _sa_to_arrow(t: sa.types.TypeEngine[Any]) -> pa.DataType:
    if isinstance(t, sa.Boolean):
        return pa.bool_()
    if isinstance(t, sa.Integer):
        return pa.int64()
    if isinstance(t, sa.Float):
        return pa.float64()
    if isinstance(t, sa.Numeric):
        return _DECIMAL_DEFAULT
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(t, sa.Date):
        return pa.date32()
    if isinstance(t, sa.LargeBinary):
        return pa.binary()
    if isinstance(t, sa.String | sa.Text):
        return pa.string()
    return pa.null()


class _SqlReader(Reader):
    def __init__(
        self,
        location: SqlLocation,
        data_dir: Path,
        columns: Sequence[Column],
        key_columns: Sequence[str],
    ) -> None:
        super().__init__(columns, key_columns)
        self._location = location
        self._engine = _sql_engine(location, data_dir)
        self._schema = pa.schema(
            [
                pa.field(c.name, arrow_type(c.type), metadata=_field_metadata(c.type))
                for c in columns
            ]
        )

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def _source(self) -> sa.FromClause:
        if self._location.table:
            schema, _, name = self._location.table.rpartition(".")
            return sa.table(name, *(sa.column(c.name) for c in self.columns), schema=schema or None)
        body = self._location.query.strip().rstrip(";")
        return sa.text(body).columns(*(sa.column(c.name) for c in self.columns)).subquery("q")

    def _where(self, src: sa.FromClause, conds: Sequence[_Cond]) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        for c in conds:
            col = src.c[c.column]
            v = c.values[0] if c.values else None
            match c.op:
                case FilterOp.EQ:
                    out.append(col == v)
                case FilterOp.NE:
                    out.append(col != v)
                case FilterOp.LT:
                    out.append(col < v)
                case FilterOp.LE:
                    out.append(col <= v)
                case FilterOp.GT:
                    out.append(col > v)
                case FilterOp.GE:
                    out.append(col >= v)
                case FilterOp.IN:
                    out.append(col.in_(list(c.values)))
                case FilterOp.IS_NULL:
                    out.append(col.is_(None))
                case FilterOp.IS_NOT_NULL:
                    out.append(col.is_not(None))
        return out

    def _to_batch(self, rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for i, f in enumerate(schema):
            values = [r[i] for r in rows]
            try:
                arr = pa.array(values, type=f.type)
            except (pa.ArrowException, TypeError, ValueError):
                arr = _cast(pa.array(values), f.type)
            arrays.append(arr)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _run(
        self, names: Sequence[str], conds: Sequence[_Cond], batch_rows: int, limit: int | None
    ) -> Iterator[pa.RecordBatch]:
        src = self._source()
        stmt = sa.select(*(src.c[n] for n in names)).where(*self._where(src, conds))
        if limit is not None:
            stmt = stmt.limit(limit)
        schema = self.output_schema(names)
        try:
            with _read_only(self._engine) as conn:
                result = conn.execution_options(stream_results=True).execute(stmt)
                for part in result.partitions(batch_rows):
                    yield self._to_batch(part, schema)
        except (SQLAlchemyError, pa.ArrowException, OSError) as exc:
            raise _unavailable(redact_url(self._location.url), exc) from None

    def scan(
        self, names: Sequence[str], filters: Sequence[RowFilter], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        conds = _compile_filters(filters, self.schema)
        yield from self._run(names, conds, batch_rows, None)

    def lookup(self, key: Mapping[str, Any], names: Sequence[str]) -> pa.RecordBatch:
        conds = [_Cond(k, FilterOp.EQ, (v,)) for k, v in key.items()]
        for batch in self._run(names, conds, 2, 1):
            if batch.num_rows:
                return batch.slice(0, 1)
        return _empty(self.output_schema(names))

    def estimated_rows(self, filters: Sequence[RowFilter]) -> int:
        if not self._location.table or filters:
            return -1
        src = self._source()
        try:
            with _read_only(self._engine) as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(src)).scalar_one())
        except SQLAlchemyError:
            return -1


# --- entry points ----------------------------------------------------------------------


def inspect_source(
    location: Location, data_dir: Path, columns: Sequence[Column] = ()
) -> SourceShape:
    """Open the source and read its schema (and row count where cheap).

    CSV has no types of its own: with ``columns`` the file is parsed as those types,
    and a value that does not parse is SOURCE_SCHEMA_MISMATCH naming the column.
    """
    _require_valid(location, data_dir)
    if isinstance(location, FileLocation):
        path = _inside(data_dir, location.path)
        assert path is not None
        if not path.is_file():
            raise _unavailable(f"{location.path} does not exist")
        try:
            if location.resolved_format is FileFormat.CSV:
                return _inspect_csv(path, location, columns)
            meta = pq.read_metadata(path)
            return SourceShape(meta.schema.to_arrow_schema(), int(meta.num_rows))
        except (OSError, pa.ArrowException) as exc:
            raise _unavailable(location.path, exc) from None
    engine = _sql_engine(location, data_dir)
    try:
        with _read_only(engine) as conn:
            if location.table:
                schema_name, _, name = location.table.rpartition(".")
                cols = sa.inspect(conn).get_columns(name, schema=schema_name or None)
                if not cols:
                    raise _unavailable(f"no table {location.table}")
                arrow = pa.schema([pa.field(c["name"], _sa_to_arrow(c["type"])) for c in cols])
                count = conn.execute(
                    sa.select(sa.func.count()).select_from(
                        sa.table(name, schema=schema_name or None)
                    )
                ).scalar_one()
                return SourceShape(arrow, int(count))
            body = location.query.strip().rstrip(";")
            result = conn.execute(sa.text(f"SELECT * FROM ({body}) AS q LIMIT 100"))  # noqa: S608
            names = list(result.keys())
            rows = result.fetchall()
            arrays = []
            for i in range(len(names)):
                try:
                    arrays.append(pa.array([r[i] for r in rows]))
                except (pa.ArrowException, TypeError, ValueError):
                    arrays.append(pa.nulls(len(rows)))
            sample = pa.Table.from_arrays(arrays, names=names)
            return SourceShape(sample.schema, -1, sample)
    except SQLAlchemyError as exc:
        raise _unavailable(redact_url(location.url), exc) from None


def _inspect_csv(path: Path, location: FileLocation, columns: Sequence[Column]) -> SourceShape:
    parse = pacsv.ParseOptions(delimiter=location.csv_delimiter)
    names = pacsv.open_csv(path, parse_options=parse).schema.names
    typed = {c.name: arrow_type(c.type) for c in columns if c.name in names}
    try:
        table = pacsv.read_csv(
            path, parse_options=parse, convert_options=pacsv.ConvertOptions(column_types=typed)
        )
    except pa.ArrowInvalid as exc:
        found = re.search(r"column #(\d+)", str(exc))
        name = names[int(found.group(1))] if found and int(found.group(1)) < len(names) else ""
        raise FailedPreconditionError(
            f"column {name!r} does not parse as its descriptor type",
            reason="SOURCE_SCHEMA_MISMATCH",
            metadata={"field": name},
        ) from None
    return SourceShape(table.schema, int(table.num_rows))


def _sample_casts(sample: pa.Table | None, name: str, ft: FieldType) -> bool:
    if sample is None or not pa.types.is_string(sample.schema.field(name).type):
        return False
    try:
        _cast(sample.column(name), arrow_type(ft))
    except (pa.ArrowException, ValueError):
        return False
    return True


def check_covers(shape: SourceShape, columns: Sequence[Column]) -> None:
    """Raise SOURCE_SCHEMA_MISMATCH unless every column exists with a compatible type."""
    schema = shape.schema
    for c in columns:
        if c.name not in schema.names:
            raise FailedPreconditionError(
                f"the source has no column {c.name!r}",
                reason="SOURCE_SCHEMA_MISMATCH",
                metadata={"field": c.name},
            )
        src = schema.field(c.name).type
        if not _compatible(src, c.type) and not _sample_casts(shape.sample, c.name, c.type):
            raise FailedPreconditionError(
                f"column {c.name!r} is {src}, the descriptor wants {c.type.value}",
                reason="SOURCE_SCHEMA_MISMATCH",
                metadata={"field": c.name},
            )


def open_reader(
    location: Location,
    data_dir: Path,
    columns: Sequence[Column],
    key_columns: Sequence[str] = (),
) -> Reader:
    """A reader of ``location`` producing the descriptor's ``columns``."""
    _require_valid(location, data_dir)
    if isinstance(location, FileLocation):
        path = _inside(data_dir, location.path)
        assert path is not None
        return _FileReader(path, location, columns, key_columns)
    return _SqlReader(location, data_dir, columns, key_columns)


def clear_cache() -> None:
    """Forget every file held in memory (tests; operators replacing files in place)."""
    _CACHE.clear()
