"""The passbook through the local Bot API server: pages, exports, and hours given to family."""

from __future__ import annotations

import csv
import io
import subprocess

import pytest
from sqlalchemy import func, select

from core import ledger
from core.db import transaction
from core.ledger import PostingKind
from core.ledger.tables import LedgerTransaction
from core.models import Member
from tests.bot.lang import t
from tests.bot.test_request_help import link_family, member, member_id

NAMES = {"zh_Hans": ("王建国", "王丽"), "ko": ("김철수", "김영희"), "en": ("Arthur", "Jane")}


async def _account(session, member_id_: int) -> int:
    row = await session.get(Member, member_id_)
    return (await ledger.open_member_account(session, row.id, row.branch_id)).id


async def seed_history(sessions, me: int, friend: int, *, gifts: int = 6) -> None:
    """A start grant of 10 hours, then `gifts` gifts of 15 minutes each to a friend."""
    async with transaction(sessions, write=True) as session:
        mine, theirs = await _account(session, me), await _account(session, friend)
        await ledger.grant(session, mine, 600, key=f"start-{me}")
        for number in range(gifts):
            await ledger.transfer(
                session, mine, theirs, 15, kind=PostingKind.GIFT, key=f"seed-{me}-{number}"
            )


async def balance(sessions, member_id_: int) -> int:
    async with sessions() as session:
        account = await ledger.find_member_account(session, member_id_)
        return (await ledger.balance_of(session, account.id)).balance


def pdf_text(data: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_member_reads_pages_and_exports_the_passbook(
    person, sessions, client, lang
) -> None:
    name, friend_name = NAMES[lang]
    p = await member(person, sessions, name, lang)
    friend = await member(person, sessions, friend_name, lang)
    me = await member_id(sessions, p)
    await seed_history(sessions, me, await member_id(sessions, friend))

    await p.tap(t(lang, "📒 My passbook"))
    first = await p.wait_reply()
    hours = {"zh_Hans": "8小时30分钟", "ko": "8시간 30분", "en": "8 h 30 min"}[lang]
    assert (
        t(lang, "Balance: <b>{hours}</b>")
        .format(hours=hours)
        .replace("<b>", "")
        .replace("</b>", "")
        in first["text"]
    )
    assert friend_name in first["text"]
    assert t(lang, "Page {number}").format(number=1) in first["text"]
    assert t(lang, "◀ Newer") not in p.inline_labels(first)

    await p.tap_inline(t(lang, "Older ▶"))
    second = await p.wait_reply()
    assert t(lang, "Page {number}").format(number=2) in second["text"]
    assert t(lang, "Welcome hours") in second["text"]
    assert t(lang, "time bank") in second["text"]
    assert t(lang, "Older ▶") not in p.inline_labels(second)
    await p.tap_inline(t(lang, "◀ Newer"))
    again = await p.wait_reply()
    assert t(lang, "Page {number}").format(number=1) in again["text"]

    # The tap is answered with the PDF, after its fonts are cut to the text: seconds when busy.
    await p.tap_inline(t(lang, "📄 PDF"), timeout=60)
    document = await p.wait_reply(timeout=60)
    assert document["document"]["file_name"].endswith(".pdf")
    text = pdf_text(await client.download(document["document"]["file_id"]))
    assert t(lang, "Time bank passbook") in text
    assert name in text and friend_name in text

    await p.tap_inline(t(lang, "📊 CSV (Excel)"))
    sheet = await p.wait_reply()
    assert sheet["document"]["file_name"].endswith(".csv")
    data = await client.download(sheet["document"]["file_id"])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == t(lang, "Date") and len(rows) == 1 + 7
    assert rows[1][2] == friend_name and rows[1][3] == "-15" and rows[-1][3] == "600"


async def test_a_new_member_sees_an_empty_passbook(person, sessions) -> None:
    lang = "zh_Hans"
    p = await member(person, sessions, "刘阿姨", lang)
    await p.tap(t(lang, "📒 My passbook"))
    reply = await p.wait_reply()
    assert t(lang, "You have 0 hours for now.") in reply["text"]


async def _transfers(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == PostingKind.GIFT)
        )


async def test_a_double_tap_on_confirm_gives_one_hour_once(person, sessions, client) -> None:
    lang = "zh_Hans"
    father = await member(person, sessions, "王建国", lang)
    daughter = await member(person, sessions, "王丽", lang)
    await link_family(father, daughter, lang)
    dad, her = await member_id(sessions, father), await member_id(sessions, daughter)
    await seed_history(sessions, her, dad, gifts=0)
    before = await _transfers(sessions)

    await daughter.tap(t(lang, "📒 My passbook"))
    await daughter.wait_reply()
    await daughter.tap_inline(t(lang, "🎁 Give hours to family"))
    await daughter.wait_reply()
    await daughter.tap_inline("👤 王建国")
    await daughter.wait_reply()
    await daughter.tap_inline(t(lang, "1 hour"))
    confirm = await daughter.wait_reply()
    assert "1小时" in confirm["text"] and "王建国" in confirm["text"]
    [data] = [
        button["callback_data"]
        for row in confirm["reply_markup"]["inline_keyboard"]
        for button in row
        if button["text"] == t(lang, "✅ Confirm")
    ]
    taps = [await client.press(daughter.id, confirm["message_id"], data) for _ in range(2)]
    answers = [await client.callback_answer(tap["callback_query_id"], timeout=5) for tap in taps]
    assert {a["answer"]["text"] for a in answers} == {t(lang, "Given!"), t(lang, "Already given.")}

    assert await _transfers(sessions) == before + 1
    assert await balance(sessions, her) == 600 - 60
    assert await balance(sessions, dad) == 60
    receipt = await father.wait_notice()
    assert "王丽" in receipt["text"] and "1小时" in receipt["text"]


async def test_not_enough_hours_is_explained_kindly(person, sessions) -> None:
    lang = "ko"
    mother = await member(person, sessions, "김영희", lang)
    son = await member(person, sessions, "김철수", lang)
    await link_family(mother, son, lang)
    await son.tap(t(lang, "📒 My passbook"))
    await son.wait_reply()
    await son.tap_inline(t(lang, "🎁 Give hours to family"))
    await son.wait_reply()
    await son.tap_inline("👤 김영희")
    await son.wait_reply()
    await son.tap_inline(t(lang, "2 hours"))
    await son.wait_reply()
    await son.tap_inline(t(lang, "✅ Confirm"))
    reply = await son.wait_reply()
    assert "0분" in reply["text"] and "2시간" in reply["text"]
    assert await _transfers(sessions) == 0
