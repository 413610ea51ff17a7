//! Azure-side identity edges: managed identities as principals, control of a user-assigned identity through
//! its federated credentials, federated trust, and AKS cluster-admin from Azure.

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::FxHashMap;

use super::{kube_key, Builder};
use crate::graph::{EdgeNote, NodeKey};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{Capability, Caps};
use crate::scope;
use crate::snapshot::Snapshot;

/// What the Kubernetes builder needs to know about identities and clusters.
#[derive(Debug, Default)]
pub(crate) struct IdentityIndex {
    /// Client (application) id, lower-case → the identity's service principal node.
    pub by_client_id: FxHashMap<String, NodeIndex>,
    /// Normalized resource id of a user-assigned identity → its principal node.
    pub by_resource_id: FxHashMap<String, NodeIndex>,
    /// Normalized ids of AKS clusters with the pod identity add-on enabled (NMI in managed mode).
    pub pod_identity_addon: rustc_hash::FxHashSet<String>,
    /// Identity node → federated subjects it trusts: (cluster id, subject, federated credential id), for trusts
    /// on collected clusters.
    pub trusts: FxHashMap<NodeIndex, Vec<(String, String, String)>>,
    /// Identities whose federated credentials were collected.
    pub federation_known: rustc_hash::FxHashSet<NodeIndex>,
    /// Normalized cluster id → kubelet identity node.
    pub kubelet: FxHashMap<String, NodeIndex>,
    /// Normalized cluster id → cluster-admin node.
    pub admin: FxHashMap<String, NodeIndex>,
    /// Lower-case cluster name → normalized cluster id (ambiguous names map to nothing).
    pub cluster_by_name: FxHashMap<String, Option<String>>,
    /// Normalized cluster ids with Azure RBAC for Kubernetes authorization enabled.
    pub azure_rbac: rustc_hash::FxHashSet<String>,
    /// Normalized cluster ids that are Entra-integrated.
    pub entra_integrated: rustc_hash::FxHashSet<String>,
    /// Normalized cluster id → its identity bindings.
    pub identity_bindings: FxHashMap<String, Vec<BoundIdentity>>,
}

/// A user-assigned identity bound to a cluster by an AKS identity binding.
#[derive(Debug)]
pub(crate) struct BoundIdentity {
    /// The identity's principal node.
    pub identity: NodeIndex,
    /// Its client id, lower-case: the Kubernetes RBAC resource name that allows using it.
    pub client_id: String,
    /// The binding's resource id.
    pub binding_id: String,
    /// Why the binding may not work (not provisioned, or the identity lacks the binding's federated
    /// credential), if so.
    pub doubt: Option<String>,
}

/// The edge kinds this pass adds.
pub(super) const EMITS: &[EdgeKind] = &[
    EdgeKind::CanWriteFederatedCredential,
    EdgeKind::FederatedTrust,
    EdgeKind::AksClusterAdmin,
    EdgeKind::AksRunCommand,
];

/// Runs the pass; its index of identities and clusters is for the passes after it.
pub(super) fn run(b: &mut Builder, snapshot: &Snapshot, shared: &mut super::Shared) {
    shared.identities = b.add_identities(snapshot);
}

fn normalize_issuer(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// The identities pass over one snapshot: what its steps share.
struct Identities<'a> {
    b: &'a mut Builder,
    s: &'a Snapshot,
    idx: IdentityIndex,
    /// Normalized resource id of a user-assigned identity → its principal node.
    uami_node: FxHashMap<String, NodeIndex>,
    /// Scope → its `ScopeIdentities` hub (`None`: no role there writes federated credentials).
    fic_hubs: FxHashMap<NodeIndex, Option<NodeIndex>>,
    /// Normalized OIDC issuer URL → the cluster that issues it.
    issuer_cluster: FxHashMap<String, String>,
    /// Lower-case cluster name → the ids of the clusters with that name.
    names: FxHashMap<String, Vec<String>>,
    /// Federated credentials: (identity, credential id, issuer, subject).
    trusts: Vec<(NodeIndex, String, String, String)>,
}

