"""row versions on members and branches, bumped by the database on every update

The bot keeps members and branches in a per-process cache (`bot.directory`) and checks each
entry against its row's version in the statement it reads anyway. A trigger bumps the
version, so every write counts: the ORM's, a bulk UPDATE, another process's, a hand-made fix.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("members", "branches")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            "CREATE FUNCTION bump_row_version() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$"
        )
    for table in TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="0", nullable=False))
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {table}_version BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION bump_row_version()"
            )
        else:
            # The WHEN clause stops the trigger's own UPDATE from firing it again.
            op.execute(
                f"CREATE TRIGGER {table}_version AFTER UPDATE ON {table} "
                "FOR EACH ROW WHEN NEW.version = OLD.version "
                f"BEGIN UPDATE {table} SET version = OLD.version + 1 WHERE id = NEW.id; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER {table}_version ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_version")
        op.execute(f"ALTER TABLE {table} DROP COLUMN version")
    if postgresql:
        op.execute("DROP FUNCTION bump_row_version()")
