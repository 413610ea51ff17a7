//! Findings where they are fixed: path cores.
//!
//! A pair (principal, target) is reachable when the principal reaches, over identity edges, the holder of a
//! grant whose power holds at the target. Instead of one search per target (whose answers multiply members by
//! scopes), every *anchor* (a role grant with the target scopes below it, a hub with the identities it fans
//! out to, or an edge into a non-scope target) gets one reverse search from where it starts, shared by every
//! query with the same search profile. In that search tree each node's best path starts with memberships (or
//! Entra-to-Kubernetes identity mappings), then the *core*: the chain from the principal that holds it to
//! the anchor. Nodes whose best path reaches the same core through memberships are its members. A core's pairs
//! are its principals times the anchor's targets, checked for what depends on the pair: deny assignments
//! (per actor and target), capability masks on the path, the hop limit. A pair that fails is listed as
//! excluded, and a forward search looks for another way, whose core is recorded with that one target.

use std::rc::Rc;

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::engine::{
    actor_of, caps_answer, is_identity_edge, masks_allow, path_caps, switches_identity, AnalyzeOptions, Cost, EdgeMask,
    Order, Search,
};
use crate::graph::{PrivilegeGraph, CONDITIONAL, ELIGIBLE};
use crate::model::{EdgeKind, KindSet, NodeKind};
use crate::query::Query;
use crate::rbac::Caps;

/// A path core: from its principal (`head`) to where it lands.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    /// Where the core starts.
    pub head: NodeIndex,
    /// The core's edges, `head` first; for a hub, up to the hub (the fan-out edge is per target).
    pub edges: Vec<EdgeIndex>,
    /// The grant's scope, the hub, or the target.
    pub landing: NodeIndex,
    /// For a hub: the kind and flags of its fan-out edges.
    pub fanout: Option<(EdgeKind, u8)>,
    /// Every node that reaches `head` by memberships (or ownership of a group), with its best way there; for
    /// a pivot, every node that reaches it at all. Shared by every core with the same head.
    pub members: Rc<MemberList>,
    /// Per query answered.
    pub tiers: Vec<CoreTier>,
    /// Recorded by a forward search for one pair (its only target), not by a shared reverse search.
    pub single: bool,
    /// The search profile it was found with, as text (part of its identity: another profile may give the same
    /// chain other members).
    pub profile: Rc<str>,
}

/// A head's members, with what a tier checks of them as a whole: a tier looks at each member only when the
/// hop limit or a capability mask can cut one.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberList {
    /// Members read from the search tree (every member of a head that is no pivot).
    members: Vec<Member>,
    /// A pivot's leaf members (see [`Leaves`]): most of a large tenant's members, kept compact.
    leaves: Leaves,
    /// The search tree the members' ways are read from, shared by the lists cut from it: per entry, the entry
    /// it leads to (`u32::MAX` at the head) and the edge there. A way is walked when asked for
    /// ([`MemberList::path`]), not kept per member.
    links: Rc<Vec<(u32, EdgeIndex)>>,
    /// Ways added to this list alone ([`MemberList::push_path`]): entries numbered on from the shared tree's,
    /// so a list cut from a shared tree grows without copying it.
    own: Vec<(u32, EdgeIndex)>,
    /// Hops of the longest member's way to the head.
    pub longest: u32,
    /// Some member's way fails a capability mask ([`Member::valid`]).
    pub any_invalid: bool,
    /// How many members of each kind (by `NodeKind as usize`).
    per_kind: [u32; NodeKind::ALL.len()],
}

/// A member's `link` that names an entry of [`MemberList::leaves`] (the rest of the bits) rather than a tree
/// entry.
const LEAF: u32 = 1 << 31;

impl MemberList {
    /// The list of `members` and `leaves` (kept as given, without spare capacity: lists are many and long),
    /// its members' kinds read from `kinds` (the graph's, by node index).
    fn new(
        mut members: Vec<Member>,
        mut leaves: Leaves,
        links: Rc<Vec<(u32, EdgeIndex)>>,
        kinds: &[NodeKind],
    ) -> MemberList {
        members.shrink_to_fit();
        leaves.shrink_to_fit();
        let mut list = MemberList { members, leaves, links, ..MemberList::default() };
        let (mut longest, mut invalid, mut per_kind) = (0, false, [0u32; NodeKind::ALL.len()]);
        for m in list.iter() {
            longest = longest.max(m.hops);
            invalid |= !m.valid;
            per_kind[kinds[m.node.index()] as usize] += 1;
        }
        (list.longest, list.any_invalid, list.per_kind) = (longest, invalid, per_kind);
        list
    }

    /// `m`, of `kind`, is a member: the summary follows.
    fn note(&mut self, m: &Member, kind: NodeKind) {
        self.longest = self.longest.max(m.hops);
        self.any_invalid |= !m.valid;
        self.per_kind[kind as usize] += 1;
    }

    /// How many members of `kinds` (each once).
    pub fn count_of(&self, kinds: KindSet) -> usize {
        NodeKind::ALL.into_iter().filter(|k| kinds.contains(*k)).map(|k| self.per_kind[k as usize] as usize).sum()
    }

    /// How many members (each once).
    pub fn len(&self) -> usize {
        self.members.len() + self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members, each once: those read from the tree, then the leaves.
    pub fn iter(&self) -> impl Iterator<Item = Member> + '_ {
        let leaves = (0..self.leaves.len()).map(|i| {
            let l = self.leaves.get(i);
            Member {
                node: l.node,
                link: LEAF | i as u32,
                flags: l.flags,
                escalates: l.escalates,
                hops: u32::from(l.hops),
                valid: l.valid,
            }
        });
        self.members.iter().copied().chain(leaves)
    }

    /// The members' nodes, in [`MemberList::iter`]'s order (nothing else of them read).
    pub fn nodes(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.members.iter().map(|m| m.node).chain(self.leaves.at.iter().map(|(n, _, _)| *n))
    }

    /// Each member's node and whether it escalates ([`Member::escalates`]), in [`MemberList::iter`]'s order.
    pub fn escalations(&self) -> impl Iterator<Item = (NodeIndex, bool)> + '_ {
        let leaves = (0..self.leaves.len()).map(|i| (self.leaves.at[i].0, self.leaves.escalates(i)));
        self.members.iter().map(|m| (m.node, m.escalates)).chain(leaves)
    }

    /// The members at most `budget` hops from the head, sharing this list's tree.
    fn within(&self, budget: u32, kinds: &[NodeKind]) -> MemberList {
        let members = self.members.iter().filter(|m| m.hops <= budget).copied().collect();
        let leaves = self.leaves.within(budget);
        MemberList { own: self.own.clone(), ..MemberList::new(members, leaves, self.links.clone(), kinds) }
    }

    /// Adds a member, of `kind`, whose way to the head is `path` (the member's edge first), appended to the
    /// tree.
    fn push_path(&mut self, mut m: Member, path: &[EdgeIndex], kind: NodeKind) {
        let shared = self.own_start();
        // Entry 0 is the head, in the shared tree or, without one, in this list's own entries.
        let mut next = 0;
        for e in path.iter().rev() {
            self.own.push((next, *e));
            next = shared + self.own.len() as u32 - 1;
        }
        m.link = next;
        self.note(&m, kind);
        self.members.push(m);
    }

    /// Where this list's own entries are numbered from (the shared tree's length), with the head as entry 0
    /// of its own when there is no shared tree.
    fn own_start(&mut self) -> u32 {
        let shared = self.links.len() as u32;
        if shared == 0 && self.own.is_empty() {
            self.own.push((u32::MAX, EdgeIndex::end()));
        }
        shared
    }

    /// Adds `m`, of `kind`, a member of `from` (a list of the same head), with its way there. The entries of
    /// `from`'s tree that way passes are appended once for all the members added from it (`copied`: `from`'s
    /// entry to this list's), not once per member.
    fn push_from(&mut self, mut m: Member, from: &MemberList, kind: NodeKind, copied: &mut FxHashMap<u32, u32>) {
        let shared = self.own_start();
        // This list's entry for `from`'s entry `k` (the head is entry 0 in both), appending what is missing.
        let mut entry = |list: &mut MemberList, k: u32| -> u32 {
            let mut chain = Vec::new();
            let mut at = k;
            let mut to = loop {
                match from.link(at) {
                    Some((parent, edge)) if parent != u32::MAX => match copied.get(&at) {
                        Some(i) => break *i,
                        None => {
                            chain.push((at, edge));
                            at = parent;
                        }
                    },
                    _ => break 0,
                }
            };
            for (at, edge) in chain.into_iter().rev() {
                list.own.push((to, edge));
                to = shared + list.own.len() as u32 - 1;
                copied.insert(at, to);
            }
            to
        };
        m.link = if m.link & LEAF != 0 {
            // A leaf has no entry of its own in `from`: its membership is one here.
            let leaf = from.leaves.get((m.link & !LEAF) as usize);
            let parent = entry(self, leaf.parent);
            self.own.push((parent, leaf.edge));
            shared + self.own.len() as u32 - 1
        } else {
            entry(self, m.link)
        };
        self.note(&m, kind);
        self.members.push(m);
    }

    /// Entry `i` of the tree: the shared one's, then this list's own.
    fn link(&self, i: u32) -> Option<(u32, EdgeIndex)> {
        let shared = self.links.len();
        match (i as usize).checked_sub(shared) {
            None => Some(self.links[i as usize]),
            Some(j) => self.own.get(j).copied(),
        }
    }

    /// The edges from a member to the head: memberships, or for a pivot's members whatever made them
    /// cluster-admin.
    pub fn path(&self, m: &Member) -> Vec<EdgeIndex> {
        let mut out = Vec::with_capacity(m.hops as usize);
        let mut i = m.link;
        if m.link & LEAF != 0 {
            let leaf = self.leaves.get((m.link & !LEAF) as usize);
            out.push(leaf.edge);
            i = leaf.parent;
        }
        while let Some((parent, e)) = self.link(i).filter(|l| l.0 != u32::MAX) {
            out.push(e);
            i = parent;
        }
        out
    }
}

/// A pivot's members that nothing leads to (most users: tens of millions of entries between a large tenant's
/// pivots), each reached by a membership the searches leave out ([`InEdges`]) into a node of the pivot's search
/// tree: its way is that membership, then the node's. Kept as 13 bytes a leaf (the member, the membership, the
/// tree entry, the membership's own flags) and each tree entry's way once; [`Leaves::get`] gives the whole
/// [`Leaf`].
#[derive(Debug, Clone, Default)]
struct Leaves {
    /// Per leaf: the member, its membership, the tree entry it leads to.
    at: Vec<(NodeIndex, EdgeIndex, u32)>,
    /// Per leaf: its membership's flags, with [`Leaves::GAINS`] when it is not one by which a member holds
    /// what its group holds (owning the group).
    bits: Vec<u8>,
    /// Per tree entry (when there are leaves): its way to the head, shared by the lists cut from this one.
    ways: Rc<[TreeWay]>,
}

/// A tree entry's [`Way`], as a leaf's way continues it.
#[derive(Debug, Clone, Copy)]
struct TreeWay {
    hops: u16,
    flags: u8,
    escalates: bool,
    valid: bool,
}

impl Leaves {
    /// A leaf bit: the membership is a step by which the member gains, not holds ([`holds_through`]).
    const GAINS: u8 = 1 << 7;

    /// Leaves of a tree whose entries' ways are `ways`.
    fn of(ways: &[Way]) -> Leaves {
        let ways = ways
            .iter()
            .map(|w| TreeWay {
                hops: u16::try_from(w.hops).unwrap_or(u16::MAX),
                flags: w.flags,
                escalates: w.escalates,
                valid: w.valid,
            })
            .collect();
        Leaves { at: Vec::new(), bits: Vec::new(), ways }
    }

    /// Adds `node`, a member by membership `edge` (of `kind`, with `flags`) into tree entry `parent`.
    fn push(&mut self, node: NodeIndex, (edge, kind, flags): (EdgeIndex, EdgeKind, u8), parent: u32) {
        debug_assert!(flags & Leaves::GAINS == 0, "membership flags fit beside the bit");
        self.at.push((node, edge, parent));
        self.bits.push(flags | if holds_through(kind) { 0 } else { Leaves::GAINS });
    }

    fn len(&self) -> usize {
        self.at.len()
    }

    fn reserve_exact(&mut self, more: usize) {
        self.at.reserve_exact(more);
        self.bits.reserve_exact(more);
    }

    /// The leaves at most `budget` hops from the head.
    fn within(&self, budget: u32) -> Leaves {
        // (A leaf's hops as `get` reads them, without the rest of the leaf.)
        let fits = |i: &usize| u32::from(self.ways[self.at[*i].2 as usize].hops.saturating_add(1)) <= budget;
        let mut within = Leaves { at: Vec::new(), bits: Vec::new(), ways: self.ways.clone() };
        within.reserve_exact((0..self.len()).filter(fits).count());
        for i in (0..self.len()).filter(fits) {
            within.at.push(self.at[i]);
            within.bits.push(self.bits[i]);
        }
        within
    }

    fn shrink_to_fit(&mut self) {
        self.at.shrink_to_fit();
        self.bits.shrink_to_fit();
        if self.at.is_empty() {
            self.ways = Rc::default();
        }
    }

    /// Whether leaf `i` escalates (as [`Leaves::get`] reads it).
    fn escalates(&self, i: usize) -> bool {
        self.bits[i] & Leaves::GAINS != 0 || self.ways[self.at[i].2 as usize].escalates
    }

    /// Leaf `i`, its way read from its tree entry's.
    fn get(&self, i: usize) -> Leaf {
        let ((node, edge, parent), bits) = (self.at[i], self.bits[i]);
        let up = self.ways[parent as usize];
        Leaf {
            node,
            edge,
            parent,
            hops: up.hops.saturating_add(1),
            flags: up.flags | (bits & !Leaves::GAINS),
            escalates: self.escalates(i),
            valid: up.valid,
        }
    }
}

/// A leaf member as [`Leaves::get`] reads it.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    node: NodeIndex,
    /// The membership.
    edge: EdgeIndex,
    /// The tree entry it leads to.
    parent: u32,
    /// As [`Member`]'s.
    hops: u16,
    flags: u8,
    escalates: bool,
    valid: bool,
}

/// A member of a core; its way to the core's head is in its list's tree ([`MemberList::path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member.
    pub node: NodeIndex,
    /// Its entry in the list's tree (`links`).
    link: u32,
    /// Flags (PIM-eligible, conditional) of those edges.
    pub flags: u8,
    /// It gets there by a step that is not a membership (owning a group, becoming cluster-admin): it gains the
    /// core's power rather than holding it.
    pub escalates: bool,
    /// Hops from it to the head.
    pub hops: u32,
    /// Its way passes the capability masks on it (what ASO's CRDs let an identity do); when it does not, its
    /// pairs go to the forward search like any pair whose path failed a check.
    pub valid: bool,
}

