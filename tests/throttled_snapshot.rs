//! A collection behind Azure's emulated limits, with injected 429s and 503s, gives the same snapshot as a
//! collection with no limits at all (issue 12's acceptance): retries lose nothing, repeat nothing and reorder
//! nothing, and none is sent before its `Retry-After`. Both runs go through the production collector and the
//! mock server over HTTP.

use std::time::Duration;

use azpath::collect::{self, Cloud, CollectOptions, DefaultTokenSource, Endpoints};
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::throttle::{Latency, ThrottleOptions};
use azpath_mocks::{MockAzure, MockOptions};

/// Users of the generated collection tier: large enough for every listing to page (page size below) and for
/// Graph to take the tenant as large; small enough for a test.
const USERS: usize = 1_000;

/// Collects the generated tenant from a mock with `emulation`: the snapshot (its collection time and the mock's
/// URLs cleared), and what the mock counted: early retries, requests repeated after an answer, and the 429s
/// and 503s it sent.
async fn collect_behind(emulation: ThrottleOptions) -> (Snapshot, Counted) {
    let tenant = azpath_mocks::generate_for_collection(USERS, 7);
    let options = MockOptions { page_size: 100, emulation, ..Default::default() };
    let server = MockAzure::start(tenant, options).await.unwrap();
    let http = collect::build_client(None).unwrap();
    let endpoints = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None).unwrap();
    let tokens = server.token_env();
    let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
    let source = DefaultTokenSource::new(&endpoints, &env, Some(&http));
    let options = CollectOptions { http_client: Some(http), ..Default::default() };
    let mut snap = collect::collect(&endpoints, &source, &options).await.unwrap();
    // (Each mock listens on its own ports.)
    for run_specific in [&mut snap.metadata.collected_at, &mut snap.metadata.arm_url, &mut snap.metadata.graph_url] {
        run_specific.clear();
    }
    let stats = server.stats();
    let e = stats.emulation.unwrap_or_default();
    (snap, Counted { early: stats.early_retries, repeated: e.repeated, faults: e.total_429s() + e.injected_503s })
}

struct Counted {
    early: u64,
    repeated: u64,
    faults: u64,
}

fn json(s: &Snapshot) -> String {
    let mut out = Vec::new();
    s.write_json(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_collection_with_faults_gives_the_unthrottled_snapshot() {
    let (plain, counted) = collect_behind(ThrottleOptions::default()).await;
    assert_eq!(counted.faults, 0, "no emulation, no fault");
    let limits = ThrottleOptions {
        graph_ru: true,
        arm_buckets: true,
        latency: Latency { mean: Duration::from_millis(2), jitter: Duration::from_millis(1) },
        inject_429: 0.05,
        inject_503: 0.01,
        injected_retry_after_secs: 1,
        seed: 11,
    };
    let (throttled, counted) = collect_behind(limits).await;
    assert!(counted.faults > 10, "the draw should inject faults at this seed: {}", counted.faults);
    assert_eq!(counted.early, 0, "no request before its Retry-After");
    assert_eq!(counted.repeated, 0, "no request asked again once answered");
    assert!(throttled.coverage.is_empty(), "every fault retried: {:#?}", throttled.coverage);
    assert!(plain.entra.users.len() == USERS && !plain.azure.role_assignments.is_empty());
    let (a, b) = (json(&plain), json(&throttled));
    if a != b {
        let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
        panic!(
            "snapshots differ from line {line}:\n{}\n---\n{}",
            a.lines().skip(line).take(8).collect::<Vec<_>>().join("\n"),
            b.lines().skip(line).take(8).collect::<Vec<_>>().join("\n")
        );
    }
}
