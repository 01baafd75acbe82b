//! Integration: the customers source is the spine (one row per customer); the activity sources
//! are aggregated per customer ([`crate::data::integrate::aggregate`]) and left-joined onto it, then RFM and the
//! other derived features are computed and missing values filled by policy. Every step's counts
//! go into the [`QualityReport`]; no customer row disappears without being counted.

pub mod aggregate;
pub mod clean;
pub mod dedup;
pub mod explore;
pub mod follow;
pub mod incremental;
pub mod log;
pub mod profile;
pub mod quality;
pub mod reduce;
#[cfg(feature = "spark")]
pub mod spark;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::data::dates::{epoch_days, from_epoch_days};
use crate::data::error::{DataError, Result};
use crate::data::integrate::aggregate::{
    ActivityInput, AggregationPlan, CustomerAggregator, DISTINCT, Duplicates, KEPT, KEY,
    LocalAggregator, READ, Role, RoleAggregate,
};
use crate::data::integrate::quality::{InvalidCount, QualityReport, SourceSummary};
use crate::data::sources::file::{self, ReadOptions, Scanned};
use crate::data::sources::workspace::{SourceConfig, Workspace, role_defaults};
use crate::progress::Progress;
use clean::Rules;

/// Derived column names of the 360 table.
pub mod cols360 {
    pub const RECENCY: &str = "recency_days";
    pub const FREQUENCY: &str = "frequency";
    pub const MONETARY: &str = "monetary";
    pub const AVG_ORDER_VALUE: &str = "avg_order_value";
    pub const DISTINCT_CATEGORIES: &str = "distinct_categories";
    pub const TENURE: &str = "tenure_days";
    pub const AGE: &str = "age";
    pub const FIRST_ORDER: &str = "first_order";
    pub const LAST_ORDER: &str = "last_order";
}

/// The integrated customer-360 table and how it was made.
#[derive(Debug, Clone)]
pub struct Customer360 {
    pub table: DataFrame,
    pub key: String,
    pub reference_date: NaiveDate,
    pub report: QualityReport,
}

fn pl(context: &str) -> impl Fn(PolarsError) -> DataError + '_ {
    move |e| DataError::polars(context, e)
}

fn read_options(src: &SourceConfig, progress: &Progress) -> ReadOptions {
    ReadOptions {
        cancel: Some(progress.clone()),
        ..src.read_options()
    }
}

/// Resolves a source's role columns: an explicitly named one must exist, a default one is used
/// when the file has it; for order lines, a role still without a column is found from the
/// columns' names and values (see [`crate::data::sources::roles`]) when `find` is set.
fn role_columns(
    role: &str,
    src: &SourceConfig,
    scanned: &Scanned,
    find: bool,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (r, _) in role_defaults(role) {
        if let Some((name, explicit)) = src.role_column(r, role_defaults(role)) {
            if scanned.schema.contains(&name) {
                out.insert(r.to_string(), name);
            } else if explicit {
                file::require_column(
                    &scanned.path,
                    &scanned.schema,
                    &name,
                    &format!("[sources.{role}.columns] {r}"),
                )?;
            }
        }
    }
    if find && role == "orders" {
        use crate::data::sources::roles::{Role as ColumnRole, detect};
        if let Ok(head) = scanned.first_rows(10_000).collect() {
            let found = detect(&head);
            let key = src.key.as_deref();
            for a in &found.assigned {
                let taken = out.values().any(|c| *c == a.column) || key == Some(a.column.as_str());
                if a.role != ColumnRole::Customer
                    && !taken
                    && !out.contains_key(a.role.name())
                    && !src.columns.contains_key(a.role.name())
                {
                    out.insert(a.role.name().to_string(), a.column.clone());
                }
            }
        }
    }
    // A line total and quantity x unit price are two ways to one amount: the total wins.
    if out.contains_key("amount") {
        out.remove("unit_price");
        if !src.columns.contains_key("quantity") {
            out.remove("quantity");
        }
    }
    Ok(out)
}

/// The formats a date column without formats in the workspace is read with: those its first
/// values are written in (see [`crate::data::dates::infer_formats`]: month-first,
/// `yyyymmdd`...), then the usual ones for values further down.
fn found_date_formats(scanned: &Scanned, column: &str) -> Vec<String> {
    let Ok(head) = scanned
        .first_rows(10_000)
        .select([col(column).cast(DataType::String)])
        .collect()
    else {
        return Vec::new();
    };
    let values: Vec<&str> = head
        .columns()
        .first()
        .and_then(|c| c.str().ok())
        .map(|s| s.iter().flatten().collect())
        .unwrap_or_default();
    let Some(found) = crate::data::dates::infer_formats(&values, 0.5) else {
        return Vec::new();
    };
    let mut formats = found.formats;
    for f in crate::data::dates::DEFAULT_FORMATS {
        if !formats.iter().any(|g| g == f) {
            formats.push(f.to_string());
        }
    }
    formats
}

fn require_all(scanned: &Scanned, columns: &[String], hint: &str) -> Result<()> {
    for c in columns {
        file::require_column(&scanned.path, &scanned.schema, c, hint)?;
    }
    Ok(())
}

/// Wall-clock time per integration step, recorded in the report.
struct StepClock(std::time::Instant);

impl StepClock {
    fn new() -> Self {
        StepClock(std::time::Instant::now())
    }

    fn lap(&mut self, report: &mut QualityReport, step: &str) {
        let ms = self.0.elapsed().as_secs_f64() * 1000.0;
        report.timings_ms.push((step.to_string(), ms.round()));
        self.0 = std::time::Instant::now();
    }
}

/// The customers source read and cleaned (the spine of the 360 table), with the ids merged
/// into others and what the report says of it so far.
#[derive(Debug, Clone)]
pub struct PreparedCustomers {
    pub table: DataFrame,
    /// Customer ids merged into another (columns `old`, `new`): the fuzzy key's and identity
    /// resolution's.
    pub key_map: Option<DataFrame>,
    /// The customers source's role columns.
    pub roles: BTreeMap<String, String>,
    pub path: std::path::PathBuf,
    pub report: QualityReport,
}

