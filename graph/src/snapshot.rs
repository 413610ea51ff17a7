//! The snapshot: everything a collection saw, as typed records in the shapes the APIs return them.
//!
//! A snapshot holds raw-but-typed records (no derived edges), what was collected from where, and what could
//! not be collected (coverage gaps). It never holds a secret value: the wire types below simply have no field
//! for one (an application's `passwordCredentials` keep their ids and expiry dates, never `secretText`).
//!
//! Field names follow the REST APIs (camelCase, ARM `properties` envelopes), so a record copied from an API
//! response or from `az ... -o json` deserializes as is. Unknown fields are ignored.

use serde::{Deserialize, Serialize};

/// The snapshot format version. Bump on any change that an older reader would misread.
pub const SCHEMA_VERSION: u32 = 1;

/// One collection of a tenant: Azure resource manager data, Entra data, and coverage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`SCHEMA_VERSION`] when written by this version of azpath.
    pub schema_version: u32,
    /// Where and when the data was collected. Required (with its `collected_at`), so that a JSON document
    /// that is not a snapshot, such as `{"schema_version": 1}`, is not read as an empty tenant.
    pub metadata: Metadata,
    /// Azure Resource Manager records.
    #[serde(default)]
    pub azure: AzureData,
    /// Microsoft Entra (Graph) records.
    #[serde(default)]
    pub entra: EntraData,
    /// Kubernetes objects, one entry per collected cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes: Vec<crate::kube::KubeCluster>,
    /// Each API listing that was collected: where from and how many records it gave.
    #[serde(default)]
    pub sources: Vec<SourceRecord>,
    /// Each API listing that could not be collected, and why.
    #[serde(default)]
    pub coverage: Vec<CoverageGap>,
}

/// Where and when a snapshot was collected.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Metadata {
    /// azpath version that wrote the snapshot.
    #[serde(default)]
    pub tool_version: String,
    /// RFC 3339 time the collection started (required; empty in synthetic snapshots).
    pub collected_at: String,
    /// Cloud name (`public`, `usgov`, `china`, `custom`).
    #[serde(default)]
    pub cloud: String,
    /// Resource manager base URL used.
    #[serde(default)]
    pub arm_url: String,
    /// Microsoft Graph base URL used.
    #[serde(default)]
    pub graph_url: String,
    /// Entra tenant id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// Azure Resource Manager records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureData {
    /// Management groups, with their parent and children.
    #[serde(default)]
    pub management_groups: Vec<ManagementGroup>,
    /// Subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// Resource groups of the collected subscriptions.
    #[serde(default)]
    pub resource_groups: Vec<ResourceGroup>,
    /// Role definitions (built-in and custom), de-duplicated by id.
    #[serde(default)]
    pub role_definitions: Vec<RoleDefinition>,
    /// Active role assignments, de-duplicated by id.
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
    /// PIM eligible assignments (`roleEligibilityScheduleInstances`), de-duplicated by id.
    #[serde(default)]
    pub role_eligibility_schedule_instances: Vec<RoleEligibilityScheduleInstance>,
    /// Deny assignments, de-duplicated by id.
    #[serde(default)]
    pub deny_assignments: Vec<DenyAssignment>,
    /// User-assigned managed identities (`Microsoft.ManagedIdentity/userAssignedIdentities`).
    #[serde(default)]
    pub user_assigned_identities: Vec<UserAssignedIdentity>,
    /// Federated identity credentials of user-assigned identities (the parent identity is in the id).
    #[serde(default)]
    pub federated_identity_credentials: Vec<FederatedIdentityCredential>,
    /// AKS clusters (`Microsoft.ContainerService/managedClusters`).
    #[serde(default)]
    pub managed_clusters: Vec<ManagedCluster>,
    /// Arc-connected Kubernetes clusters (`Microsoft.Kubernetes/connectedClusters`).
    #[serde(default)]
    pub connected_clusters: Vec<ConnectedCluster>,
    /// AKS identity bindings (`managedClusters/identityBindings`): which user-assigned identities each
    /// cluster's workloads may use without a federated credential of their own.
    #[serde(default)]
    pub identity_bindings: Vec<IdentityBinding>,
    /// Resources that carry a managed identity (`GET /subscriptions/{id}/resources`, those with an `identity`
    /// block): VMs, scale sets, sites, Automation accounts, Logic Apps, container apps and groups, factories, …
    #[serde(default)]
    pub identity_resources: Vec<IdentityResource>,
}

/// Microsoft Entra records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraData {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Direct members of each group (`GET /groups/{id}/members`); nesting is resolved by the graph.
    #[serde(default)]
    pub group_members: Vec<GroupMembers>,
    /// Service principals (applications, managed identities, legacy).
    #[serde(default)]
    pub service_principals: Vec<ServicePrincipal>,
    /// Application registrations.
    #[serde(default)]
    pub applications: Vec<Application>,
    /// Federated identity credentials of each application (`GET /applications/{id}/federatedIdentityCredentials`).
    #[serde(default)]
    pub application_federated_credentials: Vec<ApplicationFederatedCredentials>,
    /// Directory role definitions, built-in and custom (`GET /roleManagement/directory/roleDefinitions`).
    #[serde(default)]
    pub directory_role_definitions: Vec<DirectoryRoleDefinition>,
    /// Active directory-role assignments (`GET /roleManagement/directory/roleAssignments`).
    #[serde(default)]
    pub directory_role_assignments: Vec<DirectoryRoleAssignment>,
    /// PIM-eligible directory-role assignments (`GET /roleManagement/directory/roleEligibilityScheduleInstances`).
    #[serde(default)]
    pub directory_role_eligibility_schedule_instances: Vec<DirectoryRoleEligibilityScheduleInstance>,
    /// App roles granted to service principals (`appRoleAssignments` of each service principal): application
    /// permissions such as Microsoft Graph's `RoleManagement.ReadWrite.Directory`, resolved through the resource
    /// service principal's [`ServicePrincipal::app_roles`].
    #[serde(default)]
    pub app_role_assignments: Vec<AppRoleAssignment>,
    /// PIM for Groups eligible memberships and ownerships
    /// (`GET /identityGovernance/privilegedAccess/group/eligibilityScheduleInstances`, per group).
    #[serde(default)]
    pub group_eligibility_schedule_instances: Vec<GroupEligibilityScheduleInstance>,
    /// Administrative units (`GET /directory/administrativeUnits`): a directory-role assignment scoped to
    /// `/administrativeUnits/{id}` reaches the unit's members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub administrative_units: Vec<AdministrativeUnit>,
    /// Direct members of each administrative unit (`GET /directory/administrativeUnits/{id}/members`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub administrative_unit_members: Vec<AdministrativeUnitMembers>,
}

/// One API listing that was collected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceRecord {
    /// The API family and collection, e.g. `arm.roleAssignments`, `graph.users`.
    pub api: String,
    /// The scope it was listed at (`/subscriptions/…`, `tenant`).
    pub scope: String,
    /// How many records it returned.
    pub count: usize,
}

/// Why an API listing could not be collected.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// 401: the token was rejected.
    Unauthorized,
    /// 403: the caller may not read this.
    Forbidden,
    /// 404: the scope or API does not exist (or is hidden from the caller).
    NotFound,
    /// 429/503 kept coming after the retry budget was spent.
    Throttled,
    /// Other HTTP error status.
    HttpError,
    /// Connection, TLS or timeout failure.
    Transport,
    /// No complete response (sending the request and reading its whole body) within the request deadline
    /// (`--request-timeout`): a server that stalls or drip-feeds its body.
    Timeout,
    /// The body could not be parsed.
    Malformed,
    /// A `nextLink` pointed at a host the token may not be sent to, or over plain http.
    UntrustedNextLink,
    /// A `nextLink` repeated an earlier page.
    PageLoop,
    /// No credential could produce a token for this API.
    NoCredential,
}

/// An API listing that could not be collected, and what that may hide.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct CoverageGap {
    /// The API family and collection, as in [`SourceRecord::api`].
    pub api: String,
    /// The scope it was listed at.
    pub scope: String,
    /// Classified cause.
    pub reason: GapReason,
    /// HTTP status, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Human-readable detail (never contains a token or secret).
    pub message: String,
}

