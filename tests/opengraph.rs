//! `--format opengraph`: both files follow BloodHound's documented OpenGraph rules (required fields, `AZP_`
//! kinds known to the extension, no colon in ids, flat properties, every edge endpoint in the graph file or an
//! Azure node), Azure endpoints carry AzureHound's ids (upper-cased object ids, `appId`, `principalId`,
//! upper-cased ARM ids) on bundled and generated tenants, deny assignments and PIM show, the extension file is
//! current and its kinds are those docs/opengraph.md lists, and a document that breaks a rule fails the check.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use azpath::render::opengraph::{self, Paths};
use azpath_graph::engine::{analyze, AnalyzeOptions};
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::MockTenant;
use common::run;
use serde_json::{json, Value};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("azpath-opengraph-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The extension as the code generates it.
fn extension() -> Value {
    opengraph::extension_schema()
}

/// Both documents of a tenant, exported in process (the same code path as the CLI).
fn export(snapshot: &Snapshot, expand: bool) -> (Value, Value) {
    let options = AnalyzeOptions { expand, ..Default::default() };
    let report = analyze(snapshot, &azpath::queries::builtin(), options);
    let x = opengraph::export(&report, snapshot);
    let parse = |d| serde_json::from_slice::<Value>(&opengraph::to_json(d)).unwrap();
    (parse(&x.graph), parse(&x.azure_edges))
}

/// `analyze SNAPSHOT --format opengraph --output DIR/NAME.json`: both files, parsed.
fn export_cli(tenant: &str) -> (Value, Value) {
    let dir = temp_dir(tenant);
    let snap = dir.join("snapshot.json");
    std::fs::write(&snap, MockTenant::bundled(tenant).unwrap().to_snapshot().to_json()).unwrap();
    let out = dir.join("bh.json");
    let r = run(&["analyze", snap.to_str().unwrap(), "--format", "opengraph", "--output", out.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{tenant}: exit {}: {}", r.code, r.stderr);
    let docs = (read_json(&out), read_json(&dir.join("bh.azure-edges.json")));
    std::fs::remove_dir_all(&dir).ok();
    docs
}

// ---- BloodHound's documented rules -------------------------------------------------------------------------

/// AzureHound's node kinds an Azure endpoint may name.
const AZUREHOUND_KINDS: [&str; 16] = [
    "AZBase",
    "AZUser",
    "AZGroup",
    "AZServicePrincipal",
    "AZApp",
    "AZTenant",
    "AZManagementGroup",
    "AZSubscription",
    "AZResourceGroup",
    "AZManagedCluster",
    "AZVM",
    "AZVMScaleSet",
    "AZKeyVault",
    "AZContainerRegistry",
    "AZLogicApp",
    "AZAutomationAccount",
];

fn is_kind_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.to_ascii_lowercase().starts_with("tag")
}

fn names(schema: &Value, list: &str) -> BTreeSet<String> {
    schema[list].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_string()).collect()
}

/// Flat properties: an object whose values are strings, numbers, booleans or homogeneous arrays of those; no
/// `objectid`; lower-case names.
fn check_properties(props: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(map) = props.as_object() else {
        if !props.is_null() {
            errors.push(format!("{at}: properties is not an object"));
        }
        return;
    };
    for (key, value) in map {
        if key == "objectid" {
            errors.push(format!("{at}: reserved property objectid"));
        }
        if key.chars().any(|c| c.is_ascii_uppercase() || !(c.is_ascii_alphanumeric() || c == '_')) {
            errors.push(format!("{at}: property name {key} is not lower-case alphanumeric"));
        }
        let primitive = |v: &Value| v.is_string() || v.is_number() || v.is_boolean();
        let ok = match value {
            Value::Array(items) => {
                items.iter().all(primitive)
                    && items.windows(2).all(|w| std::mem::discriminant(&w[0]) == std::mem::discriminant(&w[1]))
            }
            v => primitive(v),
        };
        if !ok {
            errors.push(format!("{at}: property {key} is not a primitive or a homogeneous array of primitives"));
        }
    }
}

/// Every rule broken by a graph file and its Azure edges file, given the extension: "" when none.
fn check(graph: &Value, azure_edges: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let (node_kinds, rel_kinds) = (names(schema, "node_kinds"), names(schema, "relationship_kinds"));
    let mut kind_of: HashMap<String, String> = HashMap::new();
    for (doc, which) in [(graph, "graph"), (azure_edges, "azure-edges")] {
        for key in doc.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            if key != "metadata" && key != "graph" {
                errors.push(format!("{which}: unknown top-level field {key}"));
            }
        }
        let metadata = doc["metadata"].as_object().cloned().unwrap_or_default();
        if metadata.keys().any(|k| k != "source_kind") || !doc["metadata"]["source_kind"].is_string() {
            errors.push(format!("{which}: metadata must hold only a source_kind string"));
        }
        if !doc["graph"]["nodes"].is_array() || !doc["graph"]["edges"].is_array() {
            errors.push(format!("{which}: graph.nodes and graph.edges are required arrays"));
        }
    }
    if !azure_edges["graph"]["nodes"].as_array().is_some_and(Vec::is_empty) {
        errors.push("azure-edges: holds nodes".into());
    }
    for (i, node) in graph["graph"]["nodes"].as_array().into_iter().flatten().enumerate() {
        let at = format!("graph node {i}");
        let id = node["id"].as_str().unwrap_or_default();
        if id.is_empty() || id.contains(':') {
            errors.push(format!("{at}: id {id:?} is empty or has a colon"));
        }
        let kinds: Vec<&str> = node["kinds"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if kinds.is_empty() || kinds.len() > 3 || !kinds.iter().all(|k| is_kind_name(k) && k.starts_with("AZP_")) {
            errors.push(format!("{at}: kinds {kinds:?}: 1 to 3 names matching ^[A-Za-z0-9_]+$ prefixed AZP_"));
        }
        if !kinds.iter().any(|k| node_kinds.contains(*k)) {
            errors.push(format!("{at}: no kind of {kinds:?} is in the extension's node_kinds"));
        }
        if kind_of.insert(id.to_string(), kinds.first().copied().unwrap_or_default().to_string()).is_some() {
            errors.push(format!("{at}: duplicate id {id}"));
        }
        check_properties(&node["properties"], &at, &mut errors);
    }
    let edges = |doc: &Value| doc["graph"]["edges"].as_array().cloned().unwrap_or_default();
    for (which, doc) in [("graph", graph), ("azure-edges", azure_edges)] {
        for (i, edge) in edges(doc).iter().enumerate() {
            let at = format!("{which} edge {i}");
            let kind = edge["kind"].as_str().unwrap_or_default();
            if !is_kind_name(kind) || !kind.starts_with("AZP_") || !rel_kinds.contains(kind) {
                errors.push(format!("{at}: kind {kind:?} is not an AZP_ relationship kind of the extension"));
            }
            check_properties(&edge["properties"], &at, &mut errors);
            let mut azure = 0;
            for end in ["start", "end"] {
                let e = &edge[end];
                let (value, ekind) = (e["value"].as_str().unwrap_or_default(), e["kind"].as_str().unwrap_or_default());
                if e["match_by"] != "id" || value.is_empty() || e.get("property_matchers").is_some() {
                    errors.push(format!("{at}: {end} is not {{match_by: id, value}}"));
                }
                if ekind.starts_with("AZP_") {
                    if kind_of.get(value).map(String::as_str) != Some(ekind) {
                        errors.push(format!("{at}: {end} {value} ({ekind}) is not a node of the graph file"));
                    }
                } else if AZUREHOUND_KINDS.contains(&ekind) {
                    azure += 1;
                } else {
                    errors.push(format!("{at}: {end} kind {ekind:?} is neither AZP_ nor AzureHound's"));
                }
            }
            if (which == "graph") != (azure == 0) {
                errors.push(format!("{at}: {azure} Azure endpoint(s) in the {which} file"));
            }
        }
    }
    errors
}

fn assert_follows_rules(graph: &Value, azure_edges: &Value, what: &str) {
    let errors = check(graph, azure_edges, &extension());
    assert!(errors.is_empty(), "{what}: the export breaks BloodHound's rules:\n{}", errors.join("\n"));
}

fn all_edges<'a>(graph: &'a Value, azure_edges: &'a Value) -> impl Iterator<Item = &'a Value> {
    [graph, azure_edges].into_iter().flat_map(|d| d["graph"]["edges"].as_array().unwrap())
}

// ---- AzureHound's ids ---------------------------------------------------------------------------------------

/// Each Azure endpoint's id is the one AzureHound gives that object in `snapshot`, per its kind.
fn azure_id_errors(azure_edges: &Value, snapshot: &Snapshot) -> Vec<String> {
    let up = |s: &str| s.to_ascii_uppercase();
    let users: BTreeSet<String> = snapshot.entra.users.iter().map(|u| up(&u.id)).collect();
    let groups: BTreeSet<String> = snapshot.entra.groups.iter().map(|g| up(&g.id)).collect();
    let mut sps: BTreeSet<String> = snapshot.entra.service_principals.iter().map(|s| up(&s.id)).collect();
    let uamis = snapshot.azure.user_assigned_identities.iter();
    sps.extend(uamis.filter_map(|u| u.properties.principal_id.as_deref()).map(up));
    let apps: BTreeSet<String> =
        snapshot.entra.applications.iter().filter_map(|a| a.app_id.as_deref()).map(up).collect();
    let mut errors = Vec::new();
    for edge in azure_edges["graph"]["edges"].as_array().unwrap() {
        for end in ["start", "end"] {
            let (value, kind) = (edge[end]["value"].as_str().unwrap(), edge[end]["kind"].as_str().unwrap());
            let known = match kind {
                "AZUser" => users.contains(value),
                "AZGroup" => groups.contains(value),
                "AZServicePrincipal" => sps.contains(value),
                "AZApp" => apps.contains(value),
                "AZTenant" => Some(up(snapshot.metadata.tenant_id.as_deref().unwrap_or("-"))) == Some(value.into()),
                "AZSubscription" => value.starts_with("/SUBSCRIPTIONS/") && value.matches('/').count() == 2,
                "AZResourceGroup" => value.starts_with("/SUBSCRIPTIONS/") && value.contains("/RESOURCEGROUPS/"),
                "AZManagementGroup" => value.starts_with("/PROVIDERS/MICROSOFT.MANAGEMENT/MANAGEMENTGROUPS/"),
                k if k.starts_with("AZP_") => true,
                _ => value.starts_with('/') || value.len() == 36,
            };
            if !known || (!kind.starts_with("AZP_") && value != up(value)) {
                errors.push(format!("{end} {value} ({kind}) is not AzureHound's id of a {kind} of the tenant"));
            }
        }
    }
    errors
}

#[test]
fn the_demo_export_follows_bloodhounds_rules_and_lands_on_azurehound_ids() {
    let (graph, azure_edges) = export_cli("demo");
    assert_follows_rules(&graph, &azure_edges, "demo");
    let snapshot = MockTenant::bundled("demo").unwrap().to_snapshot();
    let errors = azure_id_errors(&azure_edges, &snapshot);
    assert!(errors.is_empty(), "demo:\n{}", errors.join("\n"));
    assert_eq!(graph["metadata"]["source_kind"], "AZPBase");
    // The demo has AKS and ASO: Kubernetes nodes, and an edge from one into Azure.
    let kinds: BTreeSet<&str> =
        graph["graph"]["nodes"].as_array().unwrap().iter().map(|n| n["kinds"][0].as_str().unwrap()).collect();
    assert!(kinds.contains("AZP_KubeServiceAccount") || kinds.contains("AZP_KubeNamespace"), "{kinds:?}");
    let into_azure = azure_edges["graph"]["edges"].as_array().unwrap().iter().any(|e| {
        e["start"]["kind"].as_str().unwrap().starts_with("AZP_")
            && !e["end"]["kind"].as_str().unwrap().starts_with("AZP_")
    });
    assert!(into_azure, "no edge from a Kubernetes node into an Azure node");
}

#[test]
fn generated_tenants_follow_the_rules_with_azurehound_ids() {
    for (size, seed) in [(300, 7), (600, 11)] {
        let snapshot = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(size, seed)).to_snapshot();
        for expand in [false, true] {
            let (graph, azure_edges) = export(&snapshot, expand);
            let what = format!("generated {size}/{seed} expand={expand}");
            assert_follows_rules(&graph, &azure_edges, &what);
            let errors = azure_id_errors(&azure_edges, &snapshot);
            assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
            assert!(!azure_edges["graph"]["edges"].as_array().unwrap().is_empty(), "{what}: no Azure edge");
        }
    }
}

