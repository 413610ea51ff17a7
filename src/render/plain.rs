//! Plain-text outputs of the commands other than the report: `azpath paths` and `azpath queries list`. Each
//! line goes through [`write_line`], so names and titles reach the terminal escaped.

use std::io::{self, Write};

use serde::Serialize;

use azpath_graph::findings::{Hop, NodeRef};
use azpath_graph::pathfind::{FoundPath, Strength};
use azpath_graph::posture::Check;
use azpath_graph::query::Query;
use azpath_graph::rbac::{Capability, Caps};

use super::path_dot::render_path_dot;
use super::text::write_line;
use super::Format;

/// The answer of `azpath paths`: the best path between two nodes, if any, and the power it gives (the JSON
/// shape is documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct PathAnswer {
    // Fields in alphabetical order, as the JSON has always had them.
    /// What the path's role assignment confers at the target, after deny assignments (empty when the path
    /// holds no role).
    #[serde(serialize_with = "capability_names")]
    pub capabilities: Caps,
    /// Whether there is a path.
    pub found: bool,
    /// Where the path starts.
    pub from: NodeRef,
    /// The hops, source first (empty when there is no path).
    pub hops: Vec<Hop>,
    /// When [`strongest`](Self::strongest): the stronger powers no path gives at the target.
    pub not_reachable: Vec<Strength>,
    /// How strong [`capabilities`](Self::capabilities) is; `None` when there is no path or it holds no role.
    pub strength: Option<Strength>,
    /// Whether the path was chosen as the strongest power at the target (no `--capability`).
    pub strongest: bool,
    /// Where it ends.
    pub to: NodeRef,
}

impl PathAnswer {
    /// The answer for a search result; `strongest` when no capability was asked for.
    pub fn new(from: NodeRef, to: NodeRef, path: Option<FoundPath>, strongest: bool) -> PathAnswer {
        let found = path.is_some();
        let path = path.unwrap_or(FoundPath { hops: Vec::new(), capabilities: Caps::EMPTY, strength: None });
        let not_reachable = match path.strength {
            Some(s) if strongest => s.stronger().collect(),
            _ => Vec::new(),
        };
        PathAnswer {
            capabilities: path.capabilities,
            found,
            from,
            hops: path.hops,
            not_reachable,
            strength: path.strength,
            strongest,
            to,
        }
    }
}

fn capability_names<S: serde::Serializer>(caps: &Caps, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(caps.iter().map(Capability::as_str))
}

/// Writes a path answer: JSON, DOT, or numbered lines (`table`). SARIF has no path form: an error.
pub fn render_path(answer: &PathAnswer, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, answer)?;
            writeln!(out)
        }
        Format::Dot => render_path_dot(answer, out),
        Format::Table => render_path_text(answer, out),
        Format::Sarif | Format::Ndjson | Format::Opengraph => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a path has no SARIF or ndjson form; use table, json or dot",
        )),
    }
}

/// The path as lines: the power it gives (and which stronger ones no path gives), then each hop.
fn render_path_text(answer: &PathAnswer, out: &mut dyn Write) -> io::Result<()> {
    let (from, to) = (&answer.from.display_name, &answer.to.display_name);
    if !answer.found {
        return write_line(out, &format!("No path from {from} to {to}."));
    }
    if let Some(power) = power_summary(answer) {
        let which = if answer.strongest { "Strongest power" } else { "Power" };
        write_line(out, &format!("{which} of {from} at {to}: {power}."))?;
    }
    if !answer.not_reachable.is_empty() {
        let names: Vec<&str> = answer.not_reachable.iter().map(|s| strength_words(*s)).collect();
        write_line(out, &format!("No path gives {}.", or_list(&names)))?;
    }
    write_line(out, &format!("{from} reaches {to} in {} hop(s):", answer.hops.len()))?;
    for (i, h) in answer.hops.iter().enumerate() {
        write_line(out, &format!("  {}. {}", i + 1, h.detail))?;
        write_line(out, &format!("     {} evidence: {}", h.edge, h.evidence.join(" ")))?;
    }
    Ok(())
}

/// The power a found path gives, in words (`assign-roles, write-everything (Owner-equivalent), after PIM
/// activation`); `None` when the path holds no role.
pub(super) fn power_summary(answer: &PathAnswer) -> Option<String> {
    let strength = answer.strength?;
    let caps = answer.capabilities.headline().names().join(", ");
    let mut power = match strength {
        Strength::AssignRoles => format!("{caps} (Owner-equivalent)"),
        Strength::WriteEverything => format!("{caps} (Contributor-equivalent)"),
        Strength::OtherCapability => caps,
        Strength::AnyRole => "a role with no named capability (Reader or similar)".to_string(),
    };
    if answer.hops.iter().any(|h| h.eligible) {
        power.push_str(", after PIM activation");
    }
    Some(power)
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn strength_words(s: Strength) -> &'static str {
    match s {
        Strength::AssignRoles => "assign-roles",
        Strength::WriteEverything => "write-everything",
        Strength::OtherCapability => "another named capability",
        Strength::AnyRole => "any role",
    }
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
