//! Collectors: the only networked code in azpath. They read Azure Resource Manager and Microsoft Graph and
//! fill a [`Snapshot`]; they compute nothing about privileges.
//!
//! Every request is listed in `docs/collection.md`. A failure on one scope (403 on a subscription, a throttled
//! listing, a malformed page, a request past its deadline) becomes a [`CoverageGap`] in the snapshot and the
//! scan goes on. The subscriptions listing obeys the same rule: the pages read before a failure are kept, the
//! failure is an `arm.subscriptions` gap, and each `--subscription` (or subscription under a
//! `--management-group`) it did not reach is read directly with `GET /subscriptions/{id}`. Only a resource
//! manager credential that does not work at all is a [`CollectError`]: no token, or a 401 on the first page of
//! the subscriptions listing. Then every ARM request would fail the same way, and a report made of Graph data
//! alone would read as "no findings" where the truth is "not scanned".
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use azpath::collect::{self, auth::DefaultTokenSource, Cloud, CollectOptions, Endpoints};
//!
//! let endpoints = Endpoints::new(Cloud::Public, None, None, None)?;
//! let http = collect::build_client(None)?;
//! let tokens = DefaultTokenSource::from_process_env(&endpoints, Some(&http));
//! let options = CollectOptions { http_client: Some(http), ..Default::default() };
//! let snapshot = collect::collect(&endpoints, &tokens, &options).await?;
//! println!("{} role assignments", snapshot.azure.role_assignments.len());
//! # Ok(()) }
//! ```

pub mod auth;
pub mod authorization;
pub mod batch;
pub mod cloud;
pub mod compute;
pub mod container_service;
pub mod entra_units;
pub mod http;
pub mod hybrid_kubernetes;
pub mod kube;
pub mod kube_live;
pub mod managed_identity;
pub mod msgraph;
pub mod pacer;
mod probe;
pub mod redact;
pub mod resources;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use azpath_graph::snapshot::{
    AdministrativeUnit, AdministrativeUnitMembers, AppRoleAssignment, Application, ApplicationFederatedCredentials,
    ConnectedCluster, CoverageGap, DenyAssignment, DirectoryObject, DirectoryRoleAssignment, DirectoryRoleDefinition,
    DirectoryRoleEligibilityScheduleInstance, EntraData, FederatedIdentityCredential, GapReason,
    GraphFederatedCredential, Group, GroupEligibilityScheduleInstance, GroupMembers, IdentityBinding, ManagedCluster,
    ManagementGroup, ManagementGroupChild, ManagementGroupDetails, ManagementGroupProperties, Metadata, ResourceGroup,
    RoleAssignment, RoleDefinition, RoleEligibilityScheduleInstance, ServicePrincipal, Snapshot, SourceRecord,
    Subscription, User, UserAssignedIdentity,
};
use futures::stream::{self, StreamExt};
use url::Url;

pub use auth::{AccessToken, Audience, DefaultTokenSource, TokenError, TokenSource};
pub use authorization::RbacList;
pub use cloud::{Cloud, EndpointError, Endpoints};
pub use http::{
    build_client, ApiClient, ClientError, FetchError, Listing, Page, RetryPolicy, Service, DEFAULT_REQUEST_TIMEOUT,
};
use resources::Descendant;

/// What to collect and how hard to try.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Subscription ids (or `/subscriptions/{id}`) to collect (`--subscription`). Empty with
    /// `management_groups` empty: every subscription the caller can see.
    pub subscriptions: Vec<String>,
    /// Management groups whose whole subtree is collected (`--management-group`).
    pub management_groups: Vec<String>,
    /// Requests in flight at once per service (ARM and Graph each, in separate pools): the cap of each
    /// pacer's window ([`pacer`]). The pacers keep the request rate within the services' budgets; this only
    /// bounds how many requests wait on latency at once.
    pub concurrency: usize,
    /// The Microsoft Graph tenant size class to pace for; `None` reads it from the first users page.
    pub graph_tenant_size: Option<pacer::TenantSize>,
    /// Send the per-object Graph listings' first pages (group members, owners, PIM for Groups, …) in JSON
    /// batches of up to 20 ([`batch`]) instead of one request each.
    pub graph_batch: bool,
    /// Retries for 429/503.
    pub retry: RetryPolicy,
    /// Deadline of one request attempt, sending it and reading its whole body (`--request-timeout`); past
    /// it the listing is a [`GapReason::Timeout`] gap.
    pub request_timeout: Duration,
    /// Show a progress bar on stderr (the CLI sets it when stderr is a terminal and not `--quiet`).
    pub show_progress: bool,
    /// The HTTP client (from [`build_client`], e.g. with `--ca-cert`); `None` builds a default one.
    pub http_client: Option<reqwest::Client>,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            subscriptions: Vec::new(),
            management_groups: Vec::new(),
            concurrency: http::DEFAULT_CONCURRENCY,
            graph_tenant_size: None,
            graph_batch: true,
            retry: RetryPolicy::default(),
            request_timeout: http::DEFAULT_REQUEST_TIMEOUT,
            show_progress: false,
            http_client: None,
        }
    }
}

