//! Entra directory roles and Microsoft Graph application permissions, judged by what they allow: one positive
//! and one negative case per edge kind, on a small tenant in Graph's wire shapes.

mod common;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair;
use azpath_graph::model::{EdgeKind, NodeKind};
use azpath_graph::query::Query;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const SUB2: &str = "11111111-0000-0000-0000-000000000002";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

// Directory role definitions (built-in template ids where built in).
const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
const PRA: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const APP_ADMIN: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const GROUPS_ADMIN: &str = "fdd7a751-b60b-444a-984c-02652fe8fa1c";
const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const PAA: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const CUSTOM_APPS: &str = "c0000000-0000-0000-0000-000000000001";
const FAKE_GA: &str = "c0000000-0000-0000-0000-000000000002";
const DISABLED: &str = "c0000000-0000-0000-0000-000000000003";

// Users.
const ALICE: &str = "aaaaaaaa-0000-0000-0000-000000000001"; // Application Administrator, tenant
const BOB: &str = "aaaaaaaa-0000-0000-0000-000000000002"; // Application Administrator on reporting only
const CAROL: &str = "aaaaaaaa-0000-0000-0000-000000000003"; // Application Administrator on deploy's app
const AUDREY: &str = "aaaaaaaa-0000-0000-0000-000000000004"; // Application Administrator on an AU
const PRIYA: &str = "aaaaaaaa-0000-0000-0000-000000000005"; // PIM-eligible PRA
const GINA: &str = "aaaaaaaa-0000-0000-0000-000000000006"; // custom applications/allProperties/allTasks
const GRACE: &str = "aaaaaaaa-0000-0000-0000-000000000007"; // Groups Administrator
const HELEN: &str = "aaaaaaaa-0000-0000-0000-000000000008"; // Helpdesk Administrator
const PAUL: &str = "aaaaaaaa-0000-0000-0000-000000000009"; // Privileged Authentication Administrator
const PLAIN: &str = "aaaaaaaa-0000-0000-0000-00000000000a"; // no role; member of sub-admins
const GARY: &str = "aaaaaaaa-0000-0000-0000-00000000000b"; // Global Administrator
const OLAF: &str = "aaaaaaaa-0000-0000-0000-00000000000c"; // owns the role-assignable Tier 0 group
const DEVON: &str = "aaaaaaaa-0000-0000-0000-00000000000d"; // owns directory-sync's application
const RITA: &str = "aaaaaaaa-0000-0000-0000-00000000000e"; // Directory Readers only
const FRED: &str = "aaaaaaaa-0000-0000-0000-00000000000f"; // custom role named "Global Administrator"
const DORA: &str = "aaaaaaaa-0000-0000-0000-000000000010"; // a disabled role with every action
const ADA: &str = "aaaaaaaa-0000-0000-0000-000000000011"; // Directory Readers + Owner of SUB2 directly

// Groups.
const SUB_ADMINS: &str = "bbbbbbbb-0000-0000-0000-000000000001"; // Owner of SUB, not role-assignable
const RA_ADMINS: &str = "bbbbbbbb-0000-0000-0000-000000000002"; // Owner of SUB2, role-assignable
const TIER0: &str = "bbbbbbbb-0000-0000-0000-000000000003"; // role-assignable, holds Global Administrator

// Applications and service principals.
const DEPLOY_SP: &str = "cccccccc-0000-0000-0000-000000000001";
const DEPLOY_APP: &str = "dddddddd-0000-0000-0000-000000000001";
const REPORT_SP: &str = "cccccccc-0000-0000-0000-000000000002";
const REPORT_APP: &str = "dddddddd-0000-0000-0000-000000000002";
const GRAPH_SP: &str = "cccccccc-0000-0000-0000-00000000000f";
const SYNC_SP: &str = "cccccccc-0000-0000-0000-000000000003";
const SYNC_APP: &str = "dddddddd-0000-0000-0000-000000000003";
const MAIL_SP: &str = "cccccccc-0000-0000-0000-000000000004";
const APPWRITER_SP: &str = "cccccccc-0000-0000-0000-000000000005";
const GRANTER_SP: &str = "cccccccc-0000-0000-0000-000000000006";
const DECOY_RESOURCE_SP: &str = "cccccccc-0000-0000-0000-000000000007";
const DECOY_SP: &str = "cccccccc-0000-0000-0000-000000000008";

