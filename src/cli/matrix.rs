//! The input and feature flags the model subcommands share (`--input`, `--features`, `--categorical`, scaling, missing values), and the feature matrix they build.

use super::*;
use crate::data::sources::workspace::Scaling;

/// How `--fill` fills a feature's missing values (a workspace's [cleaning] policy names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    Mean,
    Median,
    Drop,
}

crate::choice!(Fill { Mean => "mean", Median => "median", Drop => "drop" });

/// The data and features a model runs on (shared by `segment` and `sweep`).
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// A data file, or a workspace (.toml) whose customer-360 table is used.
    #[arg(long)]
    pub input: PathBuf,
    /// Numeric feature columns, comma-separated. Default (with no --categorical either): what
    /// the workbench's Features screen ticks first: numeric columns that are not ids,
    /// constant, the target or personal data, and low-cardinality text one-hot.
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Scaling: standard, minmax, robust or none.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Scaling::Standard)]
    pub scale: Scaling,
    /// Missing values in the features: mean, median or drop (default: refuse).
    #[arg(long, value_enum, ignore_case = true)]
    pub fill: Option<Fill>,
    /// Text columns to one-hot encode as features, comma-separated (at most 20 levels each;
    /// rarer ones are pooled as "other").
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Features to take log(1 + x) of before scaling, comma-separated (as a workspace's
    /// [features] log1p).
    #[arg(long, value_delimiter = ',')]
    pub log1p: Vec<String>,
}

/// The feature matrix of `--input` for `--features`, as `segment` and `sweep` build it.
/// Without `need_ids` (nothing is written per row) a data file's id column is not read and
/// rows are keyed by their number.
/// The feature matrix of `--input`, with the id column it is keyed by, the feature names,
/// and the table it was built from (with `extra` columns, e.g. a target, read alongside, so
/// their rows line up with the matrix even after `--fill drop`).
pub(crate) struct Matrix {
    pub(super) m: crate::data::features::FeatureMatrix,
    pub(super) id_col: String,
    pub(super) features: Vec<String>,
    pub(super) table: polars::prelude::DataFrame,
    /// The numeric and categorical features, the log1p ones, the values missing ones were
    /// filled with (`--fill mean|median`) and whether rows with one were dropped: what a
    /// saved model records.
    pub(super) numeric: Vec<String>,
    pub(super) categorical: Vec<String>,
    pub(super) log1p: Vec<String>,
    pub(super) fill: std::collections::BTreeMap<String, f64>,
    pub(super) drop_missing: bool,
}

/// Categorical values kept before the rest are pooled as "other".
pub(super) const MAX_CATEGORIES: usize = 20;

impl Matrix {
    /// What a saved model of this matrix records.
    pub(super) fn trained_on(&self) -> crate::pipeline::saved::TrainedOn<'_> {
        crate::pipeline::saved::TrainedOn {
            table: &self.table,
            matrix: &self.m,
            id_column: &self.id_col,
            numeric: &self.numeric,
            categorical: &self.categorical,
            log1p: &self.log1p,
            fill: self.fill.clone(),
            drop_missing: self.drop_missing,
            max_categories: MAX_CATEGORIES,
        }
    }
}

