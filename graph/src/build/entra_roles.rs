//! Entra directory roles and Microsoft Graph application permissions, judged by what they allow.
//!
//! - A directory role definition (built-in or custom) is judged by its `allowedResourceActions` minus
//!   `excludedResourceActions` ([`Powers::of_role`]); a permission block with a `condition` (`$ResourceIsSelf`,
//!   `$SubjectIsOwner`) is left out: it reaches only what the holder owns, which the owner edges model.
//! - A tenant-wide assignment (`directoryScopeId` `/`) or PIM eligibility (flagged `eligible`) is a
//!   `HAS_DIRECTORY_ROLE` edge to the role's node, which carries the role's powers once for all its holders.
//!   An assignment scoped to one object (`/{objectId}`) gives its holder the powers over that object only; one
//!   scoped to an administrative unit (`/administrativeUnits/{id}`) gives them over the unit's direct members
//!   only (users it may reset, groups that are not role-assignable), through one hub per unit and set.
//! - Restricted management administrative units (`isMemberManagementRestricted`): per Microsoft, only
//!   administrators whose role is scoped to the unit may change its members; tenant-scoped roles, Global
//!   Administrator included, and the tenant-wide hubs they share with Graph permissions leave them out.
//!   (Whoever can assign roles can still scope one to the unit: tier zero is unchanged.)
//! - A Microsoft Graph application permission held by a service principal (an app role assignment whose
//!   resource is the Microsoft Graph service principal, resolved by app role id through that principal's
//!   `appRoles`, never by display name) is a `HAS_GRAPH_PERMISSION` edge to the permission's node.
//! - Powers: credentials update → every service principal (`CAN_MANAGE_CREDENTIALS`); role assignment write →
//!   Entra tier zero and "any directory role" → every directory role as assigned to oneself, with its other
//!   powers (`CAN_ASSIGN_DIRECTORY_ROLES`); group members update → every group
//!   that is not role-assignable (`CAN_MANAGE_MEMBERS`); password or authentication-method reset → the users
//!   Microsoft's rules allow (`CAN_RESET_PASSWORD`). Tenant-wide fan-outs go through one `EntraTargets` hub
//!   per set, so the graph grows with roles + objects.
//! - Global Administrator (by its template id: `elevateAccess` is not an `allowedResourceAction`) can elevate
//!   to User Access Administrator at the tenant root `/`: a `HAS_ROLE` edge from its role node to `/` whose
//!   grant says it needs the explicit, logged `elevateAccess` action, so Entra control reaches every
//!   subscription in the Azure queries.

use petgraph::graph::NodeIndex;
use rustc_hash::{FxHashMap, FxHashSet};

use super::identity::IdentityIndex;
use super::Builder;
use crate::graph::parse_guid;
use crate::graph::{EdgeData, EdgeNote, Grant, Guid, NodeKey, ELIGIBLE};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::{Caps, PermissionSet};
use crate::snapshot::{AppRoleAssignment, DirectoryRoleDefinition, Snapshot, Str};

/// Template id of Global Administrator: the one role that can call `elevateAccess`.
pub(crate) const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Template id of Privileged Authentication Administrator: with Global Administrator, the only roles that may
/// reset any user's password or authentication methods, administrators included.
const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const GUEST_INVITER: &str = "95e79109-95c0-4d8e-aee3-d01accf2d47b";
const PASSWORD_ADMINISTRATOR: &str = "966707d0-3269-4727-9be2-8c3a10f19b9d";
const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const AUTHENTICATION_ADMINISTRATOR: &str = "c4e39bd9-1100-46d3-8c65-fb160da0071f";
const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const GROUPS_ADMINISTRATOR: &str = "fdd7a751-b60b-444a-984c-02652fe8fa1c";
const MESSAGE_CENTER_READER: &str = "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b";
const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
const USAGE_SUMMARY_REPORTS_READER: &str = "75934031-6c7e-415a-99d7-48dbd49e875e";
/// Application id of Microsoft Graph in every tenant.
pub(crate) const MICROSOFT_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The Azure role `elevateAccess` grants at `/`.
const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";

/// Actions that let a holder add credentials to service principals directly.
const SP_CREDENTIALS: &[&str] = &["microsoft.directory/servicePrincipals/credentials/update"];
/// Actions that let a holder add credentials to applications (and so sign in as their service principals).
const APP_CREDENTIALS: &[&str] = &["microsoft.directory/applications/credentials/update"];
/// Actions that let a holder write directory-role assignments.
const ROLE_ASSIGNMENTS: &[&str] =
    &["microsoft.directory/roleAssignments/create", "microsoft.directory/roleAssignments/allProperties/update"];
/// Actions that let a holder change a group's members.
const GROUP_MEMBERS: &[&str] = &["microsoft.directory/groups/members/update"];
/// Actions that let a holder take over a user's sign-in.
const RESET: &[&str] =
    &["microsoft.directory/users/password/update", "microsoft.directory/users/authenticationMethods/create"];

/// Whose passwords a power may reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum Reset {
    /// None.
    #[default]
    Nobody,
    /// The users a lesser reset role may reset ([`Resetter::may_reset`]).
    As(Resetter),
    /// Every user, administrators included (Global Administrator, Privileged Authentication Administrator).
    Everyone,
}

/// The lesser password-reset roles of Microsoft's "Who can reset passwords" table
/// (<https://learn.microsoft.com/entra/identity/role-based-access-control/privileged-roles-permissions#who-can-reset-passwords>):
/// whose password each may reset depends on the directory roles the target holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Resetter {
    /// Password Administrator, and every custom role or Graph permission that resets (the narrowest column).
    Password,
    /// Helpdesk Administrator.
    Helpdesk,
    /// Authentication Administrator.
    Authentication,
    /// User Administrator.
    User,
}

