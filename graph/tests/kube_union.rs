//! Kubernetes RBAC as Kubernetes evaluates it (issue 10): a subject holds the union of every binding of its
//! name and of its groups (Entra groups, `system:authenticated`, `system:serviceaccounts[:<ns>]`), and powers
//! that need two permissions are judged on that union. Each case has a decoy beside it.

mod common;

use common::queries;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair;
use azpath_graph::model::{EdgeKind, NodeKind};
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "22222222-0000-0000-0000-000000000001";
const TENANT: &str = "33333333-0000-0000-0000-000000000001";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const ISSUER: &str = "https://eastus.oic.prod-aks.azure.com/33333333-0000-0000-0000-000000000001/aaaa/";
const ASO_MI: &str = "cccccccc-1111-0000-0000-000000000001"; // federated to ASO's own service account
const APP_MI: &str = "cccccccc-1111-0000-0000-000000000002"; // federated to team-a/app
const ALICE: &str = "aaaaaaaa-1111-0000-0000-000000000001";
const BOB: &str = "aaaaaaaa-1111-0000-0000-000000000002";
const CAROL: &str = "aaaaaaaa-1111-0000-0000-000000000003";
const DAN: &str = "aaaaaaaa-1111-0000-0000-000000000004";
const SECRETS_GROUP: &str = "bbbbbbbb-1111-0000-0000-000000000001";
const ASO_GROUP: &str = "bbbbbbbb-1111-0000-0000-000000000002";

fn rg(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

fn cluster_id() -> String {
    format!("{}/providers/Microsoft.ContainerService/managedClusters/prod", rg("aks"))
}

fn uami(name: &str, principal: &str, n: u32) -> Value {
    json!({"id": format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}", rg("identities")),
           "name": name, "properties": {"principalId": principal, "clientId": format!("dddddddd-0000-0000-0000-{n:012}"), "tenantId": TENANT}})
}

fn fic(identity: &str, subject: &str) -> Value {
    json!({"id": format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}/federatedIdentityCredentials/k8s", rg("identities")),
           "name": "k8s", "properties": {"issuer": ISSUER, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}})
}

