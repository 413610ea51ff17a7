//! The throttling emulation as a client meets it over HTTP: the admit layer runs before every route, bucket
//! 429s carry `Retry-After` and ARM's remaining-reads header, early retries are counted, and the counters are
//! served at `GET /_mock/stats` without a token. (The buckets, draws and floor are unit-tested in
//! mocks/src/throttle.rs with a hand-driven clock.)

use std::sync::Arc;

use azpath_mocks::throttle::{ManualClock, ThrottleOptions};
use azpath_mocks::{MockAzure, MockOptions, MockTenant};
use serde_json::Value;

mod common;

/// The buckets run on a clock that stands still, so no token comes back while the test sends its requests.
async fn start(emulation: ThrottleOptions) -> (MockAzure, String) {
    let tenant = MockTenant::bundled("demo").unwrap();
    let sub = tenant.azure.subscriptions[0].subscription_id.clone();
    let options = MockOptions { emulation, ..Default::default() };
    let mock = MockAzure::start_with_clock(tenant, options, Arc::new(ManualClock::default())).await.unwrap();
    let url = format!("{}/subscriptions/{sub}/resourcegroups?api-version=2021-04-01", mock.arm_url());
    (mock, url)
}

async fn get(url: &str) -> reqwest::Response {
    // One client per test thread: each `#[tokio::test]` has its own runtime and thread.
    thread_local!(static CLIENT: reqwest::Client = reqwest::Client::new());
    CLIENT.with(Clone::clone).get(url).bearer_auth("mock-arm-token").send().await.unwrap()
}

fn sub_of(url: &str) -> String {
    url.split("/subscriptions/").nth(1).unwrap().split('/').next().unwrap().to_ascii_lowercase()
}

async fn stats(mock: &MockAzure) -> Value {
    let body = reqwest::get(format!("{}/_mock/stats", mock.graph_url())).await.unwrap().text().await.unwrap();
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn a_subscription_bucket_admits_250_reads_then_429s_with_retry_after() {
    let (mock, url) = start(ThrottleOptions { arm_buckets: true, ..Default::default() }).await;
    let first = get(&url).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ms-ratelimit-remaining-subscription-reads"], "249");
    for i in 1..250 {
        assert_eq!(get(&format!("{url}&n={i}")).await.status(), 200, "read {i}");
    }
    let refused = get(&format!("{url}&n=last")).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["x-ms-ratelimit-remaining-subscription-reads"], "0");
    let body: Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    // Asked again at once: an early retry, in the emulation's counters and the mock's.
    get(&format!("{url}&n=last")).await;
    let s = stats(&mock).await;
    let buckets = s["emulation"]["bucket_429s"].as_object().unwrap();
    assert_eq!(buckets.keys().collect::<Vec<_>>(), [&format!("arm:sub:{}", sub_of(&url))]);
    assert_eq!(buckets.values().next().unwrap(), 2, "the early retry found the bucket still dry");
    assert_eq!(s["emulation"]["early_retries"], 1);
    assert_eq!(s["early_retries"], s["emulation"]["early_retries"]);
    assert_eq!(s["emulation"]["units"]["arm"], 250);
    assert!(s["floor"]["chain_requests"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(mock.stats().early_retries, s["early_retries"].as_u64().unwrap());
}

#[tokio::test]
async fn without_the_emulation_nothing_is_throttled_and_the_stats_say_so() {
    let (mock, url) = start(ThrottleOptions::default()).await;
    for i in 0..300 {
        let response = get(&format!("{url}&n={i}")).await;
        assert_eq!(response.status(), 200, "read {i}");
        assert!(response.headers().get("x-ms-ratelimit-remaining-subscription-reads").is_none());
    }
    let s = stats(&mock).await;
    assert!(s.get("emulation").is_none() && s.get("floor").is_none(), "{s}");
    assert_eq!(s["throttled"], 0);
    assert_eq!(s["requests"]["arm.resourceGroups"], 300, "the stats route is not counted");
}

/// `bench collect` end to end, in its own process (it allocates a tenant, which would disturb the peak-memory
/// unit tests of src/bench.rs running beside it): every object collected behind the limits and injected 429s.
#[test]
fn bench_collect_collects_every_object_behind_the_emulated_limits() {
    let args = ["bench", "collect", "--users", "120", "--latency", "0ms", "--page-size", "50"];
    let out = common::run(&[&args[..], &["--inject-429", "0.02", "--seed", "3", "--json"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["lost"], serde_json::json!([]), "{result}");
    assert_eq!(result["expected"], result["collected"]);
    assert_eq!(result["expected"]["users"], 120);
    assert_eq!(result["early_retries"], 0);
    assert!(result["throttled_429"].as_u64().unwrap() > 0, "some injected 429s at this seed: {result}");
    assert!(result["floor"]["chain_requests"].as_u64().unwrap() > 0 && result["graph_ru"].as_u64().unwrap() > 0);
    let table = common::run(&args);
    assert!(table.stdout.contains("users                        120 of 120"), "{}", table.stdout);
    assert!(!table.stdout.contains("LOST"));
}
