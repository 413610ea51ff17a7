//! Node and edge kinds of the privilege graph: the public, frozen vocabulary of azpath.

use serde::{Deserialize, Serialize};

/// What a node of the privilege graph stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub enum NodeKind {
    /// An Entra user.
    User,
    /// An Entra group.
    Group,
    /// An Entra service principal (application, managed identity or legacy).
    ServicePrincipal,
    /// An Entra application registration.
    Application,
    /// A principal id seen in a role assignment but absent from the directory data (deleted, foreign, or not
    /// collected).
    UnknownPrincipal,
    /// The tenant root scope `/`.
    Root,
    /// A management group.
    ManagementGroup,
    /// A subscription.
    Subscription,
    /// A resource group.
    ResourceGroup,
    /// Any other ARM resource.
    Resource,
    /// A managed identity's service principal (user-assigned or system-assigned).
    ManagedIdentity,
    /// A federated subject outside what was collected: `issuer|subject` (GitHub Actions, another cluster…).
    ExternalWorkload,
    /// Full control of one Kubernetes cluster (`cluster-admin`).
    KubeClusterAdmin,
    /// A Kubernetes namespace: whoever can run pods in it can run as its service accounts.
    KubeNamespace,
    /// Azure Service Operator acting in one namespace, with that namespace's credential.
    KubeAsoNamespace,
    /// The nodes of one Kubernetes cluster: a pod that breaks out onto a node reads the service-account
    /// tokens mounted there.
    KubeNodes,
    /// Every identity federated to ASO's service account on one cluster: in relaxed mode a forged ASO
    /// credential can name any of them.
    KubeAsoForgeable,
    /// The user-assigned identities under one scope: whoever may write federated credentials there can act
    /// as any of them. Also the hubs of compute identities (`CAN_RUN_AS_RESOURCE_IDENTITY`, per resource
    /// kind) and of assignable identities (`CAN_ATTACH_IDENTITY`) under a scope.
    ScopeIdentities,
    /// A Kubernetes service account.
    KubeServiceAccount,
    /// A Kubernetes user subject.
    KubeUser,
    /// A Kubernetes group subject.
    KubeGroup,
    /// An Entra directory role (built-in or custom) held tenant-wide: whoever holds it acts with its
    /// `allowedResourceActions` over the whole directory.
    DirectoryRole,
    /// A Microsoft Graph application permission (an app role of the Microsoft Graph service principal) held
    /// by a service principal.
    GraphPermission,
    /// Entra tier zero: can assign any directory role (Global Administrator included) to anyone, itself too.
    EntraTierZero,
    /// A set of directory objects a tenant-wide Entra power reaches (every service principal, every group that
    /// is not role-assignable, every non-admin user), so the graph grows linearly.
    EntraTargets,
    /// Whoever is all of several Kubernetes subjects of one cluster (e.g. in two groups): the union of their
    /// bindings holds a power that none of them holds alone, so it is one node with those callers as members.
    KubeSubjectSet,
}

/// A set of node kinds as one bit per kind: loops over long member lists ask it of each member (a slice's
/// `contains` is a scan per member).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct KindSet(u32);

impl KindSet {
    /// The set of `kinds`.
    pub(crate) fn of(kinds: &[NodeKind]) -> KindSet {
        KindSet(kinds.iter().fold(0, |acc, k| acc | 1 << *k as u32))
    }

    pub(crate) fn contains(self, kind: NodeKind) -> bool {
        self.0 >> kind as u32 & 1 != 0
    }
}

