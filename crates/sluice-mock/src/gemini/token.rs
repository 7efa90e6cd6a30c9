//! A Google OAuth2 token endpoint for Vertex AI tests: `POST /token` with
//! the JWT-bearer grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
//! and `assertion=<JWT>`), as a service-account key file's `token_uri` names.
//!
//! The JWT must be an RS256 token signed with the test service account's
//! key ([`TEST_SERVICE_ACCOUNT`]) whose claims name that account (`iss`), a
//! token endpoint (`aud`), the `cloud-platform` scope and a live one-hour
//! window. The answer is `{"access_token": "mock-vertex-token-N",
//! "expires_in": 3600, "token_type": "Bearer"}`; Vertex requests to the mock
//! must then carry one of the tokens it issued.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use axum::Json;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::StatusCode;
use serde_json::{Value, json};

use crate::state::MockState;

/// A test-only service-account key file (see `fixtures/README.md`). Its
/// `token_uri` points at Google: tests write a copy naming the mock, with
/// [`test_service_account`].
pub const TEST_SERVICE_ACCOUNT: &str =
    include_str!("../../fixtures/vertex-test-service-account.json");

/// The grant type of a service account's token exchange.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The scope Vertex AI needs.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// [`TEST_SERVICE_ACCOUNT`] with its `token_uri` replaced.
pub fn test_service_account(token_uri: &str) -> String {
    let mut v: Value = serde_json::from_str(TEST_SERVICE_ACCOUNT).unwrap_or_default();
    v["token_uri"] = json!(token_uri);
    v.to_string()
}

fn test_key() -> &'static Option<(String, Vec<u8>)> {
    static KEY: OnceLock<Option<(String, Vec<u8>)>> = OnceLock::new();
    KEY.get_or_init(|| {
        let v: Value = serde_json::from_str(TEST_SERVICE_ACCOUNT).ok()?;
        let email = v.get("client_email")?.as_str()?.to_owned();
        let pem = v.get("private_key")?.as_str()?;
        let b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let pair = RsaKeyPair::from_pkcs8(&der).ok()?;
        Some((email, pair.public_key().as_ref().to_vec()))
    })
}

fn b64url(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("bad base64url: {e}"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_field(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// Checks a JWT assertion; the reason when it is not acceptable.
fn check(jwt: &str) -> Result<(), String> {
    let Some((email, public_key)) = test_key() else {
        return Err("the mock's test key does not load".to_owned());
    };
    let mut it = jwt.split('.');
    let (Some(h), Some(c), Some(sig), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err("the assertion is not a JWT".to_owned());
    };
    let header: Value =
        serde_json::from_slice(&b64url(h)?).map_err(|e| format!("JWT header: {e}"))?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("JWT alg must be RS256".to_owned());
    }
    let claims: Value =
        serde_json::from_slice(&b64url(c)?).map_err(|e| format!("JWT claims: {e}"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(email.as_str()) {
        return Err(format!("JWT iss must be {email}"));
    }
    if !claims
        .get("aud")
        .and_then(Value::as_str)
        .is_some_and(|a| a.ends_with("/token"))
    {
        return Err("JWT aud must be the token endpoint".to_owned());
    }
    if !claims
        .get("scope")
        .and_then(Value::as_str)
        .is_some_and(|s| s.split(' ').any(|x| x == SCOPE))
    {
        return Err(format!("JWT scope must include {SCOPE}"));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if iat > now + 300 || exp <= now || exp - iat > 3600 {
        return Err("JWT iat/exp are not a live window of at most one hour".to_owned());
    }
    let signed = &jwt[..h.len() + 1 + c.len()];
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(signed.as_bytes(), &b64url(sig)?)
        .map_err(|_| "invalid JWT signature".to_owned())
}

/// `POST /token`.
pub fn exchange(state: &MockState, form: &str) -> Response {
    let refuse = |error: &str, description: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if form_field(form, "grant_type").as_deref() != Some(GRANT_TYPE) {
        return refuse(
            "unsupported_grant_type",
            format!("grant_type must be {GRANT_TYPE}"),
        );
    }
    let Some(jwt) = form_field(form, "assertion") else {
        return refuse("invalid_request", "assertion is required".to_owned());
    };
    if let Err(why) = check(&jwt) {
        return refuse("invalid_grant", why);
    }
    Json(json!({"access_token": state.issue_token(), "expires_in": 3600, "token_type": "Bearer"}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f =
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c%3D";
        assert_eq!(form_field(f, "grant_type").as_deref(), Some(GRANT_TYPE));
        assert_eq!(form_field(f, "assertion").as_deref(), Some("a.b.c="));
        assert!(test_key().is_some(), "the fixture key loads");
        assert!(check("a.b.c").is_err());
    }
}
