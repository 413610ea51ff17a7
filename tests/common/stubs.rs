//! Pieces of the wiremock stubs the collector tests share (each test file keeps the routes it asserts on).

use serde_json::{json, Value};
use wiremock::ResponseTemplate;

/// The environment the collectors read tokens from: fixed ARM and Graph tokens, nothing else.
pub fn env(name: &str) -> Option<String> {
    match name {
        "AZPATH_ARM_TOKEN" => Some("arm-token".into()),
        "AZPATH_GRAPH_TOKEN" => Some("graph-token".into()),
        _ => None,
    }
}

/// One page of a listing: `{"value": items}`, no next link.
pub fn page(items: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "value": items }))
}
