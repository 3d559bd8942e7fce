"""Imports every module that defines tables, so the metadata is complete (Alembic, tests)."""

from core import models

__all__ = ["models"]
