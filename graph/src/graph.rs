//! The privilege graph: typed nodes and edges over petgraph, built from a [`Snapshot`] with no IO.
//!
//! Nodes are keyed by stable ids (Entra GUIDs interned as `u128`, ARM ids lower-cased); petgraph indices stay
//! private to this crate's engine. Role assignments become `HAS_ROLE` edges carrying the capabilities they
//! confer (after conditions); deny assignments are kept aside and applied per acting principal when a path is
//! evaluated, because a deny on one user must not cut the path of the other members of a group.
//!
//! This module is the graph and its read API; [`crate::build`] writes it.

pub use petgraph::graph::NodeIndex;
use petgraph::graph::{DiGraph, EdgeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::findings::NodeRef;
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{self, Caps};
use crate::scope;
use crate::snapshot::{Snapshot, Str};

/// A node's stable key: a GUID (Entra object id) or a lower-cased ARM id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKey {
    /// An Entra object id.
    Guid(u128),
    /// A lower-cased ARM scope id (or any other non-GUID id).
    Path(Box<str>),
}

impl NodeKey {
    /// Keys an id: GUIDs become `u128`, everything else is lower-cased.
    pub fn of(id: &str) -> NodeKey {
        if let Some(g) = parse_guid(id) {
            return NodeKey::Guid(g);
        }
        let t = id.trim();
        match parse_guid(t) {
            Some(g) => NodeKey::Guid(g),
            None => NodeKey::Path(t.to_ascii_lowercase().into_boxed_str()),
        }
    }

    /// Keys a scope id (normalized).
    pub fn scope(id: &str) -> NodeKey {
        NodeKey::Path(scope::normalize(id).into_boxed_str())
    }
}

impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKey::Guid(g) => {
                // Written straight into a buffer: this runs for every node of every finding.
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut out = [b'-'; 36];
                let mut nibble = 0;
                for (i, byte) in out.iter_mut().enumerate() {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        continue;
                    }
                    *byte = HEX[((g >> (124 - 4 * nibble)) & 0xf) as usize];
                    nibble += 1;
                }
                f.write_str(std::str::from_utf8(&out).expect("ASCII hex"))
            }
            NodeKey::Path(p) => f.write_str(p),
        }
    }
}

/// Each byte's value as a hex digit, or [`NOT_HEX`].
const HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};
/// [`HEX`]'s mark of a byte that is no hex digit.
const NOT_HEX: u8 = 0x80;
/// Where a GUID's 32 hex digits are (`8-4-4-4-12`).
const GUID_DIGITS: [usize; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    35,
];

/// The GUID `s` spells (`8-4-4-4-12` hex digits, any case) as a number; `None` for anything else. Read by table
/// with no branch per digit and no allocation (the build parses every member of every group, millions
/// of ids at the 1M tier, where a digit-by-digit match mispredicted on every letter).
#[inline]
pub(crate) fn parse_guid(s: &str) -> Option<u128> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut bad = 0u8;
    let mut half = |digits: &[usize]| {
        digits.iter().fold(0u64, |v, &i| {
            let d = HEX[usize::from(b[i])];
            bad |= d;
            v << 4 | u64::from(d & 0xf)
        })
    };
    let (hi, lo) = (half(&GUID_DIGITS[..16]), half(&GUID_DIGITS[16..]));
    let value = (bad & NOT_HEX == 0).then_some(u128::from(hi) << 64 | u128::from(lo));
    debug_assert!(value.is_none() || rbac::is_guid(s), "{s:?}");
    value
}

/// Node key → node. GUIDs (most keys: every directory object) are a map of their own keyed by the number, so
/// a lookup hashes and compares 16 bytes and never touches a string; other keys are a map of strings. Entries
/// are small (a GUID entry is 20 bytes of data), which is what a lookup of a random member among 1.2M keys
/// pays for in cache misses.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    guids: FxHashMap<Guid, NodeIndex>,
    paths: FxHashMap<Box<str>, NodeIndex>,
}

/// A GUID as two halves: 8-byte alignment keeps a map entry at 24 bytes (a `u128` would pad it to 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Guid([u64; 2]);

impl Guid {
    pub(crate) fn of(g: u128) -> Guid {
        Guid([(g >> 64) as u64, g as u64])
    }
}

impl KeyIndex {
    /// The node of a key.
    pub(crate) fn get(&self, key: &NodeKey) -> Option<&NodeIndex> {
        match key {
            NodeKey::Guid(g) => self.guids.get(&Guid::of(*g)),
            NodeKey::Path(p) => self.paths.get(p),
        }
    }

