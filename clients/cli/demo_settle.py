"""The end of the demo's day: batches, the period close, signed statements, netting
and reconciliation, through the finance offices' own nodes.

Each function is one step of ``bashu demo`` (see :mod:`clients.cli.demo_steps`).
They call the SettlementService and FederationService RPCs directly (the protos
are the contract), check every figure they show, and raise
:class:`~clients.cli.demo.StepUnavailable` when the node cannot do what the step
needs, naming why.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any, TypeVar

from bashu.federation.v1 import federation_pb2, federation_pb2_grpc
from bashu.ledger.v1 import record_pb2
from bashu.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from clients.cli._common import console
from clients.cli.demo import Demo, StepUnavailable
from clients.sdk.channel import ErrorTranslating
from clients.sdk.errors import FailedPreconditionError
from ledger.errors import LedgerError
from ledger.note import Verifier

__all__ = [
    "STATEMENT_CONTEXT",
    "close_period",
    "exchange_batches",
    "netting",
    "reconcile",
    "sign_statements",
]

STATEMENT_CONTEXT = b"bashu.exchange/statement/v1"
T = TypeVar("T")


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def settlement(demo: Demo, region: str) -> Any:
    """The region's finance office's SettlementService stub (typed errors)."""
    return ErrorTranslating(
        settlement_pb2_grpc.SettlementServiceStub(demo.client(f"{region}-finance").channel)
    )


def federation_status(demo: Demo, region: str) -> federation_pb2.GetFederationStatusResponse:
    stub = ErrorTranslating(
        federation_pb2_grpc.FederationServiceStub(demo.operator(region).channel)
    )
    response: federation_pb2.GetFederationStatusResponse = stub.GetFederationStatus(
        federation_pb2.GetFederationStatusRequest()
    )
    return response


def _wait(what: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def _cross_pairs(demo: Demo) -> set[tuple[str, str]]:
    """(provider region, consumer region) of every cross-region receipt of the day."""
    home = demo.licence_regions
    return {
        (region, home[r.licence])
        for region, r in demo.receipts
        if r.licence in home and home[r.licence] != region
    }


# -- batches ----------------------------------------------------------------------------------


BATCH_CONTEXT = b"bashu.exchange/usage-batch/v1"
COUNTERSIGNATURE_CONTEXT = b"bashu.exchange/usage-batch-countersignature/v1"


@dataclass
class SealedBatch:
    name: str
    provider: str
    consumer: str
    digest: bytes
    body: bytes
    provider_signature: bytes
    entries: set[int]
    records: int
    amount_fen: int
    countersignature: bytes = b""


def _ledger_records(demo: Demo, region: str) -> list[record_pb2.LedgerRecord]:
    return [
        record_pb2.LedgerRecord.FromString(e.data) for e in demo.operator(region).ledger.entries()
    ]


def _signed(demo: Demo, region: str, context: bytes, body: bytes, signature: bytes) -> bool:
    try:
        return bool(
            Verifier.from_vkey(demo.nodes[region].vkey).verify(context + b"\x00" + body, signature)
        )
    except LedgerError:
        return False


def _batches(demo: Demo, pairs: set[tuple[str, str]]) -> dict[str, SealedBatch]:
    """Every batch the providers sealed, with the consumers' countersignatures."""
    sealed: dict[str, SealedBatch] = {}
    for provider in sorted({p for p, _ in pairs}):
        for rec in _ledger_records(demo, provider):
            if rec.WhichOneof("payload") != "batch_sealed":
                continue
            batch = rec.batch_sealed.usage_batch
            body = federation_pb2.UsageBatchBody.FromString(batch.body)
            if body.provider_region != provider:
                continue  # a batch this region received
            sealed[body.name] = SealedBatch(
                body.name,
                provider,
                body.consumer_region,
                rec.batch_sealed.batch_digest,
                batch.body,
                batch.provider_signature.signature,
                {e.index for e in body.entries},
                body.record_count,
                body.total_amount.amount_fen,
            )
    for consumer in sorted({c for _, c in pairs}):
        for rec in _ledger_records(demo, consumer):
            if rec.WhichOneof("payload") != "batch_countersigned":
                continue
            cs = rec.batch_countersigned.countersignature
            if cs.batch in sealed and sealed[cs.batch].digest == cs.batch_digest:
                sealed[cs.batch].countersignature = cs.consumer_signature.signature
    return sealed


