//! Azure role assignments: guests holding privileged roles, and too many users with standing privileged roles
//! on one subscription.
//!
//! Both read the built graph, never the snapshot's assignments: its grants (`HAS_ROLE` edges and
//! [`PrivilegeGraph::grants`]) carry the role table's verdict (PIM instances that are not Provisioned/Accepted
//! left out, delegation conditions narrowed to the roles assignable at the grant's scope, unknown roles
//! empty), and its `MEMBER_OF` edges are the group membership.

use std::collections::BTreeMap;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{finding, finding_with, resource, Check};
use crate::findings::PostureFinding;
use crate::graph::{Grant, NodeKey, PrivilegeGraph};
use crate::model::{EdgeKind, NodeKind, Severity};
use crate::rbac::Capability;
use crate::scope;
use crate::shell::{self, Command};
use crate::snapshot::{Snapshot, User};

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

/// A grant as posture reads it: its holder's node, the grant, and what makes it privileged.
pub(super) struct Privileged<'g> {
    /// The principal holding the grant.
    pub holder: NodeIndex,
    /// The evaluated assignment or eligibility.
    pub grant: &'g Grant,
    /// `assign-roles` and/or `write-everything`, as the grant confers them (a delegation condition counts by
    /// the roles it lets the holder assign).
    pub what: Vec<&'static str>,
}

/// Every grant of the graph that can assign roles or write everything, in the graph's order (active
/// assignments, then PIM eligibilities), with its holder. Grants not held by a principal (Global
/// Administrator's `elevateAccess`) are left out.
pub(super) fn privileged_grants(g: &PrivilegeGraph) -> Vec<Privileged<'_>> {
    let mut held: Vec<(u32, NodeIndex)> = g
        .graph
        .edge_references()
        .filter(|e| e.weight().kind == EdgeKind::HasRole)
        .filter(|e| g.node(e.source()).kind != NodeKind::DirectoryRole)
        .map(|e| (e.weight().evidence, e.source()))
        .collect();
    held.sort();
    held.into_iter()
        .filter_map(|(i, holder)| {
            let grant = g.grants.get(i as usize)?;
            let caps = grant.own_caps | grant.delegated_caps;
            let what: Vec<&'static str> = [Capability::AssignRoles, Capability::WriteEverything]
                .into_iter()
                .filter(|c| caps.contains(*c))
                .map(Capability::as_str)
                .collect();
            (!what.is_empty()).then_some(Privileged { holder, grant, what })
        })
        .collect()
}

/// A guest and the groups (id, name) it is in, innermost first.
type GuestVia<'s> = (&'s User, Vec<(String, String)>);

/// What the role checks read: the graph, the directory's users by id, and the guests found per group.
struct Ctx<'s> {
    g: &'s PrivilegeGraph,
    users: FxHashMap<NodeKey, &'s User>,
    /// Conditions by assignment id (lower-case), for the evidence.
    conditions: FxHashMap<String, &'s str>,
    cache: FxHashMap<NodeIndex, Vec<GuestVia<'s>>>,
}

fn is_guest(u: &User) -> bool {
    u.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("Guest"))
        || u.user_principal_name.as_deref().is_some_and(|n| n.contains("#EXT#"))
}

fn user_name(u: &User) -> String {
    match (u.display_name.as_deref(), u.user_principal_name.as_deref()) {
        (Some(d), Some(upn)) if d != upn => format!("{d} ({upn})"),
        (Some(n), _) | (None, Some(n)) => n.to_string(),
        (None, None) => u.id.to_string(),
    }
}

impl<'s> Ctx<'s> {
    fn new(s: &'s Snapshot, g: &'s PrivilegeGraph) -> Self {
        let users = s.entra.users.iter().map(|u| (NodeKey::of(&u.id), u)).collect();
        let active = s.azure.role_assignments.iter().map(|a| (&a.id, &a.properties));
        let eligible = s.azure.role_eligibility_schedule_instances.iter().map(|a| (&a.id, &a.properties));
        let conditions = active
            .chain(eligible)
            .filter_map(|(id, p)| {
                let condition = p.condition.as_deref().filter(|c| !c.trim().is_empty())?;
                Some((id.to_ascii_lowercase(), condition))
            })
            .collect();
        Ctx { g, users, conditions, cache: FxHashMap::default() }
    }

