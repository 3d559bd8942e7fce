"""The Telegram adapter: aiogram routers, middlewares and keyboards over `core`."""
