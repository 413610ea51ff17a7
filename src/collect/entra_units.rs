//! Microsoft Graph (v1.0) administrative units and their members.
//!
//! A directory role can be assigned at the scope of an administrative unit (`directoryScopeId`
//! `/administrativeUnits/{id}`): its holder then administers the unit's members only. The units come from one
//! tenant-wide listing ([`administrative_units_url`], with `isMemberManagementRestricted`, which marks a
//! restricted management unit whose members tenant-scoped administrators may not change); the members of each
//! unit from one listing per unit ([`administrative_unit_members_url`]), after the directory listings, run
//! through the same client (paging, pacing, retries) as every other listing. The first member listing runs
//! alone: if it is refused (401/403), the others are not requested and one gap says how many were skipped, as
//! for PIM for Groups. Devices are kept as Graph sends them and ignored by the graph.
//!
//! Cost: one listing page per 999 units, plus one request per unit (tenants have tens to hundreds of units,
//! so a 50k-user tenant with 200 units pays about 200 requests).

use azpath_graph::snapshot::{AdministrativeUnit, AdministrativeUnitMembers, DirectoryObject, GapReason, Snapshot};
use futures::stream::{self, StreamExt};
use url::Url;

use super::msgraph::GRAPH_VERSION;
use super::{api_url, bad_name, record, safe_name, Ctx, FetchError, Listing};

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

/// Lists the administrative units and the members of each into `snap`, with their sources or gaps.
pub(super) async fn collect(ctx: &Ctx<'_>, snap: &mut Snapshot) {
    let listing: Listing<AdministrativeUnit> =
        ctx.client.list(&ctx.graph, administrative_units_url(&ctx.graph.base)).await;
    let count = listing.items.len();
    let mut ids = Vec::new();
    for unit in &listing.items {
        if safe_name(&unit.id) {
            ids.push(unit.id.clone());
        } else {
            snap.coverage.push(bad_name(MEMBERS_API, &scope(&unit.id), &unit.id));
        }
    }
    snap.entra.administrative_units.extend(listing.items);
    record(snap, UNITS_API, "tenant", count, listing.error);
    let mut rest = ids.into_iter();
    let Some(first) = rest.next() else { return };
    let refused = members(ctx, snap, first).await;
    let rest: Vec<String> = rest.collect();
    match refused {
        Some(e) if !rest.is_empty() => {
            let message = format!(
                "not requested for {} more administrative units after the first request was refused",
                rest.len()
            );
            record(snap, MEMBERS_API, "tenant", 0, Some(FetchError { message, ..e }));
        }
        _ => {
            let listings: Vec<(String, Listing<DirectoryObject>)> = stream::iter(rest)
                .map(|id| async move {
                    let url = administrative_unit_members_url(&ctx.graph.base, &id);
                    (id, ctx.client.list(&ctx.graph, url).await)
                })
                .buffer_unordered(ctx.concurrency)
                .collect()
                .await;
            for (id, listing) in listings {
                absorb(snap, id, listing);
            }
        }
    }
}

/// Lists one unit's members into `snap`; the error when the request was refused (401/403).
async fn members(ctx: &Ctx<'_>, snap: &mut Snapshot, id: String) -> Option<FetchError> {
    let listing = ctx.client.list(&ctx.graph, administrative_unit_members_url(&ctx.graph.base, &id)).await;
    let refused = listing
        .error
        .as_ref()
        .filter(|e| matches!(e.reason, GapReason::Forbidden | GapReason::Unauthorized))
        .map(|e| FetchError { reason: e.reason, status: e.status, message: e.message.clone() });
    absorb(snap, id, listing);
    refused
}

/// Adds one unit's members (what was read, even when the listing failed part-way) and its source or gap.
fn absorb(snap: &mut Snapshot, id: String, listing: Listing<DirectoryObject>) {
    let count = listing.items.len();
    let scope = scope(&id);
    snap.entra
        .administrative_unit_members
        .push(AdministrativeUnitMembers { administrative_unit_id: id, members: listing.items });
    record(snap, MEMBERS_API, &scope, count, listing.error);
}

fn scope(id: &str) -> String {
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
