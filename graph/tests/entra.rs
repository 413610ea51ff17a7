//! Entra control-plane edges: owners of applications, service principals and groups. One positive and one
//! negative case per rule, on small tenants in Graph's wire shapes (`$expand=owners` listings).

mod common;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair as Finding;
use azpath_graph::model::EdgeKind;
use azpath_graph::query::Query;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const DEV: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const DEV2: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const DEV3: &str = "aaaaaaaa-0000-0000-0000-000000000003";
const LEAD: &str = "aaaaaaaa-0000-0000-0000-000000000004";
const DEPLOY_SP: &str = "cccccccc-0000-0000-0000-000000000001";
const DEPLOY_APP: &str = "dddddddd-0000-0000-0000-000000000001";
const DEPLOY_APPID: &str = "eeeeeeee-0000-0000-0000-000000000001";
const READER_SP: &str = "cccccccc-0000-0000-0000-000000000002";
const READER_APP: &str = "dddddddd-0000-0000-0000-000000000002";
const READER_APPID: &str = "eeeeeeee-0000-0000-0000-000000000002";
const FOREIGN_APP: &str = "dddddddd-0000-0000-0000-000000000003";
const OPS_SP: &str = "cccccccc-0000-0000-0000-000000000003";
const AUTOMATION_SP: &str = "cccccccc-0000-0000-0000-000000000004";
const ADMINS: &str = "bbbbbbbb-0000-0000-0000-00000000000a";
const EMPTY: &str = "bbbbbbbb-0000-0000-0000-00000000000b";

fn queries() -> Vec<Query> {
    [
        ("owner-equivalent-on-subscription", include_str!("../../queries/owner-equivalent-on-subscription.toml")),
        (
            "contributor-or-stronger-on-subscription",
            include_str!("../../queries/contributor-or-stronger-on-subscription.toml"),
        ),
    ]
    .iter()
    .map(|(id, text)| Query::parse(text, id).unwrap())
    .collect()
}

fn sub() -> String {
    format!("/subscriptions/{SUB}")
}

fn assignment(n: u32, principal: &str, principal_type: &str, role: &str) -> Value {
    let scope = sub();
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
        "name": format!("00000000-0000-0000-0000-{n:012}"),
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal,
            "principalType": principal_type
        }
    })
}

fn user(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.user", "id": id})
}

/// Applications and service principals with owners, groups with owners, and role assignments of the owned
/// objects; decoys: an owned app whose principal is only Reader, an owned app with no service principal in
/// this tenant, an owned group that holds no role.
fn tenant() -> Snapshot {
    let s = json!({
        "schema_version": 1,
        "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public",
                     "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
        "azure": {
            "subscriptions": [{"id": sub(), "subscriptionId": SUB, "displayName": "Prod"}],
            "roleAssignments": [
                assignment(1, DEPLOY_SP, "ServicePrincipal", OWNER),
                assignment(2, READER_SP, "ServicePrincipal", READER),
                assignment(3, OPS_SP, "ServicePrincipal", CONTRIBUTOR),
                assignment(4, ADMINS, "Group", OWNER)
            ]
        },
        "entra": {
            "users": [
                {"id": DEV, "displayName": "Dev"}, {"id": DEV2, "displayName": "Dev Two"},
                {"id": DEV3, "displayName": "Dev Three"}, {"id": LEAD, "displayName": "Lead"}
            ],
            "groups": [
                {"id": ADMINS, "displayName": "sub-admins", "securityEnabled": true, "owners": [user(LEAD)]},
                {"id": EMPTY, "displayName": "no-roles", "securityEnabled": true, "owners": [user(DEV3)]}
            ],
            "servicePrincipals": [
                {"id": DEPLOY_SP, "appId": DEPLOY_APPID, "displayName": "deploy", "servicePrincipalType": "Application"},
                {"id": READER_SP, "appId": READER_APPID, "displayName": "reporting", "servicePrincipalType": "Application"},
                {"id": OPS_SP, "appId": "eeeeeeee-0000-0000-0000-000000000003", "displayName": "ops",
                 "servicePrincipalType": "Application", "owners": [user(DEV2)]},
                {"id": AUTOMATION_SP, "appId": "eeeeeeee-0000-0000-0000-000000000004", "displayName": "automation",
                 "servicePrincipalType": "Application"}
            ],
            "applications": [
                {"id": DEPLOY_APP, "appId": DEPLOY_APPID, "displayName": "deploy",
                 "owners": [user(DEV), {"@odata.type": "#microsoft.graph.servicePrincipal", "id": AUTOMATION_SP}]},
                {"id": READER_APP, "appId": READER_APPID, "displayName": "reporting", "owners": [user(DEV3)]},
                {"id": FOREIGN_APP, "appId": "eeeeeeee-0000-0000-0000-0000000000ff", "displayName": "multi-tenant",
                 "owners": [user(DEV3)]}
            ]
        }
    });
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

fn findings() -> Vec<Finding> {
    common::pairs(&tenant(), &queries(), AnalyzeOptions::default())
}

fn get<'a>(f: &'a [Finding], query: &str, source: &str) -> Option<&'a Finding> {
    f.iter().find(|x| x.query_id == query && x.source.id == source && x.target.id == sub())
}