impl CoverageGap {
    /// What a gap in one of the Entra control-plane listings hides.
    fn entra_control_hides(api: &str) -> Option<&'static str> {
        Some(match api {
            "graph.directoryRoleDefinitions" => "directory role definitions are missing: what custom Entra roles allow is unknown, so paths through them are not reported",
            "graph.directoryRoleAssignments" => "active directory-role assignments are missing: paths through Entra roles (Global Administrator, Privileged Role Administrator, Application Administrator, …) are not reported",
            "graph.directoryRoleEligibilityScheduleInstances" => "PIM-eligible directory roles are missing: Entra role paths that need a JIT activation are not reported",
            "graph.appRoleAssignments" => "app role assignments are missing: service principals holding application permissions (Microsoft Graph `RoleManagement.ReadWrite.Directory`, …) are not reported",
            "graph.groupEligibilityScheduleInstances" => "PIM for Groups eligibilities are missing: principals eligible to become a member or owner of this group are not reported",
            "graph.administrativeUnits" => "administrative units are missing: directory roles scoped to one reach nothing, and tenant-wide roles are not kept out of restricted management units, so paths may be missed or over-reported",
            "graph.administrativeUnitMembers" => "this administrative unit's members are missing: what directory roles scoped to it reach is not reported",
            _ => return None,
        })
    }

    /// What conclusions a gap in this API may hide, for the report.
    pub fn may_hide(&self) -> &'static str {
        let api = self.api.as_str();
        if let Some(hidden) = Self::entra_control_hides(api) {
            hidden
        } else if api == crate::kube_dump::DUMP_API {
            "this cluster's Kubernetes objects are analyzed but not linked to an Azure cluster: paths through its workload identities (OIDC issuer), admin credentials and Azure RBAC for Kubernetes are not reported"
        } else if api == "kube.context" {
            "this kubeconfig context could not be collected: paths through its cluster's Kubernetes RBAC, service accounts and ASO credentials are not reported"
        } else if api == "kube.secrets" {
            "Secrets are missing: ASO credentials, client secrets and service-account token Secrets in this cluster are unknown, so paths through them are not reported"
        } else if api == "kube.customresourcedefinitions" {
            "installed CRDs are missing: ASO and pod-identity resources were not listed, and ASO paths are treated as if no ASO CRD were installed"
        } else if api.starts_with("kube.") {
            "Kubernetes objects of this kind are missing in this cluster: paths through them are not reported"
        } else if api.ends_with("federatedIdentityCredentials") || api.ends_with("FederatedCredentials") {
            "federated credentials are missing: workloads (Kubernetes service accounts, pipelines) that can act as this identity or application are not reported"
        } else if api.ends_with("userAssignedIdentities") {
            "managed identities are missing: their federated credentials were not read, so workloads that can act as them are not reported"
        } else if api.ends_with("identityBindings") {
            "AKS identity bindings are missing: service accounts that use a managed identity through a binding are not reported"
        } else if api.ends_with("managedClusters") {
            "AKS clusters are missing: cluster-admin paths and links from their workloads to Azure identities are not reported"
        } else if api.ends_with("connectedClusters") {
            "Arc-connected clusters are missing: links from their workloads to Azure identities are not reported"
        } else if api.ends_with("roleAssignments") {
            "role assignments at or under this scope are missing: paths through them are not reported"
        } else if api.ends_with("roleEligibilityScheduleInstances") {
            "PIM-eligible assignments are missing: paths that need a JIT activation are not reported"
        } else if api.ends_with("denyAssignments") {
            "deny assignments are missing: some reported paths may in fact be blocked"
        } else if api.ends_with("roleDefinitions") {
            "custom role definitions are missing: assignments of unknown roles are reported as conditional or skipped"
        } else if api.contains("managementGroup") {
            "the management-group tree is incomplete: assignments inherited from management groups may be missed"
        } else if api.ends_with("resourceGroups") {
            "resource groups are missing: resource-group scopes are shown without names"
        } else if api.ends_with("subscriptions") {
            "subscriptions beyond those listed were not scanned: nothing under them is analyzed"
        } else if api.to_ascii_lowercase().contains("members") {
            "group memberships are missing: members of this group are not shown as inheriting its roles"
        } else if api.starts_with("graph.") {
            "directory objects are missing: principals are shown by object id only"
        } else {
            "objects of this kind are missing for this scope: paths through them are not reported"
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ARM wire types
// ---------------------------------------------------------------------------------------------------------

/// `Microsoft.Management/managementGroups` (2023-04-01), as returned by GET with `$expand=children`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagementGroup {
    /// `/providers/Microsoft.Management/managementGroups/{name}`.
    pub id: String,
    /// Group name (the tenant root group is named after the tenant id).
    #[serde(default)]
    pub name: String,
    /// Group properties.
    #[serde(default)]
    pub properties: ManagementGroupProperties,
}

/// Properties of a management group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagementGroupProperties {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Details, including the parent group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ManagementGroupDetails>,
    /// Direct children (management groups and subscriptions), when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<ManagementGroupChild>>,
}

/// `properties.details` of a management group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagementGroupDetails {
    /// The parent group; absent for the tenant root group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
}

/// A reference to a parent management group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// Parent resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A child of a management group: another group (`Microsoft.Management/managementGroups`) or a subscription
/// (`/subscriptions`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagementGroupChild {
    /// Child resource id.
    pub id: String,
    /// Child type.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Child name.
    #[serde(default)]
    pub name: String,
    /// Child display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Grandchildren, when the API recursed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<ManagementGroupChild>>,
}

/// A subscription (`GET /subscriptions`, 2022-12-01).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// `/subscriptions/{subscriptionId}`.
    pub id: String,
    /// Subscription GUID.
    #[serde(default)]
    pub subscription_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `Enabled`, `Disabled`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Home tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// A resource group (`GET /subscriptions/{id}/resourcegroups`, 2021-04-01).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroup {
    /// `/subscriptions/{id}/resourceGroups/{name}`.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A role definition (`Microsoft.Authorization/roleDefinitions`, 2022-04-01).
///
/// Also accepts the flattened shape printed by `az role definition list` and the Azure docs (`roleName`,
/// `roleType`, `permissions` at top level), converting it to the ARM shape.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// `/subscriptions/{id}/providers/Microsoft.Authorization/roleDefinitions/{guid}` or the `/providers/…` form.
    pub id: String,
    /// The role definition GUID.
    #[serde(default)]
    pub name: String,
    /// Properties.
    #[serde(default)]
    pub properties: RoleDefinitionProperties,
}

/// Properties of a role definition.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    /// Role name, e.g. `Owner`.
    #[serde(default)]
    pub role_name: String,
    /// `BuiltInRole` or `CustomRole`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub role_type: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Permission blocks; each is its own `actions` minus `notActions`.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Scopes the role can be assigned at.
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
}

/// One permission block of a role or deny assignment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// Allowed (or, in a deny assignment, denied) control-plane actions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<String>,
    /// Control-plane actions subtracted from `actions`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub not_actions: Vec<String>,
    /// Data-plane actions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data_actions: Vec<String>,
    /// Data-plane actions subtracted from `dataActions`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub not_data_actions: Vec<String>,
}

/// A list read to its exact length: a `Vec` read from JSON grows by doubling (the parser does not know the
/// length in advance), so 83k groups' member lists at the 1M tier held ~40 % more room than members. Each
/// list is given back its spare room as soon as it is read, while the rest of the document is parsed.
fn fitted<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut v = Vec::<T>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

