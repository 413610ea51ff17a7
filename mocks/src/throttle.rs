//! Emulated Azure throttling: the limits Microsoft Graph and Azure Resource Manager document, applied to every
//! request the mock serves, so that a collector can be measured against the speed Azure actually allows.
//!
//! One layer, [`Throttle::admit`], is called at the start of the mock's per-request handler (and so for every
//! item of a JSON batch that handler dispatches). It decides, in this order:
//!
//! 1. **Injected faults** (`--inject-429`, `--inject-503`): a seeded draw per URL and attempt answers 429 with
//!    `Retry-After`, or 503 without one, whatever the buckets hold; nothing is charged. Graph documents a 429
//!    as carrying "a suggested wait time" and a 503 as "the length of which *may* be specified in a
//!    Retry-After header" (<https://learn.microsoft.com/graph/errors>): the 503 is the case without, where a
//!    client has to back off on its own.
//! 2. **Microsoft Graph resource units** (`graph-ru`): one token bucket per tenant (the mock serves one
//!    application), sized by the tenant's user count, charged the documented cost of each request. Source:
//!    "Identity and access service limits" in <https://learn.microsoft.com/graph/throttling-limits>:
//!    application+tenant pair S (under 50 users) 3,500, M (50–500) 5,000, L (over 500) 8,000 resource units
//!    per 10 seconds; `GET users` and `GET applications` cost 2, `GET groups/{id}/members` 3,
//!    `groups/{id}/transitiveMembers` 5, `servicePrincipals/{id}/appRoleAssignments` and
//!    `oauth2PermissionGrants` 2, the rest of the page's GET table likewise (`contracts` 3, `me/memberOf` 2,
//!    also as `users/{id}/memberOf`, …), any other GET 1; `$select` −1, `$expand` +1, `$top` below 20 −1,
//!    never below 1.
//! 3. **ARM read buckets** (`arm-buckets`): one per subscription (read from the path) and one for tenant-level
//!    requests (management groups, the subscriptions listing, `/providers/…`), each 250 tokens refilling 25 per
//!    second. Source: "Regional throttling and token bucket algorithm" in
//!    <https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>.
//!    Every answer carries `x-ms-ratelimit-remaining-subscription-reads` (or `…-tenant-reads`).
//!
//! A bucket 429 carries `Retry-After` in whole seconds, rounded up to when the bucket holds the request's
//! cost again. Every 429/503 remembers its URL and the instant its `Retry-After` ends: the same URL asked
//! again before then is an **early retry**. Latency (`60ms±20ms`) is drawn per URL and attempt from the seed.
//!
//! Time comes from an injected [`Clock`], so tests drive the buckets with a [`ManualClock`] instead of sleeping.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Where time comes from: the wall clock in a running mock, a hand-driven one in tests.
pub trait Clock: Send + Sync {
    /// Time elapsed since an arbitrary fixed origin.
    fn now(&self) -> Duration;
}

/// The monotonic clock, from the moment it was made.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]).
#[derive(Debug, Default)]
pub struct ManualClock(Mutex<Duration>);

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Added latency: `mean ± jitter`, uniform, drawn from the seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Mean delay of a response.
    pub mean: Duration,
    /// Largest deviation from the mean either way.
    pub jitter: Duration,
}

impl Latency {
    /// Reads `60ms±20ms`, `60ms+-20ms`, `60ms`, `0.06s`, `60` (milliseconds).
    pub fn parse(text: &str) -> Result<Latency, String> {
        let t = text.trim();
        let (mean, jitter) = match t.split_once('±').or_else(|| t.split_once("+-")) {
            Some((m, j)) => (m, Some(j)),
            None => (t, None),
        };
        let mean = parse_duration(mean).ok_or_else(|| format!("`{text}`: expected a latency like 60ms±20ms"))?;
        let jitter = match jitter {
            Some(j) => parse_duration(j).ok_or_else(|| format!("`{text}`: expected a jitter like ±20ms"))?,
            None => Duration::ZERO,
        };
        if jitter > mean {
            return Err(format!("`{text}`: the jitter is larger than the mean"));
        }
        Ok(Latency { mean, jitter })
    }

    /// The delay for a draw `u` in [0, 1).
    fn at(&self, u: f64) -> Duration {
        let spread = self.jitter.as_secs_f64() * (2.0 * u - 1.0);
        Duration::from_secs_f64((self.mean.as_secs_f64() + spread).max(0.0))
    }
}

