//! The one HTTP client behind every ARM and Graph request: authentication, paging, retries, classification.
//!
//! Why it is written this way:
//! - A bearer token goes only to the origin (scheme, host, port) of the base URL it belongs to. Every URL is
//!   checked before a token is attached, redirects are never followed, and a `nextLink` to another origin is
//!   not requested: it becomes an [`GapReason::UntrustedNextLink`] failure.
//! - 429 and 503 are retried after `Retry-After` (seconds or HTTP date), never earlier; without it the delay
//!   comes from an exponential backoff with jitter (`backon`'s schedule). The retry loop itself is ours
//!   because the decision depends on the response, not on an error, and the `Retry-After` waits must count
//!   against the same attempt and time budget as the backoff.
//! - Every attempt (sending the request and reading its whole body) has a deadline, so a server that stalls or
//!   drip-feeds a body cannot hold a scan: past it the request is a [`GapReason::Timeout`] failure.
//! - Every failure is classified as a [`GapReason`], so a caller can record a coverage gap and carry on. Its
//!   message names the URL and quotes the server only through [`redact`]: a server echoing the bearer token,
//!   sending terminal escapes or a huge body gets none of it into the snapshot, the report or the logs.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use azpath_graph::snapshot::{GapReason, Interner};
use backon::BackoffBuilder;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::auth::{Audience, TokenSource};
use super::cloud::{is_loopback, Endpoints};
use super::pacer::{self, BucketKey, Budget, Clock, Finish, Pacer, PacerState, SystemClock, TenantSize};
use super::redact::redact;

/// Retry limits for throttled (429) and unavailable (503) responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Most time spent waiting between the attempts of one request; a `Retry-After` beyond it is not waited for.
    pub max_total_wait: Duration,
    /// First backoff delay when the server gives no `Retry-After` (a 503 may come without one); doubled per
    /// attempt up to `max_backoff`, each delay lengthened by a random part of up to itself.
    pub initial_backoff: Duration,
    /// Largest backoff delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_total_wait: Duration::from_secs(180),
            // As Azure's SDKs (`@azure/core-rest-pipeline`: 1 s, exponential, at most 64 s): a transient 503
            // is over in about a second, and a longer first wait holds the request's listing back.
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The `--ca-cert` file could not be read.
    #[error("--ca-cert {path}: {source}")]
    ReadCaCert {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `--ca-cert` file holds no usable PEM certificate.
    #[error("--ca-cert {path}: not a PEM certificate bundle: {message}")]
    InvalidCaCert {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The TLS stack refused the configuration.
    #[error("building the HTTP client: {0}")]
    Build(String),
}

/// Builds the HTTP client for ARM, Graph and the identity credentials: no redirects, rustls with the
/// platform's roots plus the certificates in `ca_cert` (a PEM bundle, from `--ca-cert`).
pub fn build_client(ca_cert: Option<&Path>) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("azpath/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| ClientError::ReadCaCert { path: shown.clone(), source })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ClientError::InvalidCaCert { path: shown.clone(), message: e.to_string() })?;
        if certs.is_empty() {
            return Err(ClientError::InvalidCaCert { path: shown, message: "no certificate found".into() });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| ClientError::Build(error_chain(&e)))
}

/// One API a token belongs to: its base URL and the token audience.
#[derive(Debug, Clone)]
pub struct Service {
    /// Token audience.
    pub audience: Audience,
    /// Base URL; tokens for `audience` go to this origin only.
    pub base: Url,
}

impl Service {
    /// Azure Resource Manager at `endpoints.arm`.
    pub fn arm(endpoints: &Endpoints) -> Self {
        Service { audience: Audience::Arm, base: endpoints.arm.clone() }
    }

    /// Microsoft Graph at `endpoints.graph`.
    pub fn graph(endpoints: &Endpoints) -> Self {
        Service { audience: Audience::Graph, base: endpoints.graph.clone() }
    }

    /// True when a token of this service may be sent to `url`: same origin as the base URL.
    pub fn may_receive_token(&self, url: &Url) -> bool {
        url.origin() == self.base.origin() && (url.scheme() == "https" || is_loopback(url))
    }
}

/// A request or listing that failed, classified for the coverage report. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// The class of failure.
    pub reason: GapReason,
    /// HTTP status, when a response was received.
    pub status: Option<u16>,
    /// What happened, naming the URL.
    pub message: String,
}

impl FetchError {
    fn new(reason: GapReason, status: Option<u16>, message: String) -> Self {
        FetchError { reason, status, message }
    }

