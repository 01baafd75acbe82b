//! One customer's life: profile, orders, support tickets, web sessions and churn, all drawn
//! from the customer's own random stream so that it does not depend on any other customer.

use std::fmt::Write as _;

use rand::SeedableRng;

use super::catalog::{
    BARGAIN, CATEGORIES, CHANNELS, CITIES, EMAIL_DOMAINS, FAVOURITE_BOOST, FEMALE_NAMES,
    FOLLOW_UPS, LAPSED, LAST_NAMES, MALE_NAMES, OCCASIONAL, P_FAVOURITE, PLANTED, PRODUCTS,
    SEGMENT_NAMES, SEGMENTS, VIP,
};
use super::sample::{
    Cdf, Rand, chance, exp, exponential, gamma_mean1, index, int, ln, normal, pick, poisson, powf,
    sigmoid, unit,
};

/// Days are counted from 2023-01-01 (day 0); the span ends 2024-12-31 (day 730).
pub(super) const LAST_DAY: i64 = 730;
/// 2025-01-01, the reference date for recency.
pub(super) const REF_DAY: i64 = 731;
const SPAN_DAYS: f64 = 731.0;

/// Churn model: logit = B0 + segment effect + W_RECENCY * years since last order
/// + W_SATISFACTION * (3 - mean satisfaction) + N(0, CHURN_NOISE).
const CHURN_B0: f64 = -2.6;
const CHURN_W_RECENCY: f64 = 1.5;
const CHURN_W_SATISFACTION: f64 = 0.7;
const CHURN_NOISE: f64 = 0.6;

/// Messiness rates.
const P_BAD_QUANTITY: f64 = 0.003;
const P_DUPLICATE_LINE: f64 = 0.0015;
const P_MESSY_TEXT: f64 = 0.03;
const P_MIXED_CASE_EMAIL: f64 = 0.05;
const P_MISSING_GENDER: f64 = 0.05;
const P_MISSING_INCOME: f64 = 0.08;
const P_NEGATIVE_INCOME: f64 = 0.005;
const P_FUTURE_BIRTH: f64 = 0.003;
const P_DMY_DATES: f64 = 0.30;
const P_MISSING_SATISFACTION: f64 = 0.10;
/// Each kind of duplicate customer row (exact, re-export, stale) is drawn with this rate.
const P_DUPLICATE_KIND: f64 = 0.01;

#[derive(Clone, Copy)]
pub(super) struct OrderRec {
    pub day: u16,
    pub n_lines: u8,
    /// Customer index (0-based); indices >= N name an orphan id.
    pub cust: u32,
    pub first_line: u32,
}

#[derive(Clone, Copy)]
pub(super) struct LineRec {
    pub product: u8,
    /// Written twice (an exact duplicate line).
    pub dup: bool,
    pub qty: i16,
    pub price_cents: u32,
}

#[derive(Clone, Copy)]
pub(super) struct TicketRec {
    /// Seconds since 2023-01-01T00:00:00.
    pub secs: u32,
    pub cust: u32,
    pub channel: u8,
    pub topic: u8,
    /// 1..=5, or 0 when missing.
    pub satisfaction: u8,
    pub resolution_tenths: u32,
}

