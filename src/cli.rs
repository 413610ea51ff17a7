//! Command-line arguments (clap derive). Raw arguments are turned into validated settings in `main.rs`
//! before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::Format;

/// The version `--version` prints: the package version and the commit it was built from (`build.rs`; just the
/// version when built outside a git checkout, e.g. from crates.io or a tarball).
pub const VERSION: &str = env!("AZPATH_VERSION");

/// azpath finds how identities in an Azure tenant can escalate their privileges, explains every path hop by
/// hop with its evidence, and says the smallest change that cuts it.
///
/// Try it with no Azure account: `azpath scan --mock demo`.
#[derive(Debug, Parser)]
#[command(name = "azpath", version = VERSION, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace). Secrets are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress display and no log output except errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Defaults for flags from this file (see README "Configuration file"). Default: `azpath.toml` in the
    /// working directory, when there is one.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Read no configuration file, not even `./azpath.toml`.
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect a tenant and analyze it in one go (collect + analyze).
    Scan {
        #[command(flatten)]
        collect: CollectArgs,
        #[command(flatten)]
        analyze: AnalyzeArgs,
        /// Also keep the collected snapshot in this file (owner-only, written atomically; `-` is stdout; a FIFO
        /// or character device is written into; a symlink or directory is refused).
        #[arg(long, value_name = "FILE", value_parser = output_path)]
        snapshot: Option<PathBuf>,
        #[command(flatten)]
        gaps: GapArgs,
        #[command(flatten)]
        notify: NotifyArgs,
        #[command(flatten)]
        track: Box<TrackArgs>,
    },
    /// Collect a tenant into a snapshot file, for offline analysis later.
    Collect {
        #[command(flatten)]
        collect: CollectArgs,
        /// Snapshot file to write (owner-only permissions, written atomically; `-` is stdout; a FIFO or
        /// character device is written into; a symlink or directory is refused). A format name (`json`,
        /// `yaml`…) is refused: write `./json` for a file of that name.
        #[arg(short, long, value_name = "FILE", value_parser = output_path)]
        output: PathBuf,
        #[command(flatten)]
        gaps: GapArgs,
    },
    /// Analyze a snapshot file offline.
    Analyze {
        /// Snapshot written by `azpath collect` (or `scan --snapshot`).
        snapshot: PathBuf,
        #[command(flatten)]
        analyze: AnalyzeArgs,
        #[command(flatten)]
        gaps: GapArgs,
        #[command(flatten)]
        notify: NotifyArgs,
        #[command(flatten)]
        track: Box<TrackArgs>,
    },
    /// Show the strongest power one identity reaches at a scope (or how it reaches another identity), and the
    /// best path to it.
    Paths {
        /// Snapshot to search.
        snapshot: PathBuf,
        /// Where the path starts: an Entra object id, ARM id, or exact display name.
        #[arg(long)]
        from: String,
        /// Where the path ends: an ARM scope id (subscription, management group…), object id, or display name.
        #[arg(long)]
        to: String,
        /// Only count role assignments that confer this capability (e.g. assign-roles, write-everything), and
        /// take the cheapest such path instead of the strongest power.
        #[arg(long)]
        capability: Vec<String>,
        /// Ignore PIM-eligible assignments.
        #[arg(long)]
        no_eligible: bool,
        /// Output format: table (text), json, or dot (a Graphviz drawing of the path); sarif is refused.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Compare the findings of two snapshots: what is new, what was fixed.
    Diff {
        /// The earlier snapshot.
        old: PathBuf,
        /// The later snapshot.
        new: PathBuf,
        #[command(flatten)]
        analyze: AnalyzeArgs,
    },
    /// Work with queries.
    Queries {
        #[command(subcommand)]
        command: QueriesCommand,
    },
    /// Measure graph building and every query on a generated tenant of about SIZE nodes (or, with
    /// `bench collect`, a collection against an emulated, throttled Azure).
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        /// Approximate number of nodes (principals and scopes): a number (20000, 20k, 1m) or a tier (small,
        /// company, enterprise, 1m; see BENCHMARKS.md).
        #[arg(long, default_value = "100000", value_parser = azpath_mocks::generate::parse_size)]
        size: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A benchmark other than the analysis one.
        #[command(subcommand)]
        command: Option<BenchCommand>,
    },
    /// Print the JSON Schema of a JSON output (`report`: scan/analyze --format json, whose `ExpandedPair` is also
    /// each --format ndjson line; `diff`: diff --format json). Published as docs/report.schema.json and
    /// docs/diff.schema.json.
    Schema {
        /// Which output.
        #[arg(value_enum)]
        of: crate::schema::SchemaOf,
    },
    /// Mock tenants: serve one over mock ARM and Graph APIs, or generate a large one.
    Mock {
        #[command(subcommand)]
        command: MockCommand,
    },
    /// Print a shell completion script to stdout, e.g. `azpath completions bash > ~/.local/share/bash-completion/completions/azpath`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. `azpath man > ~/.local/share/man/man1/azpath.1`.
    Man,
    /// Recorded scans (`scan --history FILE`): list them, trends of exposure and findings, what appeared or
    /// disappeared between two scans, retention.
    History {
        #[command(flatten)]
        history: HistoryArgs,
        #[command(subcommand)]
        command: HistoryCommand,
    },
}

