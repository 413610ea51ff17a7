//! Graph building: a [`Builder`], the only writer of a [`PrivilegeGraph`], and [`PASSES`], the ordered list of
//! passes that turn a [`Snapshot`] into nodes, edges, notes and warnings.
//!
//! Each pass declares the edge kinds it emits ([`Pass::emits`]); the builder checks every edge it adds
//! against the running pass's list (in debug builds), and `graph/tests/vocabulary.rs` checks that the lists do
//! not overlap, cover [`EdgeKind::ALL`] and match `docs/edges.md`.

mod azure;
mod compute;
mod entra;
pub(crate) mod entra_roles;
pub(crate) mod identity;
pub(crate) mod kube;

use petgraph::graph::NodeIndex;

use crate::graph::{EdgeData, EdgeNote, NodeKey, PrivilegeGraph};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;
use crate::scope::{self, Level};
use crate::snapshot::{Snapshot, Str};

use identity::IdentityIndex;

/// One step of graph building.
pub struct Pass {
    /// Short name.
    pub name: &'static str,
    /// The edge kinds this pass (and only this pass) adds.
    pub emits: &'static [EdgeKind],
    /// The `##` sections of `docs/edges.md` (heading prefixes) that document these edge kinds.
    pub docs: &'static [&'static str],
    run: fn(&mut Builder, &Snapshot, &mut Shared),
}

/// What passes hand to later passes.
#[derive(Default)]
struct Shared {
    identities: IdentityIndex,
}

/// The passes, in the order they run.
pub static PASSES: &[Pass] = &[
    Pass { name: "azure", emits: azure::EMITS, docs: &["MEMBER_OF", "HAS_ROLE", "CONTAINS"], run: azure::run },
    Pass {
        name: "identities",
        emits: identity::EMITS,
        docs: &["Identities and federation", "AKS and Kubernetes"],
        run: identity::run,
    },
    Pass { name: "entra", emits: entra::EMITS, docs: &["Entra control plane"], run: entra::run },
    Pass { name: "kubernetes", emits: kube::EMITS, docs: &["AKS and Kubernetes"], run: kube::run },
    Pass { name: "compute", emits: compute::EMITS, docs: &["Identities on compute"], run: compute::run },
];

/// Builds the graph: every pass of [`PASSES`] in order.
pub(crate) fn build(snapshot: &Snapshot) -> PrivilegeGraph {
    let mut b = Builder::default();
    let mut shared = Shared::default();
    for pass in PASSES {
        b.emits = pass.emits;
        (pass.run)(&mut b, snapshot, &mut shared);
    }
    // (Kinds are final only now: a placeholder node's kind is replaced when its object is read.)
    b.g.kinds = b.g.graph.node_weights().map(|n| n.kind).collect();
    b.g
}

/// The only writer of a [`PrivilegeGraph`]: interns nodes, adds edges (checked against the running pass's
/// declared kinds), notes, grants, denies and warnings. Reads go through `Deref` to the graph being built.
#[derive(Default)]
pub(crate) struct Builder {
    g: PrivilegeGraph,
    /// The edge kinds the running pass declared.
    emits: &'static [EdgeKind],
    /// Principal kinds whose directory listing was read without a coverage gap.
    directory_read: Vec<NodeKind>,
    /// Per node: [`UNKNOWN_KIND`] | [`NAME_IS_KEY`], what [`Builder::node_for`] may still replace.
    placeholder: Vec<u8>,
    /// One copy of each edge note's label (a few dozen distinct among a million notes).
    labels: rustc_hash::FxHashSet<Str>,
    /// The text of each scope node grants are made at, shared by those grants.
    scope_texts: rustc_hash::FxHashMap<NodeIndex, Str>,
}

/// Placeholder bit: the node's kind is [`NodeKind::UnknownPrincipal`].
const UNKNOWN_KIND: u8 = 1;
/// Placeholder bit: the node's name is its key (none was given).
const NAME_IS_KEY: u8 = 2;

/// The placeholder bits of a node of this kind, key and name.
fn placeholder_bits(kind: NodeKind, key: &NodeKey, name: &str) -> u8 {
    let key_len = match key {
        NodeKey::Guid(_) => 36,
        NodeKey::Path(p) => p.len(),
    };
    let unknown = if kind == NodeKind::UnknownPrincipal { UNKNOWN_KIND } else { 0 };
    let unnamed = if name.len() == key_len && *name == *key.to_string() { NAME_IS_KEY } else { 0 };
    unknown | unnamed
}

