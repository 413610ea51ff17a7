//! azpath: collectors (async IO), the CLI's configuration, and renderers. The analysis itself lives in
//! `azpath-graph`, which does no IO.

pub mod collect;
