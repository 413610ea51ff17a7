//! Kubernetes edges: RBAC (with ClusterRole aggregation) turned into what a subject can become, Entra
//! subjects joined to their directory identities, pods' node identity, node breakout, deprecated pod-managed
//! identity, and Azure Service Operator.
//!
//! What counts (model.md, Kubernetes and ASO tables): creating pods or workloads in a namespace runs code as
//! any of its service accounts, and, where Pod Security `baseline` is not enforced, as any account whose token
//! is mounted on a node; `serviceaccounts/token` mints their tokens; reading secrets reads the credentials
//! and legacy service-account tokens stored there; `impersonate` and `bind`/`escalate` lead to cluster-admin;
//! creating ASO resources in a namespace ASO watches acts with that namespace's ASO credential; a pod labelled
//! with an aad-pod-identity binding's selector gets that identity's tokens.
//!
//! The `kubernetes` pass runs one [`ClusterCtx`] per collected cluster, one method per concern, in this order (the order
//! edges are added in): namespaces, ASO, Azure RBAC for Kubernetes, aad-pod-identity, node breakout, RBAC (with
//! identity bindings per binding, then the union of each subject's bindings: `union.rs`); then, for clusters with
//! Azure RBAC for Kubernetes whose objects were not collected, the Azure RBAC edges from Azure facts alone; then
//! the AKS pod identity add-on of every cluster.

mod aso;
mod azure_rbac;
mod facts;
mod identity_bindings;
mod namespaces;
mod nodes;
mod pod_identity;
mod rbac;
mod union;

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;

use super::identity::IdentityIndex;
use super::kube_key;
use super::Builder;
use crate::graph::{EdgeNote, NodeKey};
use crate::kube::KubeCluster;
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{is_guid, Caps};
use crate::scope;
use crate::snapshot::{Snapshot, Str};
use union::SubjectKey;

pub(crate) use facts::{cluster_role_rules, find_aso, holds_client_secret, Aso, ASO_CREDENTIAL, ASO_SETTINGS};
pub(crate) use pod_identity::ADDON_MANAGED;

/// The edge kinds this pass adds.
pub(in crate::build) const EMITS: &[EdgeKind] = &[
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
    EdgeKind::IdentityBinding,
];

/// Runs the pass (after `identities`: clusters, kubelet and bound identities, federated trusts).
pub(in crate::build) fn run(b: &mut Builder, snapshot: &Snapshot, shared: &mut super::Shared) {
    b.add_kubernetes(snapshot, &shared.identities);
}

impl Builder {
    /// Adds every collected cluster's Kubernetes edges.
    fn add_kubernetes(&mut self, s: &Snapshot, idx: &IdentityIndex) {
        let upn = Upns { users: &s.entra.users, map: std::cell::OnceCell::new() };
        let mut collected = BTreeSet::new();
        for kc in &s.kubernetes {
            let cluster = if kc.cluster.trim_start().starts_with('/') {
                scope::normalize(&kc.cluster)
            } else {
                match idx.cluster_by_name.get(&kc.cluster.to_ascii_lowercase()) {
                    Some(Some(id)) => id.clone(),
                    _ => format!("k8s:{}", kc.cluster.to_ascii_lowercase()),
                }
            };
            ClusterCtx::new(self, kc, &cluster, idx, &upn).add_edges();
            collected.insert(cluster);
        }
        let mut azure_only: Vec<&String> = idx.azure_rbac.iter().filter(|c| !collected.contains(*c)).collect();
        azure_only.sort();
        for cluster in azure_only {
            let kc = KubeCluster { cluster: cluster.clone(), source: "azure".into(), ..Default::default() };
            ClusterCtx::new(self, &kc, cluster, idx, &upn).add_azure_only_edges();
        }
        self.add_pod_identity_addons(s, idx);
    }
}

/// Lower-case UPN → the directory user's node, made on first use: only a `User` subject named by UPN on an
/// Entra-integrated cluster asks, and a tenant of 800k users would make it for nothing otherwise.
struct Upns<'a> {
    users: &'a [crate::snapshot::User],
    map: std::cell::OnceCell<FxHashMap<String, NodeIndex>>,
}

impl Upns<'_> {
    fn get(&self, g: &crate::graph::PrivilegeGraph, upn: &str) -> Option<NodeIndex> {
        let map = self.map.get_or_init(|| {
            let user = |u: &crate::snapshot::User| {
                Some((u.user_principal_name.as_ref()?.to_ascii_lowercase(), g.lookup(&NodeKey::of(&u.id))?))
            };
            self.users.iter().filter_map(user).collect()
        });
        map.get(&upn.to_ascii_lowercase()).copied()
    }
}

/// One cluster being built: what its concerns share.
struct ClusterCtx<'a> {
    b: &'a mut Builder,
    kc: &'a KubeCluster,
    idx: &'a IdentityIndex,
    /// Lower-case UPN → the directory user's node.
    upn: &'a Upns<'a>,
    /// Normalized cluster id (or `k8s:<name>` when it matches no collected cluster).
    cluster: &'a str,
    /// Short cluster name, for display.
    cname: String,
    /// The cluster-admin node.
    admin: NodeIndex,
    /// Namespaces (dumped, or named by a service account).
    namespaces: BTreeSet<String>,
    /// Service accounts per namespace.
    sas: BTreeMap<String, Vec<String>>,
    ns_nodes: BTreeMap<String, NodeIndex>,
    /// ASO namespace nodes per watched namespace.
    aso_nodes: BTreeMap<String, NodeIndex>,
    /// The hub of identities federated to ASO's service account (relaxed mode).
    forge_hub: Option<NodeIndex>,
    /// Per namespace: Secrets holding an application's client secret (application node, Secret name).
    secret_apps: BTreeMap<String, Vec<(NodeIndex, String)>>,
    /// Per namespace: legacy token Secrets (Secret name, service account, uid).
    sa_tokens: BTreeMap<String, Vec<(String, String, String)>>,
    /// Service-account tokens mounted by running workloads ([`nodes::mounted_tokens`]).
    mounted: BTreeMap<(String, String), Vec<String>>,
    /// The cluster's Kubernetes objects were not collected: only Azure facts speak for it.
    azure_only: bool,
}

