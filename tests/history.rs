//! `--history FILE` and `azpath history`: scans recorded with first/last seen, trends, diffs, retention, and
//! concurrent writers.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::run;
use serde_json::Value;

mod tracking;

fn json(args: &[&str]) -> Value {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn ids(report: &Value) -> BTreeSet<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

fn scan(tenant: &str, db: &Path, report: &Path) {
    let (db, out) = (db.to_str().unwrap(), report.to_str().unwrap());
    let r = run(&["scan", "--mock", tenant, "--history", db, "--format", "json", "-o", out, "--expand", "--no-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn an_added_role_assignment_appears_with_its_first_seen_scan() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let h = db.to_str().unwrap();
    let changed = tracking::demo_copy(dir.path(), "changed", true);
    let (one, two, three) = (dir.path().join("1.json"), dir.path().join("2.json"), dir.path().join("3.json"));
    scan("demo", &db, &one);
    scan("demo", &db, &two);
    let unchanged = json(&["history", "diff", "--history", h, "--format", "json"]);
    assert!(
        unchanged["appeared"].as_array().unwrap().is_empty() && unchanged["disappeared"].as_array().unwrap().is_empty()
    );
    assert!(unchanged["appeared_pairs"].as_array().unwrap().is_empty(), "{unchanged}");
    scan(changed.to_str().unwrap(), &db, &three);

    let scans = json(&["history", "list", "--history", h, "--format", "json"]);
    let scans = scans.as_array().unwrap();
    assert_eq!(scans.len(), 3);
    let third = &scans[2];
    assert_eq!(third["findings"], ids(&read(&three)).len());

    let diff = json(&["history", "diff", "--history", h, "--format", "json"]);
    let appeared: BTreeSet<String> =
        diff["appeared"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect();
    let expected: BTreeSet<String> = ids(&read(&three)).difference(&ids(&read(&two))).cloned().collect();
    assert!(!expected.is_empty());
    assert_eq!(appeared, expected);
    for f in diff["appeared"].as_array().unwrap() {
        assert_eq!(f["first_scan"], third["id"], "{f}");
        assert_eq!(f["first_seen"], third["time"], "{f}");
    }
    // The pairs that appeared are the ones a baseline of the second report shows as new.
    let fingerprints = |list: &Value| -> BTreeSet<String> {
        list.as_array().unwrap().iter().map(|p| p["fingerprint"].as_str().unwrap().to_string()).collect()
    };
    let against = dir.path().join("against.json");
    let (c, t, b) = (changed.to_str().unwrap(), against.to_str().unwrap(), two.to_str().unwrap());
    let r = run(&["scan", "--mock", c, "--baseline", b, "--format", "json", "-o", t, "--no-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new_pairs = fingerprints(&read(&against)["baseline"]["new_pairs"]);
    assert!(!new_pairs.is_empty());
    assert_eq!(fingerprints(&diff["appeared_pairs"]), new_pairs);
    assert!(diff["disappeared_pairs"].as_array().unwrap().is_empty(), "{diff}");
    // A finding seen from the start keeps its first scan.
    let old: BTreeSet<String> = ids(&read(&one)).intersection(&ids(&read(&three))).cloned().collect();
    assert!(!old.is_empty());
    let first = json(&["history", "diff", "1", "3", "--history", h, "--format", "json"]);
    assert_eq!(first["appeared"].as_array().unwrap().len(), expected.len());

    let trend = json(&["history", "trend", "--history", h, "--format", "json"]);
    assert_eq!(trend.as_array().unwrap().len(), 3);
    assert!(trend[0]["exposure"].as_array().unwrap().iter().any(|e| e["principals"].as_u64().unwrap() > 0));
    // The new Owner changes exposure at the third scan only, and the trend says so with the scan's time.
    let changes: Vec<usize> = (0..3).map(|i| trend[i]["changes"].as_array().unwrap().len()).collect();
    assert!(changes[0] == 0 && changes[1] == 0 && changes[2] > 0, "{trend}");
    for c in trend[2]["changes"].as_array().unwrap() {
        assert_eq!((&c["first_scan"], &c["first_seen"]), (&third["id"], &third["time"]), "{c}");
        assert_ne!(c["previous"], c["value"], "{c}");
    }
    let text = run(&["history", "trend", "--history", h]).stdout;
    assert!(
        text.contains("exposure changes:") && text.contains(" exposure of tier ") && text.contains("(scan 3)"),
        "{text}"
    );

    let table = run(&["history", "diff", "--history", h]);
    assert!(table.stdout.starts_with("scan 2 (") && table.stdout.contains("→ scan 3 ("), "{}", table.stdout);
    assert!(table.stdout.contains("appeared:") && !table.stdout.contains("disappeared:"), "{}", table.stdout);
}

/// The role assignment making user 7f9343ba-… User Access Administrator at the root scope in the demo tenant
/// (the only way to the pairs it gives).
const ROOT_ACCESS_ADMIN: &str = "d6f467af-6470-4355-ba34-9c69589d0ae0";

/// Removes the role assignment named `name` from a tenant folder.
fn remove_assignment(folder: &Path, name: &str) {
    let file = folder.join("arm/roleAssignments.json");
    let mut list: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let all = list["value"].as_array_mut().unwrap();
    let before = all.len();
    all.retain(|a| a["name"] != name);
    assert_eq!(all.len(), before - 1, "{name} is in the tenant");
    std::fs::write(&file, serde_json::to_string_pretty(&list).unwrap()).unwrap();
}

type Triple = (String, String, String);

/// The (query, source, target) of each pair an `--expand` report of `tenant` lists (the engine's own
/// enumeration), and the same report read back.
fn expanded(tenant: &Path) -> (BTreeSet<Triple>, azpath_graph::findings::Report) {
    let report = json(&["scan", "--mock", tenant.to_str().unwrap(), "--expand", "--format", "json", "--no-config"]);
    let report: azpath_graph::findings::Report = serde_json::from_value(report).unwrap();
    let triples = report.pairs.iter().map(|p| (p.query_id.clone(), p.source.clone(), p.target.clone())).collect();
    (triples, report)
}

fn triples(list: &Value) -> BTreeSet<Triple> {
    let s = |p: &Value, k: &str| p[k].as_str().unwrap().to_string();
    list.as_array().unwrap().iter().map(|p| (s(p, "query_id"), s(p, "source"), s(p, "target"))).collect()
}

#[test]
fn every_scan_records_its_pairs_and_diff_lists_exactly_the_expanded_reports_differences() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let h = db.to_str().unwrap();
    let before = tracking::demo_copy(dir.path(), "before", false);
    let after = tracking::demo_copy(dir.path(), "after", true);
    remove_assignment(&after, ROOT_ACCESS_ADMIN);
    for tenant in [&before, &after] {
        // No --expand, table output: the pairs are still recorded.
        let r = run(&["scan", "--mock", tenant.to_str().unwrap(), "--history", h, "--no-config"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let diff = json(&["history", "diff", "--history", h, "--format", "json"]);
    assert_eq!(diff["pairs_unrecorded"], serde_json::json!([]), "{diff}");
    let ((one, first), (two, second)) = (expanded(&before), expanded(&after));
    let appeared: BTreeSet<Triple> = two.difference(&one).cloned().collect();
    let disappeared: BTreeSet<Triple> = one.difference(&two).cloned().collect();
    assert!(!appeared.is_empty() && !disappeared.is_empty(), "the change adds and removes pairs");
    assert_eq!(triples(&diff["appeared_pairs"]), appeared);
    assert_eq!(triples(&diff["disappeared_pairs"]), disappeared);
    assert!(appeared.iter().all(|(_, source, _)| source == tracking::NEW_OWNER), "{appeared:?}");
    // The pairs recorded are the ones the engine enumerates, derived from the grouped report.
    for report in [&first, &second] {
        let best = azpath::baseline::BestPairs::of(report);
        let recorded: BTreeSet<Triple> =
            best.iter().map(|(p, _, _)| (p.query_id.to_string(), p.source.to_string(), p.target.to_string())).collect();
        let listed: BTreeSet<Triple> =
            report.listed_pairs().into_keys().map(|p| (p.query_id, p.source, p.target)).collect();
        assert_eq!((recorded.len(), best.len()), (listed.len(), listed.len()), "each pair once");
        assert_eq!(recorded, listed);
    }
    // Scanning the second tenant again: nothing appears or disappears.
    let r = run(&["scan", "--mock", after.to_str().unwrap(), "--history", h, "--no-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let again = json(&["history", "diff", "--history", h, "--format", "json"]);
    assert!(again["appeared_pairs"].as_array().unwrap().is_empty(), "{again}");
    assert!(again["disappeared_pairs"].as_array().unwrap().is_empty(), "{again}");
    // …and the first and third scans differ as the first two did.
    let across = json(&["history", "diff", "1", "3", "--history", h, "--format", "json"]);
    assert_eq!(triples(&across["appeared_pairs"]), appeared);
}

#[test]
fn two_concurrent_writers_both_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let snap = dir.path().join("snap.json");
    let r = run(&["collect", "--mock", "demo", "-o", snap.to_str().unwrap(), "--no-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (db, snap) = (db.clone(), snap.clone());
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let r = run(&[
                        "analyze",
                        snap.to_str().unwrap(),
                        "--history",
                        db.to_str().unwrap(),
                        "-o",
                        "/dev/null",
                        "--no-config",
                    ]);
                    assert_eq!(r.code, 0, "{}", r.stderr);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let scans = json(&["history", "list", "--history", db.to_str().unwrap(), "--format", "json"]);
    let scans = scans.as_array().unwrap();
    assert_eq!(scans.len(), 6);
    let counts: BTreeSet<u64> = scans.iter().map(|s| s["findings"].as_u64().unwrap()).collect();
    assert_eq!(counts.len(), 1, "every scan recorded whole: {counts:?}");
}

#[test]
fn retention_from_the_config_file_and_prune() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("azpath.toml"), "[history]\npath = \"store/h.db\"\nkeep = 2\n").unwrap();
    std::fs::create_dir(dir.path().join("store")).unwrap();
    let config = dir.path().join("azpath.toml");
    let c = config.to_str().unwrap();
    for _ in 0..3 {
        let r = run(&["scan", "--mock", "demo", "--config", c, "-o", "/dev/null"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let db = dir.path().join("store/h.db");
    assert!(db.is_file(), "[history] path is relative to the config file");
    let scans = json(&["history", "list", "--config", c, "--format", "json"]);
    assert_eq!(scans.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 3]);
    let r = run(&["history", "prune", "--keep", "1", "--history", db.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.trim()), (0, "removed 1 scan(s)"), "{}", r.stderr);
    let r = run(&["history", "prune", "--history", db.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_missing_or_newer_store_and_bad_formats_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let r = run(&["history", "list", "--history", missing.to_str().unwrap(), "--no-config"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("none.db") && !missing.exists(), "{}", r.stderr);
    let r = run(&["history", "list", "--no-config"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--history FILE"), "{}", r.stderr);

    let db = dir.path().join("h.db");
    scan("demo", &db, &dir.path().join("r.json"));
    let r = run(&["history", "list", "--history", db.to_str().unwrap(), "--format", "dot"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&["history", "diff", "--history", db.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("needs two scans"), "{}", r.stderr);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let r = run(&["history", "list", "--history", db.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("newer azpath") && r.stderr.contains("h.db"), "{}", r.stderr);
    let r = run(&["scan", "--mock", "demo", "--history", db.to_str().unwrap(), "--no-config"]);
    assert_eq!(r.code, 3, "a newer store fails the scan before collecting: {}", r.stderr);
}

#[test]
fn a_directory_of_reports_is_imported_in_scan_time_order_once() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let changed = tracking::demo_copy(dir.path(), "changed", true);
    let live = dir.path().join("live.db");
    // File names against time order: `b` is scanned first.
    scan("demo", &live, &reports.join("b.json"));
    scan(changed.to_str().unwrap(), &live, &reports.join("a.json"));
    std::fs::write(reports.join("a.sarif"), "other output is left alone").unwrap();

    let db = dir.path().join("imported.db");
    let h = db.to_str().unwrap();
    let r = reports.to_str().unwrap();
    let done = json(&["history", "import", r, "--history", h, "--format", "json", "--no-config"]);
    let names: Vec<&str> = done["imported"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(names.len() == 2 && names[0].ends_with("b.json") && names[1].ends_with("a.json"), "{done}");
    let again = run(&["history", "import", r, "--history", h, "--no-config"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.ends_with("imported 0 report(s), 2 already recorded\n"), "{}", again.stdout);

    // What the live store says, the imported one says: the same findings appeared, first seen at the second scan.
    let appeared = |h: &str| -> BTreeSet<String> {
        let diff = json(&["history", "diff", "--history", h, "--format", "json"]);
        diff["appeared"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(appeared(h), appeared(live.to_str().unwrap()));
    assert!(!appeared(h).is_empty());
    let scans = json(&["history", "list", "--history", h, "--format", "json"]);
    let (time, collected) = (scans[1]["time"].as_str().unwrap(), scans[1]["collected_at"].as_str().unwrap());
    assert_eq!(time[..26], collected[..26], "an imported scan is recorded at its collection time");

    // A JSON file that is not a report stops the import before anything is written, naming the file.
    std::fs::write(reports.join("notes.json"), "{\"hello\": 1}").unwrap();
    let fresh = dir.path().join("fresh.db");
    let bad = run(&["history", "import", r, "--history", fresh.to_str().unwrap(), "--no-config"]);
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    assert!(bad.stderr.contains("notes.json") && bad.stderr.contains("not a JSON report"), "{}", bad.stderr);
    let none = json(&["history", "list", "--history", fresh.to_str().unwrap(), "--format", "json"]);
    assert!(none.as_array().unwrap().is_empty());
}
