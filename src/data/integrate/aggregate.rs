//! Per-customer aggregation of the activity sources (order lines, tickets, web sessions): the
//! step that grows with the data. It sits behind [`CustomerAggregator`] so that another engine
//! (a cluster, see the Scale issue) can compute the same per-customer table; [`LocalAggregator`]
//! reads and prepares each source as a polars lazy plan on the streaming engine (big files are
//! never loaded whole) and folds the batches per customer in [`crate::data::integrate::reduce`].
//!
//! Every output frame has one row per customer key seen in the source (unknown keys included,
//! so the caller can count orphans), the key in column [`KEY`], the row counts of each cleaning
//! step (`__read`, `__distinct`, ...), and the role's features.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::data::dates::to_date_expr;
use crate::data::error::{DataError, Result};
use crate::data::integrate::dedup::row_fingerprints;
use crate::data::integrate::reduce::{OtherNames, Reducer, prep};
use crate::data::sources::file::{self, Format, ReadOptions, Scanned, malformed_error};
use crate::data::sources::workspace::{InvalidPolicy, SourceConfig, Workspace};
use crate::progress::Progress;

/// The key column of every aggregate frame.
pub const KEY: &str = "__key";
/// Rows read from the source.
pub const READ: &str = "__read";
/// Rows left after removing exact duplicates.
pub const DISTINCT: &str = "__distinct";
/// Rows kept after the validity rules.
pub const KEPT: &str = "__kept";

/// The activity roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Orders,
    Tickets,
    Sessions,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Orders => "orders",
            Role::Tickets => "tickets",
            Role::Sessions => "sessions",
        }
    }
}

/// What happens to exact duplicate rows of an activity source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    /// Removed (the rows have an identity, or the workspace asks).
    Remove,
    /// Kept as real repeats and counted as possible duplicates (no line identity: two
    /// equal purchases on one day look the same as an exported line twice).
    Count,
    /// Kept and not counted (`dedup_activity = false`).
    Keep,
}

/// One activity source, ready to aggregate: its scan, key and role columns.
pub struct ActivityInput {
    pub role: Role,
    pub path: PathBuf,
    pub frame: LazyFrame,
    pub schema: SchemaRef,
    pub key: String,
    /// role -> column name in the file (only roles present in the file).
    pub columns: BTreeMap<String, String>,
    pub date_formats: Vec<String>,
    /// About how many rows the source has, when known (for pre-sizing).
    pub estimated_rows: Option<usize>,
    /// How the source is read, for an engine that reads it itself (a cluster).
    pub format: Format,
    pub delimiter: Option<u8>,
    pub duplicates: Duplicates,
    /// The rows appended since an earlier run, read as `frame` reads the whole source (see
    /// [`crate::data::sources::file::ReadOptions::tail_from`]): an incremental aggregator
    /// folds only these into the earlier run's accumulators.
    pub tail: Option<LazyFrame>,
}

impl ActivityInput {
    /// The same source, every row of it (without its appended rows read apart).
    pub(crate) fn reading_whole(&self) -> ActivityInput {
        self.reading(self.frame.clone())
    }

    /// The same source with `tail` as its appended rows.
    pub(crate) fn with_tail(&self, tail: LazyFrame) -> ActivityInput {
        let mut i = self.reading(self.frame.clone());
        i.tail = Some(tail);
        i
    }

    /// The same source read from `frame` instead.
    fn reading(&self, frame: LazyFrame) -> ActivityInput {
        ActivityInput {
            role: self.role,
            path: self.path.clone(),
            frame,
            schema: self.schema.clone(),
            key: self.key.clone(),
            columns: self.columns.clone(),
            date_formats: self.date_formats.clone(),
            estimated_rows: self.estimated_rows,
            format: self.format,
            delimiter: self.delimiter,
            duplicates: self.duplicates,
            tail: None,
        }
    }
}

/// What an incremental run carries on from: an earlier run's per-customer state of one
/// source (each customer taken at their first new row) and its category names.
pub struct Resume {
    pub earlier: Arc<crate::data::integrate::reduce::Earlier>,
    pub categories: Vec<String>,
    pub rows: Arc<crate::data::integrate::reduce::Seen>,
    pub orders: Arc<crate::data::integrate::reduce::Seen>,
}

