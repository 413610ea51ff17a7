//! The JSON report's layout (schema 4). Every node is written once, in `nodes`; every path step once, in
//! `edges`; every target list once, in `target_sets`; every member set once, in `member_sets`. Findings and
//! pairs refer to them by index (`.nodes[i]`, `.edges[i]`, …), so the report grows with grants and cores, not
//! with principals times targets. [`Report`] serializes through [`Wire`] and reads back from it, resolving every
//! reference (a dangling one is an error that names the field), so the in-memory report keeps its convenient
//! shape and every consumer reads it as before.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{
    Affected, ChokePoint, ChokeTier, CoverageNote, Finding, Hop, MemberSet, NodeRef, Plan, PostureFinding, QueryInfo,
    Reach, Remediation, Report, SharedNode, Tier, TierHit, SAMPLE,
};
use crate::model::{EdgeKind, NodeKind, Severity};

/// An index into one of the report's tables.
type Ix = u32;

fn is_false(b: &bool) -> bool {
    !*b
}

/// The JSON report as written (schema 4).
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Report")]
pub(crate) struct Wire<'a> {
    /// Always 4.
    schema_version: u32,
    /// azpath version.
    tool_version: Cow<'a, str>,
    /// When the analyzed snapshot was collected.
    collected_at: Cow<'a, str>,
    /// Queries that were run.
    queries: Cow<'a, [QueryInfo]>,
    /// Per tier (query): exposure before and after the plan, and what was found.
    tiers: Cow<'a, [Tier]>,
    /// Choke points, most principals cut first.
    choke_points: Vec<WireChoke<'a>>,
    /// The verified least-privilege plan.
    plan: Cow<'a, Plan>,
    /// Findings (path cores): escalations first, then by severity, principals reached, id. Nodes, hops,
    /// targets and members are indices into `nodes`, `edges`, `target_sets` and `member_sets`.
    findings: Vec<WireFinding<'a>>,
    /// Members of the findings' principals, each set once (`findings[].member_set` indexes it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    member_sets: Vec<WireMemberSet>,
    /// Target lists, each once: node indices sorted by kind, then id (`findings[].tiers[].targets` indexes it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    target_sets: Vec<Vec<Ix>>,
    /// Every (principal, target) pair with the finding that explains it, sorted by severity, query id, target
    /// id, source id; only with `--expand`. Each is self-contained, as a `--format ndjson` line.
    #[serde(default, skip_serializing_if = "no_pairs")]
    pairs: Cow<'a, [crate::expand::ExpandedPair]>,
    /// Every principal, scope and resource the report names, once.
    nodes: Vec<WireNode<'a>>,
    /// Every path step the findings and pairs take, once.
    edges: Vec<WireEdge<'a>>,
    /// Posture checks that were run.
    #[serde(default)]
    posture_checks: Cow<'a, [QueryInfo]>,
    /// Posture findings, sorted by severity (highest first), check id, resource id.
    #[serde(default)]
    posture: Cow<'a, [PostureFinding]>,
    /// What could not be collected.
    coverage: Cow<'a, [CoverageNote]>,
    /// What the analysis could not resolve (unknown role definitions, …).
    warnings: Cow<'a, [String]>,
}

/// A principal, scope or resource, named once in the report's `nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Node")]
struct WireNode<'a> {
    /// Node kind.
    kind: NodeKind,
    /// Stable id: Entra object id, or lower-cased ARM resource id (`/` for the tenant root).
    id: Cow<'a, str>,
    /// Human name, when it differs from the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
}

/// One path step, named once in the report's `edges`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Edge")]
struct WireEdge<'a> {
    /// Where the step starts (index into `nodes`).
    from: Ix,
    /// Where it ends (index into `nodes`).
    to: Ix,
    /// What the step is.
    edge: EdgeKind,
    /// Short label for pictures and tables (`Owner`, `member of`, `contains`).
    label: Cow<'a, str>,
    /// Ids of the objects that justify it (role assignment id, role definition id, group id, …).
    evidence: Vec<Cow<'a, str>>,
    /// One-sentence explanation.
    detail: Cow<'a, str>,
    /// The step needs a PIM activation (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    eligible: bool,
    /// The step rests on a condition azpath could not fully evaluate (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    conditional: bool,
    /// The key of the change that removes the step: a choke point's `id` when it ranks as one (absent: no
    /// change to one object removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fix: Option<Cow<'a, str>>,
}

/// How many principals or targets, and how many of each kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Count")]
struct Count {
    /// How many.
    count: usize,
    /// How many of each kind.
    #[schemars(extend("propertyNames" = {"$ref": "#/$defs/NodeKind"}))]
    by_kind: BTreeMap<NodeKind, usize>,
}

