//! Pacing requests to the budgets Azure enforces, one [`Pacer`] per service (ARM, Graph).
//!
//! A pacer keeps a local estimate of the server's token buckets and admits a request when every bucket it is
//! charged to holds its cost, with at most `window` requests in flight. The window follows AIMD: it grows by
//! one request per window of successes up to the `--concurrency` cap, and a 429/503 halves it for every request
//! of the service (once per congestion event: the other requests of the same herd neither halve it again nor,
//! when they succeed, grow it back).
//! A throttled request is never sent again before its `Retry-After`. When throttling is frequent (more than
//! [`CONGESTED`] of recent responses) it says the server's budget is smaller than the estimate: it is
//! congestion, the window halves and the whole service closes until `Retry-After` has passed, its bucket taken
//! as empty. A lone 429 or 503 is a transient fault: only that request waits, so random faults do not stall
//! every other request. How full the local estimate is says nothing here: pacing keeps it near empty on
//! purpose, and after a congestion it is empty because the pacer emptied it, so "a 429 while the estimate is
//! low" would make every random fault of a paced run a congestion (each closing the service again).
//!
//! The budgets:
//! - Microsoft Graph, identity and access: one resource-unit bucket per application and tenant, 3,500 / 5,000 /
//!   8,000 RU per 10 s for a tenant of under 50 / 50 to 500 / over 500 users; a GET costs 1 RU, or the
//!   documented cost of its path ([`GRAPH_GET_COSTS`]: 2 for users, applications and a service principal's
//!   app role assignments, 3 for group members); `$select` takes 1 off, `$expand` adds 1, `$top` below 20
//!   takes 1 off, never below 1
//!   (<https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits>).
//! - Azure Resource Manager: reads draw on a bucket of 250 refilled at 25 per second, one per subscription for
//!   a subscription's requests and one per tenant for the rest
//!   (<https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>).
//!
//! The arithmetic is [`PacerState`], a plain struct driven by the instants it is given, so it is tested
//! without sleeping; [`Pacer`] wraps it for async callers with a [`Clock`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use url::Url;

/// Where time comes from: the system clock in production, a fake one in tests.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A Microsoft Graph tenant size class: its identity-and-access resource-unit budget (`--graph-tenant-size`,
/// or read from the first users page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TenantSize {
    /// Under 50 users: 3,500 RU per 10 s.
    Small,
    /// 50 to 500 users: 5,000 RU per 10 s.
    Medium,
    /// Over 500 users: 8,000 RU per 10 s.
    Large,
}

impl TenantSize {
    /// Resource units per 10 seconds.
    pub fn budget(self) -> f64 {
        match self {
            TenantSize::Small => 3_500.0,
            TenantSize::Medium => 5_000.0,
            TenantSize::Large => 8_000.0,
        }
    }

    /// The class of a tenant with `users` users, or more when `more` (the listing has further pages).
    pub fn of(users: usize, more: bool) -> TenantSize {
        match users {
            _ if more || users > 500 => TenantSize::Large,
            50.. => TenantSize::Medium,
            _ => TenantSize::Small,
        }
    }
}

/// Graph's documented base costs of identity-and-access GETs, in resource units: a path pattern relative to
/// the version segment (`{id}` matches one segment), case-insensitive; any GET not listed costs 1. Source: the
/// "Identity and access service limits" table of
/// <https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits> (its POSTs, such as
/// `directoryObjects/getByIds`, are not requests azpath makes; a `$batch` is charged its items' costs).
/// `me/…` costs apply to `users/{id}/…` too, as the page says.
pub const GRAPH_GET_COSTS: &[(&str, u32)] = &[
    ("applications", 2),
    ("applications/{id}/extensionProperties", 2),
    ("contracts", 3),
    ("domains/{id}/domainNameReferences", 4),
    ("groups/{id}/members", 3),
    ("groups/{id}/transitiveMembers", 5),
    ("me/licenseDetails", 2),
    ("me/memberOf", 2),
    ("me/ownedObjects", 2),
    ("me/transitiveMemberOf", 2),
    ("users/{id}/licenseDetails", 2),
    ("users/{id}/memberOf", 2),
    ("users/{id}/ownedObjects", 2),
    ("users/{id}/transitiveMemberOf", 2),
    ("oauth2PermissionGrants", 2),
    ("oauth2PermissionGrants/{id}", 2),
    ("servicePrincipals/{id}/appRoleAssignments", 2),
    ("subscribedSkus", 3),
    ("users", 2),
];

