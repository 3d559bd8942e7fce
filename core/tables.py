"""Imports every module that defines tables, so the metadata is complete (Alembic, tests)."""

from core import consent, models
from core.broadcasts import tables as broadcast_tables  # noqa: F401
from core.ledger import tables as ledger_tables  # noqa: F401
from core.market import tables as market_tables  # noqa: F401
from core.rewards import tables as reward_tables  # noqa: F401

__all__ = ["consent", "models"]
