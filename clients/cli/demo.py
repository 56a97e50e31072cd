"""``bashu demo``: three regional nodes on loopback play a day of the market.

It creates Sichuan (``sc``), Chongqing (``cq``) and Singapore (``sg``) under
``--data-dir`` (a temporary directory by default; each region in ``DIR/<region>/``
with its ``node.toml``, region key and SQLite database), registers their parties,
writes the synthetic data of :mod:`clients.cli.demo_data`, configures the three as
peers of each other and starts each as a separate ``bashu node serve`` process.
Then it plays the steps of :mod:`clients.cli.demo_steps` through the SDK, as
providers, consumers, finance offices and operators would: listings, mutually
recognised standards, federated search, licences (granted, held and approved,
denied with reasons, cross-border refused then granted), hundreds of metered calls,
refusals, revenue, receipt proofs, witnessing, usage batches, and the settlement of
the period (:mod:`clients.cli.demo_settle`). Every step states what it checks; after
the nodes stop, every ledger and every receipt is verified offline and an HTML
report is written (:mod:`clients.cli.demo_report`). The run ends with a checklist
and exits 0 only if every check held.

A step whose capability the node cannot offer is reported "not available" (never
passed silently) and fails the run. The regions settle on a fixed one-hour cadence
(``[settlement]`` in each ``node.toml``) whose period ends a minute or so after the
market day, so the day's usage is closed, signed, netted and reconciled in the same
run. Nodes are stopped with SIGTERM
(they drain) on exit, on Ctrl-C and on SIGTERM; their output goes to
``DIR/<region>/node.log``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.console import RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from clients.cli._common import console, fail

if TYPE_CHECKING:
    from clients.cli.demo_data import DemoData
    from clients.cli.demo_market import PartySpec
    from clients.sdk.access import Receipt
    from clients.sdk.client import Client

__all__ = ["Checks", "Demo", "RegionNode", "StepUnavailable", "demo"]

# Federation timings for a demo on one machine: messages and witnessing within
# seconds instead of the production defaults.
DEMO_FEDERATION = {
    "deliver_interval_s": 0.5,
    "retry_base_s": 0.5,
    "retry_max_s": 5.0,
    "witness_interval_s": 5.0,
    "peer_timeout_s": 10.0,
    # Usage batches sealed every two seconds, of uses at least a second old (so the
    # consumer's consumption entry has landed), instead of every five minutes.
    "batch_interval_s": 2.0,
    "batch_min_age_s": 1.0,
    "batch_grace_s": 30.0,
}


class StepUnavailable(Exception):
    """The node build does not offer what a step needs (reported, never passed)."""


@dataclass
class CheckResult:
    step: str
    name: str
    status: str  # "held", "failed" or "unavailable"
    detail: str = ""


@dataclass
class Checks:
    results: list[CheckResult] = field(default_factory=list)
    step: str = ""

    def record(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append(CheckResult(self.step, name, "held" if ok else "failed", detail))
        mark = "[green]✔[/]" if ok else "[bold red]✘[/]"
        console.print(f"  {mark} {name}" + (f" [dim]({detail})[/]" if detail else ""))
        return ok

    def unavailable(self, name: str, why: str) -> None:
        self.results.append(CheckResult(self.step, name, "unavailable", why))
        console.print(f"  [yellow]–[/] {name}: [yellow]not available[/] [dim]({why})[/]")

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def missing(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "unavailable"]

    @property
    def held(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "held"]

    def table(self) -> Table:
        table = Table("step", "", "check", "detail", title="Checklist")
        style = {
            "held": "[green]✔[/]",
            "failed": "[bold red]✘[/]",
            "unavailable": "[yellow]–[/]",
        }
        for r in self.results:
            detail = "not available: " + r.detail if r.status == "unavailable" else r.detail
            table.add_row(r.step.split(".", 1)[0], style[r.status], r.name, detail[:60])
        return table


class ReportTable(Table):
    """A rich table that also keeps its cells as plain text for the HTML report."""

    def __init__(self, *headers: str, title: str = "") -> None:
        super().__init__(*headers, title=title or None)
        self.headers = list(headers)
        self.title_text = title
        self.plain_rows: list[list[str]] = []

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        self.plain_rows.append(
            [Text.from_markup(c).plain if isinstance(c, str) else "" for c in renderables]
        )
        super().add_row(*renderables, style=style, end_section=end_section)


@dataclass
class RegionNode:
    region: str
    dir: Path
    port: int
    vkey: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.dir / "node.toml"

    @property
    def log_path(self) -> Path:
        return self.dir / "node.log"


@dataclass
class Party:
    spec: PartySpec
    id: str
    key: str

    @property
    def name(self) -> str:
        return f"regions/{self.spec.region}/parties/{self.id}"


@dataclass
class Demo:
    """What the steps share: the nodes, the parties and their clients, the data,
    and what earlier steps produced."""

    data_dir: Path
    nodes: dict[str, RegionNode]
    data: DemoData
    quick: bool
    checks: Checks
    parties: dict[str, Party] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    # Filled by the steps as the day goes on.
    revisions: dict[str, str] = field(default_factory=dict)  # product id -> revision
    licences: dict[str, str] = field(default_factory=dict)  # story label -> licence name
    licence_messages: dict[str, object] = field(default_factory=dict)
    receipts: list[tuple[str, Receipt]] = field(default_factory=list)  # (region, receipt)
    licence_regions: dict[str, str] = field(default_factory=dict)  # licence -> consumer region
    facts: dict[str, object] = field(default_factory=dict)
    # Every table shown, by the step that showed it (the HTML report repeats them).
    sections: list[tuple[str, ReportTable]] = field(default_factory=list)

    def table(self, *headers: str, title: str = "") -> ReportTable:
        table = ReportTable(*headers, title=title)
        self.sections.append((self.checks.step, table))
        return table

    def checks_step_count(self) -> int:
        """How many steps have run (the number of the last one)."""
        last = self.checks.step.split(".", 1)[0]
        return int(last) if last.isdigit() else 0

    def client(self, alias: str) -> Client:
        """The SDK client of party ``alias``, connected to its home node."""
        from clients.sdk.client import connect

        if alias not in self.clients:
            party = self.parties[alias]
            node = self.nodes[party.spec.region]
            self.clients[alias] = connect(node.address, party.key, region=node.region)
        return self.clients[alias]

    def operator(self, region: str) -> Client:
        return self.client(f"{region}-operator")

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.clients.clear()


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[Demo], None]
    # Node modules the step needs; absent ones make it "not available".
    needs: tuple[str, ...] = ()
    # Shown only when the run exports telemetry (--otel).
    with_otel: bool = False


def _module_present(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _bashu() -> list[str]:
    exe = Path(sys.executable).with_name("bashu")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "clients.cli"]


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


# -- setting the regions up (before any node runs) ---------------------------------------


COUNTRIES = {"sg": "SG"}


def settlement_cadence_supported() -> bool:
    """Whether this build's node.toml takes a ``[settlement]`` cadence (see
    :func:`settlement_toml`); without it periods are calendar months."""
    from services.config import NodeConfig

    return "settlement" in NodeConfig.__dataclass_fields__


def settlement_toml(close_at: datetime) -> str:
    """A fixed one-hour cadence whose current period ends at ``close_at``, so the day's
    usage can be settled minutes after it happened (an agreement may set its own
    cadence; the shortest the settlement core accepts is one hour)."""
    anchor = close_at - timedelta(hours=1)
    return (
        "\n[settlement]\n"
        'cadence = "fixed"\n'
        "period_length_s = 3600\n"
        f'anchor = "{anchor.strftime("%Y-%m-%dT%H:%M:%SZ")}"\n'
        "grace_window_s = 0\n"
    )


def init_regions(
    data_dir: Path, regions: list[str], close_at: datetime | None = None
) -> dict[str, RegionNode]:
    """``bashu node init`` for each region (in process), on free loopback ports, with
    every other region configured as a peer (and, with ``close_at``, a settlement
    period ending then)."""
    from services.config import ORIGIN_PREFIX, FederationSettings, render_config, render_peer
    from services.keys import create_region_key
    from services.migrate import upgrade

    nodes = {
        r: RegionNode(r, data_dir / r, port)
        for r, port in zip(regions, _free_ports(len(regions)), strict=True)
    }
    for n in nodes.values():
        if n.config.exists():
            fail(f"{n.config} already exists: the demo needs a fresh --data-dir")
    for n in nodes.values():
        n.dir.mkdir(parents=True, exist_ok=True)
        signer = create_region_key(n.dir / "region.key", ORIGIN_PREFIX + n.region)
        n.vkey = signer.vkey()
        db_url = f"sqlite:///{(n.dir / 'node.db').resolve()}"
        upgrade(db_url)
        text = render_config(n.region, n.address, db_url, "region.key")
        # Only the settings this build knows (the node refuses unknown ones).
        known = FederationSettings.__dataclass_fields__
        text += "\n[federation]\n" + "".join(
            f"{k} = {v}\n" for k, v in DEMO_FEDERATION.items() if k in known
        )
        if close_at is not None:
            text += settlement_toml(close_at)
        n.config.write_text(text, encoding="utf-8")
    for n in nodes.values():
        peers = "".join(
            # Singapore's consumers are abroad: every licence to them is cross-border.
            render_peer(p.region, p.address, p.vkey, country=COUNTRIES.get(p.region, "CN"))
            for p in nodes.values()
            if p is not n
        )
        with n.config.open("a", encoding="utf-8") as f:
            f.write(peers)
    return nodes


def register_parties(nodes: dict[str, RegionNode], specs: list[PartySpec]) -> dict[str, Party]:
    """``bashu admin party add`` for every party (in process; each is a ledger entry)."""
    from ledger.log import Log
    from services.auth import parse_roles
    from services.config import load_config
    from services.db import make_engine
    from services.keys import load_region_key
    from services.parties import register_party

    out: dict[str, Party] = {}
    for region, node in nodes.items():
        config = load_config(node.config)
        engine = make_engine(config.database_url)
        log = Log(engine, load_region_key(config.key_file), config.origin)
        try:
            for spec in (s for s in specs if s.region == region):
                party_id, key = register_party(
                    engine, log, region, spec.name, parse_roles(spec.roles)
                )
                out[spec.alias] = Party(spec, party_id, key)
        finally:
            log.close()
            engine.dispose()
    return out


# -- running the nodes -----------------------------------------------------------------------


def _wait_listening(node: RegionNode, deadline: float) -> None:
    marker = f"bashu node {node.region} listening on "
    while time.monotonic() < deadline:
        if node.proc is not None and node.proc.poll() is not None:
            tail = node.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise click.ClickException(f"node {node.region} exited during start-up:\n{tail}")
        text = node.log_path.read_text(encoding="utf-8", errors="replace")
        if marker in text:
            return
        time.sleep(0.05)
    raise click.ClickException(f"node {node.region} did not start within 60 s")


@contextmanager
def running(nodes: dict[str, RegionNode], otel: str | None) -> Iterator[None]:
    """Start every node as its own ``bashu node serve`` process; on exit SIGTERM them
    (they drain in-flight calls) and wait, killing only one that hangs."""
    env = dict(os.environ)
    args = ["--otel", otel] if otel else []
    try:
        for n in nodes.values():
            with n.log_path.open("ab") as log:
                n.proc = subprocess.Popen(
                    [*_bashu(), "node", "serve", "--config", str(n.config), *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
        deadline = time.monotonic() + 60
        for n in nodes.values():
            _wait_listening(n, deadline)
        yield
    finally:
        stop(nodes)


def stop(nodes: dict[str, RegionNode]) -> None:
    # A second Ctrl-C must not cut the shutdown short and orphan a node.
    masked = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _stop(nodes)
    finally:
        for sig, handler in masked.items():
            signal.signal(sig, handler)


def _stop(nodes: dict[str, RegionNode]) -> None:
    for n in nodes.values():
        if n.proc is not None and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
    for n in nodes.values():
        if n.proc is not None:
            try:
                n.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same clean path as Ctrl-C: the nodes are stopped in `finally`.
    raise KeyboardInterrupt


def verify_ledgers(demo: Demo) -> None:
    """``bashu ledger verify`` on every region's stored bytes (nodes stopped)."""
    for n in demo.nodes.values():
        res = subprocess.run(
            [*_bashu(), "ledger", "verify", "--config", str(n.config), "--json"],
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
            detail = res.stderr.strip()[-200:]
        demo.checks.record(f"{n.region}: bashu ledger verify", res.returncode == 0, detail)


def run_steps(demo: Demo, steps: list[Step], first: int = 1) -> None:
    from clients.sdk.errors import BashuRpcError, UnimplementedError, VerificationError

    steps = [s for s in steps if not s.with_otel or demo.facts.get("otel")]
    for number, step in enumerate(steps, first):
        demo.checks.step = f"{number}. {step.title}"
        console.print(f"\n[bold]{number}. {step.title}[/]")
        absent = [m for m in step.needs if not _module_present(m)]
        if absent:
            demo.checks.unavailable(step.title, f"{', '.join(absent)} not in this build")
            continue
        try:
            step.run(demo)
        except StepUnavailable as exc:
            demo.checks.unavailable(step.title, str(exc))
        except UnimplementedError as exc:
            demo.checks.unavailable(step.title, f"the node answers UNIMPLEMENTED: {exc.message}")
        except (BashuRpcError, VerificationError) as exc:
            demo.checks.record(f"{step.title} ran to its end", False, str(exc)[:200])


def explore_commands(demo: Demo) -> list[tuple[str, str]]:
    """(who, command) pairs that work against the running demo, one role at a time."""
    sc, cq = demo.nodes["sc"], demo.nodes["cq"]

    def as_party(alias: str, command: str) -> str:
        party = demo.parties[alias]
        node = demo.nodes[party.spec.region]
        return f"BASHU_NODE={node.address} BASHU_API_KEY={party.key} bashu {command}"

    registry = (
        "regions/sc/licences/"
        + demo.licences.get("registry for credit checks", "l-…").rsplit("/", 1)[-1]
    )
    first_uscc = demo.data.enterprises["uscc"][0].as_py()
    return [
        ("Tianfu Credit (consumer, sc)", as_party("sc-credit", "product search --text 企业")),
        ("", as_party("sc-credit", "licence list")),
        ("", as_party("sc-credit", f"data lookup {registry} uscc={first_uscc}")),
        ("Sichuan AMR (provider, sc)", as_party("sc-amr", "usage summary")),
        ("Chongqing finance (cq)", as_party("cq-finance", "settle periods")),
        ("Sichuan operator (files only)", f"bashu ledger checkpoint --config {sc.config}"),
        ("auditor (files only)", f"bashu ledger verify --config {sc.config}"),
        ("operator (files only)", f"bashu federation status --config {cq.config}"),
    ]


def explore_hints(demo: Demo) -> None:
    table = Table("region", "address", "config", title="Nodes are up")
    for n in demo.nodes.values():
        table.add_row(n.region, n.address, str(n.config))
    console.print(table)
    console.print("Explore them with the CLI (.venv/bin on PATH), for example:")
    for who, command in explore_commands(demo):
        if who:
            console.print(f"  [dim]# {who}[/]")
        console.print(f"  {command}", highlight=False, soft_wrap=True)
    keys = Table("party", "region", "roles", "API key", title="API keys of the demo parties")
    for p in demo.parties.values():
        keys.add_row(p.spec.name, p.spec.region, p.spec.roles, p.key)
    console.print(keys)
    console.print("Press Ctrl-C to stop the nodes.")


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the regions live (DIR/<region>/node.toml); a temporary directory if unset.",
)
@click.option("--keep-running", is_flag=True, help="Leave the nodes up until Ctrl-C.")
@click.option(
    "--otel",
    type=click.Choice(["console", "otlp"]),
    default=None,
    help="Telemetry exporter of the nodes (console output goes to DIR/<region>/node.log).",
)
@click.option("--quick", is_flag=True, help="A shorter day: fewer calls (what CI runs).")
@click.option("--seed", type=int, default=None, help="Seed of the synthetic data.")
def demo(
    data_dir: Path | None,
    keep_running: bool,
    otel: str | None,
    quick: bool,
    seed: int | None,
) -> None:
    """Start three regional nodes and play a day of the market on them."""
    from clients.cli import demo_steps
    from clients.cli.demo_data import DEFAULT_SEED, generate
    from clients.cli.demo_market import PARTIES, REGIONS

    started = time.monotonic()
    if not console.is_terminal:
        # Logs and CI output: wide enough for the tables to stay readable.
        console.width = max(console.width, 120)
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="bashu-demo-"))
    data_dir = data_dir.resolve()
    from services.config import DATABASE_URL_ENV

    if os.environ.pop(DATABASE_URL_ENV, None):
        # It would point all three regions at one database: the demo's regions each
        # keep their own SQLite file.
        console.print("[dim]BASHU_DATABASE_URL is ignored by the demo[/]")
    previous = signal.signal(signal.SIGTERM, _terminate)
    checks = Checks()
    console.rule("[bold]Bashu Exchange: a day of the market in three regions")
    console.print(f"data directory: {data_dir}")
    interrupted = False
    try:
        console.print("\n[bold]0. Each region sets up its node[/] (key, database, parties, data)")
        data = generate(DEFAULT_SEED if seed is None else seed)
        close_at = None
        if settlement_cadence_supported():
            # The day's period ends once the market day has been played.
            # Period ids name whole minutes, so the period ends on a minute boundary.
            soon = datetime.now(UTC) + timedelta(seconds=25 if quick else 40)
            close_at = soon.replace(second=0, microsecond=0) + timedelta(minutes=1)
        nodes = init_regions(data_dir, list(REGIONS), close_at)
        day = Demo(data_dir, nodes, data, quick, checks)
        day.facts["started"] = datetime.now(UTC)
        if otel:
            day.facts["otel"] = otel
        if close_at is not None:
            day.facts["close_at"] = close_at
        day.parties = register_parties(nodes, PARTIES)
        demo_steps.write_sources(day)
        demo_steps.show_regions(day)
        with ExitStack() as stack:
            stack.callback(day.close)
            console.print("\nThe nodes start as separate processes (bashu node serve) …")
            stack.enter_context(running(nodes, otel))
            console.print(
                "  "
                + ", ".join(f"{n.region} on {n.address}" for n in nodes.values())
                + (f"; telemetry: {otel} (see each node.log)" if otel else "")
            )
            run_steps(day, demo_steps.STEPS)
            if keep_running:
                try:
                    explore_hints(day)
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    console.print("stopping the nodes …")
        console.print("\n[bold]The nodes are stopped; what remains is verified offline[/]")
        run_steps(day, demo_steps.OFFLINE_STEPS, first=day.checks_step_count() + 1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    if interrupted:
        console.print("[yellow]interrupted: the nodes were stopped[/]")
        raise SystemExit(130)

    elapsed = time.monotonic() - started
    console.print()
    console.print(checks.table())
    held, failed, missing = len(checks.held), len(checks.failed), len(checks.missing)
    summary = f"{held}/{held + failed} in {elapsed:.1f}s"
    if missing:
        summary += f"; {missing} not available"
    ok = not failed and not missing
    console.rule(
        f"[green]all checks held: {summary}" if ok else f"[bold red]checks failed: {summary}"
    )
    if missing:
        for r in checks.missing:
            console.print(f"  [yellow]not available:[/] {r.step} ({r.detail})")
    # The directory is kept either way: it holds the report, the receipts and each
    # node's log, and `bashu ledger verify --config DIR/<region>/node.toml` works on it.
    console.print(f"the regions and their logs are in {data_dir}")
    if "report" in day.facts:
        console.print(f"the report: {day.facts['report']}")
    if not ok:
        raise SystemExit(1)
