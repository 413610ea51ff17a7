//! Entra posture checks (AZP-ENTRA-004 to 007): one positive and one negative case each, and the README's
//! posture table naming every check.

use azpath_graph::findings::PostureFinding;
use azpath_graph::model::Severity;
use azpath_graph::posture;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const ANNA: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const BEN: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const CLAIRE: &str = "aaaaaaaa-0000-0000-0000-000000000003";
const DAN: &str = "aaaaaaaa-0000-0000-0000-000000000004";
const T0_GROUP: &str = "bbbbbbbb-0000-0000-0000-000000000001";
const PLAIN_GROUP: &str = "bbbbbbbb-0000-0000-0000-000000000002";
const EMPTY_RA_GROUP: &str = "bbbbbbbb-0000-0000-0000-000000000003";
const GRAPH_SP: &str = "cccccccc-0000-0000-0000-00000000000f";
const SYNC_SP: &str = "cccccccc-0000-0000-0000-000000000001";
const MAIL_SP: &str = "cccccccc-0000-0000-0000-000000000002";
const DEPLOY_SP: &str = "cccccccc-0000-0000-0000-000000000003";
const REPORT_SP: &str = "cccccccc-0000-0000-0000-000000000004";
const DEPLOY_APP: &str = "dddddddd-0000-0000-0000-000000000003";
const REPORT_APP: &str = "dddddddd-0000-0000-0000-000000000004";
const ROLE_MANAGEMENT_RW: &str = "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8";
const GROUP_MEMBER_RW: &str = "dbaae8cf-10b5-4b86-a4a1-f871c94c6695";
const MAIL_RW: &str = "e2a3a72e-5f79-4c64-b1b1-878b674786c9";

fn owner(id: &str) -> Value {
    json!([{"@odata.type": "#microsoft.graph.user", "id": id}])
}

fn arm_assignment(n: u32, principal: &str, role: &str) -> Value {
    let scope = format!("/subscriptions/{SUB}");
    json!({"id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
           "properties": {"scope": scope, "principalId": principal, "principalType": "ServicePrincipal",
                          "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{role}")}})
}

fn app_role(id: &str, value: &str) -> Value {
    json!({"id": id, "value": value, "allowedMemberTypes": ["Application"], "isEnabled": true})
}

/// Anna holds Global Administrator actively, Ben Helpdesk Administrator as a PIM eligibility, Claire only
/// Directory Readers; Tier 0 (role-assignable, Global Administrator) is owned by Dan; the other
/// role-assignable group has no owner, and an ordinary group has one. sync holds RoleManagement.ReadWrite.Directory,
/// reporting GroupMember.ReadWrite.All, mail Mail.ReadWrite. deploy's application (owned) is Owner of the
/// subscription; reporting's (owned) only Reader.
fn snapshot() -> Snapshot {
    let v = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2026-12-01T00:00:00Z"},
        "azure": {
            "subscriptions": [{"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB}],
            "roleAssignments": [arm_assignment(1, DEPLOY_SP, OWNER), arm_assignment(2, REPORT_SP, READER)]
        },
        "entra": {
            "users": [{"id": ANNA, "displayName": "Anna"}, {"id": BEN, "displayName": "Ben"},
                      {"id": CLAIRE, "displayName": "Claire"}, {"id": DAN, "displayName": "Dan"}],
            "groups": [
                {"id": T0_GROUP, "displayName": "Tier 0", "isAssignableToRole": true, "owners": owner(DAN)},
                {"id": EMPTY_RA_GROUP, "displayName": "Helpdesk team", "isAssignableToRole": true},
                {"id": PLAIN_GROUP, "displayName": "Devs", "isAssignableToRole": false, "owners": owner(DAN)}
            ],
            "servicePrincipals": [
                {"id": GRAPH_SP, "appId": "00000003-0000-0000-c000-000000000000", "displayName": "Microsoft Graph",
                 "appRoles": [app_role(ROLE_MANAGEMENT_RW, "RoleManagement.ReadWrite.Directory"),
                              app_role(GROUP_MEMBER_RW, "GroupMember.ReadWrite.All"), app_role(MAIL_RW, "Mail.ReadWrite")]},
                {"id": SYNC_SP, "appId": "eeeeeeee-0000-0000-0000-000000000001", "displayName": "sync"},
                {"id": MAIL_SP, "appId": "eeeeeeee-0000-0000-0000-000000000002", "displayName": "mail"},
                {"id": DEPLOY_SP, "appId": "eeeeeeee-0000-0000-0000-000000000003", "displayName": "deploy"},
                {"id": REPORT_SP, "appId": "eeeeeeee-0000-0000-0000-000000000004", "displayName": "reporting"}
            ],
            "applications": [
                {"id": DEPLOY_APP, "appId": "eeeeeeee-0000-0000-0000-000000000003", "displayName": "deploy", "owners": owner(CLAIRE)},
                {"id": REPORT_APP, "appId": "eeeeeeee-0000-0000-0000-000000000004", "displayName": "reporting", "owners": owner(CLAIRE)}
            ],
            "directoryRoleDefinitions": [
                {"id": GA, "displayName": "Global Administrator", "templateId": GA, "isEnabled": true,
                 "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/roleAssignments/allProperties/allTasks"]}]},
                {"id": HELPDESK, "displayName": "Helpdesk Administrator", "templateId": HELPDESK, "isEnabled": true,
                 "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/password/update"]}]},
                {"id": DIRECTORY_READERS, "displayName": "Directory Readers", "templateId": DIRECTORY_READERS, "isEnabled": true,
                 "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/standard/read"]}]}
            ],
            "directoryRoleAssignments": [
                {"id": "dra-anna", "principalId": ANNA, "roleDefinitionId": GA, "directoryScopeId": "/"},
                {"id": "dra-claire", "principalId": CLAIRE, "roleDefinitionId": DIRECTORY_READERS, "directoryScopeId": "/"},
                {"id": "dra-t0", "principalId": T0_GROUP, "roleDefinitionId": GA, "directoryScopeId": "/"},
                {"id": "dra-sync", "principalId": SYNC_SP, "roleDefinitionId": HELPDESK, "directoryScopeId": "/"}
            ],
            "directoryRoleEligibilityScheduleInstances": [
                {"id": "elig-ben", "principalId": BEN, "roleDefinitionId": HELPDESK, "directoryScopeId": "/"}
            ],
            "appRoleAssignments": [
                {"id": "ara-sync", "appRoleId": ROLE_MANAGEMENT_RW, "principalId": SYNC_SP, "principalType": "ServicePrincipal", "resourceId": GRAPH_SP},
                {"id": "ara-report", "appRoleId": GROUP_MEMBER_RW, "principalId": REPORT_SP, "principalType": "ServicePrincipal", "resourceId": GRAPH_SP},
                {"id": "ara-mail", "appRoleId": MAIL_RW, "principalId": MAIL_SP, "principalType": "ServicePrincipal", "resourceId": GRAPH_SP}
            ]
        }
    });
    Snapshot::from_json(&v.to_string(), "test").unwrap()
}

