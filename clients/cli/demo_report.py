"""The HTML report of a ``bashu demo`` run: one self-contained file (inline style, no
script, no external resource) that repeats every table the run showed, step by step,
then the checklist and how to re-check the figures independently.

It renders what the steps recorded (``Demo.sections`` and ``Demo.checks``) and
computes nothing of its own, so it cannot disagree with the run.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from clients.cli._common import console
from clients.cli.demo import Demo, ReportTable

__all__ = ["render_report", "write_report"]

STYLE = """
body { font: 14px/1.45 system-ui, "Noto Sans CJK SC", "PingFang SC", sans-serif;
       margin: 2rem auto; max-width: 1200px; color: #1f2328; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; vertical-align: top;
         text-align: left; white-space: pre-line; }
th { background: #f6f8fa; }
.held { color: #1a7f37; } .failed { color: #cf222e; font-weight: 600; }
.unavailable { color: #9a6700; } .summary { font-size: 1.1rem; margin: 1rem 0; }
code { background: #f6f8fa; padding: 0 .25rem; }
"""

MARK = {"held": "✔ held", "failed": "✘ failed", "unavailable": "– not available"}


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(table: ReportTable) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in table.plain_rows
    )
    caption = f"<caption>{_e(table.title_text)}</caption>" if table.title_text else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(demo: Demo, elapsed_s: float) -> str:
    checks = demo.checks
    held, failed, missing = len(checks.held), len(checks.failed), len(checks.missing)
    verdict = (
        f'<span class="held">all {held} checks held</span>'
        if not failed
        else f'<span class="failed">{failed} of {held + failed} checks failed</span>'
    )
    if missing:
        verdict += f', <span class="unavailable">{missing} not available</span>'
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Bashu Exchange — a day of the market</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Bashu Exchange — a day of the market in three regions</h1>",
        f"<p>Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {elapsed_s:.0f} s; regions in "
        f"<code>{_e(demo.data_dir)}</code>.</p>",
        f"<p class='summary'>{verdict}.</p>",
    ]
    current = None
    for step, table in demo.sections:
        if step != current:
            parts.append(f"<h2>{_e(step or 'Set-up')}</h2>")
            current = step
        parts.append(_table(table))
    parts.append("<h2>Checklist</h2><table><thead><tr><th>step</th><th>check</th>")
    parts.append("<th>result</th><th>detail</th></tr></thead><tbody>")
    for r in checks.results:
        parts.append(
            f"<tr><td>{_e(r.step)}</td><td>{_e(r.name)}</td>"
            f"<td class='{r.status}'>{MARK[r.status]}</td><td>{_e(r.detail)}</td></tr>"
        )
    parts.append("</tbody></table>")
    parts.append("<h2>Check it yourself</h2><ul>")
    for n in demo.nodes.values():
        parts.append(
            f"<li><code>bashu ledger verify --config {_e(n.config)}</code> — re-hashes every "
            f"entry of {_e(n.region)}'s ledger and checks its signed checkpoints "
            f"(key <code>{_e(n.vkey)}</code>).</li>"
        )
    receipts = demo.facts.get("receipts_file")
    if receipts is not None:
        parts.append(
            f"<li><code>{_e(receipts)}</code> holds every receipt of the day with the "
            "inclusion proof of its ledger entry: each verifies offline with the provider "
            "region's key alone (<code>clients.sdk.access.verify_receipt_offline</code>).</li>"
        )
    parts.append("</ul></body></html>\n")
    return "".join(parts)


def write_report(demo: Demo) -> None:
    started = demo.facts.get("started")
    elapsed = (
        (datetime.now(UTC) - started).total_seconds() if isinstance(started, datetime) else 0.0
    )
    path = demo.data_dir / "report.html"
    text = render_report(demo, elapsed)
    demo.checks.record(
        "the HTML report is written", bool(demo.sections), f"{len(demo.sections)} tables"
    )
    # Rendered again so the report's checklist includes its own line.
    path.write_text(render_report(demo, elapsed) if text else text, encoding="utf-8")
    demo.facts["report"] = path
    console.print(f"  report: [bold]{path}[/]")
