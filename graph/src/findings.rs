//! Findings: escalation paths with evidence, and posture findings (configuration facts), ready for the
//! renderers. This is the JSON report's model.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

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
/// 6: a member set may name other sets (`refs`) whose members are its members too, each with the flags of the
/// way from that set's principal: a pivot's members (a scope's identities hub, a cluster's admin) are the
/// members of the groups in its tree, listed once in those groups' sets, not again per pivot.
pub const REPORT_SCHEMA_VERSION: u32 = 6;

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
    /// The key of the change that removes this step (a role assignment, membership, ownership, federated
    /// credential, binding, …): the `id` a choke point has when it ranks as one. Set on the report's findings;
    /// absent for a step no change to one object removes, and on the hops of `azpath paths` and the per-pair
    /// search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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

/// A node a report's sets list, shared: each node's [`NodeRef`] is allocated once however many member sets,
/// target lists and exclusions name it.
pub type SharedNode = Arc<NodeRef>;

/// The first `SAMPLE` nodes of a sorted list, with names.
fn sample_of(nodes: &[SharedNode]) -> Vec<NodeRef> {
    nodes.iter().take(SAMPLE).map(|n| NodeRef::clone(n)).collect()
}

/// Nodes sorted by kind, then id, as runs of one kind.
fn kind_runs(nodes: &[SharedNode]) -> impl Iterator<Item = (NodeKind, &[SharedNode])> {
    nodes.chunk_by(|a, b| a.kind == b.kind).map(|run| (run[0].kind, run))
}

/// The nodes of one kind in a list sorted by kind, then id.
fn of_kind(nodes: &[SharedNode], kind: NodeKind) -> &[SharedNode] {
    let from = nodes.partition_point(|n| n.kind < kind);
    let to = from + nodes[from..].partition_point(|n| n.kind == kind);
    &nodes[from..to]
}

/// A sorted node list written as `{kind: [id, …]}` (the JSON shape `ids` had before nodes were shared).
struct IdsByKind<'a>(&'a [SharedNode]);

impl Serialize for IdsByKind<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (kind, run) in kind_runs(self.0) {
            let ids: Vec<&str> = run.iter().map(|n| n.id.as_str()).collect();
            map.serialize_entry(&kind, &ids)?;
        }
        map.end()
    }
}

/// A set of principals or targets: counted by kind, listed whole, a few named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// How many.
    pub count: usize,
    /// How many of each kind.
    pub by_kind: BTreeMap<NodeKind, usize>,
    /// The first few, with names (sorted by kind, then id).
    pub sample: Vec<NodeRef>,
    /// Every node, sorted by kind, then id, each shared with the report's other sets (a finding's `members`
    /// leave it empty: its member set lists them).
    pub nodes: Vec<SharedNode>,
}

impl Affected {
    /// The set of `nodes` (sorted by kind, then id, and without repeats here): counts, sample and list.
    pub fn of(mut nodes: Vec<SharedNode>) -> Affected {
        nodes.sort_unstable_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.id.cmp(&b.id)));
        nodes.dedup_by(|a, b| a.kind == b.kind && a.id == b.id);
        Affected {
            count: nodes.len(),
            by_kind: kind_runs(&nodes).map(|(k, run)| (k, run.len())).collect(),
            sample: sample_of(&nodes),
            nodes,
        }
    }

    /// Every id, whatever its kind, by kind, then id.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.id.as_str())
    }

    /// The nodes of one kind, by id.
    pub fn of_kind(&self, kind: NodeKind) -> &[SharedNode] {
        of_kind(&self.nodes, kind)
    }

    /// The nodes as runs of one kind, by kind.
    pub fn by_kind_runs(&self) -> impl Iterator<Item = (NodeKind, &[SharedNode])> {
        kind_runs(&self.nodes)
    }
}

