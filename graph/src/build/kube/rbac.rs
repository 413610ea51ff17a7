//! Kubernetes RBAC: for each binding, what its subjects can become (`CAN_CREATE_WORKLOADS`, `CAN_MINT_TOKEN`,
//! `CAN_READ_SECRETS`, `CAN_IMPERSONATE`, `CAN_ESCALATE`, `CAN_USE_ASO`, `ASO_CREDENTIAL_FORGING`), Entra
//! subjects joined to their directory identities (`KUBERNETES_IDENTITY`). What needs two permissions from
//! different bindings is added afterwards, on the union of every binding of a subject (`union.rs`).

use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap;

use super::facts::*;
use super::union::{BindingIndex, Bound, SubjectKey};
use super::{note, ClusterCtx};
use crate::build::Builder;
use crate::kube::{PolicyRule, RoleBinding};
use crate::model::EdgeKind;
use crate::rbac::Caps;
use crate::snapshot::Str;

/// One subject of one binding (or the holder of one Azure role assignment with Kubernetes data actions): the
/// node it acts from and how its edges are explained.
pub(super) struct Grantee {
    pub(super) who: NodeIndex,
    /// The binding and role (or the role assignment) the edges rest on: a fix reads the first.
    pub(super) evidence: Vec<Str>,
    /// `<subject kind> <subject name>`, the start of each edge's detail.
    pub(super) label: String,
    /// `(<binding kind> <namespace/>name)`, the end of each edge's detail.
    pub(super) binding: String,
    /// Edge flags (PIM-eligible or conditional, for an Azure role assignment).
    pub(super) flags: u8,
}

impl Grantee {
    fn edge(&self, b: &mut Builder, to: NodeIndex, kind: EdgeKind, what: String, short: &str) {
        let detail = format!("{} {what} {}", self.label, self.binding);
        b.add_noted_edge(self.who, to, kind, Caps::EMPTY, self.flags, note(self.evidence.clone(), detail, short));
    }
}

/// What rules allow, as the RBAC edges need it: one binding's, or the union of a subject's bindings.
pub(super) struct Powers<'r> {
    pub(super) rules: Vec<&'r PolicyRule>,
    /// The rules apply in one namespace only (a RoleBinding), rather than cluster-wide.
    pub(super) ns_scope: Option<String>,
    /// `bind`/`escalate` on roles or cluster roles.
    pub(super) bind: bool,
}

impl Powers<'_> {
    /// A RoleBinding that may bind or escalate can give itself anything in its namespace.
    pub(super) fn ns_bind(&self) -> bool {
        self.ns_scope.is_some() && self.bind
    }

    fn any(&self, f: impl Fn(&PolicyRule) -> bool) -> bool {
        any_rule(&self.rules, f)
    }

    pub(super) fn create_secrets(&self) -> bool {
        self.ns_bind() || self.any(|r| allows(r, "create", "", "secrets", None))
    }

    /// Create, update or patch on some ASO resource.
    pub(super) fn write_aso(&self) -> bool {
        self.ns_bind() || ["create", "update", "patch"].iter().any(|v| self.any(|r| allows_aso(r, v)))
    }

    /// The Secrets it may read: `None` = none, `Some(None)` = all, `Some(Some(names))` = only those.
    pub(super) fn readable_secrets(&self) -> Option<Option<std::collections::BTreeSet<String>>> {
        if self.ns_bind() {
            Some(None)
        } else {
            readable_secrets(&self.rules)
        }
    }
}

/// Whether rules allow `bind`/`escalate` on roles or cluster roles.
pub(super) fn binds(rules: &[&PolicyRule]) -> bool {
    any_rule(rules, |r| {
        ["bind", "escalate"]
            .iter()
            .any(|v| allows(r, v, RBAC, "clusterroles", None) || allows(r, v, RBAC, "roles", None))
    })
}

/// A cluster's Roles' rules by (name, namespace).
type RolesByKey<'k> = FxHashMap<(&'k str, Option<&'k str>), &'k Vec<PolicyRule>>;

