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

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap;

use super::identity::IdentityIndex;
use super::kube_key;
use super::Builder;
use crate::graph::{EdgeNote, NodeKey, CONDITIONAL};
use crate::kube::{KubeCluster, LabelSelector, PolicyRule, Role, SecretMeta};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{is_guid, Capability, Caps, KubeData};
use crate::scope;
use crate::snapshot::Snapshot;

const WORKLOAD_RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];
const RBAC: &str = "rbac.authorization.k8s.io";
pub(crate) const ASO_SETTINGS: &str = "aso-controller-settings";
pub(crate) const ASO_CREDENTIAL: &str = "aso-credential";
/// The RBAC verb and API group AKS identity bindings check: `use-managed-identity` on
/// `cid.wi.aks.azure.com/<client id>`.
const USE_MANAGED_IDENTITY: &str = "use-managed-identity";
const IDENTITY_BINDING_GROUP: &str = "cid.wi.aks.azure.com";

/// Whether one rule allows `verb` on `group`/`resource` (for object `name`, when given).
fn allows(rule: &PolicyRule, verb: &str, group: &str, resource: &str, name: Option<&str>) -> bool {
    let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(v));
    any(&rule.verbs, verb)
        && any(&rule.api_groups, group)
        && (any(&rule.resources, resource)
            || resource.split_once('/').is_some_and(|(r, _)| rule.resources.iter().any(|x| x == &format!("{r}/*"))))
        && (rule.resource_names.is_empty() || name.is_some_and(|n| rule.resource_names.iter().any(|x| x == n)))
}

/// Whether a rule allows `verb` on any resource of an ASO API group (`*.azure.com`).
fn allows_aso(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
        && rule.api_groups.iter().any(|g| g == "*" || g.to_ascii_lowercase().ends_with(".azure.com"))
        && !rule.resources.is_empty()
        && rule.resource_names.is_empty()
}

fn any_rule(rules: &[&PolicyRule], f: impl Fn(&PolicyRule) -> bool) -> bool {
    rules.iter().any(|r| f(r))
}

/// The names a rule restricts `verb` on `group/resource` to: `None` = all, `Some(names)` = only those.
fn allowed_names(rules: &[&PolicyRule], verb: &str, group: &str, resource: &str) -> Option<Option<BTreeSet<String>>> {
    let mut names = BTreeSet::new();
    let mut found = false;
    for r in rules {
        if allows(r, verb, group, resource, None) {
            return Some(None);
        }
        if !r.resource_names.is_empty() {
            for n in &r.resource_names {
                if allows(r, verb, group, resource, Some(n)) {
                    found = true;
                    names.insert(n.clone());
                }
            }
        }
    }
    found.then_some(Some(names))
}

fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    sel.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        && sel.match_expressions.iter().all(|e| {
            let v = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => v.is_some_and(|v| e.values.contains(v)),
                "NotIn" => v.is_none_or(|v| !e.values.contains(v)),
                "Exists" => v.is_some(),
                "DoesNotExist" => v.is_none(),
                _ => false,
            }
        })
}

/// ClusterRole rules with aggregation resolved (transitively), plus Kubernetes' default roles when a dump
/// lacks them.
pub(crate) fn cluster_role_rules(kc: &KubeCluster) -> FxHashMap<String, Vec<PolicyRule>> {
    let mut rules: FxHashMap<String, Vec<PolicyRule>> =
        kc.cluster_roles.iter().map(|r| (r.metadata.name.clone(), r.rules.clone())).collect();
    let aggregated: Vec<&Role> = kc.cluster_roles.iter().filter(|r| r.aggregation_rule.is_some()).collect();
    for _ in 0..8 {
        let mut changed = false;
        for agg in &aggregated {
            let selectors = &agg.aggregation_rule.as_ref().expect("filtered").cluster_role_selectors;
            let mut merged = rules.get(&agg.metadata.name).cloned().unwrap_or_default();
            for r in &kc.cluster_roles {
                if r.metadata.name != agg.metadata.name
                    && selectors.iter().any(|s| selector_matches(s, &r.metadata.labels))
                {
                    for rule in rules.get(&r.metadata.name).cloned().unwrap_or_default() {
                        if !merged.contains(&rule) {
                            merged.push(rule);
                            changed = true;
                        }
                    }
                }
            }
            rules.insert(agg.metadata.name.clone(), merged);
        }
        if !changed {
            break;
        }
    }
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: groups.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let write = ["create", "update", "patch", "delete", "get", "list", "watch"];
    let edit = vec![
        rule(
            &["", "apps", "batch"],
            &[
                "pods",
                "deployments",
                "replicasets",
                "statefulsets",
                "daemonsets",
                "jobs",
                "cronjobs",
                "secrets",
                "configmaps",
                "services",
            ],
            &write,
        ),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
    ];
    rules.entry("cluster-admin".into()).or_insert_with(|| vec![rule(&["*"], &["*"], &["*"])]);
    rules.entry("admin".into()).or_insert_with(|| edit.clone());
    rules.entry("edit".into()).or_insert_with(|| edit);
    rules.entry("view".into()).or_insert_with(|| {
        vec![rule(
            &["", "apps", "batch"],
            &["pods", "deployments", "configmaps", "services"],
            &["get", "list", "watch"],
        )]
    });
    rules
}

