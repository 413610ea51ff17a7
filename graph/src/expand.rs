//! `--expand` and `--format ndjson`: every (principal, target) pair the grouped report implies, each with the
//! finding its best path rests on and the pair's flags. Pairs are derived from the findings (principal and
//! member set × targets, minus exclusions, per tier), never searched: the per-pair search of
//! [`crate::engine::for_each_pair`] stays the reference the tests compare this with.
//!
//! [`Pairs`] interns every id of the report once (member sets once each, however many findings share them) and
//! walks one (query, target) cell at a time, so memory is bounded by the report's size, not by the number of
//! pairs (2.5 M for the generated 20k tenant), and a pair costs a few integer operations.

use std::cmp::Reverse;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::findings::{Finding, MemberSet, Reach, Report};
use crate::model::{NodeKind, Severity};

/// One (principal, target) pair of one query: an entry of the JSON report's `pairs` (with `--expand`) and one
/// `--format ndjson` line. The path is the finding's: its core hops, after the source's memberships.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpandedPair {
    /// Query id (its title and severity are in the report's `queries`).
    pub query_id: String,
    /// The principal's id.
    pub source: String,
    /// The target's id.
    pub target: String,
    /// Id of the finding that explains the pair (its core path, remediation and fix).
    pub finding: String,
    /// Standing when the source holds the power as directly as its best way (some finding that implies the pair
    /// with these flags is a standing grant the source reaches by memberships alone); escalation when it gains
    /// it only through a step that is not a grant of it.
    pub reach: Reach,
    /// The best way needs a PIM (JIT) activation.
    pub eligible: bool,
    /// The best way rests on a condition that was not fully understood.
    pub conditional: bool,
}

/// A pair's flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairFlags {
    /// Needs a PIM activation.
    pub eligible: bool,
    /// Rests on a partly understood condition.
    pub conditional: bool,
    /// Gained by escalation rather than held.
    pub escalation: bool,
}

impl PairFlags {
    /// As [`Reach`].
    pub fn reach(self) -> Reach {
        if self.escalation {
            Reach::Escalation
        } else {
            Reach::Standing
        }
    }
}

/// One pair as indices: `query`, `source` and `target` into [`Pairs::names`], `finding` into the report's
/// `findings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedPair {
    /// The query's id.
    pub query: u32,
    /// The principal's id.
    pub source: u32,
    /// The target's id.
    pub target: u32,
    /// The best finding.
    pub finding: u32,
    /// The pair's flags (of its best way).
    pub flags: PairFlags,
}

/// The grants a finding's core rests on: its fix (the choke point id: `role-assignment:<id>`, `member:…`) and
/// the evidence ids of its hops, sorted, NUL-separated. Unlike the finding id it does not depend on how the
/// engine groups principals into cores, so a pair's best finding is chosen by content.
pub fn grant_key(f: &Finding) -> String {
    let evidence: std::collections::BTreeSet<&str> =
        f.hops.iter().flat_map(|h| h.evidence.iter().map(String::as_str)).collect();
    std::iter::once(f.fix.as_str()).chain(evidence).collect::<Vec<_>>().join("\0")
}

/// Member flag bits: the way to the principal needs an activation, rests on a condition, is not a membership;
/// highest first in the order a pair's best way is chosen, so the lowest bits are the best.
const ELIGIBLE: u8 = 4;
const CONDITIONAL: u8 = 2;
const ESCALATES: u8 = 1;

/// A member set with interned ids: per kind, (id, flag bits).
type Members = Vec<(NodeKind, Vec<(u32, u8)>)>;

/// A source's best so far in the current cell: the priority and index of its best finding, and the lowest
/// (eligible, conditional, escalation) bits over every finding offered (its reach).
#[derive(Debug, Clone, Copy)]
struct Slot {
    priority: u64,
    finding: u32,
    reach: u8,
}

/// A slot no finding has been offered to.
const EMPTY: Slot = Slot { priority: u64::MAX, finding: 0, reach: u8::MAX };

/// One finding's tier at one of its targets: the pairs of its principals with that target.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Sort key: severity (highest first), then the ranks of the query and target ids.
    order: (Reverse<Severity>, u32, u32),
    query: u32,
    target: u32,
    finding: u32,
    tier: u32,
    /// Index into the report's `queries`.
    info: u32,
}

