//! The query engine: one multi-source reverse search per target, paths explained hop by hop.
//!
//! For a target scope T, every `HAS_ROLE` edge into T or one of its ancestors whose capabilities answer the
//! query seeds a Dijkstra search that runs backwards over identity edges (`MEMBER_OF`: a group's power
//! reaches its members). Every principal reached is a source with its best path to T: active before
//! PIM-eligible, understood before conditional, then fewest hops. Deny assignments depend on who acts, so
//! each found path is checked against them for its acting principal; when a deny cuts it, a forward search
//! from that source looks for another way.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::findings::{CoverageNote, Hop, Pair, QueryInfo, Report, REPORT_SCHEMA_VERSION};
use crate::graph::{PrivilegeGraph, CONDITIONAL, ELIGIBLE};
use crate::model::EdgeKind;
use crate::query::Query;
use crate::rbac::{Capability, Caps};
use crate::remediation::remediation;
use crate::snapshot::Snapshot;

/// Path cost, compared lexicographically: PIM activations, then conditional hops, then (in
/// [`Order::Preferred`]) steps that gain a power rather than hold it, then hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Cost {
    pub(crate) eligible: u32,
    pub(crate) conditional: u32,
    pub(crate) gains: u32,
    pub(crate) hops: u32,
}

impl Cost {
    /// The cost after one more edge with `flags`, gains not counted ([`Order::Flags`]). Whether a way needs a
    /// PIM activation is a yes or no (two activations are no worse than one: the report says "eligible"), so
    /// the count stops at one; a search keeps the ways that need one apart from those that do not (its state
    /// says which), or a way needing one but resting on no condition would lose to one resting on a condition
    /// with fewer activations.
    pub(crate) fn step(self, flags: u8) -> Cost {
        Cost {
            eligible: self.eligible.max(u32::from(flags & ELIGIBLE != 0)),
            conditional: self.conditional + u32::from(flags & CONDITIONAL != 0),
            gains: self.gains,
            hops: self.hops + 1,
        }
    }

    /// The cost after one more edge of `kind` with `flags`, in `order`.
    pub(crate) fn advance(self, order: Order, flags: u8, kind: EdgeKind) -> Cost {
        match order {
            Order::Flags => self.step(flags),
            Order::Preferred => Cost { gains: self.gains + u32::from(!holds(kind)), ..self.step(flags) },
            Order::Shortest => Cost { hops: self.hops + 1, ..self },
        }
    }
}

/// How a search ranks paths: by [`Cost`] (flags, with or without holding before gaining, then hops), or by
/// hops alone.
/// A best path by cost can be longer than another way. The per-pair search then searches again within the hop
/// limit ([`Search::forward`], exact); the cores give a member whose preferred way runs past its budget its
/// shortest way when that fits (`cores::Run::within_budget`, the one user of [`Order::Shortest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Flags, then hops: how anchor searches find cores (which grant a principal reaches through whom).
    Flags,
    /// Flags, then holding before gaining, then hops: how a principal's own way is chosen.
    Preferred,
    /// Hops alone.
    Shortest,
}

/// Edges by which a principal holds a power: membership (and its Kubernetes mapping), a grant, the scope tree.
/// Every other step gains one.
pub(crate) fn holds(kind: EdgeKind) -> bool {
    matches!(
        kind,
        EdgeKind::MemberOf
            | EdgeKind::KubernetesIdentity
            | EdgeKind::HasRole
            | EdgeKind::AksClusterAdmin
            | EdgeKind::Contains
    )
}

/// A path as edges, source first.
pub(crate) type EdgePath = Vec<EdgeIndex>;

/// Edges left out of a what-if run (a plan being verified): the graph is unchanged, searches skip them.
#[derive(Debug, Clone, Default)]
pub struct EdgeMask(FxHashSet<EdgeIndex>);

impl EdgeMask {
    /// Leaves `e` out.
    pub fn insert(&mut self, e: EdgeIndex) {
        self.0.insert(e);
    }

    /// Whether `e` is left out.
    pub fn contains(&self, e: EdgeIndex) -> bool {
        !self.0.is_empty() && self.0.contains(&e)
    }

    /// How many edges are left out.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is left out.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Options that apply to every query of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// When false, PIM-eligible assignments are ignored even by queries that include them.
    pub include_eligible: bool,
    /// Also list every (principal, target) pair with the finding that explains it (`--expand`), derived from
    /// the findings ([`crate::expand`]).
    pub expand: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions { include_eligible: true, expand: false }
    }
}

