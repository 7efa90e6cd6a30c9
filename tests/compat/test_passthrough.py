"""Provider pass-through, the universal endpoint and the model chosen by URL,
black-box: the built `sluice` binary, two mock providers, the official
`openai` and `anthropic` SDKs pointed at pass-through base URLs (in both
credential modes) and native request shapes for the other providers sent
with httpx. Each test checks what the mock received: host, path and which
credential.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from anthropic import Anthropic
from openai import AzureOpenAI, OpenAI

from harness import Mock, gateway
from providers import AWS_KEY_ID, AWS_SECRET, BEDROCK_MODEL, SIGV4, _vertex_credentials, header

PROVIDER_KEY = "sk-provider-canary-pt-5d2e71"
SLUICE_KEY = "sk-sluice-consumer-canary-1a2b3c"
CLIENT_OPENAI_KEY = "sk-client-openai-canary-77aa01"
CLIENT_ANTHROPIC_KEY = "sk-ant-client-canary-88bb02"

CONFIG = """
providers:
  openai:
    type: openai
    base_url: {a}/v1
    api_key: env:PT_KEY
  openai-byok:
    type: openai
    base_url: {a}/v1
    passthrough: {{ credentials: client }}
  anthropic:
    type: anthropic
    base_url: {a}
    api_key: env:PT_KEY
  anthropic-byok:
    type: anthropic
    base_url: {b}
    passthrough: {{ credentials: client }}
  azure:
    type: azure
    base_url: {a}
    api_key: env:PT_KEY
  gemini:
    type: gemini
    base_url: {a}
    api_key: env:PT_KEY
  vertex:
    type: vertex
    base_url: {a}
    project: pt-project
    location: us-central1
    credentials_file: {creds}
  bedrock:
    type: bedrock
    base_url: {a}
    region: us-west-2
    aws_access_key_id: env:PT_AWS_ID
    aws_secret_access_key: env:PT_AWS_SECRET
  cohere:
    type: cohere
    base_url: {a}
    api_key: env:PT_KEY
  mistral:
    type: mistral
    base_url: {a}/v1
    api_key: env:PT_KEY
  huggingface:
    type: huggingface
    base_url: {b}/v1
    api_key: env:PT_KEY
  replicate:
    type: replicate
    base_url: {a}/v1
    api_key: env:PT_KEY
models:
  - name: "openai/*"
    provider: openai
