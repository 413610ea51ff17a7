//! Issue 11's acceptance as one scheduled-scan flow, through the real binary: `mock serve` a tenant folder on
//! fixed ports (Azure and Kubernetes, so one kubeconfig written by the test serves every scan), scan with
//! `--history`, `--notify-webhook` to a loopback receiver and `[[suppress]]` entries in azpath.toml; add a role
//! assignment and a RoleBinding to the folder; wait for the reload; scan again with the first report as the
//! baseline. Then: `history diff` lists exactly the new findings with their first-seen time, the webhook got
//! one summary naming the new unsuppressed ones, the suppressed finding does not fail the gate, the expired
//! suppression is reported and stops suppressing.

#![cfg(unix)]

mod common;

use std::collections::BTreeSet;

use std::path::{Path, PathBuf};

use common::served::Served;
use common::{add_owner, azpath, demo_folder, free_ports, run_command, Run};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLUSTER: &str = "aks-shop-prod";

/// The kubeconfig a scheduled job keeps: the cluster on its fixed port, the mock's token.
fn kubeconfig(dir: &Path, kube_port: u16) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CLUSTER}\n  cluster:\n    server: http://127.0.0.1:{kube_port}\ncontexts:\n- name: {CLUSTER}\n  context:\n    cluster: {CLUSTER}\n    user: job\ncurrent-context: {CLUSTER}\nusers:\n- name: job\n  user:\n    token: mock-kube-token\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A RoleBinding giving `user` (an Entra object id, as AKS names Entra users) `edit` in namespace `ns` (where
/// ASO acts as an Azure identity).
fn add_role_binding(folder: &Path, ns: &str, user: &str) {
    let file = folder.join(format!("kube/{CLUSTER}.json"));
    let mut list: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    list["items"].as_array_mut().unwrap().push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "flow-added", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
    }));
    std::fs::write(&file, serde_json::to_string_pretty(&list).unwrap()).unwrap();
}

/// The scheduled job: one `azpath scan` of the served tenant, Azure and Kubernetes, run in `dir` (where its
/// azpath.toml is).
struct Job<'a> {
    dir: &'a Path,
    port: u16,
    kubeconfig: &'a Path,
    hook: &'a str,
}

