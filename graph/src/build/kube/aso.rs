//! Azure Service Operator: the identity ASO acts as in each watched namespace (`ASO_ACTS_AS`, cluster-admin's
//! `CAN_USE_ASO`), and the hub of identities federated to ASO's own service account (`ASO_FORGEABLE_IDENTITY`; subjects reach the hub by
//! `ASO_CREDENTIAL_FORGING`).

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
        let Some(aso) = find_aso(self.kc) else { return };
        let aso_subject = format!("system:serviceaccount:{}:{}", aso.namespace, aso.service_account);
        if !aso.strict {
            self.forge_hub = self.forge_hub(&aso_subject);
        }
        let namespaces: Vec<String> = self.namespaces.iter().cloned().collect();
        for ns in &namespaces {
            if aso.targets.as_ref().is_some_and(|t| !t.contains(ns)) {
                continue;
            }
            self.aso_namespace(&aso, &aso_subject, ns);
        }
    }

    /// The hub of the identities federated to ASO's service account on this cluster's issuer, with an edge to
    /// each, so forging costs subjects + identities edges, not their product; `None` when there are none.
    fn forge_hub(&mut self, aso_subject: &str) -> Option<NodeIndex> {
        let (idx, cluster) = (self.idx, self.cluster);
        // Each identity with the federated credential that trusts ASO's subject (the first, by id, if several).
        let mut forgeable: Vec<(NodeIndex, &str)> = idx
            .trusts
            .iter()
            .filter_map(|(i, t)| {
                let fics = t.iter().filter(|(c, s, _)| c == cluster && s == aso_subject).map(|(_, _, f)| f.as_str());
                fics.min().map(|f| (*i, f))
            })
            .collect();
        if forgeable.is_empty() {
            return None;
        }
        forgeable.sort();
        let hub = self.b.node_for(kube_key(cluster, "aso-federated"), NodeKind::KubeAsoForgeable, "");
        self.b.set_name(hub, format!("identities federated to ASO in {}", self.cname));
        for &(identity, fic) in &forgeable {
            let ident = self.b.graph[identity].name.to_string();
            // The federated credential first: `remediation` deletes it, as for the trust itself.
            let note = note(
                vec![fic.to_string(), format!("subject={aso_subject}"), format!("{cluster} OIDC issuer")],
                format!("{ident} has a federated credential for ASO's service account ({aso_subject}) on this cluster's issuer"),
                "federated to ASO",
            );
            self.b.add_noted_edge(hub, identity, EdgeKind::AsoForgeableIdentity, Caps::EMPTY, 0, note);
        }
        Some(hub)
    }

    /// One watched namespace: its ASO node, cluster-admin's edge to it, and the identities ASO acts as there.
    fn aso_namespace(&mut self, aso: &Aso, aso_subject: &str, ns: &str) {
        let (kc, cluster) = (self.kc, self.cluster);
        let n = self.b.node_for(kube_key(cluster, &format!("namespaces/{ns}/aso")), NodeKind::KubeAsoNamespace, "");
        self.b.set_name(n, format!("ASO in {}/{ns}", self.cname));
        self.aso_nodes.insert(ns.to_string(), n);
        let owned = owned_resource_groups(kc, ns);
        if !owned.is_empty() {
            self.b.set_aso_owned_resource_groups(n, owned);
        }
        let what = format!("cluster-admin can create ASO resources in {ns}");
        let note = note(vec![cluster.to_string()], what, "creates ASO resources");
        self.b.add_noted_edge(self.admin, n, EdgeKind::CanUseAso, Caps::EMPTY, 0, note);
        // Any credential-like secret of the namespace can be named by a resource's
        // `serviceoperator.azure.com/credential-from` annotation; without an `aso-credential`,
        // the namespace credential, else the global one.
        let global = kc.secrets.iter().find(|s| s.metadata.name == ASO_SETTINGS);
        let mut creds: Vec<&SecretMeta> = kc
            .secrets
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(ns) && credential_client_id(s).is_some())
            .collect();
        if !creds.iter().any(|s| s.metadata.name == ASO_CREDENTIAL) {
            creds.extend(global.filter(|g| credential_client_id(g).is_some()));
        }
        for secret in creds {
            self.aso_credential(aso, aso_subject, n, ns, secret);
        }
    }

    /// ASO in `ns` acts as the identity a credential Secret names, if that credential can work.
    fn aso_credential(&mut self, aso: &Aso, aso_subject: &str, n: NodeIndex, ns: &str, secret: &SecretMeta) {
        let idx = self.idx;
        let Some(client) = credential_client_id(secret) else { return };
        let Some(&identity) = idx.by_client_id.get(&client) else { return };
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
                aso_subject.to_string()
            };
            let trusted =
                idx.trusts.get(&identity).is_some_and(|t| t.iter().any(|(c, s, _)| c == self.cluster && *s == subject));
            if trusted {
                (true, false)
            } else {
                // Without federated-credential data, assume ASO can use it but say so.
                (!idx.federation_known.contains(&identity), true)
            }
        };
        if !valid {
            return;
        }
        let mask = aso.mask.unwrap_or(Caps::EMPTY);
        let flags = if conditional || aso.mask.is_none() { CONDITIONAL } else { 0 };
        let ident = self.b.graph[identity].name.to_string();
        let note = note(
            vec![format!("{secret_ns}/secrets/{}", secret.metadata.name), format!("AZURE_CLIENT_ID={client}")],
            format!(
                "ASO acts in {ns} as {ident} through {how}{}",
                if holds_client_secret(secret) { ", a client secret" } else { "" }
            ),
            "ASO credential",
        );
        self.b.add_noted_edge(n, identity, EdgeKind::AsoActsAs, mask, flags, note);
    }
}
