//! Azure Resource Manager `Microsoft.ManagedIdentity`: user-assigned managed identities of a subscription and
//! the federated identity credentials of each (which outside tokens, e.g. a Kubernetes service account's, can
//! be exchanged for the identity's).
//!
//! The api-version is pinned here beside its REST reference (see also `docs/collection.md`). Neither listing
//! carries a secret: a federated credential is an issuer, a subject and audiences.

use url::Url;

use super::{api_url, ResourcePath};

/// [User Assigned Identities - List By Subscription](https://learn.microsoft.com/rest/api/managedidentity/user-assigned-identities/list-by-subscription)
/// and [Federated Identity Credentials - List](https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials/list)
pub const MANAGED_IDENTITY_API_VERSION: &str = "2024-11-30";

const PROVIDER: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

/// `GET {arm}/subscriptions/{id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`.
pub fn user_assigned_identities_url(arm: &Url, subscription_id: &str) -> Url {
    api_url(
        arm,
        &format!("subscriptions/{subscription_id}/providers/{PROVIDER}"),
        &format!("api-version={MANAGED_IDENTITY_API_VERSION}"),
    )
}

/// `GET {arm}{identity}/federatedIdentityCredentials` for an identity id as
/// [`identity_path`] validated it.
pub fn federated_identity_credentials_url(arm: &Url, identity: &ResourcePath) -> Url {
    api_url(
        arm,
        &format!("{}/federatedIdentityCredentials", identity.path(PROVIDER)),
        &format!("api-version={MANAGED_IDENTITY_API_VERSION}"),
    )
}

/// Splits a user-assigned identity's resource id into its parts; `None` for any other shape or a part that
/// could not be one request path segment ([`ResourcePath::parse`]).
pub fn identity_path(id: &str) -> Option<ResourcePath> {
    ResourcePath::parse(id, PROVIDER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ids_are_checked_before_they_become_urls() {
        let id =
            "/subscriptions/s1/resourcegroups/rg-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-a";
        let p = identity_path(id).expect("valid id");
        assert_eq!((p.subscription_id.as_str(), p.resource_group.as_str(), p.name.as_str()), ("s1", "rg-1", "mi-a"));
        let arm = Url::parse("https://arm.example/").unwrap();
        assert_eq!(
            federated_identity_credentials_url(&arm, &p).as_str(),
            "https://arm.example/subscriptions/s1/resourceGroups/rg-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-a/federatedIdentityCredentials?api-version=2024-11-30"
        );
        for bad in [
            "",
            "subscriptions/s1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi",
            "/subscriptions/s1/resourcegroups/../providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi",
            "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi/x",
            "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
            "/subscriptions/s1/resourcegroups/r%2fg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi",
            "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a?b",
        ] {
            assert_eq!(identity_path(bad), None, "{bad}");
        }
    }
}
