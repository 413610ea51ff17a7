//! `collect()` end to end over stub ARM and Graph servers: what lands in the snapshot, which scopes become
//! coverage gaps, and that one failing scope never stops the others.

use std::time::Duration;

use azpath::collect::auth::{AccessToken, Audience, DefaultTokenSource, TokenError, TokenSource};
use azpath::collect::{collect, Cloud, CollectError, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::{GapReason, Snapshot};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTHZ: &str = "providers/Microsoft.Authorization";
const MG: &str = "/providers/Microsoft.Management/managementGroups";
const TENANT: &str = "tttttttt-0000-0000-0000-000000000000";

fn env(name: &str) -> Option<String> {
    match name {
        "AZPATH_ARM_TOKEN" => Some("arm-token".into()),
        "AZPATH_GRAPH_TOKEN" => Some("graph-token".into()),
        _ => None,
    }
}

fn options() -> CollectOptions {
    CollectOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            max_total_wait: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        },
        concurrency: 4,
        ..Default::default()
    }
}

struct Stubs {
    arm: MockServer,
    graph: MockServer,
}

impl Stubs {
    async fn start() -> Self {
        Stubs { arm: MockServer::start().await, graph: MockServer::start().await }
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints::new(Cloud::Custom, Some(&self.arm.uri()), Some(&self.graph.uri()), None).unwrap()
    }

