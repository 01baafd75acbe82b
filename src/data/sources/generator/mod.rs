//! A deterministic, realistic and deliberately messy CRM data set with its ground truth.
//!
//! `generate` writes, into one folder:
//! - `customers.csv`: one row per customer plus ~3% duplicate rows (exact copies, re-exports
//!   that differ only in case/whitespace and carry a newer `updated_at`, stale copies with an
//!   older `updated_at` and another city and/or income), stray spaces, mixed-case emails,
//!   missing genders and incomes, a few negative incomes and future birth dates, and dates in
//!   two formats (`YYYY-MM-DD` and `DD/MM/YYYY`);
//! - `orders.csv`: one row per order line, 2023-01-01..2024-12-31, sorted by date then order
//!   id, with planted co-purchase rules within orders, planted follow-ups across a
//!   customer's orders (a laptop, then a monitor), customer tastes (a favourite category),
//!   and a few bad quantities, unknown customers and exact duplicate lines;
//! - `support_tickets.ndjson` and `web_sessions.parquet`;
//! - `ground_truth.json` ([`GroundTruth`]) and `ground_truth_customers.csv` (true segment,
//!   recency, frequency, monetary, churn probability and favourite category of every
//!   customer);
//! - `crmlens.toml`, the workspace that reads them.
//!
//! Customers follow latent segments (VIP, loyal, occasional, bargain, lapsed) that drive
//! their orders, tickets, sessions and churn. Every customer draws from its own random
//! stream (ChaCha8, stream = index + 1; stream 0 is for data not tied to a customer), and
//! every number is computed with platform-independent arithmetic, so the same
//! `(customers, seed)` gives byte-identical files on any machine and any thread count.

mod catalog;
mod customer;
mod loyalty;
mod sample;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::prelude::*;

use crate::data::write::AtomicFile;

use self::catalog::{
    CATEGORIES, DEVICES, PLANTED, PRODUCTS, SEGMENT_NAMES, TICKET_CHANNELS, TICKET_TOPICS,
};
use self::customer::{
    Chunk, DupKind, LAST_DAY, LineRec, OrderRec, PendingDup, SessionRec, TicketRec, World, simulate,
};
use self::sample::{Rand, chance, exp, index, int, ln, normal, poisson};
use crate::data::error::{DataError, Result};

/// The files [`generate`] writes into its folder (each atomically).
pub const FILES: [&str; 9] = [
    "customers.csv",
    "loyalty_members.csv",
    "ground_truth_identity.csv",
    "ground_truth_customers.csv",
    "orders.csv",
    "support_tickets.ndjson",
    "web_sessions.parquet",
    "ground_truth.json",
    "crmlens.toml",
];

/// What to generate, and where.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Number of true (distinct) customers.
    pub customers: usize,
    pub seed: u64,
    pub out_dir: PathBuf,
    /// Multiplies every customer's order rate: more order lines for the same customers
    /// (1 for the sample and its ground truth).
    pub order_scale: f64,
}