    /// The same failure with its message passed through [`redact`]: `secrets` (the request's token) and
    /// anything that looks like a credential removed, control characters escaped, length capped. Apply it
    /// once: the cap counts the text it is given.
    pub fn redacted(self, secrets: &[&str]) -> Self {
        FetchError { message: redact(&self.message, secrets), ..self }
    }
}

/// The records of a listing, and the failure that stopped it early, if any (records from the pages before
/// the failure are kept: they are true, just incomplete).
#[derive(Debug)]
pub struct Listing<T> {
    /// Records from every page read.
    pub items: Vec<T>,
    /// Pages read.
    pub pages: usize,
    /// Why the listing is incomplete.
    pub error: Option<FetchError>,
}

/// A listing read one page at a time ([`ApiClient::pages`]): `GET url`, then each `nextLink` after it (same
/// origin as the service, never a page seen before, at most [`MAX_PAGES`]).
pub struct Pages<'c, 'a> {
    client: &'c ApiClient<'a>,
    service: &'c Service,
    next: Option<Url>,
    /// Why the listing cannot go on past the last page read (a `nextLink` refused), told by the next call.
    broken: Option<FetchError>,
    seen: HashSet<String>,
    read: usize,
}

impl Pages<'_, '_> {
    /// The records of the next page, or why it could not be read (then the listing is over); `None` once the
    /// last page was read or a failure told.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Option<Result<Vec<T>, FetchError>> {
        if let Some(e) = self.broken.take() {
            return Some(Err(e));
        }
        let url = self.next.take()?;
        self.seen.insert(url.as_str().to_string());
        let page: Page<T> = match self.client.get(self.service, &url).await {
            Ok(page) => page,
            Err(e) => return Some(Err(e)),
        };
        self.read += 1;
        if let Some(link) = page.next_link.filter(|l| !l.is_empty()) {
            match self.client.next_url(self.service, &url, &link, &self.seen, self.read) {
                Ok(next) => self.next = Some(next),
                Err(e) => self.broken = Some(self.client.redacted(self.service, e).await),
            }
        }
        Some(Ok(page.value))
    }

    /// Whether the server announced a page after the last one read.
    pub fn more(&self) -> bool {
        self.next.is_some() || self.broken.is_some()
    }
}

/// Most pages one listing may have; past it the listing is treated as a loop.
const MAX_PAGES: usize = 10_000;

/// One page of an ARM or Graph listing.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    /// The records of this page.
    pub value: Vec<T>,
    /// The next page: ARM `nextLink`, Graph `@odata.nextLink`, or `@nextLink` (management groups).
    #[serde(default, rename = "nextLink", alias = "@odata.nextLink", alias = "@nextLink")]
    pub next_link: Option<String>,
}

/// Default whole-request deadline (`--request-timeout`): sending one request and reading its whole body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Default cap on requests in flight per service (`--concurrency`); the pacers keep the rate within the
/// services' budgets, this only bounds how many wait on latency at once.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Sends authenticated GETs for one scan, each paced by its service's [`Pacer`] (ARM and Graph apart).
pub struct ApiClient<'a> {
    http: reqwest::Client,
    tokens: &'a dyn TokenSource,
    retry: RetryPolicy,
    request_timeout: Duration,
    arm_pacer: Pacer,
    graph_pacer: Pacer,
    /// One copy of each repeated value the pages hold (scopes, role definition and principal ids, member ids):
    /// shared by every page of the scan, whichever thread parses it.
    interner: Arc<Interner>,
}

impl<'a> ApiClient<'a> {
    /// A client sending through `http` with tokens from `tokens`, with the [`DEFAULT_REQUEST_TIMEOUT`].
    /// The pacers allow [`DEFAULT_CONCURRENCY`] requests in flight per service and assume a small Graph tenant
    /// until [`set_graph_tenant_size`](Self::set_graph_tenant_size) says otherwise.
    pub fn new(http: reqwest::Client, tokens: &'a dyn TokenSource, retry: RetryPolicy) -> Self {
        ApiClient {
            http,
            tokens,
            retry,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            arm_pacer: Self::pacer(Budget::ARM_READS, DEFAULT_CONCURRENCY, Arc::new(SystemClock)),
            graph_pacer: Self::pacer(Budget::graph(TenantSize::Small), DEFAULT_CONCURRENCY, Arc::new(SystemClock)),
            interner: Interner::new(),
        }
    }

    fn pacer(budget: Budget, max_in_flight: usize, clock: Arc<dyn Clock>) -> Pacer {
        Pacer::new(PacerState::new(budget, max_in_flight), clock)
    }

