//! Per-object listings that start as soon as their objects are known, behind one probing request.
//!
//! PIM for Groups eligibility can only be listed group by group, and only for the groups where an eligible
//! member or owner gains something: a role-assignable group, or one that holds an Azure role, a directory
//! role or an app role. Which groups those are is learned piece by piece (the groups listing, each role
//! listing), so [`PimGroups`] asks for each group the moment it qualifies instead of after every listing
//! ended. The first request goes alone ([`Probe`]): when the caller lacks the permission (401/403), the others
//! are not sent, and one `tenant` gap says how many were skipped.

use std::collections::{BTreeMap, BTreeSet};

use azpath_graph::snapshot::{CoverageGap, GapReason, Group};

use super::{bad_name, safe_name, FetchError, Job, ObjectJob, Outcome, Records};

/// The state of a family of per-object listings whose first request probes the permission.
#[derive(Default)]
pub(super) enum Probe {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// The first request is out; these jobs wait for its answer.
    Probing(Vec<Job>),
    /// The first request was not refused: every later job starts at once.
    Open,
    /// The first request (its scope) was refused: later jobs are only counted.
    Refused {
        /// Why.
        error: FetchError,
        /// The scope of the refused request.
        first: String,
        /// Jobs not sent.
        skipped: usize,
    },
}

impl Probe {
    /// The jobs of `jobs` to start now: the first of all alone, then none until it is answered, then all
    /// unless it was refused.
    pub(super) fn offer(&mut self, mut jobs: Vec<Job>) -> Vec<Job> {
        match self {
            _ if jobs.is_empty() => Vec::new(),
            Probe::Idle => {
                let rest = jobs.split_off(1);
                *self = Probe::Probing(rest);
                jobs
            }
            Probe::Probing(waiting) => {
                waiting.extend(jobs);
                Vec::new()
            }
            Probe::Open => jobs,
            Probe::Refused { skipped, .. } => {
                *skipped += jobs.len();
                Vec::new()
            }
        }
    }

    /// Takes the answer of a request of this family: the first answer releases the waiting jobs, or, when it
    /// was refused (401/403), keeps them back for good.
    pub(super) fn answered(&mut self, outcome: &Outcome) -> Vec<Job> {
        let Probe::Probing(waiting) = self else { return Vec::new() };
        let waiting = std::mem::take(waiting);
        match outcome.error.as_ref().filter(|e| matches!(e.reason, GapReason::Forbidden | GapReason::Unauthorized)) {
            Some(e) => {
                let (error, first) = (e.clone(), outcome.scope.clone());
                *self = Probe::Refused { error, first, skipped: waiting.len() };
                Vec::new()
            }
            None => {
                *self = Probe::Open;
                waiting
            }
        }
    }

    /// The one `tenant` gap for the jobs not sent after a refusal, if any were held back (`what` names them).
    pub(super) fn skipped(&self, api: &'static str, what: &str) -> Option<Outcome> {
        let Probe::Refused { error, first, skipped } = self else { return None };
        (*skipped > 0).then(|| Outcome {
            api,
            scope: "tenant".into(),
            count: 0,
            records: Records::Skipped,
            error: Some(FetchError {
                reason: error.reason,
                status: error.status,
                message: format!(
                    "not requested for {skipped} more {what} after the first request was refused ({first})"
                ),
            }),
        })
    }
}

/// Which groups get a PIM for Groups eligibility listing, learned as the listings arrive.
#[derive(Default)]
pub(super) struct PimGroups {
    /// Groups listed that do not qualify yet: lower-cased id → id as listed.
    groups: BTreeMap<String, String>,
    /// Whether the groups listing has ended: then only `groups` is consulted and `holders` is no longer kept.
    groups_listed: bool,
    /// Principals holding an Azure, directory or app role, as far as listed, while the groups are not: on a
    /// 400k-user tenant that is hundreds of thousands of ids, so each is kept as 16 bytes.
    holders: BTreeSet<PrincipalKey>,
    /// Groups that qualified (lower-cased): each is asked (or counted as skipped) once.
    asked: BTreeSet<String>,
    /// The first request's answer.
    pub(super) probe: Probe,
}

/// The API name of the PIM for Groups listings.
pub(super) const API: &str = "graph.groupEligibilityScheduleInstances";

impl PimGroups {
    /// The groups listing ended: the role-assignable groups, and those already known to hold a role, qualify.
    pub(super) fn groups_listed(&mut self, groups: &[Group], gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
        let mut ids = Vec::new();
        for g in groups {
            if g.is_assignable_to_role == Some(true) || self.holders.contains(&PrincipalKey::of(&g.id)) {
                ids.push(g.id.clone());
            } else {
                self.groups.insert(g.id.to_ascii_lowercase(), g.id.clone());
            }
        }
        self.groups_listed = true;
        self.holders = BTreeSet::new();
        self.want(ids, gaps)
    }