/// A failure that makes the whole collection meaningless. Anything narrower is a coverage gap.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// No credential gives an Azure Resource Manager token.
    #[error("cannot authenticate to Azure Resource Manager")]
    NoCredential(#[source] TokenError),
    /// The resource manager rejected the token (401) on the first page of the subscriptions listing: no ARM
    /// request can succeed. Any other failure of the listing is a coverage gap.
    #[error("listing subscriptions")]
    Subscriptions(#[source] FetchError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A `--subscription` or `--management-group` value is not a valid id.
    #[error("{flag}: `{value}` is not a valid id")]
    InvalidId {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
    },
}

/// Collects everything `options` selects into a normalized snapshot.
pub async fn collect(
    endpoints: &Endpoints,
    tokens: &dyn TokenSource,
    options: &CollectOptions,
) -> Result<Snapshot, CollectError> {
    let wanted = Wanted::parse(options)?;
    let http = match &options.http_client {
        Some(c) => c.clone(),
        None => build_client(None)?,
    };
    // RFC 3339 with all nine fraction digits, so every snapshot's `collected_at` has one shape and sorts as text.
    const COLLECTED_AT: &[time::format_description::FormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    let collected_at = time::OffsetDateTime::now_utc().format(COLLECTED_AT).unwrap_or_default();
    let mut snap = Snapshot::new(Metadata {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at,
        cloud: endpoints.cloud.name().to_string(),
        arm_url: endpoints.arm.to_string(),
        graph_url: endpoints.graph.to_string(),
        tenant_id: None,
    });
    let (spawn, mut spawned) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Ctx {
        spawn,
        client: ApiClient::new(http, tokens, options.retry.clone())
            .with_request_timeout(options.request_timeout)
            .with_concurrency(options.concurrency.max(1)),
        arm: Service::arm(endpoints),
        graph: Service::graph(endpoints),
        concurrency: options.concurrency.max(1),
        graph_batch: options.graph_batch,
        graph_tenant_size: options.graph_tenant_size,
        progress: progress_bar(options.show_progress),
    };
    if let Some(size) = options.graph_tenant_size {
        ctx.client.set_graph_tenant_size(size);
    }

    ctx.progress.set_message("signing in");
    tokens.token(Audience::Arm).await.map_err(CollectError::NoCredential)?;
    let graph_token = tokens.token(Audience::Graph).await;

    ctx.progress.set_message("listing subscriptions and management groups");
    // The first page of subscriptions decides whether the resource manager credential works at all; the rest
    // of the listing goes on beside everything else, each page's subscriptions listed as it arrives.
    let mut subscriptions = ctx.client.pages(&ctx.arm, resources::subscriptions_url(&ctx.arm.base));
    let first = subscriptions.next::<Subscription>().await;
    if let Some(Err(e)) = &first {
        if matches!(e.reason, GapReason::Unauthorized | GapReason::NoCredential) {
            return Err(CollectError::Subscriptions(e.clone()));
        }
    }
    let directory = match graph_token {
        Ok(_) => Job::TENANT_DIRECTORY.into_iter().chain([Job::AdministrativeUnits]).collect(),
        Err(e) => {
            for job in &Job::TENANT_DIRECTORY {
                snap.coverage.push(gap(job.tenant_api(), "tenant", GapReason::NoCredential, e.to_string()));
            }
            Vec::new()
        }
    };
    // No phase barrier: the directory listings start while the subscriptions and the management-group tree
    // are read; each subscription's listings start as its page of the subscriptions listing arrives (when the
    // selection does not depend on the tree), the management groups' once the tree is read; and each
    // dependent listing starts as soon as what it depends on has arrived (group members as group pages arrive,
    // federated credentials as identities and applications arrive, owners and app role assignments as their
    // listings end, PIM for Groups as each group is known to qualify).
    ctx.progress.set_message("listing role assignments, identities, clusters and the directory");
    let listed = SubscriptionPages { first, rest: subscriptions };
    let scopes = scope_jobs(&ctx, Snapshot::new(snap.metadata.clone()), &wanted, listed);
    ctx.run_following(&mut snap, directory, &mut spawned, scopes).await;

    ctx.progress.finish_and_clear();
    // A built-in role is listed at every scope under its one name; `normalize` keeps the first copy, so
    // whatever order the listings finished in, the copy read at a subscription comes first.
    snap.azure
        .role_definitions
        .sort_by_cached_key(|d| (!d.id.to_ascii_lowercase().starts_with("/subscriptions/"), d.id.to_ascii_lowercase()));
    snap.normalize();
    tracing::info!(
        sources = snap.sources.len(),
        gaps = snap.coverage.len(),
        role_assignments = snap.azure.role_assignments.len(),
        "collection finished"
    );
    Ok(snap)
}

/// Reads the rest of the subscriptions listing (starting each subscription's listings as its page arrives,
/// when the selection allows), the management-group tree (and, when the subscriptions listing broke off, each
/// named subscription), picks the subscriptions and groups to collect, and gives the listings to run at each
/// not started yet: into `part`, a snapshot of its own, since it runs beside the directory listings (see
/// [`merge_scopes`]).
async fn scope_jobs(
    ctx: &Ctx<'_>,
    mut part: Snapshot,
    wanted: &Wanted,
    listed: SubscriptionPages<'_, '_>,
) -> (Snapshot, Vec<Job>) {
    let snap = &mut part;
    let (mut visible, started) = list_subscriptions(ctx, snap, wanted, listed).await;
    let tree = collect_tree(ctx, snap, wanted).await;
    let named = named_subscriptions(wanted, &tree);
    if !visible.complete {
        read_named_subscriptions(ctx, snap, &named, &mut visible).await;
    }
    let (selected, mg_scopes) = select(wanted, &named, visible, &tree, snap);
    let mut jobs = Vec::new();
    for sub in selected.iter().filter(|s| !started.contains(&subscription_key(s))) {
        jobs.extend(subscription_jobs(sub, &mut snap.coverage));
    }
    for name in &mg_scopes {
        let scope = resources::management_group_scope(name);
        jobs.extend(RbacList::ALL.map(|list| Job::Rbac { list, scope: scope.clone(), at_scope_only: true }));
    }
    snap.azure.subscriptions.extend(selected);
    (part, jobs)
}

/// The listings of one subscription (none, and a gap, for an id that cannot be a request path).
fn subscription_jobs(sub: &Subscription, gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
    let id = if sub.subscription_id.is_empty() { last_segment(&sub.id) } else { sub.subscription_id.clone() };
    if !safe_name(&id) {
        gaps.push(bad_name("arm.subscriptions", &sub.id, &id));
        return Vec::new();
    }
    let scope = format!("/subscriptions/{id}");
    let mut jobs: Vec<Job> =
        RbacList::ALL.map(|list| Job::Rbac { list, scope: scope.clone(), at_scope_only: false }).into();
    jobs.push(Job::ResourceGroups { subscription_id: id.clone() });
    jobs.push(Job::UserAssignedIdentities { subscription_id: id.clone() });
    jobs.push(Job::ManagedClusters { subscription_id: id.clone() });
    jobs.push(Job::ConnectedClusters { subscription_id: id.clone() });
    jobs.push(Job::IdentityResources { subscription_id: id });
    jobs
}

/// Adds what [`scope_jobs`] recorded to the snapshot: every field it writes (the management groups, the
/// subscriptions, their sources and gaps, the tenant id).
fn merge_scopes(snap: &mut Snapshot, part: Snapshot) {
    snap.azure.management_groups.extend(part.azure.management_groups);
    snap.azure.subscriptions.extend(part.azure.subscriptions);
    snap.sources.extend(part.sources);
    snap.coverage.extend(part.coverage);
    snap.metadata.tenant_id = part.metadata.tenant_id.or(snap.metadata.tenant_id.take());
}

/// The `--subscription` and `--management-group` values, validated (lower-cased subscription ids, group
/// names).
struct Wanted {
    subscriptions: BTreeSet<String>,
    management_groups: BTreeSet<String>,
}

impl Wanted {
    fn parse(options: &CollectOptions) -> Result<Self, CollectError> {
        let id = |flag: &'static str, value: &String, id: String| {
            safe_name(&id).then_some(id).ok_or(CollectError::InvalidId { flag, value: value.clone() })
        };
        let subscriptions = options
            .subscriptions
            .iter()
            .map(|s| {
                let bare = s.trim().trim_end_matches('/').trim_start_matches("/subscriptions/").to_ascii_lowercase();
                id("--subscription", s, bare)
            })
            .collect::<Result<_, _>>()?;
        let management_groups = options
            .management_groups
            .iter()
            .map(|m| id("--management-group", m, last_segment(m.trim())))
            .collect::<Result<_, _>>()?;
        Ok(Wanted { subscriptions, management_groups })
    }

    fn everything(&self) -> bool {
        self.subscriptions.is_empty() && self.management_groups.is_empty()
    }
}

/// What the management-group requests told: every group name seen, and the descendants of the named groups.
struct Tree {
    names: BTreeSet<String>,
    descendants: Vec<Descendant>,
}

/// Lists the management groups (a 403 is a gap: many callers may read subscriptions but not the tree), GETs
/// each with its children, and lists the descendants of each `--management-group`.
async fn collect_tree(ctx: &Ctx<'_>, snap: &mut Snapshot, wanted: &Wanted) -> Tree {
    let listed = ctx.client.list::<ManagementGroup>(&ctx.arm, resources::management_groups_url(&ctx.arm.base)).await;
    record(snap, "arm.managementGroups", "tenant", listed.items.len(), listed.error);

    // Keyed case-insensitively (ARM names are), keeping the spelling the API or the user gave.
    let mut groups: BTreeMap<String, (String, Option<ManagementGroup>)> =
        wanted.management_groups.iter().map(|n| (n.to_ascii_lowercase(), (n.clone(), None))).collect();
    for mg in listed.items {
        let name = if mg.name.is_empty() { last_segment(&mg.id) } else { mg.name.clone() };
        groups.insert(name.to_ascii_lowercase(), (name, Some(mg)));
    }
    let mut jobs = Vec::new();
    for (name, listed) in groups.into_values() {
        if safe_name(&name) {
            jobs.push(Job::ManagementGroup { name, listed });
        } else {
            snap.coverage.push(bad_name("arm.managementGroups", &resources::management_group_scope(&name), &name));
        }
    }
    let names = jobs
        .iter()
        .filter_map(|j| match j {
            Job::ManagementGroup { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    jobs.extend(wanted.management_groups.iter().map(|name| Job::Descendants { name: name.clone() }));
    let mut descendants = Vec::new();
    for outcome in ctx.run_all(jobs).await {
        if let Records::Descendants(d) = &outcome.records {
            descendants.extend(d.iter().cloned());
        }
        absorb(snap, outcome);
    }
    snap.azure.management_groups.extend(groups_from_descendants(&wanted.management_groups, &descendants));
    Tree { names, descendants }
}

/// What the subscriptions listing gave, and whether it was read to its last page.
struct Visible {
    subscriptions: Vec<Subscription>,
    complete: bool,
}

/// The subscriptions listing: its first page, read before anything else (see [`collect`]), and the rest.
struct SubscriptionPages<'c, 'a> {
    first: Option<Result<Vec<Subscription>, FetchError>>,
    rest: http::Pages<'c, 'a>,
}

/// Reads the subscriptions listing to its end (a failure is a gap keeping the pages read before it; a rejected
/// credential on the first page already ended the scan, see the module doc). Each subscription the selection
/// takes whatever the management-group tree says (every one, or one named by `--subscription`) has its
/// listings started as its page arrives; their keys are returned.
async fn list_subscriptions(
    ctx: &Ctx<'_>,
    snap: &mut Snapshot,
    wanted: &Wanted,
    listed: SubscriptionPages<'_, '_>,
) -> (Visible, BTreeSet<String>) {
    let SubscriptionPages { mut first, mut rest } = listed;
    let (mut items, mut error, mut started) = (Vec::new(), None, BTreeSet::new());
    loop {
        let read = match first.take() {
            Some(read) => read,
            None => match rest.next::<Subscription>().await {
                Some(read) => read,
                None => break,
            },
        };
        let page = match read {
            Ok(page) => page,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        for sub in &page {
            let key = subscription_key(sub);
            let early = wanted.everything() || wanted.subscriptions.contains(&key);
            if early && started.insert(key) {
                for job in subscription_jobs(sub, &mut snap.coverage) {
                    // The receiver lives as long as the collection; a send can only fail after it.
                    let _ = ctx.spawn.send(job);
                }
            }
        }
        items.extend(page);
    }
    let complete = error.is_none();
    record(snap, "arm.subscriptions", "tenant", items.len(), error);
    (Visible { subscriptions: items, complete }, started)
}

/// The subscriptions named by `--subscription` and found under the `--management-group`s (lower-cased ids).
fn named_subscriptions(wanted: &Wanted, tree: &Tree) -> BTreeSet<String> {
    let under_groups =
        tree.descendants.iter().filter(|d| d.is_subscription()).map(|d| last_segment(&d.id).to_ascii_lowercase());
    wanted.subscriptions.iter().cloned().chain(under_groups).collect()
}

/// When the listing broke off, reads each named subscription it did not reach with `GET /subscriptions/{id}`:
/// found, it is collected like a listed one; not, its failure is the gap for that subscription.
async fn read_named_subscriptions(ctx: &Ctx<'_>, snap: &mut Snapshot, named: &BTreeSet<String>, visible: &mut Visible) {
    let listed: BTreeSet<String> = visible.subscriptions.iter().map(subscription_key).collect();
    let mut ids = Vec::new();
    for id in named.iter().filter(|id| !listed.contains(*id)) {
        if safe_name(id) {
            ids.push(id.clone());
        } else {
            snap.coverage.push(bad_name("arm.subscriptions", &format!("/subscriptions/{id}"), id));
        }
    }
    let client = &ctx.client;
    let reads = stream::iter(ids)
        .map(|id| async move {
            let url = resources::subscription_url(&ctx.arm.base, &id);
            (id, client.get::<Subscription>(&ctx.arm, &url).await)
        })
        .buffer_unordered(ctx.concurrency)
        .collect::<Vec<_>>()
        .await;
    for (id, read) in reads {
        let scope = format!("/subscriptions/{id}");
        match read {
            Ok(sub) => {
                snap.sources.push(source("arm.subscriptions", &scope, 1));
                visible.subscriptions.push(sub);
            }
            Err(e) => record(snap, "arm.subscriptions", &scope, 0, Some(e)),
        }
    }
}

/// Picks the subscriptions to collect and the management groups to list RBAC at, recording a gap for each
/// named subscription the caller cannot see (when the listing was complete: otherwise reading it directly
/// already recorded why), and sets the tenant id.
fn select(
    wanted: &Wanted,
    named: &BTreeSet<String>,
    visible: Visible,
    tree: &Tree,
    snap: &mut Snapshot,
) -> (Vec<Subscription>, BTreeSet<String>) {
    let complete = visible.complete;
    let tenant = visible.subscriptions.iter().find_map(|s| s.tenant_id.clone());
    let mut visible: BTreeMap<String, Subscription> =
        visible.subscriptions.into_iter().map(|s| (subscription_key(&s), s)).collect();
    let mut selected = Vec::new();
    if wanted.everything() {
        selected.extend(std::mem::take(&mut visible).into_values());
    }
    for id in named {
        match visible.remove(id) {
            Some(s) => selected.push(s),
            None if !complete || selected.iter().any(|s| subscription_key(s) == *id) => {}
            None => snap.coverage.push(gap(
                "arm.subscriptions",
                &format!("/subscriptions/{id}"),
                GapReason::NotFound,
                format!("subscription {id} is not among the subscriptions the caller can see"),
            )),
        }
    }
    let mg_scopes = if !wanted.management_groups.is_empty() {
        let below = tree.descendants.iter().filter(|d| !d.is_subscription()).map(|d| last_segment(&d.id));
        wanted.management_groups.iter().cloned().chain(below).filter(|n| safe_name(n)).collect()
    } else if wanted.subscriptions.is_empty() {
        tree.names.clone()
    } else {
        // Subscription-scope listings already include what is inherited from the groups above.
        BTreeSet::new()
    };
    snap.metadata.tenant_id = selected
        .iter()
        .find_map(|s| s.tenant_id.clone())
        .or(tenant)
        .or_else(|| snap.azure.management_groups.iter().find_map(|m| m.properties.tenant_id.clone()));
    (selected, mg_scopes)
}

/// Shared state of one collection.
struct Ctx<'a> {
    /// Jobs a running job found (group members from a groups page), for [`Ctx::run_following`].
    spawn: tokio::sync::mpsc::UnboundedSender<Job>,
    client: ApiClient<'a>,
    arm: Service,
    graph: Service,
    concurrency: usize,
    /// Per-object Graph listings go in JSON batches.
    graph_batch: bool,
    graph_tenant_size: Option<pacer::TenantSize>,
    progress: indicatif::ProgressBar,
}

impl Ctx<'_> {
    /// Jobs run at once per service: more than the requests in flight (the pacer's window caps those), so a
    /// job waiting out a `Retry-After` or a backoff (a second, against 60 ms for an answer) does not keep the
    /// others from being sent; with only `concurrency` jobs, 6 % of faulted requests filled the pool with
    /// sleepers and halved the request rate.
    fn jobs(&self) -> usize {
        self.concurrency.saturating_mul(4)
    }

    /// Runs `jobs` and every job they lead to, absorbing each outcome as it arrives: follow-up jobs derived
    /// from an outcome ([`follow_ups`]), sent by a running job (`spawned`), or given by `scopes` when it ends
    /// (with the records it made, [`merge_scopes`]) start at once. ARM and Graph jobs run in separate pools of
    /// `concurrency` each.
    async fn run_following(
        &self,
        snap: &mut Snapshot,
        jobs: Vec<Job>,
        spawned: &mut tokio::sync::mpsc::UnboundedReceiver<Job>,
        scopes: impl std::future::Future<Output = (Snapshot, Vec<Job>)>,
    ) {
        use futures::stream::FuturesUnordered;
        use futures::FutureExt;
        let mut queues = Queues::default();
        let mut followed = Followed::default();
        queues.extend(self, jobs);
        let mut running = FuturesUnordered::new();
        let mut scopes = std::pin::pin!(scopes.fuse());
        let mut scoped = false;
        loop {
            while let Some((audience, work)) = queues.next(self.jobs(), self.graph_batch) {
                running.push(async move { (audience, work.run(self).await) });
            }
            if running.is_empty() && scoped {
                // Nothing runs and nothing more can be sent once what was sent is taken: the end, or more.
                let more: Vec<Job> = std::iter::from_fn(|| spawned.try_recv().ok()).collect();
                if more.is_empty() && queues.is_empty() {
                    return followed.finish(snap);
                }
                queues.extend(self, more);
                continue;
            }
            tokio::select! {
                (part, jobs) = &mut scopes, if !scoped => {
                    scoped = true;
                    merge_scopes(snap, part);
                    queues.extend(self, jobs);
                }
                Some((audience, outcomes)) = running.next(), if !running.is_empty() => {
                    queues.done(audience);
                    for outcome in outcomes {
                        self.progress.inc(1);
                        let next = follow_ups(snap, &outcome, &mut followed);
                        let outcome = followed.authorization.drop_repeats(outcome);
                        absorb(snap, outcome);
                        queues.extend(self, next);
                    }
                }
                // Everything sent so far (a page of groups sends its member listings at once), so that they
                // can go in batches.
                Some(job) = spawned.recv() => {
                    let more = std::iter::from_fn(|| spawned.try_recv().ok());
                    queues.extend(self, std::iter::once(job).chain(more).collect());
                }
            }
        }
    }

    /// Runs the jobs in completion order, ARM and Graph jobs in separate pools of `concurrency` each, so a
    /// long Graph fan-out never holds ARM listings back (or the reverse).
    async fn run_all(&self, jobs: Vec<Job>) -> Vec<Outcome> {
        self.progress.inc_length(jobs.len() as u64);
        let (arm, graph): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.audience() == Audience::Arm);
        let pool = |jobs: Vec<Job>| {
            let mut queue = jobs.into();
            let works: Vec<Work> = std::iter::from_fn(|| Work::next(&mut queue, self.graph_batch)).collect();
            stream::iter(works).map(|work| work.run(self)).buffer_unordered(self.jobs())
        };
        let outcomes: Vec<Vec<Outcome>> =
            stream::select(pool(arm), pool(graph)).inspect(|o| self.progress.inc(o.len() as u64)).collect().await;
        outcomes.into_iter().flatten().collect()
    }

    /// Per-object listings whose first pages go in one JSON batch; each then goes on as its own listing.
    async fn run_batch(&self, jobs: Vec<ObjectJob>) -> Vec<Outcome> {
        let urls: Vec<Url> = jobs.iter().map(|j| j.url(&self.graph.base)).collect();
        let items = batch::items(&self.client, &self.graph, &urls).await;
        futures::future::join_all(jobs.into_iter().zip(items).map(|(job, item)| job.run(self, Some(item)))).await
    }

    /// A Graph listing of `url`, from the first page a JSON batch gave for it (`first`) or from scratch.
    async fn graph_list<T: serde::de::DeserializeOwned>(&self, url: Url, first: Option<batch::Item>) -> Listing<T> {
        match first {
            None => self.client.list(&self.graph, url).await,
            Some(item) => batch::finish(&self.client, &self.graph, &url, item).await,
        }
    }
}

/// What one slot of a pool runs: one job, or per-object listings whose first pages go in one JSON batch.
enum Work {
    One(Job),
    Batch(Vec<ObjectJob>),
}

impl Work {
    /// The next work from the front of `queue`: a per-object listing takes the per-object listings right
    /// behind it into its batch (up to [`batch::MAX_ITEMS`]) when batching is on.
    fn next(queue: &mut std::collections::VecDeque<Job>, batching: bool) -> Option<Work> {
        let job = queue.pop_front()?;
        let Job::Object(first) = job else { return Some(Work::One(job)) };
        if !batching || !matches!(queue.front(), Some(Job::Object(_))) {
            return Some(Work::One(Job::Object(first)));
        }
        let mut jobs = vec![first];
        while jobs.len() < batch::MAX_ITEMS {
            match queue.pop_front() {
                Some(Job::Object(next)) => jobs.push(next),
                Some(other) => {
                    queue.push_front(other);
                    break;
                }
                None => break,
            }
        }
        Some(Work::Batch(jobs))
    }

    async fn run(self, ctx: &Ctx<'_>) -> Vec<Outcome> {
        match self {
            Work::One(job) => vec![job.run(ctx).await],
            Work::Batch(jobs) => ctx.run_batch(jobs).await,
        }
    }
}

/// Jobs waiting to run, and how many run, per service.
#[derive(Default)]
struct Queues {
    arm: std::collections::VecDeque<Job>,
    graph: std::collections::VecDeque<Job>,
    running_arm: usize,
    running_graph: usize,
}

impl Queues {
    fn extend(&mut self, ctx: &Ctx<'_>, jobs: Vec<Job>) {
        ctx.progress.inc_length(jobs.len() as u64);
        for job in jobs {
            match job.audience() {
                Audience::Arm => self.arm.push_back(job),
                Audience::Graph => self.graph.push_back(job),
            }
        }
    }

    /// The next work to start, if its service's pool has room (per-object Graph listings in batches when
    /// `batching`).
    fn next(&mut self, pool: usize, batching: bool) -> Option<(Audience, Work)> {
        if self.running_arm < pool {
            if let Some(job) = self.arm.pop_front() {
                self.running_arm += 1;
                return Some((Audience::Arm, Work::One(job)));
            }
        }
        if self.running_graph < pool {
            if let Some(work) = Work::next(&mut self.graph, batching) {
                self.running_graph += 1;
                return Some((Audience::Graph, work));
            }
        }
        None
    }

    fn done(&mut self, audience: Audience) {
        match audience {
            Audience::Arm => self.running_arm -= 1,
            Audience::Graph => self.running_graph -= 1,
        }
    }

    fn is_empty(&self) -> bool {
        self.arm.is_empty() && self.graph.is_empty()
    }
}

/// What has been asked already, so a follow-up is never requested twice.
#[derive(Default)]
struct Followed {
    seen: BTreeSet<String>,
    credentials: AppCredentials,
    /// PIM for Groups: which groups qualify so far, and whether the first listing was refused.
    pim: probe::PimGroups,
    /// Whether the first administrative-unit members listing was refused.
    units: probe::Probe,
    /// The authorization records kept so far.
    authorization: Repeats,
}

/// The ids of the role assignments, eligibility instances and deny assignments kept so far, so that a record
/// listed again is dropped as it arrives rather than by [`Snapshot::normalize`] at the end: every
/// subscription's listing repeats what is inherited from the management groups above it (at 400k users,
/// 400 subscriptions), and those copies were held to the end. The first copy is kept, as `normalize` keeps it.
/// Ids are compared without case, as `normalize` compares them, through two 64-bit hashes of independently
/// keyed SipHash (a false match of two of a million ids: about 2^-88).
#[derive(Default)]
struct Repeats {
    keys: (std::collections::hash_map::RandomState, std::collections::hash_map::RandomState),
    seen: rustc_hash::FxHashSet<u128>,
    lower: String,
}

impl Repeats {
    /// True the first time `id` (in any case) of a record of `kind` is offered.
    fn first(&mut self, kind: char, id: &str) -> bool {
        use std::hash::{BuildHasher, Hasher};
        self.lower.clear();
        self.lower.push(kind);
        self.lower.extend(id.chars().map(|c| c.to_ascii_lowercase()));
        let half = |keys: &std::collections::hash_map::RandomState| {
            let mut h = keys.build_hasher();
            h.write(self.lower.as_bytes());
            h.finish()
        };
        let key = (u128::from(half(&self.keys.0)) << 64) | u128::from(half(&self.keys.1));
        self.seen.insert(key)
    }

    /// The outcome without the authorization records already kept (its count, the listing's, unchanged).
    fn drop_repeats(&mut self, mut outcome: Outcome) -> Outcome {
        match &mut outcome.records {
            Records::RoleAssignments(v) => v.retain(|r| self.first('a', &r.id)),
            Records::Eligibility(v) => v.retain(|r| self.first('e', &r.id)),
            Records::DenyAssignments(v) => v.retain(|r| self.first('d', &r.id)),
            _ => {}
        }
        outcome
    }
}

impl Followed {
    fn first(&mut self, key: String) -> bool {
        self.seen.insert(key)
    }

    /// Records what no outcome said: the per-object listings held back after a refused first one.
    fn finish(self, snap: &mut Snapshot) {
        let skipped = [
            self.pim.probe.skipped(probe::API, "groups"),
            self.units.skipped(entra_units::MEMBERS_API, "administrative units"),
        ];
        for outcome in skipped.into_iter().flatten() {
            absorb(snap, outcome);
        }
    }
}

/// Where each application's federated credentials come from: the expanded listing, or, for an application it
/// did not cover (refused, broken off, or cut at [`msgraph::EXPANDED_LIMIT`]), a listing of its own.
enum AppCredentials {
    /// The expanded listing runs; the applications listed meanwhile wait for its outcome.
    Running(Vec<String>),
    /// It completed: every application it did not cover has its own listing already.
    Complete,
    /// It failed: the applications it covered before the failure (lower-cased ids); any other gets its own.
    Failed(BTreeSet<String>),
}

impl Default for AppCredentials {
    fn default() -> Self {
        AppCredentials::Running(Vec::new())
    }
}

impl AppCredentials {
    /// The per-application listings the applications `ids` need now (more may follow once the expanded
    /// listing ends).
    fn applications_listed(&mut self, ids: Vec<String>) -> Vec<String> {
        match self {
            AppCredentials::Running(waiting) => {
                waiting.extend(ids);
                Vec::new()
            }
            AppCredentials::Complete => Vec::new(),
            AppCredentials::Failed(covered) => {
                ids.into_iter().filter(|id| !covered.contains(&id.to_ascii_lowercase())).collect()
            }
        }
    }
}

/// The per-application credential listings the expanded listing's outcome calls for: each application whose
/// expansion reached the cut-off (or was left out), and, when it failed, each application it did not reach.
fn expanded_credential_follow_ups(
    v: &[msgraph::ExpandedFederatedCredentials],
    failed: bool,
    state: &mut AppCredentials,
) -> Vec<String> {
    let waiting = match std::mem::take(state) {
        AppCredentials::Running(waiting) => waiting,
        _ => Vec::new(),
    };
    let whole = |c: &msgraph::ExpandedFederatedCredentials| {
        c.federated_identity_credentials.as_ref().is_some_and(|f| f.len() < msgraph::EXPANDED_LIMIT)
    };
    let mut ids: Vec<String> = v.iter().filter(|c| !whole(c)).map(|c| c.id.clone()).collect();
    if failed {
        let covered: BTreeSet<String> = v.iter().filter(|c| whole(c)).map(|c| c.id.to_ascii_lowercase()).collect();
        ids.extend(waiting.into_iter().filter(|id| !covered.contains(&id.to_ascii_lowercase())));
        *state = AppCredentials::Failed(covered);
    } else {
        *state = AppCredentials::Complete;
    }
    ids
}

/// Adds the expanded listing's credentials: each application it gave whole gets its credentials and a source
/// record of its own, as its own listing would have. A failure is a gap saying the applications it did not
/// reach are listed one by one instead (their own outcomes say whether that worked).
fn absorb_expanded_credentials(
    snap: &mut Snapshot,
    v: Vec<msgraph::ExpandedFederatedCredentials>,
    error: Option<FetchError>,
) {
    const API: &str = "graph.applicationFederatedCredentials";
    for c in v {
        let Some(credentials) = c.federated_identity_credentials.filter(|f| f.len() < msgraph::EXPANDED_LIMIT) else {
            continue;
        };
        snap.sources.push(source(API, &format!("/applications/{}", c.id), credentials.len()));
        snap.entra
            .application_federated_credentials
            .push(ApplicationFederatedCredentials { application_id: c.id, credentials });
    }
    if let Some(mut e) = error {
        e.message.push_str("; the applications it did not reach are listed one by one instead");
        record(snap, API, "tenant", 0, Some(e));
    }
}

/// The jobs an outcome makes possible (an id that cannot be a request path is a gap, not a request).
fn follow_ups(snap: &mut Snapshot, outcome: &Outcome, followed: &mut Followed) -> Vec<Job> {
    let gaps = &mut snap.coverage;
    match &outcome.records {
        Records::ExpandedCredentials(v) => {
            let ids = expanded_credential_follow_ups(v, outcome.error.is_some(), &mut followed.credentials);
            application_credential_jobs(ids, followed, gaps)
        }
        Records::UserAssignedIdentities(v) => identity_credential_jobs(v, followed, gaps),
        Records::ManagedClusters(v) => identity_binding_jobs(v, gaps),
        Records::Applications(v) => {
            let ids = followed.credentials.applications_listed(v.iter().map(|a| a.id.clone()).collect());
            let mut jobs = application_credential_jobs(ids, followed, gaps);
            jobs.extend(owner_jobs(msgraph::OwnedCollection::Applications, v.iter().map(|a| (&a.id, &a.owners)), gaps));
            jobs
        }
        Records::Groups(v) => {
            for g in v.iter().filter(|g| !safe_name(&g.id)) {
                gaps.push(bad_name("graph.groupMembers", &format!("/groups/{}", g.id), &g.id));
            }
            let mut jobs = owner_jobs(msgraph::OwnedCollection::Groups, v.iter().map(|g| (&g.id, &g.owners)), gaps);
            jobs.extend(followed.pim.groups_listed(v, gaps));
            jobs
        }
        Records::ServicePrincipals(v) => {
            owner_jobs(msgraph::OwnedCollection::ServicePrincipals, v.iter().map(|s| (&s.id, &s.owners)), gaps)
        }
        Records::ExpandedAppRoleAssignments(v) => {
            let held = v.iter().flat_map(|sp| {
                let assignments = sp.app_role_assignments.iter().flatten();
                assignments.map(|a| if a.principal_id.is_empty() { sp.id.as_str() } else { a.principal_id.as_str() })
            });
            let mut jobs = followed.pim.holders_listed(held, gaps);
            jobs.extend(app_role_assignment_jobs(v, gaps));
            jobs
        }
        Records::AppRoleAssignments { service_principal_id, assignments } => {
            let held = assignments.iter().map(|a| {
                if a.principal_id.is_empty() {
                    service_principal_id.as_str()
                } else {
                    a.principal_id.as_str()
                }
            });
            followed.pim.holders_listed(held, gaps)
        }
        Records::RoleAssignments(v) => {
            followed.pim.holders_listed(v.iter().map(|r| r.properties.principal_id.as_str()), gaps)
        }
        Records::Eligibility(v) => {
            followed.pim.holders_listed(v.iter().map(|r| r.properties.principal_id.as_str()), gaps)
        }
        Records::DirectoryRoleAssignments(v) => {
            followed.pim.holders_listed(v.iter().map(|r| r.principal_id.as_str()), gaps)
        }
        Records::DirectoryRoleEligibility(v) => {
            followed.pim.holders_listed(v.iter().map(|r| r.principal_id.as_str()), gaps)
        }
        Records::GroupEligibility(_) => followed.pim.probe.answered(outcome),
        Records::AdministrativeUnits(v) => {
            let jobs = entra_units::member_jobs(v, gaps);
            followed.units.offer(jobs)
        }
        Records::UnitMembers(..) => followed.units.answered(outcome),
        _ => Vec::new(),
    }
}

/// One listing (or GET) to perform.
enum Job {
    ManagementGroup {
        name: String,
        listed: Option<ManagementGroup>,
    },
    Descendants {
        name: String,
    },
    ResourceGroups {
        subscription_id: String,
    },
    UserAssignedIdentities {
        subscription_id: String,
    },
    FederatedIdentityCredentials {
        identity_id: String,
        path: ResourcePath,
    },
    IdentityBindings {
        cluster_id: String,
        path: ResourcePath,
    },
    ManagedClusters {
        subscription_id: String,
    },
    ConnectedClusters {
        subscription_id: String,
    },
    Rbac {
        list: RbacList,
        scope: String,
        at_scope_only: bool,
    },
    Users,
    Groups,
    ServicePrincipals,
    Applications,
    /// The applications listing with only their federated credentials expanded.
    ExpandedApplicationCredentials,
    /// A listing of one directory object's relation, which may go in a JSON batch.
    Object(ObjectJob),
    /// A listing of the Entra control plane.
    Entra(EntraJob),
    /// The administrative units (their members follow, one listing each).
    AdministrativeUnits,
    /// The resources of a subscription that carry a managed identity.
    IdentityResources {
        subscription_id: String,
    },
}

/// The Entra control-plane listings: directory roles, app role assignments, PIM for Groups.
enum EntraJob {
    RoleDefinitions,
    RoleAssignments,
    RoleEligibility,
    /// The service principals listing with their granted app roles expanded.
    ExpandedAppRoleAssignments,
}

/// The per-object Graph listings: one request each for the first page, so several go in one JSON batch
/// ([`batch`]) when batching is on.
enum ObjectJob {
    /// Direct members of a group.
    GroupMembers { group_id: String },
    /// Federated credentials of one application (when the expanded listing was refused or cut).
    ApplicationFederatedCredentials { application_id: String },
    /// The whole owner list of an object whose expanded owners may have been cut.
    Owners { collection: msgraph::OwnedCollection, id: String },
    /// The whole list of app roles granted to a service principal whose expansion may have been cut.
    AppRoleAssignments { service_principal_id: String },
    /// PIM for Groups eligibility of one group.
    GroupEligibility { group_id: String },
    /// Members of one administrative unit.
    UnitMembers { unit_id: String },
}

impl ObjectJob {
    /// The API name recorded for this listing.
    fn api(&self) -> &'static str {
        match self {
            ObjectJob::GroupMembers { .. } => "graph.groupMembers",
            ObjectJob::ApplicationFederatedCredentials { .. } => "graph.applicationFederatedCredentials",
            ObjectJob::Owners { .. } => "graph.owners",
            ObjectJob::AppRoleAssignments { .. } => "graph.appRoleAssignments",
            ObjectJob::GroupEligibility { .. } => probe::API,
            ObjectJob::UnitMembers { .. } => entra_units::MEMBERS_API,
        }
    }

    /// The scope recorded for this listing: the object.
    fn scope(&self) -> String {
        match self {
            ObjectJob::GroupMembers { group_id } | ObjectJob::GroupEligibility { group_id } => {
                format!("/groups/{group_id}")
            }
            ObjectJob::ApplicationFederatedCredentials { application_id } => format!("/applications/{application_id}"),
            ObjectJob::Owners { collection, id } => format!("/{}/{id}", collection.segment()),
            ObjectJob::AppRoleAssignments { service_principal_id } => {
                format!("/servicePrincipals/{service_principal_id}")
            }
            ObjectJob::UnitMembers { unit_id } => entra_units::scope(unit_id),
        }
    }

    /// The first page's URL.
    fn url(&self, graph: &Url) -> Url {
        match self {
            ObjectJob::GroupMembers { group_id } => msgraph::group_members_url(graph, group_id),
            ObjectJob::ApplicationFederatedCredentials { application_id } => {
                msgraph::application_federated_credentials_url(graph, application_id)
            }
            ObjectJob::Owners { collection, id } => msgraph::owners_url(graph, *collection, id),
            ObjectJob::AppRoleAssignments { service_principal_id } => {
                msgraph::app_role_assignments_url(graph, service_principal_id)
            }
            ObjectJob::GroupEligibility { group_id } => msgraph::group_eligibility_url(graph, group_id),
            ObjectJob::UnitMembers { unit_id } => entra_units::administrative_unit_members_url(graph, unit_id),
        }
    }

    /// Lists the relation; `first` is what a JSON batch said about the first page, if it went in one.
    async fn run(self, ctx: &Ctx<'_>, first: Option<batch::Item>) -> Outcome {
        let (api, scope) = (self.api(), self.scope());
        let url = self.url(&ctx.graph.base);
        match self {
            ObjectJob::GroupMembers { group_id } => {
                outcome(api, scope, ctx.graph_list(url, first).await, |m| Records::GroupMembers(group_id, m))
            }
            ObjectJob::ApplicationFederatedCredentials { application_id } => {
                outcome(api, scope, ctx.graph_list(url, first).await, |c| {
                    Records::ApplicationFederatedCredentials(application_id, c)
                })
            }
            // A failed listing keeps the owners the expansion gave (true, maybe incomplete); the gap says so.
            ObjectJob::Owners { collection, id } => outcome(api, scope, ctx.graph_list(url, first).await, |owners| {
                Records::Owners { collection, id, owners }
            }),
            ObjectJob::AppRoleAssignments { service_principal_id } => {
                outcome(api, scope, ctx.graph_list(url, first).await, |assignments| Records::AppRoleAssignments {
                    service_principal_id,
                    assignments,
                })
            }
            ObjectJob::GroupEligibility { .. } => {
                outcome(api, scope, ctx.graph_list(url, first).await, Records::GroupEligibility)
            }
            ObjectJob::UnitMembers { unit_id } => {
                outcome(api, scope, ctx.graph_list(url, first).await, |m| Records::UnitMembers(unit_id, m))
            }
        }
    }
}

impl Job {
    /// The tenant-wide directory listings, run when a Graph token is available.
    const TENANT_DIRECTORY: [Job; 9] = [
        Job::Users,
        Job::Groups,
        Job::ServicePrincipals,
        Job::Applications,
        Job::ExpandedApplicationCredentials,
        Job::Entra(EntraJob::RoleDefinitions),
        Job::Entra(EntraJob::RoleAssignments),
        Job::Entra(EntraJob::RoleEligibility),
        Job::Entra(EntraJob::ExpandedAppRoleAssignments),
    ];

    /// The service the job's requests go to.
    fn audience(&self) -> Audience {
        match self {
            Job::ManagementGroup { .. }
            | Job::Descendants { .. }
            | Job::ResourceGroups { .. }
            | Job::UserAssignedIdentities { .. }
            | Job::FederatedIdentityCredentials { .. }
            | Job::IdentityBindings { .. }
            | Job::ManagedClusters { .. }
            | Job::ConnectedClusters { .. }
            | Job::Rbac { .. }
            | Job::IdentityResources { .. } => Audience::Arm,
            Job::Users
            | Job::Groups
            | Job::ServicePrincipals
            | Job::Applications
            | Job::ExpandedApplicationCredentials
            | Job::Object(_)
            | Job::Entra(_)
            | Job::AdministrativeUnits => Audience::Graph,
        }
    }

    /// The API name of a tenant-wide directory listing.
    fn tenant_api(&self) -> &'static str {
        match self {
            Job::Users => "graph.users",
            Job::Groups => "graph.groups",
            Job::ServicePrincipals => "graph.servicePrincipals",
            Job::Applications => "graph.applications",
            Job::ExpandedApplicationCredentials => "graph.applicationFederatedCredentials",
            Job::Entra(job) => job.api(),
            _ => "graph",
        }
    }
}

