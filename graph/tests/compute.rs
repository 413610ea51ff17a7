//! Identities on compute: who can run code on a resource acts as the identities attached to it, judged by
//! the role's actions; who may assign a user-assigned identity and write compute can attach it. One positive
//! and one negative case per resource type, on a tenant in ARM's `GET …/resources` shapes.

mod common;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair;
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::model::{EdgeKind, NodeKind};
use azpath_graph::query::Query;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "22222222-0000-0000-0000-000000000001";
/// Where the identities are Owner (nothing runs there, so reaching one identity does not reach the others).
const SUB2: &str = "22222222-0000-0000-0000-000000000002";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const VM_CONTRIBUTOR: &str = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c";
const WEBSITE_CONTRIBUTOR: &str = "de139f84-1756-47ae-9be6-808fbbe84772";
const MI_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";

// Custom roles.
const RUN_COMMAND_ONLY: &str = "cccccccc-1111-0000-0000-000000000001";
const AUTOMATION: &str = "cccccccc-1111-0000-0000-000000000002";
const JOBS_ONLY: &str = "cccccccc-1111-0000-0000-000000000003";
const LOGIC: &str = "cccccccc-1111-0000-0000-000000000004";
const ACI: &str = "cccccccc-1111-0000-0000-000000000005";
const ADF: &str = "cccccccc-1111-0000-0000-000000000006";
const ADF_WRITE_ONLY: &str = "cccccccc-1111-0000-0000-000000000007";
const BATCH: &str = "cccccccc-1111-0000-0000-000000000008";
const VM_LOGIN: &str = "cccccccc-1111-0000-0000-000000000009";

// Identities (principal ids).
const MI_VM: &str = "11111111-aaaa-0000-0000-000000000001";
const MI_SITE: &str = "11111111-aaaa-0000-0000-000000000002";
const MI_AA: &str = "11111111-aaaa-0000-0000-000000000003";
const MI_WF: &str = "11111111-aaaa-0000-0000-000000000004";
const MI_CG: &str = "11111111-aaaa-0000-0000-000000000005";
const MI_CA: &str = "11111111-aaaa-0000-0000-000000000006";
const MI_DF: &str = "11111111-aaaa-0000-0000-000000000007";
const MI_BA: &str = "11111111-aaaa-0000-0000-000000000008";
const MI_FREE: &str = "11111111-aaaa-0000-0000-000000000009";
const MI_VMSS: &str = "11111111-aaaa-0000-0000-00000000000a";

// Principals (users).
const VMC: &str = "aaaaaaaa-2222-0000-0000-000000000001";
const RUNCMD: &str = "aaaaaaaa-2222-0000-0000-000000000002";
const WEB: &str = "aaaaaaaa-2222-0000-0000-000000000003";
const READ: &str = "aaaaaaaa-2222-0000-0000-000000000004";
const SIBLING: &str = "aaaaaaaa-2222-0000-0000-000000000005";
const AUTO: &str = "aaaaaaaa-2222-0000-0000-000000000006";
const AUTO_OP: &str = "aaaaaaaa-2222-0000-0000-000000000007";
const LOGIC_DEV: &str = "aaaaaaaa-2222-0000-0000-000000000008";
const ACI_DEV: &str = "aaaaaaaa-2222-0000-0000-000000000009";
const ADF_DEV: &str = "aaaaaaaa-2222-0000-0000-00000000000a";
const ADF_WRITER: &str = "aaaaaaaa-2222-0000-0000-00000000000b";
const BATCH_DEV: &str = "aaaaaaaa-2222-0000-0000-00000000000c";
const MIO: &str = "aaaaaaaa-2222-0000-0000-00000000000d";
const MIO_ONLY: &str = "aaaaaaaa-2222-0000-0000-00000000000e";
const DENIED: &str = "aaaaaaaa-2222-0000-0000-00000000000f";
const ELIGIBLE: &str = "aaaaaaaa-2222-0000-0000-000000000010";
const LOGIN: &str = "aaaaaaaa-2222-0000-0000-000000000011";

