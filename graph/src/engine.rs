//! The query engine: one multi-source reverse search per target, paths explained hop by hop.
//!
//! For a target scope T, every `HAS_ROLE` edge into T or one of its ancestors whose capabilities answer the
//! query seeds a Dijkstra search that runs backwards over identity edges (`MEMBER_OF`: a group's power
//! reaches its members). Every principal reached is a source with its best path to T: active before
//! PIM-eligible, understood before conditional, then fewest hops. Deny assignments depend on who acts, so
//! each found path is checked against them for its acting principal; when a deny cuts it, a forward search
//! from that source looks for another way.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::FxHashMap;

use crate::findings::{CoverageNote, Finding, Hop, QueryInfo, Remediation, Report, REPORT_SCHEMA_VERSION};
use crate::graph::{PrivilegeGraph, CONDITIONAL, ELIGIBLE};
use crate::model::{EdgeKind, NodeKind};
use crate::query::Query;
use crate::rbac::{Capability, Caps};
use crate::snapshot::Snapshot;

/// Path cost, compared lexicographically: PIM activations, then conditional hops, then hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Cost {
    eligible: u32,
    conditional: u32,
    hops: u32,
}

impl Cost {
    fn step(self, flags: u8) -> Cost {
        Cost {
            eligible: self.eligible + u32::from(flags & ELIGIBLE != 0),
            conditional: self.conditional + u32::from(flags & CONDITIONAL != 0),
            hops: self.hops + 1,
        }
    }
}

/// A path as edges, source first.
type EdgePath = Vec<EdgeIndex>;

/// Options that apply to every query of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// When false, PIM-eligible assignments are ignored even by queries that include them.
    pub include_eligible: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions { include_eligible: true }
    }
}

/// Builds the graph, runs the queries and assembles the report.
pub fn analyze(snapshot: &Snapshot, queries: &[Query], options: AnalyzeOptions) -> Report {
    let graph = PrivilegeGraph::build(snapshot);
    let mut findings: Vec<Finding> = queries.iter().flat_map(|q| run_query(&graph, q, options)).collect();
    sort_findings(&mut findings);
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: String::new(),
        collected_at: snapshot.metadata.collected_at.clone(),
        queries: queries
            .iter()
            .map(|q| QueryInfo {
                id: q.id.clone(),
                title: q.title.clone(),
                severity: q.severity,
                description: q.description.trim().to_string(),
                remediation: q.remediation.trim().to_string(),
                references: q.references.clone(),
            })
            .collect(),
        findings,
        coverage: snapshot
            .coverage
            .iter()
            .map(|g| CoverageNote { gap: g.clone(), may_hide: g.may_hide().to_string() })
            .collect(),
        warnings: graph.warnings.clone(),
    }
}

/// Sorts findings: severity (highest first), query id, target id, source id.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.query_id.cmp(&b.query_id))
            .then_with(|| a.target.id.cmp(&b.target.id))
            .then_with(|| a.source.id.cmp(&b.source.id))
    });
}

/// Answers one query over the whole graph.
pub fn run_query(graph: &PrivilegeGraph, query: &Query, options: AnalyzeOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    for_each_finding(graph, query, options, &mut |f| out.push(f));
    out
}

/// Answers one query, handing each finding to `emit` as it is found instead of collecting them: memory
/// stays bounded by one target's search however many findings a large tenant has.
pub fn for_each_finding(graph: &PrivilegeGraph, query: &Query, options: AnalyzeOptions, emit: &mut dyn FnMut(Finding)) {
    let eligible_ok = query.include_eligible && options.include_eligible;
    let follow_contains = query.edges.contains(&EdgeKind::Contains);
    let mut targets: Vec<NodeIndex> = query.targets.iter().flat_map(|k| graph.nodes_of_kind(*k)).collect();
    targets.sort();
    for target in targets {
        let chain = if follow_contains { graph.scope_chain(target) } else { vec![target] };
        for (source, path) in reverse_search(graph, query, &chain, eligible_ok) {
            let path = match checked_caps(graph, query, &path, target) {
                Some(_) => Some(path),
                None => forward_search(graph, query, source, &chain, target, eligible_ok),
            };
            if let Some(f) = path.and_then(|path| finding(graph, query, source, target, &chain, &path)) {
                emit(f);
            }
        }
    }
}