/// What the generator planted, written as `ground_truth.json`. Counts describe the files
/// exactly as written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroundTruth {
    /// Number of true customers (ids `C000001`..).
    pub customers: usize,
    pub seed: u64,
    /// Recency is measured to this date (`YYYY-MM-DD`).
    pub reference_date: String,
    /// First and last possible order date.
    pub span_start: String,
    pub span_end: String,
    /// True customers per latent segment (vip, loyal, occasional, bargain, lapsed).
    pub segment_counts: BTreeMap<String, usize>,
    /// Rows in customers.csv: `customers` plus the duplicate rows.
    pub customer_rows_written: usize,
    pub duplicates: Duplicates,
    /// Customers whose current record has a negative income.
    pub negative_income_ids: Vec<String>,
    /// Customers whose birth date is after the reference date.
    pub future_birth_ids: Vec<String>,
    /// Current records (one per customer) with an empty income / gender.
    pub missing_income: usize,
    pub missing_gender: usize,
    /// True customers without any order line.
    pub customers_without_orders: usize,
    /// Data rows in orders.csv.
    /// = valid + non-positive quantity + orphan + duplicate lines.
    pub order_lines_written: usize,
    /// Distinct order ids in orders.csv (orphan orders included).
    pub orders_written: usize,
    /// Lines of known customers with quantity > 0, each counted once.
    pub valid_order_lines: usize,
    /// Lines with quantity 0 or negative (never duplicated, never orphans).
    pub nonpositive_quantity_lines: usize,
    /// Lines whose customer id is unknown (beyond N, or malformed like `C0X1234`).
    pub orphan_order_lines: usize,
    pub orphan_orders: usize,
    /// Extra copies: lines written a second time, byte for byte (always valid lines).
    pub duplicate_order_lines: usize,
    pub tickets_written: usize,
    /// Tickets whose customer id is unknown.
    pub orphan_tickets: usize,
    /// Tickets with `"satisfaction":null`.
    pub missing_satisfaction: usize,
    pub sessions_written: usize,
    pub churned: usize,
    pub churn_rate: f64,
    /// AUC of the true churn probability against the drawn outcome: the best any model can do.
    pub churn_auc_true_probability: f64,
    pub planted_rules: Vec<PlantedRule>,
    /// Cross-order patterns: once a customer has bought `trigger`, each later order adds
    /// `follow_up` with `per_order_probability` until they have it.
    pub planted_follow_ups: Vec<PlantedFollowUp>,
    /// Share of customers with a favourite category (column `favourite_category` of
    /// ground_truth_customers.csv), whose products weigh `favourite_category_boost` times
    /// more in their orders.
    pub favourite_category_share: f64,
    pub favourite_category_boost: f64,
    /// Rows of loyalty_members.csv (the second customer source, without customer ids; which
    /// customer each member is, is in ground_truth_identity.csv).
    #[serde(default)]
    pub loyalty_members_written: usize,
    /// Members in no customer row.
    #[serde(default)]
    pub loyalty_members_only: usize,
}

/// A planted follow-up purchase across orders (see [`GroundTruth::planted_follow_ups`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlantedFollowUp {
    pub trigger: String,
    pub follow_up: String,
    pub per_order_probability: f64,
}

/// Duplicate customer rows, by kind. Each listed id has exactly one extra row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Duplicates {
    /// An identical line.
    pub exact: usize,
    /// Same values up to case and whitespace in name and email, newer `updated_at`:
    /// the record to keep (its normalised values equal the original's).
    pub reexport: usize,
    /// Older `updated_at` with another city and/or income: the original is the one to keep.
    pub stale: usize,
    pub ids_exact: Vec<String>,
    pub ids_reexport: Vec<String>,
    pub ids_stale: Vec<String>,
}

/// A planted association rule: of the orders containing every `antecedent` product, the
/// intended share `confidence` also contain every `consequent` product.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlantedRule {
    pub antecedent: Vec<String>,
    pub consequent: Vec<String>,
    pub confidence: f64,
    /// Orders in orders.csv (any line, orphans included) containing the antecedent.
    pub antecedent_orders: usize,
    /// Of those, the share also containing the consequent.
    pub observed_confidence: f64,
}

const REFERENCE_DATE: &str = "2025-01-01";
const CUSTOMERS_HEADER: &str = "customer_id,name,email,phone,gender,birth_date,city,signup_date,income,channel,updated_at,churned\n";
const ORDERS_HEADER: &str =
    "order_id,customer_id,order_date,product,category,quantity,unit_price\n";
const TRUTH_HEADER: &str =
    "customer_id,segment,recency_days,frequency,monetary,churn_probability,favourite_category\n";
