//! The public vocabularies are one list each, tied to their docs.

use azpath_graph::model::EdgeKind;

#[test]
fn every_edge_kind_is_documented_and_every_documented_kind_exists() {
    let doc = include_str!("../../docs/edges.md");
    for kind in EdgeKind::ALL {
        assert!(doc.contains(kind.as_str()), "docs/edges.md does not mention {kind}");
    }
    // Headings that name an edge (`## NAME — …`, `### NAME — …`) must name a real one.
    for line in doc.lines().filter(|l| l.starts_with("##") && l.contains(" — ")) {
        let name = line.trim_start_matches('#').trim().split(' ').next().unwrap_or("");
        assert!(EdgeKind::parse(name).is_some(), "docs/edges.md documents unknown edge kind `{name}`: {line}");
    }
}