fn edge_allowed(query: &Query, kind: EdgeKind, flags: u8, eligible_ok: bool) -> bool {
    query.edges.contains(&kind) && (eligible_ok || flags & ELIGIBLE == 0)
}

fn caps_answer(query: &Query, caps: Caps) -> bool {
    if query.capabilities.is_empty() {
        true
    } else {
        caps.intersects(query.capabilities)
    }
}

/// Multi-source reverse Dijkstra from the role edges into `chain` back over identity edges. Returns each
/// reached principal of a source kind with its best path (source first, ending with the `HAS_ROLE` edge).
fn reverse_search(
    graph: &PrivilegeGraph,
    query: &Query,
    chain: &[NodeIndex],
    eligible_ok: bool,
) -> Vec<(NodeIndex, EdgePath)> {
    let g = &graph.graph;
    let mut best: FxHashMap<NodeIndex, (Cost, EdgeIndex)> = FxHashMap::default();
    let mut heap = BinaryHeap::new();
    for (depth, scope) in chain.iter().enumerate() {
        for e in g.edges_directed(*scope, Direction::Incoming) {
            let w = e.weight();
            if w.kind != EdgeKind::HasRole
                || !edge_allowed(query, w.kind, w.flags, eligible_ok)
                || !caps_answer(query, w.caps)
            {
                continue;
            }
            let cost = Cost { hops: depth as u32, ..Cost::default() }.step(w.flags);
            relax(&mut best, &mut heap, e.source(), cost, e.id());
        }
    }
    let mut settled = Vec::new();
    while let Some(Reverse((cost, node))) = heap.pop() {
        if best.get(&node).is_some_and(|(c, _)| *c < cost) {
            continue;
        }
        settled.push(node);
        for e in g.edges_directed(node, Direction::Incoming) {
            let w = e.weight();
            if !is_identity_edge(w.kind) || !edge_allowed(query, w.kind, w.flags, eligible_ok) {
                continue;
            }
            relax(&mut best, &mut heap, e.source(), cost.step(w.flags), e.id());
        }
    }
    settled.sort();
    settled
        .into_iter()
        .filter(|n| query.sources.contains(&g[*n].kind))
        .filter_map(|n| {
            let mut path = Vec::new();
            let mut cur = n;
            loop {
                let (_, e) = best[&cur];
                path.push(e);
                let (_, to, w) = graph.edge(e);
                if w.kind == EdgeKind::HasRole {
                    break;
                }
                cur = to;
            }
            let hops = path.len();
            (hops <= query.max_hops).then_some((n, path))
        })
        .collect()
}

fn relax(
    best: &mut FxHashMap<NodeIndex, (Cost, EdgeIndex)>,
    heap: &mut BinaryHeap<Reverse<(Cost, NodeIndex)>>,
    node: NodeIndex,
    cost: Cost,
    via: EdgeIndex,
) {
    let better = best.get(&node).is_none_or(|(c, _)| cost < *c);
    if better {
        best.insert(node, (cost, via));
        heap.push(Reverse((cost, node)));
    }
}

/// Edges along which one principal comes to act with another's power.
fn is_identity_edge(kind: EdgeKind) -> bool {
    matches!(kind, EdgeKind::MemberOf)
}

/// Who performs the final action of a path: the source, or the identity it last switched to. Group
/// membership does not switch identity (a group never acts), so deny assignments are checked for this actor.
fn actor_of(graph: &PrivilegeGraph, source: NodeIndex, path: &[EdgeIndex]) -> NodeIndex {
    let mut actor = source;
    for e in path {
        let (_, to, w) = graph.edge(*e);
        if w.kind != EdgeKind::MemberOf && w.kind != EdgeKind::HasRole && w.kind != EdgeKind::Contains {
            actor = to;
        }
    }
    actor
}

