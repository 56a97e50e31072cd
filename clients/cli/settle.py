"""``bashu settle …``: finance closes periods, reviews and signs statements, nets.

Amounts are shown in yuan (the node works in integer fen). ``statement`` prints the
statement as tables with its content digest, which ``sign --digest`` must repeat
(the node refuses to sign content that changed since it was reviewed); ``net``
prints the computation step by step. Long work shows a progress display on a
terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from clients.cli._common import console, err_console, fail
from clients.cli.product import client_options, enum_name, open_client, print_json, when

if TYPE_CHECKING:
    from bashu.settlement.v1 import settlement_pb2

__all__ = ["settle", "yuan"]


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d}"


@contextmanager
def working(description: str) -> Iterator[Any]:
    """A spinner with elapsed time on stderr while the node works (terminals only)."""
    with Progress(
        SpinnerColumn(),
        "[progress.description]{task.description}",
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=None)

        class _Step:
            def update(self, text: str) -> None:
                progress.update(task, description=text)

        yield _Step()


def _period_arg(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(\d{2}|W\d{2}|\d{2}-\d{2}(T\d{4})?)", value):
        raise click.BadParameter(
            f"{value!r} is not a period id such as 2026-11", param_hint="PERIOD"
        )
    return value


def _digest_arg(value: str) -> bytes:
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise click.BadParameter(
            "must be 64 hex digits (the content digest)", param_hint="--digest"
        )
    return digest


def _state(value: int) -> str:
    from bashu.settlement.v1 import settlement_pb2

    return enum_name(settlement_pb2.StatementState, "STATEMENT_STATE_", value)


@click.group()
def settle() -> None:
    """Close settlement periods, check and sign statements, net what regions owe."""


@settle.command("periods")
@client_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def periods_cmd(node: str, api_key: str, as_json: bool) -> None:
    """List the region's periods, newest first."""
    from bashu.settlement.v1 import settlement_pb2

    with open_client(node, api_key) as client:
        found = list(client.settlement.periods())
    if as_json:
        print_json(found)
        return
    view = Table("period", "state", "start", "end", "closed", "late records")
    for p in found:
        view.add_row(
            p.name.rsplit("/", 1)[-1],
            enum_name(settlement_pb2.PeriodState, "PERIOD_STATE_", p.state),
            when(p.time_range.start_time),
            when(p.time_range.end_time),
            when(p.close_time),
            str(p.late_record_count),
        )
    console.print(view)


@settle.command("close")
@client_options
@click.argument("period", callback=lambda _c, _p, v: _period_arg(v))
@click.option(
    "--now", "end_grace_now", is_flag=True, help="Close at once (end the grace window now)."
)
def close_cmd(node: str, api_key: str, period: str, end_grace_now: bool) -> None:
    """Close PERIOD: OPEN → CLOSING (grace window), with --now on to CLOSED."""
    from bashu.settlement.v1 import settlement_pb2

    with open_client(node, api_key) as client, working(f"closing {period}") as step:
        p = client.settlement.period(period)
        if p.state == settlement_pb2.PERIOD_STATE_OPEN:
            p = client.settlement.close_period(period)
        elif not end_grace_now:
            fail(
                f"period {period} is already "
                f"{enum_name(settlement_pb2.PeriodState, 'PERIOD_STATE_', p.state)}"
            )
        if end_grace_now and p.state == settlement_pb2.PERIOD_STATE_CLOSING:
            step.update(f"closing {period} and computing statements")
            p = client.settlement.close_period(period, end_grace_now=True)
    state = enum_name(settlement_pb2.PeriodState, "PERIOD_STATE_", p.state)
    extra = f", grace window ends {when(p.grace_end_time)}" if p.state == 2 else ""
    console.print(f"period {period}: {state}{extra}")


