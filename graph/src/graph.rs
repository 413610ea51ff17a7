//! The privilege graph: typed nodes and edges over petgraph, built from a [`Snapshot`] with no IO.
//!
//! Nodes are keyed by stable ids (Entra GUIDs interned as `u128`, ARM ids lower-cased); petgraph indices stay
//! private to this crate's engine. Role assignments become `HAS_ROLE` edges carrying the capabilities they
//! confer (after conditions); deny assignments are kept aside and applied per acting principal when a path is
//! evaluated, because a deny on one user must not cut the path of the other members of a group.

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::findings::NodeRef;
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{self, Capability, Caps, DelegationLimit, PermissionSet};
use crate::scope::{self, Level};
use crate::snapshot::{AssignmentProperties, RoleDefinition, Snapshot};

/// A node's stable key: a GUID (Entra object id) or a lower-cased ARM id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKey {
    /// An Entra object id.
    Guid(u128),
    /// A lower-cased ARM scope id (or any other non-GUID id).
    Path(Box<str>),
}

impl NodeKey {
    /// Keys an id: GUIDs become `u128`, everything else is lower-cased.
    pub fn of(id: &str) -> NodeKey {
        let t = id.trim();
        match parse_guid(t) {
            Some(g) => NodeKey::Guid(g),
            None => NodeKey::Path(t.to_ascii_lowercase().into_boxed_str()),
        }
    }

    /// Keys a scope id (normalized).
    pub fn scope(id: &str) -> NodeKey {
        NodeKey::Path(scope::normalize(id).into_boxed_str())
    }
}

impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKey::Guid(g) => {
                // Written straight into a buffer: this runs for every node of every finding.
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut out = [b'-'; 36];
                let mut nibble = 0;
                for (i, byte) in out.iter_mut().enumerate() {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        continue;
                    }
                    *byte = HEX[((g >> (124 - 4 * nibble)) & 0xf) as usize];
                    nibble += 1;
                }
                f.write_str(std::str::from_utf8(&out).expect("ASCII hex"))
            }
            NodeKey::Path(p) => f.write_str(p),
        }
    }
}

fn parse_guid(s: &str) -> Option<u128> {
    if !rbac::is_guid(s) {
        return None;
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    u128::from_str_radix(&hex, 16).ok()
}

/// A node of the privilege graph.
#[derive(Debug, Clone)]
pub struct NodeData {
    /// What it is.
    pub kind: NodeKind,
    /// Its stable key.
    pub key: NodeKey,
    /// Display name.
    pub name: Box<str>,
}

/// Edge flag: needs a PIM activation.
pub const ELIGIBLE: u8 = 1;
/// Edge flag: rests on a condition azpath could not fully evaluate.
pub const CONDITIONAL: u8 = 2;

/// An edge of the privilege graph. Small and copyable: details live in side tables indexed by `evidence`.
#[derive(Debug, Clone, Copy)]
pub struct EdgeData {
    /// What the edge means.
    pub kind: EdgeKind,
    /// For `HAS_ROLE`: the capabilities the assignment confers.
    pub caps: Caps,
    /// [`ELIGIBLE`] | [`CONDITIONAL`].
    pub flags: u8,
    /// For `HAS_ROLE`: index into [`PrivilegeGraph::grants`].
    pub evidence: u32,
}

/// A role assignment (active or eligible) as evaluated.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Role assignment or eligibility instance id.
    pub assignment_id: String,
    /// Role definition id as given.
    pub role_definition_id: String,
    /// Role name (or the GUID when the definition is unknown).
    pub role_name: String,
    /// Normalized scope.
    pub scope: String,
    /// PIM-eligible (needs activation).
    pub eligible: bool,
    /// The condition was not fully understood.
    pub conditional: bool,
    /// Capabilities from the role's own permissions.
    pub own_caps: Caps,
    /// Capabilities obtainable by assigning the roles a delegation condition allows.
    pub delegated_caps: Caps,
    /// Names of the roles a delegation condition allows (empty when unconstrained).
    pub delegation: Option<String>,
    /// Why the grant may be incomplete (unknown role definition, …).
    pub note: Option<String>,
    /// Kubernetes powers from the role's data actions (Azure RBAC for Kubernetes), [`crate::rbac::KubeData`].
    pub kube_data: u8,
}

