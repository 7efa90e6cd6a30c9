//! The dashboard's access control: every `/ui` route (pages, fragments,
//! the live tail, data, forms) refuses a request without the admin key,
//! and a form from another origin is refused even with the session cookie.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use reqwest::redirect::Policy;
use reqwest::{Client, Method, StatusCode, header};
use sluice_gateway::ui::GUARDED_ROUTES;
use support::{ADMIN_KEY, Harness};

const YAML: &str = r#"
providers:
  a:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: chat
    provider: a
"#;

const FORM: &str = "application/x-www-form-urlencoded";

fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn url(h: &Harness, path: &str) -> String {
    format!("{}{}", h.admin_url, path.replace("{id}", "some-id"))
}

async fn session(h: &Harness) -> String {
    let r = client()
        .post(url(h, "/ui/login"))
        .header(header::ORIGIN, &h.admin_url)
        .header(header::CONTENT_TYPE, FORM)
        .body(format!("key={ADMIN_KEY}"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(ADMIN_KEY),
        "the cookie must not hold the key"
    );
    cookie.split(';').next().expect("name=value").to_owned()
}

#[tokio::test]
async fn every_ui_route_refuses_a_request_without_the_admin_key() {
    let h = Harness::start(YAML).await;
    let c = client();
    let wrong_cookie = "sluice_ui=0000000000000000000000000000000000000000000000000000000000000000";
    for (method, path) in GUARDED_ROUTES {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        for attempt in [
            c.request(method.clone(), url(&h, path)),
            c.request(method.clone(), url(&h, path))
                .header(header::COOKIE, wrong_cookie),
            c.request(method.clone(), url(&h, path))
                .bearer_auth("sk-sluice-admin-wrong-0123456789"),
            c.request(method.clone(), url(&h, path))
                .header("hx-request", "true"),
        ] {
            let r = attempt
                .header(header::ORIGIN, &h.admin_url)
                .send()
                .await
                .expect("sent");
            let status = r.status();
            let to_login =
                status == StatusCode::SEE_OTHER && r.headers()[header::LOCATION] == "/ui/login";
            assert!(
                status == StatusCode::UNAUTHORIZED || to_login,
                "{method} {path} answered {status} without the admin key"
            );
            let body = r.text().await.expect("body");
            assert!(
                !body.contains("sluice_ui="),
                "{method} {path} leaked a session"
            );
        }
    }
}

#[tokio::test]
async fn the_admin_key_or_the_session_opens_every_page() {
    let h = Harness::start(YAML).await;
    let cookie = session(&h).await;
    for path in [
        "/ui",
        "/ui/logs",
        "/ui/keys",
        "/ui/routes",
        "/ui/playground",
    ] {
        for req in [
            client().get(url(&h, path)).header(header::COOKIE, &cookie),
            client().get(url(&h, path)).bearer_auth(ADMIN_KEY),
            client()
                .get(url(&h, path))
                .header("x-sluice-admin-key", ADMIN_KEY),
        ] {
            let r = req.send().await.expect("sent");
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(
                r.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .expect("ascii")
                    .contains("script-src 'self'")
            );
            let body = r.text().await.expect("body");
            assert!(
                !body.contains(support::PROVIDER_KEY),
                "{path} shows the provider key"
            );
            assert!(!body.contains(ADMIN_KEY), "{path} shows the admin key");
        }
    }
    let r = client()
        .get(url(&h, "/ui/data/series?range=15m"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let tail = client()
        .get(url(&h, "/ui/logs/tail"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(tail.status(), StatusCode::OK);
    assert_eq!(tail.headers()[header::CONTENT_TYPE], "text/event-stream");
}

#[tokio::test]
async fn forms_from_another_origin_are_refused_even_with_the_session() {
    let h = Harness::start(YAML).await;
    let cookie = session(&h).await;
    for origin in [Some("http://evil.example"), None] {
        let mut req = client()
            .post(url(&h, "/ui/keys"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, FORM)
            .body("name=csrf");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let r = req.send().await.expect("sent");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "origin {origin:?}");
    }
    let (_, keys) = h.admin(Method::GET, "/v1/keys", None).await;
    assert_eq!(keys, serde_json::json!([]), "no key was created");
    // Same origin: allowed.
    let r = client()
        .post(url(&h, "/ui/keys"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &h.admin_url)
        .header(header::CONTENT_TYPE, FORM)
        .body("name=mine")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("body").contains("sk-sluice-"));
    // A login from another origin is refused too.
    let r = client()
        .post(url(&h, "/ui/login"))
        .header(header::ORIGIN, "http://evil.example")
        .header(header::CONTENT_TYPE, FORM)
        .body(format!("key={ADMIN_KEY}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn assets_are_embedded_and_served_without_the_key() {
    let h = Harness::start(YAML).await;
    for (file, kind) in [
        ("htmx.min.js", "text/javascript"),
        ("uPlot.iife.min.js", "text/javascript"),
        ("pico.min.css", "text/css"),
        ("app.js", "text/javascript"),
    ] {
        let r = client()
            .get(url(&h, &format!("/ui/assets/{file}")))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(r.headers()[header::CONTENT_TYPE], kind);
    }
    let r = client()
        .get(url(&h, "/ui/assets/nope.js"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let login = client()
        .get(url(&h, "/ui/login"))
        .send()
        .await
        .expect("sent");
    assert_eq!(login.status(), StatusCode::OK);
}
