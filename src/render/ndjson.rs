//! `--format ndjson`: every (principal, target) pair, one compact JSON object per line: query, source, target,
//! the finding that explains it (the finding carries the path, its remediation and fix) and the pair's flags
//! (an [`ExpandedPair`], the `ExpandedPair` definition of docs/report.schema.json: the same objects as the JSON
//! report's `pairs` with `--expand`). [`write_pairs`] derives them from the grouped report
//! ([`azpath_graph::expand::Pairs`]) one (query, target) cell at a time and keeps none, so memory stays bounded by
//! the report however many pairs a tenant has.

use std::io::{self, Write};

use azpath_graph::expand::{IndexedPair, Pairs};
use azpath_graph::findings::Report;
use azpath_graph::model::Severity;

/// What a stream wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Lines (pairs) written.
    pub pairs: usize,
    /// The highest severity among them.
    pub worst: Option<Severity>,
}

/// Writes every pair `report`'s findings imply to `out`, in the JSON report's order (severity, query id,
/// target id, source id). After a write error nothing more is written, and the error is returned.
pub fn write_pairs(report: &Report, out: &mut dyn Write) -> io::Result<Streamed> {
    let pairs = Pairs::of(report);
    let mut lines = Lines::new(&pairs, out);
    pairs.for_each(&mut |p| lines.write(p));
    lines.finish()
}

/// Writes a report's `pairs` (collected with `--expand`) one per line.
pub fn render_ndjson(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for pair in &report.pairs {
        serde_json::to_writer(&mut *out, pair).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The line writer: every id JSON-encoded once, each line assembled from them, the count, the worst severity
/// and the first error. A line is byte for byte `serde_json`'s encoding of the [`ExpandedPair`].
struct Lines<'a> {
    out: &'a mut dyn Write,
    /// Each interned id of the pairs, as a JSON string.
    names: Vec<String>,
    /// Each finding's id, as a JSON string.
    findings: Vec<String>,
    /// The severity of each interned query id (`None` for the other ids).
    severity: Vec<Option<Severity>>,
    line: Vec<u8>,
    streamed: Streamed,
    error: Option<io::Error>,
}

impl<'a> Lines<'a> {
    fn new(pairs: &Pairs<'_>, out: &'a mut dyn Write) -> Lines<'a> {
        let report = pairs.report();
        let names: Vec<String> = pairs.names().iter().map(|n| json_string(n)).collect();
        let severity =
            pairs.names().iter().map(|n| report.queries.iter().find(|q| q.id == *n).map(|q| q.severity)).collect();
        let findings = report.findings.iter().map(|f| json_string(&f.id)).collect();
        Lines {
            out,
            names,
            findings,
            severity,
            line: Vec::with_capacity(512),
            streamed: Streamed::default(),
            error: None,
        }
    }

    fn write(&mut self, p: IndexedPair) {
        if self.error.is_some() {
            return;
        }
        let name = |i: u32| self.names[i as usize].as_bytes();
        let line = &mut self.line;
        line.clear();
        for (key, value) in [
            (&b"{\"query_id\":"[..], name(p.query)),
            (b",\"source\":", name(p.source)),
            (b",\"target\":", name(p.target)),
            (b",\"finding\":", self.findings[p.finding as usize].as_bytes()),
        ] {
            line.extend_from_slice(key);
            line.extend_from_slice(value);
        }
        line.extend_from_slice(if p.flags.escalation {
            b",\"reach\":\"escalation\""
        } else {
            b",\"reach\":\"standing\""
        });
        line.extend_from_slice(if p.flags.eligible { b",\"eligible\":true" } else { b",\"eligible\":false" });
        line.extend_from_slice(if p.flags.conditional {
            b",\"conditional\":true}\n"
        } else {
            b",\"conditional\":false}\n"
        });
        match self.out.write_all(line) {
            Ok(()) => {
                self.streamed.pairs += 1;
                self.streamed.worst = self.streamed.worst.max(self.severity[p.query as usize]);
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn finish(self) -> io::Result<Streamed> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.streamed),
        }
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::expand::ExpandedPair;

    /// The demo's grouped report with `--expand`.
    fn demo() -> Report {
        let snap = azpath_mocks::tenant::MockTenant::bundled("demo").expect("the demo tenant").to_snapshot();
        let queries = crate::queries::builtin();
        let options = azpath_graph::engine::AnalyzeOptions { expand: true, ..Default::default() };
        azpath_graph::engine::analyze(&snap, &queries, options)
    }

    #[test]
    fn each_streamed_line_is_serde_jsons_encoding_of_the_expanded_pair() {
        let report = demo();
        let mut out = Vec::new();
        let streamed = write_pairs(&report, &mut out).unwrap();
        let mut rendered = Vec::new();
        render_ndjson(&report, &mut rendered).unwrap();
        assert!(streamed.pairs > 10 && streamed.pairs == report.pairs.len(), "{streamed:?}");
        assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(rendered).unwrap());
        let parsed: ExpandedPair = serde_json::from_str(&serde_json::to_string(&report.pairs[0]).unwrap()).unwrap();
        assert_eq!(parsed, report.pairs[0]);
        assert!(report.pairs.iter().any(|p| p.eligible) && report.pairs.iter().any(|p| !p.eligible));
    }

    #[test]
    fn a_write_error_stops_the_stream_and_is_returned() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
                }
                self.0 -= 1;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let report = demo();
        let mut out = Full(3);
        let err = write_pairs(&report, &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let mut roomy = Full(usize::MAX);
        assert_eq!(write_pairs(&report, &mut roomy).unwrap().pairs, report.pairs.len());
    }
}
