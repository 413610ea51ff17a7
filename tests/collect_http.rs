//! The collectors' HTTP layer against wiremock servers: paging, retries, origin checks, classification.
//! Base URLs and tokens are injected exactly as in production (`Endpoints`, `AZPATH_*_TOKEN`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::{build_client, ApiClient, Cloud, Endpoints, RetryPolicy, Service};
use azpath_graph::snapshot::{GapReason, RoleAssignment, User};
use common::stubs::env;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn endpoints(arm: &MockServer, graph: &MockServer) -> Endpoints {
    Endpoints::new(Cloud::Custom, Some(&arm.uri()), Some(&graph.uri()), None).unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        max_total_wait: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

fn assignment(n: u32) -> Value {
    json!({
        "id": format!("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a{n}"),
        "name": format!("a{n}"),
        "properties": {"scope": "/subscriptions/s", "roleDefinitionId": "/x/roleDefinitions/r", "principalId": format!("p{n}")}
    })
}

fn ra_url(e: &Endpoints) -> Url {
    e.arm.join("subscriptions/s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01").unwrap()
}

const RA_PATH: &str = "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments";

#[tokio::test]
async fn follows_three_pages_with_exact_calls_and_only_the_arm_token() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    let base = arm.uri();
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .and(query_param("api-version", "2022-04-01"))
        .and(query_param("page", "2"))
        .and(header("authorization", "Bearer arm-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [assignment(2)],
            "nextLink": format!("{base}{RA_PATH}?api-version=2022-04-01&page=3")
        })))
        .expect(1)
        .mount(&arm)
        .await;
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .and(query_param("page", "3"))
        .and(header("authorization", "Bearer arm-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [assignment(3), assignment(4)]})))
        .expect(1)
        .mount(&arm)
        .await;
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .and(query_param("api-version", "2022-04-01"))
        .and(header("authorization", "Bearer arm-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [assignment(1)],
            "nextLink": format!("{base}{RA_PATH}?api-version=2022-04-01&page=2")
        })))
        .with_priority(10)
        .expect(1)
        .mount(&arm)
        .await;
    // The graph server must never see anything.
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&graph).await;

    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    assert!(listing.error.is_none(), "{:?}", listing.error);
    assert_eq!(listing.pages, 3);
    let ids: Vec<&str> = listing.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "a4"]);
}

#[tokio::test]
async fn graph_requests_carry_only_the_graph_token_and_follow_odata_next_link() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    let next = format!("{}/v1.0/users?$skiptoken=abc", graph.uri());
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$skiptoken", "abc"))
        .and(header("authorization", "Bearer graph-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "u2"}]})))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$top", "999"))
        .and(header("authorization", "Bearer graph-token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "u1"}], "@odata.nextLink": next})),
        )
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&arm).await;

    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let url = azpath::collect::msgraph::users_url(&e.graph);
    let listing = client.list::<User>(&Service::graph(&e), url).await;
    assert!(listing.error.is_none(), "{:?}", listing.error);
    assert_eq!(listing.items.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["u1", "u2"]);
}

/// Answers with the given responses in turn (the last one repeats) and records when each request came.
#[derive(Clone)]
struct Sequence {
    responses: Arc<Vec<ResponseTemplate>>,
    seen: Arc<Mutex<Vec<Instant>>>,
}

impl Sequence {
    fn new(responses: Vec<ResponseTemplate>) -> Self {
        Sequence { responses: Arc::new(responses), seen: Arc::default() }
    }
    fn times(&self) -> Vec<Instant> {
        self.seen.lock().unwrap().clone()
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        seen.push(Instant::now());
        let i = (seen.len() - 1).min(self.responses.len() - 1);
        self.responses[i].clone()
    }
}

fn ok_page() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"value": [assignment(1)]}))
}

async fn list_with(
    seq: &Sequence,
    expected_calls: u64,
    retry: RetryPolicy,
) -> azpath::collect::Listing<RoleAssignment> {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    Mock::given(method("GET")).and(path(RA_PATH)).respond_with(seq.clone()).expect(expected_calls).mount(&arm).await;
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, retry);
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    arm.verify().await;
    listing
}

#[tokio::test]
async fn retry_after_seconds_is_waited_for_then_retried_once() {
    let seq = Sequence::new(vec![ResponseTemplate::new(429).insert_header("Retry-After", "1"), ok_page()]);
    let listing = list_with(&seq, 2, fast_retry()).await;
    assert!(listing.error.is_none(), "{:?}", listing.error);
    assert_eq!(listing.items.len(), 1);
    let t = seq.times();
    assert!(t[1] - t[0] >= Duration::from_secs(1), "retried after {:?}", t[1] - t[0]);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    // 3 s ahead: HTTP dates have whole seconds and the servers start after this, so the wait is still >1 s.
    let at = SystemTime::now() + Duration::from_secs(3);
    let date = httpdate::fmt_http_date(at);
    // HTTP dates have whole seconds: the retry may come no earlier than the second the date names.
    let not_before = httpdate::parse_http_date(&date).unwrap();
    let seq = Sequence::new(vec![ResponseTemplate::new(503).insert_header("Retry-After", date.as_str()), ok_page()]);
    let listing = list_with(&seq, 2, fast_retry()).await;
    assert!(listing.error.is_none(), "{:?}", listing.error);
    assert!(SystemTime::now() >= not_before);
    let t = seq.times();
    assert!(t[1] - t[0] >= Duration::from_millis(900), "retried after {:?}", t[1] - t[0]);
}

