//! `azpath paths`: the best path from one node to another over any edges.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::FxHashMap;

use crate::engine::{hop, Cost, EdgePath};
use crate::findings::Hop;
use crate::graph::{PrivilegeGraph, ELIGIBLE};
use crate::model::EdgeKind;
use crate::rbac::Caps;

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
