"""Regenerate the Python protobuf and gRPC code in ``gen/`` from ``proto/``.

The generated code is committed; this script is the only thing that writes it, and
``--check`` proves it has not drifted from the ``.proto`` files (CI and
``tests/test_proto_drift.py`` run the check).

Usage::

    python scripts/genproto.py           # rewrite gen/bashu from proto/
    python scripts/genproto.py --check   # exit 1 with a diff summary if gen/ is stale

It runs ``python -m grpc_tools.protoc`` with the include path ``proto`` plus the
well-known types bundled with grpc_tools, writing ``--python_out``, ``--pyi_out`` and
``--grpc_python_out``, so that modules are ``bashu.<area>.v1.<file>_pb2`` (and
``_pb2_grpc``) under ``gen/``. It then adds an ``__init__.py`` to every generated
package directory and an empty ``py.typed`` marker to ``gen/bashu``.

Output is deterministic for a given grpcio-tools version: the ``.proto`` files are
passed in sorted order and the generated files embed the generator's version, which
is why ``gen/bashu/__init__.py`` records it and ``--check`` names a version mismatch
before it lists changed files.

It does not read or write anything outside ``proto/`` and ``gen/`` (other than a
temporary directory) and it never edits generated files by hand.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import importlib.resources
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
GEN_ROOT = REPO_ROOT / "gen"
PACKAGE = "bashu"

_IGNORED_PARTS = frozenset({"__pycache__"})
_IGNORED_SUFFIXES = frozenset({".pyc", ".pyo"})
_MAX_DIFFED_FILES = 3
_MAX_DIFF_LINES = 40


class GenerationError(RuntimeError):
    """protoc failed; ``output`` holds its diagnostics."""

    def __init__(self, returncode: int, output: str) -> None:
        super().__init__(f"grpc_tools.protoc exited with {returncode}:\n{output}")
        self.returncode = returncode
        self.output = output


def generator_version() -> str:
    """The installed grpcio-tools version, which the generated code embeds."""
    return importlib.metadata.version("grpcio-tools")


def package_docstring() -> str:
    """Content of the generated ``gen/bashu/__init__.py``."""
    return (
        '"""Generated protobuf and gRPC code of the Bashu Exchange API. Do not edit.\n'
        "\n"
        "Regenerate with `python scripts/genproto.py` from proto/.\n"
        f"Generator: grpcio-tools {generator_version()}.\n"
        '"""\n'
    )


def proto_files(proto_root: Path = PROTO_ROOT) -> list[str]:
    """Every ``.proto`` file under ``proto_root``, relative, POSIX-style, sorted."""
    return sorted(p.relative_to(proto_root).as_posix() for p in proto_root.rglob("*.proto"))


def _well_known_include() -> Path:
    return Path(str(importlib.resources.files("grpc_tools") / "_proto"))


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> None:
    """Generate the code for every ``.proto`` under ``proto_root`` into ``out_dir``.

    ``out_dir`` must exist; files are written under ``out_dir/bashu``.
    Raises GenerationError if protoc fails.
    """
    files = proto_files(proto_root)
    if not files:
        raise GenerationError(1, f"no .proto files under {proto_root}")
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={proto_root}",
        f"--proto_path={_well_known_include()}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    result = subprocess.run(cmd, cwd=proto_root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GenerationError(result.returncode, result.stdout + result.stderr)
    package_root = out_dir / PACKAGE
    for directory in sorted({package_root, *(p for p in package_root.rglob("*") if p.is_dir())}):
        init = directory / "__init__.py"
        if directory == package_root:
            init.write_text(package_docstring(), encoding="utf-8")
        elif not init.exists():
            init.write_text("", encoding="utf-8")
    (package_root / "py.typed").write_text("", encoding="utf-8")


def snapshot(root: Path) -> dict[str, bytes]:
    """Relative path → content of every file under ``root`` (caches ignored)."""
    if not root.is_dir():
        return {}
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or _IGNORED_PARTS.intersection(rel.parts):
            continue
        if path.suffix in _IGNORED_SUFFIXES:
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def _recorded_generator(package_root: Path) -> str | None:
    init = package_root / "__init__.py"
    if not init.is_file():
        return None
    for line in init.read_text(encoding="utf-8").splitlines():
        if line.startswith("Generator: grpcio-tools "):
            return line.removeprefix("Generator: grpcio-tools ").rstrip(".")
    return None


def _unified(rel: str, old: bytes, new: bytes) -> list[str]:
    try:
        old_text = old.decode("utf-8").splitlines()
        new_text = new.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return [f"  (binary file {rel} differs)"]
    diff = list(
        difflib.unified_diff(
            old_text, new_text, f"gen/{PACKAGE}/{rel}", f"regenerated/{rel}", lineterm=""
        )
    )
    if len(diff) > _MAX_DIFF_LINES:
        diff = [*diff[:_MAX_DIFF_LINES], f"  … {len(diff) - _MAX_DIFF_LINES} more lines"]
    return ["  " + line for line in diff]


def check(gen_root: Path = GEN_ROOT, proto_root: Path = PROTO_ROOT) -> list[str]:
    """Regenerate into a temporary directory and compare with ``gen_root/bashu``.

    Returns human-readable lines describing every difference; empty when ``gen/`` is
    current.
    """
    current_root = gen_root / PACKAGE
    problems: list[str] = []
    recorded = _recorded_generator(current_root)
    installed = generator_version()
    if recorded is not None and recorded != installed:
        problems.append(
            f"gen/ was generated by grpcio-tools {recorded} but {installed} is installed: "
            f"install grpcio-tools=={recorded} or regenerate and commit gen/"
        )
    with tempfile.TemporaryDirectory(prefix="genproto-") as tmp:
        fresh_root = Path(tmp)
        generate(fresh_root, proto_root)
        fresh = snapshot(fresh_root / PACKAGE)
    current = snapshot(current_root)
    added = sorted(fresh.keys() - current.keys())
    removed = sorted(current.keys() - fresh.keys())
    changed = sorted(k for k in fresh.keys() & current.keys() if fresh[k] != current[k])
    problems += [f"missing from gen/: {rel}" for rel in added]
    problems += [f"stale in gen/ (no longer generated): {rel}" for rel in removed]
    problems += [f"differs: {rel}" for rel in changed]
    for rel in changed[:_MAX_DIFFED_FILES]:
        problems += _unified(rel, current[rel], fresh[rel])
    return problems


def regenerate(gen_root: Path = GEN_ROOT, proto_root: Path = PROTO_ROOT) -> None:
    """Replace ``gen_root/bashu`` with freshly generated code.

    Generates into a sibling temporary directory first, so a protoc failure leaves
    the committed code untouched.
    """
    gen_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".genproto-", dir=gen_root) as tmp:
        staging = Path(tmp)
        generate(staging, proto_root)
        target = gen_root / PACKAGE
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging / PACKAGE), str(target))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if gen/ differs from what proto/ generates",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            if problems:
                print("gen/ is out of date with proto/:", file=sys.stderr)
                for line in problems:
                    print(f"  {line}", file=sys.stderr)
                print("run: python scripts/genproto.py", file=sys.stderr)
                return 1
            print(f"gen/ is up to date ({len(proto_files())} .proto files)")
            return 0
        regenerate()
    except GenerationError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"generated gen/{PACKAGE} from {len(proto_files())} .proto files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
