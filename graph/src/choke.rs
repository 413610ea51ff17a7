//! Exposure, choke points and the least-privilege plan, computed on the cores.
//!
//! - Exposure of a tier: the principals that act (users, service principals, managed identities, Kubernetes
//!   subjects) of the query's source kinds that reach at least one of its targets.
//! - Choke points: for each tier, the reverse graph of the states the tier's anchors can be reached from,
//!   with every graph edge split into a node of its own, under one super-target. An edge node that dominates
//!   a principal lies on every path of that principal into the tier: removing the edge cuts it off. (Deny
//!   assignments and capability masks, which depend on the pair, are not part of this graph: a principal they
//!   cut still counts as reaching, so the figure never overstates a cut.) A fix that removes several edges
//!   (a role assignment behind several derived edges) counts the most any one of them cuts. Ranked by the
//!   principals cut per tier weighted by the tier's severity (x4 per level), then by principals cut.
//! - Plan: greedy set cover of the escalation cores by fixes (most cores covered, then least collateral, then
//!   with a command), applied as an edge mask and verified by re-running every query; what the re-run still
//!   finds is covered in the next round.

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::cores::{all_anchors, Cores, Profile};
use crate::engine::{is_identity_edge, AnalyzeOptions, EdgeMask};
use crate::graph::PrivilegeGraph;
use crate::model::NodeKind;
use crate::query::Query;
use crate::remediation::FixMemo;

mod dom;

/// Who reaches one tier.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reach {
    /// Exposed principals that reach it, and whether by a standing grant.
    pub principals: FxHashMap<NodeIndex, bool>,
    /// Distinct (principal, target) pairs, principals of every source kind.
    pub pairs: usize,
}

/// Who reaches each tier.
pub(crate) fn reach(graph: &PrivilegeGraph, queries: &[Query], cores: &Cores) -> Vec<Reach> {
    (0..queries.len()).map(|qi| TierReach::new(graph, &queries[qi], qi, cores).count(graph)).collect()
}

/// One tier's cores seen from their principals: target lists are pooled per head and per shared member list,
/// so a member of many cores is visited once per list it is in, not once per core.
struct TierReach<'a> {
    /// Per principal heading cores: their targets, whether one of them is standing, the cores.
    heads: FxHashMap<NodeIndex, Pooled<'a>>,
    /// Per shared member list (by address): the targets of its cores, whether one is standing, the cores, and
    /// the list.
    sets: FxHashMap<usize, Pooled<'a>>,
    /// Per principal some core leaves pairs out for: the targets left out (by some core).
    excluded: FxHashMap<NodeIndex, Vec<NodeIndex>>,
    query: &'a Query,
    qi: usize,
    cores: &'a Cores,
}

/// Cores pooled by who gets their targets (a head, or a shared member list's members).
#[derive(Default)]
struct Pooled<'a> {
    targets: Vec<NodeIndex>,
    standing: bool,
    cores: Vec<u32>,
    members: Option<&'a crate::cores::MemberList>,
}

