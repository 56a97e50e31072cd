"""The catalog domain: product descriptors, revisions, tariffs, ceilings, mappings.

Everything a provider lists and a consumer finds, as frozen dataclasses validated on
construction, and the operations that change them in one SQL database::

    catalog = Catalog(engine, "sc", recorder)             # recorder: see CatalogRecorder
    product, rev = catalog.create_product(caller, "", descriptor, "first listing",
                                          RequestKey("req-1", fingerprint))
    page = catalog.list_products(caller, ProductQuery(text="公交"), PageRequest(50))
    fen = amount_fen(tariff, Quantity(rows=1200), PurposeClass.COMMERCIAL)

Contracts kept here (the servicer only converts protobuf to these types and back):

* **Validation.** A :class:`Descriptor` (and every other aggregate taking user
  input) checks itself when constructed and reports EVERY violation at once, with
  the request path of each field. Nested value objects (:class:`Text`,
  :class:`FieldSpec`, :class:`Quantity` …) are validated by the aggregate that holds
  them, which is what lets all violations be reported together. Enumerations are
  *open* like proto3 enums: an unknown number becomes a pseudo-member that
  validation names ("unknown value 99") instead of a ``ValueError`` at the edge.
* **Idempotency.** Every mutating call takes a :class:`RequestKey`; the request id
  is stored in the row the call creates, under a unique constraint per caller, so a
  retry on any process sharing the database returns the first result and changes
  nothing; the same id with different content is INVALID_ARGUMENT
  ``REQUEST_ID_REUSED``.
* **Ledger.** Every listing, revision, status change, tariff, ceiling and mapping is
  recorded through :class:`CatalogRecorder` AFTER its transaction commits, with a
  deterministic idempotency key (``product/regions/sc/products/p1/revisions/2`` …);
  the append returns only once durable, and the entry is stored on the row. A retry
  (or :meth:`Catalog.record_pending` at start-up) re-appends a row whose entry is
  missing; the ledger returns the first entry for a key, never a second one.
* **Money.** Prices are decimal strings parsed to :class:`~decimal.Decimal`; amounts
  are integer fen; :func:`amount_fen` is the one rounding point (half-up per usage
  line). Nothing here uses floating point for money.
* **Pagination.** Keyset cursors on ``(create_us, id)``: a page never repeats or
  skips a product that existed when paging began, whatever is inserted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import decimal
import enum
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar, get_args, get_origin, get_type_hints

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.auth import Principal, Role
from services.db import session_scope
from services.errors import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.models import (
    CatalogPriceCeiling,
    CatalogProduct,
    CatalogProductEvent,
    CatalogRevision,
    CatalogStandardMapping,
    CatalogTariff,
    LicenceRow,
)

__all__ = [
    "CURRENCY",
    "AccessMode",
    "Catalog",
    "CatalogEvent",
    "CatalogRecorder",
    "Category",
    "CeilingSpec",
    "DataGrade",
    "Descriptor",
    "ElementMapping",
    "EntryRef",
    "FieldSensitivity",
    "FieldSpec",
    "FieldType",
    "LicenceLimits",
    "MappingRelation",
    "MappingSpec",
    "MaskingRule",
    "OpenIntEnum",
    "Page",
    "PageRequest",
    "PersonalInfoClass",
    "PriceCeiling",
    "Product",
    "ProductQuery",
    "ProductState",
    "PurposeClass",
    "Quantity",
    "RequestKey",
    "Revision",
    "RoundingRule",
    "SourceClass",
    "StandardMapping",
    "Tariff",
    "TariffSpec",
    "TariffUnit",
    "Text",
    "UpdateFrequency",
    "Violations",
    "amount_fen",
    "entry_ref",
    "fingerprint",
    "from_json",
    "mapped_codes",
    "paged",
    "parse_price",
    "party_name",
    "to_json",
]

CURRENCY = "CNY"
MIB = 1_048_576
HOUR_US = 3_600 * 1_000_000
# How far in the past a client-supplied "now" may be (clock skew, latency) before it
# counts as the past; within the grace it is moved up to the server's now.
PAST_GRACE_US = 300 * 1_000_000

REGION_PATTERN = r"[a-z]{2,8}"
REGION_RE = re.compile(rf"^{REGION_PATTERN}$")
PARTY_NAME_RE = re.compile(rf"^regions/({REGION_PATTERN})/parties/([A-Za-z0-9_-]{{1,64}})$")
PRODUCT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{2,62}$")
_PRODUCT = rf"regions/({REGION_PATTERN})/products/([a-z][a-z0-9-]{{2,62}})"
PRODUCT_NAME_RE = re.compile(rf"^{_PRODUCT}$")
REVISION_NAME_RE = re.compile(rf"^{_PRODUCT}/revisions/([1-9][0-9]{{0,8}})$")
TARIFF_NAME_RE = re.compile(rf"^{_PRODUCT}/tariffs/([1-9][0-9]{{0,8}})$")
MAPPING_NAME_RE = re.compile(
    rf"^regions/({REGION_PATTERN})/standardMappings/({REGION_PATTERN})-([1-9][0-9]{{0,17}})$"
)
REGION_NAME_RE = re.compile(rf"^regions/({REGION_PATTERN})$")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ELEMENT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCENARIO_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,63}$")
STANDARD_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,63}$")
PRICE_RE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,8})?$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_FIELD_DESCRIPTION = 2_000
MAX_FIELDS = 500
MAX_KEYWORDS = 20
MAX_KEYWORD = 50
MAX_LIST = 200  # scenario codes, consumer regions
MAX_NOTE = 2_000
MAX_FILTER_TEXT = 200
MAX_MAPPING_ENTRIES = 100_000
MAX_MAPPING_NOTE = 500
DEFAULT_PAGE = 50
MAX_PAGE = 1_000

T = TypeVar("T")
E = TypeVar("E", bound="OpenIntEnum")


# --- enumerations (numbers equal the bashu.common.v1 / catalog.v1 protobuf values) ---


class OpenIntEnum(enum.IntEnum):
    """An IntEnum that, like a proto3 enum, accepts any number.

    ``Category(99)`` is a pseudo-member named ``UNKNOWN_99`` (never cached), so the
    edge can convert every wire value and validation can name the bad one.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenIntEnum | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None

    @property
    def is_known(self) -> bool:
        return self._value_ in type(self)._value2member_map_

    @classmethod
    def known(cls: type[E]) -> list[E]:
        return [m for m in cls if m.value != 0]


class Category(OpenIntEnum):
    UNSPECIFIED = 0
    NATURAL_PERSON = 1
    LEGAL_PERSON = 2
    NATURAL_RESOURCES_GEOGRAPHY = 3
    ELECTRONIC_LICENCE = 4
    TRANSPORT = 5
    HEALTH = 6
    CULTURE_TOURISM = 7
    LIVELIHOOD = 8
    SCIENCE = 9
    OTHER = 10


class SourceClass(OpenIntEnum):
    UNSPECIFIED = 0
    GOVERNMENT = 1
    PUBLIC = 2
    SOCIAL = 3


class DataGrade(OpenIntEnum):
    UNSPECIFIED = 0
    CORE = 1
    IMPORTANT = 2
    GENERAL = 3


class PersonalInfoClass(OpenIntEnum):
    UNSPECIFIED = 0
    NONE = 1
    PERSONAL = 2
    SENSITIVE = 3
    ANONYMISED = 4


class AccessMode(OpenIntEnum):
    UNSPECIFIED = 0
    BULK = 1
    LOOKUP = 2
    VERIFY = 3


class PurposeClass(OpenIntEnum):
    UNSPECIFIED = 0
    COMMERCIAL = 1
    PUBLIC_WELFARE = 2
    GOVERNMENT_SHARING = 3
    RESEARCH = 4


class FieldSensitivity(OpenIntEnum):
    UNSPECIFIED = 0
    PUBLIC = 1
    INTERNAL = 2
    PERSONAL = 3
    SENSITIVE_PERSONAL = 4


class MaskingRule(OpenIntEnum):
    UNSPECIFIED = 0
    NONE = 1
    REDACT = 2
    ID_NUMBER = 3
    PHONE = 4
    NAME = 5
    HASH = 6
    TRUNCATE_DATE = 7


class FieldType(OpenIntEnum):
    UNSPECIFIED = 0
    STRING = 1
    INT64 = 2
    DOUBLE = 3
    DECIMAL = 4
    BOOL = 5
    DATE = 6
    TIMESTAMP = 7
    BINARY = 8
    GEOMETRY_WKB = 9


class UpdateFrequency(OpenIntEnum):
    UNSPECIFIED = 0
    REAL_TIME = 1
    DAILY = 2
    WEEKLY = 3
    MONTHLY = 4
    QUARTERLY = 5
    YEARLY = 6
    IRREGULAR = 7
    STATIC = 8


class ProductState(OpenIntEnum):
    UNSPECIFIED = 0
    ACTIVE = 1
    UNLISTED = 2
    SUSPENDED = 3


class TariffUnit(OpenIntEnum):
    UNSPECIFIED = 0
    PER_CALL = 1
    PER_ROW = 2
    PER_MIB = 3
    FREE = 4


class RoundingRule(OpenIntEnum):
    UNSPECIFIED = 0
    HALF_UP_PER_LINE = 1


class MappingRelation(OpenIntEnum):
    UNSPECIFIED = 0
    EXACT = 1
    BROADER = 2
    NARROWER = 3


# How strict a personal-information class is; a product's class must be at least as
# strict as what its most sensitive field needs.
_PI_STRICTNESS = {
    PersonalInfoClass.NONE: 0,
    PersonalInfoClass.ANONYMISED: 1,
    PersonalInfoClass.PERSONAL: 2,
    PersonalInfoClass.SENSITIVE: 3,
}
_PI_NEEDED = {
    FieldSensitivity.PERSONAL: PersonalInfoClass.PERSONAL,
    FieldSensitivity.SENSITIVE_PERSONAL: PersonalInfoClass.SENSITIVE,
}


# --- small helpers ---------------------------------------------------------------


def party_name(region: str, party_id: str) -> str:
    return f"regions/{region}/parties/{party_id}"


def now_us(clock: Callable[[], float]) -> int:
    return int(clock() * 1_000_000)