fn found(check: &str) -> Vec<PostureFinding> {
    posture::run(&snapshot()).into_iter().filter(|f| f.check_id == check).collect()
}

fn ids(f: &[PostureFinding]) -> Vec<&str> {
    f.iter().map(|x| x.resource.id.as_str()).collect()
}

#[test]
fn standing_privileged_directory_roles_are_reported_eligible_and_reader_ones_are_not() {
    let f = found("AZP-ENTRA-004");
    // Anna and Tier 0 hold Global Administrator actively; Ben's Helpdesk is eligible, Claire's role reads
    // only, and sync is a service principal (PIM does not apply).
    assert_eq!(ids(&f), ["dra-anna", "dra-t0"]);
    assert!(f.iter().all(|x| x.severity == Severity::High), "tier zero is high: {f:#?}");
    let cmd = f[0].remediation.command.as_deref().unwrap();
    assert!(cmd.contains("roleEligibilityScheduleRequests") && cmd.contains("adminAssign"), "{cmd}");
    assert!(
        cmd.ends_with("--url https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments/dra-anna"),
        "{cmd}"
    );
}

#[test]
fn graph_permissions_that_control_the_tenant_are_reported_and_mail_is_not() {
    let f = found("AZP-ENTRA-005");
    assert_eq!(ids(&f), ["ara-sync", "ara-report"]);
    assert_eq!(f[0].severity, Severity::Critical, "RoleManagement.ReadWrite.Directory is tier zero");
    assert_eq!(f[1].severity, Severity::High);
    assert_eq!(
        f[1].remediation.command.as_deref(),
        Some(format!("az rest --method delete --url https://graph.microsoft.com/v1.0/servicePrincipals/{REPORT_SP}/appRoleAssignments/ara-report").as_str())
    );
}

#[test]
fn role_assignable_groups_with_owners_are_reported_others_are_not() {
    let f = found("AZP-ENTRA-006");
    // Tier 0 has an owner; the other role-assignable group has none; Devs is not role-assignable.
    assert_eq!(ids(&f), [T0_GROUP]);
    assert_eq!(f[0].severity, Severity::High, "the group holds Global Administrator");
    assert_eq!(
        f[0].remediation.command.as_deref(),
        Some(format!("az ad group owner remove --group {T0_GROUP} --owner-object-id {DAN}").as_str())
    );
}

#[test]
fn owned_applications_of_privileged_service_principals_are_reported_readers_are_not() {
    let f = found("AZP-ENTRA-007");
    // deploy's principal is Owner; reporting's only Reader.
    assert_eq!(ids(&f), [DEPLOY_APP]);
    assert!(f[0].detail.contains("Owner"), "{}", f[0].detail);
    assert_eq!(
        f[0].remediation.command.as_deref(),
        Some(format!("az ad app owner remove --id {DEPLOY_APP} --owner-object-id {CLAIRE}").as_str())
    );
}

/// README's posture table as (id, first word of the severity column), in order.
fn readme_posture_rows(readme: &str) -> Vec<(String, String)> {
    let section = readme.split("\n## Posture checks\n").nth(1).expect("README has a Posture checks section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| `AZP-"))
        .take_while(|l| l.starts_with("| `AZP-"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let severity = cells[2].split_whitespace().next().unwrap_or("").to_string();
            (cells[1].trim_matches('`').to_string(), severity)
        })
        .collect()
}

#[test]
fn posture_checks_equal_the_readme_table() {
    let readme = include_str!("../../README.md");
    let checks: Vec<(String, String)> =
        posture::CHECKS.iter().map(|c| (c.id.to_string(), c.severity.as_str().to_string())).collect();
    assert_eq!(readme_posture_rows(readme), checks, "README's posture table and posture::CHECKS differ");
    // A table missing a row, or giving another severity, is caught.
    let dropped = readme.replace("| `AZP-AKS-004` | critical |", "| `AZP-AKS-004` | high |");
    assert_ne!(readme_posture_rows(&dropped), checks);
    let without: String =
        readme.lines().filter(|l| !l.starts_with("| `AZP-ENTRA-007`")).map(|l| format!("{l}\n")).collect();
    assert_ne!(readme_posture_rows(&without), checks);
}
