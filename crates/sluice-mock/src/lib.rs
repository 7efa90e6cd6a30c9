//! A mock LLM provider for tests, benchmarks and `sluice mock`.
//!
//! It speaks the providers' real wire formats (OpenAI, including Azure's
//! deployment paths, the legacy Completions and the Responses APIs, Anthropic, Gemini on AI Studio and Vertex AI with a
//! Google OAuth2 token endpoint at `POST /token`, Bedrock with SigV4
//! verification, Cohere v2, Hugging Face text generation and Replicate
//! predictions), answers deterministically, injects
//! faults on request ([`behavior`]) and records every request it receives
//! ([`state`]) so tests can assert on exactly what a gateway sent upstream.
//!
//! Control endpoints:
//! - `GET /__mock/requests`: the recorded requests (JSON array);
//! - `DELETE /__mock/requests`: forget requests and scripted steps;
//! - `POST /__mock/script`: queue behaviours, e.g. `[{"status": 429, "retry_after": 1}]`;
//! - `ANY /__mock/redirect?to=URL`: a `307` to `URL` (redirects must not be followed).

mod anthropic;
mod bedrock;
pub mod behavior;
mod cohere;
pub mod gemini;
mod huggingface;
mod legacy;
mod openai;
mod redirect;
mod replicate;
mod responses;
pub mod sigv4;
pub mod state;
mod stream;
pub mod text;

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use behavior::Behavior;
pub use state::{MockState, Received, Step};

/// What a format handler gets for one request.
pub struct Ctx {
    pub state: MockState,
    pub seq: u64,
    pub behavior: Behavior,
}

/// The mock's HTTP application.
pub fn router(state: MockState) -> Router {
    Router::new()
        .route("/__mock/requests", get(list).delete(reset))
        .route("/__mock/script", post(script))
        .route("/__mock/health", get(|| async { "ok" }))
        .route("/__mock/redirect", any(redirect::redirect))
        .fallback(dispatch)
        .with_state(state)
}

async fn list(State(state): State<MockState>) -> Json<Vec<Received>> {
    Json(state.requests())
}