#[test]
fn application_owner_signs_in_as_its_owner_service_principal() {
    let f = findings();
    let found = get(&f, "owner-equivalent-on-subscription", DEV).expect("app owner reaches Owner");
    let edges: Vec<EdgeKind> = found.hops.iter().map(|h| h.edge).collect();
    assert_eq!(edges, [EdgeKind::CanAddCredential, EdgeKind::HasRole]);
    assert_eq!(found.hops[0].to.id, DEPLOY_SP);
    assert!(found.hops[0].evidence.contains(&DEPLOY_APP.to_string()), "{:?}", found.hops[0]);
    assert_eq!(
        found.remediation.command.as_deref(),
        Some(format!("az ad app owner remove --id {DEPLOY_APP} --owner-object-id {DEV}").as_str()),
        "the cut is the ownership, not the pipeline's role: {:?}",
        found.remediation
    );
    // A service principal that owns the application is a source too (no human needed).
    assert!(get(&f, "owner-equivalent-on-subscription", AUTOMATION_SP).is_some());
}

#[test]
fn owning_a_weak_or_foreign_application_gives_nothing() {
    let f = findings();
    // Dev Three owns the Reader app, an app with no service principal here, and a role-less group.
    assert!(
        f.iter().all(|x| x.source.id != DEV3),
        "{:#?}",
        f.iter().filter(|x| x.source.id == DEV3).collect::<Vec<_>>()
    );
}

#[test]
fn service_principal_owner_acts_as_it() {
    let f = findings();
    let found = get(&f, "contributor-or-stronger-on-subscription", DEV2).expect("SP owner reaches Contributor");
    assert_eq!(found.hops[0].edge, EdgeKind::CanAddCredential);
    assert_eq!(found.hops[0].to.id, OPS_SP);
    assert!(get(&f, "owner-equivalent-on-subscription", DEV2).is_none(), "Contributor is not Owner-equivalent");
    // `az ad sp` cannot remove owners: the Graph call, its `$ref` quoted so the shell leaves it alone.
    assert_eq!(
        found.remediation.command.as_deref(),
        Some(format!("az rest --method delete --url 'https://graph.microsoft.com/v1.0/servicePrincipals/{OPS_SP}/owners/{DEV2}/$ref'").as_str())
    );
}

#[test]
fn group_owner_can_add_itself_and_holds_the_groups_role() {
    let f = findings();
    let found = get(&f, "owner-equivalent-on-subscription", LEAD).expect("group owner reaches Owner");
    let edges: Vec<EdgeKind> = found.hops.iter().map(|h| h.edge).collect();
    assert_eq!(edges, [EdgeKind::CanAddMember, EdgeKind::HasRole]);
    assert_eq!(found.hops[0].to.id, ADMINS);
    assert_eq!(
        found.remediation.command.as_deref(),
        Some(format!("az ad group owner remove --group {ADMINS} --owner-object-id {LEAD}").as_str())
    );
}

