//! `--kube-context`: Kubernetes objects read live through a kubeconfig, from mock API servers (paging,
//! throttling, 403s, bad tokens, unreachable and insecure servers), against the same cluster read offline
//! with `--kube-dump`: the same objects, the same findings, and no secret value anywhere; and servers that
//! misbehave (looping `continue` tokens, pages past the caps, drip-fed bodies) end in a gap.

mod common;

use std::path::Path;
use std::time::Duration;

use azpath::collect::kube_live::{self, KubeContextSpec, KubeLiveError, LiveOptions};
use azpath_graph::kube::KubeCluster;
use azpath_graph::snapshot::{AzureData, GapReason};
use azpath_mocks::kube::KubeDump;
use azpath_mocks::{MockAzure, MockKube, MockKubeOptions, MockOptions, MockTenant};
use common::kube_fixture::{cluster_id, dump, leaks, tenant_with_cluster, Misbehaving, Reply, CLIENT_ID};
use common::{azpath, run_command};

fn kube_dump() -> KubeDump {
    KubeDump::parse("aks-prod", "kube/aks-prod.json", serde_json::to_string_pretty(&dump()).unwrap()).unwrap()
}

/// The tenant's Azure side: `demo` plus the AKS cluster `aks-prod`.
fn azure(tmp: &Path) -> AzureData {
    MockTenant::load(tenant_with_cluster(tmp)).unwrap().to_snapshot().azure
}

fn options(kubeconfig: &Path, contexts: &[&str]) -> LiveOptions {
    LiveOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        contexts: contexts.iter().map(|c| c.parse().unwrap()).collect(),
        initial_backoff: std::time::Duration::from_millis(10),
        ..Default::default()
    }
}

