//! The `azpath` binary end to end: README's commands, output formats, exit codes, bad input, secrets.

mod common;

use common::{azpath, run, run_env};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use azpath_mocks::{MockAzure, MockOptions, MockTenant};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", r.stdout))
}

/// The (query, source, target, eligible) pairs a JSON report's findings imply.
fn finding_keys(report: &Value) -> Vec<(String, String, String, bool)> {
    let report: azpath_graph::findings::Report = serde_json::from_value(report.clone()).unwrap();
    report.implied_pairs().into_iter().map(|(p, (eligible, _))| (p.query_id, p.source, p.target, eligible)).collect()
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn readme_opens_with_the_run_and_test_commands() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block: Vec<&str> = readme.lines().skip_while(|l| !l.starts_with("```")).skip(1).take(2).collect();
    assert!(block[0].starts_with("cargo run -- scan --mock demo"), "{block:?}");
    assert!(block[1].starts_with("cargo test --workspace"), "{block:?}");
    let ci = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "cargo test --workspace"), ".ci/run must run README's test command");
}

/// The tenant-root User Access Administrator assignment of the demo (an elevate-access leftover).
const ROOT_UAA: &str = "/providers/Microsoft.Authorization/roleAssignments/d6f467af-6470-4355-ba34-9c69589d0ae0";