    /// The directory's user record of a node, if it is a collected user.
    fn user(&self, n: NodeIndex) -> Option<&'s User> {
        let node = self.g.node(n);
        (node.kind == NodeKind::User).then(|| self.users.get(&node.key).copied()).flatten()
    }

    /// (id, name) of a group node.
    fn label(&self, n: NodeIndex) -> (String, String) {
        let node = self.g.node(n);
        let id = node.key.to_string();
        let name = if node.name.is_empty() { id.clone() } else { node.name.to_string() };
        (id, name)
    }

    /// Guest users among the (transitive) members of a group, by the graph's `MEMBER_OF` edges, each with the
    /// groups it is in (innermost first); computed once per group.
    fn guests(&mut self, group: NodeIndex) -> Vec<GuestVia<'s>> {
        if let Some(hit) = self.cache.get(&group) {
            return hit.clone();
        }
        let mut out: Vec<GuestVia<'s>> = Vec::new();
        // Guests found, by node: a node is one user record, and two records have ids equal ignoring case only
        // when they are one node.
        let mut found = FxHashSet::default();
        let mut seen = FxHashSet::default();
        let mut queue = vec![(group, vec![self.label(group)])];
        while let Some((g, chain)) = queue.pop() {
            if !seen.insert(g) {
                continue;
            }
            for e in self.g.graph.edges_directed(g, Direction::Incoming) {
                if e.weight().kind != EdgeKind::MemberOf {
                    continue;
                }
                let m = e.source();
                if let Some(u) = self.user(m).filter(|u| is_guest(u)) {
                    if found.insert(m) {
                        out.push((u, chain.clone()));
                    }
                } else if self.g.node(m).kind == NodeKind::Group && !seen.contains(&m) {
                    // (A group already walked would be skipped when taken from the queue.)
                    let mut inner = vec![self.label(m)];
                    inner.extend(chain.iter().cloned());
                    queue.push((m, inner));
                }
            }
        }
        out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        self.cache.insert(group, out.clone());
        out
    }
}

/// Runs AZP-AZ-001 and AZP-AZ-002 on the graph's grants.
pub(super) fn run(s: &Snapshot, g: &PrivilegeGraph, out: &mut Vec<PostureFinding>) {
    let mut ctx = Ctx::new(s, g);
    let subs: FxHashMap<String, String> = s
        .azure
        .subscriptions
        .iter()
        .map(|x| (scope::normalize(&x.id), x.display_name.clone().unwrap_or_else(|| x.subscription_id.clone())))
        .collect();
    // subscription → (user, role, assignment id)
    let mut standing: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for p in privileged_grants(g) {
        let user = ctx.user(p.holder);
        // Guests holding it: the principal itself, or guest members of the group it names (nesting followed).
        let guests: Vec<GuestVia> = match user {
            Some(u) if is_guest(u) => vec![(u, Vec::new())],
            Some(_) => Vec::new(),
            None if g.node(p.holder).kind == NodeKind::Group => ctx.guests(p.holder),
            None => Vec::new(),
        };
        if !guests.is_empty() {
            out.push(guest_finding(&ctx, &p, &guests));
        }
        let grant = p.grant;
        if !grant.eligible
            && g.node(p.holder).kind == NodeKind::User
            && scope::level(&grant.scope) == scope::Level::Subscription
        {
            let id = &grant.assignment_id;
            let name = user.map(user_name).unwrap_or_else(|| g.node(p.holder).key.to_string());
            standing
                .entry(grant.scope.to_string())
                .or_default()
                .entry(g.node(p.holder).key.to_string())
                .or_default()
                .push(format!("{name}: {} ({})", grant.role_name, id.rsplit('/').next().unwrap_or(id)));
        }
    }
    for (sub, by_user) in standing {
        if by_user.len() > MAX_DIRECT_PRIVILEGED_USERS {
            out.push(standing_finding(&subs, sub, by_user));
        }
    }
}

