//! Every bundled mock tenant, checked against its `expected.toml` twice: offline (the tenant as a snapshot)
//! and through the real HTTP path (mock ARM + Graph servers, mock Kubernetes API servers read through a
//! kubeconfig, the production collectors). Both must give the same findings; throttling must not change them, and no request may come before its Retry-After.

use std::time::Duration;

use azpath::collect::kube_live::{self, LiveOptions};
use azpath::collect::{self, Cloud, CollectOptions, DefaultTokenSource, Endpoints, RetryPolicy};
use azpath_graph::engine::{analyze, AnalyzeOptions};
use std::collections::BTreeMap;

use azpath_graph::findings::{ImpliedPair, Report};
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::{bundled_names, Expected, MockAzure, MockKube, MockKubeOptions, MockOptions, MockTenant};

fn report(snapshot: &Snapshot) -> Report {
    analyze(snapshot, &azpath::queries::builtin(), AnalyzeOptions::default())
}

/// Checks a report against a tenant's `expected.toml`; returns one line per violated expectation.
fn check(name: &str, rep: &Report) -> Vec<String> {
    let expected = Expected::bundled(name).unwrap_or_else(|| panic!("{name}: no expected.toml")).unwrap();
    assert!(!expected.present.is_empty(), "{name}: expected.toml has no [[present]] case");
    expected.check(&rep.implied_pairs()).into_iter().map(|f| format!("{name}: {f}")).collect()
}

/// What must not differ between two reports: each finding (id, flags, hops) and every pair they imply.
type Keys = (Vec<(String, bool, bool, usize)>, std::collections::BTreeMap<ImpliedPair, (bool, bool)>);

fn keys(rep: &Report) -> Keys {
    let findings = rep.findings.iter().map(|f| (f.id.clone(), f.eligible, f.conditional, f.hops.len())).collect();
    (findings, rep.implied_pairs())
}

/// The pairs the grouped findings imply, and those of the per-pair search (`--expand`), as (query, source,
/// target) → (eligible, conditional): they must be equal.
fn both_pair_sets(snapshot: &Snapshot) -> (BTreeMap<ImpliedPair, (bool, bool)>, BTreeMap<ImpliedPair, (bool, bool)>) {
    let rep = analyze(snapshot, &azpath::queries::builtin(), AnalyzeOptions { expand: true, ..Default::default() });
    let reference = rep
        .pairs
        .iter()
        .map(|p| {
            let key =
                ImpliedPair { query_id: p.query_id.clone(), source: p.source.id.clone(), target: p.target.id.clone() };
            (key, (p.eligible, p.conditional))
        })
        .collect();
    (rep.implied_pairs(), reference)
}

/// Names what differs between two pair sets, at most 20 lines.
fn pair_diff(a: &BTreeMap<ImpliedPair, (bool, bool)>, b: &BTreeMap<ImpliedPair, (bool, bool)>) -> String {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("invented: {k:?} {v:?}")),
            Some(w) if w != v => out.push(format!("flags: {k:?} grouped {v:?} reference {w:?}")),
            _ => {}
        }
    }
    out.extend(b.iter().filter(|(k, _)| !a.contains_key(*k)).map(|(k, v)| format!("lost: {k:?} {v:?}")));
    out.truncate(20);
    out.join("\n")
}

#[test]
fn grouped_findings_imply_exactly_the_pairs_of_the_per_pair_search_on_every_bundled_tenant() {
    for name in bundled_names() {
        let (grouped, reference) = both_pair_sets(&MockTenant::bundled(name).unwrap().to_snapshot());
        assert!(!reference.is_empty(), "{name}: no pair at all");
        assert!(grouped == reference, "{name}:\n{}", pair_diff(&grouped, &reference));
    }
}

#[test]
fn grouped_findings_imply_exactly_the_pairs_of_the_per_pair_search_on_generated_tenants() {
    for (size, seed) in [(60, 1), (300, 7), (1500, 42)] {
        let tenant = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(size, seed));
        let (grouped, reference) = both_pair_sets(&tenant.to_snapshot());
        assert!(!reference.is_empty(), "size {size}: no pair at all");
        assert!(grouped == reference, "size {size} seed {seed}:\n{}", pair_diff(&grouped, &reference));
    }
}

