//! `azpath bench`: times each stage of an analysis on a generated tenant, with the peak memory of each.
//!
//! Stages, in order: generate the tenant and its snapshot; write the snapshot as JSON and read it back (what
//! `collect -o` then `analyze FILE` do); build the graph; each built-in query (streamed, nothing held);
//! posture checks; `engine::analyze` as a whole (what `analyze` runs); the JSON report rendered to a sink.
//! Wall time is per stage; peak RSS is the process's resident high-water mark during the stage (reset
//! before each stage where Linux allows it), so it includes what earlier stages still hold. A benchmark,
//! never a test assertion: see BENCHMARKS.md for figures.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use azpath_graph::engine::{self, AnalyzeOptions};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::posture;
use azpath_graph::snapshot::Snapshot;

use azpath_graph::snapshot::{AzureData, EntraData};
use azpath_mocks::throttle::{Floor, ThrottleOptions};
use azpath_mocks::{MockAzure, MockOptions};
use serde::Serialize;

use crate::cli::BenchCommand;
use crate::collect::{self, Cloud, CollectOptions, DefaultTokenSource, Endpoints};
use crate::queries;
use crate::render::{self, Format, RenderOptions};

/// Runs every stage on a generated tenant of about `size` graph nodes and prints one line per stage.
pub fn run(size: usize, seed: u64) -> Result<u8> {
    run_to(std::io::stdout().lock(), size, seed)?;
    Ok(0)
}

/// [`run`], writing to `out`.
fn run_to(out: impl Write, size: usize, seed: u64) -> Result<()> {
    let mut bench = Bench::new(out);
    bench.header(size, seed)?;
    let snap = bench.snapshot(size, seed)?;
    let graph = bench.graph(&snap)?;
    bench.queries(&graph)?;
    let work = graph.node_count() + graph.edge_count();
    drop(graph);
    bench.analyze(&snap, work)?;
    bench.footer()
}

/// The peak resident set size (`VmHWM`) of this process, in bytes; `None` where `/proc` has no such line.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm(&status)
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kb: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak resident set size to the current one (Linux ≥ 4.0: `5` to `/proc/self/clear_refs`), so
/// the next [`peak_rss`] is the peak of what runs in between. False where that is not possible.
fn reset_peak_rss() -> bool {
    OpenOptions::new().write(true).open("/proc/self/clear_refs").and_then(|mut f| f.write_all(b"5")).is_ok()
}

/// One measured stage.
struct Row {
    name: String,
    wall: Duration,
    peak: Option<u64>,
    /// Graph nodes + edges, for the time per node+edge.
    work: Option<usize>,
    result: String,
}

/// The run: where lines go and the largest peak seen.
struct Bench<W: Write> {
    out: W,
    /// Whether peaks are per stage (reset) or the process's peak so far.
    resettable: bool,
    max_peak: Option<u64>,
    total: Duration,
}

impl<W: Write> Bench<W> {
    fn new(out: W) -> Self {
        Bench { out, resettable: reset_peak_rss(), max_peak: None, total: Duration::ZERO }
    }

    /// Times `f` and measures its peak RSS.
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> (T, Duration, Option<u64>) {
        if self.resettable {
            reset_peak_rss();
        }
        let started = Instant::now();
        let value = f();
        let wall = started.elapsed();
        let peak = peak_rss();
        self.max_peak = self.max_peak.max(peak);
        self.total += wall;
        (value, wall, peak)
    }

    fn header(&mut self, size: usize, seed: u64) -> Result<()> {
        let peak = if self.resettable { "peak RSS during each stage" } else { "peak RSS of the process so far" };
        writeln!(self.out, "azpath bench --size {size} --seed {seed}: wall time, {peak}, ns per graph node+edge")?;
        writeln!(self.out, "{:<46} {:>9} {:>9} {:>8}  result", "stage", "wall", "peak RSS", "ns/n+e")?;
        Ok(())
    }

