//! The K-Means hot loops over a column-major copy of the matrix: nearest-centroid assignment
//! and distances to one candidate centre (k-means++).
//!
//! Why hand-written: an assignment pass is the whole cost of K-Means, and its natural
//! row-by-row form (for each row, for each centroid, sum over features) leaves the CPU idle
//! on a serial chain of additions and on unpredictable branches. Here [`R`] rows are taken
//! at once from contiguous columns, so each addition is independent across rows and
//! vectorises, and the running minimum is a branch-free select. On x86-64 with AVX2 the same
//! code is compiled a second time for AVX2 and picked at run time.
//!
//! Results are bit-for-bit those of the plain form: every distance is summed over the
//! features in order from 0.0, no fused multiply-add is used, ties go to the lower centroid,
//! and per-block sums and the inertia are added in row order.

/// Rows handled together in the vector loop.
pub const R: usize = 8;

/// A column-major copy of an n x d matrix: feature `t` of row `i` is `data[t * n + i]`.
#[derive(Debug, Clone)]
pub struct Columns<'a> {
    pub n: usize,
    pub d: usize,
    pub data: std::borrow::Cow<'a, [f64]>,
}

impl<'a> Columns<'a> {
    /// The matrix itself when it is already column-major (as feature matrices are), else
    /// a column-major copy.
    pub fn from_view(x: ndarray::ArrayView2<'a, f64>) -> Columns<'a> {
        let (n, d) = x.dim();
        if let Some(data) = x.reversed_axes().to_slice() {
            return Columns {
                n,
                d,
                data: std::borrow::Cow::Borrowed(data),
            };
        }
        let mut data = Vec::with_capacity(n * d);
        for col in x.columns() {
            match col.as_slice() {
                Some(s) => data.extend_from_slice(s),
                None => data.extend(col.iter().copied()),
            }
        }
        Columns {
            n,
            d,
            data: std::borrow::Cow::Owned(data),
        }
    }

    /// Row `i` as a vector.
    pub fn row(&self, i: usize) -> Vec<f64> {
        (0..self.d).map(|t| self.data[t * self.n + i]).collect()
    }
}

/// What one block of rows adds to an assignment pass.
#[derive(Debug, Clone)]
pub struct BlockStats {
    /// k x d, row-major: the sum of the rows assigned to each centroid.
    pub sums: Vec<f64>,
    pub counts: Vec<usize>,
    pub inertia: f64,
}

/// Assigns rows `start..start + labels.len()` to their nearest centroid (`cent`, k x d,
/// row-major), writing `labels` and returning the block's sums, counts and inertia.
pub fn assign_block(
    cols: &Columns,
    start: usize,
    labels: &mut [usize],
    cent: &[f64],
) -> BlockStats {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { assign_block_avx2(cols, start, labels, cent) };
        }
    }
    assign_body(cols, start, labels, cent)
}