    /// Sets the most requests in flight per service (`--concurrency`, the cap of each pacer's window).
    pub fn with_concurrency(mut self, max_in_flight: usize) -> Self {
        let graph = self.graph_pacer.snapshot().budget();
        self.arm_pacer = Self::pacer(Budget::ARM_READS, max_in_flight, Arc::new(SystemClock));
        self.graph_pacer = Self::pacer(graph, max_in_flight, Arc::new(SystemClock));
        self
    }

    /// Paces Graph to the resource-unit budget of a tenant of `size` (from the first users page, or the
    /// configuration).
    pub fn set_graph_tenant_size(&self, size: TenantSize) {
        self.graph_pacer.set_budget(Budget::graph(size));
    }

    /// The pacer of `service`.
    pub fn pacer_of(&self, service: &Service) -> &Pacer {
        match service.audience {
            Audience::Arm => &self.arm_pacer,
            Audience::Graph => &self.graph_pacer,
        }
    }

    /// Sets the deadline of one attempt: sending the request and reading its whole body (waits between
    /// retries are bounded by the [`RetryPolicy`] instead). Past it the request fails as
    /// [`GapReason::Timeout`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// GETs one JSON document and deserializes it; errors name the URL and the failing field, and their
    /// text is [`redact`]ed (the request's token, JWTs, control characters, length).
    pub async fn get<T: DeserializeOwned>(&self, service: &Service, url: &Url) -> Result<T, FetchError> {
        let shown = display_url(url);
        if !service.may_receive_token(url) {
            // Callers only build URLs from the base, so this is a defence in depth.
            let message = format!("{shown}: not under {}, refusing to send the token", service.base);
            return Err(FetchError::new(GapReason::UntrustedNextLink, None, message).redacted(&[]));
        }
        let token = self
            .tokens
            .token(service.audience)
            .await
            .map_err(|e| FetchError::new(GapReason::NoCredential, None, e.to_string()).redacted(&[]))?;
        let secret = token.secret();
        let body = self.send(service, url, &shown, secret).await.map_err(|e| e.redacted(&[secret]))?;
        self.interner.scope(|| parse(url, &body)).map_err(|e| e.redacted(&[secret]))
    }

    /// GETs `url` and every `nextLink` / `@odata.nextLink` after it, collecting `value` of each page.
    pub async fn list<T: DeserializeOwned>(&self, service: &Service, url: Url) -> Listing<T> {
        self.list_with(service, url, |_, _| {}).await
    }

    /// [`list`](Self::list), showing each page's records to `on_page` as it arrives, with whether the
    /// server announced a next page (so a caller can start dependent work before the listing ends).
    pub async fn list_with<T: DeserializeOwned>(
        &self,
        service: &Service,
        url: Url,
        mut on_page: impl FnMut(&[T], bool),
    ) -> Listing<T> {
        let mut listing = Listing { items: Vec::new(), pages: 0, error: None };
        let mut pages = self.pages(service, url);
        while let Some(read) = pages.next::<T>().await {
            match read {
                Ok(records) => {
                    listing.pages += 1;
                    on_page(&records, pages.more());
                    if listing.items.is_empty() {
                        listing.items = records;
                    } else {
                        listing.items.extend(records);
                    }
                }
                Err(e) => {
                    listing.error = Some(e);
                    break;
                }
            }
        }
        listing
    }

