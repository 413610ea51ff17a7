//! Fewer Graph requests: application federated credentials through one expanded listing (with the
//! per-application listings as the fallback), and the per-object listings' first pages in JSON batches.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::{GapReason, Snapshot};
use common::stubs::env;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn page(value: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "value": value }))
}

async fn get(server: &MockServer, p: &str, response: ResponseTemplate, times: u64) {
    Mock::given(method("GET")).and(path(p)).respond_with(response).expect(times).mount(server).await;
}

const CREDENTIALS_EXPAND: &str = "federatedIdentityCredentials($select=id,name,issuer,subject,audiences)";

fn credential(id: &str) -> Value {
    json!({"id": id, "name": id, "issuer": "https://token.actions.githubusercontent.com",
           "subject": format!("repo:org/{id}:ref:refs/heads/main"), "audiences": ["api://AzureADTokenExchange"]})
}

/// A tenant with no subscriptions and the directory listings every collection makes; `groups` and
/// `applications` are what their listings return.
async fn directory(arm: &MockServer, graph: &MockServer, groups: Value, applications: Value) {
    get(arm, "/subscriptions", page(json!([])), 1).await;
    get(arm, "/providers/Microsoft.Management/managementGroups", page(json!([])), 1).await;
    get(graph, "/v1.0/users", page(json!([{"id": "u1"}])), 1).await;
    get(graph, "/v1.0/groups", page(groups), 1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", "owners($select=id)"))
        .respond_with(page(applications))
        .expect(1)
        .mount(graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/servicePrincipals"))
        .respond_with(page(json!([])))
        .expect(2)
        .mount(graph)
        .await;
    for p in ["roleDefinitions", "roleAssignments", "roleEligibilityScheduleInstances"] {
        get(graph, &format!("/v1.0/roleManagement/directory/{p}"), page(json!([])), 1).await;
    }
    get(graph, "/v1.0/directory/administrativeUnits", page(json!([])), 1).await;
}

async fn run(arm: &MockServer, graph: &MockServer, graph_batch: bool) -> Snapshot {
    let e = Endpoints::new(Cloud::Custom, Some(&arm.uri()), Some(&graph.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let options = CollectOptions {
        graph_batch,
        retry: RetryPolicy {
            max_attempts: 3,
            max_total_wait: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
        },
        ..Default::default()
    };
    let snap = collect(&e, &tokens, &options).await.expect("collect");
    arm.verify().await;
    graph.verify().await;
    snap
}

fn credential_ids(snap: &Snapshot, app: &str) -> Option<Vec<String>> {
    let found = snap.entra.application_federated_credentials.iter().find(|c| c.application_id == app)?;
    Some(found.credentials.iter().map(|c| c.id.clone()).collect())
}

#[tokio::test]
async fn application_credentials_come_from_one_expanded_listing() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    directory(&arm, &graph, json!([]), json!([{"id": "app1"}, {"id": "app2"}])).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .and(query_param("$select", "id"))
        .respond_with(page(json!([
            {"id": "app1", "federatedIdentityCredentials": [credential("c1")]},
            {"id": "app2", "federatedIdentityCredentials": []},
        ])))
        .expect(1)
        .mount(&graph)
        .await;
    // No application is listed on its own.
    for app in ["app1", "app2"] {
        get(&graph, &format!("/v1.0/applications/{app}/federatedIdentityCredentials"), page(json!([])), 0).await;
    }
    let snap = run(&arm, &graph, true).await;
    assert_eq!(credential_ids(&snap, "app1").unwrap(), ["c1"]);
    assert_eq!(credential_ids(&snap, "app2").unwrap(), Vec::<String>::new());
    // Each application's credentials are accounted for as its own listing would have been.
    let source = |scope: &str| {
        snap.sources
            .iter()
            .find(|s| s.api == "graph.applicationFederatedCredentials" && s.scope == scope)
            .map(|s| s.count)
    };
    assert_eq!((source("/applications/app1"), source("/applications/app2")), (Some(1), Some(0)));
    assert!(snap.coverage.is_empty(), "{:#?}", snap.coverage);
}

#[tokio::test]
async fn a_refused_expansion_is_a_note_and_each_application_is_listed_on_its_own() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    directory(&arm, &graph, json!([]), json!([{"id": "app1"}, {"id": "app2"}])).await;
    let refused = json!({"error": {"code": "Request_UnsupportedQuery", "message": "Unsupported query."}});
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .respond_with(ResponseTemplate::new(400).set_body_json(refused))
        .expect(1)
        .mount(&graph)
        .await;
    get(&graph, "/v1.0/applications/app1/federatedIdentityCredentials", page(json!([credential("c1")])), 1).await;
    get(&graph, "/v1.0/applications/app2/federatedIdentityCredentials", page(json!([])), 1).await;
    // (Their batch is not answered here, a 404: each is then sent on its own.)
    let snap = run(&arm, &graph, true).await;
    assert_eq!(credential_ids(&snap, "app1").unwrap(), ["c1"], "nothing lost");
    assert_eq!(credential_ids(&snap, "app2").unwrap(), Vec::<String>::new());
    assert_eq!(snap.coverage.len(), 1, "{:#?}", snap.coverage);
    let note = &snap.coverage[0];
    assert_eq!(
        (note.api.as_str(), note.scope.as_str(), note.status),
        ("graph.applicationFederatedCredentials", "tenant", Some(400))
    );
    assert!(note.message.contains("listed one by one instead"), "{}", note.message);
}

#[tokio::test]
async fn an_application_cut_at_the_expansion_limit_is_listed_on_its_own() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    directory(&arm, &graph, json!([]), json!([{"id": "app1"}])).await;
    let twenty: Vec<Value> = (0..20).map(|i| credential(&format!("c{i:02}"))).collect();
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .respond_with(page(json!([{"id": "app1", "federatedIdentityCredentials": twenty}])))
        .expect(1)
        .mount(&graph)
        .await;
    let all: Vec<Value> = (0..21).map(|i| credential(&format!("c{i:02}"))).collect();
    get(&graph, "/v1.0/applications/app1/federatedIdentityCredentials", page(Value::Array(all)), 1).await;
    let snap = run(&arm, &graph, true).await;
    assert_eq!(credential_ids(&snap, "app1").unwrap().len(), 21);
    assert!(snap.coverage.is_empty(), "{:#?}", snap.coverage);
}

/// Answers `POST /v1.0/$batch` item by item: group `g1` 200 with a next page, `g2` 429 with `Retry-After: 1`,
/// `g3` 404; remembers when it answered.
struct Batch {
    answered: Arc<Mutex<Option<Instant>>>,
    base: String,
    retry_after: &'static str,
}

impl Respond for Batch {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let responses: Vec<Value> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let (id, url) = (r["id"].clone(), r["url"].as_str().unwrap());
                assert_eq!(r["method"], "GET");
                if url.starts_with("/groups/g1/members") {
                    let next = format!("{}/v1.0/groups/g1/members?$skiptoken=2", self.base);
                    json!({"id": id, "status": 200, "headers": {"Content-Type": "application/json"},
                           "body": {"value": [{"id": "u1"}], "@odata.nextLink": next}})
                } else if url.starts_with("/groups/g2/members") {
                    json!({"id": id, "status": 429, "headers": {"Retry-After": self.retry_after},
                           "body": {"error": {"code": "TooManyRequests", "message": "Retry later."}}})
                } else {
                    json!({"id": id, "status": 404,
                           "body": {"error": {"code": "Request_ResourceNotFound", "message": "No such group."}}})
                }
            })
            .collect();
        *self.answered.lock().unwrap() = Some(Instant::now());
        // In reverse: Graph may answer in any order.
        ResponseTemplate::new(200).set_body_json(json!({"responses": responses.into_iter().rev().collect::<Vec<_>>()}))
    }
}

