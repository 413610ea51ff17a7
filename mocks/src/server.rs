//! The mock Azure: two wiremock servers (ARM and Microsoft Graph, on different ports so they are different
//! origins, as in the real clouds) that serve a [`MockTenant`] along every route of `docs/collection.md`.
//!
//! The point is to exercise a collector the way Azure does, not just to hand it data: every list is paged with
//! absolute next links, api-versions and bearer tokens are checked, throttling is injected with `Retry-After`,
//! and the server keeps score of what a careless client would do wrong (retrying before `Retry-After`
//! expired, sending the wrong token), so tests can assert a client's manners as well as its results.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Map, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::batch;
use crate::scopes::{normalize, ScopeIndex, ScopeTree, MG_TYPE};
use crate::tenant::{builtin_role_definitions, Fault, MockTenant};
use crate::throttle::{self, Api, Call, Floor, Listing, SystemClock, Throttle, ThrottleOptions, ThrottleStats};
use azpath_graph::snapshot::{AssignmentProperties, FederatedIdentityCredential, RoleDefinition};

/// How the mock behaves. `MockOptions::default()` pages by 3 and never throttles.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Records per page; every list is paged (`nextLink` / `@odata.nextLink`). Small by default so that
    /// paging is always exercised.
    pub page_size: usize,
    /// Delay added to every response.
    pub latency: Duration,
    /// Fraction (0.0–1.0) of requests answered `429 Too Many Requests` (or [`Self::throttle_status`]) with
    /// `Retry-After`. The same URL is never throttled twice in a row, so every request eventually succeeds.
    pub throttle_rate: f64,
    /// Status of the throttling answers: 429 (default) or 503 `Service Unavailable`, which ARM also sends with
    /// `Retry-After` under load.
    pub throttle_status: u16,
    /// `Retry-After` seconds sent with each 429.
    pub retry_after_secs: u64,
    /// Send `Retry-After` as an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`, rounded up to the next whole
    /// second) instead of a number of seconds; both forms are legal and clients must read both.
    pub retry_after_date: bool,
    /// Seed of the throttling decisions: the same seed throttles the same URLs at the same attempts.
    pub seed: u64,
    /// Bearer token the ARM server expects.
    pub arm_token: String,
    /// Bearer token the Graph server expects.
    pub graph_token: String,
    /// Loopback port of the ARM server; 0 picks a free one.
    pub arm_port: u16,
    /// Loopback port of the Graph server; 0 picks a free one.
    pub graph_port: u16,
    /// Emulation of Azure's documented throttling, latency with jitter and injected faults
    /// ([`crate::throttle`]); off by default. Applied before every route, on top of the options above.
    pub emulation: ThrottleOptions,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            page_size: 3,
            latency: Duration::ZERO,
            throttle_rate: 0.0,
            throttle_status: 429,
            retry_after_secs: 1,
            retry_after_date: false,
            seed: 0,
            arm_token: "mock-arm-token".into(),
            graph_token: "mock-graph-token".into(),
            arm_port: 0,
            graph_port: 0,
            emulation: ThrottleOptions::default(),
        }
    }
}

/// What the mock has seen since it started (or since [`MockAzure::reset_stats`]).
///
/// Served as JSON at `GET /_mock/stats` on both servers (no token needed: they listen on loopback only).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MockStats {
    /// Requests received per API (`arm.roleAssignments`, `graph.users`, …, `unknown`), whatever the answer.
    pub requests: BTreeMap<String, u64>,
    /// Requests received per lower-cased path (no query).
    pub paths: BTreeMap<String, u64>,
    /// Throttling responses (429, or 503 with [`MockOptions::throttle_status`]) sent, those of the
    /// [emulation](MockOptions::emulation) included.
    pub throttled: u64,
    /// Requests for a URL that arrived before the `Retry-After` of a 429 sent for that URL had expired, those
    /// of the [emulation](MockOptions::emulation) included. A well-behaved client keeps this at 0.
    pub early_retries: u64,
    /// Requests with a missing or wrong bearer token (answered 401).
    pub wrong_token: u64,
    /// Requests with a missing or wrong `api-version` (answered 400).
    pub bad_api_version: u64,
    /// Responses from `faults.json`.
    pub faults: u64,
    /// Requests for unknown routes or objects (answered 404).
    pub not_found: u64,
    /// JSON batches received (`POST /v1.0/$batch`). Their items are counted in `requests` one by one (as
    /// Graph's throttling counts them), so HTTP requests = `total() - batch_items + batches`.
    pub batches: u64,
    /// Items of those batches.
    pub batch_items: u64,
    /// The emulation's counters, when [`MockOptions::emulation`] is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulation: Option<ThrottleStats>,
    /// The least wall time any client could collect what was served in, when the emulation is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<Floor>,
}

impl MockStats {
    /// All requests received, each item of a JSON batch counted as one.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// HTTP requests received: a JSON batch counts once, whatever it holds.
    pub fn http_requests(&self) -> u64 {
        self.total() - self.batch_items + self.batches
    }

    /// Requests received for one API (`arm.roleAssignments`).
    pub fn count(&self, api: &str) -> u64 {
        self.requests.get(api).copied().unwrap_or(0)
    }

    /// Requests received for one path, compared case-insensitively.
    pub fn path_count(&self, path: &str) -> u64 {
        self.paths.get(&path.to_ascii_lowercase()).copied().unwrap_or(0)
    }
}

/// Failure to start the mock.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A loopback port could not be bound.
    #[error("binding 127.0.0.1:{port} for the mock {api} server")]
    Bind {
        /// `ARM`, `Graph` or `Kubernetes`.
        api: &'static str,
        /// The port asked for.
        port: u16,
        /// The bind failure.
        #[source]
        source: std::io::Error,
    },
}

/// A running mock Azure. Dropping it stops both servers.
pub struct MockAzure {
    arm: MockServer,
    graph: MockServer,
    /// What it served at start ([`MockAzure::tenant`]).
    shared: Arc<Shared>,
    /// What it serves now: replaced whole by [`MockAzure::reload`].
    live: Live,
}

/// The tenant being served, swapped whole on reload; a request holds the read lock while it is answered, so a
/// reload waits for the answers in flight and no counter is lost.
type Live = Arc<RwLock<Arc<Shared>>>;

impl MockAzure {
    /// Starts the ARM and Graph servers on loopback, serving `tenant`.
    pub async fn start(tenant: MockTenant, options: MockOptions) -> Result<MockAzure, MockError> {
        MockAzure::start_with_clock(tenant, options, Arc::new(SystemClock::default())).await
    }

