//! An exhaustive reference for the pairs a query finds, written from the model's rules and sharing no search
//! code with the engine: from every source, a breadth-first walk over every state a walk can be in, up to the
//! query's hop limit. A state is what decides every later step and the final check: the node, whether the walk
//! crossed the query's `via`, the capability mask the last step left pending (ASO's), which deny assignments
//! name the identity acting (a group never acts: membership does not switch identity), and the walk's flags.
//! Walks may revisit nodes (a hub is a set, not one resource). A pair exists when some walk within the hop
//! limit (the steps a principal takes: identity steps and the grant; inheritance down the scope tree is not a
//! step) ends at the target with a power the query asks for;
//! its flags are the least (eligible, then conditional) over those walks.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use azpath_graph::graph::{NodeIndex, PrivilegeGraph, CONDITIONAL, ELIGIBLE};
use azpath_graph::model::EdgeKind;
use azpath_graph::query::Query;
use azpath_graph::rbac::{step_needs, Capability, Caps};

/// (source, target) by index, with the least flags (eligible, conditional) of a walk that makes the pair.
pub type Pairs = BTreeMap<(NodeIndex, NodeIndex), (bool, bool)>;

/// A walk's state: (node, via crossed, pending mask, deny signature of the actor, flags).
type State = (NodeIndex, bool, u32, u64, u8);

/// The pairs `query` finds in `graph`; PIM-eligible grants count when `include_eligible` (and the query takes
/// them).
pub fn pairs(graph: &PrivilegeGraph, query: &Query, include_eligible: bool) -> Pairs {
    let sources: Vec<NodeIndex> = query.sources.iter().flat_map(|k| graph.nodes_of_kind(*k)).collect();
    pairs_from(graph, query, include_eligible, &sources)
}

/// [`pairs`] from some of the query's sources only.
pub fn pairs_from(graph: &PrivilegeGraph, query: &Query, include_eligible: bool, sources: &[NodeIndex]) -> Pairs {
    let walk = Walk::new(graph, query, include_eligible);
    let mut out = Pairs::new();
    for source in sources {
        walk.from(*source, &mut out);
    }
    out
}

struct Walk<'a> {
    graph: &'a PrivilegeGraph,
    query: &'a Query,
    eligible_ok: bool,
    /// Per scope a grant can land on: the query's targets at or below it, with the flags of the scope-tree
    /// steps down to each (inherited, not taken: they do not count toward the hop limit).
    landings: HashMap<NodeIndex, Vec<(NodeIndex, u8)>>,
    /// Targets that are not scopes (identities): a walk ends on them by any step.
    others: HashSet<NodeIndex>,
}

