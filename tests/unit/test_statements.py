"""Passbook statements: hours in three languages, pages, CSV and PDF with Chinese and Korean."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from functools import partial

import pytest

from core import ledger, statements
from core.db import transaction
from core.ledger import AccountKind, PostingKind
from core.models import Branch, Member
from core.statements import Party, Statement, StatementLine, Summary
from tests.bot.lang import t


def gettext_for(language: str):
    return partial(t, language)


@pytest.mark.parametrize(
    ("language", "minutes", "expected"),
    [
        ("en", 90, "1 h 30 min"),
        ("en", 120, "2 h"),
        ("en", 45, "45 min"),
        ("en", -30, "−30 min"),
        ("zh_Hans", 90, "1小时30分钟"),
        ("zh_Hans", 60, "1小时"),
        ("zh_Hans", 30, "30分钟"),
        ("ko", 90, "1시간 30분"),
        ("ko", 180, "3시간"),
        ("ko", 5, "5분"),
    ],
)
def test_hours_and_minutes_in_three_languages(language, minutes, expected) -> None:
    assert statements.duration(minutes, gettext_for(language)) == expected


def test_signed_hours() -> None:
    assert statements.signed_duration(60, gettext_for("en")) == "+1 h"
    assert statements.signed_duration(-90, gettext_for("ko")) == "−1시간 30분"


def _statement(name: str) -> Statement:
    at = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    return Statement(
        Summary(name, "Asia/Shanghai", True, 150, 30, 120, 60),
        (
            StatementLine(
                at, PostingKind.GIFT, -60, 150, "", None, (Party(AccountKind.MEMBER, "김영희"),)
            ),
            StatementLine(
                at,
                PostingKind.SERVICE,
                120,
                210,
                "",
                {"zh_Hans": "买菜", "ko": "장보기", "en": "Shopping"},
                (Party(AccountKind.MEMBER, "王丽"),),
            ),
            StatementLine(at, PostingKind.GRANT, 90, 90, "", None, (Party(AccountKind.ISSUANCE),)),
        ),
        truncated=False,
    )


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


def test_pdf_in_chinese_shows_chinese_and_korean_names() -> None:
    data = statements.render_pdf(
        _statement("王建国"), "zh_Hans", gettext_for("zh_Hans"), generated_at=datetime.now(UTC)
    )
    text = _pdf_text(data)
    expected_words = "时间银行存折 王建国 王丽 김영희 买菜 2小时30分钟 2025年3月1日".split()
    for expected in expected_words:
        assert expected in text, expected


def test_pdf_in_korean() -> None:
    data = statements.render_pdf(
        _statement("김철수"), "ko", gettext_for("ko"), generated_at=datetime.now(UTC)
    )
    text = _pdf_text(data)
    expected_words = ("타임뱅크 통장", "김철수", "김영희", "王丽", "장보기")
    expected_words += ("2시간 30분", "선물한 시간")
    for expected in expected_words:
        assert expected in text, expected


def test_pdf_in_english() -> None:
    data = statements.render_pdf(
        _statement("Margaret"), "en", gettext_for("en"), generated_at=datetime.now(UTC)
    )
    text = _pdf_text(data)
    for expected in ("Time bank passbook", "Margaret", "Shopping", "2 h 30 min", "time bank"):
        assert expected in text, expected


def test_csv_round_trips_with_a_byte_order_mark() -> None:
    data = statements.render_csv(_statement("王建国"), "zh_Hans", gettext_for("zh_Hans"))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["日期", "用途", "对方", "分钟"]
    gift, service, grant = rows[1:]
    assert gift[0] == "2025-03-01 18:00"  # in Shanghai
    assert (gift[2], gift[3], gift[4]) == ("김영희", "-60", "150")
    assert service[1] == "帮助邻居 · 买菜" and service[2] == "王丽"
    assert grant[2] == "时间银行" and grant[5] == "+1小时30分钟"


# ---------------------------------------------------------------- from the ledger


async def _member_with_history(sessions, entries: int) -> tuple[int, int]:
    async with transaction(sessions, write=True) as session:
        branch = Branch(code="b", names={"en": "B"}, time_zone="Asia/Seoul", default_language="ko")
        session.add(branch)
        await session.flush()
        me = Member(name="김철수", language="ko", branch_id=branch.id)
        friend = Member(name="王丽", language="zh_Hans", branch_id=branch.id)
        session.add_all([me, friend])
        await session.flush()
        mine = await ledger.open_member_account(session, me.id, branch.id)
        theirs = await ledger.open_member_account(session, friend.id, branch.id)
        await ledger.grant(session, mine.id, 600, key="start")
        for number in range(entries - 1):
            await ledger.transfer(
                session, mine.id, theirs.id, 10, kind=PostingKind.GIFT, key=f"g{number}"
            )
        return me.id, friend.id


async def test_a_member_without_an_account_sees_an_empty_passbook(sessions) -> None:
    async with transaction(sessions, write=True) as session:
        member = Member(name="New", language="en")
        session.add(member)
        await session.flush()
        view = await statements.passbook_view(session, member.id)
        assert not view.summary.has_account and view.summary.balance == 0
        assert view.lines == () and not view.has_more
        with pytest.raises(statements.PageGone):
            await statements.passbook_view(session, member.id, page=1, anchor="AAAAAAAAAAE")


async def test_pages_stay_put_and_forged_cursors_are_refused(sessions) -> None:
    me, _friend = await _member_with_history(sessions, 12)
    async with sessions() as session:
        first = await statements.passbook_view(session, me, page_size=5)
        assert first.summary.balance == 600 - 110
        assert [line.balance_after for line in first.lines] == [490, 500, 510, 520, 530]
        assert first.lines[0].parties == (Party(AccountKind.MEMBER, "王丽"),)
        assert first.has_more and first.anchor
        second = await statements.passbook_view(
            session, me, page=1, anchor=first.anchor, page_size=5
        )
        assert [line.balance_after for line in second.lines] == [540, 550, 560, 570, 580]
        third = await statements.passbook_view(
            session, me, page=2, anchor=first.anchor, page_size=5
        )
        assert [line.balance_after for line in third.lines] == [590, 600]
        assert third.lines[-1].parties == (Party(AccountKind.ISSUANCE),)
        assert not third.has_more
        for page, anchor in ((3, first.anchor), (1, "not a cursor!"), (1, ""), (-1, "x")):
            with pytest.raises(statements.PageGone):
                await statements.passbook_view(session, me, page=page, anchor=anchor, page_size=5)
        whole = await statements.statement(session, me)
        assert len(whole.lines) == 12 and not whole.truncated
