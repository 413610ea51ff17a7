//! Fix commands are safe to paste into a POSIX shell whatever names the tenant holds (issue 8, item 1).
//!
//! Shell metacharacters are planted in every name that reaches a command, consistently throughout a tenant's
//! snapshot (so the graph keeps its shape). Each printed command must pass `sh -n`, and, run by `sh` with
//! `az`, `kubectl` and `uuidgen` shadowed by functions that only print their arguments (no `PATH`, in an empty
//! directory), must call exactly the commands of the clean tenant, with each planted value inside exactly the
//! argument that held the original one, or be refused (no command, a summary saying why) where the field has
//! a validity rule (`azpath_graph::shell`).

use std::collections::BTreeMap;
use std::process::Command;

use azpath_graph::engine::{analyze, AnalyzeOptions};
use azpath_graph::findings::{Remediation, Report};
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::MockTenant;
use serde_json::{json, Value};

/// `az`, `kubectl` and `uuidgen` as functions: each call prints its words NUL-terminated, then a `\1` word.
const PRELUDE: &str = r#"az() { printf '%s\0' az "$@"; printf '\001\0'; }
kubectl() { printf '%s\0' kubectl "$@"; printf '\001\0'; }
uuidgen() { printf 00000000-0000-4000-8000-0000000000ff; }
"#;

