"""LicensingService: protobuf in, :mod:`services.licensing` domain calls, protobuf out.

Thin by design, like :mod:`services.catalog_service`. It also holds the edge the
licensing domain is given: :class:`LedgerLicensingRecorder` encodes the licence
document that the domain signs (deterministic serialization of
``bashu.licensing.v1.LicenceDocument``) and appends decisions and status changes to
the ledger::

    licensing = Licensing(engine, "sc", catalog, signer, LedgerLicensingRecorder(log, "sc"))
    servicer = LicensingServicer(licensing, origin="bashu.exchange/log/sc")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from bashu.licensing.v1 import licensing_pb2, licensing_pb2_grpc
from google.protobuf import struct_pb2

from ledger.log import Log
from services.catalog import AccessMode, EntryRef, PurposeClass, party_name
from services.catalog_service import (
    entry_ref,
    micros,
    page_request,
    quantity_from_proto,
    quantity_to_proto,
    request_key,
    timestamp,
)
from services.errors import UnavailableError
from services.interceptors import current_principal
from services.licensing import (
    Licence,
    LicenceDecided,
    LicenceDocument,
    LicenceQuery,
    LicenceRequest,
    LicenceState,
    LicenceStatusChanged,
    Licensing,
    LicensingEvent,
    RequestState,
)
from services.policy import (
    ApprovalKind,
    CrossBorder,
    Decision,
    LicenceTerms,
    Purpose,
    Rule,
)
from services.records import encode_record
from services.signing import DocumentSignature

if TYPE_CHECKING:
    from services.market import Market

__all__ = [
    "LedgerLicensingRecorder",
    "LicensingServicer",
    "document_to_proto",
    "licence_to_proto",
    "terms_from_proto",
    "terms_to_proto",
]


# --- conversions ---------------------------------------------------------------------


def terms_from_proto(t: licensing_pb2.LicenceTerms, caller: str, region: str) -> LicenceTerms:
    """The domain terms; an empty consumer party/region means the caller's own."""
    cb = t.cross_border
    validity = t.validity
    return LicenceTerms(
        product=t.product,
        product_revision=t.product_revision,
        purpose=Purpose(
            t.purpose.scenario_code, PurposeClass(t.purpose.purpose_class), t.purpose.description
        ),
        fields=tuple(t.fields),
        unmasked_fields=tuple(t.unmasked_fields),
        access_modes=tuple(AccessMode(m) for m in t.access_modes),
        quota=quantity_from_proto(t.quota),
        valid_from_us=micros(validity.start_time) if validity.HasField("start_time") else None,
        valid_until_us=micros(validity.end_time) if validity.HasField("end_time") else None,
        consumer_party=t.consumer_party or caller,
        consumer_region=t.consumer_region or region,
        cross_border=(
            CrossBorder(
                destination_country=cb.destination_country,
                destination_region=cb.destination_region,
                approval_kind=ApprovalKind(cb.approval_kind),
                approval_reference=cb.approval_reference,
                approval_expire_us=(
                    micros(cb.approval_expire_time) if cb.HasField("approval_expire_time") else None
                ),
            )
            if t.HasField("cross_border")
            else None
        ),
    )


def terms_to_proto(t: LicenceTerms) -> licensing_pb2.LicenceTerms:
    msg = licensing_pb2.LicenceTerms(
        product=t.product,
        product_revision=t.product_revision,
        purpose=licensing_pb2.Purpose(
            scenario_code=t.purpose.scenario_code,
            purpose_class=int(t.purpose.purpose_class),  # type: ignore[arg-type]
            description=t.purpose.description,
        ),
        fields=list(t.fields),
        unmasked_fields=list(t.unmasked_fields),
        access_modes=[int(m) for m in t.access_modes],  # type: ignore[misc]
        quota=quantity_to_proto(t.quota),
        consumer_party=t.consumer_party,
        consumer_region=t.consumer_region,
    )
    if t.valid_from_us is not None:
        msg.validity.start_time.CopyFrom(timestamp(t.valid_from_us))
    if t.valid_until_us is not None:
        msg.validity.end_time.CopyFrom(timestamp(t.valid_until_us))
    cb = t.cross_border
    if cb is not None:
        msg.cross_border.CopyFrom(
            licensing_pb2.CrossBorder(
                destination_country=cb.destination_country,
                destination_region=cb.destination_region,
                approval_kind=int(cb.approval_kind),  # type: ignore[arg-type]
                approval_reference=cb.approval_reference,
            )
        )
        if cb.approval_expire_us is not None:
            msg.cross_border.approval_expire_time.CopyFrom(timestamp(cb.approval_expire_us))
    return msg


