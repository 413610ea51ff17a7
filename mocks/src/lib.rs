//! Mock Azure tenants for azpath: a mock ARM + Microsoft Graph server and a synthetic tenant generator.
//!
//! azpath's collectors are tested, demonstrated and benchmarked against tenants that exist only as files:
//! a tenant folder holds API response bodies in the shapes Azure returns (`mocks/README.md` documents the
//! format), [`MockAzure`] serves it over HTTP the way Azure does (paging, api-versions, tokens, throttling,
//! scope inheritance in listings, injected faults), and [`generate()`] makes large synthetic tenants.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use azpath_mocks::{MockAzure, MockOptions, MockTenant};
//!
//! let tenant = MockTenant::bundled("demo").expect("bundled tenant");
//! let mock = MockAzure::start(tenant, MockOptions::default()).await?;
//! println!("--arm-url {} --graph-url {}", mock.arm_url(), mock.graph_url());
//! // … run a collector against it with AZPATH_ARM_TOKEN=mock-arm-token AZPATH_GRAPH_TOKEN=mock-graph-token …
//! assert_eq!(mock.stats().early_retries, 0);
//! # Ok(()) }
//! ```

mod batch;
pub mod expected;
pub mod generate;
mod generate_kube;
pub mod kube;
pub mod kube_server;
mod scopes;
pub mod server;
pub mod tenant;
pub mod throttle;

pub use expected::{Expectation, Expected};
pub use generate::{generate, generate_for_collection, GenerateOptions};
pub use kube_server::{MockKube, MockKubeOptions, MockKubeStats};
pub use server::{MockAzure, MockError, MockOptions, MockStats};
pub use tenant::{
    builtin_role_definitions, bundled_expected, bundled_names, tenants_dir, Fault, MockTenant, TenantError, TenantInfo,
};
