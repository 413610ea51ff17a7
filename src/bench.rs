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
        self.wrapped("  tenant: ", &counts)?;
        let (json, wall, peak) = self.time(|| snap.to_json());
        drop(snap);
        let result = bytes(json.len() as u64);
        self.row(Row { name: "snapshot to JSON".into(), wall, peak, work: None, result })?;
        let (snap, wall, peak) = self.time(|| Snapshot::from_json(&json, "generated snapshot"));
        drop(json);
        self.row(Row { name: "JSON to snapshot".into(), wall, peak, work: None, result: String::new() })?;
        Ok(snap?)
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

#[cfg(test)]
mod tests {
    use super::*;

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