/// `60ms`, `0.5s`, `60` (milliseconds).
fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1e-3)
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value * scale))
}

/// Which emulations are on, and how hard they bite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThrottleOptions {
    /// Microsoft Graph's resource-unit bucket.
    pub graph_ru: bool,
    /// ARM's per-subscription and per-tenant read buckets.
    pub arm_buckets: bool,
    /// Added latency (drawn per URL and attempt).
    pub latency: Latency,
    /// Fraction of requests answered 429 regardless of the buckets.
    pub inject_429: f64,
    /// Fraction of requests answered 503 regardless of the buckets.
    pub inject_503: f64,
    /// `Retry-After` seconds of an injected 429 (an injected 503 carries none).
    pub injected_retry_after_secs: u64,
    /// Seed of the latency and fault draws.
    pub seed: u64,
}

impl ThrottleOptions {
    /// Whether any emulation is on (with none, [`Throttle::admit`] admits everything at no delay).
    pub fn is_active(&self) -> bool {
        self.graph_ru
            || self.arm_buckets
            || self.latency.mean > Duration::ZERO
            || self.inject_429 > 0.0
            || self.inject_503 > 0.0
    }

    /// Reads `--throttle graph-ru,arm-buckets` into the two switches.
    pub fn set_throttles(&mut self, list: &str) -> Result<(), String> {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "graph-ru" => self.graph_ru = true,
                "arm-buckets" => self.arm_buckets = true,
                "none" => {}
                other => return Err(format!("unknown throttle `{other}`: expected graph-ru, arm-buckets or none")),
            }
        }
        Ok(())
    }
}

/// Microsoft Graph's identity-and-access size classes (by the tenant's user count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SizeClass {
    /// Under 50 users: 3,500 RU per 10 s.
    S,
    /// 50 to 500 users: 5,000 RU per 10 s.
    M,
    /// Over 500 users: 8,000 RU per 10 s.
    L,
}

impl SizeClass {
    /// The class of a tenant of `users` users.
    pub fn of(users: usize) -> SizeClass {
        match users {
            0..50 => SizeClass::S,
            50..=500 => SizeClass::M,
            _ => SizeClass::L,
        }
    }

    /// Resource units per 10 seconds.
    pub fn units_per_10s(self) -> f64 {
        match self {
            SizeClass::S => 3_500.0,
            SizeClass::M => 5_000.0,
            SizeClass::L => 8_000.0,
        }
    }
}

/// The documented resource-unit cost of a Graph GET (see the module docs for the source).
pub fn graph_cost(path: &str, query: &str) -> u32 {
    let lower = path.trim_end_matches('/').to_ascii_lowercase();
    let seg: Vec<&str> = lower.trim_start_matches('/').split('/').skip(1).collect();
    let base: i32 = match seg.as_slice() {
        ["users"] | ["applications"] | ["oauth2permissiongrants"] | ["oauth2permissiongrants", _] => 2,
        ["applications", _, "extensionproperties"] => 2,
        ["me", "licensedetails" | "memberof" | "ownedobjects" | "transitivememberof"] => 2,
        ["users", _, "licensedetails" | "memberof" | "ownedobjects" | "transitivememberof"] => 2,
        ["serviceprincipals", _, "approleassignments"] => 2,
        ["contracts"] | ["subscribedskus"] => 3,
        ["groups", _, "members"] => 3,
        ["domains", _, "domainnamereferences"] => 4,
        ["groups", _, "transitivemembers"] => 5,
        _ => 1,
    };
    let mut cost = base;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.to_ascii_lowercase().as_str() {
            "$select" => cost -= 1,
            "$expand" => cost += 1,
            "$top" if v.parse::<u32>().is_ok_and(|n| n < 20) => cost -= 1,
            _ => {}
        }
    }
    cost.max(1) as u32
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second, full at the start.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    at: Duration,
}

impl TokenBucket {
    /// A full bucket at time `now`.
    pub fn new(capacity: f64, rate: f64, now: Duration) -> TokenBucket {
        TokenBucket { capacity, rate, tokens: capacity, at: now }
    }

    fn refill(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.at = self.at.max(now);
    }

    /// Takes `cost` tokens, returning what is left; or, when the bucket holds less, takes nothing and returns
    /// how long until it holds `cost`.
    pub fn take(&mut self, cost: f64, now: Duration) -> Result<f64, Duration> {
        self.refill(now);
        if self.tokens + 1e-9 >= cost {
            self.tokens -= cost;
            Ok(self.tokens.max(0.0))
        } else {
            Err(Duration::from_secs_f64((cost - self.tokens) / self.rate))
        }
    }
}

