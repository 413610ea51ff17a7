//! The `azure` pass: the scope tree (`CONTAINS`), principals and group membership (`MEMBER_OF`), role
//! assignments and PIM eligibility evaluated through the [`RoleTable`] (`HAS_ROLE`), and deny assignments
//! (kept aside, applied per acting principal by the engine).

use petgraph::graph::NodeIndex;
use rustc_hash::{FxHashMap, FxHashSet};

use super::Builder;
use crate::graph::{Deny, EdgeData, Grant, NodeKey, CONDITIONAL, ELIGIBLE};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{self, Capability, Caps, DelegationLimit, PermissionSet};
use crate::scope;
use crate::snapshot::{AssignmentProperties, RoleDefinition, Snapshot, Str};

/// The edge kinds this pass adds (`CONTAINS` also comes with scope nodes any pass creates).
pub(super) const EMITS: &[EdgeKind] = &[EdgeKind::MemberOf, EdgeKind::HasRole, EdgeKind::Contains];

/// How many members ahead the membership loops ask for what they will read.
const LOOKAHEAD: usize = 8;
/// How many members ahead the loop that only parses ids asks for the next ids: each step is short (a table
/// parse), so 8 steps ahead was less than a miss's wait.
const ID_LOOKAHEAD: usize = 32;

const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

/// Runs the pass.
pub(super) fn run(b: &mut Builder, snapshot: &Snapshot, _: &mut super::Shared) {
    b.add_scope_tree(snapshot);
    b.add_principals(snapshot);
    b.add_eligible_members(snapshot);
    // Managed identities are principals even when the directory was not read.
    for u in &snapshot.azure.user_assigned_identities {
        if let Some(pid) = u.properties.principal_id.as_deref() {
            let n = b.node_for(NodeKey::of(pid), NodeKind::ManagedIdentity, &u.name);
            b.set_kind(n, NodeKind::ManagedIdentity);
        }
    }
    let roles = RoleTable::new(&snapshot.azure.role_definitions, &mut b.g.warnings);
    let az = &snapshot.azure;
    b.g.grants.reserve(az.role_assignments.len() + az.role_eligibility_schedule_instances.len());
    for ra in &snapshot.azure.role_assignments {
        b.add_grant(&ra.id, &ra.properties, false, &roles);
    }
    for ei in &snapshot.azure.role_eligibility_schedule_instances {
        let status = ei.properties.status.as_deref().unwrap_or("Provisioned");
        if !status.eq_ignore_ascii_case("Provisioned") && !status.eq_ignore_ascii_case("Accepted") {
            continue;
        }
        b.add_grant(&ei.id, &ei.properties, true, &roles);
    }
    b.add_denies(snapshot);
}

