//! The DOT picture (`--format dot`): each path core drawn once, members counted on one node, no internal hub
//! node, targets summarized, the top choke points highlighted, escalation and standing styled apart, a legend,
//! `--from`/`--to` filters and a cap that keep large tenants drawable, and Graphviz renders it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{run, Run};

use azpath_mocks::MockTenant;
use serde_json::Value;

/// A bundled tenant as a snapshot file in `dir`.
fn snapshot(dir: &Path, tenant: &str) -> PathBuf {
    let path = dir.join(format!("{tenant}.json"));
    std::fs::write(&path, MockTenant::bundled(tenant).unwrap().to_snapshot().to_json()).unwrap();
    path
}

fn analyze(snap: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["analyze", snap.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// The JSON report with findings and member sets written out whole (`common::resolved`).
fn report(snap: &Path) -> Value {
    common::resolved(&serde_json::from_str(&analyze(snap, &["--format", "json"]).stdout).unwrap())
}

/// A DOT double-quoted string at the start of `s`, unescaped, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                c => out.push(c),
            },
            '"' => return Some((out, &rest[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// The value of attribute `name` (quoted or not) in an attribute list.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let at = attrs.find(&format!("{name}="))? + name.len() + 1;
    let rest = &attrs[at..];
    quoted(rest).map(|(v, _)| v).or_else(|| rest.split([',', ']']).next().map(|v| v.trim().to_string()))
}

/// A parsed DOT picture: nodes (id → attributes) and edges ((from, to) → attribute lists).
#[derive(Debug, Default)]
struct Picture {
    caption: String,
    nodes: BTreeMap<String, String>,
    edges: BTreeMap<(String, String), Vec<String>>,
}

impl Picture {
    fn parse(dot: &str) -> Picture {
        let mut p = Picture::default();
        for line in dot.lines().map(str::trim) {
            if let Some(attrs) = line.strip_prefix("graph [") {
                p.caption = attr(attrs, "label").unwrap_or_default();
            }
            let Some((a, rest)) = quoted(line) else { continue };
            match rest.strip_prefix(" -> ").and_then(quoted) {
                Some((b, attrs)) => p.edges.entry((a, b)).or_default().push(attrs.to_string()),
                None => {
                    p.nodes.insert(a, rest.to_string());
                }
            }
        }
        p
    }

    /// The label of a node, its no-break spaces (which keep a count with its kind) as spaces.
    fn label(&self, id: &str) -> String {
        let attrs = self.nodes.get(id).unwrap_or_else(|| panic!("no node {id} in {:#?}", self.nodes.keys()));
        attr(attrs, "label").unwrap().replace('\u{a0}', " ")
    }

    /// The node whose label contains `text`.
    fn node_with(&self, text: &str) -> Option<&str> {
        self.nodes.iter().find(|(_, a)| attr(a, "label").is_some_and(|l| l.contains(text))).map(|(id, _)| id.as_str())
    }

    fn edge(&self, from: &str, to: &str) -> &[String] {
        self.edges.get(&(from.to_string(), to.to_string())).map_or(&[], Vec::as_slice)
    }
}

fn dot_of(snap: &Path, extra: &[&str]) -> Picture {
    let mut args = vec!["--format", "dot"];
    args.extend_from_slice(extra);
    let r = analyze(snap, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("digraph azpath {"), "{}", r.stdout);
    Picture::parse(&r.stdout)
}

fn ids<'a>(v: &'a Value, path: &[&str]) -> impl Iterator<Item = &'a str> {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_object().into_iter().flat_map(|m| m.values()).flat_map(|l| l.as_array().unwrap()).filter_map(Value::as_str)
}

#[test]
fn a_principal_with_members_is_one_node_with_its_member_count() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    let dot = dot_of(&snap, &[]);
    // Platform Admins holds User Access Administrator for 2 users and a nested group.
    let label = dot.label("0b482138-2cfe-4ab9-b45d-18d09cf5e27f");
    assert!(label.starts_with("Platform Admins (Group)\n3 members: 2 User, 1 Group\n"), "{label}");
    // A principal without members keeps the plain label.
    assert_eq!(dot.label("7f9343ba-47d8-4534-89d6-154335e04547"), "User\nPradeep Gupta");
}

