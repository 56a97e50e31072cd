"""The licensing policy engine: versioned rules as data, and one pure ``decide``.

A licence request is decided against the product revision it names::

    decision = decide(terms, PolicyProduct(descriptor, ProductState.ACTIVE, 3),
                      PolicyContext(now_us=..., provider_region="sc"))
    decision.outcome          # Outcome.GRANT / HOLD / DENY
    decision.reasons          # every reason: code, rule_id, rule_version, field, effect

Rules are data (:class:`Rule`: id, version, effect, the reason codes it may emit,
parameters, enabled, effective time) grouped in a versioned :class:`RuleSet`
(``sc-policy/1``). The check behind each rule id is a small pure function that
reads its parameters; changing a rule's parameters or meaning bumps its version and
the rule set's version, so every decision names exactly what decided it. The engine
evaluates every enabled rule in force and the decision is the strictest effect:
DENY if any reason denies, else HOLD if any holds, else GRANT (and DENY with
``POLICY_NOT_IN_FORCE`` when no rule is in force: it fails closed). Informational
reasons (a sensitive field masked by default) carry effect GRANT.

What this module does NOT do: no I/O, no clock (the context carries ``now``), no
database, no signing. It never raises for a request it can read: a request the
policy refuses is a DENY with reasons, not an error.

The rules of rule set 1 (see :data:`RULES`):

=========================  ======  ===================================================
rule_id                    effect  reason codes
=========================  ======  ===================================================
access.offered             DENY    ACCESS_MODE_NOT_OFFERED
consumer.region            DENY    CONSUMER_REGION_NOT_ALLOWED
crossborder.approval       DENY    CROSS_BORDER_APPROVAL_MISSING, _EXPIRED
crossborder.government_pi  DENY    CROSS_BORDER_NEEDS_SECURITY_ASSESSMENT
crossborder.permitted      DENY    CROSS_BORDER_NOT_PERMITTED
fields.exist               DENY    FIELD_UNKNOWN
fields.sensitive           HOLD    SENSITIVE_FIELD_UNMASKED (hold), SENSITIVE_FIELD_MASKED
grade.important            HOLD    IMPORTANT_DATA_NEEDS_APPROVAL
personal_info.approval     HOLD    PERSONAL_INFO_NEEDS_APPROVAL
product.active             DENY    PRODUCT_NOT_ACTIVE
purpose.allowed            DENY    PURPOSE_NOT_ALLOWED, SCENARIO_NOT_ALLOWED
quota.limit                DENY    QUOTA_ABOVE_LIMIT
validity.limit             DENY    VALIDITY_ABOVE_LIMIT
validity.window            DENY    VALIDITY_START_PASSED, VALIDITY_ENDED
=========================  ======  ===================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from services.catalog import (
    PARTY_NAME_RE,
    PRODUCT_NAME_RE,
    REGION_RE,
    REVISION_NAME_RE,
    SCENARIO_RE,
    AccessMode,
    Descriptor,
    FieldSensitivity,
    OpenIntEnum,
    ProductState,
    PurposeClass,
    Quantity,
    SourceClass,
    Violations,
)
from services.errors import NotFoundError

__all__ = [
    "RULES",
    "RULE_SETS",
    "ApprovalKind",
    "CrossBorder",
    "Decision",
    "LicenceTerms",
    "Outcome",
    "PolicyContext",
    "PolicyProduct",
    "Purpose",
    "Reason",
    "Rule",
    "RuleEffect",
    "RuleSet",
    "decide",
    "rule_set",
]

FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
HOME_COUNTRY = "CN"
MAX_TEXT = 2_000
MAX_REFERENCE = 128
MAX_FIELDS = 500


class Outcome(OpenIntEnum):
    """``DecisionOutcome``: the verdict, ordered from the most to the least lenient."""

    UNSPECIFIED = 0
    GRANT = 1
    HOLD = 2
    DENY = 3


class RuleEffect(OpenIntEnum):
    UNSPECIFIED = 0
    DENY = 1
    HOLD = 2
    INFORM = 3


class ApprovalKind(OpenIntEnum):
    UNSPECIFIED = 0
    SECURITY_ASSESSMENT = 1
    STANDARD_CONTRACT = 2
    CERTIFICATION = 3


_EFFECT_OUTCOME = {RuleEffect.DENY: Outcome.DENY, RuleEffect.HOLD: Outcome.HOLD}
_STRICTNESS = {Outcome.GRANT: 0, Outcome.HOLD: 1, Outcome.DENY: 2}


# --- the request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Purpose:
    scenario_code: str
    purpose_class: PurposeClass
    description: str = ""


@dataclass(frozen=True)
class CrossBorder:
    """The legal basis for use outside the country."""

    destination_country: str
    destination_region: str = ""
    approval_kind: ApprovalKind = ApprovalKind.UNSPECIFIED
    approval_reference: str = ""
    approval_expire_us: int | None = None


@dataclass(frozen=True)
class LicenceTerms:
    """The terms a request asks for (and a licence grants); validated on construction.

    Malformed terms are INVALID_ARGUMENT ``INVALID_LICENCE_TERMS`` listing every
    violation (paths relative to the request: ``licence_request.terms.fields[2]``);
    terms that are well formed but not acceptable are the policy's business.
    ``fields`` empty means every field; validity times are microseconds, ``None``
    meaning "at grant" (start) or open-ended (end).
    """

    product: str
    purpose: Purpose
    access_modes: tuple[AccessMode, ...]
    consumer_party: str
    consumer_region: str
    product_revision: str = ""
    fields: tuple[str, ...] = ()
    unmasked_fields: tuple[str, ...] = ()
    quota: Quantity = field(default_factory=Quantity)
    valid_from_us: int | None = None
    valid_until_us: int | None = None
    cross_border: CrossBorder | None = None

    PATH = "licence_request.terms"

    def __post_init__(self) -> None:
        v = Violations()
        p = self.PATH
        v.pattern(f"{p}.product", self.product, PRODUCT_NAME_RE, "a product name")
        if self.product_revision:
            rev = REVISION_NAME_RE.fullmatch(self.product_revision)
            if rev is None:
                v.add(f"{p}.product_revision", "is not a product revision name")
            elif self.product_revision.rsplit("/revisions/", 1)[0] != self.product:
                v.add(f"{p}.product_revision", "is not a revision of terms.product")
        v.pattern(
            f"{p}.purpose.scenario_code", self.purpose.scenario_code, SCENARIO_RE, "a scenario code"
        )
        v.enum(f"{p}.purpose.purpose_class", self.purpose.purpose_class)
        v.text(f"{p}.purpose.description", self.purpose.description, MAX_TEXT)
        if len(self.fields) > MAX_FIELDS:
            v.add(f"{p}.fields", f"at most {MAX_FIELDS} fields")
        _names(self.fields[:MAX_FIELDS], f"{p}.fields", v)
        _names(self.unmasked_fields[:MAX_FIELDS], f"{p}.unmasked_fields", v)
        for i, name in enumerate(self.unmasked_fields[:MAX_FIELDS]):
            if self.fields and name not in self.fields:
                v.add(f"{p}.unmasked_fields[{i}]", f"{name!r} is not among terms.fields")
        v.enums(f"{p}.access_modes", self.access_modes, at_least_one=True)
        self.quota.check(f"{p}.quota", v)
        if (
            self.valid_from_us is not None
            and self.valid_until_us is not None
            and self.valid_until_us <= self.valid_from_us
        ):
            v.add(f"{p}.validity.end_time", "must be after start_time")
        v.pattern(f"{p}.consumer_party", self.consumer_party, PARTY_NAME_RE, "a party name")
        v.pattern(f"{p}.consumer_region", self.consumer_region, REGION_RE, "a region id")
        party = PARTY_NAME_RE.fullmatch(self.consumer_party)
        if party and party.group(1) != self.consumer_region:
            v.add(f"{p}.consumer_region", "must be the consumer party's region")
        cb = self.cross_border
        if cb is not None:
            q = f"{p}.cross_border"
            v.pattern(
                f"{q}.destination_country",
                cb.destination_country,
                COUNTRY_RE,
                "an ISO 3166-1 alpha-2 code",
            )
            if cb.destination_country == HOME_COUNTRY:
                v.add(f"{q}.destination_country", "cross-border terms name a country outside CN")
            v.pattern(
                f"{q}.destination_region",
                cb.destination_region,
                REGION_RE,
                "a region id",
                required=False,
            )
            v.enum(f"{q}.approval_kind", cb.approval_kind, required=False)
            v.text(f"{q}.approval_reference", cb.approval_reference, MAX_REFERENCE)
        v.raise_if_any("INVALID_LICENCE_TERMS")

    @property
    def product_id(self) -> str:
        return self.product.rsplit("/", 1)[-1]

    def granted_fields(self, descriptor: Descriptor) -> tuple[str, ...]:
        return self.fields or descriptor.field_names


def _names(names: tuple[str, ...], path: str, v: Violations) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        v.pattern(f"{path}[{i}]", name, FIELD_NAME_RE, "a field name")
        if name in seen:
            v.add(f"{path}[{i}]", f"duplicate {name!r}")
        seen.add(name)


@dataclass(frozen=True)
class PolicyProduct:
    """The product revision a request is decided against, and the product's state."""

    descriptor: Descriptor
    state: ProductState
    revision: int


