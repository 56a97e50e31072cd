"""CatalogService on a real node (port 0), through the SDK, on SQLite and PostgreSQL.

Every refused call is checked for its status code, its ErrorInfo reason, and that
it changed nothing: the ledger size and every catalog/licensing table's row count
are the same before and after.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2 as c

import clients
from tests.catalog.market import Market, descriptor, field_spec, unique


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


def create(
    market: Market,
    who: str = "provider",
    product_id: str = "",
    change_note: str = "",
    **changes: object,
) -> catalog_pb2.CreateProductResponse:
    return market.client(who).catalog.create_product(
        descriptor(market, who, **changes),
        product_id=product_id or unique(),
        change_note=change_note,
    )


def test_listing_is_recorded_with_its_revision_digest(market: Market) -> None:
    size = market.node.ledger.size()
    made = create(market, product_id=unique("bus"), change_note="first")
    p, rev = made.product, made.revision
    assert p.state == catalog_pb2.PRODUCT_STATE_ACTIVE
    assert p.current_revision == rev.name == f"{p.name}/revisions/1"
    assert p.provider == market.party("provider")
    assert (
        rev.descriptor_digest
        == hashlib.sha256(rev.descriptor.SerializeToString(deterministic=True)).digest()
    )
    entry = rev.ledger_entry
    assert (entry.origin, entry.index) == ("bashu.exchange/log/sc", size)
    record = market.record(entry.index)
    assert record.WhichOneof("payload") == "product_listed"
    assert record.idempotency_key == f"product/{rev.name}"
    assert record.actor == market.party("provider")
    assert record.product_listed.revision.descriptor_digest == rev.descriptor_digest
    # Everyone may read an ACTIVE product; the consumer sees what the provider listed.
    seen = market.client("consumer").catalog.get_product(p.name)
    assert seen.descriptor == rev.descriptor
    assert market.client("consumer").catalog.get_revision(p.name, 1) == rev


def test_create_is_idempotent_and_a_reused_request_id_is_refused(market: Market) -> None:
    cat = market.client("provider").catalog
    d = descriptor(market)
    product_id, request_id = unique(), unique("req")
    first = cat.create_product(d, product_id=product_id, request_id=request_id)
    with unchanged(market):
        again = cat.create_product(d, product_id=product_id, request_id=request_id)
    assert again.revision == first.revision
    other = descriptor(market, title=c.LocalizedText(zh="别的"))
    refused(
        market,
        lambda: cat.create_product(other, product_id=product_id, request_id=request_id),
        clients.InvalidArgumentError,
        "REQUEST_ID_REUSED",
    )
    refused(
        market,
        lambda: cat.create_product(d, product_id=product_id),
        clients.AlreadyExistsError,
        "PRODUCT_ALREADY_EXISTS",
    )
    # The idempotency key is the caller's: another provider's identical id is fresh.
    other_provider = market.client("provider2").catalog
    made = other_provider.create_product(descriptor(market, "provider2"), request_id=request_id)
    assert made.product.provider == market.party("provider2")


def test_bad_descriptors_wrong_owner_and_wrong_role_change_nothing(market: Market) -> None:
    cat = market.client("provider").catalog
    bad = descriptor(
        market,
        title=c.LocalizedText(zh="", en="x" * 300),
        category=99,
        fields=[
            field_spec("Bad", ""),
            field_spec("ok", "C-1", c.FIELD_SENSITIVITY_SENSITIVE_PERSONAL),
        ],
        access_modes=[],
    )
    err = refused(
        market, lambda: cat.create_product(bad), clients.InvalidArgumentError, "INVALID_DESCRIPTOR"
    )
    assert {v.field for v in err.field_violations} == {
        "descriptor.title.zh",
        "descriptor.title.en",
        "descriptor.category",
        "descriptor.fields[0].name",
        "descriptor.fields[0].element_code",
        "descriptor.fields[1].default_masking",
        "descriptor.personal_info_class",
        "descriptor.access_modes",
        "descriptor.key_fields[0]",
    }
    oversized = descriptor(market, description=c.LocalizedText(zh="长" * 10_001))
    refused(
        market,
        lambda: cat.create_product(oversized),
        clients.InvalidArgumentError,
        "INVALID_DESCRIPTOR",
    )
    core = descriptor(market, data_grade=c.DATA_GRADE_CORE)
    refused(
        market,
        lambda: cat.create_product(core),
        clients.FailedPreconditionError,
        "CORE_DATA_NOT_LISTABLE",
    )
    someone_else = descriptor(market, "provider2")
    refused(
        market,
        lambda: cat.create_product(someone_else),
        clients.PermissionDeniedError,
        "NOT_PRODUCT_OWNER",
    )
    raw = cat.stub
    ok = descriptor(market)
    refused(
        market,
        lambda: raw.CreateProduct(
            catalog_pb2.CreateProductRequest(parent="regions/cq", descriptor=ok, request_id="r1")
        ),
        clients.FailedPreconditionError,
        "NOT_THIS_REGION",
    )
    refused(
        market,
        lambda: raw.CreateProduct(
            catalog_pb2.CreateProductRequest(parent="sc", descriptor=ok, request_id="r1")
        ),
        clients.InvalidArgumentError,
        "INVALID_NAME",
    )
    refused(
        market,
        lambda: raw.CreateProduct(
            catalog_pb2.CreateProductRequest(parent="regions/sc", descriptor=ok)
        ),
        clients.InvalidArgumentError,
        "REQUEST_ID_REQUIRED",
    )
    refused(
        market,
        lambda: cat.create_product(ok, product_id="Not An Id"),
        clients.InvalidArgumentError,
        "INVALID_ARGUMENT",
    )
    consumer = market.client("consumer").catalog
    refused(
        market,
        lambda: consumer.create_product(ok),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )


def test_revisions_are_immutable_and_updates_check_owner_and_etag(market: Market) -> None:
    cat = market.client("provider").catalog
    made = create(market)
    name = made.product.name
    new_title = descriptor(market, title=c.LocalizedText(zh="成都公交线路（新）", en="New"))
    updated = cat.update_product(
        name, new_title, update_mask=["title"], etag=made.product.etag, change_note="rename"
    )
    assert updated.revision.name == f"{name}/revisions/2"
    assert updated.product.descriptor.title.zh == "成都公交线路（新）"
    assert updated.product.descriptor.fields == made.revision.descriptor.fields
    assert cat.get_revision(name, 1) == made.revision
    assert [r.name.rsplit("/", 1)[1] for r in cat.list_revisions(name, page_size=1)] == ["1", "2"]
    record = market.record(updated.revision.ledger_entry.index)
    assert record.product_revised.previous_revision == f"{name}/revisions/1"
    refused(
        market,
        lambda: cat.update_product(name, new_title, update_mask=["title"], etag=made.product.etag),
        clients.BashuRpcError,
        "ETAG_MISMATCH",
    )
    assert cat.get_product(name).etag == updated.product.etag
    moved = descriptor(market, provider=market.party("provider2"))
    refused(
        market,
        lambda: cat.update_product(name, moved, update_mask=["provider"]),
        clients.InvalidArgumentError,
        "IMMUTABLE_FIELD",
    )
    refused(
        market,
        lambda: cat.update_product(name, new_title, update_mask=["nope"]),
        clients.InvalidArgumentError,
        "INVALID_ARGUMENT",
    )
    broken = descriptor(market, fields=[])
    refused(
        market,
        lambda: cat.update_product(name, broken, update_mask=["fields"]),
        clients.InvalidArgumentError,
        "INVALID_DESCRIPTOR",
    )
    other = market.client("provider2").catalog
    refused(
        market,
        lambda: other.update_product(name, new_title),
        clients.PermissionDeniedError,
        "NOT_PRODUCT_OWNER",
    )
    # A full replacement may leave provider and region out.
    replacement = descriptor(market, keywords=["replaced"])
    replacement.ClearField("provider")
    replacement.ClearField("region")
    assert cat.update_product(name, replacement).product.descriptor.keywords == ["replaced"]


def test_unlist_suspend_resume_state_machine(market: Market) -> None:
    provider, operator = market.client("provider").catalog, market.client("operator").catalog
    consumer = market.client("consumer").catalog
    name = create(market).product.name
    assert provider.unlist_product(name, "data refresh").state == catalog_pb2.PRODUCT_STATE_UNLISTED
    refused(market, lambda: consumer.get_product(name), clients.NotFoundError, "PRODUCT_NOT_FOUND")
    assert provider.get_product(name).state_reason == "data refresh"
    refused(
        market,
        lambda: provider.unlist_product(name),
        clients.FailedPreconditionError,
        "INVALID_STATE_TRANSITION",
    )
    assert provider.resume_product(name).state == catalog_pb2.PRODUCT_STATE_ACTIVE
    refused(
        market,
        lambda: operator.suspend_product(name, ""),
        clients.InvalidArgumentError,
        "INVALID_ARGUMENT",
    )
    suspended = operator.suspend_product(name, "complaint under review")
    assert suspended.state == catalog_pb2.PRODUCT_STATE_SUSPENDED
    d = descriptor(market)
    refused(
        market,
        lambda: provider.update_product(name, d),
        clients.FailedPreconditionError,
        "PRODUCT_SUSPENDED",
    )
    refused(
        market,
        lambda: provider.resume_product(name),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )
    refused(
        market,
        lambda: provider.suspend_product(name, "x"),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )
    other = market.client("provider2").catalog
    refused(market, lambda: other.unlist_product(name), clients.NotFoundError, "PRODUCT_NOT_FOUND")
    request_id = unique("resume")
    resumed = operator.resume_product(name, "cleared", request_id=request_id)
    with unchanged(market):
        assert operator.resume_product(name, "cleared", request_id=request_id) == resumed
    assert resumed.state == catalog_pb2.PRODUCT_STATE_ACTIVE
    changes = [
        market.record(i).product_status_changed
        for i in range(market.node.ledger.size() - 4, market.node.ledger.size())
    ]
    assert [(ch.old_state, ch.new_state) for ch in changes] == [
        (catalog_pb2.PRODUCT_STATE_ACTIVE, catalog_pb2.PRODUCT_STATE_UNLISTED),
        (catalog_pb2.PRODUCT_STATE_UNLISTED, catalog_pb2.PRODUCT_STATE_ACTIVE),
        (catalog_pb2.PRODUCT_STATE_ACTIVE, catalog_pb2.PRODUCT_STATE_SUSPENDED),
        (catalog_pb2.PRODUCT_STATE_SUSPENDED, catalog_pb2.PRODUCT_STATE_ACTIVE),
    ]


def test_filters_and_federated_search(market: Market) -> None:
    tag = unique("kw")
    bus = create(market, keywords=[tag], title=c.LocalizedText(zh="公交 " + tag, en="Bus"))
    health = create(
        market,
        keywords=[tag],
        category=c.CATEGORY_HEALTH,
        data_grade=c.DATA_GRADE_IMPORTANT,
        access_modes=[c.ACCESS_MODE_VERIFY],
        fields=[field_spec("line_id", "SC-HE-0001")],
    )
    hidden = create(market, "provider2", keywords=[tag])
    market.client("provider2").catalog.unlist_product(hidden.product.name)
    cat = market.client("consumer").catalog

    def names(**filters: Any) -> list[str]:
        return [p.name for p in cat.list_products(page_size=2, **filters)]

    assert names(text=tag) == [bus.product.name, health.product.name]
    assert names(text=tag.upper()) == [bus.product.name, health.product.name]
    assert names(text=tag, categories=["health"]) == [health.product.name]
    assert names(text=tag, data_grades=["general"]) == [bus.product.name]
    assert names(text=tag, access_modes=["verify"]) == [health.product.name]
    assert names(text=tag, element_code="SC-HE-0001") == [health.product.name]
    assert names(text=tag, provider=market.party("provider2")) == []
    assert names(text=tag, states=["unlisted"]) == []  # not the consumer's product
    owner = market.client("provider2").catalog
    assert [p.name for p in owner.list_products(text=tag, states=["unlisted"])] == [
        hidden.product.name
    ]
    assert names(text="100%_nothing") == []
    found = cat.search_products(text=tag)
    assert [p.name for p in found.products] == [bus.product.name, health.product.name]
    assert not found.degraded
    assert [(s.region, s.result_count) for s in found.peer_statuses] == [("sc", 2)]
    partial = cat.search_products(text=tag, regions=["sc", "cq"])
    assert partial.degraded
    assert partial.peer_statuses[1].state == catalog_pb2.PEER_SEARCH_STATE_UNREACHABLE
    refused(
        market,
        lambda: list(cat.list_products(categories=[77])),
        clients.InvalidArgumentError,
        "INVALID_ARGUMENT",
    )


def test_pages_never_skip_or_repeat_under_concurrent_inserts(market: Market) -> None:
    tag = unique("page")
    before = [create(market, keywords=[tag]).product.name for _ in range(7)]
    cat = market.client("consumer").catalog
    stop = threading.Event()
    inserted: list[str] = []

    def insert() -> None:
        with clients.connect(market.node.address, market.keys["provider"], region="sc") as own:
            while not stop.is_set() and len(inserted) < 20:
                d = descriptor(market, keywords=[tag])
                inserted.append(own.catalog.create_product(d, product_id=unique()).product.name)

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        query = cat.product_filter(text=tag)
        seen: list[str] = []
        page = cat.list_products_page(query, page_size=2)
        while True:
            seen.extend(p.name for p in page.products)
            if not page.next_page_token:
                break
            page = cat.list_products_page(query, page_size=2, page_token=page.next_page_token)
    finally:
        stop.set()
        writer.join()
    assert len(seen) == len(set(seen)), "a page repeated a product"
    assert seen[: len(before)] == before, "a product that existed before paging was skipped"
    assert set(seen) <= set(before) | set(inserted)
    # A token belongs to the request that produced it.
    first = cat.list_products_page(query, page_size=1)
    other = cat.product_filter(text=tag, categories=["health"])

    def paged(q: catalog_pb2.ProductFilter, token: str) -> Callable[[], object]:
        return lambda: cat.list_products_page(q, page_size=1, page_token=token)

    for q, token in ((other, first.next_page_token), (query, "garbage")):
        refused(market, paged(q, token), clients.InvalidArgumentError, "INVALID_PAGE_TOKEN")


def test_tariffs_versions_and_price_ceilings(market: Market) -> None:
    provider, operator = market.client("provider").catalog, market.client("operator").catalog
    name = create(market).product.name
    ceiling = operator.set_price_ceiling(
        unit="per-row", category="transport", max_unit_price="0.02"
    )
    assert ceiling.name == "regions/sc/priceCeilings/per-row.transport"
    err = refused(
        market,
        lambda: provider.create_tariff(name, unit="per-row", unit_price="0.03"),
        clients.FailedPreconditionError,
        "PRICE_ABOVE_CEILING",
    )
    assert (err.metadata["ceiling"], err.metadata["price"]) == ("0.02", "0.03")
    refused(
        market,
        lambda: provider.create_tariff(
            name, unit="per-row", unit_price="0.01", purpose_prices={"research": "0.05"}
        ),
        clients.FailedPreconditionError,
        "PRICE_ABOVE_CEILING",
    )
    first = provider.create_tariff(
        name, unit="per-row", unit_price="0.0150", purpose_prices={"public-welfare": "0"}
    )
    assert (first.name, first.unit_price) == (f"{name}/tariffs/1", "0.0150")
    assert market.record(first.ledger_entry.index).tariff_published.tariff.unit_price == "0.0150"
    later = datetime.now(UTC) + timedelta(days=1)
    second = provider.create_tariff(name, unit="per-call", unit_price="1.5", effective_time=later)
    assert second.name.endswith("/tariffs/2")
    consumer = market.client("consumer").catalog
    assert consumer.get_product(name).current_tariff == first.name
    assert [t.name for t in consumer.list_tariffs(name)] == [first.name, second.name]
    assert [
        t.name for t in consumer.list_tariffs(name, in_force_at=later + timedelta(seconds=1))
    ] == [second.name]
    assert consumer.get_tariff(name, 1) == first

    def priced(price: str) -> Callable[[], object]:
        return lambda: provider.create_tariff(name, unit="per-row", unit_price=price)

    for price in ("-1", "0.1.2", "0.123456789", "1e2"):
        refused(market, priced(price), clients.InvalidArgumentError, "INVALID_PRICE")
    refused(
        market,
        lambda: provider.create_tariff(name, unit="free", unit_price="1"),
        clients.InvalidArgumentError,
        "INVALID_TARIFF",
    )
    past = datetime.now(UTC) - timedelta(days=1)
    refused(
        market,
        lambda: provider.create_tariff(
            name, unit="per-row", unit_price="0.01", effective_time=past
        ),
        clients.InvalidArgumentError,
        "EFFECTIVE_TIME_IN_PAST",
    )
    refused(
        market,
        lambda: market.client("provider2").catalog.create_tariff(name, unit="free"),
        clients.PermissionDeniedError,
        "NOT_PRODUCT_OWNER",
    )
    refused(
        market,
        lambda: consumer.create_tariff(name, unit="free"),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )
    refused(market, lambda: consumer.get_tariff(name, 9), clients.NotFoundError, "TARIFF_NOT_FOUND")
    refused(
        market,
        lambda: provider.set_price_ceiling(unit="per-row", max_unit_price="1"),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )
    refused(
        market,
        lambda: operator.set_price_ceiling(unit="per-row", max_unit_price="x"),
        clients.InvalidArgumentError,
        "INVALID_PRICE",
    )
    operator.set_price_ceiling(unit="per-row", category="transport", max_unit_price="0.05")
    assert provider.create_tariff(name, unit="per-row", unit_price="0.03").name.endswith(
        "/tariffs/3"
    )
    ceilings = [(x.name, x.max_unit_price) for x in consumer.list_price_ceilings()]
    assert ("regions/sc/priceCeilings/per-row.transport", "0.05") in ceilings


def test_standard_mappings_translate_codes(market: Market) -> None:
    operator = market.client("operator").catalog
    tag = unique("map")
    name = create(market, keywords=[tag]).product.name
    peer = unique("")[1:4].replace("-", "x")
    peer = "".join(ch if ch.isalpha() else "q" for ch in peer)  # a fresh region id
    refused(
        market,
        lambda: operator.create_standard_mapping(
            peer,
            [("CQ-1", "NO-SUCH-CODE"), ("CQ-1", "SC-TR-0001")],
            peer_standard_version="cq-de/2024.2",
            local_standard_version="sc-de/2025.1",
        ),
        clients.InvalidArgumentError,
        "INVALID_STANDARD_MAPPING",
    )
    mapping = operator.create_standard_mapping(
        peer,
        [("CQ-TR-9001", "SC-TR-0001"), ("CQ-TR-9002", "SC-TR-0002")],
        peer_standard_version="cq-de/2024.2",
        local_standard_version="sc-de/2025.1",
    )
    assert (mapping.name, mapping.in_force) == (f"regions/sc/standardMappings/{peer}-1", True)
    loaded = market.record(mapping.ledger_entry.index).standard_mapping_loaded
    assert len(loaded.entries_digest) == 32
    refused(
        market,
        lambda: operator.create_standard_mapping(
            peer,
            [("A", "SC-TR-0001")],
            version=1,
            peer_standard_version="v",
            local_standard_version="v",
        ),
        clients.AlreadyExistsError,
        "STANDARD_MAPPING_ALREADY_EXISTS",
    )
    consumer = market.client("consumer").catalog
    shown = consumer.get_product(name, element_code_region=peer)
    assert dict(shown.mapped_element_codes) == {"line_id": "CQ-TR-9001", "stop_name": "CQ-TR-9002"}
    assert shown.standard_mapping == mapping.name
    by_peer_code = consumer.list_products(
        text=tag, element_code="CQ-TR-9002", element_code_region=peer
    )
    assert [p.name for p in by_peer_code] == [name]
    refused(
        market,
        lambda: consumer.get_product(name, element_code_region="zz"),
        clients.NotFoundError,
        "STANDARD_MAPPING_NOT_FOUND",
    )
    assert consumer.get_standard_mapping(f"{peer}-1") == mapping
    assert [
        m.name for m in consumer.list_standard_mappings(peer_region=peer, in_force_only=True)
    ] == [mapping.name]
    refused(
        market,
        lambda: market.client("provider").catalog.create_standard_mapping(
            peer, [("A", "SC-TR-0001")], peer_standard_version="v", local_standard_version="v"
        ),
        clients.PermissionDeniedError,
        "ROLE_NOT_ALLOWED",
    )


def test_unknown_names_and_regions(market: Market) -> None:
    cat = market.client("consumer").catalog
    listed = create(market).product.name
    refused(
        market,
        lambda: cat.get_product("regions/cq/products/p-1"),
        clients.FailedPreconditionError,
        "NOT_THIS_REGION",
    )
    refused(
        market,
        lambda: cat.get_product("regions/sc/products/P!"),
        clients.InvalidArgumentError,
        "INVALID_NAME",
    )
    refused(
        market,
        lambda: cat.get_revision(listed, 7),
        clients.NotFoundError,
        "REVISION_NOT_FOUND",
    )
    with pytest.raises(clients.InvalidArgumentError) as err:
        cat.stub.ListProducts(catalog_pb2.ListProductsRequest(parent="regions/sc", page_size=-1))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
