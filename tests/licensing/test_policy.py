"""The policy engine, one rule at a time, then the rule set as a whole.

Every rule of :data:`services.policy.RULES` is run alone (``RULES.only``) on a
request it accepts (GRANT, no reason) and on requests it holds or denies, and the
exact reasons (code, rule, version, field, effect) are asserted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from services.catalog import (
    AccessMode,
    Category,
    DataGrade,
    Descriptor,
    FieldSensitivity,
    FieldSpec,
    FieldType,
    LicenceLimits,
    MaskingRule,
    PersonalInfoClass,
    ProductState,
    PurposeClass,
    Quantity,
    SourceClass,
    Text,
    UpdateFrequency,
)
from services.errors import InvalidArgumentError, NotFoundError
from services.policy import (
    RULES,
    ApprovalKind,
    CrossBorder,
    LicenceTerms,
    Outcome,
    PolicyContext,
    PolicyProduct,
    Purpose,
    decide,
    rule_set,
)

NOW = 1_800_000_000_000_000  # microseconds
HOUR = 3_600_000_000
DAY = 24 * HOUR

GRANT, HOLD, DENY = Outcome.GRANT, Outcome.HOLD, Outcome.DENY


def product(**changes: Any) -> Descriptor:
    d = Descriptor(
        title=Text("人口基础信息", "Population base data"),
        description=Text("人员基础信息"),
        provider="regions/sc/parties/p1",
        region="sc",
        category=Category.NATURAL_PERSON,
        source_class=SourceClass.PUBLIC,
        data_grade=DataGrade.GENERAL,
        personal_info_class=PersonalInfoClass.NONE,
        fields=(
            FieldSpec("line_id", FieldType.STRING, "SC-1", FieldSensitivity.PUBLIC, Text("编号")),
            FieldSpec("stop", FieldType.STRING, "SC-2", FieldSensitivity.INTERNAL, Text("站点")),
        ),
        key_fields=("line_id",),
        access_modes=(AccessMode.BULK, AccessMode.LOOKUP),
        allowed_purpose_classes=(PurposeClass.COMMERCIAL,),
        allowed_consumer_regions=("sc", "cq"),
        update_frequency=UpdateFrequency.DAILY,
        standard_version="sc-de/2025.1",
        limits=LicenceLimits(Quantity(rows=1_000), 30 * DAY),
    )
    return dataclasses.replace(d, **changes)


SENSITIVE = (
    FieldSpec("person_id", FieldType.STRING, "NP-1", FieldSensitivity.PUBLIC, Text("编号")),
    FieldSpec(
        "id_number",
        FieldType.STRING,
        "NP-3",
        FieldSensitivity.SENSITIVE_PERSONAL,
        Text("身份证号"),
        MaskingRule.ID_NUMBER,
    ),
)


def terms(**changes: Any) -> LicenceTerms:
    t = LicenceTerms(
        product="regions/sc/products/pop-1",
        purpose=Purpose("FIN-CREDIT-01", PurposeClass.COMMERCIAL),
        access_modes=(AccessMode.BULK,),
        consumer_party="regions/sc/parties/c1",
        consumer_region="sc",
        quota=Quantity(rows=500),
        valid_until_us=NOW + 10 * DAY,
    )
    return dataclasses.replace(t, **changes)


def approval(**changes: Any) -> CrossBorder:
    cb = CrossBorder(
        destination_country="SG",
        destination_region="sg",
        approval_kind=ApprovalKind.SECURITY_ASSESSMENT,
        approval_reference="CAC-2026-0042",
        approval_expire_us=NOW + 100 * DAY,
    )
    return dataclasses.replace(cb, **changes)


def run(
    rule_id: str,
    t: LicenceTerms,
    d: Descriptor | None = None,
    state: ProductState = ProductState.ACTIVE,
) -> tuple[Outcome, list[tuple[str, str, Outcome]]]:
    decision = decide(
        t, PolicyProduct(d or product(), state, 1), PolicyContext(NOW, "sc"), RULES.only(rule_id)
    )
    rule = next(r for r in RULES.rules if r.rule_id == rule_id)
    for reason in decision.reasons:
        # Every rule emits only the codes it documents, stamped with its version.
        assert reason.code in rule.reason_codes
        assert (reason.rule_id, reason.rule_version) == (rule_id, rule.version)
        assert reason.message
    return decision.outcome, [(r.code, r.field, r.effect) for r in decision.reasons]


# rule id, description of the case, terms, descriptor, product state, outcome, reasons
CASES: list[tuple[str, str, LicenceTerms, Descriptor | None, ProductState, Outcome, list[Any]]] = [
    ("product.active", "active", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "product.active",
        "unlisted",
        terms(),
        None,
        ProductState.UNLISTED,
        DENY,
        [("PRODUCT_NOT_ACTIVE", "terms.product", DENY)],
    ),
    ("purpose.allowed", "allowed class", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "purpose.allowed",
        "class not allowed",
        terms(purpose=Purpose("R-1", PurposeClass.RESEARCH)),
        None,
        ProductState.ACTIVE,
        DENY,
        [("PURPOSE_NOT_ALLOWED", "terms.purpose.purpose_class", DENY)],
    ),
    (
        "purpose.allowed",
        "scenario not listed",
        terms(),
        product(allowed_scenario_codes=("GOV-SERVICE-01",)),
        ProductState.ACTIVE,
        DENY,
        [("SCENARIO_NOT_ALLOWED", "terms.purpose.scenario_code", DENY)],
    ),
    ("fields.exist", "known fields", terms(fields=("stop",)), None, ProductState.ACTIVE, GRANT, []),
    (
        "fields.exist",
        "unknown fields",
        terms(fields=("stop", "ghost"), unmasked_fields=("ghost",)),
        None,
        ProductState.ACTIVE,
        DENY,
        [
            ("FIELD_UNKNOWN", "terms.fields[1]", DENY),
            ("FIELD_UNKNOWN", "terms.unmasked_fields[0]", DENY),
        ],
    ),
    ("access.offered", "offered", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "access.offered",
        "not offered",
        terms(access_modes=(AccessMode.BULK, AccessMode.VERIFY)),
        None,
        ProductState.ACTIVE,
        DENY,
        [("ACCESS_MODE_NOT_OFFERED", "terms.access_modes[1]", DENY)],
    ),
    ("fields.sensitive", "nothing sensitive", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "fields.sensitive",
        "masked by default",
        terms(fields=("person_id", "id_number")),
        product(
            fields=SENSITIVE,
            key_fields=("person_id",),
            personal_info_class=PersonalInfoClass.SENSITIVE,
        ),
        ProductState.ACTIVE,
        GRANT,
        [("SENSITIVE_FIELD_MASKED", "terms.fields[1]", GRANT)],
    ),
    (
        "fields.sensitive",
        "asked in clear",
        terms(unmasked_fields=("id_number",)),
        product(
            fields=SENSITIVE,
            key_fields=("person_id",),
            personal_info_class=PersonalInfoClass.SENSITIVE,
        ),
        ProductState.ACTIVE,
        HOLD,
        [("SENSITIVE_FIELD_UNMASKED", "terms.unmasked_fields[0]", HOLD)],
    ),
    ("grade.important", "general data", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "grade.important",
        "important data",
        terms(),
        product(data_grade=DataGrade.IMPORTANT),
        ProductState.ACTIVE,
        HOLD,
        [("IMPORTANT_DATA_NEEDS_APPROVAL", "", HOLD)],
    ),
    (
        "personal_info.approval",
        "anonymised",
        terms(),
        product(personal_info_class=PersonalInfoClass.ANONYMISED),
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "personal_info.approval",
        "personal",
        terms(),
        product(personal_info_class=PersonalInfoClass.PERSONAL),
        ProductState.ACTIVE,
        HOLD,
        [("PERSONAL_INFO_NEEDS_APPROVAL", "", HOLD)],
    ),
    ("consumer.region", "listed region", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "consumer.region",
        "region not listed",
        terms(consumer_party="regions/sg/parties/c9", consumer_region="sg"),
        None,
        ProductState.ACTIVE,
        DENY,
        [("CONSUMER_REGION_NOT_ALLOWED", "terms.consumer_region", DENY)],
    ),
    (
        "consumer.region",
        "empty list means the provider's region only",
        terms(consumer_party="regions/cq/parties/c9", consumer_region="cq"),
        product(allowed_consumer_regions=()),
        ProductState.ACTIVE,
        DENY,
        [("CONSUMER_REGION_NOT_ALLOWED", "terms.consumer_region", DENY)],
    ),
    ("crossborder.permitted", "domestic use", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "crossborder.permitted",
        "product permits",
        terms(cross_border=approval()),
        product(cross_border_allowed=True),
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "crossborder.permitted",
        "product forbids",
        terms(cross_border=approval()),
        None,
        ProductState.ACTIVE,
        DENY,
        [("CROSS_BORDER_NOT_PERMITTED", "terms.cross_border", DENY)],
    ),
    (
        "crossborder.approval",
        "valid approval",
        terms(cross_border=approval(approval_kind=ApprovalKind.STANDARD_CONTRACT)),
        None,
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "crossborder.approval",
        "no approval",
        terms(cross_border=CrossBorder("SG")),
        None,
        ProductState.ACTIVE,
        DENY,
        [
            ("CROSS_BORDER_APPROVAL_MISSING", "terms.cross_border.approval_kind", DENY),
            ("CROSS_BORDER_APPROVAL_MISSING", "terms.cross_border.approval_reference", DENY),
            ("CROSS_BORDER_APPROVAL_MISSING", "terms.cross_border.approval_expire_time", DENY),
        ],
    ),
    (
        "crossborder.approval",
        "expired approval",
        terms(cross_border=approval(approval_expire_us=NOW - 1)),
        None,
        ProductState.ACTIVE,
        DENY,
        [("CROSS_BORDER_APPROVAL_EXPIRED", "terms.cross_border.approval_expire_time", DENY)],
    ),
    (
        "crossborder.approval",
        "licence outlives approval",
        terms(cross_border=approval(approval_expire_us=NOW + DAY)),
        None,
        ProductState.ACTIVE,
        DENY,
        [("CROSS_BORDER_APPROVAL_EXPIRED", "terms.validity.end_time", DENY)],
    ),
    (
        "crossborder.government_pi",
        "security assessment held",
        terms(cross_border=approval()),
        product(
            source_class=SourceClass.GOVERNMENT, personal_info_class=PersonalInfoClass.PERSONAL
        ),
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "crossborder.government_pi",
        "non-government source",
        terms(cross_border=approval(approval_kind=ApprovalKind.CERTIFICATION)),
        product(personal_info_class=PersonalInfoClass.PERSONAL),
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "crossborder.government_pi",
        "government personal information, standard contract only",
        terms(cross_border=approval(approval_kind=ApprovalKind.STANDARD_CONTRACT)),
        product(
            source_class=SourceClass.GOVERNMENT, personal_info_class=PersonalInfoClass.PERSONAL
        ),
        ProductState.ACTIVE,
        DENY,
        [("CROSS_BORDER_NEEDS_SECURITY_ASSESSMENT", "terms.cross_border.approval_kind", DENY)],
    ),
    ("quota.limit", "within", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "quota.limit",
        "above and unlimited",
        terms(quota=Quantity(rows=0)),
        None,
        ProductState.ACTIVE,
        DENY,
        [("QUOTA_ABOVE_LIMIT", "terms.quota.rows", DENY)],
    ),
    (
        "quota.limit",
        "above",
        terms(quota=Quantity(calls=5, rows=1_001)),
        None,
        ProductState.ACTIVE,
        DENY,
        [("QUOTA_ABOVE_LIMIT", "terms.quota.rows", DENY)],
    ),
    ("validity.limit", "within", terms(), None, ProductState.ACTIVE, GRANT, []),
    (
        "validity.limit",
        "no limit on the product",
        terms(valid_until_us=None),
        product(limits=LicenceLimits()),
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "validity.limit",
        "too long",
        terms(valid_from_us=NOW + DAY, valid_until_us=NOW + 32 * DAY),
        None,
        ProductState.ACTIVE,
        DENY,
        [("VALIDITY_ABOVE_LIMIT", "terms.validity.end_time", DENY)],
    ),
    (
        "validity.limit",
        "open-ended",
        terms(valid_until_us=None),
        None,
        ProductState.ACTIVE,
        DENY,
        [("VALIDITY_ABOVE_LIMIT", "terms.validity.end_time", DENY)],
    ),
    (
        "validity.window",
        "starts within the clock-skew grace",
        terms(valid_from_us=NOW - 60_000_000),
        None,
        ProductState.ACTIVE,
        GRANT,
        [],
    ),
    (
        "validity.window",
        "starts in the past",
        terms(valid_from_us=NOW - HOUR),
        None,
        ProductState.ACTIVE,
        DENY,
        [("VALIDITY_START_PASSED", "terms.validity.start_time", DENY)],
    ),
    (
        "validity.window",
        "ended",
        terms(valid_from_us=NOW - 2 * HOUR, valid_until_us=NOW - HOUR),
        None,
        ProductState.ACTIVE,
        DENY,
        [
            ("VALIDITY_START_PASSED", "terms.validity.start_time", DENY),
            ("VALIDITY_ENDED", "terms.validity.end_time", DENY),
        ],
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "case", "t", "d", "state", "outcome", "reasons"),
    CASES,
    ids=[f"{c[0]}:{c[1]}" for c in CASES],
)
def test_each_rule_alone(
    rule_id: str,
    case: str,
    t: LicenceTerms,
    d: Descriptor | None,
    state: ProductState,
    outcome: Outcome,
    reasons: list[Any],
) -> None:
    assert run(rule_id, t, d, state) == (outcome, reasons)


def test_every_rule_has_a_grant_case_and_a_hold_or_deny_case() -> None:
    covered: dict[str, set[Outcome]] = {}
    for rule_id, *_, outcome, _ in CASES:
        covered.setdefault(rule_id, set()).add(outcome)
    assert set(covered) == {r.rule_id for r in RULES.rules}
    for rule in RULES.rules:
        expected = {GRANT, HOLD if rule.effect.name == "HOLD" else DENY}
        assert expected <= covered[rule.rule_id], rule.rule_id


def test_the_strictest_effect_wins_and_every_reason_is_kept() -> None:
    d = product(
        fields=SENSITIVE,
        key_fields=("person_id",),
        personal_info_class=PersonalInfoClass.SENSITIVE,
        data_grade=DataGrade.IMPORTANT,
    )
    held = decide(terms(), PolicyProduct(d, ProductState.ACTIVE, 1), PolicyContext(NOW, "sc"))
    assert held.outcome is HOLD
    assert held.codes == [
        "SENSITIVE_FIELD_MASKED",
        "IMPORTANT_DATA_NEEDS_APPROVAL",
        "PERSONAL_INFO_NEEDS_APPROVAL",
    ]
    assert held.policy_version == "sc-policy/1"
    assert held.decider == "policy"
    denied = decide(
        terms(access_modes=(AccessMode.VERIFY,)),
        PolicyProduct(d, ProductState.ACTIVE, 1),
        PolicyContext(NOW, "sc"),
    )
    assert denied.outcome is DENY
    assert "ACCESS_MODE_NOT_OFFERED" in denied.codes
    assert "PERSONAL_INFO_NEEDS_APPROVAL" in denied.codes
    granted = decide(
        terms(), PolicyProduct(product(), ProductState.ACTIVE, 1), PolicyContext(NOW, "sc")
    )
    assert (granted.outcome, granted.reasons) == (GRANT, ())


def test_disabled_and_future_rules_are_skipped_but_nothing_in_force_denies() -> None:
    rules = RULES.only("product.active", "grade.important")
    important, active = rules.rules  # ordered by rule_id
    off = dataclasses.replace(rules, rules=(important, dataclasses.replace(active, enabled=False)))
    later = dataclasses.replace(
        rules, rules=(important, dataclasses.replace(active, effective_us=NOW + 1))
    )
    suspended = PolicyProduct(product(), ProductState.SUSPENDED, 1)
    for rs in (off, later):
        d = decide(terms(), suspended, PolicyContext(NOW, "sc"), rs)
        assert (d.outcome, d.reasons) == (GRANT, ())
    # A clock before the whole rule set (or every rule disabled) fails closed.
    active_product = PolicyProduct(product(), ProductState.ACTIVE, 1)
    early = decide(terms(), active_product, PolicyContext(0, "sc"))
    assert (early.outcome, early.codes) == (DENY, ["POLICY_NOT_IN_FORCE"])


def test_rule_sets_are_named_and_versioned() -> None:
    assert rule_set("sc") is RULES
    assert rule_set("sc", "sc-policy/1") is RULES
    for name in ("sc-policy/2", "cq-policy/1", "policy"):
        with pytest.raises(NotFoundError) as err:
            rule_set("sc", name)
        assert err.value.reason == "POLICY_VERSION_NOT_FOUND"
    assert [r.rule_id for r in RULES.rules] == sorted(r.rule_id for r in RULES.rules)


def test_malformed_terms_report_every_violation() -> None:
    with pytest.raises(InvalidArgumentError) as err:
        terms(
            product="bus",
            product_revision="regions/sc/products/other/revisions/1",
            purpose=Purpose("lower", PurposeClass(0), "x" * 2_001),
            fields=("a", "a", "B"),
            unmasked_fields=("c",),
            access_modes=(AccessMode(9),),
            quota=Quantity(rows=-1),
            valid_from_us=NOW,
            valid_until_us=NOW,
            consumer_party="me",
            cross_border=CrossBorder("CN", "X", ApprovalKind(7), "r" * 129),
        )
    assert err.value.reason == "INVALID_LICENCE_TERMS"
    p = "licence_request.terms"
    assert {v.field for v in err.value.violations} == {
        f"{p}.product",
        f"{p}.product_revision",
        f"{p}.purpose.scenario_code",
        f"{p}.purpose.purpose_class",
        f"{p}.purpose.description",
        f"{p}.fields[1]",
        f"{p}.fields[2]",
        f"{p}.unmasked_fields[0]",
        f"{p}.access_modes[0]",
        f"{p}.quota.rows",
        f"{p}.validity.end_time",
        f"{p}.consumer_party",
        f"{p}.cross_border.destination_country",
        f"{p}.cross_border.destination_region",
        f"{p}.cross_border.approval_kind",
        f"{p}.cross_border.approval_reference",
    }