impl std::ops::Deref for Builder {
    type Target = PrivilegeGraph;
    fn deref(&self) -> &PrivilegeGraph {
        &self.g
    }
}

impl Builder {
    /// Interns a node: a richer record (e.g. the directory's user) replaces a placeholder kind and name seen
    /// first in an assignment.
    pub(crate) fn node_for(&mut self, key: NodeKey, kind: NodeKind, name: &str) -> NodeIndex {
        self.node_sharing(key, kind, name, None)
    }

    /// [`Builder::node_for`] whose name, if the node is new or its name a placeholder, is `name` itself (the
    /// snapshot's text, shared), not a copy.
    pub(crate) fn node_named(&mut self, key: NodeKey, kind: NodeKind, name: &Str) -> NodeIndex {
        self.node_sharing(key, kind, name, Some(name))
    }

    /// [`Builder::node_for`], with `name`'s shared text when given.
    fn node_sharing(&mut self, key: NodeKey, kind: NodeKind, name: &str, shared: Option<&Str>) -> NodeIndex {
        // A GUID key new to the index is recorded as the next node's in the same probe that finds it absent.
        let next = NodeIndex::new(self.g.graph.node_count());
        let found = match &key {
            NodeKey::Guid(g) => self.g.index.get_or_insert_guid(*g, next),
            NodeKey::Path(_) => self.g.index.get(&key).copied(),
        };
        if let Some(n) = found {
            self.enrich(n, kind, name, shared);
            return n;
        }
        let (name, placeholder) = if name.is_empty() {
            let unknown = if kind == NodeKind::UnknownPrincipal { UNKNOWN_KIND } else { 0 };
            (Str::from(key.to_string()), NAME_IS_KEY | unknown)
        } else {
            let bits = placeholder_bits(kind, &key, name);
            (shared.cloned().unwrap_or_else(|| Str::from(name)), bits)
        };
        // (A GUID key is in the index already; a path key is recorded now.)
        let path = matches!(key, NodeKey::Path(_)).then(|| key.clone());
        let n = self.g.graph.add_node(crate::graph::NodeData { kind, key, name });
        debug_assert_eq!(n, next);
        if let Some(path) = path {
            self.g.index.insert(path, n);
        }
        self.placeholder.push(placeholder);
        n
    }

    /// [`Builder::node_for`] with the name made only when it is used: for a new node, or a known one whose
    /// name is still a placeholder (loops that ask for the same node again and again).
    pub(crate) fn node_named_by(&mut self, key: NodeKey, kind: NodeKind, name: impl FnOnce() -> String) -> NodeIndex {
        match self.g.index.get(&key).copied() {
            Some(n) if self.placeholder[n.index()] == 0 => n,
            _ => self.node_for(key, kind, &name()),
        }
    }

    /// What [`Builder::node_for`] does to a node it finds: a placeholder kind or name (one equal to the key)
    /// gives way to a real one. Reads the node only when it is a placeholder (most are not: the directory's
    /// listings come first), so a member seen in a million groups costs no read of its node.
    pub(super) fn enrich(&mut self, n: NodeIndex, kind: NodeKind, name: &str, shared: Option<&Str>) {
        let bits = self.placeholder[n.index()];
        if bits == 0 || kind == NodeKind::UnknownPrincipal {
            return;
        }
        let d = &mut self.g.graph[n];
        if bits & UNKNOWN_KIND != 0 {
            d.kind = kind;
        }
        if bits & NAME_IS_KEY != 0 && !name.is_empty() {
            d.name = shared.cloned().unwrap_or_else(|| Str::from(name));
        }
        self.placeholder[n.index()] = placeholder_bits(d.kind, &d.key, &d.name);
    }

    /// Sets a node's kind.
    pub(crate) fn set_kind(&mut self, n: NodeIndex, kind: NodeKind) {
        self.g.graph[n].kind = kind;
        self.refresh_placeholder(n);
    }

    /// Sets a node's display name.
    pub(crate) fn set_name(&mut self, n: NodeIndex, name: impl Into<Str>) {
        self.g.graph[n].name = name.into();
        self.refresh_placeholder(n);
    }

    fn refresh_placeholder(&mut self, n: NodeIndex) {
        let d = &self.g.graph[n];
        self.placeholder[n.index()] = placeholder_bits(d.kind, &d.key, &d.name);
    }

