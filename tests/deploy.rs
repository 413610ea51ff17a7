//! `deploy/`: every Kubernetes manifest parses as the object it claims (k8s-openapi types, no field the type does
//! not know), the RBAC is read-only with Secrets only where ASO credentials are looked for, the Azure reader
//! role has read actions only, the ConfigMap's azpath.toml is a valid configuration, the GitHub workflow
//! uploads the SARIF it writes, and the Dockerfile builds locked and runs as non-root.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy().join(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

/// The YAML documents of a text, as JSON values (empty documents skipped).
fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|doc| serde_norway::Value::deserialize(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).expect("YAML as JSON"))
        .collect()
}

/// A document as the typed Kubernetes object, refusing any field the type does not have: the object is
/// serialized back and must equal the document (a misspelt or misplaced field would be dropped).
fn typed<T: DeserializeOwned + serde::Serialize>(doc: &Value) -> Result<T, String> {
    let object: T = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&object).map_err(|e| e.to_string())?;
    match first_difference(doc, &back, "") {
        None => Ok(object),
        Some(at) => Err(format!("field `{at}` is not part of the type or changed on the way")),
    }
}

/// The first path where `a` has something `b` does not say the same.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.iter().find_map(|(k, v)| match y.get(k) {
                Some(w) => first_difference(v, w, &format!("{at}.{k}")),
                // k8s-openapi leaves empty lists and maps out.
                None if v.as_array().is_some_and(Vec::is_empty) || v.as_object().is_some_and(|m| m.is_empty()) => None,
                None => Some(format!("{at}.{k}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (v, w))| first_difference(v, w, &format!("{at}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(at.to_string()),
    }
}

/// Every manifest document of deploy/kubernetes, with the file it is in.
fn manifests() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy().join("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for doc in documents(&std::fs::read_to_string(&f).unwrap()) {
            all.push((name.clone(), doc));
        }
    }
    all
}

fn of_kind<T: DeserializeOwned + serde::Serialize>(kind: &str) -> Vec<T> {
    manifests().into_iter().filter(|(_, d)| d["kind"] == kind).map(|(_, d)| typed(&d).unwrap()).collect()
}

/// Checks one document against the type its `kind` names.
fn check_document(doc: &Value) -> Result<(), String> {
    match doc["kind"].as_str().unwrap_or_default() {
        "Namespace" => typed::<Namespace>(doc).map(drop),
        "ServiceAccount" => typed::<ServiceAccount>(doc).map(drop),
        "ConfigMap" => typed::<ConfigMap>(doc).map(drop),
        "PersistentVolumeClaim" => typed::<PersistentVolumeClaim>(doc).map(drop),
        "ClusterRole" => typed::<ClusterRole>(doc).map(drop),
        "ClusterRoleBinding" => typed::<ClusterRoleBinding>(doc).map(drop),
        "RoleBinding" => typed::<RoleBinding>(doc).map(drop),
        "CronJob" => typed::<CronJob>(doc).map(drop),
        other => Err(format!("unexpected kind `{other}`")),
    }
}

#[test]
fn every_manifest_parses_as_the_kubernetes_object_it_claims() {
    let all = manifests();
    for (file, doc) in &all {
        if let Err(e) = check_document(doc) {
            panic!("deploy/kubernetes/{file}: {} {}: {e}", doc["kind"], doc["metadata"]["name"]);
        }
    }
    let kinds: BTreeSet<&str> = all.iter().filter_map(|(_, d)| d["kind"].as_str()).collect();
    for wanted in
        ["CronJob", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "PersistentVolumeClaim"]
    {
        assert!(kinds.contains(wanted), "no {wanted} in deploy/kubernetes");
    }
}

