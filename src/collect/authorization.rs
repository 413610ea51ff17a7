//! Azure RBAC (`Microsoft.Authorization`): role definitions, role assignments, deny assignments and PIM
//! eligibility schedule instances, listed at a subscription or management-group scope.
//!
//! At a management group the assignment listings use `$filter=atScope()` (assignments at the group and
//! above): a plain listing there would return everything below it too, which the subscription listings
//! already cover. The api-versions are pinned here, each beside its REST reference.

use url::Url;

use super::api_url;

/// [Role Definitions - List](https://learn.microsoft.com/rest/api/authorization/role-definitions/list)
pub const ROLE_DEFINITIONS_API_VERSION: &str = "2022-04-01";
/// [Role Assignments - List For Scope](https://learn.microsoft.com/rest/api/authorization/role-assignments/list-for-scope)
pub const ROLE_ASSIGNMENTS_API_VERSION: &str = "2022-04-01";
/// [Deny Assignments - List For Scope](https://learn.microsoft.com/rest/api/authorization/deny-assignments/list-for-scope)
pub const DENY_ASSIGNMENTS_API_VERSION: &str = "2022-04-01";
/// [Role Eligibility Schedule Instances - List For Scope](https://learn.microsoft.com/rest/api/authorization/role-eligibility-schedule-instances/list-for-scope)
pub const ROLE_ELIGIBILITY_API_VERSION: &str = "2020-10-01";

/// The RBAC collections azpath lists at each scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbacList {
    /// `roleDefinitions`.
    RoleDefinitions,
    /// `roleAssignments`.
    RoleAssignments,
    /// `denyAssignments`.
    DenyAssignments,
    /// `roleEligibilityScheduleInstances`.
    RoleEligibilityScheduleInstances,
}

impl RbacList {
    /// All four, in collection order.
    pub const ALL: [RbacList; 4] = [
        RbacList::RoleDefinitions,
        RbacList::RoleAssignments,
        RbacList::DenyAssignments,
        RbacList::RoleEligibilityScheduleInstances,
    ];

    /// The snapshot `api` name (`arm.roleAssignments`).
    pub fn api(self) -> &'static str {
        match self {
            RbacList::RoleDefinitions => "arm.roleDefinitions",
            RbacList::RoleAssignments => "arm.roleAssignments",
            RbacList::DenyAssignments => "arm.denyAssignments",
            RbacList::RoleEligibilityScheduleInstances => "arm.roleEligibilityScheduleInstances",
        }
    }

    fn resource_and_version(self) -> (&'static str, &'static str) {
        match self {
            RbacList::RoleDefinitions => ("roleDefinitions", ROLE_DEFINITIONS_API_VERSION),
            RbacList::RoleAssignments => ("roleAssignments", ROLE_ASSIGNMENTS_API_VERSION),
            RbacList::DenyAssignments => ("denyAssignments", DENY_ASSIGNMENTS_API_VERSION),
            RbacList::RoleEligibilityScheduleInstances => {
                ("roleEligibilityScheduleInstances", ROLE_ELIGIBILITY_API_VERSION)
            }
        }
    }

    /// `GET {arm}{scope}/providers/Microsoft.Authorization/{resource}`; `at_scope_only` adds
    /// `$filter=atScope()` (not for role definitions, which have no such filter).
    pub fn url(self, arm: &Url, scope: &str, at_scope_only: bool) -> Url {
        let (resource, version) = self.resource_and_version();
        let mut query = format!("api-version={version}");
        if at_scope_only && self != RbacList::RoleDefinitions {
            query.push_str("&$filter=atScope()");
        }
        api_url(arm, &format!("{scope}/providers/Microsoft.Authorization/{resource}"), &query)
    }
}