impl Job<'_> {
    fn scan(&self, report: &str, extra: &[&str]) -> Run {
        let mut cmd = azpath();
        cmd.current_dir(self.dir)
            .env("AZPATH_ARM_TOKEN", "mock-arm-token")
            .env("AZPATH_GRAPH_TOKEN", "mock-graph-token");
        cmd.args(["scan", "--cloud", "custom"])
            .args(["--arm-url", &format!("http://127.0.0.1:{}", self.port)])
            .args(["--graph-url", &format!("http://127.0.0.1:{}", self.port + 1)])
            .args(["--kubeconfig", self.kubeconfig.to_str().unwrap(), "--all-kube-contexts"])
            .args(["--history", "h.db", "--notify-webhook", self.hook, "--format", "json", "-o", report])
            .args(["--snapshot", &format!("{report}.snapshot")])
            .args(extra);
        run_command(&mut cmd)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut cmd = azpath();
        cmd.current_dir(self.dir).args(args);
        let r = run_command(&mut cmd);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
    }

    fn read(&self, file: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(file)).unwrap()).unwrap()
    }
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_scan_reports_exactly_what_was_added() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let hook = format!("{}/hook", receiver.uri());
    let dir = tempfile::tempdir().unwrap();
    let folder = demo_folder(dir.path(), "tenant");
    let (port, kube_port) = (free_ports(2), free_ports(1));
    let (port_arg, kube_arg) = (port.to_string(), kube_port.to_string());
    let mut served = Served::start(&[folder.to_str().unwrap(), "--port", &port_arg, "--kube-port", &kube_arg]);
    let kube = format!("  Kubernetes `{CLUSTER}`: http://127.0.0.1:{kube_port}");
    assert!(served.banner.contains(&kube), "the cluster on its fixed port: {:?}", served.banner);
    let kubeconfig = kubeconfig(dir.path(), kube_port);
    let job = Job { dir: dir.path(), port, kubeconfig: &kubeconfig, hook: &hook };

    let first = tokio::task::block_in_place(|| job.scan("1.json", &[]));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = job.read("1.json");
    assert!(before.to_string().contains(CLUSTER), "the first scan read the cluster through the kubeconfig");

    // Two users the first report does not mention: one becomes Owner of the subscription, the other admin of a
    // namespace. The RoleBinding's findings are suppressed; an expired entry matches the Owner's.
    let tenant = azpath_mocks::MockTenant::bundled("demo").unwrap();
    let mut unseen =
        tenant.entra.users.iter().map(|u| u.id.clone()).filter(|id| !before.to_string().contains(id.as_str()));
    let (owner, kube_admin) = (unseen.next().unwrap(), unseen.next().unwrap());
    std::fs::write(
        dir.path().join("azpath.toml"),
        format!(
            "[[suppress]]\nsource = \"*{kube_admin}*\"\nreason = \"lab user\"\n\n\
             [[suppress]]\nsource = \"{owner}\"\nreason = \"accepted until the migration\"\nexpires = \"2020-01-01\"\n"
        ),
    )
    .unwrap();
    add_owner(&folder, &owner, "5c0f0a4e-0d0b-4b6e-9d5e-000000000002");
    add_role_binding(&folder, "shop-infra", &kube_admin);
    served.stderr_line(|l| l.starts_with("reloaded "));

    let second = tokio::task::block_in_place(|| job.scan("2.json", &["--baseline", "1.json", "--fail-on", "low"]));
    let after = job.read("2.json");

    // What the two snapshots differ by, unfiltered: the new findings.
    let diff =
        tokio::task::block_in_place(|| job.json(&["diff", "1.json.snapshot", "2.json.snapshot", "--format", "json"]));
    let new = ids(&diff["new"]);
    let of = |user: &str| -> BTreeSet<String> {
        diff["new"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f.to_string().contains(user))
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (owners, kube_admins) = (of(&owner), of(&kube_admin));
    assert!(!owners.is_empty() && !kube_admins.is_empty(), "both additions add findings: {diff}");
    assert_eq!(owners.union(&kube_admins).cloned().collect::<BTreeSet<_>>(), new, "nothing else is new");

    // History: exactly the new findings appeared, first seen at the second scan.
    let scans = tokio::task::block_in_place(|| job.json(&["history", "list", "--history", "h.db", "--format", "json"]));
    let second_scan = &scans[1];
    let history =
        tokio::task::block_in_place(|| job.json(&["history", "diff", "--history", "h.db", "--format", "json"]));
    assert_eq!(ids(&history["appeared"]), new);
    assert!(history["disappeared"].as_array().unwrap().is_empty(), "{history}");
    for f in history["appeared"].as_array().unwrap() {
        assert_eq!((&f["first_scan"], &f["first_seen"]), (&second_scan["id"], &second_scan["time"]), "{f}");
    }

    // The report and the gate: the Owner's findings are new (its suppression expired, and is reported), the
    // RoleBinding's are suppressed.
    assert_eq!(ids(&after["findings"]), owners, "{}", second.stderr);
    assert_eq!(second.code, 5, "new findings at --fail-on: {}", second.stderr);
    assert!(second.stderr.contains("expired"), "{}", second.stderr);
    let statuses: Vec<&str> =
        after["suppressions"]["entries"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["active", "expired"], "{}", after["suppressions"]);

    // The webhook: one summary per scan; only the second names the new findings, and not the suppressed ones.
    let bodies: Vec<String> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(
        owners.iter().all(|id| bodies[1].contains(id.as_str()) && !bodies[0].contains(id.as_str())),
        "{}",
        bodies[1]
    );
    assert!(kube_admins.iter().all(|id| !bodies[1].contains(id.as_str())), "suppressed: {}", bodies[1]);

    // Once the Owner's findings are accepted too (by their ids, as the report shows them), nothing new is
    // left: suppressed findings do not fail the gate.
    let mut config = format!("[[suppress]]\nsource = \"*{kube_admin}*\"\nreason = \"lab user\"\n");
    for id in &owners {
        config.push_str(&format!("\n[[suppress]]\nfingerprint = \"{id}\"\nreason = \"accepted\"\n"));
    }
    std::fs::write(dir.path().join("azpath.toml"), config).unwrap();
    let gate = tokio::task::block_in_place(|| {
        let mut cmd = azpath();
        cmd.current_dir(dir.path()).args([
            "analyze",
            "2.json.snapshot",
            "--baseline",
            "1.json",
            "--fail-on",
            "low",
            "-o",
            "/dev/null",
        ]);
        run_command(&mut cmd)
    });
    assert_eq!(gate.code, 0, "{}", gate.stderr);
}

#[test]
fn the_table_says_how_many_are_new_when_a_baseline_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let folder = demo_folder(dir.path(), "tenant");
    let before = dir.path().join("before.json");
    let mut scan = azpath();
    scan.args([
        "scan",
        "--mock",
        folder.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        before.to_str().unwrap(),
        "--no-config",
    ]);
    assert_eq!(run_command(&mut scan).code, 0);
    let table = |extra: &[&str]| {
        let mut cmd = azpath();
        cmd.args(["scan", "--mock", folder.to_str().unwrap(), "--no-config"]).args(extra);
        run_command(&mut cmd)
    };
    let plain = table(&[]);
    assert!(!plain.stdout.contains(" new of "), "{}", plain.stdout);
    let tenant = azpath_mocks::MockTenant::bundled("demo").unwrap();
    let text = std::fs::read_to_string(&before).unwrap();
    let user = tenant.entra.users.iter().map(|u| u.id.clone()).find(|id| !text.contains(id.as_str())).unwrap();
    add_owner(&folder, &user, "5c0f0a4e-0d0b-4b6e-9d5e-000000000003");
    let against = table(&["--baseline", before.to_str().unwrap()]);
    let head = against.stdout.lines().next().unwrap_or_default();
    assert!(head.starts_with("baseline ") && head.contains(" new of "), "{}", against.stdout);
    assert!(!head.contains(": 0 new of "), "the new Owner's findings: {head}");
}
