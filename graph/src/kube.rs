//! Kubernetes records in the snapshot: what azpath keeps of each object, in the Kubernetes API's field names.
//!
//! Secrets are sanitized before they get here (by the collector, at read time): a [`SecretMeta`] holds a
//! Secret's name, namespace, type and key names, and the values of the few keys known not to be secret
//! ([`NON_SECRET_KEYS`]); its annotations keep their names only (`kubectl apply` copies the whole Secret,
//! values included, into `kubectl.kubernetes.io/last-applied-configuration`), except the service-account
//! names of [`SECRET_ANNOTATIONS_KEPT`]. Workload environment values obey the same rule, and of container
//! arguments only the flags of [`NON_SECRET_ARGS`] are kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Secret keys whose values are identifiers or settings, not secrets, and are kept.
pub const NON_SECRET_KEYS: &[&str] = &[
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "USE_WORKLOAD_IDENTITY_AUTH",
    "AUTH_MODE",
    "AZURE_TARGET_NAMESPACES",
    "AZURE_OPERATOR_MODE",
    "AZURE_WORKLOAD_IDENTITY_AUTH_MODE",
    "AZURE_SYNC_PERIOD",
    "AZURE_AUTHORITY_HOST",
    "AZURE_RESOURCE_MANAGER_ENDPOINT",
    "AZURE_RESOURCE_MANAGER_AUDIENCE",
    // aad-pod-identity's MIC and NMI: match pods to identities of their own namespace only.
    "FORCENAMESPACED",
];

/// Secret annotations whose values are kept: the service account a `kubernetes.io/service-account-token`
/// Secret belongs to (names, not secrets).
pub const SECRET_ANNOTATIONS_KEPT: &[&str] =
    &["kubernetes.io/service-account.name", "kubernetes.io/service-account.uid"];

/// Container arguments (`command` and `args`) kept, by flag name: aad-pod-identity's NMI and MIC modes.
/// Every other argument may carry a secret and is dropped.
pub const NON_SECRET_ARGS: &[&str] = &["forceNamespaced", "operation-mode"];

/// Whether a container argument may be kept: `--flag` or `--flag=value` (one or two dashes) of a
/// [`NON_SECRET_ARGS`] flag.
pub fn is_non_secret_arg(arg: &str) -> bool {
    let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else { return false };
    let name = flag.split_once('=').map_or(flag, |(n, _)| n);
    NON_SECRET_ARGS.contains(&name)
}

/// Whether the value of a Secret key (or environment variable) may be kept.
pub fn is_non_secret_key(key: &str) -> bool {
    NON_SECRET_KEYS.contains(&key)
}

/// Everything collected from one cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeCluster {
    /// The cluster as named on the command line (`--kube-dump CLUSTER=FILE`, `--kube-context`): the AKS/Arc
    /// resource id, or its name when unique.
    pub cluster: String,
    /// Where the objects came from (`dump:<file>`, `context:<name>`).
    pub source: String,
    /// API server URL, when known (matched to the AKS cluster's FQDN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Namespaces.
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    /// Service accounts.
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// ClusterRoles (aggregation is resolved by the graph builder).
    #[serde(default)]
    pub cluster_roles: Vec<Role>,
    /// RoleBindings.
    #[serde(default)]
    pub role_bindings: Vec<RoleBinding>,
    /// ClusterRoleBindings.
    #[serde(default)]
    pub cluster_role_bindings: Vec<RoleBinding>,
    /// Secrets, sanitized.
    #[serde(default)]
    pub secrets: Vec<SecretMeta>,
    /// Installed CustomResourceDefinitions.
    #[serde(default)]
    pub crds: Vec<CustomResourceDefinition>,
    /// Deployments (ASO's among them), environment sanitized.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    /// DaemonSets (aad-pod-identity's NMI among them), in the same shape as Deployments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemon_sets: Vec<Deployment>,
    /// The other workloads that run pods: StatefulSets, ReplicaSets, Jobs, CronJobs and Pods (`kind` set), in
    /// the shape of a Deployment (a Pod that has ended has `replicas` 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<Deployment>,
    /// aad-pod-identity `AzureIdentity` objects (`aadpodidentity.k8s.io/v1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azure_identities: Vec<AzureIdentity>,
    /// aad-pod-identity `AzureIdentityBinding` objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azure_identity_bindings: Vec<AzureIdentityBinding>,
    /// Azure Service Operator resources (any object of an `*.azure.com` API group).
    #[serde(default)]
    pub aso_resources: Vec<AsoResource>,
}

/// Object metadata azpath keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name.
    pub name: String,
    /// Namespace (absent for cluster-scoped objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations (for Secrets: names only, values emptied, except [`SECRET_ANNOTATIONS_KEPT`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Namespace {
    /// Metadata (labels carry `pod-security.kubernetes.io/enforce`).
    pub metadata: ObjectMeta,
}

