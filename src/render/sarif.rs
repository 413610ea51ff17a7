//! SARIF 2.1.0 (OASIS), for code-scanning UIs: one rule per query and per posture check, one result per
//! finding, located by logical locations (ARM ids, Kubernetes objects, Entra object ids: there is no file).
//!
//! The types below are the few SARIF objects azpath writes, not a crate: `serde-sarif` (0.8) generates its
//! types at build time from the schema (schemafy, regex and prettyplease as build dependencies, plus strum and
//! typed-builder), took ~28 s to build alone here, and only compiles when another crate enables serde's
//! `derive` feature.
//!
//! `partialFingerprints` hash a finding's identity (query, source, target; or check, resource), the same key
//! `azpath diff` matches on, so a path that changes route but not outcome keeps its alert.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use azpath_graph::findings::{Finding, NodeRef, PostureFinding, QueryInfo, Remediation, Report, ResourceRef};
use azpath_graph::model::Severity;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The `partialFingerprints` key; bump its version if the hashed identity ever changes.
pub const FINGERPRINT_KEY: &str = "azpathFindingHash/v1";

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    invocations: Vec<Invocation>,
    results: Vec<SarifResult>,
    properties: BTreeMap<&'static str, serde_json::Value>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: String,
    semantic_version: String,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Message,
    full_description: Message,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
    precision: &'static str,
    /// GitHub code scanning's numeric severity (critical ≥ 9.0, high ≥ 7.0, medium ≥ 4.0, low > 0).
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: serde_json::Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    logical_locations: Vec<LogicalLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

/// SARIF `level` of a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("3.0"),
        Severity::Info => None,
    }
}

use azpath_graph::findings::fingerprint;

/// The fingerprint of a finding: its id, which hashes its principal, the grants its core rests on and where
/// it lands (never names, order or members).
pub fn path_fingerprint(f: &Finding) -> String {
    f.id.clone()
}

/// The fingerprint of a posture finding: its check and resource.
pub fn posture_fingerprint(f: &PostureFinding) -> String {
    fingerprint(&["posture", &f.check_id, &f.resource.id])
}

/// `DoSomething` from `do-something` or `AZP-AKS-001` plus a title.
fn rule_name(id: &str, title: &str) -> String {
    let source = if id.starts_with("AZP-") { title } else { id };
    source
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn rule(q: &QueryInfo, kind: &'static str) -> Rule {
    let refs = q.references.iter().map(|r| format!("- <{r}>")).collect::<Vec<_>>().join("\n");
    Rule {
        id: q.id.clone(),
        name: rule_name(&q.id, &q.title),
        short_description: Message { text: q.title.clone() },
        full_description: Message { text: q.description.clone() },
        help: Help {
            text: q.remediation.clone(),
            markdown: if refs.is_empty() {
                q.remediation.clone()
            } else {
                format!("{}\n\nReferences:\n{refs}", q.remediation)
            },
        },
        help_uri: q.references.first().cloned(),
        default_configuration: Configuration { level: level(q.severity) },
        properties: RuleProperties {
            tags: vec!["security", kind],
            precision: "high",
            security_severity: security_severity(q.severity),
        },
    }
}

fn fallback_info(id: &str, title: &str, severity: Severity) -> QueryInfo {
    QueryInfo {
        id: id.to_string(),
        title: title.to_string(),
        severity,
        description: title.to_string(),
        remediation: String::new(),
        references: Vec::new(),
        sources: Vec::new(),
    }
}

fn logical(id: &str, name: &str) -> LogicalLocation {
    LogicalLocation { name: name.to_string(), fully_qualified_name: id.to_string(), kind: "resource" }
}

fn node_location(n: &NodeRef, id: Option<usize>, message: Option<String>) -> Location {
    Location {
        id,
        logical_locations: vec![logical(&n.id, &n.display_name)],
        message: message.map(|text| Message { text }),
    }
}

fn resource_location(r: &ResourceRef) -> Location {
    Location { id: None, logical_locations: vec![logical(&r.id, &r.display_name)], message: None }
}

fn fix_text(r: &Remediation) -> String {
    match &r.command {
        Some(c) => format!("Fix: {} — `{c}`", r.summary),
        None => format!("Fix: {}", r.summary),
    }
}

fn path_message(f: &Finding) -> String {
    let n = f.hops.len();
    let mut chain: Vec<&str> = vec![f.principal.display_name.as_str()];
    chain.extend(f.hops.iter().map(|h| h.to.display_name.as_str()));
    let mut flags = Vec::new();
    if f.eligible {
        flags.push("needs a PIM activation");
    }
    if f.conditional {
        flags.push("rests on a condition azpath could not fully evaluate");
    }
    let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join("; ")) };
    let tiers: Vec<String> = f
        .tiers
        .iter()
        .map(|t| {
            let caps =
                if t.capabilities.is_empty() { String::new() } else { format!(" with {}", t.capabilities.join(", ")) };
            format!("{} ({} target{}{caps})", t.query_id, t.targets.count, if t.targets.count == 1 { "" } else { "s" })
        })
        .collect();
    let members = if f.members.count == 0 { String::new() } else { format!(" and {} member(s)", f.members.count) };
    format!(
        "{} ({}){members} reach{} {} ({}) by {} in {n} hop{}{flags}: {}. Answers {}. {}",
        f.principal.display_name,
        f.principal.kind,
        if f.members.count == 0 { "es" } else { "" },
        f.scope.display_name,
        f.reach.as_str(),
        if f.reach == azpath_graph::findings::Reach::Standing { "a standing grant" } else { "escalation" },
        if n == 1 { "" } else { "s" },
        chain.join(" → "),
        tiers.join("; "),
        fix_text(&f.remediation)
    )
}