/// What a core gives in one query.
#[derive(Debug, Clone)]
pub(crate) struct CoreTier {
    /// Index of the query.
    pub query: usize,
    /// Capabilities at the targets (after masks; deny assignments show as exclusions).
    pub caps: Caps,
    /// Targets reached.
    pub targets: Vec<NodeIndex>,
    /// (principal, target) pairs left out of the product, sorted once the search is done.
    pub excluded: Vec<(NodeIndex, NodeIndex)>,
}

impl CoreTier {
    /// Whether the pair is left out (`excluded` sorted).
    pub fn is_excluded(&self, p: NodeIndex, t: NodeIndex) -> bool {
        self.excluded.binary_search(&(p, t)).is_ok()
    }

    /// Whether some pair of `p` is left out (`excluded` sorted).
    pub fn excludes_any(&self, p: NodeIndex) -> bool {
        let i = self.excluded.partition_point(|(x, _)| *x < p);
        self.excluded.get(i).is_some_and(|(x, _)| *x == p)
    }
}

impl Core {
    /// The core's principals for a query: the head and members of the query's source kinds (counted by
    /// [`Core::principal_counts`]).
    #[cfg(test)]
    pub fn principals<'a>(
        &'a self,
        graph: &'a PrivilegeGraph,
        query: &'a Query,
    ) -> impl Iterator<Item = NodeIndex> + 'a {
        std::iter::once(self.head)
            .chain(self.members.iter().map(|m| m.node))
            .filter(move |n| query.sources.contains(&graph.node(*n).kind))
    }

    /// The core's principals for `query`: its head and members of the query's source kinds (what
    /// [`Core::principals`] lists), and how many of them are exposed kinds; from its list's counts per kind.
    pub fn principal_counts(&self, kinds: &[NodeKind], query: &Query) -> (usize, usize) {
        let sources = KindSet::of(&query.sources);
        let head = kinds[self.head.index()];
        let (mut count, mut shown) = match sources.contains(head) {
            true => (1, usize::from(head.is_exposed())),
            false => (0, 0),
        };
        for kind in NodeKind::ALL.into_iter().filter(|k| sources.contains(*k)) {
            let n = self.members.per_kind[kind as usize] as usize;
            count += n;
            shown += if kind.is_exposed() { n } else { 0 };
        }
        (count, shown)
    }

    /// Whether the core holds its power by a grant (one role assignment or AKS admin grant) rather than by
    /// a step through another identity.
    pub fn is_standing(&self, graph: &PrivilegeGraph) -> bool {
        self.fanout.is_none()
            && self.edges.len() == 1
            && matches!(graph.edge(self.edges[0]).2.kind, EdgeKind::HasRole | EdgeKind::AksClusterAdmin)
    }
}

/// Every core of every query.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cores {
    pub cores: Vec<Core>,
    /// Per core: it is not standing, yet every principal it leads anywhere already holds that power there by a
    /// standing grant, no less directly (no PIM activation or condition more). Such a path is no escalation:
    /// the report leaves it out (the standing findings imply its pairs) and the plan does not cut it.
    pub redundant: Vec<bool>,
}

impl Cores {
    /// Indices of the cores the report shows: all but the redundant ones.
    pub fn shown(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.cores.len()).filter(|i| !self.redundant[*i] && !self.cores[*i].tiers.is_empty())
    }
}

impl Core {
    /// Flags of the core's own edges and fan-out.
    pub fn flags(&self, graph: &PrivilegeGraph) -> u8 {
        self.edges.iter().fold(self.fanout.map(|f| f.1).unwrap_or(0), |acc, e| acc | graph.edge(*e).2.flags)
    }

    /// The core's principals for a query, each with the flags of its way through the core (the core's and its
    /// own way to the head) and whether that way escalates.
    pub fn principal_ways<'a>(
        &'a self,
        graph: &'a PrivilegeGraph,
        query: &'a Query,
    ) -> impl Iterator<Item = (NodeIndex, u8, bool)> + 'a {
        let own = self.flags(graph);
        std::iter::once((self.head, own, false))
            .chain(self.members.iter().map(move |m| (m.node, own | m.flags, m.escalates)))
            .filter(move |(n, _, _)| query.sources.contains(&graph.node(*n).kind))
    }
}

/// Flags as a cost: a path needing no activation beats one that does, then unconditional beats conditional.
fn flag_cost(flags: u8) -> (bool, bool) {
    (flags & ELIGIBLE != 0, flags & CONDITIONAL != 0)
}

/// A standing tier a principal holds: its targets and the flags of the principal's way, as a cost.
type Held<'a> = (&'a [NodeIndex], (bool, bool));

/// Largest member list checked for redundancy.
const REDUNDANCY_CHECK_MEMBERS: usize = 5_000;

/// Which cores are redundant (see [`Cores::redundant`]).
fn redundant(graph: &PrivilegeGraph, queries: &[Query], cores: &[Core]) -> Vec<bool> {
    // Per (query, principal): the standing tiers that hold it, as (targets, cost).
    let mut standing: FxHashMap<(usize, NodeIndex), Vec<Held>> = FxHashMap::default();
    for core in cores.iter().filter(|c| c.is_standing(graph)) {
        for tier in &core.tiers {
            for (p, flags, escalates) in core.principal_ways(graph, &queries[tier.query]) {
                if escalates || tier.excludes_any(p) {
                    continue;
                }
                standing.entry((tier.query, p)).or_default().push((&tier.targets, flag_cost(flags)));
            }
        }
    }
    cores
        .iter()
        .map(|core| {
            // (A core with a very large member list is shown as it is: checking each member against every
            // standing grant would cost more than the whole analysis, and showing it loses nothing.)
            !core.is_standing(graph)
                && !core.tiers.is_empty()
                && core.members.len() <= REDUNDANCY_CHECK_MEMBERS
                && core.tiers.iter().all(|tier| {
                    core.principal_ways(graph, &queries[tier.query]).all(|(p, flags, _)| {
                        let cost = flag_cost(flags);
                        let wanted = tier.targets.iter().filter(|t| **t != p);
                        standing.get(&(tier.query, p)).is_some_and(|held| {
                            wanted.clone().all(|t| held.iter().any(|(ts, c)| *c <= cost && ts.binary_search(t).is_ok()))
                        })
                    })
                })
        })
        .collect()
}

/// How a query searches: the identity edges it may follow, its `via` kinds, PIM. Queries with the same
/// profile share their reverse searches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Profile {
    edges: Vec<EdgeKind>,
    via: Vec<EdgeKind>,
    eligible_ok: bool,
}

impl Profile {
    pub(crate) fn of(query: &Query, options: AnalyzeOptions) -> Profile {
        let mut edges: Vec<EdgeKind> = query.edges.iter().copied().filter(|k| is_identity_edge(*k)).collect();
        edges.sort();
        let mut via = query.via.clone();
        via.sort();
        Profile { edges, via, eligible_ok: query.include_eligible && options.include_eligible }
    }

    /// The profile as text: empty for the default (every identity edge, no `via`, PIM-eligible included).
    fn name(&self) -> String {
        let all: Vec<EdgeKind> = EdgeKind::ALL.iter().copied().filter(|k| is_identity_edge(*k)).collect();
        if self.edges == all && self.via.is_empty() && self.eligible_ok {
            return String::new();
        }
        let names = |ks: &[EdgeKind]| ks.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
        format!("edges={};via={};eligible={}", names(&self.edges), names(&self.via), self.eligible_ok)
    }

    pub(crate) fn allowed(&self, kind: EdgeKind, flags: u8) -> bool {
        self.edges.contains(&kind) && (self.eligible_ok || flags & ELIGIBLE == 0)
    }

    pub(crate) fn is_via(&self, kind: EdgeKind) -> bool {
        self.via.contains(&kind)
    }
}

/// Where paths of one query end: a grant and the scopes below it, a hub and its fan-out, or an edge into a
/// non-scope target.
#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    /// Index of the query.
    pub query: usize,
    /// The grant, or the edge into a non-scope target; `None` for a hub.
    pub final_edge: Option<EdgeIndex>,
    /// Where the reverse search starts: the grant's holder, the hub, or the edge's source.
    pub start: NodeIndex,
    /// The grant's scope, the hub, or the target.
    pub landing: NodeIndex,
    /// For a hub: the kind and flags of its fan-out edges.
    pub fanout: Option<(EdgeKind, u8)>,
    /// Targets reached.
    pub targets: Vec<NodeIndex>,
    /// Whether a path from `start` already crosses one of the query's `via` kinds (always true without `via`).
    pub via0: bool,
    /// Flags of the final or fan-out edge.
    pub flags: u8,
}

/// One node of a reverse search tree.
#[derive(Debug, Clone, Copy)]
struct Settled {
    node: NodeIndex,
    via: bool,
    /// What its next step needs from a mask (the state's third part, see [`State`]).
    needs: u32,
    cost: Cost,
    /// Index of the state this one leads to (towards the anchor), `u32::MAX` at the root.
    parent: u32,
    /// The edge from this node to its parent.
    edge: Option<EdgeIndex>,
    /// Index of the state where this node's core starts.
    head: u32,
}

/// Edges that do not change who is acting, for where a core starts: group membership, an Entra user or group
/// appearing as its Kubernetes subject, and a group's owner (who can make itself a member: such a member
/// escalates, see [`Member::escalates`]).
fn is_membership(kind: EdgeKind) -> bool {
    matches!(kind, EdgeKind::MemberOf | EdgeKind::KubernetesIdentity | EdgeKind::CanAddMember)
}

/// Edges by which a member holds what its group holds: membership and identity mappings, not ownership.
fn holds_through(kind: EdgeKind) -> bool {
    matches!(kind, EdgeKind::MemberOf | EdgeKind::KubernetesIdentity)
}

/// Nodes that start a core of their own for everything reached through them: whoever is a cluster's admin can
/// do everything the cluster leads to, so "cluster-admin → … → grant" is one core whose members are every
/// principal that becomes cluster-admin (each of those steps is a core of the `cluster-admin-from-azure` kind
/// of tier), instead of one core per (admin, grant). Hubs likewise: whoever can break out onto a cluster's
/// nodes, forge an ASO credential, or write federated credentials under a scope.
pub(crate) fn is_pivot(kind: NodeKind) -> bool {
    kind == NodeKind::KubeClusterAdmin || kind.is_hub()
}

/// Finds every core of every query.
pub(crate) fn find(graph: &PrivilegeGraph, queries: &[Query], options: AnalyzeOptions, removed: &EdgeMask) -> Cores {
    let profiles: Vec<Profile> = queries.iter().map(|q| Profile::of(q, options)).collect();
    let profile_of: Vec<usize> =
        profiles.iter().enumerate().map(|(i, p)| profiles.iter().position(|x| x == p).unwrap_or(i)).collect();
    let mut run = Run {
        graph,
        queries,
        options,
        removed,
        profile_of,
        source_kinds: KindSet::of(&queries.iter().flat_map(|q| q.sources.iter().copied()).collect::<Vec<_>>()),
        profile_names: profiles.iter().map(|p| Rc::from(p.name())).collect(),
        profiles: profiles.clone(),
        member_sets: FxHashMap::default(),
        cores: Vec::new(),
        index: FxHashMap::default(),
        failing: Vec::new(),
        denies: DenyIndex::new(graph),
        inner: Vec::new(),
        scratch: std::cell::RefCell::new(TreeScratch::default()),
    };
    run.inner = (0..profiles.len())
        .map(|i| (run.profile_of[i] == i).then(|| InEdges::new(graph, &profiles[i], removed)))
        .collect();
    let anchors = all_anchors(graph, queries, &profiles, removed);
    // One reverse search per (profile, start, via), shared by every anchor that needs it.
    let mut groups: FxHashMap<(usize, NodeIndex, bool, u8), Vec<usize>> = FxHashMap::default();
    for (i, a) in anchors.iter().enumerate() {
        groups.entry((run.profile_of[a.query], a.start, a.via0, a.flags)).or_default().push(i);
    }
    let mut keys: Vec<_> = groups.keys().copied().collect();
    keys.sort();
    for key in keys {
        let (profile, start, via0, flags) = key;
        let inner = run.inner[profile].as_ref();
        let search = |masks| {
            let scratch = &mut run.scratch.borrow_mut();
            reverse_tree(
                graph,
                &profiles[profile],
                removed,
                (start, via0, flags),
                is_identity_edge,
                inner,
                Walk::anchor(masks),
                scratch,
            )
        };
        // A capability mask on the way (ASO's) can forbid the step after it: then the search follows masks, so
        // every core it gives is a way the masks allow (instead of a core whose every pair fails).
        let mut tree = search(false);
        if crosses_mask(graph, &tree) {
            tree = search(true);
        }
        for &i in &groups[&key] {
            run.cores_of(&anchors[i], &tree);
        }
    }
    run.fall_back();
    for tier in run.cores.iter_mut().flat_map(|c| c.tiers.iter_mut()) {
        tier.excluded.sort_unstable();
        tier.excluded.dedup();
    }
    let redundant = redundant(graph, queries, &run.cores);
    Cores { cores: run.cores, redundant }
}

/// The (query, principal, target) triples whose core path failed, sorted by principal, then query, then
/// target, each marked once another core is found to give it. Checking a core's tier against a principal
/// walks the shorter of its wanted targets and the tier's targets, searching the other: a principal with a
/// few failing pairs in a tier of thousands of targets costs a few searches, not one probe per target.
struct Wanted {
    /// (principal, query, target), sorted, without repeats.
    pairs: Vec<(NodeIndex, usize, NodeIndex)>,
    covered: Vec<bool>,
    /// Per principal, by node index (up to the last with a pair): its range of `pairs`, empty for none. Dense:
    /// every member of each list read is looked up.
    of: Vec<(u32, u32)>,
    /// Per principal, by node index: how many of its pairs are not covered yet.
    open: Vec<u32>,
    /// Every (query, target) some pair wants.
    targets: FxHashSet<(usize, NodeIndex)>,
}

