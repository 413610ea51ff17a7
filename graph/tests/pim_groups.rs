//! PIM for Groups: a principal eligible to become a member (or owner) of a group reaches what the group holds
//! through a `MEMBER_OF` (or `CAN_ADD_MEMBER`) edge flagged eligible, only for eligibilities in force at
//! collection time (started, not ended); decoys: an expired one, one not started yet, one with no access id.

mod common;

use azpath_graph::engine::AnalyzeOptions;
use azpath_graph::findings::Pair;
use azpath_graph::model::EdgeKind;
use azpath_graph::query::Query;
use azpath_graph::snapshot::Snapshot;
use serde_json::{json, Value};

const SUB: &str = "11111111-0000-0000-0000-000000000001";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const ADMINS: &str = "bbbbbbbb-0000-0000-0000-00000000000a";
const MEMBER: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const OWNER_ELIGIBLE: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const EXPIRED: &str = "aaaaaaaa-0000-0000-0000-000000000003";
const NOT_YET: &str = "aaaaaaaa-0000-0000-0000-000000000004";
const NO_ACCESS: &str = "aaaaaaaa-0000-0000-0000-000000000005";

fn queries() -> Vec<Query> {
    let text = include_str!("../../queries/owner-equivalent-on-subscription.toml");
    vec![Query::parse(text, "owner-equivalent-on-subscription").unwrap()]
}

fn eligibility(n: u32, principal: &str, access: Option<&str>, start: &str, end: Option<&str>) -> Value {
    json!({"id": format!("ge-{n}"), "groupId": ADMINS, "principalId": principal, "accessId": access,
           "memberType": "direct", "startDateTime": start, "endDateTime": end})
}

fn tenant() -> Snapshot {
    let sub = format!("/subscriptions/{SUB}");
    let users: Vec<Value> =
        [MEMBER, OWNER_ELIGIBLE, EXPIRED, NOT_YET, NO_ACCESS].map(|id| json!({"id": id, "displayName": id})).into();
    let s = json!({
        "schema_version": 1,
        "metadata": {"tool_version": "test", "collected_at": "2026-12-01T00:00:00Z", "cloud": "public"},
        "azure": {
            "subscriptions": [{"id": sub, "subscriptionId": SUB, "displayName": "Prod"}],
            "roleAssignments": [{
                "id": format!("{sub}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000001"),
                "properties": {"scope": sub, "principalId": ADMINS, "principalType": "Group",
                    "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")}
            }]
        },
        "entra": {
            "users": users,
            "groups": [{"id": ADMINS, "displayName": "sub-admins", "securityEnabled": true, "isAssignableToRole": true}],
            "groupEligibilityScheduleInstances": [
                eligibility(1, MEMBER, Some("member"), "2026-01-01T00:00:00Z", Some("2027-01-01T00:00:00Z")),
                eligibility(2, OWNER_ELIGIBLE, Some("owner"), "2026-01-01T00:00:00Z", None),
                eligibility(3, EXPIRED, Some("member"), "2025-01-01T00:00:00Z", Some("2026-11-30T23:59:59Z")),
                eligibility(4, NOT_YET, Some("owner"), "2026-12-02T00:00:00Z", None),
                eligibility(5, NO_ACCESS, None, "2026-01-01T00:00:00Z", None)
            ]
        }
    });
    Snapshot::from_json(&s.to_string(), "test").unwrap()
}

fn pairs(include_eligible: bool) -> Vec<Pair> {
    common::pairs(&tenant(), &queries(), AnalyzeOptions { include_eligible, ..Default::default() })
}

fn from<'a>(p: &'a [Pair], source: &str) -> Option<&'a Pair> {
    p.iter().find(|x| x.source.id == source)
}

#[test]
fn an_eligible_member_reaches_the_groups_role_after_activation() {
    let p = pairs(true);
    let found = from(&p, MEMBER).expect("eligible member reaches Owner");
    let edges: Vec<(EdgeKind, bool)> = found.hops.iter().map(|h| (h.edge, h.eligible)).collect();
    assert_eq!(edges, [(EdgeKind::MemberOf, true), (EdgeKind::HasRole, false)]);
    assert!(found.eligible);
    let command = found.remediation.command.as_deref().unwrap_or_default();
    assert!(
        command.contains("identityGovernance/privilegedAccess/group/eligibilityScheduleRequests")
            && command.contains(r#""accessId":"member""#)
            && command.contains(MEMBER),
        "{command}"
    );
    // Without eligible paths, nothing.
    assert!(from(&pairs(false), MEMBER).is_none());
}

#[test]
fn an_eligible_owner_can_add_itself_after_activation() {
    let p = pairs(true);
    let found = from(&p, OWNER_ELIGIBLE).expect("eligible owner reaches Owner");
    assert_eq!(found.hops[0].edge, EdgeKind::CanAddMember);
    assert!(found.hops[0].eligible && found.eligible);
    assert!(found.hops[0].evidence.contains(&"ge-2".to_string()), "{:?}", found.hops[0].evidence);
    let command = found.remediation.command.as_deref().unwrap_or_default();
    assert!(command.contains(r#""accessId":"owner""#), "{command}");
}

#[test]
fn expired_future_and_unqualified_eligibilities_give_nothing() {
    let p = pairs(true);
    for who in [EXPIRED, NOT_YET, NO_ACCESS] {
        assert!(from(&p, who).is_none(), "{who}: {:#?}", from(&p, who));
    }
}
