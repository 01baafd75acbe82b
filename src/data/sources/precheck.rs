//! Checks a file passes before polars reads it, so hostile or odd input gets one clear line
//! (or is read right) instead of a panic, a hang, a stack overflow or a silently wrong table:
//! the path names a regular file, the text's encoding and line ends, a header quote that is
//! never closed, rows with too few or too many fields, JSON nested too deep and integers too
//! large for 64 bits. Each reads with bounded memory; none knows about polars.

use std::io::Read;
use std::path::Path;

use crate::data::error::{DataError, Result};

/// JSON deeper than this is refused: crmlens reads records of fields, and polars' nested
/// types recurse once per level (10,000 levels overflow the stack).
pub const MAX_JSON_DEPTH: usize = 64;

/// A file converted in memory (UTF-16, CR line ends) may be at most this large.
pub const MAX_CONVERTED_BYTES: u64 = 2 << 30;

fn malformed(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Errors unless `path` is (or links to) a regular file: a folder, a FIFO (which would block
/// forever), a device such as /dev/zero (which never ends), a dangling link or a link loop
/// each get their own line. Returns the file's size.
pub fn regular_file(path: &Path) -> Result<u64> {
    let link = std::fs::symlink_metadata(path).map_err(|e| DataError::io(path, e))?;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if link.file_type().is_symlink() => {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            return Err(malformed(
                path,
                if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "is a symbolic link to {target}, which does not exist; fix the link or the path"
                    )
                } else {
                    format!(
                        "is a symbolic link that cannot be followed ({e}; a link loop?); point it at a file"
                    )
                },
            ));
        }
        Err(e) => return Err(DataError::io(path, e)),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(malformed(path, "is a folder, not a data file"));
    }
    if !kind.is_file() {
        return Err(malformed(
            path,
            "is not a regular file (a FIFO, socket or device such as /dev/zero); save the data to a file and open that",
        ));
    }
    Ok(meta.len())
}

/// How a text file is encoded, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with a byte-order mark",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
        }
    }
}

/// The encoding of a text whose first bytes are `head`: a byte-order mark, or (without one)
/// UTF-16 told by the zero byte beside each ASCII character.
pub fn detect_encoding(head: &[u8]) -> Encoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Encoding::Utf8Bom;
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Encoding::Utf16Le;
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Encoding::Utf16Be;
    }
    let pairs = head.len() / 2;
    if pairs >= 2 {
        let even_zero = head
            .chunks_exact(2)
            .filter(|p| p[0] == 0 && p[1] != 0)
            .count();
        let odd_zero = head
            .chunks_exact(2)
            .filter(|p| p[1] == 0 && p[0] != 0)
            .count();
        // Text in UTF-16 has a zero in most pairs, always on the same side.
        if odd_zero * 10 >= pairs * 8 {
            return Encoding::Utf16Le;
        }
        if even_zero * 10 >= pairs * 8 {
            return Encoding::Utf16Be;
        }
    }
    Encoding::Utf8
}