def statement_tables(st: settlement_pb2.Statement) -> list[Table]:
    """The statement as tables: lines, adjustments, holds, totals."""
    c = st.content
    lines = Table(
        "#", "direction", "product", "tariff", "purpose", "records", "free", "late",
        "rows", "gross (CNY)", "residue (fen)",
        title=f"statement {c.period} {' ⇄ '.join(c.regions)}",
    )  # fmt: skip
    from bashu.common.v1 import common_pb2

    for i, ln in enumerate(c.lines):
        lines.add_row(
            str(i),
            f"{ln.provider_region}>{ln.consumer_region}",
            ln.product,
            ln.tariff.rsplit("/", 1)[-1] if ln.tariff else "",
            enum_name(common_pb2.PurposeClass, "PURPOSE_CLASS_", ln.purpose_class),
            str(ln.record_count),
            str(ln.zero_priced_count),
            str(ln.late_record_count),
            str(ln.quantity.rows),
            yuan(ln.gross_amount.amount_fen),
            ln.rounding_residue_fen or "0",
        )
    out = [lines]
    if c.adjustments:
        from bashu.settlement.v1 import settlement_pb2 as s

        adj = Table("adjustment", "kind", "direction", "amount (CNY)", "entry", "corrects")
        for a in c.adjustments:
            adj.add_row(
                a.adjustment,
                enum_name(s.AdjustmentKind, "ADJUSTMENT_KIND_", a.kind),
                f"{a.provider_region}>{a.consumer_region}",
                yuan(a.amount_delta.amount_fen),
                f"{a.entry.origin.rsplit('/', 1)[-1]}#{a.entry.index}",
                f"{a.corrects.origin.rsplit('/', 1)[-1]}#{a.corrects.index}"
                if a.HasField("corrects")
                else "",
            )
        out.append(adj)
    if c.disputed:
        held = Table("dispute (held out)", "direction", "amount (CNY)")
        for h in c.disputed:
            held.add_row(
                h.dispute, f"{h.provider_region}>{h.consumer_region}", yuan(h.amount.amount_fen)
            )
        out.append(held)
    totals = Table("direction", "records", "free", "gross", "adjustments", "disputed", "net")
    for t in c.totals:
        totals.add_row(
            f"{t.provider_region}>{t.consumer_region}",
            str(t.record_count),
            str(t.zero_priced_count),
            yuan(t.gross_amount.amount_fen),
            yuan(t.adjustment_amount.amount_fen),
            yuan(t.disputed_amount.amount_fen),
            yuan(t.net_amount.amount_fen),
        )
    out.append(totals)
    return out


@settle.command("statement")
@client_options
@click.argument("period", callback=lambda _c, _p, v: _period_arg(v))
@click.option("--counterparty", required=True, help="The other region, e.g. cq.")
@click.option("--json", "as_json", is_flag=True, help="Print the statement as JSON.")
@click.option(
    "--key",
    "keys",
    multiple=True,
    help="REGION=VERIFIER_KEY to check that region's signature (repeatable).",
)
def statement_cmd(
    node: str, api_key: str, period: str, counterparty: str, as_json: bool, keys: tuple[str, ...]
) -> None:
    """Show the statement of PERIOD with COUNTERPARTY (lines, totals, net, digest)."""
    from clients.sdk.settlement import verify_statement_signatures

    vkeys: dict[str, list[str]] = {}
    for item in keys:
        region, sep, vkey = item.partition("=")
        if not sep or not region or not vkey:
            raise click.BadParameter(f"{item!r} is not REGION=KEY", param_hint="--key")
        vkeys.setdefault(region, []).append(vkey)
    with open_client(node, api_key) as client, working(f"computing {period}"):
        st = client.settlement.statement(period, counterparty)
    if as_json:
        print_json([st])
        return
    for table in statement_tables(st):
        console.print(table)
    c = st.content
    if c.net_amount.amount_fen:
        console.print(
            f"net: {c.net_payer_region} pays {c.net_payee_region} "
            f"{yuan(c.net_amount.amount_fen)} CNY"
        )
    else:
        console.print("net: 0.00 (the directions cancel)")
    console.print(f"rounding residue (fen, informational): {c.rounding_residue_fen or '0'}")
    console.print(f"batches covered: {len(c.batches)}, checkpoints cited: {len(c.checkpoints)}")
    console.print(
        f"state: {_state(st.state)}  signed by: "
        f"{', '.join(s.signer_region for s in st.signatures) or 'nobody'}"
    )
    if st.refusal_reason:
        console.print(f"refused: {st.refusal_reason}")
    console.print(f"content digest: {st.content_digest.hex()}")
    if vkeys:
        good = verify_statement_signatures(st, vkeys)
        console.print(f"signatures verified: {', '.join(good) or 'none'}")


