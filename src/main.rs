//! The `azpath` command line. See README.md for the commands, the JSON report and exit codes.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use azpath::cli::{exit, AnalyzeArgs, Cli, Command, GapArgs, GapPolicy, MockCommand, NotifyArgs, QueriesCommand};
use azpath::cli::{HistoryArgs, HistoryCommand, TrackArgs};
use azpath::notify::Webhook;
use azpath::render::{self, Format, RenderOptions};
use azpath::{output, queries, scan, UsageError};
use azpath_graph::engine::{self, AnalyzeOptions};
use azpath_graph::findings::{PostureFinding, Report};
use azpath_graph::model::Severity;
use azpath_graph::posture;
use azpath_graph::snapshot::{CoverageGap, Snapshot};

use exit::{ERROR as EXIT_ERROR, FINDINGS as EXIT_FINDINGS, USAGE as EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match parse_command_line() {
        Ok(c) => c,
        Err(Parse::Config(e)) => {
            eprintln!("error: {}", render::text::visible(&format!("{:#}", anyhow::Error::from(e))));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(Parse::Clap(e)) if e.use_stderr() => {
            // The message quotes the offending argument: shown escaped like every other text.
            let mut err = std::io::stderr().lock();
            for line in e.render().to_string().lines() {
                let _ = azpath::render::text::write_line(&mut err, line);
            }
            return ExitCode::from(EXIT_USAGE);
        }
        Err(Parse::Clap(e)) => {
            let _ = e.print();
            return ExitCode::from(0);
        }
    };
    init_logging(cli.verbose, cli.quiet);
    if let Err(e) = handle_signals(&cli.command) {
        eprintln!("error: installing the Ctrl-C handler: {e}");
        return ExitCode::from(EXIT_ERROR);
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", render::text::visible(&format!("{e:#}")));
            ExitCode::from(if e.is::<UsageError>() { EXIT_USAGE } else { EXIT_ERROR })
        }
    }
}

/// Why the command line could not be turned into a command.
enum Parse {
    /// clap's error (or `--help`/`--version`, which clap reports the same way).
    Clap(clap::Error),
    /// The configuration file.
    Config(azpath::config::ConfigError),
}

/// The command line, with the flags it does not give taken from the configuration file (`--config`, else
/// `./azpath.toml`; `--no-config`: none).
fn parse_command_line() -> Result<Cli, Parse> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches().map_err(Parse::Clap)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(Parse::Clap)?;
    if cli.no_config {
        return Ok(cli);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(loaded) = azpath::config::load(cli.config.as_deref(), &cwd).map_err(Parse::Config)? {
        let base = loaded.path.parent().map(Path::to_path_buf).unwrap_or_default();
        loaded.config.apply(&base, &mut cli.command, &matches);
    }
    Ok(cli)
}

/// Ctrl-C and SIGTERM remove the temp files of writes in progress and exit 130 / 143; `mock serve` keeps its
/// own Ctrl-C and SIGTERM handling (it stops its servers and prints what it served; SIGHUP reloads its tenant).
fn handle_signals(command: &Command) -> std::io::Result<()> {
    #[cfg(unix)]
    if !matches!(command, Command::Mock { command: MockCommand::Serve { .. } }) {
        return output::remove_temp_files_on_signal();
    }
    let _ = command;
    Ok(())
}

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
        // Log lines quote server messages and names: each is written escaped, so without colour codes.
        .with_writer(|| azpath::render::text::EscapingWriter(std::io::stderr()))
        .with_ansi(false)
        .try_init();
}

