"""``bashu federation …``: peers, the outbox and witnessing (operators).

``status``, ``deliver`` and ``witness`` act on the node's own configuration and
database (the operator's view: the observations the running node's threads stored);
``add-peer`` edits ``node.toml``. Restart the node after adding a peer.
"""

from __future__ import annotations

import base64
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from clients.cli._common import console
from clients.cli.node import CONFIG_OPTION

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ledger.log import Log
    from services.config import NodeConfig
    from services.federation import Federation
    from services.peer_state import CheckpointView

__all__ = ["federation"]


@click.group()
def federation() -> None:
    """Peers, the outbox and witnessing of this node."""


def _when(us: int | None) -> str:
    if not us:
        return "never"
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="seconds")


def _checkpoint(view: CheckpointView | None) -> str:
    if view is None:
        return "—"
    root = base64.b64encode(view.checkpoint.root_hash).decode()[:12]
    return f"size {view.size} root {root}… at {_when(view.time_us)}"


@federation.command("status")
@CONFIG_OPTION
def status_cmd(config_path: Path) -> None:
    """Show every peer: reachable, checkpoints seen and cosigned, backlog, alarms."""
    from ledger.log import Log
    from services.config import load_config
    from services.db import make_engine
    from services.keys import known_verifiers, load_region_key
    from services.peer_state import federation_status

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    retired = known_verifiers(engine, config.key_file)[1:]
    log = Log(engine, load_region_key(config.key_file), config.origin, previous_verifiers=retired)
    try:
        status = federation_status(engine, config, log.latest_checkpoint())
    finally:
        log.close()
        engine.dispose()
    own = status.checkpoint
    console.print(
        f"region [bold]{status.region}[/]: "
        + (f"checkpoint size {own.checkpoint.size}" if own else "no checkpoint yet")
    )
    if not status.peers:
        console.print("no peers configured (bashu federation add-peer)")
        return
    table = Table(
        "peer",
        "address",
        "reachable",
        "last contact",
        "checkpoint seen",
        "checkpoint cosigned",
        "outbox",
        "last batch",
        "alarms",
    )
    for p in status.peers:
        reachable = "[green]yes[/]" if p.reachable else "[red]no[/]"
        if p.last_error and not p.reachable:
            reachable += f"\n{p.last_error[:60]}"
        backlog = str(p.outbox_backlog)
        if p.oldest_pending_us:
            backlog += f" (oldest {_when(p.oldest_pending_us)})"
        alarms = (
            "\n".join(f"[bold red]{a.kind.value}[/] {a.detail[:80]}" for a in p.alarms) or "none"
        )
        table.add_row(
            p.region,
            p.address,
            reachable,
            _when(p.last_contact_us),
            _checkpoint(p.last_seen),
            _checkpoint(p.last_cosigned),
            backlog,
            "—",
            alarms,
        )
    console.print(table)


@federation.command("add-peer")
@CONFIG_OPTION
@click.option("--region", required=True, help="The peer's region id, e.g. cq.")
@click.option("--address", required=True, help="HOST:PORT of the peer's node.")
@click.option("--key", "vkey", required=True, help="The peer's verifier key (its public-key).")
@click.option("--ca-file", default="", help="CA of the peer's TLS certificate (enables TLS).")
@click.option("--cert-file", default="", help="This node's client certificate (mutual TLS).")
@click.option("--key-file", default="", help="This node's client key (mutual TLS).")
@click.option("--server-name", default="", help="TLS server name to expect.")
def add_peer_cmd(
    config_path: Path,
    region: str,
    address: str,
    vkey: str,
    ca_file: str,
    cert_file: str,
    key_file: str,
    server_name: str,
) -> None:
    """Append a [[peers]] table to node.toml (validated first; restart the node after)."""
    from services.config import load_config, render_peer

    load_config(config_path)  # the current file must be valid before it is extended
    text = config_path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    text += render_peer(
        region,
        address,
        vkey.strip(),
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        server_name=server_name,
    )
    # Written beside the original, checked as a whole, then swapped in atomically: a
    # bad peer never leaves a node.toml the node cannot start with.
    fd, tmp = tempfile.mkstemp(prefix=".node.toml.", dir=config_path.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, config_path.stat().st_mode & 0o777)
        load_config(tmp)
        os.replace(tmp, config_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    console.print(f"peer [bold]{region}[/] at {address} added to {config_path}")
    console.print("restart the node (bashu node serve) for it to take effect")


def _federation_parts(config_path: Path) -> tuple[NodeConfig, Engine, Log, Federation]:
    from ledger.log import Log
    from services.config import load_config
    from services.db import make_engine
    from services.federation import build_federation
    from services.keys import known_verifiers, load_region_key

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    signer = load_region_key(config.key_file)
    retired = known_verifiers(engine, config.key_file)[1:]
    log = Log(engine, signer, config.origin, previous_verifiers=retired)
    return config, engine, log, build_federation(config, engine, signer, log)


@federation.command("deliver")
@CONFIG_OPTION
@click.option(
    "--force",
    is_flag=True,
    help="Also send messages waiting for their retry time (the peer de-duplicates).",
)
def deliver_cmd(config_path: Path, force: bool) -> None:
    """Run the outbox once: send every due message to every peer."""
    _, engine, log, fed = _federation_parts(config_path)
    try:
        report = fed.deliverer.deliver_once(force=force)
    finally:
        fed.stop()
        log.close()
        engine.dispose()
    console.print(
        f"sent {report.sent}: delivered {report.delivered}, rejected {report.rejected}, "
        f"to retry {report.retrying}"
    )
    if report.failed_peers:
        console.print(f"[red]unreachable:[/] {', '.join(report.failed_peers)}")
        raise SystemExit(1)


@federation.command("witness")
@CONFIG_OPTION
def witness_cmd(config_path: Path) -> None:
    """Run one witnessing round: fetch, check and cosign every peer's checkpoint."""
    _, engine, log, fed = _federation_parts(config_path)
    try:
        outcomes = fed.witness.witness_once()
    finally:
        fed.stop()
        log.close()
        engine.dispose()
    for region, outcome in sorted(outcomes.items()):
        style = "red" if outcome in ("fork", "invalid", "unreachable", "unprovable") else "green"
        console.print(f"{region}: [{style}]{outcome}[/]")
    if any(o in ("fork", "invalid") for o in outcomes.values()):
        raise SystemExit(1)