/// What a job brought back.
enum Records {
    ManagementGroup(Option<ManagementGroup>),
    Descendants(Vec<Descendant>),
    ResourceGroups(Vec<ResourceGroup>),
    RoleDefinitions(Vec<RoleDefinition>),
    RoleAssignments(Vec<RoleAssignment>),
    DenyAssignments(Vec<DenyAssignment>),
    Eligibility(Vec<RoleEligibilityScheduleInstance>),
    Users(Vec<User>),
    Groups(Vec<Group>),
    ServicePrincipals(Vec<ServicePrincipal>),
    Applications(Vec<Application>),
    GroupMembers(String, Vec<DirectoryObject>),
    UserAssignedIdentities(Vec<UserAssignedIdentity>),
    FederatedIdentityCredentials(Vec<FederatedIdentityCredential>),
    ManagedClusters(Vec<ManagedCluster>),
    ConnectedClusters(Vec<ConnectedCluster>),
    IdentityBindings(Vec<IdentityBinding>),
    ApplicationFederatedCredentials(String, Vec<GraphFederatedCredential>),
    Owners {
        collection: msgraph::OwnedCollection,
        id: String,
        owners: Vec<DirectoryObject>,
    },
    DirectoryRoleDefinitions(Vec<DirectoryRoleDefinition>),
    DirectoryRoleAssignments(Vec<DirectoryRoleAssignment>),
    DirectoryRoleEligibility(Vec<DirectoryRoleEligibilityScheduleInstance>),
    ExpandedAppRoleAssignments(Vec<msgraph::ExpandedAppRoleAssignments>),
    ExpandedCredentials(Vec<msgraph::ExpandedFederatedCredentials>),
    AppRoleAssignments {
        service_principal_id: String,
        assignments: Vec<AppRoleAssignment>,
    },
    GroupEligibility(Vec<GroupEligibilityScheduleInstance>),
    AdministrativeUnits(Vec<AdministrativeUnit>),
    /// One unit's members (what was read, even when the listing failed part-way).
    UnitMembers(String, Vec<DirectoryObject>),
    IdentityResources(Vec<azpath_graph::snapshot::IdentityResource>),
    /// Requests not sent (see [`probe::Probe`]).
    Skipped,
}

