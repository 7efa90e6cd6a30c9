"""The official OpenAI SDK's Responses client against Sluice's
`/v1/responses`: passed through to an OpenAI upstream, translated to chat
for Anthropic and Gemini upstreams, with Sluice keeping the conversation for
`previous_response_id`."""

import json

import openai
import pytest
from openai import OpenAI

from surfaces import CLIENT_KEY, KEY, UPSTREAMS, completion_tokens, header, sgw, smock, upstream_path  # noqa: F401

TOOLS = [
    {"type": "function", "name": "get_weather", "description": "Weather for a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"type": "function", "name": "get_time", "description": "Time in a zone",
     "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}},
]

PROVIDERS = list(UPSTREAMS)
TRANSLATED = ["anthropic", "gemini"]


@pytest.fixture
def client(sgw, smock):
    smock.reset()
    return OpenAI(base_url=f"{sgw.url}/v1", api_key=CLIENT_KEY, max_retries=0)


def upstream_requests(smock, provider):
    if provider == "openai":
        return [r for r in smock.requests() if r["path"] == "/v1/responses"]
    return [r for r in smock.requests() if r["path"] in (upstream_path(provider), upstream_path(provider, True))]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_text_with_instructions(client, smock, sgw, provider):
    model, upstream = UPSTREAMS[provider]
    raw = client.responses.with_raw_response.create(model=model, instructions="Be brief.", input="Hello SDK")
    resp = raw.parse()
    assert resp.object == "response"
    assert resp.status == "completed"
    assert resp.output_text == f"Mock reply from {upstream}: Hello SDK"
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert raw.headers["x-sluice-provider"] == provider
    up = upstream_requests(smock, provider)[-1]
    assert CLIENT_KEY not in json.dumps(up)
    if provider == "openai":
        assert header(up, "authorization") == f"Bearer {KEY}"
        assert up["body"] == {"model": upstream, "instructions": "Be brief.", "input": "Hello SDK"}
    elif provider == "anthropic":
        assert up["body"]["system"] == "Be brief."
    else:
        assert up["body"]["systemInstruction"]["parts"][0]["text"] == "Be brief."
    rec = sgw.record(raw.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "responses"
    assert rec["meta"]["provider_name"] == provider
    assert rec["meta"]["request_model"] == model
    assert rec["outcome"] == "ok" and rec["status"] == 200
    assert rec["usage"]["completion_tokens"] == completion_tokens(up["usage"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools_then_results_with_previous_response_id(client, smock, provider):
    model, _ = UPSTREAMS[provider]
    first = client.responses.create(model=model, input="Weather in Paris?", tools=TOOLS, tool_choice="required")
    calls = [o for o in first.output if o.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "mock"}
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": c.call_id, "output": "18C"} for c in calls],
    )
    assert second.status == "completed"
    assert "Tool result received" in second.output_text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_helper_final_response_and_usage(client, smock, sgw, provider):
    model, upstream = UPSTREAMS[provider]
    deltas = []
    with client.responses.stream(model=model, input="Stream please") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == f"Mock reply from {upstream}: Stream please"
    assert final.output_text == "".join(deltas)
    assert final.status == "completed"
    assert final.usage.output_tokens > 0
    up = upstream_requests(smock, provider)[-1]
    assert final.usage.output_tokens == completion_tokens(up["usage"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_function_calls(client, provider):
    model, _ = UPSTREAMS[provider]
    stream = client.responses.create(model=model, input="Weather and time", tools=TOOLS, stream=True)
    events = list(stream)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(events[0].sequence_number, events[0].sequence_number + len(events)))
    done = [e.item for e in events if e.type == "response.output_item.done" and e.item.type == "function_call"]
    assert [d.name for d in done] == ["get_weather", "get_time"]
    final = events[-1].response
    assert [o.name for o in final.output if o.type == "function_call"] == ["get_weather", "get_time"]


@pytest.mark.parametrize("provider", TRANSLATED)
def test_two_turn_conversation_on_a_non_openai_upstream(client, smock, provider):
    model, upstream = UPSTREAMS[provider]
    first = client.responses.create(model=model, instructions="Remember names.", input="My name is Ada.")
    with client.responses.stream(model=model, previous_response_id=first.id, input="What is my name?") as stream:
        second = stream.get_final_response()
    assert second.previous_response_id == first.id
    assert second.output_text == f"Mock reply from {upstream}: What is my name?"
    up = upstream_requests(smock, provider)[-1]["body"]
    turns = up["messages"] if provider == "anthropic" else up["contents"]
    assert len(turns) == 3
    text = json.dumps(turns)
    assert "My name is Ada." in text and first.output_text in text and "What is my name?" in text
    # A third turn continues the streamed one.
    third = client.responses.create(model=model, previous_response_id=second.id, input="Thanks")
    up = upstream_requests(smock, provider)[-1]["body"]
    turns = up["messages"] if provider == "anthropic" else up["contents"]
    assert len(turns) == 5
    assert third.output_text.endswith("Thanks")
    got = client.responses.retrieve(third.id)
    assert got.output_text == third.output_text
    client.responses.delete(third.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(third.id)


def test_previous_response_id_goes_to_openai_as_is(client, smock):
    first = client.responses.create(model="gpt-test", input="Hi")
    client.responses.create(model="gpt-test", input="Again", previous_response_id=first.id)
    assert smock.requests()[-1]["body"]["previous_response_id"] == first.id


def test_what_cannot_be_honoured_is_a_clear_400(client, smock):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="claude-test", input="search", tools=[{"type": "web_search"}])
    assert e.value.param == "tools"
    assert "OpenAI or Azure" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gemini-test", input="x", background=True)
    assert e.value.param == "background"
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model="claude-test", input="x", previous_response_id="resp_unknown")
    assert e.value.param == "previous_response_id"
    first = client.responses.create(model="claude-test", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="claude-test", input="y", previous_response_id=first.id)
    # OpenAI runs its own tools.
    assert client.responses.create(model="gpt-test", input="search", tools=[{"type": "web_search"}]).output_text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_errors_are_typed(client, provider):
    model, _ = UPSTREAMS[provider]
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=model, input="x <<mock status=429>>")
    with pytest.raises(openai.APIError):
        with client.responses.stream(model=model, input="x <<mock words=20 error_after=3>>") as stream:
            for _ in stream:
                pass


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="x")
