//! Writing frames to CSV or Parquet (by the file name's extension), for `integrate --out`,
//! `segment --out` and the workbench's exports.

use std::path::Path;

use polars::prelude::*;

use super::error::{DataError, Result};

/// Writes `df` to `out`; the extension picks the format (.csv or .parquet).
pub fn write_table(df: &mut DataFrame, out: &Path) -> Result<()> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(ext.as_str(), "csv" | "parquet") {
        return Err(DataError::Invalid(format!(
            "{}: unknown output format `.{ext}`; use a .csv or .parquet file name",
            out.display()
        )));
    }
    let file = std::fs::File::create(out).map_err(|e| DataError::io(out, e))?;
    let failed = |e: PolarsError| DataError::Malformed {
        path: out.to_path_buf(),
        message: format!("writing {ext}: {e}"),
    };
    match ext.as_str() {
        "csv" => CsvWriter::new(file)
            .include_header(true)
            .finish(df)
            .map_err(failed)?,
        _ => {
            ParquetWriter::new(file).finish(df).map_err(failed)?;
        }
    }
    Ok(())
}

/// Writes ids and cluster labels (-1 for noise) as a two-column table.
pub fn write_labels(out: &Path, id_col: &str, ids: &Column, labels: Vec<i64>) -> Result<()> {
    let mut df = DataFrame::new_infer_height(vec![
        ids.clone().with_name(id_col.into()),
        Column::new("label".into(), labels),
    ])
    .map_err(|e| DataError::polars("labels", e))?;
    write_table(&mut df, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_csv_and_parquet() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["l.csv", "l.parquet"] {
            let p = dir.path().join(name);
            let ids = Column::new("key".into(), ["a", "b"]);
            write_labels(&p, "id", &ids, vec![1, -1]).unwrap();
            let back = super::super::source::read_frame(&p, &Default::default()).unwrap();
            assert_eq!(back.shape(), (2, 2));
            let l: Vec<Option<i64>> = back
                .column("label")
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .collect();
            assert_eq!(l, vec![Some(1), Some(-1)]);
        }
        let err = write_labels(
            &dir.path().join("l.xlsx"),
            "id",
            &Column::new("id".into(), Vec::<String>::new()),
            vec![],
        )
        .unwrap_err();
        assert!(err.to_string().contains(".xlsx"), "{err}");
    }
}
