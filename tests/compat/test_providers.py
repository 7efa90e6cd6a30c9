"""One table of cases, run against every provider through the gateway with
the official OpenAI SDK. Each case checks what the SDK received and what the
mock provider received (path, credentials, body)."""

import json

import openai
import pytest
from openai import OpenAI

from harness import Mock, gateway
from providers import KEY, PROVIDERS, dumps

IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Time in a zone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}},
]


@pytest.fixture(scope="module")
def pmock():
    m = Mock(env={k: v for p in PROVIDERS for k, v in p.mock_env.items()})
    yield m
    m.stop()


@pytest.fixture(scope="module")
def pgw(pmock):
    from providers import gateway_config

    g = gateway(gateway_config(pmock.url), env={"COMPAT_KEY": KEY, **extra_env()})
    yield g
    g.stop()


def extra_env() -> dict:
    env = {}
    for p in PROVIDERS:
        env.update(getattr(p, "env", {}) or {})
    return env


@pytest.fixture
def client(pgw, pmock):
    pmock.reset()
    return OpenAI(base_url=f"{pgw.url}/v1", api_key="client-key-not-forwarded", max_retries=0)


def chat_requests(mock, p):
    return [r for r in mock.requests() if p.chat_path(r)]


def needs(p, cap):
    if cap not in p.caps:
        pytest.skip(f"{p.name} has no {cap}; covered by test_unsupported_capability_is_a_clear_400")


params = pytest.mark.parametrize("p", PROVIDERS, ids=[p.name for p in PROVIDERS])


@params
def test_text(client, pmock, p):
    r = client.chat.completions.create(model=p.model, messages=[{"role": "user", "content": "Hello there"}])
    assert r.choices[0].message.content == f"Mock reply from {p.upstream_model}: Hello there"
    assert r.choices[0].finish_reason == "stop"
    reqs = chat_requests(pmock, p)
    assert len(reqs) == 1, [x["path"] for x in pmock.requests()]
    assert p.authorized(reqs[0])
    assert "client-key-not-forwarded" not in dumps(reqs[0])


@params
def test_system_prompt_and_multi_turn(client, pmock, p):
    r = client.chat.completions.create(
        model=p.model,
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ahoy"},
            {"role": "user", "content": "second"},
        ],
    )
    assert r.choices[0].message.content.endswith("second")
    body = chat_requests(pmock, p)[0]["body"]
    assert p.system_of(body) == "You are a pirate."
    assert p.turns_of(body) == 3


@params
def test_usage_matches_provider_report(client, pmock, p):
    r = client.chat.completions.create(model=p.model, messages=[{"role": "user", "content": "count my tokens"}])
    prompt, completion = p.usage_of(chat_requests(pmock, p)[0]["usage"])
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (prompt, completion)
    assert r.usage.total_tokens == prompt + completion


@params
def test_tool_call_parallel_and_result(client, pmock, p):
    needs(p, "tools")
    r = client.chat.completions.create(model=p.model, tools=TOOLS, messages=[{"role": "user", "content": "weather and time"}])
    calls = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "mock"}
    follow = client.chat.completions.create(
        model=p.model,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "weather and time"},
            r.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
            {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
        ],
    )
    assert follow.choices[0].message.content.startswith("Tool result received:")
    assert "noon" in follow.choices[0].message.content


@params
def test_single_forced_tool(client, pmock, p):
    needs(p, "tools")
    r = client.chat.completions.create(
        model=p.model, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_time"}},
        messages=[{"role": "user", "content": "time"}],
    )
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_time"]


@params
def test_image_input(client, pmock, p):
    needs(p, "vision")
    r = client.chat.completions.create(model=p.model, messages=[{"role": "user", "content": [
        {"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": IMAGE}}]}])
    assert r.choices[0].message.content.endswith("describe")
    assert IMAGE.split(",", 1)[1] in dumps(chat_requests(pmock, p)[0]["body"])


@params
def test_json_mode(client, pmock, p):
    needs(p, "json")
    r = client.chat.completions.create(
        model=p.model,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": {
            "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}},
        messages=[{"role": "user", "content": "answer in json"}],
    )
    assert isinstance(json.loads(r.choices[0].message.content), dict)


@params
def test_streaming_text(client, pmock, p):
    stream = client.chat.completions.create(
        model=p.model, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "stream this"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Mock reply from {p.upstream_model}: stream this"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 2, "streamed in several chunks"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]


@params
def test_streaming_tool_calls(client, pmock, p):
    needs(p, "tools")
    calls = {}
    for chunk in client.chat.completions.create(model=p.model, tools=TOOLS, stream=True,
                                                messages=[{"role": "user", "content": "weather and time"}]):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            c = calls.setdefault(tc.index, {"name": None, "args": "", "id": None})
            c["name"] = tc.function.name or c["name"]
            c["id"] = tc.id or c["id"]
            c["args"] += tc.function.arguments or ""
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert json.loads(calls[1]["args"]) == {"tz": "mock"}
    assert all(c["id"] for c in calls.values())


@params
def test_embeddings(client, pmock, p):
    needs(p, "embeddings")
    r = client.embeddings.create(model=f"e-{p.name}", input=["alpha beta", "gamma"])
    assert len(r.data) == 2
    assert len(r.data[0].embedding) > 0
    assert r.usage.prompt_tokens > 0


@params
@pytest.mark.parametrize("directive,exc", [
    ("status=429 retry_after=1", openai.RateLimitError),
    ("status=500", openai.InternalServerError),
])
def test_upstream_errors(client, p, directive, exc):
    with pytest.raises(exc):
        client.chat.completions.create(model=p.model, messages=[{"role": "user", "content": f"<<mock {directive}>>"}])


@params
@pytest.mark.parametrize("directive", ["error_after=3", "cut_after=3"])
def test_broken_streams_raise(client, p, directive):
    stream = client.chat.completions.create(model=p.model, stream=True,
                                            messages=[{"role": "user", "content": f"<<mock {directive} words=12>>"}])
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


@params
def test_unsupported_capability_is_a_clear_400(client, p):
    missing = [c for c in ("tools", "vision", "json") if c not in p.caps]
    if not missing:
        pytest.skip(f"{p.name} supports every capability")
    kwargs = {
        "tools": {"tools": TOOLS},
        "vision": {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE}}]}]},
        "json": {"response_format": {"type": "json_object"}},
    }[missing[0]]
    kwargs.setdefault("messages", [{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=p.model, **kwargs)


@params
def test_missing_embeddings_is_a_clear_400(client, p):
    if "embeddings" in p.caps:
        pytest.skip(f"{p.name} has embeddings")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=p.model, input="x")
