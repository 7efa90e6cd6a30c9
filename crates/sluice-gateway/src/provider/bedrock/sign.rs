//! SigV4 signing of Bedrock requests, with `aws-sigv4`.
//!
//! Runs on every upstream attempt, just before the request is sent: the
//! signature covers the method, the already percent-encoded path (which the
//! signer encodes once more, as SigV4 requires for every service but S3),
//! the `host`, the headers passed in and a SHA-256 of the body, and is valid
//! for a few minutes around the signing time. Static keys and an optional
//! session token (`x-amz-security-token`) come from the provider's config.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::header::{HeaderName, HeaderValue};
use sluice_protocol::Error;

use crate::config::AwsConfig;

/// The SigV4 service name of Bedrock Runtime.
pub const SERVICE: &str = "bedrock";

/// Signs requests for one region with one set of credentials.
#[derive(Debug)]
pub struct Signer {
    region: String,
    identity: Identity,
}

impl Signer {
    /// A signer from the provider's AWS settings.
    pub fn new(aws: &AwsConfig) -> Result<Self, Error> {
        if aws.access_key_id.expose().is_empty() || aws.secret_access_key.expose().is_empty() {
            return Err(Error::internal(
                "a bedrock provider needs an access key id and a secret access key",
            ));
        }
        let creds = Credentials::new(
            aws.access_key_id.expose(),
            aws.secret_access_key.expose(),
            aws.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "sluice-config",
        );
        Ok(Self {
            region: aws.region.clone(),
            identity: creds.into(),
        })
    }

    /// The headers that sign a `method` request to `url` (already
    /// percent-encoded) carrying `headers` and `body`: `authorization`,
    /// `x-amz-date` and, with a session token, `x-amz-security-token`.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::internal(format!("cannot set up SigV4 signing: {e}")))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| Error::internal(format!("cannot sign the Bedrock request: {e}")))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| Error::internal(format!("cannot sign the Bedrock request: {e}")))?
            .into_parts();
        let (signed, _query) = instructions.into_parts();
        signed
            .into_iter()
            .map(|h| {
                let name = HeaderName::from_static(h.name());
                let mut value = HeaderValue::from_str(h.value()).map_err(|_| {
                    Error::internal("a credential contains characters not allowed in a header")
                })?;
                value.set_sensitive(h.sensitive() || h.name() == "authorization");
                Ok((name, value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::Secret;

    fn signer(token: Option<&str>) -> Signer {
        Signer::new(&AwsConfig {
            region: "us-west-2".to_owned(),
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
        })
        .unwrap()
    }

    #[test]
    fn signs_with_scope_and_encoded_path() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let url = "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-v2%3A1/converse";
        let headers = signer(None)
            .sign(
                "POST",
                url,
                &[("content-type", "application/json")],
                b"{}",
                t,
            )
            .unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-west-2/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
            ),
            "{auth}"
        );
        assert_eq!(get("x-amz-date").as_deref(), Some("20231114T221320Z"));
        assert!(get("x-amz-security-token").is_none());
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "authorization" && v.is_sensitive())
        );
        let with_token = signer(Some("FwoGZXIvYXdzEXAMPLETOKEN"))
            .sign("POST", url, &[], b"{}", t)
            .unwrap();
        assert!(
            with_token
                .iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "FwoGZXIvYXdzEXAMPLETOKEN")
        );
    }

    /// The mock's independent verifier accepts the encoded path and refuses
    /// a model id sent with a raw `:`, as AWS does (the classic bug).
    #[test]
    fn an_independent_verifier_agrees_and_catches_a_raw_colon() {
        use sluice_mock::sigv4::{AwsCredentials, Request, verify};
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
            session_token: None,
        };
        let now = SystemTime::now();
        let check = |path: &str| {
            let url = format!("https://bedrock-runtime.us-west-2.amazonaws.com{path}");
            let signed = signer(None)
                .sign(
                    "POST",
                    &url,
                    &[("content-type", "application/json")],
                    b"{\"a\":1}",
                    now,
                )
                .unwrap();
            let mut headers = http::HeaderMap::new();
            headers.insert(
                "host",
                "bedrock-runtime.us-west-2.amazonaws.com".parse().unwrap(),
            );
            headers.insert("content-type", "application/json".parse().unwrap());
            for (k, v) in signed {
                headers.insert(k, v);
            }
            let req = Request {
                method: "POST",
                raw_path: path,
                query: None,
                headers: &headers,
                body: b"{\"a\":1}",
            };
            verify(&creds, &req, now).map_err(|r| r.kind)
        };
        assert_eq!(check("/model/anthropic.claude-v2%3A1/converse"), Ok(()));
        assert_eq!(
            check("/model/anthropic.claude-v2:1/converse"),
            Err("InvalidSignatureException")
        );
    }
}