impl<'a> TierReach<'a> {
    fn new(graph: &PrivilegeGraph, query: &'a Query, qi: usize, cores: &'a Cores) -> Self {
        let mut r = TierReach {
            heads: FxHashMap::default(),
            sets: FxHashMap::default(),
            excluded: FxHashMap::default(),
            query,
            qi,
            cores,
        };
        for (ci, core) in cores.cores.iter().enumerate() {
            let Some(tier) = core.tiers.iter().find(|t| t.query == qi) else { continue };
            let standing = core.is_standing(graph);
            for (p, t) in &tier.excluded {
                r.excluded.entry(*p).or_default().push(*t);
            }
            let pool = |into: &mut Pooled<'a>| {
                into.targets.extend(tier.targets.iter().copied());
                into.standing |= standing;
                into.cores.push(ci as u32);
            };
            pool(r.heads.entry(core.head).or_default());
            if !core.members.is_empty() {
                let key = std::rc::Rc::as_ptr(&core.members) as usize;
                let set =
                    r.sets.entry(key).or_insert_with(|| Pooled { members: Some(&core.members), ..Pooled::default() });
                pool(set);
            }
        }
        for pooled in r.heads.values_mut().chain(r.sets.values_mut()) {
            pooled.targets.sort();
            pooled.targets.dedup();
        }
        for targets in r.excluded.values_mut() {
            targets.sort();
            targets.dedup();
        }
        r
    }

    /// Exposure and distinct pairs.
    fn count(self, graph: &PrivilegeGraph) -> Reach {
        // Every target list once (a head's, a member list's), with who gets it: the head, or the list's members
        // (each with whether it holds the list's standing grant rather than escalating into it).
        let (kinds, sources) = (graph.kinds(), crate::model::KindSet::of(&self.query.sources));
        let source = |n: NodeIndex| sources.contains(kinds[n.index()]);
        let mut all: Vec<&[NodeIndex]> = Vec::new();
        let mut given: Vec<(Option<NodeIndex>, &Pooled)> = Vec::new();
        for (head, pooled) in &self.heads {
            all.push(&pooled.targets);
            given.push((Some(*head).filter(|h| source(*h)), pooled));
        }
        for pooled in self.sets.values() {
            all.push(&pooled.targets);
            given.push((None, pooled));
        }
        // Per principal the lists it gets, in compressed rows (counted, then filled in list order, so each row is
        // sorted), and whether one of them holds it by a standing grant.
        let mut start = vec![0u32; graph.node_count() + 1];
        for g in &given {
            visit(g, source, |p, _| start[p.index() + 1] += 1);
        }
        for i in 0..graph.node_count() {
            start[i + 1] += start[i];
        }
        let mut rows = vec![0u32; start[graph.node_count()] as usize];
        let mut filled = start.clone();
        let mut standing_of = vec![false; graph.node_count()];
        for (list, g) in given.iter().enumerate() {
            visit(g, source, |p, standing| {
                rows[filled[p.index()] as usize] = list as u32;
                filled[p.index()] += 1;
                standing_of[p.index()] |= standing;
            });
        }
        drop(filled);
        // Lists with the same targets (the pivots under one scope, the groups holding one role there) are one
        // set to the union: a principal's row is its distinct sets.
        let mut set_ids: FxHashMap<&[NodeIndex], u32> = FxHashMap::default();
        let set_of: Vec<u32> = all
            .iter()
            .map(|list| {
                let next = set_ids.len() as u32;
                *set_ids.entry(*list).or_insert(next)
            })
            .collect();
        let mut sets: Vec<&[NodeIndex]> = vec![&[]; set_ids.len()];
        for (list, id) in set_ids {
            sets[id as usize] = list;
        }
        let mut union = Union::new(graph.node_count(), &sets);
        // Principals with the same sets (members of the same groups) reach as many targets, unless they are
        // targets themselves: counted once.
        let mut sizes: FxHashMap<Box<[u32]>, usize> = FxHashMap::default();
        let mut row: Vec<u32> = Vec::new();
        let mut out = Reach::default();
        for i in 0..graph.node_count() {
            let ids = &rows[start[i] as usize..start[i + 1] as usize];
            if ids.is_empty() {
                continue;
            }
            row.clear();
            row.extend(ids.iter().map(|id| set_of[*id as usize]));
            row.sort_unstable();
            row.dedup();
            let p = NodeIndex::new(i);
            let n = match union.is_target(p) {
                true => union.size(&sets, &row, p),
                false => match sizes.get(row.as_slice()) {
                    Some(n) => *n,
                    None => *sizes.entry(row.as_slice().into()).or_insert(union.size(&sets, &row, p)),
                },
            };
            let n = n - self.lost(p, ids, &given);
            out.pairs += n;
            if n > 0 && kinds[i].is_exposed() {
                out.principals.insert(p, standing_of[i]);
            }
        }
        out
    }

    /// How many of the targets `p`'s lists (`ids`, into `given`) give it are left out by every core that
    /// gives them (exclusions are rare: deny assignments, the hop limit, masks on a member's way). Only a
    /// target some core leaves out for `p` can be one, so only those are looked up, in the cores of `p`'s lists.
    fn lost(&self, p: NodeIndex, ids: &[u32], given: &[(Option<NodeIndex>, &Pooled)]) -> usize {
        let Some(left_out) = self.excluded.get(&p) else { return 0 };
        let gives = |t: NodeIndex| {
            ids.iter().any(|id| {
                let pooled = given[*id as usize].1;
                pooled.targets.binary_search(&t).is_ok()
                    && pooled.cores.iter().any(|ci| {
                        let core = &self.cores.cores[*ci as usize];
                        core.tiers
                            .iter()
                            .filter(|tier| tier.query == self.qi)
                            .any(|tier| tier.targets.binary_search(&t).is_ok() && !tier.is_excluded(p, t))
                    })
            })
        };
        left_out.iter().filter(|t| **t != p && !gives(**t)).count()
    }
}

