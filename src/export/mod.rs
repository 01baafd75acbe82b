//! Writers of analysis results (segment labels, scores, recommendations, rules, cluster
//! profiles, the quality report) to CSV, Parquet or JSON, for the headless `--out` options,
//! the workbench's exports and the report. Above both `data` and `analytics`: it knows their
//! result types; the safe file writing itself is [`crate::data::write`].

use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use crate::data::error::{DataError, Result};

use crate::data::write::{
    ExportOptions, is_json, table_format, write_atomic, write_table, write_text,
};

/// Writes ids and cluster labels (-1 for noise) as a two-column table.
pub fn write_labels(
    out: &Path,
    id_col: &str,
    ids: &Column,
    labels: Vec<i64>,
    opts: &ExportOptions,
) -> Result<()> {
    let mut df = DataFrame::new_infer_height(vec![
        ids.clone().with_name(id_col.into()),
        Column::new("label".into(), labels),
    ])
    .map_err(|e| DataError::polars("labels", e))?;
    write_table(&mut df, out, Some(id_col), opts)
}

/// A model's scores for writing: every row's actual class, class probabilities and
/// predicted class, by class number.
#[derive(Debug, Clone)]
pub struct Scores<'a> {
    pub classes: &'a [String],
    /// The actual classes (None for new rows: no `actual` column).
    pub actual: Option<&'a [usize]>,
    pub probabilities: &'a [Vec<f64>],
    pub predicted: &'a [usize],
    /// Per row, whether it was a test row of the run (a `set` column of `train`/`test`), when
    /// the rows are a training run's.
    pub test: Option<&'a [bool]>,
}

/// Writes a model's scores: id, actual class (when known), one `p_<class>` column per class, the
/// predicted class and, for a training run, `set` (train or test); for `rows` only, in that
/// order, when given (else every row).
pub fn write_scores(
    out: &Path,
    id_col: &str,
    ids: &Column,
    s: &Scores,
    rows: Option<&[usize]>,
    opts: &ExportOptions,
) -> Result<()> {
    let all: Vec<usize>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..s.probabilities.len()).collect();
            &all
        }
    };
    let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as IdxSize).collect());
    let ids = ids.take(&idx).map_err(|e| DataError::polars("scores", e))?;
    let mut cols = vec![ids.with_name(id_col.into())];
    let name =
        |c: &[usize]| -> Vec<&str> { rows.iter().map(|&r| s.classes[c[r]].as_str()).collect() };
    if let Some(actual) = s.actual {
        cols.push(Column::new("actual".into(), name(actual)));
    }
    for (c, class) in s.classes.iter().enumerate() {
        let p: Vec<f64> = rows.iter().map(|&r| s.probabilities[r][c]).collect();
        cols.push(Column::new(format!("p_{class}").into(), p));
    }
    cols.push(Column::new("predicted".into(), name(s.predicted)));
    if let Some(test) = s.test {
        let set: Vec<&str> = rows
            .iter()
            .map(|&r| if test[r] { "test" } else { "train" })
            .collect();
        cols.push(Column::new("set".into(), set));
    }
    let mut df = DataFrame::new_infer_height(cols).map_err(|e| DataError::polars("scores", e))?;
    write_table(&mut df, out, Some(id_col), opts)
}

/// A regressor's values for [`write_values`].
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// The actual values (None for new rows: no `actual` column).
    pub actual: Option<&'a [f64]>,
    pub predicted: &'a [f64],
    /// Per row, whether it was a test row of the run (a `set` column), for a training run.
    pub test: Option<&'a [bool]>,
}

