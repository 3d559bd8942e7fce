"""Imports every module that defines tables, so the metadata is complete (Alembic, tests)."""

from core import models
from core.ledger import tables as ledger_tables  # noqa: F401

__all__ = ["models"]