#[test]
fn every_bundled_tenant_follows_the_rules() {
    for name in azpath_mocks::bundled_names() {
        let snapshot = MockTenant::bundled(name).unwrap().to_snapshot();
        let (graph, azure_edges) = export(&snapshot, true);
        assert_follows_rules(&graph, &azure_edges, name);
        let errors = azure_id_errors(&azure_edges, &snapshot);
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    }
}

#[test]
fn a_document_that_breaks_a_rule_fails_the_check() {
    let snapshot = MockTenant::bundled("demo").unwrap().to_snapshot();
    let (graph, azure_edges) = export(&snapshot, false);
    assert!(check(&graph, &azure_edges, &extension()).is_empty());
    let broken = |edit: &dyn Fn(&mut Value, &mut Value)| {
        let (mut g, mut a) = (graph.clone(), azure_edges.clone());
        edit(&mut g, &mut a);
        check(&g, &a, &extension())
    };
    // A node kind the extension does not define.
    let errs = broken(&|g, _| g["graph"]["nodes"][0]["kinds"] = json!(["AZP_NotAKind"]));
    assert!(errs.iter().any(|e| e.contains("node_kinds")), "{errs:?}");
    // A colon in an id.
    let errs = broken(&|g, _| g["graph"]["nodes"][0]["id"] = json!("AZP-system:serviceaccount"));
    assert!(errs.iter().any(|e| e.contains("colon")), "{errs:?}");
    // A nested object as a property value, and objectid.
    let errs = broken(&|g, _| g["graph"]["nodes"][0]["properties"]["objectid"] = json!({"a": 1}));
    assert!(errs.iter().any(|e| e.contains("objectid")) && errs.iter().any(|e| e.contains("primitive")), "{errs:?}");
    // An edge kind with a dash, an edge to a node that is not in the file, extra metadata.
    let errs = broken(&|_, a| a["graph"]["edges"][0]["kind"] = json!("AZP_Can-Write"));
    assert!(errs.iter().any(|e| e.contains("relationship kind")), "{errs:?}");
    let errs = broken(&|_, a| {
        a["graph"]["edges"][0]["start"] = json!({"match_by": "id", "value": "AZP-x", "kind": "AZP_KubeUser"})
    });
    assert!(errs.iter().any(|e| e.contains("not a node of the graph file")), "{errs:?}");
    let errs = broken(&|g, _| g["metadata"]["version"] = json!(1));
    assert!(errs.iter().any(|e| e.contains("metadata")), "{errs:?}");
    // A lower-case ARM id is not AzureHound's id.
    let mut lower = azure_edges.clone();
    let edge = lower["graph"]["edges"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["end"]["kind"] == "AZSubscription")
        .unwrap();
    edge["end"]["value"] = json!(edge["end"]["value"].as_str().unwrap().to_ascii_lowercase());
    assert!(!azure_id_errors(&lower, &snapshot).is_empty());
}

