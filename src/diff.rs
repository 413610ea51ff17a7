//! `azpath diff`: which findings appeared and which disappeared between two analyses. Findings are matched by
//! (query, source, target), so a path that changed route but not outcome is not reported as new.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde::Serialize;

use azpath_graph::findings::{Finding, Report};

use crate::render::{self, Format, RenderOptions};

/// Version of the diff JSON format.
pub const DIFF_SCHEMA_VERSION: u32 = 1;

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
}

fn key(f: &Finding) -> (String, String, String) {
    (f.query_id.clone(), f.source.id.clone(), f.target.id.clone())
}

/// Compares two reports.
pub fn diff(old: &Report, new: &Report) -> Diff {
    let old_keys: BTreeSet<_> = old.findings.iter().map(key).collect();
    let new_keys: BTreeSet<_> = new.findings.iter().map(key).collect();
    Diff {
        schema_version: DIFF_SCHEMA_VERSION,
        old_collected_at: old.collected_at.clone(),
        new_collected_at: new.collected_at.clone(),
        new: new.findings.iter().filter(|f| !old_keys.contains(&key(f))).cloned().collect(),
        resolved: old.findings.iter().filter(|f| !new_keys.contains(&key(f))).cloned().collect(),
        unchanged: new.findings.iter().filter(|f| old_keys.contains(&key(f))).count(),
    }
}

/// Renders a diff: JSON as is; table and DOT show the new findings (DOT draws only their paths).
pub fn render(d: &Diff, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, d)?;
            writeln!(out)
        }
        Format::Table | Format::Dot => {
            let as_report = |findings: &[Finding]| Report {
                schema_version: azpath_graph::findings::REPORT_SCHEMA_VERSION,
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                collected_at: d.new_collected_at.clone(),
                queries: Vec::new(),
                findings: findings.to_vec(),
                posture_checks: Vec::new(),
                posture: Vec::new(),
                coverage: Vec::new(),
                warnings: Vec::new(),
            };
            if format == Format::Dot {
                return render::render_dot(&as_report(&d.new), out);
            }
            writeln!(
                out,
                "New findings: {}   Resolved: {}   Unchanged: {}",
                d.new.len(),
                d.resolved.len(),
                d.unchanged
            )?;
            if !d.new.is_empty() {
                writeln!(out, "\n=== New ===")?;
                render::render_table(&as_report(&d.new), RenderOptions::default(), out)?;
            }
            if !d.resolved.is_empty() {
                writeln!(out, "\n=== Resolved ===")?;
                for f in &d.resolved {
                    writeln!(
                        out,
                        "  [{}] {}: {} → {}",
                        f.severity, f.query_id, f.source.display_name, f.target.display_name
                    )?;
                }
            }
            Ok(())
        }
    }
}
