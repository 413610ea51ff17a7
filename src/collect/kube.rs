//! Kubernetes collection. Offline for now: `--kube-dump CLUSTER=FILE` reads the output of
//!
//! ```text
//! kubectl get namespaces,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,secrets,customresourcedefinitions,deployments,daemonsets,statefulsets,replicasets,jobs,cronjobs,pods -A -o json > FILE
//! ```
//!
//! (or `-o yaml`, or a directory of such files, merged) with [`azpath_graph::kube_dump`], which sanitizes
//! Secrets as it reads them. Every source (a dump now, a kubeconfig context later) yields a [`KubeCluster`];
//! [`attach`] then names each one by the AKS or Arc cluster it belongs to and adds it to the snapshot.
//!
//! Nothing here logs an object's content: only file names, cluster names and counts.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use azpath_graph::kube::KubeCluster;
pub use azpath_graph::kube_dump::DUMP_API;
use azpath_graph::kube_dump::{self, KubeDumpError};
use azpath_graph::snapshot::{CoverageGap, Snapshot};

/// File extensions read from a `--kube-dump` directory.
pub const DUMP_EXTENSIONS: &[&str] = &["json", "yaml", "yml"];

/// One `--kube-dump CLUSTER=FILE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeDumpSpec {
    /// The cluster: its AKS/Arc ARM resource id, or its name.
    pub cluster: String,
    /// A dump file, or a directory of dump files.
    pub path: PathBuf,
}

impl FromStr for KubeDumpSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((cluster, path)) if !cluster.trim().is_empty() && !path.is_empty() => {
                Ok(KubeDumpSpec { cluster: cluster.trim().to_string(), path: PathBuf::from(path) })
            }
            _ => Err(format!(
                "`{s}`: expected CLUSTER=FILE, e.g. `aks-prod=dump.json` or `/subscriptions/…/managedClusters/aks-prod=dumps/`"
            )),
        }
    }
}

/// Why a Kubernetes dump could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The file or directory could not be read.
    #[error("--kube-dump: reading {path}")]
    Io {
        /// The path.
        path: String,
        /// The IO failure.
        #[source]
        source: std::io::Error,
    },
    /// A dump file is too large, or not UTF-8 text.
    #[error("--kube-dump")]
    Input(#[from] crate::input::InputError),
    /// A directory holds no dump file.
    #[error("--kube-dump {path}: no .json, .yaml or .yml file in this directory")]
    EmptyDirectory {
        /// The directory.
        path: String,
    },
    /// A dump is malformed (the message names the file, the object and the field).
    #[error("--kube-dump")]
    Dump(#[from] KubeDumpError),
}

/// Reads one `--kube-dump`: a file, or every `.json`/`.yaml`/`.yml` file directly in a directory (in name
/// order, merged into one cluster). The cluster is named as given; [`attach`] matches it to Azure.
pub fn read_dump(spec: &KubeDumpSpec) -> Result<KubeCluster, KubeError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| KubeError::Io { path, source }
    };
    let files = if spec.path.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&spec.path).map_err(io(&spec.path))? {
            let path = entry.map_err(io(&spec.path))?.path();
            let wanted = path.extension().and_then(|e| e.to_str()).is_some_and(|e| DUMP_EXTENSIONS.contains(&e));
            if wanted && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(KubeError::EmptyDirectory { path: spec.path.display().to_string() });
        }
        files.sort();
        files
    } else {
        vec![spec.path.clone()]
    };
    let mut texts = Vec::with_capacity(files.len());
    for file in &files {
        texts.push((file.display().to_string(), crate::input::read_text(file)?));
    }
    read_texts(&spec.cluster, &spec.path.display().to_string(), &texts)
}

/// Parses dump texts `(source name, text)` of one cluster and merges them; `origin` names them together in
/// the cluster's `source` (`dump:<origin>`).
pub fn read_texts(cluster: &str, origin: &str, texts: &[(String, String)]) -> Result<KubeCluster, KubeError> {
    let mut merged =
        KubeCluster { cluster: cluster.to_string(), source: format!("dump:{origin}"), ..Default::default() };
    for (name, text) in texts {
        let parsed = kube_dump::parse_counted(text, name, cluster)?;
        tracing::debug!(file = %name, cluster, objects = parsed.object_count(), "read Kubernetes dump");
        if !parsed.skipped.is_empty() {
            let kinds: Vec<String> = parsed.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
            tracing::info!(file = %name, "skipped objects of kinds azpath does not read: {}", kinds.join(", "));
        }
        kube_dump::merge(&mut merged, parsed.cluster);
    }
    Ok(merged)
}

/// Reads every `--kube-dump`, failing on the first malformed one.
pub fn read_dumps(specs: &[KubeDumpSpec]) -> Result<Vec<KubeCluster>, KubeError> {
    specs.iter().map(read_dump).collect()
}

/// Adds the clusters to a snapshot whose Azure side is collected ([`kube_dump::attach`]: names become
/// resource ids, an unknown or ambiguous name is a coverage gap), logging each gap as a warning.
pub fn attach(snap: &mut Snapshot, clusters: Vec<KubeCluster>) {
    if clusters.is_empty() {
        return;
    }
    let before: Vec<CoverageGap> = snap.coverage.iter().filter(|g| g.api == DUMP_API).cloned().collect();
    kube_dump::attach(snap, clusters);
    for g in snap.coverage.iter().filter(|g| g.api == DUMP_API && !before.contains(g)) {
        tracing::warn!("{}", g.message);
    }
    tracing::info!(clusters = snap.kubernetes.len(), "Kubernetes objects attached");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_cluster_equals_path() {
        let s: KubeDumpSpec = "aks-prod=dumps/a=b.json".parse().unwrap();
        assert_eq!((s.cluster.as_str(), s.path.as_path()), ("aks-prod", Path::new("dumps/a=b.json")));
        for bad in ["aks-prod", "=f.json", "aks="] {
            assert!(bad.parse::<KubeDumpSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn several_texts_merge_into_one_cluster() {
        let ns = |n: &str| format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{n}"}}}}"#);
        let texts = [("a.json".to_string(), ns("a")), ("b.json".to_string(), ns("b"))];
        let c = read_texts("aks", "dir", &texts).unwrap();
        assert_eq!((c.cluster.as_str(), c.source.as_str(), c.namespaces.len()), ("aks", "dump:dir", 2));
        let bad = [("a.json".to_string(), ns("a")), ("b.json".to_string(), "{".to_string())];
        match read_texts("aks", "dir", &bad) {
            Err(KubeError::Dump(e)) => assert!(e.to_string().starts_with("b.json: not valid JSON"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
