//! Every bundled mock tenant, checked against its `expected.toml` twice: offline (the tenant as a snapshot)
//! and through the real HTTP path (mock ARM + Graph servers, mock Kubernetes API servers read through a
//! kubeconfig, the production collectors). Both must give the same findings; throttling must not change them, and no request may come before its Retry-After.

use std::time::Duration;

use azpath::collect::kube_live::{self, LiveOptions};
use azpath::collect::{self, Cloud, CollectOptions, DefaultTokenSource, Endpoints, RetryPolicy};
use azpath_graph::engine::{analyze, AnalyzeOptions};
use std::collections::BTreeMap;

use azpath_graph::findings::{ImpliedPair, Report};
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::{bundled_names, Expected, MockAzure, MockKube, MockKubeOptions, MockOptions, MockTenant};

/// The offline snapshot of a tenant, dated now as a collection would be (PIM windows are judged against
/// `collected_at`; `to_snapshot` leaves it empty).
fn offline(tenant: &MockTenant) -> Snapshot {
    let mut s = tenant.to_snapshot();
    s.metadata.collected_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    s
}

fn report(snapshot: &Snapshot) -> Report {
    analyze(snapshot, &azpath::queries::builtin(), AnalyzeOptions::default())
}

/// Checks a report against a tenant's `expected.toml`; returns one line per violated expectation.
fn check(name: &str, rep: &Report) -> Vec<String> {
    let expected = Expected::bundled(name).unwrap_or_else(|| panic!("{name}: no expected.toml")).unwrap();
    assert!(!expected.present.is_empty(), "{name}: expected.toml has no [[present]] case");
    expected.check(&rep.implied_pairs()).into_iter().map(|f| format!("{name}: {f}")).collect()
}

/// What must not differ between two reports: each finding (id, flags, hops) and every pair they imply.
type Keys = (Vec<(String, bool, bool, usize)>, std::collections::BTreeMap<ImpliedPair, (bool, bool)>);

fn keys(rep: &Report) -> Keys {
    let findings = rep.findings.iter().map(|f| (f.id.clone(), f.eligible, f.conditional, f.hops.len())).collect();
    (findings, rep.implied_pairs())
}

/// Pairs and their (eligible, conditional) flags.
type PairSet = BTreeMap<ImpliedPair, (bool, bool)>;

/// The per-pair reference search's pairs (`engine::run_query`, one search per target), every built-in query.
fn reference(snapshot: &Snapshot) -> Vec<azpath_graph::findings::Pair> {
    let graph = azpath_graph::graph::PrivilegeGraph::build(snapshot);
    let queries = azpath::queries::builtin();
    queries.iter().flat_map(|q| azpath_graph::engine::run_query(&graph, q, AnalyzeOptions::default())).collect()
}

/// The pairs the grouped findings imply (read back from the JSON report, schema 4: nodes, edges, target lists
/// and member sets by index, which must give the very report that was written), and those of the per-pair
/// search, as (query, source, target) → (eligible, conditional): they must be equal.
fn both_pair_sets(snapshot: &Snapshot) -> (PairSet, PairSet) {
    let rep = analyze(snapshot, &azpath::queries::builtin(), AnalyzeOptions { expand: true, ..Default::default() });
    let back: Report = serde_json::from_str(&serde_json::to_string(&rep).unwrap()).unwrap();
    assert!(back == rep, "the JSON report does not read back as the report written");
    // Each tier's pair count (exposure's union of target lists) is the number of pairs its findings imply.
    let implied = back.implied_pairs();
    for tier in &rep.tiers {
        let n = implied.keys().filter(|k| k.query_id == tier.query_id).count();
        assert_eq!(tier.pairs, n, "{}: pairs counted against pairs implied", tier.query_id);
    }
    let reference = reference(snapshot)
        .into_iter()
        .map(|p| {
            let key = ImpliedPair { query_id: p.query_id, source: p.source.id, target: p.target.id };
            (key, (p.eligible, p.conditional))
        })
        .collect();
    (back.implied_pairs(), reference)
}

/// Names what differs between two pair sets, at most 20 lines.
fn pair_diff(a: &BTreeMap<ImpliedPair, (bool, bool)>, b: &BTreeMap<ImpliedPair, (bool, bool)>) -> String {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("invented: {k:?} {v:?}")),
            Some(w) if w != v => out.push(format!("flags: {k:?} grouped {v:?} reference {w:?}")),
            _ => {}
        }
    }
    out.extend(b.iter().filter(|(k, _)| !a.contains_key(*k)).map(|(k, v)| format!("lost: {k:?} {v:?}")));
    out.truncate(20);
    out.join("\n")
}

