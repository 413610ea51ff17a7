//! Turns cores, exposure, choke points and the plan into the report's findings, tiers and choke points.

use std::collections::BTreeMap;
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap;

use crate::choke::{population, Choke, PlanResult, Reach as TierReach};
use crate::cores::{Core, Cores};
use crate::engine::hop;
use crate::findings::{
    fingerprint, Affected, ChokePoint, ChokeTier, Exposure, Finding, Hop, MemberSet, NodeRef, Plan, Reach, SharedNode,
    Tier, TierHit,
};
use crate::graph::{PrivilegeGraph, CONDITIONAL, ELIGIBLE};
use crate::query::Query;
use crate::remediation::{changes_an_object, core_fix, FixMemo};

use crate::findings::SAMPLE;

/// The findings of a report, each core's finding id (by core index), and the member sets they name.
pub(crate) struct Findings {
    pub findings: Vec<Finding>,
    pub ids: Vec<String>,
    pub member_sets: BTreeMap<String, MemberSet>,
}

/// Each graph node the report names, as one [`SharedNode`] (its id formatted once), by node index.
struct Nodes<'g> {
    graph: &'g PrivilegeGraph,
    of: Vec<Option<SharedNode>>,
    /// Each node's position among all nodes by kind, then id (the order of a member set), made on first use.
    rank: Vec<u32>,
    /// Each node's [`MemberSet::node_hash`] (0 until asked for).
    hash: Vec<u128>,
}

