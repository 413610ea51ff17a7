//! azpath: collectors (async IO), the command line's configuration, and renderers. The analysis itself lives
//! in `azpath-graph`, which does no IO.

pub mod cli;
pub mod collect;
pub mod diff;
pub mod input;
pub mod output;
pub mod queries;
pub mod render;
pub mod scan;
