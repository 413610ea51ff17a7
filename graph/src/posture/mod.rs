//! Posture checks: configuration facts a security engineer must see that are not escalation paths
//! (model.md, "Posture"; the seeds' identity and access practices).
//!
//! Each [`Check`] has a stable id (`AZP-AKS-001`), a default severity and general guidance; [`run`] reads a
//! [`Snapshot`] and reports each failing resource at most once per check, with the settings read as
//! evidence and the command that fixes it. Pure: no IO, and no clock (time-based checks compare dates with
//! the snapshot's `collected_at`, so a replayed snapshot gives the same findings).
//!
//! ```
//! use azpath_graph::posture;
//! use azpath_graph::snapshot::Snapshot;
//!
//! let snap: Snapshot = serde_json::from_str(r#"{"schema_version": 1, "metadata": {"collected_at": ""},
//!     "azure": {"managedClusters": [{
//!     "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks",
//!     "name": "aks", "properties": {"enableRBAC": true, "disableLocalAccounts": false,
//!     "aadProfile": {"managed": true, "enableAzureRBAC": true}}}]}}"#).unwrap();
//! let found = posture::run(&snap);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].check_id, "AZP-AKS-001");
//! assert!(found[0].remediation.command.as_deref().unwrap().contains("--disable-local-accounts"));
//! ```

mod entra;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::findings::{PostureFinding, QueryInfo, Remediation, ResourceRef};
use crate::kube::{KubeCluster, RoleBinding, SecretMeta, Subject};
use crate::kube_dump::{resolve_cluster, ClusterMatch, LAST_APPLIED_ANNOTATION};
use crate::kube_graph::{cluster_role_rules, find_aso, holds_client_secret, Aso, ASO_CREDENTIAL, ASO_SETTINGS};
use crate::model::Severity;
use crate::rbac::{self, Capability, Caps, DelegationLimit, PermissionSet};
use crate::scope;
use crate::shell::{self, Chain, Command, Malformed};
use crate::snapshot::{CredentialMetadata, ManagedCluster, Snapshot};

/// A posture check: what it looks at and how its findings are fixed in general.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Stable id, `AZP-<area>-<nnn>`: also the SARIF rule id and what `--query` selects.
    pub id: &'static str,
    /// One line.
    pub title: &'static str,
    /// Default severity (some findings are raised, e.g. a binding to `system:authenticated`).
    pub severity: Severity,
    /// What it checks and why it matters.
    pub description: &'static str,
    /// General guidance; each finding carries its own command.
    pub remediation: &'static str,
    /// Links.
    pub references: &'static [&'static str],
}

const ASO_SECURITY: &str = "https://azure.github.io/azure-service-operator/guide/security/";
const RBAC_GOOD_PRACTICES: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";
const APP_CREDENTIALS: &str =
    "https://learn.microsoft.com/entra/identity-platform/security-best-practices-for-app-registration#credential-configuration";

/// AKS local accounts enabled.
pub const AKS_LOCAL_ACCOUNTS: Check = Check {
    id: "AZP-AKS-001",
    title: "AKS local accounts are enabled",
    severity: Severity::High,
    description: "With local accounts on (properties.disableLocalAccounts not true), anyone allowed listClusterAdminCredential gets a static cluster-admin certificate that bypasses Entra ID, Conditional Access, JIT and per-user audit, even on an Entra-integrated cluster (`az aks get-credentials --admin`).",
    remediation: "Integrate the cluster with Entra ID and disable local accounts (`az aks update --disable-local-accounts`).",
    references: &["https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad"],
};

/// No Entra integration.
pub const AKS_NO_ENTRA: Check = Check {
    id: "AZP-AKS-002",
    title: "AKS cluster is not integrated with Entra ID",
    severity: Severity::High,
    description: "Without properties.aadProfile, users sign in to the cluster with local certificates only: no Entra identities, no Conditional Access or JIT, and removing someone from a group does not remove their access.",
    remediation: "Enable AKS-managed Entra integration with an admin group (`az aks update --enable-aad --aad-admin-group-object-ids`), then disable local accounts.",
    references: &["https://learn.microsoft.com/azure/aks/enable-authentication-microsoft-entra-id"],
};

/// Entra-integrated, Azure RBAC for Kubernetes off.
pub const AKS_NO_AZURE_RBAC: Check = Check {
    id: "AZP-AKS-003",
    title: "Azure RBAC for Kubernetes authorization is off",
    severity: Severity::Low,
    description: "The cluster is Entra-integrated but properties.aadProfile.enableAzureRBAC is not true: who may do what inside the cluster lives only in in-cluster RoleBindings, outside Azure's central assignments, PIM and access reviews.",
    remediation: "Enable Azure RBAC for Kubernetes (`az aks update --enable-azure-rbac`) and grant access with the AKS RBAC roles at cluster or namespace scope.",
    references: &["https://learn.microsoft.com/azure/aks/manage-azure-rbac"],
};

/// `enableRBAC: false`.
pub const AKS_NO_KUBERNETES_RBAC: Check = Check {
    id: "AZP-AKS-004",
    title: "Kubernetes RBAC is disabled",
    severity: Severity::Critical,
    description: "properties.enableRBAC is false: the API server authorizes nothing, so every identity that can authenticate to the cluster is effectively cluster-admin.",
    remediation: "Kubernetes RBAC cannot be turned on in place: create a cluster with RBAC (the default), Entra integration and local accounts disabled, and move the workloads.",
    references: &["https://learn.microsoft.com/azure/aks/concepts-identity#kubernetes-rbac"],
};

/// Service-principal cluster identity.
pub const AKS_SERVICE_PRINCIPAL: Check = Check {
    id: "AZP-AKS-005",
    title: "AKS cluster identity is a service principal",
    severity: Severity::Medium,
    description: "The cluster authenticates to Azure as a service principal (properties.servicePrincipalProfile.clientId is not `msi` and the cluster has no managed identity): its client secret is stored on the nodes, must be rotated by hand, and breaks the cluster when it expires. A managed identity has no secret.",
    remediation: "Move the cluster to a managed identity (`az aks update --enable-managed-identity`), then delete the service principal's secret.",
    references: &["https://learn.microsoft.com/azure/aks/use-managed-identity"],
};

/// Deprecated pod-managed identity.
pub const AKS_POD_IDENTITY: Check = Check {
    id: "AZP-AKS-006",
    title: "Deprecated pod-managed identity is in use",
    severity: Severity::Medium,
    description: "properties.podIdentityProfile.enabled is true, or the cluster holds aad-pod-identity AzureIdentityBindings: Microsoft Entra pod-managed identity is deprecated (since 2022-10-24); its NMI intercepts IMDS and hands identities to any pod carrying a binding's label, and the identities are attached to the node pools. Workload ID (OIDC issuer + workload identity, federated per service account) replaces it.",
    remediation: "Enable the OIDC issuer and workload identity, federate each identity with the service accounts that need it, then disable pod identity (`az aks update --disable-pod-identity`).",
    references: &["https://learn.microsoft.com/azure/aks/workload-identity-migrate-from-pod-identity"],
};

/// ASO credential with a client secret or certificate.
pub const ASO_CLIENT_SECRET: Check = Check {
    id: "AZP-ASO-001",
    title: "ASO credential holds a client secret",
    severity: Severity::High,
    description: "An Azure Service Operator credential Secret (aso-credential, aso-controller-settings, or one named by serviceoperator.azure.com/credential-from) holds AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE: anyone who can read Secrets in that namespace (or its kubectl.kubernetes.io/last-applied-configuration annotation) holds the identity's credential outside the cluster too.",
    remediation: "Use workload identity: federate the identity with ASO's service account, keep only AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID and AZURE_CLIENT_ID in the Secret, then delete the client secret from the app registration.",
    references: &[ASO_SECURITY, "https://azure.github.io/azure-service-operator/guide/authentication/"],
};

/// Global ASO credential.
pub const ASO_GLOBAL_CREDENTIAL: Check = Check {
    id: "AZP-ASO-002",
    title: "Global ASO credential in use",
    severity: Severity::Medium,
    description: "aso-controller-settings in ASO's namespace names an identity (AZURE_CLIENT_ID) and a single operator serves every namespace: any namespace without its own aso-credential acts with that one identity, so everyone who can create ASO resources anywhere it watches shares its power.",
    remediation: "Give each namespace its own least-privilege aso-credential and leave AZURE_CLIENT_ID in aso-controller-settings empty (Helm: azureClientID=\"\").",
    references: &[ASO_SECURITY],
};

/// `RoleAssignment` CRD installed.
pub const ASO_ROLE_ASSIGNMENT_CRD: Check = Check {
    id: "AZP-ASO-003",
    title: "ASO RoleAssignment CRD is installed",
    severity: Severity::Medium,
    description: "roleassignments.authorization.azure.com is installed: whoever can create ASO resources in a namespace can assign Azure roles with that namespace's ASO identity (up to Owner-equivalent when the identity may write role assignments). ASO's guidance: do not install it unless needed.",
    remediation: "Leave authorization.azure.com/RoleAssignment out of ASO's crdPattern and delete the CRD once no RoleAssignment resource is needed.",
    references: &[ASO_SECURITY],
};

