//! Malformed input never widens what a record grants: an authorization record without a scope takes the one
//! its id embeds, or is dropped with a warning, never read as the tenant root.

mod common;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::expand::ExpandedPair as Finding;
use azpath_graph::findings::Report;
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::query::Query;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const RBAC_ADMIN: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
const ALICE: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const BOB: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const MG: &str = "/providers/Microsoft.Management/managementGroups/contoso";

fn queries() -> Vec<Query> {
    [
        ("owner-equivalent-on-subscription", include_str!("../../queries/owner-equivalent-on-subscription.toml")),
        (
            "contributor-or-stronger-on-subscription",
            include_str!("../../queries/contributor-or-stronger-on-subscription.toml"),
        ),
        (
            "contributor-or-stronger-on-management-group",
            include_str!("../../queries/contributor-or-stronger-on-management-group.toml"),
        ),
    ]
    .iter()
    .map(|(id, text)| Query::parse(text, id).unwrap())
    .collect()
}

fn rg() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/app")
}

/// An assignment record whose id is `id` and whose `properties.scope` is `scope`.
fn record(id: &str, scope: &str, principal: &str, role: &str) -> Value {
    json!({
        "id": id,
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal,
            "principalType": "User",
            "status": "Provisioned"
        }
    })
}

fn ra_id(scope: &str, n: u32) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}")
}

