//! Names from the tenant never reach the terminal raw: every human-readable output (the report table, DOT,
//! `paths`, `diff`, `queries list`, the collection summary, the `error:` line) shows control characters, bidi
//! controls and line separators escaped (`\u{1b}`), keeps ordinary non-ASCII text as it is, and stays bounded
//! on a huge unbroken name.

mod common;

use std::path::{Path, PathBuf};

use common::{azpath, run, run_command, Run};

use azpath_mocks::MockTenant;
use serde_json::Value;

/// Everything a hostile name can hold: clear screen, an OSC title, BEL, CR, NUL, backspace, DEL, a C1 CSI,
/// bidi overrides/isolates, line and paragraph separators, a tab.
const POISON: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{0}\u{8}\u{7f}\u{9b}\u{202e}\u{2066}\u{2028}\u{2029}\t!";
/// How [`POISON`] is shown.
const SHOWN: &str = r"\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{0}\u{8}\u{7f}\u{9b}\u{202e}\u{2066}\u{2028}\u{2029}\t!";
/// Ordinary non-ASCII text, printed unchanged.
const NON_ASCII: &str = " Zoë 日本";

/// The first character that must not reach a terminal, with its position.
fn unsafe_char(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| {
        let u = c as u32;
        (u < 0x20 && c != '\n')
            || (0x7f..=0x9f).contains(&u)
            || matches!(u, 0x061c | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0x2028 | 0x2029)
    })
}

fn assert_clean(what: &str, r: &Run) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if let Some((at, c)) = unsafe_char(text) {
            let context: String = text[..at].chars().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect();
            panic!("{what}: {stream} holds {c:?} at byte {at}, after …{context:?}");
        }
    }
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Appends `suffix` to the `key` string of every object in `items`.
fn suffix_all(items: &mut Value, key: &str, suffix: &str) {
    for item in items.as_array_mut().unwrap() {
        let name = item[key].as_str().unwrap().to_string();
        item[key] = Value::String(format!("{name}{suffix}"));
    }
}

/// The ASO tenant (users, groups, service principals, Kubernetes) with `suffix` after every Entra display
/// name and Kubernetes binding name, a coverage gap and an unknown role (a warning) that quote it too.
fn poisoned_snapshot(suffix: &str) -> Value {
    let mut snap: Value =
        serde_json::from_str(&MockTenant::bundled("aso-workload-identity").unwrap().to_snapshot().to_json()).unwrap();
    for list in ["users", "groups", "servicePrincipals"] {
        suffix_all(&mut snap["entra"][list], "displayName", suffix);
    }
    for cluster in snap["kubernetes"].as_array_mut().unwrap() {
        for list in ["roleBindings", "clusterRoleBindings"] {
            for binding in cluster[list].as_array_mut().unwrap() {
                let name = binding["metadata"]["name"].as_str().unwrap().to_string();
                binding["metadata"]["name"] = Value::String(format!("{name}{suffix}"));
            }
        }
    }
    let sub = snap["azure"]["subscriptions"][0]["id"].as_str().unwrap().to_string();
    snap["coverage"] = serde_json::json!([{
        "api": format!("arm.roleAssignments{suffix}"),
        "scope": format!("{sub}/resourceGroups/rg{suffix}"),
        "reason": "forbidden",
        "status": 403,
        "message": format!("denied{suffix}"),
    }]);
    let mut extra = snap["azure"]["roleAssignments"][0].clone();
    extra["id"] = Value::String(format!("{sub}/providers/Microsoft.Authorization/roleAssignments/evil"));
    extra["name"] = Value::String("evil".into());
    extra["properties"]["roleDefinitionId"] =
        Value::String(format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/unknown{suffix}"));
    snap["azure"]["roleAssignments"].as_array_mut().unwrap().push(extra);
    snap
}

fn write(dir: &Path, name: &str, snap: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(snap).unwrap()).unwrap();
    path
}

/// Runs with a table wide enough that no name is wrapped, so the escaped names can be searched for.
fn run_wide(args: &[&str]) -> Run {
    run_command(azpath().env("COLUMNS", "2000").args(args))
}

fn assert_recognisable(what: &str, text: &str, name: &str) {
    let shown = format!("{name}{NON_ASCII}{SHOWN}");
    assert!(text.contains(&shown), "{what}: `{shown}` not in:\n{text}");
}

