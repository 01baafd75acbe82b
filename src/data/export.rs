//! Writing frames to CSV or Parquet (by the file name's extension), for `integrate --out`,
//! `segment --out` and the workbench's exports.

use std::path::Path;

use polars::prelude::*;

use super::error::{DataError, Result};

/// The table format of `out` by its extension: "csv" or "parquet", else an error.
fn table_format(out: &Path) -> Result<String> {
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
    Ok(ext)
}

/// Writes `df` to `out`; the extension picks the format (.csv or .parquet).
pub fn write_table(df: &mut DataFrame, out: &Path) -> Result<()> {
    let ext = table_format(out)?;
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

/// A model's scores for writing: every row's actual class, class probabilities and
/// predicted class, by class number.
#[derive(Debug, Clone)]
pub struct Scores<'a> {
    pub classes: &'a [String],
    pub actual: &'a [usize],
    pub probabilities: &'a [Vec<f64>],
    pub predicted: &'a [usize],
}

/// Writes a model's scores: id, actual class, one `p_<class>` column per class, and the
/// predicted class; for `rows` only, in that order, when given (else every row).
pub fn write_scores(
    out: &Path,
    id_col: &str,
    ids: &Column,
    s: &Scores,
    rows: Option<&[usize]>,
) -> Result<()> {
    let all: Vec<usize>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..s.actual.len()).collect();
            &all
        }
    };
    let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as IdxSize).collect());
    let ids = ids.take(&idx).map_err(|e| DataError::polars("scores", e))?;
    let mut cols = vec![ids.with_name(id_col.into())];
    let name =
        |c: &[usize]| -> Vec<&str> { rows.iter().map(|&r| s.classes[c[r]].as_str()).collect() };
    cols.push(Column::new("actual".into(), name(s.actual)));
    for (c, class) in s.classes.iter().enumerate() {
        let p: Vec<f64> = rows.iter().map(|&r| s.probabilities[r][c]).collect();
        cols.push(Column::new(format!("p_{class}").into(), p));
    }
    cols.push(Column::new("predicted".into(), name(s.predicted)));
    let mut df = DataFrame::new_infer_height(cols).map_err(|e| DataError::polars("scores", e))?;
    write_table(&mut df, out)
}

