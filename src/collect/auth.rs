//! Bearer tokens for Azure Resource Manager and Microsoft Graph.
//!
//! Two sources, in this order per API: a pre-acquired token from `AZPATH_ARM_TOKEN` / `AZPATH_GRAPH_TOKEN`
//! (how CI, mocks and `az account get-access-token` users authenticate), otherwise a chain of azure_identity
//! credentials in the order users expect from other Azure tools. azure_identity 1.x has no
//! `DefaultAzureCredential`, so [`CredentialChain`] composes one: it tries each credential, remembers the one
//! that worked, and when none does reports every failure.
//!
//! Token values live only in [`AccessToken`], whose `Debug` and `Display` print `<redacted>`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureDeveloperCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use futures::future::BoxFuture;
use time::OffsetDateTime;

use super::cloud::Endpoints;

/// A bearer token. Its value is reachable only through [`AccessToken::secret`]; `Debug` and `Display`
/// print `<redacted>`, so a token can never leak through a log line or an error message by accident.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<str>,
    expires_on: Option<OffsetDateTime>,
}

impl AccessToken {
    /// Wraps a token value; `expires_on` is `None` when unknown (pre-acquired tokens).
    pub fn new(value: impl Into<String>, expires_on: Option<OffsetDateTime>) -> Self {
        AccessToken { value: Arc::from(value.into()), expires_on }
    }

    /// The token value, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.value
    }

    /// When the token expires, if known.
    pub fn expires_on(&self) -> Option<OffsetDateTime> {
        self.expires_on
    }

    /// True when the token expires within `margin` (never for a token of unknown expiry).
    fn expires_within(&self, margin: Duration) -> bool {
        self.expires_on.is_some_and(|t| t - OffsetDateTime::now_utc() < margin)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Azure Resource Manager.
    Arm,
    /// Microsoft Graph.
    Graph,
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Audience::Arm => "Azure Resource Manager",
            Audience::Graph => "Microsoft Graph",
        })
    }
}

/// No token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Every credential in the chain failed; each failure is listed (none of them holds a secret).
    #[error("no credential produced a {audience} token{}", list_failures(.failures))]
    NoCredential {
        /// The API the token was for.
        audience: Audience,
        /// `(credential name, why it failed)` for each credential tried.
        failures: Vec<(String, String)>,
    },
}

fn list_failures(failures: &[(String, String)]) -> String {
    if failures.is_empty() {
        return " (no credential is configured)".to_string();
    }
    failures.iter().map(|(name, why)| format!("\n  - {name}: {why}")).collect()
}

/// Gives the token for an API. Implementations cache and refresh as they see fit.
pub trait TokenSource: Send + Sync {
    /// A valid token for `audience`.
    fn token(&self, audience: Audience) -> BoxFuture<'_, Result<AccessToken, TokenError>>;
}

/// The environment variable holding a pre-acquired resource manager token.
pub const ARM_TOKEN_VAR: &str = "AZPATH_ARM_TOKEN";
/// The environment variable holding a pre-acquired Microsoft Graph token.
pub const GRAPH_TOKEN_VAR: &str = "AZPATH_GRAPH_TOKEN";

/// The token source azpath uses: `AZPATH_ARM_TOKEN` / `AZPATH_GRAPH_TOKEN` when set, otherwise a
/// [`CredentialChain`] asked for `{base}/.default` of the API's configured base URL.
pub struct DefaultTokenSource {
    arm_override: Option<AccessToken>,
    graph_override: Option<AccessToken>,
    arm_scope: String,
    graph_scope: String,
    chain: CredentialChain,
}

impl fmt::Debug for DefaultTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultTokenSource")
            .field("arm_override", &self.arm_override.is_some())
            .field("graph_override", &self.graph_override.is_some())
            .field("chain", &self.chain)
            .finish()
    }
}

