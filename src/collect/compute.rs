//! Azure Resource Manager: the resources of a subscription that carry a managed identity (VMs, scale sets,
//! sites, Automation accounts, Logic Apps, container apps and groups, factories, and any other type), from the
//! generic listing `GET /subscriptions/{id}/resources`, whose `GenericResourceExpanded` records carry the
//! `identity` block (`type`, `principalId`, `userAssignedIdentities`).
//!
//! The listing has no documented filter on identities, so every resource is read and those without an
//! identity are dropped here. The `identity` block's shape varies between resource providers: it is read
//! leniently (a field of an unexpected type is left out), so one odd resource never costs the listing.
//! The api-version is pinned here beside its REST reference (see also `docs/collection.md`).

use std::collections::BTreeMap;

use azpath_graph::snapshot::{IdentityProperties, IdentityResource, ResourceIdentity};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::api_url;

/// [Resources - List](https://learn.microsoft.com/rest/api/resources/resources/list)
pub const RESOURCES_API_VERSION: &str = "2021-04-01";

/// The `sources[].api` and coverage name of the listing.
pub const API: &str = "arm.identityResources";

/// `GET {arm}/subscriptions/{id}/resources`.
pub fn resources_url(arm: &Url, subscription_id: &str) -> Url {
    api_url(arm, &format!("subscriptions/{subscription_id}/resources"), &format!("api-version={RESOURCES_API_VERSION}"))
}

/// One record of the listing, as read: the identity block is kept raw until [`GenericResource::with_identity`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GenericResource {
    /// Resource id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Type, e.g. `Microsoft.Compute/virtualMachines`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The `identity` block, any shape.
    #[serde(default)]
    pub identity: Option<Value>,
}

impl GenericResource {
    /// The resource as a snapshot record when it carries an identity (a system-assigned principal or a
    /// user-assigned identity); `None` otherwise (no block, `type: None`, nothing attached).
    pub fn with_identity(self) -> Option<IdentityResource> {
        let block = self.identity?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let kind = text(block.get("type"));
        let principal_id = text(block.get("principalId"));
        let users: BTreeMap<String, IdentityProperties> = block
            .get("userAssignedIdentities")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(id, v)| {
                        let props = IdentityProperties {
                            principal_id: text(v.get("principalId")),
                            client_id: text(v.get("clientId")),
                            tenant_id: None,
                        };
                        (id.clone(), props)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if principal_id.is_none() && users.is_empty() {
            return None;
        }
        let identity =
            ResourceIdentity { kind, principal_id, user_assigned_identities: (!users.is_empty()).then_some(users) };
        Some(IdentityResource { id: self.id, name: self.name, kind: self.kind, identity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> Option<IdentityResource> {
        serde_json::from_value::<GenericResource>(v).unwrap().with_identity()
    }

    #[test]
    fn resources_with_an_identity_are_kept_and_others_dropped() {
        let vm = read(serde_json::json!({"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm",
            "name": "vm", "type": "Microsoft.Compute/virtualMachines",
            "identity": {"type": "SystemAssigned, UserAssigned", "principalId": "p1", "tenantId": "t",
                "userAssignedIdentities": {"/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u":
                    {"principalId": "p2", "clientId": "c2"}}}}))
        .expect("kept");
        assert_eq!(vm.identity.principal_id.as_deref(), Some("p1"));
        let users = vm.identity.user_assigned_identities.unwrap();
        assert_eq!(users.values().next().unwrap().client_id.as_deref(), Some("c2"));
        assert!(read(serde_json::json!({"id": "x", "type": "Microsoft.Storage/storageAccounts"})).is_none());
        assert!(read(serde_json::json!({"id": "x", "identity": null})).is_none());
        assert!(read(serde_json::json!({"id": "x", "identity": {"type": "None"}})).is_none());
    }

    #[test]
    fn an_odd_identity_block_is_read_leniently() {
        let r = read(serde_json::json!({"id": "x", "type": "Contoso.Odd/things",
            "identity": {"type": 3, "principalId": "p", "userAssignedIdentities": {"/u": null}}}))
        .expect("the principal is enough");
        assert_eq!(r.identity.kind, None);
        assert_eq!(r.identity.user_assigned_identities.unwrap()["/u"].principal_id, None);
    }
}
