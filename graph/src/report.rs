//! Turns cores, exposure, choke points and the plan into the report's findings, tiers and choke points.

use std::collections::BTreeMap;
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap;

use crate::choke::{population, Choke, PlanResult, Reach as TierReach};
use crate::cores::{Core, Cores, PrincipalCounts};
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
    let mut sets = MemberSets {
        nodes: Nodes::new(graph),
        by_key: BTreeMap::new(),
        seen: FxHashMap::default(),
        counts: PrincipalCounts::default(),
    };
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
    let mut out: Vec<Finding> = Vec::with_capacity(shown.len());
    for i in shown {
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
    let used: rustc_hash::FxHashSet<&String> = merged.iter().filter_map(|f| f.member_set.as_ref()).collect();
    let member_sets = sets.by_key.into_iter().filter(|(k, _)| used.contains(k)).collect();
    Findings { findings: merged, ids, member_sets }
}

/// Member sets by key, computed once per shared member list.
struct MemberSets<'g> {
    nodes: Nodes<'g>,
    by_key: BTreeMap<String, MemberSet>,
    /// Key and summary (count, kinds, a few names) of each shared list already seen, by its address.
    seen: FxHashMap<usize, (String, Affected)>,
    /// Principals per core and query, each shared list counted once.
    counts: PrincipalCounts,
}

impl MemberSets<'_> {
    /// The key of a core's members (`None` when it has none) and their count, kinds and a few names (the
    /// members themselves are in the member set).
    fn of(&mut self, members: &std::rc::Rc<crate::cores::MemberList>) -> (Option<String>, Affected) {
        if members.is_empty() {
            return (None, Affected::default());
        }
        let addr = std::rc::Rc::as_ptr(members) as usize;
        if let Some((k, summary)) = self.seen.get(&addr) {
            return (Some(k.clone()), summary.clone());
        }
        // Sorted by rank (kind, then id), each member once with its first bits: as `MemberSet::of` sorts.
        let mut ranked: Vec<(u32, u32, NodeIndex, u8)> = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let bits = if m.escalates { MemberSet::ESCALATES } else { 0 }
                    | if m.flags & ELIGIBLE != 0 { MemberSet::ELIGIBLE } else { 0 }
                    | if m.flags & CONDITIONAL != 0 { MemberSet::CONDITIONAL } else { 0 };
                (self.nodes.rank(m.node), i as u32, m.node, bits)
            })
            .collect();
        ranked.sort_unstable();
        ranked.dedup_by_key(|(_, _, n, _)| *n);
        // The key from the members' hashes: a list whose set is made already (another pivot's, often) is not
        // made again.
        let sum = ranked
            .iter()
            .fold(0u128, |acc, (_, _, n, bits)| acc.wrapping_add(MemberSet::key_part(self.nodes.hash(*n), *bits)));
        let key = MemberSet::key_of(sum, ranked.len());
        if let Some(set) = self.by_key.get(&key) {
            let summary = summary(set);
            self.seen.insert(addr, (key.clone(), summary.clone()));
            return (Some(key), summary);
        }
        let set = MemberSet::sorted(ranked.into_iter().map(|(_, _, n, bits)| (self.nodes.get(n), bits)).collect());
        debug_assert_eq!(set.key(), key, "a set's key from its members' hashes is the set's own");
        let summary = summary(&set);
        self.by_key.insert(key.clone(), set);
        self.seen.insert(addr, (key.clone(), summary.clone()));
        (Some(key), summary)
    }
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
                principals: sets.counts.get(graph, q, core).0,
                excluded: t.excluded.iter().map(|(p, x)| [sets.nodes.get(*p), sets.nodes.get(*x)]).collect(),
            }
        })
        .collect();
    tiers.sort_by(|a, b| by_severity(queries, &a.query_id, &b.query_id));
    let (member_set, members) = sets.of(&core.members);
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
}
