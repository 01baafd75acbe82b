//! Text from data, made safe to print on a terminal.
//!
//! A cell, a column name or a file name may hold control characters: `ESC ] 0 ; ... BEL`
//! renames the terminal window, `ESC [ ? 25 l` hides the cursor, a newline forges an output
//! line, a right-to-left override reorders what follows. Everything crmlens prints for people
//! (the headless commands' text, the `error:` line, the progress bar, the Data screen's cells)
//! goes through [`escape`] or [`escape_lines`], which show such characters as visible escapes
//! (`\e`, `\n`, `\x07`, `\u{202e}`) and fold long runs of one (`\x00{4096 times}`). JSON goes
//! through [`json_safe`], which writes the characters JSON leaves raw as `\uXXXX` escapes, so
//! the value is unchanged for a JSON reader.

use std::borrow::Cow;
use std::fmt::Write as _;

/// An error (or any text) on one line: its line breaks become spaces.
pub fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

/// The text a panic carried (`panic!` with a message gives a `&str` or a `String`).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".into()
    }
}

/// A run of one escaped character longer than this is shown once with its count.
const RUN_LIMIT: usize = 8;

/// The longest `error:` message shown, in characters (the rest is cut with a note).
pub const ERROR_LIMIT: usize = 2_000;

/// Whether `c` is not shown as itself: C0 controls (newline and tab included), DEL, C1
/// controls, the bidirectional embedding, override and isolate controls (the "Trojan source"
/// set), the line and paragraph separators, and the invisible format characters a terminal
/// may act on or that hide text (zero-width no-break space / BOM, interlinear annotation, tag
/// characters).
pub fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

/// The visible form of `c` (which [`needs_escape`]).
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn render(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if !needs_escape(c) || keep(c) {
            out.push(c);
            continue;
        }
        let mut run = 1usize;
        while chars.peek() == Some(&c) {
            chars.next();
            run += 1;
        }
        if run > RUN_LIMIT {
            push_escaped(&mut out, c);
            let _ = write!(out, "{{{run} times}}");
        } else {
            for _ in 0..run {
                push_escaped(&mut out, c);
            }
        }
    }
    Cow::Owned(out)
}

/// `s` with every character that [`needs_escape`] shown as an escape, newlines and tabs
/// included: for one value (a cell, a column or file name) or one line.
pub fn escape(s: &str) -> Cow<'_, str> {
    render(s, |_| false)
}

/// `s` escaped as [`escape`] does, reusing `s` when nothing needs escaping.
pub fn escape_owned(s: String) -> String {
    match escape(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(e) => e,
    }
}

/// `s` as [`escape`] does but with its newlines kept: for text of several lines that crmlens
/// composed (its values escaped with [`escape`] already; this is the safety net).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    render(s, |c| c == '\n')
}

/// The `error:` line's message: trailing white space trimmed, every control character
/// escaped (a newline too, so it stays one line), and cut after [`ERROR_LIMIT`] characters
/// with a note of how many more there were.
pub fn error_line(message: &str) -> String {
    let escaped = escape(message.trim_end());
    let total = escaped.chars().count();
    if total <= ERROR_LIMIT {
        return escaped.into_owned();
    }
    let cut: String = escaped.chars().take(ERROR_LIMIT).collect();
    format!(
        "{cut}... ({} more characters not shown)",
        total - ERROR_LIMIT
    )
}