/// The base cost of a GET of `tail` (the path after the version segment) from [`GRAPH_GET_COSTS`].
fn graph_base_cost(tail: &[&str]) -> i32 {
    let matches = |pattern: &str| {
        let parts: Vec<&str> = pattern.split('/').collect();
        parts.len() == tail.len() && parts.iter().zip(tail).all(|(p, s)| *p == "{id}" || p.eq_ignore_ascii_case(s))
    };
    GRAPH_GET_COSTS.iter().find(|(pattern, _)| matches(pattern)).map_or(1, |&(_, cost)| cost as i32)
}

/// The Graph identity-and-access cost of one GET of `url`: its base cost ([`GRAPH_GET_COSTS`]), `$select`
/// −1, `$expand` +1, `$top` below 20 −1, never below 1 (see the module doc).
pub fn graph_cost(url: &Url) -> f64 {
    let segments: Vec<&str> = url.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let tail: Vec<&str> = segments
        .iter()
        .skip_while(|s| !s.eq_ignore_ascii_case("v1.0") && !s.eq_ignore_ascii_case("beta"))
        .skip(1)
        .copied()
        .collect();
    let mut cost = graph_base_cost(&tail);
    for (key, value) in url.query_pairs() {
        match key.to_ascii_lowercase().as_str() {
            "$select" => cost -= 1,
            "$expand" => cost += 1,
            "$top" if value.parse::<u32>().is_ok_and(|n| n < 20) => cost -= 1,
            _ => {}
        }
    }
    f64::from(cost.max(1))
}

/// The ARM read bucket a request of `url` draws on: its subscription's, else the tenant's.
pub fn arm_bucket(url: &Url) -> BucketKey {
    let mut segments = url.path_segments().into_iter().flatten().filter(|s| !s.is_empty());
    match (segments.next(), segments.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => {
            BucketKey::Subscription(id.to_ascii_lowercase())
        }
        _ => BucketKey::Tenant,
    }
}

/// Which bucket of a service a request is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BucketKey {
    /// The tenant-wide bucket (all of Graph; ARM requests outside a subscription).
    Tenant,
    /// One subscription's ARM bucket.
    Subscription(String),
}

/// The shape of a service's buckets: how much each holds and how fast it refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Units a full bucket holds.
    pub capacity: f64,
    /// Units added per second.
    pub refill_per_sec: f64,
}

impl Budget {
    /// ARM reads: 250, refilled at 25 per second.
    pub const ARM_READS: Budget = Budget { capacity: 250.0, refill_per_sec: 25.0 };

    /// Graph identity and access for a tenant of `size`: its budget per 10 s.
    pub fn graph(size: TenantSize) -> Budget {
        Budget { capacity: size.budget(), refill_per_sec: size.budget() / 10.0 }
    }
}

/// One token-bucket estimate.
#[derive(Debug, Clone)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, budget: Budget, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + elapsed * budget.refill_per_sec).min(budget.capacity);
        self.at = self.at.max(now);
    }

    /// When the bucket will hold `cost` (now if it does); a cost above the capacity waits for a full bucket.
    fn ready_at(&self, budget: Budget, cost: f64, now: Instant) -> Instant {
        let missing = cost.min(budget.capacity) - self.level;
        if missing <= 0.0 {
            return now;
        }
        now + Duration::from_secs_f64(missing / budget.refill_per_sec)
    }
}

/// What [`PacerState::try_admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send now; the request holds a slot of the window until [`PacerState::finish`].
    Go(Ticket),
    /// A bucket is short, or the service is closed after a throttled response: ask again at this instant.
    WaitUntil(Instant),
    /// The window is full: ask again when a request finishes.
    WaitForSlot,
}

/// An admitted request: which congestion epoch admitted it (a throttled response halves the window only if
/// nothing halved it since this request was admitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
}

/// How an admitted request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// A response that was not throttled (errors included: they say nothing about the budget).
    Done,
    /// 429/503: the request waits `retry_after`; when throttling is congestion the whole service does.
    Throttled {
        /// The delay the server asked for (or the backoff's, when it gave none).
        retry_after: Duration,
    },
    /// A JSON batch of `items` requests answered, `throttled` of them 429/503 (the batch itself was not):
    /// each item counts as one response in the share of throttled responses, so the 1 or 2 items of a
    /// batch of 20 that random faults hit are the transient faults they are, not a throttled batch. With
    /// none throttled it is [`Finish::Done`]; otherwise it is [`Finish::Throttled`] with `retry_after`
    /// (the longest item's), and closes the service only when throttling is then frequent.
    Batch {
        /// Items in the batch.
        items: usize,
        /// Items answered 429/503.
        throttled: usize,
        /// The longest delay a throttled item asked for.
        retry_after: Duration,
    },
    /// Abandoned before a response (deadline, cancellation).
    Abandoned,
}