/// One path core (see README "JSON report"): the pairs it implies, per tier, are every principal of the
/// query's source kinds among `principal` and the member set, times every target, never a principal with
/// itself, minus `excluded`.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Finding")]
struct WireFinding<'a> {
    /// Stable fingerprint: the tiers' query ids and the grants the core rests on (never names or order).
    id: Cow<'a, str>,
    /// Standing privilege or escalation.
    reach: Reach,
    /// The highest severity of its tiers.
    severity: Severity,
    /// Where the core starts (index into `nodes`).
    principal: Ix,
    /// Where the core lands (index into `nodes`).
    scope: Ix,
    /// The core, hop by hop, `principal` first (indices into `edges`).
    hops: Vec<Ix>,
    /// Some hop needs a PIM (JIT) activation (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    eligible: bool,
    /// Some hop rests on a condition that was not fully understood (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    conditional: bool,
    /// How many principals reach `principal` through membership alone (or become a cluster's admin).
    members: Count,
    /// Its members (index into `member_sets`); absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    member_set: Option<Ix>,
    /// The tiers (queries) it answers, highest severity first.
    tiers: Vec<WireTier<'a>>,
    /// The choke point (fix) this finding's own remediation is: an index into `choke_points` (its id when
    /// the report does not list it).
    fix: Ref<'a>,
    /// The least-collateral cut for this core, with its command; absent when it is the `fix` choke point's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remediation: Option<Cow<'a, Remediation>>,
}

/// An index into a table of the report, or, for an entry the report does not list, its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum Ref<'a> {
    /// Index into the table.
    Index(Ix),
    /// Id of an entry the table does not hold.
    Id(Cow<'a, str>),
}

/// A grant that paths rest on, ranked by what removing it fixes.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ChokePoint")]
struct WireChoke<'a> {
    /// Stable id: what is removed (`role-assignment:<id>`, `member:<group>/<member>`, `owner:<object>/<owner>`,
    /// `federated-credential:<id>`, `binding:<cluster>#<binding>#<subject>`, `edge:<kind>:<from>:<to>` when no
    /// object stands behind the step, …).
    id: Cow<'a, str>,
    /// Standing when removing it takes a held grant away (collateral); escalation when it only cuts a step.
    reach: Reach,
    /// What the grant is, in a few words.
    what: Cow<'a, str>,
    /// Principals that lose every path into some tier (the largest over its tiers).
    principals_cut: usize,
    /// Standing holders that lose a grant they hold (the cost of the change).
    collateral: usize,
    /// Per tier.
    tiers: Cow<'a, [ChokeTier]>,
    /// Findings that rest on it (indices into `findings`).
    findings: Vec<Ref<'a>>,
    /// The change, with its command.
    remediation: Cow<'a, Remediation>,
}

/// What one finding gives in one tier (query).
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "TierHit")]
struct WireTier<'a> {
    /// Query id.
    query_id: Cow<'a, str>,
    /// Capabilities held at the targets (`assign-roles`, `write-everything`, …); empty for non-scope targets.
    capabilities: Cow<'a, [String]>,
    /// The targets reached (index into `target_sets`): the scope where the power holds and every scope of the
    /// query's kinds below it (or the identities behind a hub).
    targets: Ix,
    /// The finding's principals this tier reports: `principal` and members of the query's source kinds.
    principals: usize,
    /// (principal, target) pairs (indices into `nodes`) the product leaves out: a deny assignment that applies
    /// to that actor there, or the query's hop limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    excluded: Vec<[Ix; 2]>,
}

/// `"all"`: every member of the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
enum All {
    /// Every member.
    #[serde(rename = "all")]
    All,
}

/// Which members escalate: `"all"`, or a list of node indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum Escalating {
    /// Every member of the set.
    All(All),
    /// These members (indices into `nodes`).
    Some(Vec<Ix>),
}

/// The members of one or more findings' principal, listed once.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "MemberSet")]
struct WireMemberSet {
    /// Every member (indices into `nodes`), sorted by kind, then id.
    members: Vec<Ix>,
    /// Members that get to the principal by a step that is not a membership (owning the group, becoming a
    /// cluster's admin): they gain the power rather than hold it. `"all"` when every member does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    escalating: Option<Escalating>,
    /// Members whose way to the principal needs a PIM activation (their pairs are eligible too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    eligible: Vec<Ix>,
    /// Members whose way to the principal rests on a partly understood condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    conditional: Vec<Ix>,
    /// Other sets whose members are members of this one too (a pivot's members are those of the groups in its
    /// tree): each member of a named set gets there through that set's principal, so it escalates, is eligible
    /// or conditional when it is in the named set or the ref says so. A member listed in `members` or in an
    /// earlier ref is not taken again. A named set names none itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    refs: Vec<WireSetRef>,
}

/// A member set named by another (see `MemberSet.refs`).
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "SetRef")]
struct WireSetRef {
    /// The named set (index into `member_sets`).
    set: Ix,
    /// The way from its principal is not a membership: every member taken from it escalates (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    escalating: bool,
    /// The way from its principal needs a PIM activation (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    eligible: bool,
    /// The way from its principal rests on a partly understood condition (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    conditional: bool,
    /// Members of the named set that are not taken (indices into `nodes`): no members of this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    except: Vec<Ix>,
}

impl WireSetRef {
    fn bits(&self) -> u8 {
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        bit(self.escalating, MemberSet::ESCALATES)
            | bit(self.eligible, MemberSet::ELIGIBLE)
            | bit(self.conditional, MemberSet::CONDITIONAL)
    }
}