@dataclass(frozen=True)
class PolicyContext:
    now_us: int
    provider_region: str


# --- the decision --------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    rule_id: str
    rule_version: int
    message: str
    field: str
    effect: Outcome


@dataclass(frozen=True)
class Decision:
    """A verdict with every reason; ``decider`` is "policy" or the provider party."""

    outcome: Outcome
    reasons: tuple[Reason, ...]
    policy_version: str
    decider: str = "policy"
    decide_us: int = 0

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


# --- rules as data -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    rule_id: str
    version: int
    description_zh: str
    description_en: str
    effect: RuleEffect
    reason_codes: tuple[str, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    effective_us: int = 0


@dataclass(frozen=True)
class RuleSet:
    """A numbered, immutable set of rules; named ``{region}-policy/{version}``."""

    version: int
    rules: tuple[Rule, ...]

    def name(self, region: str) -> str:
        return f"{region}-policy/{self.version}"

    def only(self, *rule_ids: str) -> RuleSet:
        """The same rule set with only ``rule_ids`` enabled (tests each rule alone)."""
        return RuleSet(self.version, tuple(r for r in self.rules if r.rule_id in rule_ids))


class Finding(NamedTuple):
    """What one check found: a reason code, why, where; ``inform`` makes it a
    GRANT-effect annotation instead of the rule's effect."""

    code: str
    message: str
    field: str = ""
    inform: bool = False


Check = Callable[[LicenceTerms, PolicyProduct, PolicyContext, Mapping[str, Any]], list[Finding]]
_CHECKS: dict[str, Check] = {}

T_PATH = "terms"  # DecisionReason.field paths are relative to the request


def _check(rule_id: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        _CHECKS[rule_id] = fn
        return fn

    return register


@_check("product.active")
def _product_active(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    if p.state is ProductState.ACTIVE:
        return []
    return [Finding("PRODUCT_NOT_ACTIVE", f"the product is {p.state.name}", f"{T_PATH}.product")]


@_check("purpose.allowed")
def _purpose(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    d = p.descriptor
    out = []
    if t.purpose.purpose_class not in d.allowed_purpose_classes:
        allowed = ", ".join(k.name for k in d.allowed_purpose_classes)
        out.append(
            Finding(
                "PURPOSE_NOT_ALLOWED",
                f"purpose class {t.purpose.purpose_class.name} is not allowed (allowed: {allowed})",
                f"{T_PATH}.purpose.purpose_class",
            )
        )
    if d.allowed_scenario_codes and t.purpose.scenario_code not in d.allowed_scenario_codes:
        out.append(
            Finding(
                "SCENARIO_NOT_ALLOWED",
                f"scenario {t.purpose.scenario_code} is not among the product's scenarios",
                f"{T_PATH}.purpose.scenario_code",
            )
        )
    return out


@_check("fields.exist")
def _fields_exist(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    known = set(p.descriptor.field_names)
    return [
        Finding("FIELD_UNKNOWN", f"the product has no field {name!r}", f"{T_PATH}.{kind}[{i}]")
        for kind, names in (("fields", t.fields), ("unmasked_fields", t.unmasked_fields))
        for i, name in enumerate(names)
        if name not in known
    ]


@_check("access.offered")
def _access(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    return [
        Finding(
            "ACCESS_MODE_NOT_OFFERED", f"{mode.name} is not offered", f"{T_PATH}.access_modes[{i}]"
        )
        for i, mode in enumerate(t.access_modes)
        if mode not in p.descriptor.access_modes
    ]


@_check("fields.sensitive")
def _sensitive(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, params: Mapping[str, Any]
) -> list[Finding]:
    sensitive = {FieldSensitivity[s] for s in params["sensitivities"]}
    out = []
    for i, name in enumerate(t.granted_fields(p.descriptor)):
        spec = p.descriptor.field(name)
        if spec is None or spec.sensitivity not in sensitive:
            continue
        if name in t.unmasked_fields:
            j = t.unmasked_fields.index(name)
            out.append(
                Finding(
                    "SENSITIVE_FIELD_UNMASKED",
                    f"{name!r} is sensitive personal information: delivering it in clear "
                    "needs the provider's explicit grant",
                    f"{T_PATH}.unmasked_fields[{j}]",
                )
            )
        else:
            where = f"{T_PATH}.fields[{i}]" if t.fields else ""
            out.append(
                Finding(
                    "SENSITIVE_FIELD_MASKED",
                    f"{name!r} is delivered masked ({spec.masking.name})",
                    where,
                    inform=True,
                )
            )
    return out


@_check("grade.important")
def _important(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, params: Mapping[str, Any]
) -> list[Finding]:
    if p.descriptor.data_grade.name in params["grades"]:
        return [
            Finding(
                "IMPORTANT_DATA_NEEDS_APPROVAL",
                f"{p.descriptor.data_grade.name} data needs the provider's approval",
            )
        ]
    return []


@_check("personal_info.approval")
def _personal(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, params: Mapping[str, Any]
) -> list[Finding]:
    pi = p.descriptor.personal_info_class
    if pi.name in params["classes"]:
        return [
            Finding(
                "PERSONAL_INFO_NEEDS_APPROVAL",
                f"the product holds personal information ({pi.name}): the provider must approve",
            )
        ]
    return []


@_check("consumer.region")
def _region(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    allowed = p.descriptor.consumer_regions
    if t.consumer_region in allowed:
        return []
    return [
        Finding(
            "CONSUMER_REGION_NOT_ALLOWED",
            f"consumers of region {t.consumer_region!r} may not obtain licences "
            f"(allowed: {', '.join(allowed)})",
            f"{T_PATH}.consumer_region",
        )
    ]


@_check("crossborder.permitted")
def _cb_permitted(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    if t.cross_border is None or p.descriptor.cross_border_allowed:
        return []
    return [
        Finding(
            "CROSS_BORDER_NOT_PERMITTED",
            "the product may not be used outside the country",
            f"{T_PATH}.cross_border",
        )
    ]


@_check("crossborder.approval")
def _cb_approval(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, params: Mapping[str, Any]
) -> list[Finding]:
    cb = t.cross_border
    if cb is None:
        return []
    q = f"{T_PATH}.cross_border"
    kinds = set(params["approval_kinds"])
    out = []
    if cb.approval_kind.name not in kinds:
        out.append(
            Finding(
                "CROSS_BORDER_APPROVAL_MISSING",
                f"cross-border use needs one of: {', '.join(sorted(kinds))}",
                f"{q}.approval_kind",
            )
        )
    if not cb.approval_reference.strip():
        out.append(
            Finding(
                "CROSS_BORDER_APPROVAL_MISSING", "no approval reference", f"{q}.approval_reference"
            )
        )
    if cb.approval_expire_us is None:
        out.append(
            Finding(
                "CROSS_BORDER_APPROVAL_MISSING",
                "the approval's expiry is required",
                f"{q}.approval_expire_time",
            )
        )
    elif cb.approval_expire_us <= c.now_us:
        out.append(
            Finding(
                "CROSS_BORDER_APPROVAL_EXPIRED",
                "the approval has expired",
                f"{q}.approval_expire_time",
            )
        )
    elif t.valid_until_us is None or t.valid_until_us > cb.approval_expire_us:
        out.append(
            Finding(
                "CROSS_BORDER_APPROVAL_EXPIRED",
                "the licence's validity must end before the approval expires",
                f"{T_PATH}.validity.end_time",
            )
        )
    return out


@_check("crossborder.government_pi")
def _cb_government(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, params: Mapping[str, Any]
) -> list[Finding]:
    cb = t.cross_border
    d = p.descriptor
    if (
        cb is None
        or d.source_class.name not in params["source_classes"]
        or d.personal_info_class.name not in params["classes"]
        or cb.approval_kind.name == params["required_kind"]
    ):
        return []
    return [
        Finding(
            "CROSS_BORDER_NEEDS_SECURITY_ASSESSMENT",
            "personal information held by a government body leaves the country only after "
            "a security assessment",
            f"{T_PATH}.cross_border.approval_kind",
        )
    ]


@_check("quota.limit")
def _quota(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    out = []
    limits = p.descriptor.limits.max_quota
    for dim in ("calls", "rows", "bytes"):
        limit, asked = getattr(limits, dim), getattr(t.quota, dim)
        if limit and (asked == 0 or asked > limit):
            out.append(
                Finding(
                    "QUOTA_ABOVE_LIMIT",
                    f"{dim} quota {asked or 'unlimited'} is above the limit {limit}",
                    f"{T_PATH}.quota.{dim}",
                )
            )
    return out


@_check("validity.limit")
def _validity_limit(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, _: Mapping[str, Any]
) -> list[Finding]:
    limit = p.descriptor.limits.max_validity_us
    if limit is None:
        return []
    start = c.now_us if t.valid_from_us is None else t.valid_from_us
    if t.valid_until_us is not None and t.valid_until_us - start <= limit:
        return []
    return [
        Finding(
            "VALIDITY_ABOVE_LIMIT",
            f"validity is longer than the product's limit of {limit // 1_000_000} s",
            f"{T_PATH}.validity.end_time",
        )
    ]


@_check("validity.window")
def _validity_window(
    t: LicenceTerms, p: PolicyProduct, c: PolicyContext, params: Mapping[str, Any]
) -> list[Finding]:
    grace = int(params["start_grace_s"]) * 1_000_000
    out = []
    if t.valid_from_us is not None and t.valid_from_us < c.now_us - grace:
        out.append(
            Finding(
                "VALIDITY_START_PASSED",
                "validity starts in the past",
                f"{T_PATH}.validity.start_time",
            )
        )
    if t.valid_until_us is not None and t.valid_until_us <= c.now_us:
        out.append(
            Finding("VALIDITY_ENDED", "validity ends in the past", f"{T_PATH}.validity.end_time")
        )
    return out


# Rule set 1 came into force with this release.
_V1_TIME = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1_000_000)
_PI = ["PERSONAL", "SENSITIVE"]


def _rule(
    rule_id: str, effect: RuleEffect, codes: tuple[str, ...], zh: str, en: str, **params: Any
) -> Rule:
    return Rule(rule_id, 1, zh, en, effect, codes, params, True, _V1_TIME)


RULES = RuleSet(
    1,
    tuple(
        sorted(
            [
                _rule(
                    "product.active",
                    RuleEffect.DENY,
                    ("PRODUCT_NOT_ACTIVE",),
                    "产品须处于上架状态",
                    "The product must be ACTIVE.",
                ),
                _rule(
                    "purpose.allowed",
                    RuleEffect.DENY,
                    ("PURPOSE_NOT_ALLOWED", "SCENARIO_NOT_ALLOWED"),
                    "用途类别与场景须为产品所允许",
                    "The purpose class and scenario must be allowed by the product.",
                ),
                _rule(
                    "fields.exist",
                    RuleEffect.DENY,
                    ("FIELD_UNKNOWN",),
                    "申请的字段须存在",
                    "Every field asked for must exist.",
                ),
                _rule(
                    "access.offered",
                    RuleEffect.DENY,
                    ("ACCESS_MODE_NOT_OFFERED",),
                    "访问方式须为产品所提供",
                    "Every access mode asked for must be offered.",
                ),
                _rule(
                    "fields.sensitive",
                    RuleEffect.HOLD,
                    ("SENSITIVE_FIELD_UNMASKED", "SENSITIVE_FIELD_MASKED"),
                    "敏感个人信息字段默认脱敏，明文交付须经提供方明确授权",
                    "Sensitive personal fields are masked by default; delivery in clear needs the "
                    "provider's explicit grant.",
                    sensitivities=["SENSITIVE_PERSONAL"],
                ),
                _rule(
                    "grade.important",
                    RuleEffect.HOLD,
                    ("IMPORTANT_DATA_NEEDS_APPROVAL",),
                    "重要数据须经提供方审批",
                    "Important-grade data needs the provider's approval.",
                    grades=["IMPORTANT"],
                ),
                _rule(
                    "personal_info.approval",
                    RuleEffect.HOLD,
                    ("PERSONAL_INFO_NEEDS_APPROVAL",),
                    "含个人信息的产品须经提供方审批",
                    "Any personal information needs the provider's approval.",
                    classes=_PI,
                ),
                _rule(
                    "consumer.region",
                    RuleEffect.DENY,
                    ("CONSUMER_REGION_NOT_ALLOWED",),
                    "使用方所在区域须为产品所允许",
                    "The consumer's region must be allowed.",
                ),
                _rule(
                    "crossborder.permitted",
                    RuleEffect.DENY,
                    ("CROSS_BORDER_NOT_PERMITTED",),
                    "出境使用须为产品所允许",
                    "Cross-border use must be permitted by the product.",
                ),
                _rule(
                    "crossborder.approval",
                    RuleEffect.DENY,
                    ("CROSS_BORDER_APPROVAL_MISSING", "CROSS_BORDER_APPROVAL_EXPIRED"),
                    "出境使用须持有有效的审批（安全评估、标准合同备案或认证）",
                    "Cross-border use needs a valid approval (security assessment, standard "
                    "contract filing or certification) outlasting the licence.",
                    approval_kinds=["SECURITY_ASSESSMENT", "STANDARD_CONTRACT", "CERTIFICATION"],
                ),
                _rule(
                    "crossborder.government_pi",
                    RuleEffect.DENY,
                    ("CROSS_BORDER_NEEDS_SECURITY_ASSESSMENT",),
                    "政务部门持有的个人信息出境须通过安全评估",
                    "Personal information held by a government body leaves the country only "
                    "after a security assessment.",
                    source_classes=[SourceClass.GOVERNMENT.name],
                    classes=_PI,
                    required_kind=ApprovalKind.SECURITY_ASSESSMENT.name,
                ),
                _rule(
                    "quota.limit",
                    RuleEffect.DENY,
                    ("QUOTA_ABOVE_LIMIT",),
                    "配额不得超过产品上限",
                    "The quota must be within the product's limits.",
                ),
                _rule(
                    "validity.limit",
                    RuleEffect.DENY,
                    ("VALIDITY_ABOVE_LIMIT",),
                    "有效期不得超过产品上限",
                    "The validity must be within the product's limit.",
                ),
                _rule(
                    "validity.window",
                    RuleEffect.DENY,
                    ("VALIDITY_START_PASSED", "VALIDITY_ENDED"),
                    "有效期不得始于过去",
                    "The validity must not start (or end) in the past.",
                    start_grace_s=300,
                ),
            ],
            key=lambda r: r.rule_id,
        )
    ),
)

# Every rule-set version this release can decide with or list; the last is in force.
RULE_SETS: Mapping[int, RuleSet] = {RULES.version: RULES}

_POLICY_NAME_RE = re.compile(r"^([a-z]{2,8})-policy/([1-9][0-9]{0,8})$")


def rule_set(region: str, name: str = "") -> RuleSet:
    """The rule set named ``{region}-policy/{n}`` (empty: the one in force), or
    NOT_FOUND ``POLICY_VERSION_NOT_FOUND``."""
    if not name:
        return RULE_SETS[max(RULE_SETS)]
    match = _POLICY_NAME_RE.fullmatch(name)
    found = RULE_SETS.get(int(match.group(2))) if match and match.group(1) == region else None
    if found is None:
        raise NotFoundError(f"policy rule set {name!r}", reason="POLICY_VERSION_NOT_FOUND")
    return found


def decide(
    request: LicenceTerms,
    product_revision: PolicyProduct,
    context: PolicyContext,
    rules: RuleSet = RULES,
) -> Decision:
    """Evaluate every enabled rule in force; the outcome is the strictest effect.

    Fails closed: if no rule at all is in force (a clock before the rule set's
    effective time, or everything disabled), the request is denied rather than
    granted unchecked.
    """
    reasons: list[Reason] = []
    evaluated = 0
    for rule in rules.rules:
        if not rule.enabled or rule.effective_us > context.now_us:
            continue
        evaluated += 1
        for found in _CHECKS[rule.rule_id](request, product_revision, context, rule.parameters):
            effect = (
                Outcome.GRANT if found.inform else _EFFECT_OUTCOME.get(rule.effect, Outcome.GRANT)
            )
            reasons.append(
                Reason(found.code, rule.rule_id, rule.version, found.message, found.field, effect)
            )
    if not evaluated:
        reasons.append(
            Reason(
                "POLICY_NOT_IN_FORCE",
                "policy",
                rules.version,
                "no rule of the rule set is in force: nothing can be granted",
                "",
                Outcome.DENY,
            )
        )
    outcome = max((r.effect for r in reasons), key=_STRICTNESS.__getitem__, default=Outcome.GRANT)
    return Decision(
        outcome, tuple(reasons), rules.name(context.provider_region), "policy", context.now_us
    )
