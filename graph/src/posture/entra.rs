//! Entra posture: application credentials (long-lived client secrets, expired credentials left in place,
//! credentials about to expire, dates compared with the snapshot's `collected_at`), privileged directory roles
//! held permanently, service principals with tenant-controlling
//! Microsoft Graph permissions, role-assignable groups with owners, and applications with owners whose
//! service principal holds a privileged Azure role. Roles and permissions are judged as the graph judges them
//! ([`Powers`]), never by name.

use rustc_hash::{FxHashMap, FxHashSet};

use super::azure::privileged_grants;
use super::{days, finding, resource, Check, IdKey};
use crate::build::entra_roles::{graph_permission_grants, Powers};
use crate::findings::{PostureFinding, Remediation};
use crate::graph::{NodeKey, PrivilegeGraph};
use crate::model::Severity;
use crate::remediation::{graph_id, graph_rest, GRAPH};
use crate::shell::{self, Chain, Command, Malformed, OwnedObject};
use crate::snapshot::{CredentialMetadata, DirectoryObject, DirectoryRoleDefinition, ServicePrincipal, Snapshot};

const ROLE_BEST_PRACTICES: &str = "https://learn.microsoft.com/entra/identity/role-based-access-control/best-practices";
const PRIVILEGED_ROLES: &str =
    "https://learn.microsoft.com/entra/identity/role-based-access-control/privileged-roles-permissions";

/// Privileged directory roles held by active assignments.
pub const ENTRA_STANDING_DIRECTORY_ROLE: Check = Check {
    id: "AZP-ENTRA-004",
    title: "Privileged directory role held permanently instead of PIM-eligible",
    severity: Severity::Medium,
    description: "A user or group holds, by an active assignment, a directory role whose actions control other identities (credentials of applications and service principals, group members, passwords) or the directory itself (role assignments, Global Administrator): high when it is tier zero. Microsoft's guidance is just-in-time access through PIM.",
    remediation: "Make the assignment PIM-eligible (with approval and MFA on activation for tier zero) and remove the active one; keep standing Global Administrators to two break-glass accounts.",
    references: &[ROLE_BEST_PRACTICES, "https://learn.microsoft.com/entra/id-governance/privileged-identity-management/pim-configure"],
};

/// Service principals holding Graph permissions that control the tenant.
pub const ENTRA_GRAPH_PERMISSION: Check = Check {
    id: "AZP-ENTRA-005",
    title: "Service principal holds a tenant-controlling Microsoft Graph permission",
    severity: Severity::High,
    description: "A service principal holds a Microsoft Graph application permission that controls other identities with no user involved: `Application.ReadWrite.All`, `Group.ReadWrite.All`, `GroupMember.ReadWrite.All`, `UserAuthenticationMethod.ReadWrite.All`; critical for `RoleManagement.ReadWrite.Directory` and `AppRoleAssignment.ReadWrite.All`, which make it tier zero. Whoever owns it or can add a credential to it holds the same power.",
    remediation: "Replace the permission with a narrower one (e.g. `Application.ReadWrite.OwnedBy`) or a scoped directory role; if it must stay, remove the application's owners and watch its credentials.",
    references: &[PRIVILEGED_ROLES, "https://learn.microsoft.com/graph/permissions-reference"],
};

/// Role-assignable groups with owners.
pub const ENTRA_ROLE_GROUP_OWNERS: Check = Check {
    id: "AZP-ENTRA-006",
    title: "Role-assignable group has owners",
    severity: Severity::Medium,
    description: "A role-assignable group (`isAssignableToRole`) has owners: each can add members, itself included, and so hold every directory role the group holds (high when one of them is tier zero). Only Privileged Role Administrators should manage such groups.",
    remediation: "Remove the owners (`az ad group owner remove`); manage the group's membership through PIM for Groups.",
    references: &["https://learn.microsoft.com/entra/identity/role-based-access-control/groups-concept"],
};

