//! Following sources as they grow: which files a workspace reads and whether they changed
//! since a moment (`Signature`, `changes`), and what a refreshed customer table changed
//! against the one shown before (`follow`: the old customers kept in their rows, new ones
//! after them, each row marked new, changed or the same). `crmlens watch` and the
//! workbench's follow mode both use it; the refresh itself is
//! [`super::incremental::integrate_incremental`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use polars::prelude::{ChunkCompareEq, DataFrame, DataType, IdxCa, IdxSize, NamedFrom};

use crate::data::error::{DataError, Result};
use crate::data::sources::workspace::Workspace;

/// A file a session reads: its path, and whether it is a database (polled, not stat'ed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Watched {
    pub path: PathBuf,
    pub database: bool,
}

/// The files of a workspace's sources (customers, orders, tickets, sessions), each once.
pub fn source_files(ws: &Workspace) -> Vec<Watched> {
    let s = &ws.sources;
    let mut out: Vec<Watched> = [Some(&s.customers)]
        .into_iter()
        .chain([s.orders.as_ref(), s.tickets.as_ref(), s.sessions.as_ref()])
        .flatten()
        .map(|c| Watched {
            path: ws.resolve(c),
            database: c.url.is_some(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Size and modification time of each watched file (None for a database, or a file that
/// cannot be read now).
pub type Signature = Vec<(PathBuf, Option<(u64, SystemTime)>)>;

/// A pattern (`orders/*.csv`) stands for the files it matches now, so a new file shows as
/// one that appeared.
pub fn signature(files: &[Watched]) -> Signature {
    let meta = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)))
    };
    let mut out = Vec::new();
    for w in files {
        if w.database {
            out.push((w.path.clone(), None));
        } else if crate::data::sources::file::is_pattern(&w.path) {
            for f in crate::data::sources::file::matching(&w.path).unwrap_or_default() {
                let m = meta(&f);
                out.push((f, m));
            }
        } else {
            out.push((w.path.clone(), meta(&w.path)));
        }
    }
    out
}

/// What changed between two signatures of the same files, one phrase per file ("orders.csv
/// +12.0 KB", "customers.csv rewritten", "tickets.csv is gone"); empty when nothing did.
pub fn changes(before: &Signature, now: &Signature) -> Vec<String> {
    let old: HashMap<&Path, &Option<(u64, SystemTime)>> =
        before.iter().map(|(p, m)| (p.as_path(), m)).collect();
    let mut out = Vec::new();
    for (path, meta) in now {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let was = old.get(path.as_path()).copied().cloned().flatten();
        match (was, meta) {
            (Some(a), Some(b)) if a == *b => {}
            (Some((size, _)), Some((now_size, _))) if *now_size > size => {
                out.push(format!("{name} +{}", bytes(now_size - size)))
            }
            (Some(_), Some(_)) => out.push(format!("{name} rewritten")),
            (None, Some(_)) => out.push(format!("{name} appeared")),
            (Some(_), None) => out.push(format!("{name} is gone")),
            (None, None) => {}
        }
    }
    // A file a pattern matched before and no longer does.
    let now_paths: std::collections::HashSet<&Path> =
        now.iter().map(|(p, _)| p.as_path()).collect();
    for (path, meta) in before {
        if meta.is_some() && !now_paths.contains(path.as_path()) {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            out.push(format!("{name} is gone"));
        }
    }
    out
}

/// A byte count as a person reads it.
pub fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// How a row of a refreshed table compares with the table shown before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Same,
    /// The customer was there; some value of the row differs.
    Changed,
    /// A customer the previous table did not have.
    New,
}

/// A refreshed customer table arranged to follow the previous one.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The previous table's customers still there, in their previous order, then the new
    /// customers in the refreshed table's order.
    pub table: DataFrame,
    /// Each row's mark, in `table`'s order.
    pub marks: Vec<Mark>,
    /// How many rows of each kind.
    pub new: usize,
    pub changed: usize,
    /// Customers of the previous table that the refreshed one no longer has.
    pub removed: usize,
}