/// JSON text with the characters a terminal may act on and JSON leaves raw (DEL, C1
/// controls, bidirectional and other invisible controls; C0 controls are escaped by every
/// JSON writer already) written as `\uXXXX` escapes. Outside strings JSON is ASCII, so only
/// string contents change, and only in form: a JSON reader gets the same values.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json
        .chars()
        .any(|c| needs_escape(c) && !c.is_ascii_whitespace())
    {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) && !c.is_ascii_whitespace() {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units).iter() {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A cell as text: floats with 2 decimals, missing values as an empty cell.
pub fn format_cell(v: &polars::prelude::AnyValue) -> String {
    match v {
        polars::prelude::AnyValue::Null => String::new(),
        polars::prelude::AnyValue::String(s) => s.to_string(),
        polars::prelude::AnyValue::StringOwned(s) => s.to_string(),
        polars::prelude::AnyValue::Float64(x) => format!("{x:.2}"),
        polars::prelude::AnyValue::Float32(x) => format!("{x:.2}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "City", "Zürich — 東京 🎉", "a\\eb", "x = 1.5 ± 0.2"] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s}");
            assert_eq!(escape(s), s);
        }
        // Right-to-left text and joiners used in scripts are not controls.
        let persian = "می\u{200c}خواهم";
        assert_eq!(escape(persian), persian);
        assert_eq!(escape("שלום"), "שלום");
    }

    #[test]
    fn terminal_sequences_are_shown_not_sent() {
        assert_eq!(escape("City\x1b]0;PWNED\x07"), "City\\e]0;PWNED\\x07");
        assert_eq!(escape("\x1b[?25l"), "\\e[?25l");
        assert_eq!(escape("\x1b[2J\x1b[H"), "\\e[2J\\e[H");
        assert!(!escape("a\x1bb").contains('\x1b'));
    }

    #[test]
    fn every_c0_control_and_del_is_escaped() {
        for b in (0u8..0x20).chain([0x7f]) {
            let c = b as char;
            let e = escape(&format!("a{c}b")).into_owned();
            assert!(e.starts_with("a\\") && e.ends_with('b'), "{b:#x}: {e}");
            assert!(!e.chars().any(|c| c.is_control()), "{b:#x}: {e}");
        }
        assert_eq!(escape("\0"), "\\x00");
        assert_eq!(escape("\x07"), "\\x07");
        assert_eq!(escape("\x08"), "\\x08");
        assert_eq!(escape("\x7f"), "\\x7f");
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
    }

    #[test]
    fn every_c1_control_is_escaped() {
        for u in 0x80u32..=0x9f {
            let c = char::from_u32(u).unwrap();
            let e = escape(&c.to_string()).into_owned();
            assert_eq!(e, format!("\\u{{{u:x}}}"));
        }
        // CSI as one 8-bit control.
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn bidi_overrides_and_invisible_controls_are_escaped() {
        assert_eq!(escape("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        for u in [
            0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029,
            0xfeff, 0xfff9, 0xe0001, 0xe0041,
        ] {
            let c = char::from_u32(u).unwrap();
            assert!(needs_escape(c), "{u:#x}");
            assert_eq!(escape(&c.to_string()), format!("\\u{{{u:x}}}"));
        }
    }

    #[test]
    fn long_runs_are_folded_with_their_count() {
        let nuls = "\0".repeat(4096);
        assert_eq!(escape(&format!("id,{nuls},x")), "id,\\x00{4096 times},x");
        // Up to the limit a run is written out.
        assert_eq!(escape(&"\x07".repeat(8)), "\\x07".repeat(8));
        assert_eq!(escape(&"\x07".repeat(9)), "\\x07{9 times}");
        // Printable runs are left alone.
        assert_eq!(escape(&"=".repeat(100)), "=".repeat(100));
    }

    #[test]
    fn escape_lines_keeps_only_newlines() {
        assert_eq!(escape_lines("a\x1b[31m\nb\tc\r\n"), "a\\e[31m\nb\\tc\\r\n");
        assert_eq!(escape_lines("one\ntwo\n"), "one\ntwo\n");
    }

    #[test]
    fn error_lines_are_one_line_and_bounded() {
        assert_eq!(
            error_line("bad\nname.csv: file not found\n"),
            "bad\\nname.csv: file not found"
        );
        let long = format!("x: {}", "\0".repeat(4096));
        assert_eq!(error_line(&long), "x: \\x00{4096 times}");
        let huge = "a".repeat(ERROR_LIMIT + 500);
        let e = error_line(&huge);
        assert!(e.ends_with("... (500 more characters not shown)"), "{e}");
        assert_eq!(e.chars().take_while(|c| *c == 'a').count(), ERROR_LIMIT);
    }

    #[test]
    fn json_keeps_values_and_escapes_what_json_leaves_raw() {
        let v = serde_json::json!({"city": "City\u{1b}]0;PWNED\u{7}", "x": "a\u{9b}b\u{7f}\u{202e}\u{e0001}"});
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = json_safe(&text);
        assert!(
            !safe.chars().any(|c| needs_escape(c) && c != '\n'),
            "{safe}"
        );
        assert!(safe.contains(r"a\u009bb\u007f\u202e\udb40\udc01"), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
        assert!(matches!(json_safe("{\n  \"a\": 1\n}"), Cow::Borrowed(_)));
    }
}
