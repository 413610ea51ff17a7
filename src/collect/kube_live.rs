//! Live Kubernetes collection: the objects of `--kube-dump` read from a running cluster through a kubeconfig
//! context (`--kube-context NAME[=CLUSTER]`, repeatable, or `--all-kube-contexts`).
//!
//! Each list is fetched as raw JSON (`GET /api/v1/secrets?limit=…`, following `metadata.continue`) and handed
//! to the same parser as offline dumps ([`azpath_graph::kube_dump`]), which sanitizes Secrets while it reads:
//! live and offline collection of one cluster give the same snapshot, and a Secret value is never decoded
//! into anything azpath keeps. kube-rs supplies what a kubeconfig needs (contexts, client certificates,
//! tokens, exec plugins such as `kubelogin`, CA data); its typed `request::<T>` is not used because it logs a
//! body it fails to parse.
//!
//! A context is matched to its AKS cluster by API server host (`fqdn` / `privateFQDN`), else by name (the
//! context's, then its kubeconfig cluster entry's, as `az aks get-credentials` names them), else it keeps its
//! context name and `attach` reports it as unlinked. Credentials go only to the context's server, over https
//! or to a loopback http server. A list that fails (403 on Secrets, say) is a coverage gap naming what it may
//! hide; the other lists of the cluster are still read. A list that loops (a `continue` token seen before), goes
//! on past [`LiveOptions::max_pages`], sends a page over [`LiveOptions::max_page_bytes`] or a request that outlasts
//! [`LiveOptions::request_timeout`] stops with a gap, keeping what it read.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use azpath_graph::kube::KubeCluster;
use azpath_graph::kube_dump::{self, ClusterMatch};
use azpath_graph::snapshot::{AzureData, CoverageGap, GapReason};
use backon::BackoffBuilder;
use futures::StreamExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Deserialize;

/// Objects listed at cluster scope in every cluster: `(api, path)`. Custom resources of the groups
/// [`kube_dump::reads_custom_group`] reads are listed after the CRDs.
pub const CORE_LISTS: &[(&str, &str)] = &[
    ("kube.namespaces", "/api/v1/namespaces"),
    ("kube.serviceaccounts", "/api/v1/serviceaccounts"),
    ("kube.secrets", "/api/v1/secrets"),
    ("kube.roles", "/apis/rbac.authorization.k8s.io/v1/roles"),
    ("kube.rolebindings", "/apis/rbac.authorization.k8s.io/v1/rolebindings"),
    ("kube.clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
    ("kube.clusterrolebindings", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
    ("kube.deployments", "/apis/apps/v1/deployments"),
    ("kube.daemonsets", "/apis/apps/v1/daemonsets"),
    ("kube.statefulsets", "/apis/apps/v1/statefulsets"),
    ("kube.replicasets", "/apis/apps/v1/replicasets"),
    ("kube.jobs", "/apis/batch/v1/jobs"),
    ("kube.cronjobs", "/apis/batch/v1/cronjobs"),
    ("kube.pods", "/api/v1/pods"),
];

/// The CRD list, read first: it says which custom resources to list.
pub const CRD_LIST: (&str, &str) =
    ("kube.customresourcedefinitions", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");

/// One `--kube-context NAME[=CLUSTER]` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeContextSpec {
    /// The kubeconfig context.
    pub context: String,
    /// The AKS/Arc cluster it belongs to (resource id or name), when given; else matched by API server host.
    pub cluster: Option<String>,
}

impl FromStr for KubeContextSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (context, cluster) = match s.split_once('=') {
            Some((c, cluster)) => (c.trim(), Some(cluster.trim())),
            None => (s.trim(), None),
        };
        if context.is_empty() || cluster.is_some_and(str::is_empty) {
            return Err(format!(
                "`{s}`: expected CONTEXT or CONTEXT=CLUSTER, e.g. `aks-prod` or `arc-proxy=arc-edge-01`"
            ));
        }
        Ok(KubeContextSpec { context: context.to_string(), cluster: cluster.map(str::to_string) })
    }
}