impl Wanted {
    fn new(failing: Vec<(usize, NodeIndex, NodeIndex)>) -> Wanted {
        let mut pairs: Vec<_> = failing.into_iter().map(|(q, p, t)| (p, q, t)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut of = vec![(0, 0); pairs.last().map_or(0, |(p, _, _)| p.index() + 1)];
        let mut open = vec![0; of.len()];
        for (i, (p, _, _)) in pairs.iter().enumerate() {
            let range = &mut of[p.index()];
            if range.0 == range.1 {
                range.0 = i as u32;
            }
            range.1 = i as u32 + 1;
            open[p.index()] += 1;
        }
        let targets = pairs.iter().map(|(_, q, t)| (*q, *t)).collect();
        Wanted { covered: vec![false; pairs.len()], pairs, of, open, targets }
    }

    /// Whether some principal wants `target` in `query`.
    fn is_target(&self, query: usize, target: NodeIndex) -> bool {
        self.targets.contains(&(query, target))
    }

    /// Marks pair `i` covered.
    fn mark(&mut self, i: usize) {
        if !self.covered[i] {
            self.covered[i] = true;
            self.open[self.pairs[i].0.index()] -= 1;
        }
    }

    /// The range of `pairs` that are `p`'s (empty for none).
    fn range(&self, p: NodeIndex) -> Option<(u32, u32)> {
        self.of.get(p.index()).copied().filter(|(lo, hi)| lo < hi)
    }

    /// Whether `p` has a wanted pair not covered yet.
    fn is_open(&self, p: NodeIndex) -> bool {
        self.open.get(p.index()).is_some_and(|n| *n > 0)
    }

    /// Marks the wanted pairs of `p` that `tier` gives it (its targets, less what it excludes; `targets` sorted).
    fn cover(&mut self, tier: &CoreTier, p: NodeIndex) {
        let Some((lo, hi)) = self.range(p) else { return };
        let range = &self.pairs[lo as usize..hi as usize];
        let from = lo as usize + range.partition_point(|x| x.1 < tier.query);
        let to = lo as usize + range.partition_point(|x| x.1 <= tier.query);
        if from == to {
            return;
        }
        debug_assert!(tier.targets.windows(2).all(|w| w[0] < w[1]));
        if to - from <= tier.targets.len() {
            for i in from..to {
                let t = self.pairs[i].2;
                if !self.covered[i] && tier.targets.binary_search(&t).is_ok() && !tier.is_excluded(p, t) {
                    self.mark(i);
                }
            }
        } else {
            for t in &tier.targets {
                if let Ok(j) = self.pairs[from..to].binary_search_by(|x| x.2.cmp(t)) {
                    if !self.covered[from + j] && !tier.is_excluded(p, *t) {
                        self.mark(from + j);
                    }
                }
            }
        }
    }

    /// Marks the wanted pairs of `p` that some tier of its query's pool gives it, not excluded there (`pools`:
    /// per query, sorted (target, core, tier) of the cores `p` is a member of).
    fn cover_pooled(&mut self, cores: &[Core], pools: &[Vec<(NodeIndex, u32, u32)>], p: NodeIndex) {
        let Some((lo, hi)) = self.range(p) else { return };
        for i in lo as usize..hi as usize {
            if self.covered[i] {
                continue;
            }
            let (_, query, t) = self.pairs[i];
            let pool = &pools[query];
            let first = pool.partition_point(|x| x.0 < t);
            let gives = pool[first..]
                .iter()
                .take_while(|x| x.0 == t)
                .any(|(_, ci, ti)| !cores[*ci as usize].tiers[*ti as usize].is_excluded(p, t));
            if gives {
                self.mark(i);
            }
        }
    }

    /// The pairs no core gives, as (query, principal, target).
    fn left(self) -> Vec<(usize, NodeIndex, NodeIndex)> {
        self.pairs.into_iter().zip(self.covered).filter(|(_, c)| !c).map(|((p, q, t), _)| (q, p, t)).collect()
    }
}

/// Key of a core: the search profile, the head, its edges, where it lands and its fan-out, and for
/// single-pair cores the query and target.
type CoreKey = (usize, NodeIndex, Vec<EdgeIndex>, NodeIndex, Option<(EdgeKind, u8)>, Option<(usize, NodeIndex)>);

struct Run<'a> {
    graph: &'a PrivilegeGraph,
    queries: &'a [Query],
    options: AnalyzeOptions,
    removed: &'a EdgeMask,
    /// For each query, the index of the first query with the same search profile.
    profile_of: Vec<usize>,
    /// Every kind some query reports as a source: the only members worth keeping.
    source_kinds: KindSet,
    /// Search profile of each query.
    profiles: Vec<Profile>,
    /// Each profile as text, empty for the default one (every identity edge, no `via`, PIM-eligible included).
    profile_names: Vec<Rc<str>>,
    /// Members of each head, per (profile, head, as a pivot, hop budget): computed once, shared by its cores.
    member_sets: FxHashMap<(usize, Head, u32), Rc<MemberList>>,
    cores: Vec<Core>,
    index: FxHashMap<CoreKey, usize>,
    /// (query, principal, target) pairs whose core path failed a check: a forward search looks for another way.
    failing: Vec<(usize, NodeIndex, NodeIndex)>,
    /// Deny assignments, indexed for pair checks.
    denies: DenyIndex,
    /// Per profile: the edges anchor searches walk back over (see [`InEdges`]).
    inner: Vec<Option<InEdges>>,
    /// The tables of [`reverse_tree`], reused from one search to the next.
    scratch: std::cell::RefCell<TreeScratch>,
}

impl Run<'_> {
    /// Records the cores one anchor's search tree gives.
    fn cores_of(&mut self, anchor: &Anchor, tree: &[Settled]) {
        let graph = self.graph;
        // A tree that follows masks settles a node once per pending requirement: the first is its best way.
        let mut seen: FxHashSet<(NodeIndex, bool, u32)> = FxHashSet::default();
        for (i, s) in tree.iter().enumerate() {
            let i = i as u32;
            if !seen.insert((s.node, s.via, s.needs & NEEDS_ACTIVATION)) || s.head != i || !s.via {
                continue;
            }
            // A core that only leads back to where it starts (cluster-admin → … → cluster-admin) adds no pair:
            // its members reach that target through the core that made them members.
            if anchor.targets.iter().all(|t| *t == s.node) {
                continue;
            }
            // A pivot collects everyone who reaches it, except where the search starts from it: then it is the
            // hub whose targets these are, and nothing is "through" it.
            let as_pivot = is_pivot(graph.node(s.node).kind) && s.parent != u32::MAX;
            // Members only as far as the query's hop limit reaches: the rest would be pairs left out.
            let budget = (self.queries[anchor.query].max_hops as u32).saturating_sub(s.cost.hops);
            // Where the core needs an activation, a member's way that needs one too costs nothing more: its
            // members are ranked by what else their ways rest on.
            let head = Head { node: s.node, pivot: as_pivot, activated: s.cost.eligible != 0 };
            let members = self.members_of(anchor.query, head, budget);
            let query = &self.queries[anchor.query];
            let (kinds, sources) = (graph.kinds(), KindSet::of(&query.sources));
            let any_source = sources.contains(kinds[s.node.index()]) || members.count_of(sources) > 0;
            if !any_source {
                continue;
            }
            let mut edges = path_to_root(tree, i);
            edges.extend(anchor.final_edge);
            let key = (self.profile_of[anchor.query], s.node, edges.clone(), anchor.landing, anchor.fanout, None);
            let ci = match self.index.get(&key) {
                Some(ci) => *ci,
                None => {
                    self.cores.push(Core {
                        head: s.node,
                        edges,
                        landing: anchor.landing,
                        fanout: anchor.fanout,
                        members,
                        tiers: Vec::new(),
                        single: false,
                        profile: self.profile_names[self.profile_of[anchor.query]].clone(),
                    });
                    self.index.insert(key, self.cores.len() - 1);
                    self.cores.len() - 1
                }
            };
            self.add_tier(ci, anchor, s.cost.hops);
        }
    }

    /// The members of a head (see [`Core::members`]), computed once per search profile.
    fn members_of(&mut self, query: usize, head: Head, budget: u32) -> Rc<MemberList> {
        let profile = self.profile_of[query];
        if let Some(m) = self.member_sets.get(&(profile, head, budget)) {
            return m.clone();
        }
        let all = match self.member_sets.get(&(profile, head, u32::MAX)) {
            Some(all) => all.clone(),
            None => {
                let all = Rc::new(self.all_members(profile, head, Order::Preferred, None));
                self.member_sets.insert((profile, head, u32::MAX), all.clone());
                all
            }
        };
        let within = if all.longest <= budget { all } else { Rc::new(self.within_budget(profile, head, &all, budget)) };
        self.member_sets.insert((profile, head, budget), within.clone());
        within
    }

    /// Every member of a head, however far; with `only` (principals, a hop budget), the members within the
    /// budget and, of the principals nothing leads to, only those principals (a pivot's leaf members are then
    /// offered only theirs, see [`leaf_members`]). A member past the budget may be left out or kept.
    fn all_members(
        &self,
        profile: usize,
        head: Head,
        order: Order,
        only: Option<(&FxHashSet<NodeIndex>, u32)>,
    ) -> MemberList {
        let Head { node: head, pivot, activated } = head;
        let flags = if activated { ELIGIBLE } else { 0 };
        let graph = self.graph;
        let follow: fn(EdgeKind) -> bool = if pivot { is_identity_edge } else { is_membership };
        let scratch = &mut self.scratch.borrow_mut();
        // A pivot's search leaves its leaf members out and offers them after (see [`leaf_members`]).
        let inner = self.inner[profile].as_ref().filter(|inner| pivot && !inner.masked);
        let tree = reverse_tree(
            graph,
            &self.profiles[profile],
            self.removed,
            (head, true, flags),
            follow,
            inner,
            // (The head's own cost is one hop: a member `budget` hops away costs `budget + 1`.)
            Walk { limit: only.map_or(u32::MAX, |(_, budget)| budget.saturating_add(1)), ..Walk::members(order) },
            scratch,
        );
        // A node settled again under another mask requirement is the same member, farther: keep the first
        // (marked in `scratch.marks`, unmarked after).
        let kinds = graph.kinds();
        let ways = ways(graph, &tree);
        let mut members = Vec::new();
        for (i, s) in tree.iter().enumerate().skip(1) {
            let n = s.node.index();
            if !self.source_kinds.contains(kinds[n]) || !s.via || scratch.marks[n] {
                continue;
            }
            scratch.marks[n] = true;
            let way = ways[i];
            let (flags, escalates, valid, hops) = (way.flags, way.escalates, way.valid, way.hops);
            members.push(Member { node: s.node, link: i as u32, flags, escalates, hops, valid });
        }
        for m in &members {
            scratch.marks[m.node.index()] = false;
        }
        let leaves = match inner {
            Some(inner) => {
                let sources = self.source_kinds;
                let offer = Offer { order, inner, tree: &tree, ways: &ways, sources, kinds, only: only.map(|o| o.0) };
                leaf_members(&offer, &mut members, scratch)
            }
            None => Leaves::default(),
        };
        let links = tree.iter().map(|s| (s.parent, s.edge.unwrap_or_else(EdgeIndex::end))).collect();
        MemberList::new(members, leaves, Rc::new(links), kinds)
    }

    /// The members of `all` within `budget` hops of the head. A member's way is its best by [`Cost`] (holding
    /// before gaining), which can be longer than another: a member whose way runs past the budget keeps the
    /// shortest way when that one fits. (The shortest ways are searched for those members only, and no farther
    /// than the budget: of a pivot's hundred thousand leaf members tens of thousands run past it, a few
    /// thousand of them with a shorter way that fits.)
    fn within_budget(&mut self, profile: usize, head: Head, all: &MemberList, budget: u32) -> MemberList {
        let kinds = self.graph.kinds();
        let mut within = all.within(budget, kinds);
        let far: FxHashSet<NodeIndex> = all.iter().filter(|m| m.hops > budget).map(|m| m.node).collect();
        if far.is_empty() {
            return within;
        }
        let shortest = self.all_members(profile, head, Order::Shortest, Some((&far, budget)));
        let fits: Vec<Member> = shortest.iter().filter(|m| m.hops <= budget && far.contains(&m.node)).collect();
        within.members.reserve_exact(fits.len());
        let mut copied = FxHashMap::default();
        for m in fits {
            within.push_from(m, &shortest, kinds[m.node.index()], &mut copied);
        }
        within
    }

    /// Adds one query's targets to a core, checking what depends on the pair.
    /// `head_hops`: the hops from the core's principal to the anchor's targets' end (its final edge included).
    fn add_tier(&mut self, ci: usize, anchor: &Anchor, head_hops: u32) {
        let graph = self.graph;
        let query = &self.queries[anchor.query];
        let core = &self.cores[ci];
        let scoped = core.edges.iter().any(|e| graph.edge(*e).2.kind == EdgeKind::HasRole);
        let base = if scoped {
            path_caps(graph, query, &core.edges, Caps::EMPTY)
        } else {
            masks_allow(graph, &core.edges).then_some(Caps::EMPTY)
        };
        let denies = scoped && anchor.targets.iter().any(|t| self.denies.any_at(*t));
        // Targets no principal reaches through this core: every target when the core's own masks fail, or
        // those where a deny assignment cuts the one identity that acts at its end. They are dropped from the
        // tier (not listed pair by pair), and their pairs go to the forward search.
        let cut: Vec<NodeIndex> = match base {
            None => anchor.targets.clone(),
            Some(_) if denies => self.denied_targets(core, query, &anchor.targets),
            Some(_) => Vec::new(),
        };
        let (kinds, sources) = (graph.kinds(), KindSet::of(&query.sources));
        let principals = || {
            std::iter::once((core.head, head_hops, None))
                .chain(core.members.iter().map(|m| (m.node, head_hops + m.hops, Some(m))))
                .filter(|(n, _, _)| sources.contains(kinds[n.index()]))
        };
        let mut excluded = Vec::new();
        let scan = core.members.any_invalid || (head_hops + core.members.longest) as usize > query.max_hops;
        if base.is_some() {
            // A member whose way fails a mask, or that the hop limit leaves out, loses every target here. (Only
            // looked for when one can: the list is walked once per core and query otherwise.)
            let too_long: FxHashSet<NodeIndex> = match scan {
                true => principals()
                    .filter(|(_, h, m)| *h as usize > query.max_hops || m.is_some_and(|m| !m.valid))
                    .map(|(n, _, _)| n)
                    .collect(),
                false => FxHashSet::default(),
            };
            let kept: Vec<NodeIndex> = anchor.targets.iter().copied().filter(|t| !cut.contains(t)).collect();
            for p in &too_long {
                excluded.extend(kept.iter().filter(|t| *t != p).map(|t| (*p, *t)));
            }
            if denies && acting_identity(graph, core).is_none() {
                let others = principals()
                    .filter(|(n, _, _)| !too_long.contains(n))
                    .map(|(n, _, m)| (n, m.map(|m| core.members.path(&m))));
                self.deny_exclusions(core, query, others, &kept, &mut excluded);
            }
        }
        for (p, t) in &excluded {
            self.failing.push((anchor.query, *p, *t));
        }
        for t in &cut {
            self.failing.extend(principals().map(|(p, _, _)| p).filter(|p| p != t).map(|p| (anchor.query, p, *t)));
        }
        let targets: Vec<NodeIndex> = anchor.targets.iter().copied().filter(|t| !cut.contains(t)).collect();
        if targets.is_empty() {
            return;
        }
        let caps = base.unwrap_or(Caps::EMPTY);
        let core = &mut self.cores[ci];
        match core.tiers.iter_mut().find(|t| t.query == anchor.query) {
            Some(tier) => {
                tier.targets.extend(targets);
                tier.targets.sort();
                tier.targets.dedup();
                tier.excluded.extend(excluded);
            }
            None => core.tiers.push(CoreTier { query: anchor.query, caps, targets, excluded }),
        }
    }

    /// The targets where a deny assignment takes what the query asks for from the identity that acts at the
    /// core's end (when the core switches identity, that one acts for every principal alike).
    fn denied_targets(&self, core: &Core, query: &Query, targets: &[NodeIndex]) -> Vec<NodeIndex> {
        let graph = self.graph;
        let Some(actor) = acting_identity(graph, core) else { return Vec::new() };
        targets
            .iter()
            .copied()
            .filter(|t| {
                let denied = self.denies.denied(graph, actor, *t);
                !denied.is_empty() && path_caps(graph, query, &core.edges, denied).is_none()
            })
            .collect()
    }

    /// Pairs a deny assignment cuts: what it takes from the acting principal at a target leaves nothing the
    /// query asks for. `principals`: each with its way to the head (`None` for the head). The core does not
    /// switch identity, so the actor is where the principal's own way to the head leaves it.
    fn deny_exclusions(
        &self,
        core: &Core,
        query: &Query,
        principals: impl Iterator<Item = (NodeIndex, Option<Vec<EdgeIndex>>)>,
        targets: &[NodeIndex],
        excluded: &mut Vec<(NodeIndex, NodeIndex)>,
    ) {
        let graph = self.graph;
        let denied_targets: Vec<NodeIndex> = targets.iter().copied().filter(|t| self.denies.any_at(*t)).collect();
        // What the core's path keeps under each distinct denial: computed once per value.
        let mut kept: FxHashMap<Caps, bool> = FxHashMap::default();
        for (p, member) in principals {
            let actor = member.map_or(p, |path| actor_of(graph, p, &path));
            for t in denied_targets.iter().filter(|t| **t != p) {
                let denied = self.denies.denied(graph, actor, *t);
                if denied.is_empty() {
                    continue;
                }
                let cut = *kept.entry(denied).or_insert_with(|| path_caps(graph, query, &core.edges, denied).is_none());
                if cut {
                    excluded.push((p, *t));
                }
            }
        }
    }

    /// Pairs whose core path failed: when no other core covers them, a forward search looks for another way
    /// and records its core for that one target.
    fn fall_back(&mut self) {
        let failing = std::mem::take(&mut self.failing);
        if failing.is_empty() {
            return;
        }
        let graph = self.graph;
        for tier in self.cores.iter_mut().flat_map(|c| c.tiers.iter_mut()) {
            tier.excluded.sort_unstable();
        }
        let mut wanted = Wanted::new(failing);
        // (Every wanted pair's principal is a source of its query: no kind check is needed.)
        // Heads one by one; members per shared member list: the cores sharing a list are pooled per query into
        // one sorted (target, core, tier) list of the targets some pair wants, and each open member's wanted
        // pairs are looked up in it, instead of each member being checked against every core of its list.
        let mut by_list: FxHashMap<usize, Vec<usize>> = FxHashMap::default();
        for (ci, core) in self.cores.iter().enumerate() {
            for tier in &core.tiers {
                wanted.cover(tier, core.head);
            }
            if !core.members.is_empty() {
                by_list.entry(Rc::as_ptr(&core.members) as usize).or_default().push(ci);
            }
        }
        let mut lists: Vec<(usize, Vec<usize>)> = by_list.into_iter().collect();
        lists.sort_unstable();
        let mut pools: Vec<Vec<(NodeIndex, u32, u32)>> = vec![Vec::new(); self.queries.len()];
        for (_, cis) in lists {
            // Only targets some principal wants in the query are pooled; a list whose cores give none of them
            // is passed over without reading its members.
            pools.iter_mut().for_each(Vec::clear);
            for ci in &cis {
                for (ti, tier) in self.cores[*ci].tiers.iter().enumerate() {
                    let wanted_here = tier.targets.iter().filter(|t| wanted.is_target(tier.query, **t));
                    pools[tier.query].extend(wanted_here.map(|t| (*t, *ci as u32, ti as u32)));
                }
            }
            if pools.iter().all(Vec::is_empty) {
                continue;
            }
            pools.iter_mut().for_each(|pool| pool.sort_unstable());
            for m in self.cores[cis[0]].members.iter() {
                if wanted.is_open(m.node) {
                    wanted.cover_pooled(&self.cores, &pools, m.node);
                }
            }
        }
        let mut todo = wanted.left();
        todo.sort_unstable();
        // Under deny assignments for everyone that take every asked capability, only a source that can act as
        // a principal they exempt can have another way: computed once per (query, target).
        let mut escapers: FxHashMap<(usize, NodeIndex), Option<FxHashSet<NodeIndex>>> = FxHashMap::default();
        for (qi, p, t) in todo {
            let query = &self.queries[qi];
            let chain = if graph.node(t).kind.is_scope() && query.edges.contains(&EdgeKind::Contains) {
                graph.scope_chain(t)
            } else {
                vec![t]
            };
            let eligible_ok = query.include_eligible && self.options.include_eligible;
            let search = Search::new(graph, query, &chain, t, eligible_ok, self.removed);
            let can_escape = escapers.entry((qi, t)).or_insert_with(|| search.deny_escapers());
            if can_escape.as_ref().is_some_and(|set| !set.contains(&p)) {
                continue;
            }
            if let Some(path) = search.forward(p) {
                self.record_single(qi, p, t, &path);
            }
        }
    }

    /// Records a forward search's path for one pair as a single-target core.
    fn record_single(&mut self, qi: usize, p: NodeIndex, t: NodeIndex, path: &[EdgeIndex]) {
        let graph = self.graph;
        let lead = path.iter().take_while(|e| is_membership(graph.edge(**e).2.kind)).count();
        let (lead_edges, mut core_edges) = (path[..lead].to_vec(), path[lead..].to_vec());
        let head = core_edges.first().map(|e| graph.edge(*e).0).unwrap_or(p);
        let mut fanout = None;
        if let Some(last) = core_edges.last().copied() {
            let (from, _, w) = graph.edge(last);
            if graph.node(from).kind.is_hub() {
                fanout = Some((w.kind, w.flags));
                core_edges.pop();
            }
        }
        let landing = match (fanout, core_edges.last()) {
            (Some(_), Some(e)) => graph.edge(*e).1,
            (None, Some(e)) => graph.edge(*e).1,
            _ => t,
        };
        let query = &self.queries[qi];
        let denied =
            if graph.node(t).kind.is_scope() { graph.denied_caps(actor_of(graph, p, path), t) } else { Caps::EMPTY };
        let caps = path_caps(graph, query, path, denied).unwrap_or(Caps::EMPTY);
        let key = (self.profile_of[qi], head, core_edges.clone(), landing, fanout, Some((qi, t)));
        let ci = match self.index.get(&key) {
            Some(ci) => *ci,
            None => {
                // Its principals are exactly the pairs recorded here: the head only if its own pair is.
                let head_is_source = query.sources.contains(&graph.node(head).kind);
                let excluded = if head_is_source && head != t { vec![(head, t)] } else { Vec::new() };
                self.cores.push(Core {
                    head,
                    edges: core_edges,
                    landing,
                    fanout,
                    members: Rc::new(MemberList::default()),
                    tiers: vec![CoreTier { query: qi, caps, targets: vec![t], excluded }],
                    single: true,
                    profile: self.profile_names[self.profile_of[qi]].clone(),
                });
                self.index.insert(key, self.cores.len() - 1);
                self.cores.len() - 1
            }
        };
        let core = &mut self.cores[ci];
        if p == head {
            core.tiers[0].excluded.clear();
        } else if !core.members.iter().any(|m| m.node == p) {
            let flags = lead_edges.iter().fold(0, |acc, e| acc | graph.edge(*e).2.flags);
            let escalates = lead_edges.iter().any(|e| !holds_through(graph.edge(*e).2.kind));
            let hops = lead_edges.len() as u32;
            let m = Member { node: p, link: u32::MAX, flags, escalates, hops, valid: true };
            Rc::make_mut(&mut core.members).push_path(m, &lead_edges, graph.node(p).kind);
        }
    }
}

