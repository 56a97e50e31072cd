"""``bashu product …``: list, find, revise and price data products through a node.

Every command talks to a running node with a party's API key::

    export BASHU_NODE=127.0.0.1:50051 BASHU_API_KEY=bsk_…
    bashu product create --descriptor bus-lines.json --id bus-lines
    bashu product tariff publish bus-lines --unit per-row --price 0.0150 \\
        --purpose-price public-welfare=0
    bashu product list --text 公交 --category transport
    bashu product show bus-lines --code-region cq

Lists print tables (``--json`` prints the messages in the protobuf JSON mapping for
scripts). Refusals print one line with the reason and exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from clients.cli._common import console

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
    from google.protobuf.message import Message

    from clients.sdk.client import Client

__all__ = ["client_options", "open_client", "print_json", "product", "when"]

F = TypeVar("F", bound=Callable[..., Any])


def client_options(fn: F) -> F:
    """``--node`` and ``--api-key`` (also from BASHU_NODE / BASHU_API_KEY)."""
    fn = click.option(
        "--api-key",
        envvar="BASHU_API_KEY",
        required=True,
        help="The party's API key (env BASHU_API_KEY).",
    )(fn)
    fn = click.option(
        "--node",
        envvar="BASHU_NODE",
        default="127.0.0.1:50051",
        show_default=True,
        help="HOST:PORT of the node (env BASHU_NODE).",
    )(fn)
    return fn


def open_client(node: str, api_key: str) -> Client:
    from clients.sdk.client import connect

    return connect(node, api_key)


def enum_arg(wrapper: EnumTypeWrapper, prefix: str, value: str, option: str) -> int:
    """An enum value from a CLI word, or a usage error naming the accepted words."""
    from clients.sdk.catalog import enum_value

    try:
        return enum_value(wrapper, prefix, value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def enum_name(wrapper: Any, prefix: str, value: int) -> str:
    """``common_pb2.Category``, "CATEGORY_", 5 → "transport" (the number if unknown)."""
    try:
        return str(wrapper.Name(value)).removeprefix(prefix).lower().replace("_", "-")
    except ValueError:
        return str(value)


def when(ts: Any) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    moment: datetime = ts.ToDatetime(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def print_json(messages: Iterable[Message]) -> None:
    from google.protobuf import json_format

    items = [json_format.MessageToDict(m) for m in messages]
    import json

    sys.stdout.write(json.dumps(items, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def _read_descriptor(path: Path) -> Any:
    from google.protobuf.json_format import ParseError

    from clients.sdk.catalog import descriptor_from_json

    try:
        return descriptor_from_json(path.read_text(encoding="utf-8"))
    except (OSError, ParseError) as exc:
        raise click.BadParameter(str(exc), param_hint="--descriptor") from None


def _filter_options(fn: F) -> F:
    for name, help_text in reversed(
        [
            ("--category", "Category (repeatable), e.g. transport."),
            ("--grade", "Data grade (repeatable): important, general."),
            ("--pi", "Personal-information class (repeatable): none, personal, …"),
            ("--source", "Source class (repeatable): government, public, social."),
            ("--mode", "Access mode offered (repeatable): bulk, lookup, verify."),
        ]
    ):
        fn = click.option(name, "multi_" + name.strip("-"), multiple=True, help=help_text)(fn)
    fn = click.option("--text", default="", help="Substring of title, description, keywords.")(fn)
    fn = click.option("--element-code", default="", help="Products with a field of this code.")(fn)
    fn = click.option(
        "--code-region",
        default="",
        help="Region whose standard --element-code is in; also shows codes in it.",
    )(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(fn)
    return fn


def _product_filter(client: Client, opts: dict[str, Any], states: Sequence[str] = ()) -> Any:
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2

    def many(key: str, wrapper: Any, prefix: str) -> list[Any]:
        return [enum_arg(wrapper, prefix, v, "--" + key) for v in opts.get("multi_" + key, ())]

    wanted: list[Any] = [
        enum_arg(catalog_pb2.ProductState, "PRODUCT_STATE_", s, "--state") for s in states
    ]
    return catalog_pb2.ProductFilter(
        categories=many("category", common_pb2.Category, "CATEGORY_"),
        data_grades=many("grade", common_pb2.DataGrade, "DATA_GRADE_"),
        personal_info_classes=many("pi", common_pb2.PersonalInfoClass, "PERSONAL_INFO_CLASS_"),
        source_classes=many("source", common_pb2.SourceClass, "SOURCE_CLASS_"),
        access_modes=many("mode", common_pb2.AccessMode, "ACCESS_MODE_"),
        states=wanted,
        text=opts["text"],
        element_code=opts["element_code"],
        element_code_region=opts["code_region"] if opts["element_code"] else "",
        provider=opts.get("provider", ""),
    )


def _products_table(products: Iterable[Any], title: str = "") -> Table:
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2

    table = Table("product", "title", "category", "grade", "PI", "state", "tariff", "listed")
    if title:
        table.title = title
    for p in products:
        d = p.descriptor
        table.add_row(
            p.name,
            d.title.zh + (f" / {d.title.en}" if d.title.en else ""),
            enum_name(common_pb2.Category, "CATEGORY_", d.category),
            enum_name(common_pb2.DataGrade, "DATA_GRADE_", d.data_grade),
            enum_name(common_pb2.PersonalInfoClass, "PERSONAL_INFO_CLASS_", d.personal_info_class),
            enum_name(catalog_pb2.ProductState, "PRODUCT_STATE_", p.state),
            p.current_tariff.rsplit("/", 1)[-1] if p.current_tariff else "-",
            when(p.create_time),
        )
    return table


@click.group()
def product() -> None:
    """List, find, revise and price data products (providers, consumers, operators)."""


@product.command("create")
@client_options
@click.option(
    "--descriptor",
    "descriptor_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="ProductDescriptor in the protobuf JSON mapping.",
)
@click.option("--id", "product_id", default="", help="Product id (default: chosen by the node).")
@click.option("--note", default="", help="Change note of revision 1.")
@click.option("--request-id", default=None, help="Idempotency key (default: a new UUID).")
def create_cmd(
    node: str,
    api_key: str,
    descriptor_file: Path,
    product_id: str,
    note: str,
    request_id: str | None,
) -> None:
    """List a product (you are its provider)."""
    descriptor = _read_descriptor(descriptor_file)
    with open_client(node, api_key) as client:
        made = client.catalog.create_product(
            descriptor, product_id=product_id, change_note=note, request_id=request_id
        )
    console.print(
        f"listed [bold]{made.product.name}[/] revision 1 "
        f"(ledger entry {made.revision.ledger_entry.index})"
    )


@product.command("list")
@client_options
@_filter_options
@click.option("--state", "states", multiple=True, help="States (repeatable; default active).")
@click.option("--provider", default="", help="Only this provider party (regions/…/parties/…).")
def list_cmd(node: str, api_key: str, states: tuple[str, ...], **opts: Any) -> None:
    """This region's products, oldest listing first (providers add --state to see
    their unlisted and suspended ones)."""
    with open_client(node, api_key) as client:
        query = _product_filter(client, opts, states)
        products = list(
            client.catalog.list_products(query, element_code_region=opts["code_region"])
        )
    if opts["as_json"]:
        print_json(products)
        return
    console.print(_products_table(products))


@product.command("search")
@client_options
@_filter_options
@click.option("--region", "regions", multiple=True, help="Regions to search (default: all).")
def search_cmd(node: str, api_key: str, regions: tuple[str, ...], **opts: Any) -> None:
    """Search the federated catalog (this region and its peers)."""
    with open_client(node, api_key) as client:
        query = _product_filter(client, opts)
        response = client.catalog.search_products(
            query, regions=list(regions), element_code_region=opts["code_region"]
        )
    if opts["as_json"]:
        print_json(response.products)
        return
    console.print(_products_table(response.products))
    for status in response.peer_statuses:
        if status.state != 1:
            console.print(f"[yellow]region {status.region}: {status.detail or 'no answer'}[/]")
    if response.degraded:
        console.print("[yellow]results may be incomplete (a region did not answer)[/]")


@product.command("show")
@client_options
@click.argument("name")
@click.option("--code-region", default="", help="Also show element codes in this region's.")
@click.option("--json", "as_json", is_flag=True)
def show_cmd(node: str, api_key: str, name: str, code_region: str, as_json: bool) -> None:
    """One product, its descriptor and its fields."""
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2

    with open_client(node, api_key) as client:
        p = client.catalog.get_product(name, element_code_region=code_region)
    if as_json:
        print_json([p])
        return
    d = p.descriptor
    console.print(_products_table([p]))
    console.print(f"revision {p.current_revision}  etag {p.etag}")
    fields = Table("field", "type", "element code", "sensitivity", "masking", "description")
    if code_region:
        fields.add_column(f"code in {code_region}")
    for f in d.fields:
        row = [
            f.name,
            enum_name(catalog_pb2.FieldType, "FIELD_TYPE_", f.type),
            f.element_code,
            enum_name(common_pb2.FieldSensitivity, "FIELD_SENSITIVITY_", f.sensitivity),
            enum_name(common_pb2.MaskingRule, "MASKING_RULE_", f.default_masking),
            f.description.zh,
        ]
        if code_region:
            row.append(p.mapped_element_codes.get(f.name, "-"))
        fields.add_row(*row)
    console.print(fields)


@product.command("update")
@client_options
@click.argument("name")
@click.option(
    "--descriptor",
    "descriptor_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--mask", "paths", multiple=True, help="Descriptor path to change (repeatable).")
@click.option("--etag", default="", help="Fail if the product changed since this etag.")
@click.option("--note", default="")
@click.option("--request-id", default=None)
def update_cmd(
    node: str,
    api_key: str,
    name: str,
    descriptor_file: Path,
    paths: tuple[str, ...],
    etag: str,
    note: str,
    request_id: str | None,
) -> None:
    """Make a new revision of your product."""
    descriptor = _read_descriptor(descriptor_file)
    with open_client(node, api_key) as client:
        made = client.catalog.update_product(
            name,
            descriptor,
            update_mask=paths,
            etag=etag,
            change_note=note,
            request_id=request_id,
        )
    console.print(f"{made.product.name} is now at {made.revision.name}")


def _state_command(action: str, reason_required: bool) -> Callable[..., None]:
    @client_options
    @click.argument("name")
    @click.option("--reason", required=reason_required, default="")
    @click.option("--request-id", default=None)
    def command(node: str, api_key: str, name: str, reason: str, request_id: str | None) -> None:
        with open_client(node, api_key) as client:
            method = getattr(client.catalog, f"{action}_product")
            p = method(name, reason, request_id=request_id)
        from bashu.catalog.v1 import catalog_pb2

        console.print(
            f"{p.name} is {enum_name(catalog_pb2.ProductState, 'PRODUCT_STATE_', p.state)}"
        )

    return command


product.command("unlist", help="Unlist your product (existing licences run on).")(
    _state_command("unlist", False)
)
product.command("suspend", help="Suspend a product (operators).")(_state_command("suspend", True))
product.command("resume", help="List an unlisted product again, or lift a suspension.")(
    _state_command("resume", False)
)


@product.command("revisions")
@client_options
@click.argument("name")
def revisions_cmd(node: str, api_key: str, name: str) -> None:
    """A product's revisions, oldest first."""
    table = Table("revision", "created", "by", "note", "digest", "ledger entry")
    with open_client(node, api_key) as client:
        for r in client.catalog.list_revisions(name):
            table.add_row(
                r.name.rsplit("/", 1)[-1],
                when(r.create_time),
                r.creator.rsplit("/", 1)[-1],
                r.change_note,
                r.descriptor_digest.hex()[:16],
                str(r.ledger_entry.index) if r.HasField("ledger_entry") else "-",
            )
    console.print(table)