struct Outcome {
    api: &'static str,
    scope: String,
    count: usize,
    records: Records,
    error: Option<FetchError>,
}

fn outcome<T>(api: &'static str, scope: String, listing: Listing<T>, wrap: impl FnOnce(Vec<T>) -> Records) -> Outcome {
    Outcome { api, scope, count: listing.items.len(), records: wrap(listing.items), error: listing.error }
}

impl Job {
    async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let (arm, graph, client) = (&ctx.arm, &ctx.graph, &ctx.client);
        match self {
            Job::ManagementGroup { name, listed } => ctx.management_group(name, listed).await,
            Job::Descendants { name } => {
                let url = resources::descendants_url(&arm.base, &name);
                let scope = resources::management_group_scope(&name);
                outcome("arm.managementGroupDescendants", scope, client.list(arm, url).await, Records::Descendants)
            }
            Job::ResourceGroups { subscription_id } => {
                let url = resources::resource_groups_url(&arm.base, &subscription_id);
                let scope = format!("/subscriptions/{subscription_id}");
                outcome("arm.resourceGroups", scope, client.list(arm, url).await, Records::ResourceGroups)
            }
            Job::UserAssignedIdentities { subscription_id } => {
                let url = managed_identity::user_assigned_identities_url(&arm.base, &subscription_id);
                let scope = format!("/subscriptions/{subscription_id}");
                let listing = client.list(arm, url).await;
                outcome("arm.userAssignedIdentities", scope, listing, Records::UserAssignedIdentities)
            }
            Job::FederatedIdentityCredentials { identity_id, path } => {
                let url = managed_identity::federated_identity_credentials_url(&arm.base, &path);
                let listing = client.list(arm, url).await;
                outcome("arm.federatedIdentityCredentials", identity_id, listing, Records::FederatedIdentityCredentials)
            }
            Job::ManagedClusters { subscription_id } => {
                let url = container_service::managed_clusters_url(&arm.base, &subscription_id);
                let scope = format!("/subscriptions/{subscription_id}");
                outcome("arm.managedClusters", scope, client.list(arm, url).await, Records::ManagedClusters)
            }
            Job::IdentityBindings { cluster_id, path } => {
                let url = container_service::identity_bindings_url(&arm.base, &path);
                outcome("arm.identityBindings", cluster_id, client.list(arm, url).await, Records::IdentityBindings)
            }
            Job::ConnectedClusters { subscription_id } => {
                let url = hybrid_kubernetes::connected_clusters_url(&arm.base, &subscription_id);
                let scope = format!("/subscriptions/{subscription_id}");
                outcome("arm.connectedClusters", scope, client.list(arm, url).await, Records::ConnectedClusters)
            }
            Job::Rbac { list, scope, at_scope_only } => ctx.rbac(list, scope, at_scope_only).await,
            Job::Users => ctx.users().await,
            Job::Groups => ctx.groups().await,
            Job::ServicePrincipals => {
                let url = msgraph::service_principals_url(&graph.base);
                outcome(
                    "graph.servicePrincipals",
                    "tenant".into(),
                    client.list(graph, url).await,
                    Records::ServicePrincipals,
                )
            }
            Job::Applications => {
                let url = msgraph::applications_url(&graph.base);
                outcome("graph.applications", "tenant".into(), client.list(graph, url).await, Records::Applications)
            }
            Job::ExpandedApplicationCredentials => {
                let url = msgraph::expanded_application_federated_credentials_url(&graph.base);
                let listing = client.list(graph, url).await;
                outcome("graph.applicationFederatedCredentials", "tenant".into(), listing, Records::ExpandedCredentials)
            }
            Job::Object(job) => job.run(ctx, None).await,
            Job::Entra(job) => job.run(ctx).await,
            Job::AdministrativeUnits => {
                let url = entra_units::administrative_units_url(&graph.base);
                let listing = client.list(graph, url).await;
                outcome(entra_units::UNITS_API, "tenant".into(), listing, Records::AdministrativeUnits)
            }
            Job::IdentityResources { subscription_id } => ctx.identity_resources(&subscription_id).await,
        }
    }
}