fn sub() -> String {
    format!("/subscriptions/{SUB}")
}

fn sub2() -> String {
    format!("/subscriptions/{SUB2}")
}

fn rg(name: &str) -> String {
    format!("{}/resourceGroups/{name}", sub())
}

fn uami_id(name: &str) -> String {
    format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}", rg("rg-app"))
}

fn custom(guid: &str, name: &str, actions: &[&str], data_actions: &[&str]) -> Value {
    json!({
        "id": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{guid}", sub()),
        "name": guid,
        "properties": {"roleName": name, "type": "CustomRole",
            "permissions": [{"actions": actions, "dataActions": data_actions}], "assignableScopes": [sub()]}
    })
}

fn assignment(n: u32, principal: &str, role: &str, scope: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0001-{n:012}"),
        "name": format!("00000000-0000-0000-0001-{n:012}"),
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal,
            "principalType": "User"
        }
    })
}

/// A resource of `GET /subscriptions/{id}/resources` in rg-app with a system-assigned identity.
fn system(kind: &str, name: &str, principal: &str) -> Value {
    json!({
        "id": format!("{}/providers/{kind}/{name}", rg("rg-app")),
        "name": name, "type": kind, "location": "westeurope",
        "identity": {"type": "SystemAssigned", "principalId": principal, "tenantId": "tttttttt"}
    })
}