// [`Affected`] as JSON (diffs write findings whole): `ids` by kind, the schema's description its own.
/// A set of principals or targets: counted by kind, listed whole, a few named.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Affected")]
struct AffectedJson<'a> {
    /// How many.
    count: usize,
    /// How many of each kind.
    #[schemars(extend("propertyNames" = {"$ref": "#/$defs/NodeKind"}))]
    by_kind: &'a BTreeMap<NodeKind, usize>,
    /// The first few, with names (sorted by kind, then id).
    sample: &'a [NodeRef],
    /// Every id, by kind, sorted.
    #[schemars(extend("propertyNames" = {"$ref": "#/$defs/NodeKind"}))]
    #[schemars(with = "BTreeMap<NodeKind, Vec<String>>")]
    ids: IdsByKind<'a>,
}

impl Serialize for Affected {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AffectedJson { count: self.count, by_kind: &self.by_kind, sample: &self.sample, ids: IdsByKind(&self.nodes) }
            .serialize(s)
    }
}

impl schemars::JsonSchema for Affected {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Affected".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        AffectedJson::json_schema(generator)
    }
}

/// What one finding gives in one tier (query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty", serialize_with = "id_pairs")]
    #[schemars(with = "Vec<[String; 2]>")]
    pub excluded: Vec<[SharedNode; 2]>,
}

/// One path core: the chain of grants from the principal that holds it to where the power holds, reported
/// once however many members inherit it and however many scopes lie below. The pairs it implies, per tier,
/// are every principal of the tier's source kinds among `principal` and `members` times every target, but a
/// principal never pairs with itself, minus `excluded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// The members of one or more findings' principal, listed once: its own members, then the members of the
/// sets it names in `refs` (see [`Report::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSet {
    /// Its own members, sorted by kind, then id, each shared with the report's other sets.
    pub members: Vec<SharedNode>,
    /// Per member (same order): [`MemberSet::ESCALATES`], [`MemberSet::ELIGIBLE`], [`MemberSet::CONDITIONAL`].
    pub bits: Vec<u8>,
    /// Other sets of the report whose members are members of this one too, with the bits of the way from
    /// that set's principal added to theirs; a member listed in `members` or an earlier ref keeps those bits.
    /// A named set names none itself.
    pub refs: Vec<SetRef>,
}

/// A member set named by another: its members are the other's too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetRef {
    /// The named set's key in [`Report::member_sets`].
    pub key: String,
    /// Bits added to each of its members' (the way from its principal to the naming set's principal).
    pub bits: u8,
    /// Its members that are not members of the naming set (past a hop limit there, say), sorted by kind,
    /// then id.
    pub except: Vec<SharedNode>,
}

impl SetRef {
    /// The members of `named` (the set this ref names) it takes, with its bits added: all but the excepted.
    pub fn entries<'a>(&'a self, named: &'a MemberSet) -> impl Iterator<Item = (&'a SharedNode, u8)> + 'a {
        let kept = |(n, _): &(&SharedNode, u8)| {
            self.except.is_empty()
                || self.except.binary_search_by(|x| x.kind.cmp(&n.kind).then_with(|| x.id.cmp(&n.id))).is_err()
        };
        named.iter().filter(kept).map(|(n, b)| (n, b | self.bits))
    }
}

impl MemberSet {
    /// The member gets to the principal by a step that is not a membership (owning the group, becoming a
    /// cluster's admin): it gains the power rather than holds it.
    pub const ESCALATES: u8 = 1;
    /// The member's way to the principal needs a PIM activation; its pairs are eligible too.
    pub const ELIGIBLE: u8 = 2;
    /// The member's way to the principal rests on a partly understood condition.
    pub const CONDITIONAL: u8 = 4;

    /// The set of `members`, each with its bits (sorted here by kind, then id; a member listed twice keeps its
    /// first bits).
    pub fn of(mut members: Vec<(SharedNode, u8)>) -> MemberSet {
        members.sort_by(|(a, _), (b, _)| a.kind.cmp(&b.kind).then_with(|| a.id.cmp(&b.id)));
        members.dedup_by(|(a, _), (b, _)| a.kind == b.kind && a.id == b.id);
        let (members, bits) = members.into_iter().unzip();
        MemberSet { members, bits, refs: Vec::new() }
    }

    /// The set of `members`, already sorted by kind, then id (a member listed twice keeps its first bits).
    pub(crate) fn sorted(mut members: Vec<(SharedNode, u8)>) -> MemberSet {
        debug_assert!(members.is_sorted_by(|(a, _), (b, _)| (a.kind, &a.id) <= (b.kind, &b.id)));
        members.dedup_by(|(a, _), (b, _)| a.kind == b.kind && a.id == b.id);
        let (members, bits) = members.into_iter().unzip();
        MemberSet { members, bits, refs: Vec::new() }
    }

