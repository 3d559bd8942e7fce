"""The wizards on the step machine, at their edges, through the local Bot API server: Back at
every step goes one question back, Cancel leaves and saves nothing, a sticker where words
were asked and a 5,000-character answer get a short kind word and the question again.

Starting a class, sharing a parking space, a seat for a child, a new market day, booking
a market day for someone else and a coordinator's announcement."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.broadcasts.tables import Broadcast
from core.demo import DEMO_MARKET_KEY
from core.market.tables import MarketEvent
from core.models import Member
from core.rewards.tables import CommunityClass, Enrolment, ParkingSpace
from tests.bot.lang import t
from tests.bot.test_class_wizards import _open_classes
from tests.bot.test_request_help import coordinator_member, member, tap_shown
from tests.bot.test_volunteer_journey import until, volunteer

LONG = "x" * 4096  # the longest message Telegram (and the sandbox) lets a user send
BACK, CANCEL = "⬅️ Back", "✖️ Cancel"
MENU = "🙋 Ask for help"  # the main menu is back
NOTHING_CHANGED = "All right, nothing was changed."
ANSWER = "Please answer with the buttons below, or type the answer."


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


@pytest.fixture(autouse=True)
def _scripted_pace(monkeypatch) -> None:
    """A walk through every step with Back at each is some forty messages in a few seconds,
    faster than a person writes: on a quiet machine flood protection (`bot.flood`) slowed
    it down and the test missed an answer. Its burst is raised past the walk, not turned off."""
    monkeypatch.setenv("TIMEBANK_FLOOD_BURST", "200")


def said(p, part: str) -> int:
    """How many of the bot's messages to `p` contain `part`."""
    return sum(part in (m.get("text") or "") for m in p.bot_messages())


