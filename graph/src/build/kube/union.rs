//! Kubernetes RBAC as Kubernetes evaluates it: a request is allowed when any binding whose subject matches the
//! caller allows it, so a caller holds the union of the bindings of its user name and of each of its groups:
//! `system:authenticated` for everyone signed in, `system:serviceaccounts` and `system:serviceaccounts:<ns>` for
//! service accounts, and on an Entra-integrated cluster the Entra groups (transitively) of a user or service
//! principal.
//!
//! What one binding allows is added per binding (`rbac.rs`). Here: who is in the implicit groups
//! (`KUBERNETES_IDENTITY`, so what a group's bindings allow reaches its members), and the powers that need two
//! permissions which only the union of several bindings holds: create a Secret *and* an ASO resource
//! (`ASO_CREDENTIAL_FORGING`), create a token Secret *and* read it (`CAN_MINT_TOKEN`). Such an edge is added
//! from a subject only when no single binding of a subject it matches and no subject it already acts through
//! (its groups, its Kubernetes user) holds the power, so each power has one edge from the narrowest subject that
//! holds it. When a directory principal holds it because it is two subjects at once (in two groups), the edge
//! leaves from a `KubeSubjectSet` node, "everyone who is A and B", which each such principal is a member of: one
//! path for the pair of groups, however many members they share.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::snapshot::Str;
use rustc_hash::{FxHashMap, FxHashSet};

use super::rbac::Powers;
use super::{note, ClusterCtx};
use crate::kube::{PolicyRule, Subject};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;

/// Every authenticated caller's group.
pub(super) const AUTHENTICATED: &str = "system:authenticated";
/// Every service account's group (and, with `:<ns>`, every service account of a namespace).
pub(super) const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// A binding subject as the authorizer matches it: a user name, a group name, or a service account (which a
/// `User` subject named `system:serviceaccount:<ns>:<name>` also is).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum SubjectKey {
    /// A user name.
    User(String),
    /// A group name.
    Group(String),
    /// A service account: namespace, name.
    ServiceAccount(String, String),
    /// A directory principal as Azure RBAC for Kubernetes authorizes it (its object id, for a stable order and
    /// names; its node): its role assignments with Kubernetes data actions are its bindings.
    Azure(String, NodeIndex),
}

impl SubjectKey {
    /// The key of a binding subject. A `ServiceAccount` subject without a namespace is of the RoleBinding's
    /// namespace (as the authorizer defaults it), and matches nobody in a ClusterRoleBinding.
    pub(super) fn of(s: &Subject, binding_ns: Option<&str>) -> Option<Self> {
        match s.kind.as_str() {
            "ServiceAccount" => {
                let ns = s.namespace.as_deref().filter(|n| !n.is_empty()).or(binding_ns)?;
                Some(Self::ServiceAccount(ns.into(), s.name.clone()))
            }
            "User" => match s.name.strip_prefix("system:serviceaccount:").and_then(|r| r.split_once(':')) {
                Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() => Some(Self::ServiceAccount(ns.into(), sa.into())),
                _ => Some(Self::User(s.name.clone())),
            },
            "Group" => Some(Self::Group(s.name.clone())),
            _ => None,
        }
    }

    /// The groups Kubernetes puts whoever this key matches in.
    fn implied(&self) -> Vec<SubjectKey> {
        let auth = Self::Group(AUTHENTICATED.into());
        match self {
            Self::ServiceAccount(ns, _) => {
                vec![Self::Group(SERVICE_ACCOUNTS.into()), Self::Group(format!("{SERVICE_ACCOUNTS}:{ns}")), auth]
            }
            Self::Group(g) if g == AUTHENTICATED => Vec::new(),
            _ => vec![auth],
        }
    }

    /// `<kind> <name>`, for details.
    fn label(&self) -> String {
        match self {
            Self::User(n) => format!("User {n}"),
            Self::Group(n) => format!("Group {n}"),
            Self::ServiceAccount(ns, n) => format!("ServiceAccount {ns}/{n}"),
            Self::Azure(id, _) => format!("Azure principal {id}"),
        }
    }
}

