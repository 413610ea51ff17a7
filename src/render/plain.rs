//! Plain-text outputs of the commands other than the report: `azpath paths` and `azpath queries list`. Each
//! line goes through [`write_line`], so names and titles reach the terminal escaped.

use std::io::{self, Write};

use serde::Serialize;

use azpath_graph::findings::{Hop, NodeRef};
use azpath_graph::posture::Check;
use azpath_graph::query::Query;

use super::text::write_line;
use super::Format;

/// The answer of `azpath paths`: the best path between two nodes, if any (the JSON shape is documented in
/// the README).
#[derive(Debug, Clone, Serialize)]
pub struct PathAnswer {
    // Fields in the order the JSON has always had (alphabetical).
    /// Whether there is a path.
    pub found: bool,
    /// Where the path starts.
    pub from: NodeRef,
    /// The hops, source first (empty when there is no path).
    pub hops: Vec<Hop>,
    /// Where it ends.
    pub to: NodeRef,
}

/// Writes a path answer as JSON (`--format json`) or as numbered lines (any other format).
pub fn render_path(answer: &PathAnswer, format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, answer)?;
        return writeln!(out);
    }
    let (from, to) = (&answer.from.display_name, &answer.to.display_name);
    if !answer.found {
        return write_line(out, &format!("No path from {from} to {to}."));
    }
    write_line(out, &format!("{from} reaches {to} in {} hop(s):", answer.hops.len()))?;
    for (i, h) in answer.hops.iter().enumerate() {
        write_line(out, &format!("  {}. {}", i + 1, h.detail))?;
        write_line(out, &format!("     {} evidence: {}", h.edge, h.evidence.join(" ")))?;
    }
    Ok(())
}

/// Writes `azpath queries list`: one line per query, then one per posture check.
pub fn render_query_list(queries: &[Query], checks: &[Check], out: &mut dyn Write) -> io::Result<()> {
    for q in queries {
        write_line(out, &format!("{:<46} {:<9} {}", q.id, q.severity.as_str(), q.title))?;
    }
    for c in checks {
        write_line(out, &format!("{:<46} {:<9} {} (posture)", c.id, c.severity.as_str(), c.title))?;
    }
    Ok(())
}
