//! Serves a mock tenant until Ctrl-C: `cargo run -p azpath-mocks --example serve -- demo [THROTTLE_RATE]`.
//!
//! The tenant is a bundled name or a folder. Prints the URLs and tokens to point azpath at.

use azpath_mocks::{MockAzure, MockOptions, MockTenant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tenant = args.next().unwrap_or_else(|| "demo".into());
    let throttle_rate = args.next().map(|r| r.parse()).transpose()?.unwrap_or(0.0);
    let mock =
        MockAzure::start(MockTenant::load_or_bundled(&tenant)?, MockOptions { throttle_rate, ..Default::default() })
            .await?;
    for (name, value) in mock.token_env() {
        println!("export {name}={value}");
    }
    println!("azpath scan --cloud custom --arm-url {} --graph-url {}", mock.arm_url(), mock.graph_url());
    tokio::signal::ctrl_c().await?;
    println!("{}", serde_json::to_string_pretty(&mock.stats())?);
    Ok(())
}
