//! Identity resolution on a Spark cluster (`crmlens link --engine spark`, cargo feature
//! `spark`): the records stay on the cluster; blocking and the scoring of every candidate
//! pair run there as Spark SQL, and only the accepted pairs come back (Arrow record
//! batches). The model is trained on this machine on a sample:
//!
//! 1. each input becomes a view of the file the cluster reads (as the Spark aggregation reads
//!    its sources), and a sample of the records comes back: every record up to
//!    [`DEFAULT_SAMPLE`] in all, else each record with the same probability, chosen by a
//!    seeded hash (a uniform sample keeps the share of matches among pairs, so m, u and the
//!    prior it gives are those of the whole data, with more noise);
//! 2. the local engine runs on the sample (fields, standardisation, blocking, u from random
//!    pairs, m by EM, the prior): its weights are the model;
//! 3. the cluster standardises every record with the same rules ([`sql`]), ranks the records
//!    in each sorted neighbourhood's order (`row_number()` over the key's text, input and id,
//!    the order the local engine sorts in), counts each blocking key's pairs (a key over the
//!    budget is not used, as locally), and sends back
//!    the distinct name parts, whose Double Metaphone codes are computed here and sent as a
//!    table (Spark has no Double Metaphone);
//! 4. the candidate pairs are the union of the used keys' pairs, made by one self-join of the
//!    records exploded by key (key number, value), each key leaving out the pairs an earlier
//!    key made (so no pair is made twice); a sorted neighbourhood's value is the block of
//!    `window - 1` ranks a record falls in, the left side standing in the blocks before and
//!    after its own too, so that the equi-join meets each pair within the window once
//!    ([`exploded`]); each pair's comparison levels,
//!    match weight (the model's weights as literals, term-frequency adjustments from the
//!    values' counts on the whole data) and probability are computed there, and the pairs at
//!    or above the threshold come back;
//! 5. clusters are made here from the accepted pairs.
//!
//! On data that fits the sample the model is the local engine's and so are the pairs (a test
//! runs both on the sample's linked sources against a local[2] server).

pub mod sql;

use std::path::PathBuf;
use std::time::Instant;

use polars::prelude::*;

use crate::data::DataError;
use crate::data::error::Result;
use crate::data::identity::blocking::{self, Candidates, Key, KeyReport};
use crate::data::identity::fields::{Columns, Field, Kind};
use crate::data::identity::link::{self, Clusters, FieldModel, Linked};
use crate::data::identity::records;
use crate::data::identity::run::{LinkInput, LinkSettings, check, id_column, link_frames, options};
use crate::data::integrate::spark::{SparkAggregator, ident};
use crate::data::sources::workspace::SourceConfig;
use crate::progress::Progress;

/// Records the model is trained on at most (all of them when there are fewer).
pub const DEFAULT_SAMPLE: usize = 200_000;

/// One accepted pair.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkPair {
    /// The record ids as in the files, and the inputs they are from (left from the earlier).
    pub left: String,
    pub right: String,
    pub left_input: usize,
    pub right_input: usize,
    pub probability: f64,
    pub match_weight: f64,
    /// Each field's level (None: missing on a side).
    pub levels: Vec<Option<u8>>,
    /// The used blocking keys (bits by their order) that make the pair.
    pub keys: u16,
}

/// The outcome of a run on Spark.
#[derive(Debug)]
pub struct SparkLinked {
    /// Accepted pairs by falling weight.
    pub pairs: Vec<SparkPair>,
    /// Per input: its file, the id column, its records.
    pub inputs: Vec<(PathBuf, String, u64)>,
    pub n_candidate_pairs: u64,
    pub total_pairs: u64,
    pub threshold: f64,
    pub prior: f64,
    pub fields: Vec<FieldModel>,
    pub left_out: Vec<String>,
    pub blocking: Vec<KeyReport>,
    pub blocking_recall: Option<f64>,
    /// The records in at least one accepted pair (input, id), and their clusters.
    pub linked_records: Vec<(usize, String)>,
    /// The lines of the files holding the linked records' ids.
    pub linked_lines: u64,
    pub clusters: Clusters,
    /// Records the model was trained on, and their share of all.
    pub sample_records: usize,
    pub sample_fraction: f64,
    pub em_iterations: usize,
    pub timings: Vec<(String, f64)>,
    pub remote: String,
    pub spark_version: Option<String>,
}

impl SparkLinked {
    pub fn n_records(&self) -> u64 {
        self.inputs.iter().map(|i| i.2).sum()
    }

    /// People: the clusters of linked records plus every record in no accepted pair (the
    /// lines of a linked id, when an id is on several lines of a file, are in its cluster).
    pub fn n_clusters(&self) -> u64 {
        (self.n_records() + self.clusters.sizes.len() as u64).saturating_sub(self.linked_lines)
    }
}