/// What `scan` and `analyze` compare the report with, and where they record it.
#[derive(Debug, Clone, Default, Args)]
pub struct TrackArgs {
    /// Report only what is new since FILE: a JSON report written earlier (`--format json`) or a snapshot
    /// (analyzed with the same queries). Findings, pairs and posture findings already in it are counted, not
    /// shown; `--fail-on` then weighs new findings only and exits 5 when one is at or above it.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record this scan in the history store FILE (SQLite; created when missing; default: azpath.toml
    /// `[history] path`). See `azpath history`.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// `[[suppress]]` entries of azpath.toml.
    #[arg(skip)]
    pub suppressions: Vec<crate::baseline::Suppression>,
    /// `[history] keep`.
    #[arg(skip)]
    pub keep: Option<usize>,
    /// `[history] keep-days`.
    #[arg(skip)]
    pub keep_days: Option<u32>,
}

/// The history store of `azpath history …`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The history store (default: azpath.toml `[history] path`).
    #[arg(long, value_name = "FILE", global = true)]
    pub history: Option<PathBuf>,
    /// Output format: table or json.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: Format,
}

/// `azpath history …`
#[derive(Debug, Clone, Subcommand)]
pub enum HistoryCommand {
    /// The recorded scans, oldest first: id, time, tenant, findings.
    List,
    /// Exposure per tier (principals reaching it) and findings per severity, scan by scan.
    Trend,
    /// Findings that appeared and disappeared between scan A and scan B (ids from `history list`; default:
    /// the last two scans).
    Diff {
        /// The older scan's id.
        a: Option<i64>,
        /// The newer scan's id.
        b: Option<i64>,
    },
    /// Remove old scans (and findings no remaining scan saw).
    Prune {
        /// Keep the newest N scans.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        keep: Option<u64>,
        /// Keep the scans of the last N days.
        #[arg(long, value_name = "DAYS")]
        keep_days: Option<u32>,
    },
    /// Import a directory of JSON reports written earlier (`--format json`; its other files are left alone), in
    /// the order their snapshots were collected, as if each had been recorded then; a report already in the
    /// store is skipped. Creates the store when missing.
    Import {
        /// The directory.
        dir: PathBuf,
        /// The tenant id to record them under (reports do not name it; live scans use the snapshot's).
        #[arg(long, value_name = "ID", default_value = "")]
        tenant: String,
    },
}

/// `azpath queries …`
#[derive(Debug, Subcommand)]
pub enum QueriesCommand {
    /// List the built-in queries (and those of --queries DIR).
    List {
        /// Directory of your own query files (`<id>.toml`).
        #[arg(long, value_name = "DIR")]
        queries: Option<PathBuf>,
    },
    /// Check query files without running them.
    Check {
        /// Directory of query files.
        dir: PathBuf,
    },
}