/// Applications with owners whose service principal holds privileged Azure roles.
pub const ENTRA_OWNED_PRIVILEGED_APP: Check = Check {
    id: "AZP-ENTRA-007",
    title: "Application with owners whose service principal holds a privileged Azure role",
    severity: Severity::High,
    description: "An application has owners while its service principal holds an Azure role that can assign roles or write everything (directly, actively or PIM-eligible): each owner can add a secret and act with that role.",
    remediation: "Remove the owners of the application (a pipeline's identity needs none), or move the workload to a managed identity or a federated credential nobody can add secrets to.",
    references: &["https://learn.microsoft.com/entra/identity-platform/security-best-practices-for-app-registration#application-ownership"],
};

/// Runs the Entra checks.
pub(super) fn run(s: &Snapshot, g: &PrivilegeGraph, out: &mut Vec<PostureFinding>) {
    let ctx = Ctx::new(s, g);
    ctx.standing_roles(out);
    ctx.graph_permissions(out);
    ctx.role_group_owners(out);
    ctx.owned_privileged_apps(out);
}

struct Ctx<'s> {
    s: &'s Snapshot,
    /// The graph built from `s`: Azure grants as its role table judges them.
    g: &'s PrivilegeGraph,
    /// Role definition id → (definition, powers).
    roles: FxHashMap<IdKey, (&'s DirectoryRoleDefinition, Powers)>,
    /// Object id of each user, group and service principal → what it is and its display name.
    objects: FxHashMap<IdKey, Object<'s>>,
}

/// A directory object as the Entra checks name it.
#[derive(Clone, Copy, Default)]
struct Object<'s> {
    /// `user` or `group` (the last of the two given this id), `None` for a service principal.
    person: Option<&'static str>,
    /// The last display name given this id, in the order users, groups, service principals.
    name: Option<&'s str>,
}

impl<'s> Ctx<'s> {
    fn new(s: &'s Snapshot, g: &'s PrivilegeGraph) -> Self {
        let e = &s.entra;
        let roles = e.directory_role_definitions.iter().map(|d| (IdKey::of(&d.id), (d, Powers::of_role(d)))).collect();
        let mut objects: FxHashMap<IdKey, Object<'s>> = FxHashMap::default();
        objects.reserve(e.users.len() + e.groups.len() + e.service_principals.len());
        let people = e.users.iter().map(|u| (u.id.as_str(), Some("user"), u.display_name.as_deref()));
        let people = people.chain(e.groups.iter().map(|g| (g.id.as_str(), Some("group"), g.display_name.as_deref())));
        for (id, person, name) in
            people.chain(e.service_principals.iter().map(|x| (x.id.as_str(), None, x.display_name.as_deref())))
        {
            let o = objects.entry(IdKey::of(id)).or_default();
            o.person = person.or(o.person);
            o.name = name.or(o.name);
        }
        Ctx { s, g, roles, objects }
    }

    fn name(&self, id: &str) -> String {
        self.objects.get(&IdKey::of(id)).and_then(|o| o.name).map_or_else(|| id.to_string(), ToString::to_string)
    }

    fn role(&self, id: &str) -> Option<(&'s DirectoryRoleDefinition, Powers)> {
        self.roles.get(&IdKey::of(id)).copied()
    }

    /// AZP-ENTRA-004: active assignments of users and groups to roles with powers.
    fn standing_roles(&self, out: &mut Vec<PostureFinding>) {
        let e = &self.s.entra;
        for a in &e.directory_role_assignments {
            let Some((d, powers)) = self.role(&a.role_definition_id).filter(|(_, p)| p.any()) else { continue };
            // Service principals cannot activate PIM roles: AZP-ENTRA-005's concern, not this one's.
            let Some(kind) = self.objects.get(&IdKey::of(&a.principal_id)).and_then(|o| o.person) else { continue };
            let role = d.display_name.clone().unwrap_or_else(|| d.id.clone());
            let who = self.name(&a.principal_id);
            let scope = a.directory_scope_id.clone().unwrap_or_default();
            let mut f = finding(
                &ENTRA_STANDING_DIRECTORY_ROLE,
                resource("DirectoryRoleAssignment", a.id.clone(), format!("{role} of {who}")),
                format!("{kind} {who} holds {role} at {scope} by an active assignment, not a PIM eligibility"),
                vec![
                    format!("directory role assignment {}", a.id),
                    format!("role {role} ({})", d.id),
                    format!("{kind} {}", a.principal_id),
                ],
                String::new(),
                None,
            );
            if powers.tier_zero() {
                f.severity = Severity::High;
            }
            f.remediation = shell::remediation(
                format!("Make {who}'s {role} PIM-eligible, then remove the active assignment"),
                make_eligible(&a.principal_id, &d.id, &scope, &a.id),
            );
            out.push(f);
        }
    }

