//! Azure RBAC for Kubernetes: data actions of Azure role assignments at the cluster (or above) act in every
//! namespace, at `<cluster>/namespaces/<ns>` in that one. The API server allows a request that either Azure or
//! in-cluster RBAC allows, so each assignment is judged as one more binding of its principal: the same edges
//! a RoleBinding (namespace scope) or ClusterRoleBinding (cluster scope) with those rules would give, and a
//! place in the union of the principal's (and its members') bindings, where a Secrets right from Azure and an
//! ASO right from a RoleBinding (or from a second assignment) combine. A cluster with
//! `aadProfile.enableAzureRBAC` whose Kubernetes objects were not collected gets these edges too, from Azure
//! facts alone: cluster-admin for cluster-scope role binding writers, and pods (so the kubelet identity) in the
//! namespaces assignments name and in `default`.

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use super::rbac::Grantee;
use super::union::{BindingIndex, Bound, SubjectKey};
use super::ClusterCtx;
use crate::graph::NodeKey;
use crate::kube::PolicyRule;
use crate::model::EdgeKind;
use crate::rbac::KubeData;

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
    /// Each role assignment whose data actions act in the cluster, as a binding of its principal: its edges,
    /// and its place in `index` for the union.
    pub(super) fn azure_rbac_edges(&mut self, index: &mut BindingIndex) {
        if !self.idx.azure_rbac.contains(self.cluster) {
            return;
        }
        for g in self.kube_grants() {
            self.azure_binding(&g, index);
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

    /// One assignment as a binding: a ClusterRoleBinding's edges at the cluster (or above), a RoleBinding's in
    /// the namespace its scope names, with the rules its data actions allow ([`rules_of`]).
    fn azure_binding(&mut self, kg: &KubeGrant, index: &mut BindingIndex) {
        let g = &self.b.grants[kg.grant];
        let gap = if self.azure_only {
            format!("; {}'s Kubernetes objects were not collected, so this rests on Azure facts alone (its in-cluster RBAC, service accounts, workloads and ASO would add the paths through them)", self.cname)
        } else {
            String::new()
        };
        let bound = Bound {
            ns_scope: kg.only_ns.clone(),
            rules: rules_of(g.kube_data),
            // Writing cluster role bindings makes cluster-admin only where cluster-scoped objects are in scope.
            bind: g.kube_data & KubeData::ESCALATE != 0 && kg.only_ns.is_none(),
            binding: g.assignment_id.clone(),
            role: format!("{} (Azure RBAC for Kubernetes)", g.role_name).into(),
            flags: kg.flags,
        };
        let grantee = Grantee {
            who: kg.principal,
            evidence: vec![g.assignment_id.clone(), format!("{} (aadProfile.enableAzureRBAC)", self.cluster).into()],
            label: format!("{} at {}", g.role_name, g.scope),
            binding: format!("(Azure RBAC for Kubernetes on {}{gap})", self.cname),
            flags: kg.flags,
        };
        let powers = bound.powers();
        self.cluster_wide(&grantee, &powers);
        let namespaces: Vec<String> =
            self.namespaces.iter().filter(|n| kg.only_ns.as_ref().is_none_or(|o| o == *n)).cloned().collect();
        for ns in namespaces {
            self.namespace_powers(&grantee, &powers, &ns);
        }
        drop(powers);
        let key = SubjectKey::Azure(self.b.graph[kg.principal].key.to_string(), kg.principal);
        index.azure(key.clone());
        index.bind(bound, vec![key]);
    }
}

/// The Kubernetes rules a role's [`KubeData`] bits stand for: one rule per request azpath's edges ask about,
/// so an assignment is judged by the same checks as an in-cluster binding.
pub(super) fn rules_of(bits: u16) -> Vec<PolicyRule> {
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: vec![group.into()],
        resources: resources.iter().map(|r| r.to_string()).collect(),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        resource_names: Vec::new(),
        non_resource_urls: Vec::new(),
    };
    let table: [(u16, PolicyRule); 8] = [
        (KubeData::CREATE_WORKLOADS, rule("", &["pods"], &["create"])),
        (KubeData::WRITE_PODS, rule("", &["pods"], &["patch", "update"])),
        (KubeData::EXEC_PODS, rule("", &["pods/exec", "pods/attach"], &["create", "get"])),
        (KubeData::READ_SECRETS, rule("", &["secrets"], &["get", "list", "watch"])),
        (KubeData::CREATE_SECRETS, rule("", &["secrets"], &["create"])),
        (KubeData::USE_ASO, rule("resources.azure.com", &["resourcegroups"], &["create", "update", "patch"])),
        (KubeData::IMPERSONATE_SERVICE_ACCOUNTS, rule("", &["serviceaccounts"], &["impersonate"])),
        (KubeData::IMPERSONATE_USERS, rule("", &["users", "groups"], &["impersonate"])),
    ];
    table.into_iter().filter(|(bit, _)| bits & bit != 0).map(|(_, r)| r).collect()
}
