//! The `azpath` command line. See README.md for the commands, the JSON report and exit codes.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

use azpath::cli::{AnalyzeArgs, Cli, Command, MockCommand, QueriesCommand};
use azpath::render::{self, Format, RenderOptions};
use azpath::{output, queries, scan};
use azpath_graph::engine::{self, AnalyzeOptions};
use azpath_graph::findings::{PostureFinding, Report};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::model::Severity;
use azpath_graph::posture;
use azpath_graph::rbac::{Capability, Caps};
use azpath_graph::snapshot::Snapshot;

/// Exit code: findings at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage error (clap uses 2 as well).
const EXIT_USAGE: u8 = 2;
/// Exit code: anything else went wrong (bad input, network, IO).
const EXIT_ERROR: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.is::<UsageError>() { EXIT_USAGE } else { EXIT_ERROR })
        }
    }
}

/// An error in how the command was called (reported with exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AZPATH_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,azpath={level},azpath_graph={level},azpath_mocks={level}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn run(cli: Cli) -> Result<u8> {
    let show_progress = !cli.quiet && std::io::stderr().is_terminal();
    match cli.command {
        Command::Scan { collect, analyze, snapshot } => {
            let fail_on = parse_fail_on(&analyze)?;
            let queries = load_queries(&analyze)?;
            let snap = runtime()?.block_on(scan::collect(&collect, show_progress))?;
            if let Some(path) = &snapshot {
                output::write_private(path, snap.to_json().as_bytes())?;
            }
            report(&snap, &queries, &analyze, fail_on)
        }
        Command::Collect { collect, output } => {
            let snap = runtime()?.block_on(scan::collect(&collect, show_progress))?;
            output::write_private(&output, snap.to_json().as_bytes())?;
            if !cli.quiet {
                eprintln!("{}", scan::collection_summary(&snap, &output));
            }
            Ok(0)
        }
        Command::Analyze { snapshot, analyze } => {
            let fail_on = parse_fail_on(&analyze)?;
            let queries = load_queries(&analyze)?;
            let snap = read_snapshot(&snapshot)?;
            report(&snap, &queries, &analyze, fail_on)
        }
        Command::Paths { snapshot, from, to, capability, no_eligible, format } => {
            paths(&read_snapshot(&snapshot)?, &from, &to, &capability, !no_eligible, format)
        }
        Command::Diff { old, new, analyze } => {
            let fail_on = parse_fail_on(&analyze)?;
            let queries = load_queries(&analyze)?;
            let options = AnalyzeOptions { include_eligible: !analyze.no_eligible };
            let before = finish(engine::analyze(&read_snapshot(&old)?, &queries, options), &analyze.only);
            let after = finish(engine::analyze(&read_snapshot(&new)?, &queries, options), &analyze.only);
            let diff = azpath::diff::diff(&before, &after);
            let mut buf = Vec::new();
            azpath::diff::render(&diff, analyze.format, &mut buf)?;
            emit(&buf, analyze.output.as_deref())?;
            Ok(exit_for(&diff.new, &diff.new_posture, fail_on))
        }
        Command::Queries { command } => match command {
            QueriesCommand::List { queries } => {
                let all = queries::load(queries.as_deref(), &[])?;
                let mut out = std::io::stdout().lock();
                for q in all {
                    writeln!(out, "{:<46} {:<9} {}", q.id, q.severity.as_str(), q.title)?;
                }
                for c in posture::CHECKS {
                    writeln!(out, "{:<46} {:<9} {} (posture)", c.id, c.severity.as_str(), c.title)?;
                }
                Ok(0)
            }
            QueriesCommand::Check { dir } => {
                let all = queries::load(Some(&dir), &[])?;
                println!("{} queries valid ({} built in)", all.len(), queries::BUILTIN.len());
                Ok(0)
            }
        },
        Command::Bench { size, seed } => bench(size, seed),
        Command::Mock { command } => mock(command),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn parse_fail_on(args: &AnalyzeArgs) -> Result<Option<Severity>> {
    args.fail_on
        .as_deref()
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                UsageError(format!("--fail-on: `{s}` is not one of info, low, medium, high, critical")).into()
            })
        })
        .transpose()
}

fn read_snapshot(path: &Path) -> Result<Snapshot> {
    let text = azpath::input::read_text(path).context("reading the snapshot")?;
    Ok(Snapshot::from_json(&text, &path.display().to_string())?)
}

/// Built-in and `--queries` queries, minus those `--query` leaves out; `--query` may also name posture
/// checks (`AZP-AKS-001`), and naming only posture checks runs no query.
fn load_queries(args: &AnalyzeArgs) -> Result<Vec<azpath_graph::query::Query>> {
    let ids: Vec<String> = args.only.iter().filter(|id| posture::check(id).is_none()).cloned().collect();
    let mut loaded = queries::load(args.queries.as_deref(), &ids)?;
    if ids.is_empty() && !args.only.is_empty() {
        loaded.clear();
    }
    Ok(loaded)
}

/// Stamps the version and keeps the posture checks `--query` selects (all when it names none).
fn finish(mut report: Report, only: &[String]) -> Report {
    report.tool_version = env!("CARGO_PKG_VERSION").to_string();
    if !only.is_empty() {
        let keep = |id: &str| only.iter().any(|o| o.eq_ignore_ascii_case(id));
        report.posture.retain(|f| keep(&f.check_id));
        report.posture_checks.retain(|c| keep(&c.id));
    }
    report
}

