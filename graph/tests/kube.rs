//! Kubernetes, workload identity and ASO semantics on a small in-code tenant: the acceptance cases of issue 3,
//! each with a decoy beside it.

mod common;

use common::queries;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair as Finding;
use azpath_graph::findings::Reach;
use azpath_graph::model::EdgeKind;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "22222222-0000-0000-0000-000000000001";
const TENANT: &str = "33333333-0000-0000-0000-000000000001";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const UAA: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
const AKS_ADMIN_ROLE: &str = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8";
const ALICE: &str = "aaaaaaaa-1111-0000-0000-000000000001"; // nested member of the platform group
const VICTOR: &str = "aaaaaaaa-1111-0000-0000-000000000002"; // view only
const OSCAR: &str = "aaaaaaaa-1111-0000-0000-000000000003"; // AKS cluster admin role
const PAT: &str = "aaaaaaaa-1111-0000-0000-000000000004"; // pod creator in team-b
const PLATFORM: &str = "bbbbbbbb-1111-0000-0000-000000000001";
const PLATFORM_INNER: &str = "bbbbbbbb-1111-0000-0000-000000000002";
const ASO_MI: &str = "cccccccc-1111-0000-0000-000000000001"; // principal of the team-a ASO identity
const ASO_MI_CLIENT: &str = "cccccccc-2222-0000-0000-000000000001";
const APP_MI: &str = "cccccccc-1111-0000-0000-000000000002"; // workload identity of team-b/app
const APP_MI_CLIENT: &str = "cccccccc-2222-0000-0000-000000000002";
const DECOY_MI: &str = "cccccccc-1111-0000-0000-000000000003"; // trusts team-b/app, but on another issuer
const DECOY_MI_CLIENT: &str = "cccccccc-2222-0000-0000-000000000003";
const UAA_APP: &str = "dddddddd-1111-0000-0000-000000000001"; // app object id
const UAA_APP_CLIENT: &str = "dddddddd-2222-0000-0000-000000000001";
const UAA_SP: &str = "dddddddd-3333-0000-0000-000000000001";
const ISSUER: &str = "https://eastus.oic.prod-aks.azure.com/33333333-0000-0000-0000-000000000001/aaaa/";
const LOCKED_ISSUER: &str = "https://eastus.oic.prod-aks.azure.com/33333333-0000-0000-0000-000000000001/bbbb/";
const OTHER_ISSUER: &str = "https://westeurope.oic.prod-aks.azure.com/33333333-0000-0000-0000-000000000001/cccc/";

fn rg(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

fn cluster_id(name: &str) -> String {
    format!("{}/providers/Microsoft.ContainerService/managedClusters/{name}", rg("aks"))
}

fn assignment(n: u32, principal: &str, kind: &str, role: &str, scope: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
        "properties": {"scope": scope, "principalId": principal, "principalType": kind,
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")}
    })
}

fn uami(name: &str, principal: &str, client: &str) -> Value {
    json!({"id": format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}", rg("identities")),
           "name": name, "properties": {"principalId": principal, "clientId": client, "tenantId": TENANT}})
}

fn fic(identity: &str, name: &str, issuer: &str, subject: &str) -> Value {
    json!({"id": format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}/federatedIdentityCredentials/{name}", rg("identities")),
           "name": name, "properties": {"issuer": issuer, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}})
}

fn meta(name: &str, ns: Option<&str>) -> Value {
    match ns {
        Some(ns) => json!({"name": name, "namespace": ns}),
        None => json!({"name": name}),
    }
}

fn binding(name: &str, ns: &str, role_kind: &str, role: &str, subject: Value) -> Value {
    json!({"metadata": meta(name, Some(ns)), "roleRef": {"kind": role_kind, "name": role}, "subjects": [subject]})
}

