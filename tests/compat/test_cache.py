"""The response cache through the official OpenAI SDK: a streamed answer is
stored, and the same request streamed again is replayed from the cache as
several chunks with usage, without reaching the upstream."""

import pytest
from openai import OpenAI

from harness import Mock, gateway

PROVIDER_KEY = "sk-provider-canary-cache-1234"

CONFIG = """
providers:
  mock:
    type: openai
    base_url: {mock}/v1
    api_key: env:TEST_PROVIDER_KEY
models:
  - name: gpt-test
    provider: mock
    model: mock-gpt
  - name: embed-test
    provider: mock
    model: mock-embed
cache:
  enabled: true
  ttl: 10m
  semantic:
    embedding_model: embed-test
    threshold: 0.7
"""


@pytest.fixture(scope="module")
def cmock():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def cgw(cmock):
    g = gateway(CONFIG.format(mock=cmock.url), env={"TEST_PROVIDER_KEY": PROVIDER_KEY})
    yield g
    g.stop()


@pytest.fixture
def client(cgw, cmock):
    cmock.reset()
    return OpenAI(base_url=f"{cgw.url}/v1", api_key="unused", max_retries=0)


def chat_calls(mock):
    return len([r for r in mock.requests() if r["path"].endswith("/chat/completions")])


def stream_once(client, content):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "user", "content": content}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, chunks, usage = "", 0, None
    for chunk in raw.parse():
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            chunks += 1
        if chunk.usage:
            usage = chunk.usage
    return raw.headers, text, chunks, usage


def test_streaming_hit_replays_chunks_with_usage(client, cmock, cgw):
    h1, t1, n1, u1 = stream_once(client, "Stream me a cached story <<mock words=10>>")
    h2, t2, n2, u2 = stream_once(client, "Stream me a cached story <<mock words=10>>")
    assert h1["x-sluice-cache"] == "miss"
    assert h2["x-sluice-cache"] == "hit"
    assert t1 == t2 and t2
    assert n2 > 1 and n2 == n1, (n1, n2)
    assert u2 is not None and u2.total_tokens == u1.total_tokens > 0
    assert chat_calls(cmock) == 1
    rec = cgw.record(h2["x-sluice-request-id"])
    assert rec["cache"] == "hit"
    assert rec["usage"]["source"] == "cache"
    assert rec["cost_usd"] == 0.0


def test_non_streaming_hit_and_semantic_hit(client, cmock, cgw):
    def ask(content, **kw):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": content}], **kw)
        return raw.headers, raw.parse()

    h1, r1 = ask("What is the capital city of Italy?")
    h2, r2 = ask("What is the capital city of Italy?")
    h3, r3 = ask("Tell me the capital city of Italy please")
    h4, _ = ask("How do I bake sourdough bread at home?")
    h5, _ = ask("What is the capital city of Italy?", extra_headers={"x-sluice-skip-cache": "true"})
    assert [h["x-sluice-cache"] for h in (h1, h2, h3, h4, h5)] == ["miss", "hit", "hit", "miss", "bypass"]
    assert r1.choices[0].message.content == r2.choices[0].message.content == r3.choices[0].message.content
    assert float(h3["x-sluice-cache-similarity"]) >= 0.7
    assert "x-sluice-cache-similarity" not in h2
    assert chat_calls(cmock) == 3
    rec = cgw.record(h3["x-sluice-request-id"])
    assert rec["cache"] == "hit" and rec["cache_similarity"] >= 0.7
