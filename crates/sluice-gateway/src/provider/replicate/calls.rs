//! The calls a prediction needs after it is created: polling `urls.get`,
//! opening `urls.stream`, and `urls.cancel` when Sluice gives up on it.
//!
//! These URLs come from Replicate's answers. Credentials are attached only
//! to URLs on the configured API's site (same host, or a sibling host of
//! the same parent domain, e.g. `stream.replicate.com` for
//! `api.replicate.com`, with the same scheme); anything else is fetched
//! without them.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, HeaderMap, HeaderValue};
use sluice_protocol::replicate::error::from_response;
use sluice_protocol::replicate::wire::Prediction;
use sluice_protocol::{Error, ErrorKind};

use crate::provider::http::{self, MAX_RESPONSE_BYTES};
use crate::provider::translate;

/// Delays between polls of an unfinished prediction; the last one repeats.
const POLL_DELAYS_MS: &[u64] = &[250, 500, 1000];
/// How long a cancel request may take (it runs after the caller is gone).
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Follow-up calls for one provider's predictions.
#[derive(Debug, Clone)]
pub struct Calls {
    pub client: reqwest::Client,
    pub provider: String,
    pub headers: HeaderMap,
    pub auth: Option<HeaderValue>,
    pub base: Url,
}

impl Calls {
    /// Whether credentials may be sent to `url`.
    fn trusted(&self, url: &Url) -> bool {
        if url.scheme() != self.base.scheme() {
            return false;
        }
        let (Some(base), Some(host)) = (self.base.host_str(), url.host_str()) else {
            return false;
        };
        if base == host {
            return self.base.port_or_known_default() == url.port_or_known_default();
        }
        let Some((_, parent)) = base.split_once('.') else {
            return false;
        };
        self.base.domain().is_some()
            && parent.contains('.')
            && host.ends_with(&format!(".{parent}"))
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let parsed = Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UpstreamProtocol,
                    format!(
                        "upstream `{}` returned an unusable prediction URL",
                        self.provider
                    ),
                )
                .with_provider(&self.provider)
            })?;
        let trusted = self.trusted(&parsed);
        let mut rb = self
            .client
            .request(method, parsed)
            .headers(self.headers.clone());
        if trusted && let Some(auth) = &self.auth {
            rb = rb.header(AUTHORIZATION, auth.clone());
        }
        Ok(rb)
    }

    /// `GET urls.get`.
    pub async fn get(&self, url: &str) -> Result<Prediction, Error> {
        let resp = http::send(self.request(reqwest::Method::GET, url)?, &self.provider).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.provider, from_response).await);
        }
        let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.provider).await?;
        translate::parse(&body, &self.provider)
    }

    /// Polls until the prediction is finished (succeeded, failed, canceled).
    /// The executor's total deadline bounds the wait.
    pub async fn wait(&self, mut p: Prediction) -> Result<Prediction, Error> {
        let mut n = 0;
        while !p.is_terminal() {
            let delay = POLL_DELAYS_MS[n.min(POLL_DELAYS_MS.len() - 1)];
            n += 1;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let url = get_url(&p, &self.base);
            p = self.get(&url).await?;
        }
        Ok(p)
    }

    /// `GET urls.stream` as an event stream.
    pub async fn open_stream(&self, url: &str) -> Result<reqwest::Response, Error> {
        let rb = self
            .request(reqwest::Method::GET, url)?
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-store");
        let resp = http::send(rb, &self.provider).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.provider, from_response).await);
        }
        http::expect_event_stream(resp, &self.provider, from_response).await
    }

    /// `POST urls.cancel`, best effort.
    pub async fn cancel(&self, url: &str) {
        let Ok(rb) = self.request(reqwest::Method::POST, url) else {
            return;
        };
        match tokio::time::timeout(CANCEL_TIMEOUT, rb.send()).await {
            Ok(Ok(resp)) => tracing::debug!(
                provider = %self.provider,
                status = resp.status().as_u16(),
                "canceled an abandoned Replicate prediction"
            ),
            Ok(Err(e)) => tracing::warn!(
                provider = %self.provider,
                error = %e.without_url(),
                "could not cancel an abandoned Replicate prediction"
            ),
            Err(_) => {
                tracing::warn!(provider = %self.provider, "cancelling a Replicate prediction timed out")
            }
        }
    }
}

/// The prediction's `urls.get`, or the documented path from its id.
pub fn get_url(p: &Prediction, base: &Url) -> String {
    p.urls
        .as_ref()
        .and_then(|u| u.get.clone())
        .unwrap_or_else(|| {
            format!(
                "{}/predictions/{}",
                base.as_str().trim_end_matches('/'),
                p.id
            )
        })
}

/// Cancels a prediction when dropped while armed: the request was abandoned
/// (deadline, client gone, broken stream) before the prediction finished,
/// so it should stop running and being billed.
#[derive(Debug)]
pub struct CancelOnDrop {
    armed: Option<(Calls, String)>,
}

impl CancelOnDrop {
    /// A guard for `p`; unarmed when it is finished or has no cancel URL.
    pub fn new(calls: &Calls, p: &Prediction) -> Self {
        let url = p
            .urls
            .as_ref()
            .and_then(|u| u.cancel.clone())
            .filter(|_| !p.is_terminal());
        Self {
            armed: url.map(|u| (calls.clone(), u)),
        }
    }

    /// The prediction finished (or failed on its own): nothing to cancel.
    pub fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some((calls, url)) = self.armed.take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { calls.cancel(&url).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(base: &str) -> Calls {
        Calls {
            client: reqwest::Client::new(),
            provider: "rep".into(),
            headers: HeaderMap::new(),
            auth: None,
            base: Url::parse(base).unwrap(),
        }
    }

    #[test]
    fn credentials_stay_on_the_apis_site() {
        let c = calls("https://api.replicate.com/v1");
        for ok in [
            "https://api.replicate.com/v1/predictions/abc",
            "https://stream.replicate.com/v1/files/bcwr-3afc",
            "https://streaming.api.replicate.com/v1/predictions/abc",
        ] {
            assert!(c.trusted(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://api.replicate.com/v1/predictions/abc",
            "https://evil.example/v1/predictions/abc",
            "https://replicate.com.evil.example/x",
            "https://api.replicate.com:8443/x",
        ] {
            assert!(!c.trusted(&Url::parse(bad).unwrap()), "{bad}");
        }
        let local = calls("http://127.0.0.1:9000/v1");
        assert!(local.trusted(&Url::parse("http://127.0.0.1:9000/v1/predictions/x").unwrap()));
        assert!(!local.trusted(&Url::parse("http://127.0.0.1:9001/v1/predictions/x").unwrap()));
        assert!(!local.trusted(&Url::parse("http://0.0.1:9000/x").unwrap()));
    }

    #[test]
    fn get_url_falls_back_to_the_documented_path() {
        let p = Prediction {
            id: "abc".into(),
            status: "starting".into(),
            ..Prediction::default()
        };
        let base = Url::parse("https://api.replicate.com/v1").unwrap();
        assert_eq!(
            get_url(&p, &base),
            "https://api.replicate.com/v1/predictions/abc"
        );
    }
}