fn meta(name: &str, ns: Option<&str>) -> Value {
    match ns {
        Some(ns) => json!({"name": name, "namespace": ns}),
        None => json!({"name": name}),
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn user(id: &str) -> Value {
    json!({"kind": "User", "name": id})
}

fn group(name: &str) -> Value {
    json!({"kind": "Group", "name": name})
}

fn sa(ns: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
}

/// A RoleBinding in `ns` of ClusterRole `role`.
fn rb(name: &str, ns: &str, role: &str, subject: Value) -> Value {
    json!({"metadata": meta(name, Some(ns)), "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": [subject]})
}

/// A ClusterRoleBinding of ClusterRole `role`.
fn crb(name: &str, role: &str, subject: Value) -> Value {
    json!({"metadata": meta(name, None), "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": [subject]})
}

/// Cluster "prod" (Entra-integrated) running ASO in relaxed mode, watching team-a and team-c; ASO_MI is
/// federated to ASO's service account (so forging reaches it), APP_MI to team-a/app; both are subscription
/// Contributors; every namespace enforces Pod Security `restricted` (no node breakout). The ClusterRoles: `secret-writer` (create Secrets), `secret-reader` (get Secrets),
/// `aso-writer` (create `*.azure.com`), `aso-reader` (get, list), `pod-creator` (create pods), `secret-admin`
/// (create and get Secrets).
fn tenant(role_bindings: Vec<Value>, cluster_role_bindings: Vec<Value>) -> Snapshot {
    let cluster_role = |name: &str, rules: Value| json!({"metadata": meta(name, None), "rules": rules});
    let namespaces: Vec<Value> = ["team-a", "team-b", "team-c", "azureserviceoperator-system"]
        .iter()
        .map(|n| json!({"metadata": {"name": n, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
        .collect();
    let kube = json!({
        "cluster": cluster_id(),
        "source": "test",
        "namespaces": namespaces,
        "serviceAccounts": [
            {"metadata": meta("app", Some("team-a"))}, {"metadata": meta("ci", Some("team-a"))},
            {"metadata": meta("ci", Some("team-b"))},
            {"metadata": meta("azureserviceoperator-default", Some("azureserviceoperator-system"))}
        ],
        "roles": [],
        "clusterRoles": [
            cluster_role("secret-writer", json!([rule(&[""], &["secrets"], &["create"])])),
            cluster_role("secret-reader", json!([rule(&[""], &["secrets"], &["get"])])),
            cluster_role("aso-writer", json!([rule(&["resources.azure.com"], &["*"], &["create", "get"])])),
            cluster_role("aso-reader", json!([rule(&["resources.azure.com"], &["*"], &["get", "list"])])),
            cluster_role("pod-creator", json!([rule(&[""], &["pods"], &["create"])])),
            cluster_role("secret-admin", json!([rule(&[""], &["secrets"], &["create", "get"])]))
        ],
        "roleBindings": role_bindings,
        "clusterRoleBindings": cluster_role_bindings,
        "secrets": [{"metadata": {"name": "aso-controller-settings", "namespace": "azureserviceoperator-system"}, "type": "Opaque",
                     "keys": ["AZURE_TARGET_NAMESPACES"], "values": {"AZURE_TARGET_NAMESPACES": "team-a,team-c"}}],
        "crds": [{"name": "resourcegroups.resources.azure.com", "group": "resources.azure.com", "kind": "ResourceGroup"}],
        "deployments": [{"metadata": meta("azureserviceoperator-controller-manager", Some("azureserviceoperator-system")),
                         "serviceAccountName": "azureserviceoperator-default", "images": ["mcr.microsoft.com/k8s/azureserviceoperator:v2.9.0"]}]
    });
    let assignment = |n: u32, principal: &str| {
        json!({"id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
               "properties": {"scope": format!("/subscriptions/{SUB}"), "principalId": principal, "principalType": "ServicePrincipal",
                              "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}")}})
    };
    let s = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2025-01-01T00:00:00Z"},
        "azure": {
            "subscriptions": [{"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "displayName": "Prod"}],
            "resourceGroups": [{"id": rg("aks"), "name": "aks"}, {"id": rg("identities"), "name": "identities"}],
            "roleAssignments": [assignment(1, ASO_MI), assignment(2, APP_MI)],
            "userAssignedIdentities": [uami("aso", ASO_MI, 1), uami("app", APP_MI, 2)],
            "federatedIdentityCredentials": [
                fic("aso", "system:serviceaccount:azureserviceoperator-system:azureserviceoperator-default"),
                fic("app", "system:serviceaccount:team-a:app")
            ],
            "managedClusters": [{"id": cluster_id(), "name": "prod", "properties": {"fqdn": "prod.hcp.eastus.azmk8s.io",
                "aadProfile": {"managed": true, "enableAzureRBAC": false}, "oidcIssuerProfile": {"enabled": true, "issuerURL": ISSUER}}}]
        },
        "entra": {
            "users": [{"id": ALICE, "displayName": "Alice"}, {"id": BOB, "displayName": "Bob"}, {"id": CAROL, "displayName": "Carol"}, {"id": DAN, "displayName": "Dan"}],
            "groups": [{"id": SECRETS_GROUP, "displayName": "Secret writers"}, {"id": ASO_GROUP, "displayName": "ASO writers"}],
            "groupMembers": [
                {"groupId": SECRETS_GROUP, "members": [{"@odata.type": "#microsoft.graph.user", "id": ALICE}, {"@odata.type": "#microsoft.graph.user", "id": CAROL}, {"@odata.type": "#microsoft.graph.user", "id": DAN}]},
                {"groupId": ASO_GROUP, "members": [{"@odata.type": "#microsoft.graph.user", "id": CAROL}]}
            ]
        },
        "kubernetes": [kube]
    });
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

fn pairs(s: &Snapshot) -> Vec<Pair> {
    common::pairs(s, &queries(), AnalyzeOptions::default())
}

fn find<'a>(f: &'a [Pair], query: &str, source: &str, target: &str) -> Option<&'a Pair> {
    f.iter().find(|x| {
        x.query_id == query && x.source.id.eq_ignore_ascii_case(source) && x.target.id.eq_ignore_ascii_case(target)
    })
}

fn kube(rest: &str) -> String {
    format!("{}/k8s/{rest}", cluster_id()).to_ascii_lowercase()
}

fn forges(f: &[Pair], source: &str) -> bool {
    find(f, "aso-credential-forging", source, ASO_MI).is_some()
}

fn acts_as_app(f: &[Pair], source: &str) -> bool {
    find(f, "can-act-as-managed-identity", source, APP_MI).is_some()
}

#[test]
fn secret_and_aso_rights_from_a_group_rolebinding_and_a_user_clusterrolebinding_combine_into_forging() {
    let s = tenant(
        vec![
            // Alice (through the Entra group) and Bob create Secrets in team-a …
            rb("secrets", "team-a", "secret-writer", group(SECRETS_GROUP)),
            rb("bob-secrets", "team-a", "secret-writer", user(BOB)),
            // … Dan creates Secrets in team-a and ASO resources in team-c only.
            rb("dan-aso", "team-c", "aso-writer", user(DAN)),
        ],
        vec![
            // Alice writes ASO resources everywhere; Bob only reads them.
            crb("alice-aso", "aso-writer", user(ALICE)),
            crb("bob-aso", "aso-reader", user(BOB)),
        ],
    );
    let f = pairs(&s);
    let alice = find(&f, "aso-credential-forging", ALICE, ASO_MI).expect("Alice's two bindings combine");
    let hop = alice.hops.iter().find(|h| h.edge.to_string() == "ASO_CREDENTIAL_FORGING").unwrap();
    assert!(
        hop.detail.contains("RoleBinding team-a/secrets") && hop.detail.contains("ClusterRoleBinding alice-aso"),
        "{hop:#?}"
    );
    // Reading ASO resources is not writing them; rights in two different namespaces do not combine.
    assert!(!forges(&f, BOB), "Bob only reads ASO resources");
    assert!(!forges(&f, DAN), "Dan's Secret and ASO rights are in different namespaces");
    // Neither binding alone forges: the group's Kubernetes subject does not.
    assert!(!forges(&f, &kube(&format!("groups/{SECRETS_GROUP}"))));
}

#[test]
fn an_entra_user_in_two_groups_holds_both_groups_bindings() {
    let s = tenant(
        vec![
            rb("secrets", "team-a", "secret-writer", group(SECRETS_GROUP)),
            rb("aso", "team-a", "aso-writer", group(ASO_GROUP)),
        ],
        vec![],
    );
    let f = pairs(&s);
    // Carol is in both groups; Alice and Dan only in the Secret writers.
    let carol = find(&f, "aso-credential-forging", CAROL, ASO_MI).expect("Carol's two groups combine");
    // Through the set of everyone in both groups (members_of_two_groups_share_one_subject_set_… below).
    assert_eq!(carol.hops[0].edge.to_string(), "KUBERNETES_IDENTITY", "{carol:#?}");
    assert_eq!(carol.hops[1].edge.to_string(), "ASO_CREDENTIAL_FORGING", "{carol:#?}");
    assert!(!forges(&f, ALICE) && !forges(&f, DAN));
    assert!(!forges(&f, SECRETS_GROUP) && !forges(&f, ASO_GROUP), "neither group alone forges");
}

#[test]
fn creating_a_token_secret_through_one_binding_and_reading_it_through_another_mints_a_token() {
    let s = tenant(
        vec![
            // team-a/ci creates Secrets; every service account of team-a reads them.
            rb("ci-secrets", "team-a", "secret-writer", sa("team-a", "ci")),
            rb("sa-read", "team-a", "secret-reader", group("system:serviceaccounts:team-a")),
            // team-b/ci creates Secrets in team-a but is not in team-a's service-account group.
            rb("b-ci-secrets", "team-a", "secret-writer", sa("team-b", "ci")),
        ],
        vec![],
    );
    let f = pairs(&s);
    let ci = kube("namespaces/team-a/serviceaccounts/ci");
    let path = find(&f, "can-act-as-managed-identity", &ci, APP_MI).expect("team-a/ci mints app's token");
    let hop = path.hops.iter().find(|h| h.edge.to_string() == "CAN_MINT_TOKEN").expect("a mint hop");
    assert!(
        hop.detail.contains("RoleBinding team-a/ci-secrets") && hop.detail.contains("RoleBinding team-a/sa-read"),
        "{hop:#?}"
    );
    assert!(!acts_as_app(&f, &kube("namespaces/team-b/serviceaccounts/ci")), "creates but cannot read back");
}

#[test]
fn implicit_groups_reach_their_members_only() {
    let s = tenant(
        vec![rb("team-a-pods", "team-a", "pod-creator", group("system:serviceaccounts:team-a"))],
        vec![crb("everyone-reads", "secret-reader", group("system:authenticated"))],
    );
    let f = pairs(&s);
    // Every service account of team-a can run pods there, so as team-a/app; team-b's cannot.
    assert!(acts_as_app(&f, &kube("namespaces/team-a/serviceaccounts/ci")));
    assert!(!acts_as_app(&f, &kube("namespaces/team-b/serviceaccounts/ci")));
    let s = tenant(vec![rb("bob-secrets", "team-a", "secret-writer", user(BOB))], vec![]);
    assert!(!acts_as_app(&pairs(&s), BOB), "Bob cannot read back a token Secret");
    // Bob creates Secrets himself and reads them as a member of system:authenticated.
    let s = tenant(
        vec![rb("bob-secrets", "team-a", "secret-writer", user(BOB))],
        vec![crb("everyone-reads", "secret-reader", group("system:authenticated"))],
    );
    let f = pairs(&s);
    let bob =
        find(&f, "can-act-as-managed-identity", BOB, APP_MI).expect("Bob's binding and system:authenticated's combine");
    assert!(bob.hops.iter().any(|h| h.edge.to_string() == "CAN_MINT_TOKEN"), "{bob:#?}");
}

#[test]
fn a_user_subject_naming_a_service_account_is_that_account() {
    let s = tenant(vec![rb("ci-pods", "team-a", "pod-creator", user("system:serviceaccount:team-a:ci"))], vec![]);
    let f = pairs(&s);
    assert!(acts_as_app(&f, &kube("namespaces/team-a/serviceaccounts/ci")));
    assert!(!acts_as_app(&f, &kube("namespaces/team-b/serviceaccounts/ci")));
    let user_node = kube("users/system:serviceaccount:team-a:ci");
    assert!(!f.iter().any(|p| p.source.id == user_node), "no separate Kubernetes user for the account");
}

#[test]
fn a_namespaceless_service_account_subject_is_of_the_rolebindings_namespace() {
    let subject = json!({"kind": "ServiceAccount", "name": "ci"});
    let binding = json!({"metadata": meta("ci-pods", Some("team-a")), "roleRef": {"kind": "ClusterRole", "name": "pod-creator"},
                         "subjects": [subject]});
    let f = pairs(&tenant(vec![binding], vec![]));
    assert!(acts_as_app(&f, &kube("namespaces/team-a/serviceaccounts/ci")));
    assert!(!acts_as_app(&f, &kube("namespaces/default/serviceaccounts/ci")), "not the default namespace's");
    // In a ClusterRoleBinding such a subject matches no account.
    let f = pairs(&tenant(
        vec![],
        vec![
            json!({"metadata": meta("ci-pods", None), "roleRef": {"kind": "ClusterRole", "name": "pod-creator"}, "subjects": [subject]}),
        ],
    ));
    assert!(!f.iter().any(|p| p.source.id.contains("/serviceaccounts/ci")), "{f:#?}");
}

/// The kubelet identity of cluster "dark" (no role of its own).
const KUBELET: &str = "cccccccc-1111-0000-0000-000000000009";

/// Cluster "dark" with Azure RBAC for Kubernetes (`enabled`) and a kubelet identity, whose Kubernetes objects
/// were not collected; Kim holds RBAC Cluster Admin on it, Rita RBAC Reader, Wendy RBAC Writer on namespace
/// team-a only.
fn uncollected(enabled: bool) -> Snapshot {
    const CLUSTER_ADMIN: &str = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b";
    const READER: &str = "7f6c6a51-bcf8-42ba-9220-52d62157d7db";
    const WRITER: &str = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb";
    let dark = format!("{}/providers/Microsoft.ContainerService/managedClusters/dark", rg("aks"));
    let assignment = |n: u32, principal: &str, role: &str, scope: &str| {
        json!({"id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
               "properties": {"scope": scope, "principalId": principal, "principalType": "User",
                              "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")}})
    };
    let s = json!({
        "schema_version": 1,
        "metadata": {"collected_at": "2025-01-01T00:00:00Z"},
        "azure": {
            "subscriptions": [{"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "displayName": "Prod"}],
            "resourceGroups": [{"id": rg("aks"), "name": "aks"}],
            "roleAssignments": [
                assignment(1, ALICE, CLUSTER_ADMIN, &dark),
                assignment(2, BOB, READER, &dark),
                assignment(3, CAROL, WRITER, &format!("{dark}/namespaces/team-a"))
            ],
            "managedClusters": [{"id": dark, "name": "dark", "properties": {"fqdn": "dark.hcp.eastus.azmk8s.io",
                "disableLocalAccounts": true, "aadProfile": {"managed": true, "enableAzureRBAC": enabled},
                "identityProfile": {"kubeletidentity": {"objectId": KUBELET, "clientId": "dddddddd-0000-0000-0000-000000000009"}}}}]
        },
        "entra": {"users": [{"id": ALICE, "displayName": "Kim"}, {"id": BOB, "displayName": "Rita"}, {"id": CAROL, "displayName": "Wendy"}]},
        "kubernetes": []
    });
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

#[test]
fn azure_rbac_cluster_admins_are_reported_for_a_cluster_whose_objects_were_not_collected() {
    let admin = format!("{}/providers/Microsoft.ContainerService/managedClusters/dark/k8s/cluster-admin", rg("aks"))
        .to_ascii_lowercase();
    let f = pairs(&uncollected(true));
    let kim = find(&f, "cluster-admin-from-azure", ALICE, &admin).expect("RBAC Cluster Admin is cluster-admin");
    let hop = &kim.hops[0];
    assert_eq!(hop.edge.to_string(), "CAN_ESCALATE");
    assert!(hop.detail.contains("Azure RBAC for Kubernetes") && hop.detail.contains("not collected"), "{hop:#?}");
    assert!(find(&f, "cluster-admin-from-azure", BOB, &admin).is_none(), "a Reader is not");
    assert!(find(&f, "cluster-admin-from-azure", CAROL, &admin).is_none(), "a namespace Writer is not");
    // The namespace Writer runs pods in team-a, which reach the kubelet identity; the Reader runs none.
    let wendy = find(&f, "can-act-as-managed-identity", CAROL, KUBELET).expect("Writer on team-a runs pods");
    assert!(wendy.hops.iter().any(|h| h.edge.to_string() == "NODE_IDENTITY"), "{wendy:#?}");
    assert!(find(&f, "can-act-as-managed-identity", BOB, KUBELET).is_none());
    // Without Azure RBAC for Kubernetes the data actions mean nothing.
    let off = pairs(&uncollected(false));
    assert!(find(&off, "cluster-admin-from-azure", ALICE, &admin).is_none());
    assert!(find(&off, "can-act-as-managed-identity", CAROL, KUBELET).is_none());
}

#[test]
fn exec_attach_or_patch_into_running_pods_acts_as_their_service_account() {
    let exec_role = |name: &str, resources: &[&str], verbs: &[&str]| json!({"metadata": meta(name, Some("team-a")), "rules": [rule(&[""], resources, verbs)]});
    let role_binding = |name: &str, ns: &str, who: &str| json!({"metadata": meta(name, Some(ns)), "roleRef": {"kind": "Role", "name": name}, "subjects": [user(who)]});
    let mut s = tenant(
        vec![
            role_binding("exec", "team-a", ALICE),
            role_binding("look", "team-a", BOB),
            role_binding("attach", "team-a", CAROL),
            role_binding("patch", "team-a", DAN),
        ],
        vec![],
    );
    let k = &mut s.kubernetes[0];
    for r in [
        exec_role("exec", &["pods/exec"], &["create"]),
        // A decoy: reading pods (and their logs) runs nothing in them.
        exec_role("look", &["pods", "pods/log"], &["get", "list", "watch"]),
        // Websocket clients ask `get` on the subresource.
        exec_role("attach", &["pods/attach"], &["get"]),
        exec_role("patch", &["pods"], &["patch"]),
    ] {
        k.roles.push(serde_json::from_value(r).unwrap());
    }
    let running = json!({"metadata": meta("api", Some("team-a")), "serviceAccountName": "app", "images": ["api:1"]});
    k.deployments.push(serde_json::from_value(running).unwrap());
    let f = pairs(&s);
    for (who, how) in [(ALICE, "exec into"), (CAROL, "attach to"), (DAN, "change the image of")] {
        let p = find(&f, "can-act-as-managed-identity", who, APP_MI).unwrap_or_else(|| panic!("{how}"));
        let hop = p.hops.iter().find(|h| h.edge.to_string() == "CAN_MINT_TOKEN").expect("a pod hop");
        assert!(hop.detail.contains(how) && hop.detail.contains("team-a/deployments/api"), "{hop:#?}");
    }
    assert!(!acts_as_app(&f, BOB), "get pods is not pods/exec");
    // Scaled to zero, the Deployment runs no pod to exec into.
    s.kubernetes[0].deployments.last_mut().unwrap().replicas = Some(0);
    assert!(!acts_as_app(&pairs(&s), ALICE));
    // A StatefulSet's pods (read from a dump) are as good; a Pod that has ended is not.
    let dump = json!({"kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "done", "namespace": "team-a"},
         "spec": {"serviceAccountName": "app"}, "status": {"phase": "Succeeded"}}
    ]});
    let ended = azpath_graph::kube_dump::parse(&dump.to_string(), "pods.json", "prod").unwrap();
    azpath_graph::kube_dump::merge(&mut s.kubernetes[0], ended);
    assert!(!acts_as_app(&pairs(&s), ALICE), "the ended pod runs nothing");
    let dump = json!({"kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "team-a"},
         "spec": {"replicas": 1, "template": {"spec": {"serviceAccountName": "app", "containers": [{"image": "db:1"}]}}}}
    ]});
    let sts = azpath_graph::kube_dump::parse(&dump.to_string(), "sts.json", "prod").unwrap();
    azpath_graph::kube_dump::merge(&mut s.kubernetes[0], sts);
    let f = pairs(&s);
    let alice = find(&f, "can-act-as-managed-identity", ALICE, APP_MI).expect("exec into the StatefulSet's pods");
    assert!(alice.hops.iter().any(|h| h.detail.contains("team-a/statefulsets/db")), "{alice:#?}");
}

#[test]
fn an_azure_rbac_role_allowing_secrets_and_aso_resources_forges_an_aso_credential() {
    const RBAC_ADMIN: &str = "3498e952-d568-435e-9b2c-8d77e338d7f7";
    const RBAC_WRITER: &str = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb";
    let mut s = tenant(vec![], vec![]);
    s.azure.managed_clusters[0].properties.aad_profile.as_mut().unwrap().enable_azure_rbac = Some(true);
    let scope = format!("{}/namespaces/team-a", cluster_id());
    for (n, who, role) in [(7, BOB, RBAC_ADMIN), (8, DAN, RBAC_WRITER)] {
        let a = json!({"id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
                       "properties": {"scope": scope, "principalId": who, "principalType": "User",
                                      "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")}});
        s.azure.role_assignments.push(serde_json::from_value(a).unwrap());
    }
    let f = pairs(&s);
    let bob = find(&f, "aso-credential-forging", BOB, ASO_MI).expect("RBAC Admin on team-a forges");
    assert!(bob.hops[0].detail.contains("Azure RBAC for Kubernetes"), "{bob:#?}");
    assert!(!forges(&f, DAN), "RBAC Writer creates Secrets but no ASO resources");
}

#[test]
fn members_of_two_groups_share_one_subject_set_for_the_power_their_union_holds() {
    let s = tenant(
        vec![
            rb("secrets", "team-a", "secret-writer", group(SECRETS_GROUP)),
            rb("aso", "team-a", "aso-writer", group(ASO_GROUP)),
        ],
        vec![],
    );
    let mut s = s;
    // Dan joins the ASO writers too: Carol and Dan are both in both groups, Alice only in one.
    s.entra
        .group_members
        .iter_mut()
        .find(|g| g.group_id == ASO_GROUP)
        .unwrap()
        .members
        .push(serde_json::from_value(json!({"@odata.type": "#microsoft.graph.user", "id": DAN})).unwrap());
    let g = azpath_graph::graph::PrivilegeGraph::build(&s);
    let sets: Vec<_> = g.nodes_of_kind(NodeKind::KubeSubjectSet).collect();
    assert_eq!(sets.len(), 1, "one node for everyone in both groups");
    let set = g.node_ref(sets[0]);
    assert!(set.display_name.contains("Secret writers") && set.display_name.contains("ASO writers"), "{set:?}");
    // The pairs are those of the members, and only theirs.
    let f = pairs(&s);
    assert!(forges(&f, CAROL) && forges(&f, DAN));
    assert!(!forges(&f, ALICE), "Alice is only a Secret writer");
    for member in [CAROL, DAN] {
        let p = find(&f, "aso-credential-forging", member, ASO_MI).unwrap();
        assert_eq!(p.hops[0].edge, EdgeKind::KubernetesIdentity, "{p:#?}");
        assert_eq!(p.hops[0].to.id, set.id, "{p:#?}");
        // The power leaves from the set, not from the member.
        assert_eq!(p.hops[1].edge, EdgeKind::AsoCredentialForging, "{p:#?}");
        assert_eq!(p.hops[1].from.id, set.id);
    }
    // The set is no principal of its own: it is never a pair's source.
    assert!(!f.iter().any(|p| p.source.id == set.id));
}

#[test]
fn a_subject_set_is_made_only_where_no_single_subject_holds_the_power() {
    // One group holds both halves: its members act through the group, no set is made.
    let s = tenant(
        vec![
            rb("secrets", "team-a", "secret-writer", group(SECRETS_GROUP)),
            rb("aso", "team-a", "aso-writer", group(SECRETS_GROUP)),
            rb("aso-read", "team-a", "aso-reader", group(ASO_GROUP)),
        ],
        vec![],
    );
    let g = azpath_graph::graph::PrivilegeGraph::build(&s);
    assert_eq!(g.nodes_of_kind(NodeKind::KubeSubjectSet).count(), 0);
    let f = pairs(&s);
    assert!(forges(&f, ALICE) && forges(&f, CAROL), "the group's members forge through the group");
}

#[test]
fn a_power_one_binding_of_a_group_holds_is_not_repeated_from_each_member() {
    let s = tenant(
        vec![
            // The Secret writers' one binding mints tokens in team-a; Carol is also an ASO reader.
            rb("secrets", "team-a", "secret-admin", group(SECRETS_GROUP)),
            rb("aso-read", "team-a", "aso-reader", group(ASO_GROUP)),
        ],
        vec![],
    );
    let f = pairs(&s);
    let carol = find(&f, "can-act-as-managed-identity", CAROL, APP_MI).expect("Carol mints team-a/app's token");
    // Through the group that holds it, not an edge of her own.
    assert_eq!(carol.hops[0].edge, EdgeKind::MemberOf, "{carol:#?}");
    let mint = carol.hops.iter().find(|h| h.edge == EdgeKind::CanMintToken).expect("a mint hop");
    assert_ne!(mint.from.id.to_ascii_lowercase(), CAROL.to_ascii_lowercase(), "{mint:#?}");
    assert!(!f.iter().any(|p| p
        .hops
        .iter()
        .any(|h| h.edge == EdgeKind::CanMintToken
            && [ALICE, CAROL, DAN].iter().any(|u| h.from.id.eq_ignore_ascii_case(u)))));
}

/// Azure RBAC for Kubernetes role definitions (built in) and a custom role with only the given data actions.
const RBAC_WRITER: &str = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb";
const RBAC_READER: &str = "7f6c6a51-bcf8-42ba-9220-52d62157d7db";

/// An Azure role assignment (or, `eligible`, a PIM eligibility) of `role` to a user at `scope`.
fn azure_assignment(n: u32, who: &str, role: &str, scope: &str) -> Value {
    json!({"id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-{n:012}"),
           "properties": {"scope": scope, "principalId": who, "principalType": "User",
                          "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")}})
}

