//! The collectors under hostile or broken servers, end to end through the `azpath` binary: a subscriptions
//! listing that drip-feeds its body ends at `--request-timeout` as a coverage gap, and a server echoing the
//! bearer token (and other JWTs) never gets it into the snapshot, the report or stderr.

mod common;

use std::time::Duration;

use common::run_command;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A Graph server with one user in each listing's first page, empty elsewhere.
async fn graph_server() -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "u1", "displayName": "Ursula"}]})),
        )
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(&graph)
        .await;
    graph
}

fn gaps(snapshot: &Value) -> Vec<(String, String, String)> {
    snapshot["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["api"].as_str().unwrap().into(),
                g["scope"].as_str().unwrap().into(),
                g["reason"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn a_drip_fed_subscriptions_listing_ends_at_the_request_timeout_as_a_gap() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (arm, graph) = rt.block_on(async { (common::drip_server().await, graph_server().await) });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let mut command = common::azpath();
    command
        .args(["collect", "--cloud", "custom", "--arm-url", &arm, "--graph-url", &graph.uri()])
        .args(["--request-timeout", "1", "-o", out.to_str().unwrap()])
        .env("AZPATH_ARM_TOKEN", "arm-token")
        .env("AZPATH_GRAPH_TOKEN", "graph-token");
    // Without a deadline the body never ends: run the binary on a thread so a regression fails, not hangs.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(run_command(&mut command)));
    let r = rx.recv_timeout(Duration::from_secs(60)).expect("the scan ended");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snapshot: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let gaps = gaps(&snapshot);
    assert!(gaps.contains(&("arm.subscriptions".into(), "tenant".into(), "timeout".into())), "{gaps:?}");
    assert_eq!(snapshot["entra"]["users"][0]["id"], "u1", "Graph is still collected");
}

#[test]
fn a_server_echoing_the_token_never_gets_it_stored_or_printed() {
    let token = "plain-arm-secret-0123456789";
    let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (arm, graph) = rt.block_on(async {
        let arm = MockServer::start().await;
        let message =
            format!("token {token} rejected; Authorization: Bearer {token}; also {jwt}\r\n{}", "y".repeat(3000));
        Mock::given(method("GET"))
            .and(path("/subscriptions"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(
                ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "BadRequest", "message": message}})),
            )
            .expect(1)
            .mount(&arm)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
            .mount(&arm)
            .await;
        (arm, graph_server().await)
    });
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.json");
    let r = run_command(
        common::azpath()
            .args(["-vvv", "scan", "--cloud", "custom", "--arm-url", &arm.uri(), "--graph-url", &graph.uri()])
            .args(["--format", "json", "--snapshot", snap.to_str().unwrap()])
            .env("AZPATH_ARM_TOKEN", token)
            .env("AZPATH_GRAPH_TOKEN", "graph-token"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snapshot = std::fs::read_to_string(&snap).unwrap();
    for secret in [token, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", "eyJzdWIiOiJwbGFudGVkIn0", "c2lnbmF0dXJlLXBsYW50ZWQ"]
    {
        for (what, text) in [("snapshot", &snapshot), ("report", &r.stdout), ("stderr", &r.stderr)] {
            assert!(!text.contains(secret), "{secret} in the {what}");
        }
    }
    let parsed: Value = serde_json::from_str(&snapshot).unwrap();
    let gap = parsed["coverage"].as_array().unwrap().iter().find(|g| g["api"] == "arm.subscriptions").expect("gap");
    let message = gap["message"].as_str().unwrap();
    assert!(message.contains("BadRequest") && message.chars().count() < 600, "{message}");
    assert!(!message.contains('\r') && !message.contains('\n'), "{message:?}");
    rt.block_on(arm.verify());
}
