"""A virtual key is shown once, when created, and never again: not in logs
(at trace level), request records, the data directory (SQLite and its WAL),
admin answers, response headers, or what reaches the provider.
"""

import json
import os
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from conftest import CONFIG, PROVIDER_KEY
from harness import BIN, admin_key, gateway


def cli(g, *args: str) -> str:
    out = subprocess.run(
        [BIN, *args, "--admin-url", g.admin_url, "--admin-key", admin_key(g)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def scan_dir(root: str, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            if needle in path.read_bytes():
                hits.append(str(path))
    return hits


def test_a_key_is_never_stored_logged_or_shown_again(mock):
    g = gateway(
        CONFIG.format(mock=mock.url),
        env={"TEST_PROVIDER_KEY": PROVIDER_KEY, "RUST_LOG": "trace"},
    )
    try:
        created = json.loads(cli(g, "keys", "create", "--name", "secrecy", "--limit", "requests=3/1m", "--json"))
        secret = created["key"]
        assert secret.startswith("sk-sluice-")
        seen_after: list[str] = []

        client = openai.OpenAI(base_url=f"{g.url}/v1", api_key=secret, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        seen_after.append(str(dict(raw.headers)))
        seen_after.append(raw.http_response.text)
        chunks = list(
            client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        assert chunks
        # A near miss of the real key: refused, and not echoed.
        wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        with pytest.raises(openai.AuthenticationError) as e:
            openai.OpenAI(base_url=f"{g.url}/v1", api_key=wrong, max_retries=0).chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )
        seen_after.append(e.value.response.text)
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as e:
            client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        seen_after.append(e.value.response.text)
        seen_after.append(str(dict(e.value.response.headers)))

        seen_after.append(cli(g, "keys", "list", "--json"))
        seen_after.append(cli(g, "keys", "get", created["id"], "--json"))
        seen_after.append(cli(g, "usage", "--json"))
        seen_after.append(cli(g, "usage", created["id"], "--json"))
        seen_after.append(
            httpx.get(f"{g.admin_url}/v1/keys", headers={"authorization": f"Bearer {admin_key(g)}"}).text
        )
        seen_after.append(json.dumps(mock.requests()))
        seen_after.append(httpx.get(f"{g.url}/metrics").text)
        seen_after.append(httpx.get(f"{g.url}/readyz").text)
        for path in ("/v1/logs/export?format=csv", "/v1/analytics/summary?group_by=key"):
            seen_after.append(
                httpx.get(f"{g.admin_url}{path}", headers={"authorization": f"Bearer {admin_key(g)}"}).text
            )

        for text in seen_after:
            assert secret not in text and wrong not in text
        assert len(g.records()) >= 4
        # Files, while running (SQLite database and WAL) and after shutdown.
        assert scan_dir(g.data_dir, secret.encode()) == []
        g.p.terminate()
        g.p.wait(15)
        assert scan_dir(g.data_dir, secret.encode()) == []
        logs = "\n".join(g.lines)
        assert "TRACE" in logs or '"level":"TRACE"' in logs
        assert secret not in logs and wrong not in logs
        assert secret[len("sk-sluice-"):] not in logs
        assert PROVIDER_KEY not in logs
    finally:
        g.stop()
