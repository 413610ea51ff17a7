//! Posture checks, each with a positive and a negative case (and decoys beside them), on inputs in the shapes
//! the APIs return: ARM `managedClusters` bodies, Graph objects, and `kubectl get … -o json` lists read through
//! the same parser as `--kube-dump`.

use std::path::Path;

use azpath_graph::engine::{analyze, AnalyzeOptions};
use azpath_graph::findings::{PostureFinding, Report, REPORT_SCHEMA_VERSION};
use azpath_graph::kube_dump;
use azpath_graph::model::Severity;
use azpath_graph::posture;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "5f3c2a91-7d44-4b8e-9a61-2c0d8e7f4b13";
const TENANT: &str = "8d1e6c3a-2b5f-4e97-a0c4-6f9b3d2e1a57";
const ISSUER: &str =
    "https://eastus.oic.prod-aks.azure.com/8d1e6c3a-2b5f-4e97-a0c4-6f9b3d2e1a57/3f9c2e71-5a8d-4b46-9e1f-7c3a6d2b0e58/";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const RBAC_ADMIN: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
const PLANTED: &str = "Zq8~PLANTED-POSTURE-SECRET";

fn cluster_id(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/{name}")
}

/// A `managedClusters` GET body (api-version 2025-10-01) with every identity setting done right; `edit`
/// changes `properties` (a `null` removes a key) and may replace `identity`.
fn aks(name: &str, edit: Value, identity: Option<Value>) -> Value {
    let mut props = json!({
        "provisioningState": "Succeeded",
        "kubernetesVersion": "1.31.2",
        "dnsPrefix": name,
        "fqdn": format!("{name}-fab1c2d3.hcp.eastus.azmk8s.io"),
        "agentPoolProfiles": [{"name": "nodepool1", "count": 3, "vmSize": "Standard_DS2_v2", "osType": "Linux", "mode": "System"}],
        "enableRBAC": true,
        "disableLocalAccounts": true,
        "nodeResourceGroup": format!("MC_rg-aks_{name}_eastus"),
        "aadProfile": {"managed": true, "enableAzureRBAC": true, "adminGroupObjectIDs": [], "tenantID": TENANT},
        "oidcIssuerProfile": {"enabled": true, "issuerURL": ISSUER},
        "securityProfile": {"workloadIdentity": {"enabled": true}},
        "servicePrincipalProfile": {"clientId": "msi"},
        "identityProfile": {"kubeletidentity": {
            "resourceId": format!("/subscriptions/{SUB}/resourcegroups/MC_rg-aks_{name}_eastus/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool"),
            "clientId": "0a1b2c3d-0000-4000-8000-000000000001", "objectId": "0a1b2c3d-0000-4000-8000-000000000002"}}
    });
    for (k, v) in edit.as_object().unwrap() {
        if v.is_null() {
            props.as_object_mut().unwrap().remove(k);
        } else {
            props[k] = v.clone();
        }
    }
    json!({
        "id": cluster_id(name),
        "name": name,
        "type": "Microsoft.ContainerService/managedClusters",
        "location": "eastus",
        "sku": {"name": "Base", "tier": "Free"},
        "identity": identity.unwrap_or_else(|| json!({"type": "SystemAssigned", "principalId": "f1c3e5a7-9b2d-4f68-8e0a-2c4d6f8b0e13", "tenantId": TENANT})),
        "properties": props
    })
}

/// A snapshot from ARM/Graph records plus kubectl dumps (`v1 List` JSON) of named clusters.
fn snapshot(collected_at: &str, azure: Value, entra: Value, dumps: &[(&str, Value)]) -> Snapshot {
    let text = json!({"schema_version": 1, "metadata": {"collected_at": collected_at}, "azure": azure, "entra": entra});
    let mut snap = Snapshot::from_json(&text.to_string(), "test").unwrap();
    let clusters = dumps
        .iter()
        .map(|(cluster, items)| {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
            kube_dump::parse(&list.to_string(), "dump.json", cluster).unwrap()
        })
        .collect();
    kube_dump::attach(&mut snap, clusters);
    snap
}

fn clusters(list: Vec<Value>) -> Snapshot {
    snapshot("2026-11-24T16:00:00Z", json!({"managedClusters": list}), json!({}), &[])
}

fn run(s: &Snapshot) -> Vec<PostureFinding> {
    posture::run(s)
}

fn of<'a>(found: &'a [PostureFinding], check: &str) -> Vec<&'a PostureFinding> {
    found.iter().filter(|f| f.check_id == check).collect()
}

/// The one finding of `check` about a resource whose id ends with `suffix`.
fn one<'a>(found: &'a [PostureFinding], check: &str, suffix: &str) -> &'a PostureFinding {
    let hits: Vec<_> = of(found, check)
        .into_iter()
        .filter(|f| f.resource.id.ends_with(&suffix.to_lowercase()) || f.resource.id.ends_with(suffix))
        .collect();
    assert_eq!(hits.len(), 1, "{check} {suffix}: {found:#?}");
    hits[0]
}

fn none(found: &[PostureFinding], check: &str) {
    assert!(of(found, check).is_empty(), "{check} unexpected: {:#?}", of(found, check));
}

fn command(f: &PostureFinding) -> &str {
    f.remediation.command.as_deref().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------
// AKS
// ---------------------------------------------------------------------------------------------------------

#[test]
fn a_well_configured_cluster_has_no_posture_findings() {
    assert!(run(&clusters(vec![aks("good", json!({}), None)])).is_empty());
}

#[test]
fn aks_001_local_accounts_enabled() {
    let s = clusters(vec![
        aks("on", json!({"disableLocalAccounts": false}), None),
        aks("unset", json!({"disableLocalAccounts": null}), None),
        aks("off", json!({}), None),
    ]);
    let found = run(&s);
    let f = one(&found, "AZP-AKS-001", "/managedclusters/on");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.resource.kind, "ManagedCluster");
    assert_eq!(f.resource.id, cluster_id("on").to_lowercase());
    assert_eq!(f.evidence, ["properties.disableLocalAccounts = false"]);
    assert_eq!(
        command(f),
        format!("az aks update --subscription {SUB} --resource-group rg-aks --name on --disable-local-accounts")
    );
    assert!(one(&found, "AZP-AKS-001", "/managedclusters/unset").evidence[0].contains("not set"));
    assert_eq!(of(&found, "AZP-AKS-001").len(), 2, "disableLocalAccounts=true is fine");
}

