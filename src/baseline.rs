//! Baselines and suppressions: which findings of a report are new since a previous report (or snapshot), and
//! which ones azpath.toml's `[[suppress]]` entries hide. The report is filtered here, before any renderer sees
//! it: findings, pairs and posture findings that are known or suppressed are removed, choke points keep the
//! findings still shown, tiers count what is shown; a [`Summary`] says how many of each were known, suppressed
//! or new ("N new of M"), on stderr and, with `--format json`, as the report's `baseline` and `suppressions`
//! objects.
//!
//! Identity: a finding is its `id` (`findings::fingerprint` of its search profile, principal, the fix keys of
//! its core and where it lands: member churn keeps it); a pair is [`pair_fingerprint`] of its query, source,
//! target and the id of the finding its best path rests on, so never names or order; a posture finding is its
//! check and resource (the SARIF posture fingerprint).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::Date;

use azpath_graph::findings::{fingerprint, Finding, ImpliedPair, PostureFinding, Reach, Report, REPORT_SCHEMA_VERSION};
use azpath_graph::model::Severity;
use azpath_graph::snapshot::Snapshot;

/// Why a baseline file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read.
    #[error("reading the baseline {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: crate::input::InputError,
    },
    /// The file is a report, but not one this version reads.
    #[error("baseline {}: at `{field}`: {message}", path.display())]
    Report {
        /// The file.
        path: PathBuf,
        /// The JSON path of the bad field (`.` for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The file is a snapshot that does not parse.
    #[error("baseline {}", path.display())]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// The snapshot's own error (it names the field).
        #[source]
        source: azpath_graph::snapshot::SnapshotError,
    },
    /// A report written with `--baseline`: it holds only what was new then, so everything older would be
    /// reported as new again.
    #[error(
        "baseline {}: this report was itself written with --baseline {previous}, so it lists only what was new then and everything older would count as new again: give the previous scan's snapshot (--snapshot FILE) or a report written without --baseline",
        path.display()
    )]
    Filtered {
        /// The file.
        path: PathBuf,
        /// The baseline it was written against.
        previous: String,
    },
    /// Neither a report nor a snapshot.
    #[error("baseline {}: neither a JSON report (`azpath … --format json`) nor a snapshot (`azpath collect`)", path.display())]
    Unknown {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a baseline: a JSON report as written by `--format json`, or a snapshot, which `analyze` turns into
/// a report (the caller passes the same queries and options as the current run).
pub fn load(path: &Path, analyze: impl FnOnce(&Snapshot) -> Report) -> Result<Report, BaselineError> {
    let text = crate::input::read_text(path).map_err(|source| BaselineError::Read { path: path.into(), source })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| BaselineError::Report {
        path: path.into(),
        field: ".".into(),
        message: e.to_string(),
    })?;
    let has = |key: &str| value.get(key).is_some();
    if has("metadata") {
        let snap = Snapshot::from_json(&text, &path.display().to_string())
            .map_err(|source| BaselineError::Snapshot { path: path.into(), source })?;
        return Ok(analyze(&snap));
    }
    if !(has("findings") && has("schema_version")) {
        return Err(BaselineError::Unknown { path: path.into() });
    }
    if let Some(previous) = value.pointer("/baseline/file").and_then(serde_json::Value::as_str) {
        return Err(BaselineError::Filtered { path: path.into(), previous: previous.into() });
    }
    let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(REPORT_SCHEMA_VERSION)) {
        return Err(BaselineError::Report {
            path: path.into(),
            field: "schema_version".into(),
            message: format!(
                "{} is not the report version this azpath reads ({REPORT_SCHEMA_VERSION}): write the baseline again with this version",
                version.map_or("missing".to_string(), |v| v.to_string())
            ),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| BaselineError::Report {
        path: path.into(),
        field: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// A pair's fingerprint: its query, source and target ids and the [`grant_key`] of the finding its best path
/// rests on, never names or order.
pub fn pair_fingerprint(pair: &ImpliedPair, grants: &str) -> String {
    pair_ref_fingerprint(PairRef { query_id: &pair.query_id, source: &pair.source, target: &pair.target }, grants)
}

/// [`pair_fingerprint`] of a borrowed pair.
pub fn pair_ref_fingerprint(pair: PairRef<'_>, grants: &str) -> String {
    fingerprint(&["pair", pair.query_id, pair.source, pair.target, grants])
}

pub use azpath_graph::expand::grant_key;

/// A posture finding's fingerprint (the SARIF one): its check and resource.
pub fn posture_fingerprint(f: &PostureFinding) -> String {
    crate::render::sarif::posture_fingerprint(f)
}

/// The finding a pair's best path rests on: its id and [`grant_key`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Best {
    /// [`grant_key`] of the finding.
    pub grants: String,
    /// The finding's id.
    pub finding: String,
}

/// Every pair a report's findings imply, once, with the finding its best path rests on, as
/// [`azpath_graph::expand::Pairs`] chooses it (fewest activations and conditions, then one the source holds over
/// one it escalates into, then the smallest [`grant_key`], then the first in the report): the pairs `--expand`
/// lists. Held as interned ids: a pair is three numbers and a finding index, so the millions of pairs of a large
/// tenant (2.5 M for the generated 20k one) cost no string copy. The history store records every scan's pairs
/// with this.
pub struct BestPairs<'a> {
    report: &'a Report,
    /// [`grant_key`] of each finding, by index in `report.findings`.
    keys: Vec<String>,
    /// Interned query, principal and target ids.
    names: Vec<&'a str>,
    /// Each pair as (query, source, target) indices into `names`, and the index of its best finding.
    pairs: Vec<([u32; 3], u32)>,
}

/// A pair by reference into its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PairRef<'a> {
    /// Query id.
    pub query_id: &'a str,
    /// Principal id.
    pub source: &'a str,
    /// Target id.
    pub target: &'a str,
}

impl<'a> BestPairs<'a> {
    /// The pairs of `report`.
    pub fn of(report: &'a Report) -> BestPairs<'a> {
        let walk = azpath_graph::expand::Pairs::of(report);
        let mut pairs = Vec::new();
        walk.for_each(&mut |p| pairs.push(([p.query, p.source, p.target], p.finding)));
        let keys = report.findings.iter().map(grant_key).collect();
        BestPairs { report, keys, names: walk.names().to_vec(), pairs }
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The interned query, principal and target ids [`BestPairs::indexed`] numbers.
    pub fn names(&self) -> &[&'a str] {
        &self.names
    }

    /// Each pair as (query, source, target) indices into [`BestPairs::names`], and the index of its best finding
    /// in `report.findings`.
    pub fn indexed(&self) -> &[([u32; 3], u32)] {
        &self.pairs
    }

    /// [`grant_key`] of the finding at `index` in `report.findings`.
    pub fn grants(&self, index: u32) -> &str {
        &self.keys[index as usize]
    }

    /// Each pair, the finding its best path rests on and that finding's [`grant_key`].
    pub fn iter(&self) -> impl Iterator<Item = (PairRef<'a>, &'a Finding, &str)> + '_ {
        self.pairs.iter().map(|([q, s, t], i)| {
            let pair = PairRef {
                query_id: self.names[*q as usize],
                source: self.names[*s as usize],
                target: self.names[*t as usize],
            };
            (pair, &self.report.findings[*i as usize], self.grants(*i))
        })
    }
}

/// [`BestPairs`] as a sorted map, the finding named by id.
pub fn best_findings(report: &Report) -> BTreeMap<ImpliedPair, Best> {
    BestPairs::of(report)
        .iter()
        .map(|(p, f, grants)| {
            let pair = ImpliedPair { query_id: p.query_id.into(), source: p.source.into(), target: p.target.into() };
            (pair, Best { grants: grants.to_string(), finding: f.id.clone() })
        })
        .collect()
}

/// What a baseline report holds, by identity.
#[derive(Debug, Default)]
pub struct Known {
    /// The baseline file, as given.
    pub file: String,
    findings: BTreeSet<String>,
    pairs: BTreeSet<String>,
    posture: BTreeSet<String>,
}

impl Known {
    /// The identities of `report`'s findings, pairs and posture findings.
    pub fn of(report: &Report, file: &Path) -> Known {
        Known {
            file: file.display().to_string(),
            findings: report.findings.iter().map(|f| f.id.clone()).collect(),
            pairs: best_findings(report).iter().map(|(p, b)| pair_fingerprint(p, &b.grants)).collect(),
            posture: report.posture.iter().map(posture_fingerprint).collect(),
        }
    }
}

/// One `[[suppress]]` entry of azpath.toml: a fingerprint or patterns, a reason, an optional expiry date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// A finding id, pair fingerprint or posture fingerprint (as JSON and SARIF show them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Pattern on the query id (or posture check id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Pattern on the principal: its id or display name (a finding's principal, a pair's source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Pattern on the target: a finding's scope or any of its targets, a pair's target, a posture resource
    /// (id or display name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Why it is accepted (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Last day it suppresses, `YYYY-MM-DD` (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Suppression {
    /// The entry's first bad key and what is wrong with it.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(("reason", "is required: say why the finding is accepted".into()));
        }
        let patterns = [&self.query, &self.source, &self.target];
        match (&self.fingerprint, patterns.iter().any(|p| p.is_some())) {
            (Some(_), true) => return Err(("fingerprint", "give a fingerprint or patterns, not both".into())),
            (None, false) => {
                return Err(("fingerprint", "give a fingerprint, or at least one of query, source, target".into()))
            }
            (Some(f), false) if f.len() != 32 || !f.bytes().all(|b| b.is_ascii_hexdigit()) => {
                return Err(("fingerprint", format!("`{f}` is not a fingerprint (32 hexadecimal digits)")))
            }
            _ => {}
        }
        for (key, p) in [("query", &self.query), ("source", &self.source), ("target", &self.target)] {
            if p.as_deref().is_some_and(str::is_empty) {
                return Err((key, "is empty (leave it out to match anything)".into()));
            }
        }
        if let Some(e) = &self.expires {
            parse_date(e).ok_or_else(|| ("expires", format!("`{e}` is not a date (YYYY-MM-DD)")))?;
        }
        Ok(())
    }

    /// Whether the entry no longer applies on `today` (it applies through its expiry day).
    pub fn expired(&self, today: Date) -> bool {
        self.expires.as_deref().and_then(parse_date).is_some_and(|d| d < today)
    }

    /// Whether it matches a finding: the finding itself (its id; or its principal, scope and tiers), or, for
    /// patterns, every pair the finding implies (so `source = "<user>"` suppresses a group's grant only when
    /// that user is the only principal it reaches).
    fn matches_finding(&self, f: &Finding, pairs: &[ImpliedPair]) -> bool {
        self.matches(&Subject::finding(f))
            || (self.fingerprint.is_none()
                && !pairs.is_empty()
                && pairs.iter().all(|p| self.matches(&Subject::pair(p, "", ""))))
    }

    fn matches(&self, s: &Subject) -> bool {
        if let Some(f) = &self.fingerprint {
            return s.fingerprints.iter().any(|x| x.eq_ignore_ascii_case(f));
        }
        let any = |pattern: &Option<String>, values: &[&str]| {
            pattern.as_deref().is_none_or(|p| values.iter().any(|v| glob_match(p, v)))
        };
        any(&self.query, &s.queries) && any(&self.source, &s.sources) && any(&self.target, &s.targets)
    }
}

