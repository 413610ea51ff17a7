//! Microsoft Graph (v1.0): users, groups and their direct members, service principals, applications and their
//! federated identity credentials.
//!
//! Each listing selects only the properties the analysis needs (`$select`), which also keeps secret-bearing
//! properties out of the responses, and asks for the largest page size (`$top=999`).
//!
//! Owners of groups, service principals and applications come with those listings
//! (`$expand=owners($select=id)`) instead of one request per object. Graph pages an expanded listing by at
//! most 100 objects (whatever `$top` asks) and cuts each expanded relationship at [`EXPANDED_OWNERS_LIMIT`] entries without a link
//! to the rest, so an object that comes back with that many owners has them listed on their own
//! ([`owners_url`]). On a 50k-user tenant with 5k groups, 20k service principals and 8k applications that is
//! about 330 listing pages instead of 33,000 owner requests (plus one per object with 20 owners or more).

use url::Url;

use super::api_url;

/// The Graph API version every request uses ([v1.0 reference](https://learn.microsoft.com/graph/api/overview)).
pub const GRAPH_VERSION: &str = "v1.0";

/// [List users](https://learn.microsoft.com/graph/api/user-list)
pub fn users_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/users"),
        "$select=id,displayName,userPrincipalName,accountEnabled,userType&$top=999",
    )
}

/// [List groups](https://learn.microsoft.com/graph/api/group-list)
pub fn groups_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/groups"),
        "$select=id,displayName,securityEnabled,isAssignableToRole,groupTypes,membershipRule&$expand=owners($select=id)&$top=999",
    )
}

/// [List group members](https://learn.microsoft.com/graph/api/group-list-members) (direct members only)
pub fn group_members_url(graph: &Url, group_id: &str) -> Url {
    api_url(graph, &format!("{GRAPH_VERSION}/groups/{group_id}/members"), "$select=id,displayName&$top=999")
}

/// [List servicePrincipals](https://learn.microsoft.com/graph/api/serviceprincipal-list)
pub fn service_principals_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/servicePrincipals"),
        "$select=id,appId,displayName,servicePrincipalType,accountEnabled,alternativeNames,appOwnerOrganizationId,keyCredentials,passwordCredentials&$expand=owners($select=id)&$top=999",
    )
}

/// [List applications](https://learn.microsoft.com/graph/api/application-list)
pub fn applications_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/applications"),
        "$select=id,appId,displayName,signInAudience,keyCredentials,passwordCredentials&$expand=owners($select=id)&$top=999",
    )
}

/// [List federatedIdentityCredentials](https://learn.microsoft.com/graph/api/application-list-federatedidentitycredentials)
/// of one application (by object id). The listing supports `$select` but not `$top`.
pub fn application_federated_credentials_url(graph: &Url, application_id: &str) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/applications/{application_id}/federatedIdentityCredentials"),
        "$select=id,name,issuer,subject,audiences",
    )
}

/// Most entries Graph returns for an expanded relationship of a directory object; a list this long may be
/// cut ([`$expand` limits](https://learn.microsoft.com/graph/query-parameters#expand-parameter)).
pub const EXPANDED_OWNERS_LIMIT: usize = 20;

/// The directory collections whose objects have owners that azpath reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnedCollection {
    /// `groups`: owners can add members.
    Groups,
    /// `servicePrincipals`: owners can add credentials.
    ServicePrincipals,
    /// `applications`: owners can add credentials.
    Applications,
}

impl OwnedCollection {
    /// The URL path segment.
    pub fn segment(self) -> &'static str {
        match self {
            OwnedCollection::Groups => "groups",
            OwnedCollection::ServicePrincipals => "servicePrincipals",
            OwnedCollection::Applications => "applications",
        }
    }
}

/// List owners of a [group](https://learn.microsoft.com/graph/api/group-list-owners),
/// [service principal](https://learn.microsoft.com/graph/api/serviceprincipal-list-owners) or
/// [application](https://learn.microsoft.com/graph/api/application-list-owners), for objects whose expanded
/// owners may have been cut at [`EXPANDED_OWNERS_LIMIT`].
pub fn owners_url(graph: &Url, collection: OwnedCollection, id: &str) -> Url {
    api_url(graph, &format!("{GRAPH_VERSION}/{}/{id}/owners", collection.segment()), "$select=id&$top=999")
}
