//! The DOT format, written by hand for a stable order and proper escaping. Each path core (a finding) is
//! drawn once, hop by hop: a principal with members is one node labelled with its member count by kind
//! (members are never drawn one by one); internal hub nodes are never drawn (a hop into a hub and the hop out
//! of it become one edge, and a core that ends at a hub ends at a node counting the targets behind it); the
//! scopes below where a core lands are summarized on that scope's label. Hops that are top choke points are
//! thick and red with their rank; escalation and standing cores have their own colours; a legend explains it
//! all. Azure scopes sit in one cluster per subscription (resource groups nested inside), Kubernetes objects in
//! one per cluster. `--from`, `--to` and a cap on the number of cores keep large tenants drawable.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Write};

use azpath_graph::findings::{Affected, Finding, Hop, NodeRef, Reach, Report};
use azpath_graph::model::{EdgeKind, NodeKind, Severity};
use azpath_graph::scope;

use super::text;

/// How many path cores are drawn at most by default: Graphviz lays out a few hundred cores in seconds.
pub const MAX_CORES: usize = 200;
/// How many choke points (the first of `report.choke_points`, as on the table's first screen) are
/// highlighted by default.
pub const TOP_CHOKE_POINTS: usize = 5;
/// Names listed on a node before `…`.
const NAMES_SHOWN: usize = 3;
/// Label lines are wrapped to this many columns on nodes and on edges, so one long name or URL does not make
/// the picture wide.
pub(super) const NODE_COLUMNS: usize = 40;
/// See [`NODE_COLUMNS`].
pub(super) const EDGE_COLUMNS: usize = 28;

/// What the picture shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotOptions {
    /// Only cores whose principal, or a member of it, has this id or display name (case-insensitive; a name
    /// is matched where the report names the node).
    pub from: Option<String>,
    /// Only cores whose scope, or a target they reach, has this id or display name (case-insensitive).
    pub to: Option<String>,
    /// At most this many cores, the most severe first (escalations first among equals); the graph's label
    /// says how many were left out.
    pub max_cores: usize,
    /// The first this many choke points of the report are highlighted (with their rank), those that cut
    /// some principal off.
    pub top_choke_points: usize,
}

impl Default for DotOptions {
    fn default() -> Self {
        DotOptions { from: None, to: None, max_cores: MAX_CORES, top_choke_points: TOP_CHOKE_POINTS }
    }
}

/// Writes the report's path cores as one Graphviz digraph, with the default options.
pub fn render_dot(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    render_dot_with(report, &DotOptions::default(), out)
}

/// Writes the report's path cores that `options` select as one Graphviz digraph.
pub fn render_dot_with(report: &Report, options: &DotOptions, out: &mut dyn Write) -> io::Result<()> {
    let selection = Selection::new(report, options);
    let mut picture = Picture::new(report, options.top_choke_points);
    for f in &selection.cores {
        picture.add_core(f);
    }
    writeln!(out, "digraph azpath {{")?;
    writeln!(
        out,
        "  graph [rankdir=LR, newrank=true, fontname=\"Helvetica\", labeljust=l, labelloc=t, label={}];",
        quote(&selection.caption(options))
    )?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    picture.write(out)?;
    write_legend(out)?;
    writeln!(out, "}}")
}

/// The cores drawn: those the filters keep, the most severe first, at most `max_cores`.
struct Selection<'a> {
    cores: Vec<&'a Finding>,
    /// Cores the filters keep (before the cap).
    matching: usize,
    /// Cores in the report.
    total: usize,
}

impl<'a> Selection<'a> {
    fn new(report: &'a Report, options: &DotOptions) -> Self {
        let from = options.from.as_deref().map(|w| Wanted::new(report, w));
        let to = options.to.as_deref().map(|w| Wanted::new(report, w));
        let keeps = |f: &&Finding| {
            from.as_ref().is_none_or(|w| w.principal_of(report, f)) && to.as_ref().is_none_or(|w| w.target_of(f))
        };
        let mut cores: Vec<&Finding> = report.findings.iter().filter(keeps).collect();
        let matching = cores.len();
        // Stable: the report's own order among cores of one severity and reach.
        cores.sort_by_key(|f| (Reverse(f.severity), f.reach));
        cores.truncate(options.max_cores);
        Selection { cores, matching, total: report.findings.len() }
    }