fn tenant_with(extra: Value) -> Snapshot {
    let app = rg("rg-app");
    let other = rg("rg-other");
    let mut azure = json!({
        "subscriptions": [{"id": sub(), "subscriptionId": SUB, "displayName": "Apps"},
                          {"id": sub2(), "subscriptionId": SUB2, "displayName": "Prod"}],
        "resourceGroups": [{"id": app, "name": "rg-app"}, {"id": other, "name": "rg-other"}],
        "roleDefinitions": [
            custom(RUN_COMMAND_ONLY, "Run command only", &["Microsoft.Compute/virtualMachines/runCommand/action"], &[]),
            custom(AUTOMATION, "Runbook author", &["Microsoft.Automation/automationAccounts/*"], &[]),
            custom(JOBS_ONLY, "Job starter", &["Microsoft.Automation/automationAccounts/jobs/write"], &[]),
            custom(LOGIC, "Workflow editor", &["Microsoft.Logic/workflows/write"], &[]),
            custom(ACI, "Container group editor", &["Microsoft.ContainerInstance/containerGroups/write"], &[]),
            custom(ADF, "Pipeline runner", &["Microsoft.DataFactory/factories/pipelines/*"], &[]),
            custom(ADF_WRITE_ONLY, "Pipeline writer", &["Microsoft.DataFactory/factories/pipelines/write"], &[]),
            custom(BATCH, "Batch editor", &["Microsoft.Batch/batchAccounts/write"], &[]),
            custom(VM_LOGIN, "VM login", &["Microsoft.Compute/virtualMachines/read"],
                &["Microsoft.Compute/virtualMachines/login/action", "Microsoft.Compute/virtualMachines/loginAsAdmin/action"])
        ],
        "roleAssignments": [
            assignment(1, VMC, VM_CONTRIBUTOR, &app),
            assignment(2, RUNCMD, RUN_COMMAND_ONLY, &app),
            assignment(3, WEB, WEBSITE_CONTRIBUTOR, &app),
            assignment(4, READ, READER, &app),
            assignment(5, SIBLING, VM_CONTRIBUTOR, &other),
            assignment(6, AUTO, AUTOMATION, &app),
            assignment(7, AUTO_OP, JOBS_ONLY, &app),
            assignment(8, LOGIC_DEV, LOGIC, &app),
            assignment(9, ACI_DEV, ACI, &app),
            assignment(10, ADF_DEV, ADF, &app),
            assignment(11, ADF_WRITER, ADF_WRITE_ONLY, &app),
            assignment(12, BATCH_DEV, BATCH, &app),
            assignment(13, MIO, MI_OPERATOR, &app),
            assignment(14, MIO, VM_CONTRIBUTOR, &other),
            assignment(15, MIO_ONLY, MI_OPERATOR, &app),
            assignment(16, DENIED, VM_CONTRIBUTOR, &app),
            assignment(17, LOGIN, VM_LOGIN, &app),
            // Some identities are Owner of the other subscription: reaching one is reaching Owner there.
            assignment(20, MI_VM, OWNER, &sub2()),
            assignment(21, MI_SITE, OWNER, &sub2()),
            assignment(22, MI_FREE, OWNER, &sub2())
        ],
        "roleEligibilityScheduleInstances": [assignment(30, ELIGIBLE, VM_CONTRIBUTOR, &app)],
        "denyAssignments": [{
            "id": format!("{app}/providers/Microsoft.Authorization/denyAssignments/dddddddd-0000-0000-0000-000000000001"),
            "name": "dddddddd-0000-0000-0000-000000000001",
            "properties": {"scope": app, "permissions": [{"actions": ["Microsoft.Compute/virtualMachines/*"]}],
                "principals": [{"id": DENIED, "type": "User"}], "excludePrincipals": [], "doNotApplyToChildScopes": false}
        }],
        "userAssignedIdentities": [
            {"id": uami_id("uami-site"), "name": "uami-site",
             "properties": {"principalId": MI_SITE, "clientId": "c1111111-0000-0000-0000-000000000002"}},
            {"id": uami_id("uami-free"), "name": "uami-free",
             "properties": {"principalId": MI_FREE, "clientId": "c1111111-0000-0000-0000-000000000009"}}
        ],
        "identityResources": [
            system("Microsoft.Compute/virtualMachines", "vm-1", MI_VM),
            system("Microsoft.Compute/virtualMachineScaleSets", "vmss-1", MI_VMSS),
            {"id": format!("{app}/providers/Microsoft.Web/sites/site-1"), "name": "site-1", "type": "Microsoft.Web/sites",
             "identity": {"type": "UserAssigned", "userAssignedIdentities": {
                 uami_id("uami-site"): {"principalId": MI_SITE, "clientId": "c1111111-0000-0000-0000-000000000002"}}}},
            system("Microsoft.Automation/automationAccounts", "aa-1", MI_AA),
            system("Microsoft.Logic/workflows", "wf-1", MI_WF),
            system("Microsoft.ContainerInstance/containerGroups", "cg-1", MI_CG),
            system("Microsoft.App/containerApps", "ca-1", MI_CA),
            system("Microsoft.DataFactory/factories", "df-1", MI_DF),
            system("Microsoft.Batch/batchAccounts", "ba-1", MI_BA)
        ]
    });
    if let (Some(a), Some(e)) = (azure.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    let s = json!({
        "schema_version": 1,
        "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public",
                     "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
        "azure": azure
    });
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

fn tenant() -> Snapshot {
    tenant_with(json!({}))
}

fn queries() -> Vec<Query> {
    [
        ("can-act-as-managed-identity", include_str!("../../queries/can-act-as-managed-identity.toml")),
        ("owner-equivalent-on-subscription", include_str!("../../queries/owner-equivalent-on-subscription.toml")),
    ]
    .iter()
    .map(|(id, text)| Query::parse(text, id).unwrap())
    .collect()
}

fn pairs(s: &Snapshot) -> Vec<Pair> {
    common::pairs(s, &queries(), AnalyzeOptions::default())
}

/// The identities a principal can act as.
fn reached(p: &[Pair], source: &str) -> Vec<String> {
    let mut v: Vec<String> = p
        .iter()
        .filter(|x| x.query_id == "can-act-as-managed-identity" && x.source.id == source)
        .map(|x| x.target.id.clone())
        .collect();
    v.sort();
    v
}

fn get<'a>(p: &'a [Pair], query: &str, source: &str, target: &str) -> Option<&'a Pair> {
    p.iter().find(|x| x.query_id == query && x.source.id == source && x.target.id == target)
}