impl<'a> ClusterCtx<'a> {
    fn new(
        b: &'a mut Builder,
        kc: &'a KubeCluster,
        cluster: &'a str,
        idx: &'a IdentityIndex,
        upn: &'a Upns<'a>,
    ) -> Self {
        let cname = cluster.rsplit('/').next().unwrap_or(cluster).trim_start_matches("k8s:").to_string();
        let admin = match idx.admin.get(cluster) {
            Some(a) => *a,
            None => {
                let a = b.node_for(kube_key(cluster, "cluster-admin"), NodeKind::KubeClusterAdmin, "");
                b.set_name(a, format!("cluster-admin of {cname}"));
                a
            }
        };
        let mut namespaces: BTreeSet<String> = kc.namespaces.iter().map(|n| n.metadata.name.clone()).collect();
        namespaces.extend(kc.service_accounts.iter().filter_map(|s| s.metadata.namespace.clone()));
        let mut sas: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for sa in &kc.service_accounts {
            if let Some(ns) = &sa.metadata.namespace {
                sas.entry(ns.clone()).or_default().push(sa.metadata.name.clone());
            }
        }
        ClusterCtx {
            secret_apps: facts::client_secret_apps(kc, idx),
            sa_tokens: facts::token_secrets(kc),
            mounted: nodes::mounted_tokens(kc),
            b,
            kc,
            idx,
            upn,
            cluster,
            cname,
            admin,
            namespaces,
            sas,
            ns_nodes: BTreeMap::new(),
            aso_nodes: BTreeMap::new(),
            forge_hub: None,
            azure_only: false,
        }
    }

    /// Every concern, in order.
    fn add_edges(mut self) {
        self.namespace_edges();
        self.aso_edges();
        self.pod_identity_edges();
        self.node_edges();
        self.rbac_edges();
    }

    /// A cluster with Azure RBAC for Kubernetes whose objects were not collected: the namespaces its role
    /// assignments name and `default` (which every cluster has), and the Azure RBAC edges into them.
    fn add_azure_only_edges(mut self) {
        self.azure_only = true;
        self.namespaces = self.azure_rbac_namespaces().into_iter().chain(["default".to_string()]).collect();
        self.namespace_edges();
        let mut index = union::BindingIndex::default();
        self.azure_rbac_edges(&mut index);
        self.union_edges(&index);
    }
}

/// A derived edge's explanation.
fn note<S: Into<Str>>(evidence: impl IntoIterator<Item = S>, detail: String, label: &str) -> EdgeNote {
    EdgeNote { evidence: evidence.into_iter().map(Into::into).collect(), detail, label: label.into() }
}

impl Builder {
    fn sa_node(&mut self, cluster: &str, ns: &str, sa: &str) -> NodeIndex {
        self.node_named_by(
            kube_key(cluster, &format!("namespaces/{ns}/serviceaccounts/{sa}")),
            NodeKind::KubeServiceAccount,
            || format!("{ns}/{sa}"),
        )
    }

    /// The node of a binding subject (a `User` named `system:serviceaccount:<ns>:<sa>` is that service
    /// account); on Entra-integrated clusters, users and groups named by object id (or UPN) are joined to their
    /// directory node, which is returned beside it.
    fn subject_node(
        &mut self,
        cluster: &str,
        cname: &str,
        key: &SubjectKey,
        entra: bool,
        upn: &Upns<'_>,
    ) -> (NodeIndex, Option<NodeIndex>) {
        let (kind, rest, sk, name) = match key {
            SubjectKey::ServiceAccount(ns, sa) => return (self.sa_node(cluster, ns, sa), None),
            // Not a binding subject: the directory principal itself.
            SubjectKey::Azure(_, n) => return (*n, Some(*n)),
            SubjectKey::User(n) => (NodeKind::KubeUser, format!("users/{n}"), "User", n),
            SubjectKey::Group(n) => (NodeKind::KubeGroup, format!("groups/{n}"), "Group", n),
        };
        let node = self.node_named_by(kube_key(cluster, &rest), kind, || format!("{sk} {name} in {cname}"));
        if !entra {
            return (node, None);
        }
        let directory = if is_guid(name) { self.lookup(&NodeKey::of(name)) } else { upn.get(&self.g, name) };
        if let Some(d) = directory {
            // (Looked for among the subject node's few incoming edges, not the directory node's many outgoing.)
            let already = self.graph.edges_directed(node, petgraph::Direction::Incoming).any(|e| e.source() == d);
            if !already {
                let dname = self.graph[d].name.to_string();
                // Named after the Entra object it signs in as, so a report says who it is.
                self.set_name(node, format!("{dname} (Kubernetes {} in {cname})", sk.to_ascii_lowercase()));
                self.add_noted_edge(
                    d,
                    node,
                    EdgeKind::KubernetesIdentity,
                    Caps::EMPTY,
                    0,
                    EdgeNote {
                        evidence: vec![cluster.into(), name.as_str().into()],
                        detail: format!("{dname} signs in to {cname} through Entra ID as {sk} {name}"),
                        label: "Entra sign-in".into(),
                    },
                );
            }
        }
        (node, directory)
    }
}
