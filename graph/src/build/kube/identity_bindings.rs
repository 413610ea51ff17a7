//! AKS identity bindings (`IDENTITY_BINDING`).

use std::collections::BTreeMap;

use super::facts::*;
use crate::build::identity::IdentityIndex;
use crate::build::Builder;
use crate::graph::{EdgeNote, CONDITIONAL};
use crate::kube::PolicyRule;
use crate::model::EdgeKind;
use crate::rbac::Caps;

impl Builder {
    /// AKS identity bindings: the service accounts a binding's rules let `use-managed-identity` on
    /// `cid.wi.aks.azure.com/<client id>` act as each identity bound to the cluster. Only service-account tokens
    /// are exchanged, so users and other groups get nothing here.
    pub(super) fn add_identity_binding_edges(
        &mut self,
        cluster: &str,
        b: &crate::kube::RoleBinding,
        ns_scope: Option<&str>,
        rules: &[&PolicyRule],
        sas: &BTreeMap<String, Vec<String>>,
        idx: &IdentityIndex,
    ) {
        let Some(bound) = idx.identity_bindings.get(cluster) else { return };
        let usable: Vec<_> = bound
            .iter()
            .filter(|m| {
                any_rule(rules, |r| allows(r, USE_MANAGED_IDENTITY, IDENTITY_BINDING_GROUP, &m.client_id, None))
            })
            .collect();
        if usable.is_empty() {
            return;
        }
        let mut accounts: Vec<(String, String)> = Vec::new();
        for subject in &b.subjects {
            match (subject.kind.as_str(), subject.name.as_str()) {
                ("ServiceAccount", name) => {
                    if let Some(ns) = subject.namespace.as_deref().or(ns_scope) {
                        accounts.push((ns.to_string(), name.to_string()));
                    }
                }
                ("Group", "system:serviceaccounts") => {
                    accounts.extend(sas.iter().flat_map(|(ns, v)| v.iter().map(move |a| (ns.clone(), a.clone()))));
                }
                ("Group", group) => {
                    if let Some(ns) = group.strip_prefix("system:serviceaccounts:") {
                        accounts.extend(sas.get(ns).into_iter().flatten().map(|a| (ns.to_string(), a.clone())));
                    }
                }
                _ => {}
            }
        }
        let kind = if ns_scope.is_some() { "RoleBinding" } else { "ClusterRoleBinding" };
        let where_ = ns_scope.map(|n| format!("{n}/")).unwrap_or_default();
        for (ns, account) in accounts {
            // The check is documented with ClusterRoleBindings; a RoleBinding can only count in the account's
            // own namespace, and whether it does is not documented.
            let namespaced_doubt = match ns_scope {
                Some(bns) if bns != ns => continue,
                Some(_) => Some("granted by a RoleBinding; AKS documents ClusterRoleBindings for this".to_string()),
                None => None,
            };
            let from = self.sa_node(cluster, &ns, &account);
            for m in &usable {
                let doubts: Vec<&str> =
                    [m.doubt.as_deref(), namespaced_doubt.as_deref()].into_iter().flatten().collect();
                let ident = self.graph[m.identity].name.to_string();
                let mut detail = format!(
                    "{ns}/{account} may use-managed-identity {} ({kind} {where_}{}, {} {}), and identity binding {} binds {ident} to this cluster",
                    m.client_id,
                    b.metadata.name,
                    b.role_ref.kind,
                    b.role_ref.name,
                    m.binding_id.rsplit('/').next().unwrap_or(&m.binding_id)
                );
                if !doubts.is_empty() {
                    detail.push_str(&format!(" ({})", doubts.join("; ")));
                }
                self.add_noted_edge(
                    from,
                    m.identity,
                    EdgeKind::IdentityBinding,
                    Caps::EMPTY,
                    if doubts.is_empty() { 0 } else { CONDITIONAL },
                    EdgeNote {
                        evidence: vec![
                            m.binding_id.as_str().into(),
                            format!("{kind} {where_}{}", b.metadata.name).into(),
                        ],
                        detail,
                        label: "identity binding".into(),
                    },
                );
            }
        }
    }
}