/// Why a derived edge exists.
#[derive(Debug, Clone)]
pub struct EdgeNote {
    /// Ids of the objects that justify it.
    pub evidence: Vec<String>,
    /// One sentence.
    pub detail: String,
    /// Short label.
    pub label: String,
}

/// A deny assignment, compiled.
#[derive(Debug, Clone)]
pub struct Deny {
    /// Deny assignment id.
    pub id: String,
    /// Scope node.
    pub scope: NodeIndex,
    /// Applies below `scope` too.
    pub applies_to_children: bool,
    /// Applies to every principal (all-zero id).
    pub everyone: bool,
    /// Principals (and groups) denied.
    pub principals: FxHashSet<NodeKey>,
    /// Principals (and groups) exempted.
    pub excluded: FxHashSet<NodeKey>,
    /// Capabilities the denied actions take away.
    pub removes: Caps,
}

/// The privilege graph and its side tables.
#[derive(Debug, Default)]
pub struct PrivilegeGraph {
    pub(crate) graph: DiGraph<NodeData, EdgeData>,
    index: FxHashMap<NodeKey, NodeIndex>,
    /// Parent of each scope node in the scope tree (the source of its `CONTAINS` edge).
    scope_parent: FxHashMap<NodeIndex, NodeIndex>,
    /// Principal kinds whose directory listing was read without a coverage gap.
    directory_read: Vec<NodeKind>,
    /// Evaluated role assignments, indexed by `HAS_ROLE` edges.
    pub grants: Vec<Grant>,
    /// Deny assignments.
    pub denies: Vec<Deny>,
    /// For each ASO namespace node: the resource groups its ASO resources own (lower-cased ARM ids).
    pub aso_owned_resource_groups: FxHashMap<NodeIndex, Vec<String>>,
    /// Evidence and explanation of derived edges (everything but `MEMBER_OF`, `HAS_ROLE`, `CONTAINS`),
    /// indexed by their `evidence`.
    pub notes: Vec<EdgeNote>,
    /// Things the builder could not resolve (unknown role definitions, …), for the report.
    pub warnings: Vec<String>,
}

const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

impl PrivilegeGraph {
    /// Builds the graph from a snapshot. Role definitions missing from the snapshot fall back to azpath's
    /// table of built-in roles.
    pub fn build(snapshot: &Snapshot) -> PrivilegeGraph {
        let mut b = PrivilegeGraph::default();
        b.add_scope_tree(snapshot);
        b.add_principals(snapshot);
        // Managed identities are principals even when the directory was not read.
        for u in &snapshot.azure.user_assigned_identities {
            if let Some(pid) = u.properties.principal_id.as_deref() {
                let n = b.intern(NodeKey::of(pid), NodeKind::ManagedIdentity, &u.name);
                b.graph[n].kind = NodeKind::ManagedIdentity;
            }
        }
        let roles = RoleTable::new(&snapshot.azure.role_definitions, &mut b.warnings);
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
        let identities = b.add_identities(snapshot);
        b.add_entra_owners(snapshot, &identities);
        b.add_kubernetes(snapshot, &identities);
        b
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Number of edges of each kind, in [`EdgeKind::ALL`] order (what a benchmark reports).
    pub fn edge_counts(&self) -> Vec<(EdgeKind, usize)> {
        let mut counts = vec![0usize; EdgeKind::ALL.len()];
        for w in self.graph.edge_weights() {
            counts[EdgeKind::ALL.iter().position(|k| *k == w.kind).unwrap_or(0)] += 1;
        }
        EdgeKind::ALL.iter().copied().zip(counts).collect()
    }

    /// Looks a node up by id (GUID or ARM id, any case).
    pub fn find(&self, id: &str) -> Option<NodeIndex> {
        let key = NodeKey::of(id);
        self.index.get(&key).copied().or_else(|| self.index.get(&NodeKey::scope(id)).copied())
    }

    /// Finds nodes by id, or by exact (case-insensitive) display name.
    pub fn resolve(&self, id_or_name: &str) -> Vec<NodeIndex> {
        if let Some(n) = self.find(id_or_name) {
            return vec![n];
        }
        self.graph.node_indices().filter(|n| self.graph[*n].name.eq_ignore_ascii_case(id_or_name.trim())).collect()
    }

    /// The node's data.
    pub fn node(&self, n: NodeIndex) -> &NodeData {
        &self.graph[n]
    }

    /// The node as shown in findings.
    pub fn node_ref(&self, n: NodeIndex) -> NodeRef {
        let d = &self.graph[n];
        NodeRef { kind: d.kind, id: d.key.to_string(), display_name: d.name.to_string() }
    }

    /// All node indices of a kind.
    pub fn nodes_of_kind(&self, kind: NodeKind) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.node_indices().filter(move |n| self.graph[*n].kind == kind)
    }