    /// The graph's title: what is drawn, and what was left out and why.
    fn caption(&self, options: &DotOptions) -> String {
        let mut filters = Vec::new();
        if let Some(from) = &options.from {
            filters.push(format!("--from {}", text::visible(from)));
        }
        if let Some(to) = &options.to {
            filters.push(format!("--to {}", text::visible(to)));
        }
        let mut caption = format!("azpath: {} of {} path cores drawn", self.cores.len(), self.total);
        if !filters.is_empty() {
            caption.push_str(&format!(" ({} match {})", self.matching, filters.join(" ")));
        }
        let left_out = self.matching - self.cores.len();
        if left_out > 0 {
            caption.push_str(&format!(
                "\n{left_out} left out (only the {} most severe are drawn): narrow with --from, --to or --query",
                self.cores.len()
            ));
        }
        caption
    }
}

/// A `--from` / `--to` value resolved against the report: itself as an id, and the ids of the nodes the
/// report names with it (principals, members and targets it lists by name), all compared without case.
struct Wanted {
    ids: HashSet<String>,
}

impl Wanted {
    fn new(report: &Report, wanted: &str) -> Self {
        let mut ids = HashSet::from([wanted.to_ascii_lowercase()]);
        for f in &report.findings {
            let hops = f.hops.iter().flat_map(|h| [&h.from, &h.to]);
            let samples = f.members.sample.iter().chain(f.tiers.iter().flat_map(|t| &t.targets.sample));
            for n in [&f.principal, &f.scope].into_iter().chain(hops).chain(samples) {
                if n.display_name.eq_ignore_ascii_case(wanted) {
                    ids.insert(n.id.to_ascii_lowercase());
                }
            }
        }
        Wanted { ids }
    }

    fn has(&self, id: &str) -> bool {
        self.ids.contains(&id.to_ascii_lowercase())
    }

    /// `--from`: the core's principal, or one of its members.
    fn principal_of(&self, report: &Report, f: &Finding) -> bool {
        self.has(&f.principal.id) || report.members_of(f).is_some_and(|m| m.all_ids().any(|id| self.has(id)))
    }

    /// `--to`: where the core lands, or one of the targets it reaches.
    fn target_of(&self, f: &Finding) -> bool {
        self.has(&f.scope.id) || f.tiers.iter().any(|t| t.targets.all_ids().any(|id| self.has(id)))
    }
}

/// Id of the node drawn for `n`: a hub stands for the targets behind it, never for itself.
fn node_id(n: &NodeRef) -> String {
    if n.kind.is_hub() {
        format!("targets:{}", n.id)
    } else {
        n.id.clone()
    }
}

/// Tenant text made safe for a label: control and bidi characters as visible escapes (`\u{1b}`), so a
/// newline in a name is shown, not obeyed.
pub(super) fn safe(s: &str) -> String {
    text::visible(s).into_owned()
}

/// Each line of `label` wrapped to `columns` at spaces, and inside a longer word after `/`, `:` or `|` (URLs,
/// ARM ids, Kubernetes subjects), so no word is cut elsewhere.
pub(super) fn wrap(label: &str, columns: usize) -> String {
    let options = textwrap::Options::new(columns)
        .break_words(false)
        .word_separator(textwrap::WordSeparator::Custom(break_points))
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    label.split('\n').flat_map(|line| textwrap::wrap(line, &options)).collect::<Vec<_>>().join("\n")
}

