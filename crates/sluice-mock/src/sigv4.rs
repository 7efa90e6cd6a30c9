//! SigV4 verification, as AWS does it, for the mock's Bedrock paths.
//!
//! Written independently of the gateway's signer (which uses `aws-sigv4`),
//! so a test that passes shows the two agree on the documented algorithm.
//! The server side rebuilds the canonical request from what arrived: the
//! path is percent-decoded and then encoded twice, segment by segment
//! (every service but S3), so a model id sent with a raw `:` fails exactly
//! as it does against AWS. Runs on every Bedrock request when the mock has
//! credentials configured ([`crate::MockServer::require_sigv4`] or the
//! `SLUICE_MOCK_AWS_*` variables read by `sluice mock`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};

/// The credentials the mock accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// When set, requests must carry it as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl AwsCredentials {
    /// From `SLUICE_MOCK_AWS_ACCESS_KEY_ID`, `SLUICE_MOCK_AWS_SECRET_ACCESS_KEY`
    /// and optionally `SLUICE_MOCK_AWS_SESSION_TOKEN`; `None` unless both
    /// keys are set.
    pub fn from_env() -> Option<Self> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Some(Self {
            access_key_id: get("SLUICE_MOCK_AWS_ACCESS_KEY_ID")?,
            secret_access_key: get("SLUICE_MOCK_AWS_SECRET_ACCESS_KEY")?,
            session_token: get("SLUICE_MOCK_AWS_SESSION_TOKEN"),
        })
    }
}

/// Why a request was refused: the AWS error type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: &'static str,
    pub message: String,
}

fn refuse(kind: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
    }
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you \
provided. Check your AWS Secret Access Key and signing method. Consult the service documentation \
for details.";

/// The service name Bedrock Runtime signs for.
const SERVICE: &str = "bedrock";
/// Largest clock difference accepted.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// The parts of a request the signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as it arrived, still percent-encoded.
    pub raw_path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Checks `req`'s SigV4 signature against `creds` at time `now`.
pub fn verify(creds: &AwsCredentials, req: &Request<'_>, now: SystemTime) -> Result<(), Refusal> {
    let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
    let auth = header("authorization").ok_or_else(|| {
        refuse(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    })?;
    let fields = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        refuse(
            "IncompleteSignatureException",
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm.",
        )
    })?;
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| {
                refuse(
                    "IncompleteSignatureException",
                    format!("Authorization header requires '{name}' parameter."),
                )
            })
    };
    let (credential, signed_headers, signature) = (
        field("Credential")?,
        field("SignedHeaders")?,
        field("Signature")?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(refuse(
            "IncompleteSignatureException",
            "Credential scope is malformed.",
        ));
    };
    if *akid != creds.access_key_id {
        return Err(refuse(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if header("x-amz-security-token") != creds.session_token.as_deref() {
        return Err(refuse(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if *service != SERVICE {
        return Err(refuse(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{SERVICE}'."),
        ));
    }
    let amz_date = header("x-amz-date")
        .ok_or_else(|| refuse("IncompleteSignatureException", "Missing x-amz-date."))?;
    let signed_at = parse_amz_date(amz_date)
        .ok_or_else(|| refuse("IncompleteSignatureException", "Malformed x-amz-date."))?;
    if !amz_date.starts_with(date) {
        return Err(refuse(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.",
        ));
    }
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(refuse(
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date} is now earlier or later than the allowed window."
            ),
        ));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") {
        return Err(refuse(
            "InvalidSignatureException",
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let expected = signature_for(
        &creds.secret_access_key,
        req,
        &names,
        amz_date,
        region,
        service,
    );
    if expected != signature {
        return Err(refuse("InvalidSignatureException", MISMATCH));
    }
    Ok(())
}

/// The hex signature of `req` with the given scope.
pub fn signature_for(
    secret: &str,
    req: &Request<'_>,
    signed_headers: &[&str],
    amz_date: &str,
    region: &str,
    service: &str,
) -> String {
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical = [
        req.method.to_owned(),
        canonical_path(req.raw_path),
        canonical_query(req.query.unwrap_or("")),
        canonical_headers,
        signed_headers.join(";"),
        hex(&Sha256::digest(req.body)),
    ]
    .join("\n");
    let date = &amz_date[..amz_date.len().min(8)];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding of everything but unreserved characters.
fn encode(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hexval = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn canonical_path(raw: &str) -> String {
    if raw.is_empty() {
        return "/".to_owned();
    }
    raw.split('/')
        .map(|seg| encode(encode(&percent_decode(seg)).as_bytes()))
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(q: &str) -> String {
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&percent_decode(k)), encode(&percent_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `get-vanilla` from AWS's published SigV4 test suite.
    #[test]
    fn matches_the_aws_test_suite() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let req = Request {
            method: "GET",
            raw_path: "/",
            query: None,
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            signature_for(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                &req,
                &["host", "x-amz-date"],
                "20150830T123600Z",
                "us-east-1",
                "service"
            ),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(
            parse_amz_date("20150830T123600Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_440_938_160))
        );
    }

    #[test]
    fn paths_are_decoded_then_encoded_twice() {
        assert_eq!(
            canonical_path("/model/anthropic.claude-v2%3A1/converse"),
            "/model/anthropic.claude-v2%253A1/converse"
        );
        // A raw colon canonicalises the same way, so a client that signed
        // the raw path (single encoding) does not match.
        assert_eq!(
            canonical_path("/model/anthropic.claude-v2:1/converse"),
            "/model/anthropic.claude-v2%253A1/converse"
        );
        assert_eq!(canonical_query("b=2&a=x%20y"), "a=x%20y&b=2");
    }
}
