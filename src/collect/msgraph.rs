//! Microsoft Graph (v1.0): users, groups and their direct members, service principals, applications and their
//! federated identity credentials.
//!
//! Each listing selects only the properties the analysis needs (`$select`), which also keeps secret-bearing
//! properties out of the responses, and asks for the largest page size (`$top=999`).
//!
//! Owners of groups, service principals and applications come with those listings
//! (`$expand=owners($select=id)`) instead of one request per object. Graph pages an expanded listing by at
//! most 100 objects (whatever `$top` asks) and cuts each expanded relationship at [`EXPANDED_LIMIT`] entries without a link
//! to the rest, so an object that comes back with that many owners has them listed on their own
//! ([`owners_url`]). On a 50k-user tenant with 5k groups, 20k service principals and 8k applications that is
//! about 330 listing pages instead of 33,000 owner requests (plus one per object with 20 owners or more).
//!
//! The Entra control plane: directory role definitions, active directory-role assignments and PIM
//! eligibilities (three tenant-wide listings), the app roles each service principal publishes (`appRoles` on
//! the service principals listing) and the app roles granted to service principals. The grants come from a
//! second service principals listing that expands only `appRoleAssignments` (pages of 100, each expansion cut
//! at [`EXPANDED_LIMIT`] like owners, then completed per object with [`app_role_assignments_url`]); it is
//! a listing of its own so that a tenant refusing the expansion costs the grants, not the service principals.
//! PIM for Groups eligibility can only be listed per group (`$filter=groupId eq '…'` is required): see
//! [`group_eligibility_url`].
//!
//! Application federated credentials come from one more applications listing that expands only them
//! ([`expanded_application_federated_credentials_url`]: 80 pages for 8k applications instead of 8k requests);
//! an application it did not give whole, or every application it did not reach when it fails, is listed on its
//! own ([`application_federated_credentials_url`]). The per-object listings that remain go in JSON batches
//! ([`super::batch`]).

use azpath_graph::snapshot::{AppRoleAssignment, GraphFederatedCredential};
use serde::Deserialize;
use url::Url;

use super::api_url;

/// Every Graph API name azpath records in `sources[].api` and coverage gaps, one per row of
/// `docs/collection.md` (a test ties the two).
pub const APIS: &[&str] = &[
    "graph.users",
    "graph.groups",
    "graph.groupMembers",
    "graph.servicePrincipals",
    "graph.applications",
    "graph.owners",
    "graph.applicationFederatedCredentials",
    "graph.directoryRoleDefinitions",
    "graph.directoryRoleAssignments",
    "graph.directoryRoleEligibilityScheduleInstances",
    "graph.appRoleAssignments",
    "graph.groupEligibilityScheduleInstances",
];

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
        "$select=id,appId,displayName,servicePrincipalType,accountEnabled,alternativeNames,appOwnerOrganizationId,keyCredentials,passwordCredentials,appRoles&$expand=owners($select=id)&$top=999",
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
        &format!("$select={FEDERATED_CREDENTIAL_FIELDS}"),
    )
}

/// The properties of a federated identity credential azpath keeps.
const FEDERATED_CREDENTIAL_FIELDS: &str = "id,name,issuer,subject,audiences";

/// [List applications](https://learn.microsoft.com/graph/api/application-list) again, with only each
/// application's `federatedIdentityCredentials` expanded: one listing (pages of 100) instead of one request per
/// application. The `federatedIdentityCredentials` relationship of the v1.0 application resource "supports
/// `$expand` and `$filter`"; an application holds at most 20 credentials, so the expansion is whole, and one
/// that comes back with [`EXPANDED_LIMIT`] is still listed on its own, as owners are.
pub fn expanded_application_federated_credentials_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/applications"),
        &format!("$select=id&$expand=federatedIdentityCredentials($select={FEDERATED_CREDENTIAL_FIELDS})&$top=999"),
    )
}

