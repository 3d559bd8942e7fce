"""Serving updates: long polling, or a webhook behind a reverse proxy. Both stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from aiogram import Bot
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import App, create_app, create_bot
from core.config import Settings

WEBHOOK_PATH = "/telegram/webhook"


async def serve(settings: Settings, *, webhook: bool = False, handle_signals: bool = True) -> None:
    """Serve until SIGINT/SIGTERM (or until cancelled, when signals are left to the caller)."""
    app = create_app(settings)
    bot = create_bot(settings)
    try:
        if webhook:
            await _serve_webhook(app, bot, settings, handle_signals)
        else:
            await bot.delete_webhook()
            await _poll(app, bot, handle_signals)
    finally:
        await app.close()
        await bot.session.close()


async def _poll(app: App, bot: Bot, handle_signals: bool) -> None:
    """Long polling. Cancelled, it stops the dispatcher's polling first: aiogram does not
    cancel its own polling tasks when `start_polling` itself is cancelled, and a poller left
    behind would keep taking updates after a restart in the same process."""
    polling = asyncio.ensure_future(
        app.dispatcher.start_polling(
            bot,
            handle_signals=handle_signals,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
        )
    )
    try:
        await asyncio.shield(polling)
    except asyncio.CancelledError:
        try:
            await app.dispatcher.stop_polling()
        except RuntimeError:  # polling had not started yet
            polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        raise


async def _serve_webhook(app: App, bot: Bot, settings: Settings, handle_signals: bool) -> None:
    secret = settings.webhook_secret.get_secret_value() or None
    web_app = web.Application()
    SimpleRequestHandler(app.dispatcher, bot, secret_token=secret).register(web_app, WEBHOOK_PATH)
    setup_application(web_app, app.dispatcher, bot=bot)
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    await bot.set_webhook(
        settings.webhook_url.rstrip("/") + WEBHOOK_PATH,
        secret_token=secret,
        allowed_updates=app.dispatcher.resolve_used_update_types(),
    )
    stop = asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