#[test]
fn members_are_never_drawn_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "aso-workload-identity");
    let rep = report(&snap);
    let dot = dot_of(&snap, &[]);
    let on_a_core: BTreeSet<&str> = rep["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["hops"].as_array().unwrap())
        .flat_map(|h| [h["from"]["id"].as_str().unwrap(), h["to"]["id"].as_str().unwrap()])
        .collect();
    let members: BTreeSet<&str> =
        rep["member_sets"].as_object().unwrap().values().flat_map(|set| ids(set, &["ids"])).collect();
    let only_members: Vec<&&str> = members.iter().filter(|m| !on_a_core.contains(**m)).collect();
    assert!(!only_members.is_empty(), "the tenant has principals that are only members");
    for m in only_members {
        assert!(!dot.nodes.contains_key(*m), "member {m} drawn as a node");
        assert!(!dot.edges.keys().any(|(a, b)| a == *m || b == *m), "member {m} on an edge");
    }
}

#[test]
fn internal_hubs_are_never_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "aso-workload-identity");
    let rep = report(&snap);
    let hubs: BTreeSet<&str> = rep["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["hops"].as_array().unwrap())
        .map(|h| &h["to"])
        .filter(|n| ["ScopeIdentities", "KubeAsoForgeable", "KubeNodes"].contains(&n["kind"].as_str().unwrap()))
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(hubs.len() >= 2, "{hubs:?}");
    let dot = dot_of(&snap, &[]);
    for hub in &hubs {
        assert!(!dot.nodes.contains_key(*hub), "hub {hub} drawn");
        assert!(!dot.edges.keys().any(|(a, b)| a == hub || b == hub), "hub {hub} on an edge");
    }
    // The identities behind a hub are one node counting them, drawn as that set, never as the hub.
    let targets = dot.node_with("identities under fabrikam-prod").expect("a targets node");
    assert!(targets.starts_with("targets:"), "{targets}");
}

#[test]
fn scopes_below_a_landing_scope_are_summarized_on_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    let dot = dot_of(&snap, &[]);
    let root = dot.label("/");
    assert!(root.starts_with("Root\nTenant root (/)\n→ below: 6 ManagementGroup,\n3 Subscription\n"), "{root}");
    // The management groups below the root are not drawn one by one: only where some core lands.
    assert!(
        !dot.nodes.contains_key("/providers/microsoft.management/managementgroups/contoso"),
        "{:?}",
        dot.nodes.keys()
    );
    // A subscription no core reaches below is left as it is.
    assert_eq!(dot.label("/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8"), "Subscription\ncontoso-platform");
}

#[test]
fn the_top_choke_points_are_thick_red_with_their_rank() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    let rep = report(&snap);
    let dot = dot_of(&snap, &[]);
    // Choke point 1 is terraform-landingzones' Owner at Landing Zones.
    assert!(rep["choke_points"][0]["what"].as_str().unwrap().starts_with("Owner of terraform-landingzones"));
    let first = dot.edge(
        "f2827025-3688-4208-9589-831d2e48f7b0",
        "/providers/microsoft.management/managementgroups/contoso-landingzones",
    );
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(attr(&first[0], "label").unwrap(), "#1 Owner");
    assert_eq!(attr(&first[0], "penwidth").unwrap(), "3.5");
    assert_eq!(attr(&first[0], "color").unwrap(), "#d0021b");
    // Only the top 5 that cut someone off are highlighted: Platform Admins' Contributor cuts no one.
    // (One choke point can be several edges: a role assignment is also the AKS admin step it allows.)
    let thick: BTreeSet<String> = dot
        .edges
        .values()
        .flatten()
        .filter(|a| a.contains("penwidth=3.5"))
        .map(|a| attr(a, "label").unwrap().split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(thick.len(), 5, "{thick:?}");
    let plain = dot.edge("0b482138-2cfe-4ab9-b45d-18d09cf5e27f", "/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8");
    assert_eq!(plain.len(), 1);
    assert_eq!(attr(&plain[0], "label").unwrap(), "Contributor");
    assert!(!plain[0].contains("penwidth=3.5"), "{plain:?}");
}