/// Builds the graph, runs the queries and assembles the report: findings where they are fixed, exposure per
/// tier, choke points and a plan verified by re-running the queries without it.
pub fn analyze(snapshot: &Snapshot, queries: &[Query], options: AnalyzeOptions) -> Report {
    let graph = PrivilegeGraph::build(snapshot);
    analyze_graph(&graph, snapshot, queries, options)
}

/// [`analyze`] on a graph already built.
pub fn analyze_graph(
    graph: &PrivilegeGraph,
    snapshot: &Snapshot,
    queries: &[Query],
    options: AnalyzeOptions,
) -> Report {
    let mut cores = crate::cores::find(graph, queries, options, &EdgeMask::default());
    let reach = crate::choke::reach(graph, queries, &cores);
    // Each edge's fix made once for the choke points, the plan and the report: keys for all, whole fixes for
    // what the report shows.
    let mut fixes = crate::remediation::FixMemo::new(graph);
    let chokes = crate::choke::choke_points(graph, queries, options, &cores, &reach, &mut fixes);
    let mut plan = crate::choke::plan(graph, queries, options, &cores, &chokes, &mut fixes);
    let chokes = crate::choke::listed(chokes, &plan, &mut fixes);
    let after = crate::choke::reach(graph, queries, &plan.after);
    let tiers = crate::report::tiers(graph, queries, &cores, &reach, &plan, &after);
    let shown_plan = crate::report::plan(graph, queries, &plan, &mut fixes);
    // The member lists are the analysis's largest part: the re-run's go now, and each of the cores' as the
    // findings' member sets replace it.
    drop(std::mem::take(&mut plan.after));
    let found = crate::report::findings(graph, queries, &mut cores, &mut fixes);
    let mut report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: String::new(),
        collected_at: snapshot.metadata.collected_at.clone(),
        queries: queries.iter().map(query_info).collect(),
        tiers,
        choke_points: crate::report::choke_points(queries, &chokes, &found.ids, &mut fixes),
        plan: shown_plan,
        findings: found.findings,
        member_sets: found.member_sets,
        pairs: Vec::new(),
        posture_checks: crate::posture::CHECKS.iter().map(|c| c.info()).collect(),
        posture: crate::posture::run_on(snapshot, graph),
        coverage: snapshot
            .coverage
            .iter()
            .map(|g| CoverageNote { gap: g.clone(), may_hide: g.may_hide().to_string() })
            .collect(),
        warnings: graph.warnings.clone(),
    };
    if options.expand {
        report.pairs = crate::expand::expanded(&report);
    }
    report
}

/// What the report says about a query.
pub fn query_info(q: &Query) -> QueryInfo {
    QueryInfo {
        id: q.id.clone(),
        title: q.title.clone(),
        severity: q.severity,
        description: q.description.trim().to_string(),
        remediation: q.remediation.trim().to_string(),
        references: q.references.clone(),
        sources: q.sources.clone(),
    }
}

/// Sorts the per-pair search's pairs as the report's `pairs` are sorted: severity (highest first), query id,
/// target id, source id.
pub fn sort_pairs(pairs: &mut [Pair]) {
    pairs.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.query_id.cmp(&b.query_id))
            .then_with(|| a.target.id.cmp(&b.target.id))
            .then_with(|| a.source.id.cmp(&b.source.id))
    });
}

/// Answers one query over the whole graph.
pub fn run_query(graph: &PrivilegeGraph, query: &Query, options: AnalyzeOptions) -> Vec<Pair> {
    let mut out = Vec::new();
    for_each_pair(graph, query, options, &mut |f| out.push(f));
    out
}

/// Answers one query by the per-pair search, handing each pair to `emit` as it is found instead of collecting
/// them: memory stays bounded by one target's search however many pairs a large tenant has. The reference the
/// grouped report and `--expand` ([`crate::expand`], which derives the pairs from the findings) are tested
/// against.
pub fn for_each_pair(graph: &PrivilegeGraph, query: &Query, options: AnalyzeOptions, emit: &mut dyn FnMut(Pair)) {
    for_each_pair_without(graph, query, options, &EdgeMask::default(), emit)
}

