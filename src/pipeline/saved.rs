//! Saved models: the file `--save-model` writes and `crmlens score` reads, and scoring new
//! rows with it.
//!
//! A model file is TOML (the format of the workspace file): plain text, versioned by its
//! `format_version`, and exact: TOML readers parse numbers with a correctly rounded parser,
//! so every centre, coefficient and threshold reads back to the same bits and scoring the
//! training rows gives back the training run's labels and probabilities exactly (JSON, as
//! serde_json reads it by default, may move a number by its last bit). It holds what scoring
//! needs and nothing personal: no ids and no rows, except a DBSCAN model's core points (their
//! scaled feature values, without ids: a new row is labelled by the cores within eps).
//!
//! What it records: the crmlens version and when it was trained; the training data's row
//! count and the names and types of the columns the model reads, with a fingerprint of them;
//! the features (numeric and one-hot, log1p, each column's centre and scale, the one-hot
//! levels, the values filled in for missing ones); each feature's distribution in the
//! training rows (for drift); and the model's parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::error::Result;
use crate::analytics::clv::{BgNbd, GammaGamma};
use crate::analytics::gmm::{CovarianceType, GmmResult};
use crate::analytics::kmeans::KMeansResult;
use crate::analytics::predict::{Fitted, decide};
use crate::analytics::segment::SegmentModel;
use crate::data::DataError;
use crate::data::features::apply::{Reference, apply};
use crate::data::features::transactions::{Amount, TransactionColumns};
use crate::data::features::{ColumnTransform, FeatureMatrix};
use crate::data::identity::attach::LinkModel;
use crate::data::sources::workspace::Scaling;
use crate::pipeline::clv::{ClvOutcome, TimeUnit};
use chrono::NaiveDate;

/// What the file says it is.
pub const FORMAT: &str = "crmlens-model";
/// The version of the file's layout this build reads and writes. A file of another version
/// is refused; a later build that changes the layout raises it.
pub const FORMAT_VERSION: u32 = 1;

/// A saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    pub format: String,
    pub format_version: u32,
    /// The crmlens version that trained it.
    pub crmlens_version: String,
    /// When, in UTC (RFC 3339).
    pub trained_at: String,
    pub training: Training,
    /// How rows become the model's matrix (segmentations and classifiers).
    #[serde(default, skip_serializing_if = "Features::is_empty")]
    pub features: Features,
    pub model: Model,
}

/// The training data, as far as scoring needs to know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    pub rows: usize,
    /// The columns the model reads, with their types in the training data.
    pub columns: Vec<ColumnType>,
    /// xxh3 of the columns' names and types, as 16 hex digits.
    pub schema_fingerprint: String,
    /// The id column the training run keyed its rows by.
    pub id_column: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnType {
    pub name: String,
    pub dtype: String,
}

/// The features: how new rows become the matrix the model was trained on. A lifetime-value
/// model keeps only the references of its per-customer summary (for drift); a link model
/// none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Features {
    pub numeric: Vec<String>,
    pub categorical: Vec<String>,
    pub log1p: Vec<String>,
    pub scaling: Scaling,
    /// The value each numeric feature's missing values were filled with (`--fill mean` or
    /// `median`); a feature not listed must have no missing values.
    #[serde(default)]
    pub fill: BTreeMap<String, f64>,
    /// `--fill drop`: rows with a missing feature were left out of training, and are left
    /// out of scoring.
    #[serde(default)]
    pub drop_missing: bool,
    /// Categorical columns whose rarer values were pooled as `other` (a value never seen is
    /// `other` too); in the others a value never seen is refused.
    #[serde(default)]
    pub pooled: Vec<String>,
    /// The matrix's columns, in order.
    pub columns: Vec<ColumnTransform>,
    /// Each feature's distribution in the training rows.
    pub reference: Vec<Reference>,
}

impl Features {
    pub fn is_empty(&self) -> bool {
        *self == Features::default()
    }
}

/// The model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Model {
    Segment(Segmentation),
    Predict(Prediction),
    Regress(ValueModel),
    Clv(Lifetime),
    Link(Linkage),
}