    /// An ARM GET at `path` with `api-version`, answered with `{"value": items}`, expected `times` times.
    async fn arm_list(&self, p: &str, version: &str, items: Value, times: u64) {
        Mock::given(method("GET"))
            .and(path(p))
            .and(query_param("api-version", version))
            .and(header("authorization", "Bearer arm-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": items })))
            .expect(times)
            .mount(&self.arm)
            .await;
    }

    async fn arm_status(&self, p: &str, status: u16, times: u64) {
        let body = json!({"error": {"code": "AuthorizationFailed", "message": "denied"}});
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(status).set_body_json(body).insert_header("Retry-After", "0"))
            .expect(times)
            .mount(&self.arm)
            .await;
    }

    async fn graph_list(&self, p: &str, items: Value) {
        Mock::given(method("GET"))
            .and(path(p))
            .and(query_param("$top", "999"))
            .and(header("authorization", "Bearer graph-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": items })))
            .expect(1)
            .mount(&self.graph)
            .await;
    }

    async fn subscriptions(&self, ids: &[&str]) {
        let subs: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": format!("/subscriptions/{id}"), "subscriptionId": id, "displayName": id, "state": "Enabled", "tenantId": TENANT}))
            .collect();
        self.arm_list("/subscriptions", "2022-12-01", Value::Array(subs), 1).await;
    }

    /// Every RBAC listing and resource groups of one subscription, each answered once.
    async fn subscription_rbac(&self, sub: &str, skip: &[&str]) {
        let scope = format!("/subscriptions/{sub}");
        let ra = json!([assignment(&scope, &format!("ra-{sub}"), "u1")]);
        let rd = json!([{"id": format!("/{AUTHZ}/roleDefinitions/owner"), "name": "owner", "properties": {"roleName": "Owner", "type": "BuiltInRole", "permissions": [{"actions": ["*"]}], "assignableScopes": ["/"]}}]);
        let rg = json!([{"id": format!("{scope}/resourceGroups/rg-{sub}"), "name": format!("rg-{sub}"), "location": "westeurope"}]);
        let pim = json!([{"id": format!("{scope}/{AUTHZ}/roleEligibilityScheduleInstances/e-{sub}"), "name": format!("e-{sub}"),
            "properties": {"scope": scope, "roleDefinitionId": format!("{scope}/{AUTHZ}/roleDefinitions/owner"), "principalId": "g1", "principalType": "Group", "status": "Provisioned"}}]);
        let deny = json!([{"id": format!("{scope}/{AUTHZ}/denyAssignments/d-{sub}"), "name": format!("d-{sub}"),
            "properties": {"scope": scope, "permissions": [{"actions": ["*/write"]}], "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}]}}]);
        for (kind, version, items) in [
            ("roleAssignments", "2022-04-01", ra),
            ("roleDefinitions", "2022-04-01", rd),
            ("denyAssignments", "2022-04-01", deny),
            ("roleEligibilityScheduleInstances", "2020-10-01", pim),
        ] {
            if !skip.contains(&kind) {
                self.arm_list(&format!("{scope}/{AUTHZ}/{kind}"), version, items, 1).await;
            }
        }
        self.arm_list(&format!("{scope}/resourcegroups"), "2021-04-01", rg, 1).await;
    }
}

fn assignment(scope: &str, name: &str, principal: &str) -> Value {
    json!({
        "id": format!("{scope}/{AUTHZ}/roleAssignments/{name}"),
        "name": name,
        "properties": {"scope": scope, "roleDefinitionId": format!("/{AUTHZ}/roleDefinitions/owner"), "principalId": principal, "principalType": "User"}
    })
}

async fn directory(stubs: &Stubs) {
    stubs.graph_list("/v1.0/users", json!([{"id": "u1", "displayName": "Ursula", "userPrincipalName": "u1@x", "accountEnabled": true, "userType": "Member"}])).await;
    stubs.graph_list("/v1.0/groups", json!([{"id": "g1", "displayName": "Admins", "securityEnabled": true}, {"id": "g2", "displayName": "Inner"}])).await;
    // g1 holds a user and (nested) g2; g2's member has no @odata.type, which is fine.
    stubs.graph_list("/v1.0/groups/g1/members", json!([{"@odata.type": "#microsoft.graph.user", "id": "u1"}, {"@odata.type": "#microsoft.graph.group", "id": "g2"}])).await;
    stubs.graph_list("/v1.0/groups/g2/members", json!([{"id": "sp1"}])).await;
    stubs.graph_list("/v1.0/servicePrincipals", json!([{"id": "sp1", "appId": "a1", "servicePrincipalType": "ManagedIdentity", "alternativeNames": ["isExplicit=True", "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"]}])).await;
    stubs.graph_list("/v1.0/applications", json!([{"id": "app1", "appId": "a2", "passwordCredentials": [{"keyId": "k", "hint": "abc", "secretText": null}]}])).await;
}

fn gap<'a>(s: &'a Snapshot, api: &str, scope: &str) -> Option<&'a azpath_graph::snapshot::CoverageGap> {
    s.coverage.iter().find(|g| g.api == api && g.scope == scope)
}

#[tokio::test]
async fn full_collection_over_arm_and_graph() {
    let stubs = Stubs::start().await;
    stubs.subscriptions(&["s1", "s2"]).await;
    stubs
        .arm_list(
            MG,
            "2023-04-01",
            json!([{"id": format!("{MG}/root"), "name": "root", "properties": {"displayName": "Root"}}]),
            1,
        )
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{MG}/root")))
        .and(query_param("api-version", "2023-04-01"))
        .and(query_param("$expand", "children"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": format!("{MG}/root"), "name": "root",
            "properties": {"displayName": "Root", "tenantId": TENANT, "children": [
                {"id": "/subscriptions/s1", "type": "/subscriptions", "name": "s1"},
                {"id": "/subscriptions/s2", "type": "/subscriptions", "name": "s2"}]}
        })))
        .expect(1)
        .mount(&stubs.arm)
        .await;
    // Management-group scope: atScope() listings.
    let mg_scope = format!("{MG}/root");
    Mock::given(method("GET"))
        .and(path(format!("{mg_scope}/{AUTHZ}/roleAssignments")))
        .and(query_param("$filter", "atScope()"))
        .and(query_param("api-version", "2022-04-01"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [assignment(&mg_scope, "ra-mg", "g1")]})),
        )
        .expect(1)
        .mount(&stubs.arm)
        .await;
    for (kind, version) in [
        ("roleDefinitions", "2022-04-01"),
        ("denyAssignments", "2022-04-01"),
        ("roleEligibilityScheduleInstances", "2020-10-01"),
    ] {
        stubs.arm_list(&format!("{mg_scope}/{AUTHZ}/{kind}"), version, json!([]), 1).await;
    }
    stubs.subscription_rbac("s1", &["denyAssignments"]).await;
    stubs.subscription_rbac("s2", &["roleAssignments"]).await;
    // s1's deny assignments stay throttled; s2's role assignments are forbidden.
    stubs.arm_status(&format!("/subscriptions/s1/{AUTHZ}/denyAssignments"), 429, 2).await;
    stubs.arm_status(&format!("/subscriptions/s2/{AUTHZ}/roleAssignments"), 403, 1).await;
    directory(&stubs).await;

    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let snap = collect(&e, &tokens, &options()).await.expect("collect");

    let az = &snap.azure;
    assert_eq!(az.subscriptions.iter().map(|s| s.subscription_id.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
    assert_eq!(az.management_groups.len(), 1);
    assert_eq!(az.management_groups[0].properties.children.as_ref().map(Vec::len), Some(2));
    assert_eq!(az.resource_groups.len(), 2);
    assert_eq!(az.role_definitions.len(), 1, "de-duplicated by name");
    let ras: Vec<&str> = az.role_assignments.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(ras, ["ra-mg", "ra-s1"]);
    assert_eq!(az.role_eligibility_schedule_instances.len(), 2);
    assert_eq!(az.deny_assignments.len(), 1, "only s2's");

    let forbidden = gap(&snap, "arm.roleAssignments", "/subscriptions/s2").expect("403 gap");
    assert_eq!((forbidden.reason, forbidden.status), (GapReason::Forbidden, Some(403)));
    let throttled = gap(&snap, "arm.denyAssignments", "/subscriptions/s1").expect("429 gap");
    assert_eq!(throttled.reason, GapReason::Throttled);
    assert_eq!(snap.coverage.len(), 2, "{:#?}", snap.coverage);

    let en = &snap.entra;
    assert_eq!((en.users.len(), en.groups.len(), en.service_principals.len(), en.applications.len()), (1, 2, 1, 1));
    let g1 = en.group_members.iter().find(|g| g.group_id == "g1").expect("g1 members");
    assert_eq!(g1.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["g2", "u1"]);
    let g2 = en.group_members.iter().find(|g| g.group_id == "g2").expect("g2 members");
    assert_eq!(g2.members[0].id, "sp1");
    assert_eq!(g2.members[0].odata_type, None);

    let src = |api: &str, scope: &str| snap.sources.iter().find(|s| s.api == api && s.scope == scope).map(|s| s.count);
    assert_eq!(src("arm.subscriptions", "tenant"), Some(2));
    assert_eq!(src("arm.roleAssignments", "/subscriptions/s1"), Some(1));
    assert_eq!(src("arm.roleAssignments", &mg_scope), Some(1));
    assert_eq!(src("graph.groupMembers", "/groups/g1"), Some(2));
    assert_eq!(src("arm.roleAssignments", "/subscriptions/s2"), None);

    let m = &snap.metadata;
    assert_eq!(m.cloud, "custom");
    assert_eq!(m.tool_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(m.arm_url, format!("{}/", stubs.arm.uri()));
    assert_eq!(m.tenant_id.as_deref(), Some(TENANT));
    assert!(time::OffsetDateTime::parse(&m.collected_at, &time::format_description::well_known::Rfc3339).is_ok());
    assert!(!snap.to_json().contains("arm-token"));
}

#[tokio::test]
async fn named_subscriptions_only_and_an_invisible_one_is_a_gap() {
    let stubs = Stubs::start().await;
    stubs.subscriptions(&["s1", "s2"]).await;
    // Listing management groups is forbidden: a gap, not a failure.
    stubs.arm_status(MG, 403, 1).await;
    stubs.subscription_rbac("s1", &[]).await;
    Mock::given(method("GET"))
        .and(path("/subscriptions/s2/resourcegroups"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&stubs.arm)
        .await;
    directory(&stubs).await;

    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    // With the progress bar on (drawn only when stderr is a terminal): it must not disturb the collection.
    let opts = CollectOptions {
        subscriptions: vec!["S1".into(), "/subscriptions/s9".into()],
        show_progress: true,
        ..options()
    };
    let snap = collect(&e, &tokens, &opts).await.expect("collect");
    assert_eq!(snap.azure.subscriptions.len(), 1);
    assert_eq!(gap(&snap, "arm.subscriptions", "/subscriptions/s9").map(|g| g.reason), Some(GapReason::NotFound));
    assert_eq!(gap(&snap, "arm.managementGroups", "tenant").map(|g| g.reason), Some(GapReason::Forbidden));
    assert_eq!(snap.coverage.len(), 2, "{:#?}", snap.coverage);
}

#[tokio::test]
async fn management_group_subtree_is_collected_from_descendants() {
    let stubs = Stubs::start().await;
    stubs.subscriptions(&["s1", "s2", "s3"]).await;
    stubs.arm_status(MG, 403, 1).await;
    stubs.arm_status(&format!("{MG}/prod"), 403, 1).await;
    stubs
        .arm_list(
            &format!("{MG}/prod/descendants"),
            "2023-04-01",
            json!([
                {"id": format!("{MG}/team"), "type": "Microsoft.Management/managementGroups", "name": "team", "properties": {"parent": {"id": format!("{MG}/prod")}}},
                {"id": "/subscriptions/s2", "type": "Microsoft.Management/managementGroups/subscriptions", "name": "s2", "properties": {"parent": {"id": format!("{MG}/team")}}}
            ]),
            1,
        )
        .await;
    stubs.subscription_rbac("s2", &[]).await;
    for mg in ["prod", "team"] {
        for (kind, version) in [
            ("roleAssignments", "2022-04-01"),
            ("roleDefinitions", "2022-04-01"),
            ("denyAssignments", "2022-04-01"),
            ("roleEligibilityScheduleInstances", "2020-10-01"),
        ] {
            stubs.arm_list(&format!("{MG}/{mg}/{AUTHZ}/{kind}"), version, json!([]), 1).await;
        }
    }
    directory(&stubs).await;

    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let opts = CollectOptions { management_groups: vec!["prod".into()], ..options() };
    let snap = collect(&e, &tokens, &opts).await.expect("collect");
    assert_eq!(snap.azure.subscriptions.iter().map(|s| s.subscription_id.as_str()).collect::<Vec<_>>(), ["s2"]);
    // The tree comes from the descendants listing: prod ⊃ team ⊃ s2.
    let team = snap.azure.management_groups.iter().find(|m| m.name == "team").expect("team");
    assert_eq!(
        team.properties.details.as_ref().and_then(|d| d.parent.as_ref()).and_then(|p| p.id.as_deref()),
        Some(format!("{MG}/prod").as_str())
    );
    assert_eq!(team.properties.children.as_ref().map(|c| c[0].id.as_str()), Some("/subscriptions/s2"));
    assert_eq!(gap(&snap, "arm.managementGroups", &format!("{MG}/prod")).map(|g| g.reason), Some(GapReason::Forbidden));
}

/// A token source for the failure cases: gives only the tokens it has, and never asks a real credential.
struct Only(Option<&'static str>, Option<&'static str>);

impl TokenSource for Only {
    fn token(&self, audience: Audience) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        let value = match audience {
            Audience::Arm => self.0,
            Audience::Graph => self.1,
        };
        Box::pin(async move {
            value.map(|v| AccessToken::new(v, None)).ok_or(TokenError::NoCredential { audience, failures: vec![] })
        })
    }
}

#[tokio::test]
async fn without_an_arm_token_nothing_is_requested() {
    let stubs = Stubs::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&stubs.arm).await;
    let err = collect(&stubs.endpoints(), &Only(None, Some("graph-token")), &options()).await.unwrap_err();
    assert!(matches!(err, CollectError::NoCredential(_)), "{err:?}");
}

#[tokio::test]
async fn without_a_graph_token_the_directory_is_a_gap() {
    let stubs = Stubs::start().await;
    stubs.subscriptions(&[]).await;
    stubs.arm_list(MG, "2023-04-01", json!([]), 1).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&stubs.graph).await;
    let snap = collect(&stubs.endpoints(), &Only(Some("arm-token"), None), &options()).await.expect("collect");
    let reasons: Vec<_> = snap.coverage.iter().map(|g| (g.api.as_str(), g.reason)).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().all(|(api, r)| api.starts_with("graph.") && *r == GapReason::NoCredential));
}

