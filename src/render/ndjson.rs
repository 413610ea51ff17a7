//! `--format ndjson`: every (principal, target) pair with its best path, one compact JSON object per line (a
//! [`Pair`], the `Pair` definition of docs/report.schema.json, the same objects as the JSON report's `pairs`
//! with `--expand`). [`write_pairs`] writes each pair as the engine finds it and keeps none, so memory stays
//! bounded by one target's search however many pairs a tenant has.

use std::io::{self, Write};

use azpath_graph::engine::{self, AnalyzeOptions};
use azpath_graph::findings::{Pair, Report};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::model::Severity;
use azpath_graph::query::Query;

/// What a stream wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Lines (pairs) written.
    pub pairs: usize,
    /// The highest severity among them.
    pub worst: Option<Severity>,
}

/// Runs every query over `graph` and writes each pair to `out` as it is found: query by query in the order
/// given, target by target, in the engine's order (not the sorted order of the JSON report's `pairs`). After
/// a write error nothing more is written, and the error is returned.
pub fn write_pairs(
    graph: &PrivilegeGraph,
    queries: &[Query],
    options: AnalyzeOptions,
    out: &mut dyn Write,
) -> io::Result<Streamed> {
    let mut lines = Lines { out, streamed: Streamed::default(), error: None };
    for query in queries {
        engine::for_each_pair(graph, query, options, &mut |pair| lines.write(&pair));
        if lines.error.is_some() {
            break;
        }
    }
    lines.finish()
}

/// Writes a report's `pairs` (collected with `--expand`) one per line.
pub fn render_ndjson(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut lines = Lines { out, streamed: Streamed::default(), error: None };
    for pair in &report.pairs {
        lines.write(pair);
    }
    lines.finish().map(drop)
}

/// The line writer: counts, remembers the worst severity and the first error.
struct Lines<'a> {
    out: &'a mut dyn Write,
    streamed: Streamed,
    error: Option<io::Error>,
}

impl Lines<'_> {
    fn write(&mut self, pair: &Pair) {
        if self.error.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut *self.out, pair).map_err(io::Error::from);
        match written.and_then(|()| self.out.write_all(b"\n")) {
            Ok(()) => {
                self.streamed.pairs += 1;
                self.streamed.worst = self.streamed.worst.max(Some(pair.severity));
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