/// The AVX2 assignment: 8 rows (two registers per feature) against 4 centroids at a time,
/// eight independent sums in flight. Separate multiply and add (no FMA), so every distance
/// is rounded exactly as in the plain loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn assign_block_avx2(
    cols: &Columns,
    start: usize,
    labels: &mut [usize],
    cent: &[f64],
) -> BlockStats {
    use std::arch::x86_64::*;
    const Q: usize = 4;
    let (n, d) = (cols.n, cols.d);
    let k = cent.len() / d;
    let len = labels.len();
    assert!(start + len <= n && cols.data.len() == n * d && k >= 1);
    let x = cols.data.as_ptr();
    let full = len / R * R;
    let mut sums = vec![0.0f64; k * d];
    let mut counts = vec![0usize; k];
    let mut inertia = 0.0;
    let mut best_d = [0.0f64; R];
    let mut best_j = [0.0f64; R];
    let mut i = 0;
    while i < full {
        let mut bd = [_mm256_set1_pd(f64::INFINITY); 2];
        let mut bj = [_mm256_setzero_pd(); 2];
        let mut c = 0;
        while c < k {
            // Up to Q centroids; a short last group repeats its last centroid, which can
            // never win (an equal distance at a higher index does not replace the best).
            let idx: [usize; Q] = std::array::from_fn(|q| (c + q).min(k - 1));
            let mut acc = [_mm256_setzero_pd(); 2 * Q];
            for t in 0..d {
                // SAFETY: t < d and start + i + R <= start + len <= n, so both loads read
                // inside column t of `cols.data` (length n * d, checked above).
                let (v0, v1) = unsafe {
                    let p = x.add(t * n + start + i);
                    (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)))
                };
                for q in 0..Q {
                    let ct = _mm256_set1_pd(cent[idx[q] * d + t]);
                    let d0 = _mm256_sub_pd(v0, ct);
                    let d1 = _mm256_sub_pd(v1, ct);
                    acc[2 * q] = _mm256_add_pd(acc[2 * q], _mm256_mul_pd(d0, d0));
                    acc[2 * q + 1] = _mm256_add_pd(acc[2 * q + 1], _mm256_mul_pd(d1, d1));
                }
            }
            for q in 0..Q {
                let j = _mm256_set1_pd(idx[q] as f64);
                for h in 0..2 {
                    let better = _mm256_cmp_pd::<_CMP_LT_OQ>(acc[2 * q + h], bd[h]);
                    bd[h] = _mm256_blendv_pd(bd[h], acc[2 * q + h], better);
                    bj[h] = _mm256_blendv_pd(bj[h], j, better);
                }
            }
            c += Q;
        }
        // SAFETY: best_d and best_j hold R = 8 values, two registers of four.
        unsafe {
            _mm256_storeu_pd(best_d.as_mut_ptr(), bd[0]);
            _mm256_storeu_pd(best_d.as_mut_ptr().add(4), bd[1]);
            _mm256_storeu_pd(best_j.as_mut_ptr(), bj[0]);
            _mm256_storeu_pd(best_j.as_mut_ptr().add(4), bj[1]);
        }
        // While these rows are in L1: labels, counts, inertia and sums, in row order.
        for r in 0..R {
            let j = best_j[r] as usize;
            let row = start + i + r;
            labels[i + r] = j;
            counts[j] += 1;
            inertia += best_d[r];
            let s = &mut sums[j * d..(j + 1) * d];
            for (t, sv) in s.iter_mut().enumerate() {
                // SAFETY: t < d and row < n: inside `cols.data`.
                *sv += unsafe { *x.add(t * n + row) };
            }
        }
        i += R;
    }
    // The last rows, one at a time.
    for (i, label) in labels.iter_mut().enumerate().skip(full) {
        let row = start + i;
        let (j, dist) = best_of(cols, row, cent);
        *label = j;
        counts[j] += 1;
        inertia += dist;
        for t in 0..d {
            sums[j * d + t] += cols.data[t * n + row];
        }
    }
    BlockStats {
        sums,
        counts,
        inertia,
    }
}

/// The nearest centroid of one row, the plain way (ties to the lower index).
#[inline(always)]
fn best_of(cols: &Columns, row: usize, cent: &[f64]) -> (usize, f64) {
    let (n, d) = (cols.n, cols.d);
    let mut best = (0usize, f64::INFINITY);
    for (c, cc) in cent.chunks_exact(d).enumerate() {
        let mut acc = 0.0;
        for (t, &ct) in cc.iter().enumerate() {
            let diff = cols.data[t * n + row] - ct;
            acc += diff * diff;
        }
        if acc < best.1 {
            best = (c, acc);
        }
    }
    best
}

/// Keeps the nearer of the running best and centroid `c` (at distances `acc`) per row.
#[inline(always)]
fn take_better(acc: &[f64; R], c: usize, best_d: &mut [f64; R], best_j: &mut [usize; R]) {
    for r in 0..R {
        let better = acc[r] < best_d[r];
        best_d[r] = if better { acc[r] } else { best_d[r] };
        best_j[r] = if better { c } else { best_j[r] };
    }
}