impl Model {
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Segment(_) => "segment",
            Model::Predict(_) => "predict",
            Model::Regress(_) => "regress",
            Model::Clv(_) => "clv",
            Model::Link(_) => "link",
        }
    }
}

/// A lifetime-value model: BG/NBD for purchases and Gamma-Gamma for spend, fitted on
/// transactions, with the columns it read and the horizon it values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifetime {
    pub customer: String,
    pub date: String,
    /// The amount: one column, or quantity and unit price (multiplied).
    pub amount: Vec<String>,
    /// The fit's calibration end (YYYY-MM-DD).
    pub calibration_end: NaiveDate,
    pub time_unit: TimeUnit,
    pub horizon_months: usize,
    pub discount_rate: f64,
    pub bgnbd: BgNbd,
    pub gamma_gamma: GammaGamma,
}

impl Lifetime {
    /// The transaction columns it reads.
    pub fn columns(&self) -> Result<TransactionColumns> {
        let amount = match self.amount.as_slice() {
            [c] => Amount::Column(c.clone()),
            [q, p] => Amount::Product(q.clone(), p.clone()),
            _ => {
                return Err(DataError::Invalid(
                    "the model's amount is neither one column nor quantity and unit price".into(),
                )
                .into());
            }
        };
        Ok(TransactionColumns {
            customer: self.customer.clone(),
            date: self.date.clone(),
            amount,
        })
    }
}

/// A link model: the comparison model and threshold, and the inputs it linked (the
/// existing records new ones are joined to, unless scoring names others).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linkage {
    pub inputs: Vec<LinkedInput>,
    pub comparison: LinkModel,
}

/// A linked input: its file as given to `crmlens link`, and its record id column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedInput {
    pub path: String,
    pub id: String,
}

/// A segmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum Segmentation {
    /// A row's label is its nearest centroid.
    Kmeans {
        centroids: Vec<Vec<f64>>,
        /// The power of two k-means scaled the values by (values beyond 1e30 or below
        /// 1e-30), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        internal_scale: Option<i32>,
    },
    /// A row's label is its most probable component.
    Gmm {
        covariance: CovarianceType,
        weights: Vec<f64>,
        means: Vec<Vec<f64>>,
        covariances: Vec<Vec<Vec<f64>>>,
    },
    /// A row's label is the smallest label among the core points within eps, else -1
    /// (noise): the label the fit gave its own rows.
    Dbscan {
        eps: f64,
        min_points: usize,
        core_points: Vec<Vec<f64>>,
        core_labels: Vec<i64>,
    },
}

/// A classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub target: String,
    /// The classes' values, by class number (`p_<class>` columns in this order).
    pub classes: Vec<String>,
    /// The probability of the positive class (the second) from which a row is called
    /// positive (two classes only).
    pub threshold: f64,
    pub fitted: Fitted,
}

/// A regressor: predicts `target`'s value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueModel {
    pub target: String,
    pub fitted: crate::analytics::regress::Regressor,
}

/// What training hands over to make a model file.
pub struct TrainedOn<'a> {
    /// The table the matrix was built from (after filling), with the id column.
    pub table: &'a DataFrame,
    pub matrix: &'a FeatureMatrix,
    pub id_column: &'a str,
    pub numeric: &'a [String],
    pub categorical: &'a [String],
    pub log1p: &'a [String],
    pub fill: BTreeMap<String, f64>,
    pub drop_missing: bool,
    /// Categorical values kept before the rest are pooled (the matrix's cap).
    pub max_categories: usize,
}