/// Every pair a report's findings imply, once, each with its best finding: the one needing the fewest
/// activations and conditions, then one the source reaches by memberships over one it escalates into (owning the
/// group, becoming a cluster's admin), then the smallest [`grant_key`] (by content, so the choice does not depend
/// on ids or order, and history's pair fingerprints stay put when another finding comes), then the first in the
/// report. Its reach is standing when any finding gives the source the power by a grant with the best flags.
/// The pairs are [`Report::for_each_implied`]'s, with [`Report::implied_pairs`]'s flags.
pub struct Pairs<'a> {
    report: &'a Report,
    /// Interned ids: queries, principals, members, targets.
    names: Vec<&'a str>,
    /// Each name's rank among the names, by content.
    name_rank: Vec<u32>,
    /// Each finding's [`grant_key`] rank among the findings'.
    key_rank: Vec<u32>,
    /// Each finding's principal, interned.
    heads: Vec<u32>,
    /// Each finding's member set (index into `sets`).
    finding_set: Vec<Option<u32>>,
    sets: Vec<Members>,
    /// Per (finding, tier) with exclusions: the (source, target) pairs left out.
    excluded: FxHashMap<(u32, u32), FxHashSet<(u32, u32)>>,
    /// Every (finding, tier, target), sorted by (query, target).
    cells: Vec<Cell>,
}

/// Strings numbered in the order they are first seen.
#[derive(Default)]
struct Interner<'a> {
    index: FxHashMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, name: &'a str) -> u32 {
        let next = index(self.names.len());
        *self.index.entry(name).or_insert_with(|| {
            self.names.push(name);
            next
        })
    }
}

/// A position as the `u32` the pair tables hold.
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 4 billion ids, findings and tiers in one report")
}

/// [`Pairs::of`]'s state while interning.
struct Intern<'a> {
    report: &'a Report,
    names: Interner<'a>,
    set_of_key: FxHashMap<&'a str, u32>,
    sets: Vec<Members>,
}

impl<'a> Intern<'a> {
    fn members(&mut self, key: &'a str, set: &'a MemberSet) -> u32 {
        if let Some(i) = self.set_of_key.get(key) {
            return *i;
        }
        // Its own members, then the sets it names (`refs`), each member once with its first bits, by kind.
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        let mut all: Vec<(NodeKind, u32, u8)> = Vec::with_capacity(set.members.len());
        for (n, b) in self.report.entries(set) {
            let id = self.names.id(&n.id);
            if set.refs.is_empty() || seen.insert(id) {
                let bits = if b & MemberSet::ELIGIBLE != 0 { ELIGIBLE } else { 0 }
                    | if b & MemberSet::CONDITIONAL != 0 { CONDITIONAL } else { 0 }
                    | if b & MemberSet::ESCALATES != 0 { ESCALATES } else { 0 };
                all.push((n.kind, id, bits));
            }
        }
        all.sort_by_key(|(kind, _, _)| *kind);
        let members: Members = all
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| (run[0].0, run.iter().map(|(_, id, bits)| (*id, *bits)).collect()))
            .collect();
        let i = index(self.sets.len());
        self.sets.push(members);
        self.set_of_key.insert(key, i);
        i
    }

    /// The finding's cells, its exclusions into `excluded`.
    fn finding(
        &mut self,
        fi: u32,
        f: &'a Finding,
        excluded: &mut FxHashMap<(u32, u32), FxHashSet<(u32, u32)>>,
    ) -> Vec<Cell> {
        let mut cells = Vec::new();
        for (ti, t) in f.tiers.iter().enumerate() {
            let Some(info) = self.report.queries.iter().position(|q| q.id == t.query_id) else { continue };
            let query = self.names.id(&t.query_id);
            if !t.excluded.is_empty() {
                let pairs = t.excluded.iter().map(|[a, b]| (self.names.id(&a.id), self.names.id(&b.id))).collect();
                excluded.insert((fi, index(ti)), pairs);
            }
            for id in t.targets.all_ids() {
                let target = self.names.id(id);
                let severity = Reverse(self.report.queries[info].severity);
                cells.push(Cell {
                    order: (severity, 0, 0),
                    query,
                    target,
                    finding: fi,
                    tier: index(ti),
                    info: index(info),
                });
            }
        }
        cells
    }
}

impl<'a> Pairs<'a> {
    /// The pairs of `report`, ready to walk.
    pub fn of(report: &'a Report) -> Pairs<'a> {
        let mut st = Intern { report, names: Interner::default(), set_of_key: FxHashMap::default(), sets: Vec::new() };
        let mut heads = Vec::with_capacity(report.findings.len());
        let mut finding_set = Vec::with_capacity(report.findings.len());
        let mut excluded = FxHashMap::default();
        let mut cells = Vec::new();
        for (i, f) in report.findings.iter().enumerate() {
            heads.push(st.names.id(&f.principal.id));
            let set = f.member_set.as_deref().and_then(|k| Some((k, report.member_sets.get(k)?)));
            finding_set.push(set.map(|(k, s)| st.members(k, s)));
            cells.extend(st.finding(index(i), f, &mut excluded));
        }
        let name_rank = ranks(&st.names.names);
        for c in &mut cells {
            c.order.1 = name_rank[c.query as usize];
            c.order.2 = name_rank[c.target as usize];
        }
        cells.sort_unstable_by_key(|c| (c.order, c.finding, c.tier));
        let keys: Vec<String> = report.findings.iter().map(grant_key).collect();
        Pairs {
            report,
            names: st.names.names,
            name_rank,
            key_rank: ranks(&keys),
            heads,
            finding_set,
            sets: st.sets,
            excluded,
            cells,
        }
    }

    /// The report the pairs come from.
    pub fn report(&self) -> &'a Report {
        self.report
    }