def _invalid_name(field_path: str, value: str, what: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        [FieldViolation(field_path, f"{value!r} is not {what}")], reason="INVALID_NAME"
    )


def parse_name(pattern: re.Pattern[str], value: str, field_path: str, what: str) -> tuple[str, ...]:
    """The groups of ``value`` matched against ``pattern``, or INVALID_NAME."""
    match = pattern.fullmatch(value)
    if match is None:
        raise _invalid_name(field_path, value, what)
    return match.groups()


def not_this_region(region: str, mine: str) -> FailedPreconditionError:
    return FailedPreconditionError(
        f"region {region!r} is not this node's region {mine!r}",
        reason="NOT_THIS_REGION",
        metadata={"region": region, "node_region": mine},
    )


class Violations:
    """Collects field violations so every one is reported at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, path: str, description: str) -> None:
        self.items.append(FieldViolation(path, description))

    def text(self, path: str, value: str, limit: int, *, required: bool = False) -> None:
        if required and not value.strip():
            self.add(path, "is required")
        elif len(value) > limit:
            self.add(path, f"is longer than {limit} characters")

    def enum(self, path: str, value: OpenIntEnum, *, required: bool = True) -> None:
        if not value.is_known:
            self.add(path, f"unknown value {int(value)}")
        elif required and value.value == 0:
            self.add(path, "is required")

    def enums(self, path: str, values: Sequence[OpenIntEnum], *, at_least_one: bool) -> None:
        if at_least_one and not values:
            self.add(path, "at least one value is required")
        seen: set[int] = set()
        for i, v in enumerate(values):
            self.enum(f"{path}[{i}]", v)
            if int(v) in seen:
                self.add(f"{path}[{i}]", f"duplicate value {v.name}")
            seen.add(int(v))

    def pattern(
        self, path: str, value: str, regex: re.Pattern[str], what: str, *, required: bool = True
    ) -> None:
        if not value:
            if required:
                self.add(path, "is required")
        elif not regex.fullmatch(value):
            self.add(path, f"{value[:80]!r} is not {what}")

    def raise_if_any(self, reason: str) -> None:
        if self.items:
            raise InvalidArgumentError(self.items, reason=reason)


def _plural(
    values: Sequence[str], path: str, v: Violations, regex: re.Pattern[str], what: str
) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        v.pattern(f"{path}[{i}]", value, regex, what)
        if value in seen:
            v.add(f"{path}[{i}]", f"duplicate {value!r}")
        seen.add(value)


# --- value objects ---------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text in Chinese and English (``LocalizedText``)."""

    zh: str = ""
    en: str = ""

    def check(self, path: str, limit: int, v: Violations) -> None:
        v.text(f"{path}.zh", self.zh, limit, required=True)
        v.text(f"{path}.en", self.en, limit)


@dataclass(frozen=True)
class Quantity:
    """Use metered along three dimensions (calls, rows, bytes); 0 is a count."""

    calls: int = 0
    rows: int = 0
    bytes: int = 0

    def check(self, path: str, v: Violations) -> None:
        for dim in ("calls", "rows", "bytes"):
            if getattr(self, dim) < 0:
                v.add(f"{path}.{dim}", "must not be negative")


@dataclass(frozen=True)
class EntryRef:
    """Where the ledger recorded something: entry index and RFC 9162 leaf hash."""

    index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    element_code: str
    sensitivity: FieldSensitivity
    description: Text = Text()
    default_masking: MaskingRule = MaskingRule.UNSPECIFIED
    nullable: bool = False

    def check(self, path: str, v: Violations) -> None:
        v.pattern(f"{path}.name", self.name, FIELD_NAME_RE, "a field name (^[a-z][a-z0-9_]{0,62}$)")
        v.enum(f"{path}.type", self.type)
        v.pattern(f"{path}.element_code", self.element_code, ELEMENT_CODE_RE, "an element code")
        v.enum(f"{path}.sensitivity", self.sensitivity)
        self.description.check(f"{path}.description", MAX_FIELD_DESCRIPTION, v)
        v.enum(f"{path}.default_masking", self.default_masking, required=False)
        if self.sensitivity is FieldSensitivity.SENSITIVE_PERSONAL and self.default_masking in (
            MaskingRule.UNSPECIFIED,
            MaskingRule.NONE,
        ):
            v.add(f"{path}.default_masking", "sensitive personal fields need a masking rule")

    @property
    def masking(self) -> MaskingRule:
        """The masking applied when a licence does not grant the field in clear."""
        return (
            MaskingRule.NONE
            if self.default_masking is MaskingRule.UNSPECIFIED
            else self.default_masking
        )


@dataclass(frozen=True)
class LicenceLimits:
    """Upper limits on one licence: 0 in a quota dimension and None mean no limit."""

    max_quota: Quantity = Quantity()
    max_validity_us: int | None = None

    def check(self, path: str, v: Violations) -> None:
        self.max_quota.check(f"{path}.max_quota", v)
        if self.max_validity_us is not None and self.max_validity_us <= 0:
            v.add(f"{path}.max_validity", "must be positive (leave unset for no limit)")


@dataclass(frozen=True)
class Descriptor:
    """A product descriptor under the shared standard; validated on construction.

    Raises INVALID_ARGUMENT ``INVALID_DESCRIPTOR`` listing every violation, with paths
    relative to the request (``descriptor.fields[3].name``). Core-grade data is a
    valid descriptor that is refused at listing (``CORE_DATA_NOT_LISTABLE``).
    """

    title: Text
    description: Text
    provider: str
    region: str
    category: Category
    source_class: SourceClass
    data_grade: DataGrade
    personal_info_class: PersonalInfoClass
    fields: tuple[FieldSpec, ...]
    access_modes: tuple[AccessMode, ...]
    allowed_purpose_classes: tuple[PurposeClass, ...]
    update_frequency: UpdateFrequency
    standard_version: str
    key_fields: tuple[str, ...] = ()
    allowed_scenario_codes: tuple[str, ...] = ()
    allowed_consumer_regions: tuple[str, ...] = ()
    cross_border_allowed: bool = False
    limits: LicenceLimits = LicenceLimits()
    keywords: tuple[str, ...] = ()

    PATH = "descriptor"

    def __post_init__(self) -> None:
        v = Violations()
        self.check(v)
        v.raise_if_any("INVALID_DESCRIPTOR")

    def check(self, v: Violations) -> None:
        p = self.PATH
        self.title.check(f"{p}.title", MAX_TITLE, v)
        self.description.check(f"{p}.description", MAX_DESCRIPTION, v)
        v.pattern(f"{p}.provider", self.provider, PARTY_NAME_RE, "a party name")
        v.pattern(f"{p}.region", self.region, REGION_RE, "a region id")
        provider = PARTY_NAME_RE.fullmatch(self.provider)
        if provider and REGION_RE.fullmatch(self.region) and provider.group(1) != self.region:
            v.add(f"{p}.region", "must be the provider's region")
        v.enum(f"{p}.category", self.category)
        v.enum(f"{p}.source_class", self.source_class)
        v.enum(f"{p}.data_grade", self.data_grade)
        v.enum(f"{p}.personal_info_class", self.personal_info_class)
        if not self.fields:
            v.add(f"{p}.fields", "at least one field is required")
        elif len(self.fields) > MAX_FIELDS:
            v.add(f"{p}.fields", f"at most {MAX_FIELDS} fields")
        names: set[str] = set()
        strictest = PersonalInfoClass.NONE
        for i, spec in enumerate(self.fields[:MAX_FIELDS]):
            spec.check(f"{p}.fields[{i}]", v)
            if spec.name in names:
                v.add(f"{p}.fields[{i}].name", f"duplicate field name {spec.name!r}")
            names.add(spec.name)
            needed = _PI_NEEDED.get(spec.sensitivity, PersonalInfoClass.NONE)
            if _PI_STRICTNESS[needed] > _PI_STRICTNESS[strictest]:
                strictest = needed
        pi = self.personal_info_class
        if pi in _PI_STRICTNESS and _PI_STRICTNESS[pi] < _PI_STRICTNESS[strictest]:
            v.add(
                f"{p}.personal_info_class",
                f"{pi.name} is less strict than its fields need ({strictest.name})",
            )
        v.enums(f"{p}.access_modes", self.access_modes, at_least_one=True)
        seen_keys: set[str] = set()
        for i, key in enumerate(self.key_fields):
            if key not in names:
                v.add(f"{p}.key_fields[{i}]", f"{key[:80]!r} is not a field of the schema")
            if key in seen_keys:
                v.add(f"{p}.key_fields[{i}]", f"duplicate {key!r}")
            seen_keys.add(key)
        keyed = {AccessMode.LOOKUP, AccessMode.VERIFY} & set(self.access_modes)
        if keyed and not self.key_fields:
            modes = ", ".join(sorted(m.name for m in keyed))
            v.add(f"{p}.key_fields", f"required when {modes} is offered")
        v.enums(f"{p}.allowed_purpose_classes", self.allowed_purpose_classes, at_least_one=True)
        if len(self.allowed_scenario_codes) > MAX_LIST:
            v.add(f"{p}.allowed_scenario_codes", f"at most {MAX_LIST}")
        _plural(
            self.allowed_scenario_codes[:MAX_LIST],
            f"{p}.allowed_scenario_codes",
            v,
            SCENARIO_RE,
            "a scenario code",
        )
        if len(self.allowed_consumer_regions) > MAX_LIST:
            v.add(f"{p}.allowed_consumer_regions", f"at most {MAX_LIST}")
        _plural(
            self.allowed_consumer_regions[:MAX_LIST],
            f"{p}.allowed_consumer_regions",
            v,
            REGION_RE,
            "a region id",
        )
        v.enum(f"{p}.update_frequency", self.update_frequency)
        v.pattern(
            f"{p}.standard_version",
            self.standard_version,
            STANDARD_VERSION_RE,
            "a standard version",
        )
        self.limits.check(f"{p}.limits", v)
        if len(self.keywords) > MAX_KEYWORDS:
            v.add(f"{p}.keywords", f"at most {MAX_KEYWORDS} keywords")
        for i, word in enumerate(self.keywords[:MAX_KEYWORDS]):
            if not word.strip() or len(word) > MAX_KEYWORD:
                v.add(f"{p}.keywords[{i}]", f"must be 1..{MAX_KEYWORD} characters")

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def consumer_regions(self) -> tuple[str, ...]:
        """Regions whose consumers may obtain licences (empty list: own region only)."""
        return self.allowed_consumer_regions or (self.region,)