impl<'g> Nodes<'g> {
    fn new(graph: &'g PrivilegeGraph) -> Nodes<'g> {
        let n = graph.graph.node_count();
        Nodes { graph, of: vec![None; n], rank: Vec::new(), hash: vec![0; n] }
    }

    fn get(&mut self, n: NodeIndex) -> SharedNode {
        let graph = self.graph;
        self.of[n.index()].get_or_insert_with(|| Arc::new(graph.node_ref(n))).clone()
    }

    /// `n`'s [`MemberSet::node_hash`], made once.
    fn hash(&mut self, n: NodeIndex) -> u128 {
        let h = &mut self.hash[n.index()];
        if *h == 0 {
            let d = &self.graph.graph[n];
            // (A hash of 0 is made again each time: as rare as any other value.)
            *h = MemberSet::node_hash(d.kind, &d.key.to_string());
        }
        *h
    }

    /// `n`'s position among all nodes by kind, then id: member sets are sorted by it, one string sort of the
    /// graph's nodes instead of one per set.
    fn rank(&mut self, n: NodeIndex) -> u32 {
        if self.rank.is_empty() {
            let g = &self.graph.graph;
            let ids: Vec<String> = g.node_indices().map(|n| g[n].key.to_string()).collect();
            let mut order: Vec<u32> = (0..ids.len() as u32).collect();
            let kind = |i: u32| g[NodeIndex::new(i as usize)].kind;
            order
                .sort_unstable_by(|a, b| kind(*a).cmp(&kind(*b)).then_with(|| ids[*a as usize].cmp(&ids[*b as usize])));
            self.rank = vec![0; order.len()];
            for (i, n) in order.into_iter().enumerate() {
                self.rank[n as usize] = i as u32;
            }
        }
        self.rank[n.index()]
    }
}

/// The report's findings, sorted: escalations first, then severity, principals reached, id.
/// Each core's member list is let go once its finding is made (a list shared by several cores goes with the
/// last): the report's member sets replace the lists, and on a large tenant the two need not be held together.
/// The cores are left without members.
pub(crate) fn findings(graph: &PrivilegeGraph, queries: &[Query], cores: &mut Cores, fixes: &mut FixMemo) -> Findings {
    let mut sets = MemberSets::new(graph);
    // Every core's id (choke points name the findings of cores the report leaves out too), but a whole finding
    // (its targets and exclusions) only for the cores shown: the redundant ones can outnumber them.
    let ids: Vec<String> = cores.cores.iter().map(|c| finding_id(graph, queries, c, fixes)).collect();
    // No member list is made while they are let go, so a list's address (the key of `sets`' memos) is never
    // another's.
    let none = std::rc::Rc::new(crate::cores::MemberList::default());
    let shown: Vec<usize> = cores.shown().collect();
    for i in (0..cores.cores.len()).filter(|i| shown.binary_search(i).is_err()) {
        cores.cores[i].members = none.clone();
    }
    // The cores of pivots last: their sets name the sets of the heads in them, made first.
    let pivot = |i: &usize| crate::cores::is_pivot(graph.node(cores.cores[*i].head).kind);
    let (pivots, others): (Vec<usize>, Vec<usize>) = shown.iter().copied().partition(pivot);
    let mut out: Vec<Finding> = Vec::with_capacity(shown.len());
    for i in others.into_iter().chain(pivots) {
        out.push(finding(graph, queries, &cores.cores[i], ids[i].clone(), &mut sets, fixes));
        cores.cores[i].members = none.clone();
    }
    // Cores found for single pairs can repeat a core found by the shared search: merge by id.
    let mut merged: Vec<Finding> = Vec::with_capacity(out.len());
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    for f in out.drain(..) {
        match index.get(&f.id) {
            Some(i) => merge(&mut merged[*i], f),
            None => {
                index.insert(f.id.clone(), merged.len());
                merged.push(f);
            }
        }
    }
    merged.sort_by(|a, b| {
        a.reach
            .cmp(&b.reach)
            .then(b.severity.cmp(&a.severity))
            .then(b.members.count.cmp(&a.members.count))
            .then(a.id.cmp(&b.id))
    });
    let mut used: rustc_hash::FxHashSet<&String> = merged.iter().filter_map(|f| f.member_set.as_ref()).collect();
    let named: Vec<&String> = used.iter().flat_map(|k| sets.by_key[*k].refs.iter().map(|r| &r.key)).collect();
    used.extend(named);
    let used: rustc_hash::FxHashSet<String> = used.into_iter().cloned().collect();
    let member_sets = sets.by_key.into_iter().filter(|(k, _)| used.contains(k)).collect();
    Findings { findings: merged, ids, member_sets }
}

/// Member sets by key, computed once per shared member list. A pivot's list (a scope's identities hub, a
/// cluster's admin: most principals of a large tenant reach one) names the sets of the heads in it that were
/// made before it ([`MemberSet::refs`]) instead of listing their members again, checked member for member.
struct MemberSets<'g> {
    nodes: Nodes<'g>,
    by_key: BTreeMap<String, MemberSet>,
    /// Count, kinds and a few names of each set, by key (of its resolved members).
    summaries: FxHashMap<String, Affected>,
    /// Key of each shared list already seen, by its address.
    seen: FxHashMap<usize, String>,
    /// Sets a pivot's set may name: per head, its sets without refs, with their members and bits.
    named: FxHashMap<NodeIndex, Vec<std::rc::Rc<Named>>>,
    /// The same sets by key (heads with equal sets share one).
    named_by_key: FxHashMap<String, std::rc::Rc<Named>>,
    /// Per node, for the list being made: [`MemberSets::mark`] when it is a member, and its bits.
    marks: Vec<(u32, u8)>,
    /// Per node: [`MemberSets::mark`] when a named set gives it with its bits, one more when it gives it with
    /// other bits (it is then listed in the set's own members).
    covered: Vec<u32>,
    mark: u32,
}

/// A set without refs, as another set may name it.
struct Named {
    key: String,
    members: Box<[(NodeIndex, u8)]>,
}