fn run(cli: Cli) -> Result<u8> {
    let show_progress = !cli.quiet && std::io::stderr().is_terminal();
    match cli.command {
        Command::Scan { collect, analyze, snapshot, gaps, notify, track } => {
            let fail_on = parse_fail_on(&analyze)?;
            let hook = notify_webhook(&analyze, &notify)?;
            dot_options(&analyze)?;
            // Refuse a bad output path before collecting, not after.
            for path in snapshot.iter().chain(&analyze.output) {
                output::check(path)?;
            }
            opengraph_paths(&analyze)?;
            let queries = load_queries(&analyze)?;
            // A bad baseline or history store fails before collecting, not after.
            let mut tracking = Tracking::open(&track, &analyze, &queries, cli.quiet)?;
            let collected = runtime()?.block_on(scan::collect(&collect, show_progress))?;
            let snap = &collected.snapshot;
            if let Some(path) = &snapshot {
                output::write_private_with(path, |out| snap.write_json(out))?;
            }
            let announce = Announce { hook, args: &notify, ca_cert: collect.ca_cert.as_deref(), quiet: cli.quiet };
            let code = report(snap, &queries, &analyze, fail_on, &announce, &mut tracking)?;
            Ok(gap_exit(code, &snap.coverage, &collected.named_scopes, gaps, cli.quiet))
        }
        Command::Collect { collect, output, gaps } => {
            output::check(&output)?;
            let collected = runtime()?.block_on(scan::collect(&collect, show_progress))?;
            let snap = &collected.snapshot;
            output::write_private_with(&output, |out| snap.write_json(out))?;
            if !cli.quiet {
                eprintln!("{}", scan::collection_summary(snap, &output));
            }
            Ok(gap_exit(exit::OK, &snap.coverage, &collected.named_scopes, gaps, cli.quiet))
        }
        Command::Analyze { snapshot, analyze, gaps, notify, track } => {
            let fail_on = parse_fail_on(&analyze)?;
            let hook = notify_webhook(&analyze, &notify)?;
            let queries = load_queries(&analyze)?;
            let mut tracking = Tracking::open(&track, &analyze, &queries, cli.quiet)?;
            let snap = read_snapshot(&snapshot)?;
            let announce = Announce { hook, args: &notify, ca_cert: None, quiet: cli.quiet };
            let code = report(&snap, &queries, &analyze, fail_on, &announce, &mut tracking)?;
            let code = gap_exit(code, &snap.coverage, &[], gaps, cli.quiet);
            // Freed with the process, as the report is (see `report`).
            std::mem::forget(snap);
            Ok(code)
        }
        Command::Paths { snapshot, from, to, capability, no_eligible, format } => {
            if format == Format::Ndjson {
                return Err(UsageError(
                    "--format ndjson is for scan and analyze; paths prints table, json or dot".into(),
                )
                .into());
            }
            azpath::paths::run(&read_snapshot(&snapshot)?, &from, &to, &capability, !no_eligible, format)
        }
        Command::Diff { old, new, analyze } => {
            if analyze.format == Format::Ndjson {
                return Err(UsageError(azpath::diff::NDJSON_UNSUPPORTED.into()).into());
            }
            let fail_on = parse_fail_on(&analyze)?;
            no_dot_filters(&analyze, "filter the DOT picture of `scan` and `analyze`, not `diff`")?;
            let queries = load_queries(&analyze)?;
            let options = AnalyzeOptions { include_eligible: !analyze.no_eligible, expand: false };
            let before = finish(engine::analyze(&read_snapshot(&old)?, &queries, options), &analyze.only);
            let after = finish(engine::analyze(&read_snapshot(&new)?, &queries, options), &analyze.only);
            let diff = azpath::diff::diff(&before, &after);
            let mut buf = Vec::new();
            azpath::diff::render(&diff, analyze.format, render_options(), &mut buf)?;
            emit(&buf, analyze.output.as_deref())?;
            Ok(exit_for(&diff.new, &diff.new_posture, fail_on))
        }
        Command::Queries { command } => match command {
            QueriesCommand::List { queries } => {
                let all = queries::load(queries.as_deref(), &[])?;
                render::render_query_list(&all, posture::CHECKS, &mut std::io::stdout().lock())?;
                Ok(0)
            }
            QueriesCommand::Check { dir } => {
                let all = queries::load(Some(&dir), &[])?;
                let line = format!("{} queries valid ({} built in)\n", all.len(), queries::BUILTIN.len());
                output::write_stdout(line.as_bytes())?;
                Ok(0)
            }
        },
        Command::Bench { command: Some(command), .. } => azpath::bench::collect(command),
        Command::Bench { size, seed, command: None } => azpath::bench::run(size, seed),
        Command::Schema { of } => {
            output::write_stdout_with(|out| azpath::schema::write(of, out))?;
            Ok(0)
        }
        Command::Mock { command } => mock(command),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            output::write_stdout_with(|out| {
                clap_complete::generate(shell, &mut cmd, "azpath", out);
                Ok(())
            })?;
            Ok(0)
        }
        Command::Man => {
            let man = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            output::write_stdout_with(|out| man.render(out))?;
            Ok(0)
        }
        Command::History { history, command } => history_command(&history, command),
    }
}