// Microsoft Graph app role ids (real ones).
const ROLE_MANAGEMENT_RW: &str = "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8";
const APPLICATION_RW: &str = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9";
const APP_ROLE_ASSIGNMENT_RW: &str = "06b708a9-e830-4db3-a914-8e69da51d44f";
const MAIL_RW: &str = "e2a3a72e-5f79-4c64-b1b1-878b674786c9";

fn queries() -> Vec<Query> {
    [
        ("owner-equivalent-on-subscription", include_str!("../../queries/owner-equivalent-on-subscription.toml")),
        ("entra-tier-zero", include_str!("../../queries/entra-tier-zero.toml")),
    ]
    .iter()
    .map(|(id, text)| Query::parse(text, id).unwrap())
    .collect()
}

fn assignment(n: u32, sub: &str, principal: &str, principal_type: &str) -> Value {
    let scope = format!("/subscriptions/{sub}");
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
        "name": format!("00000000-0000-0000-0000-{n:012}"),
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"),
            "principalId": principal,
            "principalType": principal_type
        }
    })
}

fn role(id: &str, name: &str, actions: &[&str]) -> Value {
    json!({"id": id, "displayName": name, "isBuiltIn": true, "isEnabled": true, "templateId": id,
           "rolePermissions": [{"allowedResourceActions": actions, "condition": null}]})
}

fn dir_assignment(n: u32, principal: &str, role: &str, scope: &str) -> Value {
    json!({"id": format!("dra-{n}"), "principalId": principal, "roleDefinitionId": role, "directoryScopeId": scope})
}

fn user(id: &str, name: &str) -> Value {
    json!({"id": id, "displayName": name, "userPrincipalName": format!("{}@contoso.example", name.to_lowercase())})
}

fn sp(id: &str, app_id: &str, name: &str) -> Value {
    json!({"id": id, "appId": app_id, "displayName": name, "servicePrincipalType": "Application"})
}

fn app_role(id: &str, value: &str) -> Value {
    json!({"id": id, "value": value, "displayName": value, "allowedMemberTypes": ["Application"], "isEnabled": true})
}

fn grant(n: u32, principal: &str, role: &str, resource: &str) -> Value {
    json!({"id": format!("ara-{n}"), "appRoleId": role, "principalId": principal,
           "principalType": "ServicePrincipal", "resourceId": resource})
}

