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

/// Runs a prepared command (extra environment, say).
pub fn run_command(command: &mut Command) -> Run {
    let out = command.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
