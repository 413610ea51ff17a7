//! `azpath diff`: what appeared and what disappeared between two analyses. Findings (path cores) are matched by
//! their id, which hashes the grants they rest on, never names or order; the (query, principal, target) pairs
//! the findings imply are compared too, each with the findings that imply it, so a member joining a group shows
//! as a new pair of an unchanged finding. Posture findings are matched by (check, resource). These are also the
//! identities SARIF fingerprints hash.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde::Serialize;

use azpath_graph::findings::{Finding, ImpliedPair, PostureFinding, Report};

use crate::render::text::write_line;
use crate::render::{self, Format, RenderOptions};

/// Version of the diff JSON format. 2: adds the posture lists. 3: findings are path cores; adds `new_pairs` and
/// `resolved_pairs`.
pub const DIFF_SCHEMA_VERSION: u32 = 3;

/// Why `diff --format ndjson` is refused: ndjson streams one analysis's pairs.
pub const NDJSON_UNSUPPORTED: &str =
    "--format ndjson streams the pairs of one analysis (scan, analyze); diff prints table, json, dot or sarif";

/// A pair that appeared or disappeared, with the findings (ids) that imply it on the side where it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PairChange {
    /// The pair.
    #[serde(flatten)]
    pub pair: ImpliedPair,
    /// Findings implying it.
    pub findings: Vec<String>,
}

/// The difference between two reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    /// Pairs only in the later report.
    pub new_pairs: Vec<PairChange>,
    /// Pairs only in the earlier report.
    pub resolved_pairs: Vec<PairChange>,
    /// Posture findings only in the later report.
    pub new_posture: Vec<PostureFinding>,
    /// Posture findings only in the earlier report.
    pub resolved_posture: Vec<PostureFinding>,
    /// Number of posture findings in both.
    pub unchanged_posture: usize,
    /// The later report, to describe rules and name things (table, SARIF); not part of the JSON.
    #[serde(skip)]
    pub later: Report,
}

fn posture_key(f: &PostureFinding) -> (String, String) {
    (f.check_id.clone(), f.resource.id.clone())
}

/// Each implied pair with the ids of the findings that imply it.
fn pairs_of(report: &Report) -> BTreeMap<ImpliedPair, Vec<String>> {
    let mut out: BTreeMap<ImpliedPair, Vec<String>> = BTreeMap::new();
    report.for_each_implied(&mut |f, p| {
        let ids = out.entry(p).or_default();
        if !ids.contains(&f.id) {
            ids.push(f.id.clone());
        }
    });
    out
}

/// Pairs of `a` not in `b`.
fn only_in(a: &BTreeMap<ImpliedPair, Vec<String>>, b: &BTreeMap<ImpliedPair, Vec<String>>) -> Vec<PairChange> {
    a.iter()
        .filter(|(p, _)| !b.contains_key(*p))
        .map(|(p, ids)| PairChange { pair: p.clone(), findings: ids.clone() })
        .collect()
}

/// Compares two reports.
pub fn diff(old: &Report, new: &Report) -> Diff {
    let old_ids: BTreeSet<&str> = old.findings.iter().map(|f| f.id.as_str()).collect();
    let new_ids: BTreeSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let old_posture: BTreeSet<_> = old.posture.iter().map(posture_key).collect();
    let new_posture: BTreeSet<_> = new.posture.iter().map(posture_key).collect();
    let (old_pairs, new_pairs) = (pairs_of(old), pairs_of(new));
    Diff {
        schema_version: DIFF_SCHEMA_VERSION,
        old_collected_at: old.collected_at.clone(),
        new_collected_at: new.collected_at.clone(),
        new: new.findings.iter().filter(|f| !old_ids.contains(f.id.as_str())).cloned().collect(),
        resolved: old.findings.iter().filter(|f| !new_ids.contains(f.id.as_str())).cloned().collect(),
        unchanged: new.findings.iter().filter(|f| old_ids.contains(f.id.as_str())).count(),
        new_pairs: only_in(&new_pairs, &old_pairs),
        resolved_pairs: only_in(&old_pairs, &new_pairs),
        new_posture: new.posture.iter().filter(|f| !old_posture.contains(&posture_key(f))).cloned().collect(),
        resolved_posture: old.posture.iter().filter(|f| !new_posture.contains(&posture_key(f))).cloned().collect(),
        unchanged_posture: new.posture.iter().filter(|f| old_posture.contains(&posture_key(f))).count(),
        later: Report { tiers: Vec::new(), choke_points: Vec::new(), pairs: Vec::new(), ..new.clone() },
    }
}

/// Renders a diff: JSON as is; table, DOT and SARIF show the new findings (DOT draws only their paths).
/// `options` size the table.
pub fn render(d: &Diff, format: Format, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let as_report = |findings: &[Finding], posture: &[PostureFinding]| Report {
        findings: findings.to_vec(),
        posture: posture.to_vec(),
        coverage: Vec::new(),
        warnings: Vec::new(),
        plan: Default::default(),
        ..d.later.clone()
    };
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, d)?;
            writeln!(out)
        }
        Format::Dot => render::render_dot(&as_report(&d.new, &[]), out),
        Format::Sarif => render::render_sarif(&as_report(&d.new, &d.new_posture), out),
        Format::Table => render_table(d, &as_report(&d.new, &d.new_posture), options, out),
        Format::Ndjson => Err(io::Error::new(io::ErrorKind::InvalidInput, NDJSON_UNSUPPORTED)),
        Format::Opengraph => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "--format opengraph is for scan and analyze"))
        }
    }
}

/// The table format of a diff: counts, the new findings as report tables, the resolved ones and the changed
/// pairs as lines.
fn render_table(d: &Diff, new: &Report, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    write_line(
        out,
        &format!("New findings: {}   Resolved: {}   Unchanged: {}", d.new.len(), d.resolved.len(), d.unchanged),
    )?;
    write_line(out, &format!("New pairs: {}   Resolved pairs: {}", d.new_pairs.len(), d.resolved_pairs.len()))?;
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
            let last = f.hops.last().map(|h| h.to.display_name.as_str()).unwrap_or(&f.scope.display_name);
            write_line(
                out,
                &format!("  [{}] {} {}: {} → {last}", f.severity, f.reach.as_str(), f.id, f.principal.display_name),
            )?;
        }
        for f in &d.resolved_posture {
            write_line(out, &format!("  [{}] {}: {}", f.severity, f.check_id, f.resource.display_name))?;
        }
    }
    for (title, list) in [("=== New pairs ===", &d.new_pairs), ("=== Resolved pairs ===", &d.resolved_pairs)] {
        if list.is_empty() {
            continue;
        }
        write_line(out, "")?;
        write_line(out, title)?;
        for c in list.iter().take(50) {
            let p = &c.pair;
            write_line(out, &format!("  {}: {} → {} (by {})", p.query_id, p.source, p.target, c.findings.join(", ")))?;
        }
        if list.len() > 50 {
            write_line(out, &format!("  … and {} more (--format json lists them all)", list.len() - 50))?;
        }
    }
    Ok(())
}
