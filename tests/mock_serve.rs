//! `azpath mock serve` as a scheduled scan meets it: fixed ports, a tenant folder edited while served (seen by
//! the next request, and on SIGHUP), the same request counts on SIGTERM as on Ctrl-C, and docs/scheduling.md's
//! recipe end to end: serve, scan, add a role assignment, scan again, diff shows exactly the new finding and the
//! webhook gets one summary per scan.

#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use common::served::Served;
use common::{add_owner, azpath, demo_folder, free_ports, run, run_command, Run};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ARM_TOKEN: &str = "mock-arm-token";
const GRAPH_TOKEN: &str = "mock-graph-token";

/// A raw GET on loopback: the status code and body.
fn get(port: u16, path: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

const SUBSCRIPTIONS: &str = "/subscriptions?api-version=2022-12-01";

#[test]
fn a_fixed_port_answers_and_sigterm_prints_the_stats() {
    let port = free_ports(2);
    let served = Served::start(&["demo", "--port", &port.to_string()]);
    let (status, body) = get(port, SUBSCRIPTIONS, ARM_TOKEN);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("837c3c76-9e6c-4dba-b18e-10ab9cbc63d8"), "{body}");
    let (status, _) = get(port + 1, "/v1.0/users", GRAPH_TOKEN);
    assert_eq!(status, 200, "Graph on the next port");
    let (code, stats) = served.stop(libc::SIGTERM);
    assert_eq!(stats, "served 2 requests (0 throttled)");
    assert_eq!(code, Some(0));
}

#[test]
fn ctrl_c_prints_the_same_stats_line() {
    let port = free_ports(2);
    let served = Served::start(&["demo", "--port", &port.to_string()]);
    assert_eq!(get(port, SUBSCRIPTIONS, ARM_TOKEN).0, 200);
    let (code, stats) = served.stop(libc::SIGINT);
    assert_eq!(stats, "served 1 requests (0 throttled)");
    assert_eq!(code, Some(0));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let got = run(&["mock", "serve", "demo", "--port", &port.to_string()]);
    assert_eq!(got.code, 3, "{}", got.stderr);
    assert!(got.stderr.contains(&format!("binding 127.0.0.1:{port} for the mock ARM server")), "{}", got.stderr);
}

/// `azpath scan` against the served tenant (Azure only), keeping the snapshot.
fn scan(port: u16, snapshot: &Path, extra: &[&str]) -> Run {
    let arm = format!("http://127.0.0.1:{port}");
    let graph = format!("http://127.0.0.1:{}", port + 1);
    let mut cmd = azpath();
    cmd.env("AZPATH_ARM_TOKEN", ARM_TOKEN).env("AZPATH_GRAPH_TOKEN", GRAPH_TOKEN);
    cmd.args(["scan", "--cloud", "custom", "--arm-url", &arm, "--graph-url", &graph, "--format", "json"])
        .args(["--snapshot", snapshot.to_str().unwrap()])
        .args(extra);
    run_command(&mut cmd)
}

/// docs/scheduling.md's recipe.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_tenant_folder_is_served_to_the_next_scan_and_announced() {
    let hook = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(2).mount(&hook).await;
    let hook_url = format!("{}/hook", hook.uri());
    let dir = tempfile::tempdir().unwrap();
    let folder = demo_folder(dir.path(), "tenant");
    let port = free_ports(2);
    let mut served = Served::start(&[folder.to_str().unwrap(), "--port", &port.to_string()]);
    let (before, after) = (dir.path().join("before.json"), dir.path().join("after.json"));

    let first = tokio::task::block_in_place(|| scan(port, &before, &["--notify-webhook", &hook_url]));
    assert_eq!(first.code, 0, "{}", first.stderr);
    // A user the first report does not mention at all gets Owner on a subscription.
    let tenant = azpath_mocks::MockTenant::bundled("demo").unwrap();
    let user =
        tenant.entra.users.iter().map(|u| u.id.to_string()).find(|id| !first.stdout.contains(id.as_str())).unwrap();
    add_owner(&folder, &user, "5c0f0a4e-0d0b-4b6e-9d5e-000000000001");
    let reloaded = served.stderr_line(|l| l.starts_with("reloaded "));
    assert!(reloaded.contains("a change in the folder"), "{reloaded}");

    let second = tokio::task::block_in_place(|| scan(port, &after, &["--notify-webhook", &hook_url]));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stdout.contains(&user), "the second scan sees the new assignment");
    let diff = tokio::task::block_in_place(|| {
        run(&["diff", before.to_str().unwrap(), after.to_str().unwrap(), "--format", "json"])
    });
    let diff: Value = serde_json::from_str(&diff.stdout).unwrap();
    let new = diff["new"].as_array().unwrap();
    assert!(!new.is_empty(), "{diff}");
    // Exactly what the grant adds: every new pair starts at the user, every new finding is the user's own or
    // one the user now joins (a hub the grant lets it reach).
    let new_pairs = diff["new_pairs"].as_array().unwrap();
    assert!(!new_pairs.is_empty() && new_pairs.iter().all(|p| p["source"] == user.as_str()), "{diff}");
    assert!(new.iter().any(|f| f["principal"]["id"] == user.as_str()), "{diff}");
    assert!(new.iter().all(|f| f.to_string().contains(&user)), "only the new grant's findings: {diff}");
    assert!(diff["resolved"].as_array().unwrap().is_empty(), "{diff}");

    // One summary per scan; the second counts the new findings too.
    let bodies: Vec<Value> =
        hook.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(bodies.len(), 2);
    let count = |b: &Value| b["counts"]["findings"].as_u64().unwrap() as usize;
    assert_eq!(count(&bodies[1]), count(&bodies[0]) + new.len());
    assert!(!bodies[0].to_string().contains(&user), "the first summary predates the grant");

    // SIGHUP reloads too; a folder that does not load keeps the previous tenant.
    served.signal(libc::SIGHUP);
    assert!(served.stderr_line(|l| l.starts_with("reloaded ")).contains("SIGHUP"));
    std::fs::write(folder.join("arm/roleAssignments.json"), "{ not json").unwrap();
    let warning = served.stderr_line(|l| l.starts_with("warning: reloading"));
    assert!(
        warning.contains("roleAssignments.json") && warning.contains("still serving the previous tenant"),
        "{warning}"
    );
    let (status, body) = get(port, "/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", ARM_TOKEN);
    assert_eq!(status, 200);
    assert!(body.contains(&user), "the last good tenant is still served");
    let (code, stats) = served.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));
    assert!(stats.starts_with("served ") && stats.ends_with(" requests (0 throttled)"), "{stats}");
}
