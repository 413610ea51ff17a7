//! `--notify-webhook URL`: a concise JSON summary of the findings a run announces, POSTed to a webhook
//! (Slack, Teams, or any receiver that reads JSON).
//!
//! What it promises:
//! - The summary names ids, names, scopes, tiers and fix commands only: it is built from the report, which has no
//!   place for a secret value (the snapshot keeps none), and from nothing else. The webhook URL itself is treated
//!   as a secret (Slack and Teams put a token in its path): messages show its origin only.
//! - `https` only, plain `http` to a loopback host alone (the rule tokens follow, [`is_loopback`]).
//! - 429, 5xx and connection failures are retried with exponential backoff (`backon`'s schedule), never before
//!   the receiver's `Retry-After`, within a total deadline; other statuses are final.
//! - [`send`] returns an error the caller reports as a warning: a receiver that is down never fails or loses
//!   the scan (the report is written first).
//!
//! [`summary`] takes the findings to announce as a list: today every finding of the run; with a baseline, only the
//! new ones.

use std::time::{Duration, Instant, SystemTime};

use azpath_graph::findings::{Finding, NodeRef, Reach, Report};
use azpath_graph::model::Severity;
use backon::BackoffBuilder;
use serde_json::{json, Value};
use url::Url;

use crate::collect::cloud::is_loopback;
use crate::collect::http::retry_after;

/// Version of the summary's JSON shape (`schema_version` in it).
pub const SUMMARY_VERSION: u32 = 1;

/// How many findings the summary lists (the counts cover all of them).
pub const TOP_FINDINGS: usize = 10;

/// A webhook URL accepted for POSTing a summary: `https`, or `http` to a loopback host.
#[derive(Clone)]
pub struct Webhook {
    url: Url,
}

impl std::fmt::Debug for Webhook {
    // The path and query may hold the receiver's token: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({})", self.origin())
    }
}

impl Webhook {
    /// Parses and checks a webhook URL.
    pub fn parse(value: &str) -> Result<Webhook, NotifyError> {
        let url = Url::parse(value.trim()).map_err(|e| NotifyError::InvalidUrl { message: e.to_string() })?;
        match url.scheme() {
            "https" if url.host().is_some() => Ok(Webhook { url }),
            "http" if is_loopback(&url) => Ok(Webhook { url }),
            "http" => Err(NotifyError::PlainHttp { origin: origin_of(&url) }),
            other => Err(NotifyError::InvalidUrl { message: format!("scheme `{other}` is not https") }),
        }
    }

    /// `scheme://host[:port]`: how the webhook is named in messages (its path may hold a token).
    pub fn origin(&self) -> String {
        origin_of(&self.url)
    }
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Why a summary was not delivered (or a webhook URL refused).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The URL does not parse, or is not http(s).
    #[error("--notify-webhook: not a usable URL: {message}")]
    InvalidUrl {
        /// What is wrong with it.
        message: String,
    },
    /// `http://` to a host that is not on this machine: the summary and the URL's token would cross the
    /// network in clear text.
    #[error(
        "--notify-webhook: `{origin}` uses http; only https is allowed, except for loopback hosts (127.0.0.0/8, ::1, localhost)"
    )]
    PlainHttp {
        /// The URL's origin.
        origin: String,
    },
    /// The receiver answered a status that retrying will not change (4xx other than 429).
    #[error("webhook {origin} refused the summary: HTTP {status}")]
    Refused {
        /// The webhook's origin.
        origin: String,
        /// The status it answered.
        status: u16,
    },
    /// Every attempt failed, or the next one would pass the deadline.
    #[error("webhook {origin}: summary not delivered after {attempts} attempt(s) in {elapsed_secs} s: {last}")]
    GaveUp {
        /// The webhook's origin.
        origin: String,
        /// Attempts made.
        attempts: u32,
        /// Seconds spent.
        elapsed_secs: u64,
        /// The last failure (a status or a transport error, without the URL's path).
        last: String,
    },
}

