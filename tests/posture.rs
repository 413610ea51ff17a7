//! Posture checks on the bundled tenants (offline and through the CLI's HTTP path), `--query` selecting
//! posture checks, and `--fail-on` weighing them. (`expected.toml` describes paths only.)

mod common;

use azpath_graph::engine::{analyze, AnalyzeOptions};
use azpath_graph::findings::PostureFinding;
use azpath_mocks::MockTenant;
use common::run;
use serde_json::Value;

const PROD: &str =
    "/subscriptions/5f3c2a91-7d44-4b8e-9a61-2c0d8e7f4b13/resourcegroups/rg-aks/providers/microsoft.containerservice/managedclusters/prod";
const LOCKED: &str =
    "/subscriptions/5f3c2a91-7d44-4b8e-9a61-2c0d8e7f4b13/resourcegroups/rg-aks/providers/microsoft.containerservice/managedclusters/locked";

fn offline(name: &str) -> Vec<PostureFinding> {
    let snap = MockTenant::bundled(name).unwrap().to_snapshot();
    analyze(&snap, &azpath::queries::builtin(), AnalyzeOptions::default()).posture
}

fn over_http(name: &str) -> Vec<PostureFinding> {
    let r = run(&["scan", "--mock", name, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    serde_json::from_value(v["posture"].clone()).unwrap()
}

fn has(found: &[PostureFinding], check: &str, resource: &str) -> bool {
    found.iter().any(|f| f.check_id == check && f.resource.id == resource)
}

fn count(found: &[PostureFinding], check: &str) -> usize {
    found.iter().filter(|f| f.check_id == check).count()
}

#[test]
fn aso_workload_identity_tenant() {
    for found in [offline("aso-workload-identity"), over_http("aso-workload-identity")] {
        // prod: local accounts on; both clusters Entra-integrated without Azure RBAC.
        assert!(has(&found, "AZP-AKS-001", PROD), "{found:#?}");
        assert!(!has(&found, "AZP-AKS-001", LOCKED));
        assert!(has(&found, "AZP-AKS-003", PROD) && has(&found, "AZP-AKS-003", LOCKED));
        for none in ["AZP-AKS-002", "AZP-AKS-004", "AZP-AKS-005", "AZP-AKS-006"] {
            assert_eq!(count(&found, none), 0, "{none}");
        }
        // team-c's credential holds a client secret; team-a's is workload identity.
        assert!(has(&found, "AZP-ASO-001", &format!("{PROD}/k8s/namespaces/team-c/secrets/aso-credential")));
        assert_eq!(count(&found, "AZP-ASO-001"), 1);
        // aso-controller-settings names no identity: no global credential.
        assert_eq!(count(&found, "AZP-ASO-002"), 0);
        assert!(has(
            &found,
            "AZP-ASO-003",
            &format!("{PROD}/k8s/customresourcedefinitions/roleassignments.authorization.azure.com")
        ));
        assert!(has(
            &found,
            "AZP-ASO-004",
            &format!(
                "{PROD}/k8s/namespaces/azureserviceoperator-system/deployments/azureserviceoperator-controller-manager"
            )
        ));
        for none in ["AZP-K8S-001", "AZP-K8S-002", "AZP-K8S-003", "AZP-AZ-001", "AZP-ENTRA-001"] {
            assert_eq!(count(&found, none), 0, "{none}");
        }
    }
}

#[test]
fn demo_tenant() {
    // Patti, a guest, is in Online Shop Developers, which holds a write-everything custom role.
    let assignment =
        "/subscriptions/e7b444b7-311c-4d37-a20b-4a7acad84362/providers/microsoft.authorization/roleassignments/17c89f2a-f351-4468-a3df-38dff7e6e14f";
    for found in [offline("demo"), over_http("demo")] {
        assert!(has(&found, "AZP-AZ-001", assignment), "{found:#?}");
        let f = found.iter().find(|f| f.check_id == "AZP-AZ-001").unwrap();
        assert!(f.remediation.command.as_deref().unwrap().starts_with("az ad group member remove --group 3cfe679f"));
        // Its cluster has local accounts off, a workload-identity ASO credential and no cluster-admin binding;
        // its 365-day client secrets are not long-lived.
        for none in ["AZP-AKS-001", "AZP-ASO-001", "AZP-K8S-001", "AZP-ENTRA-001", "AZP-AZ-002"] {
            assert_eq!(count(&found, none), 0, "{none}");
        }
    }
}

#[test]
fn query_selects_posture_checks_and_fail_on_weighs_them() {
    let r = run(&["scan", "--mock", "aso-workload-identity", "--format", "json", "--query", "azp-aso-001"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["findings"].as_array().unwrap().is_empty(), "naming only posture checks runs no query");
    let checks: Vec<&str> = v["posture"].as_array().unwrap().iter().map(|f| f["check_id"].as_str().unwrap()).collect();
    assert_eq!(checks, ["AZP-ASO-001"]);
    let fail = |args: &[&str]| {
        let mut all = vec!["scan", "--mock", "aso-workload-identity", "-q"];
        all.extend(args);
        run(&all).code
    };
    assert_eq!(fail(&["--query", "AZP-ASO-001", "--fail-on", "high"]), 1);
    assert_eq!(fail(&["--query", "AZP-AKS-003", "--fail-on", "medium"]), 0, "AZP-AKS-003 is low");
    assert_eq!(fail(&["--query", "AZP-AKS-003", "--fail-on", "low"]), 1);
    // A query id alone leaves posture out.
    assert_eq!(fail(&["--query", "can-assign-roles", "--fail-on", "high"]), 0);
    let list = run(&["queries", "list"]);
    assert!(list.stdout.contains("AZP-ASO-004") && list.stdout.contains("(posture)"), "{}", list.stdout);
    let table = run(&["scan", "--mock", "aso-workload-identity", "--query", "AZP-ASO-001"]);
    assert!(
        table.stdout.contains("Posture (1 finding)")
            && table.stdout.contains("$ az ad app federated-credential create")
    );
    assert!(
        table.stdout.starts_with("azpath: no escalation path, 0 standing grants; 1 posture finding: 1 high\n"),
        "{}",
        table.stdout
    );
}
