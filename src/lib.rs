//! azpath: collectors (async IO), the command line's configuration, and renderers. The analysis itself lives
//! in `azpath-graph`, which does no IO.

pub mod baseline;
pub mod bench;
pub mod cli;
pub mod collect;
pub mod config;
pub mod diff;
pub mod history;
pub mod input;
pub mod mock_serve;
pub mod notify;
pub mod output;
pub mod paths;
pub mod queries;
pub mod render;
pub mod scan;
pub mod schema;

/// An error in how the command was called (reported with exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