/// How hard [`send`] tries.
#[derive(Debug, Clone)]
pub struct NotifyOptions {
    /// Time from the first attempt after which no attempt starts and none is waited for.
    pub deadline: Duration,
    /// Most attempts.
    pub max_attempts: u32,
    /// First backoff delay when the receiver gives no `Retry-After`.
    pub initial_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        NotifyOptions {
            deadline: Duration::from_secs(30),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// What a delivery took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Attempts made (1 when the first one was accepted).
    pub attempts: u32,
}

/// The summary of `findings` (the ones to announce; in the report's order) from `report`: counts by severity
/// and reach, the first [`TOP_FINDINGS`] with principal, scope, tiers and fix command, the report's totals,
/// and a Slack/Teams `text`.
pub fn summary(report: &Report, findings: &[&Finding]) -> Value {
    let mut by_severity = serde_json::Map::new();
    for severity in Severity::ALL.iter().rev() {
        let n = findings.iter().filter(|f| f.severity == *severity).count();
        by_severity.insert(severity.as_str().to_string(), n.into());
    }
    let reach = |r: Reach| findings.iter().filter(|f| f.reach == r).count();
    let top: Vec<Value> = findings.iter().take(TOP_FINDINGS).map(|f| finding_json(f)).collect();
    json!({
        "schema_version": SUMMARY_VERSION,
        "tool": "azpath",
        "tool_version": report.tool_version,
        "collected_at": report.collected_at,
        "text": text(report, findings),
        "counts": {
            "findings": findings.len(),
            "by_severity": by_severity,
            "by_reach": {"escalation": reach(Reach::Escalation), "standing": reach(Reach::Standing)},
        },
        "findings": top,
        "more_findings": findings.len().saturating_sub(TOP_FINDINGS),
        "report": {
            "findings": report.findings.len(),
            "posture_findings": report.posture.len(),
            "coverage_gaps": report.coverage.len(),
        },
    })
}

fn node_json(n: &NodeRef) -> Value {
    json!({"kind": n.kind, "id": n.id, "display_name": n.display_name})
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "severity": f.severity,
        "reach": f.reach,
        "principal": node_json(&f.principal),
        "scope": node_json(&f.scope),
        "members": f.members.count,
        "tiers": f.tiers.iter().map(|t| t.query_id.as_str()).collect::<Vec<_>>(),
        "eligible": f.eligible,
        "fix": f.remediation.summary,
        "command": f.remediation.command,
    })
}

/// The message text: one headline, then one line per listed finding. Slack's control characters (`&`, `<`,
/// `>`) are escaped, so a display name cannot mention `@channel` or forge a link.
fn text(report: &Report, findings: &[&Finding]) -> String {
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            let n = findings.iter().filter(|f| f.severity == *s).count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    let escalations = findings.iter().filter(|f| f.reach == Reach::Escalation).count();
    let mut lines = vec![format!(
        "azpath: {} finding(s) in the scan collected at {} ({}; {} escalation, {} standing)",
        findings.len(),
        report.collected_at,
        if counts.is_empty() { "none".to_string() } else { counts.join(", ") },
        escalations,
        findings.len() - escalations,
    )];
    for f in findings.iter().take(TOP_FINDINGS) {
        let tiers: Vec<&str> = f.tiers.iter().map(|t| t.query_id.as_str()).collect();
        lines.push(format!(
            "• [{}] {} {} → {} ({})",
            f.severity,
            f.reach.as_str(),
            name(&f.principal),
            name(&f.scope),
            tiers.join(", ")
        ));
        if let Some(command) = &f.remediation.command {
            lines.push(format!("  fix: {command}"));
        }
    }
    if findings.len() > TOP_FINDINGS {
        lines.push(format!("…and {} more", findings.len() - TOP_FINDINGS));
    }
    slack_escape(&lines.join("\n"))
}

