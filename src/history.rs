//! The history store (`--history FILE`, `azpath history …`): one SQLite file (rusqlite, SQLite compiled in)
//! recording each scan's time and tenant, exposure per tier and findings (id, severity, query ids, reach),
//! with when each finding was first and last seen. WAL journal and a busy timeout let concurrent scans write
//! one store: each write is one immediate transaction, so a second writer waits instead of failing or
//! corrupting it. The schema version is the `user_version` pragma; a store written by a newer azpath is refused.
//!
//! Finding ids are the report's `Finding.id` (the same as JSON and SARIF `partialFingerprints`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rustc_hash::FxHashMap;
use serde::Serialize;
use time::OffsetDateTime;

use azpath_graph::findings::Report;

/// The schema this azpath writes (the `user_version` pragma).
pub const SCHEMA_VERSION: i64 = 5;

/// How long a writer waits for another one before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

const SCHEMA_V1: &str = "
CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    tool_version TEXT NOT NULL
);
CREATE TABLE exposure (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    query_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    principals INTEGER NOT NULL,
    standing INTEGER NOT NULL,
    escalation INTEGER NOT NULL,
    population INTEGER NOT NULL,
    PRIMARY KEY (scan_id, query_id)
);
CREATE TABLE findings (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    severity TEXT NOT NULL,
    reach TEXT NOT NULL,
    queries TEXT NOT NULL,
    principal TEXT NOT NULL,
    scope TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    first_scan INTEGER NOT NULL,
    last_seen TEXT NOT NULL,
    last_scan INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE scan_findings (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (scan_id, finding_id)
);
";

/// Version 2: each exposure figure's runs of one value (first and last seen of each value it took).
const SCHEMA_V2: &str = "
CREATE TABLE exposure_runs (
    tenant TEXT NOT NULL,
    query_id TEXT NOT NULL,
    figure TEXT NOT NULL,
    value INTEGER NOT NULL,
    previous INTEGER,
    first_seen TEXT NOT NULL,
    first_scan INTEGER NOT NULL,
    last_seen TEXT NOT NULL,
    last_scan INTEGER NOT NULL,
    PRIMARY KEY (tenant, query_id, figure, first_scan)
);
";

/// Version 3: a digest of each scan's report, so that importing a report twice records it once.
const SCHEMA_V3: &str = "
ALTER TABLE scans ADD COLUMN digest TEXT;
CREATE INDEX scans_digest ON scans (digest);
";

/// Version 4: pairs. One row per pair fingerprint (what identifies it, the finding its best path rests on,
/// when it was first seen), and per scan the pairs it saw as runs of row ids (pairs are numbered as they first
/// appear, so the pairs of a scan are few long runs): a scan costs a few bytes, not a row per pair.
const SCHEMA_V4: &str = "
CREATE TABLE pairs (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    query_id TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    finding TEXT NOT NULL,
    first_scan INTEGER NOT NULL,
    UNIQUE (tenant, fingerprint)
);
CREATE TABLE scan_pairs (
    scan_id INTEGER PRIMARY KEY REFERENCES scans(id) ON DELETE CASCADE,
    runs BLOB NOT NULL
);
";

/// Version 5: pairs by number. Every id a pair row names (tenant, query, principal, target, the grant key of
/// the finding its best path rests on, that finding) is a row of `names`, and a pair row is those numbers: a
/// few bytes instead of a few hundred, and recording hashes no pair (`history diff` computes the fingerprints
/// it lists). A pair is the same pair while its tenant, query, source, target and grant key are (what its
/// fingerprint hashes). Version 4's pairs, stored by fingerprint with no grant key to number, are dropped:
/// `history diff` says their scans' pairs were not recorded.
const SCHEMA_V5: &str = "
DELETE FROM scan_pairs;
DROP TABLE pairs;
CREATE TABLE names (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE pairs (
    id INTEGER PRIMARY KEY,
    tenant INTEGER NOT NULL,
    query INTEGER NOT NULL,
    source INTEGER NOT NULL,
    target INTEGER NOT NULL,
    grants INTEGER NOT NULL,
    finding INTEGER NOT NULL,
    first_scan INTEGER NOT NULL
);
";

/// The schema steps: `MIGRATIONS[i]` takes a store from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];

/// The exposure figures whose value changes are tracked, as `history trend` names them.
pub const FIGURES: [&str; 3] = ["principals", "standing", "escalation"];

/// Why the history store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite refused an operation on the store.
    #[error("history store {}: {what}", path.display())]
    Sql {
        /// The store.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The store was written by a newer azpath.
    #[error(
        "history store {}: schema version {found} was written by a newer azpath (this one reads up to {SCHEMA_VERSION}); upgrade azpath or give another --history file",
        path.display()
    )]
    Newer {
        /// The store.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// A scan id that is not in the store.
    #[error("history store {}: no scan {id} (see `azpath history list`)", path.display())]
    NoScan {
        /// The store.
        path: PathBuf,
        /// The id asked for.
        id: i64,
    },
    /// A file of `history import` that cannot be read.
    #[error("history import: reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: crate::input::InputError,
    },
    /// The directory of `history import` cannot be listed.
    #[error("history import: listing {}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A file of `history import` that is not a report this azpath reads.
    #[error("history import: {} at `{field}`: {message}", path.display())]
    NotAReport {
        /// The file.
        path: PathBuf,
        /// The JSON path of the bad field (`.` for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// `history diff` without two scans.
    #[error("history store {}: `history diff` needs two scans, the store has {count}", path.display())]
    TooFew {
        /// The store.
        path: PathBuf,
        /// Scans recorded.
        count: usize,
    },
}

/// One finding as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// `Finding.id`.
    pub id: String,
    /// Severity.
    pub severity: String,
    /// `escalation` or `standing`.
    pub reach: String,
    /// Query ids of its tiers, comma-separated.
    pub queries: String,
    /// The principal's id.
    pub principal: String,
    /// Where it lands (scope id).
    pub scope: String,
    /// When a scan first saw it (RFC 3339).
    pub first_seen: String,
    /// The scan that first saw it.
    pub first_scan: i64,
    /// When a scan last saw it.
    pub last_seen: String,
    /// The scan that last saw it.
    pub last_scan: i64,
}

/// One exposure figure of a tier holding one value over consecutive scans: when it took the value (the change
/// from `previous`) and when a scan last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureRun {
    /// Query id (tier).
    pub query_id: String,
    /// `principals`, `standing` or `escalation` ([`FIGURES`]).
    pub figure: String,
    /// The value it held.
    pub value: i64,
    /// The value before (`None`: the first scan that saw the tier).
    pub previous: Option<i64>,
    /// When a scan first saw this value (RFC 3339).
    pub first_seen: String,
    /// The scan that first saw it.
    pub first_scan: i64,
    /// When a scan last saw it.
    pub last_seen: String,
    /// The scan that last saw it.
    pub last_scan: i64,
}