def decision_to_proto(d: Decision) -> licensing_pb2.Decision:
    return licensing_pb2.Decision(
        outcome=int(d.outcome),  # type: ignore[arg-type]
        reasons=[
            licensing_pb2.DecisionReason(
                code=r.code,
                rule_id=r.rule_id,
                rule_version=r.rule_version,
                message=r.message,
                field=r.field,
                effect=int(r.effect),  # type: ignore[arg-type]
            )
            for r in d.reasons
        ],
        policy_version=d.policy_version,
        decider=d.decider,
        decide_time=timestamp(d.decide_us),
    )


def request_to_proto(r: LicenceRequest, origin: str | None) -> licensing_pb2.LicenceRequest:
    msg = licensing_pb2.LicenceRequest(
        name=r.name,
        terms=terms_to_proto(r.terms),
        state=int(r.state),  # type: ignore[arg-type]
        decision=decision_to_proto(r.decision),
        licence=r.licence_name,
        requester=r.requester,
        home_region=r.home_region,
        justification=r.justification,
        create_time=timestamp(r.create_us),
        update_time=timestamp(r.update_us),
    )
    if r.review is not None:
        msg.review.CopyFrom(decision_to_proto(r.review))
    ref = entry_ref(origin, r.ledger) if origin else None
    if ref is not None:
        msg.ledger_entry.CopyFrom(ref)
    return msg


def signature_to_proto(s: DocumentSignature) -> common_pb2.Signature:
    return common_pb2.Signature(
        signer_region=s.signer_region,
        key_name=s.key_name,
        key_id=s.key_id,
        signature=s.signature,
        sign_time=timestamp(s.sign_us),
    )


def _masking(items: Any) -> list[common_pb2.FieldMasking]:
    return [
        common_pb2.FieldMasking(field=m.field, rule=int(m.rule))  # type: ignore[arg-type]
        for m in items
    ]


def licence_to_proto(lic: Licence, origin: str | None) -> licensing_pb2.Licence:
    msg = licensing_pb2.Licence(
        name=lic.name,
        terms=terms_to_proto(lic.terms),
        state=int(lic.state),  # type: ignore[arg-type]
        state_reason=lic.state_reason,
        masking=_masking(lic.masking),
        tariff=lic.tariff,
        standard_mapping=lic.standard_mapping,
        provider=lic.provider,
        provider_region=lic.region,
        licence_request=lic.licence_request,
        quota_used=quantity_to_proto(lic.quota_used),
        document=lic.document,
        signature=signature_to_proto(lic.signature),
        grant_time=timestamp(lic.grant_us),
        update_time=timestamp(lic.update_us),
    )
    ref = entry_ref(origin, lic.ledger) if origin else None
    if ref is not None:
        msg.ledger_entry.CopyFrom(ref)
    return msg


def document_to_proto(doc: LicenceDocument) -> licensing_pb2.LicenceDocument:
    return licensing_pb2.LicenceDocument(
        licence=doc.licence,
        terms=terms_to_proto(doc.terms),
        masking=_masking(doc.masking),
        tariff=doc.tariff,
        standard_mapping=doc.standard_mapping,
        provider=doc.provider,
        provider_region=doc.provider_region,
        licence_request=doc.licence_request,
        grant_time=timestamp(doc.grant_us),
        policy_version=doc.policy_version,
        descriptor_digest=doc.descriptor_digest,
    )


