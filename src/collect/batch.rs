//! Microsoft Graph [JSON batching](https://learn.microsoft.com/graph/json-batching): the first page of up to
//! [`MAX_ITEMS`] per-object listings (group members, owners, PIM for Groups, …) in one `POST {graph}/v1.0/$batch`.
//!
//! Batching cuts requests and round trips, not resource units: Graph evaluates every item of a batch against
//! its throttling limits on its own, so the batch is admitted by the Graph pacer at the sum of its items'
//! costs, and each item may come back 429/503 with its own `Retry-After` while its neighbours succeed.
//!
//! What happens to each item:
//! - 2xx: its body is the listing's first page; an `@odata.nextLink` in it is followed as an ordinary paged
//!   request ([`ApiClient::list`]), with the same origin and loop checks.
//! - 429/503: it is sent again on its own, as an ordinary request, once its `Retry-After` (or the backoff's
//!   first delay, when it gave none) has passed; never earlier.
//! - any other status: the failure a single request would have had (403 `Forbidden`, 404 `NotFound`, …),
//!   named by the item's URL, so it becomes the same coverage gap.
//!
//! The batch request itself is sent once (attempt deadline, token to the Graph origin only). If it fails as a
//! whole (refused, throttled, timed out, unreadable), no item is lost: each is sent on its own instead, after
//! the batch's `Retry-After` when it was throttled.

use std::time::{Duration, SystemTime};

use azpath_graph::snapshot::GapReason;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use url::Url;

use super::http::{self, display_url, ApiClient, FetchError, Listing, Page, Service};
use super::msgraph::GRAPH_VERSION;
use super::pacer::{self, BucketKey, Finish};
use super::redact::redact;

/// Most requests in one batch, as Graph allows.
pub const MAX_ITEMS: usize = 20;

/// What the batch said about one item.
#[derive(Debug)]
pub enum Item {
    /// A 2xx answer: the first page's JSON text, parsed straight into the listing's records (no
    /// intermediate `serde_json::Value` tree, which takes several times the text's size).
    Page(Box<RawValue>),
    /// 429/503: to be sent again on its own after this delay (`None`: the server gave no `Retry-After`).
    Retry(Option<Duration>),
    /// Any other status, classified as a single request's failure would be.
    Failed(FetchError),
    /// Not answered (the batch failed as a whole, or its response left the item out): to be sent on its own now.
    Unsent,
}

#[derive(Serialize)]
struct BatchRequest<'a> {
    requests: Vec<ItemRequest<'a>>,
}

#[derive(Serialize)]
struct ItemRequest<'a> {
    id: String,
    method: &'static str,
    url: &'a str,
}

#[derive(Deserialize)]
struct BatchResponse {
    responses: Vec<ItemResponse>,
}

#[derive(Deserialize)]
struct ItemResponse {
    id: String,
    status: u16,
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    body: Option<Box<RawValue>>,
}

/// What the batch said about each of `urls` (at most [`MAX_ITEMS`] Graph listings under `{graph}/v1.0/`), in
/// their order. When the batch failed as a whole every item is [`Item::Unsent`], after the batch's
/// `Retry-After` if it was throttled.
pub async fn items(client: &ApiClient<'_>, graph: &Service, urls: &[Url]) -> Vec<Item> {
    match first_pages(client, graph, urls).await {
        Ok(items) => items,
        Err(wait) => {
            // A wait past the budget is not slept: the pacer keeps the service closed, so each item then
            // fails as throttled on its own.
            if let Some(wait) = wait.filter(|w| *w <= client.retry().max_total_wait) {
                tokio::time::sleep(wait).await;
            }
            urls.iter().map(|_| Item::Unsent).collect()
        }
    }
}

