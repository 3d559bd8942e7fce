"""Delivery through the outbox sender, against the local Bot API server: voice notes in
nudges, flood control (429 retry_after), members who block the bot and come back, and
server errors or dropped connections. Faults are injected in the sandbox; the bot runs as
`timebank run` runs it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import volunteers
from core.db import transaction, utcnow
from core.models import BlockedMember, Order, OutboxMessage, OutboxStatus
from sandbox.persona import Persona
from tests.bot.lang import t
from tests.bot.test_request_help import all_orders, fill_in, link_family, member, member_id
from tests.bot.test_volunteer_journey import grant, sweep, until, volunteer

LANG = "en"
NUDGE = "🔔 Someone near you would like help"
TAKEN = "Another volunteer has already said yes. Thank you all the same!"


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def nudges_to(persona: Persona) -> list[dict]:
    return [m for m in persona.bot_messages() if t(LANG, NUDGE) in (m.get("text") or "")]


async def asker(person, sessions, name: str, **fill) -> tuple[Persona, Order]:
    """A resident with credit who sends a request; returns them and the new order."""
    resident = await member(person, sessions, name, LANG, branch="luoshan")
    await grant(sessions, await member_id(sessions, resident), 300)
    before = {o.id for o in await all_orders(sessions)}
    await fill_in(resident, sessions, LANG, **fill)
    await resident.tap_inline(t(LANG, "✅ Send"))
    await resident.wait_reply()

    async def new_orders() -> list[Order]:
        # The reply may reach the chat before the transaction that placed the order commits.
        return [o for o in await all_orders(sessions) if o.id not in before]

    [order] = await eventually(new_orders)
    return resident, order


async def ask(person, sessions, name: str, **fill) -> Order:
    return (await asker(person, sessions, name, **fill))[1]


@pytest.mark.parametrize("winner", [0, 2], ids=["voice-nudge", "text-nudge"])
async def test_a_voice_request_nudges_with_the_voice_itself(
    person, sessions, client, winner: int
) -> None:
    helpers = [
        await volunteer(person, sessions, name, LANG, 0.001 * (n + 1))
        for n, name in enumerate(["Tom", "Ann", "Raj"])
    ]
    # Raj's privacy settings refuse voice notes: his nudge comes as words only.
    await client.update_user(helpers[2].id, voice_messages_forbidden=True)
    order = await ask(person, sessions, "Margaret", voice=True)
    assert order.voice_file_id

    assert (await sweep(sessions, utcnow())).nudged == 3
    for h in helpers:
        await until(h, t(LANG, NUDGE))
    for h in helpers[:2]:
        [nudge] = nudges_to(h)
        assert nudge["kind"] == "voice" and nudge["voice"]["file_id"] == order.voice_file_id
        assert h.inline_labels(nudge) == [t(LANG, "✅ Accept"), t(LANG, "Not this time")]
        assert "Luoshan Road" not in nudge["text"]
    [words] = nudges_to(helpers[2])
    assert words["kind"] == "text" and t(LANG, "🎤 A voice message") in words["text"]
    assert helpers[2].inline_labels(words) == [t(LANG, "✅ Accept"), t(LANG, "Not this time")]

    nudged = [nudges_to(h)[0]["message_id"] for h in helpers]
    chosen = helpers[winner]
    if winner == 2:  # Raj has allowed voice notes since: he gets the voice with the order.
        await client.update_user(chosen.id, voice_messages_forbidden=False)
    await chosen.tap_inline(t(LANG, "✅ Accept"))
    await until(chosen, t(LANG, "🙏 Thank you! It is yours."))
    [accepted] = [m for m in chosen.bot_messages() if m["message_id"] == nudged[winner]]
    assert "12 Luoshan Road, flat 3" in accepted["text"]
    assert t(LANG, "✔️ Done") in chosen.inline_labels(accepted)
    if winner == 2:
        assert accepted["kind"] == "text"

        async def voice_note_came() -> dict | None:
            """Replies go out after the commit, in order: the voice comes after the card."""
            await chosen.sync()
            last = chosen.last_message()
            return last if last and last["kind"] == "voice" else None

        voice = await eventually(voice_note_came)
        assert voice["voice"]["file_id"] == order.voice_file_id
    else:
        assert accepted["kind"] == "voice" and accepted["edited"]
        # Every later step edits the voice note's caption too.
        await chosen.tap_inline(t(LANG, "✔️ Done"))
        await until(chosen, t(LANG, "⏳ How long did it take?"))
        assert chosen.bot_messages()[-1]["message_id"] == accepted["message_id"]
    for n, h in enumerate(helpers):
        if n != winner:
            await until(h, t(LANG, TAKEN))
            [taken] = [m for m in h.bot_messages() if t(LANG, TAKEN) in (m["text"] or "")]
            assert taken["kind"] == ("text" if n == 2 else "voice")
            assert not h.inline_labels(taken)
    async with sessions() as s:
        assert (await s.get(Order, order.id)).volunteer_id == await member_id(sessions, chosen)


# ---------------------------------------------------------------- faults


async def eventually(check, timeout: float = 10.0):  # noqa: ASYNC109
    """Poll `check()` (async) until it returns something truthy; returns that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} still false after {timeout}s")
        await asyncio.sleep(0.05)
    return result