/// Every top choke point that cuts someone off and lies on a drawn core is marked with its rank, whatever kind of
/// change it is: the picture reads each hop's fix from the report (`Hop::fix`) instead of guessing it from the
/// evidence, which missed ASO credential Secrets, identities attached to compute, directory-role and app-role
/// assignments.
#[test]
fn every_top_choke_point_on_a_drawn_core_is_marked_whatever_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut unfixable = 0;
    for tenant in ["demo", "aso-workload-identity", "compute-identities", "entra-control-plane"] {
        let snap = snapshot(dir.path(), tenant);
        let rep = report(&snap);
        let dot = dot_of(&snap, &[]);
        let labels: Vec<String> = dot.edges.values().flatten().filter_map(|a| attr(a, "label")).collect();
        let chokes = rep["choke_points"].as_array().unwrap();
        let mut kinds = BTreeSet::new();
        for (rank, c) in chokes.iter().enumerate().take(5) {
            let on_a_core = !c["findings"].as_array().unwrap().is_empty();
            if c["principals_cut"].as_u64().unwrap() == 0 || !on_a_core {
                continue;
            }
            kinds.insert(c["id"].as_str().unwrap().split(':').next().unwrap().to_string());
            let mark = format!("#{} ", rank + 1);
            assert!(labels.iter().any(|l| l.starts_with(&mark)), "{tenant}: {} not marked in {labels:?}", c["id"]);
        }
        assert!(!kinds.is_empty(), "{tenant}");
        // Every hop names its fix, except a step no change to one object removes (pods of a namespace run as
        // its service accounts).
        for h in rep["findings"].as_array().unwrap().iter().flat_map(|f| f["hops"].as_array().unwrap()) {
            let fix = h["fix"].as_str();
            match h["edge"].as_str().unwrap() {
                "RUNS_AS" => {
                    assert_eq!(fix, None, "{tenant}: {h}");
                    unfixable += 1;
                }
                "HAS_ROLE" => assert!(fix.is_some_and(|f| f.starts_with("role-assignment:")), "{tenant}: {h}"),
                _ => {}
            }
        }
    }
    assert!(unfixable > 0, "some drawn core runs pods as a service account");
}

#[test]
fn escalation_and_standing_are_styled_apart_and_pim_is_dashed() {
    let dir = tempfile::tempdir().unwrap();
    let dot = dot_of(&snapshot(dir.path(), "demo"), &[]);
    // Standing, PIM eligible: Adele Vance's Owner at Landing Zones.
    let eligible = dot.edge(
        "043b8497-a933-45cf-9db7-2122020057e7",
        "/providers/microsoft.management/managementgroups/contoso-landingzones",
    );
    // (It is also a top choke point, so red; dashed all the same.)
    assert!(["#5d6d7e", "#d0021b"].contains(&attr(&eligible[0], "color").unwrap().as_str()), "{eligible:?}");
    assert_eq!(attr(&eligible[0], "style").unwrap(), "dashed", "{eligible:?}");
    let standing =
        dot.edge("3888d751-b078-4a31-8619-03452b6e2c02", "/subscriptions/3b23c825-87a7-4b11-b100-949a5da1210c");
    assert!(
        standing.iter().all(|a| attr(a, "color").unwrap() == "#5d6d7e" && attr(a, "style").is_none()),
        "{standing:?}"
    );
    // Escalation: a managed identity that can add a federated credential to another (not a top choke point).
    let dir = tempfile::tempdir().unwrap();
    let aso = dot_of(&snapshot(dir.path(), "aso-workload-identity"), &[]);
    let orange = aso.edges.values().flatten().filter(|a| attr(a, "color").unwrap() == "#d35400").count();
    assert!(orange > 0, "{:?}", aso.edges);
}

#[test]
fn a_legend_explains_colours_shapes_and_line_styles() {
    let dir = tempfile::tempdir().unwrap();
    let dot = dot_of(&snapshot(dir.path(), "demo"), &[]);
    let legend = dot.nodes.get("legend").expect("a legend node");
    for text in [
        "<b>Legend</b>",
        "escalation step",
        "standing grant",
        "top choke point",
        "PIM activation",
        "condition",
        "members counted",
        "internal hub",
    ] {
        assert!(legend.contains(text), "{text} not in {legend}");
    }
}

