//! Endpoint validation (https, loopback-only http) and token handling (redaction, env overrides, the
//! credential chain's order, memory and failure report). No network: the chain is given fake credentials.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use azpath::collect::auth::{
    AccessToken, Audience, ChainLink, CredentialChain, DefaultTokenSource, TokenError, TokenSource,
};
use azpath::collect::{Cloud, EndpointError, Endpoints};
use azure_core::credentials::{TokenCredential, TokenRequestOptions};
use time::OffsetDateTime;

#[test]
fn known_clouds_have_their_endpoints() {
    let cases = [
        (
            Cloud::Public,
            "https://management.azure.com/",
            "https://graph.microsoft.com/",
            "https://login.microsoftonline.com/",
        ),
        (
            Cloud::UsGov,
            "https://management.usgovcloudapi.net/",
            "https://graph.microsoft.us/",
            "https://login.microsoftonline.us/",
        ),
        (
            Cloud::China,
            "https://management.chinacloudapi.cn/",
            "https://microsoftgraph.chinacloudapi.cn/",
            "https://login.chinacloudapi.cn/",
        ),
    ];
    for (cloud, arm, graph, login) in cases {
        let e = Endpoints::new(cloud, None, None, None).unwrap();
        assert_eq!((e.arm.as_str(), e.graph.as_str(), e.authority.as_str()), (arm, graph, login));
    }
    let e = Endpoints::new(Cloud::Public, None, None, None).unwrap();
    assert_eq!(e.arm_scope(), "https://management.azure.com/.default");
    assert_eq!("usgov".parse::<Cloud>().unwrap(), Cloud::UsGov);
    assert!("mars".parse::<Cloud>().unwrap_err().to_string().contains("--cloud"));
}

#[test]
fn loopback_http_is_accepted() {
    for arm in ["http://127.0.0.1:8080", "http://127.3.4.5", "http://[::1]:9000/arm", "http://localhost:1234"] {
        let e = Endpoints::new(Cloud::Custom, Some(arm), Some("https://graph.example"), None);
        assert!(e.is_ok(), "{arm}: {e:?}");
    }
    let e = Endpoints::new(
        Cloud::Custom,
        Some("https://arm.example"),
        Some("http://127.0.0.1:1"),
        Some("http://localhost:2"),
    );
    assert!(e.is_ok(), "{e:?}");
}

#[test]
fn plain_http_elsewhere_is_refused_naming_the_flag() {
    for (arm, graph, authority, flag) in [
        ("http://management.azure.com", "https://g.example", None, "--arm-url"),
        ("https://a.example", "http://10.0.0.1", None, "--graph-url"),
        ("https://a.example", "https://g.example", Some("http://login.example"), "--authority-url"),
        ("http://127.0.0.1.example.com", "https://g.example", None, "--arm-url"),
        ("http://[::2]", "https://g.example", None, "--arm-url"),
    ] {
        let err = Endpoints::new(Cloud::Custom, Some(arm), Some(graph), authority).unwrap_err();
        assert!(matches!(err, EndpointError::Insecure { .. }), "{arm}: {err:?}");
        assert!(err.to_string().starts_with(flag), "{err}");
    }
}

#[test]
fn custom_cloud_needs_arm_and_graph_and_bad_urls_are_refused() {
    let err = Endpoints::new(Cloud::Custom, None, Some("https://g.example"), None).unwrap_err();
    assert_eq!(err, EndpointError::Missing { flag: "--arm-url" });
    let err = Endpoints::new(Cloud::Custom, Some("https://a.example"), None, None).unwrap_err();
    assert_eq!(err, EndpointError::Missing { flag: "--graph-url" });
    for bad in ["not a url", "ftp://a.example", "https://user:pw@a.example", "https://a.example/?x=1"] {
        let err = Endpoints::new(Cloud::Custom, Some(bad), Some("https://g.example"), None).unwrap_err();
        assert!(err.to_string().starts_with("--arm-url"), "{bad}: {err}");
    }
    // Overrides apply to known clouds as well.
    let e = Endpoints::new(Cloud::Public, Some("http://127.0.0.1:5"), None, None).unwrap();
    assert_eq!(e.arm.as_str(), "http://127.0.0.1:5/");
}

#[test]
fn tokens_are_redacted_in_debug_and_display() {
    let token = AccessToken::new("eyJhbGciOi.very-secret", None);
    assert!(!format!("{token:?}").contains("very-secret"));
    assert!(!format!("{token}").contains("very-secret"));
    assert!(format!("{token}").contains("<redacted>"));
    let e = Endpoints::new(Cloud::Public, None, None, None).unwrap();
    let source = DefaultTokenSource::new(&e, &|k| (k == "AZPATH_ARM_TOKEN").then(|| "very-secret".to_string()), None);
    assert!(!format!("{source:?}").contains("very-secret"));
}

#[tokio::test]
async fn env_tokens_are_used_per_api() {
    let e = Endpoints::new(Cloud::Public, None, None, None).unwrap();
    let env = |k: &str| match k {
        "AZPATH_ARM_TOKEN" => Some(" arm-token\n".to_string()),
        "AZPATH_GRAPH_TOKEN" => Some("graph-token".to_string()),
        _ => None,
    };
    let source = DefaultTokenSource::new(&e, &env, None);
    assert_eq!(source.token(Audience::Arm).await.unwrap().secret(), "arm-token");
    assert_eq!(source.token(Audience::Graph).await.unwrap().secret(), "graph-token");
}

