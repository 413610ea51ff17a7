//! Administrative units over Graph v1.0: the units (with `isMemberManagementRestricted`) and each unit's members,
//! paged; a refused members listing is asked once and is one gap for the rest.

mod common;

use std::time::Duration;

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::entra_units::{MEMBERS_API, UNITS_API};
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::{GapReason, Snapshot};
use common::stubs::{env, page};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UNITS: &str = "/v1.0/directory/administrativeUnits";

fn forbidden() -> ResponseTemplate {
    ResponseTemplate::new(403)
        .set_body_json(json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}))
}

/// Three units as Graph sends them: `au-exec` restricted, `au-sales` with members on two pages, `au-empty`.
async fn units(graph: &MockServer) {
    let listed = json!([
        {"id": "au-exec", "displayName": "Executives", "description": null, "isMemberManagementRestricted": true,
         "membershipType": null, "visibility": "HiddenMembership"},
        {"id": "au-sales", "displayName": "Sales", "isMemberManagementRestricted": false, "membershipType": "Assigned"},
        {"id": "au-empty", "displayName": "Empty", "isMemberManagementRestricted": null}
    ]);
    Mock::given(method("GET"))
        .and(path(UNITS))
        .and(query_param("$select", "id,displayName,isMemberManagementRestricted,membershipType"))
        .respond_with(page(listed))
        .expect(1)
        .mount(graph)
        .await;
}

async fn run(graph_setup: impl AsyncFnOnce(&MockServer)) -> Snapshot {
    let (arm, graph) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("GET")).and(path("/subscriptions")).respond_with(page(json!([]))).mount(&arm).await;
    let mgs = "/providers/Microsoft.Management/managementGroups";
    Mock::given(method("GET")).and(path(mgs)).respond_with(page(json!([]))).mount(&arm).await;
    units(&graph).await;
    graph_setup(&graph).await;
    let e = Endpoints::new(Cloud::Custom, Some(&arm.uri()), Some(&graph.uri()), None).unwrap();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let options = CollectOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            max_total_wait: Duration::from_secs(1),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
        },
        concurrency: 1,
        ..Default::default()
    };
    let snap = collect(&e, &tokens, &options).await.expect("collect");
    graph.verify().await;
    snap
}

fn member(kind: &str, id: &str) -> Value {
    json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": id, "displayName": id})
}

#[tokio::test]
async fn units_and_their_members_are_collected_across_pages() {
    let snap = run(async |graph: &MockServer| {
        let members = |id: &str| format!("{UNITS}/{id}/members");
        let next = format!("{}{}?$skiptoken=p2", graph.uri(), members("au-sales"));
        Mock::given(method("GET"))
            .and(path(members("au-sales")))
            .and(query_param("$skiptoken", "p2"))
            .respond_with(page(json!([member("group", "g-sales")])))
            .with_priority(1)
            .expect(1)
            .mount(graph)
            .await;
        let first = json!({"value": [member("user", "u-sam"), member("device", "d-1")], "@odata.nextLink": next});
        Mock::given(method("GET"))
            .and(path(members("au-sales")))
            .respond_with(ResponseTemplate::new(200).set_body_json(first))
            .expect(1)
            .mount(graph)
            .await;
        let exec = page(json!([member("user", "u-ceo")]));
        Mock::given(method("GET")).and(path(members("au-exec"))).respond_with(exec).expect(1).mount(graph).await;
        let empty = page(json!([]));
        Mock::given(method("GET")).and(path(members("au-empty"))).respond_with(empty).expect(1).mount(graph).await;
    })
    .await;
    let e = &snap.entra;
    assert_eq!(e.administrative_units.len(), 3);
    let exec = e.administrative_units.iter().find(|u| u.id == "au-exec").unwrap();
    assert_eq!(exec.is_member_management_restricted, Some(true));
    let of = |id: &str| -> Vec<String> {
        let u = e.administrative_unit_members.iter().find(|u| u.administrative_unit_id == id).expect(id);
        u.members.iter().map(|m| m.id.to_string()).collect()
    };
    assert_eq!(of("au-sales"), ["d-1", "g-sales", "u-sam"], "both pages, devices kept as sent");
    assert_eq!(of("au-exec"), ["u-ceo"]);
    assert!(snap.sources.iter().any(|s| s.api == UNITS_API && s.scope == "tenant" && s.count == 3));
    let sales = snap.sources.iter().find(|s| s.api == MEMBERS_API && s.scope == "/administrativeUnits/au-sales");
    assert_eq!(sales.map(|s| s.count), Some(3));
    assert!(!snap.coverage.iter().any(|g| g.api.contains("administrativeUnit")), "{:#?}", snap.coverage);
}

#[tokio::test]
async fn a_refused_members_listing_is_asked_once_and_is_one_gap_for_the_rest() {
    let snap = run(async |graph: &MockServer| {
        let any_members = wiremock::matchers::path_regex(r"^/v1\.0/directory/administrativeUnits/[^/]+/members$");
        Mock::given(method("GET")).and(any_members).respond_with(forbidden()).expect(1).mount(graph).await;
    })
    .await;
    assert_eq!(snap.entra.administrative_units.len(), 3, "the units are kept");
    let gaps: Vec<_> = snap.coverage.iter().filter(|g| g.api == MEMBERS_API).collect();
    assert_eq!(gaps.len(), 2, "{gaps:#?}");
    assert!(gaps.iter().all(|g| g.reason == GapReason::Forbidden));
    let skipped = gaps.iter().find(|g| g.scope == "tenant").expect("one gap for the rest");
    assert!(skipped.message.contains("2 more administrative units"), "{}", skipped.message);
}