/// One binding, as it grants its rules to its subjects.
pub(super) struct Bound {
    /// The RoleBinding's namespace; `None` for a ClusterRoleBinding.
    pub(super) ns_scope: Option<String>,
    /// The role's rules (aggregation resolved).
    pub(super) rules: Vec<PolicyRule>,
    /// The rules allow `bind`/`escalate`.
    pub(super) bind: bool,
    /// `RoleBinding <ns>/<name>` or `ClusterRoleBinding <name>` (a fix names it).
    pub(super) binding: Str,
    /// `<Role|ClusterRole> <name>`.
    pub(super) role: Str,
    /// Edge flags of what rests on it (a PIM-eligible or conditional Azure role assignment's).
    pub(super) flags: u8,
}

impl Bound {
    fn applies_in(&self, ns: &str) -> bool {
        self.ns_scope.as_deref().is_none_or(|n| n == ns)
    }

    /// This binding's rules alone, in `ns`.
    pub(super) fn powers(&self) -> Powers<'_> {
        Powers { rules: self.rules.iter().collect(), ns_scope: self.ns_scope.clone(), bind: self.bind }
    }
}

/// Every binding of a cluster, by subject.
#[derive(Default)]
pub(super) struct BindingIndex {
    bound: Vec<Bound>,
    by_key: BTreeMap<SubjectKey, Vec<usize>>,
    /// Each bound subject's node.
    nodes: BTreeMap<SubjectKey, NodeIndex>,
    /// Entra-joined subjects: the directory node → the subjects that name it.
    directory: BTreeMap<NodeIndex, Vec<SubjectKey>>,
}

impl BindingIndex {
    /// Records a subject's node (and the directory principal it signs in as).
    pub(super) fn subject(&mut self, key: SubjectKey, node: NodeIndex, directory: Option<NodeIndex>) {
        if let Some(d) = directory {
            let keys = self.directory.entry(d).or_default();
            if !keys.contains(&key) {
                keys.push(key.clone());
            }
        }
        self.nodes.insert(key, node);
    }

    /// Records that a directory principal holds Azure role assignments acting in the cluster (`key`, a
    /// [`SubjectKey::Azure`]), so its union (and its members') includes them.
    pub(super) fn azure(&mut self, key: SubjectKey) {
        let SubjectKey::Azure(_, principal) = key else { return };
        let keys = self.directory.entry(principal).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }

    /// Records a binding and its subjects.
    pub(super) fn bind(&mut self, bound: Bound, keys: Vec<SubjectKey>) {
        let i = self.bound.len();
        self.bound.push(bound);
        for key in keys {
            let list = self.by_key.entry(key).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }

    /// The bindings of these subjects, once each.
    fn grants(&self, keys: &[SubjectKey]) -> Vec<&Bound> {
        let idx: BTreeSet<usize> =
            keys.iter().flat_map(|k| self.by_key.get(k).into_iter().flatten().copied()).collect();
        idx.into_iter().map(|i| &self.bound[i]).collect()
    }

    /// Whether `b` is one of the bindings of subject `key`.
    fn binds(&self, key: &SubjectKey, b: &Bound) -> bool {
        self.by_key.get(key).is_some_and(|list| list.iter().any(|i| std::ptr::eq(&self.bound[*i], b)))
    }

    /// A key and its implied groups, those that are bound.
    fn full(&self, key: &SubjectKey) -> Vec<SubjectKey> {
        std::iter::once(key.clone()).chain(key.implied().into_iter().filter(|k| self.nodes.contains_key(k))).collect()
    }
}

/// A power that needs two permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Paired {
    /// Create a Secret and an ASO resource (relaxed mode): forge an ASO credential.
    Forge,
    /// Create a token Secret and read it back.
    TokenSecret,
}

/// Someone whose bindings are judged together.
struct Actor {
    node: NodeIndex,
    /// How details name it.
    label: String,
    /// Every subject it matches.
    keys: Vec<SubjectKey>,
    /// Its own subject, for a bound subject or service account (empty for a directory principal, whose
    /// shared powers may go through a subject set).
    own: Vec<SubjectKey>,
    /// The subject sets of the nodes it acts through (identity edges): what they hold, it holds already.
    through: Vec<Vec<SubjectKey>>,
}