#[test]
fn vm_contributor_runs_as_the_vm_and_scale_set_identities_and_reaches_their_roles() {
    let p = pairs(&tenant());
    assert_eq!(reached(&p, VMC), [MI_VM, MI_VMSS]);
    let owner = get(&p, "owner-equivalent-on-subscription", VMC, &sub2()).expect("VM Contributor → vm-1's Owner");
    let edges: Vec<EdgeKind> = owner.hops.iter().map(|h| h.edge).collect();
    assert_eq!(
        edges,
        [EdgeKind::CanRunAsResourceIdentity, EdgeKind::CanRunAsResourceIdentity, EdgeKind::HasRole],
        "{:?}",
        owner.hops
    );
    assert!(owner.hops[1].evidence.iter().any(|e| e.ends_with("/virtualMachines/vm-1")), "{:?}", owner.hops[1]);
}

#[test]
fn a_custom_role_with_only_run_command_reaches_the_vm_not_the_scale_set() {
    let p = pairs(&tenant());
    assert_eq!(reached(&p, RUNCMD), [MI_VM]);
}

#[test]
fn readers_sibling_scopes_and_vm_login_reach_nothing() {
    let p = pairs(&tenant());
    for who in [READ, SIBLING, LOGIN] {
        assert!(
            p.iter().all(|x| x.source.id != who),
            "{who}: {:#?}",
            p.iter().filter(|x| x.source.id == who).collect::<Vec<_>>()
        );
    }
}

#[test]
fn website_contributor_reaches_the_sites_user_assigned_identity_only() {
    let p = pairs(&tenant());
    assert_eq!(reached(&p, WEB), [MI_SITE]);
    assert!(get(&p, "owner-equivalent-on-subscription", WEB, &sub2()).is_some());
}

#[test]
fn runbooks_need_write_and_start() {
    let p = pairs(&tenant());
    assert_eq!(reached(&p, AUTO), [MI_AA]);
    assert!(reached(&p, AUTO_OP).is_empty(), "starting existing runbooks is not running code");
}

#[test]
fn workflows_containers_and_pipelines_by_their_own_actions() {
    let p = pairs(&tenant());
    assert_eq!(reached(&p, LOGIC_DEV), [MI_WF]);
    assert_eq!(reached(&p, ACI_DEV), [MI_CG], "container group write is not container app write");
    assert_eq!(reached(&p, ADF_DEV), [MI_DF]);
    assert!(reached(&p, ADF_WRITER).is_empty(), "a pipeline that cannot be run runs nothing");
}

#[test]
fn any_other_type_by_its_write_action() {
    let p = pairs(&tenant());
    assert_eq!(reached(&p, BATCH_DEV), [MI_BA]);
    // Nobody else writes batch accounts.
    let others: Vec<_> = p.iter().filter(|x| x.target.id == MI_BA && x.source.id != BATCH_DEV).collect();
    assert!(others.is_empty(), "{others:#?}");
}

#[test]
fn assign_and_compute_write_attach_every_assignable_identity() {
    let p = pairs(&tenant());
    let reach = reached(&p, MIO);
    assert!(reach.contains(&MI_FREE.to_string()) && reach.contains(&MI_SITE.to_string()), "{reach:?}");
    let free = get(&p, "can-act-as-managed-identity", MIO, MI_FREE).unwrap();
    assert_eq!(free.hops[0].edge, EdgeKind::CanAttachIdentity);
    assert!(reached(&p, MIO_ONLY).is_empty(), "assign without any compute write attaches nothing");
    // The identity attached to nothing is reached only by attaching it.
    assert!(p.iter().filter(|x| x.target.id == MI_FREE).all(|x| x.source.id == MIO));
}