/// `azpath mock …`
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Serve a mock tenant (bundled name or directory) until Ctrl-C or SIGTERM, printing how to scan it; a
    /// directory is served again when its files change (or on SIGHUP).
    Serve {
        /// Bundled tenant name (see `azpath mock list`) or tenant directory.
        tenant: String,
        /// Records per page (every listing is paged).
        #[arg(long, default_value_t = 50)]
        page_size: usize,
        /// Fraction of requests answered 429 with Retry-After (0.0–1.0).
        #[arg(long, default_value_t = 0.0)]
        throttle_rate: f64,
        /// Added latency per response, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Serve ARM on this loopback port and Graph on the next one (default: free ports), so that scheduled
        /// scans can name fixed URLs.
        #[arg(long, value_name = "N")]
        port: Option<u16>,
        /// Serve the Kubernetes API of the tenant's clusters on this loopback port and the next ones, one per
        /// cluster in name order (default: free ports), so the printed kubeconfig stays valid across restarts.
        #[arg(long, value_name = "BASE")]
        kube_port: Option<u16>,
        #[command(flatten)]
        emulation: EmulationArgs,
    },
    /// List the bundled mock tenants.
    List,
    /// Generate a synthetic tenant (for benchmarks and load tests).
    Generate {
        /// Approximate number of principals and scopes: a number (20000, 20k, 1m) or a tier (small, company,
        /// enterprise, 1m).
        #[arg(long, default_value = "10000", value_parser = azpath_mocks::generate::parse_size)]
        size: usize,
        /// Seed (same seed, same tenant).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write a tenant directory (servable by `mock serve`) here.
        #[arg(long, value_name = "DIR", conflicts_with = "snapshot")]
        output: Option<PathBuf>,
        /// Write a snapshot file (analyzable by `analyze`) here instead (same rules as `collect -o`).
        #[arg(long, value_name = "FILE", value_parser = output_path)]
        snapshot: Option<PathBuf>,
        /// Generate a collection benchmark tenant of this many users instead of --size (50k, 400000, or a tier:
        /// collect-50k, collect-100k, collect-200k, collect-400k; see docs/collection.md).
        #[arg(long, value_name = "N", conflicts_with = "size", value_parser = azpath_mocks::generate::parse_users)]
        users: Option<usize>,
    },
}

/// Where and how to collect.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Scan a mock tenant (bundled name like `demo`, or a tenant directory) through a local mock ARM/Graph
    /// server: the full HTTP path, no Azure account needed.
    #[arg(
        long,
        value_name = "TENANT",
        conflicts_with_all = ["cloud", "arm_url", "graph_url", "authority_url", "kube_contexts", "all_kube_contexts", "kubeconfig"]
    )]
    pub mock: Option<String>,
    /// Subscription to collect (repeatable): its id, or its display name as `az account list` shows it
    /// (case-insensitive, resolved through the subscriptions listing). Default: every subscription the caller
    /// can see.
    #[arg(long = "subscription", value_name = "ID|NAME")]
    pub subscriptions: Vec<String>,
    /// Collect every subscription under this management group (repeatable).
    #[arg(long = "management-group", value_name = "ID")]
    pub management_groups: Vec<String>,
    /// Azure cloud.
    #[arg(long, value_enum)]
    pub cloud: Option<CloudArg>,
    /// Resource manager URL (for --cloud custom, or to override).
    #[arg(long, value_name = "URL")]
    pub arm_url: Option<String>,
    /// Microsoft Graph URL (for --cloud custom, or to override).
    #[arg(long, value_name = "URL")]
    pub graph_url: Option<String>,
    /// Entra authority URL (for --cloud custom, or to override).
    #[arg(long, value_name = "URL")]
    pub authority_url: Option<String>,
    /// Extra trusted root certificate (PEM), e.g. for Azure Stack or a TLS-inspecting proxy.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Requests in flight at once per service (ARM, Graph, each Kubernetes cluster); the request rate is
    /// paced to each Azure service's throttling budget whatever this says.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Longest time one request may take, sending it and reading its whole response, in seconds (waits
    /// between retries of a throttled request are not counted). A request past it is recorded as a
    /// coverage gap (reason `timeout`) and the scan goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub request_timeout: u64,
    /// Kubernetes objects of one cluster, offline (repeatable): FILE is the output of `kubectl get
    /// namespaces,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,secrets,customresourcedefinitions,deployments,daemonsets,statefulsets,replicasets,jobs,cronjobs,pods
    /// -A -o json` (or `-o yaml`), or a directory of such files; CLUSTER is the AKS or Arc cluster's resource
    /// id, or its name. Secret values are dropped as the file is read.
    #[arg(long = "kube-dump", value_name = "CLUSTER=FILE")]
    pub kube_dumps: Vec<crate::collect::kube::KubeDumpSpec>,
    /// Kubernetes objects of one cluster, live (repeatable): a kubeconfig context, matched to its AKS cluster
    /// by API server host (or name); `CONTEXT=CLUSTER` names the cluster (e.g. for an Arc proxy context).
    /// Needs list on the objects of `--kube-dump`; Secret values are dropped as they are read.
    #[arg(long = "kube-context", value_name = "CONTEXT[=CLUSTER]")]
    pub kube_contexts: Vec<crate::collect::kube_live::KubeContextSpec>,
    /// Collect every context of the kubeconfig.
    #[arg(long)]
    pub all_kube_contexts: bool,
    /// Kubeconfig file for --kube-context (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Microsoft Graph size class of the tenant, which sets the resource-unit budget Graph requests are paced
    /// to: small (under 50 users, 3,500 RU per 10 s), medium (50 to 500, 5,000), large (over 500, 8,000).
    /// Default: read from the first users page (small until it arrives).
    #[arg(long, value_enum, value_name = "SIZE")]
    pub graph_tenant_size: Option<crate::collect::pacer::TenantSize>,
}

