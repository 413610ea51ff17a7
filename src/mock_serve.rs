//! `azpath mock serve`: a mock tenant on loopback until Ctrl-C or SIGTERM (both print the same request
//! counts), on fixed ports with `--port` (and `--kube-port` for the clusters' Kubernetes APIs), reloading a
//! tenant folder, its Kubernetes dumps included, when its files change (or on SIGHUP).
//!
//! Change detection is a poll of the folder's file names, sizes and modification times once a second rather than
//! a file-system watcher crate (`notify`): it needs no new dependency, and also sees changes that inotify misses
//! (network file systems, a Kubernetes ConfigMap volume swapping its `..data` symlink). A hand-written tenant
//! holds a few dozen files, but a generated 400k-user one holds a member file per group (40k files), so the
//! poll waits [`POLL_SHARE`] times as long as the last look took, keeping it to a small share of one core.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use azpath_mocks::throttle::ThrottleOptions;
use azpath_mocks::{MockAzure, MockKube, MockKubeOptions, MockOptions, MockStats, MockTenant};

use crate::render::text::visible;
use crate::scan::{load_mock_tenant, mock_kubeconfig};

/// How `mock serve` was asked to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Bundled tenant name or tenant folder.
    pub tenant: String,
    /// Records per page.
    pub page_size: usize,
    /// Fraction of requests answered 429.
    pub throttle_rate: f64,
    /// Added latency per response.
    pub latency: Duration,
    /// ARM on this port and Graph on the next; `None`: free ports.
    pub port: Option<u16>,
    /// The clusters' Kubernetes API servers on this port and the next ones (name order); `None`: free ports.
    pub kube_port: Option<u16>,
    /// Emulated Azure limits, latency and injected faults (`--latency`, `--throttle`, `--inject-429`,
    /// `--inject-503`).
    pub emulation: ThrottleOptions,
}

/// How often the tenant folder is checked for changes, at most.
const POLL: Duration = Duration::from_secs(1);

/// The wait between two looks at the folder is at least this many times as long as the last look took (5 %
/// of a core at most).
const POLL_SHARE: u32 = 20;

/// The wait before the next look at the folder, when the last one took `took`.
fn poll_interval(took: Duration) -> Duration {
    POLL.max(took.saturating_mul(POLL_SHARE))
}

/// Serves until Ctrl-C or SIGTERM, then prints what was served.
pub fn serve(opts: ServeOptions) -> Result<u8> {
    if !(0.0..=1.0).contains(&opts.throttle_rate) {
        anyhow::bail!("--throttle-rate: {} is not between 0 and 1", opts.throttle_rate);
    }
    let (arm_port, graph_port) = ports(opts.port)?;
    let tenant = load_mock_tenant(&opts.tenant, "mock serve")?;
    // A folder is watched; a bundled tenant cannot change.
    let folder = Path::new(&opts.tenant).is_dir().then(|| PathBuf::from(&opts.tenant));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let options = MockOptions {
            page_size: opts.page_size.max(1),
            throttle_rate: opts.throttle_rate,
            latency: opts.latency,
            arm_port,
            graph_port,
            emulation: opts.emulation.clone(),
            ..Default::default()
        };
        let kube_options =
            MockKubeOptions { page_size: opts.page_size, base_port: opts.kube_port, ..Default::default() };
        let kube = MockKube::start(&tenant.kube, kube_options).await?;
        // Lives until the server stops.
        let (_kubeconfig_dir, kubeconfig) = mock_kubeconfig(&tenant, &kube)?;
        let clusters: Vec<String> = tenant.kube.iter().map(|d| d.cluster.clone()).collect();
        let server = MockAzure::start(tenant, options).await?;
        let signals = Signals::install()?;
        print_banner(&opts.tenant, &server, &kube, &clusters, kubeconfig.as_deref(), folder.is_some());
        let signal = Serving { server: &server, kube: &kube, folder: folder.as_deref() }.run(signals).await?;
        eprint!("{}", stop_summary(&server.stats()));
        tracing::debug!(signal, "mock serve stopped");
        anyhow::Ok(0u8)
    })
}