#[derive(Clone, Copy)]
pub(super) struct SessionRec {
    pub cust: u32,
    /// Seconds since 2023-01-01T00:00:00.
    pub secs: u32,
    pub pages: u16,
    pub device: u8,
    pub duration_tenths: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum DupKind {
    Exact,
    Reexport,
    Stale,
}

/// An extra customer row, written after global row `after` (0-based, > the original's row).
pub(super) struct PendingDup {
    pub after: u32,
    pub cust: u32,
    pub kind: DupKind,
    pub row: String,
}

/// The output of a run of consecutive customers.
#[derive(Default)]
pub(super) struct Chunk {
    pub orders: Vec<OrderRec>,
    pub lines: Vec<LineRec>,
    pub tickets: Vec<TicketRec>,
    pub sessions: Vec<SessionRec>,
    pub customer_rows: String,
    pub row_ends: Vec<usize>,
    pub truth_rows: String,
    pub dups: Vec<PendingDup>,
    pub churn_p: Vec<f64>,
    pub churned: Vec<bool>,
    pub segment_counts: [usize; 5],
    pub missing_income: usize,
    pub missing_gender: usize,
    pub negative_income: Vec<u32>,
    pub future_birth: Vec<u32>,
    pub bad_quantity_lines: usize,
    pub duplicate_lines: usize,
    pub without_orders: usize,
    /// Loyalty member rows (see [`super::loyalty`]).
    pub members: Vec<super::loyalty::Member>,
}

/// Everything fixed for a run, shared (read-only) by the worker threads.
pub(super) struct World {
    pub base: Rand,
    pub customers: u32,
    /// Multiplies every customer's order rate (1 for the sample; the scale benchmarks grow
    /// order lines at a fixed number of customers with it).
    pub order_scale: f64,
    pub segment_shares: [f64; 5],
    pub id_width: usize,
    /// Product popularity per segment and taste: index `segment * TASTES + taste`, taste 0
    /// for no favourite category, 1 + c for favourite category c.
    pub product_cdf: Vec<Cdf>,
    /// (trigger, follow-up, probability per later order) of the planted follow-ups.
    pub follow_ups: Vec<(u8, u8, f64)>,
    pub city_cdf: Cdf,
    /// For each product, the planted group it is the antecedent of.
    pub antecedent_group: [Option<u8>; 64],
    /// Per planted group: antecedent index and consequent indices.
    pub groups: Vec<(u8, Vec<u8>)>,
    /// 2023-01-01 as days from the common era.
    pub base_ce: i32,
}

impl World {
    pub(super) fn new(seed: u64, customers: u32) -> World {
        let product_index = |name: &str| -> u8 {
            PRODUCTS
                .iter()
                .position(|p| p.name == name)
                .unwrap_or_else(|| panic!("planted product {name} is not in the catalogue"))
                as u8
        };
        let mut antecedent_group = [None; 64];
        let groups: Vec<(u8, Vec<u8>)> = PLANTED
            .iter()
            .enumerate()
            .map(|(g, grp)| {
                let a = product_index(grp.antecedent);
                antecedent_group[a as usize] = Some(g as u8);
                (
                    a,
                    grp.consequents.iter().map(|c| product_index(c)).collect(),
                )
            })
            .collect();
        let product_cdf = SEGMENTS
            .iter()
            .flat_map(|s| {
                (0..TASTES).map(move |taste| {
                    let weights: Vec<f64> = PRODUCTS
                        .iter()
                        .map(|p| {
                            let boost = if taste == p.category + 1 {
                                FAVOURITE_BOOST
                            } else {
                                1.0
                            };
                            powf(p.popularity, 1.5)
                                * powf(p.price_cents as f64 / 3000.0, s.price_alpha)
                                * s.category_affinity[p.category]
                                * boost
                        })
                        .collect();
                    Cdf::new(&weights)
                })
            })
            .collect();
        let follow_ups = FOLLOW_UPS
            .iter()
            .map(|f| {
                let (t, u) = (product_index(f.trigger), product_index(f.follow_up));
                let planted = |p: u8| groups.iter().any(|(a, c)| *a == p || c.contains(&p));
                assert!(
                    !planted(u),
                    "follow-up {} -> {} is part of a planted group",
                    f.trigger,
                    f.follow_up
                );
                (t, u, f.per_order)
            })
            .collect();
        let city_weights: Vec<f64> = CITIES.iter().map(|c| c.1).collect();
        let base_ce = chrono::NaiveDate::from_ymd_opt(2023, 1, 1)
            .map(|d| chrono::Datelike::num_days_from_ce(&d))
            .unwrap_or(738521);
        World {
            order_scale: 1.0,
            base: Rand::seed_from_u64(seed),
            customers,
            segment_shares: SEGMENTS.map(|s| s.share),
            id_width: id_width(customers as usize),
            product_cdf,
            follow_ups,
            city_cdf: Cdf::new(&city_weights),
            antecedent_group,
            groups,
            base_ce,
        }
    }