/// Cloud names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CloudArg {
    /// Azure public cloud.
    Public,
    /// Azure US Government.
    Usgov,
    /// Azure China (21Vianet).
    China,
    /// Any other endpoints (Azure Stack, a private cloud, a mock): give --arm-url and --graph-url.
    Custom,
}

/// What to report and how.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to this file (owner-only, atomic) instead of stdout; `-` is stdout. A FIFO or
    /// character device (`/dev/null`, a named pipe) is written into, never replaced; a symlink or directory is
    /// refused. `-o` names a file, not a format (`--format` does): a format name (`-o json`) is refused; write
    /// `./json` for a file of that name.
    #[arg(short, long, visible_alias = "out-file", value_name = "FILE", value_parser = output_path)]
    pub output: Option<PathBuf>,
    /// Exit with code 1 when a finding has this severity or higher (info, low, medium, high, critical); with
    /// --baseline, code 5 when a new one has.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Also run the queries in this directory (`<id>.toml`).
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Run only this query or posture check, e.g. AZP-AKS-001 (repeatable; default: all of them).
    #[arg(long = "query", value_name = "ID")]
    pub only: Vec<String>,
    /// Ignore PIM-eligible assignments (report standing access only).
    #[arg(long)]
    pub no_eligible: bool,
    /// Also list every (principal, target) pair with the finding that explains it and its flags (JSON `pairs`;
    /// table and DOT unchanged). `--format ndjson` streams the same pairs, one per line, without holding them.
    #[arg(long)]
    pub expand: bool,
    /// With --format dot: draw only the path cores that start at this principal or reach it through a group
    /// (Entra object id, Kubernetes subject id or display name; case-insensitive).
    #[arg(long, value_name = "ID|NAME")]
    pub from: Option<String>,
    /// With --format dot: draw only the path cores that land on or reach this target (ARM scope id, object id
    /// or display name; case-insensitive).
    #[arg(long, value_name = "ID|NAME")]
    pub to: Option<String>,
}

