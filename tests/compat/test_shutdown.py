"""Graceful shutdown of the real binary on SIGTERM.

Streams in flight finish within the drain deadline and every one of them is
in the ledger after exit; new connections are refused at once; a stream
still open when the deadline passes ends with a terminal error event that
the OpenAI SDK raises, and is recorded as a stream error.
"""

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from conftest import CONFIG, PROVIDER_KEY
from harness import gateway

STREAMS = 50


def start(mock, drain: str):
    cfg = CONFIG.format(mock=mock.url) + f"server:\n  drain_timeout: {drain}\n"
    return gateway(cfg, env={"TEST_PROVIDER_KEY": PROVIDER_KEY})


def rows(g) -> list[tuple]:
    db = sqlite3.connect(Path(g.data_dir, "sluice.db"))
    try:
        return db.execute("SELECT outcome, stream, completion_tokens FROM requests").fetchall()
    finally:
        db.close()


def test_sigterm_lets_50_live_streams_finish_and_flushes_every_record(mock):
    g = start(mock, "20s")
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
    started = threading.Barrier(STREAMS + 1, timeout=30)
    results: list[str | Exception] = [None] * STREAMS  # type: ignore[list-item]

    def run(i: int):
        try:
            stream = client.chat.completions.create(
                model="gpt-test",
                stream=True,
                messages=[{"role": "user", "content": "<<mock words=20 itl_ms=100>> go"}],
            )
            text, first = "", True
            for chunk in stream:
                if first:
                    first = False
                    started.wait()
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
            results[i] = text
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e
            try:
                started.abort()
            except threading.BrokenBarrierError:
                pass

    threads = [threading.Thread(target=run, args=(i,)) for i in range(STREAMS)]
    try:
        for t in threads:
            t.start()
        started.wait()
        sent = time.monotonic()
        g.p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{g.url}/healthz", timeout=2)
        for t in threads:
            t.join(30)
        errors = [r for r in results if not isinstance(r, str)]
        assert not errors, errors[:3]
        assert all(len(r.split()) == 20 for r in results), results[:2]
        assert g.p.wait(20) == 0
        assert time.monotonic() - sent < 20
        recorded = rows(g)
        assert len(recorded) == STREAMS, recorded
        assert all(r == ("ok", 1, 20) for r in recorded), recorded[:3]
    finally:
        g.stop()


def test_a_stream_open_past_the_drain_deadline_ends_with_an_error_event(mock):
    g = start(mock, "1s")
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
    try:
        stream = client.chat.completions.create(
            model="gpt-test",
            stream=True,
            messages=[{"role": "user", "content": "<<mock words=200 itl_ms=100>> long"}],
        )
        it = iter(stream)
        next(it)
        sent = time.monotonic()
        g.p.send_signal(signal.SIGTERM)
        with pytest.raises(openai.APIError) as raised:
            for _ in it:
                pass
        assert "shutting down" in str(raised.value)
        assert time.monotonic() - sent < 5
        assert g.p.wait(10) == 0
        assert rows(g) == [("stream_error", 1, rows(g)[0][2])]
    finally:
        g.stop()