/// A subject set's node and what the union of its subjects' bindings holds.
struct SubjectSet {
    node: NodeIndex,
    held: BTreeSet<(Paired, String)>,
}

/// The subject sets of a cluster made so far, by their (sorted) subjects.
type SubjectSets = BTreeMap<Vec<SubjectKey>, SubjectSet>;

/// Whether `covered` already gives an actor `item`: the same power in the same namespace, or for forging any
/// namespace (the forged credential reaches the same hub from every namespace).
fn is_covered(covered: &BTreeSet<(Paired, String)>, item: &(Paired, String)) -> bool {
    covered.contains(item) || (item.0 == Paired::Forge && covered.iter().any(|(p, _)| *p == Paired::Forge))
}

impl ClusterCtx<'_> {
    /// Implicit-group members, then each subject's union.
    pub(super) fn union_edges(&mut self, ix: &BindingIndex) {
        self.implicit_groups(ix);
        let mut sets = SubjectSets::new();
        for actor in self.actors(ix) {
            self.actor_union(ix, &actor, Some(&mut sets));
        }
    }

    /// Every service account of the cluster: collected, or named by a binding.
    fn all_service_accounts(&self, ix: &BindingIndex) -> BTreeSet<(String, String)> {
        let collected = self.sas.iter().flat_map(|(ns, v)| v.iter().map(move |sa| (ns.clone(), sa.clone())));
        let bound = ix.nodes.keys().filter_map(|k| match k {
            SubjectKey::ServiceAccount(ns, sa) => Some((ns.clone(), sa.clone())),
            _ => None,
        });
        collected.chain(bound).collect()
    }

    /// `KUBERNETES_IDENTITY` edges from each service account, user and group subject to the implicit groups
    /// it is in, for the implicit groups some binding names.
    fn implicit_groups(&mut self, ix: &BindingIndex) {
        let mut members: Vec<SubjectKey> = self
            .all_service_accounts(ix)
            .into_iter()
            .map(|(ns, sa)| SubjectKey::ServiceAccount(ns, sa))
            .chain(ix.nodes.keys().filter(|k| !matches!(k, SubjectKey::ServiceAccount(..))).cloned())
            .collect();
        members.dedup();
        for member in &members {
            for group in member.implied() {
                let (Some(&to), Some(from)) = (ix.nodes.get(&group), self.key_node(ix, member)) else { continue };
                let SubjectKey::Group(g) = &group else { continue };
                let why = match member {
                    SubjectKey::ServiceAccount(..) => "every service account's token carries it",
                    _ => "every signed-in caller is in it",
                };
                let detail = format!("{} is in group {g} in {}: {why}", member.label(), self.cname);
                let n = note(vec![self.cluster.to_string(), g.clone()], detail, "implicit group");
                self.b.add_noted_edge(from, to, EdgeKind::KubernetesIdentity, Caps::EMPTY, 0, n);
            }
        }
    }

    /// A subject's node: a bound subject's, or a service account's (made when first seen here).
    fn key_node(&mut self, ix: &BindingIndex, key: &SubjectKey) -> Option<NodeIndex> {
        match (ix.nodes.get(key), key) {
            (Some(&n), _) => Some(n),
            (None, SubjectKey::ServiceAccount(ns, sa)) => Some(self.b.sa_node(self.cluster, ns, sa)),
            (None, _) => None,
        }
    }

    /// Who is judged on a union: every bound subject and service account, and on an Entra-integrated cluster
    /// every directory principal that a bound subject names or that is (transitively) in a bound group.
    fn actors(&mut self, ix: &BindingIndex) -> Vec<Actor> {
        let mut actors = Vec::new();
        let sas = self.all_service_accounts(ix).into_iter().map(|(ns, sa)| SubjectKey::ServiceAccount(ns, sa));
        let subjects: BTreeSet<SubjectKey> = ix.nodes.keys().cloned().chain(sas).collect();
        for key in subjects {
            let Some(node) = self.key_node(ix, &key) else { continue };
            let through = key.implied().iter().filter(|k| ix.nodes.contains_key(*k)).map(|k| ix.full(k)).collect();
            actors.push(Actor { node, label: key.label(), keys: ix.full(&key), own: vec![key], through });
        }
        // Members whose only subjects are the bound groups they are in share the groups' union: judged once
        // per list of groups (most hold nothing paired, and then need no actor).
        let mut holds_by_groups: FxHashMap<Vec<NodeIndex>, bool> = FxHashMap::default();
        for (d, groups) in self.directory_principals(ix) {
            let own = ix.directory.get(&d);
            if own.is_none() && holds_by_groups.get(&groups) == Some(&false) {
                continue;
            }
            let mut direct: Vec<SubjectKey> = own.cloned().unwrap_or_default();
            for g in &groups {
                direct.extend(ix.directory.get(g).into_iter().flatten().cloned());
            }
            let mut keys: Vec<SubjectKey> = direct.iter().flat_map(|k| ix.full(k)).collect();
            keys.sort();
            keys.dedup();
            if own.is_none() && !holds_by_groups.contains_key(&groups) {
                let holds = !self.held(ix, &keys).is_empty();
                holds_by_groups.insert(groups, holds);
                if !holds {
                    continue;
                }
            }
            // What d's own Azure role assignments hold is d's to hold, not something it acts through.
            let own_azure = |k: &&SubjectKey| matches!(k, SubjectKey::Azure(_, n) if *n == d);
            let through = direct.iter().filter(|k| !own_azure(k)).map(|k| ix.full(k)).collect();
            let label = self.b.graph[d].name.to_string();
            actors.push(Actor { node: d, label, keys, own: Vec::new(), through });
        }
        actors
    }

    /// Directory principals named by a bound subject, and the members (transitively) of bound groups, in node
    /// order, each with the subject-named directory nodes among its groups (transitively, in node order): one
    /// walk down from each subject-named node, rather than each principal's groups walked up.
    fn directory_principals(&self, ix: &BindingIndex) -> Vec<(NodeIndex, Vec<NodeIndex>)> {
        let mut reach: FxHashMap<NodeIndex, Vec<NodeIndex>> = ix.directory.keys().map(|&n| (n, Vec::new())).collect();
        let mut seen = FxHashSet::default();
        for &named in ix.directory.keys() {
            seen.clear();
            let mut stack = vec![named];
            while let Some(n) = stack.pop() {
                for e in self.b.graph.edges_directed(n, Direction::Incoming) {
                    if e.weight().kind == EdgeKind::MemberOf && seen.insert(e.source()) {
                        stack.push(e.source());
                        reach.entry(e.source()).or_default().push(named);
                    }
                }
            }
        }
        let mut out: Vec<(NodeIndex, Vec<NodeIndex>)> = reach.into_iter().collect();
        out.sort_unstable_by_key(|(n, _)| *n);
        out
    }

    /// The paired powers the union of these subjects' bindings holds, per namespace.
    fn held(&self, ix: &BindingIndex, keys: &[SubjectKey]) -> BTreeSet<(Paired, String)> {
        let grants = ix.grants(keys);
        let mut out = BTreeSet::new();
        // Both powers need `create secrets`; nothing to judge without it, or with a single binding.
        if grants.len() < 2 || !grants.iter().any(|g| g.powers().create_secrets() || g.bind) {
            return out;
        }
        let namespaces: Vec<String> = if grants.iter().any(|g| g.ns_scope.is_none()) {
            self.namespaces.iter().cloned().collect()
        } else {
            grants.iter().filter_map(|g| g.ns_scope.clone()).collect::<BTreeSet<_>>().into_iter().collect()
        };
        for ns in namespaces {
            let here: Vec<&&Bound> = grants.iter().filter(|g| g.applies_in(&ns)).collect();
            let p = Powers {
                rules: here.iter().flat_map(|g| g.rules.iter()).collect(),
                ns_scope: Some(ns.clone()),
                bind: here.iter().any(|g| g.bind && g.ns_scope.is_some()),
            };
            if self.forges(&p, &ns) {
                out.insert((Paired::Forge, ns.clone()));
            }
            if self.token_secret(&p, &ns) {
                out.insert((Paired::TokenSecret, ns));
            }
        }
        out
    }

    /// Whether one binding alone holds the power in `ns`.
    fn single(&self, g: &Bound, power: Paired, ns: &str) -> bool {
        g.applies_in(ns)
            && match power {
                Paired::Forge => self.forges(&g.powers(), ns),
                Paired::TokenSecret => self.token_secret(&g.powers(), ns),
            }
    }

    /// The union edges of one actor: powers its union holds that no single binding of any subject it matches
    /// and no subject it acts through holds. With `sets` (a directory principal's union), a power that two of its subjects'
    /// bindings give together goes through their subject set ([`NodeKind::KubeSubjectSet`]), shared by everyone
    /// who is both, so a thousand members of two groups make one path rather than a thousand.
    fn actor_union(&mut self, ix: &BindingIndex, a: &Actor, mut sets: Option<&mut SubjectSets>) {
        let held = self.held(ix, &a.keys);
        if held.is_empty() {
            return;
        }
        let mut covered: BTreeSet<(Paired, String)> = a.through.iter().flat_map(|k| self.held(ix, k)).collect();
        // A binding that holds the power alone gives its subject the edge, and the actor reaches every subject
        // it matches (identity edges), so it holds the power already.
        let all = ix.grants(&a.keys);
        for item in held {
            if is_covered(&covered, &item) || all.iter().any(|g| self.single(g, item.0, &item.1)) {
                continue;
            }
            let here: Vec<&Bound> = all.iter().copied().filter(|g| g.applies_in(&item.1)).collect();
            if let Some(sets) = sets.as_deref_mut().filter(|_| a.own.is_empty()) {
                if let Some(set_held) = self.through_set(ix, a, &here, &item, sets) {
                    covered.extend(set_held);
                    continue;
                }
            }
            match item.0 {
                Paired::Forge => self.forge_edge(a, &here, &item.1),
                Paired::TokenSecret => self.token_secret_edges(a, &here, &item.1),
            }
            covered.insert(item);
        }
    }

    /// The two bindings a paired power rests on in `here`: (Secrets or token Secret creation, ASO resources or
    /// Secret reading).
    fn pair_of<'b>(&self, power: Paired, here: &[&'b Bound]) -> Option<(&'b Bound, &'b Bound)> {
        let first = here.iter().find(|g| g.powers().create_secrets())?;
        let second = match power {
            Paired::Forge => here.iter().find(|g| g.powers().write_aso())?,
            Paired::TokenSecret => here.iter().find(|g| g.powers().readable_secrets().is_some())?,
        };
        Some((first, second))
    }

    /// Routes an actor's paired power through the subject set of the two subjects whose bindings give it:
    /// the set's node is made (with its own union edges) the first time, and the actor gets a
    /// `KUBERNETES_IDENTITY` edge to it. `None` when one subject holds both bindings, or the set's union does
    /// not hold the power; then the actor gets its own edge.
    fn through_set(
        &mut self,
        ix: &BindingIndex,
        a: &Actor,
        here: &[&Bound],
        item: &(Paired, String),
        sets: &mut SubjectSets,
    ) -> Option<BTreeSet<(Paired, String)>> {
        let (first, second) = self.pair_of(item.0, here)?;
        let subject = |b: &Bound| a.keys.iter().find(|k| ix.binds(k, b)).cloned();
        let mut keys = vec![subject(first)?, subject(second)?];
        keys.sort();
        keys.dedup();
        if keys.len() < 2 {
            return None;
        }
        if !sets.contains_key(&keys) {
            let set = self.subject_set(ix, &keys);
            sets.insert(keys.clone(), set);
        }
        let set = &sets[&keys];
        if !is_covered(&set.held, item) {
            return None;
        }
        let (node, held) = (set.node, set.held.clone());
        if self.b.graph.find_edge(a.node, node).is_none() {
            let names: Vec<String> = keys.iter().map(|k| k.label()).collect();
            let detail = format!(
                "{} is {} in {}: Kubernetes allows it the union of their bindings",
                a.label,
                names.join(" and "),
                self.cname
            );
            let evidence: Vec<Str> =
                std::iter::once(self.cluster.into()).chain(names.into_iter().map(Str::from)).collect();
            let n = note(evidence, detail, "is all of");
            self.b.add_noted_edge(a.node, node, EdgeKind::KubernetesIdentity, Caps::EMPTY, 0, n);
        }
        Some(held)
    }

    /// The node of a subject set, with the union edges of its subjects' bindings taken together.
    fn subject_set(&mut self, ix: &BindingIndex, keys: &[SubjectKey]) -> SubjectSet {
        let names: Vec<String> = keys.iter().map(|k| self.subject_name(ix, k)).collect();
        let rest = format!("subjectsets/{}", keys.iter().map(|k| k.label()).collect::<Vec<_>>().join("+"));
        let name = format!("everyone who is {} in {}", names.join(" and "), self.cname);
        let node = self.b.node_for(super::kube_key(self.cluster, &rest), NodeKind::KubeSubjectSet, &name);
        let mut full: Vec<SubjectKey> = keys.iter().flat_map(|k| ix.full(k)).collect();
        full.sort();
        full.dedup();
        let through = keys.iter().map(|k| ix.full(k)).collect();
        let actor = Actor { node, label: name, keys: full, own: Vec::new(), through };
        self.actor_union(ix, &actor, None);
        SubjectSet { node, held: self.held(ix, &actor.keys) }
    }

    /// How a subject reads in a subject set's name: its node's name (an Entra group's display name on an
    /// Entra-integrated cluster), else `Group <name>`.
    fn subject_name(&self, ix: &BindingIndex, k: &SubjectKey) -> String {
        if let SubjectKey::Azure(_, n) = k {
            return format!("{} (Azure RBAC)", self.b.graph[*n].name);
        }
        match ix.nodes.get(k) {
            Some(&n) => {
                let name = self.b.graph[n].name.to_string();
                name.split(" (Kubernetes ").next().unwrap_or(&name).to_string()
            }
            None => k.label(),
        }
    }

    /// `ASO_CREDENTIAL_FORGING` from an actor whose Secret and ASO permissions come from different bindings.
    fn forge_edge(&mut self, a: &Actor, here: &[&Bound], ns: &str) {
        let Some(hub) = self.forge_hub else { return };
        let Some((s, o)) = self.pair_of(Paired::Forge, here) else { return };
        let detail = format!(
            "{} can create a Secret ({}, {}) and an ASO resource ({}, {}) in {ns}: Kubernetes allows the union of its bindings, and a forged credential naming the client id of any identity federated to ASO's service account makes ASO (relaxed mode) act as it",
            a.label, s.binding, s.role, o.binding, o.role
        );
        let evidence = vec![s.binding.clone(), s.role.clone(), o.binding.clone(), o.role.clone()];
        let n = note(evidence, detail, "forges ASO credential");
        self.b.add_noted_edge(a.node, hub, EdgeKind::AsoCredentialForging, Caps::EMPTY, s.flags | o.flags, n);
    }

    /// `CAN_MINT_TOKEN` to every service account of `ns` from an actor that may create Secrets through one
    /// binding and read them through another.
    fn token_secret_edges(&mut self, a: &Actor, here: &[&Bound], ns: &str) {
        let Some((c, r)) = self.pair_of(Paired::TokenSecret, here) else { return };
        let evidence = vec![c.binding.clone(), c.role.clone(), r.binding.clone(), r.role.clone()];
        let (label, node, flags) = (a.label.clone(), a.node, c.flags | r.flags);
        self.mint_token_secrets(ns, |b, to, sa| {
            let detail = format!(
                "{label} can create a {} Secret naming {ns}/{sa} ({}, {}), which the token controller fills with its token, and read it ({}, {}): Kubernetes allows the union of its bindings",
                super::facts::SA_TOKEN_TYPE, c.binding, c.role, r.binding, r.role
            );
            let n = note(evidence.clone(), detail, "mints token Secret");
            b.add_noted_edge(node, to, EdgeKind::CanMintToken, Caps::EMPTY, flags, n);
        });
    }
}
