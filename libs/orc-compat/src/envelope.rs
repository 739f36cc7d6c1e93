use serde::{Deserialize, Serialize};

/// orchestrator's response envelope: `{"Code":"OK"|"ERROR","Message":..,"Details":..}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// `OK` or `ERROR`.
    #[serde(rename = "Code")]
    pub code: String,
    /// Human-readable message.
    #[serde(rename = "Message")]
    pub message: String,
    /// Payload (`null` when none).
    #[serde(rename = "Details")]
    pub details: serde_json::Value,
}

impl Envelope {
    /// A success with details.
    pub fn ok(message: impl Into<String>, details: impl Serialize) -> Self {
        Self {
            code: "OK".into(),
            message: message.into(),
            details: serde_json::to_value(details).unwrap_or(serde_json::Value::Null),
        }
    }

    /// A failure (orchestrator answers these with HTTP 500).
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            code: "ERROR".into(),
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.code.contains("ERROR")
    }
}