    pub(crate) fn edge(&self, e: EdgeIndex) -> (NodeIndex, NodeIndex, EdgeData) {
        let (a, b) = self.graph.edge_endpoints(e).expect("edge index from this graph");
        (a, b, self.graph[e])
    }

    /// Groups the principal belongs to, directly or through nesting.
    pub fn transitive_groups(&self, principal: NodeIndex) -> FxHashSet<NodeIndex> {
        let mut seen = FxHashSet::default();
        let mut stack = vec![principal];
        while let Some(n) = stack.pop() {
            for e in self.graph.edges_directed(n, Direction::Outgoing) {
                if e.weight().kind == EdgeKind::MemberOf && seen.insert(e.target()) {
                    stack.push(e.target());
                }
            }
        }
        seen
    }

    /// The deny assignments that apply at a scope: those on it, and those above it that apply to children.
    pub fn denies_at(&self, target: NodeIndex) -> Vec<&Deny> {
        if self.denies.is_empty() {
            return Vec::new();
        }
        let chain = self.scope_chain(target);
        self.denies
            .iter()
            .filter(|d| match chain.iter().position(|s| *s == d.scope) {
                Some(0) => true,
                Some(_) => d.applies_to_children,
                None => false,
            })
            .collect()
    }

    /// Capabilities that deny assignments take from `actor` at `target` (a scope).
    pub fn denied_caps(&self, actor: NodeIndex, target: NodeIndex) -> Caps {
        if self.denies.is_empty() {
            return Caps::EMPTY;
        }
        let relevant = self.denies_at(target);
        if relevant.is_empty() {
            return Caps::EMPTY;
        }
        let mut keys: FxHashSet<&NodeKey> =
            self.transitive_groups(actor).into_iter().map(|g| &self.graph[g].key).collect();
        keys.insert(&self.graph[actor].key);
        let mut removed = Caps::EMPTY;
        for d in relevant {
            let named = d.everyone || keys.iter().any(|k| d.principals.contains(*k));
            let exempt = keys.iter().any(|k| d.excluded.contains(*k));
            if named && !exempt {
                removed |= d.removes;
            }
        }
        removed
    }

    /// The scope and its ancestors, nearest first.
    pub fn scope_chain(&self, scope_node: NodeIndex) -> Vec<NodeIndex> {
        let mut chain = vec![scope_node];
        let mut cur = scope_node;
        while let Some(&parent) = self.scope_parent.get(&cur) {
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
            cur = parent;
        }
        chain
    }

    fn intern(&mut self, key: NodeKey, kind: NodeKind, name: &str) -> NodeIndex {
        if let Some(&n) = self.index.get(&key) {
            let d = &mut self.graph[n];
            // A richer record (e.g. the directory's user) replaces a placeholder seen first in an assignment.
            if d.kind == NodeKind::UnknownPrincipal && kind != NodeKind::UnknownPrincipal {
                d.kind = kind;
            }
            if kind != NodeKind::UnknownPrincipal && !name.is_empty() && *d.name == *d.key.to_string() {
                d.name = name.into();
            }
            return n;
        }
        let name = if name.is_empty() { key.to_string() } else { name.to_string() };
        let n = self.graph.add_node(NodeData { kind, key: key.clone(), name: name.into_boxed_str() });
        self.index.insert(key, n);
        n
    }