/// The tenant every test reads; see the constants for who holds what.
fn tenant() -> Value {
    let owner = |id: &str| json!([{"@odata.type": "#microsoft.graph.user", "id": id}]);
    json!({
        "schema_version": 1,
        "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public",
                     "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
        "azure": {
            "subscriptions": [
                {"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "displayName": "Prod"},
                {"id": format!("/subscriptions/{SUB2}"), "subscriptionId": SUB2, "displayName": "Core"}
            ],
            "roleAssignments": [
                assignment(1, SUB, DEPLOY_SP, "ServicePrincipal"),
                assignment(2, SUB, SUB_ADMINS, "Group"),
                assignment(3, SUB2, RA_ADMINS, "Group"),
                assignment(4, SUB2, ADA, "User")
            ]
        },
        "entra": {
            "users": [
                user(ALICE, "Alice"), user(BOB, "Bob"), user(CAROL, "Carol"), user(AUDREY, "Audrey"),
                user(PRIYA, "Priya"), user(GINA, "Gina"), user(GRACE, "Grace"), user(HELEN, "Helen"),
                user(PAUL, "Paul"), user(PLAIN, "Plain"), user(GARY, "Gary"), user(OLAF, "Olaf"),
                user(DEVON, "Devon"), user(RITA, "Rita"), user(FRED, "Fred"), user(DORA, "Dora"), user(ADA, "Ada")
            ],
            "groups": [
                {"id": SUB_ADMINS, "displayName": "sub-admins", "securityEnabled": true, "isAssignableToRole": false},
                {"id": RA_ADMINS, "displayName": "core-admins", "securityEnabled": true, "isAssignableToRole": true},
                {"id": TIER0, "displayName": "Tier 0", "securityEnabled": true, "isAssignableToRole": true,
                 "owners": owner(OLAF)}
            ],
            "groupMembers": [
                {"groupId": SUB_ADMINS, "members": [{"@odata.type": "#microsoft.graph.user", "id": PLAIN}]}
            ],
            "servicePrincipals": [
                sp(DEPLOY_SP, "eeeeeeee-0000-0000-0000-000000000001", "deploy"),
                sp(REPORT_SP, "eeeeeeee-0000-0000-0000-000000000002", "reporting"),
                sp(SYNC_SP, "eeeeeeee-0000-0000-0000-000000000003", "directory-sync"),
                sp(MAIL_SP, "eeeeeeee-0000-0000-0000-000000000004", "mail-bot"),
                sp(APPWRITER_SP, "eeeeeeee-0000-0000-0000-000000000005", "app-writer"),
                sp(GRANTER_SP, "eeeeeeee-0000-0000-0000-000000000006", "granter"),
                {"id": DECOY_RESOURCE_SP, "appId": "eeeeeeee-0000-0000-0000-000000000007", "displayName": "contoso-api",
                 "appRoles": [app_role(ROLE_MANAGEMENT_RW, "RoleManagement.ReadWrite.Directory")]},
                sp(DECOY_SP, "eeeeeeee-0000-0000-0000-000000000008", "api-client"),
                {"id": GRAPH_SP, "appId": "00000003-0000-0000-c000-000000000000", "displayName": "Microsoft Graph",
                 "servicePrincipalType": "Application",
                 "appRoles": [
                    app_role(ROLE_MANAGEMENT_RW, "RoleManagement.ReadWrite.Directory"),
                    app_role(APPLICATION_RW, "Application.ReadWrite.All"),
                    app_role(APP_ROLE_ASSIGNMENT_RW, "AppRoleAssignment.ReadWrite.All"),
                    app_role(MAIL_RW, "Mail.ReadWrite")
                 ]}
            ],
            "applications": [
                {"id": DEPLOY_APP, "appId": "eeeeeeee-0000-0000-0000-000000000001", "displayName": "deploy"},
                {"id": REPORT_APP, "appId": "eeeeeeee-0000-0000-0000-000000000002", "displayName": "reporting"},
                {"id": SYNC_APP, "appId": "eeeeeeee-0000-0000-0000-000000000003", "displayName": "directory-sync",
                 "owners": owner(DEVON)}
            ],
            "directoryRoleDefinitions": [
                role(GA, "Global Administrator", &[
                    "microsoft.directory/applications/allProperties/allTasks",
                    "microsoft.directory/groups/allProperties/allTasks",
                    "microsoft.directory/roleAssignments/allProperties/allTasks",
                    "microsoft.directory/servicePrincipals/allProperties/allTasks",
                    "microsoft.directory/users/allProperties/allTasks"
                ]),
                role(PRA, "Privileged Role Administrator", &["microsoft.directory/roleAssignments/allProperties/allTasks"]),
                role(APP_ADMIN, "Application Administrator", &[
                    "microsoft.directory/applications/credentials/update",
                    "microsoft.directory/servicePrincipals/credentials/update"
                ]),
                role(GROUPS_ADMIN, "Groups Administrator", &["microsoft.directory/groups/members/update"]),
                role(HELPDESK, "Helpdesk Administrator", &["microsoft.directory/users/password/update"]),
                role(PAA, "Privileged Authentication Administrator", &[
                    "microsoft.directory/users/authenticationMethods/create",
                    "microsoft.directory/users/password/update"
                ]),
                role(DIRECTORY_READERS, "Directory Readers", &["microsoft.directory/users/standard/read"]),
                {"id": CUSTOM_APPS, "displayName": "App Credential Writers", "isBuiltIn": false, "isEnabled": true,
                 "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/applications/allProperties/allTasks"]}]},
                {"id": FAKE_GA, "displayName": "Global Administrator", "isBuiltIn": false, "isEnabled": true,
                 "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/standard/read"]}]},
                {"id": DISABLED, "displayName": "Retired", "isBuiltIn": false, "isEnabled": false,
                 "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/*"]}]}
            ],
            "directoryRoleAssignments": [
                dir_assignment(1, ALICE, APP_ADMIN, "/"),
                dir_assignment(2, BOB, APP_ADMIN, &format!("/{REPORT_APP}")),
                dir_assignment(3, CAROL, APP_ADMIN, &format!("/{DEPLOY_APP}")),
                dir_assignment(4, AUDREY, APP_ADMIN, "/administrativeUnits/ffffffff-0000-0000-0000-000000000001"),
                dir_assignment(5, GINA, CUSTOM_APPS, "/"),
                dir_assignment(6, GRACE, GROUPS_ADMIN, "/"),
                dir_assignment(7, HELEN, HELPDESK, "/"),
                dir_assignment(8, PAUL, PAA, "/"),
                dir_assignment(9, GARY, GA, "/"),
                dir_assignment(10, TIER0, GA, "/"),
                dir_assignment(11, RITA, DIRECTORY_READERS, "/"),
                dir_assignment(12, FRED, FAKE_GA, "/"),
                dir_assignment(13, DORA, DISABLED, "/"),
                dir_assignment(14, ADA, DIRECTORY_READERS, "/")
            ],
            "directoryRoleEligibilityScheduleInstances": [
                {"id": "elig-1", "principalId": PRIYA, "roleDefinitionId": PRA, "directoryScopeId": "/",
                 "memberType": "Direct"}
            ],
            "appRoleAssignments": [
                grant(1, SYNC_SP, ROLE_MANAGEMENT_RW, GRAPH_SP),
                grant(2, MAIL_SP, MAIL_RW, GRAPH_SP),
                grant(3, APPWRITER_SP, APPLICATION_RW, GRAPH_SP),
                grant(4, GRANTER_SP, APP_ROLE_ASSIGNMENT_RW, GRAPH_SP),
                grant(5, DECOY_SP, ROLE_MANAGEMENT_RW, DECOY_RESOURCE_SP)
            ]
        }
    })
}