    /// The random stream of customer `i` (stream 0 is the master stream).
    pub(super) fn customer_rng(&self, i: u32) -> Rand {
        let mut r = self.base.clone();
        r.set_stream(i as u64 + 1);
        r
    }

    pub(super) fn master_rng(&self) -> Rand {
        self.base.clone()
    }

    /// (year, month, day) of a day counted from 2023-01-01.
    pub(super) fn ymd(&self, day: i64) -> (i32, u32, u32) {
        use chrono::Datelike;
        let d = chrono::NaiveDate::from_num_days_from_ce_opt(self.base_ce + day as i32)
            .expect("date in range");
        (d.year(), d.month(), d.day())
    }

    pub(super) fn write_id(&self, out: &mut String, cust: u32) {
        let _ = write!(out, "C{:0w$}", cust + 1, w = self.id_width);
    }

    /// Draws the distinct products of one order (1..=5 lines, planted patterns applied) for a
    /// customer of `segment` with `taste` (0, or 1 + their favourite category).
    pub(super) fn basket(
        &self,
        r: &mut Rand,
        segment: usize,
        taste: usize,
        k: usize,
    ) -> ([u8; 8], usize) {
        let mut items = [0u8; 8];
        let mut n = 0;
        let mut mask = 0u64;
        let mut anchor: Option<usize> = None;
        let mut tries = 0;
        while n < k && tries < 64 {
            tries += 1;
            let p = self.product_cdf[segment * TASTES + taste].draw(r);
            if mask & (1 << p) != 0 {
                continue;
            }
            if let Some(g) = self.antecedent_group[p] {
                if anchor.is_some() {
                    continue;
                }
                anchor = Some(g as usize);
            }
            mask |= 1 << p;
            items[n] = p as u8;
            n += 1;
        }
        if let Some(g) = anchor {
            let (ante, cons) = &self.groups[g];
            let is_cons = |p: u8| cons.contains(&p);
            // Consequents only ever come with the antecedent through the planted draw.
            let mut m = 0;
            for j in 0..n {
                if !is_cons(items[j]) {
                    items[m] = items[j];
                    m += 1;
                }
            }
            n = m;
            let mut u = unit(r);
            let mut added = 0u8;
            for (bits, prob) in PLANTED[g].joint {
                if u < *prob {
                    added = *bits;
                    break;
                }
                u -= prob;
            }
            for (c, p) in cons.iter().enumerate() {
                if added & (1 << c) != 0 {
                    items[n] = *p;
                    n += 1;
                }
            }
            // At most 5 lines: drop random extras (never the antecedent or a planted line).
            while n > 5 {
                let j = (0..n)
                    .rev()
                    .find(|j| items[*j] != *ante && !is_cons(items[*j]))
                    .expect("an extra line to drop");
                items.copy_within(j + 1..n, j);
                n -= 1;
            }
        }
        (items, n)
    }
}

/// No favourite category, or one of the categories.
const TASTES: usize = CATEGORIES.len() + 1;

/// Zero-padded width of customer ids: 6 digits, more when N needs them.
pub(super) fn id_width(n: usize) -> usize {
    n.to_string().len().max(6)
}

/// The current (correct) values of a customer row.
#[derive(Clone)]
struct Profile {
    name: String,
    email: String,
    phone: String,
    gender: &'static str,
    birth: String,
    city: String,
    signup: String,
    income: Option<i64>,
    channel: &'static str,
    updated: i64,
    churned: bool,
}

fn write_money(out: &mut String, cents: i64) {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:02}", c / 100, c % 100);
}

fn write_date(out: &mut String, (y, m, d): (i32, u32, u32), dmy: bool) {
    if dmy {
        let _ = write!(out, "{d:02}/{m:02}/{y:04}");
    } else {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    }
}

