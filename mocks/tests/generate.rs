//! The synthetic generator: deterministic, consistent, and able to reach enterprise scale.

use std::collections::{HashMap, HashSet};

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
        large_groups: 2,
        memberships_per_user: 3,
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

/// The company tier (`--size 20000`) has the shapes of a real directory: users in several groups, department
/// groups of thousands holding Contributor/Owner high up, small team groups nested a few levels and holding
/// resource-group roles, identities with roles, owners and federated credentials, several subscriptions per
/// management group, a handful of tenant-root grants, and AKS clusters whose objects reach Azure.
#[test]
fn company_tier_has_realistic_shapes() {
    let t = generate(&GenerateOptions::sized(20_000, 1));
    let (e, a) = (&t.entra, &t.azure);
    let users: HashSet<&str> = e.users.iter().map(|u| u.id.as_str()).collect();
    let members_of: HashMap<&str, Vec<&str>> = e
        .group_members
        .iter()
        .map(|g| (g.group_id.as_str(), g.members.iter().map(|m| m.id.as_str()).collect()))
        .collect();
    let memberships: usize = members_of.values().flatten().filter(|m| users.contains(*m)).count();
    let mean = memberships as f64 / e.users.len() as f64;
    assert!((4.0..=6.0).contains(&mean), "{mean:.2} groups per user");

    let high_roles = ["b24988ac-6180-42a0-ab88-20f7382dd24c", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"];
    let high_up = |scope: &str| scope.starts_with("/providers/") || scope.matches('/').count() == 2;
    let big_holders: Vec<&str> = a
        .role_assignments
        .iter()
        .filter(|r| high_roles.iter().any(|g| r.properties.role_definition_id.ends_with(g)))
        .filter(|r| high_up(&r.properties.scope))
        .map(|r| r.properties.principal_id.as_str())
        .filter(|p| members_of.get(p).is_some_and(|m| m.len() >= 2_000))
        .collect();
    assert!(!big_holders.is_empty(), "a group of thousands holds Contributor or Owner at a subscription or MG");

    let small_rg_groups: HashSet<&str> = a
        .role_assignments
        .iter()
        .filter(|r| r.properties.principal_type.as_deref() == Some("Group"))
        .filter(|r| r.properties.scope.contains("/resourceGroups/") && !r.properties.scope.contains("/providers/"))
        .map(|r| r.properties.principal_id.as_str())
        .filter(|p| members_of.get(p).map_or(0, |m| m.len()) < 100)
        .collect();
    assert!(small_rg_groups.len() >= 300, "{} small groups with resource-group roles", small_rg_groups.len());

    assert!((3..=6).contains(&nesting_depth(&t)), "nested a few levels: {}", nesting_depth(&t));
    let root = a.role_assignments.iter().filter(|r| r.properties.scope == "/").count();
    assert!((1..=6).contains(&root), "{root} grants at the tenant root");

    let sp_kind: HashMap<&str, &str> = e
        .service_principals
        .iter()
        .map(|s| (s.id.as_str(), s.service_principal_type.as_deref().unwrap_or("")))
        .collect();
    let holder_kinds: HashSet<&str> =
        a.role_assignments.iter().filter_map(|r| sp_kind.get(r.properties.principal_id.as_str()).copied()).collect();
    assert!(holder_kinds.is_superset(&HashSet::from(["ManagedIdentity", "Application"])), "{holder_kinds:?}");
    assert!(e.applications.iter().filter(|a| !a.owners.is_empty()).count() > e.applications.len() / 2);
    assert!(!e.application_federated_credentials.is_empty(), "some applications trust GitHub Actions");

    let most_subs = a
        .management_groups
        .iter()
        .map(|m| m.properties.children.as_ref().map_or(0, |c| c.iter().filter(|c| c.kind == "/subscriptions").count()))
        .max();
    assert!(most_subs >= Some(3), "a management group with several subscriptions: {most_subs:?}");

    assert!(!t.kube.is_empty());
    let group_bindings = t
        .kube
        .iter()
        .flat_map(|d| &d.objects.role_bindings)
        .filter(|b| b.subjects.iter().any(|s| s.kind == "Group"))
        .count();
    assert!(group_bindings >= 50, "{group_bindings} RoleBindings to Entra groups");
    assert!(!a.federated_identity_credentials.is_empty(), "workload identity / ASO federation");
}

/// The longest chain of nested groups (group → the group it is a member of → …); panics on a cycle.
fn nesting_depth(t: &MockTenant) -> usize {
    let groups: HashSet<&str> = t.entra.groups.iter().map(|g| g.id.as_str()).collect();
    let mut parent_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for g in &t.entra.group_members {
        for m in g.members.iter().filter(|m| groups.contains(m.id.as_str())) {
            parent_of.entry(m.id.as_str()).or_default().push(g.group_id.as_str());
        }
    }
    fn depth<'a>(g: &'a str, parent_of: &HashMap<&'a str, Vec<&'a str>>, seen: &mut Vec<&'a str>) -> usize {
        assert!(!seen.contains(&g), "cycle through {g}");
        seen.push(g);
        let d = parent_of.get(g).map_or(0, |ps| ps.iter().map(|p| 1 + depth(p, parent_of, seen)).max().unwrap_or(0));
        seen.pop();
        d
    }
    parent_of.keys().map(|g| depth(g, &parent_of, &mut Vec::new())).max().unwrap_or(0)
}

#[test]
fn sizes_are_numbers_or_tiers() {
    use azpath_mocks::generate::{parse_size, TIERS};
    assert_eq!(parse_size("20000"), Ok(20_000));
    assert_eq!(parse_size("20k"), Ok(20_000));
    assert_eq!(parse_size("1_000_000"), Ok(1_000_000));
    assert_eq!(parse_size("1M"), Ok(1_000_000));
    assert_eq!(parse_size("company"), Ok(20_000));
    assert!(TIERS.iter().any(|(name, nodes, _)| *name == "1m" && *nodes == 1_000_000));
    let err = parse_size("huge").unwrap_err();
    assert!(err.contains("`huge`") && err.contains("company"), "{err}");
    assert!(parse_size("").is_err() && parse_size("-5").is_err() && parse_size("99999999999999999999m").is_err());
}

/// The largest tier reaches a million graph nodes and about five million edges (about a minute in a debug
/// build); run it on demand: `cargo test -p azpath-mocks --test generate -- --ignored`.
#[test]
#[ignore]
fn largest_tier_reaches_a_million_nodes_and_five_million_edges() {
    let snap = generate(&GenerateOptions::sized(1_000_000, 1)).to_snapshot();
    let graph = azpath_graph::graph::PrivilegeGraph::build(&snap);
    let (nodes, edges) = (graph.node_count(), graph.edge_count());
    assert!((1_000_000..1_300_000).contains(&nodes), "{nodes} nodes");
    assert!((4_500_000..6_000_000).contains(&edges), "{edges} edges");
}

/// The generator lists records in a normalized snapshot's order, so making the snapshot of a large tenant
/// does not re-sort millions of memberships.
#[test]
fn generated_lists_are_in_snapshot_order() {
    let t = generate(&GenerateOptions::sized(5_000, 4));
    let snap = t.to_snapshot();
    let ids = |v: &[azpath_graph::snapshot::User]| v.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&t.entra.users), ids(&snap.entra.users));
    assert_eq!(t.entra.groups, snap.entra.groups);
    assert_eq!(t.entra.group_members, snap.entra.group_members);
    assert_eq!(t.entra.service_principals, snap.entra.service_principals);
    assert_eq!(t.azure.role_assignments, snap.azure.role_assignments);
}
