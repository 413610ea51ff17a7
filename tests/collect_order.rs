//! When listings start: the directory listings do not wait for the management-group tree (which only the
//! ARM scope listings depend on). ARM and Graph are served by one wiremock server here, so that the order in
//! which it received their requests can be compared.

mod common;

use std::time::Duration;

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints};
use common::stubs::{env, page};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MG: &str = "/providers/Microsoft.Management/managementGroups";

/// Collects from one server answering a tenant with one management group, whose GET takes `tree_delay`.
async fn requests_in_order(tree_delay: Duration) -> Vec<String> {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path("/subscriptions")).respond_with(page(json!([]))).mount(&server).await;
    let mg = json!({"id": format!("{MG}/mg1"), "name": "mg1", "type": "Microsoft.Management/managementGroups"});
    Mock::given(method("GET")).and(path(MG)).respond_with(page(json!([mg.clone()]))).mount(&server).await;
    let slow = ResponseTemplate::new(200).set_body_json(mg).set_delay(tree_delay);
    Mock::given(method("GET")).and(path(format!("{MG}/mg1"))).respond_with(slow).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path("/v1.0/users")).respond_with(page(json!([]))).expect(1).mount(&server).await;
    let e = Endpoints::new(Cloud::Custom, Some(&server.uri()), Some(&server.uri()), None).unwrap();
    let snap = collect(&e, &DefaultTokenSource::new(&e, &env, None), &CollectOptions::default()).await.unwrap();
    server.verify().await;
    assert!(snap.azure.management_groups.iter().any(|m| m.name == "mg1"), "the tree is still read");
    server.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect()
}

#[tokio::test]
async fn the_directory_listings_start_while_the_management_group_tree_is_read() {
    let requests = requests_in_order(Duration::from_millis(1500)).await;
    let at = |p: &str| requests.iter().position(|r| r == p).unwrap_or_else(|| panic!("{p} not requested"));
    let scope_listing = format!("{MG}/mg1/providers/Microsoft.Authorization/roleAssignments");
    // The group's role assignments can only be listed once the tree is read; the users listing went first.
    assert!(at("/v1.0/users") < at(&scope_listing), "{requests:#?}");
    // Nothing of the tree is skipped for it: the subscriptions listing still comes first of all.
    assert_eq!(requests[0], "/subscriptions");
}

/// A subscriptions listing of two pages, the second answered after `second_page_delay`; each subscription's
/// listings start as its page arrives, not once the listing has ended. The paths the server received while the
/// second page was still on its way, then the snapshot.
async fn requests_while_the_second_page_waits() -> (Vec<String>, azpath_graph::snapshot::Snapshot) {
    use wiremock::matchers::{query_param, query_param_is_missing};
    let server = MockServer::start().await;
    let sub = |id: &str| json!({"id": format!("/subscriptions/{id}"), "subscriptionId": id, "tenantId": "t1"});
    let next = format!("{}/subscriptions?api-version=2022-12-01&$skiptoken=2", server.uri());
    let first = ResponseTemplate::new(200).set_body_json(json!({"value": [sub("s1")], "nextLink": next}));
    Mock::given(method("GET"))
        .and(path("/subscriptions"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(first)
        .expect(1)
        .mount(&server)
        .await;
    let second = page(json!([sub("s2")])).set_delay(Duration::from_secs(3));
    Mock::given(method("GET"))
        .and(path("/subscriptions"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(second)
        .expect(1)
        .mount(&server)
        .await;
    let e = Endpoints::new(Cloud::Custom, Some(&server.uri()), Some(&server.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let options = CollectOptions::default();
    let (snap, early) = tokio::join!(collect(&e, &tokens, &options), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect::<Vec<_>>()
    });
    server.verify().await;
    (early, snap.unwrap())
}

#[tokio::test]
async fn a_subscriptions_listings_start_as_its_page_of_the_subscriptions_listing_arrives() {
    let (early, snap) = requests_while_the_second_page_waits().await;
    let listed = |sub: &str| format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments");
    assert!(early.contains(&listed("s1")), "s1 waited for the second page: {early:#?}");
    assert!(!early.iter().any(|p| p.starts_with("/subscriptions/s2/")), "s2 before its page: {early:#?}");
    // Both are collected, each once.
    let ids: Vec<&str> = snap.azure.subscriptions.iter().map(|s| s.subscription_id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2"]);
    for sub in ["s1", "s2"] {
        let scope = format!("/subscriptions/{sub}");
        let listings = snap.coverage.iter().filter(|g| g.api == "arm.roleAssignments" && g.scope == scope);
        assert_eq!(listings.count(), 1, "{sub}: {:#?}", snap.coverage);
    }
}
