"""market days: broadcasts, deliveries, market events, units, slots, bookings, shifts;
members' announcements opt-out, the outbox's priority lanes

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("fallback_language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("photo_file_id", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("send_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("expanded_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["members.id"], name=op.f("fk_broadcasts_author_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_broadcasts_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sa.UniqueConstraint("key", name=op.f("uq_broadcasts_key")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcasts_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index("ix_broadcasts_status_send_at", ["status", "send_at"], unique=False)

    op.create_table(
        "market_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("venue_address", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shifts_confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_market_events_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["members.id"], name=op.f("fk_market_events_created_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_events")),
        sa.UniqueConstraint("key", name=op.f("uq_market_events_key")),
    )
    with op.batch_alter_table("market_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_events_branch_id"), ["branch_id"], unique=False)

    op.create_table(
        "broadcast_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_deliveries_broadcast_id_broadcasts"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_broadcast_deliveries_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_broadcast_deliveries_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_deliveries")),
        sa.UniqueConstraint(
            "broadcast_id", "member_id", name=op.f("uq_broadcast_deliveries_broadcast_id_member_id")
        ),
    )
    with op.batch_alter_table("broadcast_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_deliveries_outbox_id"), ["outbox_id"], unique=False
        )

    op.create_table(
        "broadcast_responses",
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_responses_broadcast_id_broadcasts"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_broadcast_responses_member_id_members")
        ),
        sa.PrimaryKeyConstraint("broadcast_id", "member_id", name=op.f("pk_broadcast_responses")),
    )
    op.create_table(
        "market_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("organiser", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("slot_minutes", sa.Integer(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["market_events.id"], name=op.f("fk_market_units_event_id_market_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_units")),
    )
    with op.batch_alter_table("market_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_units_event_id"), ["event_id"], unique=False)

    op.create_table(
        "market_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_market_shifts_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["market_units.id"], name=op.f("fk_market_shifts_unit_id_market_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_shifts")),
        sa.UniqueConstraint(
            "unit_id",
            "member_id",
            "starts_at",
            name=op.f("uq_market_shifts_unit_id_member_id_starts_at"),
        ),
    )
    with op.batch_alter_table("market_shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_shifts_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_market_shifts_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "market_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["market_units.id"], name=op.f("fk_market_slots_unit_id_market_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_slots")),
        sa.UniqueConstraint("unit_id", "starts_at", name=op.f("uq_market_slots_unit_id_starts_at")),
    )
    op.create_table(
        "market_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("booked_by_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_day", sa.Boolean(), nullable=False),
        sa.Column("reminded_hour", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booked_by_id"], ["members.id"], name=op.f("fk_market_bookings_booked_by_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["checked_in_by_id"],
            ["members.id"],
            name=op.f("fk_market_bookings_checked_in_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["market_events.id"],
            name=op.f("fk_market_bookings_event_id_market_events"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_market_bookings_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["market_slots.id"], name=op.f("fk_market_bookings_slot_id_market_slots")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["market_units.id"], name=op.f("fk_market_bookings_unit_id_market_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_bookings")),
        sa.UniqueConstraint("event_id", "number", name=op.f("uq_market_bookings_event_id_number")),
        sa.UniqueConstraint("key", name=op.f("uq_market_bookings_key")),
        sa.UniqueConstraint("token", name=op.f("uq_market_bookings_token")),
    )
    with op.batch_alter_table("market_bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_bookings_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_market_bookings_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index("ix_market_bookings_slot_status", ["slot_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_market_bookings_unit_id"), ["unit_id"], unique=False)

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("announcements", sa.Boolean(), server_default="1", nullable=False)
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "ix_outbox_lane", "outbox", ["status", "priority", "not_before", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_lane", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("priority")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("announcements")

    with op.batch_alter_table("market_bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_bookings_unit_id"))
        batch_op.drop_index("ix_market_bookings_slot_status")
        batch_op.drop_index(batch_op.f("ix_market_bookings_member_id"))
        batch_op.drop_index(batch_op.f("ix_market_bookings_event_id"))

    op.drop_table("market_bookings")
    op.drop_table("market_slots")
    with op.batch_alter_table("market_shifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_shifts_unit_id"))
        batch_op.drop_index(batch_op.f("ix_market_shifts_member_id"))

    op.drop_table("market_shifts")
    with op.batch_alter_table("market_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_units_event_id"))

    op.drop_table("market_units")
    op.drop_table("broadcast_responses")
    with op.batch_alter_table("broadcast_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_deliveries_outbox_id"))

    op.drop_table("broadcast_deliveries")
    with op.batch_alter_table("market_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_events_branch_id"))

    op.drop_table("market_events")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcasts_status_send_at")
        batch_op.drop_index(batch_op.f("ix_broadcasts_branch_id"))

    op.drop_table("broadcasts")