impl Builder {
    /// Adds managed identities, federated trust, write-federated-credential control and AKS admin edges.
    pub(crate) fn add_identities(&mut self, s: &Snapshot) -> IdentityIndex {
        let mut pass = Identities {
            b: self,
            s,
            idx: IdentityIndex::default(),
            uami_node: FxHashMap::default(),
            fic_hubs: FxHashMap::default(),
            issuer_cluster: FxHashMap::default(),
            names: FxHashMap::default(),
            trusts: Vec::new(),
        };
        pass.service_principals();
        pass.user_assigned();
        for c in &s.azure.managed_clusters {
            pass.managed_cluster(c);
        }
        for c in &s.azure.connected_clusters {
            pass.connected_cluster(c);
        }
        let names = std::mem::take(&mut pass.names);
        pass.idx.cluster_by_name =
            names.into_iter().map(|(k, v)| (k, if v.len() == 1 { v.into_iter().next() } else { None })).collect();
        pass.federated_credentials();
        pass.identity_bindings();
        pass.trust_edges();
        pass.idx
    }
}

impl Identities<'_> {
    /// Service principals of managed identities are their own kind; every one is indexed by client id.
    fn service_principals(&mut self) {
        for sp in &self.s.entra.service_principals {
            if sp.service_principal_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("ManagedIdentity")) {
                let n = self.b.node_for(NodeKey::of(&sp.id), NodeKind::ManagedIdentity, "");
                self.b.set_kind(n, NodeKind::ManagedIdentity);
            }
            if let (Some(app), Some(n)) = (sp.app_id.as_deref(), self.b.lookup(&NodeKey::of(&sp.id))) {
                self.idx.by_client_id.insert(app.to_ascii_lowercase(), n);
            }
        }
    }

    /// User-assigned identities: the ARM resource (a scope, for control) and its principal.
    fn user_assigned(&mut self) {
        for u in &self.s.azure.user_assigned_identities {
            let Some(pid) = u.properties.principal_id.as_deref() else { continue };
            let n = self.b.node_for(NodeKey::of(pid), NodeKind::ManagedIdentity, &u.name);
            self.b.set_kind(n, NodeKind::ManagedIdentity);
            if let Some(c) = u.properties.client_id.as_deref() {
                self.idx.by_client_id.insert(c.to_ascii_lowercase(), n);
            }
            let resource = self.b.scope_node(&u.id, Some(&u.name));
            self.uami_node.insert(scope::normalize(&u.id), n);
            self.idx.by_resource_id.insert(scope::normalize(&u.id), n);
            self.b.add_fic_writers(resource, n, &u.id, &mut self.fic_hubs);
        }
    }

    /// An AKS cluster: its issuer, settings, cluster-admin node and who reaches it, kubelet identity.
    fn managed_cluster(&mut self, c: &crate::snapshot::ManagedCluster) {
        let id = scope::normalize(&c.id);
        self.names.entry(c.name.to_ascii_lowercase()).or_default().push(id.clone());
        let p = &c.properties;
        if let Some(url) = p.oidc_issuer_profile.as_ref().and_then(|o| o.issuer_url.as_deref()) {
            self.issuer_cluster.insert(normalize_issuer(url), id.clone());
        }
        if let Some(aad) = &p.aad_profile {
            self.idx.entra_integrated.insert(id.clone());
            if aad.enable_azure_rbac == Some(true) {
                self.idx.azure_rbac.insert(id.clone());
            }
        }
        let cluster_node = self.b.scope_node(&c.id, Some(&c.name));
        let admin = self.b.node_for(kube_key(&id, "cluster-admin"), NodeKind::KubeClusterAdmin, "");
        self.b.set_name(admin, format!("cluster-admin of {}", c.name));
        self.idx.admin.insert(id.clone(), admin);
        let local_accounts = p.disable_local_accounts != Some(true);
        let run_command = p.aad_profile.is_none()
            && p.api_server_access_profile.as_ref().and_then(|a| a.disable_run_command) != Some(true);
        self.b.add_aks_admins(cluster_node, admin, c, local_accounts, run_command);
        if p.pod_identity_profile.as_ref().is_some_and(|x| x.enabled == Some(true)) {
            self.idx.pod_identity_addon.insert(id.clone());
        }
        if let Some(aad) = &p.aad_profile {
            for g in &aad.admin_group_object_ids {
                self.admin_group(c, admin, g);
            }
        }
        let kubelet = p.identity_profile.as_ref().and_then(|m| m.get("kubeletidentity"));
        if let Some(oid) = kubelet.and_then(|k| k.object_id.as_deref()) {
            let name = kubelet.and_then(|k| k.resource_id.as_deref()).and_then(|r| r.rsplit('/').next()).unwrap_or("");
            let n = self.b.node_for(NodeKey::of(oid), NodeKind::ManagedIdentity, name);
            self.b.set_kind(n, NodeKind::ManagedIdentity);
            self.idx.kubelet.insert(id.clone(), n);
        }
    }

    /// Members of a group in `aadProfile.adminGroupObjectIDs` are the cluster's admins.
    fn admin_group(&mut self, c: &crate::snapshot::ManagedCluster, admin: NodeIndex, g: &str) {
        let group = self.b.node_for(NodeKey::of(g), NodeKind::Group, "");
        let note = EdgeNote {
            evidence: vec![
                c.id.as_str().into(),
                format!("aadProfile.adminGroupObjectIDs={g}").into(),
                format!(
                    "all={}",
                    c.properties.aad_profile.as_ref().map_or(String::new(), |a| a.admin_group_object_ids.join(","))
                )
                .into(),
            ],
            detail: format!("members of this group are cluster-admin of {} (aadProfile.adminGroupObjectIDs)", c.name),
            label: "AKS admin group".into(),
        };
        self.b.add_noted_edge(group, admin, EdgeKind::AksClusterAdmin, Caps::EMPTY, 0, note);
    }

    /// An Arc-connected cluster: its issuers and cluster-admin node.
    fn connected_cluster(&mut self, c: &crate::snapshot::ConnectedCluster) {
        let id = scope::normalize(&c.id);
        self.names.entry(c.name.to_ascii_lowercase()).or_default().push(id.clone());
        for url in
            c.properties.oidc_issuer_profile.iter().flat_map(|o| [&o.issuer_url, &o.self_hosted_issuer_url]).flatten()
        {
            self.issuer_cluster.insert(normalize_issuer(url), id.clone());
        }
        if c.properties.aad_profile.is_some() {
            self.idx.entra_integrated.insert(id.clone());
        }
        let admin = self.b.node_for(kube_key(&id, "cluster-admin"), NodeKind::KubeClusterAdmin, "");
        self.b.set_name(admin, format!("cluster-admin of {}", c.name));
        self.idx.admin.insert(id.clone(), admin);
    }

    /// Federated credentials: user-assigned identities (ARM) and applications (Graph).
    fn federated_credentials(&mut self) {
        let s = self.s;
        for f in &s.azure.federated_identity_credentials {
            let id = scope::normalize(&f.id);
            let Some(parent) = id.split("/federatedidentitycredentials/").next() else { continue };
            let Some(&identity) = self.uami_node.get(parent) else { continue };
            self.trusts.push((identity, f.id.clone(), f.properties.issuer.clone(), f.properties.subject.clone()));
        }
        let app_ids: FxHashMap<String, String> = s
            .entra
            .applications
            .iter()
            .filter_map(|a| Some((a.id.to_ascii_lowercase(), a.app_id.clone()?.to_ascii_lowercase())))
            .collect();
        for af in &s.entra.application_federated_credentials {
            let Some(app_id) = app_ids.get(&af.application_id.to_ascii_lowercase()) else { continue };
            let Some(&identity) = self.idx.by_client_id.get(app_id) else { continue };
            for c in &af.credentials {
                self.trusts.push((identity, c.id.clone(), c.issuer.clone(), c.subject.clone()));
            }
        }
        if s.sources.iter().any(|x| x.api == "arm.federatedIdentityCredentials")
            || !s.azure.federated_identity_credentials.is_empty()
        {
            self.idx.federation_known.extend(self.uami_node.values().copied());
        }
    }

    /// Identity bindings: AKS keeps one federated credential per bound identity, with the binding's issuer;
    /// tokens of that issuer are what the bound clusters' service accounts exchange.
    fn identity_bindings(&mut self) {
        let s = self.s;
        let uami_client: FxHashMap<String, String> = s
            .azure
            .user_assigned_identities
            .iter()
            .filter_map(|u| Some((scope::normalize(&u.id), u.properties.client_id.clone()?.to_ascii_lowercase())))
            .collect();
        let trusted_issuers: rustc_hash::FxHashSet<(NodeIndex, String)> =
            self.trusts.iter().map(|(identity, _, issuer, _)| (*identity, normalize_issuer(issuer))).collect();
        for b in &s.azure.identity_bindings {
            let id = scope::normalize(&b.id);
            let Some(cluster) = id.split("/identitybindings/").next().filter(|c| *c != id) else { continue };
            let mi = &b.properties.managed_identity;
            let resource = scope::normalize(&mi.resource_id);
            let Some(&identity) = self.idx.by_resource_id.get(&resource) else { continue };
            let Some(client_id) =
                mi.client_id.as_ref().map(|c| c.to_ascii_lowercase()).or_else(|| uami_client.get(&resource).cloned())
            else {
                continue;
            };
            let issuer = b.properties.oidc_issuer.as_ref().and_then(|o| o.oidc_issuer_url.as_deref());
            let has_credential = issuer.is_some_and(|i| trusted_issuers.contains(&(identity, normalize_issuer(i))));
            let state = b.properties.provisioning_state.as_deref().unwrap_or("Succeeded");
            let doubt = if !state.eq_ignore_ascii_case("Succeeded") {
                Some(format!("the binding is {state}, not Succeeded"))
            } else if !has_credential && !s.azure.federated_identity_credentials.is_empty() {
                Some("the identity has no federated credential with the binding's issuer".to_string())
            } else {
                None
            };
            let bound = BoundIdentity { identity, client_id, binding_id: b.id.clone(), doubt };
            self.idx.identity_bindings.entry(cluster.to_string()).or_default().push(bound);
        }
    }

    /// A `FEDERATED_TRUST` edge per federated credential, from the service account of a collected cluster's
    /// issuer or from an external workload; credentials of identity-binding issuers are skipped.
    fn trust_edges(&mut self) {
        let binding_issuers: rustc_hash::FxHashSet<String> = self
            .s
            .azure
            .identity_bindings
            .iter()
            .filter_map(|b| b.properties.oidc_issuer.as_ref()?.oidc_issuer_url.as_deref().map(normalize_issuer))
            .collect();
        for (identity, fic_id, issuer, subject) in std::mem::take(&mut self.trusts) {
            self.idx.federation_known.insert(identity);
            if binding_issuers.contains(&normalize_issuer(&issuer)) {
                continue;
            }
            let from = match self.issuer_cluster.get(&normalize_issuer(&issuer)) {
                Some(cluster) => {
                    let Some(rest) = subject.strip_prefix("system:serviceaccount:") else { continue };
                    let Some((ns, sa)) = rest.split_once(':') else { continue };
                    self.idx.trusts.entry(identity).or_default().push((
                        cluster.clone(),
                        subject.clone(),
                        fic_id.clone(),
                    ));
                    self.b.node_for(
                        kube_key(cluster, &format!("namespaces/{ns}/serviceaccounts/{sa}")),
                        NodeKind::KubeServiceAccount,
                        &format!("{ns}/{sa}"),
                    )
                }
                None => self.b.node_for(
                    NodeKey::Path(format!("federated:{issuer}|{subject}").into_boxed_str()),
                    NodeKind::ExternalWorkload,
                    &format!("{subject} @ {issuer}"),
                ),
            };
            let name = self.b.graph[identity].name.to_string();
            let note = EdgeNote {
                evidence: vec![fic_id.into(), format!("issuer={issuer}").into(), format!("subject={subject}").into()],
                detail: format!("a federated credential of {name} trusts tokens of {subject} issued by {issuer}"),
                label: "federated credential".into(),
            };
            self.b.add_noted_edge(from, identity, EdgeKind::FederatedTrust, Caps::EMPTY, 0, note);
        }
    }
}