#[test]
fn a_deny_on_the_grantee_removes_the_edge_and_eligibility_is_flagged() {
    let p = pairs(&tenant());
    // The deny takes `virtualMachines/*` from DENIED: not the VM, still the scale set.
    assert_eq!(reached(&p, DENIED), [MI_VMSS]);
    let e = get(&p, "can-act-as-managed-identity", ELIGIBLE, MI_VM).expect("eligible VM Contributor");
    assert!(e.eligible);
}

#[test]
fn a_deny_for_everyone_on_the_resource_removes_the_edge() {
    let vm = format!("{}/providers/Microsoft.Compute/virtualMachines/vm-1", rg("rg-app"));
    let s = tenant_with(json!({"denyAssignments": [{
        "id": format!("{vm}/providers/Microsoft.Authorization/denyAssignments/dddddddd-0000-0000-0000-000000000002"),
        "name": "dddddddd-0000-0000-0000-000000000002",
        "properties": {"scope": vm, "permissions": [{"actions": ["*"]}],
            "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
            "excludePrincipals": [], "doNotApplyToChildScopes": false}
    }]}));
    let p = pairs(&s);
    assert!(!reached(&p, VMC).contains(&MI_VM.to_string()));
    assert!(reached(&p, VMC).contains(&MI_VMSS.to_string()), "the deny is on vm-1 only");
}

#[test]
fn hubs_keep_edges_linear() {
    let g = PrivilegeGraph::build(&tenant());
    // One hub per (scope with a qualifying role, kind), not one edge per principal × resource.
    let hubs = g.nodes_of_kind(NodeKind::ScopeIdentities).count();
    assert_eq!(hubs, 9, "8 kinds with a role at rg-app, and the assignable identities under rg-app");
}

#[test]
fn detaching_the_identity_is_a_choke_point_of_its_own() {
    let r = common::analyze_checked(&tenant(), &queries(), AnalyzeOptions::default());
    let site = format!("{}/providers/microsoft.web/sites/site-1", rg("rg-app")).to_ascii_lowercase();
    let key = format!("resource-identity:{site}/{MI_SITE}");
    let c = r.choke_points.iter().find(|c| c.id == key).unwrap_or_else(|| {
        panic!("{key} missing from {:#?}", r.choke_points.iter().map(|c| &c.id).collect::<Vec<_>>())
    });
    assert!(c.what.contains("uami-site"), "{}", c.what);
    // The identity attached to nothing has no such cut: it is reached only by attaching it.
    assert!(r.choke_points.iter().all(|c| !(c.id.starts_with("resource-identity:") && c.id.ends_with(MI_FREE))));
}

/// The hop from the assignable-identities hub to an identity is cut at the role assignment that allows
/// assigning it (nothing on the identity grants it): the fix names that assignment, with its delete command.
#[test]
fn attaching_an_identity_is_cut_at_the_assign_role_assignment() {
    let r = common::analyze_checked(&tenant(), &queries(), AnalyzeOptions::default());
    let attach = r.choke_points.iter().filter(|c| c.id.starts_with("edge:CAN_ATTACH_IDENTITY")).count();
    assert_eq!(attach, 0, "{:#?}", r.choke_points.iter().map(|c| &c.id).collect::<Vec<_>>());
    let id = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0001-000000000013",
        rg("rg-app")
    );
    let key = format!("role-assignment:{}", id.to_ascii_lowercase());
    let c = r.choke_points.iter().find(|c| c.id == key).unwrap_or_else(|| {
        panic!("{key} missing from {:#?}", r.choke_points.iter().map(|c| &c.id).collect::<Vec<_>>())
    });
    assert_eq!(c.remediation.command.as_deref(), Some(format!("az role assignment delete --ids {id}").as_str()));
}

