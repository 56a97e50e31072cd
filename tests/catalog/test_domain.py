"""The catalog domain without a node: descriptors, enums, tariffs and money."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2
from bashu.licensing.v1 import licensing_pb2
from hypothesis import given
from hypothesis import strategies as st

from services import catalog as cat
from services import policy
from services.catalog import (
    AccessMode,
    Category,
    DataGrade,
    Descriptor,
    FieldSensitivity,
    FieldSpec,
    FieldType,
    PersonalInfoClass,
    PurposeClass,
    Quantity,
    SourceClass,
    Tariff,
    TariffSpec,
    TariffUnit,
    Text,
    UpdateFrequency,
    amount_fen,
)
from services.errors import InvalidArgumentError
from services.licensing import LicenceState, RequestState

PROVIDER = "regions/sc/parties/p1"


def good(**changes: object) -> Descriptor:
    base = Descriptor(
        title=Text("成都公交线路", "Chengdu bus lines"),
        description=Text("公交线路与站点"),
        provider=PROVIDER,
        region="sc",
        category=Category.TRANSPORT,
        source_class=SourceClass.PUBLIC,
        data_grade=DataGrade.GENERAL,
        personal_info_class=PersonalInfoClass.NONE,
        fields=(
            FieldSpec(
                "line_id", FieldType.STRING, "SC-TR-0001", FieldSensitivity.PUBLIC, Text("线路")
            ),
        ),
        key_fields=("line_id",),
        access_modes=(AccessMode.BULK, AccessMode.LOOKUP),
        allowed_purpose_classes=(PurposeClass.COMMERCIAL,),
        update_frequency=UpdateFrequency.DAILY,
        standard_version="sc-de/2025.1",
    )
    return dataclasses.replace(base, **changes) if changes else base  # type: ignore[arg-type]


def violations(**changes: object) -> dict[str, str]:
    with pytest.raises(InvalidArgumentError) as err:
        good(**changes)
    assert err.value.reason == "INVALID_DESCRIPTOR"
    return {v.field: v.description for v in err.value.violations}


def test_a_valid_descriptor_round_trips_through_storage() -> None:
    d = good(limits=cat.LicenceLimits(Quantity(calls=10), 3_600_000_000), keywords=("公交",))
    assert cat.from_json(Descriptor, cat.to_json(d)) == d


def test_every_violation_is_reported_at_once() -> None:
    bad_field = FieldSpec("Bad Name", FieldType(99), "", FieldSensitivity.SENSITIVE_PERSONAL)
    found = violations(
        title=Text("", "x" * 201),
        description=Text("d" * 10_001),
        provider="someone",
        category=Category(99),
        data_grade=DataGrade.UNSPECIFIED,
        fields=(good().fields[0], bad_field, good().fields[0]),
        key_fields=("nope",),
        access_modes=(),
        allowed_purpose_classes=(PurposeClass.COMMERCIAL, PurposeClass.COMMERCIAL),
        allowed_scenario_codes=("lower-case",),
        allowed_consumer_regions=("Sichuan",),
        update_frequency=UpdateFrequency(42),
        standard_version="",
        keywords=("",),
    )
    assert found == {
        "descriptor.title.zh": "is required",
        "descriptor.title.en": "is longer than 200 characters",
        "descriptor.description.zh": "is longer than 10000 characters",
        "descriptor.provider": "'someone' is not a party name",
        "descriptor.category": "unknown value 99",
        "descriptor.data_grade": "is required",
        "descriptor.fields[1].name": "'Bad Name' is not a field name (^[a-z][a-z0-9_]{0,62}$)",
        "descriptor.fields[1].type": "unknown value 99",
        "descriptor.fields[1].element_code": "is required",
        "descriptor.fields[1].description.zh": "is required",
        "descriptor.fields[1].default_masking": "sensitive personal fields need a masking rule",
        "descriptor.fields[2].name": "duplicate field name 'line_id'",
        "descriptor.personal_info_class": "NONE is less strict than its fields need (SENSITIVE)",
        "descriptor.access_modes": "at least one value is required",
        "descriptor.key_fields[0]": "'nope' is not a field of the schema",
        "descriptor.allowed_purpose_classes[1]": "duplicate value COMMERCIAL",
        "descriptor.allowed_scenario_codes[0]": "'lower-case' is not a scenario code",
        "descriptor.allowed_consumer_regions[0]": "'Sichuan' is not a region id",
        "descriptor.update_frequency": "unknown value 42",
        "descriptor.standard_version": "is required",
        "descriptor.keywords[0]": "must be 1..50 characters",
    }


def test_keyed_access_needs_key_fields_and_region_follows_provider() -> None:
    found = violations(key_fields=(), region="cq")
    assert found == {
        "descriptor.key_fields": "required when LOOKUP is offered",
        "descriptor.region": "must be the provider's region",
    }


def test_oversized_collections_are_bounded() -> None:
    many = tuple(
        FieldSpec(f"f{i}", FieldType.INT64, f"C{i}", FieldSensitivity.PUBLIC, Text("x"))
        for i in range(501)
    )
    found = violations(fields=many, key_fields=(), access_modes=(AccessMode.BULK,))
    assert found == {"descriptor.fields": "at most 500 fields"}
    assert violations(keywords=tuple(f"k{i}" for i in range(21))) == {
        "descriptor.keywords": "at most 20 keywords"
    }


@pytest.mark.parametrize(
    ("domain", "wire", "prefix"),
    [
        (cat.Category, common_pb2.Category, "CATEGORY_"),
        (cat.SourceClass, common_pb2.SourceClass, "SOURCE_CLASS_"),
        (cat.DataGrade, common_pb2.DataGrade, "DATA_GRADE_"),
        (cat.PersonalInfoClass, common_pb2.PersonalInfoClass, "PERSONAL_INFO_CLASS_"),
        (cat.AccessMode, common_pb2.AccessMode, "ACCESS_MODE_"),
        (cat.PurposeClass, common_pb2.PurposeClass, "PURPOSE_CLASS_"),
        (cat.FieldSensitivity, common_pb2.FieldSensitivity, "FIELD_SENSITIVITY_"),
        (cat.MaskingRule, common_pb2.MaskingRule, "MASKING_RULE_"),
        (cat.FieldType, catalog_pb2.FieldType, "FIELD_TYPE_"),
        (cat.UpdateFrequency, catalog_pb2.UpdateFrequency, "UPDATE_FREQUENCY_"),
        (cat.ProductState, catalog_pb2.ProductState, "PRODUCT_STATE_"),
        (cat.TariffUnit, catalog_pb2.TariffUnit, "TARIFF_UNIT_"),
        (cat.RoundingRule, catalog_pb2.RoundingRule, "ROUNDING_RULE_"),
        (cat.MappingRelation, catalog_pb2.MappingRelation, "MAPPING_RELATION_"),
        (policy.ApprovalKind, common_pb2.ApprovalKind, "APPROVAL_KIND_"),
        (policy.Outcome, licensing_pb2.DecisionOutcome, "DECISION_OUTCOME_"),
        (policy.RuleEffect, licensing_pb2.RuleEffect, "RULE_EFFECT_"),
        (RequestState, licensing_pb2.LicenceRequestState, "LICENCE_REQUEST_STATE_"),
        (LicenceState, licensing_pb2.LicenceState, "LICENCE_STATE_"),
    ],
)
def test_domain_enums_mirror_the_api(
    domain: type[cat.OpenIntEnum], wire: object, prefix: str
) -> None:
    """Conversion at the edge is ``Enum(number)``: the tables must never drift."""
    wire_items = {name.removeprefix(prefix): number for name, number in wire.items()}  # type: ignore[attr-defined]
    assert {m.name: m.value for m in domain} == wire_items
    assert not domain(77).is_known
    assert domain(77).name == "UNKNOWN_77"


# --- tariffs and money ---------------------------------------------------------------


def tariff(unit: TariffUnit, price: str, **purpose: str) -> Tariff:
    return Tariff(
        product_id="p-1",
        region="sc",
        version=1,
        unit=unit,
        unit_price=Decimal(price),
        purpose_prices=tuple((PurposeClass[k], Decimal(v)) for k, v in purpose.items()),
        currency_code="CNY",
        rounding_rule=cat.RoundingRule.HALF_UP_PER_LINE,
        effective_us=0,
        creator="p1",
        create_us=0,
    )


@pytest.mark.parametrize(
    ("unit", "price", "quantity", "fen"),
    [
        (TariffUnit.PER_CALL, "0.05", Quantity(calls=3), 15),
        (TariffUnit.PER_ROW, "0.0150", Quantity(rows=1_000), 1_500),
        # 0.005 fen per row × 1 row = 0.5 fen: half-up makes it 1 fen, never 0.
        (TariffUnit.PER_ROW, "0.00005", Quantity(rows=100), 1),
        (TariffUnit.PER_ROW, "0.00004999", Quantity(rows=100), 0),
        # 1.5 MiB at 2 yuan/MiB = 3 yuan, pro rata by the byte.
        (TariffUnit.PER_MIB, "2", Quantity(bytes=1_572_864), 300),
        (TariffUnit.PER_MIB, "0.01", Quantity(bytes=1), 0),
        (TariffUnit.FREE, "0", Quantity(calls=10, rows=10, bytes=10), 0),
        # Prices at the 12+8 digit limit and huge quantities stay exact.
        (
            TariffUnit.PER_ROW,
            "999999999999.99999999",
            Quantity(rows=10**12),
            99_999_999_999_999_999_999 * 10**6,
        ),
    ],
)
def test_amount_fen_rounds_half_up_per_line(
    unit: TariffUnit, price: str, quantity: Quantity, fen: int
) -> None:
    assert amount_fen(tariff(unit, price), quantity, PurposeClass.COMMERCIAL) == fen


def test_purpose_prices_override_the_base_price() -> None:
    t = tariff(TariffUnit.PER_CALL, "0.10", PUBLIC_WELFARE="0", RESEARCH="0.02")
    assert amount_fen(t, Quantity(calls=10), PurposeClass.COMMERCIAL) == 100
    assert amount_fen(t, Quantity(calls=10), PurposeClass.PUBLIC_WELFARE) == 0
    assert amount_fen(t, Quantity(calls=10), PurposeClass.RESEARCH) == 20
    with pytest.raises(InvalidArgumentError):
        amount_fen(t, Quantity(calls=-1), PurposeClass.COMMERCIAL)


@given(
    price=st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False),
    nbytes=st.integers(min_value=0, max_value=2**40),
)
def test_amount_fen_matches_exact_rational_arithmetic(price: Decimal, nbytes: int) -> None:
    exact = Fraction(nbytes, 1_048_576) * Fraction(price) * 100
    floor, rest = divmod(exact.numerator, exact.denominator)
    half_up = floor + (1 if 2 * rest >= exact.denominator else 0)
    t = tariff(TariffUnit.PER_MIB, str(price))
    assert amount_fen(t, Quantity(bytes=nbytes), PurposeClass.COMMERCIAL) == half_up


def price_violations(**kwargs: object) -> tuple[str, set[str]]:
    with pytest.raises(InvalidArgumentError) as err:
        TariffSpec(**kwargs)  # type: ignore[arg-type]
    return err.value.reason, {v.field for v in err.value.violations}


def test_tariff_specs_are_validated() -> None:
    assert price_violations(unit=TariffUnit.PER_ROW, unit_price="0.1.2") == (
        "INVALID_PRICE",
        {"tariff.unit_price"},
    )
    assert price_violations(unit=TariffUnit.PER_ROW, unit_price="-1")[0] == "INVALID_PRICE"
    assert price_violations(unit=TariffUnit.PER_ROW, unit_price="0.123456789")[0] == "INVALID_PRICE"
    assert price_violations(unit=TariffUnit.PER_ROW, unit_price="1e3")[0] == "INVALID_PRICE"
    reason, fields = price_violations(
        unit=TariffUnit.PER_CALL,
        unit_price="abc",
        purpose_prices=((PurposeClass.RESEARCH, "1"), (PurposeClass.RESEARCH, "2")),
        currency_code="USD",
    )
    assert reason == "INVALID_TARIFF"
    assert fields == {
        "tariff.unit_price",
        "tariff.currency_code",
        "tariff.purpose_prices[1].purpose_class",
    }
    assert price_violations(unit=TariffUnit.FREE, unit_price="0.5")[0] == "INVALID_TARIFF"
    assert price_violations(unit=TariffUnit(9), unit_price="1")[0] == "INVALID_TARIFF"
    assert TariffSpec(TariffUnit.FREE, "0.000").base_price == 0


def test_every_reason_raised_here_is_published_with_its_code() -> None:
    """Reasons come from bashu.common.v1.ErrorReason and travel with its status code."""
    import re
    from pathlib import Path

    from bashu.common.v1 import errors_pb2

    from services import errors

    root = Path(__file__).resolve().parents[2]
    proto = (root / "proto/bashu/common/v1/errors.proto").read_text(encoding="utf-8")
    codes = dict(
        (reason, code)
        for code, reason in re.findall(
            r"//\s*([A-Z_]+):[^\n]*\n(?:\s*//[^\n]*\n)*\s*ERROR_REASON_(\w+)\s*=", proto
        )
    )
    published = {n.removeprefix("ERROR_REASON_") for n in errors_pb2.ErrorReason.keys()}  # noqa: SIM118
    by_class = {
        "InvalidArgumentError": "INVALID_ARGUMENT",
        "SignatureInvalidError": "INVALID_ARGUMENT",
        "NotFoundError": "NOT_FOUND",
        "AlreadyExistsError": "ALREADY_EXISTS",
        "PermissionDeniedError": "PERMISSION_DENIED",
        "FailedPreconditionError": "FAILED_PRECONDITION",
        "UnavailableError": "UNAVAILABLE",
        "AbortedError": "ABORTED",
    }
    assert {k for k in by_class if hasattr(errors, k)} == set(by_class) - {"SignatureInvalidError"}
    modules = ["catalog", "catalog_service", "licensing", "licensing_service", "policy", "signing"]
    seen = 0
    for module in modules:
        text = (root / "services" / f"{module}.py").read_text(encoding="utf-8")
        # raise Klass(... reason="X" ...) and helpers returning Klass(... reason="X")
        for klass, body in re.findall(r"(\w+Error)\((.{0,600}?)\)\n", text, flags=re.S):
            for reason in re.findall(r'reason="([A-Z_]+)"', body):
                seen += 1
                assert reason in published, f"{module}: {reason} is not an ErrorReason"
                if klass in by_class:
                    assert codes[reason] == by_class[klass], f"{module}: {klass} {reason}"
        for reason in re.findall(r'raise_if_any\("([A-Z_]+)"\)', text):
            assert codes[reason] == "INVALID_ARGUMENT", reason
    assert seen > 40