async def nudge_rows(sessions, persona: Persona) -> list[OutboxMessage]:
    vid = await member_id(sessions, persona)
    async with sessions() as s:
        return list(
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.member_id == vid, OutboxMessage.kind == "nudge")
                .order_by(OutboxMessage.id)
            )
        )


async def settled_nudge_rows(sessions, persona: Persona) -> list[OutboxMessage]:
    """The nudge rows once none is mid-send: a member sees a message before its sender has
    recorded it as sent."""

    async def settled() -> list[OutboxMessage] | None:
        rows = await nudge_rows(sessions, persona)
        return rows if all(r.status != OutboxStatus.SENDING for r in rows) else None

    return await eventually(settled)


async def set_paused(sessions, persona: Persona, paused: bool) -> None:
    vid = await member_id(sessions, persona)
    async with transaction(sessions, write=True) as s:
        await volunteers.set_paused(s, vid, paused)


async def is_blocked(sessions, persona: Persona) -> bool:
    vid = await member_id(sessions, persona)
    async with sessions() as s:
        return await s.get(BlockedMember, vid) is not None


async def test_flood_control_pauses_every_send_and_the_nudge_goes_once(
    person, sessions, client
) -> None:
    tom = await volunteer(person, sessions, "Tom", LANG, 0.001)
    ann = await volunteer(person, sessions, "Ann", LANG, 0.002)
    await set_paused(sessions, ann, True)
    await ask(person, sessions, "Margaret")
    await client.add_fault("sendMessage", status=429, retry_after=4)
    loop = asyncio.get_running_loop()
    now = utcnow()
    assert (await sweep(sessions, now)).nudged == 1

    async def fault_used() -> bool:
        return not await client.faults()

    await eventually(fault_used)
    throttled_at = loop.time()
    # Ann's chat is free, but the whole sender waits out Telegram's retry_after.
    await set_paused(sessions, ann, False)
    assert (await sweep(sessions, now + timedelta(minutes=11))).nudged == 1
    await asyncio.sleep(throttled_at + 3 - loop.time())
    for v in (tom, ann):
        await v.sync()
        assert nudges_to(v) == []
    for v in (tom, ann):
        await until(v, t(LANG, NUDGE), timeout=8)
    await asyncio.sleep(1)
    for v in (tom, ann):
        await v.sync()
        assert len(nudges_to(v)) == 1
    # Flood control is not a failed attempt: it never makes the sender give a message up.
    [tom_row] = await settled_nudge_rows(sessions, tom)
    [ann_row] = await settled_nudge_rows(sessions, ann)
    assert (tom_row.status, tom_row.attempts, tom_row.error) == (OutboxStatus.SENT, 1, "429")
    assert (ann_row.status, ann_row.attempts, ann_row.error) == (OutboxStatus.SENT, 1, "")


async def test_a_message_waiting_its_turn_goes_right_after_a_restart(
    person, sessions, client, running_bot
) -> None:
    """While a message waits out flood control it is not claimed (a message is claimed
    only as its request leaves): restarted meanwhile, the next run sends it at once, and
    only once."""
    tom = await volunteer(person, sessions, "Tom", LANG, 0.001)
    ann = await volunteer(person, sessions, "Ann", LANG, 0.002)
    await set_paused(sessions, ann, True)
    await ask(person, sessions, "Margaret")
    await client.add_fault("sendMessage", status=429, retry_after=30)
    now = utcnow()
    assert (await sweep(sessions, now)).nudged == 1

    async def fault_used() -> bool:
        return not await client.faults()

    await eventually(fault_used)
    await set_paused(sessions, ann, False)
    assert (await sweep(sessions, now + timedelta(minutes=11))).nudged == 1
    await asyncio.sleep(1.5)  # the sender has it, waiting for the pace
    [row] = await nudge_rows(sessions, ann)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    await running_bot.restart()
    await until(ann, t(LANG, NUDGE), timeout=8)
    [row] = await settled_nudge_rows(sessions, ann)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    await tom.sync()
    assert nudges_to(tom) == []


@pytest.mark.parametrize(
    "fault",
    [{"status": 502}, {"status": 500, "times": 2}, {"kind": "drop"}],
    ids=["bad-gateway", "server-error-twice", "dropped-connection"],
)
async def test_server_errors_and_dropped_connections_are_retried(
    person, sessions, client, fault
) -> None:
    tom = await volunteer(person, sessions, "Tom", LANG, 0.001)
    await ask(person, sessions, "Margaret")
    await client.add_fault("sendMessage", **fault)
    assert (await sweep(sessions, utcnow())).nudged == 1
    await until(tom, t(LANG, NUDGE), timeout=15)
    [row] = await settled_nudge_rows(sessions, tom)
    assert row.status == OutboxStatus.SENT and row.attempts == fault.get("times", 1) + 1
    await asyncio.sleep(0.5)
    await tom.sync()
    assert len(nudges_to(tom)) == 1


