"""``bashu dispute …``: disputes between two regions' finance, decided by an operator.

A dispute moves RAISED → EVIDENCE → RESPONDED → DECIDED; its amount is held out of
the statement's net and of netting until it is decided, and the decision is posted
as an adjustment in the current open period. Entries are cited as
``REGION:INDEX:LEAFHEX`` (any region's ledger) or ``INDEX`` (this node's ledger; the
leaf hash is read from the node).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from clients.cli._common import console
from clients.cli.product import client_options, enum_name, open_client, print_json, when
from clients.cli.settle import _period_arg, working, yuan

if TYPE_CHECKING:
    from bashu.common.v1 import common_pb2
    from bashu.settlement.v1 import settlement_pb2

    from clients.sdk.client import Client

__all__ = ["dispute"]

_OUTCOMES = {"upheld": 1, "rejected": 2, "partial": 3}


def _entries(client: Client, items: tuple[str, ...]) -> list[common_pb2.EntryRef]:
    from bashu.common.v1 import common_pb2

    out = []
    for item in items:
        parts = item.split(":")
        try:
            if len(parts) == 1:
                index = int(parts[0])
                got = client.ledger.get_entry(index)
                out.append(
                    common_pb2.EntryRef(
                        origin=f"bashu.exchange/log/{client.settlement.region}",
                        index=index,
                        leaf_hash=got.leaf_hash,
                    )
                )
                continue
            region, index_text, leaf = parts
            leaf_hash = bytes.fromhex(leaf)
            if len(leaf_hash) != 32:
                raise ValueError("leaf hash")
            out.append(
                common_pb2.EntryRef(
                    origin=f"bashu.exchange/log/{region}",
                    index=int(index_text),
                    leaf_hash=leaf_hash,
                )
            )
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is not INDEX or REGION:INDEX:LEAFHEX (64 hex digits)",
                param_hint="--entry",
            ) from None
    return out


def _evidence(
    files: tuple[Path, ...], description: str, entries: list[common_pb2.EntryRef]
) -> list[settlement_pb2.Evidence]:
    from bashu.settlement.v1 import settlement_pb2

    out = []
    for path in files:
        data = path.read_bytes()
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        out.append(
            settlement_pb2.Evidence(
                description=description or path.name, media_type=media, content=data
            )
        )
    if entries and not out:
        out.append(settlement_pb2.Evidence(description=description or "ledger entries"))
    if entries:
        out[0].entries.extend(entries)
    return out


def _show(d: settlement_pb2.Dispute) -> None:
    from bashu.settlement.v1 import settlement_pb2

    console.print(f"dispute {d.name}", highlight=False)
    console.print(
        f"  {enum_name(settlement_pb2.DisputeState, 'DISPUTE_STATE_', d.state)}: "
        f"{d.provider_region}>{d.consumer_region} {yuan(d.disputed_amount.amount_fen)} CNY "
        f"({d.reason_code}), period {d.period.rsplit('/', 1)[-1]}",
        highlight=False,
    )
    console.print(
        f"  deadlines: evidence {when(d.evidence_deadline)}, response "
        f"{when(d.response_deadline)}, decision {when(d.decision_deadline)}",
        highlight=False,
    )
    history = Table("time", "step", "by", "text", "evidence")
    for e in d.events:
        history.add_row(
            when(e.time),
            enum_name(settlement_pb2.DisputeEventKind, "DISPUTE_EVENT_KIND_", e.kind),
            e.actor or e.actor_region,
            e.text[:80],
            str(len(e.evidence)),
        )
    console.print(history)
    if d.HasField("decision"):
        console.print(
            "  decision: "
            f"{enum_name(settlement_pb2.DisputeOutcome, 'DISPUTE_OUTCOME_', d.decision.outcome)}"
            f", awarded {yuan(d.decision.awarded_amount.amount_fen)} CNY, posted as "
            f"{d.decision.adjustment}",
            highlight=False,
        )


@click.group()
def dispute() -> None:
    """Raise, answer and decide disputes over a period's amounts."""


