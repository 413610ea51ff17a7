//! `--format sarif` end to end: the SARIF 2.1.0 fields code-scanning tools require, one rule per query and
//! posture check, results located by logical locations only, fingerprints stable across runs.

mod common;

use std::collections::BTreeSet;

use azpath::render::sarif::{path_fingerprint, posture_fingerprint, FINGERPRINT_KEY};
use azpath_graph::findings::{Finding, PostureFinding, Report};
use common::run;
use serde_json::Value;

fn output(args: &[&str]) -> Value {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", r.stdout))
}

/// Checks what SARIF 2.1.0 requires and what code scanning relies on; returns the run.
fn check_sarif(log: &Value) -> &Value {
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["tool"]["driver"]["name"], "azpath");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "rule ids are unique");
    for r in rules {
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty(), "{r}");
        assert!(["error", "warning", "note"].contains(&r["defaultConfiguration"]["level"].as_str().unwrap()), "{r}");
    }
    let mut fingerprints = BTreeSet::new();
    for res in run["results"].as_array().unwrap() {
        let rule = res["ruleId"].as_str().unwrap();
        let index = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[index], rule, "ruleIndex points at ruleId");
        assert!(!res["message"]["text"].as_str().unwrap().is_empty());
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
        let locations = res["locations"].as_array().unwrap();
        assert_eq!(locations.len(), 1);
        for loc in locations.iter().chain(res["relatedLocations"].as_array().into_iter().flatten()) {
            assert!(loc.get("physicalLocation").is_none(), "no files: {loc}");
            let logical = &loc["logicalLocations"][0];
            assert!(!logical["fullyQualifiedName"].as_str().unwrap().is_empty() && logical["kind"] == "resource");
        }
        let fp = res["partialFingerprints"][FINGERPRINT_KEY].as_str().unwrap();
        assert_eq!(fp.len(), 32);
        assert!(fingerprints.insert(fp.to_string()), "fingerprint {fp} is not unique");
    }
    run
}

#[test]
fn scan_demo_as_sarif_has_a_rule_per_query_and_check_and_a_result_per_finding() {
    let log = output(&["scan", "--mock", "demo", "--format", "sarif"]);
    let run = check_sarif(&log);
    let report = output(&["scan", "--mock", "demo", "--format", "json"]);
    let rules: BTreeSet<&str> =
        run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for q in report["queries"].as_array().unwrap().iter().chain(report["posture_checks"].as_array().unwrap()) {
        assert!(rules.contains(q["id"].as_str().unwrap()), "no rule for {}", q["id"]);
    }
    assert!(rules.contains("AZP-AKS-001") && rules.contains("owner-equivalent-on-subscription"));
    let results = run["results"].as_array().unwrap();
    let findings = report["findings"].as_array().unwrap().len() + report["posture"].as_array().unwrap().len();
    assert_eq!(results.len(), findings);
    assert!(
        results.iter().any(|r| r["ruleId"] == "AZP-AZ-001"),
        "demo's guest owner through a group is a posture result"
    );
    // Stable across runs: the same results, fingerprints included (only the collection time differs).
    let again = output(&["scan", "--mock", "demo", "--format", "sarif"]);
    assert_eq!(again["runs"][0]["results"], run["results"]);
    assert_eq!(again["runs"][0]["tool"], run["tool"]);
}

