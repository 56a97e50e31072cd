"""CatalogService: protobuf in, :mod:`services.catalog` domain calls, protobuf out.

Thin by design: each method parses names, converts the request into domain objects
(which validate themselves), calls :class:`~services.catalog.Catalog` and converts
the result back. Errors are raised by the domain and mapped by the interceptor.

This module also holds the edge the domain is given: :class:`LedgerCatalogRecorder`
turns catalog events into ``LedgerRecord`` payloads and appends them, and computes
the one protobuf encoding the domain needs hashed (the descriptor digest)::

    catalog = Catalog(engine, "sc", LedgerCatalogRecorder(log, "sc"))
    servicer = CatalogServicer(catalog, origin="bashu.exchange/log/sc")

Request digests for idempotency and page tokens are the deterministic serialization
of the request without its ``request_id`` (resp. paging fields).
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any, cast

import grpc
from bashu.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from google.protobuf.descriptor import Descriptor as Descriptor_
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ledger.log import Log
from services.catalog import (
    MAPPING_NAME_RE,
    REGION_RE,
    REVISION_NAME_RE,
    TARIFF_NAME_RE,
    AccessMode,
    Catalog,
    CatalogEvent,
    Category,
    CeilingSpec,
    DataGrade,
    Descriptor,
    ElementMapping,
    EntryRef,
    FieldSensitivity,
    FieldSpec,
    FieldType,
    LicenceLimits,
    MappingRelation,
    MappingSpec,
    MaskingRule,
    PageRequest,
    PersonalInfoClass,
    PriceCeiling,
    PriceCeilingSet,
    Product,
    ProductListed,
    ProductQuery,
    ProductRevised,
    ProductState,
    ProductStatusChanged,
    PurposeClass,
    Quantity,
    RequestKey,
    Revision,
    RoundingRule,
    SourceClass,
    StandardMapping,
    StandardMappingLoaded,
    Tariff,
    TariffPublished,
    TariffSpec,
    TariffUnit,
    Text,
    UpdateFrequency,
    fingerprint,
    mapped_codes,
    parse_name,
)
from services.errors import FieldViolation, InvalidArgumentError
from services.interceptors import current_principal
from services.records import encode_record

if TYPE_CHECKING:
    from bashu.federation.v1 import federation_pb2

    from services.auth import Principal
    from services.market import Market

__all__ = [
    "CatalogServicer",
    "LedgerCatalogRecorder",
    "descriptor_from_proto",
    "descriptor_to_proto",
    "entry_ref",
    "micros",
    "page_request",
    "request_key",
    "timestamp",
]


# --- small conversions shared with the licensing servicer ------------------------------


def timestamp(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def micros(ts: Timestamp) -> int:
    return int(ts.ToMicroseconds())


def entry_ref(origin: str, ref: EntryRef | None) -> common_pb2.EntryRef | None:
    if ref is None:
        return None
    return common_pb2.EntryRef(origin=origin, index=ref.index, leaf_hash=ref.leaf_hash)


def request_key(method: str, request: Message) -> RequestKey:
    """The idempotency key of ``request``: its request_id and a digest of the rest."""
    copy = type(request)()
    copy.CopyFrom(request)
    request_id: str = getattr(request, "request_id")  # noqa: B009 (every mutating request)
    copy.ClearField("request_id")
    return RequestKey(request_id, fingerprint(method, copy.SerializeToString(deterministic=True)))


def page_request(method: str, request: Message) -> PageRequest:
    """The page of ``request``, bound to a digest of every other field."""
    copy = type(request)()
    copy.CopyFrom(request)
    size: int = getattr(request, "page_size")  # noqa: B009
    token: str = getattr(request, "page_token")  # noqa: B009
    copy.ClearField("page_size")
    copy.ClearField("page_token")
    return PageRequest(size, token, fingerprint(method, copy.SerializeToString(deterministic=True)))


def _text(msg: common_pb2.LocalizedText) -> Text:
    return Text(msg.zh, msg.en)


def _duration_us(d: Duration) -> int:
    return int(d.seconds) * 1_000_000 + int(d.nanos) // 1_000


def quantity_from_proto(q: common_pb2.Quantity) -> Quantity:
    return Quantity(q.calls, q.rows, q.bytes)


def quantity_to_proto(q: Quantity) -> common_pb2.Quantity:
    return common_pb2.Quantity(calls=q.calls, rows=q.rows, bytes=q.bytes)


# --- descriptors -------------------------------------------------------------------------


def descriptor_from_proto(d: catalog_pb2.ProductDescriptor) -> Descriptor:
    """The domain descriptor (raises INVALID_DESCRIPTOR listing every violation)."""
    limits = d.limits
    return Descriptor(
        title=_text(d.title),
        description=_text(d.description),
        provider=d.provider,
        region=d.region,
        category=Category(d.category),
        source_class=SourceClass(d.source_class),
        data_grade=DataGrade(d.data_grade),
        personal_info_class=PersonalInfoClass(d.personal_info_class),
        fields=tuple(
            FieldSpec(
                name=f.name,
                type=FieldType(f.type),
                element_code=f.element_code,
                sensitivity=FieldSensitivity(f.sensitivity),
                description=_text(f.description),
                default_masking=MaskingRule(f.default_masking),
                nullable=f.nullable,
            )
            for f in d.fields
        ),
        key_fields=tuple(d.key_fields),
        access_modes=tuple(AccessMode(m) for m in d.access_modes),
        allowed_purpose_classes=tuple(PurposeClass(p) for p in d.allowed_purpose_classes),
        allowed_scenario_codes=tuple(d.allowed_scenario_codes),
        allowed_consumer_regions=tuple(d.allowed_consumer_regions),
        cross_border_allowed=d.cross_border_allowed,
        update_frequency=UpdateFrequency(d.update_frequency),
        standard_version=d.standard_version,
        limits=LicenceLimits(
            max_quota=quantity_from_proto(limits.max_quota),
            max_validity_us=(
                _duration_us(limits.max_validity) if limits.HasField("max_validity") else None
            ),
        ),
        keywords=tuple(d.keywords),
    )


def descriptor_to_proto(d: Descriptor) -> catalog_pb2.ProductDescriptor:
    limits = catalog_pb2.LicenceLimits(max_quota=quantity_to_proto(d.limits.max_quota))
    if d.limits.max_validity_us is not None:
        limits.max_validity.FromMicroseconds(d.limits.max_validity_us)
    return catalog_pb2.ProductDescriptor(
        title=common_pb2.LocalizedText(zh=d.title.zh, en=d.title.en),
        description=common_pb2.LocalizedText(zh=d.description.zh, en=d.description.en),
        provider=d.provider,
        region=d.region,
        category=int(d.category),  # type: ignore[arg-type]
        source_class=int(d.source_class),  # type: ignore[arg-type]
        data_grade=int(d.data_grade),  # type: ignore[arg-type]
        personal_info_class=int(d.personal_info_class),  # type: ignore[arg-type]
        fields=[
            catalog_pb2.FieldSpec(
                name=f.name,
                type=int(f.type),  # type: ignore[arg-type]
                element_code=f.element_code,
                sensitivity=int(f.sensitivity),  # type: ignore[arg-type]
                description=common_pb2.LocalizedText(zh=f.description.zh, en=f.description.en),
                default_masking=int(f.default_masking),  # type: ignore[arg-type]
                nullable=f.nullable,
            )
            for f in d.fields
        ],
        key_fields=list(d.key_fields),
        access_modes=[int(m) for m in d.access_modes],  # type: ignore[misc]
        allowed_purpose_classes=[int(p) for p in d.allowed_purpose_classes],  # type: ignore[misc]
        allowed_scenario_codes=list(d.allowed_scenario_codes),
        allowed_consumer_regions=list(d.allowed_consumer_regions),
        cross_border_allowed=d.cross_border_allowed,
        update_frequency=int(d.update_frequency),  # type: ignore[arg-type]
        standard_version=d.standard_version,
        limits=limits,
        keywords=list(d.keywords),
    )


def descriptor_digest(d: Descriptor) -> bytes:
    """SHA-256 of the deterministic serialization of the descriptor (the API's rule)."""
    return hashlib.sha256(descriptor_to_proto(d).SerializeToString(deterministic=True)).digest()


def revision_to_proto(r: Revision, origin: str) -> catalog_pb2.ProductRevision:
    msg = catalog_pb2.ProductRevision(
        name=r.name,
        descriptor=descriptor_to_proto(r.descriptor),
        change_note=r.change_note,
        creator=f"regions/{r.region}/parties/{r.creator}",
        create_time=timestamp(r.create_us),
        descriptor_digest=r.descriptor_digest,
    )
    ref = entry_ref(origin, r.ledger)
    if ref is not None:
        msg.ledger_entry.CopyFrom(ref)
    return msg


def product_to_proto(p: Product, mapping: StandardMapping | None = None) -> catalog_pb2.Product:
    return catalog_pb2.Product(
        name=p.name,
        current_revision=p.revision.name,
        descriptor=descriptor_to_proto(p.descriptor),
        state=int(p.state),  # type: ignore[arg-type]
        state_reason=p.state_reason,
        provider=p.provider,
        region=p.region,
        current_tariff=f"{p.name}/tariffs/{p.current_tariff}" if p.current_tariff else "",
        create_time=timestamp(p.create_us),
        update_time=timestamp(p.update_us),
        etag=p.etag,
        mapped_element_codes=mapped_codes(p.descriptor, mapping),
        standard_mapping=mapping.name if mapping else "",
    )


# --- tariffs, ceilings, mappings ---------------------------------------------------------


def tariff_from_proto(t: catalog_pb2.Tariff) -> TariffSpec:
    return TariffSpec(
        unit=TariffUnit(t.unit),
        unit_price=t.unit_price,
        purpose_prices=tuple(
            (PurposeClass(p.purpose_class), p.unit_price) for p in t.purpose_prices
        ),
        currency_code=t.currency_code or "CNY",
        rounding_rule=(
            RoundingRule(t.rounding_rule) if t.rounding_rule else RoundingRule.HALF_UP_PER_LINE
        ),
        effective_us=micros(t.effective_time) if t.HasField("effective_time") else None,
    )


def tariff_to_proto(t: Tariff, origin: str | None) -> catalog_pb2.Tariff:
    msg = catalog_pb2.Tariff(
        name=t.name,
        unit=int(t.unit),  # type: ignore[arg-type]
        currency_code=t.currency_code,
        unit_price=format(t.unit_price, "f"),
        purpose_prices=[
            catalog_pb2.PurposePrice(purpose_class=int(k), unit_price=format(p, "f"))  # type: ignore[arg-type]
            for k, p in t.purpose_prices
        ],
        rounding_rule=int(t.rounding_rule),  # type: ignore[arg-type]
        effective_time=timestamp(t.effective_us),
        creator=f"regions/{t.region}/parties/{t.creator}",
        create_time=timestamp(t.create_us),
    )
    ref = entry_ref(origin, t.ledger) if origin else None
    if ref is not None:
        msg.ledger_entry.CopyFrom(ref)
    return msg


def ceiling_to_proto(c: PriceCeiling) -> catalog_pb2.PriceCeiling:
    return catalog_pb2.PriceCeiling(
        name=c.name,
        unit=int(c.unit),  # type: ignore[arg-type]
        category=int(c.category),  # type: ignore[arg-type]
        max_unit_price=format(c.max_unit_price, "f"),
        currency_code=c.currency_code,
        creator=f"regions/{c.region}/parties/{c.creator}",
        create_time=timestamp(c.create_us),
    )


def mapping_from_proto(m: catalog_pb2.StandardMapping) -> MappingSpec:
    return MappingSpec(
        peer_region=m.peer_region,
        version=m.version,
        peer_standard_version=m.peer_standard_version,
        local_standard_version=m.local_standard_version,
        entries=tuple(
            ElementMapping(
                e.peer_code,
                e.local_code,
                MappingRelation(e.relation) if e.relation else MappingRelation.EXACT,
                e.note,
            )
            for e in m.entries
        ),
        effective_us=micros(m.effective_time) if m.HasField("effective_time") else None,
    )


def _entries(m: StandardMapping) -> list[catalog_pb2.ElementMapping]:
    return [
        catalog_pb2.ElementMapping(
            peer_code=e.peer_code,
            local_code=e.local_code,
            relation=int(e.relation),  # type: ignore[arg-type]
            note=e.note,
        )
        for e in m.entries
    ]


def mapping_to_proto(m: StandardMapping, origin: str | None) -> catalog_pb2.StandardMapping:
    msg = catalog_pb2.StandardMapping(
        name=m.name,
        peer_region=m.peer_region,
        version=m.version,
        peer_standard_version=m.peer_standard_version,
        local_standard_version=m.local_standard_version,
        entries=_entries(m),
        effective_time=timestamp(m.effective_us),
        in_force=m.in_force,
        creator=f"regions/{m.region}/parties/{m.creator}",
        create_time=timestamp(m.create_us),
    )
    ref = entry_ref(origin, m.ledger) if origin else None
    if ref is not None:
        msg.ledger_entry.CopyFrom(ref)
    return msg


def query_from_proto(f: catalog_pb2.ProductFilter) -> ProductQuery:
    return ProductQuery(
        categories=tuple(Category(c) for c in f.categories),
        data_grades=tuple(DataGrade(g) for g in f.data_grades),
        personal_info_classes=tuple(PersonalInfoClass(p) for p in f.personal_info_classes),
        source_classes=tuple(SourceClass(s) for s in f.source_classes),
        access_modes=tuple(AccessMode(m) for m in f.access_modes),
        text=f.text,
        element_code=f.element_code,
        element_code_region=f.element_code_region,
        provider=f.provider,
        states=tuple(ProductState(s) for s in f.states),
    )


# --- the ledger edge -------------------------------------------------------------------


class LedgerCatalogRecorder:
    """Appends catalog events to the region's ledger (durable on return)."""

    def __init__(self, log: Log, region: str) -> None:
        self._log = log
        self._region = region

    def descriptor_digest(self, descriptor: Descriptor) -> bytes:
        return descriptor_digest(descriptor)

    def record(self, event: CatalogEvent) -> EntryRef:
        # One typed payload, by its LedgerRecord field name.
        payload: dict[str, Any]
        if isinstance(event, ProductListed):
            payload = {
                "product_listed": record_pb2.ProductListed(
                    product=product_to_proto(event.product),
                    revision=revision_to_proto(event.revision, ""),
                )
            }
        elif isinstance(event, ProductRevised):
            payload = {
                "product_revised": record_pb2.ProductRevised(
                    product=event.revision.product_name,
                    revision=revision_to_proto(event.revision, ""),
                    previous_revision=event.previous_revision,
                )
            }
        elif isinstance(event, ProductStatusChanged):
            payload = {
                "product_status_changed": record_pb2.ProductStatusChanged(
                    product=event.product,
                    old_state=int(event.old_state),  # type: ignore[arg-type]
                    new_state=int(event.new_state),  # type: ignore[arg-type]
                    reason=event.reason,
                )
            }
        elif isinstance(event, TariffPublished):
            payload = {
                "tariff_published": record_pb2.TariffPublished(
                    tariff=tariff_to_proto(event.tariff, None)
                )
            }
        elif isinstance(event, PriceCeilingSet):
            payload = {
                "price_ceiling_set": record_pb2.PriceCeilingSet(
                    price_ceiling=ceiling_to_proto(event.ceiling)
                )
            }
        elif isinstance(event, StandardMappingLoaded):
            # The digest pins the entries: a StandardMapping holding only them,
            # serialized deterministically.
            entries = catalog_pb2.StandardMapping(entries=_entries(event.mapping))
            payload = {
                "standard_mapping_loaded": record_pb2.StandardMappingLoaded(
                    standard_mapping=mapping_to_proto(event.mapping, None),
                    entries_digest=hashlib.sha256(
                        entries.SerializeToString(deterministic=True)
                    ).digest(),
                )
            }
        else:  # pragma: no cover - every event type is handled above
            raise TypeError(f"unknown catalog event {type(event).__name__}")
        data = encode_record(self._region, event.actor, event.key, **payload)
        result = self._log.append(data, event.key)
        return EntryRef(result.index, result.leaf_hash)


# --- the servicer ----------------------------------------------------------------------


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, catalog: Catalog, origin: str, market: Market | None = None) -> None:
        self._catalog = catalog
        self._origin = origin
        self._region = catalog.region
        # The federated market: searches reach the peers through it.
        self.market = market

    def _mapping(self, region: str, field_path: str) -> StandardMapping | None:
        if region and not REGION_RE.fullmatch(region):
            raise InvalidArgumentError([FieldViolation(field_path, "is not a region id")])
        return self._catalog.view_mapping(region)

    def _revision_name(self, name: str) -> tuple[str, int]:
        region, product_id, number = parse_name(REVISION_NAME_RE, name, "name", "a revision name")
        self._catalog.product_ref(f"regions/{region}/products/{product_id}")
        return product_id, int(number)

    def CreateProduct(
        self, request: catalog_pb2.CreateProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.CreateProductResponse:
        self._catalog.region_of(request.parent)
        key = request_key("CreateProduct", request)
        product, revision = self._catalog.create_product(
            current_principal(),
            request.product_id,
            descriptor_from_proto(request.descriptor),
            request.change_note,
            key,
        )
        return catalog_pb2.CreateProductResponse(
            product=product_to_proto(product), revision=revision_to_proto(revision, self._origin)
        )

    def GetProduct(
        self, request: catalog_pb2.GetProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.GetProductResponse:
        product_id = self._catalog.product_ref(request.name)
        mapping = self._mapping(request.element_code_region, "element_code_region")
        product = self._catalog.get_product(current_principal(), product_id)
        return catalog_pb2.GetProductResponse(product=product_to_proto(product, mapping))

    def ListProducts(
        self, request: catalog_pb2.ListProductsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListProductsResponse:
        self._catalog.region_of(request.parent)
        query = query_from_proto(request.filter)
        mapping = self._mapping(request.element_code_region, "element_code_region")
        page = self._catalog.list_products(
            current_principal(), query, page_request("ListProducts", request)
        )
        return catalog_pb2.ListProductsResponse(
            products=[product_to_proto(p, mapping) for p in page.items],
            next_page_token=page.next_token,
        )

    def SearchProducts(
        self, request: catalog_pb2.SearchProductsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.SearchProductsResponse:
        query = query_from_proto(request.filter)
        bad = [
            FieldViolation(f"regions[{i}]", "is not a region id")
            for i, r in enumerate(request.regions)
            if not REGION_RE.fullmatch(r)
        ]
        if request.peer_timeout.seconds < 0 or request.peer_timeout.nanos < 0:
            bad.append(FieldViolation("peer_timeout", "must not be negative"))
        if bad:
            raise InvalidArgumentError(bad)
        mapping = self._mapping(request.element_code_region, "element_code_region")
        if self.market is not None:
            return self._federated_search(request, query, mapping, context)
        regions = list(dict.fromkeys(request.regions)) or [self._region]
        started = time.monotonic()
        statuses = []
        products: list[catalog_pb2.Product] = []
        token = ""
        for region in regions:
            if region != self._region:
                # Federation (peers, fan-out) lands with FederationService; until a
                # peer is configured its part of the page is reported missing.
                statuses.append(
                    catalog_pb2.PeerSearchStatus(
                        region=region,
                        state=catalog_pb2.PEER_SEARCH_STATE_UNREACHABLE,
                        detail=f"region {region!r} is not a configured peer",
                    )
                )
                continue
            page = self._catalog.search_products(
                current_principal(), query, page_request("SearchProducts", request)
            )
            products = [product_to_proto(p, mapping) for p in page.items]
            token = page.next_token
            latency = Duration()
            latency.FromNanoseconds(int((time.monotonic() - started) * 1e9))
            statuses.append(
                catalog_pb2.PeerSearchStatus(
                    region=region,
                    state=catalog_pb2.PEER_SEARCH_STATE_OK,
                    result_count=len(products),
                    latency=latency,
                )
            )
        return catalog_pb2.SearchProductsResponse(
            products=products,
            next_page_token=token,
            peer_statuses=statuses,
            degraded=any(s.state != catalog_pb2.PEER_SEARCH_STATE_OK for s in statuses),
        )

    def _federated_search(
        self,
        request: catalog_pb2.SearchProductsRequest,
        query: ProductQuery,
        mapping: StandardMapping | None,
        context: grpc.ServicerContext,
    ) -> catalog_pb2.SearchProductsResponse:
        from services.market import RegionPage

        assert self.market is not None
        caller = current_principal()

        def local(page: PageRequest) -> RegionPage:
            found = self._catalog.search_products(caller, query, page)
            return RegionPage([product_to_proto(p, mapping) for p in found.items], found.next_token)

        remaining = context.time_remaining()
        return self.market.search(
            caller,
            request,
            local=local,
            time_remaining=None if remaining is None else float(remaining),
        )

    def search_catalog(
        self, caller: Principal, request: federation_pb2.SearchCatalogRequest
    ) -> tuple[list[catalog_pb2.Product], str]:
        """This node's ACTIVE products for a peer's federated search (no recursion)."""
        query = query_from_proto(request.filter)
        mapping = self._mapping(request.element_code_region, "element_code_region")
        page = self._catalog.search_products(caller, query, page_request("SearchCatalog", request))
        return [product_to_proto(p, mapping) for p in page.items], page.next_token

    def UpdateProduct(
        self, request: catalog_pb2.UpdateProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.UpdateProductResponse:
        product_id = self._catalog.product_ref(request.name)
        key = request_key("UpdateProduct", request)
        caller = current_principal()
        current = self._catalog.editable(caller, product_id)
        merged = descriptor_to_proto(current.descriptor)
        based_on: int | None = None
        if request.update_mask.paths:
            if not request.update_mask.IsValidForDescriptor(
                cast(Descriptor_, catalog_pb2.ProductDescriptor.DESCRIPTOR)
            ):
                raise InvalidArgumentError(
                    [FieldViolation("update_mask", "names a field ProductDescriptor lacks")]
                )
            request.update_mask.MergeMessage(
                request.descriptor, merged, replace_message_field=True, replace_repeated_field=True
            )
            # The merge is only right on top of the revision it read.
            based_on = current.revision.revision
        else:
            replacement = catalog_pb2.ProductDescriptor()
            replacement.CopyFrom(request.descriptor)
            # Immutable fields may be left out of a full replacement.
            replacement.provider = replacement.provider or merged.provider
            replacement.region = replacement.region or merged.region
            merged = replacement
        product, revision = self._catalog.update_product(
            caller,
            product_id,
            descriptor_from_proto(merged),
            etag=request.etag,
            based_on=based_on,
            change_note=request.change_note,
            req=key,
        )
        return catalog_pb2.UpdateProductResponse(
            product=product_to_proto(product), revision=revision_to_proto(revision, self._origin)
        )

    def _change(
        self, action: str, method: str, request: Message, name: str, reason: str
    ) -> Product:
        product_id = self._catalog.product_ref(name)
        key = request_key(method, request)
        return self._catalog.change_state(current_principal(), product_id, action, reason, key)

    def UnlistProduct(
        self, request: catalog_pb2.UnlistProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.UnlistProductResponse:
        product = self._change("unlist", "UnlistProduct", request, request.name, request.reason)
        return catalog_pb2.UnlistProductResponse(product=product_to_proto(product))

    def SuspendProduct(
        self, request: catalog_pb2.SuspendProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.SuspendProductResponse:
        product = self._change("suspend", "SuspendProduct", request, request.name, request.reason)
        return catalog_pb2.SuspendProductResponse(product=product_to_proto(product))

    def ResumeProduct(
        self, request: catalog_pb2.ResumeProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ResumeProductResponse:
        product = self._change("resume", "ResumeProduct", request, request.name, request.reason)
        return catalog_pb2.ResumeProductResponse(product=product_to_proto(product))

    def GetProductRevision(
        self, request: catalog_pb2.GetProductRevisionRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.GetProductRevisionResponse:
        product_id, number = self._revision_name(request.name)
        revision = self._catalog.get_revision(current_principal(), product_id, number)
        return catalog_pb2.GetProductRevisionResponse(
            revision=revision_to_proto(revision, self._origin)
        )

    def ListProductRevisions(
        self, request: catalog_pb2.ListProductRevisionsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListProductRevisionsResponse:
        product_id = self._catalog.product_ref(request.parent, "parent")
        page = self._catalog.list_revisions(
            current_principal(), product_id, page_request("ListProductRevisions", request)
        )
        return catalog_pb2.ListProductRevisionsResponse(
            revisions=[revision_to_proto(r, self._origin) for r in page.items],
            next_page_token=page.next_token,
        )

    def CreateTariff(
        self, request: catalog_pb2.CreateTariffRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.CreateTariffResponse:
        product_id = self._catalog.product_ref(request.parent, "parent")
        key = request_key("CreateTariff", request)
        tariff = self._catalog.create_tariff(
            current_principal(), product_id, tariff_from_proto(request.tariff), key
        )
        return catalog_pb2.CreateTariffResponse(tariff=tariff_to_proto(tariff, self._origin))

    def GetTariff(
        self, request: catalog_pb2.GetTariffRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.GetTariffResponse:
        region, product_id, version = parse_name(
            TARIFF_NAME_RE, request.name, "name", "a tariff name"
        )
        self._catalog.product_ref(f"regions/{region}/products/{product_id}")
        tariff = self._catalog.get_tariff(current_principal(), product_id, int(version))
        return catalog_pb2.GetTariffResponse(tariff=tariff_to_proto(tariff, self._origin))

    def ListTariffs(
        self, request: catalog_pb2.ListTariffsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListTariffsResponse:
        product_id = self._catalog.product_ref(request.parent, "parent")
        at = micros(request.in_force_at) if request.HasField("in_force_at") else None
        page = self._catalog.list_tariffs(
            current_principal(), product_id, at, page_request("ListTariffs", request)
        )
        return catalog_pb2.ListTariffsResponse(
            tariffs=[tariff_to_proto(t, self._origin) for t in page.items],
            next_page_token=page.next_token,
        )

    def SetPriceCeiling(
        self, request: catalog_pb2.SetPriceCeilingRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.SetPriceCeilingResponse:
        self._catalog.region_of(request.parent)
        key = request_key("SetPriceCeiling", request)
        c = request.price_ceiling
        spec = CeilingSpec(
            TariffUnit(c.unit), Category(c.category), c.max_unit_price, c.currency_code or "CNY"
        )
        ceiling = self._catalog.set_price_ceiling(current_principal(), spec, key)
        return catalog_pb2.SetPriceCeilingResponse(price_ceiling=ceiling_to_proto(ceiling))

    def ListPriceCeilings(
        self, request: catalog_pb2.ListPriceCeilingsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListPriceCeilingsResponse:
        self._catalog.region_of(request.parent)
        page = self._catalog.list_price_ceilings(page_request("ListPriceCeilings", request))
        return catalog_pb2.ListPriceCeilingsResponse(
            price_ceilings=[ceiling_to_proto(c) for c in page.items],
            next_page_token=page.next_token,
        )

    def CreateStandardMapping(
        self, request: catalog_pb2.CreateStandardMappingRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.CreateStandardMappingResponse:
        self._catalog.region_of(request.parent)
        key = request_key("CreateStandardMapping", request)
        mapping = self._catalog.create_standard_mapping(
            current_principal(), mapping_from_proto(request.standard_mapping), key
        )
        return catalog_pb2.CreateStandardMappingResponse(
            standard_mapping=mapping_to_proto(mapping, self._origin)
        )

    def GetStandardMapping(
        self, request: catalog_pb2.GetStandardMappingRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.GetStandardMappingResponse:
        region, peer, version = parse_name(
            MAPPING_NAME_RE, request.name, "name", "a standard mapping name"
        )
        self._catalog.region_of(f"regions/{region}", "name")
        mapping = self._catalog.get_standard_mapping(peer, int(version))
        return catalog_pb2.GetStandardMappingResponse(
            standard_mapping=mapping_to_proto(mapping, self._origin)
        )

    def ListStandardMappings(
        self, request: catalog_pb2.ListStandardMappingsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListStandardMappingsResponse:
        self._catalog.region_of(request.parent)
        if request.peer_region and not REGION_RE.fullmatch(request.peer_region):
            raise InvalidArgumentError([FieldViolation("peer_region", "is not a region id")])
        page = self._catalog.list_standard_mappings(
            request.peer_region,
            request.in_force_only,
            page_request("ListStandardMappings", request),
        )
        return catalog_pb2.ListStandardMappingsResponse(
            standard_mappings=[mapping_to_proto(m, self._origin) for m in page.items],
            next_page_token=page.next_token,
        )
