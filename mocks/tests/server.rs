//! The mock server behaves like Azure where a collector can tell: filtering by scope, paging, api-versions,
//! tokens, throttling with `Retry-After`, injected faults.

use std::collections::HashSet;
use std::time::Duration;

use azpath_mocks::{MockAzure, MockOptions, MockTenant};
use serde_json::Value;

const ARM_TOKEN: &str = "mock-arm-token";
const GRAPH_TOKEN: &str = "mock-graph-token";

async fn start(tenant: &str, options: MockOptions) -> MockAzure {
    MockAzure::start(MockTenant::bundled(tenant).unwrap(), options).await.unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (status, headers, body)
}

/// Follows every page; checks each next link is absolute and on the same origin.
async fn list_all(base: &str, path_and_query: &str, token: &str) -> Vec<Value> {
    let mut url = format!("{base}{path_and_query}");
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    loop {
        assert!(seen.insert(url.clone()), "page loop at {url}");
        let (status, _, body) = get(&url, Some(token)).await;
        assert_eq!(status, 200, "{url}: {body}");
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        let next =
            ["nextLink", "@odata.nextLink", "@nextLink"].iter().find_map(|k| body.get(*k)).and_then(Value::as_str);
        match next {
            Some(next) => {
                assert!(next.starts_with(&format!("{base}/")), "next link {next} leaves {base}");
                url = next.to_string();
            }
            None => return items,
        }
    }
}

