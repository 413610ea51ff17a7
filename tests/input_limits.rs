//! Input files are read with a size cap and precise errors: a snapshot with trailing data or without
//! metadata, text that is not UTF-8, and `/dev/zero` as a snapshot, dump or query file all end in a clear
//! error naming the file, never in a panic or memory exhaustion.

mod common;

use common::{azpath, run, run_command};
use std::path::Path;

use azpath::collect::kube::{read_dump, KubeDumpSpec};

const SNAPSHOT: &str = r#"{"schema_version":1,"metadata":{"collected_at":"2025-01-01T00:00:00Z"}}"#;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn a_minimal_snapshot_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = write(tmp.path(), "s.json", SNAPSHOT.as_bytes());
    let r = run(&["analyze", &snap]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn trailing_data_after_the_snapshot_is_an_error_with_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = write(tmp.path(), "s.json", format!("{SNAPSHOT}\n{{\"more\": 1}}").as_bytes());
    let r = run(&["analyze", &snap]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{snap}: trailing data after the snapshot at line 2 column 1")), "{}", r.stderr);
}

#[test]
fn a_schema_version_alone_is_not_an_empty_tenant() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = write(tmp.path(), "s.json", br#"{"schema_version":1}"#);
    let r = run(&["analyze", &snap]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{snap}: invalid snapshot at `metadata`: missing field")), "{}", r.stderr);
}

#[test]
fn invalid_utf8_is_reported_with_its_byte_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = SNAPSHOT.replace("2025", "\n2025").into_bytes();
    let at = bytes.len() - 3;
    bytes[at] = 0xff;
    let snap = write(tmp.path(), "s.json", &bytes);
    let r = run(&["analyze", &snap]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{snap}: not valid UTF-8 at byte {at} (line 2)")), "{}", r.stderr);

    let dump = write(tmp.path(), "d.json", b"{\"apiVersion\":\"v1\",\n\"kind\":\"Namespace\xc3\"}");
    let err = read_dump(&KubeDumpSpec { cluster: "aks".into(), path: dump.clone().into() }).unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(err));
    assert!(text.contains(&format!("{dump}: not valid UTF-8 at byte 37 (line 2)")), "{text}");
}

#[test]
fn dev_zero_hits_the_input_size_limit() {
    let r = run_command(azpath().args(["analyze", "/dev/zero"]).env("AZPATH_MAX_INPUT_BYTES", "1000"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("/dev/zero: larger than the input size limit of 1000 bytes (set AZPATH_MAX_INPUT_BYTES"),
        "{}",
        r.stderr
    );
    let r = run_command(azpath().args(["analyze", "/dev/zero"]).env("AZPATH_MAX_INPUT_BYTES", "lots"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("AZPATH_MAX_INPUT_BYTES: `lots` is not a number of bytes"), "{}", r.stderr);
}

#[test]
fn the_size_limit_applies_to_dumps_and_query_files() {
    let tmp = tempfile::tempdir().unwrap();
    let tenant = concat!(env!("CARGO_MANIFEST_DIR"), "/mocks/tenants/demo");
    let r = run_command(
        azpath()
            .args(["collect", "--mock", tenant, "--kube-dump", "aks=/dev/zero", "-o"])
            .arg(tmp.path().join("s.json"))
            .env("AZPATH_MAX_INPUT_BYTES", "1000"),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("/dev/zero: larger than the input size limit of 1000 bytes"), "{}", r.stderr);

    let snap = write(tmp.path(), "s.json", SNAPSHOT.as_bytes());
    let queries = tmp.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    write(&queries, "big.toml", format!("# {}\n", "x".repeat(2000)).as_bytes());
    let r =
        run_command(azpath().args(["analyze", &snap, "--queries"]).arg(&queries).env("AZPATH_MAX_INPUT_BYTES", "1000"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("big.toml: larger than the input size limit of 1000 bytes"), "{}", r.stderr);
}