async fn collect_over_http(server: &MockAzure) -> Snapshot {
    let endpoints = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None).unwrap();
    let tokens = server.token_env();
    let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
    let source = DefaultTokenSource::new(&endpoints, &env, None);
    let options = CollectOptions {
        retry: RetryPolicy { max_attempts: 8, max_total_wait: Duration::from_secs(60), ..RetryPolicy::default() },
        ..Default::default()
    };
    let mut snap = collect::collect(&endpoints, &source, &options).await.expect("collection succeeds");
    // The tenant's clusters are read live, as `scan --mock` does: mock API servers, a kubeconfig with a context
    // per cluster, the production collector (paging by 2).
    let kube = MockKube::start(&server.tenant().kube, MockKubeOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kube.kubeconfig()).unwrap();
    let live = LiveOptions { kubeconfig: Some(kubeconfig), all_contexts: true, ..Default::default() };
    let got = kube_live::collect(&live, &snap.azure).await.expect("kubeconfig readable");
    assert!(got.gaps.is_empty(), "live Kubernetes collection left gaps: {:?}", got.gaps);
    assert_eq!(got.clusters.len(), server.tenant().kube.len());
    assert_eq!(kube.stats().wrong_token, 0);
    collect::kube::attach(&mut snap, got.clusters);
    snap
}

#[test]
fn every_bundled_tenant_meets_its_expectations_offline() {
    let mut failures = Vec::new();
    for name in bundled_names() {
        let tenant = MockTenant::bundled(name).unwrap();
        // Injected faults only exist on the HTTP path; such tenants are checked there.
        if tenant.faults.is_empty() {
            failures.extend(check(name, &report(&tenant.to_snapshot())));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_path_gives_the_same_findings_as_the_offline_snapshot() {
    let mut failures = Vec::new();
    for name in bundled_names() {
        let tenant = MockTenant::bundled(name).unwrap();
        let offline = report(&tenant.to_snapshot());
        let server = MockAzure::start(tenant, MockOptions::default()).await.unwrap();
        let snap = collect_over_http(&server).await;
        let online = report(&snap);
        if !server.tenant().faults.is_empty() {
            // A fault is a coverage gap in the snapshot and the report, and hides what it says it hides.
            if snap.coverage.is_empty() || online.coverage.is_empty() {
                failures.push(format!("{name}: faults injected but no coverage gap recorded"));
            }
        } else if keys(&online) != keys(&offline) {
            failures.push(format!("{name}: HTTP {:#?}\n!= offline {:#?}", keys(&online), keys(&offline)));
        }
        failures.extend(check(name, &online));
        let stats = server.stats();
        assert_eq!(stats.wrong_token, 0, "{name}: a request carried the wrong token");
        // The snapshot round-trips through its file format unchanged.
        let again = Snapshot::from_json(&snap.to_json(), "round-trip").unwrap();
        assert_eq!(keys(&report(&again)), keys(&online), "{name}: snapshot round trip");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_throttling_changes_nothing_and_no_retry_is_early() {
    for name in ["demo", "nested-groups"] {
        let tenant = MockTenant::bundled(name).unwrap();
        let offline = report(&tenant.to_snapshot());
        let options = MockOptions { throttle_rate: 0.2, retry_after_secs: 1, seed: 7, ..Default::default() };
        let server = MockAzure::start(tenant, options).await.unwrap();
        let snap = collect_over_http(&server).await;
        let stats = server.stats();
        assert!(stats.throttled > 0, "{name}: the mock throttled nothing");
        assert_eq!(stats.early_retries, 0, "{name}: retried before Retry-After");
        assert!(snap.coverage.is_empty(), "{name}: throttling left gaps: {:?}", snap.coverage);
        assert_eq!(keys(&report(&snap)), keys(&offline), "{name}: throttling changed the findings");
    }
}