impl<'g> MemberSets<'g> {
    fn new(graph: &'g PrivilegeGraph) -> MemberSets<'g> {
        MemberSets {
            nodes: Nodes::new(graph),
            by_key: BTreeMap::new(),
            summaries: FxHashMap::default(),
            seen: FxHashMap::default(),
            named: FxHashMap::default(),
            named_by_key: FxHashMap::default(),
            marks: Vec::new(),
            covered: Vec::new(),
            mark: 0,
        }
    }

    /// The key of a core's members (`None` when it has none) and their count, kinds and a few names (the
    /// members themselves are in the member set); `head`'s set names others when it is a pivot.
    fn of(&mut self, head: NodeIndex, members: &std::rc::Rc<crate::cores::MemberList>) -> (Option<String>, Affected) {
        if members.is_empty() {
            return (None, Affected::default());
        }
        let addr = std::rc::Rc::as_ptr(members) as usize;
        if let Some(k) = self.seen.get(&addr) {
            return (Some(k.clone()), self.summaries[k].clone());
        }
        let list: Vec<(NodeIndex, u8)> = members.iter().map(|m| (m.node, bits_of(m))).collect();
        let key = if crate::cores::is_pivot(self.nodes.graph.node(head).kind) {
            self.with_refs(list)
        } else {
            self.plain(head, list)
        };
        self.seen.insert(addr, key.clone());
        (Some(key.clone()), self.summaries[&key].clone())
    }

    /// The key of a set of `ranked` (sorted by rank, each member once), from the members' hashes.
    fn key(&mut self, members: &[(NodeIndex, u8)]) -> String {
        let sum = members
            .iter()
            .fold(0u128, |acc, (n, bits)| acc.wrapping_add(MemberSet::key_part(self.nodes.hash(*n), *bits)));
        MemberSet::key_of(sum, members.len())
    }

    /// `list` sorted by rank (kind, then id), each member once with its first bits, as `MemberSet::of` sorts.
    fn ranked(&mut self, list: &[(NodeIndex, u8)]) -> Vec<(NodeIndex, u8)> {
        let mut ranked: Vec<(u32, u32, NodeIndex, u8)> =
            list.iter().enumerate().map(|(i, (n, bits))| (self.nodes.rank(*n), i as u32, *n, *bits)).collect();
        ranked.sort_unstable();
        ranked.dedup_by_key(|(_, _, n, _)| *n);
        ranked.into_iter().map(|(_, _, n, bits)| (n, bits)).collect()
    }

    /// The set of a head that is no pivot: listed whole, and kept for the pivots' sets to name.
    fn plain(&mut self, head: NodeIndex, list: Vec<(NodeIndex, u8)>) -> String {
        let ranked = self.ranked(&list);
        // The key from the members' hashes: a list whose set is made already is not made again.
        let key = self.key(&ranked);
        if !self.by_key.contains_key(&key) {
            let set = MemberSet::sorted(ranked.iter().map(|(n, bits)| (self.nodes.get(*n), *bits)).collect());
            debug_assert_eq!(set.key(), key, "a set's key from its members' hashes is the set's own");
            self.summaries.insert(key.clone(), summary(&set));
            self.by_key.insert(key.clone(), set);
        }
        let form = self
            .named_by_key
            .entry(key.clone())
            .or_insert_with(|| std::rc::Rc::new(Named { key: key.clone(), members: ranked.into_boxed_slice() }))
            .clone();
        let forms = self.named.entry(head).or_default();
        if !forms.iter().any(|f| f.key == key) {
            forms.push(form);
        }
        key
    }

    /// The set of a pivot: it names the sets of the heads among its members (largest first), each with the
    /// bits of its head's way and the members it holds that this list does not (`except`): each member a named
    /// set is first to give must get its own bits from it, with the ref's, or it is listed in the set's own
    /// members, as is every member no named set gives.
    fn with_refs(&mut self, list: Vec<(NodeIndex, u8)>) -> String {
        let n = self.nodes.graph.graph.node_count();
        if self.marks.len() < n {
            self.marks = vec![(0, 0); n];
            self.covered = vec![0; n];
        }
        self.mark += 2;
        let mark = self.mark;
        // Each member once, with its first bits (as the list's set would keep them).
        let mut distinct: Vec<(NodeIndex, u8)> = Vec::with_capacity(list.len());
        for (m, bits) in list {
            if self.marks[m.index()].0 != mark {
                self.marks[m.index()] = (mark, bits);
                distinct.push((m, bits));
            }
        }
        let key = self.key(&distinct);
        if self.by_key.contains_key(&key) {
            return key;
        }
        // The sets of the heads among the members, each with its head's bits (the way from it).
        let mut candidates: Vec<(std::rc::Rc<Named>, NodeIndex, u8)> = Vec::new();
        for (m, bits) in &distinct {
            for form in self.named.get(m).into_iter().flatten() {
                candidates.push((form.clone(), *m, *bits));
            }
        }
        candidates.sort_by(|(a, ha, _), (b, hb, _)| {
            b.members.len().cmp(&a.members.len()).then_with(|| a.key.cmp(&b.key)).then(ha.cmp(hb))
        });
        candidates.dedup_by(|a, b| a.0.key == b.0.key);
        let mut refs: Vec<crate::findings::SetRef> = Vec::new();
        // Members no named set has given yet: once none is left, no later set can give one.
        let mut left = distinct.len();
        for (form, _, rb) in &candidates {
            if left == 0 {
                break;
            }
            let (form, rb) = (&**form, *rb);
            // Worth a ref when it gives more members their bits first than it holds non-members (the ref
            // excepts those), and at least two: not once half of it is no member.
            let (mut gives, mut outside) = (0usize, 0usize);
            for (x, b) in form.members.iter() {
                let (at, bits) = self.marks[x.index()];
                if at != mark {
                    outside += 1;
                    // (It can then give no more than it excepts.)
                    if 2 * outside >= form.members.len() {
                        break;
                    }
                } else if self.covered[x.index()] < mark && b | rb == bits {
                    gives += 1;
                }
            }
            if gives < 2 || gives <= outside {
                continue;
            }
            let mut except = Vec::with_capacity(outside);
            for (x, b) in form.members.iter() {
                let (at, bits) = self.marks[x.index()];
                if at != mark {
                    except.push(*x);
                } else if self.covered[x.index()] < mark {
                    self.covered[x.index()] = if b | rb == bits { mark } else { mark + 1 };
                    left -= 1;
                }
            }
            // (`form.members` is sorted by rank: so are the exceptions.)
            let except = except.into_iter().map(|x| self.nodes.get(x)).collect();
            refs.push(crate::findings::SetRef { key: form.key.clone(), bits: rb, except });
        }
        let summary = self.summary_of(&distinct);
        let own: Vec<(NodeIndex, u8)> =
            distinct.iter().copied().filter(|(x, _)| self.covered[x.index()] != mark).collect();
        let own = self.ranked(&own);
        let mut set = MemberSet::sorted(own.into_iter().map(|(n, bits)| (self.nodes.get(n), bits)).collect());
        set.refs = refs;
        #[cfg(debug_assertions)]
        self.check_resolves(&set, &distinct);
        self.summaries.insert(key.clone(), summary);
        self.by_key.insert(key.clone(), set);
        key
    }

    /// Count, kinds and first few (by rank) of `distinct` members.
    fn summary_of(&mut self, distinct: &[(NodeIndex, u8)]) -> Affected {
        let kinds = self.nodes.graph.kinds();
        let mut by_kind: BTreeMap<crate::model::NodeKind, usize> = BTreeMap::new();
        for (n, _) in distinct {
            *by_kind.entry(kinds[n.index()]).or_default() += 1;
        }
        let mut first: Vec<(u32, NodeIndex)> = distinct.iter().map(|(n, _)| (self.nodes.rank(*n), *n)).collect();
        if first.len() > SAMPLE {
            first.select_nth_unstable(SAMPLE);
            first.truncate(SAMPLE);
        }
        first.sort_unstable();
        Affected {
            count: distinct.len(),
            by_kind,
            sample: first.into_iter().map(|(_, n)| NodeRef::clone(&self.nodes.get(n))).collect(),
            nodes: Vec::new(),
        }
    }

    /// (Debug builds) `set` resolves to exactly `distinct`, bits and all.
    #[cfg(debug_assertions)]
    fn check_resolves(&mut self, set: &MemberSet, distinct: &[(NodeIndex, u8)]) {
        let named = set.refs.iter().map(|r| (r.key.clone(), self.by_key[&r.key].clone())).collect();
        let resolver = crate::findings::Report { member_sets: named, ..Default::default() };
        let resolved = resolver.resolve(set).into_owned();
        let ranked = self.ranked(distinct);
        let expected = MemberSet::sorted(ranked.into_iter().map(|(n, bits)| (self.nodes.get(n), bits)).collect());
        assert_eq!(resolved, expected, "a pivot's set with refs resolves to its members");
    }
}

/// A member's bits in its set.
fn bits_of(m: crate::cores::Member) -> u8 {
    (if m.escalates { MemberSet::ESCALATES } else { 0 })
        | if m.flags & ELIGIBLE != 0 { MemberSet::ELIGIBLE } else { 0 }
        | if m.flags & CONDITIONAL != 0 { MemberSet::CONDITIONAL } else { 0 }
}

/// A member set's count, kinds and first few members.
fn summary(set: &MemberSet) -> Affected {
    Affected {
        count: set.members.len(),
        by_kind: set.by_kind_runs().map(|(k, run)| (k, run.len())).collect(),
        sample: set.members.iter().take(SAMPLE).map(|n| NodeRef::clone(n)).collect(),
        nodes: Vec::new(),
    }
}

/// Adds another finding's tiers (same core, found again) to `into`.
fn merge(into: &mut Finding, other: Finding) {
    for t in other.tiers {
        match into.tiers.iter_mut().find(|x| x.query_id == t.query_id) {
            Some(x) => {
                x.excluded.extend(t.excluded);
                let mut nodes = std::mem::take(&mut x.targets.nodes);
                nodes.extend(t.targets.nodes);
                x.targets = Affected::of(nodes);
            }
            None => into.tiers.push(t),
        }
    }
    // The same core found again has the same principal and profile, so the same members.
    if into.member_set.is_none() {
        into.member_set = other.member_set;
        into.members = other.members;
    }
}

/// Severity of a query by id, for ordering a finding's tiers (most severe first, then by id).
fn by_severity(queries: &[Query], a: &str, b: &str) -> std::cmp::Ordering {
    let sev = |id: &str| queries.iter().find(|q| q.id == id).map(|q| q.severity);
    sev(b).cmp(&sev(a)).then(a.cmp(b))
}

/// A core's finding id: a fingerprint of its profile, principal, steps, landing and fan-out, and for a core
/// found for single pairs, its tiers' targets (each tier as `query>id,id…`, most severe tier first, ids sorted
/// by kind then id).
fn finding_id(graph: &PrivilegeGraph, queries: &[Query], core: &Core, fixes: &mut FixMemo) -> String {
    let mut keys: Vec<String> = vec!["core".into(), core.profile.to_string(), graph.node_ref(core.head).id];
    keys.extend(core.edges.iter().map(|e| fixes.key(*e).to_string()));
    keys.push(graph.node_ref(core.landing).id);
    if let Some((kind, _)) = core.fanout {
        keys.push(kind.as_str().to_string());
    }
    if core.single {
        keys.push("pair".into());
        let mut tiers: Vec<(&str, String)> = core
            .tiers
            .iter()
            .map(|t| {
                let mut refs: Vec<_> = t.targets.iter().map(|n| graph.node_ref(*n)).collect();
                refs.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.id.cmp(&b.id)));
                refs.dedup();
                let ids: Vec<String> = refs.into_iter().map(|r| r.id).collect();
                (queries[t.query].id.as_str(), ids.join(","))
            })
            .collect();
        tiers.sort_by(|a, b| by_severity(queries, a.0, b.0));
        keys.extend(tiers.into_iter().map(|(q, ids)| format!("{q}>{ids}")));
    }
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    fingerprint(&key_refs)
}

