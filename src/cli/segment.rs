//! `crmlens segment` (k-means, DBSCAN, Gaussian mixtures) and `crmlens sweep` (k-means for k = 2..k_max with the quality metrics) on a feature matrix.

use super::*;
use crate::analytics::gmm::CovarianceType;
use crate::analytics::segment::{Algorithm, SegmentModel, SegmentParams};

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[arg(long = "k-min", default_value_t = 2, value_parser = whole::<usize>)]
    pub k_min: usize,
    #[arg(long = "k-max", default_value_t = 10, value_parser = whole::<usize>)]
    pub k_max: usize,
    /// K-Means restarts per k, keeping the best (1 to 1000).
    #[arg(long = "n-init", default_value_t = 10, value_parser = whole::<usize>)]
    pub n_init: usize,
    #[arg(long, default_value_t = 42, value_parser = whole::<u64>)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SegmentArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Algorithm: kmeans, dbscan or gmm (Gaussian mixture).
    #[arg(long, value_enum, ignore_case = true, default_value_t = Algorithm::KMeans)]
    pub algo: Algorithm,
    /// Clusters (1 to 1000).
    #[arg(long, default_value_t = 8, value_parser = whole::<usize>)]
    pub k: usize,
    /// Restarts, keeping the best (1 to 1000; default: 10 for kmeans, 1 for gmm as in
    /// scikit-learn).
    #[arg(long = "n-init", value_parser = whole::<usize>)]
    pub n_init: Option<usize>,
    /// Iteration limit per restart (1 to 100000; default: 300 for kmeans, 100 for gmm).
    #[arg(long = "max-iter", value_parser = whole::<usize>)]
    pub max_iter: Option<usize>,
    /// Convergence tolerance (default: 1e-4 of the mean variance for kmeans centroid
    /// movement, 0 = until no row changes cluster; 1e-3 change of the mean log-likelihood
    /// per row for gmm).
    #[arg(long)]
    pub tol: Option<f64>,
    /// GMM: covariance type, full, tied, diag or spherical.
    #[arg(long, value_enum, ignore_case = true, default_value_t = CovarianceType::Full)]
    pub covariance: CovarianceType,
    #[arg(long, default_value_t = 42, value_parser = whole::<u64>)]
    pub seed: u64,
    /// Write every row's id and cluster label here (.csv, .parquet or .json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub export: ExportFlags,
    /// The id column for --out (default: the workspace's key, else the first column).
    #[arg(long = "id-col")]
    pub id_col: Option<String>,
    /// DBSCAN: neighbourhood radius in the scaled feature space (a point at distance <= eps
    /// is a neighbour). Default: the knee of the k-distance curve for --min-points.
    #[arg(long)]
    pub eps: Option<f64>,
    /// DBSCAN: points within eps, the point itself included, that make a core point.
    #[arg(long = "min-points", default_value_t = 5, value_parser = whole::<usize>)]
    pub min_points: usize,
    /// Skip the silhouette (JSON `silhouette: null`); above 10,000 rows it is otherwise
    /// computed on a seeded 10,000-row sample.
    #[arg(long = "no-silhouette")]
    pub no_silhouette: bool,
    /// Save the fitted model here (TOML) for `crmlens score` (an existing file only with
    /// --force).
    #[arg(long = "save-model")]
    pub save_model: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub(super) fn sweep_cmd(a: SweepArgs) -> Result<()> {
    use crate::analytics::kmeans::KMeansParams;
    limits::SWEEP_K.named("--k-min", a.k_min)?;
    limits::SWEEP_K.named("--k-max", a.k_max)?;
    limits::N_INIT.named("--n-init", a.n_init)?;
    let Matrix { m, features, .. } = feature_matrix(&a.matrix, None, false, &[])?;
    let base = KMeansParams {
        k: a.k_min,
        n_init: a.n_init,
        max_iter: 300,
        tol: 1e-4,
        seed: a.seed,
    };
    let started = Instant::now();
    let r = crate::pipeline::segment::sweep_matrix(&m, a.k_min, a.k_max, &base, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut stdout = out::stdout();
    if a.json {
        let v = serde_json::json!({
            "input": a.matrix.input.display().to_string(),
            "n_rows": m.values.nrows(),
            "features": features,
            "k_min": a.k_min,
            "k_max": a.k_max,
            "entries": r.entries,
            "suggested_k": r.suggested_k,
            "reason": r.reason,
            "silhouette_sampled": r.silhouette_sampled,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        });
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{:>3} {:>14} {:>10} {:>10} {:>10}",
            "k", "inertia", "silhouette", "CH", "DB"
        )?;
        let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
        for e in &r.entries {
            writeln!(
                stdout,
                "{:>3} {:>14.3} {:>10} {:>10} {:>10}",
                e.k,
                e.inertia,
                f(e.silhouette),
                f(e.calinski_harabasz),
                f(e.davies_bouldin)
            )?;
        }
        writeln!(stdout, "suggested k = {}: {}", r.suggested_k, r.reason)?;
    }
    Ok(())
}