    /// [`start`](Self::start), with the [emulation](MockOptions::emulation)'s buckets and Retry-After
    /// deadlines on `clock` instead of the monotonic clock (the answers' latency is real time either way).
    pub async fn start_with_clock(
        tenant: MockTenant,
        options: MockOptions,
        clock: Arc<dyn throttle::Clock>,
    ) -> Result<MockAzure, MockError> {
        let bind = |api, port| {
            std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|source| MockError::Bind { api, port, source })
        };
        let arm_listener = bind("ARM", options.arm_port)?;
        let graph_listener = bind("Graph", options.graph_port)?;
        let arm = MockServer::builder().listener(arm_listener).disable_request_recording().start().await;
        let graph = MockServer::builder().listener(graph_listener).disable_request_recording().start().await;
        let emulation = options
            .emulation
            .is_active()
            .then(|| Arc::new(Throttle::new(options.emulation.clone(), tenant.entra.users.len(), clock)));
        let shared = Arc::new(Shared::new(tenant, options, emulation));
        let live: Live = Arc::new(RwLock::new(shared.clone()));
        for (server, side) in [(&arm, Side::Arm), (&graph, Side::Graph)] {
            let responder = Responder { live: live.clone(), side, base: server.uri() };
            Mock::given(wiremock::matchers::any()).respond_with(responder).mount(server).await;
        }
        Ok(MockAzure { arm, graph, shared, live })
    }

    /// Serves `tenant` from now on, on the same ports with the same options; the counters (and the memory of
    /// sent 429s) carry over. Requests being answered finish with the previous tenant first.
    pub fn reload(&self, tenant: MockTenant) {
        let mut current = self.live.write().unwrap_or_else(|e| e.into_inner());
        let fresh = Shared::new(tenant, current.options.clone(), current.emulation.clone());
        {
            let mut state = std::mem::take(&mut *current.lock());
            state.cache.clear();
            *fresh.lock() = state;
        }
        *current = Arc::new(fresh);
    }

    /// The tenant served now (after the latest [`reload`](Self::reload)).
    fn current(&self) -> Arc<Shared> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Base URL of the resource manager (`http://127.0.0.1:PORT`), for `--arm-url`.
    pub fn arm_url(&self) -> String {
        self.arm.uri()
    }

    /// Base URL of Microsoft Graph (`http://127.0.0.1:PORT`), for `--graph-url`.
    pub fn graph_url(&self) -> String {
        self.graph.uri()
    }

    /// The tokens to hand a client: `[("AZPATH_ARM_TOKEN", …), ("AZPATH_GRAPH_TOKEN", …)]`.
    pub fn token_env(&self) -> [(&'static str, String); 2] {
        let o = &self.shared.options;
        [("AZPATH_ARM_TOKEN", o.arm_token.clone()), ("AZPATH_GRAPH_TOKEN", o.graph_token.clone())]
    }

    /// The tenant served when the mock started ([`reload`](Self::reload) does not change it).
    pub fn tenant(&self) -> &MockTenant {
        &self.shared.data.tenant
    }

    /// A copy of the counters (with the emulation's, and the floor, when it is on).
    pub fn stats(&self) -> MockStats {
        self.current().stats()
    }

    /// Clears the counters (and the memory of sent 429s).
    pub fn reset_stats(&self) {
        let current = self.current();
        let mut state = current.lock();
        state.stats = MockStats::default();
        state.retry_not_before.clear();
        state.last_throttled.clear();
        state.attempts.clear();
        if let Some(emulation) = &current.emulation {
            emulation.reset();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Arm,
    Graph,
}

struct Responder {
    live: Live,
    side: Side,
    base: String,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let shared = self.live.read().unwrap_or_else(|e| e.into_inner());
        shared.handle(self.side, &self.base, request)
    }
}

/// The tenant plus the indexes the routes need.
struct Data {
    tenant: MockTenant,
    builtins: Vec<RoleDefinition>,
    tree: ScopeTree,
    /// Role assignments, eligibility instances and deny assignments filed by scope ([`Data::authz`]).
    role_assignments: ScopeIndex,
    eligibility: ScopeIndex,
    deny_assignments: ScopeIndex,
    /// Normalized user-assigned identity id → indexes of its federated credentials, in the tenant's order.
    identity_credentials: HashMap<String, Arc<Vec<usize>>>,
    subscriptions: HashSet<String>,
    management_groups: HashMap<String, usize>,
    members: HashMap<String, usize>,
    groups: HashSet<String>,
    /// Normalized user-assigned identity id → index.
    identities: HashMap<String, usize>,
    /// Lower-cased application object ids.
    applications: HashSet<String>,
    /// Lower-cased application object id → index of its federated credentials.
    app_credentials: HashMap<String, usize>,
    /// Lower-cased principal id → indexes of the app role assignments it holds.
    app_roles_held: HashMap<String, Vec<usize>>,
    /// Lower-cased service principal ids.
    service_principals: HashSet<String>,
    faults: HashMap<String, Fault>,
}

struct Shared {
    data: Data,
    options: MockOptions,
    state: Mutex<State>,
    /// The throttling emulation, shared across reloads.
    emulation: Option<Arc<Throttle>>,
    /// The longest serial chain of dependent requests of the tenant ([`throttle::serial_chain`]), computed
    /// once when the floor is first asked for.
    chain: OnceLock<usize>,
}

#[derive(Default)]
struct State {
    stats: MockStats,
    /// URL → how many times it was requested (the throttling draw depends on it).
    attempts: HashMap<String, u32>,
    /// URLs whose latest answer was a 429.
    last_throttled: HashSet<String>,
    /// URL → instant before which a retry is early.
    retry_not_before: HashMap<String, Instant>,
    /// Filtered listings by route key, as indexes into the tenant's collections.
    cache: HashMap<String, Arc<Vec<usize>>>,
}

/// The collection a route lists, or the object it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Subscriptions,
    ManagementGroups,
    ManagementGroup(String),
    Descendants(String),
    ResourceGroups(String),
    Authz(Authz, String),
    Users,
    Groups,
    ServicePrincipals,
    Applications,
    Members(String),
    UserAssignedIdentities(String),
    /// The credentials of one identity, named by its resource id as requested.
    FederatedCredentials(String),
    ManagedClusters(String),
    /// The identity bindings of one AKS cluster, named by its resource id as requested.
    IdentityBindings(String),
    ConnectedClusters(String),
    ApplicationFederatedCredentials(String),
    /// The owners of one group, service principal or application: (collection, object id).
    Owners(Owned, String),
    DirectoryRoleDefinitions,
    DirectoryRoleAssignments,
    DirectoryRoleEligibility,
    /// The app roles granted to one service principal, by its object id.
    AppRoleAssignments(String),
    /// PIM for Groups eligibility, which Graph lists only with `$filter=groupId eq '…'`.
    GroupEligibility,
    /// The generic resource listing of a subscription (those of the tenant's `arm/resources.json`).
    Resources(String),
    /// `/directory/administrativeUnits` and one unit's members.
    AdministrativeUnits,
    AdministrativeUnitMembers(String),
}

/// The directory collections with an `owners` relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owned {
    Groups,
    ServicePrincipals,
    Applications,
}

/// Most entries Graph returns for an expanded relationship of a directory object.
const EXPANDED_LIMIT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authz {
    RoleDefinitions,
    RoleAssignments,
    DenyAssignments,
    Eligibility,
}

impl Authz {
    fn parse(segment: &str) -> Option<Authz> {
        Some(match segment {
            "roledefinitions" => Authz::RoleDefinitions,
            "roleassignments" => Authz::RoleAssignments,
            "denyassignments" => Authz::DenyAssignments,
            "roleeligibilityscheduleinstances" => Authz::Eligibility,
            _ => return None,
        })
    }

    fn resource_type(self) -> &'static str {
        match self {
            Authz::RoleDefinitions => "Microsoft.Authorization/roleDefinitions",
            Authz::RoleAssignments => "Microsoft.Authorization/roleAssignments",
            Authz::DenyAssignments => "Microsoft.Authorization/denyAssignments",
            Authz::Eligibility => "Microsoft.Authorization/roleEligibilityScheduleInstances",
        }
    }
}