// ---- what the edges say ---------------------------------------------------------------------------------------

fn reach_edges<'a>(azure_edges: &'a Value, kind: &'a str, target: &'a str) -> impl Iterator<Item = &'a Value> {
    azure_edges["graph"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |e| e["kind"] == kind && e["end"]["value"] == target)
}

#[test]
fn reach_edges_are_deny_aware() {
    let snapshot = MockTenant::bundled("deny-assignments").unwrap().to_snapshot();
    let (_, azure_edges) = export(&snapshot, false);
    let prod = "/SUBSCRIPTIONS/E1A7AAD7-7A17-4801-ADA8-95FEBFA92F30";
    let alice = "D9631C81-C736-44B3-8B07-BB855259A9F0"; // denied writes at prod
    let bob = "40AF326B-FCCE-4676-BD6F-4240814E3285"; // excluded from the deny
                                                      // Directly, or through a group whose edge does not list them as excluded.
    let groups_of = |who: &str| -> BTreeSet<String> {
        let key = who.to_ascii_lowercase();
        let groups = snapshot.entra.group_members.iter();
        groups
            .filter(|g| g.members.iter().any(|m| m.id.eq_ignore_ascii_case(&key)))
            .map(|g| g.group_id.to_ascii_uppercase())
            .collect()
    };
    let reaches = |who: &str| {
        let via = groups_of(who);
        reach_edges(&azure_edges, "AZP_CanWriteEverything", prod).any(|e| {
            let start = e["start"]["value"].as_str().unwrap();
            let excluded = e["properties"]["excludedmembers"].as_array().into_iter().flatten();
            let excluded = excluded.filter_map(Value::as_str).any(|m| m.eq_ignore_ascii_case(who));
            start == who || (via.contains(start) && !excluded)
        })
    };
    assert!(reaches(bob), "Bob, excluded from the deny, writes everything on prod");
    assert!(!reaches(alice), "Alice is denied writes on prod");
}