#[tokio::test]
async fn unavailable_without_retry_after_backs_off() {
    let seq = Sequence::new(vec![ResponseTemplate::new(503), ResponseTemplate::new(503), ok_page()]);
    let retry = RetryPolicy { initial_backoff: Duration::from_millis(100), ..fast_retry() };
    let listing = list_with(&seq, 3, retry).await;
    assert!(listing.error.is_none(), "{:?}", listing.error);
    let t = seq.times();
    assert!(t[1] - t[0] >= Duration::from_millis(100), "first backoff {:?}", t[1] - t[0]);
    assert!(t[2] - t[1] >= Duration::from_millis(100), "second backoff {:?}", t[2] - t[1]);
}

#[tokio::test]
async fn a_throttled_next_page_is_retried_alone_without_restarting_the_listing() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    let base = arm.uri();
    let page = |n: u32, next: Option<u32>| {
        let mut body = json!({ "value": [assignment(n)] });
        if let Some(next) = next {
            body["nextLink"] = json!(format!("{base}{RA_PATH}?api-version=2022-04-01&page={next}"));
        }
        ResponseTemplate::new(200).set_body_json(body)
    };
    let mount = |n: &'static str, t: ResponseTemplate, times: u64, priority: u8| {
        Mock::given(method("GET"))
            .and(path(RA_PATH))
            .and(query_param("page", n))
            .respond_with(t)
            .up_to_n_times(times)
            .with_priority(priority)
            .expect(times)
    };
    mount("2", ResponseTemplate::new(429).insert_header("Retry-After", "1"), 1, 1).mount(&arm).await;
    mount("2", page(2, Some(3)), 1, 2).mount(&arm).await;
    mount("3", page(3, None), 1, 2).mount(&arm).await;
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(page(1, Some(2)))
        .with_priority(10)
        .expect(1)
        .mount(&arm)
        .await;

    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    assert!(listing.error.is_none(), "{:?}", listing.error);
    let ids: Vec<&str> = listing.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"], "each page's records once");
    assert_eq!(listing.pages, 3);
    arm.verify().await;
}

#[tokio::test]
async fn exhausted_retries_are_a_throttled_failure() {
    let seq = Sequence::new(vec![ResponseTemplate::new(429).insert_header("Retry-After", "0")]);
    let listing = list_with(&seq, 3, fast_retry()).await;
    let err = listing.error.expect("throttled");
    assert_eq!(err.reason, GapReason::Throttled);
    assert_eq!(err.status, Some(429));
}

#[tokio::test]
async fn retry_after_beyond_the_budget_is_not_waited_for() {
    for asked in ["3600", "18446744073709551615"] {
        let seq = Sequence::new(vec![ResponseTemplate::new(429).insert_header("Retry-After", asked)]);
        let started = Instant::now();
        let listing = list_with(&seq, 1, fast_retry()).await;
        assert_eq!(listing.error.expect("throttled").reason, GapReason::Throttled);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn next_link_to_another_origin_is_never_requested() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let foreign = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [assignment(1)],
            "nextLink": format!("{}{RA_PATH}?page=2", foreign.uri())
        })))
        .expect(1)
        .mount(&arm)
        .await;
    Mock::given(method("GET")).respond_with(ok_page()).expect(0).mount(&foreign).await;

    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    let err = listing.error.expect("untrusted");
    assert_eq!(err.reason, GapReason::UntrustedNextLink);
    assert!(err.message.contains(&foreign.uri()), "{}", err.message);
    assert_eq!(listing.items.len(), 1, "the first page is kept");
}

#[tokio::test]
async fn next_link_over_plain_http_to_a_public_host_is_not_followed() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [], "nextLink": "http://management.azure.com/next"
        })))
        .expect(1)
        .mount(&arm)
        .await;
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    assert_eq!(listing.error.expect("untrusted").reason, GapReason::UntrustedNextLink);
}

#[tokio::test]
async fn page_loop_is_detected() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    let first = ra_url(&e).to_string();
    let second = format!("{first}&page=2");
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [assignment(2)], "nextLink": first})))
        .expect(1)
        .mount(&arm)
        .await;
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [assignment(1)], "nextLink": second})))
        .with_priority(10)
        .expect(1)
        .mount(&arm)
        .await;
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    assert_eq!(listing.error.expect("loop").reason, GapReason::PageLoop);
    assert_eq!(listing.items.len(), 2);
}

