//! What to change to cut a path, with the command: one function per kind of grant a path rests on. Every
//! command is built by [`crate::shell`].

use petgraph::graph::{EdgeIndex, NodeIndex};
use rustc_hash::FxHashMap;

use crate::findings::Remediation;
use crate::graph::{EdgeNote, PrivilegeGraph};
use crate::model::{EdgeKind, NodeKind};
use crate::shell::{self, Chain, Command, Malformed};
use crate::snapshot::Str;

/// Path segment of role assignment ids.
const ROLE_ASSIGNMENTS: &str = "/providers/Microsoft.Authorization/roleAssignments/";

/// A change that removes a grant paths rest on: what `choke_points` rank and plans apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fix {
    /// Stable id of what is removed (`role-assignment:<id>`, `member:<group>/<member>`, …).
    pub key: String,
    /// What the grant is, in a few words.
    pub what: String,
    /// The change, with its command when one can be built.
    pub remediation: Remediation,
}

/// The key prefix of a fix that names no object of its own: a step no one can remove (a pod runs as its
/// service account), or one that rests on several objects at once.
const STEP_KEY: &str = "edge:";

/// The key of a fix that names no object: the step itself (`edge:<kind>:<from>:<to>`).
fn step_key(kind: EdgeKind, from: &str, to: &str) -> String {
    format!("{STEP_KEY}{}:{from}:{to}", kind.as_str())
}

/// Whether the fix with this key changes one object a person can change (a role assignment, membership,
/// ownership, federated credential, binding subject, credential Secret, …) rather than naming a step
/// ([`step_key`]).
pub(crate) fn changes_an_object(key: &str) -> bool {
    !key.starts_with(STEP_KEY)
}

/// How much of a fix to make: its key alone (all that ranking and grouping compare), or the whole fix with its
/// description and command (what a report shows). Each kind of fix is written once, with its key, and its
/// description and remediation as closures that only [`Detail::Full`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Key,
    /// The key and whether the remediation has a command: its `command` is `Some` exactly when the whole fix's
    /// is, but its text may be left empty where making it costs (an identity hub's chained deletes), and so may
    /// the description and summary.
    Command,
    Full,
}

impl Detail {
    /// The fix keyed `key`; for [`Detail::Key`], with an empty description and remediation; for
    /// [`Detail::Command`], with an empty description.
    fn fix(self, key: String, what: impl FnOnce() -> String, remediation: impl FnOnce() -> Remediation) -> Fix {
        match self {
            Detail::Key => {
                Fix { key, what: String::new(), remediation: Remediation { summary: String::new(), command: None } }
            }
            Detail::Command => Fix { key, what: String::new(), remediation: remediation() },
            Detail::Full => Fix { key, what: what(), remediation: remediation() },
        }
    }
}

/// The role assignments behind each assignable-identities hub ([`assignable_identity_fix`]), gathered once per
/// hub: the fix of each of the hub's hops to an identity rests on all of them, and the plan asks for the key
/// and the command of every such hop (one per identity under the scope).
#[derive(Default)]
struct Hubs(FxHashMap<NodeIndex, HubGrants>);

/// The role assignments that let one attach the identities under a hub's scope.
struct HubGrants {
    /// Their ids as the evidence of the edges into the hub gives them, sorted and deduplicated ignoring case.
    ids: Vec<String>,
    /// Whether one command deletes them all: there is one at least and every id is well formed.
    command: bool,
}

impl Hubs {
    fn of(&mut self, graph: &PrivilegeGraph, hub: NodeIndex) -> &HubGrants {
        self.0.entry(hub).or_insert_with(|| {
            let lower = ROLE_ASSIGNMENTS.to_ascii_lowercase();
            let mut ids: Vec<String> = graph
                .graph
                .edges_directed(hub, petgraph::Direction::Incoming)
                .filter(|x| x.weight().kind == EdgeKind::CanAttachIdentity)
                .filter_map(|x| graph.notes[x.weight().evidence as usize].evidence.first())
                .filter(|id| contains_ignoring_case(id, &lower))
                .map(Str::to_string)
                .collect();
            // Stable, by the lower-cased id: of ids equal but for case, the first given stays.
            ids.sort_by(|a, b| {
                a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
            });
            ids.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            let command = !ids.is_empty() && ids.iter().all(|id| shell::role_assignment_id(id).is_ok());
            HubGrants { ids, command }
        })
    }
}

/// Each edge's fix made once for a whole analysis (the choke points, the plan, the report's findings and
/// choke points ask for the fixes of the same edges): its key for every edge asked about, the whole fix only
/// for the edges whose fix is shown ([`FixMemo::full`]).
pub(crate) struct FixMemo<'g> {
    graph: &'g PrivilegeGraph,
    of: FxHashMap<EdgeIndex, Made>,
    /// What the fixes of the identity hubs' hops rest on, per hub.
    hubs: Hubs,
    /// The keys one after another: one allocation, not one per edge (the plan asks for the keys of every edge
    /// leaving a fix's sources, hundreds of thousands in a large tenant).
    keys: String,
    /// The whole fixes made.
    full: Vec<Fix>,
}

/// Where one edge's fix is: its key (`keys[start..start + len]`), its whole fix (an index in `full`,
/// [`Made::NONE`] until asked for), and whether that has a command, once known.
#[derive(Clone, Copy)]
struct Made {
    start: usize,
    len: u32,
    full: u32,
    command: Option<bool>,
}

impl Made {
    const NONE: u32 = u32::MAX;
}

