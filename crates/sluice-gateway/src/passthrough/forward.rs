//! Which headers and query parameters of a forwarded request reach the
//! upstream, and which headers of its answer reach the client.
//!
//! Runs on every pass-through attempt, just before sending. In every mode,
//! hop-by-hop headers, cookies, proxy and forwarding headers and Sluice's
//! own `x-sluice-*` headers are removed. Then:
//! - `gateway` mode removes every credential the client sent (any
//!   provider's header, AWS signature headers, `?key=` and the like); the
//!   attempt then adds the provider's own credentials;
//! - `client` mode keeps only the credential headers of this provider's
//!   type (an Anthropic target forwards `x-api-key`, never an OpenAI
//!   `Authorization`), and refuses a request that carries none.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use sluice_protocol::{Error, ErrorKind};

use crate::config::Credentials;
use crate::provider::{ProviderKind, Wire};

/// Request headers never forwarded.
const DROPPED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "expect",
    "accept-encoding",
    "cookie",
    "forwarded",
    "via",
    "x-real-ip",
];

/// Headers that carry a credential, or choose whose account pays, for some
/// provider.
const CREDENTIALS: &[&str] = &[
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-goog-user-project",
    "x-amz-security-token",
    "x-amz-date",
    "x-amz-content-sha256",
    "ocp-apim-subscription-key",
    "openai-organization",
    "openai-project",
];

/// Query parameters that carry credentials (compared case-insensitively;
/// any `x-amz-*` too: presigned-URL signatures).
const CREDENTIAL_PARAMS: &[&str] = &["key", "api_key", "api-key", "apikey", "access_token"];

/// Response headers never passed back.
const DROPPED_RESPONSE: &[&str] = &[
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
    "alt-svc",
    "strict-transport-security",
];

/// The credential headers a client may send to a provider of `kind` in
/// `client` mode.
pub fn client_headers(kind: ProviderKind) -> &'static [&'static str] {
    match kind.wire() {
        Wire::OpenAi => &["authorization", "openai-organization", "openai-project"],
        Wire::Azure => &["api-key", "authorization"],
        Wire::Anthropic => &["x-api-key", "authorization"],
        Wire::Gemini => &["x-goog-api-key"],
        Wire::Vertex => &["authorization", "x-goog-user-project"],
        Wire::Bedrock | Wire::Cohere | Wire::HuggingFace | Wire::Replicate => &["authorization"],
    }
}

/// The headers to send upstream for `client` headers, per `mode`.
pub fn request_headers(
    client: &HeaderMap,
    kind: ProviderKind,
    mode: Credentials,
    query: Option<&str>,
) -> Result<HeaderMap, Error> {
    let allowed = match mode {
        Credentials::Gateway => &[][..],
        Credentials::Client => client_headers(kind),
    };
    let mut out = HeaderMap::with_capacity(client.len());
    let mut has_credential = false;
    for (name, value) in client {
        let n = name.as_str();
        if DROPPED.contains(&n) || n.starts_with("x-sluice-") || n.starts_with("x-forwarded-") {
            continue;
        }
        if CREDENTIALS.contains(&n) {
            if !allowed.contains(&n) {
                continue;
            }
            if matches!(
                n,
                "authorization" | "x-api-key" | "api-key" | "x-goog-api-key"
            ) && !is_blank_credential(value)
            {
                has_credential = true;
            }
            let mut v = value.clone();
            v.set_sensitive(true);
            out.append(name.clone(), v);
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if mode == Credentials::Client {
        if kind.wire() == Wire::Bedrock
            && out
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| !v.starts_with("Bearer "))
        {
            return Err(Error::invalid(
                "This Bedrock provider forwards the client's credentials, but a SigV4 \
                 signature covers the gateway's host and path and cannot be forwarded. Send a \
                 Bedrock API key (`Authorization: Bearer ...`), or configure \
                 `passthrough: {credentials: gateway}`.",
            ));
        }
        let key_in_query = kind.wire() == Wire::Gemini && query_key(query).is_some();
        if !has_credential && !key_in_query {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!(
                    "This provider forwards the client's own credentials (bring your own key); \
                     the request carries none. Send your {} key in `{}`.",
                    kind.as_str(),
                    client_headers(kind)[0]
                ),
            ));
        }
    }
    out.insert(
        http::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    Ok(out)
}

/// An empty credential, or a scheme with nothing after it (`Bearer `).
fn is_blank_credential(value: &HeaderValue) -> bool {
    let v = value.to_str().unwrap_or("x").trim();
    let token = v
        .strip_prefix("Bearer")
        .or_else(|| v.strip_prefix("Token"))
        .unwrap_or(v);
    token.trim().is_empty()
}