/// What to aggregate and the cleaning policy that applies on the way.
pub struct AggregationPlan {
    pub inputs: Vec<ActivityInput>,
    /// Customer ids merged into another (columns `old`, `new`), from the fuzzy-key step.
    pub key_map: Option<DataFrame>,
    pub invalid_lines: InvalidPolicy,
    /// About how many customers the sources hold (0: unknown), to size the per-customer
    /// state once instead of growing it (a growing table briefly holds two copies).
    pub customers: usize,
}

/// The per-customer table of one role, and the names of its count columns by rule.
pub struct RoleAggregate {
    pub role: Role,
    /// Wall-clock time this source took.
    pub millis: f64,
    pub path: PathBuf,
    pub frame: DataFrame,
    /// (count column in `frame`, column, rule, action) for each validity rule.
    pub rules: Vec<RuleColumn>,
    /// Feature columns this role adds to the 360 table, with how to fill a customer without
    /// activity: `true` = zero (counts and sums), `false` = stays null (means, dates).
    pub features: Vec<(String, bool)>,
    /// What was done with exact duplicate rows.
    pub duplicates: Duplicates,
}

/// Computes per-customer aggregates of the activity sources.
pub trait CustomerAggregator {
    /// The customers source read and cleaned; an incremental engine may keep it between runs
    /// while its files and settings do not change.
    fn customers(
        &self,
        ws: &Workspace,
        progress: &Progress,
    ) -> Result<crate::data::integrate::PreparedCustomers> {
        crate::data::integrate::prepare_customers(ws, progress)
    }

    /// Opens one activity source for this engine: its schema, format and where it is read
    /// from. The local engine scans the file here; a cluster engine asks the cluster, which
    /// reads paths this machine may not see.
    fn open(
        &self,
        ws: &Workspace,
        role: Role,
        cfg: &SourceConfig,
        progress: &Progress,
    ) -> Result<Scanned>;

    fn aggregate(&self, plan: &AggregationPlan, progress: &Progress) -> Result<Vec<RoleAggregate>>;
}

/// Polars on this machine, streaming engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAggregator;

pub(crate) fn role_col<'a>(input: &'a ActivityInput, role: &str) -> Option<&'a str> {
    input.columns.get(role).map(String::as_str)
}

fn num(c: &str) -> Expr {
    col(c).cast(DataType::Float64)
}

