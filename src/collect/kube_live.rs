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
//! hide; the other lists of the cluster are still read.

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
}

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
    let mut cluster = KubeCluster {
        cluster: cluster_name.clone(),
        source: scope.clone(),
        server: Some(server.clone()),
        ..Default::default()
    };
    let mut gaps = Vec::new();

    // The CRD list first, on its own: it is also the reachability probe, so an unreachable cluster or a
    // rejected credential is one gap, not one per list.
    let crd_text = match lister.list(CRD_LIST.1).await {
        Ok(pages) => pages,
        Err(e) if matches!(e.reason, GapReason::Transport | GapReason::Unauthorized | GapReason::NoCredential) => {
            return fail(e.reason, format!("context `{context}` ({server}): {}", e.message));
        }
        Err(e) => {
            gaps.push(gap(CRD_LIST.0, &cluster_name, e.reason, e.status, e.message));
            Vec::new()
        }
    };
    let mut lists: Vec<(String, String)> =
        CORE_LISTS.iter().map(|(api, path)| (api.to_string(), path.to_string())).collect();
    for page in &crd_text {
        lists.extend(custom_resource_lists(page));
    }
    if let Err(e) = lister.parse_into(&mut cluster, CRD_LIST.1, crd_text) {
        gaps.push(gap(CRD_LIST.0, &cluster_name, GapReason::Malformed, None, e));
    }

    let results = lister.list_all(lists).await;
    let mut refused = Vec::new();
    for (api, path, pages) in results {
        match pages {
            Ok(pages) => {
                if let Err(e) = lister.parse_into(&mut cluster, &path, pages) {
                    gaps.push(gap(&api, &cluster_name, GapReason::Malformed, None, e));
                }
            }
            Err(e) if e.status == Some(403) && namespaced_path(&path, "").is_some() => refused.push((api, path, e)),
            Err(e) => gaps.push(gap(&api, &cluster_name, e.reason, e.status, e.message)),
        }
    }
    // A caller refused cluster-wide (common for Secrets) may still read some namespaces: list those one by one.
    let namespaces = namespaces_seen(&cluster);
    for (api, path, e) in refused {
        let per_namespace: Vec<(String, String)> =
            namespaces.iter().filter_map(|ns| Some((ns.clone(), namespaced_path(&path, ns)?))).collect();
        let results = lister.list_all(per_namespace).await;
        let mut unread = Vec::new();
        for (ns, p, pages) in results {
            match pages.map(|pages| lister.parse_into(&mut cluster, &p, pages)) {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => unread.push(ns),
            }
        }
        if namespaces.is_empty() || !unread.is_empty() {
            let shown: Vec<&str> = unread.iter().take(10).map(String::as_str).collect();
            let more = if unread.len() > 10 { format!(" and {} more", unread.len() - 10) } else { String::new() };
            let message = if namespaces.is_empty() {
                e.message
            } else {
                format!(
                    "{}; namespace by namespace, {} of {} namespaces were refused too: {}{more}",
                    e.message,
                    unread.len(),
                    namespaces.len(),
                    shown.join(", ")
                )
            };
            gaps.push(gap(&api, &cluster_name, e.reason, e.status, message));
        } else {
            tracing::info!(context, path = %path, namespaces = namespaces.len(), "read namespace by namespace");
        }
    }
    for g in &gaps {
        tracing::warn!(context, api = %g.api, "{}", g.message);
    }
    tracing::info!(context, objects = kube_dump::object_count(&cluster), "Kubernetes objects collected");
    (Some(cluster), gaps)
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

/// A failed list.
#[derive(Debug)]
struct ListError {
    reason: GapReason,
    status: Option<u16>,
    message: String,
}

struct Lister<'a> {
    client: kube::Client,
    context: &'a str,
    cluster: &'a str,
    options: &'a LiveOptions,
}

impl Lister<'_> {
    /// Several lists at once (`concurrency` in flight), each labelled: (label, path, pages), in input order.
    async fn list_all(&self, lists: Vec<(String, String)>) -> Vec<(String, String, Result<Vec<String>, ListError>)> {
        futures::stream::iter(lists)
            .map(|(label, path)| async move {
                let pages = self.list(&path).await;
                (label, path, pages)
            })
            .buffered(self.options.concurrency.max(1))
            .collect()
            .await
    }

    /// Every page of one list, as the server sent them.
    async fn list(&self, path: &str) -> Result<Vec<String>, ListError> {
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
        let mut pages = Vec::new();
        let mut next: Option<String> = None;
        let mut restarted = false;
        loop {
            let mut url = url::Url::parse("http://k8s.invalid").expect("static URL");
            url.set_path(path);
            url.query_pairs_mut().append_pair("limit", &self.options.page_size.max(1).to_string());
            if let Some(token) = &next {
                url.query_pairs_mut().append_pair("continue", token);
            }
            let path_and_query = format!("{}?{}", url.path(), url.query().unwrap_or(""));
            let text = match self.get(&path_and_query).await {
                Ok(t) => t,
                // The continue token expired (410 Gone): start the list over once.
                Err(e) if e.status == Some(410) && next.is_some() && !restarted => {
                    tracing::debug!(context = self.context, path, "continue token expired, listing again");
                    restarted = true;
                    pages.clear();
                    next = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let head: Head = serde_json::from_str(&text).map_err(|e| ListError {
                reason: GapReason::Malformed,
                status: None,
                message: format!("GET {path}: not a Kubernetes list: {}", line_and_column(&e)),
            })?;
            pages.push(text);
            match head.metadata.and_then(|m| m.next).filter(|t| !t.is_empty()) {
                Some(token) if Some(&token) == next.as_ref() => {
                    return Err(ListError {
                        reason: GapReason::PageLoop,
                        status: None,
                        message: format!("GET {path}: the server returned the same continue token twice"),
                    })
                }
                Some(token) => next = Some(token),
                None => return Ok(pages),
            }
        }
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
            let request = http::Request::get(path_and_query).body(Vec::new()).map_err(|e| ListError {
                reason: GapReason::HttpError,
                status: None,
                message: format!("GET {shown}: {e}"),
            })?;
            match self.client.request_text(request).await {
                Ok(text) => {
                    tracing::debug!(context = self.context, path = shown, attempt, bytes = text.len(), "listed");
                    return Ok(text);
                }
                Err(kube::Error::Api(status)) => {
                    let code = status.code;
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
                        429 | 503 | 504 if retryable => GapReason::Throttled,
                        _ => GapReason::HttpError,
                    };
                    let said = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
                    return Err(ListError {
                        reason,
                        status: Some(code),
                        message: format!("GET {shown}: {code} {}", said.trim()),
                    });
                }
                Err(e) => {
                    return Err(ListError {
                        reason: GapReason::Transport,
                        status: None,
                        message: format!("GET {shown}: {}", redacted_chain(&e)),
                    })
                }
            }
        }
    }

    /// Parses (and sanitizes) the pages of one list into `cluster`.
    fn parse_into(&self, cluster: &mut KubeCluster, path: &str, pages: Vec<String>) -> Result<(), String> {
        for (i, page) in pages.into_iter().enumerate() {
            let source = format!("context {}: GET {path} (page {})", self.context, i + 1);
            let parsed = kube_dump::parse_counted(&page, &source, self.cluster).map_err(|e| e.to_string())?;
            if !parsed.skipped.is_empty() {
                tracing::debug!(context = self.context, path, skipped = ?parsed.skipped, "skipped objects");
            }
            kube_dump::merge(cluster, parsed.cluster);
        }
        Ok(())
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