/// ASO as installed in one cluster (also read by the posture checks).
pub(crate) struct Aso {
    pub(crate) namespace: String,
    pub(crate) service_account: String,
    /// Watched namespaces (`None` = all).
    pub(crate) targets: Option<BTreeSet<String>>,
    pub(crate) strict: bool,
    /// `AZURE_WORKLOAD_IDENTITY_AUTH_MODE` as set (unset means relaxed).
    pub(crate) auth_mode: Option<String>,
    /// `AZURE_OPERATOR_MODE` as set (`watchers`/`webhooks` in a multitenant install).
    pub(crate) operator_mode: Option<String>,
    /// The operator's Deployment, when collected.
    pub(crate) deployment: Option<String>,
    /// Capabilities usable through ASO, from the CRDs installed (`None` = CRDs unknown).
    pub(crate) mask: Option<Caps>,
}

pub(crate) fn find_aso(kc: &KubeCluster) -> Option<Aso> {
    let dep = kc.deployments.iter().find(|d| {
        d.metadata.name.contains("azureserviceoperator") || d.images.iter().any(|i| i.contains("azureserviceoperator"))
    });
    let settings = kc.secrets.iter().find(|s| s.metadata.name == ASO_SETTINGS);
    if dep.is_none() && settings.is_none() {
        return None;
    }
    let namespace = dep
        .and_then(|d| d.metadata.namespace.clone())
        .or_else(|| settings.and_then(|s| s.metadata.namespace.clone()))
        .unwrap_or_else(|| "azureserviceoperator-system".into());
    let service_account =
        dep.and_then(|d| d.service_account_name.clone()).unwrap_or_else(|| "azureserviceoperator-default".into());
    let setting = |k: &str| {
        settings
            .and_then(|s| s.values.get(k).cloned())
            .or_else(|| dep.and_then(|d| d.env.iter().find(|e| e.name == k).and_then(|e| e.value.clone())))
    };
    let targets = setting("AZURE_TARGET_NAMESPACES")
        .map(|t| t.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect::<BTreeSet<_>>())
        .filter(|t| !t.is_empty());
    let auth_mode = setting("AZURE_WORKLOAD_IDENTITY_AUTH_MODE");
    let strict = auth_mode.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("strict"));
    let aso_crds: Vec<_> = kc.crds.iter().filter(|c| c.group.to_ascii_lowercase().ends_with(".azure.com")).collect();
    let mask = (!kc.crds.is_empty()).then(|| {
        let has =
            |group: &str, kind: &str| aso_crds.iter().any(|c| c.group.eq_ignore_ascii_case(group) && c.kind == kind);
        let mut m = Caps::EMPTY;
        if !aso_crds.is_empty() {
            m |= Capability::WriteEverything.bit() | Capability::WriteAksCluster.bit();
        }
        if has("authorization.azure.com", "RoleAssignment") {
            m |= Capability::AssignRoles.bit() | Capability::AssignRolesLimited.bit();
        }
        if has("managedidentity.azure.com", "FederatedIdentityCredential") {
            m |= Capability::WriteFederatedCredential.bit();
        }
        if has("authorization.azure.com", "RoleDefinition") {
            m |= Capability::WriteRoleDefinitions.bit();
        }
        m
    });
    let operator_mode = setting("AZURE_OPERATOR_MODE");
    let deployment = dep.map(|d| d.metadata.name.clone());
    Some(Aso { namespace, service_account, targets, strict, auth_mode, operator_mode, deployment, mask })
}

/// Whether a Secret looks like an ASO credential: names a client id.
fn credential_client_id(secret: &SecretMeta) -> Option<String> {
    secret.values.get("AZURE_CLIENT_ID").map(|c| c.trim().to_ascii_lowercase())
}

