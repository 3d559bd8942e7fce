"""The passbook page in the chat says what the member earned and spent this year, each
as itself: help given, and help received, counted as positive hours."""

from __future__ import annotations

import pytest

from core import ledger, statements
from core.db import transaction
from core.ledger import PostingKind
from tests.bot.lang import t
from tests.bot.test_passbook import _account
from tests.bot.test_request_help import member, member_id
from tests.unit.test_statements import gettext_for


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
async def test_the_chat_page_shows_earned_and_spent_this_year(person, sessions, lang) -> None:
    me_persona = await member(person, sessions, "Ann", lang)
    friend_persona = await member(person, sessions, "Bo", lang)
    me, friend = await member_id(sessions, me_persona), await member_id(sessions, friend_persona)
    async with transaction(sessions, write=True) as session:
        mine, theirs = await _account(session, me), await _account(session, friend)
        await ledger.grant(session, mine, 600, key="start-me")
        await ledger.grant(session, theirs, 600, key="start-friend")
        for n, (source, destination, minutes, kind) in enumerate(
            [
                (theirs, mine, 90, PostingKind.SERVICE),
                (mine, theirs, 45, PostingKind.SERVICE),
                (mine, theirs, 15, PostingKind.GIFT),
            ]
        ):
            await ledger.transfer(session, source, destination, minutes, kind=kind, key=f"y{n}")

    await me_persona.tap(t(lang, "📒 My passbook"))
    page = (await me_persona.wait_reply())["text"]
    words = gettext_for(lang)
    expected = t(lang, "This year: earned {earned}, spent {spent}").format(
        earned=statements.duration(90, words), spent=statements.duration(45, words)
    )
    assert expected in page