pub(super) type JsonMap = serde_json::Map<String, serde_json::Value>;

/// What every segmentation reports and writes: the silhouette (over the clustered rows; noise,
/// label -1, left out; none with fewer than two non-empty clusters), the labels file, and the
/// JSON fields all algorithms share, to which each adds its own.
#[allow(clippy::too_many_arguments)]
pub(super) fn segment_common(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: &[String],
    algorithm: &str,
    labels: Vec<i64>,
    clusters: usize,
    seconds: f64,
) -> Result<(Option<(f64, bool)>, JsonMap)> {
    use crate::analytics::metrics::silhouette;
    let used = {
        let mut seen = vec![false; clusters];
        labels
            .iter()
            .filter(|&&l| l >= 0)
            .for_each(|&l| seen[l as usize] = true);
        seen.iter().filter(|s| **s).count()
    };
    let sil = if a.no_silhouette || used < 2 {
        None
    } else if labels.iter().all(|&l| l >= 0) {
        let lab: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        silhouette(m.values.view(), &lab, clusters, a.seed)
    } else {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] >= 0).collect();
        let sub = m.values.select(ndarray::Axis(0), &rows);
        let lab: Vec<usize> = rows.iter().map(|&i| labels[i] as usize).collect();
        silhouette(sub.view(), &lab, clusters, a.seed)
    };
    if let Some(out) = &a.out {
        let opts = a.export.options(Some(out), Some(&a.matrix.input))?;
        crate::export::write_labels(out, id_col, &m.keys, labels, &opts)?;
    }
    let serde_json::Value::Object(map) = serde_json::json!({
        "algorithm": algorithm,
        "input": a.matrix.input.display().to_string(),
        "n_rows": m.values.nrows(),
        "features": features,
        "scale": a.matrix.scale,
        "silhouette": sil.map(|s| s.0),
        "silhouette_sampled": sil.is_some_and(|s| s.1),
        "seconds": (seconds * 1000.0).round() / 1000.0,
    }) else {
        unreachable!("a JSON object literal")
    };
    Ok((sil, map))
}

/// `base` with `extra`'s fields added.
pub(super) fn with_fields(mut base: JsonMap, extra: serde_json::Value) -> serde_json::Value {
    if let serde_json::Value::Object(e) = extra {
        base.extend(e);
    }
    serde_json::Value::Object(base)
}

pub(super) fn segment_dbscan(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: Vec<String>,
    r: crate::analytics::dbscan::DbscanResult,
    seconds: f64,
) -> Result<()> {
    let eps = a.eps.unwrap_or(0.0);
    let centroids = crate::analytics::dbscan::cluster_means(m.values.view(), &r.labels, r.clusters);
    let (_, base) = segment_common(
        a,
        m,
        id_col,
        &features,
        "dbscan",
        r.labels.clone(),
        r.clusters,
        seconds,
    )?;
    let v = with_fields(
        base,
        serde_json::json!({
            "eps": eps,
            "min_points": a.min_points,
            "clusters": r.clusters,
            "sizes": r.sizes,
            "noise": r.noise,
            "core_points": r.core_points,
            // DBSCAN is not iterative; its centroids are the clusters' mean rows.
            "iterations": serde_json::Value::Null,
            "centroids": &centroids,
            "centroids_original": original_units(&centroids, m),
        }),
    );
    let mut text = format!(
        "dbscan: {} clusters, {} noise rows of {}, {} core points\n",
        r.clusters,
        r.noise,
        m.values.nrows(),
        r.core_points
    );
    for (c, n) in r.sizes.iter().enumerate() {
        text.push_str(&format!("  cluster {c}: {n} rows\n"));
    }
    print_result(a.json, &v, &text)
}