impl<'g> FixMemo<'g> {
    pub(crate) fn new(graph: &'g PrivilegeGraph) -> FixMemo<'g> {
        FixMemo { graph, of: FxHashMap::default(), hubs: Hubs::default(), keys: String::new(), full: Vec::new() }
    }

    /// The key of `e`'s fix ([`fix_of`]'s `key`, made without its text).
    pub(crate) fn key(&mut self, e: EdgeIndex) -> &str {
        let m = match self.of.get(&e) {
            Some(m) => *m,
            None => {
                let key = make(self.graph, e, Detail::Key, &mut self.hubs).key;
                self.add(e, &key, Made::NONE, None)
            }
        };
        &self.keys[m.start..m.start + m.len as usize]
    }

    /// `e`'s whole fix ([`fix_of`]).
    pub(crate) fn full(&mut self, e: EdgeIndex) -> &Fix {
        let made = self.of.get(&e).copied();
        if let Some(m) = made.filter(|m| m.full != Made::NONE) {
            return &self.full[m.full as usize];
        }
        let fix = make(self.graph, e, Detail::Full, &mut self.hubs);
        let at = self.full.len() as u32;
        match made {
            Some(m) => {
                self.of.insert(e, Made { full: at, ..m });
            }
            None => {
                self.add(e, &fix.key, at, None);
            }
        }
        self.full.push(fix);
        &self.full[at as usize]
    }

    /// `e`'s remediation: its whole fix's, from the one made already, else made and not kept. A finding's
    /// remediation is asked for once per core and copied into the finding: keeping its whole fix too would hold
    /// every finding's text twice until the report is made.
    pub(crate) fn remediation(&mut self, e: EdgeIndex) -> Remediation {
        match self.of.get(&e).filter(|m| m.full != Made::NONE) {
            Some(m) => self.full[m.full as usize].remediation.clone(),
            None => make(self.graph, e, Detail::Full, &mut self.hubs).remediation,
        }
    }

    /// Whether `e`'s whole fix has a command (the plan's cover ranks by it), keeping only the answer: an
    /// identity hub's fix names every role assignment that lets one attach an identity, and the cover asks about
    /// every identity under such hubs (at 50k, 20 MB of text kept until the report was made); that command is
    /// not made, only whether it would be ([`Detail::Command`]).
    pub(crate) fn has_command(&mut self, e: EdgeIndex) -> bool {
        if let Some(m) = self.of.get(&e).copied() {
            if m.full != Made::NONE {
                return self.full[m.full as usize].remediation.command.is_some();
            }
            if let Some(c) = m.command {
                return c;
            }
        }
        let fix = make(self.graph, e, Detail::Command, &mut self.hubs);
        let command = fix.remediation.command.is_some();
        match self.of.get_mut(&e) {
            Some(m) => m.command = Some(command),
            None => {
                self.add(e, &fix.key, Made::NONE, Some(command));
            }
        }
        command
    }

    /// Records `e`'s key (and whole fix, `full`; whether it has a command, `command`).
    fn add(&mut self, e: EdgeIndex, key: &str, full: u32, command: Option<bool>) -> Made {
        let m = Made { start: self.keys.len(), len: key.len() as u32, full, command };
        self.keys.push_str(key);
        self.of.insert(e, m);
        m
    }
}

/// The least-collateral cut for a pair's path: a membership of the source when the power comes through a
/// group (only the source loses it), otherwise the cut of the path's core.
pub(crate) fn remediation(graph: &PrivilegeGraph, path: &[EdgeIndex], inherited: bool) -> Remediation {
    if graph.edge(path[0]).2.kind == EdgeKind::MemberOf {
        return fix_of(graph, path[0]).remediation;
    }
    core_fix(graph, path, inherited, &mut FixMemo::new(graph)).1
}

/// The least-collateral cut for a core (`path`, its principal first) and the edge it removes: the
/// ownership, binding or federated credential that starts an escalation before the role it leads to; the
/// ASO identity's role rescoped to what its namespace owns; else the grant. Edges' fixes come from `fixes`.
pub(crate) fn core_fix(
    graph: &PrivilegeGraph,
    path: &[EdgeIndex],
    broad: bool,
    fixes: &mut FixMemo,
) -> (EdgeIndex, Remediation) {
    let mut fix_at = |e: EdgeIndex| (e, fixes.remediation(e));
    if matches!(graph.edge(path[0]).2.kind, EdgeKind::CanAddCredential | EdgeKind::CanAddMember)
        || entra_grant_fix(graph, path[0], Detail::Key).is_some()
    {
        return fix_at(path[0]);
    }
    let role_edge = path.iter().rev().find(|e| graph.edge(**e).2.kind == EdgeKind::HasRole).copied();
    let aso = path.iter().find(|e| graph.edge(**e).2.kind == EdgeKind::AsoActsAs);
    if let (Some(aso), Some(role_edge)) = (aso, role_edge) {
        return (role_edge, aso_remediation(graph, *aso, role_edge));
    }
    if let Some(e) = path.iter().take(3).find(|e| binding_of(graph, **e).is_some()) {
        return fix_at(*e);
    }
    let Some(role_edge) = role_edge else {
        if matches!(graph.edge(path[0]).2.kind, EdgeKind::FederatedTrust | EdgeKind::IdentityBinding) {
            return fix_at(path[0]);
        }
        let on_assignment = path.iter().find(|e| assignment_of(graph, **e).is_some()).copied();
        // Else the first step that changes an object (a federated credential, an ASO credential), never a step
        // that only says how Kubernetes works.
        let e = on_assignment
            .or_else(|| path.iter().find(|e| crate::choke::actionable(fixes.key(**e))).copied())
            .unwrap_or(path[0]);
        return (e, fixes.remediation(e));
    };
    (role_edge, grant_remediation(graph, role_edge, broad))
}

/// The fix that removes one edge.
pub(crate) fn fix_of(graph: &PrivilegeGraph, e: EdgeIndex) -> Fix {
    make(graph, e, Detail::Full, &mut Hubs::default())
}

/// The key of the fix that removes one edge ([`fix_of`]'s `key`), made without its description and command.
#[cfg(test)]
fn fix_key(graph: &PrivilegeGraph, e: EdgeIndex) -> String {
    make(graph, e, Detail::Key, &mut Hubs::default()).key
}

/// A node as a fix names it: its id as findings show it, its display name borrowed (only a whole fix reads it).
struct Named<'g> {
    id: String,
    display_name: &'g str,
}

