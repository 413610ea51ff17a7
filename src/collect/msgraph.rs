//! Microsoft Graph (v1.0): users, groups and their direct members, service principals, applications and their
//! federated identity credentials.
//!
//! Each listing selects only the properties the analysis needs (`$select`), which also keeps secret-bearing
//! properties out of the responses, and asks for the largest page size (`$top=999`).

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
        "$select=id,displayName,securityEnabled,isAssignableToRole,groupTypes,membershipRule&$top=999",
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
        "$select=id,appId,displayName,servicePrincipalType,accountEnabled,alternativeNames,appOwnerOrganizationId,keyCredentials,passwordCredentials&$top=999",
    )
}

/// [List applications](https://learn.microsoft.com/graph/api/application-list)
pub fn applications_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/applications"),
        "$select=id,appId,displayName,signInAudience,keyCredentials,passwordCredentials&$top=999",
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