/// Whether a report has no `pairs` (written without `--expand`).
fn no_pairs(pairs: &[crate::expand::ExpandedPair]) -> bool {
    pairs.is_empty()
}

/// The tables a report is written with, filled as findings and pairs name things.
#[derive(Default)]
struct Tables<'a> {
    nodes: Vec<WireNode<'a>>,
    node_ix: FxHashMap<(NodeKind, &'a str), Ix>,
    by_id: FxHashMap<&'a str, Ix>,
    edges: Vec<WireEdge<'a>>,
    edge_ix: FxHashMap<WireEdge<'a>, Ix>,
    target_sets: Vec<Vec<Ix>>,
    set_ix: FxHashMap<Vec<Ix>, Ix>,
    member_sets: Vec<WireMemberSet>,
    member_ix: FxHashMap<&'a str, Ix>,
    /// Shared nodes already named, by address.
    shared_ix: FxHashMap<usize, Ix>,
    choke_ix: FxHashMap<&'a str, Ix>,
}

fn next(len: usize) -> Ix {
    Ix::try_from(len).expect("fewer than 2^32 table entries")
}

impl<'a> Tables<'a> {
    /// The index of a node, added with its name (when it has one) on first sight.
    fn node(&mut self, kind: NodeKind, id: &'a str, name: Option<&'a str>) -> Ix {
        let name = name.filter(|n| *n != id);
        if let Some(&i) = self.node_ix.get(&(kind, id)) {
            let known = &mut self.nodes[i as usize].name;
            if known.is_none() {
                *known = name.map(Cow::Borrowed);
            }
            return i;
        }
        let i = next(self.nodes.len());
        self.nodes.push(WireNode { kind, id: Cow::Borrowed(id), name: name.map(Cow::Borrowed) });
        self.node_ix.insert((kind, id), i);
        self.by_id.insert(id, i);
        i
    }

    fn node_ref(&mut self, r: &'a NodeRef) -> Ix {
        self.node(r.kind, &r.id, Some(&r.display_name))
    }

    fn edge(&mut self, h: &'a Hop) -> Ix {
        let e = WireEdge {
            from: self.node_ref(&h.from),
            to: self.node_ref(&h.to),
            edge: h.edge,
            label: Cow::Borrowed(&h.label),
            evidence: h.evidence.iter().map(|s| Cow::Borrowed(s.as_str())).collect(),
            detail: Cow::Borrowed(&h.detail),
            eligible: h.eligible,
            conditional: h.conditional,
            fix: h.fix.as_deref().map(Cow::Borrowed),
        };
        if let Some(&i) = self.edge_ix.get(&e) {
            return i;
        }
        let i = next(self.edges.len());
        self.edges.push(e.clone());
        self.edge_ix.insert(e, i);
        i
    }

    /// The index of a shared node: looked up by address first (a set names the same nodes as others).
    fn shared(&mut self, n: &'a SharedNode) -> Ix {
        let addr = Arc::as_ptr(n) as usize;
        if let Some(&i) = self.shared_ix.get(&addr) {
            return i;
        }
        let i = self.node_ref(n);
        self.shared_ix.insert(addr, i);
        i
    }

    fn targets(&mut self, a: &'a Affected) -> Ix {
        let set: Vec<Ix> = a.nodes.iter().map(|n| self.shared(n)).collect();
        if let Some(&i) = self.set_ix.get(&set) {
            return i;
        }
        let i = next(self.target_sets.len());
        self.set_ix.insert(set.clone(), i);
        self.target_sets.push(set);
        i
    }

    fn member_set(&mut self, report: &'a Report, key: &'a str, set: &'a MemberSet) -> Ix {
        if let Some(&i) = self.member_ix.get(key) {
            return i;
        }
        // The named sets first (none names another), so every set a report holds is written.
        let refs = set
            .refs
            .iter()
            .filter_map(|r| {
                // (`Report::needed_sets` keeps every set a kept set names.)
                debug_assert!(report.member_sets.contains_key(&r.key), "a member set names a set the report lacks");
                let (key, named) = report.member_sets.get_key_value(&r.key)?;
                Some(WireSetRef {
                    set: self.member_set(report, key, named),
                    escalating: r.bits & MemberSet::ESCALATES != 0,
                    eligible: r.bits & MemberSet::ELIGIBLE != 0,
                    conditional: r.bits & MemberSet::CONDITIONAL != 0,
                    except: r.except.iter().map(|n| self.shared(n)).collect(),
                })
            })
            .collect();
        let members: Vec<Ix> = set.members.iter().map(|n| self.shared(n)).collect();
        // Escalating members and flags by id (the order they were listed in before members were shared).
        let by_id = |bit: u8| -> Vec<Ix> {
            let mut ids: Vec<(&str, Ix)> = set
                .iter()
                .zip(&members)
                .filter(|((_, b), _)| b & bit != 0)
                .map(|((n, _), i)| (n.id.as_str(), *i))
                .collect();
            ids.sort_by(|a, b| a.0.cmp(b.0));
            ids.into_iter().map(|(_, i)| i).collect()
        };
        let escalating = match set.escalating().count() {
            0 => None,
            n if n == members.len() => Some(Escalating::All(All::All)),
            _ => Some(Escalating::Some(by_id(MemberSet::ESCALATES))),
        };
        let (eligible, conditional) = (by_id(MemberSet::ELIGIBLE), by_id(MemberSet::CONDITIONAL));
        let i = next(self.member_sets.len());
        self.member_sets.push(WireMemberSet { members, escalating, eligible, conditional, refs });
        self.member_ix.insert(key, i);
        i
    }