/// The listings whose handling is more than a URL and a record kind.
impl Ctx<'_> {
    /// One management group with its children; a failure keeps what the listing said about it.
    async fn management_group(&self, name: String, listed: Option<ManagementGroup>) -> Outcome {
        let (arm, client) = (&self.arm, &self.client);
        let scope = resources::management_group_scope(&name);
        let url = resources::management_group_url(&arm.base, &name);
        match client.get::<ManagementGroup>(arm, &url).await {
            Ok(mg) => Outcome {
                api: "arm.managementGroups",
                scope,
                count: 1,
                records: Records::ManagementGroup(Some(mg)),
                error: None,
            },
            // Keep what the listing said about the group; the gap says its children are unknown.
            Err(e) => Outcome {
                api: "arm.managementGroups",
                scope,
                count: 0,
                records: Records::ManagementGroup(listed),
                error: Some(e),
            },
        }
    }

    /// One of the RBAC listings at a scope.
    async fn rbac(&self, list: RbacList, scope: String, at_scope_only: bool) -> Outcome {
        let (arm, client) = (&self.arm, &self.client);
        let url = list.url(&arm.base, &scope, at_scope_only);
        let api = list.api();
        match list {
            RbacList::RoleDefinitions => outcome(api, scope, client.list(arm, url).await, Records::RoleDefinitions),
            RbacList::RoleAssignments => outcome(api, scope, client.list(arm, url).await, Records::RoleAssignments),
            RbacList::DenyAssignments => outcome(api, scope, client.list(arm, url).await, Records::DenyAssignments),
            RbacList::RoleEligibilityScheduleInstances => {
                outcome(api, scope, client.list(arm, url).await, Records::Eligibility)
            }
        }
    }

    /// The users listing; its first page sets Graph's budget (the tenant's size class) unless configured.
    async fn users(&self) -> Outcome {
        let (graph, client, ctx) = (&self.graph, &self.client, self);
        let url = msgraph::users_url(&graph.base);
        // The first page tells the tenant's size class, hence Graph's budget (unless configured).
        let mut sized = ctx.graph_tenant_size.is_some();
        let listing = client
            .list_with(graph, url, |page: &[User], more| {
                if !sized {
                    sized = true;
                    client.set_graph_tenant_size(pacer::TenantSize::of(page.len(), more));
                }
            })
            .await;
        outcome("graph.users", "tenant".into(), listing, Records::Users)
    }

    /// The groups listing; each page's groups get their member listings at once.
    async fn groups(&self) -> Outcome {
        let (graph, client, ctx) = (&self.graph, &self.client, self);
        // Direct members of every group, one listing each, started as each page of groups arrives;
        // nesting is resolved by the graph builder.
        let url = msgraph::groups_url(&graph.base);
        let listing = client
            .list_with(graph, url, |page: &[Group], _| {
                for g in page.iter().filter(|g| safe_name(&g.id)) {
                    // The receiver lives as long as the collection; a send can only fail after it.
                    let _ = ctx.spawn.send(Job::Object(ObjectJob::GroupMembers { group_id: g.id.clone() }));
                }
            })
            .await;
        outcome("graph.groups", "tenant".into(), listing, Records::Groups)
    }

    /// A subscription's resources that carry an identity block.
    async fn identity_resources(&self, subscription_id: &str) -> Outcome {
        let (arm, client) = (&self.arm, &self.client);
        let url = compute::resources_url(&arm.base, subscription_id);
        let scope = format!("/subscriptions/{subscription_id}");
        let listing = client.list::<compute::GenericResource>(arm, url).await;
        let kept = listing.items.into_iter().filter_map(compute::GenericResource::with_identity).collect();
        let listing = Listing { items: kept, pages: listing.pages, error: listing.error };
        outcome(compute::API, scope, listing, Records::IdentityResources)
    }
}

