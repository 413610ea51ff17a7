//! The bundled tenants and the built-in roles file: they load, they are consistent, bad files fail clearly.

use std::collections::{HashMap, HashSet};

use azpath_graph::snapshot::RoleDefinition;
use azpath_mocks::{bundled_names, tenants_dir, Expectation, Expected, MockTenant, TenantError};
use serde::Deserialize;

/// The built-in query ids: the stems of `queries/*.toml`.
fn queries() -> HashSet<String> {
    std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect()
}

#[test]
fn every_tenant_folder_is_bundled_and_loads() {
    let mut dirs: Vec<String> = std::fs::read_dir(tenants_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(bundled_names(), dirs);
    for name in [
        "demo",
        "wildcard-actions",
        "scope-inheritance",
        "constrained-delegation",
        "deny-assignments",
        "pim-eligible",
        "nested-groups",
        "coverage-gaps",
        "aks-pod-identity",
    ] {
        assert!(dirs.iter().any(|d| d == name), "missing tenant {name}");
    }
    for name in bundled_names() {
        let bundled = MockTenant::bundled(name).unwrap();
        let loaded = MockTenant::load(tenants_dir().join(name)).unwrap();
        assert_eq!(bundled.to_snapshot().to_json(), loaded.to_snapshot().to_json(), "{name}");
        assert!(!bundled.info.tenant_id.is_empty(), "{name}: tenant.json");
        assert!(!bundled.azure.subscriptions.is_empty(), "{name}: no subscription");
    }
    assert!(MockTenant::bundled("no-such-tenant").is_none());
}

/// Every record points at something that exists: principals in the directory (except the deliberately deleted
/// ones), role definitions among built-ins and custom roles, scopes under known subscriptions or groups.
#[test]
fn bundled_tenants_are_consistent() {
    let builtins: HashSet<String> = azpath_mocks::builtin_role_definitions().into_iter().map(|r| r.name).collect();
    for name in bundled_names() {
        let t = MockTenant::bundled(name).unwrap();
        let directory: HashSet<String> = t
            .entra
            .users
            .iter()
            .map(|u| u.id.to_string())
            .chain(t.entra.groups.iter().map(|g| g.id.clone()))
            .chain(t.entra.service_principals.iter().map(|s| s.id.clone()))
            .collect();
        let roles: HashSet<String> =
            builtins.iter().cloned().chain(t.azure.role_definitions.iter().map(|r| r.name.clone())).collect();
        let subs: HashSet<String> = t.azure.subscriptions.iter().map(|s| s.id.to_ascii_lowercase()).collect();
        let mgs: HashSet<String> = t.azure.management_groups.iter().map(|g| g.id.to_ascii_lowercase()).collect();
        let scope_known = |scope: &str| {
            let s = scope.to_ascii_lowercase();
            s == "/" || mgs.contains(&s) || subs.iter().any(|sub| s == *sub || s.starts_with(&format!("{sub}/")))
        };
        let mut deleted = 0;
        let assignments = t
            .azure
            .role_assignments
            .iter()
            .map(|r| &r.properties)
            .chain(t.azure.role_eligibility_schedule_instances.iter().map(|r| &r.properties));
        for p in assignments {
            if !directory.contains(p.principal_id.as_str()) {
                deleted += 1;
            }
            let guid = p.role_definition_id.rsplit('/').next().unwrap();
            assert!(roles.contains(guid), "{name}: unknown role {}", p.role_definition_id);
            assert!(scope_known(&p.scope), "{name}: unknown scope {}", p.scope);
        }
        assert_eq!(deleted, usize::from(name == "demo"), "{name}: principals missing from the directory");
        for members in &t.entra.group_members {
            assert!(directory.contains(&members.group_id), "{name}: members of unknown group");
            for m in &members.members {
                assert!(directory.contains(m.id.as_str()), "{name}: unknown member {}", m.id);
                assert!(m.odata_type.is_some(), "{name}: member without @odata.type");
            }
        }
        for d in &t.azure.deny_assignments {
            assert!(scope_known(&d.properties.scope), "{name}: deny scope {}", d.properties.scope);
        }
    }
}

#[test]
fn expected_files_name_real_queries_principals_and_scopes() {
    for name in bundled_names() {
        let expected = Expected::bundled(name).unwrap_or_else(|| panic!("{name}: no expected.toml")).unwrap();
        assert_eq!(Expected::load(tenants_dir().join(name)).unwrap(), expected);
        assert!(!expected.description.trim().is_empty());
        assert!(
            !expected.present.is_empty() && !expected.absent.is_empty(),
            "{name}: needs positive and negative cases"
        );
        let t = MockTenant::bundled(name).unwrap();
        let directory: HashSet<&str> = t
            .entra
            .users
            .iter()
            .map(|u| u.id.as_str())
            .chain(t.entra.groups.iter().map(|g| g.id.as_str()))
            .chain(t.entra.service_principals.iter().map(|s| s.id.as_str()))
            .collect();
        let scopes: HashSet<String> = t
            .azure
            .subscriptions
            .iter()
            .map(|s| s.id.to_ascii_lowercase())
            .chain(t.azure.management_groups.iter().map(|g| g.id.to_ascii_lowercase()))
            .collect();
        let queries = queries();
        // Kubernetes node ids live under a collected cluster: `<cluster id>/k8s/…`.
        let clusters: Vec<String> =
            t.azure.managed_clusters.iter().map(|c| format!("{}/k8s/", c.id.to_ascii_lowercase())).collect();
        let kube_node = |id: &str| clusters.iter().any(|c| id.starts_with(c.as_str()));
        for e in expected.present.iter().chain(&expected.absent) {
            assert!(queries.contains(&e.query), "{name}: unknown query {}", e.query);
            assert!(
                directory.contains(e.source.as_str()) || kube_node(&e.source),
                "{name}: unknown source {}",
                e.source
            );
            if let Some(target) = &e.target {
                let t = target.to_ascii_lowercase();
                assert!(
                    scopes.contains(&t) || directory.contains(target.as_str()) || kube_node(&t),
                    "{name}: unknown target {target}"
                );
            }
        }
        let key =
            |e: &Expectation| (e.query.clone(), e.source.clone(), e.target.clone().map(|t| t.to_ascii_lowercase()));
        let present: HashSet<_> = expected.present.iter().map(key).collect();
        for a in &expected.absent {
            assert!(!present.contains(&key(a)), "{name}: {a:?} is both present and absent");
        }
    }
}

#[test]
fn builtin_roles_file_is_valid_and_complete() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../graph/data/builtin-roles.json");
    let text = std::fs::read_to_string(&path).unwrap();
    #[derive(Deserialize)]
    struct Body {
        value: Vec<serde_json::Value>,
    }
    let body: Body = serde_json::from_str(&text).unwrap();
    let mut guids = HashSet::new();
    let mut by_name = HashMap::new();
    for (i, raw) in body.value.into_iter().enumerate() {
        assert_eq!(raw["type"], "Microsoft.Authorization/roleDefinitions", "entry {i}");
        assert!(raw["properties"].is_object(), "entry {i}: not in ARM wire shape");
        let role: RoleDefinition = serde_path_to_error::deserialize(raw).unwrap_or_else(|e| panic!("entry {i}: {e}"));
        assert!(azpath_graph::rbac::is_guid(&role.name), "{}", role.name);
        assert_eq!(role.id, format!("/providers/Microsoft.Authorization/roleDefinitions/{}", role.name));
        assert_eq!(role.properties.role_type.as_deref(), Some("BuiltInRole"));
        assert_eq!(role.properties.assignable_scopes, vec!["/"]);
        assert!(!role.properties.permissions.is_empty());
        assert!(guids.insert(role.name.clone()), "duplicate GUID {}", role.name);
        by_name.insert(role.properties.role_name.clone(), role.name.clone());
    }
    for (name, guid) in [
        ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
        ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
        ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
        ("User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"),
        ("Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168"),
        ("Azure Kubernetes Service Cluster Admin Role", "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"),
        ("Azure Kubernetes Service Cluster User Role", "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"),
        ("Azure Kubernetes Service Contributor Role", "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8"),
        ("Azure Kubernetes Service RBAC Admin", "3498e952-d568-435e-9b2c-8d77e338d7f7"),
        ("Azure Kubernetes Service RBAC Cluster Admin", "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"),
        ("Azure Kubernetes Service RBAC Reader", "7f6c6a51-bcf8-42ba-9220-52d62157d7db"),
        ("Azure Kubernetes Service RBAC Writer", "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"),
        ("Managed Identity Operator", "f1a07417-d97a-45cb-824c-7a7467783830"),
        ("Managed Identity Contributor", "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"),
        ("Virtual Machine Contributor", "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"),
        ("Key Vault Administrator", "00482a5a-887f-4fb3-b363-3b7fe8e74483"),
        ("Website Contributor", "de139f84-1756-47ae-9be6-808fbbe84772"),
        ("Storage Account Contributor", "17d1049b-9a84-46fb-8f53-869881c3d3ab"),
    ] {
        assert_eq!(by_name.get(name).map(String::as_str), Some(guid), "{name}");
    }
}