def rule_to_proto(rule: Rule, region: str) -> licensing_pb2.PolicyRule:
    parameters = struct_pb2.Struct()
    parameters.update(dict(rule.parameters))
    return licensing_pb2.PolicyRule(
        name=f"regions/{region}/policyRules/{rule.rule_id}",
        rule_id=rule.rule_id,
        version=rule.version,
        description=common_pb2.LocalizedText(zh=rule.description_zh, en=rule.description_en),
        effect=int(rule.effect),  # type: ignore[arg-type]
        reason_codes=list(rule.reason_codes),
        parameters=parameters,
        enabled=rule.enabled,
        effective_time=timestamp(rule.effective_us),
    )


# --- the ledger edge -------------------------------------------------------------------


class LedgerLicensingRecorder:
    """Encodes licence documents and appends licensing events (durable on return)."""

    def __init__(self, log: Log, region: str) -> None:
        self._log = log
        self._region = region

    def licence_document(self, document: LicenceDocument) -> bytes:
        return document_to_proto(document).SerializeToString(deterministic=True)

    def record(self, event: LicensingEvent) -> EntryRef:
        payload: dict[str, Any]
        if isinstance(event, LicenceDecided):
            decided = record_pb2.LicenceDecided(
                licence_request=request_to_proto(event.request, None),
                decision=decision_to_proto(event.decision),
            )
            if event.licence is not None:
                decided.licence.CopyFrom(licence_to_proto(event.licence, None))
            payload = {"licence_decided": decided}
        elif isinstance(event, LicenceStatusChanged):
            payload = {
                "licence_status_changed": record_pb2.LicenceStatusChanged(
                    licence=event.licence,
                    old_state=int(event.old_state),  # type: ignore[arg-type]
                    new_state=int(event.new_state),  # type: ignore[arg-type]
                    reason=event.reason,
                )
            }
        else:  # pragma: no cover - every event type is handled above
            raise TypeError(f"unknown licensing event {type(event).__name__}")
        data = encode_record(self._region, event.actor, event.key, **payload)
        result = self._log.append(data, event.key)
        return EntryRef(result.index, result.leaf_hash)


# --- the servicer ------------------------------------------------------------------------