impl NodeKind {
    /// All kinds, in declaration order.
    pub const ALL: [NodeKind; 26] = [
        NodeKind::User,
        NodeKind::Group,
        NodeKind::ServicePrincipal,
        NodeKind::Application,
        NodeKind::UnknownPrincipal,
        NodeKind::Root,
        NodeKind::ManagementGroup,
        NodeKind::Subscription,
        NodeKind::ResourceGroup,
        NodeKind::Resource,
        NodeKind::ManagedIdentity,
        NodeKind::ExternalWorkload,
        NodeKind::KubeClusterAdmin,
        NodeKind::KubeNamespace,
        NodeKind::KubeAsoNamespace,
        NodeKind::KubeNodes,
        NodeKind::KubeAsoForgeable,
        NodeKind::ScopeIdentities,
        NodeKind::KubeServiceAccount,
        NodeKind::KubeUser,
        NodeKind::KubeGroup,
        NodeKind::DirectoryRole,
        NodeKind::GraphPermission,
        NodeKind::EntraTierZero,
        NodeKind::EntraTargets,
        NodeKind::KubeSubjectSet,
    ];

    /// The PascalCase name used in query files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::User => "User",
            NodeKind::Group => "Group",
            NodeKind::ServicePrincipal => "ServicePrincipal",
            NodeKind::Application => "Application",
            NodeKind::UnknownPrincipal => "UnknownPrincipal",
            NodeKind::Root => "Root",
            NodeKind::ManagementGroup => "ManagementGroup",
            NodeKind::Subscription => "Subscription",
            NodeKind::ResourceGroup => "ResourceGroup",
            NodeKind::Resource => "Resource",
            NodeKind::ManagedIdentity => "ManagedIdentity",
            NodeKind::ExternalWorkload => "ExternalWorkload",
            NodeKind::KubeClusterAdmin => "KubeClusterAdmin",
            NodeKind::KubeNamespace => "KubeNamespace",
            NodeKind::KubeAsoNamespace => "KubeAsoNamespace",
            NodeKind::KubeNodes => "KubeNodes",
            NodeKind::KubeAsoForgeable => "KubeAsoForgeable",
            NodeKind::ScopeIdentities => "ScopeIdentities",
            NodeKind::KubeServiceAccount => "KubeServiceAccount",
            NodeKind::KubeUser => "KubeUser",
            NodeKind::KubeGroup => "KubeGroup",
            NodeKind::DirectoryRole => "DirectoryRole",
            NodeKind::GraphPermission => "GraphPermission",
            NodeKind::EntraTierZero => "EntraTierZero",
            NodeKind::EntraTargets => "EntraTargets",
            NodeKind::KubeSubjectSet => "KubeSubjectSet",
        }
    }

    /// Parses the PascalCase name.
    pub fn parse(s: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True for identities (things that can hold a role or act).
    pub fn is_principal(self) -> bool {
        matches!(
            self,
            NodeKind::User
                | NodeKind::Group
                | NodeKind::ServicePrincipal
                | NodeKind::Application
                | NodeKind::UnknownPrincipal
                | NodeKind::ManagedIdentity
                | NodeKind::ExternalWorkload
                | NodeKind::KubeServiceAccount
                | NodeKind::KubeUser
                | NodeKind::KubeGroup
                | NodeKind::KubeSubjectSet
        )
    }

    /// True for the principals exposure counts: those that act (users, service principals, managed
    /// identities, Kubernetes subjects), not groups or placeholders.
    pub fn is_exposed(self) -> bool {
        matches!(
            self,
            NodeKind::User
                | NodeKind::ServicePrincipal
                | NodeKind::ManagedIdentity
                | NodeKind::KubeServiceAccount
                | NodeKind::KubeUser
                | NodeKind::KubeGroup
        )
    }

    /// True for hub nodes: internal nodes that stand for a set (the identities under a scope, those federated to
    /// ASO, a cluster's nodes) so the graph grows linearly. They are never drawn; paths fan out from them.
    pub fn is_hub(self) -> bool {
        matches!(
            self,
            NodeKind::ScopeIdentities | NodeKind::KubeAsoForgeable | NodeKind::KubeNodes | NodeKind::EntraTargets
        )
    }

    /// Depth in the scope tree (root 0, management group 1, subscription 2, resource group 3, resource 4);
    /// `None` for non-scopes.
    pub fn scope_level(self) -> Option<u8> {
        match self {
            NodeKind::Root => Some(0),
            NodeKind::ManagementGroup => Some(1),
            NodeKind::Subscription => Some(2),
            NodeKind::ResourceGroup => Some(3),
            NodeKind::Resource => Some(4),
            _ => None,
        }
    }

    /// True for Kubernetes nodes.
    pub fn is_kubernetes(self) -> bool {
        matches!(
            self,
            NodeKind::KubeClusterAdmin
                | NodeKind::KubeNamespace
                | NodeKind::KubeAsoNamespace
                | NodeKind::KubeNodes
                | NodeKind::KubeAsoForgeable
                | NodeKind::KubeServiceAccount
                | NodeKind::KubeUser
                | NodeKind::KubeGroup
                | NodeKind::KubeSubjectSet
        )
    }

    /// True for Azure scopes (things a role can be assigned at).
    pub fn is_scope(self) -> bool {
        matches!(
            self,
            NodeKind::Root
                | NodeKind::ManagementGroup
                | NodeKind::Subscription
                | NodeKind::ResourceGroup
                | NodeKind::Resource
        )
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an edge of the privilege graph means. Serialized SCREAMING_SNAKE; documented in `docs/edges.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EdgeKind {
    /// principal → group: direct Entra group membership (nesting is followed hop by hop).
    MemberOf,
    /// principal → scope: a role assignment (active or PIM-eligible), with its computed capabilities.
    HasRole,
    /// scope → child scope: the scope tree (root → management groups → subscriptions → resource groups).
    Contains,
    /// principal → managed identity: write on `federatedIdentityCredentials` of a user-assigned identity (or
    /// write everything over it) lets the principal trust an issuer it controls and act as the identity.
    CanWriteFederatedCredential,
    /// service account or external workload → identity: a federated credential whose issuer and subject match.
    FederatedTrust,
    /// principal → cluster-admin: the static admin credential (`listClusterAdminCredential` while local
    /// accounts are enabled), `managedClusters/write` (can re-enable them), or an Entra admin group.
    AksClusterAdmin,
    /// Entra user or group → Kubernetes subject of the same identity on an Entra-integrated cluster.
    KubernetesIdentity,
    /// Kubernetes subject (or cluster-admin) → namespace: can create or change pods or workloads there.
    CanCreateWorkloads,
    /// namespace → service account: pods in the namespace can run as it.
    RunsAs,
    /// subject → service account: `create serviceaccounts/token`, or create and read a
    /// `kubernetes.io/service-account-token` Secret naming it (the token controller fills it).
    CanMintToken,
    /// subject → service account or application: `get`/`list`/`watch` on a Secret holding its token (a
    /// `kubernetes.io/service-account-token` Secret) or its client secret.
    CanReadSecrets,
    /// subject → user, group or service account: the `impersonate` verb.
    CanImpersonate,
    /// subject → cluster-admin: `bind`/`escalate` on cluster roles, or `*` on everything.
    CanEscalate,
    /// namespace → kubelet identity: pods reach the node's instance metadata service.
    NodeIdentity,
    /// subject (or cluster-admin) → ASO in a namespace: can create or change Azure Service Operator resources.
    CanUseAso,
    /// ASO in a namespace → the Azure identity of its credential (per-resource, namespace, or global).
    AsoActsAs,
    /// subject → the cluster's hub of identities federated to ASO's service account: it can create a Secret and
    /// an ASO resource in a watched namespace, so it can forge an `aso-credential` (relaxed mode).
    AsoCredentialForging,
    /// the cluster's hub of identities federated to ASO's service account → one such identity: a forged
    /// credential naming its client id makes ASO act as it (the federated credential is the cut).
    AsoForgeableIdentity,
    /// namespace → managed identity or service principal: deprecated pod-managed identity (the AKS add-on's
    /// `podIdentityProfile`, or aad-pod-identity's `AzureIdentityBinding`) hands its tokens to pods labelled
    /// `aadpodidbinding: <selector>`.
    PodManagedIdentity,
    /// namespace → the cluster's nodes → service account: a pod creator where Pod Security `baseline` is not
    /// enforced runs a privileged pod on any node and reads the tokens mounted there.
    NodeBreakout,
    /// principal → cluster-admin: `managedClusters/runCommand/action` on a cluster without Entra integration
    /// (the command runs with the cluster's admin credentials) and run command not disabled.
    AksRunCommand,
    /// service account → managed identity: an AKS identity binding of the identity to the account's cluster,
    /// and Kubernetes RBAC letting the account `use-managed-identity` on `cid.wi.aks.azure.com/<client id>`.
    IdentityBinding,
    /// principal → service principal: an owner of the service principal, or of its application, can add a
    /// client secret or certificate and sign in as it.
    CanAddCredential,
    /// principal → group: an owner of the group can add members, itself included, and so holds the group's
    /// roles.
    CanAddMember,
    /// principal → compute identities under a scope → managed identity: the principal's role lets it run code
    /// on a resource (VM run command or extension, site deployment, runbook, workflow, container, pipeline)
    /// that carries the identity, and so act as it.
    CanRunAsResourceIdentity,
    /// principal → assignable identities under a scope → user-assigned identity: `…/assign/action` on the
    /// identity and write on some compute resource let the principal attach the identity and run code as it.
    CanAttachIdentity,
    /// principal → directory role: an active directory-role assignment at the tenant (`/`), or a PIM
    /// eligibility (`eligible`).
    HasDirectoryRole,
    /// service principal → Microsoft Graph application permission: an app role assignment whose resource is
    /// the Microsoft Graph service principal, resolved by app role id.
    HasGraphPermission,
    /// directory role, Graph permission or scoped role holder → service principal (possibly through the
    /// every-service-principal hub): can add a credential to it or its application and sign in as it.
    CanManageCredentials,
    /// directory role or Graph permission → Entra tier zero → each directory role: can write directory-role
    /// assignments (or grant itself `RoleManagement.ReadWrite.Directory`).
    CanAssignDirectoryRoles,
    /// directory role, Graph permission or scoped role holder → group that is not role-assignable (possibly
    /// through a hub): can update its members, itself included.
    CanManageMembers,
    /// directory role or Graph permission → user (through a hub): can reset the password or add an
    /// authentication method, as Microsoft's "who can reset passwords" rules allow.
    CanResetPassword,
}

impl EdgeKind {
    /// All kinds, in declaration order.
    pub const ALL: [EdgeKind; 32] = [
        EdgeKind::MemberOf,
        EdgeKind::HasRole,
        EdgeKind::Contains,
        EdgeKind::CanWriteFederatedCredential,
        EdgeKind::FederatedTrust,
        EdgeKind::AksClusterAdmin,
        EdgeKind::KubernetesIdentity,
        EdgeKind::CanCreateWorkloads,
        EdgeKind::RunsAs,
        EdgeKind::CanMintToken,
        EdgeKind::CanReadSecrets,
        EdgeKind::CanImpersonate,
        EdgeKind::CanEscalate,
        EdgeKind::NodeIdentity,
        EdgeKind::CanUseAso,
        EdgeKind::AsoActsAs,
        EdgeKind::AsoCredentialForging,
        EdgeKind::AsoForgeableIdentity,
        EdgeKind::PodManagedIdentity,
        EdgeKind::NodeBreakout,
        EdgeKind::AksRunCommand,
        EdgeKind::IdentityBinding,
        EdgeKind::CanAddCredential,
        EdgeKind::CanAddMember,
        EdgeKind::CanRunAsResourceIdentity,
        EdgeKind::CanAttachIdentity,
        EdgeKind::HasDirectoryRole,
        EdgeKind::HasGraphPermission,
        EdgeKind::CanManageCredentials,
        EdgeKind::CanAssignDirectoryRoles,
        EdgeKind::CanManageMembers,
        EdgeKind::CanResetPassword,
    ];

    /// The SCREAMING_SNAKE name used in query files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::MemberOf => "MEMBER_OF",
            EdgeKind::HasRole => "HAS_ROLE",
            EdgeKind::Contains => "CONTAINS",
            EdgeKind::CanWriteFederatedCredential => "CAN_WRITE_FEDERATED_CREDENTIAL",
            EdgeKind::FederatedTrust => "FEDERATED_TRUST",
            EdgeKind::AksClusterAdmin => "AKS_CLUSTER_ADMIN",
            EdgeKind::KubernetesIdentity => "KUBERNETES_IDENTITY",
            EdgeKind::CanCreateWorkloads => "CAN_CREATE_WORKLOADS",
            EdgeKind::RunsAs => "RUNS_AS",
            EdgeKind::CanMintToken => "CAN_MINT_TOKEN",
            EdgeKind::CanReadSecrets => "CAN_READ_SECRETS",
            EdgeKind::CanImpersonate => "CAN_IMPERSONATE",
            EdgeKind::CanEscalate => "CAN_ESCALATE",
            EdgeKind::NodeIdentity => "NODE_IDENTITY",
            EdgeKind::CanUseAso => "CAN_USE_ASO",
            EdgeKind::AsoActsAs => "ASO_ACTS_AS",
            EdgeKind::AsoCredentialForging => "ASO_CREDENTIAL_FORGING",
            EdgeKind::AsoForgeableIdentity => "ASO_FORGEABLE_IDENTITY",
            EdgeKind::PodManagedIdentity => "POD_MANAGED_IDENTITY",
            EdgeKind::NodeBreakout => "NODE_BREAKOUT",
            EdgeKind::AksRunCommand => "AKS_RUN_COMMAND",
            EdgeKind::IdentityBinding => "IDENTITY_BINDING",
            EdgeKind::CanAddCredential => "CAN_ADD_CREDENTIAL",
            EdgeKind::CanAddMember => "CAN_ADD_MEMBER",
            EdgeKind::CanRunAsResourceIdentity => "CAN_RUN_AS_RESOURCE_IDENTITY",
            EdgeKind::CanAttachIdentity => "CAN_ATTACH_IDENTITY",
            EdgeKind::HasDirectoryRole => "HAS_DIRECTORY_ROLE",
            EdgeKind::HasGraphPermission => "HAS_GRAPH_PERMISSION",
            EdgeKind::CanManageCredentials => "CAN_MANAGE_CREDENTIALS",
            EdgeKind::CanAssignDirectoryRoles => "CAN_ASSIGN_DIRECTORY_ROLES",
            EdgeKind::CanManageMembers => "CAN_MANAGE_MEMBERS",
            EdgeKind::CanResetPassword => "CAN_RESET_PASSWORD",
        }
    }

    /// Parses the SCREAMING_SNAKE name.
    pub fn parse(s: &str) -> Option<EdgeKind> {
        EdgeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Minor.
    Low,
    /// Should be fixed.
    Medium,
    /// Fix soon.
    High,
    /// Tenant- or subscription-wide takeover.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the lower-case name (case-insensitive).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod kind_set_tests {
    use super::*;

    #[test]
    fn a_kind_set_holds_its_kinds_and_no_other() {
        let set = KindSet::of(&[NodeKind::User, NodeKind::KubeSubjectSet, NodeKind::Group]);
        for kind in NodeKind::ALL {
            let want = matches!(kind, NodeKind::User | NodeKind::KubeSubjectSet | NodeKind::Group);
            assert_eq!(set.contains(kind), want, "{kind:?}");
        }
        assert!(NodeKind::ALL.iter().all(|k| !KindSet::default().contains(*k)), "the empty set holds nothing");
        assert!(NodeKind::ALL.len() <= 32, "one bit per kind");
    }
}