impl Resetter {
    /// The reader roles (template ids) whose holders this role may reset, besides users with no role;
    /// [`Self::extra_roles`] adds the administrator roles of its column.
    fn resettable_roles(self) -> &'static [&'static str] {
        const READERS: &[&str] =
            &[DIRECTORY_READERS, GUEST_INVITER, MESSAGE_CENTER_READER, REPORTS_READER, USAGE_SUMMARY_REPORTS_READER];
        match self {
            Resetter::Password => &[DIRECTORY_READERS, GUEST_INVITER],
            Resetter::Helpdesk | Resetter::Authentication | Resetter::User => READERS,
        }
    }

    /// The roles a column resets besides [`Self::resettable_roles`].
    fn extra_roles(self) -> &'static [&'static str] {
        match self {
            Resetter::Password => &[PASSWORD_ADMINISTRATOR],
            Resetter::Helpdesk => &[PASSWORD_ADMINISTRATOR, HELPDESK_ADMINISTRATOR],
            Resetter::Authentication => &[PASSWORD_ADMINISTRATOR, AUTHENTICATION_ADMINISTRATOR],
            Resetter::User => {
                &[PASSWORD_ADMINISTRATOR, HELPDESK_ADMINISTRATOR, USER_ADMINISTRATOR, GROUPS_ADMINISTRATOR]
            }
        }
    }

    /// Whether this role may reset the password of a user holding `roles` (role definition ids, directly or
    /// through groups, active or eligible), who is (`in_role_group`) or is not a member or owner of a
    /// role-assignable group. Custom roles and roles the table does not list are never resettable by it.
    pub(crate) fn may_reset<'r>(self, mut roles: impl Iterator<Item = &'r str>, in_role_group: bool) -> bool {
        !in_role_group
            && roles.all(|r| {
                self.resettable_roles().iter().chain(self.extra_roles()).any(|x| x.eq_ignore_ascii_case(r.trim()))
            })
    }

    fn of_template(template: &str) -> Resetter {
        let is = |id: &str| template.eq_ignore_ascii_case(id);
        if is(HELPDESK_ADMINISTRATOR) {
            Resetter::Helpdesk
        } else if is(AUTHENTICATION_ADMINISTRATOR) {
            Resetter::Authentication
        } else if is(USER_ADMINISTRATOR) {
            Resetter::User
        } else {
            Resetter::Password
        }
    }
}

/// What an Entra grant (a directory role or a Graph permission) allows over the directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Powers {
    /// Add credentials to every service principal.
    pub sp_credentials: bool,
    /// Add credentials to every application (and so its service principal).
    pub app_credentials: bool,
    /// Write directory-role assignments (or grant itself a permission that does).
    pub assign_roles: bool,
    /// Change the members of groups that are not role-assignable.
    pub group_members: bool,
    /// Reset passwords or authentication methods.
    pub reset: Reset,
    /// Elevate to User Access Administrator at `/` (Global Administrator).
    pub elevate: bool,
}

impl Powers {
    /// Whether it allows anything modelled.
    pub fn any(self) -> bool {
        self != Powers::default()
    }

    /// Whether it controls the tenant: assigns directory roles or elevates.
    pub fn tier_zero(self) -> bool {
        self.assign_roles || self.elevate
    }

    /// The powers of a directory role definition, from its unconditional permission blocks.
    pub fn of_role(d: &DirectoryRoleDefinition) -> Powers {
        if d.is_enabled == Some(false) {
            return Powers::default();
        }
        let allows = |probes: &[&str]| {
            d.role_permissions.iter().filter(|p| p.condition.as_deref().is_none_or(|c| c.trim().is_empty())).any(|p| {
                probes.iter().any(|a| {
                    p.allowed_resource_actions.iter().any(|g| entra_action_matches(g, a))
                        && !p.excluded_resource_actions.iter().any(|x| entra_action_matches(x, a))
                })
            })
        };
        let template = d.template_id.as_deref().unwrap_or(&d.id);
        let is = |id: &str| template.eq_ignore_ascii_case(id) || d.id.eq_ignore_ascii_case(id);
        let reset = match allows(RESET) {
            false => Reset::Nobody,
            true if is(GLOBAL_ADMINISTRATOR) || is(PRIVILEGED_AUTHENTICATION_ADMINISTRATOR) => Reset::Everyone,
            true => Reset::As(Resetter::of_template(template)),
        };
        Powers {
            sp_credentials: allows(SP_CREDENTIALS),
            app_credentials: allows(APP_CREDENTIALS),
            assign_roles: allows(ROLE_ASSIGNMENTS),
            group_members: allows(GROUP_MEMBERS),
            reset,
            elevate: is(GLOBAL_ADMINISTRATOR),
        }
    }

    /// The powers of a Microsoft Graph application permission, by its value.
    pub fn of_graph_permission(value: &str) -> Powers {
        let mut p = Powers::default();
        match value {
            "RoleManagement.ReadWrite.Directory" | "AppRoleAssignment.ReadWrite.All" => p.assign_roles = true,
            "Application.ReadWrite.All" => p.sp_credentials = true,
            "Group.ReadWrite.All" | "GroupMember.ReadWrite.All" => p.group_members = true,
            "UserAuthenticationMethod.ReadWrite.All" => p.reset = Reset::As(Resetter::Password),
            _ => {}
        }
        p
    }
}

/// Microsoft Graph application permissions held by service principals that give some power: each app role
/// assignment whose resource is the Microsoft Graph service principal, with the permission's name resolved by
/// app role id against that service principal's `appRoles` (never by display name), and its powers.
pub(crate) fn graph_permission_grants(s: &Snapshot) -> Vec<(&AppRoleAssignment, &str, Powers)> {
    let e = &s.entra;
    let Some(graph_sp) = e
        .service_principals
        .iter()
        .find(|sp| sp.app_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(MICROSOFT_GRAPH_APP_ID)))
    else {
        return Vec::new();
    };
    let names: FxHashMap<String, &str> =
        graph_sp.app_roles.iter().filter_map(|r| Some((r.id.to_ascii_lowercase(), r.value.as_deref()?))).collect();
    e.app_role_assignments
        .iter()
        .filter(|a| a.resource_id.eq_ignore_ascii_case(&graph_sp.id))
        .filter(|a| a.principal_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("ServicePrincipal")))
        .filter_map(|a| {
            let value = *names.get(&a.app_role_id.to_ascii_lowercase())?;
            let powers = Powers::of_graph_permission(value);
            powers.any().then_some((a, value, powers))
        })
        .collect()
}

