//! The synthetic generator: deterministic, consistent, and able to reach enterprise scale.

use std::collections::HashSet;

use azpath_mocks::{generate, GenerateOptions, MockAzure, MockOptions, MockTenant};

#[test]
fn same_seed_same_tenant_other_seed_other_tenant() {
    let a = generate(&GenerateOptions::default()).to_snapshot().to_json();
    let b = generate(&GenerateOptions::default()).to_snapshot().to_json();
    assert_eq!(a, b);
    let c = generate(&GenerateOptions { seed: 2, ..Default::default() }).to_snapshot().to_json();
    assert_ne!(a, c);
}

#[test]
fn generated_tenant_is_a_realistic_mix() {
    let t = generate(&GenerateOptions::default());
    let a = &t.azure;
    assert_eq!(t.entra.users.len(), 200);
    assert!(a.management_groups.len() == 6 && a.subscriptions.len() == 4);
    let scopes: HashSet<&str> = a
        .role_assignments
        .iter()
        .map(|r| match r.properties.scope.as_str() {
            "/" => "root",
            s if s.starts_with("/providers/") => "mg",
            s if s.contains("/providers/") => "resource",
            s if s.contains("/resourceGroups/") => "rg",
            _ => "subscription",
        })
        .collect();
    assert!(scopes.is_superset(&HashSet::from(["mg", "subscription", "rg", "resource"])), "{scopes:?}");
    assert_eq!(a.role_eligibility_schedule_instances.len(), 12);
    assert_eq!(a.deny_assignments.len(), 2);
    assert!(a.role_definitions.iter().all(|r| r.properties.role_type.as_deref() == Some("CustomRole")));
    let nested = t
        .entra
        .group_members
        .iter()
        .flat_map(|g| &g.members)
        .any(|m| m.odata_type.as_deref() == Some("#microsoft.graph.group"));
    assert!(nested, "some groups are nested");
    assert!(a.role_assignments.iter().any(|r| r.properties.condition.is_some()), "some constrained delegation");
    let ids: HashSet<&str> =
        t.entra.users.iter().map(|u| u.id.as_str()).chain(t.entra.groups.iter().map(|g| g.id.as_str())).collect();
    assert_eq!(ids.len(), 230, "object ids are unique");
}

#[test]
fn generated_tenant_writes_and_loads_back() {
    let t = generate(&GenerateOptions { users: 50, groups: 10, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    t.write(dir.path()).unwrap();
    let back = MockTenant::load(dir.path()).unwrap();
    assert_eq!(t.to_snapshot().to_json(), back.to_snapshot().to_json());
}

#[test]
fn scales_to_a_hundred_thousand_nodes() {
    let options = GenerateOptions::sized(100_000, 7);
    let t = generate(&options);
    let nodes = t.node_count();
    assert!((90_000..=110_000).contains(&nodes), "{nodes}");
    // Plus one assignment per generated cluster identity.
    let identities = t.azure.user_assigned_identities.len();
    assert!(identities > 0 && t.kube.len() == options.clusters, "{identities} identities, {} clusters", t.kube.len());
    assert_eq!(t.azure.role_assignments.len(), options.role_assignments + identities);
    let subs: HashSet<&str> = t.azure.subscriptions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(subs.len(), options.subscriptions);
}

/// About 1M nodes, written to disk and read back (about a minute in a debug build); run it on demand: `cargo test -p azpath-mocks --release -- --ignored`.
#[test]
#[ignore]
fn scales_to_a_million_nodes() {
    let t = generate(&GenerateOptions::sized(1_000_000, 1));
    assert!(t.node_count() >= 900_000);
    let dir = tempfile::tempdir().unwrap();
    t.write(dir.path()).unwrap();
    let back = MockTenant::load(dir.path()).unwrap();
    assert_eq!(back.node_count(), t.node_count());
    assert_eq!(back.azure.role_assignments.len(), t.azure.role_assignments.len());
}

#[tokio::test]
async fn generated_tenant_is_served() {
    let t = generate(&GenerateOptions::default());
    let users = t.entra.users.len();
    let mock = MockAzure::start(t, MockOptions { page_size: 64, ..Default::default() }).await.unwrap();
    let client = reqwest::Client::new();
    let mut url = format!("{}/v1.0/users", mock.graph_url());
    let mut seen = 0;
    loop {
        let text = client.get(&url).bearer_auth("mock-graph-token").send().await.unwrap().text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        seen += body["value"].as_array().unwrap().len();
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, users);
}

/// A large tenant is served without re-filtering per page: each listing is filtered once and cached.
#[tokio::test]
async fn large_tenant_listing_is_served() {
    let t = generate(&GenerateOptions::sized(100_000, 3));
    let sub = t.azure.subscriptions[0].id.clone();
    let mock = MockAzure::start(t, MockOptions { page_size: 200, ..Default::default() }).await.unwrap();
    let client = reqwest::Client::new();
    let mut url =
        format!("{}{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", mock.arm_url());
    let mut seen = HashSet::new();
    loop {
        let text = client.get(&url).bearer_auth("mock-arm-token").send().await.unwrap().text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        for item in body["value"].as_array().unwrap() {
            let scope = item["properties"]["scope"].as_str().unwrap().to_ascii_lowercase();
            assert!(
                scope == "/" || scope.starts_with("/providers/") || scope.starts_with(&sub.to_ascii_lowercase()),
                "{scope}"
            );
            assert!(seen.insert(item["id"].as_str().unwrap().to_string()));
        }
        match body["nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert!(!seen.is_empty());
}

#[test]
fn empty_and_tiny_options_do_not_panic() {
    let zero = GenerateOptions {
        users: 0,
        groups: 0,
        service_principals: 0,
        subscriptions: 0,
        management_groups: 0,
        resource_groups_per_subscription: 0,
        custom_roles: 3,
        role_assignments: 10,
        eligible_assignments: 2,
        deny_assignments: 2,
        clusters: 3,
        namespaces_per_cluster: 4,
        seed: 9,
    };
    let t = generate(&zero);
    assert_eq!(t.azure.role_assignments.len(), 10);
    assert!(t.azure.role_assignments.iter().all(|r| r.properties.scope == "/"));
    // Clusters need somewhere to live and someone to bind: without groups there are none.
    let no_directory = GenerateOptions { users: 0, groups: 0, clusters: 2, ..Default::default() };
    assert!(generate(&no_directory).kube.is_empty());
    for n in [0, 1, 20, 500] {
        let t = generate(&GenerateOptions::sized(n, 1));
        assert!(!t.azure.subscriptions.is_empty());
    }
}
