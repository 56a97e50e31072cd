"""Reports wired to real data: the HTML statement of records stored in a node parses,
is self-contained and shows the totals; ``bashu report usage|revenue|statement``
against real nodes in CSV, JSON and HTML; one-line errors on bad input."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clients.cli import cli
from clients.cli._common import run_cli
from services.config import SettlementSettings
from services.reconciliation_store import load_records, period_span, usage_table
from services.settlement.money import format_yuan
from services.settlement.report import daily_usage, statement_html
from services.settlement.statement import compute_statement
from tests.federation.conftest import configure, prepare_region
from tests.settlement.reconcile_world import (
    DAY_US,
    PERIOD,
    START_US,
    World,
    duo_db_urls,
    grant_licence,
    start_world,
    uses,
)

_VOID = {"meta", "br", "img", "hr", "input", "link", "rect", "polyline", "path", "circle", "line"}


class _Checker(HTMLParser):
    """Parses a page and checks every element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            raise AssertionError(f"</{tag}> closes {self.stack[-1:]}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], f"unclosed {checker.stack}"
    assert "script" not in checker.tags
    # Self-contained: nothing is loaded (the SVG namespace is a name, not a fetch).
    assert not [a for a in checker.attrs if a[0] in ("src", "href")]
    return checker


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    urls = duo_db_urls(db_url)
    w = start_world(tmp_path, next(urls))
    try:
        yield w
    finally:
        for region in w.regions.values():
            region.stop()
        w.close()
        urls.close()


def _bashu(
    capsys: pytest.CaptureFixture[str], world: World, *args: str, role: str = "finance"
) -> tuple[int, str, str]:
    sc = world.regions["sc"]
    code = run_cli(cli, [*args[:2], "--node", sc.address, "--api-key", sc.keys[role], *args[2:]])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_statement_html_of_stored_records_parses_and_shows_the_totals(world: World) -> None:
    sc_cq, cq_sc = uses(25, "sc", "cq"), uses(10, "cq", "sc")
    for u in sc_cq + cq_sc:
        world.record_both(u)
    span = period_span(PERIOD)
    usage = usage_table(load_records(world.engine("sc"), "sc", "cq", span), provider_entries=True)
    content = compute_statement(span, ("cq", "sc"), usage)
    owed_to_sc = sum(u.amount_fen for u in sc_cq)
    owed_to_cq = sum(u.amount_fen for u in cq_sc)
    assert content.total("sc", "cq").gross_fen == owed_to_sc
    assert content.total("cq", "sc").gross_fen == owed_to_cq
    assert content.net_fen == abs(owed_to_sc - owed_to_cq)

    page = statement_html(content, daily=daily_usage(usage), region="sc")
    checker = parse(page)
    text = " ".join(checker.text)
    for fen in (owed_to_sc, owed_to_cq, content.net_fen):
        assert format_yuan(fen) in text
    assert "svg" in checker.tags
    assert "How to verify each figure" in text
    days = {u.time_us // 86_400_000_000 for u in sc_cq + cq_sc}
    assert checker.tags.count("title") - 1 == len(days)  # one bar (with tooltip) per day


def test_usage_and_revenue_reports(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sc_cq = uses(12, "sc", "cq")
    for u in sc_cq:
        world.record_both(u)
    total = sum(u.amount_fen for u in sc_cq)
    records = len(sc_cq)

    code, out, err = _bashu(capsys, world, "report", "usage", "--period", PERIOD)
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    totals = [r for r in rows if r and r[0] == "Usage per product total"]
    assert len(totals) == 1
    assert int(totals[0][2]) == records
    assert int(totals[0][7]) == total

    page = tmp_path / "usage.html"
    code, _, err = _bashu(
        capsys, world, "report", "usage", "--period", PERIOD, "--format", "html",
        "--out", str(page),
    )  # fmt: skip
    assert code == 0, err
    checker = parse(page.read_text(encoding="utf-8"))
    assert format_yuan(total) in " ".join(checker.text)
    assert "svg" in checker.tags

    code, out, err = _bashu(
        capsys, world, "report", "revenue", "--period", PERIOD, "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    per_licence = doc["sections"][1]
    licence_id = world.licences["sc"][0]
    assert [r["licence"].rsplit("/", 1)[-1] for r in per_licence["rows"]] == [licence_id]
    assert per_licence["rows"][0]["amount_fen"] == total
    assert per_licence["rows"][0]["product"].endswith("/products/census-sc")
    assert sum(d["amount_fen"] for d in doc["daily"]) == total


def test_statement_report_from_the_node(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sc_cq, cq_sc = uses(9, "sc", "cq"), uses(4, "cq", "sc")
    for u in sc_cq + cq_sc:
        world.record_both(u)
    world.client("sc").settlement.close_now(PERIOD)
    page = tmp_path / "statement.html"
    code, _, err = _bashu(
        capsys, world, "report", "statement", "--period", PERIOD, "--counterparty", "cq",
        "--format", "html", "--out", str(page),
    )  # fmt: skip
    assert code == 0, err
    checker = parse(page.read_text(encoding="utf-8"))
    text = " ".join(checker.text)
    net = abs(sum(u.amount_fen for u in sc_cq) - sum(u.amount_fen for u in cq_sc))
    assert format_yuan(net) in text
    code, out, err = _bashu(
        capsys, world, "report", "statement", "--period", PERIOD, "--counterparty", "cq",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["net_fen"] == net
    code, out, err = _bashu(
        capsys, world, "report", "statement", "--period", PERIOD, "--counterparty", "cq"
    )
    assert code == 0, err
    net_rows = [r for r in csv.DictReader(out.splitlines()) if r["section"] == "net"]
    assert int(net_rows[0]["amount_fen"]) == net


@pytest.mark.parametrize(
    "args",
    [
        ("report", "usage", "--period", "nope"),
        ("report", "usage", "--period", PERIOD, "--format", "xml"),
        ("report", "statement", "--period", PERIOD),
        ("report", "statement", "--period", PERIOD, "--counterparty", "sg"),
        ("report", "revenue"),
    ],
)
def test_bad_input_is_one_line(
    world: World, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, _, err = _bashu(capsys, world, *args)
    assert code != 0
    assert "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.lower().startswith("error")]) == 1


def test_statement_reader_counts_late_records_where_they_land(world: World) -> None:
    """The one reader statements, reconciliation and the benchmark use: a period's
    records, minus those that arrived after it closed, plus earlier periods' records
    that arrived after those closed (marked late); the service reads the same."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from services.reconciliation_store import statement_usage
    from services.settlement.periods import Cadence, Period, PeriodState
    from services.settlement_store import UsageSource

    day = 86_400_000_000
    october = uses(12, "sc", "cq") + uses(6, "cq", "sc")
    for u in october:
        world.record_both(u)
    # September's uses: two arrived before September closed (they stay there), two
    # after (late, they count in October), in both directions.
    september = [
        replace(u, time_us=START_US - 5 * day + i)
        for i, u in enumerate(uses(2, "sc", "cq", "sep-") + uses(2, "cq", "sc", "sep-"))
    ]
    closed_sep = START_US + 2 * day
    for i, u in enumerate(september):
        arrival = closed_sep + day if i % 2 else closed_sep - day
        world.record_consumption(u, world.record_usage(u, arrival_us=arrival), arrival_us=arrival)
    # One October use arrived after October closed: it counts in November.
    after = replace(uses(1, "sc", "cq", "nov-")[0], time_us=START_US + 3 * day)
    closed_oct = START_US + 40 * day
    world.record_consumption(
        after, world.record_usage(after, arrival_us=closed_oct + day), arrival_us=closed_oct + day
    )

    cadence = Cadence.monthly()

    def closed(period: str, at_us: int) -> Period:
        at = datetime.fromtimestamp(at_us / 1e6, UTC)
        return Period(
            cadence.period(period),
            state=PeriodState.CLOSED,
            closing_time=at - timedelta(days=1),
            grace_end_time=at,
            close_time=at,
        )

    periods = {"2026-09": closed("2026-09", closed_sep), "2026-10": closed("2026-10", closed_oct)}
    span = period_span(PERIOD)
    engine = world.engine("sc")
    ours = statement_usage(engine, "sc", "cq", span, cadence, periods)
    with Session(engine) as session:
        via_service = UsageSource(engine, "sc").usage(session, "cq", span, cadence, periods)

    def rows(t: object) -> list[tuple[object, ...]]:
        table = t.table.select(  # type: ignore[attr-defined]
            ["record_id", "entry_index", "leaf_hash", "amount_fen", "late", "tariff"]
        )
        return sorted(tuple(r.values()) for r in table.to_pylist())

    assert rows(ours) == rows(via_service)
    got = {r[0]: r[4] for r in rows(ours)}
    expected = {u.record_id: False for u in october}
    expected |= {u.record_id: True for i, u in enumerate(september) if i % 2}
    assert got == expected
    assert compute_statement(span, ("cq", "sc"), ours).body == (
        compute_statement(span, ("cq", "sc"), via_service).body
    )


HOURLY = SettlementSettings(cadence="fixed", period_length_s=3600, anchor="2026-10-01T00:00:00Z")
HOUR_US = 3_600_000_000


@pytest.fixture
def hourly_world(tmp_path: Path, db_url: str) -> Iterator[World]:
    """Two regions whose agreement cuts time into fixed one-hour periods."""
    urls = duo_db_urls(db_url)
    db_urls = next(urls)
    regions = {r: prepare_region(r, tmp_path / r, db_urls[r]) for r in ("sc", "cq")}
    for region in regions.values():
        configure(region, list(regions.values()))
        assert region.config is not None
        region.config = replace(region.config, settlement=HOURLY)
    w = World(regions)
    try:
        for region in regions.values():
            region.start()
        for name in regions:
            grant_licence(w, name)
        yield w
    finally:
        for region in regions.values():
            region.stop()
        w.close()
        urls.close()


def test_statement_html_of_a_one_hour_period_charts_only_that_hour(
    hourly_world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    world = hourly_world
    hour = HOURLY.build_cadence().period_of(_at(START_US + 2 * HOUR_US))
    start = START_US + 2 * HOUR_US
    inside = [replace(u, time_us=start + i * 1_000_000) for i, u in enumerate(uses(5, "sc", "cq"))]
    # Same day in the next hour, and another day: in the month, not in the period.
    outside = [
        replace(u, time_us=t)
        for u, t in zip(
            uses(2, "sc", "cq", seed="out"), (start + HOUR_US, start + 4 * DAY_US), strict=True
        )
    ]
    for u in inside + outside:
        world.record_both(u)
    world.client("sc").settlement.close_now(hour.id)
    page = tmp_path / "hour.html"
    code, _, err = _bashu(
        capsys, world, "report", "statement", "--period", hour.id, "--counterparty", "cq",
        "--format", "html", "--out", str(page),
    )  # fmt: skip
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    parse(text)
    amount = sum(u.amount_fen for u in inside)
    day = _at(start).date().isoformat()
    assert f"{day}: {format_yuan(amount)} yuan ({amount} fen), {len(inside)} records" in text
    assert _at(start + 4 * DAY_US).date().isoformat() not in text


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)
