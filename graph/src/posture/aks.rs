//! AKS cluster settings: local accounts, Entra integration, Azure RBAC for Kubernetes, Kubernetes RBAC, the
//! cluster identity, and the deprecated pod-managed identity (its add-on setting and aad-pod-identity objects).

use super::kubernetes::KubeCtx;
use super::{finding, resource, Check};
use crate::findings::PostureFinding;
use crate::model::Severity;
use crate::scope;
use crate::shell;
use crate::shell::Command;
use crate::snapshot::{ManagedCluster, Snapshot};

/// AKS local accounts enabled.
pub const AKS_LOCAL_ACCOUNTS: Check = Check {
    id: "AZP-AKS-001",
    title: "AKS local accounts are enabled",
    severity: Severity::High,
    description: "With local accounts on (properties.disableLocalAccounts not true), anyone allowed listClusterAdminCredential gets a static cluster-admin certificate that bypasses Entra ID, Conditional Access, JIT and per-user audit, even on an Entra-integrated cluster (`az aks get-credentials --admin`).",
    remediation: "Integrate the cluster with Entra ID and disable local accounts (`az aks update --disable-local-accounts`).",
    references: &["https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad"],
};

/// No Entra integration.
pub const AKS_NO_ENTRA: Check = Check {
    id: "AZP-AKS-002",
    title: "AKS cluster is not integrated with Entra ID",
    severity: Severity::High,
    description: "Without properties.aadProfile, users sign in to the cluster with local certificates only: no Entra identities, no Conditional Access or JIT, and removing someone from a group does not remove their access.",
    remediation: "Enable AKS-managed Entra integration with an admin group (`az aks update --enable-aad --aad-admin-group-object-ids`), then disable local accounts.",
    references: &["https://learn.microsoft.com/azure/aks/enable-authentication-microsoft-entra-id"],
};

/// Entra-integrated, Azure RBAC for Kubernetes off.
pub const AKS_NO_AZURE_RBAC: Check = Check {
    id: "AZP-AKS-003",
    title: "Azure RBAC for Kubernetes authorization is off",
    severity: Severity::Low,
    description: "The cluster is Entra-integrated but properties.aadProfile.enableAzureRBAC is not true: who may do what inside the cluster lives only in in-cluster RoleBindings, outside Azure's central assignments, PIM and access reviews.",
    remediation: "Enable Azure RBAC for Kubernetes (`az aks update --enable-azure-rbac`) and grant access with the AKS RBAC roles at cluster or namespace scope.",
    references: &["https://learn.microsoft.com/azure/aks/manage-azure-rbac"],
};

/// `enableRBAC: false`.
pub const AKS_NO_KUBERNETES_RBAC: Check = Check {
    id: "AZP-AKS-004",
    title: "Kubernetes RBAC is disabled",
    severity: Severity::Critical,
    description: "properties.enableRBAC is false: the API server authorizes nothing, so every identity that can authenticate to the cluster is effectively cluster-admin.",
    remediation: "Kubernetes RBAC cannot be turned on in place: create a cluster with RBAC (the default), Entra integration and local accounts disabled, and move the workloads.",
    references: &["https://learn.microsoft.com/azure/aks/concepts-identity#kubernetes-rbac"],
};

/// Service-principal cluster identity.
pub const AKS_SERVICE_PRINCIPAL: Check = Check {
    id: "AZP-AKS-005",
    title: "AKS cluster identity is a service principal",
    severity: Severity::Medium,
    description: "The cluster authenticates to Azure as a service principal (properties.servicePrincipalProfile.clientId is not `msi` and the cluster has no managed identity): its client secret is stored on the nodes, must be rotated by hand, and breaks the cluster when it expires. A managed identity has no secret.",
    remediation: "Move the cluster to a managed identity (`az aks update --enable-managed-identity`), then delete the service principal's secret.",
    references: &["https://learn.microsoft.com/azure/aks/use-managed-identity"],
};

/// Deprecated pod-managed identity.
pub const AKS_POD_IDENTITY: Check = Check {
    id: "AZP-AKS-006",
    title: "Deprecated pod-managed identity is in use",
    severity: Severity::Medium,
    description: "properties.podIdentityProfile.enabled is true, or the cluster holds aad-pod-identity AzureIdentityBindings: Microsoft Entra pod-managed identity is deprecated (since 2022-10-24); its NMI intercepts IMDS and hands identities to any pod carrying a binding's label, and the identities are attached to the node pools. Workload ID (OIDC issuer + workload identity, federated per service account) replaces it.",
    remediation: "Enable the OIDC issuer and workload identity, federate each identity with the service accounts that need it, then disable pod identity (`az aks update --disable-pod-identity`).",
    references: &["https://learn.microsoft.com/azure/aks/workload-identity-migrate-from-pod-identity"],
};