/// Who gets one pooled list of targets, each with whether it holds the list's standing grant rather than
/// escalating into it: the head, or the list's members of the query's source kinds.
fn visit(
    &(head, pooled): &(Option<NodeIndex>, &Pooled),
    source: impl Fn(NodeIndex) -> bool,
    mut f: impl FnMut(NodeIndex, bool),
) {
    let standing = pooled.standing;
    if let Some(h) = head {
        f(h, standing);
    }
    let Some(list) = pooled.members else { return };
    // (Lists are walked twice per query that pools them: only what is needed of each member is read.)
    if standing {
        list.escalations().filter(|(n, _)| source(*n)).for_each(|(n, escalates)| f(n, !escalates));
    } else {
        list.nodes().filter(|n| source(*n)).for_each(|n| f(n, false));
    }
}

/// Sizes of unions of target lists, each principal's lists at a time. A list at least as long as a bitset over
/// the tier's targets is kept as one (a group holding a role over thousands of scopes costs one OR of
/// `targets / 64` words); a shorter one is marked entry by entry. So a principal costs, per list, the lesser of
/// its length and the bitset's, and the bitsets take no more memory than the lists they stand for.
struct Union {
    /// Dense index of each target, by node index (`u32::MAX` for a node that is no target).
    dense: Vec<u32>,
    /// Per list: the start of its bitset in `bits`, `u32::MAX` for a list marked entry by entry.
    row: Vec<u32>,
    bits: Vec<u64>,
    /// Words of a bitset.
    words: usize,
    /// The union being counted.
    scratch: Vec<u64>,
    /// Words of `scratch` written by marking, to clear.
    touched: Vec<u32>,
}

impl Union {
    /// Over the lists `all` of targets among `nodes` nodes.
    fn new(nodes: usize, all: &[&[NodeIndex]]) -> Union {
        let mut dense = vec![u32::MAX; nodes];
        let mut next = 0u32;
        for t in all.iter().flat_map(|l| l.iter()) {
            if dense[t.index()] == u32::MAX {
                dense[t.index()] = next;
                next += 1;
            }
        }
        let words = (next as usize).div_ceil(64).max(1);
        let mut u =
            Union { dense, row: Vec::new(), bits: Vec::new(), words, scratch: vec![0; words], touched: Vec::new() };
        for list in all {
            if list.len() < words {
                u.row.push(u32::MAX);
                continue;
            }
            let start = u.bits.len();
            u.row.push(start as u32);
            u.bits.resize(start + words, 0);
            for t in list.iter() {
                let d = u.dense[t.index()] as usize;
                u.bits[start + d / 64] |= 1 << (d % 64);
            }
        }
        u
    }

    /// Whether `p` is in some list.
    fn is_target(&self, p: NodeIndex) -> bool {
        self.dense[p.index()] != u32::MAX
    }