    fn row(&mut self, row: Row) -> Result<()> {
        let per = row
            .work
            .filter(|w| *w > 0)
            .map_or(String::new(), |w| format!("{:.0}", row.wall.as_nanos() as f64 / w as f64));
        let peak = row.peak.map_or("-".to_string(), megabytes);
        let line = format!("{:<46} {:>9} {:>9} {:>8}  {}", row.name, seconds(row.wall), peak, per, row.result);
        writeln!(self.out, "{}", line.trim_end())?;
        self.out.flush()?;
        Ok(())
    }

    /// Generates the tenant, writes its snapshot as JSON and reads it back: the snapshot every later stage uses.
    fn snapshot(&mut self, size: usize, seed: u64) -> Result<Snapshot> {
        let ((snap, nodes), wall, peak) = self.time(|| {
            let tenant = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(size, seed));
            (tenant.to_snapshot(), tenant.node_count())
        });
        let result = format!("{nodes} objects and scopes");
        self.row(Row { name: "generate tenant + snapshot".into(), wall, peak, work: None, result })?;
        self.tenant(&snap)?;
        let (json, wall, peak) = self.time(|| snap.to_json());
        drop(snap);
        let result = bytes(json.len() as u64);
        self.row(Row { name: "snapshot to JSON".into(), wall, peak, work: None, result })?;
        let (snap, wall, peak) = self.time(|| Snapshot::from_json(&json, "generated snapshot"));
        drop(json);
        self.row(Row { name: "JSON to snapshot".into(), wall, peak, work: None, result: String::new() })?;
        Ok(snap?)
    }

    /// The snapshot's record counts, on one wrapped line.
    fn tenant(&mut self, snap: &Snapshot) -> Result<()> {
        let (e, a) = (&snap.entra, &snap.azure);
        let counts = [
            format!("{} users", e.users.len()),
            format!("{} groups", e.groups.len()),
            format!("{} memberships", e.group_members.iter().map(|g| g.members.len()).sum::<usize>()),
            format!("{} service principals", e.service_principals.len()),
            format!("{} subscriptions", a.subscriptions.len()),
            format!("{} role assignments", a.role_assignments.len()),
            format!("{} eligible", a.role_eligibility_schedule_instances.len()),
            format!("{} AKS clusters", snap.kubernetes.len()),
        ];
        self.wrapped("  tenant: ", &counts)
    }

    fn graph(&mut self, snap: &Snapshot) -> Result<PrivilegeGraph> {
        let (graph, wall, peak) = self.time(|| PrivilegeGraph::build(snap));
        let (nodes, edges) = (graph.node_count(), graph.edge_count());
        let result = format!("{nodes} nodes, {edges} edges");
        self.row(Row { name: "build graph".into(), wall, peak, work: Some(nodes + edges), result })?;
        let kinds: Vec<String> =
            graph.edge_counts().into_iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{k} {n}")).collect();
        self.wrapped("  edges by kind: ", &kinds)?;
        Ok(graph)
    }

    /// Each built-in query's (principal, target) pairs, as `--expand` lists them, counted as they stream (none held).
    fn queries(&mut self, graph: &PrivilegeGraph) -> Result<()> {
        let work = graph.node_count() + graph.edge_count();
        for q in queries::builtin() {
            let (n, wall, peak) = self.time(|| {
                let mut n = 0usize;
                engine::for_each_pair(graph, &q, AnalyzeOptions::default(), &mut |_| n += 1);
                n
            });
            let name = format!("  {}", q.id);
            self.row(Row { name, wall, peak, work: Some(work), result: format!("{n} pairs") })?;
        }
        Ok(())
    }

    /// Posture checks, `engine::analyze` as `analyze` calls it, and the JSON report written to a sink.
    fn analyze(&mut self, snap: &Snapshot, work: usize) -> Result<()> {
        let (n, wall, peak) = self.time(|| posture::run(snap).len());
        self.row(Row { name: "posture checks".into(), wall, peak, work: None, result: format!("{n} findings") })?;
        let queries = queries::builtin();
        let (report, wall, peak) = self.time(|| engine::analyze(snap, &queries, AnalyzeOptions::default()));
        let result = format!("{} findings", report.findings.len());
        self.row(Row { name: "engine::analyze (whole)".into(), wall, peak, work: Some(work), result })?;
        let (written, wall, peak) = self.time(|| {
            let mut sink = Counting(std::io::sink(), 0);
            render::render(&report, Format::Json, RenderOptions::default(), &mut sink).map(|()| sink.1)
        });
        let result = format!("{} of JSON", bytes(written?));
        self.row(Row { name: "render JSON report to a sink".into(), wall, peak, work: None, result })
    }

    fn footer(&mut self) -> Result<()> {
        let peak = self.max_peak.map_or("-".to_string(), megabytes);
        writeln!(self.out, "{:<46} {:>9} {:>9}", "all stages", seconds(self.total), peak)?;
        if !self.resettable {
            writeln!(self.out, "(peak RSS could not be reset: each figure is the process's peak so far)")?;
        }
        Ok(())
    }

    /// `items` after `label`, comma-separated, wrapped at 100 columns.
    fn wrapped(&mut self, label: &str, items: &[String]) -> Result<()> {
        let mut line = label.to_string();
        for (i, item) in items.iter().enumerate() {
            let piece = if i + 1 < items.len() { format!("{item}, ") } else { item.clone() };
            if line.len() + piece.len() > 100 && line.len() > label.len() {
                writeln!(self.out, "{}", line.trim_end())?;
                line = " ".repeat(label.len());
            }
            line.push_str(&piece);
        }
        writeln!(self.out, "{line}")?;
        Ok(())
    }
}