#[test]
fn aks_002_and_003_tell_entra_integration_off_from_azure_rbac_off() {
    let s = clusters(vec![
        aks("no-aad", json!({"aadProfile": null, "disableLocalAccounts": false}), None),
        aks(
            "k8s-rbac-only",
            json!({"aadProfile": {"managed": true, "enableAzureRBAC": false, "tenantID": TENANT}}),
            None,
        ),
        aks("rbac-unset", json!({"aadProfile": {"managed": true, "tenantID": TENANT}}), None),
        aks("good", json!({}), None),
    ]);
    let found = run(&s);
    let f = one(&found, "AZP-AKS-002", "/no-aad");
    assert_eq!(f.evidence, ["properties.aadProfile absent"]);
    assert!(command(f).contains("--enable-aad --aad-admin-group-object-ids"));
    assert_eq!(of(&found, "AZP-AKS-002").len(), 1);
    // Without Entra the local-accounts fix must enable Entra too (disabling local accounts needs it).
    assert!(command(one(&found, "AZP-AKS-001", "/no-aad")).contains("--enable-aad"));
    let f = one(&found, "AZP-AKS-003", "/k8s-rbac-only");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.evidence, ["properties.aadProfile.enableAzureRBAC = false"]);
    assert!(command(f).ends_with("--enable-azure-rbac"));
    one(&found, "AZP-AKS-003", "/rbac-unset");
    assert_eq!(of(&found, "AZP-AKS-003").len(), 2, "not for the cluster without Entra (that is AKS-002)");
}

#[test]
fn aks_004_kubernetes_rbac_disabled() {
    let s = clusters(vec![
        aks("norbac", json!({"enableRBAC": false}), None),
        aks("unset", json!({"enableRBAC": null}), None),
        aks("good", json!({}), None),
    ]);
    let found = run(&s);
    let f = one(&found, "AZP-AKS-004", "/norbac");
    assert_eq!(f.severity, Severity::Critical);
    assert!(command(f).starts_with("az aks create") && command(f).contains("--name norbac-rbac"));
    assert_eq!(of(&found, "AZP-AKS-004").len(), 1, "an absent enableRBAC is the default (on)");
}

#[test]
fn aks_005_service_principal_cluster_identity() {
    let sp = "4f9b2c71-0d3e-4a58-9b6c-2e7f1a8d5c30";
    let s = snapshot(
        "2026-11-24T16:00:00Z",
        json!({"managedClusters": [
            // As the API returns an SP cluster: no identity block, a real client id.
            {"id": cluster_id("legacy"), "name": "legacy", "type": "Microsoft.ContainerService/managedClusters", "location": "eastus",
             "properties": {"enableRBAC": true, "disableLocalAccounts": true, "servicePrincipalProfile": {"clientId": sp},
                            "aadProfile": {"managed": true, "enableAzureRBAC": true}}},
            aks("msi", json!({}), None),
            // A user-assigned cluster identity is a managed identity even beside a stale client id.
            aks("uami", json!({"servicePrincipalProfile": {"clientId": sp}}), Some(json!({"type": "UserAssigned",
                "userAssignedIdentities": {"/subscriptions/x/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/c": {"principalId": "p", "clientId": "c"}}}))),
        ]}),
        json!({"applications": [{"id": "9a0b1c2d-0000-4000-8000-00000000000a", "appId": sp, "displayName": "aks-legacy-sp"}]}),
        &[],
    );
    let found = run(&s);
    let f = one(&found, "AZP-AKS-005", "/legacy");
    assert_eq!(f.evidence[0], format!("properties.servicePrincipalProfile.clientId = {sp}"));
    assert_eq!(f.evidence[1], "identity absent");
    assert!(f.evidence[2].contains("aks-legacy-sp"));
    assert!(command(f).ends_with("--name legacy --enable-managed-identity"));
    assert_eq!(of(&found, "AZP-AKS-005").len(), 1);
}

#[test]
fn aks_006_pod_managed_identity() {
    let pod = |enabled: bool| {
        json!({"enabled": enabled, "allowNetworkPluginKubenet": false, "userAssignedIdentities": [
            {"name": "orders", "namespace": "team-b", "bindingSelector": "orders",
             "identity": {"resourceId": format!("/subscriptions/{SUB}/resourceGroups/id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders"),
                          "clientId": "c", "objectId": "o"}, "provisioningState": "Assigned"}]})
    };
    let s = clusters(vec![
        aks(
            "legacy",
            json!({"podIdentityProfile": pod(true), "oidcIssuerProfile": {"enabled": false}, "securityProfile": null}),
            None,
        ),
        aks("migrating", json!({"podIdentityProfile": pod(true)}), None),
        aks("disabled", json!({"podIdentityProfile": pod(false)}), None),
        aks("good", json!({}), None),
    ]);
    let found = run(&s);
    let f = one(&found, "AZP-AKS-006", "/legacy");
    assert!(f.detail.contains("OIDC issuer or workload identity is off"), "{}", f.detail);
    assert!(f.evidence.contains(&"properties.securityProfile.workloadIdentity.enabled = false".to_string()));
    assert!(f.evidence.iter().any(|e| e.starts_with("pod identity team-b/orders → ")));
    assert!(command(f).ends_with("--enable-oidc-issuer --enable-workload-identity"));
    assert!(command(one(&found, "AZP-AKS-006", "/migrating")).ends_with("--disable-pod-identity"));
    assert_eq!(of(&found, "AZP-AKS-006").len(), 2);
}

