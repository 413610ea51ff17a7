//! Renderers: pure functions from a [`Report`] to a writer. The JSON format is the documented contract;
//! table and DOT are for people; SARIF is for code-scanning tools. Every human-readable output writes its
//! text through [`text::visible`], so nothing from the tenant reaches a terminal as a control sequence.

mod dot;
pub mod history;
pub mod ndjson;
pub mod opengraph;
mod path_dot;
mod plain;
pub mod sarif;
mod table;
pub mod text;

use std::io::{self, Write};

use azpath_graph::findings::Report;

pub use dot::{render_dot, render_dot_with, DotOptions};
pub use ndjson::render_ndjson;
pub use plain::{render_path, render_query_list, PathAnswer};
pub use sarif::render_sarif;
pub use table::render_table;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables, each path explained hop by hop.
    Table,
    /// The versioned JSON report (see README "JSON report").
    Json,
    /// A Graphviz digraph of every path (`dot -Tsvg`).
    Dot,
    /// SARIF 2.1.0 for code-scanning tools: a rule per query and posture check, a result per finding.
    Sarif,
    /// Every (principal, target) pair with its best path, one JSON object per line, streamed as found
    /// (scan and analyze only).
    Ndjson,
    /// BloodHound CE OpenGraph: azpath's nodes and edges in `--output FILE`, edges into AzureHound's Azure
    /// nodes in `FILE.azure-edges.json` (scan and analyze only; docs/opengraph.md).
    Opengraph,
}

/// Options for rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Table width in columns.
    pub width: u16,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { width: 160 }
    }
}

/// Renders the report in the chosen format.
pub fn render(report: &Report, format: Format, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => render_table(report, options, out),
        Format::Json => render_json(report, out),
        Format::Dot => render_dot(report, out),
        Format::Sarif => render_sarif(report, out),
        Format::Ndjson => render_ndjson(report, out),
        Format::Opengraph => Err(io::Error::new(io::ErrorKind::InvalidInput, opengraph::NEEDS_FILE)),
    }
}

/// Writes the report as pretty JSON.
pub fn render_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
