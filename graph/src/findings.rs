//! Findings: escalation paths with evidence, ready for the renderers. This is the JSON report's model.

use serde::{Deserialize, Serialize};

use crate::model::{EdgeKind, NodeKind, Severity};
use crate::snapshot::CoverageGap;

/// Version of the JSON report format. Bump on any incompatible change.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

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

/// A query that was run, described once per report (findings refer to it by id).
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
    /// What could not be collected.
    pub coverage: Vec<CoverageNote>,
    /// What the analysis could not resolve (unknown role definitions, …).
    pub warnings: Vec<String>,
}
