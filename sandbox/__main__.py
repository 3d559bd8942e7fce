"""Run the sandbox Bot API server: ``python -m sandbox --port 8081 --token 123:ABC``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys

from .ratelimit import RateLimits
from .server import SandboxServer

DEFAULT_TOKEN = "1000000001:SANDBOX-demo-token"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Local Telegram Bot API server for tests and demos."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--token",
        action="append",
        help=f"bot token to accept (repeatable; default {DEFAULT_TOKEN})",
    )
    parser.add_argument("--username", default=None, help="username of the (first) bot")
    parser.add_argument("--state-file", default=None, help="JSON snapshot loaded and saved")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="disable the 429 flood limits"
    )
    parser.add_argument(
        "--personas", default=None, help="JSON file with the demo page's personas"
    )
    parser.add_argument("--language-command", default=None, help="e.g. /language")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, personas: list[dict[str, object]] | None) -> None:
    tokens = args.token or [DEFAULT_TOKEN]
    bots: list[str | dict[str, str]] = [{"token": tokens[0], "username": args.username}]
    bots += tokens[1:]
    server = SandboxServer(
        args.host,
        args.port,
        bots=bots,
        rate_limits=RateLimits.relaxed() if args.no_rate_limits else None,
        state_file=args.state_file,
        demo_personas=personas,
        language_command=args.language_command,
    )
    await server.start()
    print(f"sandbox Bot API server on {server.base_url}", flush=True)
    for bot in server.state.bots_by_id.values():
        print(f"  bot @{bot.username}: {server.base_url}/bot{bot.token}/getMe", flush=True)
    print(f"  demo page: {server.base_url}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    personas = None
    try:
        if args.personas:
            with open(args.personas, encoding="utf-8") as handle:
                personas = json.load(handle)
        asyncio.run(serve(args, personas))
    except OSError as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
