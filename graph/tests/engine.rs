//! Query engine semantics on small in-code tenants: one positive and one negative case per rule.

mod common;

use std::sync::Arc;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair as Finding;
use azpath_graph::findings::{NodeRef, SharedNode};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::model::NodeKind;
use azpath_graph::pathfind::find_path;
use azpath_graph::query::Query;
use azpath_graph::rbac::Caps;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const SUB2: &str = "11111111-0000-0000-0000-000000000002";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const RBAC_ADMIN: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
const UAA: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
const ALICE: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const BOB: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const CAROL: &str = "aaaaaaaa-0000-0000-0000-000000000003";
const GROUP_A: &str = "bbbbbbbb-0000-0000-0000-00000000000a";
const GROUP_B: &str = "bbbbbbbb-0000-0000-0000-00000000000b";

fn queries() -> Vec<Query> {
    [
        ("owner-equivalent-on-subscription", include_str!("../../queries/owner-equivalent-on-subscription.toml")),
        (
            "owner-equivalent-on-management-group",
            include_str!("../../queries/owner-equivalent-on-management-group.toml"),
        ),
        (
            "contributor-or-stronger-on-subscription",
            include_str!("../../queries/contributor-or-stronger-on-subscription.toml"),
        ),
        (
            "contributor-or-stronger-on-management-group",
            include_str!("../../queries/contributor-or-stronger-on-management-group.toml"),
        ),
        ("can-assign-roles", include_str!("../../queries/can-assign-roles.toml")),
    ]
    .iter()
    .map(|(id, text)| Query::parse(text, id).unwrap())
    .collect()
}

fn sub(id: &str) -> String {
    format!("/subscriptions/{id}")
}

fn assignment(n: u32, principal: &str, role: &str, scope: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
        "name": format!("00000000-0000-0000-0000-{n:012}"),
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal,
            "principalType": "User"
        }
    })
}

/// [`assignment`] to a principal of another type (`Group`, `ServicePrincipal`).
fn typed_assignment(principal_type: &str, n: u32, principal: &str, role: &str, scope: &str) -> Value {
    let mut a = assignment(n, principal, role, scope);
    a["properties"]["principalType"] = json!(principal_type);
    a
}

/// A tenant with two subscriptions, users Alice/Bob/Carol, groups A ⊂ B, plus the given ARM records.
fn tenant(azure: Value) -> Snapshot {
    let mut s = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2025-01-01T00:00:00Z"},
        "azure": {
            "subscriptions": [
                {"id": sub(SUB), "subscriptionId": SUB, "displayName": "Prod"},
                {"id": sub(SUB2), "subscriptionId": SUB2, "displayName": "Dev"}
            ],
            "resourceGroups": [{"id": format!("/subscriptions/{SUB}/resourceGroups/app"), "name": "app"}]
        },
        "entra": {
            "users": [
                {"id": ALICE, "displayName": "Alice"},
                {"id": BOB, "displayName": "Bob"},
                {"id": CAROL, "displayName": "Carol"}
            ],
            "groups": [{"id": GROUP_A, "displayName": "A"}, {"id": GROUP_B, "displayName": "B"}],
            "groupMembers": [
                {"groupId": GROUP_A, "members": [{"@odata.type": "#microsoft.graph.user", "id": BOB}]},
                {"groupId": GROUP_B, "members": [{"@odata.type": "#microsoft.graph.group", "id": GROUP_A}]}
            ]
        }
    });
    for (k, v) in azure.as_object().unwrap() {
        s["azure"][k] = v.clone();
    }
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

fn findings(s: &Snapshot) -> Vec<Finding> {
    common::pairs(s, &queries(), AnalyzeOptions::default())
}

fn has(f: &[Finding], query: &str, source: &str, target: &str) -> bool {
    f.iter().any(|x| x.query_id == query && x.source.id == source && x.target.id == target)
}

fn get<'a>(f: &'a [Finding], query: &str, source: &str, target: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.query_id == query && x.source.id == source && x.target.id == target)
        .unwrap_or_else(|| panic!("no {query} {source} {target}: {f:#?}"))
}

#[test]
fn custom_star_minus_authorization_write_is_contributor_not_owner() {
    let s = tenant(json!({
        "roleDefinitions": [{
            "id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/cccccccc-0000-0000-0000-000000000001"),
            "name": "cccccccc-0000-0000-0000-000000000001",
            "properties": {"roleName": "Almost Owner", "type": "CustomRole",
                "permissions": [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}],
                "assignableScopes": [sub(SUB)]}
        }, {
            "id": "/providers/Microsoft.Authorization/roleDefinitions/cccccccc-0000-0000-0000-000000000002",
            "name": "cccccccc-0000-0000-0000-000000000002",
            "properties": {"roleName": "Compute only", "type": "CustomRole",
                "permissions": [{"actions": ["Microsoft.Compute/*"]}], "assignableScopes": ["/"]}
        }],
        "roleAssignments": [
            assignment(1, ALICE, "cccccccc-0000-0000-0000-000000000001", &sub(SUB)),
            assignment(2, CAROL, "cccccccc-0000-0000-0000-000000000002", &sub(SUB)),
        ]
    }));
    let f = findings(&s);
    assert!(has(&f, "contributor-or-stronger-on-subscription", ALICE, &sub(SUB)));
    assert!(!has(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB)));
    assert!(!has(&f, "contributor-or-stronger-on-subscription", CAROL, &sub(SUB)));
}

