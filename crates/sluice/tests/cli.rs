//! The `sluice` binary: `check`, and `serve` with zero config.
#![cfg(test)]
#![expect(
    clippy::disallowed_methods,
    reason = "synchronous tests that wait on child processes"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_accepts_a_good_config() {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/openai.yaml"
        ))
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn check_names_path_and_line_of_each_problem() {
    let p = write_temp(
        "bad.yaml",
        "providers:\n  openai:\n    type: openai\n    api_key: env:SLUICE_TEST_UNSET_VAR\nmodels:\n  - name: m\n    provider: nobody\n",
    );
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:4: providers.openai.api_key"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:7: models[0].provider"), "{err}");
    let p = write_temp("typo.yaml", "server:\n  listne: 1.2.3.4:5\n");
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.yaml:2: server.listne: unknown field"),
        "{err}"
    );
}

struct Served {
    child: Child,
    url: String,
    banner: String,
    data_dir: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A fresh data directory (left in the system temp dir).
fn data_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sluice-cli-test-{}", uuid_like()))
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{n}", std::process::id())
}

fn serve(envs: &[(&str, &str)]) -> Served {
    let dir = data_dir();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLUICE_DATA_DIR", &dir)
        .env("SLUICE_ADMIN_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut served = Served {
        child: cmd.spawn().unwrap(),
        url: String::new(),
        banner: String::new(),
        data_dir: dir,
    };
    let mut reader = BufReader::new(served.child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "exited early: {}",
            served.banner
        );
        served.banner.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            served.url = url.to_owned();
            std::thread::spawn(move || for _ in reader.lines() {});
            return served;
        }
    }
}

fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    })
}

#[test]
fn zero_config_without_keys_explains_how_to_enable_a_provider() {
    let s = serve(&[]);
    assert!(
        s.banner.contains("No providers are enabled"),
        "{}",
        s.banner
    );
    let (status, v) = post(
        &s.url,
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("OPENAI_API_KEY") && msg.contains("sluice demo"),
        "{msg}"
    );
}

#[test]
fn zero_config_enables_providers_from_the_environment() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(sluice_mock::MockServer::start()).unwrap();
    let base = format!("{}/v1", mock.url());
    let s = serve(&[
        ("OPENAI_API_KEY", "sk-zero-config"),
        ("OPENAI_BASE_URL", &base),
        ("GROQ_API_KEY", "gsk-x"),
    ]);
    assert!(s.banner.contains("openai"), "{}", s.banner);
    assert!(s.banner.contains("groq/*"), "{}", s.banner);
    assert!(
        s.banner.contains("Not enabled:") && s.banner.contains("DEEPSEEK_API_KEY"),
        "{}",
        s.banner
    );
    let handle = rt.enter();
    for model in ["openai/gpt-4o-mini", "gpt-4o-mini"] {
        let (status, v) = post(
            &s.url,
            &format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#),
        );
        assert_eq!(status, 200, "{model}: {v}");
        assert_eq!(v["model"], "gpt-4o-mini");
    }
    drop(handle);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer sk-zero-config")
    );
}

fn serve_config(path: &std::path::Path) -> Served {
    let dir = data_dir();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(path)
        .env("SLUICE_DATA_DIR", &dir)
        .env("SLUICE_ADMIN_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut served = Served {
        child: cmd.spawn().unwrap(),
        url: String::new(),
        banner: String::new(),
        data_dir: dir,
    };
    let mut reader = BufReader::new(served.child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "exited early: {}",
            served.banner
        );
        served.banner.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            served.url = url.to_owned();
            std::thread::spawn(move || for _ in reader.lines() {});
            return served;
        }
    }
}

fn status_of(url: &str, model: &str) -> u16 {
    post(
        url,
        &format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#),
    )
    .0
}

fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
    for _ in 0..60 {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn config_reloads_on_file_change_and_sighup_and_refuses_bad_files() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(sluice_mock::MockServer::start()).unwrap();
    let config = |models: &[&str]| {
        let mut y = format!(
            "providers:\n  mock:\n    type: openai_compatible\n    base_url: {}/v1\nmodels:\n",
            mock.url()
        );
        for m in models {
            y.push_str(&format!("  - {{ name: {m}, provider: mock }}\n"));
        }
        y
    };
    let path = write_temp("reload.yaml", &config(&["m1"]));
    let s = serve_config(&path);
    let _enter = rt.enter();
    assert_eq!(status_of(&s.url, "m1"), 200);
    assert_eq!(status_of(&s.url, "m2"), 404);

    std::fs::write(&path, config(&["m1", "m2"])).unwrap();
    assert!(
        wait_for(|| status_of(&s.url, "m2") == 200),
        "file change reloaded the config"
    );

    std::fs::write(&path, "models: [ {name: broken, provider: nobody} ]\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        status_of(&s.url, "m2"),
        200,
        "a bad file is refused and the old config keeps serving"
    );

    // With the watcher's view of the file unchanged, SIGHUP reloads too.
    std::fs::write(&path, config(&["m1", "m2", "m3"])).unwrap();
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(
        wait_for(|| status_of(&s.url, "m3") == 200),
        "SIGHUP reloaded the config"
    );
}

#[test]
fn zero_config_enables_gemini_and_vertex() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(sluice_mock::MockServer::start()).unwrap();
    let creds = std::env::temp_dir().join(format!(
        "sluice-zero-config-vertex-{}.json",
        mock.addr().port()
    ));
    std::fs::write(
        &creds,
        sluice_mock::gemini::token::test_service_account(&format!("{}/token", mock.url())),
    )
    .unwrap();
    let s = serve(&[
        ("GEMINI_API_KEY", "gemini-zero-config-key"),
        ("GEMINI_BASE_URL", &mock.url()),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            &creds.display().to_string(),
        ),
        ("VERTEX_PROJECT", "zc-project"),
        ("VERTEX_LOCATION", "us-east5"),
        ("VERTEX_BASE_URL", &mock.url()),
    ]);
    assert!(s.banner.contains("gemini/*"), "{}", s.banner);
    assert!(s.banner.contains("vertex/*"), "{}", s.banner);
    let handle = rt.enter();
    for model in [
        "gemini-2.0-flash",
        "gemini/gemini-2.0-flash",
        "vertex/gemini-2.5-flash",
    ] {
        let (status, v) = post(
            &s.url,
            &format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#),
        );
        assert_eq!(status, 200, "{model}: {v}");
    }
    drop(handle);
    let reqs: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .collect();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs[0].path,
        "/v1beta/models/gemini-2.0-flash:generateContent"
    );
    assert_eq!(
        reqs[0].header("x-goog-api-key"),
        Some("gemini-zero-config-key")
    );
    assert_eq!(
        reqs[2].path,
        "/v1/projects/zc-project/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        reqs[2].header("authorization"),
        Some("Bearer mock-vertex-token-1")
    );
}