#[test]
fn aks_006_standalone_aad_pod_identity_in_the_cluster() {
    let objects = json!([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finance"}},
        {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "etl-sp", "namespace": "finance"},
         "spec": {"type": 1, "tenantID": TENANT, "clientID": "510adc27-35aa-450a-ad7a-f233a7ffb088",
                  "clientPassword": {"name": "etl-sp-credentials", "namespace": "finance"}}},
        {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding", "metadata": {"name": "etl-sp-binding", "namespace": "finance"},
         "spec": {"azureIdentity": "etl-sp", "selector": "etl"}}
    ]);
    let s = snapshot(
        "2026-11-24T16:00:00Z",
        json!({"managedClusters": [aks("legacy", json!({"oidcIssuerProfile": null, "securityProfile": null}), None), aks("good", json!({}), None)]}),
        json!({}),
        &[
            ("legacy", objects),
            ("good", json!([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finance"}}])),
        ],
    );
    let found = run(&s);
    assert_eq!(of(&found, "AZP-AKS-006").len(), 1, "{found:#?}");
    let f = one(&found, "AZP-AKS-006", "/managedclusters/legacy");
    assert!(f.detail.contains("aad-pod-identity (1 binding(s))"), "{}", f.detail);
    assert!(
        f.evidence.contains(
            &"AzureIdentity finance/etl-sp: service principal with a client secret (Secret finance/etl-sp-credentials)"
                .to_string()
        ),
        "{:?}",
        f.evidence
    );
    assert!(command(f).ends_with("--name legacy --enable-oidc-issuer --enable-workload-identity"));
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes objects (kubectl JSON) for ASO and RBAC
// ---------------------------------------------------------------------------------------------------------

fn meta(name: &str, ns: Option<&str>) -> Value {
    let mut m = json!({"name": name, "uid": "00000000-0000-0000-0000-000000000000", "creationTimestamp": "2026-10-01T10:00:00Z"});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    m
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { T[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

fn secret(name: &str, ns: &str, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = data.iter().map(|(k, v)| (k.to_string(), json!(b64(v)))).collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta(name, Some(ns)), "data": data})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, None)})
}

fn crd(plural: &str, group: &str, kind: &str) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": meta(&format!("{plural}.{group}"), None),
           "spec": {"group": group, "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")}, "scope": "Namespaced", "versions": []}})
}

/// ASO's controller Deployment as the Helm chart renders it (settings come from aso-controller-settings).
fn aso_deployment(extra_env: Value) -> Value {
    let mut env = vec![
        json!({"name": "AZURE_CLIENT_ID", "valueFrom": {"secretKeyRef": {"name": "aso-controller-settings", "key": "AZURE_CLIENT_ID"}}}),
        json!({"name": "AZURE_TARGET_NAMESPACES", "valueFrom": {"secretKeyRef": {"name": "aso-controller-settings", "key": "AZURE_TARGET_NAMESPACES", "optional": true}}}),
    ];
    env.extend(extra_env.as_array().cloned().unwrap_or_default());
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("azureserviceoperator-controller-manager", Some("azureserviceoperator-system")),
           "spec": {"replicas": 1, "selector": {"matchLabels": {"control-plane": "controller-manager"}},
                    "template": {"metadata": {"labels": {"control-plane": "controller-manager", "azure.workload.identity/use": "true"}},
                                 "spec": {"serviceAccountName": "azureserviceoperator-default",
                                          "containers": [{"name": "manager", "image": "mcr.microsoft.com/k8s/azureserviceoperator:v2.11.0", "env": env}]}}}})
}

fn aso_cluster(items: Vec<Value>) -> Snapshot {
    let mut all =
        vec![namespace("team-a"), namespace("team-b"), namespace("team-c"), namespace("azureserviceoperator-system")];
    all.extend(items);
    snapshot(
        "2026-11-24T16:00:00Z",
        json!({"managedClusters": [aks("prod", json!({}), None)]}),
        json!({}),
        &[("prod", json!(all))],
    )
}

fn settings(values: &[(&str, &str)]) -> Value {
    secret("aso-controller-settings", "azureserviceoperator-system", values)
}

#[test]
fn aso_001_credential_with_a_client_secret() {
    let mut team_c = secret(
        "aso-credential",
        "team-c",
        &[
            ("AZURE_CLIENT_ID", "2f6d9b3a-5e17-4c82-b4a9-1e7c3f8d6a05"),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_SUBSCRIPTION_ID", SUB),
            ("AZURE_CLIENT_SECRET", PLANTED),
        ],
    );
    team_c["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration":
        format!("{{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"stringData\":{{\"AZURE_CLIENT_SECRET\":\"{PLANTED}\"}}}}")});
    let s = aso_cluster(vec![
        settings(&[("AZURE_TARGET_NAMESPACES", "team-a,team-b,team-c"), ("AZURE_CLIENT_ID", "")]),
        aso_deployment(json!([])),
        // Workload identity: no secret.
        secret(
            "aso-credential",
            "team-a",
            &[
                ("AZURE_CLIENT_ID", "9e4b2d7f-1a63-4c85-b0e9-3f7d5a1c8b42"),
                ("AZURE_TENANT_ID", TENANT),
                ("AZURE_SUBSCRIPTION_ID", SUB),
            ],
        ),
        team_c,
        // Named by a resource's credential-from annotation, with a certificate.
        secret(
            "my-resource-secret",
            "team-b",
            &[("AZURE_CLIENT_ID", "7c1e4a92-3b58-4d6f-8a0e-5b9d2c7f1e36"), ("AZURE_CLIENT_CERTIFICATE", PLANTED)],
        ),
        json!({"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
               "metadata": {"name": "aso-sample-rg", "namespace": "team-b", "annotations": {"serviceoperator.azure.com/credential-from": "my-resource-secret"}},
               "spec": {"location": "westcentralus"}}),
        // Decoys: a client secret in a Secret no ASO resource names, and one named only from another namespace.
        secret(
            "app-settings",
            "team-a",
            &[("AZURE_CLIENT_ID", "1a2b3c4d-0000-4000-8000-000000000001"), ("AZURE_CLIENT_SECRET", PLANTED)],
        ),
        secret(
            "shared",
            "team-c",
            &[("AZURE_CLIENT_ID", "1a2b3c4d-0000-4000-8000-000000000002"), ("AZURE_CLIENT_SECRET", PLANTED)],
        ),
        json!({"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
               "metadata": {"name": "other", "namespace": "team-a", "annotations": {"serviceoperator.azure.com/credential-from": "shared"}},
               "spec": {"location": "westcentralus"}}),
    ]);
    let found = run(&s);
    assert_eq!(of(&found, "AZP-ASO-001").len(), 2, "{found:#?}");
    let f = one(&found, "AZP-ASO-001", "/k8s/namespaces/team-c/secrets/aso-credential");
    assert_eq!(f.resource.kind, "Secret");
    assert!(f.resource.id.starts_with(&cluster_id("prod").to_lowercase()), "{}", f.resource.id);
    assert!(f.evidence.iter().any(|e| e.contains("AZURE_CLIENT_SECRET")));
    assert!(f.evidence.iter().any(|e| e == "AZURE_CLIENT_ID = 2f6d9b3a-5e17-4c82-b4a9-1e7c3f8d6a05"));
    assert!(f.evidence.iter().any(|e| e.contains("last-applied-configuration")), "{:?}", f.evidence);
    let c = command(f);
    assert!(c.contains("az ad app federated-credential create --id 2f6d9b3a-5e17-4c82-b4a9-1e7c3f8d6a05"), "{c}");
    assert!(c.contains("\"subject\":\"system:serviceaccount:team-c:aso-workload\""), "{c}");
    assert!(f.remediation.summary.contains("strict mode"), "{}", f.remediation.summary);
    assert!(c.contains(ISSUER.trim_end_matches('/')), "the fix names the cluster's own issuer: {c}");
    assert!(c.contains("kubectl --context prod -n team-c patch secret aso-credential"), "{c}");
    let f = one(&found, "AZP-ASO-001", "/namespaces/team-b/secrets/my-resource-secret");
    assert!(
        f.evidence.iter().any(|e| e.contains("credential-from of ResourceGroup team-b/aso-sample-rg")),
        "{:?}",
        f.evidence
    );
    assert!(command(f).contains("/data/AZURE_CLIENT_CERTIFICATE"));
    // Key names only: no secret value in any finding.
    assert!(!serde_json::to_string(&found).unwrap().contains("PLANTED"));
}