/// The commands `line` runs, each as its words; panics if it does anything else.
fn invocations(line: &str) -> Vec<Vec<String>> {
    let syntax = Command::new("/bin/sh").args(["-n", "-c", line]).output().unwrap();
    assert!(syntax.status.success(), "sh -n rejects {line:?}: {}", String::from_utf8_lossy(&syntax.stderr));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{PRELUDE}{line}"))
        .env_clear()
        .env("PATH", dir.path().join("no-such-bin"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{line:?} ran something else: {stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{line:?} wrote a file");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut calls = vec![Vec::new()];
    for word in text.split('\0') {
        match word {
            "\u{1}" => calls.push(Vec::new()),
            w => calls.last_mut().unwrap().push(w.to_string()),
        }
    }
    assert_eq!(calls.pop(), Some(vec![String::new()]), "{line:?} printed outside a shadowed command");
    for c in &calls {
        assert!(matches!(c[0].as_str(), "az" | "kubectl"), "{line:?} runs {c:?}");
    }
    calls
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.".contains(c)
}

/// `s` with every whole-token occurrence of `from` (not inside a longer name) replaced by `to`.
fn plant_str(s: &str, plants: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    for (from, to) in plants {
        let mut result = String::new();
        let mut rest = out.as_str();
        let mut prev: Option<char> = None;
        while let Some(at) = rest.find(from) {
            let before = rest[..at].chars().last().or(prev);
            let after = rest[at + from.len()..].chars().next();
            result.push_str(&rest[..at]);
            if before.is_some_and(is_name_char) || after.is_some_and(is_name_char) {
                result.push_str(from);
            } else {
                result.push_str(to);
            }
            prev = from.chars().last();
            rest = &rest[at + from.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn plant_json(v: &Value, plants: &[(&str, &str)]) -> Value {
    match v {
        Value::String(s) => Value::String(plant_str(s, plants)),
        Value::Array(a) => Value::Array(a.iter().map(|x| plant_json(x, plants)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (plant_str(k, plants), plant_json(x, plants))).collect())
        }
        other => other.clone(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// An argument as compared: a URL percent-decoded, a JSON text parsed.
fn comparable(arg: &str) -> Value {
    if arg.starts_with("https://") {
        return Value::String(percent_decode(arg));
    }
    if arg.starts_with(['{', '[']) {
        if let Ok(v) = serde_json::from_str::<Value>(arg) {
            return v;
        }
    }
    Value::String(arg.to_string())
}

fn report(snapshot: &Snapshot) -> Report {
    analyze(snapshot, &azpath::queries::builtin(), AnalyzeOptions::default())
}

/// Every remediation of a report (findings, choke points, posture) and of the per-pair search's pairs (`azpath
/// paths`' and the tests' reference) by an identity made of the ids it is about, so a planted value maps the
/// clean key to the planted one.
fn remediations(s: &Snapshot) -> BTreeMap<String, Remediation> {
    let r = report(s);
    let graph = azpath_graph::graph::PrivilegeGraph::build(s);
    let searched: Vec<_> = azpath::queries::builtin()
        .iter()
        .flat_map(|q| azpath_graph::engine::run_query(&graph, q, AnalyzeOptions::default()))
        .collect();
    let findings =
        r.findings.iter().map(|f| (format!("finding {} {} {}", f.principal.id, f.scope.id, f.fix), &f.remediation));
    let chokes = r.choke_points.iter().map(|c| (format!("choke {}", c.id), &c.remediation));
    let pairs =
        searched.iter().map(|f| (format!("pair {} {} {}", f.query_id, f.source.id, f.target.id), &f.remediation));
    let posture = r.posture.iter().map(|f| (format!("{} {}", f.check_id, f.resource.id), &f.remediation));
    findings.chain(chokes).chain(pairs).chain(posture).map(|(k, r)| (k, r.clone())).collect()
}

/// What planting did to the commands: planted values seen in quoted arguments, and refusals.
#[derive(Default)]
struct Seen {
    quoted: BTreeMap<String, usize>,
    refused: BTreeMap<String, usize>,
}

/// Plants `quoted` (values that must come out as one argument) and `refused` (values whose field must make
/// the command be withheld) in `clean` and checks every command against the clean tenant's.
fn check(name: &str, clean: &Value, quoted: &[(&str, &str)], refused: &[(&str, &str)]) -> Seen {
    let all: Vec<(&str, &str)> = quoted.iter().chain(refused).copied().collect();
    let planted = plant_json(clean, &all);
    let parse = |v: &Value| Snapshot::from_json(&v.to_string(), name).unwrap();
    let (before, after) = (remediations(&parse(clean)), remediations(&parse(&planted)));
    let mut seen = Seen::default();
    for (key, fix) in &before {
        let Some(command) = &fix.command else { continue };
        let calls = invocations(command);
        let key = plant_str(key, &all);
        let got = after.get(&key).unwrap_or_else(|| panic!("{name}: no finding {key:?} once planted"));
        let hit = |(from, _): &&(&str, &str)| calls.iter().flatten().any(|a| plant_str(a, &[(from, "\u{0}")]) != *a);
        let refusals: Vec<&(&str, &str)> = refused.iter().filter(hit).collect();
        if !refusals.is_empty() {
            assert_eq!(got.command, None, "{name}: {key} should be refused for {refusals:?}");
            assert!(got.summary.contains("looks malformed or hostile"), "{name}: {}", got.summary);
            for (from, _) in refusals {
                *seen.refused.entry(from.to_string()).or_default() += 1;
            }
            continue;
        }
        let line = got.command.as_deref().unwrap_or_else(|| panic!("{name}: {key} lost its command: {got:?}"));
        let want: Vec<Vec<Value>> =
            calls.iter().map(|c| c.iter().map(|a| plant_json(&comparable(a), quoted)).collect()).collect();
        let have: Vec<Vec<Value>> =
            invocations(line).iter().map(|c| c.iter().map(|a| comparable(a)).collect()).collect();
        assert_eq!(have, want, "{name}: {key}: {line}");
        for (from, _) in quoted.iter().filter(hit) {
            *seen.quoted.entry(from.to_string()).or_default() += 1;
        }
    }
    seen
}

fn tenant(name: &str) -> Value {
    serde_json::to_value(MockTenant::bundled(name).unwrap().to_snapshot()).unwrap()
}

/// Asserts every planted value reached at least one command.
fn all_reached(name: &str, seen: &Seen, quoted: &[(&str, &str)], refused: &[(&str, &str)]) {
    for (from, _) in quoted {
        assert!(seen.quoted.contains_key(*from), "{name}: {from} reached no command: {:?}", seen.quoted);
    }
    for (from, _) in refused {
        assert!(seen.refused.contains_key(*from), "{name}: {from} refused nowhere: {:?}", seen.refused);
    }
}

fn check_all(name: &str, clean: &Value, quoted: &[(&str, &str)], refused: &[(&str, &str)]) {
    let seen = check(name, clean, quoted, &[]);
    all_reached(name, &seen, quoted, &[]);
    let seen = check(name, clean, &[], refused);
    all_reached(name, &seen, &[], refused);
}

#[test]
fn the_prelude_sees_one_argument_per_word_and_each_command_of_a_chain() {
    let calls = invocations("az a 'b c' \"$(uuidgen)\" && kubectl -n x");
    assert_eq!(calls, [vec!["az", "a", "b c", "00000000-0000-4000-8000-0000000000ff"], vec!["kubectl", "-n", "x"]]);
    assert_eq!(
        plant_str("id-orders-api orders-api/x orders-api-w", &[("orders-api", "Z")]),
        "id-orders-api Z/x orders-api-w"
    );
}

#[test]
fn aso_tenant_names_never_escape_their_argument() {
    let quoted = [
        // Resource group in the ASO `create … && delete` chain, RBAC names, identity binding, FIC and identity
        // names, the cluster (context and --cluster-name), the ASO credential's client id.
        ("team-a-rg", "team-a-rg;touch${ifs}pwned;"),
        ("dana-ops", "dana-ops;touch${ifs}pwned;"),
        ("pat-deploys", "pat deploys `touch pwned`"),
        ("platform-aso", "platform-aso$(touch pwned)"),
        ("ibreports", "ibreports|touch pwned&"),
        ("rg-identities", "rg-identities>pwned"),
        ("id-orders-api", "id-orders-api'q\"x"),
        ("orders-api", "orders-api\ntouch pwned"),
        ("prod", "prod *"),
        ("rg-aks", "rg-aks ${ifs}x"),
        ("2f6d9b3a-5e17-4c82-b4a9-1e7c3f8d6a05", "2f6d9b3a-5e17-4c82-b4a9-1e7c3f8d6a05;id"),
    ];
    let refused = [
        // A namespace that is no DNS label, a role assignment id that is no GUID, a CRD name that is no DNS
        // subdomain.
        ("team-c", "team-c;touch pwned"),
        ("azureserviceoperator-system", "azureserviceoperator-system$(touch pwned)"),
        ("0d000001-4c1e-4a7b-9f2d-3e8b6a1c5d70", "0d000001-4c1e-4a7b-9f2d-3e8b6a1c5d70;id"),
        ("roleassignments.authorization.azure.com", "roleassignments.authorization.azure.com;id"),
    ];
    check_all("aso-workload-identity", &tenant("aso-workload-identity"), &quoted, &refused);
}

#[test]
fn pim_and_management_group_scopes_stay_one_url() {
    let quoted = [("northwind-production", "northwind-production;touch pwned #x?y")];
    check_all("pim-eligible", &tenant("pim-eligible"), &quoted, &[]);
    let quoted = [("contoso-landingzones", "contoso-landingzones$(touch pwned) 'x'")];
    // Entra object ids are GUIDs: a group or member id that is not one gets no command.
    let refused = [
        ("3cfe679f-896d-4f00-8047-45cd593b93d6", "3cfe679f-896d-4f00-8047-45cd593b93d6`id`"),
        ("a640816c-06eb-4d96-997c-540231a127e9", "a640816c-06eb-4d96-997c-540231a127e9;id"),
    ];
    check_all("demo", &tenant("demo"), &quoted, &refused);
}

#[test]
fn pod_identity_and_deny_tenants_quote_their_names() {
    let quoted = [
        ("ops-ci-deployer", "ops-ci-deployer&&touch pwned"),
        ("id-deployer", "id-deployer;x"),
        ("bo-runs-jobs", "bo-runs-jobs>pwned"),
        ("legacy", "legacy\nid"),
    ];
    let refused = [("batch", "batch;id")];
    check_all("aks-pod-identity", &tenant("aks-pod-identity"), &quoted, &refused);
    let quoted = [("24ea81bb-214d-48be-848e-0b4656efd0e4", "24ea81bb-214d-48be-848e-0b4656efd0e4 *")];
    check_all("deny-assignments", &tenant("deny-assignments"), &quoted, &[]);
}

/// A snapshot for the posture checks the bundled tenants do not reach: ClusterRoleBindings (cluster-admin and
/// wildcard), the `default` service account bound and federated, AKS without Kubernetes RBAC and with a
/// service principal, app and service principal credentials, and guests holding Owner directly, through a
/// group and PIM-eligible.
fn posture_tenant() -> Value {
    const SUB: &str = "5f3c2a91-7d44-4b8e-9a61-2c0d8e7f4b13";
    const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    let sub = format!("/subscriptions/{SUB}");
    let cluster = format!("{sub}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/prod");
    let issuer = "https://eastus.oic.prod-aks.azure.com/t/c";
    let owner = |n: u32, principal: &str, kind: &str| {
        json!({"id": format!("{sub}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-{n:012}"),
               "properties": {"scope": sub, "principalId": principal, "principalType": kind,
                              "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")}})
    };
    let guest = |n: u32| json!({"id": format!("44444444-0000-4000-8000-{n:012}"), "displayName": format!("guest{n}"), "userType": "Guest"});
    let credential =
        |key: &str, start: &str, end: &str| json!({"keyId": key, "startDateTime": start, "endDateTime": end});
    let crb = |name: &str, role: &str, subject: Value| json!({"metadata": {"name": name}, "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": [subject]});
    let kube = json!({
        "cluster": cluster, "source": "test",
        "namespaces": [{"metadata": {"name": "team-a"}}, {"metadata": {"name": "team-b"}}],
        "clusterRoles": [{"metadata": {"name": "god"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}],
        "clusterRoleBindings": [
            crb("platform-admins", "cluster-admin", json!({"kind": "User", "name": "alice@contoso.com"})),
            crb("god-mode", "god", json!({"kind": "User", "name": "erin@contoso.com"}))
        ],
        "roleBindings": [{"metadata": {"name": "default-edit", "namespace": "team-a"}, "roleRef": {"kind": "ClusterRole", "name": "edit"},
                          "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "team-a"}]}]
    });
    json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2026-11-24T16:00:00Z"},
        "azure": {
            "subscriptions": [{"id": sub, "subscriptionId": SUB, "displayName": "Prod"}],
            "managedClusters": [{"id": cluster, "name": "prod", "properties": {
                "enableRBAC": false, "disableLocalAccounts": true,
                "aadProfile": {"managed": true, "enableAzureRBAC": true},
                "oidcIssuerProfile": {"enabled": true, "issuerURL": issuer},
                "servicePrincipalProfile": {"clientId": "0a1b2c3d-0000-4000-8000-000000000009"}}}],
            "federatedIdentityCredentials": [{
                "id": format!("{sub}/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-batch/federatedIdentityCredentials/default-sa"),
                "name": "default-sa",
                "properties": {"issuer": issuer, "subject": "system:serviceaccount:team-b:default", "audiences": ["api://AzureADTokenExchange"]}}],
            "roleAssignments": [owner(1, "44444444-0000-4000-8000-000000000001", "User"), owner(2, "66666666-0000-4000-8000-000000000001", "Group")],
            "roleEligibilityScheduleInstances": [{"id": format!("{sub}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/e1"),
                "properties": {"scope": sub, "principalId": "44444444-0000-4000-8000-000000000003", "principalType": "User",
                               "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")}}]
        },
        "entra": {
            "users": [guest(1), guest(2), guest(3)],
            "groups": [{"id": "66666666-0000-4000-8000-000000000001", "displayName": "Partners"}],
            "groupMembers": [{"groupId": "66666666-0000-4000-8000-000000000001",
                              "members": [{"@odata.type": "#microsoft.graph.user", "id": "44444444-0000-4000-8000-000000000002"}]}],
            "applications": [{"id": "11111111-0000-4000-8000-000000000001", "appId": "app-client", "displayName": "two-year",
                "passwordCredentials": [credential("k-long", "2025-06-01T10:00:00Z", "2027-06-01T10:00:00Z"), credential("k-due", "2026-06-01T00:00:00Z", "2026-12-04T00:00:00Z")],
                "keyCredentials": [credential("c-old", "2024-01-01T00:00:00Z", "2026-11-01T00:00:00Z")]}]
        },
        "kubernetes": [kube]
    })
}

#[test]
fn posture_commands_quote_or_refuse_every_name() {
    let clean = posture_tenant();
    let found = remediations(&Snapshot::from_json(&clean.to_string(), "posture").unwrap());
    for check in ["AZP-K8S-001", "AZP-K8S-002", "AZP-K8S-003", "AZP-AKS-004", "AZP-AKS-005", "AZP-ENTRA-001"] {
        assert!(found.keys().any(|k| k.starts_with(check)), "{check} not reached: {:#?}", found.keys());
    }
    for check in ["AZP-ENTRA-002", "AZP-ENTRA-003", "AZP-AZ-001"] {
        assert!(found.keys().any(|k| k.starts_with(check)), "{check} not reached: {:#?}", found.keys());
    }
    let quoted = [
        // ClusterRoleBinding names (system:… names are valid, so they are quoted),
        // the resource group, FIC and identity names, the application's object id and credential key ids.
        ("platform-admins", "platform-admins;touch${ifs}pwned;"),
        ("god-mode", "god-mode:$(touch pwned)"),
        ("default-edit", "default-edit `id`"),
        ("rg-aks", "rg-aks&id&"),
        ("default-sa", "default-sa>pwned"),
        ("id-batch", "id-batch\nid"),
        ("identities", "identities'\"*"),
        ("11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000001;id"),
        ("k-long", "k-long ${ifs}"),
        ("c-old", "c-old$(id)"),
    ];
    let refused = [
        // A namespace that is no DNS label; a role assignment id and guests' ids that are no GUID.
        ("team-a", "team-a;id"),
        ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001;id"),
        ("44444444-0000-4000-8000-000000000002", "44444444-0000-4000-8000-000000000002`id`"),
        ("44444444-0000-4000-8000-000000000003", "44444444-0000-4000-8000-000000000003$(id)"),
    ];
    check_all("posture", &clean, &quoted, &refused);
}
