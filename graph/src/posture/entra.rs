//! Entra posture: application credentials (long-lived client secrets, expired credentials left in place,
//! credentials about to expire, dates compared with the snapshot's `collected_at`), privileged directory roles
//! held permanently, service principals with tenant-controlling
//! Microsoft Graph permissions, role-assignable groups with owners, and applications with owners whose
//! service principal holds a privileged Azure role. Roles and permissions are judged as the graph judges them
//! ([`Powers`]), never by name.

use rustc_hash::FxHashMap;

use super::azure::privileged_grants;
use super::{days, finding, resource, Check};
use crate::build::entra_roles::{graph_permission_grants, Powers};
use crate::findings::{PostureFinding, Remediation};
use crate::graph::{NodeKey, PrivilegeGraph};
use crate::model::Severity;
use crate::remediation::{graph_id, graph_rest, GRAPH};
use crate::shell::{self, Chain, Command, Malformed, OwnedObject};
use crate::snapshot::{CredentialMetadata, DirectoryObject, DirectoryRoleDefinition, Snapshot};

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
    /// Role definition id (lower-case) → (definition, powers).
    roles: FxHashMap<String, (&'s DirectoryRoleDefinition, Powers)>,
    /// Object id (lower-case) → display name.
    names: FxHashMap<String, &'s str>,
}

impl<'s> Ctx<'s> {
    fn new(s: &'s Snapshot, g: &'s PrivilegeGraph) -> Self {
        let e = &s.entra;
        let roles =
            e.directory_role_definitions.iter().map(|d| (d.id.to_ascii_lowercase(), (d, Powers::of_role(d)))).collect();
        let names = e
            .users
            .iter()
            .map(|u| (u.id.as_str(), u.display_name.as_deref()))
            .chain(e.groups.iter().map(|g| (g.id.as_str(), g.display_name.as_deref())))
            .chain(e.service_principals.iter().map(|x| (x.id.as_str(), x.display_name.as_deref())))
            .filter_map(|(id, n)| Some((id.to_ascii_lowercase(), n?)))
            .collect();
        Ctx { s, g, roles, names }
    }

    fn name(&self, id: &str) -> String {
        self.names.get(&id.to_ascii_lowercase()).map(|n| n.to_string()).unwrap_or_else(|| id.to_string())
    }

    fn role(&self, id: &str) -> Option<(&'s DirectoryRoleDefinition, Powers)> {
        self.roles.get(&id.to_ascii_lowercase()).copied()
    }

    /// AZP-ENTRA-004: active assignments of users and groups to roles with powers.
    fn standing_roles(&self, out: &mut Vec<PostureFinding>) {
        let e = &self.s.entra;
        let people: FxHashMap<String, &str> = e
            .users
            .iter()
            .map(|u| (u.id.to_ascii_lowercase(), "user"))
            .chain(e.groups.iter().map(|g| (g.id.to_ascii_lowercase(), "group")))
            .collect();
        for a in &e.directory_role_assignments {
            let Some((d, powers)) = self.role(&a.role_definition_id).filter(|(_, p)| p.any()) else { continue };
            // Service principals cannot activate PIM roles: AZP-ENTRA-005's concern, not this one's.
            let Some(kind) = people.get(&a.principal_id.to_ascii_lowercase()) else { continue };
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

    /// Whether a principal holds a tier-zero directory role (active or eligible).
    fn holds_tier_zero(&self, principal: &str) -> bool {
        let e = &self.s.entra;
        let held = e.directory_role_assignments.iter().map(|a| (&a.principal_id, &a.role_definition_id)).chain(
            e.directory_role_eligibility_schedule_instances.iter().map(|a| (&a.principal_id, &a.role_definition_id)),
        );
        held.filter(|(p, _)| p.eq_ignore_ascii_case(principal))
            .any(|(_, r)| self.role(r).is_some_and(|(_, p)| p.tier_zero()))
    }

    /// AZP-ENTRA-006: role-assignable groups with owners.
    fn role_group_owners(&self, out: &mut Vec<PostureFinding>) {
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
            if self.holds_tier_zero(&g.id) {
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
        for app in e.applications.iter().filter(|a| !a.owners.is_empty()) {
            let Some(sp) = e.service_principals.iter().find(|sp| {
                sp.app_id.is_some()
                    && sp.app_id.as_deref().map(str::to_ascii_lowercase)
                        == app.app_id.as_deref().map(str::to_ascii_lowercase)
            }) else {
                continue;
            };
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
    name: String,
    passwords: &'a [CredentialMetadata],
    keys: &'a [CredentialMetadata],
}

pub(super) fn credentials(s: &Snapshot, now: Option<i64>, out: &mut Vec<PostureFinding>) {
    let apps = s.entra.applications.iter().map(|a| CredentialOwner {
        kind: "Application",
        az: "app",
        id: &a.id,
        name: a.display_name.clone().unwrap_or_else(|| a.id.clone()),
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
            name: p.display_name.clone().unwrap_or_else(|| p.id.clone()),
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
    let res = || resource(o.kind, o.id.to_ascii_lowercase(), o.name.clone());
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