fn snapshot(v: &Value) -> Snapshot {
    Snapshot::from_json(&v.to_string(), "test").unwrap()
}

fn pairs_of(v: &Value) -> Vec<Pair> {
    common::pairs(&snapshot(v), &queries(), AnalyzeOptions::default())
}

fn pairs() -> Vec<Pair> {
    pairs_of(&tenant())
}

fn owner_of<'a>(f: &'a [Pair], source: &str, sub: &str) -> Option<&'a Pair> {
    let target = format!("/subscriptions/{sub}");
    f.iter()
        .find(|x| x.query_id == "owner-equivalent-on-subscription" && x.source.id == source && x.target.id == target)
}

fn tier_zero<'a>(f: &'a [Pair], source: &str) -> Option<&'a Pair> {
    f.iter().find(|x| x.query_id == "entra-tier-zero" && x.source.id == source)
}

fn edges(p: &Pair) -> Vec<EdgeKind> {
    p.hops.iter().map(|h| h.edge).collect()
}

/// The path's role grant (the `HAS_ROLE` hop; `CONTAINS` hops may follow it).
fn role_hop(p: &Pair) -> &azpath_graph::findings::Hop {
    p.hops.iter().rev().find(|h| h.edge == EdgeKind::HasRole).expect("a role grant")
}

fn reaches_nothing(f: &[Pair], source: &str) {
    let found: Vec<_> = f.iter().filter(|x| x.source.id == source).collect();
    assert!(found.is_empty(), "{source} should reach nothing: {found:#?}");
}

#[test]
fn tenant_wide_application_administrator_adds_credentials_to_every_service_principal() {
    let f = pairs();
    let found = owner_of(&f, ALICE, SUB).expect("Application Administrator reaches deploy's Owner");
    assert_eq!(
        edges(found),
        [EdgeKind::HasDirectoryRole, EdgeKind::CanManageCredentials, EdgeKind::CanManageCredentials, EdgeKind::HasRole]
    );
    assert_eq!(found.hops[0].evidence, ["dra-1", APP_ADMIN, "/"]);
    assert_eq!(found.hops[1].to.kind, NodeKind::EntraTargets);
    assert_eq!(found.hops[2].to.id, DEPLOY_SP);
    // Every service principal includes directory-sync, which holds RoleManagement.ReadWrite.Directory: the
    // Application Administrator is tier zero through it (BloodHound's AZAddSecret + AZMGGrantRole).
    let t0 = tier_zero(&f, ALICE).expect("through directory-sync's credentials");
    assert!(t0.hops.iter().any(|h| h.to.id == SYNC_SP), "{t0:#?}");
    // A custom role counts by its actions: applications/allProperties/allTasks covers credentials/update.
    let gina = owner_of(&f, GINA, SUB).expect("custom role with applications/allProperties/allTasks");
    assert_eq!(gina.hops[0].to.display_name, "App Credential Writers");
}

#[test]
fn scoped_application_administrator_reaches_only_its_application() {
    let f = pairs();
    let carol = owner_of(&f, CAROL, SUB).expect("scoped to deploy's application");
    assert_eq!(edges(carol), [EdgeKind::CanManageCredentials, EdgeKind::HasRole]);
    assert_eq!(carol.hops[0].to.id, DEPLOY_SP);
    assert_eq!(carol.hops[0].evidence, ["dra-3", APP_ADMIN, &format!("/{DEPLOY_APP}")]);
    // Scoped to another application, or to an administrative unit whose members are unknown: nothing.
    reaches_nothing(&f, BOB);
    reaches_nothing(&f, AUDREY);
}