impl<'a> Walk<'a> {
    fn new(graph: &'a PrivilegeGraph, query: &'a Query, include_eligible: bool) -> Walk<'a> {
        assert!(graph.denies.len() <= 64, "the reference keys deny assignments in a 64-bit signature");
        let follow_contains = query.edges.contains(&EdgeKind::Contains);
        let mut landings: HashMap<NodeIndex, Vec<(NodeIndex, u8)>> = HashMap::new();
        let mut others = HashSet::new();
        for kind in &query.targets {
            for target in graph.nodes_of_kind(*kind) {
                if !kind.is_scope() {
                    others.insert(target);
                    continue;
                }
                let chain = if follow_contains { graph.scope_chain(target) } else { vec![target] };
                let mut flags = 0;
                for (depth, scope) in chain.iter().enumerate() {
                    if depth > 0 {
                        let step = graph
                            .edges_from(*scope)
                            .find(|(to, w)| *to == chain[depth - 1] && w.kind == EdgeKind::Contains);
                        flags |= step.expect("a scope's parent contains it").1.flags;
                    }
                    landings.entry(*scope).or_default().push((target, flags));
                }
            }
        }
        Walk { graph, query, eligible_ok: query.include_eligible && include_eligible, landings, others }
    }

    /// Bit `i`: deny assignment `i` names `actor` (or everyone) and does not exempt it or a group it is in.
    fn deny_signature(&self, actor: NodeIndex) -> u64 {
        let graph = self.graph;
        if graph.denies.is_empty() {
            return 0;
        }
        let mut keys: Vec<_> = graph.transitive_groups(actor).into_iter().map(|g| &graph.node(g).key).collect();
        keys.push(&graph.node(actor).key);
        let mut sig = 0;
        for (i, d) in graph.denies.iter().enumerate() {
            let named = d.everyone || keys.iter().any(|k| d.principals.contains(*k));
            if named && !keys.iter().any(|k| d.excluded.contains(*k)) {
                sig |= 1 << i;
            }
        }
        sig
    }

    /// What the deny assignments of `signature` take away at `target`.
    fn denied(&self, signature: u64, target: NodeIndex) -> Caps {
        let graph = self.graph;
        let at = graph.denies_at(target);
        let mut removed = Caps::EMPTY;
        for (i, d) in graph.denies.iter().enumerate() {
            if signature & (1 << i) != 0 && at.iter().any(|a| std::ptr::eq(*a, d)) {
                removed |= d.removes;
            }
        }
        removed
    }

    /// Every pair from `source`, into `out`.
    fn from(&self, source: NodeIndex, out: &mut Pairs) {
        self.walk(source, out, &mut None);
    }

    /// [`Walk::from`], recording in `trace` (when asked) each state's first way in: (previous state, edge
    /// kind, node stepped to).
    fn walk(&self, source: NodeIndex, out: &mut Pairs, trace: &mut Option<HashMap<State, (State, EdgeKind)>>) {
        let (graph, query) = (self.graph, self.query);
        let start: State = (source, query.via.is_empty(), 0, self.deny_signature(source), 0);
        let mut seen: HashSet<State> = HashSet::from([start]);
        let mut queue = VecDeque::from([(start, 0usize)]);
        let mut found = |target: NodeIndex, flags: u8| {
            if target == source {
                return;
            }
            let f = (flags & ELIGIBLE != 0, flags & CONDITIONAL != 0);
            let best = out.entry((source, target)).or_insert(f);
            *best = (*best).min(f);
        };
        while let Some(((node, via0, pending, actor0, flags0), hops)) = queue.pop_front() {
            let (via, actor, flags) = (via0, actor0, flags0);
            if hops >= query.max_hops {
                continue;
            }
            for (to, w) in graph.edges_from(node) {
                let eligible_ok = self.eligible_ok || w.flags & ELIGIBLE == 0;
                if !query.edges.contains(&w.kind) || w.kind == EdgeKind::Contains || !eligible_ok {
                    continue;
                }
                // A mask (what ASO's CRDs let the identity it leads to do) allows the next step that needs
                // something only when it grants one of those things; memberships pass it on.
                let needs = step_needs(w.kind);
                if w.kind != EdgeKind::MemberOf && pending != 0 && !needs.is_empty() && !Caps(pending).intersects(needs)
                {
                    continue;
                }
                let next_pending = match w.kind {
                    EdgeKind::MemberOf => pending,
                    EdgeKind::HasRole => 0,
                    _ => w.caps.0,
                };
                let via = via || query.via.contains(&w.kind);
                let flags = flags | w.flags;
                let actor = match w.kind {
                    EdgeKind::MemberOf | EdgeKind::HasRole | EdgeKind::Contains => actor,
                    _ => self.deny_signature(to),
                };
                if w.kind == EdgeKind::HasRole {
                    if !via {
                        continue;
                    }
                    let grant = &graph.grants[w.evidence as usize];
                    for &(target, down) in self.landings.get(&to).into_iter().flatten() {
                        let denied = self.denied(actor, target);
                        let assign = Capability::AssignRoles.bit() | Capability::AssignRolesLimited.bit();
                        let delegated =
                            if denied.intersects(assign) { Caps::EMPTY } else { grant.delegated_caps.without(denied) };
                        let mut caps = grant.own_caps.without(denied) | delegated;
                        if pending != 0 {
                            caps = Caps(caps.0 & pending);
                        }
                        if query.capabilities.is_empty() || caps.intersects(query.capabilities) {
                            found(target, flags | down);
                        }
                    }
                    continue;
                }
                if via && self.others.contains(&to) {
                    found(to, flags);
                }
                let next = (to, via, next_pending, actor, flags);
                if let Some(trace) = trace.as_mut() {
                    trace.entry(next).or_insert(((node, via0, pending, actor0, flags0), w.kind));
                }
                if seen.insert(next) {
                    queue.push_back((next, hops + 1));
                }
            }
        }
    }
}

/// A shortest walk the reference takes from `source` to `target` (an identity, not a scope), as the nodes it
/// steps to with the edge kinds: what a failing comparison prints.
pub fn walk_to(
    graph: &PrivilegeGraph,
    query: &Query,
    include_eligible: bool,
    source: NodeIndex,
    target: NodeIndex,
) -> Option<Vec<(EdgeKind, String)>> {
    let walk = Walk::new(graph, query, include_eligible);
    let mut trace = Some(HashMap::new());
    walk.walk(source, &mut Pairs::new(), &mut trace);
    let trace = trace.unwrap_or_default();
    let end = trace.keys().filter(|s| s.0 == target && s.1).min_by_key(|s| {
        let mut n = 0;
        let mut cur = **s;
        while let Some((prev, _)) = trace.get(&cur) {
            n += 1;
            cur = *prev;
        }
        n
    })?;
    let mut out = Vec::new();
    let mut cur = *end;
    while let Some((prev, kind)) = trace.get(&cur) {
        out.push((*kind, graph.node(cur.0).name.to_string()));
        cur = *prev;
    }
    out.reverse();
    Some(out)
}