/// A cluster "prod" (Entra-integrated, local accounts on) running ASO, and its Kubernetes objects.
/// `crds` lists the ASO CRDs installed.
fn tenant(crds: &[(&str, &str)]) -> Snapshot {
    let kube = json!({
        "cluster": cluster_id("prod"),
        "source": "test",
        "namespaces": [{"metadata": meta("team-a", None)}, {"metadata": meta("team-b", None)}, {"metadata": meta("team-c", None)}, {"metadata": meta("azureserviceoperator-system", None)}],
        "serviceAccounts": [{"metadata": meta("app", Some("team-b"))}, {"metadata": meta("azureserviceoperator-default", Some("azureserviceoperator-system"))}],
        "roles": [
            {"metadata": meta("aso-editor", Some("team-a")), "rules": [{"apiGroups": ["resources.azure.com", "storage.azure.com"], "resources": ["*"], "verbs": ["get", "list", "create", "update", "patch", "delete"]}]},
            {"metadata": meta("aso-editor", Some("team-c")), "rules": [{"apiGroups": ["*.azure.com", "authorization.azure.com"], "resources": ["*"], "verbs": ["create"]}]},
            {"metadata": meta("deployer", Some("team-b")), "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "update"]}]}
        ],
        "clusterRoles": [
            {"metadata": meta("view", None), "rules": [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments", "configmaps"], "verbs": ["get", "list", "watch"]}, {"apiGroups": ["resources.azure.com"], "resources": ["*"], "verbs": ["get", "list"]}]}
        ],
        "roleBindings": [
            binding("platform-aso", "team-a", "Role", "aso-editor", json!({"kind": "Group", "name": PLATFORM})),
            binding("victor-view", "team-a", "ClusterRole", "view", json!({"kind": "User", "name": VICTOR})),
            binding("pat-deploys", "team-b", "Role", "deployer", json!({"kind": "User", "name": PAT})),
            binding("platform-aso", "team-c", "Role", "aso-editor", json!({"kind": "Group", "name": PLATFORM}))
        ],
        "clusterRoleBindings": [],
        "secrets": [
            {"metadata": {"name": "aso-credential", "namespace": "team-a"}, "type": "Opaque",
             "keys": ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "USE_WORKLOAD_IDENTITY_AUTH"],
             "values": {"AZURE_CLIENT_ID": ASO_MI_CLIENT, "AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": SUB, "USE_WORKLOAD_IDENTITY_AUTH": "true"}},
            {"metadata": {"name": "aso-credential", "namespace": "team-c"}, "type": "Opaque",
             "keys": ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"],
             "values": {"AZURE_CLIENT_ID": UAA_APP_CLIENT, "AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": SUB}},
            {"metadata": {"name": "aso-controller-settings", "namespace": "azureserviceoperator-system"}, "type": "Opaque",
             "keys": ["AZURE_TARGET_NAMESPACES", "AZURE_OPERATOR_MODE"],
             "values": {"AZURE_TARGET_NAMESPACES": "team-a,team-c", "AZURE_OPERATOR_MODE": "watchers-and-webhooks"}}
        ],
        "crds": crds.iter().map(|(group, kind)| json!({"name": format!("{}s.{group}", kind.to_lowercase()), "group": group, "kind": kind})).collect::<Vec<_>>(),
        "asoResources": [{"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup", "metadata": meta("team-a-rg", Some("team-a")), "azureName": "team-a-rg"}],
        "deployments": [{"metadata": meta("azureserviceoperator-controller-manager", Some("azureserviceoperator-system")),
                         "serviceAccountName": "azureserviceoperator-default", "images": ["mcr.microsoft.com/k8s/azureserviceoperator:v2.9.0"]}]
    });
    let s = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2025-01-01T00:00:00Z"},
        "azure": {
            "subscriptions": [{"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "displayName": "Prod"}],
            "resourceGroups": [{"id": rg("aks"), "name": "aks"}, {"id": rg("identities"), "name": "identities"}],
            "roleAssignments": [
                assignment(1, ASO_MI, "ServicePrincipal", CONTRIBUTOR, &format!("/subscriptions/{SUB}")),
                assignment(2, APP_MI, "ServicePrincipal", CONTRIBUTOR, &format!("/subscriptions/{SUB}")),
                assignment(3, DECOY_MI, "ServicePrincipal", OWNER, &format!("/subscriptions/{SUB}")),
                assignment(4, UAA_SP, "ServicePrincipal", UAA, &format!("/subscriptions/{SUB}")),
                assignment(5, OSCAR, "User", AKS_ADMIN_ROLE, &cluster_id("prod")),
                assignment(6, OSCAR, "User", AKS_ADMIN_ROLE, &cluster_id("locked"))
            ],
            "userAssignedIdentities": [uami("aso-team-a", ASO_MI, ASO_MI_CLIENT), uami("app", APP_MI, APP_MI_CLIENT), uami("decoy", DECOY_MI, DECOY_MI_CLIENT)],
            "federatedIdentityCredentials": [
                fic("aso-team-a", "aso", ISSUER, "system:serviceaccount:azureserviceoperator-system:azureserviceoperator-default"),
                fic("app", "app", ISSUER, "system:serviceaccount:team-b:app"),
                fic("decoy", "app", OTHER_ISSUER, "system:serviceaccount:team-b:app")
            ],
            "managedClusters": [
                {"id": cluster_id("prod"), "name": "prod", "properties": {"fqdn": "prod.hcp.eastus.azmk8s.io",
                  "aadProfile": {"managed": true, "enableAzureRBAC": false}, "oidcIssuerProfile": {"enabled": true, "issuerURL": ISSUER},
                  "securityProfile": {"workloadIdentity": {"enabled": true}}}},
                {"id": cluster_id("locked"), "name": "locked", "properties": {"disableLocalAccounts": true,
                  "aadProfile": {"managed": true}, "oidcIssuerProfile": {"enabled": true, "issuerURL": LOCKED_ISSUER}}}
            ]
        },
        "entra": {
            "users": [{"id": ALICE, "displayName": "Alice"}, {"id": VICTOR, "displayName": "Victor"}, {"id": OSCAR, "displayName": "Oscar"}, {"id": PAT, "displayName": "Pat"}],
            "groups": [{"id": PLATFORM, "displayName": "Platform"}, {"id": PLATFORM_INNER, "displayName": "Platform inner"}],
            "groupMembers": [
                {"groupId": PLATFORM, "members": [{"@odata.type": "#microsoft.graph.group", "id": PLATFORM_INNER}]},
                {"groupId": PLATFORM_INNER, "members": [{"@odata.type": "#microsoft.graph.user", "id": ALICE}]}
            ],
            "servicePrincipals": [{"id": UAA_SP, "appId": UAA_APP_CLIENT, "displayName": "legacy-aso-app"}],
            "applications": [{"id": UAA_APP, "appId": UAA_APP_CLIENT, "displayName": "legacy-aso-app"}]
        },
        "kubernetes": [kube]
    });
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

const ALL_CRDS: &[(&str, &str)] = &[
    ("resources.azure.com", "ResourceGroup"),
    ("authorization.azure.com", "RoleAssignment"),
    ("managedidentity.azure.com", "UserAssignedIdentity"),
    ("managedidentity.azure.com", "FederatedIdentityCredential"),
];

fn findings(crds: &[(&str, &str)]) -> Vec<Finding> {
    common::pairs(&tenant(crds), &queries(), AnalyzeOptions::default())
}

fn find<'a>(f: &'a [Finding], query: &str, source: &str, target: &str) -> Option<&'a Finding> {
    f.iter().find(|x| {
        x.query_id == query && x.source.id.eq_ignore_ascii_case(source) && x.target.id.eq_ignore_ascii_case(target)
    })
}

fn sub() -> String {
    format!("/subscriptions/{SUB}")
}

#[test]
fn nested_group_members_with_aso_edit_reach_subscription_contributor() {
    let f = findings(ALL_CRDS);
    let alice = find(&f, "contributor-or-stronger-on-subscription", ALICE, &sub()).expect("Alice reaches Contributor");
    let edges: Vec<String> = alice.hops.iter().map(|h| h.edge.to_string()).collect();
    assert!(
        edges.contains(&"ASO_ACTS_AS".to_string()) && edges.contains(&"KUBERNETES_IDENTITY".to_string()),
        "{edges:?}"
    );
    assert!(!alice.conditional, "the identity's federated credential trusts ASO: nothing is assumed");
    // The Kubernetes group itself is reported by the Kubernetes query, and the namespace by the ASO query.
    let k8s_group = format!("{}/k8s/groups/{PLATFORM}", cluster_id("prod")).to_lowercase();
    assert!(find(&f, "kubernetes-to-subscription-contributor", &k8s_group, &sub()).is_some());
    let team_a = format!("{}/k8s/namespaces/team-a/aso", cluster_id("prod")).to_lowercase();
    let broad = find(&f, "aso-identity-broader-than-namespace", &team_a, &sub()).expect("team-a's ASO identity");
    // The fix scopes the identity to the resource group team-a's ASO resources own.
    let fix = broad.remediation.command.as_deref().unwrap();
    assert!(fix.contains(&format!("--scope /subscriptions/{SUB}/resourcegroups/team-a-rg")), "{fix}");
    assert!(fix.contains("az role assignment delete --ids"), "{fix}");
}

#[test]
fn view_only_user_is_not_reported() {
    let f = findings(ALL_CRDS);
    let k8s_victor = format!("{}/k8s/users/{VICTOR}", cluster_id("prod")).to_lowercase();
    assert!(find(&f, "kubernetes-to-subscription-contributor", &k8s_victor, &sub()).is_none());
    assert!(
        !f.iter().any(|x| x.source.id == VICTOR),
        "{:#?}",
        f.iter().filter(|x| x.source.id == VICTOR).collect::<Vec<_>>()
    );
}

#[test]
fn federated_credential_needs_the_clusters_own_issuer() {
    let f = findings(ALL_CRDS);
    // Pat deploys in team-b, whose service account `app` is trusted by APP_MI (right issuer): Contributor.
    let pat = find(&f, "contributor-or-stronger-on-subscription", PAT, &sub()).expect("Pat via workload identity");
    assert!(pat.hops.iter().any(|h| h.edge.to_string() == "FEDERATED_TRUST"));
    // DECOY_MI trusts the same subject but another cluster's issuer: that credential links nothing here.
    let trust_into_decoy = |x: &Finding| {
        x.hops.iter().any(|h| {
            h.edge.to_string() == "FEDERATED_TRUST"
                && h.to.id == DECOY_MI
                && h.from.kind.to_string() != "ExternalWorkload"
        })
    };
    assert!(!f.iter().any(trust_into_decoy), "a federated credential of another issuer was linked to this cluster");
    // The uncollected cluster's service account is an external workload that can act as the decoy.
    assert!(f.iter().any(|x| x.query_id == "can-act-as-managed-identity"
        && x.target.id == DECOY_MI
        && x.source.kind.to_string() == "ExternalWorkload"));
    // Pat still reaches Owner, but only through second-order control: APP_MI's subscription Contributor can
    // add a federated credential to the decoy identity.
    // Pat acts as APP_MI by running pods as team-b/app; Victor (view) acts as nothing.
    assert!(find(&f, "can-act-as-managed-identity", PAT, APP_MI).is_some());
    assert!(!f.iter().any(|x| x.query_id == "can-act-as-managed-identity" && x.source.id == VICTOR));
    let owner = find(&f, "owner-equivalent-on-subscription", PAT, &sub()).expect("second-order control");
    assert!(owner.hops.iter().any(|h| h.edge.to_string() == "CAN_WRITE_FEDERATED_CREDENTIAL" && h.to.id == DECOY_MI));
}

#[test]
fn aks_cluster_admin_role_with_local_accounts_reaches_cluster_admin() {
    let f = findings(ALL_CRDS);
    let prod_admin = format!("{}/k8s/cluster-admin", cluster_id("prod")).to_lowercase();
    let locked_admin = format!("{}/k8s/cluster-admin", cluster_id("locked")).to_lowercase();
    let oscar = find(&f, "cluster-admin-from-azure", OSCAR, &prod_admin).expect("Oscar is cluster-admin of prod");
    assert_eq!(oscar.hops[0].edge.to_string(), "AKS_CLUSTER_ADMIN");
    // On `locked` local accounts are off: Oscar's own Cluster Admin Role there gives nothing; any path he has
    // goes through other identities' cluster write.
    let own_locked_assignment = "00000000-0000-0000-0000-000000000006";
    let via_own = |x: &Finding| x.hops.iter().any(|h| h.evidence.iter().any(|e| e.ends_with(own_locked_assignment)));
    assert!(!f.iter().any(|x| x.query_id == "cluster-admin-from-azure" && x.target.id == locked_admin && via_own(x)));
    if let Some(p) = find(&f, "cluster-admin-from-azure", OSCAR, &locked_admin) {
        assert!(p.hops.last().unwrap().detail.contains("managedClusters/write"), "{p:#?}");
    }
}

#[test]
fn client_secret_credential_with_role_assignment_crd_gives_owner() {
    let f = findings(ALL_CRDS);
    assert!(find(&f, "owner-equivalent-on-subscription", ALICE, &sub()).is_some(), "team-c's ASO app holds UAA");
    // Without the RoleAssignment CRD, ASO cannot use the identity's role-assignment power. (Alice still gets
    // there the long way: ASO may write the cluster, so she becomes cluster-admin, runs a pod as ASO's own
    // service account and acts as the identity with none of ASO's limits. Never through ASO's credential.)
    let without = findings(&[("resources.azure.com", "ResourceGroup")]);
    let through_aso =
        |f: &Finding| f.hops.windows(2).any(|w| w[0].edge == EdgeKind::AsoActsAs && w[1].edge == EdgeKind::HasRole);
    let owner = find(&without, "owner-equivalent-on-subscription", ALICE, &sub());
    assert!(owner.is_some_and(|f| !through_aso(f)), "{owner:#?}");
    assert!(find(&f, "owner-equivalent-on-subscription", ALICE, &sub()).is_some_and(through_aso));
    let team_c = format!("{}/k8s/namespaces/team-c/aso", cluster_id("prod")).to_lowercase();
    let broad = find(&f, "aso-identity-broader-than-namespace", &team_c, &sub()).expect("team-c's ASO identity");
    // team-c's ASO resources own no resource group: nothing to rescope to, so the assignment itself goes.
    let assignment =
        format!("{}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000004", sub());
    assert_eq!(
        broad.remediation.command.as_deref(),
        Some(format!("az role assignment delete --ids {assignment}").as_str())
    );
    assert!(broad.remediation.summary.contains("own no resource group"), "{}", broad.remediation.summary);
    assert!(
        find(&without, "aso-identity-broader-than-namespace", &team_c, &sub()).is_none(),
        "UAA is useless to ASO without the RoleAssignment CRD"
    );
}

#[test]
fn relaxed_mode_lets_aso_editors_forge_credentials_for_identities_federated_to_aso() {
    let f = findings(ALL_CRDS);
    // Team-a's Role has no `create secrets`: no forging; give it in a variant.
    assert!(!f.iter().any(|x| x.query_id == "aso-credential-forging"));
    let mut s = tenant(ALL_CRDS);
    s.kubernetes[0].roles[0].rules.push(
        serde_json::from_value(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]})).unwrap(),
    );
    let f = common::pairs(&s, &queries(), AnalyzeOptions::default());
    assert!(
        find(&f, "aso-credential-forging", ALICE, ASO_MI).is_some(),
        "{:#?}",
        f.iter().map(|x| (&x.query_id, &x.source.id, &x.target.id)).collect::<Vec<_>>()
    );
    // The forged hop rests on the identity's federated credential for ASO's service account: its cut names
    // that account as the federated trust's own cut does (namespace/name), never the raw token subject.
    let r = common::analyze_checked(&s, &queries(), AnalyzeOptions::default());
    let trusts: Vec<&str> =
        r.choke_points.iter().filter(|c| c.id.starts_with("federated-credential:")).map(|c| c.what.as_str()).collect();
    let aso: Vec<&&str> = trusts.iter().filter(|w| w.contains("azureserviceoperator-default")).collect();
    assert!(!aso.is_empty(), "{trusts:#?}");
    assert!(
        aso.iter().all(|w| w.starts_with("azureserviceoperator-system/azureserviceoperator-default trusted by")),
        "{aso:#?}"
    );
}