/// The used columns of a source with the key normalised and merged ids mapped.
fn keyed(input: &ActivityInput, plan: &AggregationPlan) -> LazyFrame {
    let used = used_columns(input);
    let lf = input
        .frame
        .clone()
        .select(used.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
    with_key(lf, &input.key, plan.key_map.as_ref())
}

fn with_key(lf: LazyFrame, key: &str, key_map: Option<&DataFrame>) -> LazyFrame {
    let lf = lf.with_column(
        col(key)
            .cast(DataType::String)
            .str()
            .strip_chars(lit(NULL))
            .alias(KEY),
    );
    match key_map {
        Some(map) if map.height() > 0 => lf
            .left_join(map.clone().lazy(), col(KEY), col("old"))
            .with_column(coalesce(&[col("new"), col(KEY)]).alias(KEY))
            .drop(cols(["new"])),
        _ => lf,
    }
}

/// The file's columns this source uses (they also define an exact duplicate row).
pub(crate) fn used_columns(input: &ActivityInput) -> Vec<String> {
    let mut used = vec![input.key.clone()];
    for c in input.columns.values() {
        if !used.contains(c) {
            used.push(c.clone());
        }
    }
    used
}

fn date_expr(input: &ActivityInput, c: &str) -> Expr {
    let dtype = input.schema.get(c).cloned().unwrap_or(DataType::String);
    to_date_expr(c, &dtype, &input.date_formats)
}

/// One validity rule's count column: (count column, source column, rule, action).
pub(crate) type RuleColumn = (String, String, String, String);

/// The validity rules of order lines and their count columns (every engine counts the same).
pub(crate) fn order_rules(input: &ActivityInput, invalid: InvalidPolicy) -> Vec<RuleColumn> {
    let date = role_col(input, "date").unwrap_or("order_date");
    let action = match invalid {
        InvalidPolicy::Drop => "row dropped",
        InvalidPolicy::Null => "amount not counted",
    };
    let mut rules = vec![(
        "__n_bad_date".to_string(),
        date.to_string(),
        "unparseable date".to_string(),
        "row dropped".to_string(),
    )];
    if let Some(q) = role_col(input, "quantity") {
        rules.push((
            "__n_bad_qty".into(),
            q.into(),
            "quantity <= 0 or missing".into(),
            action.into(),
        ));
    }
    if let Some(a) = role_col(input, "amount") {
        rules.push((
            "__n_bad_price".into(),
            a.into(),
            "amount < 0 or missing".into(),
            action.into(),
        ));
    } else if let Some(p) = role_col(input, "unit_price") {
        rules.push((
            "__n_bad_price".into(),
            p.into(),
            "price < 0 or missing".into(),
            action.into(),
        ));
    }
    rules
}

/// The feature columns order lines add to the 360 table (name, zero when no activity).
pub(crate) fn order_features(input: &ActivityInput) -> Vec<(String, bool)> {
    let mut f = vec![
        ("frequency".to_string(), true),
        ("monetary".to_string(), true),
        ("first_order".to_string(), false),
        ("last_order".to_string(), false),
    ];
    if role_col(input, "category").is_some() {
        f.push(("distinct_categories".to_string(), true));
    }
    f
}

/// Tickets' and sessions' outputs: the count column, the last-date column and the means.
pub(crate) fn other_outputs(role: Role) -> (&'static str, &'static str, &'static [MeanSpec]) {
    if role == Role::Tickets {
        (
            "tickets",
            "last_ticket",
            &[
                ("satisfaction", "satisfaction_mean", 1.0, 5.0),
                (
                    "resolution_hours",
                    "resolution_hours_mean",
                    0.0,
                    f64::INFINITY,
                ),
            ],
        )
    } else {
        (
            "sessions",
            "last_session",
            &[
                ("pages", "pages_mean", 0.0, f64::INFINITY),
                ("duration", "duration_mean_s", 0.0, f64::INFINITY),
            ],
        )
    }
}

/// The count column of the `j`th mean's range rule, as the report words it.
pub(crate) fn mean_rule(j: usize, c: &str, lo: f64, hi: f64) -> RuleColumn {
    let rule = if hi.is_infinite() {
        format!("{c} < {lo}")
    } else {
        format!("{c} outside {lo}-{hi}")
    };
    (
        format!("__n__bad_{j}"),
        c.to_string(),
        rule,
        "set null".into(),
    )
}

/// The count column of tickets' and sessions' unparseable dates (set null, row kept).
pub(crate) fn date_rule(c: &str) -> RuleColumn {
    (
        "__n_bad_date".into(),
        c.into(),
        "unparseable date".into(),
        "set null".into(),
    )
}

/// The feature columns of tickets or sessions, given the means the source produced.
pub(crate) fn other_features(
    input: &ActivityInput,
    count: &str,
    last: &str,
    produced: &[String],
) -> Vec<(String, bool)> {
    let mut f = vec![(count.to_string(), true)];
    f.extend(produced.iter().map(|m| (m.clone(), false)));
    if role_col(input, "date").is_some() {
        f.push((last.to_string(), false));
    }
    f
}

/// Order lines, prepared row by row for the reducer.
fn orders_plan(input: &ActivityInput, plan: &AggregationPlan) -> (LazyFrame, Vec<RuleColumn>) {
    let date = role_col(input, "date").unwrap_or("order_date");
    let qty = role_col(input, "quantity");
    let price = role_col(input, "unit_price");
    let order = role_col(input, "order_id");
    let category = role_col(input, "category");
    let bad_qty = match qty {
        Some(q) => num(q).is_null().or(num(q).lt_eq(lit(0.0))),
        None => lit(false),
    };
    // A line total (the amount role) wins over quantity x unit price.
    let total = role_col(input, "amount");
    let bad_price = match total.or(price) {
        Some(p) => num(p).is_null().or(num(p).lt(lit(0.0))),
        None => lit(false),
    };
    let amount = match (total, qty, price) {
        (Some(a), _, _) => num(a),
        (None, Some(q), Some(p)) => num(q) * num(p),
        (None, None, Some(p)) => num(p),
        _ => lit(NULL).cast(DataType::Float64),
    };
    let order_expr = match order {
        Some(o) => col(o).cast(DataType::String),
        // Without an order id, each distinct date is one order.
        None => date_expr(input, date).cast(DataType::String),
    };
    let mut prepared = vec![
        date_expr(input, date).alias(prep::DATE),
        date_expr(input, date).is_null().alias(prep::BAD_DATE),
        bad_qty.alias(prep::BAD_QTY),
        bad_price.alias(prep::BAD_PRICE),
        amount.alias(prep::AMOUNT),
        order_expr.alias(prep::ORDER),
    ];
    if let Some(c) = category {
        prepared.push(col(c).cast(DataType::String).alias(prep::CATEGORY));
    }
    (
        keyed(input, plan).with_columns(prepared),
        order_rules(input, plan.invalid_lines),
    )
}

/// A mean column: (role column, output name, lowest valid, highest valid).
pub(crate) type MeanSpec = (&'static str, &'static str, f64, f64);

/// Tickets and sessions: the date and numeric values with their range checks, prepared row
/// by row for the reducer. Returns the plan, the rules, and the mean columns produced.
fn simple_plan(
    input: &ActivityInput,
    plan: &AggregationPlan,
    means: &[MeanSpec],
) -> (LazyFrame, Vec<RuleColumn>, Vec<String>) {
    let mut prepared = Vec::new();
    let mut rules = Vec::new();
    match role_col(input, "date") {
        Some(d) => {
            prepared.push(date_expr(input, d).alias(prep::DATE));
            prepared.push(
                col(d)
                    .is_not_null()
                    .and(date_expr(input, d).is_null())
                    .alias(prep::BAD_DATE),
            );
            rules.push(date_rule(d));
        }
        None => {
            prepared.push(lit(NULL).cast(DataType::Date).alias(prep::DATE));
            prepared.push(lit(false).alias(prep::BAD_DATE));
        }
    }
    let mut produced = Vec::new();
    for (role, out, lo, hi) in means {
        let Some(c) = role_col(input, role) else {
            continue;
        };
        let j = produced.len();
        let v = num(c);
        let bad = v.clone().lt(lit(*lo)).or(v.clone().gt(lit(*hi)));
        prepared.push(bad.fill_null(lit(false)).alias(prep::bad_value(j)));
        prepared.push(v.alias(prep::value(j)));
        rules.push(mean_rule(j, c, *lo, *hi));
        produced.push(out.to_string());
    }
    (keyed(input, plan).with_columns(prepared), rules, produced)
}

/// Runs a prepared plan on the streaming engine and folds its batches into per-customer
/// accumulators, on one worker thread per core: each customer belongs to one shard (by its
/// key's fingerprint), so shards never share state and each sees its rows in file order,
/// which keeps sums deterministic. Stops early when the job is cancelled.
fn run_reduction(
    input: &ActivityInput,
    lf: LazyFrame,
    make: &dyn Fn(usize, usize) -> PolarsResult<Reducer>,
    customers: usize,
    progress: &Progress,
) -> Result<Vec<Reducer>> {
    // A polars panic while streaming the file is an error naming it, not a crash.
    crate::data::sources::guard::guarded(&input.path, || {
        stream_reduce(input, lf, make, customers, progress)
    })
}

/// [`run_reduction`] unguarded.
fn stream_reduce(
    input: &ActivityInput,
    lf: LazyFrame,
    make: &dyn Fn(usize, usize) -> PolarsResult<Reducer>,
    customers: usize,
    progress: &Progress,
) -> Result<Vec<Reducer>> {
    type Batch = Arc<(DataFrame, Vec<u32>)>;
    let shards = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let mut senders = Vec::with_capacity(shards);
    let mut workers = Vec::with_capacity(shards);
    for shard in 0..shards {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(4);
        let mut reducer = make(shard, shards)
            .map_err(|e| DataError::polars(format!("aggregating {}", input.role.name()), e))?;
        if let Some(rows) = input.estimated_rows {
            reducer.reserve(rows / shards + 1);
        }
        // Keys of unknown customers come on top: a few percent more.
        reducer.reserve_customers((customers + customers / 20) / shards + 1);
        workers.push(std::thread::spawn(move || -> PolarsResult<Reducer> {
            for batch in rx {
                let (df, owner) = &*batch;
                if shards == 1 {
                    reducer.push(df)?;
                    continue;
                }
                let rows: Vec<IdxSize> = owner
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| **o as usize == shard)
                    .map(|(i, _)| i as IdxSize)
                    .collect();
                if !rows.is_empty() {
                    let idx = IdxCa::from_vec("idx".into(), rows);
                    reducer.push(&df.take(&idx)?)?;
                }
            }
            Ok(reducer)
        }));
        senders.push(tx);
    }
    let senders = Arc::new(Mutex::new(Some(senders)));
    let sink = senders.clone();
    let watcher = progress.clone();
    watcher.label(&format!(
        "aggregating {} ({})",
        input.role.name(),
        crate::data::integrate::file_name(&input.path)
    ));
    watcher.rows(0, 0);
    let expected = input.estimated_rows.unwrap_or(0) as u64;
    let rows_seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let callback = PlanCallback::new(move |df: DataFrame| {
        if watcher.is_cancelled() {
            return Ok(true);
        }
        let owner: Vec<u32> = if shards == 1 {
            Vec::new()
        } else {
            row_fingerprints(&[df.column(KEY)?.clone()])?
                .into_iter()
                .map(|p| ((p >> 64) as u64 % shards as u64) as u32)
                .collect()
        };
        let n = rows_seen.fetch_add(df.height() as u64, std::sync::atomic::Ordering::Relaxed);
        let batch: Batch = Arc::new((df, owner));
        let guard = sink
            .lock()
            .map_err(|_| polars_err!(ComputeError: "reducer poisoned"))?;
        for tx in guard.iter().flatten() {
            tx.send(batch.clone())
                .map_err(|_| polars_err!(ComputeError: "an aggregation worker stopped"))?;
        }
        watcher.rows(n + batch.0.height() as u64, expected);
        Ok(false)
    });
    let malformed = |e: PolarsError| malformed_error(&input.path, &e);
    let run = lf
        .sink_batches(callback, true, None)
        .and_then(|lf| lf.collect_with_engine(Engine::Streaming));
    // Close the channels so the workers finish, whatever happened.
    if let Ok(mut g) = senders.lock() {
        g.take();
    }
    let mut reducers = Vec::with_capacity(shards);
    let mut worker_error = None;
    for w in workers {
        match w.join() {
            Ok(Ok(r)) => reducers.push(r),
            Ok(Err(e)) => worker_error = Some(e),
            Err(_) => {
                worker_error = Some(polars_err!(ComputeError: "an aggregation worker panicked"))
            }
        }
    }
    if let Some(e) = worker_error {
        return Err(malformed(e));
    }
    run.map_err(malformed)?;
    if progress.is_cancelled() {
        return Err(DataError::Cancelled);
    }
    Ok(reducers)
}

