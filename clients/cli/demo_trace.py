"""One trace across two regions, for ``bashu demo --otel console``.

The demo opens a span of its own (the consumer's side), makes one relayed bulk read
inside it (the SDK carries the W3C ``traceparent``), and after the nodes have stopped
and flushed their exporters, finds that trace's spans in both nodes' logs: the home
node's call, the provider's forwarded call and ledger append, and the home node's
consumption append. Spans the console exporter wrote are read back as JSON; nothing
is inferred from text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clients.cli._common import console
from clients.cli.demo import Demo, StepUnavailable
from clients.sdk.access import Filter

__all__ = ["relayed_call_in_a_trace", "trace_across_regions"]

LABEL = "traffic for logistics (cq → sc)"


def _spans(path: Path) -> Iterator[dict[str, Any]]:
    """The spans the OpenTelemetry console exporter wrote into a node's log."""
    text = path.read_text(encoding="utf-8", errors="replace")
    decoder = json.JSONDecoder()
    i = 0
    while True:
        j = text.find('{\n    "name"', i)
        if j < 0:
            return
        try:
            obj, i = decoder.raw_decode(text, j)
        except ValueError:
            i = j + 1
            continue
        if isinstance(obj, dict) and "context" in obj:
            yield obj


def relayed_call_in_a_trace(demo: Demo) -> None:
    otel = demo.facts.get("otel")
    if otel is None:
        raise StepUnavailable("run the demo with --otel console to record the traces")
    licence = demo.licences.get(LABEL)
    if licence is None:
        raise StepUnavailable("no cross-region licence was obtained")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    path = demo.data_dir / "demo-spans.log"
    out = path.open("w", encoding="utf-8")
    provider = TracerProvider(resource=Resource.create({"service.name": "bashu-demo"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    tracer = provider.get_tracer("bashu.demo")
    road = demo.data.traffic["road"][0].as_py()
    try:
        with tracer.start_as_current_span("demo: Liangjiang Logistics plans a route") as span:
            got = demo.client("cq-logistics").access.read_result(
                licence, filters=(Filter("road", "=", road),)
            )
            trace_id = f"0x{span.get_span_context().trace_id:032x}"
    finally:
        provider.shutdown()
        out.close()
    demo.facts["trace"] = (trace_id, got.receipt.entry_index)
    # A use like any other: settled, and verified offline with the rest.
    demo.receipts.append(("sc", got.receipt))
    console.print(
        f"  one relayed read ({got.table.num_rows} rows of {road}) in trace {trace_id} "
        f"(spans: {path} and each node.log, exporter {otel})"
    )
    demo.checks.record(
        "a relayed read inside the consumer's own span", got.table.num_rows > 0, trace_id
    )


def trace_across_regions(demo: Demo) -> None:
    found = demo.facts.get("trace")
    if not isinstance(found, tuple):
        raise StepUnavailable("no traced call was made")
    if demo.facts.get("otel") != "console":
        raise StepUnavailable(f"the spans went to the OTLP collector: look up trace {found[0]}")
    trace_id = found[0]
    table = demo.table("where", "span", "kind", title=f"trace {trace_id}")
    names: dict[str, set[str]] = {}
    for where, path in (
        ("consumer (SDK)", demo.data_dir / "demo-spans.log"),
        ("cq node", demo.nodes["cq"].log_path),
        ("sc node", demo.nodes["sc"].log_path),
    ):
        for span in _spans(path):
            # A batched append (one span for many calls) joins a trace by a link.
            linked = any(
                link.get("context", {}).get("trace_id") == trace_id
                for link in span.get("links") or ()
            )
            if span["context"].get("trace_id") != trace_id and not linked:
                continue
            names.setdefault(where, set()).add(str(span["name"]))
            kind = str(span.get("kind", "")).rsplit(".", 1)[-1]
            table.add_row(where, str(span["name"]), kind + (" (linked)" if linked else ""))
    console.print(table)
    want = {
        "cq node": "bashu.access.v1.AccessService/ReadData",
        "sc node": "bashu.federation.v1.FederationService/ForwardReadData",
    }
    ok = bool(names.get("consumer (SDK)")) and all(
        name in names.get(where, set()) for where, name in want.items()
    )
    appends = [w for w in ("cq node", "sc node") if "bashu.ledger.append" in names.get(w, set())]
    demo.checks.record(
        "one trace runs from the consumer's SDK through both nodes to both ledger appends",
        ok and len(appends) == 2,
        f"{sum(len(v) for v in names.values())} span names; ledger appends in "
        + (", ".join(appends) or "none"),
    )