#[test]
fn pim_eligible_privileged_role_administrator_is_tier_zero_and_needs_activation() {
    let f = pairs();
    let t0 = tier_zero(&f, PRIYA).expect("PRA is tier zero");
    assert!(t0.eligible, "{t0:#?}");
    assert_eq!(edges(t0), [EdgeKind::HasDirectoryRole, EdgeKind::CanAssignDirectoryRoles]);
    assert!(t0.hops[0].eligible && t0.hops[0].detail.contains("PIM eligible"), "{:?}", t0.hops[0]);
    // Through Global Administrator's elevateAccess, every subscription.
    let sub = owner_of(&f, PRIYA, SUB).expect("PRA reaches the subscriptions");
    assert!(sub.eligible);
    assert_eq!(role_hop(sub).to.id, "/");
    // Tier zero is where the tier-zero query ends, never a step on the way elsewhere.
    assert!(f.iter().flat_map(|p| &p.hops).all(|h| h.from.kind != NodeKind::EntraTierZero));
    assert!(sub.hops.iter().any(|h| h.to.id == "directoryroles/any"), "{sub:#?}");
}

#[test]
fn global_administrator_elevates_to_user_access_administrator_at_the_root() {
    let f = pairs();
    let gary = owner_of(&f, GARY, SUB2).expect("Global Administrator reaches every subscription");
    let last = role_hop(gary);
    assert_eq!(last.edge, EdgeKind::HasRole);
    assert_eq!(last.from.kind, NodeKind::DirectoryRole);
    assert_eq!(last.to.id, "/");
    assert!(last.detail.contains("elevateAccess") && last.detail.contains("audit log"), "{last:?}");
    assert!(!gary.eligible);
    assert!(tier_zero(&f, GARY).is_some());
    // A custom role that only borrows the name elevates nothing (by template id, never by name).
    reaches_nothing(&f, FRED);
    // A disabled role grants nothing, whatever its actions.
    reaches_nothing(&f, DORA);
}

#[test]
fn role_assignable_group_owner_reaches_the_groups_directory_role() {
    let f = pairs();
    let olaf = tier_zero(&f, OLAF).expect("owner of the Tier 0 group");
    assert_eq!(olaf.hops[0].edge, EdgeKind::CanAddMember);
    assert_eq!(olaf.hops[0].to.id, TIER0);
    assert_eq!(olaf.hops[1].edge, EdgeKind::HasDirectoryRole);
    // Without the group's role, owning it gives nothing.
    let mut v = tenant();
    v["entra"]["directoryRoleAssignments"].as_array_mut().unwrap().retain(|a| a["principalId"] != TIER0);
    reaches_nothing(&pairs_of(&v), OLAF);
}

#[test]
fn graph_permissions_resolve_by_app_role_id_on_microsoft_graph() {
    let f = pairs();
    let sync = tier_zero(&f, SYNC_SP).expect("RoleManagement.ReadWrite.Directory is tier zero");
    assert_eq!(edges(sync), [EdgeKind::HasGraphPermission, EdgeKind::CanAssignDirectoryRoles]);
    assert_eq!(sync.hops[0].evidence[0], "ara-1");
    assert_eq!(sync.hops[0].to.kind, NodeKind::GraphPermission);
    // Second order: the owner of its application.
    let devon = tier_zero(&f, DEVON).expect("owner of directory-sync's application");
    assert_eq!(devon.hops[0].edge, EdgeKind::CanAddCredential);
    // AppRoleAssignment.ReadWrite.All can grant itself the former.
    let granter = tier_zero(&f, GRANTER_SP).expect("AppRoleAssignment.ReadWrite.All");
    assert!(granter.hops[1].detail.contains("RoleManagement.ReadWrite.Directory"), "{:?}", granter.hops[1]);
    // Application.ReadWrite.All adds credentials to deploy, an Owner.
    let writer = owner_of(&f, APPWRITER_SP, SUB).expect("Application.ReadWrite.All");
    assert_eq!(writer.hops[0].edge, EdgeKind::HasGraphPermission);
    // Mail.ReadWrite controls nothing; the same app role id on another resource is not Microsoft Graph's.
    reaches_nothing(&f, MAIL_SP);
    reaches_nothing(&f, DECOY_SP);
}

