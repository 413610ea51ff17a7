//! `azpath paths` search on small in-code tenants: the strongest power at the target first, then active before
//! PIM-eligible, then fewest hops; `--capability` as a filter; deny assignments for the acting principal;
//! near-miss names.

use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::model::EdgeKind;
use azpath_graph::pathfind::{best_path, find_path, near_misses, FoundPath, PathOptions, Strength};
use azpath_graph::rbac::{Capability, Caps};
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const ALICE: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const BOB: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const GROUP_A: &str = "bbbbbbbb-0000-0000-0000-00000000000a";
const GROUP_B: &str = "bbbbbbbb-0000-0000-0000-00000000000b";
const DEPLOY_SP: &str = "cccccccc-0000-0000-0000-000000000001";
const DEPLOY_APP: &str = "cccccccc-0000-0000-0000-0000000000a1";
const DEPLOY_APPID: &str = "cccccccc-0000-0000-0000-0000000000a2";

fn sub() -> String {
    format!("/subscriptions/{SUB}")
}

fn assignment(n: u32, principal: &str, kind: &str, role: &str) -> Value {
    json!({
        "id": format!("{}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}", sub()),
        "name": format!("00000000-0000-0000-0000-{n:012}"),
        "properties": {
            "scope": sub(),
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal,
            "principalType": kind
        }
    })
}

fn deny(principal: &str, actions: &[&str]) -> Value {
    json!({
        "id": format!("{}/providers/Microsoft.Authorization/denyAssignments/dddddddd-0000-0000-0000-000000000001", sub()),
        "name": "dddddddd-0000-0000-0000-000000000001",
        "properties": {
            "scope": sub(),
            "permissions": [{"actions": actions, "notActions": []}],
            "principals": [{"id": principal, "type": "User"}],
            "excludePrincipals": [],
            "doNotApplyToChildScopes": false
        }
    })
}

/// Alice; Bob in group A, A in group B; application `deploy` owned by Alice, with its service principal; plus
/// the given ARM records.
fn tenant(azure: Value) -> PrivilegeGraph {
    let mut s = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2025-01-01T00:00:00Z"},
        "azure": {
            "subscriptions": [{"id": sub(), "subscriptionId": SUB, "displayName": "Prod"}],
            "resourceGroups": [{"id": format!("{}/resourceGroups/app", sub()), "name": "app"}]
        },
        "entra": {
            "users": [{"id": ALICE, "displayName": "Alice"}, {"id": BOB, "displayName": "Bob"}],
            "groups": [{"id": GROUP_A, "displayName": "A"}, {"id": GROUP_B, "displayName": "B"}],
            "groupMembers": [
                {"groupId": GROUP_A, "members": [{"@odata.type": "#microsoft.graph.user", "id": BOB}]},
                {"groupId": GROUP_B, "members": [{"@odata.type": "#microsoft.graph.group", "id": GROUP_A}]}
            ],
            "servicePrincipals": [{"id": DEPLOY_SP, "appId": DEPLOY_APPID, "displayName": "deploy",
                                   "servicePrincipalType": "Application"}],
            "applications": [{"id": DEPLOY_APP, "appId": DEPLOY_APPID, "displayName": "deploy",
                              "owners": [{"@odata.type": "#microsoft.graph.user", "id": ALICE}]}]
        }
    });
    for (k, v) in azure.as_object().unwrap() {
        s["azure"][k] = v.clone();
    }
    PrivilegeGraph::build(&Snapshot::from_json(&s.to_string(), "test").unwrap())
}

fn strongest(g: &PrivilegeGraph, from: &str, to: &str) -> Option<FoundPath> {
    best_path(
        g,
        g.find(from).unwrap(),
        g.find(to).unwrap(),
        PathOptions { capabilities: Caps::EMPTY, include_eligible: true },
    )
}

fn labels(p: &FoundPath) -> Vec<&str> {
    p.hops.iter().map(|h| h.label.as_str()).collect()
}