#[test]
fn a_misspelt_field_or_a_wrong_kind_is_caught() {
    let cronjob = manifests().into_iter().find(|(_, d)| d["kind"] == "CronJob").unwrap().1;
    assert!(check_document(&cronjob).is_ok());
    let mut typo = cronjob.clone();
    let schedule = typo["spec"]["schedule"].take();
    typo["spec"].as_object_mut().unwrap().remove("schedule");
    typo["spec"]["schedul"] = schedule;
    assert!(check_document(&typo).unwrap_err().contains("schedul"));
    let mut misplaced = cronjob.clone();
    misplaced["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAcountName"] = "azpath".into();
    assert!(check_document(&misplaced).is_err());
    let mut kind = cronjob;
    kind["apiVersion"] = "batch/v1beta1".into();
    assert!(check_document(&kind).is_err(), "apiVersion is checked");
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let k = &documents(&read("kubernetes/kustomization.yaml"))[0];
    let listed: BTreeSet<String> =
        k["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
    let files: BTreeSet<String> = manifests().into_iter().map(|(f, _)| f).collect();
    assert_eq!(listed, files);
}

#[test]
fn the_cronjob_runs_as_the_workload_identity_service_account_with_config_and_volume() {
    let [job] = &of_kind::<CronJob>("CronJob")[..] else { panic!("one CronJob") };
    let [sa] = &of_kind::<ServiceAccount>("ServiceAccount")[..] else { panic!("one ServiceAccount") };
    let annotations = sa.metadata.annotations.clone().unwrap_or_default();
    assert!(annotations.contains_key("azure.workload.identity/client-id"));
    let template = &job.spec.job_template.spec.as_ref().unwrap().template;
    let labels = template.metadata.as_ref().unwrap().labels.clone().unwrap_or_default();
    assert_eq!(labels.get("azure.workload.identity/use").map(String::as_str), Some("true"));
    let pod = template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name, sa.metadata.name);
    assert_eq!(job.metadata.namespace, sa.metadata.namespace);
    assert_eq!(pod.security_context.as_ref().unwrap().run_as_non_root, Some(true));
    let volumes = pod.volumes.clone().unwrap_or_default();
    let config = volumes.iter().find_map(|v| v.config_map.as_ref()).unwrap();
    let [map] = &of_kind::<ConfigMap>("ConfigMap")[..] else { panic!("one ConfigMap") };
    assert_eq!(Some(config.name.clone()), map.metadata.name);
    let claim = volumes.iter().find_map(|v| v.persistent_volume_claim.as_ref()).unwrap();
    let [pvc] = &of_kind::<PersistentVolumeClaim>("PersistentVolumeClaim")[..] else { panic!("one PVC") };
    assert_eq!(Some(claim.claim_name.clone()), pvc.metadata.name);
    let script = pod.containers[0].args.clone().unwrap_or_default().join(" ");
    assert!(script.contains("azpath --config /etc/azpath/azpath.toml scan"), "{script}");
    assert!(script.contains("--kube-context \"in-cluster="), "{script}");
}

#[test]
fn the_configmap_holds_a_valid_azpath_toml_and_kubeconfig() {
    let [map] = &of_kind::<ConfigMap>("ConfigMap")[..] else { panic!("one ConfigMap") };
    let data = map.data.clone().unwrap();
    let toml = &data["azpath.toml"];
    let config = azpath::config::parse(toml, Path::new("azpath.toml")).unwrap();
    assert_eq!(config.defaults.fail_on.as_deref(), Some("high"));
    // Negative: the same parser refuses an unknown key.
    assert!(azpath::config::parse(&format!("{toml}\nno-such-key = 1\n"), Path::new("azpath.toml")).is_err());
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&data["kubeconfig"]).unwrap();
    assert_eq!(kubeconfig.current_context.as_deref(), Some("in-cluster"));
    let user = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap();
    assert!(user.token_file.is_some() && user.token.is_none(), "the token is read from the mounted file, never stored");
}

/// Verbs a rule grants beyond reading.
fn write_verbs(rule: &PolicyRule) -> Vec<String> {
    rule.verbs.iter().filter(|v| !["get", "list", "watch"].contains(&v.as_str())).cloned().collect()
}

/// Whether a rule reaches Secrets (by name or by a wildcard over the core group).
fn grants_secrets(rule: &PolicyRule) -> bool {
    let core = rule.api_groups.as_ref().is_some_and(|g| g.iter().any(|g| g.is_empty() || g == "*"));
    let resources = rule.resources.clone().unwrap_or_default();
    core && resources.iter().any(|r| r == "secrets" || r == "*")
}

#[test]
fn the_cluster_roles_only_read_and_secrets_only_in_aso_namespaces() {
    let roles = of_kind::<ClusterRole>("ClusterRole");
    for role in &roles {
        for rule in role.rules.clone().unwrap_or_default() {
            assert!(write_verbs(&rule).is_empty(), "{:?} grants {:?}", role.metadata.name, rule.verbs);
            let groups = rule.api_groups.clone().unwrap_or_default();
            assert!(!groups.iter().any(|g| g == "*"), "a wildcard API group");
            if rule.resources.clone().unwrap_or_default().iter().any(|r| r == "*") {
                assert!(groups.iter().all(|g| g.ends_with(".azure.com")), "`*` resources outside ASO: {groups:?}");
            }
        }
    }
    let secret_roles: BTreeSet<String> = roles
        .iter()
        .filter(|r| r.rules.clone().unwrap_or_default().iter().any(grants_secrets))
        .map(|r| r.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(secret_roles, BTreeSet::from(["azpath-aso-secrets-reader".to_string()]));
    for binding in of_kind::<ClusterRoleBinding>("ClusterRoleBinding") {
        assert!(!secret_roles.contains(&binding.role_ref.name), "Secrets bound cluster-wide");
    }
    let namespaces: BTreeSet<String> = of_kind::<RoleBinding>("RoleBinding")
        .into_iter()
        .filter(|b| secret_roles.contains(&b.role_ref.name))
        .map(|b| b.metadata.namespace.unwrap())
        .collect();
    assert!(namespaces.contains("azureserviceoperator-system"), "ASO's own settings Secret: {namespaces:?}");
    // Negative: the checks see a write verb and a Secrets rule.
    let bad = PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["secrets".into()]),
        verbs: vec!["get".into(), "create".into()],
        ..Default::default()
    };
    assert_eq!(write_verbs(&bad), ["create"]);
    assert!(grants_secrets(&bad));
    let pods = PolicyRule { resources: Some(vec!["pods".into()]), ..bad };
    assert!(!grants_secrets(&pods));
}

