"""branch policy: welcome hours and a resident overdraft per branch

Every branch gets the default policy (an hour of welcome credit for members who join from
now on, two hours of overdraft for residents). Residents' accounts already open get the
resident overdraft as well: it is a limit, not credit, and without it a resident who joined
before would still wait for a coordinator where a newcomer does not. Members who joined
before get no welcome hours: joining is what earns them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy as it stood when this revision was written (core.ledger.values.BranchPolicy).
WELCOME_MINUTES = 60
RESIDENT_OVERDRAFT = 120


def upgrade() -> None:
    with op.batch_alter_table("ledger_branch_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "welcome_minutes",
                sa.BigInteger(),
                nullable=False,
                server_default=str(WELCOME_MINUTES),
            )
        )
        batch_op.add_column(
            sa.Column(
                "resident_overdraft_limit",
                sa.BigInteger(),
                nullable=False,
                server_default=str(RESIDENT_OVERDRAFT),
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_ledger_branch_settings_welcome_not_negative"), "welcome_minutes >= 0"
        )
        batch_op.create_check_constraint(
            op.f("ck_ledger_branch_settings_resident_limit_not_negative"),
            "resident_overdraft_limit >= 0",
        )
    op.execute(
        sa.text(
            "INSERT INTO ledger_branch_settings"
            " (branch_id, member_overdraft_limit, welcome_minutes, resident_overdraft_limit,"
            " updated_at)"
            " SELECT id, 0, :welcome, :resident, CURRENT_TIMESTAMP FROM branches"
            " WHERE id NOT IN (SELECT branch_id FROM ledger_branch_settings)"
        ).bindparams(welcome=WELCOME_MINUTES, resident=RESIDENT_OVERDRAFT)
    )
    op.execute(
        sa.text(
            "UPDATE ledger_accounts SET overdraft_limit = ("
            "  SELECT CASE WHEN s.resident_overdraft_limit > s.member_overdraft_limit"
            "   THEN s.resident_overdraft_limit ELSE s.member_overdraft_limit END"
            "  FROM ledger_branch_settings s WHERE s.branch_id = ledger_accounts.branch_id)"
            " WHERE kind = 'member'"
            " AND owner_id IN (SELECT id FROM members WHERE is_resident)"
        )
    )


def downgrade() -> None:
    """Back to one limit for all members: residents' accounts return to the member limit,
    unless they already use more of it (then they keep what they have)."""
    op.execute(
        sa.text(
            "UPDATE ledger_accounts SET overdraft_limit = ("
            "  SELECT s.member_overdraft_limit FROM ledger_branch_settings s"
            "  WHERE s.branch_id = ledger_accounts.branch_id)"
            " WHERE kind = 'member'"
            " AND branch_id IN (SELECT branch_id FROM ledger_branch_settings)"
            " AND balance - held >= -("
            "  SELECT s.member_overdraft_limit FROM ledger_branch_settings s"
            "  WHERE s.branch_id = ledger_accounts.branch_id)"
        )
    )
    with op.batch_alter_table("ledger_branch_settings", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_ledger_branch_settings_resident_limit_not_negative"), type_="check"
        )
        batch_op.drop_constraint(
            op.f("ck_ledger_branch_settings_welcome_not_negative"), type_="check"
        )
        batch_op.drop_column("resident_overdraft_limit")
        batch_op.drop_column("welcome_minutes")