#[test]
fn a_deny_on_a_group_keeps_the_members_it_spares() {
    // "Contractors may not change dev" names group 633586ab (members 03304ef0, 1b0b6cd5): spare 03304ef0.
    let mut snapshot = MockTenant::bundled("deny-assignments").unwrap().to_snapshot();
    let deny =
        snapshot.azure.deny_assignments.iter_mut().find(|d| d.name == "bebc9fb8-c35e-42de-b5f8-8d42821af57c").unwrap();
    let spared = azpath_graph::snapshot::PrincipalRef {
        id: "03304ef0-b593-42e5-9502-13e3879508e2".into(),
        ..Default::default()
    };
    deny.properties.exclude_principals.push(spared);
    let (_, azure_edges) = export(&snapshot, false);
    let dev = "/SUBSCRIPTIONS/24EA81BB-214D-48BE-848E-0B4656EFD0E4";
    let from = |who: &str| reach_edges(&azure_edges, "AZP_CanWriteEverything", dev).any(|e| e["start"]["value"] == who);
    assert!(from("03304EF0-B593-42E5-9502-13E3879508E2"), "the spared member reaches dev");
    assert!(!from("1B0B6CD5-97EC-4CCA-8309-2695E70BB37D"), "the denied member does not");
    assert!(!from("633586AB-7B6C-49E6-AA47-5D14725D5E80"), "the denied group does not");
}

