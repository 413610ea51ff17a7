//! Reads `kubectl get … -A -o json` (or `-o yaml`) output into a [`KubeCluster`], sanitizing as it reads.
//!
//! The input is what
//! `kubectl get namespaces,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,secrets,customresourcedefinitions,deployments,daemonsets,statefulsets,replicasets,jobs,cronjobs,pods -A -o json`
//! prints (plus `azureidentities,azureidentitybindings` where aad-pod-identity is installed): a `v1 List` of
//! mixed kinds. Also accepted: a single object, a typed list (`SecretList`, whose items may lack `kind`), a
//! bare JSON array, several JSON documents in a row, and YAML with one or more documents (`kubectl -o yaml`,
//! manifests separated by `---`). Objects of any API group ending in `.azure.com` are Azure Service Operator
//! resources; `AzureIdentity` and `AzureIdentityBinding` of [`AAD_POD_IDENTITY_GROUP`] are deprecated
//! pod-managed identity. Other kinds are skipped and counted ([`ParsedDump::skipped`]).
//!
//! **Secret values never leave this module, and are never copied when the input is JSON.** Each JSON item is
//! first seen as raw text, its kind is probed, then it is decoded into a private wire type that has no place
//! for a secret value: `data`/`stringData` entries are walked key by key and only the values of
//! [`NON_SECRET_KEYS`](crate::kube::NON_SECRET_KEYS) are read (every other value is skipped unread), Secret
//! annotation and label values are skipped the same way (`kubectl apply` copies the whole Secret into the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation) except the service account a token Secret
//! names ([`SECRET_ANNOTATIONS_KEPT`](crate::kube::SECRET_ANNOTATIONS_KEPT)), and that annotation's value is
//! dropped on every object (a Deployment's holds its literal environment). A Deployment's (or DaemonSet's)
//! environment keeps a `value` only for the non-secret names, and `secretKeyRef` references; of its
//! containers' `command` and `args` only the flags of [`NON_SECRET_ARGS`](crate::kube::NON_SECRET_ARGS) are
//! kept. An `AzureIdentity`'s `clientPassword` keeps only the Secret's name and namespace. YAML is parsed into a document tree first,
//! which is dropped as soon as the dump is read. Error messages never quote a value from the input.
//!
//! ```
//! use azpath_graph::kube_dump;
//!
//! let dump = r#"{"apiVersion":"v1","kind":"List","items":[
//!   {"apiVersion":"v1","kind":"Secret","metadata":{"name":"aso-credential","namespace":"team-a"},
//!    "stringData":{"AZURE_CLIENT_ID":"11111111-2222-3333-4444-555555555555","AZURE_CLIENT_SECRET":"hunter2"}}]}"#;
//! let cluster = kube_dump::parse(dump, "dump.json", "aks-prod").unwrap();
//! let secret = &cluster.secrets[0];
//! assert_eq!(secret.keys, ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]);
//! assert_eq!(secret.values["AZURE_CLIENT_ID"], "11111111-2222-3333-4444-555555555555");
//! assert!(!serde_json::to_string(&cluster).unwrap().contains("hunter2"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::kube::{
    is_non_secret_arg, is_non_secret_key, null_as_empty, AggregationRule, AsoOwner, AsoResource, AzureIdentity,
    AzureIdentityBinding, CustomResourceDefinition, Deployment, EnvVar, KubeCluster, Namespace, ObjectMeta, PolicyRule,
    Role, RoleBinding, RoleRef, SecretMeta, SecretReference, ServiceAccount, Subject, SECRET_ANNOTATIONS_KEPT,
};
use crate::snapshot::{AzureData, CoverageGap, GapReason, Snapshot, SourceRecord};

/// The annotation `kubectl apply` fills with the whole object as last applied, values included.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Annotations of ASO resources kept (with their values); all others are dropped.
pub const ASO_ANNOTATION_PREFIX: &str = "serviceoperator.azure.com/";

/// The API group of aad-pod-identity (deprecated pod-managed identity): `AzureIdentity`,
/// `AzureIdentityBinding`.
pub const AAD_POD_IDENTITY_GROUP: &str = "aadpodidentity.k8s.io";

/// Why a dump could not be read. Messages name the source and the item, never a value from the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeDumpError {
    /// The text is not valid JSON or YAML.
    #[error("{source_name}: not valid {format}: {message}")]
    Syntax {
        /// The file (or other source) read.
        source_name: String,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// What the parser said, with its line and column.
        message: String,
    },
    /// A document is neither a Kubernetes object nor a list of them.
    #[error("{source_name}: {location}: {message}")]
    Shape {
        /// The file read.
        source_name: String,
        /// Which document (`document[2]`), or `.` for the whole input.
        location: String,
        /// What was wrong.
        message: String,
    },
    /// An object does not have the shape of its kind.
    #[error("{source_name}: {item}: {field}: {message}")]
    Item {
        /// The file read.
        source_name: String,
        /// Which object: `items[12] (Secret team-a/aso-credential)`.
        item: String,
        /// The field, from the object's root: `metadata.name`, `rules[0].verbs`.
        field: String,
        /// What was wrong (`missing field`, `invalid type: string, expected a sequence`).
        message: String,
    },
}

/// A parsed dump, with what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedDump {
    /// The objects kept, sanitized and sorted.
    pub cluster: KubeCluster,
    /// Objects of kinds azpath does not read, by `Kind (apiVersion)`.
    pub skipped: BTreeMap<String, usize>,
}

impl ParsedDump {
    /// Number of objects kept.
    pub fn object_count(&self) -> usize {
        object_count(&self.cluster)
    }
}

/// Number of Kubernetes objects held for a cluster.
pub fn object_count(c: &KubeCluster) -> usize {
    c.namespaces.len()
        + c.service_accounts.len()
        + c.roles.len()
        + c.cluster_roles.len()
        + c.role_bindings.len()
        + c.cluster_role_bindings.len()
        + c.secrets.len()
        + c.crds.len()
        + c.deployments.len()
        + c.daemon_sets.len()
        + c.workloads.len()
        + c.aso_resources.len()
        + c.azure_identities.len()
        + c.azure_identity_bindings.len()
}

/// Parses a dump of cluster `cluster` read from `source_name` (used in errors and as `dump:<source_name>`).
pub fn parse(text: &str, source_name: &str, cluster: &str) -> Result<KubeCluster, KubeDumpError> {
    parse_counted(text, source_name, cluster).map(|p| p.cluster)
}

/// [`parse`], also returning the kinds that were skipped.
pub fn parse_counted(text: &str, source_name: &str, cluster: &str) -> Result<ParsedDump, KubeDumpError> {
    let mut b = Builder {
        source_name,
        out: ParsedDump {
            cluster: KubeCluster {
                cluster: cluster.to_string(),
                source: format!("dump:{source_name}"),
                ..Default::default()
            },
            skipped: BTreeMap::new(),
        },
    };
    let body = text.trim_start_matches('\u{feff}');
    let first = body.trim_start().chars().next();
    match first {
        None => return Err(b.shape(".", "the input is empty".into())),
        Some('{') | Some('[') => b.json(text, body)?,
        Some(_) => b.yaml(body)?,
    }
    normalize(&mut b.out.cluster);
    Ok(b.out)
}

/// Adds `from`'s objects to `into` (same cluster, e.g. several files of one dump) and re-sorts, keeping the
/// first of two objects with the same kind, namespace and name.
pub fn merge(into: &mut KubeCluster, from: KubeCluster) {
    into.namespaces.extend(from.namespaces);
    into.service_accounts.extend(from.service_accounts);
    into.roles.extend(from.roles);
    into.cluster_roles.extend(from.cluster_roles);
    into.role_bindings.extend(from.role_bindings);
    into.cluster_role_bindings.extend(from.cluster_role_bindings);
    into.secrets.extend(from.secrets);
    into.crds.extend(from.crds);
    into.deployments.extend(from.deployments);
    into.daemon_sets.extend(from.daemon_sets);
    into.workloads.extend(from.workloads);
    into.aso_resources.extend(from.aso_resources);
    into.azure_identities.extend(from.azure_identities);
    into.azure_identity_bindings.extend(from.azure_identity_bindings);
    if into.server.is_none() {
        into.server = from.server;
    }
    normalize(into);
}

/// Sorts every list by namespace and name and drops repeats, so equal dumps give equal snapshots.
pub fn normalize(c: &mut KubeCluster) {
    fn by_key<T>(v: &mut Vec<T>, key: impl Fn(&T) -> (String, Option<String>, String)) {
        v.sort_by_cached_key(|x| key(x));
        v.dedup_by(|a, b| key(a) == key(b));
    }
    fn meta(m: &ObjectMeta) -> (String, Option<String>, String) {
        (String::new(), m.namespace.clone(), m.name.clone())
    }
    by_key(&mut c.namespaces, |x| meta(&x.metadata));
    by_key(&mut c.service_accounts, |x| meta(&x.metadata));
    by_key(&mut c.roles, |x| meta(&x.metadata));
    by_key(&mut c.cluster_roles, |x| meta(&x.metadata));
    by_key(&mut c.role_bindings, |x| meta(&x.metadata));
    by_key(&mut c.cluster_role_bindings, |x| meta(&x.metadata));
    by_key(&mut c.secrets, |x| meta(&x.metadata));
    by_key(&mut c.deployments, |x| meta(&x.metadata));
    by_key(&mut c.daemon_sets, |x| meta(&x.metadata));
    by_key(&mut c.workloads, |x| {
        (x.kind.clone().unwrap_or_default(), x.metadata.namespace.clone(), x.metadata.name.clone())
    });
    by_key(&mut c.azure_identities, |x| meta(&x.metadata));
    by_key(&mut c.azure_identity_bindings, |x| meta(&x.metadata));
    by_key(&mut c.aso_resources, |x| {
        (format!("{}/{}", group_of(&x.api_version), x.kind), x.metadata.namespace.clone(), x.metadata.name.clone())
    });
    by_key(&mut c.crds, |x| (x.name.clone(), None, String::new()));
}

