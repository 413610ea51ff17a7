//! CLI conventions users bring from az and kubectl (issue 11, item 8): `-o` is a file and refuses a format
//! name, `--subscription` takes display names, coverage gaps have their own exit code, usage errors exit 2
//! with near misses, a closed pipe ends quietly, completions, man page, `--version`, and `analyze` of a report.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::{azpath, demo_folder, run, run_command};
use serde_json::Value;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Runs `azpath ARGS` in `dir` (so a relative output lands there).
fn run_in(dir: &Path, args: &[&str]) -> common::Run {
    run_command(azpath().current_dir(dir).args(args))
}

#[test]
fn a_format_name_after_o_is_a_usage_error_and_writes_nothing() {
    let dir = temp();
    for args in [
        &["scan", "--mock", "demo", "-o", "json"][..],
        &["scan", "--mock", "demo", "--output", "sarif"],
        &["collect", "--mock", "demo", "-o", "yaml"],
        &["analyze", "s.json", "-o", "table"],
    ] {
        let r = run_in(dir.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let name = args[args.len() - 1];
        assert!(r.stderr.contains(&format!("give `./{name}`")), "{args:?}: {}", r.stderr);
        assert!(!dir.path().join(name).exists(), "{args:?} wrote a file named {name}");
    }
    let r = run_in(dir.path(), &["scan", "--mock", "demo", "-o", "json"]);
    assert!(r.stderr.contains("use `--format json`"), "{}", r.stderr);
}

#[test]
fn o_still_names_a_file_and_out_file_is_its_alias() {
    let dir = temp();
    let r = run_in(dir.path(), &["scan", "--mock", "demo", "--format", "json", "-o", "./json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_slice(&std::fs::read(dir.path().join("json")).unwrap()).unwrap();
    assert!(report["findings"].is_array());
    let r = run_in(dir.path(), &["scan", "--mock", "demo", "--out-file", "report.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(dir.path().join("report.txt")).unwrap().starts_with("azpath: "));
}

/// The subscription ids a snapshot collected.
fn collected_subscriptions(snapshot: &Path) -> Vec<String> {
    let snap: Value = serde_json::from_slice(&std::fs::read(snapshot).unwrap()).unwrap();
    let subs = snap["azure"]["subscriptions"].as_array().unwrap();
    subs.iter().map(|s| s["subscriptionId"].as_str().unwrap().to_string()).collect()
}

#[test]
fn subscription_display_names_resolve_like_az() {
    let dir = temp();
    let snap = dir.path().join("s.json");
    let snap_arg = snap.to_str().unwrap();
    for name in ["contoso-platform", "CONTOSO-Platform", "837c3c76-9e6c-4dba-b18e-10ab9cbc63d8"] {
        let r = run(&["collect", "--mock", "demo", "--subscription", name, "-o", snap_arg, "-q"]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert_eq!(collected_subscriptions(&snap), ["837c3c76-9e6c-4dba-b18e-10ab9cbc63d8"], "{name}");
    }
    std::fs::remove_file(&snap).unwrap();
    let r = run(&["collect", "--mock", "demo", "--subscription", "contoso-platfrm", "-o", snap_arg]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `contoso-platform`"), "{}", r.stderr);
    assert!(!snap.exists(), "nothing is collected for a name that matches nothing");
    // A prefix is not a name.
    assert_eq!(run(&["scan", "--mock", "demo", "--subscription", "contoso"]).code, 2);
}

#[test]
fn a_display_name_shared_by_two_subscriptions_lists_their_ids() {
    let dir = temp();
    let tenant = demo_folder(dir.path(), "tenant");
    let subs = tenant.join("arm/subscriptions.json");
    let text = std::fs::read_to_string(&subs).unwrap().replace("\"contoso-corp-prod\"", "\"contoso-platform\"");
    std::fs::write(&subs, text).unwrap();
    let r = run(&["scan", "--mock", tenant.to_str().unwrap(), "--subscription", "contoso-platform"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("names 2 subscriptions"), "{}", r.stderr);
    for id in ["837c3c76-9e6c-4dba-b18e-10ab9cbc63d8", "3b23c825-87a7-4b11-b100-949a5da1210c"] {
        assert!(r.stderr.contains(id), "{}", r.stderr);
    }
    // The other, unique name still resolves.
    assert_eq!(run(&["scan", "--mock", tenant.to_str().unwrap(), "--subscription", "contoso-online-prod"]).code, 0);
}

#[test]
fn coverage_gaps_on_named_subscriptions_exit_4_unless_turned_off() {
    // A subscription id nobody can see: a gap, not "0 findings and exit 0".
    let unknown = "00000000-0000-0000-0000-000000000001";
    let r = run(&["scan", "--mock", "demo", "--subscription", unknown]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("/subscriptions/{unknown}")), "{}", r.stderr);
    assert_eq!(run(&["scan", "--mock", "demo", "--subscription", unknown, "--no-fail-on-gap"]).code, 0);
    assert_eq!(run(&["collect", "--mock", "demo", "--subscription", unknown, "-o", "/dev/null"]).code, 4);
    // litware-finance answers 403 on its role assignments; litware-prod is readable (the tenant's other
    // gap, a group's members, is not under it).
    let r = run(&["scan", "--mock", "coverage-gaps", "--subscription", "litware-finance"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(run(&["scan", "--mock", "coverage-gaps", "--subscription", "litware-prod"]).code, 0);
    // Nothing named: gaps count only with --fail-on-gap.
    assert_eq!(run(&["scan", "--mock", "coverage-gaps"]).code, 0);
    assert_eq!(run(&["scan", "--mock", "coverage-gaps", "--fail-on-gap"]).code, 4);
    assert_eq!(run(&["scan", "--mock", "coverage-gaps", "--fail-on-gap", "--no-fail-on-gap"]).code, 0);
    // Findings at --fail-on win over gaps.
    assert_eq!(run(&["scan", "--mock", "coverage-gaps", "--fail-on-gap", "--fail-on", "info"]).code, 1);
}

#[test]
fn analyze_counts_a_snapshots_gaps_only_with_fail_on_gap() {
    let dir = temp();
    let snap = dir.path().join("s.json");
    let snap = snap.to_str().unwrap();
    assert_eq!(run(&["collect", "--mock", "coverage-gaps", "-o", snap, "-q"]).code, 0);
    assert_eq!(run(&["analyze", snap]).code, 0);
    let r = run(&["analyze", snap, "--fail-on-gap"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("coverage gap(s)"), "{}", r.stderr);
    assert!(run(&["analyze", snap, "--fail-on-gap", "-q"]).stderr.is_empty());
    assert_eq!(run(&["collect", "--mock", "demo", "-o", snap, "-q"]).code, 0);
    assert_eq!(run(&["analyze", snap, "--fail-on-gap"]).code, 0, "the demo snapshot has no gap");
}

/// The codes of README's "Exit codes" table.
fn readme_exit_codes() -> Vec<u8> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("\n## Exit codes\n").nth(1).expect("README has an Exit codes section");
    let section = section.split("\n## ").next().unwrap();
    let rows = section.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| code"));
    rows.flat_map(|row| {
        let first = row.split('|').nth(1).unwrap().trim().to_string();
        first.split('/').map(|c| c.trim().parse::<u8>().unwrap_or_else(|_| panic!("row {row}"))).collect::<Vec<_>>()
    })
    .collect()
}

#[test]
fn readme_documents_every_exit_code_and_no_other() {
    assert_eq!(readme_exit_codes(), azpath::cli::exit::ALL);
}

#[test]
fn usage_errors_exit_2_with_near_misses() {
    let r = run(&["scan", "--mock", "dmeo"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `demo`"), "{}", r.stderr);
    let r = run(&["mock", "serve", "nested-grups"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `nested-groups`"), "{}", r.stderr);
    let r = run(&["scan", "--mock", "demo", "--query", "guest-to-ownr"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown query or posture check `guest-to-ownr`"), "{}", r.stderr);
    let r = run(&["scan", "--mock", "demo", "--query", "AZP-AKS-01"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `AZP-AKS-001`"), "{}", r.stderr);
    // Nothing close: no suggestion line, still a usage error.
    let r = run(&["scan", "--mock", "zzzzzzzzzzzz"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);
    // A query id and a posture check that exist still run.
    assert_eq!(run(&["scan", "--mock", "demo", "--query", "AZP-AKS-001", "-q"]).code, 0);
    // A tenant directory that is malformed is an error in the input, not in the usage.
    let dir = temp();
    std::fs::write(dir.path().join("tenant.json"), "{").unwrap();
    assert_eq!(run(&["scan", "--mock", dir.path().to_str().unwrap()]).code, 3);
}

#[test]
fn an_unknown_capability_suggests_the_close_one() {
    let dir = temp();
    let snap = dir.path().join("s.json");
    let snap = snap.to_str().unwrap();
    assert_eq!(run(&["collect", "--mock", "demo", "-o", snap, "-q"]).code, 0);
    let r = run(&["paths", snap, "--from", "x", "--to", "/", "--capability", "asign-roles"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `assign-roles`"), "{}", r.stderr);
    let r = run(&["paths", snap, "--from", "x", "--to", "/", "--capability", "qqqqqqqqqq"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    for args in [
        &["mock", "generate", "--size", "2000", "--snapshot", "-"][..],
        &["scan", "--mock", "demo", "--format", "json", "--expand"],
    ] {
        let mut child =
            azpath().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("azpath starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.starts_with('{'), "{args:?}: {first}");
        // The pipe's read end is closed here, with most of the output unread.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe") && !stderr.contains("error"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_full_pipe_is_still_an_error_when_it_is_not_stdout() {
    // Writing into a file that cannot be created is still reported: only a closed stdout is quiet.
    let r = run(&["scan", "--mock", "demo", "-o", "/nonexistent-dir/r.txt"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

#[test]
fn logs_carry_no_colour_codes() {
    for no_color in [None, Some("1")] {
        let mut c = azpath();
        c.args(["-vv", "scan", "--mock", "demo"]);
        match no_color {
            Some(v) => c.env("NO_COLOR", v),
            None => c.env_remove("NO_COLOR"),
        };
        let r = run_command(&mut c);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("INFO"), "-vv logs: {}", r.stderr);
        assert!(!r.stderr.contains('\u{1b}'), "NO_COLOR={no_color:?}: {}", r.stderr);
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let version = env!("CARGO_PKG_VERSION");
    match head {
        // Built in this checkout; a commit made since the build is not named (cargo rebuilds on the next run).
        Some(_) => {
            let line = r.stdout.trim();
            let commit = line.strip_prefix(&format!("azpath {version} (")).and_then(|s| s.strip_suffix(')'));
            assert!(commit.is_some_and(|c| c.len() >= 7 && c.chars().all(|c| c.is_ascii_hexdigit())), "{line}");
        }
        None => assert_eq!(r.stdout.trim(), format!("azpath {version}")),
    }
}

#[test]
fn analyze_of_a_report_says_it_is_not_a_snapshot() {
    let dir = temp();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (format, what) in [("json", "a report"), ("sarif", "a SARIF log")] {
        let file = path(&format!("r.{format}"));
        assert_eq!(run(&["scan", "--mock", "demo", "--format", format, "-o", &file]).code, 0);
        let r = run(&["analyze", &file]);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("this is {what}, not a snapshot")), "{}", r.stderr);
    }
    let diff = path("d.json");
    let snap = path("s.json");
    assert_eq!(run(&["collect", "--mock", "demo", "-o", &snap, "-q"]).code, 0);
    assert_eq!(run(&["diff", &snap, &snap, "--format", "json", "-o", &diff]).code, 0);
    assert!(run(&["analyze", &diff]).stderr.contains("this is a diff, not a snapshot"));
    // A snapshot with an error keeps its own message.
    let text = std::fs::read_to_string(&snap).unwrap().replacen("\"collected_at\"", "\"collected_at_\"", 1);
    std::fs::write(&snap, text).unwrap();
    let r = run(&["analyze", &snap]);
    assert_eq!(r.code, 3);
    assert!(!r.stderr.contains("not a snapshot") && r.stderr.contains("collected_at"), "{}", r.stderr);
}

#[test]
fn completions_and_man_page_go_to_stdout() {
    let r = run(&["completions", "bash"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("scan") && r.stdout.contains("--subscription"), "{}", r.stdout);
    let r = run(&["completions", "zsh"]);
    assert!(r.code == 0 && r.stdout.contains("#compdef azpath"), "{}", r.stdout);
    assert_eq!(run(&["completions", "cmd.exe"]).code, 2);
    let r = run(&["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(".SH NAME") && r.stdout.contains("azpath"), "{}", r.stdout);
    assert!(r.stdout.contains(".SH SUBCOMMANDS") || r.stdout.contains("scan"), "{}", r.stdout);
}

#[test]
fn readme_lists_every_configuration_key() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("\n## Configuration file\n").nth(1).expect("README has a Configuration file section");
    let section = section.split("\n## ").next().unwrap();
    let keys: Vec<&str> =
        section.lines().filter_map(|l| l.strip_prefix("| `")).filter_map(|l| l.split('`').next()).collect();
    assert_eq!(keys, azpath::config::KEYS);
}

#[test]
fn azpath_toml_holds_defaults_the_command_line_overrides() {
    let dir = temp();
    std::fs::write(dir.path().join("azpath.toml"), "[defaults]\nformat = \"json\"\nfail-on = \"info\"\n").unwrap();
    let r = run_in(dir.path(), &["scan", "--mock", "demo"]);
    assert_eq!(r.code, 1, "fail-on from the file: {}", r.stderr);
    assert!(serde_json::from_str::<Value>(&r.stdout).is_ok(), "format from the file: {}", r.stdout);
    let r = run_in(dir.path(), &["scan", "--mock", "demo", "--format", "table", "--fail-on", "critical", "-q"]);
    assert!(r.stdout.starts_with("azpath: "), "the flag wins: {}", r.stdout);
    let r = run_in(dir.path(), &["scan", "--mock", "demo", "--no-config"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("azpath: "), "--no-config: {}", r.stdout);
    // --config elsewhere; queries relative to that file.
    let other = dir.path().join("conf");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("c.toml"), "[defaults]\nqueries = \"mine\"\n").unwrap();
    let r = run(&["--config", other.join("c.toml").to_str().unwrap(), "analyze", "s.json"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{}", other.join("mine").display())), "{}", r.stderr);
}

#[test]
fn an_unknown_configuration_key_names_the_key_and_the_file() {
    let dir = temp();
    std::fs::write(dir.path().join("azpath.toml"), "[defaults]\nformat = \"json\"\nfail_on = \"high\"\n").unwrap();
    let r = run_in(dir.path(), &["scan", "--mock", "demo"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("azpath.toml: line 3: unknown field `fail_on`"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(&["--config", "/nonexistent/azpath.toml", "scan", "--mock", "demo"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/azpath.toml"), "{}", r.stderr);
}