/// `az aks update` of the cluster `id` with `flags`.
fn aks_update(id: &str, flags: &[&'static str]) -> String {
    shell::az_target(Command::new("az").args(["aks", "update"]), id).args(flags.iter().copied()).to_string()
}

pub(super) fn cluster_name(id: &str, name: &str) -> String {
    if name.is_empty() {
        id.trim_end_matches('/').rsplit('/').next().unwrap_or(id).to_string()
    } else {
        name.to_string()
    }
}

pub(super) fn cluster(mc: &ManagedCluster, snapshot: &Snapshot, out: &mut Vec<PostureFinding>) {
    let p = &mc.properties;
    let name = cluster_name(&mc.id, &mc.name);
    let res = || resource("ManagedCluster", scope::normalize(&mc.id), name.clone());
    let update = |flags: &[&'static str]| aks_update(&mc.id, flags);
    let bool_setting = |path: &str, v: Option<bool>, default: &str| match v {
        Some(v) => format!("{path} = {v}"),
        None => format!("{path} not set ({default})"),
    };

    if p.disable_local_accounts != Some(true) {
        let evidence = vec![bool_setting(
            "properties.disableLocalAccounts",
            p.disable_local_accounts,
            "local accounts are on by default",
        )];
        let (summary, command) = if p.aad_profile.is_some() {
            (format!("Disable local accounts on {name}"), update(&["--disable-local-accounts"]))
        } else {
            (
                format!("Integrate {name} with Entra ID (with an admin group) and disable local accounts"),
                update(&[
                    "--enable-aad",
                    "--aad-admin-group-object-ids",
                    "<admin-group-object-id>",
                    "--disable-local-accounts",
                ]),
            )
        };
        out.push(finding(
            &AKS_LOCAL_ACCOUNTS,
            res(),
            format!("{name} has local accounts enabled: listClusterAdminCredential yields a static cluster-admin certificate that bypasses Entra ID"),
            evidence,
            summary,
            Some(command),
        ));
    }
    match &p.aad_profile {
        None => out.push(finding(
            &AKS_NO_ENTRA,
            res(),
            format!("{name} is not integrated with Entra ID: users authenticate with local certificates only"),
            vec!["properties.aadProfile absent".into()],
            format!("Enable AKS-managed Entra integration on {name} with an admin group"),
            Some(update(&["--enable-aad", "--aad-admin-group-object-ids", "<admin-group-object-id>"])),
        )),
        Some(aad) if aad.enable_azure_rbac != Some(true) => out.push(finding(
            &AKS_NO_AZURE_RBAC,
            res(),
            format!("{name} is Entra-integrated but authorizes only with in-cluster RBAC (Azure RBAC for Kubernetes is off)"),
            vec![bool_setting("properties.aadProfile.enableAzureRBAC", aad.enable_azure_rbac, "off by default")],
            format!("Enable Azure RBAC for Kubernetes on {name}"),
            Some(update(&["--enable-azure-rbac"])),
        )),
        Some(_) => {}
    }
    if p.enable_rbac == Some(false) {
        out.push(finding(
            &AKS_NO_KUBERNETES_RBAC,
            res(),
            format!("{name} has Kubernetes RBAC disabled: every authenticated identity can do anything in the cluster"),
            vec!["properties.enableRBAC = false".into()],
            format!("Recreate {name} with Kubernetes RBAC (the default), Entra integration and local accounts disabled, and move its workloads (RBAC cannot be enabled in place)"),
            Some(
                shell::az_target(Command::new("az").args(["aks", "create"]), &format!("{}-rbac", mc.id.trim_end_matches('/')))
                    .args([
                        "--enable-aad",
                        "--aad-admin-group-object-ids",
                        "<admin-group-object-id>",
                        "--enable-azure-rbac",
                        "--disable-local-accounts",
                        "--enable-managed-identity",
                    ])
                    .to_string(),
            ),
        ));
    }
    let managed_identity = mc
        .identity
        .as_ref()
        .and_then(|i| i.kind.as_deref())
        .is_some_and(|k| !k.trim().is_empty() && !k.trim().eq_ignore_ascii_case("none"));
    let sp = p
        .service_principal_profile
        .as_ref()
        .and_then(|s| s.client_id.as_deref())
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("msi"));
    if let (Some(client), false) = (sp, managed_identity) {
        let mut evidence = vec![
            format!("properties.servicePrincipalProfile.clientId = {client}"),
            match mc.identity.as_ref().and_then(|i| i.kind.as_deref()) {
                Some(k) => format!("identity.type = {k}"),
                None => "identity absent".into(),
            },
        ];
        let app = snapshot
            .entra
            .applications
            .iter()
            .find(|a| a.app_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(client)));
        if let Some(app_name) = app.and_then(|a| a.display_name.as_deref()) {
            evidence.push(format!("application {app_name} ({client})"));
        }
        out.push(finding(
            &AKS_SERVICE_PRINCIPAL,
            res(),
            format!("{name} authenticates to Azure as service principal {client}, whose secret is kept on the nodes and rotated by hand"),
            evidence,
            format!("Move {name} to a managed identity, then remove the service principal's secret"),
            Some(update(&["--enable-managed-identity"])),
        ));
    }
    if let Some(pod) = p.pod_identity_profile.as_ref().filter(|x| x.enabled == Some(true)) {
        let oidc = p.oidc_issuer_profile.as_ref().and_then(|o| o.enabled).unwrap_or(false);
        let wi = p.security_profile.as_ref().and_then(|s| s.workload_identity.as_ref()).is_some_and(|w| w.enabled);
        let mut evidence = vec![
            "properties.podIdentityProfile.enabled = true".to_string(),
            format!("properties.oidcIssuerProfile.enabled = {oidc}"),
            format!("properties.securityProfile.workloadIdentity.enabled = {wi}"),
        ];
        for b in &pod.user_assigned_identities {
            let who = b.identity.resource_id.as_deref().or(b.identity.client_id.as_deref()).unwrap_or("?");
            evidence.push(format!("pod identity {}/{} → {who}", b.namespace, b.name));
        }
        let (detail, summary, command) = if oidc && wi {
            (
                format!("{name} still runs deprecated pod-managed identity ({} binding(s)); workload identity is already on", pod.user_assigned_identities.len()),
                format!("Finish moving {name}'s workloads to workload identity (a federated credential per service account), then disable pod identity"),
                update(&["--disable-pod-identity"]),
            )
        } else {
            (
                format!("{name} runs deprecated pod-managed identity ({} binding(s)) while the OIDC issuer or workload identity is off", pod.user_assigned_identities.len()),
                format!("Enable the OIDC issuer and workload identity on {name}, federate each identity with its service accounts, then disable pod identity (`--disable-pod-identity`)"),
                update(&["--enable-oidc-issuer", "--enable-workload-identity"]),
            )
        };
        out.push(finding(&AKS_POD_IDENTITY, res(), detail, evidence, summary, Some(command)));
    }
}

