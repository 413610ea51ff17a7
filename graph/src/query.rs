//! Queries as data: one escalation question per TOML file (`queries/<id>.toml`). See `queries/README.md`.

use serde::Deserialize;

use crate::model::{EdgeKind, NodeKind, Severity};
use crate::rbac::{Capability, Caps};

/// A query file as written (before validation). Unknown fields are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    id: String,
    title: String,
    severity: String,
    description: String,
    remediation: String,
    #[serde(default)]
    references: Vec<String>,
    #[serde(rename = "match")]
    matcher: MatchFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchFile {
    #[serde(default)]
    sources: Option<Vec<String>>,
    targets: Vec<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    edges: Option<Vec<String>>,
    #[serde(default)]
    exclude_edges: Vec<String>,
    #[serde(default)]
    via: Vec<String>,
    #[serde(default = "default_true")]
    include_eligible: bool,
    #[serde(default = "default_max_hops")]
    max_hops: usize,
}

fn default_true() -> bool {
    true
}

fn default_max_hops() -> usize {
    12
}

/// A validated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Stable kebab-case id (file stem, SARIF rule id).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Severity of every finding.
    pub severity: Severity,
    /// What the question is and why it matters.
    pub description: String,
    /// General guidance on fixing it.
    pub remediation: String,
    /// Links.
    pub references: Vec<String>,
    /// Node kinds reported as sources.
    pub sources: Vec<NodeKind>,
    /// Scope kinds the capability must hold at.
    pub targets: Vec<NodeKind>,
    /// Capabilities that count (any of); empty means any role assignment.
    pub capabilities: Caps,
    /// Edge kinds a path may use.
    pub edges: Vec<EdgeKind>,
    /// When not empty, a path must cross at least one edge of these kinds.
    pub via: Vec<EdgeKind>,
    /// Whether PIM-eligible assignments count.
    pub include_eligible: bool,
    /// Longest path reported.
    pub max_hops: usize,
}

