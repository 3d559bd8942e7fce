"""several branches: memberships, neighbouring branches, a coordinator's working branch

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("since", core.db.UTCDateTime(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_memberships_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_memberships_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["members.id"], name=op.f("fk_memberships_added_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "member_id", "branch_id", name=op.f("uq_memberships_member_id_branch_id")
        ),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_branch_id"), ["branch_id"], unique=False)
    op.create_table(
        "branch_neighbours",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("neighbour_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_branch_neighbours_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["neighbour_id"],
            ["branches.id"],
            name=op.f("fk_branch_neighbours_neighbour_id_branches"),
        ),
        sa.PrimaryKeyConstraint("branch_id", "neighbour_id", name=op.f("pk_branch_neighbours")),
    )
    # Added and dropped in place, never by rebuilding the table (SQLite's batch mode would):
    # dropping `branches` breaks the foreign keys of every row that refers to a branch.
    op.add_column(
        "branches",
        sa.Column("match_neighbours", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("members", sa.Column("working_branch_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE members DROP COLUMN working_branch_id")
    op.execute("ALTER TABLE branches DROP COLUMN match_neighbours")
    op.drop_table("branch_neighbours")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_branch_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_member_id"))
    op.drop_table("memberships")
