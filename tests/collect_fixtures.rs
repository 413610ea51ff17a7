//! Every published API example in `shared/fixtures/real` parses with the wire type azpath reads it into.
//!
//! Spec examples keep the body under `responses.<code>.body`; Graph docs files and `*-docs-*` files are the
//! body itself. Files for APIs azpath does not collect yet must at least be valid JSON, and are listed in
//! `JSON_ONLY` so that a new fixture forces a decision.

use std::path::{Path, PathBuf};

use azpath::collect::resources::Descendant;
use azpath::collect::Page;
use azpath_graph::snapshot::{
    AppRoleAssignment, Application, DenyAssignment, DirectoryObject, DirectoryRoleAssignment,
    FederatedIdentityCredential, GraphFederatedCredential, Group, ManagedCluster, ManagementGroup, ResourceGroup,
    RoleAssignment, RoleDefinition, RoleEligibilityScheduleInstance, ServicePrincipal, Subscription, User,
    UserAssignedIdentity,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Fixtures of APIs that have no wire type yet (AKS credentials, identity and trusted-access bindings, directory
/// roles, app roles).
/// Fixtures that a wire type rightly refuses: `(file, expected error)`. The test fails if one starts parsing,
/// so the entry gets removed.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // The docs example `$select`s properties without `id`; azpath always selects `id`, and a directory object
    // without one cannot be placed in the graph.
    ("graph/applications-list-v1.0.json", "missing field `id`"),
];

const JSON_ONLY: &[&str] = &[
    "arm-aks/identityBindings-",
    "arm-aks/managedClusters-listClusterAdminCredentials-",
    "arm-aks/managedClusters-listClusterUserCredentials-",
    "arm-aks/trustedAccessRoleBindings-",
    "graph/directoryRoles-list-v1.0.json",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real")
}

/// The response bodies in a file: each `responses.<code>.body` of a spec example, else the whole file.
fn bodies(doc: &Value) -> Vec<Value> {
    match doc.get("responses").and_then(Value::as_object) {
        Some(responses) => responses.values().filter_map(|r| r.get("body").cloned()).collect(),
        None => vec![doc.clone()],
    }
}

fn parse<T: DeserializeOwned>(name: &str, body: &Value) -> Result<(), String> {
    let text = body.to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize::<_, T>(de)
        .map(|_| ())
        .map_err(|e| format!("{name}: at `{}`: {}", e.path(), e.inner()))
}

/// A list body (`value` + next link) parses as a page of `T`; a single object as one `T`.
fn parse_one_or_page<T: DeserializeOwned>(name: &str, body: &Value) -> Result<(), String> {
    if body.get("value").is_some_and(Value::is_array) {
        parse::<Page<T>>(name, body)
    } else {
        parse::<T>(name, body)
    }
}

/// Which wire type a fixture file is read with; `None` for JSON-only files.
fn check(rel: &str, body: &Value) -> Option<Result<(), String>> {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let r = if file.starts_with("builtin-roleDefinition") || file.starts_with("roleDefinition") {
        parse_one_or_page::<RoleDefinition>(rel, body)
    } else if file.starts_with("roleAssignment") && rel.starts_with("arm-authorization/") {
        parse_one_or_page::<RoleAssignment>(rel, body)
    } else if file.starts_with("denyAssignments") {
        parse_one_or_page::<DenyAssignment>(rel, body)
    } else if rel.starts_with("arm-pim/") {
        // Eligibility and assignment schedules (and their instances) share the properties azpath reads.
        parse_one_or_page::<RoleEligibilityScheduleInstance>(rel, body)
    } else if file.starts_with("managementGroups-getDescendants") {
        parse_one_or_page::<Descendant>(rel, body)
    } else if file.starts_with("managementGroups") {
        parse_one_or_page::<ManagementGroup>(rel, body)
    } else if file.starts_with("resourceGroups") {
        parse_one_or_page::<ResourceGroup>(rel, body)
    } else if file.starts_with("subscriptions") {
        parse_one_or_page::<Subscription>(rel, body)
    } else if file.starts_with("users") {
        parse_one_or_page::<User>(rel, body)
    } else if file.starts_with("groups") {
        parse_one_or_page::<Group>(rel, body)
    } else if file.starts_with("group-") || file.ends_with("-owners-list-v1.0.json") {
        // members, transitive members, owners: directory object references.
        parse_one_or_page::<DirectoryObject>(rel, body)
    } else if file.starts_with("roleManagement-directory-roleAssignments") {
        parse_one_or_page::<DirectoryRoleAssignment>(rel, body)
    } else if file.starts_with("servicePrincipal-appRoleAssign") {
        parse_one_or_page::<AppRoleAssignment>(rel, body)
    } else if file.starts_with("servicePrincipal-get") || file.starts_with("servicePrincipals") {
        parse_one_or_page::<ServicePrincipal>(rel, body)
    } else if file.starts_with("applications") {
        parse_one_or_page::<Application>(rel, body)
    } else if rel.starts_with("arm-aks/managedClusters-") && !file.contains("listCluster") {
        parse_one_or_page::<ManagedCluster>(rel, body)
    } else if file.starts_with("userAssignedIdentities") {
        parse_one_or_page::<UserAssignedIdentity>(rel, body)
    } else if file.starts_with("federatedIdentityCredentials") {
        parse_one_or_page::<FederatedIdentityCredential>(rel, body)
    } else if file.starts_with("application-federatedIdentityCredentials") {
        parse_one_or_page::<GraphFederatedCredential>(rel, body)
    } else {
        return None;
    };
    Some(r)
}

#[test]
fn every_published_example_parses() {
    let root = fixtures();
    // The fixtures live beside the repository (`../shared`), as in CI. A clone without them skips this test
    // locally; under CI (CI=true) their absence is a failure.
    if !root.exists() && std::env::var_os("CI").is_none() {
        eprintln!("{}: not present, skipping (set CI=1 to require it)", root.display());
        return;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            p.is_dir() && (name.starts_with("arm-") || name == "graph")
        })
        .collect();
    dirs.sort();
    let (mut typed, mut json_only, mut expected, mut failures) = (0, 0, 0, Vec::new());
    for dir in dirs {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{rel}: not JSON: {e}"));
                    continue;
                }
            };
            let bodies = bodies(&doc);
            assert!(!bodies.is_empty(), "{rel}: no response body");
            for body in &bodies {
                match check(&rel, body) {
                    Some(Ok(())) => typed += 1,
                    Some(Err(e)) if EXPECTED_FAILURES.iter().any(|(f, why)| *f == rel && e.contains(why)) => {
                        expected += 1
                    }
                    Some(Err(e)) => failures.push(e),
                    None if JSON_ONLY.iter().any(|p| rel.starts_with(p)) => json_only += 1,
                    None => {
                        failures.push(format!("{rel}: no wire type maps this file; add one or list it in JSON_ONLY"))
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(typed >= 40, "only {typed} bodies were read with a wire type");
    assert!(json_only > 0);
    assert_eq!(expected, EXPECTED_FAILURES.len(), "an expected failure now parses: remove it from EXPECTED_FAILURES");
}

#[test]
fn every_next_link_spelling_is_read() {
    // ARM says `nextLink`, Graph `@odata.nextLink`, and the management-groups API `@nextLink` (see
    // managementGroups-list-2023-04-01.json): paging must not stop after page one for any of them.
    for key in ["nextLink", "@odata.nextLink", "@nextLink"] {
        let body = serde_json::json!({ "value": [], key: "https://next" });
        let page: Page<ManagementGroup> = serde_json::from_value(body).unwrap();
        assert_eq!(page.next_link.as_deref(), Some("https://next"), "{key}");
    }
}

/// The AKS examples' settings land in the cluster type, and their secret-bearing parts do not: the type has no
/// field for them, so a parsed and re-serialized cluster cannot carry them.
#[test]
fn aks_examples_keep_settings_and_drop_secrets() {
    let root = fixtures();
    if !root.exists() && std::env::var_os("CI").is_none() {
        return;
    }
    let doc = |rel: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(rel)).unwrap()).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let read = |rel: &str| -> Vec<ManagedCluster> {
        bodies(&doc(rel))
            .into_iter()
            .map(|b| serde_json::from_value(b).unwrap_or_else(|e| panic!("{rel}: {e}")))
            .collect()
    };
    let rbac = read("arm-aks/managedClusters-createOrUpdate-enableAzureRBAC-2026-05-01.json");
    assert!(rbac.iter().all(|c| c.properties.aad_profile.as_ref().and_then(|a| a.enable_azure_rbac) == Some(true)));
    let wi = read("arm-aks/managedClusters-createOrUpdate-securityProfile-workloadIdentity-2026-05-01.json");
    assert!(wi.iter().all(|c| c
        .properties
        .security_profile
        .as_ref()
        .and_then(|s| s.workload_identity.as_ref())
        .is_some_and(|w| w.enabled)));
    let private = read("arm-aks/managedClusters-createOrUpdate-privateCluster-2026-05-01.json");
    assert!(private.iter().all(|c| c.properties.private_fqdn.is_some()));
    for c in rbac.iter().chain(&wi).chain(&private) {
        let text = serde_json::to_string(c).unwrap();
        for key in ["secret", "linuxProfile", "windowsProfile", "keyData", "adminPassword"] {
            assert!(!text.contains(key), "{key} survived parsing: {text}");
        }
    }
    let body = bodies(&doc("arm-managedidentity/userAssignedIdentities-listBySubscription-2024-11-30.json")).remove(0);
    let listed: Page<UserAssignedIdentity> = serde_json::from_value(body).unwrap();
    assert_eq!(listed.value[0].properties.principal_id.as_deref(), Some("25cc773c-7f05-40fc-a104-32d2300754ad"));
}