#[test]
fn grouped_findings_imply_exactly_the_pairs_of_the_per_pair_search_on_every_bundled_tenant() {
    for name in bundled_names() {
        let (grouped, reference) = both_pair_sets(&MockTenant::bundled(name).unwrap().to_snapshot());
        assert!(!reference.is_empty(), "{name}: no pair at all");
        assert!(grouped == reference, "{name}:\n{}", pair_diff(&grouped, &reference));
    }
}

#[test]
fn grouped_findings_imply_exactly_the_pairs_of_the_per_pair_search_on_generated_tenants() {
    for (size, seed) in [(60, 1), (300, 7), (1500, 42)] {
        let tenant = azpath_mocks::generate(&azpath_mocks::GenerateOptions::sized(size, seed));
        let (grouped, reference) = both_pair_sets(&tenant.to_snapshot());
        assert!(!reference.is_empty(), "size {size}: no pair at all");
        assert!(grouped == reference, "size {size} seed {seed}:\n{}", pair_diff(&grouped, &reference));
    }
}

async fn collect_over_http(server: &MockAzure) -> Snapshot {
    let endpoints = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None).unwrap();
    let tokens = server.token_env();
    let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
    let source = DefaultTokenSource::new(&endpoints, &env, None);
    let options = CollectOptions {
        retry: RetryPolicy { max_attempts: 8, max_total_wait: Duration::from_secs(60), ..RetryPolicy::default() },
        ..Default::default()
    };
    let mut snap = collect::collect(&endpoints, &source, &options).await.expect("collection succeeds");
    // The tenant's clusters are read live, as `scan --mock` does: mock API servers, a kubeconfig with a context
    // per cluster, the production collector (paging by 2).
    let kube = MockKube::start(&server.tenant().kube, MockKubeOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kube.kubeconfig()).unwrap();
    let live = LiveOptions { kubeconfig: Some(kubeconfig), all_contexts: true, ..Default::default() };
    let got = kube_live::collect(&live, &snap.azure).await.expect("kubeconfig readable");
    assert!(got.gaps.is_empty(), "live Kubernetes collection left gaps: {:?}", got.gaps);
    assert_eq!(got.clusters.len(), server.tenant().kube.len());
    assert_eq!(kube.stats().wrong_token, 0);
    collect::kube::attach(&mut snap, got.clusters);
    snap
}

