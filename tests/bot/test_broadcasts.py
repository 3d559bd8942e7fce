"""A coordinator's announcement end to end through the local Bot API server: composed in the
chat, previewed in each language, sent to members who read Chinese, Korean and English,
paused, the bot restarted mid-broadcast, resumed, done; nobody gets it twice. Forged and
stale buttons change nothing."""

from __future__ import annotations

import asyncio
import html
import re

import pytest
from sqlalchemy import func, select, update

from core.broadcasts.tables import Broadcast, BroadcastResponse
from core.db import transaction
from core.languages import NATIVE_NAMES
from core.models import Member, OutboxMessage
from tests.bot.lang import t
from tests.bot.test_request_help import coordinator_member, member, member_id, tap_shown

NAMES = {"zh_Hans": "李伟", "ko": "이정민", "en": "Li Wei"}
TEXTS = {
    "zh_Hans": "友邻集市本周六上午九点开市，欢迎大家来！",
    "ko": "이번 토요일 오전 9시에 이웃 장터가 열려요. 꼭 오세요!",
    "en": "The market opens on Saturday at 9. Bring <b>&Tom</b> too!",
}


def shown(message: dict) -> str:
    return message.get("text") or message.get("caption") or ""


def plain(text: str) -> str:
    """A message as the member reads it: the HTML tags gone, the entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def received(persona, text: str) -> list[dict]:
    return [m for m in persona.bot_messages() if shown(m) == text]


async def until(persona, check, timeout: float = 30.0) -> dict:  # noqa: ASYNC109
    """Wait until one of the bot's messages to the persona (as last edited) passes `check`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await persona.sync()
        for message in reversed(persona.bot_messages()):
            if check(message):
                return message
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError([shown(m) for m in persona.bot_messages()][-6:])
        await asyncio.sleep(0.2)


def says(part: str):
    return lambda message: part in shown(message)


