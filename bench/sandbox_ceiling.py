"""The sandbox Bot API server's own ceiling: requests per second and latency.

    python -m bench.sandbox_ceiling [--seconds 3] [--in-process]

Starts ``python -m sandbox`` in a child process with rate limits off (or in this process with
``--in-process``), then drives getMe and sendMessage with a client that does nothing with the
answers, at concurrency 1 and 16. Only loopback traffic; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp

from bench.processes import running_sandbox

TOKEN = "1000000001:BENCH-token"


async def run_load(
    http: aiohttp.ClientSession,
    url: str,
    payload: dict[str, Any] | None,
    concurrency: int,
    seconds: float,
    max_requests: int,
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker() -> None:
        nonlocal errors
        while loop.time() < deadline and len(latencies) < max_requests:
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    started = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = loop.time() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
    }


async def main(seconds: float, in_process: bool) -> None:
    async with (
        running_sandbox(TOKEN, rate_limits=False, in_process=in_process) as base_url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http,
    ):
        async with http.post(
            f"{base_url}/sandbox/users", json={"first_name": "Bench", "started": True}
        ) as response:
            user = (await response.json())["user"]
        api = f"{base_url}/bot{TOKEN}"
        cases = [
            ("getMe", f"{api}/getMe", None),
            ("sendMessage", f"{api}/sendMessage", {"chat_id": user["id"], "text": "ping"}),
        ]
        where = "this process (sharing the client's core)" if in_process else "a child process"
        print(f"sandbox ceiling: server in {where}, rate limits off, {seconds:g}s per case")
        print(
            f"{'method':<12} {'conc':>4} {'requests':>9} {'req/s':>8} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'errors':>6}"
        )
        for name, url, payload in cases:
            await run_load(http, url, payload, 4, 0.5, 2_000)  # warm-up
            for concurrency in (1, 16):
                result = await run_load(http, url, payload, concurrency, seconds, 200_000)
                print(
                    f"{name:<12} {concurrency:>4} {result['requests']:>9.0f} "
                    f"{result['rps']:>8.0f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
                    f"{result['errors']:>6.0f}"
                )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each case")
    parser.add_argument("--in-process", action="store_true", help="no child process")
    args = parser.parse_args()
    asyncio.run(main(min(max(args.seconds, 0.5), 30.0), args.in_process))


if __name__ == "__main__":
    cli()
