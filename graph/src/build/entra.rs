//! Entra control-plane edges: who controls an application, a service principal or a group without holding
//! any of its roles.
//!
//! - An owner of an application can add a password or certificate to it and sign in as its service principal
//!   in this tenant (`CAN_ADD_CREDENTIAL`, application owner → service principal).
//! - An owner of a service principal can add credentials to it directly (`CAN_ADD_CREDENTIAL`).
//! - An owner of a group can add members, itself included, and so gains the group's roles
//!   (`CAN_ADD_MEMBER`). That holds for role-assignable groups too: their owners are exactly the people
//!   Microsoft's guidance asks to keep to a minimum. It does not hold for a group in a restricted management
//!   administrative unit: Microsoft blocks its owners from changing its members or owners
//!   (learn.microsoft.com/entra/identity/role-based-access-control/admin-units-restricted-management).
//!
//! Directory roles and Microsoft Graph application permissions are judged by what they allow in
//! [`super::entra_roles`], run by this pass after the owners.

use super::identity::IdentityIndex;
use super::Builder;
use crate::graph::{EdgeNote, NodeKey, ELIGIBLE};
use crate::model::{EdgeKind, NodeKind};
use crate::rbac::Caps;
use crate::snapshot::{DirectoryObject, Snapshot};

use petgraph::graph::NodeIndex;
use rustc_hash::{FxHashMap, FxHashSet};

/// Ids (lower-case) of the members of restricted management administrative units (`isMemberManagementRestricted`):
/// only administrators scoped to such a unit may change them; tenant-scoped roles, Microsoft Graph application
/// permissions and the owners of a member group may not.
pub(super) fn restricted_members(s: &Snapshot) -> FxHashSet<String> {
    let e = &s.entra;
    let members: FxHashMap<String, &Vec<DirectoryObject>> = e
        .administrative_unit_members
        .iter()
        .map(|u| (u.administrative_unit_id.to_ascii_lowercase(), &u.members))
        .collect();
    e.administrative_units
        .iter()
        .filter(|u| u.is_member_management_restricted == Some(true))
        .filter_map(|u| members.get(&u.id.to_ascii_lowercase()))
        .flat_map(|m| m.iter().map(|o| o.id.to_ascii_lowercase()))
        .collect()
}

/// The edge kinds this pass adds.
pub(super) const EMITS: &[EdgeKind] = &[
    EdgeKind::CanAddCredential,
    EdgeKind::CanAddMember,
    EdgeKind::HasDirectoryRole,
    EdgeKind::HasGraphPermission,
    EdgeKind::CanManageCredentials,
    EdgeKind::CanAssignDirectoryRoles,
    EdgeKind::CanManageMembers,
    EdgeKind::CanResetPassword,
];

/// Runs the pass (after `identities`, whose index maps an application to its service principal).
pub(super) fn run(b: &mut Builder, snapshot: &Snapshot, shared: &mut super::Shared) {
    b.add_entra_owners(snapshot, &shared.identities);
    b.add_eligible_owners(snapshot);
    super::entra_roles::add(b, snapshot, &shared.identities);
}