impl Route {
    fn parse(side: Side, path: &str) -> Option<Route> {
        let lower = path.trim_end_matches('/').to_ascii_lowercase();
        let original = path.trim_end_matches('/');
        let seg: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
        let orig: Vec<&str> = original.trim_start_matches('/').split('/').collect();
        if side == Side::Graph {
            return match seg.as_slice() {
                ["v1.0", "users"] => Some(Route::Users),
                ["v1.0", "groups"] => Some(Route::Groups),
                ["v1.0", "serviceprincipals"] => Some(Route::ServicePrincipals),
                ["v1.0", "applications"] => Some(Route::Applications),
                ["v1.0", "groups", _, "members"] => Some(Route::Members(orig[2].to_string())),
                ["v1.0", "applications", _, "federatedidentitycredentials"] => {
                    Some(Route::ApplicationFederatedCredentials(orig[2].to_string()))
                }
                ["v1.0", "groups", _, "owners"] => Some(Route::Owners(Owned::Groups, orig[2].to_string())),
                ["v1.0", "serviceprincipals", _, "owners"] => {
                    Some(Route::Owners(Owned::ServicePrincipals, orig[2].to_string()))
                }
                ["v1.0", "applications", _, "owners"] => Some(Route::Owners(Owned::Applications, orig[2].to_string())),
                ["v1.0", "rolemanagement", "directory", "roledefinitions"] => Some(Route::DirectoryRoleDefinitions),
                ["v1.0", "rolemanagement", "directory", "roleassignments"] => Some(Route::DirectoryRoleAssignments),
                ["v1.0", "rolemanagement", "directory", "roleeligibilityscheduleinstances"] => {
                    Some(Route::DirectoryRoleEligibility)
                }
                ["v1.0", "serviceprincipals", _, "approleassignments"] => {
                    Some(Route::AppRoleAssignments(orig[2].to_string()))
                }
                ["v1.0", "identitygovernance", "privilegedaccess", "group", "eligibilityscheduleinstances"] => {
                    Some(Route::GroupEligibility)
                }
                ["v1.0", "directory", "administrativeunits"] => Some(Route::AdministrativeUnits),
                ["v1.0", "directory", "administrativeunits", _, "members"] => {
                    Some(Route::AdministrativeUnitMembers(orig[3].to_string()))
                }
                _ => None,
            };
        }
        match seg.as_slice() {
            ["subscriptions"] => return Some(Route::Subscriptions),
            ["providers", "microsoft.management", "managementgroups"] => return Some(Route::ManagementGroups),
            ["providers", "microsoft.management", "managementgroups", _] => {
                return Some(Route::ManagementGroup(orig[3].to_string()))
            }
            ["providers", "microsoft.management", "managementgroups", _, "descendants"] => {
                return Some(Route::Descendants(orig[3].to_string()))
            }
            ["subscriptions", _, "resourcegroups"] => return Some(Route::ResourceGroups(orig[1].to_string())),
            ["subscriptions", _, "providers", "microsoft.managedidentity", "userassignedidentities"] => {
                return Some(Route::UserAssignedIdentities(orig[1].to_string()))
            }
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.managedidentity", "userassignedidentities", _, "federatedidentitycredentials"] => {
                return Some(Route::FederatedCredentials(format!("/{}", orig[..8].join("/"))))
            }
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.containerservice", "managedclusters", _, "identitybindings"] => {
                return Some(Route::IdentityBindings(format!("/{}", orig[..8].join("/"))))
            }
            ["subscriptions", _, "providers", "microsoft.containerservice", "managedclusters"] => {
                return Some(Route::ManagedClusters(orig[1].to_string()))
            }
            ["subscriptions", _, "providers", "microsoft.kubernetes", "connectedclusters"] => {
                return Some(Route::ConnectedClusters(orig[1].to_string()))
            }
            ["subscriptions", _, "resources"] => return Some(Route::Resources(orig[1].to_string())),
            _ => {}
        }
        // `{scope}/providers/Microsoft.Authorization/{collection}`, where scope may itself contain `providers`.
        let n = seg.len();
        if n >= 3 && seg[n - 3] == "providers" && seg[n - 2] == "microsoft.authorization" {
            let kind = Authz::parse(seg[n - 1])?;
            let scope = format!("/{}", orig[..n - 3].join("/"));
            return Some(Route::Authz(kind, if scope == "/" { scope } else { scope.trim_end_matches('/').into() }));
        }
        None
    }

    /// The snapshot `sources[].api` name of the route (`docs/collection.md`).
    fn api(&self) -> &'static str {
        match self {
            Route::Subscriptions => "arm.subscriptions",
            Route::ManagementGroups | Route::ManagementGroup(_) => "arm.managementGroups",
            Route::Descendants(_) => "arm.managementGroupDescendants",
            Route::ResourceGroups(_) => "arm.resourceGroups",
            Route::Authz(Authz::RoleDefinitions, _) => "arm.roleDefinitions",
            Route::Authz(Authz::RoleAssignments, _) => "arm.roleAssignments",
            Route::Authz(Authz::DenyAssignments, _) => "arm.denyAssignments",
            Route::Authz(Authz::Eligibility, _) => "arm.roleEligibilityScheduleInstances",
            Route::Users => "graph.users",
            Route::Groups => "graph.groups",
            Route::ServicePrincipals => "graph.servicePrincipals",
            Route::Applications => "graph.applications",
            Route::Members(_) => "graph.groupMembers",
            Route::UserAssignedIdentities(_) => "arm.userAssignedIdentities",
            Route::FederatedCredentials(_) => "arm.federatedIdentityCredentials",
            Route::ManagedClusters(_) => "arm.managedClusters",
            Route::IdentityBindings(_) => "arm.identityBindings",
            Route::ConnectedClusters(_) => "arm.connectedClusters",
            Route::ApplicationFederatedCredentials(_) => "graph.applicationFederatedCredentials",
            Route::Owners(..) => "graph.owners",
            Route::DirectoryRoleDefinitions => "graph.directoryRoleDefinitions",
            Route::DirectoryRoleAssignments => "graph.directoryRoleAssignments",
            Route::DirectoryRoleEligibility => "graph.directoryRoleEligibilityScheduleInstances",
            Route::AppRoleAssignments(_) => "graph.appRoleAssignments",
            Route::GroupEligibility => "graph.groupEligibilityScheduleInstances",
            Route::AdministrativeUnits => "graph.administrativeUnits",
            Route::AdministrativeUnitMembers(_) => "graph.administrativeUnitMembers",
            Route::Resources(_) => "arm.identityResources",
        }
    }

    /// The api-version the contract pins, for ARM routes.
    fn api_version(&self) -> Option<&'static str> {
        Some(match self {
            Route::Subscriptions => "2022-12-01",
            Route::ManagementGroups | Route::ManagementGroup(_) | Route::Descendants(_) => "2023-04-01",
            Route::ResourceGroups(_) => "2021-04-01",
            Route::UserAssignedIdentities(_) | Route::FederatedCredentials(_) => "2024-11-30",
            Route::ManagedClusters(_) => "2025-10-01",
            Route::IdentityBindings(_) => "2025-10-02-preview",
            Route::ConnectedClusters(_) => "2026-05-01",
            Route::Resources(_) => "2021-04-01",
            Route::Authz(Authz::Eligibility, _) => "2020-10-01",
            Route::Authz(..) => "2022-04-01",
            _ => return None,
        })
    }
}

/// A finished answer: status and JSON body.
struct Answer {
    status: u16,
    body: Value,
    /// `Retry-After` header value.
    retry_after: Option<String>,
    /// Other headers (the emulation's `x-ms-ratelimit-remaining-…`).
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer { status: 200, body, retry_after: None, headers: Vec::new() }
    }

    fn error(side: Side, status: u16, code: &str, message: impl Into<String>) -> Answer {
        let message = message.into();
        let body = match side {
            Side::Arm => json!({"error": {"code": code, "message": message}}),
            Side::Graph => json!({"error": {"code": code, "message": message, "innerError": {
                "date": "2026-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000"}}}),
        };
        Answer { status, body, retry_after: None, headers: Vec::new() }
    }

    fn into_template(self) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status).set_body_raw(self.body.to_string(), "application/json");
        if let Some(retry_after) = &self.retry_after {
            t = t.insert_header("Retry-After", retry_after.as_str());
        }
        if self.status == 401 {
            t = t.insert_header("WWW-Authenticate", "Bearer");
        }
        for (name, value) in &self.headers {
            t = t.insert_header(*name, value.as_str());
        }
        t
    }
}