/// Keys `ns` (indices into the keys) numbered for a join: by their position among them
/// (`by_position`, the used keys) or by their own index.
fn numbered(ns: &[usize], by_position: bool) -> Vec<(usize, usize)> {
    ns.iter()
        .enumerate()
        .map(|(j, &n)| (if by_position { j } else { n }, n))
        .collect()
}

/// The records exploded by key: one row per (key number `__key`, value `__kv`), with the rank
/// `__kr` of a sorted neighbourhood. A neighbourhood's value is the block of `window - 1`
/// ranks its rank falls in; on the `left` side each record stands in the blocks before and
/// after its own too, so that a join on the value meets each record of the other side within
/// the window exactly once (two ranks less than `window` apart are at most one block apart).
fn exploded(keys: &[Key], numbered: &[(usize, usize)], left: bool) -> String {
    let mut entries = Vec::new();
    for &(j, n) in numbered {
        match keys[n].window {
            None => entries.push(format!(
                "named_struct('key', {j}, 'kv', __k{n}, 'kr', CAST(NULL AS INT))"
            )),
            Some(w) => {
                let block = format!("(__r{n} - 1) div {}", w.max(2) - 1);
                let shifts: &[i32] = if left { &[-1, 0, 1] } else { &[0] };
                for d in shifts {
                    entries.push(format!(
                        "named_struct('key', {j}, 'kv', CAST({block} + {d} AS STRING), 'kr', __r{n})"
                    ));
                }
            }
        }
    }
    format!(
        "(SELECT {RECS}.*, __key, __kv, __kr FROM {RECS} LATERAL VIEW inline(array({})) __e AS __key, __kv, __kr WHERE __kv IS NOT NULL)",
        entries.join(", ")
    )
}

/// The join's condition that a sorted neighbourhood's pair is within its window.
fn within_window(keys: &[Key], numbered: &[(usize, usize)]) -> String {
    let cases: String = numbered
        .iter()
        .filter_map(|&(j, n)| {
            keys[n]
                .window
                .map(|w| format!(" WHEN {j} THEN abs(l.__kr - r.__kr) < {}", w.max(2)))
        })
        .collect();
    if cases.is_empty() {
        "TRUE".into()
    } else {
        format!("CASE l.__key{cases} ELSE TRUE END")
    }
}

/// Whether key `n` makes the pair of `l` and `r`.
fn made_by(key: &Key, n: usize) -> String {
    match key.window {
        None => format!("coalesce(l.__k{n} = r.__k{n}, FALSE)"),
        Some(w) => format!("coalesce(abs(l.__r{n} - r.__r{n}) < {}, FALSE)", w.max(2)),
    }
}

fn view(k: usize) -> String {
    format!("crmlens_id_in{k}")
}
const STD: &str = "crmlens_id_std";
const SOUNDS: &str = "crmlens_id_sounds";
const RECS: &str = "crmlens_id_recs";