/// [`for_each_pair`] with some edges left out.
pub fn for_each_pair_without(
    graph: &PrivilegeGraph,
    query: &Query,
    options: AnalyzeOptions,
    removed: &EdgeMask,
    emit: &mut dyn FnMut(Pair),
) {
    let eligible_ok = query.include_eligible && options.include_eligible;
    let follow_contains = query.edges.contains(&EdgeKind::Contains);
    let mut targets: Vec<NodeIndex> = query.targets.iter().flat_map(|k| graph.nodes_of_kind(*k)).collect();
    targets.sort();
    for target in targets {
        let is_scope = graph.node(target).kind.is_scope();
        let chain = if follow_contains && is_scope { graph.scope_chain(target) } else { vec![target] };
        let search = Search { graph, query, chain: &chain, target, eligible_ok, removed };
        let mut escapers: Option<Option<FxHashSet<NodeIndex>>> = None;
        for (source, path) in search.reverse() {
            let path = match search.checked_caps(&path) {
                // A best path past the hop limit: a costlier but shorter way may fit it.
                Some(_) if path.len() > query.max_hops => search.forward(source),
                Some(_) => Some(path),
                // Under a deny for everyone, only a source that can act as an exempted principal can have
                // another path: skip the forward search for the others.
                None => match escapers.get_or_insert_with(|| search.deny_escapers()) {
                    Some(can_escape) if !can_escape.contains(&source) => None,
                    _ => search.forward(source),
                },
            };
            if let Some(f) = path.and_then(|path| pair(&search, source, &path)) {
                emit(f);
            }
        }
    }
}

pub(crate) fn caps_answer(query: &Query, caps: Caps) -> bool {
    if query.capabilities.is_empty() {
        true
    } else {
        caps.intersects(query.capabilities)
    }
}

/// Edges along which one node comes to act with another's power (everything but role grants and the scope
/// tree).
pub(crate) fn is_identity_edge(kind: EdgeKind) -> bool {
    !matches!(kind, EdgeKind::HasRole | EdgeKind::Contains)
}

/// Search state: a node, whether the path from it already crosses one of the query's `via` edges, and whether
/// it needs a PIM activation (see [`Cost::step`]).
type State = (NodeIndex, bool, bool);

/// Forward search state: a node, whether the path crosses a `via` edge, the capability mask the last step
/// left pending for the next one (paths that reach a node under different masks can do different things
/// next, so they are different states), the identity acting (`NodeIndex::end()` when no deny assignment
/// exists to tell identities apart), whether it needs a PIM activation (see [`Cost::step`]), and the hops taken.
type ForwardState = (NodeIndex, bool, u32, NodeIndex, bool, u32);

/// Forward search bookkeeping: best cost to a state and the (edge, previous state) that reached it.
type ForwardBest = FxHashMap<ForwardState, (Cost, Option<(EdgeIndex, ForwardState)>)>;

/// The mask pending after stepping over `w` with `pending` left by the step before, or `None` when the mask
/// forbids the step (see [`path_caps`]).
fn step_mask(pending: u32, w: &crate::graph::EdgeData) -> Option<u32> {
    if w.kind == EdgeKind::MemberOf {
        return Some(pending);
    }
    let needs = crate::rbac::step_needs(w.kind);
    if pending != 0 && !needs.is_empty() && !Caps(pending).intersects(needs) {
        return None;
    }
    Some(if w.kind != EdgeKind::HasRole && !w.caps.is_empty() { w.caps.0 } else { 0 })
}

/// One target's search.
pub(crate) struct Search<'a> {
    graph: &'a PrivilegeGraph,
    query: &'a Query,
    /// The target and, for scopes, its ancestors (nearest first).
    chain: &'a [NodeIndex],
    target: NodeIndex,
    eligible_ok: bool,
    /// Edges the run leaves out.
    removed: &'a EdgeMask,
}