impl EntraJob {
    /// The API name recorded for this listing.
    fn api(&self) -> &'static str {
        match self {
            EntraJob::RoleDefinitions => "graph.directoryRoleDefinitions",
            EntraJob::RoleAssignments => "graph.directoryRoleAssignments",
            EntraJob::RoleEligibility => "graph.directoryRoleEligibilityScheduleInstances",
            EntraJob::ExpandedAppRoleAssignments => "graph.appRoleAssignments",
        }
    }

    async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let (graph, client) = (&ctx.graph, &ctx.client);
        let tenant = || "tenant".to_string();
        let api = self.api();
        match self {
            EntraJob::RoleDefinitions => {
                let url = msgraph::directory_role_definitions_url(&graph.base);
                outcome(api, tenant(), client.list(graph, url).await, Records::DirectoryRoleDefinitions)
            }
            EntraJob::RoleAssignments => {
                let url = msgraph::directory_role_assignments_url(&graph.base);
                outcome(api, tenant(), client.list(graph, url).await, Records::DirectoryRoleAssignments)
            }
            EntraJob::RoleEligibility => {
                let url = msgraph::directory_role_eligibility_url(&graph.base);
                outcome(api, tenant(), client.list(graph, url).await, Records::DirectoryRoleEligibility)
            }
            EntraJob::ExpandedAppRoleAssignments => {
                let url = msgraph::service_principal_app_role_assignments_url(&graph.base);
                outcome(api, tenant(), client.list(graph, url).await, Records::ExpandedAppRoleAssignments)
            }
        }
    }
}

