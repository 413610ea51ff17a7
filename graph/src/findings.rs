//! Findings: escalation paths with evidence, and posture findings (configuration facts), ready for the
//! renderers. This is the JSON report's model.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{EdgeKind, NodeKind, Severity};
use crate::snapshot::CoverageGap;

/// Version of the JSON report format. Bump on any incompatible change.
///
/// 2: adds `posture_checks` and `posture`.
/// 3: findings are path cores (where a grant is fixed) with their affected principals and targets; adds
/// `tiers` (exposure), `choke_points` and the verified `plan`; per-pair findings move to `pairs` (only with
/// `--expand`).
/// 4: every node once in `nodes`, every step once in `edges`, target lists in `target_sets`, member sets as a
/// list; findings and pairs refer to them by index ([`wire`]).
/// 5: `pairs` (`--expand`) are derived from the findings: each names its query, source and target ids, the finding
/// that explains it and its flags ([`crate::expand::ExpandedPair`], as a `--format ndjson` line), no path.
pub const REPORT_SCHEMA_VERSION: u32 = 5;

mod wire;

pub use wire::WireError;

/// How many members or targets a finding names in its `sample` (the first ones, by kind then id).
pub const SAMPLE: usize = 5;

/// A node as shown in findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeRef {
    /// Node kind.
    pub kind: NodeKind,
    /// Stable id: Entra object id, or lower-cased ARM resource id (`/` for the tenant root).
    pub id: String,
    /// Human name (falls back to the id).
    pub display_name: String,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hop {
    /// Where the step starts.
    pub from: NodeRef,
    /// Where it ends.
    pub to: NodeRef,
    /// What the step is.
    pub edge: EdgeKind,
    /// Short label for pictures and tables (`Owner`, `member of`, `contains`).
    pub label: String,
    /// Ids of the objects that justify it (role assignment id, role definition id, group id, …).
    pub evidence: Vec<String>,
    /// One-sentence explanation.
    pub detail: String,
    /// The step needs a PIM activation.
    pub eligible: bool,
    /// The step rests on a condition azpath could not fully evaluate.
    pub conditional: bool,
}

/// One (principal, target) pair answering one query, with its best path: what `--expand` lists and
/// `azpath paths` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pair {
    /// Query id (kebab-case, the query file stem).
    pub query_id: String,
    /// Query title.
    pub title: String,
    /// Severity of the query.
    pub severity: Severity,
    /// Who escalates.
    pub source: NodeRef,
    /// What they reach.
    pub target: NodeRef,
    /// Capabilities held at the target at the end of the path (`assign-roles`, `write-everything`, …).
    pub capabilities: Vec<String>,
    /// The path, source first.
    pub hops: Vec<Hop>,
    /// Some hop needs a PIM (JIT) activation.
    pub eligible: bool,
    /// Some hop rests on a condition that was not fully understood.
    pub conditional: bool,
    /// What to change to cut the path, with the command to do it.
    pub remediation: Remediation,
}

/// The least-collateral cut for a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Remediation {
    /// What to do, in one sentence.
    pub summary: String,
    /// Command that applies it (`az role assignment delete --ids …`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// A query or posture check that was run, described once per report (findings refer to it by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QueryInfo {
    /// Query id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Severity of its findings.
    pub severity: Severity,
    /// What it asks and why it matters.
    pub description: String,
    /// General guidance on fixing its findings.
    pub remediation: String,
    /// Links.
    pub references: Vec<String>,
    /// Principal kinds it reports (a finding's principals of other kinds are not part of its pairs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<NodeKind>,
}

/// A coverage gap with what it may hide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CoverageNote {
    /// The gap as recorded in the snapshot.
    #[serde(flatten)]
    pub gap: CoverageGap,
    /// Which conclusions it may hide.
    pub may_hide: String,
}

/// An object a posture finding is about: an ARM resource, a Kubernetes object, an Entra object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceRef {
    /// `ManagedCluster`, `Secret`, `ClusterRoleBinding`, `CustomResourceDefinition`, `Deployment`,
    /// `ServiceAccount`, `Application`, `ServicePrincipal`, `RoleAssignment`, `Subscription`.
    pub kind: String,
    /// Stable id: lower-cased ARM id; `<cluster id>/k8s/<path>` for a Kubernetes object; Entra object id.
    pub id: String,
    /// Human name.
    pub display_name: String,
}