/// A query file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Not valid TOML, a missing field, or an unknown field.
    #[error("{source_name}: {message}")]
    Parse {
        /// File the query came from.
        source_name: String,
        /// The TOML parser's message (names the field and line).
        message: String,
    },
    /// A field has a value azpath does not know.
    #[error("{source_name}: field `{field}`: {message}")]
    Invalid {
        /// File the query came from.
        source_name: String,
        /// Dotted field name (`match.capabilities`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Query {
    /// Parses and validates a query file. `source_name` names the file in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Query, QueryError> {
        let f: QueryFile = toml::from_str(text).map_err(|e| QueryError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        let invalid = |field: &str, message: String| QueryError::Invalid {
            source_name: source_name.to_string(),
            field: field.to_string(),
            message,
        };
        if f.id.is_empty() || !f.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(invalid("id", format!("`{}` is not kebab-case (a-z, 0-9, -)", f.id)));
        }
        let severity = Severity::parse(&f.severity).ok_or_else(|| {
            invalid("severity", format!("`{}` is not one of info, low, medium, high, critical", f.severity))
        })?;
        let kinds = |field: &str, names: &[String], want_scope: bool| -> Result<Vec<NodeKind>, QueryError> {
            names
                .iter()
                .map(|n| {
                    let k = NodeKind::parse(n).ok_or_else(|| invalid(field, format!("unknown node kind `{n}`")))?;
                    if !want_scope && k.is_scope() {
                        return Err(invalid(field, format!("`{n}` is a scope, not something that acts")));
                    }
                    Ok(k)
                })
                .collect()
        };
        let m = &f.matcher;
        let sources = match &m.sources {
            Some(s) => kinds("match.sources", s, false)?,
            None => vec![NodeKind::User, NodeKind::Group, NodeKind::ServicePrincipal, NodeKind::ManagedIdentity],
        };
        let targets = kinds("match.targets", &m.targets, true)?;
        if targets.is_empty() {
            return Err(invalid("match.targets", "at least one target kind is needed".into()));
        }
        let mut capabilities = Caps::EMPTY;
        for c in &m.capabilities {
            capabilities |= Capability::parse(c)
                .ok_or_else(|| invalid("match.capabilities", format!("unknown capability `{c}`")))?
                .bit();
        }
        let edges = match &m.edges {
            Some(e) => e
                .iter()
                .map(|n| EdgeKind::parse(n).ok_or_else(|| invalid("match.edges", format!("unknown edge kind `{n}`"))))
                .collect::<Result<Vec<_>, _>>()?,
            None => EdgeKind::ALL.to_vec(),
        };
        if m.edges.is_some() && !m.exclude_edges.is_empty() {
            return Err(invalid("match.exclude_edges", "give match.edges or match.exclude_edges, not both".into()));
        }
        let mut edges = edges;
        for n in &m.exclude_edges {
            let kind =
                EdgeKind::parse(n).ok_or_else(|| invalid("match.exclude_edges", format!("unknown edge kind `{n}`")))?;
            edges.retain(|e| *e != kind);
        }
        let via = m
            .via
            .iter()
            .map(|n| EdgeKind::parse(n).ok_or_else(|| invalid("match.via", format!("unknown edge kind `{n}`"))))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(v) = via.iter().find(|v| !edges.contains(v)) {
            return Err(invalid("match.via", format!("`{v}` is not in match.edges")));
        }
        if targets.iter().any(|t| t.is_scope()) && !edges.contains(&EdgeKind::HasRole) {
            return Err(invalid("match.edges", "must include HAS_ROLE: power over a scope comes from a role".into()));
        }
        if !capabilities.is_empty() && !targets.iter().all(|t| t.is_scope()) {
            return Err(invalid("match.capabilities", "capabilities apply to scope targets only".into()));
        }
        if m.max_hops == 0 {
            return Err(invalid("match.max_hops", "must be at least 1".into()));
        }
        Ok(Query {
            id: f.id,
            title: f.title,
            severity,
            description: f.description,
            remediation: f.remediation,
            references: f.references,
            sources,
            targets,
            capabilities,
            edges,
            via,
            include_eligible: m.include_eligible,
            max_hops: m.max_hops,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "x-y"
title = "T"
severity = "high"
description = "D"
remediation = "R"
[match]
targets = ["Subscription"]
capabilities = ["assign-roles"]
"#;

    #[test]
    fn parses_with_defaults() {
        let q = Query::parse(GOOD, "x-y.toml").unwrap();
        assert_eq!(q.severity, Severity::High);
        assert_eq!(q.edges, EdgeKind::ALL.to_vec());
        assert!(q.include_eligible);
        assert!(q.capabilities.contains(Capability::AssignRoles));
    }

    #[test]
    fn unknown_field_is_an_error_naming_it() {
        let text = GOOD.replace("[match]", "colour = \"red\"\n[match]");
        let err = Query::parse(&text, "x-y.toml").unwrap_err().to_string();
        assert!(err.starts_with("x-y.toml:") && err.contains("colour"), "{err}");
    }

    #[test]
    fn unknown_capability_names_field_and_value() {
        let text = GOOD.replace("assign-roles", "fly");
        let err = Query::parse(&text, "q.toml").unwrap_err().to_string();
        assert!(err.contains("match.capabilities") && err.contains("fly"), "{err}");
    }

    #[test]
    fn capabilities_on_a_non_scope_target_are_refused() {
        let text = GOOD.replace("[\"Subscription\"]", "[\"KubeClusterAdmin\"]");
        assert!(Query::parse(&text, "q.toml").unwrap_err().to_string().contains("match.capabilities"));
    }

    #[test]
    fn exclude_edges_keeps_every_other_kind() {
        let text = GOOD.replace("[match]", "[match]\nexclude_edges = [\"CONTAINS\"]");
        let q = Query::parse(&text, "q.toml").unwrap();
        assert!(!q.edges.contains(&EdgeKind::Contains));
        assert_eq!(q.edges.len(), EdgeKind::ALL.len() - 1, "new edge kinds are followed without listing them");
        let both = text.replace("[match]", "[match]\nedges = [\"HAS_ROLE\"]");
        assert!(Query::parse(&both, "q.toml").unwrap_err().to_string().contains("match.exclude_edges"));
        let unknown = GOOD.replace("[match]", "[match]\nexclude_edges = [\"TELEPORT\"]");
        assert!(Query::parse(&unknown, "q.toml").unwrap_err().to_string().contains("TELEPORT"));
    }

    #[test]
    fn via_must_name_an_allowed_edge() {
        let text = GOOD.replace("[match]", "[match]\nvia = [\"ASO_ACTS_AS\"]\nedges = [\"HAS_ROLE\"]");
        assert!(Query::parse(&text, "q.toml").unwrap_err().to_string().contains("match.via"));
    }
}