/// ARM read bucket size and refill per second (per subscription, and per tenant).
pub const ARM_BUCKET: (f64, f64) = (250.0, 25.0);

/// The API family a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Azure Resource Manager.
    Arm,
    /// Microsoft Graph.
    Graph,
}

/// One request as the throttle sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Which API.
    pub api: Api,
    /// Request path.
    pub path: &'a str,
    /// Query string (without `?`), empty when none.
    pub query: &'a str,
}

impl Call<'_> {
    fn key(&self) -> String {
        let side = if self.api == Api::Arm { "arm" } else { "graph" };
        format!("{side} {}?{}", self.path.to_ascii_lowercase(), self.query)
    }

    /// The ARM bucket of the request: `sub:{id}` or `tenant`.
    fn arm_bucket(&self) -> String {
        let lower = self.path.to_ascii_lowercase();
        let mut seg = lower.trim_start_matches('/').split('/');
        match (seg.next(), seg.next()) {
            (Some("subscriptions"), Some(id)) if !id.is_empty() => format!("sub:{id}"),
            _ => "tenant".to_string(),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A bucket ran dry (429).
    Bucket,
    /// An injected 429.
    Injected429,
    /// An injected 503.
    Injected503,
}

/// What [`Throttle::admit`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `None`: serve the request; otherwise refuse it with this status (429 or 503).
    pub refused: Option<(u16, Refusal)>,
    /// `Retry-After` seconds of a refusal; 0 sends none (an injected 503).
    pub retry_after_secs: u64,
    /// Delay before the answer is sent.
    pub delay: Duration,
    /// Headers to add to the answer (ARM's remaining-reads header).
    pub headers: Vec<(&'static str, String)>,
}

/// What the throttle has seen. Part of the mock's stats (`GET /_mock/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThrottleStats {
    /// Requests that went through [`Throttle::admit`].
    pub requests: u64,
    /// Resource units spent on admitted requests: `graph` (RU) and `arm` (read tokens).
    pub units: BTreeMap<String, u64>,
    /// 429s sent because a bucket ran dry, by bucket (`graph`, `arm:tenant`, `arm:sub:{id}`).
    pub bucket_429s: BTreeMap<String, u64>,
    /// 429s sent by fault injection.
    pub injected_429s: u64,
    /// 503s sent by fault injection.
    pub injected_503s: u64,
    /// Requests for a URL that arrived before the `Retry-After` of a 429/503 sent for it expired.
    pub early_retries: u64,
    /// Requests for a URL that was already answered without a 429/503: asked again for nothing (a collection
    /// that makes only the requests it needs has none; a retry after a refusal is not one).
    pub repeated: u64,
    /// Most requests being answered at once (arrived, answer not yet due).
    pub max_in_flight: u64,
    /// Admitted ARM reads per bucket (`tenant`, `sub:{id}`), for the floor.
    pub arm_reads: BTreeMap<String, u64>,
    /// Mean added latency, in milliseconds.
    pub mean_latency_ms: f64,
    /// Seconds from the first request to the moment the last answer was due.
    pub busy_secs: f64,
}

impl ThrottleStats {
    /// All 429s sent (bucket and injected).
    pub fn total_429s(&self) -> u64 {
        self.bucket_429s.values().sum::<u64>() + self.injected_429s
    }
}

/// The least wall time any client could collect the tenant in, and its three terms (seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Floor {
    /// The floor: the largest of the three terms.
    pub secs: f64,
    /// Longest serial chain of dependent requests × mean latency.
    pub chain_secs: f64,
    /// Requests in the longest serial chain ([`serial_chain`]).
    pub chain_requests: u64,
    /// Graph resource units beyond the first full bucket ÷ the refill rate.
    pub graph_ru_secs: f64,
    /// The busiest ARM bucket's reads beyond its burst ÷ the refill rate.
    pub arm_secs: f64,
}

/// One root listing of a collection and the largest listing that depends on one of its items, in items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    /// Items in the root listing (users, groups, the subscriptions…).
    pub items: usize,
    /// Items in the largest listing that can only be asked for once an item of the root is known (a group's
    /// members, a subscription's identities → one identity's credentials, summed along the chain), in pages of
    /// each level: `dependent_pages` is the sum of the pages of each level's largest listing.
    pub dependent_pages: usize,
}

