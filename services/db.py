"""Database engines and sessions for a node.

One place decides how a database URL becomes an engine, so that every process of a
node (server, CLI, tests, benchmarks) talks to SQLite and PostgreSQL the same way::

    engine = make_engine("sqlite:///var/bashu/sc/node.db")
    with session_scope(engine) as session:
        ...

SQLite is the embedded default. It runs in WAL mode with ``synchronous=FULL`` so that
a committed transaction survives a crash of the process or the machine: the ledger
acknowledges an append only after its commit, and that promise is only as good as
the commit's durability. ``BEGIN IMMEDIATE`` is used for write transactions so two
writers serialise at BEGIN instead of failing at COMMIT with ``SQLITE_BUSY``.

PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://``); a plain
``postgresql://`` URL is accepted and mapped to that driver.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

__all__ = [
    "TransactionAborted",
    "is_memory_database",
    "is_sqlite",
    "is_transient",
    "make_engine",
    "normalise_url",
    "read_scope",
    "readonly",
    "retry_transient",
    "session_scope",
    "sessionmaker_for",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

# Execution option that makes the SQLite begin hook issue a plain (deferred) BEGIN: a
# read in WAL mode sees the last commit without taking the write lock, so it must not
# queue behind group commits the way a BEGIN IMMEDIATE would.
_READONLY = "bashu_readonly"

# How long a SQLite writer waits for another writer before giving up. Group commit
# keeps transactions short, so a long wait means something is wrong elsewhere.
SQLITE_BUSY_TIMEOUT_S = 30.0


# PostgreSQL's own words for "this transaction lost a race; run it again": a deadlock
# it broke by aborting us (40P01) and a serialisation failure (40001). Several
# processes of one node write the same rows (licences, the ledger head, request ids),
# and PostgreSQL documents retrying these as the application's job.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

# How many times a write transaction that failed transiently is run in all.
_TRANSIENT_TRIES = 5


class TransactionAborted(Exception):
    """A transaction still aborted by races after :func:`retry_transient` ran it
    ``_TRANSIENT_TRIES`` times (its last error is the cause). Nothing of it was
    committed; callers are told ABORTED, and it pickles whole (the metering writer
    process sends it back), which a driver error's cause would not."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (SQLAlchemy-wrapped or the driver's own, as raised by writes
    on a raw DBAPI connection) means the transaction was aborted by a race and
    running it again may succeed."""
    seen: BaseException | None = exc
    for _ in range(8):  # the wrapper, its driver error, the cause's cause ...
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _TRANSIENT_SQLSTATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def retry_transient(run: Callable[[], T], what: str) -> T:
    """``run()`` (one whole transaction), run again while it fails transiently, after
    a pause of a few milliseconds, growing and jittered so the racers do not meet
    again in step. Other errors propagate at once; a race lost every time raises
    :class:`TransactionAborted`."""
    for attempt in range(_TRANSIENT_TRIES):
        try:
            return run()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt + 1 == _TRANSIENT_TRIES:
                raise TransactionAborted(
                    f"{what} was aborted by a concurrent transaction {_TRANSIENT_TRIES} times"
                ) from exc
            log.info("%s aborted (%s); running it again", what, exc)
            time.sleep(random.uniform(0.5, 1.5) * 0.005 * (2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def normalise_url(url: str) -> str:
    """Map driver-less PostgreSQL URLs onto psycopg 3, leave others untouched."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def is_memory_database(url: str) -> bool:
    """Whether ``url`` is an in-memory SQLite database (no other process can open it)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return False
    return parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"


def make_engine(url: str, *, pool_size: int = 8, echo: bool = False) -> Engine:
    """Build the engine for ``url`` with the node's durability settings applied."""
    url = normalise_url(url)
    if is_sqlite(url):
        engine = _sa_create_engine(
            url,
            echo=echo,
            # Pooled: opening a connection costs its PRAGMAs, which on the hot path
            # (authentication, lookups) was most of a call. A pooled connection is used
            # by one thread at a time, hence check_same_thread=False.
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=4 * pool_size,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return _sa_create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin, so
        # that BEGIN IMMEDIATE below is the only BEGIN issued.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly_txn = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly_txn else "BEGIN IMMEDIATE")


def sessionmaker_for(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def readonly(engine: Engine) -> Engine:
    """The same engine (same pool) for transactions that only read.

    On SQLite they begin DEFERRED, so they never wait for the write lock; elsewhere
    this is the engine itself. Writing through it on SQLite would fail at the first
    write with SQLITE_BUSY rather than wait, so use it only for reads.
    """
    return engine.execution_options(**{_READONLY: True}) if is_sqlite(engine) else engine


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session for reads only (see :func:`readonly`)."""
    with Session(readonly(engine), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
