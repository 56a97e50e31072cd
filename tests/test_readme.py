"""Every command the README shows is run, in order, and its output is checked.

The README's fenced ``sh`` blocks (and ``python`` blocks, which use the same shell
variables) run as ONE bash script, ``set -euo pipefail``, in a fresh directory where
``.venv`` (and ``node_modules``) link to this checkout's, exactly as a reader runs
them from the repository root. A marker comment on the line before a block changes
how it runs:

* ``<!-- readme-test: background -->`` — a long-running command (``bashu node
  serve``): started in the background; the script waits for its "listening" line and
  stops it with SIGTERM at the end (it must exit 0).
* ``<!-- readme-test: skip REASON -->`` — shown but not run here (``make test``
  would run this suite inside itself); the reason must be given.
* ``<!-- readme-test: requires PATH -->`` — run only when PATH (relative to the
  repository) exists, e.g. ``node_modules/.bin/buf`` after ``npm ci``; CI has it.

A ``text`` block right after a command block is the output the reader should see:
each of its lines must appear, in order, in the real output once volatile tokens
(keys, hashes, ids, numbers, times) and table padding are normalised. The only
rewrite of the README's text is the port: ``50051`` becomes a free port, so the test
never collides with a node already running on the machine.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
PORT = "50051"
MARKER = re.compile(r"<!--\s*readme-test:\s*(\w+)\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
RUN_LANGS = {"sh", "python"}


@dataclass
class Block:
    lang: str
    body: str
    line: int  # of the opening fence, 1-based
    mode: str = "run"  # run | background | skip | requires
    reason: str = ""
    expected: str | None = None


def parse(text: str) -> list[Block]:
    """The README's fenced blocks to run, each with its marker and expected output."""
    fenced: list[tuple[Block, bool]] = []  # (block, only blank lines since the last one)
    lines = text.splitlines()
    i, last_end = 0, -10
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"README line {i + 1}: unclosed code block"
        block = Block(fence.group(1), "\n".join(lines[i + 1 : end]), i + 1)
        before = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
        marker = MARKER.fullmatch(before)
        if marker:
            block.mode, block.reason = marker.group(1), marker.group(2)
        adjacent = all(not ln.strip() for ln in lines[last_end + 1 : i])
        fenced.append((block, adjacent))
        last_end = end
        i = end + 1
    blocks: list[Block] = []
    for n, (block, adjacent) in enumerate(fenced):
        previous = fenced[n - 1][0] if n else None
        if block.lang == "text" and adjacent and previous is not None:
            if previous.lang in RUN_LANGS:
                previous.expected = block.body
            continue
        if block.lang in RUN_LANGS:
            modes = {"run", "background", "skip", "requires"}
            assert block.mode in modes, f"line {block.line}: {block.mode}"
            if block.mode == "requires" and (REPO_ROOT / block.reason).exists():
                block.mode = "run"
            assert block.mode != "skip" or block.reason, f"line {block.line}: skip needs a reason"
            blocks.append(block)
    return blocks


