"""docs/api.md is generated from the proto comments and never drifts from them.

Runs ``scripts/gendocs.py`` in process: the committed page equals what the protos
generate; every RPC, message, field and error reason of the API is on it with its
comment; and the check notices a proto comment that changed after the page was
written (by generating from a modified copy of ``proto/``).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_gendocs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bashu_gendocs", REPO_ROOT / "scripts" / "gendocs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


gendocs = _load_gendocs()


@pytest.fixture(scope="module")
def fds() -> descriptor_pb2.FileDescriptorSet:
    result: descriptor_pb2.FileDescriptorSet = gendocs.load_descriptors()
    return result


@pytest.fixture(scope="module")
def page(fds: descriptor_pb2.FileDescriptorSet) -> str:
    text: str = gendocs.render(fds)
    return text


def test_committed_page_is_current() -> None:
    problems = gendocs.check()
    assert problems == [], "\n".join(["run scripts/gendocs.py", *problems])


def test_every_rpc_and_message_is_documented(
    fds: descriptor_pb2.FileDescriptorSet, page: str
) -> None:
    ours = [f for f in fds.file if f.package.startswith("bashu.")]
    methods = [(f.package, s.name, m) for f in ours for s in f.service for m in s.method]
    assert len(methods) > 50
    for package, service, method in methods:
        assert f"#### {service}.{method.name}\n" in page
        assert f'<a id="{package.replace(".", "-")}-{service.lower()}-' in page
    for f in ours:
        for message in f.message_type:
            assert f'<a id="{f.package.replace(".", "-")}-{message.name.lower()}"></a>' in page
            for field in message.field:
                assert f"| `{field.name}` = {field.number} |" in page


def test_comments_reach_the_page(page: str) -> None:
    # A method comment, a field comment and an enum value comment, verbatim from proto/.
    assert "Returns the latest signed checkpoint (optionally at least of a given size)." in page
    assert "Amount in minor units of `currency_code` (fen for CNY: 1 yuan = 100 fen)." in page
    assert "| `QUOTA_EXHAUSTED` | RESOURCE_EXHAUSTED |" in page
    # Section headings of the error table survive as group rows.
    assert "| **Peer authentication (federation)** | | |" in page


def test_every_error_reason_is_in_the_table(fds: descriptor_pb2.FileDescriptorSet) -> None:
    page = gendocs.render(fds)
    (errors,) = [f for f in fds.file if f.name == "bashu/common/v1/errors.proto"]
    (enum,) = [e for e in errors.enum_type if e.name == "ErrorReason"]
    table = page.split('<a id="error-reasons"></a>', 1)[1]
    for value in enum.value[1:]:
        assert f"| `{value.name.removeprefix('ERROR_REASON_')}` |" in table


def test_check_notices_a_changed_comment(tmp_path: Path) -> None:
    protos = tmp_path / "proto"
    shutil.copytree(REPO_ROOT / "proto", protos)
    ledger = protos / "bashu" / "ledger" / "v1" / "ledger.proto"
    text = ledger.read_text(encoding="utf-8")
    old = "Returns the latest signed checkpoint"
    assert old in text
    ledger.write_text(text.replace(old, "Returns the newest signed checkpoint"), encoding="utf-8")
    problems = gendocs.check(REPO_ROOT / "docs" / "api.md", protos)
    assert problems
    assert problems[0].endswith("is stale")
    assert any("newest signed checkpoint" in line for line in problems)


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "api.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert gendocs.main(["--check", "--out", str(stale)]) == 1
    assert gendocs.main(["--out", str(stale)]) == 0
    assert gendocs.main(["--check", "--out", str(stale)]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_an_error_reason_without_its_code_is_refused(
    fds: descriptor_pb2.FileDescriptorSet,
) -> None:
    broken = descriptor_pb2.FileDescriptorSet()
    broken.CopyFrom(fds)
    (errors,) = [f for f in broken.file if f.name == "bashu/common/v1/errors.proto"]
    for loc in errors.source_code_info.location:
        if loc.leading_comments.startswith(" UNAUTHENTICATED: no `authorization"):
            loc.leading_comments = " no code here\n"
    with pytest.raises(gendocs.DocsError, match="API_KEY_MISSING"):
        gendocs.render(broken)
