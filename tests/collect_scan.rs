//! `collect()` end to end over stub ARM and Graph servers: what lands in the snapshot, which scopes become
//! coverage gaps, and that one failing scope never stops the others.

mod common;

use std::time::Duration;

use azpath::collect::auth::{AccessToken, Audience, DefaultTokenSource, TokenError, TokenSource};
use azpath::collect::{collect, Cloud, CollectError, CollectOptions, Endpoints, RetryPolicy};
use azpath_graph::snapshot::{GapReason, Snapshot};
use common::stubs::env;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTHZ: &str = "providers/Microsoft.Authorization";
const MG: &str = "/providers/Microsoft.Management/managementGroups";
const TENANT: &str = "tttttttt-0000-0000-0000-000000000000";
const MI: &str = "providers/Microsoft.ManagedIdentity/userAssignedIdentities";
const AKS: &str = "providers/Microsoft.ContainerService/managedClusters";
const ARC: &str = "providers/Microsoft.Kubernetes/connectedClusters";

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
        let stubs = Stubs { arm: MockServer::start().await, graph: MockServer::start().await };
        stubs.empty_entra_control_plane().await;
        stubs
    }

    /// The Entra control-plane listings (tested in tests/collect_entra_roles.rs) answer empty here.
    async fn empty_entra_control_plane(&self) {
        let empty = || ResponseTemplate::new(200).set_body_json(json!({"value": []}));
        for p in ["roleDefinitions", "roleAssignments", "roleEligibilityScheduleInstances"] {
            let p = format!("/v1.0/roleManagement/directory/{p}");
            Mock::given(method("GET")).and(path(p)).respond_with(empty()).mount(&self.graph).await;
        }
        let pim_groups = "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances";
        Mock::given(method("GET")).and(path(pim_groups)).respond_with(empty()).mount(&self.graph).await;
        let units = "/v1.0/directory/administrativeUnits";
        Mock::given(method("GET")).and(path(units)).respond_with(empty()).mount(&self.graph).await;
        let grants =
            "appRoleAssignments($select=id,appRoleId,principalId,principalType,resourceId,resourceDisplayName)";
        let listing =
            Mock::given(method("GET")).and(path("/v1.0/servicePrincipals")).and(query_param("$expand", grants));
        listing.respond_with(empty()).with_priority(1).mount(&self.graph).await;
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
        // Applications are listed twice: with owners, then with only their federated credentials expanded
        // (left out here, so each application's are listed on their own).
        let times = if p == "/v1.0/applications" { 2 } else { 1 };
        Mock::given(method("GET"))
            .and(path(p))
            .and(query_param("$top", "999"))
            .and(header("authorization", "Bearer graph-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": items })))
            .expect(times)
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
        for (kind, p, version) in [
            ("userAssignedIdentities", MI, "2024-11-30"),
            ("managedClusters", AKS, "2025-10-01"),
            ("connectedClusters", ARC, "2026-05-01"),
            ("resources", "resources", "2021-04-01"),
        ] {
            if !skip.contains(&kind) {
                self.arm_list(&format!("{scope}/{p}"), version, json!([]), 1).await;
            }
        }
    }

    /// `GET /v1.0/applications/{id}/federatedIdentityCredentials`, answered once with `items`.
    async fn app_credentials(&self, app: &str, items: Value) {
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/applications/{app}/federatedIdentityCredentials")))
            .and(query_param("$select", "id,name,issuer,subject,audiences"))
            .and(header("authorization", "Bearer graph-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": items })))
            .expect(1)
            .mount(&self.graph)
            .await;
    }
}

fn assignment(scope: &str, name: &str, principal: &str) -> Value {
    json!({
        "id": format!("{scope}/{AUTHZ}/roleAssignments/{name}"),
        "name": name,
        "properties": {"scope": scope, "roleDefinitionId": format!("/{AUTHZ}/roleDefinitions/owner"), "principalId": principal, "principalType": "User"}
    })
}

/// The directory of [`directory_with_apps`] with one application, `app1`, whose federated credentials are
/// listed (none).
async fn directory(stubs: &Stubs) {
    directory_with_apps(stubs, json!([{"id": "app1", "appId": "a2", "passwordCredentials": [{"keyId": "k", "hint": "abc", "secretText": null}]}])).await;
    stubs.app_credentials("app1", json!([])).await;
}

