//! Node and edge kinds of the privilege graph: the public, frozen vocabulary of azpath.

use serde::{Deserialize, Serialize};

/// What a node of the privilege graph stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
}

impl NodeKind {
    /// All kinds, in declaration order.
    pub const ALL: [NodeKind; 10] = [
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EdgeKind {
    /// principal → group: direct Entra group membership (nesting is followed hop by hop).
    MemberOf,
    /// principal → scope: a role assignment (active or PIM-eligible), with its computed capabilities.
    HasRole,
    /// scope → child scope: the scope tree (root → management groups → subscriptions → resource groups).
    Contains,
}

impl EdgeKind {
    /// All kinds, in declaration order.
    pub const ALL: [EdgeKind; 3] = [EdgeKind::MemberOf, EdgeKind::HasRole, EdgeKind::Contains];

    /// The SCREAMING_SNAKE name used in query files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::MemberOf => "MEMBER_OF",
            EdgeKind::HasRole => "HAS_ROLE",
            EdgeKind::Contains => "CONTAINS",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
