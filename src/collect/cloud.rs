//! Which Azure cloud to talk to: the resource manager, Microsoft Graph and Entra authority base URLs.
//!
//! Every bearer token azpath holds is sent only to one of these origins, so they are validated once, here:
//! `https` always, plain `http` only to a loopback host (a mock server on this machine).

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

/// A known Azure cloud, or a custom one (Azure Stack, a sovereign or private cloud, a mock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cloud {
    /// Azure public cloud.
    #[default]
    Public,
    /// Azure Government (US).
    UsGov,
    /// Azure operated by 21Vianet (China).
    China,
    /// Any other cloud: `--arm-url` and `--graph-url` are required.
    Custom,
}

impl Cloud {
    /// The name used on the command line and in snapshot metadata (`public`, `usgov`, `china`, `custom`).
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::UsGov => "usgov",
            Cloud::China => "china",
            Cloud::Custom => "custom",
        }
    }

    /// Default (ARM, Graph, authority) base URLs of a known cloud; `None` for [`Cloud::Custom`].
    fn defaults(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Cloud::Public => Some((
                "https://management.azure.com",
                "https://graph.microsoft.com",
                "https://login.microsoftonline.com",
            )),
            Cloud::UsGov => Some((
                "https://management.usgovcloudapi.net",
                "https://graph.microsoft.us",
                "https://login.microsoftonline.us",
            )),
            Cloud::China => Some((
                "https://management.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://login.chinacloudapi.cn",
            )),
            Cloud::Custom => None,
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Cloud {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" => Ok(Cloud::Public),
            "usgov" | "azureusgovernment" => Ok(Cloud::UsGov),
            "china" | "azurechinacloud" => Ok(Cloud::China),
            "custom" => Ok(Cloud::Custom),
            _ => Err(EndpointError::UnknownCloud(s.to_string())),
        }
    }
}

/// An invalid cloud or endpoint setting. Each message names the command-line flag to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// `--cloud` was not one of the known names.
    #[error("--cloud: unknown cloud `{0}` (expected public, usgov, china or custom)")]
    UnknownCloud(String),
    /// `--cloud custom` without a required URL.
    #[error("{flag} is required with --cloud custom")]
    Missing {
        /// The flag that must be given.
        flag: &'static str,
    },
    /// The URL does not parse, or is not a plain base URL.
    #[error("{flag}: `{value}` is not a valid base URL: {reason}")]
    Invalid {
        /// The offending flag.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `http://` to a host that is not loopback: a token would cross the network in clear text.
    #[error(
        "{flag}: `{value}` uses http; only https is allowed, except for loopback hosts (127.0.0.0/8, ::1, localhost)"
    )]
    Insecure {
        /// The offending flag.
        flag: &'static str,
        /// The value given.
        value: String,
    },
}

/// The validated base URLs of one cloud. Construct with [`Endpoints::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The cloud these endpoints belong to.
    pub cloud: Cloud,
    /// Azure Resource Manager base URL (`https://management.azure.com/`).
    pub arm: Url,
    /// Microsoft Graph base URL (`https://graph.microsoft.com/`).
    pub graph: Url,
    /// Entra ID authority host (`https://login.microsoftonline.com/`).
    pub authority: Url,
}

impl Endpoints {
    /// Resolves and validates the endpoints of `cloud`, with optional overrides (`--arm-url`, `--graph-url`,
    /// `--authority-url`). A custom cloud needs `arm` and `graph`; its authority defaults to the public one.
    /// Every URL must be `https`, or `http` to a loopback host.
    pub fn new(
        cloud: Cloud,
        arm: Option<&str>,
        graph: Option<&str>,
        authority: Option<&str>,
    ) -> Result<Self, EndpointError> {
        let (default_arm, default_graph, default_authority) = match cloud.defaults() {
            Some((a, g, l)) => (Some(a), Some(g), l),
            // A custom cloud without an authority most likely still signs in with Entra ID (a mock, or
            // pre-acquired tokens): the public authority is the least surprising default.
            None => (None, None, "https://login.microsoftonline.com"),
        };
        let arm = arm.or(default_arm).ok_or(EndpointError::Missing { flag: "--arm-url" })?;
        let graph = graph.or(default_graph).ok_or(EndpointError::Missing { flag: "--graph-url" })?;
        let authority = authority.unwrap_or(default_authority);
        Ok(Endpoints {
            cloud,
            arm: validate_base("--arm-url", arm)?,
            graph: validate_base("--graph-url", graph)?,
            authority: validate_base("--authority-url", authority)?,
        })
    }

    /// The OAuth scope for resource manager tokens: `{arm}/.default`.
    pub fn arm_scope(&self) -> String {
        default_scope(&self.arm)
    }

    /// The OAuth scope for Microsoft Graph tokens: `{graph}/.default`.
    pub fn graph_scope(&self) -> String {
        default_scope(&self.graph)
    }
}

fn default_scope(base: &Url) -> String {
    format!("{}/.default", base.as_str().trim_end_matches('/'))
}

/// Parses a base URL and enforces the transport rule; the result always ends with `/` so that
/// `Url::join("subscriptions")` keeps any path prefix (Azure Stack serves ARM under a path).
fn validate_base(flag: &'static str, value: &str) -> Result<Url, EndpointError> {
    let invalid = |reason: &str| EndpointError::Invalid { flag, value: value.to_string(), reason: reason.to_string() };
    let mut url = Url::parse(value.trim()).map_err(|e| invalid(&e.to_string()))?;
    if url.host().is_none() {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(EndpointError::Insecure { flag, value: value.to_string() }),
        other => return Err(invalid(&format!("scheme `{other}` is not http(s)"))),
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// True when the URL's host is on this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_clouds_resolve() {
        let e = Endpoints::new(Cloud::China, None, None, None).unwrap();
        assert_eq!(e.arm.as_str(), "https://management.chinacloudapi.cn/");
        assert_eq!(e.graph_scope(), "https://microsoftgraph.chinacloudapi.cn/.default");
    }

    #[test]
    fn path_prefix_is_kept() {
        let e = Endpoints::new(Cloud::Custom, Some("https://stack.local/arm"), Some("https://g.local"), None).unwrap();
        assert_eq!(e.arm.join("subscriptions").unwrap().as_str(), "https://stack.local/arm/subscriptions");
        assert_eq!(e.arm_scope(), "https://stack.local/arm/.default");
    }
}
