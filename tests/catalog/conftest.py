"""Fixtures: the shared market node (see tests/catalog/market.py)."""

from __future__ import annotations

from tests.catalog.market import market

__all__ = ["market"]