/// The whole listing of `url`, given what the batch said about its first page.
pub async fn finish<T: DeserializeOwned>(client: &ApiClient<'_>, graph: &Service, url: &Url, item: Item) -> Listing<T> {
    match item {
        Item::Retry(wait) => {
            // Never before the item's Retry-After; without one, the backoff's first delay.
            let wait = wait.unwrap_or(client.retry().initial_backoff);
            let budget = client.retry().max_total_wait;
            if wait > budget {
                let message = format!(
                    "{}: throttled in a JSON batch: the retry ({} s) would exceed the {} s budget",
                    display_url(url),
                    wait.as_secs_f32().ceil(),
                    budget.as_secs()
                );
                let error = FetchError { reason: GapReason::Throttled, status: Some(429), message };
                return Listing { items: Vec::new(), pages: 0, error: Some(error) };
            }
            tokio::time::sleep(wait).await;
            client.list(graph, url.clone()).await
        }
        Item::Unsent => client.list(graph, url.clone()).await,
        Item::Failed(e) => Listing { items: Vec::new(), pages: 0, error: Some(e) },
        Item::Page(body) => {
            let page: Page<T> = match client.interner().scope(|| parse_page(url, &body)) {
                Ok(page) => page,
                Err(e) => return Listing { items: Vec::new(), pages: 0, error: Some(e) },
            };
            let mut listing = Listing { items: page.value, pages: 1, error: None };
            let Some(link) = page.next_link.filter(|l| !l.is_empty()) else { return listing };
            let next = match url.join(&link) {
                Ok(next) if next != *url => next,
                Ok(_) => {
                    let message = format!("{}: nextLink repeats an earlier page (after 1 pages)", display_url(url));
                    listing.error = Some(FetchError { reason: GapReason::PageLoop, status: None, message });
                    return listing;
                }
                Err(e) => {
                    let message = format!("{}: invalid nextLink: {e}", display_url(url));
                    listing.error = Some(FetchError { reason: GapReason::Malformed, status: None, message });
                    return listing;
                }
            };
            // `list` checks the origin before sending the token, and loops among the later pages.
            let rest = client.list::<T>(graph, next).await;
            listing.items.extend(rest.items);
            listing.pages += rest.pages;
            listing.error = rest.error;
            listing
        }
    }
}

/// Sends one batch of the first pages of `urls` (at most [`MAX_ITEMS`]), paced at the sum of their costs.
/// `Err` when the batch failed as a whole, with the delay it asked for when it was throttled.
pub async fn first_pages(client: &ApiClient<'_>, graph: &Service, urls: &[Url]) -> Result<Vec<Item>, Option<Duration>> {
    let relative: Vec<String> = match urls.iter().map(|u| relative_url(&graph.base, u)).collect::<Option<_>>() {
        Some(r) => r,
        None => return Err(None),
    };
    let Some(endpoint) = batch_url(&graph.base) else { return Err(None) };
    let body = BatchRequest {
        requests: relative
            .iter()
            .enumerate()
            .map(|(i, url)| ItemRequest { id: i.to_string(), method: "GET", url })
            .collect(),
    };
    let Ok(body) = serde_json::to_vec(&body) else { return Err(None) };
    let Ok(token) = client.tokens().token(graph.audience).await else { return Err(None) };
    let secret = token.secret();
    let cost: f64 = urls.iter().map(pacer::graph_cost).sum();
    let pacer = client.pacer_of(graph);
    let permit = pacer.admit(BucketKey::Tenant, cost).await;
    let shown = display_url(&endpoint);
    let sent = client
        .http()
        .post(endpoint)
        .bearer_auth(secret)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send();
    let response = match tokio::time::timeout(client.request_timeout(), sent).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            permit.finish(Finish::Done);
            let error = redact(&http::error_chain(&e), &[secret]);
            tracing::debug!(method = "POST", url = %shown, %error, "batch failed; items go one by one");
            return Err(None);
        }
        Err(_) => {
            permit.finish(Finish::Abandoned);
            return Err(None);
        }
    };
    let status = response.status();
    tracing::debug!(method = "POST", url = %shown, status = status.as_u16(), items = urls.len(), "response");
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        let wait = http::retry_after(response.headers(), SystemTime::now());
        permit.finish(Finish::Throttled { retry_after: wait.unwrap_or(client.retry().initial_backoff) });
        return Err(wait);
    }
    if !status.is_success() {
        permit.finish(Finish::Done);
        tracing::debug!(url = %shown, status = status.as_u16(), "batch refused; items go one by one");
        return Err(None);
    }
    let body = match tokio::time::timeout(client.request_timeout(), http::read_body(response, &shown)).await {
        Ok(Ok(body)) => body,
        _ => {
            permit.finish(Finish::Done);
            return Err(None);
        }
    };
    let Ok(parsed) = serde_json::from_slice::<BatchResponse>(&body) else {
        permit.finish(Finish::Done);
        return Err(None);
    };
    let items = items_of(parsed, urls, secret);
    // Each item counts as one response in the pacer's share of throttled responses: a random fault on one
    // item of 20 is not a throttled batch (it closed the service for most batches at 6 % faults).
    let waits: Vec<Option<Duration>> =
        items.iter().filter_map(|i| if let Item::Retry(w) = i { Some(*w) } else { None }).collect();
    let retry_after = waits.iter().map(|w| w.unwrap_or(client.retry().initial_backoff)).max().unwrap_or_default();
    permit.finish(Finish::Batch { items: items.len(), throttled: waits.len(), retry_after });
    Ok(items)
}

/// Each request's answer, in the order of `urls` (Graph may answer in any order); an item the response left
/// out is sent again on its own.
fn items_of(parsed: BatchResponse, urls: &[Url], secret: &str) -> Vec<Item> {
    let mut items: Vec<Item> = urls.iter().map(|_| Item::Unsent).collect();
    for response in parsed.responses {
        let Some(i) = response.id.parse::<usize>().ok().filter(|i| *i < urls.len()) else { continue };
        items[i] = item(response, &urls[i], secret);
    }
    items
}