@settle.command("sign")
@client_options
@click.argument("period", callback=lambda _c, _p, v: _period_arg(v))
@click.option("--counterparty", required=True, help="The other region, e.g. cq.")
@click.option("--digest", required=True, help="The content digest you reviewed (hex).")
@click.option(
    "--wait", type=float, default=0.0, help="Seconds to wait for the counterparty's answer."
)
def sign_cmd(
    node: str, api_key: str, period: str, counterparty: str, digest: str, wait: float
) -> None:
    """Sign the statement and send it to the counterparty for its signature."""
    reviewed = _digest_arg(digest)
    with open_client(node, api_key) as client, working("signing") as step:
        st = client.settlement.sign(period, counterparty, reviewed)
        deadline = time.monotonic() + wait
        while st.state == 2 and time.monotonic() < deadline:
            step.update(f"waiting for {counterparty}'s signature")
            time.sleep(0.5)
            st = client.settlement.statement(period, counterparty)
    console.print(
        f"statement {period} with {counterparty}: {_state(st.state)} "
        f"(signed by {', '.join(s.signer_region for s in st.signatures)})"
    )
    if st.refusal_reason:
        console.print(f"refused: {st.refusal_reason}")


@settle.command("net")
@client_options
@click.argument("period", callback=lambda _c, _p, v: _period_arg(v))
@click.option("--region", "regions", multiple=True, help="Region to net (repeat; default: all).")
@click.option(
    "--mode",
    type=click.Choice(["auto", "bilateral", "multilateral"]),
    default="auto",
    show_default=True,
)
@click.option("--preview", is_flag=True, help="Use statements not yet signed by both regions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def net_cmd(
    node: str,
    api_key: str,
    period: str,
    regions: tuple[str, ...],
    mode: str,
    preview: bool,
    as_json: bool,
) -> None:
    """Net PERIOD's statements and show the computation step by step."""
    number = {"auto": 0, "bilateral": 1, "multilateral": 2}[mode]
    with open_client(node, api_key) as client, working("fetching statements and netting"):
        n = client.settlement.net(period, list(regions), mode=number, allow_unsigned=preview)
    if as_json:
        print_json([n])
        return
    for step in n.steps:
        head, *rest = step.description.split("\n")
        console.print(f"{step.step}. {head}", highlight=False)
        for line in rest:
            console.print(f"     {line}", highlight=False)
        for o in step.obligations:
            console.print(f"     {o.payer_region} → {o.payee_region}: {yuan(o.amount.amount_fen)}")
        for p in step.positions:
            console.print(
                f"     {p.region}: receivable {yuan(p.receivable.amount_fen)}, payable "
                f"{yuan(p.payable.amount_fen)}, net {yuan(p.net.amount_fen)}"
            )
    view = Table("payer", "payee", "amount (CNY)", title="transfers")
    for t in n.transfers:
        view.add_row(t.payer_region, t.payee_region, yuan(t.amount.amount_fen))
    console.print(view)
    console.print(
        f"conserved: {'yes' if n.conserved else 'NO'}; "
        f"all statements signed: {'yes' if n.all_statements_signed else 'no (preview)'}"
    )