    /// Distinct targets of the given lists, `p` itself not counted.
    fn size(&mut self, all: &[&[NodeIndex]], ids: &[u32], p: NodeIndex) -> usize {
        if let [one] = ids {
            let list = all[*one as usize];
            return list.len() - usize::from(list.binary_search(&p).is_ok());
        }
        let w = self.words;
        let mut rows = 0;
        for id in ids.iter().filter(|id| self.row[**id as usize] != u32::MAX) {
            let start = self.row[*id as usize] as usize;
            for (a, b) in self.scratch.iter_mut().zip(&self.bits[start..start + w]) {
                *a |= b;
            }
            rows += 1;
        }
        let mut marked = 0;
        for id in ids.iter().filter(|id| self.row[**id as usize] == u32::MAX) {
            for t in all[*id as usize] {
                let d = self.dense[t.index()] as usize;
                let word = &mut self.scratch[d / 64];
                if *word & (1 << (d % 64)) == 0 {
                    if rows == 0 && *word == 0 {
                        self.touched.push((d / 64) as u32);
                    }
                    *word |= 1 << (d % 64);
                    marked += 1;
                }
            }
        }
        let own = Some(self.dense[p.index()]).filter(|d| *d != u32::MAX);
        let own = own.is_some_and(|d| self.scratch[d as usize / 64] & (1 << (d % 64)) != 0);
        let total = if rows == 0 {
            for word in self.touched.drain(..) {
                self.scratch[word as usize] = 0;
            }
            marked
        } else {
            let n: u32 = self.scratch.iter().map(|x| x.count_ones()).sum();
            self.scratch.iter_mut().for_each(|x| *x = 0);
            n as usize
        };
        total - usize::from(own)
    }
}

#[cfg(test)]
mod union_tests {
    use super::*;

    #[test]
    fn union_sizes_mix_bitset_rows_and_marked_lists_and_leave_the_principal_out() {
        let ids = |r: std::ops::Range<usize>| r.map(NodeIndex::new).collect::<Vec<_>>();
        // 200 targets: bitsets of 4 words. Lists of 4 or more are rows, shorter ones are marked.
        let long = ids(0..150);
        let short = ids(140..143);
        let far = ids(190..193);
        let rest = ids(150..200);
        let all: Vec<&[NodeIndex]> = vec![&long, &short, &far, &rest];
        let mut u = Union::new(300, &all);
        assert!(u.row[0] != u32::MAX && u.row[3] != u32::MAX, "long lists are rows");
        assert_eq!((u.row[1], u.row[2]), (u32::MAX, u32::MAX), "short lists are marked");
        let p = NodeIndex::new(250);
        assert_eq!(u.size(&all, &[0, 1], p), 150, "a marked list inside a row adds nothing");
        assert_eq!(u.size(&all, &[1, 2], p), 6, "marked lists only");
        assert_eq!(u.size(&all, &[0, 1, 2], p), 153);
        assert_eq!(u.size(&all, &[3, 2], p), 50);
        // The principal is not its own target; and nothing is left over from the counts before.
        assert_eq!(u.size(&all, &[1, 2], NodeIndex::new(141)), 5);
        assert_eq!(u.size(&all, &[0, 2], NodeIndex::new(5)), 152);
        assert_eq!(u.size(&all, &[2], p), 3);
    }
}

/// A fix and the graph edges it removes, with what removing it does.
#[derive(Debug, Clone)]
pub(crate) struct Choke {
    /// The fix's key.
    pub key: String,
    /// Edges of the graph it removes (those seen on paths), the one whose fix it shows first.
    pub edges: Vec<EdgeIndex>,
    /// Per tier: (principals cut, pairs through it).
    pub tiers: FxHashMap<usize, (usize, usize)>,
    /// Exposed standing holders that lose a grant they hold.
    pub collateral: usize,
    /// Cores that rest on it.
    pub cores: Vec<usize>,
    /// Removing it takes a held grant away.
    pub standing: bool,
}

