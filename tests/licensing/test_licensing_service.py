"""LicensingService on a real node (port 0), through the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bashu.common.v1 import common_pb2 as c
from bashu.licensing.v1 import licensing_pb2 as lp
from google.protobuf import json_format
from sqlalchemy import func, select

import clients
from ledger.note import Signer
from services.db import make_engine, session_scope
from services.models import LicenceRow
from services.node import build_node
from tests.catalog.market import Market, descriptor, personal_descriptor, unique

GRANTED, HELD = lp.LICENCE_REQUEST_STATE_GRANTED, lp.LICENCE_REQUEST_STATE_HELD
DENIED, REJECTED = lp.LICENCE_REQUEST_STATE_DENIED, lp.LICENCE_REQUEST_STATE_REJECTED


@contextmanager
def unchanged(market: Market) -> Iterator[None]:
    before = market.snapshot()
    yield
    assert market.snapshot() == before


def refused(
    market: Market, call: Callable[[], object], error: type[clients.BashuRpcError], reason: str
) -> clients.BashuRpcError:
    with unchanged(market), pytest.raises(error) as err:
        call()
    assert err.value.reason == reason, err.value
    return err.value


def listed(market: Market, d: Any | None = None, *, tariff: bool = True) -> str:
    cat = market.client("provider").catalog
    name = cat.create_product(d or descriptor(market), product_id=unique()).product.name
    if tariff:
        cat.create_tariff(
            name, unit="per-row", unit_price="0.0150", purpose_prices={"public-welfare": "0"}
        )
    return name


def ask(
    market: Market, product: str, who: str = "consumer", **terms: Any
) -> lp.CreateLicenceRequestResponse:
    args: dict[str, Any] = {
        "purpose_class": "commercial",
        "scenario_code": "FIN-CREDIT-01",
        "access_modes": ["bulk"],
        "quota": {"rows": 10_000},
        "valid_for": timedelta(days=30),
    }
    args.update(terms)
    return market.client(who).licensing.request_licence(product, **args)


def test_grant_at_once_is_signed_recorded_and_verifies_offline(market: Market) -> None:
    product = listed(market)
    size = market.node.ledger.size()
    made = ask(market, product, fields=["line_id"])
    request, licence = made.licence_request, made.licence
    assert request.state == GRANTED
    assert request.decision.outcome == lp.DECISION_OUTCOME_GRANT
    assert request.licence == licence.name
    assert licence.state == lp.LICENCE_STATE_ACTIVE
    assert licence.tariff == f"{product}/tariffs/1"
    assert licence.terms.product_revision == f"{product}/revisions/1"
    assert licence.terms.consumer_party == market.party("consumer")
    assert [m.field for m in licence.masking] == ["line_id"]
    # Offline: the region's key is all a consumer needs.
    document = clients.verify_licence(licence, market.vkey)
    assert document.licence == licence.name
    assert document.tariff == licence.tariff
    assert document.policy_version == "sc-policy/1"
    revision = market.client("consumer").catalog.get_revision(product, 1)
    assert document.descriptor_digest == revision.descriptor_digest
    assert licence.ledger_entry.index == size
    record = market.record(size)
    assert record.idempotency_key == f"licence-decision/{request.name}/policy"
    assert record.licence_decided.licence.document == licence.document
    assert record.licence_decided.decision.outcome == lp.DECISION_OUTCOME_GRANT
    assert market.client("consumer").licensing.get_licence(licence.name) == licence
    # The signed bytes alone are enough: copies are checked only when present.
    bare = lp.Licence(document=licence.document, signature=licence.signature)
    assert (
        clients.verify_licence(bare, [Signer.generate("bashu.exchange/log/cq").vkey(), market.vkey])
        == document
    )


@pytest.mark.parametrize(
    "twin",
    [
        "document byte",
        "signature byte",
        "other key",
        "other name",
        "terms copy",
        "tariff copy",
        "masking copy",
        "wrong key id",
    ],
)
def test_corrupted_licences_do_not_verify(market: Market, twin: str) -> None:
    licence = ask(market, listed(market, tariff=False)).licence
    bad = lp.Licence()
    bad.CopyFrom(licence)
    vkey = market.vkey
    if twin == "document byte":
        doc = bytearray(bad.document)
        doc[-1] ^= 1
        bad.document = bytes(doc)
    elif twin == "signature byte":
        sig = bytearray(bad.signature.signature)
        sig[0] ^= 1
        bad.signature.signature = bytes(sig)
    elif twin == "other key":
        vkey = Signer.generate("bashu.exchange/log/sc").vkey()
    elif twin == "other name":
        bad.name = "regions/sc/licences/l-someone-else"
    elif twin == "terms copy":
        bad.terms.quota.rows = 10**9
    elif twin == "tariff copy":
        bad.tariff = "regions/sc/products/p-cheap/tariffs/1"
    elif twin == "masking copy":
        bad.masking[0].rule = c.MASKING_RULE_REDACT
    elif twin == "wrong key id":
        bad.signature.key_id = "00000000"
    with pytest.raises(clients.VerificationError):
        clients.verify_licence(bad, vkey)


def test_hold_then_approve_or_reject(market: Market) -> None:
    product = listed(market, personal_descriptor(market))
    consumer = market.client("consumer").licensing
    provider = market.client("provider").licensing
    held = ask(market, product, unmasked_fields=["id_number"], justification="credit scoring")
    assert held.licence_request.state == HELD
    assert not held.HasField("licence")
    codes = [(r.code, r.effect) for r in held.licence_request.decision.reasons]
    # 'name' is PERSONAL (masked by its rule, no annotation); 'id_number' is asked in clear.
    assert codes == [
        ("SENSITIVE_FIELD_UNMASKED", lp.DECISION_OUTCOME_HOLD),
        ("PERSONAL_INFO_NEEDS_APPROVAL", lp.DECISION_OUTCOME_HOLD),
    ]
    name = held.licence_request.name
    assert consumer.follow_request(name, interval=0.01, timeout=0.05).state == HELD
    assert [r.name for r in provider.list_requests(states=["held"], product=product)] == [name]
    refused(
        market,
        lambda: market.client("provider2").licensing.approve(name),
        clients.PermissionDeniedError,
        "NOT_PRODUCT_OWNER",
    )
    refused(
        market,
        lambda: consumer.stub.ApproveLicenceRequest(
            lp.ApproveLicenceRequestRequest(name=name, request_id="x")
        ),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )
    approved = provider.approve(name, "ok for scoring", request_id=unique("approve"))
    assert approved.licence_request.state == GRANTED
    assert approved.licence_request.review.decider == market.party("provider")
    assert [r.code for r in approved.licence_request.review.reasons] == ["PROVIDER_APPROVED"]
    masking = {m.field: m.rule for m in approved.licence.masking}
    assert masking == {
        "person_id": c.MASKING_RULE_NONE,
        "name": c.MASKING_RULE_NAME,
        "id_number": c.MASKING_RULE_NONE,  # explicitly granted in clear
    }
    clients.verify_licence(approved.licence, market.vkey)
    assert consumer.follow_request(name).state == GRANTED
    review = market.record(approved.licence.ledger_entry.index)
    assert review.idempotency_key == f"licence-decision/{name}/review"
    refused(
        market,
        lambda: provider.approve(name),
        clients.FailedPreconditionError,
        "LICENCE_REQUEST_ALREADY_DECIDED",
    )
    second = ask(market, product).licence_request
    refused(
        market,
        lambda: provider.reject(second.name, ""),
        clients.InvalidArgumentError,
        "INVALID_ARGUMENT",
    )
    rejected = provider.reject(second.name, "purpose unclear")
    assert rejected.state == REJECTED
    assert rejected.review.reasons[0].code == "PROVIDER_REJECTED"
    refused(
        market,
        lambda: provider.approve(second.name),
        clients.FailedPreconditionError,
        "LICENCE_REQUEST_ALREADY_DECIDED",
    )


def test_denied_requests_are_answers_with_reasons(market: Market) -> None:
    product = listed(market, descriptor(market, limits={"max_quota": {"rows": 100}}))
    size = market.node.ledger.size()
    made = ask(
        market,
        product,
        purpose_class="research",
        fields=["line_id", "ghost"],
        access_modes=["bulk", "verify"],
        quota={"rows": 1_000},
    )
    request = made.licence_request
    assert request.state == DENIED
    assert not made.HasField("licence")
    assert {(r.code, r.field) for r in request.decision.reasons} == {
        ("PURPOSE_NOT_ALLOWED", "terms.purpose.purpose_class"),
        ("FIELD_UNKNOWN", "terms.fields[1]"),
        ("ACCESS_MODE_NOT_OFFERED", "terms.access_modes[1]"),
        ("QUOTA_ABOVE_LIMIT", "terms.quota.rows"),
    }
    # The refusal is on the ledger too.
    assert market.record(size).licence_decided.decision.outcome == lp.DECISION_OUTCOME_DENY
    abroad = lp.CrossBorder(
        destination_country="SG",
        approval_kind=c.APPROVAL_KIND_STANDARD_CONTRACT,
        approval_reference="SC-2026-7",
    )
    abroad.approval_expire_time.FromDatetime(datetime.now(UTC) + timedelta(days=90))
    gov = listed(market, personal_descriptor(market))
    cross = ask(market, gov, cross_border=abroad).licence_request
    assert cross.state == DENIED
    assert "CROSS_BORDER_NEEDS_SECURITY_ASSESSMENT" in [r.code for r in cross.decision.reasons]


def test_bad_terms_wrong_party_and_wrong_role_change_nothing(market: Market) -> None:
    product = listed(market, tariff=False)
    lic = market.client("consumer").licensing
    err = refused(
        market,
        lambda: ask(market, product, scenario_code="lower", access_modes=[], quota={"rows": -5}),
        clients.InvalidArgumentError,
        "INVALID_LICENCE_TERMS",
    )
    assert {v.field for v in err.field_violations} == {
        "licence_request.terms.purpose.scenario_code",
        "licence_request.terms.access_modes",
        "licence_request.terms.quota.rows",
    }
    raw = lic.stub

    def create(**terms: Any) -> Callable[[], object]:
        base: dict[str, Any] = {
            "product": product,
            "purpose": lp.Purpose(
                scenario_code="FIN-CREDIT-01", purpose_class=c.PURPOSE_CLASS_COMMERCIAL
            ),
            "access_modes": [c.ACCESS_MODE_BULK],
        }
        base.update(terms)
        request = lp.CreateLicenceRequestRequest(
            parent="regions/sc",
            licence_request=lp.LicenceRequest(terms=lp.LicenceTerms(**base)),
            request_id=unique(),
        )
        return lambda: raw.CreateLicenceRequest(request)

    refused(
        market,
        create(consumer_party=market.party("consumer2")),
        clients.PermissionDeniedError,
        "NOT_PARTY",
    )
    refused(
        market, create(access_modes=[42]), clients.InvalidArgumentError, "INVALID_LICENCE_TERMS"
    )
    refused(
        market,
        create(product="regions/sc/products/no-such"),
        clients.NotFoundError,
        "PRODUCT_NOT_FOUND",
    )
    refused(
        market,
        create(product_revision=f"{product}/revisions/9"),
        clients.NotFoundError,
        "REVISION_NOT_FOUND",
    )
    market.client("provider").catalog.update_product(product, descriptor(market, keywords=["v2"]))
    refused(
        market,
        create(product_revision=f"{product}/revisions/1"),
        clients.FailedPreconditionError,
        "REVISION_NOT_CURRENT",
    )
    refused(
        market,
        lambda: lic.request_licence(
            product.replace("regions/sc", "regions/cq"),
            purpose_class=1,
            scenario_code="X1",
            access_modes=[1],
            provider_region="cq",
        ),
        clients.UnavailableError,
        "PEER_UNAVAILABLE",
    )
    refused(
        market,
        lambda: ask(market, product, who="provider"),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )
    refused(
        market,
        lambda: lic.get_request("regions/sc/licenceRequests/r-nothere"),
        clients.NotFoundError,
        "LICENCE_REQUEST_NOT_FOUND",
    )
    refused(
        market,
        lambda: lic.get_licence("regions/sc/licences/l-nothere"),
        clients.NotFoundError,
        "LICENCE_NOT_FOUND",
    )
    # Idempotency: a retry returns the first result; another content is refused.
    request_id = unique("req")
    until = datetime.now(UTC) + timedelta(days=7)
    first = ask(market, product, request_id=request_id, valid_until=until)
    with unchanged(market):
        again = ask(market, product, request_id=request_id, valid_until=until)
    assert again.licence_request.name == first.licence_request.name
    assert again.licence == first.licence
    refused(
        market,
        lambda: ask(market, product, request_id=request_id, valid_until=until, quota={"rows": 1}),
        clients.InvalidArgumentError,
        "REQUEST_ID_REUSED",
    )


def test_concurrent_approvals_issue_exactly_one_licence(market: Market) -> None:
    product = listed(market, personal_descriptor(market))
    name = ask(market, product).licence_request.name
    size = market.node.ledger.size()
    results: list[object] = []
    barrier = threading.Barrier(4)

    def approve(i: int) -> None:
        with clients.connect(market.node.address, market.keys["provider"], region="sc") as own:
            barrier.wait()
            try:
                results.append(
                    own.licensing.approve(name, f"approval {i}", request_id=f"race-{i}-{name[-8:]}")
                )
            except clients.BashuRpcError as err:
                results.append(err)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if isinstance(r, lp.ApproveLicenceRequestResponse)]
    lost = [r for r in results if isinstance(r, clients.BashuRpcError)]
    assert len(won) == 1, results
    assert {e.reason for e in lost} == {"LICENCE_REQUEST_ALREADY_DECIDED"}
    assert len(lost) == 3
    engine = make_engine(market.db_url)
    try:
        with session_scope(engine) as session:
            count = session.scalar(
                select(func.count())
                .select_from(LicenceRow)
                .where(LicenceRow.licence_request_id == name.rsplit("/", 1)[1])
            )
    finally:
        engine.dispose()
    assert count == 1
    assert market.node.ledger.size() == size + 1


def test_licence_states_visibility_and_listing(market: Market) -> None:
    product = listed(market)
    provider, operator = market.client("provider").licensing, market.client("operator").licensing
    licence = ask(market, product).licence.name
    other = ask(market, product, who="consumer2").licence.name
    suspended = provider.suspend(licence, "audit", request_id=unique("s"))
    assert (suspended.state, suspended.state_reason) == (lp.LICENCE_STATE_SUSPENDED, "audit")
    refused(
        market,
        lambda: provider.suspend(licence, "again"),
        clients.FailedPreconditionError,
        "INVALID_STATE_TRANSITION",
    )
    assert operator.resume(licence).state == lp.LICENCE_STATE_ACTIVE
    refused(
        market,
        lambda: provider.suspend(licence, ""),
        clients.InvalidArgumentError,
        "INVALID_ARGUMENT",
    )
    refused(
        market,
        lambda: market.client("provider2").licensing.revoke(licence, "x"),
        clients.NotFoundError,
        "LICENCE_NOT_FOUND",
    )
    request_id = unique("revoke")
    revoked = provider.revoke(licence, "contract ended", request_id=request_id)
    with unchanged(market):
        assert provider.revoke(licence, "contract ended", request_id=request_id) == revoked
    assert revoked.state == lp.LICENCE_STATE_REVOKED
    refused(
        market,
        lambda: provider.resume(licence),
        clients.FailedPreconditionError,
        "INVALID_STATE_TRANSITION",
    )
    status = market.record(market.node.ledger.size() - 1).licence_status_changed
    assert (status.old_state, status.new_state) == (
        lp.LICENCE_STATE_ACTIVE,
        lp.LICENCE_STATE_REVOKED,
    )
    consumer, consumer2 = market.client("consumer").licensing, market.client("consumer2").licensing
    refused(
        market, lambda: consumer2.get_licence(licence), clients.NotFoundError, "LICENCE_NOT_FOUND"
    )
    mine = [x.name for x in consumer.list_licences(product=product, page_size=1)]
    assert mine == [licence]
    assert [x.name for x in provider.list_licences(product=product)] == [other, licence]
    assert [x.name for x in operator.list_licences(product=product, states=["revoked"])] == [
        licence
    ]
    assert [
        x.name
        for x in market.client("finance").licensing.list_licences(
            product=product, states=["active"]
        )
    ] == [other]


def test_policy_rules_are_listed_by_version(market: Market) -> None:
    lic = market.client("consumer").licensing
    version, rules = lic.policy_rules()
    assert version == "sc-policy/1"
    assert len(rules) == 14
    assert [r.rule_id for r in rules] == sorted(r.rule_id for r in rules)
    approval = next(r for r in rules if r.rule_id == "crossborder.approval")
    assert json_format.MessageToDict(approval.parameters)["approval_kinds"] == [
        "SECURITY_ASSESSMENT",
        "STANDARD_CONTRACT",
        "CERTIFICATION",
    ]
    page = lic.stub.ListPolicyRules(lp.ListPolicyRulesRequest(parent="regions/sc", page_size=5))
    assert len(page.policy_rules) == 5
    assert page.next_page_token
    refused(
        market,
        lambda: lic.policy_rules("sc-policy/9"),
        clients.NotFoundError,
        "POLICY_VERSION_NOT_FOUND",
    )


def test_a_retry_on_another_process_returns_the_first_result(market: Market) -> None:
    """Two node processes share one database: the request_id holds across them."""
    product = listed(market, tariff=False)
    request_id = unique("xproc")
    first = ask(market, product, request_id=request_id)
    second_node = build_node(dataclasses.replace(market.node.config))
    second_node.start()
    try:
        with clients.connect(second_node.address, market.keys["consumer"], region="sc") as other:
            again = other.licensing.request_licence(
                product,
                purpose_class="commercial",
                scenario_code="FIN-CREDIT-01",
                access_modes=["bulk"],
                quota={"rows": 10_000},
                valid_until=datetime.fromtimestamp(
                    first.licence_request.terms.validity.end_time.seconds
                    + first.licence_request.terms.validity.end_time.nanos / 1e9,
                    UTC,
                ),
                request_id=request_id,
            )
    finally:
        second_node.stop(grace=1.0)
    assert again.licence_request.name == first.licence_request.name
    assert again.licence.document == first.licence.document