/// Seconds from the Unix epoch to 2023-01-01T00:00:00.
const EPOCH_2023: i64 = 1_672_531_200;
const CHUNK_CUSTOMERS: usize = 2048;
const SESSION_BATCH_ROWS: usize = 262_144;
const P_ORPHAN_LINE: f64 = 0.002;
const P_ORPHAN_TICKET: f64 = 0.003;

/// Generates the data set described in the module docs into `cfg.out_dir` (created if
/// needed) and returns its ground truth.
pub fn generate(cfg: &GenConfig) -> Result<GroundTruth> {
    if cfg.customers == 0 || cfg.customers > 99_999_999 {
        return Err(DataError::Invalid(format!(
            "cannot generate {} customers: use 1 to 99999999",
            cfg.customers
        )));
    }
    let dir = &cfg.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    if !(cfg.order_scale > 0.0 && cfg.order_scale <= 1000.0) {
        return Err(DataError::Invalid(format!(
            "order scale {}: use a number above 0 and at most 1000",
            cfg.order_scale
        )));
    }
    let mut world = World::new(cfg.seed, cfg.customers as u32);
    world.order_scale = cfg.order_scale;
    let mut sim = merge_and_write_customers(&world, simulate_all(&world, default_threads()), dir)?;
    let orphans = add_orphans(&world, &mut sim);
    let dates = DateTable::new(&world);
    let ids = Ids {
        world: &world,
        orphans: &orphans.ids,
    };
    let (lines_written, planted_rules) =
        write_orders(&dir.join("orders.csv"), &ids, &dates, &mut sim)?;
    write_tickets(
        &dir.join("support_tickets.ndjson"),
        &ids,
        &dates,
        &mut sim.tickets,
    )?;
    write_sessions(&dir.join("web_sessions.parquet"), &world, &sim.sessions)?;

    let t = &sim.totals;
    let sorted_ids = |list: &[u32]| -> Vec<String> {
        let mut v = list.to_vec();
        v.sort_unstable();
        v.iter().map(|i| world_id(&world, *i)).collect()
    };
    let dup_ids = |kind: DupKind| -> Vec<String> {
        let v: Vec<u32> = sim
            .dups
            .iter()
            .filter(|d| d.0 == kind)
            .map(|d| d.1)
            .collect();
        sorted_ids(&v)
    };
    let (ids_exact, ids_reexport, ids_stale) = (
        dup_ids(DupKind::Exact),
        dup_ids(DupKind::Reexport),
        dup_ids(DupKind::Stale),
    );
    let n_churned = sim.churned.iter().filter(|c| **c).count();
    let truth = GroundTruth {
        customers: cfg.customers,
        seed: cfg.seed,
        reference_date: REFERENCE_DATE.into(),
        span_start: "2023-01-01".into(),
        span_end: "2024-12-31".into(),
        segment_counts: SEGMENT_NAMES
            .iter()
            .zip(t.segment_counts)
            .map(|(s, k)| (s.to_string(), k))
            .collect(),
        customer_rows_written: cfg.customers + sim.dups.len(),
        duplicates: Duplicates {
            exact: ids_exact.len(),
            reexport: ids_reexport.len(),
            stale: ids_stale.len(),
            ids_exact,
            ids_reexport,
            ids_stale,
        },
        negative_income_ids: sorted_ids(&t.negative_income),
        future_birth_ids: sorted_ids(&t.future_birth),
        missing_income: t.missing_income,
        missing_gender: t.missing_gender,
        customers_without_orders: t.without_orders,
        order_lines_written: lines_written,
        orders_written: sim.orders.len(),
        valid_order_lines: sim.valid_lines,
        nonpositive_quantity_lines: t.bad_quantity_lines,
        orphan_order_lines: orphans.lines,
        orphan_orders: orphans.orders,
        duplicate_order_lines: t.duplicate_lines,
        tickets_written: sim.tickets.len(),
        orphan_tickets: orphans.tickets,
        missing_satisfaction: sim.tickets.iter().filter(|t| t.satisfaction == 0).count(),
        sessions_written: sim.sessions.len(),
        churned: n_churned,
        churn_rate: round4(n_churned as f64 / cfg.customers as f64),
        churn_auc_true_probability: round4(sample::auc(&sim.churn_p, &sim.churned)),
        planted_rules,
        planted_follow_ups: catalog::FOLLOW_UPS
            .iter()
            .map(|f| PlantedFollowUp {
                trigger: f.trigger.into(),
                follow_up: f.follow_up.into(),
                per_order_probability: f.per_order,
            })
            .collect(),
        favourite_category_share: catalog::P_FAVOURITE,
        favourite_category_boost: catalog::FAVOURITE_BOOST,
        loyalty_members_written: sim.members.0,
        loyalty_members_only: sim.members.1,
    };
    let json = serde_json::to_string_pretty(&truth)
        .map_err(|e| DataError::Invalid(format!("cannot serialise the ground truth: {e}")))?;
    write_file(
        &dir.join("ground_truth.json"),
        format!("{json}\n").as_bytes(),
    )?;
    write_file(
        &dir.join("crmlens.toml"),
        crate::data::sources::workspace::sample_workspace_toml().as_bytes(),
    )?;
    Ok(truth)
}