fn fingerprint(columns: &[ColumnType]) -> String {
    let text: String = columns
        .iter()
        .map(|c| format!("{}:{};", c.name, c.dtype))
        .collect();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

fn column_types(table: &DataFrame, names: &[String]) -> Vec<ColumnType> {
    names
        .iter()
        .map(|n| ColumnType {
            name: n.clone(),
            dtype: table
                .column(n)
                .map(|c| c.dtype().to_string())
                .unwrap_or_default(),
        })
        .collect()
}

impl SavedModel {
    /// A model file for `model` trained on `on`.
    pub fn new(on: &TrainedOn<'_>, model: Model) -> Result<SavedModel> {
        let mut names: Vec<String> = on.numeric.to_vec();
        names.extend(on.categorical.iter().cloned());
        let columns = column_types(on.table, &names);
        let mut reference = Vec::new();
        for c in on.numeric {
            reference.push(Reference::of(on.table, c, None)?);
        }
        let mut pooled = Vec::new();
        for c in on.categorical {
            // The model's own levels (`other` is the bin of every other value).
            let prefix = format!("{c}=");
            let levels: Vec<String> = on
                .matrix
                .transforms
                .iter()
                .filter(|t| t.one_hot && t.source == *c)
                .filter_map(|t| t.name.strip_prefix(&prefix).map(String::from))
                .collect();
            let r = Reference::of(on.table, c, Some(levels))?;
            let distinct = on
                .table
                .column(c)
                .map_err(|_| DataError::Invalid(format!("unknown feature column `{c}`")))?
                .n_unique()
                .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
            if distinct > on.max_categories {
                pooled.push(c.clone());
            }
            reference.push(r);
        }
        let training = Training {
            rows: on.matrix.values.nrows(),
            schema_fingerprint: fingerprint(&columns),
            columns,
            id_column: on.id_column.to_string(),
        };
        let features = Features {
            numeric: on.numeric.to_vec(),
            categorical: on.categorical.to_vec(),
            log1p: on.log1p.to_vec(),
            scaling: on.matrix.scaling,
            fill: on.fill.clone(),
            drop_missing: on.drop_missing,
            pooled,
            columns: on.matrix.transforms.clone(),
            reference,
        };
        Ok(SavedModel::with(training, features, model))
    }

    fn with(training: Training, features: Features, model: Model) -> SavedModel {
        SavedModel {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            crmlens_version: env!("CARGO_PKG_VERSION").into(),
            trained_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            training,
            features,
            model,
        }
    }

    /// A lifetime-value model file for a CLV fit: the parameters, the columns read, the
    /// horizon and discount rate, and the per-customer summary's distribution (for drift).
    pub fn lifetime(o: &ClvOutcome) -> Result<SavedModel> {
        let c = &o.columns;
        let amount: Vec<String> = match &c.amount {
            Amount::Column(a) => vec![a.clone()],
            Amount::Product(q, p) => vec![q.clone(), p.clone()],
        };
        // The types as the transactions are read (every format gives these).
        let mut columns = vec![
            ColumnType {
                name: c.customer.clone(),
                dtype: "str".into(),
            },
            ColumnType {
                name: c.date.clone(),
                dtype: "date".into(),
            },
        ];
        columns.extend(amount.iter().map(|a| ColumnType {
            name: a.clone(),
            dtype: "f64".into(),
        }));
        let table = o.table()?;
        let reference = CLV_SUMMARY
            .iter()
            .map(|c| Reference::of(&table, c, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let training = Training {
            rows: o.ids.len(),
            schema_fingerprint: fingerprint(&columns),
            columns,
            id_column: c.customer.clone(),
        };
        let features = Features {
            reference,
            ..Features::default()
        };
        let model = Model::Clv(Lifetime {
            customer: c.customer.clone(),
            date: c.date.clone(),
            amount,
            calibration_end: o.calibration_end,
            time_unit: o.settings.unit,
            horizon_months: o.settings.horizon_months,
            discount_rate: o.settings.discount_rate,
            bgnbd: o.run.bgnbd,
            gamma_gamma: o.run.gamma_gamma,
        });
        Ok(SavedModel::with(training, features, model))
    }

    /// A link model file for a link run: the comparison model and threshold, and the inputs
    /// with their id columns.
    pub fn linkage(r: &crate::pipeline::link::LinkRun) -> SavedModel {
        let model = LinkModel::of(&r.linked);
        let columns: Vec<ColumnType> = model
            .fields
            .iter()
            .zip(&model.kinds)
            .map(|(f, k)| ColumnType {
                name: f.clone(),
                dtype: k.clone(),
            })
            .collect();
        let training = Training {
            rows: r.linked.records().len(),
            schema_fingerprint: fingerprint(&columns),
            columns,
            id_column: r.inputs.first().map(|i| i.1.clone()).unwrap_or_default(),
        };
        let model = Model::Link(Linkage {
            inputs: r
                .inputs
                .iter()
                .map(|(p, id)| LinkedInput {
                    path: p.display().to_string(),
                    id: id.clone(),
                })
                .collect(),
            comparison: model,
        });
        SavedModel::with(training, Features::default(), model)
    }

    /// Writes the file atomically (an existing one only with `overwrite`).
    pub fn save(&self, path: &Path, overwrite: bool) -> Result<()> {
        use std::io::Write as _;
        let text = toml::to_string(self).map_err(|e| {
            DataError::Invalid(format!(
                "{}: the model cannot be written: {e}",
                path.display()
            ))
        })?;
        let mut f = crate::data::write::AtomicFile::create(path, overwrite)?;
        f.file()
            .write_all(text.as_bytes())
            .map_err(|e| DataError::io(path, e))?;
        f.commit()?;
        Ok(())
    }

    /// Reads a model file; one of another format version, or not a model file, is refused.
    pub fn load(path: &Path) -> Result<SavedModel> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let head: toml::Table = toml::from_str(&text).map_err(|e| {
            DataError::Invalid(format!(
                "{}: not a crmlens model file (it does not read as TOML: {})",
                path.display(),
                e.message()
            ))
        })?;
        if head.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(DataError::Invalid(format!(
                "{}: not a crmlens model file (no `format = \"{FORMAT}\"`); give a file written by --save-model",
                path.display()
            ))
            .into());
        }
        let version = head.get("format_version").and_then(|v| v.as_integer());
        if version != Some(FORMAT_VERSION as i64) {
            let by = head
                .get("crmlens_version")
                .and_then(|v| v.as_str())
                .unwrap_or("an unknown version");
            return Err(DataError::Invalid(format!(
                "{}: model file format version {} (written by crmlens {by}); this crmlens {} reads version {FORMAT_VERSION} only: train the model again with this version",
                path.display(),
                version.map_or("missing".to_string(), |v| v.to_string()),
                env!("CARGO_PKG_VERSION")
            ))
            .into());
        }
        toml::from_str(&text).map_err(|e| {
            DataError::Invalid(format!(
                "{}: the model file is damaged: {}",
                path.display(),
                e.message()
            ))
            .into()
        })
    }

    /// The columns scoring reads from the input.
    pub fn input_columns(&self) -> Vec<String> {
        let mut v = self.features.numeric.clone();
        v.extend(self.features.categorical.iter().cloned());
        v
    }
}

/// The per-customer summary columns whose drift a lifetime-value model reports.
pub const CLV_SUMMARY: [&str; 4] = ["frequency", "recency", "T", "monetary"];

/// One segmentation's model, as a model file keeps it.
pub fn segmentation(model: &SegmentModel, x: ndarray::ArrayView2<f64>) -> Segmentation {
    match model {
        SegmentModel::KMeans(KMeansResult {
            centroids,
            internal_scale,
            ..
        }) => Segmentation::Kmeans {
            centroids: centroids.clone(),
            internal_scale: *internal_scale,
        },
        SegmentModel::Gmm(GmmResult {
            covariance,
            weights,
            means,
            covariances,
            ..
        }) => Segmentation::Gmm {
            covariance: *covariance,
            weights: weights.clone(),
            means: means.clone(),
            covariances: covariances.clone(),
        },
        SegmentModel::Dbscan {
            eps,
            min_points,
            result,
            ..
        } => {
            let cores: Vec<usize> = (0..result.core.len()).filter(|&i| result.core[i]).collect();
            Segmentation::Dbscan {
                eps: *eps,
                min_points: *min_points,
                core_points: cores.iter().map(|&i| x.row(i).to_vec()).collect(),
                core_labels: cores.iter().map(|&i| result.labels[i]).collect(),
            }
        }
    }
}

/// A model fitted in the workbench, to save.
#[derive(Debug, Clone)]
pub enum Trained {
    Segment(SegmentModel),
    Predict(Prediction),
    Regress(ValueModel),
}

/// Saves a model the workbench fitted on `features` of `table` (its first column the key,
/// as the runs read it), building the matrix again as the run built it (a classifier's
/// target left out of its features). Returns the training rows.
pub fn save_trained(
    table: &DataFrame,
    features: &crate::data::sources::workspace::FeatureConfig,
    trained: &Trained,
    path: &Path,
    overwrite: bool,
) -> Result<usize> {
    let (model, rows) = trained_model(table, features, trained)?;
    model.save(path, overwrite)?;
    Ok(rows)
}

/// The model file a workbench model would be saved as (see [`save_trained`]), and its
/// training rows: what scores new customers with it in memory.
pub fn trained_model(
    table: &DataFrame,
    features: &crate::data::sources::workspace::FeatureConfig,
    trained: &Trained,
) -> Result<(SavedModel, usize)> {
    let mut features = features.clone();
    let target = match trained {
        Trained::Predict(p) => Some(&p.target),
        Trained::Regress(p) => Some(&p.target),
        Trained::Segment(_) => None,
    };
    if let Some(t) = target {
        features.without(t);
    }
    let m = super::input::model_matrix(table, &features)?;
    let key = table
        .get_column_names()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let on = TrainedOn {
        table,
        matrix: &m,
        id_column: &key,
        numeric: &features.numeric,
        categorical: &features.categorical,
        log1p: &features.log1p,
        fill: BTreeMap::new(),
        drop_missing: false,
        max_categories: features.max_categories,
    };
    let model = match trained {
        Trained::Segment(s) => Model::Segment(segmentation(s, m.values.view())),
        Trained::Predict(p) => Model::Predict(p.clone()),
        Trained::Regress(p) => Model::Regress(p.clone()),
    };
    Ok((SavedModel::new(&on, model)?, m.values.nrows()))
}

/// How far a feature's values in the scored rows are from the training rows'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub feature: String,
    /// Population stability index.
    pub psi: f64,
    /// "stable" (psi < 0.1), "moderate" (< 0.25) or "shifted".
    pub status: &'static str,
}