@dispute.command("raise")
@client_options
@click.argument("period", callback=lambda _c, _p, v: _period_arg(v))
@click.option("--provider", "provider_region", required=True, help="Region that is owed.")
@click.option("--consumer", "consumer_region", required=True, help="Region that owes.")
@click.option("--amount", "amount_fen", type=click.IntRange(min=1), required=True, help="Fen.")
@click.option("--reason-code", required=True, help="UPPER_SNAKE, e.g. DUPLICATE_RECORD.")
@click.option("--description", required=True)
@click.option("--entry", "entries", multiple=True, help="Entry disputed (repeatable).")
@click.option(
    "--evidence",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evidence document (≤ 1 MiB; repeatable).",
)
@click.option("--json", "as_json", is_flag=True)
def raise_cmd(
    node: str,
    api_key: str,
    period: str,
    provider_region: str,
    consumer_region: str,
    amount_fen: int,
    reason_code: str,
    description: str,
    entries: tuple[str, ...],
    files: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Raise a dispute over PERIOD with the other region."""
    with open_client(node, api_key) as client:
        cited = _entries(client, entries)
        d = client.settlement.raise_dispute(
            period,
            provider_region=provider_region,
            consumer_region=consumer_region,
            amount_fen=amount_fen,
            reason_code=reason_code,
            description=description,
            entries=cited,
            evidence=_evidence(files, "", []),
        )
    if as_json:
        print_json([d])
    else:
        _show(d)


@dispute.command("evidence")
@client_options
@click.argument("name")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--entry", "entries", multiple=True, help="Entry cited (repeatable).")
@click.option("--description", default="", help="What the evidence shows.")
@click.option("--comment", default="")
def evidence_cmd(
    node: str,
    api_key: str,
    name: str,
    files: tuple[Path, ...],
    entries: tuple[str, ...],
    description: str,
    comment: str,
) -> None:
    """Add evidence (documents and/or ledger entries) to dispute NAME."""
    if not files and not entries:
        raise click.UsageError("give at least one --file or --entry")
    with open_client(node, api_key) as client:
        evidence = _evidence(files, description, _entries(client, entries))
        d = client.settlement.add_evidence(name, evidence, comment=comment)
    _show(d)


@dispute.command("respond")
@client_options
@click.argument("name")
@click.option("--response", required=True, help="The response text.")
@click.option("--concede", "conceded_fen", type=click.IntRange(min=0), default=0, help="Fen.")
def respond_cmd(node: str, api_key: str, name: str, response: str, conceded_fen: int) -> None:
    """Respond to dispute NAME raised against this region."""
    with open_client(node, api_key) as client:
        d = client.settlement.respond(name, response, conceded_fen=conceded_fen)
    _show(d)


@dispute.command("decide")
@client_options
@click.argument("name")
@click.option("--outcome", type=click.Choice(sorted(_OUTCOMES)), required=True)
@click.option("--awarded", "awarded_fen", type=click.IntRange(min=0), default=None, help="Fen.")
@click.option("--rationale", required=True)
def decide_cmd(
    node: str, api_key: str, name: str, outcome: str, awarded_fen: int | None, rationale: str
) -> None:
    """Record the decision on dispute NAME (operators) and post it as an adjustment."""
    with open_client(node, api_key) as client, working("posting the decision"):
        if awarded_fen is None:
            if outcome == "partial":
                raise click.BadParameter(
                    "a partial decision needs --awarded", param_hint="--awarded"
                )
            current = client.settlement.dispute(name)
            awarded_fen = current.disputed_amount.amount_fen if outcome == "upheld" else 0
        decided = client.settlement.decide(name, _OUTCOMES[outcome], awarded_fen, rationale)
    _show(decided.dispute)
    a = decided.adjustment
    console.print(
        f"adjustment {a.name}: {yuan(a.amount_delta.amount_fen)} CNY in period {a.period}",
        highlight=False,
    )


@dispute.command("show")
@client_options
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def show_cmd(node: str, api_key: str, name: str, as_json: bool) -> None:
    """Show dispute NAME with its history."""
    with open_client(node, api_key) as client:
        d = client.settlement.dispute(name)
    if as_json:
        print_json([d])
    else:
        _show(d)


@dispute.command("list")
@client_options
@click.option("--period", default="")
@click.option("--counterparty", default="")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["raised", "evidence", "responded", "decided"]),
)
def list_cmd(
    node: str, api_key: str, period: str, counterparty: str, states: tuple[str, ...]
) -> None:
    """List disputes of this region (raised here or against it), newest first."""
    from bashu.settlement.v1 import settlement_pb2

    wanted = [f"DISPUTE_STATE_{s.upper()}" for s in states]
    with open_client(node, api_key) as client:
        found = list(
            client.settlement.disputes(
                raised_by=client.settlement.region,
                states=wanted,
                counterparty=counterparty,
                period=period,
            )
        )
    view = Table("state", "direction", "amount (CNY)", "period", "raised")
    view.add_column("dispute", no_wrap=True)
    for d in found:
        view.add_row(
            enum_name(settlement_pb2.DisputeState, "DISPUTE_STATE_", d.state),
            f"{d.provider_region}>{d.consumer_region}",
            yuan(d.disputed_amount.amount_fen),
            d.period.rsplit("/", 1)[-1],
            when(d.create_time),
            d.name,
        )
    console.print(view)
