"""Catalog client: list, find, revise and price data products.

Methods take short ids or full resource names (``"bus-lines"`` or
``regions/sc/products/bus-lines``), enum values by name (``"PER_ROW"``,
``"per-row"``) or number, generate a ``request_id`` when none is given (pass your own
to make a retry idempotent across processes), page through List methods for you,
and raise the SDK's typed errors::

    with connect("127.0.0.1:50051", provider_key) as client:
        created = client.catalog.create_product(descriptor, product_id="bus-lines")
        client.catalog.create_tariff("bus-lines", unit="per-row", unit_price="0.0150",
                                     purpose_prices={"public-welfare": "0"})
        for product in client.catalog.list_products(text="公交", categories=["TRANSPORT"]):
            print(product.name, product.current_tariff)

Messages returned are the generated ``bashu.catalog.v1`` types (fully typed).
:func:`descriptor_from_json` reads a descriptor written in the protobuf JSON mapping,
which is what ``bashu product create --descriptor FILE`` uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from bashu.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from google.protobuf import field_mask_pb2, json_format
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

from clients.sdk.channel import ErrorTranslating

__all__ = ["CatalogClient", "descriptor_from_json", "enum_value", "new_request_id"]


def new_request_id() -> str:
    return uuid.uuid4().hex


def enum_value(wrapper: EnumTypeWrapper, prefix: str, value: str | int) -> int:
    """``"per-row"``, ``"PER_ROW"``, ``"TARIFF_UNIT_PER_ROW"`` or 2 → 2.

    Raises ValueError naming the accepted values for anything else.
    """
    if isinstance(value, int):
        return value
    name = value.strip().upper().replace("-", "_")
    if not name.startswith(prefix):
        name = prefix + name
    try:
        return int(wrapper.Value(name))
    except ValueError:
        accepted = ", ".join(
            n.removeprefix(prefix).lower().replace("_", "-")
            for n in wrapper.keys()  # noqa: SIM118 (an EnumTypeWrapper, not a dict)
            if not n.endswith("UNSPECIFIED")
        )
        raise ValueError(f"{value!r} is not one of: {accepted}") from None


def descriptor_from_json(text: str) -> catalog_pb2.ProductDescriptor:
    """A descriptor from the protobuf JSON mapping (enum values by full name)."""
    return json_format.Parse(text, catalog_pb2.ProductDescriptor())


def _pages(fetch: Callable[[str], Any], items: str) -> Iterator[Any]:
    token = ""
    while True:
        response = fetch(token)
        yield from getattr(response, items)
        token = response.next_page_token
        if not token:
            return


class _RegionalClient:
    """Shared by the catalog and licensing clients: names relative to the node's region."""

    def __init__(self, channel_stub: Any, ledger_stub: Any, region: str | None) -> None:
        self.stub = ErrorTranslating(channel_stub)
        self._ledger = ErrorTranslating(ledger_stub)
        self._region = region

    @property
    def region(self) -> str:
        """The node's region (asked once from the node when not given to ``connect``)."""
        if self._region is None:
            self._region = str(self._ledger.GetPublicKey(ledger_pb2.GetPublicKeyRequest()).region)
        return self._region

    @property
    def parent(self) -> str:
        return f"regions/{self.region}"

    def _name(self, collection: str, value: str) -> str:
        return value if value.startswith("regions/") else f"{self.parent}/{collection}/{value}"