/// One tier's exposure in one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureRow {
    /// Query id.
    pub query_id: String,
    /// Query severity.
    pub severity: String,
    /// Principals reaching it.
    pub principals: i64,
    /// Of those, holding it by a standing grant.
    pub standing: i64,
    /// Of those, only by escalation.
    pub escalation: i64,
    /// Principals in the tenant.
    pub population: i64,
}

/// One recorded scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanRow {
    /// Id (increasing).
    pub id: i64,
    /// When it was recorded (RFC 3339, UTC).
    pub time: String,
    /// When its snapshot was collected.
    pub collected_at: String,
    /// Tenant id (empty when the snapshot does not say).
    pub tenant: String,
    /// azpath version.
    pub tool_version: String,
    /// Findings it saw.
    pub findings: i64,
}

/// One scan in a trend: exposure per tier and findings per severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendRow {
    /// The scan.
    #[serde(flatten)]
    pub scan: ScanRow,
    /// Per tier.
    pub exposure: Vec<ExposureRow>,
    /// Findings per severity (critical first); severities without findings are left out.
    pub by_severity: Vec<(String, i64)>,
    /// Exposure figures whose value changed at this scan (runs that start here and have a previous value).
    pub changes: Vec<ExposureRun>,
}

/// What appeared and disappeared between two scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffRows {
    /// The older scan.
    pub from: ScanRow,
    /// The newer scan.
    pub to: ScanRow,
    /// Findings in `to` and not in `from`.
    pub appeared: Vec<FindingRow>,
    /// Findings in `from` and not in `to`.
    pub disappeared: Vec<FindingRow>,
    /// Pairs in `to` and not in `from` (empty when `pairs_unrecorded` names a scan).
    pub appeared_pairs: Vec<PairRow>,
    /// Pairs in `from` and not in `to`.
    pub disappeared_pairs: Vec<PairRow>,
    /// Of the two scans, those whose pairs were not recorded (by an azpath that recorded pairs only with
    /// `--expand`): pairs are not compared then.
    pub pairs_unrecorded: Vec<i64>,
}

/// One (query, principal, target) pair as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairRow {
    /// `baseline::pair_fingerprint` (as `--baseline` and `[[suppress]]` name pairs).
    pub fingerprint: String,
    /// Query id.
    pub query_id: String,
    /// The principal's id.
    pub source: String,
    /// The target's id.
    pub target: String,
    /// The finding its best path rests on.
    pub finding: String,
    /// The scan that first saw it.
    pub first_scan: i64,
}

/// An open history store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Switches the store to the WAL journal. Switching takes the database exclusively, and SQLite answers "database
/// is locked" at once, without its busy handler, when another process is switching or creating the store at
/// the same moment: retried until the busy timeout.
fn wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl Store {
    /// Opens (creating when missing) the store at `path`, migrating an older schema; a newer one is refused.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        let conn = Connection::open(path).map_err(sql(path, "opening"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql(path, "setting the busy timeout"))?;
        wal(&conn).map_err(sql(path, "switching to the WAL journal"))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql(path, "enabling foreign keys"))?;
        let mut store = Store { conn, path: path.to_owned() };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, what: &'static str) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |source| HistoryError::Sql { path: self.path.clone(), what, source }
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(&path, "locking"))?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql(&path, "reading"))?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError::Newer { path: self.path.clone(), found: version });
        }
        for step in MIGRATIONS.iter().skip(usize::try_from(version).unwrap_or(0)) {
            tx.execute_batch(step).map_err(sql(&path, "upgrading the schema"))?;
        }
        if version < 2 {
            rebuild_runs(&tx).map_err(sql(&path, "computing exposure first/last seen"))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sql(&path, "writing the schema version"))?;
        tx.commit().map_err(sql(&path, "committing the schema"))
    }

    /// Records one scan of `report` (tenant `tenant`, at `now`) and returns its id: its exposure per tier,
    /// its findings, and each finding's first/last seen.
    pub fn record(&mut self, report: &Report, tenant: &str, now: OffsetDateTime) -> Result<i64, HistoryError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(&path, "locking"))?;
        let scan = insert_scan(&tx, &path, report, tenant, &rfc3339(now))?;
        tx.commit().map_err(sql(&path, "committing the scan"))?;
        Ok(scan)
    }

    /// Imports reports written earlier (`--format json`), as if each had been recorded live when its snapshot
    /// was collected: in that order, as scans of `tenant`. A report already in the store (the same digest:
    /// tenant, collection time, version, findings and exposure) is skipped, so importing twice adds nothing.
    /// One transaction: all are imported or none.
    pub fn import(&mut self, reports: &[ReportFile], tenant: &str) -> Result<Imported, HistoryError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(&path, "locking"))?;
        let newest: Option<String> = tx
            .query_row("SELECT MAX(time) FROM scans", [], |r| r.get(0))
            .map_err(sql(&path, "reading the newest scan"))?;
        let mut order: Vec<&ReportFile> = reports.iter().collect();
        order.sort_by(|a, b| (&a.time, &a.path).cmp(&(&b.time, &b.path)));
        let mut done = Imported::default();
        for file in order {
            let digest = digest(&file.report, tenant);
            let known: bool = tx
                .query_row("SELECT EXISTS (SELECT 1 FROM scans WHERE digest = ?1)", [&digest], |r| r.get(0))
                .map_err(sql(&path, "looking for an imported report"))?;
            if known {
                done.skipped.push(file.path.clone());
                continue;
            }
            insert_scan(&tx, &path, &file.report, tenant, &file.time)?;
            done.imported.push(file.path.clone());
        }
        let earlier = newest.is_some_and(|n| reports.iter().any(|r| r.time < n));
        if earlier && !done.imported.is_empty() {
            rebuild_runs(&tx).map_err(sql(&path, "computing exposure first/last seen"))?;
            tx.execute(EARLIEST_FIRST_SEEN, []).map_err(sql(&path, "computing findings' first seen"))?;
        }
        tx.commit().map_err(sql(&path, "committing the import"))?;
        Ok(done)
    }
}

