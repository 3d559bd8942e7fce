"""A coordinator records that the branch settled a shop's hours (paid outside the bot, e.g.
by the street office): how many (all of them, or typed) → the reason → confirm. Back goes
one step back, Cancel leaves with nothing recorded. The draft's random id is the posting's
idempotency key, so a second tap on Confirm records it once."""

from __future__ import annotations

import secrets
from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations.shop_item import refusal, typed_minutes
from bot.handlers.rewards import views as ui
from bot.kit import keyboards
from bot.kit.keyboards import menu_for
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn
from core import ledger
from core.errors import InvalidInput
from core.models import Member
from core.rewards import merchants, shop_reports

ALL_OF_IT = __("All of it: {hours}")
CONFIRM = __("✅ Record the settlement")


class SettleWizard(StatesGroup):
    minutes = State()
    reason = State()
    confirm = State()


async def _balance(session: AsyncSession, shop_id: int) -> int:
    shop = await merchants.get_merchant(session, shop_id)
    account = await ledger.merchant_account(session, shop_id, shop.branch_id)
    return (await ledger.balance_of(session, account.id)).balance


async def prompt(step: State, turn: Turn) -> Screen:
    data = await turn.data()
    if step == SettleWizard.minutes:
        balance = await _balance(turn.session, data["shop"])
        await turn.update(balance=balance)
        return Screen(
            _("How much of {shop}'s hours did the branch settle? Type it, like 90 or 1:30.").format(
                shop=escape(data["shop_name"])
            ),
            keyboards.reply(
                [[str(ALL_OF_IT).format(hours=ui.hours(balance))]] if balance > 0 else []
            ),
        )
    if step == SettleWizard.reason:
        return Screen(
            _("Why? For example: paid by the street office for November."), keyboards.reply([])
        )
    assert step == SettleWizard.confirm
    return Screen(
        _("Record that {hours} of {shop} were settled: “{reason}”?").format(
            hours=ui.hours(data["minutes"]),
            shop=escape(data["shop_name"]),
            reason=escape(data["reason"]),
        ),
        keyboards.reply([[str(CONFIRM)]]),
    )


async def stop(turn: Turn) -> None:
    await turn.leave(_("Okay, nothing was recorded."))


steps = Steps(
    SettleWizard,
    name="shop_settlement",
    prompt=prompt,
    cancel=stop,
    way_on=menu_for,
    path=list(SettleWizard.__all_states__),
    hints={
        SettleWizard.minutes: refusal(merchants.PriceInvalid(maximum=merchants.MAX_PRICE_MINUTES)),
        SettleWizard.reason: refusal(merchants.ShopTextInvalid(maximum=200)),
    },
    reask_on=(InvalidInput,),
)
router = steps.router


async def start(
    message: Message, state: FSMContext, session: AsyncSession, member: Member, shop_id: int
) -> None:
    shop = await merchants.get_merchant(session, shop_id)
    await merchants.coordinator_of(session, member.id, shop.branch_id)
    await state.set_data({"shop": shop_id, "shop_name": shop.name, "draft": secrets.token_hex(8)})
    await steps.turn(message, state, session, member).ask(SettleWizard.minutes)


@router.message(SettleWizard.minutes, F.text)
async def on_minutes(message: Message, turn: Turn) -> None:
    data = await turn.data()
    if message.text == str(ALL_OF_IT).format(hours=ui.hours(data.get("balance", 0))):
        minutes = data["balance"]
    else:
        minutes = typed_minutes(message.text or "")
    await turn.update(minutes=minutes)
    await turn.ask(SettleWizard.reason)


@router.message(SettleWizard.reason, F.text)
async def on_reason(message: Message, turn: Turn) -> None:
    await turn.update(reason=merchants.clean_text(message.text or "", 200))
    await turn.ask(SettleWizard.confirm)


@router.message(SettleWizard.confirm, F.text == CONFIRM)
async def on_confirm(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    await shop_reports.settle_shop(
        turn.session,
        member.id,
        data["shop"],
        data["minutes"],
        reason=data["reason"],
        key=f"tg-settle:{data['draft']}",
    )
    await turn.leave(
        _("✅ Recorded: {hours} of {shop} settled. {left} are left to settle.").format(
            hours=ui.hours(data["minutes"]),
            shop=escape(data["shop_name"]),
            left=ui.hours(await _balance(turn.session, data["shop"])),
        )
    )