#[test]
fn groups_administrator_changes_only_groups_that_are_not_role_assignable() {
    let f = pairs();
    let grace = owner_of(&f, GRACE, SUB).expect("Groups Administrator adds itself to sub-admins");
    assert_eq!(grace.hops[1].edge, EdgeKind::CanManageMembers);
    assert_eq!(grace.hops[2].to.id, SUB_ADMINS);
    assert!(owner_of(&f, GRACE, SUB2).is_none(), "core-admins is role-assignable");
}

#[test]
fn password_reset_follows_who_may_reset_whom() {
    // Without the Graph permissions (through which resetting Devon leads to tier zero), resetting a password
    // reaches only the users it resets.
    let mut v = tenant();
    v["entra"]["appRoleAssignments"] = json!([]);
    let f = pairs_of(&v);
    // Helpdesk resets a non-admin member of sub-admins...
    let helen = owner_of(&f, HELEN, SUB).expect("Helpdesk Administrator resets Plain");
    assert_eq!(helen.hops[1].edge, EdgeKind::CanResetPassword);
    assert_eq!(helen.hops[2].to.id, PLAIN);
    // ... and a Directory Readers holder, but not an administrator.
    let ada = owner_of(&f, HELEN, SUB2).expect("Ada holds only Directory Readers");
    assert_eq!(ada.hops[2].to.id, ADA);
    v["entra"]["directoryRoleAssignments"].as_array_mut().unwrap().push(dir_assignment(99, ADA, APP_ADMIN, "/x"));
    let f2 = pairs_of(&v);
    let via_ada = |f: &[Pair], who: &str| {
        f.iter().any(|p| {
            p.source.id == who && p.hops.iter().any(|h| h.edge == EdgeKind::CanResetPassword && h.to.id == ADA)
        })
    };
    assert!(!via_ada(&f2, HELEN), "Ada is an admin now: Helpdesk cannot reset her");
    // Privileged Authentication Administrator resets anyone.
    let paul = owner_of(&f2, PAUL, SUB2).expect("Privileged Authentication Administrator resets Ada");
    assert_eq!(paul.hops[2].to.id, ADA);
}

#[test]
fn reader_roles_reach_nothing() {
    let f = pairs();
    reaches_nothing(&f, RITA);
}

#[test]
fn directory_role_steps_are_cut_at_the_assignment() {
    let f = pairs();
    let alice = owner_of(&f, ALICE, SUB).unwrap();
    assert_eq!(
        alice.remediation.command.as_deref(),
        Some("az rest --method delete --url https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments/dra-1")
    );
    let priya = tier_zero(&f, PRIYA).unwrap();
    let cmd = priya.remediation.command.as_deref().expect("a command for the eligibility");
    assert!(cmd.contains("roleEligibilityScheduleRequests") && cmd.contains("adminRemove"), "{cmd}");
    let sync = tier_zero(&f, SYNC_SP).unwrap();
    assert_eq!(
        sync.remediation.command.as_deref(),
        Some(format!("az rest --method delete --url https://graph.microsoft.com/v1.0/servicePrincipals/{SYNC_SP}/appRoleAssignments/ara-1").as_str())
    );
}

#[test]
fn roles_scoped_to_one_group_or_user_reach_only_that_object() {
    // Without the Graph permissions and the Tier 0 owner, nothing else leads anywhere from these users.
    let mut v = tenant();
    v["entra"]["appRoleAssignments"] = json!([]);
    let extra = [
        dir_assignment(20, BOB, GROUPS_ADMIN, &format!("/{SUB_ADMINS}")),
        dir_assignment(21, AUDREY, GROUPS_ADMIN, &format!("/{RA_ADMINS}")),
        dir_assignment(22, RITA, HELPDESK, &format!("/{PLAIN}")),
    ];
    v["entra"]["directoryRoleAssignments"].as_array_mut().unwrap().extend(extra);
    let f = pairs_of(&v);
    let bob = owner_of(&f, BOB, SUB).expect("Groups Administrator scoped to sub-admins");
    assert_eq!(edges(bob), [EdgeKind::CanManageMembers, EdgeKind::HasRole]);
    assert_eq!(bob.hops[0].evidence, ["dra-20", GROUPS_ADMIN, &format!("/{SUB_ADMINS}")]);
    // A role-assignable group is out of a Groups Administrator's reach, even when scoped to it.
    assert!(owner_of(&f, AUDREY, SUB2).is_none());
    let rita = owner_of(&f, RITA, SUB).expect("Helpdesk Administrator scoped to Plain");
    assert_eq!(rita.hops[0].edge, EdgeKind::CanResetPassword);
    assert_eq!(rita.hops[0].to.id, PLAIN);
}