#[test]
fn scan_of_the_demo_tenant_answers_what_to_cut_on_its_first_screen() {
    for columns in ["80", "100", "120"] {
        let r = run_env(&["scan", "--mock", "demo"], &[("COLUMNS", columns)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert!(lines[0].starts_with("azpath: ") && lines[0].contains("escalation path"), "{}", lines[0]);
        let first: Vec<&str> = lines.iter().take(40).copied().collect();
        let screen = first.join("\n");
        let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            screen.contains("Exposure: ") && screen.contains("Top choke points") && screen.contains("Plan: "),
            "{screen}"
        );
        // The root assignment once among the choke points, its command whole on one line.
        let command = format!("$ az role assignment delete --ids {ROOT_UAA}");
        assert_eq!(first.iter().filter(|l| l.trim() == command).count(), 1, "{screen}");
        assert!(flat.contains("User Access Administrator of Pradeep Gupta at Tenant root (/)"), "{screen}");
        assert!(flat.contains("verified: re-analyzed without them, no escalation path is left"), "{screen}");
        // Prose fits the width; only a whole command, or an id too long for any line, runs past it.
        let width: usize = columns.parse().unwrap();
        for l in lines.iter().filter(|l| l.chars().count() > width) {
            let command = l.trim_start().starts_with("$ ");
            let one_word = l.split_whitespace().filter(|w| *w != "-").count() == 1;
            assert!(command || one_word, "line over {width} columns: {l}");
        }
        assert!(
            r.stdout.contains("Escalation paths (") && r.stdout.contains("    1. "),
            "paths are explained hop by hop"
        );
        assert!(r.stdout.contains("Standing privilege review ("), "{}", r.stdout);
        if columns != "80" {
            assert!(lines.len() < 200, "the demo report is short: {} lines at {columns} columns", lines.len());
        }
    }
}

/// The first screen names the first escalation path from a Kubernetes subject and the first from an Entra
/// principal, read from the JSON report of the same tenant: where a tenant has none of a kind, none is named
/// (entra-control-plane has no Kubernetes subject, nested-groups no escalation at all).
#[test]
fn first_screen_shows_the_first_escalation_from_each_kind_of_principal() {
    let kube = ["KubeServiceAccount", "KubeUser", "KubeGroup"];
    let entra = ["User", "Group", "ServicePrincipal", "ManagedIdentity", "Application", "UnknownPrincipal"];
    for tenant in ["demo", "aso-workload-identity", "entra-control-plane", "nested-groups"] {
        let report = json(&["scan", "--mock", tenant, "--format", "json"]);
        let nodes = report["nodes"].as_array().unwrap();
        let escalations: Vec<&Value> =
            report["findings"].as_array().unwrap().iter().filter(|f| f["reach"] == "escalation").collect();
        let principal = |f: &Value| nodes[f["principal"].as_u64().unwrap() as usize].clone();
        let first = |kinds: &[&str]| {
            escalations.iter().map(|f| principal(f)).find(|n| kinds.contains(&n["kind"].as_str().unwrap()))
        };
        let expected: Vec<Value> = [first(&kube), first(&entra)].into_iter().flatten().collect();
        let r = run_env(&["scan", "--mock", tenant], &[("COLUMNS", "100")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let screen: Vec<&str> = r.stdout.lines().take(40).collect();
        let section: Vec<&str> = screen
            .iter()
            .skip_while(|l| !l.starts_with("Escalation paths, the first by kind of principal"))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .copied()
            .collect();
        let entries: Vec<&str> = section.iter().copied().filter(|l| l.starts_with("  [")).collect();
        assert_eq!(entries.len(), expected.len(), "{tenant}: {section:#?}");
        for (entry, node) in entries.iter().zip(&expected) {
            let name = node["name"].as_str().or(node["id"].as_str()).unwrap();
            assert!(entry.contains(name), "{tenant}: expected {name} in {entry}");
            // An Entra principal is named with its kind.
            let noun = match node["kind"].as_str().unwrap() {
                "User" => " (user)",
                "Group" => " (group)",
                "ServicePrincipal" => " (service principal)",
                "ManagedIdentity" => " (managed identity)",
                _ => "",
            };
            assert!(entry.contains(&format!("{name}{noun} → ")), "{tenant}: expected {name}{noun} in {entry}");
        }
        if tenant == "demo" || tenant == "aso-workload-identity" {
            assert!(expected.iter().any(|n| kube.contains(&n["kind"].as_str().unwrap())), "{tenant}");
        }
        if tenant == "entra-control-plane" {
            assert!(expected.iter().all(|n| entra.contains(&n["kind"].as_str().unwrap())), "{tenant}");
        }
    }
}

#[test]
fn json_report_has_the_documented_shape_and_order() {
    let report = json(&["scan", "--mock", "demo", "--format", "json"]);
    assert_eq!(report["schema_version"], azpath_graph::findings::REPORT_SCHEMA_VERSION);
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for key in [
        "queries",
        "tiers",
        "choke_points",
        "plan",
        "findings",
        "member_sets",
        "target_sets",
        "nodes",
        "edges",
        "posture_checks",
        "posture",
        "coverage",
        "warnings",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    assert!(report.get("pairs").is_none(), "pairs only with --expand");
    // Every reference is an index into its table: nodes, edges, target lists.
    let table = |name: &str, ix: &Value| report[name][ix.as_u64().unwrap() as usize].clone();
    for n in report["nodes"].as_array().unwrap() {
        assert!(n["kind"].is_string() && n["id"].is_string(), "{n}");
        assert!(n.get("name").is_none_or(|name| name.is_string() && name != &n["id"]), "{n}");
    }
    for f in findings {
        for key in ["id", "reach", "severity", "principal", "scope", "hops", "members", "tiers", "fix"] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
        for node in [&f["principal"], &f["scope"]] {
            let node = table("nodes", node);
            assert!(node["kind"].is_string() && node["id"].is_string(), "{node}");
        }
        for h in f["hops"].as_array().unwrap() {
            let h = table("edges", h);
            assert!(h["edge"].is_string() && h["evidence"].as_array().is_some_and(|e| !e.is_empty()), "{h}");
            assert!(table("nodes", &h["from"])["id"].is_string() && table("nodes", &h["to"])["id"].is_string());
        }
        for t in f["tiers"].as_array().unwrap() {
            for n in table("target_sets", &t["targets"]).as_array().unwrap() {
                let id = table("nodes", n)["id"].as_str().unwrap().to_string();
                assert_eq!(id, id.to_lowercase(), "ARM ids are lower-cased");
            }
        }
        // The fix is a choke point (by index); the finding's remediation is its own, or else the fix's.
        let fix = table("choke_points", &f["fix"]);
        assert!(fix["id"].is_string(), "{f}");
        let remediation = f.get("remediation").unwrap_or(&fix["remediation"]);
        assert!(remediation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
    }
    let order = |f: &Value| {
        let sev = ["info", "low", "medium", "high", "critical"].iter().position(|s| *s == f["severity"]).unwrap();
        (f["reach"] != "escalation", std::cmp::Reverse(sev))
    };
    assert!(findings.windows(2).all(|w| order(&w[0]) <= order(&w[1])), "escalations first, then by severity");
    assert!(findings.iter().any(|f| f["eligible"] == true), "the demo has a PIM-eligible path");
    let expanded = json(&["scan", "--mock", "demo", "--format", "json", "--expand"]);
    assert!(!expanded["pairs"].as_array().unwrap().is_empty(), "--expand lists the pairs");
}

#[test]
fn collect_then_analyze_offline_equals_scan() {
    let dir = temp();
    let snap = dir.path().join("demo.json");
    let r = run(&["collect", "--mock", "demo", "-o", snap.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let offline = json(&["analyze", snap.to_str().unwrap(), "--format", "json"]);
    let live = json(&["scan", "--mock", "demo", "--format", "json"]);
    assert_eq!(finding_keys(&offline), finding_keys(&live));
    // Report to a file: also owner-only, nothing on stdout.
    let out = dir.path().join("report.json");
    let r = run(&["analyze", snap.to_str().unwrap(), "--format", "json", "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.is_empty());
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(finding_keys(&written), finding_keys(&offline));
}

#[test]
fn dot_output_renders_with_graphviz() {
    let r = run(&["scan", "--mock", "demo", "--format", "dot"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("digraph azpath {"));
    assert!(r.stdout.contains("subgraph \"cluster_sub_"), "subscriptions are clusters");
    assert!(r.stdout.contains("  \"legend\" [shape=plaintext"), "a legend");
    assert_eq!(r.stdout, run(&["scan", "--mock", "demo", "--format", "dot"]).stdout, "DOT output is stable");
    let dot =
        Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let Ok(mut dot) = dot else {
        assert!(std::env::var_os("AZPATH_REQUIRE_DOT").is_none(), "graphviz `dot` is required here");
        eprintln!("graphviz not installed: skipping the render check");
        return;
    };
    use std::io::Write;
    dot.stdin.take().unwrap().write_all(r.stdout.as_bytes()).unwrap();
    let out = dot.wait_with_output().unwrap();
    assert!(out.status.success(), "dot failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn fail_on_sets_the_exit_code() {
    assert_eq!(run(&["scan", "--mock", "demo", "--fail-on", "critical", "-q"]).code, 1);
    assert_eq!(run(&["scan", "--mock", "demo", "--query", "can-assign-roles", "--fail-on", "high", "-q"]).code, 0);
    let bad = run(&["scan", "--mock", "demo", "--fail-on", "severe"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--fail-on"));
    assert_eq!(run(&["scan", "--no-such-flag"]).code, 2);
}

#[test]
fn truncated_snapshot_is_a_clear_error() {
    let dir = temp();
    let snap = dir.path().join("s.json");
    assert_eq!(run(&["collect", "--mock", "demo", "-o", snap.to_str().unwrap()]).code, 0);
    let text = std::fs::read_to_string(&snap).unwrap();
    std::fs::write(&snap, &text[..text.len() / 2]).unwrap();
    let r = run(&["analyze", snap.to_str().unwrap()]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("s.json") && r.stderr.contains("invalid snapshot at"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
    // A field of the wrong type is named.
    std::fs::write(&snap, r#"{"schema_version":1,"azure":{"roleAssignments":[{"id":"x","properties":{"scope":7}}]}}"#)
        .unwrap();
    let r = run(&["analyze", snap.to_str().unwrap()]);
    assert!(r.stderr.contains("azure.roleAssignments[0].properties.scope"), "{}", r.stderr);
}

#[test]
fn user_queries_are_validated_and_run() {
    let dir = temp();
    let q = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    q(
        "rg-writers.toml",
        r#"id = "rg-writers"
title = "Write on a resource group"
severity = "low"
description = "d"
remediation = "r"
[match]
targets = ["ResourceGroup"]
capabilities = ["write-everything"]
"#,
    );
    let list = run(&["queries", "list", "--queries", dir.path().to_str().unwrap()]);
    assert!(list.stdout.contains("rg-writers") && list.stdout.contains("owner-equivalent-on-subscription"));
    let report = json(&[
        "scan",
        "--mock",
        "demo",
        "--queries",
        dir.path().to_str().unwrap(),
        "--query",
        "rg-writers",
        "--format",
        "json",
    ]);
    assert!(finding_keys(&report).iter().all(|k| k.0 == "rg-writers"));
    q("bad.toml", "id = \"bad\"\ntitle = \"t\"\nseverity = \"low\"\ndescription = \"d\"\nremediation = \"r\"\ncolour = 1\n[match]\ntargets = [\"Subscription\"]\n");
    let r = run(&["queries", "check", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("bad.toml") && r.stderr.contains("colour"), "{}", r.stderr);
}

#[test]
fn paths_between_two_named_nodes() {
    let dir = temp();
    let snap = dir.path().join("s.json");
    assert_eq!(run(&["collect", "--mock", "demo", "-o", snap.to_str().unwrap()]).code, 0);
    let report =
        json(&["analyze", snap.to_str().unwrap(), "--format", "json", "--query", "owner-equivalent-on-subscription"]);
    let pairs = finding_keys(&report);
    let (from, to) = (pairs[0].1.as_str(), pairs[0].2.as_str());
    let r = run(&[
        "paths",
        snap.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "--capability",
        "assign-roles",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(p["found"], true);
    // From a scope to a user there is no path.
    let back = run(&["paths", snap.to_str().unwrap(), "--from", to, "--to", from]);
    assert_eq!(back.code, 1);
    let unknown = run(&["paths", snap.to_str().unwrap(), "--from", "nobody-at-all", "--to", to]);
    assert_eq!(unknown.code, 2);
}

#[test]
fn diff_reports_new_and_resolved_findings() {
    let dir = temp();
    let a = dir.path().join("a.json");
    assert_eq!(run(&["collect", "--mock", "demo", "-o", a.to_str().unwrap()]).code, 0);
    let before = common::resolved(&json(&["analyze", a.to_str().unwrap(), "--format", "json"]));
    // Remove the assignment behind the first finding's role hop.
    let hop =
        before["findings"][0]["hops"].as_array().unwrap().iter().find(|h| h["edge"] == "HAS_ROLE").unwrap().clone();
    let id = hop["evidence"][0].as_str().unwrap();
    let mut snap: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    for list in ["roleAssignments", "roleEligibilityScheduleInstances"] {
        if let Some(v) = snap["azure"][list].as_array_mut() {
            v.retain(|r| r["id"] != id);
        }
    }
    let b = dir.path().join("b.json");
    std::fs::write(&b, serde_json::to_string(&snap).unwrap()).unwrap();
    let d = json(&["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--format", "json"]);
    assert!(d["new"].as_array().unwrap().is_empty());
    let resolved = d["resolved"].as_array().unwrap();
    assert!(!resolved.is_empty(), "removing {id} resolves something");
    // What rested on it is resolved; so is an escalation whose only gaining principal went with it (its
    // remaining principals hold the power anyway).
    let rests_on = |f: &&Value| f["hops"].as_array().unwrap().iter().any(|h| h["evidence"][0] == id);
    assert!(resolved.iter().any(|f| rests_on(&f)));
    assert!(resolved.iter().all(|f| rests_on(&f) || f["reach"] == "escalation"), "{resolved:#?}");
    // And the other way round, the same findings are new.
    let back = json(&["diff", b.to_str().unwrap(), a.to_str().unwrap(), "--format", "json"]);
    assert_eq!(back["new"].as_array().unwrap().len(), resolved.len());
    assert_eq!(run(&["diff", b.to_str().unwrap(), a.to_str().unwrap(), "--fail-on", "info", "-q"]).code, 1);
}

/// The whole HTTP path as a user runs it: `mock serve`-style server, `--cloud custom`, tokens in the
/// environment, maximum logging. The token never appears in any output or the snapshot.
#[test]
fn custom_cloud_scan_with_env_tokens_never_leaks_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let arm_token = "eyJ0eXAiOiJKV1QiLCJzZWNyZXQiOiJhcm0ifQ.arm-secret-signature";
    let graph_token = "eyJ0eXAiOiJKV1QiLCJzZWNyZXQiOiJncmFwaCJ9.graph-secret-signature";
    let server = rt
        .block_on(MockAzure::start(
            MockTenant::bundled("demo").unwrap(),
            MockOptions { arm_token: arm_token.into(), graph_token: graph_token.into(), ..Default::default() },
        ))
        .unwrap();
    let dir = temp();
    let snap: PathBuf = dir.path().join("s.json");
    let out = azpath()
        .args(["-vvv", "scan", "--cloud", "custom", "--arm-url", &server.arm_url(), "--graph-url", &server.graph_url()])
        .args(["--format", "json", "--snapshot", snap.to_str().unwrap()])
        // `scan --mock` also reads the tenant's cluster; here it comes from its dump.
        .args([
            "--kube-dump",
            concat!("aks-shop-prod=", env!("CARGO_MANIFEST_DIR"), "/mocks/tenants/demo/kube/aks-shop-prod.json"),
        ])
        .env("AZPATH_ARM_TOKEN", arm_token)
        .env("AZPATH_GRAPH_TOKEN", graph_token)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let offline = json(&["scan", "--mock", "demo", "--format", "json"]);
    assert_eq!(finding_keys(&report), finding_keys(&offline));
    let snapshot = std::fs::read_to_string(&snap).unwrap();
    for secret in ["arm-secret-signature", "graph-secret-signature", "eyJ0eXAiOiJKV1Qi"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret) && !snapshot.contains(secret), "{secret} leaked");
    }
    assert!(stderr.contains("GET"), "-vvv logs requests: {stderr}");
    assert_eq!(server.stats().wrong_token, 0);
    // Plain http to a non-loopback host is refused before any request.
    let r = run(&[
        "scan",
        "--cloud",
        "custom",
        "--arm-url",
        "http://example.com",
        "--graph-url",
        "https://graph.example.com",
    ]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("--arm-url"), "{}", r.stderr);
}

#[test]
fn every_query_file_is_built_in_and_named_after_its_id() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml").then(|| p.file_stem().unwrap().to_str().unwrap().to_string())
        })
        .collect();
    stems.sort();
    let mut builtin: Vec<String> = azpath::queries::BUILTIN.iter().map(|(id, _)| id.to_string()).collect();
    builtin.sort();
    assert_eq!(stems, builtin, "queries/ and queries::BUILTIN differ");
    for q in azpath::queries::builtin() {
        assert!(builtin.contains(&q.id));
        assert!(
            !q.description.trim().is_empty() && !q.remediation.trim().is_empty() && !q.references.is_empty(),
            "{}",
            q.id
        );
        // Every query has a positive and a negative case in some bundled tenant.
        let mut pos = false;
        let mut neg = false;
        for name in azpath_mocks::bundled_names() {
            let text = azpath_mocks::bundled_expected(name).unwrap();
            let v: toml::Value = toml::from_str(text).unwrap();
            let has = |key: &str| {
                v.get(key)
                    .and_then(|a| a.as_array())
                    .is_some_and(|a| a.iter().any(|e| e["query"].as_str() == Some(&q.id)))
            };
            pos |= has("present");
            neg |= has("absent");
        }
        assert!(pos && neg, "{}: needs a [[present]] and an [[absent]] case in mocks/tenants/*/expected.toml", q.id);
    }
}

/// The aso-workload-identity tenant plants a client secret in a Secret's data and in its
/// `last-applied-configuration` annotation: it must not reach any output, the snapshot, or the logs.
#[test]
fn planted_kubernetes_secret_appears_nowhere() {
    const PLANTED: &str = "PLANTED-SECRET-VALUE";
    let dir = temp();
    let snap = dir.path().join("s.json");
    for format in ["table", "json", "dot", "sarif"] {
        let out = azpath()
            .args([
                "-vvv",
                "scan",
                "--mock",
                "aso-workload-identity",
                "--format",
                format,
                "--snapshot",
                snap.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(PLANTED), "{format}: secret leaked");
        }
        assert!(!std::fs::read_to_string(&snap).unwrap().contains(PLANTED), "secret in the snapshot");
    }
    // The non-secret client id is kept (it is how the credential's identity is found).
    assert!(std::fs::read_to_string(&snap).unwrap().contains("2f6d9b3a-5e17-4c82-b4a9-1e7c3f8d6a05"));
}
