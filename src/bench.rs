//! `azpath bench`: times each phase on a generated tenant.

use anyhow::Result;
use azpath_graph::engine::{self, AnalyzeOptions};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::posture;

use crate::queries;

/// Times each phase on a generated tenant: a benchmark, never a test assertion.
pub fn run(size: usize, seed: u64) -> Result<u8> {
    use std::time::Instant;
    let t = Instant::now();
    let tenant = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(size, seed));
    let snap = tenant.to_snapshot();
    let generate = t.elapsed();
    let t = Instant::now();
    let graph = PrivilegeGraph::build(&snap);
    let build = t.elapsed();
    println!(
        "tenant: {} role assignments, {} users, {} groups; graph: {} nodes, {} edges",
        snap.azure.role_assignments.len(),
        snap.entra.users.len(),
        snap.entra.groups.len(),
        graph.node_count(),
        graph.edge_count()
    );
    let kinds: Vec<String> =
        graph.edge_counts().into_iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{k} {n}")).collect();
    println!("edges by kind: {}", kinds.join(", "));
    println!("{:<46} {:>10}", "generate + snapshot", format!("{generate:.2?}"));
    println!("{:<46} {:>10}", "build graph", format!("{build:.2?}"));
    let mut total = build;
    for q in queries::builtin() {
        let t = Instant::now();
        let mut n = 0usize;
        engine::for_each_pair(&graph, &q, AnalyzeOptions::default(), &mut |_| n += 1);
        let d = t.elapsed();
        total += d;
        println!("{:<46} {:>10}  {n} findings", q.id, format!("{d:.2?}"));
    }
    println!("{:<46} {:>10}", "build + all queries", format!("{total:.2?}"));
    let t = Instant::now();
    let n = posture::run(&snap).len();
    println!("{:<46} {:>10}  {n} findings", "posture checks", format!("{:.2?}", t.elapsed()));
    Ok(0)
}