/// [`tenant`] with Azure RBAC for Kubernetes on (`azure_rbac`), these Azure role assignments and eligibilities.
fn with_azure_rbac(mut s: Snapshot, azure_rbac: bool, active: Vec<Value>, eligible: Vec<Value>) -> Snapshot {
    s.azure.managed_clusters[0].properties.aad_profile.as_mut().unwrap().enable_azure_rbac = Some(azure_rbac);
    s.azure.role_assignments.extend(active.into_iter().map(|a| serde_json::from_value(a).unwrap()));
    s.azure
        .role_eligibility_schedule_instances
        .extend(eligible.into_iter().map(|a| serde_json::from_value(a).unwrap()));
    s
}

#[test]
fn an_azure_rbac_secrets_right_and_an_in_cluster_aso_binding_combine_into_forging() {
    let team_a = format!("{}/namespaces/team-a", cluster_id());
    let bindings = vec![
        rb("dan-aso", "team-a", "aso-writer", user(DAN)),
        rb("bob-aso", "team-c", "aso-writer", user(BOB)),
        rb("alice-aso", "team-a", "aso-writer", user(ALICE)),
        rb("carol-aso", "team-a", "aso-writer", user(CAROL)),
    ];
    let snapshot = |azure_rbac: bool| {
        with_azure_rbac(
            tenant(bindings.clone(), vec![]),
            azure_rbac,
            vec![
                // Dan and Bob may create Secrets in team-a through Azure (RBAC Writer); Alice only reads.
                azure_assignment(7, DAN, RBAC_WRITER, &team_a),
                azure_assignment(8, BOB, RBAC_WRITER, &team_a),
                azure_assignment(9, ALICE, RBAC_READER, &team_a),
            ],
            // Carol is only eligible for RBAC Writer.
            vec![azure_assignment(10, CAROL, RBAC_WRITER, &team_a)],
        )
    };
    let f = pairs(&snapshot(true));
    let dan =
        find(&f, "aso-credential-forging", DAN, ASO_MI).expect("Azure's Secrets and the RoleBinding's ASO combine");
    let hop = dan.hops.iter().find(|h| h.edge.to_string() == "ASO_CREDENTIAL_FORGING").unwrap();
    assert!(hop.detail.contains("roleAssignments/00000000-0000-0000-0000-000000000007"), "{hop:#?}");
    assert!(hop.detail.contains("RoleBinding team-a/dan-aso"), "{hop:#?}");
    assert!(!dan.eligible, "{dan:#?}");
    let carol = find(&f, "aso-credential-forging", CAROL, ASO_MI).expect("an eligible Writer forges once activated");
    assert!(carol.eligible, "the union rests on a PIM eligibility: {carol:#?}");
    assert!(!forges(&f, BOB), "Bob's Secrets (team-a) and ASO (team-c) rights are in different namespaces");
    assert!(!forges(&f, ALICE), "RBAC Reader creates no Secret");
    // Without Azure RBAC for Kubernetes the assignments' data actions are not authorized by the cluster.
    let off = pairs(&snapshot(false));
    assert!(!forges(&off, DAN) && !forges(&off, CAROL), "{off:#?}");
}