fn posture_message(f: &PostureFinding) -> String {
    let evidence = if f.evidence.is_empty() { String::new() } else { format!(" Evidence: {}.", f.evidence.join("; ")) };
    format!("{}.{evidence} {}", f.detail, fix_text(&f.remediation))
}

/// Writes the report as a SARIF 2.1.0 log with one run.
pub fn render_sarif(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |q: &QueryInfo, kind: &'static str, rules: &mut Vec<Rule>| {
        *index.entry(q.id.clone()).or_insert_with(|| {
            rules.push(rule(q, kind));
            rules.len() - 1
        })
    };
    for q in &report.queries {
        add(q, "path", &mut rules);
    }
    for c in &report.posture_checks {
        add(c, "posture", &mut rules);
    }
    let mut results = Vec::new();
    for f in &report.findings {
        // One result per finding, under the rule of its most severe tier.
        let Some(top) = f.tiers.first() else { continue };
        let title = report.queries.iter().find(|q| q.id == top.query_id).map(|q| q.title.clone()).unwrap_or_default();
        let rule_index = add(&fallback_info(&top.query_id, &title, f.severity), "path", &mut rules);
        let mut related = vec![node_location(
            &f.principal,
            Some(0),
            Some(format!("principal: {} {}", f.principal.kind, f.principal.display_name)),
        )];
        related.extend(
            f.hops
                .iter()
                .enumerate()
                .map(|(i, h)| node_location(&h.to, Some(i + 1), Some(format!("{}. {}", i + 1, h.detail)))),
        );
        results.push(SarifResult {
            rule_id: top.query_id.clone(),
            rule_index,
            level: level(f.severity),
            message: Message { text: path_message(f) },
            locations: vec![node_location(&f.scope, None, None)],
            related_locations: related,
            partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, path_fingerprint(f))]),
            properties: serde_json::json!({
                "severity": f.severity,
                "reach": f.reach,
                "principal": f.principal,
                "scope": f.scope,
                "members": f.members.count,
                "tiers": f.tiers.iter().map(|t| serde_json::json!({
                    "query_id": t.query_id, "capabilities": t.capabilities, "targets": t.targets.count,
                })).collect::<Vec<_>>(),
                "hops": f.hops.len(),
                "eligible": f.eligible,
                "conditional": f.conditional,
                "remediation": f.remediation,
            }),
        });
    }
    for f in &report.posture {
        let rule_index = add(&fallback_info(&f.check_id, &f.title, f.severity), "posture", &mut rules);
        results.push(SarifResult {
            rule_id: f.check_id.clone(),
            rule_index,
            level: level(f.severity),
            message: Message { text: posture_message(f) },
            locations: vec![resource_location(&f.resource)],
            related_locations: Vec::new(),
            partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, posture_fingerprint(f))]),
            properties: serde_json::json!({
                "severity": f.severity,
                "resource": f.resource,
                "evidence": f.evidence,
                "remediation": f.remediation,
            }),
        });
    }
    let mut notes: Vec<Notification> = report
        .coverage
        .iter()
        .map(|c| Notification {
            level: "warning",
            message: Message {
                text: format!(
                    "not collected: {} at {} ({:?}{}): {}",
                    c.gap.api,
                    c.gap.scope,
                    c.gap.reason,
                    c.gap.status.map(|s| format!(", HTTP {s}")).unwrap_or_default(),
                    c.may_hide
                ),
            },
        })
        .collect();
    notes.extend(report.warnings.iter().map(|w| Notification { level: "note", message: Message { text: w.clone() } }));
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "azpath",
                    version: report.tool_version.clone(),
                    semantic_version: report.tool_version.clone(),
                    rules,
                },
            },
            invocations: vec![Invocation { execution_successful: true, tool_execution_notifications: notes }],
            results,
            properties: BTreeMap::from([
                ("collectedAt", serde_json::json!(report.collected_at)),
                ("reportSchemaVersion", serde_json::json!(report.schema_version)),
            ]),
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_fixed_values() {
        // FNV-1a 128 of the empty input is its offset basis; a change of algorithm would move every alert.
        assert_eq!(fingerprint(&[""]), "6c62272e07bb014262b821756295c58d");
        assert_eq!(fingerprint(&["a"]), "d228cb696f1a8caf78912b704e4a8964");
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["ab"]));
    }

    #[test]
    fn levels_and_rule_names() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(rule_name("owner-equivalent-on-subscription", "x"), "OwnerEquivalentOnSubscription");
        assert_eq!(rule_name("AZP-AKS-001", "AKS local accounts are enabled"), "AKSLocalAccountsAreEnabled");
    }
}