/// A forger's own right (subject → the cluster's hub) is a core of its own; what it forges from the hub on is
/// shared: a second forger adds one core, its right, not a copy of every forged path (the query's `via` is the
/// hub's fan-out, after the pivot; a `via` before it gave every forger a copy of each path).
#[test]
fn a_second_forger_adds_its_own_right_not_a_copy_of_every_forged_path() {
    let forging = |second: bool| {
        let mut s = tenant(ALL_CRDS);
        let k = &mut s.kubernetes[0];
        k.roles[0].rules.push(
            serde_json::from_value(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]})).unwrap(),
        );
        if second {
            let pat = binding("pat-aso", "team-a", "Role", "aso-editor", json!({"kind": "User", "name": PAT}));
            k.role_bindings.push(serde_json::from_value(pat).unwrap());
        }
        let r = common::analyze_checked(&s, &queries(), AnalyzeOptions::default());
        let mut cores: Vec<(String, Vec<EdgeKind>)> = r
            .findings
            .iter()
            .filter(|f| f.reach == Reach::Escalation && f.tiers.iter().any(|t| t.query_id == "aso-credential-forging"))
            .map(|f| (f.principal.id.clone(), f.hops.iter().map(|h| h.edge).collect()))
            .collect();
        cores.sort();
        cores
    };
    let (one, two) = (forging(false), forging(true));
    assert!(one.iter().any(|(p, hops)| p.ends_with(PLATFORM) && hops == &[EdgeKind::AsoCredentialForging]), "{one:#?}");
    assert!(one.iter().any(|(p, _)| p.ends_with("/k8s/aso-federated")), "the forged paths start at the hub: {one:#?}");
    let added: Vec<_> = two.iter().filter(|c| !one.contains(c)).collect();
    assert_eq!(added.len(), 1, "{added:#?}");
    assert!(added[0].0.ends_with(PAT) && added[0].1 == [EdgeKind::AsoCredentialForging], "{added:#?}");
    assert!(one.iter().all(|c| two.contains(c)));
}

#[test]
fn azure_rbac_for_kubernetes_data_actions_count_only_when_enabled() {
    const WENDY: &str = "aaaaaaaa-1111-0000-0000-000000000005";
    const RBAC_WRITER: &str = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb";
    let build = |enabled: bool| {
        let mut s = tenant(ALL_CRDS);
        s.entra.users.push(serde_json::from_value(json!({"id": WENDY, "displayName": "Wendy"})).unwrap());
        let scope = format!("{}/namespaces/team-b", cluster_id("prod"));
        s.azure
            .role_assignments
            .push(serde_json::from_value(assignment(9, WENDY, "User", RBAC_WRITER, &scope)).unwrap());
        s.azure.managed_clusters[0].properties.aad_profile.as_mut().unwrap().enable_azure_rbac = Some(enabled);
        common::pairs(&s, &queries(), AnalyzeOptions::default())
    };
    let on = build(true);
    let wendy =
        find(&on, "can-act-as-managed-identity", WENDY, APP_MI).expect("RBAC Writer on team-b runs pods as team-b/app");
    assert!(wendy.hops[0].detail.contains("Azure RBAC for Kubernetes"), "{:#?}", wendy.hops);
    assert!(find(&build(false), "can-act-as-managed-identity", WENDY, APP_MI).is_none());
}

