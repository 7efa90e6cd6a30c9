"""The admin API against its own OpenAPI document.

The document must be valid OpenAPI; every operation is exercised, every
status it answers with must be documented for that operation, and every
JSON body must validate against the documented schema (errors included).
"""

import copy
import time

import httpx
import jsonschema
import openai
import pytest
from openapi_spec_validator import validate

from conftest import CONFIG, PROVIDER_KEY
from harness import admin_key, gateway


@pytest.fixture(scope="module")
def gwa(mock):
    g = gateway(CONFIG.format(mock=mock.url), env={"TEST_PROVIDER_KEY": PROVIDER_KEY})
    yield g
    g.stop()


class Admin:
    def __init__(self, url: str, key: str):
        self.url = url
        self.key = key
        self.spec = httpx.get(f"{url}/openapi.json", timeout=5).json()
        self.seen: set[str] = set()
        ops = {}
        for path, item in self.spec["paths"].items():
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    ops[op["operationId"]] = (method, path, op)
        self.ops = ops

    def call(self, op_id: str, status: int, *, key: str | None = "default", **params):
        method, path, op = self.ops[op_id]
        body = params.pop("json", None)
        raw = params.pop("content", None)
        query = params.pop("query", None)
        url = self.url + path.format(**params) + (f"?{query}" if query else "")
        headers = {}
        if key == "default":
            key = self.key
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        if raw is not None:
            headers["content-type"] = "application/json"
        r = httpx.request(method, url, json=body, content=raw, headers=headers, timeout=10)
        assert r.status_code == status, f"{op_id}: {r.status_code} {r.text}"
        documented = op["responses"]
        assert str(status) in documented, f"{op_id} answered {status}, not documented: {sorted(documented)}"
        self.check(documented[str(status)], r, op_id)
        self.seen.add(op_id)
        if r.headers.get("content-type", "").startswith("application/json") and r.content:
            return r.json()
        return r.text or None

    def check(self, response: dict, r: httpx.Response, op_id: str):
        if "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[-1]
            response = self.spec["components"]["responses"][name]
        content = response.get("content", {})
        if not content:
            return
        ctype = r.headers["content-type"].split(";")[0].strip()
        assert ctype in content, f"{op_id}: {ctype} not documented"
        if ctype != "application/json":
            return
        schema = content["application/json"]["schema"]
        doc = copy.deepcopy(schema)
        doc["components"] = self.spec["components"]
        jsonschema.Draft202012Validator(doc).validate(r.json())


@pytest.fixture(scope="module")
def admin(gwa):
    return Admin(gwa.admin_url, admin_key(gwa))


def test_the_document_is_valid_openapi(admin):
    validate(admin.spec)
    key_schema = admin.spec["components"]["schemas"]["KeyRecord"]
    assert "hash" not in key_schema["properties"]
    assert "previous_hash" not in key_schema["properties"]