/// A core's finding (`id` from [`finding_id`]).
fn finding(
    graph: &PrivilegeGraph,
    queries: &[Query],
    core: &Core,
    id: String,
    sets: &mut MemberSets,
    fixes: &mut FixMemo,
) -> Finding {
    // Each hop names its fix (the report's hops only: the per-pair search has no use for it).
    let hops: Vec<_> = core
        .edges
        .iter()
        .map(|e| {
            let key = fixes.key(*e);
            Hop { fix: changes_an_object(key).then(|| key.to_string()), ..hop(graph, *e) }
        })
        .collect();
    let flags = core.edges.iter().fold(core.fanout.map(|f| f.1).unwrap_or(0), |acc, e| acc | graph.edge(*e).2.flags);
    let broad = core.tiers.iter().any(|t| t.targets.iter().any(|x| *x != core.landing));
    let (fix_edge, remediation) = if core.edges.is_empty() {
        (None, crate::findings::Remediation { summary: "Review the path".into(), command: None })
    } else {
        let (e, r) = core_fix(graph, &core.edges, broad, fixes);
        (Some(e), r)
    };
    let fix = fix_edge.map(|e| fixes.key(e).to_string()).unwrap_or_default();
    let mut tiers: Vec<TierHit> = core
        .tiers
        .iter()
        .map(|t| {
            let q = &queries[t.query];
            TierHit {
                query_id: q.id.clone(),
                capabilities: if q.capabilities.is_empty() {
                    t.caps.headline().names()
                } else {
                    crate::rbac::Caps(t.caps.0 & q.capabilities.0).names()
                },
                targets: Affected::of(t.targets.iter().map(|n| sets.nodes.get(*n)).collect()),
                principals: core.principal_counts(graph.kinds(), q).0,
                excluded: t.excluded.iter().map(|(p, x)| [sets.nodes.get(*p), sets.nodes.get(*x)]).collect(),
            }
        })
        .collect();
    tiers.sort_by(|a, b| by_severity(queries, &a.query_id, &b.query_id));
    let (member_set, members) = sets.of(core.head, &core.members);
    Finding {
        id,
        reach: if core.is_standing(graph) { Reach::Standing } else { Reach::Escalation },
        severity: core.tiers.iter().map(|t| queries[t.query].severity).max().unwrap_or(crate::model::Severity::Info),
        principal: graph.node_ref(core.head),
        scope: graph.node_ref(core.landing),
        hops,
        eligible: flags & ELIGIBLE != 0,
        conditional: flags & CONDITIONAL != 0,
        members,
        member_set,
        tiers,
        fix,
        remediation,
    }
}

