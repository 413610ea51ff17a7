//! How `collect()` schedules its requests, over stub ARM and Graph servers that record when each request
//! arrived: ARM and Graph in separate pools, throttling handled for the whole service, dependent listings
//! started as soon as what they depend on has arrived. Requests nobody stubbed answer 404 (coverage gaps).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::Snapshot;
use common::stubs::env;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TENANT: &str = "tttttttt-0000-0000-0000-000000000000";
const MI: &str = "providers/Microsoft.ManagedIdentity/userAssignedIdentities";

fn options(concurrency: usize) -> CollectOptions {
    CollectOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            max_total_wait: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        },
        concurrency,
        ..Default::default()
    }
}

/// When each request arrived, and when its response was sent (arrival + the stub's delay).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Arrival>>>);

#[derive(Clone, Debug)]
struct Arrival {
    path: String,
    at: Instant,
    answered: Instant,
    status: u16,
}

impl Log {
    fn all(&self) -> Vec<Arrival> {
        self.0.lock().unwrap().clone()
    }

    fn matching(&self, part: &str) -> Vec<Arrival> {
        self.all().into_iter().filter(|a| a.path.contains(part)).collect()
    }
}

/// A stub answering `body` after `delay`, logging each request.
struct Logged {
    log: Log,
    status: u16,
    body: Value,
    delay: Duration,
    retry_after: Option<&'static str>,
}

impl Respond for Logged {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let at = Instant::now();
        self.log.0.lock().unwrap().push(Arrival {
            path: request.url.path().to_string(),
            at,
            answered: at + self.delay,
            status: self.status,
        });
        let mut t = ResponseTemplate::new(self.status).set_body_json(self.body.clone()).set_delay(self.delay);
        if let Some(after) = self.retry_after {
            t = t.insert_header("Retry-After", after);
        }
        t
    }
}

fn ok(log: &Log, body: Value, delay: Duration) -> Logged {
    Logged { log: log.clone(), status: 200, body, delay, retry_after: None }
}

struct Stubs {
    arm: MockServer,
    graph: MockServer,
    log: Log,
}

impl Stubs {
    async fn start() -> Self {
        Stubs { arm: MockServer::start().await, graph: MockServer::start().await, log: Log::default() }
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints::new(Cloud::Custom, Some(&self.arm.uri()), Some(&self.graph.uri()), None).unwrap()
    }

    async fn arm(&self, p: &str, body: Value, delay: Duration) {
        Mock::given(method("GET")).and(path(p)).respond_with(ok(&self.log, body, delay)).mount(&self.arm).await;
    }

    async fn graph(&self, p: &str, body: Value, delay: Duration) {
        Mock::given(method("GET")).and(path(p)).respond_with(ok(&self.log, body, delay)).mount(&self.graph).await;
    }

    /// One subscription `s1` with `identities` user-assigned identities.
    async fn subscription_with_identities(&self, identities: usize) {
        let sub = json!([{"id": "/subscriptions/s1", "subscriptionId": "s1", "displayName": "s1", "state": "Enabled", "tenantId": TENANT}]);
        self.arm("/subscriptions", json!({ "value": sub }), Duration::ZERO).await;
        let mis: Vec<Value> = (0..identities)
            .map(|i| {
                json!({"id": format!("/subscriptions/s1/resourceGroups/rg/{MI}/mi-{i}"), "name": format!("mi-{i}"),
                    "properties": {"principalId": format!("p-{i}"), "clientId": format!("c-{i}"), "tenantId": TENANT}})
            })
            .collect();
        self.arm(&format!("/subscriptions/s1/{MI}"), json!({ "value": mis }), Duration::ZERO).await;
    }

    async fn run(&self, options: &CollectOptions) -> Snapshot {
        let tokens = DefaultTokenSource::new(&self.endpoints(), &env, None);
        collect(&self.endpoints(), &tokens, options).await.expect("collect")
    }
}

fn groups(ids: std::ops::Range<usize>) -> Vec<Value> {
    ids.map(|i| json!({"id": format!("g{i}"), "displayName": format!("g{i}"), "securityEnabled": true})).collect()
}

