//! Glue between the command line and the collectors: endpoints and credentials from options (or an
//! in-process mock server for `--mock`), and the `mock` subcommands.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use azpath_graph::kube::KubeCluster;
use azpath_graph::snapshot::{Snapshot, Subscription};
use azpath_mocks::{GenerateOptions, MockAzure, MockKube, MockKubeOptions, MockOptions, MockTenant, TenantError};

use crate::cli::{did_you_mean, CloudArg, CollectArgs, MockCommand};
use crate::collect::kube_live::LiveOptions;
use crate::collect::{self, ApiClient, Cloud, CollectOptions, DefaultTokenSource, Endpoints, Service, TokenSource};
use crate::render::text::visible;
use crate::UsageError;

/// A collected snapshot and the scopes the command line named.
pub struct Collected {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Lower-cased ARM scopes named with `--subscription` (display names resolved to ids) and
    /// `--management-group`: a coverage gap on or under one of them fails the run by default (exit 4).
    pub named_scopes: Vec<String>,
}

/// Collects a snapshot as the options say: from Azure, or from a mock tenant served on loopback for the
/// duration of the collection (the same HTTP code path as a real scan, Kubernetes included: the tenant's
/// clusters are served as mock API servers and read through a generated kubeconfig).
pub async fn collect(args: &CollectArgs, show_progress: bool) -> Result<Collected> {
    // Kubernetes dumps first: a malformed one stops the run before any request is made.
    let kube = collect::kube::read_dumps(&args.kube_dumps)?;
    let http = collect::build_client(args.ca_cert.as_deref())?;
    let options = CollectOptions {
        subscriptions: args.subscriptions.clone(),
        management_groups: args.management_groups.clone(),
        concurrency: args.concurrency,
        request_timeout: Duration::from_secs(args.request_timeout),
        graph_tenant_size: args.graph_tenant_size,
        show_progress,
        http_client: Some(http.clone()),
        ..Default::default()
    };
    let live = LiveOptions {
        kubeconfig: args.kubeconfig.clone(),
        contexts: args.kube_contexts.clone(),
        all_contexts: args.all_kube_contexts,
        concurrency: args.concurrency,
        request_timeout: Duration::from_secs(args.request_timeout),
        ..Default::default()
    };
    if let Some(name) = &args.mock {
        let tenant = load_mock_tenant(name, "--mock")?;
        let kube_servers =
            MockKube::start(&tenant.kube, MockKubeOptions { page_size: 50, ..Default::default() }).await?;
        let (_kubeconfig_dir, kubeconfig) = mock_kubeconfig(&tenant, &kube_servers)?;
        let live = match kubeconfig {
            Some(path) => LiveOptions { kubeconfig: Some(path), all_contexts: true, ..live },
            None => live,
        };
        let server = MockAzure::start(tenant, MockOptions { page_size: 50, ..Default::default() }).await?;
        let endpoints = Endpoints::new(Cloud::Custom, Some(&server.arm_url()), Some(&server.graph_url()), None)?;
        let tokens = server.token_env();
        let env = move |var: &str| tokens.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
        let source = DefaultTokenSource::new(&endpoints, &env, Some(&http));
        return collect_from(&endpoints, &source, options, kube, &live).await;
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
    collect_from(&endpoints, &source, options, kube, &live).await
}

/// Resolves subscription names, collects, and adds the Kubernetes clusters.
async fn collect_from(
    endpoints: &Endpoints,
    source: &dyn TokenSource,
    mut options: CollectOptions,
    kube: Vec<KubeCluster>,
    live: &LiveOptions,
) -> Result<Collected> {
    options.subscriptions = resolve_subscriptions(endpoints, source, &options).await?;
    let named_scopes = options
        .subscriptions
        .iter()
        .map(|id| format!("/subscriptions/{}", id.trim().trim_end_matches('/').trim_start_matches("/subscriptions/")))
        .chain(options.management_groups.iter().map(|m| collect::resources::management_group_scope(m.trim())))
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let mut snapshot = collect::collect(endpoints, source, &options).await?;
    add_kubernetes(&mut snapshot, kube, live).await?;
    Ok(Collected { snapshot, named_scopes })
}

/// Whether a `--subscription` value is an id (a GUID, bare or as `/subscriptions/{id}`) rather than a name.
fn is_subscription_id(value: &str) -> bool {
    let bare = value.trim().trim_end_matches('/').trim_start_matches("/subscriptions/");
    bare.len() == 36
        && bare.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The `--subscription` values as ids: an id as given; anything else looked up in the subscriptions listing
/// (`GET /subscriptions`, only when a value is not an id), by subscription id or by display name as `az`
/// does (case-insensitive, exact). A name that matches nothing, or several subscriptions, is a usage error
/// naming the near misses or the candidates' ids.
async fn resolve_subscriptions(
    endpoints: &Endpoints,
    source: &dyn TokenSource,
    options: &CollectOptions,
) -> Result<Vec<String>> {
    if options.subscriptions.iter().all(|s| is_subscription_id(s)) {
        return Ok(options.subscriptions.clone());
    }
    let http = options.http_client.clone().map_or_else(|| collect::build_client(None), Ok)?;
    let client = ApiClient::new(http, source, options.retry.clone()).with_request_timeout(options.request_timeout);
    let arm = Service::arm(endpoints);
    let listing = client.list::<Subscription>(&arm, collect::resources::subscriptions_url(&arm.base)).await;
    let mut ids = Vec::new();
    for value in &options.subscriptions {
        if is_subscription_id(value) {
            ids.push(value.clone());
            continue;
        }
        match (subscription_by_name(value, &listing.items), &listing.error) {
            (Ok(id), _) => ids.push(id),
            (Err(_), Some(e)) => {
                bail!("--subscription `{value}`: resolving the name: listing subscriptions failed: {e}")
            }
            (Err(e), None) => return Err(e.into()),
        }
    }
    Ok(ids)
}

/// The id of the one listed subscription whose id or display name is `value` (case-insensitive).
fn subscription_by_name(value: &str, listed: &[Subscription]) -> std::result::Result<String, UsageError> {
    let wanted = value.trim();
    let id_of = |s: &Subscription| {
        if s.subscription_id.is_empty() {
            s.id.rsplit('/').next().unwrap_or_default().to_string()
        } else {
            s.subscription_id.clone()
        }
    };
    if let Some(s) = listed.iter().find(|s| id_of(s).eq_ignore_ascii_case(wanted)) {
        return Ok(id_of(s));
    }
    let named: Vec<&Subscription> = listed
        .iter()
        .filter(|s| s.display_name.as_deref().is_some_and(|n| n.trim().to_lowercase() == wanted.to_lowercase()))
        .collect();
    match named.as_slice() {
        [one] => Ok(id_of(one)),
        [] => {
            let names = listed.iter().filter_map(|s| s.display_name.as_deref());
            Err(UsageError(visible(&format!(
                "--subscription `{value}` is neither a subscription id nor the name of one of the {} subscriptions the caller can see{}",
                listed.len(),
                did_you_mean(wanted, names)
            ))
            .into_owned()))
        }
        many => {
            let ids: Vec<String> = many.iter().map(|s| id_of(s)).collect();
            Err(UsageError(
                visible(&format!(
                    "--subscription `{value}` names {} subscriptions: give one of their ids: {}",
                    many.len(),
                    ids.join(", ")
                ))
                .into_owned(),
            ))
        }
    }
}

/// A mock tenant by directory or bundled name; an unknown name is a usage error listing the near misses.
pub(crate) fn load_mock_tenant(name: &str, flag: &str) -> Result<MockTenant> {
    match MockTenant::load_or_bundled(name) {
        Err(TenantError::NotFound(_)) => Err(UsageError(
            visible(&format!(
                "{flag} `{name}`: no tenant directory or bundled tenant of that name{} (see `azpath mock list`)",
                did_you_mean(name, azpath_mocks::bundled_names())
            ))
            .into_owned(),
        )
        .into()),
        other => other.with_context(|| format!("{flag} {name}")),
    }
}

/// Writes a kubeconfig for a tenant's mock clusters into a private temporary directory (removed when the
/// returned guard drops); no file when the tenant has no cluster.
pub(crate) fn mock_kubeconfig(tenant: &MockTenant, servers: &MockKube) -> Result<(tempfile::TempDir, Option<PathBuf>)> {
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
        MockCommand::Serve { tenant, page_size, throttle_rate, latency_ms, port, kube_port, emulation } => {
            let latency = Duration::from_millis(latency_ms);
            crate::mock_serve::serve(crate::mock_serve::ServeOptions {
                tenant,
                page_size,
                throttle_rate,
                latency,
                port,
                kube_port,
                emulation: emulation.options()?,
            })
        }
        MockCommand::Generate { size, seed, output, snapshot, users } => {
            let started = Instant::now();
            let tenant = match users {
                Some(users) => azpath_mocks::generate_for_collection(users, seed),
                None => azpath_mocks::generate(&GenerateOptions::sized(size, seed)),
            };
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
                    crate::output::write_private_with(&file, |out| tenant.to_snapshot().write_json(out))?;
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