/// A [`Str`] of its own, not looked up in the active [`Interner`]: for values that are mostly unique in a real
/// tenant, where a table entry per value costs more than sharing saves. Users' display names: at 300k users,
/// made unique, interning them cost 8 % more CPU for the whole `bench read` and 5 MB more at the read's peak
/// and saved nothing; on the generator's names (drawn from short lists) it saved 11 MB (BENCHMARKS.md, h45).
fn unshared<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Str>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Str::from))
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl<'de> Deserialize<'de> for RoleDefinition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Either {
            id: String,
            #[serde(default)]
            name: String,
            #[serde(default)]
            properties: Option<RoleDefinitionProperties>,
            // Flattened (az CLI / docs) shape.
            #[serde(default)]
            role_name: Option<String>,
            #[serde(default)]
            role_type: Option<String>,
            #[serde(default)]
            description: Option<String>,
            #[serde(default)]
            permissions: Option<Vec<Permission>>,
            #[serde(default)]
            assignable_scopes: Option<Vec<String>>,
        }
        let e = Either::deserialize(d)?;
        let properties = match e.properties {
            Some(p) => p,
            None => RoleDefinitionProperties {
                role_name: e.role_name.unwrap_or_default(),
                role_type: e.role_type,
                description: e.description,
                permissions: e.permissions.unwrap_or_default(),
                assignable_scopes: e.assignable_scopes.unwrap_or_default(),
            },
        };
        Ok(RoleDefinition { id: e.id, name: e.name, properties })
    }
}

/// An active role assignment (`Microsoft.Authorization/roleAssignments`, 2022-04-01).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Assignment resource id.
    pub id: String,
    /// Assignment GUID.
    #[serde(default)]
    pub name: String,
    /// Properties.
    pub properties: AssignmentProperties,
}

/// Properties shared by role assignments and PIM schedule instances.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentProperties {
    /// The scope the assignment is made at.
    pub scope: Str,
    /// The role definition's resource id (its last segment is the GUID).
    pub role_definition_id: Str,
    /// Entra object id of the assignee.
    pub principal_id: Str,
    /// `User`, `Group`, `ServicePrincipal`, `ForeignGroup`, `Device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<Str>,
    /// ABAC condition, e.g. the constrained-delegation pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Str>,
    /// Condition language version (`2.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_version: Option<Str>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Str>,
    /// PIM: schedule instance status (`Provisioned`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Str>,
    /// PIM: window start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<Str>,
    /// PIM: window end (absent for permanent eligibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<Str>,
    /// PIM: `Direct`, `Group` or `Inherited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<Str>,
}

/// A PIM eligible assignment (`roleEligibilityScheduleInstances`, 2020-10-01).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleEligibilityScheduleInstance {
    /// Instance resource id.
    pub id: String,
    /// Instance GUID.
    #[serde(default)]
    pub name: String,
    /// Properties.
    pub properties: AssignmentProperties,
}

/// A deny assignment (`Microsoft.Authorization/denyAssignments`, 2022-04-01).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DenyAssignment {
    /// Deny assignment resource id.
    pub id: String,
    /// GUID.
    #[serde(default)]
    pub name: String,
    /// Properties.
    pub properties: DenyAssignmentProperties,
}

/// Properties of a deny assignment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DenyAssignmentProperties {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_assignment_name: Option<String>,
    /// Denied actions (each block: `actions` minus `notActions`).
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Scope.
    pub scope: Str,
    /// When true, the deny applies at `scope` only.
    #[serde(default)]
    pub do_not_apply_to_child_scopes: bool,
    /// Principals denied; the all-zero id means everyone.
    #[serde(default)]
    pub principals: Vec<PrincipalRef>,
    /// Principals exempted.
    #[serde(default)]
    pub exclude_principals: Vec<PrincipalRef>,
    /// Created and protected by Azure.
    #[serde(default)]
    pub is_system_protected: bool,
}

/// A principal named in a deny assignment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalRef {
    /// Object id (`00000000-0000-0000-0000-000000000000` = everyone).
    pub id: Str,
    /// `User`, `Group`, `ServicePrincipal`, `SystemDefined`, …
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Str>,
}

/// A user-assigned managed identity (2024-11-30). It is also a service principal whose object id is
/// `properties.principalId`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Identity ids.
    #[serde(default)]
    pub properties: IdentityProperties,
}

/// Ids of a managed identity.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProperties {
    /// Entra object id of its service principal (what role assignments name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// A federated identity credential of a user-assigned identity (2024-11-30): tokens from `issuer` about
/// `subject` can be exchanged for the identity's tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FederatedIdentityCredential {
    /// `…/userAssignedIdentities/{identity}/federatedIdentityCredentials/{name}`.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Issuer, audiences and subject.
    #[serde(default)]
    pub properties: FederatedCredentialProperties,
}

/// Issuer, subject and audiences of a federated credential.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialProperties {
    /// OIDC issuer URL (an AKS cluster's `oidcIssuerProfile.issuerURL`, GitHub, …).
    #[serde(default)]
    pub issuer: String,
    /// Subject, e.g. `system:serviceaccount:<namespace>:<name>`.
    #[serde(default)]
    pub subject: String,
    /// Audiences (`api://AzureADTokenExchange`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub audiences: Vec<String>,
}

/// An application's federated credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFederatedCredentials {
    /// Object id of the application.
    pub application_id: String,
    /// Its credentials (`microsoft.graph.federatedIdentityCredential`).
    #[serde(default)]
    pub credentials: Vec<GraphFederatedCredential>,
}

/// `microsoft.graph.federatedIdentityCredential`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GraphFederatedCredential {
    /// Credential id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// OIDC issuer URL.
    #[serde(default)]
    pub issuer: String,
    /// Subject.
    #[serde(default)]
    pub subject: String,
    /// Audiences.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub audiences: Vec<String>,
}

/// A managed identity block (`identity`) of an ARM resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentity {
    /// `SystemAssigned`, `UserAssigned`, `SystemAssigned, UserAssigned`, `None`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// System-assigned identity's object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// User-assigned identities by resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assigned_identities: Option<std::collections::BTreeMap<String, IdentityProperties>>,
}

/// An ARM resource with a managed identity block, kept generically (`GenericResourceExpanded` of
/// [Resources - List](https://learn.microsoft.com/rest/api/resources/resources/list)).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityResource {
    /// `/subscriptions/…/resourceGroups/…/providers/{namespace}/{type}/{name}`.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Resource type, e.g. `Microsoft.Compute/virtualMachines`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The identities attached to it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub identity: ResourceIdentity,
}

/// An AKS identity binding (`Microsoft.ContainerService/managedClusters/identityBindings`, 2025-10-02-preview):
/// lets the cluster's service accounts that Kubernetes RBAC allows (`use-managed-identity` on
/// `cid.wi.aks.azure.com`, resource = the identity's client id) sign in as the identity, through one federated
/// credential AKS adds to the identity with the binding's issuer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityBinding {
    /// Resource id (`{cluster id}/identityBindings/{name}`).
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Settings.
    #[serde(default)]
    pub properties: IdentityBindingProperties,
}

/// Settings of an identity binding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityBindingProperties {
    /// The bound user-assigned identity.
    #[serde(default)]
    pub managed_identity: IdentityBindingManagedIdentity,
    /// The issuer of the federated credential AKS keeps on the identity for its bindings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<IdentityBindingIssuer>,
    /// `Succeeded`, `Creating`, `Failed`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
}

/// The identity of an identity binding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityBindingManagedIdentity {
    /// Resource id of the user-assigned identity.
    #[serde(default)]
    pub resource_id: String,
    /// Its client id (the Kubernetes RBAC resource name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Its principal id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// The issuer of an identity binding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityBindingIssuer {
    /// Issuer URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer_url: Option<String>,
}

/// An AKS cluster (`Microsoft.ContainerService/managedClusters`, 2025-10-01), with the settings that decide
/// who can become cluster admin and which identities its workloads can use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedCluster {
    /// Resource id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The cluster (control plane) identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ResourceIdentity>,
    /// Settings.
    #[serde(default)]
    pub properties: ManagedClusterProperties,
}