/// What to collect live.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The kubeconfig file; `None` reads `$KUBECONFIG` (several files, merged) or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Contexts named on the command line.
    pub contexts: Vec<KubeContextSpec>,
    /// Every context of the kubeconfig (those named in [`Self::contexts`] keep their `=CLUSTER`).
    pub all_contexts: bool,
    /// Lists in flight at once, per cluster.
    pub concurrency: usize,
    /// Objects per page (`limit`).
    pub page_size: u32,
    /// Retry budget for 429/503/504 per request.
    pub max_attempts: usize,
    /// First backoff; doubled per attempt unless the server says `retryAfterSeconds`.
    pub initial_backoff: Duration,
    /// Most pages one list may have ([`MAX_PAGES`]); a list still going on after them stops with a
    /// `PageLoop` gap, keeping what was read.
    pub max_pages: usize,
    /// Largest response body read ([`MAX_PAGE_BYTES`]), so a server ignoring `limit` cannot exhaust memory;
    /// a larger page ends its list with a `Malformed` gap.
    pub max_page_bytes: usize,
    /// Deadline of each request attempt, from sending it to the last byte of its body ([`REQUEST_TIMEOUT`]).
    /// kube-rs's own timeout is per read, so a body drip-fed a byte at a time would otherwise never end;
    /// past the deadline the list ends with a `Timeout` gap.
    pub request_timeout: Duration,
}

/// Default of [`LiveOptions::max_pages`]: as for ARM and Graph listings.
pub const MAX_PAGES: usize = 10_000;
/// Default of [`LiveOptions::max_page_bytes`]: 64 MiB, as for ARM and Graph responses (a page of 500 objects
/// is a few megabytes).
pub const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;
/// Default of [`LiveOptions::request_timeout`]: 300 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            kubeconfig: None,
            contexts: Vec::new(),
            all_contexts: false,
            concurrency: 8,
            page_size: 500,
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_pages: MAX_PAGES,
            max_page_bytes: MAX_PAGE_BYTES,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

impl LiveOptions {
    /// Whether anything is to be collected live.
    pub fn is_enabled(&self) -> bool {
        self.all_contexts || !self.contexts.is_empty()
    }
}

/// Why live collection could not start (nothing was requested yet).
#[derive(Debug, thiserror::Error)]
pub enum KubeLiveError {
    /// The kubeconfig could not be read or parsed.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file, or `$KUBECONFIG / ~/.kube/config`.
        path: String,
        /// What failed.
        message: String,
    },
    /// A `--kube-context` names no context of the kubeconfig.
    #[error("--kube-context {context}: no such context in {path} (it has: {available})")]
    UnknownContext {
        /// The name asked for.
        context: String,
        /// The kubeconfig read.
        path: String,
        /// The contexts it has.
        available: String,
    },
}

/// What live collection gave: one cluster per reachable context, and the lists it could not read.
#[derive(Debug, Default)]
pub struct LiveCollection {
    /// Sanitized clusters, named by resource id when matched (else by context name).
    pub clusters: Vec<KubeCluster>,
    /// Lists that failed.
    pub gaps: Vec<CoverageGap>,
}

/// Reads the kubeconfig and collects every selected context. Fails only before any request (unreadable
/// kubeconfig, unknown context); everything after is a coverage gap.
pub async fn collect(options: &LiveOptions, azure: &AzureData) -> Result<LiveCollection, KubeLiveError> {
    let (kubeconfig, shown) = read_kubeconfig(options.kubeconfig.as_deref())?;
    let specs = select_contexts(&kubeconfig, &shown, options)?;
    let mut out = LiveCollection::default();
    for spec in specs {
        let (cluster, gaps) = collect_context(&kubeconfig, &spec, azure, options).await;
        out.gaps.extend(gaps);
        out.clusters.extend(cluster);
    }
    Ok(out)
}

fn read_kubeconfig(path: Option<&Path>) -> Result<(Kubeconfig, String), KubeLiveError> {
    match path {
        Some(p) => {
            let shown = p.display().to_string();
            Kubeconfig::read_from(p)
                .map(|k| (k, shown.clone()))
                .map_err(|e| KubeLiveError::Kubeconfig { path: shown, message: e.to_string() })
        }
        None => {
            let shown = "$KUBECONFIG or ~/.kube/config".to_string();
            Kubeconfig::read()
                .map(|k| (k, shown.clone()))
                .map_err(|e| KubeLiveError::Kubeconfig { path: shown, message: e.to_string() })
        }
    }
}

