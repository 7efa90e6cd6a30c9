use super::*;

fn env(k: &str) -> Option<String> {
    match k {
        "OPENAI_API_KEY" => Some("sk-test-openai".into()),
        "OTHER" => Some("sk-other".into()),
        _ => None,
    }
}

const GOOD: &str = r#"
server:
  listen: 127.0.0.1:9000
  max_body_size: 8MiB
  timeouts: { first_token: 5s }
providers:
  openai:
    type: openai
    api_keys: [env:OPENAI_API_KEY, env:OTHER]
    timeouts: { connect: 2s }
  local:
    type: llamacpp
    base_url: http://127.0.0.1:8089/v1/
  az:
    type: azure
    base_url: https://my-resource.openai.azure.com
    api_key: literal-key
models:
  - name: gpt-4o
    provider: openai
    aliases: [gpt4o]
  - name: "openai/*"
    provider: openai
  - name: llama
    provider: local
    model: llama-3.1-8b
routes:
  - name: support
    path: /support
    model: gpt-4o
    on_model_mismatch: reject
"#;

#[test]
fn a_good_config_validates() {
    let c = parse(GOOD, "good.yaml", &env).unwrap();
    assert_eq!(c.server.listen.port(), 9000);
    assert_eq!(c.server.max_body_bytes, 8 * 1024 * 1024);
    let openai = c.providers.iter().find(|p| p.name == "openai").unwrap();
    assert_eq!(openai.keys.len(), 2);
    assert_eq!(openai.keys[1].expose(), "sk-other");
    assert_eq!(openai.timeouts.connect.as_secs(), 2);
    assert_eq!(openai.timeouts.first_token.as_secs(), 5);
    let local = c.providers.iter().find(|p| p.name == "local").unwrap();
    assert_eq!(local.base_url, "http://127.0.0.1:8089/v1");
    let az = c.providers.iter().find(|p| p.name == "az").unwrap();
    assert_eq!(az.api_version.as_deref(), Some(DEFAULT_AZURE_API_VERSION));
    assert_eq!(c.routes.len(), 2);
    assert_eq!(c.routes[1].on_model_mismatch, OnModelMismatch::Reject);
    assert!(
        !format!("{c:?}").contains("sk-test-openai"),
        "secrets leak into Debug"
    );
}

fn problems(yaml: &str) -> Vec<Problem> {
    parse(yaml, "bad.yaml", &env).unwrap_err().problems
}

#[test]
fn unknown_fields_name_path_and_line() {
    let p = problems("providers:\n  openai:\n    type: openai\n    apikey: env:OPENAI_API_KEY\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "providers.openai.apikey");
    assert_eq!(p[0].line, Some(4));
    assert!(p[0].message.contains("unknown field"), "{}", p[0].message);
}

#[test]
fn wrong_types_and_bad_units() {
    let p = problems("server:\n  max_body_size: lots\n");
    assert_eq!(p[0].path, "server.max_body_size");
    assert_eq!(p[0].line, Some(2));
    let p = problems("providers:\n  x:\n    type: nonesuch\n");
    assert_eq!(p[0].path, "providers.x.type");
}

#[test]
fn cross_references_are_checked() {
    let p = problems(
        "providers:\n  openai:\n    type: openai\n    api_key: env:NOPE\nmodels:\n  - name: m\n    provider: ghost\n",
    );
    let paths: Vec<_> = p.iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert!(
        paths.contains(&("providers.openai.api_key", Some(4))),
        "{p:?}"
    );
    assert!(paths.contains(&("models[0].provider", Some(7))), "{p:?}");
    let msg = ConfigError {
        origin: "bad.yaml".into(),
        problems: p,
    }
    .to_string();
    assert!(
        msg.contains("bad.yaml:7: models[0].provider: unknown provider `ghost`"),
        "{msg}"
    );
}

#[test]
fn semantic_checks() {
    let p = problems(
        "providers:\n  az:\n    type: azure\n    api_key: k\n  openai:\n    type: openai\n",
    );
    assert!(p.iter().any(|p| p.path == "providers.az.base_url"), "{p:?}");
    assert!(
        p.iter()
            .any(|p| p.path == "providers.openai.api_key" && p.message.contains("OPENAI_API_KEY")),
        "{p:?}"
    );
    let p = problems(
        "providers:\n  l:\n    type: ollama\nmodels:\n  - {name: a, provider: l}\n  - {name: a, provider: l}\nroutes:\n  - {name: r, path: /v1, model: zzz}\n",
    );
    assert!(
        p.iter().any(|p| p.message.contains("defined twice")),
        "{p:?}"
    );
    assert!(p.iter().any(|p| p.message.contains("reserved")), "{p:?}");
    assert!(p.iter().any(|p| p.path == "routes[0].model"), "{p:?}");
}

#[test]
fn zero_config_enables_what_the_environment_has() {
    let env = |k: &str| match k {
        "OPENAI_API_KEY" => Some("sk-x".to_owned()),
        "OLLAMA_HOST" => Some("localhost:11434".to_owned()),
        _ => None,
    };
    let c = defaults::from_env(&env, DEFAULT_LISTEN.parse().unwrap());
    let names: Vec<_> = c.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["openai", "ollama"]);
    assert_eq!(c.providers[1].base_url, "http://localhost:11434/v1");
    assert!(c.models.iter().any(|m| m.name == "openai/*"));
    assert!(c.models.iter().any(|m| m.name == "gpt-*"));
    let none = defaults::from_env(&|_| None, DEFAULT_LISTEN.parse().unwrap());
    assert!(none.providers.is_empty());
}
