//! `azpath history …` output: tables for a person, JSON (the rows as `crate::history` defines them) for
//! scripts. Every cell goes through [`visible`].

use std::io::{self, Write};

use comfy_table::{presets, Table};
use serde::Serialize;

use super::text::{visible, write_line};
use super::Format;
use crate::history::{DiffRows, FindingRow, ScanRow, TrendRow};

/// Formats `history` prints; the others are a usage error.
pub const FORMATS: &str = "history prints table or json";

/// Whether `history` can print `format`.
pub fn supports(format: Format) -> bool {
    matches!(format, Format::Table | Format::Json)
}

fn json<T: Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

fn table(header: &[&str], rows: Vec<Vec<String>>, out: &mut dyn Write) -> io::Result<()> {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_MARKDOWN);
    t.set_header(header.to_vec());
    for row in rows {
        t.add_row(row.iter().map(|c| visible(c).into_owned()).collect::<Vec<_>>());
    }
    // Every cell is already visible text.
    writeln!(out, "{t}")
}

/// `history list`.
pub fn render_scans(scans: &[ScanRow], format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        return json(scans, out);
    }
    let rows = scans
        .iter()
        .map(|s| {
            vec![s.id.to_string(), s.time.clone(), s.tenant.clone(), s.collected_at.clone(), s.findings.to_string()]
        })
        .collect();
    table(&["scan", "recorded", "tenant", "collected", "findings"], rows, out)
}

/// `history trend`: one row per scan and tier, with the scan's findings per severity.
pub fn render_trend(trend: &[TrendRow], format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        return json(trend, out);
    }
    let mut rows = Vec::new();
    for t in trend {
        let severities: Vec<String> = t.by_severity.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let findings = if severities.is_empty() { "none".to_string() } else { severities.join(", ") };
        for e in &t.exposure {
            let exposure =
                format!("{} of {} ({} standing, {} escalation)", e.principals, e.population, e.standing, e.escalation);
            rows.push(vec![t.scan.id.to_string(), t.scan.time.clone(), e.query_id.clone(), exposure, findings.clone()]);
        }
        if t.exposure.is_empty() {
            rows.push(vec![t.scan.id.to_string(), t.scan.time.clone(), String::new(), String::new(), findings]);
        }
    }
    table(&["scan", "recorded", "tier", "principals reaching it", "findings by severity"], rows, out)
}

/// `history diff`.
pub fn render_diff(diff: &DiffRows, format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        return json(diff, out);
    }
    let head = format!(
        "scan {} ({}) → scan {} ({}): {} appeared, {} disappeared",
        diff.from.id,
        diff.from.time,
        diff.to.id,
        diff.to.time,
        diff.appeared.len(),
        diff.disappeared.len()
    );
    write_line(out, &head)?;
    for (title, rows) in [("appeared", &diff.appeared), ("disappeared", &diff.disappeared)] {
        if rows.is_empty() {
            continue;
        }
        write_line(out, "")?;
        write_line(out, &format!("{title}:"))?;
        table(
            &["finding", "severity", "reach", "queries", "principal", "scope", "first seen", "last seen"],
            finding_rows(rows),
            out,
        )?;
    }
    Ok(())
}

fn finding_rows(rows: &[FindingRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|f| {
            vec![
                f.id.clone(),
                f.severity.clone(),
                f.reach.clone(),
                f.queries.clone(),
                f.principal.clone(),
                f.scope.clone(),
                format!("{} (scan {})", f.first_seen, f.first_scan),
                format!("{} (scan {})", f.last_seen, f.last_scan),
            ]
        })
        .collect()
}
