"""The steps of ``bashu demo``, in the order of a market day, each with its checks.

Every step acts through the SDK as the party concerned would (a provider on its
node, a consumer on its home node, finance on its node) and records what it checks
in ``demo.checks``. A step needing a capability the node build does not have names
the modules it needs (``Step.needs``) or raises :class:`StepUnavailable`; it is then
reported "not available", never passed. :data:`STEPS` run while the nodes are up,
:data:`OFFLINE_STEPS` after they have stopped.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bashu.federation.v1 import federation_pb2
from bashu.licensing.v1 import licensing_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from clients.cli import demo_report, demo_settle, demo_trace
from clients.cli._common import console
from clients.cli.demo import Demo, ReportTable, Step, StepUnavailable, verify_ledgers
from clients.cli.demo_data import CQ_DISTRICTS, is_valid_id_number, uscc
from clients.cli.demo_market import (
    CROSS_REGION_STORIES,
    LICENCE_STORIES,
    PRODUCTS,
    REGIONS,
    LicenceStory,
    ProductSpec,
    descriptor,
)
from clients.cli.demo_settle import federation_status
from clients.sdk.access import (
    Filter,
    Receipt,
    verify_receipt_offline,
)
from clients.sdk.errors import BashuRpcError, VerificationError
from clients.sdk.ledger import InclusionProof
from clients.sdk.licensing import verify_licence

__all__ = ["OFFLINE_STEPS", "STEPS", "show_regions", "write_sources"]

MARKET = "services.market"
BATCHES = "services.batches"
SETTLEMENT = "services.settlement_service"
RECONCILIATION = "services.reconciliation_service"

DECISION = {
    licensing_pb2.DECISION_OUTCOME_GRANT: "GRANT",
    licensing_pb2.DECISION_OUTCOME_HOLD: "HOLD",
    licensing_pb2.DECISION_OUTCOME_DENY: "DENY",
}


def _spec(product_id: str) -> ProductSpec:
    return next(p for p in PRODUCTS if p.product_id == product_id)


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


# -- before the nodes start ------------------------------------------------------------------


def write_sources(demo: Demo) -> None:
    """Each provider's data as a Parquet file inside its node's data directory."""
    for spec in PRODUCTS:
        folder = demo.nodes[spec.region].dir / "data"
        folder.mkdir(exist_ok=True)
        pq.write_table(getattr(demo.data, spec.table), folder / f"{spec.product_id}.parquet")


def show_regions(demo: Demo) -> None:
    table = demo.table("region", "", "address", "parties", "verifier key (pinned by its peers)")
    for n in demo.nodes.values():
        parties = [p for p in demo.parties.values() if p.spec.region == n.region]
        table.add_row(n.region, REGIONS[n.region], n.address, str(len(parties)), n.vkey[:48] + "…")
    console.print(table)
    cast = demo.table("party", "region", "roles")
    for p in demo.parties.values():
        cast.add_row(p.spec.name, p.spec.region, p.spec.roles)
    console.print(cast)


# -- 1. listings -----------------------------------------------------------------------------


def list_products(demo: Demo) -> None:
    console.print(
        "Providers describe each product under the shared standard (category, grade,\n"
        "personal-information class, field sensitivity and masking), publish a tariff\n"
        "and register the Parquet file behind it. Each listing is a ledger entry."
    )
    table = demo.table(
        "product", "title", "category / grade / personal info", "modes", "tariff (CNY)"
    )
    table.columns[0].no_wrap = True
    for spec in PRODUCTS:
        provider = demo.parties[spec.provider]
        client = demo.client(spec.provider)
        created = client.catalog.create_product(
            descriptor(spec, provider.name), product_id=spec.product_id
        )
        revision = created.revision.name
        demo.revisions[spec.product_id] = revision
        client.catalog.create_tariff(
            spec.product_id,
            unit=spec.tariff_unit,
            unit_price=spec.tariff_price,
            purpose_prices={k: v for k, v in spec.purpose_prices.items()},
        )
        source = client.access.register_source(
            revision,
            path=f"data/{spec.product_id}.parquet",
            key_columns=list(spec.key_fields),
        )
        expected = getattr(demo.data, spec.table).num_rows
        entry = created.revision.ledger_entry
        demo.checks.record(
            f"{spec.region}: {spec.product_id} listed, priced and backed by its file",
            entry.origin == f"bashu.exchange/log/{spec.region}" and source.row_count == expected,
            f"ledger entry {entry.index}, {source.row_count} rows",
        )
        prices = ", ".join(f"{k.lower()} {v}" for k, v in spec.purpose_prices.items())
        table.add_row(
            f"{spec.region}/{spec.product_id}",
            f"{spec.title_zh}\n{spec.title_en}",
            f"{spec.category.lower()}\n{spec.grade.lower()}\n{spec.pi_class.lower()}",
            ",".join(m.lower() for m in spec.modes),
            f"{spec.tariff_price} {spec.tariff_unit.lower().replace('_', ' ')}"
            + (f"\n{prices}" if prices else ""),
        )
    console.print(table)
    demo.facts["first_checkpoints"] = {
        r: demo.operator(r).ledger.checkpoint(n.vkey) for r, n in demo.nodes.items()
    }
    sample = demo.data.enterprises.slice(0, 3).select(
        ["uscc", "name", "legal_rep", "legal_rep_id_no", "district", "status"]
    )
    console.print(_arrow_table(demo, sample, "a few rows of the Sichuan registry, as stored"))


def _arrow_table(demo: Demo, table: pa.Table, title: str) -> ReportTable:
    view = demo.table(*table.column_names, title=title)
    for row in table.to_pylist():
        view.add_row(*("" if v is None else str(v) for v in row.values()))
    return view


# -- mutual recognition ------------------------------------------------------------------------

# (Sichuan code, Chongqing code): the same data elements under each region's standard.
MAPPED_ELEMENTS = [("SC-DE02.001", "CQ-EL.001"), ("SC-DE02.002", "CQ-EL.002")]


def standard_mappings(demo: Demo) -> None:
    console.print(
        "Sichuan and Chongqing recognise each other's data-element standards: each\n"
        "operator loads the mapping from the peer's codes to its own (a ledger entry)."
    )
    table = demo.table("region", "mapping", "peer codes → local codes", "entry")
    for region, peer, pairs in (
        ("cq", "sc", MAPPED_ELEMENTS),
        ("sc", "cq", [(c, s) for s, c in MAPPED_ELEMENTS]),
    ):
        mapping = demo.operator(region).catalog.create_standard_mapping(
            peer,
            pairs,
            peer_standard_version=f"{peer}-de/2025.1",
            local_standard_version=f"{region}-de/2025.1",
        )
        table.add_row(
            region,
            mapping.name,
            "\n".join(f"{e.peer_code} → {e.local_code}" for e in mapping.entries),
            str(mapping.ledger_entry.index),
        )
    console.print(table)
    product = demo.client("cq-bank").catalog.get_product(
        "business-licence-verification", element_code_region="sc"
    )
    shown = dict(product.mapped_element_codes)
    demo.checks.record(
        "Chongqing's licence verification is shown in Sichuan's element codes",
        shown == {"uscc": "SC-DE02.001", "name": "SC-DE02.002"},
        ", ".join(f"{k}={v}" for k, v in sorted(shown.items())),
    )


# -- 2. searching ---------------------------------------------------------------------------


SEARCHES = [
    ("sc-planning", "交通", ["sc"], "road-traffic-counts"),
    ("cq-survey", "地块", ["cq"], "land-parcels"),
    ("cq-dispatch", "床位", ["cq"], "hospital-bed-availability"),
]
FEDERATED_SEARCHES = [
    ("cq-logistics", "企业", "enterprise-registry"),
    ("cq-logistics", "traffic", "road-traffic-counts"),
    ("sc-credit", "营业执照", "business-licence-verification"),
    ("sg-tradefin", "licence", "business-licence-verification"),
]


def _search_table(demo: Demo, title: str) -> ReportTable:
    return demo.table("consumer", "text", "found", "regions answered", title=title)


def search_local(demo: Demo) -> None:
    console.print("Consumers look for data in their own region's catalog.")
    table = _search_table(demo, "catalog search, home region")
    for alias, text, regions, wanted in SEARCHES:
        resp = demo.client(alias).catalog.search_products(text=text, regions=regions)
        names = [p.name.rsplit("/", 1)[-1] for p in resp.products]
        table.add_row(
            demo.parties[alias].spec.name, text, "\n".join(names) or "—", ",".join(regions)
        )
        demo.checks.record(f"{alias} finds {wanted} searching {text!r}", wanted in names)
    console.print(table)


def require_market(demo: Demo) -> None:
    """Raise StepUnavailable unless the nodes federate: a search on a home node reports
    its peers (a node without the market answers for its own region only)."""
    if demo.facts.get("market") is None:
        resp = demo.client("cq-logistics").catalog.search_products(text="—")
        asked = {s.region for s in resp.peer_statuses}
        demo.facts["market"] = asked >= set(demo.nodes)
    if not demo.facts["market"]:
        raise StepUnavailable(
            "this build's nodes do not federate yet (a search reports no peer regions)"
        )


def search_federated(demo: Demo) -> None:
    require_market(demo)
    console.print("Each home node asks its peers (signed peer calls) and merges their answers.")
    table = _search_table(demo, "federated catalog search")
    for alias, text, wanted in FEDERATED_SEARCHES:
        resp = demo.client(alias).catalog.search_products(text=text)
        found = [f"{p.region}/{p.name.rsplit('/', 1)[-1]}" for p in resp.products]
        answered = ", ".join(f"{s.region}:{_status_name(s)}" for s in resp.peer_statuses)
        table.add_row(demo.parties[alias].spec.name, text, "\n".join(found) or "—", answered)
        wanted_region = _spec(wanted).region
        demo.checks.record(
            f"{alias} ({demo.parties[alias].spec.region}) finds {wanted_region}/{wanted}",
            f"{wanted_region}/{wanted}" in found and not resp.degraded,
            "complete" if not resp.degraded else f"degraded: {answered}",
        )
    console.print(table)


def _status_name(status: Any) -> str:
    try:
        kind = status.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_number[status.state]
        return str(kind.name).rsplit("_", 1)[-1]
    except (KeyError, AttributeError):
        return "?"


# -- 3. licences ----------------------------------------------------------------------------


def _cross_border(story: LicenceStory, valid_until: datetime) -> licensing_pb2.CrossBorder | None:
    if story.cross_border is None:
        return None
    kind, reference = story.cross_border
    cb = licensing_pb2.CrossBorder(
        destination_country="SG", destination_region=story.consumer_region
    )
    if kind:
        cb.approval_kind = f"APPROVAL_KIND_{kind}"  # type: ignore[assignment]
        cb.approval_reference = reference
        expire = Timestamp()
        expire.FromDatetime(valid_until + timedelta(days=365))
        cb.approval_expire_time.CopyFrom(expire)
    return cb


def play_story(demo: Demo, story: LicenceStory, table: ReportTable) -> None:
    consumer = demo.client(story.consumer)
    valid_until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=story.valid_days)
    made = consumer.licensing.request_licence(
        story.product,
        provider_region=story.provider_region,
        purpose_class=story.purpose,
        scenario_code=story.scenario,
        purpose_description=story.description,
        access_modes=list(story.modes),
        fields=list(story.fields),
        quota={"calls": story.quota_calls} if story.quota_calls else None,
        valid_until=valid_until,
        cross_border=_cross_border(story, valid_until),
        justification=story.description,
    )
    request = made.licence_request
    decision = DECISION.get(request.decision.outcome, "?")
    codes = list(dict.fromkeys(r.code for r in request.decision.reasons))
    outcome = decision
    ok = decision == story.expect and all(c in codes for c in story.reasons)
    demo.checks.record(
        f"{story.label}: the policy decides {story.expect}",
        ok,
        f"{decision}: {', '.join(codes) or 'no reasons'}",
    )
    licence = made.licence if made.licence.name else None
    if decision == "HOLD" and ok:
        spec = _spec(story.product)
        provider = demo.client(spec.provider)
        held = [r.name for r in provider.licensing.list_requests(states=["HELD"])]
        demo.checks.record(
            f"{story.label}: the provider sees the request waiting", request.name in held
        )
        approved = provider.licensing.approve(
            request.name, comment=f"approved for {story.description}"
        )
        # Across regions the consumer's home node learns of the approval through the
        # provider's durable outbox (a LicenceNotice), so it is followed, not assumed.
        followed = consumer.licensing.follow_request(request.name, interval=0.2, timeout=30)
        outcome = "HOLD → approved"
        demo.checks.record(
            f"{story.label}: approved by {demo.parties[spec.provider].spec.name}",
            followed.state == licensing_pb2.LICENCE_REQUEST_STATE_GRANTED
            and followed.licence == approved.licence.name,
            followed.licence,
        )
        licence = consumer.licensing.get_licence(followed.licence)
    if decision == "DENY" and story.reasons:
        reasons = demo.table("rule", "code", "effect", "why", "field", title=f"why: {story.label}")
        for r in request.decision.reasons:
            reasons.add_row(
                f"{r.rule_id}/{r.rule_version}",
                r.code,
                licensing_pb2.DecisionOutcome.Name(r.effect).removeprefix("DECISION_OUTCOME_"),
                r.message,
                r.field,
            )
        console.print(reasons)
    if licence is not None and licence.name:
        demo.licences[story.label] = licence.name
        demo.licence_regions[licence.name] = story.consumer_region
        demo.licence_messages[story.label] = licence
        provider_vkey = demo.nodes[story.provider_region].vkey
        document = verify_licence(licence, provider_vkey)
        demo.checks.record(
            f"{story.label}: the licence verifies offline with {story.provider_region}'s key",
            document.licence == licence.name,
            licence.name,
        )
    table.add_row(
        demo.parties[story.consumer].spec.name,
        f"{story.provider_region}/{story.product}",
        story.purpose.lower(),
        outcome,
        "\n".join(codes),
        licence.name.rsplit("/", 1)[-1] if licence is not None and licence.name else "—",
    )


def _story_table(demo: Demo, title: str) -> ReportTable:
    table = demo.table(
        "consumer", "product", "purpose", "decision", "reasons", "licence", title=title
    )
    for column in (1, 4):
        table.columns[column].no_wrap = True
    return table


def licences_local(demo: Demo) -> None:
    console.print(
        "The provider region's policy engine decides at once: grant, hold for the\n"
        "provider's approval, or deny with machine-readable reasons."
    )
    table = _story_table(demo, "licence requests within a region")
    for story in LICENCE_STORIES:
        play_story(demo, story, table)
    console.print(table)
    _tamper_licence(demo)


def _tamper_licence(demo: Demo) -> None:
    label = LICENCE_STORIES[0].label
    licence = demo.licence_messages.get(label)
    if not isinstance(licence, licensing_pb2.Licence):
        demo.checks.record("a tampered licence is caught offline", False, "no licence to tamper")
        return
    forged = licensing_pb2.Licence()
    forged.CopyFrom(licence)
    forged.terms.quota.rows = 10**9
    try:
        verify_licence(forged, demo.nodes[LICENCE_STORIES[0].provider_region].vkey)
        caught = ""
    except VerificationError as exc:
        caught = str(exc)
    demo.checks.record("a licence with a raised quota is caught offline", bool(caught), caught)


def licences_cross(demo: Demo) -> None:
    require_market(demo)
    console.print(
        "A consumer asks its home node; the home node vouches for it and forwards the\n"
        "request to the provider's region, whose policy decides. From Singapore the\n"
        "data leaves the country: an approval reference is required."
    )
    table = _story_table(demo, "licence requests across regions")
    for story in CROSS_REGION_STORIES:
        play_story(demo, story, table)
    console.print(table)


# -- 4. metered calls -------------------------------------------------------------------------


@dataclass
class Call:
    consumer: str
    story: str
    kind: str  # read, lookup, verify
    provider_region: str
    payload: dict[str, str] = field(default_factory=dict)
    filters: tuple[Filter, ...] = ()
    expect: Any = None  # rows (read), found (lookup), verdict (verify)
    label: str = ""


@dataclass
class CallOutcome:
    call: Call
    ok: bool
    detail: str
    receipt: Receipt | None = None
    table: pa.Table | None = None


def _workload(demo: Demo) -> list[Call]:
    rng = random.Random(7)
    scale = 0.2 if demo.quick else 1.0

    def n(full: int) -> int:
        return max(3, int(full * scale))

    have = demo.licences
    calls: list[Call] = []
    ent = demo.data.enterprises
    codes = ent["uscc"].to_pylist()
    lic = demo.data.licences
    lic_rows = lic.to_pylist()
    traffic, beds, parcels = demo.data.traffic, demo.data.beds, demo.data.parcels

    def unknown_uscc() -> str:
        # Well formed (both check characters hold) but never registered.
        return uscc(rng.choice(CQ_DISTRICTS)[0], f"{rng.randrange(10**7, 10**8)}")

    def lookups(story: str, consumer: str, count: int) -> None:
        for _ in range(count):
            if rng.random() < 0.06:
                calls.append(
                    Call(consumer, story, "lookup", "sc", {"uscc": unknown_uscc()}, (), False)
                )
            else:
                calls.append(
                    Call(consumer, story, "lookup", "sc", {"uscc": rng.choice(codes)}, (), True)
                )

    def verifies(story: str, consumer: str, count: int) -> None:
        for _ in range(count):
            row = rng.choice(lic_rows)
            claim = {
                "uscc": str(row["uscc"]),
                "name": str(row["name"]),
                "licence_no": str(row["licence_no"]),
            }
            roll = rng.random()
            if roll < 0.08:
                # A name one word off the register's: a forged or outdated licence.
                claim["name"] = claim["name"].replace("公司", "分公司")
                expect = "INVALID"
            elif roll < 0.14:
                claim = {"uscc": unknown_uscc(), "name": claim["name"]}
                expect = "UNKNOWN"
            else:
                expect = "VALID"
            calls.append(Call(consumer, story, "verify", "cq", claim, (), expect))

    def reads(
        story: str, consumer: str, region: str, table: pa.Table, column: str, count: int
    ) -> None:
        values = sorted(set(table[column].to_pylist()))
        for _ in range(count):
            value = rng.choice(values)
            rows = int(pc.sum(pc.equal(table[column], value)).as_py())
            calls.append(
                Call(consumer, story, "read", region, {}, (Filter(column, "=", value),), rows)
            )

    if "registry for credit checks" in have:
        lookups("registry for credit checks", "sc-credit", n(150))
    if "traffic for planning" in have:
        reads("traffic for planning", "sc-planning", "sc", traffic, "road", n(12))
    if "beds for ambulance dispatch" in have:
        reads("beds for ambulance dispatch", "cq-dispatch", "cq", beds, "district", n(10))
        wards = beds["ward_id"].to_pylist()
        for _ in range(n(40)):
            calls.append(
                Call(
                    "cq-dispatch",
                    "beds for ambulance dispatch",
                    "lookup",
                    "cq",
                    {"ward_id": rng.choice(wards)},
                    (),
                    True,
                )
            )
    if "parcels for a survey" in have:
        reads("parcels for a survey", "cq-survey", "cq", parcels, "land_use_code", n(4))
        ids = parcels["parcel_id"].to_pylist()
        for _ in range(n(60)):
            calls.append(
                Call(
                    "cq-survey",
                    "parcels for a survey",
                    "lookup",
                    "cq",
                    {"parcel_id": rng.choice(ids)},
                    (),
                    True,
                )
            )
    if "licence checks for a bank" in have:
        verifies("licence checks for a bank", "cq-bank", n(150))
    # Across regions (relayed by the consumer's home node).
    if "traffic for logistics (cq → sc)" in have:
        reads("traffic for logistics (cq → sc)", "cq-logistics", "sc", traffic, "district", n(8))
    if "registry for partners (cq → sc)" in have:
        lookups("registry for partners (cq → sc)", "cq-logistics", n(80))
    if "licence checks for credit (sc → cq)" in have:
        verifies("licence checks for credit (sc → cq)", "sc-credit", n(120))
    if "cross-border checks with a filed contract (sg → cq)" in have:
        verifies("cross-border checks with a filed contract (sg → cq)", "sg-tradefin", n(60))
    rng.shuffle(calls)
    return calls


def _run_call(demo: Demo, call: Call) -> CallOutcome:
    access = demo.client(call.consumer).access
    licence = demo.licences[call.story]
    try:
        if call.kind == "lookup":
            hit = access.lookup(licence, call.payload)
            ok = hit.found == call.expect
            return CallOutcome(call, ok, f"found={hit.found}", hit.receipt, hit.table)
        if call.kind == "verify":
            result = access.verify(licence, call.payload)
            return CallOutcome(call, result.verdict == call.expect, result.verdict, result.receipt)
        read = access.read_result(licence, filters=list(call.filters))
        ok = read.table.num_rows == call.expect
        return CallOutcome(call, ok, f"{read.table.num_rows} rows", read.receipt, read.table)
    except BashuRpcError as exc:
        return CallOutcome(call, False, f"{exc.code.name} {exc.reason}")


def metered_calls(demo: Demo) -> None:
    calls = _workload(demo)
    if not calls:
        raise StepUnavailable("no licence was obtained to call under")
    console.print(
        f"{len(calls)} calls from {len({c.consumer for c in calls})} consumers: each is checked\n"
        "against its licence and quota, masked as licensed, metered into the provider's\n"
        "ledger, and answered with a signed receipt."
    )
    outcomes: list[CallOutcome] = []
    started = time.monotonic()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks = {
            kind: progress.add_task(f"{kind:7s}", total=sum(1 for c in calls if c.kind == kind))
            for kind in ("lookup", "verify", "read")
        }
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(_run_call, demo, c) for c in calls]
            for fut in as_completed(futures):
                out = fut.result()
                outcomes.append(out)
                progress.advance(tasks[out.call.kind])
    elapsed = time.monotonic() - started
    for out in outcomes:
        if out.receipt is not None:
            demo.receipts.append((out.call.provider_region, out.receipt))
    _summarise_calls(demo, outcomes, elapsed)


def _summarise_calls(demo: Demo, outcomes: list[CallOutcome], elapsed: float) -> None:
    by_story: dict[str, list[CallOutcome]] = defaultdict(list)
    for out in outcomes:
        by_story[out.call.story].append(out)
    table = demo.table(
        "consumer", "licence", "calls", "answers", "rows", "amount (CNY)", title="calls"
    )
    for story, outs in by_story.items():
        answers = Counter(o.detail if o.call.kind != "read" else "read" for o in outs)
        receipts = [o.receipt for o in outs if o.receipt is not None]
        table.add_row(
            demo.parties[outs[0].call.consumer].spec.name,
            story,
            str(len(outs)),
            ", ".join(f"{k} {v}" for k, v in sorted(answers.items())),
            str(sum(r.rows for r in receipts)),
            _yuan(sum(r.amount_fen for r in receipts)),
        )
    console.print(table)
    console.print(f"  {len(outcomes)} calls in {elapsed:.1f}s ({len(outcomes) / elapsed:.0f}/s)")
    wrong = [o for o in outcomes if not o.ok]
    demo.checks.record(
        "every call answered as the data says (found / verdict / rows)",
        not wrong,
        f"{len(outcomes) - len(wrong)}/{len(outcomes)}"
        + (f"; first: {wrong[0].call.kind} {wrong[0].detail}" if wrong else ""),
    )
    unrecorded = [o for o in outcomes if o.receipt is not None and o.receipt.entry_index is None]
    demo.checks.record(
        "every answered call has a receipt citing a ledger entry",
        all(o.receipt is not None for o in outcomes if o.ok) and not unrecorded,
    )
    cross = [
        o for o in outcomes if demo.parties[o.call.consumer].spec.region != o.call.provider_region
    ]
    if cross:
        demo.checks.record(
            "cross-region receipts are signed by the provider region",
            all(
                o.receipt is not None and o.receipt.signer_region == o.call.provider_region
                for o in cross
            ),
            f"{len(cross)} relayed calls",
        )
    _check_masking(demo, outcomes)


def _check_masking(demo: Demo, outcomes: list[CallOutcome]) -> None:
    truth = dict(
        zip(
            demo.data.enterprises["uscc"].to_pylist(),
            demo.data.enterprises["legal_rep_id_no"].to_pylist(),
            strict=True,
        )
    )
    seen: list[tuple[str, str]] = []
    for out in outcomes:
        if (
            out.call.kind == "lookup"
            and out.table is not None
            and "legal_rep_id_no" in out.table.column_names
            and out.table.num_rows
        ):
            row = out.table.to_pylist()[0]
            seen.append((truth[out.call.payload["uscc"]], str(row["legal_rep_id_no"])))
    if not seen:
        return
    clear, masked = seen[0]
    demo.checks.record(
        "legal representatives' identity numbers leave masked",
        all(m != c and not is_valid_id_number(m) and m[:6] == c[:6] for c, m in seen),
        f"{len(seen)} rows, e.g. {clear} → {masked}",
    )


# -- 5. refusals -----------------------------------------------------------------------------


def refusals(demo: Demo) -> None:
    console.print("Calls a licence does not cover are refused with a reason, and leave nothing.")
    tries: list[tuple[str, str, Callable[[], Any]]] = []
    bank = demo.licences.get("licence checks for a bank")
    credit = demo.licences.get("registry for credit checks")
    if bank:
        tries.append(
            (
                "a lookup under a verify-only licence",
                "ACCESS_MODE_NOT_GRANTED",
                lambda: demo.client("cq-bank").access.lookup(
                    bank, {"uscc": demo.data.licences["uscc"][0].as_py()}
                ),
            )
        )
    if credit:
        tries.append(
            (
                "another party using Tianfu Credit's licence",
                "NOT_LICENCE_HOLDER",
                lambda: demo.client("sc-planning").access.lookup(
                    credit, {"uscc": demo.data.enterprises["uscc"][0].as_py()}
                ),
            )
        )
        tries.append(
            (
                "a column outside the licence",
                "FIELD_NOT_GRANTED",
                lambda: demo.client("sc-credit").access.lookup(
                    credit,
                    {"uscc": demo.data.enterprises["uscc"][0].as_py()},
                    columns=["no_such_column"],
                ),
            )
        )
    if not tries:
        raise StepUnavailable("no licence was obtained")
    before = _usage_count(demo)
    table = demo.table("attempt", "answer", "reason")
    for what, reason, attempt in tries:
        try:
            attempt()
            got, code = "accepted", ""
        except BashuRpcError as exc:
            got, code = exc.code.name, exc.reason
        table.add_row(what, got, code)
        demo.checks.record(f"refused: {what}", code == reason, code or got)
    console.print(table)
    after = _usage_count(demo)
    demo.checks.record("the refusals metered nothing", before == after, f"{after} usage records")


def _usage_count(demo: Demo) -> int:
    total = 0
    for spec in PRODUCTS:
        _, summary = demo.client(spec.provider).access.summarize("PRODUCT")
        total += summary.record_count
    return total


# -- 6. usage and revenue ---------------------------------------------------------------------


def usage_summary(demo: Demo) -> None:
    console.print("Each provider sees its usage and revenue, from its own node.")
    table = demo.table(
        "provider", "product", "records", "calls", "rows", "zero-priced", "revenue (CNY)"
    )
    by_product: dict[str, list[Receipt]] = defaultdict(list)
    names = {name: label for label, name in demo.licences.items()}
    stories = {s.label: s for s in [*LICENCE_STORIES, *CROSS_REGION_STORIES]}
    for _, receipt in demo.receipts:
        story = stories[names[receipt.licence]]
        by_product[story.product].append(receipt)
    for spec in PRODUCTS:
        _, total = demo.client(spec.provider).access.summarize("PRODUCT")
        mine = by_product.get(spec.product_id, [])
        table.add_row(
            demo.parties[spec.provider].spec.name,
            spec.product_id,
            str(total.record_count),
            str(total.quantity.calls),
            str(total.quantity.rows),
            str(total.zero_priced_count),
            _yuan(total.amount.amount_fen),
        )
        demo.checks.record(
            f"{spec.product_id}: the provider's figures match the consumers' receipts",
            total.record_count == len(mine)
            and total.amount.amount_fen == sum(r.amount_fen for r in mine),
            f"{total.record_count} records, {_yuan(total.amount.amount_fen)} CNY",
        )
    console.print(table)


# -- 7. receipts ----------------------------------------------------------------------------


def fetch_proofs(demo: Demo) -> None:
    console.print(
        "An auditor fetches, for every receipt, the inclusion proof of its entry in the\n"
        "provider's ledger against one signed checkpoint, and files receipts and proofs."
    )
    if not demo.receipts:
        raise StepUnavailable("no receipts were collected")
    pinned: dict[str, int] = {}
    for region in {r for r, _ in demo.receipts}:
        cp = demo.operator(region).ledger.checkpoint(demo.nodes[region].vkey)
        pinned[region] = cp.size
    lines: list[str] = []
    lock = threading.Lock()
    bad: list[str] = []

    def prove(item: tuple[str, Receipt]) -> None:
        region, receipt = item
        try:
            assert receipt.entry_index is not None
            proof = demo.operator(region).ledger.prove_inclusion(
                demo.nodes[region].vkey, receipt.entry_index, pinned[region]
            )
            line = _receipt_line(region, receipt, proof)
            with lock:
                lines.append(line)
        except (BashuRpcError, VerificationError, AssertionError) as exc:
            with lock:
                bad.append(str(exc))

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("proofs ", total=len(demo.receipts))
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in pool.map(prove, demo.receipts):
                progress.advance(task)
    path = demo.data_dir / "receipts.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    demo.facts["receipts_file"] = path
    demo.checks.record(
        "every receipt's entry is proven included in its provider's ledger",
        not bad and len(lines) == len(demo.receipts),
        f"{len(lines)} proofs at sizes "
        + ", ".join(f"{r} {s}" for r, s in sorted(pinned.items()))
        + (f"; {bad[0]}" if bad else ""),
    )
    console.print(f"  receipts and proofs filed in {path}")
    first = demo.facts.get("first_checkpoints")
    if isinstance(first, dict):
        for region, old in sorted(first.items()):
            try:
                new = demo.operator(region).ledger.prove_consistency(demo.nodes[region].vkey, old)
                ok, detail = True, f"size {old.size} → {new.size}"
            except VerificationError as exc:
                ok, detail = False, str(exc)
            demo.checks.record(
                f"{region}: the ledger only grew since the morning (consistency proof)", ok, detail
            )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _receipt_line(region: str, receipt: Receipt, proof: InclusionProof) -> str:
    return (
        json.dumps(
            {
                "provider_region": region,
                "receipt": {
                    "body": _b64(receipt.body),
                    "signature": _b64(receipt.signature),
                    "key_name": receipt.key_name,
                    "key_id": receipt.key_id,
                    "signer_region": receipt.signer_region,
                },
                "proof": {
                    "index": proof.index,
                    "leaf_hash": _b64(proof.leaf_hash),
                    "tree_size": proof.tree_size,
                    "hashes": [_b64(h) for h in proof.hashes],
                    "checkpoint_note": proof.checkpoint_note,
                },
            },
            ensure_ascii=False,
        )
        + "\n"
    )


def _load_receipts(demo: Demo) -> Iterator[tuple[str, Receipt, InclusionProof]]:
    from bashu.access.v1 import access_pb2
    from bashu.common.v1 import common_pb2

    from clients.sdk.ledger import verify_checkpoint_note

    path = demo.facts.get("receipts_file")
    if path is None:
        return
    for line in path.read_text(encoding="utf-8").splitlines():  # type: ignore[attr-defined]
        item = json.loads(line)
        r = item["receipt"]
        msg = access_pb2.UsageReceipt(
            body=base64.b64decode(r["body"]),
            signature=common_pb2.Signature(
                signature=base64.b64decode(r["signature"]),
                key_name=r["key_name"],
                key_id=r["key_id"],
                signer_region=r["signer_region"],
            ),
        )
        receipt = Receipt.from_message(msg)
        p = item["proof"]
        region = item["provider_region"]
        try:
            cp = verify_checkpoint_note(p["checkpoint_note"], demo.nodes[region].vkey)
        except VerificationError:
            cp = None
        proof = InclusionProof(
            p["index"],
            base64.b64decode(p["leaf_hash"]),
            p["tree_size"],
            tuple(base64.b64decode(h) for h in p["hashes"]),
            p["checkpoint_note"],
            cp,  # type: ignore[arg-type]
        )
        yield region, receipt, proof


def verify_receipts_offline(demo: Demo) -> None:
    console.print(
        "With the nodes stopped, every filed receipt is checked with nothing but the\n"
        "provider region's pinned key: its signature, then its entry's inclusion in the\n"
        "signed checkpoint. A receipt with one amount changed must fail."
    )
    items = list(_load_receipts(demo))
    if not items:
        raise StepUnavailable("no receipts were filed")
    bad: list[str] = []
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("receipts", total=len(items))
        for region, receipt, proof in items:
            try:
                verify_receipt_offline(receipt, proof, demo.nodes[region].vkey)
            except VerificationError as exc:
                bad.append(str(exc))
            progress.advance(task)
    demo.checks.record(
        "every receipt verifies offline (signature and inclusion)",
        not bad,
        f"{len(items) - len(bad)}/{len(items)}" + (f"; {bad[0]}" if bad else ""),
    )
    region, receipt, proof = next((i for i in items if i[1].amount_fen > 0), items[0])
    from bashu.access.v1 import access_pb2

    body = access_pb2.UsageReceiptBody.FromString(receipt.body)
    body.amount.amount_fen += 100
    forged = Receipt(**{**receipt.__dict__, "body": body.SerializeToString(deterministic=True)})
    try:
        verify_receipt_offline(forged, proof, demo.nodes[region].vkey)
        caught = ""
    except VerificationError as exc:
        caught = str(exc)
    demo.checks.record("a receipt with its amount raised by 1 yuan is caught", bool(caught), caught)


# -- 8. federation: witnesses, batches -------------------------------------------------------


def witnessing(demo: Demo) -> None:
    console.print(
        "Each node fetches its peers' checkpoints, checks they extend the last one it\n"
        "saw, and cosigns them: a region cannot rewrite its ledger unnoticed."
    )
    deadline = time.monotonic() + 30
    while True:
        statuses = {r: federation_status(demo, r) for r in demo.nodes}
        pending = [
            (r, p.region)
            for r, s in statuses.items()
            for p in s.peers
            if not p.reachable or not p.last_checkpoint_cosigned.signed_note
        ]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    table = demo.table("region", "peer", "reachable", "checkpoint cosigned", "alarms")
    for r, s in statuses.items():
        for p in s.peers:
            table.add_row(
                r,
                p.region,
                "yes" if p.reachable else f"no {p.last_error[:40]}",
                f"size {p.last_checkpoint_cosigned.tree_size}"
                if p.last_checkpoint_cosigned.signed_note
                else "—",
                ", ".join(federation_pb2.AlarmKind.Name(a.kind) for a in p.alarms) or "none",
            )
            demo.checks.record(
                f"{r} witnesses {p.region}'s ledger",
                p.reachable and bool(p.last_checkpoint_cosigned.signed_note) and not p.alarms,
                f"size {p.last_checkpoint_cosigned.tree_size}",
            )
    console.print(table)


# -- the day's programme -------------------------------------------------------------------


STEPS = [
    Step("Providers list their products", list_products),
    Step("Regions recognise each other's data standards", standard_mappings),
    Step("Consumers search their home catalog", search_local),
    Step("Consumers search the federated catalog", search_federated, (MARKET,)),
    Step("Licences within a region", licences_local),
    Step("Licences across regions and across the border", licences_cross, (MARKET,)),
    Step("Hundreds of metered calls", metered_calls),
    Step("Refusals", refusals),
    Step("Usage and revenue per provider", usage_summary),
    Step("Receipts: inclusion proofs from the providers' ledgers", fetch_proofs),
    Step("A relayed call, traced", demo_trace.relayed_call_in_a_trace, (MARKET,), with_otel=True),
    Step("Regions witness each other's ledgers", witnessing),
    Step(
        "Usage batches exchanged and countersigned", demo_settle.exchange_batches, (MARKET, BATCHES)
    ),
    Step("The period is closed", demo_settle.close_period, (SETTLEMENT,)),
    Step("Statements signed by both sides", demo_settle.sign_statements, (SETTLEMENT,)),
    Step("Three-region netting", demo_settle.netting, (SETTLEMENT,)),
    Step("Reconciliation", demo_settle.reconcile, (RECONCILIATION,)),
]

OFFLINE_STEPS = [
    Step("Every ledger verifies from its stored bytes", verify_ledgers),
    Step("Receipts verified offline", verify_receipts_offline),
    Step(
        "One trace across two regions",
        demo_trace.trace_across_regions,
        (MARKET,),
        with_otel=True,
    ),
    Step("The day's report", demo_report.write_report),
]