/// Counters summed over the chunks.
#[derive(Default)]
struct Totals {
    segment_counts: [usize; 5],
    missing_income: usize,
    missing_gender: usize,
    bad_quantity_lines: usize,
    duplicate_lines: usize,
    without_orders: usize,
    negative_income: Vec<u32>,
    future_birth: Vec<u32>,
}

/// All customers' activity, in customer order.
struct Simulated {
    orders: Vec<OrderRec>,
    lines: Vec<LineRec>,
    tickets: Vec<TicketRec>,
    sessions: Vec<SessionRec>,
    churn_p: Vec<f64>,
    churned: Vec<bool>,
    /// (kind, customer) of every duplicate customer row.
    dups: Vec<(DupKind, u32)>,
    /// Lines of known customers with quantity > 0 (each once).
    valid_lines: usize,
    totals: Totals,
    /// Rows of loyalty_members.csv, and of those the members in no customer row.
    members: (usize, usize),
}

/// Concatenates the chunks and writes customers.csv (with the duplicate rows inserted) and
/// ground_truth_customers.csv.
fn merge_and_write_customers(
    world: &World,
    mut chunks: Vec<Chunk>,
    dir: &Path,
) -> Result<Simulated> {
    let total = |f: fn(&Chunk) -> usize| chunks.iter().map(f).sum::<usize>();
    let mut sim = Simulated {
        orders: Vec::with_capacity(total(|c| c.orders.len())),
        lines: Vec::with_capacity(total(|c| c.lines.len())),
        tickets: Vec::with_capacity(total(|c| c.tickets.len())),
        sessions: Vec::with_capacity(total(|c| c.sessions.len())),
        churn_p: Vec::with_capacity(world.customers as usize),
        churned: Vec::with_capacity(world.customers as usize),
        dups: Vec::new(),
        valid_lines: 0,
        totals: Totals::default(),
        members: (0, 0),
    };
    let mut pending: Vec<PendingDup> = chunks.iter_mut().flat_map(|c| c.dups.drain(..)).collect();
    let mut members: Vec<loyalty::Member> = chunks
        .iter_mut()
        .flat_map(|c| c.members.drain(..))
        .collect();
    members.sort_unstable_by_key(|m| m.number);
    {
        let mut rows = Out::create(&dir.join("loyalty_members.csv"))?;
        let mut truth = Out::create(&dir.join("ground_truth_identity.csv"))?;
        rows.put(loyalty::HEADER.as_bytes())?;
        truth.put(loyalty::TRUTH_HEADER.as_bytes())?;
        let mut line = String::new();
        for m in &members {
            line.clear();
            line.push_str(&loyalty::member_id(m.number));
            line.push(',');
            line.push_str(&m.row);
            line.push('\n');
            rows.put(line.as_bytes())?;
            line.clear();
            line.push_str(&loyalty::member_id(m.number));
            line.push(',');
            if let Some(c) = m.customer {
                world.write_id(&mut line, c);
            }
            line.push('\n');
            truth.put(line.as_bytes())?;
        }
        rows.finish()?;
        truth.finish()?;
    }
    let members_written = members.len();
    let members_only = members.iter().filter(|m| m.customer.is_none()).count();
    sim.members = (members_written, members_only);
    pending.sort_by_key(|d| (d.after, d.cust));
    let mut next_dup = 0;
    let mut row = 0u32;
    let mut customers = Out::create(&dir.join("customers.csv"))?;
    let mut truth = Out::create(&dir.join("ground_truth_customers.csv"))?;
    customers.put(CUSTOMERS_HEADER.as_bytes())?;
    truth.put(TRUTH_HEADER.as_bytes())?;
    for mut c in chunks {
        let offset = sim.lines.len() as u32;
        sim.orders.extend(c.orders.iter().map(|o| OrderRec {
            first_line: o.first_line + offset,
            ..*o
        }));
        sim.valid_lines += c.lines.iter().filter(|l| l.qty > 0).count();
        sim.lines.append(&mut c.lines);
        sim.tickets.append(&mut c.tickets);
        sim.sessions.append(&mut c.sessions);
        sim.churn_p.append(&mut c.churn_p);
        sim.churned.append(&mut c.churned);
        let t = &mut sim.totals;
        for (s, k) in t.segment_counts.iter_mut().zip(c.segment_counts) {
            *s += k;
        }
        t.missing_income += c.missing_income;
        t.missing_gender += c.missing_gender;
        t.bad_quantity_lines += c.bad_quantity_lines;
        t.duplicate_lines += c.duplicate_lines;
        t.without_orders += c.without_orders;
        t.negative_income.append(&mut c.negative_income);
        t.future_birth.append(&mut c.future_birth);
        let mut start = 0;
        for end in &c.row_ends {
            customers.put(&c.customer_rows.as_bytes()[start..*end])?;
            start = *end;
            while let Some(d) = pending.get(next_dup).filter(|d| d.after == row) {
                customers.put(d.row.as_bytes())?;
                sim.dups.push((d.kind, d.cust));
                next_dup += 1;
            }
            row += 1;
        }
        truth.put(c.truth_rows.as_bytes())?;
    }
    debug_assert_eq!(next_dup, pending.len());
    customers.finish()?;
    truth.finish()?;
    Ok(sim)
}