impl<'g> Named<'g> {
    fn of(graph: &'g PrivilegeGraph, n: NodeIndex) -> Named<'g> {
        let node = graph.node(n);
        Named { id: node.key.to_string(), display_name: &node.name }
    }
}

/// The fix that removes one edge, made to `detail`; what identity hubs' fixes rest on is read from `hubs`.
fn make(graph: &PrivilegeGraph, e: EdgeIndex, d: Detail, hubs: &mut Hubs) -> Fix {
    let (from, to, w) = graph.edge(e);
    let (a, b) = (Named::of(graph, from), Named::of(graph, to));
    if let Some(fix) = entra_grant_fix(graph, e, d) {
        return fix;
    }
    if w.flags & crate::graph::ELIGIBLE != 0 && matches!(w.kind, EdgeKind::MemberOf | EdgeKind::CanAddMember) {
        let access = if w.kind == EdgeKind::MemberOf { "member" } else { "owner" };
        return d.fix(
            format!("group-eligibility:{}/{}/{access}", b.id, a.id),
            || format!("PIM for Groups eligibility of {} as {access} of {}", a.display_name, b.display_name),
            || {
                shell::remediation(
                    format!(
                        "Remove the PIM for Groups eligibility of {} to become {access} of group {}",
                        a.display_name, b.display_name
                    ),
                    group_eligibility_remove(&b.id, &a.id, access),
                )
            },
        );
    }
    match w.kind {
        EdgeKind::MemberOf => d.fix(
            format!("member:{}/{}", b.id, a.id),
            || format!("membership of {} in group {}", a.display_name, b.display_name),
            || {
                shell::remediation(
                    format!(
                        "Remove {} from group {} (only this member and what it holds lose the path), or narrow the group's role assignment",
                        a.display_name, b.display_name
                    ),
                    shell::group_member_remove(&b.id, &a.id),
                )
            },
        ),
        EdgeKind::HasRole => {
            let g = &graph.grants[w.evidence as usize];
            let pim = if g.eligible { " (PIM eligible)" } else { "" };
            d.fix(
                format!("role-assignment:{}", g.assignment_id.to_ascii_lowercase()),
                || format!("{}{pim} of {} at {}", g.role_name, a.display_name, b.display_name),
                || grant_remediation(graph, e, false),
            )
        }
        EdgeKind::CanAddCredential | EdgeKind::CanAddMember => {
            let note = &graph.notes[w.evidence as usize];
            let (object, owner) =
                (note.evidence.first().map_or("", Str::as_str), note.evidence.get(1).map_or("", Str::as_str));
            d.fix(
                format!("owner:{object}/{owner}"),
                || format!("{} as an owner of {}", a.display_name, b.display_name),
                || owner_remediation(graph, &[e]).unwrap_or_else(|| review(note)),
            )
        }
        EdgeKind::FederatedTrust | EdgeKind::IdentityBinding | EdgeKind::AsoForgeableIdentity => {
            let note = &graph.notes[w.evidence as usize];
            let id = note.evidence.first().map_or("", Str::as_str);
            let what = if w.kind == EdgeKind::IdentityBinding { "identity-binding" } else { "federated-credential" };
            // Forging rests on the same federated credential as ASO's own trust: one fix for both.
            // (Named as the trust's own fix names the account: `namespace/name`.)
            let who = || match w.kind {
                EdgeKind::AsoForgeableIdentity => note.evidence.get(1).map_or("ASO".to_string(), |s| {
                    let subject = s.trim_start_matches("subject=");
                    subject.strip_prefix("system:serviceaccount:").map_or(subject.to_string(), |sa| sa.replacen(':', "/", 1))
                }),
                _ => a.display_name.to_string(),
            };
            d.fix(
                format!("{what}:{}", id.to_ascii_lowercase()),
                || format!("{} trusted by {}", who(), b.display_name),
                || trust_remediation(graph, &[e]).unwrap_or_else(|| review(note)),
            )
        }
        EdgeKind::AsoActsAs => {
            let note = &graph.notes[w.evidence as usize];
            let secret = note.evidence.first().map_or("", Str::as_str);
            let cluster = a.id.split_once("/k8s/").map_or("", |(c, _)| c);
            d.fix(
                format!("aso-credential:{cluster}#{secret}"),
                || format!("{} through the credential Secret {}", b.display_name, secret.replace("/secrets/", "/")),
                || {
                    aso_credential_remediation(kubectl_for(graph, cluster), secret, b.display_name)
                        .unwrap_or_else(|| review(note))
                },
            )
        }
        _ => {
            if let Some((binding, role)) = binding_of(graph, e) {
                let cluster = [&a.id, &b.id].into_iter().find_map(|k| k.split_once("/k8s/").map(|(c, _)| c.to_string()));
                let cluster = cluster.unwrap_or_default();
                return d.fix(
                    format!("binding:{cluster}#{binding}#{}", a.id),
                    || format!("{} in {binding} ({role})", a.display_name),
                    || {
                        shell::remediation(
                            format!("Remove {} from {binding} ({role}), or narrow that role", a.display_name),
                            edit_binding(kubectl_for(graph, &cluster), &binding),
                        )
                    },
                );
            }
            if let Some(id) = assignment_of(graph, e) {
                let note = &graph.notes[w.evidence as usize];
                let what = || match graph.grant_by_assignment(&id).map(|i| &graph.grants[i]) {
                    Some(g) => {
                        let at = graph.find(&g.scope).map(|n| graph.node_ref(n).display_name).unwrap_or(g.scope.to_string());
                        let pim = if g.eligible { " (PIM eligible)" } else { "" };
                        format!("{}{pim} of {} at {at}", g.role_name, a.display_name)
                    }
                    None => format!("the role assignment behind: {}", note.label),
                };
                return d.fix(
                    format!("role-assignment:{}", id.to_ascii_lowercase()),
                    what,
                    || assignment_remediation(graph, &id, note, &a.id),
                );
            }
            let object_fix = attached_identity_fix(graph, e, d)
                .or_else(|| assignable_identity_fix(graph, e, d, hubs))
                .or_else(|| aks_admin_group_fix(graph, e, d))
                .or_else(|| pod_identity_fix(graph, e, d));
            if let Some(fix) = object_fix {
                return fix;
            }
            let note = derived_note(graph, e);
            d.fix(
                step_key(w.kind, &a.id, &b.id),
                || note.map(|n| n.label.to_string()).unwrap_or_else(|| w.kind.as_str().to_string()),
                || note.map(review).unwrap_or_else(|| Remediation { summary: "Review this step".into(), command: None }),
            )
        }
    }
}

/// The hop from a compute hub to an identity attached to a resource: detaching the identity cuts it.
fn attached_identity_fix(graph: &PrivilegeGraph, e: EdgeIndex, d: Detail) -> Option<Fix> {
    let (_, to, w) = graph.edge(e);
    if w.kind != EdgeKind::CanRunAsResourceIdentity {
        return None;
    }
    let note = derived_note(graph, e)?;
    let resource = note.evidence.first()?;
    let attached = note.evidence.get(1).and_then(|h| h.strip_prefix("identity=")).unwrap_or("");
    let identity = graph.node_ref(to);
    Some(d.fix(
        format!("resource-identity:{}/{}", resource.to_ascii_lowercase(), identity.id),
        || format!("{} attached to {resource}", identity.display_name),
        || {
            let all = if detach_is_generic(resource) {
                " (this generic update removes every identity of the resource: check `az resource show --ids` first)"
            } else {
                ""
            };
            shell::remediation(
                format!(
                    "Detach {} from {resource} if the workload does not need it{all}, or narrow what the identity holds",
                    identity.display_name
                ),
                detach_identity(resource, attached),
            )
        },
    ))
}

/// The hop from a scope's assignable-identities hub to one identity (`CAN_ATTACH_IDENTITY`): nothing on the
/// identity itself grants it; the cut is the role assignment that allows `userAssignedIdentities/*/assign/action`
/// at the scope (the evidence of each edge into the hub). One such assignment: its key and its delete command,
/// so the plan can name it; several: every one of them must go, in one chained command.
fn assignable_identity_fix(graph: &PrivilegeGraph, e: EdgeIndex, d: Detail, hubs: &mut Hubs) -> Option<Fix> {
    let (from, to, w) = graph.edge(e);
    if w.kind != EdgeKind::CanAttachIdentity || graph.node(from).kind != NodeKind::ScopeIdentities {
        return None;
    }
    let HubGrants { ids, command } = hubs.of(graph, from);
    let key = match ids.as_slice() {
        [one] => format!("role-assignment:{}", one.to_ascii_lowercase()),
        _ => step_key(w.kind, &graph.node(from).key.to_string(), &graph.node(to).key.to_string()),
    };
    if d == Detail::Command {
        let remediation = Remediation { summary: String::new(), command: command.then(String::new) };
        return Some(Fix { key, what: String::new(), remediation });
    }
    let (hub, identity) = (graph.node_ref(from), graph.node_ref(to));
    Some(d.fix(
        key,
        || format!("{} ({})", hub.display_name, identity.display_name),
        || {
            let commands: Result<Vec<Command>, Malformed> =
                ids.iter().map(|id| shell::role_assignment_delete(id)).collect();
            let none = || Malformed {
                field: "role assignment id",
                value: String::new(),
                expected: "the assignment that allows userAssignedIdentities/*/assign/action (none was found)",
            };
            let command = commands.and_then(|c| Chain::of(c).ok_or_else(none));
            let summary = format!(
                "{} can be attached by whoever may assign identities under this scope: remove the role assignment{} that allow{} it ({}), or move the identity out of the scope",
                identity.display_name,
                if ids.len() == 1 { "" } else { "s" },
                if ids.len() == 1 { "s" } else { "" },
                ids.join(", ")
            );
            shell::remediation(summary, command)
        },
    ))
}

/// The `az` command group that manages identities of a resource type (by the last provider type in its id).
fn identity_group(resource: &str) -> Option<&'static [&'static str]> {
    let lower = resource.to_ascii_lowercase();
    let (_, typed) = lower.rsplit_once("/providers/")?;
    let mut segs = typed.split('/');
    let kind = format!("{}/{}", segs.next()?, segs.next()?);
    Some(match kind.as_str() {
        "microsoft.compute/virtualmachines" => &["vm", "identity", "remove"],
        "microsoft.compute/virtualmachinescalesets" => &["vmss", "identity", "remove"],
        "microsoft.web/sites" => &["webapp", "identity", "remove"],
        "microsoft.app/containerapps" => &["containerapp", "identity", "remove"],
        _ => return None,
    })
}

