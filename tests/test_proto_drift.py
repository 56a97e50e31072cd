"""The generated code never drifts from proto/, and the API keeps its own rules.

Runs ``scripts/genproto.py``'s check in process, then checks conventions buf lint
cannot see: every reason named in a comment is in the one ErrorReason table with the
same status code, mutating methods take a ``request_id``, List methods page, and the
federation relay frame stays wire-identical to the access frame.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
GEN_ROOT = REPO_ROOT / "gen"

SERVICE_MODULES = {
    "catalog": "bashu.catalog.v1.catalog_pb2",
    "licensing": "bashu.licensing.v1.licensing_pb2",
    "access": "bashu.access.v1.access_pb2",
    "ledger": "bashu.ledger.v1.ledger_pb2",
    "settlement": "bashu.settlement.v1.settlement_pb2",
    "federation": "bashu.federation.v1.federation_pb2",
}

# Method-name prefixes of calls that change state. Read-only custom methods
# (Search*, Compute*, Summarize*, Export*, Forward* of reads) are deliberately absent.
MUTATING_PREFIXES = (
    "Create",
    "Update",
    "Delete",
    "Unlist",
    "Suspend",
    "Resume",
    "Approve",
    "Reject",
    "Revoke",
    "Set",
    "Register",
    "Close",
    "Sign",
    "Raise",
    "Add",
    "Respond",
    "Decide",
    "Reconcile",
    "Deliver",
)

GRPC_CODES = (
    "CANCELLED|UNKNOWN|INVALID_ARGUMENT|DEADLINE_EXCEEDED|NOT_FOUND|ALREADY_EXISTS|"
    "PERMISSION_DENIED|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|ABORTED|OUT_OF_RANGE|"
    "UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS|UNAUTHENTICATED"
)


def _load_genproto() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bashu_genproto", REPO_ROOT / "scripts" / "genproto.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        # Not installed (a bare checkout): use the committed gen/ directly.
        if str(GEN_ROOT) not in sys.path:
            sys.path.insert(0, str(GEN_ROOT))
        return importlib.import_module(name)


def _services() -> list[ServiceDescriptor]:
    services: list[ServiceDescriptor] = []
    for module_name in SERVICE_MODULES.values():
        module = _import(module_name)
        services.extend(module.DESCRIPTOR.services_by_name.values())
    return services


def _comment_lines() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(PROTO_ROOT.rglob("*.proto")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("//"):
                out.append((str(path.relative_to(REPO_ROOT)), number, stripped[2:]))
    return out


def _error_table() -> dict[str, str]:
    """Reason → status code, from the comments of bashu.common.v1.ErrorReason."""
    text = (PROTO_ROOT / "bashu" / "common" / "v1" / "errors.proto").read_text(encoding="utf-8")
    pattern = re.compile(
        rf"//\s*({GRPC_CODES}):[^\n]*\n(?:\s*//[^\n]*\n)*\s*ERROR_REASON_(\w+)\s*="
    )
    return {reason: code for code, reason in pattern.findall(text)}


def test_generated_code_matches_proto() -> None:
    problems = _load_genproto().check()
    assert problems == [], "\n".join(["gen/ is stale; run scripts/genproto.py", *problems])


@pytest.mark.parametrize("area", sorted(SERVICE_MODULES))
def test_generated_grpc_modules_import(area: str) -> None:
    grpc_module = _import(SERVICE_MODULES[area] + "_grpc")
    descriptor = _import(SERVICE_MODULES[area]).DESCRIPTOR
    service_names = list(descriptor.services_by_name)
    assert service_names, area
    for service in service_names:
        assert hasattr(grpc_module, f"{service}Servicer")
        assert hasattr(grpc_module, f"{service}Stub")
        assert hasattr(grpc_module, f"add_{service}Servicer_to_server")


def test_every_documented_reason_is_in_the_error_table() -> None:
    table = _error_table()
    enum = _import("bashu.common.v1.errors_pb2").ErrorReason
    names = set(enum.keys())
    enum_reasons = {name.removeprefix("ERROR_REASON_") for name in names} - {"UNSPECIFIED"}
    assert set(table) == enum_reasons, "every ErrorReason value's comment starts with its code"
    unknown = []
    wrong_code = []
    for path, number, text in _comment_lines():
        for reason in re.findall(r"`([A-Z][A-Z0-9_]+)`", text):
            if reason != "ERROR_REASON_" and reason not in table:
                unknown.append(f"{path}:{number}: `{reason}`")
        for code, reason in re.findall(rf"\b({GRPC_CODES})\s+`([A-Z][A-Z0-9_]+)`", text):
            if reason in table and table[reason] != code:
                wrong_code.append(f"{path}:{number}: {code} `{reason}` (table: {table[reason]})")
    assert unknown == [], "reasons missing from ErrorReason:\n" + "\n".join(unknown)
    assert wrong_code == [], "reason used with another code:\n" + "\n".join(wrong_code)


def _has_request_id(message: Descriptor) -> bool:
    if "request_id" in message.fields_by_name:
        return True
    # Forwarded calls carry the consumer's original request, whose request_id counts.
    inner = message.fields_by_name.get("request")
    return (
        inner is not None and inner.message_type is not None and _has_request_id(inner.message_type)
    )


def test_mutating_methods_take_a_request_id() -> None:
    missing = [
        method.full_name
        for service in _services()
        for method in service.methods
        if method.name.startswith(MUTATING_PREFIXES) and not _has_request_id(method.input_type)
    ]
    assert missing == []


def test_list_methods_page() -> None:
    bad = []
    for service in _services():
        for method in service.methods:
            if not method.name.startswith("List"):
                continue
            request = set(method.input_type.fields_by_name)
            response = set(method.output_type.fields_by_name)
            if not {"page_size", "page_token"} <= request or "next_page_token" not in response:
                bad.append(method.full_name)
    assert bad == []


def _wire_shape(message: Descriptor) -> list[tuple[int, str, int, str, str]]:
    return sorted(
        (
            field.number,
            field.name,
            field.type,
            field.message_type.full_name
            if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None
            else "",
            field.containing_oneof.name if field.containing_oneof else "",
        )
        for field in message.fields
    )


def test_forward_read_data_frame_is_wire_identical_to_read_data_frame() -> None:
    access = _import("bashu.access.v1.access_pb2")
    federation = _import("bashu.federation.v1.federation_pb2")
    assert _wire_shape(federation.ForwardReadDataResponse.DESCRIPTOR) == _wire_shape(
        access.ReadDataResponse.DESCRIPTOR
    )
    frame = access.ReadDataResponse(record_batch=b"\x01\x02")
    relayed = federation.ForwardReadDataResponse.FromString(frame.SerializeToString())
    assert relayed.record_batch == b"\x01\x02"
