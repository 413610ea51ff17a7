//! `--baseline FILE` and `[[suppress]]`: only what is new is shown, what is known or suppressed is counted,
//! and the exit code says whether something new is at or above `--fail-on` (5) or nothing new is (0).

mod common;
mod tracking;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use azpath_graph::findings::REPORT_SCHEMA_VERSION;
use common::{run, Run};
use serde_json::Value;
use tracking::{demo_copy, NEW_OWNER};

fn json_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(report: &Value) -> BTreeSet<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

/// Scans `tenant` (a bundled name or a folder) with `extra` flags, the JSON report written to `out`.
fn scan(tenant: &str, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["scan", "--mock", tenant, "--format", "json", "-o", out.to_str().unwrap(), "--no-config"];
    args.extend(extra);
    run(&args)
}

/// Scans with azpath.toml `config` (and no `--no-config`).
fn scan_with_config(tenant: &str, out: &Path, config: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "scan",
        "--mock",
        tenant,
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

struct Fixture {
    dir: tempfile::TempDir,
    base: PathBuf,
    changed: PathBuf,
}

/// The baseline report of the unchanged demo tenant, and the changed tenant's folder.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let r = scan("demo", &base, &[]);
    assert!(r.code == 0, "{}", r.stderr);
    let changed = demo_copy(dir.path(), "changed", true);
    Fixture { dir, base, changed }
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn changed(&self) -> &str {
        self.changed.to_str().unwrap()
    }

    fn config(&self, text: &str) -> PathBuf {
        let p = self.path("azpath.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The new finding ids: those of the changed tenant's full report not in the baseline.
    fn new_ids(&self) -> BTreeSet<String> {
        let full = self.path("full.json");
        let r = scan(self.changed(), &full, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let new: BTreeSet<String> = ids(&json_of(&full)).difference(&ids(&json_of(&self.base))).cloned().collect();
        assert!(!new.is_empty(), "the added role assignment gives new findings");
        new
    }
}

#[test]
fn an_unchanged_tenant_has_nothing_new_and_exits_0() {
    let f = fixture();
    let out = f.path("again.json");
    let base = f.base.to_str().unwrap();
    let r = scan("demo", &out, &["--baseline", base, "--fail-on", "low"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_of(&out);
    let known = ids(&json_of(&f.base)).len();
    assert!(known > 0);
    assert!(ids(&report).is_empty() && report["choke_points"].as_array().unwrap().is_empty());
    assert_eq!(report["baseline"]["findings"]["known"], known);
    assert_eq!(report["baseline"]["findings"]["new"], 0);
    assert!(r.stderr.contains(&format!("0 new of {known} findings ({known} already known)")), "{}", r.stderr);
    // Without the baseline the same scan fails the gate.
    assert_eq!(scan("demo", &out, &["--fail-on", "low"]).code, 1);
}

#[test]
fn an_added_role_assignment_shows_exactly_the_new_findings_and_exits_5() {
    let f = fixture();
    let new = f.new_ids();
    let out = f.path("new.json");
    let r = scan(f.changed(), &out, &["--baseline", f.base.to_str().unwrap(), "--fail-on", "low", "--expand"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let report = common::resolved(&json_of(&out));
    assert_eq!(ids(&report), new);
    // Each is the new owner's, or a hub's whose only new member is the new owner.
    for f in report["findings"].as_array().unwrap() {
        let member = |set: &Value| {
            set["ids"].as_object().unwrap().values().flat_map(|v| v.as_array().unwrap()).any(|id| id == NEW_OWNER)
        };
        let members = f["member_set"].as_str().map(|k| &report["member_sets"][k]);
        assert!(f["principal"]["id"] == NEW_OWNER || members.is_some_and(member), "{f}");
    }
    // Choke points list only findings shown; tiers count only findings shown.
    for c in report["choke_points"].as_array().unwrap() {
        assert!(c["findings"].as_array().unwrap().iter().all(|id| new.contains(id.as_str().unwrap())));
    }
    let shown: usize = report["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["escalation_findings"].as_u64().unwrap() + t["standing_findings"].as_u64().unwrap())
        .sum::<u64>() as usize;
    let tier_hits: usize =
        report["findings"].as_array().unwrap().iter().map(|f| f["tiers"].as_array().unwrap().len()).sum();
    assert_eq!(shown, tier_hits);
    // New pairs: listed with their fingerprints, every one the new owner's.
    let pairs = report["baseline"]["new_pairs"].as_array().unwrap();
    assert!(!pairs.is_empty() && pairs.iter().all(|p| p["source"] == NEW_OWNER), "{pairs:?}");
    assert!(pairs.iter().all(|p| p["fingerprint"].as_str().unwrap().len() == 32));
    assert_eq!(report["pairs"].as_array().unwrap().len(), pairs.len());
    assert_eq!(report["baseline"]["findings"]["new"], new.len());
    // Below the gate: new findings, but none at or above critical+… exit 0 with --fail-on above them all.
    let worst = report["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "critical");
    let r = scan(f.changed(), &out, &["--baseline", f.base.to_str().unwrap(), "--fail-on", "critical"]);
    assert_eq!(r.code, if worst { 5 } else { 0 }, "{}", r.stderr);
}

#[test]
fn a_snapshot_baseline_is_analyzed_with_the_same_queries() {
    let f = fixture();
    let new = f.new_ids();
    let snap = f.path("snap.json");
    let r = run(&["scan", "--mock", "demo", "--snapshot", snap.to_str().unwrap(), "-o", "/dev/null", "--no-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = f.path("new.json");
    let r = scan(f.changed(), &out, &["--baseline", snap.to_str().unwrap(), "--fail-on", "low"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert_eq!(ids(&json_of(&out)), new);
}

#[test]
fn every_format_renders_the_filtered_report() {
    let f = fixture();
    let new = f.new_ids();
    let base = f.base.to_str().unwrap();
    let sarif = f.path("new.sarif");
    let r = run(&[
        "scan",
        "--mock",
        f.changed(),
        "--format",
        "sarif",
        "-o",
        sarif.to_str().unwrap(),
        "--baseline",
        base,
        "--no-config",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sarif = json_of(&sarif);
    let fingerprints: BTreeSet<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["partialFingerprints"].as_object().and_then(|m| m.values().next()).and_then(Value::as_str))
        .map(String::from)
        .collect();
    assert_eq!(fingerprints, new, "SARIF fingerprints are the finding ids");
    for format in ["table", "dot"] {
        let r = run(&["scan", "--mock", f.changed(), "--format", format, "--baseline", base, "--no-config"]);
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert!(r.stdout.contains("Miriam Graham"), "{format} shows the new owner");
    }
    let r = run(&["scan", "--mock", "demo", "--format", "ndjson", "--baseline", base, "--no-config"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_suppressed_finding_does_not_fail_the_gate_and_an_expired_one_does() {
    let f = fixture();
    let base = f.base.to_str().unwrap();
    let out = f.path("new.json");
    let new = f.new_ids();
    // One entry per new finding id (as JSON and SARIF show it), the new owner's own by pattern.
    let entries = |expires: &str| {
        let mut text = format!(
            "[[suppress]]\nsource = \"{NEW_OWNER}\"\nreason = \"break-glass owner, SEC-1\"\nexpires = \"{expires}\"\n"
        );
        for id in &new {
            text.push_str(&format!(
                "[[suppress]]\nfingerprint = \"{id}\"\nreason = \"SEC-1\"\nexpires = \"{expires}\"\n"
            ));
        }
        text
    };
    let config = f.config(&entries("2999-12-31"));
    let r = scan_with_config(f.changed(), &out, &config, &["--baseline", base, "--fail-on", "low"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_of(&out);
    assert!(ids(&report).is_empty());
    assert_eq!(report["suppressions"]["findings"], new.len());
    assert_eq!(report["suppressions"]["entries"][0]["status"], "active");
    assert!(report["suppressions"]["entries"][0]["matched"].as_u64().unwrap() >= 2);

    let config = f.config(&entries("2000-01-31"));
    let r = scan_with_config(f.changed(), &out, &config, &["--baseline", base, "--fail-on", "low"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("suppression [0] (break-glass owner, SEC-1) expired on 2000-01-31"), "{}", r.stderr);
    let report = json_of(&out);
    assert_eq!(ids(&report), new);
    assert_eq!(report["suppressions"]["entries"][0]["status"], "expired");
    assert_eq!(report["suppressions"]["findings"], 0);
}

#[test]
fn a_source_pattern_suppresses_only_findings_whose_every_pair_it_matches() {
    let f = fixture();
    let out = f.path("new.json");
    let config = f.config(&format!("[[suppress]]\nsource = \"{NEW_OWNER}\"\nreason = \"r\"\n"));
    let r = scan_with_config(f.changed(), &out, &config, &["--baseline", f.base.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = common::resolved(&json_of(&out));
    // Hub findings that other principals reach as well stay shown; the new owner's own are suppressed.
    assert!(!ids(&report).is_empty(), "findings other principals share are not suppressed by a source pattern");
    for finding in report["findings"].as_array().unwrap() {
        assert_ne!(finding["principal"]["id"], NEW_OWNER, "{finding}");
    }
    assert!(report["suppressions"]["findings"].as_u64().unwrap() >= 1);
    assert!(report["baseline"]["pairs"]["new"] == 0, "every new pair is the new owner's");
}

#[test]
fn suppressions_without_a_baseline_by_fingerprint_and_unused_ones_are_reported() {
    let f = fixture();
    let out = f.path("all.json");
    let all = ids(&json_of(&f.base));
    let first = all.iter().next().unwrap().clone();
    let config = f.config(&format!(
        "[[suppress]]\nfingerprint = \"{first}\"\nreason = \"accepted\"\n\n[[suppress]]\nquery = \"no-such-query-*\"\nreason = \"stale\"\n"
    ));
    let r = scan_with_config("demo", &out, &config, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_of(&out);
    let shown = ids(&report);
    assert_eq!(shown.len(), all.len() - 1);
    assert!(!shown.contains(&first));
    assert_eq!(report["suppressions"]["entries"][1]["status"], "unused");
    assert!(r.stderr.contains("suppression [1] (stale) matches nothing"), "{}", r.stderr);
    assert!(report.get("baseline").is_some_and(|b| b.get("file").is_none()));
}

#[test]
fn bad_suppression_entries_are_usage_errors_naming_file_and_key() {
    let f = fixture();
    let out = f.path("x.json");
    let cases = [
        ("[[suppress]]\nquery = \"*\"\n", "suppress[0].reason"),
        ("[[suppress]]\nreason = \"r\"\n", "suppress[0].fingerprint"),
        ("[[suppress]]\nfingerprint = \"abc\"\nreason = \"r\"\n", "suppress[0].fingerprint"),
        ("[[suppress]]\nquery = \"*\"\nreason = \"r\"\n[[suppress]]\nquery = \"*\"\nreason = \"r\"\nexpires = \"31/12/2030\"\n", "suppress[1].expires"),
        ("[[suppress]]\nquery = \"*\"\nreason = \"r\"\nowner = \"me\"\n", "`owner`"),
        ("[history]\nkeep = 0\n", "history.keep"),
    ];
    for (text, key) in cases {
        let config = f.config(text);
        let r = scan_with_config("demo", &out, &config, &[]);
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert!(r.stderr.contains(key) && r.stderr.contains(config.to_str().unwrap()), "{text}: {}", r.stderr);
    }
}

#[test]
fn a_bad_baseline_is_an_error_naming_the_file() {
    let f = fixture();
    let bad = f.path("bad.json");
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    let r = scan("demo", &f.path("x.json"), &["--baseline", bad.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("bad.json") && r.stderr.contains("neither a JSON report"), "{}", r.stderr);
    let mut old: Value = json_of(&f.base);
    old["schema_version"] = 2.into();
    std::fs::write(&bad, old.to_string()).unwrap();
    let r = scan("demo", &f.path("x.json"), &["--baseline", bad.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("schema_version"), "{}", r.stderr);
}

#[test]
fn a_schema_3_report_as_baseline_is_refused_naming_the_file_and_both_versions() {
    let f = fixture();
    // A report as azpath 3 wrote it: every node written out in full where a finding names it.
    let mut old = common::resolved(&json_of(&f.base));
    old["schema_version"] = 3.into();
    for table in ["nodes", "edges", "target_sets"] {
        old.as_object_mut().unwrap().remove(table);
    }
    let v3 = f.path("report-v3.json");
    std::fs::write(&v3, old.to_string()).unwrap();
    let r = scan("demo", &f.path("x.json"), &["--baseline", v3.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let (version, ours) = ("3 is not the report version", format!("({})", REPORT_SCHEMA_VERSION));
    assert!(r.stderr.contains("report-v3.json") && r.stderr.contains(version), "{}", r.stderr);
    assert!(r.stderr.contains(&ours) && r.stderr.contains("write the baseline again"), "{}", r.stderr);
    // The same report at the current version: its findings do not parse, and the error says where.
    old["schema_version"] = REPORT_SCHEMA_VERSION.into();
    std::fs::write(&v3, old.to_string()).unwrap();
    let r = scan("demo", &f.path("x.json"), &["--baseline", v3.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("report-v3.json") && r.stderr.contains("findings[0]"), "{}", r.stderr);
}

#[test]
fn a_baseline_with_a_dangling_reference_is_an_error_naming_the_field() {
    let f = fixture();
    let mut report = json_of(&f.base);
    let nodes = report["nodes"].as_array().unwrap().len();
    report["findings"][1]["scope"] = nodes.into();
    let bad = f.path("dangling.json");
    std::fs::write(&bad, report.to_string()).unwrap();
    let r = scan("demo", &f.path("x.json"), &["--baseline", bad.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let names = format!("findings[1].scope: {nodes} is not an index of the report's `nodes` ({nodes} entries)");
    assert!(r.stderr.contains("dangling.json") && r.stderr.contains(&names), "{}", r.stderr);
}

#[test]
fn the_baseline_and_suppressions_objects_follow_the_published_schema() {
    let f = fixture();
    let out = f.path("new.json");
    let config = f.config(&format!(
        "[[suppress]]\nsource = \"{NEW_OWNER}\"\nreason = \"r\"\n[[suppress]]\nquery = \"nothing-*\"\nreason = \"r\"\nexpires = \"2000-01-01\"\n"
    ));
    let r = scan_with_config(f.changed(), &out, &config, &["--baseline", f.base.to_str().unwrap(), "--expand"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let schema = json_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json"));
    assert!(schema["properties"]["baseline"].is_object() && schema["properties"]["suppressions"].is_object());
    let validator = jsonschema::validator_for(&schema).unwrap();
    let report = json_of(&out);
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut broken = report.clone();
    broken["suppressions"]["entries"][0]["status"] = "maybe".into();
    assert!(!validator.is_valid(&broken), "the schema constrains the summary");
}
