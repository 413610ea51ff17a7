//! Findings: escalation paths with evidence, and posture findings (configuration facts), ready for the
//! renderers. This is the JSON report's model.

use serde::{Deserialize, Serialize};

use crate::model::{EdgeKind, NodeKind, Severity};
use crate::snapshot::CoverageGap;

/// Version of the JSON report format. Bump on any incompatible change.
///
/// 2: adds `posture_checks` and `posture` (a version 1 report still reads, with both empty).
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// A node as shown in findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeRef {
    /// Node kind.
    pub kind: NodeKind,
    /// Stable id: Entra object id, or lower-cased ARM resource id (`/` for the tenant root).
    pub id: String,
    /// Human name (falls back to the id).
    pub display_name: String,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// One escalation path answering one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    /// What to do, in one sentence.
    pub summary: String,
    /// Command that applies it (`az role assignment delete --ids …`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// A query or posture check that was run, described once per report (findings refer to it by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A coverage gap with what it may hide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageNote {
    /// The gap as recorded in the snapshot.
    #[serde(flatten)]
    pub gap: CoverageGap,
    /// Which conclusions it may hide.
    pub may_hide: String,
}

/// An object a posture finding is about: an ARM resource, a Kubernetes object, an Entra object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The whole analysis result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// azpath version.
    pub tool_version: String,
    /// When the analyzed snapshot was collected.
    pub collected_at: String,
    /// Queries that were run.
    pub queries: Vec<QueryInfo>,
    /// Findings, sorted by severity (highest first), query id, target id, source id.
    pub findings: Vec<Finding>,
    /// Posture checks that were run.
    #[serde(default)]
    pub posture_checks: Vec<QueryInfo>,
    /// Posture findings, sorted by severity (highest first), check id, resource id.
    #[serde(default)]
    pub posture: Vec<PostureFinding>,
    /// What could not be collected.
    pub coverage: Vec<CoverageNote>,
    /// What the analysis could not resolve (unknown role definitions, …).
    pub warnings: Vec<String>,
}