/// Settings of an AKS cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedClusterProperties {
    /// Public API server FQDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// Private API server FQDN.
    #[serde(default, rename = "privateFQDN", skip_serializing_if = "Option::is_none")]
    pub private_fqdn: Option<String>,
    /// Kubernetes RBAC enabled.
    #[serde(default, rename = "enableRBAC", skip_serializing_if = "Option::is_none")]
    pub enable_rbac: Option<bool>,
    /// Local accounts (the static cluster-admin certificate) disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_local_accounts: Option<bool>,
    /// Resource group of the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_resource_group: Option<String>,
    /// Entra integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_profile: Option<AadProfile>,
    /// OIDC issuer (workload identity federation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer_profile: Option<OidcIssuerProfile>,
    /// Security settings (workload identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile: Option<SecurityProfile>,
    /// Kubelet and other identities (`kubeletidentity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_profile: Option<std::collections::BTreeMap<String, UserAssignedIdentityRef>>,
    /// Legacy cluster service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_profile: Option<ServicePrincipalProfile>,
    /// Deprecated pod-managed identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_identity_profile: Option<PodIdentityProfile>,
    /// API server access (private cluster, run command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_access_profile: Option<ApiServerAccessProfile>,
}

/// `aadProfile`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AadProfile {
    /// Managed Entra integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    /// Azure RBAC for Kubernetes authorization.
    #[serde(default, rename = "enableAzureRBAC", skip_serializing_if = "Option::is_none")]
    pub enable_azure_rbac: Option<bool>,
    /// Groups bound to cluster-admin.
    #[serde(
        default,
        rename = "adminGroupObjectIDs",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub admin_group_object_ids: Vec<String>,
}

/// `oidcIssuerProfile`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcIssuerProfile {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Issuer URL (`issuerURL` on AKS, `issuerUrl` on Arc).
    #[serde(default, rename = "issuerURL", alias = "issuerUrl", skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    /// Arc: the issuer of a self-hosted OIDC provider (connected AKS, EKS, GKE clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_hosted_issuer_url: Option<String>,
}

/// `securityProfile`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfile {
    /// `workloadIdentity.enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<EnabledFlag>,
}

/// `{ "enabled": bool }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnabledFlag {
    /// Enabled.
    #[serde(default)]
    pub enabled: bool,
}

/// A reference to a user-assigned identity inside a cluster profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentityRef {
    /// Identity resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// `servicePrincipalProfile` (the client secret is never kept).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalProfile {
    /// Client id, or `msi` when the cluster uses a managed identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `podIdentityProfile` (deprecated pod-managed identity).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodIdentityProfile {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Pod identities: `{name, namespace, bindingSelector, identity{resourceId, clientId, objectId}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub user_assigned_identities: Vec<PodIdentity>,
    /// Pods NMI lets through to the instance metadata service: `{name, namespace, podLabels}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub user_assigned_identity_exceptions: Vec<PodIdentityException>,
}

/// One pod-managed identity binding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodIdentity {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace whose pods can use it.
    #[serde(default)]
    pub namespace: String,
    /// The `aadpodidbinding` label value pods use to ask for it (the name when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_selector: Option<String>,
    /// The identity.
    #[serde(default)]
    pub identity: UserAssignedIdentityRef,
}

/// One pod-managed identity exception: pods with these labels bypass NMI.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodIdentityException {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace of the exempt pods.
    #[serde(default)]
    pub namespace: String,
    /// Labels of the exempt pods.
    #[serde(
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pod_labels: std::collections::BTreeMap<String, String>,
}

/// `apiServerAccessProfile`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerAccessProfile {
    /// Private cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_private_cluster: Option<bool>,
    /// Run command disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_run_command: Option<bool>,
}

/// An Arc-connected cluster (`Microsoft.Kubernetes/connectedClusters`, 2026-05-01).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedCluster {
    /// Resource id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The cluster's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ResourceIdentity>,
    /// Settings.
    #[serde(default)]
    pub properties: ConnectedClusterProperties,
}

/// Settings of an Arc-connected cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedClusterProperties {
    /// Distribution (`k3s`, `openshift`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    /// OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer_profile: Option<OidcIssuerProfile>,
    /// Security settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile: Option<SecurityProfile>,
    /// Entra integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_profile: Option<AadProfile>,
}

// ---------------------------------------------------------------------------------------------------------
// Microsoft Graph wire types
// ---------------------------------------------------------------------------------------------------------

/// `microsoft.graph.user`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: Str,
    /// Display name: a [`Str`] (the graph's node name may share it) read without interning ([`unshared`]).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "unshared")]
    pub display_name: Option<Str>,
    /// UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Sign-in enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<Str>,
}

/// `microsoft.graph.group`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Security group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_enabled: Option<bool>,
    /// Role-assignable group (only Privileged Role Administrators can change membership).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_assignable_to_role: Option<bool>,
    /// `Unified`, `DynamicMembership`, …
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub group_types: Vec<String>,
    /// Dynamic membership rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule: Option<String>,
    /// Owners (`$expand=owners($select=id)` on the listing, completed from `/{kind}/{id}/owners` when the
    /// expansion may have been cut at Graph's limit): they can add members, themselves included.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub owners: Vec<DirectoryObject>,
}

/// The direct members of one group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembers {
    /// The group's object id.
    pub group_id: String,
    /// Its direct members.
    #[serde(default, deserialize_with = "fitted")]
    pub members: Vec<DirectoryObject>,
}

/// `microsoft.graph.administrativeUnit`: a container of users, groups and devices that directory roles can be
/// scoped to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AdministrativeUnit {
    /// Object id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A restricted management administrative unit: only administrators whose role is scoped to the unit may
    /// change its members; tenant-scoped administrators, Global Administrators included, may not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_member_management_restricted: Option<bool>,
    /// `Assigned` or `Dynamic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_type: Option<String>,
}

/// The direct members of one administrative unit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdministrativeUnitMembers {
    /// The administrative unit's object id.
    pub administrative_unit_id: String,
    /// Its direct members (users, groups, devices).
    #[serde(default, deserialize_with = "fitted")]
    pub members: Vec<DirectoryObject>,
}

/// A `microsoft.graph.directoryObject` reference as returned by `/members`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryObject {
    /// `#microsoft.graph.user`, `#microsoft.graph.group`, `#microsoft.graph.servicePrincipal`, …
    #[serde(default, rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<Str>,
    /// Object id.
    pub id: Str,
    /// Display name, when selected.
    #[serde(default, rename = "displayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Str>,
    /// A user's UPN, when present (identifies the member as a user when `@odata.type` is missing).
    #[serde(default, rename = "userPrincipalName", skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<Str>,
    /// A service principal's application id, when present.
    #[serde(default, rename = "appId", skip_serializing_if = "Option::is_none")]
    pub app_id: Option<Str>,
}

/// `microsoft.graph.servicePrincipal`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id (this is the `principalId` role assignments name).
    pub id: String,
    /// Application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `Application`, `ManagedIdentity`, `Legacy`, `SocialIdp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_type: Option<String>,
    /// Sign-in enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// For managed identities, includes the ARM resource id of the identity.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub alternative_names: Vec<String>,
    /// Tenant that owns the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_owner_organization_id: Option<String>,
    /// Certificate credentials (metadata only).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub key_credentials: Vec<CredentialMetadata>,
    /// Password credentials (metadata only).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub password_credentials: Vec<CredentialMetadata>,
    /// Owners (`$expand=owners($select=id)` on the listing, completed from `/{kind}/{id}/owners` when the
    /// expansion may have been cut at Graph's limit): they can add credentials to it and sign in as it.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub owners: Vec<DirectoryObject>,
    /// The roles this service principal's application publishes: an [`AppRoleAssignment`] names one by id, so
    /// a permission resolves to its `value` (`RoleManagement.ReadWrite.Directory`) only through this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub app_roles: Vec<AppRole>,
}

/// `microsoft.graph.application`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Object id of the application object.
    pub id: String,
    /// Application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `AzureADMyOrg`, `AzureADMultipleOrgs`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_audience: Option<String>,
    /// Certificate credentials (metadata only).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub key_credentials: Vec<CredentialMetadata>,
    /// Password credentials (metadata only).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub password_credentials: Vec<CredentialMetadata>,
    /// Owners (`$expand=owners($select=id)` on the listing, completed from `/{kind}/{id}/owners` when the
    /// expansion may have been cut at Graph's limit): they can add credentials to it and sign in as its service principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub owners: Vec<DirectoryObject>,
}