/// Writes everyone's top N (id, rank, item, score, because: the contributing bought items
/// joined by " | ") to .csv or .parquet, `CHUNK` customers at a time: `recs_for(range)`
/// gives those customers' recommendations, which are written and dropped before the next
/// chunk, so memory stays bounded by one chunk however many customers there are. Returns
/// the rows written.
pub fn write_recommendations(
    out: &Path,
    id_col: &str,
    customers: &[String],
    items: &[String],
    mut recs_for: impl FnMut(
        std::ops::Range<usize>,
    ) -> Result<Vec<Vec<crate::analytics::recommend::Recommendation>>>,
) -> Result<usize> {
    const CHUNK: usize = 65_536;
    let ext = table_format(out)?;
    let failed = |e: PolarsError| DataError::Malformed {
        path: out.to_path_buf(),
        message: format!("writing {ext}: {e}"),
    };
    let name = |i: u32| items[i as usize].as_str();
    let chunk_frame = |start: usize, recs: &[Vec<crate::analytics::recommend::Recommendation>]| {
        let (mut c, mut rank, mut item, mut score, mut why) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (k, rs) in recs.iter().enumerate() {
            for (r_i, r) in rs.iter().enumerate() {
                c.push(customers[start + k].as_str());
                rank.push(r_i as u32 + 1);
                item.push(name(r.item));
                score.push(r.score);
                why.push(
                    r.because
                        .iter()
                        .map(|(b, _)| name(*b))
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
            }
        }
        DataFrame::new_infer_height(vec![
            Column::new(id_col.into(), c),
            Column::new("rank".into(), rank),
            Column::new("item".into(), item),
            Column::new("score".into(), score),
            Column::new("because".into(), why),
        ])
        .map_err(|e| DataError::polars("recommendations", e))
    };
    let mut file = std::fs::File::create(out).map_err(|e| DataError::io(out, e))?;
    let mut parquet: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>> = None;
    let mut rows = 0;
    let mut start = 0;
    loop {
        let end = (start + CHUNK).min(customers.len());
        let recs = recs_for(start..end)?;
        let mut df = chunk_frame(start, &recs)?;
        drop(recs);
        rows += df.height();
        if ext == "csv" {
            CsvWriter::new(&mut file)
                .include_header(start == 0)
                .finish(&mut df)
                .map_err(failed)?;
        } else {
            if parquet.is_none() {
                let f = file.try_clone().map_err(|e| DataError::io(out, e))?;
                parquet = Some(ParquetWriter::new(f).batched(df.schema()).map_err(failed)?);
            }
            if let Some(w) = parquet.as_mut() {
                w.write_batch(&df).map_err(failed)?;
            }
        }
        start = end;
        if start >= customers.len() {
            break;
        }
    }
    if let Some(w) = parquet {
        w.finish().map_err(failed)?;
    }
    Ok(rows)
}

/// A rule as JSON: item names (ascending ids, so alphabetical), every metric; infinite
/// conviction as `null`.
pub fn rule_json(r: &crate::analytics::rules::Rule, names: &[String]) -> serde_json::Value {
    let named =
        |ids: &[u32]| -> Vec<&str> { ids.iter().map(|&i| names[i as usize].as_str()).collect() };
    serde_json::json!({
        "antecedents": named(&r.antecedents),
        "consequents": named(&r.consequents),
        "antecedent_support": r.antecedent_support,
        "consequent_support": r.consequent_support,
        "support": r.support,
        "confidence": r.confidence,
        "lift": r.lift,
        "leverage": r.leverage,
        "conviction": r.conviction,
        "zhangs_metric": r.zhangs_metric,
        "count": r.count,
    })
}

/// Writes rules to a .csv or .parquet table (sides as item names joined by " | ", infinite
/// conviction as inf) or a .json array of [`rule_json`] objects.
pub fn write_rules(
    out: &Path,
    list: &[crate::analytics::rules::Rule],
    names: &[String],
) -> Result<()> {
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let v: Vec<serde_json::Value> = list.iter().map(|r| rule_json(r, names)).collect();
        let text = serde_json::to_string_pretty(&v)
            .map_err(|e| DataError::Invalid(format!("rules as JSON: {e}")))?;
        return std::fs::write(out, text).map_err(|e| DataError::io(out, e));
    }
    let side = |pick: &dyn Fn(&crate::analytics::rules::Rule) -> &Vec<u32>| -> Vec<String> {
        list.iter()
            .map(|r| {
                pick(r)
                    .iter()
                    .map(|&i| names[i as usize].as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect()
    };
    let num = |pick: &dyn Fn(&crate::analytics::rules::Rule) -> f64| -> Vec<f64> {
        list.iter().map(pick).collect()
    };
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("antecedents".into(), side(&|r| &r.antecedents)),
        Column::new("consequents".into(), side(&|r| &r.consequents)),
        Column::new("antecedent_support".into(), num(&|r| r.antecedent_support)),
        Column::new("consequent_support".into(), num(&|r| r.consequent_support)),
        Column::new("support".into(), num(&|r| r.support)),
        Column::new("confidence".into(), num(&|r| r.confidence)),
        Column::new("lift".into(), num(&|r| r.lift)),
        Column::new("leverage".into(), num(&|r| r.leverage)),
        Column::new(
            "conviction".into(),
            num(&|r| r.conviction.unwrap_or(f64::INFINITY)),
        ),
        Column::new("zhangs_metric".into(), num(&|r| r.zhangs_metric)),
        Column::new(
            "count".into(),
            list.iter().map(|r| r.count).collect::<Vec<u64>>(),
        ),
    ])
    .map_err(|e| DataError::polars("rules", e))?;
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

    /// More customers than one chunk: every row written once, in customer order, with one
    /// header; the same table from CSV and Parquet; chunks asked for in order.
    #[test]
    fn recommendations_stream_across_chunks() {
        use crate::analytics::recommend::Recommendation;
        let dir = tempfile::tempdir().unwrap();
        let n = 70_000;
        let customers: Vec<String> = (0..n).map(|u| format!("C{u:06}")).collect();
        let items: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        // Customer u gets (u % 3) recommendations: item k with score k, because item 2.
        let recs = |u: usize| -> Vec<Recommendation> {
            (0..u % 3)
                .map(|k| Recommendation {
                    item: k as u32,
                    score: k as f64,
                    because: vec![(2, 0.5)],
                    popular: false,
                })
                .collect()
        };
        let want_rows: usize = (0..n).map(|u| u % 3).sum();
        let mut frames = Vec::new();
        for name in ["r.csv", "r.parquet"] {
            let path = dir.path().join(name);
            let mut next = 0;
            let rows = write_recommendations(&path, "id", &customers, &items, |range| {
                assert_eq!(range.start, next);
                next = range.end;
                Ok(range.map(recs).collect())
            })
            .unwrap();
            assert_eq!(next, n);
            assert_eq!(rows, want_rows);
            let back = super::super::source::read_frame(&path, &Default::default()).unwrap();
            assert_eq!(back.height(), want_rows);
            frames.push(back);
        }
        let ids = frames[0].column("id").unwrap().str().unwrap().clone();
        // Customers 1, 2, 2, 4, 5, 5, ...: ids never go back.
        assert!(
            ids.iter()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0] <= w[1])
        );
        assert_eq!(ids.get(want_rows - 1), Some("C069998"));
        let because = frames[1].column("because").unwrap().str().unwrap().clone();
        assert!(because.iter().all(|b| b == Some("c")));
        assert!(frames[0].equals(&frames[1]));
    }
}