/// The exit code once coverage gaps are weighed: `code` when it is already non-zero (findings win), else
/// [`exit::GAPS`] when a gap the policy counts exists (every gap with `--fail-on-gap`; by default those on or
/// under a scope named on the command line). Says on stderr which gaps failed the run.
fn gap_exit(code: u8, gaps: &[CoverageGap], named_scopes: &[String], args: GapArgs, quiet: bool) -> u8 {
    let under_named = |g: &&CoverageGap| {
        let scope = g.scope.to_ascii_lowercase();
        named_scopes.iter().any(|n| scope == *n || scope.strip_prefix(n.as_str()).is_some_and(|r| r.starts_with('/')))
    };
    let failing: Vec<&CoverageGap> = match args.policy() {
        GapPolicy::All => gaps.iter().collect(),
        GapPolicy::Named => gaps.iter().filter(under_named).collect(),
        GapPolicy::Off => Vec::new(),
    };
    if failing.is_empty() || code != exit::OK {
        return code;
    }
    if !quiet {
        let scopes: std::collections::BTreeSet<&str> = failing.iter().map(|g| g.scope.as_str()).collect();
        let listed: Vec<&str> = scopes.iter().take(5).copied().collect();
        let more = if scopes.len() > 5 { format!(" and {} more", scopes.len() - 5) } else { String::new() };
        let line = format!(
            "azpath: {} coverage gap(s) on {}{more}: the report is incomplete (exit {}; --no-fail-on-gap to ignore)",
            failing.len(),
            listed.join(", "),
            exit::GAPS
        );
        eprintln!("{}", render::text::visible(&line));
    }
    exit::GAPS
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
    azpath::input::read_snapshot(path)
}

/// Built-in and `--queries` queries, minus those `--query` leaves out; `--query` may also name posture
/// checks (`AZP-AKS-001`), and naming only posture checks runs no query. An id that is neither is a usage
/// error with the near misses.
fn load_queries(args: &AnalyzeArgs) -> Result<Vec<azpath_graph::query::Query>> {
    let mut loaded = queries::load(args.queries.as_deref(), &[])?;
    let ids: Vec<&String> = args.only.iter().filter(|id| posture::check(id).is_none()).collect();
    if let Some(unknown) = ids.iter().find(|id| !loaded.iter().any(|q| q.id == ***id)) {
        let known = loaded.iter().map(|q| q.id.as_str()).chain(posture::CHECKS.iter().map(|c| c.id));
        return Err(UsageError(format!(
            "--query: unknown query or posture check `{unknown}`{} (see `azpath queries list`)",
            azpath::cli::did_you_mean(unknown, known)
        ))
        .into());
    }
    if !args.only.is_empty() {
        loaded.retain(|q| ids.contains(&&q.id));
    }
    Ok(loaded)
}

/// Stamps the version and keeps the posture checks `--query` selects (all when it names none).
fn finish(mut report: Report, only: &[String]) -> Report {
    report.tool_version = env!("CARGO_PKG_VERSION").to_string();
    report.posture.retain(|f| selects_check(only, &f.check_id));
    report.posture_checks.retain(|c| selects_check(only, &c.id));
    report
}

/// Whether `--query` keeps posture check `id`: every check when it names nothing, else those it names.
fn selects_check(only: &[String], id: &str) -> bool {
    only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(id))
}

