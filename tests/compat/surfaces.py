"""Gateway and mock for the surfaces beyond chat (Anthropic Messages, the
Responses API, legacy completions): one mock provider speaking every wire
format, and a gateway with one model per upstream family."""

from __future__ import annotations

import pytest

from harness import Mock, gateway

KEY = "sk-provider-canary-5b1e00c3d9"
CLIENT_KEY = "sk-client-canary-surfaces"

# (public model, upstream model, provider name, how the mock reports usage)
UPSTREAMS = {
    "anthropic": ("claude-test", "claude-sonnet-4-5"),
    "openai": ("gpt-test", "mock-gpt"),
    "gemini": ("gemini-test", "gemini-2.0-flash"),
}

CONFIG = """
providers:
  anthropic:
    type: anthropic
    base_url: {mock}
    api_key: env:SURFACES_KEY
    timeouts: {{ first_token: 3s, idle: 3s, total: 20s }}
  openai:
    type: openai
    base_url: {mock}/v1
    api_key: env:SURFACES_KEY
    timeouts: {{ first_token: 3s, idle: 3s, total: 20s }}
  gemini:
    type: gemini
    base_url: {mock}
    api_key: env:SURFACES_KEY
    timeouts: {{ first_token: 3s, idle: 3s, total: 20s }}
models:
  - name: claude-test
    provider: anthropic
    model: claude-sonnet-4-5
  - name: gpt-test
    provider: openai
    model: mock-gpt
  - name: gemini-test
    provider: gemini
    model: gemini-2.0-flash
  - name: claude-then-gpt
    targets:
      - {{ provider: anthropic, model: claude-sonnet-4-5 }}
      - {{ provider: openai, model: mock-gpt }}
"""


@pytest.fixture(scope="module")
def smock():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def sgw(smock):
    g = gateway(CONFIG.format(mock=smock.url), env={"SURFACES_KEY": KEY})
    yield g
    g.stop()


def header(req: dict, name: str) -> str | None:
    for k, v in req["headers"]:
        if k == name:
            return v
    return None


def upstream_path(provider: str, stream: bool = False) -> str:
    if provider == "anthropic":
        return "/v1/messages"
    if provider == "openai":
        return "/v1/chat/completions"
    op = "streamGenerateContent" if stream else "generateContent"
    return f"/v1beta/models/gemini-2.0-flash:{op}"


def completion_tokens(usage: dict) -> int:
    """Output tokens from the usage the mock reported, whatever its format."""
    for k in ("completion_tokens", "output_tokens", "candidatesTokenCount"):
        if k in usage:
            return usage[k]
    raise KeyError(usage)