/// A configuration fact that weakens identity or access control (not a path): one resource failing one
/// posture check. A check reports a resource at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PostureFinding {
    /// Stable check id (`AZP-AKS-001`).
    pub check_id: String,
    /// Check title.
    pub title: String,
    /// Severity of this finding (the check's, raised for worse cases).
    pub severity: Severity,
    /// What fails the check.
    pub resource: ResourceRef,
    /// What is wrong here and why it matters, in a sentence or two.
    pub detail: String,
    /// The settings and objects read (`properties.disableLocalAccounts = false`, key names, binding names).
    pub evidence: Vec<String>,
    /// How to fix it, with the command.
    pub remediation: Remediation,
}

/// Whether a finding's principal holds the power or gains it by a step that is not a grant of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Gained through control of another identity, a federated credential, Kubernetes, ASO, a Secret, …:
    /// reported first everywhere.
    Escalation,
    /// Held through a role assignment (directly, through groups, inherited, PIM-eligible) or an AKS admin
    /// grant: the least-privilege review.
    Standing,
}

impl Reach {
    /// `escalation` / `standing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Escalation => "escalation",
            Reach::Standing => "standing",
        }
    }
}

/// A set of principals or targets: counted by kind, listed whole, a few named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Affected {
    /// How many.
    pub count: usize,
    /// How many of each kind.
    #[schemars(extend("propertyNames" = {"$ref": "#/$defs/NodeKind"}))]
    pub by_kind: BTreeMap<NodeKind, usize>,
    /// The first few, with names (sorted by kind, then id).
    pub sample: Vec<NodeRef>,
    /// Every id, by kind, sorted.
    #[schemars(extend("propertyNames" = {"$ref": "#/$defs/NodeKind"}))]
    pub ids: BTreeMap<NodeKind, Vec<String>>,
    /// Display names of the ids that have one other than the id (the JSON report's node table carries them).
    #[serde(skip)]
    #[schemars(skip)]
    pub names: BTreeMap<String, String>,
}

impl Affected {
    /// Every id, whatever its kind.
    pub fn all_ids(&self) -> impl Iterator<Item = &String> {
        self.ids.values().flatten()
    }
}

/// What one finding gives in one tier (query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TierHit {
    /// Query id.
    pub query_id: String,
    /// Capabilities held at the targets (`assign-roles`, `write-everything`, …); empty for non-scope targets.
    pub capabilities: Vec<String>,
    /// The targets reached: the scope where the power holds and every scope of the query's kinds below it
    /// (or the identities behind a hub).
    pub targets: Affected,
    /// The finding's principals this tier reports: `principal` and `members` of the query's source kinds.
    pub principals: usize,
    /// (principal id, target id) pairs the product leaves out: a deny assignment that applies to that actor
    /// there, or the query's hop limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<[String; 2]>,
}

/// One path core: the chain of grants from the principal that holds it to where the power holds, reported
/// once however many members inherit it and however many scopes lie below. The pairs it implies, per tier,
/// are every principal of the tier's source kinds among `principal` and `members` times every target, but a
/// principal never pairs with itself, minus `excluded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable fingerprint: the tiers' query ids and the grants the core rests on (never names or order).
    pub id: String,
    /// Standing privilege or escalation.
    pub reach: Reach,
    /// The highest severity of its tiers.
    pub severity: Severity,
    /// Where the core starts: the group, service principal, user or Kubernetes subject that holds the chain.
    pub principal: NodeRef,
    /// Where the core lands: the scope of the grant, the hub the targets hang from, or the target.
    pub scope: NodeRef,
    /// The core, hop by hop with evidence, `principal` first (no leading memberships, no trailing `contains`).
    pub hops: Vec<Hop>,
    /// Some hop needs a PIM (JIT) activation.
    pub eligible: bool,
    /// Some hop rests on a condition that was not fully understood.
    pub conditional: bool,
    /// Principals that reach `principal` through group membership alone (nested groups included), or, when
    /// `principal` is a cluster's admin, every principal that becomes it.
    pub members: Affected,
    /// The key of its members in the report's `member_sets` (several findings share one set: a group's
    /// members are listed once however many grants the group holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_set: Option<String>,
    /// The tiers (queries) it answers, highest severity first.
    pub tiers: Vec<TierHit>,
    /// The choke point (fix) this finding's own remediation is (an id in `choke_points`).
    pub fix: String,
    /// The least-collateral cut for this core, with its command.
    pub remediation: Remediation,
}

/// The members of one or more findings' principal, listed once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberSet {
    /// Every member id, by kind, sorted.
    #[schemars(extend("propertyNames" = { "$ref": "#/$defs/NodeKind" }))]
    pub ids: BTreeMap<NodeKind, Vec<String>>,
    /// Members that get to the principal by a step that is not a membership (owning the group, becoming a
    /// cluster's admin): they gain the power rather than hold it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalating: Vec<String>,
    /// Members whose way to the principal needs a PIM activation or rests on a condition: id → [eligible,
    /// conditional]; their pairs carry these flags too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<String, [bool; 2]>,
    /// Display names of the members that have one other than the id (the JSON report's node table carries
    /// them).
    #[serde(skip)]
    #[schemars(skip)]
    pub names: BTreeMap<String, String>,
}