/// `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<Date> {
    let format = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]").ok()?;
    Date::parse(s, &format).ok()
}

/// Whether `text` matches `pattern`: `*` matches any run of characters (`/` included), `?` one character,
/// anything else itself, ASCII case-insensitively. A tiny matcher instead of `globset`: ids are not paths, and
/// one dependency less.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What a suppression is matched against.
#[derive(Default)]
struct Subject<'a> {
    fingerprints: Vec<&'a str>,
    queries: Vec<&'a str>,
    sources: Vec<&'a str>,
    targets: Vec<&'a str>,
}

impl<'a> Subject<'a> {
    fn finding(f: &'a Finding) -> Subject<'a> {
        let tiers = f.tiers.iter();
        Subject {
            fingerprints: vec![&f.id],
            queries: tiers.clone().map(|t| t.query_id.as_str()).collect(),
            sources: vec![&f.principal.id, &f.principal.display_name],
            targets: [&f.scope.id, &f.scope.display_name]
                .into_iter()
                .map(String::as_str)
                .chain(tiers.flat_map(|t| t.targets.all_ids()))
                .collect(),
        }
    }

    fn pair(p: &'a ImpliedPair, fingerprint: &'a str, finding: &'a str) -> Subject<'a> {
        Subject {
            fingerprints: vec![fingerprint, finding],
            queries: vec![&p.query_id],
            sources: vec![&p.source],
            targets: vec![&p.target],
        }
    }

    fn posture(f: &'a PostureFinding, fingerprint: &'a str) -> Subject<'a> {
        Subject {
            fingerprints: vec![fingerprint],
            queries: vec![&f.check_id],
            sources: Vec::new(),
            targets: vec![&f.resource.id, &f.resource.display_name],
        }
    }
}

/// How many of one kind of item were found, already known, suppressed, and shown as new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BaselineCounts")]
pub struct Counts {
    /// In the current report.
    pub total: usize,
    /// Already in the baseline (0 without one).
    pub known: usize,
    /// Not known, but suppressed.
    pub suppressed: usize,
    /// Shown: neither known nor suppressed.
    pub new: usize,
}

/// Findings of one tier, shown and in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BaselineTierCounts")]
pub struct TierCounts {
    /// Query id.
    pub query_id: String,
    /// Findings shown (new, not suppressed).
    pub new: usize,
    /// Findings in the whole report.
    pub total: usize,
}

/// A pair shown as new, by identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NewPair {
    /// [`pair_fingerprint`].
    pub fingerprint: String,
    /// Query id.
    pub query_id: String,
    /// Principal id.
    pub source: String,
    /// Target id.
    pub target: String,
    /// The finding its best path rests on.
    pub finding: String,
}