/// Share of recent responses (an exponential average over about the last 50) above which throttling is
/// congestion: the server's budget is smaller than the estimate. Random faults (a few percent of responses)
/// stay well below it even in their bursts; a spent budget throttles most of a window and crosses it within a
/// dozen responses.
pub const CONGESTED: f64 = 0.25;

/// Weight of one response in the average of throttled responses.
const SHARE_WEIGHT: f64 = 0.02;

/// The pacing arithmetic of one service (see the module doc); every method takes the current instant.
#[derive(Debug, Clone)]
pub struct PacerState {
    budget: Budget,
    buckets: HashMap<BucketKey, Bucket>,
    window: f64,
    max_window: usize,
    in_flight: usize,
    closed_until: Option<Instant>,
    epoch: u64,
    /// Exponential average of the share of throttled responses.
    throttled_share: f64,
}

impl PacerState {
    /// A pacer with full buckets of `budget` and a window of `max_window` requests in flight (at least 1).
    pub fn new(budget: Budget, max_window: usize) -> Self {
        let max_window = max_window.max(1);
        PacerState {
            budget,
            buckets: HashMap::new(),
            window: max_window as f64,
            max_window,
            in_flight: 0,
            closed_until: None,
            epoch: 0,
            throttled_share: 0.0,
        }
    }

    /// Changes the bucket shape (the Graph tenant size, once known). The server's bucket had that shape all
    /// along, so what was spent stays spent: each level moves by the change in capacity (refilled at the old
    /// rate up to `now` first). Keeping the level instead would, after starting from the smallest class, give
    /// up the larger class's first burst (4,500 RU, 5.6 s of a large tenant's budget).
    pub fn set_budget(&mut self, budget: Budget, now: Instant) {
        let old = self.budget;
        for b in self.buckets.values_mut() {
            b.refill(old, now);
            b.level = (b.level + budget.capacity - old.capacity).min(budget.capacity);
        }
        self.budget = budget;
    }

    /// The current budget.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Requests allowed in flight now.
    pub fn window(&self) -> usize {
        (self.window.floor() as usize).clamp(1, self.max_window)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Admits a request costing `cost` from `bucket`, or says how long to wait.
    pub fn try_admit(&mut self, bucket: &BucketKey, cost: f64, now: Instant) -> Admission {
        if let Some(until) = self.closed_until.filter(|u| *u > now) {
            return Admission::WaitUntil(until);
        }
        if self.in_flight >= self.window() {
            return Admission::WaitForSlot;
        }
        let budget = self.budget;
        let b = self.buckets.entry(bucket.clone()).or_insert(Bucket { level: budget.capacity, at: now });
        b.refill(budget, now);
        let ready = b.ready_at(budget, cost, now);
        if ready > now {
            return Admission::WaitUntil(ready);
        }
        b.level -= cost.min(budget.capacity);
        self.in_flight += 1;
        Admission::Go(Ticket { epoch: self.epoch })
    }

    /// Adds `responses` responses, `throttled` of them throttled, to the average share of throttled
    /// responses, as that many single updates spread evenly would.
    fn count_responses(&mut self, responses: usize, throttled: usize) {
        if responses == 0 {
            return;
        }
        let keep = (1.0 - SHARE_WEIGHT).powi(responses as i32);
        let share = throttled as f64 / responses as f64;
        self.throttled_share = self.throttled_share * keep + share * (1.0 - keep);
    }

    /// Whether throttling says the server's budget is spent: too many recent responses were throttled.
    fn congested(&self) -> bool {
        self.throttled_share > CONGESTED
    }

    /// Ends an admitted request: frees its slot and adjusts the window (see [`Finish`]).
    pub fn finish(&mut self, ticket: Ticket, bucket: &BucketKey, how: Finish, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let (responses, throttled) = match how {
            Finish::Done => (1, 0),
            Finish::Throttled { .. } => (1, 1),
            Finish::Batch { items, throttled, .. } => (items.max(1), throttled.min(items.max(1))),
            Finish::Abandoned => (0, 0),
        };
        self.count_responses(responses, throttled);
        let how = match how {
            Finish::Batch { throttled: 0, .. } => Finish::Done,
            Finish::Batch { retry_after, .. } => Finish::Throttled { retry_after },
            other => other,
        };
        match how {
            // Requests admitted before the last halving say nothing about the halved window.
            Finish::Done if ticket.epoch == self.epoch => {
                self.window = (self.window + 1.0 / self.window).min(self.max_window as f64)
            }
            Finish::Done | Finish::Abandoned | Finish::Batch { .. } => {}
            Finish::Throttled { .. } if !self.congested() => {}
            Finish::Throttled { retry_after } => {
                if ticket.epoch == self.epoch {
                    self.window = (self.window / 2.0).max(1.0);
                    self.epoch += 1;
                }
                tracing::debug!(
                    window = self.window(),
                    throttled_share = self.throttled_share,
                    retry_after_ms = retry_after.as_millis() as u64,
                    "throttling is frequent: the whole service waits"
                );
                // A Retry-After past any budget (days) only needs to be "later than every request will wait".
                let until = now + retry_after.min(Duration::from_secs(365 * 24 * 3600));
                self.closed_until = Some(self.closed_until.map_or(until, |u| u.max(until)));
                if let Some(b) = self.buckets.get_mut(bucket) {
                    b.level = 0.0;
                    b.at = b.at.max(until);
                }
            }
        }
    }
}

/// A [`PacerState`] shared by the requests of one service, waiting with tokio timers.
pub struct Pacer {
    state: Mutex<PacerState>,
    freed: tokio::sync::Notify,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").field("state", &*self.lock()).finish()
    }
}