fn report(
    snap: &Snapshot,
    queries: &[azpath_graph::query::Query],
    args: &AnalyzeArgs,
    fail_on: Option<Severity>,
    announce: &Announce,
    tracking: &mut Tracking,
) -> Result<u8> {
    if args.format == Format::Ndjson {
        return stream_pairs(snap, queries, args, fail_on);
    }
    let rep = finish(
        engine::analyze(snap, queries, AnalyzeOptions { include_eligible: !args.no_eligible, expand: args.expand }),
        &args.only,
    );
    tracking.record(&rep, snap)?;
    let (rep, summary) = tracking.filter(rep);
    let code = match &summary {
        Some(_) => azpath::baseline::exit_code(&rep, fail_on, tracking.baseline.is_some()),
        None => exit_for(&rep.findings, &rep.posture, fail_on),
    };
    if let Some(paths) = opengraph_paths(args)? {
        render::opengraph::write_files(&paths, &render::opengraph::export(&rep, snap))?;
        announce.send(&rep);
        return Ok(code);
    }
    if let Some(options) = dot_options(args)? {
        // Held until whole: a filter that matches nothing is an error, and then nothing is written.
        let mut buf = Vec::new();
        render::render_dot_with(&rep, &options, &mut buf)?;
        emit(&buf, args.output.as_deref())?;
    } else {
        // Written as it is rendered, never held whole: a large tenant's JSON report is as large as the analysis
        // (a file gets it through a temp file renamed into place, so a failed write leaves nothing behind).
        let write = |out: &mut dyn std::io::Write| match &summary {
            Some(summary) if args.format == Format::Json => azpath::baseline::render_json(&rep, summary, out),
            Some(summary) if args.format == Format::Table && summary.baseline.file.is_some() => {
                // The table's header says "N new of M" (the summary's first line) when a baseline is used.
                render::text::write_line(out, summary.lines()[0].trim_start_matches("azpath: "))?;
                render::render(&rep, args.format, render_options(), out)
            }
            _ => render::render(&rep, args.format, render_options(), out),
        };
        match args.output.as_deref() {
            Some(p) => output::write_private_with(p, write)?,
            None => output::write_stdout_with(write)?,
        }
    }
    announce.send(&rep);
    // The process ends after this report: its memory goes back with the process, not object by object (a large
    // tenant's report is millions of allocations, a few percent of the run to free).
    std::mem::forget(rep);
    Ok(code)
}

/// What `scan` and `analyze` compare the report with (`--baseline`, `[[suppress]]`) and record it in
/// (`--history`), opened before any work.
struct Tracking {
    baseline: Option<azpath::baseline::Known>,
    suppressions: Vec<azpath::baseline::Suppression>,
    store: Option<azpath::history::Store>,
    keep: (Option<usize>, Option<u32>),
    quiet: bool,
}

impl Tracking {
    /// Reads the baseline (a snapshot one is analyzed as `args` says) and opens the history store.
    fn open(
        track: &TrackArgs,
        args: &AnalyzeArgs,
        queries: &[azpath_graph::query::Query],
        quiet: bool,
    ) -> Result<Tracking> {
        if args.format == Format::Ndjson && (track.baseline.is_some() || track.history.is_some()) {
            return Err(UsageError(
                "--baseline and --history filter and record the report: ndjson streams its pairs only, use another --format"
                    .into(),
            )
            .into());
        }
        let options = AnalyzeOptions { include_eligible: !args.no_eligible, expand: false };
        let baseline = match &track.baseline {
            Some(path) => {
                let old =
                    azpath::baseline::load(path, |snap| finish(engine::analyze(snap, queries, options), &args.only))?;
                Some(azpath::baseline::Known::of(&old, path))
            }
            None => None,
        };
        let store = track.history.as_deref().map(azpath::history::Store::open).transpose()?;
        Ok(Tracking {
            baseline,
            suppressions: track.suppressions.clone(),
            store,
            keep: (track.keep, track.keep_days),
            quiet,
        })
    }

    /// Records the whole report (before the baseline and suppressions filter it), then applies retention.
    fn record(&mut self, rep: &Report, snap: &Snapshot) -> Result<()> {
        let Some(store) = self.store.as_mut() else { return Ok(()) };
        let now = time::OffsetDateTime::now_utc();
        let tenant = snap.metadata.tenant_id.as_deref().unwrap_or_default();
        store.record(rep, tenant, now)?;
        if self.keep != (None, None) {
            store.prune(self.keep.0, self.keep.1, now)?;
        }
        Ok(())
    }