pub(crate) fn holds_client_secret(secret: &SecretMeta) -> bool {
    secret.keys.iter().any(|k| k == "AZURE_CLIENT_SECRET" || k == "AZURE_CLIENT_CERTIFICATE")
}

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
    pub(crate) fn add_kubernetes(&mut self, s: &Snapshot, idx: &IdentityIndex) {
        let upn: FxHashMap<String, NodeIndex> = s
            .entra
            .users
            .iter()
            .filter_map(|u| {
                Some((u.user_principal_name.as_ref()?.to_ascii_lowercase(), self.lookup(&NodeKey::of(&u.id))?))
            })
            .collect();
        for kc in &s.kubernetes {
            let cluster = if kc.cluster.trim_start().starts_with('/') {
                scope::normalize(&kc.cluster)
            } else {
                match idx.cluster_by_name.get(&kc.cluster.to_ascii_lowercase()) {
                    Some(Some(id)) => id.clone(),
                    _ => format!("k8s:{}", kc.cluster.to_ascii_lowercase()),
                }
            };
            self.add_cluster(kc, &cluster, idx, &upn);
        }
        self.add_pod_identity_addons(s, idx);
    }

    fn add_cluster(
        &mut self,
        kc: &KubeCluster,
        cluster: &str,
        idx: &IdentityIndex,
        upn: &FxHashMap<String, NodeIndex>,
    ) {
        let cname = cluster.rsplit('/').next().unwrap_or(cluster).trim_start_matches("k8s:").to_string();
        let admin = match idx.admin.get(cluster) {
            Some(a) => *a,
            None => {
                let a = self.node_for(kube_key(cluster, "cluster-admin"), NodeKind::KubeClusterAdmin, "");
                self.set_name(a, format!("cluster-admin of {cname}"));
                a
            }
        };
        let note =
            |evidence: Vec<String>, detail: String, label: &str| EdgeNote { evidence, detail, label: label.into() };

        // Namespaces and their service accounts.
        let mut namespaces: BTreeSet<String> = kc.namespaces.iter().map(|n| n.metadata.name.clone()).collect();
        namespaces.extend(kc.service_accounts.iter().filter_map(|s| s.metadata.namespace.clone()));
        let mut sas: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for sa in &kc.service_accounts {
            if let Some(ns) = &sa.metadata.namespace {
                sas.entry(ns.clone()).or_default().push(sa.metadata.name.clone());
            }
        }
        let mut ns_nodes: BTreeMap<String, NodeIndex> = BTreeMap::new();
        for ns in &namespaces {
            let n = self.node_for(kube_key(cluster, &format!("namespaces/{ns}")), NodeKind::KubeNamespace, "");
            self.set_name(n, format!("{cname}/{ns}"));
            ns_nodes.insert(ns.clone(), n);
            self.add_noted_edge(
                admin,
                n,
                EdgeKind::CanCreateWorkloads,
                Caps::EMPTY,
                0,
                note(vec![cluster.to_string()], format!("cluster-admin can run pods in {ns}"), "runs pods"),
            );
            for sa in sas.get(ns).into_iter().flatten() {
                let sa_node = self.sa_node(cluster, ns, sa);
                self.add_noted_edge(
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
                self.add_noted_edge(
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

        // ASO: which identity acts in each watched namespace.
        let aso = find_aso(kc);
        let mut aso_nodes: BTreeMap<String, NodeIndex> = BTreeMap::new();
        let mut forge_hub: Option<NodeIndex> = None;
        if let Some(aso) = &aso {
            let aso_subject = format!("system:serviceaccount:{}:{}", aso.namespace, aso.service_account);
            let trusted_by = |identity: NodeIndex, subject: &str| {
                idx.trusts.get(&identity).is_some_and(|t| t.iter().any(|(c, s)| c == cluster && s == subject))
            };
            let mut forgeable: Vec<NodeIndex> = idx
                .trusts
                .iter()
                .filter(|(_, t)| t.iter().any(|(c, s)| c == cluster && *s == aso_subject))
                .map(|(i, _)| *i)
                .collect();
            forgeable.sort();
            // One hub for them, so forging costs subjects + identities edges, not their product.
            if !forgeable.is_empty() && !aso.strict {
                let hub = self.node_for(kube_key(cluster, "aso-federated"), NodeKind::KubeAsoForgeable, "");
                self.set_name(hub, format!("identities federated to ASO in {cname}"));
                for &identity in &forgeable {
                    let ident = self.graph[identity].name.to_string();
                    self.add_noted_edge(
                        hub,
                        identity,
                        EdgeKind::AsoCredentialForging,
                        Caps::EMPTY,
                        0,
                        note(
                            vec![format!("subject={aso_subject}"), format!("{cluster} OIDC issuer")],
                            format!("{ident} has a federated credential for ASO's service account ({aso_subject}) on this cluster's issuer"),
                            "federated to ASO",
                        ),
                    );
                }
                forge_hub = Some(hub);
            }
            let global = kc.secrets.iter().find(|s| s.metadata.name == ASO_SETTINGS);
            for ns in &namespaces {
                if aso.targets.as_ref().is_some_and(|t| !t.contains(ns)) {
                    continue;
                }
                let n =
                    self.node_for(kube_key(cluster, &format!("namespaces/{ns}/aso")), NodeKind::KubeAsoNamespace, "");
                self.set_name(n, format!("ASO in {cname}/{ns}"));
                aso_nodes.insert(ns.clone(), n);
                let owned = owned_resource_groups(kc, ns);
                if !owned.is_empty() {
                    self.g.aso_owned_resource_groups.insert(n, owned);
                }
                self.add_noted_edge(
                    admin,
                    n,
                    EdgeKind::CanUseAso,
                    Caps::EMPTY,
                    0,
                    note(
                        vec![cluster.to_string()],
                        format!("cluster-admin can create ASO resources in {ns}"),
                        "creates ASO resources",
                    ),
                );
                // Any credential-like secret of the namespace can be named by a resource's
                // `serviceoperator.azure.com/credential-from` annotation; without an `aso-credential`,
                // the namespace credential, else the global one.
                let mut creds: Vec<&SecretMeta> = kc
                    .secrets
                    .iter()
                    .filter(|s| s.metadata.namespace.as_deref() == Some(ns) && credential_client_id(s).is_some())
                    .collect();
                if !creds.iter().any(|s| s.metadata.name == ASO_CREDENTIAL) {
                    creds.extend(global.filter(|g| credential_client_id(g).is_some()));
                }
                for secret in creds {
                    let Some(client) = credential_client_id(secret) else { continue };
                    let Some(&identity) = idx.by_client_id.get(&client) else { continue };
                    let secret_ns = secret.metadata.namespace.clone().unwrap_or_default();
                    let how = if secret.metadata.name == ASO_SETTINGS {
                        "the global credential (aso-controller-settings)"
                    } else if secret.metadata.name == ASO_CREDENTIAL {
                        "the namespace credential (aso-credential)"
                    } else {
                        "a per-resource credential (serviceoperator.azure.com/credential-from)"
                    };
                    let (valid, conditional) = if holds_client_secret(secret) {
                        (true, false)
                    } else {
                        let subject = if aso.strict && secret.metadata.name != ASO_SETTINGS {
                            format!("system:serviceaccount:{ns}:aso-workload")
                        } else {
                            aso_subject.clone()
                        };
                        if trusted_by(identity, &subject) {
                            (true, false)
                        } else {
                            // Without federated-credential data, assume ASO can use it but say so.
                            (!idx.federation_known.contains(&identity), true)
                        }
                    };
                    if !valid {
                        continue;
                    }
                    let mask = aso.mask.unwrap_or(Caps::EMPTY);
                    let flags = if conditional || aso.mask.is_none() { CONDITIONAL } else { 0 };
                    let ident = self.graph[identity].name.to_string();
                    self.add_noted_edge(
                        n,
                        identity,
                        EdgeKind::AsoActsAs,
                        mask,
                        flags,
                        note(
                            vec![
                                format!("{secret_ns}/secrets/{}", secret.metadata.name),
                                format!("AZURE_CLIENT_ID={client}"),
                            ],
                            format!(
                                "ASO acts in {ns} as {ident} through {how}{}",
                                if holds_client_secret(secret) { ", a client secret" } else { "" }
                            ),
                            "ASO credential",
                        ),
                    );
                }
            }
        }

        // Azure RBAC for Kubernetes: data actions of Azure role assignments at the cluster (or above) apply to
        // every namespace, at `<cluster>/namespaces/<ns>` to that namespace; unioned with in-cluster RBAC.
        if idx.azure_rbac.contains(cluster) {
            if let Some(cluster_node) = self.lookup(&NodeKey::Path(cluster.into())) {
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
                for scope in self.scope_chain(cluster_node) {
                    collect(self, scope, None);
                }
                for ns in &namespaces {
                    if let Some(n) =
                        self.lookup(&NodeKey::Path(format!("{cluster}/namespaces/{ns}").to_ascii_lowercase().into()))
                    {
                        collect(self, n, Some(ns.clone()));
                    }
                }
                for (principal, grant, flags, only_ns) in grants {
                    let g = &self.grants[grant];
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
                        self.add_noted_edge(
                            principal,
                            admin,
                            EdgeKind::CanEscalate,
                            Caps::EMPTY,
                            flags,
                            mk("allows writing cluster role bindings".into()),
                        );
                    }
                    for ns in namespaces.iter().filter(|n| only_ns.as_ref().is_none_or(|o| o == *n)) {
                        if bits & KubeData::CREATE_WORKLOADS != 0 {
                            if let Some(&n) = ns_nodes.get(ns) {
                                self.add_noted_edge(
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
                            if let Some(&n) = aso_nodes.get(ns) {
                                self.add_noted_edge(
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

        // Secrets that hold an application's client secret.
        let mut secret_apps: BTreeMap<String, Vec<(NodeIndex, String)>> = BTreeMap::new();
        for secret in kc.secrets.iter().filter(|s| holds_client_secret(s)) {
            if let (Some(client), Some(ns)) = (credential_client_id(secret), secret.metadata.namespace.clone()) {
                if let Some(&app) = idx.by_client_id.get(&client) {
                    secret_apps.entry(ns).or_default().push((app, secret.metadata.name.clone()));
                }
            }
        }

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
                self.pod_identity_target(idx, ai.resource_id.as_deref(), ai.client_id.as_deref(), None, "")
            } else {
                ai.client_id.as_deref().and_then(|c| idx.by_client_id.get(&c.trim().to_ascii_lowercase()).copied())
            };
            let Some(target) = target else { continue };
            let ident = self.graph[target].name.to_string();
            let own = ai.metadata.annotations.get(POD_IDENTITY_BEHAVIOR).is_some_and(|v| v == "namespaced");
            let (from, scope_why): (Vec<&String>, String) = if own {
                (
                    namespaces.iter().filter(|n| n.as_str() == bns).collect(),
                    format!("namespaced: the AzureIdentity is annotated {POD_IDENTITY_BEHAVIOR}: namespaced"),
                )
            } else if let Some(why) = &mode.namespaced {
                (namespaces.iter().filter(|n| n.as_str() == bns).collect(), format!("namespaced: {why}"))
            } else {
                (namespaces.iter().collect(), mode.not_namespaced.clone())
            };
            let kind = match ai.identity_type {
                0 => "managed identity",
                1 => "service principal, client secret",
                _ => "service principal, certificate",
            };
            for ns in from {
                let Some(&n) = ns_nodes.get(ns) else { continue };
                if !pod_identity_seen.insert((n, target)) {
                    continue;
                }
                self.add_noted_edge(
                    n,
                    target,
                    EdgeKind::PodManagedIdentity,
                    Caps::EMPTY,
                    0,
                    note(
                        vec![
                            format!("{bns}/azureidentitybindings/{}", b.metadata.name),
                            format!("{bns}/azureidentities/{}", ai.metadata.name),
                            format!("aadpodidbinding={}", b.selector),
                        ],
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
                let list = secret_apps.entry(sns).or_default();
                if !list.iter().any(|(a, n)| *a == target && *n == r.name) {
                    list.push((target, r.name.clone()));
                }
            }
        }

        // Legacy token Secrets: reading one reads its service account's token.
        let mut sa_tokens: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
        for secret in kc.secrets.iter().filter(|s| s.secret_type.as_deref() == Some(SA_TOKEN_TYPE)) {
            let a = &secret.metadata.annotations;
            let (Some(ns), Some(sa)) =
                (&secret.metadata.namespace, a.get(SA_NAME_ANNOTATION).filter(|n| !n.is_empty()))
            else {
                continue;
            };
            let uid = a.get(SA_UID_ANNOTATION).cloned().unwrap_or_default();
            sa_tokens.entry(ns.clone()).or_default().push((secret.metadata.name.clone(), sa.clone(), uid));
        }

        // Node breakout: where Pod Security `baseline` is not enforced, a pod creator runs a privileged
        // (hostPath, hostPID) pod pinned to any node (nodeName, tolerations) and reads the service-account
        // tokens mounted there: those of every running workload.
        let mut mounted: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let workloads =
            kc.deployments.iter().map(|d| ("deployments", d)).chain(kc.daemon_sets.iter().map(|d| ("daemonsets", d)));
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
        let enforce: BTreeMap<&str, Option<&str>> = kc
            .namespaces
            .iter()
            .map(|n| (n.metadata.name.as_str(), n.metadata.labels.get(PSS_ENFORCE).map(String::as_str)))
            .collect();
        // One hub per cluster (its nodes), so breakout costs namespaces + workloads edges, not their product.
        let nodes = (!mounted.is_empty()).then(|| {
            let hub = self.node_for(kube_key(cluster, "nodes"), NodeKind::KubeNodes, "");
            self.set_name(hub, format!("nodes of {cname}"));
            for ((sa_ns, sa), by) in &mounted {
                let to = self.sa_node(cluster, sa_ns, sa);
                let more = if by.len() > 3 { format!(" and {} more", by.len() - 3) } else { String::new() };
                let shown = by.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                self.add_noted_edge(
                    hub,
                    to,
                    EdgeKind::NodeBreakout,
                    Caps::EMPTY,
                    0,
                    note(
                        by.iter().take(3).cloned().collect(),
                        format!("the token of {sa_ns}/{sa} is mounted on the nodes running {shown}{more}"),
                        "token on node",
                    ),
                );
            }
            hub
        });
        for (ns, &n) in &ns_nodes {
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
            self.add_noted_edge(
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

        // RBAC: for each binding, what its subjects can do.
        let cluster_rules = cluster_role_rules(kc);
        let entra = idx.entra_integrated.contains(cluster);
        let bindings =
            kc.role_bindings.iter().map(|b| (b, true)).chain(kc.cluster_role_bindings.iter().map(|b| (b, false)));
        for (b, namespaced) in bindings {
            let ns_scope = if namespaced { b.metadata.namespace.clone() } else { None };
            let rules: Vec<PolicyRule> = if b.role_ref.kind == "Role" {
                kc.roles
                    .iter()
                    .find(|r| r.metadata.name == b.role_ref.name && r.metadata.namespace == ns_scope)
                    .map(|r| r.rules.clone())
                    .unwrap_or_default()
            } else {
                cluster_rules.get(&b.role_ref.name).cloned().unwrap_or_default()
            };
            if rules.is_empty() {
                continue;
            }
            let rules: Vec<&PolicyRule> = rules.iter().collect();
            let kind = if namespaced { "RoleBinding" } else { "ClusterRoleBinding" };
            let where_ = ns_scope.as_ref().map(|n| format!("{n}/")).unwrap_or_default();
            let evidence =
                vec![format!("{kind} {where_}{}", b.metadata.name), format!("{} {}", b.role_ref.kind, b.role_ref.name)];
            let in_namespaces: Vec<String> = match &ns_scope {
                Some(n) => vec![n.clone()],
                None => namespaces.iter().cloned().collect(),
            };
            self.add_identity_binding_edges(cluster, b, ns_scope.as_deref(), &rules, &sas, idx);
            for subject in &b.subjects {
                let Some(who) = self.subject_node(cluster, &cname, subject, entra, upn) else { continue };
                let label = format!("{} {}", subject.kind, subject.name);
                let edge = |g: &mut Builder, to: NodeIndex, kind: EdgeKind, what: String, short: &str| {
                    g.add_noted_edge(
                        who,
                        to,
                        kind,
                        Caps::EMPTY,
                        0,
                        note(
                            evidence.clone(),
                            format!(
                                "{label} {what} ({kind_b} {where_}{name})",
                                kind_b = kind_name(namespaced),
                                name = b.metadata.name
                            ),
                            short,
                        ),
                    );
                };
                // Cluster-wide escalation.
                let everything = any_rule(&rules, |r| allows(r, "*", "*", "*", None));
                let bind = any_rule(&rules, |r| {
                    ["bind", "escalate"]
                        .iter()
                        .any(|v| allows(r, v, RBAC, "clusterroles", None) || allows(r, v, RBAC, "roles", None))
                });
                let impersonate_any = any_rule(&rules, |r| {
                    allows(r, "impersonate", "", "users", None) || allows(r, "impersonate", "", "groups", None)
                });
                if ns_scope.is_none() && (everything || bind || impersonate_any) {
                    let why = if everything {
                        "may do anything in the cluster"
                    } else if bind {
                        "may bind or escalate cluster roles (can grant itself cluster-admin)"
                    } else {
                        "may impersonate any user or group (system:masters included)"
                    };
                    let k = if impersonate_any && !everything && !bind {
                        EdgeKind::CanImpersonate
                    } else {
                        EdgeKind::CanEscalate
                    };
                    edge(self, admin, k, why.to_string(), "cluster-admin");
                }
                for ns in &in_namespaces {
                    let Some(&ns_node) = ns_nodes.get(ns) else { continue };
                    let ns_bind = ns_scope.is_some() && bind;
                    let create = ns_bind
                        || WORKLOAD_RESOURCES
                            .iter()
                            .any(|(g, r)| any_rule(&rules, |x| allows(x, "create", g, r, None)))
                        || WORKLOAD_RESOURCES[1..].iter().any(|(g, r)| {
                            any_rule(&rules, |x| allows(x, "patch", g, r, None) || allows(x, "update", g, r, None))
                        });
                    if create {
                        edge(
                            self,
                            ns_node,
                            EdgeKind::CanCreateWorkloads,
                            format!("can create pods or workloads in {ns}"),
                            "runs pods",
                        );
                    }
                    // Service-account powers, honouring resourceNames.
                    let sa_powers = [
                        (
                            "create",
                            "serviceaccounts/token",
                            EdgeKind::CanMintToken,
                            "can create tokens for",
                            "mints token",
                        ),
                        ("impersonate", "serviceaccounts", EdgeKind::CanImpersonate, "can impersonate", "impersonates"),
                    ];
                    for (verb, resource, kind, phrase, label) in sa_powers {
                        let Some(names) = allowed_names(&rules, verb, "", resource) else { continue };
                        let allowed = |sa: &&String| names.as_ref().is_none_or(|n| n.contains(*sa));
                        for sa in sas.get(ns).into_iter().flatten().filter(allowed) {
                            let to = self.sa_node(cluster, ns, sa);
                            edge(self, to, kind, format!("{phrase} {ns}/{sa}"), label);
                        }
                    }
                    let read = if ns_bind { Some(None) } else { readable_secrets(&rules) };
                    if let Some(names) = &read {
                        for (app, secret) in secret_apps.get(ns).into_iter().flatten() {
                            if names.as_ref().is_none_or(|n| n.contains(secret)) {
                                edge(
                                    self,
                                    *app,
                                    EdgeKind::CanReadSecrets,
                                    format!("can read secret {ns}/{secret}, which holds a client secret"),
                                    "reads secret",
                                );
                            }
                        }
                        for (secret, sa, uid) in sa_tokens.get(ns).into_iter().flatten() {
                            if names.as_ref().is_none_or(|n| n.contains(secret)) {
                                let to = self.sa_node(cluster, ns, sa);
                                let uid = if uid.is_empty() { String::new() } else { format!(", uid {uid}") };
                                edge(
                                    self,
                                    to,
                                    EdgeKind::CanReadSecrets,
                                    format!("can read secret {ns}/{secret} ({SA_TOKEN_TYPE}), which holds a token of service account {ns}/{sa}{uid}"),
                                    "reads token Secret",
                                );
                            }
                        }
                        // A token Secret created naming an account is filled in by the token controller.
                        if ns_bind || any_rule(&rules, |r| allows(r, "create", "", "secrets", None)) {
                            for sa in sas.get(ns).into_iter().flatten() {
                                let to = self.sa_node(cluster, ns, sa);
                                edge(
                                    self,
                                    to,
                                    EdgeKind::CanMintToken,
                                    format!("can create a {SA_TOKEN_TYPE} Secret naming {ns}/{sa}, which the token controller fills with its token, and read it"),
                                    "mints token Secret",
                                );
                            }
                        }
                    }
                    let aso_ok =
                        ns_bind || ["create", "update", "patch"].iter().any(|v| any_rule(&rules, |r| allows_aso(r, v)));
                    if let (true, Some(&aso_node)) = (aso_ok, aso_nodes.get(ns)) {
                        edge(
                            self,
                            aso_node,
                            EdgeKind::CanUseAso,
                            format!("can create or change ASO resources in {ns}"),
                            "creates ASO resources",
                        );
                        let secrets_ok = ns_bind || any_rule(&rules, |r| allows(r, "create", "", "secrets", None));
                        if let (true, Some(hub)) = (secrets_ok, forge_hub) {
                            edge(
                                self,
                                hub,
                                EdgeKind::AsoCredentialForging,
                                format!("can create a Secret and an ASO resource in {ns}: a forged credential naming the client id of any identity federated to ASO's service account makes ASO (relaxed mode) act as it"),
                                "forges ASO credential",
                            );
                        }
                    }
                }
            }
        }
    }

    /// AKS identity bindings: the service accounts a binding's rules let `use-managed-identity` on
    /// `cid.wi.aks.azure.com/<client id>` act as each identity bound to the cluster. Only service-account tokens
    /// are exchanged, so users and other groups get nothing here.
    fn add_identity_binding_edges(
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
                        evidence: vec![m.binding_id.clone(), format!("{kind} {where_}{}", b.metadata.name)],
                        detail,
                        label: "identity binding".into(),
                    },
                );
            }
        }
    }

    fn sa_node(&mut self, cluster: &str, ns: &str, sa: &str) -> NodeIndex {
        self.node_for(
            kube_key(cluster, &format!("namespaces/{ns}/serviceaccounts/{sa}")),
            NodeKind::KubeServiceAccount,
            &format!("{ns}/{sa}"),
        )
    }

    /// The node of a binding subject; on Entra-integrated clusters, users and groups named by object id (or
    /// UPN) are joined to their directory node.
    fn subject_node(
        &mut self,
        cluster: &str,
        cname: &str,
        s: &crate::kube::Subject,
        entra: bool,
        upn: &FxHashMap<String, NodeIndex>,
    ) -> Option<NodeIndex> {
        let (kind, rest) = match s.kind.as_str() {
            "ServiceAccount" => {
                let ns = s.namespace.clone().unwrap_or_else(|| "default".into());
                return Some(self.sa_node(cluster, &ns, &s.name));
            }
            "User" => (NodeKind::KubeUser, format!("users/{}", s.name)),
            "Group" => (NodeKind::KubeGroup, format!("groups/{}", s.name)),
            _ => return None,
        };
        let node = self.node_for(kube_key(cluster, &rest), kind, &format!("{} {} in {cname}", s.kind, s.name));
        if entra {
            let directory = if is_guid(&s.name) {
                self.lookup(&NodeKey::of(&s.name))
            } else {
                upn.get(&s.name.to_ascii_lowercase()).copied()
            };
            if let Some(d) = directory {
                let already = self.graph.find_edge(d, node).is_some();
                if !already {
                    let name = self.graph[d].name.to_string();
                    // Named after the Entra object it signs in as, so a report says who it is.
                    self.set_name(node, format!("{name} (Kubernetes {} in {cname})", s.kind.to_ascii_lowercase()));
                    self.add_noted_edge(
                        d,
                        node,
                        EdgeKind::KubernetesIdentity,
                        Caps::EMPTY,
                        0,
                        EdgeNote {
                            evidence: vec![cluster.to_string(), s.name.clone()],
                            detail: format!("{name} signs in to {cname} through Entra ID as {} {}", s.kind, s.name),
                            label: "Entra sign-in".into(),
                        },
                    );
                }
            }
        }
        Some(node)
    }
}

/// Resource groups the ASO resources of a namespace own or are: `ResourceGroup` resources (in the
/// subscription of the namespace's credential) and raw `owner.armId`s.
fn owned_resource_groups(kc: &KubeCluster, ns: &str) -> Vec<String> {
    let sub = kc
        .secrets
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(ns) || s.metadata.name == ASO_SETTINGS)
        .find_map(|s| s.values.get("AZURE_SUBSCRIPTION_ID").cloned());
    let mut out = BTreeSet::new();
    for r in kc.aso_resources.iter().filter(|r| r.metadata.namespace.as_deref() == Some(ns)) {
        if r.kind == "ResourceGroup" {
            if let Some(sub) = &sub {
                let name = r.azure_name.clone().unwrap_or_else(|| r.metadata.name.clone());
                out.insert(scope::normalize(&format!("/subscriptions/{sub}/resourceGroups/{name}")));
            }
        }
        if let Some(arm) = r.owner.as_ref().and_then(|o| o.arm_id.as_deref()) {
            if let Some(rg) = scope::resource_group_of(&scope::normalize(arm)) {
                out.insert(rg.to_string());
            }
        }
    }
    out.into_iter().collect()
}

const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
const SA_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
const PSS_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
const POD_IDENTITY_BEHAVIOR: &str = "aadpodidentity.k8s.io/Behavior";

/// The Secrets `get`, `list` or `watch` (each returns values) reveal: `None` = none, `Some(None)` = all,
/// `Some(Some(names))` = only those.
fn readable_secrets(rules: &[&PolicyRule]) -> Option<Option<BTreeSet<String>>> {
    let mut out: Option<Option<BTreeSet<String>>> = None;
    for verb in ["get", "list", "watch"] {
        match (allowed_names(rules, verb, "", "secrets"), &mut out) {
            (None, _) => {}
            (Some(None), _) => return Some(None),
            (Some(Some(names)), Some(Some(acc))) => acc.extend(names),
            (Some(Some(names)), acc) => *acc = Some(Some(names)),
        }
    }
    out
}

/// Whether aad-pod-identity matches pods to identities of their own namespace only, and why (or why not).
struct PodIdentityMode {
    namespaced: Option<String>,
    not_namespaced: String,
}

/// Go's `strconv.ParseBool` true values.
fn go_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

fn pod_identity_mode(kc: &KubeCluster, addon: bool) -> PodIdentityMode {
    if addon {
        return PodIdentityMode {
            namespaced: Some("the AKS pod identity add-on runs NMI in managed mode, which matches only bindings and identities of the pod's own namespace".into()),
            not_namespaced: String::new(),
        };
    }
    let is = |w: &crate::kube::Deployment, part: &str| {
        let n = w.metadata.name.as_str();
        n == part
            || n.ends_with(&format!("-{part}"))
            || w.images.iter().any(|i| i.contains(&format!("aad-pod-identity/{part}")))
    };
    let all = || kc.daemon_sets.iter().chain(kc.deployments.iter());
    let components: Vec<&crate::kube::Deployment> = all().filter(|w| is(w, "nmi") || is(w, "mic")).collect();
    for w in &components {
        let id = format!("{}/{}", w.metadata.namespace.as_deref().unwrap_or(""), w.metadata.name);
        for a in &w.args {
            let flag = a.trim_start_matches('-');
            let (name, value) = flag.split_once('=').map_or((flag, None), |(n, v)| (n, Some(v)));
            if name == "forceNamespaced" && value.is_none_or(go_true) {
                return PodIdentityMode {
                    namespaced: Some(format!("{id} runs with {a}")),
                    not_namespaced: String::new(),
                };
            }
            if name == "operation-mode" && value == Some("managed") {
                return PodIdentityMode {
                    namespaced: Some(format!("{id} runs with {a}, which matches only the pod's own namespace")),
                    not_namespaced: String::new(),
                };
            }
        }
        if w.env.iter().any(|e| e.name == "FORCENAMESPACED" && e.value.as_deref() == Some("true")) {
            return PodIdentityMode {
                namespaced: Some(format!("{id} runs with FORCENAMESPACED=true")),
                not_namespaced: String::new(),
            };
        }
    }
    let not_namespaced = match components.first() {
        Some(w) => format!(
            "not namespaced: {}/{} runs without --forceNamespaced, so the binding serves pods of every namespace",
            w.metadata.namespace.as_deref().unwrap_or(""),
            w.metadata.name
        ),
        None => "not namespaced: NMI's settings were not collected (its DaemonSet is not in the dump), so aad-pod-identity's default is assumed: the binding serves pods of every namespace".into(),
    };
    PodIdentityMode { namespaced: None, not_namespaced }
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
    fn add_pod_identity_addons(&mut self, s: &Snapshot, idx: &IdentityIndex) {
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
                            format!("{} (podIdentityProfile.userAssignedIdentities: {ns}/{})", c.id, pi.name),
                            format!("aadpodidbinding={selector}"),
                            id.resource_id.clone().unwrap_or_default(),
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
                let labels: Vec<String> = ex.pod_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                for (target, pod_identity) in &identities {
                    let ident = self.graph[*target].name.to_string();
                    self.add_noted_edge(
                        n,
                        *target,
                        EdgeKind::PodManagedIdentity,
                        Caps::EMPTY,
                        0,
                        EdgeNote {
                            evidence: vec![
                                format!("{} (podIdentityProfile.userAssignedIdentityExceptions: {}/{})", c.id, ex.namespace, ex.name),
                                format!("podLabels {}", labels.join(",")),
                            ],
                            detail: format!(
                                "a pod in {} labelled {} is exempt from NMI and asks the instance metadata service directly, where {ident} (pod identity {pod_identity}, assigned to the node pools) answers",
                                ex.namespace,
                                labels.join(",")
                            ),
                            label: "NMI exception".into(),
                        },
                    );
                }
            }
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
                    evidence: vec![cluster.to_string()],
                    detail: format!("cluster-admin can run pods in {ns}"),
                    label: "runs pods".into(),
                },
            );
        }
        n
    }
}

fn kind_name(namespaced: bool) -> &'static str {
    if namespaced {
        "RoleBinding"
    } else {
        "ClusterRoleBinding"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: groups.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rule_matching_with_wildcards_subresources_and_names() {
        let r = rule(&[""], &["pods"], &["create"]);
        assert!(allows(&r, "create", "", "pods", None));
        assert!(!allows(&r, "get", "", "pods", None));
        assert!(!allows(&r, "create", "apps", "pods", None));
        let all = rule(&["*"], &["*"], &["*"]);
        assert!(allows(&all, "impersonate", "", "users", None));
        let sub = rule(&[""], &["serviceaccounts/*"], &["create"]);
        assert!(allows(&sub, "create", "", "serviceaccounts/token", None));
        let mut named = rule(&[""], &["secrets"], &["get"]);
        named.resource_names = vec!["a".into()];
        assert!(!allows(&named, "get", "", "secrets", None));
        assert!(allows(&named, "get", "", "secrets", Some("a")));
        assert_eq!(allowed_names(&[&named], "get", "", "secrets"), Some(Some(["a".to_string()].into())));
        assert_eq!(allowed_names(&[&r], "get", "", "secrets"), None);
    }

    #[test]
    fn aso_rules_need_an_azure_group() {
        assert!(allows_aso(&rule(&["resources.azure.com"], &["resourcegroups"], &["create"]), "create"));
        assert!(allows_aso(&rule(&["*"], &["*"], &["*"]), "create"));
        assert!(!allows_aso(&rule(&["apps"], &["deployments"], &["create"]), "create"));
        assert!(!allows_aso(&rule(&["resources.azure.com"], &["resourcegroups"], &["get", "list"]), "create"));
    }

    #[test]
    fn label_selectors() {
        let mut sel = LabelSelector::default();
        sel.match_labels.insert("rbac.example/aggregate-to-edit".into(), "true".into());
        let mut labels = BTreeMap::new();
        assert!(!selector_matches(&sel, &labels));
        labels.insert("rbac.example/aggregate-to-edit".into(), "true".into());
        assert!(selector_matches(&sel, &labels));
    }
}
