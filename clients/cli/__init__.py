"""The ``bashu`` command line.

Commands are grouped by who uses them: ``node`` and ``admin`` (operators, acting on
the node's own files and database), ``ledger`` (operators and auditors), ``product``
and ``licence`` (providers, consumers and operators, through a running node), ``data``
and ``usage`` (metered data calls and what they cost), ``federation`` (peers, the
outbox and witnessing), ``settle`` and ``dispute`` (finance: periods, statements,
netting, disputes), ``reconcile`` and ``report`` (finance and providers: reconciliation
with a counterparty; usage, revenue and statement reports). Expected
failures print one line to stderr and exit non-zero; tracebacks are only for bugs.
"""

from __future__ import annotations

import sys

import click

from clients.cli._common import run_cli
from clients.cli.admin import admin
from clients.cli.data import data, usage
from clients.cli.demo import demo
from clients.cli.dispute import dispute
from clients.cli.federation import federation
from clients.cli.ledger import ledger
from clients.cli.licence import licence
from clients.cli.node import node
from clients.cli.product import product
from clients.cli.reconcile import reconcile
from clients.cli.report import report
from clients.cli.settle import settle

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bashu-exchange", prog_name="bashu")
def cli() -> None:
    """Bashu Exchange: a federated marketplace for data elements."""


cli.add_command(node)
cli.add_command(admin)
cli.add_command(ledger)
cli.add_command(demo)
cli.add_command(federation)
cli.add_command(product)
cli.add_command(licence)
cli.add_command(data)
cli.add_command(usage)
cli.add_command(settle)
cli.add_command(dispute)
cli.add_command(reconcile)
cli.add_command(report)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(cli, argv))