#[test]
fn aso_002_global_credential() {
    let single = aso_cluster(vec![
        settings(&[
            ("AZURE_CLIENT_ID", "4b7e1c93-0000-4000-8000-000000000001"),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_SUBSCRIPTION_ID", SUB),
        ]),
        aso_deployment(json!([])),
        secret("aso-credential", "team-a", &[("AZURE_CLIENT_ID", "9e4b2d7f-1a63-4c85-b0e9-3f7d5a1c8b42")]),
    ]);
    let found = run(&single);
    let f = one(&found, "AZP-ASO-002", "/namespaces/azureserviceoperator-system/secrets/aso-controller-settings");
    assert!(f.evidence.iter().any(|e| e.ends_with("AZURE_CLIENT_ID = 4b7e1c93-0000-4000-8000-000000000001")));
    assert!(
        f.evidence.contains(&"namespaces without their own aso-credential: team-b, team-c".to_string()),
        "{:?}",
        f.evidence
    );
    assert!(command(f).contains("rollout restart deployment/azureserviceoperator-controller-manager"));

    // The Helm chart always renders AZURE_CLIENT_ID, empty when no global credential is wanted.
    let empty =
        aso_cluster(vec![settings(&[("AZURE_CLIENT_ID", ""), ("AZURE_TENANT_ID", TENANT)]), aso_deployment(json!([]))]);
    none(&run(&empty), "AZP-ASO-002");
    // A multitenant per-tenant operator (watchers) scopes its credential to its tenant's namespaces.
    let multi = aso_cluster(vec![
        settings(&[
            ("AZURE_CLIENT_ID", "4b7e1c93-0000-4000-8000-000000000001"),
            ("AZURE_OPERATOR_MODE", "watchers"),
            ("AZURE_TARGET_NAMESPACES", "team-a"),
        ]),
        aso_deployment(json!([])),
    ]);
    none(&run(&multi), "AZP-ASO-002");
    // A Secret of that name outside ASO's namespace is not ASO's settings.
    let elsewhere = aso_cluster(vec![
        secret("aso-controller-settings", "team-a", &[("AZURE_CLIENT_ID", "4b7e1c93-0000-4000-8000-000000000001")]),
        aso_deployment(json!([])),
    ]);
    none(&run(&elsewhere), "AZP-ASO-002");
}

#[test]
fn aso_003_role_assignment_crd() {
    let with = aso_cluster(vec![
        aso_deployment(json!([])),
        crd("resourcegroups", "resources.azure.com", "ResourceGroup"),
        crd("roleassignments", "authorization.azure.com", "RoleAssignment"),
        json!({"apiVersion": "authorization.azure.com/v1api20220401", "kind": "RoleAssignment", "metadata": meta("ra", Some("team-a")),
               "spec": {"owner": {"armId": format!("/subscriptions/{SUB}")}, "principalId": "p", "roleDefinitionReference": {"armId": "r"}}}),
    ]);
    let found = run(&with);
    let f = one(&found, "AZP-ASO-003", "/k8s/customresourcedefinitions/roleassignments.authorization.azure.com");
    assert!(f.evidence.contains(&"RoleAssignment resources: team-a/ra".to_string()), "{:?}", f.evidence);
    assert!(command(f).contains("get roleassignments.authorization.azure.com -A"));
    let unused = aso_cluster(vec![crd("roleassignments", "authorization.azure.com", "RoleAssignment")]);
    assert!(command(one(&run(&unused), "AZP-ASO-003", "roleassignments.authorization.azure.com"))
        .ends_with("delete crd roleassignments.authorization.azure.com"));
    // Other ASO CRDs, and a RoleAssignment kind of another group, are not it.
    let without = aso_cluster(vec![
        aso_deployment(json!([])),
        crd("resourcegroups", "resources.azure.com", "ResourceGroup"),
        crd("roleassignments", "authorization.example.com", "RoleAssignment"),
    ]);
    none(&run(&without), "AZP-ASO-003");
}

#[test]
fn aso_004_relaxed_workload_identity_mode() {
    let relaxed =
        aso_cluster(vec![settings(&[("AZURE_TARGET_NAMESPACES", "team-a,team-c")]), aso_deployment(json!([]))]);
    let found = run(&relaxed);
    let f = one(
        &found,
        "AZP-ASO-004",
        "/namespaces/azureserviceoperator-system/deployments/azureserviceoperator-controller-manager",
    );
    assert!(f.evidence[0].contains("not set"), "{:?}", f.evidence);
    assert!(f.evidence.contains(&"watched namespaces: team-a, team-c".to_string()));
    assert!(command(f).contains(r#"{"stringData":{"AZURE_WORKLOAD_IDENTITY_AUTH_MODE":"strict"}}"#));
    let explicit =
        aso_cluster(vec![settings(&[("AZURE_WORKLOAD_IDENTITY_AUTH_MODE", "relaxed")]), aso_deployment(json!([]))]);
    assert_eq!(
        one(&run(&explicit), "AZP-ASO-004", "azureserviceoperator-controller-manager").evidence[0],
        "AZURE_WORKLOAD_IDENTITY_AUTH_MODE = relaxed"
    );

    // Strict, from the settings Secret or from the Deployment's environment.
    let strict =
        aso_cluster(vec![settings(&[("AZURE_WORKLOAD_IDENTITY_AUTH_MODE", "strict")]), aso_deployment(json!([]))]);
    none(&run(&strict), "AZP-ASO-004");
    let strict_env =
        aso_cluster(vec![aso_deployment(json!([{"name": "AZURE_WORKLOAD_IDENTITY_AUTH_MODE", "value": "strict"}]))]);
    none(&run(&strict_env), "AZP-ASO-004");
    // No ASO, no finding.
    none(&run(&aso_cluster(vec![])), "AZP-ASO-004");
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(name, None), "rules": rules})
}