#[test]
fn token_minting_impersonation_escalation_and_node_identity() {
    const MINNIE: &str = "aaaaaaaa-1111-0000-0000-000000000006";
    const ERIN: &str = "aaaaaaaa-1111-0000-0000-000000000007";
    const KUBELET: &str = "cccccccc-1111-0000-0000-000000000009";
    let mut s = tenant(ALL_CRDS);
    for (id, name) in [(MINNIE, "Minnie"), (ERIN, "Erin")] {
        s.entra.users.push(serde_json::from_value(json!({"id": id, "displayName": name})).unwrap());
    }
    let k = &mut s.kubernetes[0];
    let role = |name: &str, ns: Option<&str>, rules: Value| {
        serde_json::from_value(json!({"metadata": meta(name, ns), "rules": rules})).unwrap()
    };
    k.roles.push(role("mint-app", Some("team-b"), json!([{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"], "resourceNames": ["app"]}])));
    k.roles.push(role("mint-other", Some("team-b"), json!([{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"], "resourceNames": ["other"]}])));
    k.cluster_roles.push(role(
        "binder",
        None,
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}]),
    ));
    let b = |v: Value| serde_json::from_value(v).unwrap();
    k.role_bindings.push(b(binding("minnie", "team-b", "Role", "mint-app", json!({"kind": "User", "name": MINNIE}))));
    k.role_bindings.push(b(binding("erin", "team-b", "Role", "mint-other", json!({"kind": "User", "name": ERIN}))));
    k.cluster_role_bindings.push(b(json!({"metadata": meta("erin-binder", None), "roleRef": {"kind": "ClusterRole", "name": "binder"}, "subjects": [{"kind": "User", "name": ERIN}]})));
    s.azure.managed_clusters[0].properties.identity_profile = Some(
        serde_json::from_value(
            json!({"kubeletidentity": {"objectId": KUBELET, "clientId": "cccccccc-2222-0000-0000-000000000009"}}),
        )
        .unwrap(),
    );
    let f = common::pairs(&s, &queries(), AnalyzeOptions::default());
    // Minting app's token acts as its federated identity; a token right on another account does not.
    let minnie = find(&f, "can-act-as-managed-identity", MINNIE, APP_MI).expect("Minnie mints team-b/app tokens");
    assert!(minnie.hops.iter().any(|h| h.edge.to_string() == "CAN_MINT_TOKEN"));
    assert!(!f.iter().any(|x| x.source.id == ERIN && x.hops.iter().any(|h| h.edge.to_string() == "CAN_MINT_TOKEN")));
    // `bind` on cluster roles cluster-wide is cluster-admin; Victor's view is not.
    let admin = format!("{}/k8s/cluster-admin", cluster_id("prod")).to_lowercase();
    let erin = find(&f, "cluster-admin-from-azure", ERIN, &admin).expect("Erin escalates");
    assert!(erin.hops.iter().any(|h| h.edge.to_string() == "CAN_ESCALATE"));
    assert!(find(&f, "cluster-admin-from-azure", VICTOR, &admin).is_none());
    // Pods reach the kubelet identity: Pat (deploys in team-b) can act as it; without a kubelet identity, nobody.
    let kubelet = find(&f, "can-act-as-managed-identity", PAT, KUBELET).expect("Pat reaches the kubelet identity");
    assert!(kubelet.hops.iter().any(|h| h.edge.to_string() == "NODE_IDENTITY"));
    assert!(!findings(ALL_CRDS).iter().any(|x| x.hops.iter().any(|h| h.edge.to_string() == "NODE_IDENTITY")));
}

// ---------------------------------------------------------------------------------------------------------
// Deprecated pod-managed identity, legacy token Secrets, node breakout, AKS run command
// ---------------------------------------------------------------------------------------------------------

const POD_B: &str = "cccccccc-1111-0000-0000-000000000011"; // pod identity meant for team-b
const POD_B_CLIENT: &str = "cccccccc-2222-0000-0000-000000000011";
const POD_C: &str = "cccccccc-1111-0000-0000-000000000012"; // pod identity meant for team-c
const POD_C_CLIENT: &str = "cccccccc-2222-0000-0000-000000000012";

fn uami_id(name: &str) -> String {
    format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}", rg("identities"))
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn add_user(s: &mut Snapshot, id: &str, name: &str) {
    s.entra.users.push(from(json!({"id": id, "displayName": name})));
}

/// A namespaced Role `name` with `rules`, bound to user `user` in `ns`.
fn grant(s: &mut Snapshot, ns: &str, name: &str, user: &str, rules: Value) {
    let k = &mut s.kubernetes[0];
    k.roles.push(from(json!({"metadata": meta(name, Some(ns)), "rules": rules})));
    k.role_bindings.push(from(binding(name, ns, "Role", name, json!({"kind": "User", "name": user}))));
}

/// Dee can create pods in team-d only (Pat, who deploys in team-b, is already subscription Contributor
/// through team-b/app, so he reaches every identity).
const DEE: &str = "aaaaaaaa-1111-0000-0000-000000000009";

/// The test tenant plus namespace team-d (Pod Security `enforce` label `pss`, if any) where Dee creates pods.
fn with_dee(pss: Option<&str>) -> Snapshot {
    let mut s = tenant(ALL_CRDS);
    add_user(&mut s, DEE, "Dee");
    let labels = pss.map_or(json!({}), |l| json!({"pod-security.kubernetes.io/enforce": l}));
    s.kubernetes[0].namespaces.push(from(json!({"metadata": {"name": "team-d", "labels": labels}})));
    grant(&mut s, "team-d", "pods", DEE, json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]));
    s
}

/// [`with_dee`] (team-d enforcing `restricted`, so no node breakout) plus two user-assigned identities
/// for pods, POD_B and POD_C, with no role.
fn pod_identity_tenant() -> Snapshot {
    let mut s = with_dee(Some("restricted"));
    s.azure.user_assigned_identities.push(from(uami("pod-b", POD_B, POD_B_CLIENT)));
    s.azure.user_assigned_identities.push(from(uami("pod-c", POD_C, POD_C_CLIENT)));
    s
}

fn analyze_all(s: &Snapshot) -> Vec<Finding> {
    common::pairs(s, &queries(), AnalyzeOptions::default())
}

fn has_hop(f: &Finding, edge: &str) -> bool {
    f.hops.iter().any(|h| h.edge.to_string() == edge)
}

fn acts_as(f: &[Finding], source: &str, identity: &str) -> bool {
    find(f, "can-act-as-managed-identity", source, identity).is_some()
}

#[test]
fn pod_managed_identity_addon_serves_its_own_namespace_only() {
    let addon = |enabled: bool, exceptions: Value| {
        let mut s = pod_identity_tenant();
        s.azure.managed_clusters[0].properties.pod_identity_profile = Some(from(json!({
            "enabled": enabled,
            "userAssignedIdentities": [
                {"name": "orders", "namespace": "team-d", "bindingSelector": "orders-pods",
                 "identity": {"resourceId": uami_id("pod-b").to_uppercase(), "clientId": POD_B_CLIENT, "objectId": POD_B},
                 "provisioningState": "Assigned"},
                {"name": "billing", "namespace": "team-c",
                 "identity": {"resourceId": uami_id("pod-c"), "clientId": POD_C_CLIENT, "objectId": POD_C}}
            ],
            "userAssignedIdentityExceptions": exceptions
        })));
        s
    };
    let f = analyze_all(&addon(true, json!([])));
    // Dee runs pods in team-d: a pod labelled aadpodidbinding=orders-pods gets POD_B (resource id matched
    // without regard to case).
    let dee = find(&f, "can-act-as-managed-identity", DEE, POD_B).expect("Dee acts as team-d's pod identity");
    let hop = dee.hops.iter().find(|h| h.edge.to_string() == "POD_MANAGED_IDENTITY").expect("pod identity hop");
    assert!(hop.detail.contains("aadpodidbinding=orders-pods"), "{hop:#?}");
    assert!(hop.evidence.iter().any(|e| e.contains("team-d/orders")), "{hop:#?}");
    // The add-on is namespaced: team-c's identity is not Dee's, nor is anything when the add-on is off.
    assert!(!acts_as(&f, DEE, POD_C));
    assert!(!acts_as(&analyze_all(&addon(false, json!([]))), DEE, POD_B));
    // Cluster-admin runs pods anywhere, even with no Kubernetes dump collected at all.
    let mut azure_only = addon(true, json!([]));
    azure_only.kubernetes.clear();
    let f = analyze_all(&azure_only);
    let oscar = find(&f, "can-act-as-managed-identity", OSCAR, POD_C).expect("admin");
    assert!(has_hop(oscar, "POD_MANAGED_IDENTITY") && has_hop(oscar, "AKS_CLUSTER_ADMIN"), "{oscar:#?}");
    // An exception lets matching pods of team-d past NMI to the instance metadata service, where every pod
    // identity assigned to the node pools answers.
    let f = analyze_all(&addon(true, json!([{"name": "probe", "namespace": "team-d", "podLabels": {"app": "probe"}}])));
    let via = find(&f, "can-act-as-managed-identity", DEE, POD_C).expect("exception bypasses NMI");
    assert!(via.hops.iter().any(|h| h.label == "NMI exception" && h.detail.contains("app=probe")), "{via:#?}");
}

#[test]
fn aad_pod_identity_bindings_serve_every_namespace_unless_namespaced() {
    let identity = |ns: &str, name: &str, spec: Value, annotations: Value| {
        json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
               "metadata": {"name": name, "namespace": ns, "annotations": annotations}, "spec": spec})
    };
    let binding = |ns: &str, identity: &str, selector: &str| {
        json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
               "metadata": {"name": format!("{identity}-binding"), "namespace": ns},
               "spec": {"azureIdentity": identity, "selector": selector}})
    };
    let mi_c = json!({"type": 0, "resourceID": uami_id("pod-c"), "clientID": POD_C_CLIENT});
    let build = |items: Vec<Value>| {
        let mut s = pod_identity_tenant();
        let dump = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
        let parsed = azpath_graph::kube_dump::parse(&dump, "pod-identity.json", &cluster_id("prod")).unwrap();
        azpath_graph::kube_dump::merge(&mut s.kubernetes[0], parsed);
        analyze_all(&s)
    };
    // Not namespaced by default: Dee, who runs pods only in team-d, labels one with team-c's selector.
    let f = build(vec![identity("team-c", "mi-c", mi_c.clone(), json!({})), binding("team-c", "mi-c", "c-pods")]);
    let dee = find(&f, "can-act-as-managed-identity", DEE, POD_C).expect("binding usable from team-d");
    let hop = dee.hops.iter().find(|h| h.edge.to_string() == "POD_MANAGED_IDENTITY").unwrap();
    assert!(hop.detail.contains("not collected") && hop.detail.contains("aadpodidbinding=c-pods"), "{hop:#?}");
    // Namespaced per identity (annotation) or for the whole install (NMI flag): only team-c's pods.
    let namespaced = json!({"aadpodidentity.k8s.io/Behavior": "namespaced"});
    let f = build(vec![identity("team-c", "mi-c", mi_c.clone(), namespaced), binding("team-c", "mi-c", "c-pods")]);
    assert!(!acts_as(&f, DEE, POD_C));
    let nmi = |args: Value| {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "nmi", "namespace": "kube-system"},
               "spec": {"template": {"spec": {"containers": [{"name": "nmi",
                   "image": "mcr.microsoft.com/oss/azure/aad-pod-identity/nmi:v1.8.17", "args": args}]}}}})
    };
    let with_nmi = |args: Value| {
        build(vec![identity("team-c", "mi-c", mi_c.clone(), json!({})), binding("team-c", "mi-c", "c-pods"), nmi(args)])
    };
    assert!(!acts_as(&with_nmi(json!(["--node=$(NODE_NAME)", "--forceNamespaced"])), DEE, POD_C));
    assert!(!acts_as(&with_nmi(json!(["--operation-mode=managed"])), DEE, POD_C));
    let f = with_nmi(json!(["--forceNamespaced=false"]));
    let dee = find(&f, "can-act-as-managed-identity", DEE, POD_C).expect("NMI seen, not namespaced");
    assert!(dee.hops.iter().any(|h| h.detail.contains("kube-system/nmi runs without --forceNamespaced")));
    // MIC looks the identity up in the binding's own namespace: a binding in team-d naming team-c's identity
    // binds nothing.
    assert!(!acts_as(
        &build(vec![identity("team-c", "mi-c", mi_c, json!({})), binding("team-d", "mi-c", "x")]),
        DEE,
        POD_C
    ));
    // A service principal with a client secret: the binding reaches the SP (User Access Administrator), and so
    // does reading the Secret NMI reads its password from.
    const RHEA: &str = "aaaaaaaa-1111-0000-0000-000000000010";
    let sp = json!({"type": 1, "clientID": UAA_APP_CLIENT, "tenantID": TENANT,
                    "clientPassword": {"name": "legacy-sp", "namespace": "team-c"}});
    let mut s = pod_identity_tenant();
    add_user(&mut s, RHEA, "Rhea");
    grant(
        &mut s,
        "team-c",
        "read-legacy-sp",
        RHEA,
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["legacy-sp"]}]),
    );
    let dump = json!({"kind": "List", "items": [identity("team-c", "legacy", sp, json!({})), binding("team-c", "legacy", "legacy")]});
    let parsed = azpath_graph::kube_dump::parse(&dump.to_string(), "sp.json", "prod").unwrap();
    azpath_graph::kube_dump::merge(&mut s.kubernetes[0], parsed);
    let f = analyze_all(&s);
    let dee = find(&f, "owner-equivalent-on-subscription", DEE, &sub()).expect("Dee acts as the UAA app");
    assert!(dee.hops.iter().any(|h| h.edge.to_string() == "POD_MANAGED_IDENTITY" && h.to.id == UAA_SP), "{dee:#?}");
    let rhea = find(&f, "owner-equivalent-on-subscription", RHEA, &sub()).expect("Rhea reads the SP's password");
    assert!(rhea
        .hops
        .iter()
        .any(|h| h.edge.to_string() == "CAN_READ_SECRETS" && h.detail.contains("team-c/legacy-sp")));
}

