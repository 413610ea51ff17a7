//! Azure role assignments: guests holding privileged roles, and too many users with standing privileged roles
//! on one subscription.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use super::{finding, finding_with, resource, Check};
use crate::findings::PostureFinding;
use crate::model::Severity;
use crate::rbac::{self, Capability, Caps, DelegationLimit, PermissionSet};
use crate::scope;
use crate::shell::{self, Command};
use crate::snapshot::Snapshot;

/// Guests with privileged Azure roles.
pub const AZ_GUEST_PRIVILEGED: Check = Check {
    id: "AZP-AZ-001",
    title: "Guest user holds a privileged Azure role",
    severity: Severity::High,
    description: "A guest (userType Guest, an account of another organisation) is directly assigned a role that can assign roles or write everything (Owner, User Access Administrator, Contributor or equivalent custom roles), actively or PIM-eligible. Its sign-in and lifecycle are governed by the other organisation.",
    remediation: "Remove the assignment, or give the guest a narrower role through a reviewed group with PIM.",
    references: &["https://learn.microsoft.com/azure/role-based-access-control/best-practices#limit-privileged-administrator-role-assignments"],
};

/// Many standing privileged users on a subscription.
pub const AZ_DIRECT_PRIVILEGED_USERS: Check = Check {
    id: "AZP-AZ-002",
    title: "More than 3 users hold standing privileged roles on a subscription",
    severity: Severity::Medium,
    description: "More than three users are directly and permanently (not through a group, not PIM-eligible) assigned roles that can assign roles or write everything at subscription scope. Azure's guidance: at most 3 subscription owners, roles assigned to groups, privileged access just in time.",
    remediation: "Assign the role to a group (made PIM-eligible), then remove the direct user assignments.",
    references: &[
        "https://learn.microsoft.com/azure/role-based-access-control/best-practices#limit-the-number-of-subscription-owners",
        "https://learn.microsoft.com/azure/role-based-access-control/best-practices#assign-roles-to-groups-not-users",
    ],
};

/// Standing privileged users per subscription above which AZP-AZ-002 reports.
const MAX_DIRECT_PRIVILEGED_USERS: usize = 3;

type User = crate::snapshot::User;
/// A guest and the groups (id, name) it is in, innermost first.
type GuestVia<'s> = (&'s User, Vec<(String, String)>);

/// Group memberships and names, to find the guests a group assignment reaches (computed once per group).
struct Directory<'s> {
    members: FxHashMap<String, &'s [crate::snapshot::DirectoryObject]>,
    names: FxHashMap<String, &'s str>,
    cache: FxHashMap<String, Vec<GuestVia<'s>>>,
}

impl<'s> Directory<'s> {
    fn new(s: &'s Snapshot) -> Self {
        Directory {
            members: s
                .entra
                .group_members
                .iter()
                .map(|g| (g.group_id.to_ascii_lowercase(), g.members.as_slice()))
                .collect(),
            names: s
                .entra
                .groups
                .iter()
                .map(|g| (g.id.to_ascii_lowercase(), g.display_name.as_deref().unwrap_or(g.id.as_str())))
                .collect(),
            cache: FxHashMap::default(),
        }
    }

    /// Guest users among the (transitive) members of `group`; empty when it is not a collected group.
    fn guests(
        &mut self,
        group: &str,
        users: &FxHashMap<String, &'s User>,
        is_guest: &dyn Fn(&User) -> bool,
    ) -> Vec<GuestVia<'s>> {
        let key = group.to_ascii_lowercase();
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let label =
            |id: &str| (id.to_string(), self.names.get(&id.to_ascii_lowercase()).copied().unwrap_or(id).to_string());
        let mut out: Vec<GuestVia<'s>> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut queue = vec![(key.clone(), vec![label(group)])];
        while let Some((g, chain)) = queue.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            for m in self.members.get(&g).copied().unwrap_or_default() {
                let id = m.id.to_ascii_lowercase();
                if let Some(u) = users.get(&id).filter(|u| is_guest(u)) {
                    if !out.iter().any(|(x, _)| x.id.eq_ignore_ascii_case(&u.id)) {
                        out.push((*u, chain.clone()));
                    }
                } else if self.members.contains_key(&id)
                    || m.odata_type.as_deref().is_some_and(|t| t.ends_with(".group"))
                {
                    let mut inner = vec![label(&m.id)];
                    inner.extend(chain.iter().cloned());
                    queue.push((id, inner));
                }
            }
        }
        out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        self.cache.insert(key, out.clone());
        out
    }
}