fn item(response: ItemResponse, url: &Url, secret: &str) -> Item {
    let Ok(status) = StatusCode::from_u16(response.status) else { return Item::Unsent };
    if status.is_success() {
        return match response.body {
            Some(body) => Item::Page(body),
            None => Item::Unsent,
        };
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after")).map(|(_, v)| v);
        let text = match value {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&text) {
            headers.insert(reqwest::header::RETRY_AFTER, v);
        }
        return Item::Retry(http::retry_after(&headers, SystemTime::now()));
    }
    let reason = match status {
        StatusCode::UNAUTHORIZED => GapReason::Unauthorized,
        StatusCode::FORBIDDEN => GapReason::Forbidden,
        StatusCode::NOT_FOUND => GapReason::NotFound,
        _ => GapReason::HttpError,
    };
    let body = response.body.as_ref().map_or("", |b| b.get());
    let message = format!("{}: {status}{} (in a JSON batch)", display_url(url), http::api_error(body.as_bytes()));
    Item::Failed(FetchError { reason, status: Some(status.as_u16()), message }.redacted(&[secret]))
}

/// Parses a first page, naming the URL and the JSON path of the first bad field.
fn parse_page<T: DeserializeOwned>(url: &Url, body: &RawValue) -> Result<Page<T>, FetchError> {
    let de = &mut serde_json::Deserializer::from_str(body.get());
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = format!("{}: unexpected response body at `{path}`: {}", display_url(url), e.into_inner());
        FetchError { reason: GapReason::Malformed, status: None, message }.redacted(&[])
    })
}

/// `{graph}/v1.0/$batch`.
fn batch_url(graph: &Url) -> Option<Url> {
    let mut url = graph.clone();
    url.path_segments_mut().ok()?.pop_if_empty().extend([GRAPH_VERSION, "$batch"]);
    url.set_query(None);
    Some(url)
}

/// `url` relative to `{graph}/v1.0` (`/groups/{id}/members?…`), as a batch item names it; `None` for a URL
/// elsewhere.
fn relative_url(graph: &Url, url: &Url) -> Option<String> {
    if url.origin() != graph.origin() {
        return None;
    }
    let prefix = format!("{}/{GRAPH_VERSION}/", graph.path().trim_end_matches('/'));
    let rest = url.path().strip_prefix(&prefix)?;
    Some(match url.query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_urls_are_relative_to_the_version() {
        let base = Url::parse("https://graph.example/").unwrap();
        let u = Url::parse("https://graph.example/v1.0/groups/g1/members?$select=id&$top=999").unwrap();
        assert_eq!(relative_url(&base, &u).as_deref(), Some("/groups/g1/members?$select=id&$top=999"));
        let prefixed = Url::parse("http://127.0.0.1:9/p/").unwrap();
        let u = Url::parse("http://127.0.0.1:9/p/v1.0/groups/g1/owners").unwrap();
        assert_eq!(relative_url(&prefixed, &u).as_deref(), Some("/groups/g1/owners"));
        assert_eq!(batch_url(&prefixed).unwrap().as_str(), "http://127.0.0.1:9/p/v1.0/$batch");
        let elsewhere = Url::parse("https://evil.example/v1.0/groups").unwrap();
        assert_eq!(relative_url(&base, &elsewhere), None);
        let beta = Url::parse("https://graph.example/beta/groups").unwrap();
        assert_eq!(relative_url(&base, &beta), None);
    }

    #[test]
    fn items_are_matched_by_id_and_classified() {
        let urls: Vec<Url> =
            (0..4).map(|i| Url::parse(&format!("https://g.example/v1.0/groups/g{i}/members")).unwrap()).collect();
        let text = serde_json::json!({"responses": [
            {"id": "2", "status": 404, "body": {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}},
            {"id": "0", "status": 200, "body": {"value": []}},
            {"id": "1", "status": 429, "headers": {"retry-after": "7"}, "body": {}},
        ]});
        let parsed: BatchResponse = serde_json::from_str(&text.to_string()).unwrap();
        let items = items_of(parsed, &urls, "secret");
        assert!(matches!(&items[0], Item::Page(body) if body.get() == r#"{"value":[]}"#));
        assert!(matches!(items[1], Item::Retry(Some(d)) if d == Duration::from_secs(7)));
        match &items[2] {
            Item::Failed(e) => {
                assert_eq!((e.reason, e.status), (GapReason::NotFound, Some(404)));
                assert!(e.message.contains("/groups/g2/members") && e.message.contains("gone"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
        // Left out of the response: sent again on its own, not lost.
        assert!(matches!(items[3], Item::Unsent));
    }
}
