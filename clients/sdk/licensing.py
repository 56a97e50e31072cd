"""Licensing client: request licences, follow decisions, review, and verify offline.

::

    with connect(address, consumer_key) as client:
        made = client.licensing.request_licence(
            "bus-lines", purpose_class="commercial", scenario_code="FIN-CREDIT-01",
            access_modes=["bulk"], quota={"rows": 100_000}, valid_for=timedelta(days=30))
        if made.licence_request.state == LICENCE_REQUEST_STATE_HELD:
            request = client.licensing.follow_request(made.licence_request.name, timeout=600)
        document = verify_licence(made.licence, region_vkey)   # offline, no node needed

:func:`verify_licence` needs nothing but the licence message (or its saved bytes)
and the provider region's verifier key: it checks the Ed25519 signature over
``"bashu.exchange/licence/v1" ‖ 0x00 ‖ document`` with the key whose name AND key id
the signature names, then parses the signed bytes, and checks that the licence's
convenience copies (name, terms, masking, tariff, mapping, provider, request, grant
time) agree with what was signed. It proves the grant; state, quota used and
suspension or revocation are online facts (``get_licence``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import ledger_pb2_grpc
from bashu.licensing.v1 import licensing_pb2, licensing_pb2_grpc
from google.protobuf.message import DecodeError

from clients.sdk.catalog import _pages, _RegionalClient, enum_value, new_request_id
from clients.sdk.errors import VerificationError
from ledger.errors import LedgerError
from ledger.note import Verifier

__all__ = ["LICENCE_CONTEXT", "LicensingClient", "verify_licence"]

LICENCE_CONTEXT = b"bashu.exchange/licence/v1"
HELD = licensing_pb2.LICENCE_REQUEST_STATE_HELD


def verify_licence(
    licence: licensing_pb2.Licence, vkey: str | Sequence[str]
) -> licensing_pb2.LicenceDocument:
    """Check a licence offline with the provider region's verifier key(s).

    Pass every key the region has used (current and rotated) to accept licences
    signed before a rotation. Returns the signed document; raises
    :class:`VerificationError` when anything does not hold.
    """
    keys = [vkey] if isinstance(vkey, str) else list(vkey)
    try:
        verifiers = [Verifier.from_vkey(k) for k in keys]
    except LedgerError as exc:
        raise VerificationError(f"not a verifier key: {exc}") from exc
    sig = licence.signature
    verifier = next(
        (v for v in verifiers if v.name == sig.key_name and v.key_id.hex() == sig.key_id), None
    )
    if verifier is None:
        raise VerificationError(
            f"licence is signed by {sig.key_name}+{sig.key_id}, not a given key"
        )
    # The signed message is context ‖ 0x00 ‖ the exact stored bytes (never re-serialized).
    if not verifier.verify(LICENCE_CONTEXT + b"\x00" + licence.document, sig.signature):
        raise VerificationError("licence signature does not verify")
    document = licensing_pb2.LicenceDocument()
    try:
        document.ParseFromString(licence.document)
    except DecodeError as exc:
        raise VerificationError(f"signed licence document does not parse: {exc}") from exc
    if licence.name and document.licence != licence.name:
        raise VerificationError(f"document is for {document.licence}, not {licence.name}")
    if sig.signer_region and document.provider_region != sig.signer_region:
        raise VerificationError("document's provider region is not the signing region")
    if verifier.name != f"bashu.exchange/log/{document.provider_region}":
        raise VerificationError(f"{verifier.name} is not the key of {document.provider_region}")
    # The licence message repeats the signed facts for convenience: a copy that
    # disagrees with what was signed is a forgery or corruption, never a detail.
    copies = {
        "terms": (licence.terms, document.terms),
        "masking": (list(licence.masking), list(document.masking)),
        "tariff": (licence.tariff, document.tariff),
        "standard_mapping": (licence.standard_mapping, document.standard_mapping),
        "provider": (licence.provider, document.provider),
        "provider_region": (licence.provider_region, document.provider_region),
        "licence_request": (licence.licence_request, document.licence_request),
        "grant_time": (licence.grant_time, document.grant_time),
    }
    for name, (copy, signed) in copies.items():
        present = licence.HasField(name) if name in ("terms", "grant_time") else bool(copy)
        if present and copy != signed:
            raise VerificationError(f"the licence's {name} differs from the signed document")
    return document


def _ts(value: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


class LicensingClient(_RegionalClient):
    """Licence requests and licences of one node (see the module docstring)."""

    def __init__(
        self,
        stub: licensing_pb2_grpc.LicensingServiceStub,
        ledger: ledger_pb2_grpc.LedgerServiceStub,
        region: str | None = None,
    ) -> None:
        super().__init__(stub, ledger, region)

    def request_name(self, request: str) -> str:
        return self._name("licenceRequests", request)

    def licence_name(self, licence: str) -> str:
        return self._name("licences", licence)

    # -- consumers ----------------------------------------------------------------------

    def request_licence(
        self,
        product: str,
        *,
        purpose_class: str | int,
        scenario_code: str,
        access_modes: Sequence[str | int],
        fields: Sequence[str] = (),
        unmasked_fields: Sequence[str] = (),
        quota: Mapping[str, int] | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        valid_for: timedelta | None = None,
        purpose_description: str = "",
        cross_border: licensing_pb2.CrossBorder | None = None,
        justification: str = "",
        product_revision: str = "",
        provider_region: str | None = None,
        request_id: str | None = None,
    ) -> licensing_pb2.CreateLicenceRequestResponse:
        """Ask for a licence; the provider region's policy decides at once.

        ``valid_for`` sets the end relative to the start (now when ``valid_from`` is
        unset). A DENY is an answer, not an error: read
        ``response.licence_request.decision.reasons``. A retry with the same
        ``request_id`` must ask for the same terms: pass the ``valid_until`` computed
        for the first attempt, not ``valid_for`` again.
        """
        region = provider_region or self.region
        name = product if product.startswith("regions/") else f"regions/{region}/products/{product}"
        terms = licensing_pb2.LicenceTerms(
            product=name,
            product_revision=product_revision,
            purpose=licensing_pb2.Purpose(
                scenario_code=scenario_code,
                purpose_class=enum_value(common_pb2.PurposeClass, "PURPOSE_CLASS_", purpose_class),  # type: ignore[arg-type]
                description=purpose_description,
            ),
            fields=list(fields),
            unmasked_fields=list(unmasked_fields),
            access_modes=[
                enum_value(common_pb2.AccessMode, "ACCESS_MODE_", m)  # type: ignore[misc]
                for m in access_modes
            ],
            quota=common_pb2.Quantity(**dict(quota or {})),
        )
        if valid_from is not None:
            terms.validity.start_time.CopyFrom(_ts(valid_from))
        if valid_until is None and valid_for is not None:
            valid_until = (valid_from or datetime.now(UTC)) + valid_for
        if valid_until is not None:
            terms.validity.end_time.CopyFrom(_ts(valid_until))
        if cross_border is not None:
            terms.cross_border.CopyFrom(cross_border)
        response: licensing_pb2.CreateLicenceRequestResponse = self.stub.CreateLicenceRequest(
            licensing_pb2.CreateLicenceRequestRequest(
                parent=f"regions/{region}",
                licence_request=licensing_pb2.LicenceRequest(
                    terms=terms, justification=justification
                ),
                request_id=request_id or new_request_id(),
            )
        )
        return response

    def get_request(self, request: str) -> licensing_pb2.LicenceRequest:
        response = self.stub.GetLicenceRequest(
            licensing_pb2.GetLicenceRequestRequest(name=self.request_name(request))
        )
        result: licensing_pb2.LicenceRequest = response.licence_request
        return result

    def follow_request(
        self, request: str, *, interval: float = 1.0, timeout: float | None = None
    ) -> licensing_pb2.LicenceRequest:
        """Poll until the request is no longer HELD (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current = self.get_request(request)
            if current.state != HELD:
                return current
            if deadline is not None and time.monotonic() >= deadline:
                return current
            time.sleep(interval)

    def list_requests(
        self,
        *,
        states: Sequence[str | int] = (),
        product: str = "",
        consumer_party: str = "",
        page_size: int = 0,
    ) -> Iterator[licensing_pb2.LicenceRequest]:
        """Requests you may see, newest first."""
        request = licensing_pb2.ListLicenceRequestsRequest(
            parent=self.parent,
            states=[
                enum_value(licensing_pb2.LicenceRequestState, "LICENCE_REQUEST_STATE_", s)  # type: ignore[misc]
                for s in states
            ],
            product=self._name("products", product) if product else "",
            consumer_party=consumer_party,
            page_size=page_size,
        )

        def fetch(token: str) -> Any:
            request.page_token = token
            return self.stub.ListLicenceRequests(request)

        return _pages(fetch, "licence_requests")

    # -- providers ----------------------------------------------------------------------

    def approve(
        self, request: str, comment: str = "", *, request_id: str | None = None
    ) -> licensing_pb2.ApproveLicenceRequestResponse:
        response: licensing_pb2.ApproveLicenceRequestResponse = self.stub.ApproveLicenceRequest(
            licensing_pb2.ApproveLicenceRequestRequest(
                name=self.request_name(request),
                comment=comment,
                request_id=request_id or new_request_id(),
            )
        )
        return response

    def reject(
        self, request: str, reason: str, *, request_id: str | None = None
    ) -> licensing_pb2.LicenceRequest:
        response = self.stub.RejectLicenceRequest(
            licensing_pb2.RejectLicenceRequestRequest(
                name=self.request_name(request),
                reason=reason,
                request_id=request_id or new_request_id(),
            )
        )
        result: licensing_pb2.LicenceRequest = response.licence_request
        return result

    def _change(self, method: str, request: Any) -> licensing_pb2.Licence:
        response = getattr(self.stub, method)(request)
        result: licensing_pb2.Licence = response.licence
        return result

    def suspend(
        self, licence: str, reason: str, *, request_id: str | None = None
    ) -> licensing_pb2.Licence:
        return self._change(
            "SuspendLicence",
            licensing_pb2.SuspendLicenceRequest(
                name=self.licence_name(licence),
                reason=reason,
                request_id=request_id or new_request_id(),
            ),
        )

    def resume(
        self, licence: str, reason: str = "", *, request_id: str | None = None
    ) -> licensing_pb2.Licence:
        return self._change(
            "ResumeLicence",
            licensing_pb2.ResumeLicenceRequest(
                name=self.licence_name(licence),
                reason=reason,
                request_id=request_id or new_request_id(),
            ),
        )

    def revoke(
        self, licence: str, reason: str, *, request_id: str | None = None
    ) -> licensing_pb2.Licence:
        return self._change(
            "RevokeLicence",
            licensing_pb2.RevokeLicenceRequest(
                name=self.licence_name(licence),
                reason=reason,
                request_id=request_id or new_request_id(),
            ),
        )

    # -- everyone -----------------------------------------------------------------------

    def get_licence(self, licence: str) -> licensing_pb2.Licence:
        response = self.stub.GetLicence(
            licensing_pb2.GetLicenceRequest(name=self.licence_name(licence))
        )
        result: licensing_pb2.Licence = response.licence
        return result

    def list_licences(
        self,
        *,
        states: Sequence[str | int] = (),
        product: str = "",
        consumer_party: str = "",
        page_size: int = 0,
    ) -> Iterator[licensing_pb2.Licence]:
        """Licences you may see, newest first."""
        request = licensing_pb2.ListLicencesRequest(
            parent=self.parent,
            states=[
                enum_value(licensing_pb2.LicenceState, "LICENCE_STATE_", s)  # type: ignore[misc]
                for s in states
            ],
            product=self._name("products", product) if product else "",
            consumer_party=consumer_party,
            page_size=page_size,
        )

        def fetch(token: str) -> Any:
            request.page_token = token
            return self.stub.ListLicences(request)

        return _pages(fetch, "licences")

    def policy_rules(self, policy_version: str = "") -> tuple[str, list[licensing_pb2.PolicyRule]]:
        """(rule-set version, its rules ordered by rule_id)."""
        version = ""
        rules: list[licensing_pb2.PolicyRule] = []
        token = ""
        while True:
            response = self.stub.ListPolicyRules(
                licensing_pb2.ListPolicyRulesRequest(
                    parent=self.parent, policy_version=policy_version, page_token=token
                )
            )
            version = response.policy_version
            rules.extend(response.policy_rules)
            token = response.next_page_token
            if not token:
                return version, rules
