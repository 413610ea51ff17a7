//! Node breakout (`NODE_BREAKOUT`): namespaces without Pod Security `baseline` → the cluster's nodes → the
//! service accounts whose tokens are mounted there.

use std::collections::BTreeMap;

use super::facts::*;
use super::{note, ClusterCtx};
use crate::build::kube_key;
use crate::kube::KubeCluster;
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;

/// Service-account tokens mounted by running workloads: (namespace, account) → the workloads
/// (`<ns>/<kind>/<name>`) whose pods mount it (`automountServiceAccountToken` of the pod, else of the account,
/// not `false`; Deployments scaled to 0 run no pod).
pub(super) fn mounted_tokens(kc: &KubeCluster) -> BTreeMap<(String, String), Vec<String>> {
    let mut mounted: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let others =
        kc.workloads.iter().map(|w| (format!("{}s", w.kind.as_deref().unwrap_or("workload").to_ascii_lowercase()), w));
    let workloads = kc
        .deployments
        .iter()
        .map(|d| ("deployments".to_string(), d))
        .chain(kc.daemon_sets.iter().map(|d| ("daemonsets".to_string(), d)))
        .chain(others);
    for (kind, w) in workloads {
        let Some(ns) = &w.metadata.namespace else { continue };
        if w.replicas == Some(0) {
            continue;
        }
        let sa = w.service_account_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into());
        let sa_automount = kc
            .service_accounts
            .iter()
            .find(|x| x.metadata.namespace.as_deref() == Some(ns) && x.metadata.name == sa)
            .and_then(|x| x.automount_service_account_token);
        // No token is mounted when the pod (or, unless the pod says otherwise, its account) opts out.
        if w.automount_service_account_token.or(sa_automount) == Some(false) {
            continue;
        }
        mounted.entry((ns.clone(), sa)).or_default().push(format!("{ns}/{kind}/{}", w.metadata.name));
    }
    mounted
}

impl ClusterCtx<'_> {
    /// The nodes hub and its breakout edges.
    pub(super) fn node_edges(&mut self) {
        let (kc, cluster) = (self.kc, self.cluster);
        let cname = self.cname.clone();
        // Node breakout: where Pod Security `baseline` is not enforced, a pod creator runs a privileged
        // (hostPath, hostPID) pod pinned to any node (nodeName, tolerations) and reads the service-account
        // tokens mounted there: those of every running workload.
        let mounted = self.mounted.clone();
        let enforce: BTreeMap<&str, Option<&str>> = kc
            .namespaces
            .iter()
            .map(|n| (n.metadata.name.as_str(), n.metadata.labels.get(PSS_ENFORCE).map(String::as_str)))
            .collect();
        // One hub per cluster (its nodes), so breakout costs namespaces + workloads edges, not their product.
        let nodes = (!mounted.is_empty()).then(|| {
            let hub = self.b.node_for(kube_key(cluster, "nodes"), NodeKind::KubeNodes, "");
            self.b.set_name(hub, format!("nodes of {cname}"));
            for ((sa_ns, sa), by) in &mounted {
                let to = self.b.sa_node(cluster, sa_ns, sa);
                let more = if by.len() > 3 { format!(" and {} more", by.len() - 3) } else { String::new() };
                let shown = by.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                self.b.add_noted_edge(
                    hub,
                    to,
                    EdgeKind::NodeBreakout,
                    Caps::EMPTY,
                    0,
                    note(
                        by.iter().take(3).cloned().collect::<Vec<String>>(),
                        format!("the token of {sa_ns}/{sa} is mounted on the nodes running {shown}{more}"),
                        "token on node",
                    ),
                );
            }
            hub
        });
        for (ns, &n) in &self.ns_nodes {
            let Some(hub) = nodes else { break };
            let label = enforce.get(ns.as_str());
            // Absent or `privileged` allows everything; any other value (an invalid one reads as
            // `restricted`) blocks privileged, hostPath and hostPID pods.
            let seen = match label {
                Some(None) => format!("namespaces/{ns}: no {PSS_ENFORCE} label"),
                Some(Some("privileged")) => format!("namespaces/{ns}: {PSS_ENFORCE}=privileged"),
                Some(Some(_)) => continue,
                None => format!("namespaces/{ns}: namespace object not collected, no {PSS_ENFORCE} label seen"),
            };
            self.b.add_noted_edge(
                n,
                hub,
                EdgeKind::NodeBreakout,
                Caps::EMPTY,
                0,
                note(
                    vec![seen],
                    format!(
                        "{ns} does not enforce Pod Security baseline: a pod created there can be privileged (hostPath, hostPID) and pinned to any node (nodeName, tolerations), where it reads the service-account tokens mounted there"
                    ),
                    "node breakout",
                ),
            );
        }
    }
}
