//! Dashboard login and the guard in front of every `/ui` route.
//!
//! `POST /ui/login` takes the admin key and, when it matches (constant
//! time), sets the `sluice_ui` cookie: `HttpOnly`, `SameSite=Strict`,
//! `Path=/ui`, holding HMAC-SHA256(admin key, a fixed label), so the key
//! itself never sits in the browser and changing the key ends every
//! session. Scripts and other clients may instead send the admin key as on
//! the admin API (`Authorization: Bearer` or `x-sluice-admin-key`).
//!
//! Without either, a page answers 303 to the login form and anything else
//! (htmx fragments, data, the live tail, forms) 401. A state-changing
//! request authenticated by the cookie must also come from the dashboard's
//! own origin (`Origin`, or `Referer` when a browser omits it, must match
//! `Host`); together with `SameSite=Strict` this stops cross-site forms.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{UiError, UiState, html};
use crate::admin::header_has_key;
use crate::config::secret::Secret;

/// The session cookie's name.
pub const COOKIE: &str = "sluice_ui";

/// The cookie value for `key`: hex HMAC-SHA256 of a fixed label.
fn session_token(key: &Secret) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(b"sluice dashboard session v1");
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

fn has_session(headers: &HeaderMap, key: &Secret) -> bool {
    let expected = session_token(key);
    cookie_value(headers, COOKIE).is_some_and(|v| {
        !expected.is_empty() && bool::from(v.as_bytes().ct_eq(expected.as_bytes()))
    })
}

/// The request comes from the dashboard's own origin.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    origin.is_some_and(|o| {
        let rest = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .unwrap_or("");
        let authority = rest.split('/').next().unwrap_or("");
        authority == host
    })
}

fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET
        && !req.headers().contains_key("hx-request")
        && !path.starts_with("/ui/data/")
        && path != "/ui/logs/tail"
}

/// Lets a request through when it carries the admin key or the session.
pub async fn require(State(ui): State<UiState>, req: Request, next: Next) -> Response {
    if header_has_key(req.headers(), &ui.key) {
        return next.run(req).await;
    }
    if has_session(req.headers(), &ui.key) {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD);
        if safe || same_origin(req.headers()) {
            return next.run(req).await;
        }
        return (
            StatusCode::FORBIDDEN,
            "cross-origin request refused: send it from the dashboard",
        )
            .into_response();
    }
    if is_page(&req) {
        return Redirect::to("/ui/login").into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        "the dashboard needs the admin key: log in at /ui/login",
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
}

/// `GET /ui/login`: the form.
pub async fn login_page() -> Result<Response, UiError> {
    html(&LoginPage { error: None })
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    key: String,
}

/// `POST /ui/login`: checks the key and sets the session cookie.
pub async fn login(
    State(ui): State<UiState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, UiError> {
    let ok = bool::from(form.key.trim().as_bytes().ct_eq(ui.key.expose().as_bytes()));
    if !ok || !same_origin(&headers) {
        let mut resp = html(&LoginPage {
            error: Some("That is not the admin key."),
        })?;
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(resp);
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/ui",
        session_token(&ui.key)
    );
    Ok(with_cookie(Redirect::to("/ui").into_response(), &cookie))
}

/// `POST /ui/logout`: clears the cookie.
pub async fn logout(State(_ui): State<Arc<super::Ui>>) -> Response {
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0");
    with_cookie(Redirect::to("/ui/login").into_response(), &cookie)
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