impl ClusterCtx<'_> {
    /// Every binding's edges, those of Azure role assignments with Kubernetes data actions (Azure RBAC for
    /// Kubernetes), then what only the union of a subject's bindings and assignments allows.
    pub(super) fn rbac_edges(&mut self) {
        let kc = self.kc;
        let cluster_rules = cluster_role_rules(kc);
        // Each Role by (name, namespace), the first listed of two with one key (as a search of the list finds).
        let mut roles = RolesByKey::default();
        for r in &kc.roles {
            roles.entry((r.metadata.name.as_str(), r.metadata.namespace.as_deref())).or_insert(&r.rules);
        }
        let mut index = BindingIndex::default();
        let bindings =
            kc.role_bindings.iter().map(|b| (b, true)).chain(kc.cluster_role_bindings.iter().map(|b| (b, false)));
        for (b, namespaced) in bindings {
            self.binding_edges(b, namespaced, &cluster_rules, &roles, &mut index);
        }
        self.azure_rbac_edges(&mut index);
        self.union_edges(&index);
    }

    /// One binding: its identity-binding edges, then what each subject can do; recorded in `index`.
    fn binding_edges(
        &mut self,
        b: &RoleBinding,
        namespaced: bool,
        cluster_rules: &FxHashMap<String, Vec<PolicyRule>>,
        roles: &RolesByKey<'_>,
        index: &mut BindingIndex,
    ) {
        let (idx, cluster) = (self.idx, self.cluster);
        let ns_scope = if namespaced { b.metadata.namespace.clone() } else { None };
        let rules: Vec<PolicyRule> = if b.role_ref.kind == "Role" {
            roles.get(&(b.role_ref.name.as_str(), ns_scope.as_deref())).map(|r| (*r).clone()).unwrap_or_default()
        } else {
            cluster_rules.get(&b.role_ref.name).cloned().unwrap_or_default()
        };
        if rules.is_empty() {
            return;
        }
        let kind = kind_name(namespaced);
        let where_ = ns_scope.as_ref().map(|n| format!("{n}/")).unwrap_or_default();
        let bound = Bound {
            ns_scope: ns_scope.clone(),
            bind: binds(&rules.iter().collect::<Vec<_>>()),
            binding: format!("{kind} {where_}{}", b.metadata.name).into(),
            role: format!("{} {}", b.role_ref.kind, b.role_ref.name).into(),
            rules,
            flags: 0,
        };
        let rules: Vec<&PolicyRule> = bound.rules.iter().collect();
        let evidence = vec![bound.binding.clone(), bound.role.clone()];
        let in_namespaces: Vec<String> = match &ns_scope {
            Some(n) => vec![n.clone()],
            None => self.namespaces.iter().cloned().collect(),
        };
        self.b.add_identity_binding_edges(cluster, b, ns_scope.as_deref(), &rules, &self.sas, idx);
        let powers = Powers { rules, ns_scope: ns_scope.clone(), bind: bound.bind };
        let entra = idx.entra_integrated.contains(cluster);
        let mut keys = Vec::new();
        for subject in &b.subjects {
            let Some(key) = SubjectKey::of(subject, ns_scope.as_deref()) else { continue };
            let (who, directory) = self.b.subject_node(cluster, &self.cname, &key, entra, self.upn);
            index.subject(key.clone(), who, directory);
            keys.push(key);
            let grantee = Grantee {
                who,
                evidence: evidence.clone(),
                label: format!("{} {}", subject.kind, subject.name),
                binding: format!("({kind} {where_}{})", b.metadata.name),
                flags: 0,
            };
            self.cluster_wide(&grantee, &powers);
            for ns in &in_namespaces {
                self.namespace_powers(&grantee, &powers, ns);
            }
        }
        drop(powers);
        index.bind(bound, keys);
    }

    /// Cluster-wide escalation to cluster-admin (ClusterRoleBindings only).
    pub(super) fn cluster_wide(&mut self, g: &Grantee, p: &Powers) {
        let everything = p.any(|r| allows(r, "*", "*", "*", None));
        let impersonate_any =
            p.any(|r| allows(r, "impersonate", "", "users", None) || allows(r, "impersonate", "", "groups", None));
        if p.ns_scope.is_some() || !(everything || p.bind || impersonate_any) {
            return;
        }
        let why = if everything {
            "may do anything in the cluster"
        } else if p.bind {
            "may bind or escalate cluster roles (can grant itself cluster-admin)"
        } else {
            "may impersonate any user or group (system:masters included)"
        };
        let k =
            if impersonate_any && !everything && !p.bind { EdgeKind::CanImpersonate } else { EdgeKind::CanEscalate };
        g.edge(self.b, self.admin, k, why.to_string(), "cluster-admin");
    }

    /// What the subject can do in one namespace: run workloads, act as service accounts, read secrets, use ASO.
    pub(super) fn namespace_powers(&mut self, g: &Grantee, p: &Powers, ns: &str) {
        let Some(&ns_node) = self.ns_nodes.get(ns) else { return };
        let create = p.ns_bind()
            || WORKLOAD_RESOURCES.iter().any(|(gr, r)| p.any(|x| allows(x, "create", gr, r, None)))
            || WORKLOAD_RESOURCES[1..]
                .iter()
                .any(|(gr, r)| p.any(|x| allows(x, "patch", gr, r, None) || allows(x, "update", gr, r, None)));
        if create {
            let what = format!("can create pods or workloads in {ns}");
            g.edge(self.b, ns_node, EdgeKind::CanCreateWorkloads, what, "runs pods");
        }
        self.service_account_powers(g, p, ns);
        self.pod_powers(g, p, ns);
        self.secret_powers(g, p, ns);
        self.aso_powers(g, p, ns);
    }

    /// Service-account tokens and impersonation, honouring resourceNames.
    fn service_account_powers(&mut self, g: &Grantee, p: &Powers, ns: &str) {
        let sa_powers = [
            ("create", "serviceaccounts/token", EdgeKind::CanMintToken, "can create tokens for", "mints token"),
            ("impersonate", "serviceaccounts", EdgeKind::CanImpersonate, "can impersonate", "impersonates"),
        ];
        for (verb, resource, kind, phrase, label) in sa_powers {
            let Some(names) = allowed_names(&p.rules, verb, "", resource) else { continue };
            let allowed = |sa: &&String| names.as_ref().is_none_or(|n| n.contains(*sa));
            for sa in self.sas.get(ns).into_iter().flatten().filter(allowed) {
                let to = self.b.sa_node(self.cluster, ns, sa);
                g.edge(self.b, to, kind, format!("{phrase} {ns}/{sa}"), label);
            }
        }
    }

    /// Exec or attach into running pods (`create`, or `get` as websocket clients ask, on `pods/exec` or
    /// `pods/attach`), or patch them (a new image runs in the pod): act as the service accounts whose tokens
    /// those pods mount.
    fn pod_powers(&mut self, g: &Grantee, p: &Powers, ns: &str) {
        let into = |sub: &str| ["create", "get"].iter().any(|v| p.any(|r| allows(r, v, "", sub, None)));
        let how = if into("pods/exec") {
            "can exec into"
        } else if into("pods/attach") {
            "can attach to"
        } else if ["patch", "update"].iter().any(|v| p.any(|r| allows(r, v, "", "pods", None))) {
            "can change the image of"
        } else {
            return;
        };
        let running: Vec<(String, Vec<String>)> =
            self.mounted.iter().filter(|((n, _), _)| n == ns).map(|((_, sa), by)| (sa.clone(), by.clone())).collect();
        for (sa, by) in running {
            let to = self.b.sa_node(self.cluster, ns, &sa);
            let shown = by.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            let what = format!("{how} the running pods of {shown}, which mount the token of {ns}/{sa}");
            g.edge(self.b, to, EdgeKind::CanMintToken, what, "uses running pod");
        }
    }

    /// Readable Secrets that hold client secrets or service-account tokens, and token Secrets it can create
    /// and read back.
    fn secret_powers(&mut self, g: &Grantee, p: &Powers, ns: &str) {
        let read = p.readable_secrets();
        let Some(names) = &read else { return };
        let cluster = self.cluster;
        for (app, secret) in self.secret_apps.get(ns).into_iter().flatten() {
            if names.as_ref().is_none_or(|n| n.contains(secret)) {
                let what = format!("can read secret {ns}/{secret}, which holds a client secret");
                g.edge(self.b, *app, EdgeKind::CanReadSecrets, what, "reads secret");
            }
        }
        for (secret, sa, uid) in self.sa_tokens.get(ns).into_iter().flatten() {
            if names.as_ref().is_none_or(|n| n.contains(secret)) {
                let to = self.b.sa_node(cluster, ns, sa);
                let uid = if uid.is_empty() { String::new() } else { format!(", uid {uid}") };
                let what = format!("can read secret {ns}/{secret} ({SA_TOKEN_TYPE}), which holds a token of service account {ns}/{sa}{uid}");
                g.edge(self.b, to, EdgeKind::CanReadSecrets, what, "reads token Secret");
            }
        }
        if self.token_secret(p, ns) {
            let what = |sa: &str| {
                format!("can create a {SA_TOKEN_TYPE} Secret naming {ns}/{sa}, which the token controller fills with its token, and read it")
            };
            self.mint_token_secrets(ns, |b, to, sa| {
                g.edge(b, to, EdgeKind::CanMintToken, what(sa), "mints token Secret")
            });
        }
    }

    /// One edge per service account of `ns`, through `edge(builder, account node, account name)`.
    pub(super) fn mint_token_secrets(&mut self, ns: &str, mut edge: impl FnMut(&mut Builder, NodeIndex, &str)) {
        for sa in self.sas.get(ns).into_iter().flatten() {
            let to = self.b.sa_node(self.cluster, ns, sa);
            edge(self.b, to, sa);
        }
    }

    /// Whether `p` lets its holder create a token Secret in `ns` and read it back: create Secrets, and read
    /// either every Secret or one it may name that does not exist yet.
    pub(super) fn token_secret(&self, p: &Powers, ns: &str) -> bool {
        if !p.create_secrets() {
            return false;
        }
        match p.readable_secrets() {
            None => false,
            Some(None) => true,
            Some(Some(names)) => names.iter().any(|n| {
                !self.kc.secrets.iter().any(|s| s.metadata.namespace.as_deref() == Some(ns) && s.metadata.name == *n)
            }),
        }
    }

    /// Whether `p` lets its holder forge an ASO credential in `ns`: create a Secret and an ASO resource in a
    /// namespace ASO watches, in relaxed mode.
    pub(super) fn forges(&self, p: &Powers, ns: &str) -> bool {
        self.forge_hub.is_some() && self.aso_nodes.contains_key(ns) && p.create_secrets() && p.write_aso()
    }

    /// ASO resources in a watched namespace, and forging an ASO credential when Secrets can be created too.
    fn aso_powers(&mut self, g: &Grantee, p: &Powers, ns: &str) {
        let Some(&aso_node) = self.aso_nodes.get(ns).filter(|_| p.write_aso()) else { return };
        let what = format!("can create or change ASO resources in {ns}");
        g.edge(self.b, aso_node, EdgeKind::CanUseAso, what, "creates ASO resources");
        if let (true, Some(hub)) = (self.forges(p, ns), self.forge_hub) {
            let what = format!("can create a Secret and an ASO resource in {ns}: a forged credential naming the client id of any identity federated to ASO's service account makes ASO (relaxed mode) act as it");
            g.edge(self.b, hub, EdgeKind::AsoCredentialForging, what, "forges ASO credential");
        }
    }
}
