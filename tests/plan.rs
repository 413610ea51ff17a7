//! The plan, applied to the collected data and analyzed again, leaves no escalation path; and what it
//! proposes are changes to objects the snapshot holds (role assignments, memberships, owners, federated
//! credentials, binding subjects, ASO credentials), each one of which a person could make.

use azpath_graph::engine::{analyze, AnalyzeOptions};
use azpath_graph::findings::{Reach, Report};
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::MockTenant;
use serde_json::Value;

fn report(snapshot: &Snapshot) -> Report {
    analyze(snapshot, &azpath::queries::builtin(), AnalyzeOptions::default())
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Removes the object one plan step names from the snapshot (as JSON). Panics on a step it cannot apply, so a
/// plan step no person could carry out is a test failure.
fn apply(snap: &mut Value, step: &str) {
    let (kind, rest) = step.split_once(':').unwrap_or_else(|| panic!("step {step}"));
    match kind {
        "role-assignment" => {
            for list in ["roleAssignments", "roleEligibilityScheduleInstances"] {
                if let Some(v) = snap["azure"][list].as_array_mut() {
                    v.retain(|r| !same(r["id"].as_str().unwrap(), rest));
                }
            }
        }
        "directory-role-assignment" => {
            for list in ["directoryRoleAssignments", "directoryRoleEligibilityScheduleInstances"] {
                snap["entra"][list].as_array_mut().unwrap().retain(|r| !same(r["id"].as_str().unwrap(), rest));
            }
        }
        "app-role-assignment" => {
            snap["entra"]["appRoleAssignments"]
                .as_array_mut()
                .unwrap()
                .retain(|r| !same(r["id"].as_str().unwrap(), rest));
        }
        "group-eligibility" => {
            // group-eligibility:<group>/<principal>/<member|owner>
            let parts: Vec<&str> = rest.split('/').collect();
            let [group, principal, access] = parts[..] else { panic!("step {step}") };
            let list = snap["entra"]["groupEligibilityScheduleInstances"].as_array_mut().unwrap();
            let before = list.len();
            list.retain(|i| {
                !(same(i["groupId"].as_str().unwrap(), group)
                    && same(i["principalId"].as_str().unwrap(), principal)
                    && same(i["accessId"].as_str().unwrap(), access))
            });
            assert!(list.len() < before, "group-eligibility step {step} removed no eligibility");
        }
        "member" => {
            let (group, member) = rest.split_once('/').unwrap();
            for g in snap["entra"]["groupMembers"].as_array_mut().unwrap() {
                if same(g["groupId"].as_str().unwrap(), group) {
                    g["members"].as_array_mut().unwrap().retain(|m| !same(m["id"].as_str().unwrap(), member));
                }
            }
        }
        "owner" => {
            let (object, owner) = rest.split_once('/').unwrap();
            for list in ["applications", "servicePrincipals", "groups"] {
                for o in snap["entra"][list].as_array_mut().unwrap() {
                    if same(o["id"].as_str().unwrap(), object) {
                        if let Some(owners) = o["owners"].as_array_mut() {
                            owners.retain(|x| !same(x["id"].as_str().unwrap(), owner));
                        }
                    }
                }
            }
        }
        "federated-credential" => {
            snap["azure"]["federatedIdentityCredentials"]
                .as_array_mut()
                .unwrap()
                .retain(|c| !same(c["id"].as_str().unwrap(), rest));
            for app in snap["entra"]["applicationFederatedCredentials"].as_array_mut().unwrap() {
                app["credentials"].as_array_mut().unwrap().retain(|c| !same(c["id"].as_str().unwrap_or(""), rest));
            }
        }
        "identity-binding" => {
            snap["azure"]["identityBindings"]
                .as_array_mut()
                .unwrap()
                .retain(|b| !same(b["id"].as_str().unwrap(), rest));
        }
        "binding" => {
            // binding:<cluster>#<RoleBinding ns/name | ClusterRoleBinding name>#<subject node id>
            let parts: Vec<&str> = rest.split('#').collect();
            let [cluster, binding, subject_key] = parts[..] else { panic!("step {step}") };
            let (kind, name_part) = binding.split_once(' ').unwrap();
            let (ns, name) = match kind {
                "RoleBinding" => name_part.split_once('/').map(|(n, m)| (Some(n), m)).unwrap(),
                _ => (None, name_part),
            };
            let list = if kind == "RoleBinding" { "roleBindings" } else { "clusterRoleBindings" };
            let subject_name = subject_key.rsplit('/').next().unwrap();
            let mut removed = 0;
            for c in snap["kubernetes"].as_array_mut().unwrap() {
                if !same(c["cluster"].as_str().unwrap(), cluster) {
                    continue;
                }
                for b in c[list].as_array_mut().unwrap() {
                    let in_ns = ns.is_none_or(|n| b["metadata"]["namespace"] == n);
                    if in_ns && b["metadata"]["name"] == name {
                        let subjects = b["subjects"].as_array_mut().unwrap();
                        let before = subjects.len();
                        subjects.retain(|s| !same(s["name"].as_str().unwrap_or(""), subject_name));
                        removed += before - subjects.len();
                    }
                }
            }
            assert!(removed > 0, "binding step {step} removed no subject");
        }
        "aks-admin-group" => {
            // aks-admin-group:<cluster id>#<group>: the group taken out of the cluster's admin groups.
            let (cluster, group) = rest.split_once('#').unwrap();
            let clusters = snap["azure"]["managedClusters"].as_array_mut().unwrap();
            let c = clusters.iter_mut().find(|c| same(c["id"].as_str().unwrap(), cluster)).expect("the cluster");
            let groups = c["properties"]["aadProfile"]["adminGroupObjectIDs"].as_array_mut().unwrap();
            let before = groups.len();
            groups.retain(|g| !same(g.as_str().unwrap(), group));
            assert_eq!(before - groups.len(), 1, "step {step} names no admin group");
        }
        "pod-identity-binding" => {
            // pod-identity-binding:<cluster>#<namespace>/<name>: that AzureIdentityBinding, deleted.
            let (cluster, at) = rest.split_once('#').unwrap();
            let (ns, name) = at.split_once('/').unwrap();
            let mut removed = 0;
            for c in snap["kubernetes"].as_array_mut().unwrap() {
                if same(c["cluster"].as_str().unwrap(), cluster) {
                    let list = c["azureIdentityBindings"].as_array_mut().unwrap();
                    let before = list.len();
                    list.retain(|b| !(b["metadata"]["namespace"] == ns && b["metadata"]["name"] == name));
                    removed += before - list.len();
                }
            }
            assert_eq!(removed, 1, "step {step} names no one AzureIdentityBinding");
        }
        "pod-identity" | "pod-identity-exception" => {
            // pod-identity[-exception]:<cluster id>#<namespace>/<name>: taken out of the add-on's profile.
            let (cluster, at) = rest.split_once('#').unwrap();
            let (ns, name) = at.split_once('/').unwrap();
            let list = if kind == "pod-identity" { "userAssignedIdentities" } else { "userAssignedIdentityExceptions" };
            let clusters = snap["azure"]["managedClusters"].as_array_mut().unwrap();
            let c = clusters.iter_mut().find(|c| same(c["id"].as_str().unwrap(), cluster)).expect("the cluster");
            let items = c["properties"]["podIdentityProfile"][list].as_array_mut().unwrap();
            let before = items.len();
            items.retain(|i| !(i["namespace"] == ns && i["name"] == name));
            assert_eq!(before - items.len(), 1, "step {step} names no one pod identity");
            // The add-on deletes the AzureIdentity and AzureIdentityBinding it made for the pod identity.
            let managed = |o: &Value| o["metadata"]["labels"]["kubernetes.azure.com/managedby"] == "aks";
            for k in snap["kubernetes"].as_array_mut().unwrap() {
                if !same(k["cluster"].as_str().unwrap(), cluster) {
                    continue;
                }
                for (objects, field) in [("azureIdentities", "name"), ("azureIdentityBindings", "azureIdentity")] {
                    if let Some(list) = k[objects].as_array_mut() {
                        list.retain(|o| {
                            let named = if field == "name" { &o["metadata"]["name"] } else { &o[field] };
                            !(managed(o) && o["metadata"]["namespace"] == ns && named == name)
                        });
                    }
                }
            }
        }
        "resource-identity" => {
            // resource-identity:<resource id>/<identity principal id>: the identity detached from the resource.
            let (resource, principal) = rest.rsplit_once('/').unwrap();
            let mut removed = 0;
            for r in snap["azure"]["identityResources"].as_array_mut().unwrap() {
                if !same(r["id"].as_str().unwrap(), resource) {
                    continue;
                }
                let identity = r["identity"].as_object_mut().unwrap();
                if identity.get("principalId").and_then(Value::as_str).is_some_and(|p| same(p, principal)) {
                    identity.remove("principalId");
                    removed += 1;
                }
                if let Some(user) = identity.get_mut("userAssignedIdentities").and_then(Value::as_object_mut) {
                    let before = user.len();
                    user.retain(|_, u| !u["principalId"].as_str().is_some_and(|p| same(p, principal)));
                    removed += before - user.len();
                }
            }
            assert_eq!(removed, 1, "step {step} detached nothing");
        }
        "aso-credential" => {
            // aso-credential:<cluster>#<namespace>/secrets/<name>: that Secret, deleted.
            let (cluster, secret) = rest.split_once('#').unwrap();
            let (ns, name) = secret.split_once("/secrets/").unwrap();
            let mut removed = 0;
            for c in snap["kubernetes"].as_array_mut().unwrap() {
                if same(c["cluster"].as_str().unwrap(), cluster) {
                    let secrets = c["secrets"].as_array_mut().unwrap();
                    let before = secrets.len();
                    secrets.retain(|s| !(s["metadata"]["namespace"] == ns && s["metadata"]["name"] == name));
                    removed += before - secrets.len();
                }
            }
            assert_eq!(removed, 1, "step {step} names no one Secret");
        }
        _ => panic!("no object behind plan step {step}"),
    }
}

fn escalations(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.reach == Reach::Escalation || r.members_of(f).is_some_and(|m| !m.escalating.is_empty()))
        .map(|f| {
            let hops: Vec<String> = f.hops.iter().map(|h| format!("{:?}→{}", h.edge, h.to.display_name)).collect();
            format!("{} [{}]", f.principal.display_name, hops.join(", "))
        })
        .collect()
}

