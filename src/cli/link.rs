//! `crmlens link`: identity resolution. One input is deduplicated; two or more are linked
//! (pairs across inputs). Prints the accepted pairs, the fitted comparison levels, the
//! blocking report and the clusters; writes the pairs and each record's person id.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use polars::prelude::{Column, DataFrame};
use serde_json::json;

use crate::data::write::{ExportOptions, write_table};
use crate::pipeline::link::{FieldModel, LinkInput, LinkRun, LinkSettings, run as run_link};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// A data file (CSV, Parquet, JSON, NDJSON, SQLite); once to deduplicate it, several
    /// times to link them.
    #[arg(long = "input", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The record id column: once for every input, or once per input in the same order
    /// (default: a column named like an id with no value twice, else the first column).
    #[arg(long = "id-col")]
    pub id_cols: Vec<String>,
    /// Fields to compare: kinds (name, email, phone, birth_date, street, house_number, town,
    /// postcode, state) or columns every input has (default: every kind found in all).
    #[arg(long, value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Accept pairs whose match probability is at least this.
    #[arg(long, default_value_t = crate::data::identity::link::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// With several inputs, also find duplicates within each.
    #[arg(long)]
    pub dedupe: bool,
    /// Seed of the random pairs that estimate u (same seed, same pairs).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the accepted pairs (.csv, .parquet or .json): left, right, probability,
    /// match_weight, and each field's level.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write every record's person id (.csv, .parquet or .json): input, id, person_id,
    /// cluster_size.
    #[arg(long = "clusters-out")]
    pub clusters_out: Option<PathBuf>,
    /// Save the comparison model, the threshold and the inputs (TOML) for `crmlens score`,
    /// which joins new records to the people found here (local engine).
    #[arg(long = "save-model")]
    pub save_model: Option<PathBuf>,
    /// Replace --out / --clusters-out / --save-model if they exist.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
    /// Where blocking and scoring run: local (default) or spark (a Spark Connect server,
    /// --spark-remote; the model is trained here on a sample).
    #[arg(long, value_parser = ["local", "spark"], default_value = "local")]
    pub engine: String,
    /// The Spark Connect server for --engine spark: sc://host:port.
    #[arg(long)]
    pub spark_remote: Option<String>,
    /// With --engine spark: the records the model is trained on at most (all when there are
    /// fewer).
    #[arg(long, default_value_t = 200_000)]
    pub sample: usize,
}