/// A service account (annotations carry `azure.workload.identity/client-id`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// `automountServiceAccountToken` (a pod's own setting wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
}

/// One RBAC rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// API groups (`""` is core, `*` all).
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Resources, with subresources as `pods/exec`, `serviceaccounts/token`.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Verbs (`get`, `create`, `impersonate`, `bind`, `escalate`, `*`).
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Only these object names, when not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs.
    #[serde(default, rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// A Role or ClusterRole.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Rules (`null` in aggregated ClusterRoles before the controller fills them).
    #[serde(default, deserialize_with = "crate::kube::null_as_empty")]
    pub rules: Vec<PolicyRule>,
    /// ClusterRole aggregation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_rule: Option<AggregationRule>,
}

/// `aggregationRule`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AggregationRule {
    /// Label selectors of the ClusterRoles aggregated.
    #[serde(default)]
    pub cluster_role_selectors: Vec<LabelSelector>,
}

/// A label selector.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact labels.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions.
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One selector expression.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A RoleBinding or ClusterRoleBinding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleBinding {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// The role bound.
    pub role_ref: RoleRef,
    /// Who it is bound to.
    #[serde(default, deserialize_with = "crate::kube::null_as_empty")]
    pub subjects: Vec<Subject>,
}

/// `roleRef`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// A binding subject.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// Name (an Entra object id or UPN on Entra-integrated clusters).
    pub name: String,
    /// Namespace of a ServiceAccount subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Secret, sanitized: no secret value is ever held here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretMeta {
    /// Metadata; annotation values are emptied.
    pub metadata: ObjectMeta,
    /// Secret type (`Opaque`, `kubernetes.io/service-account-token`, …).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
    /// Names of all keys in `data` and `stringData`.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Values of the keys in [`NON_SECRET_KEYS`] only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

/// An installed CRD.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinition {
    /// `<plural>.<group>`.
    pub name: String,
    /// API group (`authorization.azure.com`).
    #[serde(default)]
    pub group: String,
    /// Kind (`RoleAssignment`).
    #[serde(default)]
    pub kind: String,
}

/// A Deployment (or DaemonSet): who it runs as and how it is configured (environment sanitized).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// The object's kind, for [`KubeCluster::workloads`] (`StatefulSet`, `ReplicaSet`, `Job`, `CronJob`, `Pod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `spec.replicas` (absent: 1; DaemonSets have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// `spec.template.spec.automountServiceAccountToken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    /// Container `command` and `args` entries that are [`NON_SECRET_ARGS`] flags, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// `spec.template.spec.serviceAccountName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Pod template labels (`azure.workload.identity/use`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// Environment of every container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Container images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// An environment variable: its value only when the name is a known non-secret key, else its source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value, kept only for [`NON_SECRET_KEYS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `valueFrom.secretKeyRef`: (secret name, key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<(String, String)>,
}

/// An Azure Service Operator resource (any object whose API group ends in `.azure.com`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AsoResource {
    /// `resources.azure.com/v1api20200601`.
    pub api_version: String,
    /// `ResourceGroup`, `RoleAssignment`, …
    pub kind: String,
    /// Metadata (annotations carry `serviceoperator.azure.com/credential-from`).
    pub metadata: ObjectMeta,
    /// `spec.owner`: `{name}` of a Kubernetes owner or `{armId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<AsoOwner>,
    /// `spec.azureName`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_name: Option<String>,
}

/// `spec.owner` of an ASO resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AsoOwner {
    /// Name of the owning ASO resource in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Raw ARM id of the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_id: Option<String>,
}

/// An aad-pod-identity `AzureIdentity`: an Azure identity pods can be given. No secret is held: a service
/// principal's password is only named (`clientPassword`, a Secret reference).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AzureIdentity {
    /// Metadata (annotation `aadpodidentity.k8s.io/Behavior: namespaced` limits it to its namespace).
    pub metadata: ObjectMeta,
    /// `spec.type`: 0 user-assigned managed identity, 1 service principal with a client secret, 2 service
    /// principal with a certificate.
    #[serde(default)]
    pub identity_type: u8,
    /// `spec.resourceID` (type 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// `spec.clientID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `spec.tenantID` (types 1 and 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// `spec.clientPassword`: the Secret holding the credential (types 1 and 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_password: Option<SecretReference>,
}

/// A reference to a Secret by name and namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretReference {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// An aad-pod-identity `AzureIdentityBinding`: pods labelled `aadpodidbinding: <selector>` get the
/// `AzureIdentity` it names (of the binding's namespace).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AzureIdentityBinding {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// `spec.azureIdentity`: the AzureIdentity's name.
    #[serde(default)]
    pub azure_identity: String,
    /// `spec.selector`: the `aadpodidbinding` label value.
    #[serde(default)]
    pub selector: String,
}

pub(crate) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
