"""Passbook statements: hours in three languages, pages, CSV and PDF with Chinese and Korean."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlalchemy import event

from core import ledger, statements
from core.db import transaction
from core.ledger import AccountKind, PostingKind
from core.models import Branch, Category, Member, Order, OrderEvent, OrderFunding, OrderStatus
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
    expected_words = ("시간은행 통장", "김철수", "김영희", "王丽", "장보기")
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
    # The words columns, on rows whose balance is not their amount.
    assert (gift[5], gift[6]) == ("−1小时", "2小时30分钟")
    assert service[1] == "帮助邻居 · 买菜" and service[2] == "王丽"
    assert (service[3], service[4], service[5], service[6]) == (
        "120",
        "210",
        "+2小时",
        "3小时30分钟",
    )
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


# ---------------------------------------------------------------- help the pool paid for


def _pdf_fonts(data: bytes, tmp_path) -> list[list[str]]:
    """pdffonts' table: one row per font, its "emb" column fourth from the right."""
    path = tmp_path / "passbook.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True)
    return [line.split() for line in done.stdout.splitlines()[2:]]


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
def test_every_font_of_the_pdf_is_embedded(lang, tmp_path) -> None:
    data = statements.render_pdf(
        _statement("김철수 · 王建国"), lang, gettext_for(lang), generated_at=datetime.now(UTC)
    )
    fonts = _pdf_fonts(data, tmp_path)
    assert fonts and all(row[-4] == "yes" for row in fonts), fonts
    assert all("NotoSansCJK" in row[0] for row in fonts), fonts
    text = _pdf_text(data)
    assert "김철수 · 王建国" in text  # the middle dot is a real character, not a box
    date = {"zh_Hans": "2025年3月1日", "ko": "2025년 3월 1일", "en": "Mar 1, 2025"}[lang]
    # Each date stays on one line: the column is as wide as the longest date.
    assert sum(line.count(date) for line in text.splitlines()) == 3


def test_without_a_system_font_the_pdf_falls_back_to_the_built_in_ones(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(statements.pdf_fonts, "embedded_font", lambda *a, **k: None)
    data = statements.render_pdf(
        _statement("김철수"), "ko", gettext_for("ko"), generated_at=datetime.now(UTC)
    )
    assert {row[0] for row in _pdf_fonts(data, tmp_path)} >= {"HYGothic-Medium"}
    text = _pdf_text(data)
    assert "김철수" in text and "이웃을 도왔어요 / 장보기" in text


async def _helped_by_the_pool(sessions, lang: str, names: tuple[str, str]) -> int:
    """A resident without credit whom a volunteer helped for 45 minutes, the pool paying."""
    async with transaction(sessions, write=True) as session:
        branch = Branch(
            code="p", names={"en": "P"}, time_zone="Asia/Shanghai", default_language=lang
        )
        category = Category(
            code="shop", names={"zh_Hans": "买菜", "ko": "장보기", "en": "Shopping"}
        )
        session.add_all([branch, category])
        await session.flush()
        resident = Member(name=names[0], language=lang, branch_id=branch.id, sponsored=True)
        helper = Member(name=names[1], language=lang, branch_id=branch.id, is_volunteer=True)
        session.add_all([resident, helper])
        await session.flush()
        order = Order(
            branch_id=branch.id, requester_id=resident.id, beneficiary_id=resident.id,
            category_id=category.id, estimated_minutes=60, actual_minutes=45,
            volunteer_id=helper.id, status=OrderStatus.CONFIRMED,
            funding=OrderFunding.POOL, idempotency_key="pool-paid",
        )  # fmt: skip
        session.add(order)
        await session.flush()
        confirmed = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        session.add(
            OrderEvent(order_id=order.id, from_status="done", to_status="confirmed", at=confirmed)
        )
        return resident.id


POOL_NAMES = {"zh_Hans": ("刘阿姨", "李明"), "ko": ("박순자", "이지은"), "en": ("Edith", "Tom")}


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_help_the_pool_paid_for_is_in_the_passbook(sessions, lang, tmp_path) -> None:
    resident, helper = POOL_NAMES[lang]
    rid = await _helped_by_the_pool(sessions, lang, (resident, helper))
    gettext = gettext_for(lang)
    async with sessions() as session:
        view = await statements.passbook_view(session, rid)
        whole = await statements.statement(session, rid)
    assert view.summary.balance == 0 and view.lines == ()
    [help_] = view.pool_help
    assert (help_.minutes, help_.helper, view.pool_help_total) == (45, helper, 1)
    assert help_.at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    rows = list(csv.reader(io.StringIO(
        statements.render_csv(whole, lang, gettext).decode("utf-8-sig")
    )))  # fmt: skip
    [row] = rows[1:]
    assert row[0] == "2026-03-02 10:00"  # in Shanghai
    assert row[2] == helper and (row[3], row[4]) == ("0", "0")
    paid = gettext("{duration}, paid by the community pool").format(
        duration=statements.duration(45, gettext)
    )
    assert row[1].startswith(gettext("Help received")) and row[1].endswith(paid)

    text = _pdf_text(statements.render_pdf(whole, lang, gettext, generated_at=datetime.now(UTC)))
    for expected in (helper, statements.duration(45, gettext)):
        assert expected in text, expected


def test_a_pool_paid_help_sits_among_the_entries_with_the_balance_it_found() -> None:
    def at(day: int) -> datetime:
        return datetime(2026, 3, day, tzinfo=UTC)

    grant = StatementLine(
        at(1), PostingKind.GRANT, 120, 120, "", None, (Party(AccountKind.ISSUANCE),)
    )
    gift = StatementLine(
        at(5), PostingKind.GIFT, -30, 90, "", None, (Party(AccountKind.MEMBER, "Jane"),)
    )
    helped = statements.PoolHelp(at(2), 45, "", None)
    whole = Statement(
        Summary("Edith", "Europe/London", True, 90, 0, 0, 0), (gift, grant), False, (helped,)
    )
    data = statements.render_csv(whole, "en", gettext_for("en"))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]
    assert [row[1:5] for row in rows] == [
        ["Gift given", "Jane", "-30", "90"],
        ["Help received · 45 min, paid by the community pool", "a former member", "0", "120"],
        ["Welcome hours", "time bank", "120", "120"],
    ]


