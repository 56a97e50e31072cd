"""``bashu node …``: create, migrate and run a regional node."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from clients.cli._common import console, fail

__all__ = ["node"]

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The node's node.toml.",
)


@click.group()
def node() -> None:
    """Create, migrate and run a regional node."""


@node.command("init")
@click.option("--region", required=True, help="Region id, e.g. sc, cq, sg.")
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for node.toml, the region key and the SQLite database.",
)
@click.option("--listen", default="127.0.0.1:50051", show_default=True, help="HOST:PORT")
@click.option("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in DIR).")
def init_cmd(region: str, data_dir: Path, listen: str, database_url: str | None) -> None:
    """Write DIR/node.toml, a new region key (0600) and a migrated database."""
    from services.config import ORIGIN_PREFIX, REGION_RE, render_config
    from services.keys import create_region_key
    from services.migrate import upgrade

    if not REGION_RE.match(region):
        fail(f"--region {region!r} is not a region id (lowercase, e.g. 'sc')")
    config_file = data_dir / "node.toml"
    if config_file.exists():
        fail(f"{config_file} already exists; refusing to overwrite a node")
    data_dir.mkdir(parents=True, exist_ok=True)
    db_url = database_url or f"sqlite:///{(data_dir / 'node.db').resolve()}"
    signer = create_region_key(data_dir / "region.key", ORIGIN_PREFIX + region)
    upgrade(db_url)
    config_file.write_text(render_config(region, listen, db_url, "region.key"), encoding="utf-8")
    # soft_wrap: a key or a path broken across lines cannot be copied.
    console.print(f"node [bold]{region}[/] initialised in {data_dir}", soft_wrap=True)
    console.print(f"  config      {config_file}", soft_wrap=True)
    console.print(f"  public key  {signer.vkey()}", soft_wrap=True)
    console.print(f"next: bashu node serve --config {config_file}", soft_wrap=True)


@node.command("serve")
@CONFIG_OPTION
@click.option(
    "--otel",
    type=click.Choice(["none", "console", "otlp"]),
    default=None,
    help="Telemetry exporter (default: OTEL_TRACES_EXPORTER or none).",
)
@click.option("--log-level", default="INFO", show_default=True)
def serve_cmd(config_path: Path, otel: str | None, log_level: str) -> None:
    """Run the node in the foreground until SIGTERM/Ctrl-C (then drain and exit)."""
    from services.config import load_config
    from services.node import Node, run_forever
    from services.telemetry import setup_telemetry

    logging.getLogger().setLevel(log_level.upper())
    # The schema check at start runs Alembic, whose INFO lines are noise here.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    config = load_config(config_path)
    telemetry = setup_telemetry(config.region, otel)

    def ready(n: Node) -> None:
        # Printed on one line so scripts (and the demo) can wait for it.
        print(f"bashu node {config.region} listening on {n.address}", flush=True)

    run_forever(config, telemetry=telemetry, on_ready=ready)
    print(f"bashu node {config.region} stopped", flush=True)


@node.command("migrate")
@CONFIG_OPTION
def migrate_cmd(config_path: Path) -> None:
    """Apply the database migrations this release needs."""
    from services.config import load_config
    from services.db import make_engine
    from services.migrate import current_revision, upgrade

    config = load_config(config_path)
    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    console.print(f"database at revision {current_revision(engine)}")
    engine.dispose()


@node.command("public-key")
@CONFIG_OPTION
def public_key_cmd(config_path: Path) -> None:
    """Print the region's verifier key (C2SP vkey form)."""
    from services.config import load_config
    from services.keys import load_region_key

    config = load_config(config_path)
    print(load_region_key(config.key_file).vkey())


@node.command("rotate-key")
@CONFIG_OPTION
def rotate_key_cmd(config_path: Path) -> None:
    """Replace the region key; the rotation is recorded in the ledger (restart the node)."""
    from ledger.log import Log
    from services.config import load_config
    from services.db import make_engine
    from services.keys import load_region_key, rotate_region_key

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    log = Log(engine, load_region_key(config.key_file), config.origin)
    try:
        result = rotate_region_key(config.key_file, engine, log, config.region)
    finally:
        log.close()
        engine.dispose()
    console.print(f"rotation recorded at ledger index {result.entry_index}")
    console.print(f"  retired key  {result.old_vkey}  (kept in {result.retired_key_file})")
    console.print(f"  new key      {result.new_vkey}")
    console.print("restart the node so it signs with the new key")


