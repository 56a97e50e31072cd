"""The ledger's tables and the only ledger code that talks to a database.

Everything else in ``ledger/`` is pure: the sequencer, the :class:`~ledger.log.Log`
facade and the verifier call the small, typed functions here and never see SQL or
SQLAlchemy. The schema itself is created only by the Alembic migration
``services/migrations/versions/0002_ledger.py``; :data:`metadata` describes the same
tables for Alembic's comparisons and for readers::

    from ledger.storage import Store

    store = Store(engine)                    # an Engine from services.db.make_engine
    with store.reading() as r:               # one consistent read transaction
        head = r.head()                      # Head(size, root_hash)
        hashes = r.node_hashes([(0, 5), (3, 0)])   # {(level, index): hash}
    store.dispose()

Tables (one log per database; every name starts with ``ledger_``):

* ``ledger_entries(idx PK, data, leaf_hash, nodes, idempotency_key UNIQUE,
  appended_at)``: ``data`` holds the entry bytes exactly as they were hashed;
  ``leaf_hash`` is the level-0 node of the tree. The UNIQUE constraint on
  ``idempotency_key`` is permanent: it is what makes a retried append return the
  first entry.
* The interior hashes live in ``ledger_entries.nodes``: appending leaf ``i``
  completes exactly the perfect subtrees ``(level, i >> level)`` for ``level = 1 ..
  t`` where ``t`` is the number of trailing one bits of ``i``, and their hashes are
  known at that moment, so they are written into row ``i`` itself, concatenated
  (NULL when ``t`` is 0). Node ``(level, index)`` is therefore at row
  ``((index + 1) << level) - 1``, bytes ``[(level - 1) * 32, level * 32)``
  (:func:`node_location`). Any proof at any size reads O(log n) rows by primary key,
  in one query. Why not a separate ``(level, index) -> hash`` table: measured on
  SQLite it added a second B-tree insert per entry and cost about 28% of the append
  throughput, for the same information.
* ``ledger_head(id = 1, tree_size, root_hash, updated_at)``: the single mutable row.
  Appenders lock it (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE``
  already serialises writers on SQLite) so several processes can append to one log
  without a gap, a duplicate index or a fork.
* ``ledger_checkpoints(id PK, tree_size, root_hash, note, created_at)``: every signed
  checkpoint, the note text exactly as signed.

Contract: nothing here ever UPDATEs or DELETEs a row of ``ledger_entries`` or
``ledger_checkpoints``; the head row is the one row that changes, and it only moves
forward, in the transaction that inserts the entries it covers.

Why raw DB-API connections instead of SQLAlchemy ``Connection`` objects: the node's
engine issues ``BEGIN IMMEDIATE`` for every SQLAlchemy transaction on SQLite, which
would make every read take the write lock and queue behind the sequencer; and the
append path is hot enough that statement compilation would show. So the schema is
SQLAlchemy Core, and the statements are short hand-written SQL run on the driver's
connection (qmark on sqlite3, ``%s`` plus COPY/arrays on psycopg).

What this module does NOT do: no hashing, no proof logic, no signing, no threads.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "CHECKPOINTS_TABLE",
    "ENTRIES_TABLE",
    "HASH_SIZE",
    "HEAD_TABLE",
    "CheckpointRow",
    "EntryRow",
    "Head",
    "Reader",
    "Store",
    "Writer",
    "checkpoints",
    "entries",
    "head",
    "metadata",
    "node_location",
]

ENTRIES_TABLE = "ledger_entries"
HEAD_TABLE = "ledger_head"
CHECKPOINTS_TABLE = "ledger_checkpoints"

# SQLite only makes "INTEGER PRIMARY KEY" an alias of the rowid (the table's own
# B-tree key); "BIGINT PRIMARY KEY" would add a second index on every insert.
_BigIntKey = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

entries = Table(
    ENTRIES_TABLE,
    metadata,
    Column("idx", _BigIntKey, primary_key=True, autoincrement=False),
    Column("data", LargeBinary(), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("nodes", LargeBinary(), nullable=True),
    Column("idempotency_key", Text(), nullable=False),
    Column("appended_at", Double(), nullable=False),
    UniqueConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
)

head = Table(
    HEAD_TABLE,
    metadata,
    Column("id", SmallInteger(), primary_key=True, autoincrement=False),
    Column("tree_size", BigInteger(), nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("updated_at", Double(), nullable=False),
    CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
)

checkpoints = Table(
    CHECKPOINTS_TABLE,
    metadata,
    Column("id", _BigIntKey, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger(), nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text(), nullable=False),
    Column("created_at", Double(), nullable=False),
    Index("ix_ledger_checkpoints_tree_size", "tree_size"),
)


HASH_SIZE = 32


def node_location(level: int, index: int) -> tuple[int, int]:
    """Where node ``(level, index)`` is stored: (entry row, byte offset in its ``nodes``).

    Level 0 is the row's ``leaf_hash`` (offset 0 of that column instead).
    """
    if level == 0:
        return index, 0
    return ((index + 1) << level) - 1, (level - 1) * HASH_SIZE


class Head(NamedTuple):
    """The head row: the size of the log and the root of the tree of that size."""

    size: int
    root_hash: bytes


class EntryRow(NamedTuple):
    idx: int
    data: bytes
    leaf_hash: bytes
    idempotency_key: str
    appended_at: float


class CheckpointRow(NamedTuple):
    id: int
    tree_size: int
    root_hash: bytes
    note: str
    created_at: float


@dataclass(frozen=True, slots=True)
class _Sql:
    """The few statements whose text differs between SQLite and PostgreSQL."""

    lock_head: str
    keys_lookup: str  # on SQLite "{}" becomes the placeholder list


_SQLITE = _Sql(
    lock_head="SELECT tree_size, root_hash FROM ledger_head WHERE id = 1",
    keys_lookup=(
        "SELECT idempotency_key, idx, leaf_hash FROM ledger_entries WHERE idempotency_key IN ({})"
    ),
)
_POSTGRES = _Sql(
    # The head row is the cross-process append lock: a second appender blocks here
    # until the first commits, then (READ COMMITTED) re-reads the moved head.
    lock_head="SELECT tree_size, root_hash FROM ledger_head WHERE id = 1 FOR UPDATE",
    keys_lookup=(
        "SELECT idempotency_key, idx, leaf_hash FROM ledger_entries WHERE idempotency_key = ANY(%s)"
    ),
)

# Server-side cursors need names unique within their transaction.
_cursor_ids = itertools.count()
# sqlite3 caps host parameters per statement (32766 since 3.32); stay well below.
_SQLITE_MAX_PARAMS = 900
_SQLITE_ROWS_PER_INSERT = _SQLITE_MAX_PARAMS // 6  # ledger_entries has six columns


@functools.lru_cache(maxsize=256)
def _entries_insert(n: int) -> str:
    """An INSERT of ``n`` ledger entries (SQLite, positional)."""
    # Fixed fragments only (column names and placeholders); values are bound.
    return "".join(
        (
            "INSERT INTO ledger_entries (idx, data, leaf_hash, nodes, idempotency_key,"
            " appended_at) VALUES ",
            ", ".join(["(?, ?, ?, ?, ?, ?)"] * n),
        )
    )


# Idle SQLite connections kept for reads: the node's engine uses NullPool, so
# without this every proof would pay for a fresh connect and its PRAGMAs.
_MAX_IDLE = 8


def _bytes(value: Any) -> bytes:
    # psycopg may hand back memoryview for bytea in some configurations.
    return value if isinstance(value, bytes) else bytes(value)


class _Conn:
    """One raw DB-API connection with the dialect it speaks."""

    def __init__(self, raw: Any, postgres: bool) -> None:
        self.raw = raw
        self.postgres = postgres
        self.sql = _POSTGRES if postgres else _SQLITE

    def q(self, sql: str) -> str:
        """Our statements are written with ``?``; psycopg wants ``%s``."""
        return sql.replace("?", "%s") if self.postgres else sql

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cur = self.raw.cursor()
        try:
            cur.execute(self.q(sql), params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.raw.cursor()
        try:
            cur.execute(self.q(sql), params)
            return cur.fetchone()
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.raw.cursor()
        try:
            cur.execute(self.q(sql), params)
        finally:
            cur.close()


class Reader:
    """Queries inside one read transaction (see :meth:`Store.reading`)."""

    def __init__(self, conn: _Conn) -> None:
        self._c = conn

    def head(self) -> Head:
        row = self._c.fetchone("SELECT tree_size, root_hash FROM ledger_head WHERE id = 1")
        if row is None:
            raise StorageError("the ledger_head row is missing (are the migrations applied?)")
        return Head(int(row[0]), _bytes(row[1]))

    def entry(self, index: int) -> EntryRow | None:
        row = self._c.fetchone(
            "SELECT idx, data, leaf_hash, idempotency_key, appended_at "
            "FROM ledger_entries WHERE idx = ?",
            (index,),
        )
        if row is None:
            return None
        return EntryRow(int(row[0]), _bytes(row[1]), _bytes(row[2]), row[3], float(row[4]))

    def entry_by_key(self, key: str) -> EntryRow | None:
        row = self._c.fetchone(
            "SELECT idx, data, leaf_hash, idempotency_key, appended_at "
            "FROM ledger_entries WHERE idempotency_key = ?",
            (key,),
        )
        if row is None:
            return None
        return EntryRow(int(row[0]), _bytes(row[1]), _bytes(row[2]), row[3], float(row[4]))

    def entries(self, start: int, limit: int) -> list[EntryRow]:
        rows = self._c.fetchall(
            "SELECT idx, data, leaf_hash, idempotency_key, appended_at "
            "FROM ledger_entries WHERE idx >= ? ORDER BY idx LIMIT ?",
            (start, limit),
        )
        return [EntryRow(int(r[0]), _bytes(r[1]), _bytes(r[2]), r[3], float(r[4])) for r in rows]

    def node_hashes(self, coords: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored hashes of perfect subtrees ``(level, index)``; missing ones are absent.

        One query for the whole set: each node is one primary-key lookup of the
        entry row that holds it (see :func:`node_location`).
        """
        return _node_hashes(self._c, coords)

    def latest_checkpoint(self) -> CheckpointRow | None:
        return _checkpoint(
            self._c,
            "SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoints "
            "ORDER BY tree_size DESC, id DESC LIMIT 1",
            (),
        )

    def checkpoint_at_least(self, size: int) -> CheckpointRow | None:
        return _checkpoint(
            self._c,
            "SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoints "
            "WHERE tree_size >= ? ORDER BY tree_size, id LIMIT 1",
            (size,),
        )

    def checkpoints(self, after_id: int = 0, limit: int | None = None) -> list[CheckpointRow]:
        sql = (
            "SELECT id, tree_size, root_hash, note, created_at FROM ledger_checkpoints "
            "WHERE id > ? ORDER BY id"
        )
        params: tuple[int, ...] = (after_id,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after_id, limit)
        rows = self._c.fetchall(sql, params)
        return [CheckpointRow(int(r[0]), int(r[1]), _bytes(r[2]), r[3], float(r[4])) for r in rows]

    # --- streaming, for verification --------------------------------------------

    def stream_entries(
        self, chunk: int
    ) -> Generator[list[tuple[int, bytes, bytes, bytes | None]], None, None]:
        """Every entry as ``(idx, data, leaf_hash, nodes)`` in index order, ``chunk`` at a time.

        Rows are raw driver tuples (no per-row conversion) because the verifier
        touches millions of them.
        """
        return self._stream(
            "SELECT idx, data, leaf_hash, nodes FROM ledger_entries ORDER BY idx", (), chunk
        )

    def _stream(
        self, sql: str, params: Sequence[Any], chunk: int
    ) -> Generator[list[Any], None, None]:
        c = self._c
        if c.postgres:
            # A server-side cursor: the client holds one chunk, not the whole table.
            cur = c.raw.cursor(name=f"ledger_stream_{next(_cursor_ids)}")
        else:
            cur = c.raw.cursor()
        try:
            cur.execute(c.q(sql), params)
            while True:
                rows = cur.fetchmany(chunk)
                if not rows:
                    return
                yield rows
        finally:
            cur.close()


