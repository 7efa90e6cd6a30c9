"""Memory stays flat under overload: rounds of three times
`server.max_in_flight` concurrent streams; the excess is shed at once and
the gateway's resident memory does not grow from round to round."""

import asyncio
from pathlib import Path

import httpx

from conftest import CONFIG, PROVIDER_KEY
from harness import gateway

CAPACITY = 64


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def round_of(url: str) -> dict[int, int]:
    body = {
        "model": "gpt-test",
        "stream": True,
        "messages": [{"role": "user", "content": "<<mock ttft_ms=300 words=20 itl_ms=10>> " + "x" * 2000}],
    }
    limits = httpx.Limits(max_connections=3 * CAPACITY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one() -> int:
            async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                await r.aread()
                return r.status_code

        statuses = await asyncio.gather(*(one() for _ in range(3 * CAPACITY)))
    counts: dict[int, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return counts


def test_memory_stays_flat_at_three_times_capacity(mock):
    cfg = CONFIG.format(mock=mock.url) + f"server:\n  max_in_flight: {CAPACITY}\n"
    g = gateway(cfg, env={"TEST_PROVIDER_KEY": PROVIDER_KEY})
    try:
        samples = []
        for _ in range(6):
            counts = asyncio.run(round_of(g.url))
            assert set(counts) <= {200, 503}, counts
            assert counts.get(503, 0) >= CAPACITY, f"the excess is shed: {counts}"
            samples.append(rss_kib(g.p.pid))
        print("RSS KiB per round:", samples)
        # After the first round has sized the pools, memory stays flat.
        growth = max(samples[1:]) - samples[1]
        assert growth < 16 * 1024, f"RSS grew by {growth} KiB over rounds: {samples}"
    finally:
        g.stop()
