//! Word wrapping for pop-ups that must show a whole text (the message log): lines break at
//! spaces, and a word longer than the width (a path, a URL) breaks inside with a `…` at the
//! end of each cut piece, so nothing is lost and a cut is never silent. Widths are counted in
//! characters; the texts are escaped first, so there are no control characters.

/// `text` in lines of at most `width` characters (its own line breaks kept).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0usize;
        for word in para.split(' ') {
            let mut word: Vec<char> = word.chars().collect();
            // A word too long for any line: cut pieces, each ending in `…`.
            while word.len() > width {
                if len > 0 {
                    out.push(std::mem::take(&mut line));
                    len = 0;
                }
                let piece: String = word[..width - 1].iter().collect();
                out.push(format!("{piece}…"));
                word.drain(..width - 1);
            }
            let w = word.len();
            if len > 0 && len + 1 + w > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.extend(word);
            len += w;
        }
        out.push(line);
    }
    out
}

/// The first of `titles` (longest first) that fits in `width` characters; else the last, cut
/// with `…`. For chart and pane titles that must not be cut mid-word silently.
pub fn fit(titles: &[String], width: usize) -> String {
    if let Some(t) = titles.iter().find(|t| t.chars().count() <= width) {
        return t.clone();
    }
    let last = titles.last().cloned().unwrap_or_default();
    let keep = width.saturating_sub(1);
    let mut cut: String = last.chars().take(keep).collect();
    cut.push('…');
    cut
}

/// `text` in at most `width` characters: a longer one ends with `…`, so a cut value is never
/// taken for the whole.
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_values_end_with_an_ellipsis() {
        assert_eq!(cut("MEDIUM CERAMIC", 14), "MEDIUM CERAMIC");
        assert_eq!(cut("MEDIUM CERAMIC", 8), "MEDIUM …");
        assert_eq!(cut("ab", 1), "…");
        assert_eq!(cut("ab", 0), "");
    }

    #[test]
    fn titles_shorten_before_they_are_cut() {
        let t = vec![
            "a long title (with detail)".to_string(),
            "a long title".into(),
        ];
        assert_eq!(fit(&t, 40), "a long title (with detail)");
        assert_eq!(fit(&t, 15), "a long title");
        assert_eq!(fit(&t, 6), "a lon…");
    }

    #[test]
    fn words_wrap_and_long_words_are_cut_with_an_ellipsis() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(
            wrap("x /very/long/path.csv y", 8),
            vec!["x", "/very/l…", "ong/pat…", "h.csv y"]
        );
        assert_eq!(wrap("one\ntwo", 10), vec!["one", "two"]);
        // Nothing is lost: the pieces hold every character.
        let text = "error: /data/exports/2024/customers_with_a_long_name.csv: column `x` is text";
        let joined: String = wrap(text, 12).concat().replace('…', "");
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
    }
}
