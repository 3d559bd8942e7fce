"""A shop's staff add an item to their catalogue: shelf → name (in their language) → the
name in the other languages (each may be skipped) → price → photo → stock → how long it is
offered → saved. Back goes one step back, Cancel leaves with nothing saved. The draft is
plain JSON in the FSM data, so it survives a restart."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.support import LazyProxy
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.rewards import views as ui
from bot.kit import keyboards, labels
from bot.kit.formatters import error_text
from bot.kit.keyboards import menu_for
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core import gifts
from core.db import utcnow
from core.errors import DomainError, InvalidInput
from core.languages import LANGUAGES, NATIVE_NAMES
from core.models import Member
from core.rewards import merchants

UNLIMITED = __("♾ Unlimited")
NO_END = __("No end date")
ONE_WEEK = __("One week")
ONE_MONTH = __("One month")
THREE_MONTHS = __("Three months")
PRICES = ((30, labels.HALF_HOUR), (60, labels.ONE_HOUR), (120, labels.TWO_HOURS))
VALIDITY = ((0, NO_END), (7, ONE_WEEK), (30, ONE_MONTH), (91, THREE_MONTHS))


class ItemWizard(StatesGroup):
    category = State()
    name = State()
    other_name = State()
    price = State()
    photo = State()
    stock = State()
    validity = State()


def _own_language(member: Member | None) -> str:
    language = member.language if member else None
    return language if language in LANGUAGES else "en"


def _others(member: Member | None) -> list[str]:
    return [code for code in LANGUAGES if code != _own_language(member)]


def refusal(error: DomainError) -> LazyProxy:
    """A refusal's words as a step's hint, in the language of whoever is shown it."""
    return LazyProxy(lambda: error_text(error), enable_cache=False)


async def prompt(step: State, turn: Turn) -> Screen:
    if step == ItemWizard.category:
        rows = keyboards.in_pairs([ui.category_name(code) for code in merchants.CATEGORIES])
        return Screen(_("Which shelf does the new item go on?"), keyboards.reply(rows))
    if step == ItemWizard.name:
        return Screen(
            _("What is the item called? For example: a 5-litre bottle of cooking oil."),
            keyboards.reply([]),
        )
    if step == ItemWizard.other_name:
        other = _others(turn.member)[(await turn.data()).get("other", 0)]
        return Screen(
            _("Its name in {language}? You may skip this.").format(language=NATIVE_NAMES[other]),
            keyboards.reply([[str(labels.SKIP)]]),
        )
    if step == ItemWizard.price:
        return Screen(
            _("How much time does it cost? Tap a button or type it, like 45 or 1:30."),
            keyboards.reply([[str(label) for _m, label in PRICES]]),
        )
    if step == ItemWizard.photo:
        return Screen(_("Send a photo of it, or skip."), keyboards.reply([[str(labels.SKIP)]]))
    if step == ItemWizard.stock:
        return Screen(
            _("How many do you have? Type a number, or tap Unlimited."),
            keyboards.reply([[str(UNLIMITED)]]),
        )
    assert step == ItemWizard.validity
    return Screen(
        _("How long is it offered?"),
        keyboards.reply(keyboards.in_pairs([str(label) for _d, label in VALIDITY])),
    )


async def stop(turn: Turn) -> None:
    await turn.leave(_("Okay, nothing was added."))


async def back(turn: Turn) -> bool:
    """The names in the other languages are one step asked once per language: Back goes
    through them one by one."""
    step, data = await turn.step(), await turn.data()
    if step == ItemWizard.other_name and data.get("other", 0) > 0:
        await turn.update(other=data["other"] - 1)
        await turn.ask(ItemWizard.other_name)
        return True
    if step == ItemWizard.price:
        await turn.update(other=len(_others(turn.member)) - 1)
    return False


SHORT_NAME = refusal(merchants.ShopTextInvalid(maximum=100))
steps = Steps(
    ItemWizard,
    name="shop_item",
    prompt=prompt,
    cancel=stop,
    way_on=menu_for,
    path=list(ItemWizard.__all_states__),
    back=back,
    hints={
        ItemWizard.name: SHORT_NAME,
        ItemWizard.other_name: SHORT_NAME,
        ItemWizard.price: refusal(merchants.PriceInvalid(maximum=merchants.MAX_PRICE_MINUTES)),
        ItemWizard.photo: __("Please send a photo, or tap “Skip ➡️”."),
        ItemWizard.stock: refusal(merchants.StockInvalid(maximum=merchants.MAX_STOCK)),
    },
    reask_on=(InvalidInput,),
)
router = steps.router


async def start(message: Message, state: FSMContext, session: AsyncSession, member: Member) -> None:
    await state.set_data({"names": {}, "other": 0})
    await steps.turn(message, state, session, member).ask(ItemWizard.category)


@router.message(ItemWizard.category, F.text)
async def on_category(message: Message, turn: Turn) -> None:
    chosen = next(
        (code for code in merchants.CATEGORIES if ui.category_name(code) == message.text), None
    )
    if chosen is None:
        await turn.reask()
        return
    await turn.update(category=chosen)
    await turn.ask(ItemWizard.name)


def _name(text: str) -> str:
    return merchants.clean_texts({"en": text}, 100, required=True)["en"]


@router.message(ItemWizard.name, F.text)
async def on_name(message: Message, turn: Turn, member: Member) -> None:
    names = {
        **(await turn.data()).get("names", {}),
        _own_language(member): _name(message.text or ""),
    }
    await turn.update(names=names, other=0)
    await turn.ask(ItemWizard.other_name)


@router.message(ItemWizard.other_name, F.text)
async def on_other_name(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    index, names = data.get("other", 0), dict(data.get("names", {}))
    language = _others(member)[index]
    if message.text == labels.SKIP:
        names.pop(language, None)
    else:
        names[language] = _name(message.text or "")
    await turn.update(names=names)
    if index + 1 < len(_others(member)):
        await turn.update(other=index + 1)
        await turn.ask(ItemWizard.other_name)
    else:
        await turn.ask(ItemWizard.price)


@router.message(ItemWizard.price, F.text)
async def on_price(message: Message, turn: Turn) -> None:
    minutes = next((m for m, label in PRICES if message.text == label), None)
    if minutes is None:
        minutes = merchants.check_price(typed_minutes(message.text or ""))
    await turn.update(price=minutes)
    await turn.ask(ItemWizard.photo)


def typed_minutes(text: str) -> int:
    """Time as typed ("45", "1:30", "1.5 h"), refused in the shop's words."""
    try:
        return gifts.parse_minutes(text)
    except gifts.AmountInvalid:
        raise merchants.PriceInvalid(maximum=merchants.MAX_PRICE_MINUTES) from None