fn crb(name: &str, role: &str, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(name, None),
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
}

fn user(name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
}

fn group(name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name})
}

fn sa(ns: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
}

fn rbac_cluster(items: Vec<Value>) -> Snapshot {
    let mut all = vec![namespace("default"), namespace("kube-system"), namespace("team-a"), namespace("team-b")];
    all.extend(items);
    snapshot(
        "2026-11-24T16:00:00Z",
        json!({"managedClusters": [aks("prod", json!({}), None)]}),
        json!({"groups": [{"id": "6a2d8f41-9c7e-4b3a-a516-e0f4b92c7d83", "displayName": "Platform engineers", "securityEnabled": true}]}),
        &[("prod", json!(all))],
    )
}

#[test]
fn k8s_001_subjects_bound_to_cluster_admin() {
    let mut bootstrap = crb("cluster-admin", "cluster-admin", json!([group("system:masters")]));
    bootstrap["metadata"]["labels"] = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    let s = rbac_cluster(vec![
        bootstrap,
        crb(
            "platform-admins",
            "cluster-admin",
            json!([group("6a2d8f41-9c7e-4b3a-a516-e0f4b92c7d83"), user("alice@contoso.com")]),
        ),
        crb("tiller", "cluster-admin", json!([sa("kube-system", "tiller")])),
        crb("everyone", "cluster-admin", json!([group("system:authenticated")])),
        crb("mixed", "cluster-admin", json!([group("system:masters"), user("bob@contoso.com")])),
        // Namespaced cluster-admin is not cluster-wide.
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("ns-admin", Some("team-a")),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [user("carol@contoso.com")]}),
    ]);
    let found = run(&s);
    assert_eq!(of(&found, "AZP-K8S-001").len(), 4, "{:#?}", of(&found, "AZP-K8S-001"));
    let f = one(&found, "AZP-K8S-001", "/k8s/clusterrolebindings/platform-admins");
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.evidence.contains(&"subject Group 6a2d8f41-9c7e-4b3a-a516-e0f4b92c7d83 (Platform engineers)".to_string()),
        "{:?}",
        f.evidence
    );
    assert_eq!(command(f), "kubectl --context prod delete clusterrolebinding platform-admins");
    one(&found, "AZP-K8S-001", "/clusterrolebindings/tiller");
    assert_eq!(one(&found, "AZP-K8S-001", "/clusterrolebindings/everyone").severity, Severity::Critical);
    // System subjects share `mixed`: edit, do not delete.
    let f = one(&found, "AZP-K8S-001", "/clusterrolebindings/mixed");
    assert_eq!(command(f), "kubectl --context prod edit clusterrolebinding mixed");
    assert!(!f.evidence.iter().any(|e| e.contains("system:masters")));
}

#[test]
fn k8s_001_and_002_ignore_kubernetes_bootstrap_bindings() {
    // The real bootstrap ClusterRoleBindings, and a controller binding to a wildcard role.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/real/k8s-rbac");
    let mut items: Vec<Value> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(root.join("kubernetes-bootstrap-cluster-role-bindings.yaml")) {
        let c = kube_dump::parse(&text, "bootstrap.yaml", "prod").unwrap();
        assert!(c.cluster_role_bindings.len() > 5);
        items.extend(c.cluster_role_bindings.iter().map(|b| {
            let mut v = serde_json::to_value(b).unwrap();
            v["apiVersion"] = json!("rbac.authorization.k8s.io/v1");
            v["kind"] = json!("ClusterRoleBinding");
            v
        }));
    } else {
        assert!(std::env::var_os("CI").is_none(), "{} is required under CI", root.display());
    }
    let mut gc = crb(
        "system:controller:generic-garbage-collector",
        "system:controller:generic-garbage-collector",
        json!([sa("kube-system", "generic-garbage-collector")]),
    );
    gc["metadata"]["labels"] = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    items.push(gc);
    items.push(cluster_role("system:controller:generic-garbage-collector", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["delete", "get", "list", "patch", "update", "watch"]}])));
    let found = run(&rbac_cluster(items.clone()));
    none(&found, "AZP-K8S-001");
    none(&found, "AZP-K8S-002");
    // The same role bound to an ordinary service account is broad.
    items.push(crb("gc-copy", "system:controller:generic-garbage-collector", json!([sa("team-a", "cleaner")])));
    one(&run(&rbac_cluster(items)), "AZP-K8S-002", "/clusterrolebindings/gc-copy");
}

#[test]
fn k8s_002_broad_cluster_role_bindings() {
    let s = rbac_cluster(vec![
        cluster_role("pod-wrangler", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}])),
        cluster_role(
            "read-everything",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]),
        ),
        cluster_role("god", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
        cluster_role(
            "narrow",
            json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]),
        ),
        // Aggregation: `ops` gets its rules from a labelled role with a wildcard.
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta("ops", None),
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-ops": "true"}}]}, "rules": null}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "ops-secrets", "labels": {"example.com/aggregate-to-ops": "true"}},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}]}),
        crb("wranglers", "pod-wrangler", json!([user("dana@contoso.com")])),
        crb("auditors", "read-everything", json!([group("6a2d8f41-9c7e-4b3a-a516-e0f4b92c7d83")])),
        crb("god-mode", "god", json!([sa("team-b", "ci")])),
        crb("ops", "ops", json!([user("erin@contoso.com")])),
        crb("readers", "narrow", json!([user("frank@contoso.com")])),
        crb("nodes-read", "read-everything", json!([group("system:nodes")])),
    ]);
    let found = run(&s);
    assert_eq!(of(&found, "AZP-K8S-002").len(), 4, "{:#?}", of(&found, "AZP-K8S-002"));
    let f = one(&found, "AZP-K8S-002", "/clusterrolebindings/wranglers");
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.evidence.contains(&"rule apiGroups=[] resources=[pods] verbs=[*]".to_string()), "{:?}", f.evidence);
    one(&found, "AZP-K8S-002", "/clusterrolebindings/auditors");
    one(&found, "AZP-K8S-002", "/clusterrolebindings/ops");
    let f = one(&found, "AZP-K8S-002", "/clusterrolebindings/god-mode");
    assert_eq!(f.severity, Severity::High, "a wildcard-everything role is cluster-admin");
    assert!(f.detail.contains("equivalent to cluster-admin"));
}

