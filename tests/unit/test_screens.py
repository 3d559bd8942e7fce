"""Screens as plain data, and the Telegram edge that renders them (`bot.kit.telegram`)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.handlers.asking.callbacks import AskStep
from bot.handlers.asking.views import review_buttons
from bot.i18n import create_i18n
from bot.kit import keyboards
from bot.kit.screens import Asks, Button, Keyboard
from bot.kit.telegram import markup


def test_a_reply_keyboard_ends_with_back_and_cancel_and_asks_for_a_location() -> None:
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("ko"):
        plain = keyboards.reply([[Button("📍", asks=Asks.LOCATION)], ["A", "B"]], placeholder="…")
        shown = markup(plain)
    assert isinstance(shown, ReplyKeyboardMarkup)
    assert [[b.text for b in row] for row in shown.keyboard] == [
        ["📍"], ["A", "B"], ["⬅️ 뒤로", "✖️ 취소"]
    ]  # fmt: skip
    assert shown.keyboard[0][0].request_location and not shown.keyboard[1][0].request_location
    assert shown.input_field_placeholder == "…" and shown.resize_keyboard


def test_the_review_is_plain_buttons_whose_payloads_parse_back() -> None:
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        plain = review_buttons("0123456789abcdef")
    assert plain.inline and [len(row) for row in plain.rows] == [2, 2, 1, 1]
    sent = plain.rows[-1][0]
    assert sent.text == "✅ Send"
    assert AskStep.unpack(sent.data or "") == AskStep(action="send", draft="0123456789abcdef")
    shown = markup(plain)
    assert isinstance(shown, InlineKeyboardMarkup)
    assert shown.inline_keyboard[-1][0].callback_data == sent.data


def test_aiogram_markup_from_older_views_passes_the_edge_as_it_is() -> None:
    older = InlineKeyboardMarkup(inline_keyboard=[])
    assert markup(older) is older
    assert markup(None) is None
    assert markup(Keyboard(())) == ReplyKeyboardMarkup(
        keyboard=[], resize_keyboard=True, is_persistent=True
    )