    /// The interned ids [`IndexedPair`] numbers.
    pub fn names(&self) -> &[&'a str] {
        &self.names
    }

    /// Calls `emit` with every pair, in the JSON report's order: query severity (highest first), query id,
    /// target id, source id. Holds one (query, target) cell's sources at a time.
    pub fn for_each(&self, emit: &mut dyn FnMut(IndexedPair)) {
        // Per source of the current cell; a dense table reset after each cell.
        let mut best: Vec<Slot> = vec![EMPTY; self.names.len()];
        let mut touched: Vec<u32> = Vec::new();
        for group in self.cells.chunk_by(|a, b| (a.query, a.target) == (b.query, b.target)) {
            for cell in group {
                self.offer(cell, &mut best, &mut touched);
            }
            touched.sort_unstable_by_key(|s| self.name_rank[*s as usize]);
            let (query, target) = (group[0].query, group[0].target);
            for source in touched.drain(..) {
                let slot = std::mem::replace(&mut best[source as usize], EMPTY);
                let flags = PairFlags {
                    eligible: slot.reach & ELIGIBLE != 0,
                    conditional: slot.reach & CONDITIONAL != 0,
                    escalation: slot.reach & ESCALATES != 0,
                };
                emit(IndexedPair { query, source, target, finding: slot.finding, flags });
            }
        }
    }

    /// Offers the pairs of `cell` to `best` (each source's lowest priority, then first finding; its lowest reach
    /// bits), noting the sources seen first in `touched`.
    fn offer(&self, cell: &Cell, best: &mut [Slot], touched: &mut Vec<u32>) {
        let fi = cell.finding as usize;
        let f = &self.report.findings[fi];
        let q = &self.report.queries[cell.info as usize];
        let own = if f.eligible { ELIGIBLE } else { 0 } | if f.conditional { CONDITIONAL } else { 0 };
        let escalation = if f.reach == Reach::Escalation { ESCALATES } else { 0 };
        let head = q.sources.contains(&f.principal.kind).then_some((self.heads[fi], 0u8));
        let members = self.finding_set[fi].map(|s| &self.sets[s as usize]);
        let of_kinds = members
            .into_iter()
            .flatten()
            .filter(|(kind, _)| q.sources.contains(kind))
            .flat_map(|(_, ids)| ids.iter().copied());
        let excluded = self.excluded.get(&(cell.finding, cell.tier));
        let rank = u64::from(self.key_rank[fi]);
        for (p, bits) in head.into_iter().chain(of_kinds) {
            if p == cell.target || excluded.is_some_and(|x| x.contains(&(p, cell.target))) {
                continue;
            }
            let bits = own | bits;
            // The flag bits are ordered as the preference: activation, condition, escalation.
            let priority = (u64::from(bits) << 32) | rank;
            let slot = &mut best[p as usize];
            if slot.priority == u64::MAX {
                touched.push(p);
            }
            if priority < slot.priority || (priority == slot.priority && cell.finding < slot.finding) {
                (slot.priority, slot.finding) = (priority, cell.finding);
            }
            slot.reach = slot.reach.min(bits | escalation);
        }
    }

    /// A pair with its ids.
    pub fn expanded(&self, p: IndexedPair) -> ExpandedPair {
        ExpandedPair {
            query_id: self.names[p.query as usize].to_string(),
            source: self.names[p.source as usize].to_string(),
            target: self.names[p.target as usize].to_string(),
            finding: self.report.findings[p.finding as usize].id.clone(),
            reach: p.flags.reach(),
            eligible: p.flags.eligible,
            conditional: p.flags.conditional,
        }
    }
}

/// Every pair of `report`, in the JSON report's order (see [`Pairs::for_each`]).
pub fn expanded(report: &Report) -> Vec<ExpandedPair> {
    let pairs = Pairs::of(report);
    let mut out = Vec::new();
    pairs.for_each(&mut |p| out.push(pairs.expanded(p)));
    out
}

/// Each item's rank among `items` by content (equal items, equal ranks).
fn ranks<S: Ord>(items: &[S]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by(|a, b| items[*a].cmp(&items[*b]));
    let mut rank = vec![0; items.len()];
    for (at, pair) in order.windows(2).enumerate() {
        rank[pair[1]] = if items[pair[0]] == items[pair[1]] { rank[pair[0]] } else { index(at + 1) };
    }
    rank
}