#[test]
fn constrained_rbac_admin_reader_only_is_not_owner() {
    let cond = format!("((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{READER}}}))");
    let cond_contrib = cond.replace(READER, CONTRIBUTOR);
    let mut a = assignment(1, ALICE, RBAC_ADMIN, &sub(SUB));
    a["properties"]["condition"] = json!(cond);
    a["properties"]["conditionVersion"] = json!("2.0");
    let mut c = assignment(2, CAROL, RBAC_ADMIN, &sub(SUB));
    c["properties"]["condition"] = json!(cond_contrib);
    let f = findings(&tenant(json!({"roleAssignments": [a, c, assignment(3, BOB, RBAC_ADMIN, &sub(SUB2))]})));
    assert!(!has(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB)));
    assert!(!has(&f, "contributor-or-stronger-on-subscription", ALICE, &sub(SUB)));
    let limited = get(&f, "can-assign-roles", ALICE, &sub(SUB));
    assert!(limited.hops[0].detail.contains("Reader"), "{}", limited.hops[0].detail);
    // Allowed to hand out Contributor: gets Contributor's power, not Owner's.
    assert!(has(&f, "contributor-or-stronger-on-subscription", CAROL, &sub(SUB)));
    assert!(!has(&f, "owner-equivalent-on-subscription", CAROL, &sub(SUB)));
    // Unconstrained RBAC Administrator is Owner-equivalent.
    assert!(has(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB2)));
}

#[test]
fn unreadable_condition_keeps_the_path_marked_conditional() {
    let mut a = assignment(1, ALICE, RBAC_ADMIN, &sub(SUB));
    a["properties"]["condition"] = json!("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] StringLike '*'))");
    let f = findings(&tenant(json!({"roleAssignments": [a, assignment(2, BOB, OWNER, &sub(SUB))]})));
    assert!(get(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB)).conditional);
    assert!(!get(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB)).conditional);
}

#[test]
fn resource_group_contributor_is_not_subscription_contributor() {
    let rg = format!("/subscriptions/{SUB}/resourceGroups/app");
    let f = findings(&tenant(
        json!({"roleAssignments": [assignment(1, ALICE, CONTRIBUTOR, &rg), assignment(2, BOB, CONTRIBUTOR, &sub(SUB))]}),
    ));
    assert!(!f.iter().any(|x| x.source.id == ALICE && x.query_id.starts_with("contributor")));
    assert!(has(&f, "contributor-or-stronger-on-subscription", BOB, &sub(SUB)));
}

#[test]
fn management_group_owner_reaches_every_subscription_under_it() {
    let mg = |name: &str| format!("/providers/Microsoft.Management/managementGroups/{name}");
    let s = tenant(json!({
        "managementGroups": [
            {"id": mg("platform"), "name": "platform", "properties": {"displayName": "Platform",
                "details": {"parent": {"id": mg("root-tenant")}},
                "children": [{"id": mg("prod"), "type": "Microsoft.Management/managementGroups", "name": "prod",
                    "children": [{"id": sub(SUB), "type": "/subscriptions", "name": SUB}]}]}},
            {"id": mg("prod"), "name": "prod", "properties": {"displayName": "Prod MG"}},
            {"id": mg("sandbox"), "name": "sandbox", "properties": {"children": [{"id": sub(SUB2), "type": "/subscriptions", "name": SUB2}]}}
        ],
        "roleAssignments": [assignment(1, ALICE, OWNER, &mg("platform")), assignment(2, CAROL, OWNER, "/")]
    }));
    let f = findings(&s);
    let path = get(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB));
    assert_eq!(path.hops.len(), 3, "{path:#?}"); // role at platform, platform ⊃ prod, prod ⊃ subscription
    assert!(has(&f, "owner-equivalent-on-management-group", ALICE, &mg("prod").to_lowercase()));
    assert!(!has(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB2)));
    assert!(!has(&f, "owner-equivalent-on-management-group", ALICE, &mg("sandbox").to_lowercase()));
    // Root assignments reach everything.
    assert!(
        has(&f, "owner-equivalent-on-subscription", CAROL, &sub(SUB))
            && has(&f, "owner-equivalent-on-subscription", CAROL, &sub(SUB2))
    );
    // can-assign-roles is reported where granted, not repeated below.
    assert!(has(&f, "can-assign-roles", ALICE, &mg("platform").to_lowercase()));
    assert!(!has(&f, "can-assign-roles", ALICE, &sub(SUB)));
}