async def _outbox(sessions) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(OutboxMessage))


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_coordinator_announces_in_three_languages(
    person, sessions, running_bot, lang
) -> None:
    li = await coordinator_member(person, sessions, NAMES[lang], lang)
    readers = {
        code: await member(person, sessions, name, code, branch="luoshan")
        for code, name in (("zh_Hans", "王芳"), ("ko", "김영희"), ("en", "Margaret"))
    }
    quiet = await member(person, sessions, "Quiet Ann", "en", branch="luoshan")
    mine = {await member_id(sessions, p) for p in [li, quiet, *readers.values()]}
    async with transaction(sessions, write=True) as s:  # the demo's own members stay out
        await s.execute(update(Member).where(Member.id.not_in(mine)).values(announcements=False))
    # Quiet Ann turns announcements off herself, in one tap under "My details".
    await quiet.tap("👤 My details")
    await until(quiet, says("📣 Announcements from coordinators"))
    assert (await quiet.tap_inline("🔕 Turn them off"))["text"].startswith("Done.")

    # Who: everyone; the count leaves out who turned announcements off. In Korean the
    # coordinator starts from the coordinator tools under "🤝 Volunteering".
    if lang == "ko":
        await li.tap(t(lang, "🤝 Volunteering"))
        await until(li, lambda m: t(lang, "📣 Send an announcement") in li.inline_labels(m))
        await li.tap_inline(t(lang, "📣 Send an announcement"))
    else:
        await li.command("/broadcast")
    await until(li, says(t(lang, "Who should get the announcement?")))
    await tap_shown(li, t(lang, "👥 Everyone"))
    reach = plain(t(lang, "👥 This reaches <b>{count}</b> members:")).format(count=4)
    await until(li, says(reach))
    await tap_shown(li, t(lang, "✅ Go on with these"))
    # The text, once per language the audience reads; a sticker first is asked again.
    for code in ("zh_Hans", "ko", "en"):
        await until(li, says(NATIVE_NAMES[code]))
        if code == "ko":
            await li.send_sticker()
            await until(li, says(t(lang, "Please type the text of the announcement.")))
        await li.send(TEXTS[code])
    await until(
        li, says(t(lang, "Would you like to add a photo or a poster? Send it now, or tap Skip."))
    )
    await li.send_photo()
    await until(li, says(t(lang, "Would you like a button under the announcement?")))
    # Back goes one step back, and forward again.
    await tap_shown(li, t(lang, "⬅️ Back"))
    await until(
        li,
        lambda m: (
            shown(m)
            == t(lang, "Would you like to add a photo or a poster? Send it now, or tap Skip.")
        ),
    )
    await li.send_photo()
    await until(li, says(t(lang, "Would you like a button under the announcement?")))
    await tap_shown(li, t(lang, "🙋 “I'll come”"))
    # The preview: each language as its readers will see it, then how many get it.
    ready = plain(t(lang, "📣 Ready to send to <b>{count}</b> members.")).format(count=4)
    await until(li, says(ready))
    for code in ("zh_Hans", "ko", "en"):
        preview = await until(li, lambda m, code=code: shown(m) == TEXTS[code])
        assert preview.get("photo")
        assert li.inline_labels(preview) == [t(code, "🙋 I'll come")]
    await tap_shown(li, t(lang, "📤 Send now"))
    pause = t(lang, "⏸ Pause")
    await until(li, lambda m: pause in li.inline_labels(m))

    # Pause at once; restart the bot while paused (mid-broadcast); resume.
    await li.tap_inline(pause)
    async with sessions() as s:
        broadcast = await s.scalar(select(Broadcast))
    assert broadcast.status == "paused"
    await until(li, says(t(lang, "⏸ Paused. Tap Resume to go on.")))
    await running_bot.restart()
    await li.tap_inline(t(lang, "▶️ Resume"))
    done = t(lang, "✅ Done: sent to {sent} of {total}.").format(sent=4, total=4)
    progress = await until(li, says(done), timeout=60)
    assert li.inline_labels(progress) == []
    report = await until(
        li, says(plain(t(lang, "📊 <b>Report</b> on the announcement “{opening}”"))[:3])
    )
    for code in ("zh_Hans", "ko", "en"):
        figures = 2 if code == lang else 1  # Li reads his own language
        line = t(lang, "• {language}: {sent} of {total} sent, {missed} not delivered")
        assert line.format(
            language=NATIVE_NAMES[code], sent=figures, total=figures, missed=0
        ) in shown(report)

    # Each reader got it once, in their own language, under the poster, with the button.
    for code, persona in readers.items():
        await persona.sync()
        got = received(persona, TEXTS[code])
        assert len(got) == 1, (code, [shown(m) for m in persona.bot_messages()])
        assert got[0].get("photo")
        assert persona.inline_labels(got[0]) == [t(code, "🙋 I'll come")]
        for other in set(TEXTS) - {code}:
            assert not received(persona, TEXTS[other])
    await quiet.sync()
    assert not any(received(quiet, text) for text in TEXTS.values())

    # "I'll come", tapped twice, counts once.
    margaret = readers["en"]
    first = await margaret.tap_inline("🙋 I'll come")
    assert first["text"] == "Thank you! We look forward to seeing you."
    again = await margaret.tap_inline("🙋 I'll come")
    assert again["text"] == "You have told us already. See you there!"

    # The branch's history: who sent what, to how many, the taps.
    # (The progress message may be edited with the tap meanwhile: the history is waited for.)
    await li.command("/broadcasts")
    sent_to = t(lang, "Sent to {sent} of {total}").format(sent=4, total=4)
    history = shown(await until(li, lambda m: NAMES[lang] in shown(m) and sent_to in shown(m)))
    assert TEXTS[lang][:20] in history
    assert t(lang, "🙋 {count} said they will come").format(count=1) in history

    # Bad input: a stale Pause, another branch's coordinator, a stranger, a forged id.
    kim = await member(person, sessions, "Kim", "en", branch="mapo", is_coordinator=True)
    eve = await person("Eve", language_code="en")
    await eve.command("/start")
    await eve.wait_reply()
    before = await _outbox(sessions)
    moved_on = "This announcement has moved on; nothing was changed."
    for persona, data, expected in [
        (li, f"bcs:pause:{broadcast.id}", t(lang, moved_on)),
        (kim, f"bcs:cancel:{broadcast.id}", "Only a coordinator can do that."),
        (margaret, f"bcs:pause:{broadcast.id}", "Only a coordinator can do that."),
        (eve, f"bcs:pause:{broadcast.id}", "Sorry, this button is not for you."),
        (kim, f"bcc:{broadcast.id}", "Sorry, I could not find that."),
        (li, "bcs:pause:999999", t(lang, "Sorry, I could not find that.")),
        (li, f"bcs:explode:{broadcast.id}", t(lang, "This button is no longer active.")),
    ]:
        assert (await persona.forge_tap(data))["text"] == expected, data
    async with sessions() as s:
        assert (await s.get(Broadcast, broadcast.id)).status == "done"
        assert await s.scalar(select(func.count()).select_from(BroadcastResponse)) == 1
        sent_twice = await s.scalar(
            select(func.count()).where(
                OutboxMessage.kind == "broadcast", OutboxMessage.status == "sent"
            )
        )
        assert sent_twice == 4
    assert await _outbox(sessions) == before