    fn finding(&mut self, report: &'a Report, f: &'a Finding) -> WireFinding<'a> {
        WireFinding {
            id: Cow::Borrowed(&f.id),
            reach: f.reach,
            severity: f.severity,
            principal: self.node_ref(&f.principal),
            scope: self.node_ref(&f.scope),
            hops: f.hops.iter().map(|h| self.edge(h)).collect(),
            eligible: f.eligible,
            conditional: f.conditional,
            members: Count { count: f.members.count, by_kind: f.members.by_kind.clone() },
            member_set: f
                .member_set
                .as_deref()
                .and_then(|k| report.member_sets.get_key_value(k))
                .map(|(k, set)| self.member_set(report, k, set)),
            tiers: f.tiers.iter().map(|t| self.tier(t)).collect(),
            fix: match self.choke_ix.get(f.fix.as_str()) {
                Some(&i) => Ref::Index(i),
                None => Ref::Id(Cow::Borrowed(&f.fix)),
            },
            remediation: match self.choke_ix.get(f.fix.as_str()) {
                Some(&i) if report.choke_points[i as usize].remediation == f.remediation => None,
                _ => Some(Cow::Borrowed(&f.remediation)),
            },
        }
    }

    fn tier(&mut self, t: &'a TierHit) -> WireTier<'a> {
        WireTier {
            query_id: Cow::Borrowed(&t.query_id),
            capabilities: Cow::Borrowed(&t.capabilities),
            targets: self.targets(&t.targets),
            principals: t.principals,
            excluded: t.excluded.iter().map(|[p, x]| [self.known(&p.id), self.known(&x.id)]).collect(),
        }
    }

    /// An excluded pair's end, by id: the finding's principal, a member or a target, all named before its
    /// exclusions are.
    fn known(&mut self, id: &'a str) -> Ix {
        match self.by_id.get(id) {
            Some(&i) => i,
            // Not reached (an exclusion names one of the finding's principals and targets); kept total.
            None => self.node(NodeKind::User, id, None),
        }
    }
}

/// A choke point as written: the findings resting on it by index.
fn choke<'a>(c: &'a ChokePoint, finding_ix: &FxHashMap<&str, Ix>) -> WireChoke<'a> {
    WireChoke {
        id: Cow::Borrowed(&c.id),
        reach: c.reach,
        what: Cow::Borrowed(&c.what),
        principals_cut: c.principals_cut,
        collateral: c.collateral,
        tiers: Cow::Borrowed(&c.tiers),
        findings: c
            .findings
            .iter()
            .map(|id| finding_ix.get(id.as_str()).map_or_else(|| Ref::Id(Cow::Borrowed(id)), |i| Ref::Index(*i)))
            .collect(),
        remediation: Cow::Borrowed(&c.remediation),
    }
}