impl MemberSet {
    /// The set's key in [`Report::member_sets`]: a fingerprint of its ids, escalating members and flags
    /// (never names), so equal sets share a key.
    pub fn key(&self) -> String {
        let mut parts: Vec<&str> = self.ids.values().flatten().map(String::as_str).collect();
        parts.push("escalating");
        parts.extend(self.escalating.iter().map(String::as_str));
        let flags: Vec<String> = self.flags.iter().map(|(k, [e, c])| format!("{k}:{e}:{c}")).collect();
        parts.extend(flags.iter().map(String::as_str));
        fingerprint(&parts)
    }
}

/// Share of principals that can reach a tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Exposure {
    /// Users, service principals, managed identities and Kubernetes subjects that reach the tier.
    pub principals: usize,
    /// Of those, how many hold it by a standing grant.
    pub standing: usize,
    /// Of those, how many reach it only by escalation.
    pub escalation: usize,
    /// Users, service principals, managed identities and Kubernetes subjects in the tenant.
    pub population: usize,
    /// Per kind: [reaching, population].
    #[schemars(extend("propertyNames" = {"$ref": "#/$defs/NodeKind"}))]
    pub by_kind: BTreeMap<NodeKind, [usize; 2]>,
}

impl Exposure {
    /// Reaching principals as a percentage of the population.
    pub fn percent(&self) -> f64 {
        if self.population == 0 {
            0.0
        } else {
            100.0 * self.principals as f64 / self.population as f64
        }
    }
}

/// One tier: a query's targets and capabilities, with its exposure before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tier {
    /// Query id.
    pub query_id: String,
    /// Query title.
    pub title: String,
    /// Query severity.
    pub severity: Severity,
    /// Findings of this tier that are escalations.
    pub escalation_findings: usize,
    /// Findings of this tier that are standing grants.
    pub standing_findings: usize,
    /// (principal, target) pairs it reports.
    pub pairs: usize,
    /// Who reaches it today.
    pub exposure: Exposure,
    /// Who still reaches it once the plan is applied (verified by re-running the analysis).
    pub after_plan: Exposure,
    /// Escalation findings left after the plan (0 when the plan cuts every escalation into the tier).
    pub escalations_after_plan: usize,
}

/// What one choke point removes from one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChokeTier {
    /// Query id.
    pub query_id: String,
    /// Principals (users, service principals, managed identities, Kubernetes subjects) that lose every path
    /// into the tier when it is removed.
    pub principals_cut: usize,
    /// (principal, target) pairs whose best path uses it.
    pub pairs: usize,
}

/// A grant that paths rest on (role assignment, membership, ownership, federated credential, binding, …),
/// ranked by what removing it fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChokePoint {
    /// Stable id: what is removed (`role-assignment:<id>`, `member:<group>/<member>`, `owner:<object>/<owner>`,
    /// `federated-credential:<id>`, `binding:<cluster>#<binding>#<subject>`, `edge:<kind>:<from>:<to>` when no object
    /// stands behind the step, …).
    pub id: String,
    /// Standing when removing it takes a held grant away (collateral); escalation when it only cuts a step.
    pub reach: Reach,
    /// What the grant is, in a few words.
    pub what: String,
    /// Principals that lose every path into some tier (the largest over its tiers).
    pub principals_cut: usize,
    /// Standing holders that lose a grant they hold (the cost of the change).
    pub collateral: usize,
    /// Per tier.
    pub tiers: Vec<ChokeTier>,
    /// Findings that rest on it.
    pub findings: Vec<String>,
    /// The change, with its command.
    pub remediation: Remediation,
}

/// The shortest list of changes found that removes every escalation path, applied to the graph and verified
/// by re-running every query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// Choke point ids, in the order to apply them.
    pub steps: Vec<String>,
    /// True when the re-run found no escalation path left in any tier.
    pub verified: bool,
    /// Escalation findings the re-run still found (with the plan applied), by finding id.
    pub remaining: Vec<String>,
}