struct Orphans {
    /// Unknown customer ids; customer index N + k names `ids[k]`.
    ids: Vec<String>,
    lines: usize,
    orders: usize,
    tickets: usize,
}

/// Adds order lines (~0.2%) and tickets (~0.3%) of unknown customers, from the master stream.
fn add_orphans(world: &World, sim: &mut Simulated) -> Orphans {
    let n = world.customers;
    let mut r = world.master_rng();
    let r = &mut r;
    let mut o = Orphans {
        ids: Vec::new(),
        lines: 0,
        orders: 0,
        tickets: 0,
    };
    let target = ((sim.lines.len() as f64 * P_ORPHAN_LINE).round() as usize).max(1);
    while o.lines < target {
        let cust = n + o.ids.len() as u32;
        o.ids.push(orphan_id(r, world));
        let day = int(r, 0, LAST_DAY);
        let k = 1 + index(r, 3);
        let (items, m) = world.basket(r, catalog::OCCASIONAL, 0, k);
        let first_line = sim.lines.len() as u32;
        for &p in &items[..m] {
            let prod = &PRODUCTS[p as usize];
            let inflation: u64 = if day >= 365 { 1030 } else { 1000 };
            sim.lines.push(LineRec {
                product: p,
                dup: false,
                qty: 1 + poisson(r, prod.qty_extra).min(23) as i16,
                price_cents: ((prod.price_cents as u64 * inflation + 500) / 1000) as u32,
            });
        }
        sim.orders.push(OrderRec {
            day: day as u16,
            n_lines: m as u8,
            cust,
            first_line,
        });
        o.lines += m;
        o.orders += 1;
    }
    o.tickets = ((sim.tickets.len() as f64 * P_ORPHAN_TICKET).round() as usize).max(1);
    for _ in 0..o.tickets {
        let cust = n + o.ids.len() as u32;
        o.ids.push(orphan_id(r, world));
        let day = int(r, 0, LAST_DAY);
        let hours = exp(ln(10.0) + normal(r)).clamp(0.2, 500.0);
        sim.tickets.push(TicketRec {
            secs: (day * 86_400 + int(r, 8 * 3600, 21 * 3600 - 1)) as u32,
            cust,
            channel: index(r, 3) as u8,
            topic: index(r, 5) as u8,
            satisfaction: if chance(r, 0.1) {
                0
            } else {
                1 + index(r, 5) as u8
            },
            resolution_tenths: ((hours * 10.0).round() as u32).max(1),
        });
    }
    o
}