/// Assigning identities through one group and writing compute through another group (or directly) combine:
/// the principal is judged on the union of what it holds; holding only one of the two attaches nothing.
#[test]
fn assign_and_compute_write_held_through_different_groups_combine() {
    const G_ASSIGN: &str = "bbbbbbbb-2222-0000-0000-000000000001";
    const G_WRITE: &str = "bbbbbbbb-2222-0000-0000-000000000002";
    const COMBO: &str = "aaaaaaaa-2222-0000-0000-000000000021";
    const DIRECT: &str = "aaaaaaaa-2222-0000-0000-000000000022";
    const HALF: &str = "aaaaaaaa-2222-0000-0000-000000000023";
    let mut v: Value = serde_json::from_str(&tenant().to_json()).unwrap();
    let extra = [
        assignment(40, G_ASSIGN, MI_OPERATOR, &rg("rg-app")),
        assignment(41, G_WRITE, VM_CONTRIBUTOR, &rg("rg-other")),
        assignment(42, DIRECT, VM_CONTRIBUTOR, &rg("rg-other")),
    ];
    v["azure"]["roleAssignments"].as_array_mut().unwrap().extend(extra);
    let user = |id: &str| json!({"@odata.type": "#microsoft.graph.user", "id": id});
    v["entra"] = json!({
        "users": [{"id": COMBO}, {"id": DIRECT}, {"id": HALF}],
        "groups": [{"id": G_ASSIGN, "displayName": "identity-operators"}, {"id": G_WRITE, "displayName": "vm-admins"}],
        "groupMembers": [
            {"groupId": G_ASSIGN, "members": [user(COMBO), user(DIRECT), user(HALF)]},
            {"groupId": G_WRITE, "members": [user(COMBO)]}
        ]
    });
    let p = pairs(&Snapshot::from_json(&v.to_string(), "test").unwrap());
    for who in [COMBO, DIRECT] {
        let free =
            get(&p, "can-act-as-managed-identity", who, MI_FREE).unwrap_or_else(|| panic!("{who} attaches uami-free"));
        assert_eq!(free.hops[0].edge, EdgeKind::CanAttachIdentity);
        assert!(free.hops[0].evidence[0].ends_with("000000000040"), "{:?}", free.hops[0].evidence);
    }
    assert!(!reached(&p, HALF).contains(&MI_FREE.to_string()), "assign without compute write attaches nothing");
    assert!(!reached(&p, G_WRITE).contains(&MI_FREE.to_string()), "compute write without assign attaches nothing");
}