/// Per tier: exposure before and after the plan.
pub(crate) fn tiers(
    graph: &PrivilegeGraph,
    queries: &[Query],
    cores: &Cores,
    before: &[TierReach],
    plan: &PlanResult,
    after: &[TierReach],
) -> Vec<Tier> {
    queries
        .iter()
        .enumerate()
        .map(|(qi, q)| {
            let pop = population(graph, q);
            let count = |cs: &Cores, standing: bool| {
                cs.shown()
                    .map(|i| &cs.cores[i])
                    .filter(|c| c.tiers.iter().any(|t| t.query == qi) && c.is_standing(graph) == standing)
                    .count()
            };
            Tier {
                query_id: q.id.clone(),
                title: q.title.clone(),
                severity: q.severity,
                escalation_findings: count(cores, false),
                standing_findings: count(cores, true),
                pairs: before[qi].pairs,
                exposure: exposure(graph, &before[qi], &pop),
                after_plan: exposure(graph, &after[qi], &pop),
                escalations_after_plan: count(&plan.after, false),
            }
        })
        .collect()
}

fn exposure(graph: &PrivilegeGraph, reach: &TierReach, population: &[(crate::model::NodeKind, usize)]) -> Exposure {
    let mut by_kind: BTreeMap<_, [usize; 2]> = population.iter().map(|(k, n)| (*k, [0, *n])).collect();
    for p in reach.principals.keys() {
        by_kind.entry(graph.node(*p).kind).or_insert([0, 0])[0] += 1;
    }
    let standing = reach.principals.values().filter(|s| **s).count();
    Exposure {
        principals: reach.principals.len(),
        standing,
        escalation: reach.principals.len() - standing,
        population: population.iter().map(|(_, n)| n).sum(),
        by_kind,
    }
}