fn write_kubeconfig(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// A cluster's objects, without where they came from.
fn objects(c: &KubeCluster) -> KubeCluster {
    KubeCluster { source: String::new(), server: None, ..c.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_collection_reads_what_the_dump_holds_through_paging_and_throttling() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let dump = kube_dump();
    let kube_options = MockKubeOptions { page_size: 1, throttle_first: true, ..Default::default() };
    let kube = MockKube::start(std::slice::from_ref(&dump), kube_options).await.unwrap();
    let kubeconfig = write_kubeconfig(tmp.path(), &kube.kubeconfig());

    let got = kube_live::collect(&options(&kubeconfig, &["aks-prod"]), &azure).await.unwrap();
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    let [cluster] = &got.clusters[..] else { panic!("one cluster: {:?}", got.clusters.len()) };
    assert_eq!(cluster.cluster, cluster_id(), "matched to the AKS cluster by name");
    assert_eq!(cluster.source, "context:aks-prod");
    assert_eq!(cluster.server.as_deref(), kube.url("aks-prod").as_deref());
    let mut offline = dump.objects.clone();
    offline.cluster = cluster_id();
    assert_eq!(objects(cluster), objects(&offline), "live and offline read the same objects");
    assert_eq!(cluster.aso_resources.len(), 1, "custom resources of the installed ASO CRDs are listed");
    assert_eq!(cluster.secrets[0].values["AZURE_CLIENT_ID"], CLIENT_ID);
    assert_eq!(leaks(&serde_json::to_string(cluster).unwrap()), None);

    let stats = kube.stats();
    assert!(stats.throttled >= 9, "every list was throttled once: {stats:?}");
    assert_eq!(stats.wrong_token, 0);
    let secrets = stats.requests["aks-prod /api/v1/secrets"];
    assert_eq!(secrets, 2, "one 429, then one page for the one Secret: {stats:?}");
    let namespaces = stats.requests["aks-prod /api/v1/namespaces"];
    assert!(namespaces >= 2, "paged by one: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_refused_cluster_wide_is_read_namespace_by_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let kube_options = MockKubeOptions { forbidden: vec!["/api/v1/secrets".into()], ..Default::default() };
    let kube = MockKube::start(&[kube_dump()], kube_options).await.unwrap();
    let kubeconfig = write_kubeconfig(tmp.path(), &kube.kubeconfig());
    let got = kube_live::collect(&options(&kubeconfig, &["aks-prod"]), &azure).await.unwrap();
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    let mut offline = kube_dump().objects;
    offline.cluster = cluster_id();
    assert_eq!(objects(&got.clusters[0]), objects(&offline), "the Secrets were read in their namespace");
    assert_eq!(kube.stats().requests["aks-prod /api/v1/namespaces/team-a/secrets"], 1);
    assert_eq!(leaks(&serde_json::to_string(&got.clusters[0]).unwrap()), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_list_is_a_gap_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let forbidden = vec!["/api/v1/secrets".into(), "/api/v1/namespaces/team-a/secrets".into()];
    let kube_options = MockKubeOptions { forbidden, ..Default::default() };
    let kube = MockKube::start(&[kube_dump()], kube_options).await.unwrap();
    let kubeconfig = write_kubeconfig(tmp.path(), &kube.kubeconfig());

    let got = kube_live::collect(&options(&kubeconfig, &["aks-prod"]), &azure).await.unwrap();
    let [gap] = &got.gaps[..] else { panic!("one gap: {:?}", got.gaps) };
    assert_eq!((gap.api.as_str(), gap.reason, gap.status), ("kube.secrets", GapReason::Forbidden, Some(403)));
    assert_eq!(gap.scope, cluster_id());
    assert!(gap.message.contains("secrets is forbidden"), "{}", gap.message);
    assert!(gap.message.contains("1 of 1 namespaces were refused too: team-a"), "{}", gap.message);
    assert!(gap.may_hide().contains("ASO credentials"), "{}", gap.may_hide());
    let c = &got.clusters[0];
    assert!(c.secrets.is_empty());
    assert_eq!((c.namespaces.len(), c.role_bindings.len(), c.deployments.len()), (1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_that_cannot_be_read_is_one_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let kube = MockKube::start(&[kube_dump()], MockKubeOptions::default()).await.unwrap();
    let good = kube.kubeconfig();
    let url = kube.url("aks-prod").unwrap();
    let cases = [
        // A rejected token.
        (good.replace("mock-kube-token", "stolen-or-expired"), GapReason::Unauthorized, "401"),
        // Nothing listens there.
        (good.replace(&url, "http://127.0.0.1:9"), GapReason::Transport, "GET"),
        // Plain http to a non-loopback host: the token is not sent at all.
        (good.replace(&url, "http://192.0.2.10:8080"), GapReason::UntrustedNextLink, "refusing"),
    ];
    for (kubeconfig, reason, said) in cases {
        let before = kube.stats().total();
        let path = write_kubeconfig(tmp.path(), &kubeconfig);
        let got = kube_live::collect(&options(&path, &["aks-prod"]), &azure).await.unwrap();
        assert!(got.clusters.is_empty(), "{reason:?}");
        let [gap] = &got.gaps[..] else { panic!("{reason:?}: one gap: {:?}", got.gaps) };
        assert_eq!((gap.api.as_str(), gap.scope.as_str(), gap.reason), ("kube.context", "context:aks-prod", reason));
        assert!(gap.message.contains(said), "{reason:?}: {}", gap.message);
        assert!(!gap.message.contains("stolen-or-expired"), "the token is never shown: {}", gap.message);
        let requests = kube.stats().total() - before;
        assert!(requests <= 1, "{reason:?}: stopped after the first request ({requests})");
    }
    assert_eq!(kube.stats().wrong_token, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_are_checked_before_any_request_and_can_name_their_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let kube = MockKube::start(&[kube_dump()], MockKubeOptions::default()).await.unwrap();
    let kubeconfig = write_kubeconfig(tmp.path(), &kube.kubeconfig());

    match kube_live::collect(&options(&kubeconfig, &["aks-prd"]), &azure).await {
        Err(e @ KubeLiveError::UnknownContext { .. }) => {
            let text = e.to_string();
            assert!(text.contains("aks-prd") && text.contains("it has: aks-prod"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kube.stats().total(), 0, "nothing was requested");
    let missing = tmp.path().join("nope");
    match kube_live::collect(&options(&missing, &["aks-prod"]), &azure).await {
        Err(e @ KubeLiveError::Kubeconfig { .. }) => assert!(e.to_string().contains("nope"), "{e}"),
        other => panic!("{other:?}"),
    }

    // `CONTEXT=CLUSTER` names the cluster whatever the context is called; `--all-kube-contexts` keeps it.
    let renamed =
        kube.kubeconfig().replace("name: aks-prod", "name: proxy").replace("cluster: aks-prod", "cluster: proxy");
    let path = write_kubeconfig(tmp.path(), &renamed);
    let spec: KubeContextSpec = format!("proxy={}", cluster_id()).parse().unwrap();
    let all = LiveOptions { all_contexts: true, contexts: vec![spec], ..options(&path, &[]) };
    let got = kube_live::collect(&all, &azure).await.unwrap();
    assert_eq!(got.clusters[0].cluster, cluster_id());
    // Without it, a context named like no cluster keeps its name (attach reports it as unlinked).
    let got = kube_live::collect(&options(&path, &["proxy"]), &azure).await.unwrap();
    assert_eq!(got.clusters[0].cluster, "proxy");
}

/// The acceptance check: `azpath scan --kube-context` against a live (mock) cluster and `azpath scan
/// --kube-dump` of the same cluster report the same findings, and neither shows the planted secret. The
/// cluster is the bundled `aso-workload-identity` tenant's (its ASO credentials carry a planted secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_live_and_offline_scans_report_the_same_findings() {
    const TENANT_SECRET: &str = "PLANTED-SECRET-VALUE";
    let tmp = tempfile::tempdir().unwrap();
    let tenant = MockTenant::bundled("aso-workload-identity").unwrap();
    let [dump] = &tenant.kube[..] else { panic!("one cluster") };
    assert!(dump.text.contains(TENANT_SECRET), "the dump does carry the secret");
    let dump_path = tmp.path().join("prod.json");
    std::fs::write(&dump_path, &dump.text).unwrap();
    let kube = MockKube::start(&tenant.kube, MockKubeOptions::default()).await.unwrap();
    let kubeconfig = write_kubeconfig(tmp.path(), &kube.kubeconfig());
    // The tenant without its cluster, for `--mock DIR --kube-dump`.
    let azure_only = tmp.path().join("tenant");
    MockTenant { kube: Vec::new(), ..tenant.clone() }.write(&azure_only).unwrap();
    let arm = MockAzure::start(tenant, MockOptions::default()).await.unwrap();

    let live = tokio::task::block_in_place(|| {
        let mut cmd = azpath();
        for (k, v) in arm.token_env() {
            cmd.env(k, v);
        }
        cmd.args(["scan", "--cloud", "custom", "--arm-url", &arm.arm_url(), "--graph-url", &arm.graph_url()])
            .args(["--kubeconfig", kubeconfig.to_str().unwrap(), "--kube-context", "prod"])
            .args(["--format", "json", "-vvv"]);
        run_command(&mut cmd)
    });
    assert_eq!(live.code, 0, "{}", live.stderr);
    let offline = tokio::task::block_in_place(|| {
        let kube_dump = format!("prod={}", dump_path.display());
        run_command(
            azpath()
                .args(["scan", "--mock", azure_only.to_str().unwrap(), "--kube-dump", &kube_dump])
                .args(["--format", "json"]),
        )
    });
    assert_eq!(offline.code, 0, "{}", offline.stderr);

    let findings = |stdout: &str| {
        let report: serde_json::Value = common::resolved(&serde_json::from_str(stdout).unwrap());
        report["findings"].as_array().unwrap().clone()
    };
    let (live_findings, offline_findings) = (findings(&live.stdout), findings(&offline.stdout));
    let through_kubernetes = live_findings.iter().filter(|f| {
        f["tiers"].as_array().unwrap().iter().any(|t| t["query_id"] == "kubernetes-to-subscription-contributor")
    });
    assert!(through_kubernetes.count() >= 2, "the cluster's paths are reported");
    assert!(live_findings == offline_findings, "live and offline give different findings");
    assert!(live.stderr.contains("collecting Kubernetes objects"), "{}", live.stderr);
    for text in [&live.stdout, &live.stderr, &offline.stdout, &offline.stderr] {
        assert!(!text.contains(TENANT_SECRET), "a scan's output or -vvv log leaks the secret");
    }
    assert!(!live.stderr.contains("mock-kube-token"), "the kube token is never logged");
    assert_eq!(kube.stats().wrong_token, 0);
}

/// A failing exec credential plugin (kubelogin, say) is one gap, and neither its arguments nor its output,
/// either of which may hold a secret, is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_credential_plugin_is_a_gap_that_shows_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let kube = MockKube::start(&[kube_dump()], MockKubeOptions::default()).await.unwrap();
    let exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      interactiveMode: Never\n      args: [\"-c\", \"echo PLANTED-PLUGIN-OUTPUT; echo PLANTED-PLUGIN-ERROR >&2; exit 3\", \"--client-secret\", \"PLANTED-PLUGIN-ARG\"]\n";
    let kubeconfig = kube.kubeconfig().replace("    token: mock-kube-token\n", exec);
    assert!(kubeconfig.contains("PLANTED-PLUGIN-ARG"), "{kubeconfig}");
    let path = write_kubeconfig(tmp.path(), &kubeconfig);
    let got = kube_live::collect(&options(&path, &["aks-prod"]), &azure).await.unwrap();
    assert!(got.clusters.is_empty());
    let [gap] = &got.gaps[..] else { panic!("one gap: {:?}", got.gaps) };
    assert_eq!(gap.api, "kube.context");
    assert!(gap.message.contains("exec credential plugin failed"), "{}", gap.message);
    assert!(!gap.message.contains("PLANTED"), "{}", gap.message);
    assert_eq!(kube.stats().total(), 0, "no request without a credential");
}

/// A cluster whose `/api/v1/secrets` is answered by `rule` (the rest by the mock API server), and the
/// kubeconfig pointing at it.
async fn misbehaving_secrets(
    tmp: &Path,
    rule: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static,
) -> (MockKube, Misbehaving, std::path::PathBuf) {
    let kube = MockKube::start(&[kube_dump()], MockKubeOptions::default()).await.unwrap();
    let url = kube.url("aks-prod").unwrap();
    let front = Misbehaving::start(&url, move |target| {
        let (path, _) = target.split_once('?').unwrap_or((target, ""));
        if path == "/api/v1/secrets" {
            rule(target)
        } else {
            None
        }
    });
    let kubeconfig = write_kubeconfig(tmp, &kube.kubeconfig().replace(&url, front.url()));
    (kube, front, kubeconfig)
}

/// The `continue` token a request carries.
fn continue_token(target: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://x{target}")).unwrap();
    url.query_pairs().find(|(k, _)| k == "continue").map(|(_, v)| v.into_owned())
}

/// A page of one Secret named `s-<token>` that says `next` is the next page.
fn secret_page(token: Option<&str>, next: &str) -> Reply {
    let name = format!("s-{}", token.unwrap_or("first"));
    let page = serde_json::json!({
        "kind": "SecretList", "apiVersion": "v1", "metadata": {"continue": next},
        "items": [{"metadata": {"name": name, "namespace": "team-a"}, "type": "Opaque"}]
    });
    Reply::Json(200, page.to_string())
}

/// What every misbehaving-Secrets test checks: one `kube.secrets` gap of this reason, and the rest of the
/// cluster read.
fn one_secrets_gap(got: &kube_live::LiveCollection, reason: GapReason) -> String {
    let [gap] = &got.gaps[..] else { panic!("one gap: {:?}", got.gaps) };
    assert_eq!((gap.api.as_str(), gap.reason, gap.scope.clone()), ("kube.secrets", reason, cluster_id()));
    let c = &got.clusters[0];
    assert_eq!((c.namespaces.len(), c.role_bindings.len(), c.deployments.len()), (1, 1, 1), "the rest is read");
    gap.message.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_tokens_that_alternate_end_in_a_page_loop_gap_keeping_what_was_read() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    // A, B, A, B…: never the same token twice in a row.
    let (_kube, front, kubeconfig) = misbehaving_secrets(tmp.path(), |target| {
        let token = continue_token(target);
        Some(secret_page(token.as_deref(), if token.as_deref() == Some("A") { "B" } else { "A" }))
    })
    .await;
    let plain = options(&kubeconfig, &["aks-prod"]);
    let run = kube_live::collect(&plain, &azure);
    let got = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the list ends").unwrap();
    let message = one_secrets_gap(&got, GapReason::PageLoop);
    assert!(message.contains("/api/v1/secrets") && message.contains("after 3 pages"), "{message}");
    assert_eq!(front.requests("/api/v1/secrets"), 3, "first, A, B, then A again is a loop");
    let mut names: Vec<&str> = got.clusters[0].secrets.iter().map(|s| s.metadata.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["s-A", "s-B", "s-first"], "the pages read are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_tokens_that_never_end_stop_at_the_page_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let (_kube, front, kubeconfig) = misbehaving_secrets(tmp.path(), |target| {
        let token = continue_token(target);
        let n: u64 = token.as_deref().map_or(0, |t| t.trim_start_matches('t').parse().unwrap());
        Some(secret_page(token.as_deref(), &format!("t{}", n + 1)))
    })
    .await;
    let capped = LiveOptions { max_pages: 5, ..options(&kubeconfig, &["aks-prod"]) };
    let run = kube_live::collect(&capped, &azure);
    let got = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the list ends").unwrap();
    let message = one_secrets_gap(&got, GapReason::PageLoop);
    assert!(message.contains("/api/v1/secrets") && message.contains("5 pages"), "{message}");
    assert_eq!(front.requests("/api/v1/secrets"), 5);
    assert_eq!(got.clusters[0].secrets.len(), 5, "the pages read are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_larger_than_the_body_cap_is_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    // A server that ignores `limit`: 2,000 Secrets in one page, about 200 KB.
    let (_kube, _front, kubeconfig) = misbehaving_secrets(tmp.path(), |_| {
        let items: Vec<_> = (0..2000)
            .map(|i| serde_json::json!({"metadata": {"name": format!("secret-{i:04}-padding-padding-padding-padding"), "namespace": "team-a"}, "type": "Opaque"}))
            .collect();
        Some(Reply::Json(200, serde_json::json!({"kind": "SecretList", "apiVersion": "v1", "items": items}).to_string()))
    })
    .await;
    let capped = LiveOptions { max_page_bytes: 64 * 1024, ..options(&kubeconfig, &["aks-prod"]) };
    let got = kube_live::collect(&capped, &azure).await.unwrap();
    let message = one_secrets_gap(&got, GapReason::Malformed);
    assert!(message.contains("/api/v1/secrets") && message.contains("larger than 64 KiB"), "{message}");
    assert!(got.clusters[0].secrets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drip_fed_body_ends_at_the_request_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let (_kube, front, kubeconfig) =
        misbehaving_secrets(tmp.path(), |_| Some(Reply::Drip(Duration::from_millis(300)))).await;
    let timed = LiveOptions { request_timeout: Duration::from_secs(1), ..options(&kubeconfig, &["aks-prod"]) };
    let run = kube_live::collect(&timed, &azure);
    let got = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the list ends").unwrap();
    let message = one_secrets_gap(&got, GapReason::Timeout);
    assert!(message.contains("/api/v1/secrets") && message.contains("deadline of 1 s exceeded"), "{message}");
    assert_eq!(front.requests("/api/v1/secrets"), 1, "a deadline is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulsets_jobs_cronjobs_replicasets_and_pods_are_read_live_as_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let azure = azure(tmp.path());
    let mut objects_json = dump();
    let template = serde_json::json!({"spec": {"serviceAccountName": "app", "containers": [{"image": "db:1",
        "env": [{"name": "DB_PASSWORD", "value": "pl4nted-env-value"}]}]}});
    let items = objects_json["items"].as_array_mut().unwrap();
    items.extend([
        serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "team-a"},
                           "spec": {"replicas": 1, "template": template}}),
        serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "team-a"},
                           "spec": {"replicas": 1, "template": template}}),
        serde_json::json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "team-a"},
                           "spec": {"template": template}}),
        serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "team-a"},
                           "spec": {"jobTemplate": {"spec": {"template": template}}}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db-0", "namespace": "team-a"},
                           "spec": template["spec"], "status": {"phase": "Running"}}),
    ]);
    let dump = KubeDump::parse("aks-prod", "kube/aks-prod.json", serde_json::to_string_pretty(&objects_json).unwrap())
        .unwrap();
    let kube = MockKube::start(std::slice::from_ref(&dump), MockKubeOptions::default()).await.unwrap();
    let kubeconfig = write_kubeconfig(tmp.path(), &kube.kubeconfig());
    let got = kube_live::collect(&options(&kubeconfig, &["aks-prod"]), &azure).await.unwrap();
    assert!(got.gaps.is_empty(), "{:?}", got.gaps);
    let c = &got.clusters[0];
    let kinds: Vec<&str> = c.workloads.iter().filter_map(|w| w.kind.as_deref()).collect();
    assert_eq!(kinds, ["CronJob", "Job", "Pod", "ReplicaSet", "StatefulSet"]);
    assert!(c.workloads.iter().all(|w| w.service_account_name.as_deref() == Some("app")));
    let mut offline = dump.objects.clone();
    offline.cluster = cluster_id();
    assert_eq!(objects(c), objects(&offline), "live and offline read the same objects");
    assert!(!serde_json::to_string(c).unwrap().contains("pl4nted-env-value"), "an environment value was kept");
    for path in ["/apis/apps/v1/statefulsets", "/apis/batch/v1/cronjobs", "/api/v1/pods"] {
        assert_eq!(kube.stats().requests[&format!("aks-prod {path}")], 1, "{path}");
    }
}
