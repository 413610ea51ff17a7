//! Reading input files (snapshots, Kubernetes dumps, query files) with a size cap and UTF-8 errors that
//! say where.
//!
//! Every input is read through [`read_text`]: at most [`max_input_bytes`] bytes are read (so `/dev/zero` or a
//! runaway file ends in a clear error, not in memory exhaustion), and text that is not UTF-8 is refused with
//! the byte offset and line of the first bad byte. The cap is [`DEFAULT_MAX_INPUT_BYTES`] (2 GiB: a snapshot
//! of a 1,000,000-node tenant is about 0.7 GiB) unless `AZPATH_MAX_INPUT_BYTES` sets another.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use azpath_graph::snapshot::Snapshot;

mod stream;

/// The environment variable that overrides the input size cap, in bytes.
pub const MAX_INPUT_ENV: &str = "AZPATH_MAX_INPUT_BYTES";

/// The default input size cap: 2 GiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 2 << 30;

/// Why an input file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("reading {path}")]
    Io {
        /// The file.
        path: String,
        /// The IO failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than the cap.
    #[error("{path}: larger than the input size limit of {limit} bytes (set {MAX_INPUT_ENV} to raise it)")]
    TooLarge {
        /// The file.
        path: String,
        /// The cap in force.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not valid UTF-8 at byte {offset} (line {line})")]
    NotUtf8 {
        /// The file.
        path: String,
        /// 0-based byte offset of the first invalid byte.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
    /// `AZPATH_MAX_INPUT_BYTES` is not a number.
    #[error("{MAX_INPUT_ENV}: `{value}` is not a number of bytes")]
    BadLimit {
        /// The value found.
        value: String,
    },
}

/// The input size cap: `AZPATH_MAX_INPUT_BYTES` when set, else [`DEFAULT_MAX_INPUT_BYTES`].
pub fn max_input_bytes() -> Result<u64, InputError> {
    match std::env::var(MAX_INPUT_ENV) {
        Ok(v) => v.trim().parse().map_err(|_| InputError::BadLimit { value: v }),
        Err(_) => Ok(DEFAULT_MAX_INPUT_BYTES),
    }
}

/// Reads a file as UTF-8 text, refusing one larger than [`max_input_bytes`]. Works on files whose size is not
/// known in advance (pipes, `/dev/stdin`, devices): it never reads more than the cap plus one byte.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let shown = path.display().to_string();
    let limit = max_input_bytes()?;
    let io = |source| InputError::Io { path: shown.clone(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { path: shown, limit });
    }
    decode(bytes, &shown)
}

/// `bytes` as text, or where the first invalid UTF-8 byte is.
fn decode(bytes: Vec<u8>, shown: &str) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        InputError::NotUtf8 { path: shown.to_string(), offset, line }
    })
}

/// Reads a snapshot file (`analyze FILE`, `paths`, `diff`, baselines), never holding its whole text: streamed
/// ([`stream`]) through a buffer of a few MiB. A file that does not read so is read again as it always was, for
/// the error: [`read_text`] (size cap, UTF-8), then [`Snapshot::from_json`] (field path, trailing data, schema
/// version); a report, diff or SARIF log given instead is named as such.
pub fn read_snapshot(path: &Path) -> anyhow::Result<Snapshot> {
    if let Ok(file) = std::fs::File::open(path) {
        let limit = max_input_bytes().context("reading the snapshot")?;
        match stream::read(file, limit, |s| Snapshot::read_from(s)) {
            Ok(snapshot) if snapshot.schema_version == azpath_graph::snapshot::SCHEMA_VERSION => return Ok(snapshot),
            Err(stream::Stop::TooLarge) => {
                let shown = path.display().to_string();
                return Err(
                    anyhow::Error::from(InputError::TooLarge { path: shown, limit }).context("reading the snapshot")
                );
            }
            _ => {}
        }
    }
    read_whole_snapshot(path)
}

/// [`read_snapshot`] as it was before it streamed: the whole text read, then parsed; every error's message.
fn read_whole_snapshot(path: &Path) -> anyhow::Result<Snapshot> {
    let text = read_text(path).context("reading the snapshot")?;
    Snapshot::from_json(&text, &path.display().to_string()).map_err(|e| match not_a_snapshot(&text) {
        Some((what, by)) => anyhow::anyhow!(
            "{}: this is {what}, not a snapshot (it looks written by `{by}`): give the file written by `azpath collect -o FILE` or `azpath scan --snapshot FILE`",
            path.display()
        ),
        None => e.into(),
    })
}

/// What an azpath output that is not a snapshot is, by its marker fields: a report (`findings` and
/// `choke_points`, see `findings::Report`), a diff (`old_collected_at`), SARIF (`runs`). `None` for anything
/// else (a snapshot, or not JSON), whose own parse error is the better message.
fn not_a_snapshot(text: &str) -> Option<(&'static str, &'static str)> {
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Markers {
        metadata: Option<IgnoredAny>,
        findings: Option<IgnoredAny>,
        choke_points: Option<IgnoredAny>,
        old_collected_at: Option<IgnoredAny>,
        runs: Option<IgnoredAny>,
    }
    let m: Markers = serde_json::from_str(text).ok()?;
    match m {
        Markers { metadata: Some(_), .. } => None,
        Markers { findings: Some(_), choke_points: Some(_), .. } => Some(("a report", "azpath … --format json")),
        Markers { old_collected_at: Some(_), .. } => Some(("a diff", "azpath diff --format json")),
        Markers { runs: Some(_), .. } => Some(("a SARIF log", "azpath … --format sarif")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_names_byte_and_line() {
        let err = decode(b"{\n  \"a\": \"\xff\"}".to_vec(), "s.json").unwrap_err();
        assert_eq!(err.to_string(), "s.json: not valid UTF-8 at byte 10 (line 2)");
        assert_eq!(decode("é\n".as_bytes().to_vec(), "s.json").unwrap(), "é\n");
    }
}