pub(super) fn segment(mut a: SegmentArgs) -> Result<()> {
    // Checked before the model runs: the format, an existing file, the pseudonym key.
    a.export.options(a.out.as_deref(), Some(&a.matrix.input))?;
    if let Some(p) = &a.save_model {
        crate::data::write::refuse_existing(p, a.export.force)?;
    }
    if a.algo == Algorithm::Dbscan
        && let Some(eps) = a.eps
    {
        if eps.is_nan() || eps <= 0.0 {
            bail!("--eps {eps}: it must be a positive number");
        }
        limits::EPS.named("--eps", eps)?;
    }
    if a.algo == Algorithm::Dbscan {
        if a.min_points == 0 {
            bail!("--min-points 0: it counts the point itself, so it must be at least 1");
        }
        limits::MIN_POINTS.named("--min-points", a.min_points)?;
    }
    // The ranges a workspace's [segment] is held to (`analytics::limits`).
    limits::K.named("--k", a.k)?;
    if let Some(n) = a.n_init {
        limits::N_INIT.named("--n-init", n)?;
    }
    if let Some(n) = a.max_iter {
        limits::MAX_ITER.named("--max-iter", n)?;
    }
    if let Some(t) = a.tol {
        if t == 0.0 && a.algo == Algorithm::Gmm {
            bail!("--tol 0: a Gaussian mixture needs a positive tolerance (default 1e-3)");
        }
        limits::TOL.named("--tol", t)?;
    }
    let mx = feature_matrix(
        &a.matrix,
        a.id_col.clone(),
        a.out.is_some() || a.save_model.is_some(),
        &[],
    )?;
    let (m, id_col, features) = (&mx.m, &mx.id_col, mx.features.clone());
    // DBSCAN without --eps: the knee of the k-distance curve (on a sample of rows).
    if a.algo == Algorithm::Dbscan && a.eps.is_none() {
        let curve = crate::analytics::dbscan::k_distances(
            m.values.view(),
            a.min_points,
            crate::analytics::segment::K_DISTANCE_SAMPLE,
            &Progress::new(),
        )?;
        let knee = crate::analytics::dbscan::knee(&curve).filter(|e| *e > 0.0);
        a.eps = Some(knee.ok_or_else(|| {
            anyhow::anyhow!(
                "--algo dbscan: the k-distance curve has no knee (the rows are all as far from their neighbours); give --eps"
            )
        })?);
    }
    let params = segment_params(&a);
    let started = Instant::now();
    let (model, _) = crate::pipeline::segment::fit(m, &params, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &a.save_model {
        use crate::pipeline::saved::{Model, SavedModel, segmentation};
        let saved = SavedModel::new(
            &mx.trained_on(),
            Model::Segment(segmentation(&model, m.values.view())),
        )?;
        saved.save(path, a.export.force)?;
    }
    match model {
        SegmentModel::Dbscan { result, .. } => {
            segment_dbscan(&a, m, id_col, features, result, seconds)
        }
        SegmentModel::Gmm(r) => segment_gmm(&a, m, id_col, features, (&params.gmm, r), seconds),
        SegmentModel::KMeans(r) => {
            segment_kmeans(&a, m, id_col, features, (&params.kmeans, r), seconds)
        }
    }
}

/// The parameters the flags set, with each algorithm's own defaults for what is not given
/// (as scikit-learn's: 10 restarts, 300 iterations and tolerance 1e-4 for k-means; 1, 100 and
/// 1e-3 for the mixture).
fn segment_params(a: &SegmentArgs) -> SegmentParams {
    use crate::analytics::gmm::GmmParams;
    use crate::analytics::kmeans::KMeansParams;
    SegmentParams {
        algorithm: a.algo,
        kmeans: KMeansParams {
            k: a.k,
            n_init: a.n_init.unwrap_or(10),
            max_iter: a.max_iter.unwrap_or(300),
            tol: a.tol.unwrap_or(1e-4),
            seed: a.seed,
        },
        eps: a.eps.unwrap_or(0.0),
        min_points: a.min_points,
        gmm: GmmParams {
            k: a.k,
            covariance: a.covariance,
            n_init: a.n_init.unwrap_or(1),
            max_iter: a.max_iter.unwrap_or(100),
            tol: a.tol.unwrap_or(1e-3),
            reg_covar: 1e-6,
            seed: a.seed,
        },
    }
}

/// Centroids (scaled space) back in the features' original units.
pub(super) fn original_units(
    centroids: &[Vec<f64>],
    m: &crate::data::features::FeatureMatrix,
) -> Vec<Vec<f64>> {
    centroids
        .iter()
        .map(|c| {
            c.iter()
                .zip(&m.transforms)
                .map(|(v, t)| t.to_original(*v))
                .collect()
        })
        .collect()
}

pub(super) fn fmt_silhouette(sil: Option<(f64, bool)>) -> String {
    sil.map(|s| format!("{:.3}", s.0))
        .unwrap_or_else(|| "n/a".into())
}

pub(super) fn segment_kmeans(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: Vec<String>,
    (params, r): (
        &crate::analytics::kmeans::KMeansParams,
        crate::analytics::kmeans::KMeansResult,
    ),
    seconds: f64,
) -> Result<()> {
    let labels = r.labels.iter().map(|&l| l as i64).collect();
    let (sil, base) = segment_common(a, m, id_col, &features, "kmeans", labels, r.k, seconds)?;
    let v = with_fields(
        base,
        serde_json::json!({
            "k": r.k,
            "sizes": r.sizes,
            "inertia": r.inertia,
            "iterations": r.iterations,
            "converged": r.converged,
            "n_init": params.n_init,
            "seed": params.seed,
            "centroids": r.centroids,
            "centroids_original": original_units(&r.centroids, m),
        }),
    );
    let mut text = format!(
        "k-means: k = {}, {} rows, inertia {:.3}, {} iterations, silhouette {}\n",
        r.k,
        m.values.nrows(),
        r.inertia,
        r.iterations,
        fmt_silhouette(sil)
    );
    for (c, n) in r.sizes.iter().enumerate() {
        text.push_str(&format!("  cluster {c}: {n} rows\n"));
    }
    print_result(a.json, &v, &text)
}

pub(super) fn segment_gmm(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: Vec<String>,
    (params, r): (
        &crate::analytics::gmm::GmmParams,
        crate::analytics::gmm::GmmResult,
    ),
    seconds: f64,
) -> Result<()> {
    let labels = r.labels.iter().map(|&l| l as i64).collect();
    let (sil, base) = segment_common(a, m, id_col, &features, "gmm", labels, r.k, seconds)?;
    let v = with_fields(
        base,
        serde_json::json!({
            "k": r.k,
            "covariance_type": r.covariance,
            "sizes": r.sizes,
            "weights": r.weights,
            "log_likelihood": r.log_likelihood,
            "mean_log_likelihood": r.mean_log_likelihood,
            "bic": r.bic,
            "aic": r.aic,
            "n_parameters": r.n_parameters,
            "iterations": r.iterations,
            "converged": r.converged,
            "n_init": params.n_init,
            "seed": params.seed,
            "centroids": r.means,
            "centroids_original": original_units(&r.means, m),
        }),
    );
    let mut text = format!(
        "gaussian mixture: k = {}, {} covariances, {} rows, log-likelihood {:.3}, BIC {:.3}, \
         {} iterations{}, silhouette {}\n",
        r.k,
        r.covariance.name(),
        m.values.nrows(),
        r.log_likelihood,
        r.bic,
        r.iterations,
        if r.converged { "" } else { " (not converged)" },
        fmt_silhouette(sil)
    );
    for (c, n) in r.sizes.iter().enumerate() {
        text.push_str(&format!(
            "  cluster {c}: {n} rows, weight {:.3}\n",
            r.weights[c]
        ));
    }
    print_result(a.json, &v, &text)
}