fn ids(items: &[Value]) -> HashSet<String> {
    items.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

fn principals(items: &[Value]) -> HashSet<String> {
    items.iter().map(|i| i["properties"]["principalId"].as_str().unwrap().to_string()).collect()
}

fn assignments_at(tenant: &MockTenant, scope: &str) -> HashSet<String> {
    tenant
        .azure
        .role_assignments
        .iter()
        .filter(|r| r.properties.scope.eq_ignore_ascii_case(scope))
        .map(|r| r.properties.principal_id.to_string())
        .collect()
}

fn sub_id(tenant: &MockTenant, name: &str) -> String {
    tenant.azure.subscriptions.iter().find(|s| s.display_name.as_deref() == Some(name)).unwrap().id.clone()
}

const MG: &str = "/providers/Microsoft.Management/managementGroups/";

#[tokio::test]
async fn subscription_listing_includes_inherited_and_below_but_not_other_branches() {
    let mock = start("scope-inheritance", MockOptions::default()).await;
    let t = mock.tenant().clone();
    let corp = sub_id(&t, "contoso-corp-prod");
    let path = format!("{corp}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01");
    let got = principals(&list_all(&mock.arm_url(), &path, ARM_TOKEN).await);

    let mut want = HashSet::new();
    for scope in ["/", &format!("{MG}contoso"), &format!("{MG}contoso-corp"), corp.as_str()] {
        want.extend(assignments_at(&t, scope));
    }
    let rg = format!("{corp}/resourceGroups/rg-web");
    want.extend(assignments_at(&t, &rg));
    want.extend(assignments_at(&t, &format!("{rg}/providers/Microsoft.KeyVault/vaults/kv-web-prod")));
    assert_eq!(got, want);
    for other in [format!("{MG}contoso-corp-online"), sub_id(&t, "contoso-sandbox")] {
        assert!(assignments_at(&t, &other).is_disjoint(&got), "{other} leaked into {corp}");
    }
    // Case does not matter in the scope.
    let upper = path.replace(&corp, &corp.to_ascii_uppercase().replace("SUBSCRIPTIONS", "subscriptions"));
    assert_eq!(principals(&list_all(&mock.arm_url(), &upper, ARM_TOKEN).await), got);
}

#[tokio::test]
async fn at_scope_lists_the_scope_and_above_only() {
    let mock = start("scope-inheritance", MockOptions::default()).await;
    let t = mock.tenant().clone();
    let corp_mg = format!("{MG}contoso-corp");
    let base = format!("{corp_mg}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01");
    let at_scope = principals(&list_all(&mock.arm_url(), &format!("{base}&$filter=atScope()"), ARM_TOKEN).await);
    let mut want = assignments_at(&t, "/");
    want.extend(assignments_at(&t, &format!("{MG}contoso")));
    want.extend(assignments_at(&t, &corp_mg));
    assert_eq!(at_scope, want);

    let everything = principals(&list_all(&mock.arm_url(), &base, ARM_TOKEN).await);
    let online_owner = assignments_at(&t, &format!("{MG}contoso-corp-online"));
    assert!(online_owner.is_subset(&everything) && online_owner.is_disjoint(&at_scope));
}

#[tokio::test]
async fn management_group_tree_is_derived_in_both_directions() {
    let mock = start("scope-inheritance", MockOptions::default()).await;
    let corp_sub = sub_id(mock.tenant(), "contoso-corp-prod");
    let url = format!("{}{MG}contoso-corp?api-version=2023-04-01&$expand=children", mock.arm_url());
    let (status, _, body) = get(&url, Some(ARM_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    // contoso-corp names no parent; contoso lists it as a child.
    assert_eq!(body["properties"]["details"]["parent"]["id"], format!("{MG}contoso"));
    let children = ids(body["properties"]["children"].as_array().unwrap());
    // contoso-corp-online names contoso-corp as its parent.
    assert_eq!(children, HashSet::from([corp_sub, format!("{MG}contoso-corp-online")]));

    let url = format!("{}{MG}contoso/descendants?api-version=2023-04-01", mock.arm_url());
    let descendants = list_all(&mock.arm_url(), url.trim_start_matches(&mock.arm_url()), ARM_TOKEN).await;
    assert_eq!(descendants.len(), 4, "{descendants:?}");

    let listed =
        list_all(&mock.arm_url(), "/providers/Microsoft.Management/managementGroups?api-version=2023-04-01", ARM_TOKEN)
            .await;
    assert_eq!(listed.len(), 5);
    let (status, _, _) = get(&format!("{}{MG}nope?api-version=2023-04-01", mock.arm_url()), Some(ARM_TOKEN)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn role_definitions_are_builtins_plus_custom_roles_assignable_there() {
    let mock = start("constrained-delegation", MockOptions { page_size: 50, ..Default::default() }).await;
    let shared = sub_id(mock.tenant(), "woodgrove-shared");
    let identity = sub_id(mock.tenant(), "woodgrove-identity");
    let list = |sub: String| {
        let base = mock.arm_url();
        async move {
            list_all(
                &base,
                &format!("{sub}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01"),
                ARM_TOKEN,
            )
            .await
        }
    };
    let builtins = azpath_mocks::builtin_role_definitions().len();
    let at_shared = list(shared.clone()).await;
    let at_identity = list(identity).await;
    assert_eq!(at_shared.len(), builtins);
    assert_eq!(at_identity.len(), builtins + 1);
    let owner = at_shared.iter().find(|r| r["properties"]["roleName"] == "Owner").unwrap();
    assert_eq!(
        owner["id"],
        format!("{shared}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
    );
    assert_eq!(owner["type"], "Microsoft.Authorization/roleDefinitions");
}

#[tokio::test]
async fn paging_recovers_every_record_with_absolute_same_origin_links() {
    let mock = start("demo", MockOptions { page_size: 2, ..Default::default() }).await;
    let users = list_all(&mock.graph_url(), "/v1.0/users?$select=id,displayName&$top=999", GRAPH_TOKEN).await;
    let want: HashSet<String> = mock.tenant().entra.users.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(ids(&users), want);
    assert_eq!(users.len(), want.len());
    let pages = mock.stats().count("graph.users");
    assert_eq!(pages as usize, want.len().div_ceil(2));

    let subs = list_all(&mock.arm_url(), "/subscriptions?api-version=2022-12-01", ARM_TOKEN).await;
    assert_eq!(subs.len(), mock.tenant().azure.subscriptions.len());

    // Graph pages carry @odata.nextLink, ARM pages nextLink.
    let (_, _, first) = get(&format!("{}/v1.0/groups", mock.graph_url()), Some(GRAPH_TOKEN)).await;
    assert!(first["@odata.nextLink"].as_str().unwrap().starts_with(&mock.graph_url()));
    let (_, _, first) = get(&format!("{}/subscriptions?api-version=2022-12-01", mock.arm_url()), Some(ARM_TOKEN)).await;
    let next = first["nextLink"].as_str().unwrap();
    assert!(next.starts_with(&mock.arm_url()) && next.contains("api-version=2022-12-01"), "{next}");
}

#[tokio::test]
async fn group_members_have_types_and_unknown_groups_are_404() {
    let mock = start("nested-groups", MockOptions { page_size: 100, ..Default::default() }).await;
    let t = mock.tenant().clone();
    let owners = t.entra.groups.iter().find(|g| g.display_name.as_deref() == Some("Subscription Owners")).unwrap();
    let members = list_all(
        &mock.graph_url(),
        &format!("/v1.0/groups/{}/members?$select=id,displayName&$top=999", owners.id),
        GRAPH_TOKEN,
    )
    .await;
    let kinds: HashSet<&str> = members.iter().map(|m| m["@odata.type"].as_str().unwrap()).collect();
    assert_eq!(kinds, HashSet::from(["#microsoft.graph.group", "#microsoft.graph.servicePrincipal"]));
    let (status, _, body) = get(
        &format!("{}/v1.0/groups/6f1e0c5e-0000-4000-8000-000000000000/members", mock.graph_url()),
        Some(GRAPH_TOKEN),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
}

#[tokio::test]
async fn owners_are_expanded_only_when_asked_cut_at_20_and_listed_whole() {
    use azpath_graph::snapshot::DirectoryObject;
    let mut tenant = MockTenant::bundled("demo").unwrap();
    let many: Vec<DirectoryObject> = (0..25)
        .map(|i| DirectoryObject { id: format!("00000000-0000-0000-0000-{i:012}").into(), ..Default::default() })
        .collect();
    tenant.entra.groups[0].owners = many;
    let group = tenant.entra.groups[0].id.clone();
    let mock = MockAzure::start(tenant, MockOptions { page_size: 100, ..Default::default() }).await.unwrap();
    let base = mock.graph_url();
    let owners_of = |items: &[Value]| {
        items
            .iter()
            .find(|g| g["id"] == group.as_str())
            .map(|g| g.get("owners").and_then(Value::as_array).map(Vec::len))
    };
    let plain = list_all(&base, "/v1.0/groups?$select=id&$top=999", GRAPH_TOKEN).await;
    assert_eq!(owners_of(&plain), Some(None), "no owners without $expand");
    let expanded = list_all(&base, "/v1.0/groups?$select=id&$expand=owners($select=id)&$top=999", GRAPH_TOKEN).await;
    assert_eq!(owners_of(&expanded), Some(Some(20)), "Graph cuts an expanded relationship at 20");
    let all = list_all(&base, &format!("/v1.0/groups/{group}/owners?$select=id&$top=999"), GRAPH_TOKEN).await;
    assert_eq!(all.len(), 25);
    let (status, _, body) =
        get(&format!("{base}/v1.0/applications/6f1e0c5e-0000-4000-8000-000000000000/owners"), Some(GRAPH_TOKEN)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("Request_ResourceNotFound")));
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_and_counted() {
    let mock = start("demo", MockOptions::default()).await;
    let arm = format!("{}/subscriptions?api-version=2022-12-01", mock.arm_url());
    assert_eq!(get(&arm, None).await.0, 401);
    assert_eq!(get(&arm, Some("nope")).await.0, 401);
    assert_eq!(get(&arm, Some(GRAPH_TOKEN)).await.0, 401, "the Graph token is not an ARM token");
    assert_eq!(get(&format!("{}/v1.0/users", mock.graph_url()), Some(ARM_TOKEN)).await.0, 401);
    assert_eq!(get(&arm, Some(ARM_TOKEN)).await.0, 200);
    assert_eq!(mock.stats().wrong_token, 4);
    let custom = MockAzure::start(
        MockTenant::bundled("demo").unwrap(),
        MockOptions { arm_token: "t1".into(), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(get(&format!("{}/subscriptions?api-version=2022-12-01", custom.arm_url()), Some("t1")).await.0, 200);
    assert_eq!(custom.token_env()[0], ("AZPATH_ARM_TOKEN", "t1".to_string()));
}

#[tokio::test]
async fn wrong_api_version_is_400() {
    let mock = start("demo", MockOptions::default()).await;
    let sub = sub_id(mock.tenant(), "contoso-corp-prod");
    for (query, status) in [("", 400), ("?api-version=2015-07-01", 400), ("?api-version=2022-04-01", 200)] {
        let url = format!("{}{sub}/providers/Microsoft.Authorization/roleAssignments{query}", mock.arm_url());
        let (got, _, body) = get(&url, Some(ARM_TOKEN)).await;
        assert_eq!(got, status, "{query}: {body}");
    }
    let pim = format!(
        "{}{sub}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01",
        mock.arm_url()
    );
    assert_eq!(get(&pim, Some(ARM_TOKEN)).await.0, 200);
    assert_eq!(mock.stats().bad_api_version, 2);
    let unknown_sub = format!(
        "{}/subscriptions/00000000-1111-4222-8333-444444444444/resourcegroups?api-version=2021-04-01",
        mock.arm_url()
    );
    assert_eq!(get(&unknown_sub, Some(ARM_TOKEN)).await.0, 404);
    let unknown_filter = format!("{}{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'x'", mock.arm_url());
    assert_eq!(get(&unknown_filter, Some(ARM_TOKEN)).await.0, 400);
}

#[tokio::test]
async fn throttling_sends_retry_after_and_detects_early_retries() {
    let options = MockOptions { throttle_rate: 1.0, retry_after_secs: 1, ..Default::default() };
    let mock = start("demo", options).await;
    let url = format!("{}/subscriptions?api-version=2022-12-01", mock.arm_url());

    let (status, headers, body) = get(&url, Some(ARM_TOKEN)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["error"]["code"], "TooManyRequests");
    // A careless client retries at once: it gets through (never two 429s in a row), but it is caught.
    assert_eq!(get(&url, Some(ARM_TOKEN)).await.0, 200);
    assert_eq!(mock.stats().early_retries, 1);

    // A polite client waits for Retry-After.
    let graph = format!("{}/v1.0/users", mock.graph_url());
    assert_eq!(get(&graph, Some(GRAPH_TOKEN)).await.0, 429);
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(get(&graph, Some(GRAPH_TOKEN)).await.0, 200);
    let stats = mock.stats();
    assert_eq!(stats.early_retries, 1);
    assert_eq!(stats.throttled, 2);
}

#[tokio::test]
async fn throttling_can_answer_503() {
    let options = MockOptions { throttle_rate: 1.0, throttle_status: 503, ..Default::default() };
    let mock = start("demo", options).await;
    let (status, headers, body) = get(&format!("{}/v1.0/users", mock.graph_url()), Some(GRAPH_TOKEN)).await;
    assert_eq!((status, headers["retry-after"].to_str().unwrap()), (503, "1"));
    assert_eq!(body["error"]["code"], "ServiceUnavailable");
}

#[tokio::test]
async fn retry_after_can_be_an_http_date() {
    let options = MockOptions { throttle_rate: 1.0, retry_after_secs: 2, retry_after_date: true, ..Default::default() };
    let mock = start("demo", options).await;
    let url = format!("{}/v1.0/groups", mock.graph_url());
    let (status, headers, _) = get(&url, Some(GRAPH_TOKEN)).await;
    assert_eq!(status, 429);
    let date = headers["retry-after"].to_str().unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    let until = httpdate::parse_http_date(date).unwrap();
    let wait = until.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(wait > Duration::from_millis(1_500) && wait <= Duration::from_secs(3), "{wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(get(&url, Some(GRAPH_TOKEN)).await.0, 200);
    assert_eq!(mock.stats().early_retries, 0);
}

#[tokio::test]
async fn throttling_is_deterministic_per_seed_and_every_url_gets_through() {
    async fn run(seed: u64) -> (Vec<u16>, u64) {
        let options = MockOptions { throttle_rate: 0.5, seed, ..Default::default() };
        let mock = start("demo", options).await;
        let mut statuses = Vec::new();
        for sub in mock.tenant().azure.subscriptions.clone() {
            let url = format!(
                "{}{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
                mock.arm_url(),
                sub.id
            );
            let first = get(&url, Some(ARM_TOKEN)).await.0;
            statuses.push(first);
            if first == 429 {
                tokio::time::sleep(Duration::from_millis(1_050)).await; // honour Retry-After: 1
                assert_eq!(get(&url, Some(ARM_TOKEN)).await.0, 200, "second try always succeeds");
            }
        }
        (statuses, mock.stats().early_retries)
    }
    let (a, early) = run(42).await;
    assert_eq!(early, 0);
    assert!(a.contains(&429) && a.contains(&200), "{a:?}");
    let (b, _) = run(42).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn faults_answer_the_configured_status_and_nothing_else() {
    let mock = start("coverage-gaps", MockOptions { page_size: 100, ..Default::default() }).await;
    let t = mock.tenant().clone();
    let prod = sub_id(&t, "litware-prod");
    let finance = sub_id(&t, "litware-finance");
    let ra = |sub: &str| {
        format!("{}{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", mock.arm_url())
    };
    let (status, _, body) = get(&ra(&finance), Some(ARM_TOKEN)).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    assert_eq!(get(&ra(&prod), Some(ARM_TOKEN)).await.0, 200);
    let pim = format!(
        "{}{finance}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01",
        mock.arm_url()
    );
    assert_eq!(get(&pim, Some(ARM_TOKEN)).await.0, 200, "only the faulted route fails");
    let admins = &t.entra.groups[0].id;
    let (status, _, body) = get(&format!("{}/v1.0/groups/{admins}/members", mock.graph_url()), Some(GRAPH_TOKEN)).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(mock.stats().faults, 2);
}

#[tokio::test]
async fn counts_requests_per_route_and_path() {
    let mock = start("pim-eligible", MockOptions::default()).await;
    let sub = mock.tenant().azure.subscriptions[0].id.clone();
    let path = format!("{sub}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances");
    let items = list_all(&mock.arm_url(), &format!("{path}?api-version=2020-10-01"), ARM_TOKEN).await;
    assert_eq!(items.len(), mock.tenant().azure.role_eligibility_schedule_instances.len());
    let stats = mock.stats();
    let pages = items.len().div_ceil(3) as u64;
    assert_eq!(stats.count("arm.roleEligibilityScheduleInstances"), pages);
    assert_eq!(stats.path_count(&path), pages);
    assert_eq!(stats.total(), pages);
    mock.reset_stats();
    assert_eq!(mock.stats().total(), 0);
    let (status, _, _) =
        get(&format!("{}/subscriptions/x/providers/Microsoft.Nope/things", mock.arm_url()), Some(ARM_TOKEN)).await;
    assert_eq!(status, 404);
    assert_eq!(mock.stats().count("unknown"), 1);
}

#[tokio::test]
async fn latency_is_applied() {
    let mock = start("demo", MockOptions { latency: Duration::from_millis(150), ..Default::default() }).await;
    let started = std::time::Instant::now();
    get(&format!("{}/subscriptions?api-version=2022-12-01", mock.arm_url()), Some(ARM_TOKEN)).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

// ---------------------------------------------------------------------------------------------------------
// Managed identities, federated credentials, AKS and Arc clusters, application federated credentials
// ---------------------------------------------------------------------------------------------------------

const S1: &str = "/subscriptions/11111111-1111-4111-8111-111111111111";
const S2: &str = "/subscriptions/22222222-2222-4222-8222-222222222222";
const MI: &str = "providers/Microsoft.ManagedIdentity/userAssignedIdentities";

fn identity(sub: &str, name: &str) -> String {
    format!("{sub}/resourcegroups/rg-id/{MI}/{name}")
}

/// A tenant folder with identities, credentials and clusters in two subscriptions, written as files so that
/// loading is exercised too.
fn workload_tenant(dir: &std::path::Path) -> MockTenant {
    let put = |rel: &str, body: Value| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(&body).unwrap()).unwrap();
    };
    let sub = |id: &str, name: &str| serde_json::json!({"id": id, "subscriptionId": id.rsplit('/').next(), "displayName": name, "state": "Enabled"});
    put("arm/subscriptions.json", serde_json::json!({"value": [sub(S1, "one"), sub(S2, "two")]}));
    let mi = |sub: &str, name: &str, principal: &str| {
        serde_json::json!({"id": identity(sub, name), "name": name, "location": "westeurope",
            "properties": {"principalId": principal, "clientId": format!("c-{principal}"), "tenantId": "t"}})
    };
    put(
        "arm/userAssignedIdentities.json",
        serde_json::json!([mi(S1, "mi-a", "p-a"), mi(S1, "mi-b", "p-b"), mi(S2, "mi-c", "p-c")]),
    );
    let fic = |parent: &str, name: &str, subject: &str| {
        serde_json::json!({"id": format!("{parent}/federatedIdentityCredentials/{name}"), "name": name,
            "properties": {"issuer": "https://oidc.prod-aks.azure.com/t/i1/", "subject": subject,
                           "audiences": ["api://AzureADTokenExchange"]}})
    };
    put(
        "arm/federatedIdentityCredentials.json",
        serde_json::json!({"value": [
            fic(&identity(S1, "mi-a"), "f1", "system:serviceaccount:team-a:aso"),
            fic(&identity(S1, "mi-a"), "f2", "system:serviceaccount:team-b:app"),
            fic(&identity(S2, "mi-c"), "f3", "system:serviceaccount:x:y"),
            fic(&identity(S1, "mi-unlisted"), "orphan", "system:serviceaccount:x:z"),
        ]}),
    );
    put(
        "arm/managedClusters.json",
        serde_json::json!([
            {"id": format!("{S1}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks1"),
             "name": "aks1", "location": "westeurope",
             "identity": {"type": "SystemAssigned", "principalId": "p-aks1"},
             "properties": {"fqdn": "aks1.hcp.westeurope.azmk8s.io", "disableLocalAccounts": false,
                "aadProfile": {"managed": true, "enableAzureRBAC": true, "adminGroupObjectIDs": ["g-admins"]},
                "oidcIssuerProfile": {"enabled": true, "issuerURL": "https://oidc.prod-aks.azure.com/t/i1/"},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
                "identityProfile": {"kubeletidentity": {"resourceId": identity(S1, "aks1-agentpool"), "clientId": "c-k", "objectId": "p-k"}},
                "servicePrincipalProfile": {"clientId": "msi", "secret": "PLANTED-SP-SECRET"},
                "linuxProfile": {"adminUsername": "azureuser", "ssh": {"publicKeys": [{"keyData": "PLANTED-SSH-KEY"}]}}}},
            {"id": format!("{S2}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks2"),
             "name": "aks2", "properties": {}}
        ]),
    );
    put(
        "arm/connectedClusters.json",
        serde_json::json!([{"id": format!("{S1}/resourceGroups/rg-arc/providers/Microsoft.Kubernetes/connectedClusters/arc1"),
            "name": "arc1", "identity": {"type": "SystemAssigned", "principalId": "p-arc"},
            "properties": {"distribution": "k3s", "agentPublicKeyCertificate": "PLANTED-AGENT-CERT",
                "oidcIssuerProfile": {"enabled": true, "issuerUrl": "https://arc.example/issuer"}}}]),
    );
    put(
        "graph/applications.json",
        serde_json::json!({"value": [{"id": "app1", "appId": "a1"}, {"id": "app2", "appId": "a2"}]}),
    );
    let cred = |n: u32| {
        serde_json::json!({"id": format!("c{n}"), "name": format!("gh-{n}"), "issuer": "https://token.actions.githubusercontent.com",
            "subject": format!("repo:org/r{n}:ref:refs/heads/main"), "audiences": ["api://AzureADTokenExchange"], "description": "d"})
    };
    put(
        "graph/applicationFederatedCredentials/app1.json",
        serde_json::json!({"@odata.context": "x", "value": [cred(1), cred(2), cred(3), cred(4)]}),
    );
    MockTenant::load(dir).unwrap()
}

#[tokio::test]
async fn identities_and_clusters_are_listed_per_subscription_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockAzure::start(workload_tenant(dir.path()), MockOptions::default()).await.unwrap();
    let arm = mock.arm_url();
    let list = |path: String| {
        let arm = arm.clone();
        async move { list_all(&arm, &path, ARM_TOKEN).await }
    };
    let names = |items: &[Value]| items.iter().map(|i| i["name"].as_str().unwrap().to_string()).collect::<HashSet<_>>();
    let uai = |sub: &str| format!("{sub}/{MI}?api-version=2024-11-30");
    let s1 = list(uai(S1)).await;
    assert_eq!(names(&s1), HashSet::from(["mi-a".to_string(), "mi-b".to_string()]));
    assert_eq!(s1[0]["type"], "Microsoft.ManagedIdentity/userAssignedIdentities");
    assert_eq!(names(&list(uai(S2)).await), HashSet::from(["mi-c".to_string()]));

    let aks = list(format!("{S1}/providers/Microsoft.ContainerService/managedClusters?api-version=2025-10-01")).await;
    assert_eq!(names(&aks), HashSet::from(["aks1".to_string()]));
    let p = &aks[0]["properties"];
    assert_eq!(p["oidcIssuerProfile"]["issuerURL"], "https://oidc.prod-aks.azure.com/t/i1/");
    assert_eq!(p["aadProfile"]["enableAzureRBAC"], true);
    assert_eq!(p["identityProfile"]["kubeletidentity"]["objectId"], "p-k");
    let text = serde_json::to_string(&aks).unwrap();
    assert!(!text.contains("PLANTED") && !text.contains("linuxProfile") && !text.contains("secret"), "{text}");

    let arc = list(format!("{S1}/providers/Microsoft.Kubernetes/connectedClusters?api-version=2026-05-01")).await;
    assert_eq!(names(&arc), HashSet::from(["arc1".to_string()]));
    assert_eq!(arc[0]["properties"]["oidcIssuerProfile"]["issuerUrl"], "https://arc.example/issuer", "Arc spelling");
    assert!(list(format!("{S2}/providers/Microsoft.Kubernetes/connectedClusters?api-version=2026-05-01"))
        .await
        .is_empty());

    // Pinned api-versions, unknown subscriptions.
    for (url, status) in [
        (format!("{arm}{S1}/{MI}?api-version=2023-01-31"), 400),
        (format!("{arm}{S1}/providers/Microsoft.ContainerService/managedClusters?api-version=2024-01-01"), 400),
        (format!("{arm}{S1}/providers/Microsoft.Kubernetes/connectedClusters?api-version=2024-01-01"), 400),
        (format!("{arm}/subscriptions/33333333-3333-4333-8333-333333333333/{MI}?api-version=2024-11-30"), 404),
    ] {
        assert_eq!(get(&url, Some(ARM_TOKEN)).await.0, status, "{url}");
    }
    let stats = mock.stats();
    assert_eq!(stats.bad_api_version, 3);
    assert_eq!(stats.count("arm.userAssignedIdentities"), 4);
    assert_eq!(stats.count("arm.managedClusters"), 2);
    assert_eq!(stats.count("arm.connectedClusters"), 3);
}

#[tokio::test]
async fn each_identity_lists_its_own_federated_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockAzure::start(workload_tenant(dir.path()), MockOptions::default()).await.unwrap();
    let fics = |id: &str| format!("{id}/federatedIdentityCredentials?api-version=2024-11-30");
    let a = list_all(&mock.arm_url(), &fics(&identity(S1, "mi-a")), ARM_TOKEN).await;
    let subjects: HashSet<&str> = a.iter().map(|c| c["properties"]["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, HashSet::from(["system:serviceaccount:team-a:aso", "system:serviceaccount:team-b:app"]));
    assert_eq!(a[0]["type"], "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials");
    assert!(list_all(&mock.arm_url(), &fics(&identity(S1, "mi-b")), ARM_TOKEN).await.is_empty());
    // Case-insensitive, as ARM is.
    let upper = fics(&identity(S2, "MI-C").replace("resourcegroups", "resourceGroups"));
    assert_eq!(list_all(&mock.arm_url(), &upper, ARM_TOKEN).await.len(), 1);
    // An identity that does not exist: 404, even though a credential in the file names it.
    let url = format!("{}{}", mock.arm_url(), fics(&identity(S1, "mi-unlisted")));
    let (status, _, body) = get(&url, Some(ARM_TOKEN)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("ResourceNotFound")));
    let wrong = format!("{}{}", mock.arm_url(), fics(&identity(S1, "mi-a")).replace("2024-11-30", "2023-01-31"));
    assert_eq!(get(&wrong, Some(ARM_TOKEN)).await.0, 400);
    assert_eq!(mock.stats().count("arm.federatedIdentityCredentials"), 5);
}

#[tokio::test]
async fn application_federated_credentials_are_paged_per_application() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockAzure::start(workload_tenant(dir.path()), MockOptions::default()).await.unwrap();
    let path = |app: &str| format!("/v1.0/applications/{app}/federatedIdentityCredentials");
    let creds = list_all(&mock.graph_url(), &path("app1"), GRAPH_TOKEN).await;
    assert_eq!(ids(&creds), HashSet::from(["c1", "c2", "c3", "c4"].map(String::from)));
    assert_eq!(creds[0]["issuer"], "https://token.actions.githubusercontent.com");
    assert_eq!(mock.stats().count("graph.applicationFederatedCredentials"), 2, "4 credentials, pages of 3");
    assert!(list_all(&mock.graph_url(), &path("APP2"), GRAPH_TOKEN).await.is_empty(), "no file: none");
    let (status, _, body) = get(&format!("{}{}", mock.graph_url(), path("nope")), Some(GRAPH_TOKEN)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("Request_ResourceNotFound")));
    // The Graph token only: the ARM one is refused.
    assert_eq!(get(&format!("{}{}", mock.graph_url(), path("app1")), Some(ARM_TOKEN)).await.0, 401);
}

#[test]
fn workload_records_reach_the_snapshot_and_survive_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = workload_tenant(dir.path());
    let snap = tenant.to_snapshot();
    let a = &snap.azure;
    assert_eq!(a.user_assigned_identities.len(), 3);
    let fics: Vec<&str> = a.federated_identity_credentials.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fics, ["f1", "f2", "f3"], "the credential of an unlisted identity is never collected");
    assert_eq!((a.managed_clusters.len(), a.connected_clusters.len()), (2, 1));
    let arc_issuer = a.connected_clusters[0].properties.oidc_issuer_profile.as_ref().and_then(|o| o.issuer_url.clone());
    assert_eq!(arc_issuer.as_deref(), Some("https://arc.example/issuer"));
    let apps = &snap.entra.application_federated_credentials;
    assert_eq!((apps.len(), apps[0].application_id.as_str(), apps[0].credentials.len()), (1, "app1", 4));
    let text = snap.to_json();
    assert!(!text.contains("PLANTED"), "a secret reached the snapshot");

    let out = tempfile::tempdir().unwrap();
    tenant.write(out.path()).unwrap();
    let back = MockTenant::load(out.path()).unwrap();
    assert_eq!(back.azure.user_assigned_identities, tenant.azure.user_assigned_identities);
    assert_eq!(back.azure.federated_identity_credentials, tenant.azure.federated_identity_credentials);
    assert_eq!(back.azure.managed_clusters, tenant.azure.managed_clusters);
    assert_eq!(back.azure.connected_clusters, tenant.azure.connected_clusters);
    assert_eq!(back.entra.application_federated_credentials, tenant.entra.application_federated_credentials);
}

#[test]
fn a_malformed_cluster_file_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("arm")).unwrap();
    std::fs::write(
        dir.path().join("arm/managedClusters.json"),
        r#"[{"id": "x", "properties": {"disableLocalAccounts": "no"}}]"#,
    )
    .unwrap();
    let err = MockTenant::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("arm/managedClusters.json") && err.contains("[0].properties.disableLocalAccounts"), "{err}");
}

#[tokio::test]
async fn app_role_assignments_are_expanded_only_when_asked_cut_at_20_and_listed_whole() {
    use azpath_graph::snapshot::AppRoleAssignment;
    let mut tenant = MockTenant::bundled("entra-control-plane").unwrap();
    let sp = tenant.entra.service_principals[0].id.clone();
    tenant.entra.app_role_assignments.extend((0..25).map(|i| AppRoleAssignment {
        id: format!("grant-{i:02}"),
        app_role_id: format!("00000000-0000-0000-0000-{i:012}"),
        principal_id: sp.clone(),
        resource_id: "resource".into(),
        ..Default::default()
    }));
    let mock = MockAzure::start(tenant, MockOptions { page_size: 100, ..Default::default() }).await.unwrap();
    let base = mock.graph_url();
    let grants_of = |items: &[Value]| {
        items
            .iter()
            .find(|s| s["id"] == sp.as_str())
            .map(|s| s.get("appRoleAssignments").and_then(Value::as_array).map(Vec::len))
    };
    let plain = list_all(&base, "/v1.0/servicePrincipals?$select=id&$top=999", GRAPH_TOKEN).await;
    assert_eq!(grants_of(&plain), Some(None), "no grants without $expand");
    let expanded =
        list_all(&base, "/v1.0/servicePrincipals?$select=id&$expand=appRoleAssignments&$top=999", GRAPH_TOKEN).await;
    assert_eq!(grants_of(&expanded), Some(Some(20)), "cut at 20 like every expanded relationship");
    let all = list_all(&base, &format!("/v1.0/servicePrincipals/{sp}/appRoleAssignments?$top=999"), GRAPH_TOKEN).await;
    assert_eq!(all.len(), 25);
    let unknown = format!("{base}/v1.0/servicePrincipals/6f1e0c5e-0000-4000-8000-000000000000/appRoleAssignments");
    let (status, _, body) = get(&unknown, Some(GRAPH_TOKEN)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("Request_ResourceNotFound")));
}

#[tokio::test]
async fn pim_for_groups_is_listed_per_group_and_refused_without_the_filter() {
    let mock = start("entra-control-plane", MockOptions::default()).await;
    let tenant = MockTenant::bundled("entra-control-plane").unwrap();
    let tier0 = tenant.entra.groups.iter().find(|g| g.is_assignable_to_role == Some(true)).unwrap().id.clone();
    let other = tenant.entra.groups.iter().find(|g| g.is_assignable_to_role != Some(true)).unwrap().id.clone();
    let base = mock.graph_url();
    let pim = "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances";
    let of_tier0 = list_all(&base, &format!("{pim}?$filter=groupId eq '{tier0}'"), GRAPH_TOKEN).await;
    let expected = tenant.entra.group_eligibility_schedule_instances.iter().filter(|i| i.group_id == tier0).count();
    assert_eq!((of_tier0.len(), expected), (3, 3), "Erin Cho's, and the expired and future decoys");
    assert_eq!(of_tier0[0]["accessId"], "member");
    assert!(list_all(&base, &format!("{pim}?$filter=groupId eq '{other}'"), GRAPH_TOKEN).await.is_empty());
    let (status, _, _) = get(&format!("{base}{pim}"), Some(GRAPH_TOKEN)).await;
    assert_eq!(status, 400, "Graph requires the groupId or principalId filter");
    let roles = list_all(&base, "/v1.0/roleManagement/directory/roleAssignments", GRAPH_TOKEN).await;
    assert_eq!(roles.len(), tenant.entra.directory_role_assignments.len());
    assert_eq!(mock.stats().count("graph.directoryRoleAssignments"), 1);
}