#[test]
fn pim_eligible_owner_is_reported_as_eligible() {
    let mut e = assignment(1, ALICE, OWNER, &sub(SUB));
    e["properties"]["status"] = json!("Provisioned");
    let mut e2 = assignment(2, BOB, OWNER, &sub(SUB));
    e2["properties"]["status"] = json!("Provisioned");
    let f = findings(&tenant(json!({
        "roleEligibilityScheduleInstances": [e, e2],
        "roleAssignments": [assignment(3, BOB, OWNER, &sub(SUB))]
    })));
    assert!(get(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB)).eligible);
    assert!(!get(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB)).eligible);
    let s = tenant(json!({"roleEligibilityScheduleInstances": [assignment(1, ALICE, OWNER, &sub(SUB))]}));
    let active_only = common::analyze_checked(&s, &queries(), AnalyzeOptions { include_eligible: false, expand: true });
    assert!(active_only.pairs.is_empty() && active_only.findings.is_empty());
}

#[test]
fn nested_group_members_inherit_the_role() {
    let a = typed_assignment("Group", 1, GROUP_B, OWNER, &sub(SUB));
    let f = findings(&tenant(json!({"roleAssignments": [a]})));
    let bob = get(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB));
    let kinds: Vec<String> = bob.hops.iter().map(|h| h.edge.to_string()).collect();
    assert_eq!(kinds, ["MEMBER_OF", "MEMBER_OF", "HAS_ROLE"]);
    assert!(bob.remediation.command.as_deref().unwrap().contains("az ad group member remove"));
    assert!(has(&f, "owner-equivalent-on-subscription", GROUP_A, &sub(SUB)));
    assert!(!has(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB)));
}

#[test]
fn the_report_holds_each_node_it_lists_once() {
    let a = typed_assignment("Group", 1, GROUP_B, OWNER, &sub(SUB));
    let b = typed_assignment("Group", 2, GROUP_A, OWNER, &sub(SUB2));
    let c = assignment(3, BOB, CONTRIBUTOR, &sub(SUB));
    let s = tenant(json!({"roleAssignments": [a, b, c]}));
    let report = common::analyze_checked(&s, &queries(), AnalyzeOptions::default());
    // Member sets, target lists and exclusions share one allocation per node, however many of them list it.
    let mut seen: std::collections::BTreeMap<(NodeKind, String), *const NodeRef> = Default::default();
    let mut listed = 0;
    let mut check = |n: &SharedNode| {
        listed += 1;
        let at = seen.entry((n.kind, n.id.clone())).or_insert(Arc::as_ptr(n));
        assert!(std::ptr::eq(*at, Arc::as_ptr(n)), "{} is held twice", n.id);
    };
    for set in report.member_sets.values() {
        set.members.iter().for_each(&mut check);
    }
    for t in report.findings.iter().flat_map(|f| &f.tiers) {
        t.targets.nodes.iter().for_each(&mut check);
        t.excluded.iter().flatten().for_each(&mut check);
    }
    assert!(listed > seen.len(), "some node is listed by several sets: {seen:?}");
    assert!(seen.contains_key(&(NodeKind::User, BOB.to_string())), "Bob is a member: {seen:?}");
}

#[test]
fn membership_cycle_terminates() {
    let mut s = tenant(json!({"roleAssignments": [assignment(1, GROUP_A, OWNER, &sub(SUB))]}));
    s.entra.group_members[0].members.push(azpath_graph::snapshot::DirectoryObject {
        odata_type: Some("#microsoft.graph.group".into()),
        id: GROUP_B.into(),
        ..Default::default()
    });
    let f = findings(&s);
    assert!(has(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB)));
    assert!(has(&f, "owner-equivalent-on-subscription", GROUP_B, &sub(SUB)));
}

fn deny(scope: &str, principals: &[&str], excluded: &[&str], actions: &[&str]) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/denyAssignments/dddddddd-0000-0000-0000-000000000001"),
        "name": "dddddddd-0000-0000-0000-000000000001",
        "properties": {
            "scope": scope,
            "permissions": [{"actions": actions, "notActions": []}],
            "principals": principals.iter().map(|p| json!({"id": p, "type": "User"})).collect::<Vec<_>>(),
            "excludePrincipals": excluded.iter().map(|p| json!({"id": p, "type": "User"})).collect::<Vec<_>>(),
            "doNotApplyToChildScopes": false
        }
    })
}

#[test]
fn deny_assignment_removes_the_path_for_its_principals_only() {
    let g = typed_assignment("Group", 3, GROUP_A, CONTRIBUTOR, &sub(SUB));
    let s = tenant(json!({
        "roleAssignments": [assignment(1, ALICE, CONTRIBUTOR, &sub(SUB)), assignment(2, CAROL, CONTRIBUTOR, &sub(SUB)), g],
        "denyAssignments": [deny(&sub(SUB), &["00000000-0000-0000-0000-000000000000"], &[CAROL], &["*/write"])]
    }));
    let f = findings(&s);
    assert!(!has(&f, "contributor-or-stronger-on-subscription", ALICE, &sub(SUB)));
    assert!(has(&f, "contributor-or-stronger-on-subscription", CAROL, &sub(SUB)));
    assert!(!has(&f, "contributor-or-stronger-on-subscription", BOB, &sub(SUB)));
}

