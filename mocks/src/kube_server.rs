//! A mock Kubernetes API server per cluster of a tenant, serving its `kube/<cluster>.json` dump the way a
//! real API server lists objects, so azpath's live collector (`--kube-context`) runs against it through
//! kube-rs exactly as against AKS.
//!
//! What it imitates: list routes, cluster-wide and per namespace (`/api/v1/secrets`,
//! `/api/v1/namespaces/<ns>/secrets`, `/apis/rbac.authorization.k8s.io/v1/roles`,
//! `/apis/<group>/<version>/<plural>` for every CRD in the dump), typed lists (`SecretList`) whose built-in
//! items carry no `kind`/`apiVersion` (custom resources keep theirs, as the API server sends them), paging with
//! `limit` and an opaque `continue` token, bearer-token checks (401), `Status` error bodies, and injected
//! faults: lists answered 403 (as for a caller who may not list Secrets) and a first 429 per list with
//! `retryAfterSeconds`. [`MockKube::kubeconfig`] writes a kubeconfig with one context per cluster, named
//! after the cluster (as `az aks get-credentials` names them).
//!
//! For `mock serve`: [`MockKubeOptions::base_port`] puts the clusters on fixed ports (the first cluster, by
//! name, on the base port, the next on the one after it, …), so a kubeconfig written once keeps working across
//! restarts; [`MockKube::reload`] serves edited dumps without restarting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Map, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::kube::KubeDump;
use crate::server::MockError;

/// How the mock Kubernetes API behaves.
#[derive(Debug, Clone)]
pub struct MockKubeOptions {
    /// Objects per page when the client asks for more (or gives no `limit`).
    pub page_size: usize,
    /// Bearer token the servers expect.
    pub token: String,
    /// List paths (`/api/v1/secrets`) answered `403 Forbidden`.
    pub forbidden: Vec<String>,
    /// Answer the first request of every list `429` with `retryAfterSeconds: 1`.
    pub throttle_first: bool,
    /// Serve the clusters, in name order, on this loopback port and the ones after it (`None`: free ports).
    pub base_port: Option<u16>,
}

impl Default for MockKubeOptions {
    fn default() -> Self {
        MockKubeOptions {
            page_size: 2,
            token: "mock-kube-token".into(),
            forbidden: Vec::new(),
            throttle_first: false,
            base_port: None,
        }
    }
}

/// What the mock Kubernetes servers have seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockKubeStats {
    /// Requests per `<cluster> <path>` (no query).
    pub requests: BTreeMap<String, u64>,
    /// Requests with a missing or wrong bearer token.
    pub wrong_token: u64,
    /// 429s sent.
    pub throttled: u64,
    /// 404s sent.
    pub not_found: u64,
}

impl MockKubeStats {
    /// All requests received.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// One cluster's lists, swapped whole by [`MockKube::reload`].
type LiveLists = Arc<RwLock<Arc<Lists>>>;

/// What [`MockKube::reload`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeReload {
    /// Clusters whose dump is now served.
    pub reloaded: Vec<String>,
    /// Dumps of clusters that were not served at start (they need a restart: no port was given to them).
    pub new: Vec<String>,
    /// Clusters served at start that have no dump any more (their last dump is still served).
    pub missing: Vec<String>,
}

/// Running mock API servers, one per cluster dump. Dropping it stops them.
pub struct MockKube {
    servers: Vec<(String, MockServer, LiveLists)>,
    token: String,
    stats: Arc<Mutex<MockKubeStats>>,
}

