//! Posture checks: configuration facts a security engineer must see that are not escalation paths
//! (model.md, "Posture"; the seeds' identity and access practices).
//!
//! Each [`Check`] has a stable id (`AZP-AKS-001`), a default severity and general guidance; [`run`] reads a
//! [`Snapshot`] and reports each failing resource at most once per check, with the settings read as
//! evidence and the command that fixes it. Pure: no IO, and no clock (time-based checks compare dates with
//! the snapshot's `collected_at`, so a replayed snapshot gives the same findings).
//!
//! ```
//! use azpath_graph::posture;
//! use azpath_graph::snapshot::Snapshot;
//!
//! let snap: Snapshot = serde_json::from_str(r#"{"schema_version": 1, "metadata": {"collected_at": ""},
//!     "azure": {"managedClusters": [{
//!     "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks",
//!     "name": "aks", "properties": {"enableRBAC": true, "disableLocalAccounts": false,
//!     "aadProfile": {"managed": true, "enableAzureRBAC": true}}}]}}"#).unwrap();
//! let found = posture::run(&snap);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].check_id, "AZP-AKS-001");
//! assert!(found[0].remediation.command.as_deref().unwrap().contains("--disable-local-accounts"));
//! ```

mod aks;
mod aso;
mod azure;
mod entra;
mod kubernetes;

use crate::findings::{PostureFinding, QueryInfo, Remediation, ResourceRef};
use crate::model::Severity;
use crate::snapshot::Snapshot;

/// A posture check: what it looks at and how its findings are fixed in general.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Stable id, `AZP-<area>-<nnn>`: also the SARIF rule id and what `--query` selects.
    pub id: &'static str,
    /// One line.
    pub title: &'static str,
    /// Default severity (some findings are raised, e.g. a binding to `system:authenticated`).
    pub severity: Severity,
    /// What it checks and why it matters.
    pub description: &'static str,
    /// General guidance; each finding carries its own command.
    pub remediation: &'static str,
    /// Links.
    pub references: &'static [&'static str],
}

pub use aks::{
    AKS_LOCAL_ACCOUNTS, AKS_NO_AZURE_RBAC, AKS_NO_ENTRA, AKS_NO_KUBERNETES_RBAC, AKS_POD_IDENTITY,
    AKS_SERVICE_PRINCIPAL,
};
pub use aso::{ASO_CLIENT_SECRET, ASO_GLOBAL_CREDENTIAL, ASO_RELAXED_MODE, ASO_ROLE_ASSIGNMENT_CRD};
pub use azure::{AZ_DIRECT_PRIVILEGED_USERS, AZ_GUEST_PRIVILEGED};
pub use entra::{
    ENTRA_EXPIRED_CREDENTIAL, ENTRA_EXPIRING_CREDENTIAL, ENTRA_GRAPH_PERMISSION, ENTRA_LONG_LIVED_SECRET,
    ENTRA_OWNED_PRIVILEGED_APP, ENTRA_ROLE_GROUP_OWNERS, ENTRA_STANDING_DIRECTORY_ROLE,
};
pub use kubernetes::{K8S_BROAD_BINDING, K8S_CLUSTER_ADMIN, K8S_DEFAULT_SERVICE_ACCOUNT};

/// Every posture check, in report order.
pub const CHECKS: &[Check] = &[
    AKS_LOCAL_ACCOUNTS,
    AKS_NO_ENTRA,
    AKS_NO_AZURE_RBAC,
    AKS_NO_KUBERNETES_RBAC,
    AKS_SERVICE_PRINCIPAL,
    AKS_POD_IDENTITY,
    ASO_CLIENT_SECRET,
    ASO_GLOBAL_CREDENTIAL,
    ASO_ROLE_ASSIGNMENT_CRD,
    ASO_RELAXED_MODE,
    K8S_CLUSTER_ADMIN,
    K8S_BROAD_BINDING,
    K8S_DEFAULT_SERVICE_ACCOUNT,
    ENTRA_LONG_LIVED_SECRET,
    ENTRA_EXPIRED_CREDENTIAL,
    ENTRA_EXPIRING_CREDENTIAL,
    AZ_GUEST_PRIVILEGED,
    AZ_DIRECT_PRIVILEGED_USERS,
    ENTRA_STANDING_DIRECTORY_ROLE,
    ENTRA_GRAPH_PERMISSION,
    ENTRA_ROLE_GROUP_OWNERS,
    ENTRA_OWNED_PRIVILEGED_APP,
];

/// The check with this id (case-insensitive).
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id.eq_ignore_ascii_case(id))
}

impl Check {
    /// The check as described in a report.
    pub fn info(&self) -> QueryInfo {
        QueryInfo {
            id: self.id.to_string(),
            title: self.title.to_string(),
            severity: self.severity,
            description: self.description.to_string(),
            remediation: self.remediation.to_string(),
            references: self.references.iter().map(|r| r.to_string()).collect(),
            sources: Vec::new(),
        }
    }
}