fn group_owner() -> Value {
    assignment(2, GROUP_B, "Group", OWNER)
}

#[test]
fn strongest_power_beats_a_cheaper_weaker_path() {
    // Bob holds Reader directly (one hop) and Owner through A ⊂ B (three hops).
    let g = tenant(json!({"roleAssignments": [assignment(1, BOB, "User", READER), group_owner()]}));
    let hops = find_path(&g, g.find(BOB).unwrap(), g.find(&sub()).unwrap(), Caps::EMPTY, true).unwrap();
    let roles: Vec<&str> = hops.iter().map(|h| h.label.as_str()).collect();
    assert_eq!(roles, ["member of", "member of", "Owner"]);
    let p = strongest(&g, BOB, &sub()).unwrap();
    assert_eq!(p.strength, Some(Strength::AssignRoles));
    assert!(p.capabilities.contains(Capability::WriteEverything));
}

#[test]
fn a_weaker_role_alone_is_reported_as_what_it_is() {
    let g = tenant(json!({"roleAssignments": [assignment(1, BOB, "User", READER)]}));
    let p = strongest(&g, BOB, &sub()).unwrap();
    assert_eq!(labels(&p), ["Reader"]);
    assert_eq!((p.strength, p.capabilities), (Some(Strength::AnyRole), Caps::EMPTY));
    assert_eq!(Strength::AnyRole.stronger().count(), 3);
}

#[test]
fn eligible_owner_beats_active_contributor_and_active_owner_beats_eligible_owner() {
    let mut eligible_owner = assignment(3, BOB, "User", OWNER);
    eligible_owner["id"] = json!(format!(
        "{}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/00000000-0000-0000-0000-000000000003",
        sub()
    ));
    let contributor = assignment(1, BOB, "User", CONTRIBUTOR);
    let g = tenant(
        json!({"roleAssignments": [contributor.clone()], "roleEligibilityScheduleInstances": [eligible_owner.clone()]}),
    );
    let p = strongest(&g, BOB, &sub()).unwrap();
    assert_eq!(labels(&p), ["Owner (PIM eligible)"]);
    assert!(p.hops[0].eligible);
    // The same strength active, even three hops long, comes before the eligible one.
    let g = tenant(
        json!({"roleAssignments": [contributor, group_owner()], "roleEligibilityScheduleInstances": [eligible_owner]}),
    );
    let p = strongest(&g, BOB, &sub()).unwrap();
    assert_eq!(labels(&p), ["member of", "member of", "Owner"]);
}

#[test]
fn without_eligible_assignments_the_strongest_active_power_is_taken() {
    let mut eligible_owner = assignment(3, BOB, "User", OWNER);
    eligible_owner["id"] = json!(format!(
        "{}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/00000000-0000-0000-0000-000000000003",
        sub()
    ));
    let g = tenant(json!({
        "roleAssignments": [assignment(1, BOB, "User", CONTRIBUTOR)],
        "roleEligibilityScheduleInstances": [eligible_owner]
    }));
    let options = PathOptions { capabilities: Caps::EMPTY, include_eligible: false };
    let p = best_path(&g, g.find(BOB).unwrap(), g.find(&sub()).unwrap(), options).unwrap();
    assert_eq!((labels(&p), p.strength), (vec!["Contributor"], Some(Strength::WriteEverything)));
}

#[test]
fn a_capability_asked_for_takes_the_cheapest_path_conferring_it() {
    let g = tenant(json!({"roleAssignments": [assignment(1, BOB, "User", CONTRIBUTOR), group_owner()]}));
    let (bob, target) = (g.find(BOB).unwrap(), g.find(&sub()).unwrap());
    let hops = find_path(&g, bob, target, Capability::WriteEverything.bit(), true).unwrap();
    assert_eq!(hops.len(), 1, "Contributor directly, not Owner through two groups");
    let hops = find_path(&g, bob, target, Capability::AssignRoles.bit(), true).unwrap();
    assert_eq!(hops.len(), 3);
    let g = tenant(json!({"roleAssignments": [assignment(1, BOB, "User", READER)]}));
    assert!(find_path(&g, g.find(BOB).unwrap(), target, Capability::WriteEverything.bit(), true).is_none());
}