/// A column of counts Spark returned (missing: 0); `what` names the query in errors.
fn counts(df: &DataFrame, col: &str, what: &str) -> Result<Vec<u64>> {
    if df.width() == 0 {
        return Ok(Vec::new());
    }
    let pl = |e| DataError::polars(format!("reading Spark's {what}"), e);
    let c = df
        .column(col)
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(pl)?;
    Ok(c.u64()
        .map_err(pl)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

fn count(df: &DataFrame, col: &str, what: &str) -> Result<u64> {
    counts(df, col, what)?
        .first()
        .copied()
        .ok_or_else(|| DataError::Invalid(format!("{what}: Spark returned no count")))
}

fn texts(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    records::strings(df, col).unwrap_or_default()
}

/// Runs identity resolution of `inputs` on the Spark Connect server at `remote`, training
/// on at most `sample` records.
pub fn link_on_spark(
    inputs: &[LinkInput],
    settings: &LinkSettings,
    remote: &str,
    sample: usize,
    progress: &Progress,
) -> Result<SparkLinked> {
    check(inputs, settings)?;
    let mut timings = Vec::new();
    let t = Instant::now();
    progress.start("identity on Spark", 6);
    progress.label(&format!("connecting to {remote}"));
    let spark = SparkAggregator::connect(remote)?;
    let cancelled = |_| DataError::Cancelled;
    // 1. Views and the sample.
    let mut sizes = Vec::new();
    for (k, input) in inputs.iter().enumerate() {
        progress.check().map_err(cancelled)?;
        let cfg = SourceConfig {
            path: input.path.clone(),
            ..Default::default()
        };
        let section = format!("--input {}", input.path.display());
        spark.source_view(&input.path, &cfg, &view(k), &section)?;
        let df = spark.collect(
            &format!("SELECT count(*) AS n FROM {}", view(k)),
            &section,
            "counting records",
            progress,
        )?;
        sizes.push(count(&df, "n", &section)?);
    }
    let total: u64 = sizes.iter().sum();
    let fraction = if total as f64 <= sample as f64 {
        1.0
    } else {
        sample as f64 / total as f64
    };
    let mut frames = Vec::new();
    for (k, input) in inputs.iter().enumerate() {
        progress.next(&format!(
            "reading a sample of {} ({:.1}%)",
            input.path.display(),
            fraction * 100.0
        ));
        let filter = if fraction >= 1.0 {
            String::new()
        } else {
            format!(
                " WHERE pmod(xxhash64({}, *), 1000000) < {}",
                settings.seed,
                (fraction * 1e6).ceil() as u64
            )
        };
        frames.push(spark.collect(
            &format!("SELECT * FROM {}{filter}", view(k)),
            &format!("--input {}", input.path.display()),
            "reading a sample",
            progress,
        )?);
    }
    let mut ids = Vec::new();
    for (input, df) in inputs.iter().zip(&frames) {
        ids.push(id_column(df, &input.path, input.id.as_deref())?);
    }
    timings.push(("reading the sample".to_string(), t.elapsed().as_secs_f64()));
    // 2. The model, trained here.
    progress.next("training the model on the sample");
    let t = Instant::now();
    let sample_records: usize = frames.iter().map(|f| f.height()).sum();
    // Frames are shared columns: the clone is cheap, and the dates' forms are read from it.
    let (model, left_out) = link_frames(frames.clone(), &ids, settings, &[], progress)?;
    let fields = model.records().fields.clone();
    let dates: Vec<Vec<sql::DateReading>> = frames
        .iter()
        .enumerate()
        .map(|(k, df)| fields.iter().map(|f| date_reading(df, f, k)).collect())
        .collect();
    drop(frames);
    let opts = options(settings, inputs.len(), &[]);
    timings.push((
        "training on the sample".to_string(),
        t.elapsed().as_secs_f64(),
    ));
    // 3. Standardised records, sounds, term frequencies, keys.
    progress.next("standardising on Spark");
    let t = Instant::now();
    let mut parts = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let cols = sql::field_columns(&fields, k, &dates[k]).map_err(DataError::Invalid)?;
        parts.push(format!(
            "SELECT coalesce(trim(CAST({} AS STRING)), '') AS __id, {k} AS __src, {} FROM {}",
            ident(id),
            cols.join(", "),
            view(k)
        ));
    }
    let context = format!("identity resolution (Spark at {remote})");
    spark.execute(
        &format!(
            "CREATE OR REPLACE TEMP VIEW {STD} AS {}",
            parts.join(" UNION ALL ")
        ),
        &context,
    )?;
    let names: Vec<usize> = (0..fields.len())
        .filter(|&f| fields[f].kind == Kind::Name)
        .collect();
    let mut sound_joins = String::new();
    let mut sound_cols = Vec::new();
    if !names.is_empty() {
        let distinct: Vec<String> = names
            .iter()
            .flat_map(|&f| [sql::given(f), sql::family(f)])
            .map(|c| format!("SELECT {c} AS v FROM {STD}"))
            .collect();
        let df = spark.collect(
            &format!(
                "SELECT DISTINCT v FROM ({}) WHERE v <> ''",
                distinct.join(" UNION ALL ")
            ),
            &context,
            "name sounds",
            progress,
        )?;
        let dm = rphonetic::DoubleMetaphone::default();
        let names_v = texts(&df, "v");
        let codes: Vec<Option<String>> = names_v
            .iter()
            .map(|v| v.as_deref().map(|v| blocking::sound_code(&dm, v)))
            .collect();
        spark.send_texts(
            SOUNDS,
            &[("name", names_v), ("code", codes)],
            "sending name sounds to Spark",
        )?;
        for &f in &names {
            for family in [false, true] {
                let alias = format!("s{f}{}", if family { "l" } else { "g" });
                let col = if family {
                    sql::family(f)
                } else {
                    sql::given(f)
                };
                sound_joins.push_str(&format!(
                    " LEFT JOIN {SOUNDS} {alias} ON {STD}.{col} = {alias}.name"
                ));
                sound_cols.push(format!("{alias}.code AS {}", sql::sound(f, family)));
            }
        }
    }
    // Records holding a value per source, per field (term frequencies).
    let present_sql: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(f, field)| format!("count({}) AS p{f}", sql::text_of(field, f, "")))
        .collect();
    let df = spark.collect(
        &format!(
            "SELECT __src, {} FROM {STD} GROUP BY __src",
            present_sql.join(", ")
        ),
        &context,
        "counting values",
        progress,
    )?;
    let mut present = vec![vec![0u64; inputs.len()]; fields.len()];
    let srcs = counts(&df, "__src", "value counts")?;
    for (f, p) in present.iter_mut().enumerate() {
        for (&s, c) in srcs
            .iter()
            .zip(counts(&df, &format!("p{f}"), "value counts")?)
        {
            if let Some(x) = p.get_mut(s as usize) {
                *x = c;
            }
        }
    }
    let tf_on: Vec<bool> = model.fields.iter().map(|f| f.term_frequency).collect();
    let mut ctes = vec![format!(
        "s AS (SELECT {STD}.*{} FROM {STD}{})",
        sound_cols
            .iter()
            .map(|c| format!(", {c}"))
            .collect::<String>(),
        sound_joins
    )];
    let mut tf_joins = String::new();
    let mut tf_cols = Vec::new();
    for (f, field) in fields.iter().enumerate() {
        if !tf_on[f] {
            continue;
        }
        let counts: Vec<String> = (0..inputs.len())
            .map(|s| format!("sum(CASE WHEN __src = {s} THEN 1 ELSE 0 END) AS c{s}"))
            .collect();
        ctes.push(format!(
            "t{f} AS (SELECT v AS __v, {} FROM (SELECT {} AS v, __src FROM s) WHERE v IS NOT NULL GROUP BY v)",
            counts.join(", "),
            sql::text_of(field, f, "")
        ));
        let all_present: u64 = present[f].iter().sum();
        let sum_c = (0..inputs.len())
            .map(|s| format!("t{f}.c{s}"))
            .collect::<Vec<_>>()
            .join(" + ");
        let tf = format!(
            "(CAST({sum_c} AS DOUBLE) / {})",
            sql::double(all_present.max(1) as f64)
        );
        let uv = sql::agree_share(inputs.len(), &present[f], opts.scope, &format!("t{f}."));
        let u_exact = sql::double(model.base.u_exact[f]);
        tf_cols.push(format!(
            "CASE WHEN t{f}.__v IS NULL OR {uv} <= 0.0D OR {tf} <= 0.0D THEN 0.0D ELSE log2({u_exact} * {tf} / {uv}) END AS __tf{f}"
        ));
        tf_joins.push_str(&format!(
            " LEFT JOIN t{f} ON t{f}.__v = {}",
            sql::text_of(field, f, "s.")
        ));
    }
    let keys: Vec<Key> = blocking::candidate_keys(model.records());
    let key_cols: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(n, key)| format!("{} AS __k{n}", sql::key_expr(&fields, key)))
        .collect();
    // A sorted neighbourhood's rank: records in the order of its text, then source, then id.
    let rank_cols: String = keys
        .iter()
        .enumerate()
        .filter(|(_, key)| key.window.is_some())
        .map(|(n, _)| {
            format!(
                ", CASE WHEN __k{n} IS NULL THEN NULL ELSE row_number() OVER (ORDER BY __k{n} ASC NULLS LAST, __src, __id) END AS __r{n}"
            )
        })
        .collect();
    progress.check().map_err(cancelled)?;
    spark.execute(&format!("UNCACHE TABLE IF EXISTS {RECS}"), &context)?;
    spark.execute(
        &format!(
            "CACHE TABLE {RECS} AS WITH {}, k AS (SELECT s.*{}{} FROM s{tf_joins}) SELECT k.*{rank_cols} FROM k",
            ctes.join(", "),
            tf_cols.iter().map(|c| format!(", {c}")).collect::<String>(),
            key_cols
                .iter()
                .map(|c| format!(", {c}"))
                .collect::<String>(),
        ),
        &context,
    )?;
    timings.push((
        "standardising on Spark".to_string(),
        t.elapsed().as_secs_f64(),
    ));
    // 4. Blocking: each key's pairs, counted from its blocks.
    progress.next("blocking on Spark");
    let t = Instant::now();
    let block_pairs = |a: &str, w: &str| -> String {
        let within = if opts.scope.within {
            w.to_string()
        } else {
            "0".into()
        };
        let across = if opts.scope.across {
            format!("({a} * ({a} - 1) div 2 - {w})")
        } else {
            "0".into()
        };
        format!("{within} + {across}")
    };
    let exact: Vec<usize> = (0..keys.len())
        .filter(|&n| keys[n].window.is_none())
        .collect();
    let per_key = format!(
        "SELECT key, coalesce(sum({}), 0) AS pairs FROM (\
           SELECT key, sum(c) AS a, sum(c * (c - 1) div 2) AS w FROM (\
             SELECT __key AS key, __kv AS kv, count(*) AS c FROM {} \
             GROUP BY __key, __kv, __src) \
           GROUP BY key, kv) \
         GROUP BY key",
        block_pairs("a", "w"),
        exploded(&keys, &numbered(&exact, false), false)
    );
    let mut key_pairs = vec![0u64; keys.len()];
    let mut tally = |df: &DataFrame, key: &str, n: &str| -> Result<()> {
        for (k, c) in counts(df, key, "key counts")?
            .into_iter()
            .zip(counts(df, n, "key counts")?)
        {
            if let Some(x) = key_pairs.get_mut(k as usize) {
                *x = c;
            }
        }
        Ok(())
    };
    if !exact.is_empty() {
        let df = spark.collect(&per_key, &context, "blocking", progress)?;
        tally(&df, "key", "pairs")?;
    }
    // A sorted neighbourhood's pairs are counted by making them (at most window - 1 per record).
    let sorted: Vec<usize> = (0..keys.len())
        .filter(|&n| keys[n].window.is_some())
        .collect();
    if !sorted.is_empty() {
        let all = numbered(&sorted, false);
        let df = spark.collect(
            &format!(
                "SELECT l.__key AS key, count(*) AS pairs FROM {} l JOIN {} r ON l.__key = r.__key AND l.__kv = r.__kv AND {} AND {} GROUP BY l.__key",
                exploded(&keys, &all, true),
                exploded(&keys, &all, false),
                within_window(&keys, &all),
                sql::pair_condition(opts.scope)
            ),
            &context,
            "blocking: sorted neighbourhoods",
            progress,
        )?;
        tally(&df, "key", "pairs")?;
    }
    let budget = blocking::default_budget(total);
    let mut report = Vec::new();
    let mut used: Vec<usize> = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let mut rep = KeyReport {
            key: key.name.clone(),
            pairs: key_pairs[n],
            new_pairs: 0,
            used: false,
            note: None,
        };
        match blocking::verdict(key_pairs[n], budget, used.len()) {
            Ok(()) => {
                rep.used = true;
                used.push(n);
            }
            Err(why) => rep.note = Some(why),
        }
        report.push(rep);
    }
    if used.is_empty() {
        return Err(DataError::Invalid(
            "no blocking key can be used on these inputs (every key makes no pair or too many); give other fields with --fields".into(),
        ));
    }
    // The union of the used keys' pairs, each key leaving out the pairs of those before it:
    // one join of the records exploded by key (key number, value), not one join per key.
    let used_numbered = numbered(&used, true);
    let not_earlier: String = used
        .iter()
        .enumerate()
        .map(|(j, &n)| format!(" AND (l.__key <= {j} OR NOT {})", made_by(&keys[n], n)))
        .collect();
    let (left, right) = (
        exploded(&keys, &used_numbered, true),
        exploded(&keys, &used_numbered, false),
    );
    let window = within_window(&keys, &used_numbered);
    let pairs_from = |select: &str| -> String {
        format!(
            "SELECT l.__key AS __key{select} FROM {left} l JOIN {right} r ON l.__key = r.__key AND l.__kv = r.__kv AND {window} AND {}{not_earlier}",
            sql::pair_condition(opts.scope)
        )
    };
    let counted = pairs_from("");
    let df = spark.collect(
        &format!("SELECT __key, count(*) AS n FROM ({counted}) GROUP BY __key"),
        &context,
        "candidate pairs",
        progress,
    )?;
    let mut n_candidate_pairs = 0;
    for (u, n) in
        counts(&df, "__key", "pair counts")?
            .into_iter()
            .zip(counts(&df, "n", "pair counts")?)
    {
        n_candidate_pairs += n;
        if let Some(&k) = used.get(u as usize) {
            report[k].new_pairs = n;
        }
    }
    timings.push(("blocking on Spark".to_string(), t.elapsed().as_secs_f64()));
    // 5. Scoring: levels, weights, probabilities; the accepted pairs come back.
    progress.next("scoring candidate pairs on Spark");
    let t = Instant::now();
    let mut select =
        String::from(", l.__id AS __lid, r.__id AS __rid, l.__src AS __lsrc, r.__src AS __rsrc");
    for (f, field) in fields.iter().enumerate() {
        select.push_str(&format!(", {} AS __c{f}", sql::level(field, f)));
        if tf_on[f] {
            select.push_str(&format!(", l.__tf{f} AS __tf{f}"));
        }
    }
    let mask: Vec<String> = used
        .iter()
        .enumerate()
        .map(|(u, &n)| {
            format!(
                "CASE WHEN {} THEN {} ELSE 0 END",
                made_by(&keys[n], n),
                1u32 << u
            )
        })
        .collect();
    select.push_str(&format!(", {} AS __mask", mask.join(" + ")));
    let scored = pairs_from(&select);
    let weight = weight_sql(&model, &tf_on);
    let levels_out: String = (0..fields.len()).map(|f| format!(", __c{f}")).collect();
    let accepted_sql = format!(
        "SELECT __lid, __rid, __lsrc, __rsrc, __w, __p, __mask{levels_out} FROM (SELECT *, 1.0D / (1.0D + pow(2.0D, -__w)) AS __p FROM (SELECT *, {weight} AS __w FROM ({scored}))) WHERE __p >= {}",
        sql::double(settings.threshold)
    );
    let df = spark.collect(&accepted_sql, &context, "scoring", progress)?;
    let mut pairs = read_pairs(&df, fields.len())?;
    timings.push(("scoring on Spark".to_string(), t.elapsed().as_secs_f64()));
    let _ = spark.execute(&format!("UNCACHE TABLE IF EXISTS {RECS}"), &context);
    // 6. Clusters here.
    progress.next("clustering");
    let t = Instant::now();
    // One pair per pair of ids, at its best weight (an id repeated in a file).
    pairs.sort_by(|a, b| {
        b.match_weight.total_cmp(&a.match_weight).then_with(|| {
            (a.left_input, &a.left, a.right_input, &a.right).cmp(&(
                b.left_input,
                &b.left,
                b.right_input,
                &b.right,
            ))
        })
    });
    let mut seen = std::collections::HashSet::new();
    pairs.retain(|p| seen.insert((p.left_input, p.left.clone(), p.right_input, p.right.clone())));
    let mut index: std::collections::HashMap<(usize, String), u32> = Default::default();
    let mut linked_records = Vec::new();
    let mut edges = Vec::with_capacity(pairs.len());
    for p in &pairs {
        let mut at = |k: usize, id: &str| -> u32 {
            *index.entry((k, id.to_string())).or_insert_with(|| {
                linked_records.push((k, id.to_string()));
                (linked_records.len() - 1) as u32
            })
        };
        let a = at(p.left_input, &p.left);
        let b = at(p.right_input, &p.right);
        edges.push((a, b));
    }
    let clusters = link::cluster(linked_records.len(), edges.into_iter());
    // Ids on several lines of a file (their lines are one record here, several locally).
    let df = spark.collect(
        &format!(
            "SELECT __src, __id, count(*) AS n FROM {STD} GROUP BY __src, __id HAVING count(*) > 1"
        ),
        &context,
        "repeated ids",
        progress,
    )?;
    let mut repeated: std::collections::HashMap<(usize, String), u64> = Default::default();
    if df.height() > 0 {
        let srcs = counts(&df, "__src", "repeated ids")?;
        let n = counts(&df, "n", "repeated ids")?;
        for (row, id) in texts(&df, "__id").into_iter().enumerate() {
            repeated.insert((srcs[row] as usize, id.unwrap_or_default()), n[row]);
        }
    }
    let linked_lines = linked_records
        .iter()
        .map(|r| repeated.get(r).copied().unwrap_or(1))
        .sum();
    let recall_candidates = Candidates {
        pairs: Vec::new(),
        keys: pairs.iter().map(|p| p.keys).collect(),
        used: used.iter().map(|&n| keys[n].clone()).collect(),
        report: Vec::new(),
    };
    let blocking_recall =
        link::estimate_recall(&recall_candidates, &(0..pairs.len()).collect::<Vec<_>>());
    timings.push(("clustering".to_string(), t.elapsed().as_secs_f64()));
    let total_pairs = link::pairs_in_scope_of(&sizes, opts.scope);
    Ok(SparkLinked {
        pairs,
        inputs: inputs
            .iter()
            .zip(&ids)
            .zip(&sizes)
            .map(|((i, id), n)| (i.path.clone(), id.clone(), *n))
            .collect(),
        n_candidate_pairs,
        total_pairs,
        threshold: settings.threshold,
        prior: model.prior,
        fields: model.fields.clone(),
        left_out,
        blocking: report,
        blocking_recall,
        linked_records,
        linked_lines,
        clusters,
        sample_records,
        sample_fraction: fraction,
        em_iterations: model.em_iterations,
        timings,
        remote: remote.to_string(),
        spark_version: spark.version(),
    })
}