def exchange_batches(demo: Demo) -> None:
    from clients.cli.demo_steps import require_market

    require_market(demo)
    pairs = _cross_pairs(demo)
    if not pairs:
        raise StepUnavailable("no cross-region usage was metered to batch")
    console.print(
        "Each provider region seals its cross-region usage into signed batches (control\n"
        "totals, Merkle root); the consumer region checks each against its own records\n"
        "and countersigns. Read back from both ledgers, every relayed use of the day\n"
        "must be in a batch both regions signed."
    )
    used: dict[tuple[str, str], set[int]] = {p: set() for p in pairs}
    home = demo.licence_regions
    for region, receipt in demo.receipts:
        pair = (region, home.get(receipt.licence, region))
        if pair in used and receipt.entry_index is not None:
            used[pair].add(receipt.entry_index)

    def covered(batches: dict[str, SealedBatch]) -> bool:
        for pair, entries in used.items():
            done = set().union(
                *(
                    b.entries
                    for b in batches.values()
                    if (b.provider, b.consumer) == pair and b.countersignature
                )
            )
            if not entries <= done:
                return False
        # The providers must also have received the countersignatures (through their
        # outbox) before the period closes: each node computes its statement from
        # what it holds.
        countersigned = federation_pb2.BATCH_EXCHANGE_STATE_COUNTERSIGNED
        for provider in {p for p, _ in pairs}:
            sent = {
                peer.region: peer.last_batch_sent
                for peer in federation_status(demo, provider).peers
            }
            for p, consumer in pairs:
                latest = max(
                    (b for b in batches.values() if (b.provider, b.consumer) == (p, consumer)),
                    key=lambda b: int(b.name.rsplit("/", 1)[-1]),
                    default=None,
                )
                if p != provider or latest is None:
                    continue
                progress = sent.get(consumer)
                if progress is None or progress.batch != latest.name:
                    return False
                if progress.state != countersigned:
                    return False
        return True

    started = time.monotonic()
    batches = _wait(lambda: _batches(demo, pairs), covered, 90)
    waited = time.monotonic() - started
    table = demo.table(
        "provider → consumer",
        "batches",
        "records",
        "amount (CNY)",
        "countersigned",
        title="usage batches",
    )
    for provider, consumer in sorted(pairs):
        mine = [b for b in batches.values() if (b.provider, b.consumer) == (provider, consumer)]
        signed = [b for b in mine if b.countersignature]
        in_batches = set().union(*(b.entries for b in signed)) if signed else set()
        missing = used[(provider, consumer)] - in_batches
        sigs_ok = all(
            _signed(demo, provider, BATCH_CONTEXT, b.body, b.provider_signature)
            and _signed(demo, consumer, COUNTERSIGNATURE_CONTEXT, b.body, b.countersignature)
            for b in signed
        )
        table.add_row(
            f"{provider} → {consumer}",
            str(len(mine)),
            str(sum(b.records for b in mine)),
            _yuan(sum(b.amount_fen for b in mine)),
            f"{len(signed)}/{len(mine)}",
        )
        demo.checks.record(
            f"{provider} → {consumer}: every relayed use is in a batch countersigned by {consumer}",
            not missing and sigs_ok and bool(signed),
            f"{len(used[(provider, consumer)]) - len(missing)}/{len(used[(provider, consumer)])} "
            f"uses in {len(signed)} batches, both signatures verify"
            if sigs_ok
            else "a batch signature does not verify",
        )
    console.print(table)
    console.print(f"  (batches settled {waited:.1f}s after the last call)")


# -- the period -----------------------------------------------------------------------------