/// The anchors of one query.
fn anchors(
    graph: &PrivilegeGraph,
    removed: &EdgeMask,
    qi: usize,
    q: &Query,
    profile: &Profile,
    below: &mut FxHashMap<(NodeIndex, Vec<NodeKind>), Vec<NodeIndex>>,
    out: &mut Vec<Anchor>,
) {
    let g = &graph.graph;
    let no_via = profile.via.is_empty();
    let scope_kinds: Vec<NodeKind> = q.targets.iter().copied().filter(|k| k.is_scope()).collect();
    if !scope_kinds.is_empty() {
        let follow = q.edges.contains(&EdgeKind::Contains);
        for e in g.edge_references() {
            let w = e.weight();
            if w.kind != EdgeKind::HasRole
                || !q.edges.contains(&EdgeKind::HasRole)
                || (!profile.eligible_ok && w.flags & ELIGIBLE != 0)
                || !caps_answer(q, w.caps)
                || removed.contains(e.id())
            {
                continue;
            }
            let targets = below
                .entry((e.target(), scope_kinds.clone()))
                .or_insert_with(|| scopes_below(graph, e.target(), &scope_kinds, follow))
                .clone();
            if targets.is_empty() {
                continue;
            }
            out.push(Anchor {
                query: qi,
                final_edge: Some(e.id()),
                start: e.source(),
                landing: e.target(),
                fanout: None,
                targets,
                via0: no_via || profile.is_via(w.kind),
                flags: w.flags,
            });
        }
    }
    let mut hubs: FxHashMap<(NodeIndex, EdgeKind, u8), Vec<NodeIndex>> = FxHashMap::default();
    for kind in q.targets.iter().filter(|k| !k.is_scope()) {
        for t in graph.nodes_of_kind(*kind) {
            for e in g.edges_directed(t, Direction::Incoming) {
                let w = e.weight();
                if !is_identity_edge(w.kind) || !profile.allowed(w.kind, w.flags) || removed.contains(e.id()) {
                    continue;
                }
                if g[e.source()].kind.is_hub() {
                    hubs.entry((e.source(), w.kind, w.flags)).or_default().push(t);
                    continue;
                }
                out.push(Anchor {
                    query: qi,
                    final_edge: Some(e.id()),
                    start: e.source(),
                    landing: t,
                    fanout: None,
                    targets: vec![t],
                    via0: no_via || profile.is_via(w.kind),
                    flags: w.flags,
                });
            }
        }
    }
    let mut hubs: Vec<_> = hubs.into_iter().collect();
    hubs.sort();
    for ((hub, kind, flags), mut targets) in hubs {
        targets.sort();
        targets.dedup();
        out.push(Anchor {
            query: qi,
            final_edge: None,
            start: hub,
            landing: hub,
            fanout: Some((kind, flags)),
            targets,
            via0: no_via || profile.is_via(kind),
            flags,
        });
    }
}

/// The anchors of every query.
pub(crate) fn all_anchors(
    graph: &PrivilegeGraph,
    queries: &[Query],
    profiles: &[Profile],
    removed: &EdgeMask,
) -> Vec<Anchor> {
    let mut out = Vec::new();
    let mut below = FxHashMap::default();
    for (qi, q) in queries.iter().enumerate() {
        anchors(graph, removed, qi, q, &profiles[qi], &mut below, &mut out);
    }
    out
}

/// The scopes of the given kinds at and below `scope` (only `scope` itself when `follow` is false).
fn scopes_below(graph: &PrivilegeGraph, scope: NodeIndex, kinds: &[NodeKind], follow: bool) -> Vec<NodeIndex> {
    let g = &graph.graph;
    let deepest = kinds.iter().filter_map(|k| k.scope_level()).max().unwrap_or(0);
    let mut out = Vec::new();
    let mut stack = vec![scope];
    let mut seen = FxHashSet::default();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        if kinds.contains(&g[n].kind) {
            out.push(n);
        }
        if !follow {
            break;
        }
        for e in g.edges_directed(n, Direction::Outgoing) {
            if e.weight().kind == EdgeKind::Contains && g[e.target()].kind.scope_level().is_some_and(|l| l <= deepest) {
                stack.push(e.target());
            }
        }
    }
    out.sort();
    out
}

/// Whether some way in a search tree crosses a capability mask (an edge other than a role grant that carries
/// capabilities): only then can a mask forbid a step, and the search must follow masks.
fn crosses_mask(graph: &PrivilegeGraph, tree: &[Settled]) -> bool {
    tree.iter().filter_map(|s| s.edge).any(|e| {
        let w = graph.edge(e).2;
        w.kind != EdgeKind::HasRole && !w.caps.is_empty()
    })
}

/// A head whose members are searched: the node, whether it is a pivot (everyone who reaches it is a member,
/// by any step), and whether the core it heads needs a PIM activation (its members' ways are then ranked by
/// what else they rest on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Head {
    node: NodeIndex,
    pivot: bool,
    activated: bool,
}

/// A state of a reverse search: (node, via crossed, what its next step needs from a mask on the step before:
/// see `needs` in [`reverse_tree`], with [`NEEDS_ACTIVATION`] set when the way needs a PIM activation).
type State = (NodeIndex, bool, u32);

/// The bit of a state's third part that says its way needs a PIM activation. Ways that do and ways that do not
/// are kept apart (see [`Cost::step`]): of two ways into a node, an active one resting on a condition and an
/// eligible one resting on none, the second is the better once some step before them needs an activation.
const NEEDS_ACTIVATION: u32 = 1 << 31;

/// [`NEEDS_ACTIVATION`] when `flags` need a PIM activation.
fn activation(flags: u8) -> u32 {
    if flags & ELIGIBLE != 0 {
        NEEDS_ACTIVATION
    } else {
        0
    }
}

/// The third part of a reverse search's state before step `w`, given the state's (`needs`) after it: what the
/// step needs of a mask on the step before (memberships pass on what the state needs; without `masks`,
/// nothing), and whether the way needs an activation from there on. `None` when the step's own mask forbids
/// what the state needs next.
fn needs_before(needs: u32, (kind, caps, flags): (EdgeKind, Caps, u8), masks: bool) -> Option<u32> {
    let pending = needs & !NEEDS_ACTIVATION;
    let before = if !masks {
        0
    } else if kind == EdgeKind::MemberOf {
        pending
    } else {
        let masked = kind != EdgeKind::HasRole && !caps.is_empty();
        if masked && pending != 0 && !caps.intersects(Caps(pending)) {
            return None;
        }
        crate::rbac::step_needs(kind).0
    };
    Some(before | (needs & NEEDS_ACTIVATION) | activation(flags))
}