#[test]
fn every_bundled_tenant_meets_its_expectations_offline() {
    let mut failures = Vec::new();
    for name in bundled_names() {
        let tenant = MockTenant::bundled(name).unwrap();
        // Injected faults only exist on the HTTP path; such tenants are checked there.
        if tenant.faults.is_empty() {
            failures.extend(check(name, &report(&offline(&tenant))));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_path_gives_the_same_findings_as_the_offline_snapshot() {
    let mut failures = Vec::new();
    for name in bundled_names() {
        let tenant = MockTenant::bundled(name).unwrap();
        let offline = report(&offline(&tenant));
        let server = MockAzure::start(tenant, MockOptions::default()).await.unwrap();
        let snap = collect_over_http(&server).await;
        let online = report(&snap);
        if !server.tenant().faults.is_empty() {
            // A fault is a coverage gap in the snapshot and the report, and hides what it says it hides.
            if snap.coverage.is_empty() || online.coverage.is_empty() {
                failures.push(format!("{name}: faults injected but no coverage gap recorded"));
            }
        } else if keys(&online) != keys(&offline) {
            failures.push(format!("{name}: HTTP {:#?}\n!= offline {:#?}", keys(&online), keys(&offline)));
        }
        failures.extend(check(name, &online));
        let stats = server.stats();
        assert_eq!(stats.wrong_token, 0, "{name}: a request carried the wrong token");
        // The snapshot round-trips through its file format unchanged.
        let again = Snapshot::from_json(&snap.to_json(), "round-trip").unwrap();
        assert_eq!(keys(&report(&again)), keys(&online), "{name}: snapshot round trip");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_throttling_changes_nothing_and_no_retry_is_early() {
    for name in ["demo", "nested-groups"] {
        let tenant = MockTenant::bundled(name).unwrap();
        let offline = report(&tenant.to_snapshot());
        let options = MockOptions { throttle_rate: 0.2, retry_after_secs: 1, seed: 7, ..Default::default() };
        let server = MockAzure::start(tenant, options).await.unwrap();
        let snap = collect_over_http(&server).await;
        let stats = server.stats();
        assert!(stats.throttled > 0, "{name}: the mock throttled nothing");
        assert_eq!(stats.early_retries, 0, "{name}: retried before Retry-After");
        assert!(snap.coverage.is_empty(), "{name}: throttling left gaps: {:?}", snap.coverage);
        assert_eq!(keys(&report(&snap)), keys(&offline), "{name}: throttling changed the findings");
    }
}

/// The README's demo shows each kind of path azpath is for, each through the mechanism it is there to show
/// (`expected.toml` names pairs, not the steps between them): a standing role assignment, an Entra escalation
/// (owning a pipeline's application), a namespace editor reaching subscription Contributor through ASO, a
/// pod creator through a federated service account, and a pipeline that may write federated credentials.
#[test]
fn demo_paths_go_through_the_mechanism_each_case_shows() {
    use azpath_graph::model::EdgeKind::{self, *};
    const CLUSTER: &str = "/subscriptions/e7b444b7-311c-4d37-a20b-4a7acad84362/resourcegroups/rg-shop-aks/providers/microsoft.containerservice/managedclusters/aks-shop-prod/k8s";
    const ONLINE: &str = "/subscriptions/e7b444b7-311c-4d37-a20b-4a7acad84362";
    const PLATFORM: &str = "/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8";
    const CORP: &str = "/subscriptions/3b23c825-87a7-4b11-b100-949a5da1210c";
    let snapshot = MockTenant::bundled("demo").unwrap().to_snapshot();
    let pairs = reference(&snapshot);
    let edges = |query: &str, source: &str, target: &str| -> Vec<EdgeKind> {
        let f = pairs
            .iter()
            .find(|f| f.query_id == query && f.source.id == source && f.target.id.eq_ignore_ascii_case(target))
            .unwrap_or_else(|| panic!("demo: no {query} finding {source} → {target}"));
        f.hops.iter().map(|h| h.edge).collect()
    };
    // Pradeep Gupta: User Access Administrator at `/`, nothing but the assignment and the scope tree.
    let standing = edges("owner-equivalent-on-subscription", "7f9343ba-47d8-4534-89d6-154335e04547", PLATFORM);
    assert!(standing.iter().all(|e| matches!(e, HasRole | Contains)), "{standing:?}");
    // Diego Siciliani owns terraform-landingzones' application.
    let entra = edges("owner-equivalent-on-subscription", "52e0f4c3-7b34-4fd8-8874-ae3821264610", CORP);
    assert_eq!(entra[0], CanAddCredential, "{entra:?}");
    // Johanna Lorenz is PIM-eligible Application Administrator scoped to that application.
    let role = edges("owner-equivalent-on-subscription", "960f496c-ab71-412b-8db0-e716b324f112", CORP);
    assert_eq!(role[0], CanManageCredentials, "{role:?}");
    // Shop DevOps' Kubernetes group edits ASO resources and Secrets in shop-infra: it uses the namespace's ASO
    // credential, or (as short) names it in a Secret of its own, ASO running in relaxed mode.
    let aso = edges(
        "kubernetes-to-subscription-contributor",
        &format!("{CLUSTER}/groups/1121d45e-a0fc-412a-b07f-d19984f5106e"),
        ONLINE,
    );
    assert!(
        aso.starts_with(&[CanUseAso, AsoActsAs]) || aso.starts_with(&[AsoCredentialForging, AsoForgeableIdentity]),
        "{aso:?}"
    );
    let credential =
        edges("aso-identity-broader-than-namespace", &format!("{CLUSTER}/namespaces/shop-infra/aso"), ONLINE);
    assert_eq!(credential, [AsoActsAs, HasRole]);
    // Storefront Developers run pods as storefront-api (or mint its tokens, as `edit` allows), and the account
    // is federated to id-storefront-api.
    let wi = edges(
        "kubernetes-to-subscription-contributor",
        &format!("{CLUSTER}/groups/28f8e224-7b9f-4fe3-a7f9-3f886755c7fc"),
        ONLINE,
    );
    assert!(matches!(wi[0], CanCreateWorkloads | CanMintToken | CanImpersonate), "{wi:?}");
    assert!(wi.ends_with(&[FederatedTrust, HasRole]), "{wi:?}");
    // github-actions-shop-infra may write federated credentials on id-shop-deploy-legacy (Owner).
    let fic = edges("owner-equivalent-on-subscription", "a2af099a-c894-4102-99b5-501bd4b9e88e", ONLINE);
    assert!(fic.contains(&CanWriteFederatedCredential), "{fic:?}");
}