# --- tariffs -------------------------------------------------------------------------


@product.group()
def tariff() -> None:
    """Versioned tariffs of a product."""


@tariff.command("publish")
@client_options
@click.argument("name")
@click.option("--unit", required=True, help="per-call, per-row, per-mib or free.")
@click.option("--price", default="", help="Decimal price per unit in yuan, e.g. 0.0150.")
@click.option(
    "--purpose-price",
    "purpose_prices",
    multiple=True,
    help="CLASS=PRICE for one purpose class (repeatable), e.g. public-welfare=0.",
)
@click.option("--effective", default=None, help="ISO 8601 time it takes effect (default: now).")
@click.option("--request-id", default=None)
def tariff_publish_cmd(
    node: str,
    api_key: str,
    name: str,
    unit: str,
    price: str,
    purpose_prices: tuple[str, ...],
    effective: str | None,
    request_id: str | None,
) -> None:
    """Publish the next tariff version of your product."""
    prices: dict[str | int, str] = {}
    for item in purpose_prices:
        klass, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not CLASS=PRICE", param_hint="--purpose-price")
        prices[klass] = value
    moment = _iso(effective, "--effective") if effective else None
    from bashu.catalog.v1 import catalog_pb2

    unit_value = enum_arg(catalog_pb2.TariffUnit, "TARIFF_UNIT_", unit, "--unit")
    with open_client(node, api_key) as client:
        t = client.catalog.create_tariff(
            name,
            unit=unit_value,
            unit_price=price,
            purpose_prices=prices,
            effective_time=moment,
            request_id=request_id,
        )
    console.print(f"published {t.name} from {when(t.effective_time)}")