/// Writes the customer id of index `c` (known or orphan).
struct Ids<'a> {
    world: &'a World,
    orphans: &'a [String],
}

impl Ids<'_> {
    fn write(&self, out: &mut String, c: u32) {
        if c < self.world.customers {
            self.world.write_id(out, c);
        } else {
            out.push_str(&self.orphans[(c - self.world.customers) as usize]);
        }
    }
}

/// Writes orders.csv sorted by date then order id (ids are numbered in that order); returns
/// the number of lines written and the planted rules as measured in the file.
fn write_orders(
    path: &Path,
    ids: &Ids,
    dates: &DateTable,
    sim: &mut Simulated,
) -> Result<(usize, Vec<PlantedRule>)> {
    sim.orders.sort_by_key(|o| o.day);
    let width = sim.orders.len().to_string().len().max(7);
    let rules = planted_rules_spec();
    let mut counts = vec![(0usize, 0usize); rules.len()];
    let mut out = Out::create(path)?;
    out.put(ORDERS_HEADER.as_bytes())?;
    let mut buf = String::with_capacity(256);
    let mut head = String::with_capacity(64);
    let mut written = 0;
    for (j, o) in sim.orders.iter().enumerate() {
        head.clear();
        let _ = write!(head, "O{:0width$},", j + 1);
        ids.write(&mut head, o.cust);
        head.push(',');
        head.push_str(dates.iso(o.day as i64));
        let mut mask = 0u64;
        let first = o.first_line as usize;
        for l in &sim.lines[first..first + o.n_lines as usize] {
            let prod = &PRODUCTS[l.product as usize];
            mask |= 1 << l.product;
            buf.clear();
            let _ = writeln!(
                buf,
                "{head},{},{},{},{}.{:02}",
                prod.name,
                CATEGORIES[prod.category],
                l.qty,
                l.price_cents / 100,
                l.price_cents % 100,
            );
            let copies = if l.dup { 2 } else { 1 };
            for _ in 0..copies {
                out.put(buf.as_bytes())?;
            }
            written += copies;
        }
        for ((ante, cons, _), (a, b)) in rules.iter().zip(counts.iter_mut()) {
            if mask & ante == *ante {
                *a += 1;
                *b += (mask & cons == *cons) as usize;
            }
        }
    }
    out.finish()?;
    let planted = rules
        .iter()
        .zip(&counts)
        .map(|((ante, cons, conf), (a, b))| PlantedRule {
            antecedent: product_names(*ante),
            consequent: product_names(*cons),
            confidence: *conf,
            antecedent_orders: *a,
            observed_confidence: round4(if *a > 0 { *b as f64 / *a as f64 } else { 0.0 }),
        })
        .collect();
    Ok((written, planted))
}