    /// The node of a path key (a lower-cased ARM id or other non-GUID id), by its text.
    pub(crate) fn get_path(&self, path: &str) -> Option<NodeIndex> {
        self.paths.get(path).copied()
    }

    /// Whether a key has a node.
    pub(crate) fn contains_key(&self, key: &NodeKey) -> bool {
        self.get(key).is_some()
    }

    /// Records a key's node.
    pub(crate) fn insert(&mut self, key: NodeKey, n: NodeIndex) {
        match key {
            NodeKey::Guid(g) => self.guids.insert(Guid::of(g), n),
            NodeKey::Path(p) => self.paths.insert(p, n),
        };
    }

    /// The node of a GUID key; when it has none, `None`, and `n` is recorded as its node: one probe of the
    /// map where [`KeyIndex::get`] then [`KeyIndex::insert`] take two (each a cache miss among a million keys).
    pub(crate) fn get_or_insert_guid(&mut self, g: u128, n: NodeIndex) -> Option<NodeIndex> {
        match self.guids.entry(Guid::of(g)) {
            std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(n);
                None
            }
        }
    }

    /// Room for `guids` more GUID keys.
    pub(crate) fn reserve(&mut self, guids: usize) {
        self.guids.reserve(guids);
    }

    /// The nodes of many GUIDs at once: for each `(guid, slot)` of `probes`, `out[slot]` is set to the GUID's
    /// node (slots of GUIDs without one are left as they are). The same answers as [`KeyIndex::get`] one by
    /// one, but a lookup of a random key among a million misses the cache twice (control bytes, entry), so
    /// both sides are first split by hash into partitions whose keys fit in the cache, and each partition is
    /// joined on its own (a radix-partitioned hash join).
    pub(crate) fn resolve_guids(&self, probes: Vec<(Guid, u32)>, out: &mut [u32]) {
        const PER_PARTITION: usize = 2048;
        let bits = (self.guids.len() / PER_PARTITION).max(1).next_power_of_two().trailing_zeros();
        let part = |g: &Guid| {
            let h = (g.0[0] ^ g.0[1].rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            if bits == 0 {
                0
            } else {
                (h >> (64 - bits)) as usize
            }
        };
        let parts = 1usize << bits;
        let partition = |items: &mut dyn Iterator<Item = (Guid, u32)>, len: usize, starts: &mut Vec<usize>| {
            let items: Vec<(Guid, u32)> = items.collect();
            starts.clear();
            starts.resize(parts + 1, 0);
            for (g, _) in &items {
                starts[part(g) + 1] += 1;
            }
            for p in 0..parts {
                starts[p + 1] += starts[p];
            }
            let mut fill = starts.clone();
            let mut sorted = vec![(Guid([0, 0]), 0u32); len];
            for (g, v) in items {
                let p = part(&g);
                sorted[fill[p]] = (g, v);
                fill[p] += 1;
            }
            sorted
        };
        // The directory's keys and the probes, each partitioned (a counting sort by partition).
        let (mut key_start, mut probe_start) = (Vec::new(), Vec::new());
        let len = self.guids.len();
        let keys = partition(&mut self.guids.iter().map(|(g, n)| (*g, n.index() as u32)), len, &mut key_start);
        let len = probes.len();
        let sorted = partition(&mut probes.into_iter(), len, &mut probe_start);
        // Each partition: a small table of its keys, then its probes.
        let mut table: FxHashMap<Guid, u32> = FxHashMap::default();
        for p in 0..parts {
            table.clear();
            table.extend(keys[key_start[p]..key_start[p + 1]].iter().copied());
            for (g, slot) in &sorted[probe_start[p]..probe_start[p + 1]] {
                if let Some(n) = table.get(g) {
                    out[*slot as usize] = *n;
                }
            }
        }
    }
}

/// A node of the privilege graph.
#[derive(Debug, Clone)]
pub struct NodeData {
    /// What it is.
    pub kind: NodeKind,
    /// Its stable key.
    pub key: NodeKey,
    /// Display name: a user's is the snapshot's own text (shared, not copied).
    pub name: Str,
}

/// Edge flag: needs a PIM activation.
pub const ELIGIBLE: u8 = 1;
/// Edge flag: rests on a condition azpath could not fully evaluate.
pub const CONDITIONAL: u8 = 2;