/// One listing of all app roles granted to each service principal whose expanded `appRoleAssignments`
/// reached Graph's cut-off.
fn app_role_assignment_jobs(expanded: &[msgraph::ExpandedAppRoleAssignments], gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
    let full = expanded
        .iter()
        .filter(|sp| sp.app_role_assignments.as_ref().is_some_and(|a| a.len() >= msgraph::EXPANDED_LIMIT));
    let mut jobs = Vec::new();
    for sp in full {
        let id = sp.id.clone();
        if safe_name(&id) {
            jobs.push(Job::Object(ObjectJob::AppRoleAssignments { service_principal_id: id }));
        } else {
            gaps.push(bad_name("graph.appRoleAssignments", &format!("/servicePrincipals/{id}"), &id));
        }
    }
    jobs
}

/// Replaces the expanded app role assignments of one service principal with its whole list.
fn set_app_role_assignments(e: &mut EntraData, service_principal_id: &str, assignments: Vec<AppRoleAssignment>) {
    e.app_role_assignments.retain(|a| !a.principal_id.eq_ignore_ascii_case(service_principal_id));
    e.app_role_assignments.extend(assignments.into_iter().map(|a| held_by(a, service_principal_id)));
}

/// An assignment listed under a service principal is held by it, whatever the record says about itself.
fn held_by(mut a: AppRoleAssignment, service_principal_id: &str) -> AppRoleAssignment {
    if a.principal_id.is_empty() {
        a.principal_id = service_principal_id.to_string();
    }
    a
}

/// One federated-credential listing per user-assigned identity, each identity once.
fn identity_credential_jobs(
    identities: &[UserAssignedIdentity],
    followed: &mut Followed,
    gaps: &mut Vec<CoverageGap>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for identity in identities {
        if !followed.first(identity.id.to_ascii_lowercase()) {
            continue;
        }
        match managed_identity::identity_path(&identity.id) {
            Some(path) => jobs.push(Job::FederatedIdentityCredentials { identity_id: identity.id.clone(), path }),
            None => gaps.push(bad_name("arm.federatedIdentityCredentials", &identity.id, &identity.id)),
        }
    }
    jobs
}

/// One identity-bindings listing per AKS cluster.
fn identity_binding_jobs(clusters: &[ManagedCluster], gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
    let mut jobs = Vec::new();
    for cluster in clusters {
        match ResourcePath::parse(&cluster.id, container_service::MANAGED_CLUSTERS) {
            Some(path) => jobs.push(Job::IdentityBindings { cluster_id: cluster.id.clone(), path }),
            None => gaps.push(bad_name("arm.identityBindings", &cluster.id, &cluster.id)),
        }
    }
    jobs
}

/// One federated-credential listing per application (Graph) of `ids`, each application once.
fn application_credential_jobs(ids: Vec<String>, followed: &mut Followed, gaps: &mut Vec<CoverageGap>) -> Vec<Job> {
    let mut jobs = Vec::new();
    for id in ids {
        if !followed.first(format!("/applications/{}", id.to_ascii_lowercase())) {
            continue;
        }
        if safe_name(&id) {
            jobs.push(Job::Object(ObjectJob::ApplicationFederatedCredentials { application_id: id }));
        } else {
            let scope = format!("/applications/{id}");
            gaps.push(bad_name("graph.applicationFederatedCredentials", &scope, &id));
        }
    }
    jobs
}

/// One owners listing per object of `collection` whose expanded owners reached Graph's cut-off, so none is
/// missed.
fn owner_jobs<'r>(
    collection: msgraph::OwnedCollection,
    objects: impl Iterator<Item = (&'r String, &'r Vec<DirectoryObject>)>,
    gaps: &mut Vec<CoverageGap>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (id, _) in objects.filter(|(_, owners)| owners.len() >= msgraph::EXPANDED_LIMIT) {
        if safe_name(id) {
            jobs.push(Job::Object(ObjectJob::Owners { collection, id: id.clone() }));
        } else {
            gaps.push(bad_name("graph.owners", &format!("/{}/{id}", collection.segment()), id));
        }
    }
    jobs
}

/// Replaces the expanded owners of one object with its whole owner list.
fn set_owners(e: &mut EntraData, collection: msgraph::OwnedCollection, id: &str, owners: Vec<DirectoryObject>) {
    use msgraph::OwnedCollection;
    let slot = match collection {
        OwnedCollection::Groups => e.groups.iter_mut().find(|g| g.id == id).map(|g| &mut g.owners),
        OwnedCollection::ServicePrincipals => {
            e.service_principals.iter_mut().find(|s| s.id == id).map(|s| &mut s.owners)
        }
        OwnedCollection::Applications => e.applications.iter_mut().find(|a| a.id == id).map(|a| &mut a.owners),
    };
    if let Some(slot) = slot {
        *slot = owners;
    }
}

/// Adds a job's records to the snapshot, and its source record or coverage gap.
fn absorb(snap: &mut Snapshot, outcome: Outcome) {
    let (a, e) = (&mut snap.azure, &mut snap.entra);
    match outcome.records {
        Records::ManagementGroup(mg) => a.management_groups.extend(mg),
        Records::Descendants(_) => {}
        Records::ResourceGroups(v) => append(&mut a.resource_groups, v),
        Records::RoleDefinitions(v) => append(&mut a.role_definitions, v),
        Records::RoleAssignments(v) => append(&mut a.role_assignments, v),
        Records::DenyAssignments(v) => append(&mut a.deny_assignments, v),
        Records::Eligibility(v) => append(&mut a.role_eligibility_schedule_instances, v),
        Records::Users(v) => append(&mut e.users, v),
        Records::Groups(v) => append(&mut e.groups, v),
        Records::ServicePrincipals(v) => append(&mut e.service_principals, v),
        Records::Applications(v) => append(&mut e.applications, v),
        Records::GroupMembers(group_id, mut members) => {
            // Kept to the end of the collection, one vector per group (40k at 400k users): no growth slack.
            members.shrink_to_fit();
            e.group_members.push(GroupMembers { group_id, members })
        }
        Records::UserAssignedIdentities(v) => append(&mut a.user_assigned_identities, v),
        Records::FederatedIdentityCredentials(v) => append(&mut a.federated_identity_credentials, v),
        Records::ManagedClusters(v) => append(&mut a.managed_clusters, v),
        Records::ConnectedClusters(v) => append(&mut a.connected_clusters, v),
        Records::IdentityBindings(v) => append(&mut a.identity_bindings, v),
        Records::ApplicationFederatedCredentials(application_id, credentials) => {
            e.application_federated_credentials.push(ApplicationFederatedCredentials { application_id, credentials })
        }
        Records::Owners { collection, id, owners } => {
            if outcome.error.is_none() {
                set_owners(e, collection, &id, owners);
            }
        }
        Records::DirectoryRoleDefinitions(v) => append(&mut e.directory_role_definitions, v),
        Records::DirectoryRoleAssignments(v) => append(&mut e.directory_role_assignments, v),
        Records::DirectoryRoleEligibility(v) => append(&mut e.directory_role_eligibility_schedule_instances, v),
        Records::ExpandedAppRoleAssignments(v) => {
            for sp in v {
                let held = sp.app_role_assignments.unwrap_or_default();
                e.app_role_assignments.extend(held.into_iter().map(|a| held_by(a, &sp.id)));
            }
        }
        // A failed listing keeps what the expansion gave (true, maybe incomplete); the gap says so.
        Records::AppRoleAssignments { service_principal_id, assignments } => {
            if outcome.error.is_none() {
                set_app_role_assignments(e, &service_principal_id, assignments);
            }
        }
        Records::GroupEligibility(v) => append(&mut e.group_eligibility_schedule_instances, v),
        Records::AdministrativeUnits(v) => append(&mut e.administrative_units, v),
        Records::UnitMembers(administrative_unit_id, members) => {
            e.administrative_unit_members.push(AdministrativeUnitMembers { administrative_unit_id, members })
        }
        Records::IdentityResources(v) => append(&mut a.identity_resources, v),
        Records::ExpandedCredentials(v) => return absorb_expanded_credentials(snap, v, outcome.error),
        Records::Skipped => {}
    }
    record(snap, outcome.api, &outcome.scope, outcome.count, outcome.error);
}