/// Role definitions by GUID (snapshot over built-in): name and capabilities.
pub(super) fn role_table(s: &Snapshot) -> FxHashMap<String, (String, Caps)> {
    let mut t = FxHashMap::default();
    for d in crate::builtin::role_definitions().iter().chain(&s.azure.role_definitions) {
        let guid = rbac::role_definition_guid(if d.name.is_empty() { &d.id } else { &d.name });
        let caps = PermissionSet::new(d.properties.permissions.clone()).capabilities();
        let name = if d.properties.role_name.is_empty() { guid.clone() } else { d.properties.role_name.clone() };
        t.insert(guid, (name, caps));
    }
    t
}

/// What a privileged assignment confers: `assign-roles` (unless a delegation condition limits it) and
/// `write-everything`; `None` when neither.
pub(super) fn privileged(caps: Caps, condition: Option<&str>) -> Option<Vec<&'static str>> {
    let limited = condition
        .filter(|c| !c.trim().is_empty())
        .is_some_and(|c| rbac::read_condition(c).limit != DelegationLimit::Unconstrained);
    let mut what = Vec::new();
    if caps.contains(Capability::AssignRoles) && !limited {
        what.push(Capability::AssignRoles.as_str());
    }
    if caps.contains(Capability::WriteEverything) {
        what.push(Capability::WriteEverything.as_str());
    }
    (!what.is_empty()).then_some(what)
}