impl Builder {
    /// Principals whose roles over the identity's resource allow writing federated credentials can act as it.
    /// Through one hub per scope holding such a role (its `ScopeIdentities` node): a role edges to the hub once,
    /// the hub to every identity under the scope, so the graph grows with roles + identities, not their product.
    fn add_fic_writers(
        &mut self,
        resource: NodeIndex,
        identity: NodeIndex,
        resource_id: &str,
        hubs: &mut FxHashMap<NodeIndex, Option<NodeIndex>>,
    ) {
        let want = Capability::WriteFederatedCredential.bit();
        let name = resource_id.rsplit('/').next().unwrap_or(resource_id).to_string();
        for scope in self.scope_chain(resource) {
            let hub = match hubs.get(&scope) {
                Some(h) => *h,
                None => {
                    let h = self.fic_hub(scope, want);
                    hubs.insert(scope, h);
                    h
                }
            };
            let Some(hub) = hub else { continue };
            let at = self.graph[scope].name.to_string();
            let note = EdgeNote {
                evidence: vec![resource_id.into()],
                detail: format!("{name} is under {at}: a federated credential added to it signs in as it"),
                label: "identity under scope".into(),
            };
            self.add_noted_edge(hub, identity, EdgeKind::CanWriteFederatedCredential, Caps::EMPTY, 0, note);
        }
    }