/// True when a line of `head` ends in a lone CR (classic Mac line ends, or a mix), outside
/// quotes.
pub fn has_lone_cr(head: &[u8]) -> bool {
    let mut in_quotes = false;
    let mut i = 0;
    while i < head.len() {
        match head[i] {
            b'"' => in_quotes = !in_quotes,
            // A CR at the very end of the head may be followed by LF beyond it.
            b'\r' if !in_quotes && i + 1 < head.len() && head[i + 1] != b'\n' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// The whole file as UTF-8 with LF line ends, for a file in `encoding` or with CR line ends.
/// Bounded: a file over [`MAX_CONVERTED_BYTES`] is refused with what to do.
pub fn converted_text(path: &Path, encoding: Encoding) -> Result<Vec<u8>> {
    let size = regular_file(path)?;
    if size > MAX_CONVERTED_BYTES {
        return Err(malformed(
            path,
            format!(
                "is {} with non-standard line ends and too large ({} MB) to convert in memory; convert it to UTF-8 with LF line ends first (e.g. iconv -f UTF-16 -t UTF-8, tr '\\r' '\\n')",
                encoding.name(),
                size >> 20
            ),
        ));
    }
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let text: String = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(&raw).into_owned(),
        Encoding::Utf8Bom => String::from_utf8_lossy(&raw[3..]).into_owned(),
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let body = match raw.get(..2) {
                Some([0xFF, 0xFE]) | Some([0xFE, 0xFF]) => &raw[2..],
                _ => &raw[..],
            };
            let units = body.chunks_exact(2).map(|p| match encoding {
                Encoding::Utf16Le => u16::from_le_bytes([p[0], p[1]]),
                _ => u16::from_be_bytes([p[0], p[1]]),
            });
            let mut out = String::with_capacity(body.len() / 2);
            for (i, c) in char::decode_utf16(units).enumerate() {
                match c {
                    Ok(c) => out.push(c),
                    Err(_) => {
                        return Err(malformed(
                            path,
                            format!(
                                "is {} but has an invalid character at byte {}; re-save it as UTF-8",
                                encoding.name(),
                                2 * i
                            ),
                        ));
                    }
                }
            }
            out
        }
    };
    let mut bytes = text.into_bytes();
    normalise_line_ends(&mut bytes);
    Ok(bytes)
}

/// CRLF and lone CR become LF, in place.
pub fn normalise_line_ends(bytes: &mut Vec<u8>) {
    let mut w = 0;
    let mut r = 0;
    while r < bytes.len() {
        let b = bytes[r];
        if b == b'\r' {
            bytes[w] = b'\n';
            w += 1;
            r += if bytes.get(r + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
        } else {
            bytes[w] = b;
            w += 1;
            r += 1;
        }
    }
    bytes.truncate(w);
}

/// Errors when the header line (the first line of `head`) opens a quote it does not close:
/// polars would then read the rest of the file as one column name and no rows.
pub fn check_header_quotes(path: &Path, head: &[u8], delimiter: u8) -> Result<()> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let quotes = line.iter().filter(|&&b| b == b'"').count();
    if quotes % 2 == 0 {
        return Ok(());
    }
    // Which column: the field in which the unclosed quote opens.
    let mut in_quotes = false;
    let mut field = 1;
    let mut opened_in = 1;
    for &b in line {
        if b == b'"' {
            in_quotes = !in_quotes;
            if in_quotes {
                opened_in = field;
            }
        } else if b == delimiter && !in_quotes {
            field += 1;
        }
    }
    Err(malformed(
        path,
        format!(
            "the header (line 1) opens a quote in column {opened_in} that it never closes, so the rest of the file would be read as one column name; close or remove the quote"
        ),
    ))
}

/// Counts the fields of every record of a delimited text (quotes respected, a quoted field
/// may hold line breaks, blank lines skipped) and errors at the first record whose count
/// differs from the header's: polars pads short rows with nulls without a word, so both
/// directions are checked here. Reads `reader` once with a fixed buffer.
pub fn check_field_counts(path: &Path, mut reader: impl Read, delimiter: u8) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut in_quotes = false;
    let mut line = 1usize; // physical line of the current byte
    let mut record_line = 1usize; // where the current record started
    let mut fields = 1usize;
    let mut record_empty = true;
    let mut header: Option<usize> = None;
    let mut finish = |fields: usize, empty: bool, at: usize| -> Result<()> {
        if empty {
            return Ok(());
        }
        match header {
            None => header = Some(fields),
            Some(h) if h != fields => {
                let what = if fields < h {
                    "add the missing fields (empty ones are fine) or fix the delimiter"
                } else {
                    "check the delimiter and quoting (a value holding the delimiter must be quoted)"
                };
                return Err(malformed(
                    path,
                    format!("line {at} has {fields} fields, the header has {h}; {what}"),
                ));
            }
            Some(_) => {}
        }
        Ok(())
    };
    loop {
        let n = reader.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let mut pos = 0;
        // Jump between the only bytes that matter.
        for i in memchr::memchr3_iter(delimiter, b'"', b'\n', chunk) {
            let b = chunk[i];
            if record_empty && chunk[pos..i].iter().any(|&c| c != b'\r') {
                record_empty = false;
            }
            pos = i + 1;
            match b {
                b'"' => {
                    in_quotes = !in_quotes;
                    record_empty = false;
                }
                b'\n' => {
                    line += 1;
                    if !in_quotes {
                        finish(fields, record_empty, record_line)?;
                        fields = 1;
                        record_empty = true;
                        record_line = line;
                    }
                }
                _ if !in_quotes => {
                    fields += 1;
                    record_empty = false;
                }
                _ => {}
            }
        }
        if record_empty && chunk[pos..].iter().any(|&c| c != b'\r') {
            record_empty = false;
        }
    }
    finish(fields, record_empty, record_line)
}