/// The grouped report on this tenant: standing grants vs escalations, a group owner as an escalating member,
/// exposure counted per principal, an escalation left out when its principal holds the power anyway, and a
/// plan that cuts ownerships rather than the grants others hold.
#[test]
fn grouped_report_separates_standing_from_escalation_and_plans_the_cheapest_cuts() {
    use azpath_graph::findings::Reach;
    let report = common::analyze_checked(&tenant(), &queries(), AnalyzeOptions::default());
    let find = |principal: &'static str| report.findings.iter().filter(move |f| f.principal.id == principal);
    // Standing: sub-admins' Owner; its owner Lead is a member who escalates, not a holder.
    let admins = find(ADMINS).next().expect("sub-admins' Owner");
    assert_eq!(admins.reach, Reach::Standing);
    let set = report.members_of(admins).expect("sub-admins has members");
    assert_eq!(set.escalating().map(|n| n.id.as_str()).collect::<Vec<_>>(), [LEAD]);
    // Escalation: Dev owns deploy's application; Dev Three owns only the Reader app and a role-less group.
    assert!(find(DEV).any(|f| f.reach == Reach::Escalation && f.hops[0].edge == EdgeKind::CanAddCredential));
    assert!(find(DEV3).next().is_none());
    // Exposure of Owner-equivalent: deploy holds it; Dev, automation and Lead only reach it by escalation.
    let tier = report.tiers.iter().find(|t| t.query_id == "owner-equivalent-on-subscription").unwrap();
    assert_eq!((tier.exposure.principals, tier.exposure.standing, tier.exposure.escalation), (4, 1, 3));
    assert_eq!(tier.after_plan.escalation, 0);
    // The plan is the shortest cover: deploy's Owner (one change cuts both of its application's owners) and
    // the ownerships of sub-admins and ops; sub-admins' own Owner assignment stays.
    assert!(report.plan.verified, "{:?}", report.plan.remaining);
    assert_eq!(report.plan.steps.len(), 3, "{:?}", report.plan.steps);
    assert!(report.plan.steps.contains(&format!("owner:{ADMINS}/{LEAD}")));
    assert!(report.plan.steps.contains(&format!("owner:{OPS_SP}/{DEV2}")));
    assert!(!report.plan.steps.iter().any(|s| s.ends_with("roleassignments/00000000-0000-0000-0000-000000000004")));

    // Dev with Owner of his own: his way through the application gains nothing and is not reported or cut.
    let mut s = serde_json::to_value(tenant()).unwrap();
    s["azure"]["roleAssignments"].as_array_mut().unwrap().push(assignment(5, DEV, "User", OWNER));
    let held =
        common::analyze_checked(&Snapshot::from_json(&s.to_string(), "t").unwrap(), &queries(), Default::default());
    let dev: Vec<_> = held.findings.iter().filter(|f| f.principal.id == DEV).collect();
    assert!(dev.iter().all(|f| f.reach == Reach::Standing), "{dev:#?}");
    assert!(held.findings.iter().any(|f| f.principal.id == AUTOMATION_SP && f.reach == Reach::Escalation));
}