/// Remembers when it was asked, and answers with `value`.
struct Stamp(Arc<Mutex<Option<Instant>>>, Value);

impl Respond for Stamp {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        *self.0.lock().unwrap() = Some(Instant::now());
        page(self.1.clone())
    }
}

#[tokio::test]
async fn a_batch_with_mixed_items_loses_nothing_and_retries_the_throttled_item_after_its_retry_after() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    let groups = json!([{"id": "g1"}, {"id": "g2"}, {"id": "g3"}]);
    directory(&arm, &graph, groups, json!([])).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .respond_with(page(json!([])))
        .mount(&graph)
        .await;
    let answered = Arc::new(Mutex::new(None));
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .respond_with(Batch { answered: answered.clone(), base: graph.uri(), retry_after: "1" })
        .expect(1)
        .mount(&graph)
        .await;
    // g1's next page, as an ordinary paged request.
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g1/members"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(page(json!([{"id": "u2"}])))
        .expect(1)
        .mount(&graph)
        .await;
    // g2 on its own, once its Retry-After has passed.
    let retried = Arc::new(Mutex::new(None));
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g2/members"))
        .and(query_param("$select", "id,displayName"))
        .respond_with(Stamp(retried.clone(), json!([{"id": "u3"}])))
        .expect(1)
        .mount(&graph)
        .await;
    // g1 and g3 are never asked on their own.
    for g in ["g1", "g3"] {
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/groups/{g}/members")))
            .and(query_param("$select", "id,displayName"))
            .respond_with(page(json!([])))
            .expect(0)
            .mount(&graph)
            .await;
    }
    let snap = run(&arm, &graph, true).await;

    let members = |g: &str| {
        let m = snap.entra.group_members.iter().find(|m| m.group_id == g)?;
        Some(m.members.iter().map(|x| x.id.clone()).collect::<Vec<_>>())
    };
    assert_eq!(members("g1").unwrap(), ["u1", "u2"], "the item's nextLink is followed");
    assert_eq!(members("g2").unwrap(), ["u3"], "the throttled item is retried, not lost");
    let waited = retried.lock().unwrap().unwrap() - answered.lock().unwrap().unwrap();
    assert!(waited >= Duration::from_secs(1), "retried {waited:?} after the batch, before its Retry-After");
    // The 404 item is a gap for that group exactly as a single request's would be.
    let gap = snap.coverage.iter().find(|g| g.scope == "/groups/g3").expect("a gap for g3");
    assert_eq!((gap.api.as_str(), gap.reason, gap.status), ("graph.groupMembers", GapReason::NotFound, Some(404)));
    assert!(
        gap.message.contains("/v1.0/groups/g3/members") && gap.message.contains("No such group"),
        "{}",
        gap.message
    );
    assert_eq!(snap.coverage.len(), 1, "{:#?}", snap.coverage);
}

