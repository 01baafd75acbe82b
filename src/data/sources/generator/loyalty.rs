//! The second customer source: a loyalty programme's member list with its own ids and no
//! customer id, for identity resolution. About 70% of customers are members; their rows
//! carry what a second system really holds: typos, nicknames and initials, given and family
//! names swapped, a new family name, birth dates in another format with day and month
//! transposed or one part off, changed or mistyped e-mails, phones written differently or
//! changed, missing fields, and people who moved. About 2% of members signed up twice, and
//! about one member in five is in no customer row. `ground_truth_identity.csv` says which
//! customer each member is.
//!
//! Each customer draws from its own stream (2^40 + index), apart from the customer's own
//! stream, so customers.csv stays what it was.

use std::fmt::Write as _;

use super::catalog::{CITIES, EMAIL_DOMAINS, FEMALE_NAMES, LAST_NAMES, MALE_NAMES};
use super::customer::World;
use super::sample::{Rand, chance, index, int};

pub(crate) const HEADER: &str =
    "member_id,first_name,last_name,date_of_birth,email,mobile,town,joined\n";
pub(crate) const TRUTH_HEADER: &str = "member_id,customer_id\n";

const P_MEMBER: f64 = 0.7;
const P_TWICE: f64 = 0.02;
const P_ONLY_MEMBER: f64 = 0.2;

/// A person as the customer list has them (clean values).
pub(super) struct Person<'a> {
    pub first: &'a str,
    pub last: &'a str,
    pub birth: (i32, u32, u32),
    pub email: String,
    pub phone_digits: i64,
    pub city: &'a str,
}

/// One member row: its member number (the order rows are written in) and, for the truth,
/// the customer index it is (None: in no customer row).
pub(super) struct Member {
    pub number: u64,
    pub row: String,
    pub customer: Option<u32>,
}

/// The member id of slot `slot` (3 per customer: account, second account, member-only
/// person): a bijection of the slot, so ids are unique and not in customer order.
fn member_number(slot: u64) -> u64 {
    (slot.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995) & 0xffff_ffff
}

fn rng(w: &World, i: u32) -> Rand {
    let mut r = w.master_rng();
    r.set_stream((1u64 << 40) + i as u64);
    r
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn days_in(y: i32, m: u32) -> u32 {
    chrono::NaiveDate::from_ymd_opt(if m == 12 { y + 1 } else { y }, m % 12 + 1, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| chrono::Datelike::day(&d))
        .unwrap_or(28)
}

/// One typing slip: two neighbours swapped, a letter dropped, doubled or replaced.
fn typo(r: &mut Rand, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 3 {
        return s.to_string();
    }
    let at = int(r, 1, c.len() as i64 - 1) as usize;
    match index(r, 4) {
        0 => c.swap(at - 1, at),
        1 => {
            c.remove(at);
        }
        2 => c.insert(at, c[at]),
        _ => c[at] = (b'a' + index(r, 26) as u8) as char,
    }
    c.into_iter().collect()
}

/// The members customer `i` gives rise to, appended to `out`.
pub(super) fn members(w: &World, i: u32, p: &Person, out: &mut Vec<Member>) {
    let mut r = rng(w, i);
    let r = &mut r;
    if chance(r, P_MEMBER) {
        let accounts = if chance(r, P_TWICE) { 2 } else { 1 };
        for a in 0..accounts {
            let row = member_row(w, r, p, true);
            out.push(Member {
                number: member_number(3 * i as u64 + a),
                row,
                customer: Some(i),
            });
        }
    }
    if chance(r, P_ONLY_MEMBER) {
        let female = chance(r, 0.5);
        let first = if female {
            FEMALE_NAMES[index(r, FEMALE_NAMES.len())]
        } else {
            MALE_NAMES[index(r, MALE_NAMES.len())]
        };
        let last = LAST_NAMES[index(r, LAST_NAMES.len())];
        let y = int(r, 1940, 2006) as i32;
        let m = int(r, 1, 12) as u32;
        let d = int(r, 1, days_in(y, m) as i64) as u32;
        let other = Person {
            first,
            last,
            birth: (y, m, d),
            email: format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                int(r, 1, 999),
                EMAIL_DOMAINS[index(r, EMAIL_DOMAINS.len())]
            ),
            phone_digits: int(r, 0, 999),
            city: CITIES[index(r, CITIES.len())].0,
        };
        let row = member_row(w, r, &other, false);
        out.push(Member {
            number: member_number(3 * i as u64 + 2),
            row,
            customer: None,
        });
    }
}