    /// The listing of `url` read one page at a time ([`Pages::next`]), for a caller that acts on each page
    /// before it asks for the next (and may stop early).
    pub fn pages<'c>(&'c self, service: &'c Service, url: Url) -> Pages<'c, 'a> {
        Pages { client: self, service, next: Some(url), broken: None, seen: HashSet::new(), read: 0 }
    }

    /// `e` with its text [`redact`]ed, the current token of `service` included (the URLs it names came from
    /// the server, which knows the token).
    async fn redacted(&self, service: &Service, e: FetchError) -> FetchError {
        match self.tokens.token(service.audience).await {
            Ok(token) => e.redacted(&[token.secret()]),
            Err(_) => e.redacted(&[]),
        }
    }

    /// Validates a `nextLink`: same origin as the service, not seen before, within the page bound.
    fn next_url(
        &self,
        service: &Service,
        current: &Url,
        link: &str,
        seen: &HashSet<String>,
        pages: usize,
    ) -> Result<Url, FetchError> {
        let next = current.join(link).map_err(|e| {
            FetchError::new(GapReason::Malformed, None, format!("{}: invalid nextLink: {e}", display_url(current)))
        })?;
        if !service.may_receive_token(&next) {
            return Err(FetchError::new(
                GapReason::UntrustedNextLink,
                None,
                format!(
                    "{}: nextLink points at {}, not at {}; it was not followed",
                    display_url(current),
                    next.origin().ascii_serialization(),
                    service.base.origin().ascii_serialization()
                ),
            ));
        }
        if seen.contains(next.as_str()) || pages >= MAX_PAGES {
            return Err(FetchError::new(
                GapReason::PageLoop,
                None,
                format!("{}: nextLink repeats an earlier page (after {pages} pages)", display_url(current)),
            ));
        }
        Ok(next)
    }

    /// One GET with retries on 429/503, each attempt admitted by the service's pacer and within the request
    /// deadline; returns the body of a 2xx response. A throttled attempt closes the whole service until its
    /// `Retry-After` (the pacer makes the retry wait for it too). Error text is not yet redacted:
    /// [`get`](Self::get) does it.
    async fn send(&self, service: &Service, url: &Url, shown: &str, secret: &str) -> Result<Vec<u8>, FetchError> {
        let (pacer, bucket, cost) = match service.audience {
            Audience::Arm => (&self.arm_pacer, pacer::arm_bucket(url), 1.0),
            Audience::Graph => (&self.graph_pacer, BucketKey::Tenant, pacer::graph_cost(url)),
        };
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.retry.initial_backoff)
            .with_max_delay(self.retry.max_backoff)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The service is closed past this request's wait budget (a long Retry-After on another one).
            let closed = pacer.closed_for();
            if waited + closed > self.retry.max_total_wait {
                return Err(self.closed(shown, closed));
            }
            let permit = pacer.admit(bucket.clone(), cost).await;
            let outcome =
                match tokio::time::timeout(self.request_timeout, self.attempt(url, shown, secret, attempt)).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        permit.finish(Finish::Abandoned);
                        return Err(self.timed_out(shown, attempt));
                    }
                };
            let (status, asked) = match outcome {
                Ok(Attempt::Body(body)) => {
                    permit.finish(Finish::Done);
                    return Ok(body);
                }
                Err(e) => {
                    permit.finish(Finish::Done);
                    return Err(e);
                }
                Ok(Attempt::Retry { status, retry_after }) => (status, retry_after),
            };
            let delay = asked.unwrap_or_else(|| backoff.next().unwrap_or(self.retry.max_backoff));
            permit.finish(Finish::Throttled { retry_after: delay });
            let over_budget = waited.checked_add(delay).is_none_or(|total| total > self.retry.max_total_wait);
            if attempt >= self.retry.max_attempts || over_budget {
                return Err(self.throttled(shown, status, attempt, delay, over_budget));
            }
            tracing::debug!(url = %shown, status = status.as_u16(), attempt, delay_ms = delay.as_millis() as u64, "retrying later");
            // This request waits out the delay itself; when the throttling was congestion the pacer also holds
            // every other request of the service until then.
            tokio::time::sleep(delay).await;
            waited += delay;
        }
    }

    /// One attempt: sends the request and reads the whole body of a 2xx response, or says when to retry a
    /// 429/503, or classifies any other status.
    async fn attempt(&self, url: &Url, shown: &str, secret: &str, attempt: u32) -> Result<Attempt, FetchError> {
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(secret)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                let error = redact(&error_chain(&e), &[secret]);
                tracing::debug!(method = "GET", url = %shown, attempt, %error, "request failed");
                FetchError::new(GapReason::Transport, None, format!("{shown}: {}", error_chain(&e)))
            })?;
        let status = response.status();
        tracing::debug!(method = "GET", url = %shown, status = status.as_u16(), attempt, "response");
        if status.is_success() {
            return read_body(response, shown).await.map(Attempt::Body);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = retry_after(response.headers(), SystemTime::now());
            return Ok(Attempt::Retry { status, retry_after });
        }
        let body = response.bytes().await.unwrap_or_default();
        let reason = match status {
            StatusCode::UNAUTHORIZED => GapReason::Unauthorized,
            StatusCode::FORBIDDEN => GapReason::Forbidden,
            StatusCode::NOT_FOUND => GapReason::NotFound,
            _ => GapReason::HttpError,
        };
        Err(FetchError::new(reason, Some(status.as_u16()), format!("{shown}: {status}{}", api_error(&body))))
    }

    /// The failure of an attempt past the request deadline.
    fn timed_out(&self, shown: &str, attempt: u32) -> FetchError {
        tracing::debug!(method = "GET", url = %shown, attempt, "request deadline passed");
        let limit = self.request_timeout;
        let limit = if limit.subsec_nanos() == 0 { format!("{} s", limit.as_secs()) } else { format!("{limit:.1?}") };
        let message =
            format!("{shown}: no complete response within {limit} (--request-timeout); the request was abandoned");
        FetchError::new(GapReason::Timeout, None, message)
    }

    /// The failure of a request not sent because its service stays closed (a `Retry-After`) past its budget.
    fn closed(&self, shown: &str, closed: Duration) -> FetchError {
        let message = format!(
            "{shown}: throttled: the service asked to wait {} s more, beyond the {} s budget; not sent",
            closed.as_secs_f32().ceil(),
            self.retry.max_total_wait.as_secs()
        );
        FetchError::new(GapReason::Throttled, Some(429), message)
    }

    /// The failure of a request still throttled when the attempts or the wait budget are spent.
    fn throttled(
        &self,
        shown: &str,
        status: StatusCode,
        attempt: u32,
        delay: Duration,
        over_budget: bool,
    ) -> FetchError {
        let why = if over_budget && attempt < self.retry.max_attempts {
            format!(
                "the next retry ({} s) would exceed the {} s budget",
                delay.as_secs_f32().ceil(),
                self.retry.max_total_wait.as_secs()
            )
        } else {
            format!("still {} after {attempt} attempts", status.as_u16())
        };
        FetchError::new(GapReason::Throttled, Some(status.as_u16()), format!("{shown}: throttled: {why}"))
    }
}

