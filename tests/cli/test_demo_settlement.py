"""The end of the demo's day on real nodes: batches, close, statements, netting,
reconciliation and the report.

``bashu demo`` cannot close today's calendar month today, so these steps run here on
the demo's three regions built in process, with the one thing a real demo lacks: a
settlement clock that has reached the first minute of next month (the settlement
book takes its clock as a parameter for exactly this). Usage, licences, ledgers,
batches and peer calls all run on the real clock, through the same step functions
the demo runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clients.cli import demo_report, demo_settle, demo_steps
from clients.cli.demo import Checks, Demo, Step, init_regions, register_parties, run_steps
from clients.cli.demo_data import generate
from clients.cli.demo_market import PARTIES, REGIONS
from services.config import load_config
from services.node import Node, build_node
from services.settlement_service import build_settlement


def _next_month(now: datetime) -> datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1) + timedelta(minutes=1)


@pytest.fixture
def day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    offset = _next_month(datetime.now(UTC)) - datetime.now(UTC)
    real = build_settlement

    def month_ended(*args: Any, **kwargs: Any) -> Any:
        return real(*args, clock=lambda: datetime.now(UTC) + offset, **kwargs)

    # The registry builds the node's settlement book; this one's clock is a month on.
    monkeypatch.setattr("services.registry.build_settlement", month_ended)
    nodes = init_regions(tmp_path, list(REGIONS))
    demo = Demo(tmp_path, nodes, generate(seed=3, enterprises=300), True, Checks())
    demo.parties = register_parties(nodes, PARTIES)
    demo_steps.write_sources(demo)
    running: list[Node] = []
    try:
        for n in nodes.values():
            node = build_node(load_config(n.config))
            node.start()
            running.append(node)
        yield demo
    finally:
        demo.close()
        for node in running:
            node.stop(grace=1.0)


def test_the_day_settles_with_every_check_held(day: Demo) -> None:
    steps = [
        Step("list", demo_steps.list_products),
        Step("licences", demo_steps.licences_local),
        Step("cross", demo_steps.licences_cross),
        Step("calls", demo_steps.metered_calls),
        Step("batches", demo_settle.exchange_batches),
        Step("close", demo_settle.close_period),
        Step("sign", demo_settle.sign_statements),
        Step("net", demo_settle.netting),
        Step("reconcile", demo_settle.reconcile),
        Step("report", demo_report.write_report),
    ]
    run_steps(day, steps)
    checks = day.checks
    assert not checks.failed, [(r.step, r.name, r.detail) for r in checks.failed]
    assert not checks.missing, [(r.step, r.name, r.detail) for r in checks.missing]
    names = {r.name for r in checks.held}
    for a, b in (("cq", "sc"), ("cq", "sg"), ("sc", "sg")):
        assert f"{a} ↔ {b}: statement signed by both regions over the same bytes" in names
        assert f"{a} ↔ {b}: reconciliation finds zero differences" in names
    assert "three-region netting is conserved and uses only signed statements" in names
    report = (day.data_dir / "report.html").read_text(encoding="utf-8")
    assert "transfers that settle everything" in report
