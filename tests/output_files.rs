//! Where `-o/--output`, `--snapshot` and `collect -o` write, end to end through the binary: regular files are
//! replaced atomically and owner-only; FIFOs and character devices are written straight into and never
//! replaced; symlinks, directories and sockets are refused; `-` is stdout; Ctrl-C/SIGTERM exit 130/143.

#![cfg(unix)]

mod common;

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use common::{azpath, run, Run};

/// The demo tenant's snapshot, collected once for this test binary.
fn demo_snapshot() -> &'static str {
    static SNAP: OnceLock<PathBuf> = OnceLock::new();
    SNAP.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("output_files-demo.json");
        let r = run(&["collect", "--mock", "demo", "-q", "-o", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        path
    })
    .to_str()
    .unwrap()
}

/// `azpath analyze DEMO --format json -o TARGET`.
fn analyze_to(target: &Path) -> Run {
    run(&["analyze", demo_snapshot(), "--format", "json", "-o", target.to_str().unwrap()])
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn assert_report(text: &str) {
    let v: serde_json::Value = serde_json::from_str(text).expect("a JSON report");
    assert!(v["findings"].as_array().is_some_and(|f| !f.is_empty()), "{text}");
}

#[test]
fn fifo_target_stays_a_fifo_and_its_reader_gets_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    mkfifo(&fifo);
    let (tx, rx) = mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        fs::File::open(&reader_path).unwrap().read_to_string(&mut text).unwrap();
        let _ = tx.send(text);
    });
    let r = analyze_to(&fifo);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Checked before waiting for the reader: a replaced FIFO would leave it blocked forever.
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
    assert_eq!(names(dir.path()), ["report.fifo"], "no temp file");
    assert_report(&rx.recv_timeout(Duration::from_secs(60)).expect("the reader got the report"));
}

#[test]
fn character_device_is_written_into_not_replaced() {
    // A device node in a temp dir first (needs root, which CI has): the old writer would replace it.
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    let c = CString::new(null.as_os_str().as_bytes()).unwrap();
    if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0 {
        let mode = fs::symlink_metadata(&null).unwrap().permissions().mode();
        let r = analyze_to(&null);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let meta = fs::symlink_metadata(&null).unwrap();
        assert!(meta.file_type().is_char_device(), "still a character device");
        assert_eq!(meta.permissions().mode(), mode, "the device's mode is not changed");
        assert_eq!(names(dir.path()), ["null"], "no temp file");
    }
    // The real /dev/null, as root or not: written into, never renamed over.
    let r = analyze_to(Path::new("/dev/null"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let meta = fs::symlink_metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device(), "/dev/null is still a character device");
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);
}

#[test]
fn symlink_target_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.json");
    fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink(dir.path().join("elsewhere.json"), &dangling).unwrap();
    for path in [&link, &dangling] {
        let r = analyze_to(path);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("refusing to replace symlink {}", path.display())), "{}", r.stderr);
        assert!(r.stderr.contains("write to its target or remove it"), "{}", r.stderr);
        assert!(fs::symlink_metadata(path).unwrap().file_type().is_symlink(), "still a symlink");
    }
    assert_eq!(fs::read_link(&link).unwrap(), target);
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep", "the link's target is not written");
    assert_eq!(names(dir.path()), ["dangling.json", "link.json", "target.json"], "nothing created");
}

#[test]
fn directory_and_socket_targets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("reports");
    fs::create_dir(&sub).unwrap();
    let r = analyze_to(&sub);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("refusing to write to {}: it is a directory", sub.display())), "{}", r.stderr);
    let sock = dir.path().join("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let r = analyze_to(&sock);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("refusing to write to {}: it is a socket", sock.display())), "{}", r.stderr);
    assert!(fs::symlink_metadata(&sock).unwrap().file_type().is_socket(), "still a socket");
    assert_eq!(names(dir.path()), ["reports", "s.sock"], "no temp file");
    assert!(names(&sub).is_empty());
}

#[test]
fn dash_is_stdout_and_creates_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = azpath()
        .current_dir(dir.path())
        .args(["analyze", demo_snapshot(), "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_report(&String::from_utf8(out.stdout).unwrap());
    assert!(names(dir.path()).is_empty(), "no file named `-`");
}

#[test]
fn dev_stdout_is_stdout_not_a_symlink_to_replace() {
    let out = azpath().args(["analyze", demo_snapshot(), "--format", "json", "-o", "/dev/stdout"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_report(&String::from_utf8(out.stdout).unwrap());
    assert!(fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink(), "/dev/stdout untouched");
}

#[test]
fn regular_file_is_replaced_atomically_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    fs::write(&out, "old").unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o644)).unwrap();
    let r = analyze_to(&out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_report(&fs::read_to_string(&out).unwrap());
    assert_eq!(fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(names(dir.path()), ["report.json"], "no temp file left");
}

/// Every command that writes a file goes through the same checks.
#[test]
fn every_writer_refuses_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let l = link.to_str().unwrap();
    let snap = demo_snapshot();
    for args in [
        vec!["collect", "--mock", "demo", "-o", l],
        vec!["scan", "--mock", "demo", "--snapshot", l],
        vec!["diff", snap, snap, "-o", l],
        vec!["mock", "generate", "--size", "20", "--snapshot", l],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("refusing to replace symlink"), "{args:?}: {}", r.stderr);
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "{args:?}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep", "{args:?}");
    }
    assert_eq!(names(dir.path()), ["link", "target"], "no temp file");
}

/// A child blocked writing its report into a full pipe (the demo's JSON report, about 250 KB, is far larger
/// than a pipe's buffer, 64 KiB on Linux) is signalled; the signal thread exits with 128 + the signal number. Temp-file removal on a signal is unit
/// tested in src/output.rs: a regular-file write cannot be made to block from here.
#[test]
fn sigint_and_sigterm_during_a_write_exit_130_and_143() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let dir = tempfile::tempdir().unwrap();
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut child = azpath()
            .current_dir(dir.path())
            .args(["analyze", demo_snapshot(), "--format", "json"])
            .stdout(Stdio::from(writer))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).unwrap(); // the child is writing: its signal thread runs already
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "signal {signal}: {status:?}");
        assert!(names(dir.path()).is_empty(), "nothing left behind");
    }
}