    /// Adds an edge of a kind the running pass declared.
    pub(crate) fn add_edge(&mut self, from: NodeIndex, to: NodeIndex, data: EdgeData) {
        debug_assert!(
            self.emits.contains(&data.kind),
            "edge kind {} added by a pass that does not declare it (declared: {:?})",
            data.kind,
            self.emits
        );
        self.g.graph.add_edge(from, to, data);
    }

    /// Adds a derived edge with its explanation. `mask` limits the capabilities usable through it (empty:
    /// no limit). A self-loop is dropped.
    pub(crate) fn add_noted_edge(
        &mut self,
        from: NodeIndex,
        to: NodeIndex,
        kind: EdgeKind,
        mask: Caps,
        flags: u8,
        mut note: EdgeNote,
    ) {
        if from == to {
            return;
        }
        // The label is the copy every note with it shares; the detail, a sentence of its own, keeps no spare
        // room (`format!` leaves some).
        match self.labels.get(note.label.as_str()) {
            Some(shared) => note.label = shared.clone(),
            None => {
                self.labels.insert(note.label.clone());
            }
        }
        note.detail.shrink_to_fit();
        let evidence = self.g.notes.len() as u32;
        self.g.notes.push(note);
        self.add_edge(from, to, EdgeData { kind, caps: mask, flags, evidence });
    }

    /// Records the resource groups the ASO resources of an ASO namespace node own.
    pub(crate) fn set_aso_owned_resource_groups(&mut self, aso_namespace: NodeIndex, groups: Vec<String>) {
        self.g.aso_owned_resource_groups.insert(aso_namespace, groups);
    }

    /// Records something the builder could not resolve, for the report.
    pub(crate) fn warn(&mut self, message: String) {
        self.g.warnings.push(message);
    }

    /// Links a scope to its parent, unless it already has one (the first parent found wins) or that would
    /// close a cycle.
    fn contains_edge(&mut self, parent: NodeIndex, child: NodeIndex) {
        if parent == child || self.g.scope_parent.contains_key(&child) || self.scope_chain(parent).contains(&child) {
            return;
        }
        self.g.scope_parent.insert(child, parent);
        // Not checked against the running pass: any pass may create a scope node, and its `CONTAINS` edges
        // come with it (declared by the `azure` pass).
        let data = EdgeData { kind: EdgeKind::Contains, caps: Caps::EMPTY, flags: 0, evidence: 0 };
        self.g.graph.add_edge(parent, child, data);
    }

    /// The node of a scope (normalized), created with its implied parents on first sight.
    pub(crate) fn scope_node(&mut self, id: &str, display: Option<&str>) -> NodeIndex {
        let norm = scope::normalize(id);
        // A known scope with a real kind and name, no display name given: nothing to change (every role
        // assignment asks for its scope).
        if let Some(n) = display.is_none().then(|| self.g.index.get_path(&norm)).flatten() {
            if self.placeholder[n.index()] == 0 {
                return n;
            }
        }
        let kind = match scope::level(&norm) {
            Level::Root => NodeKind::Root,
            Level::ManagementGroup => NodeKind::ManagementGroup,
            Level::Subscription => NodeKind::Subscription,
            Level::ResourceGroup => NodeKind::ResourceGroup,
            Level::Resource => NodeKind::Resource,
        };
        let key = NodeKey::Path(norm.clone().into_boxed_str());
        let known = self.g.index.contains_key(&key);
        let default_name = match kind {
            NodeKind::Root => "Tenant root (/)".to_string(),
            NodeKind::ResourceGroup | NodeKind::Resource => norm.rsplit('/').next().unwrap_or(&norm).to_string(),
            _ => String::new(),
        };
        let n = self.node_for(key, kind, display.unwrap_or(&default_name));
        if let Some(d) = display.filter(|d| !d.is_empty()) {
            self.set_name(n, d);
        }
        if !known {
            if let Some(parent) = scope::implied_parent(&norm) {
                let p = self.scope_node(&parent, None);
                self.contains_edge(p, n);
            }
        }
        n
    }
}