impl DefaultTokenSource {
    /// Builds the source from an environment lookup (`std::env::var(..).ok()` in production; a map in tests,
    /// so that tests never touch the process environment). `http` is used by the azure_identity
    /// credentials (so `--ca-cert` applies to the authority too); `None` keeps azure_core's own client.
    pub fn new(endpoints: &Endpoints, env: &dyn Fn(&str) -> Option<String>, http: Option<&reqwest::Client>) -> Self {
        let token = |var: &str| env(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        DefaultTokenSource {
            arm_override: token(ARM_TOKEN_VAR).map(|v| AccessToken::new(v, None)),
            graph_override: token(GRAPH_TOKEN_VAR).map(|v| AccessToken::new(v, None)),
            arm_scope: endpoints.arm_scope(),
            graph_scope: endpoints.graph_scope(),
            chain: CredentialChain::from_env(endpoints, env, http),
        }
    }

    /// [`DefaultTokenSource::new`] reading the process environment.
    pub fn from_process_env(endpoints: &Endpoints, http: Option<&reqwest::Client>) -> Self {
        Self::new(endpoints, &|name| std::env::var(name).ok(), http)
    }
}

impl TokenSource for DefaultTokenSource {
    fn token(&self, audience: Audience) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        Box::pin(async move {
            let (fixed, scope) = match audience {
                Audience::Arm => (&self.arm_override, &self.arm_scope),
                Audience::Graph => (&self.graph_override, &self.graph_scope),
            };
            match fixed {
                Some(token) => Ok(token.clone()),
                None => self.chain.token(audience, scope).await,
            }
        })
    }
}

/// A credential of the chain, with its name for error reports and how long one attempt may take.
pub struct ChainLink {
    /// Name shown in failure reports (`AzureCliCredential`).
    pub name: String,
    /// The credential.
    pub credential: Arc<dyn TokenCredential>,
    /// Upper bound on one `get_token` call, so an unreachable metadata endpoint cannot stall the scan.
    pub timeout: Duration,
}

/// Tries credentials in order, remembers the first that worked, caches tokens per scope until 5 minutes
/// before they expire, and reports every failure when none works.
pub struct CredentialChain {
    links: Vec<ChainLink>,
    /// Credentials that could not even be constructed, reported with the runtime failures.
    setup_failures: Vec<(String, String)>,
    state: tokio::sync::Mutex<ChainState>,
}

#[derive(Default)]
struct ChainState {
    preferred: Option<usize>,
    cache: HashMap<String, AccessToken>,
}

impl fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.links.iter().map(|l| l.name.as_str()).collect();
        f.debug_struct("CredentialChain").field("credentials", &names).finish_non_exhaustive()
    }
}