fn row(w: &World, out: &mut String, cust: u32, p: &Profile) {
    w.write_id(out, cust);
    let _ = write!(
        out,
        ",{},{},{},{},{},{},{},",
        p.name, p.email, p.phone, p.gender, p.birth, p.city, p.signup
    );
    if let Some(c) = p.income {
        write_money(out, c);
    }
    out.push(',');
    out.push_str(p.channel);
    out.push(',');
    write_date(out, w.ymd(p.updated), false);
    out.push_str(if p.churned { ",1\n" } else { ",0\n" });
}

/// Stray spaces: leading, trailing, both, or a doubled inner space.
fn messy_spaces(r: &mut Rand, s: &str) -> String {
    match index(r, 4) {
        0 => format!(" {s}"),
        1 => format!("{s} "),
        2 if s.contains(' ') => s.replacen(' ', "  ", 1),
        2 => format!("{s}  "),
        _ => format!("  {s} "),
    }
}

fn mixed_case_email(r: &mut Rand, email: &str) -> String {
    match index(r, 3) {
        0 => email.to_uppercase(),
        1 => {
            // Capitalise each dot-separated word of the local part.
            let (local, domain) = email.split_once('@').unwrap_or((email, ""));
            let cap: Vec<String> = local
                .split('.')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            format!("{}@{domain}", cap.join("."))
        }
        _ => {
            let (local, domain) = email.split_once('@').unwrap_or((email, ""));
            format!("{local}@{}", domain.to_uppercase())
        }
    }
}

fn hour_of_session(r: &mut Rand) -> i64 {
    const HOURS: [f64; 24] = [
        0.6, 0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.2, 2.0, 2.5, 2.6, 2.8, 3.4, 3.2, 2.7, 2.6, 2.7, 3.0,
        3.6, 4.4, 4.8, 4.4, 3.0, 1.5,
    ];
    pick(r, &HOURS) as i64
}

