"""`POST /v1/rerank` (Cohere's rerank shape) through the built gateway, with
httpx: the OpenAI SDK has no rerank call. Checks what the client receives,
the request record, and the exact request the mock received."""

import httpx
import pytest

from harness import gateway
from providers import KEY, header

CONFIG = """
providers:
  co:
    type: cohere
    base_url: {mock}
    api_key: env:COMPAT_KEY
    timeouts: {{ first_token: 3s, idle: 3s, total: 20s }}
  oa:
    type: openai
    base_url: {mock}/v1
    api_key: env:COMPAT_KEY
models:
  - name: rerank-test
    provider: co
    model: rerank-v3.5
  - name: gpt-test
    provider: oa
    model: mock-gpt
routes:
  - name: search
    path: /search
"""

DOCS = [
    "How do I bake sourdough bread?",
    {"text": "The capital of France is Paris.", "id": "fr"},
    "Paris is a city in France.",
]


@pytest.fixture(scope="module")
def rgw(mock):
    g = gateway(CONFIG.format(mock=mock.url), env={"COMPAT_KEY": KEY})
    yield g
    g.stop()


def rerank(rgw, body, prefix=""):
    return httpx.post(f"{rgw.url}{prefix}/v1/rerank", json=body, timeout=20)


def test_rerank_ranks_and_echoes_documents(rgw, mock):
    r = rerank(rgw, {"model": "rerank-test", "query": "What is the capital of France?",
                     "documents": DOCS, "top_n": 2, "return_documents": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["index"] for x in body["results"]] == [1, 2]
    assert body["results"][0]["document"] == {"text": "The capital of France is Paris.", "id": "fr"}
    assert body["results"][1]["document"] == {"text": "Paris is a city in France."}
    scores = [x["relevance_score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert body["meta"]["billed_units"]["search_units"] == 1
    assert r.headers["x-sluice-provider"] == "co"

    [up] = mock.requests()
    assert up["path"] == "/v2/rerank"
    assert header(up, "authorization") == f"Bearer {KEY}"
    assert up["body"] == {"model": "rerank-v3.5", "query": "What is the capital of France?", "top_n": 2,
                          "documents": [DOCS[0], DOCS[1]["text"], DOCS[2]]}

    rec = rgw.record(r.headers["x-sluice-request-id"])
    assert rec["meta"]["endpoint"] == "rerank"
    assert rec["meta"]["upstream_model"] == "rerank-v3.5"
    assert rec["usage"]["prompt_tokens"] == 1 and rec["usage"]["source"] == "provider"
    assert rec["outcome"] == "ok"


def test_rerank_under_a_route_prefix(rgw, mock):
    r = rerank(rgw, {"model": "rerank-test", "query": "bread", "documents": ["cars", "bread"]}, prefix="/search")
    assert r.status_code == 200, r.text
    assert r.json()["results"][0] == {"index": 1, "relevance_score": r.json()["results"][0]["relevance_score"]}
    assert rgw.record(r.headers["x-sluice-request-id"])["meta"]["route"] == "search"


@pytest.mark.parametrize("body,param", [
    ({"model": "gpt-test", "query": "q", "documents": ["a"]}, "model"),
    ({"model": "rerank-test", "query": "q", "documents": ["a"], "rank_fields": ["title"]}, "rank_fields"),
    ({"model": "rerank-test", "query": "q", "documents": [{"title": "no text"}]}, "documents"),
    ({"model": "rerank-test", "documents": ["a"]}, "query"),
])
def test_rerank_refusals_are_clear_400s(rgw, mock, body, param):
    r = rerank(rgw, body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param
    assert not [x for x in mock.requests() if x["path"] == "/v2/rerank"]


def test_rerank_upstream_errors_keep_their_status(rgw, mock):
    # The gateway retries once by default, so both attempts must fail.
    mock.script([{"status": 429, "retry_after": 1}] * 2)
    r = rerank(rgw, {"model": "rerank-test", "query": "q", "documents": ["a"]})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "rate_limit_error"
    mock.script([{"status": 500}] * 2)
    assert rerank(rgw, {"model": "rerank-test", "query": "q", "documents": ["a"]}).status_code == 502