#[test]
fn legacy_token_secret_readers_act_as_its_service_account() {
    const RITA: &str = "aaaaaaaa-1111-0000-0000-000000000011"; // get on the token Secret
    const SAM: &str = "aaaaaaaa-1111-0000-0000-000000000012"; // get on another Secret
    const TOM: &str = "aaaaaaaa-1111-0000-0000-000000000013"; // get on an Opaque look-alike
    const WES: &str = "aaaaaaaa-1111-0000-0000-000000000014"; // watch on all secrets
    const CARL: &str = "aaaaaaaa-1111-0000-0000-000000000015"; // create + get secrets
    const CORA: &str = "aaaaaaaa-1111-0000-0000-000000000016"; // create secrets only
    let mut s = tenant(ALL_CRDS);
    for (id, name) in [(RITA, "Rita"), (SAM, "Sam"), (TOM, "Tom"), (WES, "Wes"), (CARL, "Carl"), (CORA, "Cora")] {
        add_user(&mut s, id, name);
    }
    let get = |names: &[&str]| json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": names}]);
    grant(&mut s, "team-b", "rita", RITA, get(&["app-token"]));
    grant(&mut s, "team-b", "sam", SAM, get(&["other"]));
    grant(&mut s, "team-b", "tom", TOM, get(&["look-alike"]));
    grant(&mut s, "team-b", "wes", WES, json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}]));
    grant(
        &mut s,
        "team-b",
        "carl",
        CARL,
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["carl-made"]}]),
    );
    grant(&mut s, "team-b", "cora", CORA, json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]));
    // The Secrets go through the dump reader: the account name must survive sanitizing, the token must not.
    let token = |name: &str, kind: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
               "metadata": {"name": name, "namespace": "team-b",
                            "annotations": {"kubernetes.io/service-account.name": "app",
                                            "kubernetes.io/service-account.uid": "5b0c7a52-0000-4000-8000-000000000001"}},
               "data": {"token": "cGxhbnRlZC10b2tlbg==", "ca.crt": "Y2E=", "namespace": "dGVhbS1i"}})
    };
    let dump = json!({"kind": "List", "items": [token("app-token", "kubernetes.io/service-account-token"), token("look-alike", "Opaque")]});
    let parsed = azpath_graph::kube_dump::parse(&dump.to_string(), "tokens.json", "prod").unwrap();
    assert!(!serde_json::to_string(&parsed).unwrap().contains("cGxhbnRlZC10b2tlbg"), "token kept");
    azpath_graph::kube_dump::merge(&mut s.kubernetes[0], parsed);
    let f = analyze_all(&s);
    // team-b/app is federated to APP_MI: reading its token acts as it.
    let rita = find(&f, "can-act-as-managed-identity", RITA, APP_MI).expect("Rita reads app's token");
    let hop = rita.hops.iter().find(|h| h.edge.to_string() == "CAN_READ_SECRETS").expect("token hop");
    assert!(hop.detail.contains("team-b/app-token") && hop.detail.contains("5b0c7a52"), "{hop:#?}");
    assert!(hop.to.id.ends_with("/k8s/namespaces/team-b/serviceaccounts/app"), "{hop:#?}");
    assert!(acts_as(&f, WES, APP_MI), "watch returns Secret values too");
    for decoy in [SAM, TOM, CORA] {
        assert!(!acts_as(&f, decoy, APP_MI), "{decoy} cannot read app's token");
    }
    // Creating a token Secret naming the account makes the token controller fill it in.
    let carl = find(&f, "can-act-as-managed-identity", CARL, APP_MI).expect("Carl mints through a Secret");
    assert!(has_hop(carl, "CAN_MINT_TOKEN"), "{carl:#?}");
}