/// `microsoft.graph.appRole`: a role an application publishes (an application permission when
/// `allowedMemberTypes` holds `Application`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    /// App role id (what an [`AppRoleAssignment::app_role_id`] names).
    pub id: String,
    /// The permission's name in tokens (`RoleManagement.ReadWrite.Directory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `Application` (an application permission), `User` (assignable to users and groups), or both.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub allowed_member_types: Vec<String>,
    /// A disabled role can no longer be assigned; existing assignments keep working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
}

/// `microsoft.graph.appRoleAssignment`: the app role `app_role_id` of the resource service principal
/// `resource_id`, granted to `principal_id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The app role granted; the all-zero id is the default access role (no permission).
    #[serde(default)]
    pub app_role_id: String,
    /// The principal holding it (a service principal, user or group).
    #[serde(default)]
    pub principal_id: String,
    /// `ServicePrincipal`, `User` or `Group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    /// Object id of the resource service principal that publishes the role (e.g. Microsoft Graph's).
    #[serde(default)]
    pub resource_id: String,
    /// Display name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_display_name: Option<String>,
}

/// `microsoft.graph.unifiedRoleDefinition` of the directory provider: a built-in or custom Entra role, judged
/// by its `allowedResourceActions` like an Azure role by its actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRoleDefinition {
    /// Role definition id (for built-in roles, equal to `templateId`).
    pub id: String,
    /// Display name (`Privileged Role Administrator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Built-in (`true`) or custom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_built_in: Option<bool>,
    /// A disabled role grants nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    /// The template id, stable across tenants for built-in roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// What the role allows.
    #[serde(default, deserialize_with = "null_as_default")]
    pub role_permissions: Vec<DirectoryRolePermission>,
}

/// `microsoft.graph.unifiedRolePermission`: resource actions such as
/// `microsoft.directory/applications/credentials/update`, `*` wildcards allowed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRolePermission {
    /// Actions allowed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_resource_actions: Vec<String>,
    /// Actions excluded from `allowed_resource_actions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub excluded_resource_actions: Vec<String>,
    /// Condition limiting the actions (`$ResourceIsSelf`, `$SubjectIsOwner`), kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// `microsoft.graph.unifiedRoleAssignment` of the directory provider: `principal_id` holds role
/// `role_definition_id` over `directory_scope_id` (`/` the tenant, `/administrativeUnits/{id}`, `/{objectId}` one
/// object such as an application) or over `app_scope_id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The user, group or service principal holding the role.
    #[serde(default)]
    pub principal_id: String,
    /// The role definition's id.
    #[serde(default)]
    pub role_definition_id: String,
    /// Directory scope: `/`, `/administrativeUnits/{id}` or `/{objectId}`. Missing: the assignment is
    /// scoped by `app_scope_id` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
    /// Application-specific scope, when the role is scoped to an app's own resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scope_id: Option<String>,
}

/// `microsoft.graph.unifiedRoleEligibilityScheduleInstance`: a PIM eligibility for a directory role (usable after
/// an activation).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRoleEligibilityScheduleInstance {
    /// Instance id.
    pub id: String,
    /// The eligible user, group or service principal.
    #[serde(default)]
    pub principal_id: String,
    /// The role definition's id.
    #[serde(default)]
    pub role_definition_id: String,
    /// Directory scope, as on [`DirectoryRoleAssignment::directory_scope_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
    /// Application-specific scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scope_id: Option<String>,
    /// Start of the eligibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    /// End of the eligibility; none: permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    /// `Direct`, `Group` (through a role-assignable group) or `Inherited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<String>,
    /// The eligibility schedule this instance comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_eligibility_schedule_id: Option<String>,
}

/// `microsoft.graph.privilegedAccessGroupEligibilityScheduleInstance`: a PIM for Groups eligibility to become
/// a member or owner of `group_id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GroupEligibilityScheduleInstance {
    /// Instance id.
    pub id: String,
    /// The group.
    #[serde(default)]
    pub group_id: String,
    /// The eligible principal.
    #[serde(default)]
    pub principal_id: String,
    /// `member` or `owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_id: Option<String>,
    /// `direct` or `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<String>,
    /// Start of the eligibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    /// End of the eligibility; none: permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
}

/// Metadata of a password or key credential. The secret itself has no field here and is never kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialMetadata {
    /// Credential id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Valid from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    /// Valid until: past this it authenticates no one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Shared text
// ---------------------------------------------------------------------------------------------------------

/// Immutable text that records repeat: the scopes, role definition ids, principal ids and types of role
/// assignments, the member ids and `@odata.type`s of group members. It reads and writes as a JSON string, as a
/// `String` does (a snapshot is byte for byte the same); while an [`Interner`] is active on the thread
/// ([`Interner::scope`]: collecting a page, reading a snapshot), equal values read are one shared allocation.
/// 8 bytes, `Option<Str>` too: one pointer to a block holding the count, the length and the text (a `String`
/// is 24 plus a heap block of its own, an `Arc<str>` 16).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(arcstr::ArcStr);

impl Str {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `s` as read from a document: the interned copy while an [`Interner`] is active on this thread.
    fn read(s: &str) -> Str {
        ACTIVE_INTERNER.with(|active| match &mut *active.borrow_mut() {
            Some(Active::Shared(interner)) => Str(interner.intern(s)),
            Some(Active::Local(set)) => Str(intern_in(set, s)),
            None => Str(s.into()),
        })
    }
}

impl Default for Str {
    fn default() -> Self {
        Str(arcstr::ArcStr::new())
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Str {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        Str(s.into())
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(s.into())
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str(s.as_str().into())
    }
}

impl From<Str> for String {
    fn from(s: Str) -> Self {
        s.0.to_string()
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Str {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Str> for str {
    fn eq(&self, other: &Str) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Str> for &str {
    fn eq(&self, other: &Str) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Str> for String {
    fn eq(&self, other: &Str) -> bool {
        **self == *other.0
    }
}

impl Serialize for Str {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Str;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Str, E> {
                Ok(Str::read(s))
            }
        }
        d.deserialize_str(Text)
    }
}

/// The interner a thread's [`Str`] reads go through: an [`Interner`] that other threads may share (a
/// collection's pages), or a table of this thread's own, with no lock (one snapshot file read by one thread).
enum Active {
    Shared(std::sync::Arc<Interner>),
    Local(rustc_hash::FxHashSet<arcstr::ArcStr>),
}

thread_local! {
    static ACTIVE_INTERNER: std::cell::RefCell<Option<Active>> = const { std::cell::RefCell::new(None) };
}

/// The copy of `s` in `set`, added on first sight.
fn intern_in(set: &mut rustc_hash::FxHashSet<arcstr::ArcStr>, s: &str) -> arcstr::ArcStr {
    if let Some(shared) = set.get(s) {
        return shared.clone();
    }
    let shared: arcstr::ArcStr = s.into();
    set.insert(shared.clone());
    shared
}

/// Runs `f` with `active` as this thread's interner; the one before comes back after, even if `f` panics.
fn with_active<R>(active: Active, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Active>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ACTIVE_INTERNER.with(|a| *a.borrow_mut() = previous);
        }
    }
    let _restore = Restore(ACTIVE_INTERNER.with(|a| a.replace(Some(active))));
    f()
}

/// One copy of each distinct [`Str`] read while it is active: a collection's pages share one (parsed on
/// several threads), a snapshot read has its own. Dropping it keeps the values alive in the records that hold
/// them; only the lookup table goes.
#[derive(Debug, Default)]
pub struct Interner {
    set: std::sync::Mutex<rustc_hash::FxHashSet<arcstr::ArcStr>>,
}

impl Interner {
    /// A new, empty interner.
    pub fn new() -> std::sync::Arc<Interner> {
        std::sync::Arc::default()
    }

    /// Runs `f` with this interner active on the current thread (the one active before comes back after,
    /// even if `f` panics): every [`Str`] deserialized meanwhile on this thread is shared.
    pub fn scope<R>(self: &std::sync::Arc<Self>, f: impl FnOnce() -> R) -> R {
        with_active(Active::Shared(self.clone()), f)
    }

    /// Runs `f` with a table of this thread's own active (no lock: one thread reading one document), dropped
    /// after; every [`Str`] deserialized meanwhile on this thread is shared with its equals.
    pub fn scope_local<R>(f: impl FnOnce() -> R) -> R {
        with_active(Active::Local(rustc_hash::FxHashSet::default()), f)
    }