impl<'a> Wire<'a> {
    /// The report as written: its nodes, edges, target lists and member sets each once.
    pub(crate) fn from_report(r: &'a Report) -> Wire<'a> {
        let choke_ix = r.choke_points.iter().enumerate().map(|(i, c)| (c.id.as_str(), next(i))).collect();
        let mut t = Tables { choke_ix, ..Tables::default() };
        let findings = r.findings.iter().map(|f| t.finding(r, f)).collect();
        let finding_ix: FxHashMap<&str, Ix> =
            r.findings.iter().enumerate().map(|(i, f)| (f.id.as_str(), next(i))).collect();
        let choke_points = r.choke_points.iter().map(|c| choke(c, &finding_ix)).collect();
        Wire {
            schema_version: r.schema_version,
            tool_version: Cow::Borrowed(&r.tool_version),
            collected_at: Cow::Borrowed(&r.collected_at),
            queries: Cow::Borrowed(&r.queries),
            tiers: Cow::Borrowed(&r.tiers),
            choke_points,
            plan: Cow::Borrowed(&r.plan),
            findings,
            member_sets: t.member_sets,
            target_sets: t.target_sets,
            pairs: Cow::Borrowed(&r.pairs),
            nodes: t.nodes,
            edges: t.edges,
            posture_checks: Cow::Borrowed(&r.posture_checks),
            posture: Cow::Borrowed(&r.posture),
            coverage: Cow::Borrowed(&r.coverage),
            warnings: Cow::Borrowed(&r.warnings),
        }
    }

    /// The report with every reference resolved.
    pub(crate) fn into_report(self) -> Result<Report, WireError> {
        let shared = self
            .nodes
            .iter()
            .map(|n| {
                let id = n.id.to_string();
                Arc::new(NodeRef { kind: n.kind, display_name: n.name.as_deref().unwrap_or(&id).to_string(), id })
            })
            .collect();
        let read = Reader { w: &self, shared };
        let mut member_sets = read.member_sets()?;
        let (keys, samples): (Vec<String>, Vec<Vec<NodeRef>>) = read.member_keys(&mut member_sets)?.into_iter().unzip();
        let findings = self
            .findings
            .iter()
            .enumerate()
            .map(|(i, f)| read.finding(i, f, &member_sets, &keys, &samples))
            .collect::<Result<Vec<_>, _>>()?;
        let choke_points =
            self.choke_points.iter().enumerate().map(|(i, c)| read.choke(i, c)).collect::<Result<Vec<_>, _>>()?;
        Ok(Report {
            schema_version: self.schema_version,
            tool_version: self.tool_version.into_owned(),
            collected_at: self.collected_at.into_owned(),
            queries: self.queries.into_owned(),
            tiers: self.tiers.into_owned(),
            choke_points,
            plan: self.plan.into_owned(),
            findings,
            member_sets: keys.into_iter().zip(member_sets).collect(),
            pairs: self.pairs.into_owned(),
            posture_checks: self.posture_checks.into_owned(),
            posture: self.posture.into_owned(),
            coverage: self.coverage.into_owned(),
            warnings: self.warnings.into_owned(),
        })
    }
}

/// A JSON report whose references do not resolve.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// A reference points at no entry of its table.
    #[error("{field}: {index} is not an index of the report's `{table}` ({len} entries)")]
    Dangling {
        /// The JSON path of the reference (`findings[3].hops[1]`).
        field: String,
        /// The table it points into (`nodes`, `edges`, `target_sets`, `member_sets`, …).
        table: &'static str,
        /// The index.
        index: u32,
        /// How many entries the table has.
        len: usize,
    },
    /// A member set's ref names a set that has refs of its own.
    #[error("{field}: {index} names a member set that names others (a named set names none)")]
    Nested {
        /// The JSON path of the ref (`member_sets[3].refs[0].set`).
        field: String,
        /// The index it names.
        index: u32,
    },
    /// A finding without its remediation whose fix is not a listed choke point to take it from.
    #[error("{field}: absent, and the finding's `fix` is not an index of `choke_points` to take it from")]
    Missing {
        /// The JSON path of the absent field.
        field: String,
    },
}

/// A finding's fix as read.
struct Fix {
    id: String,
    remediation: Option<Remediation>,
}

/// Resolves a written report's references.
struct Reader<'w, 'a> {
    w: &'w Wire<'a>,
    /// Each entry of `nodes`, shared by the sets that list it.
    shared: Vec<SharedNode>,
}

fn get<'t, T>(table: &'t [T], name: &'static str, ix: Ix, field: impl FnOnce() -> String) -> Result<&'t T, WireError> {
    table.get(ix as usize).ok_or_else(|| WireError::Dangling {
        field: field(),
        table: name,
        index: ix,
        len: table.len(),
    })
}

impl Reader<'_, '_> {
    fn node(&self, ix: Ix, field: impl FnOnce() -> String) -> Result<NodeRef, WireError> {
        let n = get(&self.w.nodes, "nodes", ix, field)?;
        let id = n.id.to_string();
        Ok(NodeRef { kind: n.kind, display_name: n.name.as_deref().unwrap_or(&id).to_string(), id })
    }

    fn hops(&self, hops: &[Ix], at: &str) -> Result<Vec<Hop>, WireError> {
        hops.iter()
            .enumerate()
            .map(|(i, ix)| {
                let e = get(&self.w.edges, "edges", *ix, || format!("{at}.hops[{i}]"))?;
                Ok(Hop {
                    from: self.node(e.from, || format!("edges[{ix}].from"))?,
                    to: self.node(e.to, || format!("edges[{ix}].to"))?,
                    edge: e.edge,
                    label: e.label.to_string(),
                    evidence: e.evidence.iter().map(|s| s.to_string()).collect(),
                    detail: e.detail.to_string(),
                    eligible: e.eligible,
                    conditional: e.conditional,
                    fix: e.fix.as_deref().map(str::to_string),
                })
            })
            .collect()
    }

    /// A node as the sets share it: one [`SharedNode`] per entry of `nodes`.
    fn shared(&self, ix: Ix, field: impl FnOnce() -> String) -> Result<SharedNode, WireError> {
        get(&self.shared, "nodes", ix, field).cloned()
    }

    /// The shared nodes of a list, in order.
    fn shared_list(&self, ixs: &[Ix], at: &dyn Fn(usize) -> String) -> Result<Vec<SharedNode>, WireError> {
        ixs.iter().enumerate().map(|(i, ix)| self.shared(*ix, || at(i))).collect()
    }