async fn directory_with_apps(stubs: &Stubs, apps: Value) {
    stubs.graph_list("/v1.0/users", json!([{"id": "u1", "displayName": "Ursula", "userPrincipalName": "u1@x", "accountEnabled": true, "userType": "Member"}])).await;
    stubs.graph_list("/v1.0/groups", json!([{"id": "g1", "displayName": "Admins", "securityEnabled": true}, {"id": "g2", "displayName": "Inner"}])).await;
    // g1 holds a user and (nested) g2; g2's member has no @odata.type, which is fine.
    stubs.graph_list("/v1.0/groups/g1/members", json!([{"@odata.type": "#microsoft.graph.user", "id": "u1"}, {"@odata.type": "#microsoft.graph.group", "id": "g2"}])).await;
    stubs.graph_list("/v1.0/groups/g2/members", json!([{"id": "sp1"}])).await;
    stubs.graph_list("/v1.0/servicePrincipals", json!([{"id": "sp1", "appId": "a1", "servicePrincipalType": "ManagedIdentity", "alternativeNames": ["isExplicit=True", "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"]}])).await;
    stubs.graph_list("/v1.0/applications", apps).await;
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
    // One shape, nine fraction digits: `2026-12-06T18:20:00.120000000Z`.
    assert_eq!(m.collected_at.len(), "2026-12-06T18:20:00.120000000Z".len(), "{}", m.collected_at);
    assert!(m.collected_at.ends_with('Z') && m.collected_at.as_bytes()[19] == b'.', "{}", m.collected_at);
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
    assert_eq!(reasons.len(), 9, "{reasons:?}");
    assert!(reasons.iter().all(|(api, r)| api.starts_with("graph.") && *r == GapReason::NoCredential));
}