/// An edge of the privilege graph. Small and copyable: details live in side tables indexed by `evidence`.
#[derive(Debug, Clone, Copy)]
pub struct EdgeData {
    /// What the edge means.
    pub kind: EdgeKind,
    /// For `HAS_ROLE`: the capabilities the assignment confers.
    pub caps: Caps,
    /// [`ELIGIBLE`] | [`CONDITIONAL`].
    pub flags: u8,
    /// For `HAS_ROLE`: index into [`PrivilegeGraph::grants`].
    pub evidence: u32,
}

/// A role assignment (active or eligible) as evaluated. Its texts are [`Str`]s shared with the snapshot (the
/// role definition id), the role table (the role name) and the other grants at the scope (the scope): a
/// grant holds one text of its own, its id.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Role assignment or eligibility instance id.
    pub assignment_id: Str,
    /// Role definition id as given.
    pub role_definition_id: Str,
    /// Role name (or the GUID when the definition is unknown).
    pub role_name: Str,
    /// Normalized scope.
    pub scope: Str,
    /// PIM-eligible (needs activation).
    pub eligible: bool,
    /// The condition was not fully understood.
    pub conditional: bool,
    /// Capabilities from the role's own permissions.
    pub own_caps: Caps,
    /// Capabilities obtainable by assigning the roles a delegation condition allows.
    pub delegated_caps: Caps,
    /// Names of the roles a delegation condition allows (empty when unconstrained).
    pub delegation: Option<String>,
    /// Why the grant may be incomplete (unknown role definition, …).
    pub note: Option<String>,
    /// Kubernetes powers from the role's data actions (Azure RBAC for Kubernetes), [`crate::rbac::KubeData`].
    pub kube_data: u16,
}

/// Why a derived edge exists. The evidence ids are [`Str`]s, shared by the edges one object justifies (a
/// binding's subjects, a grant's hubs); labels are shared by every edge that has the same one.
#[derive(Debug, Clone)]
pub struct EdgeNote {
    /// Ids of the objects that justify it.
    pub evidence: Vec<Str>,
    /// One sentence.
    pub detail: String,
    /// Short label.
    pub label: Str,
}

/// A deny assignment, compiled.
#[derive(Debug, Clone)]
pub struct Deny {
    /// Deny assignment id.
    pub id: String,
    /// Scope node.
    pub scope: NodeIndex,
    /// Applies below `scope` too.
    pub applies_to_children: bool,
    /// Applies to every principal (all-zero id).
    pub everyone: bool,
    /// Principals (and groups) denied.
    pub principals: FxHashSet<NodeKey>,
    /// Principals (and groups) exempted.
    pub excluded: FxHashSet<NodeKey>,
    /// Capabilities the denied actions take away.
    pub removes: Caps,
}

/// The privilege graph and its side tables.
#[derive(Debug, Default)]
pub struct PrivilegeGraph {
    pub(crate) graph: DiGraph<NodeData, EdgeData>,
    pub(crate) index: KeyIndex,
    /// Parent of each scope node in the scope tree (the source of its `CONTAINS` edge).
    pub(crate) scope_parent: FxHashMap<NodeIndex, NodeIndex>,
    /// Evaluated role assignments, indexed by `HAS_ROLE` edges.
    pub grants: Vec<Grant>,
    /// Deny assignments.
    pub denies: Vec<Deny>,
    /// For each ASO namespace node: the resource groups its ASO resources own (lower-cased ARM ids).
    pub aso_owned_resource_groups: FxHashMap<NodeIndex, Vec<String>>,
    /// Evidence and explanation of derived edges (everything but `MEMBER_OF`, `HAS_ROLE`, `CONTAINS`),
    /// indexed by their `evidence`.
    pub notes: Vec<EdgeNote>,
    /// Things the builder could not resolve (unknown role definitions, …), for the report.
    pub warnings: Vec<String>,
    /// The first grant of each lower-cased assignment id, built on first use (see
    /// [`PrivilegeGraph::grant_by_assignment`]).
    grant_ids: std::sync::OnceLock<(usize, FxHashMap<String, usize>)>,
    /// Each node's kind by node index, written when the build is done ([`PrivilegeGraph::kinds`]).
    pub(crate) kinds: Vec<NodeKind>,
}

impl PrivilegeGraph {
    /// Builds the graph from a snapshot ([`crate::build::PASSES`] in order). Role definitions missing from
    /// the snapshot fall back to azpath's table of built-in roles.
    pub fn build(snapshot: &Snapshot) -> PrivilegeGraph {
        crate::build::build(snapshot)
    }

