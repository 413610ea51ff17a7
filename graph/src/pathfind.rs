//! `azpath paths`: the best path from one node to another, and near-miss names for ids that match nothing.
//!
//! A path into an Azure scope ends with exactly one `HAS_ROLE` edge (role assignments lead from principals to
//! scopes, and scopes lead only to child scopes), so the power a path gives at its target is what that last
//! grant confers there: its capabilities minus those deny assignments take from the acting principal, limited
//! by a capability mask on the edge before it (ASO). This is the engine's `checked_caps`, evaluated during the
//! search rather than after it, so the search can rank paths by that power.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::graph::EdgeIndex;
/// A node of the privilege graph, as [`PrivilegeGraph::resolve`] and [`near_misses`] return it.
pub use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::engine::{hop, Cost, Order};
use crate::findings::Hop;
use crate::graph::{EdgeData, Grant, PrivilegeGraph, ELIGIBLE};
use crate::model::EdgeKind;
use crate::rbac::{Capability, Caps};

/// How strong the power a path gives at a scope is, strongest first (the derived order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// `assign-roles`: can grant anyone any role (Owner-equivalent).
    AssignRoles,
    /// `write-everything`: can create or change any resource (Contributor-equivalent).
    WriteEverything,
    /// Another named capability (`run-command`, `write-federated-credential`, …).
    OtherCapability,
    /// A role that confers no named capability (Reader, or a role whose powers deny assignments take away).
    AnyRole,
}

impl Strength {
    /// Every strength, strongest first.
    pub const ALL: [Strength; 4] =
        [Strength::AssignRoles, Strength::WriteEverything, Strength::OtherCapability, Strength::AnyRole];

    /// The strength of holding `caps`.
    pub fn of(caps: Caps) -> Strength {
        if caps.contains(Capability::AssignRoles) {
            Strength::AssignRoles
        } else if caps.contains(Capability::WriteEverything) {
            Strength::WriteEverything
        } else if !caps.is_empty() {
            Strength::OtherCapability
        } else {
            Strength::AnyRole
        }
    }

    /// The kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::AssignRoles => "assign-roles",
            Strength::WriteEverything => "write-everything",
            Strength::OtherCapability => "other-capability",
            Strength::AnyRole => "any-role",
        }
    }

    /// The strengths above this one.
    pub fn stronger(self) -> impl Iterator<Item = Strength> {
        Strength::ALL.into_iter().filter(move |s| *s < self)
    }
}

/// A path found by [`best_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPath {
    /// The hops, source first.
    pub hops: Vec<Hop>,
    /// What the path's role assignment confers at the target, after deny assignments for the acting principal
    /// and capability masks (empty when the path holds no role: a target that is not a scope).
    pub capabilities: Caps,
    /// The strength of [`capabilities`](Self::capabilities); `None` when the path holds no role.
    pub strength: Option<Strength>,
}

/// What [`best_path`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathOptions {
    /// When not empty, only role assignments conferring one of these count, and the cheapest such path is
    /// taken. When empty, the path giving the strongest power at the target is taken (see [`Strength`]).
    pub capabilities: Caps,
    /// Whether PIM-eligible assignments may be used.
    pub include_eligible: bool,
}

/// The best path from `from` to `to`: the strongest power at the target first (unless
/// [`PathOptions::capabilities`] names what counts), then the fewest PIM activations, conditional hops and
/// hops. `None` when `to` cannot be reached.
pub fn best_path(graph: &PrivilegeGraph, from: NodeIndex, to: NodeIndex, options: PathOptions) -> Option<FoundPath> {
    PathSearch::new(graph, to, options).run(from)
}

/// [`best_path`]'s hops, for callers that only need the path.
pub fn find_path(
    graph: &PrivilegeGraph,
    from: NodeIndex,
    to: NodeIndex,
    capabilities: Caps,
    include_eligible: bool,
) -> Option<Vec<Hop>> {
    best_path(graph, from, to, PathOptions { capabilities, include_eligible }).map(|p| p.hops)
}