    /// Every member id, by kind, then id.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|n| n.id.as_str())
    }

    /// The members of one kind, by id.
    pub fn of_kind(&self, kind: NodeKind) -> &[SharedNode] {
        of_kind(&self.members, kind)
    }

    /// The members as runs of one kind, by kind.
    pub fn by_kind_runs(&self) -> impl Iterator<Item = (NodeKind, &[SharedNode])> {
        kind_runs(&self.members)
    }

    /// Each member with its bits.
    pub fn iter(&self) -> impl Iterator<Item = (&SharedNode, u8)> {
        self.members.iter().zip(self.bits.iter().copied())
    }

    /// The members that escalate into the principal (see [`MemberSet::ESCALATES`]).
    pub fn escalating(&self) -> impl Iterator<Item = &SharedNode> {
        self.iter().filter(|(_, b)| b & Self::ESCALATES != 0).map(|(n, _)| n)
    }

    /// Whether some member escalates.
    pub fn any_escalating(&self) -> bool {
        self.bits.iter().any(|b| b & Self::ESCALATES != 0)
    }

    /// The bits of the member with this id (0 when it is not one).
    pub fn bits_of(&self, id: &str) -> u8 {
        let mut from = 0;
        for (_, run) in self.by_kind_runs() {
            if let Ok(i) = run.binary_search_by(|n| n.id.as_str().cmp(id)) {
                return self.bits[from + i];
            }
            from += run.len();
        }
        0
    }

    /// [eligible, conditional] of the member with this id.
    pub fn flags_of(&self, id: &str) -> [bool; 2] {
        let b = self.bits_of(id);
        [b & Self::ELIGIBLE != 0, b & Self::CONDITIONAL != 0]
    }

    /// The set's key in [`Report::member_sets`]: a 128-bit hash of its members' kinds, ids and bits, never
    /// names, so equal sets share a key. The sum of each member's part ([`MemberSet::key_part`]), so it can be
    /// had from each member's hash alone, before the set is made (a large tenant's sets hold tens of millions
    /// of members between them, and many lists give a set already made).
    /// A set with `refs` has the key of its resolved set ([`Report::resolve`]), not this one's.
    pub fn key(&self) -> String {
        debug_assert!(self.refs.is_empty(), "the key of a set with refs is its resolved set's");
        let sum = self
            .iter()
            .fold(0u128, |acc, (n, bits)| acc.wrapping_add(Self::key_part(Self::node_hash(n.kind, &n.id), bits)));
        Self::key_of(sum, self.members.len())
    }

    /// A node's hash for [`MemberSet::key`]: FNV-1a's 128-bit prime and offset over 64-bit words, its id's length
    /// and kind, then its id zero-padded to whole words (the length keeps two ids' words apart).
    pub(crate) fn node_hash(kind: NodeKind, id: &str) -> u128 {
        const PRIME: u128 = 0x0000000001000000000000000000013b;
        let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
        let mut word = |w: u64| h = (h ^ u128::from(w)).wrapping_mul(PRIME);
        let id = id.as_bytes();
        word((id.len() as u64) << 8 | u64::from(kind as u8));
        for chunk in id.chunks(8) {
            let mut padded = [0u8; 8];
            padded[..chunk.len()].copy_from_slice(chunk);
            word(u64::from_le_bytes(padded));
        }
        h
    }

    /// A member's part of its set's key: its node's hash with its bits, mixed so that sums of parts do not
    /// cancel (FNV's low bits depend on the low bits alone: each multiplication is followed by folding the
    /// high half in).
    pub(crate) fn key_part(node: u128, bits: u8) -> u128 {
        const M1: u128 = 0x9e3779b97f4a7c15_f39cc0605cedc835;
        const M2: u128 = 0xd6e8feb86659fd93_2545f4914f6cdd1d;
        let mut x = node ^ (u128::from(bits) + 1).wrapping_mul(M2);
        x ^= x >> 64;
        x = x.wrapping_mul(M1);
        x ^= x >> 64;
        x = x.wrapping_mul(M2);
        x ^ (x >> 64)
    }

    /// The key of a set of `count` members whose parts sum to `sum`.
    pub(crate) fn key_of(sum: u128, count: usize) -> String {
        let h = Self::key_part(sum ^ count as u128, 0);
        format!("{h:032x}")
    }
}

