//! The plan as text, where the model keeps it: a recovery record's
//! `decision_json` (written by the recovery service, read for the gRPC
//! audit) and the `Details` of an HTTP dry run. Never on the wire.
//!
//! The text is the planner's plan as serde writes it, with two additions
//! for people: `actions` (the steps in words, numbered) and `lost` as
//! `{"key": "host:port", "reason": ...}` objects.

use orc_model::InstanceKey;
use orc_planner as p;
use serde_json::{Value, json};

use crate::Error;
use crate::v1 as w;

/// The plan as recorded and as dry runs show it.
pub fn recorded_json(plan: &p::Plan) -> Value {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("actions".into(), json!(plan.describe()));
        o.insert(
            "lost".into(),
            json!(
                plan.lost
                    .iter()
                    .map(|(k, why)| json!({"key": k.to_string(), "reason": why}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    v
}

/// `{"key": "host:port", "reason": ...}` back to serde's `[key, reason]`.
fn lost_entry(entry: &Value) -> Option<Value> {
    let key = InstanceKey::parse(entry.get("key")?.as_str()?).ok()?;
    let reason = entry.get("reason")?.as_str()?;
    Some(json!([serde_json::to_value(key).ok()?, reason]))
}

/// Reads a recorded plan back (`None` when the text is empty or not a
/// plan, e.g. a record written before plans were recorded).
pub fn from_recorded(text: &str) -> Option<p::Plan> {
    let mut v: Value = serde_json::from_str(text).ok()?;
    let o = v.as_object_mut()?;
    o.remove("actions");
    if let Some(Value::Array(lost)) = o.get_mut("lost") {
        let entries: Option<Vec<Value>> = lost.iter().map(lost_entry).collect();
        *lost = entries?;
    }
    serde_json::from_value(v).ok()
}

/// A recorded plan on the wire.
pub fn recorded_plan(text: &str) -> Option<w::Plan> {
    from_recorded(text).map(|plan| (&plan).into())
}

/// The text a record keeps for a plan received on the wire.
pub fn plan_text(plan: &w::Plan) -> Result<String, Error> {
    p::Plan::try_from(plan).map(|plan| recorded_json(&plan).to_string())
}