#[test]
fn bad_file_is_an_error_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("arm")).unwrap();
    std::fs::write(
        dir.path().join("arm/roleAssignments.json"),
        r#"{"value":[{"id":"/a","properties":{"scope":"/","roleDefinitionId":"r","principalId":"p"}},
                     {"id":"/b","properties":{"scope":["/"],"roleDefinitionId":"r","principalId":"p"}}]}"#,
    )
    .unwrap();
    let err = MockTenant::load(dir.path()).unwrap_err();
    assert!(matches!(err, TenantError::Invalid { .. }));
    let text = err.to_string();
    assert!(text.contains("arm/roleAssignments.json"), "{text}");
    assert!(text.contains("value[1].properties.scope"), "{text}");

    std::fs::write(dir.path().join("arm/roleAssignments.json"), "{\"value\": [").unwrap();
    let text = MockTenant::load(dir.path()).unwrap_err().to_string();
    assert!(text.starts_with("arm/roleAssignments.json"), "{text}");

    std::fs::write(dir.path().join("arm/roleAssignments.json"), "[]").unwrap();
    std::fs::create_dir_all(dir.path().join("graph/members")).unwrap();
    std::fs::write(dir.path().join("graph/members/g1.json"), r#"{"value":[{"displayName":"no id"}]}"#).unwrap();
    let text = MockTenant::load(dir.path()).unwrap_err().to_string();
    assert!(text.contains("graph/members/g1.json") && text.contains("value[0]"), "{text}");

    std::fs::remove_file(dir.path().join("graph/members/g1.json")).unwrap();
    std::fs::write(
        dir.path().join("faults.json"),
        r#"[{"path":"/subscriptions","status":403},{"path":"/x","status":1000}]"#,
    )
    .unwrap();
    let text = MockTenant::load(dir.path()).unwrap_err().to_string();
    assert!(text.contains("faults.json") && text.contains("[1].status"), "{text}");

    assert!(matches!(MockTenant::load(dir.path().join("nope")), Err(TenantError::NotFound(_))));
}

#[test]
fn missing_files_are_empty_lists_and_write_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let empty = MockTenant::load(dir.path()).unwrap();
    assert!(empty.azure.role_assignments.is_empty() && empty.entra.users.is_empty());

    let demo = MockTenant::bundled("demo").unwrap();
    let out = dir.path().join("copy");
    demo.write(&out).unwrap();
    let back = MockTenant::load(&out).unwrap();
    assert_eq!(demo.to_snapshot().to_json(), back.to_snapshot().to_json());
    assert_eq!(demo.info, back.info);
}