async fn reset(State(state): State<MockState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

async fn script(State(state): State<MockState>, Json(steps): Json<Vec<Step>>) -> StatusCode {
    state.push_script(steps);
    StatusCode::NO_CONTENT
}

/// The behaviour for a request: a scripted step, else the `x-mock` header,
/// else the last `<<mock ...>>` directive in the body.
fn behavior_for(
    state: &MockState,
    headers: &HeaderMap,
    raw: &str,
    model: Option<&str>,
) -> Result<Behavior, String> {
    if let Some(b) = state.next_step(model) {
        return Ok(b);
    }
    if let Some(spec) = headers.get("x-mock").and_then(|v| v.to_str().ok()) {
        return Behavior::parse(spec);
    }
    match raw.rfind("<<mock") {
        Some(i) => Behavior::from_text(&raw[i..]).unwrap_or_else(|| Ok(Behavior::default())),
        None => Ok(Behavior::default()),
    }
}

async fn dispatch(
    State(state): State<MockState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(raw.clone()));
    // Replicate, Azure, Gemini, Bedrock and Hugging Face carry the model in
    // the path; everyone else in the body.
    let model = replicate::model_from_path(&path)
        .or_else(|| {
            path.split("/deployments/")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned)
        })
        .or_else(|| {
            path.rsplit_once("/models/")
                .filter(|_| gemini::is_gemini(&path))
                .and_then(|(_, rest)| rest.split(':').next())
                .map(str::to_owned)
        })
        .or_else(|| bedrock_model(&path))
        .or_else(|| huggingface::model_from_path(&path))
        .or_else(|| json.get("model").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "mock-model".to_owned());
    let seq = state.log(Received {
        seq: 0,
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: json.clone(),
        outcome: "pending".to_owned(),
        usage: None,
    });
    if method == Method::POST && path == "/token" {
        let mut g = stream::Guard::new(state.clone(), seq);
        g.complete();
        return gemini::token::exchange(&state, &raw);
    }
    if let Some(resp) = replicate::follow_up(&state, seq, &method, &path, &headers) {
        return resp;
    }
    let behavior = match behavior_for(&state, &headers, &raw, Some(&model)) {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    if behavior.hang {
        let _guard = stream::Guard::new(state.clone(), seq);
        futures_util::future::pending::<()>().await;
    }
    if behavior.header_delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(behavior.header_delay_ms)).await;
    }
    let format = Format::of(&path);
    if let Some(status) = behavior.status.filter(|s| *s >= 400) {
        let mut g = stream::Guard::new(state.clone(), seq);
        g.complete();
        return format.error(&behavior, status);
    }
    if let Some(key) = state.required_key()
        && !presents_key(&headers, uri.query(), &key)
    {
        let mut g = stream::Guard::new(state.clone(), seq);
        g.complete();
        return format.error(&Behavior::default(), 401);
    }
    if format == Format::Gemini
        && let Some(status) = gemini::auth_failure(&state, &path, &headers, uri.query())
    {
        let mut g = stream::Guard::new(state.clone(), seq);
        g.complete();
        return format.error(&Behavior::default(), status);
    }
    if format == Format::Bedrock
        && let Some(creds) = state.aws_credentials()
    {
        let req = sigv4::Request {
            method: method.as_str(),
            raw_path: &path,
            query: uri.query(),
            headers: &headers,
            body: &body,
        };
        if let Err(r) = sigv4::verify(&creds, &req, std::time::SystemTime::now()) {
            let mut g = stream::Guard::new(state.clone(), seq);
            g.complete();
            return bedrock::typed_error(403, r.kind, &r.message, None);
        }
    }
    let cx = Ctx {
        state,
        seq,
        behavior,
    };
    if method == Method::POST && format == Format::Bedrock {
        return match path.rsplit('/').next() {
            Some("converse") => bedrock::converse(cx, &json, &model, false),
            Some("converse-stream") => bedrock::converse(cx, &json, &model, true),
            Some("invoke") => bedrock::invoke(cx, &json, &model),
            _ => bedrock::typed_error(
                404,
                "UnknownOperationException",
                &format!("mock: no route for {method} {path}"),
                None,
            ),
        };
    }
    if method == Method::POST && path.ends_with("/v1/messages/count_tokens") {
        return anthropic::count_tokens(&json);
    }
    if method == Method::POST && format == Format::Gemini {
        return gemini::handle(cx, &path, uri.query(), &json, &model);
    }
    if method == Method::POST && path.ends_with("/v1/messages") {
        return anthropic::messages(cx, &headers, &json);
    }
    if method == Method::POST && path.ends_with("/predictions") {
        return replicate::create(cx, &path, &headers, &json);
    }
    if method == Method::POST && huggingface::is_path(&path) {
        return huggingface::generate(cx, &path, &json);
    }
    if method == Method::POST && format == Format::Cohere {
        if !json.is_object() {
            return cohere::bad_request("invalid json syntax: the body must be a JSON object");
        }
        if path.ends_with("/v2/chat") {
            return cohere::chat(cx, &json);
        }
        if path.ends_with("/v2/embed") {
            return cohere::embed(cx, &json);
        }
        return cohere::rerank(cx, &json);
    }
    if method == Method::POST && path.ends_with("/chat/completions") {
        if !json.is_object() {
            let b = Behavior {
                message: Some("We could not parse the JSON body of your request.".into()),
                ..Behavior::default()
            };
            return openai::error(&b, 400);
        }
        return openai::chat(cx, &json, &model);
    }
    if method == Method::POST && path.ends_with("/completions") {
        return legacy::create(cx, &json, &model);
    }
    if method == Method::POST && path.ends_with("/responses") {
        return responses::create(cx, &json, &model);
    }
    if method == Method::POST && path.ends_with("/embeddings") {
        return openai::embeddings(cx, &json, &model);
    }
    if method == Method::GET && path.ends_with("/models") {
        return openai::models();
    }
    let b = Behavior {
        message: Some(format!("mock: no route for {method} {path}")),
        ..Behavior::default()
    };
    openai::error(&b, 404)
}