/// The words of a line for [`wrap`]: a break is allowed after a run of spaces and after `/`, `:` or `|`.
fn break_points(line: &str) -> Box<dyn Iterator<Item = textwrap::core::Word<'_>> + '_> {
    let mut start = 0;
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_some_and(|(_, n)| *n == ' ');
        let ends = match c {
            ' ' => !next_is_space,
            '/' | ':' | '|' => !next_is_space,
            _ => false,
        };
        if ends {
            let end = i + c.len_utf8();
            words.push(textwrap::core::Word::from(&line[start..end]));
            start = end;
        }
    }
    if start < line.len() {
        words.push(textwrap::core::Word::from(&line[start..]));
    }
    Box::new(words.into_iter())
}

/// One drawn step: a hop, or a hop into a hub merged with the hop out of it.
struct Step<'a> {
    from: &'a NodeRef,
    to: &'a NodeRef,
    kind: EdgeKind,
    label: String,
    hops: Vec<&'a Hop>,
}

/// The steps of a core, hubs collapsed.
fn steps(f: &Finding) -> Vec<Step<'_>> {
    let mut out = Vec::with_capacity(f.hops.len());
    let mut i = 0;
    while i < f.hops.len() {
        let h = &f.hops[i];
        match f.hops.get(i + 1).filter(|_| h.to.kind.is_hub()) {
            Some(next) => {
                let label = format!("{} ({})", h.label, h.to.display_name);
                out.push(Step { from: &h.from, to: &next.to, kind: h.edge, label, hops: vec![h, next] });
                i += 2;
            }
            None => {
                out.push(Step { from: &h.from, to: &h.to, kind: h.edge, label: h.label.clone(), hops: vec![h] });
                i += 1;
            }
        }
    }
    out
}

/// A node of the picture, with what the drawn cores say about it.
struct Node<'a> {
    node: &'a NodeRef,
    /// Members of the principal (the largest set seen), counted on its label.
    members: Option<&'a Affected>,
    /// Targets reached from here that are not drawn: scopes below a landing scope, identities behind a hub.
    targets: BTreeMap<NodeKind, BTreeSet<&'a str>>,
    /// Names of those targets, when the report names them.
    target_names: BTreeMap<&'a str, &'a str>,
    /// Worst severity of the cores landing here.
    worst: Option<Severity>,
}

/// An edge of the picture: one or more cores' steps between two nodes.
#[derive(Default)]
struct Edge {
    eligible: bool,
    conditional: bool,
    escalation: bool,
    /// Rank (1-based) of the highest choke point it is, among the highlighted ones.
    choke: Option<usize>,
}

/// Nodes by cluster (subscription, Kubernetes cluster), then by group in it (resource group, namespace).
type Clusters<'p, 'a> = BTreeMap<String, BTreeMap<String, Vec<(&'p str, &'p Node<'a>)>>>;

/// The nodes and edges of the drawn cores.
struct Picture<'a> {
    nodes: BTreeMap<String, Node<'a>>,
    edges: BTreeMap<(String, String, EdgeKind, String), Edge>,
    /// Highlighted choke point ids → rank (position in `report.choke_points`, 1-based).
    chokes: HashMap<&'a str, usize>,
}

impl<'a> Picture<'a> {
    fn new(report: &'a Report, top: usize) -> Self {
        let chokes = (report.choke_points.iter().enumerate().take(top))
            .filter(|(_, c)| c.principals_cut > 0)
            .map(|(i, c)| (c.id.as_str(), i + 1))
            .collect();
        Picture { nodes: BTreeMap::new(), edges: BTreeMap::new(), chokes }
    }