/// Whether an Entra resource action pattern covers `action` (case-insensitive): `allProperties` stands for any
/// property set (or none), `allTasks` for any task, and `*` is a wildcard within a segment or, as a whole
/// pattern such as `microsoft.directory/*`, across segments.
pub(crate) fn entra_action_matches(pattern: &str, action: &str) -> bool {
    if crate::rbac::action_matches(pattern, action) {
        return true;
    }
    let p: Vec<String> = pattern.split('/').map(str::to_ascii_lowercase).collect();
    let a: Vec<String> = action.split('/').map(str::to_ascii_lowercase).collect();
    segments_match(&p, &a)
}

fn segments_match(p: &[String], a: &[String]) -> bool {
    match (p.first().map(String::as_str), a.first()) {
        (None, None) => true,
        (Some("allproperties"), _) => segments_match(&p[1..], a) || (a.len() > 1 && segments_match(&p[1..], &a[1..])),
        (Some("alltasks"), Some(_)) => p.len() == 1 && a.len() == 1,
        (Some(x), Some(y)) => crate::rbac::action_matches(x, y) && segments_match(&p[1..], &a[1..]),
        _ => false,
    }
}

/// Runs the Entra roles part of the `entra` pass.
pub(super) fn add(b: &mut Builder, s: &Snapshot, identities: &IdentityIndex) {
    let mut ctx = Ctx::new(b, s, identities);
    ctx.roles();
    ctx.assignments();
    ctx.graph_permissions();
}

/// The hubs a tenant-wide power fans out through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Set {
    /// Every service principal that is not a managed identity.
    ServicePrincipals,
    /// The service principals of applications registered in this tenant.
    ApplicationPrincipals,
    /// Every group that is not role-assignable.
    Groups,
    /// Every user.
    Users,
    /// Users a lesser reset role may reset.
    Resettable(Resetter),
    /// Every directory role with powers: whoever can assign roles can assign itself any of them (a
    /// `DirectoryRole` node, not a hub: see [`Set::node_kind`]).
    DirectoryRoles,
}

impl Set {
    fn key(self) -> &'static str {
        match self {
            Set::ServicePrincipals => "entra/targets/service-principals",
            Set::ApplicationPrincipals => "entra/targets/application-service-principals",
            Set::Groups => "entra/targets/groups",
            Set::Users => "entra/targets/users",
            // The narrowest set keeps the key it had when every lesser role was treated alike.
            Set::Resettable(Resetter::Password) => "entra/targets/non-admin-users",
            Set::Resettable(Resetter::Helpdesk) => "entra/targets/resettable-by-helpdesk-administrator",
            Set::Resettable(Resetter::Authentication) => "entra/targets/resettable-by-authentication-administrator",
            Set::Resettable(Resetter::User) => "entra/targets/resettable-by-user-administrator",
            Set::DirectoryRoles => "directoryroles/any",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Set::ServicePrincipals => "every service principal",
            Set::ApplicationPrincipals => "every application registered in the tenant",
            Set::Groups => "every group that is not role-assignable",
            Set::Users => "every user",
            Set::Resettable(Resetter::Password) => "every user without an admin role",
            Set::Resettable(Resetter::Helpdesk) => "every user a Helpdesk Administrator may reset",
            Set::Resettable(Resetter::Authentication) => "every user an Authentication Administrator may reset",
            Set::Resettable(Resetter::User) => "every user a User Administrator may reset",
            Set::DirectoryRoles => "any directory role",
        }
    }

    /// The kind of the set's node: a hub, except for "any directory role", which stands for a role (the one
    /// its holder assigns itself) and is drawn and named in paths like one, so that the principals reaching
    /// it head their own findings and the plan cuts their grants.
    fn node_kind(self) -> NodeKind {
        match self {
            Set::DirectoryRoles => NodeKind::DirectoryRole,
            _ => NodeKind::EntraTargets,
        }
    }

    fn kind(self) -> EdgeKind {
        match self {
            Set::ServicePrincipals | Set::ApplicationPrincipals => EdgeKind::CanManageCredentials,
            Set::Groups => EdgeKind::CanManageMembers,
            Set::Users | Set::Resettable(_) => EdgeKind::CanResetPassword,
            Set::DirectoryRoles => EdgeKind::CanAssignDirectoryRoles,
        }
    }
}

/// A directory object a scoped assignment may name, by id.
enum Object {
    /// An application registration: its place in the snapshot's applications.
    Application(u32),
    /// A service principal.
    ServicePrincipal { managed_identity: bool },
    /// A group.
    Group { role_assignable: bool },
    /// A user.
    User,
}

/// The directory's objects by id, compared case-insensitively (GUIDs as numbers, other ids lower-cased); of
/// two with one id, the later listing's. Only the objects some assignment is scoped to are kept: they are all
/// that is asked for, and a map of every object (a million at the 1M tier) cost more than the rest of the
/// directory roles.
#[derive(Default)]
struct Objects {
    guids: FxHashMap<Guid, Object>,
    others: FxHashMap<String, Object>,
}

