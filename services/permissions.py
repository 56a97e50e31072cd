"""Which roles may call which method: the one authorisation table.

Keys are full gRPC method names. A method missing from the table is refused for
every party (deny by default); the federation methods peers call are absent on
purpose: peers authenticate as regions, never with a party's API key. Ownership (a provider may
change only its own products, a consumer see only its own licences) is checked by
the servicers on top of this.

:data:`PEER_METHODS` lists what a peer region may call (with signed metadata, see
:mod:`services.peer_auth`). A method in both tables takes either credential; a
method only in :data:`PEER_METHODS` never looks at an API key.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.auth import Role

__all__ = ["METHOD_ROLES", "PEER_METHODS", "SERVICE_ROLES"]

ANY = frozenset(Role)
PROVIDER = frozenset({Role.PROVIDER})
CONSUMER = frozenset({Role.CONSUMER})
FINANCE = frozenset({Role.FINANCE})
OPERATOR = frozenset({Role.OPERATOR})
PARTIES = frozenset({Role.PROVIDER, Role.CONSUMER, Role.OPERATOR})
MARKET = frozenset({Role.PROVIDER, Role.CONSUMER, Role.FINANCE, Role.OPERATOR})
# Settlement and reconciliation are for finance and operators: statements, reports
# and discrepancies name other parties' records; providers see revenue in AccessService.
SETTLEMENT_VIEW = frozenset({Role.FINANCE, Role.OPERATOR})

SERVICE_ROLES: Mapping[str, Mapping[str, frozenset[Role]]] = {
    "bashu.ledger.v1.LedgerService": {
        # Anyone holding a key may audit: proofs and checkpoints are public facts.
        "GetCheckpoint": ANY,
        "ListEntries": ANY,
        "GetEntry": ANY,
        "GetInclusionProof": ANY,
        "GetConsistencyProof": ANY,
        "ListCheckpoints": ANY,
        "GetPublicKey": ANY,
    },
    "bashu.catalog.v1.CatalogService": {
        "CreateProduct": PROVIDER,
        "GetProduct": ANY,
        "ListProducts": ANY,
        "SearchProducts": ANY,
        "UpdateProduct": PROVIDER,
        "UnlistProduct": PROVIDER,
        "SuspendProduct": OPERATOR,
        # The owner lists its UNLISTED product again; only operators lift a suspension
        # (checked by the catalog).
        "ResumeProduct": frozenset({Role.PROVIDER, Role.OPERATOR}),
        "GetProductRevision": ANY,
        "ListProductRevisions": ANY,
        "CreateTariff": PROVIDER,
        "GetTariff": ANY,
        "ListTariffs": ANY,
        "SetPriceCeiling": OPERATOR,
        "ListPriceCeilings": ANY,
        "CreateStandardMapping": OPERATOR,
        "GetStandardMapping": ANY,
        "ListStandardMappings": ANY,
    },
    "bashu.licensing.v1.LicensingService": {
        "CreateLicenceRequest": CONSUMER,
        "GetLicenceRequest": PARTIES,
        "ListLicenceRequests": PARTIES,
        "ApproveLicenceRequest": PROVIDER,
        "RejectLicenceRequest": PROVIDER,
        "GetLicence": MARKET,
        "ListLicences": MARKET,
        "SuspendLicence": frozenset({Role.PROVIDER, Role.OPERATOR}),
        "ResumeLicence": frozenset({Role.PROVIDER, Role.OPERATOR}),
        "RevokeLicence": frozenset({Role.PROVIDER, Role.OPERATOR}),
        "ListPolicyRules": ANY,
    },
    "bashu.access.v1.AccessService": {
        "RegisterSource": PROVIDER,
        "GetSource": frozenset({Role.PROVIDER, Role.OPERATOR}),
        "ListSources": frozenset({Role.PROVIDER, Role.OPERATOR}),
        "ReadData": CONSUMER,
        "LookupRecord": CONSUMER,
        "VerifyClaim": CONSUMER,
        "GetUsageRecord": MARKET,
        "ListUsageRecords": MARKET,
        "SummarizeUsage": MARKET,
        "GetUsageReceipt": frozenset({Role.CONSUMER, Role.PROVIDER}),
    },
    "bashu.settlement.v1.SettlementService": {
        "ListPeriods": SETTLEMENT_VIEW,
        "GetPeriod": SETTLEMENT_VIEW,
        "ClosePeriod": FINANCE,
        "GetStatement": SETTLEMENT_VIEW,
        "ListStatements": SETTLEMENT_VIEW,
        "SignStatement": FINANCE,
        "ComputeNetting": SETTLEMENT_VIEW,
        "CreateAdjustment": FINANCE,
        "GetAdjustment": SETTLEMENT_VIEW,
        "ListAdjustments": SETTLEMENT_VIEW,
        "RaiseDispute": FINANCE,
        "AddDisputeEvidence": FINANCE,
        "RespondToDispute": FINANCE,
        # The operator records the joint settlement committee's decision.
        "DecideDispute": OPERATOR,
        "GetDispute": SETTLEMENT_VIEW,
        "ListDisputes": SETTLEMENT_VIEW,
        "Reconcile": FINANCE,
        "GetReconciliationReport": SETTLEMENT_VIEW,
        "ListReconciliationReports": SETTLEMENT_VIEW,
        "ListReconciliationDiscrepancies": SETTLEMENT_VIEW,
    },
    # Peers call the rest of this service as regions (signed requests); only the
    # operator's views are open to a party key (GetPeerInfo to check a peer before
    # configuring it, GetCosignatures to read any peer's cosignatures).
    "bashu.federation.v1.FederationService": {
        "GetFederationStatus": OPERATOR,
        "GetPeerInfo": OPERATOR,
        "GetCosignatures": OPERATOR,
    },
}

METHOD_ROLES: Mapping[str, frozenset[Role]] = {
    f"/{service}/{method}": roles
    for service, methods in SERVICE_ROLES.items()
    for method, roles in methods.items()
}

_PEER_SERVICE_METHODS: Mapping[str, tuple[str, ...]] = {
    # Every FederationService method but the operator's status view.
    "bashu.federation.v1.FederationService": (
        "GetPeerInfo",
        "SearchCatalog",
        "ForwardLicenceRequest",
        "ForwardReadData",
        "ForwardLookupRecord",
        "ForwardVerifyClaim",
        "DeliverMessages",
        "GetCosignatures",
        "GetPeriodSummary",
        "ExportPeriodRecords",
        "ListSignedStatements",
    ),
    # Witnessing and receipt proofs: a peer reads the log like any auditor.
    "bashu.ledger.v1.LedgerService": (
        "GetCheckpoint",
        "ListEntries",
        "GetEntry",
        "GetInclusionProof",
        "GetConsistencyProof",
        "ListCheckpoints",
        "GetPublicKey",
    ),
}

PEER_METHODS: frozenset[str] = frozenset(
    f"/{service}/{method}"
    for service, methods in _PEER_SERVICE_METHODS.items()
    for method in methods
)