/// The `key` query parameter, if present.
fn query_key(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("key=").filter(|v| !v.is_empty()))
}

/// The query to send upstream: credential parameters removed, except
/// Gemini's `key` in `client` mode. `None` when nothing is left.
pub fn request_query(query: Option<&str>, kind: ProviderKind, mode: Credentials) -> Option<String> {
    let keep_key = mode == Credentials::Client && kind.wire() == Wire::Gemini;
    let kept: Vec<&str> = query?
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let name = kv.split('=').next().unwrap_or("");
            let name = String::from_utf8_lossy(&super::path::percent_decode(name)).to_lowercase();
            let credential =
                CREDENTIAL_PARAMS.contains(&name.as_str()) || name.starts_with("x-amz-");
            !credential || (keep_key && name == "key")
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// The upstream's response headers as the client gets them.
pub fn response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len() + 6);
    for (name, value) in upstream {
        let n = name.as_str();
        if DROPPED_RESPONSE.contains(&n) || n.starts_with("x-sluice-") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Adds a header when its value is valid.
pub fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer sk-client"),
            ("x-api-key", "sk-ant-client"),
            ("api-key", "azure-client"),
            ("x-goog-api-key", "AIza-client"),
            ("cookie", "session=1"),
            ("x-amz-date", "20240101T000000Z"),
            ("openai-organization", "org-x"),
            ("x-sluice-metadata", "{}"),
            ("x-forwarded-for", "10.0.0.1"),
            ("connection", "keep-alive"),
            ("content-type", "application/json"),
            ("anthropic-version", "2023-06-01"),
            ("user-agent", "sdk/1"),
        ] {
            h.append(k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn gateway_mode_forwards_no_client_credential() {
        let out =
            request_headers(&client(), ProviderKind::Openai, Credentials::Gateway, None).unwrap();
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "anthropic-version",
                "user-agent",
                "accept-encoding"
            ]
        );
    }

    #[test]
    fn client_mode_forwards_only_this_providers_credential() {
        let out = request_headers(
            &client(),
            ProviderKind::Anthropic,
            Credentials::Client,
            None,
        )
        .unwrap();
        assert_eq!(out["x-api-key"], "sk-ant-client");
        assert!(out["x-api-key"].is_sensitive());
        assert_eq!(out["authorization"], "Bearer sk-client");
        assert!(out.get("api-key").is_none() && out.get("x-goog-api-key").is_none());
        assert!(out.get("openai-organization").is_none());
        let out =
            request_headers(&client(), ProviderKind::Gemini, Credentials::Client, None).unwrap();
        assert_eq!(out["x-goog-api-key"], "AIza-client");
        assert!(out.get("authorization").is_none());

        let mut blank = HeaderMap::new();
        blank.insert("authorization", "Bearer ".parse().unwrap());
        assert!(request_headers(&blank, ProviderKind::Openai, Credentials::Client, None).is_err());
        let mut bare = HeaderMap::new();
        bare.insert("x-api-key", "k".parse().unwrap());
        let e =
            request_headers(&bare, ProviderKind::Openai, Credentials::Client, None).unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(
            request_headers(
                &HeaderMap::new(),
                ProviderKind::Gemini,
                Credentials::Client,
                Some("key=AIza")
            )
            .is_ok()
        );
        let mut sig = HeaderMap::new();
        sig.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        assert_eq!(
            request_headers(&sig, ProviderKind::Bedrock, Credentials::Client, None)
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn credential_query_parameters() {
        let q = Some("alt=sse&key=AIza&X-Amz-Signature=abc&api%5Fkey=z&x=1");
        assert_eq!(
            request_query(q, ProviderKind::Gemini, Credentials::Gateway).as_deref(),
            Some("alt=sse&x=1")
        );
        assert_eq!(
            request_query(q, ProviderKind::Gemini, Credentials::Client).as_deref(),
            Some("alt=sse&key=AIza&x=1")
        );
        assert_eq!(
            request_query(q, ProviderKind::Openai, Credentials::Client).as_deref(),
            Some("alt=sse&x=1")
        );
        assert_eq!(
            request_query(Some("key=a"), ProviderKind::Openai, Credentials::Gateway),
            None
        );
    }

    #[test]
    fn response_headers_drop_cookies_and_framing() {
        let mut h = HeaderMap::new();
        h.insert("set-cookie", "a=b".parse().unwrap());
        h.insert("content-length", "10".parse().unwrap());
        h.insert("x-sluice-provider", "spoof".parse().unwrap());
        h.insert("x-request-id", "req_1".parse().unwrap());
        h.insert("retry-after", "2".parse().unwrap());
        let out = response_headers(&h);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-request-id", "retry-after"]);
    }
}