/// The fixes paths rest on: every edge of a core, and memberships that cut more than one principal.
pub(crate) fn choke_points(
    graph: &PrivilegeGraph,
    queries: &[Query],
    options: AnalyzeOptions,
    cores: &Cores,
    reach: &[Reach],
    fixes: &mut FixMemo,
) -> Vec<Choke> {
    let cuts = dominator_cuts(graph, queries, options, reach);
    // The choke points, each fix key's index among them, and each edge's choke point. Only each edge's fix key
    // is made here: the whole fix only for the choke points the report lists (their first edge's).
    let mut out: Vec<Choke> = Vec::new();
    let mut by_key: FxHashMap<String, usize> = FxHashMap::default();
    let mut of_edge: FxHashMap<EdgeIndex, usize> = FxHashMap::default();
    let mut touch = |out: &mut Vec<Choke>, e: EdgeIndex| -> usize {
        if let Some(i) = of_edge.get(&e) {
            return *i;
        }
        let key = fixes.key(e);
        let i = match by_key.get(key) {
            Some(i) => *i,
            None => {
                by_key.insert(key.to_string(), out.len());
                out.push(Choke {
                    key: key.to_string(),
                    edges: Vec::new(),
                    tiers: FxHashMap::default(),
                    collateral: 0,
                    cores: Vec::new(),
                    standing: false,
                });
                out.len() - 1
            }
        };
        out[i].edges.push(e);
        of_edge.insert(e, i);
        i
    };
    for ci in cores.shown() {
        let core = &cores.cores[ci];
        let standing = core.is_standing(graph);
        for tier in &core.tiers {
            let query = &queries[tier.query];
            let (principals, exposed) = core.principal_counts(graph.kinds(), query);
            let pairs = principals * tier.targets.len();
            for e in &core.edges {
                let i = touch(&mut out, *e);
                let c = &mut out[i];
                let entry = c.tiers.entry(tier.query).or_default();
                entry.0 = entry.0.max(cuts.get(&(tier.query, *e)).copied().unwrap_or(0));
                entry.1 += pairs;
                // (Cores come in order: a repeat is the last one.)
                if c.cores.last() != Some(&ci) {
                    c.cores.push(ci);
                }
                if standing {
                    c.standing = true;
                    c.collateral = c.collateral.max(exposed);
                }
            }
        }
    }
    // Memberships that cut off more than one principal (a nested group's membership in a group).
    let mut wide: Vec<(&(usize, EdgeIndex), &usize)> = cuts.iter().filter(|(_, n)| **n > 1).collect();
    wide.sort();
    for ((qi, e), n) in wide {
        if graph.edge(*e).2.kind != crate::model::EdgeKind::MemberOf {
            continue;
        }
        let i = touch(&mut out, *e);
        let c = &mut out[i];
        let entry = c.tiers.entry(*qi).or_default();
        entry.0 = entry.0.max(*n);
        c.standing = true;
        c.collateral = c.collateral.max(*n);
    }
    let weight = |c: &Choke| -> usize {
        c.tiers.iter().map(|(qi, (cut, _))| cut * (1usize << (queries[*qi].severity as usize * 2))).sum()
    };
    out.sort_by(|a, b| {
        weight(b)
            .cmp(&weight(a))
            .then(b.principals_cut().cmp(&a.principals_cut()))
            .then(a.collateral.cmp(&b.collateral))
            .then(b.pairs().cmp(&a.pairs()))
            .then(a.key.cmp(&b.key))
    });
    out
}

impl Choke {
    /// The most principals it cuts off from one tier.
    pub fn principals_cut(&self) -> usize {
        self.tiers.values().map(|t| t.0).max().unwrap_or(0)
    }

    /// Pairs through it, over all tiers.
    pub fn pairs(&self) -> usize {
        self.tiers.values().map(|t| t.1).sum()
    }
}

/// For each (tier, edge): how many of the tier's exposed principals lose every path into it without the edge.
fn dominator_cuts(
    graph: &PrivilegeGraph,
    queries: &[Query],
    options: AnalyzeOptions,
    reach: &[Reach],
) -> FxHashMap<(usize, EdgeIndex), usize> {
    let profiles: Vec<Profile> = queries.iter().map(|q| Profile::of(q, options)).collect();
    let anchors = all_anchors(graph, queries, &profiles, &EdgeMask::default());
    let mut out = FxHashMap::default();
    let mut tg = TierGraph::new(graph);
    for (qi, profile) in profiles.iter().enumerate() {
        if reach[qi].principals.is_empty() {
            continue;
        }
        tg.clear();
        for a in anchors.iter().filter(|a| a.query == qi) {
            let start = tg.state(a.start, a.via0);
            // (A repeated link does not change dominators.)
            match a.final_edge {
                Some(e) => {
                    let x = tg.edge_node(e, a.via0, start);
                    tg.links.push((ROOT, x));
                }
                None => tg.links.push((ROOT, start)),
            }
        }
        tg.expand(graph, profile);
        let idom = dom::immediate_dominators(tg.slots.len(), &tg.links, ROOT);
        for p in reach[qi].principals.keys() {
            let Some(s) = tg.states.get(state_key(*p, true)) else { continue };
            let mut cur = s;
            while cur != ROOT && idom[cur as usize] != u32::MAX {
                cur = idom[cur as usize];
                if let Some(e) = tg.slots[cur as usize] {
                    *out.entry((qi, e)).or_insert(0usize) += 1;
                }
            }
        }
    }
    out
}