/// A cost no way has: a state not reached yet.
const UNREACHED: Cost = Cost { eligible: u32::MAX, conditional: u32::MAX, gains: u32::MAX, hops: u32::MAX };

/// Pending mask requirements (beyond none) that get dense tables of their own; the states of any others are
/// hashed.
const DENSE_PENDING: usize = 3;

/// The state tables of [`reverse_tree`], kept from one search to the next and cleared where written: dense by
/// (node, via, activation) in *layers*, one for the states that need nothing of a mask (nearly all) and one per
/// pending requirement met so far (up to [`DENSE_PENDING`]: behind an ASO step every membership passes its
/// requirement on, so a pivot's leaf members can be hundreds of thousands of such states), hashed for any
/// others; and the queue as buckets of states by cost.
#[derive(Default)]
struct TreeScratch {
    /// Nodes of the graph: a layer has 4 slots per node.
    nodes: usize,
    /// The requirement of each layer after the first.
    pending: Vec<u32>,
    /// Per slot: the best cost so far, and the index and edge of the state it leads to.
    best: Vec<(Cost, u32, EdgeIndex)>,
    /// Per slot: its index in the tree once settled, `u32::MAX` before.
    settled: Vec<u32>,
    /// Slots written by this search.
    touched: Vec<usize>,
    /// Per node, twice (by `via`): a mark, each unmarked by whoever set it.
    marks: Vec<bool>,
    /// States of other requirements: best and settled.
    other_best: FxHashMap<State, (Cost, u32, EdgeIndex)>,
    other_settled: FxHashMap<State, u32>,
    /// States to settle, by the cost they were offered at. Every step adds a hop, so no state is offered at the
    /// cost being settled: a bucket is whole when its turn comes, and settling it in state order is the order a
    /// binary heap of (cost, state) pops.
    queue: std::collections::BTreeMap<Cost, Vec<State>>,
    /// Emptied buckets, for reuse.
    spare: Vec<Vec<State>>,
    /// Per node, for [`leaf_members`]: the best (cost, needs, parent) offered so far, and by what (`u32::MAX`
    /// for nothing yet: reset by whoever sets it).
    leaf_best: Vec<(Cost, u32, u32)>,
    leaf_by: Vec<u32>,
}

impl TreeScratch {
    /// Sized for a graph of `nodes` nodes, every table empty.
    fn ready(&mut self, nodes: usize) {
        if self.nodes != nodes || self.best.is_empty() {
            *self = TreeScratch { nodes, spare: std::mem::take(&mut self.spare), ..TreeScratch::default() };
            self.best = vec![(UNREACHED, u32::MAX, EdgeIndex::end()); 4 * nodes];
            self.settled = vec![u32::MAX; 4 * nodes];
            self.marks = vec![false; 2 * nodes];
            self.leaf_best = vec![(UNREACHED, 0, 0); nodes];
            self.leaf_by = vec![u32::MAX; nodes];
        }
    }

    /// Clears what the last search wrote.
    fn clear(&mut self) {
        for i in self.touched.drain(..) {
            self.best[i] = (UNREACHED, u32::MAX, EdgeIndex::end());
            self.settled[i] = u32::MAX;
        }
        self.other_best.clear();
        self.other_settled.clear();
        for (_, mut bucket) in std::mem::take(&mut self.queue) {
            bucket.clear();
            self.spare.push(bucket);
        }
    }

    /// The dense slot of `s`, when its requirement has a layer.
    fn slot(&self, s: State) -> Option<usize> {
        let pending = s.2 & !NEEDS_ACTIVATION;
        let layer = if pending == 0 { 0 } else { 1 + self.pending.iter().position(|p| *p == pending)? };
        Some((layer * self.nodes + s.0.index()) * 4 + usize::from(s.1) * 2 + usize::from(s.2 & NEEDS_ACTIVATION != 0))
    }

    /// The dense slot of `s`, adding a layer for its requirement while there is room for one.
    fn slot_or_add(&mut self, s: State) -> Option<usize> {
        let pending = s.2 & !NEEDS_ACTIVATION;
        if pending != 0 && self.pending.len() < DENSE_PENDING && !self.pending.contains(&pending) {
            self.pending.push(pending);
            let len = self.best.len() + 4 * self.nodes;
            self.best.resize(len, (UNREACHED, u32::MAX, EdgeIndex::end()));
            self.settled.resize(len, u32::MAX);
        }
        self.slot(s)
    }

    fn best(&self, s: State) -> (Cost, u32, EdgeIndex) {
        match self.slot(s) {
            Some(i) => self.best[i],
            None => self.other_best.get(&s).copied().unwrap_or((UNREACHED, u32::MAX, EdgeIndex::end())),
        }
    }

    fn set_best(&mut self, s: State, v: (Cost, u32, EdgeIndex)) {
        match self.slot_or_add(s) {
            Some(i) => {
                if self.best[i].0 == UNREACHED && self.settled[i] == u32::MAX {
                    self.touched.push(i);
                }
                self.best[i] = v;
            }
            None => {
                self.other_best.insert(s, v);
            }
        }
    }

    /// The tree index `s` was settled at.
    fn settled_at(&self, s: State) -> Option<u32> {
        match self.slot(s) {
            Some(i) => (self.settled[i] != u32::MAX).then_some(self.settled[i]),
            None => self.other_settled.get(&s).copied(),
        }
    }

    fn is_settled(&self, s: State) -> bool {
        match self.slot(s) {
            Some(i) => self.settled[i] != u32::MAX,
            None => self.other_settled.contains_key(&s),
        }
    }

    fn settle(&mut self, s: State, at: u32) {
        match self.slot(s) {
            Some(i) => self.settled[i] = at,
            None => {
                self.other_settled.insert(s, at);
            }
        }
    }

    fn offer(&mut self, c: Cost, s: State) {
        let spare = &mut self.spare;
        self.queue.entry(c).or_insert_with(|| spare.pop().unwrap_or_default()).push(s);
    }
}

/// How a [`reverse_tree`] search walks.
#[derive(Debug, Clone, Copy)]
struct Walk {
    /// Capability masks are followed as the forward search does.
    masks: bool,
    /// What ways rank by.
    order: Order,
    /// A pivot reached once `via` is crossed is not walked past (an anchor's search).
    stop: bool,
    /// No state costing more hops settles.
    limit: u32,
}

impl Walk {
    /// An anchor's search: ways ranked by flags then hops, stopping at pivots.
    fn anchor(masks: bool) -> Walk {
        Walk { masks, order: Order::Flags, stop: true, limit: u32::MAX }
    }

    /// A member search: masks followed, ways ranked by `order`, through pivots, however far.
    fn members(order: Order) -> Walk {
        Walk { masks: true, order, stop: false, limit: u32::MAX }
    }
}

/// Reverse Dijkstra from `start` over the identity edges a profile allows: each node reached with its best
/// path towards `start` (active before PIM-eligible, understood before conditional, then fewest hops).
/// `(start, via0, flags)`: where it starts, whether that already crosses the query's `via`, the flags of the
/// anchor's own edge. `inner`: for an anchor's search, the edges worth walking back over, and the nodes where a
/// way that has not crossed `via` can still cross it (see [`InEdges`]);
/// without it (a member search) every edge is walked. With `masks`, capability masks are followed as the
/// forward search does (a way whose mask forbids its next step is not taken; a node may then be reached once
/// per pending requirement, and only its first, best, settling starts a core). With `stop` (an anchor's
/// search), a pivot reached once `via` is crossed is not walked past: whoever reaches the anchor through it is
/// its member ([`Run::members_of`] searches that once per pivot), and a node the search still reaches has a way
/// around every pivot, whose core it gets (even where a way through a pivot is better: cutting the pivot alone
/// would leave it). States settle in (cost, state) order, none whose cost is more than `limit` hops (by
/// [`Order::Shortest`] states settle by hops, so a search for ways within a budget stops there); `scratch`
/// holds the tables, reused by the next search.
#[allow(clippy::too_many_arguments)]
fn reverse_tree(
    graph: &PrivilegeGraph,
    profile: &Profile,
    removed: &EdgeMask,
    (start, via0, flags): (NodeIndex, bool, u8),
    follow: fn(EdgeKind) -> bool,
    inner: Option<&InEdges>,
    Walk { masks, order, stop, limit }: Walk,
    scratch: &mut TreeScratch,
) -> Vec<Settled> {
    debug_assert!(limit == u32::MAX || order == Order::Shortest, "only a search by hops settles in hop order");
    let (g, kinds) = (&graph.graph, graph.kinds());
    scratch.ready(g.node_count());
    let mut incoming: Vec<EdgeIndex> = Vec::new();
    let init = Cost::default().step(flags);
    let first = (start, via0, activation(flags));
    scratch.set_best(first, (init, u32::MAX, EdgeIndex::end()));
    scratch.offer(init, first);
    let mut out: Vec<Settled> = Vec::new();
    while let Some((cost, mut bucket)) = scratch.queue.pop_first() {
        if cost.hops > limit {
            bucket.clear();
            scratch.spare.push(bucket);
            break;
        }
        bucket.sort_unstable();
        for &state in &bucket {
            let (best, parent, edge) = scratch.best(state);
            if scratch.is_settled(state) || best < cost {
                continue;
            }
            // A way needing an activation is no use where the node was reached by one that needs none and
            // rests on no condition: that one settled first and is better in every extension.
            if state.2 & NEEDS_ACTIVATION != 0 {
                let active = (state.0, state.1, state.2 & !NEEDS_ACTIVATION);
                if scratch.settled_at(active).is_some_and(|at| out[at as usize].cost.conditional == 0) {
                    continue;
                }
            }
            let edge = (edge != EdgeIndex::end()).then_some(edge);
            let i = out.len() as u32;
            let head = match edge {
                Some(e) => {
                    let up = out[parent as usize].head;
                    // A core crosses the query's `via` or does not: a member never crosses it where its head did
                    // not. (Not at the root: a hub the search starts from leads to its own targets, not through
                    // them.)
                    let through_pivot = is_pivot(kinds[out[up as usize].node.index()])
                        && out[up as usize].via == state.1
                        && out[up as usize].parent != u32::MAX;
                    // Behind a pivot everything is the pivot's member, another pivot included (whoever reaches
                    // that one reaches this); a pivot reached otherwise starts a core of its own.
                    if through_pivot || (is_membership(g[e].kind) && !is_pivot(kinds[state.0.index()])) {
                        up
                    } else {
                        i
                    }
                }
                None => i,
            };
            out.push(Settled { node: state.0, via: state.1, needs: state.2, cost, parent, edge, head });
            scratch.settle(state, i);
            incoming.clear();
            // Behind a pivot everything is the pivot's member (its own member search finds them): with `stop`,
            // the search goes no further there once the query's `via` is crossed (before, a node behind it may
            // cross `via` and start a core of its own).
            let stopped = stop && edge.is_some() && state.1 && is_pivot(kinds[state.0.index()]);
            match inner {
                _ if stopped => {}
                Some(inner) => incoming.extend_from_slice(inner.of(state.0)),
                None => incoming.extend(g.edges_directed(state.0, Direction::Incoming).map(|e| e.id())),
            }
            for &id in &incoming {
                let (source, _, w) = graph.edge(id);
                if !follow(w.kind) || !profile.allowed(w.kind, w.flags) || removed.contains(id) {
                    continue;
                }
                let Some(needs) = needs_before(state.2, (w.kind, w.caps, w.flags), masks) else { continue };
                let next = (source, state.1 || profile.is_via(w.kind), needs);
                if (!next.1 && inner.is_some_and(|inner| !inner.can_cross(source))) || scratch.is_settled(next) {
                    continue;
                }
                let c = cost.advance(order, w.flags, w.kind);
                if c < scratch.best(next).0 {
                    scratch.set_best(next, (c, i, id));
                    scratch.offer(c, next);
                }
            }
        }
        bucket.clear();
        scratch.spare.push(bucket);
    }
    scratch.clear();
    out
}

/// What a state's way to the root of its search tree gives a member (see [`Member`]).
#[derive(Debug, Clone, Copy)]
struct Way {
    /// Flags of its edges.
    flags: u8,
    /// Some edge is not one by which a member holds what its group holds.
    escalates: bool,
    /// Its capability masks allow it ([`masks_allow`]).
    valid: bool,
    hops: u32,
    /// Its first edge that is not a group membership (`EdgeIndex::end()` for none): what a mask just before it
    /// must allow.
    next: EdgeIndex,
}

/// Per state of a search tree, its [`Way`], each from its parent's (a parent settles before its children): no
/// way is walked, however long the list.
fn ways(graph: &PrivilegeGraph, tree: &[Settled]) -> Vec<Way> {
    let mut out: Vec<Way> = Vec::with_capacity(tree.len());
    for (i, s) in tree.iter().enumerate() {
        let Some(e) = s.edge else {
            out.push(Way { flags: 0, escalates: false, valid: true, hops: 0, next: EdgeIndex::end() });
            continue;
        };
        debug_assert!((s.parent as usize) < i, "a parent settles before its children");
        let up = out[s.parent as usize];
        let w = graph.edge(e).2;
        // As [`masks_allow`]: a mask (not a role grant's) must allow what the next step other than a
        // membership needs.
        let needs = match up.next == EdgeIndex::end() {
            true => Caps::EMPTY,
            false => crate::rbac::step_needs(graph.edge(up.next).2.kind),
        };
        let allowed = w.kind == EdgeKind::HasRole || w.caps.is_empty() || needs.is_empty() || w.caps.intersects(needs);
        let way = Way {
            flags: up.flags | w.flags,
            escalates: up.escalates || !holds_through(w.kind),
            valid: up.valid && allowed,
            hops: up.hops + 1,
            next: if w.kind == EdgeKind::MemberOf { up.next } else { e },
        };
        debug_assert_eq!(way.valid, masks_allow(graph, &path_to_root(tree, i as u32)), "state {i}");
        out.push(way);
    }
    out
}

/// Per node, the incoming identity edges (of the profile) an anchor's search walks back over: all but the
/// memberships of principals nothing leads to. Such a principal, reached by membership, is a member, never a
/// head: the member lists hold it, so the search need not visit it (most users of large groups), and with
/// this list it does not even look at them. Built once per profile and search (`removed` left out), in
/// compressed rows.
struct InEdges {
    /// Row `n` is `edges[offsets[n]..offsets[n + 1]]`.
    offsets: Vec<u32>,
    edges: Vec<EdgeIndex>,
    /// The memberships of principals nothing leads to, left out of `edges` (and those `removed` leaves out
    /// too): row `n` is `dropped[dropped_offsets[n]..dropped_offsets[n + 1]]` (a pivot's leaf members, see
    /// [`leaf_members`]).
    dropped_offsets: Vec<u32>,
    dropped: Vec<Dropped>,
    /// Some left-out membership carries a capability mask (none does today): a pivot's members are then
    /// searched whole.
    masked: bool,
    /// The profile's `via` kinds.
    via: Vec<EdgeKind>,
    /// With `via` kinds, per node: whether a way back from it can still cross one (some `via` step's target
    /// leads to it). A search state that has not crossed `via` at a node where no way can is on no core's
    /// way: the search does not go there (most of what a kind of target leads back to has no ASO forging
    /// behind it). Empty without `via` kinds.
    crossable: Vec<bool>,
}