/// A management group holding one subscription with one resource group, users Alice and Bob, plus `azure`.
fn tenant(azure: Value) -> Snapshot {
    let mut s = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2025-01-01T00:00:00Z"},
        "azure": {
            "managementGroups": [{
                "id": MG, "name": "contoso",
                "properties": {"displayName": "Contoso", "children": [
                    {"id": format!("/subscriptions/{SUB}"), "name": SUB, "type": "/subscriptions"}
                ]}
            }],
            "subscriptions": [{"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "displayName": "Prod"}],
            "resourceGroups": [{"id": rg(), "name": "app"}]
        },
        "entra": {"users": [{"id": ALICE, "displayName": "Alice"}, {"id": BOB, "displayName": "Bob"}]}
    });
    for (k, v) in azure.as_object().unwrap() {
        s["azure"][k] = v.clone();
    }
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

fn report(s: &Snapshot) -> Report {
    common::analyze_checked(s, &queries(), AnalyzeOptions::default())
}

/// The scopes that role assignments and eligibilities were placed at.
fn grant_scopes(s: &Snapshot) -> Vec<String> {
    PrivilegeGraph::build(s).grants.iter().map(|g| g.scope.to_string()).collect()
}

fn of(f: &[Finding], source: &str) -> Vec<(String, String)> {
    f.iter().filter(|x| x.source == source).map(|x| (x.query_id.clone(), x.target.clone())).collect()
}

#[test]
fn empty_scope_takes_the_resource_group_in_the_assignment_id() {
    let s = tenant(json!({"roleAssignments": [record(&ra_id(&rg(), 1), "", ALICE, CONTRIBUTOR)]}));
    // Read as the root, this was Contributor on the management group and the subscription.
    assert_eq!(of(&report(&s).pairs, ALICE), Vec::<(String, String)>::new());
    assert_eq!(grant_scopes(&s), [rg().to_ascii_lowercase()]);
}

#[test]
fn empty_scope_with_a_malformed_id_is_dropped_with_a_warning() {
    let s = tenant(json!({"roleAssignments": [
        record("not-an-arm-id", "", ALICE, OWNER),
        record("/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000002", " ", BOB, OWNER),
    ]}));
    let r = report(&s);
    assert!(r.pairs.is_empty(), "{:#?}", r.pairs);
    assert!(grant_scopes(&s).is_empty());
    for id in
        ["not-an-arm-id", "/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000002"]
    {
        assert!(
            r.warnings.iter().any(|w| w.contains(id) && w.contains("no scope") && w.starts_with("role assignment")),
            "{id}: {:?}",
            r.warnings
        );
    }
}

#[test]
fn explicit_root_scope_is_still_the_root() {
    let root_id = ra_id("", 3);
    let r = report(&tenant(json!({"roleAssignments": [record(&root_id, "/", ALICE, OWNER)]})));
    let sub = format!("/subscriptions/{SUB}");
    assert!(of(&r.pairs, ALICE).contains(&("owner-equivalent-on-subscription".into(), sub)), "{:#?}", r.pairs);
}

#[test]
fn eligibility_instance_with_empty_scope_is_narrowed_or_dropped() {
    let id = format!(
        "{}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/00000000-0000-0000-0000-000000000004",
        rg()
    );
    let s = tenant(json!({"roleEligibilityScheduleInstances": [
        record(&id, "", ALICE, OWNER),
        record("eligibility-4", "", BOB, OWNER),
    ]}));
    let r = report(&s);
    assert!(r.pairs.is_empty(), "{:#?}", r.pairs);
    assert_eq!(grant_scopes(&s), [rg().to_ascii_lowercase()]);
    assert!(
        r.warnings.iter().any(|w| w.starts_with("PIM eligibility") && w.contains("eligibility-4")),
        "{:?}",
        r.warnings
    );
}

fn deny(id: &str, scope: &str) -> Value {
    json!({
        "id": id,
        "properties": {
            "scope": scope,
            "permissions": [{"actions": ["*"], "notActions": []}],
            "principals": [{"id": ALICE, "type": "User"}],
            "doNotApplyToChildScopes": false
        }
    })
}

#[test]
fn deny_assignment_with_empty_scope_is_narrowed_or_dropped() {
    let sub = format!("/subscriptions/{SUB}");
    let deny_id = |scope: &str| {
        format!("{scope}/providers/Microsoft.Authorization/denyAssignments/dddddddd-0000-0000-0000-000000000001")
    };
    // A deny under the resource group does not block Alice's subscription role; read as the root, it did.
    let s = tenant(json!({
        "roleAssignments": [record(&ra_id(&sub, 5), &sub, ALICE, CONTRIBUTOR)],
        "denyAssignments": [deny(&deny_id(&rg()), "")]
    }));
    let r = report(&s);
    assert!(of(&r.pairs, ALICE).contains(&("contributor-or-stronger-on-subscription".into(), sub.clone())));
    let g = PrivilegeGraph::build(&s);
    assert_eq!(g.denies.len(), 1);
    assert_eq!(g.node_ref(g.denies[0].scope).id, rg().to_ascii_lowercase());
    // Without a scope anywhere it is dropped, with a warning.
    let s = tenant(json!({
        "roleAssignments": [record(&ra_id(&sub, 5), &sub, ALICE, CONTRIBUTOR)],
        "denyAssignments": [deny("deny-1", "")]
    }));
    let r = report(&s);
    assert!(r.warnings.iter().any(|w| w.starts_with("deny assignment") && w.contains("deny-1")), "{:?}", r.warnings);
    assert!(PrivilegeGraph::build(&s).denies.is_empty());
}

#[test]
fn empty_assignable_scope_does_not_mean_everywhere() {
    // Alice may hand out only a custom role whose one assignable scope is empty: she cannot hand it out at
    // the subscription, so she does not get its power there.
    let custom = "cccccccc-0000-0000-0000-000000000001";
    let cond = format!("((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{custom}}}))");
    let sub = format!("/subscriptions/{SUB}");
    let mut a = record(&ra_id(&sub, 6), &sub, ALICE, RBAC_ADMIN);
    a["properties"]["condition"] = json!(cond);
    a["properties"]["conditionVersion"] = json!("2.0");
    let def = |scopes: Value| {
        json!({
            "id": format!("/providers/Microsoft.Authorization/roleDefinitions/{custom}"),
            "name": custom,
            "properties": {"roleName": "Everything", "type": "CustomRole",
                "permissions": [{"actions": ["*"]}], "assignableScopes": scopes}
        })
    };
    let s = tenant(json!({"roleDefinitions": [def(json!([""]))], "roleAssignments": [a.clone()]}));
    let r = report(&s);
    assert!(!of(&r.pairs, ALICE).iter().any(|(q, _)| q == "owner-equivalent-on-subscription"), "{:#?}", r.pairs);
    assert!(r.warnings.iter().any(|w| w.contains("empty assignable scope")), "{:?}", r.warnings);
    // The same role assignable at the subscription does give it.
    let s = tenant(json!({"roleDefinitions": [def(json!([sub]))], "roleAssignments": [a]}));
    assert!(of(&report(&s).pairs, ALICE).iter().any(|(q, _)| q == "owner-equivalent-on-subscription"));
}

#[test]
fn posture_names_the_scope_from_the_id_not_the_root() {
    let mut s = tenant(json!({"roleAssignments": [
        record(&ra_id(&rg(), 7), "", ALICE, OWNER),
        record("ra-without-scope", "", ALICE, OWNER),
    ]}));
    s.entra.users[0].user_type = Some("Guest".into());
    let guest: Vec<_> = azpath_graph::posture::run(&s).into_iter().filter(|f| f.check_id == "AZP-AZ-001").collect();
    assert_eq!(guest.len(), 1, "{guest:#?}");
    assert!(guest[0].detail.contains(&format!("at {}", rg().to_ascii_lowercase())), "{}", guest[0].detail);
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes dump errors: positions kept, values and internal type names left out, deep nesting refused early
// ---------------------------------------------------------------------------------------------------------

use azpath_graph::kube_dump;

const PLANTED: &str = "hunter2-planted-secret";

fn dump_error(text: &str) -> String {
    kube_dump::parse(text, "dump.json", "aks").map(|_| ()).unwrap_err().to_string()
}

#[test]
fn missing_comma_keeps_line_and_column_but_not_the_value() {
    let text = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{{\"name\":\"s\"}},\n  \"stringData\":{{\"PASSWORD\":\"{PLANTED}\" \"OTHER\":\"x\"}}}}]}}"
    );
    let err = dump_error(&text);
    assert!(err.starts_with("dump.json: not valid JSON: expected `,` or `}` at line 3 column "), "{err}");
    assert!(!err.contains(PLANTED), "{err}");
    let yaml = format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s\nstringData:\n  PASSWORD: {PLANTED}\n");
    let err = kube_dump::parse(&yaml, "dump.yaml", "aks").map(|_| ()).unwrap_err().to_string();
    assert!(err.contains(" at line 4 column "), "{err}");
    assert!(!err.contains(PLANTED), "{err}");
}

#[test]
fn wrong_type_errors_name_no_internal_type() {
    let item = |obj: &str| format!(r#"{{"apiVersion":"v1","kind":"List","items":[{obj}]}}"#);
    let cases = [
        (item(&format!("\"{PLANTED}\"")), "items[0] at line 1: .: invalid type: string, expected a Kubernetes object"),
        (
            format!("apiVersion: v1\nkind: List\nitems:\n- {PLANTED}\n"),
            "items[0]: .: invalid type: string, expected a Kubernetes object",
        ),
        (
            item(r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":5}"#),
            "metadata: invalid type: integer, expected object metadata (a map)",
        ),
        (
            item(r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":5}"#),
            "spec: invalid type: integer, expected a spec (a map)",
        ),
        (
            item(
                r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"b"},"roleRef":"x"}"#,
            ),
            "roleRef: invalid type: string, expected a map",
        ),
        (
            item(r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r"},"rules":[5]}"#),
            "rules[0]: invalid type: integer, expected a map",
        ),
    ];
    for (text, expected) in cases {
        let err = dump_error(&text);
        assert!(err.ends_with(expected), "{err}\nexpected the end: {expected}");
        assert!(!err.contains("struct ") && !err.contains(PLANTED), "{err}");
    }
}

#[test]
fn deep_yaml_nesting_is_refused_before_parsing() {
    let levels = 100_000;
    for (shape, text) in [
        ("flow sequences", format!("a: {}{}", "[".repeat(levels), "]".repeat(levels))),
        ("flow mappings", format!("a: {}x{}", "{a: ".repeat(levels), "}".repeat(levels))),
        ("unclosed", format!("a: {}", "[".repeat(levels))),
    ] {
        let started = std::time::Instant::now();
        let err = kube_dump::parse(&text, "deep.yaml", "aks").map(|_| ()).unwrap_err().to_string();
        eprintln!("{shape}: {:?}", started.elapsed());
        assert!(
            err.starts_with("deep.yaml: not valid YAML: collections nested deeper than 128 levels at line 1 column "),
            "{shape}: {err}"
        );
    }
    // Nesting within the limit is read.
    let ok = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels: {{a: {}{}}}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(kube_dump::parse(&ok, "ok.yaml", "aks").unwrap().namespaces.len(), 1);
}

#[test]
fn deep_json_nesting_is_an_error_not_a_crash() {
    // serde_json stops at 128 levels, and skips unknown values without recursing: an error or nothing, quickly.
    let levels = 100_000;
    let deep = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let dump = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{deep}}}"#);
    assert!(dump_error(&dump).starts_with("dump.json: object (Namespace without a name) at line 1: metadata"));
    let snap = format!(r#"{{"schema_version":1,"metadata":{{"collected_at":""}},"extra":{deep}}}"#);
    // An unknown field is skipped without recursion: no stack overflow, however deep.
    assert!(Snapshot::from_json(&snap, "s.json").is_ok());
}