impl Pacer {
    /// A pacer over `state`, reading time from `clock`.
    pub fn new(state: PacerState, clock: Arc<dyn Clock>) -> Self {
        Pacer { state: Mutex::new(state), freed: tokio::sync::Notify::new(), clock }
    }

    fn lock(&self) -> MutexGuard<'_, PacerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the budget (see [`PacerState::set_budget`]).
    pub fn set_budget(&self, budget: Budget) {
        let now = self.clock.now();
        self.lock().set_budget(budget, now);
    }

    /// How long from now the service stays closed after a throttled response (zero when it is open).
    pub fn closed_for(&self) -> Duration {
        let now = self.clock.now();
        self.lock().closed_until.map_or(Duration::ZERO, |u| u.saturating_duration_since(now))
    }

    /// A copy of the current state (for logs and tests).
    pub fn snapshot(&self) -> PacerState {
        self.lock().clone()
    }

    /// Waits until a request costing `cost` from `bucket` may be sent; the returned permit holds its slot.
    pub async fn admit(&self, bucket: BucketKey, cost: f64) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let now = self.clock.now();
            let decision = self.lock().try_admit(&bucket, cost, now);
            match decision {
                Admission::Go(ticket) => return Permit { pacer: self, bucket, ticket: Some(ticket) },
                Admission::WaitUntil(at) => tokio::time::sleep(at.saturating_duration_since(now)).await,
                Admission::WaitForSlot => freed.await,
            }
        }
    }
}

/// An admitted request's slot; [`Permit::finish`] reports how it ended (dropping it counts as abandoned).
pub struct Permit<'a> {
    pacer: &'a Pacer,
    bucket: BucketKey,
    ticket: Option<Ticket>,
}