#[test]
fn attaching_through_an_eligible_membership_or_an_eligible_write_needs_activation() {
    const G_ASSIGN: &str = "bbbbbbbb-2222-0000-0000-000000000001";
    const ACTIVE: &str = "aaaaaaaa-2222-0000-0000-000000000031";
    const ELIGIBLE_MEMBER: &str = "aaaaaaaa-2222-0000-0000-000000000032";
    const ELIGIBLE_WRITE: &str = "aaaaaaaa-2222-0000-0000-000000000033";
    let mut v: Value = serde_json::from_str(&tenant().to_json()).unwrap();
    let extra = [
        assignment(40, G_ASSIGN, MI_OPERATOR, &rg("rg-app")),
        assignment(41, ACTIVE, VM_CONTRIBUTOR, &rg("rg-other")),
        assignment(42, ELIGIBLE_MEMBER, VM_CONTRIBUTOR, &rg("rg-other")),
    ];
    v["azure"]["roleAssignments"].as_array_mut().unwrap().extend(extra);
    let eligible_write = assignment(43, ELIGIBLE_WRITE, VM_CONTRIBUTOR, &rg("rg-other"));
    v["azure"]["roleEligibilityScheduleInstances"].as_array_mut().unwrap().push(eligible_write);
    let user = |id: &str| json!({"@odata.type": "#microsoft.graph.user", "id": id});
    v["entra"] = json!({
        "users": [{"id": ACTIVE}, {"id": ELIGIBLE_MEMBER}, {"id": ELIGIBLE_WRITE}],
        "groups": [{"id": G_ASSIGN, "displayName": "identity-operators"}],
        "groupMembers": [{"groupId": G_ASSIGN, "members": [user(ACTIVE), user(ELIGIBLE_WRITE)]}],
        "groupEligibilityScheduleInstances": [{"id": "ge-1", "groupId": G_ASSIGN, "principalId": ELIGIBLE_MEMBER,
            "accessId": "member", "memberType": "direct", "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": null}]
    });
    let p = pairs(&Snapshot::from_json(&v.to_string(), "test").unwrap());
    let free =
        |who: &str| get(&p, "can-act-as-managed-identity", who, MI_FREE).unwrap_or_else(|| panic!("{who} attaches"));
    assert!(!free(ACTIVE).eligible, "{:#?}", free(ACTIVE));
    assert!(free(ELIGIBLE_MEMBER).eligible, "the assign right comes through a PIM for Groups eligibility");
    assert!(free(ELIGIBLE_WRITE).eligible, "the compute write is a PIM-eligible assignment");
    assert_eq!(free(ELIGIBLE_MEMBER).hops[0].edge, EdgeKind::CanAttachIdentity);
}

/// Everyone who reaches the identities on rg-app's compute is a member of that hub, by whatever way. Bob
/// reaches it through groups A ⊂ B (three hops, VM Contributor held by B), through a PIM-eligible VM
/// Contributor of his own (one hop), and through the deploy service principal whose application he owns (two
/// hops, no flag). Under a hop limit of three (the hub's own step to vm-1's identity is the third), his best
/// way that fits is deploy's: the grouped report must not take the shortest (eligible) one instead.
#[test]
fn under_a_hop_limit_a_hub_member_keeps_its_best_way_that_fits() {
    const BOB: &str = "aaaaaaaa-3333-0000-0000-000000000001";
    const GROUP_A: &str = "bbbbbbbb-3333-0000-0000-000000000001";
    const GROUP_B: &str = "bbbbbbbb-3333-0000-0000-000000000002";
    const DEPLOY_SP: &str = "cccccccc-3333-0000-0000-000000000001";
    let app = rg("rg-app");
    let with = |deploy_runs_code: bool| {
        let typed = |n: u32, principal: &str, kind: &str| {
            let mut a = assignment(n, principal, VM_CONTRIBUTOR, &app);
            a["properties"]["principalType"] = json!(kind);
            a
        };
        let mut grants = vec![typed(1, GROUP_B, "Group")];
        if deploy_runs_code {
            grants.push(typed(2, DEPLOY_SP, "ServicePrincipal"));
        }
        let s = json!({
            "schema_version": 1,
            "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public",
                         "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
            "azure": {
                "subscriptions": [{"id": sub(), "subscriptionId": SUB, "displayName": "Apps"}],
                "resourceGroups": [{"id": app, "name": "rg-app"}],
                "roleAssignments": grants,
                "roleEligibilityScheduleInstances": [assignment(3, BOB, VM_CONTRIBUTOR, &app)],
                "identityResources": [system("Microsoft.Compute/virtualMachines", "vm-1", MI_VM)]
            },
            "entra": {
                "users": [{"id": BOB, "displayName": "Bob"}],
                "groups": [{"id": GROUP_A, "displayName": "A"}, {"id": GROUP_B, "displayName": "B"}],
                "groupMembers": [
                    {"groupId": GROUP_A, "members": [{"@odata.type": "#microsoft.graph.user", "id": BOB}]},
                    {"groupId": GROUP_B, "members": [{"@odata.type": "#microsoft.graph.group", "id": GROUP_A}]}
                ],
                "servicePrincipals": [{"id": DEPLOY_SP, "appId": "eeeeeeee-3333-0000-0000-000000000001",
                                       "displayName": "deploy", "servicePrincipalType": "Application"}],
                "applications": [{"id": "dddddddd-3333-0000-0000-000000000001",
                    "appId": "eeeeeeee-3333-0000-0000-000000000001", "displayName": "deploy",
                    "owners": [{"@odata.type": "#microsoft.graph.user", "id": BOB}]}]
            }
        });
        Snapshot::from_json(&s.to_string(), "test").unwrap()
    };
    let mut acts = queries().into_iter().find(|q| q.id == "can-act-as-managed-identity").unwrap();
    acts.max_hops = 3;
    let bob = |s: &Snapshot| {
        let pairs = common::pairs(s, std::slice::from_ref(&acts), AnalyzeOptions::default());
        pairs.into_iter().find(|p| p.source.id == BOB && p.target.id == MI_VM).map(|p| (p.eligible, p.hops.len()))
    };
    assert_eq!(bob(&with(true)), Some((false, 3)), "through deploy");
    // Without deploy's grant, only the eligible one fits.
    assert_eq!(bob(&with(false)), Some((true, 2)));
}