/// Finishes every shard and stacks their rows (each customer is in one shard only).
fn finish_all(reducers: &[Reducer], names: &OtherNames, what: &str) -> Result<DataFrame> {
    let mut out: Option<DataFrame> = None;
    for r in reducers {
        let df = r
            .finish(names)
            .map_err(|e| DataError::polars(format!("aggregating {what}"), e))?;
        match &mut out {
            None => out = Some(df),
            Some(acc) => {
                acc.vstack_mut(&df)
                    .map_err(|e| DataError::polars(format!("aggregating {what}"), e))?;
            }
        }
    }
    out.ok_or_else(|| DataError::Invalid(format!("aggregating {what}: no workers")))
}

impl CustomerAggregator for LocalAggregator {
    fn open(
        &self,
        ws: &Workspace,
        _role: Role,
        cfg: &SourceConfig,
        progress: &Progress,
    ) -> Result<Scanned> {
        // Activity files are streamed once and can be far bigger than memory: read in
        // ranges, not memory-mapped.
        let opts = ReadOptions {
            unmapped: true,
            cancel: Some(progress.clone()),
            ..cfg.read_options()
        };
        file::scan(&ws.resolve(cfg), &opts)
    }

    fn aggregate(&self, plan: &AggregationPlan, progress: &Progress) -> Result<Vec<RoleAggregate>> {
        let mut out = Vec::new();
        for input in &plan.inputs {
            progress.check().map_err(|_| DataError::Cancelled)?;
            out.push(aggregate_source(input, plan, None, progress)?.0);
        }
        Ok(out)
    }
}