/// The contexts to collect, in kubeconfig order for `--all-kube-contexts`, else as named.
fn select_contexts(
    kubeconfig: &Kubeconfig,
    shown: &str,
    options: &LiveOptions,
) -> Result<Vec<KubeContextSpec>, KubeLiveError> {
    let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
    for spec in &options.contexts {
        if !names.contains(&spec.context.as_str()) {
            return Err(KubeLiveError::UnknownContext {
                context: spec.context.clone(),
                path: shown.to_string(),
                available: if names.is_empty() { "no contexts".into() } else { names.join(", ") },
            });
        }
    }
    if !options.all_contexts {
        let mut specs = options.contexts.clone();
        specs.dedup_by(|a, b| a.context == b.context);
        return Ok(specs);
    }
    Ok(names
        .iter()
        .map(|n| {
            options
                .contexts
                .iter()
                .find(|s| s.context == *n)
                .cloned()
                .unwrap_or(KubeContextSpec { context: n.to_string(), cluster: None })
        })
        .collect())
}

/// A gap of one context.
fn gap(api: &str, scope: &str, reason: GapReason, status: Option<u16>, message: String) -> CoverageGap {
    CoverageGap { api: api.to_string(), scope: scope.to_string(), reason, status, message }
}

async fn collect_context(
    kubeconfig: &Kubeconfig,
    spec: &KubeContextSpec,
    azure: &AzureData,
    options: &LiveOptions,
) -> (Option<KubeCluster>, Vec<CoverageGap>) {
    let context = spec.context.as_str();
    let scope = format!("context:{context}");
    let fail = |reason, message| (None, vec![gap("kube.context", &scope, reason, None, message)]);
    let kube_options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = match kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &kube_options).await {
        Ok(c) => c,
        Err(e) => {
            return fail(GapReason::NoCredential, format!("context `{context}`: {}", redacted_chain(&e)));
        }
    };
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    if let Err(why) = check_server(&config.cluster_url) {
        return fail(GapReason::UntrustedNextLink, format!("context `{context}` ({server}): {why}"));
    }
    config.read_timeout = Some(Duration::from_secs(120));
    let client = match kube::Client::try_from(config) {
        Ok(c) => c,
        Err(e) => return fail(GapReason::Transport, format!("context `{context}` ({server}): {}", redacted_chain(&e))),
    };
    let cluster_name = match &spec.cluster {
        Some(c) => c.clone(),
        None => match_cluster(kubeconfig, context, &server, azure),
    };
    tracing::info!(context, server = %server, cluster = %cluster_name, "collecting Kubernetes objects");
    let lister = Lister { client, context, cluster: &cluster_name, options };
    let cluster = KubeCluster {
        cluster: cluster_name.clone(),
        source: scope.clone(),
        server: Some(server),
        ..Default::default()
    };
    let mut read = ClusterRead { lister, cluster, gaps: Vec::new() };

    // The CRD list first, on its own: it is also the reachability probe, so an unreachable cluster or a
    // rejected credential is one gap, not one per list.
    let mut crds = read.lister.list(CRD_LIST.1).await;
    if let Some(e) = crds.error.as_ref().filter(|e| crds.pages == 0 && e.fails_context()) {
        let server = read.cluster.server.as_deref().unwrap_or_default();
        return fail(e.reason, format!("context `{context}` ({server}): {}", e.message));
    }
    let mut lists: Vec<(String, String)> =
        CORE_LISTS.iter().map(|(api, path)| (api.to_string(), path.to_string())).collect();
    lists.append(&mut crds.custom_lists);
    read.add(CRD_LIST.0, CRD_LIST.1, crds);
    let refused = read.lists(lists).await;
    read.by_namespace(refused).await;
    read.finish()
}

/// One context's read in progress: lists go through `lister`, their objects into `cluster` and their
/// failures into `gaps`.
struct ClusterRead<'a> {
    lister: Lister<'a>,
    cluster: KubeCluster,
    gaps: Vec<CoverageGap>,
}

