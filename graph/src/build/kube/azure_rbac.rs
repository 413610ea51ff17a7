//! Azure RBAC for Kubernetes: data actions of Azure role assignments at the cluster (or above) act in every
//! namespace, at `<cluster>/namespaces/<ns>` in that one; unioned with in-cluster RBAC. A cluster with
//! `aadProfile.enableAzureRBAC` whose Kubernetes objects were not collected gets these edges too, from Azure
//! facts alone: cluster-admin for cluster-scope role binding writers, and pods (so the kubelet identity) in the
//! namespaces assignments name and in `default`.

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use super::{note, ClusterCtx};
use crate::graph::NodeKey;
use crate::model::EdgeKind;
use crate::rbac::{Caps, KubeData};

/// One role assignment whose data actions act in the cluster.
struct KubeGrant {
    principal: NodeIndex,
    /// Index into the graph's grants.
    grant: usize,
    flags: u8,
    /// The namespace its scope names; `None` at the cluster or above.
    only_ns: Option<String>,
}

impl ClusterCtx<'_> {
    /// Edges from Azure role holders whose data actions act in the cluster.
    pub(super) fn azure_rbac_edges(&mut self) {
        if !self.idx.azure_rbac.contains(self.cluster) {
            return;
        }
        for g in self.kube_grants() {
            self.kube_grant_edges(&g);
        }
    }

    /// The namespaces Azure role assignments name under this cluster (`<cluster>/namespaces/<ns>` scopes).
    pub(super) fn azure_rbac_namespaces(&self) -> Vec<String> {
        let prefix = format!("{}/namespaces/", self.cluster.to_ascii_lowercase());
        let mut out: Vec<String> = self
            .b
            .grants
            .iter()
            .filter(|g| g.kube_data != 0)
            .filter_map(|g| g.scope.to_ascii_lowercase().strip_prefix(&prefix).map(str::to_string))
            .filter(|ns| !ns.is_empty() && !ns.contains('/'))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Role edges with Kubernetes data actions on the cluster (or above) and on its namespaces.
    fn kube_grants(&self) -> Vec<KubeGrant> {
        let Some(cluster_node) = self.b.lookup(&NodeKey::Path(self.cluster.into())) else { return Vec::new() };
        let mut out = Vec::new();
        for scope in self.b.scope_chain(cluster_node) {
            self.kube_grants_at(scope, None, &mut out);
        }
        for ns in &self.namespaces {
            let key = NodeKey::Path(format!("{}/namespaces/{ns}", self.cluster).to_ascii_lowercase().into());
            if let Some(n) = self.b.lookup(&key) {
                self.kube_grants_at(n, Some(ns), &mut out);
            }
        }
        out
    }

    fn kube_grants_at(&self, scope: NodeIndex, ns: Option<&String>, out: &mut Vec<KubeGrant>) {
        for e in self.b.graph.edges_directed(scope, Direction::Incoming) {
            let w = e.weight();
            if w.kind == EdgeKind::HasRole && self.b.grants[w.evidence as usize].kube_data != 0 {
                let (principal, grant, flags) = (e.source(), w.evidence as usize, w.flags);
                out.push(KubeGrant { principal, grant, flags, only_ns: ns.cloned() });
            }
        }
    }

    /// What one assignment's data actions give: cluster-admin (role binding writes at cluster scope), pods and
    /// ASO resources in each namespace it covers.
    fn kube_grant_edges(&mut self, kg: &KubeGrant) {
        let g = &self.b.grants[kg.grant];
        let (bits, role, scope_txt, id) = (g.kube_data, g.role_name.clone(), g.scope.clone(), g.assignment_id.clone());
        let ev = vec![id, format!("{} (aadProfile.enableAzureRBAC)", self.cluster)];
        let gap = if self.azure_only {
            format!("; {}'s Kubernetes objects were not collected, so this rests on Azure facts alone (its in-cluster RBAC, service accounts, workloads and ASO would add the paths through them)", self.cname)
        } else {
            String::new()
        };
        let mk = |what: String| {
            note(
                ev.clone(),
                format!("{role} at {scope_txt} {what} (Azure RBAC for Kubernetes){gap}"),
                "Azure RBAC for Kubernetes",
            )
        };
        let (principal, flags, admin) = (kg.principal, kg.flags, self.admin);
        if bits & KubeData::ESCALATE != 0 && kg.only_ns.is_none() {
            let n = mk("allows writing cluster role bindings (can make itself cluster-admin)".into());
            self.b.add_noted_edge(principal, admin, EdgeKind::CanEscalate, Caps::EMPTY, flags, n);
        }
        let namespaces: Vec<String> =
            self.namespaces.iter().filter(|n| kg.only_ns.as_ref().is_none_or(|o| o == *n)).cloned().collect();
        for ns in namespaces {
            let ns_node = self.ns_nodes.get(&ns).copied().filter(|_| bits & KubeData::CREATE_WORKLOADS != 0);
            if let Some(n) = ns_node {
                let note = mk(format!("allows creating pods and workloads in {ns}"));
                self.b.add_noted_edge(principal, n, EdgeKind::CanCreateWorkloads, Caps::EMPTY, flags, note);
            }
            let aso_node = self.aso_nodes.get(&ns).copied().filter(|_| bits & KubeData::USE_ASO != 0);
            if let Some(n) = aso_node {
                let note = mk(format!("allows creating ASO resources in {ns}"));
                self.b.add_noted_edge(principal, n, EdgeKind::CanUseAso, Caps::EMPTY, flags, note);
                if let (true, Some(hub)) = (bits & KubeData::CREATE_SECRETS != 0, self.forge_hub) {
                    let what = format!("allows creating a Secret and an ASO resource in {ns}: a forged credential naming the client id of any identity federated to ASO's service account makes ASO (relaxed mode) act as it");
                    self.b.add_noted_edge(principal, hub, EdgeKind::AsoCredentialForging, Caps::EMPTY, flags, mk(what));
                }
            }
        }
    }
}
