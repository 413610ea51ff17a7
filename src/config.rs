//! `azpath.toml`: defaults for command-line flags, read from `--config FILE` or, without it, from
//! `azpath.toml` in the working directory (`--no-config` skips it). A flag given on the command line always
//! wins over the file. Unknown keys and bad values are errors naming the key and the file.
//!
//! ```toml
//! [defaults]
//! format = "json"            # --format
//! fail-on = "high"           # --fail-on
//! fail-on-gap = true         # --fail-on-gap (false: --no-fail-on-gap)
//! include-eligible = false   # --no-eligible
//! queries = "my-queries"     # --queries DIR, relative to this file's directory
//! subscriptions = ["contoso-platform"]   # --subscription (not applied with --mock)
//! management-groups = []                 # --management-group (not applied with --mock)
//! cloud = "public"           # --cloud, --arm-url, --graph-url, --authority-url (not applied with --mock)
//! concurrency = 64           # --concurrency
//! request-timeout = 300      # --request-timeout, seconds
//!
//! [[suppress]]               # findings counted, not shown (README "Baselines and suppressions")
//! fingerprint = "0123456789abcdef0123456789abcdef"   # a finding id or pair fingerprint, or:
//! # query = "guest-*"  source = "*"  target = "/subscriptions/*"   (`*` and `?` patterns)
//! reason = "accepted risk, ticket SEC-12"            # required
//! expires = "2027-01-31"                             # optional: suppresses up to and including that day
//!
//! [history]                  # README "History"
//! path = "azpath-history.db" # --history FILE, relative to this file's directory
//! keep = 100                 # scans kept (oldest removed after each recorded scan)
//! keep-days = 90             # days kept
//! ```

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::Deserialize;

use crate::cli::{AnalyzeArgs, CloudArg, CollectArgs, Command, GapArgs};
use crate::render::Format;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "azpath.toml";

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading the configuration file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (an unknown key, a wrong type); the message names the key
    /// and its line.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
    /// A key holds a value that flag does not take.
    #[error("{}: key `{key}`: {message}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `defaults.format`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An entry of an array of tables (`[[suppress]]`) holds a bad or missing value.
    #[error("{}: key `{table}[{index}].{key}`: {message}", path.display())]
    Entry {
        /// The file.
        path: PathBuf,
        /// The array, e.g. `suppress`.
        table: &'static str,
        /// The entry's position, from 0.
        index: usize,
        /// The key in the entry.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for flags.
    #[serde(default)]
    pub defaults: Defaults,
    /// Suppressions (`[[suppress]]`).
    #[serde(default)]
    pub suppress: Vec<crate::baseline::Suppression>,
    /// The history store (`[history]`).
    #[serde(default)]
    pub history: HistoryConfig,
}

/// `[history]`: where scans are recorded and how long they are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HistoryConfig {
    /// `--history FILE`, relative to the configuration file's directory.
    pub path: Option<PathBuf>,
    /// Scans kept: older ones are removed after each recorded scan (`history prune --keep N`).
    pub keep: Option<usize>,
    /// Days kept: scans recorded earlier are removed after each recorded scan (`history prune --keep-days N`).
    pub keep_days: Option<u32>,
}

/// Defaults for flags (`[defaults]`), named as the flags are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Defaults {
    /// `--format`.
    pub format: Option<String>,
    /// `--fail-on`.
    pub fail_on: Option<String>,
    /// `--fail-on-gap` (true) or `--no-fail-on-gap` (false).
    pub fail_on_gap: Option<bool>,
    /// `false`: `--no-eligible`.
    pub include_eligible: Option<bool>,
    /// `--queries DIR`, relative to the configuration file's directory.
    pub queries: Option<PathBuf>,
    /// `--subscription` (ids or display names).
    pub subscriptions: Option<Vec<String>>,
    /// `--management-group`.
    pub management_groups: Option<Vec<String>>,
    /// `--cloud`.
    pub cloud: Option<String>,
    /// `--arm-url`.
    pub arm_url: Option<String>,
    /// `--graph-url`.
    pub graph_url: Option<String>,
    /// `--authority-url`.
    pub authority_url: Option<String>,
    /// `--concurrency`.
    pub concurrency: Option<usize>,
    /// `--request-timeout`, in seconds (1 to 86400).
    pub request_timeout: Option<u64>,
    /// `--graph-tenant-size` (`small`, `medium`, `large`).
    pub graph_tenant_size: Option<crate::collect::pacer::TenantSize>,
}

/// Every key of `[defaults]`, in the order of the README table (tested against it and against [`Defaults`]).
pub const KEYS: &[&str] = &[
    "format",
    "fail-on",
    "fail-on-gap",
    "include-eligible",
    "queries",
    "subscriptions",
    "management-groups",
    "cloud",
    "arm-url",
    "graph-url",
    "authority-url",
    "concurrency",
    "request-timeout",
    "graph-tenant-size",
];