/// Per node (empty without `via` kinds): whether some target of a `via` step leads to it over the identity
/// edges the profile allows (see [`InEdges::crossable`]).
fn crossable(graph: &PrivilegeGraph, profile: &Profile, removed: &EdgeMask) -> Vec<bool> {
    if profile.via.is_empty() {
        return Vec::new();
    }
    let g = &graph.graph;
    let step = |e: &petgraph::graph::EdgeReference<crate::graph::EdgeData>| {
        let w = e.weight();
        is_identity_edge(w.kind) && profile.allowed(w.kind, w.flags) && !removed.contains(e.id())
    };
    let mut seen = vec![false; g.node_count()];
    let mut todo: Vec<NodeIndex> = Vec::new();
    for e in g.edge_references().filter(|e| profile.is_via(e.weight().kind) && step(e)) {
        if !std::mem::replace(&mut seen[e.target().index()], true) {
            todo.push(e.target());
        }
    }
    while let Some(n) = todo.pop() {
        for e in g.edges_directed(n, Direction::Outgoing).filter(|e| step(e)) {
            if !std::mem::replace(&mut seen[e.target().index()], true) {
                todo.push(e.target());
            }
        }
    }
    seen
}

/// A left-out membership, with what a leaf member's way reads of it.
#[derive(Debug, Clone, Copy)]
struct Dropped {
    edge: EdgeIndex,
    from: NodeIndex,
    kind: EdgeKind,
    flags: u8,
}

impl InEdges {
    fn new(graph: &PrivilegeGraph, profile: &Profile, removed: &EdgeMask) -> InEdges {
        let g = &graph.graph;
        let mut offsets = Vec::with_capacity(g.node_count() + 1);
        let mut dropped_offsets = Vec::with_capacity(g.node_count() + 1);
        let mut edges = Vec::new();
        let mut dropped = Vec::new();
        let mut masked = false;
        offsets.push(0);
        dropped_offsets.push(0);
        for n in g.node_indices() {
            for e in g.edges_directed(n, Direction::Incoming) {
                let w = e.weight();
                if !is_identity_edge(w.kind) || !profile.allowed(w.kind, w.flags) {
                    continue;
                }
                if is_membership(w.kind) && leaf(graph, profile, e.source()) {
                    if !removed.contains(e.id()) {
                        masked |= w.kind != EdgeKind::HasRole && !w.caps.is_empty();
                        dropped.push(Dropped { edge: e.id(), from: e.source(), kind: w.kind, flags: w.flags });
                    }
                    continue;
                }
                edges.push(e.id());
            }
            offsets.push(edges.len() as u32);
            dropped_offsets.push(dropped.len() as u32);
        }
        let crossable = crossable(graph, profile, removed);
        InEdges { offsets, edges, dropped_offsets, dropped, masked, via: profile.via.clone(), crossable }
    }

    /// Whether a search state that has not crossed `via` yet is worth reaching at `n` (see `crossable`).
    fn can_cross(&self, n: NodeIndex) -> bool {
        self.crossable.is_empty() || self.crossable[n.index()]
    }

    fn of(&self, n: NodeIndex) -> &[EdgeIndex] {
        &self.edges[self.offsets[n.index()] as usize..self.offsets[n.index() + 1] as usize]
    }

    /// Where the memberships into `n` that [`InEdges::of`] leaves out (less those removed) are in `dropped`.
    fn dropped_of(&self, n: NodeIndex) -> std::ops::Range<usize> {
        self.dropped_offsets[n.index()] as usize..self.dropped_offsets[n.index() + 1] as usize
    }
}

/// What a pivot's member search offers its leaf members from ([`leaf_members`]).
#[derive(Clone, Copy)]
struct Offer<'a> {
    /// What the search ranked ways by.
    order: Order,
    /// Its edges, and the memberships it left out.
    inner: &'a InEdges,
    /// The search's tree, and each entry's way.
    tree: &'a [Settled],
    ways: &'a [Way],
    /// Kinds a member may be, by node.
    sources: KindSet,
    kinds: &'a [NodeKind],
    /// Only these leaves, if given.
    only: Option<&'a FxHashSet<NodeIndex>>,
}

/// A pivot's leaf members: what the whole member search (every identity edge) gives the principals nothing
/// leads to, from the search over `inner`'s edges only (`tree`, with its `ways`). Such a leaf is never on
/// another node's way, so every other state settles as in the whole search; a leaf's states are offered by its
/// left-out memberships from the states they lead to, and the member is its first state to settle with `via`
/// crossed: the least (cost, state) offered, a state offered twice keeping its earliest-settled parent (the
/// whole search's first offer), and a leaf the search reached itself (by another step) keeping that way on a
/// tie. `members` (read from `tree`, first state per node) loses the leaves whose best way is a membership.
/// With `only`, only those leaves' memberships are offered.
fn leaf_members(offer: &Offer, members: &mut Vec<Member>, scratch: &mut TreeScratch) -> Leaves {
    let Offer { order: profile_order, inner, tree, ways, sources, kinds, only } = *offer;
    const EXPLICIT: u32 = u32::MAX - 1;
    let (best, by) = (&mut scratch.leaf_best, &mut scratch.leaf_by);
    let mut touched: Vec<NodeIndex> = Vec::new();
    for m in members.iter() {
        let s = &tree[m.link as usize];
        best[m.node.index()] = (s.cost, s.needs, s.parent);
        by[m.node.index()] = EXPLICIT;
        touched.push(m.node);
    }
    for (i, s) in tree.iter().enumerate() {
        for at in inner.dropped_of(s.node) {
            let d = &inner.dropped[at];
            if !sources.contains(kinds[d.from.index()]) || only.is_some_and(|only| !only.contains(&d.from)) {
                continue;
            }
            if !(s.via || inner.via.contains(&d.kind)) {
                continue;
            }
            let Some(needs) = needs_before(s.needs, (d.kind, Caps::EMPTY, d.flags), true) else { continue };
            let key = (s.cost.advance(profile_order, d.flags, d.kind), needs, i as u32);
            let u = d.from.index();
            if by[u] == u32::MAX {
                touched.push(d.from);
            } else if key >= best[u] {
                continue;
            }
            best[u] = key;
            by[u] = at as u32;
        }
    }
    members.retain(|m| by[m.node.index()] == EXPLICIT);
    let mut leaves = Leaves::of(ways);
    // Room for every leaf at once (most of a large tenant's users): no list grows by copying itself.
    leaves.reserve_exact(touched.len() - members.len());
    for n in touched {
        let at = std::mem::replace(&mut by[n.index()], u32::MAX);
        if at == EXPLICIT {
            continue;
        }
        let d = inner.dropped[at as usize];
        leaves.push(n, (d.edge, d.kind, d.flags), best[n.index()].2);
    }
    leaves
}

/// Whether nothing leads to `n` over the identity edges a profile allows.
fn leaf(graph: &PrivilegeGraph, profile: &Profile, n: NodeIndex) -> bool {
    graph.graph.edges_directed(n, Direction::Incoming).all(|e| {
        let w = e.weight();
        !is_identity_edge(w.kind) || !profile.allowed(w.kind, w.flags)
    })
}

/// The identity that acts at the end of a core when the core itself switches identity (the same for every
/// principal of it); `None` when the acting principal is the principal itself (a grant held directly or
/// through groups).
fn acting_identity(graph: &PrivilegeGraph, core: &Core) -> Option<NodeIndex> {
    let switches = core.edges.iter().any(|e| switches_identity(graph.edge(*e).2.kind));
    switches.then(|| actor_of(graph, core.head, &core.edges))
}

/// Deny assignments indexed for pair checks: per deny the principals it names and those it exempts, each
/// closed over group membership (a member of a named group is named), and per scope the denies that apply
/// there. `denied(actor, t)` then equals [`PrivilegeGraph::denied_caps`] without walking the actor's groups.
struct DenyIndex {
    /// Per deny: the nodes it names (`None`: everyone).
    named: Vec<Option<FxHashSet<NodeIndex>>>,
    /// Per deny: the nodes it exempts.
    exempt: Vec<FxHashSet<NodeIndex>>,
    /// Per scope with denies: the denies that apply there.
    at: FxHashMap<NodeIndex, Vec<u32>>,
}

impl DenyIndex {
    fn new(graph: &PrivilegeGraph) -> DenyIndex {
        let mut index = DenyIndex { named: Vec::new(), exempt: Vec::new(), at: FxHashMap::default() };
        if graph.denies.is_empty() {
            return index;
        }
        let closure = |keys: &FxHashSet<crate::graph::NodeKey>| {
            let mut seen: FxHashSet<NodeIndex> = keys.iter().filter_map(|k| graph.index.get(k).copied()).collect();
            let mut stack: Vec<NodeIndex> = seen.iter().copied().collect();
            while let Some(n) = stack.pop() {
                for e in graph.graph.edges_directed(n, Direction::Incoming) {
                    if e.weight().kind == EdgeKind::MemberOf && seen.insert(e.source()) {
                        stack.push(e.source());
                    }
                }
            }
            seen
        };
        for d in &graph.denies {
            index.named.push((!d.everyone).then(|| closure(&d.principals)));
            index.exempt.push(closure(&d.excluded));
        }
        for n in graph.graph.node_indices().filter(|n| graph.node(*n).kind.is_scope()) {
            let chain = graph.scope_chain(n);
            let here: Vec<u32> = (0..graph.denies.len() as u32)
                .filter(|i| {
                    let d = &graph.denies[*i as usize];
                    match chain.iter().position(|s| *s == d.scope) {
                        Some(0) => true,
                        Some(_) => d.applies_to_children,
                        None => false,
                    }
                })
                .collect();
            if !here.is_empty() {
                index.at.insert(n, here);
            }
        }
        index
    }

    /// Whether some deny applies at `t`.
    fn any_at(&self, t: NodeIndex) -> bool {
        self.at.contains_key(&t)
    }

    /// Capabilities the denies take from `actor` at `t`.
    fn denied(&self, graph: &PrivilegeGraph, actor: NodeIndex, t: NodeIndex) -> Caps {
        let Some(here) = self.at.get(&t) else { return Caps::EMPTY };
        here.iter().fold(Caps::EMPTY, |acc, i| {
            let i = *i as usize;
            let named = self.named[i].as_ref().is_none_or(|s| s.contains(&actor));
            if named && !self.exempt[i].contains(&actor) {
                acc | graph.denies[i].removes
            } else {
                acc
            }
        })
    }
}

