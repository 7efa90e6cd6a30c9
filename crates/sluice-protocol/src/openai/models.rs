//! `GET /v1/models`: the list of public model names a gateway serves.

use serde::{Deserialize, Serialize};

/// The `list` envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<ModelObject>,
}

/// One model entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelObject {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub owned_by: String,
}

impl ModelList {
    /// A list from `(id, owner)` pairs.
    pub fn new<'a>(models: impl IntoIterator<Item = (&'a str, &'a str)>, created: u64) -> Self {
        Self {
            object: "list".to_owned(),
            data: models
                .into_iter()
                .map(|(id, owner)| ModelObject {
                    id: id.to_owned(),
                    object: "model".to_owned(),
                    created,
                    owned_by: owner.to_owned(),
                })
                .collect(),
        }
    }
}
