//! Kubernetes RBAC: subjects bound to cluster-admin, broad ClusterRoleBindings, and default service accounts
//! with powers or a federated Azure identity.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::aks::cluster_name;
use super::{finding_with, resource, Check};
use crate::findings::{PostureFinding, Remediation, ResourceRef};
use crate::kube::{KubeCluster, RoleBinding, Subject};
use crate::kube_dump::{resolve_cluster, ClusterMatch};
use crate::kube_graph::cluster_role_rules;
use crate::model::Severity;
use crate::scope;
use crate::shell::{self, Command, Malformed};
use crate::snapshot::Snapshot;

const RBAC_GOOD_PRACTICES: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";

/// ClusterRoleBinding to cluster-admin.
pub const K8S_CLUSTER_ADMIN: Check = Check {
    id: "AZP-K8S-001",
    title: "Subjects bound to cluster-admin",
    severity: Severity::High,
    description: "A ClusterRoleBinding grants cluster-admin (every verb on every resource in every namespace) to users, groups or service accounts other than Kubernetes' own system: identities. Bindings to system:authenticated, system:unauthenticated or system:serviceaccounts are critical.",
    remediation: "Remove the subjects from the binding (or delete it) and grant namespaced roles with the verbs and resources actually needed; keep break-glass admin in a JIT (PIM) group.",
    references: &[RBAC_GOOD_PRACTICES],
};

/// Broad ClusterRoleBinding.
pub const K8S_BROAD_BINDING: Check = Check {
    id: "AZP-K8S-002",
    title: "Broad ClusterRoleBinding",
    severity: Severity::Medium,
    description: "A ClusterRoleBinding (other than to cluster-admin) binds non-system subjects to a ClusterRole with a wildcard verb or resource, in every namespace: wildcards also cover Secrets, subresources and resources added later.",
    remediation: "Replace the wildcard rules with the resources and verbs needed, and prefer RoleBindings in the namespaces that need them.",
    references: &[RBAC_GOOD_PRACTICES],
};

/// Powers on the default service account.
pub const K8S_DEFAULT_SERVICE_ACCOUNT: Check = Check {
    id: "AZP-K8S-003",
    title: "Default service account has permissions or an Azure identity",
    severity: Severity::Medium,
    description: "A namespace's `default` service account is bound to a role, or an Azure identity is federated with it: every pod of the namespace that names no service account gets those powers. Give each application its own service account.",
    remediation: "Create a service account per workload, move the binding or federated credential to it, and leave `default` without permissions.",
    references: &[RBAC_GOOD_PRACTICES, "https://learn.microsoft.com/azure/aks/workload-identity-overview"],
};

/// Runs the in-cluster checks of every collected cluster (ASO's and aad-pod-identity's with them), then the
/// default service accounts' (bindings and federated credentials together).
pub(super) fn run(snapshot: &Snapshot, out: &mut Vec<PostureFinding>) {
    // Built once: a tenant may have thousands of clusters and directory objects.
    let issuers = cluster_issuers(snapshot);
    let issuer_of: FxHashMap<&str, &str> = issuers.iter().rev().map(|(c, i)| (c.as_str(), i.as_str())).collect();
    let names = entra_names(snapshot);
    let mut default_sa: BTreeMap<(String, String), DefaultSa> = BTreeMap::new();
    for kc in &snapshot.kubernetes {
        let c = KubeCtx::new(kc, snapshot, &issuer_of);
        super::aso::cluster(&c, out);
        super::aks::pod_identity_objects(&c, snapshot, out);
        cluster_bindings(&c, &names, out);
        default_sa_bindings(&c, &mut default_sa);
    }
    default_sa_federation(snapshot, &issuers, &mut default_sa);
    for ((_, _), d) in default_sa {
        out.push(d.finding());
    }
}