/// Writes support_tickets.ndjson in opening order (ticket ids are numbered in that order).
fn write_tickets(
    path: &Path,
    ids: &Ids,
    dates: &DateTable,
    tickets: &mut [TicketRec],
) -> Result<()> {
    tickets.sort_by_key(|t| t.secs);
    let width = tickets.len().to_string().len().max(6);
    let mut out = Out::create(path)?;
    let mut buf = String::with_capacity(256);
    for (j, t) in tickets.iter().enumerate() {
        buf.clear();
        let _ = write!(
            buf,
            "{{\"ticket_id\":\"T{:0width$}\",\"customer_id\":\"",
            j + 1
        );
        ids.write(&mut buf, t.cust);
        let s = t.secs % 86_400;
        let _ = write!(
            buf,
            "\",\"opened_at\":\"{}T{:02}:{:02}:{:02}\",\"channel\":\"{}\",\"topic\":\"{}\",\"satisfaction\":",
            dates.iso((t.secs / 86_400) as i64),
            s / 3600,
            s / 60 % 60,
            s % 60,
            TICKET_CHANNELS[t.channel as usize],
            TICKET_TOPICS[t.topic as usize],
        );
        if t.satisfaction == 0 {
            buf.push_str("null");
        } else {
            let _ = write!(buf, "{}", t.satisfaction);
        }
        let _ = writeln!(
            buf,
            ",\"resolution_hours\":{}.{}}}",
            t.resolution_tenths / 10,
            t.resolution_tenths % 10
        );
        out.put(buf.as_bytes())?;
    }
    out.finish()
}

/// Simulates every customer, in chunks spread over the available cores; the result is in
/// customer order and does not depend on the number of threads.
fn simulate_all(world: &World, threads: usize) -> Vec<Chunk> {
    let n = world.customers as usize;
    let n_chunks = n.div_ceil(CHUNK_CUSTOMERS);
    let threads = threads.clamp(1, n_chunks.max(1));
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Chunk)>> = Mutex::new(Vec::with_capacity(n_chunks));
    let work = || {
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= n_chunks {
                break;
            }
            let mut c = Chunk::default();
            for i in k * CHUNK_CUSTOMERS..((k + 1) * CHUNK_CUSTOMERS).min(n) {
                simulate(world, i as u32, &mut c);
            }
            done.lock().expect("no worker panicked").push((k, c));
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    let mut done = done.into_inner().expect("no worker panicked");
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().map(|(_, c)| c).collect()
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(8)
}

fn world_id(world: &World, i: u32) -> String {
    let mut s = String::with_capacity(12);
    world.write_id(&mut s, i);
    s
}

/// An id that matches no customer: beyond N (70%) or malformed like `C0X1234`.
fn orphan_id(r: &mut Rand, world: &World) -> String {
    if chance(r, 0.7) {
        let extra = int(r, 1, (world.customers as i64 / 20).max(50));
        format!(
            "C{:0w$}",
            world.customers as i64 + extra,
            w = world.id_width
        )
    } else {
        format!("C0X{:04}", int(r, 0, 9999))
    }
}

/// (antecedent mask, consequent mask, intended confidence) of every planted rule.
fn planted_rules_spec() -> Vec<(u64, u64, f64)> {
    let bit = |name: &str| -> u64 {
        1 << PRODUCTS
            .iter()
            .position(|p| p.name == name)
            .expect("planted product in catalogue")
    };
    let mut rules = Vec::new();
    for g in PLANTED {
        let ante = bit(g.antecedent);
        for (c, name) in g.consequents.iter().enumerate() {
            let conf: f64 = g
                .joint
                .iter()
                .filter(|(m, _)| m & (1 << c) != 0)
                .map(|(_, p)| p)
                .sum();
            rules.push((ante, bit(name), round4(conf)));
        }
        if g.consequents.len() > 1 {
            let all: u8 = (1 << g.consequents.len()) - 1;
            let conf: f64 = g
                .joint
                .iter()
                .filter(|(m, _)| *m == all)
                .map(|(_, p)| p)
                .sum();
            let cons = g.consequents.iter().fold(0, |acc, c| acc | bit(c));
            rules.push((ante, cons, round4(conf)));
        }
    }
    rules
}