impl MockKube {
    /// Starts one loopback server per dump.
    pub async fn start(dumps: &[KubeDump], options: MockKubeOptions) -> Result<MockKube, MockError> {
        let stats = Arc::new(Mutex::new(MockKubeStats::default()));
        let mut sorted: Vec<&KubeDump> = dumps.iter().collect();
        sorted.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        let mut servers = Vec::new();
        for (i, dump) in sorted.into_iter().enumerate() {
            let port = cluster_port(options.base_port, i)?;
            let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|source| MockError::Bind {
                api: "Kubernetes",
                port,
                source,
            })?;
            let server = MockServer::builder().listener(listener).disable_request_recording().start().await;
            let lists: LiveLists = Arc::new(RwLock::new(Arc::new(Lists::from_dump(&dump.text))));
            let responder = KubeResponder {
                cluster: dump.cluster.clone(),
                lists: lists.clone(),
                options: options.clone(),
                stats: stats.clone(),
                throttled: Mutex::new(Vec::new()),
            };
            Mock::given(wiremock::matchers::any()).respond_with(responder).mount(&server).await;
            servers.push((dump.cluster.clone(), server, lists));
        }
        Ok(MockKube { servers, token: options.token, stats })
    }

    /// Serves `dumps` (a tenant folder loaded again) from now on, each on its cluster's server; see
    /// [`KubeReload`] for clusters added or removed since start.
    pub fn reload(&self, dumps: &[KubeDump]) -> KubeReload {
        let mut done = KubeReload::default();
        for dump in dumps {
            match self.servers.iter().find(|(c, _, _)| *c == dump.cluster) {
                Some((_, _, lists)) => {
                    *lists.write().expect("lists lock") = Arc::new(Lists::from_dump(&dump.text));
                    done.reloaded.push(dump.cluster.clone());
                }
                None => done.new.push(dump.cluster.clone()),
            }
        }
        for (cluster, _, _) in &self.servers {
            if !dumps.iter().any(|d| d.cluster == *cluster) {
                done.missing.push(cluster.clone());
            }
        }
        done
    }

    /// The API server URL of a cluster (`http://127.0.0.1:PORT`).
    pub fn url(&self, cluster: &str) -> Option<String> {
        self.servers.iter().find(|(c, _, _)| c == cluster).map(|(_, s, _)| s.uri())
    }

    /// A kubeconfig (YAML) with one context per cluster, named after it, and the bearer token.
    pub fn kubeconfig(&self) -> String {
        let mut clusters = String::new();
        let mut contexts = String::new();
        for (name, server, _) in &self.servers {
            clusters.push_str(&format!("- name: {name}\n  cluster:\n    server: {}\n", server.uri()));
            contexts.push_str(&format!("- name: {name}\n  context:\n    cluster: {name}\n    user: azpath-mock\n"));
        }
        let current = self.servers.first().map(|(n, _, _)| n.as_str()).unwrap_or("");
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}contexts:\n{contexts}current-context: {current}\nusers:\n- name: azpath-mock\n  user:\n    token: {}\n",
            self.token
        )
    }

    /// A copy of the counters.
    pub fn stats(&self) -> MockKubeStats {
        self.stats.lock().expect("stats lock").clone()
    }
}

/// The port of the `index`-th cluster (by name): `base + index`, or 0 (a free port) without a base.
fn cluster_port(base: Option<u16>, index: usize) -> Result<u16, MockError> {
    let Some(base) = base.filter(|b| *b != 0) else { return Ok(0) };
    let port = u16::try_from(index).ok().and_then(|i| base.checked_add(i));
    port.ok_or(MockError::Bind {
        api: "Kubernetes",
        port: base,
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("cluster {} needs a port above 65535", index + 1),
        ),
    })
}

/// Items by list route.
#[derive(Default)]
struct Lists {
    /// `/api/v1/secrets` → (`SecretList`, `v1`, items without kind/apiVersion).
    builtin: BTreeMap<String, (String, String, Vec<Value>)>,
    /// (group, plural) → items (as sent: with kind/apiVersion).
    custom: BTreeMap<(String, String), Vec<Value>>,
}