/// One record of [`expanded_application_federated_credentials_url`]: an application's object id and its
/// federated identity credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedFederatedCredentials {
    /// The application's object id.
    pub id: String,
    /// Its federated identity credentials (`None` when the server left the expansion out).
    #[serde(default)]
    pub federated_identity_credentials: Option<Vec<GraphFederatedCredential>>,
}

/// Most entries Graph returns for an expanded relationship of a directory object; a list this long may be
/// cut ([`$expand` limits](https://learn.microsoft.com/graph/query-parameters#expand-parameter)).
pub const EXPANDED_LIMIT: usize = 20;

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
/// owners may have been cut at [`EXPANDED_LIMIT`].
pub fn owners_url(graph: &Url, collection: OwnedCollection, id: &str) -> Url {
    api_url(graph, &format!("{GRAPH_VERSION}/{}/{id}/owners", collection.segment()), "$select=id&$top=999")
}

/// The properties of an app role assignment azpath keeps (`$select` on the expansion and the per-object list).
const APP_ROLE_ASSIGNMENT_FIELDS: &str = "id,appRoleId,principalId,principalType,resourceId,resourceDisplayName";

/// [List servicePrincipals](https://learn.microsoft.com/graph/api/serviceprincipal-list) again, with only the
/// app roles granted to each ([appRoleAssignments](https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments))
/// expanded: one listing for the whole tenant instead of one request per service principal.
pub fn service_principal_app_role_assignments_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/servicePrincipals"),
        &format!("$select=id&$expand=appRoleAssignments($select={APP_ROLE_ASSIGNMENT_FIELDS})&$top=999"),
    )
}

/// [List appRoleAssignments](https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments)
/// granted to one service principal, for one whose expanded list may have been cut at [`EXPANDED_LIMIT`].
pub fn app_role_assignments_url(graph: &Url, service_principal_id: &str) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/servicePrincipals/{service_principal_id}/appRoleAssignments"),
        &format!("$select={APP_ROLE_ASSIGNMENT_FIELDS}&$top=999"),
    )
}

/// One record of [`service_principal_app_role_assignments_url`]: a service principal's id and the app roles
/// granted to it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedAppRoleAssignments {
    /// The service principal's object id.
    pub id: String,
    /// The app roles granted to it (at most [`EXPANDED_LIMIT`] of them).
    #[serde(default)]
    pub app_role_assignments: Option<Vec<AppRoleAssignment>>,
}

/// [List unifiedRoleDefinitions](https://learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions) of
/// the directory provider: built-in and custom Entra roles with their `allowedResourceActions`.
pub fn directory_role_definitions_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/roleManagement/directory/roleDefinitions"),
        "$select=id,displayName,isBuiltIn,isEnabled,templateId,rolePermissions",
    )
}

/// [List unifiedRoleAssignments](https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments) of
/// the directory provider: active directory-role assignments with their directory scope.
pub fn directory_role_assignments_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/roleManagement/directory/roleAssignments"),
        "$select=id,principalId,roleDefinitionId,directoryScopeId,appScopeId",
    )
}

/// [List roleEligibilityScheduleInstances](https://learn.microsoft.com/graph/api/rbacapplication-list-roleeligibilityscheduleinstances)
/// of the directory provider: PIM eligibilities for directory roles.
pub fn directory_role_eligibility_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/roleManagement/directory/roleEligibilityScheduleInstances"),
        "$select=id,principalId,roleDefinitionId,directoryScopeId,appScopeId,startDateTime,endDateTime,memberType,roleEligibilityScheduleId",
    )
}

/// [List eligibilityScheduleInstances](https://learn.microsoft.com/graph/api/privilegedaccessgroup-list-eligibilityscheduleinstances)
/// of PIM for Groups for one group: Graph requires the `groupId` (or `principalId`) filter, so this is one
/// request per group. The caller checks that `group_id` is a plain id (letters, digits, `-_.()`), so it cannot
/// break out of the quoted filter value.
pub fn group_eligibility_url(graph: &Url, group_id: &str) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"),
        &format!(
            "$filter=groupId%20eq%20'{group_id}'&$select=id,groupId,principalId,accessId,memberType,startDateTime,endDateTime"
        ),
    )
}
