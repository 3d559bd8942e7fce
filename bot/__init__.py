"""The Telegram adapter: aiogram routers, middlewares and keyboards over `core`."""

from bot.lazy_types import import_aiogram

# Before any module of the bot imports aiogram: its Telegram types are built on first use
# (see bot.lazy_types), ~100 MB less per process.
import_aiogram()