impl Shared {
    fn new(tenant: MockTenant, options: MockOptions, emulation: Option<Arc<Throttle>>) -> Shared {
        let sub_names = tenant
            .azure
            .subscriptions
            .iter()
            .map(|s| (normalize(&s.id), s.display_name.clone()))
            .collect::<HashMap<_, _>>();
        let tree = ScopeTree::new(&tenant.azure.management_groups, &sub_names);
        let a = &tenant.azure;
        let data = Data {
            builtins: builtin_role_definitions(),
            role_assignments: ScopeIndex::new(&tree, a.role_assignments.iter().map(|r| scope_of(&r.properties))),
            eligibility: ScopeIndex::new(
                &tree,
                a.role_eligibility_schedule_instances.iter().map(|r| scope_of(&r.properties)),
            ),
            deny_assignments: ScopeIndex::new(&tree, a.deny_assignments.iter().map(|d| d.properties.scope.as_str())),
            identity_credentials: identity_credentials(&a.federated_identity_credentials),
            tree,
            subscriptions: sub_names.keys().cloned().collect(),
            management_groups: tenant
                .azure
                .management_groups
                .iter()
                .enumerate()
                .map(|(i, g)| (normalize(&g.id), i))
                .collect(),
            members: tenant
                .entra
                .group_members
                .iter()
                .enumerate()
                .map(|(i, g)| (g.group_id.to_ascii_lowercase(), i))
                .collect(),
            groups: tenant.entra.groups.iter().map(|g| g.id.to_ascii_lowercase()).collect(),
            identities: tenant
                .azure
                .user_assigned_identities
                .iter()
                .enumerate()
                .map(|(i, m)| (normalize(&m.id), i))
                .collect(),
            applications: tenant.entra.applications.iter().map(|a| a.id.to_ascii_lowercase()).collect(),
            app_credentials: tenant
                .entra
                .application_federated_credentials
                .iter()
                .enumerate()
                .map(|(i, f)| (f.application_id.to_ascii_lowercase(), i))
                .collect(),
            faults: tenant.faults.iter().map(|f| (normalize(&f.path), f.clone())).collect(),
            app_roles_held: tenant.entra.app_role_assignments.iter().enumerate().fold(
                HashMap::new(),
                |mut held: HashMap<String, Vec<usize>>, (i, a)| {
                    held.entry(a.principal_id.to_ascii_lowercase()).or_default().push(i);
                    held
                },
            ),
            service_principals: tenant.entra.service_principals.iter().map(|s| s.id.to_ascii_lowercase()).collect(),
            tenant,
        };
        Shared { data, options, state: Mutex::new(State::default()), emulation, chain: OnceLock::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters behind: keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one request: the per-request handler every route (and every item of a batch) goes through.
    fn handle(&self, side: Side, base: &str, request: &Request) -> ResponseTemplate {
        if request.url.path() == STATS_PATH {
            let body = serde_json::to_string(&self.stats()).unwrap_or_default();
            return ResponseTemplate::new(200).set_body_raw(body, "application/json");
        }
        if side == Side::Graph && batch::is_batch(request) {
            return self.batch(base, request);
        }
        let (answer, delay) = self.dispatch(side, base, request);
        answer.into_template().set_delay(self.options.latency + delay)
    }

    /// `POST /v1.0/$batch` ([`batch`]): each item through [`dispatch`](Self::dispatch).
    fn batch(&self, base: &str, request: &Request) -> ResponseTemplate {
        let answered = batch::respond(request, base, |item| {
            let (answer, delay) = self.dispatch(Side::Graph, base, item);
            let retry_after = answer.retry_after.map(|v| ("Retry-After".to_string(), v));
            let headers = answer.headers.into_iter().map(|(k, v)| (k.to_string(), v)).chain(retry_after).collect();
            batch::ItemAnswer { status: answer.status, headers, body: answer.body, delay }
        });
        let mut state = self.lock();
        state.stats.batches += 1;
        state.stats.batch_items += answered.items as u64;
        drop(state);
        answered.into_template(self.options.latency)
    }

    /// The per-request path of one request (or batch item): its answer and the emulated delay beyond the
    /// fixed latency.
    fn dispatch(&self, side: Side, base: &str, request: &Request) -> (Answer, Duration) {
        let (refusal, delay, headers) = self.admit(side, request);
        let path = request.url.path().to_string();
        let key = match request.url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let route = Route::parse(side, &path);
        let now = Instant::now();
        {
            let mut state = self.lock();
            if state.retry_not_before.remove(&key).is_some_and(|not_before| now < not_before) {
                state.stats.early_retries += 1;
            }
            let api = route.as_ref().map_or("unknown", Route::api);
            *state.stats.requests.entry(api.to_string()).or_default() += 1;
            *state.stats.paths.entry(path.to_ascii_lowercase()).or_default() += 1;
        }
        let mut answer = match refusal {
            Some(refused) => refused,
            None => self.answer(side, base, request, route, &key, now),
        };
        answer.headers.extend(headers);
        (answer, delay)
    }

    /// The emulation's verdict on a request ([`Throttle::admit`]): a 429/503 answer when it is refused, the
    /// delay of its answer, and headers for it.
    fn admit(&self, side: Side, request: &Request) -> (Option<Answer>, Duration, Vec<(&'static str, String)>) {
        let Some(emulation) = &self.emulation else { return (None, Duration::ZERO, Vec::new()) };
        let api = if side == Side::Arm { Api::Arm } else { Api::Graph };
        let call = Call { api, path: request.url.path(), query: request.url.query().unwrap_or_default() };
        let decision = emulation.admit(&call);
        let refused = decision.refused.map(|(status, _)| {
            let mut answer = if status == 503 {
                Answer::error(side, 503, "ServiceUnavailable", "The service is busy. Retry after the delay given.")
            } else {
                Answer::error(side, 429, "TooManyRequests", "Rate limit exceeded. Retry after the delay given.")
            };
            answer.retry_after = (decision.retry_after_secs > 0).then(|| decision.retry_after_secs.to_string());
            answer
        });
        (refused, decision.delay, decision.headers)
    }

    /// The counters, with the emulation's folded in and the floor.
    fn stats(&self) -> MockStats {
        let mut stats = self.lock().stats.clone();
        if let Some(emulation) = &self.emulation {
            let e = emulation.stats();
            stats.throttled += e.total_429s() + e.injected_503s;
            stats.early_retries += e.early_retries;
            stats.floor = Some(emulation.floor(&e, *self.chain.get_or_init(|| self.serial_chain())));
            stats.emulation = Some(e);
        }
        stats
    }

    /// Items a route lists (0 for one that is not a listing).
    fn count(&self, side: Side, route: Route) -> usize {
        match self.serve(side, &route, false, None, None) {
            Ok(Served::Many(items)) => items.len(),
            _ => 0,
        }
    }

    /// The longest serial chain of dependent requests a collection of this tenant needs: every root listing
    /// in pages, plus, for groups, the pages of the largest group's members; for subscriptions, the longest of
    /// a subscription's role assignments, resource groups, or identities then the largest identity's
    /// federated credentials; for management groups, one descendants listing.
    fn serial_chain(&self) -> usize {
        let (t, size) = (&self.data.tenant, self.options.page_size.max(1));
        let p = |n| throttle::pages(n, size);
        let largest_group = t.entra.group_members.iter().map(|g| g.members.len()).max().unwrap_or(0);
        let largest_credentials = t
            .azure
            .user_assigned_identities
            .iter()
            .map(|m| self.count(Side::Arm, Route::FederatedCredentials(m.id.clone())))
            .max()
            .unwrap_or(0);
        let per_subscription = t
            .azure
            .subscriptions
            .iter()
            .map(|s| {
                let id = s.subscription_id.clone();
                let assignments =
                    self.count(Side::Arm, Route::Authz(Authz::RoleAssignments, format!("/subscriptions/{id}")));
                let groups = self.count(Side::Arm, Route::ResourceGroups(id.clone()));
                let identities = self.count(Side::Arm, Route::UserAssignedIdentities(id));
                p(assignments).max(p(groups)).max(p(identities) + p(largest_credentials))
            })
            .max()
            .unwrap_or(0);
        let listings = [
            Listing { items: t.entra.users.len(), dependent_pages: 0 },
            Listing { items: t.entra.groups.len(), dependent_pages: p(largest_group) },
            Listing { items: t.entra.service_principals.len(), dependent_pages: 0 },
            Listing { items: t.entra.applications.len(), dependent_pages: 0 },
            Listing { items: t.azure.subscriptions.len(), dependent_pages: per_subscription },
            Listing { items: t.azure.management_groups.len(), dependent_pages: 1 },
        ];
        throttle::serial_chain(&listings, size)
    }

    fn answer(
        &self,
        side: Side,
        base: &str,
        request: &Request,
        route: Option<Route>,
        key: &str,
        now: Instant,
    ) -> Answer {
        let expected = match side {
            Side::Arm => &self.options.arm_token,
            Side::Graph => &self.options.graph_token,
        };
        let token_ok = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token == expected);
        if !token_ok {
            self.lock().stats.wrong_token += 1;
            let message = match side {
                Side::Arm => "The access token is missing or invalid for this resource manager.",
                Side::Graph => "Access token validation failure. Invalid audience.",
            };
            return Answer::error(side, 401, "InvalidAuthenticationToken", message);
        }
        if request.method.as_str() != "GET" {
            return Answer::error(side, 405, "MethodNotAllowed", "The mock only answers GET requests.");
        }
        let Some(route) = route else {
            self.lock().stats.not_found += 1;
            let code = if side == Side::Arm { "InvalidResourceType" } else { "Request_ResourceNotFound" };
            return Answer::error(side, 404, code, format!("No route for '{}'.", request.url.path()));
        };
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let param = |name: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        if let Some(pinned) = route.api_version() {
            match param("api-version") {
                Some(v) if v == pinned => {}
                found => {
                    self.lock().stats.bad_api_version += 1;
                    let (code, message) = match found {
                        None => (
                            "MissingApiVersionParameter",
                            "The api-version query parameter (?api-version=) is required for all requests.".to_string(),
                        ),
                        Some(v) => (
                            "InvalidApiVersionParameter",
                            format!("The api-version '{v}' is invalid. The supported versions are '{pinned}'."),
                        ),
                    };
                    return Answer::error(side, 400, code, message);
                }
            }
        }
        if let Some(fault) = self.data.faults.get(&normalize(request.url.path())) {
            self.lock().stats.faults += 1;
            return fault_answer(side, fault);
        }
        if let Some(retry_after) = self.throttle(key, now) {
            let mut answer = if self.options.throttle_status == 503 {
                Answer::error(side, 503, "ServiceUnavailable", "The service is busy. Retry after the delay given.")
            } else {
                Answer::error(side, 429, "TooManyRequests", "Rate limit exceeded. Retry after the delay given.")
            };
            answer.retry_after = Some(retry_after);
            return answer;
        }
        let skip = match param("$skiptoken") {
            None => 0,
            Some(token) => match token.parse::<usize>() {
                Ok(n) => n,
                Err(_) => return Answer::error(side, 400, "InvalidSkipToken", format!("Bad $skiptoken '{token}'.")),
            },
        };
        if route == Route::GroupEligibility {
            return match group_filter(param("$filter")) {
                Some(group) => {
                    let items = self.group_eligibility(&group);
                    Answer::ok(self.page(side, base, request, &route, &items, skip))
                }
                None => Answer::error(
                    side,
                    400,
                    "BadRequest",
                    "The request requires a $filter on groupId or principalId (eq).",
                ),
            };
        }
        let at_scope = match param("$filter") {
            None => false,
            Some(f) if f.replace(' ', "").eq_ignore_ascii_case("atScope()") => true,
            Some(f) => {
                return Answer::error(
                    side,
                    400,
                    "InvalidFilter",
                    format!("The mock supports only $filter=atScope(), not '{f}'."),
                )
            }
        };
        match self.serve(side, &route, at_scope, param("$expand"), param("$recurse")) {
            Ok(Served::One(body)) => Answer::ok(body),
            Ok(Served::Many(items)) => Answer::ok(self.page(side, base, request, &route, &items, skip)),
            Err(answer) => {
                if answer.status == 404 {
                    self.lock().stats.not_found += 1;
                }
                answer
            }
        }
    }

    /// Decides whether to answer this request with a 429, giving the `Retry-After` value if so; remembers when
    /// a retry becomes legitimate.
    fn throttle(&self, key: &str, now: Instant) -> Option<String> {
        if self.options.throttle_rate <= 0.0 {
            return None;
        }
        let mut state = self.lock();
        let attempt = {
            let n = state.attempts.entry(key.to_string()).or_default();
            *n += 1;
            *n
        };
        if state.last_throttled.remove(key) {
            return None; // never twice in a row: every URL gets through on its next try
        }
        if unit_draw(self.options.seed, key, attempt) >= self.options.throttle_rate {
            return None;
        }
        let (header, wait) = retry_after(self.options.retry_after_secs, self.options.retry_after_date);
        state.stats.throttled += 1;
        state.last_throttled.insert(key.to_string());
        state.retry_not_before.insert(key.to_string(), now + wait);
        Some(header)
    }

    fn page(&self, side: Side, base: &str, request: &Request, route: &Route, items: &Items, skip: usize) -> Value {
        let size = self.options.page_size.max(1);
        let end = (skip + size).min(items.len());
        // `$expand=owners` brings each object's owners, cut at Graph's limit; without it there are none.
        let expanded = |what: &str| {
            request
                .url
                .query_pairs()
                .any(|(k, v)| k.eq_ignore_ascii_case("$expand") && v.to_ascii_lowercase().starts_with(what))
        };
        let (expand_owners, expand_grants) = (expanded("owners"), expanded("approleassignments"));
        let expand_credentials = expanded("federatedidentitycredentials") && *route == Route::Applications;
        let value: Vec<Value> = (skip.min(end)..end)
            .map(|i| {
                let value = shape_owners(self.render(route, items, i), expand_owners);
                if expand_grants && *route == Route::ServicePrincipals {
                    self.expand_app_role_assignments(value)
                } else if expand_credentials {
                    self.expand_federated_credentials(value)
                } else {
                    value
                }
            })
            .collect();
        let next = (end < items.len()).then(|| next_link(base, request, end));
        let mut body = Map::new();
        if side == Side::Graph {
            let context = match route {
                Route::Members(_) | Route::Owners(..) => "directoryObjects".to_string(),
                Route::DirectoryRoleDefinitions => "roleManagement/directory/roleDefinitions".to_string(),
                Route::DirectoryRoleAssignments => "roleManagement/directory/roleAssignments".to_string(),
                Route::DirectoryRoleEligibility => {
                    "roleManagement/directory/roleEligibilityScheduleInstances".to_string()
                }
                Route::AppRoleAssignments(_) => "appRoleAssignments".to_string(),
                Route::GroupEligibility => {
                    "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances".to_string()
                }
                Route::ApplicationFederatedCredentials(id) => {
                    format!("applications('{id}')/federatedIdentityCredentials")
                }
                other => other.api().trim_start_matches("graph.").to_string(),
            };
            body.insert("@odata.context".into(), json!(format!("{base}/v1.0/$metadata#{context}")));
        }
        body.insert("value".into(), Value::Array(value));
        if let Some(next) = next {
            // The management-groups list names its link `@nextLink`, as the real API does.
            let key = match (side, route) {
                (Side::Graph, _) => "@odata.nextLink",
                (Side::Arm, Route::ManagementGroups) => "@nextLink",
                (Side::Arm, _) => "nextLink",
            };
            body.insert(key.into(), Value::String(next));
        }
        Value::Object(body)
    }

    fn serve(
        &self,
        side: Side,
        route: &Route,
        at_scope: bool,
        expand: Option<&str>,
        recurse: Option<&str>,
    ) -> Result<Served, Answer> {
        let d = &self.data;
        let t = &d.tenant;
        let all = |n: usize| Ok(Served::Many(Items::Indexes(Arc::new((0..n).collect()))));
        match route {
            Route::Subscriptions => all(t.azure.subscriptions.len()),
            Route::ManagementGroups => all(t.azure.management_groups.len()),
            Route::Users => all(t.entra.users.len()),
            Route::Groups => all(t.entra.groups.len()),
            Route::ServicePrincipals => all(t.entra.service_principals.len()),
            Route::Applications => all(t.entra.applications.len()),
            Route::Members(_) | Route::Owners(..) | Route::ApplicationFederatedCredentials(_) => {
                self.serve_directory_relation(side, route)
            }
            Route::DirectoryRoleDefinitions => all(t.entra.directory_role_definitions.len()),
            Route::DirectoryRoleAssignments => all(t.entra.directory_role_assignments.len()),
            Route::DirectoryRoleEligibility => all(t.entra.directory_role_eligibility_schedule_instances.len()),
            Route::AppRoleAssignments(id) => self.app_roles_granted(side, id),
            // Answered before serving (it needs its filter).
            Route::GroupEligibility => Ok(Served::Many(Items::Values(Vec::new()))),
            Route::AdministrativeUnits | Route::AdministrativeUnitMembers(_) => self.administrative_units(side, route),
            Route::ManagementGroup(name) => {
                let group = self.management_group(side, name)?;
                let expand = expand.is_some_and(|e| e.eq_ignore_ascii_case("children"));
                let recurse = recurse.is_some_and(|r| r.eq_ignore_ascii_case("true"));
                Ok(Served::One(self.render_management_group(group, expand, recurse)))
            }
            Route::Descendants(name) => {
                let group = self.management_group(side, name)?;
                let items = d
                    .tree
                    .descendants(&group.id)
                    .into_iter()
                    .map(|(c, parent)| {
                        let kind = if c.kind == MG_TYPE {
                            MG_TYPE
                        } else {
                            "Microsoft.Management/managementGroups/subscriptions"
                        };
                        json!({"id": c.id, "type": kind, "name": c.name,
                               "properties": {"displayName": c.display_name, "parent": {"id": parent}}})
                    })
                    .collect();
                Ok(Served::Many(Items::Values(items)))
            }
            Route::ResourceGroups(sub) => {
                let sub_id = self.subscription(side, sub)?;
                let prefix = format!("{sub_id}/");
                let indexes = self.cached(&format!("rg|{sub_id}"), || {
                    t.azure
                        .resource_groups
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| normalize(&g.id).starts_with(&prefix))
                        .map(|(i, _)| i)
                        .collect()
                });
                Ok(Served::Many(Items::Indexes(indexes)))
            }
            Route::Authz(kind, scope) => {
                self.check_scope(side, scope)?;
                Ok(Served::Many(Items::Indexes(self.authz_listing(*kind, scope, at_scope))))
            }
            Route::UserAssignedIdentities(sub) => {
                let ids = t.azure.user_assigned_identities.iter().map(|m| m.id.as_str());
                self.in_subscription(side, "uai", sub, ids)
            }
            Route::ManagedClusters(sub) => {
                self.in_subscription(side, "aks", sub, t.azure.managed_clusters.iter().map(|c| c.id.as_str()))
            }
            Route::ConnectedClusters(sub) => {
                self.in_subscription(side, "arc", sub, t.azure.connected_clusters.iter().map(|c| c.id.as_str()))
            }
            Route::Resources(sub) => {
                self.in_subscription(side, "res", sub, t.azure.identity_resources.iter().map(|r| r.id.as_str()))
            }
            Route::IdentityBindings(cluster) => {
                let sub = cluster.trim_start_matches('/').split('/').nth(1).unwrap_or_default();
                self.subscription(side, sub)?;
                let id = normalize(cluster);
                if !t.azure.managed_clusters.iter().any(|c| normalize(&c.id) == id) {
                    let name = cluster.rsplit('/').next().unwrap_or_default();
                    return Err(Answer::error(
                        side,
                        404,
                        "ResourceNotFound",
                        format!("The Resource 'Microsoft.ContainerService/managedClusters/{name}' was not found."),
                    ));
                }
                let prefix = format!("{id}/identitybindings/");
                let indexes = self.cached(&format!("ib|{id}"), || {
                    let bindings = t.azure.identity_bindings.iter().enumerate();
                    bindings.filter(|(_, b)| normalize(&b.id).starts_with(&prefix)).map(|(i, _)| i).collect()
                });
                Ok(Served::Many(Items::Indexes(indexes)))
            }
            Route::FederatedCredentials(identity) => {
                let sub = identity.trim_start_matches('/').split('/').nth(1).unwrap_or_default();
                self.subscription(side, sub)?;
                let id = normalize(identity);
                if !d.identities.contains_key(&id) {
                    let name = identity.rsplit('/').next().unwrap_or_default();
                    return Err(Answer::error(
                        side,
                        404,
                        "ResourceNotFound",
                        format!(
                            "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{name}' was not found."
                        ),
                    ));
                }
                let indexes = d.identity_credentials.get(&id).cloned().unwrap_or_default();
                Ok(Served::Many(Items::Indexes(indexes)))
            }
        }
    }

    /// A relation of one directory object (`/groups/{id}/members`, `/{collection}/{id}/owners`,
    /// `/applications/{id}/federatedIdentityCredentials`); 404 for an unknown object, as Graph answers.
    fn serve_directory_relation(&self, side: Side, route: &Route) -> Result<Served, Answer> {
        let (d, e) = (&self.data, &self.data.tenant.entra);
        let all = |n: usize| Served::Many(Items::Indexes(Arc::new((0..n).collect())));
        let found = match route {
            Route::Members(id) => {
                let key = id.to_ascii_lowercase();
                match d.members.get(&key) {
                    Some(&i) => Some(all(e.group_members[i].members.len())),
                    None => d.groups.contains(&key).then(|| all(0)),
                }
            }
            Route::Owners(collection, id) => self
                .owners_of(*collection, id)
                .map(|owners| Served::Many(Items::Values(owners.iter().map(to_value).collect()))),
            Route::ApplicationFederatedCredentials(id) => {
                let key = id.to_ascii_lowercase();
                match d.app_credentials.get(&key) {
                    Some(&i) => Some(all(e.application_federated_credentials[i].credentials.len())),
                    None => d.applications.contains(&key).then(|| all(0)),
                }
            }
            _ => None,
        };
        let id = match route {
            Route::Members(id) | Route::Owners(_, id) | Route::ApplicationFederatedCredentials(id) => id.as_str(),
            _ => "",
        };
        found.ok_or_else(|| {
            Answer::error(
                side,
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            )
        })
    }

    /// Indexes of the records (by resource id) that belong to subscription `sub`; 404 for an unknown one.
    fn in_subscription<'a>(
        &self,
        side: Side,
        kind: &str,
        sub: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<Served, Answer> {
        let sub_id = self.subscription(side, sub)?;
        let prefix = format!("{sub_id}/");
        let indexes = self.cached(&format!("{kind}|{sub_id}"), || {
            ids.enumerate().filter(|(_, id)| normalize(id).starts_with(&prefix)).map(|(i, _)| i).collect()
        });
        Ok(Served::Many(Items::Indexes(indexes)))
    }

    /// The app roles granted to one service principal (`/servicePrincipals/{id}/appRoleAssignments`); 404 for
    /// an unknown one, as Graph answers.
    fn app_roles_granted(&self, side: Side, id: &str) -> Result<Served, Answer> {
        let key = id.to_ascii_lowercase();
        if !self.data.service_principals.contains(&key) {
            return Err(Answer::error(
                side,
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ));
        }
        let held = self.data.app_roles_held.get(&key).cloned().unwrap_or_default();
        Ok(Served::Many(Items::Indexes(Arc::new(held))))
    }

    /// A service principal of the listing with the app roles granted to it, cut at [`EXPANDED_LIMIT`] as Graph
    /// expands them.
    fn expand_app_role_assignments(&self, mut value: Value) -> Value {
        let e = &self.data.tenant.entra;
        let Some(map) = value.as_object_mut() else { return value };
        let id = map.get("id").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let held = self.data.app_roles_held.get(&id).map(Vec::as_slice).unwrap_or_default();
        let granted = held.iter().take(EXPANDED_LIMIT).map(|&i| to_value(&e.app_role_assignments[i])).collect();
        map.insert("appRoleAssignments".into(), Value::Array(granted));
        value
    }

    /// The administrative units, or one unit's members (404 for an unknown unit, as Graph answers).
    fn administrative_units(&self, side: Side, route: &Route) -> Result<Served, Answer> {
        let e = &self.data.tenant.entra;
        let values = |v: Vec<Value>| Ok(Served::Many(Items::Values(v)));
        let Route::AdministrativeUnitMembers(id) = route else {
            return values(e.administrative_units.iter().map(to_value).collect());
        };
        let same = |other: &str| other.eq_ignore_ascii_case(id);
        match e.administrative_unit_members.iter().find(|u| same(&u.administrative_unit_id)) {
            Some(u) => values(u.members.iter().map(to_value).collect()),
            None if e.administrative_units.iter().any(|u| same(&u.id)) => values(Vec::new()),
            None => Err(Answer::error(
                side,
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            )),
        }
    }

    /// An application of the listing with its federated identity credentials (`$expand=federatedIdentityCredentials`),
    /// cut at [`EXPANDED_LIMIT`] like every expansion (Graph allows 20 per application anyway).
    fn expand_federated_credentials(&self, mut value: Value) -> Value {
        let e = &self.data.tenant.entra;
        let Some(map) = value.as_object_mut() else { return value };
        let id = map.get("id").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let held =
            self.data.app_credentials.get(&id).map(|&i| e.application_federated_credentials[i].credentials.as_slice());
        let credentials = held.unwrap_or_default().iter().take(EXPANDED_LIMIT).map(to_value).collect();
        map.insert("federatedIdentityCredentials".into(), Value::Array(credentials));
        value
    }

    /// The PIM for Groups eligibility instances of one group.
    fn group_eligibility(&self, group_id: &str) -> Items {
        let e = &self.data.tenant.entra;
        let of_group =
            e.group_eligibility_schedule_instances.iter().filter(|i| i.group_id.eq_ignore_ascii_case(group_id));
        Items::Values(of_group.map(to_value).collect())
    }

    /// The whole owner list of one directory object, `None` when there is no such object.
    fn owners_of(&self, collection: Owned, id: &str) -> Option<&[azpath_graph::snapshot::DirectoryObject]> {
        let e = &self.data.tenant.entra;
        let same = |other: &str| other.eq_ignore_ascii_case(id);
        match collection {
            Owned::Groups => e.groups.iter().find(|g| same(&g.id)).map(|g| g.owners.as_slice()),
            Owned::ServicePrincipals => e.service_principals.iter().find(|x| same(&x.id)).map(|x| x.owners.as_slice()),
            Owned::Applications => e.applications.iter().find(|a| same(&a.id)).map(|a| a.owners.as_slice()),
        }
    }

    fn management_group(&self, side: Side, name: &str) -> Result<&azpath_graph::snapshot::ManagementGroup, Answer> {
        let id = format!("/providers/microsoft.management/managementgroups/{}", name.to_ascii_lowercase());
        match self.data.management_groups.get(&id) {
            Some(&i) => Ok(&self.data.tenant.azure.management_groups[i]),
            None => Err(Answer::error(side, 404, "NotFound", format!("Management group '{name}' not found."))),
        }
    }

    /// The normalized id of an existing subscription.
    fn subscription(&self, side: Side, sub: &str) -> Result<String, Answer> {
        let id = normalize(&format!("/subscriptions/{sub}"));
        if self.data.subscriptions.contains(&id) {
            Ok(id)
        } else {
            Err(Answer::error(
                side,
                404,
                "SubscriptionNotFound",
                format!("The subscription '{sub}' could not be found."),
            ))
        }
    }

    fn check_scope(&self, side: Side, scope: &str) -> Result<(), Answer> {
        let s = normalize(scope);
        if let Some(rest) = s.strip_prefix("/subscriptions/") {
            self.subscription(side, rest.split('/').next().unwrap_or_default()).map(|_| ())
        } else if ScopeTree::is_management_group(&s) {
            if self.data.management_groups.contains_key(&s) {
                Ok(())
            } else {
                Err(Answer::error(side, 404, "NotFound", format!("Management group scope '{scope}' not found.")))
            }
        } else if s == "/" {
            Ok(())
        } else {
            Err(Answer::error(side, 400, "InvalidScope", format!("'{scope}' is not a scope the mock knows.")))
        }
    }

    /// Indexes of the authorization records that apply at `scope`: at, below and above it, or with `atScope()`
    /// only at and above it. Role definitions: every built-in, then custom roles assignable there.
    fn authz_listing(&self, kind: Authz, scope: &str, at_scope: bool) -> Arc<Vec<usize>> {
        let key = format!("{kind:?}|{}|{at_scope}", normalize(scope));
        self.cached(&key, || {
            let d = &self.data;
            let tree = &d.tree;
            let a = &d.tenant.azure;
            match kind {
                Authz::RoleAssignments => d.role_assignments.listing(tree, scope, at_scope),
                Authz::Eligibility => d.eligibility.listing(tree, scope, at_scope),
                Authz::DenyAssignments => d.deny_assignments.listing(tree, scope, at_scope),
                Authz::RoleDefinitions => {
                    let above = tree.ancestors(scope);
                    let listing = normalize(scope);
                    let applies = |record_scope: &str| {
                        let record = normalize(record_scope);
                        above.contains(&record) || (!at_scope && tree.ancestors(&record).contains(&listing))
                    };
                    let builtins = self.data.builtins.len();
                    let custom = a.role_definitions.iter().enumerate().filter(|(_, r)| {
                        r.properties.assignable_scopes.is_empty()
                            || r.properties.assignable_scopes.iter().any(|s| applies(s))
                    });
                    (0..builtins).chain(custom.map(|(i, _)| builtins + i)).collect()
                }
            }
        })
    }

    fn cached(&self, key: &str, compute: impl FnOnce() -> Vec<usize>) -> Arc<Vec<usize>> {
        if let Some(hit) = self.lock().cache.get(key) {
            return hit.clone();
        }
        let value = Arc::new(compute());
        self.lock().cache.insert(key.to_string(), value.clone());
        value
    }

    /// Item `i` of a listing, in the API's wire shape.
    fn render(&self, route: &Route, items: &Items, i: usize) -> Value {
        let idx = match items {
            Items::Values(values) => return values[i].clone(),
            Items::Indexes(indexes) => indexes[i],
        };
        let t = &self.data.tenant;
        let (a, e) = (&t.azure, &t.entra);
        let typed = |value: Value, kind: &str| with_type(value, kind);
        match route {
            Route::Subscriptions => to_value(&a.subscriptions[idx]),
            Route::ManagementGroups => {
                let g = &a.management_groups[idx];
                json!({"id": g.id, "type": MG_TYPE, "name": g.name, "properties": {
                    "tenantId": g.properties.tenant_id.clone().unwrap_or_else(|| t.info.tenant_id.clone()),
                    "displayName": g.properties.display_name.clone().unwrap_or_else(|| g.name.clone())}})
            }
            Route::ResourceGroups(_) => typed(to_value(&a.resource_groups[idx]), "Microsoft.Resources/resourceGroups"),
            Route::Authz(kind, scope) => {
                let value = match kind {
                    Authz::RoleAssignments => to_value(&a.role_assignments[idx]),
                    Authz::Eligibility => to_value(&a.role_eligibility_schedule_instances[idx]),
                    Authz::DenyAssignments => to_value(&a.deny_assignments[idx]),
                    Authz::RoleDefinitions => match self.data.builtins.get(idx) {
                        Some(builtin) => builtin_at_scope(builtin, scope),
                        None => to_value(&a.role_definitions[idx - self.data.builtins.len()]),
                    },
                };
                typed(value, kind.resource_type())
            }
            Route::Users => to_value(&e.users[idx]),
            Route::Groups => to_value(&e.groups[idx]),
            Route::ServicePrincipals => to_value(&e.service_principals[idx]),
            Route::Applications => to_value(&e.applications[idx]),
            Route::Members(id) => match self.data.members.get(&id.to_ascii_lowercase()) {
                Some(&g) => to_value(&e.group_members[g].members[idx]),
                None => Value::Null,
            },
            Route::UserAssignedIdentities(_) => {
                typed(to_value(&a.user_assigned_identities[idx]), "Microsoft.ManagedIdentity/userAssignedIdentities")
            }
            Route::FederatedCredentials(_) => typed(
                to_value(&a.federated_identity_credentials[idx]),
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            ),
            Route::ManagedClusters(_) => {
                typed(to_value(&a.managed_clusters[idx]), "Microsoft.ContainerService/managedClusters")
            }
            Route::IdentityBindings(_) => typed(
                to_value(&a.identity_bindings[idx]),
                "Microsoft.ContainerService/managedClusters/identityBindings",
            ),
            Route::ConnectedClusters(_) => {
                let mut value = typed(to_value(&a.connected_clusters[idx]), "Microsoft.Kubernetes/connectedClusters");
                // Arc spells the issuer `issuerUrl` (AKS: `issuerURL`), as the real API does.
                if let Some(oidc) = value.pointer_mut("/properties/oidcIssuerProfile").and_then(Value::as_object_mut) {
                    if let Some(url) = oidc.remove("issuerURL") {
                        oidc.insert("issuerUrl".into(), url);
                    }
                }
                value
            }
            Route::Resources(_) => to_value(&a.identity_resources[idx]),
            Route::DirectoryRoleDefinitions => to_value(&e.directory_role_definitions[idx]),
            Route::DirectoryRoleAssignments => to_value(&e.directory_role_assignments[idx]),
            Route::DirectoryRoleEligibility => to_value(&e.directory_role_eligibility_schedule_instances[idx]),
            Route::AppRoleAssignments(_) => to_value(&e.app_role_assignments[idx]),
            // Served as values.
            Route::Owners(..) | Route::GroupEligibility => Value::Null,
            Route::AdministrativeUnits | Route::AdministrativeUnitMembers(_) => Value::Null,
            Route::ApplicationFederatedCredentials(id) => match self.data.app_credentials.get(&id.to_ascii_lowercase())
            {
                Some(&f) => to_value(&e.application_federated_credentials[f].credentials[idx]),
                None => Value::Null,
            },
            Route::ManagementGroup(_) | Route::Descendants(_) => Value::Null,
        }
    }

    /// `GET …/managementGroups/{name}` in the 2023-04-01 shape, children (derived from either direction of
    /// the tenant's files) when expanded.
    fn render_management_group(
        &self,
        g: &azpath_graph::snapshot::ManagementGroup,
        expand: bool,
        recurse: bool,
    ) -> Value {
        let tree = &self.data.tree;
        let t = &self.data.tenant;
        let mut details = json!({"version": 1, "updatedTime": "2024-01-01T00:00:00Z"});
        if let Some(parent) = tree.parent(&g.id) {
            let name = parent.rsplit('/').next().unwrap_or_default();
            let display = self
                .data
                .management_groups
                .get(&normalize(parent))
                .and_then(|&i| t.azure.management_groups[i].properties.display_name.clone())
                .unwrap_or_else(|| name.to_string());
            details["parent"] = json!({"id": parent, "name": name, "displayName": display});
        }
        let mut properties = json!({
            "tenantId": g.properties.tenant_id.clone().unwrap_or_else(|| t.info.tenant_id.clone()),
            "displayName": g.properties.display_name.clone().unwrap_or_else(|| g.name.clone()),
            "details": details,
        });
        if expand {
            let mut seen = HashSet::new();
            properties["children"] = Value::Array(self.render_children(&g.id, recurse, &mut seen));
        }
        json!({"id": g.id, "type": MG_TYPE, "name": g.name, "properties": properties})
    }

    fn render_children(&self, mg_id: &str, recurse: bool, seen: &mut HashSet<String>) -> Vec<Value> {
        if !seen.insert(normalize(mg_id)) {
            return Vec::new();
        }
        self.data
            .tree
            .children(mg_id)
            .iter()
            .map(|c| {
                let mut child = json!({"id": c.id, "type": c.kind, "name": c.name,
                                       "displayName": c.display_name.clone().unwrap_or_else(|| c.name.clone())});
                if recurse && c.kind == MG_TYPE {
                    child["children"] = Value::Array(self.render_children(&c.id, recurse, seen));
                }
                child
            })
            .collect()
    }
}

/// The route of the mock's counters on both servers.
pub const STATS_PATH: &str = "/_mock/stats";

/// What a route returns: one object, or a list to page.
enum Served {
    One(Value),
    Many(Items),
}

enum Items {
    Indexes(Arc<Vec<usize>>),
    Values(Vec<Value>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Indexes(i) => i.len(),
            Items::Values(v) => v.len(),
        }
    }
}