fn detach_is_generic(resource: &str) -> bool {
    identity_group(resource).is_none()
}

/// The command that detaches one identity (`system-assigned`, or `user-assigned <identity id>`) from a resource:
/// `az vm|vmss|webapp identity remove --ids R --identities [system]|<id>`, `az containerapp identity remove
/// --system-assigned|--user-assigned`, else `az resource update --ids R --remove identity` (every identity).
/// References: <https://learn.microsoft.com/cli/azure/vm/identity#az-vm-identity-remove>,
/// <https://learn.microsoft.com/cli/azure/webapp/identity#az-webapp-identity-remove>,
/// <https://learn.microsoft.com/cli/azure/containerapp/identity#az-containerapp-identity-remove>.
fn detach_identity(resource: &str, attached: &str) -> Result<Command, Malformed> {
    let resource = shell::arm_scope(resource)?;
    let user = attached.strip_prefix("user-assigned ").map(str::trim).map(shell::arm_scope).transpose()?;
    if user.is_none() && attached != "system-assigned" {
        return Err(Malformed {
            field: "attached identity",
            value: attached.to_string(),
            expected: "system-assigned or user-assigned <id>",
        });
    }
    let Some(group) = identity_group(resource) else {
        return Ok(Command::new("az")
            .args(["resource", "update"])
            .opt("--ids", resource)
            .args(["--remove", "identity"]));
    };
    let command = Command::new("az").args(group.iter().copied()).opt("--ids", resource);
    Ok(match (group[0], user) {
        ("containerapp", None) => command.args(["--system-assigned"]),
        ("containerapp", Some(u)) => command.opt("--user-assigned", u),
        (_, None) => command.args(["--identities", "[system]"]),
        (_, Some(u)) => command.opt("--identities", u),
    })
}

/// The cut of "ASO acts as an identity through a credential Secret" (evidence `<ns>/secrets/<name>`): delete a
/// namespace or per-resource credential; edit the global one (`aso-controller-settings` also configures ASO).
fn aso_credential_remediation(kubectl: Command, secret: &str, identity: &str) -> Option<Remediation> {
    let (ns, name) = secret.split_once("/secrets/")?;
    let command = (|| {
        let kubectl = kubectl.opt("-n", shell::namespace(ns)?);
        let name = shell::object_name("Secret name", name)?;
        Ok(if name == crate::kube_graph::ASO_SETTINGS {
            kubectl.args(["edit", "secret"]).arg(name)
        } else {
            kubectl.args(["delete", "secret"]).arg(name)
        })
    })();
    let summary = if name == crate::kube_graph::ASO_SETTINGS {
        format!(
            "Remove {identity}'s AZURE_CLIENT_ID from ASO's global credential {ns}/{name} and give each namespace \
             its own credential holding only what its resources need"
        )
    } else {
        format!(
            "Delete the ASO credential Secret {ns}/{name} if no ASO resource there needs it, or point it at an \
             identity holding only what those resources need"
        )
    };
    Some(shell::remediation(summary, command))
}

/// The object a pod-managed identity edge rests on (its evidence first): an aad-pod-identity
/// `AzureIdentityBinding` (`<ns>/azureidentitybindings/<name>`: delete it), or the AKS add-on's pod identity or
/// NMI exception (`<cluster id> (podIdentityProfile.userAssignedIdentities|…Exceptions: <ns>/<name>)`: `az aks
/// pod-identity [exception] delete`). References:
/// <https://learn.microsoft.com/cli/azure/aks/pod-identity#az-aks-pod-identity-delete>,
/// <https://learn.microsoft.com/cli/azure/aks/pod-identity/exception#az-aks-pod-identity-exception-delete>.
fn pod_identity_fix(graph: &PrivilegeGraph, e: EdgeIndex, d: Detail) -> Option<Fix> {
    let (from, to, w) = graph.edge(e);
    if w.kind != EdgeKind::PodManagedIdentity {
        return None;
    }
    let (ns_node, identity) = (graph.node_ref(from), graph.node_ref(to).display_name);
    let note = derived_note(graph, e)?;
    let evidence = note.evidence.first()?;
    let cluster = ns_node.id.split_once("/k8s/").map_or("", |(c, _)| c);
    let addon = note.evidence.iter().find_map(|x| x.strip_prefix(crate::build::kube::ADDON_MANAGED));
    if let Some(at) = addon {
        // The add-on reconciles its bindings: remove the pod identity, as for the add-on's own edge.
        return addon_pod_identity_fix(cluster, &format!("userAssignedIdentities: {at}"), &identity, d);
    }
    if let Some((bns, name)) = evidence.split_once("/azureidentitybindings/") {
        return Some(d.fix(
            format!("pod-identity-binding:{cluster}#{bns}/{name}"),
            || format!("AzureIdentityBinding {bns}/{name} (gives pods {identity}'s tokens)"),
            || {
                let command = (|| {
                    Ok::<_, Malformed>(
                        kubectl_for(graph, cluster)
                            .opt("-n", shell::namespace(bns)?)
                            .args(["delete", "azureidentitybinding"])
                            .arg(shell::object_name("AzureIdentityBinding name", name)?),
                    )
                })();
                shell::remediation(
                    format!(
                        "Delete AzureIdentityBinding {bns}/{name} if no pod needs {identity}, and move its workloads to \
                         workload identity (aad-pod-identity is deprecated)"
                    ),
                    command,
                )
            },
        ));
    }
    let (id, rest) = evidence.split_once(" (podIdentityProfile.")?;
    addon_pod_identity_fix(id, rest.trim_end_matches(')'), &identity, d)
}

/// `az aks pod-identity [exception] delete` of cluster `id` for `<list>: <namespace>/<name>` of its
/// `podIdentityProfile`.
fn addon_pod_identity_fix(id: &str, entry: &str, identity: &str, d: Detail) -> Option<Fix> {
    let (list, at) = entry.split_once(": ")?;
    let (ns, name) = at.split_once('/')?;
    let exception = list == "userAssignedIdentityExceptions";
    let (sub, rg, cluster_name) = shell::arm_parts(id);
    let kind = if exception { "pod-identity-exception" } else { "pod-identity" };
    let remediation = || {
        let group: &[&'static str] = if exception {
            &["aks", "pod-identity", "exception", "delete"]
        } else {
            &["aks", "pod-identity", "delete"]
        };
        let command = (|| {
            Ok::<_, Malformed>(
                Command::new("az")
                    .args(group.iter().copied())
                    .opt("--subscription", shell::guid("subscription id", sub)?)
                    .opt("--resource-group", rg)
                    .opt("--cluster-name", cluster_name)
                    .opt("--namespace", shell::namespace(ns)?)
                    .opt("--name", name),
            )
        })();
        let summary = if exception {
            format!(
                "Delete the NMI exception {ns}/{name} of {cluster_name}: its pods reach every pod identity on the \
                 nodes, {identity} included"
            )
        } else {
            format!(
                "Delete pod identity {ns}/{name} of {cluster_name} if no pod needs {identity}, and move its \
                 workloads to workload identity (the pod identity add-on is deprecated)"
            )
        };
        shell::remediation(summary, command)
    };
    Some(d.fix(
        format!("{kind}:{}#{ns}/{name}", id.to_ascii_lowercase()),
        || format!("{} {ns}/{name} of {cluster_name} ({identity})", kind.replace('-', " ")),
        remediation,
    ))
}

