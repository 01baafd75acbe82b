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

#[cfg(test)]
mod tests {
    use super::*;

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