#[test]
fn from_keeps_the_cores_of_a_principal_and_of_the_groups_it_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    // Diego Siciliani owns terraform's app (his own core) and is a member of Online Shop Developers.
    let dot = dot_of(&snap, &["--from", "diego siciliani"]);
    let total = report(&snap)["findings"].as_array().unwrap().len();
    let drawn: usize = dot.caption.trim_start_matches("azpath: ").split(' ').next().unwrap().parse().unwrap();
    assert!(
        drawn >= 2
            && drawn < total
            && dot.caption.contains(&format!("of {total} path cores drawn ({drawn} match --from diego siciliani)")),
        "{}",
        dot.caption
    );
    assert!(dot.nodes.contains_key("52e0f4c3-7b34-4fd8-8874-ae3821264610"), "Diego");
    assert!(dot.nodes.contains_key("3cfe679f-896d-4f00-8047-45cd593b93d6"), "Online Shop Developers");
    assert!(!dot.nodes.contains_key("7f9343ba-47d8-4534-89d6-154335e04547"), "Pradeep Gupta is not Diego");
    assert!(!dot.nodes.contains_key("0b482138-2cfe-4ab9-b45d-18d09cf5e27f"), "Platform Admins is not Diego's");
    // By object id too.
    let by_id = dot_of(&snap, &["--from", "52E0F4C3-7B34-4FD8-8874-AE3821264610"]);
    assert_eq!(by_id.nodes.keys().collect::<Vec<_>>(), dot.nodes.keys().collect::<Vec<_>>());
}

#[test]
fn to_keeps_the_cores_that_land_on_or_reach_a_target() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    let dot = dot_of(&snap, &["--to", "contoso-platform"]);
    // The root's User Access Administrator and Platform Admins reach it; github-actions-payments does not.
    assert!(dot.nodes.contains_key("7f9343ba-47d8-4534-89d6-154335e04547"), "Pradeep Gupta, at the root");
    assert!(dot.nodes.contains_key("0b482138-2cfe-4ab9-b45d-18d09cf5e27f"), "Platform Admins");
    assert!(!dot.nodes.contains_key("3888d751-b078-4a31-8619-03452b6e2c02"), "github-actions-payments");
    // Both filters: cores that match both.
    let both =
        dot_of(&snap, &["--to", "/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8", "--from", "Pradeep Gupta"]);
    let total = report(&snap)["findings"].as_array().unwrap().len();
    assert!(
        both.caption.starts_with(&format!("azpath: 1 of {total} path cores drawn (1 match --from Pradeep Gupta --to ")),
        "{}",
        both.caption
    );
    // Nothing matches: an empty picture that says so.
    let none = dot_of(&snap, &["--to", "no-such-scope"]);
    assert!(
        none.caption.starts_with(&format!("azpath: 0 of {total} path cores drawn (0 match --to no-such-scope)")),
        "{}",
        none.caption
    );
    assert_eq!(none.nodes.keys().collect::<Vec<_>>(), ["legend"]);
}

#[test]
fn from_and_to_are_refused_where_they_do_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    let json = analyze(&snap, &["--format", "json", "--from", "Pradeep Gupta"]);
    assert_eq!(json.code, 2, "{}", json.stderr);
    assert!(json.stderr.contains("--from/--to apply to --format dot only"), "{}", json.stderr);
    let s = snap.to_str().unwrap();
    let diff = run(&["diff", s, s, "--format", "dot", "--to", "/"]);
    assert_eq!(diff.code, 2, "{}", diff.stderr);
    assert!(diff.stderr.contains("not `diff`"), "{}", diff.stderr);
    // Without them, diff draws its new findings (none here).
    let diff = run(&["diff", s, s, "--format", "dot"]);
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(diff.stdout.starts_with("digraph azpath {"), "{}", diff.stdout);
}