#[test]
fn pim_eligible_roles_are_marked() {
    let snapshot = MockTenant::bundled("pim-eligible").unwrap().to_snapshot();
    let (graph, azure_edges) = export(&snapshot, true);
    let has_role: Vec<&Value> = all_edges(&graph, &azure_edges).filter(|e| e["kind"] == "AZP_HasRole").collect();
    assert!(has_role.iter().any(|e| e["properties"]["eligible"] == true), "no eligible role edge");
    assert!(has_role.iter().any(|e| e["properties"]["eligible"] == false), "no active role edge");
    let evidence = |e: &&Value| e["properties"]["evidence"].as_array().is_some_and(|a| !a.is_empty());
    assert!(has_role.iter().all(evidence), "a role edge without its assignment id");
}

#[test]
fn federated_trust_from_a_cluster_lands_on_the_identitys_service_principal() {
    let snapshot = MockTenant::bundled("aso-workload-identity").unwrap().to_snapshot();
    let (graph, azure_edges) = export(&snapshot, true);
    assert_follows_rules(&graph, &azure_edges, "aso-workload-identity");
    let principals: BTreeSet<String> = snapshot
        .azure
        .user_assigned_identities
        .iter()
        .filter_map(|u| u.properties.principal_id.as_deref())
        .map(str::to_ascii_uppercase)
        .collect();
    let trust = azure_edges["graph"]["edges"].as_array().unwrap().iter().find(|e| {
        e["kind"] == "AZP_FederatedTrust"
            && e["start"]["kind"] == "AZP_KubeServiceAccount"
            && e["end"]["kind"] == "AZServicePrincipal"
            && principals.contains(e["end"]["value"].as_str().unwrap())
    });
    assert!(trust.is_some(), "no service account → managed identity (by principal id) federated trust");
    let aso = all_edges(&graph, &azure_edges).any(|e| e["kind"] == "AZP_AsoActsAs" || e["kind"] == "AZP_CanUseAso");
    assert!(aso, "no ASO edge");
}