impl<'a> Search<'a> {
    /// A search for paths to `target`; `chain` is the target and, for scopes, its ancestors (nearest first).
    pub(crate) fn new(
        graph: &'a PrivilegeGraph,
        query: &'a Query,
        chain: &'a [NodeIndex],
        target: NodeIndex,
        eligible_ok: bool,
        removed: &'a EdgeMask,
    ) -> Search<'a> {
        Search { graph, query, chain, target, eligible_ok, removed }
    }

    fn allowed(&self, kind: EdgeKind, flags: u8) -> bool {
        self.query.edges.contains(&kind) && (self.eligible_ok || flags & ELIGIBLE == 0)
    }

    fn is_via(&self, kind: EdgeKind) -> bool {
        self.query.via.contains(&kind)
    }

    /// The edges that end a path: role grants into the target's chain, or any edge into a non-scope target.
    /// Gives (edge, extra hops below it down to the target).
    fn final_edges(&self) -> Vec<(EdgeIndex, u32)> {
        let g = &self.graph.graph;
        let mut out = Vec::new();
        if !g[self.target].kind.is_scope() {
            for e in g.edges_directed(self.target, Direction::Incoming) {
                let w = e.weight();
                if is_identity_edge(w.kind) && self.allowed(w.kind, w.flags) && !self.removed.contains(e.id()) {
                    out.push((e.id(), 0));
                }
            }
            return out;
        }
        for (depth, scope) in self.chain.iter().enumerate() {
            for e in g.edges_directed(*scope, Direction::Incoming) {
                let w = e.weight();
                if w.kind == EdgeKind::HasRole
                    && self.allowed(w.kind, w.flags)
                    && caps_answer(self.query, w.caps)
                    && !self.removed.contains(e.id())
                {
                    out.push((e.id(), depth as u32));
                }
            }
        }
        out
    }

    /// Multi-source reverse Dijkstra from the final edges back over identity edges. Returns each reached
    /// node of a source kind with its best path (source first, ending with the final edge), however long.
    fn reverse(&self) -> Vec<(NodeIndex, EdgePath)> {
        let g = &self.graph.graph;
        let no_via = self.query.via.is_empty();
        // For each state: best cost, the edge taken towards the target, and the state it leads to (`None`: the
        // edge ends the path; a way may pass the target before it crosses `via`).
        let mut best: FxHashMap<State, (Cost, EdgeIndex, Option<State>)> = FxHashMap::default();
        let mut heap = BinaryHeap::new();
        for (e, depth) in self.final_edges() {
            let (from, _, w) = self.graph.edge(e);
            let cost = Cost { hops: depth, ..Cost::default() }.advance(Order::Preferred, w.flags, w.kind);
            let state = (from, no_via || self.is_via(w.kind), w.flags & ELIGIBLE != 0);
            relax(&mut best, &mut heap, state, cost, (e, None));
        }
        let mut settled = Vec::new();
        while let Some(Reverse((cost, state))) = heap.pop() {
            if best.get(&state).is_some_and(|(c, _, _)| *c < cost) {
                continue;
            }
            settled.push(state);
            let (node, via, eligible) = state;
            for e in g.edges_directed(node, Direction::Incoming) {
                let w = e.weight();
                if !is_identity_edge(w.kind) || !self.allowed(w.kind, w.flags) || self.removed.contains(e.id()) {
                    continue;
                }
                let from = (e.source(), via || self.is_via(w.kind), eligible || w.flags & ELIGIBLE != 0);
                let step = (e.id(), Some(state));
                relax(&mut best, &mut heap, from, cost.advance(Order::Preferred, w.flags, w.kind), step);
            }
        }
        // Each source's best state: one that needs no activation if it can, by cost otherwise.
        settled.retain(|(n, via, _)| *via && self.query.sources.contains(&g[*n].kind) && *n != self.target);
        settled.sort_by_key(|s| (s.0, best[s].0));
        settled.dedup_by_key(|s| s.0);
        settled
            .into_iter()
            .map(|start| {
                let mut path = Vec::new();
                let mut state = start;
                loop {
                    let (_, e, next) = best[&state];
                    path.push(e);
                    match next {
                        Some(next) if path.len() <= 2 * self.graph.node_count() => state = next,
                        _ => break,
                    }
                }
                (start.0, path)
            })
            .collect()
    }

    /// Capabilities the path gives its actor at the target after deny assignments and the masks of the edges
    /// it crosses, if they still answer the query. Paths to non-scope targets carry no capability.
    fn checked_caps(&self, path: &[EdgeIndex]) -> Option<Caps> {
        let graph = self.graph;
        if !self.query.via.is_empty() && !path.iter().any(|e| self.is_via(graph.edge(*e).2.kind)) {
            return None;
        }
        if !path.iter().any(|e| graph.edge(*e).2.kind == EdgeKind::HasRole) {
            return (!graph.node(self.target).kind.is_scope() && masks_allow(graph, path)).then_some(Caps::EMPTY);
        }
        let source = graph.edge(path[0]).0;
        let denied = graph.denied_caps(actor_of(graph, source, path), self.target);
        path_caps(graph, self.query, path, denied)
    }

    /// When the deny assignments on the target that apply to everyone take away every capability the query
    /// asks for, the nodes that can reach (over identity edges) a principal one of them exempts: only paths
    /// from those can end with an actor the denies spare. `None` when any actor may be spared.
    pub(crate) fn deny_escapers(&self) -> Option<FxHashSet<NodeIndex>> {
        let graph = self.graph;
        if self.query.capabilities.is_empty() || graph.denies.is_empty() || !graph.node(self.target).kind.is_scope() {
            return None;
        }
        let universal: Vec<_> = graph.denies_at(self.target).into_iter().filter(|d| d.everyone).collect();
        let removed = universal.iter().fold(Caps::EMPTY, |acc, d| acc | d.removes);
        if !self.query.capabilities.without(removed).is_empty() {
            return None;
        }
        let g = &graph.graph;
        let mut seen: FxHashSet<NodeIndex> = FxHashSet::default();
        let mut stack: Vec<NodeIndex> =
            universal.iter().flat_map(|d| d.excluded.iter()).filter_map(|k| graph.lookup(k)).collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            for e in g.edges_directed(n, Direction::Incoming) {
                if is_identity_edge(e.weight().kind) {
                    stack.push(e.source());
                }
            }
        }
        Some(seen)
    }

    /// The best path from one source within the query's hop limit, used when a deny assignment, an edge's capability mask, a `via` requirement or the hop limit ruled out its
    /// best path. Exact: a state is a node with what decides every later step (`via`, the pending mask, the
    /// acting identity when deny assignments exist) and the hops taken, so a way that costs more but is shorter
    /// survives beside a better, longer one.
    pub(crate) fn forward(&self, source: NodeIndex) -> Option<EdgePath> {
        let g = &self.graph.graph;
        let no_via = self.query.via.is_empty();
        // The acting identity matters only to deny assignments.
        let track_actor = !self.graph.denies.is_empty();
        let actor_of = |actor: NodeIndex, kind: EdgeKind, to: NodeIndex| match kind {
            _ if !track_actor => NodeIndex::end(),
            kind if switches_identity(kind) => to,
            _ => actor,
        };
        let max_hops = self.query.max_hops as u32;
        let mut best: ForwardBest = FxHashMap::default();
        // Per state without its hops: the fewest hops it was settled with. Settled later (costing no less) with
        // no fewer hops, a way can do nothing the first could not.
        let mut settled: FxHashMap<(NodeIndex, bool, u32, NodeIndex, bool), u32> = FxHashMap::default();
        let start = (source, no_via, 0, if track_actor { source } else { NodeIndex::end() }, false, 0);
        best.insert(start, (Cost::default(), None));
        let mut heap = BinaryHeap::new();
        heap.push(Reverse((Cost::default(), start)));
        let mut answer: Option<(Cost, EdgePath)> = None;
        let scope_target = g[self.target].kind.is_scope();
        while let Some(Reverse((cost, state))) = heap.pop() {
            // Every answer from here on costs more than this state: the one found is the best.
            if answer.as_ref().is_some_and(|(c, _)| cost >= *c) {
                break;
            }
            if best.get(&state).is_some_and(|(c, _)| *c < cost) {
                continue;
            }
            let (node, via, pending, actor, eligible, hops) = state;
            match settled.entry((node, via, pending, actor, eligible)) {
                Entry::Occupied(e) if *e.get() <= hops => continue,
                Entry::Occupied(mut e) => *e.get_mut() = hops,
                Entry::Vacant(e) => {
                    e.insert(hops);
                }
            }
            for e in g.edges_directed(node, Direction::Outgoing) {
                let w = e.weight();
                if !self.allowed(w.kind, w.flags) || w.kind == EdgeKind::Contains || self.removed.contains(e.id()) {
                    continue;
                }
                let Some(next_mask) = step_mask(pending, w) else { continue };
                let next_via = via || self.is_via(w.kind);
                let next = cost.advance(Order::Preferred, w.flags, w.kind);
                let ends = if scope_target {
                    w.kind == EdgeKind::HasRole && self.chain.contains(&e.target())
                } else {
                    e.target() == self.target
                };
                if ends {
                    let depth = self.chain.iter().position(|s| *s == e.target()).unwrap_or(0) as u32;
                    let total = Cost { hops: next.hops + depth, ..next };
                    if hops < max_hops && answer.as_ref().is_none_or(|(c, _)| total < *c) {
                        let mut path = forward_path(&best, state);
                        path.push(e.id());
                        if self.checked_caps(&path).is_some() {
                            answer = Some((total, path));
                        }
                    }
                }
                // A way may pass the target and come back to it: before it crosses `via`, say.
                if is_identity_edge(w.kind) && hops + 1 < max_hops {
                    let next_eligible = eligible || w.flags & ELIGIBLE != 0;
                    let key =
                        (e.target(), next_via, next_mask, actor_of(actor, w.kind, e.target()), next_eligible, hops + 1);
                    if best.get(&key).is_none_or(|(c, _)| next < *c) {
                        best.insert(key, (next, Some((e.id(), state))));
                        heap.push(Reverse((next, key)));
                    }
                }
            }
        }
        answer.map(|(_, p)| p)
    }
}