/// Records one scan in an open transaction: the scan, its exposure (and each figure's runs) and its findings
/// (first seen when new; attributes and last seen when this scan is the newest that saw it).
fn insert_scan(tx: &Connection, path: &Path, report: &Report, tenant: &str, time: &str) -> Result<i64, HistoryError> {
    tx.execute(
        "INSERT INTO scans (time, collected_at, tenant, tool_version, digest) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![time, report.collected_at, tenant, report.tool_version, digest(report, tenant)],
    )
    .map_err(sql(path, "recording the scan"))?;
    let scan = tx.last_insert_rowid();
    for t in &report.tiers {
        let e = &t.exposure;
        tx.execute(
            "INSERT INTO exposure VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                scan,
                t.query_id,
                t.severity.as_str(),
                n(e.principals),
                n(e.standing),
                n(e.escalation),
                n(e.population)
            ],
        )
        .map_err(sql(path, "recording exposure"))?;
        for (figure, value) in FIGURES.into_iter().zip([e.principals, e.standing, e.escalation]) {
            let at = Seen { tenant, query_id: &t.query_id, scan, time };
            advance(tx, &at, figure, n(value)).map_err(sql(path, "recording exposure"))?;
        }
    }
    for f in &report.findings {
        let queries: Vec<&str> = f.tiers.iter().map(|t| t.query_id.as_str()).collect();
        tx.execute(
                "INSERT INTO findings VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?9)
                 ON CONFLICT (tenant, id) DO UPDATE SET severity = ?3, reach = ?4, queries = ?5, last_seen = ?8, last_scan = ?9
                 WHERE ?8 >= findings.last_seen",
                params![tenant, f.id, f.severity.as_str(), f.reach.as_str(), queries.join(","), f.principal.id, f.scope.id, time, scan],
            )
            .map_err(sql(path, "recording a finding"))?;
        tx.execute("INSERT OR IGNORE INTO scan_findings VALUES (?1, ?2, ?3)", params![scan, f.id, f.severity.as_str()])
            .map_err(sql(path, "recording a finding"))?;
    }
    insert_pairs(tx, report, tenant, scan).map_err(sql(path, "recording pairs"))?;
    Ok(scan)
}