/// What the baseline and suppressions removed (`baseline` in the JSON report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BaselineSummary {
    /// The baseline file (none: suppressions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Findings (path cores).
    pub findings: Counts,
    /// (query, principal, target) pairs the findings imply.
    pub pairs: Counts,
    /// Posture findings.
    pub posture: Counts,
    /// Per tier: findings shown of all.
    pub tiers: Vec<TierCounts>,
    /// The pairs shown, with their fingerprints (only with a baseline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_pairs: Vec<NewPair>,
}

/// Whether a suppression applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "SuppressionStatus")]
pub enum Status {
    /// It matched something and suppressed it.
    Active,
    /// Its date passed: it suppresses nothing (what it matches is shown and counts for `--fail-on`).
    Expired,
    /// It matches nothing in this report.
    Unused,
}

/// One `[[suppress]]` entry and what it did (`suppressions.entries` in the JSON report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SuppressionEntry")]
pub struct EntryStatus {
    /// Position in azpath.toml, from 0.
    pub index: usize,
    /// The entry.
    #[serde(flatten)]
    pub entry: Suppression,
    /// Whether it applied.
    pub status: Status,
    /// Findings, pairs and posture findings it matches (known ones included).
    pub matched: usize,
}

/// Every suppression's status (`suppressions` in the JSON report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SuppressionSummary {
    /// Findings suppressed.
    pub findings: usize,
    /// Pairs suppressed.
    pub pairs: usize,
    /// Posture findings suppressed.
    pub posture: usize,
    /// Per entry.
    pub entries: Vec<EntryStatus>,
}