fn relax(
    best: &mut FxHashMap<State, (Cost, EdgeIndex, Option<State>)>,
    heap: &mut BinaryHeap<Reverse<(Cost, State)>>,
    state: State,
    cost: Cost,
    (edge, next): (EdgeIndex, Option<State>),
) {
    let better = best.get(&state).is_none_or(|(c, _, _)| cost < *c);
    if better {
        best.insert(state, (cost, edge, next));
        heap.push(Reverse((cost, state)));
    }
}

/// Capabilities a path ending in a role grant gives at the grant's scope, after `denied` (what deny
/// assignments take from its actor there) and the capability masks of the edges it crosses, if they still
/// answer the query. `None` when the path has no role grant.
pub(crate) fn path_caps(graph: &PrivilegeGraph, query: &Query, path: &[EdgeIndex], denied: Caps) -> Option<Caps> {
    let role_edge = path.iter().rev().find(|e| graph.edge(**e).2.kind == EdgeKind::HasRole)?;
    let (_, _, w) = graph.edge(*role_edge);
    let grant = &graph.grants[w.evidence as usize];
    let assign = Capability::AssignRoles.bit() | Capability::AssignRolesLimited.bit();
    let delegated = if denied.intersects(assign) { Caps::EMPTY } else { grant.delegated_caps.without(denied) };
    let mut caps = grant.own_caps.without(denied) | delegated;
    // A capability mask (ASO: what the installed CRDs let it do) limits the power the identity it leads
    // to uses next: the next edge after any group memberships.
    for (i, e) in path.iter().enumerate() {
        let mask = graph.edge(*e).2;
        if mask.kind == EdgeKind::HasRole || mask.caps.is_empty() {
            continue;
        }
        let Some(next) = path[i + 1..].iter().map(|e| graph.edge(*e).2).find(|w| w.kind != EdgeKind::MemberOf) else {
            continue;
        };
        let needs = match next.kind {
            EdgeKind::HasRole if std::ptr::eq(&graph.grants[next.evidence as usize], grant) => {
                caps = Caps(caps.0 & mask.caps.0);
                continue;
            }
            kind => match crate::rbac::step_needs(kind) {
                needs if needs.is_empty() => continue,
                needs => needs,
            },
        };
        if !mask.caps.intersects(needs) {
            return None;
        }
    }
    caps_answer(query, caps).then_some(caps)
}