/// A writer that discards and counts bytes.
struct Counting<W>(W, u64);

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes / 1_000_000)
}

/// A byte count in kB, MB or GB.
fn bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 10_000_000_000 => format!("{} GB", b / 1_000_000_000),
        b if b >= 10_000_000 => format!("{} MB", b / 1_000_000),
        b => format!("{} kB", b / 1_000),
    }
}

/// `azpath bench read FILE`: a snapshot file read as `analyze FILE` reads it ([`crate::input::read_snapshot`]),
/// then the graph built from it, each stage with its wall time and peak RSS, and the two together: the
/// "snapshot file to graph" part of an analysis, on a snapshot of any size (`mock generate --snapshot`).
pub fn read(path: &std::path::Path) -> Result<u8> {
    // The process ends here: the snapshot and graph go back with it, not object by object (as `analyze` leaves
    // its report and snapshot).
    std::mem::forget(read_to(std::io::stdout().lock(), path)?);
    Ok(0)
}

/// [`read`], writing to `out`; the snapshot and the graph built from it.
fn read_to(out: impl Write, path: &std::path::Path) -> Result<(Snapshot, PrivilegeGraph)> {
    let mut bench = Bench::new(out);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let peak = if bench.resettable { "peak RSS during each stage" } else { "peak RSS of the process so far" };
    writeln!(bench.out, "azpath bench read {}: wall time, {peak}, ns per graph node+edge", path.display())?;
    writeln!(bench.out, "{:<46} {:>9} {:>9} {:>8}  result", "stage", "wall", "peak RSS", "ns/n+e")?;
    let (snap, wall, peak) = bench.time(|| crate::input::read_snapshot(path));
    let snap = snap?;
    let result = format!("{} of JSON", bytes(size));
    bench.row(Row { name: "read snapshot file".into(), wall, peak, work: None, result })?;
    bench.tenant(&snap)?;
    let read = wall;
    let graph = bench.graph(&snap)?;
    let work = graph.node_count() + graph.edge_count();
    let row = Row {
        name: "read + build (snapshot file to graph)".into(),
        wall: bench.total,
        peak: bench.max_peak,
        work: Some(work),
        result: format!("read {:.0} ns/n+e", read.as_nanos() as f64 / work.max(1) as f64),
    };
    bench.row(row)?;
    Ok((snap, graph))
}