/// A member row for `p` as the loyalty system has it; `copied` rows carry the second
/// system's drift (a member-only person is written as they are, in this file's formats).
fn member_row(w: &World, r: &mut Rand, p: &Person, copied: bool) -> String {
    let drift = |r: &mut Rand, prob: f64| copied && chance(r, prob);
    let mut first = p.first.to_string();
    let mut last = p.last.to_string();
    if drift(r, 0.08) {
        first = typo(r, &first);
    } else if drift(r, 0.05) && first.len() > 4 {
        // A short form: "Theodore" -> "Theo", "Samuel" -> "Sam".
        first = first.chars().take(3 + index(r, 2)).collect();
    } else if drift(r, 0.03) {
        first = first.chars().take(1).collect();
    }
    if drift(r, 0.06) {
        last = typo(r, &last);
    } else if drift(r, 0.04) {
        let mut l = LAST_NAMES[index(r, LAST_NAMES.len())];
        while l == p.last {
            l = LAST_NAMES[index(r, LAST_NAMES.len())];
        }
        last = l.to_string();
    }
    if drift(r, 0.04) {
        std::mem::swap(&mut first, &mut last);
    }
    if chance(r, 0.1) {
        first = first.to_uppercase();
        last = last.to_uppercase();
    }
    let (mut y, mut m, mut d) = p.birth;
    if drift(r, 0.03) && d <= 12 && d != m {
        std::mem::swap(&mut d, &mut m);
    } else if drift(r, 0.03) {
        match index(r, 2) {
            0 => y += if chance(r, 0.5) { 1 } else { -1 },
            _ => d = if d > 1 { d - 1 } else { d + 1 },
        }
        d = d.min(days_in(y, m));
    }
    let mut birth = String::new();
    if !drift(r, 0.06) {
        if chance(r, 0.5) {
            let _ = write!(birth, "{d} {} {y}", MONTHS[m as usize - 1]);
        } else {
            let _ = write!(birth, "{y:04}-{m:02}-{d:02}");
        }
    }
    let mut email = p.email.to_lowercase();
    if drift(r, 0.12) {
        email = format!(
            "{}{}{}@{}",
            p.first.to_lowercase().chars().next().unwrap_or('x'),
            p.last.to_lowercase(),
            int(r, 1, 99),
            EMAIL_DOMAINS[index(r, EMAIL_DOMAINS.len())]
        );
    } else if drift(r, 0.04) {
        let (local, domain) = email.split_once('@').unwrap_or((&email, ""));
        email = format!("{}@{domain}", typo(r, local));
    }
    if drift(r, 0.1) {
        email.clear();
    }
    let digits = if drift(r, 0.08) {
        int(r, 0, 999)
    } else {
        p.phone_digits
    };
    let mobile = if drift(r, 0.12) {
        String::new()
    } else if chance(r, 0.5) {
        format!("07700900{digits:03}")
    } else {
        format!("+447700900{digits:03}")
    };
    let town = if drift(r, 0.1) {
        ""
    } else if drift(r, 0.05) {
        CITIES[index(r, CITIES.len())].0
    } else {
        p.city
    };
    let (jy, jm, jd) = w.ymd(int(r, 0, 729));
    format!("{first},{last},{birth},{email},{mobile},{town},{jy:04}-{jm:02}-{jd:02}")
}

/// The member id as written.
pub(super) fn member_id(number: u64) -> String {
    format!("LM{number:010}")
}