    fn member_sets(&self) -> Result<Vec<MemberSet>, WireError> {
        self.w
            .member_sets
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let at = |what: &'static str| move |i: usize| format!("member_sets[{si}].{what}[{i}]");
                let members = self.shared_list(&s.members, &at("members"))?;
                let position: FxHashMap<Ix, usize> = s.members.iter().enumerate().map(|(i, ix)| (*ix, i)).collect();
                let mut bits = vec![0u8; members.len()];
                let mark = |bits: &mut [u8], list: &[Ix], bit: u8, what: &'static str| -> Result<(), WireError> {
                    for (i, ix) in list.iter().enumerate() {
                        let n = self.shared(*ix, || at(what)(i))?;
                        // A node listed here that is no member: marked on the member with its id, if any.
                        let member = position.get(ix).copied().or_else(|| members.iter().position(|m| m.id == n.id));
                        if let Some(p) = member {
                            bits[p] |= bit;
                        }
                    }
                    Ok(())
                };
                match &s.escalating {
                    None => {}
                    Some(Escalating::All(_)) => bits.iter_mut().for_each(|b| *b |= MemberSet::ESCALATES),
                    Some(Escalating::Some(ixs)) => mark(&mut bits, ixs, MemberSet::ESCALATES, "escalating")?,
                }
                mark(&mut bits, &s.eligible, MemberSet::ELIGIBLE, "eligible")?;
                mark(&mut bits, &s.conditional, MemberSet::CONDITIONAL, "conditional")?;
                Ok(MemberSet { members, bits, refs: Vec::new() })
            })
            .collect()
    }

    /// Each set's key and first few members (by kind, then id), with its refs by key: a set without refs has
    /// its members' key, a set with refs its resolved set's (a ref that dangles, or names a set with refs of
    /// its own, is an error naming it).
    fn member_keys(&self, sets: &mut [MemberSet]) -> Result<Vec<(String, Vec<NodeRef>)>, WireError> {
        let first =
            |nodes: &mut dyn Iterator<Item = &SharedNode>| nodes.take(SAMPLE).map(|n| NodeRef::clone(n)).collect();
        let mut keys: Vec<(String, Vec<NodeRef>)> =
            sets.iter().map(|s| (s.key(), first(&mut s.members.iter()))).collect();
        let wire = &self.w.member_sets;
        for (si, s) in wire.iter().enumerate().filter(|(_, s)| !s.refs.is_empty()) {
            let mut refs = Vec::with_capacity(s.refs.len());
            for (ri, r) in s.refs.iter().enumerate() {
                let field = || format!("member_sets[{si}].refs[{ri}].set");
                let named = get(wire, "member_sets", r.set, field)?;
                if !named.refs.is_empty() {
                    return Err(WireError::Nested { field: field(), index: r.set });
                }
                let except = r
                    .except
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.shared(*x, || format!("member_sets[{si}].refs[{ri}].except[{i}]")));
                let mut except = except.collect::<Result<Vec<_>, _>>()?;
                except.sort_unstable_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.id.cmp(&b.id)));
                refs.push(super::SetRef { key: keys[r.set as usize].0.clone(), bits: r.bits(), except });
            }
            // The resolved set: its own members, then each named set's, each member once with its first bits.
            let named = refs.iter().zip(&s.refs).flat_map(|(r, w)| r.entries(&sets[w.set as usize]));
            let all = sets[si].iter().chain(named).map(|(n, bits)| (n.clone(), bits)).collect();
            let resolved = MemberSet::of(all);
            keys[si] = (resolved.key(), first(&mut resolved.members.iter()));
            sets[si].refs = refs;
        }
        Ok(keys)
    }

    /// A target list as the in-memory report holds it.
    fn targets(&self, ix: Ix, field: impl FnOnce() -> String) -> Result<Affected, WireError> {
        let set = get(&self.w.target_sets, "target_sets", ix, field)?;
        let nodes = self.shared_list(set, &|i| format!("target_sets[{ix}][{i}]"))?;
        let mut a = Affected { count: nodes.len(), ..Affected::default() };
        for n in &nodes {
            *a.by_kind.entry(n.kind).or_default() += 1;
        }
        a.sample = nodes.iter().take(SAMPLE).map(|n| NodeRef::clone(n)).collect();
        a.nodes = nodes;
        Ok(a)
    }

    fn tier(&self, at: &str, t: &WireTier<'_>) -> Result<TierHit, WireError> {
        let excluded = t
            .excluded
            .iter()
            .enumerate()
            .map(|(i, [p, x])| {
                let p = self.shared(*p, || format!("{at}.excluded[{i}][0]"))?;
                let x = self.shared(*x, || format!("{at}.excluded[{i}][1]"))?;
                Ok([p, x])
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok(TierHit {
            query_id: t.query_id.to_string(),
            capabilities: t.capabilities.to_vec(),
            targets: self.targets(t.targets, || format!("{at}.targets"))?,
            principals: t.principals,
            excluded,
        })
    }

    fn finding(
        &self,
        i: usize,
        f: &WireFinding<'_>,
        sets: &[MemberSet],
        keys: &[String],
        samples: &[Vec<NodeRef>],
    ) -> Result<Finding, WireError> {
        let at = format!("findings[{i}]");
        let set = f
            .member_set
            .map(|ix| get(sets, "member_sets", ix, || format!("{at}.member_set")).map(|_| ix as usize))
            .transpose()?;
        let sample = set.map(|s| samples[s].clone()).unwrap_or_default();
        let fix = self.fix(&at, &f.fix)?;
        Ok(Finding {
            id: f.id.to_string(),
            reach: f.reach,
            severity: f.severity,
            principal: self.node(f.principal, || format!("{at}.principal"))?,
            scope: self.node(f.scope, || format!("{at}.scope"))?,
            hops: self.hops(&f.hops, &at)?,
            eligible: f.eligible,
            conditional: f.conditional,
            members: Affected {
                count: f.members.count,
                by_kind: f.members.by_kind.clone(),
                sample,
                ..Affected::default()
            },
            member_set: set.map(|s| keys[s].clone()),
            tiers: f
                .tiers
                .iter()
                .enumerate()
                .map(|(j, t)| self.tier(&format!("{at}.tiers[{j}]"), t))
                .collect::<Result<_, _>>()?,
            fix: fix.id.to_string(),
            remediation: match &f.remediation {
                Some(r) => r.clone().into_owned(),
                None => fix.remediation.ok_or_else(|| WireError::Missing { field: format!("{at}.remediation") })?,
            },
        })
    }

    /// A finding's fix: its id, and its remediation when the report lists it.
    fn fix(&self, at: &str, fix: &Ref<'_>) -> Result<Fix, WireError> {
        Ok(match fix {
            Ref::Index(ix) => {
                let c = get(&self.w.choke_points, "choke_points", *ix, || format!("{at}.fix"))?;
                Fix { id: c.id.to_string(), remediation: Some(c.remediation.clone().into_owned()) }
            }
            Ref::Id(id) => Fix { id: id.to_string(), remediation: None },
        })
    }

    fn choke(&self, i: usize, c: &WireChoke<'_>) -> Result<ChokePoint, WireError> {
        let findings = c
            .findings
            .iter()
            .enumerate()
            .map(|(j, r)| match r {
                Ref::Index(ix) => get(&self.w.findings, "findings", *ix, || format!("choke_points[{i}].findings[{j}]"))
                    .map(|f| f.id.to_string()),
                Ref::Id(id) => Ok(id.to_string()),
            })
            .collect::<Result<_, _>>()?;
        Ok(ChokePoint {
            id: c.id.to_string(),
            reach: c.reach,
            what: c.what.to_string(),
            principals_cut: c.principals_cut,
            collateral: c.collateral,
            tiers: c.tiers.to_vec(),
            findings,
            remediation: c.remediation.clone().into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: NodeKind, id: &str, name: &str) -> NodeRef {
        NodeRef { kind, id: id.into(), display_name: name.into() }
    }

    /// Two findings of one group at one subscription, its two users as members (`escalating` as given).
    fn report(escalating: &[&str]) -> Report {
        let (group, sub) =
            (node(NodeKind::Group, "g1", "Admins"), node(NodeKind::Subscription, "/subscriptions/s", "prod"));
        let hop = Hop {
            from: group.clone(),
            to: sub.clone(),
            edge: EdgeKind::HasRole,
            label: "Owner".into(),
            evidence: vec!["ra1".into()],
            detail: "Admins holds Owner at prod".into(),
            eligible: false,
            conditional: false,
            fix: Some("role-assignment:ra1".into()),
        };
        let (u1, u2) = (Arc::new(node(NodeKind::User, "u1", "Ann")), Arc::new(node(NodeKind::User, "u2", "u2")));
        let bits = |id: &str| if escalating.contains(&id) { MemberSet::ESCALATES } else { 0 };
        let set = MemberSet::of(vec![(u2.clone(), bits("u2")), (u1, bits("u1"))]);
        let key = set.key();
        let shared_sub = Arc::new(sub.clone());
        let targets = Affected::of(vec![shared_sub.clone()]);
        let finding = |id: &str| Finding {
            id: id.into(),
            reach: Reach::Standing,
            severity: Severity::High,
            principal: group.clone(),
            scope: sub.clone(),
            hops: vec![hop.clone()],
            eligible: false,
            conditional: false,
            members: Affected {
                count: 2,
                by_kind: [(NodeKind::User, 2)].into(),
                sample: vec![node(NodeKind::User, "u1", "Ann"), node(NodeKind::User, "u2", "u2")],
                ..Affected::default()
            },
            member_set: Some(key.clone()),
            tiers: vec![TierHit {
                query_id: format!("q-{id}"),
                capabilities: vec![],
                targets: targets.clone(),
                principals: 2,
                excluded: vec![[u2.clone(), shared_sub.clone()]],
            }],
            fix: "role-assignment:ra1".into(),
            remediation: Remediation { summary: "Remove it".into(), command: None },
        };
        Report {
            schema_version: crate::findings::REPORT_SCHEMA_VERSION,
            findings: vec![finding("f1"), finding("f2")],
            member_sets: [(key, set)].into(),
            ..Report::default()
        }
    }

    #[test]
    fn each_node_edge_and_set_is_written_once_and_reads_back_whole() {
        let r = report(&["u1", "u2"]);
        let v = serde_json::to_value(&r).unwrap();
        let ids: Vec<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["g1", "/subscriptions/s", "u1", "u2"], "{v:#}");
        assert_eq!(v["nodes"][2]["name"], "Ann");
        assert!(v["nodes"][3].get("name").is_none(), "a name that is the id is left out");
        assert_eq!(v["edges"].as_array().unwrap().len(), 1);
        assert_eq!(v["target_sets"], serde_json::json!([[1]]));
        assert_eq!(v["findings"][1]["hops"], serde_json::json!([0]));
        assert_eq!(v["findings"][1]["tiers"][0]["excluded"], serde_json::json!([[3, 1]]));
        assert_eq!(v["member_sets"].as_array().unwrap().len(), 1);
        assert_eq!(v["member_sets"][0]["escalating"], "all");
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn escalating_lists_the_members_when_not_all_do() {
        let r = report(&["u2"]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["member_sets"][0]["escalating"], serde_json::json!([3]));
        assert_eq!(serde_json::from_value::<Report>(v).unwrap(), r);
        let none = serde_json::to_value(report(&[])).unwrap();
        assert!(none["member_sets"][0].get("escalating").is_none());
    }

    #[test]
    fn a_dangling_reference_is_an_error_naming_the_field() {
        let mut v = serde_json::to_value(report(&[])).unwrap();
        v["edges"][0]["to"] = 9.into();
        let err = serde_json::from_value::<Report>(v).unwrap_err().to_string();
        assert!(err.contains("edges[0].to: 9 is not an index of the report's `nodes` (4 entries)"), "{err}");
        let mut v = serde_json::to_value(report(&[])).unwrap();
        v["findings"][0]["tiers"][0]["targets"] = 1.into();
        let err = serde_json::from_value::<Report>(v).unwrap_err().to_string();
        assert!(err.contains("findings[0].tiers[0].targets: 1 is not an index of the report's `target_sets`"), "{err}");
    }

    /// [`report`] with a third finding, of a pivot: its set lists `g1` and `u3` and names the group's set
    /// (escalating, `u2` excepted).
    fn with_pivot() -> Report {
        let mut r = report(&[]);
        let group_key = r.findings[0].member_set.clone().unwrap();
        let group_set = &r.member_sets[&group_key];
        let u2 = group_set.members[1].clone();
        let own = MemberSet::of(vec![
            (Arc::new(node(NodeKind::Group, "g1", "Admins")), MemberSet::ESCALATES),
            (Arc::new(node(NodeKind::User, "u3", "u3")), 0),
        ]);
        let pivot = MemberSet {
            refs: vec![super::super::SetRef { key: group_key, bits: MemberSet::ESCALATES, except: vec![u2] }],
            ..own
        };
        let key = r.resolve(&pivot).key();
        let mut f = r.findings[0].clone();
        f.id = "f3".into();
        f.principal = node(NodeKind::KubeClusterAdmin, "c1#admin", "c1 admin");
        f.member_set = Some(key.clone());
        f.members = Affected {
            count: 3,
            by_kind: [(NodeKind::User, 2), (NodeKind::Group, 1)].into(),
            sample: vec![
                node(NodeKind::User, "u1", "Ann"),
                node(NodeKind::User, "u3", "u3"),
                node(NodeKind::Group, "g1", "Admins"),
            ],
            ..Affected::default()
        };
        r.findings.push(f);
        r.member_sets.insert(key, pivot);
        r
    }

    #[test]
    fn a_set_names_another_set_once_and_reads_back_with_its_resolved_key() {
        let r = with_pivot();
        let v = serde_json::to_value(&r).unwrap();
        // The named set is written before the set naming it, each once.
        let sets = v["member_sets"].as_array().unwrap();
        assert_eq!(sets.len(), 2, "{v:#}");
        assert_eq!(v["findings"][2]["member_set"], 1);
        let u2 = v["nodes"].as_array().unwrap().iter().position(|n| n["id"] == "u2").unwrap();
        assert_eq!(sets[1]["refs"], serde_json::json!([{"set": 0, "escalating": true, "except": [u2]}]));
        assert_eq!(sets[1]["members"].as_array().unwrap().len(), 2, "only its own members are listed");
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r, "the refs, their exceptions, the resolved key and sample read back");
        let resolved = back.members_of(&back.findings[2]).unwrap();
        let ids: Vec<&str> = resolved.all_ids().collect();
        assert_eq!(ids, ["u1", "u3", "g1"]);
        assert_eq!(resolved.bits_of("u1"), MemberSet::ESCALATES);
    }

    #[test]
    fn a_ref_that_dangles_or_names_a_set_with_refs_is_an_error_naming_it() {
        let v = serde_json::to_value(with_pivot()).unwrap();
        let mut dangling = v.clone();
        dangling["member_sets"][1]["refs"][0]["set"] = 7.into();
        let err = serde_json::from_value::<Report>(dangling).unwrap_err().to_string();
        assert!(err.contains("member_sets[1].refs[0].set: 7 is not an index of the report's `member_sets`"), "{err}");
        let mut nested = v.clone();
        nested["member_sets"][1]["refs"][0]["set"] = 1.into();
        let err = serde_json::from_value::<Report>(nested).unwrap_err().to_string();
        assert!(err.contains("member_sets[1].refs[0].set: 1 names a member set that names others"), "{err}");
        let mut except = v;
        except["member_sets"][1]["refs"][0]["except"] = serde_json::json!([40]);
        let err = serde_json::from_value::<Report>(except).unwrap_err().to_string();
        assert!(err.contains("member_sets[1].refs[0].except[0]: 40 is not an index of the report's `nodes`"), "{err}");
    }
}
