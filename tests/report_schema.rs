//! The published JSON Schemas (docs/report.schema.json, docs/diff.schema.json): always what the code generates,
//! and real output validates against them (the demo, with and without `--expand`, a Kubernetes tenant, a diff,
//! every `--format ndjson` line), while a report with a field of the wrong type does not.

mod common;

use std::path::{Path, PathBuf};

use common::run;
use jsonschema::Validator;
use serde_json::{json, Value};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A published schema file, parsed.
fn published(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
}

/// What `azpath schema WHICH` prints, parsed.
fn generated(which: &str) -> Value {
    let r = run(&["schema", which]);
    assert_eq!(r.code, 0, "azpath schema {which}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("azpath schema {which}: not JSON: {e}"))
}

fn validator(schema: &Value) -> Validator {
    jsonschema::meta::validate(schema).unwrap_or_else(|e| panic!("not a valid JSON Schema: {e}"));
    jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

/// Every error of `instance` against `v`, one per line ("" when valid).
fn errors(v: &Validator, instance: &Value) -> String {
    v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect::<Vec<_>>().join("\n")
}

fn json_output(args: &[&str]) -> Value {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"))
}

fn assert_valid(v: &Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(errs.is_empty(), "{what} does not match the published schema:\n{errs}");
}

#[test]
fn published_schemas_are_what_the_code_generates() {
    for (which, path) in [("report", "docs/report.schema.json"), ("diff", "docs/diff.schema.json")] {
        assert!(
            published(path) == generated(which),
            "{path} is stale: regenerate it with `cargo run -- schema {which} > {path}`"
        );
    }
}

#[test]
fn the_schema_command_refuses_an_unknown_output() {
    let r = run(&["schema", "sarif"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("report") && r.stderr.contains("diff"), "{}", r.stderr);
}

#[test]
fn real_reports_validate_against_the_published_schema() {
    let v = validator(&published("docs/report.schema.json"));
    let demo = json_output(&["scan", "--mock", "demo", "--format", "json"]);
    assert!(demo.get("pairs").is_none(), "pairs only with --expand");
    assert_valid(&v, &demo, "scan --mock demo");
    let expanded = json_output(&["scan", "--mock", "demo", "--format", "json", "--expand"]);
    assert!(!expanded["pairs"].as_array().unwrap().is_empty(), "--expand lists pairs");
    assert_valid(&v, &expanded, "scan --mock demo --expand");
    let kube = json_output(&["scan", "--mock", "aso-workload-identity", "--format", "json", "--expand"]);
    let kinds = |r: &Value| {
        let node = |ix: &Value| r["nodes"][ix.as_u64().unwrap() as usize].clone();
        r["findings"].as_array().unwrap().iter().map(|f| node(&f["principal"])["kind"].clone()).collect()
    };
    let kinds: Vec<Value> = kinds(&kube);
    assert!(
        kinds.iter().any(|k| k.as_str().is_some_and(|k| k.starts_with("Kube"))),
        "a Kubernetes subject holds a finding: {kinds:?}"
    );
    assert_valid(&v, &kube, "scan --mock aso-workload-identity --expand");
    let gaps = json_output(&["scan", "--mock", "coverage-gaps", "--format", "json"]);
    assert!(!gaps["coverage"].as_array().unwrap().is_empty(), "coverage-gaps has gaps");
    assert_valid(&v, &gaps, "scan --mock coverage-gaps");
}

#[test]
fn a_report_with_a_field_of_the_wrong_type_fails_validation() {
    let v = validator(&published("docs/report.schema.json"));
    let good = json_output(&["scan", "--mock", "demo", "--format", "json", "--expand"]);
    assert_valid(&v, &good, "the unmodified report");
    let broken: [(&str, Value); 9] = [
        ("/findings/0/severity", json!("severe")),
        ("/findings/0/members/count", json!("3")),
        ("/findings/0/principal", json!({"kind": "User", "id": "x"})),
        ("/findings/0/hops/0", json!(-1)),
        ("/edges/0/edge", json!("NOT_AN_EDGE")),
        ("/nodes/0/kind", json!("Robot")),
        ("/tiers/0/exposure/by_kind", json!({"Robot": [1, 2]})),
        ("/pairs/0/eligible", json!("yes")),
        ("/schema_version", json!(2)),
    ];
    for (pointer, value) in broken {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} is not in the demo report")) = value;
        let errs = errors(&v, &bad);
        assert!(!errs.is_empty(), "{pointer} of the wrong type passed validation");
        assert!(errs.contains(pointer), "the error names {pointer}: {errs}");
    }
    let mut missing = good.clone();
    missing["findings"][0].as_object_mut().unwrap().remove("principal");
    assert!(!v.is_valid(&missing), "a finding without its principal passed validation");
    // The tables references point into are required.
    for table in ["nodes", "edges"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(table);
        assert!(!v.is_valid(&missing), "a report without its `{table}` table passed validation");
    }
    let mut missing = good.clone();
    missing["nodes"][0].as_object_mut().unwrap().remove("id");
    assert!(!v.is_valid(&missing), "a node without its id passed validation");
}

#[test]
fn a_node_appears_once_in_the_node_table_however_many_findings_name_it() {
    let report = json_output(&["scan", "--mock", "demo", "--format", "json", "--expand"]);
    let nodes = report["nodes"].as_array().unwrap();
    let keys: std::collections::BTreeSet<(String, String)> =
        nodes.iter().map(|n| (n["kind"].to_string(), n["id"].to_string())).collect();
    assert_eq!(keys.len(), nodes.len(), "a node listed twice");
    // The busiest principal and scope: named by several findings, written once (pairs name ids, as ndjson does).
    let mut named: std::collections::BTreeMap<u64, usize> = Default::default();
    for f in report["findings"].as_array().unwrap() {
        *named.entry(f["scope"].as_u64().unwrap()).or_default() += 1;
    }
    for f in report["findings"].as_array().unwrap() {
        *named.entry(f["principal"].as_u64().unwrap()).or_default() += 1;
    }
    let (busiest, uses) = named.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(*uses > 2, "some node is named by several findings and pairs: {named:?}");
    let id = &nodes[*busiest as usize]["id"];
    assert_eq!(nodes.iter().filter(|n| n["id"] == *id).count(), 1, "{id} is in the node table once");
    let referring = json!([report["findings"], report["target_sets"], report["member_sets"]]);
    assert!(!referring.to_string().contains(&id.to_string()), "findings name {id} by index only");
    // Edges too: every step once, however many findings and pairs take it.
    let edges = report["edges"].as_array().unwrap();
    let distinct: std::collections::BTreeSet<String> = edges.iter().map(Value::to_string).collect();
    assert_eq!(distinct.len(), edges.len(), "an edge listed twice");
}

#[test]
fn ndjson_lines_validate_as_pairs() {
    let schema = published("docs/report.schema.json");
    let pair = json!({"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/ExpandedPair"});
    let v = validator(&pair);
    for tenant in ["demo", "aso-workload-identity"] {
        let r = run(&["scan", "--mock", tenant, "--format", "ndjson"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.lines().count() > 0, "{tenant}: no pairs");
        for line in r.stdout.lines() {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{tenant}: not JSON ({e}): {line}"));
            assert_valid(&v, &value, &format!("{tenant} ndjson line"));
        }
    }
    assert!(!v.is_valid(&json!({"query_id": "q"})), "an object missing a pair's fields passed validation");
}

#[test]
fn diff_output_validates_against_the_published_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    for (tenant, path) in [("nested-groups", &old), ("demo", &new)] {
        let r = run(&["collect", "--mock", tenant, "-o", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "collect {tenant}: {}", r.stderr);
    }
    let d = json_output(&["diff", old.to_str().unwrap(), new.to_str().unwrap(), "--format", "json"]);
    assert!(!d["new"].as_array().unwrap().is_empty() && !d["resolved_pairs"].as_array().unwrap().is_empty());
    let v = validator(&published("docs/diff.schema.json"));
    assert_valid(&v, &d, "diff nested-groups demo");
    let mut bad = d.clone();
    bad["new_pairs"][0]["findings"] = json!("one");
    assert!(!v.is_valid(&bad), "a diff with findings of the wrong type passed validation");
}