/// What a JSON batch ([`super::batch`]) is sent with: this client's connection pool, tokens, retry policy and
/// attempt deadline (its pacers through [`ApiClient::pacer_of`]).
impl<'a> ApiClient<'a> {
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn tokens(&self) -> &'a dyn TokenSource {
        self.tokens
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The scan's interner: what a page parsed elsewhere (a JSON batch item) shares its values through.
    pub(crate) fn interner(&self) -> &Arc<Interner> {
        &self.interner
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// What one attempt gave short of a failure.
enum Attempt {
    /// The body of a 2xx response.
    Body(Vec<u8>),
    /// A 429 or 503, and the `Retry-After` delay if the server gave one.
    Retry { status: StatusCode, retry_after: Option<Duration> },
}

/// Largest response body read; a page of 999 directory objects is a few megabytes.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Reads a body, refusing one larger than [`MAX_BODY_BYTES`] instead of exhausting memory.
pub(crate) async fn read_body(mut response: reqwest::Response, shown: &str) -> Result<Vec<u8>, FetchError> {
    let status = Some(response.status().as_u16());
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY_BYTES => {
                let message = format!("{shown}: response body larger than {} MiB", MAX_BODY_BYTES >> 20);
                return Err(FetchError::new(GapReason::Malformed, status, message));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(e) => {
                let message = format!("{shown}: reading body: {}", error_chain(&e));
                return Err(FetchError::new(GapReason::Transport, status, message));
            }
        }
    }
}

/// Parses a JSON body, naming the URL and the JSON path of the first bad field.
fn parse<T: DeserializeOwned>(url: &Url, body: &[u8]) -> Result<T, FetchError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        FetchError::new(
            GapReason::Malformed,
            None,
            format!("{}: unexpected response body at `{path}`: {}", display_url(url), e.into_inner()),
        )
    })
}

/// The `Retry-After` delay: delta seconds, or an HTTP date (a date already past gives `None`, so the
/// backoff applies instead of an immediate retry).
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    at.duration_since(now).ok().filter(|d| !d.is_zero())
}

/// `" (Code: message)"` from an ARM or Graph error body (shortened with the rest of the message by
/// [`redact`]); empty when the body has none.
pub(crate) fn api_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(e) => format!(" ({}: {})", e.error.code, e.error.message),
        Err(_) => String::new(),
    }
}

/// The URL as shown in logs and messages: opaque paging tokens elided, nothing else changed.
pub fn display_url(url: &Url) -> String {
    let mut shown = url[..url::Position::AfterPath].to_string();
    if url.query().is_some() {
        let pairs: Vec<String> = url
            .query_pairs()
            .map(|(k, v)| {
                let opaque = k.eq_ignore_ascii_case("$skiptoken") || k.eq_ignore_ascii_case("$skip");
                format!("{k}={}", if opaque { "…" } else { &v })
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    shown
}

/// An error and its sources on one line (reqwest's top-level message alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::now();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h, now).unwrap();
        assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30), "{d:?}");
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn skiptokens_are_elided() {
        let u = Url::parse("https://m.example/x?api-version=1&$skiptoken=abc").unwrap();
        assert_eq!(display_url(&u), "https://m.example/x?api-version=1&$skiptoken=…");
    }
}