impl Objects {
    /// The objects of `s`'s listings whose ids are among `wanted` (ids as a scoped assignment gives them).
    fn new<'w>(s: &Snapshot, wanted: impl Iterator<Item = &'w str>) -> Objects {
        let (mut wanted_guids, mut wanted_others) = (FxHashSet::default(), FxHashSet::default());
        for id in wanted {
            match parse_guid(id) {
                Some(g) => wanted_guids.insert(g),
                None => wanted_others.insert(id.to_ascii_lowercase()),
            };
        }
        let e = &s.entra;
        let mut objects = Objects::default();
        let listed = e
            .users
            .iter()
            .map(|u| (u.id.as_str(), Object::User))
            .chain(
                e.groups
                    .iter()
                    .map(|g| (g.id.as_str(), Object::Group { role_assignable: g.is_assignable_to_role == Some(true) })),
            )
            .chain(e.service_principals.iter().map(|sp| {
                let managed_identity = is_managed_identity(sp.service_principal_type.as_deref());
                (sp.id.as_str(), Object::ServicePrincipal { managed_identity })
            }))
            .chain(e.applications.iter().enumerate().map(|(i, a)| (a.id.as_str(), Object::Application(i as u32))));
        for (id, object) in listed {
            match parse_guid(id) {
                Some(g) if wanted_guids.contains(&g) => {
                    objects.guids.insert(Guid::of(g), object);
                }
                Some(_) => {}
                None => {
                    let id = id.to_ascii_lowercase();
                    if wanted_others.contains(&id) {
                        objects.others.insert(id, object);
                    }
                }
            }
        }
        objects
    }

    fn get(&self, id: &str) -> Option<&Object> {
        match parse_guid(id) {
            Some(g) => self.guids.get(&Guid::of(g)),
            None => self.others.get(&id.to_ascii_lowercase()),
        }
    }
}

/// A role's powers but assigning roles: what it adds once its holder has assigned it to itself.
fn others(p: Powers) -> Powers {
    Powers { assign_roles: false, ..p }
}

/// The `directoryScopeId` prefix of an assignment scoped to an administrative unit (lower-case).
const UNIT_SCOPE: &str = "/administrativeunits/";

/// What an edge's note says about a scoped assignment.
struct Scoped<'n> {
    evidence: Vec<Str>,
    name: &'n str,
    pim: &'static str,
}

/// One object a scoped assignment or a set names.
struct Target {
    node: NodeIndex,
    kind: EdgeKind,
}

/// The roles part of the pass over one snapshot.
struct Ctx<'a> {
    b: &'a mut Builder,
    s: &'a Snapshot,
    identities: &'a IdentityIndex,
    /// Role definition id (lower-case) → (definition, powers).
    defs: FxHashMap<String, (&'a DirectoryRoleDefinition, Powers)>,
    /// Role definition id (lower-case) → its node (roles with powers only).
    role_nodes: FxHashMap<String, NodeIndex>,
    /// Role definition id (lower-case) → the node of the role as "any directory role" leads to it: its powers
    /// but assigning roles (roles with other powers only).
    self_assigned: FxHashMap<String, NodeIndex>,
    tier_zero: Option<NodeIndex>,
    /// Hubs by set and administrative unit (lower-case id; `None`: tenant-wide).
    hubs: FxHashMap<(Set, Option<String>), NodeIndex>,
    /// Administrative unit id (lower-case) → its direct members' ids (lower-case).
    unit_members: FxHashMap<String, FxHashSet<String>>,
    /// Ids (lower-case) of the members of restricted management administrative units.
    restricted: FxHashSet<String>,
    /// Object id (lower-case) → the directory role definition ids it holds (active or eligible, any scope).
    held: FxHashMap<String, Vec<String>>,
    /// Object ids (lower-case) of members and owners of role-assignable groups.
    in_role_groups: FxHashSet<String>,
    /// Directory objects by id (lower-case), for scoped assignments: made on first use (a tenant of a
    /// million objects with no role scoped to one object needs none).
    objects: std::cell::OnceCell<Objects>,
}