/// Rows scored with a model.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The scored rows' matrix (its keys are the rows' ids).
    pub matrix: FeatureMatrix,
    /// Segment labels (-1: noise), for a segmentation.
    pub labels: Option<Vec<i64>>,
    /// Class probabilities and the called class, for a classifier.
    pub probabilities: Option<Vec<Vec<f64>>>,
    pub predicted: Option<Vec<usize>>,
    /// Predicted values, for a regressor.
    pub values: Option<Vec<f64>>,
    pub drift: Vec<Drift>,
    /// Rows left out (a missing feature, for a model trained with `--fill drop`).
    pub dropped: usize,
}

/// Every column the model reads is in `table`, and each numeric feature is still numeric.
fn check_columns(model: &SavedModel, table: &DataFrame) -> Result<()> {
    let names: Vec<String> = table
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let input = model.input_columns();
    let missing: Vec<&String> = input.iter().filter(|c| !names.contains(c)).collect();
    if !missing.is_empty() {
        return Err(DataError::Invalid(format!(
            "the input has no column {} that the model reads; the model was trained on {}",
            missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            input.join(", ")
        ))
        .into());
    }
    for c in &model.features.numeric {
        let s = table.column(c).map_err(|_| DataError::Invalid(c.clone()))?;
        if !(s.dtype().is_primitive_numeric() || s.dtype() == &polars::prelude::DataType::Boolean) {
            let was = model
                .training
                .columns
                .iter()
                .find(|t| &t.name == c)
                .map_or("numeric".to_string(), |t| t.dtype.clone());
            return Err(DataError::Invalid(format!(
                "feature `{c}` is {} here but was {was} in training; convert it to numbers (the model cannot score text)",
                s.dtype()
            ))
            .into());
        }
    }
    Ok(())
}

