"""The README's first command: the demo must finish with every check held."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_green(tmp_path: Path) -> None:
    res = subprocess.run(
        [str(Path(sys.executable).with_name("bashu")), "demo", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "all checks held" in res.stdout
    for region in ("sc", "cq", "sg"):
        assert (tmp_path / region / "node.toml").exists()
