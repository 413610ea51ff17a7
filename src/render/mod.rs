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

/// Writes the report as JSON: each top-level field, and each entry of a top-level list (a finding, a node, an
/// edge), on its own line (see [`write_json_lines`]).
pub fn render_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    write_json_lines(report, out)
}

/// Writes `value` as JSON indented to [`SHALLOW_DEPTH`] levels and compact below: a large report stays a
/// third smaller than fully indented JSON while `grep` and `head` still show one finding, node or edge per
/// line (`jq .` indents it whole). Ends with a newline.
pub fn write_json_lines<T: serde::Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Shallow::default());
    value.serialize(&mut ser)?;
    writeln!(out)
}

/// How many levels of containers [`write_json_lines`] indents.
pub const SHALLOW_DEPTH: usize = 2;

/// serde_json's pretty formatter for the outer [`SHALLOW_DEPTH`] levels, its compact one below.
#[derive(Default)]
struct Shallow {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    compact: serde_json::ser::CompactFormatter,
    /// Containers open.
    depth: usize,
}

impl Shallow {
    /// Whether the container now open is indented.
    fn inside_pretty(&self) -> bool {
        self.depth <= SHALLOW_DEPTH
    }
}

impl serde_json::ser::Formatter for Shallow {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        if self.inside_pretty() {
            self.pretty.begin_array(w)
        } else {
            self.compact.begin_array(w)
        }
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let pretty = self.inside_pretty();
        self.depth -= 1;
        if pretty {
            self.pretty.end_array(w)
        } else {
            self.compact.end_array(w)
        }
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.inside_pretty() {
            self.pretty.begin_array_value(w, first)
        } else {
            self.compact.begin_array_value(w, first)
        }
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.inside_pretty() {
            self.pretty.end_array_value(w)
        } else {
            self.compact.end_array_value(w)
        }
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        if self.inside_pretty() {
            self.pretty.begin_object(w)
        } else {
            self.compact.begin_object(w)
        }
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let pretty = self.inside_pretty();
        self.depth -= 1;
        if pretty {
            self.pretty.end_object(w)
        } else {
            self.compact.end_object(w)
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.inside_pretty() {
            self.pretty.begin_object_key(w, first)
        } else {
            self.compact.begin_object_key(w, first)
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.inside_pretty() {
            self.pretty.begin_object_value(w)
        } else {
            self.compact.begin_object_value(w)
        }
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.inside_pretty() {
            self.pretty.end_object_value(w)
        } else {
            self.compact.end_object_value(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_indent_two_levels_and_put_each_list_entry_on_its_own_line() {
        let value = serde_json::json!({"a": [{"b": [1, 2], "c": {"d": 3}}, {"b": []}], "e": {"f": [4]}, "g": []});
        let mut out = Vec::new();
        write_json_lines(&value, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "{\n  \"a\": [\n    {\"b\":[1,2],\"c\":{\"d\":3}},\n    {\"b\":[]}\n  ],\n  \"e\": {\n    \"f\": [4]\n  },\n  \"g\": []\n}\n";
        assert_eq!(text, expected);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value, "the same JSON");
    }
}