/// The root of a tier's reverse graph.
const ROOT: u32 = 0;

/// Index of a (node, via) state in [`TierGraph::states`].
fn state_key(n: NodeIndex, via: bool) -> usize {
    n.index() * 2 + usize::from(via)
}

/// Index of a graph edge crossed with `via` in [`TierGraph::edges`].
fn edge_key(e: EdgeIndex, via: bool) -> usize {
    e.index() * 2 + usize::from(via)
}

/// A tier's reverse graph: states (node, via) and graph edges as nodes (numbered from 0, the root), and the
/// links between them. Its tables are kept from one tier to the next and cleared where they were written.
struct TierGraph {
    /// Per node of the reverse graph: the graph edge it stands for, `None` for the root and states.
    slots: Vec<Option<EdgeIndex>>,
    links: Vec<(u32, u32)>,
    states: Ids,
    edges: Ids,
    todo: Vec<(NodeIndex, bool)>,
}

/// Numbers of reverse-graph nodes by a dense key, `u32::MAX` for none, and the keys written (to clear them).
struct Ids {
    of: Vec<u32>,
    used: Vec<usize>,
}

impl Ids {
    fn new(n: usize) -> Ids {
        Ids { of: vec![u32::MAX; n], used: Vec::new() }
    }

    fn get(&self, key: usize) -> Option<u32> {
        Some(self.of[key]).filter(|x| *x != u32::MAX)
    }

    fn insert(&mut self, key: usize, id: u32) {
        self.of[key] = id;
        self.used.push(key);
    }

    fn clear(&mut self) {
        for k in self.used.drain(..) {
            self.of[k] = u32::MAX;
        }
    }
}

impl TierGraph {
    fn new(graph: &PrivilegeGraph) -> TierGraph {
        TierGraph {
            slots: Vec::new(),
            links: Vec::new(),
            states: Ids::new(graph.node_count() * 2),
            edges: Ids::new(graph.graph.edge_count() * 2),
            todo: Vec::new(),
        }
    }

    /// Empties it for the next tier: only the root is left.
    fn clear(&mut self) {
        self.slots.clear();
        self.slots.push(None);
        self.links.clear();
        self.states.clear();
        self.edges.clear();
        self.todo.clear();
    }

    fn state(&mut self, n: NodeIndex, via: bool) -> u32 {
        if let Some(s) = self.states.get(state_key(n, via)) {
            return s;
        }
        let s = self.slots.len() as u32;
        self.slots.push(None);
        self.states.insert(state_key(n, via), s);
        self.todo.push((n, via));
        s
    }

    /// The node of graph edge `e` (crossed with `via`), linked to `from`, the state of its source, when new:
    /// that link is the same whoever asks.
    fn edge_node(&mut self, e: EdgeIndex, via: bool, from: u32) -> u32 {
        if let Some(x) = self.edges.get(edge_key(e, via)) {
            return x;
        }
        let x = self.slots.len() as u32;
        self.slots.push(Some(e));
        self.edges.insert(edge_key(e, via), x);
        self.links.push((x, from));
        x
    }

    /// Walks back from every state over the identity edges the profile allows. Each state is expanded once
    /// and each of its incoming edges is looked at once, so every link is added once.
    fn expand(&mut self, graph: &PrivilegeGraph, profile: &Profile) {
        let g = &graph.graph;
        while let Some((n, via)) = self.todo.pop() {
            let here = self.states.get(state_key(n, via)).expect("a state is numbered before it is expanded");
            for e in g.edges_directed(n, Direction::Incoming) {
                let w = e.weight();
                if !is_identity_edge(w.kind) || !profile.allowed(w.kind, w.flags) {
                    continue;
                }
                let next_via = via || profile.is_via(w.kind);
                let from = self.state(e.source(), next_via);
                let x = self.edge_node(e.id(), next_via, from);
                self.links.push((here, x));
            }
        }
    }
}

