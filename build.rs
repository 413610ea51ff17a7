//! Sets `AZPATH_VERSION` for `--version`: the package version and the short commit it was built from
//! (`0.1.0 (abc1234)`), or the version alone outside a git checkout (a crates.io or tarball build).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    // Only this package's own checkout: a tarball unpacked inside another repository must not take its commit.
    let own = git(&["rev-parse", "--show-toplevel"]).map(PathBuf::from).and_then(|p| p.canonicalize().ok())
        == std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).and_then(|p| p.canonicalize().ok());
    let commit = if own { git(&["rev-parse", "--short", "HEAD"]) } else { None };
    let full = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=AZPATH_VERSION={full}");
    println!("cargo:rerun-if-changed=build.rs");
    // HEAD, the ref it points to and packed refs (paths resolved by git: a worktree keeps HEAD apart from the
    // shared refs). Only files that exist: cargo reruns a build script every time for a missing one.
    if !own {
        return;
    }
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]).map(PathBuf::from) {
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

/// The trimmed stdout of `git ARGS` run in the package directory, if git is there and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