    /// The hub of the identities under `scope`, with an edge from each principal whose role there allows
    /// writing federated credentials; `None` when no role there does.
    fn fic_hub(&mut self, scope: NodeIndex, want: Caps) -> Option<NodeIndex> {
        let writers = self.grants_at(scope, want);
        if writers.is_empty() {
            return None;
        }
        let key = NodeKey::Path(format!("{}#identities", self.graph[scope].key).into_boxed_str());
        let at = self.graph[scope].name.to_string();
        let hub = self.node_for(key, NodeKind::ScopeIdentities, &format!("identities under {at}"));
        for (principal, grant, flags) in writers {
            let g = &self.grants[grant];
            let note = EdgeNote {
                evidence: vec![g.assignment_id.clone(), g.role_definition_id.clone()],
                detail: format!(
                    "{} at {} allows adding a federated credential to any user-assigned identity under it and signing in as it",
                    g.role_name, g.scope
                ),
                label: "can add federated credential".into(),
            };
            self.add_noted_edge(principal, hub, EdgeKind::CanWriteFederatedCredential, Caps::EMPTY, flags, note);
        }
        Some(hub)
    }

    /// Principals who can get the cluster's admin credential, change the cluster, or (without Entra
    /// integration) run commands in it.
    fn add_aks_admins(
        &mut self,
        cluster: NodeIndex,
        admin: NodeIndex,
        c: &crate::snapshot::ManagedCluster,
        local_accounts: bool,
        run_command: bool,
    ) {
        let name = c.name.as_str();
        let list = Capability::ListAksAdminCredential.bit();
        let write = Capability::WriteAksCluster.bit();
        let run = Capability::AksRunCommand.bit();
        for (principal, grant, flags) in self.grants_over(cluster, Caps(list.0 | write.0 | run.0)) {
            let g = &self.grants[grant];
            let caps = g.own_caps | g.delegated_caps;
            let (role, scope) = (g.role_name.clone(), g.scope.clone());
            let evidence = vec![g.assignment_id.clone(), g.role_definition_id.clone()];
            // Without Entra integration the command pod runs kubectl with the cluster's own (admin)
            // credentials; with it, the CLI passes the caller's token, so nothing is gained (model.md).
            if run_command && caps.contains(Capability::AksRunCommand) {
                let mut ev = evidence.clone();
                ev.push(format!("{} (no aadProfile; apiServerAccessProfile.disableRunCommand not true)", c.id).into());
                let note = EdgeNote {
                    evidence: ev,
                    detail: format!(
                        "{role} at {scope} allows managedClusters/runCommand/action on {name}, which has no Entra integration: the command runs kubectl in the cluster with its admin credentials"
                    ),
                    label: "AKS run command".into(),
                };
                self.add_noted_edge(principal, admin, EdgeKind::AksRunCommand, Caps::EMPTY, flags, note);
            }
            let detail = if caps.contains(Capability::ListAksAdminCredential) && local_accounts {
                format!("{role} at {scope} allows listClusterAdminCredential, and local accounts are enabled on {name}")
            } else if caps.contains(Capability::WriteAksCluster) {
                format!("{role} at {scope} allows managedClusters/write on {name} (can re-enable local accounts)")
            } else {
                continue;
            };
            let note = EdgeNote { evidence, detail, label: "AKS cluster admin".into() };
            self.add_noted_edge(principal, admin, EdgeKind::AksClusterAdmin, Caps::EMPTY, flags, note);
        }
    }

    /// Role edges on the scope or above it whose capabilities meet `want`: (principal, grant index, flags).
    fn grants_over(&self, scope_node: NodeIndex, want: Caps) -> Vec<(NodeIndex, usize, u8)> {
        self.scope_chain(scope_node).into_iter().flat_map(|s| self.grants_at(s, want)).collect()
    }

    /// Role edges on exactly this scope whose capabilities meet `want`: (principal, grant index, flags).
    fn grants_at(&self, scope: NodeIndex, want: Caps) -> Vec<(NodeIndex, usize, u8)> {
        self.graph
            .edges_directed(scope, Direction::Incoming)
            .filter(|e| e.weight().kind == EdgeKind::HasRole && e.weight().caps.intersects(want))
            .map(|e| (e.source(), e.weight().evidence as usize, e.weight().flags))
            .collect()
    }
}
