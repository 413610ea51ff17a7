//! The table format: one section per query, each path explained hop by hop, then the posture findings, then
//! coverage gaps.

use std::io::{self, Write};

use comfy_table::{presets, ContentArrangement, Table};

use azpath_graph::findings::{Finding, Hop, PostureFinding, Remediation, Report};
use azpath_graph::model::EdgeKind;
use azpath_graph::model::Severity;

use super::text::{shorten, visible, write_line};
use super::RenderOptions;

/// Writes the report as tables.
pub fn render_table(report: &Report, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() && !report.queries.is_empty() {
        write_line(out, &format!("No findings for {} queries.", report.queries.len()))?;
    }
    let mut start = 0;
    while start < report.findings.len() {
        let query = &report.findings[start].query_id;
        let end = start + report.findings[start..].iter().take_while(|f| &f.query_id == query).count();
        write_section(&report.findings[start..end], options, out)?;
        start = end;
    }
    if !report.posture.is_empty() {
        write_posture(&report.posture, options, out)?;
    } else if !report.posture_checks.is_empty() {
        write_line(out, "")?;
        write_line(out, &format!("Posture: {} checks, nothing to report.", report.posture_checks.len()))?;
    }
    if !report.coverage.is_empty() {
        write_line(out, "")?;
        write_line(
            out,
            &format!("Coverage gaps ({}): these parts of the tenant were not collected", report.coverage.len()),
        )?;
        let mut t = new_table(options);
        t.set_header(vec!["API", "Scope", "Reason", "May hide"]);
        for c in &report.coverage {
            let reason = match c.gap.status {
                Some(s) => format!("{:?} (HTTP {s})", c.gap.reason),
                None => format!("{:?}", c.gap.reason),
            };
            t.add_row(vec![cell([&c.gap.api]), cell([&c.gap.scope]), cell([&reason]), cell([&c.may_hide])]);
        }
        writeln!(out, "{t}")?;
    }
    if !report.warnings.is_empty() {
        write_line(out, "")?;
        write_line(out, &format!("Warnings ({}):", report.warnings.len()))?;
        for w in &report.warnings {
            write_line(out, &format!("  - {w}"))?;
        }
    }
    write_line(out, "")?;
    write_line(out, &summary(report))
}

fn write_section(findings: &[Finding], options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let first = &findings[0];
    write_line(out, "")?;
    write_line(
        out,
        &format!(
            "[{}] {} — {} ({} finding{})",
            first.severity.as_str().to_uppercase(),
            first.query_id,
            first.title,
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        ),
    )?;
    let mut t = new_table(options);
    t.set_header(vec!["Source", "Target", "Path (hop by hop, with evidence)", "Fix"]);
    for f in findings {
        let mut flags = Vec::new();
        if f.eligible {
            flags.push("needs PIM activation");
        }
        if f.conditional {
            flags.push("conditional");
        }
        let mut target = vec![format!("{}: {}", f.target.kind, f.target.display_name), f.target.id.clone()];
        if !flags.is_empty() {
            target.push(format!("({})", flags.join(", ")));
        }
        let source = [format!("{}: {}", f.source.kind, f.source.display_name), f.source.id.clone()];
        let path = f.hops.iter().enumerate().map(|(i, h)| hop_line(i, h));
        t.add_row(vec![cell(&source), cell(&target), cell(path), fix_cell(&f.remediation)]);
    }
    writeln!(out, "{t}")
}

fn write_posture(posture: &[PostureFinding], options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    write_line(out, "")?;
    write_line(
        out,
        &format!(
            "Posture ({} finding{}): settings that weaken identity and access control",
            posture.len(),
            if posture.len() == 1 { "" } else { "s" }
        ),
    )?;
    let mut t = new_table(options);
    t.set_header(vec!["Check", "Resource", "Finding and evidence", "Fix"]);
    for f in posture {
        let check = [format!("[{}] {}", f.severity.as_str().to_uppercase(), f.check_id), f.title.clone()];
        let resource = [format!("{}: {}", f.resource.kind, f.resource.display_name), f.resource.id.clone()];
        let finding = std::iter::once(f.detail.clone()).chain(f.evidence.iter().map(|e| format!("- {e}")));
        t.add_row(vec![cell(&check), cell(&resource), cell(finding), fix_cell(&f.remediation)]);
    }
    writeln!(out, "{t}")
}

/// One hop as a numbered sentence; role hops also name their assignment (the full id is in the fix command
/// and the JSON report).
fn hop_line(i: usize, h: &Hop) -> String {
    let mut line = format!("{}. {}", i + 1, h.detail);
    if h.edge == EdgeKind::HasRole {
        if let Some(id) = h.evidence.first() {
            let kind = if h.eligible { "eligibility" } else { "assignment" };
            line.push_str(&format!(" ({kind} {})", id.rsplit('/').next().unwrap_or(id)));
        }
    }
    line
}

/// One table cell from its lines: each [shortened](shorten) (comfy-table wraps a long word in quadratic
/// time) and [escaped](visible), then joined by the only line breaks the cell holds.
fn cell<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> String {
    let lines: Vec<String> = lines.into_iter().map(|l| visible(&shorten(l.as_ref())).into_owned()).collect();
    lines.join("\n")
}

/// The fix column: the remediation's summary and its command.
fn fix_cell(r: &Remediation) -> String {
    let command = r.command.as_ref().map(|c| format!("$ {c}"));
    cell(std::iter::once(r.summary.as_str()).chain(command.as_deref()))
}

fn new_table(options: RenderOptions) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(options.width);
    t
}

/// "12 findings: 3 critical, 9 high; 2 posture findings: 2 high".
pub fn summary(report: &Report) -> String {
    let counts = |sevs: &[Severity]| -> String {
        Severity::ALL
            .iter()
            .rev()
            .filter_map(|s| {
                let n = sevs.iter().filter(|x| *x == s).count();
                (n > 0).then(|| format!("{n} {s}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let paths: Vec<Severity> = report.findings.iter().map(|f| f.severity).collect();
    let posture: Vec<Severity> = report.posture.iter().map(|f| f.severity).collect();
    let posture = match posture.len() {
        0 => String::new(),
        n => format!("; {n} posture finding{}: {}", if n == 1 { "" } else { "s" }, counts(&posture)),
    };
    let gaps = if report.coverage.is_empty() {
        String::new()
    } else {
        format!("; {} coverage gap(s): findings may be incomplete", report.coverage.len())
    };
    match report.findings.len() {
        0 => format!("0 findings{posture}{gaps}"),
        n => format!("{n} finding{}: {}{posture}{gaps}", if n == 1 { "" } else { "s" }, counts(&paths)),
    }
}