async def asked_again(p, part: str, before: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until the bot has said `part` once more than `before` times."""
    await p.sync()
    if said(p, part) <= before:
        await p.wait_for(lambda _e: said(p, part) > before, timeout)


async def answers(p, send, part: str) -> None:
    """Do `send` (an answer, Back, Cancel), then wait for the bot to say `part` once more."""
    await p.sync()
    before = said(p, part)
    await send()
    await asked_again(p, part, before)


async def walk(p, steps: list[tuple[str, object]], *, back: bool = True) -> None:
    """Answer each (question, answer) in turn; at every question after the first, Back first
    shows the question before it, which is answered again."""
    for index, (question, answer) in enumerate(steps):
        if index and back:
            previous, previous_answer = steps[index - 1]
            await answers(p, lambda: p.tap(BACK), previous)
            await answers(p, lambda a=previous_answer: reply(p, a), question)
        if index + 1 < len(steps):
            await answers(p, lambda a=answer: reply(p, a), steps[index + 1][0])


async def reply(p, answer) -> None:
    """A label on the keyboard is tapped, anything else typed; a number picks a button."""
    if isinstance(answer, int):
        if len(p.keyboard_labels()) <= answer:
            await p.wait_for(lambda _e: len(p.keyboard_labels()) > answer, 8)
        await p.tap(p.keyboard_labels()[answer])
    elif answer in p.keyboard_labels():
        await p.tap(answer)
    else:
        await p.send(answer)


async def bad_input(p, question: str, hint: str, long_hint: str) -> None:
    """A sticker, then 5,000 characters: a kind word each time, and the question again."""
    for send, expected in ((p.send_sticker, hint), (lambda: p.send(LONG), long_hint)):
        await answers(p, send, expected)
        told = [m["text"] for m in p.bot_messages() if expected in (m.get("text") or "")]
        assert question in told[-1], told[-1]


CLASS_STEPS = [
    ("🎓 What is the class called? Please type a short title.", "Karate"),
    ("What will people learn? Type a few words, or skip.", "Skip ➡️"),
    ("📅 On which day is the first session?", 1),
    ("🕒 At what time? Tap one, or type it like 9:30.", "10:00"),
    ("🔁 How often?", "Just once"),
    ("🪑 How many seats? Tap one, or type a number.", "8"),
    ("👪 Who is it for? Tap one, type it, or skip.", "Skip ➡️"),
    ("📍 Where is it? Please type the place.", "Hall"),
    ("💳 Is it free, or do attendees pay credit each time?", "🆓 Free"),
    ("Please check your class:", None),
]


async def count(sessions, table) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(table))


async def test_starting_a_class_back_and_cancel_at_every_step(person, sessions) -> None:
    lang = "en"
    teacher = await volunteer(person, sessions, "Tess", lang, 0.001)
    await _open_classes(teacher, lang)
    await teacher.tap_inline(t(lang, "➕ Start a class"))
    title = CLASS_STEPS[0][0]
    await until(teacher, title)
    await bad_input(teacher, title, ANSWER, "Please keep it under 100 letters.")
    await answers(teacher, lambda: teacher.tap(BACK), NOTHING_CHANGED)  # Back from the first
    assert MENU in teacher.keyboard_labels()

    await teacher.tap_inline(t(lang, "➕ Start a class"))
    await asked_again(teacher, title, said(teacher, title) - 1)
    classes = await count(sessions, CommunityClass)
    await walk(teacher, CLASS_STEPS)
    await answers(teacher, teacher.send_sticker, ANSWER)  # at the review
    await answers(teacher, lambda: teacher.tap(CANCEL), NOTHING_CHANGED)
    assert MENU in teacher.keyboard_labels()
    assert await count(sessions, CommunityClass) == classes


async def test_sharing_a_parking_space_back_and_cancel_at_every_step(person, sessions) -> None:
    owner = await member(person, sessions, "Owen", "en", branch="luoshan")
    await owner.tap("📍 Near me")
    await owner.wait_for(lambda _e: "🅿️ Parking spaces" in owner.inline_labels(), 8)
    await owner.tap_inline("🅿️ Parking spaces")
    await owner.wait_for(lambda _e: "➕ Share my parking space" in owner.inline_labels(), 8)
    await owner.tap_inline("➕ Share my parking space")
    where = "🅿️ Where is the space exactly?"
    await until(owner, where)
    await bad_input(owner, where, ANSWER, "Please keep it under 300 letters.")
    steps = [
        (where, "Block 5"),
        ("Anything neighbours should know", "Skip ➡️"),
        ("📅 On which day is it free?", 2),
        ("🕒 Free from what time?", "8:00"),
        ("🕒 Free until what time?", "18:00"),
        ("Please check:", None),
    ]
    spaces = await count(sessions, ParkingSpace)
    await walk(owner, steps)
    await answers(owner, lambda: owner.tap(CANCEL), NOTHING_CHANGED)
    assert MENU in owner.keyboard_labels()
    assert await count(sessions, ParkingSpace) == spaces


async def test_a_seat_for_a_child_back_cancel_and_bad_names(person, sessions) -> None:
    teacher = await volunteer(person, sessions, "Tess", "en", 0.001)
    await _open_classes(teacher, "en")
    await teacher.tap_inline("➕ Start a class")
    await until(teacher, CLASS_STEPS[0][0])
    await walk(teacher, CLASS_STEPS, back=False)
    await tap_shown(teacher, "✅ Create the class")
    await until(teacher, "🎉 Your class")

    parent = await member(person, sessions, "Pat", "en", branch="luoshan")
    await _open_classes(parent, "en")
    await parent.tap_inline(next(b for b in parent.inline_labels() if b.endswith("Karate")))
    seats = await count(sessions, Enrolment)
    seat = "👧 A seat for a child"
    await parent.wait_for(lambda _e: seat in parent.inline_labels(), 8)
    question = "👧 What is the child's name? Please type it."
    for leave in (BACK, CANCEL):
        await parent.tap_inline(seat)
        await asked_again(parent, question, said(parent, question))
        await answers(parent, lambda label=leave: parent.tap(label), NOTHING_CHANGED)
        assert MENU in parent.keyboard_labels()
    await parent.tap_inline(seat)
    await asked_again(parent, question, said(parent, question))
    too_long = "Please type the child's name as a short text, up to 64 letters."
    await bad_input(parent, question, too_long, too_long)
    assert await count(sessions, Enrolment) == seats


async def test_a_new_market_day_back_and_cancel_at_every_step(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", "en")
    events = await count(sessions, MarketEvent)
    await coordinator.command("/newmarket")
    name = "🎪 A new market day. What is it called?"
    await until(coordinator, name)
    or_type = "Please choose one of the buttons below, or type it."
    await bad_input(coordinator, name, or_type, "up to 80 letters")
    steps = [
        (name, "Harvest market"),
        ("Which day? Tap one, or type the date", 0),
        ("From when to when?", "9:00–11:30"),
        ("Where is it? Type the venue's address.", "300 Luoshan Road"),
        ("Send the venue's pin", "Skip ➡️"),
        ("What is the first stand?", "Haircuts"),
        ("How many people can it serve every half hour?", "2"),
        ("Who runs this stand", "Skip ➡️"),
        ("Add another stand, or create the market day?", None),
    ]
    await walk(coordinator, steps)
    # A further stand's name goes Back to the list of stands.
    await answers(coordinator, lambda: coordinator.tap("➕ Add another stand"), "What is the next")
    await answers(coordinator, lambda: coordinator.tap(BACK), steps[-1][0])
    await answers(coordinator, lambda: coordinator.tap(CANCEL), "Okay, no market day was created.")
    assert MENU in coordinator.keyboard_labels()
    assert await count(sessions, MarketEvent) == events


async def test_booking_a_market_day_for_someone_else_at_its_edges(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", "en")
    async with sessions() as s:
        event_id = await s.scalar(select(MarketEvent.id).where(MarketEvent.key == DEMO_MARKET_KEY))
    await coordinator.command(f"/start ev-{event_id}")
    await coordinator.wait_reply()
    await coordinator.tap_inline("🤲 Book for someone else")
    who = "Who are you booking for?"
    await until(coordinator, who)
    await answers(coordinator, coordinator.send_sticker, "Please choose one of the buttons below.")
    name = "What is the name of the person you are booking for?"
    await answers(coordinator, lambda: coordinator.tap("➕ Someone without a phone"), name)
    await bad_input(coordinator, name, "or type it.", "up to 64 letters")
    await answers(coordinator, lambda: coordinator.send("Grandma Zhou"), "What is their home")
    await answers(coordinator, lambda: coordinator.tap(BACK), name)
    await answers(coordinator, lambda: coordinator.tap(BACK), who)
    await answers(coordinator, lambda: coordinator.tap(CANCEL), "Okay, nothing was booked.")
    assert MENU in coordinator.keyboard_labels()
    async with sessions() as s:
        assert await s.scalar(select(Member.id).where(Member.name == "Grandma Zhou")) is None


async def test_an_announcement_back_and_cancel_at_every_step(person, sessions) -> None:
    li = await coordinator_member(person, sessions, "Li Wei", "en")
    await member(person, sessions, "Margaret", "en", branch="luoshan")
    announcements = await count(sessions, Broadcast)
    await li.command("/broadcast")
    role = "Who should get the announcement?"
    await until(li, role)
    await answers(li, li.send_sticker, "Please choose one of the buttons below.")
    await answers(li, lambda: li.send(LONG), "Please choose one of the buttons below.")
    narrow = "Send it to all of them, or only to some?"
    await answers(li, lambda: li.tap("👥 Everyone"), narrow)
    await answers(li, lambda: li.tap("🌐 Only one language"), "Which language do they read?")
    await answers(li, lambda: li.tap(BACK), narrow)
    await answers(li, lambda: li.tap("🌐 Only one language"), "Which language do they read?")
    await answers(li, lambda: li.tap("English"), narrow)
    english = "Please write the announcement in English."
    await answers(li, lambda: li.tap("✅ Go on with these"), english)
    await answers(li, li.send_sticker, "Please type the text of the announcement.")
    await answers(li, lambda: li.tap(BACK), narrow)
    await answers(li, lambda: li.tap("✅ Go on with these"), english)
    steps = [
        (english, "The market opens at 9."),
        ("Would you like to add a photo or a poster?", "Skip ➡️"),
        ("Would you like a button under the announcement?", "🔗 A link"),
        ("Please send the link. It starts with https://", None),
    ]
    await walk(li, steps)
    await answers(li, lambda: li.send("not a link"), steps[-1][0])
    await answers(li, lambda: li.tap(CANCEL), "Okay, nothing was sent.")
    assert MENU in li.keyboard_labels()
    assert await count(sessions, Broadcast) == announcements


async def test_a_market_days_desk_and_changes_at_their_edges(person, sessions) -> None:
    coordinator = await coordinator_member(person, sessions, "Li Wei", "en")
    async with sessions() as s:
        event = await s.scalar(select(MarketEvent).where(MarketEvent.key == DEMO_MARKET_KEY))
    unchanged = (event.starts_at, event.venue_address)

    async def open_event(button: str) -> None:
        await coordinator.command(f"/start ev-{event.id}")
        await coordinator.wait_for(lambda _e: button in coordinator.inline_labels(), 8)
        await coordinator.tap_inline(button)

    hours_invalid = "Please give opening and closing times"
    await open_event("✏️ Change day or hours")
    await until(coordinator, "Type the new day and hours, like")
    await answers(coordinator, coordinator.send_sticker, hours_invalid)
    await answers(coordinator, lambda: coordinator.send(LONG), hours_invalid)
    await answers(coordinator, lambda: coordinator.tap(BACK), "Okay, nothing was changed.")
    assert MENU in coordinator.keyboard_labels()

    address = "Type the new address of the venue."
    await open_event("📍 Change the place")
    await until(coordinator, address)
    await bad_input(coordinator, address, "or type it.", "up to 300 letters")
    pin = "Send the venue's pin"
    await answers(coordinator, lambda: coordinator.send("2 Luoshan Road"), pin)
    await answers(coordinator, coordinator.send_sticker, "or type it.")
    await answers(coordinator, lambda: coordinator.tap(BACK), address)
    await answers(coordinator, lambda: coordinator.tap(CANCEL), "Okay, nothing was changed.")

    number = "Please type the booking number, like 12."
    await open_event("✅ Check people in")
    await until(coordinator, "Checking people in")
    await answers(coordinator, coordinator.send_sticker, number)
    await answers(coordinator, lambda: coordinator.send(LONG), number)
    await answers(coordinator, lambda: coordinator.tap(BACK), "The check-in desk is closed.")
    assert MENU in coordinator.keyboard_labels()
    async with sessions() as s:
        event = await s.get(MarketEvent, event.id, populate_existing=True)
        assert (event.starts_at, event.venue_address) == unchanged