/// Relaxed workload-identity mode.
pub const ASO_RELAXED_MODE: Check = Check {
    id: "AZP-ASO-004",
    title: "ASO runs in relaxed workload-identity mode",
    severity: Severity::Medium,
    description: "AZURE_WORKLOAD_IDENTITY_AUTH_MODE is not `strict` (relaxed is the default): ASO exchanges its own service account's token for any client id a credential Secret names, so a user who can create a Secret and an ASO resource in a watched namespace can make ASO act as any identity federated to ASO (ASO issues #4807, #4810).",
    remediation: "Set AZURE_WORKLOAD_IDENTITY_AUTH_MODE=strict in aso-controller-settings and restart ASO; in strict mode each namespace credential needs a federated credential for system:serviceaccount:<namespace>:aso-workload.",
    references: &[ASO_SECURITY, "https://github.com/Azure/azure-service-operator/issues/4807"],
};

/// ClusterRoleBinding to cluster-admin.
pub const K8S_CLUSTER_ADMIN: Check = Check {
    id: "AZP-K8S-001",
    title: "Subjects bound to cluster-admin",
    severity: Severity::High,
    description: "A ClusterRoleBinding grants cluster-admin (every verb on every resource in every namespace) to users, groups or service accounts other than Kubernetes' own system: identities. Bindings to system:authenticated, system:unauthenticated or system:serviceaccounts are critical.",
    remediation: "Remove the subjects from the binding (or delete it) and grant namespaced roles with the verbs and resources actually needed; keep break-glass admin in a JIT (PIM) group.",
    references: &[RBAC_GOOD_PRACTICES],
};

/// Broad ClusterRoleBinding.
pub const K8S_BROAD_BINDING: Check = Check {
    id: "AZP-K8S-002",
    title: "Broad ClusterRoleBinding",
    severity: Severity::Medium,
    description: "A ClusterRoleBinding (other than to cluster-admin) binds non-system subjects to a ClusterRole with a wildcard verb or resource, in every namespace: wildcards also cover Secrets, subresources and resources added later.",
    remediation: "Replace the wildcard rules with the resources and verbs needed, and prefer RoleBindings in the namespaces that need them.",
    references: &[RBAC_GOOD_PRACTICES],
};

/// Powers on the default service account.
pub const K8S_DEFAULT_SERVICE_ACCOUNT: Check = Check {
    id: "AZP-K8S-003",
    title: "Default service account has permissions or an Azure identity",
    severity: Severity::Medium,
    description: "A namespace's `default` service account is bound to a role, or an Azure identity is federated with it: every pod of the namespace that names no service account gets those powers. Give each application its own service account.",
    remediation: "Create a service account per workload, move the binding or federated credential to it, and leave `default` without permissions.",
    references: &[RBAC_GOOD_PRACTICES, "https://learn.microsoft.com/azure/aks/workload-identity-overview"],
};

/// Long-lived client secrets.
pub const ENTRA_LONG_LIVED_SECRET: Check = Check {
    id: "AZP-ENTRA-001",
    title: "Client secret valid for more than a year",
    severity: Severity::Low,
    description: "An application or service principal has a client secret (password credential) still valid at collection time whose lifetime exceeds one year: a leaked secret stays usable that long. Federated credentials or managed identities have no secret at all.",
    remediation: "Replace the secret with a federated credential or a managed identity; if a secret is unavoidable, rotate to one that expires within a year and delete the long-lived one.",
    references: &[APP_CREDENTIALS],
};

/// Expired credentials left on an app.
pub const ENTRA_EXPIRED_CREDENTIAL: Check = Check {
    id: "AZP-ENTRA-002",
    title: "Expired credentials still on an application",
    severity: Severity::Info,
    description: "A client secret or certificate past its endDateTime authenticates no one, but left in place it hides which credentials are really in use and whether the application is still maintained.",
    remediation: "Delete expired credentials (`az ad app credential delete --key-id`).",
    references: &[APP_CREDENTIALS],
};

/// Credentials about to expire.
pub const ENTRA_EXPIRING_CREDENTIAL: Check = Check {
    id: "AZP-ENTRA-003",
    title: "Client credential expires within 30 days",
    severity: Severity::Low,
    description: "A client secret or certificate expires within 30 days of collection: the workloads using it stop authenticating unless it is rotated, and rotations under pressure tend to produce long-lived secrets.",
    remediation: "Replace it with a federated credential or managed identity; otherwise rotate it now to a short-lived credential.",
    references: &[APP_CREDENTIALS],
};

/// Guests with privileged Azure roles.
pub const AZ_GUEST_PRIVILEGED: Check = Check {
    id: "AZP-AZ-001",
    title: "Guest user holds a privileged Azure role",
    severity: Severity::High,
    description: "A guest (userType Guest, an account of another organisation) is directly assigned a role that can assign roles or write everything (Owner, User Access Administrator, Contributor or equivalent custom roles), actively or PIM-eligible. Its sign-in and lifecycle are governed by the other organisation.",
    remediation: "Remove the assignment, or give the guest a narrower role through a reviewed group with PIM.",
    references: &["https://learn.microsoft.com/azure/role-based-access-control/best-practices#limit-privileged-administrator-role-assignments"],
};

/// Many standing privileged users on a subscription.
pub const AZ_DIRECT_PRIVILEGED_USERS: Check = Check {
    id: "AZP-AZ-002",
    title: "More than 3 users hold standing privileged roles on a subscription",
    severity: Severity::Medium,
    description: "More than three users are directly and permanently (not through a group, not PIM-eligible) assigned roles that can assign roles or write everything at subscription scope. Azure's guidance: at most 3 subscription owners, roles assigned to groups, privileged access just in time.",
    remediation: "Assign the role to a group (made PIM-eligible), then remove the direct user assignments.",
    references: &[
        "https://learn.microsoft.com/azure/role-based-access-control/best-practices#limit-the-number-of-subscription-owners",
        "https://learn.microsoft.com/azure/role-based-access-control/best-practices#assign-roles-to-groups-not-users",
    ],
};

pub use entra::{
    ENTRA_GRAPH_PERMISSION, ENTRA_OWNED_PRIVILEGED_APP, ENTRA_ROLE_GROUP_OWNERS, ENTRA_STANDING_DIRECTORY_ROLE,
};

/// Every posture check, in report order.
pub const CHECKS: &[Check] = &[
    AKS_LOCAL_ACCOUNTS,
    AKS_NO_ENTRA,
    AKS_NO_AZURE_RBAC,
    AKS_NO_KUBERNETES_RBAC,
    AKS_SERVICE_PRINCIPAL,
    AKS_POD_IDENTITY,
    ASO_CLIENT_SECRET,
    ASO_GLOBAL_CREDENTIAL,
    ASO_ROLE_ASSIGNMENT_CRD,
    ASO_RELAXED_MODE,
    K8S_CLUSTER_ADMIN,
    K8S_BROAD_BINDING,
    K8S_DEFAULT_SERVICE_ACCOUNT,
    ENTRA_LONG_LIVED_SECRET,
    ENTRA_EXPIRED_CREDENTIAL,
    ENTRA_EXPIRING_CREDENTIAL,
    AZ_GUEST_PRIVILEGED,
    AZ_DIRECT_PRIVILEGED_USERS,
    ENTRA_STANDING_DIRECTORY_ROLE,
    ENTRA_GRAPH_PERMISSION,
    ENTRA_ROLE_GROUP_OWNERS,
    ENTRA_OWNED_PRIVILEGED_APP,
];

/// The check with this id (case-insensitive).
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id.eq_ignore_ascii_case(id))
}

impl Check {
    /// The check as described in a report.
    pub fn info(&self) -> QueryInfo {
        QueryInfo {
            id: self.id.to_string(),
            title: self.title.to_string(),
            severity: self.severity,
            description: self.description.to_string(),
            remediation: self.remediation.to_string(),
            references: self.references.iter().map(|r| r.to_string()).collect(),
            sources: Vec::new(),
        }
    }
}

/// Days of validity beyond which a client secret is long-lived (a year, leap day included).
const LONG_LIVED_DAYS: i64 = 366;
/// Days before expiry from which a credential is reported as expiring.
const EXPIRING_DAYS: i64 = 30;
/// Standing privileged users per subscription above which AZP-AZ-002 reports.
const MAX_DIRECT_PRIVILEGED_USERS: usize = 3;

/// Runs every posture check on the snapshot. Findings are sorted: severity (highest first), check id,
/// resource id.
pub fn run(snapshot: &Snapshot) -> Vec<PostureFinding> {
    let mut out = Vec::new();
    let now = snapshot.metadata.collected_at.as_str();
    let now = days(now);
    for mc in &snapshot.azure.managed_clusters {
        aks(mc, snapshot, &mut out);
    }
    // Built once: a tenant may have thousands of clusters and directory objects.
    let issuers = cluster_issuers(snapshot);
    let issuer_of: FxHashMap<&str, &str> = issuers.iter().rev().map(|(c, i)| (c.as_str(), i.as_str())).collect();
    let names = entra_names(snapshot);
    let mut default_sa: BTreeMap<(String, String), DefaultSa> = BTreeMap::new();
    for kc in &snapshot.kubernetes {
        let c = KubeCtx::new(kc, snapshot, &issuer_of);
        aso(&c, &mut out);
        pod_identity_objects(&c, snapshot, &mut out);
        cluster_bindings(&c, &names, &mut out);
        default_sa_bindings(&c, &mut default_sa);
    }
    default_sa_federation(snapshot, &issuers, &mut default_sa);
    for ((_, _), d) in default_sa {
        out.push(d.finding());
    }
    entra_credentials(snapshot, now, &mut out);
    azure_roles(snapshot, &mut out);
    entra::run(snapshot, &mut out);
    sort(&mut out);
    out
}