impl<'a> Ctx<'a> {
    fn new(b: &'a mut Builder, s: &'a Snapshot, identities: &'a IdentityIndex) -> Ctx<'a> {
        let e = &s.entra;
        let defs =
            e.directory_role_definitions.iter().map(|d| (d.id.to_ascii_lowercase(), (d, Powers::of_role(d)))).collect();
        let mut held: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let pairs = e.directory_role_assignments.iter().map(|a| (&a.principal_id, &a.role_definition_id)).chain(
            e.directory_role_eligibility_schedule_instances.iter().map(|a| (&a.principal_id, &a.role_definition_id)),
        );
        for (p, r) in pairs {
            held.entry(p.to_ascii_lowercase()).or_default().push(r.to_ascii_lowercase());
        }
        let role_groups: FxHashSet<String> = e
            .groups
            .iter()
            .filter(|g| g.is_assignable_to_role == Some(true))
            .map(|g| g.id.to_ascii_lowercase())
            .collect();
        let owners = e.groups.iter().filter(|g| g.is_assignable_to_role == Some(true)).flat_map(|g| g.owners.iter());
        let members = e
            .group_members
            .iter()
            .filter(|m| role_groups.contains(&m.group_id.to_ascii_lowercase()))
            .flat_map(|m| m.members.iter());
        let in_role_groups = owners.chain(members).map(|o| o.id.to_ascii_lowercase()).collect();
        let key = |id: &str| id.to_ascii_lowercase();
        let unit_members: FxHashMap<String, FxHashSet<String>> = e
            .administrative_unit_members
            .iter()
            .map(|u| (key(&u.administrative_unit_id), u.members.iter().map(|m| key(&m.id)).collect()))
            .collect();
        let restricted = super::entra::restricted_members(s);
        Ctx {
            b,
            s,
            identities,
            defs,
            role_nodes: FxHashMap::default(),
            self_assigned: FxHashMap::default(),
            tier_zero: None,
            hubs: FxHashMap::default(),
            unit_members,
            restricted,
            held,
            in_role_groups,
            objects: std::cell::OnceCell::new(),
        }
    }

    /// A node per role definition with powers, its edges to what it reaches, and tier zero's edge to it.
    fn roles(&mut self) {
        let mut defs: Vec<(String, &DirectoryRoleDefinition, Powers)> =
            self.defs.iter().filter(|(_, (_, p))| p.any()).map(|(k, (d, p))| (k.clone(), *d, *p)).collect();
        defs.sort_by(|a, b| a.0.cmp(&b.0));
        // Every node first: the every-directory-role hub fans out to all of them when first used.
        for (key, d, powers) in &defs {
            let name = d.display_name.clone().unwrap_or_else(|| d.id.clone());
            let node =
                self.b.node_for(NodeKey::Path(format!("directoryroles/{key}").into()), NodeKind::DirectoryRole, &name);
            self.role_nodes.insert(key.clone(), node);
            if others(*powers).any() {
                let key_path = NodeKey::Path(format!("directoryroles/any/{key}").into());
                let node = self.b.node_for(key_path, NodeKind::DirectoryRole, &format!("{name} (assigned to oneself)"));
                self.self_assigned.insert(key.clone(), node);
            }
        }
        for (key, d, powers) in defs {
            let node = self.role_nodes[&key];
            let name = self.b.node(node).name.to_string();
            self.fan_out(node, powers, &[d.id.as_str().into()], &format!("directory role {name}"));
            if powers.elevate {
                self.elevation(node, d);
            }
            if let Some(&node) = self.self_assigned.get(&key) {
                let what = format!("directory role {name}, once assigned to oneself,");
                self.fan_out(node, others(powers), &[d.id.as_str().into()], &what);
                if powers.elevate {
                    self.elevation(node, d);
                }
            }
        }
    }

    /// The Entra tier zero node: a sink (no edge leaves it), so no path runs through the tier-zero query's
    /// target; what tier zero leads to goes through the every-directory-role hub.
    fn tier_zero(&mut self) -> NodeIndex {
        if let Some(n) = self.tier_zero {
            return n;
        }
        let key = NodeKey::Path("entra/tier-zero".into());
        let n = self.b.node_for(key, NodeKind::EntraTierZero, "Entra tier zero (can assign any directory role)");
        self.tier_zero = Some(n);
        n
    }

    /// The edges from a grant's node (a role or a permission) to what its powers reach tenant-wide.
    fn fan_out(&mut self, from: NodeIndex, powers: Powers, evidence: &[Str], what: &str) {
        if powers.assign_roles {
            let tz = self.tier_zero();
            let note = EdgeNote {
                evidence: evidence.to_vec(),
                detail: format!("{what} can assign any directory role, Global Administrator included, to anyone"),
                label: "can assign directory roles".into(),
            };
            self.b.add_noted_edge(from, tz, EdgeKind::CanAssignDirectoryRoles, Caps::EMPTY, 0, note);
        }
        let mut sets = Vec::new();
        if powers.assign_roles {
            sets.push(Set::DirectoryRoles);
        }
        if powers.sp_credentials {
            sets.push(Set::ServicePrincipals);
        } else if powers.app_credentials {
            sets.push(Set::ApplicationPrincipals);
        }
        sets.extend(member_sets(powers));
        for set in sets {
            let hub = self.hub(set, None);
            let note = EdgeNote {
                evidence: evidence.to_vec(),
                detail: format!("{what} reaches {}: {}", set.name(), how(set.kind())),
                label: format!("{} ({})", label(set.kind()), set.name()).into(),
            };
            self.b.add_noted_edge(from, hub, set.kind(), Caps::EMPTY, 0, note);
        }
    }

    /// A set's hub, tenant-wide or in one administrative unit (`unit`, lower-case id), with its edges to
    /// every member (made on first use).
    fn hub(&mut self, set: Set, unit: Option<&str>) -> NodeIndex {
        let slot = (set, unit.map(str::to_string));
        if let Some(n) = self.hubs.get(&slot) {
            return *n;
        }
        let (key, name) = match unit {
            None => (set.key().to_string(), set.name().to_string()),
            Some(u) => {
                let tail = set.key().rsplit('/').next().unwrap_or_default();
                (
                    format!("entra/targets/administrative-units/{u}/{tail}"),
                    format!("{} in administrative unit {}", set.name(), self.unit_name(u)),
                )
            }
        };
        let hub = self.b.node_for(NodeKey::Path(key.into()), set.node_kind(), &name);
        self.hubs.insert(slot, hub);
        for (id, node) in self.members(set, unit) {
            let member = self.b.node(node).name.to_string();
            let note = EdgeNote {
                evidence: vec![id.into()],
                detail: format!("{member} is one of {name}: {}", how(set.kind())),
                label: label(set.kind()).into(),
            };
            self.b.add_noted_edge(hub, node, set.kind(), Caps::EMPTY, 0, note);
        }
        hub
    }

    /// An administrative unit's display name (its id when it has none or was not listed).
    fn unit_name(&self, unit: &str) -> String {
        let e = &self.s.entra;
        let found = e.administrative_units.iter().find(|u| u.id.eq_ignore_ascii_case(unit));
        found.and_then(|u| u.display_name.clone()).unwrap_or_else(|| unit.to_string())
    }

    /// Whether a user or group belongs to the reach of a hub: a direct member of `unit`, or, tenant-wide, no
    /// member of a restricted management unit.
    fn in_reach(&self, id: &str, unit: Option<&str>) -> bool {
        let id = id.to_ascii_lowercase();
        match unit {
            Some(u) => self.unit_members.get(u).is_some_and(|m| m.contains(&id)),
            None => !self.restricted.contains(&id),
        }
    }

    /// The members of a set, tenant-wide or in one administrative unit: (object id, node).
    fn members(&self, set: Set, unit: Option<&str>) -> Vec<(String, NodeIndex)> {
        let e = &self.s.entra;
        let find = |id: &str| self.b.lookup(&NodeKey::of(id));
        match set {
            Set::ServicePrincipals => e
                .service_principals
                .iter()
                .filter(|sp| !is_managed_identity(sp.service_principal_type.as_deref()))
                .filter_map(|sp| Some((sp.id.clone(), find(&sp.id)?)))
                .collect(),
            Set::ApplicationPrincipals => e
                .applications
                .iter()
                .filter_map(|a| Some((a.id.clone(), self.app_principal(a.app_id.as_deref())?)))
                .collect(),
            Set::Groups => e
                .groups
                .iter()
                .filter(|g| g.is_assignable_to_role != Some(true) && self.in_reach(&g.id, unit))
                .filter_map(|g| Some((g.id.clone(), find(&g.id)?)))
                .collect(),
            Set::Users | Set::Resettable(_) => e
                .users
                .iter()
                .filter(|u| self.in_reach(&u.id, unit))
                .filter_map(|u| Some((u.id.to_string(), find(&u.id)?)))
                .filter(|(_, n)| match set {
                    Set::Resettable(r) => self.may_reset(r, *n),
                    _ => true,
                })
                .collect(),
            Set::DirectoryRoles => {
                // Each role as its self-assigned node: its powers but assigning roles. Whoever reaches this
                // set reaches tier zero directly (the same power put it here), so a hop on to tier zero would
                // only be a detour ("… → any directory role → Global Administrator → tier zero"); roles whose
                // only power is assigning roles are left out altogether.
                let mut roles: Vec<(String, NodeIndex)> =
                    self.self_assigned.iter().map(|(k, n)| (self.defs[k].0.id.clone(), *n)).collect();
                roles.sort();
                roles
            }
        }
    }

    /// The service principal of an application id, in this tenant.
    fn app_principal(&self, app_id: Option<&str>) -> Option<NodeIndex> {
        app_id.and_then(|a| self.identities.by_client_id.get(&a.to_ascii_lowercase())).copied()
    }

    /// Whether a lesser reset role may reset this user: by the directory roles it holds (directly or through
    /// a group) and whether it is a member or owner of a role-assignable group.
    fn may_reset(&self, r: Resetter, user: NodeIndex) -> bool {
        let key = |n: NodeIndex| self.b.node(n).key.to_string();
        let mut holders = vec![key(user)];
        holders.extend(self.b.transitive_groups(user).into_iter().map(key));
        let in_role_group = holders.iter().any(|h| self.in_role_groups.contains(h));
        let roles = holders.iter().filter_map(|h| self.held.get(h)).flatten().map(String::as_str);
        r.may_reset(roles, in_role_group)
    }

    /// Global Administrator's `elevateAccess`: User Access Administrator at `/`, as a `HAS_ROLE` grant of the
    /// role's node. Not checked against the running pass (like `CONTAINS`): `HAS_ROLE` is the `azure` pass's,
    /// and this is the one Azure grant the directory implies.
    fn elevation(&mut self, role: NodeIndex, d: &DirectoryRoleDefinition) {
        let root = self.b.scope_node("/", None);
        let uaa = crate::builtin::role_definitions()
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(USER_ACCESS_ADMINISTRATOR))
            .map(|r| PermissionSet::new(r.properties.permissions.clone()).capabilities())
            .unwrap_or(Caps::EMPTY);
        let grant = Grant {
            // `remediation` recognizes the grant by this prefix.
            assignment_id: format!("elevateAccess/{}", d.id.to_ascii_lowercase()).into(),
            role_definition_id: format!("/providers/Microsoft.Authorization/roleDefinitions/{USER_ACCESS_ADMINISTRATOR}").into(),
            role_name: "User Access Administrator (through elevateAccess)".into(),
            scope: "/".into(),
            eligible: false,
            conditional: false,
            own_caps: uaa,
            delegated_caps: Caps::EMPTY,
            delegation: None,
            note: Some(
                "a Global Administrator gets it only by an explicit elevateAccess call, which the directory audit log records".into(),
            ),
            kube_data: 0,
        };
        let evidence = self.b.g.grants.len() as u32;
        self.b.g.grants.push(grant);
        let data = EdgeData { kind: EdgeKind::HasRole, caps: uaa, flags: 0, evidence };
        self.b.g.graph.add_edge(role, root, data);
    }

