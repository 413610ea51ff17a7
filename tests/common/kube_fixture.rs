//! The kubectl dump the Kubernetes end-to-end tests share: a cluster whose Secrets, annotations and
//! environment carry a planted secret value in every form kubectl can show it, a tenant with its AKS cluster, and
//! a [`Misbehaving`] server to put in front of a mock API server (looping `continue` tokens, drip-fed bodies).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azpath_mocks::MockTenant;
use serde_json::{json, Value};

/// The value planted everywhere a kubectl dump can carry a secret.
pub const PLANTED: &str = "Zq8~planted-client-secret-7f3a";
/// An identifier that must be kept.
pub const CLIENT_ID: &str = "6a1d2e3f-0000-4000-8000-00000000c11d";
pub const SUB: &str = "837c3c76-9e6c-4dba-b18e-10ab9cbc63d8";

pub fn cluster_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod")
}

/// Base64, as kubectl shows Secret `data`.
pub fn b64(s: &str) -> String {
    azpath_mocks::kube::base64(s)
}

/// Every form the planted value could take in output.
pub fn leaks(text: &str) -> Option<&'static str> {
    if text.contains(PLANTED) {
        Some("plain")
    } else if text.contains(&b64(PLANTED)) {
        Some("base64")
    } else if text.contains("planted-client-secret") {
        Some("partial")
    } else {
        None
    }
}

/// A `kubectl get … -A -o json` List: an ASO credential created with `kubectl apply` (its plaintext in the
/// last-applied annotation), the secret in `data` and `stringData`, and a Deployment with a literal
/// `AZURE_CLIENT_SECRET`.
pub fn dump() -> Value {
    let applied = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "aso-credential", "namespace": "team-a"},
        "stringData": {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": PLANTED}
    });
    json!({
        "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "team-a"}},
            {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": "aso-credential", "namespace": "team-a",
                          "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
             "data": {"AZURE_CLIENT_ID": b64(CLIENT_ID), "AZURE_CLIENT_SECRET": b64(PLANTED)},
             "stringData": {"AZURE_TENANT_ID": "34a965a6-d036-4c02-839f-4afd60acfe68", "backup-secret": PLANTED}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "aso-editor", "namespace": "team-a"},
             "rules": [{"apiGroups": ["resources.azure.com"], "resources": ["*"], "verbs": ["*"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "aso-editors", "namespace": "team-a"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aso-editor"},
             "subjects": [{"kind": "Group", "name": "00000000-0000-0000-0000-0000000000aa"}]},
            {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "app", "namespace": "team-a"},
             "spec": {"template": {"metadata": {"labels": {"app": "app"}}, "spec": {
                 "serviceAccountName": "default",
                 "containers": [{"name": "app", "image": "example/app:1", "env": [
                     {"name": "AZURE_CLIENT_SECRET", "value": PLANTED},
                     {"name": "AZURE_CLIENT_ID", "value": CLIENT_ID}]}]}}}},
            {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
             "metadata": {"name": "resourcegroups.resources.azure.com"},
             "spec": {"group": "resources.azure.com", "scope": "Namespaced",
                      "names": {"kind": "ResourceGroup", "plural": "resourcegroups", "listKind": "ResourceGroupList"},
                      "versions": [{"name": "v1api20200601", "served": true, "storage": false},
                                   {"name": "v1api20200601storage", "served": true, "storage": true}]}},
            {"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
             "metadata": {"name": "rg-team-a", "namespace": "team-a"},
             "spec": {"location": "westeurope", "owner": {"armId": format!("/subscriptions/{SUB}")}}}
        ]
    })
}

/// The bundled `demo` tenant written to a folder, with an AKS cluster `aks-prod` in its first subscription.
pub fn tenant_with_cluster(dir: &Path) -> PathBuf {
    let tenant_dir = dir.join("tenant");
    // The demo's own cluster and its dump are replaced by `aks-prod` alone.
    let mut demo = MockTenant::bundled("demo").unwrap();
    demo.kube.clear();
    demo.write(&tenant_dir).unwrap();
    let cluster = json!({"value": [{
        "id": cluster_id(), "name": "aks-prod", "location": "westeurope",
        "type": "Microsoft.ContainerService/ManagedClusters",
        "properties": {"fqdn": "aks-prod-dns.hcp.westeurope.azmk8s.io", "enableRBAC": true}
    }]});
    std::fs::write(tenant_dir.join("arm/managedClusters.json"), cluster.to_string()).unwrap();
    tenant_dir
}

/// What a [`Misbehaving`] server answers instead of the real server.
pub enum Reply {
    /// This status and JSON body, at once.
    Json(u16, String),
    /// `200` headers announcing a large JSON body, then one byte of it per interval, forever.
    Drip(Duration),
}

/// A loopback HTTP server in front of a real (mock) API server, to make one route misbehave: every request
/// is offered to a rule (with its path and query); the rule's [`Reply`] is sent, or, when it gives `None`,
/// the request is forwarded upstream unchanged. One request per connection; plain blocking threads, so it
/// works in any test runtime. Records every request's path and query.
pub struct Misbehaving {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

type Rule = dyn Fn(&str) -> Option<Reply> + Send + Sync;

impl Misbehaving {
    /// Starts a server in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, rule: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let seen = requests.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, rule, seen) = (upstream.clone(), rule.clone(), seen.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &*rule, &seen);
                });
            }
        });
        Misbehaving { url, requests }
    }

    /// Its URL, to put in a kubeconfig in place of the upstream's.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests received for `path` (any query).
    pub fn requests(&self, path: &str) -> usize {
        let all = self.requests.lock().unwrap();
        all.iter().filter(|r| r.split('?').next() == Some(path)).count()
    }
}

/// Answers one request: the rule's reply, else the upstream's response.
fn serve(mut client: TcpStream, upstream: &str, rule: &Rule, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = read_head(&mut client)?;
    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(target.clone());
    match rule(&target) {
        Some(Reply::Json(code, body)) => write!(
            client,
            "HTTP/1.1 {code} Mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
        Some(Reply::Drip(interval)) => {
            client.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n")?;
            loop {
                std::thread::sleep(interval);
                client.write_all(b" ")?;
            }
        }
        None => {
            // Asking for `connection: close` makes the upstream end its response with the connection.
            let mut forwarded: String = head
                .split_inclusive("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && *l != "\r\n")
                .collect();
            forwarded.push_str("connection: close\r\n\r\n");
            let mut up = TcpStream::connect(upstream)?;
            up.write_all(forwarded.as_bytes())?;
            std::io::copy(&mut up, &mut client).map(|_| ())
        }
    }
}

/// A request's head (request line and headers), up to and with the blank line; GETs have no body.
fn read_head(client: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}
