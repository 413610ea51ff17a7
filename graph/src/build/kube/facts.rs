//! Kubernetes facts read by both the Kubernetes edges and the posture checks: RBAC rule matching, ClusterRole
//! aggregation, ASO as installed, credential Secrets, aad-pod-identity's mode.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap;

use super::super::identity::IdentityIndex;
use crate::kube::{KubeCluster, LabelSelector, PolicyRule, Role, SecretMeta};
use crate::rbac::{Capability, Caps};
use crate::scope;

pub(super) const WORKLOAD_RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];
pub(super) const RBAC: &str = "rbac.authorization.k8s.io";
pub(crate) const ASO_SETTINGS: &str = "aso-controller-settings";
pub(crate) const ASO_CREDENTIAL: &str = "aso-credential";
/// The RBAC verb and API group AKS identity bindings check: `use-managed-identity` on
/// `cid.wi.aks.azure.com/<client id>`.
pub(super) const USE_MANAGED_IDENTITY: &str = "use-managed-identity";
pub(super) const IDENTITY_BINDING_GROUP: &str = "cid.wi.aks.azure.com";

/// Whether one rule allows `verb` on `group`/`resource` (for object `name`, when given).
pub(super) fn allows(rule: &PolicyRule, verb: &str, group: &str, resource: &str, name: Option<&str>) -> bool {
    let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(v));
    any(&rule.verbs, verb)
        && any(&rule.api_groups, group)
        && (any(&rule.resources, resource)
            || resource.split_once('/').is_some_and(|(r, _)| rule.resources.iter().any(|x| x == &format!("{r}/*"))))
        && (rule.resource_names.is_empty() || name.is_some_and(|n| rule.resource_names.iter().any(|x| x == n)))
}

/// Whether a rule allows `verb` on any resource of an ASO API group (`*.azure.com`).
pub(super) fn allows_aso(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
        && rule.api_groups.iter().any(|g| g == "*" || g.to_ascii_lowercase().ends_with(".azure.com"))
        && !rule.resources.is_empty()
        && rule.resource_names.is_empty()
}

pub(super) fn any_rule(rules: &[&PolicyRule], f: impl Fn(&PolicyRule) -> bool) -> bool {
    rules.iter().any(|r| f(r))
}

/// The names a rule restricts `verb` on `group/resource` to: `None` = all, `Some(names)` = only those.
pub(super) fn allowed_names(
    rules: &[&PolicyRule],
    verb: &str,
    group: &str,
    resource: &str,
) -> Option<Option<BTreeSet<String>>> {
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

pub(super) fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
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

/// ASO resource kinds that run code as, or attach, a managed identity: with the CRD installed, an identity ASO
/// acts as may use these capabilities (compute steps need one of them, see `rbac::step_needs`). From ASO's
/// supported-resources reference (compute, web, app, containerinstance groups).
const ASO_COMPUTE: [(&str, &str, &[Capability]); 6] = [
    ("compute.azure.com", "VirtualMachine", &[Capability::RunCodeOnVm, Capability::WriteIdentityCarrier]),
    ("compute.azure.com", "VirtualMachinesExtension", &[Capability::RunCodeOnVm]),
    ("compute.azure.com", "VirtualMachineScaleSet", &[Capability::RunCodeOnVmss, Capability::WriteIdentityCarrier]),
    ("web.azure.com", "Site", &[Capability::RunCodeOnSite, Capability::WriteIdentityCarrier]),
    ("app.azure.com", "ContainerApp", &[Capability::WriteContainerApp, Capability::WriteIdentityCarrier]),
    (
        "containerinstance.azure.com",
        "ContainerGroup",
        &[Capability::WriteContainerGroup, Capability::WriteIdentityCarrier],
    ),
];

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
        for (group, kind, caps) in ASO_COMPUTE {
            if has(group, kind) {
                m |= Caps::of(caps);
            }
        }
        m
    });
    let operator_mode = setting("AZURE_OPERATOR_MODE");
    let deployment = dep.map(|d| d.metadata.name.clone());
    Some(Aso { namespace, service_account, targets, strict, auth_mode, operator_mode, deployment, mask })
}

/// Whether a Secret looks like an ASO credential: names a client id.
pub(super) fn credential_client_id(secret: &SecretMeta) -> Option<String> {
    secret.values.get("AZURE_CLIENT_ID").map(|c| c.trim().to_ascii_lowercase())
}

pub(crate) fn holds_client_secret(secret: &SecretMeta) -> bool {
    secret.keys.iter().any(|k| k == "AZURE_CLIENT_SECRET" || k == "AZURE_CLIENT_CERTIFICATE")
}

/// Resource groups the ASO resources of a namespace own or are: `ResourceGroup` resources (in the
/// subscription of the namespace's credential) and raw `owner.armId`s.
pub(super) fn owned_resource_groups(kc: &KubeCluster, ns: &str) -> Vec<String> {
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

pub(super) const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
pub(super) const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
pub(super) const SA_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
pub(super) const PSS_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
pub(super) const POD_IDENTITY_BEHAVIOR: &str = "aadpodidentity.k8s.io/Behavior";

/// The Secrets `get`, `list` or `watch` (each returns values) reveal: `None` = none, `Some(None)` = all,
/// `Some(Some(names))` = only those.
pub(super) fn readable_secrets(rules: &[&PolicyRule]) -> Option<Option<BTreeSet<String>>> {
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
pub(super) struct PodIdentityMode {
    pub(super) namespaced: Option<String>,
    pub(super) not_namespaced: String,
}

/// Go's `strconv.ParseBool` true values.
pub(super) fn go_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

pub(super) fn pod_identity_mode(kc: &KubeCluster, addon: bool) -> PodIdentityMode {
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

pub(super) fn kind_name(namespaced: bool) -> &'static str {
    if namespaced {
        "RoleBinding"
    } else {
        "ClusterRoleBinding"
    }
}

/// Per namespace: the Secrets that hold an application's client secret (the application's node, the Secret).
pub(super) fn client_secret_apps(kc: &KubeCluster, idx: &IdentityIndex) -> BTreeMap<String, Vec<(NodeIndex, String)>> {
    let mut secret_apps: BTreeMap<String, Vec<(NodeIndex, String)>> = BTreeMap::new();
    for secret in kc.secrets.iter().filter(|s| holds_client_secret(s)) {
        if let (Some(client), Some(ns)) = (credential_client_id(secret), secret.metadata.namespace.clone()) {
            if let Some(&app) = idx.by_client_id.get(&client) {
                secret_apps.entry(ns).or_default().push((app, secret.metadata.name.clone()));
            }
        }
    }
    secret_apps
}

/// Per namespace: legacy token Secrets (Secret name, service account, uid); reading one reads its account's
/// token.
pub(super) fn token_secrets(kc: &KubeCluster) -> BTreeMap<String, Vec<(String, String, String)>> {
    let mut sa_tokens: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for secret in kc.secrets.iter().filter(|s| s.secret_type.as_deref() == Some(SA_TOKEN_TYPE)) {
        let a = &secret.metadata.annotations;
        let (Some(ns), Some(sa)) = (&secret.metadata.namespace, a.get(SA_NAME_ANNOTATION).filter(|n| !n.is_empty()))
        else {
            continue;
        };
        let uid = a.get(SA_UID_ANNOTATION).cloned().unwrap_or_default();
        sa_tokens.entry(ns.clone()).or_default().push((secret.metadata.name.clone(), sa.clone(), uid));
    }
    sa_tokens
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
