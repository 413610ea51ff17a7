//! `azpath history …` output: tables for a person, JSON (the rows as `crate::history` defines them) for
//! scripts. Every cell goes through [`visible`].

use std::io::{self, Write};

use comfy_table::{presets, Table};
use serde::Serialize;

use super::text::{visible, write_line};
use super::Format;
use crate::history::{DiffRows, ExposureRun, FindingRow, Imported, PairRow, ScanRow, TrendRow};

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
    table(&["scan", "recorded", "tier", "principals reaching it", "findings by severity"], rows, out)?;
    let changes: Vec<String> = trend.iter().flat_map(|t| t.changes.iter().map(change_line)).collect();
    if !changes.is_empty() {
        write_line(out, "")?;
        write_line(out, "exposure changes:")?;
        for line in changes {
            write_line(out, &line)?;
        }
    }
    Ok(())
}

/// `history import`: a line per file, imported or skipped.
pub fn render_import(done: &Imported, format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        return json(done, out);
    }
    for (files, what) in [(&done.imported, "imported"), (&done.skipped, "already recorded")] {
        for file in files {
            write_line(out, &format!("{what}: {}", file.display()))?;
        }
    }
    write_line(out, &format!("imported {} report(s), {} already recorded", done.imported.len(), done.skipped.len()))
}

/// "escalation exposure of tier q rose from 3 to 7 on 2026-12-06 (scan 4), last seen … (scan 6)".
pub fn change_line(run: &ExposureRun) -> String {
    let previous = run.previous.unwrap_or_default();
    let verb = if run.value > previous { "rose" } else { "fell" };
    let day = run.first_seen.split('T').next().unwrap_or(&run.first_seen);
    format!(
        "{} exposure of tier {} {verb} from {previous} to {} on {day} (scan {}); held until {} (scan {})",
        run.figure, run.query_id, run.value, run.first_scan, run.last_seen, run.last_scan
    )
}

/// `history diff`.
pub fn render_diff(diff: &DiffRows, format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        return json(diff, out);
    }
    let head = format!(
        "scan {} ({}) → scan {} ({}): {} appeared, {} disappeared; pairs: {} appeared, {} disappeared",
        diff.from.id,
        diff.from.time,
        diff.to.id,
        diff.to.time,
        diff.appeared.len(),
        diff.disappeared.len(),
        diff.appeared_pairs.len(),
        diff.disappeared_pairs.len()
    );
    write_line(out, &head)?;
    if !diff.pairs_unrecorded.is_empty() {
        let scans: Vec<String> = diff.pairs_unrecorded.iter().map(|id| format!("scan {id}")).collect();
        let line = format!(
            "pairs not compared: {} recorded no pairs (an older azpath recorded them only with --expand)",
            scans.join(" and ")
        );
        write_line(out, &line)?;
    }
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
    for (title, rows) in [("pairs appeared", &diff.appeared_pairs), ("pairs disappeared", &diff.disappeared_pairs)] {
        if !rows.is_empty() {
            write_line(out, "")?;
            pair_table(title, rows, out)?;
        }
    }
    Ok(())
}

/// Most pairs a table lists; JSON lists all.
const PAIRS_SHOWN: usize = 100;

fn pair_table(title: &str, rows: &[PairRow], out: &mut dyn Write) -> io::Result<()> {
    write_line(out, &format!("{title}: {}", rows.len()))?;
    let shown = rows
        .iter()
        .take(PAIRS_SHOWN)
        .map(|p| vec![p.query_id.clone(), p.source.clone(), p.target.clone(), p.finding.clone(), p.fingerprint.clone()])
        .collect();
    table(&["query", "source", "target", "finding", "fingerprint"], shown, out)?;
    if rows.len() > PAIRS_SHOWN {
        write_line(out, &format!("… and {} more (--format json lists every pair)", rows.len() - PAIRS_SHOWN))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(previous: i64, value: i64) -> ExposureRun {
        ExposureRun {
            query_id: "owner".into(),
            figure: "escalation".into(),
            value,
            previous: Some(previous),
            first_seen: "2026-12-06T10:00:00.000000Z".into(),
            first_scan: 4,
            last_seen: "2026-12-07T10:00:00.000000Z".into(),
            last_scan: 6,
        }
    }

    #[test]
    fn a_change_says_which_way_when_and_until_when() {
        assert_eq!(
            change_line(&run(3, 7)),
            "escalation exposure of tier owner rose from 3 to 7 on 2026-12-06 (scan 4); held until 2026-12-07T10:00:00.000000Z (scan 6)"
        );
        assert!(change_line(&run(7, 3)).contains("fell from 7 to 3"));
    }
}