#[tokio::test]
async fn a_rejected_arm_token_on_the_subscriptions_listing_fails_the_scan() {
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

impl Stubs {
    /// s1's user-assigned identities in two pages (the third id is not a usable identity id), mi-a's
    /// federated credentials, and mi-b's forbidden.
    async fn identities_of_s1(&self) {
        let identity =
            |id: String, p: &str| json!({"id": id, "name": "x", "properties": {"principalId": p, "clientId": "c"}});
        let page2 = format!("{}/subscriptions/s1/{MI}?api-version=2024-11-30&$skiptoken=2", self.arm.uri());
        Mock::given(method("GET"))
            .and(path(format!("/subscriptions/s1/{MI}")))
            .and(query_param("api-version", "2024-11-30"))
            .and(query_param_is_missing("$skiptoken"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"value": [identity(mi("mi-a"), "p-a")], "nextLink": page2})),
            )
            .expect(1)
            .mount(&self.arm)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/subscriptions/s1/{MI}")))
            .and(query_param("api-version", "2024-11-30"))
            .and(query_param("$skiptoken", "2"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"value": [identity(mi("mi-b"), "p-b"), identity(EVIL.to_string(), "p-e")]})),
            )
            .expect(1)
            .mount(&self.arm)
            .await;
        let fic = |parent: &str, name: &str, subject: &str| {
            json!({"id": format!("{parent}/federatedIdentityCredentials/{name}"), "name": name,
                   "properties": {"issuer": "https://oidc.prod-aks.azure.com/t/i1/", "subject": subject, "audiences": ["api://AzureADTokenExchange"]}})
        };
        let mi_a = mi("mi-a");
        self.arm_list(
            &format!("/subscriptions/s1/resourceGroups/rg-id/{MI}/mi-a/federatedIdentityCredentials"),
            "2024-11-30",
            json!([
                fic(&mi_a, "f1", "system:serviceaccount:team-a:aso"),
                fic(&mi_a, "f2", "system:serviceaccount:b:c")
            ]),
            1,
        )
        .await;
        self.arm_status(
            &format!("/subscriptions/s1/resourceGroups/rg-id/{MI}/mi-b/federatedIdentityCredentials"),
            403,
            1,
        )
        .await;
    }

    /// s1's AKS cluster (its body carries secrets the snapshot has no field for), its identity binding and an
    /// Arc cluster.
    async fn clusters_of_s1(&self) {
        let aks1 = json!({
            "id": format!("/subscriptions/s1/resourceGroups/rg-aks/{AKS}/aks1"), "name": "aks1",
            "identity": {"type": "SystemAssigned", "principalId": "p-aks"},
            "properties": {
                "fqdn": "aks1.hcp.westeurope.azmk8s.io", "disableLocalAccounts": false, "enableRBAC": true,
                "aadProfile": {"managed": true, "enableAzureRBAC": true, "adminGroupObjectIDs": null},
                "oidcIssuerProfile": {"enabled": true, "issuerURL": "https://oidc.prod-aks.azure.com/t/i1/"},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
                "identityProfile": {"kubeletidentity": {"resourceId": mi("aks1-agentpool"), "clientId": "c-k", "objectId": "p-k"}},
                "apiServerAccessProfile": {"enablePrivateCluster": false, "disableRunCommand": true},
                "servicePrincipalProfile": {"clientId": "msi", "secret": "PLANTED-SP-SECRET"},
                "linuxProfile": {"adminUsername": "azureuser", "ssh": {"publicKeys": [{"keyData": "PLANTED-SSH-KEY"}]}},
                "windowsProfile": {"adminUsername": "w", "adminPassword": "PLANTED-WINDOWS-PASSWORD"}
            }
        });
        self.arm_list(&format!("/subscriptions/s1/{AKS}"), "2025-10-01", json!([aks1]), 1).await;
        // Its identity bindings (a preview API).
        let binding = json!({
            "id": format!("/subscriptions/s1/resourceGroups/rg-aks/{AKS}/aks1/identityBindings/ib-a"), "name": "ib-a",
            "type": "Microsoft.ContainerService/managedClusters/identityBindings",
            "properties": {"managedIdentity": {"resourceId": mi("mi-a"), "clientId": "c-a", "objectId": "p-a",
                                               "tenantId": "t"},
                           "oidcIssuer": {"oidcIssuerUrl": "https://ib.oic.prod-aks.azure.com/t/ib-mi-a/"},
                           "provisioningState": "Succeeded"}
        });
        let bindings = format!("/subscriptions/s1/resourceGroups/rg-aks/{AKS}/aks1/identityBindings");
        self.arm_list(&bindings, "2025-10-02-preview", json!([binding]), 1).await;
        let arc1 = json!({"id": format!("/subscriptions/s1/resourceGroups/rg-arc/{ARC}/arc1"), "name": "arc1",
            "identity": {"type": "SystemAssigned", "principalId": "p-arc"},
            "properties": {"agentPublicKeyCertificate": "PLANTED-CERT", "distribution": "k3s",
                           "oidcIssuerProfile": {"enabled": true, "issuerUrl": "https://arc.example/issuer"}}});
        self.arm_list(&format!("/subscriptions/s1/{ARC}"), "2026-05-01", json!([arc1]), 1).await;
    }

    /// Two applications: app1's federated credentials in two pages, app2's forbidden.
    async fn application_credentials(&self) {
        directory_with_apps(self, json!([{"id": "app1"}, {"id": "app2"}])).await;
        let cred = |id: &str| json!({"id": id, "name": id, "issuer": "https://token.actions.githubusercontent.com", "subject": format!("repo:o/{id}:ref:refs/heads/main"), "audiences": ["api://AzureADTokenExchange"]});
        let app_path = "/v1.0/applications/app1/federatedIdentityCredentials";
        let next = format!("{}{app_path}?$select=id,name,issuer,subject,audiences&$skiptoken=p2", self.graph.uri());
        Mock::given(method("GET"))
            .and(path(app_path))
            .and(query_param_is_missing("$skiptoken"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"value": [cred("c1"), cred("c2")], "@odata.nextLink": next})),
            )
            .expect(1)
            .mount(&self.graph)
            .await;
        Mock::given(method("GET"))
            .and(path(app_path))
            .and(query_param("$skiptoken", "p2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [cred("c3")]})))
            .expect(1)
            .mount(&self.graph)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1.0/applications/app2/federatedIdentityCredentials"))
            .respond_with(ResponseTemplate::new(403).set_body_json(
                json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}),
            ))
            .expect(1)
            .mount(&self.graph)
            .await;
    }
}

/// A user-assigned identity id of s1.
fn mi(name: &str) -> String {
    format!("/subscriptions/s1/resourcegroups/rg-id/{MI}/{name}")
}

