//! `--notify-webhook`: the summary a loopback receiver gets, retries, a receiver that is down never failing
//! the scan, the https rule, and no secret in what is sent.

mod common;

use std::time::{Duration, Instant};

use common::{run, Run};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use azpath::notify::{self, NotifyError, NotifyOptions, Webhook};
use azpath_graph::engine::{self, AnalyzeOptions};
use azpath_graph::findings::Finding;

/// The token part of a Slack-like webhook path: never shown.
const HOOK_PATH: &str = "/services/T000/B000/XyZhookToken";

/// Runs the binary without blocking the receiver's runtime.
fn run_blocking(args: &[&str]) -> Run {
    tokio::task::block_in_place(|| run(args))
}

/// The JSON bodies the receiver got.
async fn bodies(server: &MockServer) -> Vec<Value> {
    let requests = server.received_requests().await.unwrap();
    requests.iter().map(|r| serde_json::from_slice(&r.body).expect("the summary is JSON")).collect()
}

fn hook(server: &MockServer) -> String {
    format!("{}{HOOK_PATH}", server.uri())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receiver_gets_one_summary_with_the_expected_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let url = hook(&server);
    let got = run_blocking(&[
        "scan",
        "--mock",
        "demo",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
        "--notify-webhook",
        &url,
    ]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let report: Value = common::resolved(&serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap());
    let bodies = bodies(&server).await;
    let [body] = &bodies[..] else { panic!("{} summaries", bodies.len()) };

    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert_eq!(body["schema_version"], 1);
    assert_eq!(body["counts"]["findings"], findings.len());
    let by_severity: u64 =
        body["counts"]["by_severity"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_severity as usize, findings.len());
    let reach = &body["counts"]["by_reach"];
    assert_eq!((reach["escalation"].as_u64().unwrap() + reach["standing"].as_u64().unwrap()) as usize, findings.len());
    // The first finding listed is the report's first, with its principal, scope, tiers and fix command.
    let (top, first) = (&body["findings"][0], &findings[0]);
    assert_eq!(top["id"], first["id"]);
    assert_eq!(top["principal"]["id"], first["principal"]["id"]);
    assert_eq!(top["scope"]["id"], first["scope"]["id"]);
    assert_eq!(top["tiers"][0], first["tiers"][0]["query_id"]);
    assert_eq!(top["command"], first["remediation"]["command"]);
    assert!(body["findings"].as_array().unwrap().len() <= notify::TOP_FINDINGS);
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("azpath: {} finding(s)", findings.len())), "{text}");
    assert!(text.contains(first["principal"]["display_name"].as_str().unwrap()), "{text}");
    // Success is said on stderr by the webhook's origin; its path (a token, for Slack) never.
    assert!(got.stderr.contains(&format!("sent to {}", server.uri())), "{}", got.stderr);
    assert!(!got.stderr.contains("XyZhookToken"), "{}", got.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_webhook_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let got = run_blocking(&["scan", "--mock", "demo", "--format", "json", "-o", "/dev/null"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(!got.stderr.contains("sent to"), "{}", got.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_answering_500_then_200_gets_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let got = run_blocking(&["scan", "--mock", "demo", "-o", "/dev/null", "--notify-webhook", &hook(&server)]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stderr.contains("(2 attempt(s))"), "{}", got.stderr);
    let bodies = bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the retry sends the same summary");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_answering_500_always_does_not_fail_the_scan() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let args = |fail_on: &'static str| -> Vec<String> {
        let mut a: Vec<String> =
            ["scan", "--mock", "demo", "--format", "json", "-o", out.to_str().unwrap()].map(String::from).to_vec();
        a.extend(["--fail-on", fail_on].map(String::from));
        a
    };
    let url = hook(&server);
    let with_hook = |fail_on| {
        let mut a = args(fail_on);
        a.extend(["--notify-webhook".to_string(), url.clone(), "--notify-timeout".into(), "3".into()]);
        a
    };
    for fail_on in ["critical", "info"] {
        let plain: Vec<String> = args(fail_on);
        let expected = run_blocking(&plain.iter().map(String::as_str).collect::<Vec<_>>()).code;
        std::fs::remove_file(&out).unwrap();
        let hooked: Vec<String> = with_hook(fail_on);
        let got = run_blocking(&hooked.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(got.code, expected, "--fail-on {fail_on}: {}", got.stderr);
        assert!(out.exists(), "the report is written");
        assert!(got.stderr.contains("warning: webhook"), "{}", got.stderr);
        assert!(got.stderr.contains("HTTP 500"), "{}", got.stderr);
        assert!(!got.stderr.contains("XyZhookToken"), "{}", got.stderr);
    }
    assert!(server.received_requests().await.unwrap().len() >= 4, "each run retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_is_down_does_not_fail_the_scan() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}{HOOK_PATH}");
    let got =
        run_blocking(&["scan", "--mock", "demo", "-o", "/dev/null", "--notify-webhook", &url, "--notify-timeout", "2"]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stderr.contains("connection failed"), "{}", got.stderr);
}

#[test]
fn an_http_webhook_off_this_machine_is_a_usage_error() {
    let got = run(&["scan", "--mock", "demo", "--notify-webhook", "http://hooks.example.com/services/T0/B0/tok"]);
    assert_eq!(got.code, 2, "{}", got.stderr);
    assert!(got.stderr.contains("only https is allowed"), "{}", got.stderr);
    assert!(!got.stderr.contains("/services/T0/B0/tok"), "the path is not repeated: {}", got.stderr);
    // https is accepted: the same command with --format ndjson fails for the format, not the URL.
    let got = run(&["scan", "--mock", "demo", "--format", "ndjson", "--notify-webhook", "https://hooks.example.com/x"]);
    assert_eq!(got.code, 2, "{}", got.stderr);
    assert!(got.stderr.contains("other than ndjson"), "{}", got.stderr);
}

/// The aso-workload-identity tenant plants a client secret in a Kubernetes Secret's data and in its
/// `last-applied-configuration` annotation: the summary of its findings (which go through that cluster) names
/// none of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_summary_carries_no_secret() {
    const PLANTED: &str = "PLANTED-SECRET-VALUE";
    let tenant = azpath_mocks::MockTenant::bundled("aso-workload-identity").unwrap();
    assert!(tenant.kube[0].text.contains(PLANTED), "the tenant does plant the secret");
    let planted_b64 = "WnE4flBMQU5URUQtU0VDUkVULVZBTFVFLWRvLW5vdC1sZWFrLjRmMmE=";
    assert!(tenant.kube[0].text.contains(planted_b64));

    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
    let got = run_blocking(&[
        "scan",
        "--mock",
        "aso-workload-identity",
        "-o",
        "/dev/null",
        "--notify-webhook",
        &hook(&server),
    ]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let raw = String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    let body: Value = serde_json::from_str(&raw).unwrap();
    let through_kubernetes = body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["tiers"].as_array().unwrap().iter().any(|t| t.as_str().unwrap().starts_with("kubernetes-")));
    assert!(through_kubernetes, "the cluster's findings are announced: {raw}");
    for leak in [PLANTED, planted_b64, "Zq8~", "do-not-leak"] {
        assert!(!raw.contains(leak), "`{leak}` sent to the webhook");
    }
    assert!(!raw.contains("mock-arm-token") && !raw.contains("mock-kube-token"), "a token sent to the webhook");
}

/// [`notify::summary`] counts and lists only the findings it is given (what a baseline will select).
#[test]
fn the_summary_covers_the_findings_it_is_given() {
    let snapshot = azpath_mocks::MockTenant::bundled("demo").unwrap().to_snapshot();
    let options = AnalyzeOptions { include_eligible: true, expand: false };
    let report = engine::analyze(&snapshot, &azpath::queries::builtin(), options);
    assert!(report.findings.len() > 1);
    let all: Vec<&Finding> = report.findings.iter().collect();
    let whole = notify::summary(&report, &all);
    assert_eq!(whole["counts"]["findings"], report.findings.len());
    let last = report.findings.last().unwrap();
    let one = notify::summary(&report, &[last]);
    assert_eq!(one["counts"]["findings"], 1);
    assert_eq!(one["counts"]["by_severity"][last.severity.as_str()], 1);
    assert_eq!(one["findings"].as_array().unwrap().len(), 1);
    assert_eq!(one["findings"][0]["id"], last.id.as_str());
    assert_eq!(one["more_findings"], 0);
    assert_eq!(one["report"]["findings"], report.findings.len(), "the report's totals stay");
    let none = notify::summary(&report, &[]);
    assert_eq!(none["counts"]["findings"], 0);
    assert!(none["text"].as_str().unwrap().contains("0 finding(s)"));
}

fn fast() -> NotifyOptions {
    NotifyOptions {
        deadline: Duration::from_secs(10),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let started = Instant::now();
    let hook = Webhook::parse(&hook(&server)).unwrap();
    let delivered = notify::send(&reqwest::Client::new(), &hook, &serde_json::json!({"text": "x"}), &fast()).await;
    assert_eq!(delivered.unwrap().attempts, 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "retried before Retry-After");
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_is_not_waited_for() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let hook = Webhook::parse(&hook(&server)).unwrap();
    let e = notify::send(&reqwest::Client::new(), &hook, &serde_json::json!({}), &fast()).await.unwrap_err();
    assert!(matches!(e, NotifyError::GaveUp { attempts: 1, .. }), "{e}");
    assert!(e.to_string().contains("HTTP 503"), "{e}");
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(404)).expect(1).mount(&server).await;
    let hook = Webhook::parse(&hook(&server)).unwrap();
    let e = notify::send(&reqwest::Client::new(), &hook, &serde_json::json!({}), &fast()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Refused { status: 404, .. }), "{e}");
    assert!(!e.to_string().contains("XyZhookToken"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_announces_too_and_nothing_to_announce_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.json");
    let got = run_blocking(&["collect", "--mock", "demo", "-o", snap.to_str().unwrap()]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let url = hook(&server);
    let got = run_blocking(&["analyze", snap.to_str().unwrap(), "-o", "/dev/null", "--notify-webhook", &url]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stderr.contains("sent to"), "{}", got.stderr);
    // Naming only a posture check runs no query: no finding, no summary (the mock expects one request in all).
    let only_posture = ["--query", "AZP-AKS-001", "--notify-webhook", &url];
    let got = run_blocking(&[&["analyze", snap.to_str().unwrap(), "-o", "/dev/null"][..], &only_posture[..]].concat());
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(got.stderr.contains("no finding to announce"), "{}", got.stderr);
}

#[test]
fn help_does_not_show_the_webhook_from_the_environment() {
    let got =
        common::run_env(&["scan", "--help"], &[("AZPATH_NOTIFY_WEBHOOK", "https://hooks.example.com/XyZhookToken")]);
    assert_eq!(got.code, 0);
    assert!(got.stdout.contains("AZPATH_NOTIFY_WEBHOOK"), "{}", got.stdout);
    assert!(!got.stdout.contains("XyZhookToken"), "{}", got.stdout);
}