impl Builder {
    fn add_scope_tree(&mut self, s: &Snapshot) {
        let root = self.scope_node(scope::ROOT, None);
        let mut parent_of: Vec<(String, String)> = Vec::new();
        for mg in &s.azure.management_groups {
            let id = scope::normalize(&mg.id);
            let name = mg.properties.display_name.as_deref().unwrap_or(&mg.name);
            self.scope_node(&id, Some(name));
            if let Some(p) =
                mg.properties.details.as_ref().and_then(|d| d.parent.as_ref()).and_then(|p| p.id.as_deref())
            {
                parent_of.push((scope::normalize(p), id.clone()));
            }
            let mut stack: Vec<(String, &crate::snapshot::ManagementGroupChild)> =
                mg.properties.children.iter().flatten().map(|c| (id.clone(), c)).collect();
            while let Some((parent, child)) = stack.pop() {
                let cid = scope::normalize(&child.id);
                let cname = child.display_name.as_deref().unwrap_or(&child.name);
                self.scope_node(&cid, if cname.is_empty() { None } else { Some(cname) });
                parent_of.push((parent, cid.clone()));
                stack.extend(child.children.iter().flatten().map(|c| (cid.clone(), c)));
            }
        }
        for sub in &s.azure.subscriptions {
            self.scope_node(&sub.id, sub.display_name.as_deref());
        }
        for rg in &s.azure.resource_groups {
            self.scope_node(&rg.id, Some(&rg.name));
        }
        for (parent, child) in parent_of {
            let p = self.scope_node(&parent, None);
            let c = self.scope_node(&child, None);
            self.contains_edge(p, c);
        }
        // Management groups and subscriptions with no known parent hang off the root.
        let orphans: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|n| matches!(self.graph[*n].kind, NodeKind::ManagementGroup | NodeKind::Subscription))
            .collect();
        for n in orphans {
            self.contains_edge(root, n);
        }
    }

    fn add_principals(&mut self, s: &Snapshot) {
        let e = &s.entra;
        for (kind, api, listed) in [
            (NodeKind::User, "graph.users", !e.users.is_empty()),
            (NodeKind::Group, "graph.groups", !e.groups.is_empty()),
            (NodeKind::ServicePrincipal, "graph.servicePrincipals", !e.service_principals.is_empty()),
        ] {
            let read = listed || s.sources.iter().any(|x| x.api == api);
            let gap = s.coverage.iter().any(|g| g.api == api);
            if read && !gap {
                self.directory_read.push(kind);
            }
        }
        // The directory's objects and memberships are most of the graph: room for them at once.
        let members: usize = e.group_members.iter().map(|g| g.members.len()).sum();
        let objects = e.users.len() + e.groups.len() + e.service_principals.len() + e.applications.len();
        self.g.graph.reserve_nodes(objects);
        self.g.graph.reserve_edges(members);
        self.g.index.reserve(objects);
        for (i, u) in e.users.iter().enumerate() {
            if let Some(ahead) = e.users.get(i + LOOKAHEAD) {
                super::prefetch(ahead.id.as_ptr());
            }
            match &u.display_name {
                Some(name) => self.node_named(NodeKey::of(&u.id), NodeKind::User, name),
                None => {
                    self.node_for(NodeKey::of(&u.id), NodeKind::User, u.user_principal_name.as_deref().unwrap_or(""))
                }
            };
        }
        for g in &e.groups {
            self.node_for(NodeKey::of(&g.id), NodeKind::Group, g.display_name.as_deref().unwrap_or(""));
        }
        for sp in &e.service_principals {
            self.node_for(NodeKey::of(&sp.id), NodeKind::ServicePrincipal, sp.display_name.as_deref().unwrap_or(""));
        }
        for app in &e.applications {
            self.node_for(NodeKey::of(&app.id), NodeKind::Application, app.display_name.as_deref().unwrap_or(""));
        }
        // Members the directory listed (nearly all) are looked up all at once; the rest, in order, as they come.
        let mut known = vec![u32::MAX; members];
        let mut probes = Vec::with_capacity(members);
        let every_member = || e.group_members.iter().flat_map(|gm| gm.members.iter());
        // Each id is a cache miss (an interned string anywhere in the heap): asked for ahead of time, across
        // groups (most are smaller than the distance).
        let mut ahead = every_member().skip(ID_LOOKAHEAD);
        for (slot, m) in every_member().enumerate() {
            if let Some(a) = ahead.next() {
                super::prefetch(a.id.as_ptr());
            }
            if let Some(g) = crate::graph::parse_guid(&m.id) {
                probes.push((crate::graph::Guid::of(g), slot as u32));
            }
        }
        self.g.index.resolve_guids(probes, &mut known);
        let mut slot = 0;
        for gm in &e.group_members {
            let group = self.node_for(NodeKey::of(&gm.group_id), NodeKind::Group, "");
            for m in &gm.members {
                let kind = super::entra::directory_kind(m);
                let name = m.display_name.as_deref().unwrap_or("");
                if let Some(&ahead) = known.get(slot + LOOKAHEAD) {
                    // Adding the edge writes to the member's node: a cache miss, asked for ahead of time.
                    self.g.prefetch_node(ahead);
                }
                let member = match known[slot] {
                    u32::MAX => self.node_for(NodeKey::of(&m.id), kind, name),
                    n => {
                        let n = NodeIndex::new(n as usize);
                        self.enrich(n, kind, name, None);
                        n
                    }
                };
                slot += 1;
                if member != group {
                    self.add_edge(
                        member,
                        group,
                        EdgeData { kind: EdgeKind::MemberOf, caps: Caps::EMPTY, flags: 0, evidence: 0 },
                    );
                }
            }
        }
    }

    /// PIM for Groups: a principal eligible to become a member of a group (an instance in force at collection
    /// time, [`super::entra::group_eligibilities`]) gets a `MEMBER_OF` edge flagged eligible.
    fn add_eligible_members(&mut self, s: &Snapshot) {
        for i in super::entra::group_eligibilities(s, "member") {
            let group = self.node_for(NodeKey::of(&i.group_id), NodeKind::Group, "");
            let kind = self.g.index.get(&NodeKey::of(&i.principal_id)).map(|n| self.graph[*n].kind);
            let member = self.node_for(NodeKey::of(&i.principal_id), kind.unwrap_or(NodeKind::UnknownPrincipal), "");
            if member != group {
                let data = EdgeData { kind: EdgeKind::MemberOf, caps: Caps::EMPTY, flags: ELIGIBLE, evidence: 0 };
                self.add_edge(member, group, data);
            }
        }
    }

    /// The scope of an authorization record ([`scope::record_scope`]), or `None` with a warning: a record
    /// whose scope is neither given nor in its id is dropped, never widened to the tenant root.
    fn record_scope(&mut self, what: &str, id: &str, raw_scope: &str) -> Option<String> {
        let found = scope::record_scope(raw_scope, id);
        if found.is_none() {
            self.warn(format!("{what} {id:?} has no scope (empty `properties.scope` and no scope in its id): ignored"));
        }
        found
    }

    fn add_grant(&mut self, id: &str, p: &AssignmentProperties, eligible: bool, roles: &RoleTable) {
        let what = if eligible { "PIM eligibility" } else { "role assignment" };
        let Some(scope) = self.record_scope(what, id, &p.scope) else { return };
        let principal_kind = match p.principal_type.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("user") => NodeKind::User,
            Some("group") => NodeKind::Group,
            Some("serviceprincipal") => NodeKind::ServicePrincipal,
            _ => NodeKind::UnknownPrincipal,
        };
        let principal_key = NodeKey::of(&p.principal_id);
        let principal = match self.g.index.get(&principal_key) {
            Some(&n) => n,
            // Absent from a directory listing that was read in full: deleted (an orphaned assignment) or
            // from another tenant. It cannot sign in, so it is not reported as a source.
            None if principal_kind == NodeKind::UnknownPrincipal || self.directory_read.contains(&principal_kind) => {
                self.warn(format!(
                    "role assignment {id} names principal {} that is not in the directory (deleted or foreign): remove the orphaned assignment",
                    p.principal_id
                ));
                self.node_for(principal_key, NodeKind::UnknownPrincipal, "")
            }
            // The directory was not read (no Graph access, or a hand-written tenant): trust ARM's principalType.
            None => self.node_for(principal_key, principal_kind, ""),
        };
        let scope_node = self.scope_node(&scope, None);
        let scope = self.scope_texts.entry(scope_node).or_insert_with(|| scope.into()).clone();
        let guid = rbac::role_definition_guid(&p.role_definition_id);
        let mut grant = Grant {
            assignment_id: id.into(),
            role_definition_id: p.role_definition_id.clone(),
            role_name: Str::default(),
            scope,
            eligible,
            conditional: false,
            own_caps: Caps::EMPTY,
            delegated_caps: Caps::EMPTY,
            delegation: None,
            note: None,
            kube_data: 0,
        };
        match roles.get(&guid) {
            Some(role) => {
                grant.role_name = role.name.clone();
                grant.own_caps = role.caps;
                grant.kube_data = role.kube_data;
            }
            None => {
                grant.role_name = guid.as_str().into();
                let msg = format!(
                    "role definition {} of assignment {id} is unknown: its permissions could not be evaluated",
                    p.role_definition_id
                );
                grant.note = Some(msg.clone());
                grant.conditional = true;
                self.warn(msg);
            }
        }
        if let Some(cond) = p.condition.as_deref().filter(|c| !c.trim().is_empty()) {
            self.apply_condition(&mut grant, cond, scope_node, roles);
        }
        let flags = if eligible { ELIGIBLE } else { 0 } | if grant.conditional { CONDITIONAL } else { 0 };
        let caps = grant.own_caps | grant.delegated_caps;
        let evidence = self.grants.len() as u32;
        self.g.grants.push(grant);
        self.add_edge(principal, scope_node, EdgeData { kind: EdgeKind::HasRole, caps, flags, evidence });
    }

    /// Narrows a grant by its ABAC condition: a constrained delegation keeps only the roles it may assign
    /// (those assignable at the grant's scope); an unreadable condition marks the grant conditional.
    fn apply_condition(&self, grant: &mut Grant, cond: &str, scope_node: NodeIndex, roles: &RoleTable) {
        let reading = rbac::read_condition(cond);
        // A delegate can only hand out roles assignable at its scope (their assignableScopes include the
        // scope or one above it).
        let chain: FxHashSet<String> =
            self.scope_chain(scope_node).into_iter().map(|n| self.graph[n].key.to_string()).collect();
        grant.conditional |= reading.partial;
        let assign = Capability::AssignRoles.bit();
        match reading.limit {
            DelegationLimit::Unconstrained => {}
            DelegationLimit::NotUnderstood => grant.conditional = true,
            DelegationLimit::OnlyRoles(allowed) => {
                if grant.own_caps.contains(Capability::AssignRoles) {
                    grant.own_caps = grant.own_caps.without(assign) | Capability::AssignRolesLimited.bit();
                    let (caps, names) = roles.union_of(allowed.iter().map(String::as_str), &chain);
                    grant.delegated_caps = caps;
                    grant.delegation = Some(names);
                }
            }
            DelegationLimit::AllRolesExcept(excluded) => {
                if grant.own_caps.contains(Capability::AssignRoles) {
                    grant.own_caps = grant.own_caps.without(assign) | Capability::AssignRolesLimited.bit();
                    let allowed: Vec<&str> =
                        roles.by_guid.keys().map(String::as_str).filter(|g| !excluded.iter().any(|x| x == g)).collect();
                    let (caps, _) = roles.union_of(allowed.into_iter(), &chain);
                    grant.delegated_caps = caps;
                    let names: Vec<String> = excluded.iter().map(|g| roles.name_of(g)).collect();
                    grant.delegation = Some(format!("any role except {}", names.join(", ")));
                }
            }
        }
    }

    fn add_denies(&mut self, s: &Snapshot) {
        for d in &s.azure.deny_assignments {
            let p = &d.properties;
            let Some(scope) = self.record_scope("deny assignment", &d.id, &p.scope) else { continue };
            let scope = self.scope_node(&scope, None);
            let removes = PermissionSet::new(p.permissions.clone()).touched_capabilities();
            let everyone = p.principals.iter().any(|x| x.id.trim() == EVERYONE);
            self.g.denies.push(Deny {
                id: d.id.clone(),
                scope,
                applies_to_children: !p.do_not_apply_to_child_scopes,
                everyone,
                principals: p.principals.iter().map(|x| NodeKey::of(&x.id)).collect(),
                excluded: p.exclude_principals.iter().map(|x| NodeKey::of(&x.id)).collect(),
                removes,
            });
        }
    }
}