fn scope_of(p: &AssignmentProperties) -> &str {
    p.scope.as_str()
}

/// The federated credentials of each user-assigned identity, by the identity's normalized id: a credential
/// `{identity}/federatedIdentityCredentials/{name}` belongs to `{identity}` (one pass, where filtering every
/// credential per identity took identities × credentials).
fn identity_credentials(credentials: &[FederatedIdentityCredential]) -> HashMap<String, Arc<Vec<usize>>> {
    const SEGMENT: &str = "/federatedidentitycredentials/";
    let mut by_identity: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in credentials.iter().enumerate() {
        let id = normalize(&c.id);
        if let Some(at) = id.find(SEGMENT) {
            by_identity.entry(id[..at].to_string()).or_default().push(i);
        }
    }
    by_identity.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

/// Keeps a directory object's `owners` (at most [`EXPANDED_LIMIT`], as Graph expands them) when they were asked
/// for, and drops them otherwise.
fn shape_owners(mut value: Value, expand: bool) -> Value {
    if let Value::Object(map) = &mut value {
        let owners = map.remove("owners");
        if expand && map.contains_key("id") {
            let mut owners = match owners {
                Some(Value::Array(owners)) => owners,
                _ => Vec::new(),
            };
            owners.truncate(EXPANDED_LIMIT);
            map.insert("owners".into(), Value::Array(owners));
        }
    }
    value
}

/// The group id of a `groupId eq '{id}'` filter (spaces around the operator as Graph accepts them).
fn group_filter(filter: Option<&str>) -> Option<String> {
    let rest = filter?.trim().strip_prefix("groupId")?.trim_start().strip_prefix("eq")?.trim();
    let id = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    (!id.is_empty() && !id.contains('\'')).then(|| id.to_string())
}

fn to_value<T: Serialize>(record: &T) -> Value {
    serde_json::to_value(record).unwrap_or_default()
}

fn with_type(mut value: Value, kind: &str) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("type".into(), Value::String(kind.into()));
    }
    value
}

