"""``bashu licence …``: request, follow, review and verify licences through a node.

::

    bashu licence request bus-lines --purpose-class commercial --scenario FIN-CREDIT-01 \\
        --mode bulk --rows 100000 --days 30 --save bus.licence
    bashu licence follow regions/sc/licenceRequests/r-…      # waits for the provider
    bashu licence approve regions/sc/licenceRequests/r-…     # as the provider
    bashu licence verify bus.licence --key "$(bashu node public-key --config …)"

``verify`` needs no node: it checks a saved licence against the provider region's
verifier key. A DENY is an answer, printed with its reasons (exit 0); refusals of
the call itself print one line and exit 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from clients.cli._common import console, fail
from clients.cli.product import client_options, enum_arg, enum_name, open_client, print_json, when

if TYPE_CHECKING:
    from bashu.licensing.v1 import licensing_pb2

__all__ = ["licence"]


def _state(value: int, kind: str = "request") -> str:
    from bashu.licensing.v1 import licensing_pb2

    if kind == "request":
        return enum_name(licensing_pb2.LicenceRequestState, "LICENCE_REQUEST_STATE_", value)
    return enum_name(licensing_pb2.LicenceState, "LICENCE_STATE_", value)


def _reasons_table(decision: Any) -> Table:
    from bashu.licensing.v1 import licensing_pb2

    table = Table("effect", "code", "rule", "field", "why")
    for r in decision.reasons:
        table.add_row(
            enum_name(licensing_pb2.DecisionOutcome, "DECISION_OUTCOME_", r.effect),
            r.code,
            f"{r.rule_id} v{r.rule_version}",
            r.field,
            r.message,
        )
    return table


def _print_request(request: licensing_pb2.LicenceRequest) -> None:
    from bashu.licensing.v1 import licensing_pb2

    decided = request.review if request.HasField("review") else request.decision
    outcome = enum_name(licensing_pb2.DecisionOutcome, "DECISION_OUTCOME_", decided.outcome)
    console.print(
        f"{request.name}: [bold]{_state(request.state)}[/] "
        f"({outcome} by {decided.decider}, {decided.policy_version})"
    )
    if decided.reasons:
        console.print(_reasons_table(decided))
    if request.licence:
        console.print(f"licence {request.licence}")


def _save(licence: licensing_pb2.Licence, path: Path | None) -> None:
    if path is not None:
        path.write_bytes(licence.SerializeToString())
        console.print(f"licence saved to {path} (check it with 'bashu licence verify')")


@click.group()
def licence() -> None:
    """Request, follow, review and verify licences."""


@licence.command("request")
@client_options
@click.argument("product")
@click.option("--purpose-class", required=True, help="commercial, public-welfare, …")
@click.option("--scenario", required=True, help="Scenario code, e.g. FIN-CREDIT-01.")
@click.option("--mode", "modes", multiple=True, required=True, help="bulk, lookup, verify.")
@click.option("--field", "fields", multiple=True, help="Field wanted (default: all).")
@click.option("--unmask", "unmasked", multiple=True, help="Sensitive field wanted in clear.")
@click.option("--calls", type=int, default=0, help="Quota of calls (0: unlimited).")
@click.option("--rows", type=int, default=0, help="Quota of rows (0: unlimited).")
@click.option("--bytes", "nbytes", type=int, default=0, help="Quota of bytes (0: unlimited).")
@click.option("--days", type=float, default=None, help="Validity in days from now.")
@click.option("--purpose", "description", default="", help="What the data is used for.")
@click.option("--justification", default="", help="Message to the provider.")
@click.option("--abroad", default="", help="Destination country (ISO code) for use abroad.")
@click.option("--approval-kind", default="", help="security-assessment, standard-contract, …")
@click.option("--approval-ref", default="", help="Reference of the approval.")
@click.option("--approval-expires", default="", help="ISO 8601 expiry of the approval.")
@click.option("--region", default=None, help="The provider's region (default: the node's).")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--request-id", default=None)
def request_cmd(
    node: str,
    api_key: str,
    product: str,
    purpose_class: str,
    scenario: str,
    modes: tuple[str, ...],
    fields: tuple[str, ...],
    unmasked: tuple[str, ...],
    calls: int,
    rows: int,
    nbytes: int,
    days: float | None,
    description: str,
    justification: str,
    abroad: str,
    approval_kind: str,
    approval_ref: str,
    approval_expires: str,
    region: str | None,
    save: Path | None,
    request_id: str | None,
) -> None:
    """Ask for a licence on PRODUCT; the provider's policy decides at once."""
    from bashu.common.v1 import common_pb2
    from bashu.licensing.v1 import licensing_pb2

    klass = enum_arg(common_pb2.PurposeClass, "PURPOSE_CLASS_", purpose_class, "--purpose-class")
    mode_values: list[str | int] = [
        enum_arg(common_pb2.AccessMode, "ACCESS_MODE_", m, "--mode") for m in modes
    ]
    cross_border = None
    if abroad:
        cross_border = licensing_pb2.CrossBorder(
            destination_country=abroad.upper(),
            approval_kind=(
                enum_arg(
                    common_pb2.ApprovalKind, "APPROVAL_KIND_", approval_kind, "--approval-kind"
                )  # type: ignore[arg-type]
                if approval_kind
                else 0
            ),
            approval_reference=approval_ref,
        )
        if approval_expires:
            try:
                expiry = datetime.fromisoformat(approval_expires)
            except ValueError:
                raise click.BadParameter(
                    "not an ISO 8601 time", param_hint="--approval-expires"
                ) from None
            cross_border.approval_expire_time.FromDatetime(
                expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
            )
    with open_client(node, api_key) as client:
        made = client.licensing.request_licence(
            product,
            purpose_class=klass,
            scenario_code=scenario,
            access_modes=mode_values,
            fields=fields,
            unmasked_fields=unmasked,
            quota={"calls": calls, "rows": rows, "bytes": nbytes},
            valid_for=timedelta(days=days) if days is not None else None,
            purpose_description=description,
            cross_border=cross_border,
            justification=justification,
            provider_region=region,
            request_id=request_id,
        )
    _print_request(made.licence_request)
    if made.HasField("licence"):
        _save(made.licence, save)