/// Role definitions by GUID with their computed capabilities.
struct RoleTable {
    by_guid: FxHashMap<String, RoleInfo>,
}

struct RoleInfo {
    /// Shared by the grants of the role.
    name: Str,
    caps: Caps,
    kube_data: u16,
    /// Normalized assignable scopes; an empty list (none given) means anywhere. Empty entries are dropped,
    /// so a list of only empty entries means nowhere.
    assignable: Vec<String>,
    /// The definition gave assignable scopes.
    assignable_given: bool,
}

impl RoleInfo {
    fn assignable_in(&self, chain: &FxHashSet<String>) -> bool {
        !self.assignable_given || self.assignable.iter().any(|s| chain.contains(s))
    }
}

impl RoleTable {
    fn new(defs: &[RoleDefinition], warnings: &mut Vec<String>) -> Self {
        let mut by_guid = FxHashMap::default();
        for d in crate::builtin::role_definitions().iter().chain(defs) {
            let guid = rbac::role_definition_guid(if d.name.is_empty() { &d.id } else { &d.name });
            let perms = PermissionSet::new(d.properties.permissions.clone());
            let caps = perms.capabilities();
            let kube_data = crate::rbac::kube_data(&perms);
            let name = Str::from(if d.properties.role_name.is_empty() { &guid } else { &d.properties.role_name });
            let given = &d.properties.assignable_scopes;
            let assignable: Vec<String> = given.iter().filter_map(|s| scope::normalize_nonempty(s)).collect();
            if assignable.len() < given.len() {
                warnings.push(format!(
                    "role definition {} lists an empty assignable scope: ignored (it does not mean everywhere)",
                    d.id
                ));
            }
            by_guid.insert(guid, RoleInfo { name, caps, kube_data, assignable, assignable_given: !given.is_empty() });
        }
        RoleTable { by_guid }
    }

    fn get(&self, guid: &str) -> Option<&RoleInfo> {
        self.by_guid.get(guid)
    }

    fn name_of(&self, guid: &str) -> String {
        self.by_guid.get(guid).map(|r| r.name.to_string()).unwrap_or_else(|| guid.to_string())
    }

    /// Capabilities of assigning any of these roles at a scope whose chain (scope and ancestors) is given,
    /// and the names of the roles.
    fn union_of<'a>(&self, guids: impl Iterator<Item = &'a str>, chain: &FxHashSet<String>) -> (Caps, String) {
        let mut caps = Caps::EMPTY;
        let mut names = Vec::new();
        for g in guids {
            names.push(self.name_of(g));
            if let Some(r) = self.by_guid.get(g).filter(|r| r.assignable_in(chain)) {
                caps |= r.caps;
            }
        }
        names.sort();
        (caps, names.join(", "))
    }
}