/// Bob runs code on vm-1 two ways: by an Owner assignment on rg-app whose condition azpath cannot read
/// (active, conditional) and by a PIM-eligible VM Contributor one (no condition). vm-1's identity is PIM-eligible for Owner of Prod, so
/// every way to Prod needs an activation; the eligible way rests on no condition, so Bob's pair is eligible
/// and not conditional (the grouped report, the per-pair search and every walk agree: common::pairs).
#[test]
fn a_hub_member_takes_the_way_that_rests_on_no_condition_when_every_way_needs_an_activation() {
    const BOB: &str = "aaaaaaaa-3333-0000-0000-000000000002";
    let app = rg("rg-app");
    let with = |eligible_too: bool| {
        // Owner with a delegation condition azpath cannot read: the grant, and what it derives, is conditional.
        let mut conditional = assignment(1, BOB, OWNER, &app);
        conditional["properties"]["condition"] = json!("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] StringLike '*'))");
        conditional["properties"]["conditionVersion"] = json!("2.0");
        let mut mi_owner = assignment(2, MI_VM, OWNER, &sub2());
        mi_owner["properties"]["principalType"] = json!("ServicePrincipal");
        let mut eligible = vec![mi_owner];
        if eligible_too {
            eligible.push(assignment(3, BOB, VM_CONTRIBUTOR, &app));
        }
        let s = json!({
            "schema_version": 1,
            "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public",
                         "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
            "azure": {
                "subscriptions": [{"id": sub(), "subscriptionId": SUB, "displayName": "Apps"},
                                  {"id": sub2(), "subscriptionId": SUB2, "displayName": "Prod"}],
                "resourceGroups": [{"id": app, "name": "rg-app"}],
                "roleAssignments": [conditional],
                "roleEligibilityScheduleInstances": eligible,
                "identityResources": [system("Microsoft.Compute/virtualMachines", "vm-1", MI_VM)]
            },
            "entra": {"users": [{"id": BOB, "displayName": "Bob"}]}
        });
        Snapshot::from_json(&s.to_string(), "test").unwrap()
    };
    let owner: Vec<Query> = queries().into_iter().filter(|q| q.id == "owner-equivalent-on-subscription").collect();
    let bob = |s: &Snapshot| {
        let pairs = common::pairs(s, &owner, AnalyzeOptions::default());
        pairs.into_iter().find(|p| p.source.id == BOB && p.target.id == sub2()).map(|p| (p.eligible, p.conditional))
    };
    assert_eq!(bob(&with(true)), Some((true, false)));
    // With only the conditional assignment, the pair rests on its condition.
    assert_eq!(bob(&with(false)), Some((true, true)));
}
