//! Microsoft Graph (v1.0) administrative units and their members.
//!
//! A directory role can be assigned at the scope of an administrative unit (`directoryScopeId`
//! `/administrativeUnits/{id}`): its holder then administers the unit's members only. The units come from one
//! tenant-wide listing ([`administrative_units_url`], with `isMemberManagementRestricted`, which marks a
//! restricted management unit whose members tenant-scoped administrators may not change); the members of each
//! unit from one listing per unit ([`administrative_unit_members_url`]), started as the units listing ends,
//! beside the other directory listings and through the same client (paging, pacing, retries, JSON batches).
//! The first member listing runs alone: if it is refused (401/403), the others are not requested and one gap
//! says how many were skipped, as for PIM for Groups. Devices are kept as Graph sends them and ignored by the
//! graph.
//!
//! Cost: one listing page per 999 units, plus one request per unit (tenants have tens to hundreds of units,
//! so a 50k-user tenant with 200 units pays about 200 requests).

use azpath_graph::snapshot::{AdministrativeUnit, CoverageGap};
use url::Url;

use super::msgraph::GRAPH_VERSION;
use super::{api_url, bad_name, safe_name, Job, ObjectJob};

/// The API name of the units listing in `sources[].api` and coverage gaps.
pub const UNITS_API: &str = "graph.administrativeUnits";
/// The API name of one unit's members listing.
pub const MEMBERS_API: &str = "graph.administrativeUnitMembers";
/// The Graph API names this module records, one per row of `docs/collection.md` (a test ties the two).
pub const APIS: &[&str] = &[UNITS_API, MEMBERS_API];

/// [List administrativeUnits](https://learn.microsoft.com/graph/api/directory-list-administrativeunits)
pub fn administrative_units_url(graph: &Url) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/directory/administrativeUnits"),
        "$select=id,displayName,isMemberManagementRestricted,membershipType&$top=999",
    )
}

/// [List members](https://learn.microsoft.com/graph/api/administrativeunit-list-members) of one
/// administrative unit (users, groups, devices; each with its `@odata.type`).
pub fn administrative_unit_members_url(graph: &Url, unit_id: &str) -> Url {
    api_url(
        graph,
        &format!("{GRAPH_VERSION}/directory/administrativeUnits/{unit_id}/members"),
        "$select=id,displayName&$top=999",
    )
}

/// The members listing of each unit of a units page (a unit id that cannot be a path is a gap instead).
pub(super) fn member_jobs(units: &[AdministrativeUnit], gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
    let mut jobs = Vec::new();
    for unit in units {
        if safe_name(&unit.id) {
            jobs.push(Job::Object(ObjectJob::UnitMembers { unit_id: unit.id.clone() }));
        } else {
            gaps.push(bad_name(MEMBERS_API, &scope(&unit.id), &unit.id));
        }
    }
    jobs
}

/// The scope recorded for one unit's members listing.
pub(super) fn scope(id: &str) -> String {
    format!("/administrativeUnits/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_what_the_graph_needs() {
        let base = Url::parse("https://graph.microsoft.com/").unwrap();
        let units = administrative_units_url(&base).to_string();
        assert!(units.starts_with("https://graph.microsoft.com/v1.0/directory/administrativeUnits?"), "{units}");
        assert!(units.contains("isMemberManagementRestricted"), "{units}");
        let members = administrative_unit_members_url(&base, "au-1").to_string();
        assert!(members.starts_with("https://graph.microsoft.com/v1.0/directory/administrativeUnits/au-1/members?"));
    }
}