impl Store {
    /// Every scan, oldest first.
    pub fn scans(&self) -> Result<Vec<ScanRow>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.time, s.collected_at, s.tenant, s.tool_version,
                        (SELECT COUNT(*) FROM scan_findings f WHERE f.scan_id = s.id)
                 FROM scans s ORDER BY s.time, s.id",
            )
            .map_err(self.err("listing scans"))?;
        let rows = stmt.query_map([], scan_row).map_err(self.err("listing scans"))?;
        rows.collect::<Result<_, _>>().map_err(self.err("listing scans"))
    }

    fn scan(&self, id: i64) -> Result<ScanRow, HistoryError> {
        self.scans()?.into_iter().find(|s| s.id == id).ok_or(HistoryError::NoScan { path: self.path.clone(), id })
    }

    /// Exposure per tier and findings per severity, scan by scan.
    pub fn trend(&self) -> Result<Vec<TrendRow>, HistoryError> {
        self.scans()?
            .into_iter()
            .map(|scan| {
                let exposure = self.exposure(scan.id)?;
                let by_severity = self.by_severity(scan.id)?;
                let changes = self.changes(scan.id)?;
                Ok(TrendRow { scan, exposure, by_severity, changes })
            })
            .collect()
    }

    fn exposure(&self, scan: i64) -> Result<Vec<ExposureRow>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT query_id, severity, principals, standing, escalation, population FROM exposure
                 WHERE scan_id = ?1 ORDER BY query_id",
            )
            .map_err(self.err("reading exposure"))?;
        let rows = stmt
            .query_map([scan], |r| {
                Ok(ExposureRow {
                    query_id: r.get(0)?,
                    severity: r.get(1)?,
                    principals: r.get(2)?,
                    standing: r.get(3)?,
                    escalation: r.get(4)?,
                    population: r.get(5)?,
                })
            })
            .map_err(self.err("reading exposure"))?;
        rows.collect::<Result<_, _>>().map_err(self.err("reading exposure"))
    }

    /// Exposure runs that started at `scan` with a previous value: the figures that changed there.
    fn changes(&self, scan: i64) -> Result<Vec<ExposureRun>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{RUN_COLUMNS} WHERE first_scan = ?1 AND previous IS NOT NULL ORDER BY query_id, figure"))
            .map_err(self.err("reading exposure changes"))?;
        let rows = stmt.query_map([scan], run_row).map_err(self.err("reading exposure changes"))?;
        rows.collect::<Result<_, _>>().map_err(self.err("reading exposure changes"))
    }

    /// Every run of one value of `tenant`'s exposure figures, per tier and figure, oldest first.
    pub fn exposure_runs(&self, tenant: &str) -> Result<Vec<ExposureRun>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{RUN_COLUMNS} WHERE tenant = ?1 ORDER BY query_id, figure, first_seen, first_scan"))
            .map_err(self.err("reading exposure runs"))?;
        let rows = stmt.query_map([tenant], run_row).map_err(self.err("reading exposure runs"))?;
        rows.collect::<Result<_, _>>().map_err(self.err("reading exposure runs"))
    }

    fn by_severity(&self, scan: i64) -> Result<Vec<(String, i64)>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT severity, COUNT(*) FROM scan_findings WHERE scan_id = ?1 GROUP BY severity")
            .map_err(self.err("counting findings"))?;
        let rows = stmt.query_map([scan], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.err("counting findings"))?;
        let mut out: Vec<(String, i64)> = rows.collect::<Result<_, _>>().map_err(self.err("counting findings"))?;
        let rank = |s: &str| azpath_graph::model::Severity::parse(s).map(std::cmp::Reverse);
        out.sort_by_key(|a| rank(&a.0));
        Ok(out)
    }

    /// What appeared and disappeared between scans `a` and `b` (default: the last two).
    pub fn diff(&self, a: Option<i64>, b: Option<i64>) -> Result<DiffRows, HistoryError> {
        let (from, to) = match (a, b) {
            (Some(a), Some(b)) => (self.scan(a)?, self.scan(b)?),
            (Some(a), None) => {
                let last = self.scans()?.pop().ok_or(HistoryError::TooFew { path: self.path.clone(), count: 0 })?;
                (self.scan(a)?, last)
            }
            _ => {
                let mut all = self.scans()?;
                let count = all.len();
                let (Some(to), Some(from)) = (all.pop(), all.pop()) else {
                    return Err(HistoryError::TooFew { path: self.path.clone(), count });
                };
                (from, to)
            }
        };
        let appeared = self.only_in(to.id, from.id, &to.tenant)?;
        let disappeared = self.only_in(from.id, to.id, &from.tenant)?;
        let (old, new) = (self.pair_ids(from.id)?, self.pair_ids(to.id)?);
        let pairs_unrecorded: Vec<i64> =
            [(from.id, &old), (to.id, &new)].into_iter().filter(|(_, ids)| ids.is_none()).map(|(id, _)| id).collect();
        let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
        let (appeared_pairs, disappeared_pairs) = if pairs_unrecorded.is_empty() {
            (self.pair_rows(new.difference(&old))?, self.pair_rows(old.difference(&new))?)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(DiffRows { from, to, appeared, disappeared, appeared_pairs, disappeared_pairs, pairs_unrecorded })
    }

    /// The pair row ids scan `scan` saw (`None`: its pairs were not recorded).
    fn pair_ids(&self, scan: i64) -> Result<Option<BTreeSet<i64>>, HistoryError> {
        let runs: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT runs FROM scan_pairs WHERE scan_id = ?1", [scan], |r| r.get(0))
            .optional()
            .map_err(self.err("reading a scan's pairs"))?;
        Ok(runs.map(|r| runs::decode(&r).collect()))
    }

    fn pair_rows<'a>(&self, ids: impl Iterator<Item = &'a i64>) -> Result<Vec<PairRow>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT q.text, s.text, t.text, g.text, f.text, p.first_scan FROM pairs p
                 JOIN names q ON q.id = p.query JOIN names s ON s.id = p.source JOIN names t ON t.id = p.target
                 JOIN names g ON g.id = p.grants JOIN names f ON f.id = p.finding
                 WHERE p.id = ?1",
            )
            .map_err(self.err("reading pairs"))?;
        let mut out = Vec::new();
        for id in ids {
            let row = stmt
                .query_row([id], |r| {
                    let (query_id, source, target, grants): (String, String, String, String) =
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                    let pair = crate::baseline::PairRef { query_id: &query_id, source: &source, target: &target };
                    Ok(PairRow {
                        fingerprint: crate::baseline::pair_ref_fingerprint(pair, &grants),
                        query_id,
                        source,
                        target,
                        finding: r.get(4)?,
                        first_scan: r.get(5)?,
                    })
                })
                .map_err(self.err("reading pairs"))?;
            out.push(row);
        }
        out.sort_by(|a, b| (&a.query_id, &a.target, &a.source).cmp(&(&b.query_id, &b.target, &b.source)));
        Ok(out)
    }

    /// Findings of scan `a` that scan `b` did not see.
    fn only_in(&self, a: i64, b: i64, tenant: &str) -> Result<Vec<FindingRow>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.id, sf.severity, f.reach, f.queries, f.principal, f.scope, f.first_seen, f.first_scan,
                        f.last_seen, f.last_scan
                 FROM scan_findings sf JOIN findings f ON f.id = sf.finding_id AND f.tenant = ?3
                 WHERE sf.scan_id = ?1
                   AND sf.finding_id NOT IN (SELECT finding_id FROM scan_findings WHERE scan_id = ?2)
                 ORDER BY f.id",
            )
            .map_err(self.err("comparing scans"))?;
        let rows = stmt.query_map(params![a, b, tenant], finding_row).map_err(self.err("comparing scans"))?;
        rows.collect::<Result<_, _>>().map_err(self.err("comparing scans"))
    }

    /// One finding's record in `tenant`.
    pub fn finding(&self, tenant: &str, id: &str) -> Result<Option<FindingRow>, HistoryError> {
        self.conn
            .query_row(
                "SELECT id, severity, reach, queries, principal, scope, first_seen, first_scan, last_seen, last_scan
                 FROM findings WHERE tenant = ?1 AND id = ?2",
                params![tenant, id],
                finding_row,
            )
            .optional()
            .map_err(self.err("reading a finding"))
    }

    /// Removes scans beyond the newest `keep` and those recorded more than `keep_days` days before `now`, then
    /// findings and exposure values no remaining scan saw (first seen stays as recorded). Returns how many scans were removed.
    pub fn prune(
        &mut self,
        keep: Option<usize>,
        keep_days: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<usize, HistoryError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(&path, "locking"))?;
        let mut removed = 0;
        if let Some(keep) = keep {
            let keep = n(keep);
            removed += tx
                .execute(
                    "DELETE FROM scans WHERE id NOT IN (SELECT id FROM scans ORDER BY time DESC, id DESC LIMIT ?1)",
                    [keep],
                )
                .map_err(sql(&path, "removing old scans"))?;
        }
        if let Some(days) = keep_days {
            let cutoff = rfc3339(now - time::Duration::days(i64::from(days)));
            removed +=
                tx.execute("DELETE FROM scans WHERE time < ?1", [cutoff]).map_err(sql(&path, "removing old scans"))?;
        }
        if removed > 0 {
            forget_pairs(&tx).map_err(sql(&path, "removing pairs no remaining scan saw"))?;
        }
        tx.execute("DELETE FROM exposure_runs WHERE last_scan NOT IN (SELECT id FROM scans)", [])
            .map_err(sql(&path, "removing exposure no remaining scan saw"))?;
        tx.execute("DELETE FROM findings WHERE NOT EXISTS (SELECT 1 FROM scan_findings sf JOIN scans s ON s.id = sf.scan_id WHERE sf.finding_id = findings.id AND s.tenant = findings.tenant)", [])
            .map_err(sql(&path, "removing findings no scan saw"))?;
        tx.commit().map_err(sql(&path, "committing the removal"))?;
        Ok(removed)
    }
}

const RUN_COLUMNS: &str =
    "SELECT query_id, figure, value, previous, first_seen, first_scan, last_seen, last_scan FROM exposure_runs";

fn run_row(r: &rusqlite::Row) -> rusqlite::Result<ExposureRun> {
    Ok(ExposureRun {
        query_id: r.get(0)?,
        figure: r.get(1)?,
        value: r.get(2)?,
        previous: r.get(3)?,
        first_seen: r.get(4)?,
        first_scan: r.get(5)?,
        last_seen: r.get(6)?,
        last_scan: r.get(7)?,
    })
}

/// Where a figure was seen: a tier of a tenant in one scan at one time.
struct Seen<'a> {
    tenant: &'a str,
    query_id: &'a str,
    scan: i64,
    time: &'a str,
}