# --- tariffs and money -------------------------------------------------------------


def parse_price(text: str, path: str, v: Violations) -> Decimal | None:
    """A price in yuan from its decimal string, or None with a violation recorded."""
    if not PRICE_RE.fullmatch(text):
        v.add(path, f"{text[:40]!r} is not a decimal price (^[0-9]{{1,12}}(\\.[0-9]{{1,8}})?$)")
        return None
    return Decimal(text)


def _price_text(price: Decimal) -> str:
    # Keeps the scale the provider wrote ("0.0150" stays "0.0150").
    return format(price, "f")


@dataclass(frozen=True)
class TariffSpec:
    """A tariff as a provider publishes it; validated on construction.

    Price format problems are INVALID_ARGUMENT ``INVALID_PRICE``; every other problem
    makes it ``INVALID_TARIFF`` (the BadRequest lists all of them either way).
    """

    unit: TariffUnit
    unit_price: str = ""
    purpose_prices: tuple[tuple[PurposeClass, str], ...] = ()
    currency_code: str = CURRENCY
    rounding_rule: RoundingRule = RoundingRule.HALF_UP_PER_LINE
    effective_us: int | None = None

    def __post_init__(self) -> None:
        v, prices = Violations(), Violations()
        v.enum("tariff.unit", self.unit)
        if self.currency_code != CURRENCY:
            v.add("tariff.currency_code", f"must be {CURRENCY!r}")
        v.enum("tariff.rounding_rule", self.rounding_rule)
        free = self.unit is TariffUnit.FREE
        if free:
            if self.unit_price not in ("", "0") and (
                not PRICE_RE.fullmatch(self.unit_price) or Decimal(self.unit_price) != 0
            ):
                v.add("tariff.unit_price", "must be empty or 0 for a FREE tariff")
            if self.purpose_prices:
                v.add("tariff.purpose_prices", "a FREE tariff has no purpose prices")
        else:
            parse_price(self.unit_price, "tariff.unit_price", prices)
        seen: set[int] = set()
        for i, (klass, price) in enumerate(self.purpose_prices):
            v.enum(f"tariff.purpose_prices[{i}].purpose_class", klass)
            if int(klass) in seen:
                v.add(f"tariff.purpose_prices[{i}].purpose_class", f"duplicate {klass.name}")
            seen.add(int(klass))
            if not free:
                parse_price(price, f"tariff.purpose_prices[{i}].unit_price", prices)
        if v.items:
            raise InvalidArgumentError(v.items + prices.items, reason="INVALID_TARIFF")
        prices.raise_if_any("INVALID_PRICE")

    @property
    def base_price(self) -> Decimal:
        return Decimal(0) if self.unit is TariffUnit.FREE else Decimal(self.unit_price)


@dataclass(frozen=True)
class Tariff:
    """One immutable tariff version of a product.

    amount (fen) = round_half_up(quantity_in_unit × unit_price × 100) per usage line,
    where quantity_in_unit is calls, rows, or bytes / 1 048 576 (exact decimal).
    """

    product_id: str
    region: str
    version: int
    unit: TariffUnit
    unit_price: Decimal
    purpose_prices: tuple[tuple[PurposeClass, Decimal], ...]
    currency_code: str
    rounding_rule: RoundingRule
    effective_us: int
    creator: str
    create_us: int
    ledger: EntryRef | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/products/{self.product_id}/tariffs/{self.version}"

    @property
    def product_name(self) -> str:
        return f"regions/{self.region}/products/{self.product_id}"

    def price_for(self, purpose_class: PurposeClass) -> Decimal:
        """The unit price a purpose class pays (its own price, else the base price)."""
        for klass, price in self.purpose_prices:
            if klass == purpose_class:
                return price
        return self.unit_price


# Enough digits for (2^63 bytes / 2^20) × (12+8-digit price) × 100, exactly.
_MONEY_CONTEXT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_UP)