impl ClusterRead<'_> {
    /// Reads `(api, path)` lists at once; returns those refused cluster-wide (403) that may still be read
    /// namespace by namespace.
    async fn lists(&mut self, lists: Vec<(String, String)>) -> Vec<(String, String, ListError)> {
        let mut refused = Vec::new();
        for (api, path, listed) in self.lister.list_all(lists).await {
            if let Some(e) = self.add(&api, &path, listed) {
                refused.push((api, path, e));
            }
        }
        refused
    }

    /// Keeps what a list read; its failure becomes a gap, except a 403 on the first page of a list of
    /// namespaced objects, which is returned to be tried namespace by namespace.
    fn add(&mut self, api: &str, path: &str, listed: Listed) -> Option<ListError> {
        kube_dump::merge(&mut self.cluster, listed.objects);
        let e = listed.error?;
        if e.status == Some(403) && listed.pages == 0 && namespaced_path(path, "").is_some() {
            return Some(e);
        }
        self.gaps.push(gap(api, self.lister.cluster, e.reason, e.status, e.message));
        None
    }

    /// A caller refused cluster-wide (common for Secrets) may still read some namespaces: lists those one by
    /// one, for every namespace the other lists named; what stays unread is a gap naming the namespaces.
    async fn by_namespace(&mut self, refused: Vec<(String, String, ListError)>) {
        let namespaces = namespaces_seen(&self.cluster);
        for (api, path, e) in refused {
            let per_namespace: Vec<(String, String)> =
                namespaces.iter().filter_map(|ns| Some((ns.clone(), namespaced_path(&path, ns)?))).collect();
            let mut unread = Vec::new();
            for (ns, _, listed) in self.lister.list_all(per_namespace).await {
                kube_dump::merge(&mut self.cluster, listed.objects);
                if listed.error.is_some() {
                    unread.push(ns);
                }
            }
            if !namespaces.is_empty() && unread.is_empty() {
                let context = self.lister.context;
                tracing::info!(context, path = %path, namespaces = namespaces.len(), "read namespace by namespace");
                continue;
            }
            let message = if namespaces.is_empty() {
                e.message
            } else {
                let shown: Vec<&str> = unread.iter().take(10).map(String::as_str).collect();
                let more = if unread.len() > 10 { format!(" and {} more", unread.len() - 10) } else { String::new() };
                format!(
                    "{}; namespace by namespace, {} of {} namespaces were refused too: {}{more}",
                    e.message,
                    unread.len(),
                    namespaces.len(),
                    shown.join(", ")
                )
            };
            self.gaps.push(gap(&api, self.lister.cluster, e.reason, e.status, message));
        }
    }

    /// The cluster read and its gaps, logged.
    fn finish(self) -> (Option<KubeCluster>, Vec<CoverageGap>) {
        let context = self.lister.context;
        for g in &self.gaps {
            tracing::warn!(context, api = %g.api, "{}", g.message);
        }
        tracing::info!(context, objects = kube_dump::object_count(&self.cluster), "Kubernetes objects collected");
        (Some(self.cluster), self.gaps)
    }
}

/// The path of a cluster-wide list of namespaced objects, narrowed to namespace `ns`
/// (`/api/v1/secrets` → `/api/v1/namespaces/<ns>/secrets`); `None` for cluster-scoped kinds.
fn namespaced_path(path: &str, ns: &str) -> Option<String> {
    const CLUSTER_SCOPED: &[&str] = &["namespaces", "clusterroles", "clusterrolebindings", "customresourcedefinitions"];
    let (base, plural) = path.rsplit_once('/')?;
    if CLUSTER_SCOPED.contains(&plural) {
        return None;
    }
    Some(format!("{base}/namespaces/{ns}/{plural}"))
}

/// Every namespace the cluster's objects name: its Namespaces, else those of its namespaced objects (when
/// listing Namespaces was refused).
fn namespaces_seen(c: &KubeCluster) -> Vec<String> {
    let named = c.service_accounts.iter().map(|x| &x.metadata).chain(c.roles.iter().map(|x| &x.metadata));
    let named =
        named.chain(c.role_bindings.iter().map(|x| &x.metadata)).chain(c.deployments.iter().map(|x| &x.metadata));
    let mut all: Vec<String> = c.namespaces.iter().map(|n| n.metadata.name.clone()).collect();
    all.extend(named.filter_map(|m| m.namespace.clone()));
    all.sort();
    all.dedup();
    all
}

/// Credentials go over https, or plain http only to a loopback server (a proxy such as `az connectedk8s
/// proxy` or `kubectl proxy`, or a test server).
fn check_server(url: &http::Uri) -> Result<(), String> {
    match url.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => {
            // The same rule as for Azure tokens (`cloud::is_loopback`).
            let loopback = url::Url::parse(&url.to_string()).is_ok_and(|u| super::cloud::is_loopback(&u));
            if loopback {
                Ok(())
            } else {
                Err("plain http to a host that is not loopback: refusing to send the context's credentials".into())
            }
        }
        other => Err(format!("unsupported scheme `{}`", other.unwrap_or(""))),
    }
}