    /// Principals holding a role were listed: those that are known groups qualify.
    pub(super) fn holders_listed<'a>(
        &mut self,
        principals: impl IntoIterator<Item = &'a str>,
        gaps: &mut Vec<CoverageGap>,
    ) -> Vec<Job> {
        let mut ids = Vec::new();
        for principal in principals {
            if !self.groups_listed {
                self.holders.insert(PrincipalKey::of(principal));
            } else if let Some(id) = self.groups.remove(&principal.to_ascii_lowercase()) {
                ids.push(id);
            }
        }
        self.want(ids, gaps)
    }

    /// The listings for groups that just qualified (a group id that cannot be a path is a gap instead).
    fn want(&mut self, ids: Vec<String>, gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
        let mut jobs = Vec::new();
        for id in ids {
            if !self.asked.insert(id.to_ascii_lowercase()) {
                continue;
            }
            if safe_name(&id) {
                jobs.push(Job::Object(ObjectJob::GroupEligibility { group_id: id }));
            } else {
                gaps.push(bad_name(API, &format!("/groups/{id}"), &id));
            }
        }
        self.probe.offer(jobs)
    }
}

/// A principal id as a set key: a GUID (what Entra object ids are) as its 128 bits, anything else lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PrincipalKey {
    Guid(u128),
    Other(Box<str>),
}

impl PrincipalKey {
    fn of(id: &str) -> PrincipalKey {
        let hex: String = id.chars().filter(|c| *c != '-').collect();
        let guid_shaped = id.len() == 36 && hex.len() == 32;
        match u128::from_str_radix(&hex, 16) {
            Ok(n) if guid_shaped && hex.bytes().all(|b| b.is_ascii_hexdigit()) => PrincipalKey::Guid(n),
            _ => PrincipalKey::Other(id.to_ascii_lowercase().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, assignable: bool) -> Group {
        serde_json::from_value(serde_json::json!({"id": id, "isAssignableToRole": assignable})).unwrap()
    }

    fn ids(jobs: &[Job]) -> Vec<&str> {
        jobs.iter()
            .map(|j| match j {
                Job::Object(ObjectJob::GroupEligibility { group_id }) => group_id.as_str(),
                _ => panic!("not a PIM for Groups job"),
            })
            .collect()
    }

    fn answer(scope: &str, error: Option<GapReason>) -> Outcome {
        Outcome {
            api: API,
            scope: scope.into(),
            count: 0,
            records: Records::GroupEligibility(Vec::new()),
            error: error.map(|reason| FetchError { reason, status: Some(403), message: "refused".into() }),
        }
    }

    #[test]
    fn a_group_is_asked_once_as_soon_as_it_qualifies_in_either_order() {
        let (mut pim, mut gaps) = (PimGroups::default(), Vec::new());
        // A role held by g2 before the groups are listed; g3 holds one only after.
        assert!(pim.holders_listed(["G2", "u1"], &mut gaps).is_empty());
        let groups = [group("g1", true), group("g2", false), group("g3", false), group("g4", false)];
        let first = pim.groups_listed(&groups, &mut gaps);
        assert_eq!(ids(&first), ["g1"], "the first request probes alone");
        assert!(pim.holders_listed(["g3", "g2"], &mut gaps).is_empty(), "waiting for the probe");
        assert_eq!(ids(&pim.probe.answered(&answer("/groups/g1", None))), ["g2", "g3"]);
        assert!(pim.holders_listed(["g3", "g9"], &mut gaps).is_empty(), "g3 is asked once; g9 is not a group");
        assert!(pim.probe.answered(&answer("/groups/g2", Some(GapReason::Forbidden))).is_empty());
        // g4 never held a role: never asked.
        assert_eq!(ids(&pim.holders_listed(["g4"], &mut gaps)), ["g4"], "until it does");
        assert!(gaps.is_empty() && pim.probe.skipped(API, "groups").is_none());
    }

    #[test]
    fn a_refused_probe_holds_back_every_later_group_and_counts_it() {
        let (mut pim, mut gaps) = (PimGroups::default(), Vec::new());
        let first = pim.groups_listed(&[group("g1", true), group("g2", true), group("g3", false)], &mut gaps);
        assert_eq!(ids(&first), ["g1"]);
        assert!(pim.probe.answered(&answer("/groups/g1", Some(GapReason::Forbidden))).is_empty());
        assert!(pim.holders_listed(["g3"], &mut gaps).is_empty(), "refused: not sent");
        let skipped = pim.probe.skipped(API, "groups").expect("a gap for the rest");
        let error = skipped.error.unwrap();
        assert_eq!((skipped.scope.as_str(), error.reason), ("tenant", GapReason::Forbidden));
        assert!(error.message.contains("not requested for 2 more groups") && error.message.contains("/groups/g1"));
    }

    #[test]
    fn principal_keys_ignore_case_and_keep_non_guids_apart() {
        let guid = "6F2A0C1E-0000-4000-8000-00000000000A";
        assert_eq!(PrincipalKey::of(guid), PrincipalKey::of(&guid.to_ascii_lowercase()));
        assert!(matches!(PrincipalKey::of(guid), PrincipalKey::Guid(_)));
        assert_eq!(PrincipalKey::of("G-Admins"), PrincipalKey::of("g-admins"));
        assert_ne!(PrincipalKey::of("6f2a0c1e00004000800000000000000a"), PrincipalKey::of(guid), "not GUID-shaped");
        assert_ne!(PrincipalKey::of("+f2a0c1e-0000-4000-8000-00000000000a"), PrincipalKey::of(guid));
    }

    #[test]
    fn a_group_id_that_cannot_be_a_path_is_a_gap() {
        let (mut pim, mut gaps) = (PimGroups::default(), Vec::new());
        assert!(pim.groups_listed(&[group("../x", true)], &mut gaps).is_empty());
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].api, API);
    }
}