/// A configuration read from a file, with where it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// What it says.
    pub config: Config,
}

/// Reads `explicit` (`--config`), or `azpath.toml` in `cwd` when it exists; `None` when there is no file.
pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Option<Loaded>, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = cwd.join(DEFAULT_FILE);
            if !p.is_file() {
                return Ok(None);
            }
            PathBuf::from(DEFAULT_FILE)
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
    let config = parse(&text, &path)?;
    Ok(Some(Loaded { path, config }))
}

/// Parses and checks a configuration file's text (`path` names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let config: Config =
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: one_line(&e, text) })?;
    config.defaults.check(path)?;
    for (index, entry) in config.suppress.iter().enumerate() {
        entry.check().map_err(|(key, message)| ConfigError::Entry {
            path: path.to_owned(),
            table: "suppress",
            index,
            key,
            message,
        })?;
    }
    if config.history.keep == Some(0) {
        return Err(ConfigError::Value {
            path: path.to_owned(),
            key: "history.keep",
            message: "must be at least 1".into(),
        });
    }
    Ok(config)
}

/// toml's message on one line with the line it is about (its own rendering quotes the line under a caret).
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim_end_matches('.');
    match e.span() {
        Some(span) => {
            let line = text.get(..span.start).map_or(0, |before| before.matches('\n').count()) + 1;
            format!("line {line}: {message}")
        }
        None => message.to_string(),
    }
}

impl Defaults {
    /// Values a flag would refuse are refused here, naming the key.
    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::Value { path: path.to_owned(), key, message };
        if let Some(f) = &self.format {
            Format::from_str(f, false).map_err(|_| bad("defaults.format", format!("`{f}` is not a format")))?;
        }
        if let Some(s) = &self.fail_on {
            azpath_graph::model::Severity::parse(s).ok_or_else(|| {
                bad("defaults.fail-on", format!("`{s}` is not one of info, low, medium, high, critical"))
            })?;
        }
        if let Some(c) = &self.cloud {
            CloudArg::from_str(c, true)
                .map_err(|_| bad("defaults.cloud", format!("`{c}` is not one of public, usgov, china, custom")))?;
        }
        if self.request_timeout.is_some_and(|t| !(1..=86_400).contains(&t)) {
            return Err(bad("defaults.request-timeout", "must be 1 to 86400 seconds".into()));
        }
        Ok(())
    }

    /// Sets every flag of `command` that `matches` (its parsed command line) did not give.
    pub fn apply(&self, base: &Path, command: &mut Command, matches: &ArgMatches) {
        let Some((_, sub)) = matches.subcommand() else { return };
        match command {
            Command::Scan { collect, analyze, gaps, .. } => {
                self.apply_collect(collect, sub);
                self.apply_analyze(base, analyze, sub);
                self.apply_gaps(gaps, sub);
            }
            Command::Collect { collect, gaps, .. } => {
                self.apply_collect(collect, sub);
                self.apply_gaps(gaps, sub);
            }
            Command::Analyze { analyze, gaps, .. } => {
                self.apply_analyze(base, analyze, sub);
                self.apply_gaps(gaps, sub);
            }
            Command::Diff { analyze, .. } => self.apply_analyze(base, analyze, sub),
            _ => {}
        }
    }

    fn apply_analyze(&self, base: &Path, args: &mut AnalyzeArgs, m: &ArgMatches) {
        if let Some(f) = self.format.as_deref().filter(|_| !given(m, "format")) {
            args.format = Format::from_str(f, false).expect("checked when parsed");
        }
        if let Some(s) = self.fail_on.as_ref().filter(|_| !given(m, "fail_on")) {
            args.fail_on = Some(s.clone());
        }
        if let Some(include) = self.include_eligible.filter(|_| !given(m, "no_eligible")) {
            args.no_eligible = !include;
        }
        if let Some(dir) = self.queries.as_ref().filter(|_| !given(m, "queries")) {
            args.queries = Some(base.join(dir));
        }
    }

    fn apply_gaps(&self, args: &mut GapArgs, m: &ArgMatches) {
        if let Some(fail) = self.fail_on_gap.filter(|_| !given(m, "fail_on_gap") && !given(m, "no_fail_on_gap")) {
            *args = GapArgs { fail_on_gap: fail, no_fail_on_gap: !fail };
        }
    }

    fn apply_collect(&self, args: &mut CollectArgs, m: &ArgMatches) {
        if let Some(n) = self.concurrency.filter(|_| !given(m, "concurrency")) {
            args.concurrency = n;
        }
        if let Some(t) = self.request_timeout.filter(|_| !given(m, "request_timeout")) {
            args.request_timeout = t;
        }
        if let Some(size) = self.graph_tenant_size.filter(|_| !given(m, "graph_tenant_size")) {
            args.graph_tenant_size = Some(size);
        }
        // A mock tenant is its own tenant: where to collect does not apply to it.
        if args.mock.is_some() {
            return;
        }
        let set = |value: &Option<String>, id: &str, arg: &mut Option<String>| {
            if let Some(v) = value.as_ref().filter(|_| !given(m, id)) {
                *arg = Some(v.clone());
            }
        };
        set(&self.arm_url, "arm_url", &mut args.arm_url);
        set(&self.graph_url, "graph_url", &mut args.graph_url);
        set(&self.authority_url, "authority_url", &mut args.authority_url);
        if let Some(c) = self.cloud.as_deref().filter(|_| !given(m, "cloud")) {
            args.cloud = Some(CloudArg::from_str(c, true).expect("checked when parsed"));
        }
        if let Some(s) = self.subscriptions.as_ref().filter(|_| !given(m, "subscriptions")) {
            args.subscriptions = s.clone();
        }
        if let Some(g) = self.management_groups.as_ref().filter(|_| !given(m, "management_groups")) {
            args.management_groups = g.clone();
        }
    }
}

