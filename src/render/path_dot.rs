//! `azpath paths --format dot`: one path as a small Graphviz digraph. Nodes are drawn with a shape per kind,
//! edges carry their label (the role, `member of`, `contains`…), PIM-eligible hops are dashed and conditional
//! ones dotted; the graph's title says which power the path gives. Every text from the tenant goes through
//! [`text::visible`] before DOT quoting, so a control character in a name is drawn as its escape.

use std::io::{self, Write};

use azpath_graph::findings::NodeRef;
use azpath_graph::model::{EdgeKind, NodeKind};

use super::plain::{power_summary, PathAnswer};
use super::text;

/// Writes the path of `answer` (or, when there is none, its two ends and a "no path" title) as a digraph.
pub fn render_path_dot(answer: &PathAnswer, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "digraph azpath_path {{")?;
    writeln!(out, "  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label={}];", quote(&[&title(answer)]))?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    for n in nodes(answer) {
        write_node(out, n)?;
    }
    for h in &answer.hops {
        let mut attrs = vec![format!("label={}", quote(&[&h.label])), edge_colour(h.edge).to_string()];
        if h.eligible {
            attrs.push("style=dashed".into());
        } else if h.conditional {
            attrs.push("style=dotted".into());
        }
        writeln!(out, "  {} -> {} [{}];", quote(&[&h.from.id]), quote(&[&h.to.id]), attrs.join(", "))?;
    }
    writeln!(out, "}}")
}

/// The graph's title: the two ends and the power, or that there is no path.
fn title(answer: &PathAnswer) -> String {
    let (from, to) = (&answer.from.display_name, &answer.to.display_name);
    if !answer.found {
        return format!("no path from {from} to {to}");
    }
    match power_summary(answer) {
        Some(power) => format!("{from} to {to}: {power}"),
        None => format!("{from} to {to}"),
    }
}

/// The nodes along the path, source first, each once (the two ends when there is no path).
fn nodes(answer: &PathAnswer) -> Vec<&NodeRef> {
    let mut nodes = vec![&answer.from];
    for n in answer.hops.iter().map(|h| &h.to).chain([&answer.to]) {
        if !nodes.iter().any(|m| m.id == n.id) {
            nodes.push(n);
        }
    }
    nodes
}

fn write_node(out: &mut dyn Write, n: &NodeRef) -> io::Result<()> {
    writeln!(
        out,
        "  {} [label={}, shape={}];",
        quote(&[&n.id]),
        quote(&[n.kind.as_str(), &n.display_name]),
        shape(n.kind)
    )
}

/// Shapes as in the report's DOT: people as ellipses, applications and identities as hexagons, scopes as
/// rounded boxes, Kubernetes objects as components and folders.
fn shape(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::User => "ellipse",
        NodeKind::Group => "oval, style=filled, fillcolor=\"#eef3fb\"",
        NodeKind::ServicePrincipal | NodeKind::Application => "hexagon",
        NodeKind::UnknownPrincipal => "ellipse, style=dashed",
        NodeKind::ManagedIdentity => "hexagon, style=filled, fillcolor=\"#f4ecf7\"",
        NodeKind::ExternalWorkload => "hexagon, style=dashed",
        NodeKind::KubeClusterAdmin => "doubleoctagon, style=filled, fillcolor=\"#f5b7b1\"",
        NodeKind::KubeNamespace | NodeKind::KubeAsoNamespace => "folder",
        NodeKind::KubeNodes => "box3d",
        NodeKind::KubeAsoForgeable | NodeKind::ScopeIdentities | NodeKind::EntraTargets => "tab",
        NodeKind::DirectoryRole | NodeKind::GraphPermission => "house",
        NodeKind::EntraTierZero => "doubleoctagon, style=filled, fillcolor=\"#f5b7b1\"",
        NodeKind::KubeServiceAccount | NodeKind::KubeUser | NodeKind::KubeGroup | NodeKind::KubeSubjectSet => {
            "component"
        }
        NodeKind::Root
        | NodeKind::ManagementGroup
        | NodeKind::Subscription
        | NodeKind::ResourceGroup
        | NodeKind::Resource => "box, style=rounded",
    }
}

fn edge_colour(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::MemberOf => "color=\"#7f7f7f\"",
        EdgeKind::Contains => "color=\"#4a78b5\", arrowhead=empty",
        EdgeKind::HasRole => "color=\"#c0392b\", penwidth=1.5",
        EdgeKind::FederatedTrust | EdgeKind::CanWriteFederatedCredential | EdgeKind::AsoActsAs => {
            "color=\"#8e44ad\", penwidth=1.5"
        }
        _ => "color=\"#27ae60\"",
    }
}

/// A DOT double-quoted string of one or more lines: each line [made visible](text::visible) (so a newline or
/// control character from the data is drawn as its escape), then quotes and backslashes escaped, lines joined
/// by DOT's `\n`.
fn quote(lines: &[&str]) -> String {
    let mut q = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            q.push_str("\\n");
        }
        for c in text::visible(line).chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                c => q.push(c),
            }
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_escapes_quotes_and_backslashes_and_shows_control_characters() {
        assert_eq!(quote(&["a\"b\\c", "d"]), r#""a\"b\\c\nd""#);
        assert_eq!(quote(&["x\ny\u{1b}[2J\u{202e}"]), r#""x\\ny\\u{1b}[2J\\u{202e}""#);
    }
}
