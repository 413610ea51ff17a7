//! `azpath paths --format dot`: one path as a small Graphviz digraph. Nodes are drawn with a shape per kind,
//! edges carry their label (the role, `member of`, `contains`…), PIM-eligible hops are dashed and conditional
//! ones dotted; the graph's title says which power the path gives. Every text from the tenant goes through
//! [`text::visible`] before DOT quoting, so a control character in a name is drawn as its escape.

use std::io::{self, Write};

use azpath_graph::findings::NodeRef;
use azpath_graph::model::{EdgeKind, NodeKind};

use super::dot::{quote, safe, wrap, EDGE_COLUMNS, NODE_COLUMNS};
use super::plain::{power_summary, PathAnswer};

/// Writes the path of `answer` (or, when there is none, its two ends and a "no path" title) as a digraph.
pub fn render_path_dot(answer: &PathAnswer, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "digraph azpath_path {{")?;
    writeln!(out, "  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label={}];", quote(&safe(&title(answer))))?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    for n in nodes(answer) {
        write_node(out, n)?;
    }
    for h in &answer.hops {
        let mut attrs = vec![format!("label={}", label(&[&h.label], EDGE_COLUMNS)), edge_colour(h.edge).to_string()];
        if h.eligible {
            attrs.push("style=dashed".into());
        } else if h.conditional {
            attrs.push("style=dotted".into());
        }
        writeln!(out, "  {} -> {} [{}];", quote(&safe(&h.from.id)), quote(&safe(&h.to.id)), attrs.join(", "))?;
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
        quote(&safe(&n.id)),
        label(&[n.kind.as_str(), &n.display_name], NODE_COLUMNS),
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

/// A DOT label of one or more lines: each line [made visible](super::text::visible) (so a newline or control
/// character from the data is drawn as its escape) and wrapped to `columns`.
fn label(lines: &[&str], columns: usize) -> String {
    quote(&lines.iter().map(|l| wrap(&safe(l), columns)).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn labels_show_control_characters_escape_quotes_and_wrap() {
        assert_eq!(label(&["a\"b\\c", "d"], 40), r#""a\"b\\c\nd""#);
        assert_eq!(label(&["x\ny\u{1b}[2J\u{202e}"], 40), r#""x\\ny\\u{1b}[2J\\u{202e}""#);
        assert_eq!(label(&["User", "a long display name"], 10), r#""User\na long\ndisplay\nname""#);
    }
}