/// A source's aggregate from its finished per-customer table (kept by an earlier run), with
/// the rules and features a run over its rows would report.
pub(crate) fn from_frame(
    input: &ActivityInput,
    plan: &AggregationPlan,
    frame: DataFrame,
) -> RoleAggregate {
    let (rules, features) = match input.role {
        Role::Orders => (orders_plan(input, plan).1, order_features(input)),
        Role::Tickets | Role::Sessions => {
            let (count, last, means) = other_outputs(input.role);
            let (_, rules, produced) = simple_plan(input, plan, means);
            (rules, other_features(input, count, last, &produced))
        }
    };
    RoleAggregate {
        millis: 0.0,
        role: input.role,
        path: input.path.clone(),
        frame,
        rules,
        features,
        duplicates: input.duplicates,
    }
}

/// Aggregates one source. With `resume`, folds the source's appended rows
/// ([`ActivityInput::tail`], else all its rows) into an earlier run's accumulators, and
/// returns the reducers too, for the next run to carry on from: the table then has only the
/// customers with new rows.
pub(crate) fn aggregate_source(
    input: &ActivityInput,
    plan: &AggregationPlan,
    resume: Option<Resume>,
    progress: &Progress,
) -> Result<(RoleAggregate, Option<Vec<Reducer>>)> {
    let t0 = std::time::Instant::now();
    let raw = used_columns(input);
    let keep = resume.is_some();
    // An incremental run reads the appended rows only.
    let read = match (&resume, &input.tail) {
        (Some(_), Some(tail)) => input.reading(tail.clone()),
        _ => input.reading(input.frame.clone()),
    };
    let resume = resume.map(|r| (r.earlier, r.categories, r.rows, r.orders));
    let has_category = input.role == Role::Orders && role_col(input, "category").is_some();
    let (lf, produced) = match input.role {
        Role::Orders => (orders_plan(&read, plan).0, Vec::new()),
        Role::Tickets | Role::Sessions => {
            let (_, _, means) = other_outputs(input.role);
            let (lf, _, produced) = simple_plan(&read, plan, means);
            (lf, produced)
        }
    };
    let make = |_shard: usize, _shards: usize| -> PolarsResult<Reducer> {
        let mut r = Reducer::new(
            input.role,
            input.duplicates,
            plan.invalid_lines,
            raw.clone(),
            produced.len(),
            has_category,
        );
        if let Some((earlier, categories, rows, orders)) = &resume {
            r.resume(earlier.clone(), categories, rows.clone(), orders.clone());
        }
        Ok(r)
    };
    let reducers = run_reduction(&read, lf, &make, plan.customers, progress)?;
    let frame = match input.role {
        Role::Orders => finish_all(&reducers, &OtherNames::default(), "orders")?,
        Role::Tickets | Role::Sessions => {
            let (count, last, _) = other_outputs(input.role);
            let names = OtherNames {
                count: count.to_string(),
                means: produced.clone(),
                last: last.to_string(),
            };
            finish_all(&reducers, &names, input.role.name())?
        }
    };
    let mut agg = from_frame(input, plan, frame);
    agg.millis = (t0.elapsed().as_secs_f64() * 1000.0).round();
    Ok((agg, keep.then_some(reducers)))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    struct Line {
        customer: String,
        order: String,
        date: String,
        product: String,
        category: String,
        quantity: i64,
        price: f64,
    }

    /// Random order lines over a small domain, with exact repeats and invalid quantities.
    fn lines() -> Vec<Line> {
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let mut out: Vec<Line> = Vec::new();
        for _ in 0..3000 {
            if !out.is_empty() && next(10) == 0 {
                let i = next(out.len() as u64) as usize;
                let l = &out[i];
                out.push(Line {
                    customer: l.customer.clone(),
                    order: l.order.clone(),
                    date: l.date.clone(),
                    product: l.product.clone(),
                    category: l.category.clone(),
                    quantity: l.quantity,
                    price: l.price,
                });
                continue;
            }
            let order = next(400);
            let product = next(10);
            let date = if next(50) == 0 {
                "not a date".to_string()
            } else {
                format!("2024-{:02}-{:02}", 1 + order % 12, 1 + order % 28)
            };
            out.push(Line {
                customer: format!("C{}", order % 50),
                order: format!("O{order}"),
                date,
                product: format!("P{product}"),
                category: format!("cat{}", product % 4),
                quantity: next(5) as i64 - 1,
                price: [0.5, 1.25, 2.0][next(3) as usize],
            });
        }
        out
    }

    #[test]
    fn local_aggregation_matches_brute_force() {
        let lines = lines();
        let df = df!(
            "customer_id" => lines.iter().map(|l| l.customer.clone()).collect::<Vec<_>>(),
            "order_id" => lines.iter().map(|l| l.order.clone()).collect::<Vec<_>>(),
            "order_date" => lines.iter().map(|l| l.date.clone()).collect::<Vec<_>>(),
            "product" => lines.iter().map(|l| l.product.clone()).collect::<Vec<_>>(),
            "category" => lines.iter().map(|l| l.category.clone()).collect::<Vec<_>>(),
            "quantity" => lines.iter().map(|l| l.quantity).collect::<Vec<_>>(),
            "unit_price" => lines.iter().map(|l| l.price).collect::<Vec<_>>()
        )
        .unwrap();
        let columns: BTreeMap<String, String> = [
            ("order_id", "order_id"),
            ("date", "order_date"),
            ("product", "product"),
            ("category", "category"),
            ("quantity", "quantity"),
            ("unit_price", "unit_price"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let plan = AggregationPlan {
            inputs: vec![ActivityInput {
                role: Role::Orders,
                path: "orders".into(),
                schema: Arc::new(df.schema().as_ref().clone()),
                frame: df.lazy(),
                key: "customer_id".into(),
                columns,
                date_formats: vec!["%Y-%m-%d".into()],
                estimated_rows: None,
                format: Format::Csv,
                delimiter: None,
                duplicates: Duplicates::Remove,
                tail: None,
            }],
            key_map: None,
            invalid_lines: InvalidPolicy::Drop,
            customers: 0,
        };
        let out = LocalAggregator.aggregate(&plan, &Progress::new()).unwrap();
        let frame = &out[0].frame;

        // Brute force over the distinct lines.
        #[derive(Default, Debug, PartialEq)]
        struct Want {
            read: u64,
            distinct: u64,
            kept: u64,
            orders: BTreeSet<String>,
            monetary: f64,
            last: Option<String>,
            categories: BTreeSet<String>,
        }
        let mut want: BTreeMap<String, Want> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for l in &lines {
            let w = want.entry(l.customer.clone()).or_default();
            w.read += 1;
            let row = (
                &l.customer,
                &l.order,
                &l.date,
                &l.product,
                &l.category,
                l.quantity,
                l.price.to_bits(),
            );
            if !seen.insert(row) {
                continue;
            }
            w.distinct += 1;
            if l.date == "not a date" || l.quantity <= 0 {
                continue;
            }
            w.kept += 1;
            w.orders.insert(l.order.clone());
            w.monetary += l.quantity as f64 * l.price;
            w.categories.insert(l.category.clone());
            if w.last.as_ref().is_none_or(|d| *d < l.date) {
                w.last = Some(l.date.clone());
            }
        }
        assert!(seen.len() < lines.len(), "the test data has repeats");
        assert_eq!(frame.height(), want.len());
        let keys: Vec<&str> = frame
            .column(KEY)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        let get_u = |c: &str, i: usize| frame.column(c).unwrap().u64().unwrap().get(i).unwrap();
        let monetary = frame.column("monetary").unwrap().f64().unwrap();
        let last = frame
            .column("last_order")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        let last = last.str().unwrap();
        for (i, k) in keys.iter().enumerate() {
            let w = &want[*k];
            assert_eq!(get_u(READ, i), w.read, "{k}");
            assert_eq!(get_u(DISTINCT, i), w.distinct, "{k}");
            assert_eq!(get_u(KEPT, i), w.kept, "{k}");
            assert_eq!(get_u("frequency", i), w.orders.len() as u64, "{k}");
            assert_eq!(
                get_u("distinct_categories", i),
                w.categories.len() as u64,
                "{k}"
            );
            assert!((monetary.get(i).unwrap() - w.monetary).abs() < 1e-9, "{k}");
            assert_eq!(last.get(i).map(str::to_string), w.last, "{k}");
        }
    }
}
