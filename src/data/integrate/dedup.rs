//! Row fingerprints for exact-duplicate detection in the streamed activity sources (order
//! lines, tickets, sessions) and for distinct counts of (customer, order) pairs.
//!
//! Why not polars' own `unique()`: on the benchmark set (16M order lines) a full-row
//! `unique`/`group_by` over the seven text and number columns needs ~240 bytes per distinct
//! row (4.8 GB peak, 7-10 s), past the 4 GB budget. Here each row is reduced to a 128-bit
//! fingerprint (two independently seeded xxh3 chains over the row's values) and only the
//! fingerprints are kept in a hash set: 16 bytes per distinct row. Two different rows get the
//! same fingerprint with probability about n^2 / 2^129 (about 4e-25 for 16M rows), far below
//! any other source of error, so the result is exact in practice.

use std::hash::Hasher;

use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

const SEED_A: u64 = 0x9E37_79B9_7F4A_7C15;
const SEED_B: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// Not valid UTF-8 and not 8 bytes long, so it cannot collide with a value's encoding.
const NULL_TAG: &[u8] = &[0xFF, 0x00, 0xFF];

/// A hasher for keys that are already uniformly distributed fingerprints (u128 sets and maps).
#[derive(Default)]
pub struct Fingerprint(u64);

/// A set of fingerprints (hashed by their own bits).
pub type PrintSet = std::collections::HashSet<u128, std::hash::BuildHasherDefault<Fingerprint>>;

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

fn mix(a: &mut u64, b: &mut u64, value: Option<&[u8]>) {
    let bytes = value.unwrap_or(NULL_TAG);
    *a = xxh3_64_with_seed(bytes, *a);
    *b = xxh3_64_with_seed(bytes, *b);
}

/// Folds one column's values into the per-row hash lanes.
fn fold_column(c: &Column, a: &mut [u64], b: &mut [u64]) -> PolarsResult<()> {
    let s = c.as_materialized_series();
    let dtype = s.dtype().clone();
    if dtype == DataType::String {
        for (i, v) in s.str()?.iter().enumerate() {
            mix(&mut a[i], &mut b[i], v.map(str::as_bytes));
        }
    } else if dtype.is_float() {
        let f = s.cast(&DataType::Float64)?;
        for (i, v) in f.f64()?.iter().enumerate() {
            let bytes = v.map(|x| x.to_bits().to_le_bytes());
            mix(&mut a[i], &mut b[i], bytes.as_ref().map(|x| &x[..]));
        }
    } else if dtype.is_integer() || dtype.is_temporal() || dtype == DataType::Boolean {
        let n = s.to_physical_repr().cast(&DataType::Int64)?;
        for (i, v) in n.i64()?.iter().enumerate() {
            let bytes = v.map(i64::to_le_bytes);
            mix(&mut a[i], &mut b[i], bytes.as_ref().map(|x| &x[..]));
        }
    } else {
        let t = s.cast(&DataType::String)?;
        for (i, v) in t.str()?.iter().enumerate() {
            mix(&mut a[i], &mut b[i], v.map(str::as_bytes));
        }
    }
    Ok(())
}

/// 128-bit fingerprints of the rows of `columns` (all of one length).
pub fn row_fingerprints(columns: &[Column]) -> PolarsResult<Vec<u128>> {
    let n = columns.first().map_or(0, Column::len);
    let mut a = vec![SEED_A; n];
    let mut b = vec![SEED_B; n];
    for c in columns {
        fold_column(c, &mut a, &mut b)?;
    }
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| ((*x as u128) << 64) | *y as u128)
        .collect())
}

/// [`row_fingerprints`] of one column, computed in parallel over parts of it (the same
/// values: each row's print depends on that row only).
pub fn column_fingerprints(column: &Column) -> PolarsResult<Vec<u128>> {
    use rayon::prelude::*;
    const PART: usize = 64 * 1024;
    let n = column.len();
    if n <= PART {
        return row_fingerprints(std::slice::from_ref(column));
    }
    let parts: Vec<PolarsResult<Vec<u128>>> = (0..n.div_ceil(PART))
        .into_par_iter()
        .map(|i| {
            let part = column.slice((i * PART) as i64, PART);
            row_fingerprints(std::slice::from_ref(&part))
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_values_and_columns() {
        // "ab","c" must differ from "a","bc"; a null must differ from an empty string.
        let left = [
            Column::new("x".into(), ["ab", "a"]),
            Column::new("y".into(), ["c", "bc"]),
        ];
        let p = row_fingerprints(&left).unwrap();
        assert_ne!(p[0], p[1]);
        let nulls = [Column::new("x".into(), [None, Some("")])];
        let p = row_fingerprints(&nulls).unwrap();
        assert_ne!(p[0], p[1]);
        // Same values give the same fingerprint.
        let same = [
            Column::new("x".into(), [7i64, 7]),
            Column::new("y".into(), [0.5, 0.5]),
        ];
        let p = row_fingerprints(&same).unwrap();
        assert_eq!(p[0], p[1]);
    }
}