/// The edge from a group in a cluster's `aadProfile.adminGroupObjectIDs` to its admins: taking the group out of
/// that setting (evidence: the cluster id, the group, every admin group of the cluster).
fn aks_admin_group_fix(graph: &PrivilegeGraph, e: EdgeIndex, d: Detail) -> Option<Fix> {
    let (from, _, w) = graph.edge(e);
    if w.kind != EdgeKind::AksClusterAdmin {
        return None;
    }
    let note = derived_note(graph, e)?;
    let group = note.evidence.get(1)?.strip_prefix("aadProfile.adminGroupObjectIDs=")?;
    let all = note.evidence.get(2).and_then(|g| g.strip_prefix("all="))?;
    let cluster = note.evidence.first()?.as_str();
    let name = graph.node_ref(from).display_name;
    Some(d.fix(
        format!("aks-admin-group:{}#{}", cluster.to_ascii_lowercase(), group.to_ascii_lowercase()),
        || format!("{name} as an admin group of {}", shell::arm_parts(cluster).2),
        || {
            let groups: Vec<&str> = all.split(',').filter(|g| !g.is_empty()).collect();
            aks_admin_group_remediation(cluster, group, &groups, &name)
        },
    ))
}

/// `az aks update --aad-admin-group-object-ids` with the cluster's other admin groups. The last admin group
/// cannot be removed this way (the setting takes at least one): then only the advice is given.
fn aks_admin_group_remediation(cluster: &str, group: &str, groups: &[&str], name: &str) -> Remediation {
    let others: Vec<&str> = groups.iter().copied().filter(|g| !g.eq_ignore_ascii_case(group)).collect();
    let (_, _, cluster_name) = shell::arm_parts(cluster);
    if others.is_empty() {
        return Remediation {
            summary: format!(
                "{name} is {cluster_name}'s only admin group: replace it with a small break-glass group \
                 (az aks update --aad-admin-group-object-ids <group>), or grant narrower roles through Azure RBAC \
                 for Kubernetes"
            ),
            command: None,
        };
    }
    let command = (|| {
        let ids = others.iter().map(|g| shell::guid("admin group object id", g)).collect::<Result<Vec<_>, _>>()?;
        Ok(shell::az_target(Command::new("az").args(["aks", "update"]), cluster)
            .opt("--aad-admin-group-object-ids", ids.join(",")))
    })();
    shell::remediation(
        format!(
            "Remove {name} from {cluster_name}'s admin groups (aadProfile.adminGroupObjectIDs), keeping the others"
        ),
        command,
    )
}

/// A step with no command of its own: say what it rests on.
fn review(note: &EdgeNote) -> Remediation {
    Remediation { summary: format!("Remove what this step rests on: {}", note.detail), command: None }
}

/// The binding (`RoleBinding <ns>/<name>` or `ClusterRoleBinding <name>`) and role a Kubernetes edge rests on.
fn binding_of(graph: &PrivilegeGraph, e: EdgeIndex) -> Option<(String, String)> {
    let note = derived_note(graph, e)?;
    let b = note.evidence.first()?;
    (b.starts_with("RoleBinding ") || b.starts_with("ClusterRoleBinding "))
        .then(|| (b.to_string(), note.evidence.get(1).map(Str::to_string).unwrap_or_default()))
}

/// The role assignment (or PIM eligibility) a derived edge rests on: federated-credential control, AKS admin,
/// run command.
fn assignment_of(graph: &PrivilegeGraph, e: EdgeIndex) -> Option<String> {
    let note = derived_note(graph, e)?;
    note.evidence
        .first()
        .filter(|id| contains_ignoring_case(id, "/providers/microsoft.authorization/role"))
        .map(Str::to_string)
}

/// Whether `text` contains `lower` (lower-case) ignoring ASCII case, as `text.to_ascii_lowercase().contains(lower)`
/// would say, with no lower-cased copy made.
fn contains_ignoring_case(text: &str, lower: &str) -> bool {
    text.as_bytes().windows(lower.len()).any(|w| w.eq_ignore_ascii_case(lower.as_bytes()))
}

/// Removing the assignment a derived edge rests on.
fn assignment_remediation(graph: &PrivilegeGraph, id: &str, note: &EdgeNote, holder: &str) -> Remediation {
    let grant = graph.grant_by_assignment(id);
    if let Some(g) = grant.filter(|g| graph.grants[*g].eligible) {
        let g = &graph.grants[g];
        return shell::remediation(
            format!("Remove the PIM eligibility behind this step: {}", note.detail),
            shell::pim_eligibility_remove(&g.scope, holder, &g.role_definition_id),
        );
    }
    if id.contains(ROLE_ASSIGNMENTS) {
        return shell::remediation(
            format!("Remove or narrow the role assignment behind this step: {} ({id})", note.detail),
            shell::role_assignment_delete(id),
        );
    }
    review(note)
}

/// Through ASO, the least-collateral cut is the one ASO's security guidance asks for: scope the namespace's
/// identity to the resource groups its ASO resources own.
fn aso_remediation(graph: &PrivilegeGraph, aso: EdgeIndex, role_edge: EdgeIndex) -> Remediation {
    let (aso_ns, identity, _) = graph.edge(aso);
    let g = &graph.grants[graph.edge(role_edge).2.evidence as usize];
    let identity = graph.node_ref(identity);
    let rgs = graph.aso_owned_resource_groups.get(&aso_ns).cloned().unwrap_or_default();
    let ns = graph.node_ref(aso_ns).display_name;
    let role = crate::rbac::role_definition_guid(&g.role_definition_id);
    if rgs.is_empty() {
        // No ASO resource of the namespace owns a resource group: nothing to rescope to.
        let summary = format!(
            "Remove {} of {} at {} if nothing but {ns} uses it (its ASO resources own no resource group), or \
             scope it to the resource groups {ns} manages",
            g.role_name, identity.display_name, g.scope
        );
        return shell::remediation(summary, shell::role_assignment_delete(&g.assignment_id));
    }
    let summary = format!(
        "Scope {} ({} at {}) to the resource groups {ns}'s ASO resources own: {}",
        identity.display_name,
        g.role_name,
        g.scope,
        rgs.join(", ")
    );
    shell::remediation(summary, aso_rescope(&identity.id, &role, &rgs, &g.assignment_id))
}