    /// AZP-ENTRA-005: Microsoft Graph application permissions with powers, held by service principals.
    fn graph_permissions(&self, out: &mut Vec<PostureFinding>) {
        for (a, value, powers) in graph_permission_grants(self.s) {
            let who = self.name(&a.principal_id);
            let mut f = finding(
                &ENTRA_GRAPH_PERMISSION,
                resource("AppRoleAssignment", a.id.clone(), format!("{value} of {who}")),
                format!("service principal {who} holds the Microsoft Graph application permission {value}"),
                vec![
                    format!("app role assignment {}", a.id),
                    format!("app role {} = {value} on Microsoft Graph ({})", a.app_role_id, a.resource_id),
                    format!("service principal {}", a.principal_id),
                ],
                String::new(),
                None,
            );
            if powers.tier_zero() {
                f.severity = Severity::Critical;
            }
            f.remediation = shell::remediation(
                format!("Remove {value} from {who}, or replace it with a narrower permission"),
                graph_id("app role assignment id", &a.id).and_then(|id| {
                    let sp = shell::guid("service principal id", &a.principal_id)?;
                    Ok(graph_rest("delete", format!("{GRAPH}/servicePrincipals/{sp}/appRoleAssignments/{id}")))
                }),
            );
            out.push(f);
        }
    }

    /// The principals holding a tier-zero directory role (active or eligible).
    fn tier_zero_holders(&self) -> FxHashSet<IdKey> {
        let e = &self.s.entra;
        let held = e.directory_role_assignments.iter().map(|a| (&a.principal_id, &a.role_definition_id)).chain(
            e.directory_role_eligibility_schedule_instances.iter().map(|a| (&a.principal_id, &a.role_definition_id)),
        );
        held.filter(|(_, r)| self.role(r).is_some_and(|(_, p)| p.tier_zero())).map(|(p, _)| IdKey::of(p)).collect()
    }

    /// AZP-ENTRA-006: role-assignable groups with owners.
    fn role_group_owners(&self, out: &mut Vec<PostureFinding>) {
        let mut tier_zero = None;
        for g in self.s.entra.groups.iter().filter(|g| g.is_assignable_to_role == Some(true) && !g.owners.is_empty()) {
            let name = g.display_name.clone().unwrap_or_else(|| g.id.clone());
            let owners = self.owner_names(&g.owners);
            let mut f = finding(
                &ENTRA_ROLE_GROUP_OWNERS,
                resource("Group", g.id.clone(), name.clone()),
                format!("role-assignable group {name} is owned by {}", owners.join(", ")),
                std::iter::once(format!("group {} (isAssignableToRole)", g.id))
                    .chain(g.owners.iter().map(|o| format!("owner {}", o.id)))
                    .collect(),
                String::new(),
                None,
            );
            if tier_zero.get_or_insert_with(|| self.tier_zero_holders()).contains(&IdKey::of(&g.id)) {
                f.severity = Severity::High;
            }
            f.remediation = owners_remove(OwnedObject::Group, &g.id, &g.owners, &format!("group {name}"));
            out.push(f);
        }
    }

