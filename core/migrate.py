"""Bring a database schema to the head revision (or elsewhere) with Alembic."""

from __future__ import annotations

from collections.abc import Mapping

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import PROJECT_ROOT


def include_name(name: str | None, type_: str, parent_names: Mapping[str, str | None]) -> bool:
    """Whether autogenerate compares this object with the models: not the spatial index of
    the volunteers' homes (migration 0006: SQLite's R*Tree and its shadow tables, the GiST
    index on PostgreSQL), which no model describes."""
    return not (name or "").startswith(("volunteer_homes", "ix_volunteer_homes"))


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """The same upgrade from inside a running event loop, over an engine already open.

    The connection goes to the migrations outside a transaction: they open and commit their
    own (on SQLite, foreign keys go off before it begins; see migrations/env.py).
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    async with engine.connect() as connection:

        def run(sync_connection: object) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, revision)

        await connection.run_sync(run)
        await connection.commit()


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    command.current(alembic_config(database_url), verbose=False)
