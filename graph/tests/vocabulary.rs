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

/// A pass as the check sees it: name, edge kinds it emits, `docs/edges.md` sections (heading prefixes).
type PassDecl<'a> = (&'a str, &'a [EdgeKind], &'a [&'a str]);

/// The `##` sections of a markdown text: (heading, body), `###` subsections included in their section.
fn sections(doc: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in doc.lines() {
        match line.strip_prefix("## ") {
            Some(heading) => out.push((heading.trim(), String::new())),
            None => {
                if let Some((_, body)) = out.last_mut() {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    out
}

/// The kinds a section documents: its heading's, its `### KIND —` subsections' and its table rows' (`| `KIND` |`).
fn documented(heading: &str, body: &str) -> Vec<EdgeKind> {
    let mut names: Vec<&str> = vec![heading.split(' ').next().unwrap_or("")];
    for line in body.lines() {
        if let Some(h) = line.strip_prefix("### ").filter(|h| h.contains(" — ")) {
            names.push(h.split(' ').next().unwrap_or(""));
        }
        if let Some(row) = line.strip_prefix("| `") {
            names.push(row.split('`').next().unwrap_or(""));
        }
    }
    names.into_iter().filter_map(EdgeKind::parse).collect()
}

/// What is wrong with the passes' declarations: a kind emitted by two passes or by none, a kind not mentioned
/// in its pass's sections of `docs/edges.md`, a section a pass names that does not exist, a kind documented in
/// a section its pass does not name.
fn pass_problems(passes: &[PassDecl], doc: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let secs = sections(doc);
    for kind in EdgeKind::ALL {
        let owners: Vec<&str> = passes.iter().filter(|p| p.1.contains(&kind)).map(|p| p.0).collect();
        if owners.len() != 1 {
            problems.push(format!("{kind} is emitted by {owners:?}, not by exactly one pass"));
        }
    }
    for (name, emits, docs) in passes {
        let claimed = |heading: &str| docs.iter().any(|d| heading.starts_with(d));
        for d in docs.iter().filter(|d| !secs.iter().any(|(h, _)| h.starts_with(*d))) {
            problems.push(format!("pass {name} names section `{d}`, which docs/edges.md lacks"));
        }
        let text: String =
            secs.iter().filter(|(h, _)| claimed(h)).map(|(h, b)| format!("{h}\n{b}")).collect::<Vec<_>>().concat();
        for kind in emits.iter().filter(|k| !text.contains(k.as_str())) {
            problems.push(format!("pass {name} emits {kind}, which its sections of docs/edges.md do not mention"));
        }
        for (heading, body) in &secs {
            for kind in documented(heading, body).into_iter().filter(|k| emits.contains(k) && !claimed(heading)) {
                problems.push(format!(
                    "{kind} (pass {name}) is documented in `{heading}`, which pass {name} does not name"
                ));
            }
        }
    }
    problems
}

#[test]
fn graph_passes_emit_every_edge_kind_once_as_docs_edges_md_documents_them() {
    let doc = include_str!("../../docs/edges.md");
    let passes: Vec<PassDecl> = azpath_graph::build::PASSES.iter().map(|p| (p.name, p.emits, p.docs)).collect();
    let problems = pass_problems(&passes, doc);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_pass_check_catches_overlaps_gaps_and_undocumented_kinds() {
    let doc = include_str!("../../docs/edges.md");
    let real: Vec<PassDecl> = azpath_graph::build::PASSES.iter().map(|p| (p.name, p.emits, p.docs)).collect();
    // A second pass claiming MEMBER_OF: an overlap.
    let mut overlap = real.clone();
    overlap.push(("dup", &[EdgeKind::MemberOf], &["MEMBER_OF"]));
    assert!(pass_problems(&overlap, doc).iter().any(|p| p.contains("MEMBER_OF is emitted by")), "overlap missed");
    // No pass for the Entra kinds: a gap.
    let gap: Vec<PassDecl> = real.iter().copied().filter(|p| p.0 != "entra").collect();
    assert!(pass_problems(&gap, doc).iter().any(|p| p.contains("CAN_ADD_MEMBER is emitted by []")), "gap missed");
    // The Entra kinds declared under the wrong section, and a section that does not exist.
    let mut wrong: Vec<PassDecl> = real.iter().copied().filter(|p| p.0 != "entra").collect();
    wrong.push(("entra", &[EdgeKind::CanAddCredential, EdgeKind::CanAddMember], &["MEMBER_OF", "No such section"]));
    let problems = pass_problems(&wrong, doc);
    assert!(problems.iter().any(|p| p.contains("emits CAN_ADD_CREDENTIAL, which its sections")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("documented in `Entra control plane`")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("No such section")), "{problems:?}");
}