/// Records that `figure` of a tier had `value` at a scan: the figure's latest run is extended when it holds
/// the same value, else a run starts with the latest value as its previous one. Scans must come in time order.
fn advance(conn: &Connection, at: &Seen, figure: &str, value: i64) -> rusqlite::Result<()> {
    let latest: Option<(i64, i64)> = conn
        .query_row(
            "SELECT first_scan, value FROM exposure_runs WHERE tenant = ?1 AND query_id = ?2 AND figure = ?3
             ORDER BY last_seen DESC, last_scan DESC LIMIT 1",
            params![at.tenant, at.query_id, figure],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match latest {
        Some((first_scan, old)) if old == value => conn.execute(
            "UPDATE exposure_runs SET last_seen = ?5, last_scan = ?6
             WHERE tenant = ?1 AND query_id = ?2 AND figure = ?3 AND first_scan = ?4",
            params![at.tenant, at.query_id, figure, first_scan, at.time, at.scan],
        )?,
        latest => conn.execute(
            "INSERT INTO exposure_runs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?7)",
            params![at.tenant, at.query_id, figure, value, latest.map(|l| l.1), at.time, at.scan],
        )?,
    };
    Ok(())
}

/// Computes every exposure run again from the recorded exposure, scans in time order (an upgraded store, or
/// scans imported out of order).
fn rebuild_runs(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM exposure_runs", [])?;
    let mut stmt = conn.prepare(
        "SELECT s.tenant, e.query_id, s.id, s.time, e.principals, e.standing, e.escalation
         FROM exposure e JOIN scans s ON s.id = e.scan_id ORDER BY s.time, s.id, e.query_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get(2)?,
            r.get::<_, String>(3)?,
            [r.get(4)?, r.get(5)?, r.get(6)?],
        ))
    })?;
    for row in rows {
        let (tenant, query_id, scan, time, values): (String, String, i64, String, [i64; 3]) = row?;
        let at = Seen { tenant: &tenant, query_id: &query_id, scan, time: &time };
        for (figure, value) in FIGURES.into_iter().zip(values) {
            advance(conn, &at, figure, value)?;
        }
    }
    Ok(())
}

/// Records the pairs `report`'s findings imply ([`crate::baseline::BestPairs`]), whether the report lists them
/// or not: each pair becomes one number ([`pair_key`] of its `names` numbers); the tenant's pairs already in
/// the store are read once and matched to this scan's by sorting both (cheaper than a hash map of millions);
/// a row is written only for a pair never seen before (one prepared statement, in the caller's transaction);
/// the scan's membership is written as runs of row ids. An unchanged scan writes no pair row.
fn insert_pairs(tx: &Connection, report: &Report, tenant: &str, scan: i64) -> rusqlite::Result<()> {
    let best = crate::baseline::BestPairs::of(report);
    let mut names = Names::load(tx)?;
    let tenant = names.id(tx, tenant)?;
    let local: Vec<i64> = best.names().iter().map(|n| names.id(tx, n)).collect::<rusqlite::Result<_>>()?;
    // Per finding: the numbers of its grant key and id, once it is some pair's best.
    let mut findings: Vec<Option<(i64, i64)>> = vec![None; report.findings.len()];
    let mut current: Vec<(u128, [i64; 2])> = Vec::with_capacity(best.len());
    for &([q, s, t], f) in best.indexed() {
        let (grants, finding) = match findings[f as usize] {
            Some(numbers) => numbers,
            None => {
                let numbers = (names.id(tx, best.grants(f))?, names.id(tx, &report.findings[f as usize].id)?);
                *findings[f as usize].insert(numbers)
            }
        };
        current.push((pair_key([local[q as usize], local[s as usize], local[t as usize], grants])?, [grants, finding]));
    }
    current.sort_unstable_by_key(|c| c.0);
    let known = known_pairs(tx, tenant, best.len())?;
    let mut add = tx.prepare_cached(
        "INSERT INTO pairs (tenant, query, source, target, grants, finding, first_scan) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut ids = Vec::with_capacity(current.len());
    let mut old = known.iter().peekable();
    for (key, [grants, finding]) in current {
        while old.next_if(|(k, _)| *k < key).is_some() {}
        let id = match old.next_if(|(k, _)| *k == key) {
            Some((_, id)) => *id,
            None => {
                let [q, s, t, _] = numbers(key);
                add.execute(params![tenant, q, s, t, grants, finding, scan])?;
                tx.last_insert_rowid()
            }
        };
        ids.push(id);
    }
    ids.sort_unstable();
    tx.execute("INSERT INTO scan_pairs VALUES (?1, ?2)", params![scan, runs::encode(ids)])?;
    Ok(())
}

/// The `names` table in memory: text → number, new texts added as they are asked for.
struct Names(FxHashMap<String, i64>);

impl Names {
    fn load(tx: &Connection) -> rusqlite::Result<Names> {
        let mut stmt = tx.prepare_cached("SELECT text, id FROM names")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(Names(rows.collect::<rusqlite::Result<_>>()?))
    }

    fn id(&mut self, tx: &Connection, text: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.0.get(text) {
            return Ok(*id);
        }
        tx.prepare_cached("INSERT INTO names (text) VALUES (?1)")?.execute([text])?;
        let id = tx.last_insert_rowid();
        self.0.insert(text.to_string(), id);
        Ok(id)
    }
}

/// The tenant's pairs in the store: [`pair_key`] of each and its row id, sorted by key.
fn known_pairs(tx: &Connection, tenant: i64, expected: usize) -> rusqlite::Result<Vec<(u128, i64)>> {
    let mut known = Vec::with_capacity(expected);
    let mut stmt = tx.prepare_cached("SELECT query, source, target, grants, id FROM pairs WHERE tenant = ?1")?;
    let mut rows = stmt.query([tenant])?;
    while let Some(r) = rows.next()? {
        known.push((pair_key([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?])?, r.get(4)?));
    }
    known.sort_unstable();
    Ok(known)
}

/// The four numbers a [`pair_key`] packs.
fn numbers(key: u128) -> [i64; 4] {
    [96, 64, 32, 0].map(|shift| i64::from((key >> shift) as u32))
}

/// A pair's (query, source, target, grants) numbers as one number (each is a `names` row id, below 2³²).
fn pair_key(numbers: [i64; 4]) -> rusqlite::Result<u128> {
    numbers.iter().try_fold(0u128, |key, &n| {
        let n = u32::try_from(n).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, n))?;
        Ok((key << 32) | u128::from(n))
    })
}

/// Removes the pairs no remaining scan saw (after scans were pruned).
fn forget_pairs(tx: &Connection) -> rusqlite::Result<()> {
    let mut seen = Vec::new();
    let mut stmt = tx.prepare("SELECT runs FROM scan_pairs")?;
    for runs in stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))? {
        seen.extend(runs::decode(&runs?));
    }
    seen.sort_unstable();
    seen.dedup();
    let mut all = tx.prepare("SELECT id FROM pairs")?;
    let ids: Vec<i64> = all.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut delete = tx.prepare_cached("DELETE FROM pairs WHERE id = ?1")?;
    for id in ids.into_iter().filter(|id| seen.binary_search(id).is_err()) {
        delete.execute([id])?;
    }
    Ok(())
}