/// `azpath bench collect`: generates a collection tier, serves it in-process behind the emulated Azure
/// limits ([`azpath_mocks::throttle`]), collects it with the real collector (the code `azpath scan` runs, default
/// options unless flags say otherwise) and prints wall time against the floor, the emulation's counters, the
/// objects collected against those generated, and the peak memory.
pub fn collect(command: BenchCommand) -> Result<u8> {
    let (users, concurrency, inject_429, inject_503, latency, page_size, seed, json) = match command {
        BenchCommand::Collect { users, concurrency, inject_429, inject_503, latency, page_size, seed, json } => {
            (users, concurrency, inject_429, inject_503, latency, page_size, seed, json)
        }
        BenchCommand::Read { snapshot } => return read(&snapshot),
    };
    let emulation = crate::cli::EmulationArgs {
        latency: Some(latency),
        throttle: Some("graph-ru,arm-buckets".into()),
        inject_429,
        inject_503,
        seed,
    }
    .options()?;
    let run = CollectRun { users, concurrency, emulation, page_size, seed };
    let result = run.run()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&result)?)?;
    } else {
        write!(out, "{}", result.table())?;
    }
    Ok(if result.lost.is_empty() { 0 } else { crate::cli::exit::ERROR })
}

/// One `bench collect` run.
struct CollectRun {
    users: usize,
    concurrency: Option<usize>,
    emulation: ThrottleOptions,
    page_size: usize,
    seed: u64,
}

/// What `bench collect` measured (its `--json` output).
#[derive(Debug, Serialize)]
pub struct CollectResult {
    /// Users of the generated tenant.
    pub users: usize,
    /// Requests in flight the collector was given.
    pub concurrency: usize,
    /// Seconds from the start of the collection to the snapshot.
    pub wall_secs: f64,
    /// The least wall time the emulated limits allow, and its terms.
    pub floor: Floor,
    /// `wall_secs / floor.secs`.
    pub wall_over_floor: f64,
    /// Requests served.
    pub requests: u64,
    /// HTTP requests received: a JSON batch counts once (`requests` counts each of its items).
    pub http_requests: u64,
    /// Graph resource units spent.
    pub graph_ru: u64,
    /// 429s sent (bucket and injected).
    pub throttled_429: u64,
    /// 503s sent (injected).
    pub injected_503: u64,
    /// Requests asked again before their Retry-After expired.
    pub early_retries: u64,
    /// Requests for a URL already answered without a 429/503 (asked twice for nothing).
    pub repeated: u64,
    /// Most requests in flight at the mock.
    pub max_in_flight: u64,
    /// Objects generated, by kind.
    pub expected: Counts,
    /// Objects in the collected snapshot, by kind.
    pub collected: Counts,
    /// Kinds with fewer objects collected than generated: (kind, expected, collected).
    pub lost: Vec<(String, usize, usize)>,
    /// Coverage gaps the collector recorded.
    pub gaps: usize,
    /// Peak resident memory of the process, in bytes (generator, mock and collector together).
    pub peak_rss: Option<u64>,
}

/// Objects of the kinds a collection must not lose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Users.
    pub users: usize,
    /// Groups.
    pub groups: usize,
    /// Group memberships (direct members, summed over groups).
    pub members: usize,
    /// Service principals.
    pub service_principals: usize,
    /// Applications.
    pub applications: usize,
    /// Role assignments.
    pub role_assignments: usize,
    /// User-assigned identities.
    pub user_assigned_identities: usize,
    /// Federated credentials: of user-assigned identities and of applications.
    pub federated_credentials: usize,
}

impl Counts {
    /// The counts of a tenant's or a snapshot's records.
    pub fn of(azure: &AzureData, entra: &EntraData) -> Counts {
        Counts {
            users: entra.users.len(),
            groups: entra.groups.len(),
            members: entra.group_members.iter().map(|g| g.members.len()).sum(),
            service_principals: entra.service_principals.len(),
            applications: entra.applications.len(),
            role_assignments: azure.role_assignments.len(),
            user_assigned_identities: azure.user_assigned_identities.len(),
            federated_credentials: azure.federated_identity_credentials.len()
                + entra.application_federated_credentials.iter().map(|a| a.credentials.len()).sum::<usize>(),
        }
    }

