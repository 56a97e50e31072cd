"""``bashu federation …``: peers, the outbox, witnessing and usage batches (operators).

``status``, ``deliver``, ``witness`` and ``batches seal|list`` act on the node's own
configuration and database (the operator's view: the observations the running node's
threads stored); ``add-peer`` edits ``node.toml``. Restart the node after adding a peer.
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
    from services.batches import BatchProgressView
    from services.config import NodeConfig
    from services.federation import Federation
    from services.peer_state import CheckpointView

__all__ = ["federation"]


@click.group()
def federation() -> None:
    """Peers, the outbox, witnessing and usage batches of this node."""


def _when(us: int | None) -> str:
    if not us:
        return "never"
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="seconds")


def _checkpoint(view: CheckpointView | None) -> str:
    if view is None:
        return "—"
    root = base64.b64encode(view.checkpoint.root_hash).decode()[:12]
    return f"size {view.size} root {root}… at {_when(view.time_us)}"


def _last_batches(sent: BatchProgressView | None, received: BatchProgressView | None) -> str:
    def one(arrow: str, p: BatchProgressView | None) -> str:
        if p is None:
            return f"{arrow} —"
        return f"{arrow} #{p.sequence} {p.state.lower()} {_when(p.update_us)}"

    return one("sent", sent) + "\n" + one("received", received)


@federation.command("status")
@CONFIG_OPTION
def status_cmd(config_path: Path) -> None:
    """Show every peer: reachable, checkpoints seen and cosigned, backlog, last batch
    sent and received, alarms."""
    from ledger.log import Log
    from services.batches import batch_progress
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
        progress = batch_progress(engine, config.region)
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
            _last_batches(*progress.get(p.region, (None, None))),
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
@click.option(
    "--country",
    default="CN",
    show_default=True,
    help="Country of the peer's consumers (ISO 3166); outside CN every licence is cross-border.",
)
def add_peer_cmd(
    config_path: Path,
    region: str,
    address: str,
    vkey: str,
    ca_file: str,
    cert_file: str,
    key_file: str,
    server_name: str,
    country: str,
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
        country=country.upper(),
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


@federation.group("batches")
def batches_group() -> None:
    """Usage batches exchanged with the peers: seal now, list."""


@batches_group.command("seal")
@CONFIG_OPTION
@click.option("--peer", default=None, help="Seal only for this peer region.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=None,
    help="Seal uses at least this old (seconds); default [federation] batch_min_age_s.",
)
@click.option("--deliver/--no-deliver", default=True, help="Push the outbox right after.")
def batches_seal_cmd(
    config_path: Path, peer: str | None, min_age: float | None, deliver: bool
) -> None:
    """Seal the cross-region usage waiting for each peer into signed batches now."""
    from services.batches import Batches

    config, engine, log, fed = _federation_parts(config_path)
    try:
        if peer is not None and peer not in {p.region for p in config.peers}:
            raise click.BadParameter(f"{peer!r} is not a configured peer", param_hint="--peer")
        batches = Batches(
            engine, config.region, fed.signer, log, fed.outbox, config.peers, config.federation
        )
        sealed = batches.seal_once(peer, min_age_s=min_age)
        report = fed.deliverer.deliver_once() if deliver and sealed else None
    finally:
        fed.stop()
        log.close()
        engine.dispose()
    if not sealed:
        console.print("nothing to seal")
        return
    table = Table("batch", "records", "amount (fen)", "corrects")
    for b in sealed:
        table.add_row(b.name, str(b.record_count), str(b.amount_fen), b.corrects_return or "—")
    console.print(table)
    if report is not None:
        console.print(f"delivered {report.delivered} of {report.sent} message(s)")
        if report.failed_peers:
            console.print(
                f"[yellow]unreachable:[/] {', '.join(report.failed_peers)} "
                "(the node's outbox keeps retrying)"
            )


@batches_group.command("list")
@CONFIG_OPTION
@click.option("--peer", default=None, help="Only batches with this peer region.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--items", is_flag=True, help="List uses held out of batches or parked instead.")
def batches_list_cmd(config_path: Path, peer: str | None, limit: int, items: bool) -> None:
    """List batches sealed and received, newest first (or held and parked uses)."""
    from services.batches import list_batches, list_items
    from services.config import load_config
    from services.db import make_engine

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    try:
        if items:
            held = list_items(engine)
            table = Table("provider", "consumer", "usage record", "entry", "state", "returns",
                          "reason", "held until")  # fmt: skip
            for i in held[:limit]:
                table.add_row(i.provider_region, i.consumer_region, i.usage_record_id,
                              str(i.entry_index), i.state, str(i.returns), i.reason or "—",
                              _when(i.hold_until_us))  # fmt: skip
            console.print(table if held else "no held or parked uses")
            return
        rows = list_batches(engine, peer=peer, limit=limit)
    finally:
        engine.dispose()
    if not rows:
        console.print("no batches")
        return
    table = Table("batch", "direction", "state", "records", "amount (fen)", "period", "sealed",
                  "corrects / returned as")  # fmt: skip
    for b in rows:
        sent = b.provider_region == config.region
        state = b.state.lower()
        if b.state == "SEALED" and b.delivered:
            state = "delivered"
        note = b.return_name or (f"corrects {b.corrects_return}" if b.corrects_return else "—")
        table.add_row(b.name or b.digest[:16], "sent" if sent else "received", state,
                      str(b.record_count), str(b.amount_fen), b.period, _when(b.seal_us),
                      note)  # fmt: skip
    console.print(table)
