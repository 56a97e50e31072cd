"""Shared fixtures: databases on both backends.

``db_url`` is parametrised over SQLite (always) and PostgreSQL (only when
``BASHU_TEST_POSTGRES_URL`` is set; CI sets it). Each test gets a fresh, empty
database: a new SQLite file under tmp_path, or a new PostgreSQL database created
inside the server the variable points at and dropped afterwards.
``migrated_db_url`` is the same with the node's Alembic migrations applied.
``pg_url`` is a fresh PostgreSQL database alone, for tests of what only it has
(several processes on one database, its locks); skipped without the variable.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.db import normalise_url

POSTGRES_ENV = "BASHU_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    return normalise_url(url) if url else None


def create_postgres_database() -> tuple[str, str]:
    """Create a uniquely named database; return (its URL, its name)."""
    admin = postgres_admin_url()
    assert admin is not None
    name = f"bashu_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    return url, name


def drop_postgres_database(name: str) -> None:
    admin = postgres_admin_url()
    assert admin is not None
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database for one test, dropped afterwards (the test is
    skipped when no server is configured)."""
    if postgres_admin_url() is None:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    url, name = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def migrated_db_url(db_url: str) -> str:
    from services.migrate import upgrade

    upgrade(db_url)
    return db_url