/// Scores the rows of `table` (keyed by `id_col`) with `model`.
pub fn score(model: &SavedModel, table: DataFrame, id_col: &str) -> Result<Scored> {
    check_columns(model, &table)?;
    let f = &model.features;
    let mut table = crate::data::features::apply::fill_with(table, &f.fill)?;
    let mut dropped = 0;
    if f.drop_missing {
        let before = table.height();
        let cols: Vec<String> = f.numeric.clone();
        table = table
            .drop_nulls(Some(&cols))
            .map_err(|e| DataError::polars("leaving out rows with a missing feature", e))?;
        dropped = before - table.height();
    }
    let pooled: BTreeSet<String> = f.pooled.iter().cloned().collect();
    let matrix = apply(&table, id_col, &f.columns, f.scaling, &pooled)?;
    let x = matrix.values.view();
    let (mut labels, mut probabilities, mut predicted, mut values) = (None, None, None, None);
    match &model.model {
        Model::Segment(Segmentation::Kmeans {
            centroids,
            internal_scale,
        }) => {
            let km = KMeansResult {
                k: centroids.len(),
                labels: Vec::new(),
                centroids: centroids.clone(),
                inertia: 0.0,
                iterations: 0,
                sizes: Vec::new(),
                converged: true,
                best_restart: 0,
                restart_inertias: Vec::new(),
                internal_scale: *internal_scale,
            };
            labels = Some(km.predict(x).into_iter().map(|l| l as i64).collect());
        }
        Model::Segment(Segmentation::Gmm {
            covariance,
            weights,
            means,
            covariances,
        }) => {
            let g = GmmResult {
                k: weights.len(),
                covariance: *covariance,
                labels: Vec::new(),
                sizes: Vec::new(),
                weights: weights.clone(),
                means: means.clone(),
                covariances: covariances.clone(),
                log_likelihood: 0.0,
                mean_log_likelihood: 0.0,
                bic: 0.0,
                aic: 0.0,
                n_parameters: 0,
                iterations: 0,
                converged: true,
                best_restart: 0,
                restart_scores: Vec::new(),
            };
            labels = Some(g.predict(x)?.into_iter().map(|l| l as i64).collect());
        }
        Model::Segment(Segmentation::Dbscan {
            eps,
            core_points,
            core_labels,
            ..
        }) => {
            let d = x.ncols();
            let flat: Vec<f64> = core_points.iter().flatten().copied().collect();
            let cores = ndarray::Array2::from_shape_vec((core_points.len(), d), flat)
                .map_err(|e| DataError::Invalid(format!("the model's core points: {e}")))?;
            labels = Some(crate::analytics::dbscan::assign(
                cores.view(),
                core_labels,
                *eps,
                x,
            ));
        }
        Model::Clv(_) | Model::Link(_) => {
            return Err(DataError::Invalid(format!(
                "a {} model scores transactions or records, not feature rows",
                model.model.kind()
            ))
            .into());
        }
        Model::Predict(p) => {
            let proba = p.fitted.predict_proba(x);
            predicted = Some(proba.iter().map(|q| decide(q, p.threshold)).collect());
            probabilities = Some(proba);
        }
        Model::Regress(p) => values = Some(p.fitted.predict(x)),
    }
    let drift = drift(&f.reference, &table)?;
    Ok(Scored {
        matrix,
        labels,
        probabilities,
        predicted,
        values,
        drift,
        dropped,
    })
}

