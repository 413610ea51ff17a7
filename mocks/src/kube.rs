//! Kubernetes dumps of mock tenants: `kube/<cluster>.json`, each the output of
//! `kubectl get namespaces,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,secrets,customresourcedefinitions,deployments,daemonsets,statefulsets,replicasets,jobs,cronjobs,pods -A -o json`
//! for the tenant's AKS (or Arc) cluster named `<cluster>` in `arm/managedClusters.json`
//! (`arm/connectedClusters.json`).
//!
//! A dump is parsed (and sanitized) by [`azpath_graph::kube_dump`] when the tenant is loaded, so a malformed
//! one fails at load time naming the file, the object and the field. [`MockTenant::to_snapshot`] and
//! `azpath scan --mock` add the same sanitized clusters to the snapshot, as `--kube-dump <cluster>=<file>`
//! would. The raw text is kept for serving (a mock Kubernetes API); it may hold Secret values, as real dumps
//! do, so [`KubeDump`]'s `Debug` never shows it.

use std::fmt;
use std::path::Path;

use azpath_graph::kube::KubeCluster;
use azpath_graph::kube_dump::{self, KubeDumpError};
use azpath_graph::snapshot::Snapshot;

use crate::tenant::{MockTenant, TenantError};

/// The folder of a tenant that holds its Kubernetes dumps.
pub const KUBE_DIR: &str = "kube";

/// One `kube/<cluster>.json` of a tenant.
#[derive(Clone, PartialEq)]
pub struct KubeDump {
    /// The cluster's name: the file name without `.json`.
    pub cluster: String,
    /// The file, relative to the tenant folder (`kube/aks-prod.json`).
    pub file: String,
    /// The file's text as kubectl printed it (Secret values included: never print it).
    pub text: String,
    /// The objects as a snapshot holds them: sanitized, the cluster named by [`KubeDump::cluster`].
    pub objects: KubeCluster,
}

impl fmt::Debug for KubeDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeDump")
            .field("cluster", &self.cluster)
            .field("file", &self.file)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("objects", &kube_dump::object_count(&self.objects))
            .finish()
    }
}

impl KubeDump {
    /// Parses the dump of cluster `cluster` read from `file` (relative to the tenant folder).
    pub fn parse(cluster: &str, file: &str, text: String) -> Result<KubeDump, TenantError> {
        let objects = kube_dump::parse(&text, file, cluster).map_err(|e| invalid(file, e))?;
        Ok(KubeDump { cluster: cluster.to_string(), file: file.to_string(), text, objects })
    }
}

fn invalid(file: &str, e: KubeDumpError) -> TenantError {
    let (field, message) = match e {
        KubeDumpError::Syntax { format, message, .. } => (".".to_string(), format!("not valid {format}: {message}")),
        KubeDumpError::Shape { location, message, .. } => (location, message),
        KubeDumpError::Item { item, field, message, .. } => (format!("{item}: {field}"), message),
    };
    TenantError::Invalid { file: file.to_string(), field, message }
}

/// Reads the dumps of a tenant: `names` are the file names in [`KUBE_DIR`], `read` reads a file by its path
/// relative to the tenant folder. Files not ending in `.json` are ignored.
pub(crate) fn load(
    names: Vec<String>,
    read: impl Fn(&str) -> Result<Option<String>, TenantError>,
) -> Result<Vec<KubeDump>, TenantError> {
    let mut dumps = Vec::new();
    for name in names {
        let Some(cluster) = name.strip_suffix(".json") else { continue };
        let file = format!("{KUBE_DIR}/{name}");
        if let Some(text) = read(&file)? {
            dumps.push(KubeDump::parse(cluster, &file, text)?);
        }
    }
    dumps.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    Ok(dumps)
}

/// The tenant's clusters, sanitized, named as their files name them: what `azpath scan --mock` passes along
/// like `--kube-dump <cluster>=<file>` arguments.
pub fn clusters(tenant: &MockTenant) -> Vec<KubeCluster> {
    tenant.kube.iter().map(|d| d.objects.clone()).collect()
}

/// Adds the tenant's clusters to `snapshot` (whose Azure side is filled), each named by the resource id of
/// the tenant's AKS or Arc cluster of its file's name, as a collection with `--kube-dump` would.
pub(crate) fn attach(tenant: &MockTenant, snapshot: &mut Snapshot) {
    if !tenant.kube.is_empty() {
        kube_dump::attach(snapshot, clusters(tenant));
    }
}

/// Writes the dumps back, as they were read, into `dir/kube/`.
pub(crate) fn write(dumps: &[KubeDump], dir: &Path) -> Result<(), TenantError> {
    if dumps.is_empty() {
        return Ok(());
    }
    let folder = dir.join(KUBE_DIR);
    let err = |path: &Path| {
        let path = path.display().to_string();
        move |source| TenantError::Io { path, source }
    };
    std::fs::create_dir_all(&folder).map_err(err(&folder))?;
    for d in dumps {
        let path = folder.join(format!("{}.json", d.cluster));
        std::fs::write(&path, &d.text).map_err(err(&path))?;
    }
    Ok(())
}

/// Standard base64, as `kubectl` prints Secret `data` (for writing dumps in tests and generated tenants).
pub fn base64(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(s.len().div_ceil(3) * 4);
    for chunk in s.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            let sextet = (n >> (18 - 6 * i)) & 63;
            out.push(if i <= chunk.len() { ALPHABET[sextet as usize] as char } else { '=' });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_kubectl() {
        assert_eq!(base64("true"), "dHJ1ZQ==");
        assert_eq!(base64("team-a,team-c"), "dGVhbS1hLHRlYW0tYw==");
        assert_eq!(base64("1h"), "MWg=");
    }

    const SECRET_DUMP: &str = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"aso-credential","namespace":"team-a"},
         "stringData":{"AZURE_CLIENT_ID":"c","AZURE_CLIENT_SECRET":"mock-planted-secret"}}]}"#;

    #[test]
    fn debug_never_shows_the_text() {
        let d = KubeDump::parse("aks", "kube/aks.json", SECRET_DUMP.to_string()).unwrap();
        let debug = format!("{d:?}");
        assert!(!debug.contains("mock-planted-secret"), "{debug}");
        assert!(!format!("{:?}", d.objects).contains("mock-planted-secret"));
        assert_eq!(d.objects.secrets[0].values["AZURE_CLIENT_ID"], "c");
    }

    #[test]
    fn malformed_dump_names_file_and_item() {
        let text = r#"{"kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{}}]}"#;
        let err = KubeDump::parse("aks", "kube/aks.json", text.to_string()).unwrap_err().to_string();
        assert!(err.starts_with("kube/aks.json: invalid at `items[0] (Secret without a name)"), "{err}");
        assert!(err.contains("metadata.name"), "{err}");
    }

    #[test]
    fn load_reads_json_files_only() {
        let names = vec!["aks.json".to_string(), "notes.txt".to_string()];
        let dumps = load(names, |rel| Ok((rel == "kube/aks.json").then(|| SECRET_DUMP.to_string()))).unwrap();
        assert_eq!(dumps.len(), 1);
        assert_eq!((dumps[0].cluster.as_str(), dumps[0].objects.source.as_str()), ("aks", "dump:kube/aks.json"));
    }
}