/// How field `f`'s dates are read in source `k` (its sample `df`): a date column as it is,
/// else text in the forms its values are written in.
fn date_reading(df: &DataFrame, f: &Field, k: usize) -> sql::DateReading {
    let (Kind::BirthDate, Columns::One(c)) = (&f.kind, &f.columns[k]) else {
        return None;
    };
    let col = df.column(c).ok()?;
    let is_date = matches!(col.dtype(), DataType::Date | DataType::Datetime(_, _));
    let v = texts(df, c);
    Some((
        is_date,
        records::date_formats(v.iter().flatten().map(String::as_str)),
    ))
}

/// A pair's match weight in SQL from its levels `__c{f}` and term-frequency adjustments
/// `__tf{f}`: the model's prior and level weights as literals, summed in the local engine's
/// order (see [`crate::data::identity::link::score`]).
fn weight_sql(model: &Linked, tf_on: &[bool]) -> String {
    let prior_w = (model.model.lambda / (1.0 - model.model.lambda)).log2();
    let mut w = sql::double(prior_w);
    let case = |f: usize, weights: &[f64]| -> String {
        let arms: String = weights
            .iter()
            .enumerate()
            .map(|(l, x)| format!(" WHEN {l} THEN {}", sql::double(*x)))
            .collect();
        format!("CASE __c{f}{arms} ELSE 0.0D END")
    };
    for (f, fm) in model.fields.iter().enumerate() {
        let plain: Vec<f64> = fm.levels.iter().map(|l| l.weight).collect();
        let term = match &model.model.dependent {
            Some(d) if d.field == f => {
                let agree: Vec<String> = d
                    .agree
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| **a)
                    .map(|(l, _)| l.to_string())
                    .collect();
                let dep: Vec<f64> = fm
                    .levels
                    .iter()
                    .map(|l| l.weight_if_names_agree.unwrap_or(l.weight))
                    .collect();
                format!(
                    "CASE WHEN __c{} IN ({}) THEN {} ELSE {} END",
                    d.on,
                    agree.join(", "),
                    case(f, &dep),
                    case(f, &plain)
                )
            }
            _ => case(f, &plain),
        };
        w = format!("({w} + {term})");
        if tf_on[f] {
            w = format!("({w} + CASE WHEN __c{f} = 0 THEN __tf{f} ELSE 0.0D END)");
        }
    }
    w
}