/// A set of row ids as runs: LEB128 varints, alternating the gap since the last run's end and the run's
/// length. Hand-written (a dozen lines) rather than a bitmap crate: the ids of one scan's pairs are a few long
/// runs, which this stores in a few bytes.
mod runs {
    /// The runs of `ids` (ascending, no repeats).
    pub fn encode(ids: impl IntoIterator<Item = i64>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for id in ids {
            match runs.last_mut() {
                Some((start, len)) if *start + *len == id => *len += 1,
                _ => runs.push((id, 1)),
            }
        }
        let mut end = 0;
        for (start, len) in runs {
            varint(&mut out, (start - end) as u64);
            varint(&mut out, len as u64);
            end = start + len;
        }
        out
    }

    fn varint(out: &mut Vec<u8>, mut n: u64) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// The ids `encode` stored (a truncated blob ends early rather than failing).
    pub fn decode(bytes: &[u8]) -> impl Iterator<Item = i64> + '_ {
        let mut numbers = Numbers { bytes, at: 0 };
        let mut end = 0i64;
        std::iter::from_fn(move || {
            let (gap, len) = (numbers.next()?, numbers.next()?);
            let start = end.checked_add(i64::try_from(gap).ok()?)?;
            end = start.checked_add(i64::try_from(len).ok()?)?;
            Some(start..end)
        })
        .flatten()
    }

    struct Numbers<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl Iterator for Numbers<'_> {
        type Item = u64;
        fn next(&mut self) -> Option<u64> {
            let mut n = 0u64;
            for shift in (0..64).step_by(7) {
                let b = *self.bytes.get(self.at)?;
                self.at += 1;
                n |= u64::from(b & 0x7f) << shift;
                if b < 0x80 {
                    return Some(n);
                }
            }
            None
        }
    }
}

/// After an import of earlier scans: each finding's first seen is the earliest scan that saw it, when that is
/// earlier than the one recorded.
const EARLIEST_FIRST_SEEN: &str = "
UPDATE findings SET (first_seen, first_scan) = (
    SELECT s.time, s.id FROM scan_findings sf JOIN scans s ON s.id = sf.scan_id
    WHERE sf.finding_id = findings.id AND s.tenant = findings.tenant ORDER BY s.time, s.id LIMIT 1)
WHERE first_seen > (
    SELECT MIN(s.time) FROM scan_findings sf JOIN scans s ON s.id = sf.scan_id
    WHERE sf.finding_id = findings.id AND s.tenant = findings.tenant)
";