/// How a `--kube-dump` cluster name matched the collected AKS and Arc clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterMatch {
    /// One cluster: its resource id as collected.
    Found(String),
    /// No collected cluster has this id or name.
    Unknown,
    /// Several clusters have this name (in different resource groups or subscriptions): their ids.
    Ambiguous(Vec<String>),
}

/// Matches `given` (an ARM resource id, or a cluster name) against the AKS clusters
/// (`managedClusters`) and Arc clusters (`connectedClusters`) in `azure`, case-insensitively.
pub fn resolve_cluster(given: &str, azure: &AzureData) -> ClusterMatch {
    let given = given.trim();
    let clusters = azure
        .managed_clusters
        .iter()
        .map(|c| (&c.id, &c.name))
        .chain(azure.connected_clusters.iter().map(|c| (&c.id, &c.name)));
    let mut found: Vec<String> = Vec::new();
    for (id, name) in clusters {
        let hit = if given.starts_with('/') {
            id.trim_end_matches('/').eq_ignore_ascii_case(given.trim_end_matches('/'))
        } else {
            let name = if name.is_empty() { id.trim_end_matches('/').rsplit('/').next().unwrap_or("") } else { name };
            name.eq_ignore_ascii_case(given)
        };
        if hit && !found.iter().any(|f| f.eq_ignore_ascii_case(id)) {
            found.push(id.clone());
        }
    }
    match found.len() {
        0 => ClusterMatch::Unknown,
        1 => ClusterMatch::Found(found.remove(0)),
        _ => {
            found.sort();
            ClusterMatch::Ambiguous(found)
        }
    }
}

/// Whether objects of a custom API group are read, so a live collector lists the custom resources of every
/// installed CRD of such a group (and skips the rest).
pub fn reads_custom_group(group: &str) -> bool {
    is_aso_group(group) || group.eq_ignore_ascii_case(AAD_POD_IDENTITY_GROUP)
}

/// Whether an API group is Azure Service Operator's (`resources.azure.com`, `authorization.azure.com`, …).
pub fn is_aso_group(group: &str) -> bool {
    group.ends_with(".azure.com")
}

/// The API name of Kubernetes dumps in source records and coverage gaps.
pub const DUMP_API: &str = "kube.dump";

/// Adds Kubernetes clusters to a snapshot whose Azure side is filled: a cluster named by a name becomes the
/// resource id of the one AKS or Arc cluster of that name; one named by id takes the id's spelling as
/// collected. A cluster that matches no collected cluster (or several) keeps the name it was given and gets a
/// coverage gap: its objects are analyzed, but not linked to an Azure cluster. Clusters with the same id are
/// merged. Each cluster gets a source record with its object count.
pub fn attach(snap: &mut Snapshot, clusters: Vec<KubeCluster>) {
    for mut cluster in clusters {
        let given = cluster.cluster.clone();
        let problem = match resolve_cluster(&given, &snap.azure) {
            ClusterMatch::Found(id) => {
                cluster.cluster = id;
                None
            }
            ClusterMatch::Unknown => Some(format!(
                "Kubernetes cluster `{given}` ({}) matches no AKS or Arc cluster collected: its objects are analyzed, but not linked to an Azure cluster (its OIDC issuer, admin credentials and Azure RBAC for Kubernetes are unknown); give the cluster's resource id, or collect its subscription",
                cluster.source
            )),
            ClusterMatch::Ambiguous(ids) => Some(format!(
                "Kubernetes cluster name `{given}` ({}) matches several clusters ({}): its objects are analyzed, but not linked to an Azure cluster; give the cluster's resource id instead",
                cluster.source,
                ids.join(", ")
            )),
        };
        if let Some(message) = problem {
            snap.coverage.push(CoverageGap {
                api: DUMP_API.to_string(),
                scope: given,
                reason: GapReason::NotFound,
                status: None,
                message,
            });
        }
        match snap.kubernetes.iter_mut().find(|c| c.cluster.eq_ignore_ascii_case(&cluster.cluster)) {
            Some(existing) => {
                if !existing.source.split(", ").any(|s| s == cluster.source) {
                    existing.source = format!("{}, {}", existing.source, cluster.source);
                }
                merge(existing, cluster);
            }
            None => snap.kubernetes.push(cluster),
        }
    }
    snap.kubernetes.sort_by_cached_key(|c| c.cluster.to_ascii_lowercase());
    snap.sources.retain(|s| s.api != DUMP_API);
    for c in &snap.kubernetes {
        snap.sources.push(SourceRecord { api: DUMP_API.to_string(), scope: c.cluster.clone(), count: object_count(c) });
    }
    snap.sources.sort_by(|a, b| (&a.api, &a.scope).cmp(&(&b.api, &b.scope)));
    snap.coverage.sort();
    snap.coverage.dedup();
}

// ---------------------------------------------------------------------------------------------------------
// Documents and items
// ---------------------------------------------------------------------------------------------------------

/// One object of the input, not decoded yet.
#[derive(Clone, Copy)]
enum Node<'a> {
    Json(&'a RawValue),
    Yaml(&'a serde_norway::Value),
}

/// A decoding failure at a field.
struct FieldError {
    field: String,
    message: String,
}

impl Node<'_> {
    fn decode<T: DeserializeOwned>(self) -> Result<T, FieldError> {
        match self {
            Node::Json(raw) => {
                let de = &mut serde_json::Deserializer::from_str(raw.get());
                serde_path_to_error::deserialize(de).map_err(|e| field_error(e.path(), &e.inner().to_string()))
            }
            Node::Yaml(value) => {
                serde_path_to_error::deserialize(value).map_err(|e| field_error(e.path(), &e.inner().to_string()))
            }
        }
    }
}

fn field_error(path: &serde_path_to_error::Path, message: &str) -> FieldError {
    let message = strip_position(message);
    let path = path.to_string();
    if let Some(name) = message.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
        let field = if path == "." { name.to_string() } else { format!("{path}.{name}") };
        return FieldError { field, message: "missing field".into() };
    }
    FieldError { field: path, message: scrub(message) }
}

/// Drops serde_json's ` at line L column C`, which counts from the start of the item, not of the file.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at)
            if message[at + 9..].split(" column ").count() == 2
                && message[at + 9..].chars().all(|c| c.is_ascii_digit() || " column".contains(c)) =>
        {
            &message[..at]
        }
        _ => message,
    }
}

/// Removes any input value that a serde message quotes (`invalid type: string "…", expected …`,
/// ``unknown variant `…` ``), keeping what kind of value it was and what was expected (never the name of
/// one of azpath's types: `expected struct RoleRef` becomes `expected a map`).
fn scrub(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let what = rest.split([' ', ',']).next().unwrap_or("");
            let expected = rest.rfind(", expected ").map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}{what}{}", plain_expected(expected));
        }
    }
    for prefix in ["unknown variant ", "unknown field "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let expected = rest.rfind(", expected ").map(|i| &rest[i..]).unwrap_or("");
            return format!("{}{}", prefix.trim_end(), plain_expected(expected));
        }
    }
    if let Some(cut) = message.find(['"', '`']) {
        // A message of another form that quotes something: keep only the words before the quote.
        return message[..cut].trim_end().trim_end_matches(':').to_string();
    }
    message.to_string()
}

/// `, expected struct X` (serde's text for a derived type without its own `expecting`) as `, expected a
/// map`, so no internal type name reaches the user.
fn plain_expected(expected: &str) -> &str {
    match expected.strip_prefix(", expected ") {
        Some(what) if what.strip_prefix("struct ").is_some_and(|name| !name.contains(' ')) => ", expected a map",
        _ => expected,
    }
}

/// A JSON syntax error with its line and column (from the start of the input). serde_json's syntax and
/// end-of-input messages are fixed texts (`expected `,` or `}``) that never quote the input; anything else
/// is scrubbed.
fn json_syntax(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = strip_position(&text);
    let what = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => what.to_string(),
        _ => scrub(what),
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// The group of an `apiVersion` (`rbac.authorization.k8s.io/v1` → `rbac.authorization.k8s.io`, `v1` → ``).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// What every item is first read as: enough to name it and pick its kind.
#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default, deserialize_with = "lenient_string")]
    api_version: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_probe_meta")]
    metadata: ProbeMeta,
}

/// The name and namespace of an object, or nothing when `metadata` is not a map; other fields are skipped
/// unread.
#[derive(Default)]
struct ProbeMeta {
    name: Option<String>,
    namespace: Option<String>,
}

fn lenient_probe_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ProbeMeta, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = ProbeMeta;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("object metadata")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProbeMeta, A::Error> {
            let mut meta = ProbeMeta::default();
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "name" => meta.name = map.next_value::<Scalar>()?.0,
                    "namespace" => meta.namespace = map.next_value::<Scalar>()?.0,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(meta)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ProbeMeta, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(ProbeMeta::default())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<ProbeMeta, D2::Error> {
            lenient_probe_meta(d)
        }
        fn visit_none<E: de::Error>(self) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<ProbeMeta, E> {
            Ok(ProbeMeta::default())
        }
    }
    d.deserialize_any(V)
}

/// What a JSON document says it is.
#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(rename_all = "camelCase")]
struct JsonHead {
    #[serde(default, deserialize_with = "lenient_string")]
    api_version: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    kind: Option<String>,
}