fn read_pairs(df: &DataFrame, nf: usize) -> Result<Vec<SparkPair>> {
    let pl = |e| DataError::polars("reading Spark's accepted pairs", e);
    if df.width() == 0 {
        return Ok(Vec::new());
    }
    let text = |c: &str| -> Result<Vec<String>> {
        Ok(records::strings(df, c)
            .map_err(DataError::Invalid)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    };
    let num = |c: &str| -> Result<Vec<Option<f64>>> {
        let s = df
            .column(c)
            .and_then(|s| s.cast(&DataType::Float64))
            .map_err(pl)?;
        Ok(s.f64().map_err(pl)?.iter().collect())
    };
    let (lid, rid) = (text("__lid")?, text("__rid")?);
    let (ls, rs) = (num("__lsrc")?, num("__rsrc")?);
    let (w, p, mask) = (num("__w")?, num("__p")?, num("__mask")?);
    let levels: Vec<Vec<Option<f64>>> = (0..nf)
        .map(|f| num(&format!("__c{f}")))
        .collect::<Result<_>>()?;
    Ok((0..df.height())
        .map(|i| SparkPair {
            left: lid[i].clone(),
            right: rid[i].clone(),
            left_input: ls[i].unwrap_or(0.0) as usize,
            right_input: rs[i].unwrap_or(0.0) as usize,
            probability: p[i].unwrap_or(0.0),
            match_weight: w[i].unwrap_or(0.0),
            levels: levels.iter().map(|l| l[i].map(|x| x as u8)).collect(),
            keys: mask[i].unwrap_or(0.0) as u16,
        })
        .collect())
}

/// The SQL rules against the local ones on a live server (`.ci/run` starts one and sets
/// CRMLENS_SPARK_URL; without it these tests pass, except when CRMLENS_REQUIRE_SPARK is
/// set).
#[cfg(test)]
mod live {
    use super::*;
    use crate::data::identity::compare::jaro_winkler;
    use crate::data::identity::records::{split_name, standardise_text};
    use rand::{Rng, SeedableRng};

    fn server() -> Option<SparkAggregator> {
        match std::env::var("CRMLENS_SPARK_URL") {
            Ok(u) if !u.is_empty() => Some(SparkAggregator::connect(&u).unwrap()),
            _ => {
                assert!(
                    std::env::var_os("CRMLENS_REQUIRE_SPARK").is_none(),
                    "CRMLENS_REQUIRE_SPARK is set but CRMLENS_SPARK_URL is not"
                );
                None
            }
        }
    }

    /// Sends `columns` as a view with a row number `i`, runs `select` over it (ordered by
    /// `i`) and returns the frame.
    fn query(spark: &SparkAggregator, columns: &[(&str, Vec<String>)], select: &str) -> DataFrame {
        let n = columns[0].1.len();
        let mut cols: Vec<(&str, Vec<Option<String>>)> =
            vec![("i", (0..n).map(|i| Some(i.to_string())).collect())];
        cols.extend(
            columns
                .iter()
                .map(|(c, v)| (*c, v.iter().cloned().map(Some).collect())),
        );
        spark.send_texts("crmlens_t", &cols, "test").unwrap();
        spark
            .collect(
                &format!("SELECT {select} FROM crmlens_t ORDER BY CAST(i AS INT)"),
                "test",
                "test",
                &Progress::new(),
            )
            .unwrap()
    }

    fn random_words(n: usize, seed: u64) -> Vec<String> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let alphabet: Vec<char> = "abcdeéß".chars().collect();
        (0..n)
            .map(|_| {
                let len = rng.gen_range(1..9);
                (0..len)
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn jaro_winkler_and_damerau_levenshtein_in_sql_equal_the_local_ones() {
        let Some(spark) = server() else { return };
        let (mut a, mut b) = (random_words(400, 1), random_words(400, 2));
        // Swaps and near misses, which the random words rarely are.
        for (x, y) in [
            ("carter", "carrter"),
            ("smith", "smiht"),
            ("ca", "abc"),
            ("ann.lee12@x.com", "ann.le12@x.co"),
            ("2079460018", "2079460081"),
            ("abcdef", "badcfe"),
        ] {
            a.push(x.into());
            b.push(y.into());
        }
        let df = query(
            &spark,
            &[("a", a.clone()), ("b", b.clone())],
            &format!(
                "jaro_winkler_similarity(a, b) AS jw, {} AS dl",
                sql::damerau_levenshtein("a", "b")
            ),
        );
        let jw = df.column("jw").unwrap().f64().unwrap().clone();
        let dl = df
            .column("dl")
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap()
            .i64()
            .unwrap()
            .clone();
        for i in 0..a.len() {
            assert_eq!(
                jw.get(i).unwrap().to_bits(),
                jaro_winkler(&a[i], &b[i]).to_bits(),
                "jaro-winkler of {} / {}",
                a[i],
                b[i]
            );
            assert_eq!(
                dl.get(i).unwrap() as usize,
                strsim::damerau_levenshtein(&a[i], &b[i]),
                "damerau-levenshtein of {} / {}",
                a[i],
                b[i]
            );
        }
    }

    #[test]
    fn standardisation_in_sql_equals_the_local_one() {
        let Some(spark) = server() else { return };
        let values: Vec<String> = [
            "  José  O'Brien-Smith ",
            "ÅNGSTRÖM, Zoë",
            "Lee, Ann Marie",
            "Ann Marie Lee",
            "Madonna",
            "",
            "...",
            "Ĳsselmeer ½ straße Øre",
            " Ann.Lee+shop@Example.COM ",
            "no-at-sign",
            "@x.com",
            "a@b@c.org",
            "+44 (0)20 7946 0018",
            "020 7946 0018",
            "0044 20 7946 0018",
            "+1 (555) 010-9999",
            "12345",
            "sw1a 1aa",
            "12 B",
            "Ḃréṅdan Ḟitz-Ġerald",
        ]
        .map(String::from)
        .to_vec();
        let kinds = [
            Kind::Town,
            Kind::Email,
            Kind::Phone,
            Kind::Postcode,
            Kind::HouseNumber,
        ];
        let mut select: Vec<String> = kinds
            .iter()
            .enumerate()
            .map(|(k, kind)| format!("{} AS s{k}", sql::std_value(*kind, "v")))
            .collect();
        let field = Field {
            kind: Kind::Name,
            name: "name".into(),
            columns: vec![Columns::One("v".into())],
        };
        select.extend(sql::field_columns(&[field], 0, &[None]).unwrap());
        let df = query(&spark, &[("v", values.clone())], &select.join(", "));
        let got = |c: &str| records::strings(&df, c).unwrap();
        for (k, kind) in kinds.iter().enumerate() {
            let col = got(&format!("s{k}"));
            for (v, s) in values.iter().zip(&col) {
                assert_eq!(
                    s.as_deref().unwrap_or(""),
                    standardise_text(*kind, v),
                    "{} of {v:?}",
                    kind.name()
                );
            }
        }
        let (g, l) = (got(&sql::given(0)), got(&sql::family(0)));
        for (i, v) in values.iter().enumerate() {
            let (first, last) = split_name(v);
            assert_eq!(
                (
                    g[i].clone().unwrap_or_default(),
                    l[i].clone().unwrap_or_default()
                ),
                (first, last),
                "name {v:?}"
            );
        }
    }

    #[test]
    fn dates_read_in_sql_as_locally() {
        let Some(spark) = server() else { return };
        let values: Vec<String> = ["2/1/1980", "02/01/1980", "31/12/1975", "1980-13-01", ""]
            .map(String::from)
            .to_vec();
        let formats = vec!["%d/%m/%Y".to_string()];
        let df = query(
            &spark,
            &[("v", values.clone())],
            &format!(
                "CAST({} AS STRING) AS d",
                sql::date_value("v", false, &formats).unwrap()
            ),
        );
        let got = records::strings(&df, "d").unwrap();
        let want = [
            Some("1980-01-02"),
            Some("1980-01-02"),
            Some("1975-12-31"),
            None,
            None,
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.as_deref(), w);
        }
    }
}