/// Writes a regressor's values: id, actual (when known), predicted and, for a training run,
/// `set` (train or test); for `rows` only, in that order, when given (else every row).
pub fn write_values(
    out: &Path,
    id_col: &str,
    ids: &Column,
    v: &Values,
    rows: Option<&[usize]>,
    opts: &ExportOptions,
) -> Result<()> {
    let Values {
        actual,
        predicted,
        test,
    } = *v;
    let all: Vec<usize> = (0..predicted.len()).collect();
    let rows = rows.unwrap_or(&all);
    let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as IdxSize).collect());
    let ids = ids.take(&idx).map_err(|e| DataError::polars("values", e))?;
    let pick = |v: &[f64]| -> Vec<f64> { rows.iter().map(|&r| v[r]).collect() };
    let mut cols = vec![ids.with_name(id_col.into())];
    if let Some(a) = actual {
        cols.push(Column::new("actual".into(), pick(a)));
    }
    cols.push(Column::new("predicted".into(), pick(predicted)));
    if let Some(test) = test {
        let set: Vec<&str> = rows
            .iter()
            .map(|&r| if test[r] { "test" } else { "train" })
            .collect();
        cols.push(Column::new("set".into(), set));
    }
    let mut df = DataFrame::new_infer_height(cols).map_err(|e| DataError::polars("values", e))?;
    write_table(&mut df, out, Some(id_col), opts)
}

/// Writes everyone's top N (id, rank, item, score, because: the contributing bought items
/// joined by " | ") to .csv, .parquet or .json, `CHUNK` customers at a time: `recs_for(range)`
/// gives those customers' recommendations, which are written and dropped before the next
/// chunk, so memory stays bounded by one chunk however many customers there are. Returns
/// the rows written.
pub fn write_recommendations(
    out: &Path,
    id_col: &str,
    customers: &[String],
    items: &[String],
    opts: &ExportOptions,
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
            let id = match &opts.pseudonymiser {
                Some(p) => p.pseudonym(&customers[start + k]),
                None => customers[start + k].clone(),
            };
            for (r_i, r) in rs.iter().enumerate() {
                c.push(id.clone());
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
    write_atomic(out, opts.overwrite, |file| {
        let mut parquet: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>> = None;
        let mut rows = 0;
        let mut start = 0;
        if ext == "json" {
            file.write_all(b"[").map_err(|e| DataError::io(out, e))?;
        }
        loop {
            let end = (start + CHUNK).min(customers.len());
            let recs = recs_for(start..end)?;
            let mut df = chunk_frame(start, &recs)?;
            drop(recs);
            if ext == "csv" {
                CsvWriter::new(&mut *file)
                    .include_header(start == 0)
                    .finish(&mut df)
                    .map_err(failed)?;
            } else if ext == "json" {
                // Each chunk as newline-delimited objects, joined into one array.
                let mut buf = Vec::new();
                JsonWriter::new(&mut buf)
                    .with_json_format(JsonFormat::JsonLines)
                    .finish(&mut df)
                    .map_err(failed)?;
                for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    if rows > 0 {
                        file.write_all(b",\n").map_err(|e| DataError::io(out, e))?;
                    }
                    file.write_all(line).map_err(|e| DataError::io(out, e))?;
                    rows += 1;
                }
            } else {
                if parquet.is_none() {
                    let f = file.try_clone().map_err(|e| DataError::io(out, e))?;
                    parquet = Some(ParquetWriter::new(f).batched(df.schema()).map_err(failed)?);
                }
                if let Some(w) = parquet.as_mut() {
                    w.write_batch(&df).map_err(failed)?;
                }
            }
            if ext != "json" {
                rows += df.height();
            }
            start = end;
            if start >= customers.len() {
                break;
            }
        }
        if ext == "json" {
            file.write_all(b"]\n").map_err(|e| DataError::io(out, e))?;
        }
        if let Some(w) = parquet {
            w.finish().map_err(failed)?;
        }
        Ok(rows)
    })
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
    opts: &ExportOptions,
) -> Result<()> {
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let v: Vec<serde_json::Value> = list.iter().map(|r| rule_json(r, names)).collect();
        let text = serde_json::to_string_pretty(&v)
            .map_err(|e| DataError::Invalid(format!("rules as JSON: {e}")))?;
        return write_text(out, &text, opts.overwrite);
    }
    let side = |pick: &dyn Fn(&crate::analytics::rules::Rule) -> &Vec<u32>| -> Vec<String> {
        list.iter()
            .map(|r| crate::analytics::rules::side_text(pick(r), names, " | "))
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
    write_table(&mut df, out, None, opts)
}

