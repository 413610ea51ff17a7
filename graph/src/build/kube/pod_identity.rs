//! Deprecated pod-managed identity (`POD_MANAGED_IDENTITY`): aad-pod-identity bindings in a cluster's dump, and
//! the AKS pod identity add-on (`podIdentityProfile`).

use std::collections::BTreeSet;

use petgraph::graph::NodeIndex;

use super::facts::*;
use super::{note, ClusterCtx};
use crate::build::identity::IdentityIndex;
use crate::build::kube_key;
use crate::build::Builder;
use crate::graph::{EdgeNote, NodeKey};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{is_guid, Caps};
use crate::scope;
use crate::snapshot::Snapshot;

impl ClusterCtx<'_> {
    /// aad-pod-identity bindings of the dump; their service principals' password Secrets join the readable ones.
    pub(super) fn pod_identity_edges(&mut self) {
        let (kc, idx, cluster) = (self.kc, self.idx, self.cluster);
        // aad-pod-identity: a binding hands its identity to pods labelled `aadpodidbinding: <selector>`, of
        // every namespace unless the identity or the whole install is namespaced (MIC looks the identity up in
        // the binding's own namespace).
        let mode = pod_identity_mode(kc, idx.pod_identity_addon.contains(cluster));
        let mut pod_identity_seen: BTreeSet<(NodeIndex, NodeIndex)> = BTreeSet::new();
        for b in &kc.azure_identity_bindings {
            let Some(bns) = b.metadata.namespace.as_deref() else { continue };
            if b.selector.is_empty() {
                continue;
            }
            let Some(ai) = kc
                .azure_identities
                .iter()
                .find(|i| i.metadata.namespace.as_deref() == Some(bns) && i.metadata.name == b.azure_identity)
            else {
                continue;
            };
            let target = if ai.identity_type == 0 {
                self.b.pod_identity_target(idx, ai.resource_id.as_deref(), ai.client_id.as_deref(), None, "")
            } else {
                ai.client_id.as_deref().and_then(|c| idx.by_client_id.get(&c.trim().to_ascii_lowercase()).copied())
            };
            let Some(target) = target else { continue };
            let ident = self.b.graph[target].name.to_string();
            let own = ai.metadata.annotations.get(POD_IDENTITY_BEHAVIOR).is_some_and(|v| v == "namespaced");
            let (from, scope_why): (Vec<&String>, String) = if own {
                (
                    self.namespaces.iter().filter(|n| n.as_str() == bns).collect(),
                    format!("namespaced: the AzureIdentity is annotated {POD_IDENTITY_BEHAVIOR}: namespaced"),
                )
            } else if let Some(why) = &mode.namespaced {
                (self.namespaces.iter().filter(|n| n.as_str() == bns).collect(), format!("namespaced: {why}"))
            } else {
                (self.namespaces.iter().collect(), mode.not_namespaced.clone())
            };
            let kind = match ai.identity_type {
                0 => "managed identity",
                1 => "service principal, client secret",
                _ => "service principal, certificate",
            };
            for ns in from {
                let Some(&n) = self.ns_nodes.get(ns) else { continue };
                if !pod_identity_seen.insert((n, target)) {
                    continue;
                }
                self.b.add_noted_edge(
                    n,
                    target,
                    EdgeKind::PodManagedIdentity,
                    Caps::EMPTY,
                    0,
                    note(
                        [
                            format!("{bns}/azureidentitybindings/{}", b.metadata.name),
                            format!("{bns}/azureidentities/{}", ai.metadata.name),
                            format!("aadpodidbinding={}", b.selector),
                        ]
                        .into_iter()
                        .chain(managed_by_addon(&b.metadata).then(|| format!("{ADDON_MANAGED}{bns}/{}", ai.metadata.name)))
                        .collect::<Vec<String>>(),
                        format!(
                            "a pod in {ns} labelled aadpodidbinding={} gets {ident}'s tokens ({kind}) from aad-pod-identity's NMI through AzureIdentityBinding {bns}/{} ({scope_why})",
                            b.selector, b.metadata.name
                        ),
                        "pod-managed identity",
                    ),
                );
            }
            // NMI reads the service principal's credential from this Secret: its readers hold it too.
            if let (true, Some(r)) = (ai.identity_type != 0, ai.client_password.as_ref()) {
                let sns = r.namespace.clone().unwrap_or_else(|| bns.to_string());
                let list = self.secret_apps.entry(sns).or_default();
                if !list.iter().any(|(a, n)| *a == target && *n == r.name) {
                    list.push((target, r.name.clone()));
                }
            }
        }
    }
}

/// Evidence that a binding belongs to the AKS pod identity add-on (`<namespace>/<pod identity name>` follows):
/// the add-on reconciles it, so it is removed through the add-on, not with kubectl.
pub(crate) const ADDON_MANAGED: &str = "managed by the AKS pod identity add-on: ";

/// Whether the add-on made this object (label `kubernetes.azure.com/managedby: aks`).
fn managed_by_addon(meta: &crate::kube::ObjectMeta) -> bool {
    meta.labels.get("kubernetes.azure.com/managedby").is_some_and(|v| v == "aks")
}

impl Builder {
    /// The principal node of a pod-managed identity: by resource id (a collected user-assigned identity),
    /// else object id, else client id.
    fn pod_identity_target(
        &mut self,
        idx: &IdentityIndex,
        resource_id: Option<&str>,
        client_id: Option<&str>,
        object_id: Option<&str>,
        name: &str,
    ) -> Option<NodeIndex> {
        if let Some(n) = resource_id.and_then(|r| idx.by_resource_id.get(&scope::normalize(r))) {
            return Some(*n);
        }
        if let Some(oid) = object_id.filter(|o| is_guid(o.trim())) {
            let n = self.node_for(NodeKey::of(oid), NodeKind::ManagedIdentity, name);
            if self.graph[n].kind == NodeKind::UnknownPrincipal {
                self.set_kind(n, NodeKind::ManagedIdentity);
            }
            return Some(n);
        }
        client_id.and_then(|c| idx.by_client_id.get(&c.trim().to_ascii_lowercase()).copied())
    }