/// A nested member of a group (through an inner group) who also owns the group holds the group's Owner by
/// membership: it is a standing holder, not an escalating member, though adding itself is one hop shorter.
/// Its co-owner who is no member escalates.
#[test]
fn a_nested_member_who_also_owns_the_group_holds_its_role_by_membership() {
    use azpath_graph::findings::Reach;
    const INNER: &str = "bbbbbbbb-0000-0000-0000-00000000000c";
    const NESTED: &str = "aaaaaaaa-0000-0000-0000-000000000005";
    let mut s: Value = serde_json::from_str(&tenant().to_json()).unwrap();
    let entra = &mut s["entra"];
    entra["users"].as_array_mut().unwrap().push(json!({"id": NESTED, "displayName": "Nested Owner"}));
    entra["groups"].as_array_mut().unwrap().push(json!({"id": INNER, "displayName": "inner", "securityEnabled": true}));
    let admins = entra["groups"].as_array_mut().unwrap().iter_mut().find(|g| g["id"] == ADMINS).unwrap();
    admins["owners"].as_array_mut().unwrap().push(user(NESTED));
    entra["groupMembers"] = json!([
        {"groupId": ADMINS, "members": [{"@odata.type": "#microsoft.graph.group", "id": INNER}]},
        {"groupId": INNER, "members": [user(NESTED)]}
    ]);
    let snapshot = Snapshot::from_json(&s.to_string(), "test").unwrap();
    let report = common::analyze_checked(&snapshot, &queries(), AnalyzeOptions::default());
    let admins = report.findings.iter().find(|f| f.principal.id == ADMINS).expect("sub-admins' Owner");
    assert_eq!(admins.reach, Reach::Standing);
    let set = report.members_of(admins).expect("members");
    assert!(set.all_ids().any(|m| m == NESTED), "the nested owner is a member");
    assert_eq!(set.escalating().map(|n| n.id.as_str()).collect::<Vec<_>>(), [LEAD]);
    let pairs = common::pairs(&snapshot, &queries(), AnalyzeOptions::default());
    let nested = get(&pairs, "owner-equivalent-on-subscription", NESTED).expect("the nested owner reaches Owner");
    let edges: Vec<EdgeKind> = nested.hops.iter().map(|h| h.edge).collect();
    assert_eq!(edges, [EdgeKind::MemberOf, EdgeKind::MemberOf, EdgeKind::HasRole]);
}

/// Holding before gaining never costs a pair under a hop limit: a member three groups deep (four hops to the
/// subscription) who also owns the top group (two hops) reaches it under `max_hops = 3` by its ownership, an
/// escalation, in the grouped report and in the per-pair search alike; with the default limit it holds it.
#[test]
fn a_deep_member_who_owns_the_group_still_reaches_within_a_short_hop_limit() {
    use azpath_graph::findings::Reach;
    const G1: &str = "bbbbbbbb-0000-0000-0000-0000000000d1";
    const G2: &str = "bbbbbbbb-0000-0000-0000-0000000000d2";
    const DEEP: &str = "aaaaaaaa-0000-0000-0000-000000000006";
    let mut s: Value = serde_json::from_str(&tenant().to_json()).unwrap();
    let entra = &mut s["entra"];
    entra["users"].as_array_mut().unwrap().push(json!({"id": DEEP, "displayName": "Deep Owner"}));
    for g in [G1, G2] {
        entra["groups"].as_array_mut().unwrap().push(json!({"id": g, "displayName": g, "securityEnabled": true}));
    }
    let admins = entra["groups"].as_array_mut().unwrap().iter_mut().find(|g| g["id"] == ADMINS).unwrap();
    admins["owners"].as_array_mut().unwrap().push(user(DEEP));
    let group = |id: &str| json!({"@odata.type": "#microsoft.graph.group", "id": id});
    entra["groupMembers"] = json!([
        {"groupId": ADMINS, "members": [group(G2)]},
        {"groupId": G2, "members": [group(G1)]},
        {"groupId": G1, "members": [user(DEEP)]}
    ]);
    let snapshot = Snapshot::from_json(&s.to_string(), "test").unwrap();
    let text = include_str!("../../queries/owner-equivalent-on-subscription.toml");
    let short = Query::parse(&format!("{text}max_hops = 3\n"), "owner-equivalent-on-subscription").unwrap();
    assert_eq!(short.max_hops, 3);
    for (query, hops, reach) in [(short, 2, Reach::Escalation), (queries().remove(0), 4, Reach::Standing)] {
        let queries = [query];
        let pairs = common::pairs(&snapshot, &queries, AnalyzeOptions::default());
        let deep = get(&pairs, "owner-equivalent-on-subscription", DEEP).expect("the deep owner reaches Owner");
        assert_eq!(deep.hops.len(), hops, "{:?}", deep.hops);
        let report =
            common::analyze_checked(&snapshot, &queries, AnalyzeOptions { expand: true, ..Default::default() });
        let line = report.pairs.iter().find(|p| p.source == DEEP).expect("the report implies the pair");
        assert_eq!(line.reach, reach);
    }
}