/// Runs every posture check on the snapshot. Findings are sorted: severity (highest first), check id,
/// resource id.
pub fn run(snapshot: &Snapshot) -> Vec<PostureFinding> {
    run_on(snapshot, &crate::graph::PrivilegeGraph::build(snapshot))
}

/// [`run`] on the graph already built from `snapshot`: role assignments and group membership are read from it
/// (its role table, PIM status and assignable scopes), never re-derived.
pub fn run_on(snapshot: &Snapshot, graph: &crate::graph::PrivilegeGraph) -> Vec<PostureFinding> {
    let mut out = Vec::new();
    for mc in &snapshot.azure.managed_clusters {
        aks::cluster(mc, snapshot, &mut out);
    }
    kubernetes::run(snapshot, &mut out);
    entra::credentials(snapshot, days(&snapshot.metadata.collected_at), &mut out);
    azure::run(snapshot, graph, &mut out);
    entra::run(snapshot, graph, &mut out);
    sort(&mut out);
    out
}

/// Sorts posture findings: severity (highest first), check id, resource id.
pub fn sort(findings: &mut [PostureFinding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check_id.cmp(&b.check_id))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
    });
}

fn finding(
    check: &Check,
    resource: ResourceRef,
    detail: String,
    evidence: Vec<String>,
    summary: String,
    command: Option<String>,
) -> PostureFinding {
    finding_with(check, resource, detail, evidence, Remediation { summary, command })
}

fn finding_with(
    check: &Check,
    resource: ResourceRef,
    detail: String,
    evidence: Vec<String>,
    remediation: Remediation,
) -> PostureFinding {
    PostureFinding {
        check_id: check.id.to_string(),
        title: check.title.to_string(),
        severity: check.severity,
        resource,
        detail,
        evidence,
        remediation,
    }
}

fn resource(kind: &str, id: String, display_name: String) -> ResourceRef {
    ResourceRef { kind: kind.to_string(), id, display_name }
}

/// An object id as posture compares ids: a GUID by its number, anything else lower-cased. Two ids have the same
/// key exactly when they are equal ignoring ASCII case (a GUID has one spelling but for case), so a map by key
/// finds what `eq_ignore_ascii_case` would, with no lower-cased copy of each GUID made to look it up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IdKey {
    Guid(u128),
    Text(Box<str>),
}

impl IdKey {
    fn of(id: &str) -> IdKey {
        match crate::graph::parse_guid(id) {
            Some(g) => IdKey::Guid(g),
            None => IdKey::Text(id.to_ascii_lowercase().into_boxed_str()),
        }
    }
}

/// Days since 1970-01-01 of the date part of an RFC 3339 / ISO 8601 time; `None` when it is not one.
fn days(s: &str) -> Option<i64> {
    let d = s.trim().get(..10)?;
    let b = d.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || !d[..4].bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (y, m, dd): (i64, i64, i64) = (d[..4].parse().ok()?, d[5..7].parse().ok()?, d[8..10].parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    // days_from_civil (H. Hinnant): proleptic Gregorian.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + dd - 1;
    Some(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_counts_from_the_epoch_and_rejects_non_dates() {
        assert_eq!(days("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(days("2024-12-31T23:59:59.9999999Z").unwrap() - days("2024-01-01").unwrap(), 365);
        assert_eq!(days("9999-12-31T23:59:59Z").unwrap() - days("9999-01-01").unwrap(), 364);
        for bad in ["", "2024-13-01", "20240101", "soon", "2024-01-0x"] {
            assert_eq!(days(bad), None, "{bad}");
        }
    }

    #[test]
    fn id_keys_are_equal_exactly_when_the_ids_are_equal_ignoring_case() {
        let ids = [
            "0b5c2d9e-1f3a-4c6b-9d8e-7a6b5c4d3e2f",
            "0B5C2D9E-1F3A-4C6B-9D8E-7A6B5C4D3E2F",
            " 0b5c2d9e-1f3a-4c6b-9d8e-7a6b5c4d3e2f",
            "0b5c2d9e-1f3a-4c6b-9d8e-7a6b5c4d3e2e",
            "{0b5c2d9e-1f3a-4c6b-9d8e-7a6b5c4d3e2f}",
            "0b5c2d9e1f3a4c6b9d8e7a6b5c4d3e2f",
            "/Subscriptions/S",
            "/subscriptions/s",
            "",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(IdKey::of(a) == IdKey::of(b), a.eq_ignore_ascii_case(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn check_ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
        for c in CHECKS {
            let parts: Vec<&str> = c.id.split('-').collect();
            assert!(parts.len() == 3 && parts[0] == "AZP" && parts[2].len() == 3, "{}", c.id);
            assert!(!c.description.is_empty() && !c.remediation.is_empty() && !c.references.is_empty(), "{}", c.id);
        }
        assert_eq!(check("azp-aks-001").map(|c| c.id), Some("AZP-AKS-001"));
    }
}
