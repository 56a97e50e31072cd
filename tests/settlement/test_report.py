"""Reports: the HTML is self-contained and shows the statement's figures; CSV and
JSON carry the same numbers."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from html.parser import HTMLParser

from ledger.note import Signer
from services.settlement.model import DisputeHold, log_origin
from services.settlement.money import format_yuan
from services.settlement.netting import net, obligation_of
from services.settlement.reconcile import RecordSet, reconcile
from services.settlement.report import (
    daily_usage,
    discrepancies_csv,
    revenue_by_licence,
    revenue_csv,
    statement_csv,
    statement_html,
    statement_json,
    usage_chart_svg,
)
from services.settlement.statement import (
    Statement,
    compute_statement,
    region_key_signer,
    sign_statement,
)
from services.settlement.usage import UsageTable
from tests.settlement.factories import NOVEMBER, record, reversals


class Page(HTMLParser):
    """Collects text, tags, table cells and any reference to something outside."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.external: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_cell = tag in ("td", "th")
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        if tag in ("script", "link", "iframe", "img"):
            self.external.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_cell:
            self.cells.append(data)


def statement_and_usage() -> tuple[Statement, UsageTable]:
    records = [
        record(
            i,
            provider="sc" if i % 4 else "cq",
            consumer="cq" if i % 4 else "sc",
            at=NOVEMBER.start + timedelta(days=i % 30, hours=3),
            amount=0 if i % 9 == 0 else 1234 + i,
        )
        for i in range(60)
    ]
    adjustments = reversals(records[1:2])
    holds = [DisputeHold("regions/cq/disputes/d-<1>", "sc", "cq", 500)]
    usage = UsageTable.from_records(records)
    content = compute_statement(NOVEMBER, ("sc", "cq"), usage, adjustments=adjustments, holds=holds)
    signed = sign_statement(
        Statement(content), region_key_signer("sc", Signer.generate(log_origin("sc")))
    )
    return signed, usage


def test_html_report_renders_with_totals_chart_and_verification() -> None:
    statement, usage = statement_and_usage()
    content = statement.content
    other = [record(i, provider="sc", consumer="cq") for i in range(3)]
    report = reconcile(
        RecordSet("sc", usage), RecordSet("cq", UsageTable.from_records(other)), period="2026-11"
    )
    page_html = statement_html(
        statement,
        daily=daily_usage(usage),
        region="sc",
        netting=net("2026-11", [obligation_of(content)]),
        reconciliation=report,
    )
    page = Page()
    page.feed(page_html)
    page.close()
    text = "".join(page.text)
    assert page.external == []
    assert "svg" in page.tags
    assert "rect" in page.tags
    assert f"{content.net_payer_region} pays {content.net_payee_region}" in text
    assert format_yuan(content.net_fen) in text
    for t in content.totals:
        for amount in (t.gross_fen, t.adjustment_fen, t.disputed_fen, t.net_fen):
            assert format_yuan(amount) in page.cells
    assert format_yuan(sum(ln.gross_fen for ln in content.lines)) in page.cells
    assert str(content.record_count) in page.cells
    assert content.digest.hex() in text
    assert "How to verify each figure" in text
    assert "bashu ledger prove" in text
    assert "regions/cq/disputes/d-<1>" in text  # escaped in the markup, intact as text
    assert "<1>" not in page_html
    assert "SIGNED" in text or "PARTIALLY_SIGNED" in text


def test_csv_and_json_carry_the_signed_figures() -> None:
    statement, _ = statement_and_usage()
    content = statement.content
    rows = list(csv.DictReader(io.StringIO(statement_csv(statement))))
    lines = [r for r in rows if r["section"] == "line"]
    assert sum(int(r["amount_fen"]) for r in lines) == sum(t.gross_fen for t in content.totals)
    assert sum(int(r["record_count"]) for r in lines) == content.record_count
    (net_row,) = [r for r in rows if r["section"] == "net"]
    assert int(net_row["amount_fen"]) == content.net_fen
    assert [r["section"] for r in rows].count("adjustment:reversal") == 1
    doc = json.loads(statement_json(statement))
    assert doc["content_digest"] == content.digest.hex()
    assert doc["net_fen"] == content.net_fen
    assert doc["state"] == "PARTIALLY_SIGNED"
    assert statement_json(statement) == statement_json(statement)


def test_provider_revenue_and_discrepancy_reports() -> None:
    _, usage = statement_and_usage()
    rows = revenue_by_licence(usage, provider_region="sc")
    assert all(r.provider_region == "sc" for r in rows)
    sc_total = sum(r.amount_fen for r in rows)
    parsed = list(csv.DictReader(io.StringIO(revenue_csv(rows))))
    assert sum(int(r["amount_fen"]) for r in parsed) == sc_total
    ours = [record(i) for i in range(4)]
    report = reconcile(
        RecordSet("sc", UsageTable.from_records(ours)),
        RecordSet("cq", UsageTable.from_records(ours[1:])),
        period="2026-11",
    )
    parsed = list(csv.DictReader(io.StringIO(discrepancies_csv(report))))
    assert [r["status"] for r in parsed if r["tier"] == "RECORD"] == ["OURS_ONLY"]


def test_chart_without_usage() -> None:
    assert "no usage" in usage_chart_svg(())