/// When coverage gaps (what could not be read) set the exit code ([`exit::GAPS`]).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct GapArgs {
    /// Exit with code 4 when anything could not be read (a coverage gap), when no finding already gives 1.
    /// Default: on for gaps on a subscription or management group named with `--subscription` /
    /// `--management-group` (a name or id that cannot be read is not "0 findings"), off otherwise.
    #[arg(long, overrides_with = "no_fail_on_gap")]
    pub fail_on_gap: bool,
    /// Never exit 4 for coverage gaps (they are still listed in the report).
    #[arg(long, overrides_with = "fail_on_gap")]
    pub no_fail_on_gap: bool,
}

/// Which coverage gaps fail the run, as [`GapArgs`] decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapPolicy {
    /// Every gap.
    All,
    /// Gaps on the subscriptions and management groups named on the command line.
    Named,
    /// None.
    Off,
}

impl GapArgs {
    /// The policy the flags select (the last of `--fail-on-gap` / `--no-fail-on-gap` wins).
    pub fn policy(&self) -> GapPolicy {
        match (self.fail_on_gap, self.no_fail_on_gap) {
            (true, _) => GapPolicy::All,
            (_, true) => GapPolicy::Off,
            _ => GapPolicy::Named,
        }
    }
}

/// Where to announce a run's findings (`scan`, `analyze`).
#[derive(Debug, Clone, Default, Args)]
pub struct NotifyArgs {
    /// POST a JSON summary of the findings (counts by severity and reach, the top findings with their fix
    /// command, a Slack/Teams `text`) to this webhook once the report is written. https only (http for
    /// loopback hosts); retried on 429/5xx/connection failures; a receiver that is down gives a warning,
    /// never a failed scan. Ids and names only, never a secret. Not with `--format ndjson`. The URL (a secret
    /// for Slack and Teams) may come from the environment instead, and is shown by its origin only.
    #[arg(long, value_name = "URL", env = "AZPATH_NOTIFY_WEBHOOK", hide_env_values = true)]
    pub notify_webhook: Option<String>,
    /// Longest time spent delivering the webhook summary, retries included, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub notify_timeout: u64,
}

/// Exit codes, documented in README's "Exit codes" (`tests/cli_conventions.rs` ties that table to [`ALL`]).
pub mod exit {
    /// Success: nothing at or above `--fail-on`, no failing coverage gap.
    pub const OK: u8 = 0;
    /// Findings (paths or posture) at or above `--fail-on` (for `paths`: no path found).
    pub const FINDINGS: u8 = 1;
    /// Usage error: a bad flag or value (clap's own code as well).
    pub const USAGE: u8 = 2;
    /// Anything else went wrong: bad input, no credential, network failure of the whole scan, IO.
    pub const ERROR: u8 = 3;
    /// Coverage gaps that `--fail-on-gap` (or its default for named subscriptions) counts.
    pub const GAPS: u8 = 4;
    /// With `--baseline`: new findings (paths or posture, not suppressed) at or above `--fail-on`.
    pub const NEW_FINDINGS: u8 = 5;
    /// Interrupted by Ctrl-C (128 + SIGINT).
    pub const SIGINT: u8 = 130;
    /// Terminated by SIGTERM (128 + SIGTERM).
    pub const SIGTERM: u8 = 143;
    /// Every exit code azpath uses, in README order (ascending).
    pub const ALL: &[u8] = &[OK, FINDINGS, USAGE, ERROR, GAPS, NEW_FINDINGS, SIGINT, SIGTERM];
}

/// Output format names a user may type after `-o` out of habit: azpath's formats and those of `az` and
/// `kubectl`. `-o` names a file here, so these are refused there.
fn format_names() -> Vec<String> {
    let ours = Format::value_variants().iter().filter_map(|f| f.to_possible_value()).map(|v| v.get_name().to_owned());
    let theirs = ["json", "jsonc", "yaml", "yamlc", "table", "tsv", "none", "wide", "name", "text", "csv"];
    let mut names: Vec<String> = ours.chain(theirs.map(String::from)).collect();
    names.sort();
    names.dedup();
    names
}

