"""Reconciliation client (finance): compare this region's ledger with a counterparty's.

A reconciliation compares both regions' records of one period in three tiers
(statement totals, product-day totals, record by record) and leaves a report in the
ledger. Every record ends as matched, within tolerance, mismatched, ours only or
theirs only::

    client = connect("127.0.0.1:50051", finance_key)
    report = client.reconciliation.reconcile("2026-11", "cq", amount_fen=1)
    report.record_counts.mismatched, report.ledger_entry.index
    for d in client.reconciliation.discrepancies(report.name, statuses=["mismatched"]):
        print(d.key, list(d.differing_fields))
    client.reconciliation.reports("2026-11")          # newest first, every page

Periods may be given as an id (``"2026-11"``) or a resource name
(``"regions/sc/periods/2026-11"``); statuses and tiers as enum numbers or words
(``"ours-only"``, ``"record"``). A retry with the same ``request_id`` returns the
first report instead of running again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from bashu.ledger.v1 import ledger_pb2
from bashu.settlement.v1 import settlement_pb2
from google.protobuf.duration_pb2 import Duration

__all__ = [
    "MATCH_STATUSES",
    "TIERS",
    "ReconciliationClient",
    "status_value",
    "status_word",
    "tier_value",
    "tier_word",
]

MATCH_STATUSES = ("matched", "within-tolerance", "mismatched", "ours-only", "theirs-only")
TIERS = ("statement-totals", "product-day", "record")


def _enum(wrapper: Any, prefix: str, value: str | int, what: str) -> int:
    if isinstance(value, int):
        if value not in wrapper.values():
            raise ValueError(f"{value} is not a {what}")
        return value
    name = prefix + value.strip().upper().replace("-", "_")
    try:
        return int(wrapper.Value(name))
    except ValueError:
        raise ValueError(f"{value!r} is not a {what}") from None


def status_value(value: str | int) -> int:
    """``"ours-only"`` → ``MATCH_STATUS_OURS_ONLY`` (ValueError naming the choices)."""
    try:
        return _enum(settlement_pb2.MatchStatus, "MATCH_STATUS_", value, "match status")
    except ValueError:
        raise ValueError(f"{value!r} is not one of {', '.join(MATCH_STATUSES)}") from None


def tier_value(value: str | int) -> int:
    """``"record"`` → ``RECONCILIATION_TIER_RECORD``."""
    try:
        return _enum(
            settlement_pb2.ReconciliationTier, "RECONCILIATION_TIER_", value, "reconciliation tier"
        )
    except ValueError:
        raise ValueError(f"{value!r} is not one of {', '.join(TIERS)}") from None


def status_word(value: int) -> str:
    try:
        name = str(settlement_pb2.MatchStatus.Name(value))
    except ValueError:
        return str(value)
    return name.removeprefix("MATCH_STATUS_").lower().replace("_", "-")


def tier_word(value: int) -> str:
    try:
        name = str(settlement_pb2.ReconciliationTier.Name(value))
    except ValueError:
        return str(value)
    return name.removeprefix("RECONCILIATION_TIER_").lower().replace("_", "-")


class ReconciliationClient:
    """Reconcile, and read reports and their discrepancies (typed errors)."""

    def __init__(self, stub: Any, ledger_stub: Any, region: str | None = None) -> None:
        self._stub = stub
        self._ledger = ledger_stub
        self._region = region

    @property
    def region(self) -> str:
        """The node's region (asked once from its public key when not given)."""
        if self._region is None:
            vkey = str(self._ledger.GetPublicKey(ledger_pb2.GetPublicKeyRequest()).verifier_key)
            self._region = vkey.split("+", 1)[0].rsplit("/", 1)[-1]
        return self._region

    def period_name(self, period: str) -> str:
        if period.startswith("regions/"):
            return period
        return f"regions/{self.region}/periods/{period}"

    def reconcile(
        self,
        period: str,
        counterparty: str,
        *,
        amount_fen: int | None = None,
        rows: int | None = None,
        nbytes: int | None = None,
        time_skew: timedelta | None = None,
        request_id: str | None = None,
        timeout: float | None = 600.0,
    ) -> settlement_pb2.ReconciliationReport:
        """Reconcile ``period`` with ``counterparty``; tolerances left ``None`` are the
        agreement's (all of them ``None``: the agreement's tolerance as a whole)."""
        request = settlement_pb2.ReconcileRequest(
            period=self.period_name(period),
            counterparty=counterparty,
            request_id=request_id or uuid.uuid4().hex,
        )
        if any(v is not None for v in (amount_fen, rows, nbytes, time_skew)):
            skew = Duration()
            skew.FromTimedelta(time_skew or timedelta(0))
            request.tolerance.CopyFrom(
                settlement_pb2.Tolerance(
                    amount_fen=amount_fen or 0,
                    rows=rows or 0,
                    bytes=nbytes or 0,
                    time_skew=skew,
                )
            )
        report: settlement_pb2.ReconciliationReport = self._stub.Reconcile(
            request, timeout=timeout
        ).report
        return report

    def get(self, name: str) -> settlement_pb2.ReconciliationReport:
        report: settlement_pb2.ReconciliationReport = self._stub.GetReconciliationReport(
            settlement_pb2.GetReconciliationReportRequest(name=name)
        ).report
        return report

    def reports(
        self, period: str = "-", counterparty: str = "", *, page_size: int = 0
    ) -> Iterator[settlement_pb2.ReconciliationReport]:
        """Reports of ``period`` (``"-"``: every period), newest first, every page."""
        token = ""
        while True:
            resp = self._stub.ListReconciliationReports(
                settlement_pb2.ListReconciliationReportsRequest(
                    parent=self.period_name(period),
                    counterparty=counterparty,
                    page_size=page_size,
                    page_token=token,
                )
            )
            yield from resp.reports
            token = resp.next_page_token
            if not token:
                return

    def discrepancies(
        self,
        report: str,
        *,
        statuses: Iterable[str | int] = (),
        tier: str | int | None = None,
        page_size: int = 1000,
    ) -> Iterator[settlement_pb2.Discrepancy]:
        """The report's discrepancies in (tier, key) order, every page."""
        wanted = [status_value(s) for s in statuses]
        which = 0 if tier is None else tier_value(tier)
        token = ""
        while True:
            resp = self._stub.ListReconciliationDiscrepancies(
                settlement_pb2.ListReconciliationDiscrepanciesRequest(
                    parent=report,
                    statuses=wanted,  # type: ignore[arg-type]
                    tier=which,  # type: ignore[arg-type]
                    page_size=page_size,
                    page_token=token,
                )
            )
            yield from resp.discrepancies
            token = resp.next_page_token
            if not token:
                return
