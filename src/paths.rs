//! `azpath paths`: one pair's best path, as text, JSON or DOT. Without `--capability` the path giving the
//! strongest power at the target is shown; an id or name that matches nothing gets near-miss suggestions.

use std::io::Write;

use anyhow::{bail, Result};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::pathfind::{self, NodeIndex, PathOptions};
use azpath_graph::rbac::{Capability, Caps};
use azpath_graph::snapshot::Snapshot;

use crate::render::{self, Format};
use crate::UsageError;

/// Exit code when no path exists.
const EXIT_NO_PATH: u8 = 1;

/// Most near-miss names suggested for an unknown `--from`/`--to`.
const MAX_SUGGESTIONS: usize = 5;

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
        bail!(UsageError("--format sarif is for scan, analyze and diff; paths prints table, json or dot".into()));
    }
    let capabilities = parse_capabilities(capability)?;
    let graph = PrivilegeGraph::build(snap);
    let (a, b) = (pick(&graph, from, "--from")?, pick(&graph, to, "--to")?);
    let path = pathfind::best_path(&graph, a, b, PathOptions { capabilities, include_eligible });
    let answer = render::PathAnswer::new(graph.node_ref(a), graph.node_ref(b), path, capabilities.is_empty());
    let mut out = std::io::stdout().lock();
    render::render_path(&answer, format, &mut out)?;
    out.flush()?;
    Ok(if answer.found { 0 } else { EXIT_NO_PATH })
}

fn parse_capabilities(names: &[String]) -> Result<Caps> {
    let mut caps = Caps::EMPTY;
    for c in names {
        let names = Capability::ALL.map(Capability::as_str);
        let unknown =
            || UsageError(format!("--capability: unknown capability `{c}`{}", crate::cli::did_you_mean(c, names)));
        caps |= Capability::parse(c).ok_or_else(unknown)?.bit();
    }
    Ok(caps)
}

/// The one node `what` names (an id, or an exact display name in any case); a usage error listing the ids
/// when it names several, or the near misses when it names none.
fn pick(graph: &PrivilegeGraph, what: &str, flag: &str) -> Result<NodeIndex> {
    match graph.resolve(what).as_slice() {
        [one] => Ok(*one),
        [] => bail!(UsageError(format!(
            "{flag}: no identity or scope `{what}` in the snapshot{}",
            suggestions(graph, what)
        ))),
        many => bail!(UsageError(format!(
            "{flag}: `{what}` names {} nodes; use an id: {}",
            many.len(),
            many.iter().map(|n| graph.node_ref(*n).id).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `; did you mean `Name` (Kind id), …?` for the near misses of `what`, or nothing.
fn suggestions(graph: &PrivilegeGraph, what: &str) -> String {
    let near = pathfind::near_misses(graph, what, MAX_SUGGESTIONS);
    if near.is_empty() {
        return String::new();
    }
    let names: Vec<String> = near
        .iter()
        .map(|n| {
            let r = graph.node_ref(*n);
            format!("`{}` ({} {})", r.display_name, r.kind, r.id)
        })
        .collect();
    format!("; did you mean {}?", names.join(", "))
}