/// [`MemberSet`] as JSON (`ids` by kind, escalating ids, flags by id), as tests and `resolved` views read it.
#[derive(Serialize)]
struct MemberSetJson<'a> {
    ids: IdsByKind<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    escalating: Vec<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    flags: BTreeMap<&'a str, [bool; 2]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refs: Vec<(&'a str, u8, usize)>,
}

impl Serialize for MemberSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut escalating: Vec<&str> = self.escalating().map(|n| n.id.as_str()).collect();
        escalating.sort_unstable();
        let flags = self
            .iter()
            .filter(|(_, b)| b & (Self::ELIGIBLE | Self::CONDITIONAL) != 0)
            .map(|(n, b)| (n.id.as_str(), [b & Self::ELIGIBLE != 0, b & Self::CONDITIONAL != 0]))
            .collect();
        let refs = self.refs.iter().map(|r| (r.key.as_str(), r.bits, r.except.len())).collect();
        MemberSetJson { ids: IdsByKind(&self.members), escalating, flags, refs }.serialize(s)
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

/// [`fingerprint`] fed part by part, each part from pieces (no part joined into a `String` first).
#[derive(Debug, Clone, Copy)]
pub struct Fingerprint {
    h: u128,
    parts: usize,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint { h: 0x6c62272e07bb014262b821756295c58d, parts: 0 }
    }
}

impl Fingerprint {
    fn bytes(&mut self, b: &[u8]) {
        for x in b {
            self.h ^= u128::from(*x);
            self.h = self.h.wrapping_mul(0x0000000001000000000000000000013b);
        }
    }

    /// One part: `pieces` concatenated.
    pub fn part(&mut self, pieces: &[&[u8]]) {
        if self.parts > 0 {
            self.bytes(b"\0");
        }
        self.parts += 1;
        for p in pieces {
            self.bytes(p);
        }
    }

    /// As hex, as [`fingerprint`] gives it.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.h)
    }
}