    fn add_edge(&mut self, from: NodeIndex, to: NodeIndex, data: EdgeData) {
        self.graph.add_edge(from, to, data);
    }

    /// Adds a derived edge with its explanation. `mask` limits the capabilities usable through it (empty:
    /// no limit).
    pub(crate) fn add_noted_edge(
        &mut self,
        from: NodeIndex,
        to: NodeIndex,
        kind: EdgeKind,
        mask: Caps,
        flags: u8,
        note: EdgeNote,
    ) {
        if from == to {
            return;
        }
        let evidence = self.notes.len() as u32;
        self.notes.push(note);
        self.add_edge(from, to, EdgeData { kind, caps: mask, flags, evidence });
    }

    /// Interns a node (crate-internal builders).
    pub(crate) fn node_for(&mut self, key: NodeKey, kind: NodeKind, name: &str) -> NodeIndex {
        self.intern(key, kind, name)
    }

    /// Looks a node up by key.
    pub(crate) fn lookup(&self, key: &NodeKey) -> Option<NodeIndex> {
        self.index.get(key).copied()
    }

    /// Links a scope to its parent, unless it already has one (the first parent found wins) or that would
    /// close a cycle.
    fn contains_edge(&mut self, parent: NodeIndex, child: NodeIndex) {
        if parent == child || self.scope_parent.contains_key(&child) || self.scope_chain(parent).contains(&child) {
            return;
        }
        self.scope_parent.insert(child, parent);
        self.add_edge(parent, child, EdgeData { kind: EdgeKind::Contains, caps: Caps::EMPTY, flags: 0, evidence: 0 });
    }

