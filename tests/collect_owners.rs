//! Owners of groups, service principals and applications: asked for with `$expand=owners` on the listings,
//! completed by one `/owners` listing only for objects whose expanded list reached Graph's cut-off.

mod common;

use std::time::Duration;

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::{DirectoryObject, GapReason};
use common::stubs::env;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn owners(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n).map(|i| json!({"@odata.type": "#microsoft.graph.user", "id": format!("{prefix}-{i:02}")})).collect(),
    )
}

async fn list(server: &MockServer, p: &str, expand: Option<&str>, body: Value, times: u64) {
    let mut m = Mock::given(method("GET")).and(path(p));
    if let Some(e) = expand {
        m = m.and(query_param("$expand", e));
    }
    m.respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": body })))
        .expect(times)
        .mount(server)
        .await;
}

/// A tenant with no subscriptions and a directory whose objects have 1, 20 (cut-off) and 0 owners.
async fn stubs(arm: &MockServer, graph: &MockServer, full_owner_list: ResponseTemplate) {
    list(arm, "/subscriptions", None, json!([]), 1).await;
    Mock::given(method("GET"))
        .and(path("/providers/Microsoft.Management/managementGroups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(arm)
        .await;
    let expand = Some("owners($select=id)");
    list(graph, "/v1.0/users", None, json!([{"id": "u1"}]), 1).await;
    list(
        graph,
        "/v1.0/groups",
        expand,
        json!([{"id": "g-small", "owners": owners("go", 1)}, {"id": "g-big", "owners": owners("gb", 20)}]),
        1,
    )
    .await;
    list(graph, "/v1.0/servicePrincipals", expand, json!([{"id": "sp1", "appId": "a1", "owners": owners("so", 1)}]), 1)
        .await;
    list(graph, "/v1.0/applications", expand, json!([{"id": "app1", "appId": "a1"}]), 1).await;
    list(graph, "/v1.0/directory/administrativeUnits", None, json!([]), 1).await;
    // The credentials listing leaves the expansion out: app1's are listed on their own (below).
    let credentials = Some("federatedIdentityCredentials($select=id,name,issuer,subject,audiences)");
    list(graph, "/v1.0/applications", credentials, json!([{"id": "app1"}]), 1).await;
    // The Entra control-plane listings (tests/collect_entra_roles.rs) are empty here.
    for p in ["roleDefinitions", "roleAssignments", "roleEligibilityScheduleInstances"] {
        list(graph, &format!("/v1.0/roleManagement/directory/{p}"), None, json!([]), 1).await;
    }
    let grants =
        Some("appRoleAssignments($select=id,appRoleId,principalId,principalType,resourceId,resourceDisplayName)");
    list(graph, "/v1.0/servicePrincipals", grants, json!([]), 1).await;
    list(graph, "/v1.0/groups/g-small/members", None, json!([]), 1).await;
    list(graph, "/v1.0/groups/g-big/members", None, json!([]), 1).await;
    list(graph, "/v1.0/applications/app1/federatedIdentityCredentials", None, json!([]), 1).await;
    // Only the group whose expansion reached 20 owners is listed on its own.
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g-big/owners"))
        .and(query_param("$select", "id"))
        .respond_with(full_owner_list)
        .expect(1..=2)
        .mount(graph)
        .await;
}

async fn run(full_owner_list: ResponseTemplate) -> azpath_graph::snapshot::Snapshot {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    stubs(&arm, &graph, full_owner_list).await;
    let e = Endpoints::new(Cloud::Custom, Some(&arm.uri()), Some(&graph.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let options = CollectOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            max_total_wait: Duration::from_secs(2),
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

fn ids(o: &[DirectoryObject]) -> Vec<&str> {
    o.iter().map(|x| x.id.as_str()).collect()
}

#[tokio::test]
async fn expanded_owners_are_kept_and_a_cut_list_is_completed() {
    let snap = run(ResponseTemplate::new(200).set_body_json(json!({"value": owners("gb", 25)}))).await;
    let e = &snap.entra;
    let group = |id: &str| e.groups.iter().find(|g| g.id == id).unwrap();
    assert_eq!(ids(&group("g-small").owners), ["go-00"]);
    assert_eq!(group("g-big").owners.len(), 25, "the 5 owners past Graph's cut-off are read");
    assert_eq!(ids(&e.service_principals[0].owners), ["so-00"]);
    assert!(e.applications[0].owners.is_empty());
    assert!(snap.sources.iter().any(|s| s.api == "graph.owners" && s.scope == "/groups/g-big" && s.count == 25));
    assert!(snap.coverage.is_empty(), "{:#?}", snap.coverage);
}

#[tokio::test]
async fn a_failed_owner_listing_keeps_the_expanded_owners_and_is_a_gap() {
    let body = json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}});
    let snap = run(ResponseTemplate::new(403).set_body_json(body)).await;
    let big = snap.entra.groups.iter().find(|g| g.id == "g-big").unwrap();
    assert_eq!(big.owners.len(), 20, "what the expansion gave is true, only maybe incomplete");
    let gap = snap.coverage.iter().find(|g| g.api == "graph.owners").expect("gap");
    assert_eq!((gap.scope.as_str(), gap.reason), ("/groups/g-big", GapReason::Forbidden));
}