/// One collected cluster: its id as the graph keys it, a short name, and its OIDC issuer when known.
pub(super) struct KubeCtx<'a> {
    pub(super) kc: &'a KubeCluster,
    /// Lower-cased ARM id, or `k8s:<name>` when it matches no collected cluster.
    pub(super) id: String,
    pub(super) name: String,
    pub(super) issuer: Option<String>,
}

impl<'a> KubeCtx<'a> {
    fn new(kc: &'a KubeCluster, s: &Snapshot, issuers: &FxHashMap<&str, &str>) -> Self {
        // `attach` has already turned names it could match into ids; the graph keys clusters the same way.
        let id = if kc.cluster.trim_start().starts_with('/') {
            scope::normalize(&kc.cluster)
        } else {
            match resolve_cluster(&kc.cluster, &s.azure) {
                ClusterMatch::Found(id) => scope::normalize(&id),
                _ => format!("k8s:{}", kc.cluster.trim().to_ascii_lowercase()),
            }
        };
        // The AKS or Arc resource's `name` (the kubeconfig context `az aks get-credentials` writes), else the
        // name the dump gave.
        let arm_name = s
            .azure
            .managed_clusters
            .iter()
            .map(|c| (&c.id, &c.name))
            .chain(s.azure.connected_clusters.iter().map(|c| (&c.id, &c.name)))
            .find(|(cid, _)| scope::normalize(cid) == id)
            .map(|(_, n)| n.clone());
        let name = arm_name.filter(|n| !n.is_empty()).unwrap_or_else(|| cluster_name(&kc.cluster, ""));
        let issuer = issuers.get(id.as_str()).map(|i| i.to_string());
        KubeCtx { kc, id, name, issuer }
    }

    pub(super) fn object(&self, kind: &str, rest: &str, display: String) -> ResourceRef {
        resource(kind, format!("{}/k8s/{rest}", self.id), format!("{display} in {}", self.name))
    }

    /// `kubectl --context <cluster>`: AKS names a cluster's kubeconfig context after the cluster.
    pub(super) fn kubectl(&self) -> Command {
        shell::kubectl(&self.name)
    }
}

/// (normalized cluster id, OIDC issuer without trailing `/`) of every AKS and Arc cluster with one.
fn cluster_issuers(s: &Snapshot) -> Vec<(String, String)> {
    let norm = |u: &str| u.trim().trim_end_matches('/').to_string();
    let aks = s.azure.managed_clusters.iter().filter_map(|c| {
        let url = c.properties.oidc_issuer_profile.as_ref()?.issuer_url.as_deref()?;
        Some((scope::normalize(&c.id), norm(url)))
    });
    let arc = s.azure.connected_clusters.iter().flat_map(|c| {
        let o = c.properties.oidc_issuer_profile.as_ref();
        [o.and_then(|o| o.issuer_url.as_deref()), o.and_then(|o| o.self_hosted_issuer_url.as_deref())]
            .into_iter()
            .flatten()
            .map(|u| (scope::normalize(&c.id), norm(u)))
            .collect::<Vec<_>>()
    });
    aks.chain(arc).filter(|(_, u)| !u.is_empty()).collect()
}

/// Groups that contain users or workloads at large, not a system component: binding them is worse.
fn is_broad_group(s: &Subject) -> bool {
    let n = s.name.as_str();
    matches!(n, "system:authenticated" | "system:unauthenticated" | "system:anonymous" | "system:serviceaccounts")
        || n.starts_with("system:serviceaccounts:")
}

/// Kubernetes' own identities: `system:` users and groups (except the broad groups), and kube-system service
/// accounts bound by a Kubernetes default binding (`system:` name or the rbac-defaults label).
fn is_system_subject(b: &RoleBinding, s: &Subject) -> bool {
    match s.kind.as_str() {
        "User" | "Group" => s.name.starts_with("system:") && !is_broad_group(s),
        "ServiceAccount" => {
            s.namespace.as_deref() == Some("kube-system")
                && (b.metadata.name.starts_with("system:")
                    || b.metadata.labels.get("kubernetes.io/bootstrapping").is_some_and(|v| v == "rbac-defaults"))
        }
        _ => true,
    }
}