/// Asks the processor to bring the cache line at `p` in, without waiting for it: for loops whose every
/// step reads a random place in a large table, done a few steps ahead so the misses overlap.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The node key of a Kubernetes object: `<cluster id>/k8s/<rest>` (the `k8s` segment keeps them apart from
/// ARM scopes such as the AKS namespace scope `<cluster id>/namespaces/<ns>`).
pub(crate) fn kube_key(cluster: &str, rest: &str) -> NodeKey {
    let mut key = format!("{cluster}/k8s/{rest}");
    key.make_ascii_lowercase();
    NodeKey::Path(key.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_nodes(b: &mut Builder) -> (NodeIndex, NodeIndex) {
        (b.node_for(NodeKey::of("a"), NodeKind::User, "a"), b.node_for(NodeKey::of("b"), NodeKind::Group, "b"))
    }

    #[test]
    fn a_placeholder_kind_and_name_give_way_to_real_ones_once() {
        let mut b = Builder::default();
        let id = "b24988ac-6180-42a0-ab88-20f7382dd24c";
        let n = b.node_for(NodeKey::of(id), NodeKind::UnknownPrincipal, "");
        assert_eq!((b.node(n).kind, &*b.node(n).name), (NodeKind::UnknownPrincipal, id));
        assert_eq!(b.node_for(NodeKey::of(id), NodeKind::UnknownPrincipal, "x"), n);
        assert_eq!((b.node(n).kind, &*b.node(n).name), (NodeKind::UnknownPrincipal, id), "unknown changes nothing");
        b.node_for(NodeKey::of(id), NodeKind::User, "Alice");
        assert_eq!((b.node(n).kind, &*b.node(n).name), (NodeKind::User, "Alice"));
        b.node_for(NodeKey::of(id), NodeKind::Group, "Bob");
        assert_eq!((b.node(n).kind, &*b.node(n).name), (NodeKind::User, "Alice"), "a real kind and name stay");
        // A name set back to the key is a placeholder again; a kind set to unknown too.
        b.set_name(n, id);
        b.set_kind(n, NodeKind::UnknownPrincipal);
        b.node_for(NodeKey::of(id), NodeKind::ServicePrincipal, "Carol");
        assert_eq!((b.node(n).kind, &*b.node(n).name), (NodeKind::ServicePrincipal, "Carol"));
        // A name given at creation that spells the key is a placeholder too.
        let p = b.node_for(NodeKey::of("/subscriptions/s"), NodeKind::Subscription, "/subscriptions/s");
        b.node_for(NodeKey::of("/subscriptions/s"), NodeKind::Subscription, "Production");
        assert_eq!(&*b.node(p).name, "Production");
    }

    #[test]
    fn an_edge_of_a_declared_kind_is_added() {
        let mut b = Builder { emits: &[EdgeKind::MemberOf], ..Default::default() };
        let (x, y) = two_nodes(&mut b);
        b.add_edge(x, y, EdgeData { kind: EdgeKind::MemberOf, caps: Caps::EMPTY, flags: 0, evidence: 0 });
        assert_eq!(b.edge_count(), 1);
    }

    #[test]
    fn notes_with_one_label_share_its_text_and_keep_their_own_details() {
        let mut b = Builder { emits: &[EdgeKind::CanAddMember], ..Default::default() };
        let (x, y) = two_nodes(&mut b);
        let z = b.node_for(NodeKey::of("c"), NodeKind::Group, "c");
        let note = |detail: &str, label: &str| EdgeNote {
            evidence: vec!["/a".into()],
            detail: detail.to_string(),
            label: label.to_string().into(),
        };
        b.add_noted_edge(x, y, EdgeKind::CanAddMember, Caps::EMPTY, 0, note("one", "owner"));
        b.add_noted_edge(x, z, EdgeKind::CanAddMember, Caps::EMPTY, 0, note("two", "owner"));
        b.add_noted_edge(y, z, EdgeKind::CanAddMember, Caps::EMPTY, 0, note("three", "other"));
        let n = &b.notes;
        assert_eq!((n[0].detail.as_str(), n[1].detail.as_str(), n[2].detail.as_str()), ("one", "two", "three"));
        assert_eq!((n[0].label.as_str(), n[1].label.as_str(), n[2].label.as_str()), ("owner", "owner", "other"));
        assert!(std::ptr::eq(n[0].label.as_str(), n[1].label.as_str()), "one copy of a label");
        assert!(!std::ptr::eq(n[0].label.as_str(), n[2].label.as_str()));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "does not declare it")]
    fn an_edge_of_an_undeclared_kind_is_refused() {
        let mut b = Builder { emits: &[EdgeKind::MemberOf], ..Default::default() };
        let (x, y) = two_nodes(&mut b);
        b.add_noted_edge(
            x,
            y,
            EdgeKind::CanAddMember,
            Caps::EMPTY,
            0,
            EdgeNote { evidence: vec![], detail: String::new(), label: Str::default() },
        );
    }
}