/// The items of a JSON list, as raw text.
#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes List")]
struct JsonItems<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

struct Builder<'s> {
    source_name: &'s str,
    out: ParsedDump,
}

/// The kind and apiVersion a typed list (`SecretList`) gives items that do not say theirs.
type Inherited = Option<(String, Option<String>)>;

fn list_item_kind(kind: Option<&str>, api_version: Option<&str>) -> Option<Inherited> {
    let kind = kind?;
    if kind == "List" {
        return Some(None);
    }
    let item = kind.strip_suffix("List").filter(|k| !k.is_empty())?;
    Some(Some((item.to_string(), api_version.map(str::to_string))))
}

impl Builder<'_> {
    fn shape(&self, location: &str, message: String) -> KubeDumpError {
        KubeDumpError::Shape { source_name: self.source_name.to_string(), location: location.to_string(), message }
    }

    fn json(&mut self, text: &str, body: &str) -> Result<(), KubeDumpError> {
        let docs: Vec<&RawValue> = serde_json::Deserializer::from_str(body)
            .into_iter::<&RawValue>()
            .collect::<Result<_, _>>()
            .map_err(|e| KubeDumpError::Syntax {
                source_name: self.source_name.to_string(),
                format: "JSON",
                message: json_syntax(&e),
            })?;
        let many = docs.len() > 1;
        for (d, raw) in docs.into_iter().enumerate() {
            let doc_label = if many { format!("document[{d}]") } else { String::new() };
            let source_name = self.source_name;
            let shape = |e: serde_json::Error| KubeDumpError::Shape {
                source_name: source_name.to_string(),
                location: or_root(&doc_label).to_string(),
                message: scrub(strip_position(&e.to_string())),
            };
            if raw.get().starts_with('[') {
                let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(shape)?;
                self.items(items.into_iter().map(Node::Json), &doc_label, None, text)?;
                continue;
            }
            let head: JsonHead = serde_json::from_str(raw.get()).map_err(shape)?;
            match list_item_kind(head.kind.as_deref(), head.api_version.as_deref()) {
                Some(inherited) => {
                    let list: JsonItems = serde_json::from_str(raw.get()).map_err(shape)?;
                    let items = list.items.unwrap_or_default();
                    self.items(items.into_iter().map(Node::Json), &doc_label, inherited, text)?
                }
                None => {
                    let label = if many { doc_label } else { "object".to_string() };
                    self.object(Node::Json(raw), label, None, text)?
                }
            }
        }
        Ok(())
    }

    fn yaml(&mut self, body: &str) -> Result<(), KubeDumpError> {
        if let Some((line, column)) = yaml_too_deep(body) {
            return Err(KubeDumpError::Syntax {
                source_name: self.source_name.to_string(),
                format: "YAML",
                message: format!(
                    "collections nested deeper than {MAX_YAML_DEPTH} levels at line {line} column {column}"
                ),
            });
        }
        let mut docs = Vec::new();
        for doc in serde_norway::Deserializer::from_str(body) {
            let value = serde_norway::Value::deserialize(doc).map_err(|e| KubeDumpError::Syntax {
                source_name: self.source_name.to_string(),
                format: "YAML",
                message: scrub(&e.to_string()),
            })?;
            docs.push(value);
        }
        let many = docs.len() > 1;
        for (d, value) in docs.iter().enumerate() {
            let doc_label = if many { format!("document[{d}]") } else { String::new() };
            match value {
                serde_norway::Value::Null => continue,
                serde_norway::Value::Sequence(items) => {
                    self.items(items.iter().map(Node::Yaml), &doc_label, None, "")?;
                }
                serde_norway::Value::Mapping(map) => {
                    let get = |k: &str| map.get(k).and_then(|v| v.as_str());
                    let inherited = list_item_kind(get("kind"), get("apiVersion"));
                    match (inherited, map.get("items")) {
                        (Some(inherited), Some(serde_norway::Value::Sequence(items))) => {
                            self.items(items.iter().map(Node::Yaml), &doc_label, inherited, "")?
                        }
                        (Some(_), Some(serde_norway::Value::Null)) => {}
                        (Some(_), Some(_)) => {
                            return Err(self.shape(or_root(&doc_label), "items: expected a sequence".into()))
                        }
                        _ => {
                            let label = if many { doc_label } else { "object".to_string() };
                            self.object(Node::Yaml(value), label, None, "")?
                        }
                    }
                }
                _ => {
                    return Err(self.shape(
                        or_root(&doc_label),
                        "expected a Kubernetes object or a List of them, found a scalar".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn items<'a>(
        &mut self,
        items: impl Iterator<Item = Node<'a>>,
        doc_label: &str,
        inherited: Inherited,
        text: &str,
    ) -> Result<(), KubeDumpError> {
        for (i, node) in items.enumerate() {
            let label = if doc_label.is_empty() { format!("items[{i}]") } else { format!("{doc_label}.items[{i}]") };
            self.object(node, label, inherited.as_ref(), text)?;
        }
        Ok(())
    }

    fn object(
        &mut self,
        node: Node<'_>,
        position: String,
        inherited: Option<&(String, Option<String>)>,
        text: &str,
    ) -> Result<(), KubeDumpError> {
        let source_name = self.source_name;
        // The line is counted only for an error: counting it for every item would be quadratic.
        let line = || match node {
            Node::Json(raw) if !text.is_empty() => line_of(text, raw.get()),
            _ => None,
        };
        let item_error = |item: String, e: FieldError| KubeDumpError::Item {
            source_name: source_name.to_string(),
            item: match line() {
                Some(l) => format!("{item} at line {l}"),
                None => item,
            },
            field: e.field,
            message: e.message,
        };
        let probe: Probe = node.decode().map_err(|e| item_error(position.clone(), e))?;
        let kind = probe.kind.or_else(|| inherited.map(|(k, _)| k.clone()));
        let api_version = probe.api_version.or_else(|| inherited.and_then(|(_, v)| v.clone()));
        let Some(kind) = kind else {
            return Err(item_error(position, FieldError { field: "kind".into(), message: "missing field".into() }));
        };
        let name = match (&probe.metadata.namespace, &probe.metadata.name) {
            (Some(ns), Some(n)) => format!("{ns}/{n}"),
            (None, Some(n)) => n.clone(),
            (Some(ns), None) => format!("in {ns}"),
            (None, None) => "without a name".into(),
        };
        let item = format!("{position} ({kind} {name})");
        let fail = |e: FieldError| item_error(item.clone(), e);
        let group = api_version.as_deref().map(group_of);
        let c = &mut self.out.cluster;
        match (group, kind.as_str()) {
            (Some("") | None, "Namespace") => {
                let w: ObjectWire<KeepAnnotations> = node.decode().map_err(fail)?;
                c.namespaces.push(Namespace { metadata: w.metadata.into_meta() });
            }
            (Some("") | None, "ServiceAccount") => {
                let w: ServiceAccountWire = node.decode().map_err(fail)?;
                c.service_accounts.push(ServiceAccount {
                    metadata: w.metadata.into_meta(),
                    automount_service_account_token: w.automount_service_account_token,
                });
            }
            (Some("") | None, "Secret") => {
                let w: SecretWire = node.decode().map_err(fail)?;
                c.secrets.push(w.into_secret());
            }
            (Some("rbac.authorization.k8s.io") | None, "Role" | "ClusterRole") => {
                let w: RoleWire = node.decode().map_err(fail)?;
                let role =
                    Role { metadata: w.metadata.into_meta(), rules: w.rules, aggregation_rule: w.aggregation_rule };
                if kind == "Role" {
                    c.roles.push(role)
                } else {
                    c.cluster_roles.push(role)
                }
            }
            (Some("rbac.authorization.k8s.io") | None, "RoleBinding" | "ClusterRoleBinding") => {
                let w: BindingWire = node.decode().map_err(fail)?;
                let binding =
                    RoleBinding { metadata: w.metadata.into_meta(), role_ref: w.role_ref, subjects: w.subjects };
                if kind == "RoleBinding" {
                    c.role_bindings.push(binding)
                } else {
                    c.cluster_role_bindings.push(binding)
                }
            }
            (Some("apiextensions.k8s.io") | None, "CustomResourceDefinition") => {
                let w: CrdWire = node.decode().map_err(fail)?;
                c.crds.push(CustomResourceDefinition {
                    name: w.metadata.name,
                    group: w.spec.group.unwrap_or_default(),
                    kind: w.spec.names.kind.unwrap_or_default(),
                });
            }
            (Some("apps" | "extensions") | None, "Deployment") => {
                let w: DeploymentWire = node.decode().map_err(fail)?;
                c.deployments.push(w.into_deployment());
            }
            (Some("apps" | "extensions") | None, "DaemonSet") => {
                let w: DeploymentWire = node.decode().map_err(fail)?;
                c.daemon_sets.push(w.into_deployment());
            }
            (Some("apps" | "extensions") | None, "StatefulSet" | "ReplicaSet") | (Some("batch") | None, "Job") => {
                let w: DeploymentWire = node.decode().map_err(fail)?;
                c.workloads.push(Deployment { kind: Some(kind.clone()), ..w.into_deployment() });
            }
            (Some("batch") | None, "CronJob") => {
                let w: CronJobWire = node.decode().map_err(fail)?;
                c.workloads.push(Deployment { kind: Some(kind.clone()), ..w.into_deployment() });
            }
            (Some("") | None, "Pod") => {
                let w: PodWire = node.decode().map_err(fail)?;
                c.workloads.push(Deployment { kind: Some(kind.clone()), ..w.into_deployment() });
            }
            (Some(AAD_POD_IDENTITY_GROUP) | None, "AzureIdentity") => {
                let w: AzureIdentityWire = node.decode().map_err(fail)?;
                c.azure_identities.push(w.into_identity());
            }
            (Some(AAD_POD_IDENTITY_GROUP) | None, "AzureIdentityBinding") => {
                let w: AzureIdentityBindingWire = node.decode().map_err(fail)?;
                let spec = w.spec.unwrap_or_default();
                c.azure_identity_bindings.push(AzureIdentityBinding {
                    metadata: w.metadata.into_meta(),
                    azure_identity: spec.azure_identity.unwrap_or_default(),
                    selector: spec.selector.unwrap_or_default(),
                });
            }
            (Some(g), _) if is_aso_group(g) => {
                let w: AsoWire = node.decode().map_err(fail)?;
                let spec = w.spec.unwrap_or_default();
                c.aso_resources.push(AsoResource {
                    api_version: api_version.clone().unwrap_or_default(),
                    kind: kind.clone(),
                    metadata: w.metadata.into_meta(),
                    owner: spec.owner.map(|o| AsoOwner { name: o.name, arm_id: o.arm_id }),
                    azure_name: spec.azure_name,
                });
            }
            _ => {
                let key = match &api_version {
                    Some(v) => format!("{kind} ({v})"),
                    None => kind.clone(),
                };
                *self.out.skipped.entry(key).or_default() += 1;
            }
        }
        Ok(())
    }
}

/// The deepest nesting of YAML collections read. serde_norway stops at 128 too, but only after libyaml has
/// parsed the whole document, which takes time quadratic in the nesting of flow collections (`[[[…`).
const MAX_YAML_DEPTH: usize = 128;

/// Where (1-based line and column) the collections of `text` first nest deeper than [`MAX_YAML_DEPTH`], or
/// `None`. Reads the events of libyaml, the parser serde_norway runs on, so nesting is counted exactly as it
/// will be parsed, and stops there: linear time. A syntax error ends the scan; the real parse reports it.
fn yaml_too_deep(text: &str) -> Option<(u64, u64)> {
    use std::mem::MaybeUninit;
    use unsafe_libyaml_norway as unsafe_yaml;
    use unsafe_libyaml_norway::yaml_event_type_t as ev;
    // SAFETY: the parser is initialized before use and deleted once; it reads `text`, which outlives it;
    // each event is read only after a successful `yaml_parser_parse` filled it, and deleted once.
    unsafe {
        let mut parser = MaybeUninit::<unsafe_yaml::yaml_parser_t>::uninit();
        if unsafe_yaml::yaml_parser_initialize(parser.as_mut_ptr()).fail {
            return None;
        }
        let parser = parser.as_mut_ptr();
        unsafe_yaml::yaml_parser_set_encoding(parser, unsafe_yaml::yaml_encoding_t::YAML_UTF8_ENCODING);
        unsafe_yaml::yaml_parser_set_input_string(parser, text.as_ptr(), text.len() as u64);
        let mut depth = 0usize;
        let mut found = None;
        loop {
            let mut event = MaybeUninit::<unsafe_yaml::yaml_event_t>::uninit();
            if unsafe_yaml::yaml_parser_parse(parser, event.as_mut_ptr()).fail {
                break;
            }
            let event = event.as_mut_ptr();
            let kind = (*event).type_;
            match kind {
                ev::YAML_SEQUENCE_START_EVENT | ev::YAML_MAPPING_START_EVENT => depth += 1,
                ev::YAML_SEQUENCE_END_EVENT | ev::YAML_MAPPING_END_EVENT => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_YAML_DEPTH {
                let mark = (*event).start_mark;
                found = Some((mark.line + 1, mark.column + 1));
            }
            unsafe_yaml::yaml_event_delete(event);
            if found.is_some() || kind == ev::YAML_STREAM_END_EVENT {
                break;
            }
        }
        unsafe_yaml::yaml_parser_delete(parser);
        found
    }
}

fn or_root(label: &str) -> &str {
    if label.is_empty() {
        "."
    } else {
        label
    }
}

/// The 1-based line where `part` (a slice of `text`) starts.
fn line_of(text: &str, part: &str) -> Option<usize> {
    let offset = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let before = text.get(..offset)?;
    Some(before.bytes().filter(|b| *b == b'\n').count() + 1)
}

// ---------------------------------------------------------------------------------------------------------
// Wire types: what is read of each kind. None has a place for a secret value.
// ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(bound = "")]
struct ObjectWire<A: AnnotationPolicy> {
    metadata: MetaWire<A>,
}

#[derive(Deserialize)]
#[serde(expecting = "object metadata (a map)")]
#[serde(bound = "")]
struct MetaWire<A: AnnotationPolicy> {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: StringMap<A::Labels>,
    #[serde(default)]
    annotations: StringMap<A>,
}

impl<A: AnnotationPolicy> MetaWire<A> {
    fn into_meta(self) -> ObjectMeta {
        ObjectMeta {
            name: self.name,
            namespace: self.namespace,
            labels: self.labels.0,
            annotations: self.annotations.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(rename_all = "camelCase")]
struct RoleWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default, deserialize_with = "null_as_empty")]
    rules: Vec<PolicyRule>,
    #[serde(default)]
    aggregation_rule: Option<AggregationRule>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(rename_all = "camelCase")]
struct BindingWire {
    metadata: MetaWire<KeepAnnotations>,
    role_ref: RoleRef,
    #[serde(default, deserialize_with = "null_as_empty")]
    subjects: Vec<Subject>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct CrdWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    spec: CrdSpec,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a CRD spec (a map)")]
struct CrdSpec {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    names: CrdNames,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a map of names")]
struct CrdNames {
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct AsoWire {
    metadata: MetaWire<AsoAnnotations>,
    #[serde(default)]
    spec: Option<AsoSpec>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a spec (a map)")]
#[serde(rename_all = "camelCase")]
struct AsoSpec {
    #[serde(default)]
    owner: Option<AsoOwnerWire>,
    #[serde(default)]
    azure_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "an owner reference (a map)")]
#[serde(rename_all = "camelCase")]
struct AsoOwnerWire {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arm_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(rename_all = "camelCase")]
struct ServiceAccountWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    automount_service_account_token: Option<bool>,
}

/// A Secret: key names, and values of the non-secret keys only.
#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
#[serde(rename_all = "camelCase")]
struct SecretWire {
    metadata: MetaWire<SecretAnnotations>,
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    secret_type: Option<String>,
    #[serde(default)]
    data: SecretEntries<Base64>,
    #[serde(default)]
    string_data: SecretEntries<Plain>,
}

impl SecretWire {
    fn into_secret(self) -> SecretMeta {
        let mut keys = self.data.keys;
        keys.extend(self.string_data.keys);
        keys.sort();
        keys.dedup();
        let mut values = self.data.values;
        // `stringData` wins over `data`, as the API server merges them.
        values.extend(self.string_data.values);
        SecretMeta { metadata: self.metadata.into_meta(), secret_type: self.secret_type, keys, values }
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct DeploymentWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    spec: Option<DeploymentSpec>,
}

/// A CronJob: its pods' template is `spec.jobTemplate.spec.template`.
#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct CronJobWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    spec: Option<CronJobSpec>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a spec (a map)", rename_all = "camelCase")]
struct CronJobSpec {
    #[serde(default)]
    job_template: Option<JobTemplate>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a job template (a map)")]
struct JobTemplate {
    #[serde(default)]
    spec: Option<DeploymentSpec>,
}

impl CronJobWire {
    fn into_deployment(self) -> Deployment {
        let spec = self.spec.unwrap_or_default().job_template.unwrap_or_default().spec;
        DeploymentWire { metadata: self.metadata, spec }.into_deployment()
    }
}

/// A Pod: its spec is the pod spec; one that has ended (`status.phase` `Succeeded` or `Failed`) runs nothing.
#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct PodWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    spec: Option<PodSpec>,
    #[serde(default)]
    status: Option<PodStatus>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a pod status (a map)")]
struct PodStatus {
    #[serde(default)]
    phase: Option<String>,
}

impl PodWire {
    fn into_deployment(self) -> Deployment {
        let ended = self.status.and_then(|s| s.phase).is_some_and(|p| p == "Succeeded" || p == "Failed");
        let template = PodTemplate { metadata: None, spec: self.spec };
        let spec = DeploymentSpec { replicas: ended.then_some(0), template: Some(template) };
        let mut d = DeploymentWire { metadata: self.metadata, spec: Some(spec) }.into_deployment();
        d.pod_labels = d.metadata.labels.clone();
        d
    }
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a spec (a map)")]
struct DeploymentSpec {
    #[serde(default)]
    replicas: Option<u64>,
    #[serde(default)]
    template: Option<PodTemplate>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a pod template (a map)")]
struct PodTemplate {
    #[serde(default)]
    metadata: Option<TemplateMeta>,
    #[serde(default)]
    spec: Option<PodSpec>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "object metadata (a map)")]
struct TemplateMeta {
    #[serde(default)]
    labels: StringMap<KeepAnnotations>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a pod spec (a map)")]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(default)]
    service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`.
    #[serde(default)]
    service_account: Option<String>,
    #[serde(default)]
    automount_service_account_token: Option<bool>,
    #[serde(default, deserialize_with = "null_as_empty")]
    init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_as_empty")]
    containers: Vec<Container>,
}

#[derive(Deserialize)]
#[serde(expecting = "a container (a map)")]
struct Container {
    #[serde(default)]
    image: Option<String>,
    /// `command` then `args`: only [`NON_SECRET_ARGS`](crate::kube::NON_SECRET_ARGS) flags are kept.
    #[serde(default)]
    command: KeptArgs,
    #[serde(default)]
    args: KeptArgs,
    #[serde(default, deserialize_with = "null_as_empty")]
    env: Vec<EnvWire>,
}

#[derive(Deserialize)]
#[serde(expecting = "an environment variable (a map)")]
#[serde(rename_all = "camelCase")]
struct EnvWire {
    name: String,
    /// Held only until the name is known, then kept for non-secret names or dropped.
    #[serde(default)]
    value: Transient,
    #[serde(default)]
    value_from: Option<ValueFrom>,
}

#[derive(Deserialize)]
#[serde(expecting = "a map")]
#[serde(rename_all = "camelCase")]
struct ValueFrom {
    #[serde(default)]
    secret_key_ref: Option<KeyRef>,
}

#[derive(Deserialize)]
#[serde(expecting = "a key reference (a map)")]
struct KeyRef {
    #[serde(default)]
    name: Option<String>,
    key: String,
}

impl DeploymentWire {
    fn into_deployment(self) -> Deployment {
        let spec = self.spec.unwrap_or_default();
        let template = spec.template.unwrap_or_default();
        let pod = template.spec.unwrap_or_default();
        let mut d = Deployment {
            metadata: self.metadata.into_meta(),
            kind: None,
            replicas: spec.replicas,
            automount_service_account_token: pod.automount_service_account_token,
            args: Vec::new(),
            service_account_name: pod.service_account_name.or(pod.service_account),
            pod_labels: template.metadata.map(|m| m.labels.0).unwrap_or_default(),
            env: Vec::new(),
            images: Vec::new(),
        };
        for c in pod.init_containers.into_iter().chain(pod.containers) {
            d.images.extend(c.image);
            d.args.extend(c.command.0.into_iter().chain(c.args.0));
            for e in c.env {
                let value = if is_non_secret_key(&e.name) { e.value.0 } else { None };
                let secret_key_ref =
                    e.value_from.and_then(|v| v.secret_key_ref).map(|r| (r.name.unwrap_or_default(), r.key));
                d.env.push(EnvVar { name: e.name, value, secret_key_ref });
            }
        }
        d
    }
}

// ---------------------------------------------------------------------------------------------------------
// Sanitizing deserializers
// ---------------------------------------------------------------------------------------------------------

/// What to keep of each entry of a string map (labels, annotations).
trait AnnotationPolicy {
    /// The policy for the same object's labels.
    type Labels: AnnotationPolicy;
    /// Whether to keep the value of `key` (`Some(true)`), its name only (`Some(false)`), or nothing (`None`).
    fn keep(key: &str) -> Option<bool>;
}

/// Everything except `last-applied-configuration`'s value.
struct KeepAnnotations;
impl AnnotationPolicy for KeepAnnotations {
    type Labels = KeepAnnotations;
    fn keep(key: &str) -> Option<bool> {
        Some(key != LAST_APPLIED_ANNOTATION)
    }
}

/// Names only, except the service-account names of token Secrets (Secrets' annotations).
struct SecretAnnotations;
impl AnnotationPolicy for SecretAnnotations {
    type Labels = NamesOnly;
    fn keep(key: &str) -> Option<bool> {
        Some(SECRET_ANNOTATIONS_KEPT.contains(&key))
    }
}

/// Names only (Secrets' labels).
struct NamesOnly;
impl AnnotationPolicy for NamesOnly {
    type Labels = NamesOnly;
    fn keep(_: &str) -> Option<bool> {
        Some(false)
    }
}

/// Only `serviceoperator.azure.com/*` (ASO resources' annotations); labels are kept.
struct AsoAnnotations;
impl AnnotationPolicy for AsoAnnotations {
    type Labels = KeepAnnotations;
    fn keep(key: &str) -> Option<bool> {
        key.starts_with(ASO_ANNOTATION_PREFIX).then_some(true)
    }
}

/// A string map read under policy `P`; values that are not kept are skipped unread.
struct StringMap<P>(BTreeMap<String, String>, PhantomData<P>);

impl<P> Default for StringMap<P> {
    fn default() -> Self {
        StringMap(BTreeMap::new(), PhantomData)
    }
}

/// Rejects a value of the wrong type without quoting it.
macro_rules! refuse_scalars {
    ($what:literal) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(concat!("invalid type: boolean, expected ", $what)))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom(concat!("invalid type: integer, expected ", $what)))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom(concat!("invalid type: integer, expected ", $what)))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom(concat!("invalid type: number, expected ", $what)))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom(concat!("invalid type: string, expected ", $what)))
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Err(E::custom(concat!("invalid type: bytes, expected ", $what)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom(concat!("invalid type: sequence, expected ", $what)))
        }
    };
}

impl<'de, P: AnnotationPolicy> Deserialize<'de> for StringMap<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<P>(PhantomData<P>);
        impl<'de, P: AnnotationPolicy> Visitor<'de> for V<P> {
            type Value = StringMap<P>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringMap::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StringMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    match P::keep(&key) {
                        Some(true) => {
                            let v = map.next_value::<Scalar>()?;
                            out.insert(key, v.0.unwrap_or_default());
                        }
                        Some(false) => {
                            map.next_value::<IgnoredAny>()?;
                            out.insert(key, String::new());
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(StringMap(out, PhantomData))
            }
            refuse_scalars!("a map of strings");
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// How the values of a Secret's map are encoded.
trait Encoding {
    fn decode(s: String) -> Option<String>;
}
/// `data`: base64.
struct Base64;
impl Encoding for Base64 {
    fn decode(s: String) -> Option<String> {
        base64_decode(&s).and_then(|b| String::from_utf8(b).ok())
    }
}
/// `stringData`: plain text.
struct Plain;
impl Encoding for Plain {
    fn decode(s: String) -> Option<String> {
        Some(s)
    }
}

/// The entries of a Secret's `data` or `stringData`: every key name, and the values of non-secret keys (all
/// other values are skipped without being read).
struct SecretEntries<E> {
    keys: Vec<String>,
    values: BTreeMap<String, String>,
    encoding: PhantomData<E>,
}

impl<E> Default for SecretEntries<E> {
    fn default() -> Self {
        SecretEntries { keys: Vec::new(), values: BTreeMap::new(), encoding: PhantomData }
    }
}

impl<'de, En: Encoding> Deserialize<'de> for SecretEntries<En> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<En>(PhantomData<En>);
        impl<'de, En: Encoding> Visitor<'de> for V<En> {
            type Value = SecretEntries<En>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of key names to values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(SecretEntries::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(SecretEntries::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = SecretEntries::default();
                while let Some(key) = map.next_key::<String>()? {
                    if is_non_secret_key(&key) {
                        if let Some(v) = map.next_value::<Scalar>()?.0.and_then(En::decode) {
                            out.values.insert(key.clone(), v);
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    out.keys.push(key);
                }
                Ok(out)
            }
            refuse_scalars!("a map of key names to values");
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A scalar read as text (YAML may give `true` or `42` unquoted); a map or list reads as nothing. Never fails.
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Scalar, D2::Error> {
                Scalar::deserialize(d)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An environment value held until its variable's name is known (JSON fields may come in any order); its
/// `Debug` never shows it.
#[derive(Default)]
struct Transient(Option<String>);

impl fmt::Debug for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Transient(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Transient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Transient(Scalar::deserialize(d)?.0))
    }
}

/// A string, or `None` for anything else (the probe must name an object even when its fields are wrong).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Scalar::deserialize(d)?.0)
}

/// Standard base64 (with or without padding, whitespace ignored); `None` when malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let trimmed = bytes.strip_suffix(b"==").or_else(|| bytes.strip_suffix(b"=")).unwrap_or(&bytes);
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------------------
// aad-pod-identity and container arguments
// ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct AzureIdentityWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    spec: Option<AzureIdentitySpecWire>,
}

impl AzureIdentityWire {
    fn into_identity(self) -> AzureIdentity {
        let spec = self.spec.unwrap_or_default();
        AzureIdentity {
            metadata: self.metadata.into_meta(),
            identity_type: spec.identity_type,
            resource_id: spec.resource_id,
            client_id: spec.client_id,
            tenant_id: spec.tenant_id,
            client_password: spec.client_password,
        }
    }
}

/// `AzureIdentity.spec`. Field names are matched without regard to case, as aad-pod-identity's Go decoder
/// does (old manifests say `ResourceID`, `ClientID`); `clientPassword` keeps only the Secret's name and
/// namespace.
#[derive(Default)]
struct AzureIdentitySpecWire {
    identity_type: u8,
    resource_id: Option<String>,
    client_id: Option<String>,
    tenant_id: Option<String>,
    client_password: Option<SecretReference>,
}

impl<'de> Deserialize<'de> for AzureIdentitySpecWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AzureIdentitySpecWire;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AzureIdentity spec")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AzureIdentitySpecWire::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AzureIdentitySpecWire::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = AzureIdentitySpecWire::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.to_ascii_lowercase().as_str() {
                        "type" => out.identity_type = map.next_value::<IdentityTypeWire>()?.0,
                        "resourceid" => out.resource_id = map.next_value::<Scalar>()?.0,
                        "clientid" => out.client_id = map.next_value::<Scalar>()?.0,
                        "tenantid" => out.tenant_id = map.next_value::<Scalar>()?.0,
                        "clientpassword" => out.client_password = map.next_value::<LenientSecretRef>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            refuse_scalars!("an AzureIdentity spec");
        }
        d.deserialize_any(V)
    }
}

/// `spec.type` of an AzureIdentity: 0, 1 or 2 (absent or null: 0, Go's zero value).
struct IdentityTypeWire(u8);

impl<'de> Deserialize<'de> for IdentityTypeWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Scalar::deserialize(d)?.0.as_deref().map(str::trim) {
            None | Some("0") => Ok(IdentityTypeWire(0)),
            Some("1") => Ok(IdentityTypeWire(1)),
            Some("2") => Ok(IdentityTypeWire(2)),
            Some(_) => Err(de::Error::custom("invalid value, expected 0, 1 or 2")),
        }
    }
}

/// A Secret reference `{name, namespace}`; anything else (a literal password by mistake) is skipped unread.
struct LenientSecretRef(Option<SecretReference>);

impl<'de> Deserialize<'de> for LenientSecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientSecretRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Secret reference")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientSecretRef, A::Error> {
                let mut r = SecretReference::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.to_ascii_lowercase().as_str() {
                        "name" => r.name = map.next_value::<Scalar>()?.0.unwrap_or_default(),
                        "namespace" => r.namespace = map.next_value::<Scalar>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(LenientSecretRef((!r.name.is_empty()).then_some(r)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientSecretRef, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientSecretRef(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientSecretRef, E> {
                Ok(LenientSecretRef(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<LenientSecretRef, D2::Error> {
                LenientSecretRef::deserialize(d)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a Kubernetes object")]
struct AzureIdentityBindingWire {
    metadata: MetaWire<KeepAnnotations>,
    #[serde(default)]
    spec: Option<AzureIdentityBindingSpecWire>,
}

/// `AzureIdentityBinding.spec`, field names matched without regard to case.
#[derive(Default)]
struct AzureIdentityBindingSpecWire {
    azure_identity: Option<String>,
    selector: Option<String>,
}

impl<'de> Deserialize<'de> for AzureIdentityBindingSpecWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AzureIdentityBindingSpecWire;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AzureIdentityBinding spec")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AzureIdentityBindingSpecWire::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AzureIdentityBindingSpecWire::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = AzureIdentityBindingSpecWire::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.to_ascii_lowercase().as_str() {
                        "azureidentity" => out.azure_identity = map.next_value::<Scalar>()?.0,
                        "selector" => out.selector = map.next_value::<Scalar>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            refuse_scalars!("an AzureIdentityBinding spec");
        }
        d.deserialize_any(V)
    }
}

/// Container `command` or `args`: only the [`NON_SECRET_ARGS`](crate::kube::NON_SECRET_ARGS) flags are
/// copied; every other argument is looked at in place and dropped.
#[derive(Default)]
struct KeptArgs(Vec<String>);

impl<'de> Deserialize<'de> for KeptArgs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Arg(Option<String>);
        impl<'de> Deserialize<'de> for Arg {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Arg;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("an argument")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
                        Ok(Arg(is_non_secret_arg(v).then(|| v.to_string())))
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Arg, E> {
                        Ok(Arg(None))
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Arg, E> {
                        Ok(Arg(None))
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Arg, E> {
                        Ok(Arg(None))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Arg, E> {
                        Ok(Arg(None))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Arg, E> {
                        Ok(Arg(None))
                    }
                    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Arg, E> {
                        Ok(Arg(None))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Arg, A::Error> {
                        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok(Arg(None))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arg, A::Error> {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(Arg(None))
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeptArgs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of arguments")
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeptArgs, E> {
                Ok(KeptArgs::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<KeptArgs, E> {
                Ok(KeptArgs::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeptArgs, A::Error> {
                let mut out = Vec::new();
                while let Some(Arg(a)) = seq.next_element::<Arg>()? {
                    out.extend(a);
                }
                Ok(KeptArgs(out))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeptArgs, E> {
                Err(E::custom("invalid type: boolean, expected a list of arguments"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeptArgs, E> {
                Err(E::custom("invalid type: integer, expected a list of arguments"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeptArgs, E> {
                Err(E::custom("invalid type: integer, expected a list of arguments"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeptArgs, E> {
                Err(E::custom("invalid type: number, expected a list of arguments"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<KeptArgs, E> {
                Err(E::custom("invalid type: string, expected a list of arguments"))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<KeptArgs, E> {
                Err(E::custom("invalid type: bytes, expected a list of arguments"))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<KeptArgs, A::Error> {
                Err(de::Error::custom("invalid type: map, expected a list of arguments"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ConnectedCluster, ManagedCluster};

    const PLANTED: &str = "pl4nted-s3cret-VALUE";

    fn b64(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in s.as_bytes().chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// A `kubectl get … -A -o json` List with one object of every kind read, an ASO resource, an unknown kind,
    /// and the planted secret in every place a kubectl dump can carry it.
    fn mixed_list() -> String {
        let last_applied = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "aso-credential", "namespace": "team-a"},
            "stringData": {"AZURE_CLIENT_SECRET": PLANTED}
        })
        .to_string();
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": [
                {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "team-a", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "app", "namespace": "team-a",
                              "annotations": {"azure.workload.identity/client-id": "0000-client"}}},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": "aso-editor", "namespace": "team-a"},
                 "rules": [{"apiGroups": ["resources.azure.com"], "resources": ["resourcegroups"], "verbs": ["*"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": "agg"},
                 "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x/aggregate": "true"}}]},
                 "rules": null},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": "editors", "namespace": "team-a"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aso-editor"},
                 "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "g-1"}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": "system:node"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"}},
                {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                 "metadata": {"name": "aso-credential", "namespace": "team-a",
                              "labels": {"leak": PLANTED},
                              "annotations": {LAST_APPLIED_ANNOTATION: last_applied, "note": PLANTED}},
                 "data": {"AZURE_CLIENT_ID": b64("11111111-0000-0000-0000-000000000001"),
                          "AZURE_CLIENT_SECRET": b64(PLANTED),
                          "password": PLANTED},
                 "stringData": {"AZURE_TENANT_ID": "22222222-0000-0000-0000-000000000002", "token": PLANTED}},
                {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                 "metadata": {"name": "roleassignments.authorization.azure.com"},
                 "spec": {"group": "authorization.azure.com", "names": {"kind": "RoleAssignment", "plural": "roleassignments"}}},
                {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "azureserviceoperator-controller-manager", "namespace": "azureserviceoperator-system",
                              "annotations": {LAST_APPLIED_ANNOTATION: format!("{{\"env\":\"{PLANTED}\"}}")}},
                 "spec": {"template": {
                     "metadata": {"labels": {"azure.workload.identity/use": "true"}},
                     "spec": {"serviceAccountName": "azureserviceoperator-default",
                              "containers": [{"name": "manager", "image": "mcr.microsoft.com/k8s/azureserviceoperator:v2",
                                  "env": [
                                      {"value": PLANTED, "name": "AZURE_CLIENT_SECRET"},
                                      {"name": "AZURE_CLIENT_ID", "value": "33333333-0000-0000-0000-000000000003"},
                                      {"name": "AZURE_TARGET_NAMESPACES", "valueFrom": {"secretKeyRef":
                                          {"name": "aso-controller-settings", "key": "AZURE_TARGET_NAMESPACES", "optional": true}}},
                                      {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
                                  ]}]}}}},
                {"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup",
                 "metadata": {"name": "rg", "namespace": "team-a",
                              "annotations": {"serviceoperator.azure.com/credential-from": "my-secret",
                                              LAST_APPLIED_ANNOTATION: PLANTED, "other": "x"}},
                 "spec": {"location": "westeurope", "azureName": "rg-team-a",
                          "owner": {"armId": "/subscriptions/00000000-0000-0000-0000-000000000000"}}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "team-a"},
                 "data": {"k": "v"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm2", "namespace": "team-a"}}
            ]
        })
        .to_string()
    }

    #[test]
    fn mixed_list_reads_every_kind() {
        let p = parse_counted(&mixed_list(), "dump.json", "aks-1").unwrap();
        let c = &p.cluster;
        assert_eq!((c.cluster.as_str(), c.source.as_str()), ("aks-1", "dump:dump.json"));
        assert_eq!(c.namespaces[0].metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
        assert_eq!(c.service_accounts[0].metadata.annotations["azure.workload.identity/client-id"], "0000-client");
        assert_eq!(c.roles[0].rules[0].verbs, ["*"]);
        assert_eq!(c.cluster_roles[0].metadata.name, "agg");
        assert!(c.cluster_roles[0].rules.is_empty());
        assert_eq!(c.cluster_roles[0].aggregation_rule.as_ref().unwrap().cluster_role_selectors.len(), 1);
        assert_eq!(c.role_bindings[0].subjects[0].name, "g-1");
        assert!(c.cluster_role_bindings[0].subjects.is_empty());
        assert_eq!(c.crds[0].kind, "RoleAssignment");
        assert_eq!(c.crds[0].group, "authorization.azure.com");
        let d = &c.deployments[0];
        assert_eq!(d.service_account_name.as_deref(), Some("azureserviceoperator-default"));
        assert_eq!(d.pod_labels["azure.workload.identity/use"], "true");
        assert_eq!(d.images, ["mcr.microsoft.com/k8s/azureserviceoperator:v2"]);
        assert_eq!(d.env[0].name, "AZURE_CLIENT_SECRET");
        assert_eq!(d.env[0].value, None);
        assert_eq!(d.env[1].value.as_deref(), Some("33333333-0000-0000-0000-000000000003"));
        assert_eq!(
            d.env[2].secret_key_ref,
            Some(("aso-controller-settings".to_string(), "AZURE_TARGET_NAMESPACES".to_string()))
        );
        assert_eq!(d.metadata.annotations[LAST_APPLIED_ANNOTATION], "");
        let a = &c.aso_resources[0];
        assert_eq!((a.kind.as_str(), a.api_version.as_str()), ("ResourceGroup", "resources.azure.com/v1api20200601"));
        assert_eq!(a.azure_name.as_deref(), Some("rg-team-a"));
        assert_eq!(
            a.owner.as_ref().unwrap().arm_id.as_deref(),
            Some("/subscriptions/00000000-0000-0000-0000-000000000000")
        );
        assert_eq!(a.metadata.annotations.len(), 1, "only serviceoperator.azure.com/* annotations");
        assert_eq!(a.metadata.annotations["serviceoperator.azure.com/credential-from"], "my-secret");
        assert_eq!(p.skipped, BTreeMap::from([("ConfigMap (v1)".to_string(), 2)]));
        assert_eq!(p.object_count(), 10);
    }

    #[test]
    fn secrets_keep_key_names_and_non_secret_values_only() {
        let c = parse(&mixed_list(), "dump.json", "aks-1").unwrap();
        let s = &c.secrets[0];
        assert_eq!(s.keys, ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "password", "token"]);
        assert_eq!(s.values.len(), 2);
        assert_eq!(s.values["AZURE_CLIENT_ID"], "11111111-0000-0000-0000-000000000001");
        assert_eq!(s.values["AZURE_TENANT_ID"], "22222222-0000-0000-0000-000000000002");
        assert_eq!(s.secret_type.as_deref(), Some("Opaque"));
        assert_eq!(s.metadata.annotations[LAST_APPLIED_ANNOTATION], "");
        assert_eq!(s.metadata.annotations["note"], "");
        assert_eq!(s.metadata.labels["leak"], "");
        let json = serde_json::to_string(&c).unwrap();
        let debug = format!("{c:?}");
        for text in [&json, &debug] {
            assert!(!text.contains(PLANTED), "planted value leaked");
            assert!(!text.contains(&b64(PLANTED)), "planted value leaked (base64)");
        }
    }

    #[test]
    fn typed_lists_single_objects_and_streams() {
        let typed = r#"{"apiVersion":"v1","kind":"SecretList","items":[{"metadata":{"name":"s","namespace":"n"},"data":{"a":"eA=="}}]}"#;
        let c = parse(typed, "t.json", "c").unwrap();
        assert_eq!(c.secrets[0].keys, ["a"]);
        let one =
            r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"x"},"rules":[]}"#;
        assert_eq!(parse(one, "o.json", "c").unwrap().cluster_roles.len(), 1);
        let stream = format!("{one}\n{typed}\n");
        let c = parse(&stream, "s.json", "c").unwrap();
        assert_eq!((c.cluster_roles.len(), c.secrets.len()), (1, 1));
        let array = format!("[{one}]");
        assert_eq!(parse(&array, "a.json", "c").unwrap().cluster_roles.len(), 1);
        let empty = r#"{"apiVersion":"v1","kind":"List","items":null}"#;
        assert_eq!(object_count(&parse(empty, "e.json", "c").unwrap()), 0);
    }

    #[test]
    fn yaml_multi_document_and_list() {
        let text = format!(
            "# comment\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: aso-credential\n  namespace: team-a\nstringData:\n  AZURE_CLIENT_ID: \"abc\"\n  AZURE_CLIENT_SECRET: \"{PLANTED}\"\n  USE_WORKLOAD_IDENTITY_AUTH: true\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata:\n    name: r\n    namespace: team-a\n  rules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get]\n---\n"
        );
        let c = parse(&text, "d.yaml", "c").unwrap();
        assert_eq!(c.secrets[0].values["AZURE_CLIENT_ID"], "abc");
        assert_eq!(c.secrets[0].values["USE_WORKLOAD_IDENTITY_AUTH"], "true");
        assert_eq!(c.roles[0].rules[0].resources, ["secrets"]);
        assert!(!serde_json::to_string(&c).unwrap().contains(PLANTED));
    }

    #[test]
    fn errors_name_the_item_and_field() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
            {"apiVersion":"v1","kind":"Secret","metadata":{"namespace":"team-a"}}]}"#;
        let err = parse(text, "dump.json", "c").unwrap_err().to_string();
        assert_eq!(err, "dump.json: items[1] (Secret in team-a) at line 3: metadata.name: missing field");
        let text = r#"{"kind":"List","items":[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"n"},"rules":[{"verbs":"get"}]}]}"#;
        let err = parse(text, "dump.json", "c").unwrap_err().to_string();
        assert_eq!(
            err,
            "dump.json: items[0] (Role n/r) at line 1: rules[0].verbs: invalid type: string, expected a sequence"
        );
        let text = r#"{"kind":"List","items":[{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"b"}}]}"#;
        assert!(parse(text, "f", "c")
            .unwrap_err()
            .to_string()
            .ends_with("(RoleBinding b) at line 1: roleRef: missing field"));
        let text = r#"{"kind":"List","items":[{"metadata":{"name":"b"}}]}"#;
        assert_eq!(parse(text, "f", "c").unwrap_err().to_string(), "f: items[0] at line 1: kind: missing field");
    }

    #[test]
    fn errors_never_quote_a_secret_value() {
        let cases = [
            format!(r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"s"}},"data":"{PLANTED}"}}"#),
            format!(r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"s"}},"stringData":["{PLANTED}"]}}"#),
            format!(r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"s","annotations":"{PLANTED}"}}}}"#),
            format!(r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":["{PLANTED}"]}}}}"#),
            format!(
                r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"s"}},"type":7,"data":{{"x":"{PLANTED}"}},}}"#
            ),
            format!(
                r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"d"}},"spec":{{"template":{{"spec":{{"containers":[{{"env":[{{"value":"{PLANTED}"}}]}}]}}}}}}}}"#
            ),
            format!(
                r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"d"}},"spec":{{"template":{{"spec":{{"containers":[{{"env":[{{"name":"X","valueFrom":"{PLANTED}"}}]}}]}}}}}}}}"#
            ),
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata: {PLANTED}\n"),
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: 1\n  a: {PLANTED}\n"),
            format!("kind: Secret\nmetadata: {{name: s\ndata: {PLANTED}\n"),
            format!("{{\"kind\":\"Secret\",\"data\":{{\"x\":\"{PLANTED}\\q\"}}}}"),
        ];
        for text in cases {
            let err = parse(&text, "f", "c").expect_err(&text).to_string();
            assert!(!err.contains(PLANTED), "{err}");
        }
    }

    #[test]
    fn yaml_syntax_errors_keep_their_position() {
        let err = parse("kind: List\nitems: [\n  {a: 1\n", "d.yaml", "c").unwrap_err().to_string();
        assert!(err.starts_with("d.yaml: not valid YAML: ") && err.contains("line"), "{err}");
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        for text in [
            "",
            "  \n",
            "5",
            "\"x\"",
            "[1]",
            "{",
            "[",
            "{\"kind\":\"List\",\"items\":5}",
            "- a\n- b",
            "a: [",
            "\u{feff}",
        ] {
            let r = parse(text, "f", "c");
            assert!(r.is_err(), "{text:?}: {r:?}");
        }
        // Documents that are valid but hold nothing readable are empty, not errors.
        for text in ["---\n", "null", "{\"kind\":\"List\",\"items\":[]}", "# only a comment\n"] {
            assert_eq!(parse(text, "f", "c").map(|c| object_count(&c)), Ok(0), "{text:?}");
        }
    }

    #[test]
    fn merge_sorts_and_drops_repeats() {
        let a = parse(&mixed_list(), "a.json", "c").unwrap();
        let mut m = a.clone();
        merge(&mut m, a.clone());
        assert_eq!(m, a);
    }

    #[test]
    fn cluster_names_resolve_to_ids() {
        let mut azure = AzureData::default();
        let mc = |id: &str, name: &str| ManagedCluster { id: id.into(), name: name.into(), ..Default::default() };
        azure.managed_clusters = vec![
            mc("/subscriptions/s/resourceGroups/a/providers/Microsoft.ContainerService/managedClusters/prod", "prod"),
            mc("/subscriptions/s/resourceGroups/a/providers/Microsoft.ContainerService/managedClusters/dup", "dup"),
            mc("/subscriptions/s/resourceGroups/b/providers/Microsoft.ContainerService/managedClusters/dup", "dup"),
        ];
        azure.connected_clusters = vec![ConnectedCluster {
            id: "/subscriptions/s/resourceGroups/a/providers/Microsoft.Kubernetes/connectedClusters/edge".into(),
            ..Default::default()
        }];
        let prod = "/subscriptions/s/resourceGroups/a/providers/Microsoft.ContainerService/managedClusters/prod";
        assert_eq!(resolve_cluster("PROD", &azure), ClusterMatch::Found(prod.into()));
        assert_eq!(resolve_cluster(&prod.to_ascii_lowercase(), &azure), ClusterMatch::Found(prod.into()));
        assert!(matches!(resolve_cluster("edge", &azure), ClusterMatch::Found(id) if id.ends_with("/edge")));
        assert!(matches!(resolve_cluster("dup", &azure), ClusterMatch::Ambiguous(ids) if ids.len() == 2));
        assert_eq!(resolve_cluster("nope", &azure), ClusterMatch::Unknown);
        assert_eq!(resolve_cluster("/subscriptions/x/nope", &azure), ClusterMatch::Unknown);
    }

    #[test]
    fn attach_names_clusters_by_id_and_records_gaps() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-prod";
        let mut snap = Snapshot::new(crate::snapshot::Metadata::default());
        snap.azure.managed_clusters.push(ManagedCluster {
            id: id.into(),
            name: "aks-prod".into(),
            ..Default::default()
        });
        let list = r#"{"kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}"#;
        let known = parse(list, "a.json", "AKS-PROD").unwrap();
        let unknown = parse(list, "b.json", "aks-elsewhere").unwrap();
        attach(&mut snap, vec![known.clone(), unknown, known]);
        let names: Vec<&str> = snap.kubernetes.iter().map(|c| c.cluster.as_str()).collect();
        assert_eq!(names, [id, "aks-elsewhere"]);
        assert_eq!(snap.kubernetes[0].namespaces.len(), 1, "the same dump twice is merged, not doubled");
        assert_eq!(snap.coverage.len(), 1);
        assert_eq!((snap.coverage[0].api.as_str(), snap.coverage[0].scope.as_str()), (DUMP_API, "aks-elsewhere"));
        assert_eq!(snap.sources.iter().filter(|s| s.api == DUMP_API).count(), 2);
    }

    #[test]
    fn token_secrets_keep_their_service_account_and_nothing_else() {
        let text = serde_json::json!({"kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
             "metadata": {"name": "deployer-token", "namespace": "ci",
                          "labels": {"leak": PLANTED},
                          "annotations": {"kubernetes.io/service-account.name": "deployer",
                                          "kubernetes.io/service-account.uid": "7d1f0c2e-0000-4000-8000-000000000001",
                                          LAST_APPLIED_ANNOTATION: PLANTED, "note": PLANTED}},
             "data": {"token": b64(PLANTED), "ca.crt": b64(PLANTED), "namespace": b64("ci")}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": false,
             "metadata": {"name": "deployer", "namespace": "ci"}}
        ]})
        .to_string();
        let c = parse(&text, "t.json", "c").unwrap();
        let a = &c.secrets[0].metadata.annotations;
        assert_eq!(a["kubernetes.io/service-account.name"], "deployer");
        assert_eq!(a["kubernetes.io/service-account.uid"], "7d1f0c2e-0000-4000-8000-000000000001");
        assert_eq!((a[LAST_APPLIED_ANNOTATION].as_str(), a["note"].as_str()), ("", ""));
        assert_eq!(c.secrets[0].metadata.labels["leak"], "");
        assert_eq!(c.secrets[0].keys, ["ca.crt", "namespace", "token"]);
        assert_eq!(c.service_accounts[0].automount_service_account_token, Some(false));
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains(PLANTED) && !json.contains(&b64(PLANTED)) && !format!("{c:?}").contains(PLANTED));
    }

    #[test]
    fn aad_pod_identity_objects_and_daemonset_flags() {
        let text = serde_json::json!({"kind": "List", "items": [
            {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
             "metadata": {"name": "sp", "namespace": "team-a",
                          "annotations": {"aadpodidentity.k8s.io/Behavior": "namespaced"}},
             "spec": {"type": 1, "clientID": "c1", "tenantID": "t1",
                      "clientPassword": {"name": "sp-secret", "namespace": "team-a"}}},
            // Old manifests spell fields in Go style; a literal password where a reference belongs is dropped.
            {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
             "metadata": {"name": "mi", "namespace": "team-b"},
             "spec": {"Type": 0, "ResourceID": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi",
                      "ClientID": "c2", "ClientPassword": PLANTED}},
            {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
             "metadata": {"name": "mi-binding", "namespace": "team-b"},
             "spec": {"AzureIdentity": "mi", "Selector": "mi-pods", "weight": 1}},
            {"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureAssignedIdentity",
             "metadata": {"name": "x", "namespace": "default"}},
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "nmi", "namespace": "kube-system"},
             "spec": {"template": {"spec": {"serviceAccountName": "aad-pod-id-nmi-service-account",
                 "containers": [{"name": "nmi", "image": "mcr.microsoft.com/oss/azure/aad-pod-identity/nmi:v1.8.17",
                     "command": ["/bin/nmi", format!("--password={PLANTED}")],
                     "args": ["--node=$(NODE_NAME)", "--forceNamespaced", "--operation-mode=standard", PLANTED]}]}}}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "idle", "namespace": "team-b"},
             "spec": {"replicas": 0, "template": {"spec": {"automountServiceAccountToken": false, "containers": []}}}}
        ]})
        .to_string();
        let p = parse_counted(&text, "t.json", "c").unwrap();
        let c = &p.cluster;
        let sp = &c.azure_identities[0];
        assert_eq!((sp.metadata.name.as_str(), sp.identity_type), ("sp", 1));
        assert_eq!(sp.client_id.as_deref(), Some("c1"));
        assert_eq!(
            sp.client_password,
            Some(SecretReference { name: "sp-secret".into(), namespace: Some("team-a".into()) })
        );
        assert_eq!(sp.metadata.annotations["aadpodidentity.k8s.io/Behavior"], "namespaced");
        let mi = &c.azure_identities[1];
        assert_eq!(mi.identity_type, 0);
        assert!(mi.resource_id.as_deref().unwrap().ends_with("/userAssignedIdentities/mi"));
        assert_eq!(mi.client_password, None);
        let b = &c.azure_identity_bindings[0];
        assert_eq!((b.azure_identity.as_str(), b.selector.as_str()), ("mi", "mi-pods"));
        let nmi = &c.daemon_sets[0];
        assert_eq!(nmi.args, ["--forceNamespaced", "--operation-mode=standard"]);
        assert_eq!(nmi.service_account_name.as_deref(), Some("aad-pod-id-nmi-service-account"));
        let idle = &c.deployments[0];
        assert_eq!((idle.replicas, idle.automount_service_account_token), (Some(0), Some(false)));
        assert_eq!(p.skipped, BTreeMap::from([("AzureAssignedIdentity (aadpodidentity.k8s.io/v1)".to_string(), 1)]));
        let json = serde_json::to_string(c).unwrap();
        assert!(!json.contains(PLANTED) && !format!("{c:?}").contains(PLANTED));
        assert!(reads_custom_group("aadpodidentity.k8s.io") && reads_custom_group("resources.azure.com"));
        assert!(!reads_custom_group("cert-manager.io"));
    }

    #[test]
    fn workloads_that_run_pods_keep_who_they_run_as_and_no_environment_value() {
        let template = |sa: &str| {
            serde_json::json!({"spec": {"serviceAccountName": sa,
                "containers": [{"image": "app:1", "env": [{"name": "PASSWORD", "value": PLANTED}]}]}})
        };
        let text = serde_json::json!({"kind": "List", "items": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "a"},
             "spec": {"replicas": 2, "template": template("db")}},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "a"},
             "spec": {"replicas": 0, "template": template("web")}},
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "a"},
             "spec": {"template": template("job")}},
            {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "a"},
             "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": template("cron")}}}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a", "labels": {"app": "p"}},
             "spec": {"serviceAccountName": "runner", "automountServiceAccountToken": false,
                      "containers": [{"env": [{"name": "TOKEN", "value": PLANTED}]}]},
             "status": {"phase": "Running"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "done", "namespace": "a"},
             "spec": {"serviceAccountName": "runner"}, "status": {"phase": "Succeeded"}}
        ]})
        .to_string();
        let p = parse_counted(&text, "t.json", "c").unwrap();
        let got: Vec<(&str, &str, Option<&str>, Option<u64>)> = p
            .cluster
            .workloads
            .iter()
            .map(|w| {
                (w.kind.as_deref().unwrap(), w.metadata.name.as_str(), w.service_account_name.as_deref(), w.replicas)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("CronJob", "nightly", Some("cron"), None),
                ("Job", "once", Some("job"), None),
                ("Pod", "done", Some("runner"), Some(0)),
                ("Pod", "p", Some("runner"), None),
                ("ReplicaSet", "web-1", Some("web"), Some(0)),
                ("StatefulSet", "db", Some("db"), Some(2)),
            ]
        );
        let pod = p.cluster.workloads.iter().find(|w| w.metadata.name == "p").unwrap();
        assert_eq!((pod.automount_service_account_token, pod.pod_labels["app"].as_str()), (Some(false), "p"));
        assert_eq!(p.cluster.workloads[0].env[0].value, None, "environment values are dropped");
        let json = serde_json::to_string(&p.cluster).unwrap();
        assert!(!json.contains(PLANTED) && !format!("{:?}", p.cluster).contains(PLANTED));
    }

    #[test]
    fn bad_aad_pod_identity_fields_name_the_field_without_the_value() {
        let bad_type = r#"{"apiVersion":"aadpodidentity.k8s.io/v1","kind":"AzureIdentity","metadata":{"name":"i","namespace":"n"},"spec":{"type":"pl4nted"}}"#;
        let err = parse(bad_type, "d.json", "c").unwrap_err().to_string();
        assert_eq!(err, "d.json: object (AzureIdentity n/i) at line 1: spec.type: invalid value, expected 0, 1 or 2");
        let bad_spec = r#"{"apiVersion":"aadpodidentity.k8s.io/v1","kind":"AzureIdentityBinding","metadata":{"name":"b","namespace":"n"},"spec":"pl4nted"}"#;
        let err = parse(bad_spec, "d.json", "c").unwrap_err().to_string();
        assert!(err.ends_with("spec: invalid type: string, expected an AzureIdentityBinding spec"), "{err}");
        let bad_args = r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"args":"pl4nted"}]}}}}"#;
        let err = parse(bad_args, "d.json", "c").unwrap_err().to_string();
        assert!(err.contains("spec.template.spec.containers[0].args: invalid type: string"), "{err}");
        for e in [bad_type, bad_spec, bad_args] {
            assert!(!parse(e, "d.json", "c").unwrap_err().to_string().contains("pl4nted"));
        }
    }

    #[test]
    fn base64_decodes_padded_and_unpadded() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode(&b64("11111111-0000")).unwrap(), b"11111111-0000");
        assert!(base64_decode("a").is_none() && base64_decode("a$==").is_none());
    }
}
