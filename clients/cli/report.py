"""``bashu report …``: usage, revenue and period statements as CSV, JSON or HTML.

Providers see their own usage and revenue; finance sees the region's; a statement
is finance's (``SettlementService.GetStatement``)::

    bashu report usage --period 2026-11 --format html --out usage.html
    bashu report revenue --period 2026-11 --format csv --out revenue.csv
    bashu report statement --period 2026-11 --counterparty cq --format html --out st.html

The HTML is one self-contained file (tables, totals, a chart of usage per day,
and how to verify each figure); CSV and JSON carry amounts as exact integers of
fen. A statement is rendered only if its content re-encodes to exactly the bytes
both regions signed, so the report shows what was signed.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clients.cli._common import err_console, fail, period_id
from clients.cli.product import client_options, open_client

if TYPE_CHECKING:
    from clients.sdk.client import Client
    from services.settlement.report import DailyUsage, ReportSection
    from services.settlement.statement import Statement

__all__ = ["report", "statement_from_proto"]

FORMATS = ("csv", "json", "html")
_PERIOD_HELP = "Period id, for example 2026-11 (UTC calendar month)."


def _check_period(period: str) -> str:
    return period_id(period)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    err_console.print(f"wrote {out}", highlight=False)


def _output_options(fn: Any) -> Any:
    fn = click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write to this file (default: standard output).",
    )(fn)
    fn = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="csv",
        show_default=True,
        help="Output format.",
    )(fn)
    fn = click.option("--period", required=True, help=_PERIOD_HELP)(fn)
    return fn


@click.group()
def report() -> None:
    """Usage, revenue and statement reports (CSV, JSON, self-contained HTML)."""


# --- usage and revenue ----------------------------------------------------------------

_COLUMNS = ("records", "zero_priced", "calls", "rows", "bytes", "amount_fen", "amount_yuan")


def _figures(row: Any) -> tuple[int, int, int, int, int, int, str]:
    from services.settlement.money import format_yuan

    q, fen = row.quantity, row.amount.amount_fen
    return (
        row.record_count,
        row.zero_priced_count,
        q.calls,
        q.rows,
        q.bytes,
        fen,
        format_yuan(fen),
    )


def _summary(
    client: Client,
    grouping: str,
    period: str,
    consumer_region: str = "",
    time_range: Any = None,
) -> tuple[list[Any], Any]:
    """SummarizeUsage over all pages: of the month ``period`` ("2026-11", the usage
    records' own period field), or, with ``time_range`` (a ``TimeRange``) and an
    empty ``period``, of the records whose event time falls in it."""
    from bashu.access.v1 import access_pb2

    rows: list[Any] = []
    token = ""
    stub = client.access._stub
    usage_filter = access_pb2.UsageFilter(
        period=period, consumer_region=consumer_region, time_range=time_range
    )
    while True:
        resp = stub.SummarizeUsage(
            access_pb2.SummarizeUsageRequest(
                parent=f"regions/{client.reconciliation.region}",
                filter=usage_filter,
                grouping=f"USAGE_GROUPING_{grouping}",
                page_size=1000,
                page_token=token,
            )
        )
        rows.extend(resp.rows)
        token = resp.next_page_token
        if not token:
            return rows, resp.total


def _daily(rows: Sequence[Any]) -> list[DailyUsage]:
    from services.settlement.report import DailyUsage

    out = []
    for r in rows:
        try:
            day = date.fromisoformat(r.key)
        except ValueError:
            continue
        out.append(DailyUsage(day, r.record_count, r.zero_priced_count, r.amount.amount_fen))
    return sorted(out, key=lambda d: d.day)


def _render(
    fmt: str,
    title: str,
    sections: Sequence[ReportSection],
    daily: Sequence[DailyUsage],
    intro: str,
    verify: Sequence[str],
) -> str:
    from services.settlement.report import table_report_html

    if fmt == "html":
        return table_report_html(
            title,
            sections,
            daily=daily,
            intro=intro,
            verify=verify,
            generated_at=datetime.now(UTC).replace(microsecond=0),
        )
    if fmt == "json":
        doc = {
            "title": title,
            "sections": [
                {
                    "heading": s.heading,
                    "rows": [dict(zip(s.columns, r, strict=True)) for r in s.rows],
                    "total": None
                    if s.total is None
                    else dict(zip(s.columns, s.total, strict=True)),
                }
                for s in sections
            ],
            "daily": [
                {
                    "day": d.day.isoformat(),
                    "records": d.record_count,
                    "zero_priced": d.zero_priced_count,
                    "amount_fen": d.amount_fen,
                }
                for d in daily
            ],
        }
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, s in enumerate(sections):
        writer.writerow(["section", *s.columns])
        for row in s.rows:
            writer.writerow([s.heading, *row])
        if s.total is not None:
            writer.writerow([f"{s.heading} total", *s.total])
        if i < len(sections) - 1:
            writer.writerow([])
    return out.getvalue()


_VERIFY_USAGE = (
    "Each figure is a sum over usage records: <code>bashu usage list --period P</code> lists "
    "them (with each record's ledger entry), and <code>bashu usage summary</code> repeats "
    "the sums on the node.",
    "Each record's amount was rounded half-up to a whole fen once, when the use was "
    "metered; a report only adds those integers, so amount_fen is exact.",
    "Each record is an entry of the region's ledger: <code>bashu ledger show INDEX</code> "
    "decodes it and <code>bashu ledger prove INDEX</code> proves its inclusion in a signed "
    "checkpoint (checkable offline with the region's public key).",
    "A consumer holding a receipt can check its own use: "
    "<code>bashu data receipt REQUEST_ID --verify</code>.",
)


@report.command("usage")
@client_options
@_output_options
def usage_cmd(node: str, api_key: str, period: str, fmt: str, out: Path | None) -> None:
    """Usage of PERIOD per product and per day (the caller's view: a provider sees its
    own products, finance the region's)."""
    from services.settlement.report import ReportSection

    _check_period(period)
    with open_client(node, api_key) as client:
        products, total = _summary(client, "PRODUCT", period)
        days, _ = _summary(client, "DAY", period)
        region = client.reconciliation.region
    section = ReportSection(
        "Usage per product",
        ("product", *_COLUMNS),
        tuple((r.key, *_figures(r)) for r in products),
        ("total", *_figures(total)),
    )
    by_day = ReportSection(
        "Usage per day (UTC)",
        ("day", *_COLUMNS),
        tuple((r.key, *_figures(r)) for r in days),
        ("total", *_figures(total)),
    )
    _write(
        _render(
            fmt,
            f"Usage in region {region}, period {period}",
            [section, by_day],
            _daily(days),
            f"Region {region}, period {period} (event time, UTC). Amounts in fen and yuan.",
            _VERIFY_USAGE,
        ),
        out,
    )


@report.command("revenue")
@client_options
@_output_options
def revenue_cmd(node: str, api_key: str, period: str, fmt: str, out: Path | None) -> None:
    """Revenue of PERIOD per provider, product and licence."""
    from services.settlement.report import ReportSection

    _check_period(period)
    with open_client(node, api_key) as client:
        licences, total = _summary(client, "LICENCE", period)
        days, _ = _summary(client, "DAY", period)
        region = client.reconciliation.region
        facts: dict[str, tuple[str, str]] = {}
        for r in licences:
            lic = client.licensing.get_licence(r.key)
            facts[r.key] = (str(lic.provider), str(lic.terms.product))
    rows = sorted(
        ((*facts[r.key], r.key, *_figures(r)) for r in licences),
        key=lambda row: (str(row[0]), str(row[1]), str(row[2])),
    )
    by_product: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        acc = by_product.setdefault((str(row[0]), str(row[1])), [0] * 6)
        for i in range(6):
            acc[i] += int(str(row[3 + i]))
    from services.settlement.money import format_yuan

    product_rows = tuple(
        (p, prod, *acc, format_yuan(acc[5])) for (p, prod), acc in sorted(by_product.items())
    )
    sections = [
        ReportSection(
            "Revenue per provider and product",
            ("provider", "product", *_COLUMNS),
            product_rows,
            ("total", "", *_figures(total)),
        ),
        ReportSection(
            "Revenue per licence",
            ("provider", "product", "licence", *_COLUMNS),
            tuple(rows),
            ("total", "", "", *_figures(total)),
        ),
    ]
    _write(
        _render(
            fmt,
            f"Revenue in region {region}, period {period}",
            sections,
            _daily(days),
            f"Region {region}, period {period} (event time, UTC). Revenue is the sum of "
            "the usage records' amounts; zero-priced uses are counted, at 0.",
            _VERIFY_USAGE,
        ),
        out,
    )


# --- statements ----------------------------------------------------------------------


def _ts(ts: Any) -> datetime:
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, UTC)


def _entry(e: Any) -> Any:
    from services.settlement.model import EntryRef

    return EntryRef(e.origin, e.index, e.leaf_hash)


def statement_from_proto(message: Any) -> Statement:
    """A ``bashu.settlement.v1.Statement`` as the settlement domain's ``Statement``,
    checked: its content must re-encode to exactly ``content_body`` (the signed bytes)
    and satisfy every rule a statement's totals follow."""
    from services.settlement.adjustments import AdjustmentKind
    from services.settlement.model import (
        BatchRef,
        CheckpointRef,
        DisputeHold,
        PurposeClass,
        Quantity,
    )
    from services.settlement.statement import (
        DirectionTotal,
        RegionSignature,
        Statement,
        StatementAdjustment,
        StatementContent,
        StatementLine,
    )

    c = message.content

    def qty(q: Any) -> Quantity:
        return Quantity(q.calls, q.rows, q.bytes)

    content = StatementContent(
        period=c.period,
        period_start=_ts(c.period_range.start_time),
        period_end=_ts(c.period_range.end_time),
        regions=(c.regions[0], c.regions[1]),
        lines=tuple(
            StatementLine(
                provider_region=ln.provider_region,
                consumer_region=ln.consumer_region,
                product=ln.product,
                tariff=ln.tariff,
                purpose_class=PurposeClass(ln.purpose_class),
                record_count=ln.record_count,
                zero_priced_count=ln.zero_priced_count,
                quantity=qty(ln.quantity),
                gross_fen=ln.gross_amount.amount_fen,
                rounding_residue_fen=Decimal(ln.rounding_residue_fen or "0"),
                entries_root=ln.entries_root,
                late_record_count=ln.late_record_count,
            )
            for ln in c.lines
        ),
        adjustments=tuple(
            StatementAdjustment(
                adjustment=a.adjustment,
                kind=AdjustmentKind(a.kind),
                provider_region=a.provider_region,
                consumer_region=a.consumer_region,
                amount_delta_fen=a.amount_delta.amount_fen,
                entry=_entry(a.entry),
                corrects=_entry(a.corrects) if a.HasField("corrects") else None,
            )
            for a in c.adjustments
        ),
        disputed=tuple(
            DisputeHold(h.dispute, h.provider_region, h.consumer_region, h.amount.amount_fen)
            for h in c.disputed
        ),
        totals=tuple(  # type: ignore[arg-type]
            DirectionTotal(
                provider_region=t.provider_region,
                consumer_region=t.consumer_region,
                record_count=t.record_count,
                zero_priced_count=t.zero_priced_count,
                quantity=qty(t.quantity),
                gross_fen=t.gross_amount.amount_fen,
                adjustment_fen=t.adjustment_amount.amount_fen,
                disputed_fen=t.disputed_amount.amount_fen,
                net_fen=t.net_amount.amount_fen,
            )
            for t in c.totals
        ),
        net_payer_region=c.net_payer_region,
        net_payee_region=c.net_payee_region,
        net_fen=c.net_amount.amount_fen,
        rounding_residue_fen=Decimal(c.rounding_residue_fen or "0"),
        batches=tuple(
            BatchRef(
                batch=b.batch,
                provider_region=b.provider_region,
                consumer_region=b.consumer_region,
                sequence=b.sequence,
                record_count=b.record_count,
                amount_fen=b.amount.amount_fen,
                merkle_root=b.merkle_root,
                batch_digest=b.batch_digest,
                provider_entry=_entry(b.provider_entry) if b.HasField("provider_entry") else None,
                consumer_entry=_entry(b.consumer_entry) if b.HasField("consumer_entry") else None,
            )
            for b in c.batches
        ),
        checkpoints=tuple(
            CheckpointRef(
                cp.origin,
                cp.tree_size,
                cp.root_hash,
                cp.signed_note,
                _ts(cp.sign_time) if cp.HasField("sign_time") else None,
            )
            for cp in c.checkpoints
        ),
        record_count=c.record_count,
        currency=c.currency_code or "CNY",
    )
    if message.content_body and content.body != message.content_body:
        raise click.ClickException(
            f"{message.name}: the content does not re-encode to the signed bytes; "
            "refusing to render it"
        )
    signatures = tuple(
        RegionSignature(s.signer_region, s.key_name, s.key_id, s.signature)
        for s in message.signatures
    )
    return Statement(content, signatures, refusal_reason=message.refusal_reason)


@report.command("statement")
@client_options
@_output_options
@click.option("--counterparty", required=True, help="The other region, for example cq.")
def statement_cmd(
    node: str, api_key: str, period: str, fmt: str, out: Path | None, counterparty: str
) -> None:
    """The PERIOD statement with COUNTERPARTY (finance)."""
    from services.settlement.report import statement_csv, statement_html, statement_json

    _check_period(period)
    with open_client(node, api_key) as client:
        region = client.reconciliation.region
        message = client.settlement.statement(period, counterparty)
        days: list[Any] = []
        if fmt == "html":
            # Usage records carry a calendar month as their period, whatever the
            # agreement's cadence (weeks, fixed hours), so the chart asks for the
            # statement's own event-time range instead of the period id.
            days = _summary(
                client, "DAY", "", counterparty, time_range=message.content.period_range
            )[0]
    statement = statement_from_proto(message)
    if fmt == "csv":
        text = statement_csv(statement)
    elif fmt == "json":
        text = statement_json(statement)
    else:
        text = statement_html(
            statement,
            daily=_daily(days),
            region=region,
            generated_at=datetime.now(UTC).replace(microsecond=0),
        )
    _write(text, out)