/// Pages of a listing of `items` at `page_size` per page (an empty listing still takes one request).
pub fn pages(items: usize, page_size: usize) -> usize {
    items.div_ceil(page_size.max(1)).max(1)
}

/// The longest serial chain of dependent requests: over the root listings, the pages of the root plus the
/// pages of the longest chain of listings that depend on one of its items (a group's members can only be
/// asked for once the groups page naming the group arrived). Anything a client can fold into a root listing
/// (`$expand=owners`) is not a dependent listing; a client can run root listings side by side.
pub fn serial_chain(listings: &[Listing], page_size: usize) -> usize {
    listings.iter().map(|l| pages(l.items, page_size) + l.dependent_pages).max().unwrap_or(0)
}

/// The emulation of one mock Azure (ARM and Graph share it; their buckets are apart).
pub struct Throttle {
    options: ThrottleOptions,
    class: SizeClass,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    stats: ThrottleStats,
    graph: Option<TokenBucket>,
    arm: HashMap<String, TokenBucket>,
    /// Request key → attempts so far (the draws depend on it), and whether one was answered without a refusal.
    attempts: HashMap<String, (u32, bool)>,
    /// Request key → time before which asking again is early.
    not_before: HashMap<String, Duration>,
    /// Times at which answers in flight are due.
    due: BinaryHeap<Reverse<Duration>>,
    first: Option<Duration>,
    last_due: Duration,
    latency_sum: f64,
}

impl Throttle {
    /// The emulation for a tenant of `users` users, on `clock`.
    pub fn new(options: ThrottleOptions, users: usize, clock: Arc<dyn Clock>) -> Throttle {
        Throttle { options, class: SizeClass::of(users), clock, state: Mutex::new(State::default()) }
    }

    /// The options it runs with.
    pub fn options(&self) -> &ThrottleOptions {
        &self.options
    }

