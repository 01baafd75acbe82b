//! Reading a `COPY ... TO STDOUT (FORMAT csv)` stream into a polars frame in batches: the
//! bytes are cut into batches of about [`BATCH_BYTES`] (8 MiB) at row ends, and each batch is
//! parsed (with the query's schema) on another thread while the next one is read; the same
//! few buffers are reused. The text of the whole result is never held at once, so the peak is
//! about the frame plus a few batches rather than the frame plus all of its CSV text; the
//! frame's columns keep one chunk per batch.
//!
//! A row end is a newline outside quotes: COPY's CSV quotes a field holding a newline, and
//! a doubled quote inside a field keeps the parity, so counting quotes is enough.

use std::io::BufRead;
use std::sync::mpsc;

use polars::prelude::*;

use crate::progress::Progress;

/// Bytes of CSV text per parsed batch.
pub const BATCH_BYTES: usize = 8 << 20;

/// How often (in bytes read) the cancel flag is looked at and the progress label updated.
const CHECK_BYTES: u64 = 1 << 20;

/// Why a read stopped.
#[derive(Debug)]
pub enum ReadError {
    Cancelled,
    Io(std::io::Error),
    Parse(PolarsError),
}

/// Cuts a byte stream into batches that end at a row end.
#[derive(Debug)]
pub struct Batcher {
    target: usize,
    buf: Vec<u8>,
    /// Whether the end of `buf` is inside a quoted field.
    in_quotes: bool,
    /// Emptied batches, to be filled again.
    spares: Vec<Vec<u8>>,
}

impl Batcher {
    pub fn new(target: usize) -> Self {
        Self {
            target: target.max(1),
            buf: Vec::new(),
            in_quotes: false,
            spares: Vec::new(),
        }
    }

    /// Takes back a parsed batch's buffer: the same few buffers are filled again and again
    /// rather than allocated and freed per batch (which leaves the allocator holding pages).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.spares.push(buf);
    }

    fn fresh(&mut self) -> Vec<u8> {
        match self.spares.pop() {
            Some(b) => b,
            // Room for a batch and its last row, so the buffer never doubles past it.
            None => Vec::with_capacity(self.target + (self.target / 64).max(64)),
        }
    }

    /// Appends `chunk`; returns a batch of whole rows once there are `target` bytes or more.
    pub fn push(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        if self.buf.capacity() == 0 {
            self.buf = self.fresh();
        }
        self.buf.extend_from_slice(chunk);
        if chunk.iter().filter(|&&c| c == b'"').count() % 2 == 1 {
            self.in_quotes = !self.in_quotes;
        }
        if self.buf.len() < self.target {
            return None;
        }
        let at = self.row_end()?;
        // The end of the buffer (and so `in_quotes`) stays where it was.
        let mut next = self.fresh();
        next.extend_from_slice(&self.buf[at..]);
        self.buf.truncate(at);
        Some(std::mem::replace(&mut self.buf, next))
    }

    /// The position after the last newline outside quotes.
    fn row_end(&self) -> Option<usize> {
        let mut quoted = self.in_quotes;
        for (i, &c) in self.buf.iter().enumerate().rev() {
            match c {
                b'\n' if !quoted => return Some(i + 1),
                b'"' => quoted = !quoted,
                _ => {}
            }
        }
        None
    }

    /// What is left (the last batch).
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

fn parse(batch: &[u8], schema: &SchemaRef) -> PolarsResult<DataFrame> {
    // A slice is parsed in place (no copy).
    CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.clone()))
        .into_reader_with_file_handle(std::io::Cursor::new(batch))
        .finish()
}