/// Built-in kinds a dump may hold: kind → (list path, apiVersion).
const BUILTIN: &[(&str, &str, &str)] = &[
    ("Namespace", "/api/v1/namespaces", "v1"),
    ("ServiceAccount", "/api/v1/serviceaccounts", "v1"),
    ("Secret", "/api/v1/secrets", "v1"),
    ("Role", "/apis/rbac.authorization.k8s.io/v1/roles", "rbac.authorization.k8s.io/v1"),
    ("RoleBinding", "/apis/rbac.authorization.k8s.io/v1/rolebindings", "rbac.authorization.k8s.io/v1"),
    ("ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "rbac.authorization.k8s.io/v1"),
    ("ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "rbac.authorization.k8s.io/v1"),
    ("CustomResourceDefinition", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "apiextensions.k8s.io/v1"),
    ("Deployment", "/apis/apps/v1/deployments", "apps/v1"),
    ("DaemonSet", "/apis/apps/v1/daemonsets", "apps/v1"),
    ("StatefulSet", "/apis/apps/v1/statefulsets", "apps/v1"),
    ("ReplicaSet", "/apis/apps/v1/replicasets", "apps/v1"),
    ("Job", "/apis/batch/v1/jobs", "batch/v1"),
    ("CronJob", "/apis/batch/v1/cronjobs", "batch/v1"),
    ("Pod", "/api/v1/pods", "v1"),
];

impl Lists {
    /// Indexes a dump (a `v1 List` or a JSON array, as tenants hold them). The dump was validated when the
    /// tenant was loaded; objects of kinds not listed here and custom resources without a CRD in the dump
    /// are not served, as on a real server.
    fn from_dump(text: &str) -> Lists {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let items = match value {
            Value::Array(items) => items,
            Value::Object(mut o) => match o.remove("items") {
                Some(Value::Array(items)) => items,
                _ => vec![Value::Object(o)],
            },
            _ => Vec::new(),
        };
        let mut lists = Lists::default();
        let mut plurals: BTreeMap<(String, String), String> = BTreeMap::new();
        for item in &items {
            if item["kind"] == "CustomResourceDefinition" {
                let spec = &item["spec"];
                if let (Some(g), Some(k), Some(p)) =
                    (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
                {
                    plurals.insert((g.to_string(), k.to_string()), p.to_string());
                }
            }
        }
        for ((group, _), plural) in &plurals {
            lists.custom.entry((group.clone(), plural.clone())).or_default();
        }
        for (kind, path, api_version) in BUILTIN {
            lists.builtin.insert(path.to_string(), (format!("{kind}List"), api_version.to_string(), Vec::new()));
        }
        for mut item in items {
            let kind = item["kind"].as_str().unwrap_or("").to_string();
            let api_version = item["apiVersion"].as_str().unwrap_or("").to_string();
            if let Some((_, path, _)) = BUILTIN.iter().find(|(k, _, _)| *k == kind) {
                if let Value::Object(o) = &mut item {
                    o.remove("kind");
                    o.remove("apiVersion");
                }
                lists.builtin.get_mut(*path).expect("every built-in list exists").2.push(item);
            } else if let Some((group, _)) = api_version.split_once('/') {
                if let Some(plural) = plurals.get(&(group.to_string(), kind)) {
                    lists.custom.entry((group.to_string(), plural.clone())).or_default().push(item);
                }
            }
        }
        lists
    }

    /// The list at a path: (list kind, apiVersion, items).
    fn get(&self, path: &str) -> Option<(String, String, &[Value])> {
        if let Some((kind, api_version, items)) = self.builtin.get(path) {
            return Some((kind.clone(), api_version.clone(), items));
        }
        // `/apis/<group>/<version>/<plural>`: any version of the CRD serves its objects, as after conversion.
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ["apis", group, version, plural] = parts[..] {
            let items = self.custom.get(&(group.to_string(), plural.to_string()))?;
            return Some(("List".into(), format!("{group}/{version}"), items));
        }
        None
    }
}

struct KubeResponder {
    cluster: String,
    lists: LiveLists,
    options: MockKubeOptions,
    stats: Arc<Mutex<MockKubeStats>>,
    throttled: Mutex<Vec<String>>,
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code
    }))
}