/// Capabilities the path's final role edge gives its actor at `target` after deny assignments, if they still
/// answer the query.
fn checked_caps(graph: &PrivilegeGraph, query: &Query, path: &[EdgeIndex], target: NodeIndex) -> Option<Caps> {
    let role_edge = *path.iter().rev().find(|e| graph.edge(**e).2.kind == EdgeKind::HasRole)?;
    let (_, _, w) = graph.edge(role_edge);
    let source = graph.edge(path[0]).0;
    let grant = &graph.grants[w.evidence as usize];
    let denied = graph.denied_caps(actor_of(graph, source, path), target);
    let assign = Capability::AssignRoles.bit() | Capability::AssignRolesLimited.bit();
    let delegated = if denied.intersects(assign) { Caps::EMPTY } else { grant.delegated_caps.without(denied) };
    let caps = grant.own_caps.without(denied) | delegated;
    caps_answer(query, caps).then_some(caps)
}

/// Forward Dijkstra from one source, used when a deny assignment cut its best path.
fn forward_search(
    graph: &PrivilegeGraph,
    query: &Query,
    source: NodeIndex,
    chain: &[NodeIndex],
    target: NodeIndex,
    eligible_ok: bool,
) -> Option<EdgePath> {
    let g = &graph.graph;
    let mut best: FxHashMap<NodeIndex, (Cost, Option<EdgeIndex>)> = FxHashMap::default();
    best.insert(source, (Cost::default(), None));
    let mut heap = BinaryHeap::new();
    heap.push(Reverse((Cost::default(), source)));
    let mut answer: Option<(Cost, EdgePath)> = None;
    while let Some(Reverse((cost, node))) = heap.pop() {
        if best.get(&node).is_some_and(|(c, _)| *c < cost) {
            continue;
        }
        let prefix = back_path(graph, &best, node);
        for e in g.edges_directed(node, Direction::Outgoing) {
            let w = e.weight();
            if !edge_allowed(query, w.kind, w.flags, eligible_ok) {
                continue;
            }
            if w.kind == EdgeKind::HasRole {
                let Some(depth) = chain.iter().position(|s| *s == e.target()) else {
                    continue;
                };
                let mut path = prefix.clone();
                path.push(e.id());
                if path.len() + depth > query.max_hops || checked_caps(graph, query, &path, target).is_none() {
                    continue;
                }
                let total = Cost { hops: cost.hops + depth as u32, ..cost }.step(w.flags);
                if answer.as_ref().is_none_or(|(c, _)| total < *c) {
                    answer = Some((total, path));
                }
            } else if is_identity_edge(w.kind) {
                let next = cost.step(w.flags);
                if best.get(&e.target()).is_none_or(|(c, _)| next < *c) {
                    best.insert(e.target(), (next, Some(e.id())));
                    heap.push(Reverse((next, e.target())));
                }
            }
        }
    }
    answer.map(|(_, p)| p)
}

/// The edges that led a forward search to `node`, source first.
fn back_path(
    graph: &PrivilegeGraph,
    best: &FxHashMap<NodeIndex, (Cost, Option<EdgeIndex>)>,
    node: NodeIndex,
) -> EdgePath {
    let mut path = Vec::new();
    let mut cur = node;
    while let Some((_, Some(e))) = best.get(&cur) {
        path.push(*e);
        cur = graph.edge(*e).0;
    }
    path.reverse();
    path
}