#[test]
fn scope_below_the_assignment_is_reached_through_the_scope_tree() {
    let g = tenant(json!({"roleAssignments": [group_owner()]}));
    let rg = format!("{}/resourceGroups/app", sub());
    let p = strongest(&g, BOB, &rg).unwrap();
    assert_eq!(labels(&p), ["member of", "member of", "Owner", "contains"]);
    assert!(strongest(&g, ALICE, &rg).is_none());
}

#[test]
fn a_deny_on_the_source_does_not_touch_the_power_of_the_identity_it_acts_as() {
    // Alice owns the application `deploy`, whose service principal is Owner; a deny names Alice only.
    let g = tenant(json!({
        "roleAssignments": [assignment(1, DEPLOY_SP, "ServicePrincipal", OWNER), assignment(2, ALICE, "User", OWNER)],
        "denyAssignments": [deny(ALICE, &["Microsoft.Authorization/*"])]
    }));
    let (alice, target) = (g.find(ALICE).unwrap(), g.find(&sub()).unwrap());
    let hops =
        find_path(&g, alice, target, Capability::AssignRoles.bit(), true).expect("through the service principal");
    assert_eq!(hops.len(), 2);
    let p = strongest(&g, ALICE, &sub()).unwrap();
    let edges: Vec<EdgeKind> = p.hops.iter().map(|h| h.edge).collect();
    assert_eq!((p.strength, edges), (Some(Strength::AssignRoles), vec![EdgeKind::CanAddCredential, EdgeKind::HasRole]));
}

#[test]
fn a_deny_on_the_actor_lowers_the_power_it_holds() {
    let g = tenant(json!({
        "roleAssignments": [assignment(1, BOB, "User", OWNER)],
        "denyAssignments": [deny(BOB, &["Microsoft.Authorization/*"])]
    }));
    let p = strongest(&g, BOB, &sub()).unwrap();
    assert_eq!(p.strength, Some(Strength::WriteEverything));
    assert!(!p.capabilities.contains(Capability::AssignRoles));
}

#[test]
fn a_path_to_an_identity_holds_no_role() {
    let g = tenant(json!({"roleAssignments": [group_owner()]}));
    let p = strongest(&g, BOB, GROUP_B).unwrap();
    assert_eq!((labels(&p), p.strength), (vec!["member of", "member of"], None));
    assert!(strongest(&g, GROUP_B, BOB).is_none());
}

fn names(g: &PrivilegeGraph, what: &str) -> Vec<String> {
    near_misses(g, what, 5).into_iter().map(|n| g.node(n).name.to_string()).collect()
}

#[test]
fn near_misses_find_typos_and_parts_of_names_and_ids_in_any_case() {
    let g = tenant(json!({}));
    assert_eq!(names(&g, "alcie"), ["Alice"]);
    assert_eq!(names(&g, "DEPLY"), ["deploy", "deploy"], "application and service principal");
    assert_eq!(names(&g, "aaaaaaaa-0000-0000-0000-00000000000z")[..2], ["Alice", "Bob"], "closest ids first");
    assert_eq!(names(&g, "Pro"), ["Prod"]);
}

#[test]
fn near_misses_are_empty_for_nonsense_and_capped() {
    let g = tenant(json!({}));
    assert!(names(&g, "zzqxw-nonsense-42").is_empty());
    assert!(names(&g, "").is_empty());
    assert_eq!(near_misses(&g, "0000-0000-0000", 5).len(), 5, "every id contains it: at most five");
}
