"""figures indexes and team keys: a branch's month of figures read from indexes alone; a
team formed once per idempotency key

`core.stats.branch_figures` reads the requests asked in a period and the service postings
made in it. These indexes hold every column those reads need, so neither database visits an
order, transaction or entry row for them (PostgreSQL's index-only scans, SQLite's covering
indexes); a partial index lists the disputed requests. The entries' index on
`transaction_id` alone gives way to one that starts with it.

Teams get an idempotency key, so a retried last step of /newteam forms one team; the teams
formed before it are keyed by their id.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPUTED = sa.text("disputed_at IS NOT NULL")
ORDERS = ["branch_id", "created_at", "category_id", "beneficiary_id", "status", "volunteer_id"]


def upgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
            )
        )
    op.execute("UPDATE teams SET idempotency_key = 'team:' || CAST(id AS VARCHAR)")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.alter_column("idempotency_key", nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_teams_idempotency_key"), ["idempotency_key"]
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_branch_created_at")
        batch_op.create_index("ix_orders_branch_created_at", [*ORDERS, "id"], unique=False)
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transactions_kind_created_at")
        batch_op.create_index(
            "ix_ledger_transactions_kind_created_at",
            ["kind", "created_at", "order_id", "id"],
            unique=False,
        )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entries_transaction_id_amount",
            ["transaction_id", "amount", "account_id"],
            unique=False,
        )
        batch_op.drop_index("ix_ledger_entries_transaction_id")
    op.create_index(
        "ix_order_progress_disputed",
        "order_progress",
        ["order_id"],
        unique=False,
        sqlite_where=DISPUTED,
        postgresql_where=DISPUTED,
    )


def downgrade() -> None:
    op.drop_index("ix_order_progress_disputed", table_name="order_progress")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_transaction_id", ["transaction_id"], unique=False)
        batch_op.drop_index("ix_ledger_entries_transaction_id_amount")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transactions_kind_created_at")
        batch_op.create_index(
            "ix_ledger_transactions_kind_created_at",
            ["kind", "created_at", "order_id"],
            unique=False,
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_branch_created_at")
        batch_op.create_index(
            "ix_orders_branch_created_at", ["branch_id", "created_at"], unique=False
        )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_teams_idempotency_key"), type_="unique")
        batch_op.drop_column("idempotency_key")
