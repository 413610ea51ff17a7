//! Shared by the graph crate's tests: every analysis a test runs is also a check that the grouped findings
//! imply exactly the pairs of the per-pair search (none lost, none invented, same flags), and that those are the
//! pairs of the exhaustive walk (`tests/reference`).

use std::collections::BTreeMap;

use azpath_graph::engine::{analyze, run_query, sort_pairs, AnalyzeOptions};
use azpath_graph::findings::{ImpliedPair, Pair, Report};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::query::Query;
use azpath_graph::snapshot::Snapshot;

/// The exhaustive walk the root crate's tests keep as the reference (every walk up to the hop limit).
#[path = "../../../tests/reference/mod.rs"]
#[allow(dead_code)] // each test binary uses what it needs
mod walks;

#[allow(dead_code)] // each test binary uses what it needs
/// Analyzes with `--expand`, asserts the findings imply exactly the pairs of the per-pair reference search (and
/// that `--expand` lists them, with their flags), and returns the report.
pub fn analyze_checked(s: &Snapshot, queries: &[Query], options: AnalyzeOptions) -> Report {
    check(s, queries, options).0
}

/// [`analyze_checked`], also giving the reference search's pairs, sorted as the report sorts its own.
fn check(s: &Snapshot, queries: &[Query], options: AnalyzeOptions) -> (Report, Vec<Pair>) {
    let report = analyze(s, queries, AnalyzeOptions { expand: true, ..options });
    let graph = PrivilegeGraph::build(s);
    let mut searched: Vec<Pair> = queries.iter().flat_map(|q| run_query(&graph, q, options)).collect();
    sort_pairs(&mut searched);
    let reference: BTreeMap<ImpliedPair, (bool, bool)> = searched
        .iter()
        .map(|p| {
            let key =
                ImpliedPair { query_id: p.query_id.clone(), source: p.source.id.clone(), target: p.target.id.clone() };
            (key, (p.eligible, p.conditional))
        })
        .collect();
    // The per-pair search against the exhaustive walk, which shares no search code with it.
    for q in queries {
        let walked: BTreeMap<(String, String), (bool, bool)> = walks::pairs(&graph, q, options.include_eligible)
            .into_iter()
            .map(|((s, t), flags)| ((graph.node_ref(s).id, graph.node_ref(t).id), flags))
            .collect();
        let searched: BTreeMap<(String, String), (bool, bool)> = reference
            .iter()
            .filter(|(k, _)| k.query_id == q.id)
            .map(|(k, v)| ((k.source.clone(), k.target.clone()), *v))
            .collect();
        assert_eq!(searched, walked, "{}: the per-pair search (left) differs from every walk (right)", q.id);
    }
    let grouped = report.implied_pairs();
    let lost: Vec<_> = reference.iter().filter(|(k, v)| grouped.get(*k) != Some(*v)).collect();
    let invented: Vec<_> = grouped.iter().filter(|(k, _)| !reference.contains_key(*k)).collect();
    if !(lost.is_empty() && invented.is_empty()) {
        // Name the findings behind each invented pair, hop by hop, to show where the grouping went wrong.
        let mut why = Vec::new();
        report.for_each_implied(&mut |f, p| {
            if invented.iter().any(|(k, _)| **k == p) {
                let hops: Vec<String> = f.hops.iter().map(|h| format!("{:?}→{}", h.edge, h.to.display_name)).collect();
                why.push(format!("{} via {} [{}]", p.source, f.principal.display_name, hops.join(", ")));
            }
        });
        panic!("grouped findings differ from the pairs: lost or other flags {lost:#?}\ninvented {invented:#?}\nby {why:#?}");
    }
    assert!(report.listed_pairs() == reference, "--expand lists other pairs than the per-pair search finds");
    // Each tier's pair count and exposure (counted from the cores' member lists, not from pairs) are the
    // reference's: its pairs, and its principals of exposed kinds.
    for tier in &report.tiers {
        let pairs: Vec<&Pair> = searched.iter().filter(|p| p.query_id == tier.query_id).collect();
        let mut exposed: Vec<&str> =
            pairs.iter().filter(|p| p.source.kind.is_exposed()).map(|p| p.source.id.as_str()).collect();
        exposed.sort_unstable();
        exposed.dedup();
        assert_eq!(tier.pairs, pairs.len(), "{}: the tier's pair count", tier.query_id);
        assert_eq!(tier.exposure.principals, exposed.len(), "{}: the tier's exposed principals", tier.query_id);
    }
    (report, searched)
}

/// The pairs of the per-pair reference search, each with its path (checked against the grouped findings).
#[allow(dead_code)] // each test binary uses what it needs
pub fn pairs(s: &Snapshot, queries: &[Query], options: AnalyzeOptions) -> Vec<Pair> {
    check(s, queries, options).1
}

#[allow(dead_code)] // each test binary uses what it needs
/// The bundled queries (`queries/*.toml`).
pub fn queries() -> Vec<Query> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml")
                .then(|| Query::parse(&std::fs::read_to_string(&p).unwrap(), &p.display().to_string()).unwrap())
        })
        .collect()
}
