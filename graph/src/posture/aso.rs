//! Azure Service Operator: credentials with client secrets, the global credential, the `RoleAssignment` CRD and
//! the relaxed workload-identity mode.

use std::collections::{BTreeMap, BTreeSet};

use super::kubernetes::KubeCtx;
use super::{finding_with, Check};
use crate::findings::PostureFinding;
use crate::kube::SecretMeta;
use crate::kube_dump::LAST_APPLIED_ANNOTATION;
use crate::kube_graph::{find_aso, holds_client_secret, Aso, ASO_CREDENTIAL, ASO_SETTINGS};
use crate::model::Severity;
use crate::shell::{self, Chain, Command, Malformed};

const ASO_SECURITY: &str = "https://azure.github.io/azure-service-operator/guide/security/";

/// ASO credential with a client secret or certificate.
pub const ASO_CLIENT_SECRET: Check = Check {
    id: "AZP-ASO-001",
    title: "ASO credential holds a client secret",
    severity: Severity::High,
    description: "An Azure Service Operator credential Secret (aso-credential, aso-controller-settings, or one named by serviceoperator.azure.com/credential-from) holds AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE: anyone who can read Secrets in that namespace (or its kubectl.kubernetes.io/last-applied-configuration annotation) holds the identity's credential outside the cluster too.",
    remediation: "Use workload identity: federate the identity with ASO's service account, keep only AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID and AZURE_CLIENT_ID in the Secret, then delete the client secret from the app registration.",
    references: &[ASO_SECURITY, "https://azure.github.io/azure-service-operator/guide/authentication/"],
};

/// Global ASO credential.
pub const ASO_GLOBAL_CREDENTIAL: Check = Check {
    id: "AZP-ASO-002",
    title: "Global ASO credential in use",
    severity: Severity::Medium,
    description: "aso-controller-settings in ASO's namespace names an identity (AZURE_CLIENT_ID) and a single operator serves every namespace: any namespace without its own aso-credential acts with that one identity, so everyone who can create ASO resources anywhere it watches shares its power.",
    remediation: "Give each namespace its own least-privilege aso-credential and leave AZURE_CLIENT_ID in aso-controller-settings empty (Helm: azureClientID=\"\").",
    references: &[ASO_SECURITY],
};

/// `RoleAssignment` CRD installed.
pub const ASO_ROLE_ASSIGNMENT_CRD: Check = Check {
    id: "AZP-ASO-003",
    title: "ASO RoleAssignment CRD is installed",
    severity: Severity::Medium,
    description: "roleassignments.authorization.azure.com is installed: whoever can create ASO resources in a namespace can assign Azure roles with that namespace's ASO identity (up to Owner-equivalent when the identity may write role assignments). ASO's guidance: do not install it unless needed.",
    remediation: "Leave authorization.azure.com/RoleAssignment out of ASO's crdPattern and delete the CRD once no RoleAssignment resource is needed.",
    references: &[ASO_SECURITY],
};

/// Relaxed workload-identity mode.
pub const ASO_RELAXED_MODE: Check = Check {
    id: "AZP-ASO-004",
    title: "ASO runs in relaxed workload-identity mode",
    severity: Severity::Medium,
    description: "AZURE_WORKLOAD_IDENTITY_AUTH_MODE is not `strict` (relaxed is the default): ASO exchanges its own service account's token for any client id a credential Secret names, so a user who can create a Secret and an ASO resource in a watched namespace can make ASO act as any identity federated to ASO (ASO issues #4807, #4810).",
    remediation: "Set AZURE_WORKLOAD_IDENTITY_AUTH_MODE=strict in aso-controller-settings and restart ASO; in strict mode each namespace credential needs a federated credential for system:serviceaccount:<namespace>:aso-workload.",
    references: &[ASO_SECURITY, "https://github.com/Azure/azure-service-operator/issues/4807"],
};

fn secret_key(s: &SecretMeta) -> (String, String) {
    (s.metadata.namespace.clone().unwrap_or_default(), s.metadata.name.clone())
}

