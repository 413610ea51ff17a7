//! `azpath schema report|diff`: the JSON Schemas (draft 2020-12) of the JSON report and the diff JSON,
//! generated from the types that are serialized (schemars, in its serialize contract: a field serde skips when
//! empty is optional). The published copies are `docs/report.schema.json` and `docs/diff.schema.json`;
//! `tests/report_schema.rs` fails when they differ from what this module generates, and validates real output
//! against them.

use std::io::{self, Write};

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

use azpath_graph::findings::{Report, REPORT_SCHEMA_VERSION};

use crate::diff::{Diff, DIFF_SCHEMA_VERSION};

/// Which JSON output's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaOf {
    /// The report of `scan` and `analyze` with `--format json` (`pairs` only with `--expand`); its `Pair`
    /// definition is also the shape of each `--format ndjson` line.
    Report,
    /// The output of `diff --format json`.
    Diff,
    /// Not a JSON Schema: the BloodHound OpenGraph extension definition (`node_kinds`, `relationship_kinds`)
    /// of `--format opengraph` (docs/opengraph.md).
    Opengraph,
}

impl SchemaOf {
    /// Where the published copy lives, relative to the repository root.
    pub fn published_path(self) -> &'static str {
        match self {
            SchemaOf::Report => "docs/report.schema.json",
            SchemaOf::Diff => "docs/diff.schema.json",
            SchemaOf::Opengraph => "docs/opengraph.extension.json",
        }
    }
}

/// The JSON Schema of one output, as a JSON value.
pub fn schema(of: SchemaOf) -> Value {
    match of {
        SchemaOf::Report => {
            let mut report = versioned::<Report>("azpath JSON report", REPORT_SCHEMA_VERSION);
            crate::baseline::extend_report_schema(&mut report);
            report
        }
        SchemaOf::Diff => versioned::<Diff>("azpath diff JSON", DIFF_SCHEMA_VERSION),
        SchemaOf::Opengraph => crate::render::opengraph::extension_schema(),
    }
}

/// Writes the schema as pretty JSON with a final newline (the published file's exact bytes).
pub fn write(of: SchemaOf, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &schema(of))?;
    writeln!(out)
}

/// `T`'s schema as serialized, titled, with `schema_version` pinned to `version`: a reader of another version
/// fails validation on that field rather than somewhere deep in the report.
fn versioned<T: JsonSchema>(title: &str, version: u32) -> Value {
    let generator = SchemaSettings::draft2020_12().for_serialize().into_generator();
    let mut schema: Schema = generator.into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    let mut value = schema.to_value();
    if let Some(field) = value.pointer_mut("/properties/schema_version").and_then(Value::as_object_mut) {
        field.insert("const".into(), version.into());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_the_schema_version_and_describes_pairs() {
        let report = schema(SchemaOf::Report);
        assert_eq!(report["properties"]["schema_version"]["const"], REPORT_SCHEMA_VERSION);
        assert_eq!(report["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let pair = &report["$defs"]["ExpandedPair"]["properties"];
        assert!(pair["finding"].is_object() && pair["hops"].is_null(), "{report:#}");
        let required = report["required"].as_array().unwrap();
        assert!(!required.contains(&"pairs".into()), "pairs appear only with --expand");
        assert_eq!(schema(SchemaOf::Diff)["properties"]["schema_version"]["const"], DIFF_SCHEMA_VERSION);
    }
}
