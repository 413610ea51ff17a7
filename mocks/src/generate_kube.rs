//! The Kubernetes part of generated tenants: AKS clusters (Entra-integrated, OIDC issuer on), each with
//! namespaces, service accounts, Roles/RoleBindings naming Entra groups and users, a cluster-admin binding,
//! Azure Service Operator (its controller, CRDs, a namespace credential in some namespaces, ASO resources),
//! and user-assigned identities federated to ASO's or an application's service account, holding roles.
//!
//! Built as ARM and `kubectl get … -A -o json` documents in real shapes, then read by the same parsers as
//! hand-written tenants, so a benchmark exercises the code paths a real scan does.

use serde_json::{json, Value};

use crate::generate::Rng;
use crate::kube::{base64, KubeDump};
use crate::tenant::MockTenant;

const ASO_NAMESPACE: &str = "azureserviceoperator-system";
const ASO_SERVICE_ACCOUNT: &str = "azureserviceoperator-default";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

/// Adds `clusters` AKS clusters of `namespaces` namespaces each to `t` (whose subscriptions, resource groups
/// and directory are generated; without them, nothing).
pub(crate) fn add_clusters(t: &mut MockTenant, rng: &mut Rng, clusters: usize, namespaces: usize) {
    let (a, e) = (&t.azure, &t.entra);
    if a.subscriptions.is_empty() || a.resource_groups.is_empty() || e.groups.is_empty() || e.users.is_empty() {
        return;
    }
    let tenant_id = t.info.tenant_id.clone();
    let mut identity_values = Vec::new();
    let mut credential_values = Vec::new();
    let mut assignment_values = Vec::new();
    let mut cluster_values = Vec::new();
    let mut dumps = Vec::new();
    for c in 0..clusters {
        let rg = rng.pick(&t.azure.resource_groups).id.clone();
        let sub = rg.split('/').nth(2).unwrap_or_default().to_string();
        let name = format!("aks-{c:04}");
        let cluster_id = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/{name}");
        let issuer = format!("https://westeurope.oic.prod-aks.azure.com/{tenant_id}/{}/", rng.guid());
        let admin_group = rng.pick(&t.entra.groups).id.clone();
        cluster_values.push(json!({
            "id": cluster_id, "name": name, "type": "Microsoft.ContainerService/managedClusters",
            "location": "westeurope",
            "identity": {"type": "SystemAssigned", "principalId": rng.guid(), "tenantId": tenant_id},
            "properties": {
                "fqdn": format!("{name}-{}.hcp.westeurope.azmk8s.io", &rng.guid()[..8]),
                "enableRBAC": true, "disableLocalAccounts": rng.chance(0.5),
                "aadProfile": {"managed": true, "enableAzureRBAC": rng.chance(0.3),
                               "adminGroupObjectIDs": [admin_group], "tenantID": tenant_id},
                "oidcIssuerProfile": {"enabled": true, "issuerURL": issuer},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
                "servicePrincipalProfile": {"clientId": "msi"}
            }
        }));

        // One identity per ASO namespace and per federated application service account, each with a role.
        let mut identity = |rng: &mut Rng, label: &str, subject: String, role: &str, scope: &str| -> String {
            let id = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-{label}");
            let (principal, client) = (rng.guid(), rng.guid());
            identity_values.push(json!({
                "id": id, "name": format!("{name}-{label}"), "location": "westeurope",
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "properties": {"principalId": principal, "clientId": client, "tenantId": tenant_id}
            }));
            credential_values.push(json!({
                "id": format!("{id}/federatedIdentityCredentials/{label}"), "name": label,
                "properties": {"issuer": issuer, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}
            }));
            let assignment = rng.guid();
            assignment_values.push(json!({
                "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{assignment}"),
                "name": assignment,
                "properties": {
                    "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                    "principalId": principal, "principalType": "ServicePrincipal", "scope": scope
                }
            }));
            client
        };

        let mut items = vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ASO_NAMESPACE}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": ASO_SERVICE_ACCOUNT, "namespace": ASO_NAMESPACE}}),
            cluster_role(
                "view",
                json!([{"apiGroups": ["", "apps"], "resources": ["pods", "deployments", "services"], "verbs": ["get", "list", "watch"]}]),
            ),
            cluster_role(
                "edit",
                json!([
                {"apiGroups": ["", "apps", "batch"], "resources": ["pods", "deployments", "jobs", "secrets", "configmaps"], "verbs": ["*"]},
                {"apiGroups": ["resources.azure.com", "authorization.azure.com"], "resources": ["*"], "verbs": ["*"]}]),
            ),
            cluster_role(
                "cluster-admin",
                json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            ),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "platform-admins"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": rng.pick(&t.entra.groups).id}]}),
            crd("resources.azure.com", "ResourceGroup", "resourcegroups", "v1api20200601"),
            deployment(ASO_NAMESPACE, "azureserviceoperator-controller-manager", ASO_SERVICE_ACCOUNT, true),
        ];
        if rng.chance(0.5) {
            items.push(crd("authorization.azure.com", "RoleAssignment", "roleassignments", "v1api20220401"));
        }
        let mut watched = Vec::new();
        for n in 0..namespaces {
            let ns = format!("team-{n:04}");
            let mut labels = json!({"kubernetes.io/metadata.name": ns});
            if rng.chance(0.3) {
                labels["pod-security.kubernetes.io/enforce"] = json!("restricted");
            }
            items.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}));
            items.push(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}),
            );
            let app = format!("app-{n:04}");
            let mut annotations = json!({});
            if rng.chance(0.2) {
                let scope = rng.pick(&t.azure.resource_groups).id.clone();
                let client = identity(rng, &app, format!("system:serviceaccount:{ns}:{app}"), READER, &scope);
                annotations = json!({"azure.workload.identity/client-id": client});
            }
            items.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": {"name": app, "namespace": ns, "annotations": annotations}}));
            items.push(deployment(&ns, &app, &app, false));
            items.push(binding(&ns, "developers", "edit", "Group", &rng.pick(&t.entra.groups).id));
            items.push(binding(&ns, "viewers", "view", "User", &rng.pick(&t.entra.users).id));
            if rng.chance(0.2) {
                watched.push(ns.clone());
                let scope = if rng.chance(0.1) { format!("/subscriptions/{sub}") } else { rg.clone() };
                let label = format!("aso-{n:04}");
                let subject = format!("system:serviceaccount:{ASO_NAMESPACE}:{ASO_SERVICE_ACCOUNT}");
                let client = identity(rng, &label, subject, CONTRIBUTOR, &scope);
                items.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": "aso-credential", "namespace": ns},
                    "data": {"AZURE_CLIENT_ID": base64(&client), "AZURE_TENANT_ID": base64(&tenant_id),
                             "AZURE_SUBSCRIPTION_ID": base64(&sub), "USE_WORKLOAD_IDENTITY_AUTH": base64("true")}}));
                items.push(json!({"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
                    "metadata": {"name": format!("{ns}-rg"), "namespace": ns},
                    "spec": {"location": "westeurope", "azureName": format!("{ns}-rg")}}));
            }
        }
        items.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "aso-controller-settings", "namespace": ASO_NAMESPACE},
            "data": {"AZURE_TARGET_NAMESPACES": base64(&watched.join(",")), "AZURE_TENANT_ID": base64(&tenant_id)}}));
        let text = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
        dumps.push((name, text.to_string()));
    }
    t.azure.managed_clusters.extend(parse(cluster_values));
    t.azure.user_assigned_identities.extend(parse(identity_values));
    t.azure.federated_identity_credentials.extend(parse(credential_values));
    t.azure.role_assignments.extend(parse(assignment_values));
    for (name, text) in dumps {
        let file = format!("{}/{name}.json", crate::kube::KUBE_DIR);
        t.kube.push(KubeDump::parse(&name, &file, text).expect("generated dumps parse"));
    }
}