async def test_blocked_by_a_member_then_they_write_again(person, sessions, client) -> None:
    tom = await volunteer(person, sessions, "Tom", LANG, 0.001)
    await ask(person, sessions, "Margaret")
    await client.add_fault(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    now = utcnow()
    assert (await sweep(sessions, now)).nudged == 1

    async def nudge_blocked() -> bool:
        rows = await nudge_rows(sessions, tom)
        return bool(rows) and rows[0].status == OutboxStatus.BLOCKED

    await eventually(nudge_blocked)
    assert await is_blocked(sessions, tom)
    # The next request's wave passes Tom by.
    second = await ask(person, sessions, "Lily")
    report = await sweep(sessions, now + timedelta(seconds=1))
    assert (second.id, 1) in report.waves and report.nudged == 0

    # Tom writes to the bot again: he can be reached, and the next wave nudges him.
    await tom.command("/start")
    await tom.wait_reply()
    assert not await is_blocked(sessions, tom)
    report = await sweep(sessions, now + timedelta(minutes=11))
    assert (second.id, 2) in report.waves and report.nudged == 1
    await until(tom, t(LANG, NUDGE))
    assert len(nudges_to(tom)) == 1


async def test_a_member_who_blocks_and_unblocks_the_bot(person, sessions, client) -> None:
    tom = await volunteer(person, sessions, "Tom", LANG, 0.001)
    await tom.block()

    async def blocked() -> bool:
        return await is_blocked(sessions, tom)

    await eventually(blocked)
    order = await ask(person, sessions, "Margaret")
    now = utcnow()
    report = await sweep(sessions, now)
    assert (order.id, 1) in report.waves and report.nudged == 0

    await tom.unblock()

    async def unblocked() -> bool:
        return not await is_blocked(sessions, tom)

    await eventually(unblocked)
    assert (await sweep(sessions, now + timedelta(minutes=11))).nudged == 1
    await until(tom, t(LANG, NUDGE))
    [row] = await settled_nudge_rows(sessions, tom)
    assert row.status == OutboxStatus.SENT


async def test_a_gift_receipt_goes_through_the_outbox_once_despite_flood_control(
    person, sessions, client
) -> None:
    father = await member(person, sessions, "George", LANG)
    daughter = await member(person, sessions, "Lily", LANG)
    await link_family(father, daughter, LANG)
    await grant(sessions, await member_id(sessions, daughter), 300)
    await daughter.tap(t(LANG, "📒 My passbook"))
    await daughter.wait_reply()
    await daughter.tap_inline(t(LANG, "🎁 Give hours to family"))
    await daughter.wait_reply()
    await daughter.tap_inline("👤 George")
    await daughter.wait_reply()
    await daughter.tap_inline(t(LANG, "1 hour"))
    await daughter.wait_reply()
    await client.add_fault("sendMessage", status=429, retry_after=2)
    assert (await daughter.tap_inline(t(LANG, "✅ Confirm")))["text"] == t(LANG, "Given!")
    receipt = await until(father, "🎁 Lily", timeout=10)
    assert "George" not in receipt
    await asyncio.sleep(0.5)
    await father.sync()
    assert len([m for m in father.bot_messages() if "🎁 Lily" in (m["text"] or "")]) == 1

    async def receipt_recorded() -> OutboxMessage | None:
        async with sessions() as s:
            [row] = await s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "gift_received")
            )
        return row if row.status != OutboxStatus.SENDING else None

    row = await eventually(receipt_recorded)
    assert row.status == OutboxStatus.SENT and row.error == "429"


async def test_a_cancelled_request_closes_the_nudges_still_waiting(person, sessions) -> None:
    tom = await volunteer(person, sessions, "Tom", LANG, 0.001)
    resident, order = await asker(person, sessions, "Margaret")
    assert (await sweep(sessions, utcnow())).nudged == 1
    await until(tom, t(LANG, NUDGE))
    await resident.tap(t(LANG, "📋 My requests"))
    listing = await resident.wait_reply()
    await resident.tap_inline(resident.inline_labels(listing)[0])
    await resident.wait_reply()
    await resident.tap_inline(t(LANG, "✖️ Cancel this request"))
    await resident.wait_reply()
    await resident.tap_inline(t(LANG, "I found help elsewhere"))
    closed = t(LANG, "This request is no longer open. Thank you for looking!")
    await until(tom, closed)
    [message] = [m for m in tom.bot_messages() if closed in (m["text"] or "")]
    assert not tom.inline_labels(message)
    async with sessions() as s:
        assert (await s.get(Order, order.id)).status == "cancelled"
