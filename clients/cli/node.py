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
    console.print(f"node [bold]{region}[/] initialised in {data_dir}")
    console.print(f"  config      {config_file}")
    console.print(f"  public key  {signer.vkey()}")
    console.print(f"next: bashu node serve --config {config_file}")


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
