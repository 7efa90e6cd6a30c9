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
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
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
    # Called with the mock URL before the gateway starts; returns extra
    # values for `config` (e.g. a credentials file naming the mock).
    setup: Callable[[str], dict] | None = None
    # Extra environment for the gateway and for the mock provider.
    env: dict[str, str] = field(default_factory=dict)
    mock_env: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return f"p-{self.name}"


def _openai_system(body: dict) -> str:
    return " ".join(m["content"] for m in body["messages"] if m["role"] == "system")


def _gemini_system(body: dict) -> str:
    return " ".join(p["text"] for p in body.get("systemInstruction", {}).get("parts", []))


def _gemini_usage(u: dict) -> tuple[int, int]:
    return (
        u["promptTokenCount"] + u.get("toolUsePromptTokenCount", 0),
        u["candidatesTokenCount"] + u.get("thoughtsTokenCount", 0),
    )


def _gemini_chat(prefix: str) -> Callable[[dict], bool]:
    return lambda r: r["path"] in (f"{prefix}:generateContent", f"{prefix}:streamGenerateContent")


VERTEX_TEST_KEY = Path(__file__).resolve().parents[2] / "crates/sluice-mock/fixtures/vertex-test-service-account.json"


def _vertex_credentials(mock_url: str) -> dict:
    """A copy of the test service-account key whose token_uri is the mock's."""
    sa = json.loads(VERTEX_TEST_KEY.read_text())
    sa["token_uri"] = f"{mock_url}/token"
    f = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="sluice-vertex-", delete=False)
    with f:
        json.dump(sa, f)
    return {"creds": f.name}
AWS_KEY_ID = "AKIDCOMPATBEDROCK0001"
AWS_SECRET = "compat/Secret+Access/Key0123456789abcdefg"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[A-Z0-9]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z-]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}$"
)


def _sigv4_authorized(region: str) -> Callable[[dict], bool]:
    def check(r: dict) -> bool:
        m = SIGV4.match(header(r, "authorization") or "")
        return bool(
            m
            and m["akid"] == AWS_KEY_ID
            and m["region"] == region
            and m["service"] == "bedrock"
            and {"host", "x-amz-date"} <= set(m["signed"].split(";"))
            and header(r, "x-amz-date") is not None
            and AWS_SECRET not in dumps(r)
        )

    return check


def _bearer(r: dict) -> bool:
    return header(r, "authorization") == f"Bearer {KEY}"


# Sluice renders chat for text-completion upstreams (Hugging Face
# text-generation, Replicate) as "System: ...", "User: ...", "Assistant: ..."
# blocks separated by blank lines (see crates/sluice-protocol/src/prompt.rs).
def _prompt_system(prompt: str) -> str | None:
    first = prompt.split("\n\n", 1)[0]
    return first.removeprefix("System: ") if first.startswith("System: ") else None


