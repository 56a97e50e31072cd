"""Settlement client for finance and operators: periods, statements, netting,
corrections and disputes of one node's region.

Names are relative to the node's region unless given in full::

    client = connect("127.0.0.1:50051", finance_key)
    client.settlement.close_period("2026-10")                   # OPEN -> CLOSING
    client.settlement.close_period("2026-10", end_grace_now=True)
    st = client.settlement.statement("2026-10", "cq")
    client.settlement.sign("2026-10", "cq", st.content_digest)
    verify_statement_signatures(st, {"sc": [sc_vkey], "cq": [cq_vkey]})
    netting = client.settlement.net("2026-10", ["sc", "cq", "sg"])

Errors are the SDK's typed exceptions (:mod:`clients.sdk.errors`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import ledger_pb2
from bashu.settlement.v1 import settlement_pb2

from clients.sdk.channel import ErrorTranslating
from clients.sdk.errors import VerificationError
from ledger.note import Verifier

__all__ = ["STATEMENT_CONTEXT", "SettlementClient", "verify_statement_signatures"]

STATEMENT_CONTEXT = b"bashu.exchange/statement/v1"


def verify_statement_signatures(
    statement: settlement_pb2.Statement, vkeys: Mapping[str, Sequence[str]]
) -> list[str]:
    """Check every signature of ``statement`` over its content bytes with the regions'
    verifier keys; return the regions whose signature verifies (VerificationError
    when one does not, or when the digest does not match the bytes)."""
    body = bytes(statement.content_body)
    if hashlib.sha256(body).digest() != bytes(statement.content_digest):
        raise VerificationError("content_digest is not the SHA-256 of content_body")
    message = STATEMENT_CONTEXT + b"\x00" + body
    good = []
    for sig in statement.signatures:
        ok = False
        for vkey in vkeys.get(sig.signer_region, ()):
            verifier = Verifier.from_vkey(vkey)
            if verifier.name == sig.key_name and verifier.key_id.hex() == sig.key_id:
                ok = verifier.verify(message, bytes(sig.signature))
                break
        if not ok:
            raise VerificationError(f"signature of {sig.signer_region} does not verify")
        good.append(sig.signer_region)
    return good


def _rid(request_id: str | None) -> str:
    return request_id or uuid.uuid4().hex


def _money(fen: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="CNY", amount_fen=fen)


class SettlementClient:
    """``SettlementService`` of one node (see the module docstring)."""

    def __init__(self, stub: Any, ledger_stub: Any, region: str | None = None) -> None:
        self.stub = ErrorTranslating(stub)
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

    def period_name(self, period: str) -> str:
        return period if period.startswith("regions/") else f"{self.parent}/periods/{period}"

    def statement_name(self, period: str, counterparty: str) -> str:
        return f"{self.period_name(period)}/statements/{counterparty}"

    def _name(self, collection: str, value: str) -> str:
        return value if value.startswith("regions/") else f"{self.parent}/{collection}/{value}"

    # -- periods -------------------------------------------------------------------------

    def periods(
        self, states: Sequence[settlement_pb2.PeriodState | str] = ()
    ) -> Iterator[settlement_pb2.Period]:
        token = ""
        while True:
            page: settlement_pb2.ListPeriodsResponse = self.stub.ListPeriods(
                settlement_pb2.ListPeriodsRequest(
                    parent=self.parent, states=list(states), page_token=token
                )
            )
            yield from page.periods
            token = page.next_page_token
            if not token:
                return

    def period(self, period: str) -> settlement_pb2.Period:
        response: settlement_pb2.GetPeriodResponse = self.stub.GetPeriod(
            settlement_pb2.GetPeriodRequest(name=self.period_name(period))
        )
        return response.period

    def close_period(
        self, period: str, *, end_grace_now: bool = False, request_id: str | None = None
    ) -> settlement_pb2.Period:
        """OPEN → CLOSING, or with ``end_grace_now`` CLOSING → CLOSED."""
        response: settlement_pb2.ClosePeriodResponse = self.stub.ClosePeriod(
            settlement_pb2.ClosePeriodRequest(
                name=self.period_name(period),
                end_grace_now=end_grace_now,
                request_id=_rid(request_id),
            )
        )
        return response.period

    def close_now(self, period: str) -> settlement_pb2.Period:
        """Close a period completely (OPEN → CLOSING → CLOSED, or CLOSING → CLOSED)."""
        p = self.period(period)
        if p.state == settlement_pb2.PERIOD_STATE_OPEN:
            p = self.close_period(period)
        if p.state == settlement_pb2.PERIOD_STATE_CLOSING:
            p = self.close_period(period, end_grace_now=True)
        return p

    # -- statements ----------------------------------------------------------------------

    def statement(self, period: str, counterparty: str) -> settlement_pb2.Statement:
        response: settlement_pb2.GetStatementResponse = self.stub.GetStatement(
            settlement_pb2.GetStatementRequest(name=self.statement_name(period, counterparty))
        )
        return response.statement

    def statements(
        self, period: str = "-", states: Sequence[settlement_pb2.StatementState | str] = ()
    ) -> Iterator[settlement_pb2.Statement]:
        token = ""
        while True:
            page: settlement_pb2.ListStatementsResponse = self.stub.ListStatements(
                settlement_pb2.ListStatementsRequest(
                    parent=self.period_name(period), states=list(states), page_token=token
                )
            )
            yield from page.statements
            token = page.next_page_token
            if not token:
                return

    def sign(
        self, period: str, counterparty: str, digest: bytes, *, request_id: str | None = None
    ) -> settlement_pb2.Statement:
        """Sign the statement whose content digest you reviewed."""
        response: settlement_pb2.SignStatementResponse = self.stub.SignStatement(
            settlement_pb2.SignStatementRequest(
                name=self.statement_name(period, counterparty),
                content_digest=digest,
                request_id=_rid(request_id),
            )
        )
        return response.statement

    def net(
        self,
        period: str,
        regions: Sequence[str] = (),
        *,
        mode: int = settlement_pb2.NETTING_MODE_UNSPECIFIED,
        allow_unsigned: bool = False,
    ) -> settlement_pb2.Netting:
        response: settlement_pb2.ComputeNettingResponse = self.stub.ComputeNetting(
            settlement_pb2.ComputeNettingRequest(
                parent=self.parent,
                period=period,
                regions=list(regions),
                mode=mode,  # type: ignore[arg-type]
                allow_unsigned=allow_unsigned,
            )
        )
        return response.netting

    # -- corrections ---------------------------------------------------------------------

    def create_adjustment(
        self, adjustment: settlement_pb2.Adjustment, *, request_id: str | None = None
    ) -> settlement_pb2.Adjustment:
        response: settlement_pb2.CreateAdjustmentResponse = self.stub.CreateAdjustment(
            settlement_pb2.CreateAdjustmentRequest(
                parent=self.parent, adjustment=adjustment, request_id=_rid(request_id)
            )
        )
        return response.adjustment

    def reverse(
        self, corrects: common_pb2.EntryRef, reason: str, *, request_id: str | None = None
    ) -> settlement_pb2.Adjustment:
        """Cancel a usage entry (amount and quantities computed by the node)."""
        return self.create_adjustment(
            settlement_pb2.Adjustment(
                kind=settlement_pb2.ADJUSTMENT_KIND_REVERSAL, corrects=corrects, reason=reason
            ),
            request_id=request_id,
        )

    def adjustment(self, name: str) -> settlement_pb2.Adjustment:
        response: settlement_pb2.GetAdjustmentResponse = self.stub.GetAdjustment(
            settlement_pb2.GetAdjustmentRequest(name=self._name("adjustments", name))
        )
        return response.adjustment

    def adjustments(
        self, *, period: str = "", counterparty: str = ""
    ) -> Iterator[settlement_pb2.Adjustment]:
        token = ""
        while True:
            page: settlement_pb2.ListAdjustmentsResponse = self.stub.ListAdjustments(
                settlement_pb2.ListAdjustmentsRequest(
                    parent=self.parent,
                    period=period,
                    counterparty=counterparty,
                    page_token=token,
                )
            )
            yield from page.adjustments
            token = page.next_page_token
            if not token:
                return

    # -- disputes ------------------------------------------------------------------------

    def raise_dispute(
        self,
        period: str,
        *,
        provider_region: str,
        consumer_region: str,
        amount_fen: int,
        reason_code: str,
        description: str,
        entries: Sequence[common_pb2.EntryRef] = (),
        evidence: Sequence[settlement_pb2.Evidence] = (),
        statement: str = "",
        request_id: str | None = None,
    ) -> settlement_pb2.Dispute:
        response: settlement_pb2.RaiseDisputeResponse = self.stub.RaiseDispute(
            settlement_pb2.RaiseDisputeRequest(
                parent=self.parent,
                dispute=settlement_pb2.Dispute(
                    period=self.period_name(period),
                    provider_region=provider_region,
                    consumer_region=consumer_region,
                    disputed_amount=_money(amount_fen),
                    reason_code=reason_code,
                    description=description,
                    entries=list(entries),
                    statement=statement,
                ),
                evidence=list(evidence),
                request_id=_rid(request_id),
            )
        )
        return response.dispute

    def add_evidence(
        self,
        dispute: str,
        evidence: Sequence[settlement_pb2.Evidence],
        *,
        comment: str = "",
        request_id: str | None = None,
    ) -> settlement_pb2.Dispute:
        response: settlement_pb2.AddDisputeEvidenceResponse = self.stub.AddDisputeEvidence(
            settlement_pb2.AddDisputeEvidenceRequest(
                name=self._name("disputes", dispute),
                evidence=list(evidence),
                comment=comment,
                request_id=_rid(request_id),
            )
        )
        return response.dispute

    def respond(
        self,
        dispute: str,
        response_text: str,
        *,
        conceded_fen: int = 0,
        evidence: Sequence[settlement_pb2.Evidence] = (),
        request_id: str | None = None,
    ) -> settlement_pb2.Dispute:
        response: settlement_pb2.RespondToDisputeResponse = self.stub.RespondToDispute(
            settlement_pb2.RespondToDisputeRequest(
                name=self._name("disputes", dispute),
                response=response_text,
                evidence=list(evidence),
                conceded_amount=_money(conceded_fen),
                request_id=_rid(request_id),
            )
        )
        return response.dispute

    def decide(
        self,
        dispute: str,
        outcome: int,
        awarded_fen: int,
        rationale: str,
        *,
        request_id: str | None = None,
    ) -> settlement_pb2.DecideDisputeResponse:
        response: settlement_pb2.DecideDisputeResponse = self.stub.DecideDispute(
            settlement_pb2.DecideDisputeRequest(
                name=self._name("disputes", dispute),
                decision=settlement_pb2.DisputeDecision(
                    outcome=outcome,  # type: ignore[arg-type]
                    awarded_amount=_money(awarded_fen),
                    rationale=rationale,
                ),
                request_id=_rid(request_id),
            )
        )
        return response

    def dispute(self, name: str) -> settlement_pb2.Dispute:
        response: settlement_pb2.GetDisputeResponse = self.stub.GetDispute(
            settlement_pb2.GetDisputeRequest(name=self._name("disputes", name))
        )
        return response.dispute

    def disputes(
        self,
        *,
        raised_by: str | None = None,
        states: Sequence[settlement_pb2.DisputeState | str] = (),
        counterparty: str = "",
        period: str = "",
    ) -> Iterator[settlement_pb2.Dispute]:
        token = ""
        parent = f"regions/{raised_by}" if raised_by else "regions/-"
        while True:
            page: settlement_pb2.ListDisputesResponse = self.stub.ListDisputes(
                settlement_pb2.ListDisputesRequest(
                    parent=parent,
                    states=list(states),
                    counterparty=counterparty,
                    period=period,
                    page_token=token,
                )
            )
            yield from page.disputes
            token = page.next_page_token
            if not token:
                return
