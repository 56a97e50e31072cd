"""What every CLI command shares: one-line errors, exit codes, the console."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import click
from rich.console import Console

__all__ = ["console", "err_console", "fail", "run_cli"]

console = Console()
err_console = Console(stderr=True)

# Exception types whose message is meant for the user: printed as one line, exit 1.
# Imported lazily by name so the CLI starts fast and the SDK-only parts do not pull in
# the node's modules.
_EXPECTED = (
    "services.errors.ConfigError",
    "services.errors.BashuError",
    "clients.sdk.errors.BashuRpcError",
    "clients.sdk.errors.VerificationError",
    "ledger.errors.LedgerError",
)


def _is_expected(exc: BaseException) -> bool:
    for klass in type(exc).__mro__:
        if f"{klass.__module__}.{klass.__qualname__}" in _EXPECTED:
            return True
    return False


def fail(message: str, code: int = 1) -> None:
    """Print one error line and leave with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def run_cli(cli: click.Group, argv: list[str] | None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cli.main(args=argv, prog_name="bashu", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        if _is_expected(exc):
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            return 1
        raise
    return 0


def echo_json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


# Period ids of every cadence a node may be configured with: a month (2026-11), an ISO
# week (2026-W48), or a fixed period's start (2026-11-28 or 2026-11-28T1300). Which
# one a node accepts is its configuration's business; the node names a wrong one.
_PERIOD_ID = re.compile(r"\d{4}-(\d{2}|W\d{2}|\d{2}-\d{2}(T\d{4})?)")


def period_id(value: str, param_hint: str = "--period") -> str:
    """A period id (``regions/x/periods/`` prefix dropped), checked for its shape."""
    if value.startswith("regions/"):
        value = value.rsplit("/", 1)[-1]
    if not _PERIOD_ID.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a period id (e.g. 2026-11, 2026-W48, 2026-11-28T1300)",
            param_hint=param_hint,
        )
    return value