/// Choke points as the report shows them, with the findings (ids) that rest on each; each one's whole fix is
/// its first edge's.
pub(crate) fn choke_points(
    queries: &[Query],
    chokes: &[Choke],
    core_ids: &[String],
    fixes: &mut FixMemo,
) -> Vec<ChokePoint> {
    chokes
        .iter()
        .map(|c| {
            let fix = fixes.full(c.edges[0]);
            let mut tiers: Vec<ChokeTier> = c
                .tiers
                .iter()
                .map(|(qi, (cut, pairs))| ChokeTier {
                    query_id: queries[*qi].id.clone(),
                    principals_cut: *cut,
                    pairs: *pairs,
                })
                .collect();
            tiers.sort_by(|a, b| b.principals_cut.cmp(&a.principals_cut).then(a.query_id.cmp(&b.query_id)));
            let mut findings: Vec<String> = c.cores.iter().filter_map(|ci| core_ids.get(*ci).cloned()).collect();
            findings.sort();
            findings.dedup();
            ChokePoint {
                id: c.key.clone(),
                reach: if c.standing { Reach::Standing } else { Reach::Escalation },
                what: fix.what.clone(),
                principals_cut: c.principals_cut(),
                collateral: c.collateral,
                tiers,
                findings,
                remediation: fix.remediation.clone(),
            }
        })
        .collect()
}