    /// The report with what is known or suppressed removed, and what was removed (`None`: nothing to apply).
    fn filter(&self, rep: Report) -> (Report, Option<azpath::baseline::Summary>) {
        if self.baseline.is_none() && self.suppressions.is_empty() {
            return (rep, None);
        }
        let today = time::OffsetDateTime::now_utc().date();
        let (rep, summary) = azpath::baseline::filter(rep, self.baseline.as_ref(), &self.suppressions, today);
        if !self.quiet {
            for line in summary.lines() {
                eprintln!("{}", render::text::visible(&line));
            }
        }
        (rep, Some(summary))
    }
}

/// `azpath history …`.
fn history_command(args: &HistoryArgs, command: HistoryCommand) -> Result<u8> {
    use render::history as out;
    if !out::supports(args.format) {
        return Err(UsageError(format!("--format: {}", out::FORMATS)).into());
    }
    let Some(path) = &args.history else {
        return Err(UsageError(
            "history: give the store with --history FILE (or `[history] path` in azpath.toml)".into(),
        )
        .into());
    };
    if !path.exists() && !matches!(command, HistoryCommand::Import { .. }) {
        return Err(anyhow::anyhow!(
            "history store {}: no such file (record scans with `scan --history FILE`)",
            path.display()
        ));
    }
    let mut store = azpath::history::Store::open(path)?;
    let format = args.format;
    match command {
        HistoryCommand::List => {
            let scans = store.scans()?;
            output::write_stdout_with(|w| out::render_scans(&scans, format, w))?;
        }
        HistoryCommand::Trend => {
            let trend = store.trend()?;
            output::write_stdout_with(|w| out::render_trend(&trend, format, w))?;
        }
        HistoryCommand::Diff { a, b } => {
            let diff = store.diff(a, b)?;
            output::write_stdout_with(|w| out::render_diff(&diff, format, w))?;
        }
        HistoryCommand::Prune { keep, keep_days } => {
            if keep.is_none() && keep_days.is_none() {
                return Err(UsageError("history prune: give --keep N or --keep-days N".into()).into());
            }
            let keep = keep.map(|k| usize::try_from(k).unwrap_or(usize::MAX));
            let removed = store.prune(keep, keep_days, time::OffsetDateTime::now_utc())?;
            output::write_stdout(format!("removed {removed} scan(s)\n").as_bytes())?;
        }
        HistoryCommand::Import { dir, tenant } => {
            let done = store.import(&azpath::history::read_reports(&dir)?, &tenant)?;
            output::write_stdout_with(|w| out::render_import(&done, format, w))?;
        }
    }
    Ok(exit::OK)
}

/// `--format opengraph`: its two files, or a usage error when `--output FILE` is missing.
fn opengraph_paths(args: &AnalyzeArgs) -> Result<Option<render::opengraph::Paths>> {
    if args.format != Format::Opengraph {
        return Ok(None);
    }
    let paths = render::opengraph::Paths::for_output(args.output.as_deref());
    Ok(Some(paths.ok_or_else(|| UsageError(render::opengraph::NEEDS_FILE.into()))?))
}

/// The DOT picture's options for `--format dot` (`--from`, `--to`); `--from`/`--to` with another format is a
/// usage error.
fn dot_options(args: &AnalyzeArgs) -> Result<Option<render::DotOptions>> {
    if args.format == render::Format::Dot {
        let options = render::DotOptions { from: args.from.clone(), to: args.to.clone(), ..Default::default() };
        return Ok(Some(options));
    }
    no_dot_filters(args, "apply to --format dot only")?;
    Ok(None)
}

/// A usage error when `--from` or `--to` is given where it does not apply.
fn no_dot_filters(args: &AnalyzeArgs, why: &str) -> Result<()> {
    match (&args.from, &args.to) {
        (None, None) => Ok(()),
        _ => Err(UsageError(format!("--from/--to {why}")).into()),
    }
}