/// One path result of the demo tenant, field by field.
#[test]
fn one_path_result_in_detail() {
    let log = output(&["scan", "--mock", "demo", "--format", "sarif", "--query", "owner-equivalent-on-subscription"]);
    let report = output(&["scan", "--mock", "demo", "--format", "json", "--query", "owner-equivalent-on-subscription"]);
    let report: Report = serde_json::from_value(report).unwrap();
    let f: &Finding = &report.findings[0];
    let res = &check_sarif(&log)["results"][0];
    assert_eq!(res["ruleId"], "owner-equivalent-on-subscription");
    assert_eq!(res["level"], "error", "critical is an error");
    let text = res["message"]["text"].as_str().unwrap();
    let hops = f.hops.len();
    let expected_start = format!("{} ({})", f.principal.display_name, f.principal.kind);
    assert!(text.starts_with(&expected_start), "{text}\n!= {expected_start}");
    assert!(text.contains(&format!(" {} ({}) by ", f.scope.display_name, f.reach.as_str())), "{text}");
    assert!(text.contains(&format!("in {hops} hop")), "{text}");
    assert!(text.contains(&format!("{} → ", f.principal.display_name)), "{text}");
    assert!(text.contains("Answers owner-equivalent-on-subscription ("), "{text}");
    assert!(text.contains(&format!("Fix: {}", f.remediation.summary)), "{text}");
    assert!(text.contains(f.remediation.command.as_deref().unwrap()), "{text}");
    let target = &res["locations"][0]["logicalLocations"][0];
    assert_eq!(target["fullyQualifiedName"], f.scope.id.as_str());
    assert_eq!(target["name"], f.scope.display_name.as_str());
    let related = res["relatedLocations"].as_array().unwrap();
    assert_eq!(related.len(), hops + 1, "the principal, then each hop's end");
    assert_eq!(related[0]["logicalLocations"][0]["fullyQualifiedName"], f.principal.id.as_str());
    assert_eq!(res["partialFingerprints"][FINGERPRINT_KEY], path_fingerprint(f).as_str());
    assert_eq!(res["properties"]["hops"], hops);
    // Only the selected query's rule is described; posture checks were not selected.
    assert_eq!(log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
}

#[test]
fn posture_results_locate_the_kubernetes_object_and_keep_secrets_out() {
    let log = output(&["scan", "--mock", "aso-workload-identity", "--format", "sarif"]);
    let run = check_sarif(&log);
    let report = output(&["scan", "--mock", "aso-workload-identity", "--format", "json"]);
    let p: Vec<PostureFinding> = serde_json::from_value(report["posture"].clone()).unwrap();
    let f = p.iter().find(|f| f.check_id == "AZP-ASO-001").expect("ASO-001 on team-c");
    let res = run["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "AZP-ASO-001").unwrap();
    assert_eq!(res["level"], "error");
    assert_eq!(res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], f.resource.id.as_str());
    assert!(f.resource.id.ends_with("/k8s/namespaces/team-c/secrets/aso-credential"));
    assert_eq!(res["partialFingerprints"][FINGERPRINT_KEY], posture_fingerprint(f).as_str());
    let text = res["message"]["text"].as_str().unwrap();
    assert!(text.contains("Evidence: ") && text.contains("AZURE_CLIENT_SECRET") && text.contains("Fix: "), "{text}");
    let rule = &run["tool"]["driver"]["rules"][res["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["properties"]["security-severity"], "8.0");
    assert!(rule["helpUri"].as_str().unwrap().starts_with("https://"));
    assert!(!serde_json::to_string(&log).unwrap().contains("PLANTED"));
}

#[test]
fn paths_refuses_sarif_and_diff_writes_the_new_findings() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.json");
    assert_eq!(run(&["collect", "--mock", "aso-workload-identity", "-o", snap.to_str().unwrap()]).code, 0);
    let r = run(&["paths", snap.to_str().unwrap(), "--from", "a", "--to", "b", "--format", "sarif"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // Turn local accounts off on `prod`: the posture finding is resolved.
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    for c in s["azure"]["managedClusters"].as_array_mut().unwrap() {
        c["properties"]["disableLocalAccounts"] = Value::Bool(true);
    }
    let fixed = dir.path().join("fixed.json");
    std::fs::write(&fixed, serde_json::to_string(&s).unwrap()).unwrap();
    let d = output(&["diff", snap.to_str().unwrap(), fixed.to_str().unwrap(), "--format", "json"]);
    assert_eq!(d["schema_version"], azpath::diff::DIFF_SCHEMA_VERSION);
    let resolved: Vec<&str> =
        d["resolved_posture"].as_array().unwrap().iter().map(|f| f["check_id"].as_str().unwrap()).collect();
    assert_eq!(resolved, ["AZP-AKS-001"]);
    assert!(d["new_posture"].as_array().unwrap().is_empty());
    // The other way round it is new, and SARIF carries it with its rule.
    let back = output(&["diff", fixed.to_str().unwrap(), snap.to_str().unwrap(), "--format", "sarif"]);
    let results = check_sarif(&back)["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "AZP-AKS-001"));
    let code = run(&[
        "diff",
        fixed.to_str().unwrap(),
        snap.to_str().unwrap(),
        "--query",
        "AZP-AKS-001",
        "--fail-on",
        "high",
        "-q",
    ]);
    assert_eq!(code.code, 1, "a new high posture finding fails --fail-on high");
}

/// A user joining a group that holds a role adds pairs but changes no finding, so no fingerprint; removing the
/// group's role assignment removes exactly the fingerprints of the findings that rested on it.
#[test]
fn fingerprints_survive_member_churn_and_follow_the_grants() {
    use azpath_graph::engine::{analyze, AnalyzeOptions};
    use azpath_graph::snapshot::{DirectoryObject, Snapshot};
    let fingerprints = |s: &Snapshot| -> (BTreeSet<String>, usize) {
        let report = analyze(s, &azpath::queries::builtin(), AnalyzeOptions::default());
        let mut out = Vec::new();
        azpath::render::render_sarif(&report, &mut out).unwrap();
        let log: Value = serde_json::from_slice(&out).unwrap();
        let prints = log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"][FINGERPRINT_KEY].as_str().unwrap().to_string())
            .collect();
        (prints, report.implied_pairs().len())
    };
    let base = azpath_mocks::MockTenant::bundled("demo").unwrap().to_snapshot();
    let (before, pairs_before) = fingerprints(&base);
    // Megan Bowen (not in Platform Admins) joins it.
    const PLATFORM_ADMINS: &str = "0b482138-2cfe-4ab9-b45d-18d09cf5e27f";
    let megan = base.entra.users.iter().find(|u| u.display_name.as_deref() == Some("Megan Bowen")).unwrap();
    let mut churned = base.clone();
    let group = churned.entra.group_members.iter_mut().find(|g| g.group_id == PLATFORM_ADMINS).unwrap();
    assert!(!group.members.iter().any(|m| m.id == megan.id), "Megan is not a member yet");
    group.members.push(DirectoryObject {
        id: megan.id.as_str().into(),
        odata_type: Some("#microsoft.graph.user".into()),
        ..Default::default()
    });
    let (after, pairs_after) = fingerprints(&churned);
    assert!(pairs_after > pairs_before, "the new member gets pairs");
    assert_eq!(after, before, "no finding is new or gone: member churn keeps every fingerprint");
    // Removing the group's User Access Administrator assignment removes what rested on it.
    let mut revoked = base.clone();
    revoked.azure.role_assignments.retain(|a| !a.id.ends_with("cdd5d1e2-7a9f-4ce6-84fa-ebb33546a6f7"));
    let (cut, _) = fingerprints(&revoked);
    assert!(cut.is_subset(&before) && cut.len() < before.len(), "{} of {}", cut.len(), before.len());
}