#[test]
fn node_breakout_reaches_tokens_on_any_node_unless_pod_security_is_enforced() {
    // Dee runs pods in team-d; ASO's controller (azureserviceoperator-system) mounts the token of a service
    // account federated to ASO_MI (subscription Contributor).
    let build = |label: Option<&str>, tweak: &dyn Fn(&mut Snapshot)| {
        let mut s = with_dee(label);
        tweak(&mut s);
        analyze_all(&s)
    };
    let none = |_: &mut Snapshot| {};
    let f = build(None, &none);
    let dee = find(&f, "can-act-as-managed-identity", DEE, ASO_MI).expect("Dee breaks out to ASO's node");
    let hop = dee.hops.iter().find(|h| h.edge.to_string() == "NODE_BREAKOUT").expect("breakout hop");
    assert_eq!(hop.label, "node breakout");
    assert!(hop.evidence[0].contains("no pod-security.kubernetes.io/enforce label"), "{hop:#?}");
    assert!(hop.to.id.ends_with("/k8s/nodes"), "through the cluster's nodes: {hop:#?}");
    let token = dee.hops.iter().find(|h| h.label == "token on node").expect("token hop");
    assert_eq!(token.edge.to_string(), "NODE_BREAKOUT");
    assert!(token.detail.contains("azureserviceoperator-system/deployments/azureserviceoperator-controller-manager"));
    assert!(acts_as(&build(Some("privileged"), &none), DEE, ASO_MI));
    for enforced in ["baseline", "restricted", "Restricted-typo"] {
        assert!(!acts_as(&build(Some(enforced), &none), DEE, ASO_MI), "{enforced} blocks privileged pods");
    }
    // No token on the node: the pod opts out of automounting, or the Deployment runs no pods.
    let opt_out = |s: &mut Snapshot| s.kubernetes[0].deployments[0].automount_service_account_token = Some(false);
    assert!(!acts_as(&build(None, &opt_out), DEE, ASO_MI));
    assert!(!acts_as(&build(None, &|s| s.kubernetes[0].deployments[0].replicas = Some(0)), DEE, ASO_MI));
    // The account's own opt-out counts unless the pod opts back in.
    let sa_opt_out = |s: &mut Snapshot| {
        let k = &mut s.kubernetes[0];
        k.service_accounts.iter_mut().for_each(|a| a.automount_service_account_token = Some(false));
    };
    assert!(!acts_as(&build(None, &sa_opt_out), DEE, ASO_MI));
    let opt_in = |s: &mut Snapshot| {
        sa_opt_out(s);
        s.kubernetes[0].deployments[0].automount_service_account_token = Some(true);
    };
    assert!(acts_as(&build(None, &opt_in), DEE, ASO_MI));
    // The kubelet identity edge is untouched by Pod Security.
    const KUBELET: &str = "cccccccc-1111-0000-0000-000000000009";
    let kubelet = |s: &mut Snapshot| {
        s.azure.managed_clusters[0].properties.identity_profile =
            Some(from(json!({"kubeletidentity": {"objectId": KUBELET}})));
    };
    assert!(acts_as(&build(Some("restricted"), &kubelet), DEE, KUBELET));
}

#[test]
fn aks_run_command_is_cluster_admin_only_without_entra_integration() {
    const REX: &str = "aaaaaaaa-1111-0000-0000-000000000020";
    const RUNNER: &str = "eeeeeeee-0000-0000-0000-000000000001";
    let build = |legacy: Value| {
        let mut s = tenant(ALL_CRDS);
        add_user(&mut s, REX, "Rex");
        s.azure.role_definitions.push(from(json!({
            "id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{RUNNER}"),
            "name": RUNNER,
            "properties": {"roleName": "AKS command runner", "type": "CustomRole", "assignableScopes": [sub()],
                "permissions": [{"actions": ["Microsoft.ContainerService/managedClusters/runcommand/action",
                                             "Microsoft.ContainerService/managedClusters/commandResults/read",
                                             "Microsoft.ContainerService/managedClusters/read"]}]}
        })));
        s.azure.managed_clusters.push(from(legacy));
        for (n, c) in [(20, "legacy"), (21, "prod")] {
            s.azure.role_assignments.push(from(assignment(n, REX, "User", RUNNER, &cluster_id(c))));
        }
        analyze_all(&s)
    };
    let legacy = |access: Value| {
        json!({"id": cluster_id("legacy"), "name": "legacy",
               "properties": {"enableRBAC": true, "apiServerAccessProfile": access}})
    };
    let admin = |c: &str| format!("{}/k8s/cluster-admin", cluster_id(c)).to_lowercase();
    let f = build(legacy(json!({"enablePrivateCluster": true})));
    let rex = find(&f, "cluster-admin-from-azure", REX, &admin("legacy")).expect("run command as admin");
    assert_eq!(rex.hops[0].edge.to_string(), "AKS_RUN_COMMAND");
    assert!(rex.hops[0].detail.contains("no Entra integration"), "{rex:#?}");
    // prod is Entra-integrated: run command acts as Rex himself, who has no in-cluster rights.
    assert!(find(&f, "cluster-admin-from-azure", REX, &admin("prod")).is_none());
    let off = build(legacy(json!({"enablePrivateCluster": true, "disableRunCommand": true})));
    assert!(find(&off, "cluster-admin-from-azure", REX, &admin("legacy")).is_none());
}