#[test]
fn deny_on_a_member_keeps_the_other_members_path() {
    let g = typed_assignment("Group", 1, GROUP_B, CONTRIBUTOR, &sub(SUB));
    let mut s = tenant(json!({"roleAssignments": [g], "denyAssignments": [deny(&sub(SUB), &[BOB], &[], &["*"])]}));
    s.entra.group_members[1].members.push(azpath_graph::snapshot::DirectoryObject {
        odata_type: None,
        id: ALICE.into(),
        ..Default::default()
    });
    let f = findings(&s);
    assert!(!has(&f, "contributor-or-stronger-on-subscription", BOB, &sub(SUB)));
    assert!(has(&f, "contributor-or-stronger-on-subscription", ALICE, &sub(SUB)));
}

#[test]
fn deny_at_a_resource_group_does_not_block_the_subscription_finding() {
    let rg = format!("/subscriptions/{SUB}/resourceGroups/app");
    let s = tenant(json!({
        "roleAssignments": [assignment(1, ALICE, CONTRIBUTOR, &sub(SUB))],
        "denyAssignments": [deny(&rg, &[ALICE], &[], &["*"])]
    }));
    assert!(has(&findings(&s), "contributor-or-stronger-on-subscription", ALICE, &sub(SUB)));
}

#[test]
fn deny_falls_back_to_another_path() {
    let g = typed_assignment("Group", 2, GROUP_A, OWNER, &sub(SUB));
    // Bob's direct Owner at the subscription is denied a different way? No: deny is per actor, so use a
    // deny that only removes role assignment writes; Bob keeps write-everything from both paths.
    let s = tenant(json!({
        "roleAssignments": [assignment(1, BOB, UAA, &sub(SUB)), g],
        "denyAssignments": [deny(&sub(SUB), &[BOB], &[], &["Microsoft.Authorization/roleAssignments/write"])]
    }));
    let f = findings(&s);
    assert!(!has(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB)));
    let c = get(&f, "contributor-or-stronger-on-subscription", BOB, &sub(SUB));
    assert_eq!(c.hops[0].edge.to_string(), "MEMBER_OF");
}

#[test]
fn under_a_deny_for_everyone_only_a_path_through_an_exempted_principal_remains() {
    const MI: &str = "cccccccc-0000-0000-0000-000000000001";
    // The exempted deployer identity lives in the other subscription.
    let mi_id = format!(
        "/subscriptions/{SUB2}/resourceGroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer"
    );
    let mi_role = typed_assignment("ServicePrincipal", 3, MI, CONTRIBUTOR, &sub(SUB));
    // A managed-application style lock: writes on the subscription denied to everyone but the deployer.
    let lock = deny(&sub(SUB), &["00000000-0000-0000-0000-000000000000"], &[MI], &["*/write"]);
    let s = tenant(json!({
        "userAssignedIdentities": [{"id": mi_id, "name": "deployer",
            "properties": {"principalId": MI, "clientId": "cccccccc-0000-0000-0000-0000000000c1"}}],
        "roleAssignments": [
            assignment(1, ALICE, CONTRIBUTOR, &sub(SUB)), assignment(2, ALICE, CONTRIBUTOR, &sub(SUB2)),
            assignment(4, BOB, CONTRIBUTOR, &sub(SUB)), mi_role
        ],
        "denyAssignments": [lock]
    }));
    let f = findings(&s);
    // Alice's own Contributor on the subscription is denied, but her Contributor on the other one lets her add
    // a federated credential to the exempted identity and act as it.
    let alice = get(&f, "contributor-or-stronger-on-subscription", ALICE, &sub(SUB));
    assert!(alice.hops.iter().any(|h| h.edge.to_string() == "CAN_WRITE_FEDERATED_CREDENTIAL"), "{alice:#?}");
    assert!(has(&f, "contributor-or-stronger-on-subscription", MI, &sub(SUB)));
    // Bob's only path is his own role: denied, and no exempted principal to turn to.
    assert!(!has(&f, "contributor-or-stronger-on-subscription", BOB, &sub(SUB)));
}