fn product_names(mask: u64) -> Vec<String> {
    PRODUCTS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, p)| p.name.to_string())
        .collect()
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// ISO dates of the 731 days of the span.
struct DateTable {
    iso: Vec<[u8; 10]>,
}

impl DateTable {
    fn new(world: &World) -> Self {
        let iso = (0..=LAST_DAY)
            .map(|d| {
                let (y, m, dd) = world.ymd(d);
                let s = format!("{y:04}-{m:02}-{dd:02}");
                let mut a = [0u8; 10];
                a.copy_from_slice(s.as_bytes());
                a
            })
            .collect();
        DateTable { iso }
    }

    fn iso(&self, day: i64) -> &str {
        std::str::from_utf8(&self.iso[day as usize]).expect("ascii date")
    }
}

/// A buffered output file whose errors name the file, written atomically (it appears
/// under its name only complete, when finished).
struct Out {
    path: PathBuf,
    w: BufWriter<AtomicFile>,
}

impl Out {
    fn create(path: &Path) -> Result<Out> {
        let f = AtomicFile::create(path, true)?;
        Ok(Out {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 20, f),
        })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.w
            .write_all(bytes)
            .map_err(|e| DataError::io(&self.path, e))
    }

    fn finish(self) -> Result<()> {
        self.w
            .into_inner()
            .map_err(|e| DataError::io(&self.path, e.into_error()))?
            .commit()
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::data::write::write_atomic(path, true, |f| {
        f.write_all(bytes).map_err(|e| DataError::io(path, e))
    })
}

fn write_sessions(path: &Path, world: &World, sessions: &[SessionRec]) -> Result<()> {
    let context = || format!("writing {}", path.display());
    let frame = |rows: &[SessionRec]| -> PolarsResult<DataFrame> {
        let ids = StringChunked::from_iter_values(
            "customer_id".into(),
            rows.iter().map(|s| world_id(world, s.cust)),
        );
        let start = Int64Chunked::from_vec(
            "session_start".into(),
            rows.iter()
                .map(|s| (EPOCH_2023 + s.secs as i64) * 1_000_000)
                .collect(),
        )
        .into_datetime(TimeUnit::Microseconds, None);
        let pages = Int64Chunked::from_vec(
            "pages".into(),
            rows.iter().map(|s| s.pages as i64).collect(),
        );
        let duration = Float64Chunked::from_vec(
            "duration_s".into(),
            rows.iter()
                .map(|s| s.duration_tenths as f64 / 10.0)
                .collect(),
        );
        let device = StringChunked::from_iter_values(
            "device".into(),
            rows.iter().map(|s| DEVICES[s.device as usize]),
        );
        DataFrame::new(
            rows.len(),
            vec![
                ids.into_series().into(),
                start.into_series().into(),
                pages.into_series().into(),
                duration.into_series().into(),
                device.into_series().into(),
            ],
        )
    };
    let schema = frame(&[])
        .map_err(|e| DataError::polars(context(), e))?
        .schema()
        .clone();
    let mut bytes: Vec<u8> = Vec::new();
    let mut writer = ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(None))
        .batched(&schema)
        .map_err(|e| DataError::polars(context(), e))?;
    for rows in sessions.chunks(SESSION_BATCH_ROWS) {
        let df = frame(rows).map_err(|e| DataError::polars(context(), e))?;
        writer
            .write_batch(&df)
            .map_err(|e| DataError::polars(context(), e))?;
    }
    writer
        .finish()
        .map_err(|e| DataError::polars(context(), e))?;
    drop(writer);
    write_file(path, &bytes)
}
