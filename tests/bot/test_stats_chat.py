"""/stats in the chat: the week's figures as text and one chart, then the CSV on request;
someone who is not a coordinator gets a kind no. In Chinese, Korean and English."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from sqlalchemy import select

from core.db import transaction, utcnow
from core.models import Category, Member, Order, OrderStatus
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id

NAMES = {"zh_Hans": ("李伟", "王芳"), "ko": ("이민호", "김영희"), "en": ("Li Wei", "<b>&Tom</b>")}


async def message_with(persona, key: str, timeout: float = 30.0) -> dict:  # noqa: ASYNC109
    """The bot's first message to the persona that carries `key` (photo, document)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await persona.sync()
        found = [m for m in persona.bot_messages() if key in m]
        if found:
            return found[-1]
        assert asyncio.get_running_loop().time() < deadline, f"no {key} in {persona.transcript()}"
        await asyncio.sleep(0.1)


async def asked_this_week(sessions, resident_id: int, count: int) -> None:
    async with transaction(sessions, write=True) as session:
        resident = await session.get(Member, resident_id)
        repairs = await session.scalar(select(Category.id).where(Category.code == "repairs"))
        for number in range(count):
            session.add(
                Order(
                    branch_id=resident.branch_id, requester_id=resident.id,
                    beneficiary_id=resident.id, category_id=repairs, estimated_minutes=60,
                    status=OrderStatus.DONE if number == 0 else OrderStatus.OPEN,
                    idempotency_key=f"stats-test-{number}", created_at=utcnow(),
                )
            )  # fmt: skip


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_stats_sends_figures_a_chart_and_a_csv(person, sessions, client, lang) -> None:
    coordinator_name, resident_name = NAMES[lang]
    resident = await member(person, sessions, resident_name, lang, branch="luoshan")
    await asked_this_week(sessions, await member_id(sessions, resident), 2)

    await resident.command("/stats")
    assert (await resident.wait_reply())["text"] == t(lang, "Only a coordinator can do that.")

    coordinator = await coordinator_member(person, sessions, coordinator_name, lang)
    await coordinator.command("/stats")
    photo = await message_with(coordinator, "photo")
    assert photo["photo"]
    text = next(
        m["text"] for m in coordinator.bot_messages() if m.get("text", "") and "📊" in m["text"]
    )
    assert t(lang, "🙋 Requests asked: {count}").format(count=2) in text
    assert t(lang, "✅ Done: {count}").format(count=1) in text

    await coordinator.tap_inline(t(lang, "📄 The requests as CSV"))
    sheet = await message_with(coordinator, "document")
    data = await client.download(sheet["document"]["file_id"])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 1 + 2
    assert resident_name in rows[1]


async def test_the_coordinators_tools_open_the_weeks_figures(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", "en")
    await coordinator.tap(t("en", "🤝 Volunteering"))
    await coordinator.wait_reply()
    await coordinator.tap_inline(t("en", "📊 This week's figures"))
    photo = await message_with(coordinator, "photo")
    assert photo["photo"]
    assert any("📊" in (m.get("text") or "") for m in coordinator.bot_messages())
