"""Reports for finance and providers: a period statement as CSV, JSON and HTML.

Everything here renders; nothing computes a figure that the statement does not
already hold, so a report can never disagree with what was signed. Only the
standard library and pyarrow are used, and the HTML is one self-contained file (an
inline stylesheet and an inline SVG chart; no script, no external resource), so it
can be mailed, archived and opened offline::

    text = statement_csv(statement)
    doc = statement_json(statement)                     # canonical: sorted keys
    page = statement_html(statement, daily=daily_usage(usage), region="sc")
    rows = revenue_by_licence(usage, provider_region="sc")
    provider_csv = revenue_csv(rows)

Amounts are printed both in fen (the exact integer that was signed) and in yuan
(for reading). The HTML ends with "How to verify each figure": how a line is traced
to the ledger entries behind it and how each entry's inclusion is checked with
``bashu ledger prove`` or offline.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from services.settlement.money import format_fen, format_yuan
from services.settlement.netting import Netting
from services.settlement.reconcile import ReconciliationReport
from services.settlement.statement import Statement, StatementContent
from services.settlement.usage import UsageTable, safe_sum_type

__all__ = [
    "DailyUsage",
    "ReportSection",
    "RevenueRow",
    "daily_usage",
    "discrepancies_csv",
    "revenue_by_licence",
    "revenue_csv",
    "statement_csv",
    "statement_html",
    "statement_json",
    "statement_to_dict",
    "table_report_html",
    "usage_chart_svg",
]

CSV_COLUMNS = (
    "section",
    "provider_region",
    "consumer_region",
    "product",
    "tariff",
    "purpose_class",
    "record_count",
    "zero_priced_count",
    "late_record_count",
    "calls",
    "rows",
    "bytes",
    "amount_fen",
    "amount_yuan",
    "rounding_residue_fen",
    "reference",
    "entry",
    "corrects",
    "entries_root",
)


def _content(statement: Statement | StatementContent) -> StatementContent:
    return statement.content if isinstance(statement, Statement) else statement


# --- CSV ----------------------------------------------------------------------------


def statement_csv(statement: Statement | StatementContent) -> str:
    """One CSV table, a ``section`` column telling lines, adjustments, disputed
    amounts, direction totals and the net apart (amounts signed, in fen and yuan)."""
    c = _content(statement)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for ln in c.lines:
        writer.writerow(
            {
                "section": "line",
                "provider_region": ln.provider_region,
                "consumer_region": ln.consumer_region,
                "product": ln.product,
                "tariff": ln.tariff,
                "purpose_class": ln.purpose_class.name,
                "record_count": ln.record_count,
                "zero_priced_count": ln.zero_priced_count,
                "late_record_count": ln.late_record_count,
                "calls": ln.quantity.calls,
                "rows": ln.quantity.rows,
                "bytes": ln.quantity.bytes,
                "amount_fen": ln.gross_fen,
                "amount_yuan": format_yuan(ln.gross_fen),
                "rounding_residue_fen": format_fen(ln.rounding_residue_fen),
                "entries_root": ln.entries_root.hex(),
            }
        )
    for adj in c.adjustments:
        writer.writerow(
            {
                "section": f"adjustment:{adj.kind.name.lower()}",
                "provider_region": adj.provider_region,
                "consumer_region": adj.consumer_region,
                "amount_fen": adj.amount_delta_fen,
                "amount_yuan": format_yuan(adj.amount_delta_fen),
                "rounding_residue_fen": format_fen(adj.residue_fen),
                "reference": adj.adjustment,
                "entry": str(adj.entry),
                "corrects": "" if adj.corrects is None else str(adj.corrects),
            }
        )
    for hold in c.disputed:
        writer.writerow(
            {
                "section": "disputed",
                "provider_region": hold.provider_region,
                "consumer_region": hold.consumer_region,
                "amount_fen": -hold.amount_fen,
                "amount_yuan": format_yuan(-hold.amount_fen),
                "reference": hold.dispute,
            }
        )
    for t in c.totals:
        writer.writerow(
            {
                "section": "total",
                "provider_region": t.provider_region,
                "consumer_region": t.consumer_region,
                "record_count": t.record_count,
                "zero_priced_count": t.zero_priced_count,
                "calls": t.quantity.calls,
                "rows": t.quantity.rows,
                "bytes": t.quantity.bytes,
                "amount_fen": t.net_fen,
                "amount_yuan": format_yuan(t.net_fen),
                "reference": (
                    f"gross {t.gross_fen} + adjustments {t.adjustment_fen}"
                    f" - disputed {t.disputed_fen}"
                ),
            }
        )
    writer.writerow(
        {
            "section": "net",
            "provider_region": c.net_payee_region,
            "consumer_region": c.net_payer_region,
            "record_count": c.record_count,
            "amount_fen": c.net_fen,
            "amount_yuan": format_yuan(c.net_fen),
            "rounding_residue_fen": format_fen(c.rounding_residue_fen),
            "reference": f"content digest {c.digest.hex()}",
        }
    )
    return out.getvalue()


# --- JSON ---------------------------------------------------------------------------


def statement_to_dict(statement: Statement | StatementContent) -> dict[str, Any]:
    """The statement as plain JSON-able data (amounts as integers of fen, hashes hex)."""
    c = _content(statement)
    doc: dict[str, Any] = {
        "period": c.period,
        "period_start": c.period_start.isoformat(),
        "period_end": c.period_end.isoformat(),
        "regions": list(c.regions),
        "currency": c.currency,
        "lines": [
            {
                "provider_region": ln.provider_region,
                "consumer_region": ln.consumer_region,
                "product": ln.product,
                "tariff": ln.tariff,
                "purpose_class": ln.purpose_class.name,
                "record_count": ln.record_count,
                "zero_priced_count": ln.zero_priced_count,
                "late_record_count": ln.late_record_count,
                "quantity": {
                    "calls": ln.quantity.calls,
                    "rows": ln.quantity.rows,
                    "bytes": ln.quantity.bytes,
                },
                "gross_fen": ln.gross_fen,
                "rounding_residue_fen": format_fen(ln.rounding_residue_fen),
                "entries_root": ln.entries_root.hex(),
            }
            for ln in c.lines
        ],
        "adjustments": [
            {
                "adjustment": a.adjustment,
                "kind": a.kind.name,
                "provider_region": a.provider_region,
                "consumer_region": a.consumer_region,
                "amount_delta_fen": a.amount_delta_fen,
                "entry": _entry(a.entry),
                "corrects": None if a.corrects is None else _entry(a.corrects),
                "residue_fen": format_fen(a.residue_fen),
            }
            for a in c.adjustments
        ],
        "disputed": [
            {
                "dispute": h.dispute,
                "provider_region": h.provider_region,
                "consumer_region": h.consumer_region,
                "amount_fen": h.amount_fen,
            }
            for h in c.disputed
        ],
        "totals": [
            {
                "provider_region": t.provider_region,
                "consumer_region": t.consumer_region,
                "record_count": t.record_count,
                "zero_priced_count": t.zero_priced_count,
                "quantity": {
                    "calls": t.quantity.calls,
                    "rows": t.quantity.rows,
                    "bytes": t.quantity.bytes,
                },
                "gross_fen": t.gross_fen,
                "adjustment_fen": t.adjustment_fen,
                "disputed_fen": t.disputed_fen,
                "net_fen": t.net_fen,
            }
            for t in c.totals
        ],
        "net_payer_region": c.net_payer_region,
        "net_payee_region": c.net_payee_region,
        "net_fen": c.net_fen,
        "rounding_residue_fen": format_fen(c.rounding_residue_fen),
        "record_count": c.record_count,
        "batches": [
            {
                "batch": b.batch,
                "provider_region": b.provider_region,
                "consumer_region": b.consumer_region,
                "sequence": b.sequence,
                "record_count": b.record_count,
                "amount_fen": b.amount_fen,
                "merkle_root": b.merkle_root.hex(),
                "batch_digest": b.batch_digest.hex(),
                "provider_entry": None if b.provider_entry is None else _entry(b.provider_entry),
                "consumer_entry": None if b.consumer_entry is None else _entry(b.consumer_entry),
            }
            for b in c.batches
        ],
        "checkpoints": [
            {"origin": cp.origin, "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex()}
            for cp in c.checkpoints
        ],
        "content_digest": c.digest.hex(),
    }
    if isinstance(statement, Statement):
        doc["state"] = statement.state.name
        doc["signatures"] = [
            {
                "signer_region": s.signer_region,
                "key_name": s.key_name,
                "key_id": s.key_id,
                "signature": s.signature.hex(),
            }
            for s in statement.signatures
        ]
    return doc


def _entry(e: Any) -> dict[str, Any]:
    return {"origin": e.origin, "index": e.index, "leaf_hash": e.leaf_hash.hex()}


def statement_json(statement: Statement | StatementContent) -> str:
    """Canonical JSON (sorted keys, two-space indent, UTF-8 text, trailing newline)."""
    return (
        json.dumps(statement_to_dict(statement), sort_keys=True, indent=2, ensure_ascii=False)
        + "\n"
    )


# --- usage over the period ----------------------------------------------------------


@dataclass(frozen=True)
class DailyUsage:
    """Usage of one UTC day: records, zero-priced records, amount."""

    day: date
    record_count: int
    zero_priced_count: int
    amount_fen: int


def daily_usage(usage: UsageTable) -> tuple[DailyUsage, ...]:
    """Per UTC day totals of ``usage`` (for the chart), sorted by day."""
    t = usage.table
    if t.num_rows == 0:
        return ()
    amount = t.column("amount_fen")
    data = pa.table(
        {
            "day": pc.cast(t.column("event_time"), pa.date32()),
            "amount": pc.cast(amount, safe_sum_type(amount)),
            "zero": pc.cast(pc.equal(amount, 0), pa.int64()),
        }
    )
    grouped = data.group_by("day").aggregate(
        [("amount", "count"), ("amount", "sum"), ("zero", "sum")]
    )
    rows = sorted(grouped.to_pylist(), key=lambda r: r["day"])
    return tuple(
        DailyUsage(r["day"], r["amount_count"], r["zero_sum"], int(r["amount_sum"])) for r in rows
    )


def usage_chart_svg(daily: Sequence[DailyUsage], *, width: int = 760, height: int = 260) -> str:
    """An inline SVG bar chart: amount per day (bars, left axis) and records per day
    (line, right axis). Self-contained; each bar has a tooltip with exact figures."""
    left, right, top, bottom = 70, 60, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Usage over the period">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    if not daily:
        parts.append(
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle">no usage</text></svg>'
        )
        return "".join(parts)
    max_amount = max(max(d.amount_fen for d in daily), 1)
    max_records = max(max(d.record_count for d in daily), 1)
    step = plot_w / len(daily)
    bar = max(step * 0.7, 1.0)
    points = []
    for i, d in enumerate(daily):
        x = left + i * step + (step - bar) / 2
        h = plot_h * d.amount_fen / max_amount
        y = top + plot_h - h
        tip = html.escape(
            f"{d.day.isoformat()}: {format_yuan(d.amount_fen)} yuan ({d.amount_fen} fen), "
            f"{d.record_count} records, {d.zero_priced_count} zero-priced"
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="#4a78b5">'
            f"<title>{tip}</title></rect>"
        )
        cx = left + i * step + step / 2
        cy = top + plot_h - plot_h * d.record_count / max_records
        points.append(f"{cx:.1f},{cy:.1f}")
    parts.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="#d9822b" stroke-width="2"/>'
    )
    label = 'font-size="11" fill="#333"'
    parts += [
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" {label}>'
        f"{html.escape(format_yuan(max_amount))}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" {label}>0</text>',
        f'<text x="{width - right + 6}" y="{top + 4}" {label}>{max_records} rec</text>',
        f'<text x="{left}" y="{height - bottom + 16}" {label}>{daily[0].day.isoformat()}</text>',
        f'<text x="{width - right}" y="{height - bottom + 16}" text-anchor="end" {label}>'
        f"{daily[-1].day.isoformat()}</text>",
        f'<text x="{left}" y="{height - 6}" {label}>bars: amount per UTC day (yuan, left); '
        "line: records per day (right)</text>",
        "</svg>",
    ]
    return "".join(parts)


# --- HTML ---------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans SC",sans-serif;margin:2em;
color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;background:#f3f3f3}
code{font-size:.85em;word-break:break-all}.net{font-size:1.2em;font-weight:600}
.muted{color:#666}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[tuple[object, bool]]],
    *,
    total_last: bool = False,
) -> str:
    """A table; each cell is (value, numeric). ``total_last`` styles the last row."""
    body = list(rows)
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(body):
        last = total_last and i == len(body) - 1
        out.append('<tr class="total">' if last else "<tr>")
        for value, numeric in row:
            out.append(f'<td class="n">{_e(value)}</td>' if numeric else f"<td>{_e(value)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def statement_html(
    statement: Statement | StatementContent,
    *,
    daily: Sequence[DailyUsage] = (),
    region: str = "",
    generated_at: datetime | None = None,
    netting: Netting | None = None,
    reconciliation: ReconciliationReport | None = None,
) -> str:
    """A readable, self-contained HTML report of a period statement."""
    c = _content(statement)
    a, b = c.regions
    title = f"Settlement statement {c.period}: {a} ⇄ {b}"
    state = statement.state.name if isinstance(statement, Statement) else "UNSIGNED"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<p class="muted">',
        f"Period {_e(c.period_start.isoformat())} – {_e(c.period_end.isoformat())} (event time, "
        f"end exclusive). Currency {_e(c.currency)}; amounts in yuan with the exact fen in "
        f"the CSV/JSON. State: <b>{_e(state)}</b>.",
        f" Prepared by region {_e(region)}." if region else "",
        f" Generated {_e(generated_at.isoformat())}." if generated_at else "",
        "</p>",
    ]
    if c.net_fen:
        parts.append(
            f'<p class="net">{_e(c.net_payer_region)} pays {_e(c.net_payee_region)} '
            f"{_e(format_yuan(c.net_fen))} yuan ({c.net_fen} fen)</p>"
        )
    else:
        parts.append('<p class="net">Net amount: 0 — nothing to pay</p>')
    parts.append(
        f"<p>Content digest (SHA-256 of the signed bytes): <code>{c.digest.hex()}</code></p>"
    )

    parts.append("<h2>Totals per direction</h2>")
    parts.append(
        _table(
            (
                "provider (is owed)",
                "consumer (owes)",
                "records",
                "zero-priced",
                "gross",
                "adjustments",
                "disputed (held out)",
                "net",
            ),
            (
                (
                    (t.provider_region, False),
                    (t.consumer_region, False),
                    (t.record_count, True),
                    (t.zero_priced_count, True),
                    (format_yuan(t.gross_fen), True),
                    (format_yuan(t.adjustment_fen), True),
                    (format_yuan(t.disputed_fen), True),
                    (format_yuan(t.net_fen), True),
                )
                for t in c.totals
            ),
        )
    )
    parts.append(
        f"<p>Net: what {_e(b)} owes {_e(a)} ({_e(format_yuan(c.totals[0].net_fen))}) minus "
        f"what {_e(a)} owes {_e(b)} ({_e(format_yuan(c.totals[1].net_fen))}) = "
        f"{_e(format_yuan(c.owed_to_first_fen))}"
        + (
            f", so {_e(c.net_payer_region)} pays {_e(c.net_payee_region)} "
            f"{_e(format_yuan(c.net_fen))}."
            if c.net_fen
            else "."
        )
        + f" Rounding residue (informational, never settled): "
        f"{_e(format_fen(c.rounding_residue_fen))} fen.</p>"
    )

    parts.append("<h2>Usage over the period</h2>")
    parts.append(usage_chart_svg(daily))

    parts.append("<h2>Lines</h2>")
    line_rows: list[list[tuple[object, bool]]] = []
    for i, ln in enumerate(c.lines, 1):
        line_rows.append(
            [
                (i, True),
                (f"{ln.provider_region}>{ln.consumer_region}", False),
                (ln.product, False),
                (ln.tariff or "(unpriced)", False),
                (ln.purpose_class.name.lower(), False),
                (ln.record_count, True),
                (ln.zero_priced_count, True),
                (ln.late_record_count, True),
                (ln.quantity.rows, True),
                (ln.quantity.bytes, True),
                (format_yuan(ln.gross_fen), True),
                (format_fen(ln.rounding_residue_fen), True),
                (ln.entries_root.hex()[:16] + "…", False),
            ]
        )
    line_rows.append(
        [
            ("", False),
            ("total", False),
            ("", False),
            ("", False),
            ("", False),
            (c.record_count, True),
            (sum(ln.zero_priced_count for ln in c.lines), True),
            (sum(ln.late_record_count for ln in c.lines), True),
            (sum(ln.quantity.rows for ln in c.lines), True),
            (sum(ln.quantity.bytes for ln in c.lines), True),
            (format_yuan(sum(ln.gross_fen for ln in c.lines)), True),
            ("", False),
            ("", False),
        ]
    )
    lines_html = _table(
        (
            "#",
            "direction",
            "product",
            "tariff",
            "purpose",
            "records",
            "zero-priced",
            "late",
            "rows",
            "bytes",
            "gross",
            "residue (fen)",
            "entries root",
        ),
        line_rows,
    )
    parts.append(
        lines_html.replace(
            '<tr><td class="n"></td><td>total', '<tr class="total"><td class="n"></td><td>total'
        )
    )

    if c.adjustments:
        parts.append("<h2>Adjustments landing in this period</h2>")
        parts.append(
            _table(
                ("adjustment", "kind", "direction", "amount", "its entry", "corrects"),
                (
                    (
                        (x.adjustment, False),
                        (x.kind.name.lower(), False),
                        (f"{x.provider_region}>{x.consumer_region}", False),
                        (format_yuan(x.amount_delta_fen), True),
                        (str(x.entry), False),
                        ("" if x.corrects is None else str(x.corrects), False),
                    )
                    for x in c.adjustments
                ),
            )
        )
    if c.disputed:
        parts.append("<h2>Disputed amounts held out</h2>")
        parts.append(
            _table(
                ("dispute", "direction", "amount held"),
                (
                    (
                        (h.dispute, False),
                        (f"{h.provider_region}>{h.consumer_region}", False),
                        (format_yuan(h.amount_fen), True),
                    )
                    for h in c.disputed
                ),
            )
        )
    parts.append("<h2>Batches and checkpoints covered</h2>")
    if c.batches:
        parts.append(
            _table(
                ("batch", "records", "amount", "Merkle root", "batch digest"),
                (
                    (
                        (x.batch, False),
                        (x.record_count, True),
                        (format_yuan(x.amount_fen), True),
                        (x.merkle_root.hex(), False),
                        (x.batch_digest.hex(), False),
                    )
                    for x in c.batches
                ),
            )
        )
    else:
        parts.append("<p>No batches cited.</p>")
    if c.checkpoints:
        parts.append(
            _table(
                ("ledger", "tree size", "root hash"),
                (
                    ((cp.origin, False), (cp.tree_size, True), (cp.root_hash.hex(), False))
                    for cp in c.checkpoints
                ),
            )
        )
    if isinstance(statement, Statement):
        parts.append("<h2>Signatures</h2>")
        if statement.signatures:
            parts.append(
                _table(
                    ("region", "key", "key id", "signature"),
                    (
                        (
                            (s.signer_region, False),
                            (s.key_name, False),
                            (s.key_id, False),
                            (s.signature.hex()[:32] + "…", False),
                        )
                        for s in statement.signatures
                    ),
                )
            )
        else:
            parts.append("<p>Not signed yet.</p>")
    if netting is not None:
        parts.append("<h2>Netting</h2><pre>")
        parts.append(_e("\n".join(netting.explain())))
        parts.append("</pre>")
    if reconciliation is not None:
        r = reconciliation.record_counts
        parts.append("<h2>Reconciliation with the counterparty</h2>")
        parts.append(
            _table(
                ("matched", "within tolerance", "mismatched", "ours only", "theirs only"),
                [
                    (
                        (r.matched, True),
                        (r.within_tolerance, True),
                        (r.mismatched, True),
                        (r.ours_only, True),
                        (r.theirs_only, True),
                    )
                ],
            )
        )
        parts.append(f"<p>Report digest <code>{reconciliation.digest.hex()}</code></p>")
    parts.append(_VERIFY_HTML.format(a=_e(a), b=_e(b), period=_e(c.period)))
    parts.append("</body></html>")
    return "".join(parts)


_VERIFY_HTML = """
<h2>How to verify each figure</h2>
<ol>
<li><b>The statement is the one both regions signed.</b> The content digest above is
SHA-256 of the exact bytes both regions signed (the canonical encoding of
<code>bashu.settlement.v1.StatementContent</code>). Each signature is an Ed25519
signature by a region key over <code>"bashu.exchange/statement/v1" 0x00 bytes</code>;
check it with the region's published key (<code>bashu node public-key</code> on each
node). <code>bashu settle statement {period} --counterparty … --key REGION=KEY</code>
does both.</li>
<li><b>Each line is the sum of its usage records.</b> A line's records, gross
amount and zero-priced count are sums over the usage records whose direction, product,
tariff version and purpose class match the line. Each record already carries its
amount rounded half-up to a whole fen (the only rounding point); the statement only
adds integers. The residue column is what that rounding moved; it is never
settled.</li>
<li><b>Each line points at exactly its ledger entries.</b> The entries root is the
RFC 9162 Merkle root over the leaf hashes of the provider's usage entries of the line,
in ledger order. Listing those entries (index and leaf hash) and recomputing the root
and the totals must give this report's figures (planned:
<code>bashu report line {period} --line N</code>).</li>
<li><b>Each entry is really in the ledger.</b> <code>bashu ledger show I</code>
decodes entry I; <code>bashu ledger prove I --format tlog-proof</code> prints its
inclusion proof against a signed checkpoint (the checkpoints listed above include every
entry cited). Offline, with only the proof, the checkpoint and the region's public key:
<code>bashu ledger verify-checkpoint --key KEY note.txt</code> checks the checkpoint,
and <code>clients.sdk.ledger.verify_inclusion_offline</code> (or any RFC 9162
verifier) checks the proof.</li>
<li><b>Both regions hold the same uses.</b> The batches above carry control totals
(records and amount) that add up to each direction's totals, and were countersigned
by the consumer region. <code>bashu reconcile --period {period} --counterparty …</code>
compares both ledgers record by record, lists every difference
(<code>bashu reconcile discrepancies REPORT</code>) and records its report as a ledger
entry.</li>
<li><b>Corrections are entries too.</b> Every adjustment names its own ledger entry
and the entry it corrects; prove them like any other entry. Disputed amounts are held
out of the net until the dispute is decided.</li>
</ol>
<p class="muted">Regions {a} and {b}. Commands marked "planned" are described in
docs/settlement.md and are not wired to the node yet.</p>
"""


# --- provider revenue ---------------------------------------------------------------


@dataclass(frozen=True)
class RevenueRow:
    """Usage and revenue of one (provider region, product, licence, tariff)."""

    provider_region: str
    product: str
    licence: str
    tariff: str
    record_count: int
    zero_priced_count: int
    calls: int
    rows: int
    bytes: int
    amount_fen: int


def revenue_by_licence(
    usage: UsageTable, *, provider_region: str | None = None
) -> tuple[RevenueRow, ...]:
    """Usage and revenue per provider, product, licence and tariff (sorted)."""
    t = usage.table
    if provider_region is not None:
        t = t.filter(pc.equal(t.column("provider_region"), provider_region))
    licence = (
        t.column("licence") if "licence" in t.column_names else pa.nulls(t.num_rows, pa.string())
    )
    cols: dict[str, Any] = {
        "provider_region": t.column("provider_region"),
        "product": t.column("product"),
        "licence": pc.fill_null(licence, ""),
        "tariff": t.column("tariff"),
        "zero": pc.cast(pc.equal(t.column("amount_fen"), 0), pa.int64()),
    }
    for name in ("calls", "rows", "bytes", "amount_fen"):
        cols[name] = pc.cast(t.column(name), safe_sum_type(t.column(name)))
    keys = ["provider_region", "product", "licence", "tariff"]
    grouped = (
        pa.table(cols)
        .group_by(keys)
        .aggregate(
            [("zero", "count"), ("zero", "sum")]
            + [(n, "sum") for n in ("calls", "rows", "bytes", "amount_fen")]
        )
    )
    rows = [
        RevenueRow(
            r["provider_region"],
            r["product"],
            r["licence"],
            r["tariff"],
            r["zero_count"],
            r["zero_sum"],
            int(r["calls_sum"]),
            int(r["rows_sum"]),
            int(r["bytes_sum"]),
            int(r["amount_fen_sum"]),
        )
        for r in grouped.to_pylist()
    ]
    return tuple(sorted(rows, key=lambda r: (r.provider_region, r.product, r.licence, r.tariff)))


def revenue_csv(rows: Iterable[RevenueRow]) -> str:
    """The provider report as CSV (amounts in fen and yuan)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "provider_region",
            "product",
            "licence",
            "tariff",
            "record_count",
            "zero_priced_count",
            "calls",
            "rows",
            "bytes",
            "amount_fen",
            "amount_yuan",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r.provider_region,
                r.product,
                r.licence,
                r.tariff,
                r.record_count,
                r.zero_priced_count,
                r.calls,
                r.rows,
                r.bytes,
                r.amount_fen,
                format_yuan(r.amount_fen),
            ]
        )
    return out.getvalue()


