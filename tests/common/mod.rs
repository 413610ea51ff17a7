//! Helpers shared by the end-to-end tests that run the `azpath` binary.

#![allow(dead_code)]

pub mod kube_fixture;

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