/// aad-pod-identity objects in a cluster (the AKS add-on's, or a standalone install): added to the
/// cluster's AKS-006 finding, or one made for them.
pub(super) fn pod_identity_objects(c: &KubeCtx, s: &Snapshot, out: &mut Vec<PostureFinding>) {
    let kc = c.kc;
    if kc.azure_identity_bindings.is_empty() && kc.azure_identities.is_empty() {
        return;
    }
    let ns_name = |m: &crate::kube::ObjectMeta| format!("{}/{}", m.namespace.as_deref().unwrap_or(""), m.name);
    let mut evidence: Vec<String> = kc
        .azure_identity_bindings
        .iter()
        .map(|b| {
            format!(
                "AzureIdentityBinding {} → AzureIdentity {} (pods labelled aadpodidbinding={})",
                ns_name(&b.metadata),
                b.azure_identity,
                b.selector
            )
        })
        .collect();
    for i in &kc.azure_identities {
        let what = match i.identity_type {
            0 => format!("managed identity {}", i.resource_id.as_deref().unwrap_or("?")),
            1 => "service principal with a client secret".to_string(),
            _ => "service principal with a certificate".to_string(),
        };
        let secret = i
            .client_password
            .as_ref()
            .map(|r| format!(" (Secret {}/{})", r.namespace.as_deref().unwrap_or(""), r.name))
            .unwrap_or_default();
        evidence.push(format!("AzureIdentity {}: {what}{secret}", ns_name(&i.metadata)));
    }
    if let Some(f) = out.iter_mut().find(|f| f.check_id == AKS_POD_IDENTITY.id && f.resource.id == c.id) {
        f.evidence.extend(evidence);
        return;
    }
    let mc = s.azure.managed_clusters.iter().find(|m| scope::normalize(&m.id) == c.id);
    let kind = if mc.is_some() { "ManagedCluster" } else { "KubernetesCluster" };
    let wi = mc.is_some_and(|m| {
        let p = &m.properties;
        p.oidc_issuer_profile.as_ref().and_then(|o| o.enabled).unwrap_or(false)
            && p.security_profile.as_ref().and_then(|x| x.workload_identity.as_ref()).is_some_and(|w| w.enabled)
    });
    let command = match mc {
        Some(m) if !wi => aks_update(&m.id, &["--enable-oidc-issuer", "--enable-workload-identity"]),
        _ => c.kubectl().args(["get", "azureidentitybindings.aadpodidentity.k8s.io", "-A"]).to_string(),
    };
    out.push(finding(
        &AKS_POD_IDENTITY,
        resource(kind, c.id.clone(), c.name.clone()),
        format!(
            "{} runs deprecated aad-pod-identity ({} binding(s)): its NMI hands identity tokens to any pod carrying a binding's label",
            c.name,
            kc.azure_identity_bindings.len()
        ),
        evidence,
        format!(
            "Move each workload of {} to workload identity (a federated credential per service account){}, then delete the AzureIdentityBindings and uninstall aad-pod-identity (NMI, MIC)",
            c.name,
            if mc.is_some() && !wi { ", enabling the OIDC issuer and workload identity first" } else { "" }
        ),
        Some(command),
    ));
}
