//! azpath's pure core: the snapshot model, Azure RBAC semantics, the privilege graph and the query engine.
//!
//! Nothing here does IO: collectors produce a [`snapshot::Snapshot`], this crate turns it into findings.

pub mod build;
pub mod builtin;
mod choke;
mod cores;
pub mod engine;
pub mod expand;
pub mod findings;
pub mod graph;
pub mod kube;
pub mod kube_dump;
mod kube_graph;
pub mod model;
pub mod pathfind;
pub mod posture;
pub mod query;
pub mod rbac;
mod remediation;
mod report;
pub mod scope;
pub mod shell;
pub mod snapshot;
