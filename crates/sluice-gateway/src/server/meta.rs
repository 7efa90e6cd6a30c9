//! Per-request inputs that come from headers rather than the body: the
//! client's metadata (`x-sluice-metadata`) and the routing context.
//!
//! Read by the handlers before routing. The metadata is recorded with the
//! request and can steer routing (`when: {metadata: ...}`); the caller's
//! identity (set by the auth layer) steers routing and carries its limits.

use http::HeaderMap;
use http::request::Parts;
use serde_json::{Map, Value};
use sluice_protocol::Error;

use super::context::RequestCtx;
use crate::routing::RouteCtx;

/// The request header carrying client metadata, a JSON object.
pub const METADATA_HEADER: &str = "x-sluice-metadata";
/// Largest metadata header accepted.
const MAX_METADATA_BYTES: usize = 4096;

/// The client's metadata, if it sent any. Refuses a header that is not a
/// small JSON object whose values are strings, numbers or booleans.
pub fn metadata(headers: &HeaderMap) -> Result<Option<Map<String, Value>>, Error> {
    let Some(raw) = headers.get(METADATA_HEADER) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        Error::invalid(format!("The `{METADATA_HEADER}` header {why}.")).with_param(METADATA_HEADER)
    };
    if raw.len() > MAX_METADATA_BYTES {
        return Err(bad(&format!("is larger than {MAX_METADATA_BYTES} bytes")));
    }
    let map: Map<String, Value> =
        serde_json::from_slice(raw.as_bytes()).map_err(|_| bad("must be a JSON object"))?;
    if map.values().any(|v| v.is_object() || v.is_array()) {
        return Err(bad("must map names to strings, numbers or booleans"));
    }
    Ok(Some(map))
}

/// The routing context of a request.
pub fn route_ctx<'a>(
    parts: &'a Parts,
    metadata: Option<&'a Map<String, Value>>,
    user: Option<&'a str>,
) -> RouteCtx<'a> {
    let identity = parts
        .extensions
        .get::<RequestCtx>()
        .and_then(|c| c.identity.as_deref());
    RouteCtx {
        headers: Some(&parts.headers),
        path: parts.uri.path(),
        metadata,
        identity,
        key_id: identity.map(|i| i.key_id.as_str()),
        consumer: identity.and_then(|i| i.consumer_name.as_deref()),
        team: identity.and_then(|i| i.team_name.as_deref()),
        user,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_header_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(metadata(&h).unwrap(), None);
        h.insert(METADATA_HEADER, r#"{"team":"ml","n":3}"#.parse().unwrap());
        assert_eq!(metadata(&h).unwrap().unwrap()["team"], "ml");
        h.insert(METADATA_HEADER, "not json".parse().unwrap());
        assert_eq!(metadata(&h).unwrap_err().status(), 400);
        h.insert(METADATA_HEADER, r#"{"a":{"b":1}}"#.parse().unwrap());
        assert!(metadata(&h).is_err());
    }
}