/// AZP-AZ-001 for one grant and the guests holding it.
fn guest_finding(ctx: &Ctx, p: &Privileged, guests: &[GuestVia]) -> PostureFinding {
    let (grant, what) = (p.grant, &p.what);
    let (id, role, scope_id) = (&grant.assignment_id, &grant.role_name, &grant.scope);
    let is_eligible = grant.eligible;
    let names: Vec<String> = guests.iter().map(|(u, _)| user_name(u)).collect();
    let mut evidence = vec![
        format!("{} {id}", if is_eligible { "PIM eligibility" } else { "role assignment" }),
        format!("role {role} ({}) at {scope_id}", what.join(", ")),
    ];
    for ((u, chain), name) in guests.iter().zip(&names) {
        let groups: Vec<String> = chain.iter().map(|(id, name)| format!("{name} ({id})")).collect();
        let via = if chain.is_empty() { String::new() } else { format!(", member of {}", groups.join(", itself in ")) };
        evidence.push(format!("guest {} ({name}), userType {}{via}", u.id, u.user_type.as_deref().unwrap_or("?")));
    }
    if let Some(c) = ctx.conditions.get(&id.to_ascii_lowercase()) {
        evidence.push(format!("condition: {c}"));
    }
    if let Some(d) = grant.delegation.as_deref() {
        evidence.push(format!("the condition lets it assign only {d} (as assignable at {scope_id})"));
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
            shell::pim_eligibility_remove(scope_id, &u.id, &grant.role_definition_id),
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
    if scope::resource_group_of(scope_id).is_some() {
        f.severity = Severity::Medium;
    }
    f
}

/// AZP-AZ-002 for one subscription.
fn standing_finding(
    subs: &FxHashMap<String, String>,
    sub: String,
    by_user: BTreeMap<String, Vec<String>>,
) -> PostureFinding {
    let name = subs.get(&sub).cloned().unwrap_or_else(|| sub.clone());
    finding(
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
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::snapshot::Snapshot;

    const SUB: &str = "11111111-0000-4000-8000-000000000001";
    const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

    #[test]
    fn a_guest_reached_by_several_ways_is_named_once_with_the_first_way_found() {
        // Owners (Owner of the subscription) ⊃ the guest, Left and Right; Left ⊃ Core; Right ⊃ Core; Core ⊃ the
        // guest. Its direct membership is found first, and Core is walked once.
        let sub = format!("/subscriptions/{SUB}");
        let (owners, left, right, core) = (
            "66666666-0000-4000-8000-000000000001",
            "66666666-0000-4000-8000-000000000002",
            "66666666-0000-4000-8000-000000000003",
            "66666666-0000-4000-8000-000000000004",
        );
        let guest = "44444444-0000-4000-8000-000000000100";
        let group = |id: &str| json!({"@odata.type": "#microsoft.graph.group", "id": id});
        let user = json!({"@odata.type": "#microsoft.graph.user", "id": guest});
        let text = json!({
            "schema_version": 1, "metadata": {"collected_at": "2026-12-01T00:00:00Z"},
            "azure": {
                "subscriptions": [{"id": sub, "subscriptionId": SUB, "displayName": "Prod"}],
                "roleAssignments": [{
                    "id": format!("{sub}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-000000000001"),
                    "properties": {"scope": sub, "principalId": owners, "principalType": "Group",
                        "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")}
                }]
            },
            "entra": {
                "users": [{"id": guest, "displayName": "Gus", "userType": "Guest"}],
                "groups": [{"id": owners, "displayName": "Owners"}, {"id": left, "displayName": "Left"},
                           {"id": right, "displayName": "Right"}, {"id": core, "displayName": "Core"}],
                "groupMembers": [
                    {"groupId": owners, "members": [user.clone(), group(left), group(right)]},
                    {"groupId": left, "members": [group(core)]},
                    {"groupId": right, "members": [group(core)]},
                    {"groupId": core, "members": [user]}
                ]
            }
        });
        let snapshot = Snapshot::from_json(&text.to_string(), "test").unwrap();
        let found: Vec<_> = crate::posture::run(&snapshot).into_iter().filter(|f| f.check_id == "AZP-AZ-001").collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        let guests: Vec<&String> = found[0].evidence.iter().filter(|e| e.starts_with("guest ")).collect();
        assert_eq!(guests.len(), 1, "the guest once: {:?}", found[0].evidence);
        assert!(guests[0].ends_with(&format!(", member of Owners ({owners})")), "{:?}", guests[0]);
    }
}