#[test]
fn k8s_003_default_service_account_with_powers() {
    let s = snapshot(
        "2026-11-24T16:00:00Z",
        json!({
            "managedClusters": [aks("prod", json!({}), None)],
            "federatedIdentityCredentials": [
                {"id": format!("/subscriptions/{SUB}/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-batch/federatedIdentityCredentials/default-sa"),
                 "name": "default-sa", "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
                 "properties": {"issuer": ISSUER.trim_end_matches('/'), "subject": "system:serviceaccount:team-b:default", "audiences": ["api://AzureADTokenExchange"]}},
                // Decoy: the same subject from another cluster's issuer.
                {"id": format!("/subscriptions/{SUB}/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-other/federatedIdentityCredentials/default-sa"),
                 "name": "default-sa", "properties": {"issuer": "https://westeurope.oic.prod-aks.azure.com/x/y/", "subject": "system:serviceaccount:team-a:default", "audiences": ["api://AzureADTokenExchange"]}},
                // Not the default service account.
                {"id": format!("/subscriptions/{SUB}/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app/federatedIdentityCredentials/app"),
                 "name": "app", "properties": {"issuer": ISSUER, "subject": "system:serviceaccount:team-a:app", "audiences": ["api://AzureADTokenExchange"]}}
            ]
        }),
        json!({}),
        &[(
            "prod",
            json!([
                namespace("team-a"),
                namespace("team-b"),
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("default-edit", Some("team-a")),
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}, "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "team-a"}]}),
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("app-view", Some("team-b")),
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "team-b"}]})
            ]),
        )],
    );
    let found = run(&s);
    assert_eq!(of(&found, "AZP-K8S-003").len(), 2, "{:#?}", of(&found, "AZP-K8S-003"));
    let f = one(&found, "AZP-K8S-003", "/k8s/namespaces/team-a/serviceaccounts/default");
    assert_eq!(f.evidence, ["RoleBinding team-a/default-edit → ClusterRole edit"]);
    assert_eq!(command(f), "kubectl --context prod -n team-a delete rolebinding default-edit");
    let f = one(&found, "AZP-K8S-003", "/k8s/namespaces/team-b/serviceaccounts/default");
    assert!(
        f.evidence[0].contains("userAssignedIdentities/id-batch/federatedIdentityCredentials/default-sa"),
        "{:?}",
        f.evidence
    );
    assert!(command(f).starts_with("az identity federated-credential delete --name default-sa --identity-name id-batch --resource-group identities"));
}

// ---------------------------------------------------------------------------------------------------------
// Entra credentials and Azure roles
// ---------------------------------------------------------------------------------------------------------

fn password(key: &str, start: &str, end: &str) -> Value {
    json!({"customKeyIdentifier": null, "displayName": format!("secret {key}"), "endDateTime": end, "hint": "Zq8", "keyId": key, "secretText": null, "startDateTime": start})
}

fn cert(key: &str, start: &str, end: &str) -> Value {
    json!({"customKeyIdentifier": "52C2A2F5", "displayName": "CN=app", "endDateTime": end, "key": null, "keyId": key, "startDateTime": start, "type": "AsymmetricX509Cert", "usage": "Verify"})
}

fn app(id: &str, name: &str, passwords: Vec<Value>, keys: Vec<Value>) -> Value {
    json!({"id": id, "appId": format!("{}-a", &id[..30]), "displayName": name, "signInAudience": "AzureADMyOrg", "passwordCredentials": passwords, "keyCredentials": keys})
}

#[test]
fn entra_001_long_lived_client_secrets() {
    let entra = json!({"applications": [
        app("11111111-0000-4000-8000-000000000001", "two-year", vec![password("k-long", "2025-06-01T10:00:00Z", "2027-06-01T10:00:00Z")], vec![]),
        app("11111111-0000-4000-8000-000000000002", "one-year", vec![password("k-short", "2026-06-01T10:00:00Z", "2027-06-01T10:00:00Z")], vec![]),
        // Long-lived but expired: ENTRA-002's business, not this one's.
        app("11111111-0000-4000-8000-000000000003", "old", vec![password("k-old", "2020-01-01T00:00:00Z", "2024-01-01T00:00:00Z")], vec![]),
        // A certificate is not a client secret.
        app("11111111-0000-4000-8000-000000000004", "cert", vec![], vec![cert("c-long", "2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z")]),
    ]});
    let found = run(&snapshot("2026-11-24T16:00:00Z", json!({}), entra, &[]));
    assert_eq!(of(&found, "AZP-ENTRA-001").len(), 1, "{found:#?}");
    let f = one(&found, "AZP-ENTRA-001", "11111111-0000-4000-8000-000000000001");
    assert_eq!(f.resource.kind, "Application");
    assert_eq!(f.evidence, ["secret k-long \"secret k-long\": 2025-06-01 → 2027-06-01 (730 days)"]);
    assert!(
        command(f).contains("az ad app credential delete --id 11111111-0000-4000-8000-000000000001 --key-id k-long")
    );
}