/// Every graph edge a fix removes: a role assignment also removes the derived edges that rest on it (the
/// federated-credential hub, AKS admin), a binding every edge it gives its subject.
fn edges_of(graph: &PrivilegeGraph, key: &str, seen: &[EdgeIndex], fixes: &mut FixMemo) -> Vec<EdgeIndex> {
    let mut out: Vec<EdgeIndex> = seen.to_vec();
    let g = &graph.graph;
    let mut from: Vec<NodeIndex> = seen.iter().map(|e| graph.edge(*e).0).collect();
    from.sort();
    from.dedup();
    for n in from {
        for e in g.edges_directed(n, Direction::Outgoing) {
            if !out.contains(&e.id()) && fixes.key(e.id()) == key {
                out.push(e.id());
            }
        }
    }
    out
}

/// The plan: fixes (indices into `chokes`) that cut every escalation core, and what the verification found.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanResult {
    /// Fix keys in order.
    pub steps: Vec<String>,
    /// The cores found with the plan applied.
    pub after: Cores,
}

/// Greedy cover of the escalation cores, verified by re-running the queries without the plan's edges.
pub(crate) fn plan(
    graph: &PrivilegeGraph,
    queries: &[Query],
    options: AnalyzeOptions,
    cores: &Cores,
    chokes: &[Choke],
    fixes: &mut FixMemo,
) -> PlanResult {
    let mut mask = EdgeMask::default();
    let mut steps: Vec<String> = Vec::new();
    let collateral: FxHashMap<&str, usize> = chokes.iter().map(|c| (c.key.as_str(), c.collateral)).collect();
    let mut current = escalations(graph, cores);
    let mut after = None;
    // The keys of the edges around each chosen fix (every edge leaving its edges' sources), asked for round
    // after round but by nothing after the plan: kept apart from `fixes` (which lives until the report is made)
    // so they are freed with the plan.
    let mut around = FixMemo::new(graph);
    for _round in 0..6 {
        if current.is_empty() {
            break;
        }
        for (key, edges) in cover(&current, &collateral, fixes) {
            for e in edges_of(graph, &key, &edges, &mut around) {
                mask.insert(e);
            }
            steps.push(key);
        }
        let rerun = crate::cores::find(graph, queries, options, &mask);
        current = escalations(graph, &rerun);
        after = Some(rerun);
    }
    let after = after.unwrap_or_else(|| crate::cores::find(graph, queries, options, &mask));
    PlanResult { steps, after }
}

/// What the plan must cut: each escalation core (shown, not standing), and each member that reaches a standing
/// core by an escalation step (a group's owner), as the edges any of which cuts it.
fn escalations(graph: &PrivilegeGraph, cores: &Cores) -> Vec<Vec<EdgeIndex>> {
    let mut out = Vec::new();
    for core in cores.shown().map(|i| &cores.cores[i]) {
        if !core.is_standing(graph) {
            out.push(core.edges.clone());
            continue;
        }
        for m in core.members.iter().filter(|m| m.escalates) {
            out.push(
                core.members
                    .path(&m)
                    .into_iter()
                    .filter(|e| graph.edge(*e).2.kind != crate::model::EdgeKind::MemberOf)
                    .collect(),
            );
        }
    }
    out
}

/// Greedy set cover of the escalations (each a set of edges, any of which cuts it) by the fixes of those
/// edges: changes to objects first (see [`actionable`]), then most covered, least collateral, with a command
/// (the fix of the first edge seen with its key), by key. The chosen fixes' keys, with the edges they cut.
/// A fix the cover may choose: its key, whether its first edge's whole fix has a command, the edges it cuts
/// and the cores (escalations) it cuts.
struct CoverOption {
    key: String,
    command: bool,
    edges: Vec<EdgeIndex>,
    covers: Vec<usize>,
}

