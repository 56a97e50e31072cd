"""``bashu reconcile …``: compare this region's ledger with a counterparty's (finance).

::

    bashu reconcile --counterparty cq --period 2026-11          # run it, show the result
    bashu reconcile --counterparty cq --period 2026-11 --amount-tolerance 1
    bashu reconcile list --period 2026-11
    bashu reconcile show regions/sc/periods/2026-11/reconciliationReports/…
    bashu reconcile discrepancies REPORT --status mismatched --format csv --out d.csv

A reconciliation compares statement totals, then product-day totals, then every
record; each record ends as matched, within tolerance, mismatched, ours only or
theirs only. The report is a ledger entry of this region (its index is printed). A
retry with the same ``--request-id`` shows the first report instead of running again.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TimeElapsedColumn
from rich.table import Table

from clients.cli._common import console, err_console, period_id
from clients.cli.product import client_options, open_client

__all__ = ["reconcile"]

_REGION_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def _region(value: str, option: str) -> str:
    if not (2 <= len(value) <= 32 and value[0].isalpha() and set(value) <= _REGION_CHARS):
        raise click.BadParameter(
            f"{value!r} is not a region id (for example cq)", param_hint=option
        )
    return value


def _period(value: str) -> str:
    return period_id(value)


def _counts(c: Any) -> list[str]:
    return [
        f"{c.matched:,}",
        f"{c.within_tolerance:,}",
        f"{c.mismatched:,}",
        f"{c.ours_only:,}",
        f"{c.theirs_only:,}",
    ]


def _show(report: Any) -> None:
    from clients.sdk.reconciliation import tier_word

    clean = all(t.passed for t in report.tiers)
    seconds = report.duration.seconds + report.duration.nanos / 1e9
    console.print(
        f"[bold]{report.name}[/]\n"
        f"counterparty {report.counterparty}, period {report.period.rsplit('/', 1)[-1]}, "
        f"by {report.creator} in {seconds:.1f} s\n"
        f"ours at {report.our_checkpoint.origin} size {report.our_checkpoint.tree_size}, "
        f"theirs at {report.their_checkpoint.origin or '-'} size "
        f"{report.their_checkpoint.tree_size}\n"
        f"tolerance: amount {report.tolerance.amount_fen} fen, rows {report.tolerance.rows}, "
        f"bytes {report.tolerance.bytes}",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(
        "tier",
        "matched",
        "within tolerance",
        "mismatched",
        "ours only",
        "theirs only",
        "passed",
        title="Reconciliation",
    )
    for t in report.tiers:
        table.add_row(tier_word(t.tier), *_counts(t.counts), "yes" if t.passed else "NO")
    table.add_row("[bold]records[/]", *_counts(report.record_counts), "yes" if clean else "NO")
    console.print(table)
    console.print(
        f"{report.discrepancy_count:,} discrepancies, digest "
        f"{report.discrepancies_digest.hex()}; ledger entry {report.ledger_entry.index} "
        f"({report.ledger_entry.leaf_hash.hex()[:16]}…)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "[green]no differences beyond tolerance[/]"
        if clean
        else "[red]differences found[/]: bashu reconcile discrepancies " + report.name,
        soft_wrap=True,
    )


def _discrepancy_row(d: Any) -> list[str]:
    from clients.sdk.reconciliation import status_word, tier_word

    def amount(has: bool, m: Any) -> str:
        return str(m.amount_fen) if has else ""

    def rows(has: bool, q: Any) -> str:
        return str(q.rows) if has else ""

    return [
        tier_word(d.tier),
        d.key,
        status_word(d.status),
        " ".join(d.differing_fields),
        str(d.our_record_count),
        str(d.their_record_count),
        amount(d.HasField("our_amount"), d.our_amount),
        amount(d.HasField("their_amount"), d.their_amount),
        rows(d.HasField("our_quantity"), d.our_quantity),
        rows(d.HasField("their_quantity"), d.their_quantity),
        f"{d.our_entry.index}" if d.HasField("our_entry") else "",
        f"{d.their_entry.index}" if d.HasField("their_entry") else "",
    ]


_HEAD = (
    "tier",
    "key",
    "status",
    "fields",
    "our records",
    "their records",
    "our fen",
    "their fen",
    "our rows",
    "their rows",
    "our entry",
    "their entry",
)


@click.group(invoke_without_command=True)
@client_options
@click.option("--period", default=None, help="Period id, for example 2026-11.")
@click.option("--counterparty", default=None, help="The other region, for example cq.")
@click.option("--amount-tolerance", type=click.IntRange(min=0), default=None, help="Fen.")
@click.option("--rows-tolerance", type=click.IntRange(min=0), default=None)
@click.option("--bytes-tolerance", type=click.IntRange(min=0), default=None)
@click.option("--time-skew", type=click.FloatRange(min=0), default=None, help="Seconds.")
@click.option("--request-id", default=None, help="Reuse to retry without running twice.")
@click.pass_context
def reconcile(
    ctx: click.Context,
    node: str,
    api_key: str,
    period: str | None,
    counterparty: str | None,
    amount_tolerance: int | None,
    rows_tolerance: int | None,
    bytes_tolerance: int | None,
    time_skew: float | None,
    request_id: str | None,
) -> None:
    """Reconcile PERIOD with COUNTERPARTY (or: list, show, discrepancies)."""
    ctx.obj = (node, api_key)
    if ctx.invoked_subcommand is not None:
        return
    if period is None or counterparty is None:
        raise click.UsageError("give --period and --counterparty (or a subcommand)")
    period = _period(period)
    counterparty = _region(counterparty, "--counterparty")
    with (
        open_client(node, api_key) as client,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        ) as progress,
    ):
        progress.add_task(
            f"reconciling {period} with {counterparty} (totals, product-days, records)",
            total=None,
        )
        report = client.reconciliation.reconcile(
            period,
            counterparty,
            amount_fen=amount_tolerance,
            rows=rows_tolerance,
            nbytes=bytes_tolerance,
            time_skew=None if time_skew is None else timedelta(seconds=time_skew),
            request_id=request_id or uuid.uuid4().hex,
        )
        first = []
        if report.discrepancy_count:
            for d in client.reconciliation.discrepancies(report.name, page_size=20):
                first.append(d)
                if len(first) >= 20:
                    break
    _show(report)
    if first:
        table = Table(*_HEAD, title=f"First {len(first)} discrepancies")
        for d in first:
            table.add_row(*_discrepancy_row(d))
        console.print(table)


@reconcile.command("show")
@click.argument("report")
@click.pass_obj
def show_cmd(obj: tuple[str, str], report: str) -> None:
    """Show REPORT (its resource name)."""
    node, api_key = obj
    with open_client(node, api_key) as client:
        _show(client.reconciliation.get(report))


@reconcile.command("list")
@click.option("--period", default="-", help="Period id; '-' (default) for every period.")
@click.option("--with", "counterparty", default="", help="Only with this counterparty.")
@click.pass_obj
def list_cmd(obj: tuple[str, str], period: str, counterparty: str) -> None:
    """List reconciliation reports, newest first."""
    node, api_key = obj
    if period != "-":
        period = _period(period)
    if counterparty:
        _region(counterparty, "--with")
    table = Table(title="regions/…/periods/PERIOD/reconciliationReports/REPORT, newest first")
    table.add_column("period")
    table.add_column("report", no_wrap=True, min_width=32)
    for head in ("with", "created", "records", "diffs", "passed", "entry"):
        table.add_column(head)
    with open_client(node, api_key) as client:
        for r in client.reconciliation.reports(period, counterparty):
            c = r.record_counts
            _, _, period_id, _, report_id = r.name.rsplit("/", 4)
            table.add_row(
                period_id,
                report_id,
                r.counterparty,
                r.create_time.ToDatetime().isoformat(timespec="seconds"),
                f"{c.matched + c.within_tolerance + c.mismatched + c.ours_only + c.theirs_only:,}",
                f"{r.discrepancy_count:,}",
                "yes" if all(t.passed for t in r.tiers) else "NO",
                str(r.ledger_entry.index),
            )
    console.print(table)


@reconcile.command("discrepancies")
@click.argument("report")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Only this outcome (within-tolerance, mismatched, ours-only, theirs-only).",
)
@click.option("--tier", default=None, help="statement-totals, product-day or record.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many.")
@click.pass_obj
def discrepancies_cmd(
    obj: tuple[str, str],
    report: str,
    statuses: tuple[str, ...],
    tier: str | None,
    fmt: str,
    out: Path | None,
    limit: int,
) -> None:
    """List REPORT's discrepancies in (tier, key) order."""
    from clients.sdk.reconciliation import status_value, tier_value

    for s in statuses:
        try:
            status_value(s)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--status") from None
    if tier is not None:
        try:
            tier_value(tier)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tier") from None
    rows: list[list[str]] = []
    node, api_key = obj
    with open_client(node, api_key) as client:
        for d in client.reconciliation.discrepancies(report, statuses=statuses, tier=tier):
            rows.append(_discrepancy_row(d))
            if limit and len(rows) >= limit:
                break
    if fmt == "table":
        table = Table(*_HEAD, title=f"{len(rows):,} discrepancies")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    if fmt == "json":
        text = json.dumps([dict(zip(_HEAD, r, strict=True)) for r in rows], indent=2) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(_HEAD)
        writer.writerows(rows)
        text = buf.getvalue()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {len(rows)} discrepancies to {out}")
