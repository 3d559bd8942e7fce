"""A coordinator's announcement: branch → who → narrow down (count shown) → the text in each
language the audience reads → for readers of a language left empty → photo → button →
preview of each language → send now or at a time.

One question per message, Back and Cancel at every step. The draft lives in the FSM data as
plain JSON values (it survives a restart); `draft`, a random id made when the conversation
starts, becomes the broadcast's idempotency key, so a second tap on Send makes nothing new.
Back goes to the step asked before (`trail`); Cancel leaves and sends nothing. Sending
itself is the broadcast job's (`bot.scheduler`): a scheduled broadcast survives restarts.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.broadcasts import views
from bot.handlers.broadcasts.callbacks import CoordinatorTool, Tool
from bot.handlers.market import views as market_views
from bot.kit import keyboards, labels
from bot.kit.formatters import category_text, error_text, language
from bot.kit.screens import Asks, Screen
from bot.kit.screens import Button as Key
from bot.kit.steps import Steps, Turn
from bot.kit.times import clock, day_text
from core import broadcasts, catalog, market, schedule
from core.broadcasts import Audience, Button, Draft, Near
from core.broadcasts.compose import MAX_TEXT, message_of
from core.broadcasts.tables import Broadcast
from core.coordinators import coordinator_branches
from core.db import utcnow
from core.errors import DomainError, InvalidInput
from core.languages import LANGUAGES, NATIVE_NAMES
from core.models import Branch, Member
from core.volunteers import CoordinatorOnly


class Compose(StatesGroup):
    branch = State()
    role = State()
    narrow = State()
    by_language = State()
    by_skill = State()
    by_area = State()
    by_place = State()
    by_radius = State()
    text = State()
    fallback = State()
    photo = State()
    button = State()
    link = State()
    when = State()
    day = State()
    hour = State()


EVERYONE = __("👥 Everyone")
RESIDENTS = __("🙋 Residents")
VOLUNTEERS = __("🤝 Volunteers")
COORDINATORS = __("🧑‍💼 Coordinators")
ROLES = (
    (EVERYONE, ()),
    (RESIDENTS, ("resident",)),
    (VOLUNTEERS, ("volunteer",)),
    (COORDINATORS, ("coordinator",)),
)
GO_ON = __("✅ Go on with these")
ONLY_LANGUAGE = __("🌐 Only one language")
ONLY_SKILL = __("🛠 Only one skill")
ONLY_AREA = __("🏘 Only one neighbourhood")
ONLY_NEAR = __("📍 Only near a place")
START_AGAIN = __("🔄 Everyone again")
SHARE_PLACE = __("📍 Share the place")
RADII = ((500, __("500 m")), (1000, __("1 km")), (2000, __("2 km")), (5000, __("5 km")))
NOTHING_FOR_THEM = __("🚫 Nothing for them")
THEIR_TEXT = __("Send them the text in {language}")
NO_BUTTON = __("No button")
LINK_BUTTON = __("🔗 A link")
EVENT_BUTTON = __("📅 Open the market day")
COME_BUTTON = __("🙋 “I'll come”")
LINK_LABEL = __("🔗 Read more")
EVENT_LABEL = __("🎪 See the stands and book")  # the market days' own words
SEND_NOW = __("📤 Send now")
SEND_LATER = __("🕒 Send later")
HOURS = (time(9), time(10), time(14), time(18))
DAYS_AHEAD = 7


def _pick(text: str | None, options: list[Any]) -> Any:
    """The option whose label (in the reader's language) is `text`."""
    return next((option for option in options if text == str(option)), None)


def _everyone_texts() -> dict[str, str]:
    """A text in every language, to count the whole audience by the language it reads."""
    return {code: "·" for code in LANGUAGES}


def _audience(data: dict[str, Any]) -> Audience:
    near = data.get("near")
    return Audience(
        branch_ids=tuple(data["branch_ids"]),
        roles=tuple(data.get("roles") or ()),
        languages=tuple(data.get("languages") or ()),
        skill_id=data.get("skill_id"),
        neighbourhood_ids=tuple(data.get("neighbourhood_ids") or ()),
        near=Near(**near) if near else None,
    )


def _draft(data: dict[str, Any]) -> Draft:
    return Draft(
        texts=dict(data.get("texts") or {}),
        audience=_audience(data),
        fallback_language=data.get("fallback"),
        photo_file_id=data.get("photo"),
        buttons=tuple(Button.from_dict(b) for b in data.get("buttons") or ()),
    )


def in_every_language(label: Any) -> dict[str, str]:
    """A button label as each language says it (members read the one of their language)."""
    i18n = get_i18n()
    said = {}
    for code in LANGUAGES:
        with i18n.use_locale(code):
            said[code] = str(label)
    return said


async def _counted(session: AsyncSession, member: Member, data: dict[str, Any]):
    draft = Draft(texts=_everyone_texts(), audience=_audience(data))
    return await broadcasts.count_audience(session, member.id, draft)


def _to_write(data: dict[str, Any]) -> list[str]:
    """The languages the audience reads, in the order the bot offers them."""
    reads = data.get("reads") or {}
    return [code for code in LANGUAGES if reads.get(code)]


def _missing(data: dict[str, Any]) -> dict[str, int]:
    """Readers of a language left empty, per language."""
    texts, reads = data.get("texts") or {}, data.get("reads") or {}
    return {code: reads[code] for code in _to_write(data) if not texts.get(code)}


def _days(time_zone: str) -> list[date]:
    today = schedule.local_today(time_zone, utcnow())
    return [today + timedelta(days=n) for n in range(DAYS_AHEAD)]


def _day_label(day: date, time_zone: str) -> str:
    return day_text(day, schedule.local_today(time_zone, utcnow()), short=True)


def _parse_hour(text: str) -> time | None:
    try:
        hours, minutes = [*text.strip().replace("：", ":").split(":"), "0"][:2]
        return time(int(hours), int(minutes))
    except ValueError:
        return None


# ---------------------------------------------------------------- the questions


async def prompt(state: State, turn: Turn) -> Screen:
    """The question of a step (of the language being written, for a text) and its buttons."""
    data, session = await turn.data(), turn.session
    step, reply = current_step(data), keyboards.reply
    if state == Compose.branch:
        branches = [await session.get(Branch, b) for b in data["choices"]]
        names = [catalog.localized(b.names, language()) for b in branches if b]
        return Screen(_("Which branch is the announcement for?"), reply([[n] for n in names]))
    if state == Compose.role:
        return Screen(_("Who should get the announcement?"), reply(
            [[str(EVERYONE)], [str(RESIDENTS), str(VOLUNTEERS)], [str(COORDINATORS)]]
        ))  # fmt: skip
    if state == Compose.narrow:
        rows = [[str(GO_ON)], [str(ONLY_LANGUAGE), str(ONLY_SKILL)]]
        rows += [[str(ONLY_AREA), str(ONLY_NEAR)]]
        if data.get("narrowed"):
            rows.append([str(START_AGAIN)])
        question = _("Send it to all of them, or only to some?")
        return Screen(f"{data.get('count_text', '')}\n\n{question}", reply(rows))
    if state == Compose.by_language:
        rows = [[NATIVE_NAMES[code]] for code in LANGUAGES]
        return Screen(_("Which language do they read?"), reply(rows))
    if state == Compose.by_skill:
        names = [category_text(c) for c in await catalog.categories(session)]
        return Screen(_("Volunteers with which skill?"), reply(keyboards.in_pairs(names)))
    if state == Compose.by_area:
        areas = await catalog.neighbourhoods(session, data["branch_ids"][0])
        names = [catalog.localized(a.names, language()) for a in areas]
        return Screen(_("Which neighbourhood?"), reply(keyboards.in_pairs(names)))
    if state == Compose.by_place:
        return Screen(
            _("Near which place? Tap the button to share it, or send a location pin."),
            reply([[Key(str(SHARE_PLACE), asks=Asks.LOCATION)]]),
        )
    if state == Compose.by_radius:
        radii = [str(label) for _metres, label in RADII]
        return Screen(_("How far from that place?"), reply(keyboards.in_pairs(radii)))
    if state == Compose.text:
        return text_question(step.split(":", 1)[1], data)
    if state == Compose.fallback:
        return fallback_question(data)
    return later_question(state, data)


def text_question(code: str, data: dict[str, Any]) -> Screen:
    count = (data.get("reads") or {}).get(code, 0)
    question = ngettext(
        "Please write the announcement in {language}. {count} member reads it. "
        "Or tap Skip to leave this language out.",
        "Please write the announcement in {language}. {count} members read it. "
        "Or tap Skip to leave this language out.",
        count,
    ).format(language=NATIVE_NAMES[code], count=count)
    return Screen(question, keyboards.reply([[str(labels.SKIP)]], placeholder=NATIVE_NAMES[code]))


def fallback_question(data: dict[str, Any]) -> Screen:
    missing = _missing(data)
    names = ", ".join(NATIVE_NAMES[code] for code in missing)
    count = sum(missing.values())
    question = ngettext(
        "{count} member reads {languages}, and there is no text in it. What should they get?",
        "{count} members read {languages}, and there is no text in it. What should they get?",
        count,
    ).format(count=count, languages=names)
    rows = [
        [str(THEIR_TEXT).format(language=NATIVE_NAMES[code])]
        for code in LANGUAGES
        if (data.get("texts") or {}).get(code)
    ]
    return Screen(question, keyboards.reply([*rows, [str(NOTHING_FOR_THEM)]]))


def later_question(state: State, data: dict[str, Any]) -> Screen:
    """The photo, the button, and when it goes out."""
    reply = keyboards.reply
    if state == Compose.photo:
        return Screen(
            _("Would you like to add a photo or a poster? Send it now, or tap Skip."),
            reply([[str(labels.SKIP)]]),
        )
    if state == Compose.button:
        rows = [[str(LINK_BUTTON)]]
        if data.get("event_id"):
            rows.append([str(EVENT_BUTTON), str(COME_BUTTON)])
        rows.append([str(NO_BUTTON)])
        question = _("Would you like a button under the announcement?")
        if data.get("event_name"):
            question += "\n" + _("The market day: {name}").format(name=data["event_name"])
        return Screen(question, reply(rows))
    if state == Compose.link:
        return Screen(
            _("Please send the link. It starts with https://"), reply([], placeholder="https://")
        )
    if state == Compose.when:
        return Screen(_("When should it go out?"), reply([[str(SEND_NOW)], [str(SEND_LATER)]]))
    if state == Compose.day:
        days = [_day_label(d, data["time_zone"]) for d in _days(data["time_zone"])]
        return Screen(_("Which day?"), reply(keyboards.in_pairs(days)))
    assert state == Compose.hour
    return Screen(
        _("At what time? Tap one, or type it like 9:30."),
        reply(keyboards.in_pairs([clock(h) for h in HOURS]), placeholder="9:30"),
    )


STATE_OF = {
    "branch": Compose.branch,
    "role": Compose.role,
    "narrow": Compose.narrow,
    "by_language": Compose.by_language,
    "by_skill": Compose.by_skill,
    "by_area": Compose.by_area,
    "by_place": Compose.by_place,
    "by_radius": Compose.by_radius,
    "fallback": Compose.fallback,
    "photo": Compose.photo,
    "button": Compose.button,
    "link": Compose.link,
    "when": Compose.when,
    "day": Compose.day,
    "hour": Compose.hour,
}


async def ask(turn: Turn, step: str, hint: str | None = None) -> None:
    """Ask `step` ("text:ko" for a language's text), after a short `hint`. The trail of steps
    asked (for Back) ends with it: asked again, whatever came after it is forgotten."""
    trail = list((await turn.data()).get("trail") or [])
    if step in trail:
        trail = trail[: trail.index(step)]
    await turn.update(trail=[*trail, step])
    await turn.ask(Compose.text if step.startswith("text:") else STATE_OF[step], hint=hint)


def current_step(data: dict[str, Any]) -> str:
    return (data.get("trail") or ["role"])[-1]


def cancel_text() -> str:
    return _("Okay, nothing was sent.")


async def stop(turn: Turn) -> None:
    await turn.leave(cancel_text())


async def refused(turn: Turn, error: DomainError) -> None:
    await turn.leave(error_text(error))


async def back_on_the_trail(turn: Turn) -> bool:
    """Back goes to the step asked before this one; from the first, out."""
    trail = list((await turn.data()).get("trail") or [])
    if len(trail) < 2:
        await stop(turn)
    else:
        await ask(turn, trail[-2])
    return True


steps = Steps(
    Compose,
    name="broadcast",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    back=back_on_the_trail,
    hints={Compose.text: __("Please type the text of the announcement.")},
    # A narrowing, a link or a time that does not fit asks again, saying why; any other
    # refusal (no longer a coordinator of the branch) ends the announcement.
    reask_on=(InvalidInput,),
    refused=refused,
)
router = steps.router


# ---------------------------------------------------------------- starting


@router.message(Command("broadcast"))
async def on_broadcast(message: Message, turn: Turn) -> None:
    await begin(turn)


@router.callback_query(CoordinatorTool.filter(F.action == Tool.COMPOSE))
async def on_compose_button(query: CallbackQuery, turn: Turn) -> None:
    await query.answer()
    await begin(turn)


async def begin(turn: Turn) -> None:
    member = turn.member
    branches = coordinator_branches(member) if member is not None else ()
    if member is None or member.onboarded_at is None or not branches:
        await turn.message.answer(error_text(CoordinatorOnly()))
        return
    await turn.state.set_data({"draft": secrets.token_hex(8), "choices": list(branches)})
    if len(branches) > 1:
        await ask(turn, "branch")
        return
    await _branch_chosen(turn, member, branches[0])


async def _branch_chosen(turn: Turn, member: Member, branch_id: int) -> None:
    branch = await turn.session.get(Branch, branch_id)
    assert branch is not None
    events = await market.upcoming_events(turn.session, member.id)
    event = next((e for e in events if e.branch_id == branch_id), None)
    await turn.update(
        branch_ids=[branch_id],
        time_zone=branch.time_zone,
        event_id=event.id if event else None,
        event_name=catalog.localized(event.names, language()) if event else None,
    )
    await ask(turn, "role")


@router.message(Compose.branch, F.text)
async def on_branch(message: Message, turn: Turn, member: Member) -> None:
    branches = [await turn.session.get(Branch, b) for b in (await turn.data())["choices"]]
    chosen = catalog.named([b for b in branches if b], message.text, language())
    if chosen is None:
        await turn.reask()
        return
    await _branch_chosen(turn, member, chosen.id)


# ---------------------------------------------------------------- who


async def _show_audience(turn: Turn, member: Member) -> None:
    counted = await _counted(turn.session, member, await turn.data())
    await turn.update(reads=counted.by_language, count_text=views.audience_text(counted))
    await ask(turn, "narrow")


@router.message(Compose.role, F.text)
async def on_role(message: Message, turn: Turn, member: Member) -> None:
    roles = next((roles for label, roles in ROLES if message.text == str(label)), None)
    if roles is None:
        await turn.reask()
        return
    await turn.update(
        roles=list(roles), languages=[], skill_id=None, neighbourhood_ids=[], near=None,
        narrowed=False,
    )  # fmt: skip
    await _show_audience(turn, member)


@router.message(Compose.narrow, F.text == START_AGAIN)
async def on_start_again(message: Message, turn: Turn, member: Member) -> None:
    await turn.update(languages=[], skill_id=None, neighbourhood_ids=[], near=None, narrowed=False)
    await _show_audience(turn, member)


@router.message(Compose.narrow, F.text == GO_ON)
async def on_go_on(message: Message, turn: Turn) -> None:
    languages = _to_write(await turn.data())
    if not languages:
        await turn.reask(hint=_("Nobody would get it yet."))
        return
    await turn.update(texts={})
    await ask(turn, f"text:{languages[0]}")


NARROWING = (
    (ONLY_LANGUAGE, "by_language"),
    (ONLY_SKILL, "by_skill"),
    (ONLY_AREA, "by_area"),
    (ONLY_NEAR, "by_place"),
)


@router.message(Compose.narrow, F.text)
async def on_narrow(message: Message, turn: Turn) -> None:
    step = next((step for label, step in NARROWING if message.text == str(label)), None)
    if step is None:
        await turn.reask()
        return
    await ask(turn, step)


async def _narrowed(turn: Turn, member: Member, **values: Any) -> None:
    """Narrowed down: the audience counted again (a narrowing that leaves nobody, or one
    `core` refuses, asks again)."""
    await turn.update(narrowed=True, **values)
    await _show_audience(turn, member)


@router.message(Compose.by_language, F.text)
async def on_by_language(message: Message, turn: Turn, member: Member) -> None:
    code = next((c for c, name in NATIVE_NAMES.items() if name == message.text), None)
    if code is None:
        await turn.reask()
        return
    await _narrowed(turn, member, languages=[code])


@router.message(Compose.by_skill, F.text)
async def on_by_skill(message: Message, turn: Turn, member: Member) -> None:
    categories = await catalog.categories(turn.session)
    chosen = next((c for c in categories if category_text(c) == message.text), None)
    if chosen is None:
        await turn.reask()
        return
    await _narrowed(turn, member, skill_id=chosen.id)


@router.message(Compose.by_area, F.text)
async def on_by_area(message: Message, turn: Turn, member: Member) -> None:
    areas = await catalog.neighbourhoods(turn.session, (await turn.data())["branch_ids"][0])
    chosen = catalog.named(areas, message.text, language())
    if chosen is None:
        await turn.reask()
        return
    await _narrowed(turn, member, neighbourhood_ids=[chosen.id])


@router.message(Compose.by_place, F.location)
async def on_by_place(message: Message, turn: Turn) -> None:
    assert message.location is not None
    await turn.update(place=[message.location.latitude, message.location.longitude])
    await ask(turn, "by_radius")


@router.message(Compose.by_radius, F.text)
async def on_by_radius(message: Message, turn: Turn, member: Member) -> None:
    metres = next((m for m, label in RADII if message.text == str(label)), None)
    place = (await turn.data()).get("place")
    if metres is None or not place:
        await turn.reask()
        return
    near = {"latitude": place[0], "longitude": place[1], "radius_m": metres}
    await _narrowed(turn, member, near=near)


# ---------------------------------------------------------------- the texts


async def _next_text(turn: Turn) -> None:
    """The next language to write, else readers left without a text, else the photo."""
    data = await turn.data()
    languages = _to_write(data)
    current = current_step(data).split(":", 1)[1]
    later = languages[languages.index(current) + 1 :] if current in languages else []
    if later:
        await ask(turn, f"text:{later[0]}")
    elif not data.get("texts"):
        hint = _("Please write the announcement in at least one language.")
        await ask(turn, f"text:{languages[0]}", hint=hint)
    elif _missing(data):
        await ask(turn, "fallback")
    else:
        await turn.update(fallback=None)
        await ask(turn, "photo")


@router.message(Compose.text, F.text == labels.SKIP)
async def on_skip_text(message: Message, turn: Turn) -> None:
    data = await turn.data()
    texts = dict(data.get("texts") or {})
    texts.pop(current_step(data).split(":", 1)[1], None)
    await turn.update(texts=texts)
    await _next_text(turn)


@router.message(Compose.text, F.text)
async def on_text(message: Message, turn: Turn) -> None:
    data = await turn.data()
    text = (message.text or "").strip()
    if len(text) > MAX_TEXT:
        hint = _("Please keep the announcement under {maximum} characters.")
        await turn.reask(hint=hint.format(maximum=MAX_TEXT))
        return
    texts = dict(data.get("texts") or {})
    texts[current_step(data).split(":", 1)[1]] = text
    await turn.update(texts=texts)
    await _next_text(turn)


@router.message(Compose.fallback, F.text)
async def on_fallback(message: Message, turn: Turn) -> None:
    written = [code for code in LANGUAGES if ((await turn.data()).get("texts") or {}).get(code)]
    labelled = {str(THEIR_TEXT).format(language=NATIVE_NAMES[code]): code for code in written}
    chosen = labelled.get(message.text or "")
    if chosen is None and message.text != str(NOTHING_FOR_THEM):
        await turn.reask()
        return
    await turn.update(fallback=chosen)
    await ask(turn, "photo")


# ---------------------------------------------------------------- photo and button


@router.message(Compose.photo, F.photo)
async def on_photo(message: Message, turn: Turn) -> None:
    assert message.photo
    await turn.update(photo=message.photo[-1].file_id)
    await ask(turn, "button")


@router.message(Compose.photo, F.text == labels.SKIP)
async def on_no_photo(message: Message, turn: Turn) -> None:
    await turn.update(photo=None)
    await ask(turn, "button")


@router.message(Compose.button, F.text == LINK_BUTTON)
async def on_link_button(message: Message, turn: Turn) -> None:
    await ask(turn, "link")


@router.message(Compose.button, F.text)
async def on_button(message: Message, turn: Turn, member: Member, bot: Bot) -> None:
    chosen = _pick(message.text, [NO_BUTTON, EVENT_BUTTON, COME_BUTTON])
    event_id = (await turn.data()).get("event_id")
    if chosen is None or (chosen in (EVENT_BUTTON, COME_BUTTON) and not event_id):
        await turn.reask()
        return
    buttons: list[dict[str, Any]] = []
    if chosen == EVENT_BUTTON:
        me = await bot.me()
        url = market_views.event_link(me.username or "", event_id)
        buttons = [Button.link(url, in_every_language(EVENT_LABEL)).to_dict()]
    elif chosen == COME_BUTTON:
        buttons = [Button.coming(event_id).to_dict()]
    await turn.update(buttons=buttons)
    await show_preview(turn, member)


@router.message(Compose.link, F.text)
async def on_link(message: Message, turn: Turn, member: Member) -> None:
    button = Button.link(message.text or "", in_every_language(LINK_LABEL))
    await turn.update(buttons=[button.to_dict()])
    await show_preview(turn, member)


# ---------------------------------------------------------------- preview and send


async def show_preview(turn: Turn, member: Member) -> None:
    """Each language exactly as its readers will get it, then how many get it, then when."""
    draft = _draft(await turn.data())
    counted = await broadcasts.count_audience(turn.session, member.id, draft)
    shown = Broadcast(
        branch_id=draft.audience.branch_ids[0],
        author_id=member.id,
        texts=draft.texts,
        fallback_language=draft.fallback_language,
        photo_file_id=draft.photo_file_id,
        buttons=[b.to_dict() for b in draft.buttons],
        key="",
    )
    for code in LANGUAGES:
        if code in draft.texts:
            await _show_as_read(turn.message, shown, code)
    await turn.update(summary=views.send_summary(counted))
    await ask(turn, "when", hint=views.send_summary(counted))


async def _show_as_read(message: Message, shown: Broadcast, code: str) -> None:
    """The announcement as readers of `code` will get it, under a line saying so."""
    await message.answer(
        _("👀 This is how readers of {language} will see it:").format(language=NATIVE_NAMES[code])
    )
    with get_i18n().use_locale(code):
        screen = views.broadcast_screen(message_of(shown, code), 0, code)
    markup = screen.markup if not screen.more else None
    if screen.photo:
        await message.answer_photo(screen.photo, caption=screen.text, reply_markup=markup)
    else:
        await message.answer(screen.text, reply_markup=markup)
    for index, part in enumerate(screen.more):
        last = index == len(screen.more) - 1
        await message.answer(part, reply_markup=screen.markup if last else None)


async def _send(turn: Turn, member: Member, at: datetime | None) -> None:
    data = await turn.data()
    broadcast_id = await broadcasts.create(
        turn.session, member.id, _draft(data), key=f"tg-broadcast:{data['draft']}"
    )
    await broadcasts.send(turn.session, broadcast_id, member.id, at=at)
    if at is None:
        await turn.leave(_("📤 It is on its way. I will show how it goes in the message below."))
        return
    send_at = at.replace(tzinfo=ZoneInfo(data["time_zone"]))
    await turn.leave(
        _("🕒 It will go out {moment}.").format(
            moment=views.moment_text(send_at, data["time_zone"])
        )
    )
    await turn.message.answer(
        _("Changed your mind? This button stops it."),
        reply_markup=views.scheduled_buttons(broadcast_id),
    )


@router.message(Compose.when, F.text == SEND_NOW)
async def on_send_now(message: Message, turn: Turn, member: Member) -> None:
    await _send(turn, member, None)


@router.message(Compose.when, F.text == SEND_LATER)
async def on_send_later(message: Message, turn: Turn) -> None:
    await ask(turn, "day")


@router.message(Compose.day, F.text)
async def on_day(message: Message, turn: Turn) -> None:
    time_zone = (await turn.data())["time_zone"]
    day = next((d for d in _days(time_zone) if _day_label(d, time_zone) == message.text), None)
    if day is None:
        await turn.reask()
        return
    await turn.update(day=day.isoformat())
    await ask(turn, "hour")


@router.message(Compose.hour, F.text)
async def on_hour(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    text = message.text or ""
    chosen = next((h for h in HOURS if clock(h) == text), None) or _parse_hour(text)
    if chosen is None:
        await turn.reask(hint=_("Please type a time like 9:30."))
        return
    await _send(turn, member, datetime.combine(date.fromisoformat(data["day"]), chosen))