class CatalogClient(_RegionalClient):
    """The catalog of one node (see the module docstring)."""

    def __init__(
        self,
        stub: catalog_pb2_grpc.CatalogServiceStub,
        ledger: ledger_pb2_grpc.LedgerServiceStub,
        region: str | None = None,
    ) -> None:
        super().__init__(stub, ledger, region)

    def product_name(self, product: str) -> str:
        return self._name("products", product)

    # -- products -------------------------------------------------------------------

    def create_product(
        self,
        descriptor: catalog_pb2.ProductDescriptor,
        *,
        product_id: str = "",
        change_note: str = "",
        request_id: str | None = None,
    ) -> catalog_pb2.CreateProductResponse:
        """List a product with its first revision (the descriptor's provider must be you)."""
        response: catalog_pb2.CreateProductResponse = self.stub.CreateProduct(
            catalog_pb2.CreateProductRequest(
                parent=self.parent,
                product_id=product_id,
                descriptor=descriptor,
                change_note=change_note,
                request_id=request_id or new_request_id(),
            )
        )
        return response

    def get_product(self, product: str, *, element_code_region: str = "") -> catalog_pb2.Product:
        response = self.stub.GetProduct(
            catalog_pb2.GetProductRequest(
                name=self.product_name(product), element_code_region=element_code_region
            )
        )
        result: catalog_pb2.Product = response.product
        return result

    @staticmethod
    def product_filter(
        *,
        categories: Sequence[str | int] = (),
        data_grades: Sequence[str | int] = (),
        personal_info_classes: Sequence[str | int] = (),
        source_classes: Sequence[str | int] = (),
        access_modes: Sequence[str | int] = (),
        states: Sequence[str | int] = (),
        text: str = "",
        element_code: str = "",
        element_code_region: str = "",
        provider: str = "",
    ) -> catalog_pb2.ProductFilter:
        """A ProductFilter from names (``categories=["transport"]``)."""
        return catalog_pb2.ProductFilter(
            categories=[enum_value(common_pb2.Category, "CATEGORY_", c) for c in categories],  # type: ignore[misc]
            data_grades=[enum_value(common_pb2.DataGrade, "DATA_GRADE_", g) for g in data_grades],  # type: ignore[misc]
            personal_info_classes=[
                enum_value(common_pb2.PersonalInfoClass, "PERSONAL_INFO_CLASS_", p)  # type: ignore[misc]
                for p in personal_info_classes
            ],
            source_classes=[
                enum_value(common_pb2.SourceClass, "SOURCE_CLASS_", s)  # type: ignore[misc]
                for s in source_classes
            ],
            access_modes=[
                enum_value(common_pb2.AccessMode, "ACCESS_MODE_", m)  # type: ignore[misc]
                for m in access_modes
            ],
            states=[enum_value(catalog_pb2.ProductState, "PRODUCT_STATE_", s) for s in states],  # type: ignore[misc]
            text=text,
            element_code=element_code,
            element_code_region=element_code_region,
            provider=provider,
        )

    def _filter(self, code_region: str, filters: dict[str, Any]) -> catalog_pb2.ProductFilter:
        if filters.get("element_code"):
            filters.setdefault("element_code_region", code_region)
        return self.product_filter(**filters)

    def list_products_page(
        self,
        filter: catalog_pb2.ProductFilter | None = None,
        *,
        page_size: int = 0,
        page_token: str = "",
        element_code_region: str = "",
    ) -> catalog_pb2.ListProductsResponse:
        """One page of this region's products, in (create_time, name) order."""
        response: catalog_pb2.ListProductsResponse = self.stub.ListProducts(
            catalog_pb2.ListProductsRequest(
                parent=self.parent,
                filter=filter,
                page_size=page_size,
                page_token=page_token,
                element_code_region=element_code_region,
            )
        )
        return response

    def list_products(
        self,
        filter: catalog_pb2.ProductFilter | None = None,
        *,
        page_size: int = 0,
        element_code_region: str = "",
        **filters: Any,
    ) -> Iterator[catalog_pb2.Product]:
        """Every matching product, page after page (``filters`` as in :meth:`product_filter`).

        ``element_code_region`` shows codes in that region's standard and is also the
        region an ``element_code`` filter is written in.
        """
        query = filter if filter is not None else self._filter(element_code_region, filters)
        return _pages(
            lambda token: self.list_products_page(
                query,
                page_size=page_size,
                page_token=token,
                element_code_region=element_code_region,
            ),
            "products",
        )

    def search_products(
        self,
        filter: catalog_pb2.ProductFilter | None = None,
        *,
        regions: Sequence[str] = (),
        page_size: int = 0,
        page_token: str = "",
        element_code_region: str = "",
        **filters: Any,
    ) -> catalog_pb2.SearchProductsResponse:
        """One page of the federated search (check ``degraded`` and ``peer_statuses``)."""
        response: catalog_pb2.SearchProductsResponse = self.stub.SearchProducts(
            catalog_pb2.SearchProductsRequest(
                filter=filter if filter is not None else self._filter(element_code_region, filters),
                regions=list(regions),
                page_size=page_size,
                page_token=page_token,
                element_code_region=element_code_region,
            )
        )
        return response

    def update_product(
        self,
        product: str,
        descriptor: catalog_pb2.ProductDescriptor,
        *,
        update_mask: Sequence[str] = (),
        etag: str = "",
        change_note: str = "",
        request_id: str | None = None,
    ) -> catalog_pb2.UpdateProductResponse:
        """Make a new revision (only ``update_mask`` paths change when given)."""
        response: catalog_pb2.UpdateProductResponse = self.stub.UpdateProduct(
            catalog_pb2.UpdateProductRequest(
                name=self.product_name(product),
                descriptor=descriptor,
                update_mask=field_mask_pb2.FieldMask(paths=list(update_mask)),
                etag=etag,
                change_note=change_note,
                request_id=request_id or new_request_id(),
            )
        )
        return response

    def _state(self, method: str, request: Message) -> catalog_pb2.Product:
        response = getattr(self.stub, method)(request)
        result: catalog_pb2.Product = response.product
        return result

    def unlist_product(
        self, product: str, reason: str = "", *, request_id: str | None = None
    ) -> catalog_pb2.Product:
        return self._state(
            "UnlistProduct",
            catalog_pb2.UnlistProductRequest(
                name=self.product_name(product),
                reason=reason,
                request_id=request_id or new_request_id(),
            ),
        )

    def suspend_product(
        self, product: str, reason: str, *, request_id: str | None = None
    ) -> catalog_pb2.Product:
        return self._state(
            "SuspendProduct",
            catalog_pb2.SuspendProductRequest(
                name=self.product_name(product),
                reason=reason,
                request_id=request_id or new_request_id(),
            ),
        )

    def resume_product(
        self, product: str, reason: str = "", *, request_id: str | None = None
    ) -> catalog_pb2.Product:
        return self._state(
            "ResumeProduct",
            catalog_pb2.ResumeProductRequest(
                name=self.product_name(product),
                reason=reason,
                request_id=request_id or new_request_id(),
            ),
        )

    def get_revision(self, product: str, revision: int) -> catalog_pb2.ProductRevision:
        response = self.stub.GetProductRevision(
            catalog_pb2.GetProductRevisionRequest(
                name=f"{self.product_name(product)}/revisions/{revision}"
            )
        )
        result: catalog_pb2.ProductRevision = response.revision
        return result

    def list_revisions(
        self, product: str, *, page_size: int = 0
    ) -> Iterator[catalog_pb2.ProductRevision]:
        name = self.product_name(product)
        return _pages(
            lambda token: self.stub.ListProductRevisions(
                catalog_pb2.ListProductRevisionsRequest(
                    parent=name, page_size=page_size, page_token=token
                )
            ),
            "revisions",
        )

    # -- tariffs and ceilings -----------------------------------------------------------

    def create_tariff(
        self,
        product: str,
        *,
        unit: str | int,
        unit_price: str = "",
        purpose_prices: Mapping[str | int, str] | None = None,
        effective_time: datetime | None = None,
        request_id: str | None = None,
    ) -> catalog_pb2.Tariff:
        """Publish the next tariff version; prices are decimal strings in yuan."""
        tariff = catalog_pb2.Tariff(
            unit=enum_value(catalog_pb2.TariffUnit, "TARIFF_UNIT_", unit),  # type: ignore[arg-type]
            currency_code="CNY",
            unit_price=unit_price,
            purpose_prices=[
                catalog_pb2.PurposePrice(
                    purpose_class=enum_value(common_pb2.PurposeClass, "PURPOSE_CLASS_", k),  # type: ignore[arg-type]
                    unit_price=price,
                )
                for k, price in (purpose_prices or {}).items()
            ],
        )
        if effective_time is not None:
            tariff.effective_time.FromDatetime(effective_time)
        response = self.stub.CreateTariff(
            catalog_pb2.CreateTariffRequest(
                parent=self.product_name(product),
                tariff=tariff,
                request_id=request_id or new_request_id(),
            )
        )
        result: catalog_pb2.Tariff = response.tariff
        return result

    def get_tariff(self, product: str, version: int) -> catalog_pb2.Tariff:
        response = self.stub.GetTariff(
            catalog_pb2.GetTariffRequest(name=f"{self.product_name(product)}/tariffs/{version}")
        )
        result: catalog_pb2.Tariff = response.tariff
        return result

    def list_tariffs(
        self, product: str, *, in_force_at: datetime | None = None
    ) -> list[catalog_pb2.Tariff]:
        """Every tariff version, oldest first (or only the one in force at a time)."""
        request = catalog_pb2.ListTariffsRequest(parent=self.product_name(product))
        if in_force_at is not None:
            request.in_force_at.FromDatetime(in_force_at)

        def fetch(token: str) -> Any:
            request.page_token = token
            return self.stub.ListTariffs(request)

        return list(_pages(fetch, "tariffs"))

    def set_price_ceiling(
        self,
        *,
        unit: str | int,
        max_unit_price: str,
        category: str | int = 0,
        request_id: str | None = None,
    ) -> catalog_pb2.PriceCeiling:
        """Set the region's ceiling for a unit (and optionally one category); operators."""
        response = self.stub.SetPriceCeiling(
            catalog_pb2.SetPriceCeilingRequest(
                parent=self.parent,
                price_ceiling=catalog_pb2.PriceCeiling(
                    unit=enum_value(catalog_pb2.TariffUnit, "TARIFF_UNIT_", unit),  # type: ignore[arg-type]
                    category=enum_value(common_pb2.Category, "CATEGORY_", category),  # type: ignore[arg-type]
                    max_unit_price=max_unit_price,
                    currency_code="CNY",
                ),
                request_id=request_id or new_request_id(),
            )
        )
        result: catalog_pb2.PriceCeiling = response.price_ceiling
        return result

    def list_price_ceilings(self) -> list[catalog_pb2.PriceCeiling]:
        return list(
            _pages(
                lambda token: self.stub.ListPriceCeilings(
                    catalog_pb2.ListPriceCeilingsRequest(parent=self.parent, page_token=token)
                ),
                "price_ceilings",
            )
        )

    # -- standard mappings --------------------------------------------------------------

    def create_standard_mapping(
        self,
        peer_region: str,
        entries: Iterable[catalog_pb2.ElementMapping | tuple[str, str]],
        *,
        peer_standard_version: str,
        local_standard_version: str,
        version: int = 0,
        effective_time: datetime | None = None,
        request_id: str | None = None,
    ) -> catalog_pb2.StandardMapping:
        """Load a mapping version (``entries``: (peer code, local code) pairs or messages)."""
        mapping = catalog_pb2.StandardMapping(
            peer_region=peer_region,
            version=version,
            peer_standard_version=peer_standard_version,
            local_standard_version=local_standard_version,
            entries=[
                e
                if isinstance(e, catalog_pb2.ElementMapping)
                else catalog_pb2.ElementMapping(peer_code=e[0], local_code=e[1])
                for e in entries
            ],
        )
        if effective_time is not None:
            mapping.effective_time.FromDatetime(effective_time)
        response = self.stub.CreateStandardMapping(
            catalog_pb2.CreateStandardMappingRequest(
                parent=self.parent,
                standard_mapping=mapping,
                request_id=request_id or new_request_id(),
            )
        )
        result: catalog_pb2.StandardMapping = response.standard_mapping
        return result

    def get_standard_mapping(self, name: str) -> catalog_pb2.StandardMapping:
        response = self.stub.GetStandardMapping(
            catalog_pb2.GetStandardMappingRequest(name=self._name("standardMappings", name))
        )
        result: catalog_pb2.StandardMapping = response.standard_mapping
        return result

    def list_standard_mappings(
        self, *, peer_region: str = "", in_force_only: bool = False
    ) -> list[catalog_pb2.StandardMapping]:
        return list(
            _pages(
                lambda token: self.stub.ListStandardMappings(
                    catalog_pb2.ListStandardMappingsRequest(
                        parent=self.parent,
                        peer_region=peer_region,
                        in_force_only=in_force_only,
                        page_token=token,
                    )
                ),
                "standard_mappings",
            )
        )
