//! A collected snapshot's file is byte for byte what the collector wrote before the records shared their
//! repeated strings (`snapshot::Str`, interned while pages are parsed and while a snapshot is read), and the
//! graph built from it is the same: bundled tenants with role assignments, PIM eligibility, deny assignments
//! and group members are collected through the mock Azure and compared with the files the collector of
//! 5dc29d2 wrote (`tests/fixtures/snapshots/`, the volatile metadata blanked). `AZPATH_BLESS=1` writes the
//! files again (only when the snapshot format changes on purpose).

use std::path::{Path, PathBuf};

use azpath::collect::auth::DefaultTokenSource;
use azpath::collect::{collect, Cloud, CollectOptions, Endpoints};
use azpath_graph::graph::PrivilegeGraph;
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::{MockAzure, MockOptions, MockTenant};

const TENANTS: &[&str] = &["demo", "deny-assignments", "pim-eligible", "nested-groups", "scope-inheritance"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshots")
}

/// The tenant collected through the mock Azure, its metadata's volatile fields (time, version, ports) blanked.
async fn collected(name: &str) -> Snapshot {
    let server = MockAzure::start(MockTenant::bundled(name).unwrap(), MockOptions::default()).await.unwrap();
    let e = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None).unwrap();
    let tokens = server.token_env();
    let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
    let mut snap = collect(&e, &DefaultTokenSource::new(&e, &env, None), &CollectOptions::default()).await.unwrap();
    let m = &mut snap.metadata;
    (m.collected_at, m.tool_version, m.arm_url, m.graph_url) = Default::default();
    snap
}

/// What the graph built from a snapshot holds: its node count and its edges by kind.
fn graph_summary(snap: &Snapshot) -> String {
    let g = PrivilegeGraph::build(snap);
    let mut lines = vec![format!("nodes {}", g.node_count())];
    lines.extend(g.edge_counts().into_iter().map(|(kind, n)| format!("{kind:?} {n}")));
    lines.join("\n") + "\n"
}

fn first_difference(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_snapshots_and_their_graphs_are_unchanged() {
    let bless = std::env::var_os("AZPATH_BLESS").is_some();
    for name in TENANTS {
        let snap = collected(name).await;
        let (text, graph) = (snap.to_json(), graph_summary(&snap));
        let (file, graph_file) = (fixtures().join(format!("{name}.json")), fixtures().join(format!("{name}.graph")));
        if bless {
            std::fs::create_dir_all(fixtures()).unwrap();
            std::fs::write(&file, &text).unwrap();
            std::fs::write(&graph_file, &graph).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap();
        let at = first_difference(&text, &want);
        assert!(
            text == want,
            "{name}: the snapshot differs from {} at byte {at}: {:?} against {:?}",
            file.display(),
            &text[at.saturating_sub(80)..(at + 80).min(text.len())],
            &want[at.saturating_sub(80)..(at + 80).min(want.len())]
        );
        assert_eq!(graph, std::fs::read_to_string(&graph_file).unwrap(), "{name}: the graph differs");
        // Read back (interned) and written again: the same bytes, the same graph.
        let again = Snapshot::from_json(&text, name).unwrap();
        assert!(again.to_json() == text, "{name}: the snapshot changed through a read and a write");
        assert_eq!(graph_summary(&again), graph, "{name}: the graph of the snapshot read back differs");
    }
}
