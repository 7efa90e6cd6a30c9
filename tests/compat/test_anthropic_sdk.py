"""The official Anthropic Python SDK against Sluice's `/v1/messages`, with
only `base_url` changed: to an Anthropic upstream (passed through), and to
an OpenAI-wire and a Gemini upstream (translated both ways)."""

import json

import anthropic
import pytest

from surfaces import CLIENT_KEY, KEY, UPSTREAMS, completion_tokens, header, sgw, smock, upstream_path  # noqa: F401

TOOLS = [
    {"name": "get_weather", "description": "Weather for a city",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "get_time", "description": "Time in a zone",
     "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}},
]

PROVIDERS = list(UPSTREAMS)


@pytest.fixture
def client(sgw, smock):
    smock.reset()
    return anthropic.Anthropic(base_url=sgw.url, api_key=CLIENT_KEY, max_retries=0)


def last_upstream(smock, provider, stream=False):
    reqs = [r for r in smock.requests() if r["path"] == upstream_path(provider, stream)]
    assert reqs, smock.requests()
    return reqs[-1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_text_and_system_prompt(client, smock, sgw, provider):
    model, upstream = UPSTREAMS[provider]
    raw = client.messages.with_raw_response.create(
        model=model,
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello SDK"}],
    )
    msg = raw.parse()
    assert isinstance(msg, anthropic.types.Message)
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text"
    assert msg.content[0].text == f"Mock reply from {upstream}: Hello SDK"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    assert raw.headers["x-sluice-provider"] == provider
    up = last_upstream(smock, provider)
    assert CLIENT_KEY not in json.dumps(up)
    if provider == "anthropic":
        assert header(up, "x-api-key") == KEY
        assert up["body"]["system"] == "Be brief."
        assert up["body"]["model"] == upstream
    elif provider == "openai":
        assert header(up, "authorization") == f"Bearer {KEY}"
        assert up["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        assert header(up, "x-goog-api-key") == KEY
        assert up["body"]["systemInstruction"]["parts"][0]["text"] == "Be brief."
    rec = sgw.record(raw.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "messages"
    assert rec["meta"]["provider_name"] == provider
    assert rec["meta"]["request_model"] == model
    assert rec["status"] == 200 and rec["outcome"] == "ok"
    assert rec["usage"]["completion_tokens"] == completion_tokens(up["usage"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_and_tool_results(client, smock, provider):
    model, _ = UPSTREAMS[provider]
    msg = client.messages.create(
        model=model,
        max_tokens=200,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert msg.stop_reason == "tool_use"
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "get_weather"
    assert uses[0].input == {"city": "mock"}
    follow = client.messages.create(
        model=model,
        max_tokens=200,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [u.model_dump() for u in uses]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "18C"}]},
        ],
    )
    assert follow.stop_reason == "end_turn"
    assert "18C" in follow.content[0].text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_text_final_message_and_usage(client, smock, sgw, provider):
    model, upstream = UPSTREAMS[provider]
    with client.messages.with_streaming_response.create(
        model=model, max_tokens=200, stream=True, messages=[{"role": "user", "content": "x"}]
    ) as raw:
        request_id = raw.headers["x-sluice-request-id"]
        for _ in raw.iter_lines():
            pass
    with client.messages.stream(
        model=model,
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": "Stream please"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"Mock reply from {upstream}: Stream please"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    up = last_upstream(smock, provider, stream=True)
    assert final.usage.output_tokens == completion_tokens(up["usage"])
    assert final.usage.input_tokens > 0
    rec = sgw.record(request_id)
    assert rec["meta"]["endpoint"] == "messages"
    assert rec["stream"] is True and rec["outcome"] == "ok"
    assert rec["ttft_ms"] is not None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_tool_calls(client, provider):
    model, _ = UPSTREAMS[provider]
    with client.messages.stream(
        model=model,
        max_tokens=200,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather and time?"}],
    ) as stream:
        final = stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather", "get_time"]
    assert uses[0].input == {"city": "mock"}
    assert uses[1].input == {"tz": "mock"}
    assert final.stop_reason == "tool_use"


def test_thinking_and_cache_control_survive_on_anthropic(client, smock):
    msg = client.messages.create(
        model="claude-test",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        system=[{"type": "text", "text": "Long system prompt.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Think first"}],
        extra_body={"future_option": {"keep": True}},
    )
    thinking = msg.content[0]
    assert thinking.type == "thinking"
    assert thinking.signature.startswith("mock-signature-")
    up = smock.requests()[-1]
    assert up["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert up["body"]["future_option"] == {"keep": True}
    client.messages.create(
        model="claude-test",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[
            {"role": "user", "content": "Think first"},
            {"role": "assistant", "content": [b.model_dump() for b in msg.content]},
            {"role": "user", "content": "Again"},
        ],
    )
    sent = smock.requests()[-1]["body"]["messages"][1]["content"][0]
    assert sent == {"type": "thinking", "thinking": thinking.thinking, "signature": thinking.signature}


def test_fallback_from_anthropic_to_openai(client, smock):
    smock.script([{"model": "claude-sonnet-4-5", "status": 529}])
    raw = client.messages.with_raw_response.create(
        model="claude-then-gpt", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )
    assert raw.headers["x-sluice-provider"] == "openai"
    assert raw.parse().content[0].text == "Mock reply from mock-gpt: Hi"


def test_count_tokens(client, smock):
    n = client.messages.count_tokens(model="claude-test", messages=[{"role": "user", "content": "count these"}])
    assert n.input_tokens > 0
    assert smock.requests()[-1]["path"] == "/v1/messages/count_tokens"
    raw = client.messages.with_raw_response.count_tokens(
        model="gpt-test", messages=[{"role": "user", "content": "count these"}]
    )
    assert raw.headers["x-sluice-token-count"] == "estimated"
    assert raw.parse().input_tokens > 0


def test_errors_are_typed(client, sgw):
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(
            model="claude-test", max_tokens=10, messages=[{"role": "user", "content": "x <<mock status=429>>"}]
        )
    assert e.value.status_code == 429
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(
            model="gpt-test", max_tokens=10, messages=[{"role": "user", "content": "x <<mock status=429>>"}]
        )
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(
            model="gemini-test",
            max_tokens=10,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            messages=[{"role": "user", "content": "search"}],
        )
    assert "Anthropic upstream" in e.value.message
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(
            model="gemini-test", max_tokens=10, messages=[{"role": "user", "content": "x <<mock status=500>>"}]
        )
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(
            model="gpt-test",
            max_tokens=100,
            messages=[{"role": "user", "content": "x <<mock words=20 error_after=3>>"}],
        ) as stream:
            for _ in stream.text_stream:
                pass
    assert e.value.body["type"] == "error"


def test_async_client(sgw):
    import asyncio

    async def run():
        c = anthropic.AsyncAnthropic(base_url=sgw.url, api_key=CLIENT_KEY, max_retries=0)
        results = await asyncio.gather(
            *[
                c.messages.create(model=m, max_tokens=50, messages=[{"role": "user", "content": f"n{i}"}])
                for i, m in enumerate(["claude-test", "gpt-test", "gemini-test"] * 2)
            ]
        )
        await c.close()
        return results

    for r in asyncio.run(run()):
        assert r.content[0].text.startswith("Mock reply from")