@router.message(ItemWizard.photo, F.photo)
async def on_photo(message: Message, turn: Turn) -> None:
    assert message.photo
    await turn.update(photo=message.photo[-1].file_id)
    await turn.ask(ItemWizard.stock)


@router.message(ItemWizard.photo, F.text == labels.SKIP)
async def on_no_photo(message: Message, turn: Turn) -> None:
    await turn.update(photo=None)
    await turn.ask(ItemWizard.stock)


@router.message(ItemWizard.stock, F.text)
async def on_stock(message: Message, turn: Turn) -> None:
    text = (message.text or "").strip()
    if text == UNLIMITED:
        stock = None
    elif text.isdigit():
        stock = merchants.check_stock(int(text))
    else:
        raise merchants.StockInvalid(maximum=merchants.MAX_STOCK)
    await turn.update(stock=stock)
    await turn.ask(ItemWizard.validity)


@router.message(ItemWizard.validity, F.text)
async def on_validity(message: Message, turn: Turn, member: Member) -> None:
    days = next((d for d, label in VALIDITY if message.text == label), None)
    if days is None:
        await turn.reask()
        return
    data, now = await turn.data(), utcnow()
    item = await merchants.add_item(
        turn.session,
        member.id,
        category=data["category"],
        names=data["names"],
        price_minutes=data["price"],
        photo_file_id=data.get("photo"),
        stock=data.get("stock"),
        valid_from=now,
        valid_until=now + timedelta(days=days) if days else None,
    )
    await turn.leave(
        _("✅ Added: {item}, {hours}. Members can see it under “🎁 Spend my hours” now.").format(
            item=ui.item_name(item.names), hours=ui.hours(item.price_minutes)
        )
    )
