//! Helpers shared by the end-to-end tests that run the `azpath` binary.

#![allow(dead_code)]

pub mod kube_fixture;
#[cfg(unix)]
pub mod served;
pub mod stubs;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

/// The binary with a clean environment: no tokens, no log filter, a fixed table width.
pub fn azpath() -> Command {
    let mut c = Command::cargo_bin("azpath").unwrap();
    c.env_remove("AZPATH_ARM_TOKEN").env_remove("AZPATH_GRAPH_TOKEN").env_remove("AZPATH_LOG").env("COLUMNS", "200");
    c
}

/// What a run printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `azpath ARGS`.
pub fn run(args: &[&str]) -> Run {
    run_command(azpath().args(args))
}

/// Runs `azpath ARGS` with extra environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = azpath();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run_command(&mut c)
}

/// Runs a prepared command (extra environment, say).
pub fn run_command(command: &mut Command) -> Run {
    let out = command.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A server that answers every request with a 200 whose body comes one byte every 300 ms, forever.
pub async fn drip_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut request, mut buf) = (Vec::new(), [0u8; 4096]);
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n";
                if socket.write_all(head).await.is_err() {
                    return;
                }
                while socket.write_all(b" ").await.is_ok() {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// The bundled `demo` tenant written to `dir/name`: a folder `scan --mock DIR` and `mock serve DIR` read, free
/// to edit.
pub fn demo_folder(dir: &Path, name: &str) -> PathBuf {
    let folder = dir.join(name);
    azpath_mocks::MockTenant::bundled("demo").unwrap().write(&folder).unwrap();
    folder
}

/// Adds a role assignment (name `assignment`) making `principal` (a user) Owner of the demo's subscription
/// 837c3c76-… to a tenant folder.
pub fn add_owner(folder: &Path, principal: &str, assignment: &str) {
    let file = folder.join("arm/roleAssignments.json");
    let mut list: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let sub = "/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8";
    list["value"].as_array_mut().unwrap().push(serde_json::json!({
        "id": format!("{sub}/providers/Microsoft.Authorization/roleAssignments/{assignment}"),
        "name": assignment,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
            "principalId": principal,
            "principalType": "User",
            "scope": sub
        }
    }));
    std::fs::write(&file, serde_json::to_string_pretty(&list).unwrap()).unwrap();
}

/// A JSON report (schema 4 and later: nodes, edges, target lists and member sets by index) with `findings`,
/// `member_sets` and `pairs` written out whole, as the in-memory report holds them: principals, scopes and
/// hop ends as `{kind, id, display_name}`, targets as `{count, by_kind, sample, ids}`, member sets keyed by
/// `member_set` and resolved (a set's `refs` taken in), choke points naming findings by id. Reading resolves every reference, so a test on this view checks the written layout too.
pub fn resolved(report: &serde_json::Value) -> serde_json::Value {
    let r: azpath_graph::findings::Report =
        serde_json::from_value(report.clone()).unwrap_or_else(|e| panic!("not a report of this schema: {e}"));
    let mut out = report.clone();
    out["findings"] = serde_json::to_value(&r.findings).unwrap();
    let sets: std::collections::BTreeMap<&String, _> = r.member_sets.iter().map(|(k, s)| (k, r.resolve(s))).collect();
    out["member_sets"] = serde_json::to_value(&sets).unwrap();
    out["choke_points"] = serde_json::to_value(&r.choke_points).unwrap();
    if !r.pairs.is_empty() {
        out["pairs"] = serde_json::to_value(&r.pairs).unwrap();
    }
    out
}

/// `n` consecutive free loopback ports (the first one returned); `mock serve --port` takes two, `--kube-port`
/// one per cluster.
pub fn free_ports(n: u16) -> u16 {
    loop {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        if base.checked_add(n).is_some() && (1..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

/// The lines of a child's output stream, as they come.
pub fn lines(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
