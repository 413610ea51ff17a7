//! Kubernetes, workload identity and ASO semantics on a small in-code tenant: the acceptance cases of issue 3,
//! each with a decoy beside it.

use azpath_graph::engine::{analyze, AnalyzeOptions};
use azpath_graph::findings::Finding;
use azpath_graph::query::Query;
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

fn queries() -> Vec<Query> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml")
                .then(|| Query::parse(&std::fs::read_to_string(&p).unwrap(), &p.display().to_string()).unwrap())
        })
        .collect()
}

const ALL_CRDS: &[(&str, &str)] = &[
    ("resources.azure.com", "ResourceGroup"),
    ("authorization.azure.com", "RoleAssignment"),
    ("managedidentity.azure.com", "UserAssignedIdentity"),
    ("managedidentity.azure.com", "FederatedIdentityCredential"),
];

fn findings(crds: &[(&str, &str)]) -> Vec<Finding> {
    analyze(&tenant(crds), &queries(), AnalyzeOptions::default()).findings
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
    // Without the RoleAssignment CRD, ASO cannot use the identity's role-assignment power.
    let without = findings(&[("resources.azure.com", "ResourceGroup")]);
    assert!(find(&without, "owner-equivalent-on-subscription", ALICE, &sub()).is_none());
    let team_c = format!("{}/k8s/namespaces/team-c/aso", cluster_id("prod")).to_lowercase();
    assert!(find(&f, "aso-identity-broader-than-namespace", &team_c, &sub()).is_some());
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
    let f = analyze(&s, &queries(), AnalyzeOptions::default()).findings;
    assert!(
        find(&f, "aso-credential-forging", ALICE, ASO_MI).is_some(),
        "{:#?}",
        f.iter().map(|x| (&x.query_id, &x.source.id, &x.target.id)).collect::<Vec<_>>()
    );
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
        analyze(&s, &queries(), AnalyzeOptions::default()).findings
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
    let f = analyze(&s, &queries(), AnalyzeOptions::default()).findings;
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