def _period_ending(demo: Demo, end: datetime) -> str:
    resp = settlement(demo, "sc").ListPeriods(
        settlement_pb2.ListPeriodsRequest(parent="regions/sc")
    )
    for period in resp.periods:
        if abs((period.time_range.end_time.ToDatetime(tzinfo=UTC) - end).total_seconds()) < 1:
            return str(period.name.rsplit("/", 1)[-1])
    # Not listed yet (periods are stored on first use): a fixed cadence names a
    # period after its start, to the minute.
    return (end - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H%M")


def _current_period(demo: Demo) -> str:
    """The period the day's usage falls in (the one containing now)."""
    resp = settlement(demo, "sc").ListPeriods(
        settlement_pb2.ListPeriodsRequest(parent="regions/sc")
    )
    now = datetime.now(UTC)
    for period in resp.periods:
        start = period.time_range.start_time.ToDatetime(tzinfo=UTC)
        end = period.time_range.end_time.ToDatetime(tzinfo=UTC)
        if start <= now < end:
            return str(period.name.rsplit("/", 1)[-1])
    return now.strftime("%Y-%m")


def close_period(demo: Demo) -> None:
    close_at = demo.facts.get("close_at")
    if isinstance(close_at, datetime):
        wait = (close_at - datetime.now(UTC)).total_seconds()
        if wait > 0:
            console.print(f"The day's settlement period ends in {wait:.0f} s; waiting …")
            time.sleep(wait + 0.5)
        period = _period_ending(demo, close_at)
    else:
        period = _current_period(demo)
    console.print(
        f"Each region's finance office closes period {period}: OPEN → CLOSING (grace\n"
        "window for late batches) → CLOSED, when the statements are computed."
    )
    table = demo.table("region", "period", "state", "closed by", "ledger entry")
    for region in demo.nodes:
        stub = settlement(demo, region)
        name = f"regions/{region}/periods/{period}"
        closed = _close(stub, name, period)
        table.add_row(
            region,
            period,
            settlement_pb2.PeriodState.Name(closed.state).removeprefix("PERIOD_STATE_"),
            closed.closer,
            str(closed.ledger_entry.index),
        )
        demo.checks.record(
            f"{region}: period {period} closed",
            closed.state == settlement_pb2.PERIOD_STATE_CLOSED,
            f"entry {closed.ledger_entry.index}",
        )
    console.print(table)
    if all(r.status == "held" for r in demo.checks.results if r.step == demo.checks.step):
        demo.facts["period"] = period


def _close(stub: Any, name: str, period: str) -> settlement_pb2.Period:
    """Close ``name`` to CLOSED from whatever state it is in: the node's scheduler
    may already have moved it (the demo's grace window is zero)."""
    for _ in range(3):
        got: settlement_pb2.Period = stub.GetPeriod(
            settlement_pb2.GetPeriodRequest(name=name)
        ).period
        if got.state == settlement_pb2.PERIOD_STATE_CLOSED:
            return got
        try:
            # OPEN -> CLOSING, then CLOSING -> CLOSED (grace window ended now).
            closed: settlement_pb2.Period = stub.ClosePeriod(
                settlement_pb2.ClosePeriodRequest(
                    name=name, end_grace_now=True, request_id=uuid.uuid4().hex
                )
            ).period
            if closed.state == settlement_pb2.PERIOD_STATE_CLOSED:
                return closed
        except FailedPreconditionError as exc:
            if exc.reason == "PERIOD_NOT_ENDED":
                end = got.time_range.end_time.ToDatetime(tzinfo=UTC)
                raise StepUnavailable(
                    f"period {period} ends {end:%Y-%m-%d %H:%M} UTC; today's usage "
                    "cannot be closed before then (see [settlement] in node.toml)"
                ) from None
            if exc.reason != "INVALID_STATE_TRANSITION":
                raise
            # The scheduler moved it meanwhile: look again.
    raise AssertionError(f"{name} did not reach CLOSED")


# -- statements -----------------------------------------------------------------------------


def _statement(demo: Demo, region: str, counterparty: str) -> settlement_pb2.Statement:
    period = demo.facts["period"]
    resp = settlement(demo, region).GetStatement(
        settlement_pb2.GetStatementRequest(
            name=f"regions/{region}/periods/{period}/statements/{counterparty}"
        )
    )
    statement: settlement_pb2.Statement = resp.statement
    return statement


def _signature_ok(demo: Demo, statement: settlement_pb2.Statement, region: str) -> bool:
    verifier = Verifier.from_vkey(demo.nodes[region].vkey)
    for sig in statement.signatures:
        if sig.signer_region != region:
            continue
        try:
            if sig.key_name == verifier.name and sig.key_id == verifier.key_id.hex():
                return bool(
                    verifier.verify(
                        STATEMENT_CONTEXT + b"\x00" + statement.content_body, sig.signature
                    )
                )
        except LedgerError:
            return False
    return False


def _wait_signed(demo: Demo, region: str, counterparty: str) -> settlement_pb2.Statement:
    return _wait(
        lambda: _statement(demo, region, counterparty),
        lambda s: s.state == settlement_pb2.STATEMENT_STATE_SIGNED,
        30,
    )


def sign_statements(demo: Demo) -> None:
    if "period" not in demo.facts:
        raise StepUnavailable("no closed period to sign statements for")
    console.print(
        "For every pair of regions, one finance office signs the statement it computed;\n"
        "the other node recomputes it from its own ledger and signs the same bytes only\n"
        "if they agree. Both signatures verify offline with the regions' keys."
    )
    signed = settlement_pb2.STATEMENT_STATE_SIGNED
    table = demo.table("pair", "records", "who owes whom (CNY)", "net", "state", "digest")
    statements: dict[tuple[str, str], settlement_pb2.Statement] = {}
    for a, b in combinations(sorted(demo.nodes), 2):
        first = _statement(demo, a, b)
        settlement(demo, a).SignStatement(
            settlement_pb2.SignStatementRequest(
                name=first.name, content_digest=first.content_digest, request_id=uuid.uuid4().hex
            )
        )
        mine = _wait_signed(demo, a, b)
        theirs = _wait_signed(demo, b, a)
        statements[(a, b)] = mine
        content = mine.content
        totals = "\n".join(
            f"{t.consumer_region} owes {t.provider_region} {_yuan(t.net_amount.amount_fen)}"
            for t in content.totals
        )
        net = (
            f"{content.net_payer_region} pays {content.net_payee_region} "
            f"{_yuan(content.net_amount.amount_fen)}"
            if content.net_payer_region
            else "nothing"
        )
        table.add_row(
            f"{a} ↔ {b}",
            str(content.record_count),
            totals or "—",
            net,
            settlement_pb2.StatementState.Name(mine.state).removeprefix("STATEMENT_STATE_"),
            mine.content_digest.hex()[:16] + "…",
        )
        demo.checks.record(
            f"{a} ↔ {b}: statement signed by both regions over the same bytes",
            mine.state == signed
            and theirs.state == signed
            and mine.content_digest == theirs.content_digest
            and _signature_ok(demo, mine, a)
            and _signature_ok(demo, mine, b),
            mine.refusal_reason or f"{len(mine.signatures)} signatures",
        )
        relayed = sum(
            1
            for region, r in demo.receipts
            if {region, demo.licence_regions.get(r.licence, region)} == {a, b}
        )
        demo.checks.record(
            f"{a} ↔ {b}: the statement covers every relayed use of the day",
            content.record_count == relayed,
            f"{content.record_count} records, {relayed} receipts",
        )
    demo.facts["statements"] = statements
    console.print(table)


# -- netting --------------------------------------------------------------------------------


def netting(demo: Demo) -> None:
    if "statements" not in demo.facts:
        raise StepUnavailable("no signed statements")
    console.print(
        "Three-region netting from the signed statements: each region pays or receives\n"
        "one amount (other pairs' statements are fetched from the peers and checked)."
    )
    period = demo.facts["period"]
    resp = settlement(demo, "sc").ComputeNetting(
        settlement_pb2.ComputeNettingRequest(
            parent="regions/sc",
            period=str(period),
            regions=sorted(demo.nodes),
            mode=settlement_pb2.NETTING_MODE_MULTILATERAL,
        )
    )
    n = resp.netting
    gross = demo.table("payer", "payee", "amount (CNY)", title="obligations from the statements")
    for o in n.gross_obligations:
        gross.add_row(o.payer_region, o.payee_region, _yuan(o.amount.amount_fen))
    positions = demo.table("region", "receivable", "payable", "net", title="positions")
    for p in n.positions:
        positions.add_row(
            p.region,
            _yuan(p.receivable.amount_fen),
            _yuan(p.payable.amount_fen),
            _yuan(p.net.amount_fen),
        )
    transfers = demo.table(
        "payer", "payee", "amount (CNY)", title="transfers that settle everything"
    )
    for t in n.transfers:
        transfers.add_row(t.payer_region, t.payee_region, _yuan(t.amount.amount_fen))
    console.print(gross, positions, transfers)
    demo.facts["netting"] = n
    gross_total = sum(o.amount.amount_fen for o in n.gross_obligations)
    moved = sum(t.amount.amount_fen for t in n.transfers)
    demo.checks.record(
        "three-region netting is conserved and uses only signed statements",
        n.conserved and n.all_statements_signed and sum(p.net.amount_fen for p in n.positions) == 0,
        f"{_yuan(gross_total)} CNY of obligations settled by {len(n.transfers)} "
        f"transfers of {_yuan(moved)} CNY",
    )


# -- reconciliation -------------------------------------------------------------------------


def reconcile(demo: Demo) -> None:
    if "period" not in demo.facts:
        raise StepUnavailable("no closed period to reconcile")
    console.print(
        "Finance compares its ledger with each counterparty's, record by record where\n"
        "totals differ; the report is appended to the ledger."
    )
    period = str(demo.facts["period"])
    table = demo.table(
        "region", "with", "matched", "mismatched", "ours only", "theirs only", "entry"
    )
    reports: list[settlement_pb2.ReconciliationReport] = []
    for a, b in combinations(sorted(demo.nodes), 2):
        report = (
            settlement(demo, a)
            .Reconcile(
                settlement_pb2.ReconcileRequest(
                    period=f"regions/{a}/periods/{period}",
                    counterparty=b,
                    request_id=uuid.uuid4().hex,
                ),
                timeout=60,
            )
            .report
        )
        c = report.record_counts
        table.add_row(
            a,
            b,
            str(c.matched),
            str(c.mismatched),
            str(c.ours_only),
            str(c.theirs_only),
            str(report.ledger_entry.index),
        )
        demo.checks.record(
            f"{a} ↔ {b}: reconciliation finds zero differences",
            report.discrepancy_count == 0
            and c.mismatched == 0
            and c.ours_only == 0
            and c.theirs_only == 0
            and all(t.passed for t in report.tiers),
            f"{c.matched} records matched, {report.discrepancy_count} discrepancies",
        )
        reports.append(report)
    demo.facts["reconciliations"] = reports
    console.print(table)
