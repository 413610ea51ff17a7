//! Azure RBAC for Kubernetes: data actions of Azure role assignments at the cluster (or above) act in every
//! namespace, at `<cluster>/namespaces/<ns>` in that one; unioned with in-cluster RBAC.

use petgraph::graph::NodeIndex;

use super::{note, ClusterCtx};
use crate::build::Builder;
use crate::graph::NodeKey;
use crate::model::EdgeKind;
use crate::rbac::{Caps, KubeData};

impl ClusterCtx<'_> {
    /// Edges from Azure role holders whose data actions act in the cluster.
    pub(super) fn azure_rbac_edges(&mut self) {
        let (idx, cluster, admin) = (self.idx, self.cluster, self.admin);
        // Azure RBAC for Kubernetes: data actions of Azure role assignments at the cluster (or above) apply to
        // every namespace, at `<cluster>/namespaces/<ns>` to that namespace; unioned with in-cluster RBAC.
        if idx.azure_rbac.contains(cluster) {
            if let Some(cluster_node) = self.b.lookup(&NodeKey::Path(cluster.into())) {
                let mut grants: Vec<(NodeIndex, usize, u8, Option<String>)> = Vec::new();
                let mut collect = |g: &Builder, scope: NodeIndex, ns: Option<String>| {
                    for e in g.graph.edges_directed(scope, petgraph::Direction::Incoming) {
                        let w = e.weight();
                        if w.kind == EdgeKind::HasRole && g.grants[w.evidence as usize].kube_data != 0 {
                            grants.push((
                                petgraph::visit::EdgeRef::source(&e),
                                w.evidence as usize,
                                w.flags,
                                ns.clone(),
                            ));
                        }
                    }
                };
                for scope in self.b.scope_chain(cluster_node) {
                    collect(self.b, scope, None);
                }
                for ns in &self.namespaces {
                    if let Some(n) =
                        self.b.lookup(&NodeKey::Path(format!("{cluster}/namespaces/{ns}").to_ascii_lowercase().into()))
                    {
                        collect(self.b, n, Some(ns.clone()));
                    }
                }
                for (principal, grant, flags, only_ns) in grants {
                    let g = &self.b.grants[grant];
                    let (bits, role, scope_txt, id) =
                        (g.kube_data, g.role_name.clone(), g.scope.clone(), g.assignment_id.clone());
                    let ev = vec![id, format!("{cluster} (aadProfile.enableAzureRBAC)")];
                    let mk = |what: String| {
                        note(
                            ev.clone(),
                            format!("{role} at {scope_txt} {what} (Azure RBAC for Kubernetes)"),
                            "Azure RBAC for Kubernetes",
                        )
                    };
                    if bits & KubeData::ESCALATE != 0 && only_ns.is_none() {
                        self.b.add_noted_edge(
                            principal,
                            admin,
                            EdgeKind::CanEscalate,
                            Caps::EMPTY,
                            flags,
                            mk("allows writing cluster role bindings".into()),
                        );
                    }
                    for ns in self.namespaces.iter().filter(|n| only_ns.as_ref().is_none_or(|o| o == *n)) {
                        if bits & KubeData::CREATE_WORKLOADS != 0 {
                            if let Some(&n) = self.ns_nodes.get(ns) {
                                self.b.add_noted_edge(
                                    principal,
                                    n,
                                    EdgeKind::CanCreateWorkloads,
                                    Caps::EMPTY,
                                    flags,
                                    mk(format!("allows creating pods and workloads in {ns}")),
                                );
                            }
                        }
                        if bits & KubeData::USE_ASO != 0 {
                            if let Some(&n) = self.aso_nodes.get(ns) {
                                self.b.add_noted_edge(
                                    principal,
                                    n,
                                    EdgeKind::CanUseAso,
                                    Caps::EMPTY,
                                    flags,
                                    mk(format!("allows creating ASO resources in {ns}")),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