/// Reads the CSV stream `reader` into one frame of `schema`, in batches of `batch_bytes`.
/// `progress`, if given, is checked for a cancel every MiB and told how much was read.
pub fn read_csv(
    reader: &mut dyn BufRead,
    schema: SchemaRef,
    batch_bytes: usize,
    progress: Option<&Progress>,
) -> Result<DataFrame, ReadError> {
    std::thread::scope(|scope| {
        // One batch waits while one is parsed and one is read.
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        let parse_schema = schema.clone();
        let parser = scope.spawn(move || -> PolarsResult<Vec<DataFrame>> {
            let mut frames = Vec::new();
            for batch in rx {
                frames.push(parse(&batch, &parse_schema)?);
                let _ = back_tx.send(batch);
            }
            Ok(frames)
        });
        let read = (|| -> Result<(), ReadError> {
            let mut batcher = Batcher::new(batch_bytes);
            let mut bytes = 0u64;
            let mut next_check = 0u64;
            loop {
                if bytes >= next_check {
                    if let Some(p) = progress {
                        if p.is_cancelled() {
                            return Err(ReadError::Cancelled);
                        }
                        if bytes > 0 {
                            p.label(&format!("reading {} MB from PostgreSQL", bytes / 1_000_000));
                        }
                    }
                    next_check = bytes + CHECK_BYTES;
                }
                let chunk = reader.fill_buf().map_err(ReadError::Io)?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                let full = batcher.push(chunk);
                while let Ok(b) = back_rx.try_recv() {
                    batcher.recycle(b);
                }
                reader.consume(n);
                bytes += n as u64;
                // A send fails only when the parser stopped on an error (reported below).
                if let Some(batch) = full
                    && tx.send(batch).is_err()
                {
                    return Ok(());
                }
            }
            let last = batcher.finish();
            if !last.is_empty() {
                let _ = tx.send(last);
            }
            Ok(())
        })();
        drop(tx);
        let parsed = parser.join().expect("the CSV parser thread panicked");
        read?;
        let frames = parsed.map_err(ReadError::Parse)?;
        let mut frames = frames.into_iter();
        let Some(mut df) = frames.next() else {
            return Ok(DataFrame::empty_with_schema(&schema));
        };
        // Appending moves each batch's columns in as chunks (nothing is copied).
        for f in frames {
            df.vstack_mut_owned(f).map_err(ReadError::Parse)?;
        }
        Ok(df)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with quoted newlines and quotes, cut into every chunk size: the batches always
    /// end at a row end and add up to the input.
    #[test]
    fn batches_end_at_row_ends_outside_quotes() {
        let text = "1,\"a\nb\",x\n2,\"say \"\"hi\"\"\n\",y\n3,,\"\n\n\"\n4,plain,z\n";
        let rows = [
            "1,\"a\nb\",x\n",
            "2,\"say \"\"hi\"\"\n\",y\n",
            "3,,\"\n\n\"\n",
            "4,plain,z\n",
        ];
        for chunk in 1..text.len() {
            for target in [1, 3, 8, 20, 1000] {
                let mut b = Batcher::new(target);
                let mut batches = Vec::new();
                for c in text.as_bytes().chunks(chunk) {
                    if let Some(x) = b.push(c) {
                        batches.push(x);
                    }
                }
                batches.push(b.finish());
                let joined: Vec<u8> = batches.concat();
                assert_eq!(joined, text.as_bytes(), "chunk {chunk} target {target}");
                for x in &batches[..batches.len() - 1] {
                    let s = std::str::from_utf8(x).unwrap();
                    // Each batch is a run of whole rows.
                    let mut rest = s;
                    while !rest.is_empty() {
                        let r = rows.iter().find(|r| rest.starts_with(**r));
                        let r =
                            r.unwrap_or_else(|| panic!("{s:?} (chunk {chunk} target {target})"));
                        rest = &rest[r.len()..];
                    }
                }
            }
        }
    }

    #[test]
    fn batched_parsing_gives_the_whole_frame() {
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!(
                "{i},\"name {i}\nline two, \"\"q\"\"\",{}.5\n",
                i % 7
            ));
        }
        let schema: SchemaRef = Arc::new(Schema::from_iter([
            Field::new("i".into(), DataType::Int64),
            Field::new("s".into(), DataType::String),
            Field::new("f".into(), DataType::Float64),
        ]));
        let whole = parse(text.as_bytes(), &schema).unwrap();
        let mut r = std::io::BufReader::with_capacity(777, text.as_bytes());
        let df = read_csv(&mut r, schema.clone(), 10_000, None).unwrap();
        assert!(df.first_col_n_chunks() > 1 || df.height() < 100);
        assert!(df.equals_missing(&whole));
        assert_eq!(df.height(), 5000);
        // Nothing at all: the schema's empty frame.
        let mut r = std::io::BufReader::new(&b""[..]);
        let df = read_csv(&mut r, schema, 10_000, None).unwrap();
        assert_eq!((df.height(), df.width()), (0, 3));
        // A cancel before the read stops it.
        let p = Progress::new();
        p.cancel();
        let mut r = std::io::BufReader::new(text.as_bytes());
        let e = read_csv(&mut r, whole.schema().clone(), 10_000, Some(&p));
        assert!(matches!(e, Err(ReadError::Cancelled)));
    }
}
