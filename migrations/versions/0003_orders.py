"""orders: how help was asked for, who pays, cancel keys; family links and invites

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:46:10.600575
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_family_invites_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"], ["members.id"], name=op.f("fk_family_invites_used_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_invites")),
        sa.UniqueConstraint("code", name=op.f("uq_family_invites_code")),
    )
    with op.batch_alter_table("family_invites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_invites_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "family_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("relative_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["members.id"], name=op.f("fk_family_links_ended_by_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_family_links_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["relative_id"], ["members.id"], name=op.f("fk_family_links_relative_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_links")),
        sa.UniqueConstraint(
            "member_id", "relative_id", name=op.f("uq_family_links_member_id_relative_id")
        ),
    )
    with op.batch_alter_table("family_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_links_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_family_links_relative_id"), ["relative_id"], unique=False
        )

    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.create_unique_constraint(batch_op.f("uq_order_events_key"), ["key"])

    # Orders placed before this revision were typed addresses paid by their beneficiary.
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("when_asked", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "place_kind",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="address",
            )
        )
        batch_op.add_column(
            sa.Column(
                "funding",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="own",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("funding")
        batch_op.drop_column("place_kind")
        batch_op.drop_column("when_asked")

    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_order_events_key"), type_="unique")
        batch_op.drop_column("key")

    with op.batch_alter_table("family_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_links_relative_id"))
        batch_op.drop_index(batch_op.f("ix_family_links_member_id"))

    op.drop_table("family_links")
    with op.batch_alter_table("family_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_invites_member_id"))

    op.drop_table("family_invites")