#[test]
fn each_tenants_plan_applied_to_its_snapshot_leaves_no_escalation_path() {
    // (aks-pod-identity is left out: its plan cuts pod-identity and node-breakout steps, whose objects —
    // AzureIdentityBindings, namespace labels — plan ids do not name yet.)
    for name in [
        "demo",
        "aso-workload-identity",
        "nested-groups",
        "deny-assignments",
        "pim-eligible",
        "constrained-delegation",
        "entra-control-plane",
        "aks-pod-identity",
        "compute-identities",
    ] {
        let snapshot = MockTenant::bundled(name).unwrap().to_snapshot();
        let before = report(&snapshot);
        assert!(before.plan.verified, "{name}: the plan's own re-run found {:?}", before.plan.remaining);
        let mut snap: Value = serde_json::from_str(&snapshot.to_json()).unwrap();
        for step in &before.plan.steps {
            apply(&mut snap, step);
        }
        let after = report(&Snapshot::from_json(&snap.to_string(), name).unwrap());
        assert!(escalations(&after).is_empty(), "{name}: {:#?}", escalations(&after));
        // The plan's own figure for each tier is what the changed snapshot gives.
        for (t, a) in before.tiers.iter().zip(&after.tiers) {
            assert_eq!(t.after_plan.escalation, a.exposure.escalation, "{name}: {}", t.query_id);
        }
    }
}