/// Parses an output FILE, refusing a bare format name (`-o json`): az and kubectl users mean a format there,
/// and would otherwise get a table in a file named `json`. `./json` (any path with a directory part or
/// another spelling) is taken as a file.
fn output_path(value: &str) -> Result<PathBuf, String> {
    let lower = value.to_ascii_lowercase();
    if !format_names().contains(&lower) {
        return Ok(PathBuf::from(value));
    }
    let ours = Format::from_str(&lower, true).is_ok();
    let hint = if ours { format!("for the {lower} format use `--format {lower}`; ") } else { String::new() };
    Err(format!(
        "`{value}` is an output format name, not a file: -o/--output names the file to write ({hint}to write a file named `{value}`, give `./{value}`)"
    ))
}

/// Up to five of `candidates` close to `given` (case-insensitive), closest first, for "did you mean" lines.
pub fn near_misses<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let given = given.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| {
            let lower = c.to_lowercase();
            let score = if given.len() >= 3 && lower.contains(&given) {
                1.0
            } else {
                strsim::normalized_damerau_levenshtein(&given, &lower)
            };
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

/// `" (did you mean `a`, `b`?)"` for [`near_misses`], or nothing when there are none.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let near = near_misses(given, candidates);
    if near.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = near.iter().map(|c| format!("`{c}`")).collect();
    format!(" (did you mean {}?)", quoted.join(", "))
}

/// Azure's throttling as the mock emulates it (`mock serve`, `bench collect`): docs/collection.md.
#[derive(Debug, Clone, Args)]
pub struct EmulationArgs {
    /// Latency of every answer, with uniform jitter drawn from --seed: `60ms±20ms` (or `60ms+-20ms`, `60ms`).
    #[arg(long, value_name = "MEAN±JITTER", value_parser = azpath_mocks::throttle::Latency::parse)]
    pub latency: Option<azpath_mocks::throttle::Latency>,
    /// Documented limits to emulate, comma-separated: graph-ru (Microsoft Graph's resource-unit bucket by
    /// tenant size), arm-buckets (ARM's read buckets per subscription and per tenant), none.
    #[arg(long, value_name = "LIST")]
    pub throttle: Option<String>,
    /// Fraction (0.0–1.0) of requests answered 429 with Retry-After, on top of the buckets.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub inject_429: f64,
    /// Fraction (0.0–1.0) of requests answered 503 with Retry-After, on top of the buckets.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub inject_503: f64,
    /// Seed of the latency and fault draws (same seed, same draws for the same URLs).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl EmulationArgs {
    /// The validated emulation options.
    pub fn options(&self) -> Result<azpath_mocks::throttle::ThrottleOptions, crate::UsageError> {
        let mut options = azpath_mocks::throttle::ThrottleOptions {
            latency: self.latency.unwrap_or_default(),
            inject_429: self.inject_429,
            inject_503: self.inject_503,
            injected_retry_after_secs: 1,
            seed: self.seed,
            ..Default::default()
        };
        for (flag, value) in [("--inject-429", self.inject_429), ("--inject-503", self.inject_503)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(crate::UsageError(format!("{flag}: {value} is not between 0 and 1")));
            }
        }
        if let Some(list) = &self.throttle {
            options.set_throttles(list).map_err(|e| crate::UsageError(format!("--throttle: {e}")))?;
        }
        Ok(options)
    }
}