/// True when some request of `b` arrived while a request of `a` was waiting for its response.
fn overlapped(a: &[Arrival], b: &[Arrival]) -> bool {
    a.iter().any(|x| b.iter().any(|y| y.at > x.at && y.at < x.answered))
}

#[tokio::test]
async fn arm_and_graph_requests_are_in_flight_at_the_same_time() {
    let s = Stubs::start().await;
    s.subscription_with_identities(3).await;
    let slow = Duration::from_millis(300);
    let fic = json!({"value": [{"id": "x/fic", "name": "fic", "properties": {"issuer": "https://i", "subject": "s", "audiences": ["a"]}}]});
    Mock::given(method("GET"))
        .and(path_regex(r"/mi-\d+/federatedIdentityCredentials$"))
        .respond_with(ok(&s.log, fic, slow))
        .mount(&s.arm)
        .await;
    s.graph("/v1.0/groups", json!({ "value": groups(0..3) }), Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1.0/groups/g\d+/members$"))
        .respond_with(ok(&s.log, json!({"value": [{"id": "u1"}]}), slow))
        .mount(&s.graph)
        .await;

    // One request in flight per service: any overlap comes from the two pools, not from a wider window.
    let snap = s.run(&options(1)).await;
    assert_eq!(snap.entra.group_members.len(), 3);
    let (fics, members) = (s.log.matching("federatedIdentityCredentials"), s.log.matching("/members"));
    assert_eq!((fics.len(), members.len()), (3, 3));
    assert_eq!(snap.sources.iter().filter(|r| r.api == "arm.federatedIdentityCredentials").count(), 3);
    assert!(
        overlapped(&fics, &members) || overlapped(&members, &fics),
        "ARM and Graph never overlapped: {fics:?} {members:?}"
    );
    // And within one service the pool is respected: no two ARM credential listings overlap.
    assert!(!overlapped(&fics, &fics), "two ARM requests in flight with --concurrency 1");
}

#[tokio::test]
async fn a_lone_throttled_response_waits_out_its_retry_after_while_the_others_go_on() {
    let s = Stubs::start().await;
    s.subscription_with_identities(0).await;
    s.graph("/v1.0/groups", json!({ "value": groups(0..16) }), Duration::ZERO).await;
    let throttled = Logged {
        log: s.log.clone(),
        status: 429,
        body: json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
        delay: Duration::from_millis(20),
        retry_after: Some("1"),
    };
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g0/members"))
        .respond_with(throttled)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.graph)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1.0/groups/g\d+/members$"))
        .respond_with(ok(&s.log, json!({"value": [{"id": "u1"}]}), Duration::from_millis(150)))
        .mount(&s.graph)
        .await;

    let snap = s.run(&options(4)).await;
    assert_eq!(snap.entra.group_members.len(), 16, "nothing lost: {:?}", snap.coverage);
    let members = s.log.matching("/members");
    assert_eq!(members.len(), 17, "16 listings and one retry");
    let t429 = members.iter().find(|a| a.status == 429).expect("the 429").answered;
    let retried = members.iter().filter(|a| a.path.ends_with("/g0/members")).nth(1).expect("the retry").at;
    assert!(retried >= t429 + Duration::from_secs(1), "retried {:?} after the 429", retried - t429);
    // One 429 while the budget estimate has room is a transient fault: the other listings go on meanwhile.
    let meanwhile = members.iter().filter(|a| a.at > t429 && a.at < t429 + Duration::from_secs(1)).count();
    assert!(meanwhile > 0, "the whole service waited for one transient 429: {members:?}");
}