/// An identity id that must never become a request path.
const EVIL: &str =
    "/subscriptions/s1/resourcegroups/../../v1.0/users/providers/Microsoft.ManagedIdentity/userAssignedIdentities/evil";

#[tokio::test]
async fn identities_credentials_and_clusters_per_subscription_and_per_identity() {
    let stubs = Stubs::start().await;
    stubs.subscriptions(&["s1", "s2"]).await;
    stubs.arm_list(MG, "2023-04-01", json!([]), 1).await;
    stubs.subscription_rbac("s1", &["userAssignedIdentities", "managedClusters", "connectedClusters"]).await;
    stubs.subscription_rbac("s2", &["userAssignedIdentities", "managedClusters"]).await;
    // s2 forbids identities and clusters: gaps for s2 only, s1 and s2's Arc listing go on.
    stubs.arm_status(&format!("/subscriptions/s2/{MI}"), 403, 1).await;
    stubs.arm_status(&format!("/subscriptions/s2/{AKS}"), 403, 1).await;

    stubs.identities_of_s1().await;
    stubs.clusters_of_s1().await;
    stubs.application_credentials().await;

    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let snap = collect(&e, &tokens, &options()).await.expect("collect");

    let mi_a = mi("mi-a");
    let az = &snap.azure;
    assert_eq!(az.user_assigned_identities.len(), 3, "both pages, the unusable id kept as a record");
    let fics: Vec<&str> = az.federated_identity_credentials.iter().map(|f| f.properties.subject.as_str()).collect();
    assert_eq!(fics, ["system:serviceaccount:team-a:aso", "system:serviceaccount:b:c"]);
    assert_eq!(az.managed_clusters.len(), 1);
    let p = &az.managed_clusters[0].properties;
    assert_eq!(
        p.oidc_issuer_profile.as_ref().and_then(|o| o.issuer_url.as_deref()),
        Some("https://oidc.prod-aks.azure.com/t/i1/")
    );
    assert_eq!(p.disable_local_accounts, Some(false));
    assert_eq!(p.aad_profile.as_ref().and_then(|a| a.enable_azure_rbac), Some(true));
    assert_eq!(p.api_server_access_profile.as_ref().and_then(|a| a.disable_run_command), Some(true));
    assert_eq!(
        p.identity_profile.as_ref().and_then(|m| m.get("kubeletidentity")).and_then(|k| k.object_id.as_deref()),
        Some("p-k")
    );
    let [ib] = &az.identity_bindings[..] else { panic!("one identity binding: {:?}", az.identity_bindings) };
    assert_eq!(ib.properties.managed_identity.resource_id, mi_a);
    assert_eq!(ib.properties.managed_identity.client_id.as_deref(), Some("c-a"));
    assert_eq!(
        ib.properties.oidc_issuer.as_ref().and_then(|o| o.oidc_issuer_url.as_deref()),
        Some("https://ib.oic.prod-aks.azure.com/t/ib-mi-a/")
    );
    let arc = &az.connected_clusters[0].properties;
    assert_eq!(
        arc.oidc_issuer_profile.as_ref().and_then(|o| o.issuer_url.as_deref()),
        Some("https://arc.example/issuer")
    );
    let apps = &snap.entra.application_federated_credentials;
    let app1 = apps.iter().find(|a| a.application_id == "app1").expect("app1 credentials");
    assert_eq!(app1.credentials.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c1", "c2", "c3"]);

    let src = |api: &str, scope: &str| snap.sources.iter().find(|s| s.api == api && s.scope == scope).map(|s| s.count);
    assert_eq!(src("arm.userAssignedIdentities", "/subscriptions/s1"), Some(3));
    assert_eq!(src("arm.federatedIdentityCredentials", &mi_a), Some(2));
    assert_eq!(src("arm.managedClusters", "/subscriptions/s1"), Some(1));
    assert_eq!(src("arm.connectedClusters", "/subscriptions/s1"), Some(1));
    assert_eq!(src("arm.identityBindings", &format!("/subscriptions/s1/resourceGroups/rg-aks/{AKS}/aks1")), Some(1));
    assert_eq!(src("arm.connectedClusters", "/subscriptions/s2"), Some(0));
    assert_eq!(src("graph.applicationFederatedCredentials", "/applications/app1"), Some(3));

    let reason = |api: &str, scope: &str| gap(&snap, api, scope).map(|g| g.reason);
    assert_eq!(reason("arm.userAssignedIdentities", "/subscriptions/s2"), Some(GapReason::Forbidden));
    assert_eq!(reason("arm.managedClusters", "/subscriptions/s2"), Some(GapReason::Forbidden));
    assert_eq!(reason("arm.federatedIdentityCredentials", &mi("mi-b")), Some(GapReason::Forbidden));
    assert_eq!(reason("arm.federatedIdentityCredentials", EVIL), Some(GapReason::Malformed));
    assert_eq!(reason("graph.applicationFederatedCredentials", "/applications/app2"), Some(GapReason::Forbidden));
    assert_eq!(snap.coverage.len(), 5, "{:#?}", snap.coverage);
    for g in &snap.coverage {
        assert!(!g.may_hide().starts_with("objects of this kind"), "{}: no specific explanation", g.api);
    }

    // The unusable identity id was never turned into a request.
    let requests = stubs.arm.received_requests().await.unwrap_or_default();
    assert!(requests.iter().all(|r| !r.url.path().contains("evil") && !r.url.path().contains("v1.0")));
    let text = snap.to_json();
    for planted in ["PLANTED", "linuxProfile", "windowsProfile", "\"secret\""] {
        assert!(!text.contains(planted), "{planted} reached the snapshot");
    }
}

/// `GET /subscriptions`: page 1 lists `s1` and points at page 2 (`next`, default the same origin), which is
/// answered with `page2` (expected `page2_calls` times).
async fn broken_subscriptions_listing(stubs: &Stubs, next: Option<String>, page2: ResponseTemplate, page2_calls: u64) {
    let next = next.unwrap_or_else(|| format!("{}/subscriptions?api-version=2022-12-01&$skiptoken=2", stubs.arm.uri()));
    let s1 = json!({"id": "/subscriptions/s1", "subscriptionId": "s1", "displayName": "s1", "state": "Enabled", "tenantId": TENANT});
    Mock::given(method("GET"))
        .and(path("/subscriptions"))
        .and(query_param("api-version", "2022-12-01"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [s1], "nextLink": next})))
        .expect(1)
        .mount(&stubs.arm)
        .await;
    Mock::given(method("GET"))
        .and(path("/subscriptions"))
        .and(query_param("$skiptoken", "2"))
        .respond_with(page2)
        .expect(page2_calls)
        .mount(&stubs.arm)
        .await;
}