/// A built-in role as Azure lists it at `scope`: at a subscription (or below) its id is prefixed with the
/// subscription, elsewhere it is the tenant-wide `/providers/…` id.
fn builtin_at_scope(role: &RoleDefinition, scope: &str) -> Value {
    let mut value = to_value(role);
    let s = normalize(scope);
    if let Some(rest) = s.strip_prefix("/subscriptions/") {
        let sub = rest.split('/').next().unwrap_or_default();
        let original_sub = scope.trim_start_matches('/').split('/').nth(1).unwrap_or(sub);
        value["id"] = json!(format!("/subscriptions/{original_sub}{}", role.id));
    }
    value
}

/// The absolute URL of the page starting at `skip`: same origin and path, same query, new `$skiptoken`.
fn next_link(base: &str, request: &Request, skip: usize) -> String {
    let mut url = match url::Url::parse(&format!("{base}{}", request.url.path())) {
        Ok(url) => url,
        Err(_) => return String::new(),
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in request.url.query_pairs() {
            if !k.eq_ignore_ascii_case("$skiptoken") {
                pairs.append_pair(&k, &v);
            }
        }
        pairs.append_pair("$skiptoken", &skip.to_string());
    }
    url.to_string()
}

fn fault_answer(side: Side, fault: &Fault) -> Answer {
    let (code, default) = match (side, fault.status) {
        (Side::Arm, 403) => {
            ("AuthorizationFailed", "The client does not have authorization to perform this action over this scope.")
        }
        (Side::Graph, 403) => ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
        (_, 404) => ("NotFound", "The resource was not found."),
        (_, 401) => ("InvalidAuthenticationToken", "The access token is invalid."),
        (_, 429) => ("TooManyRequests", "Rate limit exceeded."),
        _ => ("InternalServerError", "The server encountered an error."),
    };
    let mut answer = Answer::error(side, fault.status, code, fault.message.clone().unwrap_or_else(|| default.into()));
    if matches!(fault.status, 429 | 503) {
        answer.retry_after = Some("1".into());
    }
    answer
}