fn subject_text(s: &Subject, names: &FxHashMap<String, String>) -> String {
    let who = match (s.kind.as_str(), &s.namespace) {
        ("ServiceAccount", Some(ns)) => format!("{ns}/{}", s.name),
        _ => s.name.clone(),
    };
    match names.get(&s.name.to_ascii_lowercase()) {
        Some(display) => format!("{} {who} ({display})", s.kind),
        None => format!("{} {who}", s.kind),
    }
}

/// Display names of Entra users and groups by object id, to name binding subjects.
fn entra_names(s: &Snapshot) -> FxHashMap<String, String> {
    let users =
        s.entra.users.iter().map(|u| (u.id.as_str(), u.user_principal_name.as_deref().or(u.display_name.as_deref())));
    let groups = s.entra.groups.iter().map(|g| (g.id.as_str(), g.display_name.as_deref()));
    users.chain(groups).filter_map(|(id, n)| Some((id.to_ascii_lowercase(), n?.to_string()))).collect()
}

fn rule_text(r: &crate::kube::PolicyRule) -> String {
    let list = |v: &[String]| if v.is_empty() { "[]".to_string() } else { format!("[{}]", v.join(",")) };
    format!("apiGroups={} resources={} verbs={}", list(&r.api_groups), list(&r.resources), list(&r.verbs))
}

fn cluster_bindings(c: &KubeCtx, names: &FxHashMap<String, String>, out: &mut Vec<PostureFinding>) {
    let rules = cluster_role_rules(c.kc);
    for b in &c.kc.cluster_role_bindings {
        if b.role_ref.kind != "ClusterRole" {
            continue;
        }
        let subjects: Vec<&Subject> = b.subjects.iter().filter(|x| !is_system_subject(b, x)).collect();
        if subjects.is_empty() {
            continue;
        }
        let name = &b.metadata.name;
        let role = &b.role_ref.name;
        let mut evidence = vec![format!("ClusterRoleBinding {name} → ClusterRole {role}")];
        evidence.extend(subjects.iter().map(|x| format!("subject {}", subject_text(x, names))));
        // Deleting the binding is the cut unless system subjects share it.
        let whole = subjects.len() == b.subjects.len();
        let verb = if whole { "delete" } else { "edit" };
        let command = shell::rbac_name("ClusterRoleBinding name", name)
            .map(|name| c.kubectl().args([verb, "clusterrolebinding"]).arg(name));
        let who = subjects.iter().map(|x| subject_text(x, names)).collect::<Vec<_>>().join(", ");
        let res = c.object("ClusterRoleBinding", &format!("clusterrolebindings/{name}"), name.clone());
        let broad_group = subjects.iter().any(|x| is_broad_group(x));
        if role == "cluster-admin" {
            let mut f = finding_with(
                &K8S_CLUSTER_ADMIN,
                res,
                format!(
                    "{who} {} cluster-admin of {} through ClusterRoleBinding {name}",
                    if subjects.len() == 1 { "is" } else { "are" },
                    c.name
                ),
                evidence,
                shell::remediation(
                    if whole {
                        format!(
                            "Delete ClusterRoleBinding {name} and grant {who} namespaced roles with only what is needed"
                        )
                    } else {
                        format!("Remove {who} from ClusterRoleBinding {name} (keep its system subjects) and grant namespaced roles instead")
                    },
                    command,
                ),
            );
            if broad_group {
                f.severity = Severity::Critical;
            }
            out.push(f);
            continue;
        }
        let role_rules = rules.get(role).cloned().unwrap_or_default();
        let wild = |v: &[String]| v.iter().any(|x| x == "*");
        let broad: Vec<&crate::kube::PolicyRule> =
            role_rules.iter().filter(|r| !r.verbs.is_empty() && (wild(&r.verbs) || wild(&r.resources))).collect();
        if broad.is_empty() {
            continue;
        }
        let everything = broad.iter().any(|r| wild(&r.verbs) && wild(&r.resources) && wild(&r.api_groups));
        evidence.extend(broad.iter().map(|r| format!("rule {}", rule_text(r))));
        let mut f = finding_with(
            &K8S_BROAD_BINDING,
            res,
            format!(
                "{who} {} wildcard rights in every namespace of {} through ClusterRoleBinding {name} (ClusterRole {role}){}",
                if subjects.len() == 1 { "has" } else { "have" },
                c.name,
                if everything { ": equivalent to cluster-admin" } else { "" }
            ),
            evidence,
            shell::remediation(
                format!("Narrow ClusterRole {role} to the resources and verbs needed, or replace ClusterRoleBinding {name} with RoleBindings in the namespaces that need it"),
                command,
            ),
        );
        if everything || broad_group {
            f.severity = if everything && broad_group { Severity::Critical } else { Severity::High };
        }
        out.push(f);
    }
}