/// Whether the capability masks on a way allow the steps after them (see [`path_caps`], which also applies them
/// to a role's power): a mask limits what the identity it leads to does next, so a mask followed by
/// federated-credential writing, AKS admin, running code on compute or attaching an identity needs the
/// capabilities [`crate::rbac::step_needs`] lists. Checked on members' ways, and on whole paths that end at an
/// identity rather than through a role grant.
pub(crate) fn masks_allow(graph: &PrivilegeGraph, path: &[EdgeIndex]) -> bool {
    path.iter().enumerate().all(|(i, e)| {
        let mask = graph.edge(*e).2;
        if mask.kind == EdgeKind::HasRole || mask.caps.is_empty() {
            return true;
        }
        let next = path[i + 1..].iter().map(|e| graph.edge(*e).2).find(|w| w.kind != EdgeKind::MemberOf);
        let needs = next.map_or(Caps::EMPTY, |w| crate::rbac::step_needs(w.kind));
        if needs.is_empty() {
            return true;
        }
        mask.caps.intersects(needs)
    })
}

/// Who performs the final action of a path: the source, or the identity it last switched to. Group
/// membership does not switch identity (a group never acts), so deny assignments are checked for this actor.
pub(crate) fn actor_of(graph: &PrivilegeGraph, source: NodeIndex, path: &[EdgeIndex]) -> NodeIndex {
    let mut actor = source;
    for e in path {
        let (_, to, w) = graph.edge(*e);
        if switches_identity(w.kind) {
            actor = to;
        }
    }
    actor
}

