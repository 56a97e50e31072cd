"""Real ``bashu`` processes for operations tests: the CLI as an operator runs it and
``bashu node serve`` as a separate process (started, waited for, stopped with SIGTERM).

    with served(config) as node:
        client = clients.connect(node.address, key)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BASHU = str(Path(sys.executable).with_name("bashu"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as it is: any exit code."""
    return subprocess.run(
        [BASHU, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def bashu(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI; return stdout; fail the test with stderr when it exits non-zero."""
    res = run(*args, env=env)
    assert res.returncode == 0, f"bashu {' '.join(args)} exited {res.returncode}:\n{res.stderr}"
    return res.stdout


def add_party(config: Path, name: str, roles: str) -> tuple[str, str]:
    """Register a party with ``bashu admin party add``; return (its id, its API key)."""
    out = bashu("admin", "party", "add", "--config", str(config), "--name", name, "--roles", roles)
    match = re.search(r"registered as (\S+)", out)
    assert match, out
    return match.group(1), out.strip().splitlines()[-1]


@dataclass
class ServeProcess:
    config: Path
    proc: subprocess.Popen[str]
    address: str
    stderr_lines: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM, then the node drains and must exit 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.config} did not stop on SIGTERM") from None
        finally:
            for reader in self.readers:
                reader.join(timeout=10)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
        assert self.proc.returncode == 0, "".join(self.stderr_lines[-30:])


def start(config: Path, *args: str, env: dict[str, str] | None = None) -> ServeProcess:
    proc = subprocess.Popen(
        [BASHU, "node", "serve", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    errors: list[str] = []
    # Drained continuously so a chatty node never blocks on a full pipe.
    err_reader = threading.Thread(target=lambda: errors.extend(proc.stderr or ()), daemon=True)
    err_reader.start()
    line = proc.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if match is None:
        proc.kill()
        proc.wait()
        err_reader.join(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        raise AssertionError(f"node did not start: {line}{''.join(errors)}")
    out_reader = threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True)
    out_reader.start()
    return ServeProcess(config, proc, match.group(1), errors, [err_reader, out_reader])


@contextmanager
def served(config: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    node = start(config, *args, env=env)
    try:
        yield node
    finally:
        node.stop()