/// The edges from state `i` to the root of the tree.
fn path_to_root(tree: &[Settled], mut i: u32) -> Vec<EdgeIndex> {
    let mut out = Vec::new();
    while let Some(e) = tree[i as usize].edge {
        out.push(e);
        i = tree[i as usize].parent;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn n(i: usize) -> NodeIndex {
        NodeIndex::new(i)
    }

    fn tier(query: usize, targets: &[usize], excluded: &[(usize, usize)]) -> CoreTier {
        CoreTier {
            query,
            caps: Caps::EMPTY,
            targets: targets.iter().map(|t| n(*t)).collect(),
            excluded: excluded.iter().map(|(p, t)| (n(*p), n(*t))).collect(),
        }
    }

    #[test]
    fn a_wanted_pair_is_covered_only_by_a_tier_of_its_query_that_gives_it() {
        // Principal 1 wants targets 10 and 11 in query 0, and 10 in query 1; principal 2 wants 10 in query 0.
        let mut w =
            Wanted::new(vec![(0, n(1), n(10)), (0, n(1), n(11)), (1, n(1), n(10)), (0, n(2), n(10)), (0, n(1), n(10))]);
        assert!(w.is_open(n(1)) && w.is_open(n(2)) && !w.is_open(n(3)));
        assert!(w.is_target(0, n(10)) && w.is_target(0, n(11)) && w.is_target(1, n(10)));
        assert!(!w.is_target(1, n(11)) && !w.is_target(0, n(12)), "wanted targets are per query");
        // A tier of another query, one that excludes the pair, one without the target: nothing covered.
        w.cover(&tier(2, &[10, 11], &[]), n(1));
        w.cover(&tier(0, &[10, 11], &[(1, 10), (1, 11)]), n(1));
        w.cover(&tier(0, &[12], &[]), n(1));
        w.cover(&tier(0, &[10], &[]), n(3));
        assert_eq!(w.left().len(), 4, "repeats counted once, nothing covered");

        let mut w = Wanted::new(vec![(0, n(1), n(10)), (0, n(1), n(11)), (1, n(1), n(10)), (0, n(2), n(10))]);
        // Fewer wanted targets than the tier has (search the tier) …
        w.cover(&tier(0, &[5, 6, 7, 10, 20], &[(1, 11)]), n(1));
        // … and more wanted than the tier has (search the wanted ones).
        w.cover(&tier(0, &[10], &[]), n(2));
        assert!(w.is_open(n(1)) && !w.is_open(n(2)), "a principal whose pairs are all covered is no longer open");
        assert_eq!(w.left(), vec![(0, n(1), n(11)), (1, n(1), n(10))]);
    }

    fn e(i: usize) -> EdgeIndex {
        EdgeIndex::new(i)
    }

    /// Node kinds for lists of made-up nodes: every node a user.
    const USERS: [NodeKind; 16] = [NodeKind::User; 16];

    fn member(node: usize, hops: u32) -> Member {
        Member { node: n(node), link: u32::MAX, flags: 0, escalates: false, hops, valid: true }
    }

    /// Leaf members over a tree whose entries' ways have these (hops, valid): each (node, membership edge,
    /// tree entry), by a membership that gains (a group's owner) with no flags.
    fn leaves(ways: &[(u32, bool)], at: &[(usize, usize, u32)]) -> Leaves {
        let ways: Vec<Way> = ways
            .iter()
            .map(|&(hops, valid)| Way { flags: 0, escalates: false, valid, hops, next: EdgeIndex::end() })
            .collect();
        let mut out = Leaves::of(&ways);
        for &(node, edge, parent) in at {
            out.push(n(node), (e(edge), EdgeKind::CanAddMember, 0), parent);
        }
        out
    }

    #[test]
    fn a_leaf_reads_its_way_from_its_tree_entry_and_its_own_membership() {
        let ways = [
            Way { flags: CONDITIONAL, escalates: false, valid: true, hops: 2, next: EdgeIndex::end() },
            Way { flags: 0, escalates: true, valid: false, hops: 4, next: EdgeIndex::end() },
        ];
        let mut leaves = Leaves::of(&ways);
        leaves.push(n(7), (e(70), EdgeKind::MemberOf, ELIGIBLE), 0);
        leaves.push(n(8), (e(80), EdgeKind::CanAddMember, 0), 0);
        leaves.push(n(9), (e(90), EdgeKind::KubernetesIdentity, 0), 1);
        let seen = |l: Leaf| (l.node, l.edge, l.parent, l.hops, l.flags, l.escalates, l.valid);
        assert_eq!(seen(leaves.get(0)), (n(7), e(70), 0, 3, CONDITIONAL | ELIGIBLE, false, true), "holds, both flags");
        assert_eq!(seen(leaves.get(1)), (n(8), e(80), 0, 3, CONDITIONAL, true, true), "owning the group gains");
        assert_eq!(seen(leaves.get(2)), (n(9), e(90), 1, 5, 0, true, false), "its entry's escalation and mask check");
    }

    #[test]
    fn a_member_list_keeps_no_spare_room_and_its_summary() {
        let mut members = Vec::with_capacity(64);
        members.extend([member(1, 2), member(2, 5), member(3, 1)]);
        members[1].valid = false;
        let mut leaves = leaves(&[(2, true), (5, false)], &[(4, 40, 0), (5, 41, 1)]);
        leaves.at.reserve(64);
        leaves.bits.reserve(64);
        let list = MemberList::new(members, leaves, Rc::new(Vec::new()), &USERS);
        assert_eq!((list.members.capacity(), list.leaves.at.capacity(), list.leaves.bits.capacity()), (3, 2, 2));
        assert_eq!(list.len(), 5);
        assert_eq!((list.longest, list.any_invalid), (6, true));
        let within = list.within(3, &USERS);
        assert!(Rc::ptr_eq(&within.leaves.ways, &list.leaves.ways), "the tree's ways are shared, not copied");
        assert_eq!((within.members.capacity(), within.leaves.at.capacity(), within.leaves.bits.capacity()), (2, 1, 1));
        assert_eq!(within.iter().map(|m| m.node).collect::<Vec<_>>(), vec![n(1), n(3), n(4)]);
        assert_eq!((within.len(), within.longest, within.any_invalid), (3, 3, false));
        let within = list.within(2, &USERS);
        assert_eq!((within.len(), within.longest), (2, 2), "the leaf three hops away is cut too");
        assert_eq!(within.iter().map(|m| m.node).collect::<Vec<_>>(), vec![n(1), n(3)]);
        assert_eq!(within.within(5, &USERS).len(), 2, "a cut list cut again keeps what its own budget kept");
        assert_eq!(within.count_of(KindSet::of(&[NodeKind::User])), 2, "the cut list counts its own members");
    }

    #[test]
    fn a_member_list_reads_each_way_from_its_shared_tree() {
        // A tree as a search leaves it: 0 the head; 1 reaches it by edge 10; 2 and 3 reach 1 by edges 11, 12.
        let links = Rc::new(vec![(u32::MAX, EdgeIndex::end()), (0, e(10)), (1, e(11)), (1, e(12))]);
        // A leaf member (node 5) reaches entry 3 by its membership, edge 13.
        let mut list = MemberList::new(
            vec![Member { link: 1, ..member(1, 1) }, Member { link: 3, ..member(3, 2) }],
            leaves(&[(0, true), (1, true), (2, true), (2, true)], &[(5, 13, 3)]),
            links.clone(),
            &USERS,
        );
        let nth = |list: &MemberList, i: usize| list.iter().nth(i).unwrap();
        assert_eq!(list.path(&nth(&list, 0)), vec![e(10)]);
        assert_eq!(list.path(&nth(&list, 1)), vec![e(12), e(10)], "its own branch, not its sibling's");
        let leaf = nth(&list, 2);
        assert_eq!((leaf.node, leaf.hops, leaf.escalates), (n(5), 3, true));
        let read: Vec<(NodeIndex, bool)> = list.iter().map(|m| (m.node, m.escalates)).collect();
        assert_eq!(list.escalations().collect::<Vec<_>>(), read, "nodes and escalation as the members give them");
        assert_eq!(list.nodes().collect::<Vec<_>>(), read.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        assert_eq!(list.path(&leaf), vec![e(13), e(12), e(10)], "the membership, then the way of the entry");
        assert_eq!(list.longest, 3);
        // Cut to one hop: the far members go, the tree is shared, not copied.
        let near = list.within(1, &USERS);
        assert_eq!(near.iter().map(|m| m.node).collect::<Vec<_>>(), vec![n(1)]);
        assert!(Rc::ptr_eq(&near.links, &links) && near.longest == 1);
        assert_eq!(near.path(&nth(&near, 0)), vec![e(10)]);
        // A way found later is appended; the ways already there keep theirs.
        list.push_path(member(7, 2), &[e(20), e(21)], NodeKind::ServicePrincipal);
        let (users, sps) = (KindSet::of(&[NodeKind::User]), KindSet::of(&[NodeKind::ServicePrincipal]));
        assert_eq!((list.count_of(users), list.count_of(sps)), (3, 1), "a member pushed is counted by its kind");
        assert_eq!(list.iter().map(|m| m.node).collect::<Vec<_>>(), vec![n(1), n(3), n(7), n(5)]);
        assert_eq!(list.path(&nth(&list, 2)), vec![e(20), e(21)]);
        assert_eq!(list.path(&nth(&list, 1)), vec![e(12), e(10)]);
        assert_eq!(list.path(&nth(&list, 3)), vec![e(13), e(12), e(10)]);
        assert_eq!(links.len(), 4, "the shared tree does not grow");
        assert!(Rc::ptr_eq(&list.links, &links), "nor is it copied: the way is the list's own");
        // A fresh list: the appended way starts its own tree; no way at all is an empty path.
        let mut fresh = MemberList::default();
        fresh.push_path(member(8, 1), &[e(30)], NodeKind::User);
        fresh.push_path(member(9, 0), &[], NodeKind::User);
        assert_eq!(fresh.path(&nth(&fresh, 0)), vec![e(30)]);
        assert!(fresh.path(&nth(&fresh, 1)).is_empty());
    }

    #[test]
    fn members_added_from_another_list_keep_their_ways_and_share_the_entries_they_pass() {
        // `from`'s tree: 0 the head; 1 by edge 10; 2 and 3 reach 1 by edges 11, 12; 4 reaches 3 by 13. A leaf
        // (node 6) reaches entry 4 by its membership, edge 14.
        let links = Rc::new(vec![(u32::MAX, EdgeIndex::end()), (0, e(10)), (1, e(11)), (1, e(12)), (3, e(13))]);
        let from = MemberList::new(
            vec![Member { link: 2, ..member(2, 2) }, Member { link: 4, ..member(4, 3) }],
            leaves(&[(0, true), (1, true), (2, true), (2, true), (3, true)], &[(6, 14, 4)]),
            links,
            &USERS,
        );
        // The list they are added to has a tree of its own (another search of the same head).
        let mut to =
            MemberList::new(vec![member(1, 1)], Leaves::default(), Rc::new(vec![(u32::MAX, e(0)), (0, e(9))]), &USERS);
        let mut copied = FxHashMap::default();
        for m in from.iter() {
            to.push_from(m, &from, NodeKind::User, &mut copied);
        }
        let added: Vec<Member> = to.iter().skip(1).collect();
        assert_eq!(added.len(), 3);
        for (a, m) in added.iter().zip(from.iter()) {
            assert_eq!(to.path(a), from.path(&m), "member {:?} keeps its way", m.node);
            assert_eq!((a.node, a.hops, a.escalates), (m.node, m.hops, m.escalates));
        }
        // Entries 1, 2, 3 and 4 of `from` once each, and the leaf's membership: not 2 + 3 + 4 edges.
        assert_eq!(to.own.len(), 5);
        assert_eq!(to.count_of(KindSet::of(&[NodeKind::User])), 4);
    }

    /// A member as the tests compare it: its flags, escalation, hops, mask check and way.
    type Seen = (u8, bool, u32, bool, Vec<EdgeIndex>);

    /// The members a whole search tree gives (each node's first state with `via` crossed), by node.
    fn whole_members(graph: &PrivilegeGraph, tree: &[Settled]) -> FxHashMap<NodeIndex, Seen> {
        let ways = ways(graph, tree);
        let mut out: FxHashMap<NodeIndex, Seen> = FxHashMap::default();
        for (i, s) in tree.iter().enumerate().skip(1).filter(|(_, s)| s.via) {
            let w = ways[i];
            out.entry(s.node).or_insert_with(|| (w.flags, w.escalates, w.hops, w.valid, path_to_root(tree, i as u32)));
        }
        out
    }

    /// The whole member search from every pivot of `graph`, against the search that leaves leaf members out
    /// and offers them after ([`leaf_members`]): (pivots compared, leaf members offered, pivots whose ways
    /// cross a mask, ways failing a mask).
    fn compare_pivot_trees(graph: &PrivilegeGraph, name: &str) -> (usize, usize, usize, usize) {
        let identity: Vec<EdgeKind> = EdgeKind::ALL.iter().copied().filter(|k| is_identity_edge(*k)).collect();
        let profiles = [
            Profile { edges: identity.clone(), via: Vec::new(), eligible_ok: true },
            Profile { edges: identity.clone(), via: Vec::new(), eligible_ok: false },
            Profile {
                edges: identity.iter().copied().filter(|k| *k != EdgeKind::CanAddMember).collect(),
                via: vec![EdgeKind::AksClusterAdmin],
                eligible_ok: true,
            },
        ];
        // Also with some edges left out, as a plan's re-run leaves them.
        let mut some_removed = EdgeMask::default();
        for e in graph.graph.edge_indices().filter(|e| e.index() % 7 == 3) {
            some_removed.insert(e);
        }
        let every_kind = KindSet::of(&NodeKind::ALL);
        let (mut pivots, mut offered, mut masked, mut invalid, mut restricted) = (0, 0, 0, 0, 0);
        let mut scratch = TreeScratch::default();
        let orders = [Order::Preferred, Order::Shortest];
        for (removed, order) in [EdgeMask::default(), some_removed].iter().flat_map(|r| orders.map(|o| (r, o))) {
            for profile in &profiles {
                let inner = InEdges::new(graph, profile, removed);
                assert!(!inner.masked, "{name}: no left-out membership carries a mask");
                let pivots_of = graph.graph.node_indices().filter(|n| is_pivot(graph.node(*n).kind));
                // For cores that need no activation and for those that do.
                for (n, flags) in pivots_of.flat_map(|n| [(n, 0), (n, ELIGIBLE)]) {
                    let start = (n, true, flags);
                    let follow = is_identity_edge;
                    let how = Walk::members(order);
                    let whole = reverse_tree(graph, profile, removed, start, follow, None, how, &mut scratch);
                    let want = whole_members(graph, &whole);
                    let searched =
                        reverse_tree(graph, profile, removed, start, follow, Some(&inner), how, &mut scratch);
                    let is_leaf = |n: NodeIndex| leaf(graph, profile, n);
                    let mut leaves: Vec<NodeIndex> = want.keys().copied().filter(|n| is_leaf(*n)).collect();
                    leaves.sort();
                    // Every leaf, then only some (every third one): those and every other node as the whole
                    // search gives them, and no other leaf offered a membership.
                    let some: FxHashSet<NodeIndex> = leaves.iter().copied().step_by(3).collect();
                    for only in [None, Some(&some)] {
                        let searched_members = whole_members(graph, &searched);
                        let ways = ways(graph, &searched);
                        let mut members: Vec<Member> = Vec::new();
                        let mut seen = FxHashSet::default();
                        for (i, s) in searched.iter().enumerate().skip(1).filter(|(_, s)| s.via) {
                            if seen.insert(s.node) {
                                let w = ways[i];
                                let (flags, escalates, valid, hops) = (w.flags, w.escalates, w.valid, w.hops);
                                members.push(Member { node: s.node, link: i as u32, flags, escalates, hops, valid });
                            }
                        }
                        let kinds = graph.kinds();
                        let offer = Offer {
                            order,
                            inner: &inner,
                            tree: &searched,
                            ways: &ways,
                            sources: every_kind,
                            kinds,
                            only,
                        };
                        let leaves_found = leaf_members(&offer, &mut members, &mut scratch);
                        assert!(scratch.leaf_by.iter().all(|b| *b == u32::MAX), "{name}: the tables are left clean");
                        offered += leaves_found.len();
                        let links =
                            searched.iter().map(|s| (s.parent, s.edge.unwrap_or_else(EdgeIndex::end))).collect();
                        let list = MemberList::new(members, leaves_found, Rc::new(links), kinds);
                        let got: FxHashMap<NodeIndex, Seen> = list
                            .iter()
                            .map(|m| (m.node, (m.flags, m.escalates, m.hops, m.valid, list.path(&m))))
                            .collect();
                        assert_eq!(got.len(), list.len(), "{name}: each member once");
                        let what = format!(
                            "{name}: pivot {} ({order:?}, flags {flags}, only {})",
                            graph.node(n).name,
                            only.is_some()
                        );
                        for (node, seen) in &want {
                            let kept = !is_leaf(*node) || only.is_none_or(|o| o.contains(node));
                            if kept {
                                assert_eq!(got.get(node), Some(seen), "{what}: member {}", graph.node(*node).name);
                            } else {
                                // A leaf left out keeps only what the search reached itself.
                                assert_eq!(
                                    got.get(node),
                                    searched_members.get(node),
                                    "{what}: {}",
                                    graph.node(*node).name
                                );
                            }
                        }
                        assert!(got.keys().all(|k| want.contains_key(k)), "{what}: no member the whole search lacks");
                        restricted += usize::from(only.is_some_and(|o| o.len() < leaves.len()));
                    }
                    // Without following masks, some ways fail one: each state's way, as its walked path gives it.
                    let unmasked = reverse_tree(
                        graph,
                        profile,
                        removed,
                        start,
                        follow,
                        None,
                        Walk { masks: false, ..Walk::members(order) },
                        &mut scratch,
                    );
                    for (tree, masks) in [(&whole, true), (&unmasked, false)] {
                        for (i, way) in ways(graph, tree).iter().enumerate() {
                            let path = path_to_root(tree, i as u32);
                            let flags = path.iter().fold(0, |acc, e| acc | graph.edge(*e).2.flags);
                            let escalates = path.iter().any(|e| !holds_through(graph.edge(*e).2.kind));
                            let want = (flags, escalates, masks_allow(graph, &path), path.len() as u32);
                            assert_eq!((way.flags, way.escalates, way.valid, way.hops), want, "{name}: state {i}");
                            assert!(way.valid || !masks, "{name}: a search following masks takes no way they forbid");
                            invalid += usize::from(!way.valid);
                        }
                    }
                    pivots += 1;
                    masked += usize::from(crosses_mask(graph, &whole));
                }
            }
        }
        assert!(restricted > 0 || pivots == 0 || offered == 0, "{name}: some pivot's leaves were restricted");
        (pivots, offered, masked, invalid)
    }

    /// The bundled queries.
    pub(crate) fn bundled_queries() -> Vec<Query> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::read_dir(root.join("queries"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| Query::parse(&std::fs::read_to_string(&p).unwrap(), &p.display().to_string()).unwrap())
            .collect()
    }

    /// The graph of the bundled demo tenant's snapshot fixture.
    pub(crate) fn demo_graph() -> PrivilegeGraph {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(root.join("tests/fixtures/snapshots/demo.json")).unwrap();
        PrivilegeGraph::build(&crate::snapshot::Snapshot::from_json(&text, "demo").unwrap())
    }

    /// The graph of the generated 300-node fixture (ASO forging, pivots, nested groups).
    pub(crate) fn generated_300() -> PrivilegeGraph {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generated-300.json");
        let text = std::fs::read_to_string(path).unwrap();
        PrivilegeGraph::build(&crate::snapshot::Snapshot::from_json(&text, "generated-300").unwrap())
    }

    /// A search by hops with a limit is the whole search cut there: the same states up to the limit, settled
    /// alike (same index, cost and edge), and none beyond; the tables it leaves serve the next search.
    #[test]
    fn a_search_by_hops_within_a_limit_is_the_whole_search_cut_there() {
        let graph = generated_300();
        let queries = bundled_queries();
        let query = queries.iter().find(|q| q.id == "can-act-as-managed-identity").unwrap();
        let profile = Profile::of(query, AnalyzeOptions::default());
        let none = EdgeMask::default();
        let mut scratch = TreeScratch::default();
        let (mut cut, mut searches) = (0, 0);
        let pivots = graph.graph.node_indices().filter(|n| is_pivot(graph.node(*n).kind));
        for (n, limit) in pivots.flat_map(|n| [(n, 2), (n, 3), (n, 1)]) {
            let mut search = |limit| {
                let how = Walk { limit, ..Walk::members(Order::Shortest) };
                reverse_tree(&graph, &profile, &none, (n, true, 0), is_identity_edge, None, how, &mut scratch)
            };
            let (whole, part) = (search(u32::MAX), search(limit));
            let kept: Vec<_> =
                whole.iter().filter(|s| s.cost.hops <= limit).map(|s| (s.node, s.cost, s.edge)).collect();
            assert_eq!(part.iter().map(|s| (s.node, s.cost, s.edge)).collect::<Vec<_>>(), kept);
            cut += whole.len() - part.len();
            searches += 1;
        }
        assert!(searches > 10 && cut > 0, "{searches} searches, {cut} states cut");
    }

    /// An anchor's search with `stop` goes no further than a pivot once `via` is crossed (what lies behind it
    /// is the pivot's member list): every state the whole search settles outside a pivot's part is settled
    /// alike, at the same cost, and no state is reached from a pivot.
    #[test]
    fn an_anchor_search_stops_at_pivots_and_keeps_everything_else() {
        let graph = generated_300();
        let queries = bundled_queries();
        let options = AnalyzeOptions::default();
        let profiles: Vec<Profile> = queries.iter().map(|q| Profile::of(q, options)).collect();
        let none = EdgeMask::default();
        let mut scratch = TreeScratch::default();
        let (mut behind, mut around, mut searches) = (0, 0, 0);
        let mut done = FxHashSet::default();
        let pivot_at = |t: &[Settled], i: u32| {
            let s = &t[i as usize];
            s.parent != u32::MAX && s.via && is_pivot(graph.node(s.node).kind)
        };
        for a in all_anchors(&graph, &queries, &profiles, &none) {
            let profile = &profiles[a.query];
            if !done.insert((profile.clone(), a.start, a.via0, a.flags)) {
                continue;
            }
            let inner = InEdges::new(&graph, profile, &none);
            let start = (a.start, a.via0, a.flags);
            let mut search = |stop| {
                let how = Walk { stop, ..Walk::anchor(false) };
                reverse_tree(&graph, profile, &none, start, is_identity_edge, Some(&inner), how, &mut scratch)
            };
            let (whole, stopped) = (search(false), search(true));
            searches += 1;
            let at: FxHashMap<State, Cost> = stopped.iter().map(|s| ((s.node, s.via, s.needs), s.cost)).collect();
            for (i, s) in whole.iter().enumerate() {
                let state = (s.node, s.via, s.needs);
                if s.head != i as u32 && pivot_at(&whole, s.head) {
                    behind += 1;
                    around += usize::from(at.contains_key(&state));
                } else {
                    assert_eq!(at.get(&state), Some(&s.cost), "{:?} outside every pivot", graph.node(s.node).name);
                }
            }
            for s in stopped.iter().filter(|s| s.parent != u32::MAX) {
                assert!(!pivot_at(&stopped, s.parent), "{:?} is reached from a pivot", graph.node(s.node).name);
            }
        }
        // The whole searches walk far behind pivots; the stopped ones reach a few of those nodes around them.
        assert!(searches > 50 && behind > 10 * searches, "{behind} states behind pivots in {searches} searches");
        assert!(around < behind / 10, "{around} of {behind} reached around the pivots");
    }

    /// An anchor's search for a query with `via` kinds does not go where no way back can cross one: every state
    /// it keeps is settled as by the search that goes everywhere (same cost, same edge), and every state it
    /// leaves out has not crossed `via`, at a node no `via` step's target leads to.
    #[test]
    fn an_anchor_search_leaves_out_only_what_can_no_longer_cross_via() {
        let graph = generated_300();
        let queries = bundled_queries();
        let options = AnalyzeOptions::default();
        let none = EdgeMask::default();
        let mut scratch = TreeScratch::default();
        let (mut kept, mut left_out, mut searches, mut cores) = (0, 0, 0, 0);
        let mut done = FxHashSet::default();
        for a in
            all_anchors(&graph, &queries, &queries.iter().map(|q| Profile::of(q, options)).collect::<Vec<_>>(), &none)
        {
            let profile = Profile::of(&queries[a.query], options);
            if profile.via.is_empty() || !done.insert((a.start, a.via0, a.flags)) {
                continue;
            }
            let pruned = InEdges::new(&graph, &profile, &none);
            assert_eq!(pruned.crossable.len(), graph.node_count());
            let everywhere = InEdges { crossable: Vec::new(), ..InEdges::new(&graph, &profile, &none) };
            let start = (a.start, a.via0, a.flags);
            let mut search = |inner: &InEdges| {
                let how = Walk::anchor(false);
                reverse_tree(&graph, &profile, &none, start, is_identity_edge, Some(inner), how, &mut scratch)
            };
            let (whole, part) = (search(&everywhere), search(&pruned));
            searches += 1;
            let at: FxHashMap<State, (Cost, Option<EdgeIndex>)> =
                part.iter().map(|s| ((s.node, s.via, s.needs), (s.cost, s.edge))).collect();
            for s in &whole {
                match at.get(&(s.node, s.via, s.needs)) {
                    Some(found) => {
                        assert_eq!(*found, (s.cost, s.edge), "{:?} settled otherwise", graph.node(s.node).name);
                        kept += 1;
                    }
                    None => {
                        assert!(!s.via && !pruned.can_cross(s.node), "{:?} lost", graph.node(s.node).name);
                        left_out += 1;
                    }
                }
            }
            cores += part.iter().enumerate().filter(|(i, s)| s.via && s.head == *i as u32).count();
        }
        // The tenant has ASO forging: some searches cross `via` and start cores; most of what the others walk
        // back over can cross none.
        assert!(searches > 20 && cores > 0, "{searches} searches, {cores} cores");
        assert!(left_out > kept, "{left_out} states left out, {kept} kept");
    }

    #[test]
    fn principal_counts_are_the_cores_principals_from_their_lists_counts_per_kind() {
        let queries = bundled_queries();
        let graph = demo_graph();
        let cores = find(&graph, &queries, AnalyzeOptions::default(), &EdgeMask::default());
        let (mut asked, mut several) = (0, 0);
        for core in &cores.cores {
            for t in &core.tiers {
                let q = &queries[t.query];
                let all: Vec<NodeIndex> = core.principals(&graph, q).collect();
                let exposed = all.iter().filter(|p| graph.node(**p).kind.is_exposed()).count();
                assert_eq!(core.principal_counts(graph.kinds(), q), (all.len(), exposed));
                asked += usize::from(!core.members.is_empty());
                let kinds: FxHashSet<NodeKind> = core.members.iter().map(|m| graph.node(m.node).kind).collect();
                several += usize::from(kinds.len() > 1);
                // A list has a member of some kinds exactly when it counts one.
                for k in NodeKind::ALL {
                    let any = core.members.iter().any(|m| graph.node(m.node).kind == k);
                    assert_eq!(core.members.count_of(KindSet::of(&[k])) > 0, any, "{k:?}");
                }
            }
        }
        assert!(asked > 20 && several > 0, "{asked} lists asked, {several} of several kinds");
    }

    #[test]
    fn tree_tables_keep_each_state_apart_dense_or_hashed_and_clear_to_empty() {
        let mut scratch = TreeScratch::default();
        scratch.ready(10);
        // Requirements 0 and 1..=5 (more than get layers), with and without an activation, both `via`s.
        let states: Vec<State> = (0..6u32)
            .flat_map(|pending| [0, NEEDS_ACTIVATION].map(move |act| pending | act))
            .flat_map(|needs| [(n(3), false, needs), (n(3), true, needs), (n(9), false, needs)])
            .collect();
        let cost = |i: usize| Cost { hops: i as u32 + 1, ..Cost::default() };
        for (i, s) in states.iter().enumerate() {
            assert_eq!(scratch.best(*s).0, UNREACHED, "{s:?} unseen");
            scratch.set_best(*s, (cost(i), i as u32, e(i)));
            scratch.settle(*s, 100 + i as u32);
        }
        assert_eq!(scratch.pending.len(), DENSE_PENDING, "only so many requirements get layers");
        assert!(!scratch.other_best.is_empty(), "the others are hashed");
        for (i, s) in states.iter().enumerate() {
            assert_eq!(scratch.best(*s), (cost(i), i as u32, e(i)), "{s:?}");
            assert_eq!(scratch.settled_at(*s), Some(100 + i as u32), "{s:?}");
        }
        assert!(!scratch.is_settled((n(4), false, 0)) && !scratch.is_settled((n(3), false, 7)));
        scratch.clear();
        for s in &states {
            assert_eq!(scratch.best(*s).0, UNREACHED, "{s:?} cleared");
            assert!(!scratch.is_settled(*s), "{s:?} cleared");
        }
        assert!(scratch.best.iter().all(|b| b.0 == UNREACHED) && scratch.settled.iter().all(|s| *s == u32::MAX));
        // Another graph's size starts afresh.
        scratch.ready(4);
        assert_eq!((scratch.best.len(), scratch.pending.len()), (16, 0));
    }

    #[test]
    fn a_pivots_members_are_the_whole_searchs_member_for_member() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/snapshots");
        let (mut pivots, mut offered, mut masked, mut invalid) = (0, 0, 0, 0);
        // The generated tenant (`azpath mock generate --size 300`) has pivots whose ways cross ASO's capability masks.
        let generated = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generated-300.json");
        let tenants = ["demo", "nested-groups", "pim-eligible", "deny-assignments", "scope-inheritance"]
            .map(|name| (name, dir.join(format!("{name}.json"))));
        for (name, path) in tenants.into_iter().chain([("generated-300", generated)]) {
            let text = std::fs::read_to_string(path).unwrap();
            let snapshot = crate::snapshot::Snapshot::from_json(&text, name).unwrap();
            let (p, r, m, i) = compare_pivot_trees(&PrivilegeGraph::build(&snapshot), name);
            pivots += p;
            offered += r;
            masked += m;
            invalid += i;
        }
        assert!(pivots >= 10 && offered >= 10, "the tenants have pivots with leaf members: {pivots}, {offered}");
        assert!(masked >= 2, "some pivot's ways cross a capability mask (ASO): {masked}");
        assert!(invalid >= 2, "some way a search not following masks takes fails one: {invalid}");
    }

    fn core(tiers: Vec<CoreTier>) -> Core {
        Core {
            head: n(0),
            edges: Vec::new(),
            landing: n(0),
            fanout: None,
            members: Rc::new(MemberList::default()),
            tiers,
            single: false,
            profile: Rc::from(""),
        }
    }

    #[test]
    fn a_pooled_member_list_covers_a_pair_when_one_of_its_cores_gives_it_unexcluded() {
        // Two cores share a member list: the first gives 10 and 11 but excludes (1, 11); the second gives 11 and
        // 12 in query 0, and 13 in query 1.
        let cores = vec![
            core(vec![tier(0, &[10, 11], &[(1, 11)])]),
            core(vec![tier(0, &[11, 12], &[(2, 11)]), tier(1, &[13], &[])]),
        ];
        let pool = |q: usize| {
            let mut pool: Vec<(NodeIndex, u32, u32)> = Vec::new();
            for (ci, c) in cores.iter().enumerate() {
                for (ti, t) in c.tiers.iter().enumerate().filter(|(_, t)| t.query == q) {
                    pool.extend(t.targets.iter().map(|x| (*x, ci as u32, ti as u32)));
                }
            }
            pool.sort_unstable();
            pool
        };
        let mut w = Wanted::new(vec![
            (0, n(1), n(11)), // excluded by the first core, given by the second
            (0, n(2), n(11)), // excluded by the second, given by the first
            (0, n(1), n(14)), // no core gives 14
            (1, n(1), n(12)), // 12 is given in query 0 only
            (1, n(1), n(13)), // given in query 1
        ]);
        // Query 2 has no pool entry at all.
        let pools = vec![pool(0), pool(1), Vec::new()];
        for p in [n(1), n(2), n(3)] {
            w.cover_pooled(&cores, &pools, p);
        }
        assert!(w.is_open(n(1)) && !w.is_open(n(2)), "2's one pair is covered, 1 keeps two");
        assert_eq!(w.left(), vec![(0, n(1), n(14)), (1, n(1), n(12))]);
        // Excluded everywhere: not covered.
        let cores = vec![core(vec![tier(0, &[11], &[(1, 11)])])];
        let mut w = Wanted::new(vec![(0, n(1), n(11))]);
        w.cover_pooled(&cores, &[vec![(n(11), 0, 0)]], n(1));
        assert_eq!(w.left(), vec![(0, n(1), n(11))]);
    }
}