    fn node(&mut self, n: &'a NodeRef) -> &mut Node<'a> {
        self.nodes.entry(node_id(n)).or_insert_with(|| Node {
            node: n,
            members: None,
            targets: BTreeMap::new(),
            target_names: BTreeMap::new(),
            worst: None,
        })
    }

    /// Adds one core: its principal (with members), its steps, and what it reaches where it lands.
    fn add_core(&mut self, f: &'a Finding) {
        let principal = self.node(&f.principal);
        if f.members.count > principal.members.map_or(0, |m| m.count) {
            principal.members = Some(&f.members);
        }
        let mut landing = &f.principal;
        for step in steps(f) {
            self.add_step(&step, f.reach == Reach::Escalation);
            landing = step.to;
        }
        self.add_landing(f, landing);
    }

    fn add_step(&mut self, step: &Step<'a>, escalation: bool) {
        self.node(step.from);
        self.node(step.to);
        // Each hop names the change that removes it (`Hop::fix`): the choke point's id when it ranks as one.
        let choke = step.hops.iter().filter_map(|h| self.chokes.get(h.fix.as_deref()?).copied()).min();
        let key = (node_id(step.from), node_id(step.to), step.kind, step.label.clone());
        let e = self.edges.entry(key).or_default();
        e.eligible |= step.hops.iter().any(|h| h.eligible);
        e.conditional |= step.hops.iter().any(|h| h.conditional);
        e.escalation |= escalation;
        e.choke = match (e.choke, choke) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Where the core lands: its worst severity, and the targets it reaches that are not the landing node.
    fn add_landing(&mut self, f: &'a Finding, landing: &'a NodeRef) {
        let node = self.node(landing);
        node.worst = node.worst.max(Some(f.severity));
        for t in &f.tiers {
            for (kind, run) in t.targets.by_kind_runs() {
                let set = node.targets.entry(kind).or_default();
                set.extend(run.iter().map(|n| n.id.as_str()).filter(|id| *id != landing.id));
            }
            for n in &t.targets.sample {
                node.target_names.insert(&n.id, &n.display_name);
            }
        }
        node.targets.retain(|_, ids| !ids.is_empty());
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_nodes(out)?;
        for ((from, to, _, label), e) in &self.edges {
            writeln!(out, "  {} -> {} [{}];", quote(from), quote(to), edge_attrs(label, e))?;
        }
        Ok(())
    }

    /// Nodes: scopes clustered by subscription and resource group, Kubernetes objects by cluster and
    /// namespace, the rest loose.
    fn write_nodes(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut subs: Clusters = BTreeMap::new();
        let mut kube: Clusters = BTreeMap::new();
        for (id, n) in &self.nodes {
            let kind = n.node.kind;
            if kind.is_kubernetes() && !kind.is_hub() {
                let (cluster, ns) = kube_parts(id);
                kube.entry(cluster).or_default().entry(ns).or_default().push((id, n));
            } else if let (true, Some(sub)) = (kind.is_scope(), scope::subscription_of(id)) {
                let rg = scope::resource_group_of(id).unwrap_or("").to_string();
                subs.entry(sub.to_string()).or_default().entry(rg).or_default().push((id, n));
            } else {
                write_node(out, "  ", id, n)?;
            }
        }
        for (i, (sub, groups)) in subs.iter().enumerate() {
            let name = self.nodes.get(sub).map_or(sub.as_str(), |n| n.node.display_name.as_str());
            let rgs = groups.iter().map(|(rg, ns)| (rg.rsplit('/').next().unwrap_or(rg), ns));
            write_cluster(
                out,
                &format!("sub_{i}"),
                &format!("subscription {}", safe(name)),
                "#4a78b5",
                "resource group",
                rgs,
            )?;
        }
        for (i, (cluster, namespaces)) in kube.iter().enumerate() {
            let name = cluster.rsplit('/').next().unwrap_or(cluster).trim_start_matches("k8s:");
            let nss = namespaces.iter().map(|(ns, n)| (ns.as_str(), n));
            write_cluster(
                out,
                &format!("k8s_{i}"),
                &format!("Kubernetes cluster {}", safe(name)),
                "#27ae60",
                "namespace",
                nss,
            )?;
        }
        Ok(())
    }
}

/// A cluster of nodes with nested sub-clusters (resource groups, namespaces); the group named `""` is not
/// nested.
fn write_cluster<'n, 'i: 'n>(
    out: &mut dyn Write,
    name: &str,
    label: &str,
    colour: &str,
    inner: &str,
    groups: impl Iterator<Item = (&'n str, &'n Vec<(&'i str, &'i Node<'i>)>)>,
) -> io::Result<()> {
    writeln!(out, "  subgraph \"cluster_{name}\" {{")?;
    writeln!(out, "    label={}; style=rounded; color=\"{colour}\";", quote(label))?;
    for (j, (group, nodes)) in groups.enumerate() {
        let indent = if group.is_empty() { "    " } else { "      " };
        if !group.is_empty() {
            writeln!(out, "    subgraph \"cluster_{name}_{j}\" {{")?;
            writeln!(
                out,
                "      label={}; style=dashed; color=\"#7f7f7f\";",
                quote(&format!("{inner} {}", safe(group)))
            )?;
        }
        for (id, n) in nodes {
            write_node(out, indent, id, n)?;
        }
        if !group.is_empty() {
            writeln!(out, "    }}")?;
        }
    }
    writeln!(out, "  }}")
}

fn write_node(out: &mut dyn Write, indent: &str, id: &str, n: &Node) -> io::Result<()> {
    writeln!(out, "{indent}{} [label={}, {}];", quote(id), quote(&node_label(n)), node_style(n))
}

/// Shape and fill: by kind; scopes filled by the worst severity of the cores landing there.
fn node_style(n: &Node) -> String {
    let kind = n.node.kind;
    if kind.is_hub() {
        return "shape=note, style=filled, fillcolor=\"#fdebd0\"".into();
    }
    if kind.is_scope() {
        let fill = match n.worst {
            Some(Severity::Critical) => "#f5b7b1",
            Some(Severity::High) => "#fad7a0",
            Some(_) => "#fcf3cf",
            None => "#ffffff",
        };
        return format!("shape=box, style=\"rounded,filled\", fillcolor=\"{fill}\"");
    }
    let shape = match kind {
        NodeKind::User => "shape=ellipse",
        NodeKind::Group => "shape=oval, style=filled, fillcolor=\"#eef3fb\"",
        NodeKind::ServicePrincipal | NodeKind::Application => "shape=hexagon",
        NodeKind::UnknownPrincipal => "shape=ellipse, style=dashed",
        NodeKind::ManagedIdentity => "shape=hexagon, style=filled, fillcolor=\"#f4ecf7\"",
        NodeKind::ExternalWorkload => "shape=hexagon, style=dashed",
        NodeKind::KubeClusterAdmin => "shape=doubleoctagon, style=filled, fillcolor=\"#f5b7b1\"",
        NodeKind::KubeNamespace | NodeKind::KubeAsoNamespace => "shape=folder",
        NodeKind::KubeServiceAccount | NodeKind::KubeUser => "shape=component",
        NodeKind::KubeGroup | NodeKind::KubeSubjectSet => "shape=component, style=filled, fillcolor=\"#eef3fb\"",
        _ => "shape=box, style=rounded",
    };
    shape.into()
}

/// `Kind\nname`, with the member count of a principal, the targets behind a hub, or the scopes below a
/// landing scope.
fn node_label(n: &Node) -> String {
    let name = safe(&n.node.display_name);
    let mut label = if n.node.kind.is_hub() {
        name
    } else if let Some(m) = n.members {
        format!("{name} ({})\n{} member{}: {}", n.node.kind, m.count, plural(m.count), by_kind(&m.by_kind))
    } else {
        format!("{}\n{name}", n.node.kind)
    };
    if let Some(m) = n.members {
        let shown: Vec<&str> = m.sample.iter().map(|s| s.display_name.as_str()).collect();
        label.push_str(&format!("\n{}", name_list(&shown, m.count)));
    }
    if !n.targets.is_empty() {
        let counts: BTreeMap<NodeKind, usize> = n.targets.iter().map(|(k, ids)| (*k, ids.len())).collect();
        let total: usize = counts.values().sum();
        let what = if n.node.kind.is_hub() { "" } else { "below: " };
        label.push_str(&format!("\n→ {what}{}", by_kind(&counts)));
        let shown: Vec<&str> = n.targets.values().flatten().filter_map(|id| n.target_names.get(id).copied()).collect();
        if !shown.is_empty() {
            label.push_str(&format!("\n{}", name_list(&shown, total)));
        }
    }
    wrap(&label, NODE_COLUMNS)
}

/// `s` when `n` is not 1.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `3 User, 1 Group`, each count joined to its kind by a no-break space, so [`wrap`] never parts them.
fn by_kind(counts: &BTreeMap<NodeKind, usize>) -> String {
    counts.iter().map(|(k, n)| format!("{n}\u{a0}{k}")).collect::<Vec<_>>().join(", ")
}

/// The first few names, escaped, and `…` when there are more than shown.
fn name_list(shown: &[&str], total: usize) -> String {
    let mut list: Vec<String> = shown.iter().take(NAMES_SHOWN).map(|s| safe(s)).collect();
    if total > list.len() {
        list.push("…".into());
    }
    list.join(", ")
}

/// Colour by reach (escalation dark orange, standing blue-grey), choke points thick red with their rank, PIM
/// eligible dashed, conditional dotted.
fn edge_attrs(label: &str, e: &Edge) -> String {
    let label = wrap(&safe(label), EDGE_COLUMNS);
    let mut attrs = match e.choke {
        Some(rank) => vec![
            format!("label={}", quote(&format!("#{rank} {label}"))),
            "color=\"#d0021b\", fontcolor=\"#d0021b\", penwidth=3.5".into(),
        ],
        None if e.escalation => vec![format!("label={}", quote(&label)), "color=\"#d35400\", penwidth=1.6".into()],
        None => vec![format!("label={}", quote(&label)), "color=\"#5d6d7e\"".into()],
    };
    if e.eligible {
        attrs.push("style=dashed".into());
    } else if e.conditional {
        attrs.push("style=dotted".into());
    }
    attrs.join(", ")
}

/// Rows of the legend: a sample in its colour and line style, and what it means.
const LEGEND: [(&str, &str); 11] = [
    ("<font color=\"#d35400\"><b>——→</b></font>", "escalation step"),
    ("<font color=\"#5d6d7e\">——→</font>", "standing grant"),
    ("<font color=\"#d0021b\"><b>━━→</b></font>", "<font color=\"#d0021b\">#N</font> top choke point N (cut it first)"),
    ("- - -→", "needs a PIM activation"),
    (". . . →", "rests on a condition"),
    ("ellipse", "user"),
    ("oval, shaded", "group: one node, members counted"),
    ("hexagon", "service principal, managed identity"),
    ("component", "Kubernetes subject"),
    ("box, filled", "scope where paths land (red critical, orange high); → below: scopes it covers"),
    ("note", "targets behind an internal hub, counted"),
];

/// A legend: one node whose table explains edge colours, line styles and node shapes.
fn write_legend(out: &mut dyn Write) -> io::Result<()> {
    let rows: String = LEGEND
        .iter()
        .map(|(sample, meaning)| format!("<tr><td align=\"left\">{sample}</td><td align=\"left\">{meaning}</td></tr>"))
        .collect();
    writeln!(
        out,
        "  \"legend\" [shape=plaintext, fontsize=9, label=<<table border=\"1\" cellborder=\"0\" cellspacing=\"2\" color=\"#999999\"><tr><td colspan=\"2\"><b>Legend</b></td></tr>{rows}</table>>];"
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
pub(super) fn quote(s: &str) -> String {
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
    use super::{quote, wrap};

    #[test]
    fn labels_wrap_at_spaces_and_after_slashes_never_inside_a_word() {
        let issuer = "sa:storefront @ https://westeurope.oic.prod-aks.azure.com/34a965a6-d036/844c2435-0558/";
        let wrapped = wrap(issuer, 28);
        // The host has no break point: it stays whole on its own line.
        assert_eq!(
            wrapped,
            "sa:storefront @ https://\nwesteurope.oic.prod-aks.azure.com/\n34a965a6-d036/844c2435-0558/"
        );
        // A word with no break point is kept whole, however long.
        let word = "a".repeat(50);
        assert_eq!(wrap(&format!("x {word} y"), 28), format!("x\n{word}\ny"));
        // Existing line breaks are kept; short lines are untouched.
        assert_eq!(wrap("User\nPradeep Gupta", 28), "User\nPradeep Gupta");
    }

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