def _iso(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@tariff.command("list")
@client_options
@click.argument("name")
def tariff_list_cmd(node: str, api_key: str, name: str) -> None:
    """A product's tariff versions, oldest first."""
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2

    table = Table("version", "unit", "price (CNY)", "purpose prices", "effective", "ledger entry")
    with open_client(node, api_key) as client:
        for t in client.catalog.list_tariffs(name):
            table.add_row(
                t.name.rsplit("/", 1)[-1],
                enum_name(catalog_pb2.TariffUnit, "TARIFF_UNIT_", t.unit),
                t.unit_price,
                ", ".join(
                    f"{enum_name(common_pb2.PurposeClass, 'PURPOSE_CLASS_', p.purpose_class)}="
                    f"{p.unit_price}"
                    for p in t.purpose_prices
                ),
                when(t.effective_time),
                str(t.ledger_entry.index),
            )
    console.print(table)


# --- price ceilings and standard mappings (operators) --------------------------------------


@product.group()
def ceiling() -> None:
    """The region's price ceilings (operators set them)."""


@ceiling.command("set")
@client_options
@click.option("--unit", required=True, help="per-call, per-row or per-mib.")
@click.option("--max", "max_price", required=True, help="Highest decimal price per unit.")
@click.option("--category", default="", help="Only this category (default: all).")
@click.option("--request-id", default=None)
def ceiling_set_cmd(
    node: str, api_key: str, unit: str, max_price: str, category: str, request_id: str | None
) -> None:
    """Set (or replace) a price ceiling."""
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2

    unit_value = enum_arg(catalog_pb2.TariffUnit, "TARIFF_UNIT_", unit, "--unit")
    cat = enum_arg(common_pb2.Category, "CATEGORY_", category, "--category") if category else 0
    with open_client(node, api_key) as client:
        c = client.catalog.set_price_ceiling(
            unit=unit_value, max_unit_price=max_price, category=cat, request_id=request_id
        )
    console.print(f"ceiling {c.name} = {c.max_unit_price} {c.currency_code}")


@ceiling.command("list")
@client_options
def ceiling_list_cmd(node: str, api_key: str) -> None:
    """The ceilings in force."""
    table = Table("ceiling", "max price (CNY)", "set by", "set at")
    with open_client(node, api_key) as client:
        for c in client.catalog.list_price_ceilings():
            table.add_row(c.name, c.max_unit_price, c.creator, when(c.create_time))
    console.print(table)


@product.group()
def mapping() -> None:
    """Mutual recognition: mappings between a peer region's element codes and ours."""


@mapping.command("load")
@client_options
@click.argument("mapping_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--request-id", default=None)
def mapping_load_cmd(node: str, api_key: str, mapping_file: Path, request_id: str | None) -> None:
    """Load a mapping version (a StandardMapping in the protobuf JSON mapping)."""
    from bashu.catalog.v1 import catalog_pb2
    from google.protobuf import json_format

    try:
        spec = json_format.Parse(
            mapping_file.read_text(encoding="utf-8"), catalog_pb2.StandardMapping()
        )
    except (OSError, json_format.ParseError) as exc:
        raise click.BadParameter(str(exc), param_hint="MAPPING_FILE") from None
    with open_client(node, api_key) as client:
        m = client.catalog.create_standard_mapping(
            spec.peer_region,
            list(spec.entries),
            peer_standard_version=spec.peer_standard_version,
            local_standard_version=spec.local_standard_version,
            version=spec.version,
            effective_time=spec.effective_time.ToDatetime(tzinfo=UTC)
            if spec.HasField("effective_time")
            else None,
            request_id=request_id,
        )
    console.print(f"loaded {m.name} ({len(m.entries)} codes)")


@mapping.command("list")
@client_options
@click.option("--peer", default="", help="Only this peer region.")
def mapping_list_cmd(node: str, api_key: str, peer: str) -> None:
    """Mapping versions, by peer region and version."""
    table = Table("mapping", "peer standard", "local standard", "codes", "in force", "effective")
    with open_client(node, api_key) as client:
        for m in client.catalog.list_standard_mappings(peer_region=peer):
            table.add_row(
                m.name,
                m.peer_standard_version,
                m.local_standard_version,
                str(len(m.entries)),
                "yes" if m.in_force else "",
                when(m.effective_time),
            )
    console.print(table)