impl Config {
    /// Sets what the command line did not give from every table: `[defaults]`, then the suppressions and
    /// `[history]` for the commands that use them (`base`: the file's directory, for relative paths).
    pub fn apply(&self, base: &Path, command: &mut Command, matches: &ArgMatches) {
        self.defaults.apply(base, command, matches);
        let history_path = self.history.path.as_ref().map(|p| base.join(p));
        match command {
            Command::Scan { track, .. } | Command::Analyze { track, .. } => {
                track.suppressions = self.suppress.clone();
                track.keep = self.history.keep;
                track.keep_days = self.history.keep_days;
                if track.history.is_none() {
                    track.history = history_path;
                }
            }
            Command::History { history, .. } => {
                if let (None, Some(p)) = (&history.history, history_path) {
                    history.history = Some(p);
                }
            }
            _ => {}
        }
    }
}

/// Whether the command line gave argument `id` (not a default, not absent).
fn given(m: &ArgMatches, id: &str) -> bool {
    m.value_source(id) == Some(ValueSource::CommandLine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn file() -> &'static Path {
        Path::new("/etc/azpath.toml")
    }

    /// Parses `args` as the binary does and applies `config`.
    fn with_config(config: &str, args: &[&str]) -> Command {
        let config = parse(config, file()).unwrap();
        let matches = crate::cli::Cli::command().try_get_matches_from(args).unwrap();
        let mut cli = crate::cli::Cli::from_arg_matches(&matches).unwrap();
        config.defaults.apply(Path::new("/etc"), &mut cli.command, &matches);
        cli.command
    }

    #[test]
    fn defaults_fill_what_the_command_line_does_not_give() {
        let text = "[defaults]\nformat = \"json\"\nfail-on = \"high\"\ninclude-eligible = false\nqueries = \"q\"\nfail-on-gap = false\n";
        let Command::Analyze { analyze, gaps, .. } = with_config(text, &["azpath", "analyze", "s.json"]) else {
            unreachable!()
        };
        assert_eq!(analyze.format, Format::Json);
        assert_eq!(analyze.fail_on.as_deref(), Some("high"));
        assert!(analyze.no_eligible);
        assert_eq!(analyze.queries.as_deref(), Some(Path::new("/etc/q")));
        assert_eq!(gaps.policy(), crate::cli::GapPolicy::Off);
        let given = ["azpath", "analyze", "s.json", "--format", "sarif", "--fail-on", "low", "--fail-on-gap"];
        let Command::Analyze { analyze, gaps, .. } = with_config(text, &given) else { unreachable!() };
        assert_eq!(analyze.format, Format::Sarif);
        assert_eq!(analyze.fail_on.as_deref(), Some("low"));
        assert_eq!(gaps.policy(), crate::cli::GapPolicy::All);
    }

    #[test]
    fn suppressions_and_history_apply_to_the_commands_that_use_them() {
        let text = "[[suppress]]\nquery = \"q-*\"\nreason = \"r\"\n\n[history]\npath = \"h.db\"\nkeep = 3\n";
        let config = parse(text, file()).unwrap();
        let apply = |args: &[&str]| {
            let matches = crate::cli::Cli::command().try_get_matches_from(args).unwrap();
            let mut cli = crate::cli::Cli::from_arg_matches(&matches).unwrap();
            config.apply(Path::new("/etc"), &mut cli.command, &matches);
            cli.command
        };
        let Command::Scan { track, .. } = apply(&["azpath", "scan", "--mock", "demo"]) else { unreachable!() };
        assert_eq!(track.suppressions.len(), 1);
        assert_eq!((track.history.as_deref(), track.keep), (Some(Path::new("/etc/h.db")), Some(3)));
        let given = ["azpath", "analyze", "s.json", "--history", "mine.db"];
        let Command::Analyze { track, .. } = apply(&given) else { unreachable!() };
        assert_eq!(track.history.as_deref(), Some(Path::new("mine.db")));
        let Command::History { history, .. } = apply(&["azpath", "history", "list"]) else { unreachable!() };
        assert_eq!(history.history.as_deref(), Some(Path::new("/etc/h.db")));
        let none = parse("", file()).unwrap();
        assert!(none.suppress.is_empty() && none.history.path.is_none());
    }

    #[test]
    fn bad_suppress_entries_name_the_entry_and_key() {
        let err = parse("[[suppress]]\nquery = \"*\"\nreason = \"r\"\n[[suppress]]\nquery = \"*\"\n", file());
        let err = err.unwrap_err().to_string();
        assert!(err.contains("/etc/azpath.toml") && err.contains("`suppress[1].reason`"), "{err}");
        let err = parse("[history]\nkeep-weeks = 2\n", file()).unwrap_err().to_string();
        assert!(err.contains("`keep-weeks`"), "{err}");
    }

    #[test]
    fn where_to_collect_is_not_applied_to_a_mock_tenant() {
        let text = "[defaults]\nsubscriptions = [\"prod\"]\nconcurrency = 2\n";
        let Command::Scan { collect, .. } = with_config(text, &["azpath", "scan"]) else { unreachable!() };
        assert_eq!((collect.subscriptions, collect.concurrency), (vec!["prod".to_string()], 2));
        let Command::Scan { collect, .. } = with_config(text, &["azpath", "scan", "--mock", "demo"]) else {
            unreachable!()
        };
        assert_eq!((collect.subscriptions.len(), collect.concurrency), (0, 2));
    }

    #[test]
    fn the_graph_tenant_size_is_a_default_a_flag_overrides() {
        use crate::collect::pacer::TenantSize;
        let text = "[defaults]\ngraph-tenant-size = \"large\"\n";
        let Command::Scan { collect, .. } = with_config(text, &["azpath", "scan"]) else { unreachable!() };
        assert_eq!(collect.graph_tenant_size, Some(TenantSize::Large));
        let args = ["azpath", "scan", "--graph-tenant-size", "small"];
        let Command::Scan { collect, .. } = with_config(text, &args) else { unreachable!() };
        assert_eq!(collect.graph_tenant_size, Some(TenantSize::Small));
        let Command::Scan { collect, .. } = with_config("", &["azpath", "scan"]) else { unreachable!() };
        assert_eq!(collect.graph_tenant_size, None, "read from the first users page");
        let err = parse("[defaults]\ngraph-tenant-size = \"huge\"\n", file()).unwrap_err().to_string();
        assert!(err.contains("/etc/azpath.toml") && err.contains("huge"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key_and_file() {
        let err = parse("[defaults]\nformats = \"json\"\n", file()).unwrap_err().to_string();
        assert!(err.starts_with("/etc/azpath.toml: line 2: ") && err.contains("`formats`"), "{err}");
        let err = parse("[default]\n", file()).unwrap_err().to_string();
        assert!(err.contains("`default`"), "{err}");
        let err = parse("[defaults]\nformat = \"yaml\"\n", file()).unwrap_err().to_string();
        assert!(err.contains("key `defaults.format`") && err.contains("/etc/azpath.toml"), "{err}");
        let err = parse("[defaults]\nfail-on = \"urgent\"\n", file()).unwrap_err().to_string();
        assert!(err.contains("defaults.fail-on"), "{err}");
        assert!(parse("[defaults]\nrequest-timeout = 0\n", file()).is_err());
        assert!(parse("", file()).is_ok());
    }

    #[test]
    fn keys_list_every_field() {
        let mut text = String::from("[defaults]\n");
        let values = [
            "\"json\"",
            "\"high\"",
            "true",
            "true",
            "\"q\"",
            "[]",
            "[]",
            "\"public\"",
            "\"https://a\"",
            "\"https://b\"",
            "\"https://c\"",
            "1",
            "1",
            "\"medium\"",
        ];
        for (key, value) in KEYS.iter().zip(values) {
            text.push_str(&format!("{key} = {value}\n"));
        }
        let config = parse(&text, file()).unwrap();
        let rendered = format!("{:?}", config.defaults);
        assert!(!rendered.contains("None"), "a field missing from KEYS: {rendered}");
    }
}