    /// AZP-ENTRA-007: applications with owners whose service principal holds a privileged Azure role.
    fn owned_privileged_apps(&self, out: &mut Vec<PostureFinding>) {
        let e = &self.s.entra;
        // Service principal → (role at scope, evidence) of each privileged grant it holds, as the graph judges it.
        let mut privileged_sps: FxHashMap<NodeKey, Vec<(String, String)>> = FxHashMap::default();
        for p in privileged_grants(self.g) {
            let (id, role, scope) = (&p.grant.assignment_id, &p.grant.role_name, &p.grant.scope);
            privileged_sps
                .entry(self.g.node(p.holder).key.clone())
                .or_default()
                .push((format!("{role} at {scope}"), format!("role {role} ({}) at {scope}: {id}", p.what.join(", "))));
        }
        if privileged_sps.is_empty() {
            return;
        }
        // App id → the first service principal of that app.
        let mut sp_of: FxHashMap<IdKey, &ServicePrincipal> = FxHashMap::default();
        for sp in &e.service_principals {
            if let Some(app_id) = &sp.app_id {
                sp_of.entry(IdKey::of(app_id)).or_insert(sp);
            }
        }
        for app in e.applications.iter().filter(|a| !a.owners.is_empty()) {
            let Some(sp) = app.app_id.as_deref().and_then(|a| sp_of.get(&IdKey::of(a))) else { continue };
            let Some(grants) = privileged_sps.get(&NodeKey::of(&sp.id)) else { continue };
            let name = app.display_name.clone().unwrap_or_else(|| app.id.clone());
            let owners = self.owner_names(&app.owners);
            let mut evidence = vec![format!("application {}", app.id), format!("service principal {}", sp.id)];
            evidence.extend(grants.iter().map(|(_, g)| g.clone()));
            evidence.extend(app.owners.iter().map(|o| format!("owner {}", o.id)));
            out.push(super::finding_with(
                &ENTRA_OWNED_PRIVILEGED_APP,
                resource("Application", app.id.clone(), name.clone()),
                format!("{name} is owned by {}; its service principal holds {}", owners.join(", "), grants[0].0),
                evidence,
                owners_remove(OwnedObject::Application, &app.id, &app.owners, &format!("the application {name}")),
            ));
        }
    }

    fn owner_names(&self, owners: &[DirectoryObject]) -> Vec<String> {
        owners.iter().map(|o| o.display_name.as_ref().map_or_else(|| self.name(&o.id), ToString::to_string)).collect()
    }
}

/// Removes every owner of an object (one command per owner, chained).
fn owners_remove(collection: OwnedObject, object: &str, owners: &[DirectoryObject], what: &str) -> Remediation {
    let commands: Result<Vec<Command>, Malformed> =
        owners.iter().map(|o| shell::owner_remove(collection, object, &o.id)).collect();
    shell::remediation(
        format!("Remove the owners of {what}"),
        commands.map(|c| Chain::of(c).expect("the object has owners")),
    )
}

/// Creates a PIM eligibility for the role (no expiry), then deletes the active assignment.
fn make_eligible(principal: &str, role: &str, scope: &str, assignment: &str) -> Result<Chain, Malformed> {
    let principal = shell::guid("principal id", principal)?;
    let role = graph_id("role definition id", role)?;
    let assignment = graph_id("directory role assignment id", assignment)?;
    if !(scope == "/" || scope.strip_prefix('/').is_some_and(|s| s.split('/').all(|x| graph_id("scope", x).is_ok()))) {
        return Err(Malformed { field: "directory scope", value: scope.to_string(), expected: "/ or /{id}" });
    }
    let body = serde_json::json!({
        "action": "adminAssign",
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": scope,
        "justification": "Just-in-time instead of standing access",
        "scheduleInfo": {"expiration": {"type": "noExpiration"}},
    });
    let create = graph_rest("post", format!("{GRAPH}/roleManagement/directory/roleEligibilityScheduleRequests"))
        .opt("--body", body.to_string());
    let delete = graph_rest("delete", format!("{GRAPH}/roleManagement/directory/roleAssignments/{assignment}"));
    Ok(create.and(delete))
}

// Application credentials (AZP-ENTRA-001…003).

const APP_CREDENTIALS: &str =
    "https://learn.microsoft.com/entra/identity-platform/security-best-practices-for-app-registration#credential-configuration";

