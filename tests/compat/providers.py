"""The provider table for the cross-provider suite.

One gateway serves every provider below, all backed by the one mock
provider (which speaks each wire format at its own paths). Each row says how
to configure the provider, which public model reaches it, and how to read
the request the mock received: the path, the credentials, where the system
prompt and the turns went, and how the provider reports usage.

Adding a provider: add a `Provider` to `PROVIDERS`. Every case in
`test_providers.py` then runs against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

KEY = "sk-provider-canary-77f0e2"

ALL_CAPS = {"tools", "vision", "json", "stream", "embeddings"}


def header(req: dict, name: str) -> str | None:
    for k, v in req["headers"]:
        if k == name:
            return v
    return None


@dataclass
class Provider:
    name: str
    # YAML for `providers.<name>` (indented under it); {mock} is the mock URL.
    config: str
    # Upstream model name configured for the public model `p-<name>`.
    upstream_model: str
    # Path the chat request must arrive at.
    chat_path: Callable[[dict], bool]
    # Whether the recorded request carries the right credentials.
    authorized: Callable[[dict], bool]
    # The system prompt as the upstream received it.
    system_of: Callable[[dict], str]
    # How many conversation turns the upstream received.
    turns_of: Callable[[dict], int]
    # (prompt, completion) tokens from the usage the mock reported.
    usage_of: Callable[[dict], tuple[int, int]]
    caps: set[str] = field(default_factory=lambda: set(ALL_CAPS))
    # Upstream model for the embeddings model `e-<name>`, if any.
    embed_model: str | None = None

    @property
    def model(self) -> str:
        return f"p-{self.name}"


def _openai_system(body: dict) -> str:
    return " ".join(m["content"] for m in body["messages"] if m["role"] == "system")


PROVIDERS = [
    Provider(
        name="openai",
        config="type: openai\n    base_url: {mock}/v1\n    api_key: env:COMPAT_KEY",
        upstream_model="mock-gpt",
        chat_path=lambda r: r["path"] == "/v1/chat/completions",
        authorized=lambda r: header(r, "authorization") == f"Bearer {KEY}",
        system_of=_openai_system,
        turns_of=lambda b: sum(1 for m in b["messages"] if m["role"] != "system"),
        usage_of=lambda u: (u["prompt_tokens"], u["completion_tokens"]),
        embed_model="mock-embed",
    ),
    Provider(
        name="azure",
        config="type: azure\n    base_url: {mock}\n    api_key: env:COMPAT_KEY\n    api_version: 2024-10-21",
        upstream_model="gpt4o-deployment",
        chat_path=lambda r: r["path"] == "/openai/deployments/gpt4o-deployment/chat/completions"
        and r["query"] == "api-version=2024-10-21",
        authorized=lambda r: header(r, "api-key") == KEY and header(r, "authorization") is None,
        system_of=_openai_system,
        turns_of=lambda b: sum(1 for m in b["messages"] if m["role"] != "system"),
        usage_of=lambda u: (u["prompt_tokens"], u["completion_tokens"]),
        embed_model="embed-deployment",
    ),
    Provider(
        name="anthropic",
        config="type: anthropic\n    base_url: {mock}\n    api_key: env:COMPAT_KEY",
        upstream_model="claude-sonnet-4-5",
        chat_path=lambda r: r["path"] == "/v1/messages",
        authorized=lambda r: header(r, "x-api-key") == KEY and header(r, "anthropic-version") is not None,
        system_of=lambda b: b.get("system") if isinstance(b.get("system"), str) else " ".join(x["text"] for x in b.get("system", [])),
        turns_of=lambda b: len(b["messages"]),
        usage_of=lambda u: (u["input_tokens"] + u.get("cache_read_input_tokens", 0), u["output_tokens"]),
        caps=ALL_CAPS - {"embeddings"},
    ),
    Provider(
        name="cohere",
        config="type: cohere\n    base_url: {mock}\n    api_key: env:COMPAT_KEY",
        upstream_model="command-a-vision-07-2025",
        chat_path=lambda r: r["path"] == "/v2/chat",
        authorized=lambda r: header(r, "authorization") == f"Bearer {KEY}",
        system_of=_openai_system,
        turns_of=lambda b: sum(1 for m in b["messages"] if m["role"] != "system"),
        # Sluice reports Cohere's `tokens`; `billed_units` ride alongside.
        usage_of=lambda u: (u["tokens"]["input_tokens"], u["tokens"]["output_tokens"]),
        embed_model="embed-v4.0",
    ),
]


def gateway_config(mock_url: str) -> str:
    lines = ["providers:"]
    for p in PROVIDERS:
        lines.append(f"  {p.name}:")
        lines.append("    " + p.config.format(mock=mock_url))
        lines.append("    timeouts: { first_token: 3s, idle: 3s, total: 20s }")
    lines.append("models:")
    for p in PROVIDERS:
        lines.append(f"  - name: {p.model}\n    provider: {p.name}\n    model: {p.upstream_model}")
        if p.embed_model:
            lines.append(f"  - name: e-{p.name}\n    provider: {p.name}\n    model: {p.embed_model}")
    return "\n".join(lines) + "\n"


def dumps(x) -> str:
    return json.dumps(x, sort_keys=True)