fn parse<T: serde::de::DeserializeOwned>(values: Vec<Value>) -> Vec<T> {
    serde_json::from_value(Value::Array(values)).expect("generated ARM shapes parse")
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

fn binding(ns: &str, name: &str, cluster_role: &str, kind: &str, subject: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
           "metadata": {"name": name, "namespace": ns},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
           "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": subject}]})
}

fn crd(group: &str, kind: &str, plural: &str, version: &str) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": format!("{plural}.{group}")},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"kind": kind, "plural": plural, "listKind": format!("{kind}List")},
                    "versions": [{"name": version, "served": true, "storage": false},
                                 {"name": format!("{version}storage"), "served": true, "storage": true}]}})
}

fn deployment(ns: &str, name: &str, service_account: &str, workload_identity: bool) -> Value {
    let mut labels = json!({"app": name});
    if workload_identity {
        labels["azure.workload.identity/use"] = json!("true");
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"serviceAccountName": service_account,
                                          "containers": [{"name": "main", "image": format!("example.azurecr.io/{name}:1")}]}}}})
}

#[cfg(test)]
mod tests {
    use crate::generate::{generate, GenerateOptions};

    #[test]
    fn generated_clusters_link_kubernetes_to_azure() {
        let options = GenerateOptions { clusters: 2, namespaces_per_cluster: 30, ..Default::default() };
        let t = generate(&options);
        assert_eq!((t.azure.managed_clusters.len(), t.kube.len()), (2, 2));
        assert!(t.kube.iter().all(|d| d.objects.namespaces.len() == 31));
        let aso_credentials =
            t.kube.iter().flat_map(|d| &d.objects.secrets).filter(|s| s.metadata.name == "aso-credential");
        assert!(aso_credentials.count() > 0, "some namespaces use ASO");
        assert!(t.azure.federated_identity_credentials.len() >= t.azure.user_assigned_identities.len());
        // The same options give the same tenant.
        assert_eq!(generate(&options).kube, t.kube);
        let snap = t.to_snapshot();
        assert_eq!(snap.kubernetes.len(), 2);
        assert!(snap.kubernetes[0].cluster.starts_with("/subscriptions/"), "{}", snap.kubernetes[0].cluster);
    }
}