/// What [`filter`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Known, suppressed and new counts.
    pub baseline: BaselineSummary,
    /// Each suppression's status.
    pub suppressions: SuppressionSummary,
}

impl Summary {
    /// Lines for stderr: the counts, then each expired and unused suppression.
    pub fn lines(&self) -> Vec<String> {
        let b = &self.baseline;
        let mut out = Vec::new();
        if let Some(file) = &b.file {
            out.push(format!(
                "azpath: baseline {file}: {} new of {} findings ({} already known), {} new of {} pairs, {} new of {} posture findings",
                b.findings.new, b.findings.total, b.findings.known, b.pairs.new, b.pairs.total, b.posture.new, b.posture.total
            ));
        }
        let s = &self.suppressions;
        if !s.entries.is_empty() {
            out.push(format!(
                "azpath: suppressed {} finding(s), {} pair(s), {} posture finding(s) by [[suppress]] entries",
                s.findings, s.pairs, s.posture
            ));
        }
        for e in &s.entries {
            let reason = e.entry.reason.as_deref().unwrap_or_default();
            match e.status {
                Status::Expired => out.push(format!(
                    "azpath: suppression [{}] ({reason}) expired on {}: it no longer suppresses its {} match(es)",
                    e.index,
                    e.entry.expires.as_deref().unwrap_or_default(),
                    e.matched
                )),
                Status::Unused => out.push(format!("azpath: suppression [{}] ({reason}) matches nothing", e.index)),
                Status::Active => {}
            }
        }
        out
    }
}