#[tokio::test]
async fn without_batching_each_group_is_listed_on_its_own() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    directory(&arm, &graph, json!([{"id": "g1"}, {"id": "g2"}]), json!([])).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .respond_with(page(json!([])))
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&graph)
        .await;
    for g in ["g1", "g2"] {
        get(&graph, &format!("/v1.0/groups/{g}/members"), page(json!([{"id": "u1"}])), 1).await;
    }
    let snap = run(&arm, &graph, false).await;
    assert_eq!(snap.entra.group_members.len(), 2);
    assert!(snap.coverage.is_empty(), "{:#?}", snap.coverage);
}

#[tokio::test]
async fn a_refused_batch_sends_each_item_on_its_own() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    directory(&arm, &graph, json!([{"id": "g1"}, {"id": "g2"}]), json!([])).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .respond_with(page(json!([])))
        .mount(&graph)
        .await;
    let refused = json!({"error": {"code": "BadRequest", "message": "Batching is not supported here."}});
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .respond_with(ResponseTemplate::new(400).set_body_json(refused))
        .expect(1)
        .mount(&graph)
        .await;
    for g in ["g1", "g2"] {
        get(&graph, &format!("/v1.0/groups/{g}/members"), page(json!([{"id": "u1"}])), 1).await;
    }
    let snap = run(&arm, &graph, true).await;
    assert_eq!(snap.entra.group_members.len(), 2, "nothing lost");
    assert!(snap.coverage.is_empty(), "{:#?}", snap.coverage);
}

#[tokio::test]
async fn a_throttled_item_asking_to_wait_past_the_budget_is_a_gap_not_a_wait() {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    directory(&arm, &graph, json!([{"id": "g1"}, {"id": "g2"}, {"id": "g3"}]), json!([])).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$expand", CREDENTIALS_EXPAND))
        .respond_with(page(json!([])))
        .mount(&graph)
        .await;
    let answered = Arc::new(Mutex::new(None));
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .respond_with(Batch { answered, base: graph.uri(), retry_after: "3600" })
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g1/members"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(page(json!([])))
        .mount(&graph)
        .await;
    get(&graph, "/v1.0/groups/g2/members", page(json!([])), 0).await;
    let started = Instant::now();
    let snap = run(&arm, &graph, true).await;
    assert!(started.elapsed() < Duration::from_secs(30), "waited for a Retry-After past the budget");
    let gap = snap.coverage.iter().find(|g| g.scope == "/groups/g2").expect("a gap for g2");
    assert_eq!((gap.reason, gap.status), (GapReason::Throttled, Some(429)));
    assert!(gap.message.contains("budget"), "{}", gap.message);
}
