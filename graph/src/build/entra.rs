//! Entra control-plane edges: who controls an application, a service principal or a group without holding
//! any of its roles.
//!
//! - An owner of an application can add a password or certificate to it and sign in as its service principal
//!   in this tenant (`CAN_ADD_CREDENTIAL`, application owner → service principal).
//! - An owner of a service principal can add credentials to it directly (`CAN_ADD_CREDENTIAL`).
//! - An owner of a group can add members, itself included, and so gains the group's roles
//!   (`CAN_ADD_MEMBER`). That holds for role-assignable groups too: their owners are exactly the people
//!   Microsoft's guidance asks to keep to a minimum.
//!
//! Directory roles and Microsoft Graph application permissions are judged by what they allow in
//! [`super::entra_roles`], run by this pass after the owners.

use super::identity::IdentityIndex;
use super::Builder;
use crate::graph::{EdgeNote, NodeKey};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;
use crate::snapshot::{DirectoryObject, Snapshot};

use petgraph::graph::NodeIndex;

/// The edge kinds this pass adds.
pub(super) const EMITS: &[EdgeKind] = &[
    EdgeKind::CanAddCredential,
    EdgeKind::CanAddMember,
    EdgeKind::HasDirectoryRole,
    EdgeKind::HasGraphPermission,
    EdgeKind::CanManageCredentials,
    EdgeKind::CanAssignDirectoryRoles,
    EdgeKind::CanManageMembers,
    EdgeKind::CanResetPassword,
];

/// Runs the pass (after `identities`, whose index maps an application to its service principal).
pub(super) fn run(b: &mut Builder, snapshot: &Snapshot, shared: &mut super::Shared) {
    b.add_entra_owners(snapshot, &shared.identities);
    super::entra_roles::add(b, snapshot, &shared.identities);
}

impl Builder {
    /// Adds the owner edges of applications, service principals and groups; `identities` maps an application
    /// id to its service principal in this tenant.
    pub(crate) fn add_entra_owners(&mut self, s: &Snapshot, identities: &IdentityIndex) {
        let e = &s.entra;
        for app in &e.applications {
            let Some(&sp) = app.app_id.as_deref().and_then(|a| identities.by_client_id.get(&a.to_ascii_lowercase()))
            else {
                // No service principal in this tenant: the application signs in nowhere here.
                continue;
            };
            let name = app.display_name.as_deref().unwrap_or(&app.id);
            let detail = format!(
                "owner of application {name} ({}): can add a client secret or certificate and sign in as its service principal",
                app.id
            );
            self.add_owner_edges(
                &app.owners,
                &app.id,
                sp,
                EdgeKind::CanAddCredential,
                &detail,
                "owns app: can add credential",
            );
        }
        for sp in &e.service_principals {
            let Some(target) = self.lookup(&NodeKey::of(&sp.id)) else { continue };
            let name = sp.display_name.as_deref().unwrap_or(&sp.id);
            let detail = format!(
                "owner of service principal {name} ({}): can add a client secret or certificate to it and sign in as it",
                sp.id
            );
            self.add_owner_edges(
                &sp.owners,
                &sp.id,
                target,
                EdgeKind::CanAddCredential,
                &detail,
                "owns SP: can add credential",
            );
        }
        for g in &e.groups {
            let Some(group) = self.lookup(&NodeKey::of(&g.id)) else { continue };
            let name = g.display_name.as_deref().unwrap_or(&g.id);
            let dynamic = g.group_types.iter().any(|t| t.eq_ignore_ascii_case("DynamicMembership"));
            let how = if dynamic {
                "can change its dynamic membership rule to include itself"
            } else {
                "can add members, itself included"
            };
            let detail = format!("owner of group {name} ({}): {how}, and so holds the group's roles", g.id);
            self.add_owner_edges(
                &g.owners,
                &g.id,
                group,
                EdgeKind::CanAddMember,
                &detail,
                "owns group: can add member",
            );
        }
    }

    /// One edge per owner of `object` into `target`; evidence: the owned object's id, then the owner's.
    fn add_owner_edges(
        &mut self,
        owners: &[DirectoryObject],
        object: &str,
        target: NodeIndex,
        kind: EdgeKind,
        detail: &str,
        label: &str,
    ) {
        for owner in owners {
            let from = self.node_for(
                NodeKey::of(&owner.id),
                directory_kind(owner),
                owner.display_name.as_deref().unwrap_or(""),
            );
            let note = EdgeNote {
                evidence: vec![object.to_string(), owner.id.clone()],
                detail: detail.to_string(),
                label: label.to_string(),
            };
            self.add_noted_edge(from, target, kind, Caps::EMPTY, 0, note);
        }
    }
}

/// The node kind of a directory object reference, from its `@odata.type` (or the properties that imply it).
pub(crate) fn directory_kind(o: &DirectoryObject) -> NodeKind {
    match o.odata_type.as_deref().map(|t| t.trim_start_matches('#').to_ascii_lowercase()) {
        Some(t) if t == "microsoft.graph.user" => NodeKind::User,
        Some(t) if t == "microsoft.graph.group" => NodeKind::Group,
        Some(t) if t == "microsoft.graph.serviceprincipal" => NodeKind::ServicePrincipal,
        _ if o.user_principal_name.is_some() => NodeKind::User,
        _ if o.app_id.is_some() => NodeKind::ServicePrincipal,
        _ => NodeKind::UnknownPrincipal,
    }
}