"""

CLIENT_HEADERS = {
    "authorization": f"Bearer {SLUICE_KEY}",
    "x-api-key": SLUICE_KEY,
    "api-key": SLUICE_KEY,
    "x-goog-api-key": SLUICE_KEY,
    "cookie": f"session={SLUICE_KEY}",
}


@pytest.fixture(scope="module")
def mock_a():
    m = Mock(env={"SLUICE_MOCK_AWS_ACCESS_KEY_ID": AWS_KEY_ID, "SLUICE_MOCK_AWS_SECRET_ACCESS_KEY": AWS_SECRET})
    yield m
    m.stop()


@pytest.fixture(scope="module")
def mock_b():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def pgw(mock_a, mock_b):
    creds = _vertex_credentials(mock_a.url)["creds"]
    g = gateway(
        CONFIG.format(a=mock_a.url, b=mock_b.url, creds=creds),
        env={"PT_KEY": PROVIDER_KEY, "PT_AWS_ID": AWS_KEY_ID, "PT_AWS_SECRET": AWS_SECRET},
    )
    yield g
    g.stop()


@pytest.fixture(autouse=True)
def _clean(mock_a, mock_b):
    mock_a.reset()
    mock_b.reset()
    yield


def upstream(mock: Mock) -> list[dict]:
    """What the mock received, token exchanges left out."""
    return [r for r in mock.requests() if r["path"] != "/token"]


def assert_no_client_credential(*mocks: Mock) -> None:
    for m in mocks:
        seen = json.dumps(m.requests())
        for secret in (SLUICE_KEY, CLIENT_OPENAI_KEY, CLIENT_ANTHROPIC_KEY):
            assert secret not in seen, f"{secret} reached {m.url}"


def host_of(mock: Mock) -> str:
    return mock.url.removeprefix("http://")


# --- OpenAI SDK ---------------------------------------------------------------


def test_openai_sdk_gateway_mode(pgw, mock_a, mock_b):
    client = OpenAI(base_url=f"{pgw.url}/openai/v1", api_key=SLUICE_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="mock-gpt", messages=[{"role": "user", "content": "Hello pass-through"}]
    )
    resp = raw.parse()
    assert resp.choices[0].message.content == "Mock reply from mock-gpt: Hello pass-through"
    assert raw.headers["x-sluice-provider"] == "openai"
    (up,) = upstream(mock_a)
    assert up["path"] == "/v1/chat/completions"
    assert header(up, "host") == host_of(mock_a)
    assert header(up, "authorization") == f"Bearer {PROVIDER_KEY}"
    assert_no_client_credential(mock_a, mock_b)
    rec = pgw.record(raw.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "passthrough:openai"
    assert rec["meta"]["provider_name"] == "openai"
    assert rec["meta"]["request_model"] == "mock-gpt"
    assert rec["usage"]["completion_tokens"] == resp.usage.completion_tokens
    assert rec["usage"]["prompt_tokens"] == resp.usage.prompt_tokens
    assert rec["status"] == 200 and rec["outcome"] == "ok"

    # Streaming, and embeddings, through the same base URL.
    with client.chat.completions.with_streaming_response.create(
        model="mock-gpt",
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as sresp:
        chunks = list(sresp.parse())
        request_id = sresp.headers["x-sluice-request-id"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Mock reply from mock-gpt: stream me"
    assert chunks[-1].usage is not None
    rec = pgw.record(request_id)
    assert rec["stream"] is True
    assert rec["usage"]["completion_tokens"] == chunks[-1].usage.completion_tokens
    emb = client.embeddings.create(model="mock-embed", input=["a", "b"])
    assert len(emb.data) == 2
    assert_no_client_credential(mock_a, mock_b)


def test_openai_sdk_bring_your_own_key(pgw, mock_a, mock_b):
    client = OpenAI(base_url=f"{pgw.url}/openai-byok/v1", api_key=CLIENT_OPENAI_KEY, max_retries=0)
    resp = client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content
    (up,) = upstream(mock_a)
    assert header(up, "authorization") == f"Bearer {CLIENT_OPENAI_KEY}"
    assert PROVIDER_KEY not in json.dumps(up)
    assert upstream(mock_b) == []
    # Without a key of its own, the client is refused before anything is sent.
    r = httpx.post(
        f"{pgw.url}/openai-byok/v1/chat/completions",
        json={"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": CLIENT_ANTHROPIC_KEY},
    )
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert len(upstream(mock_a)) == 1


def test_azure_openai_sdk(pgw, mock_a):
    client = AzureOpenAI(
        azure_endpoint=f"{pgw.url}/azure", api_version="2024-10-21", api_key=SLUICE_KEY, max_retries=0
    )
    resp = client.chat.completions.create(model="my-deployment", messages=[{"role": "user", "content": "hi Azure"}])
    assert resp.choices[0].message.content
    (up,) = upstream(mock_a)
    assert up["path"] == "/openai/deployments/my-deployment/chat/completions"
    assert up["query"] == "api-version=2024-10-21"
    assert header(up, "api-key") == PROVIDER_KEY
    assert_no_client_credential(mock_a)


# --- Anthropic SDK ------------------------------------------------------------


def test_anthropic_sdk_gateway_mode(pgw, mock_a, mock_b):
    client = Anthropic(base_url=f"{pgw.url}/anthropic", api_key=SLUICE_KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Hello Claude"}]
    )
    msg = raw.parse()
    assert msg.content[0].text
    (up,) = upstream(mock_a)
    assert up["path"] == "/v1/messages"
    assert header(up, "x-api-key") == PROVIDER_KEY
    assert header(up, "anthropic-version") is not None
    rec = pgw.record(raw.headers["x-sluice-request-id"])
    assert rec["meta"]["response_model"] == "claude-haiku-4-5"
    assert rec["usage"]["prompt_tokens"] == msg.usage.input_tokens + (msg.usage.cache_read_input_tokens or 0)
    assert rec["usage"]["completion_tokens"] == msg.usage.output_tokens

    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    assert final.usage.output_tokens > 0
    assert_no_client_credential(mock_a, mock_b)


def test_anthropic_sdk_bring_your_own_key_reaches_only_its_own_host(pgw, mock_a, mock_b):
    client = Anthropic(base_url=f"{pgw.url}/anthropic-byok", api_key=CLIENT_ANTHROPIC_KEY, max_retries=0)
    msg = client.messages.create(
        model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.content[0].text
    (up,) = upstream(mock_b)
    assert header(up, "host") == host_of(mock_b)
    # This SDK version sends its key as a bearer token; older ones use x-api-key.
    assert CLIENT_ANTHROPIC_KEY in (header(up, "x-api-key"), (header(up, "authorization") or "").removeprefix("Bearer "))
    # The canary: provider B's key never reached provider A's host.
    assert CLIENT_ANTHROPIC_KEY not in json.dumps(mock_a.requests())
    # And A's BYOK key, used right after, never reaches B.
    OpenAI(base_url=f"{pgw.url}/openai-byok/v1", api_key=CLIENT_OPENAI_KEY, max_retries=0).models.list()
    assert CLIENT_OPENAI_KEY not in json.dumps(mock_b.requests())
    assert CLIENT_OPENAI_KEY in json.dumps(mock_a.requests())
    # Without a key of its own: refused in Anthropic's error shape, nothing sent.
    r = httpx.post(
        f"{pgw.url}/anthropic-byok/v1/messages",
        json={"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        headers={"anthropic-version": "2023-06-01", "api-key": CLIENT_OPENAI_KEY},
    )
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert len(upstream(mock_b)) == 1


# --- Native shapes of the other providers, with httpx -------------------------


def post(pgw, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
    h = dict(CLIENT_HEADERS)
    h.update(headers or {})
    return httpx.post(f"{pgw.url}{path}", json=body, headers=h, timeout=20)


def test_gemini_native(pgw, mock_a):
    body = {"contents": [{"role": "user", "parts": [{"text": "Hello Gemini"}]}]}
    r = post(pgw, "/gemini/v1beta/models/gemini-2.0-flash:generateContent?key=" + SLUICE_KEY, body)
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"]
    (up,) = upstream(mock_a)
    assert up["path"] == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert header(up, "x-goog-api-key") == PROVIDER_KEY
    assert up["query"] is None
    rec = pgw.record(r.headers["x-sluice-request-id"])
    assert rec["meta"]["request_model"] == "gemini-2.0-flash"
    assert rec["usage"]["completion_tokens"] > 0
    with httpx.stream(
        "POST",
        f"{pgw.url}/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        json=body,
        headers=CLIENT_HEADERS,
    ) as s:
        events = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert len(events) > 1
    assert_no_client_credential(mock_a)


def test_vertex_native(pgw, mock_a):
    path = "/v1/projects/pt-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    r = post(pgw, "/vertex" + path, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert r.status_code == 200, r.text
    (up,) = upstream(mock_a)
    assert up["path"] == path
    assert header(up, "authorization").startswith("Bearer mock-vertex-token-")
    assert_no_client_credential(mock_a)


def test_bedrock_native_is_signed_by_the_gateway(pgw, mock_a):
    encoded = BEDROCK_MODEL.replace(":", "%3A")
    body = {"messages": [{"role": "user", "content": [{"text": "Hello Bedrock"}]}], "inferenceConfig": {"maxTokens": 40}}
    r = post(pgw, f"/bedrock/model/{encoded}/converse", body)
    assert r.status_code == 200, r.text
    assert r.json()["output"]["message"]["content"][0]["text"]
    (up,) = upstream(mock_a)
    assert up["path"] == f"/model/{encoded}/converse"
    m = SIGV4.match(header(up, "authorization") or "")
    assert m and m["akid"] == AWS_KEY_ID and m["region"] == "us-west-2"
    rec = pgw.record(r.headers["x-sluice-request-id"])
    assert rec["meta"]["request_model"] == BEDROCK_MODEL
    assert rec["usage"]["prompt_tokens"] > 0
    r = post(pgw, f"/bedrock/model/{encoded}/converse-stream", body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.amazon.eventstream"
    rec = pgw.record(r.headers["x-sluice-request-id"])
    assert rec["stream"] is True and rec["usage"]["completion_tokens"] > 0
    assert_no_client_credential(mock_a)


def test_cohere_mistral_huggingface_replicate_native(pgw, mock_a, mock_b):
    r = post(pgw, "/cohere/v2/chat", {"model": "command-r", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    assert upstream(mock_a)[-1]["path"] == "/v2/chat"
    assert header(upstream(mock_a)[-1], "authorization") == f"Bearer {PROVIDER_KEY}"
    assert pgw.record(r.headers["x-sluice-request-id"])["usage"]["prompt_tokens"] > 0

    r = post(pgw, "/mistral/v1/chat/completions", {"model": "mistral-small", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    assert upstream(mock_a)[-1]["path"] == "/v1/chat/completions"

    r = post(
        pgw,
        "/huggingface/v1/chat/completions",
        {"model": "meta-llama/Llama-3.1-8B-Instruct", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text
    (hf,) = upstream(mock_b)
    assert header(hf, "host") == host_of(mock_b)
    assert header(hf, "authorization") == f"Bearer {PROVIDER_KEY}"

    r = post(
        pgw,
        "/replicate/v1/models/meta/meta-llama-3-8b-instruct/predictions",
        {"input": {"prompt": "Hello Replicate"}},
        headers={"prefer": "wait=5", "x-mock": "polls=0"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "succeeded"
    rec = pgw.record(r.headers["x-sluice-request-id"])
    assert rec["meta"]["request_model"] == "meta/meta-llama-3-8b-instruct"
    assert rec["usage"]["completion_tokens"] > 0
    assert_no_client_credential(mock_a, mock_b)


# --- Universal endpoint and model by URL --------------------------------------


def test_universal_falls_back_after_a_500(pgw, mock_a, mock_b):
    steps = [
        {
            "provider": "openai",
            "endpoint": "v1/chat/completions",
            "headers": {"Authorization": f"Bearer {SLUICE_KEY}", "x-mock": "status=500"},
            "query": {"model": "mock-gpt", "messages": [{"role": "user", "content": "What is Sluice?"}]},
        },
        {
            "provider": "huggingface",
            "endpoint": "v1/chat/completions",
            "headers": {"Authorization": f"Bearer {SLUICE_KEY}"},
            "query": {"model": "meta-llama/Llama-3.1-8B-Instruct", "messages": [{"role": "user", "content": "What is Sluice?"}]},
        },
    ]
    r = httpx.post(f"{pgw.url}/v1/universal", json=steps, timeout=20)
    assert r.status_code == 200, r.text
    assert r.headers["x-sluice-step"] == "1"
    assert r.headers["x-sluice-provider"] == "huggingface"
    assert "meta-llama/Llama-3.1-8B-Instruct" in r.json()["choices"][0]["message"]["content"]
    assert [x["path"] for x in upstream(mock_a)] == ["/v1/chat/completions"]
    assert [x["path"] for x in upstream(mock_b)] == ["/v1/chat/completions"]
    rec = pgw.record(r.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "universal"
    assert [(a["provider"], a["status"]) for a in rec["attempts"]] == [("openai", 500), ("huggingface", 200)]
    assert_no_client_credential(mock_a, mock_b)

    bad = [{"provider": "openai", "endpoint": "https://evil.example/v1/chat/completions", "query": {}}]
    r = httpx.post(f"{pgw.url}/v1/universal", json=bad, timeout=20)
    assert r.status_code == 400
    assert upstream(mock_a) == [upstream(mock_a)[0]]


def test_model_chosen_by_url_with_the_openai_sdk(pgw, mock_a):
    client = OpenAI(base_url=f"{pgw.url}/v1/route/openai/gpt-4o-mini", api_key=SLUICE_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="ignored-the-path-wins", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == "Mock reply from gpt-4o-mini: hi"
    (up,) = upstream(mock_a)
    assert up["path"] == "/v1/chat/completions"
    assert up["body"]["model"] == "gpt-4o-mini"
    rec = pgw.record(raw.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "chat"
    assert rec["meta"]["request_model"] == "openai/gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        OpenAI(base_url=f"{pgw.url}/v1/route/anthropic/claude-x", api_key="x", max_retries=0).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}]
        )
    # The header form.
    client = OpenAI(base_url=f"{pgw.url}/v1", api_key=SLUICE_KEY, max_retries=0, default_headers={"x-sluice-model": "openai/mock-gpt"})
    resp = client.chat.completions.create(model="anything", messages=[{"role": "user", "content": "hey"}])
    assert resp.choices[0].message.content == "Mock reply from mock-gpt: hey"
