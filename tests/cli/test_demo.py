"""The README's first command: the demo must finish with every check held.

The demo runs three real ``bashu node serve`` processes on embedded SQLite (that is
what it demonstrates), so these tests do not take the PostgreSQL parameter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clients.cli.demo import Checks, Demo, Step, StepUnavailable, run_steps

BASHU = str(Path(sys.executable).with_name("bashu"))


def run_demo(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASHU, "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_demo_runs_green(tmp_path: Path) -> None:
    # A database URL in the environment would put all three regions in one database;
    # the demo ignores it (each region has its own SQLite file).
    res = run_demo(
        "--quick",
        "--data-dir",
        str(tmp_path),
        env={"BASHU_DATABASE_URL": "postgresql://nowhere.invalid/none"},
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "all checks held" in res.stdout
    assert "✘" not in res.stdout, out[-6000:]
    for region in ("sc", "cq", "sg"):
        assert (tmp_path / region / "node.toml").exists()
        # Every node drained and stopped on its own after SIGTERM.
        log = (tmp_path / region / "node.log").read_text(encoding="utf-8")
        assert f"bashu node {region} stopped" in log, log[-2000:]
    receipts = (tmp_path / "receipts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(receipts) >= 50
    assert {json.loads(line)["provider_region"] for line in receipts} >= {"sc", "cq"}
    # The regions stay behind, verifiable with the CLI by anyone.
    verify = subprocess.run(
        [BASHU, "ledger", "verify", "--config", str(tmp_path / "sc" / "node.toml"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "BASHU_DATABASE_URL"},
    )
    assert verify.returncode == 0
    assert json.loads(verify.stdout)["ok"]
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Checklist" in report
    assert "enterprise-registry" in report
    assert str(tmp_path / "report.html") in res.stdout


def test_demo_refuses_a_used_directory(tmp_path: Path) -> None:
    (tmp_path / "cq").mkdir()
    (tmp_path / "cq" / "node.toml").write_text("region = 'cq'\n", encoding="utf-8")
    res = run_demo("--quick", "--data-dir", str(tmp_path), timeout=120)
    assert res.returncode == 1
    assert "fresh --data-dir" in res.stderr + res.stdout
    assert not (tmp_path / "sc").exists() or not (tmp_path / "sc" / "node.toml").exists()


def test_keep_running_then_sigterm_stops_every_node(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [BASHU, "demo", "--quick", "--keep-running", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        text = "".join(seen)
        assert "Press Ctrl-C to stop" in text, text[-4000:]
        assert "bashu product search" in text
        # The nodes answer while the demo waits.
        for region in ("sc", "cq", "sg"):
            assert "listening on" in (tmp_path / region / "node.log").read_text(encoding="utf-8")
        # Every command the demo suggests works against the running nodes.
        commands = [
            line.strip()
            for line in text.splitlines()
            if line.strip().startswith(("BASHU_NODE=", "bashu "))
        ]
        assert len(commands) >= 6, text[-4000:]
        path = f"{Path(BASHU).parent}:{os.environ['PATH']}"
        for command in commands:
            ran = subprocess.run(
                ["bash", "-c", command],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={**os.environ, "PATH": path},
            )
            assert ran.returncode == 0, f"{command}\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}"
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest[-4000:]
    assert "all checks held" in rest
    for region in ("sc", "cq", "sg"):
        log = (tmp_path / region / "node.log").read_text(encoding="utf-8")
        assert f"bashu node {region} stopped" in log


class _Quiet:
    """Stands in for the demo's shared state: run_steps only touches ``checks``."""

    def __init__(self) -> None:
        self.checks = Checks()


def _steps(*steps: Step) -> Checks:
    state = _Quiet()
    run_steps(state, list(steps))  # type: ignore[arg-type]
    return state.checks


def test_a_step_whose_module_is_absent_is_not_available_never_passed() -> None:
    ran: list[str] = []

    def body(demo: Demo) -> None:
        ran.append("body")
        demo.checks.record("would pass", True)

    checks = _steps(Step("settle on the moon", body, ("services.no_such_module_here",)))
    assert ran == []
    assert [r.status for r in checks.results] == ["unavailable"]
    assert not checks.held
    assert not checks.failed


def test_a_step_raising_unavailable_or_unimplemented_is_reported_as_such() -> None:
    from grpc import StatusCode

    from clients.sdk.errors import InvalidArgumentError, UnimplementedError

    def unavailable(demo: Demo) -> None:
        raise StepUnavailable("no licences")

    def unimplemented(demo: Demo) -> None:
        raise UnimplementedError(StatusCode.UNIMPLEMENTED, "later", "NOT_IMPLEMENTED")

    def broken(demo: Demo) -> None:
        raise InvalidArgumentError(StatusCode.INVALID_ARGUMENT, "bad", "INVALID_NAME")

    checks = _steps(Step("a", unavailable), Step("b", unimplemented), Step("c", broken))
    assert [r.status for r in checks.results] == ["unavailable", "unavailable", "failed"]


@pytest.mark.parametrize("status", ["held", "failed", "unavailable"])
def test_checklist_shows_every_result(status: str) -> None:
    checks = Checks(step="1. a step")
    if status == "unavailable":
        checks.unavailable("x", "why")
    else:
        checks.record("x", status == "held", "detail")
    assert checks.table().row_count == 1
    assert (status == "failed") == bool(checks.failed)