/// Simulates customer `i` into `out`.
pub(super) fn simulate(w: &World, i: u32, out: &mut Chunk) {
    let mut r = w.customer_rng(i);
    let r = &mut r;
    let seg_i = pick(r, &w.segment_shares);
    let seg = &SEGMENTS[seg_i];
    out.segment_counts[seg_i] += 1;
    let activity = gamma_mean1(r, 4);
    let taste = if chance(r, P_FAVOURITE) {
        1 + index(r, CATEGORIES.len())
    } else {
        0
    };
    let signup = int(r, seg.signup.0, seg.signup.1);
    let w0 = signup.max(0);
    let w1 = if seg_i == LAPSED {
        (w0 + 30).max(int(r, 240, 365)).min(LAST_DAY)
    } else {
        LAST_DAY
    };
    let frac = (w1 - w0 + 1) as f64 / SPAN_DAYS;

    // Orders: a Poisson process over the active window (uniform days given the count).
    let n_orders = if seg_i == OCCASIONAL && chance(r, 0.04) {
        0
    } else if seg_i == LAPSED {
        seg.min_orders + poisson(r, seg.order_rate * activity * w.order_scale)
    } else {
        seg.min_orders + poisson(r, seg.order_rate * activity * frac * w.order_scale)
    };
    let mut days: Vec<i64> = (0..n_orders).map(|_| int(r, w0, w1)).collect();
    days.sort_unstable();
    let (mut frequency, mut monetary, mut last_valid, mut last_any) = (0u32, 0i64, None, None);
    // Products bought in earlier orders, for the planted follow-ups.
    let mut bought = 0u64;
    for &day in &days {
        let k = 1 + pick(r, &seg.lines);
        let (mut items, mut n) = w.basket(r, seg_i, taste, k);
        let mut mask = items[..n].iter().fold(0u64, |m, p| m | 1 << p);
        for &(trigger, follow, p) in &w.follow_ups {
            let due = bought & (1 << trigger) != 0 && (bought | mask) & (1 << follow) == 0;
            if due && n < 5 && chance(r, p) {
                items[n] = follow;
                n += 1;
                mask |= 1 << follow;
            }
        }
        bought |= mask;
        let first_line = out.lines.len() as u32;
        let mut order_value = 0i64;
        let mut any_valid = false;
        for &p in &items[..n] {
            let prod = &PRODUCTS[p as usize];
            let mut qty = 1 + poisson(r, prod.qty_extra * seg.qty_factor).min(23) as i16;
            let inflation: u64 = if day >= 365 { 1030 } else { 1000 };
            let discount: u64 = if chance(r, seg.discount.0) {
                5 * int(r, seg.discount.1 / 5, seg.discount.2 / 5) as u64
            } else {
                0
            };
            let price_cents = ((prod.price_cents as u64 * inflation * (100 - discount) + 50_000)
                / 100_000) as u32;
            if chance(r, P_BAD_QUANTITY) {
                qty = if chance(r, 0.4) {
                    0
                } else {
                    -(int(r, 1, qty as i64) as i16)
                };
                out.bad_quantity_lines += 1;
            }
            // Only valid lines are duplicated, so the defects do not overlap.
            let dup = chance(r, P_DUPLICATE_LINE) && qty > 0;
            out.duplicate_lines += dup as usize;
            if qty > 0 {
                any_valid = true;
                order_value += qty as i64 * price_cents as i64;
            }
            out.lines.push(LineRec {
                product: p,
                dup,
                qty,
                price_cents,
            });
        }
        out.orders.push(OrderRec {
            day: day as u16,
            n_lines: n as u8,
            cust: i,
            first_line,
        });
        last_any = Some(day);
        if any_valid {
            frequency += 1;
            monetary += order_value;
            last_valid = Some(day);
        }
    }
    out.without_orders += (n_orders == 0) as usize;

    // Support tickets, mostly shortly after an order.
    let sat_base = seg.satisfaction + 0.5 * normal(r);
    let n_tickets = poisson(r, seg.ticket_rate * (0.5 + 0.5 * activity));
    let (mut sat_sum, mut sat_n) = (0.0, 0u32);
    let topic_w: [f64; 5] = if seg_i == BARGAIN {
        [0.20, 0.30, 0.20, 0.25, 0.05]
    } else {
        [0.30, 0.15, 0.25, 0.20, 0.10]
    };
    for _ in 0..n_tickets {
        let day = if !days.is_empty() && chance(r, 0.8) {
            (days[index(r, days.len())] + int(r, 0, 14)).min(LAST_DAY)
        } else {
            int(r, w0, LAST_DAY)
        };
        let secs = day * 86_400 + int(r, 8 * 3600, 21 * 3600 - 1);
        let channel = pick(r, &[0.45, 0.30, 0.25]) as u8;
        let topic = pick(r, &topic_w) as u8;
        let hours = exp(ln(10.0) + normal(r)).clamp(0.2, 500.0);
        let resolution_tenths = ((hours * 10.0).round() as u32).max(1);
        let s = (sat_base + 0.8 * normal(r) - 0.3 * ln(hours / 10.0))
            .round()
            .clamp(1.0, 5.0) as u8;
        let satisfaction = if chance(r, P_MISSING_SATISFACTION) {
            0
        } else {
            sat_sum += s as f64;
            sat_n += 1;
            s
        };
        out.tickets.push(TicketRec {
            secs: secs as u32,
            cust: i,
            channel,
            topic,
            satisfaction,
            resolution_tenths,
        });
    }

    // Web sessions.
    let s1 = if seg_i == LAPSED {
        (w1 + 90).min(LAST_DAY)
    } else {
        LAST_DAY
    };
    let n_sessions = poisson(
        r,
        seg.session_rate * activity * (s1 - w0 + 1) as f64 / SPAN_DAYS,
    );
    let start = out.sessions.len();
    for _ in 0..n_sessions {
        let day = int(r, w0, s1);
        let secs = day * 86_400 + hour_of_session(r) * 3600 + int(r, 0, 3599);
        let device = pick(r, &[0.45, 0.45, 0.10]) as u8;
        let lambda = [4.0, 2.5, 3.0][device as usize] + if seg_i == VIP { 1.5 } else { 0.0 };
        let pages = 1 + poisson(r, lambda).min(98) as u16;
        let mut duration = 0.0;
        for _ in 0..pages {
            duration += 5.0 + exponential(r, 40.0);
        }
        out.sessions.push(SessionRec {
            cust: i,
            secs: secs as u32,
            pages,
            device,
            duration_tenths: (duration * 10.0).round() as u32,
        });
    }
    let mine = &mut out.sessions[start..];
    mine.sort_by_key(|s| s.secs);
    for j in 1..mine.len() {
        if mine[j].secs <= mine[j - 1].secs {
            mine[j].secs = mine[j - 1].secs + 1;
        }
    }

    // Churn: real but imperfect signal.
    let years_since = match last_any {
        Some(d) => (REF_DAY - d) as f64 / 365.0,
        None => (REF_DAY - w0) as f64 / 365.0 + 0.5,
    };
    let mean_sat = if sat_n > 0 {
        sat_sum / sat_n as f64
    } else {
        sat_base
    };
    let logit = CHURN_B0
        + seg.churn_effect
        + CHURN_W_RECENCY * years_since
        + CHURN_W_SATISFACTION * (3.0 - mean_sat)
        + CHURN_NOISE * normal(r);
    let churn_p = sigmoid(logit);
    let churned = chance(r, churn_p);
    out.churn_p.push(churn_p);
    out.churned.push(churned);

    // Profile.
    let female = chance(r, 0.5);
    let first = if female {
        FEMALE_NAMES[index(r, FEMALE_NAMES.len())]
    } else {
        MALE_NAMES[index(r, MALE_NAMES.len())]
    };
    let last = LAST_NAMES[index(r, LAST_NAMES.len())];
    let gender = if chance(r, P_MISSING_GENDER) {
        out.missing_gender += 1;
        ""
    } else if female {
        "F"
    } else {
        "M"
    };
    let dmy = chance(r, P_DMY_DATES);
    // Aged 18..=85 on the reference date.
    let age = (seg.age + 14.0 * normal(r)).clamp(18.0, 85.9);
    let mut birth_ymd = w.ymd(REF_DAY - (age * 365.25) as i64 - 1);
    if chance(r, P_FUTURE_BIRTH) {
        // A two-digit-year mix-up: 1962 read as 2062.
        birth_ymd.0 += 100;
        if birth_ymd.1 == 2 && birth_ymd.2 == 29 {
            birth_ymd.2 = 28;
        }
        out.future_birth.push(i);
    }
    let mut birth = String::new();
    write_date(&mut birth, birth_ymd, dmy);
    let mut signup_s = String::new();
    write_date(&mut signup_s, w.ymd(signup), dmy);
    let mut name = format!("{first} {last}");
    if chance(r, P_MESSY_TEXT) {
        name = messy_spaces(r, &name);
    }
    let mut email = format!(
        "{}.{}{}@{}",
        first.to_lowercase(),
        last.to_lowercase(),
        int(r, 1, 999),
        EMAIL_DOMAINS[index(r, EMAIL_DOMAINS.len())]
    );
    if chance(r, P_MIXED_CASE_EMAIL) {
        email = mixed_case_email(r, &email);
    }
    let digits = int(r, 0, 999);
    let phone = match index(r, 3) {
        0 => format!("+44 7700 900{digits:03}"),
        1 => format!("07700 900{digits:03}"),
        _ => format!("+44 (0)7700 900{digits:03}"),
    };
    let city_i = w.city_cdf.draw(r);
    let mut city = CITIES[city_i].0.to_string();
    if chance(r, P_MESSY_TEXT) {
        city = messy_spaces(r, &city);
    }
    let income_cents = (seg.income * exp(0.35 * normal(r)) * 100.0).round() as i64;
    let u = unit(r);
    let income = if u < P_MISSING_INCOME {
        out.missing_income += 1;
        None
    } else if u < P_MISSING_INCOME + P_NEGATIVE_INCOME {
        out.negative_income.push(i);
        Some(-income_cents)
    } else {
        Some(income_cents)
    };
    let channel = CHANNELS[pick(r, &seg.channel)];
    let (lo, hi) = (signup + 1, LAST_DAY - 1);
    let updated = lo + (((hi - lo + 1) as f64) * unit(r).max(unit(r))) as i64;
    let profile = Profile {
        name,
        email,
        phone,
        gender,
        birth,
        city,
        signup: signup_s,
        income,
        channel,
        updated: updated.min(hi),
        churned,
    };
    row(w, &mut out.customer_rows, i, &profile);
    out.row_ends.push(out.customer_rows.len());
    super::loyalty::members(
        w,
        i,
        &super::loyalty::Person {
            first,
            last,
            birth: birth_ymd,
            email: profile.email.to_lowercase(),
            phone_digits: digits,
            city: CITIES[city_i].0,
        },
        &mut out.members,
    );

    // Duplicate rows, inserted later in the file (never right after the original).
    if i + 1 < w.customers {
        let u = unit(r);
        let kind = if u < P_DUPLICATE_KIND {
            Some(DupKind::Exact)
        } else if u < 2.0 * P_DUPLICATE_KIND {
            Some(DupKind::Reexport)
        } else if u < 3.0 * P_DUPLICATE_KIND {
            Some(DupKind::Stale)
        } else {
            None
        };
        if let Some(kind) = kind {
            let after = int(r, i as i64 + 1, w.customers as i64 - 1) as u32;
            let mut copy = profile.clone();
            match kind {
                DupKind::Exact => {}
                DupKind::Reexport => {
                    let clean = format!("{first} {last}");
                    let variants = [
                        format!("  {clean}"),
                        format!("{clean}  "),
                        clean.replacen(' ', "  ", 1),
                        format!(" {} ", clean.replacen(' ', "   ", 1)),
                    ];
                    let start = index(r, variants.len());
                    copy.name = (0..variants.len())
                        .map(|k| &variants[(start + k) % variants.len()])
                        .find(|v| **v != profile.name)
                        .expect("a different spelling")
                        .clone();
                    copy.email = profile.email.to_uppercase();
                    if copy.email == profile.email {
                        copy.email = profile.email.to_lowercase();
                    }
                    copy.updated = int(r, profile.updated + 1, LAST_DAY);
                }
                DupKind::Stale => {
                    copy.updated = int(r, signup, profile.updated - 1);
                    let mode = index(r, 3);
                    if mode != 1 {
                        let mut c = w.city_cdf.draw(r);
                        while c == city_i {
                            c = w.city_cdf.draw(r);
                        }
                        copy.city = CITIES[c].0.to_string();
                    }
                    if mode != 0 {
                        copy.income = Some(match profile.income {
                            Some(c) if c > 0 => (c as f64 * (0.75 + 0.2 * unit(r))).round() as i64,
                            _ => (seg.income * exp(0.35 * normal(r)) * 100.0).round() as i64,
                        });
                    }
                }
            }
            let mut text = String::new();
            row(w, &mut text, i, &copy);
            out.dups.push(PendingDup {
                after,
                cust: i,
                kind,
                row: text,
            });
        }
    }

    // Ground truth row.
    let t = &mut out.truth_rows;
    w.write_id(t, i);
    let _ = write!(t, ",{},", SEGMENT_NAMES[seg_i]);
    if let Some(d) = last_valid {
        let _ = write!(t, "{}", REF_DAY - d);
    }
    let _ = write!(t, ",{frequency},");
    write_money(t, monetary);
    let _ = write!(t, ",{churn_p:.4},");
    if taste > 0 {
        t.push_str(CATEGORIES[taste - 1]);
    }
    t.push('\n');
}