pub(super) fn run(s: &Snapshot, out: &mut Vec<PostureFinding>) {
    let roles = role_table(s);
    let mut directory = Directory::new(s);
    let users: FxHashMap<String, &User> = s.entra.users.iter().map(|u| (u.id.to_ascii_lowercase(), u)).collect();
    let is_guest = |u: &User| {
        u.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("Guest"))
            || u.user_principal_name.as_deref().is_some_and(|n| n.contains("#EXT#"))
    };
    let user_name = |u: &User| match (&u.display_name, &u.user_principal_name) {
        (Some(d), Some(upn)) if d != upn => format!("{d} ({upn})"),
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => u.id.clone(),
    };
    let subs: FxHashMap<String, String> = s
        .azure
        .subscriptions
        .iter()
        .map(|x| (scope::normalize(&x.id), x.display_name.clone().unwrap_or_else(|| x.subscription_id.clone())))
        .collect();
    let active = s.azure.role_assignments.iter().map(|a| (&a.id, &a.properties, false));
    let eligible = s.azure.role_eligibility_schedule_instances.iter().map(|a| (&a.id, &a.properties, true));
    // subscription → (user, role, assignment id)
    let mut standing: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (id, p, is_eligible) in active.chain(eligible) {
        let guid = rbac::role_definition_guid(&p.role_definition_id);
        let Some((role, caps)) = roles.get(&guid) else { continue };
        let Some(what) = privileged(*caps, p.condition.as_deref()) else { continue };
        let user = users.get(&p.principal_id.to_ascii_lowercase()).copied();
        let Some(scope_id) = scope::record_scope(&p.scope, id) else { continue };
        // Guests holding it: the principal itself, or guest members of the group it names (nesting followed).
        let guests: Vec<(&User, Vec<(String, String)>)> = match user {
            Some(u) if is_guest(u) => vec![(u, Vec::new())],
            Some(_) => Vec::new(),
            None => directory.guests(&p.principal_id, &users, &is_guest),
        };
        if !guests.is_empty() {
            let names: Vec<String> = guests.iter().map(|(u, _)| user_name(u)).collect();
            let mut evidence = vec![
                format!("{} {id}", if is_eligible { "PIM eligibility" } else { "role assignment" }),
                format!("role {role} ({}) at {scope_id}", what.join(", ")),
            ];
            for ((u, chain), name) in guests.iter().zip(&names) {
                let groups: Vec<String> = chain.iter().map(|(id, name)| format!("{name} ({id})")).collect();
                let via = if chain.is_empty() {
                    String::new()
                } else {
                    format!(", member of {}", groups.join(", itself in "))
                };
                evidence.push(format!(
                    "guest {} ({name}), userType {}{via}",
                    u.id,
                    u.user_type.as_deref().unwrap_or("?")
                ));
            }
            if let Some(c) = p.condition.as_deref().filter(|c| !c.trim().is_empty()) {
                evidence.push(format!("condition: {c}"));
            }
            let who = names.join(", ");
            let (u, chain) = &guests[0];
            let (summary, command) = if !chain.is_empty() {
                // Only the guest loses the role: take it out of the group that directly holds it.
                let (group, group_name) = &chain[0];
                (
                    format!("Remove guest {} from group {group_name} (only the guest loses {role} at {scope_id}), or narrow the group's role", names[0]),
                    shell::group_member_remove(group, &u.id),
                )
            } else if is_eligible {
                (
                    format!("Remove the PIM eligibility of {role} at {scope_id} for guest {who}"),
                    shell::pim_eligibility_remove(&scope_id, &u.id, &p.role_definition_id),
                )
            } else {
                (
                    format!("Remove the {role} assignment of guest {who} at {scope_id}, or grant a narrower role through a reviewed group"),
                    shell::role_assignment_delete(id),
                )
            };
            let via = if chain.is_empty() { String::new() } else { " through a group".to_string() };
            let mut f = finding_with(
                &AZ_GUEST_PRIVILEGED,
                resource("RoleAssignment", scope::normalize(id), format!("{role} at {scope_id}")),
                format!(
                    "Guest{} {who} {} {role} at {scope_id}{via}",
                    if guests.len() == 1 { "" } else { "s" },
                    match (is_eligible, guests.len()) {
                        (true, _) => "can activate",
                        (false, 1) => "holds",
                        _ => "hold",
                    }
                ),
                evidence,
                shell::remediation(summary, command),
            );
            if scope::resource_group_of(&scope_id).is_some() {
                f.severity = Severity::Medium;
            }
            out.push(f);
        }
        let is_user = user.is_some() || p.principal_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("User"));
        if !is_eligible && is_user && scope::level(&scope_id) == scope::Level::Subscription {
            let name = user.map(user_name).unwrap_or_else(|| p.principal_id.clone());
            standing
                .entry(scope_id)
                .or_default()
                .entry(p.principal_id.to_ascii_lowercase())
                .or_default()
                .push(format!("{name}: {role} ({})", id.rsplit('/').next().unwrap_or(id)));
        }
    }
    for (sub, by_user) in standing {
        if by_user.len() <= MAX_DIRECT_PRIVILEGED_USERS {
            continue;
        }
        let name = subs.get(&sub).cloned().unwrap_or_else(|| sub.clone());
        out.push(finding(
            &AZ_DIRECT_PRIVILEGED_USERS,
            resource("Subscription", sub.clone(), name.clone()),
            format!("{} users hold standing privileged roles directly on subscription {name} (at most {MAX_DIRECT_PRIVILEGED_USERS} recommended)", by_user.len()),
            by_user.into_values().flatten().collect(),
            format!("Assign the role on {name} to a PIM-eligible group and remove the direct user assignments"),
            Some(
                Command::new("az")
                    .args(["role", "assignment", "list"])
                    .opt("--scope", &sub)
                    .args(["--query", "[?principalType=='User']", "-o", "table"])
                    .to_string(),
            ),
        ));
    }
}