// ---- files, usage, extension and docs ------------------------------------------------------------------------

#[test]
fn the_azure_edges_file_is_named_after_the_output() {
    let p = |s: &str| Paths::for_output(Some(Path::new(s))).map(|p| p.azure_edges);
    assert_eq!(p("out/bh.json"), Some(PathBuf::from("out/bh.azure-edges.json")));
    assert_eq!(p("bh"), Some(PathBuf::from("bh.azure-edges.json")));
    assert_eq!(p("-"), None);
    assert_eq!(p("/dev/stdout"), None);
    assert_eq!(Paths::for_output(None), None);
}

#[test]
fn opengraph_without_an_output_file_is_a_usage_error() {
    let dir = temp_dir("usage");
    let snap = dir.join("snapshot.json");
    std::fs::write(&snap, MockTenant::bundled("demo").unwrap().to_snapshot().to_json()).unwrap();
    for extra in [&[][..], &["--output", "-"][..]] {
        let mut args = vec!["analyze", snap.to_str().unwrap(), "--format", "opengraph"];
        args.extend_from_slice(extra);
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--output FILE"), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_published_extension_is_what_the_code_generates() {
    let r = run(&["schema", "opengraph"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let printed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(printed, extension());
    assert!(
        read_json(&repo_file("docs/opengraph.extension.json")) == printed,
        "docs/opengraph.extension.json is stale: regenerate it with `cargo run -- schema opengraph > docs/opengraph.extension.json`"
    );
}

#[test]
fn the_extension_follows_the_namespacing_rules() {
    let schema = extension();
    assert_eq!(schema["schema"]["namespace"], "AZP");
    let version = schema["schema"]["version"].as_str().unwrap();
    assert!(version.starts_with('v') && version[1..].split('.').count() == 3, "{version}");
    let mut seen = BTreeSet::new();
    for list in ["node_kinds", "relationship_kinds"] {
        for k in schema[list].as_array().unwrap() {
            let name = k["name"].as_str().unwrap();
            assert!(name.starts_with("AZP_") && name.len() > 4 && is_kind_name(name), "{name}");
            assert!(seen.insert(name.to_string()), "{name} defined twice");
            if list == "relationship_kinds" {
                assert_eq!(k["is_traversable"], true, "{name}");
            }
        }
    }
}

#[test]
fn the_kinds_are_those_docs_opengraph_md_lists() {
    let doc = std::fs::read_to_string(repo_file("docs/opengraph.md")).unwrap();
    let in_doc: BTreeSet<String> = doc
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("AZP_") && w.len() > 4)
        .map(String::from)
        .collect();
    let schema = extension();
    let in_code: BTreeSet<String> =
        names(&schema, "node_kinds").into_iter().chain(names(&schema, "relationship_kinds")).collect();
    assert_eq!(in_doc, in_code, "docs/opengraph.md and the code's AZP_ kinds differ");
}
