"""Bashu Exchange SDK.

    from clients import connect
    with connect("127.0.0.1:50051", api_key) as client:
        cp = client.ledger.checkpoint(vkey)
        for product in client.catalog.list_products(text="公交"):
            made = client.licensing.request_licence(product.name, purpose_class="commercial",
                                                    scenario_code="FIN-CREDIT-01",
                                                    access_modes=["bulk"])
            verify_licence(made.licence, vkey)     # offline, with the region's key

Every failed call raises a :class:`BashuRpcError` subclass (see
:mod:`clients.sdk.errors`), never a raw ``grpc.RpcError``.
"""

from clients.sdk.catalog import CatalogClient, descriptor_from_json
from clients.sdk.channel import TlsOptions
from clients.sdk.client import Client, connect
from clients.sdk.errors import (
    AlreadyExistsError,
    BashuRpcError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    VerificationError,
)
from clients.sdk.ledger import verify_checkpoint_note, verify_inclusion_offline
from clients.sdk.licensing import LicensingClient, verify_licence

__all__ = [
    "AlreadyExistsError",
    "BashuRpcError",
    "CatalogClient",
    "Client",
    "FailedPreconditionError",
    "FieldViolation",
    "InvalidArgumentError",
    "LicensingClient",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "TlsOptions",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "VerificationError",
    "connect",
    "descriptor_from_json",
    "verify_checkpoint_note",
    "verify_inclusion_offline",
    "verify_licence",
]