/// Long-lived client secrets.
pub const ENTRA_LONG_LIVED_SECRET: Check = Check {
    id: "AZP-ENTRA-001",
    title: "Client secret valid for more than a year",
    severity: Severity::Low,
    description: "An application or service principal has a client secret (password credential) still valid at collection time whose lifetime exceeds one year: a leaked secret stays usable that long. Federated credentials or managed identities have no secret at all.",
    remediation: "Replace the secret with a federated credential or a managed identity; if a secret is unavoidable, rotate to one that expires within a year and delete the long-lived one.",
    references: &[APP_CREDENTIALS],
};

/// Expired credentials left on an app.
pub const ENTRA_EXPIRED_CREDENTIAL: Check = Check {
    id: "AZP-ENTRA-002",
    title: "Expired credentials still on an application",
    severity: Severity::Info,
    description: "A client secret or certificate past its endDateTime authenticates no one, but left in place it hides which credentials are really in use and whether the application is still maintained.",
    remediation: "Delete expired credentials (`az ad app credential delete --key-id`).",
    references: &[APP_CREDENTIALS],
};

/// Credentials about to expire.
pub const ENTRA_EXPIRING_CREDENTIAL: Check = Check {
    id: "AZP-ENTRA-003",
    title: "Client credential expires within 30 days",
    severity: Severity::Low,
    description: "A client secret or certificate expires within 30 days of collection: the workloads using it stop authenticating unless it is rotated, and rotations under pressure tend to produce long-lived secrets.",
    remediation: "Replace it with a federated credential or managed identity; otherwise rotate it now to a short-lived credential.",
    references: &[APP_CREDENTIALS],
};

/// Days of validity beyond which a client secret is long-lived (a year, leap day included).
const LONG_LIVED_DAYS: i64 = 366;
/// Days before expiry from which a credential is reported as expiring.
const EXPIRING_DAYS: i64 = 30;

/// An object whose credentials are checked: an application or a service principal.
struct CredentialOwner<'a> {
    kind: &'static str,
    /// `app` or `sp`, as in `az ad app`.
    az: &'static str,
    id: &'a str,
    /// Its display name, else its id.
    name: &'a str,
    passwords: &'a [CredentialMetadata],
    keys: &'a [CredentialMetadata],
}

pub(super) fn credentials(s: &Snapshot, now: Option<i64>, out: &mut Vec<PostureFinding>) {
    let apps = s.entra.applications.iter().map(|a| CredentialOwner {
        kind: "Application",
        az: "app",
        id: &a.id,
        name: a.display_name.as_deref().unwrap_or(&a.id),
        passwords: &a.password_credentials,
        keys: &a.key_credentials,
    });
    // Managed identities' credentials are Azure's to rotate.
    let sps = s
        .entra
        .service_principals
        .iter()
        .filter(|p| !p.service_principal_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("ManagedIdentity")))
        .map(|p| CredentialOwner {
            kind: "ServicePrincipal",
            az: "sp",
            id: &p.id,
            name: p.display_name.as_deref().unwrap_or(&p.id),
            passwords: &p.password_credentials,
            keys: &p.key_credentials,
        });
    for o in apps.chain(sps) {
        credential_checks(&o, now, out);
    }
}

fn credential_text(kind: &str, c: &CredentialMetadata) -> String {
    let name = c.display_name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default();
    let from = c.start_date_time.as_deref().map(|d| d.get(..10).unwrap_or(d)).unwrap_or("?");
    let to = c.end_date_time.as_deref().map(|d| d.get(..10).unwrap_or(d)).unwrap_or("?");
    format!("{kind} {}{name}: {from} → {to}", c.key_id.as_deref().unwrap_or("?"))
}

