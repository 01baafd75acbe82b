//! Cluster profiles: size and share, the mean and median of every numeric feature in original
//! units, its distance from the overall mean in (population) standard deviations, and a short
//! description from the largest deviations.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeatureStat {
    pub feature: String,
    pub mean: f64,
    pub median: f64,
    /// (cluster mean - overall mean) / overall standard deviation.
    pub z: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterProfile {
    pub cluster: usize,
    pub size: usize,
    pub share: f64,
    pub features: Vec<FeatureStat>,
    /// e.g. "high monetary, low recency_days, high frequency".
    pub description: String,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else if (v[m - 1] + v[m]).is_finite() {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m - 1] / 2.0 + v[m] / 2.0
    }
}

/// The exponent of the power of two `v` is multiplied by for sums: values beyond 1e150
/// (near 1e308 a sum overflowed and the cluster profiles showed inf and NaN), else 0.
fn sum_exponent(v: &[f64]) -> i32 {
    let max = v
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |a, x| a.max(x.abs()));
    if max > 1e150 { -libm::ilogb(max) } else { 0 }
}

/// Mean of `v` times 2^e.
fn scaled_mean(v: &[f64], e: i32) -> f64 {
    v.iter().map(|x| libm::scalbn(*x, e)).sum::<f64>() / v.len().max(1) as f64
}

/// Profiles of `k` clusters from `labels` over `columns` (name, values in original units).
pub fn cluster_profiles(
    columns: &[(String, Vec<f64>)],
    labels: &[usize],
    k: usize,
) -> Vec<ClusterProfile> {
    let n = labels.len();
    // Means and standard deviations are computed times 2^e (exact; e = 0 for ordinary
    // values) and scaled back; z-scores are ratios of the scaled figures.
    let overall: Vec<(i32, f64, f64)> = columns
        .iter()
        .map(|(_, v)| {
            let e = sum_exponent(v);
            let m = scaled_mean(v, e);
            let sd = (v
                .iter()
                .map(|x| (libm::scalbn(*x, e) - m) * (libm::scalbn(*x, e) - m))
                .sum::<f64>()
                / v.len().max(1) as f64)
                .sqrt();
            (e, m, sd)
        })
        .collect();
    (0..k)
        .map(|c| {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            let features: Vec<FeatureStat> = columns
                .iter()
                .zip(&overall)
                .map(|((name, v), &(e, m, sd))| {
                    let mut vals: Vec<f64> = rows.iter().map(|&i| v[i]).collect();
                    let mean = scaled_mean(&vals, e);
                    let z = if sd > 0.0 { (mean - m) / sd } else { 0.0 };
                    let mean = libm::scalbn(mean, -e);
                    FeatureStat {
                        feature: name.clone(),
                        mean,
                        median: median(&mut vals),
                        z,
                    }
                })
                .collect();
            let mut strongest: Vec<&FeatureStat> =
                features.iter().filter(|f| f.z.abs() >= 0.5).collect();
            strongest.sort_by(|a, b| {
                b.z.abs()
                    .total_cmp(&a.z.abs())
                    .then(a.feature.cmp(&b.feature))
            });
            let description = if strongest.is_empty() {
                "close to average".to_string()
            } else {
                strongest
                    .iter()
                    .take(3)
                    .map(|f| format!("{} {}", if f.z > 0.0 { "high" } else { "low" }, f.feature))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            ClusterProfile {
                cluster: c,
                size: rows.len(),
                share: rows.len() as f64 / n.max(1) as f64,
                features,
                description,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_profile() {
        // spend: cluster 0 = {1, 3}, cluster 1 = {10, 12, 14}; overall mean 8, population sd
        // sqrt((49 + 25 + 4 + 16 + 36) / 5) = sqrt(26).
        let cols = vec![("spend".to_string(), vec![1.0, 10.0, 3.0, 12.0, 14.0])];
        let labels = [0, 1, 0, 1, 1];
        let p = cluster_profiles(&cols, &labels, 2);
        assert_eq!((p[0].size, p[1].size), (2, 3));
        assert!((p[0].share - 0.4).abs() < 1e-12);
        let f0 = &p[0].features[0];
        assert_eq!((f0.mean, f0.median), (2.0, 2.0));
        assert!((f0.z - (2.0 - 8.0) / 26f64.sqrt()).abs() < 1e-12);
        assert_eq!(p[1].features[0].median, 12.0);
        assert_eq!(p[0].description, "low spend");
        assert_eq!(p[1].description, "high spend");
    }
}