class LicensingServicer(licensing_pb2_grpc.LicensingServiceServicer):
    def __init__(self, licensing: Licensing, origin: str, market: Market | None = None) -> None:
        self._licensing = licensing
        self._origin = origin
        self._region = licensing.region
        # The federated market: requests for other regions' products go through it.
        self.market = market

    def _remote(self, name: str) -> bool:
        return self.market is not None and self.market.is_remote(name)

    def _parent(self, parent: str) -> None:
        self._licensing.region_of(parent)

    def CreateLicenceRequest(
        self, request: licensing_pb2.CreateLicenceRequestRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.CreateLicenceRequestResponse:
        region = self._licensing.parent_region(request.parent)
        if region != self._region and self.market is not None:
            # Another region's product: its node decides; this node vouches and keeps a copy.
            return self.market.request_licence(current_principal(), request, region)
        if region != self._region:
            raise UnavailableError(
                f"region {region!r} is not a reachable peer; retry with the same request_id",
                reason="PEER_UNAVAILABLE",
                metadata={"region": region},
            )
        caller = current_principal()
        key = request_key("CreateLicenceRequest", request)
        terms = terms_from_proto(
            request.licence_request.terms, party_name(self._region, caller.party_id), self._region
        )
        made, licence = self._licensing.request_licence(
            caller, terms, request.licence_request.justification, key
        )
        response = licensing_pb2.CreateLicenceRequestResponse(
            licence_request=request_to_proto(made, self._origin)
        )
        if licence is not None:
            response.licence.CopyFrom(licence_to_proto(licence, self._origin))
        return response

    def GetLicenceRequest(
        self, request: licensing_pb2.GetLicenceRequestRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.GetLicenceRequestResponse:
        if self.market is not None and self._remote(request.name):
            return licensing_pb2.GetLicenceRequestResponse(
                licence_request=self.market.get_request_copy(current_principal(), request.name)
            )
        request_id = self._licensing.request_ref(request.name)
        found = self._licensing.get_request(current_principal(), request_id)
        return licensing_pb2.GetLicenceRequestResponse(
            licence_request=request_to_proto(found, self._origin)
        )

    def ListLicenceRequests(
        self, request: licensing_pb2.ListLicenceRequestsRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.ListLicenceRequestsResponse:
        self._parent(request.parent)
        query = LicenceQuery(
            tuple(RequestState(s) for s in request.states), request.product, request.consumer_party
        )
        page = self._licensing.list_requests(
            current_principal(), query, page_request("ListLicenceRequests", request)
        )
        return licensing_pb2.ListLicenceRequestsResponse(
            licence_requests=[request_to_proto(r, self._origin) for r in page.items],
            next_page_token=page.next_token,
        )

    def _review(
        self, request: Any, method: str, approve: bool, text: str
    ) -> tuple[LicenceRequest, Licence | None]:
        request_id = self._licensing.request_ref(request.name)
        key = request_key(method, request)
        return self._licensing.review(current_principal(), request_id, approve, text, key)

    def ApproveLicenceRequest(
        self, request: licensing_pb2.ApproveLicenceRequestRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.ApproveLicenceRequestResponse:
        decided, licence = self._review(request, "ApproveLicenceRequest", True, request.comment)
        response = licensing_pb2.ApproveLicenceRequestResponse(
            licence_request=request_to_proto(decided, self._origin)
        )
        if licence is not None:
            response.licence.CopyFrom(licence_to_proto(licence, self._origin))
        return response

    def RejectLicenceRequest(
        self, request: licensing_pb2.RejectLicenceRequestRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.RejectLicenceRequestResponse:
        decided, _ = self._review(request, "RejectLicenceRequest", False, request.reason)
        return licensing_pb2.RejectLicenceRequestResponse(
            licence_request=request_to_proto(decided, self._origin)
        )

    def GetLicence(
        self, request: licensing_pb2.GetLicenceRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.GetLicenceResponse:
        if self.market is not None and self._remote(request.name):
            return licensing_pb2.GetLicenceResponse(
                licence=self.market.get_licence_copy(current_principal(), request.name)
            )
        licence_id = self._licensing.licence_ref(request.name)
        licence = self._licensing.get_licence(current_principal(), licence_id)
        return licensing_pb2.GetLicenceResponse(licence=licence_to_proto(licence, self._origin))

    def ListLicences(
        self, request: licensing_pb2.ListLicencesRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.ListLicencesResponse:
        self._parent(request.parent)
        query = LicenceQuery(
            tuple(LicenceState(s) for s in request.states), request.product, request.consumer_party
        )
        page = self._licensing.list_licences(
            current_principal(), query, page_request("ListLicences", request)
        )
        return licensing_pb2.ListLicencesResponse(
            licences=[licence_to_proto(lic, self._origin) for lic in page.items],
            next_page_token=page.next_token,
        )

    def _change(self, request: Any, method: str, action: str) -> licensing_pb2.Licence:
        licence_id = self._licensing.licence_ref(request.name)
        key = request_key(method, request)
        licence = self._licensing.change_licence(
            current_principal(), licence_id, action, request.reason, key
        )
        return licence_to_proto(licence, self._origin)

    def SuspendLicence(
        self, request: licensing_pb2.SuspendLicenceRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.SuspendLicenceResponse:
        return licensing_pb2.SuspendLicenceResponse(
            licence=self._change(request, "SuspendLicence", "suspend")
        )

    def ResumeLicence(
        self, request: licensing_pb2.ResumeLicenceRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.ResumeLicenceResponse:
        return licensing_pb2.ResumeLicenceResponse(
            licence=self._change(request, "ResumeLicence", "resume")
        )

    def RevokeLicence(
        self, request: licensing_pb2.RevokeLicenceRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.RevokeLicenceResponse:
        return licensing_pb2.RevokeLicenceResponse(
            licence=self._change(request, "RevokeLicence", "revoke")
        )

    def ListPolicyRules(
        self, request: licensing_pb2.ListPolicyRulesRequest, context: grpc.ServicerContext
    ) -> licensing_pb2.ListPolicyRulesResponse:
        self._parent(request.parent)
        rules, page = self._licensing.list_rules(
            request.policy_version, page_request("ListPolicyRules", request)
        )
        return licensing_pb2.ListPolicyRulesResponse(
            policy_rules=[rule_to_proto(r, self._region) for r in page.items],
            policy_version=rules.name(self._region),
            next_page_token=page.next_token,
        )
