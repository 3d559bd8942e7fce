"""How fast the sandbox delivers a backlog of updates to a webhook, and how many POSTs overlap.

    python -m bench.webhook_delivery [--updates 2000] [--chats 200] [--answer-ms 0,5]
                                     [--max-connections 40] [--in-process]

Starts ``python -m sandbox`` in a child process with rate limits off (or in this process with
``--in-process``), has ``--chats`` users send ``--updates`` messages in all while no webhook is
set, then sets a webhook on a receiver in this process that answers each POST after
``--answer-ms`` (a bot that handles an update before answering, or a distant server) and times
the drain: setWebhook → every update received and pending_update_count 0. It checks that each
chat's updates arrived in order and one at a time, and prints the most POSTs the receiver
was answering at once (1 when it answers at once: nothing to overlap with).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

import aiohttp
from aiohttp import web

from bench.processes import running_sandbox

TOKEN = "1000000003:BENCH-webhook-token"


class Receiver:
    """Counts the updates and the POSTs in flight; remembers each chat's order."""

    def __init__(self, answer_after: float) -> None:
        self.answer_after = answer_after
        self.in_flight = 0
        self.peak = 0
        self.per_chat_in_flight: Counter[int] = Counter()
        self.overlaps = 0
        self.last_id: dict[int, int] = {}
        self.out_of_order = 0
        self.received = 0
        self.all_in = asyncio.Event()
        self.expected = 0

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        chat = update["message"]["chat"]["id"]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.per_chat_in_flight[chat] += 1
        self.overlaps += self.per_chat_in_flight[chat] > 1
        try:
            if self.answer_after:
                await asyncio.sleep(self.answer_after)
            if update["update_id"] <= self.last_id.get(chat, -1):
                self.out_of_order += 1
            self.last_id[chat] = update["update_id"]
            self.received += 1
            if self.received >= self.expected:
                self.all_in.set()
            return web.json_response({})
        finally:
            self.in_flight -= 1
            self.per_chat_in_flight[chat] -= 1


async def drain(
    http: aiohttp.ClientSession,
    base_url: str,
    users: list[int],
    updates: int,
    answer_ms: float,
    max_connections: int,
) -> dict[str, float]:
    api = f"{base_url}/bot{TOKEN}"
    receiver = Receiver(answer_ms / 1000)
    receiver.expected = updates
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        for n in range(updates):
            user = users[n % len(users)]
            async with http.post(
                f"{base_url}/sandbox/chats/{user}/messages", json={"text": f"m{n}"}
            ) as response:
                response.raise_for_status()
        started = time.perf_counter()
        async with http.post(
            f"{api}/setWebhook",
            json={"url": f"http://127.0.0.1:{port}/hook", "max_connections": max_connections},
        ) as response:
            response.raise_for_status()
        await asyncio.wait_for(receiver.all_in.wait(), 300)
        for _ in range(1000):  # the last acknowledgements, a few ms behind the receiver
            if not await _pending(http, api):
                break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        async with http.post(f"{api}/deleteWebhook", json={"drop_pending_updates": True}):
            pass
        await runner.cleanup()
    return {
        "rate": updates / elapsed,
        "seconds": elapsed,
        "peak": receiver.peak,
        "out_of_order": receiver.out_of_order,
        "overlaps": receiver.overlaps,
    }


async def _pending(http: aiohttp.ClientSession, api: str) -> int:
    async with http.post(f"{api}/getWebhookInfo") as response:
        return int((await response.json())["result"]["pending_update_count"])


async def main(args: argparse.Namespace) -> None:
    async with (
        running_sandbox(TOKEN, rate_limits=False, in_process=args.in_process) as base_url,
        aiohttp.ClientSession() as http,
    ):
        users: list[int] = []
        for n in range(args.chats):
            async with http.post(
                f"{base_url}/sandbox/users", json={"first_name": f"User{n}", "started": True}
            ) as response:
                users.append((await response.json())["user"]["id"])
        where = "this process" if args.in_process else "a child process"
        print(
            f"webhook delivery: sandbox in {where}, {args.updates} updates from "
            f"{args.chats} chats, max_connections {args.max_connections}"
        )
        print(f"{'answer ms':>9} {'upd/s':>8} {'seconds':>8} {'peak conns':>10} {'misordered':>10}")
        for answer_ms in args.answer_ms:
            result = await drain(
                http, base_url, users, args.updates, answer_ms, args.max_connections
            )
            misordered = result["out_of_order"] + result["overlaps"]
            print(
                f"{answer_ms:>9g} {result['rate']:>8.0f} {result['seconds']:>8.2f} "
                f"{result['peak']:>10.0f} {misordered:>10.0f}"
            )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000, help="updates to deliver per case")
    parser.add_argument("--chats", type=int, default=200, help="chats they come from")
    parser.add_argument(
        "--answer-ms",
        type=lambda text: [float(part) for part in text.split(",")],
        default=[0.0, 5.0],
        help="comma-separated: how long the receiver takes to answer each POST",
    )
    parser.add_argument("--max-connections", type=int, default=40, help="setWebhook's, 1-100")
    parser.add_argument("--in-process", action="store_true", help="no child process")
    args = parser.parse_args()
    if args.updates < 1 or args.chats < 1:
        parser.error("--updates and --chats must be positive")
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
