//! The built-in queries (compiled in from `queries/`) and users' own query directories.

use std::path::Path;

use anyhow::{bail, Context, Result};
use azpath_graph::query::Query;

/// Built-in query files: (id, text). Every file in `queries/` must be listed here (a test checks it).
pub const BUILTIN: &[(&str, &str)] = &[
    ("owner-equivalent-on-subscription", include_str!("../queries/owner-equivalent-on-subscription.toml")),
    ("owner-equivalent-on-management-group", include_str!("../queries/owner-equivalent-on-management-group.toml")),
    (
        "contributor-or-stronger-on-subscription",
        include_str!("../queries/contributor-or-stronger-on-subscription.toml"),
    ),
    (
        "contributor-or-stronger-on-management-group",
        include_str!("../queries/contributor-or-stronger-on-management-group.toml"),
    ),
    ("can-assign-roles", include_str!("../queries/can-assign-roles.toml")),
    ("kubernetes-to-subscription-contributor", include_str!("../queries/kubernetes-to-subscription-contributor.toml")),
    ("cluster-admin-from-azure", include_str!("../queries/cluster-admin-from-azure.toml")),
    ("can-act-as-managed-identity", include_str!("../queries/can-act-as-managed-identity.toml")),
    ("aso-identity-broader-than-namespace", include_str!("../queries/aso-identity-broader-than-namespace.toml")),
    ("aso-credential-forging", include_str!("../queries/aso-credential-forging.toml")),
    ("entra-tier-zero", include_str!("../queries/entra-tier-zero.toml")),
];

/// The built-in queries, parsed.
pub fn builtin() -> Vec<Query> {
    BUILTIN
        .iter()
        .map(|(id, text)| {
            Query::parse(text, &format!("queries/{id}.toml")).expect("built-in queries are valid (tested)")
        })
        .collect()
}

/// Built-in queries plus every `*.toml` in `extra_dir`, restricted to `only` when it is not empty.
pub fn load(extra_dir: Option<&Path>, only: &[String]) -> Result<Vec<Query>> {
    let mut queries = builtin();
    if let Some(dir) = extra_dir {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading query directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path.display().to_string();
            let text = crate::input::read_text(&path)?;
            let q = Query::parse(&text, &name)?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if q.id != stem {
                bail!("{name}: field `id`: `{}` must equal the file name stem `{stem}`", q.id);
            }
            if queries.iter().any(|x| x.id == q.id) {
                bail!("{name}: field `id`: `{}` is already defined (ids are unique)", q.id);
            }
            queries.push(q);
        }
    }
    if !only.is_empty() {
        for id in only {
            if !queries.iter().any(|q| &q.id == id) {
                bail!("unknown query `{id}` (see `azpath queries list`)");
            }
        }
        queries.retain(|q| only.contains(&q.id));
    }
    Ok(queries)
}