/// A search state. Before the role edge: a principal, who acts (the last identity reached other than through
/// group membership: deny assignments name it) and the capability mask of the edge before, if any. After it:
/// a scope, with no actor (only the scope tree follows, whoever acts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct State {
    node: NodeIndex,
    actor: Option<NodeIndex>,
    mask: Caps,
}

/// Ranking of partial paths, compared lexicographically: the strength rank of the role taken (0 before any
/// role, so it only grows along a path), then the cost.
type Key = (u8, Cost);

/// Best key of each state and the (edge, previous state) that reached it.
type Best = FxHashMap<State, (Key, Option<(EdgeIndex, State)>)>;

/// One pair's search: a Dijkstra over [`State`]s ranked by [`Key`].
struct PathSearch<'a> {
    graph: &'a PrivilegeGraph,
    target: NodeIndex,
    /// The target and its ancestors when it is a scope (the only scopes a path may enter); empty otherwise.
    chain: Vec<NodeIndex>,
    options: PathOptions,
}

impl<'a> PathSearch<'a> {
    fn new(graph: &'a PrivilegeGraph, target: NodeIndex, options: PathOptions) -> Self {
        let chain = if graph.node(target).kind.is_scope() { graph.scope_chain(target) } else { Vec::new() };
        PathSearch { graph, target, chain, options }
    }

    fn run(&self, from: NodeIndex) -> Option<FoundPath> {
        let start = self.start(from);
        let mut best: Best = FxHashMap::default();
        best.insert(start, ((0, Cost::default()), None));
        let mut heap = BinaryHeap::new();
        heap.push(Reverse(((0, Cost::default()), start)));
        while let Some(Reverse((key, state))) = heap.pop() {
            if best.get(&state).is_some_and(|(k, _)| *k < key) {
                continue;
            }
            if state.node == self.target {
                return Some(self.answer(&best, state));
            }
            for e in self.graph.graph.edges_directed(state.node, Direction::Outgoing) {
                let Some((next, rank)) = self.step(state, key.0, e.target(), e.weight()) else {
                    continue;
                };
                let next_key = (rank, key.1.advance(Order::Preferred, e.weight().flags, e.weight().kind));
                if best.get(&next).is_none_or(|(k, _)| next_key < *k) {
                    best.insert(next, (next_key, Some((e.id(), state))));
                    heap.push(Reverse((next_key, next)));
                }
            }
        }
        None
    }

    fn start(&self, from: NodeIndex) -> State {
        let scope = self.graph.node(from).kind.is_scope();
        State { node: from, actor: (!scope).then_some(from), mask: Caps::EMPTY }
    }

    /// The state an edge leads to from `state`, and the strength rank of the path there; `None` when the edge
    /// cannot be part of an answer.
    fn step(&self, state: State, rank: u8, to: NodeIndex, w: &EdgeData) -> Option<(State, u8)> {
        if !self.options.include_eligible && w.flags & ELIGIBLE != 0 {
            return None;
        }
        match w.kind {
            EdgeKind::Contains => {
                self.chain.contains(&to).then_some((State { node: to, actor: None, mask: Caps::EMPTY }, rank))
            }
            EdgeKind::HasRole => {
                if !self.chain.contains(&to) {
                    return None;
                }
                let grant = &self.graph.grants[w.evidence as usize];
                let caps = self.role_caps(grant, state.actor?, state.mask);
                let rank = self.rank(caps)?;
                Some((State { node: to, actor: None, mask: Caps::EMPTY }, rank))
            }
            EdgeKind::MemberOf => Some((State { mask: combine(state.mask, w.caps), node: to, ..state }, rank)),
            kind => {
                let needs = crate::rbac::step_needs(kind);
                if !state.mask.is_empty() && !needs.is_empty() && !state.mask.intersects(needs) {
                    return None;
                }
                Some((State { node: to, actor: Some(to), mask: w.caps }, rank))
            }
        }
    }