/// Removes from `report` what `known` holds and what active `suppressions` match, and says what it removed.
/// `today` decides which suppressions expired.
pub fn filter(report: Report, known: Option<&Known>, suppressions: &[Suppression], today: Date) -> (Report, Summary) {
    Filter::new(known, suppressions, today).run(report)
}

/// The state of one [`filter`] run.
struct Filter<'a> {
    known: Option<&'a Known>,
    entries: &'a [Suppression],
    active: Vec<bool>,
    matched: Vec<usize>,
    /// Pairs shown, per query id.
    shown_pairs: BTreeMap<String, usize>,
    summary: Summary,
}

/// Whether an item is shown, known or suppressed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Known,
    Suppressed,
    New,
}

impl<'a> Filter<'a> {
    fn new(known: Option<&'a Known>, entries: &'a [Suppression], today: Date) -> Filter<'a> {
        Filter {
            known,
            entries,
            active: entries.iter().map(|e| !e.expired(today)).collect(),
            matched: vec![0; entries.len()],
            shown_pairs: BTreeMap::new(),
            summary: Summary::default(),
        }
    }

    fn run(mut self, mut report: Report) -> (Report, Summary) {
        self.summary.baseline.file = self.known.map(|k| k.file.clone());
        let shown = self.findings(&report);
        self.pairs(&mut report, &shown);
        self.posture(&mut report);
        self.tiers(&mut report, &shown);
        keep_findings(&mut report, &shown);
        self.summary.suppressions.entries = self.statuses();
        (report, self.summary)
    }

    /// Classifies an item (whose identity in the baseline is `id` in `set`) that entry `e` matches when
    /// `matches(e)`, counting matches of every entry.
    fn verdict(
        &mut self,
        id: &str,
        set: impl Fn(&Known) -> &BTreeSet<String>,
        matches: impl Fn(&Suppression) -> bool,
    ) -> Verdict {
        let mut suppressed = false;
        for (i, e) in self.entries.iter().enumerate() {
            if matches(e) {
                self.matched[i] += 1;
                suppressed |= self.active[i];
            }
        }
        match () {
            _ if self.known.is_some_and(|k| set(k).contains(id)) => Verdict::Known,
            _ if suppressed => Verdict::Suppressed,
            _ => Verdict::New,
        }
    }

    fn findings(&mut self, report: &Report) -> BTreeSet<String> {
        let mut shown = BTreeSet::new();
        let mut counts = Counts::default();
        let mut implied: BTreeMap<String, Vec<ImpliedPair>> = BTreeMap::new();
        if !self.entries.is_empty() {
            report.for_each_implied(&mut |f, pair| match implied.get_mut(&f.id) {
                Some(pairs) => pairs.push(pair),
                None => drop(implied.insert(f.id.clone(), vec![pair])),
            });
        }
        for f in &report.findings {
            let pairs = implied.get(f.id.as_str()).map_or(&[][..], Vec::as_slice);
            let v = self.verdict(&f.id, |k| &k.findings, |e| e.matches_finding(f, pairs));
            tally(&mut counts, v);
            if v == Verdict::New {
                shown.insert(f.id.clone());
            }
        }
        self.summary.baseline.findings = counts;
        self.summary.suppressions.findings = counts.suppressed;
        shown
    }

    fn pairs(&mut self, report: &mut Report, shown_findings: &BTreeSet<String>) {
        let mut counts = Counts::default();
        let mut shown = BTreeSet::new();
        for (pair, Best { grants, finding }) in best_findings(report) {
            let fp = pair_fingerprint(&pair, &grants);
            let v = self.verdict(&fp, |k| &k.pairs, |e| e.matches(&Subject::pair(&pair, &fp, &finding)));
            tally(&mut counts, v);
            if v == Verdict::New && (self.known.is_some() || shown_findings.contains(&finding)) {
                if self.known.is_some() {
                    self.summary.baseline.new_pairs.push(NewPair {
                        fingerprint: fp.clone(),
                        query_id: pair.query_id.clone(),
                        source: pair.source.clone(),
                        target: pair.target.clone(),
                        finding,
                    });
                }
                shown.insert(pair);
            }
        }
        report.pairs.retain(|p| {
            shown.contains(&ImpliedPair {
                query_id: p.query_id.clone(),
                source: p.source.clone(),
                target: p.target.clone(),
            })
        });
        self.summary.baseline.pairs = counts;
        self.summary.suppressions.pairs = counts.suppressed;
        self.shown_pairs = shown.into_iter().map(|p| p.query_id).fold(BTreeMap::new(), |mut m, q| {
            *m.entry(q).or_insert(0) += 1;
            m
        });
    }

    fn posture(&mut self, report: &mut Report) {
        let mut counts = Counts::default();
        let posture = std::mem::take(&mut report.posture);
        for f in posture {
            let fp = posture_fingerprint(&f);
            let v = self.verdict(&fp, |k| &k.posture, |e| e.matches(&Subject::posture(&f, &fp)));
            tally(&mut counts, v);
            if v == Verdict::New {
                report.posture.push(f);
            }
        }
        self.summary.baseline.posture = counts;
        self.summary.suppressions.posture = counts.suppressed;
    }

    /// Tiers count the findings and pairs shown; the summary keeps "N new of M".
    fn tiers(&mut self, report: &mut Report, shown: &BTreeSet<String>) {
        let findings = &report.findings;
        for tier in &mut report.tiers {
            let of_tier = |f: &&Finding| f.tiers.iter().any(|t| t.query_id == tier.query_id);
            let all: Vec<&Finding> = findings.iter().filter(of_tier).collect();
            let kept: Vec<&&Finding> = all.iter().filter(|f| shown.contains(&f.id)).collect();
            tier.escalation_findings = kept.iter().filter(|f| f.reach == Reach::Escalation).count();
            tier.standing_findings = kept.len() - tier.escalation_findings;
            tier.pairs = self.shown_pairs.get(&tier.query_id).copied().unwrap_or(0);
            self.summary.baseline.tiers.push(TierCounts {
                query_id: tier.query_id.clone(),
                new: kept.len(),
                total: all.len(),
            });
        }
    }

    fn statuses(&self) -> Vec<EntryStatus> {
        let status = |i: usize| match (self.active[i], self.matched[i]) {
            (false, _) => Status::Expired,
            (true, 0) => Status::Unused,
            (true, _) => Status::Active,
        };
        (self.entries.iter().enumerate())
            .map(|(i, e)| EntryStatus { index: i, entry: e.clone(), status: status(i), matched: self.matched[i] })
            .collect()
    }
}