/// What identifies a scan's report for `history import`: tenant, collection time, version, finding ids and
/// exposure figures.
fn digest(report: &Report, tenant: &str) -> String {
    let mut parts =
        vec!["scan".to_string(), tenant.to_string(), report.collected_at.clone(), report.tool_version.clone()];
    let mut ids: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    ids.sort_unstable();
    parts.extend(ids.into_iter().map(str::to_string));
    for t in &report.tiers {
        let e = &t.exposure;
        parts.push(format!("{}:{}:{}:{}:{}", t.query_id, e.principals, e.standing, e.escalation, e.population));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    azpath_graph::findings::fingerprint(&parts)
}

/// A report file to import, with the time it is recorded at (its `collected_at`, as the store writes times).
#[derive(Debug)]
pub struct ReportFile {
    /// The file.
    pub path: PathBuf,
    /// Its `collected_at`, normalized (RFC 3339, UTC, microseconds).
    pub time: String,
    /// The report.
    pub report: Report,
}

/// What `history import` did.
#[derive(Debug, Default, Serialize)]
pub struct Imported {
    /// Files recorded as new scans, in scan-time order.
    pub imported: Vec<PathBuf>,
    /// Files already in the store.
    pub skipped: Vec<PathBuf>,
}

/// Every `*.json` file of `dir` (not recursive; other files, such as SARIF or DOT output beside them, are left
/// alone), each read as a JSON report of this azpath's schema version. A file that is not one is an error
/// naming it: nothing is imported then.
pub fn read_reports(dir: &Path) -> Result<Vec<ReportFile>, HistoryError> {
    let list = |source| HistoryError::List { path: dir.to_owned(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths.iter().map(|p| read_report(p)).collect()
}

/// One report file for import.
pub fn read_report(path: &Path) -> Result<ReportFile, HistoryError> {
    let bad =
        |field: &str, message: String| HistoryError::NotAReport { path: path.into(), field: field.into(), message };
    let text = crate::input::read_text(path).map_err(|source| HistoryError::Read { path: path.into(), source })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(".", e.to_string()))?;
    if value.get("metadata").is_some() {
        return Err(bad(
            ".",
            "this is a snapshot, not a report: import what `azpath analyze --format json` writes".into(),
        ));
    }
    let version = value.get("schema_version").and_then(serde_json::Value::as_u64);
    if value.get("findings").is_none() || version.is_none() {
        return Err(bad(".", "not a JSON report (`azpath scan|analyze --format json`)".into()));
    }
    if version != Some(u64::from(azpath_graph::findings::REPORT_SCHEMA_VERSION)) {
        let message = format!(
            "{} is not the report version this azpath reads ({})",
            version.unwrap_or_default(),
            azpath_graph::findings::REPORT_SCHEMA_VERSION
        );
        return Err(bad("schema_version", message));
    }
    let report: Report =
        serde_path_to_error::deserialize(value).map_err(|e| bad(&e.path().to_string(), e.inner().to_string()))?;
    let collected = OffsetDateTime::parse(&report.collected_at, &time::format_description::well_known::Rfc3339)
        .map_err(|e| bad("collected_at", format!("`{}` is not an RFC 3339 time: {e}", report.collected_at)))?;
    Ok(ReportFile { path: path.into(), time: rfc3339(collected), report })
}

/// Maps a SQLite error to [`HistoryError::Sql`] naming the store and what was being done.
fn sql<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(rusqlite::Error) -> HistoryError + 'a {
    move |source| HistoryError::Sql { path: path.to_owned(), what, source }
}

/// A count as SQLite stores it.
fn n(x: usize) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

fn scan_row(r: &rusqlite::Row) -> rusqlite::Result<ScanRow> {
    Ok(ScanRow {
        id: r.get(0)?,
        time: r.get(1)?,
        collected_at: r.get(2)?,
        tenant: r.get(3)?,
        tool_version: r.get(4)?,
        findings: r.get(5)?,
    })
}

fn finding_row(r: &rusqlite::Row) -> rusqlite::Result<FindingRow> {
    Ok(FindingRow {
        id: r.get(0)?,
        severity: r.get(1)?,
        reach: r.get(2)?,
        queries: r.get(3)?,
        principal: r.get(4)?,
        scope: r.get(5)?,
        first_seen: r.get(6)?,
        first_scan: r.get(7)?,
        last_seen: r.get(8)?,
        last_scan: r.get(9)?,
    })
}

/// RFC 3339 in UTC with microseconds (sorts as text in time order).
fn rfc3339(t: OffsetDateTime) -> String {
    let format = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z",
    )
    .expect("a valid format description");
    t.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::findings::{Finding, NodeRef, Reach, Remediation, Tier};
    use azpath_graph::model::{NodeKind, Severity};

    fn node(id: &str) -> NodeRef {
        NodeRef { kind: NodeKind::User, id: id.into(), display_name: id.into() }
    }

    fn finding(id: &str) -> Finding {
        Finding {
            id: id.into(),
            reach: Reach::Escalation,
            severity: Severity::High,
            principal: node("p"),
            scope: node("/"),
            hops: Vec::new(),
            eligible: false,
            conditional: false,
            members: Default::default(),
            member_set: None,
            tiers: Vec::new(),
            fix: String::new(),
            remediation: Remediation { summary: String::new(), command: None },
        }
    }

    fn report(ids: &[&str], principals: usize) -> Report {
        let tier = Tier {
            query_id: "q".into(),
            title: "q".into(),
            severity: Severity::High,
            escalation_findings: ids.len(),
            standing_findings: 0,
            pairs: 0,
            exposure: azpath_graph::findings::Exposure { principals, population: 10, ..Default::default() },
            after_plan: Default::default(),
            escalations_after_plan: 0,
        };
        Report { findings: ids.iter().map(|i| finding(i)).collect(), tiers: vec![tier], ..Default::default() }
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn first_seen_stays_and_diff_lists_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        let one = store.record(&report(&["a", "b"], 2), "t", at(0)).unwrap();
        let two = store.record(&report(&["a", "c"], 3), "t", at(60)).unwrap();
        let a = store.finding("t", "a").unwrap().unwrap();
        assert_eq!((a.first_scan, a.last_scan), (one, two));
        let c = store.finding("t", "c").unwrap().unwrap();
        assert_eq!(c.first_scan, two);
        let d = store.diff(None, None).unwrap();
        let ids = |rows: &[FindingRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!((ids(&d.appeared), ids(&d.disappeared)), (vec!["c".to_string()], vec!["b".to_string()]));
        let trend = store.trend().unwrap();
        assert_eq!(trend.iter().map(|t| t.exposure[0].principals).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(trend[1].by_severity, [("high".to_string(), 2)]);
    }

    #[test]
    fn each_exposure_figure_has_first_and_last_seen_of_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        let scans: Vec<i64> = [2, 2, 5, 5, 3]
            .iter()
            .enumerate()
            .map(|(i, p)| store.record(&report(&["a"], *p), "t", at(i as i64)).unwrap())
            .collect();
        let runs = store.exposure_runs("t").unwrap();
        let principals: Vec<_> = runs
            .iter()
            .filter(|r| r.figure == "principals")
            .map(|r| (r.previous, r.value, r.first_scan, r.last_scan))
            .collect();
        assert_eq!(
            principals,
            [(None, 2, scans[0], scans[1]), (Some(2), 5, scans[2], scans[3]), (Some(5), 3, scans[4], scans[4])]
        );
        assert_eq!(runs.iter().find(|r| r.figure == "principals" && r.value == 5).unwrap().first_seen, rfc3339(at(2)));
        // A figure that never changed is one run over every scan, and no change.
        let standing: Vec<_> = runs.iter().filter(|r| r.figure == "standing").collect();
        assert_eq!(standing.len(), 1);
        assert_eq!((standing[0].first_scan, standing[0].last_scan), (scans[0], scans[4]));
        let trend = store.trend().unwrap();
        let changed: Vec<Vec<(&str, i64)>> =
            trend.iter().map(|t| t.changes.iter().map(|c| (c.figure.as_str(), c.value)).collect()).collect();
        assert_eq!(changed, [vec![], vec![], vec![("principals", 5)], vec![], vec![("principals", 3)]]);
        // Another tenant's figures are their own.
        store.record(&report(&["a"], 9), "other", at(10)).unwrap();
        assert_eq!(store.exposure_runs("t").unwrap(), runs);
    }

    #[test]
    fn a_version_1_store_is_upgraded_with_its_exposure_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(SCHEMA_V1).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        for (id, escalation) in [(1, 3), (2, 7)] {
            old.execute(
                "INSERT INTO scans VALUES (?1, ?2, 'c', 't', '0.1')",
                params![id, format!("2026-12-0{id}T00:00:00.000000Z")],
            )
            .unwrap();
            old.execute("INSERT INTO exposure VALUES (?1, 'q', 'high', 9, 2, ?2, 20)", params![id, escalation])
                .unwrap();
        }
        drop(old);
        let mut store = Store::open(&path).unwrap();
        let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let trend = store.trend().unwrap();
        assert!(trend[0].changes.is_empty());
        let rose = &trend[1].changes;
        assert_eq!(rose.len(), 1, "{rose:?}");
        assert_eq!((rose[0].figure.as_str(), rose[0].previous, rose[0].value), ("escalation", Some(3), 7));
        assert_eq!(rose[0].first_seen, "2026-12-02T00:00:00.000000Z");
        // The upgraded store records on.
        let third = store.record(&report(&["a"], 9), "t", at(0)).unwrap();
        assert_eq!(store.scans().unwrap().last().unwrap().id, third);
        drop(store);
        assert!(Store::open(&path).is_ok(), "opening an upgraded store again changes nothing");
    }

    fn file(name: &str, ids: &[&str], principals: usize, seconds: i64) -> ReportFile {
        let mut report = report(ids, principals);
        report.collected_at = rfc3339(at(seconds));
        ReportFile { path: name.into(), time: rfc3339(at(seconds)), report }
    }

    #[test]
    fn imported_reports_are_recorded_in_scan_time_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        let files =
            [file("c.json", &["a", "b"], 4, 200), file("a.json", &["a"], 2, 0), file("b.json", &["a", "b"], 4, 100)];
        let done = store.import(&files, "t").unwrap();
        let names = |v: &[PathBuf]| v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        assert_eq!(names(&done.imported), ["a.json", "b.json", "c.json"]);
        let scans = store.scans().unwrap();
        assert_eq!(scans.iter().map(|s| s.time.clone()).collect::<Vec<_>>(), [0, 100, 200].map(|t| rfc3339(at(t))));
        let b = store.finding("t", "b").unwrap().unwrap();
        assert_eq!((b.first_seen, b.last_seen), (rfc3339(at(100)), rfc3339(at(200))));
        let changes = store.trend().unwrap().into_iter().map(|t| t.changes.len()).collect::<Vec<_>>();
        assert_eq!(changes, [0, 1, 0]);
        // Importing again adds nothing.
        let again = store.import(&files, "t").unwrap();
        assert!(again.imported.is_empty());
        assert_eq!(names(&again.skipped), ["a.json", "b.json", "c.json"]);
        assert_eq!(store.scans().unwrap().len(), 3);
    }

    #[test]
    fn earlier_reports_imported_after_live_scans_move_first_seen_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        let live = store.record(&report(&["a", "b"], 4), "t", at(500)).unwrap();
        assert_eq!(store.finding("t", "a").unwrap().unwrap().first_scan, live);
        store.import(&[file("old.json", &["a"], 2, 0)], "t").unwrap();
        let old = store.scans().unwrap()[0].id;
        let a = store.finding("t", "a").unwrap().unwrap();
        assert_eq!((a.first_scan, a.last_scan), (old, live), "first seen at the imported scan, last at the live one");
        assert_eq!(store.finding("t", "b").unwrap().unwrap().first_scan, live);
        let runs = store.exposure_runs("t").unwrap();
        let principals: Vec<_> =
            runs.iter().filter(|r| r.figure == "principals").map(|r| (r.previous, r.value, r.first_scan)).collect();
        assert_eq!(principals, [(None, 2, old), (Some(2), 4, live)]);
        let diff = store.diff(None, None).unwrap();
        assert_eq!((diff.from.id, diff.to.id), (old, live), "the last two by time");
    }

    #[test]
    fn a_directory_of_reports_reads_json_files_and_names_the_one_that_is_not_a_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = report(&["a"], 1);
        good.collected_at = "2026-12-01T10:00:00+01:00".into();
        good.schema_version = azpath_graph::findings::REPORT_SCHEMA_VERSION;
        std::fs::write(dir.path().join("r.json"), serde_json::to_string(&good).unwrap()).unwrap();
        std::fs::write(dir.path().join("r.sarif"), "not read").unwrap();
        let files = read_reports(dir.path()).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].time, "2026-12-01T09:00:00.000000Z");
        std::fs::write(dir.path().join("snap.json"), r#"{"metadata": {}, "azure": {}}"#).unwrap();
        let err = read_reports(dir.path()).unwrap_err().to_string();
        assert!(err.contains("snap.json") && err.contains("snapshot, not a report"), "{err}");
        std::fs::remove_file(dir.path().join("snap.json")).unwrap();
        std::fs::write(dir.path().join("other.json"), r#"{"findings": []}"#).unwrap();
        let err = read_reports(dir.path()).unwrap_err().to_string();
        assert!(err.contains("other.json") && err.contains("not a JSON report"), "{err}");
        std::fs::write(dir.path().join("other.json"), r#"{"schema_version": 1, "findings": []}"#).unwrap();
        let err = read_reports(dir.path()).unwrap_err().to_string();
        assert!(err.contains("other.json") && err.contains("schema_version"), "{err}");
        let missing = read_reports(&dir.path().join("none")).unwrap_err().to_string();
        assert!(missing.contains("none"), "{missing}");
    }

    #[test]
    fn pair_ids_are_stored_as_runs() {
        for ids in [vec![], vec![5], vec![1, 2, 3, 4, 10, 11, 300, 100_000, 100_001]] {
            let set: BTreeSet<i64> = ids.iter().copied().collect();
            let bytes = runs::encode(set.iter().copied());
            assert_eq!(runs::decode(&bytes).collect::<Vec<_>>(), ids);
        }
        let many: BTreeSet<i64> = (1..=50_000).collect();
        assert_eq!(runs::encode(many.iter().copied()).len(), 4, "one run: a gap and a length");
        let truncated = runs::encode([1, 2, 9]);
        assert_eq!(runs::decode(&truncated[..truncated.len() - 1]).collect::<Vec<_>>(), [1, 2], "ends early");
    }

    #[test]
    fn pairs_are_not_compared_with_a_scan_that_did_not_record_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        let one = store.record(&report(&["a"], 1), "t", at(0)).unwrap();
        store.record(&report(&["a"], 1), "t", at(60)).unwrap();
        assert!(store.diff(None, None).unwrap().pairs_unrecorded.is_empty(), "every scan records its pairs");
        // As a scan recorded by an azpath that recorded pairs only with --expand.
        store.conn.execute("DELETE FROM scan_pairs WHERE scan_id = ?1", [one]).unwrap();
        assert_eq!(store.diff(None, None).unwrap().pairs_unrecorded, [one]);
        let mut text = Vec::new();
        crate::render::history::render_diff(&store.diff(None, None).unwrap(), crate::render::Format::Table, &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("pairs not compared: scan 1 recorded no pairs"), "{text}");
    }

    #[test]
    fn prune_keeps_the_newest_and_forgets_findings_no_scan_saw() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        store.record(&report(&["old"], 1), "t", at(0)).unwrap();
        store.record(&report(&["new"], 1), "t", at(86_400 * 10)).unwrap();
        assert_eq!(store.prune(None, Some(30), at(86_400 * 11)).unwrap(), 0);
        assert_eq!(store.prune(Some(1), None, at(86_400 * 11)).unwrap(), 1);
        assert_eq!(store.scans().unwrap().len(), 1);
        assert!(store.finding("t", "old").unwrap().is_none());
        assert!(store.finding("t", "new").unwrap().is_some());
        assert_eq!(store.prune(None, Some(5), at(86_400 * 20)).unwrap(), 1);
        assert!(store.scans().unwrap().is_empty());
    }

    #[test]
    fn concurrent_writers_wait_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    for i in 0..25 {
                        store.record(&report(&["a", "b", "c"], 1), "t", at(w * 1000 + i)).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let scans = store.scans().unwrap();
        assert_eq!(scans.len(), 50);
        assert!(scans.iter().all(|s| s.findings == 3));
        let integrity: String = store.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok");
    }

    #[test]
    fn a_newer_store_is_refused_and_diff_needs_two_scans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = Store::open(&path).unwrap();
        assert!(matches!(store.diff(None, None), Err(HistoryError::TooFew { count: 0, .. })));
        assert!(matches!(store.diff(Some(7), Some(8)), Err(HistoryError::NoScan { id: 7, .. })));
        store.conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(store);
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer azpath") && err.contains("h.db"), "{err}");
    }
}
