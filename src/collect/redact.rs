//! Making server and transport text safe to store and print: a server may echo the request's bearer token
//! (or other credentials) in an error body, put terminal control sequences in it, or make it huge. Every
//! such text goes through [`redact`] before it becomes a [`FetchError`](super::FetchError) message, and so
//! before it reaches `coverage[].message`, the report, the logs or stderr.
//!
//! The patterns are regular expressions (the `regex` crate, already in the build through kube): linear time
//! on any input, so a hostile body cannot make redaction slow.

use std::sync::LazyLock;

use regex::Regex;

/// Longest text kept, in characters; the rest is replaced by an ellipsis and the original length.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Shortest part of a known secret (a JWT segment, say) that is redacted on its own: shorter ones are too
/// likely to be ordinary words.
const MIN_SECRET_PART: usize = 8;

/// Anything shaped like a JWT: a base64url segment starting `eyJ` (base64 of `{"`) and not glued to a
/// letter or digit before it, with up to two more dot-separated segments (header.payload.signature, or a
/// truncated one). The character before it is captured to be kept.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^A-Za-z0-9])eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}").expect("valid JWT pattern")
});

/// The value after a credential-bearing key: `Bearer …`, `access_token=…`, `"token": "…"`, `client_secret: …`
/// and the like, when it is long enough to be a credential (16 characters or more).
static KEYED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(\b(?:bearer|basic)\s+|\b(?:access_token|refresh_token|id_token|token|client_secret|secret|password|sig|signature|assertion)["']?\s*[:=]\s*["']?)[A-Za-z0-9._~+/=-]{16,}"#,
    )
    .expect("valid keyed-secret pattern")
});

/// `text` made safe to store and print:
/// 1. every occurrence of each of `secrets` (the request's own token, typically), and of each of their
///    dot-separated parts of 8 characters or more (a JWT's header, payload and signature), is replaced by
///    `[redacted]`;
/// 2. so is anything that looks like a JWT, and a long value after `Bearer `, `access_token=`, `"token":`
///    and similar keys;
/// 3. control characters (newline, carriage return, escape, bell, NUL…) and Unicode bidirectional
///    overrides are shown as `\u{…}` escapes, so server text cannot fake lines or drive the terminal;
/// 4. the result is cut to [`MAX_MESSAGE_CHARS`] characters (on a character boundary), followed by
///    `… (N characters in all)`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for part in secret_parts(secrets) {
        if out.contains(part) {
            out = out.replace(part, REDACTED);
        }
    }
    let out = JWT.replace_all(&out, format!("${{1}}{REDACTED}").as_str());
    let out = KEYED.replace_all(&out, format!("${{1}}{REDACTED}").as_str());
    cap(&escape_controls(&out), text.chars().count())
}

/// Each secret, then its dot-separated parts long enough to be redacted alone; longest first, so a whole
/// token is replaced before its parts.
fn secret_parts<'a>(secrets: &[&'a str]) -> Vec<&'a str> {
    let mut parts: Vec<&str> = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .flat_map(|s| std::iter::once(*s).chain(s.split('.').filter(|p| p.len() >= MIN_SECRET_PART)))
        .collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    parts.dedup();
    parts
}

/// Control characters, bidirectional controls and line separators as visible escapes (the one rule every
/// text output uses: [`crate::render::text::visible`]).
pub fn escape_controls(text: &str) -> String {
    crate::render::text::visible(text).into_owned()
}

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters, saying how long the original was.
fn cap(text: &str, original_chars: usize) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}… ({original_chars} characters in all)", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_token_and_its_parts_are_redacted() {
        let token = "header-part.payload-part-1234.sig";
        let text = format!("echo {token} and payload-part-1234 alone and header-part");
        assert_eq!(redact(&text, &[token]), "echo [redacted] and [redacted] alone and [redacted]");
        assert_eq!(redact("nothing here", &[""]), "nothing here");
    }

    #[test]
    fn jwts_and_keyed_credentials_are_redacted() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        assert_eq!(redact(&format!("bad {jwt}."), &[]), "bad [redacted].");
        assert_eq!(redact(&format!("t=_{jwt}"), &[]), "t=_[redacted]");
        assert_eq!(redact("keyJournal-storage-prod", &[]), "keyJournal-storage-prod");
        assert_eq!(redact("half eyJhbGciOiJSUzI1NiJ9.eyJzdWIi", &[]), "half [redacted]");
        assert_eq!(
            redact("Authorization: Bearer abcdefghijklmnopqrstu, x", &[]),
            "Authorization: Bearer [redacted], x"
        );
        assert_eq!(redact(r#"{"access_token": "abcdefghijklmnopqrstu"}"#, &[]), r#"{"access_token": "[redacted]"}"#);
        assert_eq!(redact("url?sig=abcdefghijklmnopqrstu&x=1", &[]), "url?sig=[redacted]&x=1");
        // Ordinary words after the keys stay.
        assert_eq!(redact("Bearer token expired", &[]), "Bearer token expired");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(redact("a\nb\r\u{1b}[2J\u{7}\u{0}\u{202e}", &[]), r"a\nb\r\u{1b}[2J\u{7}\u{0}\u{202e}");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(2000);
        let out = redact(&text, &[]);
        assert!(out.starts_with(&"é".repeat(MAX_MESSAGE_CHARS)), "{out}");
        assert!(out.ends_with("… (2000 characters in all)"), "{out}");
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS + "… (2000 characters in all)".chars().count());
        assert_eq!(redact(&"x".repeat(MAX_MESSAGE_CHARS), &[]), "x".repeat(MAX_MESSAGE_CHARS));
    }
}