/// A generated tenant of about `size` principals as a snapshot file.
fn generated(dir: &Path, size: usize) -> PathBuf {
    let path = dir.join("generated.json");
    let r = run(&["mock", "generate", "--size", &size.to_string(), "--snapshot", path.to_str().unwrap(), "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    path
}

#[test]
fn a_large_tenant_is_capped_to_its_most_severe_cores_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let snap = generated(dir.path(), 2000);
    let total = report(&snap)["findings"].as_array().unwrap().len();
    assert!(total > 200, "{total}");
    let r = analyze(&snap, &["--format", "dot"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dot = Picture::parse(&r.stdout);
    assert_eq!(
        dot.caption,
        format!(
            "azpath: 200 of {total} path cores drawn\n{} left out (only the 200 most severe are drawn): narrow with --from, --to or --query",
            total - 200
        )
    );
    render_with_graphviz(&r.stdout);
    // --from by name finds the cores of groups the user is in, even where the report does not name them there.
    let rep = report(&snap);
    let findings = rep["findings"].as_array().unwrap().clone();
    let sets = rep["member_sets"].clone();
    let (name, group) = findings
        .iter()
        .filter(|f| f["principal"]["kind"] == "User")
        .find_map(|f| {
            let id = f["principal"]["id"].as_str().unwrap();
            let unnamed = |g: &&Value| {
                g["member_set"].as_str().is_some_and(|k| ids(&sets[k], &["ids"]).any(|m| m == id))
                    && !g["members"]["sample"].as_array().unwrap().iter().any(|s| s["id"] == id)
            };
            let g = findings.iter().find(unnamed)?;
            Some((f["principal"]["display_name"].as_str()?, g["principal"]["id"].as_str()?))
        })
        .expect("a user who is an unnamed member of a group core");
    let from = Picture::parse(&analyze(&snap, &["--format", "dot", "--from", name]).stdout);
    // (A hub that collects everyone who reaches it is drawn as the set it stands for.)
    let drawn = |id: &str| from.nodes.contains_key(id) || from.nodes.contains_key(&format!("targets:{id}"));
    assert!(drawn(group), "{name}'s group {group} not in {:?}", from.nodes.keys());
    // A filter that keeps fewer than the cap leaves nothing out.
    let small = analyze(&snap, &["--format", "dot", "--query", "owner-equivalent-on-subscription"]);
    assert!(!Picture::parse(&small.stdout).caption.contains("left out"), "{}", small.stdout);
}

#[test]
fn long_labels_are_wrapped_so_the_picture_stays_narrow() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path(), "demo");
    let dot = dot_of(&snap, &[]);
    // The workload identity's subject and issuer URL are one long name: wrapped after `/` and `:`.
    let workload = dot.node_with("system:serviceaccount:storefront").expect("the federated workload is drawn");
    let label = dot.label(workload);
    assert!(label.lines().count() >= 4, "{label}");
    let lines = |attrs: &String| attr(attrs, "label").unwrap().lines().map(str::to_string).collect::<Vec<_>>();
    let too_wide = |l: &String, columns: usize| l.chars().count() > columns && l.contains(' ');
    for (id, attrs) in &dot.nodes {
        if id == "legend" {
            continue;
        }
        assert!(!lines(attrs).iter().any(|l| too_wide(l, 40)), "{id}: {attrs}");
    }
    // Edge labels are narrower still (a choke point's `#N ` rank comes in front).
    for attrs in dot.edges.values().flatten() {
        assert!(!lines(attrs).iter().any(|l| too_wide(l, 32)), "{attrs}");
    }
}

#[test]
fn graphviz_renders_every_bundled_tenant() {
    let dir = tempfile::tempdir().unwrap();
    for tenant in ["demo", "aso-workload-identity", "aks-pod-identity"] {
        let r = analyze(&snapshot(dir.path(), tenant), &["--format", "dot"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        render_with_graphviz(&r.stdout);
    }
}

/// Renders DOT to SVG with Graphviz, when it is installed (required when `AZPATH_REQUIRE_DOT` is set).
fn render_with_graphviz(dot: &str) {
    let child =
        Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let Ok(mut child) = child else {
        assert!(std::env::var_os("AZPATH_REQUIRE_DOT").is_none(), "graphviz `dot` is required here");
        eprintln!("graphviz not installed: skipping the render check");
        return;
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = dot.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "dot failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}