/// Whether a step makes the identity it leads to the one acting: every step but membership (a group never
/// acts), a role grant and the scope tree.
pub(crate) fn switches_identity(kind: EdgeKind) -> bool {
    !matches!(kind, EdgeKind::MemberOf | EdgeKind::HasRole | EdgeKind::Contains)
}

/// The edges that led a forward search to `state`, source first.
fn forward_path(best: &ForwardBest, state: ForwardState) -> EdgePath {
    let mut path = Vec::new();
    let mut cur = state;
    while let Some((_, Some((e, prev)))) = best.get(&cur) {
        path.push(*e);
        cur = *prev;
    }
    path.reverse();
    path
}

fn pair(search: &Search, source: NodeIndex, path: &[EdgeIndex]) -> Option<Pair> {
    let (graph, query, target, chain) = (search.graph, search.query, search.target, search.chain);
    let caps = search.checked_caps(path)?;
    let mut hops: Vec<Hop> = path.iter().map(|e| hop(graph, *e)).collect();
    // A role edge lands on some scope of the chain; walk down the tree to the target.
    let landed = graph.edge(*path.last()?).1;
    let depth = chain.iter().position(|s| *s == landed).unwrap_or(0);
    for i in (1..=depth).rev() {
        let (parent, child) = (chain[i], chain[i - 1]);
        let e = graph.graph.find_edge(parent, child)?;
        hops.push(hop(graph, e));
    }
    let eligible = hops.iter().any(|h| h.eligible);
    let conditional = hops.iter().any(|h| h.conditional);
    let remediation = remediation(graph, path, landed != target);
    Some(Pair {
        query_id: query.id.clone(),
        title: query.title.clone(),
        severity: query.severity,
        source: graph.node_ref(source),
        target: graph.node_ref(target),
        capabilities: caps.names(),
        hops,
        eligible,
        conditional,
        remediation,
    })
}

pub(crate) fn hop(graph: &PrivilegeGraph, e: EdgeIndex) -> Hop {
    let (a, b, w) = graph.edge(e);
    let (from, to) = (graph.node_ref(a), graph.node_ref(b));
    let (evidence, detail, label) = match w.kind {
        EdgeKind::MemberOf => (
            vec![to.id.clone()],
            format!("{} is a member of group {}", from.display_name, to.display_name),
            "member of".to_string(),
        ),
        EdgeKind::Contains => (
            vec![from.id.clone(), to.id.clone()],
            format!("{} is inside {}: assignments there apply here", to.display_name, from.display_name),
            "contains".to_string(),
        ),
        EdgeKind::HasRole => {
            let g = &graph.grants[w.evidence as usize];
            let mut detail = format!("{} holds {} at {}", from.display_name, g.role_name, to.display_name);
            if g.eligible {
                detail.push_str(" as a PIM-eligible assignment (needs activation)");
            }
            if let Some(d) = &g.delegation {
                detail.push_str(&format!(", limited by its condition to assigning: {d}"));
            }
            let caps = (g.own_caps | g.delegated_caps).headline().names();
            if !caps.is_empty() {
                detail.push_str(&format!(" [{}]", caps.join(", ")));
            }
            if let Some(n) = &g.note {
                detail.push_str(&format!(" ({n})"));
            } else if g.conditional {
                detail.push_str(" (its condition could not be fully evaluated)");
            }
            let label = if g.eligible { format!("{} (PIM eligible)", g.role_name) } else { g.role_name.to_string() };
            (vec![g.assignment_id.to_string(), g.role_definition_id.to_string()], detail, label)
        }
        _ => {
            let n = &graph.notes[w.evidence as usize];
            (n.evidence.iter().map(|e| e.to_string()).collect(), n.detail.clone(), n.label.to_string())
        }
    };
    Hop {
        from,
        to,
        edge: w.kind,
        label,
        evidence,
        detail,
        eligible: w.flags & ELIGIBLE != 0,
        conditional: w.flags & CONDITIONAL != 0,
        fix: None,
    }
}
