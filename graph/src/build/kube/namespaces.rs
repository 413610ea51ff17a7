//! Namespaces: cluster-admin runs pods in each (`CAN_CREATE_WORKLOADS`), a pod runs as any service account of
//! its namespace (`RUNS_AS`) and reaches the kubelet identity through IMDS (`NODE_IDENTITY`).

use super::{note, ClusterCtx};
use crate::build::kube_key;
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;

impl ClusterCtx<'_> {
    /// Namespace nodes and their service accounts, kubelet identity and cluster-admin edges.
    pub(super) fn namespace_edges(&mut self) {
        let (idx, cluster, admin) = (self.idx, self.cluster, self.admin);
        let cname = self.cname.clone();
        for ns in &self.namespaces {
            let n = self.b.node_for(kube_key(cluster, &format!("namespaces/{ns}")), NodeKind::KubeNamespace, "");
            self.b.set_name(n, format!("{cname}/{ns}"));
            self.ns_nodes.insert(ns.clone(), n);
            self.b.add_noted_edge(
                admin,
                n,
                EdgeKind::CanCreateWorkloads,
                Caps::EMPTY,
                0,
                note(vec![cluster.to_string()], format!("cluster-admin can run pods in {ns}"), "runs pods"),
            );
            for sa in self.sas.get(ns).into_iter().flatten() {
                let sa_node = self.b.sa_node(cluster, ns, sa);
                self.b.add_noted_edge(
                    n,
                    sa_node,
                    EdgeKind::RunsAs,
                    Caps::EMPTY,
                    0,
                    note(
                        vec![format!("{ns}/serviceaccounts/{sa}")],
                        format!("a pod in {ns} can run as service account {sa} (spec.serviceAccountName)"),
                        "pod runs as",
                    ),
                );
            }
            if let Some(&kubelet) = idx.kubelet.get(cluster) {
                self.b.add_noted_edge(
                    n,
                    kubelet,
                    EdgeKind::NodeIdentity,
                    Caps::EMPTY,
                    0,
                    note(
                        vec![format!("{cluster}/identityProfile/kubeletidentity")],
                        format!("pods in {ns} reach the node's instance metadata service and get the kubelet identity's tokens"),
                        "IMDS",
                    ),
                );
            }
        }
    }
}
