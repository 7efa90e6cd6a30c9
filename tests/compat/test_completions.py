"""The official OpenAI SDK's legacy Completions client against Sluice's
`/v1/completions`: passed through to an OpenAI-wire upstream, mapped to chat
for Anthropic and Gemini upstreams."""

import openai
import pytest
from openai import OpenAI

from surfaces import CLIENT_KEY, UPSTREAMS, completion_tokens, sgw, smock  # noqa: F401


@pytest.fixture
def client(sgw, smock):
    smock.reset()
    return OpenAI(base_url=f"{sgw.url}/v1", api_key=CLIENT_KEY, max_retries=0)


@pytest.mark.parametrize("provider", list(UPSTREAMS))
def test_completion_and_stream(client, smock, sgw, provider):
    model, upstream = UPSTREAMS[provider]
    raw = client.completions.with_raw_response.create(model=model, prompt="Once upon", max_tokens=40)
    c = raw.parse()
    assert c.object == "text_completion"
    assert c.choices[0].text == f"Mock reply from {upstream}: Once upon"
    assert c.choices[0].finish_reason == "stop"
    assert c.usage.completion_tokens > 0
    up = smock.requests()[-1]
    if provider == "openai":
        assert up["path"] == "/v1/completions"
        assert up["body"]["prompt"] == "Once upon"
    else:
        assert up["path"] != "/v1/completions"
    rec = sgw.record(raw.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "completions"
    assert rec["meta"]["provider_name"] == provider
    assert rec["usage"]["completion_tokens"] == completion_tokens(up["usage"])
    chunks = list(
        client.completions.create(
            model=model, prompt="Stream", max_tokens=40, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    assert text == f"Mock reply from {upstream}: Stream"
    assert chunks[-1].usage.total_tokens > 0


def test_legacy_default_max_tokens_and_refusals(client, smock):
    c = client.completions.create(model="claude-test", prompt="x <<mock words=40>>")
    assert c.choices[0].finish_reason == "length"
    assert smock.requests()[-1]["body"]["max_tokens"] == 16
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="gemini-test", prompt="a", suffix="b")
    assert e.value.param == "suffix"
