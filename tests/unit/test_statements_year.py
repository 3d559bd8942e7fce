"""The year's figures of a passbook: earned is help given, spent is help received and
rewards, both counted as positive hours; gifts and grants are neither. Checked where a
member reads them: the summary (the chat page shows it: tests/bot/test_passbook_year.py)
and the PDF."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from core import ledger, statements
from core.db import transaction, utcnow
from core.ledger import PostingKind
from core.models import Branch, Member
from tests.unit.test_statements import _statement, gettext_for


async def _history(sessions) -> int:
    """Welcome hours 10 h; helped twice (1 h, 30 min); was helped once (45 min); a gift of
    15 min given and one of 20 min received."""
    async with transaction(sessions, write=True) as session:
        branch = Branch(code="b", names={"en": "B"}, time_zone="Asia/Seoul", default_language="en")
        session.add(branch)
        await session.flush()
        me, other = Member(name="Ann", branch_id=branch.id), Member(name="Bo", branch_id=branch.id)
        session.add_all([me, other])
        await session.flush()
        mine = (await ledger.open_member_account(session, me.id, branch.id)).id
        theirs = (await ledger.open_member_account(session, other.id, branch.id)).id
        await ledger.grant(session, mine, 600, key="start-me")
        await ledger.grant(session, theirs, 600, key="start-them")
        moves = [
            (theirs, mine, 60, PostingKind.SERVICE),
            (theirs, mine, 30, PostingKind.SERVICE),
            (mine, theirs, 45, PostingKind.SERVICE),
            (mine, theirs, 15, PostingKind.GIFT),
            (theirs, mine, 20, PostingKind.GIFT),
        ]
        for n, (source, destination, minutes, kind) in enumerate(moves):
            await ledger.transfer(session, source, destination, minutes, kind=kind, key=f"m{n}")
        return me.id


async def test_earned_and_spent_this_year_in_the_summary(sessions) -> None:
    me = await _history(sessions)
    async with sessions() as session:
        view = await statements.passbook_view(session, me, now=utcnow())
    summary = view.summary
    assert (summary.earned_this_year, summary.spent_this_year) == (90, 45)
    assert summary.balance == 600 + 90 - 45 - 15 + 20


async def test_last_years_help_is_not_this_years(sessions) -> None:
    me = await _history(sessions)
    next_year = datetime(utcnow().year + 1, 1, 1, 12, tzinfo=UTC) + timedelta(days=1)
    async with sessions() as session:
        summary = (await statements.passbook_view(session, me, now=next_year)).summary
    assert (summary.earned_this_year, summary.spent_this_year) == (0, 0)


def _line_with(text: str, words: str) -> str:
    return next(line for line in text.splitlines() if words in line)


def test_the_pdf_shows_the_years_figures_each_as_itself() -> None:
    # The statement's summary: earned 2 h, spent 1 h.
    data = statements.render_pdf(
        _statement("Margaret"), "en", gettext_for("en"), generated_at=datetime.now(UTC)
    )
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    text = done.stdout.decode("utf-8")
    earned, spent = _line_with(text, "Earned this year"), _line_with(text, "Spent this year")
    # pdftotext spaces the figures as it measures them: compared without spaces.
    assert "".join(earned.split("Earned this year")[1].split()) == "2h"
    assert "".join(spent.split("Spent this year")[1].split()) == "1h"


def test_exported_files_are_dated_in_the_branchs_day_not_utcs() -> None:
    """At 05:00 in Shanghai it is still yesterday in UTC: the file says the day inside it."""
    from core import mydata, statements

    at = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    assert statements.export_name(at, "Asia/Shanghai", "pdf") == "passbook-2026-12-05.pdf"
    assert statements.export_name(at, "UTC", "csv") == "passbook-2026-12-04.csv"
    assert mydata.export_name(at, "Asia/Seoul") == "my-data-2026-12-05.txt"
