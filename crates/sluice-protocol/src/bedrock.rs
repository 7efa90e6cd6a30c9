//! AWS Bedrock: the Converse / ConverseStream format and Titan embeddings.
//!
//! - [`wire`]: request, response, stream event and error types;
//! - [`convert`]: OpenAI request → Converse request, Converse response →
//!   OpenAI response;
//! - [`stream`]: ConverseStream event-stream messages → OpenAI chunks (the
//!   binary framing itself is [`crate::eventstream`]);
//! - [`error`]: Bedrock error answers and exception frames → [`crate::Error`];
//! - [`embed`]: OpenAI embeddings ⇄ Titan text embeddings (InvokeModel).

pub mod convert;
pub mod embed;
pub mod error;
pub mod stream;
pub mod wire;

/// Percent-encodes a model id for use as one path segment of a Bedrock URL
/// (`/model/{modelId}/converse`): everything but RFC 3986 unreserved
/// characters, so `:` becomes `%3A` and an ARN's `/` becomes `%2F`. SigV4
/// then encodes the path once more when it builds the canonical request,
/// which is what the service recomputes.
pub fn encode_model_id(model: &str) -> String {
    let mut out = String::with_capacity(model.len() + 8);
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_ids_are_one_encoded_segment() {
        assert_eq!(
            super::encode_model_id("anthropic.claude-3-5-sonnet-20240620-v1:0"),
            "anthropic.claude-3-5-sonnet-20240620-v1%3A0"
        );
        assert_eq!(
            super::encode_model_id("arn:aws:bedrock:us-east-1:123:inference-profile/us.x"),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.x"
        );
    }
}