#[test]
fn two_azure_assignments_combine_like_two_bindings() {
    const SECRETS_ROLE: &str = "eeeeeeee-0000-0000-0000-000000000001";
    const ASO_ROLE: &str = "eeeeeeee-0000-0000-0000-000000000002";
    let custom = |guid: &str, data: &str| {
        json!({"id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"), "name": guid,
               "properties": {"roleName": format!("custom {guid}"), "type": "CustomRole", "assignableScopes": [format!("/subscriptions/{SUB}")],
                              "permissions": [{"actions": [], "notActions": [], "dataActions": [format!("Microsoft.ContainerService/managedClusters/{data}")], "notDataActions": []}]}})
    };
    let team_a = format!("{}/namespaces/team-a", cluster_id());
    let mut s = with_azure_rbac(
        tenant(vec![], vec![]),
        true,
        vec![
            // Dan: Secrets at the cluster, ASO resources in team-a. Bob: Secrets only.
            azure_assignment(7, DAN, SECRETS_ROLE, &cluster_id()),
            azure_assignment(8, DAN, ASO_ROLE, &team_a),
            azure_assignment(9, BOB, SECRETS_ROLE, &cluster_id()),
        ],
        vec![],
    );
    for d in [custom(SECRETS_ROLE, "secrets/write"), custom(ASO_ROLE, "resources.azure.com/resourcegroups/write")] {
        s.azure.role_definitions.push(serde_json::from_value(d).unwrap());
    }
    let f = pairs(&s);
    assert!(forges(&f, DAN), "two assignments of one principal are one union");
    assert!(!forges(&f, BOB), "Secrets alone forge nothing");
}