#[derive(Debug)]
struct Fake {
    name: &'static str,
    works: bool,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenCredential for Fake {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.works {
            let value = format!("{}:{}", self.name, scopes.join(" "));
            Ok(azure_core::credentials::AccessToken::new(value, OffsetDateTime::now_utc() + Duration::from_secs(3600)))
        } else {
            Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                format!("{} is not signed in", self.name),
            ))
        }
    }
}

fn fake(name: &'static str, works: bool) -> Arc<Fake> {
    Arc::new(Fake { name, works, calls: AtomicUsize::new(0) })
}

fn link(f: &Arc<Fake>) -> ChainLink {
    ChainLink { name: f.name.to_string(), credential: f.clone(), timeout: Duration::from_secs(5) }
}

#[tokio::test]
async fn chain_tries_in_order_remembers_the_winner_and_caches() {
    let (a, b, c) = (fake("env", false), fake("cli", true), fake("azd", true));
    let chain = CredentialChain::new(vec![link(&a), link(&b), link(&c)]);
    let t = chain.token(Audience::Arm, "https://management.azure.com/.default").await.unwrap();
    assert_eq!(t.secret(), "cli:https://management.azure.com/.default");
    // Cached: no new call for the same scope.
    chain.token(Audience::Arm, "https://management.azure.com/.default").await.unwrap();
    assert_eq!(b.calls.load(Ordering::SeqCst), 1);
    // Another scope goes straight to the credential that worked.
    chain.token(Audience::Graph, "https://graph.microsoft.com/.default").await.unwrap();
    assert_eq!(a.calls.load(Ordering::SeqCst), 1);
    assert_eq!(b.calls.load(Ordering::SeqCst), 2);
    assert_eq!(c.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn chain_reports_every_failure() {
    let chain = CredentialChain::new(vec![
        link(&fake("EnvironmentCredential", false)),
        link(&fake("AzureCliCredential", false)),
    ]);
    let err = chain.token(Audience::Graph, "https://graph.microsoft.com/.default").await.unwrap_err();
    let TokenError::NoCredential { audience, failures } = &err;
    assert_eq!(*audience, Audience::Graph);
    assert_eq!(failures.len(), 2);
    let text = err.to_string();
    assert!(text.contains("Microsoft Graph"), "{text}");
    assert!(text.contains("EnvironmentCredential: ") && text.contains("AzureCliCredential is not signed in"), "{text}");
}

#[derive(Debug)]
struct Hangs;

#[async_trait::async_trait]
impl TokenCredential for Hangs {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_credential_that_hangs_is_given_up_on() {
    let ok = fake("cli", true);
    let chain = CredentialChain::new(vec![
        ChainLink {
            name: "ManagedIdentityCredential".into(),
            credential: Arc::new(Hangs),
            timeout: Duration::from_millis(50),
        },
        link(&ok),
    ]);
    let t = chain.token(Audience::Arm, "s/.default").await.unwrap();
    assert_eq!(t.secret(), "cli:s/.default");
}

/// A throw-away self-signed root (public certificate only; its key was discarded).
const TEST_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUdhD3DbRmOtWq+pI7qGnmoEJbtwMwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQYXpwYXRoIHRlc3Qgcm9vdDAgFw0yNjExMjQxNjQwNDJaGA8y
MTI2MTAzMTE2NDA0MlowGzEZMBcGA1UEAwwQYXpwYXRoIHRlc3Qgcm9vdDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABEFUn12Kli704Ygr1kFzrxSl3ue4YPUwM/UQ
/mamER9M+kJIO160e3hzvaIkw+fX0brTWeRZEtM3riuUPClo46ijUzBRMB0GA1Ud
DgQWBBSEHTHZ15pYP4YivAc4hyjTNdd1MjAfBgNVHSMEGDAWgBSEHTHZ15pYP4Yi
vAc4hyjTNdd1MjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDQ
LjpQJRe+OxjYbDSy5/Hw50rcwYXbJcRJxs0GJQOdwgIgHlS4Ciao5dX8ZYpQ3nOu
iuwt4WLhhFsG4pdccuLBgG0=
-----END CERTIFICATE-----
";

#[test]
fn ca_cert_is_added_and_bad_files_name_the_flag() {
    use azpath::collect::{build_client, ClientError};
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("root.pem");
    std::fs::write(&good, TEST_ROOT).unwrap();
    assert!(build_client(Some(&good)).is_ok());

    let missing = dir.path().join("missing.pem");
    let err = build_client(Some(&missing)).unwrap_err();
    assert!(matches!(err, ClientError::ReadCaCert { .. }), "{err:?}");
    assert!(err.to_string().starts_with("--ca-cert"), "{err}");

    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = build_client(Some(&junk)).unwrap_err();
    assert!(matches!(err, ClientError::InvalidCaCert { .. }), "{err:?}");
}
