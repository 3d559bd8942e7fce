"""stats: indexes for a branch's figures, the public-thanks opt-in, live screens

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-03 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_branch_created_at", ["branch_id", "created_at"], unique=False
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("thanked_in_public", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            "ix_members_branch_created_at", ["branch_id", "created_at"], unique=False
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("thanked_in_public", server_default=None)
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_transactions_kind_created_at",
            ["kind", "created_at", "order_id"],
            unique=False,
        )
    op.create_table(
        "live_screens",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rotated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_live_screens_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_live_screens")),
        sa.UniqueConstraint("token", name=op.f("uq_live_screens_token")),
    )


def downgrade() -> None:
    op.drop_table("live_screens")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transactions_kind_created_at")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_branch_created_at")
        batch_op.drop_column("thanked_in_public")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_branch_created_at")