/// Excluded pairs written as (principal id, target id).
fn id_pairs<S: Serializer>(pairs: &[[SharedNode; 2]], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(pairs.iter().map(|[p, t]| [p.id.as_str(), t.id.as_str()]))
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
        self.for_each_implied_in(&mut |f, set, pair| {
            let [e, c] = set.map(|s| s.flags_of(&pair.source)).unwrap_or_default();
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

    /// The members of a finding's principal, its set's `refs` resolved.
    pub fn members_of(&self, f: &Finding) -> Option<Cow<'_, MemberSet>> {
        f.member_set.as_ref().and_then(|k| self.member_sets.get(k)).map(|s| self.resolve(s))
    }

    /// `set` with the members of the sets it names ([`MemberSet::refs`]): its own members, then each named
    /// set's but those the ref excepts, with the ref's bits added, a member listed twice keeping its first bits;
    /// sorted by kind, then id.
    pub fn resolve<'a>(&'a self, set: &'a MemberSet) -> Cow<'a, MemberSet> {
        if set.refs.is_empty() {
            return Cow::Borrowed(set);
        }
        Cow::Owned(MemberSet::of(self.entries(set).map(|(n, bits)| (n.clone(), bits)).collect()))
    }

    /// `set`'s members as [`Report::resolve`] reads them, unsorted and with repeats (the first of a member's
    /// entries is its own): its own, then each named set's but those the ref excepts, with the ref's bits. A ref to no set of the report
    /// gives nothing (reading a report refuses one).
    pub fn entries<'a>(&'a self, set: &'a MemberSet) -> impl Iterator<Item = (&'a SharedNode, u8)> + 'a {
        let named = set.refs.iter().filter_map(|r| Some((r, self.member_sets.get(&r.key)?)));
        set.iter().chain(named.flat_map(|(r, named)| r.entries(named)))
    }

    /// The keys of the sets findings name and of the sets those name: what [`Report::member_sets`] must hold.
    pub fn needed_sets(&self) -> std::collections::BTreeSet<&String> {
        let named = self.findings.iter().filter_map(|f| f.member_set.as_ref());
        let mut keys: std::collections::BTreeSet<&String> = named.collect();
        let refs: Vec<&String> =
            keys.iter().filter_map(|k| self.member_sets.get(*k)).flat_map(|s| s.refs.iter().map(|r| &r.key)).collect();
        keys.extend(refs);
        keys
    }

    /// Calls `each` with every (finding, pair it implies); a pair implied by several findings comes once per
    /// finding.
    pub fn for_each_implied(&self, each: &mut dyn FnMut(&Finding, ImpliedPair)) {
        self.for_each_implied_in(&mut |f, _, pair| each(f, pair));
    }

    /// [`Report::for_each_implied`], with each finding's resolved member set.
    fn for_each_implied_in(&self, each: &mut dyn FnMut(&Finding, Option<&MemberSet>, ImpliedPair)) {
        for f in &self.findings {
            let set = self.members_of(f);
            for t in &f.tiers {
                let Some(q) = self.queries.iter().find(|q| q.id == t.query_id) else { continue };
                let head = q.sources.contains(&f.principal.kind).then_some(f.principal.id.as_str());
                let members = q.sources.iter().flat_map(|k| set.as_deref().map_or(&[][..], |s| s.of_kind(*k)));
                for p in head.into_iter().chain(members.map(|n| n.id.as_str())) {
                    for target in t.targets.all_ids() {
                        if p == target || t.excluded.iter().any(|[a, b]| a.id == p && b.id == target) {
                            continue;
                        }
                        let pair =
                            ImpliedPair { query_id: t.query_id.clone(), source: p.into(), target: target.into() };
                        each(f, set.as_deref(), pair);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(kind: NodeKind, id: &str) -> SharedNode {
        Arc::new(NodeRef { kind, id: id.into(), display_name: id.into() })
    }

    #[test]
    fn a_member_sets_key_is_its_members_kinds_ids_and_bits() {
        let set = MemberSet::of(vec![
            (shared(NodeKind::User, "u2"), MemberSet::ESCALATES | MemberSet::CONDITIONAL),
            (shared(NodeKind::Group, "g9"), 0),
            (shared(NodeKind::User, "u1"), MemberSet::ELIGIBLE),
            (shared(NodeKind::ServicePrincipal, "a0"), MemberSet::ESCALATES),
        ]);
        // Sorted by kind, then id; bits follow their members.
        let ids: Vec<&str> = set.all_ids().collect();
        assert_eq!(ids, ["u1", "u2", "g9", "a0"]);
        assert_eq!(set.bits_of("u2"), MemberSet::ESCALATES | MemberSet::CONDITIONAL);
        assert_eq!(set.flags_of("u1"), [true, false]);
        assert_eq!(set.bits_of("nobody"), 0);
        // Equal sets share a key, whatever order they were given in; any other id, kind or bits gives another.
        let key = set.key();
        assert_eq!(key.len(), 32);
        let mut again = vec![
            (shared(NodeKind::ServicePrincipal, "a0"), MemberSet::ESCALATES),
            (shared(NodeKind::User, "u1"), MemberSet::ELIGIBLE),
            (shared(NodeKind::Group, "g9"), 0),
            (shared(NodeKind::User, "u2"), MemberSet::ESCALATES | MemberSet::CONDITIONAL),
        ];
        assert_eq!(MemberSet::of(again.clone()).key(), key);
        let others = [
            (2, shared(NodeKind::Group, "g8"), 0),
            (2, shared(NodeKind::ServicePrincipal, "g9"), 0),
            (2, shared(NodeKind::Group, "g9"), MemberSet::ELIGIBLE),
            (1, shared(NodeKind::User, "u1"), 0),
            (0, shared(NodeKind::ServicePrincipal, "a0\0"), MemberSet::ESCALATES),
            (0, shared(NodeKind::ServicePrincipal, "a0a0a0a0a0"), MemberSet::ESCALATES),
        ];
        let mut keys = std::collections::BTreeSet::from([key.clone()]);
        for (i, node, bits) in others {
            let old = std::mem::replace(&mut again[i], (node, bits));
            assert!(keys.insert(MemberSet::of(again.clone()).key()), "{:?} changes the key", again[i]);
            again[i] = old;
        }
        again.pop();
        assert!(keys.insert(MemberSet::of(again).key()), "a member fewer changes the key");
    }

    #[test]
    fn affected_sorts_counts_and_samples_shared_nodes() {
        let nodes: Vec<SharedNode> = (0..8).rev().map(|i| shared(NodeKind::Subscription, &format!("/s/{i}"))).collect();
        let mut all = nodes.clone();
        all.push(shared(NodeKind::ResourceGroup, "/s/0/rg"));
        all.push(nodes[0].clone());
        let a = Affected::of(all);
        assert_eq!(a.count, 9);
        assert_eq!(a.by_kind, [(NodeKind::Subscription, 8), (NodeKind::ResourceGroup, 1)].into());
        assert_eq!(a.of_kind(NodeKind::ResourceGroup).len(), 1);
        assert_eq!(a.sample.len(), SAMPLE);
        assert_eq!(a.sample[0].id, "/s/0");
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["ids"]["ResourceGroup"], serde_json::json!(["/s/0/rg"]));
        assert_eq!(json["ids"]["Subscription"][7], "/s/7");
    }

    #[test]
    fn a_set_with_refs_is_its_own_members_then_each_named_sets_but_the_excepted() {
        let (u1, u2, u3, g) = (
            shared(NodeKind::User, "u1"),
            shared(NodeKind::User, "u2"),
            shared(NodeKind::User, "u3"),
            shared(NodeKind::Group, "g"),
        );
        let a = MemberSet::of(vec![(u1.clone(), 0), (u2.clone(), MemberSet::ELIGIBLE)]);
        let b = MemberSet::of(vec![(u1.clone(), MemberSet::CONDITIONAL), (u3.clone(), 0)]);
        let (ka, kb) = (a.key(), b.key());
        let set = MemberSet {
            refs: vec![
                SetRef { key: ka.clone(), bits: MemberSet::ESCALATES, except: vec![u2.clone()] },
                SetRef { key: kb.clone(), bits: 0, except: vec![] },
            ],
            ..MemberSet::of(vec![(g.clone(), MemberSet::ESCALATES), (u3.clone(), MemberSet::ELIGIBLE)])
        };
        let mut report = Report { member_sets: [(ka.clone(), a), (kb.clone(), b)].into(), ..Report::default() };
        let resolved = report.resolve(&set).into_owned();
        // Own first (u3 keeps its own bits over b's), then a's but the excepted u2 (u1 from a, not b), then b's.
        let expected = MemberSet::of(vec![
            (u1.clone(), MemberSet::ESCALATES),
            (u3.clone(), MemberSet::ELIGIBLE),
            (g.clone(), MemberSet::ESCALATES),
        ]);
        assert_eq!(resolved, expected);
        assert_eq!(report.entries(&set).count(), 5, "every entry, repeats included, but the excepted one");
        // A set without refs resolves to itself, borrowed.
        assert!(matches!(report.resolve(&report.member_sets[&kb]), Cow::Borrowed(_)));
        // What must be kept: the sets findings name and the sets those name.
        report.member_sets.insert("p".into(), set);
        report.findings = vec![Finding {
            id: "f".into(),
            reach: Reach::Escalation,
            severity: Severity::High,
            principal: NodeRef::clone(&g),
            scope: NodeRef::clone(&g),
            hops: vec![],
            eligible: false,
            conditional: false,
            members: Affected::default(),
            member_set: Some("p".into()),
            tiers: vec![],
            fix: String::new(),
            remediation: Remediation { summary: String::new(), command: None },
        }];
        let needed: Vec<&str> = report.needed_sets().into_iter().map(String::as_str).collect();
        let mut want = vec!["p", ka.as_str(), kb.as_str()];
        want.sort();
        assert_eq!(needed, want);
        report.findings[0].member_set = Some(ka.clone());
        assert_eq!(report.needed_sets().len(), 1, "a set no finding names, nor a named set, is not needed");
    }
}