/// Reads and cleans the customers source: its key, text, dates, exact and same-key
/// duplicates, the fuzzy key and `[identity] person_key`.
pub fn prepare_customers(ws: &Workspace, progress: &Progress) -> Result<PreparedCustomers> {
    let cancelled = || DataError::Cancelled;
    let mut report = QualityReport::default();
    let key = ws.workspace.customer_key.clone();

    // 1. Customers: read whole (they are the small side) and check every named column.
    let cust_cfg = &ws.sources.customers;
    let cust_path = ws.resolve(cust_cfg);
    let scanned = file::scan(&cust_path, &read_options(cust_cfg, progress))?;
    let cust_key = ws.key_of(cust_cfg);
    file::require_column(
        &scanned.path,
        &scanned.schema,
        &cust_key,
        "[workspace] customer_key (or [sources.customers] key)",
    )?;
    require_all(
        &scanned,
        &cust_cfg.dates.keys().cloned().collect::<Vec<_>>(),
        "[sources.customers] dates",
    )?;
    require_all(&scanned, &ws.cleaning.lowercase, "[cleaning] lowercase")?;
    require_all(
        &scanned,
        &ws.cleaning.non_negative,
        "[cleaning] non_negative",
    )?;
    require_all(&scanned, &ws.cleaning.not_future, "[cleaning] not_future")?;
    if let Some(f) = &ws.cleaning.fuzzy_key {
        file::require_column(&scanned.path, &scanned.schema, f, "[cleaning] fuzzy_key")?;
    }
    // One file as both customers and orders is a transaction log on its own: its customers
    // are its distinct keys (in order of first appearance), not its lines.
    let log_alone = ws.sources.orders.as_ref().is_some_and(|o| {
        ws.resolve(o) == cust_path && o.table == cust_cfg.table && o.query == cust_cfg.query
    });
    let cust_roles = if log_alone {
        BTreeMap::new()
    } else {
        role_columns("customers", cust_cfg, &scanned, false)?
    };
    let cust_format = scanned.format.name();
    let mut cust_notes = scanned.notes.clone();
    let frame = if log_alone {
        cust_notes.push(format!(
            "the customers are the distinct `{cust_key}` of the transaction log"
        ));
        scanned
            .frame
            .select([col(cust_key.as_str())])
            .unique_stable(None, UniqueKeepStrategy::First)
    } else {
        scanned.frame
    };
    let mut customers = file::collect_source(&cust_path, frame)?;
    report.sources.push(SourceSummary {
        role: "customers".into(),
        path: cust_path.display().to_string(),
        format: cust_format.into(),
        rows: customers.height() as u64,
        columns: customers.width(),
        notes: cust_notes,
    });
    if cust_key != key {
        customers
            .rename(&cust_key, key.as_str().into())
            .map_err(pl("renaming the key"))?;
    }

    // 2. Clean customers: key, text, dates, duplicates.
    progress.check().map_err(|_| cancelled())?;
    progress.next("cleaning customers");
    let rows_in = customers.height() as u64;
    customers = customers
        .lazy()
        .with_column(clean::normalised_text_key(&key))
        .filter(col(&key).is_not_null())
        .collect()
        .map_err(pl("cleaning the customer key"))?;
    report.step(
        "customers",
        "missing key",
        rows_in,
        customers.height() as u64,
        format!("rows without `{key}` dropped"),
    );
    let (df, changed) =
        clean::normalise_text(customers, ws.cleaning.trim_text, &ws.cleaning.lowercase)?;
    report.text_normalised = changed;
    let (df, unparsed) = clean::parse_dates(df, &cust_cfg.dates, "customers")?;
    report.invalid.extend(unparsed);
    let n = df.height() as u64;
    let (df, exact) = clean::dedup_exact(df)?;
    report.step("customers", "exact duplicates", n, n - exact, String::new());
    report.duplicates.customers_exact = exact;
    let updated_at = cust_roles.get("updated_at").map(String::as_str);
    let n = df.height() as u64;
    let (df, same_key) = clean::dedup_by_key(df, &key, ws.cleaning.dedup, updated_at)?;
    report.step(
        "customers",
        "same key",
        n,
        n - same_key,
        format!("kept by policy `{:?}`", ws.cleaning.dedup).to_lowercase(),
    );
    report.duplicates.customers_same_key = same_key;
    let (df, key_map) = match &ws.cleaning.fuzzy_key {
        Some(f) => {
            let n = df.height() as u64;
            let (df, merged, map) =
                clean::dedup_by_fuzzy_key(df, &key, f, ws.cleaning.dedup, updated_at)?;
            report.step(
                "customers",
                &format!("same {f} (fuzzy key)"),
                n,
                n - merged,
                "activity moved to the kept id".into(),
            );
            report.duplicates.customers_fuzzy_key = merged;
            (df, Some(map))
        }
        None => (df, None),
    };
    // [identity] person_key: customer rows that are one person are merged, and the ids of
    // the linked customer lists map to their person's kept customer id.
    let identity = identity_settings(ws)?;
    let (df, key_map) = if identity.person_key {
        progress.check().map_err(|_| cancelled())?;
        let (df, map) = link_people(ws, &identity, df, &key, updated_at, &mut report, progress)?;
        let key_map = match key_map {
            Some(mut m) => {
                m.vstack_mut(&map).map_err(pl("merging the key maps"))?;
                Some(m)
            }
            None => Some(map),
        };
        (df, key_map)
    } else {
        (df, key_map)
    };
    Ok(PreparedCustomers {
        table: df,
        key_map,
        roles: cust_roles,
        path: cust_path,
        report,
    })
}