impl Builder {
    /// Adds the owner edges of applications, service principals and groups; `identities` maps an application
    /// id to its service principal in this tenant.
    pub(crate) fn add_entra_owners(&mut self, s: &Snapshot, identities: &IdentityIndex) {
        let e = &s.entra;
        for app in e.applications.iter().filter(|a| !a.owners.is_empty()) {
            let Some(&sp) = app.app_id.as_deref().and_then(|a| identities.by_client_id.get(&a.to_ascii_lowercase()))
            else {
                // No service principal in this tenant: the application signs in nowhere here.
                continue;
            };
            let name = app.display_name.as_deref().unwrap_or(&app.id);
            let detail = format!(
                "owner of application {name} ({}): can add a client secret or certificate and sign in as its service principal",
                app.id
            );
            self.add_owner_edges(
                &app.owners,
                &app.id,
                sp,
                EdgeKind::CanAddCredential,
                &detail,
                "owns app: can add credential",
            );
        }
        for sp in e.service_principals.iter().filter(|sp| !sp.owners.is_empty()) {
            let Some(target) = self.lookup(&NodeKey::of(&sp.id)) else { continue };
            let name = sp.display_name.as_deref().unwrap_or(&sp.id);
            let detail = format!(
                "owner of service principal {name} ({}): can add a client secret or certificate to it and sign in as it",
                sp.id
            );
            self.add_owner_edges(
                &sp.owners,
                &sp.id,
                target,
                EdgeKind::CanAddCredential,
                &detail,
                "owns SP: can add credential",
            );
        }
        let restricted = restricted_members(s);
        // (Objects without owners have no edges to add: their details are not written.)
        let owned = e.groups.iter().filter(|g| !g.owners.is_empty());
        for g in owned.filter(|g| restricted.is_empty() || !restricted.contains(&g.id.to_ascii_lowercase())) {
            let Some(group) = self.lookup(&NodeKey::of(&g.id)) else { continue };
            let name = g.display_name.as_deref().unwrap_or(&g.id);
            let dynamic = g.group_types.iter().any(|t| t.eq_ignore_ascii_case("DynamicMembership"));
            let how = if dynamic {
                "can change its dynamic membership rule to include itself"
            } else {
                "can add members, itself included"
            };
            let detail = format!("owner of group {name} ({}): {how}, and so holds the group's roles", g.id);
            self.add_owner_edges(
                &g.owners,
                &g.id,
                group,
                EdgeKind::CanAddMember,
                &detail,
                "owns group: can add member",
            );
        }
    }

    /// PIM for Groups: a principal eligible to become an owner of a group (an instance in force at collection
    /// time) can add members once it activates: `CAN_ADD_MEMBER` flagged eligible; evidence: the group, the
    /// principal, the instance.
    fn add_eligible_owners(&mut self, s: &Snapshot) {
        let restricted = restricted_members(s);
        for i in group_eligibilities(s, "owner").filter(|i| !restricted.contains(&i.group_id.to_ascii_lowercase())) {
            let Some(group) = self.lookup(&NodeKey::of(&i.group_id)) else { continue };
            let from = match self.lookup(&NodeKey::of(&i.principal_id)) {
                Some(n) => n,
                None => self.node_for(NodeKey::of(&i.principal_id), NodeKind::UnknownPrincipal, ""),
            };
            let name = self.node(group).name.to_string();
            let note = EdgeNote {
                evidence: vec![i.group_id.as_str().into(), i.principal_id.as_str().into(), i.id.as_str().into()],
                detail: format!(
                    "eligible owner of group {name} ({}) through PIM for Groups (instance {}; needs activation): can add members, itself included, and so holds the group's roles",
                    i.group_id, i.id
                ),
                label: "eligible group owner (PIM): can add member".into(),
            };
            self.add_noted_edge(from, group, EdgeKind::CanAddMember, Caps::EMPTY, ELIGIBLE, note);
        }
    }

    /// One edge per owner of `object` into `target`; evidence: the owned object's id, then the owner's.
    fn add_owner_edges(
        &mut self,
        owners: &[DirectoryObject],
        object: &str,
        target: NodeIndex,
        kind: EdgeKind,
        detail: &str,
        label: &str,
    ) {
        for owner in owners {
            let from = self.node_for(
                NodeKey::of(&owner.id),
                directory_kind(owner),
                owner.display_name.as_deref().unwrap_or(""),
            );
            let note = EdgeNote {
                evidence: vec![object.into(), owner.id.as_str().into()],
                detail: detail.to_string(),
                label: label.into(),
            };
            self.add_noted_edge(from, target, kind, Caps::EMPTY, 0, note);
        }
    }
}

