//! `expected.toml`: the findings a tenant must and must not produce, and the check of a report against them.
//!
//! Keeping the expectations beside the tenant makes each tenant a self-contained test case (as KubeHound's
//! attack fixtures are): whoever changes the analysis sees at once which semantic case moved.

use std::collections::BTreeMap;

use azpath_graph::findings::ImpliedPair;
use serde::Deserialize;

use crate::tenant::TenantError;

/// The contents of an `expected.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// What the tenant exercises.
    pub description: String,
    /// Findings that must be reported.
    #[serde(default)]
    pub present: Vec<Expectation>,
    /// Findings that must not be reported.
    #[serde(default)]
    pub absent: Vec<Expectation>,
}

/// One expected (or forbidden) finding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Query id (`owner-equivalent-on-subscription`, …).
    pub query: String,
    /// Entra object id of the source principal.
    pub source: String,
    /// Target scope id, compared case-insensitively. In `absent`, no target means "no finding of this query for
    /// this source at all".
    #[serde(default)]
    pub target: Option<String>,
    /// When given, a matching finding must have this `eligible` flag.
    #[serde(default)]
    pub eligible: Option<bool>,
    /// When given, a matching finding must have this `conditional` flag.
    #[serde(default)]
    pub conditional: Option<bool>,
}

impl Expectation {
    /// Whether `pair` is about this query, source and target (flags aside).
    pub fn matches(&self, pair: &ImpliedPair) -> bool {
        pair.query_id == self.query
            && pair.source.eq_ignore_ascii_case(&self.source)
            && self.target.as_deref().is_none_or(|t| scope_eq(&pair.target, t))
    }

    fn flags_match(&self, (eligible, conditional): (bool, bool)) -> bool {
        self.eligible.is_none_or(|e| eligible == e) && self.conditional.is_none_or(|c| conditional == c)
    }

    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.query, self.source);
        if let Some(t) = &self.target {
            s.push_str(&format!(" → {t}"));
        }
        if let Some(e) = self.eligible {
            s.push_str(&format!(" eligible={e}"));
        }
        if let Some(c) = self.conditional {
            s.push_str(&format!(" conditional={c}"));
        }
        s
    }
}

/// Scope ids are case-insensitive; a trailing `/` does not matter.
fn scope_eq(a: &str, b: &str) -> bool {
    let trim = |s: &str| if s == "/" { "/".to_string() } else { s.trim_end_matches('/').to_ascii_lowercase() };
    trim(a) == trim(b)
}

impl Expected {
    /// Parses an `expected.toml`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Expected, TenantError> {
        toml::from_str(text).map_err(|e| TenantError::Invalid {
            file: file.to_string(),
            field: e.span().map_or_else(|| ".".to_string(), |s| format!("bytes {}..{}", s.start, s.end)),
            message: e.message().to_string(),
        })
    }

    /// Reads `<dir>/expected.toml`.
    pub fn load(dir: impl AsRef<std::path::Path>) -> Result<Expected, TenantError> {
        let path = dir.as_ref().join("expected.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|source| TenantError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The expectations of a bundled tenant, if it has an `expected.toml`.
    pub fn bundled(name: &str) -> Option<Result<Expected, TenantError>> {
        crate::tenant::bundled_expected(name).map(|text| Self::parse(text, &format!("{name}/expected.toml")))
    }

    /// Checks the pairs a report implies (`Report::implied_pairs`, with their best flags) against the
    /// expectations: one line per violated expectation, empty when all hold.
    pub fn check(&self, pairs: &BTreeMap<ImpliedPair, (bool, bool)>) -> Vec<String> {
        let mut problems = Vec::new();
        for e in &self.present {
            let hits: Vec<(&ImpliedPair, &(bool, bool))> = pairs.iter().filter(|(p, _)| e.matches(p)).collect();
            if hits.is_empty() {
                problems.push(format!("missing: {}", e.describe()));
            } else if !hits.iter().any(|(_, f)| e.flags_match(**f)) {
                let got: Vec<String> =
                    hits.iter().map(|(_, (el, c))| format!("eligible={el} conditional={c}")).collect();
                problems.push(format!("wrong flags: {} (found {})", e.describe(), got.join("; ")));
            }
        }
        for e in &self.absent {
            for (p, _) in pairs.iter().filter(|(p, _)| e.matches(p)) {
                problems.push(format!("unexpected: {} (found → {})", e.describe(), p.target));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str, &str, bool)]) -> BTreeMap<ImpliedPair, (bool, bool)> {
        list.iter()
            .map(|(q, s, t, e)| {
                (ImpliedPair { query_id: q.to_string(), source: s.to_string(), target: t.to_string() }, (*e, false))
            })
            .collect()
    }

    #[test]
    fn check_reports_missing_unexpected_and_wrong_flags() {
        let expected = Expected::parse(
            r#"
            description = "d"
            [[present]]
            query = "q"
            source = "u1"
            target = "/subscriptions/S1"
            eligible = true
            [[present]]
            query = "q"
            source = "u2"
            target = "/subscriptions/s1"
            [[absent]]
            query = "q"
            source = "u3"
            "#,
            "expected.toml",
        )
        .unwrap();
        let ok = pairs(&[("q", "u1", "/subscriptions/s1", true), ("q", "u2", "/subscriptions/s1", false)]);
        assert!(expected.check(&ok).is_empty(), "{:?}", expected.check(&ok));
        let bad = pairs(&[("q", "u1", "/subscriptions/s1", false), ("q", "u3", "/subscriptions/s2", false)]);
        let problems = expected.check(&bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("wrong flags") && problems[1].starts_with("missing"));
        assert!(problems[2].starts_with("unexpected"));
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_file() {
        let err = Expected::parse("description = \"d\"\n[[present]]\nquery = \"q\"\nsorce = \"x\"\n", "e.toml");
        assert!(err.unwrap_err().to_string().starts_with("e.toml"));
    }
}