    /// Index into [`PrivilegeGraph::grants`] of the first grant with this role assignment id, compared
    /// case-insensitively (as ARM ids are). A fix names the assignment behind each edge, so this is asked once
    /// per edge of every finding and choke point: a scan of every grant each time was quadratic.
    pub fn grant_by_assignment(&self, id: &str) -> Option<usize> {
        let (indexed, index) = self.grant_ids.get_or_init(|| {
            let mut index = FxHashMap::default();
            for (i, g) in self.grants.iter().enumerate() {
                index.entry(g.assignment_id.to_ascii_lowercase()).or_insert(i);
            }
            (self.grants.len(), index)
        });
        if *indexed != self.grants.len() {
            // Grants added after the index was built (a build pass asking early): scan.
            return self.grants.iter().position(|g| g.assignment_id.eq_ignore_ascii_case(id));
        }
        index.get(&id.to_ascii_lowercase()).copied()
    }

    /// Each node's kind, by node index: a dense table for loops over long member lists (the nodes themselves
    /// lie 80 bytes apart, a cache miss each).
    pub(crate) fn kinds(&self) -> &[NodeKind] {
        debug_assert_eq!(self.kinds.len(), self.graph.node_count(), "kinds are written when the build is done");
        &self.kinds
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Number of edges of each kind, in [`EdgeKind::ALL`] order (what a benchmark reports).
    pub fn edge_counts(&self) -> Vec<(EdgeKind, usize)> {
        let mut counts = vec![0usize; EdgeKind::ALL.len()];
        for w in self.graph.edge_weights() {
            counts[EdgeKind::ALL.iter().position(|k| *k == w.kind).unwrap_or(0)] += 1;
        }
        EdgeKind::ALL.iter().copied().zip(counts).collect()
    }

    /// Looks a node up by id (GUID or ARM id, any case).
    pub fn find(&self, id: &str) -> Option<NodeIndex> {
        let key = NodeKey::of(id);
        self.index.get(&key).copied().or_else(|| self.index.get(&NodeKey::scope(id)).copied())
    }

    /// Finds nodes by id, or by exact (case-insensitive) display name.
    pub fn resolve(&self, id_or_name: &str) -> Vec<NodeIndex> {
        if let Some(n) = self.find(id_or_name) {
            return vec![n];
        }
        self.graph.node_indices().filter(|n| self.graph[*n].name.eq_ignore_ascii_case(id_or_name.trim())).collect()
    }

    /// The node's data.
    pub fn node(&self, n: NodeIndex) -> &NodeData {
        &self.graph[n]
    }

    /// The node as shown in findings.
    pub fn node_ref(&self, n: NodeIndex) -> NodeRef {
        let d = &self.graph[n];
        NodeRef { kind: d.kind, id: d.key.to_string(), display_name: d.name.to_string() }
    }

    /// All node indices of a kind.
    pub fn nodes_of_kind(&self, kind: NodeKind) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.node_indices().filter(move |n| self.graph[*n].kind == kind)
    }

