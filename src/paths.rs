//! `azpath paths`: one pair's best path, as text or JSON.

use std::io::Write;

use anyhow::{bail, Result};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::rbac::{Capability, Caps};
use azpath_graph::snapshot::Snapshot;

use crate::render::{self, Format};
use crate::UsageError;

/// Exit code when no path exists.
const EXIT_NO_PATH: u8 = 1;

/// Finds and prints the best path from `from` to `to`.
pub fn run(
    snap: &Snapshot,
    from: &str,
    to: &str,
    capability: &[String],
    include_eligible: bool,
    format: Format,
) -> Result<u8> {
    if format == Format::Sarif {
        bail!(UsageError("--format sarif is for scan, analyze and diff; paths prints table or json".into()));
    }
    let graph = PrivilegeGraph::build(snap);
    let pick = |what: &str, flag: &str| -> Result<_> {
        match graph.resolve(what).as_slice() {
            [one] => Ok(*one),
            [] => bail!(UsageError(format!("{flag}: no identity or scope `{what}` in the snapshot"))),
            many => bail!(UsageError(format!(
                "{flag}: `{what}` names {} nodes; use an id: {}",
                many.len(),
                many.iter().map(|n| graph.node_ref(*n).id).collect::<Vec<_>>().join(", ")
            ))),
        }
    };
    let (a, b) = (pick(from, "--from")?, pick(to, "--to")?);
    let mut caps = Caps::EMPTY;
    for c in capability {
        caps |=
            Capability::parse(c).ok_or_else(|| UsageError(format!("--capability: unknown capability `{c}`")))?.bit();
    }
    let hops = azpath_graph::pathfind::find_path(&graph, a, b, caps, include_eligible);
    let answer = render::PathAnswer {
        found: hops.is_some(),
        from: graph.node_ref(a),
        hops: hops.unwrap_or_default(),
        to: graph.node_ref(b),
    };
    let mut out = std::io::stdout().lock();
    render::render_path(&answer, format, &mut out)?;
    out.flush()?;
    Ok(if answer.found { 0 } else { EXIT_NO_PATH })
}