    fn named(&self) -> [(&'static str, usize); 8] {
        [
            ("users", self.users),
            ("groups", self.groups),
            ("members", self.members),
            ("service principals", self.service_principals),
            ("applications", self.applications),
            ("role assignments", self.role_assignments),
            ("user-assigned identities", self.user_assigned_identities),
            ("federated credentials", self.federated_credentials),
        ]
    }

    /// The kinds of which `collected` has fewer than `self`: (kind, expected, collected).
    pub fn lost(&self, collected: &Counts) -> Vec<(String, usize, usize)> {
        self.named()
            .into_iter()
            .zip(collected.named())
            .filter(|((_, want), (_, got))| got < want)
            .map(|((kind, want), (_, got))| (kind.to_string(), want, got))
            .collect()
    }
}

impl CollectRun {
    fn run(&self) -> Result<CollectResult> {
        let tenant = azpath_mocks::generate_for_collection(self.users, self.seed);
        let expected = Counts::of(&tenant.azure, &tenant.entra);
        let concurrency = self.concurrency.unwrap_or_else(|| CollectOptions::default().concurrency);
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let options =
            MockOptions { page_size: self.page_size.max(1), emulation: self.emulation.clone(), ..Default::default() };
        let (snap, wall, stats) = rt.block_on(async move {
            let server = MockAzure::start(tenant, options).await?;
            let http = collect::build_client(None)?;
            let endpoints = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None)?;
            let tokens = server.token_env();
            let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
            let source = DefaultTokenSource::new(&endpoints, &env, Some(&http));
            let options = CollectOptions { concurrency, http_client: Some(http), ..Default::default() };
            let started = Instant::now();
            let snap = collect::collect(&endpoints, &source, &options).await?;
            let wall = started.elapsed();
            anyhow::Ok((snap, wall, server.stats()))
        })?;
        let collected = Counts::of(&snap.azure, &snap.entra);
        let emulation = stats.emulation.clone().unwrap_or_default();
        let floor = stats.floor.clone().unwrap_or_default();
        let wall_secs = wall.as_secs_f64();
        Ok(CollectResult {
            users: self.users,
            concurrency,
            wall_secs,
            wall_over_floor: if floor.secs > 0.0 { wall_secs / floor.secs } else { 0.0 },
            floor,
            requests: emulation.requests,
            http_requests: (emulation.requests + stats.batches).saturating_sub(stats.batch_items),
            graph_ru: emulation.units.get("graph").copied().unwrap_or(0),
            throttled_429: emulation.total_429s(),
            injected_503: emulation.injected_503s,
            early_retries: stats.early_retries,
            repeated: emulation.repeated,
            max_in_flight: emulation.max_in_flight,
            lost: expected.lost(&collected),
            expected,
            collected,
            gaps: snap.coverage.len(),
            peak_rss: peak_rss(),
        })
    }
}

impl CollectResult {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let f = &self.floor;
        let mut t = format!("azpath bench collect --users {} --concurrency {}\n", self.users, self.concurrency);
        let mut row = |name: &str, value: String| t.push_str(&format!("{name:<28} {value}\n"));
        row("wall", format!("{:.1}s", self.wall_secs));
        row(
            "floor",
            format!(
                "{:.1}s (chain {} requests {:.1}s, Graph RU {:.1}s, ARM buckets {:.1}s)",
                f.secs, f.chain_requests, f.chain_secs, f.graph_ru_secs, f.arm_secs
            ),
        );
        row("wall / floor", format!("{:.2}x", self.wall_over_floor));
        row("requests", self.requests.to_string());
        row("HTTP requests", self.http_requests.to_string());
        row("Graph RU", self.graph_ru.to_string());
        row("429s / 503s", format!("{} / {}", self.throttled_429, self.injected_503));
        row("early retries", self.early_retries.to_string());
        row("repeated requests", self.repeated.to_string());
        row("max in flight", self.max_in_flight.to_string());
        for ((kind, want), (_, got)) in self.expected.named().into_iter().zip(self.collected.named()) {
            row(kind, format!("{got} of {want}{}", if got < want { "  LOST" } else { "" }));
        }
        row("coverage gaps", self.gaps.to_string());
        row("peak RSS", self.peak_rss.map_or("-".to_string(), megabytes));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lost_check_names_a_dropped_object_and_nothing_else() {
        let tenant = azpath_mocks::generate_for_collection(200, 1);
        let expected = Counts::of(&tenant.azure, &tenant.entra);
        assert!(expected.lost(&expected).is_empty(), "nothing dropped, nothing lost");
        let mut dropped = tenant.clone();
        dropped.entra.users.pop();
        dropped.azure.federated_identity_credentials.pop();
        let lost = expected.lost(&Counts::of(&dropped.azure, &dropped.entra));
        let kinds: Vec<&str> = lost.iter().map(|(k, ..)| k.as_str()).collect();
        assert_eq!(kinds, ["users", "federated credentials"]);
        assert_eq!((lost[0].1, lost[0].2), (expected.users, expected.users - 1));
        let mut one_member_less = tenant;
        one_member_less.entra.group_members[0].members.pop();
        let lost = expected.lost(&Counts::of(&one_member_less.azure, &one_member_less.entra));
        assert_eq!(lost, [("members".to_string(), expected.members, expected.members - 1)]);
    }