/// Appends `v` to `into`, taking `v` whole when `into` is empty: a tenant-wide listing (400k users) is then
/// not copied into a second vector while both are held.
fn append<T>(into: &mut Vec<T>, v: Vec<T>) {
    if into.is_empty() {
        *into = v;
    } else {
        into.extend(v);
    }
}

/// A source record for a complete listing, or a coverage gap for an incomplete one.
fn record(snap: &mut Snapshot, api: &str, scope: &str, count: usize, error: Option<FetchError>) {
    match error {
        None => snap.sources.push(source(api, scope, count)),
        Some(e) => {
            tracing::info!(api, scope, reason = ?e.reason, "coverage gap: {}", e.message);
            let partial =
                if count > 0 { format!(" ({count} records read before the failure are kept)") } else { String::new() };
            snap.coverage.push(CoverageGap {
                api: api.to_string(),
                scope: scope.to_string(),
                reason: e.reason,
                status: e.status,
                message: format!("{}{partial}", e.message),
            });
        }
    }
}

fn source(api: &str, scope: &str, count: usize) -> SourceRecord {
    SourceRecord { api: api.to_string(), scope: scope.to_string(), count }
}

fn gap(api: &str, scope: &str, reason: GapReason, message: String) -> CoverageGap {
    CoverageGap { api: api.to_string(), scope: scope.to_string(), reason, status: None, message }
}

/// The parts of a resource id `/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/{name}`, checked
/// before they become a request path (the id comes from an API response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// Subscription id.
    pub subscription_id: String,
    /// Resource group name.
    pub resource_group: String,
    /// Resource name.
    pub name: String,
}

impl ResourcePath {
    /// Splits `id` (any case) if it is a resource of type `provider` (`Microsoft.ManagedIdentity/userAssignedIdentities`);
    /// `None` for any other shape or a part that could not be one request path segment.
    pub fn parse(id: &str, provider: &str) -> Option<ResourcePath> {
        let (namespace, kind) = provider.split_once('/')?;
        let parts: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
        let [subs, sub, rgs, rg, providers, ns, k, name] = parts.as_slice() else { return None };
        let literal = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
        let shaped = literal(subs, "subscriptions")
            && literal(rgs, "resourceGroups")
            && literal(providers, "providers")
            && literal(ns, namespace)
            && literal(k, kind);
        (shaped && safe_segment(sub) && safe_segment(rg) && safe_segment(name)).then(|| ResourcePath {
            subscription_id: (*sub).to_string(),
            resource_group: (*rg).to_string(),
            name: (*name).to_string(),
        })
    }

    /// `subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/{name}` (no leading slash).
    pub fn path(&self, provider: &str) -> String {
        let ResourcePath { subscription_id, resource_group, name } = self;
        format!("subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider}/{name}")
    }
}

/// A resource group or resource name usable as one path segment: Azure allows Unicode letters, digits and
/// `-_.()` in them; anything that could change the path (`/`, `\`, `?`, `#`, `%`, dot segments, control
/// characters) is refused.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '\\' | '?' | '#' | '%'))
}

fn bad_name(api: &str, scope: &str, name: &str) -> CoverageGap {
    gap(api, scope, GapReason::Malformed, format!("`{name}` is not a valid name for a request path; not requested"))
}

/// Management groups as the descendants listings describe them (parent, and children among the
/// descendants). They are added after the full records, so [`Snapshot::normalize`] keeps the full ones;
/// they matter when the caller may read a group's subtree but not list the groups.
fn groups_from_descendants(roots: &BTreeSet<String>, descendants: &[Descendant]) -> Vec<ManagementGroup> {
    let mut groups: BTreeMap<String, ManagementGroup> = BTreeMap::new();
    for root in roots {
        let id = resources::management_group_scope(root);
        groups.insert(id.to_ascii_lowercase(), ManagementGroup { id, name: root.clone(), ..Default::default() });
    }
    for d in descendants.iter().filter(|d| !d.is_subscription()) {
        let props = ManagementGroupProperties {
            display_name: d.properties.display_name.clone(),
            details: Some(ManagementGroupDetails { parent: d.properties.parent.clone() }),
            ..Default::default()
        };
        let name = if d.name.is_empty() { last_segment(&d.id) } else { d.name.clone() };
        groups.insert(d.id.to_ascii_lowercase(), ManagementGroup { id: d.id.clone(), name, properties: props });
    }
    for d in descendants {
        let Some(parent) = d.properties.parent.as_ref().and_then(|p| p.id.as_deref()) else { continue };
        if let Some(g) = groups.get_mut(&parent.to_ascii_lowercase()) {
            g.properties.children.get_or_insert_with(Vec::new).push(ManagementGroupChild {
                id: d.id.clone(),
                kind: d.kind.clone(),
                name: d.name.clone(),
                display_name: d.properties.display_name.clone(),
                children: None,
            });
        }
    }
    groups.into_values().collect()
}

fn subscription_key(s: &Subscription) -> String {
    let id = if s.subscription_id.is_empty() { last_segment(&s.id) } else { s.subscription_id.clone() };
    id.to_ascii_lowercase()
}

fn last_segment(id: &str) -> String {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string()
}

/// True for a name that is safe as one request path segment: Azure names of subscriptions, management
/// groups and directory objects use only these characters.
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

/// `{base}/{path}?{query}`: `path` is split on `/` and each segment percent-encoded, so nothing in it can
/// change the origin or escape the base path; `query` is a constant of this module tree.
pub(crate) fn api_url(base: &Url, path: &str, query: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(path.split('/').filter(|s| !s.is_empty()));
    }
    url.set_query(Some(query));
    url
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} [{pos}/{len}] {elapsed}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_encodes_segments() {
        let base = Url::parse("https://arm.example/prefix/").unwrap();
        let u = api_url(&base, "/subscriptions/a?b#c/x", "api-version=1");
        assert_eq!(u.as_str(), "https://arm.example/prefix/subscriptions/a%3Fb%23c/x?api-version=1");
        assert!(!safe_name("a/b") && !safe_name("..") && safe_name("My_MG-1(x)"));
    }

    #[test]
    fn authorization_records_listed_again_are_dropped_as_they_arrive() {
        let ra = |id: &str, scope: &str| RoleAssignment {
            id: id.into(),
            properties: azpath_graph::snapshot::AssignmentProperties { scope: scope.into(), ..Default::default() },
            ..Default::default()
        };
        let listing = |records: Vec<RoleAssignment>| Outcome {
            api: "arm.roleAssignments",
            scope: "/subscriptions/s".into(),
            count: records.len(),
            records: Records::RoleAssignments(records),
            error: None,
        };
        let mut repeats = Repeats::default();
        let kept = |o: Outcome| match o.records {
            Records::RoleAssignments(v) => (o.count, v.into_iter().map(|r| r.properties.scope.to_string()).collect()),
            _ => unreachable!(),
        };
        let first = repeats.drop_repeats(listing(vec![ra("/mg/ra/1", "first"), ra("/s1/ra/2", "first")]));
        assert_eq!(kept(first), (2, vec!["first".to_string(), "first".to_string()]));
        // The inherited one again, in another case, from the next subscription: dropped, the count kept.
        let second = repeats.drop_repeats(listing(vec![ra("/MG/RA/1", "again"), ra("/s2/ra/3", "first")]));
        assert_eq!(kept(second), (2, vec!["first".to_string()]));
        // Another kind of record with the same id is not a repeat.
        let deny = DenyAssignment { id: "/mg/ra/1".into(), ..Default::default() };
        let denies = Outcome {
            api: "arm.denyAssignments",
            scope: "/subscriptions/s".into(),
            count: 1,
            records: Records::DenyAssignments(vec![deny]),
            error: None,
        };
        assert!(matches!(repeats.drop_repeats(denies).records, Records::DenyAssignments(v) if v.len() == 1));
    }
}