pub(super) fn cluster(c: &KubeCtx, out: &mut Vec<PostureFinding>) {
    let kc = c.kc;
    let found = find_aso(kc);
    // Secrets named by a resource's credential-from annotation (a Secret of the resource's namespace).
    let mut referenced: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in &kc.aso_resources {
        let ns = r.metadata.namespace.clone().unwrap_or_default();
        if let Some(secret) = r.metadata.annotations.get("serviceoperator.azure.com/credential-from") {
            referenced
                .entry((ns.clone(), secret.trim().to_string()))
                .or_default()
                .push(format!("{} {ns}/{}", r.kind, r.metadata.name));
        }
    }
    for secret in &kc.secrets {
        let key = secret_key(secret);
        let name = secret.metadata.name.as_str();
        let users = referenced.get(&key);
        if !(name == ASO_CREDENTIAL || name == ASO_SETTINGS || users.is_some()) || !holds_client_secret(secret) {
            continue;
        }
        let (ns, _) = &key;
        let mut keys = secret.keys.clone();
        keys.sort();
        let mut evidence = vec![format!("Secret {ns}/{name} keys: {}", keys.join(", "))];
        if let Some(client) = secret.values.get("AZURE_CLIENT_ID").filter(|v| !v.trim().is_empty()) {
            evidence.push(format!("AZURE_CLIENT_ID = {}", client.trim()));
        }
        if let Some(users) = users {
            let shown: Vec<&str> = users.iter().take(5).map(String::as_str).collect();
            let more = if users.len() > 5 { format!(" and {} more", users.len() - 5) } else { String::new() };
            evidence.push(format!("named by serviceoperator.azure.com/credential-from of {}{more}", shown.join(", ")));
        }
        if secret.metadata.annotations.contains_key(LAST_APPLIED_ANNOTATION) {
            evidence
                .push(format!("annotation {LAST_APPLIED_ANNOTATION} present: it holds the secret in plain text too"));
        }
        let subject = aso_subject(found.as_ref(), ns, name);
        let client = secret.values.get("AZURE_CLIENT_ID").map(|v| v.trim()).filter(|v| !v.is_empty());
        let issuer = c.issuer.as_deref().unwrap_or("<cluster OIDC issuer URL>");
        let command = federate_aso_credential(c, secret, client.unwrap_or("<client-id>"), issuer, &subject);
        out.push(finding_with(
            &ASO_CLIENT_SECRET,
            c.object("Secret", &format!("namespaces/{ns}/secrets/{name}"), format!("{ns}/{name}")),
            format!("ASO credential {ns}/{name} holds a client secret: whoever reads it can act as the identity from anywhere"),
            evidence,
            shell::remediation(
                format!(
                    "Federate the identity with {subject}, remove the client secret from {ns}/{name}, then delete the secret from the app registration (`az ad app credential delete`){}",
                    if name != ASO_SETTINGS && !found.as_ref().is_some_and(|a| a.strict) {
                        "; ASO uses that subject once it runs in strict mode (AZP-ASO-004): federated with ASO's own service account instead, the identity could be forged from every watched namespace"
                    } else {
                        ""
                    }
                ),
                command,
            ),
        ));
    }
    // The RoleAssignment CRD (installed is enough: ASO may run elsewhere or not be collected).
    for crd in kc.crds.iter().filter(|d| {
        (d.group.eq_ignore_ascii_case("authorization.azure.com") && d.kind == "RoleAssignment")
            || d.name.eq_ignore_ascii_case("roleassignments.authorization.azure.com")
    }) {
        role_assignment_crd(c, crd.name.as_str(), out);
    }
    let Some(a) = found else { return };
    let settings = kc
        .secrets
        .iter()
        .find(|s| s.metadata.name == ASO_SETTINGS && s.metadata.namespace.as_deref() == Some(a.namespace.as_str()));

    // Global credential, when one operator serves every watched namespace.
    let single = a.operator_mode.as_deref().is_none_or(|m| m.trim().eq_ignore_ascii_case("watchers-and-webhooks"));
    let global = settings.and_then(|s| s.values.get("AZURE_CLIENT_ID")).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let (Some(client), true, Some(settings)) = (global, single, settings) {
        let with_own: BTreeSet<&str> = kc
            .secrets
            .iter()
            .filter(|s| s.metadata.name == ASO_CREDENTIAL)
            .filter_map(|s| s.metadata.namespace.as_deref())
            .collect();
        let namespaces: BTreeSet<&str> = kc.namespaces.iter().map(|n| n.metadata.name.as_str()).collect();
        let fallback: Vec<&str> = namespaces
            .iter()
            .copied()
            .filter(|n| a.targets.as_ref().is_none_or(|t| t.contains(*n)) && !with_own.contains(n) && *n != a.namespace)
            .collect();
        let mut evidence = vec![
            format!("Secret {}/{ASO_SETTINGS} AZURE_CLIENT_ID = {client}", a.namespace),
            match &a.operator_mode {
                Some(m) => format!("AZURE_OPERATOR_MODE = {m}"),
                None => "AZURE_OPERATOR_MODE not set (one operator: watchers-and-webhooks)".into(),
            },
            match &a.targets {
                Some(t) => format!("AZURE_TARGET_NAMESPACES = {}", t.iter().cloned().collect::<Vec<_>>().join(",")),
                None => "AZURE_TARGET_NAMESPACES not set: every namespace is watched".into(),
            },
        ];
        if !fallback.is_empty() {
            evidence.push(format!("namespaces without their own {ASO_CREDENTIAL}: {}", fallback.join(", ")));
        }
        let ns = &a.namespace;
        out.push(finding_with(
            &ASO_GLOBAL_CREDENTIAL,
            c.object("Secret", &format!("namespaces/{ns}/secrets/{}", settings.metadata.name), format!("{ns}/{ASO_SETTINGS}")),
            format!("ASO's global credential ({client}) acts for every watched namespace without its own {ASO_CREDENTIAL}"),
            evidence,
            shell::remediation(
                format!("Create a least-privilege {ASO_CREDENTIAL} in each namespace that uses ASO, then empty AZURE_CLIENT_ID in {ns}/{ASO_SETTINGS} (Helm: azureClientID=\"\") and restart ASO"),
                patch_aso_settings(c, &a, "--type=json", r#"[{"op":"replace","path":"/data/AZURE_CLIENT_ID","value":""}]"#),
            ),
        ));
    }

    // Relaxed workload-identity mode (the default).
    if !a.strict {
        let ns = &a.namespace;
        let mut evidence = vec![match &a.auth_mode {
            Some(m) => format!("AZURE_WORKLOAD_IDENTITY_AUTH_MODE = {m}"),
            None => "AZURE_WORKLOAD_IDENTITY_AUTH_MODE not set in aso-controller-settings or ASO's environment (default: relaxed)".into(),
        }];
        evidence.push(format!("ASO's service account: system:serviceaccount:{ns}:{}", a.service_account));
        evidence.push(match &a.targets {
            Some(t) => format!("watched namespaces: {}", t.iter().cloned().collect::<Vec<_>>().join(", ")),
            None => "watched namespaces: all".into(),
        });
        let res = match &a.deployment {
            Some(d) => c.object("Deployment", &format!("namespaces/{ns}/deployments/{d}"), format!("{ns}/{d}")),
            None => c.object("Namespace", &format!("namespaces/{ns}"), format!("ASO in {ns}")),
        };
        out.push(finding_with(
            &ASO_RELAXED_MODE,
            res,
            format!("ASO in {ns} runs in relaxed workload-identity mode: a forged credential Secret in a watched namespace can name any identity federated to system:serviceaccount:{ns}:{}", a.service_account),
            evidence,
            shell::remediation(
                "Set AZURE_WORKLOAD_IDENTITY_AUTH_MODE=strict and restart ASO; then federate each namespace credential's identity with system:serviceaccount:<namespace>:aso-workload".into(),
                patch_aso_settings(c, &a, "--type=merge", r#"{"stringData":{"AZURE_WORKLOAD_IDENTITY_AUTH_MODE":"strict"}}"#),
            ),
        ));
    }
}

/// `kubectl -n <ASO's namespace> patch secret aso-controller-settings <patch_type> -p <patch>`, then a restart
/// of ASO's Deployment when it is known.
fn patch_aso_settings(c: &KubeCtx, a: &Aso, patch_type: &'static str, patch: &str) -> Result<Chain, Malformed> {
    let ns = shell::namespace(&a.namespace)?;
    let settings = c.kubectl().opt("-n", ns).args(["patch", "secret", ASO_SETTINGS, patch_type]).opt("-p", patch);
    let Some(d) = &a.deployment else { return Ok(settings.into()) };
    let deployment = format!("deployment/{}", shell::object_name("Deployment name", d)?);
    Ok(settings.and(c.kubectl().opt("-n", ns).args(["rollout", "restart"]).arg(deployment)))
}

/// Federates the app `client` with `subject` of `issuer`, then removes the client secret's keys from `secret`.
fn federate_aso_credential(
    c: &KubeCtx,
    secret: &SecretMeta,
    client: &str,
    issuer: &str,
    subject: &str,
) -> Result<Chain, Malformed> {
    let ns = shell::namespace(secret.metadata.namespace.as_deref().unwrap_or(""))?;
    let name = shell::object_name("Secret name", &secret.metadata.name)?;
    let params = serde_json::json!({
        "name": format!("aso-{ns}"),
        "issuer": issuer,
        "subject": subject,
        "audiences": ["api://AzureADTokenExchange"],
    });
    let removals: Vec<serde_json::Value> =
        ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE", "AZURE_CLIENT_CERTIFICATE_PASSWORD"]
            .iter()
            .filter(|k| secret.keys.iter().any(|x| x == *k))
            .map(|k| serde_json::json!({"op": "remove", "path": format!("/data/{k}")}))
            .collect();
    let federate = Command::new("az")
        .args(["ad", "app", "federated-credential", "create"])
        .opt("--id", client)
        .opt("--parameters", params.to_string());
    let patch = c
        .kubectl()
        .opt("-n", ns)
        .args(["patch", "secret"])
        .arg(name)
        .args(["--type=json"])
        .opt("-p", serde_json::Value::from(removals).to_string());
    Ok(federate.and(patch))
}

/// The subject a federated credential needs for ASO to use `secret` in `ns` with workload identity.
///
/// A namespace credential gets strict mode's per-namespace subject even while ASO is relaxed: federated
/// with ASO's own service account, a powerful identity becomes forgeable from every watched namespace.
fn aso_subject(aso: Option<&Aso>, ns: &str, secret: &str) -> String {
    let (aso_ns, aso_sa) = aso
        .map(|a| (a.namespace.as_str(), a.service_account.as_str()))
        .unwrap_or(("azureserviceoperator-system", "azureserviceoperator-default"));
    if secret == ASO_SETTINGS {
        format!("system:serviceaccount:{aso_ns}:{aso_sa}")
    } else {
        format!("system:serviceaccount:{ns}:aso-workload")
    }
}

fn role_assignment_crd(c: &KubeCtx, crd: &str, out: &mut Vec<PostureFinding>) {
    let in_use: Vec<String> =
        c.kc.aso_resources
            .iter()
            .filter(|r| {
                r.kind == "RoleAssignment" && r.api_version.to_ascii_lowercase().starts_with("authorization.azure.com/")
            })
            .map(|r| format!("{}/{}", r.metadata.namespace.as_deref().unwrap_or(""), r.metadata.name))
            .collect();
    let mut evidence = vec![format!("CustomResourceDefinition {crd}")];
    let (summary, command) = if in_use.is_empty() {
        evidence.push("no RoleAssignment resource collected".into());
        (
            "Remove authorization.azure.com/RoleAssignment from ASO's crdPattern (Helm value crdPattern) so it is not reinstalled, and delete the CRD".to_string(),
            shell::object_name("CRD name", crd).map(|crd| c.kubectl().args(["delete", "crd"]).arg(crd)),
        )
    } else {
        evidence.push(format!("RoleAssignment resources: {}", in_use.join(", ")));
        (
            "Review the RoleAssignment resources; if they are not needed, delete them, leave the CRD out of ASO's crdPattern and delete it; otherwise keep ASO identities' roleAssignments/write narrow".to_string(),
            Ok(c.kubectl().args(["get", "roleassignments.authorization.azure.com", "-A"])),
        )
    };
    out.push(finding_with(
        &ASO_ROLE_ASSIGNMENT_CRD,
        c.object("CustomResourceDefinition", &format!("customresourcedefinitions/{crd}"), crd.to_string()),
        format!("The ASO RoleAssignment CRD is installed in {}: ASO users can assign Azure roles with their namespace's identity", c.name),
        evidence,
        shell::remediation(summary, command),
    ));
}
