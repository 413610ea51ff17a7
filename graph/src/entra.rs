//! Entra control-plane edges: who controls an application, a service principal or a group without holding
//! any of its roles.
//!
//! - An owner of an application can add a password or certificate to it and sign in as its service principal
//!   in this tenant (`CAN_ADD_CREDENTIAL`, application owner → service principal).
//! - An owner of a service principal can add credentials to it directly (`CAN_ADD_CREDENTIAL`).
//! - An owner of a group can add members, itself included, and so gains the group's roles
//!   (`CAN_ADD_MEMBER`). That holds for role-assignable groups too: their owners are exactly the people
//!   Microsoft's guidance asks to keep to a minimum.

use crate::graph::{EdgeNote, NodeKey, PrivilegeGraph};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;
use crate::snapshot::{DirectoryObject, Snapshot};

use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap;

impl PrivilegeGraph {
    /// Adds the owner edges of applications, service principals and groups.
    pub(crate) fn add_entra_owners(&mut self, s: &Snapshot) {
        let e = &s.entra;
        let sp_by_app_id: FxHashMap<String, NodeIndex> = e
            .service_principals
            .iter()
            .filter_map(|sp| Some((sp.app_id.as_deref()?.to_ascii_lowercase(), self.lookup(&NodeKey::of(&sp.id))?)))
            .collect();
        for app in &e.applications {
            let Some(&sp) = app.app_id.as_deref().and_then(|a| sp_by_app_id.get(&a.to_ascii_lowercase())) else {
                // No service principal in this tenant: the application signs in nowhere here.
                continue;
            };
            let app_name = app.display_name.as_deref().unwrap_or(&app.id);
            for owner in &app.owners {
                let note = EdgeNote {
                    evidence: vec![app.id.clone(), owner.id.clone()],
                    detail: format!(
                        "owner of application {app_name} ({}): can add a client secret or certificate and sign in as its service principal",
                        app.id
                    ),
                    label: "owns app: can add credential".into(),
                };
                self.add_owner_edge(owner, sp, EdgeKind::CanAddCredential, note);
            }
        }
        for sp in &e.service_principals {
            let Some(target) = self.lookup(&NodeKey::of(&sp.id)) else { continue };
            let name = sp.display_name.as_deref().unwrap_or(&sp.id);
            for owner in &sp.owners {
                let note = EdgeNote {
                    evidence: vec![sp.id.clone(), owner.id.clone()],
                    detail: format!(
                        "owner of service principal {name} ({}): can add a client secret or certificate to it and sign in as it",
                        sp.id
                    ),
                    label: "owns SP: can add credential".into(),
                };
                self.add_owner_edge(owner, target, EdgeKind::CanAddCredential, note);
            }
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
            for owner in &g.owners {
                let note = EdgeNote {
                    evidence: vec![g.id.clone(), owner.id.clone()],
                    detail: format!("owner of group {name} ({}): {how}, and so holds the group's roles", g.id),
                    label: "owns group: can add member".into(),
                };
                self.add_owner_edge(owner, group, EdgeKind::CanAddMember, note);
            }
        }
    }

    fn add_owner_edge(&mut self, owner: &DirectoryObject, target: NodeIndex, kind: EdgeKind, note: EdgeNote) {
        let owner_kind = directory_kind(owner);
        let from = self.node_for(NodeKey::of(&owner.id), owner_kind, owner.display_name.as_deref().unwrap_or(""));
        self.add_noted_edge(from, target, kind, Caps::EMPTY, 0, note);
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
