"""``bashu data …`` and ``bashu usage …``: metered data calls and the usage they made.

Consumers read, look up and verify data under a licence; every call prints (or
saves) its signed receipt. Providers, finance and operators see usage per licence,
product, consumer or day::

    export BASHU_NODE=127.0.0.1:50051 BASHU_API_KEY=bsk_…
    bashu data read regions/sc/licences/l-1 --out people.parquet --where "city = 成都"
    bashu data lookup regions/sc/licences/l-1 id_no=51010519900101123X
    bashu data verify regions/sc/licences/l-1 id_no=5101… name=张三
    bashu data receipt REQUEST_ID --verify      # re-fetch a receipt, check it offline
    bashu usage summary --by licence
    bashu usage list --licence regions/sc/licences/l-1

Bulk reads show a progress bar on a terminal. Refusals print one line with the
reason (``QUOTA_EXHAUSTED``, ``LICENCE_REVOKED`` …) and exit 1.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TransferSpeedColumn
from rich.table import Table

from clients.cli._common import console, err_console
from clients.cli.product import client_options, open_client

if TYPE_CHECKING:
    from clients.sdk.access import Filter, Receipt

__all__ = ["data", "usage"]

_WHERE = re.compile(
    r"^\s*([a-z][a-z0-9_]*)\s*(is not null|is null|<=|>=|<>|!=|==|=|<|>|in)\s*(.*?)\s*$",
    re.IGNORECASE,
)


def _filters(where: tuple[str, ...]) -> list[Filter]:
    from clients.sdk.access import Filter

    out = []
    for text in where:
        m = _WHERE.match(text)
        if m is None:
            raise click.BadParameter(f"{text!r} is not 'COLUMN OP VALUE'", param_hint="--where")
        column, op, value = m.group(1), m.group(2).lower(), m.group(3)
        if op == "in":
            out.append(Filter(column, op, [v.strip() for v in value.strip("()").split(",")]))
        else:
            out.append(Filter(column, op, value))
    return out


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint=what)
        out[name] = value
    return out


def _receipt_line(receipt: Receipt) -> str:
    where = f"entry {receipt.entry_index}" if receipt.entry_index is not None else "not in ledger"
    cut = f", truncated: {receipt.truncation_reason}" if receipt.truncated else ""
    return (
        f"receipt {receipt.request_id}: {receipt.calls} call, {receipt.rows} rows, "
        f"{receipt.bytes} bytes, {receipt.amount_fen / 100:.2f} {receipt.currency_code} "
        f"({where}{cut})"
    )


def _save_receipt(receipt: Receipt, path: Path) -> None:
    import base64

    path.write_text(
        json.dumps(
            {
                "body": base64.b64encode(receipt.body).decode(),
                "signature": base64.b64encode(receipt.signature).decode(),
                "key_name": receipt.key_name,
                "key_id": receipt.key_id,
                "signer_region": receipt.signer_region,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


@click.group()
def data() -> None:
    """Read, look up and verify data under a licence (metered, with receipts)."""


@data.command("read")
@client_options
@click.argument("licence")
@click.option("--column", "columns", multiple=True, help="Column to read (default: all granted).")
@click.option("--where", multiple=True, help="Row filter 'COLUMN OP VALUE' (AND-ed).")
@click.option("--limit", type=int, default=0, help="Stop after this many rows.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the data to this .parquet or .csv file (default: print a table).",
)
@click.option("--receipt", "receipt_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--request-id", default=None, help="Reuse to retry without being metered again.")
def read_cmd(
    node: str,
    api_key: str,
    licence: str,
    columns: tuple[str, ...],
    where: tuple[str, ...],
    limit: int,
    out: Path | None,
    receipt_path: Path | None,
    request_id: str | None,
) -> None:
    """Bulk-read LICENCE's data."""
    from clients.sdk.access import write_table

    filters = _filters(where)
    with (
        open_client(node, api_key) as client,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TransferSpeedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("reading rows", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total if total >= 0 else None)

        result = client.access.read_result(
            licence,
            columns=columns,
            filters=filters,
            row_limit=limit,
            request_id=request_id,
            progress=on_progress,
        )
    table = result.table
    if out is not None:
        write_table(table, out)
        err_console.print(f"wrote {table.num_rows} rows to {out}")
    else:
        view = Table(*table.column_names, title=f"{table.num_rows} rows")
        for row in table.slice(0, 50).to_pylist():
            view.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(view)
    if receipt_path is not None:
        _save_receipt(result.receipt, receipt_path)
    err_console.print(_receipt_line(result.receipt), highlight=False)


@data.command("lookup")
@client_options
@click.argument("licence")
@click.argument("key", nargs=-1, required=True)
@click.option("--column", "columns", multiple=True)
@click.option("--request-id", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the row as JSON.")
def lookup_cmd(
    node: str,
    api_key: str,
    licence: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    request_id: str | None,
    as_json: bool,
) -> None:
    """Look up one record by its key fields (KEY is FIELD=VALUE, one per key field)."""
    with open_client(node, api_key) as client:
        result = client.access.lookup(
            licence, _pairs(key, "KEY"), columns=columns, request_id=request_id
        )
    rows = result.table.to_pylist() if result.table is not None else []
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=str) + "\n")
    elif not result.found:
        console.print("no record matches")
    else:
        view = Table("field", "value")
        for name, value in (rows[0] if rows else {}).items():
            view.add_row(name, "" if value is None else str(value))
        console.print(view)
    err_console.print(_receipt_line(result.receipt), highlight=False)


