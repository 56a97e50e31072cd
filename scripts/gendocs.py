"""Generate ``docs/api.md``, the API reference, from the comments in ``proto/``.

The ``.proto`` comments are the reference documentation; this script only lays them
out. It compiles ``proto/`` with the ``protoc`` bundled in grpcio-tools (offline,
the same compiler ``scripts/genproto.py`` uses) into a ``FileDescriptorSet`` with
source info, and writes one Markdown page: per package its services (every RPC with
its request, response and comment), its messages (a field table: name, type,
comment), its enums, and the table of error reasons from
``bashu.common.v1.ErrorReason`` with the gRPC code each one travels with.

Usage::

    python scripts/gendocs.py           # rewrite docs/api.md
    python scripts/gendocs.py --check   # exit 1 if docs/api.md is stale

Output is deterministic: files, services, messages and fields appear in the order
of the sources, and nothing depends on time or on the machine. It reads only
``proto/`` and writes only ``docs/api.md``; it never edits comments.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.resources
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
API_DOC = REPO_ROOT / "docs" / "api.md"
ERROR_ENUM = ".bashu.common.v1.ErrorReason"
ERROR_PREFIX = "ERROR_REASON_"
PACKAGE_ORDER = (
    "bashu.catalog.v1",
    "bashu.licensing.v1",
    "bashu.access.v1",
    "bashu.ledger.v1",
    "bashu.settlement.v1",
    "bashu.federation.v1",
    "bashu.common.v1",
)

# Field numbers inside descriptor.proto, which source-info paths are made of.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE, _FILE_PACKAGE = 4, 5, 6, 2
_MSG_FIELD, _MSG_NESTED, _MSG_ENUM, _MSG_ONEOF = 2, 3, 4, 8
_ENUM_VALUE, _SERVICE_METHOD = 2, 2

_FD = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    _FD.TYPE_DOUBLE: "double",
    _FD.TYPE_FLOAT: "float",
    _FD.TYPE_INT64: "int64",
    _FD.TYPE_UINT64: "uint64",
    _FD.TYPE_INT32: "int32",
    _FD.TYPE_FIXED64: "fixed64",
    _FD.TYPE_FIXED32: "fixed32",
    _FD.TYPE_BOOL: "bool",
    _FD.TYPE_STRING: "string",
    _FD.TYPE_BYTES: "bytes",
    _FD.TYPE_UINT32: "uint32",
    _FD.TYPE_SFIXED32: "sfixed32",
    _FD.TYPE_SFIXED64: "sfixed64",
    _FD.TYPE_SINT32: "sint32",
    _FD.TYPE_SINT64: "sint64",
}
_GRPC_CODES = frozenset(
    {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)


class DocsError(RuntimeError):
    """protoc failed, or the protos cannot be documented (``message`` says why)."""


@dataclass(frozen=True)
class Comments:
    """The comments attached to one element, as protoc reports them."""

    leading: str = ""
    trailing: str = ""
    detached: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(p for p in (self.leading, self.trailing) if p)


def _well_known_include() -> Path:
    return Path(str(importlib.resources.files("grpc_tools") / "_proto"))


def proto_files(proto_root: Path = PROTO_ROOT) -> list[str]:
    return sorted(p.relative_to(proto_root).as_posix() for p in proto_root.rglob("*.proto"))


def load_descriptors(proto_root: Path = PROTO_ROOT) -> descriptor_pb2.FileDescriptorSet:
    """Compile ``proto_root`` into a FileDescriptorSet with comments (source info)."""
    files = proto_files(proto_root)
    if not files:
        raise DocsError(f"no .proto files under {proto_root}")
    with tempfile.TemporaryDirectory(prefix="gendocs-") as tmp:
        out = Path(tmp) / "api.binpb"
        cmd = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={proto_root}",
            f"--proto_path={_well_known_include()}",
            f"--descriptor_set_out={out}",
            "--include_source_info",
            "--include_imports",
            *files,
        ]
        result = subprocess.run(cmd, cwd=proto_root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DocsError(f"grpc_tools.protoc failed:\n{result.stdout}{result.stderr}")
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
    return fds


# --- text helpers -------------------------------------------------------------------------


def _clean(comment: str) -> str:
    """A protoc comment as Markdown paragraphs: one leading space and edges trimmed."""
    lines = [line[1:] if line.startswith(" ") else line for line in comment.split("\n")]
    return "\n".join(line.rstrip() for line in lines).strip()


def _cell(text: str) -> str:
    """Text for one table cell: paragraphs joined with <br>, pipes escaped."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "<br>".join(paragraphs).replace("|", "\\|")