/// The `Retry-After` header for a wait of `secs`, and how long a client must actually wait for it.
fn retry_after(secs: u64, as_date: bool) -> (String, Duration) {
    if !as_date {
        return (secs.to_string(), Duration::from_secs(secs));
    }
    let now = SystemTime::now();
    let since_epoch = (now + Duration::from_secs(secs)).duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = since_epoch.as_secs() + u64::from(since_epoch.subsec_nanos() > 0);
    let at = UNIX_EPOCH + Duration::from_secs(whole);
    (httpdate::fmt_http_date(at), at.duration_since(now).unwrap_or_default())
}

/// A deterministic draw in [0, 1) from the seed, the URL and the attempt number.
fn unit_draw(seed: u64, key: &str, attempt: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
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

    #[test]
    fn credentials_are_filed_under_their_identity_only() {
        let identity = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities";
        let fic = |id: String| FederatedIdentityCredential { id, ..Default::default() };
        let credentials = vec![
            fic(format!("{identity}/A/federatedIdentityCredentials/one")),
            fic(format!("{identity}/B/federatedIdentityCredentials/one")),
            fic(format!("{identity}/a/FederatedIdentityCredentials/two/")),
            fic(format!("{identity}/A")),
        ];
        let filed = identity_credentials(&credentials);
        let of = |name: &str| filed.get(&normalize(&format!("{identity}/{name}"))).map(|v| v.as_slice().to_vec());
        assert_eq!(of("A"), Some(vec![0, 2]), "both spellings of A, in the tenant's order");
        assert_eq!(of("B"), Some(vec![1]));
        assert_eq!(of("C"), None, "an identity without credentials");
        assert_eq!(filed.len(), 2, "an id that is not a credential's is filed nowhere");
    }

    #[test]
    fn routes_parse_case_insensitively() {
        let sub = "/subscriptions/AbC/providers/Microsoft.Authorization/roleAssignments";
        assert_eq!(
            Route::parse(Side::Arm, sub),
            Some(Route::Authz(Authz::RoleAssignments, "/subscriptions/AbC".into()))
        );
        assert_eq!(
            Route::parse(Side::Arm, "/providers/Microsoft.Authorization/roleDefinitions"),
            Some(Route::Authz(Authz::RoleDefinitions, "/".into()))
        );
        let mg = "/providers/Microsoft.Management/managementGroups/Corp/providers/Microsoft.Authorization/roleEligibilityScheduleInstances";
        assert_eq!(
            Route::parse(Side::Arm, mg),
            Some(Route::Authz(Authz::Eligibility, "/providers/Microsoft.Management/managementGroups/Corp".into()))
        );
        assert_eq!(Route::parse(Side::Arm, "/subscriptions/x/resourcegroups"), Some(Route::ResourceGroups("x".into())));
        assert_eq!(Route::parse(Side::Graph, "/v1.0/groups/G1/members"), Some(Route::Members("G1".into())));
        assert_eq!(Route::parse(Side::Graph, "/beta/users"), None);
        let mi = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/MI";
        assert_eq!(
            Route::parse(Side::Arm, &format!("{mi}/federatedIdentityCredentials")),
            Some(Route::FederatedCredentials(mi.into()))
        );
        assert_eq!(
            Route::parse(Side::Arm, "/subscriptions/S/providers/microsoft.managedidentity/userassignedidentities"),
            Some(Route::UserAssignedIdentities("S".into()))
        );
        assert_eq!(
            Route::parse(Side::Arm, "/subscriptions/S/providers/Microsoft.ContainerService/managedClusters/"),
            Some(Route::ManagedClusters("S".into()))
        );
        assert_eq!(
            Route::parse(Side::Arm, "/subscriptions/S/providers/Microsoft.Kubernetes/connectedClusters"),
            Some(Route::ConnectedClusters("S".into()))
        );
        assert_eq!(Route::parse(Side::Arm, &format!("{mi}/federatedIdentityCredentials/f1")), None);
        assert_eq!(
            Route::parse(Side::Graph, "/v1.0/applications/A1/federatedIdentityCredentials"),
            Some(Route::ApplicationFederatedCredentials("A1".into()))
        );
        assert_eq!(
            Route::parse(Side::Arm, "/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/y"),
            None
        );
    }

    #[test]
    fn draws_are_deterministic_and_spread() {
        assert_eq!(unit_draw(7, "/a", 1), unit_draw(7, "/a", 1));
        let below = (0..1000).filter(|i| unit_draw(1, &format!("/u{i}"), 1) < 0.3).count();
        assert!((200..400).contains(&below), "{below}");
    }
}