#[test]
fn unknown_principals_and_unknown_roles_are_not_reported_as_sources() {
    let ghost = "eeeeeeee-0000-0000-0000-000000000001";
    let f = findings(&tenant(json!({"roleAssignments": [
        assignment(1, ghost, OWNER, &sub(SUB)),
        assignment(2, ALICE, "eeeeeeee-0000-0000-0000-0000000000ff", &sub(SUB))
    ]})));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn paths_between_any_two_nodes() {
    let a = typed_assignment("Group", 1, GROUP_B, OWNER, &sub(SUB));
    let s = tenant(json!({"roleAssignments": [a]}));
    let g = PrivilegeGraph::build(&s);
    let rg = g.find(&format!("/subscriptions/{SUB}/resourceGroups/APP")).unwrap();
    let hops = find_path(&g, g.find(BOB).unwrap(), rg, Caps::EMPTY, true).unwrap();
    assert_eq!(hops.len(), 4);
    assert!(find_path(&g, g.find(ALICE).unwrap(), rg, Caps::EMPTY, true).is_none());
}

#[test]
fn findings_are_sorted_and_deterministic() {
    let s = tenant(
        json!({"roleAssignments": [assignment(2, BOB, OWNER, &sub(SUB2)), assignment(1, ALICE, CONTRIBUTOR, &sub(SUB))]}),
    );
    let a = findings(&s);
    assert_eq!(a, findings(&s));
    assert_eq!(a[0].severity.to_string(), "critical");
}

#[test]
fn without_directory_data_arm_principal_type_is_trusted() {
    let mut s =
        tenant(json!({"roleAssignments": [assignment(1, "eeeeeeee-0000-0000-0000-000000000009", OWNER, &sub(SUB))]}));
    s.entra = Default::default();
    let f = findings(&s);
    let x = get(&f, "owner-equivalent-on-subscription", "eeeeeeee-0000-0000-0000-000000000009", &sub(SUB));
    assert_eq!(x.source.kind.to_string(), "User");
}

#[test]
fn untyped_member_with_a_upn_is_a_user() {
    let a = typed_assignment("Group", 1, GROUP_A, OWNER, &sub(SUB));
    let mut s = tenant(json!({"roleAssignments": [a]}));
    let stranger: azpath_graph::snapshot::DirectoryObject = serde_json::from_value(
        json!({"id": "aaaaaaaa-0000-0000-0000-0000000000ff", "userPrincipalName": "x@contoso.com"}),
    )
    .unwrap();
    let ghost: azpath_graph::snapshot::DirectoryObject =
        serde_json::from_value(json!({"id": "aaaaaaaa-0000-0000-0000-0000000000fe"})).unwrap();
    s.entra.group_members[0].members.extend([stranger, ghost]);
    let f = findings(&s);
    assert!(has(&f, "owner-equivalent-on-subscription", "aaaaaaaa-0000-0000-0000-0000000000ff", &sub(SUB)));
    assert!(!has(&f, "owner-equivalent-on-subscription", "aaaaaaaa-0000-0000-0000-0000000000fe", &sub(SUB)));
}

/// A tenant where Dev owns the deploy application (so can act as its service principal), deploy is a member of
/// the role-assignable group app-admins, and app-admins holds Application Administrator on `app_admin_scope`
/// (`/` for every application, or one application's id).
fn walk_tenant(app_admin_scope: &str) -> Snapshot {
    const DEV: &str = "aaaaaaaa-0000-0000-0000-0000000000d1";
    let owner = json!([{"@odata.type": "#microsoft.graph.user", "id": DEV}]);
    let text = json!({
        "schema_version": 1,
        "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public",
                     "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
        "azure": {"subscriptions": [], "roleAssignments": []},
        "entra": {
            "users": [{"id": DEV, "displayName": "Dev", "userPrincipalName": "dev@contoso.example"}],
            "groups": [{"id": GROUP_A, "displayName": "app-admins", "securityEnabled": true, "isAssignableToRole": true}],
            "groupMembers": [{"groupId": GROUP_A,
                              "members": [{"@odata.type": "#microsoft.graph.servicePrincipal", "id": "cccccccc-0000-0000-0000-000000000001"}]}],
            "servicePrincipals": [
                {"id": "cccccccc-0000-0000-0000-000000000001", "appId": "eeeeeeee-0000-0000-0000-000000000001",
                 "displayName": "deploy", "servicePrincipalType": "Application"},
                {"id": "cccccccc-0000-0000-0000-000000000002", "appId": "eeeeeeee-0000-0000-0000-000000000002",
                 "displayName": "billing", "servicePrincipalType": "Application"}
            ],
            "applications": [
                {"id": "dddddddd-0000-0000-0000-000000000001", "appId": "eeeeeeee-0000-0000-0000-000000000001",
                 "displayName": "deploy", "owners": owner},
                {"id": "dddddddd-0000-0000-0000-000000000002", "appId": "eeeeeeee-0000-0000-0000-000000000002",
                 "displayName": "billing"}
            ],
            "directoryRoleDefinitions": [
                {"id": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "displayName": "Application Administrator",
                 "isBuiltIn": true, "isEnabled": true, "templateId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
                 "rolePermissions": [{"allowedResourceActions": [
                    "microsoft.directory/applications/credentials/update",
                    "microsoft.directory/servicePrincipals/credentials/update"]}]}
            ],
            "directoryRoleAssignments": [
                {"id": "dra-1", "principalId": GROUP_A, "roleDefinitionId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
                 "directoryScopeId": app_admin_scope}
            ]
        }
    });
    serde_json::from_value(text).unwrap()
}

/// A pair exists when some walk from the source reaches the target crossing the query's `via`, even one that
/// passes the target on its way (a hub or an identity is a power, not a place visited once): Dev acts as
/// deploy by owning it, and through deploy's group also as every identity Application Administrator covers,
/// deploy again included. Checked against the grouped report (common::pairs does both).
#[test]
fn a_walk_that_passes_its_target_before_crossing_via_still_reaches_it() {
    let via_membership = Query::parse(
        "id = \"via-group\"\ntitle = \"t\"\nseverity = \"high\"\ndescription = \"d\"\nremediation = \"r\"\n\
         [match]\nsources = [\"User\"]\ntargets = [\"ServicePrincipal\"]\nvia = [\"MEMBER_OF\"]\n",
        "via-group",
    )
    .unwrap();
    let reached = |scope: &str| -> Vec<String> {
        let pairs =
            common::pairs(&walk_tenant(scope), std::slice::from_ref(&via_membership), AnalyzeOptions::default());
        let mut names: Vec<String> = pairs.iter().map(|p| p.target.display_name.clone()).collect();
        names.sort();
        names
    };
    // Dev → deploy → app-admins → deploy (and → billing).
    assert_eq!(reached("/"), ["billing", "deploy"]);
    // Application Administrator over billing's application only: deploy is reached only without `via`.
    assert_eq!(reached("/dddddddd-0000-0000-0000-000000000002"), ["billing"]);
}

/// The deploy service principal, whose application Bob owns (so he can act as it).
const DEPLOY_SP: &str = "cccccccc-0000-0000-0000-000000000001";

/// A snapshot record from its JSON.
fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// Adds the deploy application, owned by Bob, and its service principal.
fn add_deploy(s: &mut Snapshot) {
    s.entra.service_principals.push(from(json!({"id": DEPLOY_SP, "appId": "eeeeeeee-0000-0000-0000-000000000001",
        "displayName": "deploy", "servicePrincipalType": "Application"})));
    s.entra.applications.push(from(json!({"id": "dddddddd-0000-0000-0000-000000000001",
        "appId": "eeeeeeee-0000-0000-0000-000000000001", "displayName": "deploy",
        "owners": [{"@odata.type": "#microsoft.graph.user", "id": BOB}]})));
}

/// Bob's pair with Prod under `query` (checked against the per-pair search and every walk): (eligible, hops).
fn bob_on_prod(s: &Snapshot, query: &Query) -> Option<(bool, usize)> {
    let pairs = common::pairs(s, std::slice::from_ref(query), AnalyzeOptions::default());
    pairs.into_iter().find(|p| p.source.id == BOB && p.target.id == sub(SUB)).map(|p| (p.eligible, p.hops.len()))
}

/// The owner-equivalent-on-subscription query under a hop limit.
fn owner_within(max_hops: usize) -> Query {
    let owner = queries().into_iter().find(|q| q.id == "owner-equivalent-on-subscription").unwrap();
    Query { max_hops, ..owner }
}

/// Bob holds Owner on Prod through groups A ⊂ B (three hops) and through group D, of which he is a direct member
/// (two hops); two queries of one search profile ask for it, one within two hops. B's member list, shared by
/// both, has Bob; his pair fails the limit in B's core and is given by D's: the report answers it with D's
/// finding alone, not also with a finding of its own for that one pair (the forward search's).
#[test]
fn a_pair_one_core_leaves_out_and_another_gives_gets_no_finding_of_its_own() {
    const GROUP_D: &str = "bbbbbbbb-0000-0000-0000-00000000000d";
    let with = |d_holds: bool| {
        let mut grants = vec![typed_assignment("Group", 1, GROUP_B, OWNER, &sub(SUB))];
        if d_holds {
            grants.push(typed_assignment("Group", 2, GROUP_D, OWNER, &sub(SUB)));
        }
        let mut s = tenant(json!({ "roleAssignments": grants }));
        s.entra.groups.push(from(json!({"id": GROUP_D, "displayName": "D"})));
        s.entra
            .group_members
            .push(from(json!({"groupId": GROUP_D, "members": [{"@odata.type": "#microsoft.graph.user", "id": BOB}]})));
        s
    };
    let within_two = Query { id: "owner-within-two".into(), ..owner_within(2) };
    let both = [owner_within(10), within_two.clone()];
    // Per finding: its principal, and the queries it answers with the members it counts for each.
    let on_prod = |s: &Snapshot| -> Vec<String> {
        let report = common::analyze_checked(s, &both, AnalyzeOptions::default());
        let mut found: Vec<String> =
            report.findings.iter().map(|f| format!("{} x{}", f.principal.display_name, f.tiers.len())).collect();
        found.sort();
        found
    };
    assert_eq!(bob_on_prod(&with(true), &within_two), Some((false, 2)));
    assert_eq!(on_prod(&with(true)), ["B x2", "D x2"], "one finding per group, each answering both queries");
    // Without D's grant, Bob has no way within two hops.
    assert_eq!(bob_on_prod(&with(false), &within_two), None);
    assert_eq!(on_prod(&with(false)), ["B x2"]);
}

/// Bob holds Owner on Prod through groups A ⊂ B (three hops), is PIM-eligible for it directly (one hop), and
/// owns the deploy application whose service principal is Owner there (two hops, neither eligible nor
/// conditional). Under a hop limit of two the holding way is too long, and the best way that fits is the
/// ownership, not the eligible grant: the pair needs no activation.
#[test]
fn under_a_hop_limit_the_best_way_that_fits_decides_the_flags() {
    let held = typed_assignment("Group", 1, GROUP_B, OWNER, &sub(SUB));
    let by_app = typed_assignment("ServicePrincipal", 3, DEPLOY_SP, OWNER, &sub(SUB));
    let with = |apps: bool| {
        let mut s = tenant(json!({
            "roleAssignments": if apps { vec![held.clone(), by_app.clone()] } else { vec![held.clone()] },
            "roleEligibilityScheduleInstances": [assignment(2, BOB, OWNER, &sub(SUB))]
        }));
        add_deploy(&mut s);
        s
    };
    let owner = owner_within(2);
    assert_eq!(bob_on_prod(&with(true), &owner), Some((false, 2)), "the ownership fits and needs no activation");
    // Without the application's grant, only the eligible grant fits.
    assert_eq!(bob_on_prod(&with(false), &owner), Some((true, 1)));
}

/// The same question when the way that fits runs through a group that holds the grant: Bob reaches group C
/// (Owner on Prod) by nesting A ⊂ B ⊂ C (four hops to Prod), by a PIM-eligible membership of C (two hops), and
/// through the deploy service principal he controls, which owns C (three hops, no flag). Under a hop limit of
/// three the grouped report must give Bob the unflagged way into C's grant, as the per-pair search and every
/// walk do (common::pairs checks all three), not the shortest.
#[test]
fn under_a_hop_limit_a_member_keeps_its_best_way_into_a_group_that_fits() {
    const GROUP_C: &str = "bbbbbbbb-0000-0000-0000-00000000000c";
    let with = |sp_owns_c: bool| {
        let held = typed_assignment("Group", 1, GROUP_C, OWNER, &sub(SUB));
        let mut s = tenant(json!({"roleAssignments": [held]}));
        add_deploy(&mut s);
        let owners = if sp_owns_c {
            json!([{"@odata.type": "#microsoft.graph.servicePrincipal", "id": DEPLOY_SP}])
        } else {
            json!([])
        };
        s.entra.groups.push(from(json!({"id": GROUP_C, "displayName": "C", "owners": owners})));
        s.entra.group_members.push(from(
            json!({"groupId": GROUP_C, "members": [{"@odata.type": "#microsoft.graph.group", "id": GROUP_B}]}),
        ));
        s.entra.group_eligibility_schedule_instances.push(from(json!({"id": "ge-1", "groupId": GROUP_C,
            "principalId": BOB, "accessId": "member", "memberType": "direct", "startDateTime": "2024-01-01T00:00:00Z"})));
        s
    };
    let owner = owner_within(3);
    assert_eq!(bob_on_prod(&with(true), &owner), Some((false, 3)), "through deploy's ownership of C");
    // Without deploy's ownership, only the eligible membership fits.
    assert_eq!(bob_on_prod(&with(false), &owner), Some((true, 2)));
}

/// A deny assignment names Bob at Prod; group B (Contributor there) has Bob as a nested member and the deploy
/// service principal, which Bob controls by owning its application, as a direct member. Bob acting as himself
/// is denied; acting as deploy he is not, so he still reaches Contributor, through deploy's membership. The
/// two ways into B differ only in who acts, and the search must keep both.
#[test]
fn a_denied_actor_still_reaches_a_group_grant_by_acting_as_another_member() {
    let with = |deploy_in_b: bool| {
        let g = typed_assignment("Group", 1, GROUP_B, CONTRIBUTOR, &sub(SUB));
        let mut s = tenant(json!({"roleAssignments": [g], "denyAssignments": [deny(&sub(SUB), &[BOB], &[], &["*"])]}));
        add_deploy(&mut s);
        if deploy_in_b {
            s.entra.group_members[1].members.push(
                serde_json::from_value(json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": DEPLOY_SP}))
                    .unwrap(),
            );
        }
        s
    };
    let bob = |s: &Snapshot| {
        let f = findings(s);
        f.into_iter()
            .find(|p| p.query_id == "contributor-or-stronger-on-subscription" && p.source.id == BOB)
            .map(|p| p.hops.iter().map(|h| h.edge.to_string()).collect::<Vec<_>>())
    };
    assert_eq!(bob(&with(true)).unwrap(), ["CAN_ADD_CREDENTIAL", "MEMBER_OF", "HAS_ROLE"]);
    assert_eq!(bob(&with(false)), None, "Bob's own membership is denied");
}

/// The hop limit counts the steps a principal takes, not inheritance: Alice's Owner on management group
/// platform reaches subscription Prod, two levels down, in one step (the grant; the path shows the two
/// scope-tree steps below it too). A hop limit of one keeps it; Bob, who needs a membership first, is left out.
#[test]
fn inheritance_down_the_scope_tree_does_not_count_toward_the_hop_limit() {
    let mg = |name: &str| format!("/providers/Microsoft.Management/managementGroups/{name}");
    let for_group = typed_assignment("Group", 2, GROUP_A, OWNER, &mg("platform"));
    let s = tenant(json!({
        "managementGroups": [
            {"id": mg("platform"), "name": "platform", "properties": {"displayName": "Platform",
                "children": [{"id": mg("prod"), "type": "Microsoft.Management/managementGroups", "name": "prod",
                    "children": [{"id": sub(SUB), "type": "/subscriptions", "name": SUB}]}]}},
            {"id": mg("prod"), "name": "prod", "properties": {"displayName": "Prod MG"}}
        ],
        "roleAssignments": [assignment(1, ALICE, OWNER, &mg("platform")), for_group]
    }));
    let limited = |max_hops: usize| -> Vec<Query> {
        queries()
            .into_iter()
            .filter(|q| q.id.starts_with("owner-equivalent"))
            .map(|q| Query { max_hops, ..q })
            .collect()
    };
    let reached = |max_hops: usize, who: &str| {
        let f = common::pairs(&s, &limited(max_hops), AnalyzeOptions::default());
        let alice = get(&f, "owner-equivalent-on-subscription", ALICE, &sub(SUB));
        assert_eq!(alice.hops.len(), 3, "the path shows the grant and the two steps below it");
        has(&f, "owner-equivalent-on-subscription", who, &sub(SUB))
    };
    assert!(reached(1, ALICE));
    assert!(!reached(1, BOB), "Bob's membership is a step");
    assert!(reached(2, BOB));
}

/// Bob is PIM-eligible for a conditional RBAC administrator role on Prod that azpath cannot read (one
/// activation, a condition), and PIM-eligible to join group A, which is PIM-eligible for Owner there (two
/// activations, no condition). Both need an activation; the second rests on no condition, so the pair is
/// eligible and not conditional.
#[test]
fn a_pair_rests_on_no_condition_when_some_way_needing_activation_rests_on_none() {
    let mut conditional = assignment(1, BOB, RBAC_ADMIN, &sub(SUB));
    conditional["properties"]["condition"] = json!("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] StringLike '*'))");
    let group_owner = typed_assignment("Group", 2, GROUP_A, OWNER, &sub(SUB));
    let with = |eligible_member: bool| {
        let mut s = tenant(json!({"roleEligibilityScheduleInstances": [conditional.clone(), group_owner.clone()]}));
        s.entra.group_members.clear();
        if eligible_member {
            s.entra.group_eligibility_schedule_instances.push(from(json!({"id": "ge-1", "groupId": GROUP_A,
                "principalId": BOB, "accessId": "member", "memberType": "direct",
                "startDateTime": "2024-01-01T00:00:00Z"})));
        }
        let f = findings(&s);
        let bob = get(&f, "owner-equivalent-on-subscription", BOB, &sub(SUB));
        (bob.eligible, bob.conditional)
    };
    assert_eq!(with(true), (true, false));
    // Without the way through group A, only the conditional grant is left.
    assert_eq!(with(false), (true, true));
}

/// A tier's pair count and exposure come from the cores' member lists, counting principals with the same lists
/// once, except a principal that is itself one of the targets (it does not reach itself): here Bob and the
/// identity `id-one` are both members of a group that owns the resource group holding `id-one` and `id-two`.
/// Bob reaches both identities, `id-one` only the other one; `analyze_checked` compares both counts with the
/// per-pair search.
#[test]
fn a_principal_that_is_one_of_the_targets_is_counted_apart_from_its_fellow_members() {
    const ID_ONE: &str = "cccccccc-0000-0000-0000-000000000001";
    const ID_TWO: &str = "cccccccc-0000-0000-0000-000000000002";
    const OPS: &str = "bbbbbbbb-0000-0000-0000-0000000000cc";
    let rg = format!("/subscriptions/{SUB}/resourceGroups/app");
    let uami = |name: &str, principal: &str, client: &str| {
        json!({"id": format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"), "name": name,
               "properties": {"principalId": principal, "clientId": client}})
    };
    let mut s = serde_json::to_value(tenant(json!({
        "roleAssignments": [typed_assignment("Group", 1, OPS, OWNER, &rg)],
        "userAssignedIdentities": [
            uami("id-one", ID_ONE, "dddddddd-0000-0000-0000-000000000001"),
            uami("id-two", ID_TWO, "dddddddd-0000-0000-0000-000000000002")
        ]
    })))
    .unwrap();
    s["entra"]["groups"].as_array_mut().unwrap().push(json!({"id": OPS, "displayName": "Ops"}));
    s["entra"]["groupMembers"].as_array_mut().unwrap().push(json!({"groupId": OPS, "members": [
        {"@odata.type": "#microsoft.graph.user", "id": BOB},
        {"@odata.type": "#microsoft.graph.servicePrincipal", "id": ID_ONE}
    ]}));
    let s: Snapshot = serde_json::from_value(s).unwrap();
    let query = Query::parse(include_str!("../../queries/can-act-as-managed-identity.toml"), "act-as").unwrap();
    let report = common::analyze_checked(&s, std::slice::from_ref(&query), AnalyzeOptions::default());
    let tier = &report.tiers[0];
    let of = |source: &str| report.pairs.iter().filter(|p| p.source.eq_ignore_ascii_case(source)).count();
    assert_eq!((of(BOB), of(ID_ONE)), (2, 1), "Bob reaches both identities, id-one only the other");
    assert!(tier.pairs >= 3 && tier.exposure.principals >= 2, "{tier:#?}");
}