def _prompt_turns(prompt: str) -> int:
    return sum(1 for b in prompt.split("\n\n") if b.startswith(("User: ", "Assistant: ")))


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
        name="gemini",
        config="type: gemini\n    base_url: {mock}\n    api_key: env:COMPAT_KEY",
        upstream_model="gemini-2.0-flash",
        chat_path=_gemini_chat("/v1beta/models/gemini-2.0-flash"),
        authorized=lambda r: header(r, "x-goog-api-key") == KEY
        and header(r, "authorization") is None
        and "key=" not in (r["query"] or ""),
        system_of=_gemini_system,
        turns_of=lambda b: len(b["contents"]),
        usage_of=_gemini_usage,
        embed_model="gemini-embedding-001",
    ),
    Provider(
        name="vertex",
        config="type: vertex\n    base_url: {mock}\n    project: compat-project\n    location: us-central1\n"
        "    credentials_file: {creds}",
        upstream_model="gemini-2.5-flash",
        chat_path=_gemini_chat("/v1/projects/compat-project/locations/us-central1/publishers/google/models/gemini-2.5-flash"),
        # A token the mock's token endpoint issued (the mock refuses others).
        authorized=lambda r: re.fullmatch(r"Bearer mock-vertex-token-\d+", header(r, "authorization") or "") is not None
        and header(r, "x-goog-api-key") is None,
        system_of=_gemini_system,
        turns_of=lambda b: len(b["contents"]),
        usage_of=_gemini_usage,
        embed_model="text-embedding-005",
        setup=_vertex_credentials,
    ),
    Provider(
        name="bedrock",
        config="type: bedrock\n    base_url: {mock}\n    region: us-west-2\n"
        "    aws_access_key_id: env:COMPAT_AWS_ACCESS_KEY_ID\n    aws_secret_access_key: env:COMPAT_AWS_SECRET_ACCESS_KEY",
        upstream_model=BEDROCK_MODEL,
        # The model id is one percent-encoded path segment (`:` is `%3A`).
        chat_path=lambda r: r["path"]
        in (f"/model/{BEDROCK_MODEL.replace(':', '%3A')}/converse", f"/model/{BEDROCK_MODEL.replace(':', '%3A')}/converse-stream"),
        authorized=_sigv4_authorized("us-west-2"),
        system_of=lambda b: " ".join(x["text"] for x in b.get("system", []) if "text" in x),
        turns_of=lambda b: len(b["messages"]),
        usage_of=lambda u: (
            u["inputTokens"] + u.get("cacheReadInputTokens", 0) + u.get("cacheWriteInputTokens", 0),
            u["outputTokens"],
        ),
        embed_model="amazon.titan-embed-text-v2:0",
        env={"COMPAT_AWS_ACCESS_KEY_ID": AWS_KEY_ID, "COMPAT_AWS_SECRET_ACCESS_KEY": AWS_SECRET},
        # The mock verifies every Bedrock request's SigV4 signature with these.
        mock_env={"SLUICE_MOCK_AWS_ACCESS_KEY_ID": AWS_KEY_ID, "SLUICE_MOCK_AWS_SECRET_ACCESS_KEY": AWS_SECRET},
    ),
    # Hugging Face, `task: chat`: the OpenAI-compatible messages API.
    Provider(
        name="huggingface",
        config="type: huggingface\n    base_url: {mock}/hf/v1\n    api_key: env:COMPAT_KEY",
        upstream_model="meta-llama/Llama-3.1-8B-Instruct",
        chat_path=lambda r: r["path"] == "/hf/v1/chat/completions",
        authorized=_bearer,
        system_of=_openai_system,
        turns_of=lambda b: sum(1 for m in b["messages"] if m["role"] != "system"),
        usage_of=lambda u: (u["prompt_tokens"], u["completion_tokens"]),
        embed_model="BAAI/bge-small-en-v1.5",
    ),
    # Hugging Face, `task: text-generation`: serverless `POST /models/{model}`
    # with a rendered prompt; TGI details carry the token counts.
    Provider(
        name="huggingface-tgi",
        config="type: huggingface\n    task: text-generation\n    base_url: {mock}/hf-inference\n    api_key: env:COMPAT_KEY",
        upstream_model="openai-community/gpt2",
        chat_path=lambda r: r["path"] == "/hf-inference/models/openai-community/gpt2",
        authorized=_bearer,
        system_of=lambda b: _prompt_system(b["inputs"]),
        turns_of=lambda b: _prompt_turns(b["inputs"]),
        usage_of=lambda u: (u["input_length"], u["generated_tokens"]),
        caps={"stream"},
    ),
    # Replicate: a prediction per request (create, then poll or stream).
    Provider(
        name="replicate",
        config="type: replicate\n    base_url: {mock}/v1\n    api_key: env:COMPAT_KEY",
        upstream_model="meta/meta-llama-3-8b-instruct",
        chat_path=lambda r: r["method"] == "POST"
        and r["path"] == "/v1/models/meta/meta-llama-3-8b-instruct/predictions",
        authorized=_bearer,
        system_of=lambda b: b["input"].get("system_prompt"),
        turns_of=lambda b: _prompt_turns(b["input"]["prompt"]) or 1,
        usage_of=lambda u: (u["input_token_count"], u["output_token_count"]),
        caps={"stream"},
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
        values = p.setup(mock_url) if p.setup else {}
        lines.append("    " + p.config.format(mock=mock_url, **values))
        lines.append("    timeouts: { first_token: 3s, idle: 3s, total: 20s }")
    lines.append("models:")
    for p in PROVIDERS:
        lines.append(f"  - name: {p.model}\n    provider: {p.name}\n    model: {p.upstream_model}")
        if p.embed_model:
            lines.append(f"  - name: e-{p.name}\n    provider: {p.name}\n    model: {p.embed_model}")
    return "\n".join(lines) + "\n"


def dumps(x) -> str:
    return json.dumps(x, sort_keys=True)