/// What makes one namespace's `default` service account powerful, gathered from bindings and federation.
struct DefaultSa {
    resource: ResourceRef,
    evidence: Vec<String>,
    /// The first fix found (a refused one included: its finding then says why it has no command).
    command: Option<Result<Command, Malformed>>,
    fixes: Vec<String>,
}

impl DefaultSa {
    fn finding(self) -> PostureFinding {
        let ns = self.resource.id.rsplit("/namespaces/").next().and_then(|r| r.split('/').next()).unwrap_or("");
        let summary = format!("Give the workloads of {ns} their own service accounts, move these grants to them, and leave `default` without permissions");
        finding_with(
            &K8S_DEFAULT_SERVICE_ACCOUNT,
            self.resource.clone(),
            format!(
                "Every pod in {ns} that names no service account runs as {} and gets: {}",
                self.resource.display_name,
                self.fixes.join("; ")
            ),
            self.evidence,
            match self.command {
                Some(command) => shell::remediation(summary, command),
                None => Remediation { summary, command: None },
            },
        )
    }
}

fn default_sa_entry<'m>(
    map: &'m mut BTreeMap<(String, String), DefaultSa>,
    cluster: &str,
    cluster_name: &str,
    ns: &str,
) -> &'m mut DefaultSa {
    map.entry((cluster.to_string(), ns.to_string())).or_insert_with(|| DefaultSa {
        resource: resource(
            "ServiceAccount",
            format!("{cluster}/k8s/namespaces/{ns}/serviceaccounts/default"),
            format!("{ns}/default in {cluster_name}"),
        ),
        evidence: Vec::new(),
        command: None,
        fixes: Vec::new(),
    })
}

fn default_sa_bindings(c: &KubeCtx, map: &mut BTreeMap<(String, String), DefaultSa>) {
    let bindings =
        c.kc.role_bindings.iter().map(|b| (b, true)).chain(c.kc.cluster_role_bindings.iter().map(|b| (b, false)));
    for (b, namespaced) in bindings {
        let bns = b.metadata.namespace.as_deref().unwrap_or("default");
        for s in b.subjects.iter().filter(|s| s.kind == "ServiceAccount" && s.name == "default") {
            let ns = s.namespace.as_deref().unwrap_or(if namespaced { bns } else { "default" });
            // Deleting the binding is the cut when `default` is its only subject.
            let verb = if b.subjects.len() == 1 { "delete" } else { "edit" };
            let name = &b.metadata.name;
            let (kind, what, command) = if namespaced {
                let command = shell::namespace(bns).and_then(|bns| {
                    let name = shell::rbac_name("RoleBinding name", name)?;
                    Ok(c.kubectl().opt("-n", bns).args([verb, "rolebinding"]).arg(name))
                });
                ("RoleBinding", format!("{bns}/{name}"), command)
            } else {
                let command = shell::rbac_name("ClusterRoleBinding name", name)
                    .map(|name| c.kubectl().args([verb, "clusterrolebinding"]).arg(name));
                ("ClusterRoleBinding", name.clone(), command)
            };
            let entry = default_sa_entry(map, &c.id, &c.name, ns);
            entry.evidence.push(format!("{kind} {what} → {} {}", b.role_ref.kind, b.role_ref.name));
            entry.fixes.push(format!("{} {} ({kind} {what})", b.role_ref.kind, b.role_ref.name));
            if entry.command.is_none() {
                entry.command = Some(command);
            }
        }
    }
}

