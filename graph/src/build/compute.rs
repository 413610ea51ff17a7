//! The `compute` pass: identities on compute. A principal whose role lets it run code on a resource (VM run
//! command or extension, site deployment, runbook, workflow, container, pipeline) acts as every identity
//! attached to that resource (`CAN_RUN_AS_RESOURCE_IDENTITY`); a principal that may assign a user-assigned
//! identity and write some compute can attach the identity and act as it (`CAN_ATTACH_IDENTITY`).
//!
//! Both go through hubs (`ScopeIdentities` nodes), one per scope holding a qualifying role (and per resource
//! kind for running code), so edges grow with grants + identities × scope depth, not grants × identities.
//! Virtual machine login data actions give no edge by themselves (docs/edges.md says why).

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use super::Builder;
use crate::graph::{EdgeNote, NodeKey};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{self, Capability, Caps, PermissionSet};
use crate::scope;
use crate::snapshot::{IdentityResource, Snapshot, Str};

/// The edge kinds this pass adds.
pub(super) const EMITS: &[EdgeKind] = &[EdgeKind::CanRunAsResourceIdentity, EdgeKind::CanAttachIdentity];

/// Runs the pass.
pub(super) fn run(b: &mut Builder, snapshot: &Snapshot, shared: &mut super::Shared) {
    let mut pass = Compute {
        b,
        s: snapshot,
        uami: &shared.identities.by_resource_id,
        roles: role_permissions(snapshot),
        hubs: FxHashMap::default(),
    };
    for r in &snapshot.azure.identity_resources {
        pass.resource(r);
    }
    pass.attachable_identities();
}

/// What lets a principal run code on a kind of resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RunCode {
    /// A capability of the role table (a known compute type).
    Known(Capability),
    /// Any other type: `{type}/write` (lower-case type), judged on the role's actions.
    Write(String),
}

/// The way to run code on a resource of ARM type `kind` (case-insensitive).
pub(crate) fn run_code(kind: &str) -> RunCode {
    let kind = kind.to_ascii_lowercase();
    let cap = match kind.as_str() {
        "microsoft.compute/virtualmachines" => Capability::RunCodeOnVm,
        "microsoft.compute/virtualmachinescalesets" => Capability::RunCodeOnVmss,
        "microsoft.web/sites" => Capability::RunCodeOnSite,
        "microsoft.automation/automationaccounts" => Capability::RunCodeOnAutomation,
        "microsoft.logic/workflows" => Capability::WriteLogicApp,
        "microsoft.app/containerapps" => Capability::WriteContainerApp,
        "microsoft.containerinstance/containergroups" => Capability::WriteContainerGroup,
        "microsoft.datafactory/factories" => Capability::RunDataFactoryPipeline,
        _ => return RunCode::Write(kind),
    };
    RunCode::Known(cap)
}

impl RunCode {
    /// The hub key suffix and what the power is, for notes.
    fn describe(&self) -> (String, String) {
        match self {
            RunCode::Known(c) => (c.as_str().to_string(), what_allows(*c).to_string()),
            RunCode::Write(t) => (format!("write:{t}"), format!("{t}/write")),
        }
    }
}

fn what_allows(c: Capability) -> &'static str {
    match c {
        Capability::RunCodeOnVm => "run command, extension write or write on virtual machines",
        Capability::RunCodeOnVmss => "run command, extension write or write on scale sets",
        Capability::RunCodeOnSite => "deploying to sites (write, publish, publishing credentials)",
        Capability::RunCodeOnAutomation => "writing and starting runbooks",
        Capability::WriteLogicApp => "workflows/write",
        Capability::WriteContainerApp => "containerApps/write",
        Capability::WriteContainerGroup => "containerGroups/write",
        Capability::RunDataFactoryPipeline => "writing and running pipelines",
        _ => c.as_str(),
    }
}

/// Role definition GUID → its permissions (built-in definitions, then the snapshot's), for the generic rule.
fn role_permissions(s: &Snapshot) -> FxHashMap<String, PermissionSet> {
    crate::builtin::role_definitions()
        .iter()
        .chain(&s.azure.role_definitions)
        .map(|d| {
            let guid = rbac::role_definition_guid(if d.name.is_empty() { &d.id } else { &d.name });
            (guid, PermissionSet::new(d.properties.permissions.clone()))
        })
        .collect()
}

/// The pass over one snapshot.
struct Compute<'a> {
    b: &'a mut Builder,
    s: &'a Snapshot,
    /// User-assigned identity resource id (normalized) → its principal node (from the identities pass).
    uami: &'a FxHashMap<String, NodeIndex>,
    /// Role permissions by definition GUID.
    roles: FxHashMap<String, PermissionSet>,
    /// (scope, hub key suffix) → its hub, `None` when no role there qualifies.
    hubs: FxHashMap<(NodeIndex, String), Option<NodeIndex>>,
}