#[tokio::test]
async fn unlistable_subscriptions_fail_the_scan() {
    let stubs = Stubs::start().await;
    stubs.arm_status("/subscriptions", 401, 1).await;
    let err = collect(&stubs.endpoints(), &Only(Some("arm-token"), Some("graph-token")), &options()).await.unwrap_err();
    let CollectError::Subscriptions(e) = &err else { panic!("{err:?}") };
    assert_eq!(e.reason, GapReason::Unauthorized);
}

#[tokio::test]
async fn a_graph_next_link_to_the_arm_host_is_a_gap_and_never_requested() {
    let stubs = Stubs::start().await;
    stubs.subscriptions(&[]).await;
    stubs.arm_list(MG, "2023-04-01", json!([]), 1).await;
    // The Graph token must not travel to the ARM origin, even when Graph itself says to go there.
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "u1"}],
            "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=x", stubs.arm.uri())
        })))
        .expect(1)
        .mount(&stubs.graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&stubs.arm)
        .await;
    for p in ["/v1.0/groups", "/v1.0/servicePrincipals", "/v1.0/applications"] {
        stubs.graph_list(p, json!([])).await;
    }
    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let snap = collect(&e, &tokens, &options()).await.expect("collect");
    let g = gap(&snap, "graph.users", "tenant").expect("gap");
    assert_eq!(g.reason, GapReason::UntrustedNextLink);
    assert_eq!(snap.entra.users.len(), 1, "the trusted first page is kept");
}
