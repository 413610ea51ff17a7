//! Microsoft Graph [JSON batching](https://learn.microsoft.com/graph/json-batching) for the mock:
//! `POST {graph}/v1.0/$batch` with `{"requests": [{"id", "method", "url"}, …]}` (at most [`MAX_ITEMS`], ids
//! unique, each `url` relative to `/v1.0`), answered `{"responses": [{"id", "status", "headers", "body"}, …]}`.
//!
//! Each item goes through the server's normal per-request path (a `dispatch` closure): token check, routes,
//! faults, and the throttling emulation, which so charges and refuses every item on its own, as Graph
//! evaluates each request of a batch against its limits. A throttled item carries its own `Retry-After` in
//! its `headers`. The batch is answered once its slowest item would have been.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use wiremock::{Request, ResponseTemplate};

/// Most requests Graph accepts in one batch.
pub const MAX_ITEMS: usize = 20;

/// True for `POST …/v1.0/$batch` (the path compared case-insensitively).
pub(crate) fn is_batch(request: &Request) -> bool {
    request.method.as_str() == "POST" && request.url.path().to_ascii_lowercase().ends_with("/v1.0/$batch")
}

/// One item's answer from the per-request path.
pub(crate) struct ItemAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The emulated delay of this item's answer (beyond the fixed latency).
    pub delay: Duration,
}

/// The batch's answer.
pub(crate) struct Answered {
    /// Items dispatched (0 when the batch itself was refused).
    pub items: usize,
    status: u16,
    body: Value,
    delay: Duration,
}

impl Answered {
    /// The response, after `latency` plus the slowest item's delay.
    pub(crate) fn into_template(self, latency: Duration) -> ResponseTemplate {
        ResponseTemplate::new(self.status)
            .set_body_raw(self.body.to_string(), "application/json")
            .set_delay(latency + self.delay)
    }

    fn refused(message: impl Into<String>) -> Answered {
        let body = json!({"error": {"code": "BadRequest", "message": message.into()}});
        Answered { items: 0, status: 400, body, delay: Duration::ZERO }
    }
}

#[derive(Deserialize)]
struct Envelope {
    requests: Vec<ItemRequest>,
}

#[derive(Deserialize)]
struct ItemRequest {
    id: String,
    method: String,
    url: String,
}

/// Answers a batch `request` received at `base`, each item through `dispatch`.
pub(crate) fn respond(request: &Request, base: &str, dispatch: impl Fn(&Request) -> ItemAnswer) -> Answered {
    let envelope: Envelope = match serde_json::from_slice(&request.body) {
        Ok(e) => e,
        Err(e) => return Answered::refused(format!("Invalid batch payload: {e}")),
    };
    if envelope.requests.is_empty() || envelope.requests.len() > MAX_ITEMS {
        return Answered::refused(format!("A batch holds 1 to {MAX_ITEMS} requests."));
    }
    let mut ids = std::collections::HashSet::new();
    if !envelope.requests.iter().all(|r| ids.insert(r.id.as_str())) {
        return Answered::refused("Batch request ids must be unique.");
    }
    let mut delay = Duration::ZERO;
    let mut responses = Vec::with_capacity(envelope.requests.len());
    for item in &envelope.requests {
        let answer = match item_request(request, base, item) {
            Some(r) => dispatch(&r),
            None => ItemAnswer {
                status: 400,
                headers: Vec::new(),
                body: json!({"error": {"code": "BadRequest", "message": "Invalid request URL."}}),
                delay: Duration::ZERO,
            },
        };
        delay = delay.max(answer.delay);
        let headers: Map<String, Value> = answer.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        responses.push(json!({"id": item.id, "status": answer.status, "headers": headers, "body": answer.body}));
    }
    // Graph may answer in any order; the mock answers in reverse so clients match by id.
    responses.reverse();
    Answered { items: envelope.requests.len(), status: 200, body: json!({ "responses": responses }), delay }
}

/// The item as a request of its own: `{base}/v1.0{url}` with the batch's headers (its token); `None` for a URL
/// that is not relative to the version.
fn item_request(batch: &Request, base: &str, item: &ItemRequest) -> Option<Request> {
    if !item.url.starts_with('/') || item.url.starts_with("//") {
        return None;
    }
    let url = url::Url::parse(&format!("{}/v1.0{}", base.trim_end_matches('/'), item.url)).ok()?;
    let method = item.method.to_ascii_uppercase().parse().ok()?;
    Some(Request { url, method, headers: batch.headers.clone(), body: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(body: Value) -> Request {
        Request {
            url: url::Url::parse("http://127.0.0.1:1/v1.0/$batch").unwrap(),
            method: "POST".parse().unwrap(),
            headers: Default::default(),
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    fn echo(r: &Request) -> ItemAnswer {
        let status = if r.url.path().ends_with("/missing") { 404 } else { 200 };
        ItemAnswer { status, headers: Vec::new(), body: json!({"path": r.url.path()}), delay: Duration::ZERO }
    }

    #[test]
    fn items_go_through_dispatch_one_by_one() {
        let request = batch(json!({"requests": [
            {"id": "a", "method": "GET", "url": "/groups/g1/members?$select=id"},
            {"id": "b", "method": "GET", "url": "/groups/missing"},
        ]}));
        assert!(is_batch(&request));
        let answered = respond(&request, "http://127.0.0.1:1", echo);
        assert_eq!((answered.items, answered.status), (2, 200));
        let responses = answered.body["responses"].as_array().unwrap();
        let by_id = |id: &str| responses.iter().find(|r| r["id"] == id).unwrap().clone();
        assert_eq!(by_id("a")["status"], 200);
        assert_eq!(by_id("a")["body"]["path"], "/v1.0/groups/g1/members");
        assert_eq!(by_id("b")["status"], 404);
    }

    #[test]
    fn oversized_or_malformed_batches_are_refused() {
        let many: Vec<Value> =
            (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"})).collect();
        assert_eq!(respond(&batch(json!({ "requests": many })), "http://h", echo).status, 400);
        let dup = json!({"requests": [{"id": "1", "method": "GET", "url": "/users"},
                                      {"id": "1", "method": "GET", "url": "/groups"}]});
        assert_eq!(respond(&batch(dup), "http://h", echo).status, 400);
        let absolute = json!({"requests": [{"id": "1", "method": "GET", "url": "https://evil/v1.0/users"}]});
        let answered = respond(&batch(absolute), "http://h", echo);
        assert_eq!(answered.body["responses"][0]["status"], 400);
    }
}
