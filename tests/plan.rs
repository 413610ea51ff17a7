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
    let mut s = Step { snap, step, rest };
    match kind {
        "role-assignment" => s.by_id("azure", &["roleAssignments", "roleEligibilityScheduleInstances"]),
        "directory-role-assignment" => {
            s.by_id("entra", &["directoryRoleAssignments", "directoryRoleEligibilityScheduleInstances"])
        }
        "app-role-assignment" => s.by_id("entra", &["appRoleAssignments"]),
        "identity-binding" => s.by_id("azure", &["identityBindings"]),
        "group-eligibility" => s.group_eligibility(),
        "member" => s.member(),
        "owner" => s.owner(),
        "federated-credential" => s.federated_credential(),
        "binding" => s.binding_subject(),
        "aks-admin-group" => s.aks_admin_group(),
        "pod-identity-binding" => s.kube_object("azureIdentityBindings"),
        "aso-credential" => s.kube_object("secrets"),
        "pod-identity" => s.addon_pod_identity("userAssignedIdentities"),
        "pod-identity-exception" => s.addon_pod_identity("userAssignedIdentityExceptions"),
        "resource-identity" => s.resource_identity(),
        _ => panic!("no object behind plan step {step}"),
    }
}

/// Removes the items of `list` that `gone` matches; how many it removed.
fn remove(list: &mut Value, gone: impl Fn(&Value) -> bool) -> usize {
    let list = list.as_array_mut().expect("a list");
    let before = list.len();
    list.retain(|x| !gone(x));
    before - list.len()
}

/// Whether `v` (a JSON string) is `id`, ignoring case.
fn is(v: &Value, id: &str) -> bool {
    v.as_str().is_some_and(|x| same(x, id))
}

/// One plan step being applied to a snapshot: `rest` is the step after its `<kind>:`.
struct Step<'a> {
    snap: &'a mut Value,
    step: &'a str,
    rest: &'a str,
}