/// The plan as the report shows it: the findings the re-run still finds that escalate (by reach, or by a
/// member that escalates into their principal), in the report's order, without building those findings.
pub(crate) fn plan(graph: &PrivilegeGraph, queries: &[Query], plan: &PlanResult, fixes: &mut FixMemo) -> Plan {
    let after = &plan.after;
    // (id, reach, severity, members, some member escalates), merged by id as `findings` merges.
    let mut merged: Vec<(String, Reach, crate::model::Severity, usize, bool)> = Vec::new();
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    for i in after.shown() {
        let core = &after.cores[i];
        let id = finding_id(graph, queries, core, fixes);
        let members = core.members.len();
        let escalating = core.members.iter().any(|m| m.escalates);
        match index.get(&id) {
            Some(&j) => {
                // The first keeps its members unless it had none (as `merge` does).
                if merged[j].3 == 0 && members > 0 {
                    (merged[j].3, merged[j].4) = (members, escalating);
                }
            }
            None => {
                index.insert(id.clone(), merged.len());
                let reach = if core.is_standing(graph) { Reach::Standing } else { Reach::Escalation };
                let severity =
                    core.tiers.iter().map(|t| queries[t.query].severity).max().unwrap_or(crate::model::Severity::Info);
                merged.push((id, reach, severity, members, escalating));
            }
        }
    }
    merged.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(b.3.cmp(&a.3)).then(a.0.cmp(&b.0)));
    let remaining: Vec<String> = merged.into_iter().filter(|f| f.1 == Reach::Escalation || f.4).map(|f| f.0).collect();
    Plan { steps: plan.steps.clone(), verified: remaining.is_empty(), remaining }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cores::tests::{bundled_queries, demo_graph};
    use crate::engine::{AnalyzeOptions, EdgeMask};

    /// The findings are the member lists' last reader: once made, every core is left without members, and the
    /// findings and their member sets still name members.
    #[test]
    fn findings_take_the_members_from_the_cores_into_their_member_sets() {
        let (graph, queries) = (demo_graph(), bundled_queries());
        let mut cores = crate::cores::find(&graph, &queries, AnalyzeOptions::default(), &EdgeMask::default());
        let had: usize = cores.shown().map(|i| cores.cores[i].members.len()).sum();
        assert!(had > 0, "the demo's shown cores have members");
        let found = findings(&graph, &queries, &mut cores, &mut FixMemo::new(&graph));
        assert!(cores.cores.iter().all(|c| c.members.is_empty()), "a core kept its members");
        let named: usize = found.findings.iter().map(|f| f.members.count).sum();
        assert!(named > 0 && !found.member_sets.is_empty(), "the findings name the members: {named}");
    }

    /// A pivot's set names the set of a head among its members when that gives more members their bits than
    /// it holds non-members (excepted), lists the members it gives other bits, and resolves to its list.
    #[test]
    fn a_pivots_set_names_a_heads_set_only_where_it_gives_its_members_bits() {
        let graph = demo_graph();
        let n = |i: usize| NodeIndex::new(i);
        let esc = MemberSet::ESCALATES;
        let (head, a, b, c, d) = (n(1), n(2), n(3), n(4), n(5));
        let mut sets = MemberSets::new(&graph);
        let group = sets.plain(head, vec![(a, 0), (b, 0), (c, 0)]);
        // (the pivot's list, refs, members excepted, members listed)
        type Case = (Vec<(NodeIndex, u8)>, usize, Vec<NodeIndex>, Vec<NodeIndex>);
        let cases: [Case; 3] = [
            // c is no member: excepted; a and b come from the head's set, the head and d are listed.
            (vec![(head, esc), (a, esc), (b, esc), (d, 0)], 1, vec![c], vec![head, d]),
            // a gets there another way (other bits): listed; b and c from the head's set.
            (vec![(head, esc), (a, esc | MemberSet::ELIGIBLE), (b, esc), (c, esc)], 1, vec![], vec![head, a]),
            // The head's set would give one member and except two: not named.
            (vec![(head, 0), (a, 0)], 0, vec![], vec![head, a]),
        ];
        for (list, refs, except, own) in cases {
            let key = sets.with_refs(list.clone());
            let set = sets.by_key[&key].clone();
            assert_eq!(set.refs.len(), refs, "{list:?}");
            assert!(set.refs.iter().all(|r| r.key == group && r.bits == list[0].1));
            let excepted: Vec<String> = set.refs.iter().flat_map(|r| r.except.iter().map(|x| x.id.clone())).collect();
            let want: Vec<String> = except.iter().map(|x| graph.node_ref(*x).id).collect();
            assert_eq!(excepted, want, "{list:?}");
            let mut listed: Vec<String> = set.all_ids().map(str::to_string).collect();
            let mut want: Vec<String> = own.iter().map(|x| graph.node_ref(*x).id).collect();
            listed.sort();
            want.sort();
            assert_eq!(listed, want, "{list:?}");
            // Resolved, it is the list: members and bits.
            let report = crate::findings::Report { member_sets: sets.by_key.clone(), ..Default::default() };
            let resolved = report.resolve(&set).into_owned();
            let expected = MemberSet::of(list.iter().map(|(x, bits)| (Arc::new(graph.node_ref(*x)), *bits)).collect());
            assert_eq!(resolved, expected, "{list:?}");
            assert_eq!(resolved.key(), key);
        }
    }

    /// On a generated tenant, the pivots' sets name others and resolve to their lists, member for member.
    #[test]
    fn pivot_sets_with_refs_resolve_to_the_pivots_member_lists() {
        let (graph, queries) = (crate::cores::tests::generated_300(), bundled_queries());
        let mut cores = crate::cores::find(&graph, &queries, AnalyzeOptions::default(), &EdgeMask::default());
        let lists: Vec<(usize, std::rc::Rc<crate::cores::MemberList>)> = cores
            .shown()
            .filter(|i| crate::cores::is_pivot(graph.node(cores.cores[*i].head).kind))
            .map(|i| (i, cores.cores[i].members.clone()))
            .collect();
        let mut fixes = FixMemo::new(&graph);
        let ids: Vec<String> = cores.cores.iter().map(|c| finding_id(&graph, &queries, c, &mut fixes)).collect();
        let found = findings(&graph, &queries, &mut cores, &mut fixes);
        let report = crate::findings::Report { member_sets: found.member_sets, ..Default::default() };
        let mut named = 0;
        for (i, list) in lists.iter().filter(|(_, l)| !l.is_empty()) {
            let f = found.findings.iter().find(|f| f.id == ids[*i]).expect("a shown core has a finding");
            let set = &report.member_sets[f.member_set.as_ref().unwrap()];
            named += set.refs.len();
            let resolved = report.resolve(set);
            let expected = MemberSet::of(list.iter().map(|m| (Arc::new(graph.node_ref(m.node)), bits_of(m))).collect());
            assert_eq!(*resolved, expected, "finding {}", f.id);
            assert_eq!(f.members.count, expected.members.len());
        }
        assert!(named > 0, "some pivot's set names another");
    }
}