fn tally(c: &mut Counts, v: Verdict) {
    c.total += 1;
    match v {
        Verdict::Known => c.known += 1,
        Verdict::Suppressed => c.suppressed += 1,
        Verdict::New => c.new += 1,
    }
}

/// Keeps the findings in `shown`, the member sets they name, the choke points that still rest on one of them,
/// and the plan's steps and remainders among those.
fn keep_findings(report: &mut Report, shown: &BTreeSet<String>) {
    report.findings.retain(|f| shown.contains(&f.id));
    let sets: BTreeSet<String> = report.needed_sets().into_iter().cloned().collect();
    report.member_sets.retain(|k, _| sets.contains(k));
    for c in &mut report.choke_points {
        c.findings.retain(|id| shown.contains(id));
    }
    report.choke_points.retain(|c| !c.findings.is_empty());
    let points: BTreeSet<&String> = report.choke_points.iter().map(|c| &c.id).collect();
    report.plan.steps.retain(|s| points.contains(s));
    report.plan.remaining.retain(|id| shown.contains(id));
}

/// The exit code once the report is filtered: with a baseline, [`crate::cli::exit::NEW_FINDINGS`] when a
/// finding or posture finding shown is at or above `fail_on`, else OK; without one, FINDINGS in that case.
pub fn exit_code(report: &Report, fail_on: Option<Severity>, with_baseline: bool) -> u8 {
    use crate::cli::exit;
    let Some(min) = fail_on else { return exit::OK };
    let fails = report.findings.iter().any(|f| f.severity >= min) || report.posture.iter().any(|f| f.severity >= min);
    match (fails, with_baseline) {
        (false, _) => exit::OK,
        (true, true) => exit::NEW_FINDINGS,
        (true, false) => exit::FINDINGS,
    }
}