/// `azpath bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Collect a generated tenant served in-process behind Azure's emulated limits, with the real collector,
    /// and compare the wall time with the floor the limits allow (docs/collection.md).
    Collect {
        /// Users of the generated tenant (50k, 400000, or collect-50k … collect-400k).
        #[arg(long, default_value = "50k", value_parser = azpath_mocks::generate::parse_users)]
        users: usize,
        /// Requests in flight at once (the collector's default unless given).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Fraction of requests answered 429 on top of the buckets.
        #[arg(long, value_name = "F", default_value_t = 0.0)]
        inject_429: f64,
        /// Fraction of requests answered 503 on top of the buckets.
        #[arg(long, value_name = "F", default_value_t = 0.0)]
        inject_503: f64,
        /// Latency of every answer (`60ms±20ms`).
        #[arg(long, default_value = "60ms±20ms", value_parser = azpath_mocks::throttle::Latency::parse)]
        latency: azpath_mocks::throttle::Latency,
        /// Records per page (Graph's `$top=999` maximum by default).
        #[arg(long, default_value_t = 999)]
        page_size: usize,
        /// Generator and draw seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Read a snapshot file as `analyze FILE` does and build its graph: the wall time and peak memory of each,
    /// and the time per graph node+edge (e.g. on `mock generate --size 1m --snapshot FILE`).
    Read {
        /// The snapshot file.
        snapshot: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_name_is_refused_as_an_output_file() {
        let err = output_path("json").unwrap_err();
        assert!(err.contains("--format json") && err.contains("./json"), "{err}");
        let err = output_path("YAML").unwrap_err();
        assert!(err.contains("./YAML") && !err.contains("--format"), "{err}");
        assert_eq!(output_path("./json").unwrap(), PathBuf::from("./json"));
        assert_eq!(output_path("report.json").unwrap(), PathBuf::from("report.json"));
        assert_eq!(output_path("-").unwrap(), PathBuf::from("-"));
    }

    #[test]
    fn near_misses_are_close_spellings_only() {
        let names = ["demo", "deny-assignments", "nested-groups"];
        assert_eq!(near_misses("dmeo", names), ["demo"]);
        assert_eq!(near_misses("NESTED", names), ["nested-groups"]);
        assert!(near_misses("zzzzzz", names).is_empty());
        assert_eq!(did_you_mean("zzzzzz", names), "");
        assert_eq!(did_you_mean("dem", names), " (did you mean `demo`?)");
    }

    #[test]
    fn the_last_gap_flag_wins() {
        let parse = |args: &[&str]| {
            let mut all = vec!["azpath", "analyze", "s.json"];
            all.extend(args);
            match Cli::try_parse_from(all).unwrap().command {
                Command::Analyze { gaps, .. } => gaps.policy(),
                _ => unreachable!(),
            }
        };
        assert_eq!(parse(&[]), GapPolicy::Named);
        assert_eq!(parse(&["--fail-on-gap"]), GapPolicy::All);
        assert_eq!(parse(&["--no-fail-on-gap"]), GapPolicy::Off);
        assert_eq!(parse(&["--no-fail-on-gap", "--fail-on-gap"]), GapPolicy::All);
        assert_eq!(parse(&["--fail-on-gap", "--no-fail-on-gap"]), GapPolicy::Off);
    }
    #[test]
    fn mock_serve_takes_the_emulation_flags() {
        let parse = |args: &[&str]| {
            let mut all = vec!["azpath", "mock", "serve", "demo"];
            all.extend(args);
            match Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Command::Mock { command: MockCommand::Serve { emulation, .. } }) => emulation.options(),
                Ok(_) => unreachable!(),
                Err(e) => Err(crate::UsageError(e.to_string())),
            }
        };
        let o =
            parse(&["--latency", "60ms±20ms", "--throttle", "graph-ru,arm-buckets", "--inject-429", "0.05"]).unwrap();
        assert!(o.graph_ru && o.arm_buckets && o.is_active());
        assert_eq!(o.latency.jitter, std::time::Duration::from_millis(20));
        assert_eq!((o.inject_429, o.inject_503), (0.05, 0.0));
        assert!(!parse(&[]).unwrap().is_active(), "off unless asked for");
        assert!(parse(&["--throttle", "graph"]).is_err());
        assert!(parse(&["--inject-503", "1.5"]).is_err());
        assert!(parse(&["--latency", "soon"]).is_err());
    }

    #[test]
    fn bench_collect_is_a_subcommand_and_bench_size_still_works() {
        let command = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.command);
        match command(&["azpath", "bench", "collect", "--users", "collect-400k", "--concurrency", "64"]) {
            Ok(Command::Bench { command: Some(BenchCommand::Collect { users, concurrency, .. }), .. }) => {
                assert_eq!((users, concurrency), (400_000, Some(64)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            command(&["azpath", "bench", "--size", "20k"]),
            Ok(Command::Bench { size: 20_000, command: None, .. })
        ));
        assert!(command(&["azpath", "bench", "collect", "--users", "small"]).is_err(), "a --size tier is not users");
    }
}
