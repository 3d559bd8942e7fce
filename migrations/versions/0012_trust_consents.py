"""consents: a member's dated consent to keep their phone number or home address

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("given_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_consents_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["members.id"], name=op.f("fk_consents_recorded_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint("member_id", "detail", name=op.f("uq_consents_member_id_detail")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_member_id"), ["member_id"], unique=False)
    # Details kept before consents were recorded: the member gave them when asked.
    op.execute(
        "INSERT INTO consents (member_id, detail, given_at) "
        "SELECT id, 'phone', created_at FROM members WHERE phone IS NOT NULL"
    )
    op.execute(
        "INSERT INTO consents (member_id, detail, given_at) "
        "SELECT id, 'address', created_at FROM members WHERE address IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_member_id"))
    op.drop_table("consents")