fn credential_checks(o: &CredentialOwner, now: Option<i64>, out: &mut Vec<PostureFinding>) {
    let res = || resource(o.kind, o.id.to_ascii_lowercase(), o.name.to_string());
    let key_id = |c: &CredentialMetadata| c.key_id.clone().unwrap_or_else(|| "<key-id>".into());
    let credential = |verb: &'static str| Command::new("az").args(["ad", o.az, "credential", verb]).opt("--id", o.id);
    let end = |c: &CredentialMetadata| c.end_date_time.as_deref().and_then(days);

    // Long-lived secrets, still valid.
    let long: Vec<(&CredentialMetadata, i64)> = o
        .passwords
        .iter()
        .filter_map(|c| {
            let end = end(c)?;
            if now.is_some_and(|n| end < n) {
                return None;
            }
            let start = c.start_date_time.as_deref().and_then(days).or(now)?;
            Some((c, end - start)).filter(|(_, life)| *life > LONG_LIVED_DAYS)
        })
        .collect();
    if let Some((first, _)) = long.first() {
        out.push(finding(
            &ENTRA_LONG_LIVED_SECRET,
            res(),
            format!("{} has {} client secret(s) valid for more than a year", o.name, long.len()),
            long.iter().map(|(c, life)| format!("{} ({life} days)", credential_text("secret", c))).collect(),
            format!("Replace {}'s long-lived secret(s) with a federated credential or managed identity, or rotate to a secret that expires within a year and delete the old one", o.name),
            Some(
                credential("reset")
                    .args(["--append", "--years", "1"])
                    .and(credential("delete").opt("--key-id", key_id(first)))
                    .to_string(),
            ),
        ));
    }
    let Some(now) = now else { return };
    let all = o.passwords.iter().map(|c| ("secret", c)).chain(o.keys.iter().map(|c| ("certificate", c)));
    let (mut expired, mut expiring) = (Vec::new(), Vec::new());
    for (kind, c) in all {
        match end(c) {
            Some(e) if e < now => expired.push((kind, c)),
            Some(e) if e - now <= EXPIRING_DAYS => expiring.push((kind, c)),
            _ => {}
        }
    }
    let delete = |(kind, c): &(&str, &CredentialMetadata)| {
        let delete = credential("delete").opt("--key-id", key_id(c));
        if *kind == "certificate" {
            delete.args(["--cert"])
        } else {
            delete
        }
    };
    if !expired.is_empty() {
        out.push(finding(
            &ENTRA_EXPIRED_CREDENTIAL,
            res(),
            format!("{} keeps {} expired credential(s)", o.name, expired.len()),
            expired.iter().map(|(k, c)| credential_text(k, c)).collect(),
            format!("Delete {}'s expired credentials", o.name),
            Chain::of(expired.iter().map(delete)).map(|c| c.to_string()),
        ));
    }
    if let Some((kind, first)) = expiring.first() {
        let rotate = if *kind == "certificate" {
            credential("reset").args(["--append", "--create-cert", "--years", "1"])
        } else {
            credential("reset").args(["--append", "--years", "1"])
        };
        out.push(finding(
            &ENTRA_EXPIRING_CREDENTIAL,
            res(),
            format!("{} has {} credential(s) expiring within {EXPIRING_DAYS} days", o.name, expiring.len()),
            expiring.iter().map(|(k, c)| credential_text(k, c)).collect(),
            format!("Move {} to a federated credential or managed identity, or rotate now (add the new credential, switch its users, delete {})", o.name, first.key_id.as_deref().unwrap_or("the old one")),
            Some(rotate.to_string()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::model::Severity;
    use crate::snapshot::Snapshot;

    const SUB: &str = "11111111-0000-0000-0000-000000000001";
    const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
    const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
    const UMA: &str = "aaaaaaaa-0000-0000-0000-00000000000a";
    const VIC: &str = "aaaaaaaa-0000-0000-0000-00000000000b";
    const T0: &str = "bbbbbbbb-0000-0000-0000-00000000000a";
    const DESK: &str = "bbbbbbbb-0000-0000-0000-00000000000b";
    const SP: &str = "cccccccc-0000-0000-0000-00000000000a";
    const APP: &str = "dddddddd-0000-0000-0000-00000000000a";
    const APP_ID: &str = "eeeeeeee-0000-0000-0000-00000000000a";

    /// Ids written in another case than the objects' own, where each index looks them up: the directory's
    /// names and kinds (Uma's active Global Administrator), tier-zero holders (Tier 0's eligibility), and
    /// service principals by app id (deploy's, Owner of the subscription). Helpdesk only resets passwords.
    fn snapshot() -> Snapshot {
        let up = str::to_ascii_uppercase;
        let owner = |id: &str| json!([{"@odata.type": "#microsoft.graph.user", "id": id}]);
        let role = |id: &str, name: &str, action: &str| {
            json!({"id": id, "displayName": name, "templateId": id, "isEnabled": true,
                   "rolePermissions": [{"allowedResourceActions": [action]}]})
        };
        let scope = format!("/subscriptions/{SUB}");
        let v = json!({
            "schema_version": 1,
            "metadata": {"collected_at": "2026-12-01T00:00:00Z"},
            "azure": {
                "subscriptions": [{"id": scope, "subscriptionId": SUB}],
                "roleAssignments": [{
                    "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000001"),
                    "properties": {"scope": scope, "principalId": SP, "principalType": "ServicePrincipal",
                                   "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")}
                }]
            },
            "entra": {
                "users": [{"id": UMA, "displayName": "Uma"}, {"id": VIC, "displayName": "Vic"}],
                "groups": [
                    {"id": T0, "displayName": "Tier 0", "isAssignableToRole": true, "owners": owner(VIC)},
                    {"id": DESK, "displayName": "Desk", "isAssignableToRole": true, "owners": owner(VIC)}
                ],
                "servicePrincipals": [{"id": SP, "appId": APP_ID, "displayName": "deploy"}],
                "applications": [{"id": APP, "appId": up(APP_ID), "displayName": "deploy app", "owners": owner(VIC)}],
                "directoryRoleDefinitions": [
                    role(GA, "Global Administrator", "microsoft.directory/roleAssignments/allProperties/allTasks"),
                    role(HELPDESK, "Helpdesk Administrator", "microsoft.directory/users/password/update")
                ],
                "directoryRoleAssignments": [
                    {"id": "dra-uma", "principalId": up(UMA), "roleDefinitionId": up(GA), "directoryScopeId": "/"},
                    {"id": "dra-desk", "principalId": DESK, "roleDefinitionId": HELPDESK, "directoryScopeId": "/"}
                ],
                "directoryRoleEligibilityScheduleInstances": [
                    {"id": "elig-t0", "principalId": up(T0), "roleDefinitionId": GA, "directoryScopeId": "/"}
                ]
            }
        });
        Snapshot::from_json(&v.to_string(), "test").unwrap()
    }

    #[test]
    fn ids_are_looked_up_ignoring_case() {
        let found = crate::posture::run(&snapshot());
        let of = |check: &str| found.iter().filter(|f| f.check_id == check).collect::<Vec<_>>();
        // The directory's name and kind of Uma, and the role, by ids in upper case.
        let standing = of("AZP-ENTRA-004");
        let uma = standing.iter().find(|f| f.resource.id == "dra-uma").expect("Uma's standing role");
        assert_eq!(
            uma.detail,
            "user Uma holds Global Administrator at / by an active assignment, not a PIM eligibility"
        );
        assert_eq!(uma.severity, Severity::High);
        // Tier 0 is eligible for Global Administrator (its id in upper case there); Desk holds Helpdesk only.
        let groups = of("AZP-ENTRA-006");
        let severity = |id: &str| groups.iter().find(|f| f.resource.id == id).map(|f| f.severity);
        assert_eq!((severity(T0), severity(DESK)), (Some(Severity::High), Some(Severity::Medium)));
        // The application's app id in upper case finds its service principal.
        let apps = of("AZP-ENTRA-007");
        assert_eq!(apps.iter().map(|f| f.resource.id.as_str()).collect::<Vec<_>>(), [APP]);
        assert!(apps[0].evidence.contains(&format!("service principal {SP}")), "{:?}", apps[0].evidence);
    }
}