# ---------------------------------------------------------------- round trips


class _Statements:
    """Counts the statements SQLAlchemy sends (reads and writes alike)."""

    def __init__(self, engine) -> None:
        self.engine = engine.sync_engine
        self.count = 0
        self.seen: list[str] = []

    def _note(self, _conn, _cursor, statement, *_args) -> None:
        self.count += 1
        self.seen.append(statement[:90])

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)


async def test_a_passbook_page_takes_the_same_few_statements_however_many_lines(
    sessions, engine
) -> None:
    """Account, balance and whether the pool ever paid in one read, the first page cut
    from the summary's batch, the other legs of every line with their parties' names and
    their orders' categories in one: a page of five lines, each with another member, in
    three statements (pool help, when there is some, in one more)."""
    me, _friend = await _member_with_history(sessions, 12)
    async with sessions() as session:
        # The member and their branch are the update's own (the bot holds them already).
        member = await session.get(Member, me)
        branch = await session.get(Branch, member.branch_id)
        assert branch is not None
        with _Statements(engine) as sent:
            view = await statements.passbook_view(session, me, page_size=5)
    assert len(view.lines) == 5
    assert sent.count <= 3, sent.seen


async def test_pool_help_is_listed_for_a_member_with_an_account_too(sessions, engine) -> None:
    """The page's first read also says whether the pool ever paid for the member's help:
    with an account of their own (welcome hours, say), the pool's help is still listed,
    in one statement more than a page without it."""
    rid = await _helped_by_the_pool(sessions, "en", POOL_NAMES["en"])
    async with transaction(sessions, write=True) as session:
        member = await session.get(Member, rid)
        account = await ledger.open_member_account(session, rid, member.branch_id)
        await ledger.grant(session, account.id, 60, key="test:pool-and-account")
    async with sessions() as session:
        # The member and their branch are the update's own (the bot holds them already).
        member = await session.get(Member, rid)
        branch = await session.get(Branch, member.branch_id)
        assert branch is not None
        with _Statements(engine) as sent:
            view = await statements.passbook_view(session, rid)
    assert view.summary.balance == 60 and len(view.lines) == 1
    [help_] = view.pool_help
    assert (help_.minutes, help_.helper, view.pool_help_total) == (45, POOL_NAMES["en"][1], 1)
    assert sent.count <= 4, "\n".join(sent.seen)


async def test_the_first_page_and_its_anchor_are_the_ledger_s_own(sessions) -> None:
    """Page 0 is cut from the summary's batch: the same lines and the same cursor as the
    ledger's own page of that size, whether or not more follow."""
    me, _friend = await _member_with_history(sessions, 7)
    async with sessions() as session:
        account = await ledger.find_member_account(session, me)
        assert account is not None
        for size in (3, 6, 7, 8, statements.PAGE_SIZE):
            view = await statements.passbook_view(session, me, page_size=size)
            page = await ledger.passbook(session, account.id, page_size=size)
            assert [line.balance_after for line in view.lines] == [
                line.balance_after for line in page.lines
            ]
            assert view.anchor == (page.next_cursor or "")
            assert view.has_more == (page.next_cursor is not None)
