//! Replicate HTTP API wire types (predictions, streams, errors), written
//! from Replicate's HTTP API reference and streaming guide. Unknown fields
//! are kept in `extra` maps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A create-prediction body. `version` is set only for `POST /predictions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePrediction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The model's inputs; their names depend on the model.
    pub input: Map<String, Value>,
    /// Ask for `urls.stream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// A prediction, as create, get and cancel return it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub id: String,
    /// `owner/name`, for official models and deployments.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// `starting`, `processing`, `succeeded`, `failed`, `canceled` (or
    /// `aborted`).
    pub status: String,
    /// A string, or a list of string pieces for language models.
    #[serde(default)]
    pub output: Option<Value>,
    /// The failure, when `status` is `failed`.
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(default)]
    pub urls: Option<Urls>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Prediction {
    /// Whether the prediction has finished, well or not.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "succeeded" | "failed" | "canceled" | "aborted"
        )
    }
}

/// The URLs of a prediction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Urls {
    #[serde(default)]
    pub get: Option<String>,
    #[serde(default)]
    pub cancel: Option<String>,
    /// The SSE stream, for models that stream.
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `metrics` of a prediction; language models report token counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(default)]
    pub input_token_count: Option<u64>,
    #[serde(default)]
    pub output_token_count: Option<u64>,
    #[serde(default)]
    pub predict_time: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The data of a `done` event: `{}`, or `{"reason": "canceled" | "error"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub reason: Option<String>,
}

/// An RFC 7807 problem body: `{"title", "detail", "status"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