/// Integrates a workspace's sources into the customer-360 table on this machine.
pub fn integrate(ws: &Workspace, progress: &Progress) -> Result<Customer360> {
    ws.engine.check().map_err(DataError::Invalid)?;
    match ws.engine.kind {
        crate::data::sources::workspace::EngineKind::Local => {
            integrate_with(ws, &LocalAggregator, progress)
        }
        crate::data::sources::workspace::EngineKind::Spark => integrate_on_spark(ws, progress),
    }
}

/// Integrates with the per-customer aggregation on the Spark Connect server of `[engine]`.
#[cfg(feature = "spark")]
fn integrate_on_spark(ws: &Workspace, progress: &Progress) -> Result<Customer360> {
    let remote = ws.engine.remote.clone().unwrap_or_default();
    progress.label(&format!("connecting to Spark at {remote}"));
    let aggregator = crate::data::integrate::spark::SparkAggregator::connect(&remote)?;
    integrate_with(ws, &aggregator, progress)
}

#[cfg(not(feature = "spark"))]
fn integrate_on_spark(ws: &Workspace, _progress: &Progress) -> Result<Customer360> {
    Err(DataError::Invalid(format!(
        "{}: [engine] kind = \"spark\", but this crmlens was built without Spark support; rebuild with `cargo build --release --features spark` (needs protoc: apt-get install protobuf-compiler), or use kind = \"local\"",
        ws.file.display()
    )))
}

/// The workspace's `[identity]` as settings (a key it does not know, or a wrong type, names
/// the key; the workbench reads the section key by key through the pipeline's settings).
fn identity_settings(ws: &Workspace) -> Result<crate::data::identity::run::LinkSettings> {
    if ws.identity.is_empty() {
        return Ok(Default::default());
    }
    let mut s: crate::data::identity::run::LinkSettings = toml::Value::Table(ws.identity.clone())
        .try_into()
        .map_err(|e: toml::de::Error| DataError::Workspace {
            path: ws.file.clone(),
            message: format!("[identity]: {}", e.message().trim()),
        })?;
    s.check().map_err(|m| DataError::Workspace {
        path: ws.file.clone(),
        message: format!("[identity] {m}"),
    })?;
    for src in &mut s.sources {
        src.path = crate::data::identity::run::resolved(&ws.base_dir, &src.path);
    }
    Ok(s)
}

/// Identity resolution over the customers and the `[identity]` lists (duplicates within each
/// too): customer rows of one person are merged as the dedup policy keeps rows (their
/// activity moves to the kept id), and every record of a linked list in a person with a
/// customer maps to that customer. Returns the customers and the id map (`old`, `new`);
/// the Quality report gets a step saying how many records were linked, how surely, and how
/// many stayed single.
fn link_people(
    ws: &Workspace,
    settings: &crate::data::identity::run::LinkSettings,
    customers: DataFrame,
    key: &str,
    updated_at: Option<&str>,
    report: &mut QualityReport,
    progress: &Progress,
) -> Result<(DataFrame, DataFrame)> {
    const PERSON: &str = "__crmlens_person";
    let mut settings = settings.clone();
    settings.dedupe = true;
    let inputs = crate::data::identity::run::workspace_inputs(ws, &settings);
    progress.label("identity resolution: linking the customer lists");
    let run = crate::data::identity::run::run(&inputs, &settings, &[], progress)?;
    let l = &run.linked;
    let r = l.records();
    let c = &l.clusters;
    let customers_end = r.starts[1];
    // Distinct customer ids per person.
    let mut ids_of: Vec<Vec<&str>> = vec![Vec::new(); c.sizes.len()];
    for i in 0..customers_end {
        let p = c.person[i] as usize;
        if !ids_of[p].contains(&r.ids[i].as_str()) {
            ids_of[p].push(r.ids[i].as_str());
        }
    }
    let person_of: std::collections::HashMap<&str, usize> = (0..customers_end)
        .map(|i| (r.ids[i].as_str(), c.person[i] as usize))
        .collect();
    let keys = key_strings(&customers, key)?;
    let person: Vec<Option<String>> = keys
        .iter()
        .map(|k| {
            let p = *person_of.get(k.as_deref()?)?;
            (ids_of[p].len() > 1).then(|| p.to_string())
        })
        .collect();
    let mut df = customers;
    df.with_column(Column::new(PERSON.into(), person))
        .map_err(pl("adding the person"))?;
    let n = df.height() as u64;
    let (df, merged, mut map) =
        clean::dedup_by_fuzzy_key(df, key, PERSON, ws.cleaning.dedup, updated_at)?;
    let df = df.drop(PERSON).map_err(pl("dropping the person"))?;
    // The kept customer of each person.
    let mut kept: Vec<Option<String>> = vec![None; c.sizes.len()];
    for k in key_strings(&df, key)?.into_iter().flatten() {
        if let Some(&p) = person_of.get(k.as_str()) {
            kept[p] = Some(k);
        }
    }
    let (mut old, mut new) = (Vec::new(), Vec::new());
    let mut linked = 0u64;
    for i in customers_end..r.len() {
        if let Some(k) = &kept[c.person[i] as usize] {
            linked += 1;
            if r.ids[i] != *k {
                old.push(r.ids[i].clone());
                new.push(k.clone());
            }
        }
    }
    let others = (r.len() - customers_end) as u64;
    let members: DataFrame = DataFrame::new(
        old.len(),
        vec![
            Column::new("old".into(), old),
            Column::new("new".into(), new),
        ],
    )
    .map_err(pl("building the identity map"))?;
    let members = members
        .lazy()
        .select([
            col("old").cast(
                map.column("old")
                    .map_or(DataType::String, |c| c.dtype().clone()),
            ),
            col("new").cast(
                map.column("new")
                    .map_or(DataType::String, |c| c.dtype().clone()),
            ),
        ])
        .collect()
        .map_err(pl("building the identity map"))?;
    map.vstack_mut(&members)
        .map_err(pl("building the identity map"))?;
    // How sure: the mean probability of the accepted pairs between a listed record and a
    // customer.
    let across: Vec<f64> = l
        .accepted
        .iter()
        .filter(|&&p| {
            let (i, j) = l.candidates().pairs[p];
            ((i as usize) < customers_end) != ((j as usize) < customers_end)
        })
        .map(|&p| l.probabilities[p])
        .collect();
    let mean = across.iter().sum::<f64>() / across.len().max(1) as f64;
    report.identity = Some(identity_report(&run, merged, linked));
    report.step(
        "customers",
        "same person (identity)",
        n,
        n - merged,
        format!(
            "{linked} of {others} records of the linked lists attached to a customer (mean p {mean:.3}), {} stayed single; {} customer rows merged; threshold {}",
            others - linked,
            merged,
            l.threshold
        ),
    );
    Ok((df, map))
}