/// Sorts posture findings: severity (highest first), check id, resource id.
pub fn sort(findings: &mut [PostureFinding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check_id.cmp(&b.check_id))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
    });
}

fn finding(
    check: &Check,
    resource: ResourceRef,
    detail: String,
    evidence: Vec<String>,
    summary: String,
    command: Option<String>,
) -> PostureFinding {
    finding_with(check, resource, detail, evidence, Remediation { summary, command })
}

fn finding_with(
    check: &Check,
    resource: ResourceRef,
    detail: String,
    evidence: Vec<String>,
    remediation: Remediation,
) -> PostureFinding {
    PostureFinding {
        check_id: check.id.to_string(),
        title: check.title.to_string(),
        severity: check.severity,
        resource,
        detail,
        evidence,
        remediation,
    }
}

fn resource(kind: &str, id: String, display_name: String) -> ResourceRef {
    ResourceRef { kind: kind.to_string(), id, display_name }
}

/// Days since 1970-01-01 of the date part of an RFC 3339 / ISO 8601 time; `None` when it is not one.
fn days(s: &str) -> Option<i64> {
    let d = s.trim().get(..10)?;
    let b = d.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || !d[..4].bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (y, m, dd): (i64, i64, i64) = (d[..4].parse().ok()?, d[5..7].parse().ok()?, d[8..10].parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    // days_from_civil (H. Hinnant): proleptic Gregorian.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + dd - 1;
    Some(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468)
}

// ---------------------------------------------------------------------------------------------------------
// AKS cluster settings
// ---------------------------------------------------------------------------------------------------------

/// `command --subscription S --resource-group RG --name N` for an ARM resource id, in its own spelling.
fn az_target(command: Command, id: &str) -> Command {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let after = |key: &str| {
        segs.iter().position(|s| s.eq_ignore_ascii_case(key)).and_then(|i| segs.get(i + 1)).copied().unwrap_or("")
    };
    command
        .opt("--subscription", after("subscriptions"))
        .opt("--resource-group", after("resourceGroups"))
        .opt("--name", segs.last().copied().unwrap_or(""))
}

/// `az aks update` of the cluster `id` with `flags`.
fn aks_update(id: &str, flags: &[&'static str]) -> String {
    az_target(Command::new("az").args(["aks", "update"]), id).args(flags.iter().copied()).to_string()
}

fn cluster_name(id: &str, name: &str) -> String {
    if name.is_empty() {
        id.trim_end_matches('/').rsplit('/').next().unwrap_or(id).to_string()
    } else {
        name.to_string()
    }
}

fn aks(mc: &ManagedCluster, snapshot: &Snapshot, out: &mut Vec<PostureFinding>) {
    let p = &mc.properties;
    let name = cluster_name(&mc.id, &mc.name);
    let res = || resource("ManagedCluster", scope::normalize(&mc.id), name.clone());
    let update = |flags: &[&'static str]| aks_update(&mc.id, flags);
    let bool_setting = |path: &str, v: Option<bool>, default: &str| match v {
        Some(v) => format!("{path} = {v}"),
        None => format!("{path} not set ({default})"),
    };

    if p.disable_local_accounts != Some(true) {
        let evidence = vec![bool_setting(
            "properties.disableLocalAccounts",
            p.disable_local_accounts,
            "local accounts are on by default",
        )];
        let (summary, command) = if p.aad_profile.is_some() {
            (format!("Disable local accounts on {name}"), update(&["--disable-local-accounts"]))
        } else {
            (
                format!("Integrate {name} with Entra ID (with an admin group) and disable local accounts"),
                update(&[
                    "--enable-aad",
                    "--aad-admin-group-object-ids",
                    "<admin-group-object-id>",
                    "--disable-local-accounts",
                ]),
            )
        };
        out.push(finding(
            &AKS_LOCAL_ACCOUNTS,
            res(),
            format!("{name} has local accounts enabled: listClusterAdminCredential yields a static cluster-admin certificate that bypasses Entra ID"),
            evidence,
            summary,
            Some(command),
        ));
    }
    match &p.aad_profile {
        None => out.push(finding(
            &AKS_NO_ENTRA,
            res(),
            format!("{name} is not integrated with Entra ID: users authenticate with local certificates only"),
            vec!["properties.aadProfile absent".into()],
            format!("Enable AKS-managed Entra integration on {name} with an admin group"),
            Some(update(&["--enable-aad", "--aad-admin-group-object-ids", "<admin-group-object-id>"])),
        )),
        Some(aad) if aad.enable_azure_rbac != Some(true) => out.push(finding(
            &AKS_NO_AZURE_RBAC,
            res(),
            format!("{name} is Entra-integrated but authorizes only with in-cluster RBAC (Azure RBAC for Kubernetes is off)"),
            vec![bool_setting("properties.aadProfile.enableAzureRBAC", aad.enable_azure_rbac, "off by default")],
            format!("Enable Azure RBAC for Kubernetes on {name}"),
            Some(update(&["--enable-azure-rbac"])),
        )),
        Some(_) => {}
    }
    if p.enable_rbac == Some(false) {
        out.push(finding(
            &AKS_NO_KUBERNETES_RBAC,
            res(),
            format!("{name} has Kubernetes RBAC disabled: every authenticated identity can do anything in the cluster"),
            vec!["properties.enableRBAC = false".into()],
            format!("Recreate {name} with Kubernetes RBAC (the default), Entra integration and local accounts disabled, and move its workloads (RBAC cannot be enabled in place)"),
            Some(
                az_target(Command::new("az").args(["aks", "create"]), &format!("{}-rbac", mc.id.trim_end_matches('/')))
                    .args([
                        "--enable-aad",
                        "--aad-admin-group-object-ids",
                        "<admin-group-object-id>",
                        "--enable-azure-rbac",
                        "--disable-local-accounts",
                        "--enable-managed-identity",
                    ])
                    .to_string(),
            ),
        ));
    }
    let managed_identity = mc
        .identity
        .as_ref()
        .and_then(|i| i.kind.as_deref())
        .is_some_and(|k| !k.trim().is_empty() && !k.trim().eq_ignore_ascii_case("none"));
    let sp = p
        .service_principal_profile
        .as_ref()
        .and_then(|s| s.client_id.as_deref())
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("msi"));
    if let (Some(client), false) = (sp, managed_identity) {
        let mut evidence = vec![
            format!("properties.servicePrincipalProfile.clientId = {client}"),
            match mc.identity.as_ref().and_then(|i| i.kind.as_deref()) {
                Some(k) => format!("identity.type = {k}"),
                None => "identity absent".into(),
            },
        ];
        let app = snapshot
            .entra
            .applications
            .iter()
            .find(|a| a.app_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(client)));
        if let Some(app_name) = app.and_then(|a| a.display_name.as_deref()) {
            evidence.push(format!("application {app_name} ({client})"));
        }
        out.push(finding(
            &AKS_SERVICE_PRINCIPAL,
            res(),
            format!("{name} authenticates to Azure as service principal {client}, whose secret is kept on the nodes and rotated by hand"),
            evidence,
            format!("Move {name} to a managed identity, then remove the service principal's secret"),
            Some(update(&["--enable-managed-identity"])),
        ));
    }
    if let Some(pod) = p.pod_identity_profile.as_ref().filter(|x| x.enabled == Some(true)) {
        let oidc = p.oidc_issuer_profile.as_ref().and_then(|o| o.enabled).unwrap_or(false);
        let wi = p.security_profile.as_ref().and_then(|s| s.workload_identity.as_ref()).is_some_and(|w| w.enabled);
        let mut evidence = vec![
            "properties.podIdentityProfile.enabled = true".to_string(),
            format!("properties.oidcIssuerProfile.enabled = {oidc}"),
            format!("properties.securityProfile.workloadIdentity.enabled = {wi}"),
        ];
        for b in &pod.user_assigned_identities {
            let who = b.identity.resource_id.as_deref().or(b.identity.client_id.as_deref()).unwrap_or("?");
            evidence.push(format!("pod identity {}/{} → {who}", b.namespace, b.name));
        }
        let (detail, summary, command) = if oidc && wi {
            (
                format!("{name} still runs deprecated pod-managed identity ({} binding(s)); workload identity is already on", pod.user_assigned_identities.len()),
                format!("Finish moving {name}'s workloads to workload identity (a federated credential per service account), then disable pod identity"),
                update(&["--disable-pod-identity"]),
            )
        } else {
            (
                format!("{name} runs deprecated pod-managed identity ({} binding(s)) while the OIDC issuer or workload identity is off", pod.user_assigned_identities.len()),
                format!("Enable the OIDC issuer and workload identity on {name}, federate each identity with its service accounts, then disable pod identity (`--disable-pod-identity`)"),
                update(&["--enable-oidc-issuer", "--enable-workload-identity"]),
            )
        };
        out.push(finding(&AKS_POD_IDENTITY, res(), detail, evidence, summary, Some(command)));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes: ASO and RBAC
// ---------------------------------------------------------------------------------------------------------

/// One collected cluster: its id as the graph keys it, a short name, and its OIDC issuer when known.
struct KubeCtx<'a> {
    kc: &'a KubeCluster,
    /// Lower-cased ARM id, or `k8s:<name>` when it matches no collected cluster.
    id: String,
    name: String,
    issuer: Option<String>,
}

impl<'a> KubeCtx<'a> {
    fn new(kc: &'a KubeCluster, s: &Snapshot, issuers: &FxHashMap<&str, &str>) -> Self {
        // `attach` has already turned names it could match into ids; the graph keys clusters the same way.
        let id = if kc.cluster.trim_start().starts_with('/') {
            scope::normalize(&kc.cluster)
        } else {
            match resolve_cluster(&kc.cluster, &s.azure) {
                ClusterMatch::Found(id) => scope::normalize(&id),
                _ => format!("k8s:{}", kc.cluster.trim().to_ascii_lowercase()),
            }
        };
        let name = cluster_name(&kc.cluster, "");
        let issuer = issuers.get(id.as_str()).map(|i| i.to_string());
        KubeCtx { kc, id, name, issuer }
    }

    fn object(&self, kind: &str, rest: &str, display: String) -> ResourceRef {
        resource(kind, format!("{}/k8s/{rest}", self.id), format!("{display} in {}", self.name))
    }

    /// `kubectl --context <cluster>`: AKS names a cluster's kubeconfig context after the cluster.
    fn kubectl(&self) -> Command {
        Command::new("kubectl").opt("--context", &self.name)
    }
}

/// (normalized cluster id, OIDC issuer without trailing `/`) of every AKS and Arc cluster with one.
fn cluster_issuers(s: &Snapshot) -> Vec<(String, String)> {
    let norm = |u: &str| u.trim().trim_end_matches('/').to_string();
    let aks = s.azure.managed_clusters.iter().filter_map(|c| {
        let url = c.properties.oidc_issuer_profile.as_ref()?.issuer_url.as_deref()?;
        Some((scope::normalize(&c.id), norm(url)))
    });
    let arc = s.azure.connected_clusters.iter().flat_map(|c| {
        let o = c.properties.oidc_issuer_profile.as_ref();
        [o.and_then(|o| o.issuer_url.as_deref()), o.and_then(|o| o.self_hosted_issuer_url.as_deref())]
            .into_iter()
            .flatten()
            .map(|u| (scope::normalize(&c.id), norm(u)))
            .collect::<Vec<_>>()
    });
    aks.chain(arc).filter(|(_, u)| !u.is_empty()).collect()
}

fn secret_key(s: &SecretMeta) -> (String, String) {
    (s.metadata.namespace.clone().unwrap_or_default(), s.metadata.name.clone())
}

fn aso(c: &KubeCtx, out: &mut Vec<PostureFinding>) {
    let kc = c.kc;
    let found = find_aso(kc);
    // Secrets named by a resource's credential-from annotation (a Secret of the resource's namespace).
    let mut referenced: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in &kc.aso_resources {
        let ns = r.metadata.namespace.clone().unwrap_or_default();
        if let Some(secret) = r.metadata.annotations.get("serviceoperator.azure.com/credential-from") {
            referenced
                .entry((ns.clone(), secret.trim().to_string()))
                .or_default()
                .push(format!("{} {ns}/{}", r.kind, r.metadata.name));
        }
    }
    for secret in &kc.secrets {
        let key = secret_key(secret);
        let name = secret.metadata.name.as_str();
        let users = referenced.get(&key);
        if !(name == ASO_CREDENTIAL || name == ASO_SETTINGS || users.is_some()) || !holds_client_secret(secret) {
            continue;
        }
        let (ns, _) = &key;
        let mut keys = secret.keys.clone();
        keys.sort();
        let mut evidence = vec![format!("Secret {ns}/{name} keys: {}", keys.join(", "))];
        if let Some(client) = secret.values.get("AZURE_CLIENT_ID").filter(|v| !v.trim().is_empty()) {
            evidence.push(format!("AZURE_CLIENT_ID = {}", client.trim()));
        }
        if let Some(users) = users {
            let shown: Vec<&str> = users.iter().take(5).map(String::as_str).collect();
            let more = if users.len() > 5 { format!(" and {} more", users.len() - 5) } else { String::new() };
            evidence.push(format!("named by serviceoperator.azure.com/credential-from of {}{more}", shown.join(", ")));
        }
        if secret.metadata.annotations.contains_key(LAST_APPLIED_ANNOTATION) {
            evidence
                .push(format!("annotation {LAST_APPLIED_ANNOTATION} present: it holds the secret in plain text too"));
        }
        let subject = aso_subject(found.as_ref(), ns, name);
        let client = secret.values.get("AZURE_CLIENT_ID").map(|v| v.trim()).filter(|v| !v.is_empty());
        let issuer = c.issuer.as_deref().unwrap_or("<cluster OIDC issuer URL>");
        let command = federate_aso_credential(c, secret, client.unwrap_or("<client-id>"), issuer, &subject);
        out.push(finding_with(
            &ASO_CLIENT_SECRET,
            c.object("Secret", &format!("namespaces/{ns}/secrets/{name}"), format!("{ns}/{name}")),
            format!("ASO credential {ns}/{name} holds a client secret: whoever reads it can act as the identity from anywhere"),
            evidence,
            shell::remediation(
                format!(
                    "Federate the identity with {subject}, remove the client secret from {ns}/{name}, then delete the secret from the app registration (`az ad app credential delete`){}",
                    if name != ASO_SETTINGS && !found.as_ref().is_some_and(|a| a.strict) {
                        "; ASO uses that subject once it runs in strict mode (AZP-ASO-004): federated with ASO's own service account instead, the identity could be forged from every watched namespace"
                    } else {
                        ""
                    }
                ),
                command,
            ),
        ));
    }
    // The RoleAssignment CRD (installed is enough: ASO may run elsewhere or not be collected).
    for crd in kc.crds.iter().filter(|d| {
        (d.group.eq_ignore_ascii_case("authorization.azure.com") && d.kind == "RoleAssignment")
            || d.name.eq_ignore_ascii_case("roleassignments.authorization.azure.com")
    }) {
        role_assignment_crd(c, crd.name.as_str(), out);
    }
    let Some(a) = found else { return };
    let settings = kc
        .secrets
        .iter()
        .find(|s| s.metadata.name == ASO_SETTINGS && s.metadata.namespace.as_deref() == Some(a.namespace.as_str()));

    // Global credential, when one operator serves every watched namespace.
    let single = a.operator_mode.as_deref().is_none_or(|m| m.trim().eq_ignore_ascii_case("watchers-and-webhooks"));
    let global = settings.and_then(|s| s.values.get("AZURE_CLIENT_ID")).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let (Some(client), true, Some(settings)) = (global, single, settings) {
        let with_own: BTreeSet<&str> = kc
            .secrets
            .iter()
            .filter(|s| s.metadata.name == ASO_CREDENTIAL)
            .filter_map(|s| s.metadata.namespace.as_deref())
            .collect();
        let namespaces: BTreeSet<&str> = kc.namespaces.iter().map(|n| n.metadata.name.as_str()).collect();
        let fallback: Vec<&str> = namespaces
            .iter()
            .copied()
            .filter(|n| a.targets.as_ref().is_none_or(|t| t.contains(*n)) && !with_own.contains(n) && *n != a.namespace)
            .collect();
        let mut evidence = vec![
            format!("Secret {}/{ASO_SETTINGS} AZURE_CLIENT_ID = {client}", a.namespace),
            match &a.operator_mode {
                Some(m) => format!("AZURE_OPERATOR_MODE = {m}"),
                None => "AZURE_OPERATOR_MODE not set (one operator: watchers-and-webhooks)".into(),
            },
            match &a.targets {
                Some(t) => format!("AZURE_TARGET_NAMESPACES = {}", t.iter().cloned().collect::<Vec<_>>().join(",")),
                None => "AZURE_TARGET_NAMESPACES not set: every namespace is watched".into(),
            },
        ];
        if !fallback.is_empty() {
            evidence.push(format!("namespaces without their own {ASO_CREDENTIAL}: {}", fallback.join(", ")));
        }
        let ns = &a.namespace;
        out.push(finding_with(
            &ASO_GLOBAL_CREDENTIAL,
            c.object("Secret", &format!("namespaces/{ns}/secrets/{}", settings.metadata.name), format!("{ns}/{ASO_SETTINGS}")),
            format!("ASO's global credential ({client}) acts for every watched namespace without its own {ASO_CREDENTIAL}"),
            evidence,
            shell::remediation(
                format!("Create a least-privilege {ASO_CREDENTIAL} in each namespace that uses ASO, then empty AZURE_CLIENT_ID in {ns}/{ASO_SETTINGS} (Helm: azureClientID=\"\") and restart ASO"),
                patch_aso_settings(c, &a, "--type=json", r#"[{"op":"replace","path":"/data/AZURE_CLIENT_ID","value":""}]"#),
            ),
        ));
    }

    // Relaxed workload-identity mode (the default).
    if !a.strict {
        let ns = &a.namespace;
        let mut evidence = vec![match &a.auth_mode {
            Some(m) => format!("AZURE_WORKLOAD_IDENTITY_AUTH_MODE = {m}"),
            None => "AZURE_WORKLOAD_IDENTITY_AUTH_MODE not set in aso-controller-settings or ASO's environment (default: relaxed)".into(),
        }];
        evidence.push(format!("ASO's service account: system:serviceaccount:{ns}:{}", a.service_account));
        evidence.push(match &a.targets {
            Some(t) => format!("watched namespaces: {}", t.iter().cloned().collect::<Vec<_>>().join(", ")),
            None => "watched namespaces: all".into(),
        });
        let res = match &a.deployment {
            Some(d) => c.object("Deployment", &format!("namespaces/{ns}/deployments/{d}"), format!("{ns}/{d}")),
            None => c.object("Namespace", &format!("namespaces/{ns}"), format!("ASO in {ns}")),
        };
        out.push(finding_with(
            &ASO_RELAXED_MODE,
            res,
            format!("ASO in {ns} runs in relaxed workload-identity mode: a forged credential Secret in a watched namespace can name any identity federated to system:serviceaccount:{ns}:{}", a.service_account),
            evidence,
            shell::remediation(
                "Set AZURE_WORKLOAD_IDENTITY_AUTH_MODE=strict and restart ASO; then federate each namespace credential's identity with system:serviceaccount:<namespace>:aso-workload".into(),
                patch_aso_settings(c, &a, "--type=merge", r#"{"stringData":{"AZURE_WORKLOAD_IDENTITY_AUTH_MODE":"strict"}}"#),
            ),
        ));
    }
}

/// `kubectl -n <ASO's namespace> patch secret aso-controller-settings <patch_type> -p <patch>`, then a restart
/// of ASO's Deployment when it is known.
fn patch_aso_settings(c: &KubeCtx, a: &Aso, patch_type: &'static str, patch: &str) -> Result<Chain, Malformed> {
    let ns = shell::namespace(&a.namespace)?;
    let settings = c.kubectl().opt("-n", ns).args(["patch", "secret", ASO_SETTINGS, patch_type]).opt("-p", patch);
    let Some(d) = &a.deployment else { return Ok(settings.into()) };
    let deployment = format!("deployment/{}", shell::object_name("Deployment name", d)?);
    Ok(settings.and(c.kubectl().opt("-n", ns).args(["rollout", "restart"]).arg(deployment)))
}

/// Federates the app `client` with `subject` of `issuer`, then removes the client secret's keys from `secret`.
fn federate_aso_credential(
    c: &KubeCtx,
    secret: &SecretMeta,
    client: &str,
    issuer: &str,
    subject: &str,
) -> Result<Chain, Malformed> {
    let ns = shell::namespace(secret.metadata.namespace.as_deref().unwrap_or(""))?;
    let name = shell::object_name("Secret name", &secret.metadata.name)?;
    let params = serde_json::json!({
        "name": format!("aso-{ns}"),
        "issuer": issuer,
        "subject": subject,
        "audiences": ["api://AzureADTokenExchange"],
    });
    let removals: Vec<serde_json::Value> =
        ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE", "AZURE_CLIENT_CERTIFICATE_PASSWORD"]
            .iter()
            .filter(|k| secret.keys.iter().any(|x| x == *k))
            .map(|k| serde_json::json!({"op": "remove", "path": format!("/data/{k}")}))
            .collect();
    let federate = Command::new("az")
        .args(["ad", "app", "federated-credential", "create"])
        .opt("--id", client)
        .opt("--parameters", params.to_string());
    let patch = c
        .kubectl()
        .opt("-n", ns)
        .args(["patch", "secret"])
        .arg(name)
        .args(["--type=json"])
        .opt("-p", serde_json::Value::from(removals).to_string());
    Ok(federate.and(patch))
}

/// The subject a federated credential needs for ASO to use `secret` in `ns` with workload identity.
///
/// A namespace credential gets strict mode's per-namespace subject even while ASO is relaxed: federated
/// with ASO's own service account, a powerful identity becomes forgeable from every watched namespace.
fn aso_subject(aso: Option<&Aso>, ns: &str, secret: &str) -> String {
    let (aso_ns, aso_sa) = aso
        .map(|a| (a.namespace.as_str(), a.service_account.as_str()))
        .unwrap_or(("azureserviceoperator-system", "azureserviceoperator-default"));
    if secret == ASO_SETTINGS {
        format!("system:serviceaccount:{aso_ns}:{aso_sa}")
    } else {
        format!("system:serviceaccount:{ns}:aso-workload")
    }
}

fn role_assignment_crd(c: &KubeCtx, crd: &str, out: &mut Vec<PostureFinding>) {
    let in_use: Vec<String> =
        c.kc.aso_resources
            .iter()
            .filter(|r| {
                r.kind == "RoleAssignment" && r.api_version.to_ascii_lowercase().starts_with("authorization.azure.com/")
            })
            .map(|r| format!("{}/{}", r.metadata.namespace.as_deref().unwrap_or(""), r.metadata.name))
            .collect();
    let mut evidence = vec![format!("CustomResourceDefinition {crd}")];
    let (summary, command) = if in_use.is_empty() {
        evidence.push("no RoleAssignment resource collected".into());
        (
            "Remove authorization.azure.com/RoleAssignment from ASO's crdPattern (Helm value crdPattern) so it is not reinstalled, and delete the CRD".to_string(),
            shell::object_name("CRD name", crd).map(|crd| c.kubectl().args(["delete", "crd"]).arg(crd)),
        )
    } else {
        evidence.push(format!("RoleAssignment resources: {}", in_use.join(", ")));
        (
            "Review the RoleAssignment resources; if they are not needed, delete them, leave the CRD out of ASO's crdPattern and delete it; otherwise keep ASO identities' roleAssignments/write narrow".to_string(),
            Ok(c.kubectl().args(["get", "roleassignments.authorization.azure.com", "-A"])),
        )
    };
    out.push(finding_with(
        &ASO_ROLE_ASSIGNMENT_CRD,
        c.object("CustomResourceDefinition", &format!("customresourcedefinitions/{crd}"), crd.to_string()),
        format!("The ASO RoleAssignment CRD is installed in {}: ASO users can assign Azure roles with their namespace's identity", c.name),
        evidence,
        shell::remediation(summary, command),
    ));
}

/// aad-pod-identity objects in a cluster (the AKS add-on's, or a standalone install): added to the
/// cluster's AKS-006 finding, or one made for them.
fn pod_identity_objects(c: &KubeCtx, s: &Snapshot, out: &mut Vec<PostureFinding>) {
    let kc = c.kc;
    if kc.azure_identity_bindings.is_empty() && kc.azure_identities.is_empty() {
        return;
    }
    let ns_name = |m: &crate::kube::ObjectMeta| format!("{}/{}", m.namespace.as_deref().unwrap_or(""), m.name);
    let mut evidence: Vec<String> = kc
        .azure_identity_bindings
        .iter()
        .map(|b| {
            format!(
                "AzureIdentityBinding {} → AzureIdentity {} (pods labelled aadpodidbinding={})",
                ns_name(&b.metadata),
                b.azure_identity,
                b.selector
            )
        })
        .collect();
    for i in &kc.azure_identities {
        let what = match i.identity_type {
            0 => format!("managed identity {}", i.resource_id.as_deref().unwrap_or("?")),
            1 => "service principal with a client secret".to_string(),
            _ => "service principal with a certificate".to_string(),
        };
        let secret = i
            .client_password
            .as_ref()
            .map(|r| format!(" (Secret {}/{})", r.namespace.as_deref().unwrap_or(""), r.name))
            .unwrap_or_default();
        evidence.push(format!("AzureIdentity {}: {what}{secret}", ns_name(&i.metadata)));
    }
    if let Some(f) = out.iter_mut().find(|f| f.check_id == AKS_POD_IDENTITY.id && f.resource.id == c.id) {
        f.evidence.extend(evidence);
        return;
    }
    let mc = s.azure.managed_clusters.iter().find(|m| scope::normalize(&m.id) == c.id);
    let kind = if mc.is_some() { "ManagedCluster" } else { "KubernetesCluster" };
    let wi = mc.is_some_and(|m| {
        let p = &m.properties;
        p.oidc_issuer_profile.as_ref().and_then(|o| o.enabled).unwrap_or(false)
            && p.security_profile.as_ref().and_then(|x| x.workload_identity.as_ref()).is_some_and(|w| w.enabled)
    });
    let command = match mc {
        Some(m) if !wi => aks_update(&m.id, &["--enable-oidc-issuer", "--enable-workload-identity"]),
        _ => c.kubectl().args(["get", "azureidentitybindings.aadpodidentity.k8s.io", "-A"]).to_string(),
    };
    out.push(finding(
        &AKS_POD_IDENTITY,
        resource(kind, c.id.clone(), c.name.clone()),
        format!(
            "{} runs deprecated aad-pod-identity ({} binding(s)): its NMI hands identity tokens to any pod carrying a binding's label",
            c.name,
            kc.azure_identity_bindings.len()
        ),
        evidence,
        format!(
            "Move each workload of {} to workload identity (a federated credential per service account){}, then delete the AzureIdentityBindings and uninstall aad-pod-identity (NMI, MIC)",
            c.name,
            if mc.is_some() && !wi { ", enabling the OIDC issuer and workload identity first" } else { "" }
        ),
        Some(command),
    ));
}

/// Groups that contain users or workloads at large, not a system component: binding them is worse.
fn is_broad_group(s: &Subject) -> bool {
    let n = s.name.as_str();
    matches!(n, "system:authenticated" | "system:unauthenticated" | "system:anonymous" | "system:serviceaccounts")
        || n.starts_with("system:serviceaccounts:")
}

/// Kubernetes' own identities: `system:` users and groups (except the broad groups), and kube-system service
/// accounts bound by a Kubernetes default binding (`system:` name or the rbac-defaults label).
fn is_system_subject(b: &RoleBinding, s: &Subject) -> bool {
    match s.kind.as_str() {
        "User" | "Group" => s.name.starts_with("system:") && !is_broad_group(s),
        "ServiceAccount" => {
            s.namespace.as_deref() == Some("kube-system")
                && (b.metadata.name.starts_with("system:")
                    || b.metadata.labels.get("kubernetes.io/bootstrapping").is_some_and(|v| v == "rbac-defaults"))
        }
        _ => true,
    }
}

fn subject_text(s: &Subject, names: &FxHashMap<String, String>) -> String {
    let who = match (s.kind.as_str(), &s.namespace) {
        ("ServiceAccount", Some(ns)) => format!("{ns}/{}", s.name),
        _ => s.name.clone(),
    };
    match names.get(&s.name.to_ascii_lowercase()) {
        Some(display) => format!("{} {who} ({display})", s.kind),
        None => format!("{} {who}", s.kind),
    }
}

/// Display names of Entra users and groups by object id, to name binding subjects.
fn entra_names(s: &Snapshot) -> FxHashMap<String, String> {
    let users = s.entra.users.iter().map(|u| (&u.id, u.user_principal_name.as_ref().or(u.display_name.as_ref())));
    let groups = s.entra.groups.iter().map(|g| (&g.id, g.display_name.as_ref()));
    users.chain(groups).filter_map(|(id, n)| Some((id.to_ascii_lowercase(), n?.clone()))).collect()
}

fn rule_text(r: &crate::kube::PolicyRule) -> String {
    let list = |v: &[String]| if v.is_empty() { "[]".to_string() } else { format!("[{}]", v.join(",")) };
    format!("apiGroups={} resources={} verbs={}", list(&r.api_groups), list(&r.resources), list(&r.verbs))
}

fn cluster_bindings(c: &KubeCtx, names: &FxHashMap<String, String>, out: &mut Vec<PostureFinding>) {
    let rules = cluster_role_rules(c.kc);
    for b in &c.kc.cluster_role_bindings {
        if b.role_ref.kind != "ClusterRole" {
            continue;
        }
        let subjects: Vec<&Subject> = b.subjects.iter().filter(|x| !is_system_subject(b, x)).collect();
        if subjects.is_empty() {
            continue;
        }
        let name = &b.metadata.name;
        let role = &b.role_ref.name;
        let mut evidence = vec![format!("ClusterRoleBinding {name} → ClusterRole {role}")];
        evidence.extend(subjects.iter().map(|x| format!("subject {}", subject_text(x, names))));
        // Deleting the binding is the cut unless system subjects share it.
        let whole = subjects.len() == b.subjects.len();
        let verb = if whole { "delete" } else { "edit" };
        let command = shell::rbac_name("ClusterRoleBinding name", name)
            .map(|name| c.kubectl().args([verb, "clusterrolebinding"]).arg(name));
        let who = subjects.iter().map(|x| subject_text(x, names)).collect::<Vec<_>>().join(", ");
        let res = c.object("ClusterRoleBinding", &format!("clusterrolebindings/{name}"), name.clone());
        let broad_group = subjects.iter().any(|x| is_broad_group(x));
        if role == "cluster-admin" {
            let mut f = finding_with(
                &K8S_CLUSTER_ADMIN,
                res,
                format!(
                    "{who} {} cluster-admin of {} through ClusterRoleBinding {name}",
                    if subjects.len() == 1 { "is" } else { "are" },
                    c.name
                ),
                evidence,
                shell::remediation(
                    if whole {
                        format!(
                            "Delete ClusterRoleBinding {name} and grant {who} namespaced roles with only what is needed"
                        )
                    } else {
                        format!("Remove {who} from ClusterRoleBinding {name} (keep its system subjects) and grant namespaced roles instead")
                    },
                    command,
                ),
            );
            if broad_group {
                f.severity = Severity::Critical;
            }
            out.push(f);
            continue;
        }
        let role_rules = rules.get(role).cloned().unwrap_or_default();
        let wild = |v: &[String]| v.iter().any(|x| x == "*");
        let broad: Vec<&crate::kube::PolicyRule> =
            role_rules.iter().filter(|r| !r.verbs.is_empty() && (wild(&r.verbs) || wild(&r.resources))).collect();
        if broad.is_empty() {
            continue;
        }
        let everything = broad.iter().any(|r| wild(&r.verbs) && wild(&r.resources) && wild(&r.api_groups));
        evidence.extend(broad.iter().map(|r| format!("rule {}", rule_text(r))));
        let mut f = finding_with(
            &K8S_BROAD_BINDING,
            res,
            format!(
                "{who} {} wildcard rights in every namespace of {} through ClusterRoleBinding {name} (ClusterRole {role}){}",
                if subjects.len() == 1 { "has" } else { "have" },
                c.name,
                if everything { ": equivalent to cluster-admin" } else { "" }
            ),
            evidence,
            shell::remediation(
                format!("Narrow ClusterRole {role} to the resources and verbs needed, or replace ClusterRoleBinding {name} with RoleBindings in the namespaces that need it"),
                command,
            ),
        );
        if everything || broad_group {
            f.severity = if everything && broad_group { Severity::Critical } else { Severity::High };
        }
        out.push(f);
    }
}

/// What makes one namespace's `default` service account powerful, gathered from bindings and federation.
struct DefaultSa {
    resource: ResourceRef,
    evidence: Vec<String>,
    /// The first fix found (a refused one included: its finding then says why it has no command).
    command: Option<Result<Command, Malformed>>,
    fixes: Vec<String>,
}

impl DefaultSa {
    fn finding(self) -> PostureFinding {
        let ns = self.resource.id.rsplit("/namespaces/").next().and_then(|r| r.split('/').next()).unwrap_or("");
        let summary = format!("Give the workloads of {ns} their own service accounts, move these grants to them, and leave `default` without permissions");
        finding_with(
            &K8S_DEFAULT_SERVICE_ACCOUNT,
            self.resource.clone(),
            format!(
                "Every pod in {ns} that names no service account runs as {} and gets: {}",
                self.resource.display_name,
                self.fixes.join("; ")
            ),
            self.evidence,
            match self.command {
                Some(command) => shell::remediation(summary, command),
                None => Remediation { summary, command: None },
            },
        )
    }
}

fn default_sa_entry<'m>(
    map: &'m mut BTreeMap<(String, String), DefaultSa>,
    cluster: &str,
    cluster_name: &str,
    ns: &str,
) -> &'m mut DefaultSa {
    map.entry((cluster.to_string(), ns.to_string())).or_insert_with(|| DefaultSa {
        resource: resource(
            "ServiceAccount",
            format!("{cluster}/k8s/namespaces/{ns}/serviceaccounts/default"),
            format!("{ns}/default in {cluster_name}"),
        ),
        evidence: Vec::new(),
        command: None,
        fixes: Vec::new(),
    })
}

fn default_sa_bindings(c: &KubeCtx, map: &mut BTreeMap<(String, String), DefaultSa>) {
    let bindings =
        c.kc.role_bindings.iter().map(|b| (b, true)).chain(c.kc.cluster_role_bindings.iter().map(|b| (b, false)));
    for (b, namespaced) in bindings {
        let bns = b.metadata.namespace.as_deref().unwrap_or("default");
        for s in b.subjects.iter().filter(|s| s.kind == "ServiceAccount" && s.name == "default") {
            let ns = s.namespace.as_deref().unwrap_or(if namespaced { bns } else { "default" });
            // Deleting the binding is the cut when `default` is its only subject.
            let verb = if b.subjects.len() == 1 { "delete" } else { "edit" };
            let name = &b.metadata.name;
            let (kind, what, command) = if namespaced {
                let command = shell::namespace(bns).and_then(|bns| {
                    let name = shell::rbac_name("RoleBinding name", name)?;
                    Ok(c.kubectl().opt("-n", bns).args([verb, "rolebinding"]).arg(name))
                });
                ("RoleBinding", format!("{bns}/{name}"), command)
            } else {
                let command = shell::rbac_name("ClusterRoleBinding name", name)
                    .map(|name| c.kubectl().args([verb, "clusterrolebinding"]).arg(name));
                ("ClusterRoleBinding", name.clone(), command)
            };
            let entry = default_sa_entry(map, &c.id, &c.name, ns);
            entry.evidence.push(format!("{kind} {what} → {} {}", b.role_ref.kind, b.role_ref.name));
            entry.fixes.push(format!("{} {} ({kind} {what})", b.role_ref.kind, b.role_ref.name));
            if entry.command.is_none() {
                entry.command = Some(command);
            }
        }
    }
}

/// Federated credentials (managed identities' and applications') trusting `system:serviceaccount:<ns>:default`
/// of a collected cluster's issuer.
fn default_sa_federation(s: &Snapshot, issuers: &[(String, String)], map: &mut BTreeMap<(String, String), DefaultSa>) {
    let names: FxHashMap<String, String> = s
        .azure
        .managed_clusters
        .iter()
        .map(|c| (scope::normalize(&c.id), cluster_name(&c.id, &c.name)))
        .chain(s.azure.connected_clusters.iter().map(|c| (scope::normalize(&c.id), cluster_name(&c.id, &c.name))))
        .collect();
    let apps: FxHashMap<String, (&str, String)> = s
        .entra
        .applications
        .iter()
        .map(|a| {
            (
                a.id.to_ascii_lowercase(),
                (a.app_id.as_deref().unwrap_or(a.id.as_str()), a.display_name.clone().unwrap_or_else(|| a.id.clone())),
            )
        })
        .collect();
    // (issuer, subject, what, evidence id, delete command)
    let mut creds: Vec<(&str, &str, String, String, Command)> = Vec::new();
    for f in &s.azure.federated_identity_credentials {
        let Some(at) = f.id.to_ascii_lowercase().find("/federatedidentitycredentials/") else { continue };
        let identity = &f.id[..at];
        let identity_name = identity.rsplit('/').next().unwrap_or(identity);
        let rg = identity.split('/').skip_while(|x| !x.eq_ignore_ascii_case("resourceGroups")).nth(1).unwrap_or("");
        creds.push((
            &f.properties.issuer,
            &f.properties.subject,
            format!("managed identity {identity_name}"),
            f.id.clone(),
            Command::new("az")
                .args(["identity", "federated-credential", "delete"])
                .opt("--name", &f.name)
                .opt("--identity-name", identity_name)
                .opt("--resource-group", rg)
                .args(["--yes"]),
        ));
    }
    for a in &s.entra.application_federated_credentials {
        let (app_id, app_name) = apps
            .get(&a.application_id.to_ascii_lowercase())
            .cloned()
            .unwrap_or((a.application_id.as_str(), a.application_id.clone()));
        for f in &a.credentials {
            creds.push((
                &f.issuer,
                &f.subject,
                format!("application {app_name}"),
                format!(
                    "application {} federated credential {}",
                    a.application_id,
                    if f.name.is_empty() { &f.id } else { &f.name }
                ),
                Command::new("az")
                    .args(["ad", "app", "federated-credential", "delete"])
                    .opt("--id", app_id)
                    .opt("--federated-credential-id", if f.id.is_empty() { &f.name } else { &f.id }),
            ));
        }
    }
    for (issuer, subject, what, evidence, command) in creds {
        let Some(ns) = subject.strip_prefix("system:serviceaccount:").and_then(|r| r.strip_suffix(":default")) else {
            continue;
        };
        let issuer = issuer.trim().trim_end_matches('/');
        for (cluster, _) in issuers.iter().filter(|(_, i)| i == issuer) {
            let cname = names.get(cluster).cloned().unwrap_or_else(|| cluster.clone());
            let entry = default_sa_entry(map, cluster, &cname, ns);
            entry.evidence.push(format!("federated credential {evidence} (issuer {issuer}, subject {subject})"));
            entry.fixes.push(format!("the Azure tokens of {what}"));
            if entry.command.is_none() {
                entry.command = Some(Ok(command.clone()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Entra application credentials
// ---------------------------------------------------------------------------------------------------------

/// An object whose credentials are checked: an application or a service principal.
struct CredentialOwner<'a> {
    kind: &'static str,
    /// `app` or `sp`, as in `az ad app`.
    az: &'static str,
    id: &'a str,
    name: String,
    passwords: &'a [CredentialMetadata],
    keys: &'a [CredentialMetadata],
}

fn entra_credentials(s: &Snapshot, now: Option<i64>, out: &mut Vec<PostureFinding>) {
    let apps = s.entra.applications.iter().map(|a| CredentialOwner {
        kind: "Application",
        az: "app",
        id: &a.id,
        name: a.display_name.clone().unwrap_or_else(|| a.id.clone()),
        passwords: &a.password_credentials,
        keys: &a.key_credentials,
    });
    // Managed identities' credentials are Azure's to rotate.
    let sps = s
        .entra
        .service_principals
        .iter()
        .filter(|p| !p.service_principal_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("ManagedIdentity")))
        .map(|p| CredentialOwner {
            kind: "ServicePrincipal",
            az: "sp",
            id: &p.id,
            name: p.display_name.clone().unwrap_or_else(|| p.id.clone()),
            passwords: &p.password_credentials,
            keys: &p.key_credentials,
        });
    for o in apps.chain(sps) {
        credential_checks(&o, now, out);
    }
}

fn credential_text(kind: &str, c: &CredentialMetadata) -> String {
    let name = c.display_name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default();
    let from = c.start_date_time.as_deref().map(|d| d.get(..10).unwrap_or(d)).unwrap_or("?");
    let to = c.end_date_time.as_deref().map(|d| d.get(..10).unwrap_or(d)).unwrap_or("?");
    format!("{kind} {}{name}: {from} → {to}", c.key_id.as_deref().unwrap_or("?"))
}

fn credential_checks(o: &CredentialOwner, now: Option<i64>, out: &mut Vec<PostureFinding>) {
    let res = || resource(o.kind, o.id.to_ascii_lowercase(), o.name.clone());
    let key_id = |c: &CredentialMetadata| c.key_id.clone().unwrap_or_else(|| "<key-id>".into());
    let credential = |verb: &'static str| Command::new("az").args(["ad", o.az, "credential", verb]).opt("--id", o.id);
    let end = |c: &CredentialMetadata| c.end_date_time.as_deref().and_then(days);

    // Long-lived secrets, still valid.
    let long: Vec<(&CredentialMetadata, i64)> = o
        .passwords
        .iter()
        .filter_map(|c| {
            let end = end(c)?;
            if now.is_some_and(|n| end < n) {
                return None;
            }
            let start = c.start_date_time.as_deref().and_then(days).or(now)?;
            Some((c, end - start)).filter(|(_, life)| *life > LONG_LIVED_DAYS)
        })
        .collect();
    if let Some((first, _)) = long.first() {
        out.push(finding(
            &ENTRA_LONG_LIVED_SECRET,
            res(),
            format!("{} has {} client secret(s) valid for more than a year", o.name, long.len()),
            long.iter().map(|(c, life)| format!("{} ({life} days)", credential_text("secret", c))).collect(),
            format!("Replace {}'s long-lived secret(s) with a federated credential or managed identity, or rotate to a secret that expires within a year and delete the old one", o.name),
            Some(
                credential("reset")
                    .args(["--append", "--years", "1"])
                    .and(credential("delete").opt("--key-id", key_id(first)))
                    .to_string(),
            ),
        ));
    }
    let Some(now) = now else { return };
    let all = o.passwords.iter().map(|c| ("secret", c)).chain(o.keys.iter().map(|c| ("certificate", c)));
    let (mut expired, mut expiring) = (Vec::new(), Vec::new());
    for (kind, c) in all {
        match end(c) {
            Some(e) if e < now => expired.push((kind, c)),
            Some(e) if e - now <= EXPIRING_DAYS => expiring.push((kind, c)),
            _ => {}
        }
    }
    let delete = |(kind, c): &(&str, &CredentialMetadata)| {
        let delete = credential("delete").opt("--key-id", key_id(c));
        if *kind == "certificate" {
            delete.args(["--cert"])
        } else {
            delete
        }
    };
    if !expired.is_empty() {
        out.push(finding(
            &ENTRA_EXPIRED_CREDENTIAL,
            res(),
            format!("{} keeps {} expired credential(s)", o.name, expired.len()),
            expired.iter().map(|(k, c)| credential_text(k, c)).collect(),
            format!("Delete {}'s expired credentials", o.name),
            Chain::of(expired.iter().map(delete)).map(|c| c.to_string()),
        ));
    }
    if let Some((kind, first)) = expiring.first() {
        let rotate = if *kind == "certificate" {
            credential("reset").args(["--append", "--create-cert", "--years", "1"])
        } else {
            credential("reset").args(["--append", "--years", "1"])
        };
        out.push(finding(
            &ENTRA_EXPIRING_CREDENTIAL,
            res(),
            format!("{} has {} credential(s) expiring within {EXPIRING_DAYS} days", o.name, expiring.len()),
            expiring.iter().map(|(k, c)| credential_text(k, c)).collect(),
            format!("Move {} to a federated credential or managed identity, or rotate now (add the new credential, switch its users, delete {})", o.name, first.key_id.as_deref().unwrap_or("the old one")),
            Some(rotate.to_string()),
        ));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Azure role assignments
// ---------------------------------------------------------------------------------------------------------

type User = crate::snapshot::User;
/// A guest and the groups (id, name) it is in, innermost first.
type GuestVia<'s> = (&'s User, Vec<(String, String)>);

/// Group memberships and names, to find the guests a group assignment reaches (computed once per group).
struct Directory<'s> {
    members: FxHashMap<String, &'s [crate::snapshot::DirectoryObject]>,
    names: FxHashMap<String, &'s str>,
    cache: FxHashMap<String, Vec<GuestVia<'s>>>,
}

impl<'s> Directory<'s> {
    fn new(s: &'s Snapshot) -> Self {
        Directory {
            members: s
                .entra
                .group_members
                .iter()
                .map(|g| (g.group_id.to_ascii_lowercase(), g.members.as_slice()))
                .collect(),
            names: s
                .entra
                .groups
                .iter()
                .map(|g| (g.id.to_ascii_lowercase(), g.display_name.as_deref().unwrap_or(g.id.as_str())))
                .collect(),
            cache: FxHashMap::default(),
        }
    }

    /// Guest users among the (transitive) members of `group`; empty when it is not a collected group.
    fn guests(
        &mut self,
        group: &str,
        users: &FxHashMap<String, &'s User>,
        is_guest: &dyn Fn(&User) -> bool,
    ) -> Vec<GuestVia<'s>> {
        let key = group.to_ascii_lowercase();
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let label =
            |id: &str| (id.to_string(), self.names.get(&id.to_ascii_lowercase()).copied().unwrap_or(id).to_string());
        let mut out: Vec<GuestVia<'s>> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut queue = vec![(key.clone(), vec![label(group)])];
        while let Some((g, chain)) = queue.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            for m in self.members.get(&g).copied().unwrap_or_default() {
                let id = m.id.to_ascii_lowercase();
                if let Some(u) = users.get(&id).filter(|u| is_guest(u)) {
                    if !out.iter().any(|(x, _)| x.id.eq_ignore_ascii_case(&u.id)) {
                        out.push((*u, chain.clone()));
                    }
                } else if self.members.contains_key(&id)
                    || m.odata_type.as_deref().is_some_and(|t| t.ends_with(".group"))
                {
                    let mut inner = vec![label(&m.id)];
                    inner.extend(chain.iter().cloned());
                    queue.push((id, inner));
                }
            }
        }
        out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        self.cache.insert(key, out.clone());
        out
    }
}

/// Role definitions by GUID (snapshot over built-in): name and capabilities.
fn role_table(s: &Snapshot) -> FxHashMap<String, (String, Caps)> {
    let mut t = FxHashMap::default();
    for d in crate::builtin::role_definitions().iter().chain(&s.azure.role_definitions) {
        let guid = rbac::role_definition_guid(if d.name.is_empty() { &d.id } else { &d.name });
        let caps = PermissionSet::new(d.properties.permissions.clone()).capabilities();
        let name = if d.properties.role_name.is_empty() { guid.clone() } else { d.properties.role_name.clone() };
        t.insert(guid, (name, caps));
    }
    t
}

/// What a privileged assignment confers: `assign-roles` (unless a delegation condition limits it) and
/// `write-everything`; `None` when neither.
fn privileged(caps: Caps, condition: Option<&str>) -> Option<Vec<&'static str>> {
    let limited = condition
        .filter(|c| !c.trim().is_empty())
        .is_some_and(|c| rbac::read_condition(c).limit != DelegationLimit::Unconstrained);
    let mut what = Vec::new();
    if caps.contains(Capability::AssignRoles) && !limited {
        what.push(Capability::AssignRoles.as_str());
    }
    if caps.contains(Capability::WriteEverything) {
        what.push(Capability::WriteEverything.as_str());
    }
    (!what.is_empty()).then_some(what)
}

fn azure_roles(s: &Snapshot, out: &mut Vec<PostureFinding>) {
    let roles = role_table(s);
    let mut directory = Directory::new(s);
    let users: FxHashMap<String, &User> = s.entra.users.iter().map(|u| (u.id.to_ascii_lowercase(), u)).collect();
    let is_guest = |u: &User| {
        u.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("Guest"))
            || u.user_principal_name.as_deref().is_some_and(|n| n.contains("#EXT#"))
    };
    let user_name = |u: &User| match (&u.display_name, &u.user_principal_name) {
        (Some(d), Some(upn)) if d != upn => format!("{d} ({upn})"),
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => u.id.clone(),
    };
    let subs: FxHashMap<String, String> = s
        .azure
        .subscriptions
        .iter()
        .map(|x| (scope::normalize(&x.id), x.display_name.clone().unwrap_or_else(|| x.subscription_id.clone())))
        .collect();
    let active = s.azure.role_assignments.iter().map(|a| (&a.id, &a.properties, false));
    let eligible = s.azure.role_eligibility_schedule_instances.iter().map(|a| (&a.id, &a.properties, true));
    // subscription → (user, role, assignment id)
    let mut standing: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (id, p, is_eligible) in active.chain(eligible) {
        let guid = rbac::role_definition_guid(&p.role_definition_id);
        let Some((role, caps)) = roles.get(&guid) else { continue };
        let Some(what) = privileged(*caps, p.condition.as_deref()) else { continue };
        let user = users.get(&p.principal_id.to_ascii_lowercase()).copied();
        let Some(scope_id) = scope::record_scope(&p.scope, id) else { continue };
        // Guests holding it: the principal itself, or guest members of the group it names (nesting followed).
        let guests: Vec<(&User, Vec<(String, String)>)> = match user {
            Some(u) if is_guest(u) => vec![(u, Vec::new())],
            Some(_) => Vec::new(),
            None => directory.guests(&p.principal_id, &users, &is_guest),
        };
        if !guests.is_empty() {
            let names: Vec<String> = guests.iter().map(|(u, _)| user_name(u)).collect();
            let mut evidence = vec![
                format!("{} {id}", if is_eligible { "PIM eligibility" } else { "role assignment" }),
                format!("role {role} ({}) at {scope_id}", what.join(", ")),
            ];
            for ((u, chain), name) in guests.iter().zip(&names) {
                let groups: Vec<String> = chain.iter().map(|(id, name)| format!("{name} ({id})")).collect();
                let via = if chain.is_empty() {
                    String::new()
                } else {
                    format!(", member of {}", groups.join(", itself in "))
                };
                evidence.push(format!(
                    "guest {} ({name}), userType {}{via}",
                    u.id,
                    u.user_type.as_deref().unwrap_or("?")
                ));
            }
            if let Some(c) = p.condition.as_deref().filter(|c| !c.trim().is_empty()) {
                evidence.push(format!("condition: {c}"));
            }
            let who = names.join(", ");
            let (u, chain) = &guests[0];
            let (summary, command) = if !chain.is_empty() {
                // Only the guest loses the role: take it out of the group that directly holds it.
                let (group, group_name) = &chain[0];
                (
                    format!("Remove guest {} from group {group_name} (only the guest loses {role} at {scope_id}), or narrow the group's role", names[0]),
                    shell::group_member_remove(group, &u.id),
                )
            } else if is_eligible {
                (
                    format!("Remove the PIM eligibility of {role} at {scope_id} for guest {who}"),
                    shell::pim_eligibility_remove(&scope_id, &u.id, &p.role_definition_id),
                )
            } else {
                (
                    format!("Remove the {role} assignment of guest {who} at {scope_id}, or grant a narrower role through a reviewed group"),
                    shell::role_assignment_delete(id),
                )
            };
            let via = if chain.is_empty() { String::new() } else { " through a group".to_string() };
            let mut f = finding_with(
                &AZ_GUEST_PRIVILEGED,
                resource("RoleAssignment", scope::normalize(id), format!("{role} at {scope_id}")),
                format!(
                    "Guest{} {who} {} {role} at {scope_id}{via}",
                    if guests.len() == 1 { "" } else { "s" },
                    match (is_eligible, guests.len()) {
                        (true, _) => "can activate",
                        (false, 1) => "holds",
                        _ => "hold",
                    }
                ),
                evidence,
                shell::remediation(summary, command),
            );
            if scope::resource_group_of(&scope_id).is_some() {
                f.severity = Severity::Medium;
            }
            out.push(f);
        }
        let is_user = user.is_some() || p.principal_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("User"));
        if !is_eligible && is_user && scope::level(&scope_id) == scope::Level::Subscription {
            let name = user.map(user_name).unwrap_or_else(|| p.principal_id.clone());
            standing
                .entry(scope_id)
                .or_default()
                .entry(p.principal_id.to_ascii_lowercase())
                .or_default()
                .push(format!("{name}: {role} ({})", id.rsplit('/').next().unwrap_or(id)));
        }
    }
    for (sub, by_user) in standing {
        if by_user.len() <= MAX_DIRECT_PRIVILEGED_USERS {
            continue;
        }
        let name = subs.get(&sub).cloned().unwrap_or_else(|| sub.clone());
        out.push(finding(
            &AZ_DIRECT_PRIVILEGED_USERS,
            resource("Subscription", sub.clone(), name.clone()),
            format!("{} users hold standing privileged roles directly on subscription {name} (at most {MAX_DIRECT_PRIVILEGED_USERS} recommended)", by_user.len()),
            by_user.into_values().flatten().collect(),
            format!("Assign the role on {name} to a PIM-eligible group and remove the direct user assignments"),
            Some(
                Command::new("az")
                    .args(["role", "assignment", "list"])
                    .opt("--scope", &sub)
                    .args(["--query", "[?principalType=='User']", "-o", "table"])
                    .to_string(),
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_counts_from_the_epoch_and_rejects_non_dates() {
        assert_eq!(days("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(days("2024-12-31T23:59:59.9999999Z").unwrap() - days("2024-01-01").unwrap(), 365);
        assert_eq!(days("9999-12-31T23:59:59Z").unwrap() - days("9999-01-01").unwrap(), 364);
        for bad in ["", "2024-13-01", "20240101", "soon", "2024-01-0x"] {
            assert_eq!(days(bad), None, "{bad}");
        }
    }

    #[test]
    fn check_ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
        for c in CHECKS {
            let parts: Vec<&str> = c.id.split('-').collect();
            assert!(parts.len() == 3 && parts[0] == "AZP" && parts[2].len() == 3, "{}", c.id);
            assert!(!c.description.is_empty() && !c.remediation.is_empty() && !c.references.is_empty(), "{}", c.id);
        }
        assert_eq!(check("azp-aks-001").map(|c| c.id), Some("AZP-AKS-001"));
    }
}