#[tokio::test]
async fn group_members_are_requested_before_the_last_group_page_arrives() {
    let s = Stubs::start().await;
    s.subscription_with_identities(0).await;
    let next = format!("{}/v1.0/groups?$skiptoken=p2", s.graph.uri());
    let last = ok(&s.log, json!({ "value": groups(3..6) }), Duration::from_millis(400));
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(wiremock::matchers::query_param("$skiptoken", "p2"))
        .respond_with(last)
        .with_priority(1)
        .mount(&s.graph)
        .await;
    let first = json!({ "value": groups(0..3), "@odata.nextLink": next });
    s.graph("/v1.0/groups", first, Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1.0/groups/g\d+/members$"))
        .respond_with(ok(&s.log, json!({"value": [{"id": "u1"}]}), Duration::ZERO))
        .mount(&s.graph)
        .await;

    let snap = s.run(&options(8)).await;
    assert_eq!(snap.entra.groups.len(), 6);
    assert_eq!(snap.entra.group_members.len(), 6, "members of both pages' groups");
    let last_page = s.log.all().into_iter().filter(|a| a.path == "/v1.0/groups").map(|a| a.answered).max().unwrap();
    let early: Vec<Arrival> = s.log.matching("/members").into_iter().filter(|a| a.at < last_page).collect();
    let names: Vec<&str> = early.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(early.len(), 3, "the first page's groups' members before the last page: {names:?}");
}

#[tokio::test]
async fn paced_at_the_budget_a_lone_throttled_response_does_not_stop_the_others() {
    // 300 identities in one subscription: past the first 250 reads of its ARM bucket the pacer admits at the
    // refill rate (25 per second), its estimate always nearly empty. A lone 429 then is still a transient
    // fault: the paced requests go on during its Retry-After.
    let s = Stubs::start().await;
    s.subscription_with_identities(300).await;
    let throttled = Logged {
        log: s.log.clone(),
        status: 429,
        body: json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
        // Answered once the burst of the bucket is spent and the pacer paces.
        delay: Duration::from_millis(600),
        retry_after: Some("2"),
    };
    Mock::given(method("GET"))
        .and(path_regex(r"/mi-0/federatedIdentityCredentials$"))
        .respond_with(throttled)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.arm)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/mi-\d+/federatedIdentityCredentials$"))
        .respond_with(ok(&s.log, json!({"value": []}), Duration::from_millis(20)))
        .mount(&s.arm)
        .await;

    let snap = s.run(&options(64)).await;
    let fics = s.log.matching("federatedIdentityCredentials");
    assert_eq!(fics.len(), 301, "300 listings and one retry");
    assert_eq!(snap.sources.iter().filter(|r| r.api == "arm.federatedIdentityCredentials").count(), 300);
    let t429 = fics.iter().find(|a| a.status == 429).expect("the 429").answered;
    let retried = fics.iter().filter(|a| a.path.ends_with("/mi-0/federatedIdentityCredentials")).nth(1).unwrap().at;
    assert!(retried >= t429 + Duration::from_secs(2), "retried {:?} after the 429", retried - t429);
    let meanwhile = fics.iter().filter(|a| a.at > t429 && a.at < t429 + Duration::from_secs(2)).count();
    assert!(meanwhile >= 10, "{meanwhile} requests during the lone 429's Retry-After (paced at 25 per second)");
}

#[tokio::test]
async fn requests_waiting_out_a_retry_after_do_not_fill_the_pool() {
    // Four of sixteen groups' member listings are throttled first, as many as requests may be in flight: while
    // they wait out their Retry-After, the other listings are still sent (a waiting request is not in flight).
    let s = Stubs::start().await;
    s.subscription_with_identities(0).await;
    s.graph("/v1.0/groups", json!({ "value": groups(0..16) }), Duration::ZERO).await;
    for g in 0..4 {
        let throttled = Logged {
            log: s.log.clone(),
            status: 429,
            body: json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
            delay: Duration::ZERO,
            retry_after: Some("1"),
        };
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/groups/g{g}/members")))
            .respond_with(throttled)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&s.graph)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1.0/groups/g\d+/members$"))
        .respond_with(ok(&s.log, json!({"value": [{"id": "u1"}]}), Duration::from_millis(50)))
        .mount(&s.graph)
        .await;

    let snap = s.run(&options(4)).await;
    assert_eq!(snap.entra.group_members.len(), 16, "nothing lost: {:?}", snap.coverage);
    let members = s.log.matching("/members");
    assert_eq!(members.len(), 20, "16 listings and 4 retries");
    let first429 = members.iter().filter(|a| a.status == 429).map(|a| a.answered).min().unwrap();
    let meanwhile =
        members.iter().filter(|a| a.status == 200 && a.at > first429 && a.at < first429 + Duration::from_millis(900));
    assert!(meanwhile.count() >= 8, "the others waited for the throttled ones: {members:?}");
}