/// The cluster a context belongs to: the AKS cluster whose `fqdn`/`privateFQDN` is the server's host, else
/// the one named like the context (or its kubeconfig cluster entry, with `-admin` dropped as `az aks
/// get-credentials --admin` adds it), else the context name (unlinked; `attach` reports it).
pub fn match_cluster(kubeconfig: &Kubeconfig, context: &str, server: &str, azure: &AzureData) -> String {
    let host = server.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_ascii_lowercase));
    if let Some(host) = host {
        let by_host: Vec<&str> = azure
            .managed_clusters
            .iter()
            .filter(|c| {
                let p = &c.properties;
                [&p.fqdn, &p.private_fqdn].into_iter().flatten().any(|f| f.eq_ignore_ascii_case(&host))
            })
            .map(|c| c.id.as_str())
            .collect();
        if let [id] = by_host[..] {
            return id.to_string();
        }
    }
    let entry = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.as_str())
        .unwrap_or("");
    let mut candidates = vec![context, entry];
    candidates.extend([context, entry].iter().filter_map(|n| n.strip_suffix("-admin")));
    for name in candidates.into_iter().filter(|n| !n.is_empty()) {
        if let ClusterMatch::Found(id) = kube_dump::resolve_cluster(name, azure) {
            return id;
        }
    }
    context.to_string()
}

/// The list paths of the custom resources azpath reads, from one page of the CRD list.
fn custom_resource_lists(page: &str) -> Vec<(String, String)> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        items: Vec<Crd>,
    }
    #[derive(Deserialize)]
    struct Crd {
        spec: Spec,
    }
    #[derive(Deserialize)]
    struct Spec {
        group: String,
        names: Names,
        #[serde(default)]
        versions: Vec<Version>,
    }
    #[derive(Deserialize)]
    struct Names {
        plural: String,
    }
    #[derive(Deserialize)]
    struct Version {
        name: String,
        #[serde(default)]
        served: bool,
        #[serde(default)]
        storage: bool,
    }
    let Ok(list) = serde_json::from_str::<List>(page) else { return Vec::new() };
    list.items
        .into_iter()
        .filter(|c| kube_dump::reads_custom_group(&c.spec.group))
        .filter_map(|c| {
            let served = c.spec.versions.iter().filter(|v| v.served);
            let version = served.clone().find(|v| v.storage).or_else(|| served.clone().next())?;
            let api = format!("kube.{}.{}", c.spec.names.plural, c.spec.group);
            Some((api, format!("/apis/{}/{}/{}", c.spec.group, version.name, c.spec.names.plural)))
        })
        .collect()
}

/// Why a list failed or stopped early.
#[derive(Debug)]
struct ListError {
    reason: GapReason,
    status: Option<u16>,
    message: String,
}

impl ListError {
    fn new(reason: GapReason, status: Option<u16>, message: String) -> Self {
        ListError { reason, status, message }
    }

    /// Whether this failure on the first request of a context means the whole context is unreadable.
    fn fails_context(&self) -> bool {
        matches!(
            self.reason,
            GapReason::Transport | GapReason::Timeout | GapReason::Unauthorized | GapReason::NoCredential
        )
    }
}

/// What one list gave: the objects of every page read, parsed (and sanitized) as each page came so that raw
/// pages are not kept, and why it stopped early, if it did: the objects read before are kept, true but
/// incomplete.
#[derive(Debug, Default)]
struct Listed {
    objects: KubeCluster,
    /// For the CRD list: the lists of the custom resources azpath reads.
    custom_lists: Vec<(String, String)>,
    /// Pages read.
    pages: usize,
    error: Option<ListError>,
}

/// What one request attempt got back.
enum Answer {
    /// A 2xx body.
    Body(String),
    /// An error status (the HTTP one) and the `Status` the body held (or its text).
    Failed(u16, Box<kube::core::Status>),
}

struct Lister<'a> {
    client: kube::Client,
    context: &'a str,
    cluster: &'a str,
    options: &'a LiveOptions,
}

