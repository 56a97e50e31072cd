"""``bashu demo``: three regional nodes on loopback, played end to end.

It starts Sichuan (``sc``), Chongqing (``cq``) and Singapore (``sg``) as separate
``bashu node serve`` processes on embedded SQLite under ``--data-dir`` (a temporary
directory by default), registers each region's parties (each registration is a
ledger entry), then checks what a newcomer should be able to trust: every node
answers health checks and reflection, refuses bad credentials, publishes a signed
checkpoint that verifies offline with the region's public key, proves the inclusion
of its entries, and every ledger verifies from its stored bytes after shutdown.

It exits 0 only if every check held. The market day (listings, licences, metered
reads, batches, settlement) joins this script as those capabilities land.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.table import Table

from clients.cli._common import console

__all__ = ["demo"]

REGIONS = {
    "sc": ("Sichuan", ["Sichuan Big Data Center", "Chengdu Transport Bureau"]),
    "cq": ("Chongqing", ["Chongqing Health Commission", "Liangjiang Logistics Co."]),
    "sg": ("Singapore", ["Singapore Trade Data Exchange"]),
}


@dataclass
class DemoNode:
    region: str
    data_dir: Path
    proc: subprocess.Popen[str] | None = None
    address: str = ""
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Checks:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def record(self, name: str, ok: bool, detail: str = "") -> None:
        self.results.append((name, ok, detail))
        mark = "[green]✔[/]" if ok else "[bold red]✘[/]"
        console.print(f"  {mark} {name}" + (f" [dim]({detail})[/]" if detail else ""))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.results)


def _bashu() -> list[str]:
    exe = Path(sys.executable).with_name("bashu")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "clients.cli"]


def _run(*args: str) -> str:
    res = subprocess.run(
        [*_bashu(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if res.returncode != 0:
        raise click.ClickException(f"bashu {' '.join(args[:3])} failed: {res.stderr.strip()}")
    return res.stdout


@contextmanager
def _nodes(nodes: list[DemoNode], otel: str | None) -> Iterator[None]:
    env = dict(os.environ)
    if otel:
        env["OTEL_TRACES_EXPORTER"] = otel
    try:
        for n in nodes:
            n.proc = subprocess.Popen(
                [*_bashu(), "node", "serve", "--config", str(n.data_dir / "node.toml")],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if otel is None else None,
                text=True,
                env=env,
            )
        for n in nodes:
            if n.proc is None or n.proc.stdout is None:
                raise click.ClickException(f"node {n.region} did not start")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = n.proc.stdout.readline()
                if not line:
                    raise click.ClickException(f"node {n.region} exited during start-up")
                m = re.search(r"listening on (\S+)", line)
                if m:
                    n.address = m.group(1)
                    break
        yield
    finally:
        for n in nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGTERM)
        for n in nodes:
            if n.proc is not None:
                try:
                    n.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    n.proc.kill()


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the regions live (DIR/<region>/node.toml); a temporary directory if unset.",
)
@click.option("--keep-running", is_flag=True, help="Leave the nodes up until Ctrl-C.")
@click.option("--otel", type=click.Choice(["console", "otlp"]), default=None)
def demo(data_dir: Path | None, keep_running: bool, otel: str | None) -> None:
    """Start three regional nodes and show what they guarantee."""
    from clients.sdk.client import connect
    from clients.sdk.errors import UnauthenticatedError

    started = time.monotonic()
    tmp = None
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="bashu-demo-")
        data_dir = Path(tmp)
    checks = Checks()
    nodes = [DemoNode(r, data_dir / r) for r in REGIONS]

    console.rule("[bold]Bashu Exchange demo: three regions on loopback")
    console.print(f"data directory: {data_dir}")
    console.print("\n[bold]1. Each region initialises its node[/] (config, Ed25519 key, database)")
    for n in nodes:
        if not (n.data_dir / "node.toml").exists():
            _run(
                "node",
                "init",
                "--region",
                n.region,
                "--data-dir",
                str(n.data_dir),
                "--listen",
                "127.0.0.1:0",
            )
        cfg = str(n.data_dir / "node.toml")
        for name in REGIONS[n.region][1]:
            out = _run(
                "admin",
                "party",
                "add",
                "--config",
                cfg,
                "--name",
                name,
                "--roles",
                "provider,consumer,finance",
            )
            n.keys[name] = out.strip().splitlines()[-1]
        out = _run(
            "admin",
            "party",
            "add",
            "--config",
            cfg,
            "--name",
            f"{REGIONS[n.region][0]} operator",
            "--roles",
            "operator",
        )
        n.keys["operator"] = out.strip().splitlines()[-1]
    table = Table("region", "name", "parties", "verifier key")
    for n in nodes:
        vkey = _run("node", "public-key", "--config", str(n.data_dir / "node.toml")).strip()
        table.add_row(n.region, REGIONS[n.region][0], str(len(n.keys)), vkey)
    console.print(table)

    console.print("\n[bold]2. The nodes start as separate processes[/]")
    with _nodes(nodes, otel):
        status = Table("region", "address", "ledger size", "checkpoint root (hex)")
        for n in nodes:
            vkey = _run("node", "public-key", "--config", str(n.data_dir / "node.toml")).strip()
            with connect(n.address, n.keys["operator"]) as client:
                cp = client.ledger.checkpoint(vkey)
                checks.record(
                    f"{n.region}: checkpoint verifies offline with the region key",
                    cp.size == len(n.keys),
                    f"size {cp.size}",
                )
                proofs_ok = all(
                    client.ledger.prove_inclusion(vkey, i).tree_size == cp.size
                    for i in range(cp.size)
                )
                checks.record(f"{n.region}: every entry's inclusion proof verifies", proofs_ok)
                status.add_row(n.region, n.address, str(cp.size), cp.root_hash.hex()[:32] + "…")
            with connect(n.address, "bsk_wrong_key") as bad:
                try:
                    bad.ledger.public_key()
                    checks.record(f"{n.region}: a wrong API key is refused", False)
                except UnauthenticatedError as exc:
                    checks.record(f"{n.region}: a wrong API key is refused", True, exc.reason)
        console.print(status)
        if keep_running:
            console.print("\nNodes are up. Explore them, e.g.:")
            for n in nodes:
                console.print(f"  bashu ledger checkpoint --config {n.data_dir / 'node.toml'}")
            console.print("Press Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass

    console.print("\n[bold]3. After a clean shutdown, every ledger verifies from its bytes[/]")
    for n in nodes:
        res = subprocess.run(
            [*_bashu(), "ledger", "verify", "--config", str(n.data_dir / "node.toml"), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            summary = json.loads(res.stdout)
            detail = (
                f"{summary['entries_checked']} entries, "
                f"{summary['checkpoints_checked']} checkpoints"
                if summary["ok"]
                else f"index {summary['first_bad_index']}: {summary['reason']}"
            )
        except (ValueError, KeyError):
            detail = res.stderr.strip()
        checks.record(f"{n.region}: bashu ledger verify", res.returncode == 0, detail)

    elapsed = time.monotonic() - started
    passed = sum(ok for _, ok, _ in checks.results)
    console.rule(
        f"{'[green]all checks held' if checks.ok else '[bold red]checks failed'}: "
        f"{passed}/{len(checks.results)} in {elapsed:.1f}s"
    )
    if tmp is not None and checks.ok:
        shutil.rmtree(tmp, ignore_errors=True)
    if not checks.ok:
        raise SystemExit(1)