def test_every_operation_answers_as_documented(gwa, admin, mock):
    a = admin
    # Errors first, in the documented error shape.
    a.call("listKeys", 401, key=None)
    a.call("listKeys", 401, key="not-the-admin-key")
    a.call("getKey", 404, id="key_nope")
    a.call("createKey", 400, content=b"{not json")
    a.call("createKey", 400, json={"name": "x", "limits": [{"metric": "requests", "limit": 1, "window_secs": 0}]})

    team = a.call("createTeam", 201, json={"name": "research", "budget": {"usd": 50, "period": "monthly"}})
    a.call("createTeam", 409, json={"name": "research"})
    assert a.call("getTeam", 200, id="research")["id"] == team["id"]
    a.call("updateTeam", 200, id=team["id"], json={"metadata": {"cost_center": "42"}})
    assert any(t["id"] == team["id"] for t in a.call("listTeams", 200))

    a.call("createConsumer", 404, json={"name": "orphan", "team": "no-such-team"})
    consumer = a.call("createConsumer", 201, json={"name": "alice", "team": "research"})
    assert a.call("getConsumer", 200, id="alice")["id"] == consumer["id"]
    a.call("updateConsumer", 200, id="alice", json={"limits": [{"metric": "requests", "limit": 100, "window_secs": 60}]})
    assert [c["name"] for c in a.call("listConsumers", 200)] == ["alice"]

    issued = a.call(
        "createKey",
        201,
        json={
            "name": "ci",
            "consumer": "alice",
            "allowed_models": ["gpt-test"],
            "limits": [{"metric": "total_tokens", "limit": 100000, "window_secs": 60}],
            "budget": {"usd": 5, "period": "daily", "alert_at": 0.8},
        },
    )
    secret, key_id = issued["key"], issued["id"]
    a.call("createKey", 409, json={"name": "dup", "key": secret})
    record = a.call("getKey", 200, id=key_id)
    assert secret not in str(record) and "hash" not in record
    assert any(k["id"] == key_id for k in a.call("listKeys", 200))
    a.call("updateKey", 200, id=key_id, json={"name": "ci-renamed", "expires_at": None})

    client = openai.OpenAI(base_url=f"{gwa.url}/v1", api_key=secret, max_retries=0)
    out = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="mock/other", messages=[{"role": "user", "content": "hi"}])

    for _ in range(50):  # records reach the database off the request path
        usage = a.call("getKeyUsage", 200, id=key_id)
        if usage["today"]["requests"] >= 1:
            break
        time.sleep(0.1)
    assert usage["today"]["requests"] >= 1, usage
    assert usage["budgets"][0]["budget"]["usd"] == 5
    totals = a.call("getUsage", 200)
    assert totals
    a.call("getRoutes", 200)
    generation = a.call("getStatus", 200)["config_generation"]

    # Reload through the admin API: a bad file is refused and the old config
    # keeps serving; the good file is swapped in as the next generation.
    good = open(gwa.config_path).read()
    with open(gwa.config_path, "w") as f:
        f.write(good + "\nnot_a_section: true\n")
    a.call("reloadConfig", 422)
    assert a.call("getReload", 200)["ok"] is False
    assert a.call("getStatus", 200)["config_generation"] == generation
    with open(gwa.config_path, "w") as f:
        f.write(good)
    reloaded = a.call("reloadConfig", 200)
    assert reloaded["ok"] is True and reloaded["trigger"] == "admin" and reloaded["generation"] > generation

    # Analytics over the request above.
    summary = a.call("getAnalyticsSummary", 200, query="group_by=model,key")
    assert summary["totals"]["requests"] >= 1
    a.call("getAnalyticsSummary", 400, query="group_by=colour")
    series = a.call("getAnalyticsTimeseries", 200, query="interval_secs=60&group_by=outcome")
    assert series["buckets"]
    logs = a.call("listLogs", 200, query=f"key={key_id}&limit=5")
    assert logs["data"] and all(l["key_id"] == key_id for l in logs["data"])
    one = a.call("getLog", 200, id=logs["data"][0]["request_id"])
    assert one["identity"]["key_id"] == key_id and secret not in str(one)
    a.call("getLog", 404, id="nope")
    exported = a.call("exportLogs", 200, query="format=json")
    assert exported
    a.call("exportLogs", 200, query="format=csv")
    a.call("exportLogs", 400, query="format=xml")

    rotated = a.call("rotateKey", 200, id=key_id, json={"grace_secs": 60})
    assert rotated["key"] != secret and rotated["id"] == key_id
    again = a.call("rotateKey", 200, id=key_id)
    assert again["key"] != rotated["key"]
    a.call("rotateKey", 404, id="key_nope")

    revoked = a.call("revokeKey", 200, id=key_id)
    assert revoked["revoked_at"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gwa.url}/v1", api_key=again["key"], max_retries=0).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )

    a.call("deleteConsumer", 200 if "200" in a.ops["deleteConsumer"][2]["responses"] else 204, id="alice")
    a.call("deleteTeam", 200 if "200" in a.ops["deleteTeam"][2]["responses"] else 204, id="research")
    a.call("getConsumer", 404, id="alice")

    missing = set(a.ops) - a.seen
    assert not missing, f"operations not exercised: {sorted(missing)}"