/// A role edge: (principal, grant index, flags).
type RoleEdge = (NodeIndex, usize, u8);

impl Compute<'_> {
    /// Edges from the hubs of the resource's scope chain to each identity attached to it.
    fn resource(&mut self, r: &IdentityResource) {
        let identities = self.attached(r);
        if identities.is_empty() {
            return;
        }
        let how = run_code(&r.kind);
        let node = self.b.scope_node(&r.id, Some(&r.name));
        if self.denied_to_everyone(node, &how) {
            return;
        }
        let id = Str::from(r.id.as_str());
        let attached: Vec<Str> = identities.iter().map(|(_, how)| format!("identity={how}").into()).collect();
        for scope in self.b.scope_chain(node) {
            let Some(hub) = self.run_hub(scope, &how) else { continue };
            for ((identity, how_attached), attached) in identities.iter().zip(&attached) {
                let at = self.b.graph[scope].name.to_string();
                let name = self.b.graph[*identity].name.to_string();
                let note = EdgeNote {
                    evidence: vec![id.clone(), attached.clone()],
                    detail: format!("{} under {at} carries {name} ({how_attached}): code run on it acts as it", r.name),
                    label: "identity attached to resource".into(),
                };
                self.b.add_noted_edge(hub, *identity, EdgeKind::CanRunAsResourceIdentity, Caps::EMPTY, 0, note);
            }
        }
    }

    /// The identities attached to a resource: its system-assigned one and each user-assigned one, with how.
    fn attached(&mut self, r: &IdentityResource) -> Vec<(NodeIndex, String)> {
        let mut out = Vec::new();
        let id = &r.identity;
        let kind = id.kind.as_deref().unwrap_or("").to_ascii_lowercase();
        if let Some(pid) = id
            .principal_id
            .as_deref()
            .filter(|p| !p.trim().is_empty() && (kind.is_empty() || kind.contains("systemassigned")))
        {
            let n = self.identity_node(pid, &format!("{} (system-assigned)", r.name));
            out.push((n, "system-assigned".to_string()));
        }
        for (uami_id, props) in id.user_assigned_identities.iter().flatten() {
            let known = self.uami.get(&scope::normalize(uami_id)).copied();
            let n = match (known, props.principal_id.as_deref()) {
                (Some(n), _) => n,
                (None, Some(pid)) => self.identity_node(pid, uami_id.rsplit('/').next().unwrap_or(uami_id)),
                (None, None) => {
                    self.b.warn(format!(
                        "{} names user-assigned identity {uami_id} with no principalId, not collected: skipped",
                        r.id
                    ));
                    continue;
                }
            };
            out.push((n, format!("user-assigned {uami_id}")));
        }
        out
    }

    fn identity_node(&mut self, principal_id: &str, name: &str) -> NodeIndex {
        let n = self.b.node_for(NodeKey::of(principal_id), NodeKind::ManagedIdentity, name);
        self.b.set_kind(n, NodeKind::ManagedIdentity);
        n
    }

    /// Whether a deny assignment that applies to everyone (and exempts no one) takes the power away on the
    /// resource. Known kinds only: the generic rule's denies are not evaluated (docs/edges.md).
    fn denied_to_everyone(&self, resource: NodeIndex, how: &RunCode) -> bool {
        let RunCode::Known(cap) = how else { return false };
        self.b.denies_at(resource).iter().any(|d| d.everyone && d.excluded.is_empty() && d.removes.contains(*cap))
    }

    /// The hub of the resources of one kind under `scope`, with an edge from each principal whose role there
    /// lets it run code on them; `None` when no role there does.
    fn run_hub(&mut self, scope: NodeIndex, how: &RunCode) -> Option<NodeIndex> {
        let (suffix, what) = how.describe();
        if let Some(h) = self.hubs.get(&(scope, suffix.clone())) {
            return *h;
        }
        let runners: Vec<(RoleEdge, bool)> =
            self.roles_at(scope).into_iter().filter_map(|e| self.can_run(e, scope, how).map(|own| (e, own))).collect();
        let hub = (!runners.is_empty()).then(|| {
            let at = self.b.graph[scope].name.to_string();
            let key = NodeKey::Path(format!("{}#compute:{suffix}", self.b.graph[scope].key).into_boxed_str());
            let hub = self.b.node_for(key, NodeKind::ScopeIdentities, &format!("identities on {suffix} under {at}"));
            for ((principal, grant, flags), own) in runners {
                let g = &self.b.grants[grant];
                let how = if own { "allows" } else { "may assign itself a role that allows" };
                let note = EdgeNote {
                    evidence: vec![g.assignment_id.clone(), g.role_definition_id.clone()],
                    detail: format!(
                        "{} at {} {how} {what} under it: code run there acts as the resources' identities",
                        g.role_name, g.scope
                    ),
                    label: "can run code on compute".into(),
                };
                self.b.add_noted_edge(principal, hub, EdgeKind::CanRunAsResourceIdentity, Caps::EMPTY, flags, note);
            }
            hub
        });
        self.hubs.insert((scope, suffix), hub);
        hub
    }

    /// Whether a role edge at `scope` lets its principal run code on resources of this kind: `Some(true)` by
    /// the role's own actions, `Some(false)` through a role it may assign (constrained delegation).
    fn can_run(&self, (principal, grant, _): RoleEdge, scope: NodeIndex, how: &RunCode) -> Option<bool> {
        let g = &self.b.grants[grant];
        match how {
            RunCode::Known(cap) => {
                if self.b.denied_caps(principal, scope).contains(*cap) {
                    return None;
                }
                if g.own_caps.contains(*cap) {
                    Some(true)
                } else {
                    g.delegated_caps.contains(*cap).then_some(false)
                }
            }
            RunCode::Write(t) => {
                let perms = self.roles.get(&rbac::role_definition_guid(&g.role_definition_id))?;
                perms.allows_action(&format!("{t}/write")).then_some(true)
            }
        }
    }

    /// Role edges on exactly this scope.
    fn roles_at(&self, scope: NodeIndex) -> Vec<RoleEdge> {
        self.b
            .graph
            .edges_directed(scope, Direction::Incoming)
            .filter(|e| e.weight().kind == EdgeKind::HasRole)
            .map(|e| (e.source(), e.weight().evidence as usize, e.weight().flags))
            .collect()
    }

    /// `CAN_ATTACH_IDENTITY`: hubs of the user-assigned identities under each scope where someone may assign
    /// them and can write compute somewhere.
    fn attachable_identities(&mut self) {
        let writers = self.carrier_writers();
        if writers.is_empty() {
            return;
        }
        let mut hubs: FxHashMap<NodeIndex, Option<NodeIndex>> = FxHashMap::default();
        for u in &self.s.azure.user_assigned_identities {
            let Some(&identity) = self.uami.get(&scope::normalize(&u.id)) else { continue };
            let Some(resource) = self.b.lookup(&NodeKey::Path(scope::normalize(&u.id).into_boxed_str())) else {
                continue;
            };
            let id = Str::from(u.id.as_str());
            for scope in self.b.scope_chain(resource) {
                let hub = match hubs.get(&scope) {
                    Some(h) => *h,
                    None => {
                        let h = self.attach_hub(scope, &writers);
                        hubs.insert(scope, h);
                        h
                    }
                };
                let Some(hub) = hub else { continue };
                let at = self.b.graph[scope].name.to_string();
                let note = EdgeNote {
                    evidence: vec![id.clone()],
                    detail: format!("{} is under {at}: it can be attached to compute and used there", u.name),
                    label: "assignable identity under scope".into(),
                };
                self.b.add_noted_edge(hub, identity, EdgeKind::CanAttachIdentity, Caps::EMPTY, 0, note);
            }
        }
    }

    /// Principals (users, groups, service principals) holding write on some compute that carries identities:
    /// principal → the assignment that gives it and its flags (an active one before a PIM-eligible one).
    fn carrier_writers(&self) -> FxHashMap<NodeIndex, (Str, u8)> {
        let want = Capability::WriteIdentityCarrier;
        let mut out: FxHashMap<NodeIndex, (Str, u8)> = FxHashMap::default();
        for e in self.b.graph.edge_references().filter(|e| e.weight().kind == EdgeKind::HasRole) {
            let g = &self.b.grants[e.weight().evidence as usize];
            if (g.own_caps | g.delegated_caps).contains(want) {
                let found = (g.assignment_id.clone(), e.weight().flags);
                let best = out.entry(e.source()).or_insert_with(|| found.clone());
                if (found.1, &found.0) < (best.1, &best.0) {
                    *best = found;
                }
            }
        }
        out
    }

    /// The groups `principal` is in, directly or through nesting, each with the flags of its least-flagged
    /// membership path (a PIM-eligible membership needs activation).
    fn groups_with_flags(&self, principal: NodeIndex) -> FxHashMap<NodeIndex, u8> {
        let mut best: FxHashMap<NodeIndex, u8> = FxHashMap::default();
        let mut stack = vec![(principal, 0u8)];
        while let Some((n, flags)) = stack.pop() {
            for e in self.b.graph.edges_directed(n, Direction::Outgoing) {
                if e.weight().kind != EdgeKind::MemberOf {
                    continue;
                }
                let next = flags | e.weight().flags;
                // Better: not seen yet, or a strict subset of the flags it was reached with.
                let better = best.get(&e.target()).is_none_or(|old| next != *old && next & old == next);
                if better {
                    best.insert(e.target(), next);
                    stack.push((e.target(), next));
                }
            }
        }
        best
    }

    /// The assignment that lets `principal` write compute, itself or through its `groups` (with their membership
    /// flags, [`Self::groups_with_flags`]), with the flags of that assignment and of the membership it rests on:
    /// the least flagged, then the first by id.
    fn writes_through(
        &self,
        principal: NodeIndex,
        groups: &FxHashMap<NodeIndex, u8>,
        writers: &FxHashMap<NodeIndex, (Str, u8)>,
    ) -> Option<(Str, u8)> {
        groups
            .iter()
            .chain([(&principal, &0u8)])
            .filter_map(|(h, path)| writers.get(h).map(|(id, flags)| (path | flags, id)))
            .min()
            .map(|(flags, id)| (id.clone(), flags))
    }

    /// The members of a group, directly or through nesting (empty for a principal that is not a group).
    fn transitive_members(&self, group: NodeIndex) -> Vec<NodeIndex> {
        let mut seen: FxHashSet<NodeIndex> = FxHashSet::default();
        let mut stack = vec![group];
        while let Some(n) = stack.pop() {
            for m in self.b.graph.edges_directed(n, Direction::Incoming) {
                if m.weight().kind == EdgeKind::MemberOf && m.source() != group && seen.insert(m.source()) {
                    stack.push(m.source());
                }
            }
        }
        let mut members: Vec<NodeIndex> = seen.into_iter().collect();
        members.sort();
        members
    }

    /// The hub of the user-assigned identities under `scope`, with an edge from each principal whose role there
    /// allows assigning them and who (itself or through its groups) writes compute somewhere.
    fn attach_hub(&mut self, scope: NodeIndex, writers: &FxHashMap<NodeIndex, (Str, u8)>) -> Option<NodeIndex> {
        let want = Capability::AssignManagedIdentity;
        let mut found: Vec<(RoleEdge, Str)> = Vec::new();
        for e in self.roles_at(scope) {
            let g = &self.b.grants[e.1];
            if !(g.own_caps | g.delegated_caps).contains(want) || self.b.denied_caps(e.0, scope).contains(want) {
                continue;
            }
            // The assign grant's holder, or (a group) each member: judged on the union of what the
            // principal holds, itself and through every group, so that assign through one group and compute
            // write through another (or directly) combine.
            // The edge needs every step it rests on: the assign grant, the membership that passes it on (PIM
            // for Groups eligibility included) and the compute write, so it carries all their flags.
            match self.writes_through(e.0, &self.groups_with_flags(e.0), writers) {
                Some((w, wflags)) => found.push(((e.0, e.1, e.2 | wflags), w)),
                None => {
                    for member in self.transitive_members(e.0) {
                        let groups = self.groups_with_flags(member);
                        if let Some((w, wflags)) = self.writes_through(member, &groups, writers) {
                            let path = groups.get(&e.0).copied().unwrap_or(0);
                            found.push(((member, e.1, e.2 | path | wflags), w));
                        }
                    }
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        let at = self.b.graph[scope].name.to_string();
        let key = NodeKey::Path(format!("{}#assignable-identities", self.b.graph[scope].key).into_boxed_str());
        let hub = self.b.node_for(key, NodeKind::ScopeIdentities, &format!("assignable identities under {at}"));
        for ((principal, grant, flags), write) in found {
            let g = &self.b.grants[grant];
            let note = EdgeNote {
                evidence: vec![g.assignment_id.clone(), g.role_definition_id.clone(), write.clone()],
                detail: format!(
                    "{} at {} allows userAssignedIdentities/assign/action, and {write} allows writing compute: the principal can attach any identity under {} and run code as it",
                    g.role_name, g.scope, g.scope
                ),
                label: "can attach identity".into(),
            };
            self.b.add_noted_edge(principal, hub, EdgeKind::CanAttachIdentity, Caps::EMPTY, flags, note);
        }
        Some(hub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_map_to_their_capability_and_others_to_write() {
        assert_eq!(run_code("Microsoft.Compute/virtualMachines"), RunCode::Known(Capability::RunCodeOnVm));
        assert_eq!(run_code("microsoft.web/SITES"), RunCode::Known(Capability::RunCodeOnSite));
        assert_eq!(run_code("Microsoft.Batch/batchAccounts"), RunCode::Write("microsoft.batch/batchaccounts".into()));
    }
}