    /// Active assignments and PIM eligibilities: tenant-wide ones to the role's node, scoped ones to the object.
    fn assignments(&mut self) {
        let e = &self.s.entra;
        let active = e
            .directory_role_assignments
            .iter()
            .map(|a| (&a.id, &a.principal_id, &a.role_definition_id, a.directory_scope_id.as_deref(), false));
        let eligible = e
            .directory_role_eligibility_schedule_instances
            .iter()
            .map(|a| (&a.id, &a.principal_id, &a.role_definition_id, a.directory_scope_id.as_deref(), true));
        for (id, principal, role, scope, eligible) in active.chain(eligible) {
            let Some((d, powers)) = self.defs.get(&role.to_ascii_lowercase()).copied() else {
                if !e.directory_role_definitions.is_empty() {
                    self.b.warn(format!(
                        "directory role definition {role} of assignment {id} is unknown: it was not evaluated"
                    ));
                }
                continue;
            };
            if !powers.any() {
                continue;
            }
            let from = self.principal(principal);
            let flags = if eligible { ELIGIBLE } else { 0 };
            let name = d.display_name.clone().unwrap_or_else(|| d.id.clone());
            let pim = if eligible { " (PIM eligible: needs activation)" } else { "" };
            let evidence: Vec<Str> = vec![id.as_str().into(), d.id.as_str().into(), scope.unwrap_or("").trim().into()];
            match scope.map(str::trim) {
                Some("/") => {
                    let role_node = self.role_nodes[&role.to_ascii_lowercase()];
                    let note = EdgeNote {
                        evidence,
                        detail: format!("holds the directory role {name} over the whole tenant{pim}"),
                        label: if eligible { "holds role (PIM eligible)".into() } else { "holds role".into() },
                    };
                    self.b.add_noted_edge(from, role_node, EdgeKind::HasDirectoryRole, Caps::EMPTY, flags, note);
                }
                Some(s) if s.to_ascii_lowercase().starts_with(UNIT_SCOPE) => {
                    let unit = s[UNIT_SCOPE.len()..].trim_matches('/').to_ascii_lowercase();
                    self.unit_scoped(from, &unit, powers, flags, Scoped { evidence, name: &name, pim });
                }
                Some(s) => {
                    let object = s.trim_start_matches('/');
                    for t in self.scoped_targets(object, powers) {
                        let note = EdgeNote {
                            evidence: evidence.clone(),
                            detail: format!("holds {name} scoped to {object}{pim}: {}", how(t.kind)),
                            label: format!("{name} on this object: {}", label(t.kind)).into(),
                        };
                        self.b.add_noted_edge(from, t.node, t.kind, Caps::EMPTY, flags, note);
                    }
                }
                None => {}
            }
        }
    }

