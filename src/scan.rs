//! Glue between the command line and the collectors: endpoints and credentials from options (or an
//! in-process mock server for `--mock`), and the `mock` subcommands.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use azpath_graph::kube::KubeCluster;
use azpath_graph::snapshot::Snapshot;
use azpath_mocks::{GenerateOptions, MockAzure, MockKube, MockKubeOptions, MockOptions, MockTenant};

use crate::cli::{CloudArg, CollectArgs, MockCommand};
use crate::collect::kube_live::LiveOptions;
use crate::collect::{self, Cloud, CollectOptions, DefaultTokenSource, Endpoints};
use crate::render::text::visible;

/// Collects a snapshot as the options say: from Azure, or from a mock tenant served on loopback for the
/// duration of the collection (the same HTTP code path as a real scan, Kubernetes included: the tenant's
/// clusters are served as mock API servers and read through a generated kubeconfig).
pub async fn collect(args: &CollectArgs, show_progress: bool) -> Result<Snapshot> {
    // Kubernetes dumps first: a malformed one stops the run before any request is made.
    let kube = collect::kube::read_dumps(&args.kube_dumps)?;
    let http = collect::build_client(args.ca_cert.as_deref())?;
    let options = CollectOptions {
        subscriptions: args.subscriptions.clone(),
        management_groups: args.management_groups.clone(),
        concurrency: args.concurrency,
        request_timeout: Duration::from_secs(args.request_timeout),
        show_progress,
        http_client: Some(http.clone()),
        ..Default::default()
    };
    let mut live = LiveOptions {
        kubeconfig: args.kubeconfig.clone(),
        contexts: args.kube_contexts.clone(),
        all_contexts: args.all_kube_contexts,
        concurrency: args.concurrency,
        request_timeout: Duration::from_secs(args.request_timeout),
        ..Default::default()
    };
    if let Some(name) = &args.mock {
        let tenant = MockTenant::load_or_bundled(name).with_context(|| format!("--mock {name}"))?;
        let kube_servers =
            MockKube::start(&tenant.kube, MockKubeOptions { page_size: 50, ..Default::default() }).await?;
        let (_kubeconfig_dir, kubeconfig) = mock_kubeconfig(&tenant, &kube_servers)?;
        if let Some(path) = kubeconfig {
            live = LiveOptions { kubeconfig: Some(path), all_contexts: true, ..live };
        }
        let server = MockAzure::start(tenant, MockOptions { page_size: 50, ..Default::default() }).await?;
        let endpoints = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None)?;
        let tokens = server.token_env();
        let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
        let source = DefaultTokenSource::new(&endpoints, &env, Some(&http));
        let mut snap = collect::collect(&endpoints, &source, &options).await?;
        add_kubernetes(&mut snap, kube, &live).await?;
        return Ok(snap);
    }
    let cloud = match args.cloud.unwrap_or(if args.arm_url.is_some() { CloudArg::Custom } else { CloudArg::Public }) {
        CloudArg::Public => Cloud::Public,
        CloudArg::Usgov => Cloud::UsGov,
        CloudArg::China => Cloud::China,
        CloudArg::Custom => Cloud::Custom,
    };
    let endpoints =
        Endpoints::new(cloud, args.arm_url.as_deref(), args.graph_url.as_deref(), args.authority_url.as_deref())?;
    let source = DefaultTokenSource::from_process_env(&endpoints, Some(&http));
    let mut snap = collect::collect(&endpoints, &source, &options).await?;
    add_kubernetes(&mut snap, kube, &live).await?;
    Ok(snap)
}

/// Writes a kubeconfig for a tenant's mock clusters into a private temporary directory (removed when the
/// returned guard drops); no file when the tenant has no cluster.
fn mock_kubeconfig(tenant: &MockTenant, servers: &MockKube) -> Result<(tempfile::TempDir, Option<PathBuf>)> {
    let dir = tempfile::tempdir().context("temporary kubeconfig directory")?;
    if tenant.kube.is_empty() {
        return Ok((dir, None));
    }
    let path = dir.path().join("kubeconfig");
    crate::output::write_private(&path, servers.kubeconfig().as_bytes())?;
    Ok((dir, Some(path)))
}

/// Adds the offline clusters and the live ones (collected now that the AKS clusters are known, to match
/// contexts to them) to the snapshot; failed live lists become coverage gaps.
async fn add_kubernetes(snap: &mut Snapshot, mut clusters: Vec<KubeCluster>, live: &LiveOptions) -> Result<()> {
    if live.is_enabled() {
        let got = collect::kube_live::collect(live, &snap.azure).await?;
        snap.coverage.extend(got.gaps);
        snap.coverage.sort();
        snap.coverage.dedup();
        clusters.extend(got.clusters);
    }
    collect::kube::attach(snap, clusters);
    Ok(())
}