/// Removing (or narrowing) a role grant; `broad` when the power is reported at scopes below the grant's.
fn grant_remediation(graph: &PrivilegeGraph, role_edge: EdgeIndex, broad: bool) -> Remediation {
    let (holder, scope, w) = graph.edge(role_edge);
    let g = &graph.grants[w.evidence as usize];
    let holder = graph.node_ref(holder);
    let at = graph.node_ref(scope).display_name;
    if g.assignment_id.starts_with(ELEVATE_ACCESS) {
        return elevation_remediation(&holder.display_name);
    }
    let scope_note = if broad { " (it is inherited below: move it down to the scopes actually needed)" } else { "" };
    if g.eligible {
        return shell::remediation(
            format!("Remove the PIM eligibility of {} at {} for {}{scope_note}", g.role_name, at, holder.display_name),
            shell::pim_eligibility_remove(&g.scope, &holder.id, &g.role_definition_id),
        );
    }
    let what = if g.delegation.is_some() {
        format!("Narrow the condition of the {} assignment of {} at {} so it cannot grant these roles, or remove it{scope_note}", g.role_name, holder.display_name, at)
    } else {
        format!(
            "Remove the {} assignment of {} at {}, or replace it with a narrower role or scope{scope_note}",
            g.role_name, holder.display_name, at
        )
    };
    shell::remediation(what, shell::role_assignment_delete(&g.assignment_id))
}

/// ASO's least-collateral cut: assign the identity's role on each resource group its namespace's ASO
/// resources own, then delete the broad assignment.
fn aso_rescope(identity: &str, role: &str, rgs: &[String], assignment: &str) -> Result<Chain, Malformed> {
    let (identity, role) = (shell::guid("identity principal id", identity)?, shell::guid("role definition", role)?);
    let creates = rgs.iter().map(|rg| {
        Command::new("az")
            .args(["role", "assignment", "create"])
            .opt("--assignee-object-id", identity)
            .opt("--assignee-principal-type", "ServicePrincipal")
            .opt("--role", role)
            .opt("--scope", rg)
    });
    let delete = shell::role_assignment_delete(assignment)?;
    Ok(Chain::of(creates.chain([delete])).expect("the delete is always there"))
}

/// `kubectl --context <cluster's name>` for a cluster id as node ids spell it (lower-cased): the name as the
/// tenant spells it (the AKS resource's `name`, which `az aks get-credentials` names the context after; or, for
/// a cluster known only from its dump, the name it was given), so a mixed-case context matches.
fn kubectl_for(graph: &PrivilegeGraph, cluster: &str) -> Command {
    let arm = graph.find(cluster).map(|n| graph.node(n)).filter(|n| n.kind == NodeKind::Resource);
    let admin = || graph.find(&format!("{cluster}/k8s/cluster-admin")).map(|n| graph.node(n));
    let name = match (arm, admin()) {
        (Some(n), _) => n.name.to_string(),
        (None, Some(a)) => a.name.strip_prefix("cluster-admin of ").unwrap_or(cluster).to_string(),
        (None, None) => cluster.to_string(),
    };
    shell::kubectl(if name.is_empty() { cluster } else { &name })
}

/// `kubectl edit` of the binding named in a note's evidence (`RoleBinding <ns>/<name>` or
/// `ClusterRoleBinding <name>`).
fn edit_binding(kubectl: Command, binding: &str) -> Result<Command, Malformed> {
    if let Some(rest) = binding.strip_prefix("RoleBinding ") {
        let (ns, name) = rest.split_once('/').unwrap_or(("", rest));
        return Ok(kubectl
            .opt("-n", shell::namespace(ns)?)
            .args(["edit", "rolebinding"])
            .arg(shell::rbac_name("RoleBinding name", name)?));
    }
    let name = binding.strip_prefix("ClusterRoleBinding ").unwrap_or(binding);
    Ok(kubectl.args(["edit", "clusterrolebinding"]).arg(shell::rbac_name("ClusterRoleBinding name", name)?))
}

/// The cut for a path that starts with ownership of an application, service principal or group: take the
/// owner off it (the owned object keeps its roles, which others may need).
fn owner_remediation(graph: &PrivilegeGraph, path: &[EdgeIndex]) -> Option<Remediation> {
    let (from, to, w) = graph.edge(*path.first()?);
    if !matches!(w.kind, EdgeKind::CanAddCredential | EdgeKind::CanAddMember) {
        return None;
    }
    let note = derived_note(graph, path[0])?;
    let (object, owner) = (note.evidence.first()?, note.evidence.get(1)?);
    let (who, target) = (graph.node_ref(from), graph.node_ref(to));
    let collection = match graph.find(object).map(|n| graph.node(n).kind) {
        Some(NodeKind::Group) => shell::OwnedObject::Group,
        Some(NodeKind::Application) => shell::OwnedObject::Application,
        _ => shell::OwnedObject::ServicePrincipal,
    };
    let what = match collection {
        shell::OwnedObject::Application => format!("the application of {}", target.display_name),
        shell::OwnedObject::ServicePrincipal => format!("service principal {}", target.display_name),
        shell::OwnedObject::Group => format!("group {}", target.display_name),
    };
    Some(shell::remediation(
        format!("Remove {} as an owner of {what} (owners can act with everything it holds)", who.display_name),
        shell::owner_remove(collection, object, owner),
    ))
}

/// The explanation of a derived edge (every kind but memberships, role grants and the scope tree, whose
/// evidence lives elsewhere).
pub(crate) fn derived_note(graph: &PrivilegeGraph, e: EdgeIndex) -> Option<&EdgeNote> {
    let w = graph.edge(e).2;
    (!matches!(w.kind, EdgeKind::MemberOf | EdgeKind::HasRole | EdgeKind::Contains))
        .then(|| &graph.notes[w.evidence as usize])
}