#[test]
fn a_tenant_with_escalations_gets_a_plan_and_one_without_gets_none() {
    let demo = report(&MockTenant::bundled("demo").unwrap().to_snapshot());
    assert!(!demo.plan.steps.is_empty() && demo.plan.verified);
    assert!(demo.findings.iter().any(|f| f.reach == Reach::Escalation));
    // Standing grants only: nothing to cut for escalation, so no plan (the review lists the grants).
    let scope = report(&MockTenant::bundled("scope-inheritance").unwrap().to_snapshot());
    assert!(scope.findings.iter().all(|f| f.reach == Reach::Standing), "{:?}", escalations(&scope));
    assert!(scope.plan.steps.is_empty() && scope.plan.verified);
}

#[test]
fn choke_points_are_changes_a_person_can_make() {
    for name in ["demo", "aso-workload-identity", "aks-pod-identity", "entra-control-plane", "compute-identities"] {
        let r = report(&MockTenant::bundled(name).unwrap().to_snapshot());
        assert!(!r.choke_points.is_empty(), "{name}");
        // "A pod runs as its service account" or "an identity is under a scope" dominate paths too, but no one
        // can remove them: only a step the plan had to use may be such an edge.
        for c in r.choke_points.iter().filter(|c| c.id.starts_with("edge:")) {
            assert!(r.plan.steps.contains(&c.id), "{name}: {} ({})", c.id, c.what);
        }
    }
}

