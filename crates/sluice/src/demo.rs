//! `sluice demo`: the gateway in front of an in-process mock provider, so a
//! newcomer with no API keys can try it at once.

use std::net::SocketAddr;

use anyhow::Context as _;
use sluice_gateway::config;

use crate::cli::LogFormat;
use crate::run;

const DEMO_CONFIG: &str = r#"
providers:
  mock:
    type: openai_compatible
    base_url: MOCK_URL/v1
models:
  - name: demo-gpt
    provider: mock
    model: mock-gpt
    aliases: [gpt-4o-mini]
  - name: demo-embed
    provider: mock
    model: mock-embed
  - name: "mock/*"
    provider: mock
routes:
  - name: support
    path: /support
    model: demo-gpt
"#;

/// Starts the mock, then the gateway, and prints examples.
pub async fn run(listen: SocketAddr, log_format: LogFormat) -> anyhow::Result<()> {
    let mock = sluice_mock::MockServer::start()
        .await
        .context("cannot start the mock provider")?;
    let yaml = DEMO_CONFIG.replace("MOCK_URL", &mock.url());
    let mut cfg =
        config::parse(&yaml, "demo config", &|_| None).map_err(|e| anyhow::anyhow!("{e}"))?;
    cfg.server.listen = listen;
    println!(
        "Mock provider on {} (OpenAI wire, faults on request).",
        mock.url()
    );
    println!("{}", examples(listen));
    run::serve(cfg, Some(listen), log_format, None).await
}

fn examples(addr: SocketAddr) -> String {
    format!(
        r#"Try it:

  curl -s http://{addr}/v1/chat/completions -H 'content-type: application/json' \
    -d '{{"model":"demo-gpt","messages":[{{"role":"user","content":"Hello!"}}]}}'

  curl -sN http://{addr}/v1/chat/completions -H 'content-type: application/json' \
    -d '{{"model":"demo-gpt","stream":true,"messages":[{{"role":"user","content":"Stream please"}}]}}'

  # inject a fault: the mock obeys <<mock ...>> directives in the prompt
  curl -s http://{addr}/v1/chat/completions -H 'content-type: application/json' \
    -d '{{"model":"demo-gpt","messages":[{{"role":"user","content":"<<mock status=503>>"}}]}}'

  python3 - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="http://{addr}/v1", api_key="unused")
print(client.chat.completions.create(model="demo-gpt",
      messages=[{{"role": "user", "content": "Hello from Python"}}]).choices[0].message.content)
for chunk in client.chat.completions.create(model="demo-gpt", stream=True,
      messages=[{{"role": "user", "content": "count to five"}}]):
    print(chunk.choices[0].delta.content or "", end="", flush=True) if chunk.choices else None
print()
print(len(client.embeddings.create(model="demo-embed", input="hi").data[0].embedding), "dims")
PY
"#
    )
}