#[test]
fn the_reader_cluster_role_lets_the_live_collector_list_what_it_lists() {
    let roles = of_kind::<ClusterRole>("ClusterRole");
    let reader = roles.iter().find(|r| r.metadata.name.as_deref() == Some("azpath-reader")).unwrap();
    let rules = reader.rules.clone().unwrap_or_default();
    let lists = azpath::collect::kube_live::CORE_LISTS.iter().chain([&azpath::collect::kube_live::CRD_LIST]);
    for (api, path) in lists {
        if *api == "kube.secrets" {
            continue; // bound per ASO namespace
        }
        // `/api/v1/<res>` or `/apis/<group>/<version>/<res>`
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (group, resource) = match parts.as_slice() {
            ["api", _, res] => ("", *res),
            ["apis", group, _, res] => (*group, *res),
            _ => panic!("{path}"),
        };
        let allowed = rules.iter().any(|r| {
            r.api_groups.clone().unwrap_or_default().iter().any(|g| g == group)
                && r.resources.clone().unwrap_or_default().iter().any(|x| x == resource || x == "*")
                && r.verbs.iter().any(|v| v == "list")
        });
        assert!(allowed, "azpath-reader cannot list {path}");
    }
}

/// What is wrong with a custom role as an "azpath reader": any action that is not a read, a wildcard, or a
/// data action.
fn role_problems(role: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for action in role["Actions"].as_array().unwrap() {
        let a = action.as_str().unwrap().to_ascii_lowercase();
        if !a.ends_with("/read") || a.contains('*') {
            problems.push(format!("action {a}"));
        }
    }
    for key in ["DataActions", "NotDataActions"] {
        if role[key].as_array().is_some_and(|v| !v.is_empty()) {
            problems.push(format!("{key} not empty"));
        }
    }
    problems
}

#[test]
fn the_reader_role_reads_and_nothing_else() {
    let role: Value = serde_json::from_str(&read("azpath-reader-role.json")).unwrap();
    assert_eq!(role["IsCustom"], true);
    assert!(role_problems(&role).is_empty(), "{:?}", role_problems(&role));
    // Negative: the check sees writes, deletes, actions, wildcards and data actions.
    let bad = serde_json::json!({
        "Actions": ["Microsoft.Authorization/roleAssignments/write", "Microsoft.Resources/subscriptions/delete",
                    "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action", "*/read"],
        "DataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
    });
    assert_eq!(role_problems(&bad).len(), 5, "{:?}", role_problems(&bad));
}

#[test]
fn the_reader_role_covers_every_arm_listing_of_the_collector() {
    let role: Value = serde_json::from_str(&read("azpath-reader-role.json")).unwrap();
    let actions: BTreeSet<String> =
        role["Actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_ascii_lowercase()).collect();
    let collection = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/collection.md")).unwrap();
    let types = regex::Regex::new(r"providers/(Microsoft\.[A-Za-z]+/[A-Za-z]+)").unwrap();
    let mut seen = 0;
    for line in collection.lines().filter(|l| l.starts_with("| `arm.")) {
        for m in types.captures_iter(line) {
            let wanted = format!("{}/read", m[1].to_ascii_lowercase());
            assert!(actions.contains(&wanted), "docs/collection.md reads {} but the role lacks {wanted}", &m[1]);
            seen += 1;
        }
    }
    assert!(seen >= 8, "the docs table was not found");
    for wanted in ["microsoft.resources/subscriptions/read", "microsoft.resources/subscriptions/resourcegroups/read"] {
        assert!(actions.contains(wanted), "{wanted}");
    }
}

#[test]
fn the_workflow_scans_on_a_schedule_with_oidc_and_uploads_its_sarif() {
    let wf = &documents(&read("github-actions/azpath.yml"))[0];
    assert!(!wf["on"]["schedule"].as_array().unwrap().is_empty(), "scheduled");
    assert_eq!(wf["permissions"]["id-token"], "write");
    assert_eq!(wf["permissions"]["security-events"], "write");
    let steps = wf["jobs"]["scan"]["steps"].as_array().unwrap();
    let uses = |prefix: &str| steps.iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)));
    let login = uses("azure/login@").expect("azure/login");
    assert!(login["with"].get("client-secret").is_none() && login["with"].get("creds").is_none(), "OIDC, no secret");
    let upload = uses("github/codeql-action/upload-sarif@").expect("upload-sarif");
    let sarif = upload["with"]["sarif_file"].as_str().unwrap();
    let scan = steps.iter().find_map(|s| s["run"].as_str().filter(|r| r.contains("azpath scan"))).unwrap();
    assert!(scan.contains("--format sarif") && scan.contains(&format!("--output {sarif}")), "{scan}");
}

#[test]
fn the_dockerfile_builds_locked_and_runs_as_non_root() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].contains(" AS build"));
    assert!(text.contains("cargo build --release --locked"));
    assert!(text.contains("COPY --from=build"));
    let user = text.lines().rev().find(|l| l.starts_with("USER ")).expect("a USER line");
    let who = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(who != "root" && who != "0", "{user}");
}