fn report(
    snap: &Snapshot,
    queries: &[azpath_graph::query::Query],
    args: &AnalyzeArgs,
    fail_on: Option<Severity>,
) -> Result<u8> {
    let rep =
        finish(engine::analyze(snap, queries, AnalyzeOptions { include_eligible: !args.no_eligible }), &args.only);
    let mut buf = Vec::new();
    render::render(&rep, args.format, render_options(), &mut buf)?;
    emit(&buf, args.output.as_deref())?;
    Ok(exit_for(&rep.findings, &rep.posture, fail_on))
}

/// Paths and posture findings share one severity scale, so `--fail-on` weighs both.
fn exit_for(findings: &[azpath_graph::findings::Finding], posture: &[PostureFinding], fail_on: Option<Severity>) -> u8 {
    match fail_on {
        Some(min) if findings.iter().any(|f| f.severity >= min) || posture.iter().any(|f| f.severity >= min) => {
            EXIT_FINDINGS
        }
        _ => 0,
    }
}

fn render_options() -> RenderOptions {
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(160u16).max(80);
    RenderOptions { width }
}

fn emit(bytes: &[u8], path: Option<&Path>) -> Result<()> {
    match path {
        Some(p) => output::write_private(p, bytes),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

fn paths(
    snap: &Snapshot,
    from: &str,
    to: &str,
    capability: &[String],
    include_eligible: bool,
    format: Format,
) -> Result<u8> {
    if format == Format::Sarif {
        bail!(UsageError("--format sarif is for scan, analyze and diff; paths prints table or json".into()));
    }
    let graph = PrivilegeGraph::build(snap);
    let pick = |what: &str, flag: &str| -> Result<_> {
        match graph.resolve(what).as_slice() {
            [one] => Ok(*one),
            [] => bail!(UsageError(format!("{flag}: no identity or scope `{what}` in the snapshot"))),
            many => bail!(UsageError(format!(
                "{flag}: `{what}` names {} nodes; use an id: {}",
                many.len(),
                many.iter().map(|n| graph.node_ref(*n).id).collect::<Vec<_>>().join(", ")
            ))),
        }
    };
    let (a, b) = (pick(from, "--from")?, pick(to, "--to")?);
    let mut caps = Caps::EMPTY;
    for c in capability {
        caps |=
            Capability::parse(c).ok_or_else(|| UsageError(format!("--capability: unknown capability `{c}`")))?.bit();
    }
    let hops = engine::find_path(&graph, a, b, caps, include_eligible);
    let mut out = std::io::stdout().lock();
    match (format, &hops) {
        (Format::Json, _) => {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "from": graph.node_ref(a), "to": graph.node_ref(b), "found": hops.is_some(), "hops": hops.clone().unwrap_or_default()
                }),
            )?;
            writeln!(out)?;
        }
        (_, None) => {
            writeln!(out, "No path from {} to {}.", graph.node_ref(a).display_name, graph.node_ref(b).display_name)?
        }
        (_, Some(hops)) => {
            writeln!(
                out,
                "{} reaches {} in {} hop(s):",
                graph.node_ref(a).display_name,
                graph.node_ref(b).display_name,
                hops.len()
            )?;
            for (i, h) in hops.iter().enumerate() {
                writeln!(out, "  {}. {}\n     {} evidence: {}", i + 1, h.detail, h.edge, h.evidence.join(" "))?;
            }
        }
    }
    Ok(if hops.is_some() { 0 } else { EXIT_FINDINGS })
}

/// Times each phase on a generated tenant: a benchmark, never a test assertion.
fn bench(size: usize, seed: u64) -> Result<u8> {
    use std::time::Instant;
    let t = Instant::now();
    let tenant = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(size, seed));
    let snap = tenant.to_snapshot();
    let generate = t.elapsed();
    let t = Instant::now();
    let graph = PrivilegeGraph::build(&snap);
    let build = t.elapsed();
    println!(
        "tenant: {} role assignments, {} users, {} groups; graph: {} nodes, {} edges",
        snap.azure.role_assignments.len(),
        snap.entra.users.len(),
        snap.entra.groups.len(),
        graph.node_count(),
        graph.edge_count()
    );
    let kinds: Vec<String> =
        graph.edge_counts().into_iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{k} {n}")).collect();
    println!("edges by kind: {}", kinds.join(", "));
    println!("{:<46} {:>10}", "generate + snapshot", format!("{generate:.2?}"));
    println!("{:<46} {:>10}", "build graph", format!("{build:.2?}"));
    let mut total = build;
    for q in queries::builtin() {
        let t = Instant::now();
        let mut n = 0usize;
        engine::for_each_finding(&graph, &q, AnalyzeOptions::default(), &mut |_| n += 1);
        let d = t.elapsed();
        total += d;
        println!("{:<46} {:>10}  {n} findings", q.id, format!("{d:.2?}"));
    }
    println!("{:<46} {:>10}", "build + all queries", format!("{total:.2?}"));
    let t = Instant::now();
    let n = posture::run(&snap).len();
    println!("{:<46} {:>10}  {n} findings", "posture checks", format!("{:.2?}", t.elapsed()));
    Ok(0)
}

fn mock(command: MockCommand) -> Result<u8> {
    scan::mock_command(command)
}