#[test]
fn identity_bindings_need_the_binding_on_this_cluster_and_rbac_for_the_client_id() {
    const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
    const IRIS: &str = "aaaaaaaa-1111-0000-0000-000000000030"; // runs pods in team-ib only
    const IB_MI: &str = "cccccccc-1111-0000-0000-000000000010";
    const IB_MI_CLIENT: &str = "cccccccc-2222-0000-0000-000000000010";
    const IB_NOT_ALLOWED: &str = "cccccccc-1111-0000-0000-000000000011"; // bound here, RBAC names another id
    const IB_NOT_ALLOWED_CLIENT: &str = "cccccccc-2222-0000-0000-000000000011";
    const IB_ELSEWHERE: &str = "cccccccc-1111-0000-0000-000000000012"; // allowed here, bound to `locked`
    const IB_ELSEWHERE_CLIENT: &str = "cccccccc-2222-0000-0000-000000000012";
    const IB_OTHER_NS: &str = "cccccccc-1111-0000-0000-000000000013"; // allowed by a RoleBinding in team-a
    const IB_OTHER_NS_CLIENT: &str = "cccccccc-2222-0000-0000-000000000013";
    const IB_ISSUER: &str = "https://eastus.oic.prod-aks.azure.com/33333333-0000-0000-0000-000000000001/ib/";
    let mut s = tenant(ALL_CRDS);
    add_user(&mut s, IRIS, "Iris");
    let ids = [
        ("ib-app", IB_MI, IB_MI_CLIENT, "prod"),
        ("ib-not-allowed", IB_NOT_ALLOWED, IB_NOT_ALLOWED_CLIENT, "prod"),
        ("ib-elsewhere", IB_ELSEWHERE, IB_ELSEWHERE_CLIENT, "locked"),
        ("ib-other-ns", IB_OTHER_NS, IB_OTHER_NS_CLIENT, "prod"),
    ];
    for (n, (name, principal, client, cluster)) in ids.iter().enumerate() {
        s.azure.user_assigned_identities.push(from(uami(name, principal, client)));
        // AKS keeps one federated credential per bound identity, with the binding issuer.
        s.azure.federated_identity_credentials.push(from(fic(name, "aks-identity-binding", IB_ISSUER, "aks-ib")));
        s.azure.role_assignments.push(from(assignment(30 + n as u32, principal, "ServicePrincipal", READER, &sub())));
        s.azure.identity_bindings.push(from(json!({
            "id": format!("{}/identityBindings/{name}", cluster_id(cluster)), "name": name,
            "properties": {"managedIdentity": {"resourceId": format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}", rg("identities")),
                                               "clientId": client, "objectId": principal},
                           "oidcIssuer": {"oidcIssuerUrl": IB_ISSUER}, "provisioningState": "Succeeded"}
        })));
    }
    let use_identity = |clients: &[&str]| json!([{"apiGroups": ["cid.wi.aks.azure.com"], "resources": clients, "verbs": ["use-managed-identity"]}]);
    let k = &mut s.kubernetes[0];
    // team-ib enforces Pod Security, so Iris cannot break out to other accounts' tokens.
    k.namespaces.push(from(
        json!({"metadata": {"name": "team-ib", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
    ));
    k.service_accounts.push(from(json!({"metadata": meta("worker", Some("team-ib"))})));
    grant(
        &mut s,
        "team-ib",
        "deployer",
        IRIS,
        json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}]),
    );
    let k = &mut s.kubernetes[0];
    k.cluster_roles.push(from(
        json!({"metadata": meta("use-ib-app", None), "rules": use_identity(&[IB_MI_CLIENT, IB_ELSEWHERE_CLIENT])}),
    ));
    k.cluster_role_bindings.push(from(json!({"metadata": meta("worker-uses-ib", None),
        "roleRef": {"kind": "ClusterRole", "name": "use-ib-app"},
        "subjects": [{"kind": "ServiceAccount", "name": "worker", "namespace": "team-ib"}]})));
    k.roles.push(from(
        json!({"metadata": meta("use-other", Some("team-a")), "rules": use_identity(&[IB_OTHER_NS_CLIENT])}),
    ));
    k.role_bindings.push(from(binding(
        "worker-uses-other",
        "team-a",
        "Role",
        "use-other",
        json!({"kind": "ServiceAccount", "name": "worker", "namespace": "team-ib"}),
    )));
    let f = analyze_all(&s);

    // Iris runs pods in team-ib as `worker`, which may use IB_MI's client id on a cluster IB_MI is bound to.
    let iris = find(&f, "can-act-as-managed-identity", IRIS, IB_MI).expect("Iris acts as the bound identity");
    let hop = iris.hops.iter().find(|h| h.edge.to_string() == "IDENTITY_BINDING").expect("binding hop");
    assert!(hop.from.id.ends_with("/k8s/namespaces/team-ib/serviceaccounts/worker"), "{hop:#?}");
    assert!(hop.evidence[0].to_lowercase().ends_with("/identitybindings/ib-app"), "{hop:#?}");
    assert_eq!(hop.label, "identity binding");
    assert!(!iris.conditional, "{hop:#?}");
    let worker = format!("{}/k8s/namespaces/team-ib/serviceaccounts/worker", cluster_id("prod")).to_lowercase();
    let bound = find(&f, "can-act-as-managed-identity", &worker, IB_MI).expect("worker acts as IB_MI");
    let fix = bound.remediation.command.as_deref().unwrap_or_default();
    assert!(
        fix.starts_with("az aks identity-binding delete") && fix.contains("--cluster-name prod --name ib-app"),
        "{fix}"
    );
    for decoy in [IB_NOT_ALLOWED, IB_ELSEWHERE, IB_OTHER_NS] {
        assert!(!acts_as(&f, IRIS, decoy), "{decoy}: no binding here, or no RBAC for its client id here");
    }
    // The binding's federated credential is not an outside workload.
    assert!(
        !f.iter().any(|x| x.source.id.starts_with(&format!("federated:{IB_ISSUER}"))),
        "binding issuer as external"
    );
    assert!(f.iter().any(|x| x.source.id.starts_with("federated:")), "other issuers still are");

    // The whole namespace's accounts, through the `system:serviceaccounts:team-ib` group.
    let mut g = s.clone();
    let k = &mut g.kubernetes[0];
    let crb = k.cluster_role_bindings.iter_mut().find(|b| b.metadata.name == "worker-uses-ib").unwrap();
    crb.subjects = vec![from(json!({"kind": "Group", "name": "system:serviceaccounts:team-ib"}))];
    assert!(acts_as(&analyze_all(&g), IRIS, IB_MI));
    crb_decoy(&mut g);
    assert!(!acts_as(&analyze_all(&g), IRIS, IB_MI), "another namespace's account group");
    // Missing its federated credential, the binding cannot work as documented: a conditional path.
    let mut c = s.clone();
    c.azure.federated_identity_credentials.retain(|x| !x.id.contains("/ib-app/"));
    let iris = find(&analyze_all(&c), "can-act-as-managed-identity", IRIS, IB_MI).cloned().expect("still reported");
    assert!(iris.conditional, "no federated credential with the binding issuer");
}

/// Points the `worker-uses-ib` ClusterRoleBinding at team-a's accounts instead.
fn crb_decoy(s: &mut Snapshot) {
    let k = &mut s.kubernetes[0];
    let crb = k.cluster_role_bindings.iter_mut().find(|b| b.metadata.name == "worker-uses-ib").unwrap();
    crb.subjects = vec![from(json!({"kind": "Group", "name": "system:serviceaccounts:team-a"}))];
}