/// Writes cluster profiles: .json as an array of profile objects; .csv/.parquet one row per
/// cluster (cluster, size, share, description, then each feature's mean, median and z as
/// `FEATURE_mean`, `FEATURE_median`, `FEATURE_z`).
pub fn write_profiles(
    out: &Path,
    profiles: &[crate::analytics::profile::ClusterProfile],
    opts: &ExportOptions,
) -> Result<usize> {
    if is_json(out) {
        let text = serde_json::to_string_pretty(profiles)
            .map_err(|e| DataError::Invalid(format!("profiles as JSON: {e}")))?;
        write_text(out, &text, opts.overwrite)?;
        return Ok(profiles.len());
    }
    let mut columns = vec![
        Column::new(
            "cluster".into(),
            profiles
                .iter()
                .map(|p| p.cluster as u32)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "size".into(),
            profiles.iter().map(|p| p.size as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            "share".into(),
            profiles.iter().map(|p| p.share).collect::<Vec<_>>(),
        ),
        Column::new(
            "description".into(),
            profiles
                .iter()
                .map(|p| p.description.as_str())
                .collect::<Vec<_>>(),
        ),
    ];
    let names: Vec<&str> = profiles
        .first()
        .map(|p| p.features.iter().map(|f| f.feature.as_str()).collect())
        .unwrap_or_default();
    for (i, name) in names.iter().enumerate() {
        type Pick = fn(&crate::analytics::profile::FeatureStat) -> f64;
        let stats: [(&str, Pick); 3] = [
            ("mean", |f| f.mean),
            ("median", |f| f.median),
            ("z", |f| f.z),
        ];
        for (suffix, pick) in stats {
            let values: Vec<Option<f64>> = profiles
                .iter()
                .map(|p| p.features.get(i).map(pick))
                .collect();
            columns.push(Column::new(format!("{name}_{suffix}").into(), values));
        }
    }
    let mut df =
        DataFrame::new_infer_height(columns).map_err(|e| DataError::polars("profiles", e))?;
    write_table(&mut df, out, None, opts)?;
    Ok(profiles.len())
}

/// Writes a data-quality report: .json as the whole report (as `integrate --report-json`
/// writes it); .csv/.parquet as one long table of its findings with the columns `section`
/// (step, invalid, missing, duplicates, orphans, normalised), `source`, `item`, `before`,
/// `after` and `detail`. Returns the number of findings.
pub fn write_quality(
    out: &Path,
    report: &crate::data::integrate::quality::QualityReport,
    opts: &ExportOptions,
) -> Result<usize> {
    if is_json(out) {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| DataError::Invalid(format!("quality report as JSON: {e}")))?;
        write_text(out, &text, opts.overwrite)?;
        return Ok(report.steps.len());
    }
    let rows = quality_rows(report);
    let col = |pick: fn(&QualityRow) -> &str| rows.iter().map(pick).collect::<Vec<_>>();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("section".into(), col(|r| r.section)),
        Column::new("source".into(), col(|r| &r.source)),
        Column::new("item".into(), col(|r| &r.item)),
        Column::new(
            "before".into(),
            rows.iter().map(|r| r.before).collect::<Vec<_>>(),
        ),
        Column::new(
            "after".into(),
            rows.iter().map(|r| r.after).collect::<Vec<_>>(),
        ),
        Column::new("detail".into(), col(|r| &r.detail)),
    ])
    .map_err(|e| DataError::polars("quality report", e))?;
    write_table(&mut df, out, None, opts)?;
    Ok(rows.len())
}

/// One finding of a quality report as a table row.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRow {
    pub section: &'static str,
    pub source: String,
    pub item: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub detail: String,
}