impl Step<'_> {
    /// Records whose `id` is the step's, from each of `lists` under `section` that the snapshot has.
    fn by_id(&mut self, section: &str, lists: &[&str]) {
        for list in lists {
            if self.snap[section][list].is_array() {
                remove(&mut self.snap[section][list], |r| is(&r["id"], self.rest));
            }
        }
    }

    /// The Kubernetes dumps of cluster `id`.
    fn kube(&mut self, id: &str) -> impl Iterator<Item = &mut Value> {
        let id = id.to_string();
        self.snap["kubernetes"].as_array_mut().unwrap().iter_mut().filter(move |c| is(&c["cluster"], &id))
    }

    /// The collected AKS cluster `id`.
    fn managed_cluster(&mut self, id: &str) -> &mut Value {
        let clusters = self.snap["azure"]["managedClusters"].as_array_mut().unwrap();
        clusters.iter_mut().find(|c| is(&c["id"], id)).expect("the cluster")
    }

    /// group-eligibility:<group>/<principal>/<member|owner>
    fn group_eligibility(&mut self) {
        let parts: Vec<&str> = self.rest.split('/').collect();
        let [group, principal, access] = parts[..] else { panic!("step {}", self.step) };
        let list = &mut self.snap["entra"]["groupEligibilityScheduleInstances"];
        let removed = remove(list, |i| {
            is(&i["groupId"], group) && is(&i["principalId"], principal) && is(&i["accessId"], access)
        });
        assert!(removed > 0, "group-eligibility step {} removed no eligibility", self.step);
    }

    /// member:<group>/<member>
    fn member(&mut self) {
        let (group, member) = self.rest.split_once('/').unwrap();
        for g in self.snap["entra"]["groupMembers"].as_array_mut().unwrap() {
            if is(&g["groupId"], group) {
                remove(&mut g["members"], |m| is(&m["id"], member));
            }
        }
    }

    /// owner:<object>/<owner>, on an application, service principal or group.
    fn owner(&mut self) {
        let (object, owner) = self.rest.split_once('/').unwrap();
        for list in ["applications", "servicePrincipals", "groups"] {
            for o in self.snap["entra"][list].as_array_mut().unwrap() {
                if is(&o["id"], object) && o["owners"].is_array() {
                    remove(&mut o["owners"], |x| is(&x["id"], owner));
                }
            }
        }
    }

    /// federated-credential:<id>, of a managed identity or an application.
    fn federated_credential(&mut self) {
        let id = self.rest;
        remove(&mut self.snap["azure"]["federatedIdentityCredentials"], |c| is(&c["id"], id));
        for app in self.snap["entra"]["applicationFederatedCredentials"].as_array_mut().unwrap() {
            remove(&mut app["credentials"], |c| is(&c["id"], id));
        }
    }

    /// binding:<cluster>#<RoleBinding ns/name | ClusterRoleBinding name>#<subject node id>: the subject taken out.
    fn binding_subject(&mut self) {
        let parts: Vec<&str> = self.rest.split('#').collect();
        let [cluster, binding, subject_key] = parts[..] else { panic!("step {}", self.step) };
        let (kind, name_part) = binding.split_once(' ').unwrap();
        let (ns, name) = match kind {
            "RoleBinding" => name_part.split_once('/').map(|(n, m)| (Some(n), m)).unwrap(),
            _ => (None, name_part),
        };
        let list = if kind == "RoleBinding" { "roleBindings" } else { "clusterRoleBindings" };
        let subject = subject_key.rsplit('/').next().unwrap();
        let mut removed = 0;
        for c in self.kube(cluster) {
            for b in c[list].as_array_mut().unwrap() {
                if ns.is_none_or(|n| b["metadata"]["namespace"] == n) && b["metadata"]["name"] == name {
                    removed += remove(&mut b["subjects"], |s| is(&s["name"], subject));
                }
            }
        }
        assert!(removed > 0, "binding step {} removed no subject", self.step);
    }

    /// aks-admin-group:<cluster id>#<group>: the group taken out of the cluster's admin groups.
    fn aks_admin_group(&mut self) {
        let (cluster, group) = self.rest.split_once('#').unwrap();
        let groups = &mut self.managed_cluster(cluster)["properties"]["aadProfile"]["adminGroupObjectIDs"];
        assert_eq!(remove(groups, |g| is(g, group)), 1, "step {} names no admin group", self.step);
    }

    /// <kind>:<cluster>#<namespace>/[secrets/]<name>: that object of the cluster's dump (`objects`), deleted.
    fn kube_object(&mut self, objects: &str) {
        let (cluster, at) = self.rest.split_once('#').unwrap();
        let (ns, name) = at.split_once('/').unwrap();
        let name = name.strip_prefix("secrets/").unwrap_or(name);
        let named = |o: &Value| o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name;
        let removed: usize = self.kube(cluster).map(|c| remove(&mut c[objects], named)).sum();
        assert_eq!(removed, 1, "step {} names no one object in {objects}", self.step);
    }

    /// pod-identity[-exception]:<cluster id>#<namespace>/<name>: taken out of the add-on's `list`, and the
    /// AzureIdentity and AzureIdentityBinding the add-on made for it with it (the add-on deletes them).
    fn addon_pod_identity(&mut self, list: &str) {
        let (cluster, at) = self.rest.split_once('#').unwrap();
        let (ns, name) = at.split_once('/').unwrap();
        let profile = &mut self.managed_cluster(cluster)["properties"]["podIdentityProfile"][list];
        let removed = remove(profile, |i| i["namespace"] == ns && i["name"] == name);
        assert_eq!(removed, 1, "step {} names no one pod identity", self.step);
        let managed = |o: &Value| o["metadata"]["labels"]["kubernetes.azure.com/managedby"] == "aks";
        let mine = |o: &Value, named: &Value| managed(o) && o["metadata"]["namespace"] == ns && named == name;
        for k in self.kube(cluster) {
            if k["azureIdentities"].is_array() {
                remove(&mut k["azureIdentities"], |o| mine(o, &o["metadata"]["name"]));
            }
            if k["azureIdentityBindings"].is_array() {
                remove(&mut k["azureIdentityBindings"], |o| mine(o, &o["azureIdentity"]));
            }
        }
    }

    /// resource-identity:<resource id>/<identity principal id>: the identity detached from the resource.
    fn resource_identity(&mut self) {
        let (resource, principal) = self.rest.rsplit_once('/').unwrap();
        let mut removed = 0;
        for r in self.snap["azure"]["identityResources"].as_array_mut().unwrap() {
            if !is(&r["id"], resource) {
                continue;
            }
            let identity = r["identity"].as_object_mut().unwrap();
            if identity.get("principalId").is_some_and(|p| is(p, principal)) {
                identity.remove("principalId");
                removed += 1;
            }
            if let Some(user) = identity.get_mut("userAssignedIdentities").and_then(Value::as_object_mut) {
                let before = user.len();
                user.retain(|_, u| !is(&u["principalId"], principal));
                removed += before - user.len();
            }
        }
        assert_eq!(removed, 1, "step {} detached nothing", self.step);
    }
}

fn escalations(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.reach == Reach::Escalation || r.members_of(f).is_some_and(|m| m.any_escalating()))
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
