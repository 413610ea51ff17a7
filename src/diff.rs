//! `azpath diff`: which findings appeared and which disappeared between two analyses. Findings are matched by
//! (query, source, target), so a path that changed route but not outcome is not reported as new; posture
//! findings by (check, resource). These are also the identities SARIF fingerprints hash.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde::Serialize;

use azpath_graph::findings::{Finding, PostureFinding, QueryInfo, Report};

use crate::render::text::write_line;
use crate::render::{self, Format, RenderOptions};

/// Version of the diff JSON format. 2: adds `new_posture`, `resolved_posture` and `unchanged_posture`.
pub const DIFF_SCHEMA_VERSION: u32 = 2;

/// The difference between two reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Always [`DIFF_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Collection time of the earlier snapshot.
    pub old_collected_at: String,
    /// Collection time of the later snapshot.
    pub new_collected_at: String,
    /// Findings only in the later report.
    pub new: Vec<Finding>,
    /// Findings only in the earlier report (fixed, or no longer visible: check coverage).
    pub resolved: Vec<Finding>,
    /// Number of findings in both.
    pub unchanged: usize,
    /// Posture findings only in the later report.
    pub new_posture: Vec<PostureFinding>,
    /// Posture findings only in the earlier report.
    pub resolved_posture: Vec<PostureFinding>,
    /// Number of posture findings in both.
    pub unchanged_posture: usize,
    /// The later report's queries and posture checks, to describe rules (SARIF); not part of the JSON.
    #[serde(skip)]
    pub rules: (Vec<QueryInfo>, Vec<QueryInfo>),
}

fn key(f: &Finding) -> (String, String, String) {
    (f.query_id.clone(), f.source.id.clone(), f.target.id.clone())
}

fn posture_key(f: &PostureFinding) -> (String, String) {
    (f.check_id.clone(), f.resource.id.clone())
}

/// Compares two reports.
pub fn diff(old: &Report, new: &Report) -> Diff {
    let old_keys: BTreeSet<_> = old.findings.iter().map(key).collect();
    let new_keys: BTreeSet<_> = new.findings.iter().map(key).collect();
    let old_posture: BTreeSet<_> = old.posture.iter().map(posture_key).collect();
    let new_posture: BTreeSet<_> = new.posture.iter().map(posture_key).collect();
    Diff {
        schema_version: DIFF_SCHEMA_VERSION,
        old_collected_at: old.collected_at.clone(),
        new_collected_at: new.collected_at.clone(),
        new: new.findings.iter().filter(|f| !old_keys.contains(&key(f))).cloned().collect(),
        resolved: old.findings.iter().filter(|f| !new_keys.contains(&key(f))).cloned().collect(),
        unchanged: new.findings.iter().filter(|f| old_keys.contains(&key(f))).count(),
        new_posture: new.posture.iter().filter(|f| !old_posture.contains(&posture_key(f))).cloned().collect(),
        resolved_posture: old.posture.iter().filter(|f| !new_posture.contains(&posture_key(f))).cloned().collect(),
        unchanged_posture: new.posture.iter().filter(|f| old_posture.contains(&posture_key(f))).count(),
        rules: (new.queries.clone(), new.posture_checks.clone()),
    }
}

/// Renders a diff: JSON as is; table, DOT and SARIF show the new findings (DOT draws only their paths).
/// `options` size the table.
pub fn render(d: &Diff, format: Format, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let as_report = |findings: &[Finding], posture: &[PostureFinding], with_rules: bool| Report {
        schema_version: azpath_graph::findings::REPORT_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at: d.new_collected_at.clone(),
        queries: if with_rules { d.rules.0.clone() } else { Vec::new() },
        findings: findings.to_vec(),
        posture_checks: if with_rules { d.rules.1.clone() } else { Vec::new() },
        posture: posture.to_vec(),
        coverage: Vec::new(),
        warnings: Vec::new(),
    };
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, d)?;
            writeln!(out)
        }
        Format::Dot => render::render_dot(&as_report(&d.new, &[], false), out),
        Format::Sarif => render::render_sarif(&as_report(&d.new, &d.new_posture, true), out),
        Format::Table => render_table(d, &as_report(&d.new, &d.new_posture, false), options, out),
    }
}

/// The table format of a diff: counts, the new findings as report tables, the resolved ones as lines.
fn render_table(d: &Diff, new: &Report, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    write_line(
        out,
        &format!("New findings: {}   Resolved: {}   Unchanged: {}", d.new.len(), d.resolved.len(), d.unchanged),
    )?;
    write_line(
        out,
        &format!(
            "New posture findings: {}   Resolved: {}   Unchanged: {}",
            d.new_posture.len(),
            d.resolved_posture.len(),
            d.unchanged_posture
        ),
    )?;
    if !d.new.is_empty() || !d.new_posture.is_empty() {
        write_line(out, "")?;
        write_line(out, "=== New ===")?;
        render::render_table(new, options, out)?;
    }
    if !d.resolved.is_empty() || !d.resolved_posture.is_empty() {
        write_line(out, "")?;
        write_line(out, "=== Resolved ===")?;
        for f in &d.resolved {
            let (from, to) = (&f.source.display_name, &f.target.display_name);
            write_line(out, &format!("  [{}] {}: {from} → {to}", f.severity, f.query_id))?;
        }
        for f in &d.resolved_posture {
            write_line(out, &format!("  [{}] {}: {}", f.severity, f.check_id, f.resource.display_name))?;
        }
    }
    Ok(())
}