/// The whole analysis result. In memory every finding names its nodes and hops in full; as JSON (schema 4 and later)
/// each node, step, target list and member set is written once and referred to by index (see [`wire`]), and
/// reading resolves the references again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Always [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// azpath version.
    pub tool_version: String,
    /// When the analyzed snapshot was collected.
    pub collected_at: String,
    /// Queries that were run.
    pub queries: Vec<QueryInfo>,
    /// Per tier (query): exposure before and after the plan, and what was found.
    pub tiers: Vec<Tier>,
    /// Choke points, most principals cut first.
    pub choke_points: Vec<ChokePoint>,
    /// The verified least-privilege plan.
    pub plan: Plan,
    /// Findings (path cores): escalations first, then by severity, principals reached, id.
    pub findings: Vec<Finding>,
    /// Members of the findings' principals, by the key findings name in `member_set`.
    pub member_sets: BTreeMap<String, MemberSet>,
    /// Every (principal, target) pair with the finding its best path rests on and its flags, derived from the
    /// findings ([`crate::expand`]), sorted by severity, query id, target id, source id; only with `--expand`.
    pub pairs: Vec<crate::expand::ExpandedPair>,
    /// Posture checks that were run.
    pub posture_checks: Vec<QueryInfo>,
    /// Posture findings, sorted by severity (highest first), check id, resource id.
    pub posture: Vec<PostureFinding>,
    /// What could not be collected.
    pub coverage: Vec<CoverageNote>,
    /// What the analysis could not resolve (unknown role definitions, …).
    pub warnings: Vec<String>,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::Wire::from_report(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::Wire::deserialize(d)?.into_report().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Report {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Report".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // `--format ndjson` writes the report's pairs, one per line: their shape is published beside the report's.
        generator.subschema_for::<crate::expand::ExpandedPair>();
        wire::Wire::json_schema(generator)
    }
}

/// FNV-1a, 128 bits, as hex, over parts separated by NUL: stable across runs, platforms and Rust versions
/// (std's hasher is not). Finding ids and SARIF fingerprints.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for (i, p) in parts.iter().enumerate() {
        let sep: &[u8] = if i == 0 { b"" } else { b"\0" };
        for b in sep.iter().chain(p.as_bytes()) {
            h ^= u128::from(*b);
            h = h.wrapping_mul(0x0000000001000000000000000000013b);
        }
    }
    format!("{h:032x}")
}

/// One (query, principal, target) pair a report's findings imply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImpliedPair {
    /// Query id.
    pub query_id: String,
    /// Principal id.
    pub source: String,
    /// Target id.
    pub target: String,
}

impl Report {
    /// Every pair the findings imply: per finding and tier, the principal and members of the query's source
    /// kinds times the targets, never a principal with itself, minus the tier's exclusions. With each, the
    /// (needs PIM activation, rests on a partly understood condition) flags of its best finding.
    pub fn implied_pairs(&self) -> BTreeMap<ImpliedPair, (bool, bool)> {
        let mut out: BTreeMap<ImpliedPair, (bool, bool)> = BTreeMap::new();
        self.for_each_implied(&mut |f, pair| {
            let set = self.members_of(f);
            let [e, c] = set.and_then(|s| s.flags.get(&pair.source)).copied().unwrap_or_default();
            let flags = (f.eligible || e, f.conditional || c);
            let best = out.entry(pair).or_insert(flags);
            *best = (*best).min(flags);
        });
        out
    }

    /// The pairs listed in `pairs` (with `--expand`), keyed as [`Report::implied_pairs`] keys them, with their
    /// (eligible, conditional) flags: what the grouped findings must imply.
    pub fn listed_pairs(&self) -> BTreeMap<ImpliedPair, (bool, bool)> {
        self.pairs
            .iter()
            .map(|p| {
                let key =
                    ImpliedPair { query_id: p.query_id.clone(), source: p.source.clone(), target: p.target.clone() };
                (key, (p.eligible, p.conditional))
            })
            .collect()
    }

    /// The members of a finding's principal.
    pub fn members_of(&self, f: &Finding) -> Option<&MemberSet> {
        f.member_set.as_ref().and_then(|k| self.member_sets.get(k))
    }

    /// Calls `each` with every (finding, pair it implies); a pair implied by several findings comes once per
    /// finding.
    pub fn for_each_implied(&self, each: &mut dyn FnMut(&Finding, ImpliedPair)) {
        for f in &self.findings {
            for t in &f.tiers {
                let Some(q) = self.queries.iter().find(|q| q.id == t.query_id) else { continue };
                let head = q.sources.contains(&f.principal.kind).then_some(&f.principal.id);
                let set = self.members_of(f);
                let members = q.sources.iter().filter_map(|k| set.and_then(|s| s.ids.get(k))).flatten();
                for p in head.into_iter().chain(members) {
                    for target in t.targets.all_ids() {
                        if p == target || t.excluded.iter().any(|[a, b]| a == p && b == target) {
                            continue;
                        }
                        each(
                            f,
                            ImpliedPair { query_id: t.query_id.clone(), source: p.clone(), target: target.clone() },
                        );
                    }
                }
            }
        }
    }
}
