//! Azure Resource Manager `Microsoft.ManagedIdentity`: user-assigned managed identities of a subscription and
//! the federated identity credentials of each (which outside tokens, e.g. a Kubernetes service account's, can
//! be exchanged for the identity's).
//!
//! The api-version is pinned here beside its REST reference (see also `docs/collection.md`). Neither listing
//! carries a secret: a federated credential is an issuer, a subject and audiences.

use url::Url;

use super::api_url;

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
pub fn federated_identity_credentials_url(arm: &Url, identity: &IdentityPath) -> Url {
    let IdentityPath { subscription_id, resource_group, name } = identity;
    api_url(
        arm,
        &format!(
            "subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{PROVIDER}/{name}/federatedIdentityCredentials"
        ),
        &format!("api-version={MANAGED_IDENTITY_API_VERSION}"),
    )
}

/// The parts of a user-assigned identity's resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPath {
    /// Subscription id.
    pub subscription_id: String,
    /// Resource group name.
    pub resource_group: String,
    /// Identity name.
    pub name: String,
}

/// Splits `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`
/// (any case) into its parts; `None` for any other shape or a part that could not be one request path segment.
/// The id comes from an API response, so it is checked before it becomes part of a URL.
pub fn identity_path(id: &str) -> Option<IdentityPath> {
    let parts: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    let [subs, sub, rgs, rg, providers, namespace, kind, name] = parts.as_slice() else { return None };
    let literal = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
    let shaped = literal(subs, "subscriptions")
        && literal(rgs, "resourceGroups")
        && literal(providers, "providers")
        && literal(namespace, "Microsoft.ManagedIdentity")
        && literal(kind, "userAssignedIdentities");
    (shaped && safe_segment(sub) && safe_segment(rg) && safe_segment(name)).then(|| IdentityPath {
        subscription_id: (*sub).to_string(),
        resource_group: (*rg).to_string(),
        name: (*name).to_string(),
    })
}

/// A resource group or resource name usable as one path segment: Azure allows Unicode letters, digits and
/// `-_.()` in them; anything that could change the path (`/`, `\`, `?`, `#`, `%`, dot segments, control
/// characters) is refused.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '\\' | '?' | '#' | '%'))
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