fn finding(
    graph: &PrivilegeGraph,
    query: &Query,
    source: NodeIndex,
    target: NodeIndex,
    chain: &[NodeIndex],
    path: &[EdgeIndex],
) -> Option<Finding> {
    let caps = checked_caps(graph, query, path, target)?;
    let mut hops: Vec<Hop> = path.iter().map(|e| hop(graph, *e)).collect();
    // The role edge lands on some scope of the chain; walk down the tree to the target.
    let landed = graph.edge(*path.last()?).1;
    let depth = chain.iter().position(|s| *s == landed)?;
    for i in (1..=depth).rev() {
        let (parent, child) = (chain[i], chain[i - 1]);
        let e = graph.graph.find_edge(parent, child)?;
        hops.push(hop(graph, e));
    }
    let eligible = hops.iter().any(|h| h.eligible);
    let conditional = hops.iter().any(|h| h.conditional);
    let remediation = remediation(graph, source, path, landed != target);
    Some(Finding {
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

fn hop(graph: &PrivilegeGraph, e: EdgeIndex) -> Hop {
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
            let label = if g.eligible { format!("{} (PIM eligible)", g.role_name) } else { g.role_name.clone() };
            (vec![g.assignment_id.clone(), g.role_definition_id.clone()], detail, label)
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
    }
}

/// The least-collateral cut: a membership of the source when the power comes through a group (only the
/// source loses it), otherwise the assignment itself.
fn remediation(graph: &PrivilegeGraph, source: NodeIndex, path: &[EdgeIndex], inherited: bool) -> Remediation {
    let first = graph.edge(path[0]);
    let src = graph.node_ref(source);
    if first.2.kind == EdgeKind::MemberOf {
        let group = graph.node_ref(first.1);
        return Remediation {
            summary: format!(
                "Remove {} from group {} (only this member loses the path), or narrow the group's role assignment",
                src.display_name, group.display_name
            ),
            command: Some(format!("az ad group member remove --group {} --member-id {}", group.id, src.id)),
        };
    }
    let Some(role_edge) = path.iter().rev().find(|e| graph.edge(**e).2.kind == EdgeKind::HasRole) else {
        return Remediation { summary: "Review the path".into(), command: None };
    };
    let (holder, _, w) = graph.edge(*role_edge);
    let g = &graph.grants[w.evidence as usize];
    let holder = graph.node_ref(holder);
    let scope_note = if inherited { " (it is inherited here: move it down to the scopes actually needed)" } else { "" };
    if g.eligible {
        return Remediation {
            summary: format!("Remove the PIM eligibility of {} at {} for {}{scope_note}", g.role_name, g.scope, holder.display_name),
            command: Some(format!(
                "az rest --method put --url \"https://management.azure.com{}/providers/Microsoft.Authorization/roleEligibilityScheduleRequests/$(uuidgen)?api-version=2020-10-01\" --body '{{\"properties\":{{\"principalId\":\"{}\",\"roleDefinitionId\":\"{}\",\"requestType\":\"AdminRemove\"}}}}'",
                if g.scope == "/" { "" } else { &g.scope },
                holder.id,
                g.role_definition_id
            )),
        };
    }
    let what = if g.delegation.is_some() {
        format!("Narrow the condition of the {} assignment of {} at {} so it cannot grant these roles, or remove it{scope_note}", g.role_name, holder.display_name, g.scope)
    } else {
        format!(
            "Remove the {} assignment of {} at {}, or replace it with a narrower role or scope{scope_note}",
            g.role_name, holder.display_name, g.scope
        )
    };
    Remediation { summary: what, command: Some(format!("az role assignment delete --ids {}", g.assignment_id)) }
}

/// Finds the best path from `from` to `to` over any edges, for `azpath paths`. When `capabilities` is not
/// empty, only role edges conferring one of them count. Returns the hops, source first.
pub fn find_path(
    graph: &PrivilegeGraph,
    from: NodeIndex,
    to: NodeIndex,
    capabilities: Caps,
    include_eligible: bool,
) -> Option<Vec<Hop>> {
    let g = &graph.graph;
    let mut best: FxHashMap<NodeIndex, (Cost, Option<EdgeIndex>)> = FxHashMap::default();
    best.insert(from, (Cost::default(), None));
    let mut heap = BinaryHeap::new();
    heap.push(Reverse((Cost::default(), from)));
    while let Some(Reverse((cost, node))) = heap.pop() {
        if best.get(&node).is_some_and(|(c, _)| *c < cost) {
            continue;
        }
        if node == to {
            return Some(back_path(graph, &best, node).into_iter().map(|e| hop(graph, e)).collect());
        }
        for e in g.edges_directed(node, Direction::Outgoing) {
            let w = e.weight();
            if !include_eligible && w.flags & ELIGIBLE != 0 {
                continue;
            }
            if w.kind == EdgeKind::HasRole {
                let grant = &graph.grants[w.evidence as usize];
                let denied = if g[to].kind.is_scope() { graph.denied_caps(from, to) } else { Caps::EMPTY };
                let caps = (grant.own_caps | grant.delegated_caps).without(denied);
                if !capabilities.is_empty() && !caps.intersects(capabilities) {
                    continue;
                }
            }
            let next = cost.step(w.flags);
            if best.get(&e.target()).is_none_or(|(c, _)| next < *c) {
                best.insert(e.target(), (next, Some(e.id())));
                heap.push(Reverse((next, e.target())));
            }
        }
    }
    None
}

/// Kinds of node a user can name as a path source.
pub fn is_source_kind(kind: NodeKind) -> bool {
    kind.is_principal()
}