/// Sets `TCP_NODELAY` on every accepted connection.
fn nodelay(
    listener: TcpListener,
) -> axum::serve::TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    fn set(tcp: &mut tokio::net::TcpStream) {
        let _ = tcp.set_nodelay(true);
    }
    listener.tap_io(set as fn(&mut tokio::net::TcpStream))
}

/// The wire format a path belongs to, for error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    HuggingFace,
    Replicate,
    Cohere,
}

impl Format {
    fn of(path: &str) -> Self {
        if gemini::is_gemini(path) {
            Self::Gemini
        } else if path.contains("/v1/messages") {
            Self::Anthropic
        } else if bedrock_model(path).is_some() {
            Self::Bedrock
        } else if replicate::is_path(path) {
            Self::Replicate
        } else if huggingface::is_path(path) {
            Self::HuggingFace
        } else if ["/v2/chat", "/v2/embed", "/v2/rerank"]
            .iter()
            .any(|p| path.ends_with(p))
        {
            Self::Cohere
        } else {
            Self::OpenAi
        }
    }

    fn error(self, b: &Behavior, status: u16) -> Response {
        match self {
            Self::OpenAi => openai::error(b, status),
            Self::Anthropic => anthropic::error(b, status),
            Self::Gemini => gemini::error(b, status),
            Self::Bedrock => bedrock::error(b, status),
            Self::HuggingFace => huggingface::error(b, status),
            Self::Replicate => replicate::error(b, status),
            Self::Cohere => cohere::error(b, status),
        }
    }
}

/// The model id of a Bedrock path `/model/{id}/{operation}`, decoded.
fn bedrock_model(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/model/")?;
    let (id, op) = rest.split_once('/')?;
    matches!(
        op,
        "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream"
    )
    .then(|| String::from_utf8_lossy(&sigv4::percent_decode(id)).into_owned())
}

/// Whether the request carries `key` in any of the providers' auth forms.
fn presents_key(headers: &HeaderMap, query: Option<&str>, key: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("authorization").is_some_and(|v| {
        v.strip_prefix("Bearer ") == Some(key) || v.strip_prefix("Token ") == Some(key)
    }) || header("x-api-key") == Some(key)
        || header("api-key") == Some(key)
        || header("x-goog-api-key") == Some(key)
        || query.is_some_and(|q| q.split('&').any(|kv| kv == format!("key={key}")))
}

/// A mock server running in the background of the current tokio runtime.
pub struct MockServer {
    addr: SocketAddr,
    state: MockState,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?).await
    }

    /// Starts on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = MockState::default();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(nodelay(listener), app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (log and script).
    pub fn state(&self) -> &MockState {
        &self.state
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests()
    }

    /// From now on, refuse Bedrock requests (403, as AWS does) unless they
    /// carry a valid SigV4 signature made with these credentials.
    pub fn require_sigv4(&self, access_key_id: &str, secret_access_key: &str) {
        self.state.set_aws_credentials(Some(sigv4::AwsCredentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
        }));
    }

    /// From now on, answer 401 unless the request carries `key`.
    pub fn require_key(&self, key: &str) {
        self.state.set_required_key(Some(key.to_owned()));
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the mock on `listener` until the process ends (for `sluice mock`).
/// `record: false` keeps no request log (for benchmarks). Bedrock requests
/// are SigV4-verified when `SLUICE_MOCK_AWS_ACCESS_KEY_ID` and
/// `SLUICE_MOCK_AWS_SECRET_ACCESS_KEY` are set (and must carry
/// `SLUICE_MOCK_AWS_SESSION_TOKEN` when that is set); otherwise accepted.
pub async fn serve(listener: TcpListener, record: bool) -> std::io::Result<()> {
    let state = if record {
        MockState::default()
    } else {
        MockState::quiet()
    };
    state.set_aws_credentials(sigv4::AwsCredentials::from_env());
    axum::serve(nodelay(listener), router(state)).await
}