    /// The Graph size class of the tenant.
    pub fn class(&self) -> SizeClass {
        self.class
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides how one request is answered (see the module docs), and counts it.
    pub fn admit(&self, call: &Call) -> Decision {
        let now = self.clock.now();
        let key = call.key();
        let mut state = self.lock();
        let state = &mut *state;
        state.stats.requests += 1;
        state.first.get_or_insert(now);
        if state.not_before.remove(&key).is_some_and(|t| now < t) {
            state.stats.early_retries += 1;
        }
        let attempt = {
            let (n, answered) = state.attempts.entry(key.clone()).or_default();
            *n += 1;
            if *answered {
                state.stats.repeated += 1;
            }
            *n
        };
        let delay = self.options.latency.at(draw(self.options.seed, &key, attempt, 0));
        self.track_in_flight(state, now, delay);
        let mut decision = Decision { refused: None, retry_after_secs: 0, delay, headers: Vec::new() };
        if let Some(refusal) = self.injected(&key, attempt) {
            let status = if refusal == Refusal::Injected503 { 503 } else { 429 };
            if refusal == Refusal::Injected503 {
                state.stats.injected_503s += 1;
            } else {
                state.stats.injected_429s += 1;
            }
            let secs = if refusal == Refusal::Injected503 { 0 } else { self.options.injected_retry_after_secs.max(1) };
            self.refuse(state, &mut decision, &key, now, (status, refusal), secs);
            return decision;
        }
        match call.api {
            Api::Graph if self.options.graph_ru => self.charge_graph(state, call, &key, now, &mut decision),
            Api::Arm if self.options.arm_buckets => self.charge_arm(state, call, &key, now, &mut decision),
            _ => {}
        }
        if decision.refused.is_none() {
            if let Some((_, answered)) = state.attempts.get_mut(&key) {
                *answered = true;
            }
        }
        decision
    }

    fn injected(&self, key: &str, attempt: u32) -> Option<Refusal> {
        let o = &self.options;
        if o.inject_429 > 0.0 && draw(o.seed, key, attempt, 1) < o.inject_429 {
            return Some(Refusal::Injected429);
        }
        if o.inject_503 > 0.0 && draw(o.seed, key, attempt, 2) < o.inject_503 {
            return Some(Refusal::Injected503);
        }
        None
    }

    fn charge_graph(&self, state: &mut State, call: &Call, key: &str, now: Duration, decision: &mut Decision) {
        let cost = graph_cost(call.path, call.query);
        let units = self.class.units_per_10s();
        let bucket = state.graph.get_or_insert_with(|| TokenBucket::new(units, units / 10.0, now));
        match bucket.take(f64::from(cost), now) {
            Ok(_) => *state.stats.units.entry("graph".into()).or_default() += u64::from(cost),
            Err(wait) => {
                *state.stats.bucket_429s.entry("graph".into()).or_default() += 1;
                self.refuse(state, decision, key, now, (429, Refusal::Bucket), whole_secs(wait));
            }
        }
    }

    fn charge_arm(&self, state: &mut State, call: &Call, key: &str, now: Duration, decision: &mut Decision) {
        let name = call.arm_bucket();
        let bucket = state.arm.entry(name.clone()).or_insert_with(|| TokenBucket::new(ARM_BUCKET.0, ARM_BUCKET.1, now));
        let header = if name == "tenant" {
            "x-ms-ratelimit-remaining-tenant-reads"
        } else {
            "x-ms-ratelimit-remaining-subscription-reads"
        };
        match bucket.take(1.0, now) {
            Ok(left) => {
                decision.headers.push((header, format!("{}", left.floor() as u64)));
                *state.stats.units.entry("arm".into()).or_default() += 1;
                *state.stats.arm_reads.entry(name).or_default() += 1;
            }
            Err(wait) => {
                decision.headers.push((header, "0".into()));
                *state.stats.bucket_429s.entry(format!("arm:{name}")).or_default() += 1;
                self.refuse(state, decision, key, now, (429, Refusal::Bucket), whole_secs(wait));
            }
        }
    }

    fn refuse(
        &self,
        state: &mut State,
        decision: &mut Decision,
        key: &str,
        now: Duration,
        refused: (u16, Refusal),
        secs: u64,
    ) {
        decision.refused = Some(refused);
        decision.retry_after_secs = secs;
        // The client is told to wait `secs` from the moment it reads the answer.
        state.not_before.insert(key.to_string(), now + decision.delay + Duration::from_secs(secs));
    }

    fn track_in_flight(&self, state: &mut State, now: Duration, delay: Duration) {
        while state.due.peek().is_some_and(|Reverse(t)| *t <= now) {
            state.due.pop();
        }
        state.due.push(Reverse(now + delay));
        state.stats.max_in_flight = state.stats.max_in_flight.max(state.due.len() as u64);
        state.last_due = state.last_due.max(now + delay);
        state.latency_sum += delay.as_secs_f64();
    }

    /// A copy of the counters.
    pub fn stats(&self) -> ThrottleStats {
        let state = self.lock();
        let mut stats = state.stats.clone();
        if stats.requests > 0 {
            stats.mean_latency_ms = state.latency_sum * 1000.0 / stats.requests as f64;
        }
        stats.busy_secs = state.first.map_or(0.0, |first| state.last_due.saturating_sub(first).as_secs_f64());
        stats
    }

    /// Clears counters, buckets and memories.
    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    /// The floor of a collection that spent what `stats` counts, on a tenant whose longest serial chain is
    /// `chain_requests` requests: the largest of the chain at the mean latency, the Graph resource units
    /// beyond the first full bucket at the refill rate (with `graph-ru` on), and the busiest ARM bucket's reads
    /// beyond its burst at its refill rate (with `arm-buckets` on).
    pub fn floor(&self, stats: &ThrottleStats, chain_requests: usize) -> Floor {
        let chain_secs = chain_requests as f64 * self.options.latency.mean.as_secs_f64();
        let graph_ru_secs = if self.options.graph_ru {
            let units = self.class.units_per_10s();
            let spent = stats.units.get("graph").copied().unwrap_or(0) as f64;
            (spent - units).max(0.0) / (units / 10.0)
        } else {
            0.0
        };
        let arm_secs = if self.options.arm_buckets {
            let busiest = stats.arm_reads.values().copied().max().unwrap_or(0) as f64;
            (busiest - ARM_BUCKET.0).max(0.0) / ARM_BUCKET.1
        } else {
            0.0
        };
        Floor {
            secs: chain_secs.max(graph_ru_secs).max(arm_secs),
            chain_secs,
            chain_requests: chain_requests as u64,
            graph_ru_secs,
            arm_secs,
        }
    }
}

/// A wait rounded up to whole seconds, at least 1 (`Retry-After` as Graph and ARM send it).
fn whole_secs(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

/// A deterministic draw in [0, 1) from the seed, the request key, its attempt and a stream number.
fn draw(seed: u64, key: &str, attempt: u32, stream: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed ^ stream.wrapping_mul(0xd6e8_feb8_6659_fd93);
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let x = crate::generate::splitmix64(h ^ u64::from(attempt).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(options: ThrottleOptions, users: usize) -> (Throttle, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        (Throttle::new(options, users, clock.clone()), clock)
    }

    fn graph<'a>(path: &'a str, query: &'static str) -> Call<'a> {
        Call { api: Api::Graph, path, query }
    }

    fn arm(path: &str) -> Call<'_> {
        Call { api: Api::Arm, path, query: "api-version=2022-04-01" }
    }

    #[test]
    fn graph_costs_follow_the_documented_table() {
        assert_eq!(graph_cost("/v1.0/users", ""), 2);
        assert_eq!(graph_cost("/v1.0/users", "$select=id&$top=999"), 1);
        assert_eq!(graph_cost("/v1.0/groups/G/members", "$select=id,displayName&$top=999"), 2);
        assert_eq!(graph_cost("/v1.0/groups", "$select=id&$expand=owners($select=id)"), 1);
        assert_eq!(graph_cost("/v1.0/groups", "$expand=owners"), 2);
        assert_eq!(graph_cost("/v1.0/applications/A/federatedIdentityCredentials", "$select=id"), 1, "never below 1");
        assert_eq!(graph_cost("/v1.0/servicePrincipals/S/appRoleAssignments", "$top=5"), 1);
    }

    #[test]
    fn size_classes_follow_the_user_count() {
        assert_eq!(SizeClass::of(49), SizeClass::S);
        assert_eq!(SizeClass::of(50), SizeClass::M);
        assert_eq!(SizeClass::of(500), SizeClass::M);
        assert_eq!(SizeClass::of(501), SizeClass::L);
    }

    #[test]
    fn the_ru_bucket_admits_exactly_its_budget_then_429s_and_refills_with_time() {
        let options = ThrottleOptions { graph_ru: true, ..Default::default() };
        let (t, clock) = throttle(options, 10); // S: 3,500 RU per 10 s
                                                // `GET users` without options costs 2: 1,750 pages fit.
        let queries: Vec<String> = (0..1_751).map(|i| format!("$skiptoken={i}")).collect();
        for q in &queries[..1_750] {
            let d = t.admit(&Call { api: Api::Graph, path: "/v1.0/users", query: q });
            assert_eq!(d.refused, None, "{q}");
        }
        let refused = t.admit(&Call { api: Api::Graph, path: "/v1.0/users", query: &queries[1_750] });
        assert_eq!(refused.refused, Some((429, Refusal::Bucket)));
        assert_eq!(refused.retry_after_secs, 1, "2 RU at 350 RU/s is a few ms, rounded up to a second");
        assert_eq!(t.stats().units["graph"], 3_500);
        // 350 RU per second refill: after one second, 175 more users pages.
        clock.advance(Duration::from_secs(1));
        let admitted = (0..200)
            .filter(|i| {
                let q = format!("$skiptoken=after-{i}");
                t.admit(&Call { api: Api::Graph, path: "/v1.0/users", query: &q }).refused.is_none()
            })
            .count();
        assert_eq!(admitted, 175);
        assert_eq!(t.stats().bucket_429s["graph"], 1 + 25);
    }

    #[test]
    fn retry_after_covers_the_wait_for_the_cost() {
        let mut bucket = TokenBucket::new(10.0, 1.0, Duration::ZERO);
        assert_eq!(bucket.take(10.0, Duration::ZERO), Ok(0.0));
        let wait = bucket.take(3.0, Duration::ZERO).unwrap_err();
        assert_eq!(whole_secs(wait), 3);
        assert!(bucket.take(3.0, Duration::from_millis(2_999)).is_err());
        assert!(bucket.take(3.0, Duration::from_secs(3)).is_ok());
    }

    #[test]
    fn asking_again_for_an_answered_url_is_a_repeat_a_retry_after_a_refusal_is_not() {
        let options = ThrottleOptions { arm_buckets: true, ..Default::default() };
        let (t, clock) = throttle(options, 10);
        for i in 0..250 {
            t.admit(&arm(&format!("/subscriptions/s1/fill{i}")));
        }
        let refused = "/subscriptions/s1/refused";
        assert!(t.admit(&arm(refused)).refused.is_some());
        clock.advance(Duration::from_secs(1));
        assert_eq!(t.admit(&arm(refused)).refused, None, "the retry is answered");
        assert_eq!(t.stats().repeated, 0);
        t.admit(&arm(refused));
        t.admit(&arm("/subscriptions/s1/fill7"));
        assert_eq!(t.stats().repeated, 2);
    }

    #[test]
    fn early_retries_count_a_return_before_retry_after_and_not_after() {
        let options = ThrottleOptions { arm_buckets: true, ..Default::default() };
        let (t, clock) = throttle(options, 10);
        for i in 0..250 {
            assert_eq!(t.admit(&arm(&format!("/subscriptions/s1/fill{i}"))).refused, None);
        }
        let (patient, hasty) = ("/subscriptions/s1/patient", "/subscriptions/s1/hasty");
        for url in [patient, hasty] {
            let refused = t.admit(&arm(url));
            assert_eq!((refused.refused, refused.retry_after_secs), (Some((429, Refusal::Bucket)), 1));
        }
        // Another URL of the same bucket was never refused: asking it is not an early retry.
        clock.advance(Duration::from_millis(500));
        t.admit(&arm("/subscriptions/s1/other"));
        assert_eq!(t.stats().early_retries, 0);
        // Back half a second into a one-second Retry-After: early.
        t.admit(&arm(hasty));
        assert_eq!(t.stats().early_retries, 1);
        // Back once the Retry-After expired: not early.
        clock.advance(Duration::from_millis(500));
        t.admit(&arm(patient));
        assert_eq!(t.stats().early_retries, 1);
    }

    #[test]
    fn arm_subscription_buckets_are_independent_and_carry_the_remaining_reads() {
        let options = ThrottleOptions { arm_buckets: true, ..Default::default() };
        let (t, _clock) = throttle(options, 10);
        for i in 0..250 {
            let d = t.admit(&arm(&format!("/subscriptions/a/x{i}")));
            assert_eq!(d.refused, None);
            assert_eq!(d.headers, vec![("x-ms-ratelimit-remaining-subscription-reads", (249 - i).to_string())]);
        }
        assert!(t.admit(&arm("/subscriptions/a/more")).refused.is_some(), "a is dry");
        assert_eq!(t.admit(&arm("/subscriptions/b/x")).refused, None, "b has its own bucket");
        let tenant = t.admit(&arm("/providers/Microsoft.Management/managementGroups"));
        assert_eq!(tenant.refused, None, "tenant-level reads have their own bucket");
        assert_eq!(tenant.headers[0].0, "x-ms-ratelimit-remaining-tenant-reads");
        assert_eq!(t.stats().arm_reads["sub:a"], 250);
        assert_eq!(t.stats().bucket_429s["arm:sub:a"], 1);
    }

    #[test]
    fn injected_fault_rates_hold_over_many_requests_at_a_seed() {
        let options = ThrottleOptions { inject_429: 0.05, inject_503: 0.01, seed: 7, ..Default::default() };
        let (t, _clock) = throttle(options.clone(), 10);
        let n = 20_000;
        for i in 0..n {
            t.admit(&graph(&format!("/v1.0/groups/{i}/members"), ""));
        }
        let s = t.stats();
        let rate429 = s.injected_429s as f64 / n as f64;
        let rate503 = s.injected_503s as f64 / n as f64;
        assert!((0.045..0.055).contains(&rate429), "{rate429}");
        assert!((0.007..0.013).contains(&rate503), "{rate503}");
        assert!(s.bucket_429s.is_empty(), "no bucket is on");
        // A 429 says how long to wait; a 503 says nothing (the client backs off), and no retry of it is early.
        let (t2, clock) = throttle(options.clone(), 10);
        let mut seen = (false, false);
        for i in 0..2_000 {
            let path = format!("/v1.0/groups/{i}/members");
            let d = t2.admit(&graph(&path, ""));
            match d.refused {
                Some((429, _)) => {
                    assert!(d.retry_after_secs >= 1);
                    seen.0 = true;
                }
                Some((503, _)) => {
                    assert_eq!(d.retry_after_secs, 0);
                    seen.1 = true;
                    clock.advance(d.delay);
                    t2.admit(&graph(&path, ""));
                }
                _ => {}
            }
        }
        assert_eq!(seen, (true, true));
        assert_eq!(t2.stats().early_retries, 0, "a 503 retried once answered is not early");
        // Same seed, same decisions; another seed, others.
        let (again, _) = throttle(options.clone(), 10);
        let (other, _) = throttle(ThrottleOptions { seed: 8, ..options }, 10);
        for i in 0..n {
            again.admit(&graph(&format!("/v1.0/groups/{i}/members"), ""));
            other.admit(&graph(&format!("/v1.0/groups/{i}/members"), ""));
        }
        assert_eq!(again.stats().injected_429s, s.injected_429s);
        assert_ne!(other.stats().injected_429s, s.injected_429s);
    }

    #[test]
    fn latency_is_drawn_within_its_jitter_deterministically() {
        let latency = Latency::parse("60ms±20ms").unwrap();
        assert_eq!(latency, Latency { mean: Duration::from_millis(60), jitter: Duration::from_millis(20) });
        assert_eq!(Latency::parse("60ms+-20ms").unwrap(), latency);
        assert_eq!(Latency::parse("60").unwrap().mean, Duration::from_millis(60));
        assert!(Latency::parse("10ms±20ms").is_err());
        assert!(Latency::parse("fast").is_err());
        let options = ThrottleOptions { latency, seed: 3, ..Default::default() };
        let (a, _) = throttle(options.clone(), 10);
        let (b, _) = throttle(options, 10);
        let delays: Vec<Duration> = (0..500).map(|i| a.admit(&graph(&format!("/v1.0/x{i}"), "")).delay).collect();
        let again: Vec<Duration> = (0..500).map(|i| b.admit(&graph(&format!("/v1.0/x{i}"), "")).delay).collect();
        assert_eq!(delays, again);
        assert!(delays.iter().all(|d| (Duration::from_millis(40)..=Duration::from_millis(80)).contains(d)));
        let mean = a.stats().mean_latency_ms;
        assert!((57.0..63.0).contains(&mean), "{mean}");
        assert!(
            delays.iter().any(|d| *d < Duration::from_millis(45))
                && delays.iter().any(|d| *d > Duration::from_millis(75))
        );
    }

    #[test]
    fn in_flight_counts_answers_not_yet_due() {
        let options = ThrottleOptions { latency: Latency::parse("100ms").unwrap(), ..Default::default() };
        let (t, clock) = throttle(options, 10);
        for i in 0..5 {
            t.admit(&graph(&format!("/v1.0/a{i}"), ""));
        }
        clock.advance(Duration::from_millis(150));
        t.admit(&graph("/v1.0/b", ""));
        let s = t.stats();
        assert_eq!(s.max_in_flight, 5);
        assert!((s.busy_secs - 0.25).abs() < 1e-6, "{}", s.busy_secs);
    }

    #[test]
    fn the_floor_of_a_tiny_tenant() {
        // 120 users (M: 5,000 RU per 10 s), page size 50: users 3 pages; 2 groups, the larger of 120 members
        // (3 pages) → chain 1 + 3 = 4; subscriptions 1 page → identities 1 page → credentials 1 page: 3.
        let listings = [
            Listing { items: 120, dependent_pages: 0 },
            Listing { items: 2, dependent_pages: pages(120, 50) },
            Listing { items: 1, dependent_pages: 2 },
        ];
        assert_eq!(serial_chain(&listings, 50), 4);
        assert_eq!(serial_chain(&[], 50), 0);
        let options = ThrottleOptions {
            graph_ru: true,
            arm_buckets: true,
            latency: Latency::parse("60ms±20ms").unwrap(),
            ..Default::default()
        };
        let (t, _) = throttle(options, 120);
        let mut stats = ThrottleStats::default();
        let floor = t.floor(&stats, 4);
        assert!((floor.chain_secs - 0.24).abs() < 1e-9 && floor.secs == floor.chain_secs, "{floor:?}");
        // 9,000 RU: 4,000 beyond the first bucket at 500 RU/s = 8 s; 300 reads in one subscription: 2 s.
        stats.units.insert("graph".into(), 9_000);
        stats.arm_reads.insert("sub:a".into(), 300);
        stats.arm_reads.insert("sub:b".into(), 100);
        let floor = t.floor(&stats, 4);
        assert!((floor.graph_ru_secs - 8.0).abs() < 1e-9, "{floor:?}");
        assert!((floor.arm_secs - 2.0).abs() < 1e-9, "{floor:?}");
        assert!((floor.secs - 8.0).abs() < 1e-9);
    }

    #[test]
    fn throttle_names_parse() {
        let mut o = ThrottleOptions::default();
        assert!(!o.is_active());
        o.set_throttles("graph-ru, arm-buckets").unwrap();
        assert!(o.graph_ru && o.arm_buckets && o.is_active());
        assert!(ThrottleOptions::default().set_throttles("graph").is_err());
    }
}