    /// An assignment scoped to an administrative unit: an edge to the unit's hub of each set its powers
    /// reach (users it may reset, groups that are not role-assignable; units hold no applications).
    fn unit_scoped(&mut self, from: NodeIndex, unit: &str, powers: Powers, flags: u8, a: Scoped<'_>) {
        for set in member_sets(powers) {
            if self.members(set, Some(unit)).is_empty() {
                continue;
            }
            let hub = self.hub(set, Some(unit));
            let unit_name = self.unit_name(unit);
            let note = EdgeNote {
                evidence: a.evidence.clone(),
                detail: format!(
                    "holds {} scoped to administrative unit {unit_name}{}: reaches {} in it: {}",
                    a.name,
                    a.pim,
                    set.name(),
                    how(set.kind())
                ),
                label: format!("{} in administrative unit: {}", a.name, label(set.kind())).into(),
            };
            self.b.add_noted_edge(from, hub, set.kind(), Caps::EMPTY, flags, note);
        }
    }

    /// The node of an assignment's principal (a placeholder when the directory did not list it).
    fn principal(&mut self, id: &str) -> NodeIndex {
        match self.b.lookup(&NodeKey::of(id)) {
            Some(n) => n,
            None => self.b.node_for(NodeKey::of(id), NodeKind::UnknownPrincipal, ""),
        }
    }

    /// The ids of the objects assignments are scoped to (as [`Ctx::assignments`] reads a scope; a unit's
    /// scope among them is never asked for).
    fn scoped_objects(&self) -> impl Iterator<Item = &'a str> {
        let e = &self.s.entra;
        let active = e.directory_role_assignments.iter().map(|a| a.directory_scope_id.as_deref());
        let eligible = e.directory_role_eligibility_schedule_instances.iter().map(|a| a.directory_scope_id.as_deref());
        active.chain(eligible).flatten().map(|s| s.trim().trim_start_matches('/'))
    }

    /// What a role scoped to one object reaches: its service principal (an application or a service
    /// principal), the group (not role-assignable), or the user (a non-admin unless the role resets anyone).
    fn scoped_targets(&self, object: &str, p: Powers) -> Vec<Target> {
        let find = |id: &str| self.b.lookup(&NodeKey::of(id));
        let target = |node: Option<NodeIndex>, kind: EdgeKind| node.map(|node| Target { node, kind });
        let found = match self.objects.get_or_init(|| Objects::new(self.s, self.scoped_objects())).get(object) {
            Some(Object::Application(i)) if p.app_credentials || p.sp_credentials => {
                let app_id = self.s.entra.applications[*i as usize].app_id.as_deref();
                target(self.app_principal(app_id), EdgeKind::CanManageCredentials)
            }
            Some(Object::ServicePrincipal { managed_identity: false }) if p.sp_credentials => {
                target(find(object), EdgeKind::CanManageCredentials)
            }
            Some(Object::Group { role_assignable: false }) if p.group_members => {
                target(find(object), EdgeKind::CanManageMembers)
            }
            Some(Object::User) if p.reset != Reset::Nobody => find(object)
                .filter(|n| match p.reset {
                    Reset::As(r) => self.may_reset(r, *n),
                    _ => true,
                })
                .map(|node| Target { node, kind: EdgeKind::CanResetPassword }),
            _ => None,
        };
        found.into_iter().collect()
    }

    /// Microsoft Graph application permissions held by service principals.
    fn graph_permissions(&mut self) {
        let mut nodes: FxHashMap<&str, NodeIndex> = FxHashMap::default();
        for (a, value, powers) in graph_permission_grants(self.s) {
            let node = match nodes.get(value) {
                Some(n) => *n,
                None => {
                    let key = NodeKey::Path(format!("graphpermissions/{}", value.to_ascii_lowercase()).into());
                    let n = self.b.node_for(key, NodeKind::GraphPermission, &format!("Microsoft Graph {value}"));
                    let what = format!("the Microsoft Graph application permission {value}");
                    let what = if value == "AppRoleAssignment.ReadWrite.All" {
                        format!("{what} (it can grant its holder RoleManagement.ReadWrite.Directory)")
                    } else {
                        what
                    };
                    self.fan_out(n, powers, &[a.app_role_id.as_str().into(), a.resource_id.as_str().into()], &what);
                    nodes.insert(value, n);
                    n
                }
            };
            let from = self.principal(&a.principal_id);
            let note = EdgeNote {
                evidence: vec![a.id.as_str().into(), a.app_role_id.as_str().into(), a.resource_id.as_str().into()],
                detail: format!(
                    "holds the Microsoft Graph application permission {value} (app role assignment {})",
                    a.id
                ),
                label: "holds Graph permission".into(),
            };
            self.b.add_noted_edge(from, node, EdgeKind::HasGraphPermission, Caps::EMPTY, 0, note);
        }
    }
}

fn is_managed_identity(t: Option<&str>) -> bool {
    t.is_some_and(|t| t.eq_ignore_ascii_case("ManagedIdentity"))
}

/// What an edge kind lets its holder do, in words.
fn how(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::CanManageCredentials => "can add a client secret or certificate and sign in as the service principal",
        EdgeKind::CanManageMembers => "can add members, itself included, and so hold the group's roles",
        EdgeKind::CanResetPassword => "can reset the password or add an authentication method and sign in as the user",
        _ => "can assign the role to itself and act with it",
    }
}