    /// What a grant confers at the target for `actor`, as the engine's `checked_caps` computes it: deny
    /// assignments on the target take their capabilities (a denied role-assignment write also takes every
    /// delegated power), and a mask on the edge before limits the rest.
    fn role_caps(&self, grant: &Grant, actor: NodeIndex, mask: Caps) -> Caps {
        let denied = self.graph.denied_caps(actor, self.target);
        let assign = Capability::AssignRoles.bit() | Capability::AssignRolesLimited.bit();
        let delegated = if denied.intersects(assign) { Caps::EMPTY } else { grant.delegated_caps.without(denied) };
        let caps = grant.own_caps.without(denied) | delegated;
        if mask.is_empty() {
            caps
        } else {
            Caps(caps.0 & mask.0)
        }
    }

    /// The rank of a role conferring `caps` (1 is strongest), or `None` when the capabilities asked for
    /// rule it out. With capabilities asked for, every allowed role ranks the same: the cheapest path wins.
    fn rank(&self, caps: Caps) -> Option<u8> {
        let wanted = self.options.capabilities;
        if wanted.is_empty() {
            Some(1 + Strength::of(caps) as u8)
        } else {
            caps.intersects(wanted).then_some(1)
        }
    }

    /// The path that reached `end`, with the power of its role edge.
    fn answer(&self, best: &Best, end: State) -> FoundPath {
        let mut steps = Vec::new();
        let mut cur = end;
        while let Some((_, Some((e, prev)))) = best.get(&cur) {
            steps.push((*e, *prev));
            cur = *prev;
        }
        steps.reverse();
        let role = steps.iter().find_map(|(e, prev)| {
            let (_, _, w) = self.graph.edge(*e);
            (w.kind == EdgeKind::HasRole).then(|| {
                let grant = &self.graph.grants[w.evidence as usize];
                self.role_caps(grant, prev.actor.unwrap_or(prev.node), prev.mask)
            })
        });
        FoundPath {
            hops: steps.iter().map(|(e, _)| hop(self.graph, *e)).collect(),
            capabilities: role.unwrap_or(Caps::EMPTY),
            strength: role.map(Strength::of),
        }
    }
}

/// Two masks met before the next step: both apply.
fn combine(a: Caps, b: Caps) -> Caps {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b,
        (_, true) => a,
        _ => Caps(a.0 & b.0),
    }
}

/// Lowest similarity (0 to 1) of a near miss.
const NEAR_MISS: f64 = 0.7;

/// Nodes whose display name or id is close to `what` (case-insensitive), closest first, at most `limit`: the
/// "did you mean" of an id or name that matched nothing. A name or id containing `what` (3 characters or
/// more) counts as close; otherwise the normalized Damerau-Levenshtein similarity must reach 0.7.
pub fn near_misses(graph: &PrivilegeGraph, what: &str, limit: usize) -> Vec<NodeIndex> {
    let q = what.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str, String, NodeIndex)> = graph
        .graph
        .node_indices()
        .filter(|n| !graph.node(*n).kind.is_hub()) // internal hubs: never a name a person types
        .filter_map(|n| {
            let d = graph.node(n);
            let id = d.key.to_string();
            let score = similarity(&q, &d.name.to_lowercase()).max(similarity(&q, &id.to_lowercase()));
            (score >= NEAR_MISS).then_some((score, &*d.name, id, n))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| (a.1, &a.2).cmp(&(b.1, &b.2))));
    scored.into_iter().take(limit).map(|(.., n)| n).collect()
}

/// How close `candidate` is to the query `q` (both lower-cased), from 0 to 1.
fn similarity(q: &str, candidate: &str) -> f64 {
    let (ql, cl) = (q.chars().count(), candidate.chars().count());
    if ql >= 3 && candidate.contains(q) {
        // Containment ranks above a typo of the same length only when the rest is short.
        return 0.7 + 0.3 * ql as f64 / cl as f64;
    }
    // Too different in length to reach the threshold: skip the quadratic comparison.
    if (ql.abs_diff(cl) as f64) > (1.0 - NEAR_MISS) * ql.max(cl) as f64 {
        return 0.0;
    }
    strsim::normalized_damerau_levenshtein(q, candidate)
}
