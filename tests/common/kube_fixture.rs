//! The kubectl dump the Kubernetes end-to-end tests share: a cluster whose Secrets, annotations and
//! environment carry a planted secret value in every form kubectl can show it, and a tenant with its AKS cluster.

use std::path::{Path, PathBuf};

use azpath_mocks::MockTenant;
use serde_json::{json, Value};

/// The value planted everywhere a kubectl dump can carry a secret.
pub const PLANTED: &str = "Zq8~planted-client-secret-7f3a";
/// An identifier that must be kept.
pub const CLIENT_ID: &str = "6a1d2e3f-0000-4000-8000-00000000c11d";
pub const SUB: &str = "837c3c76-9e6c-4dba-b18e-10ab9cbc63d8";

pub fn cluster_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod")
}

/// Base64, as kubectl shows Secret `data`.
pub fn b64(s: &str) -> String {
    azpath_mocks::kube::base64(s)
}

/// Every form the planted value could take in output.
pub fn leaks(text: &str) -> Option<&'static str> {
    if text.contains(PLANTED) {
        Some("plain")
    } else if text.contains(&b64(PLANTED)) {
        Some("base64")
    } else if text.contains("planted-client-secret") {
        Some("partial")
    } else {
        None
    }
}

/// A `kubectl get … -A -o json` List: an ASO credential created with `kubectl apply` (its plaintext in the
/// last-applied annotation), the secret in `data` and `stringData`, and a Deployment with a literal
/// `AZURE_CLIENT_SECRET`.
pub fn dump() -> Value {
    let applied = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "aso-credential", "namespace": "team-a"},
        "stringData": {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": PLANTED}
    });
    json!({
        "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "team-a"}},
            {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": "aso-credential", "namespace": "team-a",
                          "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
             "data": {"AZURE_CLIENT_ID": b64(CLIENT_ID), "AZURE_CLIENT_SECRET": b64(PLANTED)},
             "stringData": {"AZURE_TENANT_ID": "34a965a6-d036-4c02-839f-4afd60acfe68", "backup-secret": PLANTED}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "aso-editor", "namespace": "team-a"},
             "rules": [{"apiGroups": ["resources.azure.com"], "resources": ["*"], "verbs": ["*"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "aso-editors", "namespace": "team-a"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aso-editor"},
             "subjects": [{"kind": "Group", "name": "00000000-0000-0000-0000-0000000000aa"}]},
            {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "app", "namespace": "team-a"},
             "spec": {"template": {"metadata": {"labels": {"app": "app"}}, "spec": {
                 "serviceAccountName": "default",
                 "containers": [{"name": "app", "image": "example/app:1", "env": [
                     {"name": "AZURE_CLIENT_SECRET", "value": PLANTED},
                     {"name": "AZURE_CLIENT_ID", "value": CLIENT_ID}]}]}}}},
            {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
             "metadata": {"name": "resourcegroups.resources.azure.com"},
             "spec": {"group": "resources.azure.com", "scope": "Namespaced",
                      "names": {"kind": "ResourceGroup", "plural": "resourcegroups", "listKind": "ResourceGroupList"},
                      "versions": [{"name": "v1api20200601", "served": true, "storage": false},
                                   {"name": "v1api20200601storage", "served": true, "storage": true}]}},
            {"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
             "metadata": {"name": "rg-team-a", "namespace": "team-a"},
             "spec": {"location": "westeurope", "owner": {"armId": format!("/subscriptions/{SUB}")}}}
        ]
    })
}

/// The bundled `demo` tenant written to a folder, with an AKS cluster `aks-prod` in its first subscription.
pub fn tenant_with_cluster(dir: &Path) -> PathBuf {
    let tenant_dir = dir.join("tenant");
    MockTenant::bundled("demo").unwrap().write(&tenant_dir).unwrap();
    let cluster = json!({"value": [{
        "id": cluster_id(), "name": "aks-prod", "location": "westeurope",
        "type": "Microsoft.ContainerService/ManagedClusters",
        "properties": {"fqdn": "aks-prod-dns.hcp.westeurope.azmk8s.io", "enableRBAC": true}
    }]});
    std::fs::write(tenant_dir.join("arm/managedClusters.json"), cluster.to_string()).unwrap();
    tenant_dir
}