/// Each reference feature's population stability index in `table`.
fn drift(reference: &[Reference], table: &DataFrame) -> Result<Vec<Drift>> {
    reference
        .iter()
        .map(|r| {
            let psi = r.psi(table)?;
            Ok(Drift {
                feature: r.column.clone(),
                psi,
                status: if psi < 0.1 {
                    "stable"
                } else if psi < 0.25 {
                    "moderate"
                } else {
                    "shifted"
                },
            })
        })
        .collect()
}

/// Customers scored with a lifetime-value model.
#[derive(Debug, Clone)]
pub struct LifetimeScored {
    pub outcome: ClvOutcome,
    /// The per-customer summary's drift from the training customers'.
    pub drift: Vec<Drift>,
}

/// Scores the customers in the transactions of `input` (a data file, or a workspace's
/// orders source) with a lifetime-value model, as of `as_of` (default: the last purchase's
/// day), with the model's horizon and discount rate.
pub fn score_clv(
    model: &SavedModel,
    life: &Lifetime,
    input: &Path,
    as_of: Option<NaiveDate>,
    progress: &crate::progress::Progress,
) -> Result<LifetimeScored> {
    let settings = crate::pipeline::clv::ClvSettings {
        calibration_end: as_of,
        observation_end: None,
        unit: life.time_unit,
        horizon_months: life.horizon_months,
        discount_rate: life.discount_rate,
    };
    let outcome = crate::pipeline::clv::score(
        input,
        life.columns()?,
        &settings,
        (life.bgnbd, life.gamma_gamma),
        progress,
    )?;
    let drift = drift(&model.features.reference, &outcome.table()?)?;
    Ok(LifetimeScored { outcome, drift })
}