    /// Every stage has its line, and no line is wider than 100 columns.
    #[test]
    fn every_stage_is_printed_in_100_columns() {
        let mut out = Vec::new();
        run_to(&mut out, 300, 1).unwrap();
        let text = String::from_utf8(out).unwrap();
        for stage in [
            "generate tenant + snapshot",
            "snapshot to JSON",
            "JSON to snapshot",
            "build graph",
            "  can-act-as-managed-identity",
            "posture checks",
            "engine::analyze (whole)",
            "render JSON report to a sink",
            "all stages",
        ] {
            assert!(text.lines().any(|l| l.starts_with(stage)), "no {stage} line in\n{text}");
        }
        assert!(text.lines().all(|l| l.chars().count() <= 100), "a line is wider than 100 columns:\n{text}");
        let build = text.lines().find(|l| l.starts_with("build graph")).unwrap();
        assert!(build.contains(" MB ") && build.contains(" nodes, "), "{build}");
        assert!(text.contains("  tenant: ") && text.contains("  edges by kind: MEMBER_OF "), "{text}");
    }

    /// `bench read FILE` reads the file and builds the same graph as the snapshot it was written from.
    #[test]
    fn read_times_the_file_and_the_graph_built_from_it() {
        let snap = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(300, 1)).to_snapshot();
        let graph = PrivilegeGraph::build(&snap);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, snap.to_json()).unwrap();
        let mut out = Vec::new();
        read_to(&mut out, &path).unwrap();
        let text = String::from_utf8(out).unwrap();
        for stage in ["read snapshot file", "  tenant: ", "build graph", "  edges by kind: ", "read + build"] {
            assert!(text.lines().any(|l| l.starts_with(stage)), "no {stage} line in\n{text}");
        }
        let counts = format!("{} nodes, {} edges", graph.node_count(), graph.edge_count());
        assert!(text.lines().any(|l| l.starts_with("build graph") && l.ends_with(&counts)), "{counts} in\n{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 100 || l.starts_with("azpath bench read")), "{text}");
        let missing = dir.path().join("none.json");
        assert!(read_to(Vec::new(), &missing).is_err(), "a missing file is an error");
    }

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\tazpath\nVmPeak:\t  900 kB\nVmHWM:\t   13496 kB\nVmRSS:\t 1200 kB\n";
        assert_eq!(vm_hwm(status), Some(13_496 * 1024));
        assert_eq!(vm_hwm("Name:\tx\n"), None);
        assert_eq!(vm_hwm("VmHWM:\t12 MB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_rss_follows_an_allocation_and_resets() {
        let before = peak_rss().expect("Linux has VmHWM");
        let big = vec![1u8; 64 << 20];
        let during = peak_rss().unwrap();
        assert!(during >= before + (60 << 20), "{before} → {during}");
        drop(big);
        if reset_peak_rss() {
            assert!(peak_rss().unwrap() < during, "the peak was reset");
        }
    }
}
