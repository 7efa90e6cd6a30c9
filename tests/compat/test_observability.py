"""Traces and metrics as their consumers read them: an OTLP/HTTP protobuf
collector (decoding with the official OpenTelemetry protos) receives GenAI
spans with the client's trace context, the provider receives it too, and
`/metrics` parses with the Prometheus client's own parser.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from conftest import CONFIG, PROVIDER_KEY
from harness import gateway

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class Collector:
    def __init__(self):
        self.requests: list[ExportTraceServiceRequest] = []
        self.content_types: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                msg = ExportTraceServiceRequest()
                msg.ParseFromString(body)
                collector.requests.append(msg)
                collector.content_types.append(self.headers["content-type"])
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self):
        out = []
        for req in self.requests:
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    out.extend(ss.spans)
        return out


def attrs(span) -> dict:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value if v.HasField("string_value") else v.int_value if v.HasField("int_value") else v.double_value
    return out


@pytest.fixture(scope="module")
def traced(mock):
    collector = Collector()
    cfg = CONFIG.format(mock=mock.url) + f"traces:\n  otlp_endpoint: {collector.url}\n  service_name: sluice-test\n"
    g = gateway(cfg, env={"TEST_PROVIDER_KEY": PROVIDER_KEY})
    yield g, collector
    g.stop()
    collector.server.shutdown()


def test_genai_spans_reach_an_otlp_collector_with_the_clients_trace(traced, mock):
    g, collector = traced
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "trace me"}],
        extra_headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
    )
    answer = raw.parse()
    back = raw.headers["traceparent"]
    assert back.startswith(f"00-{TRACE}-") and not back.endswith(f"-{PARENT}-01")
    server_span_id = back.split("-")[2]
    # The provider got the same trace, as a child of the gateway's span.
    upstream = mock.requests()[-1]
    sent = dict(upstream["headers"])["traceparent"]
    assert sent == back

    deadline = time.time() + 10
    while time.time() < deadline and len(collector.spans()) < 2:
        time.sleep(0.05)
    spans = collector.spans()
    assert collector.content_types[0] == "application/x-protobuf"
    server = next(s for s in spans if s.span_id.hex() == server_span_id)
    assert server.trace_id.hex() == TRACE
    assert server.parent_span_id.hex() == PARENT
    assert server.kind == 2  # SERVER
    assert server.name == "chat gpt-test"
    a = attrs(server)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-test"
    assert a["gen_ai.usage.input_tokens"] == answer.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens
    assert server.end_time_unix_nano > server.start_time_unix_nano
    child = next(s for s in spans if s.parent_span_id.hex() == server_span_id)
    assert child.kind == 3  # CLIENT
    assert attrs(child)["gen_ai.request.model"] == "mock-gpt"
    res = collector.requests[0].resource_spans[0].resource
    assert any(kv.key == "service.name" and kv.value.string_value == "sluice-test" for kv in res.attributes)


def test_metrics_parse_with_the_prometheus_client(traced):
    g, _ = traced
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "count me"}])
    text = httpx.get(f"{g.url}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["sluice_requests"]
    assert requests.type == "counter"
    assert sum(s.value for s in requests.samples if s.name == "sluice_requests_total") >= 1
    hist = families["sluice_request_duration_seconds"]
    assert hist.type == "histogram"
    assert any(s.labels.get("le") == "+Inf" for s in hist.samples)
    for f in families.values():
        for s in f.samples:
            assert "key" not in s.labels and "consumer" not in s.labels
