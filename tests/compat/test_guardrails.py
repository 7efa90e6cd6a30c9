"""Guardrails through the built gateway with the official OpenAI SDK: a
prompt guard's refusal is a completion the SDK parses (complete and
streamed), a pasted key never reaches the provider, and a streamed answer
cut by the output guard raises in the SDK before the forbidden text."""

import openai
import pytest

from harness import gateway
from providers import KEY

CONFIG = """
providers:
  mock:
    type: openai
    base_url: {mock}/v1
    api_key: env:COMPAT_KEY
    timeouts: {{ first_token: 3s, idle: 3s, total: 20s }}
models:
  - name: gpt-test
    provider: mock
    model: mock-gpt
guardrails:
  policies:
    secrets: {{ type: dlp, detectors: [openai_key] }}
    cats-only:
      type: prompt_guard
      allow: ["(?i)\\\\bcats?\\\\b|<<mock"]
      on_block: refuse
      refusal: "I only talk about cats."
    no-forbidden: {{ type: output_guard, deny: [FORBIDDEN], hold_back: 16 }}
  global: [secrets, cats-only, no-forbidden]
"""

CANARY = "sk-canary0123456789abcdefghijkl"


@pytest.fixture(scope="module")
def ggw(mock):
    g = gateway(CONFIG.format(mock=mock.url), env={"COMPAT_KEY": KEY})
    yield g
    g.stop()


@pytest.fixture
def client(ggw):
    return openai.OpenAI(base_url=f"{ggw.url}/v1", api_key="unused", max_retries=0)


def test_refusal_is_a_completion_the_sdk_parses(client, mock):
    c = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "tell me about dogs"}])
    assert c.choices[0].message.role == "assistant"
    assert c.choices[0].message.content == "I only talk about cats."
    assert c.choices[0].finish_reason == "stop"
    assert mock.requests() == []


def test_streamed_refusal_is_parsed_too(client, mock):
    stream = client.chat.completions.create(
        model="gpt-test", stream=True, messages=[{"role": "user", "content": "tell me about dogs"}]
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert text == "I only talk about cats."
    assert mock.requests() == []


def test_pasted_key_never_reaches_the_provider(client, mock, ggw):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": f"my cat's key is {CANARY}"}]
    )
    assert raw.parse().choices[0].message.content
    [up] = mock.requests()
    assert CANARY not in str(up["body"])
    assert "[REDACTED_OPENAI_KEY]" in str(up["body"])
    rec = ggw.record(raw.headers["x-sluice-request-id"])
    assert CANARY not in str(rec)
    [dlp] = [e for e in rec["guardrails"] if e["policy"] == "secrets"]
    assert dlp["detections"] == [{"detector": "openai_key", "count": 1}]


def test_streamed_cut_raises_before_the_forbidden_text(client):
    words = "alpha bravo charlie delta echo foxtrot golf hotel FORBIDDEN india juliet kilo"
    stream = client.chat.completions.create(
        model="gpt-test",
        stream=True,
        messages=[{"role": "user", "content": f"<<mock reply={words.replace(' ', '+')} itl_ms=5>>"}],
    )
    got = ""
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got += chunk.choices[0].delta.content
    assert "FORBIDDEN" not in got
    assert words.startswith(got)
    assert "guardrail" in str(e.value)