    /// Ensures a scope node exists with its ancestors linked; returns it.
    pub(crate) fn scope_node(&mut self, raw: &str, display: Option<&str>) -> NodeIndex {
        let norm = scope::normalize(raw);
        let kind = match scope::level(&norm) {
            Level::Root => NodeKind::Root,
            Level::ManagementGroup => NodeKind::ManagementGroup,
            Level::Subscription => NodeKind::Subscription,
            Level::ResourceGroup => NodeKind::ResourceGroup,
            Level::Resource => NodeKind::Resource,
        };
        let key = NodeKey::Path(norm.clone().into_boxed_str());
        let known = self.index.contains_key(&key);
        let default_name = match kind {
            NodeKind::Root => "Tenant root (/)".to_string(),
            NodeKind::ResourceGroup | NodeKind::Resource => norm.rsplit('/').next().unwrap_or(&norm).to_string(),
            _ => String::new(),
        };
        let n = self.intern(key, kind, display.unwrap_or(&default_name));
        if let Some(d) = display.filter(|d| !d.is_empty()) {
            self.graph[n].name = d.into();
        }
        if !known {
            if let Some(parent) = scope::implied_parent(&norm) {
                let p = self.scope_node(&parent, None);
                self.contains_edge(p, n);
            }
        }
        n
    }

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
        for u in &e.users {
            let name = u.display_name.as_deref().or(u.user_principal_name.as_deref()).unwrap_or("");
            self.intern(NodeKey::of(&u.id), NodeKind::User, name);
        }
        for g in &e.groups {
            self.intern(NodeKey::of(&g.id), NodeKind::Group, g.display_name.as_deref().unwrap_or(""));
        }
        for sp in &e.service_principals {
            self.intern(NodeKey::of(&sp.id), NodeKind::ServicePrincipal, sp.display_name.as_deref().unwrap_or(""));
        }
        for app in &e.applications {
            self.intern(NodeKey::of(&app.id), NodeKind::Application, app.display_name.as_deref().unwrap_or(""));
        }
        for gm in &e.group_members {
            let group = self.intern(NodeKey::of(&gm.group_id), NodeKind::Group, "");
            for m in &gm.members {
                let kind = crate::entra::directory_kind(m);
                let member = self.intern(NodeKey::of(&m.id), kind, m.display_name.as_deref().unwrap_or(""));
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

    /// The scope of an authorization record ([`scope::record_scope`]), or `None` with a warning: a record
    /// whose scope is neither given nor in its id is dropped, never widened to the tenant root.
    fn record_scope(&mut self, what: &str, id: &str, raw_scope: &str) -> Option<String> {
        let found = scope::record_scope(raw_scope, id);
        if found.is_none() {
            self.warnings
                .push(format!("{what} {id:?} has no scope (empty `properties.scope` and no scope in its id): ignored"));
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
        let principal = match self.index.get(&principal_key) {
            Some(&n) => n,
            // Absent from a directory listing that was read in full: deleted (an orphaned assignment) or
            // from another tenant. It cannot sign in, so it is not reported as a source.
            None if principal_kind == NodeKind::UnknownPrincipal || self.directory_read.contains(&principal_kind) => {
                self.warnings.push(format!(
                    "role assignment {id} names principal {} that is not in the directory (deleted or foreign): remove the orphaned assignment",
                    p.principal_id
                ));
                self.intern(principal_key, NodeKind::UnknownPrincipal, "")
            }
            // The directory was not read (no Graph access, or a hand-written tenant): trust ARM's principalType.
            None => self.intern(principal_key, principal_kind, ""),
        };
        let scope_node = self.scope_node(&scope, None);
        let guid = rbac::role_definition_guid(&p.role_definition_id);
        let mut grant = Grant {
            assignment_id: id.to_string(),
            role_definition_id: p.role_definition_id.clone(),
            role_name: guid.clone(),
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
                let msg = format!(
                    "role definition {} of assignment {id} is unknown: its permissions could not be evaluated",
                    p.role_definition_id
                );
                grant.note = Some(msg.clone());
                grant.conditional = true;
                self.warnings.push(msg);
            }
        }
        if let Some(cond) = p.condition.as_deref().filter(|c| !c.trim().is_empty()) {
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
                        let allowed: Vec<&str> = roles
                            .by_guid
                            .keys()
                            .map(String::as_str)
                            .filter(|g| !excluded.iter().any(|x| x == g))
                            .collect();
                        let (caps, _) = roles.union_of(allowed.into_iter(), &chain);
                        grant.delegated_caps = caps;
                        let names: Vec<String> = excluded.iter().map(|g| roles.name_of(g)).collect();
                        grant.delegation = Some(format!("any role except {}", names.join(", ")));
                    }
                }
            }
        }
        let flags = if eligible { ELIGIBLE } else { 0 } | if grant.conditional { CONDITIONAL } else { 0 };
        let caps = grant.own_caps | grant.delegated_caps;
        let evidence = self.grants.len() as u32;
        self.grants.push(grant);
        self.add_edge(principal, scope_node, EdgeData { kind: EdgeKind::HasRole, caps, flags, evidence });
    }

    fn add_denies(&mut self, s: &Snapshot) {
        for d in &s.azure.deny_assignments {
            let p = &d.properties;
            let Some(scope) = self.record_scope("deny assignment", &d.id, &p.scope) else { continue };
            let scope = self.scope_node(&scope, None);
            let removes = PermissionSet::new(p.permissions.clone()).touched_capabilities();
            let everyone = p.principals.iter().any(|x| x.id.trim() == EVERYONE);
            self.denies.push(Deny {
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
    name: String,
    caps: Caps,
    kube_data: u8,
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
            let name = if d.properties.role_name.is_empty() { guid.clone() } else { d.properties.role_name.clone() };
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
        self.by_guid.get(guid).map(|r| r.name.clone()).unwrap_or_else(|| guid.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_keys_round_trip_and_ignore_case() {
        let k = NodeKey::of("B24988AC-6180-42A0-AB88-20F7382DD24C");
        assert_eq!(k.to_string(), "b24988ac-6180-42a0-ab88-20f7382dd24c");
        assert_eq!(k, NodeKey::of("b24988ac-6180-42a0-ab88-20f7382dd24c"));
        let small = "00000000-0000-0000-0000-0000000000aa";
        assert_eq!(NodeKey::of(small).to_string(), small, "leading zeros kept");
        assert!(matches!(NodeKey::of("/Subscriptions/X"), NodeKey::Path(p) if &*p == "/subscriptions/x"));
    }
}