#[inline(always)]
fn assign_body(cols: &Columns, start: usize, labels: &mut [usize], cent: &[f64]) -> BlockStats {
    let (n, d) = (cols.n, cols.d);
    let k = cent.len() / d;
    let x = &cols.data;
    let len = labels.len();
    let mut sums = vec![0.0f64; k * d];
    let mut counts = vec![0usize; k];
    let mut inertia = 0.0;
    let full = len / R * R;
    let mut i = 0;
    while i < full {
        let mut best_d = [f64::INFINITY; R];
        let mut best_j = [0usize; R];
        // Two centroids per sweep over the features: twice the independent sums in flight.
        let mut c = 0;
        while c + 2 <= k {
            let (ca, cb) = (&cent[c * d..(c + 1) * d], &cent[(c + 1) * d..(c + 2) * d]);
            let mut acc_a = [0.0f64; R];
            let mut acc_b = [0.0f64; R];
            for t in 0..d {
                let (ta, tb) = (ca[t], cb[t]);
                let base = t * n + start + i;
                let col: &[f64; R] = x[base..base + R].try_into().expect("R values");
                for r in 0..R {
                    let da = col[r] - ta;
                    acc_a[r] += da * da;
                    let db = col[r] - tb;
                    acc_b[r] += db * db;
                }
            }
            take_better(&acc_a, c, &mut best_d, &mut best_j);
            take_better(&acc_b, c + 1, &mut best_d, &mut best_j);
            c += 2;
        }
        if c < k {
            let cc = &cent[c * d..(c + 1) * d];
            let mut acc = [0.0f64; R];
            for (t, &ct) in cc.iter().enumerate() {
                let base = t * n + start + i;
                let col: &[f64; R] = x[base..base + R].try_into().expect("R values");
                for r in 0..R {
                    let diff = col[r] - ct;
                    acc[r] += diff * diff;
                }
            }
            take_better(&acc, c, &mut best_d, &mut best_j);
        }
        for r in 0..R {
            let (j, row) = (best_j[r], start + i + r);
            labels[i + r] = j;
            counts[j] += 1;
            inertia += best_d[r];
            for t in 0..d {
                sums[j * d + t] += x[t * n + row];
            }
        }
        i += R;
    }
    // The last few rows, one at a time, in the same order of operations.
    for (i, label) in labels.iter_mut().enumerate().skip(full) {
        let row = start + i;
        let mut best = (0usize, f64::INFINITY);
        for (c, cc) in cent.chunks_exact(d).enumerate() {
            let mut acc = 0.0;
            for (t, &ct) in cc.iter().enumerate() {
                let diff = x[t * n + row] - ct;
                acc += diff * diff;
            }
            if acc < best.1 {
                best = (c, acc);
            }
        }
        *label = best.0;
        counts[best.0] += 1;
        inertia += best.1;
        for t in 0..d {
            sums[best.0 * d + t] += x[t * n + row];
        }
    }
    BlockStats {
        sums,
        counts,
        inertia,
    }
}