@licence.command("requests")
@client_options
@click.option("--state", "states", multiple=True, help="held, granted, denied, rejected, expired")
@click.option("--product", default="")
@click.option("--json", "as_json", is_flag=True)
def requests_cmd(
    node: str, api_key: str, states: tuple[str, ...], product: str, as_json: bool
) -> None:
    """Licence requests you may see (yours, or on your products), newest first."""
    with open_client(node, api_key) as client:
        found = list(client.licensing.list_requests(states=states, product=product))
    if as_json:
        print_json(found)
        return
    table = Table("request", "product", "consumer", "purpose", "state", "decided by", "asked")
    for r in found:
        decided = r.review if r.HasField("review") else r.decision
        table.add_row(
            r.name,
            r.terms.product.rsplit("/", 1)[-1],
            r.terms.consumer_party,
            r.terms.purpose.scenario_code,
            _state(r.state),
            decided.decider,
            when(r.create_time),
        )
    console.print(table)


@licence.command("show-request")
@client_options
@click.argument("name")
def show_request_cmd(node: str, api_key: str, name: str) -> None:
    """One licence request with every reason of its decision."""
    with open_client(node, api_key) as client:
        _print_request(client.licensing.get_request(name))


@licence.command("follow")
@client_options
@click.argument("name")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds.")
def follow_cmd(node: str, api_key: str, name: str, timeout: float, interval: float) -> None:
    """Wait until the provider decides a held request."""
    with open_client(node, api_key) as client:
        request = client.licensing.follow_request(name, interval=interval, timeout=timeout)
    _print_request(request)
    from bashu.licensing.v1 import licensing_pb2

    if request.state == licensing_pb2.LICENCE_REQUEST_STATE_HELD:
        fail(f"still held after {timeout:g} s")


@licence.command("approve")
@client_options
@click.argument("name")
@click.option("--comment", default="")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--request-id", default=None)
def approve_cmd(
    node: str, api_key: str, name: str, comment: str, save: Path | None, request_id: str | None
) -> None:
    """Approve a held request on your product (issues the signed licence)."""
    with open_client(node, api_key) as client:
        made = client.licensing.approve(name, comment, request_id=request_id)
    _print_request(made.licence_request)
    _save(made.licence, save)


@licence.command("reject")
@client_options
@click.argument("name")
@click.option("--reason", required=True)
@click.option("--request-id", default=None)
def reject_cmd(node: str, api_key: str, name: str, reason: str, request_id: str | None) -> None:
    """Reject a held request on your product."""
    with open_client(node, api_key) as client:
        _print_request(client.licensing.reject(name, reason, request_id=request_id))


