//! `--format ndjson`: one JSON object per line, each a pair with the finding that explains it, the same pairs in
//! the same order as the JSON report's `pairs` with `--expand`; written to stdout or atomically to `-o FILE`; refused by diff and paths.

mod common;

use std::collections::BTreeSet;

use common::run;

use azpath_graph::expand::ExpandedPair as Pair;

/// The lines of an ndjson run, each parsed as a [`Pair`] and kept as canonical JSON text.
fn ndjson_pairs(args: &[&str]) -> BTreeSet<String> {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    assert!(r.stdout.ends_with('\n') || r.stdout.is_empty(), "every line ends with a newline");
    parse_lines(&r.stdout, args)
}

fn parse_lines(text: &str, what: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let pair: Pair = serde_json::from_str(line).unwrap_or_else(|e| panic!("{what:?}: not a pair ({e}): {line}"));
        assert!(out.insert(serde_json::to_string(&pair).unwrap()), "{what:?}: a pair twice: {line}");
    }
    out
}

/// The `pairs` of a JSON report made with `--expand`, as canonical JSON text.
fn expanded_pairs(args: &[&str]) -> BTreeSet<String> {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    let report: azpath_graph::findings::Report = serde_json::from_str(&r.stdout).unwrap();
    let pairs: Vec<Pair> = report.pairs;
    pairs.iter().map(|p| serde_json::to_string(p).unwrap()).collect()
}

#[test]
fn ndjson_streams_the_pairs_of_the_expanded_demo_report() {
    let lines = ndjson_pairs(&["scan", "--mock", "demo", "--format", "ndjson"]);
    let expanded = expanded_pairs(&["scan", "--mock", "demo", "--format", "json", "--expand"]);
    assert!(!lines.is_empty());
    assert_eq!(lines, expanded, "ndjson lines and --expand pairs differ");
    // …in the same order: the report's (severity, query id, target id, source id).
    let stream = run(&["scan", "--mock", "demo", "--format", "ndjson"]).stdout;
    let report = run(&["scan", "--mock", "demo", "--format", "json", "--expand"]).stdout;
    let report: azpath_graph::findings::Report = serde_json::from_str(&report).unwrap();
    let in_order: Vec<String> = report.pairs.iter().map(|p| serde_json::to_string(p).unwrap()).collect();
    assert_eq!(stream.lines().collect::<Vec<_>>(), in_order);
}

#[test]
fn ndjson_equals_the_expanded_pairs_of_a_generated_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("t.json");
    let snap = snap.to_str().unwrap();
    let r = run(&["mock", "generate", "--size", "300", "--seed", "7", "--snapshot", snap]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = ndjson_pairs(&["analyze", snap, "--format", "ndjson"]);
    let expanded = expanded_pairs(&["analyze", snap, "--format", "json", "--expand"]);
    assert!(lines.len() > 100, "a generated tenant has many pairs: {}", lines.len());
    assert_eq!(lines, expanded, "ndjson lines and --expand pairs differ");
    // --no-eligible and --query reach the stream as they reach the report.
    let args = ["analyze", snap, "--no-eligible", "--query", "can-act-as-managed-identity"];
    let lines = ndjson_pairs(&[&args[..], &["--format", "ndjson"]].concat());
    assert!(!lines.is_empty());
    assert_eq!(lines, expanded_pairs(&[&args[..], &["--format", "json", "--expand"]].concat()));
}

#[test]
fn ndjson_to_a_file_is_written_owner_only_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.ndjson");
    std::fs::write(&out, "old contents\n").unwrap();
    let r = run(&["scan", "--mock", "demo", "--format", "ndjson", "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing on stdout with -o: {}", r.stdout);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(parse_lines(&text, &["-o"]), ndjson_pairs(&["scan", "--mock", "demo", "--format", "ndjson"]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
}

#[test]
fn fail_on_counts_streamed_pairs() {
    let r = run(&[
        "scan",
        "--mock",
        "demo",
        "--format",
        "ndjson",
        "--fail-on",
        "critical",
        "--query",
        "owner-equivalent-on-subscription",
    ]);
    assert_eq!(r.code, 1, "a critical pair was streamed: {}", r.stderr);
    assert!(!r.stdout.is_empty());
}

#[test]
fn diff_and_paths_refuse_ndjson_as_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.json");
    let snap = snap.to_str().unwrap();
    assert_eq!(run(&["collect", "--mock", "demo", "-o", snap]).code, 0);
    let r = run(&["diff", snap, snap, "--format", "ndjson"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--format ndjson") && r.stderr.contains("diff prints"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(&["paths", snap, "--from", "x", "--to", "y", "--format", "ndjson"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--format ndjson is for scan and analyze"), "{}", r.stderr);
}