def script(blocks: list[Block], port: str) -> str:
    """One bash script running the blocks in order, output split by markers."""
    out = [
        "set -euo pipefail",
        # Absolute: the README may cd; the test looks for these files here.
        'README_DIR="$PWD"',
        "BG_PIDS=()",
        "stop_background() {",
        '  for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done',
        '  for p in "${BG_PIDS[@]}"; do',
        '    rc="$README_DIR/.readme-bg-$p.rc"',
        '    if wait "$p"; then echo 0 > "$rc"; else echo $? > "$rc"; fi',
        "  done",
        "}",
        "trap stop_background EXIT",
    ]
    for n, block in enumerate(blocks):
        body = block.body.replace(PORT, port)
        out.append(f"printf '\\n@@readme-block {n}@@\\n'")
        if block.mode in {"skip", "requires"}:
            continue
        if block.lang == "python":
            out += ["python - <<'README_PY'", body, "README_PY"]
        elif block.mode == "background":
            command = body.strip()
            assert "\n" not in command, f"line {block.line}: a background block is one command"
            log = f'"$README_DIR/.readme-bg-{n}.log"'
            out += [
                f"{command} > {log} 2>&1 &",
                "BG_PIDS+=($!)",
                "for _ in $(seq 600); do",
                f'  grep -q "listening on" {log} && break',
                f'  kill -0 "$!" 2>/dev/null || {{ cat {log}; exit 1; }}',
                "  sleep 0.1",
                "done",
                f'grep -q "listening on" {log} || {{ cat {log}; exit 1; }}',
                f"cat {log}",
            ]
        else:
            out.append(body)
    out.append("printf '\\n@@readme-end@@\\n'")
    return "\n".join(out) + "\n"


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def run_readme(work: Path, text: str | None = None) -> tuple[list[Block], list[str], int, str]:
    """Run the README in ``work``: (blocks, output per block, exit code, all output)."""
    blocks = parse(text if text is not None else README.read_text(encoding="utf-8"))
    for name in (".venv", "node_modules", "package.json", "package-lock.json"):
        if (REPO_ROOT / name).exists():
            (work / name).symlink_to(REPO_ROOT / name)
    (work / "readme.sh").write_text(script(blocks, free_port()), encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BASHU_", "OTEL_", "VIRTUAL_ENV", "PYTHON"))
    }
    env["COLUMNS"] = "100"
    res = subprocess.run(
        ["bash", "readme.sh"],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    parts = re.split(r"\n?@@readme-block \d+@@\n", res.stdout.split("@@readme-end@@")[0])
    return blocks, parts[1:], res.returncode, res.stdout


def skeleton(line: str) -> str:
    """A line with what changes from run to run taken out."""
    line = re.sub(r"[─━═]+", "─", line)
    # Any token holding a digit: keys, ids, hashes, sizes, times, amounts.
    line = re.sub(r"[A-Za-z0-9+/_=-]*[0-9][A-Za-z0-9+/_=-]*", "#", line)
    return re.sub(r"\s+", " ", line).strip()


def missing_lines(expected: str, actual: str) -> list[str]:
    """Expected lines not found, in order, in the actual output."""
    have = [skeleton(line) for line in actual.splitlines()]
    missing: list[str] = []
    pos = 0
    for line in expected.splitlines():
        want = skeleton(line)
        if not want or want == "…":
            continue
        try:
            pos = have.index(want, pos) + 1
        except ValueError:
            missing.append(line)
    return missing


def test_readme_blocks_are_marked_sparingly() -> None:
    blocks = parse(README.read_text(encoding="utf-8"))
    skipped = [b for b in blocks if b.mode == "skip"]
    assert len(skipped) <= 3, [b.line for b in skipped]
    assert any(b.mode == "background" for b in blocks)
    assert sum(b.mode == "run" for b in blocks) >= 8


def test_every_readme_command_runs_and_shows_what_the_readme_says(tmp_path: Path) -> None:
    blocks, outputs, code, everything = run_readme(tmp_path)
    failed = len(outputs) - 1
    assert code == 0, (
        f"README block at line {blocks[max(failed, 0)].line} failed (exit {code}):\n"
        + everything[-4000:]
    )
    assert len(outputs) == len(blocks)
    for block, output in zip(blocks, outputs, strict=True):
        if block.expected is None or block.mode in {"skip", "requires"}:
            continue
        missing = missing_lines(block.expected, output)
        assert not missing, (
            f"README line {block.line}: output differs; not found:\n"
            + "\n".join(missing)
            + "\n--- actual output:\n"
            + output
        )
    rcs = sorted(tmp_path.glob(".readme-bg-*.rc"))
    assert rcs, "the background node was not stopped"
    for rc in rcs:
        assert rc.read_text().strip() == "0", f"a background command exited {rc.read_text()}"


def test_parse_attaches_markers_and_outputs() -> None:
    text = "\n".join(
        [
            "```sh",
            "echo one",
            "```",
            "",
            "```text",
            "one",
            "```",
            "<!-- readme-test: skip needs the whole suite -->",
            "```sh",
            "make test",
            "```",
            "words between",
            "```text",
            "not an output of make test",
            "```",
        ]
    )
    first, second = parse(text)
    assert (first.body, first.expected, first.mode) == ("echo one", "one", "run")
    assert (second.mode, second.reason, second.expected) == ("skip", "needs the whole suite", None)
    assert (
        missing_lines("party 'a' registered as 3f2a (x)", "party 'a' registered as 9bc1 (x)") == []
    )
    assert missing_lines("listed 2 products", "listed 2 licences") == ["listed 2 products"]


def test_a_failing_command_fails_the_run(tmp_path: Path) -> None:
    _, outputs, code, _ = run_readme(tmp_path, "```sh\ntrue\n```\n\n```sh\nfalse\n```\n")
    assert code != 0
    assert len(outputs) == 2


if __name__ == "__main__":
    # Refresh the README's outputs: run it and print what each block printed.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        blocks, outputs, code, _ = run_readme(Path(tmp))
        for block, output in zip(blocks, outputs, strict=False):
            print(f"==== README line {block.line} ({block.mode})")
            print(output.rstrip())
        print(f"==== exit {code}")