/// A short label per edge kind.
fn label(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::CanManageCredentials => "can add credential",
        EdgeKind::CanManageMembers => "can add member",
        EdgeKind::CanResetPassword => "can reset password",
        _ => "can assign directory roles",
    }
}

/// The sets of users and groups `powers` reach (what an administrative unit can hold): groups whose members
/// it may change, and the users whose passwords it may reset.
fn member_sets(powers: Powers) -> Vec<Set> {
    let mut sets = Vec::new();
    if powers.group_members {
        sets.push(Set::Groups);
    }
    match powers.reset {
        Reset::Everyone => sets.push(Set::Users),
        Reset::As(r) => sets.push(Set::Resettable(r)),
        Reset::Nobody => {}
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_actions_match_all_properties_all_tasks_and_wildcards() {
        let cred = "microsoft.directory/applications/credentials/update";
        assert!(entra_action_matches("microsoft.directory/applications/allProperties/allTasks", cred));
        assert!(entra_action_matches("microsoft.directory/applications/allProperties/update", cred));
        assert!(entra_action_matches("microsoft.directory/*", cred));
        assert!(entra_action_matches("Microsoft.Directory/Applications/Credentials/Update", cred));
        assert!(entra_action_matches(
            "microsoft.directory/roleAssignments/allProperties/allTasks",
            "microsoft.directory/roleAssignments/create"
        ));
        assert!(!entra_action_matches("microsoft.directory/applications/allProperties/read", cred));
        assert!(!entra_action_matches("microsoft.directory/servicePrincipals/allProperties/allTasks", cred));
        assert!(!entra_action_matches("microsoft.directory/applications/owners/update", cred));
    }

    /// Microsoft's "Who can reset passwords" table, one row per target (the role it holds), columns Password,
    /// Helpdesk, Authentication and User Administrator (Privileged Authentication and Global Administrator
    /// reset everyone: `Reset::Everyone`).
    #[test]
    fn lesser_reset_roles_follow_microsofts_table_row_by_row() {
        const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
        const CUSTOM: &str = "0bd5d7a8-0000-4000-8000-000000000001";
        let cols = [Resetter::Password, Resetter::Helpdesk, Resetter::Authentication, Resetter::User];
        let rows: [(&str, Option<&str>, [bool; 4]); 16] = [
            ("Auth Admin", Some(AUTHENTICATION_ADMINISTRATOR), [false, false, true, false]),
            ("Directory Readers", Some(DIRECTORY_READERS), [true, true, true, true]),
            ("Global Admin", Some(GLOBAL_ADMINISTRATOR), [false, false, false, false]),
            ("Groups Admin", Some(GROUPS_ADMINISTRATOR), [false, false, false, true]),
            ("Guest Inviter", Some(GUEST_INVITER), [true, true, true, true]),
            ("Helpdesk Admin", Some(HELPDESK_ADMINISTRATOR), [false, true, false, true]),
            ("Message Center Reader", Some(MESSAGE_CENTER_READER), [false, true, true, true]),
            ("Password Admin", Some(PASSWORD_ADMINISTRATOR), [true, true, true, true]),
            ("Privileged Auth Admin", Some(PRIVILEGED_AUTHENTICATION_ADMINISTRATOR), [false, false, false, false]),
            ("Privileged Role Admin", Some(PRIVILEGED_ROLE_ADMINISTRATOR), [false, false, false, false]),
            ("Reports Reader", Some(REPORTS_READER), [false, true, true, true]),
            ("User (no admin role)", None, [true, true, true, true]),
            ("User Admin", Some(USER_ADMINISTRATOR), [false, false, false, true]),
            ("Usage Summary Reports Reader", Some(USAGE_SUMMARY_REPORTS_READER), [false, true, true, true]),
            ("All custom roles", Some(CUSTOM), [false, false, false, false]),
            // Two roles: both must be resettable.
            ("Helpdesk + Groups Admin", Some(HELPDESK_ADMINISTRATOR), [false, false, false, true]),
        ];
        for (row, role, expected) in rows {
            let mut roles: Vec<&str> = role.into_iter().collect();
            if row.contains("Groups Admin") && row.contains('+') {
                roles.push(GROUPS_ADMINISTRATOR);
            }
            for (col, want) in cols.iter().zip(expected) {
                assert_eq!(col.may_reset(roles.iter().copied(), false), want, "{row} by {col:?}");
            }
        }
        // User (no admin role, but member or owner of a role-assignable group): none of them.
        for col in cols {
            assert!(!col.may_reset(std::iter::empty(), true), "{col:?}");
        }
    }

    #[test]
    fn each_reset_role_resets_as_its_column() {
        let role = |template: &str| DirectoryRoleDefinition {
            id: template.into(),
            template_id: Some(template.into()),
            role_permissions: vec![crate::snapshot::DirectoryRolePermission {
                allowed_resource_actions: vec!["microsoft.directory/users/password/update".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(Powers::of_role(&role(HELPDESK_ADMINISTRATOR)).reset, Reset::As(Resetter::Helpdesk));
        assert_eq!(Powers::of_role(&role(AUTHENTICATION_ADMINISTRATOR)).reset, Reset::As(Resetter::Authentication));
        assert_eq!(Powers::of_role(&role(USER_ADMINISTRATOR)).reset, Reset::As(Resetter::User));
        assert_eq!(Powers::of_role(&role(PASSWORD_ADMINISTRATOR)).reset, Reset::As(Resetter::Password));
        assert_eq!(Powers::of_role(&role(CUSTOM_RESETTER)).reset, Reset::As(Resetter::Password), "custom: narrowest");
        assert_eq!(Powers::of_role(&role(PRIVILEGED_AUTHENTICATION_ADMINISTRATOR)).reset, Reset::Everyone);
        assert_eq!(Powers::of_role(&role(GLOBAL_ADMINISTRATOR)).reset, Reset::Everyone);
    }

    const CUSTOM_RESETTER: &str = "0bd5d7a8-0000-4000-8000-000000000002";
}
