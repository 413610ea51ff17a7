//! Azure Service Operator: the identity ASO acts as in each watched namespace (`ASO_ACTS_AS`, cluster-admin's
//! `CAN_USE_ASO`), and the hub of identities federated to ASO's own service account (`ASO_CREDENTIAL_FORGING`).

use petgraph::graph::NodeIndex;

use super::facts::*;
use super::{note, ClusterCtx};
use crate::build::kube_key;
use crate::graph::CONDITIONAL;
use crate::kube::SecretMeta;
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;

impl ClusterCtx<'_> {
    /// ASO namespaces, their credentials and the forging hub.
    pub(super) fn aso_edges(&mut self) {
        let (kc, idx, cluster, admin) = (self.kc, self.idx, self.cluster, self.admin);
        let cname = self.cname.clone();
        // ASO: which identity acts in each watched namespace.
        let aso = find_aso(kc);
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
                let hub = self.b.node_for(kube_key(cluster, "aso-federated"), NodeKind::KubeAsoForgeable, "");
                self.b.set_name(hub, format!("identities federated to ASO in {cname}"));
                for &identity in &forgeable {
                    let ident = self.b.graph[identity].name.to_string();
                    self.b.add_noted_edge(
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
                self.forge_hub = Some(hub);
            }
            let global = kc.secrets.iter().find(|s| s.metadata.name == ASO_SETTINGS);
            for ns in &self.namespaces {
                if aso.targets.as_ref().is_some_and(|t| !t.contains(ns)) {
                    continue;
                }
                let n =
                    self.b.node_for(kube_key(cluster, &format!("namespaces/{ns}/aso")), NodeKind::KubeAsoNamespace, "");
                self.b.set_name(n, format!("ASO in {cname}/{ns}"));
                self.aso_nodes.insert(ns.clone(), n);
                let owned = owned_resource_groups(kc, ns);
                if !owned.is_empty() {
                    self.b.g.aso_owned_resource_groups.insert(n, owned);
                }
                self.b.add_noted_edge(
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
                    let ident = self.b.graph[identity].name.to_string();
                    self.b.add_noted_edge(
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
    }
}
