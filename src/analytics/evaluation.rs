//! Classification metrics with scikit-learn's definitions, and stratified splits.
//!
//! Classes are numbered 0..k. For two classes the positive class is 1 and precision, recall
//! and F1 are those of class 1; for more they are macro averages over the classes. A ratio
//! with a zero denominator is 0 (scikit-learn's `zero_division=0`). ROC-AUC is exact and
//! tie-aware: the probability that a random positive scores above a random negative, ties
//! counting one half (the Mann-Whitney statistic from average ranks).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::error::AnalyticsError;

/// counts[actual][predicted].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    pub fn new(actual: &[usize], predicted: &[usize], classes: usize) -> ConfusionMatrix {
        let mut counts = vec![vec![0u64; classes]; classes];
        for (&a, &p) in actual.iter().zip(predicted) {
            counts[a][p] += 1;
        }
        ConfusionMatrix { counts }
    }

    fn classes(&self) -> usize {
        self.counts.len()
    }

    fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.classes()).map(|c| self.counts[c][c]).sum();
        ratio(right as f64, self.total() as f64)
    }

    fn precision_of(&self, c: usize) -> f64 {
        let predicted: u64 = (0..self.classes()).map(|a| self.counts[a][c]).sum();
        ratio(self.counts[c][c] as f64, predicted as f64)
    }

    fn recall_of(&self, c: usize) -> f64 {
        let actual: u64 = self.counts[c].iter().sum();
        ratio(self.counts[c][c] as f64, actual as f64)
    }

    /// The mean of the per-class recalls (classes that occur).
    pub fn balanced_accuracy(&self) -> f64 {
        let present: Vec<usize> = (0..self.classes())
            .filter(|&c| self.counts[c].iter().sum::<u64>() > 0)
            .collect();
        ratio(
            present.iter().map(|&c| self.recall_of(c)).sum(),
            present.len() as f64,
        )
    }

    /// Precision, recall and F1: of class 1 for two classes, macro averages otherwise.
    pub fn precision_recall_f1(&self) -> (f64, f64, f64) {
        let f1 = |p: f64, r: f64| ratio(2.0 * p * r, p + r);
        if self.classes() == 2 {
            let (p, r) = (self.precision_of(1), self.recall_of(1));
            return (p, r, f1(p, r));
        }
        let k = self.classes() as f64;
        let (mut ps, mut rs, mut fs) = (0.0, 0.0, 0.0);
        for c in 0..self.classes() {
            let (p, r) = (self.precision_of(c), self.recall_of(c));
            ps += p;
            rs += r;
            fs += f1(p, r);
        }
        (ps / k, rs / k, fs / k)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// ROC-AUC of `score` for the positives in `positive`; None when only one class occurs.
pub fn roc_auc(positive: &[bool], score: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|p| **p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    // Average ranks (1-based) over ties, then the Mann-Whitney U of the positives.
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            if positive[o] {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// A point of a ROC curve: rows with score >= `threshold` are called positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
    pub threshold: f64,
}

/// (threshold, true positives, false positives) at each distinct score from the highest
/// down: the counts of rows scoring at least that threshold (ties move together).
fn counts_by_threshold(positive: &[bool], score: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let s = score[order[i]];
        while i < order.len() && score[order[i]] == s {
            if positive[order[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        out.push((s, tp, fp));
    }
    out
}

/// The ROC curve from (0, 0) at threshold +inf, one point per distinct score (ties move
/// together, as scikit-learn's `roc_curve` with `drop_intermediate=False`).
pub fn roc_curve(positive: &[bool], score: &[f64]) -> Vec<RocPoint> {
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    let start = RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    };
    std::iter::once(start)
        .chain(
            counts_by_threshold(positive, score)
                .into_iter()
                .map(|(threshold, tp, fp)| RocPoint {
                    fpr: ratio(fp, n_neg),
                    tpr: ratio(tp, n_pos),
                    threshold,
                }),
        )
        .collect()
}

/// A point of a precision-recall curve: rows with score >= `threshold` are called positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrPoint {
    pub recall: f64,
    pub precision: f64,
    pub threshold: f64,
}

/// The precision-recall curve, one point per distinct score from the highest down, as
/// scikit-learn's `precision_recall_curve` (in the other order, and without its final
/// (recall 0, precision 1) point, which has no threshold).
pub fn pr_curve(positive: &[bool], score: &[f64]) -> Vec<PrPoint> {
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    counts_by_threshold(positive, score)
        .into_iter()
        .map(|(threshold, tp, fp)| PrPoint {
            recall: ratio(tp, n_pos),
            precision: ratio(tp, tp + fp),
            threshold,
        })
        .collect()
}

/// Average precision: the sum over thresholds of (R_n - R_(n-1)) P_n, scikit-learn's
/// `average_precision_score` (no interpolation).
pub fn average_precision(positive: &[bool], score: &[f64]) -> f64 {
    let mut prev = 0.0;
    let mut ap = 0.0;
    for p in pr_curve(positive, score) {
        ap += (p.recall - prev) * p.precision;
        prev = p.recall;
    }
    ap
}

/// At most `max` points of a curve (`max` >= 2): the first, the last, and evenly spaced ones
/// between, for drawing and for JSON that stays small on a million rows.
pub fn thin<T: Copy>(points: &[T], max: usize) -> Vec<T> {
    let max = max.max(2);
    if points.len() <= max {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..max)
        .map(|i| points[(i * last + (max - 1) / 2) / (max - 1)])
        .collect()
}

/// Mean negative log-likelihood of the true classes, probabilities clipped to
/// [1e-15, 1 - 1e-15] as scikit-learn does.
pub fn log_loss(actual: &[usize], proba: &[Vec<f64>]) -> f64 {
    let eps = 1e-15;
    let total: f64 = actual
        .iter()
        .zip(proba)
        .map(|(&a, p)| -(p[a].clamp(eps, 1.0 - eps)).ln())
        .sum();
    ratio(total, actual.len() as f64)
}

/// Rows per class, by class.
fn by_class(labels: &[usize]) -> Vec<Vec<usize>> {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut per = vec![Vec::new(); k];
    for (i, &c) in labels.iter().enumerate() {
        per[c].push(i);
    }
    per
}

/// A stratified train/test split: each class contributes round(test_size x its rows) rows
/// to the test set (at least one when it has two or more), chosen by a seeded shuffle.
/// Returns (train, test), each ascending.
pub fn stratified_split(
    labels: &[usize],
    test_size: f64,
    seed: u64,
) -> Result<Split, AnalyticsError> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(AnalyticsError::Input(format!(
            "test size {test_size}: it must be a fraction between 0 and 1"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut rows in by_class(labels) {
        rows.shuffle(&mut rng);
        let mut n_test = (test_size * rows.len() as f64).round() as usize;
        if rows.len() >= 2 {
            n_test = n_test.clamp(1, rows.len() - 1);
        }
        test.extend_from_slice(&rows[..n_test.min(rows.len())]);
        train.extend_from_slice(&rows[n_test.min(rows.len())..]);
    }
    if train.is_empty() || test.is_empty() {
        return Err(AnalyticsError::Input(
            "too few rows to split into a training and a test set".into(),
        ));
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Row numbers for training and for testing.
pub type Split = (Vec<usize>, Vec<usize>);

/// Stratified k-fold: each class's rows, shuffled with the seed, are dealt round-robin into
/// `k` folds (class ratios stay within one row per fold). Returns (train, test) per fold.
pub fn stratified_kfold(
    labels: &[usize],
    k: usize,
    seed: u64,
) -> Result<Vec<Split>, AnalyticsError> {
    let per = by_class(labels);
    let smallest = per.iter().filter(|r| !r.is_empty()).map(|r| r.len()).min();
    if k < 2 {
        return Err(AnalyticsError::Input(format!(
            "{k} folds: cross-validation needs at least 2"
        )));
    }
    if smallest.is_none_or(|s| s < k) {
        return Err(AnalyticsError::Input(format!(
            "{k} folds but the smallest class has {} rows; use fewer folds",
            smallest.unwrap_or(0)
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut next = 0;
    for mut rows in per {
        rows.shuffle(&mut rng);
        for r in rows {
            folds[next % k].push(r);
            next += 1;
        }
    }
    Ok((0..k)
        .map(|f| {
            let mut test = folds[f].clone();
            test.sort_unstable();
            let mut train: Vec<usize> = folds
                .iter()
                .enumerate()
                .filter(|(g, _)| *g != f)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            train.sort_unstable();
            (train, test)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn pr_curve_and_average_precision_by_hand() {
        // scikit-learn's doc example: y = [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8];
        // precision [0.5, 0.667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0], AP 0.8333.
        let pos = [false, false, true, true];
        let s = [0.1, 0.4, 0.35, 0.8];
        let c = pr_curve(&pos, &s);
        let got: Vec<(f64, f64, f64)> = c
            .iter()
            .map(|p| {
                (
                    p.threshold,
                    p.recall,
                    (p.precision * 1000.0).round() / 1000.0,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0.8, 0.5, 1.0),
                (0.4, 0.5, 0.5),
                (0.35, 1.0, 0.667),
                (0.1, 1.0, 0.5)
            ]
        );
        assert!((average_precision(&pos, &s) - 0.833_333_333).abs() < 1e-6);
        // Ties move together: two rows at 0.5, one positive.
        let c = pr_curve(&[true, false, true], &[0.5, 0.5, 0.9]);
        assert_eq!(c.len(), 2);
        assert_eq!((c[1].recall, c[1].precision), (1.0, 2.0 / 3.0));
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let v: Vec<usize> = (0..1000).collect();
        let t = thin(&v, 5);
        assert_eq!(t.len(), 5);
        assert_eq!((t[0], t[4]), (0, 999));
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(thin(&v[..3], 5), vec![0, 1, 2]);
    }

    #[test]
    fn confusion_and_ratios_by_hand() {
        // actual:    1 1 1 0 0 0 0 1
        // predicted: 1 0 1 0 1 0 0 1
        let a = [1, 1, 1, 0, 0, 0, 0, 1];
        let p = [1, 0, 1, 0, 1, 0, 0, 1];
        let cm = ConfusionMatrix::new(&a, &p, 2);
        assert_eq!(cm.counts, vec![vec![3, 1], vec![1, 3]]);
        assert_eq!(cm.accuracy(), 0.75);
        // tp 3, fp 1, fn 1: precision 0.75, recall 0.75, F1 0.75.
        assert_eq!(cm.precision_recall_f1(), (0.75, 0.75, 0.75));
        assert_eq!(cm.balanced_accuracy(), 0.75);
        // Imbalanced: 6 negatives, 2 positives, everything predicted negative.
        let cm = ConfusionMatrix::new(&[0, 0, 0, 0, 0, 0, 1, 1], &[0; 8], 2);
        assert_eq!(cm.accuracy(), 0.75);
        assert_eq!(cm.balanced_accuracy(), 0.5);
        assert_eq!(cm.precision_recall_f1(), (0.0, 0.0, 0.0));
    }

    #[test]
    fn macro_averages_for_three_classes() {
        let a = [0, 0, 1, 1, 2, 2];
        let p = [0, 1, 1, 1, 2, 0];
        let cm = ConfusionMatrix::new(&a, &p, 3);
        // precision: c0 1/2, c1 2/3, c2 1/1; recall: 1/2, 1, 1/2.
        let (pr, re, f1) = cm.precision_recall_f1();
        assert!((pr - (0.5 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        assert!((re - (0.5 + 1.0 + 0.5) / 3.0).abs() < 1e-12);
        let f = |p: f64, r: f64| 2.0 * p * r / (p + r);
        let want = (f(0.5, 0.5) + f(2.0 / 3.0, 1.0) + f(1.0, 0.5)) / 3.0;
        assert!((f1 - want).abs() < 1e-12);
    }

    #[test]
    fn roc_auc_by_hand_and_with_ties() {
        // scikit-learn's doc example.
        let auc = roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((auc - 0.75).abs() < 1e-12);
        // Ties count one half: pairs (0.5, 0.5) = 1/2, the other three 1 -> 3.5 / 4.
        let auc = roc_auc(&[false, true, false, true], &[0.5, 0.5, 0.2, 0.9]).unwrap();
        assert!((auc - 0.875).abs() < 1e-12);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn roc_auc_equals_the_pairwise_count_on_random_tied_scores() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..50 {
            let n = rng.gen_range(2..60);
            let pos: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.4)).collect();
            // Few distinct scores, so many ties.
            let s: Vec<f64> = (0..n).map(|_| rng.gen_range(0..6) as f64 / 5.0).collect();
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..n {
                for j in 0..n {
                    if pos[i] && !pos[j] {
                        den += 1.0;
                        num += if s[i] > s[j] {
                            1.0
                        } else if s[i] == s[j] {
                            0.5
                        } else {
                            0.0
                        };
                    }
                }
            }
            let got = roc_auc(&pos, &s);
            if den == 0.0 {
                assert_eq!(got, None);
            } else {
                assert!((got.unwrap() - num / den).abs() < 1e-12);
            }
            // The trapezoid area under the curve equals it too.
            if den > 0.0 {
                let c = roc_curve(&pos, &s);
                let area: f64 = c
                    .windows(2)
                    .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
                    .sum();
                assert!((area - num / den).abs() < 1e-12);
                let last = c.last().unwrap();
                assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
            }
        }
    }

    #[test]
    fn log_loss_by_hand() {
        let p = vec![vec![0.9, 0.1], vec![0.2, 0.8], vec![0.6, 0.4]];
        let want = -(0.9f64.ln() + 0.8f64.ln() + 0.6f64.ln()) / 3.0;
        assert!((log_loss(&[0, 1, 0], &p) - want).abs() < 1e-12);
        // A certain wrong answer is clipped, not infinite.
        let l = log_loss(&[1], &[vec![1.0, 0.0]]);
        assert!((l - -(1e-15f64).ln()).abs() < 1e-9);
    }

    #[test]
    fn stratification_keeps_class_ratios() {
        // 85 / 15.
        let labels: Vec<usize> = (0..1000).map(|i| usize::from(i % 20 < 3)).collect();
        let (train, test) = stratified_split(&labels, 0.2, 7).unwrap();
        assert_eq!(train.len() + test.len(), 1000);
        let share = |rows: &[usize]| {
            rows.iter().filter(|&&i| labels[i] == 1).count() as f64 / rows.len() as f64
        };
        assert!((share(&test) - 0.15).abs() < 1e-9);
        assert!((share(&train) - 0.15).abs() < 1e-9);
        assert_eq!(
            stratified_split(&labels, 0.2, 7).unwrap(),
            (train.clone(), test.clone())
        );
        assert_ne!(stratified_split(&labels, 0.2, 8).unwrap().1, test);
        let folds = stratified_kfold(&labels, 5, 3).unwrap();
        let mut seen = vec![0; 1000];
        for (tr, te) in &folds {
            assert_eq!(tr.len() + te.len(), 1000);
            assert_eq!(te.iter().filter(|&&i| labels[i] == 1).count(), 30);
            for &i in te {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "every row is tested once");
        assert!(stratified_kfold(&labels, 1, 3).is_err());
        let tiny = [0, 0, 0, 1];
        let e = stratified_kfold(&tiny, 2, 0).unwrap_err();
        assert!(e.to_string().contains("smallest class has 1 rows"), "{e}");
        assert!(stratified_split(&labels, 1.0, 0).is_err());
    }
}