#[test]
fn entra_002_and_003_expired_and_expiring_credentials() {
    let entra = json!({
        "applications": [
            app("22222222-0000-4000-8000-000000000001", "stale", vec![password("p-old", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")], vec![cert("c-old", "2024-01-01T00:00:00Z", "2026-11-01T00:00:00Z")]),
            app("22222222-0000-4000-8000-000000000002", "due", vec![password("p-due", "2026-06-01T00:00:00Z", "2026-12-04T00:00:00Z")], vec![]),
            app("22222222-0000-4000-8000-000000000003", "fine", vec![password("p-ok", "2026-06-01T00:00:00Z", "2027-03-01T00:00:00Z")], vec![]),
        ],
        "servicePrincipals": [
            {"id": "33333333-0000-4000-8000-000000000001", "appId": "a", "displayName": "id-batch", "servicePrincipalType": "ManagedIdentity",
             "keyCredentials": [cert("mi-cert", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")]},
            {"id": "33333333-0000-4000-8000-000000000002", "appId": "b", "displayName": "legacy-sp", "servicePrincipalType": "Application",
             "passwordCredentials": [password("sp-old", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")]}
        ]
    });
    let found = run(&snapshot("2026-11-24T16:00:00Z", json!({}), entra.clone(), &[]));
    assert_eq!(of(&found, "AZP-ENTRA-002").len(), 2, "{:#?}", of(&found, "AZP-ENTRA-002"));
    let f = one(&found, "AZP-ENTRA-002", "22222222-0000-4000-8000-000000000001");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence.len(), 2);
    assert_eq!(
        command(f),
        "az ad app credential delete --id 22222222-0000-4000-8000-000000000001 --key-id p-old && az ad app credential delete --id 22222222-0000-4000-8000-000000000001 --key-id c-old --cert"
    );
    let f = one(&found, "AZP-ENTRA-002", "33333333-0000-4000-8000-000000000002");
    assert_eq!(f.resource.kind, "ServicePrincipal");
    assert!(command(f).starts_with("az ad sp credential delete"));
    assert_eq!(of(&found, "AZP-ENTRA-003").len(), 1);
    one(&found, "AZP-ENTRA-003", "22222222-0000-4000-8000-000000000002");
    // Without a collection time nothing is judged by date.
    let undated = run(&snapshot("", json!({}), entra, &[]));
    none(&undated, "AZP-ENTRA-002");
    none(&undated, "AZP-ENTRA-003");
}

fn assignment(n: u32, principal: &str, kind: &str, role: &str, scope: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-{n:012}"),
        "name": format!("00000000-0000-4000-8000-{n:012}"),
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {"scope": scope, "principalId": principal, "principalType": kind,
            "roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "condition": null, "conditionVersion": null, "createdOn": "2026-01-01T00:00:00Z"}
    })
}

fn users(n: usize, guest: bool) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let (upn, kind) = if guest {
                (format!("ext{i}_fabrikam.com#EXT#@contoso.onmicrosoft.com"), "Guest")
            } else {
                (format!("user{i}@contoso.com"), "Member")
            };
            json!({"id": format!("44444444-0000-4000-8000-{:012}", i + if guest { 100 } else { 0 }), "displayName": upn, "userPrincipalName": upn, "userType": kind, "accountEnabled": true})
        })
        .collect()
}

#[test]
fn az_001_guest_with_a_privileged_role() {
    let sub = format!("/subscriptions/{SUB}");
    let rg = format!("{sub}/resourceGroups/rg-app");
    let guest = |i: usize| format!("44444444-0000-4000-8000-{:012}", i + 100);
    let member = "44444444-0000-4000-8000-000000000000";
    let mut delegated = assignment(5, &guest(3), "User", RBAC_ADMIN, &sub);
    delegated["properties"]["condition"] = json!("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {acdd72a7-3385-48ef-bd42-f606fba81ae7}))");
    delegated["properties"]["conditionVersion"] = json!("2.0");
    let eligible = json!({
        "id": format!("{sub}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/e1"), "name": "e1",
        "properties": {"scope": sub, "principalId": guest(4), "principalType": "User", "memberType": "Direct", "status": "Provisioned",
            "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"), "startDateTime": "2026-01-01T00:00:00Z"}
    });
    let (outer, inner, readers) = (
        "66666666-0000-4000-8000-000000000001",
        "66666666-0000-4000-8000-000000000002",
        "66666666-0000-4000-8000-000000000003",
    );
    let azure = json!({
        "subscriptions": [{"id": sub, "subscriptionId": SUB, "displayName": "Prod", "state": "Enabled"}],
        "roleAssignments": [
            // Through nested groups: outer (Owner) ⊃ inner ⊃ guest 4 and a member.
            assignment(6, outer, "Group", OWNER, &sub),
            // Decoy: a guest in a group that only reads.
            assignment(7, readers, "Group", READER, &sub),
            assignment(1, &guest(0), "User", OWNER, &sub),
            assignment(2, &guest(1), "User", CONTRIBUTOR, &rg),
            assignment(3, &guest(2), "User", READER, &sub),
            assignment(4, member, "User", OWNER, &sub),
            delegated
        ],
        "roleEligibilityScheduleInstances": [eligible]
    });
    let mut all = users(1, false);
    all.extend(users(5, true));
    let member_of = |g: &str, ms: Value| json!({"groupId": g, "members": ms});
    let entra = json!({
        "users": all,
        "groups": [{"id": outer, "displayName": "Subscription owners"}, {"id": inner, "displayName": "Partner admins"}, {"id": readers, "displayName": "Readers"}],
        "groupMembers": [
            member_of(outer, json!([{"@odata.type": "#microsoft.graph.group", "id": inner, "displayName": "Partner admins"}])),
            member_of(inner, json!([{"@odata.type": "#microsoft.graph.user", "id": guest(4)}, {"@odata.type": "#microsoft.graph.user", "id": member}])),
            member_of(readers, json!([{"@odata.type": "#microsoft.graph.user", "id": guest(2)}]))
        ]
    });
    let found = run(&snapshot("2026-11-24T16:00:00Z", azure, entra, &[]));
    assert_eq!(of(&found, "AZP-AZ-001").len(), 4, "{:#?}", of(&found, "AZP-AZ-001"));
    let f = one(&found, "AZP-AZ-001", "roleassignments/00000000-0000-4000-8000-000000000006");
    assert!(f.detail.contains("through a group"), "{}", f.detail);
    assert_eq!(f.evidence.len(), 3, "only the guest of the group: {:?}", f.evidence);
    assert!(
        f.evidence[2]
            .ends_with(&format!("member of Partner admins ({inner}), itself in Subscription owners ({outer})")),
        "{:?}",
        f.evidence
    );
    assert_eq!(command(f), format!("az ad group member remove --group {inner} --member-id {}", guest(4)));
    let f = one(&found, "AZP-AZ-001", "roleassignments/00000000-0000-4000-8000-000000000001");
    assert_eq!(f.severity, Severity::High);
    assert!(f.evidence[1].contains("Owner (assign-roles, write-everything)"), "{:?}", f.evidence);
    assert!(command(f).starts_with("az role assignment delete --ids /subscriptions/"));
    assert_eq!(
        one(&found, "AZP-AZ-001", "roleassignments/00000000-0000-4000-8000-000000000002").severity,
        Severity::Medium
    );
    let f = one(&found, "AZP-AZ-001", "roleeligibilityscheduleinstances/e1");
    assert!(command(f).contains("AdminRemove"), "{}", command(f));
}

/// AZP-AZ-001 judges grants as the graph does: a PIM eligibility instance that is not Provisioned/Accepted
/// grants nothing, and a delegation condition counts by the roles it lets the holder assign, those assignable
/// at the grant's scope only (assignableScopes).
#[test]
fn az_001_judges_grants_as_the_graph_does() {
    let sub = format!("/subscriptions/{SUB}");
    let guest = |i: usize| format!("44444444-0000-4000-8000-{:012}", i + 100);
    let (here, elsewhere) = ("77777777-0000-4000-8000-000000000001", "77777777-0000-4000-8000-000000000002");
    let custom = |guid: &str, name: &str, scope: &str| {
        json!({"id": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"), "name": guid,
            "properties": {"roleName": name, "type": "CustomRole", "permissions": [{"actions": ["*"], "notActions": []}],
                "assignableScopes": [scope]}})
    };
    let may_assign_only = |n: u32, who: &str, role: &str| {
        let mut a = assignment(n, who, "User", RBAC_ADMIN, &sub);
        a["properties"]["condition"] = json!(format!("((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{role}}}))"));
        a["properties"]["conditionVersion"] = json!("2.0");
        a
    };
    let eligibility = |name: &str, who: &str, status: &str| {
        json!({"id": format!("{sub}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/{name}"), "name": name,
            "properties": {"scope": sub, "principalId": who, "principalType": "User", "memberType": "Direct", "status": status,
                "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")}})
    };
    let azure = json!({
        "subscriptions": [{"id": sub, "subscriptionId": SUB, "displayName": "Prod", "state": "Enabled"}],
        "roleDefinitions": [
            custom(here, "Deployer", &sub),
            custom(elsewhere, "Other subscription's deployer", "/subscriptions/00000000-0000-4000-8000-0000000000ee"),
        ],
        "roleAssignments": [may_assign_only(1, &guest(2), here), may_assign_only(2, &guest(3), elsewhere)],
        "roleEligibilityScheduleInstances": [eligibility("revoked", &guest(0), "Revoked"), eligibility("live", &guest(1), "Provisioned")]
    });
    let found = run(&snapshot("2026-11-24T16:00:00Z", azure, json!({"users": users(4, true)}), &[]));
    let ids: Vec<&str> = of(&found, "AZP-AZ-001").iter().map(|f| f.resource.id.rsplit('/').next().unwrap()).collect();
    assert_eq!(ids, ["00000000-0000-4000-8000-000000000001", "live"], "{:#?}", of(&found, "AZP-AZ-001"));
    let f = one(&found, "AZP-AZ-001", "00000000-0000-4000-8000-000000000001");
    assert!(f.evidence[1].contains("write-everything"), "{:?}", f.evidence);
    assert!(f.evidence.iter().any(|e| e.contains("assign only Deployer")), "{:?}", f.evidence);
}

#[test]
fn az_002_many_standing_privileged_users_on_a_subscription() {
    let sub = format!("/subscriptions/{SUB}");
    let user_id = |i: usize| format!("44444444-0000-4000-8000-{i:012}");
    let build = |n_sub: usize, extra: Vec<Value>| {
        let mut ras: Vec<Value> = (0..n_sub)
            .map(|i| assignment(i as u32 + 1, &user_id(i), "User", if i % 2 == 0 { OWNER } else { CONTRIBUTOR }, &sub))
            .collect();
        ras.extend(extra);
        let azure = json!({"subscriptions": [{"id": sub, "subscriptionId": SUB, "displayName": "Prod"}], "roleAssignments": ras});
        run(&snapshot("2026-11-24T16:00:00Z", azure, json!({"users": users(8, false)}), &[]))
    };
    let found = build(4, vec![]);
    let f = one(&found, "AZP-AZ-002", &format!("/subscriptions/{SUB}"));
    assert_eq!(f.evidence.len(), 4);
    assert!(f.detail.starts_with("4 users"));
    // Three standing users, plus groups, readers and resource-group owners, are within the guidance.
    let group = "55555555-0000-4000-8000-000000000001";
    none(
        &build(
            3,
            vec![
                assignment(20, group, "Group", OWNER, &sub),
                assignment(21, &user_id(5), "User", READER, &sub),
                assignment(22, &user_id(6), "User", OWNER, &format!("{sub}/resourceGroups/rg-app")),
            ],
        ),
        "AZP-AZ-002",
    );
}

// ---------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------

#[test]
fn report_carries_posture_sorted_with_every_check_described() {
    let s = snapshot(
        "2026-11-24T16:00:00Z",
        json!({"managedClusters": [aks("a", json!({"enableRBAC": false, "disableLocalAccounts": false}), None), aks("b", json!({"aadProfile": null}), None)]}),
        json!({}),
        &[],
    );
    let report = analyze(&s, &[], AnalyzeOptions::default());
    assert_eq!(report.schema_version, REPORT_SCHEMA_VERSION);
    assert_eq!(report.posture_checks.len(), posture::CHECKS.len());
    let keys: Vec<(Severity, &str)> = report.posture.iter().map(|f| (f.severity, f.check_id.as_str())).collect();
    assert_eq!(keys.first(), Some(&(Severity::Critical, "AZP-AKS-004")));
    assert!(report.posture.windows(2).all(|w| (std::cmp::Reverse(w[0].severity), &w[0].check_id, &w[0].resource.id)
        <= (std::cmp::Reverse(w[1].severity), &w[1].check_id, &w[1].resource.id)));
    // One finding per check and resource.
    let mut ids: Vec<_> = report.posture.iter().map(|f| (&f.check_id, &f.resource.id)).collect();
    ids.dedup();
    assert_eq!(ids.len(), report.posture.len());
}

#[test]
fn a_report_reads_back_as_written_and_an_older_schema_is_refused() {
    let s = snapshot("2026-01-01T00:00:00Z", json!({}), json!({}), &[]);
    let report = analyze(&s, &[], AnalyzeOptions::default());
    let back: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(back, report);
    // Schema 2 listed pairs as findings and had no tiers: reading it as schema 3 fails, naming what is missing.
    let v2 = r#"{"schema_version":2,"tool_version":"0.1.0","collected_at":"","queries":[],"findings":[],"coverage":[],"warnings":[]}"#;
    let err = serde_json::from_str::<Report>(v2).unwrap_err();
    assert!(err.to_string().contains("missing field `tiers`"), "{err}");
}

#[test]
fn real_managed_cluster_example_fails_the_checks_it_should() {
    // Azure's published ManagedClusters_Get example: RBAC off, no Entra, local accounts (unset), a client id.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/real/arm-aks/managedClusters-get-2026-04-01.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(std::env::var_os("CI").is_none(), "{} is required under CI", path.display());
        return;
    };
    let doc: Value = serde_json::from_str(&text).unwrap();
    let s = clusters(vec![doc["responses"]["200"]["body"].clone()]);
    let mut checks: Vec<String> = run(&s).into_iter().map(|f| f.check_id).collect();
    checks.sort();
    assert_eq!(checks, ["AZP-AKS-001", "AZP-AKS-002", "AZP-AKS-004", "AZP-AKS-005"]);
}
