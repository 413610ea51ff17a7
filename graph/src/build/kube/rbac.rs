//! Kubernetes RBAC: for each binding, what its subjects can become (`CAN_CREATE_WORKLOADS`, `CAN_MINT_TOKEN`,
//! `CAN_READ_SECRETS`, `CAN_IMPERSONATE`, `CAN_ESCALATE`, `CAN_USE_ASO`, `ASO_CREDENTIAL_FORGING`), Entra
//! subjects joined to their directory identities (`KUBERNETES_IDENTITY`).

use petgraph::graph::NodeIndex;

use super::facts::*;
use super::{note, ClusterCtx};
use crate::build::Builder;
use crate::kube::PolicyRule;
use crate::model::EdgeKind;
use crate::rbac::Caps;

impl ClusterCtx<'_> {
    /// Every binding's edges.
    pub(super) fn rbac_edges(&mut self) {
        let (kc, idx, cluster, admin) = (self.kc, self.idx, self.cluster, self.admin);
        let cname = self.cname.clone();
        let upn = self.upn;
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
                None => self.namespaces.iter().cloned().collect(),
            };
            self.b.add_identity_binding_edges(cluster, b, ns_scope.as_deref(), &rules, &self.sas, idx);
            for subject in &b.subjects {
                let Some(who) = self.b.subject_node(cluster, &cname, subject, entra, upn) else { continue };
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
                    edge(self.b, admin, k, why.to_string(), "cluster-admin");
                }
                for ns in &in_namespaces {
                    let Some(&ns_node) = self.ns_nodes.get(ns) else { continue };
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
                            self.b,
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
                        for sa in self.sas.get(ns).into_iter().flatten().filter(allowed) {
                            let to = self.b.sa_node(cluster, ns, sa);
                            edge(self.b, to, kind, format!("{phrase} {ns}/{sa}"), label);
                        }
                    }
                    let read = if ns_bind { Some(None) } else { readable_secrets(&rules) };
                    if let Some(names) = &read {
                        for (app, secret) in self.secret_apps.get(ns).into_iter().flatten() {
                            if names.as_ref().is_none_or(|n| n.contains(secret)) {
                                edge(
                                    self.b,
                                    *app,
                                    EdgeKind::CanReadSecrets,
                                    format!("can read secret {ns}/{secret}, which holds a client secret"),
                                    "reads secret",
                                );
                            }
                        }
                        for (secret, sa, uid) in self.sa_tokens.get(ns).into_iter().flatten() {
                            if names.as_ref().is_none_or(|n| n.contains(secret)) {
                                let to = self.b.sa_node(cluster, ns, sa);
                                let uid = if uid.is_empty() { String::new() } else { format!(", uid {uid}") };
                                edge(
                                    self.b,
                                    to,
                                    EdgeKind::CanReadSecrets,
                                    format!("can read secret {ns}/{secret} ({SA_TOKEN_TYPE}), which holds a token of service account {ns}/{sa}{uid}"),
                                    "reads token Secret",
                                );
                            }
                        }
                        // A token Secret created naming an account is filled in by the token controller.
                        if ns_bind || any_rule(&rules, |r| allows(r, "create", "", "secrets", None)) {
                            for sa in self.sas.get(ns).into_iter().flatten() {
                                let to = self.b.sa_node(cluster, ns, sa);
                                edge(
                                    self.b,
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
                    if let (true, Some(&aso_node)) = (aso_ok, self.aso_nodes.get(ns)) {
                        edge(
                            self.b,
                            aso_node,
                            EdgeKind::CanUseAso,
                            format!("can create or change ASO resources in {ns}"),
                            "creates ASO resources",
                        );
                        let secrets_ok = ns_bind || any_rule(&rules, |r| allows(r, "create", "", "secrets", None));
                        if let (true, Some(hub)) = (secrets_ok, self.forge_hub) {
                            edge(
                                self.b,
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
}