/// New records joined to the people of a link model's inputs.
#[derive(Debug, Clone)]
pub struct Joined {
    pub attachment: crate::data::identity::attach::Attachment,
    /// The new records' ids, in their file's order.
    pub ids: Vec<String>,
    /// The id column of the new records.
    pub id_column: String,
    /// The existing inputs (file, id column) and their records' ids.
    pub existing: Vec<(std::path::PathBuf, String)>,
    pub existing_ids: Vec<(usize, String)>,
    /// Each existing record's person id, in the order of `existing_ids`.
    pub existing_persons: Vec<u32>,
    /// Existing people (distinct person ids of the existing records), and the largest id: a
    /// person id above it is a new person.
    pub existing_people: usize,
    pub max_existing: u32,
}

/// Joins the records of `input` to the people of the link model's inputs (or `against`,
/// when given), whose person ids `persons` holds (the `--clusters-out` file of the link
/// run: input, id, person_id).
pub fn score_link(
    link: &Linkage,
    input: &Path,
    id_col: Option<&str>,
    against: &[std::path::PathBuf],
    persons: &Path,
    progress: &crate::progress::Progress,
) -> Result<Joined> {
    use crate::data::identity::run::id_column;
    use crate::data::sources::file::{ReadOptions, read_frame};
    let existing: Vec<(std::path::PathBuf, Option<String>)> = if against.is_empty() {
        link.inputs
            .iter()
            .map(|i| (std::path::PathBuf::from(&i.path), Some(i.id.clone())))
            .collect()
    } else {
        // A file the model linked keeps its id column; another's is found.
        against
            .iter()
            .map(|p| {
                let id = link
                    .inputs
                    .iter()
                    .find(|i| Path::new(&i.path).file_name() == p.file_name())
                    .map(|i| i.id.clone());
                (p.clone(), id)
            })
            .collect()
    };
    let mut frames = Vec::new();
    let mut ids = Vec::new();
    for (path, id) in &existing {
        progress.label(&format!("reading {}", path.display()));
        let df = read_frame(path, &ReadOptions::default()).map_err(|e| {
            DataError::Invalid(format!(
                "the existing records the link model joins to: {e} (give them with --against FILE)"
            ))
        })?;
        let id = id_column(&df, path, id.as_deref())?;
        frames.push(df);
        ids.push(id);
    }
    let new = read_frame(input, &ReadOptions::default())?;
    let new_id = id_column(&new, input, id_col)?;
    let people = read_persons(persons)?;
    // Each existing record's person id, by (input, id).
    let mut existing_ids = Vec::new();
    let mut person_of = Vec::new();
    for (k, ((path, _), (df, id))) in existing.iter().zip(frames.iter().zip(&ids)).enumerate() {
        let by_input = people.for_input(path, persons)?;
        for rid in crate::data::identity::records::ids_of(df, id).map_err(DataError::Invalid)? {
            let Some(&p) = by_input.get(rid.as_str()) else {
                return Err(DataError::Invalid(format!(
                    "{}: record `{rid}` of {} has no person id; give the --clusters-out file of the link run that linked these records",
                    persons.display(),
                    path.display()
                ))
                .into());
            };
            person_of.push(p);
            existing_ids.push((k, rid));
        }
    }
    let sources: Vec<(&DataFrame, &str)> = frames
        .iter()
        .zip(&ids)
        .map(|(df, id)| (df, id.as_str()))
        .collect();
    let attachment = crate::data::identity::attach::attach(
        &sources,
        &person_of,
        (&new, new_id.as_str()),
        &link.comparison,
        progress,
    )
    .map_err(|e| match e {
        crate::data::identity::link::LinkError::Cancelled => DataError::Cancelled,
        crate::data::identity::link::LinkError::Input(m) => DataError::Invalid(m),
    })?;
    let new_ids =
        crate::data::identity::records::ids_of(&new, &new_id).map_err(DataError::Invalid)?;
    let mut distinct = person_of.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let max_existing = distinct.last().copied().unwrap_or(0);
    Ok(Joined {
        attachment,
        ids: new_ids,
        id_column: new_id,
        existing: existing
            .iter()
            .zip(ids)
            .map(|((p, _), id)| (p.clone(), id))
            .collect(),
        existing_ids,
        existing_persons: person_of,
        existing_people: distinct.len(),
        max_existing,
    })
}