    /// How many distinct values it holds.
    pub fn len(&self) -> usize {
        self.set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn intern(&self, s: &str) -> arcstr::ArcStr {
        let mut set = self.set.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(shared) = set.get(s) {
            return shared.clone();
        }
        let shared: arcstr::ArcStr = s.into();
        set.insert(shared.clone());
        shared
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading and writing
// ---------------------------------------------------------------------------------------------------------

/// Failure to read a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The text is not a valid snapshot; `path` names the offending field.
    #[error("{source_name}: invalid snapshot at `{path}`: {message}")]
    Invalid {
        /// File or URL the snapshot came from.
        source_name: String,
        /// JSON path of the field that failed (`azure.roleAssignments[3].properties.scope`).
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Something follows the snapshot's JSON document.
    #[error("{source_name}: trailing data after the snapshot at line {line} column {column}")]
    TrailingData {
        /// File the snapshot came from.
        source_name: String,
        /// 1-based line of the first byte after the document.
        line: usize,
        /// 1-based column of that byte.
        column: usize,
    },
    /// Written by an incompatible version of azpath.
    #[error("{source_name}: snapshot schema_version {found} is not supported (this azpath reads {supported})")]
    UnsupportedVersion {
        /// File the snapshot came from.
        source_name: String,
        /// Version found in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
}

/// A parse failure as [`SnapshotError::Invalid`]; a missing field is named in the path
/// (`metadata.collected_at`: missing field).
fn invalid(source_name: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> SnapshotError {
    let path = e.path().to_string();
    let message = e.inner().to_string();
    let missing = message.strip_prefix("missing field `").and_then(|r| r.split_once('`')).map(|(name, _)| name);
    let (path, message) = match missing {
        Some(name) if path == "." => (name.to_string(), "missing field".to_string()),
        Some(name) => (format!("{path}.{name}"), "missing field".to_string()),
        None => (path, message),
    };
    SnapshotError::Invalid { source_name: source_name.to_string(), path, message }
}

impl Snapshot {
    /// An empty snapshot of the current schema version.
    pub fn new(metadata: Metadata) -> Self {
        Snapshot { schema_version: SCHEMA_VERSION, metadata, ..Default::default() }
    }

    /// Parses a snapshot, naming `source_name` and the failing field on error. `metadata.collected_at` is
    /// required, and nothing but whitespace may follow the document.
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, SnapshotError> {
        let mut de = serde_json::Deserializer::from_str(text);
        // The scopes, role definition and principal ids that 800k role assignments and 4M group members repeat
        // are read once each, through a table of this thread's own. Read without tracking the path first;
        // only a document that fails is read again, with it, for the error.
        let snapshot: Snapshot = match Interner::scope_local(|| Snapshot::deserialize(&mut de)) {
            Ok(snapshot) => snapshot,
            Err(first) => {
                let mut again = serde_json::Deserializer::from_str(text);
                let tracked: Result<Snapshot, _> = serde_path_to_error::deserialize(&mut again);
                return Err(match tracked {
                    Err(e) => invalid(source_name, &e),
                    // Not expected (the same text, the same types): the first error, without a path.
                    Ok(_) => SnapshotError::Invalid {
                        source_name: source_name.to_string(),
                        path: ".".to_string(),
                        message: first.to_string(),
                    },
                });
            }
        };
        de.end().map_err(|e| SnapshotError::TrailingData {
            source_name: source_name.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        if snapshot.schema_version != SCHEMA_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                source_name: source_name.to_string(),
                found: snapshot.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(snapshot)
    }

    /// Reads a snapshot from `d` as [`Snapshot::from_json`] reads its text, interning alike, but with none of
    /// its checks or messages: the version is not checked and an error is `d`'s own. For a reader that tries a
    /// cheaper way first and reads again through [`Snapshot::from_json`] when it fails (`azpath`'s `input.rs`,
    /// which streams the file through `d`).
    pub fn read_from<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Snapshot, D::Error> {
        Interner::scope_local(|| Snapshot::deserialize(d))
    }

    /// Serializes the snapshot as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("snapshot types always serialize")
    }

    /// Writes [`Snapshot::to_json`]'s text into `out` as it is made, never holding the whole text (a large
    /// tenant's snapshot is a gigabyte of JSON).
    pub fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::from)
    }

    /// Sorts every list by id and drops exact-id duplicates, so equal collections give equal snapshots.
    pub fn normalize(&mut self) {
        fn dedup_by_id<T>(v: &mut Vec<T>, id: impl Fn(&T) -> &str) {
            sort_stable_in_place(v, |a, b| cmp_ascii_lowercase(id(a), id(b)));
            v.dedup_by(|a, b| id(a).eq_ignore_ascii_case(id(b)));
        }
        let a = &mut self.azure;
        dedup_by_id(&mut a.management_groups, |x| &x.id);
        dedup_by_id(&mut a.subscriptions, |x| &x.id);
        dedup_by_id(&mut a.resource_groups, |x| &x.id);
        dedup_by_id(&mut a.role_definitions, |x| &x.name);
        dedup_by_id(&mut a.role_assignments, |x| &x.id);
        dedup_by_id(&mut a.role_eligibility_schedule_instances, |x| &x.id);
        dedup_by_id(&mut a.deny_assignments, |x| &x.id);
        dedup_by_id(&mut a.user_assigned_identities, |x| &x.id);
        dedup_by_id(&mut a.federated_identity_credentials, |x| &x.id);
        dedup_by_id(&mut a.managed_clusters, |x| &x.id);
        dedup_by_id(&mut a.connected_clusters, |x| &x.id);
        dedup_by_id(&mut a.identity_bindings, |x| &x.id);
        dedup_by_id(&mut a.identity_resources, |x| &x.id);
        let e = &mut self.entra;
        dedup_by_id(&mut e.users, |x| &x.id);
        dedup_by_id(&mut e.groups, |x| &x.id);
        dedup_by_id(&mut e.group_members, |x| &x.group_id);
        for g in &mut e.group_members {
            dedup_by_id(&mut g.members, |x| &x.id);
        }
        dedup_by_id(&mut e.service_principals, |x| &x.id);
        dedup_by_id(&mut e.applications, |x| &x.id);
        dedup_by_id(&mut e.application_federated_credentials, |x| &x.application_id);
        dedup_by_id(&mut e.directory_role_definitions, |x| &x.id);
        dedup_by_id(&mut e.directory_role_assignments, |x| &x.id);
        dedup_by_id(&mut e.directory_role_eligibility_schedule_instances, |x| &x.id);
        dedup_by_id(&mut e.app_role_assignments, |x| &x.id);
        dedup_by_id(&mut e.group_eligibility_schedule_instances, |x| &x.id);
        dedup_by_id(&mut e.administrative_units, |x| &x.id);
        dedup_by_id(&mut e.administrative_unit_members, |x| &x.administrative_unit_id);
        for u in &mut e.administrative_unit_members {
            dedup_by_id(&mut u.members, |x| &x.id);
        }
        self.sources.sort_by(|a, b| (&a.api, &a.scope).cmp(&(&b.api, &b.scope)));
        self.coverage.sort();
        self.coverage.dedup();
    }
}

/// `a` and `b` compared as their ASCII-lowercased texts would be (byte by byte, without making them).
fn cmp_ascii_lowercase(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// A stable sort of `v` by `cmp` that sorts 32-bit positions and then moves the records into place, so the
/// sort's scratch space is positions (4 bytes each) rather than half the records (800k role assignments of
/// 224 bytes would take 90 MB more at the end of a 400k collection).
fn sort_stable_in_place<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    let Ok(n) = u32::try_from(v.len()) else {
        return v.sort_by(cmp);
    };
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_by(|&a, &b| cmp(&v[a as usize], &v[b as usize]));
    // Position i takes the record at order[i]: follow each cycle, marking the positions done.
    for start in 0..v.len() {
        let mut at = start;
        loop {
            let from = order[at] as usize;
            order[at] = at as u32;
            if from == start || from == at {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_say_what_they_may_hide() {
        let gap = |api: &str| CoverageGap {
            api: api.into(),
            scope: "s".into(),
            reason: GapReason::Forbidden,
            status: Some(403),
            message: String::new(),
        };
        assert!(gap("graph.groupMembers").may_hide().contains("group memberships"));
        assert!(gap("arm.managementGroupDescendants").may_hide().contains("management-group tree"));
        assert!(gap("arm.roleAssignments").may_hide().contains("role assignments"));
        assert!(gap("arm.denyAssignments").may_hide().contains("blocked"));
    }

    #[test]
    fn truncated_snapshot_names_the_source() {
        let err =
            Snapshot::from_json("{\"schema_version\": 1, \"azure\": {\"roleAssignments\": [", "s.json").unwrap_err();
        assert!(err.to_string().starts_with("s.json: invalid snapshot"), "{err}");
    }

    #[test]
    fn wrong_field_type_names_the_field() {
        let text = r#"{"schema_version":1,"azure":{"roleAssignments":[{"id":"x","properties":{"scope":5}}]}}"#;
        let err = Snapshot::from_json(text, "s.json").unwrap_err().to_string();
        assert!(err.contains("azure.roleAssignments[0].properties.scope"), "{err}");
    }

    #[test]
    fn trailing_data_is_refused_with_its_position() {
        let text = "{\"schema_version\":1,\"metadata\":{\"collected_at\":\"\"}}\n  \n garbage";
        let err = Snapshot::from_json(text, "s.json").unwrap_err();
        assert_eq!(err.to_string(), "s.json: trailing data after the snapshot at line 3 column 2");
        let two = "{\"schema_version\":1,\"metadata\":{\"collected_at\":\"\"}}{}";
        assert!(matches!(Snapshot::from_json(two, "s.json"), Err(SnapshotError::TrailingData { line: 1, .. })));
        assert!(
            Snapshot::from_json("{\"schema_version\":1,\"metadata\":{\"collected_at\":\"\"}}\n\n", "s.json").is_ok()
        );
    }

    #[test]
    fn a_version_alone_is_not_an_empty_tenant() {
        let err = Snapshot::from_json(r#"{"schema_version":1}"#, "s.json").unwrap_err().to_string();
        assert_eq!(err, "s.json: invalid snapshot at `metadata`: missing field");
        let err = Snapshot::from_json(r#"{"schema_version":1,"metadata":{}}"#, "s.json").unwrap_err().to_string();
        assert_eq!(err, "s.json: invalid snapshot at `metadata.collected_at`: missing field");
    }

    #[test]
    fn other_schema_version_is_refused() {
        let err =
            Snapshot::from_json(r#"{"schema_version": 99, "metadata": {"collected_at": ""}}"#, "s.json").unwrap_err();
        assert!(matches!(err, SnapshotError::UnsupportedVersion { found: 99, .. }));
    }

    #[test]
    fn role_definition_reads_flattened_and_arm_shapes() {
        let flat = r#"{"id":"/providers/Microsoft.Authorization/roleDefinitions/b","name":"b","roleName":"R","roleType":"BuiltInRole","permissions":[{"actions":["*"],"notActions":null}],"assignableScopes":["/"]}"#;
        let arm = r#"{"id":"/providers/Microsoft.Authorization/roleDefinitions/b","name":"b","properties":{"roleName":"R","type":"BuiltInRole","permissions":[{"actions":["*"]}],"assignableScopes":["/"]}}"#;
        let a: RoleDefinition = serde_json::from_str(flat).unwrap();
        let b: RoleDefinition = serde_json::from_str(arm).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.properties.permissions[0].actions, vec!["*"]);
    }

    #[test]
    fn entra_control_plane_records_round_trip_in_graph_shapes() {
        let text = r#"{"schema_version":1,"metadata":{"collected_at":""},"entra":{
          "servicePrincipals":[{"id":"g","appId":"00000003-0000-0000-c000-000000000000","appRoles":[
            {"id":"9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8","value":"RoleManagement.ReadWrite.Directory","allowedMemberTypes":["Application"],"isEnabled":true}]}],
          "directoryRoleDefinitions":[{"id":"r","displayName":"Custom","isBuiltIn":false,"templateId":"r",
            "rolePermissions":[{"allowedResourceActions":["microsoft.directory/applications/credentials/update"],"condition":null}]}],
          "directoryRoleAssignments":[{"id":"a","principalId":"p","roleDefinitionId":"r","directoryScopeId":"/app1","appScopeId":null}],
          "directoryRoleEligibilityScheduleInstances":[{"id":"e","principalId":"p","roleDefinitionId":"r","directoryScopeId":"/",
            "startDateTime":"2026-01-01T00:00:00Z","endDateTime":null,"memberType":"Direct"}],
          "appRoleAssignments":[{"id":"x","appRoleId":"9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8","principalId":"sp","resourceId":"g"}],
          "groupEligibilityScheduleInstances":[{"id":"ge","groupId":"grp","principalId":"u","accessId":"owner","memberType":"direct"}]}}"#;
        let s = Snapshot::from_json(text, "s.json").unwrap();
        let e = &s.entra;
        assert_eq!(e.service_principals[0].app_roles[0].value.as_deref(), Some("RoleManagement.ReadWrite.Directory"));
        assert_eq!(e.service_principals[0].app_roles[0].allowed_member_types, ["Application"]);
        assert_eq!(
            e.directory_role_definitions[0].role_permissions[0].allowed_resource_actions,
            ["microsoft.directory/applications/credentials/update"]
        );
        assert_eq!(e.directory_role_assignments[0].directory_scope_id.as_deref(), Some("/app1"));
        assert_eq!(e.directory_role_eligibility_schedule_instances[0].member_type.as_deref(), Some("Direct"));
        assert_eq!(e.app_role_assignments[0].resource_id, "g");
        assert_eq!(e.group_eligibility_schedule_instances[0].access_id.as_deref(), Some("owner"));
        let again = Snapshot::from_json(&s.to_json(), "again.json").unwrap();
        assert_eq!(again.to_json(), s.to_json());
        let mut written = Vec::new();
        s.write_json(&mut written).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), s.to_json(), "written as made, the same text");
        assert_eq!(again.entra.directory_role_assignments, e.directory_role_assignments);
    }

    #[test]
    fn a_snapshot_from_before_the_entra_control_plane_still_reads() {
        let old = r#"{"schema_version":1,"metadata":{"collected_at":""},"entra":{"servicePrincipals":[{"id":"sp"}]}}"#;
        let s = Snapshot::from_json(old, "old.json").unwrap();
        assert!(s.entra.directory_role_assignments.is_empty() && s.entra.app_role_assignments.is_empty());
        assert!(s.entra.service_principals[0].app_roles.is_empty());
        // A wrong shape in a new field is named, not ignored.
        let bad = r#"{"schema_version":1,"metadata":{"collected_at":""},"entra":{"directoryRoleAssignments":[{"id":"a","principalId":5}]}}"#;
        let err = Snapshot::from_json(bad, "s.json").unwrap_err().to_string();
        assert!(err.contains("entra.directoryRoleAssignments[0].principalId"), "{err}");
    }

    #[test]
    fn entra_control_plane_gaps_say_what_they_hide() {
        let gap = |api: &str| CoverageGap {
            api: api.into(),
            scope: "tenant".into(),
            reason: GapReason::Forbidden,
            status: Some(403),
            message: String::new(),
        };
        assert!(gap("graph.directoryRoleAssignments").may_hide().contains("Entra roles"));
        assert!(gap("graph.directoryRoleEligibilityScheduleInstances").may_hide().contains("JIT"));
        assert!(gap("graph.appRoleAssignments").may_hide().contains("application permissions"));
        assert!(gap("graph.groupEligibilityScheduleInstances").may_hide().contains("PIM for Groups"));
        assert!(!gap("graph.users").may_hide().contains("Entra roles"));
    }

    #[test]
    fn administrative_units_read_from_graph_and_old_snapshots_load_without_them() {
        let old = r#"{"schema_version": 1, "metadata": {"tool_version": "0.1", "collected_at": "2026-01-01T00:00:00Z",
            "cloud": "public", "arm_url": "https://management.azure.com/", "graph_url": "https://graph.microsoft.com/"},
            "entra": {"users": [{"id": "u1"}]}}"#;
        let s = Snapshot::from_json(old, "old.json").unwrap();
        assert!(s.entra.administrative_units.is_empty() && s.entra.administrative_unit_members.is_empty());
        assert!(!serde_json::to_string(&s).unwrap().contains("administrativeUnit"), "absent when empty");
        // `GET /directory/administrativeUnits` item, as Graph v1.0 sends it.
        let au: AdministrativeUnit = serde_json::from_str(
            r#"{"id": "au1", "displayName": "Executives", "description": null, "isMemberManagementRestricted": true,
                "membershipType": null, "visibility": "HiddenMembership"}"#,
        )
        .unwrap();
        assert_eq!(au.is_member_management_restricted, Some(true));
        let gap = CoverageGap {
            api: "graph.administrativeUnitMembers".into(),
            scope: "/administrativeUnits/au1".into(),
            reason: GapReason::Forbidden,
            status: Some(403),
            message: String::new(),
        };
        assert!(gap.may_hide().contains("administrative unit's members"));
    }

    #[test]
    fn normalize_dedups_case_insensitively() {
        let mut s = Snapshot::new(Metadata::default());
        let ra = |id: &str| RoleAssignment { id: id.into(), ..Default::default() };
        s.azure.role_assignments = vec![ra("/B"), ra("/a"), ra("/b")];
        s.normalize();
        assert_eq!(s.azure.role_assignments.len(), 2);
        assert_eq!(s.azure.role_assignments[0].id, "/a");
    }

    #[test]
    fn repeated_values_read_are_one_allocation_and_written_as_read() {
        let ra = |name: &str| {
            format!(
                r#"{{"id":"/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/{name}","name":"{name}","properties":{{"scope":"/subscriptions/s1","roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/r1","principalId":"p1","principalType":"User"}}}}"#
            )
        };
        let text = format!(
            r#"{{"schema_version":1,"metadata":{{"collected_at":""}},"azure":{{"roleAssignments":[{},{}]}}}}"#,
            ra("a1"),
            ra("a2")
        );
        let snap = Snapshot::from_json(&text, "s.json").unwrap();
        let [a, b] = [&snap.azure.role_assignments[0].properties, &snap.azure.role_assignments[1].properties];
        assert!(arcstr::ArcStr::ptr_eq(&a.scope.0, &b.scope.0));
        assert!(arcstr::ArcStr::ptr_eq(&a.role_definition_id.0, &b.role_definition_id.0));
        assert!(arcstr::ArcStr::ptr_eq(&a.principal_id.0, &b.principal_id.0));
        // Outside an interner nothing is shared; either way the text is written as it was read.
        let alone: AssignmentProperties =
            serde_json::from_str(r#"{"scope":"/s","roleDefinitionId":"r","principalId":"p"}"#).unwrap();
        let again: AssignmentProperties =
            serde_json::from_str(r#"{"scope":"/s","roleDefinitionId":"r","principalId":"p"}"#).unwrap();
        assert!(!arcstr::ArcStr::ptr_eq(&alone.scope.0, &again.scope.0));
        assert_eq!(serde_json::to_string(&snap.azure.role_assignments[0]).unwrap(), ra("a1"));
        assert_eq!((std::mem::size_of::<Str>(), std::mem::size_of::<Option<Str>>()), (8, 8));
        assert_eq!(std::mem::size_of::<DirectoryObject>(), 40, "a member record: five pointers");
        assert_eq!(Str::default(), "");
    }

    #[test]
    fn the_interner_is_active_only_within_its_scope() {
        let interner = Interner::new();
        let read = |text: &str| serde_json::from_str::<Str>(text).unwrap();
        let (a, b) = interner.scope(|| (read(r#""x""#), read(r#""x""#)));
        assert!(arcstr::ArcStr::ptr_eq(&a.0, &b.0));
        assert_eq!(interner.len(), 1);
        let c = read(r#""x""#);
        assert!(!arcstr::ArcStr::ptr_eq(&a.0, &c.0));
        // Nested scopes restore the outer one.
        let inner = Interner::new();
        interner.scope(|| inner.scope(|| read(r#""y""#)));
        interner.scope(|| read(r#""z""#));
        assert_eq!((interner.len(), inner.len()), (2, 1));
        // A local table inside a shared scope: values go to the local one, the shared one comes back after.
        let (d, e) = interner.scope(|| Interner::scope_local(|| (read(r#""w""#), read(r#""w""#))));
        assert!(arcstr::ArcStr::ptr_eq(&d.0, &e.0));
        assert_eq!(interner.len(), 2, "the local scope's values are not in the shared interner");
        interner.scope(|| read(r#""v""#));
        assert_eq!(interner.len(), 3, "the shared interner is active again after the local scope");
        let f = Interner::scope_local(|| read(r#""w""#));
        assert!(!arcstr::ArcStr::ptr_eq(&d.0, &f.0), "each local scope has a table of its own");
    }

    #[test]
    fn a_bad_snapshot_names_its_field_after_the_untracked_read() {
        let text = r#"{"schema_version": 1, "metadata": {"collected_at": "t"},
            "azure": {"roleAssignments": [{"id": "a", "properties": {"scope": 5}}]}}"#;
        let err = Snapshot::from_json(text, "s.json").unwrap_err().to_string();
        assert!(err.starts_with("s.json: invalid snapshot at `azure.roleAssignments[0].properties.scope`"), "{err}");
    }

    #[test]
    fn a_users_id_and_type_read_are_shared_with_their_equals_and_names_are_not() {
        let id = "b24988ac-6180-42a0-ab88-20f7382dd24c";
        let user = |name: &str| format!(r#"{{"id": "{id}", "displayName": "{name}", "userType": "Member"}}"#);
        let text = format!(
            r#"{{"schema_version": 1, "metadata": {{"collected_at": "t"}}, "entra": {{"users": [{}, {}],
                "groupMembers": [{{"groupId": "g", "members": [{{"id": "{id}"}}]}}]}}}}"#,
            user("Ann"),
            user("Ann")
        );
        let snap = Snapshot::from_json(&text, "s.json").unwrap();
        let (a, b) = (&snap.entra.users[0], &snap.entra.users[1]);
        assert_eq!(
            (a.id.as_str(), a.display_name.as_deref(), a.user_type.as_deref()),
            (id, Some("Ann"), Some("Member"))
        );
        assert!(std::ptr::eq(a.id.as_str(), snap.entra.group_members[0].members[0].id.as_str()), "one copy of the id");
        // Display names are mostly unique in a real tenant: read each as a text of its own.
        assert!(!std::ptr::eq(a.display_name.as_deref().unwrap(), b.display_name.as_deref().unwrap()));
        assert!(std::ptr::eq(a.user_type.as_deref().unwrap(), b.user_type.as_deref().unwrap()));
        assert_eq!(
            Snapshot::from_json(&snap.to_json(), "again").unwrap().entra.users,
            snap.entra.users,
            "written as read"
        );
    }

    #[test]
    fn normalize_sorts_as_the_lowercased_ids_would_and_keeps_the_first_copy() {
        // Ids in mixed case with repeats, each record marked by its arrival.
        let ids = ["b", "A", "a", "C", "b", "B", "a", "c", "Ä", "ä", "", "ab", "aB", "a"];
        let mut rs: Vec<ResourceGroup> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| ResourceGroup { id: (*id).into(), name: i.to_string(), location: None })
            .collect();
        let mut want = rs.clone();
        want.sort_by_key(|r| r.id.to_ascii_lowercase());
        want.dedup_by(|a, b| a.id.eq_ignore_ascii_case(&b.id));
        let mut snap = Snapshot::default();
        snap.azure.resource_groups = std::mem::take(&mut rs);
        snap.normalize();
        assert_eq!(snap.azure.resource_groups, want);
        // Longer runs: the in-place permutation against the library's stable sort.
        let mut v: Vec<(u32, u32)> = (0..5000u32).map(|i| ((i * 7919) % 113, i)).collect();
        let mut w = v.clone();
        w.sort_by_key(|x| x.0);
        sort_stable_in_place(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(v, w);
    }
}