def discrepancies_csv(report: ReconciliationReport) -> str:
    """A reconciliation report's discrepancies, one per row, both sides' values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "tier",
            "key",
            "status",
            "differing_fields",
            "product",
            "our_records",
            "their_records",
            "our_amount_fen",
            "their_amount_fen",
            "our_rows",
            "their_rows",
            "our_entry",
            "their_entry",
            "details",
        ]
    )
    for d in report.discrepancies:
        writer.writerow(
            [
                d.tier.name,
                d.key,
                d.status.name,
                " ".join(d.differing_fields),
                d.product,
                d.our_record_count,
                d.their_record_count,
                "" if d.our_amount_fen is None else d.our_amount_fen,
                "" if d.their_amount_fen is None else d.their_amount_fen,
                "" if d.our_quantity is None else d.our_quantity.rows,
                "" if d.their_quantity is None else d.their_quantity.rows,
                "" if d.our_entry is None else str(d.our_entry),
                "" if d.their_entry is None else str(d.their_entry),
                "; ".join(f"{f}: {o} / {t}" for f, o, t in d.details),
            ]
        )
    return out.getvalue()


# --- usage and revenue reports ------------------------------------------------------


@dataclass(frozen=True)
class ReportSection:
    """One table of a usage or revenue report: a heading, the column heads, rows of
    values (ints are right-aligned) and an optional total row."""

    heading: str
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    total: tuple[object, ...] | None = None


def table_report_html(
    title: str,
    sections: Sequence[ReportSection],
    *,
    daily: Sequence[DailyUsage] = (),
    intro: str = "",
    verify: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> str:
    """A self-contained HTML page (no script, nothing loaded from the network) with
    the sections' tables, a chart of ``daily`` usage and "how to verify" steps
    (``verify`` items are trusted HTML written by the caller, not data)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    if intro or generated_at:
        parts.append(
            f'<p class="muted">{_e(intro)}'
            + (f" Generated {_e(generated_at.isoformat())}." if generated_at else "")
            + "</p>"
        )
    if daily:
        parts.append("<h2>Usage over the period</h2>")
        parts.append(usage_chart_svg(daily))
    for section in sections:
        parts.append(f"<h2>{_e(section.heading)}</h2>")
        rows: list[list[tuple[object, bool]]] = [
            [(v, isinstance(v, int)) for v in row] for row in section.rows
        ]
        if section.total is not None:
            rows.append([(v, isinstance(v, int)) for v in section.total])
        parts.append(_table(section.columns, rows, total_last=section.total is not None))
    if verify:
        parts.append("<h2>How to verify each figure</h2><ol>")
        parts.extend(f"<li>{step}</li>" for step in verify)
        parts.append("</ol>")
    parts.append("</body></html>")
    return "".join(parts)
