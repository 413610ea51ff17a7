//! Resources that carry managed identities: `GET /subscriptions/{id}/resources` per subscription, paged by
//! `nextLink`, only records with an identity kept, a 403 on one subscription a coverage gap for it alone.

use std::time::Duration;

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::compute::{API, RESOURCES_API_VERSION};
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::{GapReason, Snapshot};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OK: &str = "5a0b9d1e-0000-4000-8000-000000000001";
const DENIED: &str = "5a0b9d1e-0000-4000-8000-000000000002";

fn env(name: &str) -> Option<String> {
    (name == "AZPATH_ARM_TOKEN").then(|| "arm-token".to_string())
}

fn resource(sub: &str, provider: &str, name: &str, identity: Option<Value>) -> Value {
    let mut r = json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/{provider}/{name}"),
        "name": name, "type": provider, "location": "westeurope"
    });
    if let Some(i) = identity {
        r["identity"] = i;
    }
    r
}

async fn stubs(arm: &MockServer) {
    let subs = json!({"value": [
        {"id": format!("/subscriptions/{OK}"), "subscriptionId": OK, "displayName": "ok"},
        {"id": format!("/subscriptions/{DENIED}"), "subscriptionId": DENIED, "displayName": "denied"}
    ]});
    Mock::given(method("GET"))
        .and(path("/subscriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subs))
        .mount(arm)
        .await;
    let uami =
        format!("/subscriptions/{OK}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1");
    let page1 = json!({
        "value": [
            resource(OK, "Microsoft.Compute/virtualMachines", "vm1",
                Some(json!({"type": "SystemAssigned", "principalId": "p-vm1", "tenantId": "t"}))),
            resource(OK, "Microsoft.Storage/storageAccounts", "st1", None)
        ],
        "nextLink": format!("{}/subscriptions/{OK}/resources?api-version={RESOURCES_API_VERSION}&$skiptoken=2", arm.uri())
    });
    let page2 = json!({"value": [
        resource(OK, "Microsoft.Web/sites", "site1",
            Some(json!({"type": "UserAssigned", "userAssignedIdentities": {uami: {"principalId": "p-u1", "clientId": "c-u1"}}}))),
        resource(OK, "Microsoft.Network/virtualNetworks", "vnet", Some(json!({"type": "None"})))
    ]});
    Mock::given(method("GET"))
        .and(path(format!("/subscriptions/{OK}/resources")))
        .and(query_param("api-version", RESOURCES_API_VERSION))
        .and(query_param("$skiptoken", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .expect(1)
        .mount(arm)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/subscriptions/{OK}/resources")))
        .and(query_param("api-version", RESOURCES_API_VERSION))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .expect(1)
        .mount(arm)
        .await;
    let refused = json!({"error": {"code": "AuthorizationFailed", "message": "does not have authorization to perform action 'Microsoft.Resources/subscriptions/resources/read'"}});
    Mock::given(method("GET"))
        .and(path(format!("/subscriptions/{DENIED}/resources")))
        .respond_with(ResponseTemplate::new(403).set_body_json(refused))
        .expect(1)
        .mount(arm)
        .await;
}

async fn run() -> Snapshot {
    let arm = MockServer::start().await;
    stubs(&arm).await;
    let e = Endpoints::new(Cloud::Custom, Some(&arm.uri()), Some(&arm.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let options = CollectOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            max_total_wait: Duration::from_millis(50),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
        },
        ..Default::default()
    };
    let snap = collect(&e, &tokens, &options).await.expect("collect");
    arm.verify().await;
    snap
}

#[tokio::test]
async fn every_page_is_read_and_only_resources_with_an_identity_are_kept() {
    let snap = run().await;
    let kept: Vec<&str> = snap.azure.identity_resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(kept, ["vm1", "site1"], "no identity and `type: None` are dropped");
    let vm = &snap.azure.identity_resources[0];
    assert_eq!(
        (vm.kind.as_str(), vm.identity.principal_id.as_deref()),
        ("Microsoft.Compute/virtualMachines", Some("p-vm1"))
    );
    let site = &snap.azure.identity_resources[1];
    let users = site.identity.user_assigned_identities.as_ref().expect("user-assigned");
    let (id, props) = users.iter().next().unwrap();
    assert!(id.ends_with("/userAssignedIdentities/u1"));
    assert_eq!((props.principal_id.as_deref(), props.client_id.as_deref()), (Some("p-u1"), Some("c-u1")));
    let source =
        snap.sources.iter().find(|s| s.api == API && s.scope == format!("/subscriptions/{OK}")).expect("source");
    assert_eq!(source.count, 2);
}

#[tokio::test]
async fn a_refused_subscription_is_a_gap_for_it_alone() {
    let snap = run().await;
    let gaps: Vec<_> = snap.coverage.iter().filter(|g| g.api == API).collect();
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(
        (gaps[0].scope.as_str(), gaps[0].reason),
        (format!("/subscriptions/{DENIED}").as_str(), GapReason::Forbidden)
    );
    assert!(!snap.azure.identity_resources.is_empty(), "the other subscription is still read");
}

#[test]
fn the_listing_is_documented_in_collection_md() {
    let doc = include_str!("../docs/collection.md");
    let row = doc.lines().find(|l| l.starts_with(&format!("| `{API}` |"))).expect("a row for the listing");
    assert!(row.contains("GET {arm}/subscriptions/{sub}/resources"), "{row}");
    assert!(row.contains(RESOURCES_API_VERSION), "{row}");
}