/// One paragraph saying what was collected, for `azpath collect`; each line [escaped](visible) for the
/// terminal (the file name comes from the command line).
pub fn collection_summary(snap: &Snapshot, path: &Path) -> String {
    let a = &snap.azure;
    let e = &snap.entra;
    let mut s = format!(
        "wrote {}: {} subscriptions, {} management groups, {} role assignments, {} eligible, {} deny assignments, {} users, {} groups, {} service principals",
        path.display(),
        a.subscriptions.len(),
        a.management_groups.len(),
        a.role_assignments.len(),
        a.role_eligibility_schedule_instances.len(),
        a.deny_assignments.len(),
        e.users.len(),
        e.groups.len(),
        e.service_principals.len()
    );
    if !snap.kubernetes.is_empty() {
        s.push_str(&format!(", {} Kubernetes cluster(s)", snap.kubernetes.len()));
    }
    let mut lines = vec![visible(&s).into_owned()];
    if !snap.coverage.is_empty() {
        let gaps = format!(
            "{} coverage gap(s): `azpath analyze {}` lists them and what they may hide",
            snap.coverage.len(),
            path.display()
        );
        lines.push(visible(&gaps).into_owned());
    }
    lines.join("\n")
}

/// Runs a `mock` subcommand.
pub fn mock_command(cmd: MockCommand) -> Result<u8> {
    match cmd {
        MockCommand::List => {
            let mut text = String::new();
            for name in azpath_mocks::bundled_names() {
                let t = MockTenant::bundled(name).context("bundled tenant")?;
                text.push_str(&format!("{name:<24} {}\n", t.info.description.lines().next().unwrap_or("")));
            }
            // Through the report writer: a closed pipe (`| head`) ends the output quietly.
            crate::output::write_stdout(text.as_bytes())?;
            Ok(0)
        }
        MockCommand::Serve { tenant, page_size, throttle_rate, latency_ms } => {
            if !(0.0..=1.0).contains(&throttle_rate) {
                anyhow::bail!("--throttle-rate: {throttle_rate} is not between 0 and 1");
            }
            let t = MockTenant::load_or_bundled(&tenant).with_context(|| format!("mock serve {tenant}"))?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let options = MockOptions {
                    page_size: page_size.max(1),
                    throttle_rate,
                    latency: Duration::from_millis(latency_ms),
                    ..Default::default()
                };
                let kube = MockKube::start(&t.kube, MockKubeOptions { page_size, ..Default::default() }).await?;
                // Lives until the server stops.
                let (_kubeconfig_dir, kubeconfig) = mock_kubeconfig(&t, &kube)?;
                let kube_args = match kubeconfig {
                    Some(path) => format!(" --kubeconfig {} --all-kube-contexts", path.display()),
                    None => String::new(),
                };
                let clusters: Vec<String> = t.kube.iter().map(|d| d.cluster.clone()).collect();
                let server = MockAzure::start(t, options).await?;
                let [(arm_var, arm_token), (graph_var, graph_token)] = server.token_env();
                println!("Serving mock tenant `{tenant}` (Ctrl-C to stop).");
                println!("  ARM:   {}", server.arm_url());
                println!("  Graph: {}", server.graph_url());
                for cluster in &clusters {
                    println!("  Kubernetes `{cluster}`: {}", kube.url(cluster).unwrap_or_default());
                }
                println!("Scan it from another shell with:");
                println!(
                    "  {arm_var}={arm_token} {graph_var}={graph_token} azpath scan --cloud custom --arm-url {} --graph-url {}{kube_args}",
                    server.arm_url(),
                    server.graph_url()
                );
                tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
                let stats = server.stats();
                eprintln!("served {} requests ({} throttled)", stats.total(), stats.throttled);
                anyhow::Ok(0u8)
            })
        }
        MockCommand::Generate { size, seed, output, snapshot } => {
            let started = Instant::now();
            let tenant = azpath_mocks::generate(&GenerateOptions::sized(size, seed));
            match (output, snapshot) {
                (Some(dir), _) => {
                    tenant.write(&dir)?;
                    eprintln!(
                        "wrote tenant {} ({} nodes) in {:.1?}",
                        dir.display(),
                        tenant.node_count(),
                        started.elapsed()
                    );
                }
                (None, Some(file)) => {
                    crate::output::write_private(&file, tenant.to_snapshot().to_json().as_bytes())?;
                    eprintln!(
                        "wrote snapshot {} ({} nodes) in {:.1?}",
                        file.display(),
                        tenant.node_count(),
                        started.elapsed()
                    );
                }
                (None, None) => anyhow::bail!("mock generate: give --output DIR or --snapshot FILE"),
            }
            Ok(0)
        }
    }
}