/// The node kind of a directory object reference, from its `@odata.type` (or the properties that imply it).
pub(crate) fn directory_kind(o: &DirectoryObject) -> NodeKind {
    let is = |t: &str, name: &str| t.eq_ignore_ascii_case(name);
    match o.odata_type.as_deref().map(|t| t.trim_start_matches('#')) {
        Some(t) if is(t, "microsoft.graph.user") => NodeKind::User,
        Some(t) if is(t, "microsoft.graph.group") => NodeKind::Group,
        Some(t) if is(t, "microsoft.graph.serviceprincipal") => NodeKind::ServicePrincipal,
        _ if o.user_principal_name.is_some() => NodeKind::User,
        _ if o.app_id.is_some() => NodeKind::ServicePrincipal,
        _ => NodeKind::UnknownPrincipal,
    }
}

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 time (`2026-01-01T00:00:00Z`, fractions and `±hh:mm`
/// offsets allowed, a bare date read as midnight UTC); `None` when it is not one.
pub(crate) fn epoch_seconds(s: &str) -> Option<i64> {
    let s = s.trim();
    let d = s.get(..10)?;
    let b = d.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || !d.bytes().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
        return None;
    }
    let (y, m, dd): (i64, i64, i64) = (d[..4].parse().ok()?, d[5..7].parse().ok()?, d[8..10].parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    // days_from_civil (H. Hinnant): proleptic Gregorian.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + dd - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(days * 86_400);
    }
    let t = rest.strip_prefix(['T', 't', ' '])?;
    let num = |a: usize, b: usize| {
        t.get(a..b).filter(|x| x.bytes().all(|c| c.is_ascii_digit())).and_then(|x| x.parse::<i64>().ok())
    };
    let (hh, mm, ss) = (num(0, 2)?, num(3, 5)?, num(6, 8)?);
    if t.as_bytes().get(2) != Some(&b':') || t.as_bytes().get(5) != Some(&b':') || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let zone = t[8..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match zone {
        "" | "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let (h, mi): (i64, i64) = (z[1..3].parse().ok()?, z[4..6].parse().ok()?);
            let o = h * 3600 + mi * 60;
            if z.starts_with('+') {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// Whether a PIM schedule instance is in force at `now` (the snapshot's `collected_at`): started (or no start)
/// and not ended (no end: permanent). An unreadable `now` judges nothing by date; an unreadable start or end
/// closes the window (a malformed record never widens a grant).
pub(crate) fn pim_window_open(start: Option<&str>, end: Option<&str>, now: &str) -> bool {
    let Some(now) = epoch_seconds(now) else { return true };
    let before = |t: Option<&str>, ok: &dyn Fn(i64) -> bool| match t.map(str::trim).filter(|t| !t.is_empty()) {
        None => true,
        Some(t) => epoch_seconds(t).is_some_and(ok),
    };
    before(start, &|s| s <= now) && before(end, &|e| now < e)
}

/// The PIM for Groups eligibilities in force at collection time with this `accessId` (`member` or `owner`).
pub(crate) fn group_eligibilities<'s>(
    s: &'s Snapshot,
    access: &'static str,
) -> impl Iterator<Item = &'s crate::snapshot::GroupEligibilityScheduleInstance> + 's {
    let now = s.metadata.collected_at.as_str();
    s.entra.group_eligibility_schedule_instances.iter().filter(move |i| {
        i.access_id.as_deref().is_some_and(|a| a.trim().eq_ignore_ascii_case(access))
            && pim_window_open(i.start_date_time.as_deref(), i.end_date_time.as_deref(), now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_reads_rfc3339_and_rejects_the_rest() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("1970-01-02"), Some(86_400));
        assert_eq!(epoch_seconds("1970-01-01T01:00:00.5+01:00"), Some(0));
        assert_eq!(epoch_seconds("2026-12-06T11:37:25.1234567Z"), Some(1_796_557_045));
        for bad in
            ["", "soon", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00Z", "2026-01-01T00:00:00+0100", "2026-01-01X"]
        {
            assert_eq!(epoch_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pim_window_is_open_between_its_start_and_its_end() {
        let now = "2026-06-01T12:00:00Z";
        assert!(pim_window_open(None, None, now));
        assert!(pim_window_open(Some("2026-01-01T00:00:00Z"), Some("2027-01-01T00:00:00Z"), now));
        assert!(!pim_window_open(Some("2026-01-01T00:00:00Z"), Some("2026-06-01T12:00:00Z"), now), "ended");
        assert!(!pim_window_open(Some("2026-07-01T00:00:00Z"), None, now), "not started");
        assert!(!pim_window_open(None, Some("garbage"), now), "unreadable end closes it");
        assert!(pim_window_open(None, Some("2020-01-01T00:00:00Z"), ""), "no collection time: not judged");
    }
}