/// Federated credentials (managed identities' and applications') trusting `system:serviceaccount:<ns>:default`
/// of a collected cluster's issuer.
fn default_sa_federation(s: &Snapshot, issuers: &[(String, String)], map: &mut BTreeMap<(String, String), DefaultSa>) {
    let names: FxHashMap<String, String> = s
        .azure
        .managed_clusters
        .iter()
        .map(|c| (scope::normalize(&c.id), cluster_name(&c.id, &c.name)))
        .chain(s.azure.connected_clusters.iter().map(|c| (scope::normalize(&c.id), cluster_name(&c.id, &c.name))))
        .collect();
    let apps: FxHashMap<String, (&str, String)> = s
        .entra
        .applications
        .iter()
        .map(|a| {
            (
                a.id.to_ascii_lowercase(),
                (a.app_id.as_deref().unwrap_or(a.id.as_str()), a.display_name.clone().unwrap_or_else(|| a.id.clone())),
            )
        })
        .collect();
    // (issuer, subject, what, evidence id, delete command)
    let mut creds: Vec<(&str, &str, String, String, Command)> = Vec::new();
    for f in &s.azure.federated_identity_credentials {
        let Some(at) = f.id.to_ascii_lowercase().find("/federatedidentitycredentials/") else { continue };
        let identity = &f.id[..at];
        let identity_name = identity.rsplit('/').next().unwrap_or(identity);
        let rg = identity.split('/').skip_while(|x| !x.eq_ignore_ascii_case("resourceGroups")).nth(1).unwrap_or("");
        creds.push((
            &f.properties.issuer,
            &f.properties.subject,
            format!("managed identity {identity_name}"),
            f.id.clone(),
            Command::new("az")
                .args(["identity", "federated-credential", "delete"])
                .opt("--name", &f.name)
                .opt("--identity-name", identity_name)
                .opt("--resource-group", rg)
                .args(["--yes"]),
        ));
    }
    for a in &s.entra.application_federated_credentials {
        let (app_id, app_name) = apps
            .get(&a.application_id.to_ascii_lowercase())
            .cloned()
            .unwrap_or((a.application_id.as_str(), a.application_id.clone()));
        for f in &a.credentials {
            creds.push((
                &f.issuer,
                &f.subject,
                format!("application {app_name}"),
                format!(
                    "application {} federated credential {}",
                    a.application_id,
                    if f.name.is_empty() { &f.id } else { &f.name }
                ),
                Command::new("az")
                    .args(["ad", "app", "federated-credential", "delete"])
                    .opt("--id", app_id)
                    .opt("--federated-credential-id", if f.id.is_empty() { &f.name } else { &f.id }),
            ));
        }
    }
    for (issuer, subject, what, evidence, command) in creds {
        let Some(ns) = subject.strip_prefix("system:serviceaccount:").and_then(|r| r.strip_suffix(":default")) else {
            continue;
        };
        let issuer = issuer.trim().trim_end_matches('/');
        for (cluster, _) in issuers.iter().filter(|(_, i)| i == issuer) {
            let cname = names.get(cluster).cloned().unwrap_or_else(|| cluster.clone());
            let entry = default_sa_entry(map, cluster, &cname, ns);
            entry.evidence.push(format!("federated credential {evidence} (issuer {issuer}, subject {subject})"));
            entry.fixes.push(format!("the Azure tokens of {what}"));
            if entry.command.is_none() {
                entry.command = Some(Ok(command.clone()));
            }
        }
    }
}
