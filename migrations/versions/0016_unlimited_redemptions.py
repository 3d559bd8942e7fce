"""redemptions remember whether they took a share of the item's stock

Codes for an unlimited item no longer update the item's row (`reserved`) when issued,
confirmed, cancelled or expired: needless writes, and a queue on a popular item. A code
says whether it reserved, so one issued before a merchant counted the stock gives nothing
back it never took. Codes issued before this revision all reserved.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "redemptions",
        sa.Column("reserved", sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("redemptions") as batch:
        batch.drop_column("reserved")