const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl CredentialChain {
    /// A chain of the given credentials, tried in order.
    pub fn new(links: Vec<ChainLink>) -> Self {
        CredentialChain { links, setup_failures: Vec::new(), state: Default::default() }
    }

    /// The chain users expect, built from the environment:
    /// 1. `ClientSecretCredential`, when `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` are set;
    /// 2. `WorkloadIdentityCredential`, when `AZURE_FEDERATED_TOKEN_FILE` is set;
    /// 3. `ManagedIdentityCredential` (`AZURE_CLIENT_ID` selects a user-assigned identity);
    /// 4. `AzureCliCredential`; 5. `AzureDeveloperCliCredential`.
    ///
    /// Nothing is contacted until a token is asked for.
    pub fn from_env(
        endpoints: &Endpoints,
        env: &dyn Fn(&str) -> Option<String>,
        http: Option<&reqwest::Client>,
    ) -> Self {
        let var = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let client_options = || {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = endpoints.authority.as_str().trim_end_matches('/').to_string();
            ClientOptions {
                cloud: Some(Arc::new(CloudConfiguration::from(custom))),
                transport: http.map(|c| Transport::new(Arc::new(c.clone()))),
                ..Default::default()
            }
        };
        let tenant = var("AZURE_TENANT_ID");
        let client_id = var("AZURE_CLIENT_ID");
        let mut links = Vec::new();
        let mut setup_failures = Vec::new();
        let mut add = |name: &str, timeout: u64, made: azure_core::Result<Arc<dyn TokenCredential>>| match made {
            Ok(credential) => {
                links.push(ChainLink { name: name.to_string(), credential, timeout: Duration::from_secs(timeout) })
            }
            Err(e) => setup_failures.push((name.to_string(), e.to_string())),
        };

        if let (Some(tenant), Some(client), Some(secret)) = (&tenant, &client_id, var("AZURE_CLIENT_SECRET")) {
            let options = ClientSecretCredentialOptions { client_options: client_options() };
            let made = ClientSecretCredential::new(tenant, client.clone(), Secret::new(secret), Some(options));
            add("ClientSecretCredential", 60, made.map(|c| c as Arc<dyn TokenCredential>));
        }
        if let Some(file) = var("AZURE_FEDERATED_TOKEN_FILE") {
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions { client_options: client_options() },
                client_id: client_id.clone(),
                tenant_id: tenant.clone(),
                token_file_path: Some(PathBuf::from(file)),
            };
            let made = WorkloadIdentityCredential::new(Some(options));
            add("WorkloadIdentityCredential", 60, made.map(|c| c as Arc<dyn TokenCredential>));
        }
        let mi_options = ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.clone().map(azure_identity::UserAssignedId::ClientId),
            client_options: ClientOptions {
                transport: http.map(|c| Transport::new(Arc::new(c.clone()))),
                ..Default::default()
            },
        };
        // Off Azure the metadata endpoint does not answer; a short bound keeps the CLI credentials usable.
        add(
            "ManagedIdentityCredential",
            10,
            ManagedIdentityCredential::new(Some(mi_options)).map(|c| c as Arc<dyn TokenCredential>),
        );
        add("AzureCliCredential", 60, AzureCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>));
        add(
            "AzureDeveloperCliCredential",
            60,
            AzureDeveloperCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>),
        );
        CredentialChain { links, setup_failures, state: Default::default() }
    }

    /// A token for `scope`, from the cache or the first credential that gives one.
    pub async fn token(&self, audience: Audience, scope: &str) -> Result<AccessToken, TokenError> {
        // Held across the credential calls: concurrent requests wait for one sign-in instead of starting many.
        let mut state = self.state.lock().await;
        if let Some(token) = state.cache.get(scope) {
            if !token.expires_within(REFRESH_MARGIN) {
                return Ok(token.clone());
            }
        }
        let order: Vec<usize> =
            state.preferred.into_iter().chain((0..self.links.len()).filter(|&i| Some(i) != state.preferred)).collect();
        let mut failures = self.setup_failures.clone();
        for i in order {
            let Some(link) = self.links.get(i) else { continue };
            let attempt = tokio::time::timeout(link.timeout, link.credential.get_token(&[scope], None)).await;
            match attempt {
                Ok(Ok(t)) => {
                    tracing::debug!(credential = %link.name, %audience, "token acquired");
                    let token = AccessToken::new(t.token.secret(), Some(t.expires_on));
                    state.preferred = Some(i);
                    state.cache.insert(scope.to_string(), token.clone());
                    return Ok(token);
                }
                Ok(Err(e)) => failures.push((link.name.clone(), first_line(&e.to_string()))),
                Err(_) => failures.push((link.name.clone(), format!("no answer within {} s", link.timeout.as_secs()))),
            }
        }
        Err(TokenError::NoCredential { audience, failures })
    }
}

/// azure_identity errors append a troubleshooting paragraph; one line per credential reads better.
fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_prints() {
        let t = AccessToken::new("eyJ0eXAi.secret", None);
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
        assert_eq!(t.to_string(), "<redacted>");
        assert_eq!(t.secret(), "eyJ0eXAi.secret");
    }
}