def _sqlite_path(url: str, what: str) -> Path:
    from sqlalchemy.engine import make_url

    from services.db import is_sqlite, normalise_url

    if not is_sqlite(url):
        fail(
            f"{what} works on SQLite databases; for PostgreSQL use pg_dump/pg_restore "
            "(docs/operations.md, 'Backups')"
        )
    database = make_url(normalise_url(url)).database
    if not database or database == ":memory:":
        fail(f"{url} is not a SQLite file")
    return Path(str(database))


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into a new file as ONE consistent snapshot.

    The sqlite3 online backup API reads under a read transaction, so it is safe while
    a node writes (WAL): the copy holds whole ledger batches only. Written to a
    temporary name first; ``target`` appears only when complete.
    """
    import sqlite3

    tmp = target.with_name(f".{target.name}.partial")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30.0)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=4096)
            # A file that is not a healthy database must not become a backup.
            (result,) = dst.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                fail(f"the copy of {source} failed its integrity check: {result}")
            # Self-contained: no -wal file needs to travel with the copy.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"{source}: {exc}")
    finally:
        src.close()
    tmp.rename(target)


def _ledger_summary(database_url: str, config_path: Path) -> str:
    from ledger.log import Log
    from services.config import load_config
    from services.db import make_engine
    from services.keys import known_verifiers, load_region_key

    config = load_config(config_path)
    engine = make_engine(database_url)
    try:
        signer = load_region_key(config.key_file)
        retired = known_verifiers(engine, config.key_file)[1:]
        log = Log(engine, signer, config.origin, previous_verifiers=retired)
        latest = log.latest_checkpoint()
        size = log.size()
        log.close()
    finally:
        engine.dispose()
    signed = "no checkpoint yet" if latest is None else f"checkpoint {latest.checkpoint.size}"
    return f"{size} entries, {signed}"


@node.command("backup")
@CONFIG_OPTION
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The backup file to write (must not exist).",
)
def backup_cmd(config_path: Path, out: Path) -> None:
    """Copy the node's SQLite database to FILE as one consistent snapshot (online)."""
    from services.config import load_config
    from services.db import normalise_url

    config = load_config(config_path)
    source = _sqlite_path(config.database_url, "backup")
    if not source.is_file():
        fail(f"{source} does not exist")
    if out.exists():
        fail(f"{out} already exists; refusing to overwrite a backup")
    _sqlite_copy(source, out)
    summary = _ledger_summary(normalise_url(f"sqlite:///{out.resolve()}"), config_path)
    console.print(f"backup of {config.region} written to {out} ({summary})", soft_wrap=True)


@node.command("restore")
@CONFIG_OPTION
@click.option(
    "--backup",
    "backup",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="A file written by 'bashu node backup'.",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new directory for the restored node (must not hold a node).",
)
def restore_cmd(config_path: Path, backup: Path, data_dir: Path) -> None:
    """Make DIR a node from a backup: node.toml and region key from --config, the
    database from --backup (then run 'bashu ledger verify' and 'bashu node serve')."""
    import json
    import os
    import re
    import shutil

    from services.config import load_config
    from services.migrate import upgrade

    config = load_config(config_path)
    _sqlite_path(config.database_url, "restore")
    target_config = data_dir / "node.toml"
    if target_config.exists():
        fail(f"{target_config} already exists; restore into a new directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    database = (data_dir / "node.db").resolve()
    if database.exists():
        fail(f"{database} already exists; restore into a new directory")
    key_file = data_dir / "region.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh, config.key_file.open("rb") as src:
        shutil.copyfileobj(src, fh)
    _sqlite_copy(backup, database)
    url = f"sqlite:///{database}"
    text = config_path.read_text(encoding="utf-8")
    line = f"database_url = {json.dumps(url)}"
    text = re.sub(r"(?m)^database_url\s*=.*$", lambda _: line, text, count=1)
    text = re.sub(r"(?m)^key_file\s*=.*$", 'key_file = "region.key"', text, count=1)
    target_config.write_text(text, encoding="utf-8")
    restored = load_config(target_config)
    if restored.region != config.region:
        fail(f"{target_config} names region {restored.region}, expected {config.region}")
    # A backup taken by an older release is brought to this release's schema.
    upgrade(restored.database_url)
    console.print(
        f"node [bold]{config.region}[/] restored in {data_dir} "
        f"({_ledger_summary(restored.database_url, target_config)})",
        soft_wrap=True,
    )
    if config.tls is not None or any(p.tls is not None for p in config.peers):
        console.print("copy the TLS files node.toml names into the new directory too")
    console.print(f"next: bashu ledger verify --config {target_config}", soft_wrap=True)
