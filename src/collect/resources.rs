//! Azure Resource Manager: subscriptions, the management-group tree, resource groups.
//!
//! The api-versions are pinned here, each beside its REST reference (see also `docs/collection.md`).

use serde::Deserialize;
use url::Url;

use super::api_url;

/// [Subscriptions - List](https://learn.microsoft.com/rest/api/resources/subscriptions/list) and
/// [Get](https://learn.microsoft.com/rest/api/resources/subscriptions/get)
pub const SUBSCRIPTIONS_API_VERSION: &str = "2022-12-01";
/// [Management Groups - List](https://learn.microsoft.com/rest/api/managementgroups/management-groups/list),
/// [Get](https://learn.microsoft.com/rest/api/managementgroups/management-groups/get) and
/// [Get Descendants](https://learn.microsoft.com/rest/api/managementgroups/management-groups/get-descendants)
pub const MANAGEMENT_GROUPS_API_VERSION: &str = "2023-04-01";
/// [Resource Groups - List](https://learn.microsoft.com/rest/api/resources/resource-groups/list)
pub const RESOURCE_GROUPS_API_VERSION: &str = "2021-04-01";

const MG_PROVIDER: &str = "/providers/Microsoft.Management/managementGroups";

/// `GET {arm}/subscriptions`.
pub fn subscriptions_url(arm: &Url) -> Url {
    api_url(arm, "subscriptions", &format!("api-version={SUBSCRIPTIONS_API_VERSION}"))
}

/// `GET {arm}/subscriptions/{id}`: one subscription, read directly when the listing broke off before it.
pub fn subscription_url(arm: &Url, subscription_id: &str) -> Url {
    api_url(arm, &format!("subscriptions/{subscription_id}"), &format!("api-version={SUBSCRIPTIONS_API_VERSION}"))
}

/// `GET {arm}/providers/Microsoft.Management/managementGroups`.
pub fn management_groups_url(arm: &Url) -> Url {
    api_url(arm, MG_PROVIDER, &format!("api-version={MANAGEMENT_GROUPS_API_VERSION}"))
}

/// `GET {arm}/providers/Microsoft.Management/managementGroups/{name}?$expand=children`.
pub fn management_group_url(arm: &Url, name: &str) -> Url {
    api_url(
        arm,
        &format!("{MG_PROVIDER}/{name}"),
        &format!("api-version={MANAGEMENT_GROUPS_API_VERSION}&$expand=children"),
    )
}

/// `GET {arm}/providers/Microsoft.Management/managementGroups/{name}/descendants`.
pub fn descendants_url(arm: &Url, name: &str) -> Url {
    api_url(arm, &format!("{MG_PROVIDER}/{name}/descendants"), &format!("api-version={MANAGEMENT_GROUPS_API_VERSION}"))
}

/// `GET {arm}/subscriptions/{id}/resourcegroups`.
pub fn resource_groups_url(arm: &Url, subscription_id: &str) -> Url {
    api_url(
        arm,
        &format!("subscriptions/{subscription_id}/resourcegroups"),
        &format!("api-version={RESOURCE_GROUPS_API_VERSION}"),
    )
}

/// The scope id of a management group.
pub fn management_group_scope(name: &str) -> String {
    format!("{MG_PROVIDER}/{name}")
}

/// One entry of `GET …/managementGroups/{name}/descendants`: a management group or a subscription.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descendant {
    /// `/providers/Microsoft.Management/managementGroups/{name}` or `/subscriptions/{id}`.
    pub id: String,
    /// `Microsoft.Management/managementGroups` or `Microsoft.Management/managementGroups/subscriptions`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Group name or subscription id.
    #[serde(default)]
    pub name: String,
    /// Display name and parent.
    #[serde(default)]
    pub properties: DescendantProperties,
}

/// Properties of a [`Descendant`].
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DescendantProperties {
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The direct parent group.
    #[serde(default)]
    pub parent: Option<azpath_graph::snapshot::ParentRef>,
}

impl Descendant {
    /// True for a subscription entry.
    pub fn is_subscription(&self) -> bool {
        self.kind.to_ascii_lowercase().ends_with("/subscriptions")
            || self.id.to_ascii_lowercase().starts_with("/subscriptions/")
    }
}