class Writer:
    """The sequencer's connection: one append transaction at a time.

    Usage per batch: ``begin()`` (locks the head and returns it), any reads,
    ``insert(...)``, then ``commit()``; ``rollback()`` on any error.
    """

    def __init__(self, store: Store, conn: _Conn) -> None:
        self._store = store
        self._c = conn

    def begin(self) -> Head:
        """Start the append transaction and lock the head row (the cross-process lock)."""
        c = self._c
        if not c.postgres:
            # Writers serialise here rather than failing at COMMIT with SQLITE_BUSY.
            c.execute("BEGIN IMMEDIATE")
        row = c.fetchone(c.sql.lock_head)
        if row is None:
            raise StorageError("the ledger_head row is missing (are the migrations applied?)")
        return Head(int(row[0]), _bytes(row[1]))

    def node_hashes(self, coords: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return _node_hashes(self._c, coords)

    def existing_keys(self, keys: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """Entries already holding any of ``keys``: key -> (index, leaf hash)."""
        c = self._c
        out: dict[str, tuple[int, bytes]] = {}
        if not keys:
            return out
        if c.postgres:
            for key, idx, leaf in c.fetchall(c.sql.keys_lookup, (list(keys),)):
                out[key] = (int(idx), _bytes(leaf))
            return out
        for i in range(0, len(keys), _SQLITE_MAX_PARAMS):
            part = keys[i : i + _SQLITE_MAX_PARAMS]
            sql = c.sql.keys_lookup.format(",".join("?" * len(part)))
            for key, idx, leaf in c.fetchall(sql, part):
                out[key] = (int(idx), _bytes(leaf))
        return out

    def insert(
        self,
        entry_rows: Sequence[tuple[int, bytes, bytes, bytes | None, str, float]],
        new_head: Head,
        now: float,
    ) -> bool:
        """Insert rows ``(idx, data, leaf_hash, nodes, key, appended_at)`` and move the head.

        Returns False, with the transaction rolled back, when a UNIQUE constraint
        refused a row (an idempotency key that already exists): the caller retries
        with :meth:`existing_keys`. Any other failure raises.
        """
        c = self._c
        try:
            cur = c.raw.cursor()
            try:
                if c.postgres:
                    # COPY is PostgreSQL's bulk path: rows streamed in binary, no
                    # per-row statement round trip.
                    with cur.copy(
                        "COPY ledger_entries (idx, data, leaf_hash, nodes, idempotency_key, "
                        "appended_at) FROM STDIN (FORMAT BINARY)"
                    ) as cp:
                        cp.set_types(["int8", "bytea", "bytea", "bytea", "text", "float8"])
                        for row in entry_rows:
                            cp.write_row(row)
                else:
                    # Multi-row INSERTs rather than executemany: the sqlite3 module
                    # steps, resets and binds once per row, giving the GIL up each
                    # time while this transaction holds the write lock.
                    for i in range(0, len(entry_rows), _SQLITE_ROWS_PER_INSERT):
                        part = entry_rows[i : i + _SQLITE_ROWS_PER_INSERT]
                        cur.execute(_entries_insert(len(part)), list(itertools.chain(*part)))
            finally:
                cur.close()
        except self._store.dbapi.IntegrityError:
            self.rollback()
            return False
        c.execute(
            "UPDATE ledger_head SET tree_size = ?, root_hash = ?, updated_at = ? WHERE id = 1",
            (new_head.size, new_head.root_hash, now),
        )
        return True

    def commit(self) -> None:
        c = self._c
        if c.postgres:
            c.raw.commit()
        else:
            c.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back whatever is open; never raises (the connection may be dead)."""
        c = self._c
        with contextlib.suppress(Exception):
            if c.postgres:
                c.raw.rollback()
            elif c.raw.in_transaction:
                c.execute("ROLLBACK")

    def close(self) -> None:
        self.rollback()
        with contextlib.suppress(Exception):
            self._c.raw.close()


class Store:
    """The ledger tables of one database, reached through raw driver connections.

    Thread-safe: every :meth:`reading` block checks out its own connection. The
    :class:`Writer` from :meth:`writer` belongs to one thread (the sequencer's).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise StorageError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
        self.postgres = name == "postgresql"
        self.dbapi: Any = engine.dialect.loaded_dbapi
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    # --- connections --------------------------------------------------------------

    def _checkout(self) -> Any:
        if not self.postgres:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        # PostgreSQL: the engine's QueuePool already keeps connections warm.
        return self.engine.raw_connection()

    def _checkin(self, raw: Any, healthy: bool) -> None:
        if healthy and not self.postgres:
            with self._lock:
                if not self._closed and len(self._idle) < _MAX_IDLE:
                    self._idle.append(raw)
                    return
        with contextlib.suppress(Exception):
            raw.close()  # PostgreSQL: returns it to the engine's pool

    @contextlib.contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Reader]:
        """One read transaction; ``snapshot=True`` makes every statement see the same state.

        On SQLite any read transaction is a snapshot (WAL). On PostgreSQL the
        default READ COMMITTED suffices for point reads (rows never change and the
        head only grows); the verifier asks for REPEATABLE READ.
        """
        try:
            raw = self._checkout()
        except self.dbapi.Error as exc:
            raise StorageError(f"cannot connect to the ledger database: {exc}") from exc
        conn = _Conn(raw, self.postgres)
        healthy = False
        try:
            if self.postgres:
                if snapshot:
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            else:
                # Deferred BEGIN: a reader never takes the write lock.
                conn.execute("BEGIN")
            yield Reader(conn)
            healthy = True
        except self.dbapi.Error as exc:
            raise StorageError(f"ledger database read failed: {exc}") from exc
        finally:
            try:
                if self.postgres:
                    raw.rollback()
                elif raw.in_transaction:
                    conn.execute("COMMIT")
            except Exception:
                healthy = False
            self._checkin(raw, healthy)

    def writer(self) -> Writer:
        """A dedicated connection for one sequencer (the caller closes it)."""
        try:
            raw = self.engine.raw_connection()
        except self.dbapi.Error as exc:
            raise StorageError(f"cannot connect to the ledger database: {exc}") from exc
        return Writer(self, _Conn(raw, self.postgres))

    def insert_checkpoint(
        self, tree_size: int, root_hash: bytes, note: str, created_at: float
    ) -> CheckpointRow:
        """Store one signed checkpoint in its own short write transaction."""
        raw = self._checkout_for_write()
        conn = _Conn(raw, self.postgres)
        healthy = False
        try:
            if not self.postgres:
                conn.execute("BEGIN IMMEDIATE")
            row = conn.fetchone(
                "INSERT INTO ledger_checkpoints (tree_size, root_hash, note, created_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (tree_size, root_hash, note, created_at),
            )
            if self.postgres:
                raw.commit()
            else:
                conn.execute("COMMIT")
            healthy = True
            return CheckpointRow(int(row[0]), tree_size, root_hash, note, created_at)
        except self.dbapi.Error as exc:
            raise StorageError(f"cannot store the checkpoint: {exc}") from exc
        finally:
            if not healthy:
                with contextlib.suppress(Exception):
                    if self.postgres:
                        raw.rollback()
                    elif raw.in_transaction:
                        conn.execute("ROLLBACK")
            self._checkin(raw, healthy)

    def _checkout_for_write(self) -> Any:
        try:
            return self._checkout()
        except self.dbapi.Error as exc:
            raise StorageError(f"cannot connect to the ledger database: {exc}") from exc

    def dispose(self) -> None:
        """Close the idle read connections (the engine itself belongs to the caller)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for raw in idle:
            with contextlib.suppress(Exception):
                raw.close()


def _checkpoint(conn: _Conn, sql: str, params: Sequence[Any]) -> CheckpointRow | None:
    r = conn.fetchone(sql, params)
    if r is None:
        return None
    return CheckpointRow(int(r[0]), int(r[1]), _bytes(r[2]), r[3], float(r[4]))


def _node_hashes(conn: _Conn, coords: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    wanted: dict[int, list[tuple[int, int, int]]] = {}
    for level, index in coords:
        row, offset = node_location(level, index)
        wanted.setdefault(row, []).append((level, index, offset))
    out: dict[tuple[int, int], bytes] = {}
    if not wanted:
        return out
    rows = sorted(wanted)
    if conn.postgres:
        found = conn.fetchall(
            "SELECT idx, leaf_hash, nodes FROM ledger_entries WHERE idx = ANY(%s)", (rows,)
        )
    else:
        found = []
        for i in range(0, len(rows), _SQLITE_MAX_PARAMS):
            part = rows[i : i + _SQLITE_MAX_PARAMS]
            found.extend(
                conn.fetchall(
                    # Only "?" placeholders are spliced in; values are bound.
                    "SELECT idx, leaf_hash, nodes FROM ledger_entries WHERE idx IN ("  # noqa: S608
                    + ",".join("?" * len(part))
                    + ")",
                    part,
                )
            )
    for idx, leaf, blob in found:
        for level, index, offset in wanted[int(idx)]:
            if level == 0:
                out[(level, index)] = _bytes(leaf)
            elif blob is not None and len(blob) >= offset + HASH_SIZE:
                out[(level, index)] = _bytes(blob[offset : offset + HASH_SIZE])
    return out
