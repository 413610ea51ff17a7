//! Text for terminals. Names, ids and messages come from the tenant, query files or the command line, so any
//! of them may hold a control sequence (`ESC[2J` clears the screen, `ESC]0;…BEL` sets the window title, CR
//! overwrites a line), a bidi override that reorders what is shown ("Trojan Source"), or a line separator.
//! Every human-readable output writes its text through [`visible`], one line at a time, so these reach the
//! terminal as visible escapes (`\u{1b}`) while ordinary non-ASCII text (é, 日本) is left as it is. The
//! renderers add line breaks themselves, after escaping, so a newline inside a name is shown as `\n`.
//!
//! [`shorten`] keeps table cells small enough for comfy-table, whose wrapping of one long word is quadratic.

use std::borrow::Cow;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal as is: C0 controls (tab and newline included), DEL, C1 controls,
/// the Unicode bidi controls (embeddings, overrides, isolates and marks) and the line/paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// `s` with every [unsafe](is_unsafe) character written as its Rust escape (`\u{1b}`, `\t`, `\r`, `\n`,
/// `\u{202e}`); borrowed when there is none.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes one line of text, [escaped](visible), and a line break.
pub fn write_line(out: &mut dyn Write, line: &str) -> io::Result<()> {
    writeln!(out, "{}", visible(line))
}

/// Longest word (run of characters between spaces) kept whole by [`shorten`]: ARM ids (~250 characters)
/// fit; a longer word is cut in the middle.
pub const MAX_WORD_CHARS: usize = 320;
/// Longest line kept whole by [`shorten`].
pub const MAX_LINE_CHARS: usize = 4 * MAX_WORD_CHARS;

/// `line` bounded for display, in linear time: a line longer than [`MAX_LINE_CHARS`] and each word longer
/// than [`MAX_WORD_CHARS`] keep their beginning and end around a `…`, followed by the original length
/// (`aaaa…zzzz (100000 chars)`). Borrowed when nothing was cut. Escape after shortening ([`visible`]).
pub fn shorten(line: &str) -> Cow<'_, str> {
    if !line.split(' ').any(|w| w.len() > MAX_WORD_CHARS && w.chars().count() > MAX_WORD_CHARS) {
        return cut_middle(line, MAX_LINE_CHARS);
    }
    let words: Vec<Cow<'_, str>> = line.split(' ').map(|w| cut_middle(w, MAX_WORD_CHARS)).collect();
    Cow::Owned(cut_middle(&words.join(" "), MAX_LINE_CHARS).into_owned())
}

/// `s` when it has at most `max` characters, else its first and last `max / 2 - 10` characters around a `…`
/// and its length.
fn cut_middle(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let count = s.chars().count();
    if count <= max {
        return Cow::Borrowed(s);
    }
    let keep = max / 2 - 10;
    let head_end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    let tail_start = s.char_indices().nth_back(keep - 1).map_or(0, |(i, _)| i);
    Cow::Owned(format!("{}…{} ({count} chars)", &s[..head_end], &s[tail_start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bidi_and_separator_characters_are_escaped() {
        let hostile =
            "a\u{1b}[2J\u{1b}]0;t\u{7}\r\0\u{8}\u{7f}\u{85}\u{9b}\t\n\u{202e}\u{2067}\u{200f}\u{2028}\u{2029}z";
        assert_eq!(
            visible(hostile),
            r"a\u{1b}[2J\u{1b}]0;t\u{7}\r\u{0}\u{8}\u{7f}\u{85}\u{9b}\t\n\u{202e}\u{2067}\u{200f}\u{2028}\u{2029}z"
        );
        assert!(!visible(hostile).chars().any(is_unsafe));
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["", "Pat Okafor", "Zoë Ångström", "日本語 Ωmega ‘quoted’ — 🙂", r"C:\path\u{1b}"] {
            assert!(matches!(visible(s), Cow::Borrowed(b) if b == s), "{s}");
            assert!(matches!(shorten(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }

    #[test]
    fn arm_ids_are_kept_whole() {
        let id = format!(
            "/subscriptions/5f3c2a91-7d44-4b8e-9a61-2c0d8e7f4b13/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
            "r".repeat(90),
            "c".repeat(63)
        );
        assert!(id.len() > 250);
        let line = format!("1. Pat holds Contributor at {id} (assignment {id})");
        assert_eq!(shorten(&line), line);
    }

    #[test]
    fn a_long_word_is_cut_in_the_middle_with_its_length() {
        let word = format!("{}{}", "a".repeat(50_000), "é".repeat(50_000));
        let line = format!("name: {word} end");
        let short = shorten(&line);
        let keep = MAX_WORD_CHARS / 2 - 10;
        assert_eq!(short, format!("name: {}…{} (100000 chars) end", "a".repeat(keep), "é".repeat(keep)));
        assert!(short.chars().count() < MAX_WORD_CHARS + 30);
    }

    #[test]
    fn a_long_line_of_short_words_is_bounded() {
        let line = "word ".repeat(20_000);
        let short = shorten(&line);
        assert!(short.chars().count() <= MAX_LINE_CHARS + 20, "{}", short.len());
        assert!(short.ends_with("word  (100000 chars)"), "{short}");
    }
}

/// A writer for log lines: each write (tracing's formatter writes one event at a time) is written
/// [escaped](visible), so a server message or a name quoted in a log cannot reach the terminal raw; only the
/// final line break of a write is kept as one.
pub struct EscapingWriter<W: Write>(pub W);

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, newline) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (&*text, ""),
        };
        write!(self.0, "{}{newline}", visible(body))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn log_writes_are_escaped_but_keep_their_final_line_break() {
        let mut w = EscapingWriter(Vec::new());
        w.write_all(b"WARN gap: server said \x1b[2J\rfake line\nsecond\x07\n").unwrap();
        assert_eq!(String::from_utf8(w.0).unwrap(), "WARN gap: server said \\u{1b}[2J\\rfake line\\nsecond\\u{7}\n");
    }
}