#[test]
fn azure_rbac_writers_act_as_service_accounts_as_a_rolebinding_would() {
    const EXEC_ROLE: &str = "eeeeeeee-0000-0000-0000-000000000003";
    const LOOK_ROLE: &str = "eeeeeeee-0000-0000-0000-000000000004";
    let team_a = format!("{}/namespaces/team-a", cluster_id());
    let mut s = with_azure_rbac(
        tenant(vec![], vec![]),
        true,
        vec![
            azure_assignment(7, DAN, RBAC_WRITER, &team_a),
            azure_assignment(8, BOB, RBAC_READER, &team_a),
            azure_assignment(9, ALICE, EXEC_ROLE, &team_a),
            azure_assignment(10, CAROL, LOOK_ROLE, &team_a),
        ],
        vec![],
    );
    for (guid, data) in [(EXEC_ROLE, "pods/exec/action"), (LOOK_ROLE, "pods/read")] {
        let d = json!({"id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"), "name": guid,
               "properties": {"roleName": format!("custom {guid}"), "type": "CustomRole", "assignableScopes": [format!("/subscriptions/{SUB}")],
                              "permissions": [{"actions": [], "dataActions": [format!("Microsoft.ContainerService/managedClusters/{data}")]}]}});
        s.azure.role_definitions.push(serde_json::from_value(d).unwrap());
    }
    // No pod runs as team-a/app yet: Writer's `serviceaccounts/*` and `secrets/*` include impersonating it and
    // minting a token Secret for it, as AKS documents for the role.
    let f = pairs(&s);
    let dan = find(&f, "can-act-as-managed-identity", DAN, APP_MI).expect("RBAC Writer impersonates team-a/app");
    let hop = &dan.hops[0];
    assert!(["CAN_IMPERSONATE", "CAN_MINT_TOKEN"].contains(&hop.edge.to_string().as_str()), "{dan:#?}");
    assert!(hop.detail.contains("Azure RBAC for Kubernetes"), "{hop:#?}");
    assert!(!acts_as_app(&f, ALICE), "exec needs a running pod");
    assert!(!acts_as_app(&f, BOB), "RBAC Reader runs nothing and reads no Secret");
    // A running pod: exec into it (`pods/exec/action`) acts as its account; reading pods does not.
    let running = json!({"metadata": meta("api", Some("team-a")), "serviceAccountName": "app", "images": ["api:1"]});
    s.kubernetes[0].deployments.push(serde_json::from_value(running).unwrap());
    let f = pairs(&s);
    let alice = find(&f, "can-act-as-managed-identity", ALICE, APP_MI).expect("exec into the api pod");
    assert!(
        alice.hops.iter().any(|h| h.edge.to_string() == "CAN_MINT_TOKEN" && h.detail.contains("exec into")),
        "{alice:#?}"
    );
    assert!(!acts_as_app(&f, CAROL), "pods/read is not pods/exec");
}

/// Fix commands name the kubeconfig context as `az aks get-credentials` does: after the cluster's name as the
/// tenant spells it, not the lower-cased id azpath keys nodes by.
#[test]
fn kubectl_fix_commands_name_the_cluster_as_the_tenant_spells_it() {
    let mut s = tenant(
        vec![
            rb("secrets", "team-a", "secret-writer", group(SECRETS_GROUP)),
            rb("aso", "team-a", "aso-writer", user(DAN)),
        ],
        vec![],
    );
    s.azure.managed_clusters[0].name = "Prod-EU".into();
    let report = common::analyze_checked(&s, &queries(), AnalyzeOptions::default());
    let json = serde_json::to_string(&report).unwrap();
    let contexts: Vec<&str> =
        json.match_indices("kubectl --context ").map(|(i, m)| json[i + m.len()..].split(' ').next().unwrap()).collect();
    assert!(!contexts.is_empty(), "some fix is a kubectl command");
    assert!(contexts.iter().all(|c| *c == "Prod-EU"), "{contexts:?}");
}