/// What `mock serve` prints when it stops: the request counts and, with the emulation on, its counters and
/// the floor (the same figures `GET /_mock/stats` serves as JSON).
fn stop_summary(stats: &MockStats) -> String {
    let mut text = format!("served {} requests ({} throttled)\n", stats.total(), stats.throttled);
    if let (Some(e), Some(floor)) = (&stats.emulation, &stats.floor) {
        let units = |k: &str| e.units.get(k).copied().unwrap_or(0);
        text.push_str(&format!(
            "emulation: {} requests, {} Graph RU, {} ARM reads, {} bucket 429s, {} injected 429s, {} injected 503s, \
             {} early retries, {} max in flight, busy {:.1}s\n",
            e.requests,
            units("graph"),
            units("arm"),
            e.bucket_429s.values().sum::<u64>(),
            e.injected_429s,
            e.injected_503s,
            e.early_retries,
            e.max_in_flight,
            e.busy_secs
        ));
        text.push_str(&format!(
            "floor {:.1}s (chain of {} requests {:.1}s, Graph RU {:.1}s, ARM buckets {:.1}s)\n",
            floor.secs, floor.chain_requests, floor.chain_secs, floor.graph_ru_secs, floor.arm_secs
        ));
    }
    text
}

/// The ARM and Graph ports for `--port N`: N and N + 1 (0 for both without it).
fn ports(port: Option<u16>) -> Result<(u16, u16)> {
    match port {
        None => Ok((0, 0)),
        Some(0) => Ok((0, 0)),
        Some(p) => {
            let graph =
                p.checked_add(1).context("--port: the Graph server needs the next port; give one below 65535")?;
            Ok((p, graph))
        }
    }
}

fn print_banner(
    name: &str,
    server: &MockAzure,
    kube: &MockKube,
    clusters: &[String],
    kubeconfig: Option<&Path>,
    watched: bool,
) {
    let reload = if watched { "; edits to the folder are served within a second, SIGHUP reloads" } else { "" };
    println!("{}", visible(&format!("Serving mock tenant `{name}` (Ctrl-C or SIGTERM to stop{reload}).")));
    println!("  ARM:   {}", server.arm_url());
    println!("  Graph: {}", server.graph_url());
    println!("  Counters (JSON): {}{}", server.arm_url(), azpath_mocks::server::STATS_PATH);
    for cluster in clusters {
        println!("{}", visible(&format!("  Kubernetes `{cluster}`: {}", kube.url(cluster).unwrap_or_default())));
    }
    let kube_args = match kubeconfig {
        Some(path) => format!(" --kubeconfig {} --all-kube-contexts", path.display()),
        None => String::new(),
    };
    let [(arm_var, arm_token), (graph_var, graph_token)] = server.token_env();
    println!("Scan it from another shell with:");
    println!(
        "{}",
        visible(&format!(
            "  {arm_var}={arm_token} {graph_var}={graph_token} azpath scan --cloud custom --arm-url {} --graph-url {}{kube_args}",
            server.arm_url(),
            server.graph_url()
        ))
    );
}

/// A running `mock serve`: waits for a stop signal, reloading the folder on changes and SIGHUP meanwhile.
struct Serving<'a> {
    server: &'a MockAzure,
    kube: &'a MockKube,
    folder: Option<&'a Path>,
}

/// The signals `mock serve` answers, listened to from before the banner says it is up (a signal that arrives
/// with no listener is lost), for as long as it serves.
struct Signals {
    interrupt: Arrivals,
    terminate: Arrivals,
    hangup: Arrivals,
}

impl Signals {
    fn install() -> Result<Signals> {
        Ok(Signals {
            interrupt: Arrivals::interrupt()?,
            terminate: Arrivals::terminate()?,
            hangup: Arrivals::hangup()?,
        })
    }
}

impl Serving<'_> {
    /// Serves until Ctrl-C or SIGTERM; returns the signal's name.
    async fn run(&self, mut signals: Signals) -> Result<&'static str> {
        let started = std::time::Instant::now();
        let mut seen = self.folder.map(fingerprint);
        let mut wait = poll_interval(started.elapsed());
        loop {
            tokio::select! {
                _ = signals.interrupt.recv() => return Ok("SIGINT"),
                _ = signals.terminate.recv() => return Ok("SIGTERM"),
                _ = signals.hangup.recv() => self.reload("SIGHUP"),
                _ = tokio::time::sleep(wait) => {
                    let Some(dir) = self.folder else { continue };
                    let started = std::time::Instant::now();
                    let now = Some(fingerprint(dir));
                    wait = poll_interval(started.elapsed());
                    if now != seen {
                        seen = now;
                        self.reload("a change in the folder");
                    }
                }
            }
        }
    }

    /// Loads the folder again and serves it; a folder that does not load (a file half written) keeps the
    /// previous tenant, with a warning.
    fn reload(&self, why: &str) {
        let Some(dir) = self.folder else {
            eprintln!("{why}: a bundled tenant cannot change; nothing reloaded");
            return;
        };
        match MockTenant::load(dir) {
            Ok(tenant) => {
                let kube = self.kube.reload(&tenant.kube);
                self.server.reload(tenant);
                eprintln!("{}", visible(&format!("reloaded {} ({why})", dir.display())));
                for (clusters, what) in [
                    (kube.new, "not served: restart `mock serve` to serve it"),
                    (kube.missing, "has no dump any more: still serving its last one"),
                ] {
                    for cluster in clusters {
                        eprintln!("{}", visible(&format!("warning: Kubernetes cluster `{cluster}` {what}")));
                    }
                }
            }
            Err(e) => eprintln!(
                "{}",
                visible(&format!(
                    "warning: reloading {} ({why}): {:#}; still serving the previous tenant",
                    dir.display(),
                    anyhow::Error::from(e)
                ))
            ),
        }
    }
}