#[tokio::test]
async fn malformed_body_names_url_and_field_path() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    let bad = json!({"value": [assignment(1), {"id": "/x", "properties": {"scope": 5, "roleDefinitionId": "r", "principalId": "p"}}]});
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(bad))
        .expect(1)
        .mount(&arm)
        .await;
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let listing = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await;
    let err = listing.error.expect("malformed");
    assert_eq!(err.reason, GapReason::Malformed);
    assert!(err.message.contains("value[1].properties.scope"), "{}", err.message);
    assert!(err.message.contains(RA_PATH), "{}", err.message);
    assert!(!err.message.contains("arm-token"));
}

#[tokio::test]
async fn statuses_are_classified_and_errors_never_hold_tokens() {
    for (status, reason) in [
        (401, GapReason::Unauthorized),
        (403, GapReason::Forbidden),
        (404, GapReason::NotFound),
        (500, GapReason::HttpError),
        (302, GapReason::HttpError),
    ] {
        let arm = MockServer::start().await;
        let graph = MockServer::start().await;
        let e = endpoints(&arm, &graph);
        let body = json!({"error": {"code": "AuthorizationFailed", "message": "no read"}});
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(body).insert_header("Location", graph.uri().as_str()),
            )
            .expect(1)
            .mount(&arm)
            .await;
        Mock::given(method("GET")).respond_with(ok_page()).expect(0).mount(&graph).await;
        let tokens = DefaultTokenSource::new(&e, &env, None);
        let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
        let err = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await.error.expect("error");
        assert_eq!((err.reason, err.status), (reason, Some(status)));
        assert!(!format!("{err:?}").contains("arm-token"));
        if status == 403 {
            assert!(err.message.contains("AuthorizationFailed"), "{}", err.message);
        }
    }
}

#[tokio::test]
async fn transport_failure_is_classified() {
    let graph = MockServer::start().await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = Endpoints::new(Cloud::Custom, Some(&format!("http://127.0.0.1:{port}")), Some(&graph.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let err = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await.error.expect("error");
    assert_eq!(err.reason, GapReason::Transport);
    assert!(!err.message.contains("arm-token"));
}

#[tokio::test]
async fn a_drip_fed_body_ends_at_the_request_deadline() {
    let graph = MockServer::start().await;
    let arm = common::drip_server().await;
    let e = Endpoints::new(Cloud::Custom, Some(&arm), Some(&graph.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client =
        ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry()).with_request_timeout(Duration::from_secs(1));
    let listing =
        tokio::time::timeout(Duration::from_secs(30), client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)))
            .await
            .expect("the request deadline ends the listing");
    let err = listing.error.expect("timed out");
    assert_eq!((err.reason, err.status), (GapReason::Timeout, None), "{}", err.message);
    assert!(err.message.contains(RA_PATH) && err.message.contains("1 s"), "{}", err.message);
}

/// A JWT that is not the request's token: any such string is redacted.
const PLANTED_JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ";

#[tokio::test]
async fn server_error_text_is_redacted_escaped_and_capped() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    let message = format!(
        "the token arm-token and {PLANTED_JWT} are not valid\n\u{1b}[2J[CRITICAL] fake line\u{7}{}",
        "x".repeat(5000)
    );
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "BadRequest", "message": message}})),
        )
        .expect(1)
        .mount(&arm)
        .await;
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let err = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await.error.expect("400");
    let m = &err.message;
    assert_eq!((err.reason, err.status), (GapReason::HttpError, Some(400)));
    assert!(m.contains("BadRequest") && m.contains("are not valid"), "{m}");
    for secret in
        ["arm-token", "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", "eyJzdWIiOiJwbGFudGVkIn0", "c2lnbmF0dXJlLXBsYW50ZWQ"]
    {
        assert!(!m.contains(secret), "{secret} in {m}");
    }
    assert!(!m.chars().any(char::is_control), "control characters reach the terminal: {m:?}");
    assert!(m.contains(r"\u{1b}[2J") && m.contains(r"\n"), "{m}");
    assert!(m.chars().count() < 600, "{} chars: {m}", m.chars().count());
    assert!(m.contains("characters in all"), "{m}");
}

#[tokio::test]
async fn a_parse_error_quoting_the_token_is_redacted() {
    let arm = MockServer::start().await;
    let graph = MockServer::start().await;
    let e = endpoints(&arm, &graph);
    // serde quotes the offending string value in its message.
    Mock::given(method("GET"))
        .and(path(RA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": "Bearer arm-token"})))
        .expect(1)
        .mount(&arm)
        .await;
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let client = ApiClient::new(build_client(None).unwrap(), &tokens, fast_retry());
    let err = client.list::<RoleAssignment>(&Service::arm(&e), ra_url(&e)).await.error.expect("malformed");
    assert_eq!(err.reason, GapReason::Malformed);
    assert!(err.message.contains("`value`"), "{}", err.message);
    assert!(!err.message.contains("arm-token"), "{}", err.message);
}