/// The grouped view reads as a person says it: no tier-zero finding goes through "any directory role" to a
/// role whose only power is assigning roles (Privileged Role Administrator), a detour its holder's direct
/// edge to tier zero already covers; the pairs stay those of the per-pair search (`analyze_checked`).
#[test]
fn tier_zero_findings_take_no_detour_through_an_assign_only_role() {
    let report = common::analyze_checked(&snapshot(&tenant()), &queries(), AnalyzeOptions::default());
    let tier_zero: Vec<_> =
        report.findings.iter().filter(|f| f.tiers.iter().any(|t| t.query_id == "entra-tier-zero")).collect();
    assert!(!tier_zero.is_empty());
    for f in &tier_zero {
        for pair in f.hops.windows(2) {
            let detour = pair[0].to.id == "directoryroles/any" && pair[1].to.id.ends_with(PRA);
            assert!(!detour, "{:#?}", f.hops);
        }
    }
    // Priya (PIM-eligible Privileged Role Administrator) still reaches tier zero, in two hops.
    let priya = tier_zero.iter().find(|f| f.principal.id == PRIYA).expect("Priya reaches tier zero");
    assert_eq!(priya.hops.len(), 2, "{:#?}", priya.hops);
}

const UNIT: &str = "ffffffff-0000-0000-0000-000000000001";
const RESTRICTED_UNIT: &str = "ffffffff-0000-0000-0000-000000000002";

/// The tenant with two administrative units in Graph's wire shapes: `Sales` holds Plain and sub-admins, the
/// restricted management unit `Core` holds Ada.
fn with_units() -> Value {
    let mut v = tenant();
    v["entra"]["appRoleAssignments"] = json!([]);
    v["entra"]["administrativeUnits"] = json!([
        {"id": UNIT, "displayName": "Sales", "isMemberManagementRestricted": false, "membershipType": null},
        {"id": RESTRICTED_UNIT, "displayName": "Core", "isMemberManagementRestricted": true}
    ]);
    v["entra"]["administrativeUnitMembers"] = json!([
        {"administrativeUnitId": UNIT, "members": [
            {"@odata.type": "#microsoft.graph.user", "id": PLAIN},
            {"@odata.type": "#microsoft.graph.group", "id": SUB_ADMINS},
            {"@odata.type": "#microsoft.graph.device", "id": "99999999-0000-0000-0000-000000000001"}
        ]},
        {"administrativeUnitId": RESTRICTED_UNIT, "members": [{"@odata.type": "#microsoft.graph.user", "id": ADA}]}
    ]);
    v
}

#[test]
fn roles_scoped_to_an_administrative_unit_reach_exactly_its_members() {
    let mut v = with_units();
    let unit = format!("/administrativeUnits/{UNIT}");
    let extra = [dir_assignment(30, BOB, HELPDESK, &unit), dir_assignment(31, DORA, GROUPS_ADMIN, &unit)];
    v["entra"]["directoryRoleAssignments"].as_array_mut().unwrap().extend(extra);
    let f = pairs_of(&v);
    // Helpdesk scoped to Sales resets Plain, a member of sub-admins (Owner of SUB).
    let bob = owner_of(&f, BOB, SUB).expect("Helpdesk Administrator scoped to Sales resets Plain");
    assert_eq!(
        edges(bob),
        [EdgeKind::CanResetPassword, EdgeKind::CanResetPassword, EdgeKind::MemberOf, EdgeKind::HasRole]
    );
    assert_eq!(bob.hops[0].evidence, ["dra-30", HELPDESK, unit.as_str()]);
    assert_eq!(bob.hops[0].to.kind, NodeKind::EntraTargets);
    assert!(bob.hops[0].to.display_name.contains("Sales"), "{:?}", bob.hops[0].to);
    assert_eq!(bob.hops[1].to.id, PLAIN);
    // ... never Ada, who is outside it (Owner of SUB2 directly).
    assert!(owner_of(&f, BOB, SUB2).is_none());
    // Groups Administrator scoped to Sales adds itself to sub-admins, a group in it.
    let dora = owner_of(&f, DORA, SUB).expect("Groups Administrator scoped to Sales");
    assert_eq!(dora.hops[0].edge, EdgeKind::CanManageMembers);
    assert_eq!(dora.hops[1].to.id, SUB_ADMINS);
    assert!(owner_of(&f, DORA, SUB2).is_none(), "core-admins is not in Sales");
    // Application Administrator scoped to a unit: units hold no applications, so nothing.
    reaches_nothing(&f, AUDREY);
}