#[tokio::test]
async fn a_subscriptions_listing_broken_after_page_1_is_a_gap_and_the_scan_goes_on() {
    let html = ResponseTemplate::new(200).set_body_raw("<html><body>Sign in</body></html>", "text/html");
    let truncated =
        ResponseTemplate::new(200).set_body_raw(r#"{"value": [{"id": "/subscriptions/s2", "subs"#, "application/json");
    let redirect = ResponseTemplate::new(302).insert_header("Location", "https://login.example/");
    let throttled = ResponseTemplate::new(429).insert_header("Retry-After", "0");
    let cases: [(&str, Option<&str>, ResponseTemplate, u64, GapReason); 5] = [
        ("foreign nextLink", Some("foreign"), ResponseTemplate::new(200), 0, GapReason::UntrustedNextLink),
        ("HTML body", None, html, 1, GapReason::Malformed),
        ("truncated JSON", None, truncated, 1, GapReason::Malformed),
        ("302", None, redirect, 1, GapReason::HttpError),
        ("429 forever", None, throttled, 2, GapReason::Throttled),
    ];
    for (case, next, page2, calls, reason) in cases {
        let stubs = Stubs::start().await;
        // A foreign origin: the Graph server, which must never see an ARM request.
        let next = next.map(|_| format!("{}/subscriptions?api-version=2022-12-01&$skiptoken=2", stubs.graph.uri()));
        broken_subscriptions_listing(&stubs, next, page2, calls).await;
        Mock::given(method("GET"))
            .and(path("/subscriptions"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&stubs.graph)
            .await;
        stubs.arm_list(MG, "2023-04-01", json!([]), 1).await;
        stubs.subscription_rbac("s1", &[]).await;
        directory(&stubs).await;

        let e = stubs.endpoints();
        let tokens = DefaultTokenSource::new(&e, &env, None);
        let snap = collect(&e, &tokens, &options()).await.unwrap_or_else(|err| panic!("{case}: {err:?}"));
        let ids: Vec<&str> = snap.azure.subscriptions.iter().map(|s| s.subscription_id.as_str()).collect();
        assert_eq!(ids, ["s1"], "{case}: page 1 is kept");
        let g =
            gap(&snap, "arm.subscriptions", "tenant").unwrap_or_else(|| panic!("{case}: no gap: {:#?}", snap.coverage));
        assert_eq!(g.reason, reason, "{case}: {}", g.message);
        assert!(g.message.contains("1 records read before the failure are kept"), "{case}: {}", g.message);
        assert!(g.may_hide().contains("beyond those listed"), "{case}: {}", g.may_hide());
        assert_eq!(snap.azure.role_assignments.len(), 1, "{case}: s1 is still collected");
        assert_eq!(snap.entra.users.len(), 1, "{case}: Graph is still collected");
        assert_eq!(snap.metadata.tenant_id.as_deref(), Some(TENANT), "{case}");
        assert_eq!(snap.coverage.len(), 1, "{case}: {:#?}", snap.coverage);
        stubs.arm.verify().await;
        stubs.graph.verify().await;
    }
}

#[tokio::test]
async fn a_subscriptions_listing_failing_on_page_1_is_a_gap_unless_the_token_is_rejected() {
    let stubs = Stubs::start().await;
    stubs.arm_status("/subscriptions", 500, 1).await;
    stubs.arm_list(MG, "2023-04-01", json!([]), 1).await;
    directory(&stubs).await;
    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let snap = collect(&e, &tokens, &options()).await.expect("a 500 on the listing is a gap");
    assert!(snap.azure.subscriptions.is_empty());
    assert_eq!(
        gap(&snap, "arm.subscriptions", "tenant").map(|g| (g.reason, g.status)),
        Some((GapReason::HttpError, Some(500)))
    );
    assert_eq!(snap.entra.users.len(), 1, "Graph is still collected");
}

#[tokio::test]
async fn named_subscriptions_are_read_one_by_one_when_the_listing_is_broken() {
    let stubs = Stubs::start().await;
    let html = ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "text/html");
    broken_subscriptions_listing(&stubs, None, html, 1).await;
    stubs.arm_list(MG, "2023-04-01", json!([]), 1).await;
    // s1 was on page 1; s2 is read directly; s9 does not exist.
    Mock::given(method("GET"))
        .and(path("/subscriptions/s2"))
        .and(query_param("api-version", "2022-12-01"))
        .and(header("authorization", "Bearer arm-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "/subscriptions/s2", "subscriptionId": "s2", "displayName": "two", "state": "Enabled", "tenantId": TENANT}),
        ))
        .expect(1)
        .mount(&stubs.arm)
        .await;
    Mock::given(method("GET"))
        .and(path("/subscriptions/s1"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&stubs.arm)
        .await;
    stubs.arm_status("/subscriptions/s9", 404, 1).await;
    stubs.subscription_rbac("s1", &[]).await;
    stubs.subscription_rbac("s2", &[]).await;
    directory(&stubs).await;

    let e = stubs.endpoints();
    let tokens = DefaultTokenSource::new(&e, &env, None);
    let opts = CollectOptions { subscriptions: vec!["s1".into(), "S2".into(), "s9".into()], ..options() };
    let snap = collect(&e, &tokens, &opts).await.expect("collect");
    let ids: Vec<&str> = snap.azure.subscriptions.iter().map(|s| s.subscription_id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2"]);
    assert_eq!(snap.azure.role_assignments.len(), 2);
    assert_eq!(gap(&snap, "arm.subscriptions", "tenant").map(|g| g.reason), Some(GapReason::Malformed));
    let s9 = gap(&snap, "arm.subscriptions", "/subscriptions/s9").expect("s9 gap");
    assert_eq!((s9.reason, s9.status), (GapReason::NotFound, Some(404)));
    assert_eq!(snap.coverage.len(), 2, "{:#?}", snap.coverage);
    let src = |scope: &str| snap.sources.iter().any(|s| s.api == "arm.subscriptions" && s.scope == scope);
    assert!(src("/subscriptions/s2") && !src("tenant"));
}