impl Lister<'_> {
    /// Several lists at once (`concurrency` in flight), each labelled: (label, path, what it gave), in input
    /// order.
    async fn list_all(&self, lists: Vec<(String, String)>) -> Vec<(String, String, Listed)> {
        futures::stream::iter(lists)
            .map(|(label, path)| async move {
                let listed = self.list(&path).await;
                (label, path, listed)
            })
            .buffered(self.options.concurrency.max(1))
            .collect()
            .await
    }

    /// Every page of one list; a `410 Gone` on an expired continue token starts it over once.
    async fn list(&self, path: &str) -> Listed {
        let mut listed = Listed::default();
        let mut restarted = false;
        loop {
            match self.pages(path, &mut listed).await {
                Ok(()) => return listed,
                Err(e) if e.status == Some(410) && listed.pages > 0 && !restarted => {
                    tracing::debug!(context = self.context, path, "continue token expired, listing again");
                    restarted = true;
                    listed = Listed::default();
                }
                Err(e) => {
                    listed.error = Some(e);
                    return listed;
                }
            }
        }
    }

    /// Follows `metadata.continue` from the first page, into `listed`. Stops at a token the server sent
    /// before (a page loop, however long its cycle) and after [`LiveOptions::max_pages`] pages.
    async fn pages(&self, path: &str, listed: &mut Listed) -> Result<(), ListError> {
        // Tokens are remembered by a keyed hash: a server cannot make azpath keep its tokens' bytes.
        let hasher = std::hash::RandomState::new();
        let mut seen = std::collections::HashSet::new();
        let mut next: Option<String> = None;
        loop {
            let text = self.get(&self.page_url(path, next.as_deref())).await?;
            listed.pages += 1;
            let Some(token) = self.read_page(path, &text, listed)? else { return Ok(()) };
            let pages = listed.pages;
            if !seen.insert(hasher.hash_one(&token)) {
                let message =
                    format!("GET {path}: the server sent a continue token it had sent before, after {pages} pages; the list stops there");
                return Err(ListError::new(GapReason::PageLoop, None, message));
            }
            if pages >= self.options.max_pages.max(1) {
                let message = format!(
                    "GET {path}: still more pages after {pages} pages, the most one list may have; the list stops there"
                );
                return Err(ListError::new(GapReason::PageLoop, None, message));
            }
            next = Some(token);
        }
    }

    /// The path and query of one page: `limit`, and the continue token after the first page.
    fn page_url(&self, path: &str, token: Option<&str>) -> String {
        let mut url = url::Url::parse("http://k8s.invalid").expect("static URL");
        url.set_path(path);
        url.query_pairs_mut().append_pair("limit", &self.options.page_size.max(1).to_string());
        if let Some(token) = token {
            url.query_pairs_mut().append_pair("continue", token);
        }
        format!("{}?{}", url.path(), url.query().unwrap_or(""))
    }

    /// Parses (and sanitizes) one page into `listed`; returns its continue token, if any.
    fn read_page(&self, path: &str, text: &str, listed: &mut Listed) -> Result<Option<String>, ListError> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            metadata: Option<ListMeta>,
        }
        #[derive(Deserialize)]
        struct ListMeta {
            #[serde(default, rename = "continue")]
            next: Option<String>,
        }
        let head: Head = serde_json::from_str(text).map_err(|e| {
            let message = format!("GET {path}: not a Kubernetes list: {}", line_and_column(&e));
            ListError::new(GapReason::Malformed, None, message)
        })?;
        let source = format!("context {}: GET {path} (page {})", self.context, listed.pages);
        let parsed = kube_dump::parse_counted(text, &source, self.cluster)
            .map_err(|e| ListError::new(GapReason::Malformed, None, e.to_string()))?;
        if !parsed.skipped.is_empty() {
            tracing::debug!(context = self.context, path, skipped = ?parsed.skipped, "skipped objects");
        }
        kube_dump::merge(&mut listed.objects, parsed.cluster);
        if path == CRD_LIST.1 {
            listed.custom_lists.extend(custom_resource_lists(text));
        }
        Ok(head.metadata.and_then(|m| m.next).filter(|t| !t.is_empty()))
    }

    /// One GET, retried on 429/503/504 as the server asks (`retryAfterSeconds`) or with backoff.
    async fn get(&self, path_and_query: &str) -> Result<String, ListError> {
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.options.initial_backoff)
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build();
        let shown = path_and_query.split('?').next().unwrap_or(path_and_query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (code, status) = match self.attempt(path_and_query, shown).await? {
                Answer::Body(text) => {
                    tracing::debug!(context = self.context, path = shown, attempt, bytes = text.len(), "listed");
                    return Ok(text);
                }
                Answer::Failed(code, status) => (code, status),
            };
            let retryable = matches!(code, 429 | 503 | 504);
            if retryable && attempt < self.options.max_attempts.max(1) {
                let asked = status.details.as_ref().map(|d| d.retry_after_seconds).unwrap_or(0);
                let wait = match asked {
                    0 => backoff.next().unwrap_or(Duration::from_secs(1)),
                    s => Duration::from_secs(u64::from(s)),
                };
                tracing::debug!(context = self.context, path = shown, code, ?wait, "throttled, retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            let reason = match code {
                401 => GapReason::Unauthorized,
                403 => GapReason::Forbidden,
                404 => GapReason::NotFound,
                429 | 503 | 504 => GapReason::Throttled,
                _ => GapReason::HttpError,
            };
            let said = if status.message.is_empty() { &status.reason } else { &status.message };
            // Server text: no credential, no control character, bounded (the same rule as ARM and Graph).
            let said = crate::collect::redact::redact(said.trim(), &[]);
            return Err(ListError::new(reason, Some(code), format!("GET {shown}: {code} {said}")));
        }
    }

    /// One request attempt, from sending it to the last byte of its body, within
    /// [`LiveOptions::request_timeout`].
    async fn attempt(&self, path_and_query: &str, shown: &str) -> Result<Answer, ListError> {
        let deadline = self.options.request_timeout;
        match tokio::time::timeout(deadline, self.exchange(path_and_query, shown)).await {
            Ok(answer) => answer,
            Err(_) => Err(ListError::new(
                GapReason::Timeout,
                None,
                format!(
                    "GET {shown}: deadline of {} s exceeded (the whole request, body included)",
                    deadline.as_secs_f64()
                ),
            )),
        }
    }

    /// Sends one GET and reads its body, up to [`LiveOptions::max_page_bytes`].
    async fn exchange(&self, path_and_query: &str, shown: &str) -> Result<Answer, ListError> {
        use http_body_util::BodyExt;
        let request = http::Request::get(path_and_query)
            .body(kube::client::Body::empty())
            .map_err(|e| ListError::new(GapReason::HttpError, None, format!("GET {shown}: {e}")))?;
        let response =
            self.client.send(request).await.map_err(|e| {
                ListError::new(GapReason::Transport, None, format!("GET {shown}: {}", redacted_chain(&e)))
            })?;
        let code = response.status().as_u16();
        let limit = self.options.max_page_bytes;
        let body = http_body_util::Limited::new(response.into_body(), limit).collect().await.map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                let message = format!("GET {shown}: response body larger than {}", bytes_shown(limit));
                ListError::new(GapReason::Malformed, Some(code), message)
            } else {
                let message = format!("GET {shown}: reading the body: {}", redacted_chain(&*e));
                ListError::new(GapReason::Transport, Some(code), message)
            }
        })?;
        let body = body.to_bytes();
        if (200..300).contains(&code) {
            return String::from_utf8(body.to_vec()).map(Answer::Body).map_err(|e| {
                let at = e.utf8_error().valid_up_to();
                ListError::new(GapReason::Malformed, Some(code), format!("GET {shown}: body not UTF-8 at byte {at}"))
            });
        }
        // Not every error body is a `Status`: a proxy may send text or HTML.
        let status = serde_json::from_slice::<kube::core::Status>(&body)
            .unwrap_or_else(|_| kube::core::Status::failure(String::from_utf8_lossy(&body).trim(), "").with_code(code));
        Ok(Answer::Failed(code, Box::new(status)))
    }
}