/// Adds the optional `baseline` and `suppressions` objects ([`Summary`], written with `--baseline` or
/// `[[suppress]]`) to the JSON report's schema (`azpath schema report`).
pub fn extend_report_schema(report: &mut serde_json::Value) {
    let generator = schemars::generate::SchemaSettings::draft2020_12().for_serialize().into_generator();
    let summary = generator.into_root_schema_for::<Summary>().to_value();
    for (table, key) in [("properties", "baseline"), ("properties", "suppressions")] {
        if let (Some(to), Some(v)) = (report[table].as_object_mut(), summary[table].get(key)) {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                let what = if key == "baseline" { "--baseline or [[suppress]]" } else { "[[suppress]]" };
                o.insert(
                    "description".into(),
                    format!("Only with {what}: see README \"Baselines and suppressions\".").into(),
                );
            }
            to.insert(key.into(), v);
        }
    }
    if let (Some(to), Some(defs)) = (report["$defs"].as_object_mut(), summary["$defs"].as_object()) {
        for (name, def) in defs {
            to.entry(name.clone()).or_insert_with(|| def.clone());
        }
    }
}

/// Writes the JSON report with the summary as its `baseline` and `suppressions` objects.
pub fn render_json(report: &Report, summary: &Summary, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("baseline".into(), serde_json::to_value(&summary.baseline)?);
        map.insert("suppressions".into(), serde_json::to_value(&summary.suppressions)?);
    }
    crate::render::write_json_lines(&value, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_filtered_by_a_baseline_is_refused_as_a_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let report = Report { schema_version: REPORT_SCHEMA_VERSION, ..Default::default() };
        let mut summary = Summary::default();
        let (plain, filtered) = (dir.path().join("plain.json"), dir.path().join("filtered.json"));
        let mut text = Vec::new();
        render_json(&report, &summary, &mut text).unwrap();
        std::fs::write(&plain, &text).unwrap();
        assert!(load(&plain, |_| unreachable!()).is_ok(), "suppressions alone do not make a report partial");
        summary.baseline.file = Some("monday.json".into());
        let mut text = Vec::new();
        render_json(&report, &summary, &mut text).unwrap();
        std::fs::write(&filtered, &text).unwrap();
        let err = load(&filtered, |_| unreachable!()).unwrap_err().to_string();
        assert!(
            err.contains("filtered.json") && err.contains("--baseline monday.json") && err.contains("--snapshot"),
            "{err}"
        );
    }

    /// A finding kept whose member set names another set keeps that set too, though the finding that named it
    /// first is filtered out: the report written still resolves every member.
    #[test]
    fn keeping_a_finding_keeps_the_sets_its_member_set_names() {
        use azpath_graph::findings::{Affected, MemberSet, NodeRef, Remediation, SetRef};
        use azpath_graph::model::NodeKind;
        use std::sync::Arc;
        let node = |kind, id: &str| NodeRef { kind, id: id.into(), display_name: id.into() };
        let shared = |kind, id: &str| Arc::new(node(kind, id));
        let group = MemberSet::of(vec![(shared(NodeKind::User, "u1"), 0), (shared(NodeKind::User, "u2"), 0)]);
        let group_key = group.key();
        let pivot = MemberSet {
            refs: vec![SetRef { key: group_key.clone(), bits: MemberSet::ESCALATES, except: vec![] }],
            ..MemberSet::of(vec![(shared(NodeKind::Group, "g"), MemberSet::ESCALATES)])
        };
        let finding = |id: &str, principal: NodeRef, set: &str| Finding {
            id: id.into(),
            reach: Reach::Escalation,
            severity: Severity::High,
            principal: principal.clone(),
            scope: principal,
            hops: vec![],
            eligible: false,
            conditional: false,
            members: Affected::default(),
            member_set: Some(set.into()),
            tiers: vec![],
            fix: String::new(),
            remediation: Remediation { summary: String::new(), command: None },
        };
        let mut report = Report { schema_version: REPORT_SCHEMA_VERSION, ..Default::default() };
        let pivot_key = report.resolve(&pivot).key();
        report.findings = vec![
            finding("f-group", node(NodeKind::Group, "g"), &group_key),
            finding("f-pivot", node(NodeKind::KubeClusterAdmin, "c#admin"), &pivot_key),
        ];
        report.member_sets = [(group_key.clone(), group), (pivot_key.clone(), pivot)].into();
        keep_findings(&mut report, &BTreeSet::from(["f-pivot".to_string()]));
        assert_eq!(report.findings.len(), 1);
        assert!(report.member_sets.contains_key(&group_key), "the named set stays");
        let back: Report = serde_json::from_value(serde_json::to_value(&report).unwrap()).unwrap();
        let members = back.members_of(&back.findings[0]).unwrap();
        assert_eq!(members.all_ids().collect::<Vec<_>>(), ["u1", "u2", "g"]);
        // Nothing names the set any more once the pivot's finding goes too.
        keep_findings(&mut report, &BTreeSet::new());
        assert!(report.member_sets.is_empty());
    }

    #[test]
    fn glob_matches_stars_and_question_marks_case_insensitively() {
        assert!(glob_match("/subscriptions/*", "/subscriptions/837C/resourcegroups/rg"));
        assert!(glob_match("guest-*-owner", "GUEST-to-OWNER"));
        assert!(glob_match("a?c", "abc") && glob_match("*", "") && glob_match("**x", "x"));
        assert!(!glob_match("/subscriptions/*", "/providers/x"));
        assert!(!glob_match("a?c", "ac") && !glob_match("abc", "abcd") && !glob_match("*b", "abc"));
    }

    fn entry(text: &str) -> Suppression {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn entries_need_a_reason_and_one_kind_of_match() {
        let ok = entry("query = \"q\"\nreason = \"r\"\nexpires = \"2030-02-28\"");
        assert_eq!(ok.check(), Ok(()));
        let key = |text: &str| entry(text).check().unwrap_err().0;
        assert_eq!(key("query = \"q\""), "reason");
        assert_eq!(key("query = \"q\"\nreason = \" \""), "reason");
        assert_eq!(key("reason = \"r\""), "fingerprint");
        assert_eq!(
            key("reason = \"r\"\nfingerprint = \"0123456789abcdef0123456789abcdef\"\nquery = \"q\""),
            "fingerprint"
        );
        assert_eq!(key("reason = \"r\"\nfingerprint = \"xyz\""), "fingerprint");
        assert_eq!(key("reason = \"r\"\ntarget = \"\""), "target");
        assert_eq!(key("reason = \"r\"\nquery = \"q\"\nexpires = \"2030-02-30\""), "expires");
    }

    #[test]
    fn an_entry_applies_through_its_expiry_day() {
        let e = entry("query = \"q\"\nreason = \"r\"\nexpires = \"2030-01-31\"");
        let day = |d: u8| Date::from_calendar_date(2030, time::Month::January, d).unwrap();
        assert!(!e.expired(day(31)));
        assert!(e.expired(Date::from_calendar_date(2030, time::Month::February, 1).unwrap()));
        assert!(!entry("query = \"q\"\nreason = \"r\"").expired(day(1)));
    }

    #[test]
    fn summary_lines_name_expired_and_unused_entries() {
        let e = entry("query = \"q\"\nreason = \"why\"\nexpires = \"2000-01-01\"");
        let summary = Summary {
            suppressions: SuppressionSummary {
                entries: vec![
                    EntryStatus { index: 0, entry: e.clone(), status: Status::Expired, matched: 2 },
                    EntryStatus { index: 1, entry: e.clone(), status: Status::Unused, matched: 0 },
                    EntryStatus { index: 2, entry: e, status: Status::Active, matched: 1 },
                ],
                ..Default::default()
            },
            ..Default::default()
        };
        let lines = summary.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[1].contains("[0] (why) expired on 2000-01-01") && lines[2].contains("[1] (why) matches nothing"));
    }
}