pub(super) fn feature_matrix(
    args: &MatrixArgs,
    id_col: Option<String>,
    need_ids: bool,
    extra: &[String],
) -> Result<Matrix> {
    use crate::data::features::build_features;
    use crate::data::sources::workspace::FeatureConfig;
    let (input, scaling, fill) = (args.input.as_path(), args.scale, args.fill);
    let mut features: Vec<String> = args
        .features
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let mut categorical: Vec<String> = args
        .categorical
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    if !args.features.is_empty() && features.is_empty() {
        bail!("--features is empty; name one or more numeric columns, comma-separated");
    }
    if features.is_empty() && categorical.is_empty() {
        // No features named: the first pick, from the whole table (`extra` holds the target).
        let (table, _) = crate::pipeline::input::load_table(input, &Progress::new())?;
        let pii: Vec<String> = pii_columns(input, &table)
            .into_iter()
            .map(|p| p.column)
            .collect();
        let pick =
            crate::data::features::first_pick(&table, extra.first().map(String::as_str), &pii);
        features = pick.numeric;
        categorical = pick.categorical;
        if features.is_empty() && categorical.is_empty() {
            bail!(
                "{}: no column to use as a feature (numeric, not an id, not constant, not personal data); name them with --features",
                input.display()
            );
        }
    }
    let mut wanted = features.clone();
    wanted.extend(categorical.iter().cloned());
    wanted.extend(extra.iter().cloned());
    if need_ids && let Some(id) = &id_col {
        wanted.push(id.clone());
    }
    let with_first = need_ids && id_col.is_none();
    let progress = Progress::new();
    let (mut table, key) = {
        let _bar = bar::show(&progress);
        crate::pipeline::input::load_columns(input, &wanted, with_first, &progress)?
    };
    for f in &features {
        if let Ok(c) = table.column(f)
            && c.dtype() == &polars::prelude::DataType::String
        {
            bail!(
                "{}: feature `{f}` is text; pass it with --categorical {f} (one-hot) or choose a numeric column",
                input.display()
            );
        }
    }
    let id_col = if need_ids || key.is_some() {
        id_col
    } else {
        const ROW: &str = "__row";
        table = table
            .with_row_index(ROW.into(), None)
            .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
        Some(ROW.to_string())
    };
    let mut fill_values = std::collections::BTreeMap::new();
    if let Some(fill) = fill {
        for f in &features {
            if table.column(f).is_err() {
                bail!("{}: unknown feature column `{f}`", input.display());
            }
        }
        if fill == Fill::Drop {
            let policies = features
                .iter()
                .map(|f| (f.clone(), fill.to_string()))
                .collect();
            table = crate::data::integrate::clean::fill_missing(table, &policies)?.0;
        } else {
            // The values are kept, so that a saved model fills new rows with the same ones.
            use crate::data::features::apply;
            fill_values = apply::fill_values(&table, &features, fill == Fill::Median)
                .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
            table = apply::fill_with(table, &fill_values)?;
        }
    }
    let id_col = id_column(&table, id_col.or(key), input)?;
    let cfg = FeatureConfig {
        numeric: features.clone(),
        categorical: categorical.clone(),
        scaling,
        log1p: args
            .log1p
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        max_categories: MAX_CATEGORIES,
    };
    let m = build_features(&table, &id_col, &cfg)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let numeric = features.clone();
    features.extend(categorical.iter().cloned());
    Ok(Matrix {
        m,
        id_col,
        features,
        table,
        numeric,
        categorical,
        log1p: cfg.log1p,
        fill: fill_values,
        drop_missing: fill == Some(Fill::Drop),
    })
}

/// The id column: the one given (`--id-col`, else the workspace's key), else the table's
/// first; an error when `table` has no such column.
pub(super) fn id_column(
    table: &polars::prelude::DataFrame,
    given: Option<String>,
    input: &Path,
) -> Result<String> {
    let id_col = match given {
        Some(c) => c,
        None => table
            .get_column_names()
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    };
    if table.column(&id_col).is_err() {
        bail!("--id-col {id_col}: no such column in {}", input.display());
    }
    Ok(id_col)
}

/// The personal-data columns of `table`, read from `input` (a workspace's `[privacy]`
/// counts: its marks, its exceptions, and `show_pii = true`, which masks nothing).
pub(super) fn pii_columns(
    input: &Path,
    table: &polars::prelude::DataFrame,
) -> Vec<crate::data::privacy::PiiColumn> {
    let config = if crate::data::sources::workspace::is_workspace(input) {
        Workspace::load(input)
            .map(|w| w.privacy)
            .unwrap_or_default()
    } else {
        Default::default()
    };
    if config.show_pii {
        return Vec::new();
    }
    crate::data::privacy::detect(table, &config)
}

/// The feature names of `m` as they may be printed: a one-hot level of a personal-data
/// column masked as the workbench masks its values (`name=A. S.`).
pub(super) fn printable_features(
    m: &crate::data::features::FeatureMatrix,
    pii: &[crate::data::privacy::PiiColumn],
) -> Vec<String> {
    crate::data::privacy::mask_feature_names(m.names.iter().map(String::as_str), pii)
}