fn cover(
    cores: &[Vec<EdgeIndex>],
    collateral: &FxHashMap<&str, usize>,
    fixes: &mut FixMemo,
) -> Vec<(String, Vec<EdgeIndex>)> {
    // Each fix that cuts some core; per core, the fixes that cut it.
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut options: Vec<CoverOption> = Vec::new();
    let mut cut_by: Vec<Vec<usize>> = vec![Vec::new(); cores.len()];
    for (ci, core) in cores.iter().enumerate() {
        for e in core {
            let oi = match index.get(fixes.key(*e)) {
                Some(oi) => *oi,
                None => {
                    let command = fixes.has_command(*e);
                    let key = fixes.key(*e).to_string();
                    index.insert(key.clone(), options.len());
                    options.push(CoverOption { key, command, edges: Vec::new(), covers: Vec::new() });
                    options.len() - 1
                }
            };
            let o = &mut options[oi];
            if !o.edges.contains(e) {
                o.edges.push(*e);
            }
            if o.covers.last() != Some(&ci) {
                o.covers.push(ci);
                cut_by[ci].push(oi);
            }
        }
    }
    // How many cores not yet cut each fix cuts, kept up to date as fixes are chosen.
    let mut count: Vec<usize> = options.iter().map(|o| o.covers.len()).collect();
    let mut done = vec![false; cores.len()];
    let rank = |oi: usize, n: usize| {
        let o = &options[oi];
        let cost = collateral.get(o.key.as_str()).copied().unwrap_or(0);
        (actionable(&o.key), n, std::cmp::Reverse(cost), o.command, std::cmp::Reverse(&o.key))
    };
    // Lazy greedy: a fix's count only falls as others are chosen, so the heap's top, re-ranked with its
    // current count, is the best when its rank did not change.
    let mut heap: std::collections::BinaryHeap<_> = (0..options.len()).map(|oi| (rank(oi, count[oi]), oi)).collect();
    let mut out = Vec::new();
    while let Some((ranked, best)) = heap.pop() {
        if count[best] == 0 {
            continue;
        }
        let now = rank(best, count[best]);
        if now != ranked {
            heap.push((now, best));
            continue;
        }
        for ci in &options[best].covers {
            if !std::mem::replace(&mut done[*ci], true) {
                for oi in &cut_by[*ci] {
                    count[*oi] -= 1;
                }
            }
        }
        out.push((options[best].key.clone(), options[best].edges.clone()));
    }
    out
}

/// Whether a fix changes an object a person can change: a role assignment, membership, ownership, federated
/// credential, identity binding, binding subject, or an ASO credential. Steps that only say how Kubernetes
/// works (a pod runs as its service account) are cut where they are granted, not where they happen.
pub(crate) fn actionable(key: &str) -> bool {
    crate::remediation::changes_an_object(key)
}

/// The choke points a report lists: those that change an object a person can change ([`actionable`]), and any
/// other the plan had to use. A step such as "a pod runs as its service account" dominates paths too, but no
/// one can remove it; the grants before it are listed instead. Their whole fixes (their first edge's) are made
/// here, for the report, and the findings' remediations read them.
pub(crate) fn listed(chokes: Vec<Choke>, plan: &PlanResult, fixes: &mut FixMemo) -> Vec<Choke> {
    let planned: FxHashSet<&str> = plan.steps.iter().map(String::as_str).collect();
    let out: Vec<Choke> =
        chokes.into_iter().filter(|c| actionable(&c.key) || planned.contains(c.key.as_str())).collect();
    for c in &out {
        fixes.full(c.edges[0]);
    }
    out
}

/// How many nodes of each exposed kind the graph has, limited to the query's source kinds.
pub(crate) fn population(graph: &PrivilegeGraph, query: &Query) -> Vec<(NodeKind, usize)> {
    let mut counts: FxHashMap<NodeKind, usize> = FxHashMap::default();
    for n in graph.graph.node_indices() {
        let k = graph.node(n).kind;
        if k.is_exposed() && query.sources.contains(&k) {
            *counts.entry(k).or_default() += 1;
        }
    }
    let mut out: Vec<_> = counts.into_iter().collect();
    out.sort();
    out
}
