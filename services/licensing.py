"""The licensing domain: requests, decisions, signed licences and their states.

A consumer asks; the policy engine (:mod:`services.policy`) decides at once; a HELD
request waits for its provider; a grant issues a licence document signed with the
region key (:mod:`services.signing`)::

    licensing = Licensing(engine, "sc", catalog, signer, recorder)
    request, licence = licensing.request_licence(caller, terms, "why", RequestKey(...))
    request, licence = licensing.approve(provider, request.id, "ok", RequestKey(...))
    licensing.change_licence(provider, licence.id, "suspend", "audit", RequestKey(...))

Contracts:

* **One licence per request.** A held request leaves HELD only through a conditional
  ``UPDATE … WHERE state = 'HELD'`` in the transaction that inserts the licence (and
  ``licences.licence_request_id`` is unique): of two concurrent approvals, exactly
  one issues a licence; the other gets FAILED_PRECONDITION
  ``LICENCE_REQUEST_ALREADY_DECIDED`` (a retry with the first one's request_id gets
  the first result instead).
* **Signed and self-contained.** The licence document cites the product revision
  and its descriptor digest, the tariff version in force at grant (which rates every
  use under the licence), the standard-mapping version in force for the consumer's
  region, and the policy rule set that decided. The stored bytes are exactly what
  was signed (context ``bashu.exchange/licence/v1``).
* **Time.** Expiry is read, not written: a licence whose validity has ended reads as
  EXPIRED, a request held for 30 days (or past the end of the validity it asks for)
  reads as EXPIRED; listings filter on the same rule.
* **Ledger and idempotency** as in :mod:`services.catalog`: rows carry the caller's
  request_id under a unique constraint, every decision and status change is
  recorded after its transaction commits, with a deterministic key
  (``licence-decision/regions/sc/licenceRequests/r-1/policy`` …).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.note import Signer
from services.auth import Principal, Role
from services.catalog import (
    ATTEMPTS,
    MAX_NOTE,
    PARTY_NAME_RE,
    PRODUCT_NAME_RE,
    REGION_NAME_RE,
    Catalog,
    EntryRef,
    MaskingRule,
    OpenIntEnum,
    Page,
    PageRequest,
    Product,
    ProductState,
    Quantity,
    RequestKey,
    Violations,
    after,
    decode_token,
    entry_ref,
    from_json,
    not_this_region,
    now_us,
    paged,
    parse_name,
    party_name,
    to_json,
)
from services.db import session_scope
from services.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.models import CatalogProduct, LicenceEvent, LicenceRequestRow, LicenceRow
from services.policy import (
    Decision,
    LicenceTerms,
    Outcome,
    PolicyContext,
    PolicyProduct,
    Reason,
    Rule,
    RuleSet,
    decide,
    rule_set,
)
from services.signing import LICENCE_CONTEXT, DocumentSignature, sign_document

__all__ = [
    "HOLD_LIMIT_US",
    "LICENCE_NAME_RE",
    "REQUEST_NAME_RE",
    "FieldMasking",
    "Licence",
    "LicenceDecided",
    "LicenceDocument",
    "LicenceQuery",
    "LicenceRequest",
    "LicenceState",
    "LicenceStatusChanged",
    "Licensing",
    "LicensingEvent",
    "LicensingRecorder",
    "RequestState",
]

REQUEST_NAME_RE = re.compile(r"^regions/([a-z]{2,8})/licenceRequests/([A-Za-z0-9-]{1,64})$")
LICENCE_NAME_RE = re.compile(r"^regions/([a-z]{2,8})/licences/([A-Za-z0-9-]{1,64})$")

# How long a request may wait for its provider before it reads as EXPIRED.
HOLD_LIMIT_US = 30 * 24 * 3_600 * 1_000_000
REVIEW_RULE = "provider.review"


class RequestState(OpenIntEnum):
    UNSPECIFIED = 0
    HELD = 1
    GRANTED = 2
    DENIED = 3
    REJECTED = 4
    EXPIRED = 5


class LicenceState(OpenIntEnum):
    UNSPECIFIED = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3
    EXPIRED = 4


_BY_OUTCOME = {
    Outcome.GRANT: RequestState.GRANTED,
    Outcome.HOLD: RequestState.HELD,
    Outcome.DENY: RequestState.DENIED,
}


@dataclass(frozen=True)
class FieldMasking:
    field: str
    rule: MaskingRule


@dataclass(frozen=True)
class LicenceDocument:
    """What the provider region signs (``bashu.licensing.v1.LicenceDocument``)."""

    licence: str
    terms: LicenceTerms
    masking: tuple[FieldMasking, ...]
    tariff: str
    standard_mapping: str
    provider: str
    provider_region: str
    licence_request: str
    grant_us: int
    policy_version: str
    descriptor_digest: bytes


@dataclass(frozen=True)
class LicenceRequest:
    id: str
    region: str
    terms: LicenceTerms
    state: RequestState
    decision: Decision
    review: Decision | None
    licence_id: str | None
    requester: str  # party name
    home_region: str
    justification: str
    create_us: int
    update_us: int
    ledger: EntryRef | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/licenceRequests/{self.id}"

    @property
    def licence_name(self) -> str:
        return f"regions/{self.region}/licences/{self.licence_id}" if self.licence_id else ""


@dataclass(frozen=True)
class Licence:
    id: str
    region: str
    terms: LicenceTerms
    state: LicenceState
    state_reason: str
    masking: tuple[FieldMasking, ...]
    tariff: str
    standard_mapping: str
    provider: str  # party name
    licence_request: str  # name
    quota_used: Quantity
    document: bytes
    signature: DocumentSignature
    grant_us: int
    update_us: int
    ledger: EntryRef | None = None

    @property
    def name(self) -> str:
        return f"regions/{self.region}/licences/{self.id}"


@dataclass(frozen=True)
class LicenceQuery:
    """Filters of ListLicenceRequests/ListLicences (``states`` are the enum of the
    listed resource); validated on construction."""

    states: tuple[OpenIntEnum, ...] = ()
    product: str = ""
    consumer_party: str = ""

    def __post_init__(self) -> None:
        v = Violations()
        v.enums("states", self.states, at_least_one=False)
        v.pattern("product", self.product, PRODUCT_NAME_RE, "a product name", required=False)
        v.pattern(
            "consumer_party", self.consumer_party, PARTY_NAME_RE, "a party name", required=False
        )
        v.raise_if_any("INVALID_ARGUMENT")


@dataclass(frozen=True)
class LicensingEvent:
    key: str
    actor: str


@dataclass(frozen=True)
class LicenceDecided(LicensingEvent):
    request: LicenceRequest
    decision: Decision
    licence: Licence | None


@dataclass(frozen=True)
class LicenceStatusChanged(LicensingEvent):
    licence: str
    old_state: LicenceState
    new_state: LicenceState
    reason: str


class LicensingRecorder(Protocol):
    """The wire encodings licensing needs from the edge.

    ``licence_document`` returns the deterministic bytes to sign; ``record`` appends
    the event to the ledger under ``event.key`` and returns once durable.
    """

    def licence_document(self, document: LicenceDocument) -> bytes: ...

    def record(self, event: LicensingEvent) -> EntryRef: ...


def _sees_all(caller: Principal) -> bool:
    # Finance reads licences too: it settles the uses they rate.
    return bool({Role.OPERATOR, Role.FINANCE} & caller.roles)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def _already_decided(name: str, state: str) -> FailedPreconditionError:
    return FailedPreconditionError(
        f"{name} was already decided ({state})",
        reason="LICENCE_REQUEST_ALREADY_DECIDED",
        metadata={"state": state},
    )


class Licensing:
    """Licence requests and licences of one region. Thread-safe (no shared state)."""

    def __init__(
        self,
        engine: Engine,
        region: str,
        catalog: Catalog,
        signer: Signer,
        recorder: LicensingRecorder,
        *,
        clock: Callable[[], float] = time.time,
        rules: RuleSet | None = None,
    ) -> None:
        self._engine = engine
        self.region = region
        self._catalog = catalog
        self._signer = signer
        self._recorder = recorder
        self._clock = clock
        self._rules = rules or rule_set(region)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with session_scope(self._engine) as session:
            yield session

    def now_us(self) -> int:
        return now_us(self._clock)

    @property
    def policy_version(self) -> str:
        return self._rules.name(self.region)

    def parent_region(self, parent: str, field_path: str = "parent") -> str:
        """The region id of ``regions/{region}`` (INVALID_NAME otherwise)."""
        (region,) = parse_name(REGION_NAME_RE, parent, field_path, "a region name")
        return region

    def region_of(self, parent: str, field_path: str = "parent") -> None:
        """Check that ``parent`` is this node's region (NOT_THIS_REGION otherwise)."""
        self._catalog.region_of(parent, field_path)

    def request_ref(self, name: str, field_path: str = "name") -> str:
        """The id of a licence request name of this region."""
        region, request_id = parse_name(REQUEST_NAME_RE, name, field_path, "a licence request name")
        if region != self.region:
            raise not_this_region(region, self.region)
        return request_id

    def licence_ref(self, name: str, field_path: str = "name") -> str:
        """The id of a licence name of this region."""
        region, licence_id = parse_name(LICENCE_NAME_RE, name, field_path, "a licence name")
        if region != self.region:
            raise not_this_region(region, self.region)
        return licence_id

    def list_rules(self, name: str, page: PageRequest) -> tuple[RuleSet, Page[Rule]]:
        """The rules of rule set ``name`` (empty: the one in force), by rule_id."""
        rules = (
            self._rules if not name or name == self.policy_version else rule_set(self.region, name)
        )
        cursor = decode_token("rules", page, (str,))
        after_cursor = [r for r in rules.rules if cursor is None or r.rule_id > cursor[0]]
        items, token = paged(after_cursor, page, "rules", lambda r: (r.rule_id,))
        return rules, Page(tuple(items), token)

    # -- views ----------------------------------------------------------------------

    def _request(
        self, row: LicenceRequestRow, now: int, *, as_decided: bool = False
    ) -> LicenceRequest:
        decision = from_json(Decision, row.decision)
        state = RequestState[row.state]
        if as_decided:
            # The request as the policy left it (for its ledger record).
            state = _BY_OUTCOME[decision.outcome]
        elif state is RequestState.HELD and row.hold_expire_us <= now:
            state = RequestState.EXPIRED
        reviewed = row.review is not None and not as_decided
        return LicenceRequest(
            id=row.id,
            region=self.region,
            terms=from_json(LicenceTerms, row.terms),
            state=state,
            decision=decision,
            review=from_json(Decision, row.review) if reviewed and row.review else None,
            licence_id=row.licence_id if (reviewed or decision.outcome is Outcome.GRANT) else None,
            requester=party_name(self.region, row.requester),
            home_region=row.home_region,
            justification=row.justification,
            create_us=row.create_us,
            update_us=row.create_us if as_decided else row.update_us,
            ledger=(
                entry_ref(row.decision_ledger_index, row.decision_leaf_hash)
                if as_decided or row.review is None
                else entry_ref(row.review_ledger_index, row.review_leaf_hash)
            ),
        )

    def _licence(self, row: LicenceRow, request: LicenceRequestRow, now: int) -> Licence:
        state = LicenceState[row.state]
        reason = row.state_reason
        if (
            state in (LicenceState.ACTIVE, LicenceState.SUSPENDED)
            and row.valid_until_us is not None
            and row.valid_until_us <= now
        ):
            state, reason = LicenceState.EXPIRED, "validity ended"
        by_review = request.review is not None
        return Licence(
            id=row.id,
            region=self.region,
            terms=from_json(LicenceTerms, row.terms),
            state=state,
            state_reason=reason,
            masking=tuple(FieldMasking(f, MaskingRule[r]) for f, r in json.loads(row.masking)),
            tariff=(
                f"regions/{self.region}/products/{row.product_id}/tariffs/{row.tariff_version}"
                if row.tariff_version
                else ""
            ),
            standard_mapping=row.standard_mapping,
            provider=party_name(self.region, row.provider_party),
            licence_request=f"regions/{self.region}/licenceRequests/{row.licence_request_id}",
            quota_used=Quantity(row.used_calls, row.used_rows, row.used_bytes),
            document=row.document,
            signature=DocumentSignature(
                self.region,
                row.signature_key_name,
                row.signature_key_id,
                row.signature,
                row.sign_us,
            ),
            grant_us=row.grant_us,
            update_us=row.update_us,
            ledger=(
                entry_ref(request.review_ledger_index, request.review_leaf_hash)
                if by_review
                else entry_ref(request.decision_ledger_index, request.decision_leaf_hash)
            ),
        )

    # -- requests ---------------------------------------------------------------------

    def request_licence(
        self, caller: Principal, terms: LicenceTerms, justification: str, req: RequestKey
    ) -> tuple[LicenceRequest, Licence | None]:
        """Decide a request at once (see LicensingService.CreateLicenceRequest)."""
        v = Violations()
        v.text("licence_request.justification", justification, MAX_NOTE)
        v.raise_if_any("INVALID_LICENCE_TERMS")
        me = party_name(self.region, caller.party_id)
        if terms.consumer_party != me:
            raise PermissionDeniedError(
                f"terms name {terms.consumer_party}, not the caller {me}", reason="NOT_PARTY"
            )
        if terms.consumer_region != self.region:
            # A local consumer's home is this region; peers' consumers come forwarded.
            raise InvalidArgumentError(
                [
                    FieldViolation(
                        "licence_request.terms.consumer_region", f"must be {self.region!r}"
                    )
                ],
                reason="INVALID_LICENCE_TERMS",
            )
        return self._decide(caller, terms, justification, req, home_region=self.region)

    def _decide(
        self,
        caller: Principal,
        terms: LicenceTerms,
        justification: str,
        req: RequestKey,
        *,
        home_region: str,
    ) -> tuple[LicenceRequest, Licence | None]:
        """Decide validated terms with the policy engine and store the request (and
        the licence, if granted); idempotent by (caller, request_id). ``home_region``
        is the consumer's: this region, or the peer that forwarded the request."""
        product_id = self._catalog.product_ref(terms.product, "licence_request.terms.product")
        now = self.now_us()
        tariff, mapping = self._citations(product_id, terms.consumer_region, now)
        request_id = ""
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    first = session.scalar(
                        select(LicenceRequestRow).where(
                            LicenceRequestRow.requester == caller.party_id,
                            LicenceRequestRow.request_id == req.request_id,
                        )
                    )
                    if first is not None:
                        req.check_same(first.request_fingerprint)
                        request_id = first.id
                        break
                    product = self._catalog.product_in(session, caller, product_id)
                    number = product.revision.revision
                    if terms.product_revision:
                        asked = int(terms.product_revision.rsplit("/", 1)[1])
                        if self._catalog.revision_in(session, product_id, asked) is None:
                            raise NotFoundError(terms.product_revision, reason="REVISION_NOT_FOUND")
                        if asked != number:
                            raise FailedPreconditionError(
                                f"only {product.revision.name} (current) can be licensed",
                                reason="REVISION_NOT_CURRENT",
                                metadata={"current_revision": product.revision.name},
                            )
                    decision = decide(
                        terms,
                        PolicyProduct(product.descriptor, product.state, number),
                        PolicyContext(now, self.region),
                        self._rules,
                    )
                    request_id = _new_id("r")
                    row = LicenceRequestRow(
                        id=request_id,
                        product_id=product_id,
                        revision=number,
                        provider_party=product.provider_party,
                        requester=caller.party_id,
                        consumer_party=terms.consumer_party,
                        home_region=home_region,
                        terms=to_json(terms),
                        justification=justification,
                        state=_BY_OUTCOME[decision.outcome].name,
                        decision=to_json(decision),
                        request_id=req.request_id,
                        request_fingerprint=req.fingerprint,
                        create_us=now,
                        update_us=now,
                        hold_expire_us=min(
                            now + HOLD_LIMIT_US,
                            terms.valid_until_us
                            if terms.valid_until_us is not None
                            else now + HOLD_LIMIT_US,
                        ),
                    )
                    session.add(row)
                    session.flush()
                    if decision.outcome is Outcome.GRANT:
                        self._grant(session, row, terms, product, now, tariff, mapping)
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        self._record_decision(request_id)
        return self._request_and_licence(request_id)

    def _citations(
        self, product_id: str, consumer_region: str, at_us: int
    ) -> tuple[int | None, str]:
        """The tariff version and the mapping name a grant at ``at_us`` cites.

        Read before the granting transaction opens: SQLite allows one writer, and
        the catalog reads in its own transactions.
        """
        tariff = self._catalog.tariff_in_force(product_id, at_us)
        mapping = (
            self._catalog.find_mapping_in_force(consumer_region, at_us)
            if consumer_region != self.region
            else None
        )
        return (tariff.version if tariff else None), (mapping.name if mapping else "")

    def _grant(
        self,
        session: Session,
        request: LicenceRequestRow,
        terms: LicenceTerms,
        product: Product,
        now: int,
        tariff: int | None,
        mapping: str,
        licence_id: str | None = None,
    ) -> str:
        """Insert the signed licence for ``request`` (in the caller's transaction)."""
        descriptor = product.descriptor
        fields = terms.granted_fields(descriptor)
        granted = dataclasses.replace(
            terms,
            product_revision=f"{product.name}/revisions/{request.revision}",
            fields=fields,
            valid_from_us=now if terms.valid_from_us is None else terms.valid_from_us,
        )
        masking = tuple(
            FieldMasking(
                name,
                MaskingRule.NONE if name in terms.unmasked_fields else spec.masking,
            )
            for name in fields
            if (spec := descriptor.field(name)) is not None
        )
        licence_id = licence_id or _new_id("l")
        name = f"regions/{self.region}/licences/{licence_id}"
        revision = self._catalog.revision_in(session, request.product_id, request.revision)
        assert revision is not None
        body = self._recorder.licence_document(
            LicenceDocument(
                licence=name,
                terms=granted,
                masking=masking,
                tariff=f"{product.name}/tariffs/{tariff}" if tariff else "",
                standard_mapping=mapping,
                provider=product.provider,
                provider_region=self.region,
                licence_request=f"regions/{self.region}/licenceRequests/{request.id}",
                grant_us=now,
                policy_version=self.policy_version,
                descriptor_digest=revision.descriptor_digest,
            )
        )
        signature = sign_document(
            self._signer, self.region, LICENCE_CONTEXT, body, now=self._clock()
        )
        session.add(
            LicenceRow(
                id=licence_id,
                licence_request_id=request.id,
                product_id=request.product_id,
                revision=request.revision,
                provider_party=request.provider_party,
                consumer_party=terms.consumer_party,
                terms=to_json(granted),
                masking=to_json([[m.field, m.rule.name] for m in masking]),
                tariff_version=tariff,
                standard_mapping=mapping,
                policy_version=self.policy_version,
                state=LicenceState.ACTIVE.name,
                state_reason="",
                status_seq=0,
                valid_from_us=granted.valid_from_us,
                valid_until_us=granted.valid_until_us,
                quota_calls=terms.quota.calls,
                quota_rows=terms.quota.rows,
                quota_bytes=terms.quota.bytes,
                used_calls=0,
                used_rows=0,
                used_bytes=0,
                document=body,
                signature=signature.signature,
                signature_key_name=signature.key_name,
                signature_key_id=signature.key_id,
                sign_us=signature.sign_us,
                grant_us=now,
                update_us=now,
            )
        )
        request.licence_id = licence_id
        return licence_id

    def _request_and_licence(self, request_id: str) -> tuple[LicenceRequest, Licence | None]:
        with self._tx() as session:
            row = session.get(LicenceRequestRow, request_id)
            assert row is not None
            now = self.now_us()
            lic = session.get(LicenceRow, row.licence_id) if row.licence_id else None
            return self._request(row, now), (self._licence(lic, row, now) if lic else None)

    def _record_decision(self, request_id: str) -> None:
        with self._tx() as session:
            row = session.get(LicenceRequestRow, request_id)
            assert row is not None
            if row.decision_ledger_index is not None:
                return
            now = self.now_us()
            request = self._request(row, now, as_decided=True)
            lic = session.get(LicenceRow, row.licence_id) if request.licence_id else None
            licence = self._licence(lic, row, now) if lic is not None else None
        event = LicenceDecided(
            f"licence-decision/{request.name}/policy",
            request.requester,
            request,
            request.decision,
            licence,
        )
        ref = self._recorder.record(event)
        with self._tx() as session:
            session.execute(
                update(LicenceRequestRow)
                .where(
                    LicenceRequestRow.id == request_id,
                    LicenceRequestRow.decision_ledger_index.is_(None),
                )
                .values(decision_ledger_index=ref.index, decision_leaf_hash=ref.leaf_hash)
            )

    def _record_review(self, request_id: str) -> None:
        with self._tx() as session:
            row = session.get(LicenceRequestRow, request_id)
            assert row is not None
            assert row.review is not None
            assert row.reviewer is not None
            if row.review_ledger_index is not None:
                return
            now = self.now_us()
            request = self._request(row, now)
            lic = session.get(LicenceRow, row.licence_id) if row.licence_id else None
            licence = self._licence(lic, row, now) if lic is not None else None
            review = from_json(Decision, row.review)
            actor = party_name(self.region, row.reviewer)
        event = LicenceDecided(
            f"licence-decision/{request.name}/review", actor, request, review, licence
        )
        ref = self._recorder.record(event)
        with self._tx() as session:
            session.execute(
                update(LicenceRequestRow)
                .where(
                    LicenceRequestRow.id == request_id,
                    LicenceRequestRow.review_ledger_index.is_(None),
                )
                .values(review_ledger_index=ref.index, review_leaf_hash=ref.leaf_hash)
            )

    def _load_request(
        self, session: Session, caller: Principal, request_id: str
    ) -> LicenceRequestRow:
        row = session.get(LicenceRequestRow, request_id)
        if row is None or not (
            _sees_all(caller) or caller.party_id in (row.requester, row.provider_party)
        ):
            raise NotFoundError(
                f"regions/{self.region}/licenceRequests/{request_id}",
                reason="LICENCE_REQUEST_NOT_FOUND",
            )
        return row

    def get_request(self, caller: Principal, request_id: str) -> LicenceRequest:
        with self._tx() as session:
            return self._request(self._load_request(session, caller, request_id), self.now_us())

    def review(
        self, caller: Principal, request_id: str, approve: bool, text: str, req: RequestKey
    ) -> tuple[LicenceRequest, Licence | None]:
        """Approve (issuing the licence) or reject a HELD request; see the module
        docstring for why two concurrent reviews cannot both win."""
        v = Violations()
        v.text("comment" if approve else "reason", text, MAX_NOTE, required=not approve)
        v.raise_if_any("INVALID_ARGUMENT")
        name = f"regions/{self.region}/licenceRequests/{request_id}"
        with self._tx() as session:
            pre = session.get(LicenceRequestRow, request_id)
            product_id, consumer_region = (
                (pre.product_id, from_json(LicenceTerms, pre.terms).consumer_region)
                if pre is not None
                else ("", self.region)
            )
        now = self.now_us()
        tariff, mapping = (
            self._citations(product_id, consumer_region, now) if approve else (None, "")
        )
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    if self._reviewed_by(session, caller, req, request_id):
                        break
                    row = session.get(LicenceRequestRow, request_id)
                    if row is None:
                        raise NotFoundError(name, reason="LICENCE_REQUEST_NOT_FOUND")
                    if row.provider_party != caller.party_id:
                        raise PermissionDeniedError(
                            f"{name} is for another provider's product", reason="NOT_PRODUCT_OWNER"
                        )
                    state = self._request(row, now).state
                    if state is not RequestState.HELD:
                        raise _already_decided(name, state.name)
                    reviewer = party_name(self.region, caller.party_id)
                    if approve:
                        product_row = session.get(CatalogProduct, row.product_id)
                        assert product_row is not None
                        if product_row.state != ProductState.ACTIVE.name:
                            raise FailedPreconditionError(
                                f"the product is {product_row.state}", reason="PRODUCT_NOT_ACTIVE"
                            )
                        product = self._catalog.product_in(session, caller, row.product_id)
                        revision = self._catalog.revision_in(session, row.product_id, row.revision)
                        assert revision is not None
                        terms = from_json(LicenceTerms, row.terms)
                        again = decide(
                            terms,
                            PolicyProduct(revision.descriptor, product.state, row.revision),
                            PolicyContext(now, self.region),
                            self._rules,
                        )
                        if again.outcome is Outcome.DENY:
                            codes = ",".join(
                                r.code for r in again.reasons if r.effect is Outcome.DENY
                            )
                            raise FailedPreconditionError(
                                f"the policy now denies {name}: {codes}",
                                reason="POLICY_DENIES",
                                metadata={"codes": codes},
                            )
                        verdict = Decision(
                            Outcome.GRANT,
                            (
                                Reason(
                                    "PROVIDER_APPROVED",
                                    REVIEW_RULE,
                                    1,
                                    text or "approved",
                                    "",
                                    Outcome.GRANT,
                                ),
                            ),
                            self.policy_version,
                            reviewer,
                            now,
                        )
                        target = RequestState.GRANTED
                    else:
                        verdict = Decision(
                            Outcome.DENY,
                            (Reason("PROVIDER_REJECTED", REVIEW_RULE, 1, text, "", Outcome.DENY),),
                            self.policy_version,
                            reviewer,
                            now,
                        )
                        target = RequestState.REJECTED
                    licence_id = _new_id("l") if approve else None
                    # The one place a held request is decided: only one UPDATE can
                    # still see state HELD, whatever runs concurrently.
                    won = session.execute(
                        update(LicenceRequestRow)
                        .where(
                            LicenceRequestRow.id == request_id,
                            LicenceRequestRow.state == RequestState.HELD.name,
                        )
                        .values(
                            state=target.name,
                            review=to_json(verdict),
                            reviewer=caller.party_id,
                            review_request_id=req.request_id,
                            review_fingerprint=req.fingerprint,
                            licence_id=licence_id,
                            update_us=now,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    if won.rowcount != 1:  # type: ignore[attr-defined]
                        if self._reviewed_by(session, caller, req, request_id):
                            break
                        raise _already_decided(name, "decided concurrently")
                    if approve:
                        session.refresh(row)
                        self._grant(session, row, terms, product, now, tariff, mapping, licence_id)
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        self._record_review(request_id)
        return self._request_and_licence(request_id)

    def _reviewed_by(
        self, session: Session, caller: Principal, req: RequestKey, request_id: str
    ) -> bool:
        """Whether ``req`` is a retry of a review this caller already made."""
        first = session.scalar(
            select(LicenceRequestRow).where(
                LicenceRequestRow.reviewer == caller.party_id,
                LicenceRequestRow.review_request_id == req.request_id,
            )
        )
        if first is None:
            return False
        req.check_same(first.review_fingerprint or "")
        if first.id != request_id:
            req.check_same("")
        return True

    def list_requests(
        self, caller: Principal, query: LicenceQuery, page: PageRequest
    ) -> Page[LicenceRequest]:
        cursor = decode_token("requests", page, (int, str))
        now = self.now_us()
        t = LicenceRequestRow
        conditions: list[ColumnElement[bool]] = []
        if not _sees_all(caller):
            conditions.append(
                or_(t.requester == caller.party_id, t.provider_party == caller.party_id)
            )
        if query.product:
            match = PRODUCT_NAME_RE.fullmatch(query.product)
            assert match is not None
            if match.group(1) != self.region:
                return Page(())
            conditions.append(t.product_id == match.group(2))
        if query.consumer_party:
            conditions.append(t.consumer_party == query.consumer_party)
        if query.states:
            held = and_(t.state == RequestState.HELD.name, t.hold_expire_us > now)
            expired = and_(t.state == RequestState.HELD.name, t.hold_expire_us <= now)
            by_state = {
                RequestState.HELD: held,
                RequestState.EXPIRED: or_(expired, t.state == "EXPIRED"),
            }
            conditions.append(
                or_(*(by_state.get(RequestState(int(s)), t.state == s.name) for s in query.states))
            )
        stmt = (
            select(t)
            .where(*conditions)
            .order_by(t.create_us.desc(), t.id.desc())
            .limit(page.limit + 1)
        )
        if cursor is not None:
            stmt = stmt.where(after([t.create_us, t.id], cursor, descending=True))
        with self._tx() as session:
            rows, token = paged(
                list(session.scalars(stmt)), page, "requests", lambda r: (r.create_us, r.id)
            )
        return Page(tuple(self._request(r, now) for r in rows), token)

    # -- licences -----------------------------------------------------------------------

    def _load_licence(
        self, session: Session, caller: Principal, licence_id: str, *, lock: bool = False
    ) -> tuple[LicenceRow, LicenceRequestRow]:
        stmt = select(LicenceRow).where(LicenceRow.id == licence_id)
        row = session.scalar(stmt.with_for_update() if lock else stmt)
        me = party_name(self.region, caller.party_id)
        if row is None or not (
            _sees_all(caller) or row.provider_party == caller.party_id or row.consumer_party == me
        ):
            raise NotFoundError(
                f"regions/{self.region}/licences/{licence_id}", reason="LICENCE_NOT_FOUND"
            )
        request = session.get(LicenceRequestRow, row.licence_request_id)
        assert request is not None
        return row, request

    def get_licence(self, caller: Principal, licence_id: str) -> Licence:
        with self._tx() as session:
            row, request = self._load_licence(session, caller, licence_id)
            return self._licence(row, request, self.now_us())

    def list_licences(
        self, caller: Principal, query: LicenceQuery, page: PageRequest
    ) -> Page[Licence]:
        cursor = decode_token("licences", page, (int, str))
        now = self.now_us()
        t = LicenceRow
        conditions: list[ColumnElement[bool]] = []
        if not _sees_all(caller):
            me = party_name(self.region, caller.party_id)
            conditions.append(or_(t.consumer_party == me, t.provider_party == caller.party_id))
        if query.product:
            match = PRODUCT_NAME_RE.fullmatch(query.product)
            assert match is not None
            if match.group(1) != self.region:
                return Page(())
            conditions.append(t.product_id == match.group(2))
        if query.consumer_party:
            conditions.append(t.consumer_party == query.consumer_party)
        if query.states:
            running = or_(t.valid_until_us.is_(None), t.valid_until_us > now)
            ended = and_(t.valid_until_us.is_not(None), t.valid_until_us <= now)
            live = t.state.in_([LicenceState.ACTIVE.name, LicenceState.SUSPENDED.name])
            by_state = {
                LicenceState.ACTIVE: and_(t.state == LicenceState.ACTIVE.name, running),
                LicenceState.SUSPENDED: and_(t.state == LicenceState.SUSPENDED.name, running),
                LicenceState.EXPIRED: and_(live, ended),
            }
            conditions.append(
                or_(*(by_state.get(LicenceState(int(s)), t.state == s.name) for s in query.states))
            )
        stmt = (
            select(t, LicenceRequestRow)
            .join(LicenceRequestRow, LicenceRequestRow.id == t.licence_request_id)
            .where(*conditions)
            .order_by(t.grant_us.desc(), t.id.desc())
            .limit(page.limit + 1)
        )
        if cursor is not None:
            stmt = stmt.where(after([t.grant_us, t.id], cursor, descending=True))
        with self._tx() as session:
            rows, token = paged(
                [(lic, req) for lic, req in session.execute(stmt)],
                page,
                "licences",
                lambda r: (r[0].grant_us, r[0].id),
            )
        return Page(tuple(self._licence(lic, req, now) for lic, req in rows), token)

    _TRANSITIONS: Mapping[str, tuple[frozenset[LicenceState], LicenceState]] = {
        "suspend": (frozenset({LicenceState.ACTIVE}), LicenceState.SUSPENDED),
        "resume": (frozenset({LicenceState.SUSPENDED}), LicenceState.ACTIVE),
        "revoke": (frozenset({LicenceState.ACTIVE, LicenceState.SUSPENDED}), LicenceState.REVOKED),
    }

    def change_licence(
        self, caller: Principal, licence_id: str, action: str, reason: str, req: RequestKey
    ) -> Licence:
        """Suspend, resume or revoke a licence (the product's provider or an operator);
        effective on the next data call, recorded in the ledger."""
        allowed, target = self._TRANSITIONS[action]
        v = Violations()
        v.text("reason", reason, MAX_NOTE, required=action != "resume")
        v.raise_if_any("INVALID_ARGUMENT")
        name = f"regions/{self.region}/licences/{licence_id}"
        for attempt in range(ATTEMPTS):
            try:
                with self._tx() as session:
                    first = session.scalar(
                        select(LicenceEvent).where(
                            LicenceEvent.actor == caller.party_id,
                            LicenceEvent.request_id == req.request_id,
                        )
                    )
                    if first is not None:
                        req.check_same(first.request_fingerprint)
                        if first.licence_id != licence_id:
                            req.check_same("")
                        seq = first.seq
                        break
                    row, request = self._load_licence(session, caller, licence_id, lock=True)
                    if not (Role.OPERATOR in caller.roles or row.provider_party == caller.party_id):
                        raise PermissionDeniedError(
                            f"{name} is on another provider's product", reason="NOT_PRODUCT_OWNER"
                        )
                    now = self.now_us()
                    state = self._licence(row, request, now).state
                    if state not in allowed:
                        raise FailedPreconditionError(
                            f"{name} is {state.name}; cannot {action}",
                            reason="INVALID_STATE_TRANSITION",
                            metadata={"state": state.name},
                        )
                    seq = row.status_seq + 1
                    session.add(
                        LicenceEvent(
                            licence_id=licence_id,
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
                    row.state_reason = reason
                    row.status_seq = seq
                    row.update_us = now
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        self._record_status(licence_id, seq)
        return self.get_licence(caller, licence_id)

    def _record_status(self, licence_id: str, seq: int) -> None:
        with self._tx() as session:
            event = session.get(LicenceEvent, (licence_id, seq))
            assert event is not None
            if event.ledger_index is not None:
                return
            name = f"regions/{self.region}/licences/{licence_id}"
            payload = LicenceStatusChanged(
                f"licence-status/{name}/{seq}",
                party_name(self.region, event.actor),
                name,
                LicenceState[event.old_state],
                LicenceState[event.new_state],
                event.reason,
            )
        ref = self._recorder.record(payload)
        with self._tx() as session:
            session.execute(
                update(LicenceEvent)
                .where(
                    LicenceEvent.licence_id == licence_id,
                    LicenceEvent.seq == seq,
                    LicenceEvent.ledger_index.is_(None),
                )
                .values(ledger_index=ref.index, ledger_leaf_hash=ref.leaf_hash)
            )

    def record_pending(self) -> int:
        """Append every decision and status change whose ledger entry is missing."""
        with self._tx() as session:
            decided = list(
                session.scalars(
                    select(LicenceRequestRow.id).where(
                        LicenceRequestRow.decision_ledger_index.is_(None)
                    )
                )
            )
            reviewed = list(
                session.scalars(
                    select(LicenceRequestRow.id).where(
                        LicenceRequestRow.review.is_not(None),
                        LicenceRequestRow.review_ledger_index.is_(None),
                    )
                )
            )
            events = session.execute(
                select(LicenceEvent.licence_id, LicenceEvent.seq).where(
                    LicenceEvent.ledger_index.is_(None)
                )
            ).all()
        for request_id in decided:
            self._record_decision(request_id)
        for request_id in reviewed:
            self._record_review(request_id)
        for licence_id, seq in events:
            self._record_status(licence_id, seq)
        return len(decided) + len(reviewed) + len(events)