/// For rows `start..start + out.len()`: the squared distance to `point`, capped by
/// `closest` (the same rows' current values), into `out`; returns their sum in row order.
pub fn capped_distances(
    cols: &Columns,
    start: usize,
    point: &[f64],
    closest: &[f64],
    out: &mut [f64],
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { capped_avx2(cols, start, point, closest, out) };
        }
    }
    capped_body(cols, start, point, closest, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn capped_avx2(
    cols: &Columns,
    start: usize,
    point: &[f64],
    closest: &[f64],
    out: &mut [f64],
) -> f64 {
    capped_body(cols, start, point, closest, out)
}

#[inline(always)]
fn capped_body(
    cols: &Columns,
    start: usize,
    point: &[f64],
    closest: &[f64],
    out: &mut [f64],
) -> f64 {
    let n = cols.n;
    let len = out.len();
    out.iter_mut().for_each(|v| *v = 0.0);
    for (t, &pt) in point.iter().enumerate() {
        let col = &cols.data[t * n + start..t * n + start + len];
        for (o, &v) in out.iter_mut().zip(col) {
            let diff = v - pt;
            *o += diff * diff;
        }
    }
    let mut pot = 0.0;
    for (o, &c) in out.iter_mut().zip(closest) {
        *o = c.min(*o);
        pot += *o;
    }
    pot
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The plain row-by-row form the kernel must reproduce bit for bit.
    fn plain(x: &ndarray::Array2<f64>, cent: &[f64]) -> (Vec<usize>, Vec<f64>, Vec<usize>, f64) {
        let d = x.ncols();
        let k = cent.len() / d;
        let mut labels = Vec::new();
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0; k];
        let mut inertia = 0.0;
        for row in x.outer_iter() {
            let mut best = (0usize, f64::INFINITY);
            for c in 0..k {
                let mut s = 0.0;
                for t in 0..d {
                    let diff = row[t] - cent[c * d + t];
                    s += diff * diff;
                }
                if s < best.1 {
                    best = (c, s);
                }
            }
            labels.push(best.0);
            counts[best.0] += 1;
            inertia += best.1;
            for t in 0..d {
                sums[best.0 * d + t] += row[t];
            }
        }
        (labels, sums, counts, inertia)
    }

    #[test]
    fn assignment_equals_the_plain_loop_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // 8 * 12 + 5 rows: full vector chunks and a tail; k = 7 (odd) with one duplicate centroid
        // (a tie, which must go to the lower index).
        for (n, d, k) in [
            (101usize, 5usize, 7usize),
            (16, 1, 1),
            (3, 4, 2),
            (250, 13, 9),
        ] {
            let x = ndarray::Array2::from_shape_fn((n, d), |_| rng.gen_range(-3.0..3.0));
            let mut cent: Vec<f64> = (0..k * d).map(|_| rng.gen_range(-3.0..3.0)).collect();
            if k > 2 {
                let first: Vec<f64> = cent[..d].to_vec();
                cent[2 * d..3 * d].copy_from_slice(&first);
            }
            let cols = Columns::from_view(x.view());
            let mut labels = vec![usize::MAX; n];
            let got = assign_block(&cols, 0, &mut labels, &cent);
            let (want_l, want_s, want_c, want_i) = plain(&x, &cent);
            assert_eq!(labels, want_l);
            assert_eq!(got.counts, want_c);
            assert_eq!(got.sums, want_s);
            assert_eq!(got.inertia.to_bits(), want_i.to_bits());
            if k > 2 {
                assert!(!labels.contains(&2), "ties go to the lower index");
            }
            // The generic body gives the same as whatever assign_block picked.
            let mut labels2 = vec![0; n];
            let generic = assign_body(&cols, 0, &mut labels2, &cent);
            assert_eq!(labels2, labels);
            assert_eq!(generic.inertia.to_bits(), got.inertia.to_bits());
        }
    }

    #[test]
    fn capped_distances_hand_computed() {
        let x = ndarray::array![[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]];
        let cols = Columns::from_view(x.view());
        let mut out = vec![0.0; 3];
        let pot = capped_distances(&cols, 0, &[0.0, 0.0], &[10.0, 10.0, 1.5], &mut out);
        assert_eq!(out, vec![0.0, 10.0, 1.5]);
        assert_eq!(pot, 11.5);
        assert_eq!(cols.row(1), vec![3.0, 4.0]);
        assert!(matches!(cols.data, std::borrow::Cow::Owned(_)));
        // A column-major matrix is used as it is, not copied.
        use ndarray::ShapeBuilder;
        let f = ndarray::Array2::from_shape_vec((3, 2).f(), vec![0.0, 3.0, 1.0, 0.0, 4.0, 1.0])
            .unwrap();
        assert_eq!(f, x);
        let borrowed = Columns::from_view(f.view());
        assert!(matches!(borrowed.data, std::borrow::Cow::Borrowed(_)));
        assert_eq!(borrowed.data, cols.data);
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test of behaviour: `cargo test --release -- --ignored kernel_speed --nocapture`
    /// prints how long one assignment pass over 1M x 8 takes on one thread.
    #[test]
    #[ignore]
    fn kernel_speed() {
        let (n, d, k) = (1_000_000, 8, 8);
        let mut s: u64 = 1;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 10000) as f64 / 1000.0
        };
        let data: Vec<f64> = (0..n * d).map(|_| rnd()).collect();
        let cent: Vec<f64> = (0..k * d).map(|_| rnd()).collect();
        let cols = Columns {
            n,
            d,
            data: data.into(),
        };
        let mut labels = vec![0usize; n];
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let st = assign_block(&cols, 0, &mut labels, &cent);
            println!(
                "one thread, 1M x 8, k 8: {:?} ({})",
                t.elapsed(),
                st.inertia
            );
        }
    }
}