/// `--format ndjson`: every pair the grouped report implies, written to the output as it is derived (none kept;
/// see `render::ndjson`). Posture findings are not written but count for `--fail-on`.
fn stream_pairs(
    snap: &Snapshot,
    queries: &[azpath_graph::query::Query],
    args: &AnalyzeArgs,
    fail_on: Option<Severity>,
) -> Result<u8> {
    let options = AnalyzeOptions { include_eligible: !args.no_eligible, expand: false };
    let rep = finish(engine::analyze(snap, queries, options), &args.only);
    let mut streamed = render::ndjson::Streamed::default();
    let write = |out: &mut dyn std::io::Write| {
        streamed = render::ndjson::write_pairs(&rep, out)?;
        Ok(())
    };
    match args.output.as_deref() {
        Some(p) => output::write_private_with(p, write)?,
        None => output::write_stdout_with(write)?,
    }
    if !snap.coverage.is_empty() {
        tracing::warn!(
            "{} API listing(s) could not be collected: pairs they would show may be missing (--format json lists them under coverage)",
            snap.coverage.len()
        );
    }
    let failing = |s: Severity| fail_on.is_some_and(|min| s >= min);
    let fails = streamed.worst.is_some_and(failing) || rep.posture.iter().any(|f| failing(f.severity));
    Ok(if fails { EXIT_FINDINGS } else { 0 })
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

/// The table's width: `COLUMNS` when set, else the terminal's (stdout, then stderr: the report may be piped
/// while a person watches), else 100 columns; never under 60.
fn render_options() -> RenderOptions {
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<u16>().ok());
    let from_tty = || {
        terminal_size::terminal_size_of(std::io::stdout())
            .or_else(|| terminal_size::terminal_size_of(std::io::stderr()))
            .map(|(w, _)| w.0)
    };
    let width = from_env.or_else(from_tty).unwrap_or(100).max(60);
    RenderOptions { width }
}

/// Writes a rendered report to `--output` (see `output::write_private`: `-` is stdout) or stdout.
fn emit(bytes: &[u8], path: Option<&Path>) -> Result<()> {
    match path {
        Some(p) => output::write_private(p, bytes)?,
        None => output::write_stdout(bytes)?,
    }
    Ok(())
}

fn mock(command: MockCommand) -> Result<u8> {
    scan::mock_command(command)
}

/// The `--notify-webhook` URL, checked before any work: one that is not https (or loopback http) is a usage
/// error naming its origin only (the path may hold a token), and so is the flag with `--format ndjson` (the pairs
/// are streamed, no report is assembled to summarize).
fn notify_webhook(args: &AnalyzeArgs, notify: &NotifyArgs) -> Result<Option<Webhook>> {
    let Some(url) = &notify.notify_webhook else { return Ok(None) };
    let hook = Webhook::parse(url).map_err(|e| UsageError(e.to_string()))?;
    if args.format == Format::Ndjson {
        return Err(
            UsageError("--notify-webhook summarizes a report: use it with a format other than ndjson".into()).into()
        );
    }
    Ok(Some(hook))
}

/// Where a run announces its findings (`--notify-webhook`), and how.
struct Announce<'a> {
    hook: Option<Webhook>,
    args: &'a NotifyArgs,
    /// `--ca-cert`, to trust the receiver's certificate as the collectors do.
    ca_cert: Option<&'a Path>,
    quiet: bool,
}

impl Announce<'_> {
    /// Posts the summary of the run's findings, once the report is written. Any failure is a warning on
    /// stderr: the report is kept and the exit code stays the scan's.
    fn send(&self, rep: &Report) {
        let Some(hook) = &self.hook else { return };
        let findings: Vec<&azpath_graph::findings::Finding> = rep.findings.iter().collect();
        if findings.is_empty() {
            if !self.quiet {
                eprintln!("azpath: no finding to announce; nothing sent to {}", hook.origin());
            }
            return;
        }
        let body = azpath::notify::summary(rep, &findings);
        let options = azpath::notify::NotifyOptions {
            deadline: std::time::Duration::from_secs(self.args.notify_timeout),
            ..Default::default()
        };
        let delivered = (|| -> Result<azpath::notify::Delivered> {
            let http = azpath::collect::build_client(self.ca_cert)?;
            Ok(runtime()?.block_on(azpath::notify::send(&http, hook, &body, &options))?)
        })();
        match delivered {
            Ok(d) if !self.quiet => eprintln!(
                "azpath: summary of {} finding(s) sent to {} ({} attempt(s))",
                findings.len(),
                hook.origin(),
                d.attempts
            ),
            Ok(_) => {}
            // Even with --quiet: an alert was lost.
            Err(e) => eprintln!(
                "warning: {} (the report was written; the exit code is the scan's)",
                render::text::visible(&format!("{e:#}"))
            ),
        }
    }
}
