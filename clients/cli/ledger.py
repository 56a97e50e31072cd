"""``bashu ledger …``: verify, inspect and prove the region's ledger.

``verify``, ``checkpoint``, ``show`` and ``prove`` read the node's own database (the
operator's view, no server needed); ``verify-checkpoint`` needs nothing but a
verifier key and a file, so anyone can check what a node published.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from clients.cli._common import console, err_console, fail
from clients.cli.node import CONFIG_OPTION

if TYPE_CHECKING:
    from ledger.log import Log
    from services.config import NodeConfig

__all__ = ["ledger"]


@click.group()
def ledger() -> None:
    """Verify, inspect and prove the region's ledger."""


def _open_log(config_path: Path) -> tuple[NodeConfig, Log]:
    from ledger.log import Log
    from services.config import load_config
    from services.db import make_engine
    from services.keys import known_verifiers, load_region_key

    config = load_config(config_path)
    signer = load_region_key(config.key_file)
    engine = make_engine(config.database_url)
    retired = known_verifiers(engine, config.key_file)[1:]
    return config, Log(engine, signer, config.origin, previous_verifiers=retired)


@ledger.command("verify")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def verify_cmd(config_path: Path, as_json: bool) -> None:
    """Recompute the whole tree from the stored bytes and check every checkpoint.

    Exit 0 when everything holds; exit 1 with the first bad index and the reason.
    """
    from ledger.verify import verify_log
    from services.config import load_config
    from services.db import make_engine
    from services.keys import known_verifiers
    from services.records import check_entry

    config = load_config(config_path)
    engine = make_engine(config.database_url)
    verifiers = known_verifiers(engine, config.key_file)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=as_json or not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("verifying entries", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = verify_log(
            engine, verifiers, config.origin, check_entry=check_entry, progress=on_progress
        )
    engine.dispose()
    summary = {
        "ok": report.ok,
        "origin": config.origin,
        "size": report.size,
        "entries_checked": report.entries_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "first_bad_index": report.first_bad_index,
        "reason": report.reason,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    elif report.ok:
        console.print(
            f"[green]ok[/] {config.origin}: {report.entries_checked} entries, "
            f"{report.checkpoints_checked} checkpoints verified"
        )
    else:
        where = "" if report.first_bad_index is None else f" at index {report.first_bad_index}"
        err_console.print(f"[bold red]ledger verification failed{where}:[/] {report.reason}")
    if not report.ok:
        raise SystemExit(1)


@ledger.command("checkpoint")
@CONFIG_OPTION
def checkpoint_cmd(config_path: Path) -> None:
    """Print the latest signed checkpoint as a C2SP signed note (signing one if needed)."""
    _, log = _open_log(config_path)
    try:
        signed = log.checkpoint(new_if_stale=True)
    finally:
        log.close()
    sys.stdout.write(signed.note)


@ledger.command("verify-checkpoint")
@click.option("--key", "vkeys", multiple=True, required=True, help="Verifier key (repeatable).")
@click.argument("note_file", type=click.File("rb"))
def verify_checkpoint_cmd(vkeys: tuple[str, ...], note_file: BinaryIO) -> None:
    """Check a signed note/checkpoint against verifier keys: exit 0 valid, 1 invalid."""
    from ledger.checkpoint import Checkpoint
    from ledger.errors import CheckpointError, LedgerError
    from ledger.note import Verifier, open_note

    data = note_file.read()
    try:
        verifiers = [Verifier.from_vkey(k) for k in vkeys]
        note = open_note(data, verifiers)
    except LedgerError as exc:
        fail(f"invalid: {exc}")
        return
    names = ", ".join(sorted({s.name for s in note.sigs}))
    try:
        cp = Checkpoint.parse(note.text)
    except CheckpointError:
        console.print(f"[green]valid[/] signed note, signed by {names}")
        return
    console.print(
        f"[green]valid[/] checkpoint {cp.origin} size {cp.size} "
        f"root {base64.b64encode(cp.root_hash).decode()} signed by {names}"
    )


@ledger.command("show")
@CONFIG_OPTION
@click.argument("index", type=int)
def show_cmd(config_path: Path, index: int) -> None:
    """Show one entry and its decoded record."""
    from services.records import describe_entry

    _, log = _open_log(config_path)
    try:
        entry = log.get_entry(index)
    finally:
        log.close()
    table = Table(show_header=False)
    table.add_row("index", str(entry.index))
    table.add_row("leaf hash", entry.leaf_hash.hex())
    table.add_row("idempotency key", entry.idempotency_key)
    table.add_row(
        "appended", datetime.fromtimestamp(entry.appended_at, UTC).isoformat(timespec="seconds")
    )
    table.add_row("bytes", str(len(entry.data)))
    console.print(table)
    console.print(describe_entry(entry.data), highlight=False)


@ledger.command("prove")
@CONFIG_OPTION
@click.argument("index", type=int)
@click.option("--size", type=int, default=None, help="Tree size (default: latest checkpoint).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "tlog-proof"]),
    default="table",
    show_default=True,
    help="tlog-proof prints the C2SP tlog-proof text.",
)
def prove_cmd(config_path: Path, index: int, size: int | None, fmt: str) -> None:
    """Print an inclusion proof of entry INDEX against a signed checkpoint."""
    from ledger import merkle
    from ledger.tlogproof import format_tlog_proof

    _, log = _open_log(config_path)
    try:
        signed = log.checkpoint_at_least(size) if size is not None else log.checkpoint()
        if signed is None:
            fail(f"no signed checkpoint covers size {size} yet")
            return
        tree_size = signed.checkpoint.size
        entry = log.get_entry(index)
        proof = log.inclusion_proof(index, tree_size)
    finally:
        log.close()
    # Check before printing: the CLI never hands out a proof that does not verify.
    merkle.verify_inclusion(entry.leaf_hash, index, tree_size, proof, signed.checkpoint.root_hash)
    if fmt == "tlog-proof":
        sys.stdout.write(format_tlog_proof(index, proof, signed.note))
        return
    table = Table("step", "hash (hex)")
    for i, h in enumerate(proof):
        table.add_row(str(i), h.hex())
    console.print(f"entry {index} leaf {entry.leaf_hash.hex()} in tree of size {tree_size}")
    console.print(table)
    sys.stdout.write(signed.note)
