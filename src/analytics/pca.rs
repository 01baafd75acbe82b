//! A 2-D projection for scatter plots: principal components of the (scaled) feature matrix,
//! from the eigen-decomposition of its covariance matrix by cyclic Jacobi rotations.
//!
//! Why hand-written: the covariance is small (features x features, a few dozen at most), a
//! Jacobi sweep is exact to rounding and deterministic, and it avoids pulling a LAPACK
//! binding into the build for one 2-D plot. Component signs are fixed (largest loading
//! positive) so the picture does not flip between runs.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Projection {
    /// (pc1, pc2) per row.
    pub points: Vec<(f64, f64)>,
    /// Share of the total variance each of the two components explains.
    pub explained: (f64, f64),
}

/// Eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix.
pub fn symmetric_eigen(a: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut m = a.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[[i, j]] * m[[i, j]])
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[[q, q]] - m[[p, p]]) / (2.0 * m[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[[k, p]], m[[k, q]]);
                    m[[k, p]] = c * mkp - s * mkq;
                    m[[k, q]] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[[p, k]], m[[q, k]]);
                    m[[p, k]] = c * mpk - s * mqk;
                    m[[q, k]] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[[j, j]].total_cmp(&m[[i, i]]));
    let values = order.iter().map(|&i| m[[i, i]]).collect();
    let mut vectors = Array2::<f64>::zeros((n, n));
    for (dst, &src) in order.iter().enumerate() {
        let mut col = v.column(src).to_owned();
        let big = col
            .iter()
            .cloned()
            .fold(0.0f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
        if big < 0.0 {
            col.mapv_inplace(|x| -x);
        }
        vectors.column_mut(dst).assign(&col);
    }
    (values, vectors)
}

/// Projects the rows of `x` on its first two principal components. Extreme values (near
/// 1e308, or denormal) are projected times a power of two that brings them near 1: the
/// picture and the explained shares are the same, and the covariance neither overflows
/// (the points were NaN) nor underflows.
pub fn project_2d(x: ArrayView2<f64>) -> Projection {
    if let Some(e) = super::kmeans::internal_scale(x) {
        let scaled = x.mapv(|v| libm::scalbn(v, e));
        return project_2d_plain(scaled.view());
    }
    project_2d_plain(x)
}

fn project_2d_plain(x: ArrayView2<f64>) -> Projection {
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return Projection {
            points: Vec::new(),
            explained: (0.0, 0.0),
        };
    }
    let mean: Array1<f64> = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
    let centred = &x - &mean;
    let cov = centred.t().dot(&centred) / n as f64;
    let (values, vectors) = symmetric_eigen(&cov);
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let pc = |i: usize| vectors.column(i.min(d - 1)).to_owned();
    let (a, b) = (pc(0), pc(1));
    let points = centred
        .outer_iter()
        .map(|r| (r.dot(&a), if d > 1 { r.dot(&b) } else { 0.0 }))
        .collect();
    let share = |i: usize| {
        if total > 0.0 && i < d {
            values[i].max(0.0) / total
        } else {
            0.0
        }
    };
    Projection {
        points,
        explained: (share(0), share(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn eigen_of_a_hand_worked_matrix() {
        // [[2,1],[1,2]] has eigenvalues 3 and 1 with vectors (1,1)/√2 and (1,-1)/√2.
        let (vals, vecs) = symmetric_eigen(&array![[2.0, 1.0], [1.0, 2.0]]);
        assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
        let h = 1.0 / 2f64.sqrt();
        assert!((vecs[[0, 0]] - h).abs() < 1e-12 && (vecs[[1, 0]] - h).abs() < 1e-12);
        assert!((vecs[[0, 1]].abs() - h).abs() < 1e-12);
    }

    #[test]
    fn points_on_a_line_have_one_component() {
        // y = 2x: all variance on the first component, the second is zero.
        let x = array![[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let p = project_2d(x.view());
        assert!((p.explained.0 - 1.0).abs() < 1e-12);
        assert!(p.explained.1.abs() < 1e-12);
        // Distances along the line are kept: 0..3 times √5, centred.
        let s5 = 5f64.sqrt();
        let want = [-1.5 * s5, -0.5 * s5, 0.5 * s5, 1.5 * s5];
        for (pt, w) in p.points.iter().zip(want) {
            assert!((pt.0 - w).abs() < 1e-9 && pt.1.abs() < 1e-9);
        }
    }
}
