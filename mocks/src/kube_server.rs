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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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
}

impl Default for MockKubeOptions {
    fn default() -> Self {
        MockKubeOptions { page_size: 2, token: "mock-kube-token".into(), forbidden: Vec::new(), throttle_first: false }
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

/// Running mock API servers, one per cluster dump. Dropping it stops them.
pub struct MockKube {
    servers: Vec<(String, MockServer)>,
    token: String,
    stats: Arc<Mutex<MockKubeStats>>,
}

impl MockKube {
    /// Starts one loopback server per dump.
    pub async fn start(dumps: &[KubeDump], options: MockKubeOptions) -> Result<MockKube, MockError> {
        let stats = Arc::new(Mutex::new(MockKubeStats::default()));
        let mut servers = Vec::new();
        for dump in dumps {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|source| MockError::Bind {
                api: "Kubernetes",
                port: 0,
                source,
            })?;
            let server = MockServer::builder().listener(listener).disable_request_recording().start().await;
            let responder = KubeResponder {
                cluster: dump.cluster.clone(),
                lists: Lists::from_dump(&dump.text),
                options: options.clone(),
                stats: stats.clone(),
                throttled: Mutex::new(Vec::new()),
            };
            Mock::given(wiremock::matchers::any()).respond_with(responder).mount(&server).await;
            servers.push((dump.cluster.clone(), server));
        }
        Ok(MockKube { servers, token: options.token, stats })
    }

    /// The API server URL of a cluster (`http://127.0.0.1:PORT`).
    pub fn url(&self, cluster: &str) -> Option<String> {
        self.servers.iter().find(|(c, _)| c == cluster).map(|(_, s)| s.uri())
    }

    /// A kubeconfig (YAML) with one context per cluster, named after it, and the bearer token.
    pub fn kubeconfig(&self) -> String {
        let mut clusters = String::new();
        let mut contexts = String::new();
        for (name, server) in &self.servers {
            clusters.push_str(&format!("- name: {name}\n  cluster:\n    server: {}\n", server.uri()));
            contexts.push_str(&format!("- name: {name}\n  context:\n    cluster: {name}\n    user: azpath-mock\n"));
        }
        let current = self.servers.first().map(|(n, _)| n.as_str()).unwrap_or("");
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
    lists: Lists,
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
        let (list_kind, api_version, all) = match self.lists.get(&list_path) {
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
