//! Azure Resource Manager `Microsoft.ContainerService`: the AKS clusters of a subscription, with the settings
//! that decide who can become cluster admin and which identities its workloads can use (Entra integration,
//! Azure RBAC for Kubernetes, local accounts, OIDC issuer, workload identity, cluster and kubelet identities,
//! pod-managed identities, API server access).
//!
//! The api-version is pinned here beside its REST reference (see also `docs/collection.md`). The listing's
//! secret-bearing parts (`servicePrincipalProfile.secret`, `linuxProfile`, `windowsProfile`) have no field in
//! the snapshot's [`ManagedCluster`](azpath_graph::snapshot::ManagedCluster), so they are dropped while parsing.

use url::Url;

use super::{api_url, ResourcePath};

/// [Managed Clusters - List](https://learn.microsoft.com/rest/api/aks/managed-clusters/list): 2025-10-01 has
/// `oidcIssuerProfile`, `securityProfile.workloadIdentity`, `disableLocalAccounts`, `aadProfile.enableAzureRBAC`,
/// `identityProfile`, `podIdentityProfile` and `apiServerAccessProfile.disableRunCommand`.
pub const MANAGED_CLUSTERS_API_VERSION: &str = "2025-10-01";

/// `GET {arm}/subscriptions/{id}/providers/Microsoft.ContainerService/managedClusters`.
pub fn managed_clusters_url(arm: &Url, subscription_id: &str) -> Url {
    api_url(
        arm,
        &format!("subscriptions/{subscription_id}/providers/Microsoft.ContainerService/managedClusters"),
        &format!("api-version={MANAGED_CLUSTERS_API_VERSION}"),
    )
}

/// The resource type of AKS clusters.
pub const MANAGED_CLUSTERS: &str = "Microsoft.ContainerService/managedClusters";

/// [Identity Bindings - List By Managed Cluster](https://learn.microsoft.com/rest/api/aks/identity-bindings):
/// only preview versions exist; 2025-10-02-preview returns `managedIdentity` (resource, client and object id)
/// and `oidcIssuer.oidcIssuerUrl`.
pub const IDENTITY_BINDINGS_API_VERSION: &str = "2025-10-02-preview";

/// `GET {arm}{cluster}/identityBindings` for a cluster id as [`ResourcePath::parse`] validated it.
pub fn identity_bindings_url(arm: &Url, cluster: &ResourcePath) -> Url {
    api_url(
        arm,
        &format!("{}/identityBindings", cluster.path(MANAGED_CLUSTERS)),
        &format!("api-version={IDENTITY_BINDINGS_API_VERSION}"),
    )
}
