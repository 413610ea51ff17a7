//! The DOT format, written by hand for a stable order and proper escaping: principals on the left,
//! Azure scopes grouped in one cluster per subscription (resource groups nested inside), every hop of every
//! finding drawn once.

use std::collections::BTreeMap;
use std::io::{self, Write};

use azpath_graph::findings::{NodeRef, Report};
use azpath_graph::model::{EdgeKind, NodeKind};
use azpath_graph::scope;

use super::text;

/// Writes every path of the report as one Graphviz digraph.
pub fn render_dot(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut nodes: BTreeMap<String, &NodeRef> = BTreeMap::new();
    // (from, to, edge, label) → (eligible, conditional)
    let mut edges: BTreeMap<(String, String, EdgeKind, String), (bool, bool)> = BTreeMap::new();
    for f in &report.findings {
        for h in &f.hops {
            nodes.entry(h.from.id.clone()).or_insert(&h.from);
            nodes.entry(h.to.id.clone()).or_insert(&h.to);
            let e = edges.entry((h.from.id.clone(), h.to.id.clone(), h.edge, h.label.clone())).or_default();
            e.0 |= h.eligible;
            e.1 |= h.conditional;
        }
    }
    // Severity of the worst finding targeting each node, to colour targets.
    let mut worst: BTreeMap<&str, azpath_graph::model::Severity> = BTreeMap::new();
    for f in &report.findings {
        let w = worst.entry(f.scope.id.as_str()).or_insert(f.severity);
        *w = (*w).max(f.severity);
    }

    writeln!(out, "digraph azpath {{")?;
    writeln!(out, "  graph [rankdir=LR, fontname=\"Helvetica\", labeljust=l, compound=true];")?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;

    // Cluster scopes by subscription, then by resource group.
    let mut clusters: BTreeMap<String, BTreeMap<String, Vec<&NodeRef>>> = BTreeMap::new();
    let mut loose: Vec<&NodeRef> = Vec::new();
    // Kubernetes nodes grouped by cluster, then namespace.
    let mut kube: BTreeMap<String, BTreeMap<String, Vec<&NodeRef>>> = BTreeMap::new();
    for n in nodes.values() {
        if n.kind.is_kubernetes() {
            let (cluster, ns) = kube_parts(&n.id);
            kube.entry(cluster).or_default().entry(ns).or_default().push(n);
            continue;
        }
        match (n.kind.is_scope(), scope::subscription_of(&n.id)) {
            (true, Some(sub)) => {
                let rg = scope::resource_group_of(&n.id).unwrap_or("").to_string();
                clusters.entry(sub.to_string()).or_default().entry(rg).or_default().push(n);
            }
            _ => loose.push(n),
        }
    }
    for n in &loose {
        write_node(out, "  ", n, worst.get(n.id.as_str()).copied())?;
    }
    for (i, (sub, groups)) in clusters.iter().enumerate() {
        let sub_name = nodes.get(sub).map(|n| n.display_name.as_str()).unwrap_or(sub.as_str());
        writeln!(out, "  subgraph \"cluster_sub_{i}\" {{")?;
        writeln!(out, "    label={}; style=rounded; color=\"#4a78b5\";", quote(&format!("subscription {sub_name}")))?;
        for (j, (rg, members)) in groups.iter().enumerate() {
            let indent = if rg.is_empty() { "    " } else { "      " };
            if !rg.is_empty() {
                writeln!(out, "    subgraph \"cluster_sub_{i}_rg_{j}\" {{")?;
                let rg_name = rg.rsplit('/').next().unwrap_or(rg);
                writeln!(
                    out,
                    "      label={}; style=dashed; color=\"#7f7f7f\";",
                    quote(&format!("resource group {rg_name}"))
                )?;
            }
            for n in members {
                write_node(out, indent, n, worst.get(n.id.as_str()).copied())?;
            }
            if !rg.is_empty() {
                writeln!(out, "    }}")?;
            }
        }
        writeln!(out, "  }}")?;
    }
    for (i, (cluster, namespaces)) in kube.iter().enumerate() {
        let name = cluster.rsplit('/').next().unwrap_or(cluster).trim_start_matches("k8s:");
        writeln!(out, "  subgraph \"cluster_k8s_{i}\" {{")?;
        writeln!(out, "    label={}; style=rounded; color=\"#27ae60\";", quote(&format!("Kubernetes cluster {name}")))?;
        for (j, (ns, members)) in namespaces.iter().enumerate() {
            let indent = if ns.is_empty() { "    " } else { "      " };
            if !ns.is_empty() {
                writeln!(out, "    subgraph \"cluster_k8s_{i}_ns_{j}\" {{")?;
                writeln!(out, "      label={}; style=dashed; color=\"#7f7f7f\";", quote(&format!("namespace {ns}")))?;
            }
            for n in members {
                write_node(out, indent, n, None)?;
            }
            if !ns.is_empty() {
                writeln!(out, "    }}")?;
            }
        }
        writeln!(out, "  }}")?;
    }
    for ((from, to, kind, label), (eligible, conditional)) in &edges {
        let mut attrs = vec![format!("label={}", quote(label))];
        match kind {
            EdgeKind::MemberOf => attrs.push("color=\"#7f7f7f\"".into()),
            EdgeKind::Contains => attrs.push("color=\"#4a78b5\", arrowhead=empty".into()),
            EdgeKind::HasRole => attrs.push("color=\"#c0392b\", penwidth=1.5".into()),
            EdgeKind::FederatedTrust | EdgeKind::CanWriteFederatedCredential | EdgeKind::AsoActsAs => {
                attrs.push("color=\"#8e44ad\", penwidth=1.5".into())
            }
            _ => attrs.push("color=\"#27ae60\"".into()),
        }
        if *eligible {
            attrs.push("style=dashed".into());
        } else if *conditional {
            attrs.push("style=dotted".into());
        }
        writeln!(out, "  {} -> {} [{}];", quote(from), quote(to), attrs.join(", "))?;
    }
    writeln!(out, "}}")
}