pub fn run(a: LinkArgs) -> Result<()> {
    let start = std::time::Instant::now();
    if a.id_cols.len() > 1 && a.id_cols.len() != a.inputs.len() {
        bail!(
            "--id-col given {} times for {} inputs: give it once (the same column in every input) or once per input, in order",
            a.id_cols.len(),
            a.inputs.len()
        );
    }
    for out in [&a.out, &a.clusters_out].into_iter().flatten() {
        crate::data::write::table_format(out)?;
        crate::data::write::refuse_existing(out, a.force)?;
    }
    if let Some(p) = &a.save_model {
        if a.engine == "spark" {
            bail!(
                "--save-model works with the local engine only: the Spark engine's term frequencies live on the cluster; link with --engine local to save a model"
            );
        }
        crate::data::write::refuse_existing(p, a.force)?;
    }
    let settings = LinkSettings {
        fields: a.fields.clone(),
        threshold: a.threshold,
        dedupe: a.dedupe,
        seed: a.seed,
        sources: Vec::new(),
        person_key: false,
    };
    if let Err(e) = settings.check() {
        bail!("--{e}");
    }
    let inputs: Vec<LinkInput> = a
        .inputs
        .iter()
        .enumerate()
        .map(|(k, p)| LinkInput {
            path: p.clone(),
            id: a
                .id_cols
                .get(if a.id_cols.len() == 1 { 0 } else { k })
                .cloned(),
        })
        .collect();
    if a.engine == "spark" {
        return run_spark(&a, &inputs, &settings, start);
    }
    let progress = Progress::new();
    let r = {
        let _bar = super::bar::show(&progress);
        run_link(&inputs, &settings, &[], &progress)?
    };
    let opts = ExportOptions {
        overwrite: a.force,
        pseudonymiser: None,
    };
    let pairs = accepted_pairs(&r);
    if let Some(out) = &a.out {
        write_table(&mut pairs_frame(&r, &pairs)?, out, None, &opts)?;
    }
    if let Some(out) = &a.clusters_out {
        write_table(&mut clusters_frame(&r)?, out, None, &opts)?;
    }
    if let Some(path) = &a.save_model {
        crate::pipeline::saved::SavedModel::linkage(&r).save(path, a.force)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut stdout = super::out::stdout();
    if a.json {
        stdout.json(&report(&r, &pairs, seconds))?;
    } else {
        print_text(&mut stdout, &r, &pairs, seconds)?;
    }
    Ok(())
}

/// The accepted pairs by falling weight, once per pair of ids (records repeating an id in
/// a file make one pair, at its best probability).
fn accepted_pairs(r: &LinkRun) -> Vec<usize> {
    let l = &r.linked;
    let mut seen = HashSet::new();
    l.accepted
        .iter()
        .copied()
        .filter(|&p| {
            let (i, j) = l.candidates().pairs[p];
            let (a, b) = (&l.records().ids[i as usize], &l.records().ids[j as usize]);
            let same_input = l.records().source_of(i as usize) == l.records().source_of(j as usize);
            let key = if same_input && b < a {
                (b.clone(), a.clone())
            } else {
                (a.clone(), b.clone())
            };
            !(same_input && a == b) && seen.insert(key)
        })
        .collect()
}

fn report(r: &LinkRun, pairs: &[usize], seconds: f64) -> serde_json::Value {
    let l = &r.linked;
    let pair = |p: usize| {
        let (i, j) = l.candidates().pairs[p];
        json!({
            "left": l.records().ids[i as usize],
            "right": l.records().ids[j as usize],
            "probability": round(l.probabilities[p], 6),
            "match_weight": round(l.weights[p], 4),
        })
    };
    let comparisons = comparisons_json(&l.fields);
    let c = &l.clusters;
    let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
    for &s in &c.sizes {
        *sizes.entry(s).or_default() += 1;
    }
    let large: Vec<serde_json::Value> = c
        .large
        .iter()
        .map(|&p| {
            let ids: Vec<&str> = (0..l.records().len())
                .filter(|&i| c.person[i] == p)
                .take(50)
                .map(|i| l.records().ids[i].as_str())
                .collect();
            json!({"size": c.sizes[p as usize], "records": ids})
        })
        .collect();
    json!({
        "n_records": l.records().len(),
        "n_candidate_pairs": l.candidates().pairs.len(),
        "threshold": l.threshold,
        "pairs": pairs.iter().map(|&p| pair(p)).collect::<Vec<_>>(),
        "n_clusters": c.sizes.len(),
        "comparisons": comparisons,
        "prior": l.prior,
        "seconds": round(seconds, 3),
        "n_pairs": pairs.len(),
        "inputs": r.inputs.iter().enumerate().map(|(k, (p, id))| json!({
            "path": p.display().to_string(),
            "id_col": id,
            "records": l.records().starts[k + 1] - l.records().starts[k],
        })).collect::<Vec<_>>(),
        "fields_not_in_every_input": r.left_out,
        "blocking": l.candidates().report,
        "blocking_recall_estimate": l.blocking_recall.map(|x| round(x, 4)),
        "total_pairs": l.total_pairs,
        "em_iterations": l.em_iterations,
        "n_linked_clusters": c.sizes.iter().filter(|&&s| s > 1).count(),
        "cluster_sizes": sizes.iter().map(|(s, n)| (s.to_string(), *n)).collect::<BTreeMap<_, _>>(),
        "large_clusters": large,
        "large_cluster_above": c.large_above,
        "timings": std::iter::once(("reading".to_string(), round(r.read_seconds, 3)))
            .chain(l.timings.iter().map(|(k, v)| (k.clone(), round(*v, 3))))
            .collect::<Vec<_>>(),
    })
}

/// Per field: its levels with m, u and the weight (the JSON's `comparisons`).
fn comparisons_json(fields: &[FieldModel]) -> Vec<serde_json::Value> {
    fields
        .iter()
        .map(|f| {
            json!({
                "field": f.field,
                "kind": f.kind,
                "columns": f.columns,
                "term_frequency": f.term_frequency,
                "levels": f.levels.iter().map(|lv| {
                    let mut j = json!({
                        "name": lv.name,
                        "m": round(lv.m, 6),
                        "u": round(lv.u, 9),
                        "weight": round(lv.weight, 4),
                    });
                    if let (Some(u), Some(w)) = (lv.u_if_names_agree, lv.weight_if_names_agree) {
                        j["u_if_names_agree"] = json!(round(u, 9));
                        j["weight_if_names_agree"] = json!(round(w, 4));
                    }
                    j
                }).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(not(feature = "spark"))]
fn run_spark(_: &LinkArgs, _: &[LinkInput], _: &LinkSettings, _: std::time::Instant) -> Result<()> {
    bail!(
        "--engine spark: this crmlens was built without Spark support; rebuild with `cargo build --release --features spark` (needs protoc: apt-get install protobuf-compiler), or leave out --engine"
    )
}

/// `--engine spark`: the pairs come back from the cluster; the report has the same keys,
/// with the records in no accepted pair counted but not listed.
#[cfg(feature = "spark")]
fn run_spark(
    a: &LinkArgs,
    inputs: &[LinkInput],
    settings: &LinkSettings,
    start: std::time::Instant,
) -> Result<()> {
    use crate::pipeline::link::run_on_spark;
    let Some(remote) = a.spark_remote.as_deref() else {
        bail!("--engine spark needs --spark-remote sc://host:port (the Spark Connect server)");
    };
    if a.sample < 1000 {
        bail!(
            "--sample {}: train on 1000 records at least (default 200000)",
            a.sample
        );
    }
    let progress = Progress::new();
    let r = {
        let _bar = super::bar::show(&progress);
        run_on_spark(inputs, settings, remote, a.sample, &progress)?
    };
    let opts = ExportOptions {
        overwrite: a.force,
        pseudonymiser: None,
    };
    if let Some(out) = &a.out {
        let level = |f: usize| -> Vec<Option<String>> {
            r.pairs
                .iter()
                .map(|p| p.levels[f].map(|l| r.fields[f].levels[l as usize].name.clone()))
                .collect()
        };
        let mut cols = vec![
            Column::new(
                "left".into(),
                r.pairs.iter().map(|p| p.left.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "right".into(),
                r.pairs.iter().map(|p| p.right.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "probability".into(),
                r.pairs.iter().map(|p| p.probability).collect::<Vec<_>>(),
            ),
            Column::new(
                "match_weight".into(),
                r.pairs.iter().map(|p| p.match_weight).collect::<Vec<_>>(),
            ),
        ];
        for (f, field) in r.fields.iter().enumerate() {
            cols.push(Column::new(
                format!("{}_level", field.field).into(),
                level(f),
            ));
        }
        write_table(&mut DataFrame::new(r.pairs.len(), cols)?, out, None, &opts)?;
    }
    if let Some(out) = &a.clusters_out {
        let recs = &r.linked_records;
        let mut frame = DataFrame::new(
            recs.len(),
            vec![
                Column::new(
                    "input".into(),
                    recs.iter()
                        .map(|(k, _)| r.inputs[*k].0.display().to_string())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "id".into(),
                    recs.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "person_id".into(),
                    r.clusters.person.iter().map(|p| p + 1).collect::<Vec<_>>(),
                ),
                Column::new(
                    "cluster_size".into(),
                    r.clusters
                        .person
                        .iter()
                        .map(|&p| r.clusters.sizes[p as usize])
                        .collect::<Vec<_>>(),
                ),
            ],
        )?;
        write_table(&mut frame, out, None, &opts)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for &s in &r.clusters.sizes {
        *sizes.entry(s.to_string()).or_default() += 1;
    }
    let singles = r.n_records().saturating_sub(r.linked_lines);
    if singles > 0 {
        *sizes.entry("1".into()).or_default() += singles;
    }
    let report = json!({
        "n_records": r.n_records(),
        "n_candidate_pairs": r.n_candidate_pairs,
        "threshold": r.threshold,
        "pairs": r.pairs.iter().map(|p| json!({
            "left": p.left,
            "right": p.right,
            "probability": round(p.probability, 6),
            "match_weight": round(p.match_weight, 4),
        })).collect::<Vec<_>>(),
        "n_clusters": r.n_clusters(),
        "comparisons": comparisons_json(&r.fields),
        "prior": r.prior,
        "seconds": round(seconds, 3),
        "n_pairs": r.pairs.len(),
        "engine": "spark",
        "spark": {"remote": r.remote, "version": r.spark_version},
        "sample": {"records": r.sample_records, "fraction": r.sample_fraction},
        "inputs": r.inputs.iter().map(|(p, id, n)| json!({
            "path": p.display().to_string(),
            "id_col": id,
            "records": n,
        })).collect::<Vec<_>>(),
        "fields_not_in_every_input": r.left_out,
        "blocking": r.blocking,
        "blocking_recall_estimate": r.blocking_recall.map(|x| round(x, 4)),
        "total_pairs": r.total_pairs,
        "em_iterations": r.em_iterations,
        "n_linked_clusters": r.clusters.sizes.len(),
        "cluster_sizes": sizes,
        "large_clusters": r.clusters.large.iter().map(|&c| json!({
            "size": r.clusters.sizes[c as usize],
            "records": r.linked_records.iter().zip(&r.clusters.person).filter(|(_, p)| **p == c).take(50).map(|((_, id), _)| id.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "large_cluster_above": r.clusters.large_above,
        "timings": r.timings.iter().map(|(k, v)| (k.clone(), round(*v, 3))).collect::<Vec<_>>(),
    });
    let mut stdout = super::out::stdout();
    if a.json {
        stdout.json(&report)?;
    } else {
        writeln!(
            stdout,
            "{} records in {} input(s) on Spark at {}; model trained on {} records; {} candidate pairs of {}; {} pairs at probability >= {}; {} people ({} linked clusters); {:.1}s",
            r.n_records(),
            r.inputs.len(),
            r.remote,
            r.sample_records,
            r.n_candidate_pairs,
            r.total_pairs,
            r.pairs.len(),
            r.threshold,
            r.n_clusters(),
            r.clusters.sizes.len(),
            seconds
        )?;
        let w = r.blocking.iter().map(|k| k.key.len()).max().unwrap_or(0);
        for k in &r.blocking {
            writeln!(
                stdout,
                "  {:<w$} {:>12} pairs {:>12} new  {}",
                k.key,
                k.pairs,
                k.new_pairs,
                if k.used { "used" } else { "not used" }
            )?;
        }
        for p in r.pairs.iter().take(10) {
            writeln!(
                stdout,
                "  {:<16} {:<16} p {:.4}  weight {:+.2}",
                p.left, p.right, p.probability, p.match_weight
            )?;
        }
    }
    Ok(())
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn pairs_frame(r: &LinkRun, pairs: &[usize]) -> Result<DataFrame> {
    let l = &r.linked;
    let mut cols = vec![
        Column::new(
            "left".into(),
            pairs
                .iter()
                .map(|&p| l.records().ids[l.candidates().pairs[p].0 as usize].clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "right".into(),
            pairs
                .iter()
                .map(|&p| l.records().ids[l.candidates().pairs[p].1 as usize].clone())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "probability".into(),
            pairs
                .iter()
                .map(|&p| l.probabilities[p])
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "match_weight".into(),
            pairs.iter().map(|&p| l.weights[p]).collect::<Vec<_>>(),
        ),
    ];
    for (f, field) in l.fields.iter().enumerate() {
        cols.push(Column::new(
            format!("{}_level", field.field).into(),
            pairs
                .iter()
                .map(|&p| {
                    let lv = l.level(p, f);
                    (lv != crate::data::identity::link::NULL)
                        .then(|| field.levels[lv as usize].name.clone())
                })
                .collect::<Vec<_>>(),
        ));
    }
    Ok(DataFrame::new(pairs.len(), cols)?)
}

fn clusters_frame(r: &LinkRun) -> Result<DataFrame> {
    let l = &r.linked;
    let n = l.records().len();
    let input: Vec<String> = (0..n)
        .map(|i| r.inputs[l.records().source_of(i)].0.display().to_string())
        .collect();
    let person: Vec<u32> = l.clusters.person.iter().map(|p| p + 1).collect();
    let size: Vec<u32> = l
        .clusters
        .person
        .iter()
        .map(|&p| l.clusters.sizes[p as usize])
        .collect();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new("input".into(), input),
            Column::new("id".into(), l.records().ids.clone()),
            Column::new("person_id".into(), person),
            Column::new("cluster_size".into(), size),
        ],
    )?)
}

fn print_text(
    out: &mut super::out::Stdout,
    r: &LinkRun,
    pairs: &[usize],
    seconds: f64,
) -> Result<()> {
    let l = &r.linked;
    writeln!(
        out,
        "{} records in {} input(s); {} candidate pairs of {} ({} blocking keys); {} pairs at probability >= {}; {} people ({} linked clusters); {:.1}s",
        l.records().len(),
        r.inputs.len(),
        l.candidates().pairs.len(),
        l.total_pairs,
        l.candidates().used.len(),
        pairs.len(),
        l.threshold,
        l.clusters.sizes.len(),
        l.clusters.sizes.iter().filter(|&&s| s > 1).count(),
        seconds
    )?;
    writeln!(out, "\nblocking keys:")?;
    let w = l
        .candidates()
        .report
        .iter()
        .map(|k| k.key.len())
        .max()
        .unwrap_or(0);
    for k in &l.candidates().report {
        let note = k
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<w$} {:>12} pairs {:>12} new  {}{}",
            k.key,
            k.pairs,
            k.new_pairs,
            if k.used { "used" } else { "not used" },
            note
        )?;
    }
    if let Some(rc) = l.blocking_recall {
        writeln!(out, "  estimated blocking recall: {:.3}", rc)?;
    }
    writeln!(out, "\ncomparisons (m, u, weight):")?;
    for f in &l.fields {
        writeln!(out, "  {} [{}]", f.field, f.columns.join(" | "))?;
        for lv in &f.levels {
            let when = lv
                .weight_if_names_agree
                .map(|w| {
                    format!(
                        "  (names agree: u {:.6}  {w:+.2})",
                        lv.u_if_names_agree.unwrap_or(0.0)
                    )
                })
                .unwrap_or_default();
            writeln!(
                out,
                "    {:<28} m {:.4}  u {:.6}  {:+.2}{when}",
                lv.name, lv.m, lv.u, lv.weight
            )?;
        }
    }
    writeln!(out, "\nprior (two random records match): {:.3e}", l.prior)?;
    if !l.clusters.large.is_empty() {
        writeln!(
            out,
            "{} cluster(s) larger than {} records: check them for chains of weak links (--clusters-out lists every record's person id)",
            l.clusters.large.len(),
            l.clusters.large_above
        )?;
    }
    writeln!(out, "\ntop pairs:")?;
    for &p in pairs.iter().take(10) {
        let (i, j) = l.candidates().pairs[p];
        writeln!(
            out,
            "  {:<16} {:<16} p {:.4}  weight {:+.2}",
            l.records().ids[i as usize],
            l.records().ids[j as usize],
            l.probabilities[p],
            l.weights[p]
        )?;
    }
    Ok(())
}