#[test]
fn forging_an_aso_credential_is_cut_at_the_federated_credential_that_allows_it() {
    let r = report(&MockTenant::bundled("aso-workload-identity").unwrap().to_snapshot());
    let fic = r
        .choke_points
        .iter()
        .find(|c| c.id.ends_with("/userassignedidentities/id-aso-team-a/federatedidentitycredentials/aso-controller"))
        .expect("ASO's own federated credential is a choke point");
    let command = fic.remediation.command.as_deref().unwrap();
    assert!(command.starts_with("az identity federated-credential delete"), "{command}");
    assert!(command.ends_with("--identity-name id-aso-team-a --name aso-controller"), "{command}");
    // The hop into the forging hub rests on a binding, never on a federated credential.
    assert!(
        r.choke_points.iter().all(|c| !c.id.starts_with("federated-credential:rolebinding")),
        "{:?}",
        r.choke_points
    );
}

/// PIM for Groups: when the cheapest cut is an eligibility (here Tier 0 Admins also holds Owner of the
/// subscription, so its eligible owner would otherwise need two cuts), the plan names it as
/// `group-eligibility:<group>/<principal>/<access>`, and removing that eligibility removes the path.
#[test]
fn a_pim_for_groups_eligibility_is_a_plan_step_a_person_can_remove() {
    const TIER0: &str = "ebf6dd74-581c-401d-af9c-4b3db8b53113";
    const SUB: &str = "/subscriptions/493b30ff-a243-4d39-b309-62ddef40642c";
    let snapshot = MockTenant::bundled("entra-control-plane").unwrap().to_snapshot();
    let mut snap: Value = serde_json::from_str(&snapshot.to_json()).unwrap();
    snap["azure"]["roleAssignments"].as_array_mut().unwrap().push(serde_json::json!({
        "id": format!("{SUB}/providers/Microsoft.Authorization/roleAssignments/5d1c0e2f-8a3b-4c6d-9e7f-0a1b2c3d4e5f"),
        "name": "5d1c0e2f-8a3b-4c6d-9e7f-0a1b2c3d4e5f",
        "properties": {"scope": SUB, "principalId": TIER0, "principalType": "Group",
            "roleDefinitionId": format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635")}
    }));
    for g in snap["entra"]["groups"].as_array_mut().unwrap() {
        g["owners"] = serde_json::json!([]);
    }
    let before = report(&Snapshot::from_json(&snap.to_string(), "tier0-owner").unwrap());
    assert!(before.plan.verified, "{:?}", before.plan.remaining);
    let steps: Vec<&String> = before.plan.steps.iter().filter(|s| s.starts_with("group-eligibility:")).collect();
    assert!(!steps.is_empty(), "{:#?}", before.plan.steps);
    assert!(steps.iter().all(|s| s.starts_with(&format!("group-eligibility:{TIER0}/"))), "{steps:?}");
    let mut without_eligibility = snap.clone();
    for step in steps {
        apply(&mut without_eligibility, step);
    }
    // Without those steps the path stays; with the whole plan, none is left.
    let partial = report(&Snapshot::from_json(&without_eligibility.to_string(), "partial").unwrap());
    let rest: Vec<&String> = before.plan.steps.iter().filter(|s| !s.starts_with("group-eligibility:")).collect();
    assert!(!escalations(&partial).is_empty() || rest.is_empty());
    for step in &before.plan.steps {
        apply(&mut snap, step);
    }
    let after = report(&Snapshot::from_json(&snap.to_string(), "after").unwrap());
    assert!(escalations(&after).is_empty(), "{:#?}", escalations(&after));
}