/// Scans JSON text (an array of records, or one record per line when `lines`) without
/// building it, and errors when it nests deeper than [`MAX_JSON_DEPTH`]. The whole text is
/// read: a deep line after the rows polars infers types from overflows its stack too.
pub fn check_json_depth(path: &Path, mut reader: impl Read, lines: bool) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escape = false;
    let mut line = 1usize;
    loop {
        let n = reader.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        let chunk = &buf[..n];
        let mut i = 0;
        while i < chunk.len() {
            if escape {
                escape = false;
                i += 1;
                continue;
            }
            if in_string {
                // Jump to the string's next quote or backslash.
                match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                    Some(k) => {
                        i += k;
                        if chunk[i] == b'\\' {
                            escape = true;
                        } else {
                            in_string = false;
                        }
                        i += 1;
                    }
                    None => i = chunk.len(),
                }
                continue;
            }
            match chunk[i] {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_JSON_DEPTH {
                        let at = if lines {
                            format!("line {line} ")
                        } else {
                            String::new()
                        };
                        return Err(malformed(
                            path,
                            format!(
                                "{at}nests deeper than {MAX_JSON_DEPTH} levels; crmlens reads records of fields: flatten the data first"
                            ),
                        ));
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                b'\n' => {
                    line += 1;
                    // A broken line does not carry its depth into the next record.
                    if lines {
                        depth = 0;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(text: &str) -> std::result::Result<(), String> {
        check_field_counts(Path::new("t.csv"), text.as_bytes(), b',').map_err(|e| e.to_string())
    }

    #[test]
    fn field_counts_both_directions_with_quotes_and_blank_lines() {
        assert_eq!(counts("a,b,c\n1,2,3\n\n4,5,6\n"), Ok(()));
        assert_eq!(counts("a,b,c\r\n1,2,3\r\n4,5,6"), Ok(()));
        // A quoted field holds the delimiter and a line break.
        assert_eq!(counts("a,b\n\"x,\ny\",2\n3,4\n"), Ok(()));
        let short = counts("a,b,c\n1,2,3\n4,5\n").unwrap_err();
        assert!(
            short.contains("line 3 has 2 fields, the header has 3"),
            "{short}"
        );
        let long = counts("a,b\n\"x,\ny\",2\n3,4,5\n").unwrap_err();
        assert!(
            long.contains("line 4 has 3 fields, the header has 2"),
            "{long}"
        );
        // The last line without its newline is checked too.
        assert!(counts("a,b\n1,2\n3").unwrap_err().contains("line 3 has 1"));
    }

    #[test]
    fn field_counts_across_buffer_boundaries() {
        let mut text = String::from("id,name,n\n");
        for i in 0..200_000 {
            text.push_str(&format!("{i},\"Name, {i}\",{}\n", i * 3));
        }
        assert_eq!(counts(&text), Ok(()));
        text.push_str("x,y\n");
        let e = counts(&text).unwrap_err();
        assert!(e.contains("line 200002 has 2 fields"), "{e}");
    }

    #[test]
    fn encodings_and_line_ends() {
        assert_eq!(detect_encoding(b"id,name\n"), Encoding::Utf8);
        assert_eq!(detect_encoding(b"\xEF\xBB\xBFid"), Encoding::Utf8Bom);
        let le: Vec<u8> = "id,name\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let be: Vec<u8> = "id,name\n"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(detect_encoding(&le), Encoding::Utf16Le);
        assert_eq!(detect_encoding(&be), Encoding::Utf16Be);
        assert!(has_lone_cr(b"a,b\r1,2\r"));
        assert!(has_lone_cr(b"a,b\r\n1,2\r3,4\n"));
        assert!(!has_lone_cr(b"a,b\r\n1,2\r\n"));
        assert!(!has_lone_cr(b"a,\"x\ry\"\n"));
        let mut v = b"a\r\nb\rc\nd\r".to_vec();
        normalise_line_ends(&mut v);
        assert_eq!(v, b"a\nb\nc\nd\n");
    }

    #[test]
    fn utf16_files_convert_to_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.csv");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(
            "id,name\r\nA,Zoë\r\n"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        );
        std::fs::write(&p, bytes).unwrap();
        let out = converted_text(&p, Encoding::Utf16Le).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "id,name\nA,Zoë\n");
    }

    #[test]
    fn header_quotes() {
        let p = Path::new("q.csv");
        assert!(check_header_quotes(p, b"id,\"a,b\",c\n", b',').is_ok());
        let e = check_header_quotes(p, b"id,\"name,email\nA,B\n", b',')
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 2") && e.contains("never closes"), "{e}");
    }

    #[test]
    fn json_depth() {
        let p = Path::new("j.ndjson");
        let deep = format!("{{\"a\":{}{}}}\n", "[".repeat(10_000), "]".repeat(10_000));
        let e = check_json_depth(p, deep.as_bytes(), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1 nests deeper than 64"), "{e}");
        let ok = format!("{{\"a\":{}1{}}}\n", "[".repeat(63), "]".repeat(63));
        assert!(check_json_depth(p, ok.as_bytes(), true).is_ok());
        // Brackets inside strings (with escaped quotes) do not count.
        let text = format!("[{{\"x\":\"{}\\\"{}\"}}]", "[".repeat(100), "{".repeat(100));
        assert!(check_json_depth(Path::new("a.json"), text.as_bytes(), false).is_ok());
        // A deep record far down the file is found, on its line; an unclosed line does not
        // add up with the next ones.
        let mut text = "{\"a\":[[[[\n".repeat(100);
        text.push_str(&deep);
        let e = check_json_depth(p, text.as_bytes(), true).unwrap_err();
        assert!(e.to_string().contains("line 101 nests"), "{e}");
    }
}
