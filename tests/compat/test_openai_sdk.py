"""The official OpenAI Python SDK against Sluice, with only base_url changed."""

import asyncio
import json
import time

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from conftest import CLIENT_KEY, PROVIDER_KEY

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
        },
    },
]


@pytest.fixture
def client(gw):
    return OpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY, max_retries=0)


def test_chat(client, mock, gw):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello SDK"}],
        temperature=0.1,
        seed=3,
        extra_body={"vendor_specific": {"x": 1}},
    )
    resp = raw.parse()
    assert resp.choices[0].message.content == "Mock reply from mock-gpt: Hello SDK"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert raw.headers["x-sluice-provider"] == "mock"
    up = mock.requests()[0]
    assert up["path"] == "/v1/chat/completions"
    headers = dict(up["headers"])
    assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert CLIENT_KEY not in json.dumps(up)
    assert up["body"]["vendor_specific"] == {"x": 1}
    assert up["body"]["seed"] == 3
    rec = gw.record(raw.headers["x-sluice-request-id"])
    assert rec["outcome"] == "ok"
    assert rec["usage"]["completion_tokens"] == resp.usage.completion_tokens
    assert rec["meta"]["request_model"] == "gpt-test"
    assert rec["meta"]["provider_name"] == "mock"


def test_async_chat(gw):
    async def run():
        client = AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY, max_retries=0)
        results = await asyncio.gather(
            *[
                client.chat.completions.create(
                    model="gpt-test", messages=[{"role": "user", "content": f"n{i}"}]
                )
                for i in range(8)
            ]
        )
        await client.close()
        return results

    results = asyncio.run(run())
    assert [r.choices[0].message.content for r in results] == [
        f"Mock reply from mock-gpt: n{i}" for i in range(8)
    ]


def test_stream_chunks_arrive_as_produced(client):
    start = time.monotonic()
    arrivals = []
    text = ""
    stream = client.chat.completions.create(
        model="gpt-test",
        stream=True,
        messages=[{"role": "user", "content": "<<mock words=6 itl_ms=150>>"}],
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
            text += chunk.choices[0].delta.content
    assert text == "alpha bravo charlie delta echo foxtrot"
    assert len(arrivals) == 6
    # Chunks are not buffered: the first arrives well before the last.
    assert arrivals[-1] - arrivals[0] > 0.5, arrivals


def test_stream_usage_when_requested(client):
    stream = client.chat.completions.create(
        model="gpt-test",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "usage please"}],
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6


def test_async_stream(gw):
    async def run():
        client = AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT_KEY, max_retries=0)
        out = ""
        stream = await client.chat.completions.create(
            model="gpt-test", stream=True, messages=[{"role": "user", "content": "async stream"}]
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                out += chunk.choices[0].delta.content
        await client.close()
        return out

    assert asyncio.run(run()) == "Mock reply from mock-gpt: async stream"


def test_tool_calls(client, mock):
    resp = client.chat.completions.create(
        model="gpt-test",
        tools=TOOLS,
        tool_choice="auto",
        messages=[{"role": "user", "content": "weather and time?"}],
    )
    calls = resp.choices[0].message.tool_calls
    assert resp.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "mock"}
    assert mock.requests()[0]["body"]["tools"] == TOOLS
    # Send the results back.
    follow = client.chat.completions.create(
        model="gpt-test",
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "weather and time?"},
            resp.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": calls[0].id, "content": "18C"},
            {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
        ],
    )
    assert follow.choices[0].message.content == "Tool result received: noon"


def test_streamed_tool_calls(client):
    stream = client.chat.completions.create(
        model="gpt-test",
        tools=TOOLS,
        stream=True,
        messages=[{"role": "user", "content": "weather?"}],
    )
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for tc in choice.delta.tool_calls or []:
            c = calls.setdefault(tc.index, {"name": "", "args": ""})
            if tc.function.name:
                c["name"] = tc.function.name
            c["args"] += tc.function.arguments or ""
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["args"]) == {"city": "mock"}
    assert json.loads(calls[1]["args"]) == {"tz": "mock"}


def test_embeddings(client, mock):
    # The SDK asks for base64 by default and decodes it.
    resp = client.embeddings.create(model="embed-test", input=["hello world", "other text"])
    assert len(resp.data) == 2
    assert len(resp.data[0].embedding) == 64
    assert abs(sum(x * x for x in resp.data[0].embedding) - 1.0) < 1e-3
    assert mock.requests()[0]["body"]["model"] == "mock-embed"
    floats = client.embeddings.create(model="embed-test", input="hi", encoding_format="float")
    assert len(floats.data[0].embedding) == 64


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["gpt-test", "embed-test"]


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "model_not_found"
    assert "no-such-model" in e.value.message


def test_malformed_json_is_bad_request(gw):
    r = httpx.post(f"{gw.url}/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "directive,exc,status",
    [
        ("status=429 retry_after=7", openai.RateLimitError, 429),
        ("status=500", openai.InternalServerError, 502),
        ("status=503", openai.InternalServerError, 503),
        ("status=400", openai.BadRequestError, 400),
    ],
)
def test_upstream_errors_are_typed(client, directive, exc, status):
    with pytest.raises(exc) as e:
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": f"<<mock {directive}>>"}]
        )
    assert e.value.status_code == status
    assert PROVIDER_KEY not in str(e.value.body)
    if status == 429:
        assert e.value.response.headers["retry-after"] == "7"


def test_error_inside_stream_raises(client):
    stream = client.chat.completions.create(
        model="gpt-test", stream=True, messages=[{"role": "user", "content": "<<mock error_after=2 words=10>>"}]
    )
    got = ""
    with pytest.raises(openai.APIError):
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got += chunk.choices[0].delta.content
    assert got == "alpha"


def test_cut_stream_raises(client):
    stream = client.chat.completions.create(
        model="gpt-test", stream=True, messages=[{"role": "user", "content": "<<mock cut_after=3 words=10>>"}]
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_client_disconnect_cancels_upstream(gw, mock):
    with httpx.stream(
        "POST",
        f"{gw.url}/v1/chat/completions",
        json={"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": "<<mock words=300 itl_ms=20>>"}]},
    ) as r:
        request_id = r.headers["x-sluice-request-id"]
        lines = r.iter_lines()
        for _ in range(5):
            next(lines)
    deadline = time.time() + 5
    while time.time() < deadline and mock.requests()[0]["outcome"] == "pending":
        time.sleep(0.05)
    assert mock.requests()[0]["outcome"] == "disconnected"
    rec = gw.record(request_id)
    assert rec["outcome"] == "client_cancelled"
    assert rec["usage"]["prompt_tokens"] > 0
    assert rec["usage"]["source"] == "estimated"