/// A link run's person ids: input -> record id -> person id.
struct Persons(BTreeMap<String, std::collections::HashMap<String, u32>>);

fn read_persons(path: &Path) -> Result<Persons> {
    use crate::data::sources::file::{ReadOptions, read_frame};
    let mut opts = ReadOptions::default();
    for c in ["input", "id"] {
        opts.schema.insert(c.into(), "text".into());
    }
    let df = read_frame(path, &opts)?;
    let column = |c: &str| {
        df.column(c).map_err(|_| {
            DataError::Invalid(format!(
                "{}: no `{c}` column; give the --clusters-out file of the link run (input, id, person_id)",
                path.display()
            ))
        })
    };
    let text = |c: &str| -> Result<Vec<String>> {
        let col = column(c)?
            .cast(&polars::prelude::DataType::String)
            .map_err(|e| DataError::polars(format!("{}: `{c}`", path.display()), e))?;
        Ok(col
            .str()
            .map_err(|e| DataError::polars(format!("{}: `{c}`", path.display()), e))?
            .iter()
            .map(|v| v.unwrap_or("").trim().to_string())
            .collect())
    };
    let (inputs, ids) = (text("input")?, text("id")?);
    let person = column("person_id")?
        .cast(&polars::prelude::DataType::UInt32)
        .map_err(|e| DataError::polars(format!("{}: `person_id`", path.display()), e))?;
    let person = person
        .u32()
        .map_err(|e| DataError::polars(format!("{}: `person_id`", path.display()), e))?;
    let mut out: BTreeMap<String, std::collections::HashMap<String, u32>> = BTreeMap::new();
    for ((input, id), p) in inputs.into_iter().zip(ids).zip(person.iter()) {
        let Some(p) = p else {
            return Err(DataError::Invalid(format!(
                "{}: record `{id}` of {input} has no person_id",
                path.display()
            ))
            .into());
        };
        out.entry(input).or_default().insert(id, p);
    }
    Ok(Persons(out))
}

impl Persons {
    /// The person ids of the records of `path`: listed under its path as given, else under
    /// the one input of the same file name.
    fn for_input(
        &self,
        path: &Path,
        file: &Path,
    ) -> Result<&std::collections::HashMap<String, u32>> {
        if let Some(m) = self.0.get(&path.display().to_string()) {
            return Ok(m);
        }
        let name = path.file_name();
        let same: Vec<&String> = self
            .0
            .keys()
            .filter(|k| Path::new(k.as_str()).file_name() == name)
            .collect();
        match same.as_slice() {
            [one] => Ok(&self.0[*one]),
            _ => Err(DataError::Invalid(format!(
                "{}: no person ids for {} (its inputs are {}); give the --clusters-out file of the link run that linked it",
                file.display(),
                path.display(),
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
            .into()),
        }
    }
}
