//! Azure Resource Manager `Microsoft.Kubernetes`: Arc-connected Kubernetes clusters of a subscription, with
//! their identity, Entra integration, OIDC issuer and workload identity settings.
//!
//! The api-version is pinned here beside its REST reference (see also `docs/collection.md`).

use url::Url;

use super::api_url;

/// [Connected Cluster - List By Subscription](https://learn.microsoft.com/rest/api/hybridkubernetes/connected-cluster/list-by-subscription).
/// 2026-05-01 is the first GA version with `oidcIssuerProfile` and `securityProfile.workloadIdentity`
/// (azure-rest-api-specs `hybridkubernetes/…/stable/2026-05-01`); 2024-01-01 has neither, so federated
/// credentials could not be matched to an Arc cluster's issuer with it.
pub const CONNECTED_CLUSTERS_API_VERSION: &str = "2026-05-01";

/// `GET {arm}/subscriptions/{id}/providers/Microsoft.Kubernetes/connectedClusters`.
pub fn connected_clusters_url(arm: &Url, subscription_id: &str) -> Url {
    api_url(
        arm,
        &format!("subscriptions/{subscription_id}/providers/Microsoft.Kubernetes/connectedClusters"),
        &format!("api-version={CONNECTED_CLUSTERS_API_VERSION}"),
    )
}
