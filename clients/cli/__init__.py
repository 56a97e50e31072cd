"""The ``bashu`` command line.

Commands are grouped by who uses them: ``node`` and ``admin`` (operators, acting on
the node's own files and database), ``ledger`` (operators and auditors). Expected
failures print one line to stderr and exit non-zero; tracebacks are only for bugs.
"""

from __future__ import annotations

import sys

import click

from clients.cli._common import run_cli
from clients.cli.admin import admin
from clients.cli.demo import demo
from clients.cli.ledger import ledger
from clients.cli.node import node

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bashu-exchange", prog_name="bashu")
def cli() -> None:
    """Bashu Exchange: a federated marketplace for data elements."""


cli.add_command(node)
cli.add_command(admin)
cli.add_command(ledger)
cli.add_command(demo)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(cli, argv))