/// The cut for a path that starts by exchanging a token: delete the federated credential (ARM) or the AKS
/// identity binding that lets it in.
fn trust_remediation(graph: &PrivilegeGraph, path: &[EdgeIndex]) -> Option<Remediation> {
    let (from, to, w) = graph.edge(*path.first()?);
    let note = derived_note(graph, *path.first()?)?;
    let id = note.evidence.first()?;
    let segments: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    let (who, identity) = (graph.node_ref(from).display_name, graph.node_ref(to).display_name);
    match (w.kind, segments.as_slice()) {
        (EdgeKind::FederatedTrust | EdgeKind::AsoForgeableIdentity, ["subscriptions", sub, "resourceGroups" | "resourcegroups", rg, "providers", _, _, mi, _, name]) => {
            Some(shell::remediation(
                format!("Delete federated credential {name} of {identity} unless {who} should act as it"),
                shell::guid("subscription id", sub).map(|sub| {
                    Command::new("az")
                        .args(["identity", "federated-credential", "delete"])
                        .opt("--subscription", sub)
                        .opt("--resource-group", rg)
                        .opt("--identity-name", mi)
                        .opt("--name", name)
                }),
            ))
        }
        (EdgeKind::IdentityBinding, ["subscriptions", sub, "resourceGroups" | "resourcegroups", rg, "providers", _, _, cluster, _, name]) => {
            Some(shell::remediation(
                format!(
                    "Narrow the Kubernetes role that lets {who} use-managed-identity {identity} ({}), or delete identity binding {name} if no workload of {cluster} needs it",
                    note.evidence.get(1).cloned().unwrap_or_default()
                ),
                shell::guid("subscription id", sub).map(|sub| {
                    Command::new("az")
                        .args(["aks", "identity-binding", "delete"])
                        .opt("--subscription", sub)
                        .opt("--resource-group", rg)
                        .opt("--cluster-name", cluster)
                        .opt("--name", name)
                }),
            ))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Entra directory roles and Microsoft Graph permissions
// ---------------------------------------------------------------------------------------------------------

/// Assignment id prefix of the grant Global Administrator's `elevateAccess` implies (see `build::entra_roles`).
const ELEVATE_ACCESS: &str = "elevateAccess/";

/// The fix of an edge that rests on one Entra grant held by a principal: a directory-role assignment or PIM
/// eligibility (`HAS_DIRECTORY_ROLE`, or a role scoped to one object), or a Microsoft Graph app role
/// assignment (`HAS_GRAPH_PERMISSION`). `None` for other edges, and for the fan-out of a role's node.
fn entra_grant_fix(graph: &PrivilegeGraph, e: EdgeIndex, d: Detail) -> Option<Fix> {
    let (from, to, w) = graph.edge(e);
    let scoped =
        matches!(w.kind, EdgeKind::CanManageCredentials | EdgeKind::CanManageMembers | EdgeKind::CanResetPassword)
            && graph.node(from).kind.is_principal();
    if !(scoped || matches!(w.kind, EdgeKind::HasDirectoryRole | EdgeKind::HasGraphPermission)) {
        return None;
    }
    let note = &graph.notes[w.evidence as usize];
    let id = note.evidence.first()?;
    let (a, b) = (graph.node_ref(from), graph.node_ref(to));
    if w.kind == EdgeKind::HasGraphPermission {
        return Some(d.fix(
            format!("app-role-assignment:{id}"),
            || format!("{} of {}", b.display_name, a.display_name),
            || {
                shell::remediation(
                    format!("Remove {} from {}", b.display_name, a.display_name),
                    graph_id("app role assignment id", id).and_then(|id| {
                        let sp = shell::guid("service principal id", &a.id)?;
                        Ok(graph_rest("delete", format!("{GRAPH}/servicePrincipals/{sp}/appRoleAssignments/{id}")))
                    }),
                )
            },
        ));
    }
    let eligible = w.flags & crate::graph::ELIGIBLE != 0;
    // The role's name: the role node's, or for a role scoped to one object, the label's ("<role> on this object…").
    let what = || {
        if scoped {
            format!("{} (over {})", note.label, b.display_name)
        } else if eligible {
            format!("{} (PIM eligible)", b.display_name)
        } else {
            b.display_name.clone()
        }
    };
    let remediation = || {
        if eligible {
            let role = note.evidence.get(1).cloned().unwrap_or_default();
            let scope = note.evidence.get(2).cloned().unwrap_or_else(|| "/".into());
            shell::remediation(
                format!("Remove the PIM eligibility of {} for {}, or keep it to a few admins", a.display_name, what()),
                eligibility_remove(&a.id, &role, &scope),
            )
        } else {
            shell::remediation(
                format!(
                    "Remove the directory-role assignment of {} ({}), or make it PIM-eligible",
                    a.display_name,
                    what()
                ),
                graph_id("directory role assignment id", id)
                    .map(|id| graph_rest("delete", format!("{GRAPH}/roleManagement/directory/roleAssignments/{id}"))),
            )
        }
    };
    Some(d.fix(format!("directory-role-assignment:{id}"), || format!("{} of {}", what(), a.display_name), remediation))
}

/// The Microsoft Graph endpoint the Entra fixes call (public cloud, as `az rest` expects).
pub(crate) const GRAPH: &str = "https://graph.microsoft.com/v1.0";

/// `az rest --method <method> --url <url>`.
pub(crate) fn graph_rest(method: &'static str, url: String) -> Command {
    Command::new("az").args(["rest", "--method", method]).opt("--url", url)
}

/// `value` when it can be a Microsoft Graph object or assignment id in a URL path (letters, digits, `-`, `_`).
pub(crate) fn graph_id<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Malformed> {
    let ok = !value.is_empty() && value.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if ok {
        Ok(value)
    } else {
        Err(Malformed { field, value: value.to_string(), expected: "a Microsoft Graph id (letters, digits, - and _)" })
    }
}

/// A PIM `adminRemove` request for a directory-role eligibility, its body built by serde_json.
fn eligibility_remove(principal: &str, role: &str, scope: &str) -> Result<Command, Malformed> {
    let principal = shell::guid("principal id", principal)?;
    let role = graph_id("role definition id", role)?;
    let scope_ok =
        scope == "/" || scope.strip_prefix('/').is_some_and(|s| s.split('/').all(|x| graph_id("scope", x).is_ok()));
    if !scope_ok {
        return Err(Malformed { field: "directory scope", value: scope.to_string(), expected: "/ or /{id}" });
    }
    let body = serde_json::json!({
        "action": "adminRemove",
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": scope,
        "justification": "Remove a privilege escalation path found by azpath",
    });
    Ok(graph_rest("post", format!("{GRAPH}/roleManagement/directory/roleEligibilityScheduleRequests"))
        .opt("--body", body.to_string()))
}

/// Removes a PIM for Groups eligibility (`adminRemove` on the group's eligibility schedule requests).
fn group_eligibility_remove(group: &str, principal: &str, access: &'static str) -> Result<Command, Malformed> {
    let body = serde_json::json!({
        "action": "adminRemove",
        "accessId": access,
        "groupId": shell::guid("group id", group)?,
        "principalId": shell::guid("principal id", principal)?,
        "justification": "Remove a privilege escalation path found by azpath",
    });
    Ok(graph_rest("post", format!("{GRAPH}/identityGovernance/privilegedAccess/group/eligibilityScheduleRequests"))
        .opt("--body", body.to_string()))
}

/// Global Administrator's `elevateAccess` cannot be switched off: cut the Global Administrator assignments.
fn elevation_remediation(role: &str) -> Remediation {
    Remediation {
        summary: format!(
            "Whoever holds {role} can elevate to User Access Administrator at the tenant root: keep the role to a few PIM-eligible break-glass accounts, remove the other assignments, and alert on elevateAccess in the directory audit log"
        ),
        command: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_alone_is_the_whole_fixs_key_for_every_edge_of_the_bundled_tenants() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/snapshots");
        let mut tenants = 0;
        let mut seen = Seen::default();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let snapshot = crate::snapshot::Snapshot::from_json(&text, "fixture").unwrap();
            memo_gives_each_edges_fix(&snapshot, &path.display().to_string(), &mut seen);
            tenants += 1;
            // Again with every role assignment id malformed (its GUID cut short): no command deletes them.
            let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let assignments = json.pointer_mut("/azure/roleAssignments").and_then(|a| a.as_array_mut());
            for a in assignments.into_iter().flatten() {
                if let Some(serde_json::Value::String(id)) = a.get_mut("id") {
                    id.pop();
                }
            }
            let malformed = crate::snapshot::Snapshot::from_json(&json.to_string(), "fixture").unwrap();
            memo_gives_each_edges_fix(&malformed, &format!("{} (malformed ids)", path.display()), &mut seen);
        }
        assert_eq!(tenants, 5, "the bundled snapshots");
        let Seen { objects, steps, hub_hops } = seen;
        assert!(objects > 10 && steps > 0, "both kinds of fix are checked: {objects}, {steps}");
        assert!(hub_hops.iter().flatten().all(|n| *n > 0), "identity hubs of every kind are checked: {hub_hops:?}");
    }

    /// What [`memo_gives_each_edges_fix`] checked.
    #[derive(Default)]
    struct Seen {
        /// Fixes that change an object.
        objects: usize,
        /// Fixes that name a step.
        steps: usize,
        /// Hops out of an identity hub, by whether several role assignments are behind it and whether one command
        /// deletes them.
        hub_hops: [[usize; 2]; 2],
    }

    /// Checks that two memos (one asked for keys first, one for whole fixes first) give `fix_of`'s key, fix and
    /// command flag for every edge of the snapshot's graph, as does the key or the flag made alone.
    fn memo_gives_each_edges_fix(snapshot: &crate::snapshot::Snapshot, name: &str, seen: &mut Seen) {
        let graph = PrivilegeGraph::build(snapshot);
        let (mut keys_first, mut full_first) = (FixMemo::new(&graph), FixMemo::new(&graph));
        for e in graph.graph.edge_indices() {
            let fix = fix_of(&graph, e);
            let key = fix_key(&graph, e);
            assert_eq!(key, fix.key, "{name}: edge {e:?}");
            assert!(!fix.what.is_empty() && !fix.remediation.summary.is_empty(), "{fix:?}");
            let alone = make(&graph, e, Detail::Key, &mut Hubs::default());
            assert_eq!(alone.what, "", "the key alone formats no description");
            let flag = make(&graph, e, Detail::Command, &mut Hubs::default());
            let command = fix.remediation.command.is_some();
            assert_eq!((flag.key.as_str(), flag.remediation.command.is_some()), (key.as_str(), command), "{name}");
            assert_eq!(keys_first.key(e), fix.key);
            assert_eq!(keys_first.has_command(e), command, "{name}: {fix:?}");
            assert_eq!(keys_first.remediation(e), fix.remediation, "made, not kept");
            assert_eq!(keys_first.full(e), &fix);
            assert_eq!(full_first.full(e), &fix);
            assert_eq!(full_first.key(e), fix.key);
            assert_eq!(full_first.has_command(e), command);
            assert_eq!(full_first.remediation(e), fix.remediation, "the one kept");
            let hub = graph.graph.edge_endpoints(e).and_then(|(from, _)| keys_first.hubs.0.get(&from));
            if let Some(HubGrants { ids, .. }) = hub {
                seen.hub_hops[usize::from(ids.len() > 1)][usize::from(command)] += 1;
            }
            if changes_an_object(&key) {
                seen.objects += 1;
            } else {
                seen.steps += 1;
            }
        }
        assert_eq!(keys_first.of.len(), graph.graph.edge_count());
        assert_eq!(
            (keys_first.full.len(), full_first.full.len()),
            (graph.graph.edge_count(), graph.graph.edge_count())
        );
    }

    #[test]
    fn contains_ignoring_case_is_the_lower_cased_search() {
        let pattern = "/providers/microsoft.authorization/role";
        for text in [
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x",
            "/SUBSCRIPTIONS/S/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEELIGIBILITYSCHEDULEINSTANCES/x",
            "/providers/Microsoft.Authorization/rol",
            "/providers/Microsoft.Authorization/Role",
            "/providers/Microsoft.Authorization/denyAssignments/x",
            "",
            "RoleBinding ns/name",
        ] {
            assert_eq!(contains_ignoring_case(text, pattern), text.to_ascii_lowercase().contains(pattern), "{text}");
        }
    }

    const RG: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg";
    const UAMI: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer";

    fn detach(resource: &str, attached: &str) -> String {
        detach_identity(&format!("{RG}/providers/{resource}"), attached).unwrap().to_string()
    }

    #[test]
    fn an_aks_admin_group_is_removed_keeping_the_others_and_the_last_one_only_advised() {
        let cluster = "/subscriptions/11111111-0000-0000-0000-000000000001/resourcegroups/rg-aks/providers/microsoft.containerservice/managedclusters/prod";
        let (a, b) = ("aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002");
        let r = aks_admin_group_remediation(cluster, a, &[a, b], "Platform Admins");
        assert_eq!(
            r.command.as_deref(),
            Some(format!("az aks update --subscription 11111111-0000-0000-0000-000000000001 --resource-group rg-aks --name prod --aad-admin-group-object-ids {b}").as_str())
        );
        let last = aks_admin_group_remediation(cluster, a, &[a], "Platform Admins");
        assert!(last.command.is_none() && last.summary.contains("only admin group"), "{last:?}");
        // A malformed group id in the setting gives no command.
        let bad = aks_admin_group_remediation(cluster, a, &[a, "x;reboot"], "Platform Admins");
        assert!(bad.command.is_none(), "{bad:?}");
    }

    #[test]
    fn an_aso_credential_is_deleted_unless_it_is_the_global_settings() {
        let cluster = "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/prod";
        let cmd = |secret: &str| {
            aso_credential_remediation(shell::kubectl(cluster), secret, "id-aso").and_then(|r| r.command)
        };
        assert_eq!(
            cmd("team-a/secrets/aso-credential").as_deref(),
            Some("kubectl --context prod -n team-a delete secret aso-credential")
        );
        // The global credential also configures ASO: edit it, never delete it.
        assert_eq!(
            cmd("azureserviceoperator-system/secrets/aso-controller-settings").as_deref(),
            Some("kubectl --context prod -n azureserviceoperator-system edit secret aso-controller-settings")
        );
        // A malformed name gives the advice without a command; evidence that is not a Secret gives nothing.
        let bad = aso_credential_remediation(shell::kubectl(cluster), "team-a/secrets/x;rm -rf", "id-aso").unwrap();
        assert!(bad.command.is_none() && bad.summary.contains("team-a/x;rm -rf"), "{bad:?}");
        assert!(aso_credential_remediation(shell::kubectl(cluster), "team-a/aso", "id-aso").is_none());
    }

    #[test]
    fn detach_identity_names_the_resource_and_the_identity_by_type() {
        let vm = format!("{RG}/providers/Microsoft.Compute/virtualMachines/build-01");
        assert_eq!(
            detach("Microsoft.Compute/virtualMachines/build-01", "system-assigned"),
            format!("az vm identity remove --ids {vm} --identities '[system]'")
        );
        assert_eq!(
            detach("Microsoft.Compute/virtualMachines/build-01", &format!("user-assigned {UAMI}")),
            format!("az vm identity remove --ids {vm} --identities {UAMI}")
        );
        assert!(detach("Microsoft.Compute/virtualMachineScaleSets/agents", "system-assigned")
            .starts_with("az vmss identity remove --ids "));
        assert!(detach("Microsoft.Web/sites/api", "system-assigned").starts_with("az webapp identity remove --ids "));
        assert!(detach("Microsoft.App/containerApps/worker", &format!("user-assigned {UAMI}"))
            .ends_with(&format!("containerApps/worker --user-assigned {UAMI}")));
        assert!(detach("Microsoft.App/containerApps/worker", "system-assigned").ends_with(" --system-assigned"));
        // Any other type: the generic update, which removes every identity (the summary says so).
        let aa = format!("{RG}/providers/Microsoft.Automation/automationAccounts/ops");
        assert_eq!(
            detach("Microsoft.Automation/automationAccounts/ops", "system-assigned"),
            format!("az resource update --ids {aa} --remove identity")
        );
        assert!(detach_is_generic(&aa) && !detach_is_generic(&format!("{RG}/providers/Microsoft.Web/sites/api")));
    }

    #[test]
    fn detach_identity_refuses_what_it_cannot_name() {
        assert!(detach_identity("not an id", "system-assigned").is_err());
        assert!(detach_identity(&format!("{RG}/providers/Microsoft.Web/sites/a"), "user-assigned ../x").is_err());
        assert!(detach_identity(&format!("{RG}/providers/Microsoft.Web/sites/a"), "something else").is_err());
    }
}
