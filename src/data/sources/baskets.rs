//! Basket files: one basket per line, its items separated by the delimiter, no header. This
//! is how market-basket data is usually published (arules' `read.transactions(format =
//! "basket")`, the FIMI repository, `Groceries.csv`, PyARMViz's Online Retail): the lines have
//! as many fields as the basket has items, so no table reader takes them. crmlens reads such a
//! file into the long table every analysis takes: `basket_id` (its number, blank lines skipped) and `item` (one
//! row per item, trimmed), so Rules finds its transaction and item roles with no flags.
//!
//! A file is taken as baskets when its lines' field counts disagree too much to be a table
//! with a few broken rows (see [`looks_like_baskets`]), or when its format is given as
//! `baskets`. Quoting follows RFC 4180 (an item holding the delimiter is quoted), read by the
//! `csv` crate.

use std::path::Path;

use polars::prelude::*;

use crate::data::error::{DataError, Result};

/// The format name a workspace's `format` or `--format` gives for a basket file.
pub const FORMAT: &str = "baskets";

/// The columns a basket file is read into.
pub const BASKET: &str = "basket_id";
pub const ITEM: &str = "item";

/// Whether the complete lines of `head` (the start of a delimited text) look like one basket
/// per line rather than a table: at least 4 records, at least 3 different field counts, and
/// fewer than half of the records with the first line's count (a table with a few broken rows
/// has most of its rows as wide as its header; that is an error, reported as one).
pub fn looks_like_baskets(head: &[u8], delimiter: u8) -> bool {
    // The last line may be cut off by the head's end.
    let complete = match head.iter().rposition(|&b| b == b'\n') {
        Some(i) => &head[..=i],
        None => return false,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(complete);
    let mut counts = Vec::new();
    for record in reader.byte_records().take(200) {
        let Ok(record) = record else { return false };
        if record.len() == 1 && record[0].iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        counts.push(record.len());
    }
    if counts.len() < 4 {
        return false;
    }
    let first = counts[0];
    let same = counts.iter().filter(|&&c| c == first).count();
    let mut distinct = counts.clone();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() >= 3 && same * 2 < counts.len()
}

/// What reading a basket file found, for its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub baskets: usize,
    pub items: usize,
    pub largest: usize,
    /// Items written with spaces around them (read without).
    pub trimmed: usize,
    /// Empty fields (`a,,b`), skipped.
    pub empty: usize,
}

impl Summary {
    /// One line for the source's notes.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "read as a basket file (one basket per line, no header): {} baskets of 1 to {} items, {} items in all, as columns `{BASKET}` (its number in the file) and `{ITEM}`",
            self.baskets, self.largest, self.items
        );
        if self.trimmed > 0 {
            s.push_str(&format!(
                "; {} items had spaces around them, removed",
                self.trimmed
            ));
        }
        if self.empty > 0 {
            s.push_str(&format!("; {} empty fields skipped", self.empty));
        }
        s
    }
}

/// Reads a basket text (the file's bytes, converted to UTF-8) into `basket_id` (1 for the first
/// non-blank line, as arules numbers transactions) and `item`. Blank lines are skipped; a field that is not UTF-8
/// is an error naming its line.
pub fn read(path: &Path, text: &[u8], delimiter: u8) -> Result<(DataFrame, Summary)> {
    let text = text.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
    let mut baskets: Vec<i64> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let mut summary = Summary {
        baskets: 0,
        items: 0,
        largest: 0,
        trimmed: 0,
        empty: 0,
    };
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    message: format!("line {line} of the basket file could not be read ({e})"),
                });
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let number = summary.baskets as i64 + 1;
        let mut n = 0;
        for field in record.iter() {
            let Ok(s) = std::str::from_utf8(field) else {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    message: format!(
                        "line {line} holds text that is not UTF-8; save the file as UTF-8"
                    ),
                });
            };
            let t = s.trim();
            if t.is_empty() {
                if record.len() != 1 {
                    summary.empty += 1;
                }
                continue;
            }
            if t.len() != s.len() {
                summary.trimmed += 1;
            }
            baskets.push(number);
            items.push(t.to_string());
            n += 1;
        }
        if n > 0 {
            summary.baskets += 1;
            summary.largest = summary.largest.max(n);
        }
    }
    summary.items = items.len();
    if summary.items == 0 {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            message: "is a basket file with no items; expected one basket per line".into(),
        });
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new(BASKET.into(), baskets),
        Column::new(ITEM.into(), items),
    ])
    .map_err(|e| DataError::Malformed {
        path: path.to_path_buf(),
        message: format!("the baskets could not be tabled ({e})"),
    })?;
    Ok((frame, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_lines_are_baskets_and_a_table_is_not() {
        let baskets =
            b"milk,bread\nbeer\n\"tea, green\",milk,eggs,jam\nbread,milk,eggs\nbeer,nappies\n";
        assert!(looks_like_baskets(baskets, b','));
        // A table with one broken row stays a table (and is reported as broken).
        let table = b"id,name,spend\n1,a,2\n2,b,3\n3,c\n4,d,5\n5,e,6,7\n";
        assert!(!looks_like_baskets(table, b','));
        // One item per line: a one-column table.
        assert!(!looks_like_baskets(b"a\nb\nc\nd\ne\n", b','));
        // Too few lines to tell.
        assert!(!looks_like_baskets(b"a,b\nc\n", b','));
    }

    #[test]
    fn items_are_read_per_line_with_quotes_and_spaces() {
        let text = b"milk,bread \r\n\r\n\"tea, green\",,milk\r\nbeer\r\n";
        let (df, s) = read(Path::new("b.csv"), text, b',').unwrap();
        let baskets: Vec<i64> = df
            .column(BASKET)
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let items: Vec<&str> = df
            .column(ITEM)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(baskets, [1, 1, 2, 2, 3]);
        assert_eq!(items, ["milk", "bread", "tea, green", "milk", "beer"]);
        assert_eq!(
            s,
            Summary {
                baskets: 3,
                items: 5,
                largest: 2,
                trimmed: 1,
                empty: 1
            }
        );
    }
}