impl Respond for KubeResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        let mut stats = self.stats.lock().expect("stats lock");
        *stats.requests.entry(format!("{} {path}", self.cluster)).or_default() += 1;
        let expected = format!("Bearer {}", self.options.token);
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(expected.as_str()) {
            stats.wrong_token += 1;
            return status(401, "Unauthorized", "Unauthorized", json!({}));
        }
        if request.method != wiremock::http::Method::GET {
            return status(405, "MethodNotAllowed", "the mock serves lists only", json!({}));
        }
        let plural = path.rsplit('/').next().unwrap_or("").to_string();
        if self.options.forbidden.contains(&path) {
            let message = format!(
                "{plural} is forbidden: User \"azpath-mock\" cannot list resource \"{plural}\" at the cluster scope"
            );
            return status(403, "Forbidden", &message, json!({"kind": plural}));
        }
        if self.options.throttle_first {
            let mut seen = self.throttled.lock().expect("throttle lock");
            if !seen.contains(&path) {
                seen.push(path.clone());
                stats.throttled += 1;
                return status(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                    json!({"retryAfterSeconds": 1}),
                )
                .insert_header("Retry-After", "1");
            }
        }
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        // `…/namespaces/<ns>/<plural>`: the cluster-wide list, narrowed to one namespace.
        let (list_path, namespace) = match path.rsplit_once('/').and_then(|(head, plural)| {
            let (base, ns) = head.rsplit_once("/namespaces/")?;
            (!ns.contains('/')).then(|| (format!("{base}/{plural}"), ns.to_string()))
        }) {
            Some((p, ns)) => (p, Some(ns)),
            None => (path.clone(), None),
        };
        let lists = self.lists.read().expect("lists lock").clone();
        let (list_kind, api_version, all) = match lists.get(&list_path) {
            Some(l) => l,
            None => {
                stats.not_found += 1;
                return status(404, "NotFound", "the server could not find the requested resource", json!({}));
            }
        };
        let in_namespace: Vec<Value>;
        let items: &[Value] = match &namespace {
            Some(ns) => {
                in_namespace = all.iter().filter(|i| i["metadata"]["namespace"] == ns.as_str()).cloned().collect();
                &in_namespace
            }
            None => all,
        };
        let start = match query.get("continue") {
            None => 0,
            Some(token) => match token.strip_prefix("mock-continue-").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n <= items.len() => n,
                _ => return status(400, "BadRequest", "invalid continue token", json!({})),
            },
        };
        let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
        let end = items.len().min(start + limit.min(self.options.page_size.max(1)));
        let mut metadata = Map::new();
        metadata.insert("resourceVersion".into(), json!("4242"));
        if end < items.len() {
            metadata.insert("continue".into(), json!(format!("mock-continue-{end}")));
            metadata.insert("remainingItemCount".into(), json!(items.len() - end));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": &items[start..end]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(cluster: &str) -> KubeDump {
        let mut dump = crate::MockTenant::bundled("demo").unwrap().kube.remove(0);
        dump.cluster = cluster.into();
        dump
    }

    /// `n` consecutive free loopback ports.
    fn free_ports(n: u16) -> u16 {
        loop {
            let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let base = first.local_addr().unwrap().port();
            if base.checked_add(n).is_some()
                && (1..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
            {
                return base;
            }
        }
    }

    async fn names(kube: &MockKube, cluster: &str, path: &str) -> Vec<String> {
        let url = format!("{}{path}?limit=500", kube.url(cluster).unwrap());
        let response = reqwest::Client::new().get(url).bearer_auth("mock-kube-token").send().await.unwrap();
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
    }

    #[tokio::test]
    async fn a_base_port_gives_each_cluster_its_own_in_name_order() {
        let base = free_ports(2);
        let options = MockKubeOptions { base_port: Some(base), ..Default::default() };
        let kube = MockKube::start(&[demo("z-last"), demo("a-first")], options.clone()).await.unwrap();
        assert_eq!(kube.url("a-first").unwrap(), format!("http://127.0.0.1:{base}"));
        assert_eq!(kube.url("z-last").unwrap(), format!("http://127.0.0.1:{}", base + 1));
        assert!(kube.kubeconfig().contains(&format!("server: http://127.0.0.1:{base}\n")));
        let taken = MockKube::start(&[demo("a-first")], options).await.err().unwrap().to_string();
        assert!(taken.contains(&format!("127.0.0.1:{base}")), "{taken}");
        let free = MockKube::start(&[demo("a"), demo("b")], MockKubeOptions::default()).await.unwrap();
        assert_ne!(free.url("a").unwrap(), format!("http://127.0.0.1:{base}"));
        assert!(cluster_port(Some(u16::MAX), 1).is_err());
    }

    #[tokio::test]
    async fn a_reload_serves_the_edited_dump_and_names_clusters_it_cannot_serve() {
        let kube =
            MockKube::start(&[demo("aks")], MockKubeOptions { page_size: 500, ..Default::default() }).await.unwrap();
        const BINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/rolebindings";
        let before = names(&kube, "aks", BINDINGS).await;
        assert!(!before.contains(&"added-binding".to_string()));
        let mut edited = demo("aks");
        let mut list: Value = serde_json::from_str(&edited.text).unwrap();
        list["items"].as_array_mut().unwrap().push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "added-binding", "namespace": "default"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "someone"}]
        }));
        edited.text = list.to_string();
        let done = kube.reload(&[edited, demo("other")]);
        assert_eq!(done, KubeReload { reloaded: vec!["aks".into()], new: vec!["other".into()], missing: vec![] });
        let after = names(&kube, "aks", BINDINGS).await;
        assert_eq!(after.len(), before.len() + 1);
        assert!(after.contains(&"added-binding".to_string()));
        assert_eq!(kube.reload(&[]).missing, ["aks"]);
        assert_eq!(names(&kube, "aks", BINDINGS).await, after, "a cluster without a dump keeps its last one");
    }
}