#[test]
fn the_report_table_shows_hostile_names_escaped() {
    let dir = temp();
    let snap = write(dir.path(), "s.json", &poisoned_snapshot(&format!("{NON_ASCII}{POISON}")));
    let r = run_wide(&["analyze", snap.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_clean("analyze", &r);
    // Pat Okafor's own paths are among those the full table only counts: his query shows them.
    let forging = run_wide(&["analyze", snap.to_str().unwrap(), "--query", "can-act-as-managed-identity"]);
    assert_clean("analyze --query", &forging);
    let both = format!("{}{}", r.stdout, forging.stdout);
    for name in ["Pat Okafor", "Platform engineers", "platform-aso", "id-aso-team-a"] {
        assert_recognisable("analyze", &both, name);
    }
    // The coverage table and the warnings quote the hostile text too.
    assert!(r.stdout.contains(&format!("arm.roleAssignments{NON_ASCII}{SHOWN}")), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("unknown{NON_ASCII}{SHOWN}")), "{}", r.stdout);
}

#[test]
fn dot_labels_show_hostile_names_escaped() {
    let dir = temp();
    let snap = write(dir.path(), "s.json", &poisoned_snapshot(&format!("{NON_ASCII}{POISON}")));
    let r = run(&["analyze", snap.to_str().unwrap(), "--format", "dot"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_clean("dot", &r);
    // DOT doubles the backslash: Graphviz draws `\u{1b}`. Members are not drawn but named on their principal's
    // node: Pat Okafor under the Kubernetes user she signs in as, Alice Moreau under a Kubernetes group. Long
    // labels are wrapped at spaces (a count and its kind are joined by a no-break space).
    assert!(r.stdout.contains(r"Pat Okafor Zoë\n日本\\u{1b}[2J"), "{}", r.stdout);
    let members = "members: 1\u{a0}User, 2\u{a0}Group\\nAlice Moreau Zoë\\n日本\\\\u{1b}[2J";
    assert!(r.stdout.contains(members), "{}", r.stdout);
    assert!(r.stdout.contains(r"\\u{202e}\\u{2066}\\u{2028}"), "{}", r.stdout);
}

/// A user or group that reaches something, and what it reaches, from the JSON report.
fn a_path(snap: &Path) -> (String, String) {
    let r = run(&["analyze", snap.to_str().unwrap(), "--format", "json"]);
    let report: Value = common::resolved(&serde_json::from_str(&r.stdout).unwrap());
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| {
            let user = if f["principal"]["kind"] == "User" {
                f["principal"]["id"].as_str()
            } else {
                let set = f["member_set"].as_str()?;
                report["member_sets"][set]["ids"]["User"].get(0).and_then(Value::as_str)
            }?;
            let target = f["tiers"][0]["targets"]["ids"].as_object()?.values().next()?.get(0)?.as_str()?;
            Some((user.to_string(), target.to_string()))
        })
        .expect("a finding a user reaches")
}

#[test]
fn paths_text_shows_hostile_names_escaped() {
    let dir = temp();
    let snap = write(dir.path(), "s.json", &poisoned_snapshot(&format!("{NON_ASCII}{POISON}")));
    let (from, to) = a_path(&snap);
    let found = run(&["paths", snap.to_str().unwrap(), "--from", &from, "--to", &to]);
    assert_eq!(found.code, 0, "{}", found.stderr);
    assert_clean("paths", &found);
    assert!(found.stdout.contains(&format!("{NON_ASCII}{SHOWN} reaches ")), "{}", found.stdout);
    let reverse = run(&["paths", snap.to_str().unwrap(), "--from", &to, "--to", &from]);
    assert_eq!(reverse.code, 1, "{}", reverse.stderr);
    assert_clean("paths, no path", &reverse);
    assert!(reverse.stdout.starts_with("No path from "), "{}", reverse.stdout);
    assert!(reverse.stdout.contains(&format!("{NON_ASCII}{SHOWN}.")), "{}", reverse.stdout);
}

#[test]
fn the_error_line_shows_hostile_input_escaped() {
    let dir = temp();
    let snap = write(dir.path(), "s.json", &poisoned_snapshot(""));
    let hostile = "nobody\u{1b}]0;title\u{7}\u{202e}\r";
    let r = run(&["paths", snap.to_str().unwrap(), "--from", hostile, "--to", "Pat Okafor"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_clean("error line", &r);
    assert!(
        r.stderr.contains(r"error: --from: no identity or scope `nobody\u{1b}]0;title\u{7}\u{202e}\r`"),
        "{}",
        r.stderr
    );
    // A file name from the command line is quoted in errors as well.
    let missing = dir.path().join("gone\u{1b}[2J\u{2028}.json");
    let r = run(&["analyze", missing.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_clean("error line, file name", &r);
    assert!(r.stderr.contains(r"gone\u{1b}[2J\u{2028}.json"), "{}", r.stderr);
    // clap's own usage errors quote the bad value too.
    let r = run(&["analyze", snap.to_str().unwrap(), "--format", hostile]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_clean("usage error", &r);
    assert!(r.stderr.contains(r"\u{202e}"), "{}", r.stderr);
}

#[test]
fn diff_tables_show_hostile_names_escaped() {
    let dir = temp();
    let full = poisoned_snapshot(&format!("{NON_ASCII}{POISON}"));
    let mut empty = full.clone();
    empty["azure"]["roleAssignments"] = Value::Array(Vec::new());
    let full = write(dir.path(), "full.json", &full);
    let empty = write(dir.path(), "empty.json", &empty);
    let grown = run_wide(&["diff", empty.to_str().unwrap(), full.to_str().unwrap()]);
    assert_eq!(grown.code, 0, "{}", grown.stderr);
    assert_clean("diff, new", &grown);
    assert!(grown.stdout.contains("=== New ==="), "{}", grown.stdout);
    assert_recognisable("diff, new", &grown.stdout, "id-aso-team-a");
    let shrunk = run_wide(&["diff", full.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(shrunk.code, 0, "{}", shrunk.stderr);
    assert_clean("diff, resolved", &shrunk);
    assert!(shrunk.stdout.contains("=== Resolved ==="), "{}", shrunk.stdout);
    assert!(shrunk.stdout.contains(&format!("{NON_ASCII}{SHOWN} → ")), "{}", shrunk.stdout);
}

#[test]
fn queries_list_shows_hostile_titles_escaped() {
    let dir = temp();
    let builtin =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/aso-credential-forging.toml"))
            .unwrap();
    let query = builtin.replacen("id = \"aso-credential-forging\"", "id = \"hostile-title\"", 1).replacen(
        "title = \"Can forge an Azure Service Operator credential\"",
        r#"title = "Hostile Zoë 日本\u001b[2J\u001b]0;t\u0007\r\u0000\u202e\u2028""#,
        1,
    );
    assert_ne!(query, builtin);
    std::fs::write(dir.path().join("hostile-title.toml"), query).unwrap();
    let r = run(&["queries", "list", "--queries", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_clean("queries list", &r);
    assert!(r.stdout.contains(r"Hostile Zoë 日本\u{1b}[2J\u{1b}]0;t\u{7}\r\u{0}\u{202e}\u{2028}"), "{}", r.stdout);
}

#[test]
fn the_collection_summary_shows_a_hostile_file_name_escaped() {
    let dir = temp();
    let out = dir.path().join("snap Zoë\u{1b}[2J\u{202e}\r.json");
    let r = run(&["collect", "--mock", "demo", "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_clean("collect summary", &r);
    assert!(r.stderr.contains(r"snap Zoë\u{1b}[2J\u{202e}\r.json"), "{}", r.stderr);
    assert!(out.exists());
}

#[test]
fn ordinary_non_ascii_names_are_printed_unchanged() {
    let dir = temp();
    let snap = write(dir.path(), "s.json", &poisoned_snapshot(" — Zoë Ångström 日本語 Ωmega ‘quoted’"));
    let r = run_wide(&["analyze", snap.to_str().unwrap(), "--query", "can-act-as-managed-identity"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Pat Okafor — Zoë Ångström 日本語 Ωmega ‘quoted’"), "{}", r.stdout);
    assert!(!r.stdout.contains(r"\u{"), "{}", r.stdout);
    let (from, to) = a_path(&snap);
    let r = run(&["paths", snap.to_str().unwrap(), "--from", &from, "--to", &to]);
    assert!(r.stdout.contains("Zoë Ångström 日本語 Ωmega ‘quoted’ reaches"), "{}", r.stdout);
}

/// `analyze` (table) of the ASO tenant with every user named `len` times `x`.
fn table_with_user_names_of(len: usize) -> String {
    let dir = temp();
    let mut snap = poisoned_snapshot("");
    for user in snap["entra"]["users"].as_array_mut().unwrap() {
        user["displayName"] = Value::String("x".repeat(len));
    }
    let snap = write(dir.path(), "s.json", &snap);
    let r = run(&["analyze", snap.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn a_huge_unbroken_name_renders_in_bounded_output() {
    let huge = table_with_user_names_of(100_000);
    let long = table_with_user_names_of(2_000);
    // Shortened in the middle, with a note of the original length.
    assert!(huge.contains("xxx…xxx") && huge.contains("(100000"), "{huge}");
    // The output does not grow with the name: 100,000 characters print like 2,000.
    assert!(huge.len() < long.len() * 11 / 10, "{} bytes for 100k-char names, {} for 2k", huge.len(), long.len());
    let longest = huge.lines().filter(|l| l.starts_with('│')).map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest <= 200, "a row line of {longest} chars in a 200-column table");
}