def _licences_table(licences: Iterable[Any]) -> Table:
    table = Table("licence", "product", "consumer", "state", "tariff", "valid until", "granted")
    for lic in licences:
        t = lic.terms
        table.add_row(
            lic.name,
            t.product.rsplit("/", 1)[-1] + " r" + t.product_revision.rsplit("/", 1)[-1],
            t.consumer_party,
            _state(lic.state, "licence"),
            lic.tariff.rsplit("/", 1)[-1] if lic.tariff else "free",
            when(t.validity.end_time) or "open",
            when(lic.grant_time),
        )
    return table


@licence.command("list")
@client_options
@click.option("--state", "states", multiple=True, help="active, suspended, revoked, expired")
@click.option("--product", default="")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(node: str, api_key: str, states: tuple[str, ...], product: str, as_json: bool) -> None:
    """Licences you hold (consumers) or granted on your products (providers)."""
    with open_client(node, api_key) as client:
        found = list(client.licensing.list_licences(states=states, product=product))
    if as_json:
        print_json(found)
        return
    console.print(_licences_table(found))


@licence.command("show")
@client_options
@click.argument("name")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), default=None)
def show_cmd(node: str, api_key: str, name: str, save: Path | None) -> None:
    """One licence: terms, masking, quota used."""
    from bashu.common.v1 import common_pb2

    with open_client(node, api_key) as client:
        lic = client.licensing.get_licence(name)
    console.print(_licences_table([lic]))
    masking = Table("field", "masking")
    for m in lic.masking:
        masking.add_row(m.field, enum_name(common_pb2.MaskingRule, "MASKING_RULE_", m.rule))
    console.print(masking)
    used = lic.quota_used
    console.print(f"used: {used.calls} calls, {used.rows} rows, {used.bytes} bytes")
    _save(lic, save)


def _status_command(action: str, reason_required: bool) -> Any:
    @client_options
    @click.argument("name")
    @click.option("--reason", required=reason_required, default="")
    @click.option("--request-id", default=None)
    def command(node: str, api_key: str, name: str, reason: str, request_id: str | None) -> None:
        with open_client(node, api_key) as client:
            lic = getattr(client.licensing, action)(name, reason, request_id=request_id)
        console.print(f"{lic.name} is {_state(lic.state, 'licence')}")

    return command


licence.command("suspend", help="Suspend a licence (provider or operator).")(
    _status_command("suspend", True)
)
licence.command("resume", help="Resume a suspended licence.")(_status_command("resume", False))
licence.command("revoke", help="Revoke a licence for good.")(_status_command("revoke", True))


@licence.command("verify")
@click.argument("licence_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "vkeys", multiple=True, required=True, help="Region verifier key(s).")
def verify_cmd(licence_file: Path, vkeys: tuple[str, ...]) -> None:
    """Check a saved licence offline: exit 0 if the region signed it, 1 otherwise."""
    from bashu.licensing.v1 import licensing_pb2
    from google.protobuf.message import DecodeError

    from clients.sdk.errors import VerificationError
    from clients.sdk.licensing import verify_licence

    lic = licensing_pb2.Licence()
    try:
        lic.ParseFromString(licence_file.read_bytes())
        document = verify_licence(lic, list(vkeys))
    except (OSError, DecodeError, VerificationError) as exc:
        fail(f"invalid: {exc}")
        return
    t = document.terms
    console.print(f"[green]valid[/] {document.licence} signed by {lic.signature.key_name}")
    console.print(f"  product   {t.product_revision}")
    console.print(f"  consumer  {t.consumer_party} ({t.consumer_region})")
    console.print(f"  tariff    {document.tariff or 'none (free)'}")
    console.print(f"  mapping   {document.standard_mapping or 'none'}")
    console.print(f"  policy    {document.policy_version}")


@licence.command("rules")
@client_options
@click.option("--version", "policy_version", default="", help="Rule set, e.g. sc-policy/1.")
def rules_cmd(node: str, api_key: str, policy_version: str) -> None:
    """The policy engine's rules (rules are data, versioned)."""
    from bashu.licensing.v1 import licensing_pb2

    with open_client(node, api_key) as client:
        version, rules = client.licensing.policy_rules(policy_version)
    table = Table("rule", "version", "effect", "reason codes", "what it checks", title=version)
    for r in rules:
        table.add_row(
            r.rule_id,
            str(r.version),
            enum_name(licensing_pb2.RuleEffect, "RULE_EFFECT_", r.effect),
            ", ".join(r.reason_codes),
            r.description.en,
        )
    console.print(table)