impl Permit<'_> {
    /// Frees the slot, telling the pacer how the request ended.
    pub fn finish(mut self, how: Finish) {
        self.release(how);
    }

    fn release(&mut self, how: Finish) {
        if let Some(ticket) = self.ticket.take() {
            let now = self.pacer.clock.now();
            self.pacer.lock().finish(ticket, &self.bucket, how, now);
            self.pacer.freed.notify_waiters();
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.release(Finish::Abandoned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(state: &mut PacerState, bucket: &BucketKey, cost: f64, now: Instant) -> Ticket {
        match state.try_admit(bucket, cost, now) {
            Admission::Go(t) => t,
            other => panic!("expected admission, got {other:?}"),
        }
    }

    #[test]
    fn admits_at_the_budget_rate() {
        // 800 RU/s after the first full bucket of 8,000: a 2-RU request every 2.5 ms.
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), usize::MAX);
        let key = BucketKey::Tenant;
        let mut admitted = 0;
        while let Admission::Go(t) = s.try_admit(&key, 2.0, t0) {
            s.finish(t, &key, Finish::Done, t0);
            admitted += 1;
        }
        assert_eq!(admitted, 4_000, "a full bucket at the start");
        // Over the next 10 s, paced: the admitted count follows 800 RU/s.
        let mut now = t0;
        let mut later = 0;
        while now < t0 + Duration::from_secs(10) {
            match s.try_admit(&key, 2.0, now) {
                Admission::Go(t) => {
                    s.finish(t, &key, Finish::Done, now);
                    later += 1;
                }
                Admission::WaitUntil(at) => {
                    assert!(at > now);
                    now = at;
                }
                Admission::WaitForSlot => unreachable!("unbounded window"),
            }
        }
        assert!((3_999..=4_001).contains(&later), "{later} requests in 10 s");
    }

    #[test]
    fn a_larger_class_learnt_later_keeps_its_first_burst() {
        // Paced as small (3,500 RU) until the first users page says large: 1,000 RU spent by then leave
        // 7,000 of the large bucket, not 2,500 of the small one.
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::graph(TenantSize::Small), usize::MAX);
        let key = BucketKey::Tenant;
        for _ in 0..500 {
            let t = go(&mut s, &key, 2.0, t0);
            s.finish(t, &key, Finish::Done, t0);
        }
        s.set_budget(Budget::graph(TenantSize::Large), t0);
        let mut admitted = 0;
        while let Admission::Go(t) = s.try_admit(&key, 2.0, t0) {
            s.finish(t, &key, Finish::Done, t0);
            admitted += 1;
        }
        assert_eq!(admitted, 3_500, "7,000 RU left at 2 RU each");
        // A smaller class learnt later takes the difference off: what was spent came from the smaller bucket.
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), usize::MAX);
        for _ in 0..2_000 {
            let t = go(&mut s, &key, 2.0, t0);
            s.finish(t, &key, Finish::Done, t0);
        }
        s.set_budget(Budget::graph(TenantSize::Small), t0);
        let Admission::WaitUntil(at) = s.try_admit(&key, 2.0, t0) else { panic!("4,000 spent of 3,500") };
        assert_eq!(at - t0, Duration::from_secs_f64(502.0 / 350.0));
    }

    #[test]
    fn a_smaller_tenant_paces_slower() {
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::graph(TenantSize::Small), 64);
        let key = BucketKey::Tenant;
        for _ in 0..1_750 {
            let t = go(&mut s, &key, 2.0, t0);
            s.finish(t, &key, Finish::Done, t0);
        }
        let Admission::WaitUntil(at) = s.try_admit(&key, 2.0, t0) else { panic!("bucket should be empty") };
        assert_eq!(at - t0, Duration::from_secs_f64(2.0 / 350.0));
    }

    #[test]
    fn a_throttled_response_closes_the_service_and_halves_the_window_once_per_herd() {
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::ARM_READS, 16);
        let key = BucketKey::Subscription("s1".into());
        let herd: Vec<Ticket> = (0..16).map(|_| go(&mut s, &key, 1.0, t0)).collect();
        assert_eq!(s.try_admit(&key, 1.0, t0), Admission::WaitForSlot);
        let retry = Duration::from_secs(3);
        for t in herd {
            s.finish(t, &key, Finish::Throttled { retry_after: retry }, t0);
        }
        assert_eq!(s.window(), 8, "one halving for the whole herd");
        // Nothing of the service goes before Retry-After, whatever bucket.
        assert_eq!(
            s.try_admit(&BucketKey::Tenant, 1.0, t0 + Duration::from_millis(2_999)),
            Admission::WaitUntil(t0 + retry)
        );
        let t = go(&mut s, &BucketKey::Tenant, 1.0, t0 + retry);
        // A later throttled response (admitted after the halving) halves again.
        s.finish(t, &BucketKey::Tenant, Finish::Throttled { retry_after: Duration::ZERO }, t0 + retry);
        assert_eq!(s.window(), 4);
    }

    #[test]
    fn a_lone_throttled_response_holds_back_only_its_request() {
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 16);
        let key = BucketKey::Tenant;
        let a = go(&mut s, &key, 2.0, t0);
        s.finish(a, &key, Finish::Throttled { retry_after: Duration::from_secs(1) }, t0);
        // The estimate has room and throttling is rare: a transient fault, not a spent budget.
        assert_eq!(s.window(), 16);
        assert!(matches!(s.try_admit(&key, 2.0, t0), Admission::Go(_)), "the service stays open");
        // Throttling that goes on is congestion, whatever the estimate says: the service closes.
        let mut throttled = 1;
        while let Admission::Go(t) = s.try_admit(&key, 2.0, t0) {
            s.finish(t, &key, Finish::Throttled { retry_after: Duration::from_secs(1) }, t0);
            throttled += 1;
        }
        assert!((10..=20).contains(&throttled), "closed after {throttled} throttled responses");
        assert!(s.throttled_share > CONGESTED);
        assert_eq!(s.try_admit(&key, 2.0, t0), Admission::WaitUntil(t0 + Duration::from_secs(1)));
        assert!(s.window() < 16);
    }

    /// Drains `key` with successes at `now` until the estimate is short; returns when it holds `cost` again.
    fn drain(s: &mut PacerState, key: &BucketKey, cost: f64, now: Instant) -> Instant {
        loop {
            match s.try_admit(key, cost, now) {
                Admission::Go(t) => s.finish(t, key, Finish::Done, now),
                Admission::WaitUntil(at) => return at,
                Admission::WaitForSlot => panic!("window full"),
            }
        }
    }

    #[test]
    fn pacing_at_the_budget_a_lone_fault_holds_back_only_its_request() {
        // Paced at the budget, the estimate is always nearly empty: that alone must not make a random fault
        // look like a spent budget.
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::ARM_READS, 64);
        let key = BucketKey::Subscription("s1".into());
        let ready = drain(&mut s, &key, 1.0, t0);
        let t = go(&mut s, &key, 1.0, ready);
        s.finish(t, &key, Finish::Throttled { retry_after: Duration::from_secs(2) }, ready);
        let next = drain(&mut s, &key, 1.0, ready);
        assert!(next < ready + Duration::from_millis(100), "the service closed for one fault: {:?}", next - ready);
        assert!(matches!(s.try_admit(&key, 1.0, next), Admission::Go(_)));
        assert_eq!(s.window(), 64, "a lone fault does not halve the window");
    }

    #[test]
    fn after_a_congestion_a_lone_fault_does_not_close_the_service_again() {
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
        let key = BucketKey::Tenant;
        // A herd of 429s: congestion, the service closes for 1 s and its estimate is emptied.
        let herd: Vec<Ticket> = (0..20).map(|_| go(&mut s, &key, 2.0, t0)).collect();
        for t in herd {
            s.finish(t, &key, Finish::Throttled { retry_after: Duration::from_secs(1) }, t0);
        }
        let reopened = t0 + Duration::from_secs(1);
        assert_eq!(s.try_admit(&key, 2.0, t0), Admission::WaitUntil(reopened));
        // Paced successes for 2 s after it reopens (the estimate refills from empty, so it stays low).
        let mut now = reopened;
        while now < reopened + Duration::from_secs(2) {
            now = drain(&mut s, &key, 2.0, now);
        }
        assert!(s.throttled_share < CONGESTED);
        let t = go(&mut s, &key, 2.0, now);
        s.finish(t, &key, Finish::Throttled { retry_after: Duration::from_secs(1) }, now);
        let later = now + Duration::from_millis(5);
        assert!(matches!(s.try_admit(&key, 2.0, later), Admission::Go(_)), "closed again by one fault");
    }

    /// Runs `responses` requests through `s`, each throttled with probability `p` (a seeded draw), a window
    /// at a time; returns how many congestion events (halvings) they caused.
    fn random_faults(s: &mut PacerState, responses: usize, p: f64, seed: u64) -> u64 {
        let key = BucketKey::Tenant;
        let mut x = seed;
        let mut draw = move || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let before = s.epoch;
        let mut now = Instant::now();
        let mut sent = 0;
        while sent < responses {
            let mut herd = Vec::new();
            loop {
                match s.try_admit(&key, 1.0, now) {
                    Admission::Go(t) => herd.push(t),
                    Admission::WaitUntil(at) if herd.is_empty() => now = at,
                    _ => break,
                }
            }
            now += Duration::from_millis(60);
            for t in herd {
                let how =
                    if draw() < p { Finish::Throttled { retry_after: Duration::from_secs(1) } } else { Finish::Done };
                s.finish(t, &key, how, now);
                sent += 1;
            }
        }
        s.epoch - before
    }

    #[test]
    fn random_faults_at_six_percent_never_make_a_congestion() {
        // 5% 429s and 1% 503s: bursts of three or four faults among a dozen responses are common over ten
        // thousand responses; they must not read as a spent budget.
        for seed in 1..=5 {
            let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
            assert_eq!(random_faults(&mut s, 10_000, 0.06, seed), 0, "seed {seed}");
            assert_eq!(s.window(), 64);
        }
        // Throttling well above any fault rate is congestion, and is seen as such.
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
        assert!(random_faults(&mut s, 2_000, 0.4, 1) > 0);
        assert!(s.window() < 64);
    }

    /// Batches of 20 at `p` throttled items each (drawn like [`random_faults`]); the congestions seen.
    fn random_faults_in_batches(s: &mut PacerState, batches: usize, p: f64) -> u64 {
        let (key, before, mut now) = (BucketKey::Tenant, s.epoch, Instant::now());
        let mut x: u64 = 7;
        for _ in 0..batches {
            let t = match s.try_admit(&key, 20.0, now) {
                Admission::Go(t) => t,
                Admission::WaitUntil(at) => {
                    now = at;
                    continue;
                }
                Admission::WaitForSlot => unreachable!("one batch at a time"),
            };
            now += Duration::from_millis(60);
            let throttled = (0..20)
                .filter(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    ((x >> 11) as f64 / (1u64 << 53) as f64) < p
                })
                .count();
            s.finish(t, &key, Finish::Batch { items: 20, throttled, retry_after: Duration::from_secs(1) }, now);
        }
        s.epoch - before
    }

    #[test]
    fn a_few_throttled_items_of_a_batch_are_transient_faults_most_are_congestion() {
        // 6% of items: 71% of batches of 20 hold at least one throttled item, yet the service never closes.
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
        assert_eq!(random_faults_in_batches(&mut s, 2_000, 0.06), 0);
        assert_eq!((s.window(), s.closed_until), (64, None));
        // Most items throttled: the budget is spent, the service closes and the window halves.
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
        assert!(random_faults_in_batches(&mut s, 200, 0.6) > 0);
        assert!(s.window() < 64 && s.closed_until.is_some());
        // A batch counts as its items: one all-throttled batch weighs as 20 throttled responses.
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
        let t = go(&mut s, &BucketKey::Tenant, 20.0, Instant::now());
        let how = Finish::Batch { items: 20, throttled: 20, retry_after: Duration::from_secs(1) };
        s.finish(t, &BucketKey::Tenant, how, Instant::now());
        assert!((s.throttled_share - (1.0 - 0.98f64.powi(20))).abs() < 1e-9, "{}", s.throttled_share);
    }

    #[test]
    fn a_window_collapsed_to_one_recovers_within_seconds() {
        // Additive increase of one request per window of successes: from 1 back to 64 in about 64 round trips
        // of 60 ms, a few seconds, not minutes.
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 64);
        s.window = 1.0;
        let key = BucketKey::Tenant;
        let t0 = Instant::now();
        let mut now = t0;
        while s.window() < 64 {
            assert!(now < t0 + Duration::from_secs(5), "window {} after 5 s", s.window());
            let herd: Vec<Ticket> = std::iter::from_fn(|| match s.try_admit(&key, 1.0, now) {
                Admission::Go(t) => Some(t),
                _ => None,
            })
            .collect();
            now += Duration::from_millis(60);
            for t in herd {
                s.finish(t, &key, Finish::Done, now);
            }
        }
        assert!(now >= t0 + Duration::from_secs(3), "grew faster than one per round trip: {:?}", now - t0);
    }

    #[test]
    fn successes_grow_the_window_back_to_the_cap() {
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::graph(TenantSize::Large), 4);
        let key = BucketKey::Tenant;
        let t = go(&mut s, &key, 1.0, t0);
        // Throttling that says the budget is spent (most recent responses throttled).
        s.throttled_share = 0.5;
        s.finish(t, &key, Finish::Throttled { retry_after: Duration::ZERO }, t0);
        assert_eq!(s.window(), 2);
        let mut now = t0;
        for _ in 0..20 {
            now += Duration::from_millis(10);
            if let Admission::Go(t) = s.try_admit(&key, 1.0, now) {
                s.finish(t, &key, Finish::Done, now);
            }
        }
        assert_eq!(s.window(), 4, "back to the cap, never above it");
        // Abandoned requests free their slot without growing the window.
        let t = go(&mut s, &key, 1.0, now);
        assert_eq!(s.in_flight(), 1);
        s.finish(t, &key, Finish::Abandoned, now);
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn arm_subscriptions_have_their_own_buckets() {
        let t0 = Instant::now();
        let mut s = PacerState::new(Budget::ARM_READS, usize::MAX);
        let (a, b) = (BucketKey::Subscription("a".into()), BucketKey::Subscription("b".into()));
        for _ in 0..250 {
            let t = go(&mut s, &a, 1.0, t0);
            s.finish(t, &a, Finish::Done, t0);
        }
        assert!(matches!(s.try_admit(&a, 1.0, t0), Admission::WaitUntil(_)));
        assert!(matches!(s.try_admit(&b, 1.0, t0), Admission::Go(_)));
        assert!(matches!(s.try_admit(&BucketKey::Tenant, 1.0, t0), Admission::Go(_)));
    }

    #[test]
    fn graph_costs_follow_the_documented_table() {
        let u = |s: &str| Url::parse(s).unwrap();
        // The two listings the pacer used to undercharge: `applications` has a base cost of 2.
        let apps = "https://g/v1.0/applications?$select=id,appId&$expand=owners($select=id)&$top=999";
        assert_eq!(graph_cost(&u(apps)), 2.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/applications?$select=id")), 1.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/servicePrincipals/s1/appRoleAssignments")), 2.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/servicePrincipals/s1/appRoleAssignments?$select=id&$top=999")), 1.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/groups/g1/transitiveMembers")), 5.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/users/u1/memberOf")), 2.0, "as me/memberOf");
        // Not in the table: 1, and never below it.
        assert_eq!(graph_cost(&u("https://g/v1.0/servicePrincipals")), 1.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/servicePrincipals/s1/owners")), 1.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/users/u1")), 1.0, "one user is not the users listing");
        assert_eq!(graph_cost(&u("https://g/v1.0/groups/g1/members?$top=5")), 2.0, "$top below 20");
        assert_eq!(graph_cost(&u("https://g/v1.0/groups/g1/members?$top=20")), 3.0);
    }

    /// The mock's emulation (`azpath mock serve --throttle graph-ru`) charges what the pacer estimates, for
    /// every documented path and for the paths azpath requests, with every combination of modifiers.
    #[test]
    fn the_mock_throttle_charges_what_the_pacer_estimates() {
        let mut paths: Vec<String> = GRAPH_GET_COSTS.iter().map(|(p, _)| p.replace("{id}", "x1")).collect();
        paths.extend(
            [
                "groups",
                "servicePrincipals",
                "servicePrincipals/x1/owners",
                "applications/x1/federatedIdentityCredentials",
                "roleManagement/directory/roleAssignments",
                "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
                "directory/administrativeUnits/x1/members",
                "users/x1",
            ]
            .map(String::from),
        );
        let queries = ["", "$select=id", "$expand=owners", "$select=id&$expand=owners($select=id)&$top=999", "$top=5"];
        for path in &paths {
            for query in queries {
                let upper = path.to_ascii_uppercase();
                for path in [path.as_str(), upper.as_str()] {
                    let url = Url::parse(&format!("https://g/v1.0/{path}?{query}")).unwrap();
                    let mock = azpath_mocks::throttle::graph_cost(url.path(), url.query().unwrap_or(""));
                    assert_eq!(graph_cost(&url), f64::from(mock), "{url}");
                }
            }
        }
    }

    #[test]
    fn costs_and_buckets_from_urls() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(graph_cost(&u("https://g/v1.0/users?$select=id&$top=999")), 1.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/users")), 2.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/groups/g1/members")), 3.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/groups/g1/members?$select=id")), 2.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/groups?$select=id&$expand=owners")), 1.0);
        assert_eq!(graph_cost(&u("https://g/v1.0/applications/a/federatedIdentityCredentials?$select=id")), 1.0);
        assert_eq!(arm_bucket(&u("https://m/subscriptions/S1/resourcegroups")), BucketKey::Subscription("s1".into()));
        assert_eq!(arm_bucket(&u("https://m/subscriptions?api-version=1")), BucketKey::Tenant);
        assert_eq!(arm_bucket(&u("https://m/providers/Microsoft.Management/managementGroups")), BucketKey::Tenant);
        assert_eq!(TenantSize::of(10, false), TenantSize::Small);
        assert_eq!(TenantSize::of(60, false), TenantSize::Medium);
        assert_eq!(TenantSize::of(100, true), TenantSize::Large);
    }
}
