"""homes by skill: SQLite's R*Tree of the volunteers' homes gets a skill axis

`volunteer_homes_by_skill` replaces `volunteer_homes` (migration 0006): one point per skill
of each volunteer profile with a place on the map, its id `member_id * 64 + skill`, so one
R*Tree search takes the volunteers of the order's skill within the box at once instead of
every home in the box (about four times as many). Triggers on `volunteer_profiles` keep it
in step with every insert, move, change of skills and delete, whoever writes; a later
migration that rebuilds that table in batch mode must create them again.

A point's skill is the interval skill ± 0.25, not a single value: with a zero-width axis an
R*Tree node holding one skill has no volume however wide its box, so the tree's insertion
heuristics (least growth of volume) would pile every home of that skill into it. Skills are
1 to 62 (`core.matching.skill_bit`), listed by `json_each` since triggers take no CTE.

PostgreSQL keeps its GiST index of migration 0006 (skills are filtered on the rows it
finds); this revision changes nothing there.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 09:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SKILLS = "json_each('[" + ",".join(str(skill) for skill in range(1, 63)) + "]')"


def _homes(profile: str, where: str = "") -> str:
    """The index rows of a profile (`NEW`, or `p` of `volunteer_profiles`)."""
    return (
        f"INSERT INTO volunteer_homes_by_skill SELECT {profile}.member_id * 64 + skill.value,"
        f" skill.value - 0.25, skill.value + 0.25, {profile}.latitude, {profile}.latitude,"
        f" {profile}.longitude, {profile}.longitude FROM {where}{_SKILLS} AS skill"
        f" WHERE {profile}.latitude IS NOT NULL AND {profile}.longitude IS NOT NULL"
        f" AND ({profile}.skills >> skill.value) & 1"
    )


# By rowid, one lookup per possible skill: the R*Tree answers only equality on its id fast.
_FORGET = (
    "DELETE FROM volunteer_homes_by_skill"
    f" WHERE id IN (SELECT OLD.member_id * 64 + value FROM {_SKILLS})"
)
_UP = (
    "DROP TRIGGER volunteer_homes_delete",
    "DROP TRIGGER volunteer_homes_move",
    "DROP TRIGGER volunteer_homes_insert",
    "DROP TABLE volunteer_homes",
    "CREATE VIRTUAL TABLE volunteer_homes_by_skill USING rtree("
    "id, min_skill, max_skill, min_lat, max_lat, min_lon, max_lon)",
    _homes("p", "volunteer_profiles AS p, "),
    "CREATE TRIGGER volunteer_homes_by_skill_insert AFTER INSERT ON volunteer_profiles"
    f" BEGIN {_homes('NEW')}; END",
    "CREATE TRIGGER volunteer_homes_by_skill_change"
    " AFTER UPDATE OF member_id, skills, latitude, longitude ON volunteer_profiles"
    f" BEGIN {_FORGET}; {_homes('NEW')}; END",
    "CREATE TRIGGER volunteer_homes_by_skill_delete AFTER DELETE ON volunteer_profiles"
    f" BEGIN {_FORGET}; END",
)
# Migration 0006's index, as it made it.
_PLACED = "NEW.latitude IS NOT NULL AND NEW.longitude IS NOT NULL"
_NEW_HOME = "SELECT NEW.member_id, NEW.latitude, NEW.latitude, NEW.longitude, NEW.longitude"
_DOWN = (
    "DROP TRIGGER volunteer_homes_by_skill_delete",
    "DROP TRIGGER volunteer_homes_by_skill_change",
    "DROP TRIGGER volunteer_homes_by_skill_insert",
    "DROP TABLE volunteer_homes_by_skill",
    "CREATE VIRTUAL TABLE volunteer_homes USING rtree("
    "member_id, min_lat, max_lat, min_lon, max_lon)",
    "INSERT INTO volunteer_homes"
    " SELECT member_id, latitude, latitude, longitude, longitude"
    " FROM volunteer_profiles"
    " WHERE latitude IS NOT NULL AND longitude IS NOT NULL",
    "CREATE TRIGGER volunteer_homes_insert AFTER INSERT ON volunteer_profiles"
    f" BEGIN INSERT INTO volunteer_homes {_NEW_HOME} WHERE {_PLACED}; END",
    "CREATE TRIGGER volunteer_homes_move"
    " AFTER UPDATE OF member_id, latitude, longitude ON volunteer_profiles"
    " BEGIN DELETE FROM volunteer_homes WHERE member_id = OLD.member_id;"
    f" INSERT INTO volunteer_homes {_NEW_HOME} WHERE {_PLACED}; END",
    "CREATE TRIGGER volunteer_homes_delete AFTER DELETE ON volunteer_profiles"
    " BEGIN DELETE FROM volunteer_homes WHERE member_id = OLD.member_id; END",
)


def _run(statements: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(_UP)


def downgrade() -> None:
    _run(_DOWN)