fn name(n: &NodeRef) -> &str {
    if n.display_name.is_empty() {
        &n.id
    } else {
        &n.display_name
    }
}

/// Escapes the three characters Slack's message format reserves.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// POSTs `body` to the webhook, retrying 429, 5xx and connection failures (after `Retry-After` when given,
/// else with exponential backoff) until accepted, refused, or out of attempts or time.
pub async fn send(
    http: &reqwest::Client,
    hook: &Webhook,
    body: &Value,
    options: &NotifyOptions,
) -> Result<Delivered, NotifyError> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(options.initial_backoff)
        .with_max_delay(options.max_backoff)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let left = options.deadline.saturating_sub(started.elapsed());
        let outcome = tokio::time::timeout(left, post(http, hook, &bytes))
            .await
            .unwrap_or_else(|_| Outcome::Retry { last: "no answer before the deadline".into(), after: None });
        let (last, after) = match outcome {
            Outcome::Accepted => return Ok(Delivered { attempts: attempt }),
            Outcome::Refused(status) => return Err(NotifyError::Refused { origin: hook.origin(), status }),
            Outcome::Retry { last, after } => (last, after),
        };
        let delay = after.unwrap_or_else(|| backoff.next().unwrap_or(options.max_backoff));
        let past_deadline = started.elapsed() + delay >= options.deadline;
        if attempt >= options.max_attempts || past_deadline {
            let elapsed_secs = started.elapsed().as_secs();
            return Err(NotifyError::GaveUp { origin: hook.origin(), attempts: attempt, elapsed_secs, last });
        }
        tracing::debug!(webhook = %hook.origin(), attempt, delay_ms = delay.as_millis() as u64, %last, "retrying the webhook");
        tokio::time::sleep(delay).await;
    }
}

/// What one POST gave.
enum Outcome {
    /// A 2xx.
    Accepted,
    /// A status that retrying will not change.
    Refused(u16),
    /// Worth another attempt: what failed, and the receiver's `Retry-After`.
    Retry { last: String, after: Option<Duration> },
}

async fn post(http: &reqwest::Client, hook: &Webhook, body: &[u8]) -> Outcome {
    let sent = http
        .post(hook.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        // reqwest's message names the URL, path included: say only what kind of failure it was.
        Err(e) => return Outcome::Retry { last: transport_failure(&e), after: None },
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Accepted;
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let after = retry_after(response.headers(), SystemTime::now());
        return Outcome::Retry { last: format!("HTTP {}", status.as_u16()), after };
    }
    Outcome::Refused(status.as_u16())
}

/// A transport failure's class, without the URL reqwest would quote.
fn transport_failure(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    what.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_accepted() {
        assert!(Webhook::parse("https://hooks.slack.com/services/T0/B0/secret").is_ok());
        assert!(Webhook::parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(Webhook::parse("http://localhost/hook").is_ok());
        assert!(Webhook::parse("http://[::1]:9/hook").is_ok());
        let e = Webhook::parse("http://hooks.example.com/services/secret").unwrap_err();
        assert!(matches!(e, NotifyError::PlainHttp { .. }), "{e}");
        assert!(!e.to_string().contains("secret"), "the path is shown: {e}");
        assert!(Webhook::parse("ftp://example.com/x").is_err());
        assert!(Webhook::parse("not a url").is_err());
    }

    #[test]
    fn the_webhook_is_shown_by_its_origin_only() {
        let hook = Webhook::parse("https://hooks.slack.com/services/T0/B0/XYZsecret?token=abc").unwrap();
        assert_eq!(hook.origin(), "https://hooks.slack.com");
        assert_eq!(format!("{hook:?}"), "Webhook(https://hooks.slack.com)");
    }

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(slack_escape("<!channel> & <http://x|y>"), "&lt;!channel&gt; &amp; &lt;http://x|y&gt;");
        assert_eq!(slack_escape("plain → text"), "plain → text");
    }
}