@data.command("verify")
@client_options
@click.argument("licence")
@click.argument("claim", nargs=-1, required=True)
@click.option("--request-id", default=None)
def verify_cmd(
    node: str, api_key: str, licence: str, claim: tuple[str, ...], request_id: str | None
) -> None:
    """Check a claim (FIELD=VALUE …, the key fields included) against the data.

    Prints VALID, INVALID or UNKNOWN; exits 0 only for VALID.
    """
    with open_client(node, api_key) as client:
        result = client.access.verify(licence, _pairs(claim, "CLAIM"), request_id=request_id)
    console.print(result.verdict)
    err_console.print(_receipt_line(result.receipt), highlight=False)
    if not result.valid:
        raise SystemExit(2)


@data.command("receipt")
@client_options
@click.argument("request_id")
@click.option("--verify", "check", is_flag=True, help="Check signature and ledger inclusion.")
@click.option("--vkey", default=None, help="The region's verifier key (default: ask the node).")
def receipt_cmd(node: str, api_key: str, request_id: str, check: bool, vkey: str | None) -> None:
    """Fetch the receipt of an earlier call, and optionally verify it."""
    from clients.sdk.access import verify_receipt_offline

    with open_client(node, api_key) as client:
        receipt = client.access.receipt(request_id)
        console.print(_receipt_line(receipt), highlight=False)
        if check:
            key = vkey or client.ledger.public_key()
            proof = client.access.prove_receipt(receipt, key)
            verify_receipt_offline(receipt, proof, key)
            console.print(
                f"verified: signed by {receipt.key_name}, entry {proof.index} included in "
                f"the checkpoint of size {proof.tree_size}"
            )


# --- usage ----------------------------------------------------------------------------------


@click.group()
def usage() -> None:
    """Usage metered by this node (providers: their products; consumers: their calls)."""


def _usage_filter(
    licence: str, product: str, consumer: str, period: str, rejected: bool
) -> dict[str, Any]:
    return {
        "licence": licence,
        "product": product,
        "consumer_party": consumer,
        "period": period,
        "rejected": rejected,
    }


_FILTER_OPTIONS = [
    click.option("--licence", default="", help="Only under this licence."),
    click.option("--product", default="", help="Only of this product."),
    click.option("--consumer", default="", help="Only by this consumer party."),
    click.option("--period", default="", help="Only in this period, e.g. 2026-11."),
    click.option("--rejected", is_flag=True, help="Include records that failed validation."),
]


def _filter_options(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_FILTER_OPTIONS):
        fn = option(fn)
    return fn


@usage.command("summary")
@client_options
@click.option(
    "--by",
    type=click.Choice(["licence", "product", "consumer", "day"]),
    default="product",
    show_default=True,
)
@_filter_options
@click.option("--json", "as_json", is_flag=True)
def summary_cmd(
    node: str,
    api_key: str,
    by: str,
    licence: str,
    product: str,
    consumer: str,
    period: str,
    rejected: bool,
    as_json: bool,
) -> None:
    """Totals of calls, rows, bytes and amount, grouped."""
    with open_client(node, api_key) as client:
        rows, total = client.access.summarize(
            by, **_usage_filter(licence, product, consumer, period, rejected)
        )
    if as_json:
        from google.protobuf.json_format import MessageToDict

        sys.stdout.write(
            json.dumps(
                {
                    "rows": [MessageToDict(r) for r in rows],
                    "total": MessageToDict(total),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    view = Table(by, "records", "free", "calls", "rows", "bytes", "amount (CNY)")
    for r in [*rows, total]:
        view.add_row(
            r.key or "[bold]total[/]",
            str(r.record_count),
            str(r.zero_priced_count),
            str(r.quantity.calls),
            str(r.quantity.rows),
            str(r.quantity.bytes),
            f"{r.amount.amount_fen / 100:.2f}",
        )
    console.print(view)


@usage.command("list")
@client_options
@_filter_options
@click.option("--limit", type=int, default=100, show_default=True)
def list_cmd(
    node: str,
    api_key: str,
    licence: str,
    product: str,
    consumer: str,
    period: str,
    rejected: bool,
    limit: int,
) -> None:
    """Usage records, oldest first."""
    view = Table("time", "record", "licence", "mode", "rows", "bytes", "amount", "entry", "status")
    with open_client(node, api_key) as client:
        for i, r in enumerate(
            client.access.usage_records(
                **_usage_filter(licence, product, consumer, period, rejected)
            )
        ):
            if i >= limit:
                break
            view.add_row(
                r.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
                r.name.rsplit("/", 1)[-1],
                r.subject.rsplit("/", 1)[-1],
                r.type.rsplit(".", 1)[-1],
                str(r.quantity.rows),
                str(r.quantity.bytes),
                f"{r.amount.amount_fen / 100:.2f}",
                str(r.ledger_entry.index) if r.HasField("ledger_entry") else "-",
                "rejected: " + r.rejection_reason if r.rejection_reason else "recorded",
            )
    console.print(view)
