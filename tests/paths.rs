//! `azpath paths` end to end on bundled mock tenants: the strongest power at the target (and what the scan
//! reports agrees), `--capability` as a filter, the DOT drawing, near-miss suggestions for unknown names, and
//! terminal-safe text.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{run, Run};
use serde_json::Value;

const CORP: &str = "/providers/Microsoft.Management/managementGroups/contoso-corp";
const NORTHWIND_PROD: &str = "/subscriptions/f5d1d79c-6797-49a6-b819-bfe4d755f78d";

/// A bundled tenant written as a snapshot file (the offline path of tests/tenants.rs).
struct Snap {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Snap {
    fn bundled(name: &str) -> Snap {
        let snapshot = azpath_mocks::MockTenant::bundled(name).unwrap().to_snapshot();
        Snap::write(&serde_json::to_value(&snapshot).unwrap())
    }

    fn write(snapshot: &Value) -> Snap {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, snapshot.to_string()).unwrap();
        Snap { _dir: dir, path }
    }

    fn paths(&self, args: &[&str]) -> Run {
        let mut all = vec!["paths", self.path.to_str().unwrap()];
        all.extend_from_slice(args);
        run(&all)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let r = self.paths(&all);
        assert!(r.code == 0 || r.code == 1, "{args:?}: {}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", r.stdout))
    }

    fn report(&self) -> Value {
        let r = run(&["analyze", self.path.to_str().unwrap(), "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    }
}

fn labels(answer: &Value) -> Vec<&str> {
    answer["hops"].as_array().unwrap().iter().map(|h| h["label"].as_str().unwrap()).collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

// 1. The strongest power.

#[test]
fn without_capability_the_strongest_power_is_shown_not_a_cheaper_reader_path() {
    // Adele Vance is Reader at the tenant's root management group and eligible Owner at Landing Zones.
    let snap = Snap::bundled("demo");
    let p = snap.json(&["--from", "Adele Vance", "--to", CORP]);
    assert_eq!(labels(&p), ["Owner (PIM eligible)", "contains"]);
    assert_eq!(p["strength"], "assign-roles");
    assert_eq!(p["strongest"], true);
    assert!(strings(&p["capabilities"]).contains(&"assign-roles"));
    assert!(strings(&p["not_reachable"]).is_empty());
    let text = snap.paths(&["--from", "Adele Vance", "--to", CORP]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let first = text.stdout.lines().next().unwrap();
    assert_eq!(
        first,
        "Strongest power of Adele Vance at Corp: assign-roles, write-everything (Owner-equivalent), after PIM activation."
    );
    assert!(!text.stdout.contains("No path gives"), "{}", text.stdout);
}

#[test]
fn without_eligible_assignments_the_reader_path_says_nothing_stronger_is_reachable() {
    let snap = Snap::bundled("demo");
    let p = snap.json(&["--from", "Adele Vance", "--to", CORP, "--no-eligible"]);
    assert_eq!(labels(&p), ["Reader", "contains", "contains"]);
    assert_eq!(p["strength"], "any-role");
    assert_eq!(strings(&p["not_reachable"]), ["assign-roles", "write-everything", "other-capability"]);
    let text = snap.paths(&["--from", "Adele Vance", "--to", CORP, "--no-eligible"]).stdout;
    assert!(text.contains("No path gives assign-roles, write-everything or another named capability."), "{text}");
}

#[test]
fn a_contributor_path_says_assign_roles_is_not_reachable() {
    let snap = Snap::bundled("pim-eligible");
    let text = snap.paths(&["--from", "Tom Eriksen", "--to", NORTHWIND_PROD]).stdout;
    let lines: Vec<&str> = text.lines().take(2).collect();
    assert_eq!(
        lines,
        [
            "Strongest power of Tom Eriksen at northwind-prod: write-everything (Contributor-equivalent), after PIM activation.",
            "No path gives assign-roles."
        ]
    );
}

#[test]
fn an_active_owner_is_shown_before_an_eligible_one() {
    let snap = Snap::bundled("pim-eligible");
    let p = snap.json(&["--from", "Sam Haddad", "--to", NORTHWIND_PROD]);
    assert_eq!((labels(&p), &p["strength"]), (vec!["Owner"], &Value::from("assign-roles")));
}

#[test]
fn paths_agrees_with_every_owner_finding_of_the_scan() {
    for tenant in ["demo", "pim-eligible"] {
        let snap = Snap::bundled(tenant);
        let report = snap.report();
        let report: azpath_graph::findings::Report = serde_json::from_value(report).unwrap();
        let pairs = report.implied_pairs();
        let owners = pairs.iter().filter(|(p, _)| p.query_id.starts_with("owner-equivalent-on-"));
        let mut checked = 0;
        for (pair, (pair_eligible, _)) in owners {
            let (from, to) = (pair.source.as_str(), pair.target.as_str());
            let p = snap.json(&["--from", from, "--to", to]);
            assert_eq!(p["strength"], "assign-roles", "{tenant}: {from} → {to}: {p:#}");
            let eligible = p["hops"].as_array().unwrap().iter().any(|h| h["eligible"] == true);
            assert_eq!(eligible, *pair_eligible, "{tenant}: {from} → {to}: {p:#}");
            checked += 1;
        }
        assert!(checked > 0, "{tenant} has owner findings");
    }
}

#[test]
fn a_capability_asked_for_keeps_the_cheapest_path_conferring_it() {
    let snap = Snap::bundled("demo");
    let p = snap.json(&["--from", "Adele Vance", "--to", CORP, "--capability", "write-everything"]);
    assert_eq!(labels(&p), ["Owner (PIM eligible)", "contains"]);
    assert_eq!((&p["strongest"], strings(&p["not_reachable"]).len()), (&Value::Bool(false), 0));
    let r = snap.paths(&["--from", "Adele Vance", "--to", CORP, "--capability", "write-everything", "--no-eligible"]);
    assert_eq!((r.code, r.stdout.trim()), (1, "No path from Adele Vance to Corp."));
    let r = snap.paths(&["--from", "Adele Vance", "--to", CORP, "--capability", "all-powers"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown capability `all-powers`"), "{}", r.stderr);
}

// 2. DOT.

fn graphviz(dot: &str) -> Option<String> {
    let child =
        Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let Ok(mut child) = child else {
        assert!(std::env::var_os("AZPATH_REQUIRE_DOT").is_none(), "graphviz `dot` is required here");
        return None;
    };
    child.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dot failed: {}\n{dot}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Structural checks that hold whether or not Graphviz is installed: one digraph, balanced braces, every
/// statement ended.
fn assert_digraph(dot: &str) {
    assert!(dot.starts_with("digraph azpath_path {\n") && dot.ends_with("}\n"), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "{dot}");
    for line in dot.lines().skip(1).filter(|l| *l != "}") {
        assert!(line.ends_with(';'), "unterminated statement: {line}");
    }
}

#[test]
fn dot_format_draws_the_path() {
    let snap = Snap::bundled("demo");
    let r = snap.paths(&["--from", "Adele Vance", "--to", CORP, "--format", "dot"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dot = &r.stdout;
    assert_digraph(dot);
    assert!(!dot.contains("Strongest power"), "not the text output: {dot}");
    let edges: Vec<&str> = dot.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(edges.len(), 2, "{dot}");
    assert!(edges[0].contains("label=\"Owner (PIM eligible)\"") && edges[0].contains("style=dashed"), "{}", edges[0]);
    assert!(edges[1].contains("label=\"contains\"") && !edges[1].contains("dashed"), "{}", edges[1]);
    assert!(dot.contains("[label=\"User\\nAdele Vance\", shape=ellipse]"), "{dot}");
    assert!(dot.contains("[label=\"ManagementGroup\\nCorp\", shape=box, style=rounded]"), "{dot}");
    assert!(dot.contains("label=\"Adele Vance to Corp: assign-roles, write-everything (Owner-equivalent)"), "{dot}");
    assert_eq!(dot, &snap.paths(&["--from", "Adele Vance", "--to", CORP, "--format", "dot"]).stdout, "stable");
    if let Some(svg) = graphviz(dot) {
        assert!(svg.contains("<svg") && svg.contains("Adele Vance"));
    }
}

#[test]
fn dot_without_a_path_draws_the_two_ends_and_says_so() {
    let snap = Snap::bundled("demo");
    let r = snap.paths(&["--from", CORP, "--to", "Adele Vance", "--format", "dot"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_digraph(&r.stdout);
    assert!(r.stdout.contains("label=\"no path from Corp to Adele Vance\""), "{}", r.stdout);
    assert!(!r.stdout.contains(" -> "), "{}", r.stdout);
    graphviz(&r.stdout);
}

#[test]
fn sarif_is_still_a_usage_error() {
    let snap = Snap::bundled("demo");
    let r = snap.paths(&["--from", "Adele Vance", "--to", CORP, "--format", "sarif"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    assert!(r.stderr.contains("table, json or dot"), "{}", r.stderr);
}

// 3. Near misses.

fn suggestions(stderr: &str) -> Vec<&str> {
    match stderr.split_once("did you mean ") {
        Some((_, rest)) => rest.trim_end().trim_end_matches('?').split("), `").collect(),
        None => Vec::new(),
    }
}

#[test]
fn a_typo_in_a_name_gets_near_miss_suggestions_in_any_case() {
    let snap = Snap::bundled("demo");
    for typo in ["Adele Vanse", "ADELE VANSE", "adele"] {
        let r = snap.paths(&["--from", typo, "--to", CORP]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("--from: no identity or scope `{typo}`")), "{}", r.stderr);
        assert!(
            r.stderr.contains("did you mean `Adele Vance` (User 043b8497-a933-45cf-9db7-2122020057e7)"),
            "{typo}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    }
    let r = snap.paths(&["--from", "Adele Vance", "--to", "contoso-platfrom"]);
    assert!(
        r.stderr.contains("--to: ") && r.stderr.contains("did you mean `contoso-platform` (Subscription"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_typo_in_an_id_gets_the_id_suggested() {
    let snap = Snap::bundled("pim-eligible");
    let r = snap.paths(&["--from", "Sam Haddad", "--to", "/subscriptions/f5d1d79c-6797-49a6-b819-bfe4d755f78e"]);
    assert_eq!(r.code, 2);
    let first = suggestions(&r.stderr)[0];
    assert!(first.starts_with(&format!("`northwind-prod` (Subscription {NORTHWIND_PROD}")), "{}", r.stderr);
}

#[test]
fn nonsense_gets_no_suggestion_and_a_common_word_at_most_five() {
    let snap = Snap::bundled("demo");
    let r = snap.paths(&["--from", "zzqxw-nonsense-42", "--to", CORP]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.trim(), "error: --from: no identity or scope `zzqxw-nonsense-42` in the snapshot");
    let r = snap.paths(&["--from", "contoso", "--to", "contos"]);
    assert_eq!(r.code, 2);
    let s = suggestions(&r.stderr);
    assert_eq!(s.len(), 5, "{}", r.stderr);
    assert!(s[0].starts_with("`Contoso` (ManagementGroup"), "the closest first: {}", r.stderr);
}

#[test]
fn an_ambiguous_name_still_lists_the_ids() {
    let mut snapshot = serde_json::to_value(azpath_mocks::MockTenant::bundled("demo").unwrap().to_snapshot()).unwrap();
    let users = snapshot["entra"]["users"].as_array_mut().unwrap();
    let ids: Vec<String> = users[..2].iter().map(|u| u["id"].as_str().unwrap().to_string()).collect();
    users[1]["displayName"] = users[0]["displayName"].clone();
    let name = users[0]["displayName"].as_str().unwrap().to_string();
    let snap = Snap::write(&snapshot);
    let r = snap.paths(&["--from", &name, "--to", CORP]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!("`{name}` names 2 nodes; use an id: ")), "{}", r.stderr);
    assert!(ids.iter().all(|id| r.stderr.contains(id.as_str())), "{}", r.stderr);
    assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);
}

// 4. Terminal-safe text.

#[test]
fn hostile_names_reach_the_terminal_and_the_drawing_escaped() {
    let mut snapshot = serde_json::to_value(azpath_mocks::MockTenant::bundled("demo").unwrap().to_snapshot()).unwrap();
    let adele = snapshot["entra"]["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["displayName"] == "Adele Vance")
        .unwrap();
    adele["displayName"] = Value::from("Adele\u{1b}[2J\u{202e} \"Vance\"\nline");
    let id = adele["id"].as_str().unwrap().to_string();
    let snap = Snap::write(&snapshot);
    for format in ["table", "dot"] {
        let r = snap.paths(&["--from", &id, "--to", CORP, "--format", format]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stdout.chars().any(|c| c != '\n' && azpath::render::text::is_unsafe(c)), "{format}: {}", r.stdout);
        // DOT doubles the backslash of the escape, so Graphviz draws `\u{1b}`.
        let escaped = if format == "dot" { r"\\u{1b}[2J\\u{202e}" } else { r"\u{1b}[2J\u{202e}" };
        assert!(r.stdout.contains(escaped), "{format}: {}", r.stdout);
    }
    let dot = snap.paths(&["--from", &id, "--to", CORP, "--format", "dot"]).stdout;
    assert_digraph(&dot);
    graphviz(&dot);
    let r = snap.paths(&["--from", "Adele\u{1b}[2J", "--to", CORP]);
    assert!(!r.stderr.contains('\u{1b}') && r.stderr.contains("\\u{1b}"), "{}", r.stderr);
}

#[test]
fn an_entra_hub_is_never_suggested() {
    // "every service principal" is an internal fan-out node of the Entra control plane, not a name a person
    // types: a near miss of it suggests real objects only.
    let snap = Snap::bundled("entra-control-plane");
    let r = snap.paths(&["--from", "every service principa", "--to", "/"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("`every service principal`"), "{}", r.stderr);
    assert!(!r.stderr.contains("EntraTargets"), "{}", r.stderr);
}