/// The findings of a quality report, in report order.
pub fn quality_rows(r: &crate::data::integrate::quality::QualityReport) -> Vec<QualityRow> {
    let row = |section, source: &str, item: &str, before, after, detail: String| QualityRow {
        section,
        source: source.to_string(),
        item: item.to_string(),
        before,
        after,
        detail,
    };
    let mut rows = Vec::new();
    for s in &r.steps {
        rows.push(row(
            "step",
            &s.source,
            &s.step,
            Some(s.rows_in),
            Some(s.rows_out),
            s.detail.clone(),
        ));
    }
    for i in &r.invalid {
        rows.push(row(
            "invalid",
            &i.source,
            &i.column,
            Some(i.count),
            None,
            format!("{}; {}", i.rule, i.action),
        ));
    }
    for m in &r.missing {
        let fill = m
            .fill_value
            .as_ref()
            .map_or(String::new(), |v| format!(" ({v})"));
        rows.push(row(
            "missing",
            "",
            &m.column,
            Some(m.before),
            Some(m.after),
            format!("{}{fill}", m.policy),
        ));
    }
    let d = &r.duplicates;
    for (item, n) in [
        ("customers: exact", d.customers_exact),
        ("customers: same key", d.customers_same_key),
        ("customers: fuzzy key", d.customers_fuzzy_key),
        ("order lines", d.order_lines),
        ("tickets", d.tickets),
        ("sessions", d.sessions),
    ] {
        rows.push(row(
            "duplicates",
            "",
            item,
            Some(n),
            None,
            "removed or merged".into(),
        ));
    }
    for (source, n) in &r.orphans {
        rows.push(row(
            "orphans",
            source,
            "rows without a known customer",
            Some(*n),
            None,
            String::new(),
        ));
    }
    for (column, n) in &r.text_normalised {
        rows.push(row(
            "normalised",
            "",
            column,
            Some(*n),
            None,
            "text values trimmed, collapsed or lower-cased".into(),
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::privacy::Pseudonymiser;
    use std::sync::Arc;

    #[test]
    fn labels_round_trip_through_csv_and_parquet() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["l.csv", "l.parquet", "l.json"] {
            let p = dir.path().join(name);
            let ids = Column::new("key".into(), ["a", "b"]);
            write_labels(&p, "id", &ids, vec![1, -1], &ExportOptions::default()).unwrap();
            let back = crate::data::sources::file::read_frame(&p, &Default::default()).unwrap();
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
            &ExportOptions::default(),
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
        for name in ["r.csv", "r.parquet", "r.json"] {
            let path = dir.path().join(name);
            let mut next = 0;
            let opts = ExportOptions::default();
            let rows = write_recommendations(&path, "id", &customers, &items, &opts, |range| {
                assert_eq!(range.start, next);
                next = range.end;
                Ok(range.map(recs).collect())
            })
            .unwrap();
            assert_eq!(next, n);
            assert_eq!(rows, want_rows);
            let back = crate::data::sources::file::read_frame(&path, &Default::default()).unwrap();
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
        let json_ids: Vec<Option<&str>> = frames[2]
            .column("id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(json_ids, ids.iter().collect::<Vec<_>>());
    }

    #[test]
    fn pseudonymised_exports_replace_the_key_the_same_way_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(Pseudonymiser::new(b"a key of at least sixteen bytes"));
        let opts = ExportOptions {
            overwrite: false,
            pseudonymiser: Some(key.clone()),
        };
        let ids = Column::new("customer_id".into(), ["C1", "C2"]);
        let labels = dir.path().join("labels.csv");
        write_labels(&labels, "customer_id", &ids, vec![0, 1], &opts).unwrap();
        let text = std::fs::read_to_string(&labels).unwrap();
        assert!(!text.contains("C1") && !text.contains("C2"), "{text}");
        assert!(text.contains(&key.pseudonym("C1")) && text.contains(&key.pseudonym("C2")));
        let recs = dir.path().join("recs.csv");
        let customers = vec!["C1".to_string()];
        let items = vec!["tent".to_string()];
        write_recommendations(&recs, "customer_id", &customers, &items, &opts, |r| {
            Ok(r.map(|_| {
                vec![crate::analytics::recommend::Recommendation {
                    item: 0,
                    score: 1.0,
                    because: vec![],
                    popular: true,
                }]
            })
            .collect())
        })
        .unwrap();
        let text = std::fs::read_to_string(&recs).unwrap();
        // The same customer gets the same pseudonym in both files, so they still join.
        assert!(
            text.contains(&key.pseudonym("C1")) && !text.contains("C1,"),
            "{text}"
        );
    }
}