fn write_node(
    out: &mut dyn Write,
    indent: &str,
    n: &NodeRef,
    worst: Option<azpath_graph::model::Severity>,
) -> io::Result<()> {
    let shape = match n.kind {
        NodeKind::User => "ellipse",
        NodeKind::Group => "oval, style=filled, fillcolor=\"#eef3fb\"",
        NodeKind::ServicePrincipal | NodeKind::Application => "hexagon",
        NodeKind::UnknownPrincipal => "ellipse, style=dashed",
        NodeKind::ManagedIdentity => "hexagon, style=filled, fillcolor=\"#f4ecf7\"",
        NodeKind::ExternalWorkload => "hexagon, style=dashed",
        NodeKind::KubeClusterAdmin => "doubleoctagon, style=filled, fillcolor=\"#f5b7b1\"",
        NodeKind::KubeNamespace | NodeKind::KubeAsoNamespace => "folder",
        NodeKind::KubeNodes => "box3d",
        NodeKind::KubeAsoForgeable => "tab",
        NodeKind::ScopeIdentities => "tab",
        NodeKind::KubeServiceAccount | NodeKind::KubeUser | NodeKind::KubeGroup => "component",
        _ => "box, style=rounded",
    };
    let fill = match worst {
        Some(azpath_graph::model::Severity::Critical) => ", style=\"rounded,filled\", fillcolor=\"#f5b7b1\"",
        Some(azpath_graph::model::Severity::High) => ", style=\"rounded,filled\", fillcolor=\"#fad7a0\"",
        Some(_) => ", style=\"rounded,filled\", fillcolor=\"#fcf3cf\"",
        None => "",
    };
    let label = format!("{}\n{}", n.kind, n.display_name);
    writeln!(
        out,
        "{indent}{} [label={}, shape={shape}{}];",
        quote(&n.id),
        quote(&label),
        if n.kind.is_scope() { fill } else { "" }
    )
}

/// (cluster id, namespace) of a Kubernetes node id `<cluster>/k8s/namespaces/<ns>/…`, `<cluster>/k8s/users/…`.
fn kube_parts(id: &str) -> (String, String) {
    match id.split_once("/k8s/") {
        Some((cluster, rest)) => {
            let ns = rest.strip_prefix("namespaces/").and_then(|r| r.split('/').next()).unwrap_or("");
            (cluster.to_string(), ns.to_string())
        }
        None => (id.to_string(), String::new()),
    }
}

/// A DOT double-quoted string: backslashes and quotes escaped, newlines as `\n` (a line break in a label),
/// other control characters, bidi controls and line separators shown as their escape (Graphviz draws
/// `\u{1b}`), as in the table.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c if text::is_unsafe(c) => c.escape_default().for_each(|e| match e {
                '\\' => q.push_str("\\\\"),
                e => q.push(e),
            }),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_newlines() {
        assert_eq!(quote("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }

    #[test]
    fn quoting_shows_control_and_bidi_characters_as_escapes() {
        assert_eq!(
            quote("a\u{1b}[2J\u{7}\r\t\u{9b}\u{202e}\u{2028}z"),
            r#""a\\u{1b}[2J\\u{7}\\r\\t\\u{9b}\\u{202e}\\u{2028}z""#
        );
    }
}