#[test]
fn acting_as_an_identity_through_a_role_names_the_assignment_to_remove() {
    let f = findings(ALL_CRDS);
    // ASO_MI's subscription Contributor lets it add a federated credential to APP_MI.
    let via_role = find(&f, "can-act-as-managed-identity", ASO_MI, APP_MI).expect("second-order control");
    assert_eq!(via_role.hops[0].edge.to_string(), "CAN_WRITE_FEDERATED_CREDENTIAL");
    let assignment =
        format!("{}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000001", sub());
    assert_eq!(
        via_role.remediation.command.as_deref(),
        Some(format!("az role assignment delete --ids {assignment}").as_str())
    );
    // A service account's own path is its federated credential: delete that.
    let sa = format!("{}/k8s/namespaces/team-b/serviceaccounts/app", cluster_id("prod")).to_lowercase();
    let trust = find(&f, "can-act-as-managed-identity", &sa, APP_MI).expect("team-b/app acts as APP_MI");
    assert_eq!(
        trust.remediation.command.as_deref(),
        Some(format!("az identity federated-credential delete --subscription {SUB} --resource-group identities --identity-name app --name app").as_str())
    );
    // A path with no role behind it keeps the Kubernetes cut (Pat's RoleBinding), not an assignment.
    let pat = find(&f, "can-act-as-managed-identity", PAT, APP_MI).expect("Pat runs pods as team-b/app");
    assert_eq!(
        pat.remediation.command.as_deref(),
        Some("kubectl --context prod -n team-b edit rolebinding pat-deploys")
    );
}

/// The VM's system-assigned identity: whoever runs code on the VM acts as it.
const VM_MI: &str = "cccccccc-1111-0000-0000-0000000000f1";

/// The test tenant plus a VM in resource group `aks` with its own identity, and ASO's CRDs `crds`: team-a's
/// ASO identity is subscription Contributor, so it may run code on the VM, if ASO can.
fn with_vm(crds: &[(&str, &str)]) -> Snapshot {
    let mut s = tenant(crds);
    s.azure.identity_resources.push(from(json!({
        "id": format!("{}/providers/Microsoft.Compute/virtualMachines/vm-1", rg("aks")),
        "name": "vm-1", "type": "Microsoft.Compute/virtualMachines", "location": "eastus",
        "identity": {"type": "SystemAssigned", "principalId": VM_MI, "tenantId": TENANT}
    })));
    s
}

#[test]
fn aso_runs_code_on_a_vm_only_where_a_compute_crd_is_installed() {
    // ASO acting as a Contributor identity, then running code on the VM: the step after ASO's credential.
    let through_aso = |f: &Finding| {
        f.hops.windows(2).any(|w| w[0].edge == EdgeKind::AsoActsAs && w[1].edge == EdgeKind::CanRunAsResourceIdentity)
    };
    let with_crd = [ALL_CRDS, &[("compute.azure.com", "VirtualMachine")]].concat();
    let f = common::pairs(&with_vm(&with_crd), &queries(), AnalyzeOptions::default());
    let acts = find(&f, "can-act-as-managed-identity", ALICE, VM_MI).expect("Alice, through ASO, runs code on vm-1");
    assert!(through_aso(acts), "{acts:#?}");
    // Without a compute CRD, ASO cannot touch the VM: no path runs code there through ASO's credential.
    // (Alice may still get there the long way, as cluster-admin with ASO's own service account.)
    let f = common::pairs(&with_vm(ALL_CRDS), &queries(), AnalyzeOptions::default());
    assert!(!f.iter().any(through_aso), "{:#?}", f.iter().find(|p| through_aso(p)));
}

/// ASO's installed CRDs decide whether a pair exists at all, not only which way it takes: team-a's ASO identity
/// is Contributor on resource group `identities` only (it cannot write the cluster, so there is no long way
/// round as cluster-admin), and the VM sits there. Alice acts as the VM's identity only when a compute CRD
/// lets ASO run code on it.
#[test]
fn an_aso_credential_reaches_a_vm_identity_only_where_a_compute_crd_is_installed() {
    let confined = |crds: &[(&str, &str)]| {
        let mut s = with_vm(crds);
        s.azure.role_assignments[0] = from(assignment(1, ASO_MI, "ServicePrincipal", CONTRIBUTOR, &rg("identities")));
        let vm = s.azure.identity_resources.last_mut().unwrap();
        vm.id = format!("{}/providers/Microsoft.Compute/virtualMachines/vm-1", rg("identities"));
        common::pairs(&s, &queries(), AnalyzeOptions::default())
    };
    // Resource groups only, so ASO cannot write a federated credential on its own identity either.
    let base = [("resources.azure.com", "ResourceGroup")];
    let f = confined(&[base[0], ("compute.azure.com", "VirtualMachine")]);
    let acts = find(&f, "can-act-as-managed-identity", ALICE, VM_MI).expect("Alice, through ASO, runs code on vm-1");
    assert!(acts.hops.iter().any(|h| h.edge == EdgeKind::AsoActsAs), "{acts:#?}");
    let f = confined(&base);
    let other = find(&f, "can-act-as-managed-identity", ALICE, VM_MI);
    assert!(
        other.is_none(),
        "{:#?}",
        other.map(|p| p.hops.iter().map(|h| (h.edge, h.to.display_name.clone())).collect::<Vec<_>>())
    );
}

/// Oscar holds the AKS Cluster Admin role on prod: his best way to team-b's app identity (Contributor on the
/// subscription) goes through prod's cluster admin, a pivot, whose member he is. With `around`, he also owns a
/// service principal that may deploy in team-b: a way around every pivot, longer, that starts with a step of
/// his own. That way is a finding of his own (cutting the pivot alone would leave it); without it he has none.
/// Gives his own findings' hops in the tier, and whether he is the pivot's member there.
fn around_a_pivot(around: bool) -> (Vec<String>, bool) {
    const DEPLOYER_SP: &str = "dddddddd-3333-0000-0000-000000000002";
    let mut s = serde_json::to_value(tenant(ALL_CRDS)).unwrap();
    if around {
        let owner = json!([{"@odata.type": "#microsoft.graph.user", "id": OSCAR}]);
        let sp = json!({"id": DEPLOYER_SP, "appId": "dddddddd-2222-0000-0000-000000000002", "displayName": "deployer-sp", "owners": owner});
        s["entra"]["servicePrincipals"].as_array_mut().unwrap().push(sp);
        let subject = json!({"kind": "User", "name": DEPLOYER_SP});
        let deploys = binding("sp-deploys", "team-b", "Role", "deployer", subject);
        s["kubernetes"][0]["roleBindings"].as_array_mut().unwrap().push(deploys);
    }
    let s: Snapshot = from(s);
    let report = common::analyze_checked(&s, &queries(), AnalyzeOptions::default());
    let query = "contributor-or-stronger-on-subscription";
    let to_app = |f: &&azpath_graph::findings::Finding| {
        f.tiers.iter().any(|t| t.query_id == query) && f.hops.iter().any(|h| h.to.id.eq_ignore_ascii_case(APP_MI))
    };
    let own: Vec<String> = report
        .findings
        .iter()
        .filter(to_app)
        .filter(|f| f.principal.id.eq_ignore_ascii_case(OSCAR))
        .map(|f| f.hops.iter().map(|h| h.edge.to_string()).collect::<Vec<_>>().join(" > "))
        .collect();
    let prod_admin = format!("{}/k8s/cluster-admin", cluster_id("prod")).to_lowercase();
    let member_of_pivot = report.findings.iter().filter(to_app).any(|f| {
        f.principal.id == prod_admin
            && report.members_of(f).is_some_and(|m| m.iter().any(|(n, _)| n.id.eq_ignore_ascii_case(OSCAR)))
    });
    (own, member_of_pivot)
}

#[test]
fn a_way_around_a_pivot_is_a_finding_of_its_own() {
    let (own, member) = around_a_pivot(true);
    assert!(member, "Oscar's best way is through prod's cluster admin");
    let way = "CAN_ADD_CREDENTIAL > KUBERNETES_IDENTITY > CAN_CREATE_WORKLOADS > RUNS_AS > FEDERATED_TRUST > HAS_ROLE";
    assert_eq!(own, vec![way], "his way around it");
    let (own, member) = around_a_pivot(false);
    assert!(member, "still the pivot's member");
    assert!(own.is_empty(), "no way around the pivot, no finding of his own: {own:?}");
}