/// Every file under `dir` with its size and modification time, sorted: any edit, addition or removal changes it.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            // `metadata` follows symlinks, as loading the tenant does.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if meta.is_dir() {
                pending.push(path);
            } else {
                files.push((path, meta.len(), meta.modified().ok()));
            }
        }
    }
    files.sort();
    files
}

/// Arrivals of one Unix signal (elsewhere only Ctrl-C arrives).
struct Arrivals {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    interrupt: bool,
}

impl Arrivals {
    fn interrupt() -> Result<Arrivals> {
        #[cfg(unix)]
        return Arrivals::of(tokio::signal::unix::SignalKind::interrupt(), "SIGINT");
        #[cfg(not(unix))]
        Ok(Arrivals { interrupt: true })
    }

    fn terminate() -> Result<Arrivals> {
        #[cfg(unix)]
        return Arrivals::of(tokio::signal::unix::SignalKind::terminate(), "SIGTERM");
        #[cfg(not(unix))]
        Ok(Arrivals { interrupt: false })
    }

    fn hangup() -> Result<Arrivals> {
        #[cfg(unix)]
        return Arrivals::of(tokio::signal::unix::SignalKind::hangup(), "SIGHUP");
        #[cfg(not(unix))]
        Ok(Arrivals { interrupt: false })
    }

    #[cfg(unix)]
    fn of(kind: tokio::signal::unix::SignalKind, name: &str) -> Result<Arrivals> {
        let signal = tokio::signal::unix::signal(kind).with_context(|| format!("installing the {name} handler"))?;
        Ok(Arrivals { signal })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        if self.interrupt {
            let _ = tokio::signal::ctrl_c().await;
        } else {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_n_gives_arm_n_and_graph_n_plus_one() {
        assert_eq!(ports(None).unwrap(), (0, 0));
        assert_eq!(ports(Some(8443)).unwrap(), (8443, 8444));
        assert!(ports(Some(u16::MAX)).is_err());
    }

    #[test]
    fn the_stop_summary_shows_the_emulation_only_when_on() {
        let plain = MockStats::default();
        assert_eq!(stop_summary(&plain), "served 0 requests (0 throttled)\n");
        let on = MockStats {
            emulation: Some(azpath_mocks::throttle::ThrottleStats {
                requests: 7,
                early_retries: 2,
                ..Default::default()
            }),
            floor: Some(azpath_mocks::throttle::Floor { secs: 1.5, chain_requests: 3, ..Default::default() }),
            ..Default::default()
        };
        let text = stop_summary(&on);
        assert!(text.contains("emulation: 7 requests") && text.contains("2 early retries"), "{text}");
        assert!(text.contains("floor 1.5s (chain of 3 requests"), "{text}");
    }

    #[test]
    fn a_slow_look_at_the_folder_spaces_the_polls() {
        assert_eq!(poll_interval(Duration::ZERO), POLL);
        assert_eq!(poll_interval(Duration::from_millis(20)), POLL, "a small folder: once a second");
        assert_eq!(poll_interval(Duration::from_millis(150)), Duration::from_secs(3), "40k files: 20 x the look");
    }

    #[test]
    fn the_fingerprint_changes_with_an_edit_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("arm")).unwrap();
        std::fs::write(dir.path().join("arm/a.json"), "{}").unwrap();
        let before = fingerprint(dir.path());
        assert_eq!(before, fingerprint(dir.path()), "nothing changed");
        std::fs::write(dir.path().join("arm/a.json"), "{\"value\": []}").unwrap();
        assert_ne!(before, fingerprint(dir.path()), "an edit");
        let edited = fingerprint(dir.path());
        std::fs::write(dir.path().join("b.json"), "{}").unwrap();
        assert_ne!(edited, fingerprint(dir.path()), "a new file");
    }
}