def amount_fen(tariff: Tariff, quantity: Quantity, purpose_class: PurposeClass) -> int:
    """The charge for one usage line, in integer fen.

    The only rounding point of the system: the exact decimal product is rounded
    half-up to a whole fen once, per usage line (one usage record). A FREE tariff and
    a zero price give 0, and the use is still metered as counts.
    """
    if quantity.calls < 0 or quantity.rows < 0 or quantity.bytes < 0:
        raise InvalidArgumentError([FieldViolation("quantity", "must not be negative")])
    if tariff.unit is TariffUnit.FREE:
        return 0
    with decimal.localcontext(_MONEY_CONTEXT):
        if tariff.unit is TariffUnit.PER_CALL:
            units = Decimal(quantity.calls)
        elif tariff.unit is TariffUnit.PER_ROW:
            units = Decimal(quantity.rows)
        elif tariff.unit is TariffUnit.PER_MIB:
            units = Decimal(quantity.bytes) / Decimal(MIB)
        else:
            raise InvalidArgumentError([FieldViolation("tariff.unit", "unknown tariff unit")])
        exact = units * tariff.price_for(purpose_class) * 100
        return int(exact.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


@dataclass(frozen=True)
class CeilingSpec:
    """An operator's price ceiling as submitted; validated on construction."""

    unit: TariffUnit
    category: Category
    max_unit_price: str
    currency_code: str = CURRENCY

    def __post_init__(self) -> None:
        v, prices = Violations(), Violations()
        v.enum("price_ceiling.unit", self.unit)
        if self.unit is TariffUnit.FREE:
            v.add("price_ceiling.unit", "FREE tariffs have no price to bound")
        v.enum("price_ceiling.category", self.category, required=False)
        if self.currency_code != CURRENCY:
            v.add("price_ceiling.currency_code", f"must be {CURRENCY!r}")
        parse_price(self.max_unit_price, "price_ceiling.max_unit_price", prices)
        if v.items:
            raise InvalidArgumentError(v.items + prices.items, reason="INVALID_ARGUMENT")
        prices.raise_if_any("INVALID_PRICE")


def _slug(member: OpenIntEnum) -> str:
    return member.name.lower().replace("_", "-")


def ceiling_id(unit: TariffUnit, category: Category) -> str:
    """``per-row.health``, ``per-call.all``: the ceiling's resource id."""
    cat = "all" if category is Category.UNSPECIFIED else _slug(category)
    return f"{_slug(unit)}.{cat}"


@dataclass(frozen=True)
class PriceCeiling:
    region: str
    unit: TariffUnit
    category: Category
    version: int
    max_unit_price: Decimal
    currency_code: str
    creator: str
    create_us: int
    ledger: EntryRef | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/priceCeilings/{ceiling_id(self.unit, self.category)}"


# --- standard mappings -------------------------------------------------------------


@dataclass(frozen=True)
class ElementMapping:
    peer_code: str
    local_code: str
    relation: MappingRelation = MappingRelation.EXACT
    note: str = ""


@dataclass(frozen=True)
class MappingSpec:
    """A mapping version as an operator loads it; validated on construction (the
    check that local codes are known needs the database and is done on load)."""

    peer_region: str
    version: int
    peer_standard_version: str
    local_standard_version: str
    entries: tuple[ElementMapping, ...]
    effective_us: int | None = None

    def __post_init__(self) -> None:
        v = Violations()
        self.check(v)
        v.raise_if_any("INVALID_STANDARD_MAPPING")

    def check(self, v: Violations) -> None:
        p = "standard_mapping"
        v.pattern(f"{p}.peer_region", self.peer_region, REGION_RE, "a region id")
        if self.version < 0:
            v.add(f"{p}.version", "must not be negative (0 lets the server choose)")
        v.pattern(
            f"{p}.peer_standard_version",
            self.peer_standard_version,
            STANDARD_VERSION_RE,
            "a standard version",
        )
        v.pattern(
            f"{p}.local_standard_version",
            self.local_standard_version,
            STANDARD_VERSION_RE,
            "a standard version",
        )
        if not self.entries:
            v.add(f"{p}.entries", "at least one entry is required")
        elif len(self.entries) > MAX_MAPPING_ENTRIES:
            v.add(f"{p}.entries", f"at most {MAX_MAPPING_ENTRIES} entries")
        seen: set[str] = set()
        for i, entry in enumerate(self.entries[:MAX_MAPPING_ENTRIES]):
            v.pattern(
                f"{p}.entries[{i}].peer_code", entry.peer_code, ELEMENT_CODE_RE, "an element code"
            )
            v.pattern(
                f"{p}.entries[{i}].local_code", entry.local_code, ELEMENT_CODE_RE, "an element code"
            )
            v.enum(f"{p}.entries[{i}].relation", entry.relation)
            v.text(f"{p}.entries[{i}].note", entry.note, MAX_MAPPING_NOTE)
            if entry.peer_code in seen:
                v.add(f"{p}.entries[{i}].peer_code", f"duplicate peer code {entry.peer_code!r}")
            seen.add(entry.peer_code)


@dataclass(frozen=True)
class StandardMapping:
    region: str
    peer_region: str
    version: int
    peer_standard_version: str
    local_standard_version: str
    entries: tuple[ElementMapping, ...]
    effective_us: int
    in_force: bool
    creator: str
    create_us: int
    ledger: EntryRef | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/standardMappings/{self.peer_region}-{self.version}"

    def peer_codes_for(self, local_code: str) -> list[str]:
        """Peer codes mapped onto ``local_code``, EXACT relations first."""
        hits = [e for e in self.entries if e.local_code == local_code]
        hits.sort(key=lambda e: (e.relation is not MappingRelation.EXACT, e.peer_code))
        return [e.peer_code for e in hits]

    def local_codes_for(self, peer_code: str) -> list[str]:
        return [e.local_code for e in self.entries if e.peer_code == peer_code]


def mapped_codes(descriptor: Descriptor, mapping: StandardMapping | None) -> dict[str, str]:
    """Field name → the peer region's element code, for fields the mapping covers."""
    if mapping is None:
        return {}
    codes: dict[str, str] = {}
    for spec in descriptor.fields:
        peer = mapping.peer_codes_for(spec.element_code)
        if peer:
            codes[spec.name] = peer[0]
    return codes


# --- products ----------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    product_id: str
    region: str
    revision: int
    descriptor: Descriptor
    change_note: str
    creator: str  # party id
    create_us: int
    descriptor_digest: bytes
    ledger: EntryRef | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/products/{self.product_id}/revisions/{self.revision}"

    @property
    def product_name(self) -> str:
        return f"regions/{self.region}/products/{self.product_id}"


@dataclass(frozen=True)
class Product:
    id: str
    region: str
    revision: Revision
    state: ProductState
    state_reason: str
    provider_party: str  # party id
    create_us: int
    update_us: int
    current_tariff: int | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/products/{self.id}"

    @property
    def descriptor(self) -> Descriptor:
        return self.revision.descriptor

    @property
    def provider(self) -> str:
        return party_name(self.region, self.provider_party)

    @property
    def etag(self) -> str:
        # Opaque, and changes with every revision (the digest tells two revisions of
        # the same number in different databases apart too).
        return f"{self.revision.revision}-{self.revision.descriptor_digest[:6].hex()}"


@dataclass(frozen=True)
class ProductQuery:
    """Filters of ListProducts/SearchProducts; validated on construction."""

    categories: tuple[Category, ...] = ()
    data_grades: tuple[DataGrade, ...] = ()
    personal_info_classes: tuple[PersonalInfoClass, ...] = ()
    source_classes: tuple[SourceClass, ...] = ()
    access_modes: tuple[AccessMode, ...] = ()
    text: str = ""
    element_code: str = ""
    element_code_region: str = ""
    provider: str = ""
    states: tuple[ProductState, ...] = ()

    def __post_init__(self) -> None:
        v = Violations()
        v.enums("filter.categories", self.categories, at_least_one=False)
        v.enums("filter.data_grades", self.data_grades, at_least_one=False)
        v.enums("filter.personal_info_classes", self.personal_info_classes, at_least_one=False)
        v.enums("filter.source_classes", self.source_classes, at_least_one=False)
        v.enums("filter.access_modes", self.access_modes, at_least_one=False)
        v.enums("filter.states", self.states, at_least_one=False)
        v.text("filter.text", self.text, MAX_FILTER_TEXT)
        v.pattern(
            "filter.element_code",
            self.element_code,
            ELEMENT_CODE_RE,
            "an element code",
            required=False,
        )
        v.pattern(
            "filter.element_code_region",
            self.element_code_region,
            REGION_RE,
            "a region id",
            required=False,
        )
        v.pattern("filter.provider", self.provider, PARTY_NAME_RE, "a party name", required=False)
        v.raise_if_any("INVALID_ARGUMENT")


# --- idempotency and pagination ------------------------------------------------------


@dataclass(frozen=True)
class RequestKey:
    """The idempotency key of a mutating call and a digest of what it asked for.

    The fingerprint is computed by the edge from the request without its
    request_id; the same id with another fingerprint is ``REQUEST_ID_REUSED``.
    """

    request_id: str
    fingerprint: str

    def __post_init__(self) -> None:
        if not self.request_id:
            raise InvalidArgumentError(
                [FieldViolation("request_id", "is required on every mutating call")],
                reason="REQUEST_ID_REQUIRED",
            )
        if not REQUEST_ID_RE.fullmatch(self.request_id):
            raise InvalidArgumentError(
                [FieldViolation("request_id", "must be 1..128 characters of [A-Za-z0-9._:-]")]
            )

    def check_same(self, stored_fingerprint: str) -> None:
        if stored_fingerprint != self.fingerprint:
            raise InvalidArgumentError(
                [FieldViolation("request_id", "was already used for a different request")],
                reason="REQUEST_ID_REUSED",
            )


@dataclass(frozen=True)
class PageRequest:
    """``page_size`` (0 = 50, coerced to at most 1000), the token, and a digest of
    the rest of the request the token must belong to."""

    size: int = 0
    token: str = ""
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if self.size < 0:
            raise InvalidArgumentError([FieldViolation("page_size", "must not be negative")])

    @property
    def limit(self) -> int:
        return min(self.size or DEFAULT_PAGE, MAX_PAGE)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_token: str = ""


def _bad_token() -> InvalidArgumentError:
    return InvalidArgumentError(
        [FieldViolation("page_token", "not a token this server issued for this request")],
        reason="INVALID_PAGE_TOKEN",
    )


def encode_token(kind: str, page: PageRequest, cursor: Sequence[object]) -> str:
    raw = json.dumps([kind, page.fingerprint[:16], *cursor], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(kind: str, page: PageRequest, shape: Sequence[type]) -> list[Any] | None:
    """The cursor of ``page.token`` (None when there is no token), or INVALID_PAGE_TOKEN."""
    if not page.token:
        return None
    try:
        padded = page.token + "=" * (-len(page.token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_token() from None
    if (
        not isinstance(data, list)
        or len(data) != 2 + len(shape)
        or data[:2] != [kind, page.fingerprint[:16]]
        or not all(type(x) is t for x, t in zip(data[2:], shape, strict=True))
    ):
        raise _bad_token()
    return data[2:]


def paged(
    rows: list[T], page: PageRequest, kind: str, cursor: Callable[[T], Sequence[object]]
) -> tuple[list[T], str]:
    """Cut a query result of up to ``page.limit + 1`` rows into a page and the token
    of the next one (queries fetch one extra row to know whether there is more)."""
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, encode_token(kind, page, cursor(rows[-1]))
    return rows, ""


def after(
    columns: Sequence[Any], cursor: Sequence[object], *, descending: bool = False
) -> ColumnElement[bool]:
    """The keyset condition "row comes after ``cursor``" for a lexicographic order."""
    first, *rest = columns
    value, *more = cursor
    beyond: ColumnElement[bool] = first < value if descending else first > value
    if not rest:
        return beyond
    return or_(beyond, and_(first == value, after(rest, more, descending=descending)))


# --- JSON storage codec for the frozen dataclasses --------------------------------


def to_json(obj: object) -> str:
    """Canonical JSON of a domain object (enums by name, Decimals as strings)."""
    return json.dumps(_plain(obj), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _plain(obj: object) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, Decimal):
        return _price_text(obj)
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    if isinstance(obj, tuple | list):
        return [_plain(x) for x in obj]
    return obj


_HINTS: dict[type, dict[str, Any]] = {}


def from_json(cls: type[T], text: str) -> T:
    """Rebuild a domain object written by :func:`to_json` (validating it again)."""
    result: T = _build(cls, json.loads(text))
    return result


def _build(tp: Any, data: Any) -> Any:
    origin = get_origin(tp)
    if origin is not None and type(None) in get_args(tp):  # X | None
        if data is None:
            return None
        (tp,) = [a for a in get_args(tp) if a is not type(None)]
        origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], x) for x in data)
        return tuple(_build(a, x) for a, x in zip(args, data, strict=True))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _HINTS.get(tp)
        if hints is None:
            hints = _HINTS[tp] = get_type_hints(tp)
        kwargs = {
            f.name: _build(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp[data]
    if tp is Decimal:
        return Decimal(data)
    if tp is bytes:
        return base64.b64decode(data)
    return data


# --- the ledger side -----------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEvent:
    """Something the catalog appends to the ledger: the key makes it idempotent."""

    key: str
    actor: str  # party resource name


@dataclass(frozen=True)
class ProductListed(CatalogEvent):
    product: Product
    revision: Revision


@dataclass(frozen=True)
class ProductRevised(CatalogEvent):
    revision: Revision
    previous_revision: str


@dataclass(frozen=True)
class ProductStatusChanged(CatalogEvent):
    product: str
    old_state: ProductState
    new_state: ProductState
    reason: str


@dataclass(frozen=True)
class TariffPublished(CatalogEvent):
    tariff: Tariff


@dataclass(frozen=True)
class PriceCeilingSet(CatalogEvent):
    ceiling: PriceCeiling


@dataclass(frozen=True)
class StandardMappingLoaded(CatalogEvent):
    mapping: StandardMapping


class CatalogRecorder(Protocol):
    """What the catalog needs from the edge: the wire encodings it must hash or record.

    ``record`` appends the event to the region's ledger under ``event.key`` and
    returns only once the entry is durable (an existing key returns the first entry).
    """

    def descriptor_digest(self, descriptor: Descriptor) -> bytes: ...

    def record(self, event: CatalogEvent) -> EntryRef: ...


# --- the catalog ---------------------------------------------------------------------


def entry_ref(index: int | None, leaf: bytes | None) -> EntryRef | None:
    """The stored ledger reference of a row (None until its append returned)."""
    return EntryRef(index, leaf) if index is not None and leaf is not None else None


def _is_operator(caller: Principal) -> bool:
    return Role.OPERATOR in caller.roles


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_text(d: Descriptor) -> str:
    parts = [d.title.zh, d.title.en, d.description.zh, d.description.en, *d.keywords]
    return "\n".join(parts).lower()


# A write transaction may lose a unique-key race to a concurrent call (same request
# id, same new version number); it is then run again and finds the winner's row.
ATTEMPTS = 3


class Catalog:
    """The catalog of one region in one database. Thread-safe (no shared state)."""

    def __init__(
        self,
        engine: Engine,
        region: str,
        recorder: CatalogRecorder,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self.region = region
        self._recorder = recorder
        self._clock = clock

    # -- small shared pieces ---------------------------------------------------------

    def now_us(self) -> int:
        return now_us(self._clock)

    def product_ref(self, name: str, field_path: str = "name") -> str:
        """The product id of a product name of this region (INVALID_NAME, NOT_THIS_REGION)."""
        region, product_id = parse_name(PRODUCT_NAME_RE, name, field_path, "a product name")
        if region != self.region:
            raise not_this_region(region, self.region)
        return product_id

    def region_of(self, parent: str, field_path: str = "parent") -> None:
        """Check that ``parent`` is ``regions/{this region}``."""
        (region,) = parse_name(
            REGION_NAME_RE, parent, field_path, "a region name (regions/{region})"
        )
        if region != self.region:
            raise not_this_region(region, self.region)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with session_scope(self._engine) as session:
            yield session

    def _revision(self, row: CatalogRevision) -> Revision:
        return Revision(
            product_id=row.product_id,
            region=self.region,
            revision=row.revision,
            descriptor=from_json(Descriptor, row.descriptor),
            change_note=row.change_note,
            creator=row.creator,
            create_us=row.create_us,
            descriptor_digest=row.descriptor_digest,
            ledger=entry_ref(row.ledger_index, row.ledger_leaf_hash),
        )

    def _product(self, row: CatalogProduct, rev: CatalogRevision, tariff: int | None) -> Product:
        return Product(
            id=row.id,
            region=self.region,
            revision=self._revision(rev),
            state=ProductState[row.state],
            state_reason=row.state_reason,
            provider_party=row.provider_party,
            create_us=row.create_us,
            update_us=row.update_us,
            current_tariff=tariff,
        )

    def _tariffs_in_force(
        self, session: Session, product_ids: Iterable[str], at_us: int
    ) -> dict[str, int]:
        ids = list(product_ids)
        if not ids:
            return {}
        rows = session.execute(
            select(
                CatalogTariff.product_id, CatalogTariff.version, CatalogTariff.effective_us
            ).where(CatalogTariff.product_id.in_(ids), CatalogTariff.effective_us <= at_us)
        ).all()
        best: dict[str, tuple[int, int]] = {}
        for product_id, version, effective in rows:
            if (effective, version) > best.get(product_id, (-1, -1)):
                best[product_id] = (effective, version)
        return {pid: version for pid, (_, version) in best.items()}

    def _load(
        self, session: Session, product_id: str, *, lock: bool = False
    ) -> tuple[CatalogProduct, CatalogRevision]:
        stmt = select(CatalogProduct).where(CatalogProduct.id == product_id)
        if lock:
            stmt = stmt.with_for_update()
        row = session.scalar(stmt)
        if row is None:
            raise NotFoundError(
                f"regions/{self.region}/products/{product_id}", reason="PRODUCT_NOT_FOUND"
            )
        rev = session.get(CatalogRevision, (product_id, row.current_revision))
        assert rev is not None, "a product always has its current revision"
        return row, rev

    def _may_see(self, session: Session, caller: Principal, row: CatalogProduct) -> bool:
        if row.state == ProductState.ACTIVE.name or _is_operator(caller):
            return True
        if row.provider_party == caller.party_id:
            return True
        holder = party_name(self.region, caller.party_id)
        return (
            session.scalar(
                select(func.count())
                .select_from(LicenceRow)
                .where(LicenceRow.product_id == row.id, LicenceRow.consumer_party == holder)
            )
            != 0
        )

    def _visible(
        self, session: Session, caller: Principal, product_id: str
    ) -> tuple[CatalogProduct, CatalogRevision]:
        row, rev = self._load(session, product_id)
        if not self._may_see(session, caller, row):
            # Invisible products do not exist for this caller (no existence leak).
            raise NotFoundError(
                f"regions/{self.region}/products/{product_id}", reason="PRODUCT_NOT_FOUND"
            )
        return row, rev

    def _owned(
        self, session: Session, caller: Principal, product_id: str
    ) -> tuple[CatalogProduct, CatalogRevision]:
        row, rev = self._load(session, product_id, lock=True)
        if row.provider_party != caller.party_id:
            if not self._may_see(session, caller, row):
                raise NotFoundError(
                    f"regions/{self.region}/products/{product_id}", reason="PRODUCT_NOT_FOUND"
                )
            raise PermissionDeniedError(
                f"regions/{self.region}/products/{product_id} belongs to another provider",
                reason="NOT_PRODUCT_OWNER",
            )
        return row, rev

    def _finish(self, table: type[Any], key: Mapping[str, object], event: CatalogEvent) -> EntryRef:
        """Append ``event`` (durable on return) and store its entry on the row."""
        ref = self._recorder.record(event)
        with self._tx() as session:
            session.execute(
                update(table)
                .where(
                    *(getattr(table, k) == v for k, v in key.items()), table.ledger_index.is_(None)
                )
                .values(ledger_index=ref.index, ledger_leaf_hash=ref.leaf_hash)
            )
        return ref

    # -- products: reads ---------------------------------------------------------------

    def product_in(self, session: Session, caller: Principal, product_id: str) -> Product:
        """``product_id`` as ``caller`` may see it, read in the caller's transaction
        (NOT_FOUND ``PRODUCT_NOT_FOUND`` otherwise)."""
        row, rev = self._visible(session, caller, product_id)
        return self._product(row, rev, None)

    def editable(self, caller: Principal, product_id: str) -> Product:
        """``product_id`` if ``caller`` owns it (NOT_FOUND / NOT_PRODUCT_OWNER otherwise)."""
        with self._tx() as session:
            row, rev = self._owned(session, caller, product_id)
            return self._product(row, rev, None)

    def revision_in(self, session: Session, product_id: str, number: int) -> Revision | None:
        row = session.get(CatalogRevision, (product_id, number))
        return self._revision(row) if row is not None else None

    def get_product(self, caller: Principal, product_id: str) -> Product:
        with self._tx() as session:
            row, rev = self._visible(session, caller, product_id)
            tariff = self._tariffs_in_force(session, [row.id], self.now_us()).get(row.id)
            return self._product(row, rev, tariff)

    def list_products(
        self, caller: Principal, query: ProductQuery, page: PageRequest, *, kind: str = "products"
    ) -> Page[Product]:
        cursor = decode_token(kind, page, (int, str))
        conditions = self._filter(caller, query)
        if conditions is None:
            return Page(())
        stmt = (
            select(CatalogProduct, CatalogRevision)
            .join(
                CatalogRevision,
                and_(
                    CatalogRevision.product_id == CatalogProduct.id,
                    CatalogRevision.revision == CatalogProduct.current_revision,
                ),
            )
            .where(*conditions)
            .order_by(CatalogProduct.create_us, CatalogProduct.id)
            .limit(page.limit + 1)
        )
        if cursor is not None:
            stmt = stmt.where(after([CatalogProduct.create_us, CatalogProduct.id], cursor))
        with self._tx() as session:
            rows: list[tuple[CatalogProduct, CatalogRevision]] = [
                (p, r) for p, r in session.execute(stmt)
            ]
            rows, token = paged(rows, page, kind, lambda r: (r[0].create_us, r[0].id))
            tariffs = self._tariffs_in_force(session, [r[0].id for r in rows], self.now_us())
            items = tuple(self._product(p, rev, tariffs.get(p.id)) for p, rev in rows)
        return Page(items, token)

    def search_products(
        self, caller: Principal, query: ProductQuery, page: PageRequest
    ) -> Page[Product]:
        """This region's ACTIVE products matching ``query`` (the local part of a
        federated search; peers answer theirs through federation)."""
        active = dataclasses.replace(query, states=(ProductState.ACTIVE,))
        return self.list_products(caller, active, page, kind="search")

    def _filter(self, caller: Principal, query: ProductQuery) -> list[ColumnElement[bool]] | None:
        """SQL conditions for ``query`` as ``caller`` may see it; None matches nothing."""
        states = query.states or (ProductState.ACTIVE,)
        conditions: list[ColumnElement[bool]] = [CatalogProduct.state.in_([s.name for s in states])]
        if not _is_operator(caller):
            # Products not ACTIVE are listed to their provider (and operators) only.
            conditions.append(
                or_(
                    CatalogProduct.state == ProductState.ACTIVE.name,
                    CatalogProduct.provider_party == caller.party_id,
                )
            )
        for column, values in (
            (CatalogProduct.category, query.categories),
            (CatalogProduct.data_grade, query.data_grades),
            (CatalogProduct.personal_info_class, query.personal_info_classes),
            (CatalogProduct.source_class, query.source_classes),
        ):
            if values:
                conditions.append(column.in_([v.name for v in values]))
        if query.access_modes:
            conditions.append(
                or_(
                    *(
                        CatalogProduct.access_modes.contains(f",{m.name},")
                        for m in query.access_modes
                    )
                )
            )
        if query.text:
            needle = f"%{_like_escape(query.text.lower())}%"
            conditions.append(CatalogProduct.search_text.like(needle, escape="\\"))
        provider = PARTY_NAME_RE.fullmatch(query.provider)
        if provider is not None:
            if provider.group(1) != self.region:
                return None
            conditions.append(CatalogProduct.provider_party == provider.group(2))
        if query.element_code:
            codes = [query.element_code]
            if query.element_code_region and query.element_code_region != self.region:
                mapping = self.mapping_in_force(query.element_code_region)
                codes = mapping.local_codes_for(query.element_code)
                if not codes:
                    return None
            conditions.append(
                or_(*(CatalogProduct.element_codes.contains(f" {c} ") for c in codes))
            )
        return conditions

    def view_mapping(self, region: str) -> StandardMapping | None:
        """The mapping that shows descriptors in ``region``'s codes: None for this
        region's own standard, NOT_FOUND ``STANDARD_MAPPING_NOT_FOUND`` if none is in
        force. Fetch it once per request and apply :func:`mapped_codes` per product."""
        if not region or region == self.region:
            return None
        return self.mapping_in_force(region)

    def get_revision(self, caller: Principal, product_id: str, revision: int) -> Revision:
        with self._tx() as session:
            self._visible(session, caller, product_id)
            row = session.get(CatalogRevision, (product_id, revision))
            if row is None:
                raise NotFoundError(
                    f"regions/{self.region}/products/{product_id}/revisions/{revision}",
                    reason="REVISION_NOT_FOUND",
                )
            return self._revision(row)

    def list_revisions(
        self, caller: Principal, product_id: str, page: PageRequest
    ) -> Page[Revision]:
        cursor = decode_token("revisions", page, (int,))
        stmt = (
            select(CatalogRevision)
            .where(CatalogRevision.product_id == product_id)
            .order_by(CatalogRevision.revision)
            .limit(page.limit + 1)
        )
        if cursor is not None:
            stmt = stmt.where(CatalogRevision.revision > cursor[0])
        with self._tx() as session:
            self._visible(session, caller, product_id)
            rows, token = paged(
                list(session.scalars(stmt)), page, "revisions", lambda r: (r.revision,)
            )
            return Page(tuple(self._revision(r) for r in rows), token)

    # -- products: writes -----------------------------------------------------------

    def create_product(
        self,
        caller: Principal,
        product_id: str,
        descriptor: Descriptor,
        change_note: str,
        req: RequestKey,
    ) -> tuple[Product, Revision]:
        """List a new product with revision 1 (see CatalogService.CreateProduct)."""
        if product_id and not PRODUCT_ID_RE.fullmatch(product_id):
            raise InvalidArgumentError(
                [FieldViolation("product_id", "must match ^[a-z][a-z0-9-]{2,62}$")]
            )
        if len(change_note) > MAX_NOTE:
            raise InvalidArgumentError(
                [FieldViolation("change_note", f"at most {MAX_NOTE} characters")]
            )
        if descriptor.region != self.region:
            raise not_this_region(descriptor.region, self.region)
        if descriptor.provider != party_name(self.region, caller.party_id):
            raise PermissionDeniedError(
                "descriptor.provider must be the calling party", reason="NOT_PRODUCT_OWNER"
            )
        if descriptor.data_grade is DataGrade.CORE:
            raise FailedPreconditionError(
                "core-grade data is never listed on the exchange", reason="CORE_DATA_NOT_LISTABLE"
            )
        digest = self._recorder.descriptor_digest(descriptor)
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    first = self._revision_by_request(session, caller, req)
                    if first is not None:
                        if first.revision != 1:
                            req.check_same("")  # the id was used for an UpdateProduct
                        new_id = first.product_id
                        break
                    new_id = product_id or f"p-{secrets.token_hex(5)}"
                    if session.get(CatalogProduct, new_id) is not None:
                        raise AlreadyExistsError(
                            f"regions/{self.region}/products/{new_id} already exists",
                            reason="PRODUCT_ALREADY_EXISTS",
                        )
                    now = self.now_us()
                    session.add(self._product_row(new_id, caller.party_id, descriptor, now))
                    session.flush()
                    session.add(
                        CatalogRevision(
                            product_id=new_id,
                            revision=1,
                            descriptor=to_json(descriptor),
                            descriptor_digest=digest,
                            change_note=change_note,
                            creator=caller.party_id,
                            request_id=req.request_id,
                            request_fingerprint=req.fingerprint,
                            create_us=now,
                        )
                    )
                break
            except IntegrityError:
                # A concurrent call took the id or the request id: look again.
                if attempt == ATTEMPTS - 1:
                    raise
        return self._after_listing(caller, new_id)

    def _product_row(
        self, product_id: str, provider: str, d: Descriptor, now: int
    ) -> CatalogProduct:
        row = CatalogProduct(
            id=product_id,
            provider_party=provider,
            state=ProductState.ACTIVE.name,
            state_reason="",
            current_revision=1,
            status_seq=0,
            create_us=now,
            update_us=now,
        )
        self._mirror(row, d)
        return row

    @staticmethod
    def _mirror(row: CatalogProduct, d: Descriptor) -> None:
        """Copy the search columns of the current revision onto the product row."""
        row.category = d.category.name
        row.data_grade = d.data_grade.name
        row.personal_info_class = d.personal_info_class.name
        row.source_class = d.source_class.name
        row.access_modes = "," + ",".join(m.name for m in d.access_modes) + ","
        row.element_codes = " " + " ".join(sorted({f.element_code for f in d.fields})) + " "
        row.search_text = _search_text(d)

    def _revision_by_request(
        self, session: Session, caller: Principal, req: RequestKey
    ) -> CatalogRevision | None:
        row = session.scalar(
            select(CatalogRevision).where(
                CatalogRevision.creator == caller.party_id,
                CatalogRevision.request_id == req.request_id,
            )
        )
        if row is not None:
            req.check_same(row.request_fingerprint)
        return row

    def _after_listing(self, caller: Principal, product_id: str) -> tuple[Product, Revision]:
        with self._tx() as session:
            row, _ = self._load(session, product_id)
            first = session.get(CatalogRevision, (product_id, 1))
            assert first is not None
            revision = self._revision(first)
        if revision.ledger is None:
            listed = Product(
                id=row.id,
                region=self.region,
                revision=revision,
                state=ProductState.ACTIVE,
                state_reason="",
                provider_party=row.provider_party,
                create_us=row.create_us,
                update_us=row.create_us,
            )
            key = f"product/{revision.name}"
            ref = self._finish(
                CatalogRevision,
                {"product_id": product_id, "revision": 1},
                ProductListed(key, party_name(self.region, first.creator), listed, revision),
            )
            revision = dataclasses.replace(revision, ledger=ref)
        return self.get_product(caller, product_id), revision

    def update_product(
        self,
        caller: Principal,
        product_id: str,
        descriptor: Descriptor,
        *,
        etag: str,
        based_on: int | None,
        change_note: str,
        req: RequestKey,
    ) -> tuple[Product, Revision]:
        """Make a new immutable revision current (see CatalogService.UpdateProduct).

        ``based_on`` is the revision the caller's partial update was merged onto: if
        another revision was made since, the merge is stale and the call is ABORTED
        ``ETAG_MISMATCH`` even without an etag.
        """
        if len(change_note) > MAX_NOTE:
            raise InvalidArgumentError(
                [FieldViolation("change_note", f"at most {MAX_NOTE} characters")]
            )
        digest = self._recorder.descriptor_digest(descriptor)
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    first = self._revision_by_request(session, caller, req)
                    if first is not None:
                        if first.product_id != product_id or first.revision == 1:
                            req.check_same("")
                        number = first.revision
                        break
                    row, current = self._owned(session, caller, product_id)
                    if row.state == ProductState.SUSPENDED.name:
                        raise FailedPreconditionError(
                            f"{self._name(product_id)} is suspended", reason="PRODUCT_SUSPENDED"
                        )
                    old = self._revision(current)
                    changed = [
                        f"descriptor.{f}"
                        for f in ("provider", "region")
                        if getattr(descriptor, f) != getattr(old.descriptor, f)
                    ]
                    if changed:
                        raise InvalidArgumentError(
                            [FieldViolation(f, "is immutable") for f in changed],
                            reason="IMMUTABLE_FIELD",
                        )
                    probe = Product(
                        row.id, self.region, old, ProductState.ACTIVE, "", row.provider_party, 0, 0
                    )
                    if (etag and etag != probe.etag) or (
                        based_on is not None and based_on != row.current_revision
                    ):
                        raise _etag_mismatch(product_id, self.region)
                    if descriptor.data_grade is DataGrade.CORE:
                        raise FailedPreconditionError(
                            "core-grade data is never listed on the exchange",
                            reason="CORE_DATA_NOT_LISTABLE",
                        )
                    now = self.now_us()
                    number = row.current_revision + 1
                    session.add(
                        CatalogRevision(
                            product_id=product_id,
                            revision=number,
                            descriptor=to_json(descriptor),
                            descriptor_digest=digest,
                            change_note=change_note,
                            creator=caller.party_id,
                            request_id=req.request_id,
                            request_fingerprint=req.fingerprint,
                            create_us=now,
                        )
                    )
                    row.current_revision = number
                    row.update_us = now
                    self._mirror(row, descriptor)
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        return self._after_revision(caller, product_id, number)

    def _name(self, product_id: str) -> str:
        return f"regions/{self.region}/products/{product_id}"

    def _after_revision(
        self, caller: Principal, product_id: str, number: int
    ) -> tuple[Product, Revision]:
        with self._tx() as session:
            rev_row = session.get(CatalogRevision, (product_id, number))
            assert rev_row is not None
            revision = self._revision(rev_row)
        if revision.ledger is None:
            previous = f"{self._name(product_id)}/revisions/{number - 1}"
            ref = self._finish(
                CatalogRevision,
                {"product_id": product_id, "revision": number},
                ProductRevised(
                    f"product/{revision.name}",
                    party_name(self.region, revision.creator),
                    revision,
                    previous,
                ),
            )
            revision = dataclasses.replace(revision, ledger=ref)
        return self.get_product(caller, product_id), revision

    # State machine: (method) -> (allowed from-states, to-state, who)
    _TRANSITIONS: Mapping[str, tuple[frozenset[ProductState], ProductState]] = {
        "unlist": (frozenset({ProductState.ACTIVE}), ProductState.UNLISTED),
        "suspend": (
            frozenset({ProductState.ACTIVE, ProductState.UNLISTED}),
            ProductState.SUSPENDED,
        ),
        "resume": (frozenset({ProductState.SUSPENDED, ProductState.UNLISTED}), ProductState.ACTIVE),
    }

    def change_state(
        self, caller: Principal, product_id: str, action: str, reason: str, req: RequestKey
    ) -> Product:
        """Unlist (owner), suspend (operator) or resume (owner from UNLISTED, operator
        from either) a product; recorded in the ledger."""
        allowed, target = self._TRANSITIONS[action]
        v = Violations()
        v.text("reason", reason, MAX_NOTE, required=action == "suspend")
        v.raise_if_any("INVALID_ARGUMENT")
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    event = session.scalar(
                        select(CatalogProductEvent).where(
                            CatalogProductEvent.actor == caller.party_id,
                            CatalogProductEvent.request_id == req.request_id,
                        )
                    )
                    if event is not None:
                        req.check_same(event.request_fingerprint)
                        if event.product_id != product_id:
                            req.check_same("")
                        seq = event.seq
                        break
                    row, _ = self._load(session, product_id, lock=True)
                    owner = row.provider_party == caller.party_id
                    operator = _is_operator(caller)
                    if not self._may_see(session, caller, row):
                        raise NotFoundError(self._name(product_id), reason="PRODUCT_NOT_FOUND")
                    state = ProductState[row.state]
                    if action == "unlist" and not owner:
                        raise PermissionDeniedError(
                            f"{self._name(product_id)} belongs to another provider",
                            reason="NOT_PRODUCT_OWNER",
                        )
                    if action == "resume" and not operator:
                        if not owner:
                            raise PermissionDeniedError(
                                f"{self._name(product_id)} belongs to another provider",
                                reason="NOT_PRODUCT_OWNER",
                            )
                        if state is ProductState.SUSPENDED:
                            # Only an operator lifts a suspension.
                            raise PermissionDeniedError(
                                f"only an operator may resume {self._name(product_id)}",
                                reason="ROLE_NOT_ALLOWED",
                                metadata={"required_roles": Role.OPERATOR.value},
                            )
                    if state not in allowed:
                        raise FailedPreconditionError(
                            f"{self._name(product_id)} is {state.name}; cannot {action}",
                            reason="INVALID_STATE_TRANSITION",
                            metadata={"state": state.name},
                        )
                    now = self.now_us()
                    seq = row.status_seq + 1
                    session.add(
                        CatalogProductEvent(
                            product_id=product_id,
                            seq=seq,
                            actor=caller.party_id,
                            request_id=req.request_id,
                            request_fingerprint=req.fingerprint,
                            old_state=state.name,
                            new_state=target.name,
                            reason=reason,
                            create_us=now,
                        )
                    )
                    row.state = target.name
                    row.state_reason = "" if target is ProductState.ACTIVE else reason
                    row.status_seq = seq
                    row.update_us = now
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        self._record_status(product_id, seq)
        return self.get_product(caller, product_id)

    def _record_status(self, product_id: str, seq: int) -> None:
        with self._tx() as session:
            event = session.get(CatalogProductEvent, (product_id, seq))
            assert event is not None
            if event.ledger_index is not None:
                return
            payload = ProductStatusChanged(
                f"product-status/{self._name(product_id)}/{seq}",
                party_name(self.region, event.actor),
                self._name(product_id),
                ProductState[event.old_state],
                ProductState[event.new_state],
                event.reason,
            )
        self._finish(CatalogProductEvent, {"product_id": product_id, "seq": seq}, payload)

    # -- tariffs ------------------------------------------------------------------------

    def _tariff(self, row: CatalogTariff) -> Tariff:
        prices: dict[str, str] = json.loads(row.purpose_prices)
        return Tariff(
            product_id=row.product_id,
            region=self.region,
            version=row.version,
            unit=TariffUnit[row.unit],
            unit_price=Decimal(row.unit_price),
            purpose_prices=tuple((PurposeClass[k], Decimal(p)) for k, p in sorted(prices.items())),
            currency_code=row.currency_code,
            rounding_rule=RoundingRule[row.rounding_rule],
            effective_us=row.effective_us,
            creator=row.creator,
            create_us=row.create_us,
            ledger=entry_ref(row.ledger_index, row.ledger_leaf_hash),
        )

    def _ceiling_for(
        self, session: Session, unit: TariffUnit, category: Category
    ) -> CatalogPriceCeiling | None:
        for cat in (category, Category.UNSPECIFIED):
            row = session.scalar(
                select(CatalogPriceCeiling)
                .where(
                    CatalogPriceCeiling.unit == unit.name, CatalogPriceCeiling.category == cat.name
                )
                .order_by(CatalogPriceCeiling.version.desc())
                .limit(1)
            )
            if row is not None:
                return row
        return None

    def create_tariff(
        self, caller: Principal, product_id: str, spec: TariffSpec, req: RequestKey
    ) -> Tariff:
        """Publish the next immutable tariff version (see CatalogService.CreateTariff)."""
        now = self.now_us()
        effective = now if spec.effective_us is None else spec.effective_us
        if effective < now - PAST_GRACE_US:
            raise InvalidArgumentError(
                [FieldViolation("tariff.effective_time", "lies in the past")],
                reason="EFFECTIVE_TIME_IN_PAST",
            )
        # A time a little behind ours is "now": never let a tariff apply retroactively
        # to uses already metered under its predecessor.
        effective = max(effective, now)
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    first = session.scalar(
                        select(CatalogTariff).where(
                            CatalogTariff.creator == caller.party_id,
                            CatalogTariff.request_id == req.request_id,
                        )
                    )
                    if first is not None:
                        req.check_same(first.request_fingerprint)
                        if first.product_id != product_id:
                            req.check_same("")
                        version = first.version
                        break
                    _, rev = self._owned(session, caller, product_id)
                    category = from_json(Descriptor, rev.descriptor).category
                    ceiling = self._ceiling_for(session, spec.unit, category)
                    if ceiling is not None and spec.unit is not TariffUnit.FREE:
                        limit = Decimal(ceiling.max_unit_price)
                        prices = [("tariff.unit_price", spec.base_price)] + [
                            (f"tariff.purpose_prices[{i}].unit_price", Decimal(p))
                            for i, (_, p) in enumerate(spec.purpose_prices)
                        ]
                        for path, price in prices:
                            if price > limit:
                                raise FailedPreconditionError(
                                    f"{path} {_price_text(price)} is above the ceiling "
                                    f"{ceiling.max_unit_price} for {spec.unit.name}",
                                    reason="PRICE_ABOVE_CEILING",
                                    metadata={
                                        "ceiling": ceiling.max_unit_price,
                                        "price": _price_text(price),
                                        "field": path,
                                    },
                                )
                    latest = session.scalar(
                        select(func.max(CatalogTariff.version)).where(
                            CatalogTariff.product_id == product_id
                        )
                    )
                    version = (latest or 0) + 1
                    session.add(
                        CatalogTariff(
                            product_id=product_id,
                            version=version,
                            unit=spec.unit.name,
                            currency_code=spec.currency_code,
                            unit_price=_price_text(spec.base_price),
                            purpose_prices=json.dumps(
                                {k.name: p for k, p in spec.purpose_prices}, sort_keys=True
                            ),
                            rounding_rule=(
                                RoundingRule.HALF_UP_PER_LINE
                                if spec.rounding_rule is RoundingRule.UNSPECIFIED
                                else spec.rounding_rule
                            ).name,
                            effective_us=effective,
                            creator=caller.party_id,
                            request_id=req.request_id,
                            request_fingerprint=req.fingerprint,
                            create_us=now,
                        )
                    )
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        return self._record_tariff(product_id, version)

    def _record_tariff(self, product_id: str, version: int) -> Tariff:
        with self._tx() as session:
            row = session.get(CatalogTariff, (product_id, version))
            assert row is not None
            tariff = self._tariff(row)
        if tariff.ledger is None:
            ref = self._finish(
                CatalogTariff,
                {"product_id": product_id, "version": version},
                TariffPublished(
                    f"tariff/{tariff.name}", party_name(self.region, tariff.creator), tariff
                ),
            )
            tariff = dataclasses.replace(tariff, ledger=ref)
        return tariff

    def get_tariff(self, caller: Principal, product_id: str, version: int) -> Tariff:
        with self._tx() as session:
            self._visible(session, caller, product_id)
            row = session.get(CatalogTariff, (product_id, version))
            if row is None:
                raise NotFoundError(
                    f"{self._name(product_id)}/tariffs/{version}", reason="TARIFF_NOT_FOUND"
                )
            return self._tariff(row)

    def list_tariffs(
        self, caller: Principal, product_id: str, in_force_at_us: int | None, page: PageRequest
    ) -> Page[Tariff]:
        with self._tx() as session:
            self._visible(session, caller, product_id)
            if in_force_at_us is not None:
                version = self._tariffs_in_force(session, [product_id], in_force_at_us).get(
                    product_id
                )
                row = session.get(CatalogTariff, (product_id, version)) if version else None
                return Page((self._tariff(row),) if row is not None else ())
            cursor = decode_token("tariffs", page, (int,))
            stmt = (
                select(CatalogTariff)
                .where(CatalogTariff.product_id == product_id)
                .order_by(CatalogTariff.version)
                .limit(page.limit + 1)
            )
            if cursor is not None:
                stmt = stmt.where(CatalogTariff.version > cursor[0])
            rows, token = paged(
                list(session.scalars(stmt)), page, "tariffs", lambda r: (r.version,)
            )
            return Page(tuple(self._tariff(r) for r in rows), token)

    def tariff_in_force(self, product_id: str, at_us: int) -> Tariff | None:
        """The tariff that rates a use of ``product_id`` at ``at_us``: the version with
        the latest effective time not after ``at_us`` (the higher version on a tie)."""
        with self._tx() as session:
            version = self._tariffs_in_force(session, [product_id], at_us).get(product_id)
            row = session.get(CatalogTariff, (product_id, version)) if version else None
            return self._tariff(row) if row is not None else None

    # -- price ceilings -------------------------------------------------------------------

    def _ceiling(self, row: CatalogPriceCeiling) -> PriceCeiling:
        return PriceCeiling(
            region=self.region,
            unit=TariffUnit[row.unit],
            category=Category[row.category],
            version=row.version,
            max_unit_price=Decimal(row.max_unit_price),
            currency_code=row.currency_code,
            creator=row.creator,
            create_us=row.create_us,
            ledger=entry_ref(row.ledger_index, row.ledger_leaf_hash),
        )

    def set_price_ceiling(
        self, caller: Principal, spec: CeilingSpec, req: RequestKey
    ) -> PriceCeiling:
        """Set (or replace) a ceiling: a new version in force from now on."""
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    row = session.scalar(
                        select(CatalogPriceCeiling).where(
                            CatalogPriceCeiling.creator == caller.party_id,
                            CatalogPriceCeiling.request_id == req.request_id,
                        )
                    )
                    if row is None:
                        latest = session.scalar(
                            select(func.max(CatalogPriceCeiling.version)).where(
                                CatalogPriceCeiling.unit == spec.unit.name,
                                CatalogPriceCeiling.category == spec.category.name,
                            )
                        )
                        row = CatalogPriceCeiling(
                            unit=spec.unit.name,
                            category=spec.category.name,
                            version=(latest or 0) + 1,
                            max_unit_price=spec.max_unit_price,
                            currency_code=spec.currency_code,
                            creator=caller.party_id,
                            request_id=req.request_id,
                            request_fingerprint=req.fingerprint,
                            create_us=self.now_us(),
                        )
                        session.add(row)
                        session.flush()
                    else:
                        req.check_same(row.request_fingerprint)
                    ceiling = self._ceiling(row)
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        return self._record_ceiling(ceiling)

    def _record_ceiling(self, ceiling: PriceCeiling) -> PriceCeiling:
        if ceiling.ledger is not None:
            return ceiling
        ref = self._finish(
            CatalogPriceCeiling,
            {
                "unit": ceiling.unit.name,
                "category": ceiling.category.name,
                "version": ceiling.version,
            },
            PriceCeilingSet(
                f"price-ceiling/{ceiling.name}/{ceiling.version}",
                party_name(self.region, ceiling.creator),
                ceiling,
            ),
        )
        return dataclasses.replace(ceiling, ledger=ref)

    def list_price_ceilings(self, page: PageRequest) -> Page[PriceCeiling]:
        """The ceilings in force (latest version per unit and category), ordered by
        (unit, category)."""
        cursor = decode_token("ceilings", page, (int, int))
        with self._tx() as session:
            latest = (
                select(
                    CatalogPriceCeiling.unit,
                    CatalogPriceCeiling.category,
                    func.max(CatalogPriceCeiling.version).label("version"),
                )
                .group_by(CatalogPriceCeiling.unit, CatalogPriceCeiling.category)
                .subquery()
            )
            rows = list(
                session.scalars(
                    select(CatalogPriceCeiling).join(
                        latest,
                        and_(
                            CatalogPriceCeiling.unit == latest.c.unit,
                            CatalogPriceCeiling.category == latest.c.category,
                            CatalogPriceCeiling.version == latest.c.version,
                        ),
                    )
                )
            )
        # Ordered by the enum numbers (the API's order), which SQL cannot see.
        items = sorted(
            (self._ceiling(r) for r in rows), key=lambda c: (int(c.unit), int(c.category))
        )
        if cursor is not None:
            items = [c for c in items if (int(c.unit), int(c.category)) > tuple(cursor)]
        page_items, token = paged(items, page, "ceilings", lambda c: (int(c.unit), int(c.category)))
        return Page(tuple(page_items), token)

    # -- standard mappings ----------------------------------------------------------------

    def _mapping(self, row: CatalogStandardMapping, in_force: bool) -> StandardMapping:
        entries = tuple(
            ElementMapping(peer, local, MappingRelation[relation], note)
            for peer, local, relation, note in json.loads(row.entries)
        )
        return StandardMapping(
            region=self.region,
            peer_region=row.peer_region,
            version=row.version,
            peer_standard_version=row.peer_standard_version,
            local_standard_version=row.local_standard_version,
            entries=entries,
            effective_us=row.effective_us,
            in_force=in_force,
            creator=row.creator,
            create_us=row.create_us,
            ledger=entry_ref(row.ledger_index, row.ledger_leaf_hash),
        )

    def _in_force_versions(
        self, session: Session, at_us: int, peer_region: str = ""
    ) -> dict[str, int]:
        stmt = (
            select(CatalogStandardMapping.peer_region, func.max(CatalogStandardMapping.version))
            .where(CatalogStandardMapping.effective_us <= at_us)
            .group_by(CatalogStandardMapping.peer_region)
        )
        if peer_region:
            stmt = stmt.where(CatalogStandardMapping.peer_region == peer_region)
        return {region: version for region, version in session.execute(stmt).all()}

    def mapping_in_force(self, peer_region: str, at_us: int | None = None) -> StandardMapping:
        """The newest mapping version for ``peer_region`` in force at ``at_us`` (now),
        or NOT_FOUND ``STANDARD_MAPPING_NOT_FOUND``."""
        found = self.find_mapping_in_force(peer_region, at_us)
        if found is None:
            raise NotFoundError(
                f"standard mapping for region {peer_region!r}", reason="STANDARD_MAPPING_NOT_FOUND"
            )
        return found

    def find_mapping_in_force(
        self, peer_region: str, at_us: int | None = None
    ) -> StandardMapping | None:
        at = self.now_us() if at_us is None else at_us
        with self._tx() as session:
            version = self._in_force_versions(session, at, peer_region).get(peer_region)
            row = session.get(CatalogStandardMapping, (peer_region, version)) if version else None
            return self._mapping(row, True) if row is not None else None

    def create_standard_mapping(
        self, caller: Principal, spec: MappingSpec, req: RequestKey
    ) -> StandardMapping:
        """Load a mapping version (see CatalogService.CreateStandardMapping)."""
        now = self.now_us()
        effective = now if spec.effective_us is None else max(spec.effective_us, now)
        v = Violations()
        if spec.peer_region == self.region:
            v.add("standard_mapping.peer_region", "must be another region than this node's")
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    first = session.scalar(
                        select(CatalogStandardMapping).where(
                            CatalogStandardMapping.creator == caller.party_id,
                            CatalogStandardMapping.request_id == req.request_id,
                        )
                    )
                    if first is not None:
                        req.check_same(first.request_fingerprint)
                        key = (first.peer_region, first.version)
                        break
                    known: set[str] = set()
                    for (codes,) in session.execute(select(CatalogProduct.element_codes)):
                        known.update(codes.split())
                    for i, entry in enumerate(spec.entries):
                        if entry.local_code and entry.local_code not in known:
                            v.add(
                                f"standard_mapping.entries[{i}].local_code",
                                f"{entry.local_code!r} is used by no product of this region",
                            )
                    latest = (
                        session.scalar(
                            select(func.max(CatalogStandardMapping.version)).where(
                                CatalogStandardMapping.peer_region == spec.peer_region
                            )
                        )
                        or 0
                    )
                    version = spec.version or latest + 1
                    taken = session.get(CatalogStandardMapping, (spec.peer_region, version))
                    if spec.version and taken is not None:
                        raise AlreadyExistsError(
                            f"{self.region}/{spec.peer_region}-{version} exists",
                            reason="STANDARD_MAPPING_ALREADY_EXISTS",
                        )
                    if version <= latest:
                        v.add(
                            "standard_mapping.version",
                            f"must be greater than the latest version {latest}",
                        )
                    v.raise_if_any("INVALID_STANDARD_MAPPING")
                    session.add(
                        CatalogStandardMapping(
                            peer_region=spec.peer_region,
                            version=version,
                            peer_standard_version=spec.peer_standard_version,
                            local_standard_version=spec.local_standard_version,
                            entries=json.dumps(
                                [
                                    [e.peer_code, e.local_code, e.relation.name, e.note]
                                    for e in spec.entries
                                ],
                                ensure_ascii=False,
                            ),
                            entry_count=len(spec.entries),
                            effective_us=effective,
                            creator=caller.party_id,
                            request_id=req.request_id,
                            request_fingerprint=req.fingerprint,
                            create_us=now,
                        )
                    )
                    key = (spec.peer_region, version)
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        return self._record_mapping(*key)

    def _record_mapping(self, peer_region: str, version: int) -> StandardMapping:
        mapping = self.get_standard_mapping(peer_region, version)
        if mapping.ledger is None:
            ref = self._finish(
                CatalogStandardMapping,
                {"peer_region": peer_region, "version": version},
                StandardMappingLoaded(
                    f"standard-mapping/{mapping.name}",
                    party_name(self.region, mapping.creator),
                    mapping,
                ),
            )
            mapping = dataclasses.replace(mapping, ledger=ref)
        return mapping

    def get_standard_mapping(self, peer_region: str, version: int) -> StandardMapping:
        with self._tx() as session:
            row = session.get(CatalogStandardMapping, (peer_region, version))
            if row is None:
                raise NotFoundError(
                    f"regions/{self.region}/standardMappings/{peer_region}-{version}",
                    reason="STANDARD_MAPPING_NOT_FOUND",
                )
            in_force = self._in_force_versions(session, self.now_us(), peer_region).get(peer_region)
            return self._mapping(row, in_force == version)

    def list_standard_mappings(
        self, peer_region: str, in_force_only: bool, page: PageRequest
    ) -> Page[StandardMapping]:
        cursor = decode_token("mappings", page, (str, int))
        stmt = select(CatalogStandardMapping).order_by(
            CatalogStandardMapping.peer_region, CatalogStandardMapping.version
        )
        if peer_region:
            stmt = stmt.where(CatalogStandardMapping.peer_region == peer_region)
        if cursor is not None:
            stmt = stmt.where(
                after([CatalogStandardMapping.peer_region, CatalogStandardMapping.version], cursor)
            )
        with self._tx() as session:
            in_force = self._in_force_versions(session, self.now_us())
            if in_force_only:
                if not in_force:
                    return Page(())
                stmt = stmt.where(
                    or_(
                        *(
                            and_(
                                CatalogStandardMapping.peer_region == r,
                                CatalogStandardMapping.version == ver,
                            )
                            for r, ver in in_force.items()
                        )
                    )
                )
            rows = list(session.scalars(stmt.limit(page.limit + 1)))
            rows, token = paged(rows, page, "mappings", lambda r: (r.peer_region, r.version))
            items = tuple(self._mapping(r, in_force.get(r.peer_region) == r.version) for r in rows)
        return Page(items, token)

    # -- repair ---------------------------------------------------------------------------

    def record_pending(self) -> int:
        """Append every catalog change whose ledger entry is missing (a process died
        between its commit and its append); return how many were appended."""
        done = 0
        with self._tx() as session:
            revisions = session.execute(
                select(CatalogRevision.product_id, CatalogRevision.revision).where(
                    CatalogRevision.ledger_index.is_(None)
                )
            ).all()
            events = session.execute(
                select(CatalogProductEvent.product_id, CatalogProductEvent.seq).where(
                    CatalogProductEvent.ledger_index.is_(None)
                )
            ).all()
            tariffs = session.execute(
                select(CatalogTariff.product_id, CatalogTariff.version).where(
                    CatalogTariff.ledger_index.is_(None)
                )
            ).all()
            ceilings = list(
                session.scalars(
                    select(CatalogPriceCeiling).where(CatalogPriceCeiling.ledger_index.is_(None))
                )
            )
            mappings = session.execute(
                select(CatalogStandardMapping.peer_region, CatalogStandardMapping.version).where(
                    CatalogStandardMapping.ledger_index.is_(None)
                )
            ).all()
        system = Principal("", "node", frozenset({Role.OPERATOR}), "")
        for product_id, number in revisions:
            if number == 1:
                self._after_listing(system, product_id)
            else:
                self._after_revision(system, product_id, number)
            done += 1
        for product_id, seq in events:
            self._record_status(product_id, seq)
            done += 1
        for product_id, version in tariffs:
            self._record_tariff(product_id, version)
            done += 1
        for row in ceilings:
            self._record_ceiling(self._ceiling(row))
            done += 1
        for peer_region, version in mappings:
            self._record_mapping(peer_region, version)
            done += 1
        return done


def _etag_mismatch(product_id: str, region: str) -> AbortedError:
    return AbortedError(
        f"regions/{region}/products/{product_id} changed since it was read; re-read and retry",
        reason="ETAG_MISMATCH",
    )


def fingerprint(*parts: bytes | str) -> str:
    """SHA-256 (hex) over length-prefixed parts: the edge's request digest."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()