def _anchor(full_name: str) -> str:
    return full_name.lstrip(".").replace(".", "-").lower()


# --- the model ----------------------------------------------------------------------------


class Api:
    """Everything the page shows, indexed by fully qualified name."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet) -> None:
        self.files = [f for f in fds.file if f.package.startswith("bashu.")]
        self._comments: dict[tuple[str, tuple[int, ...]], Comments] = {}
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.paths: dict[str, tuple[str, tuple[int, ...]]] = {}
        for f in fds.file:
            for loc in f.source_code_info.location:
                self._comments[(f.name, tuple(loc.path))] = Comments(
                    _clean(loc.leading_comments),
                    _clean(loc.trailing_comments),
                    tuple(_clean(d) for d in loc.leading_detached_comments),
                )
            prefix = f".{f.package}"
            for i, m in enumerate(f.message_type):
                self._index_message(f.name, prefix, m, (_FILE_MESSAGE, i))
            for i, e in enumerate(f.enum_type):
                name = f"{prefix}.{e.name}"
                self.enums[name] = e
                self.paths[name] = (f.name, (_FILE_ENUM, i))

    def _index_message(
        self, file: str, prefix: str, m: descriptor_pb2.DescriptorProto, path: tuple[int, ...]
    ) -> None:
        name = f"{prefix}.{m.name}"
        self.messages[name] = m
        self.paths[name] = (file, path)
        for i, nested in enumerate(m.nested_type):
            self._index_message(file, name, nested, (*path, _MSG_NESTED, i))
        for i, e in enumerate(m.enum_type):
            self.enums[f"{name}.{e.name}"] = e
            self.paths[f"{name}.{e.name}"] = (file, (*path, _MSG_ENUM, i))

    def comments(self, file: str, path: Iterable[int]) -> Comments:
        return self._comments.get((file, tuple(path)), Comments())

    def is_ours(self, full_name: str) -> bool:
        return full_name.startswith(".bashu.")

    def type_ref(self, full_name: str, package: str = "") -> str:
        """A link to an API type; named without ``package`` when it is the local one."""
        short = full_name.lstrip(".")
        if package and short.startswith(package + "."):
            short = short[len(package) + 1 :]
        if self.is_ours(full_name):
            return f"[`{short}`](#{_anchor(full_name)})"
        return f"`{short}`"

    def field_type(self, field: descriptor_pb2.FieldDescriptorProto, package: str) -> str:
        if field.type in (_FD.TYPE_MESSAGE, _FD.TYPE_ENUM):
            entry = self.messages.get(field.type_name)
            if entry is not None and entry.options.map_entry:
                key, value = entry.field[0], entry.field[1]
                return f"map<{self.field_type(key, package)}, {self.field_type(value, package)}>"
            base = self.type_ref(field.type_name, package)
        else:
            base = f"`{_SCALARS[field.type]}`"
        if field.label == _FD.LABEL_REPEATED:
            return f"repeated {base}"
        if field.proto3_optional:
            return f"optional {base}"
        return base


# --- rendering ----------------------------------------------------------------------------


def _render_service(
    api: Api, file: descriptor_pb2.FileDescriptorProto, index: int, out: list[str]
) -> None:
    service = file.service[index]
    full = f"{file.package}.{service.name}"
    path = (_FILE_SERVICE, index)
    out += [f'<a id="{_anchor(full)}"></a>', "", f"### {service.name}", ""]
    text = api.comments(file.name, path).text
    if text:
        out += [text, ""]
    out += ["| method | request | response |", "|---|---|---|"]
    for method in service.method:
        req = ("stream " if method.client_streaming else "") + api.type_ref(
            method.input_type, file.package
        )
        resp = ("stream " if method.server_streaming else "") + api.type_ref(
            method.output_type, file.package
        )
        link = f"[{method.name}](#{_anchor(f'{full}.{method.name}')})"
        out.append(f"| {link} | {req} | {resp} |")
    out.append("")
    for i, method in enumerate(service.method):
        req = ("stream " if method.client_streaming else "") + api.type_ref(
            method.input_type, file.package
        )
        resp = ("stream " if method.server_streaming else "") + api.type_ref(
            method.output_type, file.package
        )
        out += [
            f'<a id="{_anchor(f"{full}.{method.name}")}"></a>',
            "",
            f"#### {service.name}.{method.name}",
            "",
            f"`rpc {method.name}` ({req}) returns ({resp})",
            "",
        ]
        text = api.comments(file.name, (*path, _SERVICE_METHOD, i)).text
        out += [text or "_No comment in the proto._", ""]


def _render_message(api: Api, full: str, package: str, out: list[str]) -> None:
    message = api.messages[full]
    file, path = api.paths[full]
    short = full.lstrip(".")
    out += [f'<a id="{_anchor(full)}"></a>', "", f"#### {short.split('.', 3)[3]}", ""]
    text = api.comments(file, path).text
    if text:
        out += [text, ""]
    if not message.field:
        out += ["_No fields._", ""]
    else:
        out += ["| field | type | description |", "|---|---|---|"]
        for i, field in enumerate(message.field):
            desc = _cell(api.comments(file, (*path, _MSG_FIELD, i)).text)
            if field.HasField("oneof_index") and not field.proto3_optional:
                oneof = message.oneof_decl[field.oneof_index].name
                desc = f"_oneof `{oneof}`._ {desc}".rstrip()
            out.append(
                f"| `{field.name}` = {field.number} | {api.field_type(field, package)} | {desc} |"
            )
        out.append("")
    for nested in message.nested_type:
        if not nested.options.map_entry:
            _render_message(api, f"{full}.{nested.name}", package, out)
    for enum in message.enum_type:
        _render_enum(api, f"{full}.{enum.name}", out)


def _render_enum(api: Api, full: str, out: list[str]) -> None:
    enum = api.enums[full]
    file, path = api.paths[full]
    short = full.lstrip(".")
    out += [f'<a id="{_anchor(full)}"></a>', "", f"#### {short.split('.', 3)[3]} (enum)", ""]
    text = api.comments(file, path).text
    if text:
        out += [text, ""]
    if full == ERROR_ENUM:
        out += ["The values are listed in the [error reasons](#error-reasons) table.", ""]
        return
    out += ["| value | number | description |", "|---|---|---|"]
    for i, value in enumerate(enum.value):
        desc = _cell(api.comments(file, (*path, _ENUM_VALUE, i)).text)
        out.append(f"| `{value.name}` | {value.number} | {desc} |")
    out.append("")


def _render_errors(api: Api, out: list[str]) -> None:
    enum = api.enums.get(ERROR_ENUM)
    if enum is None:
        raise DocsError(f"{ERROR_ENUM.lstrip('.')} is not defined")
    file, path = api.paths[ERROR_ENUM]
    out += [
        '<a id="error-reasons"></a>',
        "",
        "## Error reasons",
        "",
        api.comments(file, path).text,
        "",
        "| reason | gRPC code | when |",
        "|---|---|---|",
    ]
    for i, value in enumerate(enum.value):
        if value.number == 0:
            continue
        comments = api.comments(file, (*path, _ENUM_VALUE, i))
        for heading in comments.detached:
            # The enum groups reasons under "--- Area ---" comments; keep the groups.
            title = heading.strip("- ").strip()
            if title:
                out.append(f"| **{_cell(title)}** | | |")
        code, sep, rest = comments.text.partition(":")
        if not sep or code.strip() not in _GRPC_CODES:
            raise DocsError(
                f"{value.name}: the comment must start with the gRPC code, e.g. 'NOT_FOUND: …'"
            )
        reason = value.name.removeprefix(ERROR_PREFIX)
        out.append(f"| `{reason}` | {code.strip()} | {_cell(rest.strip())} |")
    out.append("")


def render(fds: descriptor_pb2.FileDescriptorSet) -> str:
    """The whole page for ``fds``."""
    api = Api(fds)
    by_package: dict[str, list[descriptor_pb2.FileDescriptorProto]] = {}
    for f in api.files:
        by_package.setdefault(f.package, []).append(f)
    # The order a reader meets the market in; shared types last; anything new after.
    order = {name: i for i, name in enumerate(PACKAGE_ORDER)}
    packages = dict(
        sorted(by_package.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    )
    out = [
        "# API reference",
        "",
        "<!-- Generated by scripts/gendocs.py from the comments in proto/. Do not edit:",
        "     change the .proto comments and run `python scripts/gendocs.py`. -->",
        "",
        "Every service is gRPC (protobuf, `proto3`). Callers authenticate with",
        "`authorization: Bearer <API key>` metadata; peer regions sign their calls",
        "(see `FederationService`). A failed call carries a `google.rpc.Status` whose",
        "`ErrorInfo.reason` is one of the [error reasons](#error-reasons). Resource",
        "names, `page_size`/`page_token` and `request_id` follow the Google AIPs.",
        "",
        "## Contents",
        "",
    ]
    for package, files in packages.items():
        out.append(f"- [`{package}`](#{_anchor(package)})")
        for f in files:
            for s in f.service:
                out.append(f"  - [{s.name}](#{_anchor(f'{package}.{s.name}')})")
    out += ["- [Error reasons](#error-reasons)", ""]
    for package, files in packages.items():
        out += [f'<a id="{_anchor(package)}"></a>', "", f"## {package}", ""]
        for f in files:
            intro = api.comments(f.name, (_FILE_PACKAGE,)).text
            out += [f"Source: `proto/{f.name}`", ""]
            if intro:
                out += [intro, ""]
        for f in files:
            for i in range(len(f.service)):
                _render_service(api, f, i, out)
        messages = [f".{package}.{m.name}" for f in files for m in f.message_type]
        enums = [f".{package}.{e.name}" for f in files for e in f.enum_type]
        if messages:
            out += [f"### Messages of {package}", ""]
            for name in messages:
                _render_message(api, name, package, out)
        if enums:
            out += [f"### Enums of {package}", ""]
            for name in enums:
                _render_enum(api, name, out)
    _render_errors(api, out)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


def check(doc: Path = API_DOC, proto_root: Path = PROTO_ROOT) -> list[str]:
    """Lines describing how ``doc`` differs from what ``proto_root`` generates."""
    fresh = render(load_descriptors(proto_root))
    current = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if fresh == current:
        return []
    diff = list(
        difflib.unified_diff(
            current.splitlines(), fresh.splitlines(), str(doc), "generated", lineterm="", n=1
        )
    )
    head = diff[:40] + ([f"… {len(diff) - 40} more lines"] if len(diff) > 40 else [])
    return [f"{doc} is stale", *head]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if docs/api.md is stale"
    )
    parser.add_argument("--out", type=Path, default=API_DOC, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.out)
            if problems:
                print("\n".join(problems), file=sys.stderr)
                print("run: python scripts/gendocs.py", file=sys.stderr)
                return 1
            print(f"{args.out.name} is up to date ({len(proto_files())} .proto files)")
            return 0
        args.out.write_text(render(load_descriptors()), encoding="utf-8")
    except DocsError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {args.out} from {len(proto_files())} .proto files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
