"""A coordinator adds a partner shop for their branch: its name → address (may be
skipped) → its pin on the map (may be skipped) → how to reach it (may be skipped) → added,
with a one-day code for the first person who serves there. The pin is what puts its items
nearest first under "Near me" and "Spend my hours". Back goes one step back, Cancel leaves
with nothing added."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.rewards import views as ui
from bot.kit import keyboards, labels
from bot.kit.keyboards import menu_for
from bot.kit.screens import Asks, Button, Screen
from bot.kit.steps import Steps, Turn
from core.db import utcnow
from core.errors import InvalidInput
from core.models import Branch, Member
from core.rewards import merchants


class ShopWizard(StatesGroup):
    name = State()
    address = State()
    place = State()
    contact = State()


SHORT_TEXT = __("Please answer with a short text.")


async def prompt(step: State, turn: Turn) -> Screen:
    if step == ShopWizard.name:
        return Screen(_("What is the shop called?"), keyboards.reply([]))
    if step == ShopWizard.address:
        return Screen(
            _("What is its address? You may skip this."), keyboards.reply([[str(labels.SKIP)]])
        )
    if step == ShopWizard.place:
        return Screen(
            _(
                "Where is the shop on the map? Neighbours nearby then see it first. If you "
                "are at the shop, tap the button; if not, send its place with 📎 → Location. "
                "You may skip this."
            ),
            keyboards.reply(
                [[Button(str(labels.SHARE_LOCATION), asks=Asks.LOCATION)], [str(labels.SKIP)]]
            ),
        )
    assert step == ShopWizard.contact
    return Screen(
        _("How can people reach the shop (a phone number or a contact person)? You may skip this."),
        keyboards.reply([[str(labels.SKIP)]]),
    )


async def stop(turn: Turn) -> None:
    await turn.leave(_("Okay, no shop was added."))


steps = Steps(
    ShopWizard,
    name="shop_registration",
    prompt=prompt,
    cancel=stop,
    way_on=menu_for,
    path=[ShopWizard.name, ShopWizard.address, ShopWizard.place, ShopWizard.contact],
    hints={
        ShopWizard.name: SHORT_TEXT,
        ShopWizard.address: SHORT_TEXT,
        ShopWizard.place: __("Please send the shop's place on the map, or tap “Skip ➡️”."),
        ShopWizard.contact: SHORT_TEXT,
    },
    reask_on=(InvalidInput,),
)
router = steps.router


async def start(message: Message, state: FSMContext, session: AsyncSession, member: Member) -> None:
    await state.clear()
    if member.branch_id is None:
        raise merchants.CoordinatorOfBranchOnly()
    await steps.turn(message, state, session, member).ask(ShopWizard.name)


def _typed(message: Message) -> str:
    """The answer to a question that may be skipped."""
    return "" if message.text == labels.SKIP else message.text or ""


@router.message(ShopWizard.name, F.text)
async def on_name(message: Message, turn: Turn) -> None:
    await turn.update(name=merchants.clean_text(message.text or "", 100))
    await turn.ask(ShopWizard.address)


@router.message(ShopWizard.address, F.text)
async def on_address(message: Message, turn: Turn) -> None:
    await turn.update(address=merchants.clean_text(_typed(message), 300, required=False))
    await turn.ask(ShopWizard.place)


@router.message(ShopWizard.place, F.location)
async def on_place(message: Message, turn: Turn) -> None:
    assert message.location is not None
    await turn.update(latitude=message.location.latitude, longitude=message.location.longitude)
    await turn.ask(ShopWizard.contact)


@router.message(ShopWizard.place, F.text == labels.SKIP)
async def on_no_place(message: Message, turn: Turn) -> None:
    await turn.update(latitude=None, longitude=None)
    await turn.ask(ShopWizard.contact)


@router.message(ShopWizard.contact, F.text)
async def on_contact(message: Message, turn: Turn, member: Member, bot: Bot) -> None:
    contact = merchants.clean_text(_typed(message), 100, required=False)
    data = await turn.data()
    assert member.branch_id is not None
    shop = await merchants.register_merchant(
        turn.session,
        member.id,
        member.branch_id,
        name=data["name"],
        address=data.get("address", ""),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        contact=contact,
    )
    assert shop.id is not None
    invite = await merchants.invite_staff(turn.session, member.id, shop.id)
    branch = await turn.session.get(Branch, member.branch_id)
    me = await bot.me()
    link = f"https://t.me/{me.username}?start=mst-{invite.code}"
    await turn.leave(_("✅ {shop} is now a partner shop.").format(shop=escape(shop.name)))
    await message.answer(
        ui.invite_text(shop, invite, link, branch.time_zone if branch else "UTC", utcnow())
    )