    /// The AKS pod identity add-on (`podIdentityProfile`, deprecated). Its NMI runs in managed mode: an
    /// identity answers pods of its own namespace labelled `aadpodidbinding: <bindingSelector>`. Pods matching
    /// an exception bypass NMI and reach the instance metadata service, where every pod identity (all are
    /// assigned to the node pools) answers.
    pub(super) fn add_pod_identity_addons(&mut self, s: &Snapshot, idx: &IdentityIndex) {
        for c in &s.azure.managed_clusters {
            let Some(p) = c.properties.pod_identity_profile.as_ref().filter(|p| p.enabled == Some(true)) else {
                continue;
            };
            let cluster = scope::normalize(&c.id);
            let cname =
                if c.name.is_empty() { cluster.rsplit('/').next().unwrap_or("").to_string() } else { c.name.clone() };
            let admin = idx.admin.get(&cluster).copied();
            let mut identities: Vec<(NodeIndex, String)> = Vec::new();
            for pi in &p.user_assigned_identities {
                let id = &pi.identity;
                let name = id.resource_id.as_deref().and_then(|r| r.rsplit('/').next()).unwrap_or(&pi.name);
                let Some(target) = self.pod_identity_target(
                    idx,
                    id.resource_id.as_deref(),
                    id.client_id.as_deref(),
                    id.object_id.as_deref(),
                    name,
                ) else {
                    continue;
                };
                if pi.namespace.is_empty() {
                    continue;
                }
                let selector = pi.binding_selector.clone().filter(|b| !b.is_empty()).unwrap_or_else(|| pi.name.clone());
                let n = self.namespace_node(&cluster, &cname, &pi.namespace, admin);
                identities.push((target, format!("{}/{}", pi.namespace, pi.name)));
                // The add-on's own AzureIdentity objects, when dumped, already gave this edge.
                let dumped =
                    self.graph.edges_connecting(n, target).any(|e| e.weight().kind == EdgeKind::PodManagedIdentity);
                if dumped {
                    continue;
                }
                let ident = self.graph[target].name.to_string();
                let ns = &pi.namespace;
                self.add_noted_edge(
                    n,
                    target,
                    EdgeKind::PodManagedIdentity,
                    Caps::EMPTY,
                    0,
                    EdgeNote {
                        evidence: vec![
                            format!("{} (podIdentityProfile.userAssignedIdentities: {ns}/{})", c.id, pi.name).into(),
                            format!("aadpodidbinding={selector}").into(),
                            id.resource_id.clone().unwrap_or_default().into(),
                        ],
                        detail: format!(
                            "a pod in {ns} labelled aadpodidbinding={selector} gets {ident}'s tokens from the AKS pod identity add-on (pod identity {ns}/{}, deprecated)",
                            pi.name
                        ),
                        label: "pod-managed identity".into(),
                    },
                );
            }
            for ex in &p.user_assigned_identity_exceptions {
                if ex.namespace.is_empty() {
                    continue;
                }
                let n = self.namespace_node(&cluster, &cname, &ex.namespace, admin);
                self.nmi_exception_edges(c, ex, n, &identities);
            }
        }
    }

    /// Pods matching an NMI exception ask IMDS directly, where every pod identity of the add-on answers.
    fn nmi_exception_edges(
        &mut self,
        c: &crate::snapshot::ManagedCluster,
        ex: &crate::snapshot::PodIdentityException,
        n: NodeIndex,
        identities: &[(NodeIndex, String)],
    ) {
        let labels: Vec<String> = ex.pod_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for (target, pod_identity) in identities {
            let ident = self.graph[*target].name.to_string();
            let note = EdgeNote {
                evidence: vec![
                    format!("{} (podIdentityProfile.userAssignedIdentityExceptions: {}/{})", c.id, ex.namespace, ex.name)
                        .into(),
                    format!("podLabels {}", labels.join(",")).into(),
                ],
                detail: format!(
                    "a pod in {} labelled {} is exempt from NMI and asks the instance metadata service directly, where {ident} (pod identity {pod_identity}, assigned to the node pools) answers",
                    ex.namespace,
                    labels.join(",")
                ),
                label: "NMI exception".into(),
            };
            self.add_noted_edge(n, *target, EdgeKind::PodManagedIdentity, Caps::EMPTY, 0, note);
        }
    }

    /// A namespace node; one seen first here gets cluster-admin's pod-creation edge, as dumped ones do.
    fn namespace_node(&mut self, cluster: &str, cname: &str, ns: &str, admin: Option<NodeIndex>) -> NodeIndex {
        let key = kube_key(cluster, &format!("namespaces/{ns}"));
        let known = self.lookup(&key).is_some();
        let n = self.node_for(key, NodeKind::KubeNamespace, &format!("{cname}/{ns}"));
        if let (false, Some(admin)) = (known, admin) {
            self.add_noted_edge(
                admin,
                n,
                EdgeKind::CanCreateWorkloads,
                Caps::EMPTY,
                0,
                EdgeNote {
                    evidence: vec![cluster.into()],
                    detail: format!("cluster-admin can run pods in {ns}"),
                    label: "runs pods".into(),
                },
            );
        }
        n
    }
}