    /// The edges leaving `n`, as (target, edge): what a check outside the crate (the tests' exhaustive
    /// reference search) walks.
    pub fn edges_from(&self, n: NodeIndex) -> impl Iterator<Item = (NodeIndex, &EdgeData)> + '_ {
        self.graph.edges_directed(n, Direction::Outgoing).map(|e| (e.target(), e.weight()))
    }

    pub(crate) fn edge(&self, e: EdgeIndex) -> (NodeIndex, NodeIndex, EdgeData) {
        let (a, b) = self.graph.edge_endpoints(e).expect("edge index from this graph");
        (a, b, self.graph[e])
    }

    /// Groups the principal belongs to, directly or through nesting.
    pub fn transitive_groups(&self, principal: NodeIndex) -> FxHashSet<NodeIndex> {
        let mut seen = FxHashSet::default();
        let mut stack = vec![principal];
        while let Some(n) = stack.pop() {
            for e in self.graph.edges_directed(n, Direction::Outgoing) {
                if e.weight().kind == EdgeKind::MemberOf && seen.insert(e.target()) {
                    stack.push(e.target());
                }
            }
        }
        seen
    }

    /// The deny assignments that apply at a scope: those on it, and those above it that apply to children.
    pub fn denies_at(&self, target: NodeIndex) -> Vec<&Deny> {
        if self.denies.is_empty() {
            return Vec::new();
        }
        let chain = self.scope_chain(target);
        self.denies
            .iter()
            .filter(|d| match chain.iter().position(|s| *s == d.scope) {
                Some(0) => true,
                Some(_) => d.applies_to_children,
                None => false,
            })
            .collect()
    }

    /// Capabilities that deny assignments take from `actor` at `target` (a scope).
    pub fn denied_caps(&self, actor: NodeIndex, target: NodeIndex) -> Caps {
        if self.denies.is_empty() {
            return Caps::EMPTY;
        }
        let relevant = self.denies_at(target);
        if relevant.is_empty() {
            return Caps::EMPTY;
        }
        let mut keys: FxHashSet<&NodeKey> =
            self.transitive_groups(actor).into_iter().map(|g| &self.graph[g].key).collect();
        keys.insert(&self.graph[actor].key);
        let mut removed = Caps::EMPTY;
        for d in relevant {
            let named = d.everyone || keys.iter().any(|k| d.principals.contains(*k));
            let exempt = keys.iter().any(|k| d.excluded.contains(*k));
            if named && !exempt {
                removed |= d.removes;
            }
        }
        removed
    }

    /// The scope and its ancestors, nearest first.
    pub fn scope_chain(&self, scope_node: NodeIndex) -> Vec<NodeIndex> {
        let mut chain = vec![scope_node];
        let mut cur = scope_node;
        while let Some(&parent) = self.scope_parent.get(&cur) {
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
            cur = parent;
        }
        chain
    }

    /// [`crate::build::prefetch`] of node `n` (an index; `u32::MAX` or beyond the nodes: nothing).
    pub(crate) fn prefetch_node(&self, n: u32) {
        if let Some(node) = self.graph.raw_nodes().get(n as usize) {
            crate::build::prefetch(node);
        }
    }

    /// Looks a node up by key.
    pub(crate) fn lookup(&self, key: &NodeKey) -> Option<NodeIndex> {
        self.index.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit parser the table one replaced, as the reference.
    fn reference_parse_guid(s: &str) -> Option<u128> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return None;
        }
        let mut value = 0u128;
        for (i, &c) in b.iter().enumerate() {
            let digit = match (i, c) {
                (8 | 13 | 18 | 23, b'-') => continue,
                (8 | 13 | 18 | 23, _) => return None,
                (_, b'0'..=b'9') => c - b'0',
                (_, b'a'..=b'f') => c - b'a' + 10,
                (_, b'A'..=b'F') => c - b'A' + 10,
                _ => return None,
            };
            value = value << 4 | u128::from(digit);
        }
        Some(value)
    }

    #[test]
    fn the_table_guid_parser_agrees_with_the_reference_one() {
        let good = "b24988ac-6180-42A0-ab88-20f7382dd24c";
        let mut cases: Vec<String> = vec![good.into(), good.to_uppercase(), String::new(), format!(" {good}")];
        // Every byte value at every position of a valid GUID.
        for i in 0..36 {
            for c in 0..=255u8 {
                let mut b = good.as_bytes().to_vec();
                b[i] = c;
                if let Ok(s) = String::from_utf8(b) {
                    cases.push(s);
                }
            }
        }
        cases.push(format!("{good}0"));
        cases.push(good[..35].to_string());
        cases.push("é".repeat(18));
        for s in &cases {
            assert_eq!(parse_guid(s), reference_parse_guid(s), "{s:?}");
        }
    }

    #[test]
    fn the_kinds_table_is_every_nodes_final_kind() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/snapshots");
        let generated = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generated-300.json");
        let mut kinds = std::collections::BTreeSet::new();
        for path in [dir.join("demo.json"), dir.join("nested-groups.json"), generated] {
            let text = std::fs::read_to_string(&path).unwrap();
            let g = PrivilegeGraph::build(&Snapshot::from_json(&text, "t").unwrap());
            assert_eq!(g.kinds().len(), g.node_count(), "{}", path.display());
            for n in g.graph.node_indices() {
                assert_eq!(g.kinds()[n.index()], g.node(n).kind, "{}: node {}", path.display(), g.node(n).key);
                kinds.insert(g.node(n).kind);
            }
        }
        assert!(kinds.len() >= 10, "the tenants have nodes of many kinds: {kinds:?}");
    }

    #[test]
    fn guid_keys_round_trip_and_ignore_case() {
        let k = NodeKey::of("B24988AC-6180-42A0-AB88-20F7382DD24C");
        assert_eq!(k.to_string(), "b24988ac-6180-42a0-ab88-20f7382dd24c");
        assert_eq!(k, NodeKey::of("b24988ac-6180-42a0-ab88-20f7382dd24c"));
        let small = "00000000-0000-0000-0000-0000000000aa";
        assert_eq!(NodeKey::of(small).to_string(), small, "leading zeros kept");
        assert!(matches!(NodeKey::of("/Subscriptions/X"), NodeKey::Path(p) if &*p == "/subscriptions/x"));
    }

    #[test]
    fn only_the_8_4_4_4_12_form_is_a_guid() {
        let id = "b24988ac-6180-42a0-ab88-20f7382dd24c";
        assert_eq!(parse_guid(id), Some(0xb24988ac_6180_42a0_ab88_20f7382dd24c));
        assert_eq!(parse_guid(&id.to_ascii_uppercase()), parse_guid(id));
        assert_eq!(parse_guid("ffffffff-ffff-ffff-ffff-ffffffffffff"), Some(u128::MAX));
        for not in [
            "b24988ac6180-42a0-ab88-20f7382dd24c0",  // a dash moved
            "b24988ac-6180-42a0-ab88-20f7382dd24",   // one digit short
            "b24988ac-6180-42a0-ab88-20f7382dd24cc", // one digit more
            "g24988ac-6180-42a0-ab88-20f7382dd24c",  // not hex
            "b24988ac-6180-42a0-ab88+20f7382dd24c",  // not a dash
            "b24988ac-6180-42a0-ab8é-20f7382dd24",   // not ASCII, 36 bytes
            "",
        ] {
            assert_eq!(parse_guid(not), None, "{not}");
            assert!(matches!(NodeKey::of(not), NodeKey::Path(_)), "{not}");
        }
        assert_eq!(NodeKey::of("  B24988AC-6180-42A0-AB88-20F7382DD24C "), NodeKey::Guid(parse_guid(id).unwrap()));
    }

    #[test]
    fn guids_resolved_at_once_are_those_found_one_by_one() {
        // Enough keys for several partitions, probes in a scrambled order, some absent, some repeated.
        let mut index = KeyIndex::default();
        let guid = |i: u128| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ (i << 3);
        for i in 0..10_000u128 {
            index.insert(NodeKey::Guid(guid(i)), NodeIndex::new(i as usize * 3));
        }
        index.insert(NodeKey::Path("/subscriptions/s".into()), NodeIndex::new(7));
        let wanted: Vec<u128> = (0..25_000u128).map(|i| guid((i * 7_919) % 12_000)).collect();
        let probes = wanted.iter().enumerate().map(|(slot, g)| (Guid::of(*g), slot as u32)).collect();
        let mut out = vec![u32::MAX; wanted.len()];
        index.resolve_guids(probes, &mut out);
        for (slot, g) in wanted.iter().enumerate() {
            let one = index.get(&NodeKey::Guid(*g)).map_or(u32::MAX, |n| n.index() as u32);
            assert_eq!(out[slot], one, "probe {slot}");
        }
        assert!(out.iter().filter(|n| **n == u32::MAX).count() > 3_000, "absent keys stay unresolved");
    }

    fn grant(id: &str) -> Grant {
        Grant {
            assignment_id: id.into(),
            role_definition_id: Str::default(),
            role_name: "Owner".into(),
            scope: "/subscriptions/s".into(),
            eligible: false,
            conditional: false,
            own_caps: Caps::EMPTY,
            delegated_caps: Caps::EMPTY,
            delegation: None,
            note: None,
            kube_data: 0,
        }
    }

    #[test]
    fn grants_are_found_by_assignment_id_ignoring_case_first_one_first() {
        let mut g = PrivilegeGraph {
            grants: vec![grant("/A/ra/One"), grant("/a/RA/two"), grant("/a/ra/ONE")],
            ..PrivilegeGraph::default()
        };
        assert_eq!(g.grant_by_assignment("/a/ra/one"), Some(0), "case-insensitive, the first of two");
        assert_eq!(g.grant_by_assignment("/A/RA/TWO"), Some(1));
        assert_eq!(g.grant_by_assignment("/a/ra/three"), None, "an unknown id");
        // A grant added after the index was built is still found.
        g.grants.push(grant("/a/ra/Three"));
        assert_eq!(g.grant_by_assignment("/a/ra/three"), Some(3));
        assert_eq!(g.grant_by_assignment("/a/ra/four"), None);
    }
}