/// The linkage section of the Quality report: per list, records linked and single; the
/// accepted pairs by confidence; the people.
fn identity_report(
    run: &crate::data::identity::run::LinkRun,
    merged: u64,
    attached: u64,
) -> crate::data::integrate::quality::IdentityReport {
    use crate::data::integrate::quality::{IdentityInput, IdentityReport};
    let l = &run.linked;
    let r = l.records();
    let c = &l.clusters;
    let inputs = run
        .inputs
        .iter()
        .enumerate()
        .map(|(k, (path, _))| {
            let range = r.starts[k]..r.starts[k + 1];
            let linked = range
                .clone()
                .filter(|&i| c.sizes[c.person[i] as usize] > 1)
                .count() as u64;
            IdentityInput {
                name: path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                ),
                records: range.len() as u64,
                linked,
                single: range.len() as u64 - linked,
            }
        })
        .collect();
    let probs: Vec<f64> = l.accepted.iter().map(|&p| l.probabilities[p]).collect();
    let band = |lo: f64, hi: f64| probs.iter().filter(|&&p| p >= lo && p < hi).count() as u64;
    let t = l.threshold;
    let mut confidence = vec![("p >= 0.99".to_string(), band(0.99, f64::INFINITY))];
    if t < 0.99 {
        confidence.push((
            format!("{} <= p < 0.99", t.clamp(0.9, 0.99)),
            band(t.max(0.9), 0.99),
        ));
    }
    if t < 0.9 {
        confidence.push((format!("{t} <= p < 0.9"), band(t, 0.9)));
    }
    // Pairs labelled "same" below the threshold are accepted too.
    let below = band(f64::NEG_INFINITY, t);
    if below > 0 {
        confidence.push(("labelled, p below the threshold".to_string(), below));
    }
    IdentityReport {
        threshold: t,
        inputs,
        candidate_pairs: l.candidates().pairs.len() as u64,
        accepted_pairs: probs.len() as u64,
        confidence,
        mean_probability: probs.iter().sum::<f64>() / probs.len().max(1) as f64,
        people: c.sizes.len() as u64,
        linked_people: c.sizes.iter().filter(|&&s| s > 1).count() as u64,
        attached,
        customer_rows_merged: merged,
        large_clusters: c.large.len() as u64,
        blocking_recall: l.blocking_recall,
    }
}

/// The key column's values as text.
fn key_strings(df: &DataFrame, key: &str) -> Result<Vec<Option<String>>> {
    Ok(df
        .column(key)
        .and_then(|k| k.cast(&DataType::String))
        .map_err(pl("reading the customer key"))?
        .str()
        .map_err(pl("reading the customer key"))?
        .iter()
        .map(|k| k.map(str::to_string))
        .collect())
}