#[test]
fn restricted_management_units_keep_tenant_scoped_admins_out_but_not_unit_scoped_ones() {
    let f = pairs_of(&with_units());
    // Tenant-wide Helpdesk Administrator and Privileged Authentication Administrator reset Ada without the
    // restriction (see password_reset_follows_who_may_reset_whom); with it, neither does.
    let resets_ada = |f: &[Pair], who: &str| {
        f.iter().any(|p| {
            p.source.id == who && p.hops.iter().any(|h| h.edge == EdgeKind::CanResetPassword && h.to.id == ADA)
        })
    };
    assert!(!resets_ada(&f, HELEN) && !resets_ada(&f, PAUL));
    // Plain is in Sales, not restricted: the tenant-wide Helpdesk Administrator still resets him.
    assert!(owner_of(&f, HELEN, SUB).is_some());
    // An administrator scoped to the restricted unit does reach its member.
    let mut v = with_units();
    let scoped = dir_assignment(40, RITA, HELPDESK, &format!("/administrativeUnits/{RESTRICTED_UNIT}"));
    v["entra"]["directoryRoleAssignments"].as_array_mut().unwrap().push(scoped);
    let f = pairs_of(&v);
    let rita = owner_of(&f, RITA, SUB2).expect("Helpdesk Administrator scoped to Core resets Ada");
    assert_eq!(rita.hops[1].to.id, ADA);
    // Without the restriction, the tenant-wide ones reset Ada again.
    v["entra"]["administrativeUnits"][1]["isMemberManagementRestricted"] = json!(false);
    let f = pairs_of(&v);
    assert!(resets_ada(&f, HELEN) && resets_ada(&f, PAUL));
}

/// No finding that reaches Entra tier zero goes there through "any directory role": whoever reaches that set
/// has its own edge to tier zero, so "… → any directory role → Global Administrator → tier zero" is a detour.
/// The set leads to each role as assigned to oneself (its other powers: Global Administrator's elevateAccess
/// still reaches the subscriptions), and the pairs stay those of the per-pair search (`analyze_checked`).
#[test]
fn tier_zero_findings_never_go_through_any_directory_role() {
    let report = common::analyze_checked(&snapshot(&tenant()), &queries(), AnalyzeOptions::default());
    let mut to_tier_zero = 0;
    for f in &report.findings {
        if f.hops.last().is_some_and(|h| h.to.kind == NodeKind::EntraTierZero) {
            to_tier_zero += 1;
            assert!(f.hops.iter().all(|h| h.to.id != "directoryroles/any"), "{:#?}", f.hops);
        }
    }
    assert!(to_tier_zero > 0);
    // Through the set, Global Administrator as assigned to oneself still elevates (Priya, PIM-eligible PRA).
    let f = pairs();
    let sub = owner_of(&f, PRIYA, SUB).expect("PRA reaches the subscriptions");
    let at = sub.hops.iter().position(|h| h.to.id == "directoryroles/any").expect("through any directory role");
    assert!(sub.hops[at + 1].to.display_name.contains("Global Administrator (assigned to oneself)"), "{:#?}", sub.hops);
}

/// Microsoft blocks the owners of a group in a restricted management administrative unit from changing its
/// members or owners (admin-units-restricted-management: "Who can modify objects?").
#[test]
fn owners_of_a_group_in_a_restricted_management_unit_cannot_add_members() {
    let adds_to_tier0 = |f: &[Pair]| {
        f.iter()
            .any(|p| p.source.id == OLAF && p.hops.iter().any(|h| h.edge == EdgeKind::CanAddMember && h.to.id == TIER0))
    };
    let mut v = with_units();
    assert!(adds_to_tier0(&pairs_of(&v)), "Olaf owns Tier 0, in no restricted unit");
    let tier0 = json!({"@odata.type": "#microsoft.graph.group", "id": TIER0});
    v["entra"]["administrativeUnitMembers"][1]["members"].as_array_mut().unwrap().push(tier0.clone());
    assert!(!adds_to_tier0(&pairs_of(&v)), "Tier 0 is in Core, a restricted unit");
    // In a unit that is not restricted, owners keep managing it.
    let mut v = with_units();
    v["entra"]["administrativeUnitMembers"][0]["members"].as_array_mut().unwrap().push(tier0);
    assert!(adds_to_tier0(&pairs_of(&v)));
}