/// A byte count as the caps are written (`64 MiB`, `64 KiB`).
fn bytes_shown(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn line_and_column(e: &serde_json::Error) -> String {
    format!("line {} column {}", e.line(), e.column())
}

/// An error and its causes, one line. When a credential plugin failed, only what failed: the outer errors
/// quote the plugin's command line and output (either may hold a secret), so none of them is shown.
fn redacted_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let chain = || std::iter::successors(Some(e), |err| err.source());
    if let Some(auth) = chain().find_map(|err| err.downcast_ref::<kube::client::AuthError>()) {
        return match auth {
            kube::client::AuthError::AuthExecRun { out, .. } => format!(
                "the context's exec credential plugin failed ({}); run it by hand (`kubectl --context <context> get ns`) to see why",
                out.status
            ),
            kube::client::AuthError::AuthExecStart(io) => format!("the exec credential plugin could not start: {io}"),
            _ => "the context's credentials could not be obtained (token, certificate or exec plugin)".into(),
        };
    }
    let mut parts: Vec<String> = Vec::new();
    for err in chain() {
        let text = err.to_string();
        // Outer errors often repeat the inner one's text.
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::snapshot::{ManagedCluster, ManagedClusterProperties};

    #[test]
    fn context_spec_parses_optional_cluster() {
        let s: KubeContextSpec = "aks-prod".parse().unwrap();
        assert_eq!((s.context.as_str(), s.cluster), ("aks-prod", None));
        let s: KubeContextSpec =
            "proxy=/subscriptions/x/resourceGroups/r/providers/Microsoft.Kubernetes/connectedClusters/c"
                .parse()
                .unwrap();
        assert_eq!(
            s.cluster.as_deref(),
            Some("/subscriptions/x/resourceGroups/r/providers/Microsoft.Kubernetes/connectedClusters/c")
        );
        for bad in ["", "=c", "ctx="] {
            assert!(bad.parse::<KubeContextSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://aks.hcp.eastus.azmk8s.io:443",
            "http://127.0.0.1:8001",
            "http://localhost:47011",
            "http://[::1]:8080",
        ] {
            assert!(check_server(&ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["http://aks.hcp.eastus.azmk8s.io", "http://10.0.0.4:6443", "http://127.0.0.1.evil.example"] {
            assert!(check_server(&bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    fn aks(name: &str, fqdn: &str, private: Option<&str>) -> ManagedCluster {
        ManagedCluster {
            id: format!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}"
            ),
            name: name.into(),
            properties: ManagedClusterProperties {
                fqdn: Some(fqdn.into()),
                private_fqdn: private.map(Into::into),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn kubeconfig(contexts: &[(&str, &str)]) -> Kubeconfig {
        let mut yaml = String::from("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n");
        for (ctx, cluster) in contexts {
            yaml.push_str(&format!("- name: {ctx}\n  context: {{cluster: {cluster}, user: u}}\n"));
        }
        Kubeconfig::from_yaml(&yaml).unwrap()
    }

    #[test]
    fn contexts_match_by_host_then_by_name() {
        let azure = AzureData {
            managed_clusters: vec![
                aks(
                    "aks-prod",
                    "aks-prod-dns-1.hcp.eastus.azmk8s.io",
                    Some("aks-prod-priv.privatelink.eastus.azmk8s.io"),
                ),
                aks("aks-dev", "aks-dev-dns-2.hcp.eastus.azmk8s.io", None),
            ],
            ..Default::default()
        };
        let kc = kubeconfig(&[("whatever", "x"), ("aks-dev-admin", "aks-dev"), ("unknown", "unknown")]);
        let prod = &azure.managed_clusters[0].id;
        // By host, whatever the context is called; the private FQDN too.
        assert_eq!(&match_cluster(&kc, "whatever", "https://AKS-PROD-DNS-1.hcp.eastus.azmk8s.io:443", &azure), prod);
        assert_eq!(&match_cluster(&kc, "whatever", "https://aks-prod-priv.privatelink.eastus.azmk8s.io", &azure), prod);
        // By name (the kubeconfig cluster entry; `-admin` dropped) when the host is a proxy.
        assert_eq!(match_cluster(&kc, "aks-dev-admin", "http://127.0.0.1:8001", &azure), azure.managed_clusters[1].id);
        // Nothing matches: the context name, for attach to report.
        assert_eq!(match_cluster(&kc, "unknown", "https://10.1.2.3", &azure), "unknown");
    }

    #[test]
    fn custom_resources_listed_only_for_groups_read() {
        let page = r#"{"kind":"CustomResourceDefinitionList","items":[
          {"metadata":{"name":"roleassignments.authorization.azure.com"},"spec":{"group":"authorization.azure.com",
            "names":{"plural":"roleassignments","kind":"RoleAssignment"},
            "versions":[{"name":"v1api20200801preview","served":true,"storage":false},
                        {"name":"v1api20220401","served":true,"storage":true}]}},
          {"metadata":{"name":"certificates.cert-manager.io"},"spec":{"group":"cert-manager.io",
            "names":{"plural":"certificates"},"versions":[{"name":"v1","served":true,"storage":true}]}},
          {"metadata":{"name":"olds.resources.azure.com"},"spec":{"group":"resources.azure.com",
            "names":{"plural":"olds"},"versions":[{"name":"v1","served":false,"storage":true}]}}]}"#;
        assert_eq!(
            custom_resource_lists(page),
            [(
                "kube.roleassignments.authorization.azure.com".to_string(),
                "/apis/authorization.azure.com/v1api20220401/roleassignments".to_string()
            )]
        );
    }
}