impl Followed {
    /// The previous table's rows are the first rows of `table`, in the same order (no
    /// customer left): row numbers of results computed on it still name the same customers.
    pub fn keeps_rows(&self) -> bool {
        self.removed == 0
    }
}

/// Arranges `new` (a refresh of `old`; the first column of both is the customer key) so
/// that the customers of `old` keep their rows, and marks each row. A column `old` did not
/// have marks every row changed. When the first column is not a key (a value repeats, or is
/// missing), rows are matched by position.
pub fn follow(old: &DataFrame, new: DataFrame) -> Result<Followed> {
    let key_of = |t: &DataFrame, which: &str| -> Result<Vec<Option<String>>> {
        let c = t.columns().first().ok_or_else(|| {
            DataError::Invalid(format!("the {which} customer table has no columns"))
        })?;
        let s = c
            .cast(&DataType::String)
            .map_err(|e| DataError::polars(format!("the {which} table's key"), e))?;
        let s = s
            .str()
            .map_err(|e| DataError::polars(format!("the {which} table's key"), e))?;
        Ok(s.iter().map(|v| v.map(str::to_string)).collect())
    };
    let old_keys = key_of(old, "previous")?;
    let new_keys = key_of(&new, "refreshed")?;
    let unique = |keys: &[Option<String>]| {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.iter()
            .all(|k| k.as_deref().is_some_and(|k| seen.insert(k)))
    };
    // (old row, new row) of the customers still there, by old row; then the new ones.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut added: Vec<usize> = Vec::new();
    let removed;
    if unique(&old_keys) && unique(&new_keys) {
        let at: HashMap<&str, usize> = old_keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| Some((k.as_deref()?, i)))
            .collect();
        for (j, k) in new_keys.iter().enumerate() {
            match k.as_deref().and_then(|k| at.get(k)) {
                Some(&i) => kept.push((i, j)),
                None => added.push(j),
            }
        }
        kept.sort_unstable();
        removed = old_keys.len() - kept.len();
    } else {
        // No key names a row (a file whose first column repeats): rows follow by position,
        // as a file that grew keeps its first rows.
        let n = old_keys.len().min(new_keys.len());
        kept = (0..n).map(|i| (i, i)).collect();
        added = (n..new_keys.len()).collect();
        removed = old_keys.len() - n;
    }
    let order: Vec<IdxSize> = kept
        .iter()
        .map(|&(_, j)| j as IdxSize)
        .chain(added.iter().map(|&j| j as IdxSize))
        .collect();
    let take = |t: &DataFrame, rows: Vec<IdxSize>| -> Result<DataFrame> {
        let idx = IdxCa::new("rows".into(), rows);
        t.take(&idx)
            .map_err(|e| DataError::polars("arranging the refreshed table", e))
    };
    let table = take(&new, order)?;
    let before = take(old, kept.iter().map(|&(i, _)| i as IdxSize).collect())?;
    let n_kept = kept.len();
    let mut same = vec![true; n_kept];
    for c in table.columns() {
        let now = c.as_materialized_series().head(Some(n_kept));
        match before.column(c.name()) {
            Ok(was) if was.dtype() == c.dtype() => {
                let eq = now
                    .equal_missing(was.as_materialized_series())
                    .map_err(|e| DataError::polars(format!("comparing `{}`", c.name()), e))?;
                for (s, e) in same.iter_mut().zip(eq.iter()) {
                    *s &= e.unwrap_or(false);
                }
            }
            _ => same.iter_mut().for_each(|s| *s = false),
        }
    }
    let mut marks: Vec<Mark> = same
        .iter()
        .map(|&s| if s { Mark::Same } else { Mark::Changed })
        .collect();
    marks.extend(std::iter::repeat_n(Mark::New, added.len()));
    Ok(Followed {
        changed: marks.iter().filter(|m| **m == Mark::Changed).count(),
        new: added.len(),
        removed,
        table,
        marks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::df;

    #[test]
    fn old_customers_keep_their_rows_and_each_row_is_marked() {
        let old =
            df!("id" => ["a", "b", "c"], "n" => [1i64, 2, 3], "x" => [Some(1.5), None, Some(2.0)])
                .unwrap();
        // c changed, b the same (a missing value still missing), d and e new, a moved.
        let new = df!(
            "id" => ["d", "b", "c", "a", "e"],
            "n" => [9i64, 2, 4, 1, 7],
            "x" => [Some(0.0), None, Some(2.0), Some(1.5), None]
        )
        .unwrap();
        let f = follow(&old, new).unwrap();
        let ids: Vec<&str> = f
            .table
            .column("id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        assert_eq!(
            f.marks,
            [Mark::Same, Mark::Same, Mark::Changed, Mark::New, Mark::New]
        );
        assert_eq!((f.new, f.changed, f.removed), (2, 1, 0));
        assert!(f.keeps_rows());
        let n: Vec<i64> = f
            .table
            .column("n")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(n, [1, 2, 4, 9, 7]);
    }

    #[test]
    fn a_customer_gone_and_a_new_column_are_reported() {
        let old = df!("id" => [1i64, 2], "n" => [1i64, 2]).unwrap();
        let new = df!("id" => [2i64, 3], "n" => [2i64, 3], "m" => [0i64, 0]).unwrap();
        let f = follow(&old, new).unwrap();
        assert_eq!(f.removed, 1);
        assert!(!f.keeps_rows());
        // A column the old table lacked: the kept row counts as changed.
        assert_eq!(f.marks, [Mark::Changed, Mark::New]);
    }

    #[test]
    fn without_a_key_rows_follow_by_position() {
        let old = df!("state" => ["KS", "OH", "KS"], "n" => [1i64, 2, 3]).unwrap();
        let new =
            df!("state" => ["KS", "OH", "KS", "NJ", "OH"], "n" => [1i64, 5, 3, 4, 6]).unwrap();
        let f = follow(&old, new).unwrap();
        assert_eq!(
            f.marks,
            [Mark::Same, Mark::Changed, Mark::Same, Mark::New, Mark::New]
        );
        assert_eq!((f.new, f.changed, f.removed), (2, 1, 0));
    }

    #[test]
    fn a_pattern_stands_for_its_files_and_a_new_one_appears() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("part-1.csv"), "a\n1\n").unwrap();
        let files = [Watched {
            path: dir.path().join("part-*.csv"),
            database: false,
        }];
        let before = signature(&files);
        assert_eq!(before.len(), 1);
        assert!(before[0].1.is_some());
        std::fs::write(dir.path().join("part-2.csv"), "a\n2\n").unwrap();
        let now = signature(&files);
        assert_eq!(changes(&before, &now), ["part-2.csv appeared"]);
        std::fs::remove_file(dir.path().join("part-1.csv")).unwrap();
        let later = signature(&files);
        assert_eq!(changes(&now, &later), ["part-1.csv is gone"]);
    }

    #[test]
    fn changes_name_each_file_and_how_it_changed() {
        let t = SystemTime::UNIX_EPOCH;
        let later = t + std::time::Duration::from_secs(5);
        let before: Signature = vec![
            ("a/orders.csv".into(), Some((1000, t))),
            ("a/customers.csv".into(), Some((500, t))),
            ("a/tickets.csv".into(), Some((10, t))),
            ("a/web.csv".into(), None),
        ];
        let now: Signature = vec![
            ("a/orders.csv".into(), Some((13_345, later))),
            ("a/customers.csv".into(), Some((500, later))),
            ("a/tickets.csv".into(), None),
            ("a/web.csv".into(), Some((1, later))),
        ];
        assert_eq!(
            changes(&before, &now),
            [
                "orders.csv +12.3 KB",
                "customers.csv rewritten",
                "tickets.csv is gone",
                "web.csv appeared"
            ]
        );
        assert!(changes(&now, &now).is_empty());
    }
}