/// Integrates with the given per-customer aggregation engine.
pub fn integrate_with(
    ws: &Workspace,
    aggregator: &dyn CustomerAggregator,
    progress: &Progress,
) -> Result<Customer360> {
    let cancelled = || DataError::Cancelled;
    let key = ws.workspace.customer_key.clone();
    progress.start("reading customers", 6);
    let mut clock = StepClock::new();
    let prepared = aggregator.customers(ws, progress)?;
    let PreparedCustomers {
        table: df,
        key_map,
        roles: cust_roles,
        path: cust_path,
        mut report,
    } = prepared;
    let mut customers = df;

    // 3. Activity: per-customer aggregates, streamed.
    progress.check().map_err(|_| cancelled())?;
    clock.lap(&mut report, "read and clean customers");
    progress.next("aggregating activity");
    let mut inputs = Vec::new();
    for (role, cfg) in [
        (Role::Orders, &ws.sources.orders),
        (Role::Tickets, &ws.sources.tickets),
        (Role::Sessions, &ws.sources.sessions),
    ] {
        let Some(cfg) = cfg else { continue };
        // Each source named as it is read (not the step's general label, nor the last one's).
        progress.label(&format!(
            "reading {} ({})",
            role.name(),
            crate::data::integrate::file_name(&ws.resolve(cfg))
        ));
        progress.rows(0, 0);
        let scanned = aggregator.open(ws, role, cfg, progress)?;
        let path = scanned.path.clone();
        let k = ws.key_of(cfg);
        file::require_column(
            &scanned.path,
            &scanned.schema,
            &k,
            &format!("[sources.{}] key", role.name()),
        )?;
        let local = ws.engine.kind == crate::data::sources::workspace::EngineKind::Local;
        let columns = role_columns(role.name(), cfg, &scanned, local)?;
        // Rows with an identity (an order or line id) repeat only by a double export.
        let identity = role != Role::Orders
            || columns.contains_key("order_id")
            || columns.contains_key("line_id");
        let duplicates = match ws.cleaning.dedup_activity {
            Some(false) => Duplicates::Keep,
            _ if ws.cleaning.dedup_lines(identity) => Duplicates::Remove,
            _ => Duplicates::Count,
        };
        if role == Role::Orders && !columns.contains_key("date") {
            let (name, _) = cfg
                .role_column("date", role_defaults("orders"))
                .unwrap_or(("order_date".into(), false));
            file::require_column(
                &scanned.path,
                &scanned.schema,
                &name,
                "[sources.orders.columns] date",
            )?;
        }
        let date_formats = match columns.get("date") {
            Some(d) => match cfg.dates.get(d) {
                Some(f) => f.clone(),
                None if local => found_date_formats(&scanned, d),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        report.sources.push(SourceSummary {
            role: role.name().into(),
            path: path.display().to_string(),
            format: scanned.format.name().into(),
            rows: 0, // filled from the aggregate below
            columns: scanned.schema.len(),
            notes: scanned.notes.clone(),
        });
        inputs.push(ActivityInput {
            estimated_rows: scanned.estimated_rows,
            role,
            path,
            frame: scanned.frame,
            schema: scanned.schema,
            key: k,
            columns,
            date_formats,
            format: scanned.format,
            delimiter: scanned.delimiter,
            duplicates,
            tail: scanned.tail,
        });
    }
    let plan = AggregationPlan {
        inputs,
        key_map,
        invalid_lines: ws.cleaning.invalid_lines,
        customers: customers.height(),
    };
    let aggregates = aggregator.aggregate(&plan, progress)?;
    for a in &aggregates {
        report
            .timings_ms
            .push((format!("aggregate {}", a.role.name()), a.millis));
    }

    // 4. Reference date: given, or the day after the last order.
    let reference = match ws.workspace.reference_date {
        Some(d) => {
            report.reference_date_source = "from the workspace".into();
            d
        }
        None => {
            let latest = aggregates
                .iter()
                .find(|a| a.role == Role::Orders)
                .and_then(|a| max_date(&a.frame, cols360::LAST_ORDER));
            match latest {
                Some(d) => {
                    report.reference_date_source = "day after the latest order".into();
                    d + chrono::Duration::days(1)
                }
                None => {
                    report.reference_date_source = "today (no orders)".into();
                    chrono::Local::now().date_naive()
                }
            }
        }
    };
    report.reference_date = reference.to_string();

    // 5. Validity rules on customers (they need the reference date).
    progress.check().map_err(|_| cancelled())?;
    clock.lap(&mut report, "aggregate activity");
    progress.next("checking values");
    let rules = Rules {
        non_negative: &ws.cleaning.non_negative,
        not_future: &ws.cleaning.not_future,
        reference,
        policy: ws.cleaning.invalid,
    };
    let n = customers.height() as u64;
    let (df, invalid, dropped) =
        clean::apply_rules(customers, &rules, "customers").map_err(|e| match e {
            // A rule that does not fit its column is the workspace's to fix: name the file.
            DataError::Invalid(m) => DataError::Invalid(match m.strip_prefix("customers: ") {
                Some(rest) => format!("{}: {rest}", cust_path.display()),
                None => m,
            }),
            other => other,
        })?;
    report.invalid.extend(invalid);
    if dropped > 0 {
        report.step(
            "customers",
            "invalid values",
            n,
            n - dropped,
            "rows dropped".into(),
        );
    }
    customers = df;

    // 6. Activity report and join onto the spine.
    clock.lap(&mut report, "check values");
    progress.next("joining");
    // Each aggregate's rows placed on their customer's row by key (a left join on the key,
    // one aggregate row per customer at most; see `KeyRows`), and the rows of no customer
    // counted.
    let rows_of = KeyRows::of(customers.column(&key).map_err(pl("joining"))?)?;
    let mut columns: Vec<Column> = customers.columns().to_vec();
    let mut zero_fill = Vec::new();
    for agg in &aggregates {
        let (at, orphans) = rows_of.place(agg)?;
        report_activity(&mut report, agg, orphans);
        let taken = {
            use rayon::prelude::*;
            agg.features
                .par_iter()
                .map(|(f, _)| agg.frame.column(f).and_then(|c| c.take(&at)))
                .collect::<PolarsResult<Vec<Column>>>()
                .map_err(pl("joining"))?
        };
        for ((f, zero), c) in agg.features.iter().zip(taken) {
            // A name the table has already gets the suffix a join gives it.
            let name = if columns.iter().any(|c| c.name().as_str() == f) {
                format!("{f}_right")
            } else {
                f.clone()
            };
            columns.push(c.with_name(name.into()));
            if *zero {
                zero_fill.push(f.clone());
            }
        }
    }
    if let Some(b) = cust_roles
        .get("birth_date")
        .and_then(|b| customers.column(b).ok())
        .filter(|b| b.dtype() == &DataType::Date)
    {
        columns.push(ages(b, reference).map_err(pl("deriving ages"))?);
    }
    let mut table = DataFrame::new(customers.height(), columns)
        .map_err(pl("joining the 360 table"))?
        .lazy();
    let fills: Vec<Expr> = zero_fill
        .iter()
        .map(|c| col(c.as_str()).fill_null(lit(0)).alias(c.as_str()))
        .collect();
    if !fills.is_empty() {
        table = table.with_columns(fills);
    }
    let derived = derived_columns(&customers, &cust_roles, &aggregates, reference);
    let table = table
        .with_columns(derived)
        .collect()
        .map_err(pl("joining the 360 table"))?;
    // The inputs of the join are in the table now; free them before the steps that copy it.
    let customer_width = customers.width();
    drop(customers);
    drop(aggregates);
    // One row per customer in key order: a database returns rows in no particular order, and
    // the same data must give the same table whatever it was read from. A table already in
    // key order (files usually are) is not copied.
    let in_order = table
        .column(&key)
        .and_then(|c| c.as_materialized_series().is_sorted(SortOptions::default()))
        .unwrap_or(false);
    let table = if in_order {
        table
    } else {
        table
            .sort(
                [key.as_str()],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .map_err(pl("ordering the 360 table"))?
    };
    let table = order_columns(table, customer_width)?;

    // 7. Missing values by policy.
    clock.lap(&mut report, "join");
    progress.next("filling missing values");
    let n = table.height() as u64;
    let mut policies = ws.cleaning.missing.clone();
    if ws.lenient {
        policies.retain(|c, _| {
            let known = table.column(c).is_ok();
            if !known {
                report.warnings.push(format!(
                    "[cleaning.missing] `{c}`: no such column in the customer-360 table (was its source left out?); ignored"
                ));
            }
            known
        });
    }
    let (table, missing, dropped) = clean::fill_missing(table, &policies)?;
    report.missing = missing;
    if dropped > 0 {
        report.step(
            "customer 360",
            "missing values (drop policy)",
            n,
            n - dropped,
            String::new(),
        );
    }
    report.customers_out = table.height() as u64;
    report.columns_out = table.width();
    report.customers_without_orders = match table.column(cols360::FREQUENCY) {
        Ok(f) => f
            .as_materialized_series()
            .equal(0)
            .map(|m| m.sum().unwrap_or(0) as u64)
            .unwrap_or(0),
        Err(_) => 0,
    };
    clock.lap(&mut report, "fill missing values");
    progress.next("done");
    Ok(Customer360 {
        table,
        key,
        reference_date: reference,
        report,
    })
}

/// A source's file name for progress labels (the whole path is in the quality report).
pub(crate) fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn max_date(df: &DataFrame, c: &str) -> Option<NaiveDate> {
    let s = df.column(c).ok()?;
    let days = s.date().ok()?.physical().max()?;
    Some(from_epoch_days(days))
}

fn sum_column(df: &DataFrame, c: &str) -> u64 {
    df.column(c)
        .ok()
        .and_then(|s| s.cast(&DataType::UInt64).ok())
        .and_then(|s| s.u64().ok().map(|v| v.sum().unwrap_or(0)))
        .unwrap_or(0)
}

/// The activity steps of one source in the report; `orphans`: its rows kept for customers the
/// customers source does not have.
fn report_activity(report: &mut QualityReport, agg: &RoleAggregate, orphans: u64) {
    let role = agg.role.name();
    let read = sum_column(&agg.frame, READ);
    let distinct = sum_column(&agg.frame, DISTINCT);
    let kept = sum_column(&agg.frame, KEPT);
    if let Some(s) = report.sources.iter_mut().find(|s| s.role == role) {
        s.rows = read;
    }
    let dups = read - distinct;
    match agg.role {
        Role::Orders => {
            report.duplicates.order_lines = dups;
            report.duplicates.order_lines_kept = agg.duplicates != Duplicates::Remove;
        }
        Role::Tickets => report.duplicates.tickets = dups,
        Role::Sessions => report.duplicates.sessions = dups,
    }
    // Rows left after the duplicates step: the distinct ones, or all when repeats are kept.
    let after = match agg.duplicates {
        Duplicates::Remove => {
            report.step(role, "exact duplicates", read, distinct, "removed".into());
            distinct
        }
        Duplicates::Count => {
            report.step(
                role,
                "exact duplicates",
                read,
                read,
                format!(
                    "{dups} identical lines kept as repeat purchases: no order or line id tells a double export from two equal purchases (dedup_activity = true removes them)"
                ),
            );
            read
        }
        Duplicates::Keep => {
            report.step(
                role,
                "exact duplicates",
                read,
                read,
                "kept (dedup_activity = false)".into(),
            );
            read
        }
    };
    report.step(role, "invalid values", after, kept, String::new());
    report.step(
        role,
        "unknown customer",
        kept,
        kept - orphans,
        format!("{orphans} rows for customers not in the customers source"),
    );
    report.orphans.push((role.into(), orphans));
    for (count_col, column, rule, action) in &agg.rules {
        let n = sum_column(&agg.frame, count_col);
        if n > 0 {
            report.invalid.push(InvalidCount {
                source: role.into(),
                column: column.clone(),
                rule: rule.clone(),
                count: n,
                action: action.clone(),
            });
        }
    }
}

/// The rows of the 360 table by their key, to place each aggregate's rows on (a left join on
/// the key, one aggregate row per customer at most). Keys in ascending order on both sides
/// (customers files usually are; the state keeps the per-customer tables sorted) are placed
/// by one merge of the two; otherwise by the key's fingerprint in a hash table.
struct KeyRows {
    keys: StringChunked,
    /// The keys ascending, none missing.
    sorted: bool,
    rows: std::sync::OnceLock<PrintRows>,
}

type PrintRows =
    std::collections::HashMap<u128, IdxSize, std::hash::BuildHasherDefault<dedup::Fingerprint>>;

/// Whether the present values of `keys` are in ascending order.
pub(crate) fn ascending(keys: &StringChunked) -> bool {
    let mut last: Option<&str> = None;
    for k in keys.iter().flatten() {
        if last.is_some_and(|l| l > k) {
            return false;
        }
        last = Some(k);
    }
    true
}

impl KeyRows {
    fn of(keys: &Column) -> Result<KeyRows> {
        let fail = pl("joining");
        let keys = keys
            .cast(&DataType::String)
            .map_err(&fail)?
            .str()
            .map_err(&fail)?
            .rechunk()
            .into_owned();
        let sorted = keys.null_count() == 0 && ascending(&keys);
        Ok(KeyRows {
            keys,
            sorted,
            rows: std::sync::OnceLock::new(),
        })
    }

    /// The rows by key fingerprint (built on first use).
    fn by_print(&self) -> Result<&PrintRows> {
        if let Some(rows) = self.rows.get() {
            return Ok(rows);
        }
        let keys = self.keys.clone().into_column();
        let prints = dedup::column_fingerprints(&keys).map_err(pl("joining"))?;
        let mut rows = PrintRows::with_capacity_and_hasher(prints.len(), Default::default());
        for (i, (p, k)) in prints.iter().zip(self.keys.iter()).enumerate() {
            if k.is_some() {
                rows.insert(*p, i as IdxSize);
            }
        }
        Ok(self.rows.get_or_init(|| rows))
    }

    /// For each row of the table, the row of `agg` with the same key (null where there is
    /// none), and the rows `agg` kept for keys the table does not have.
    fn place(&self, agg: &RoleAggregate) -> Result<(IdxCa, u64)> {
        use rayon::prelude::*;
        let fail = pl("counting unknown customers");
        let keys = agg
            .frame
            .column(KEY)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(&fail)?;
        let keys = keys.str().map_err(&fail)?;
        let kept = agg
            .frame
            .column(KEPT)
            .and_then(|c| c.cast(&DataType::UInt64))
            .map_err(&fail)?;
        let kept = kept.u64().map_err(&fail)?;
        let twice = || {
            DataError::Invalid(format!(
                "{}: a customer has two rows in its per-customer table",
                agg.role.name()
            ))
        };
        let mut at: Vec<Option<IdxSize>> = vec![None; self.keys.len()];
        let mut orphans = 0;
        if self.sorted && ascending(keys) {
            // One merge: both in ascending order.
            let mut customers = self.keys.iter().flatten().enumerate().peekable();
            let mut last: Option<&str> = None;
            for (j, (k, n)) in keys.iter().zip(kept.iter()).enumerate() {
                let Some(k) = k else {
                    orphans += n.unwrap_or(0);
                    continue;
                };
                if last == Some(k) {
                    return Err(twice());
                }
                last = Some(k);
                while customers.next_if(|(_, c)| *c < k).is_some() {}
                match customers.next_if(|(_, c)| *c == k) {
                    Some((i, _)) => at[i] = Some(j as IdxSize),
                    None => orphans += n.unwrap_or(0),
                }
            }
        } else {
            let rows = self.by_print()?;
            let prints = dedup::column_fingerprints(&keys.clone().into_column()).map_err(&fail)?;
            let present: Vec<bool> = keys.iter().map(|k| k.is_some()).collect();
            let found: Vec<Option<IdxSize>> = prints
                .par_iter()
                .zip(present.par_iter())
                .map(|(p, k)| if *k { rows.get(p).copied() } else { None })
                .collect();
            for (j, (row, n)) in found.iter().zip(kept.iter()).enumerate() {
                match row {
                    Some(i) => {
                        if at[*i as usize].replace(j as IdxSize).is_some() {
                            return Err(twice());
                        }
                    }
                    None => orphans += n.unwrap_or(0),
                }
            }
        }
        Ok((
            IdxCa::from_iter_options(PlSmallStr::EMPTY, at.into_iter()),
            orphans,
        ))
    }
}

fn days_between(later: Expr, earlier: Expr) -> Expr {
    later.cast(DataType::Int32).cast(DataType::Int64)
        - earlier.cast(DataType::Int32).cast(DataType::Int64)
}

/// RFM and the other derived features.
fn derived_columns(
    customers: &DataFrame,
    roles: &BTreeMap<String, String>,
    aggregates: &[RoleAggregate],
    reference: NaiveDate,
) -> Vec<Expr> {
    let ref_lit = || lit(epoch_days(reference));
    let has_orders = aggregates.iter().any(|a| a.role == Role::Orders);
    let is_date = |c: &str| {
        customers
            .column(c)
            .map(|s| s.dtype() == &DataType::Date)
            .unwrap_or(false)
    };
    let mut out = Vec::new();
    if has_orders {
        out.push(days_between(ref_lit(), col(cols360::LAST_ORDER)).alias(cols360::RECENCY));
        out.push(
            when(col(cols360::FREQUENCY).gt(lit(0)))
                .then(col(cols360::MONETARY) / col(cols360::FREQUENCY).cast(DataType::Float64))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(cols360::AVG_ORDER_VALUE),
        );
    }
    // Tenure: days since sign-up, or since the first order when the sign-up date is missing.
    let signup = roles.get("signup_date").filter(|c| is_date(c));
    let start = match (signup, has_orders) {
        (Some(s), true) => Some(coalesce(&[col(s.as_str()), col(cols360::FIRST_ORDER)])),
        (Some(s), false) => Some(col(s.as_str())),
        (None, true) => Some(col(cols360::FIRST_ORDER)),
        (None, false) => None,
    };
    if let Some(start) = start {
        out.push(days_between(ref_lit(), start).alias(cols360::TENURE));
    }
    out
}

/// Whole years from each birth date to `reference` (the age on that day: one less when the
/// birthday is later in the year). Computed on the days since 1970 with the civil-calendar
/// arithmetic of `civil_from_days`, not a calendar date per row (five times as fast on a
/// million customers).
fn ages(birth: &Column, reference: NaiveDate) -> PolarsResult<Column> {
    use chrono::Datelike as _;
    let (ry, rmd) = (reference.year(), reference.month() * 100 + reference.day());
    let days = birth.date()?.physical();
    let age: Int64Chunked = days
        .iter()
        .map(|d| {
            d.map(|d| {
                let (y, m, day) = civil_from_days(d as i64);
                (ry as i64 - y) - i64::from(m * 100 + day > rmd)
            })
        })
        .collect();
    Ok(age.with_name(cols360::AGE.into()).into_column())
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Customer columns first, then the derived features in a fixed, readable order.
fn order_columns(table: DataFrame, n_customer_cols: usize) -> Result<DataFrame> {
    let names: Vec<String> = table
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let preferred = [
        cols360::AGE,
        cols360::TENURE,
        cols360::RECENCY,
        cols360::FREQUENCY,
        cols360::MONETARY,
        cols360::AVG_ORDER_VALUE,
        cols360::DISTINCT_CATEGORIES,
        cols360::FIRST_ORDER,
        cols360::LAST_ORDER,
        "tickets",
        "satisfaction_mean",
        "resolution_hours_mean",
        "last_ticket",
        "sessions",
        "pages_mean",
        "duration_mean_s",
        "last_session",
    ];
    let mut order: Vec<String> = names[..n_customer_cols].to_vec();
    for p in preferred {
        if names.iter().any(|n| n == p) && !order.iter().any(|o| o == p) {
            order.push(p.to_string());
        }
    }
    for n in &names {
        if !order.contains(n) {
            order.push(n.clone());
        }
    }
    table.select(order).map_err(pl("ordering columns"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    /// The civil date of every day from 1600 to 2400 is chrono's, and ages are whole years
    /// as counted by hand (a birthday later in the year: one less; 29 February; before 1970).
    #[test]
    fn ages_from_days_agree_with_the_calendar() {
        use chrono::Datelike as _;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for z in -135_000..158_000i64 {
            let d = epoch + chrono::Duration::days(z);
            assert_eq!(
                civil_from_days(z),
                (d.year() as i64, d.month(), d.day()),
                "{d}"
            );
        }
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let births = Series::new(
            "b".into(),
            [
                Some(crate::data::dates::epoch_days(day(1980, 6, 15))),
                Some(crate::data::dates::epoch_days(day(1980, 6, 16))),
                Some(crate::data::dates::epoch_days(day(1980, 6, 14))),
                Some(crate::data::dates::epoch_days(day(1960, 2, 29))),
                Some(crate::data::dates::epoch_days(day(1900, 12, 31))),
                None,
            ],
        )
        .cast(&DataType::Date)
        .unwrap()
        .into_column();
        let got = ages(&births, day(2024, 6, 15)).unwrap();
        let got: Vec<Option<i64>> = got.i64().unwrap().iter().collect();
        assert_eq!(
            got,
            [Some(44), Some(43), Some(44), Some(64), Some(123), None]
        );
        let on_28th = ages(&births, day(2023, 2, 28)).unwrap();
        assert_eq!(on_28th.i64().unwrap().get(3), Some(62));
    }

    /// Placing each aggregate row on its customer's row by the key's fingerprint is the left
    /// join polars makes on the key: the customers' order kept, nulls for a customer without
    /// activity; the rows of keys the customers do not have (and of a missing key) are left
    /// out and counted.
    #[test]
    fn placing_by_fingerprint_equals_a_left_join() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for round in 0..60 {
            let n: usize = rng.gen_range(0..400);
            let mut ids: Vec<String> = (0..n).map(|i| format!("C{i:04}")).collect();
            // Customers in key order (placed by a merge when the aggregate is too) or not
            // (by fingerprint).
            if round % 2 == 0 {
                ids.shuffle(&mut rng);
            }
            let customers = df!("id" => &ids, "age" => (0..n as i64).collect::<Vec<_>>()).unwrap();
            // Some customers' keys, some unknown ones, a missing one; in any order.
            let mut keys: Vec<Option<String>> = ids
                .iter()
                .filter(|_| rng.gen_bool(0.6))
                .map(|k| Some(k.clone()))
                .collect();
            keys.extend((0..rng.gen_range(0..20)).map(|i| Some(format!("X{i}"))));
            if round % 3 == 0 {
                keys.push(None);
            }
            if round % 4 < 2 {
                keys.shuffle(&mut rng);
            } else {
                keys.sort();
            }
            let m = keys.len();
            let kept: Vec<u64> = (0..m).map(|_| rng.gen_range(1..9)).collect();
            let f: Vec<Option<f64>> = (0..m)
                .map(|_| rng.gen_bool(0.9).then(|| rng.gen_range(-5.0..5.0)))
                .collect();
            let frame = df!(KEY => &keys, KEPT => &kept, "spent" => &f).unwrap();
            let agg = RoleAggregate {
                role: Role::Orders,
                millis: 0.0,
                path: "orders.csv".into(),
                frame: frame.clone(),
                rules: Vec::new(),
                features: vec![("spent".into(), false)],
                duplicates: Duplicates::Keep,
            };
            let (at, orphans) = KeyRows::of(customers.column("id").unwrap())
                .unwrap()
                .place(&agg)
                .unwrap();
            let got = frame.column("spent").unwrap().take(&at).unwrap();
            let want = customers
                .clone()
                .lazy()
                .join(
                    frame
                        .clone()
                        .lazy()
                        .select([col(KEY).alias("id"), col("spent")]),
                    [col("id")],
                    [col("id")],
                    JoinArgs {
                        maintain_order: MaintainOrderJoin::Left,
                        ..JoinArgs::new(JoinType::Left)
                    },
                )
                .collect()
                .unwrap();
            assert_eq!(want.column("id").unwrap(), customers.column("id").unwrap());
            assert!(
                got.as_materialized_series()
                    .equals_missing(want.column("spent").unwrap().as_materialized_series()),
                "round {round}"
            );
            let unknown: u64 = keys
                .iter()
                .zip(&kept)
                .filter(|(k, _)| k.as_ref().is_none_or(|k| !ids.contains(k)))
                .map(|(_, n)| n)
                .sum();
            assert_eq!(orphans, unknown, "round {round}");
        }
    }

    /// A customer with two rows in an aggregate is an error, not a silent pick of one
    /// (placed by a merge or by fingerprint).
    #[test]
    fn a_key_twice_in_an_aggregate_is_refused() {
        for ids in [["a", "b"], ["b", "a"]] {
            let customers = df!("id" => ids).unwrap();
            let agg = RoleAggregate {
                role: Role::Tickets,
                millis: 0.0,
                path: "t.csv".into(),
                frame: df!(KEY => ["b", "b"], KEPT => [1u64, 1]).unwrap(),
                rules: Vec::new(),
                features: Vec::new(),
                duplicates: Duplicates::Keep,
            };
            let err = KeyRows::of(customers.column("id").unwrap())
                .unwrap()
                .place(&agg)
                .unwrap_err()
                .to_string();
            assert!(err.contains("tickets") && err.contains("two rows"), "{err}");
        }
    }
}
