//! The workspace's analysis sections (`[segment]`, `[rules]`, `[predict]`, `[clv]`,
//! `[recommend]`) to and from the screens' parameters. Reading checks each name and range
//! and reports a bad value as a problem naming its key (and line, when the text is at hand),
//! keeping the default for that value only, so the workbench opens with everything else.

use crate::analytics::gmm::CovarianceType;
use crate::analytics::itemsets::Algorithm as ItemsetAlgorithm;
use crate::analytics::limits;
use crate::analytics::predict::{ModelKind, PredictParams};
use crate::analytics::rules::SortBy;
use crate::analytics::segment::{Algorithm, SegmentParams};
use crate::analytics::tree::Criterion;
use crate::data::sources::workspace::{self, Workspace};

use crate::pipeline::clv::ClvSettings;
use crate::pipeline::rules::RulesParams;

/// Every screen's parameters as a workspace sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub segment: SegmentParams,
    /// The k sweep's largest k.
    pub sweep_max_k: usize,
    pub rules: RulesParams,
    pub rules_sort: SortBy,
    pub rules_filter: Option<String>,
    pub predict: PredictParams,
    /// None: the screen's choice (`churned` when there is one).
    pub target: Option<String>,
    pub clv: ClvSettings,
    pub top: usize,
    pub neighbours: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            segment: SegmentParams::default(),
            sweep_max_k: 10,
            rules: RulesParams::default(),
            rules_sort: SortBy::Lift,
            rules_filter: None,
            predict: PredictParams::default(),
            target: None,
            clv: ClvSettings::default(),
            top: 10,
            neighbours: 50,
        }
    }
}

/// A value the workspace sets wrongly: its key (`segment.algorithm`) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    /// One line naming the file, the line (found in `text`, when given) and the key.
    pub fn describe(&self, file: &std::path::Path, text: Option<&str>) -> String {
        let line = text
            .and_then(|t| key_line(t, &self.key))
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        format!(
            "{}: {line}`{}`: {}; the default is used",
            file.display(),
            self.key,
            self.message
        )
    }
}

/// The line of `section.key = ...` in workspace text (1-based).
pub fn key_line(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.rsplit_once('.')?;
    let mut in_section = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t.trim_matches(|c| c == '[' || c == ']').trim() == section;
        } else if in_section
            && t.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == key)
        {
            return Some(workspace::line_of(text, offset));
        }
        offset += line.len();
    }
    None
}

struct Reader {
    problems: Vec<Problem>,
}

impl Reader {
    fn bad(&mut self, key: &str, message: String) {
        self.problems.push(Problem {
            key: key.to_string(),
            message,
        });
    }

    /// `v` when `limit` allows it, else a problem (the rule the command line checks too).
    fn whole(&mut self, key: &str, v: Option<usize>, limit: limits::Whole) -> Option<usize> {
        match limit.check(v?) {
            Ok(v) => Some(v),
            Err(m) => {
                self.bad(key, m);
                None
            }
        }
    }

    fn real(&mut self, key: &str, v: Option<f64>, limit: limits::Real) -> Option<f64> {
        match limit.check(v?) {
            Ok(v) => Some(v),
            Err(m) => {
                self.bad(key, m);
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        key: &str,
        v: Option<&String>,
        options: &[(&str, T)],
    ) -> Option<T> {
        let v = v?;
        let found = options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(v.trim()))
            .map(|(_, t)| *t);
        if found.is_none() {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            self.bad(
                key,
                format!("unknown value \"{v}\" (use {})", names.join(", ")),
            );
        }
        found
    }
}

const SEGMENT_ALGORITHMS: [(&str, Algorithm); 3] = [
    ("kmeans", Algorithm::KMeans),
    ("dbscan", Algorithm::Dbscan),
    ("gmm", Algorithm::Gmm),
];
const ITEMSET_ALGORITHMS: [(&str, ItemsetAlgorithm); 2] = [
    ("fpgrowth", ItemsetAlgorithm::FpGrowth),
    ("apriori", ItemsetAlgorithm::Apriori),
];
const MODELS: [(&str, ModelKind); 3] = [
    ("forest", ModelKind::Forest),
    ("tree", ModelKind::Tree),
    ("logistic", ModelKind::Logistic),
];
const CRITERIA: [(&str, Criterion); 2] =
    [("gini", Criterion::Gini), ("entropy", Criterion::Entropy)];

fn name_of<T: Copy + PartialEq>(options: &[(&'static str, T)], v: T) -> String {
    options
        .iter()
        .find(|(_, t)| *t == v)
        .map(|(n, _)| n.to_string())
        .unwrap_or_default()
}

/// The screens' parameters from a workspace, and what it sets wrongly (those values keep
/// their defaults).
pub fn from_workspace(ws: &Workspace) -> (Settings, Vec<Problem>) {
    let mut r = Reader {
        problems: Vec::new(),
    };
    let mut s = Settings::default();

    let g = &ws.segment;
    let p = &mut s.segment;
    if let Some(a) = r.choice(
        "segment.algorithm",
        g.algorithm.as_ref(),
        &SEGMENT_ALGORITHMS,
    ) {
        p.algorithm = a;
    }
    // Restarts, iterations and tolerance belong to the chosen algorithm (k-means's for
    // DBSCAN, which has none); k and the seed are shared by k-means and the mixture, as on
    // the screen.
    let gmm = p.algorithm == Algorithm::Gmm;
    if let Some(k) = r.whole("segment.k", g.k, limits::K) {
        p.gmm.k = k;
        p.kmeans.k = k;
    }
    if let Some(n) = r.whole("segment.n_init", g.n_init, limits::N_INIT) {
        if gmm {
            p.gmm.n_init = n
        } else {
            p.kmeans.n_init = n
        }
    }
    if let Some(n) = r.whole("segment.max_iter", g.max_iter, limits::MAX_ITER) {
        if gmm {
            p.gmm.max_iter = n
        } else {
            p.kmeans.max_iter = n
        }
    }
    if let Some(t) = r.real("segment.tol", g.tol, limits::TOL) {
        if gmm { p.gmm.tol = t } else { p.kmeans.tol = t }
    }
    if let Some(seed) = g.seed {
        p.gmm.seed = seed;
        p.kmeans.seed = seed;
    }
    if let Some(e) = r.real("segment.eps", g.eps, limits::EPS) {
        p.eps = e;
    }
    if let Some(m) = r.whole("segment.min_points", g.min_points, limits::MIN_POINTS) {
        p.min_points = m;
    }
    if let Some(c) = g.covariance.as_ref() {
        match CovarianceType::parse(c.trim()) {
            Some(c) => p.gmm.covariance = c,
            None => r.bad(
                "segment.covariance",
                format!("unknown value \"{c}\" (use full, tied, diag, spherical)"),
            ),
        }
    }
    if let Some(k) = r.whole("segment.sweep_max_k", g.sweep_max_k, limits::SWEEP_MAX_K) {
        s.sweep_max_k = k;
    }

    let w = &ws.rules;
    let p = &mut s.rules;
    if let Some(b) = r.choice(
        "rules.baskets",
        w.baskets.as_ref(),
        &[("order", false), ("customer", true)],
    ) {
        p.per_customer = b;
    }
    if let Some(i) = r.choice(
        "rules.items",
        w.items.as_ref(),
        &[("product", false), ("category", true)],
    ) {
        p.by_category = i;
    }
    if let Some(a) = r.choice("rules.algorithm", w.algorithm.as_ref(), &ITEMSET_ALGORITHMS) {
        p.algorithm = a;
    }
    if let Some(v) = r.real("rules.min_support", w.min_support, limits::MIN_SUPPORT) {
        p.min_support = v;
    }
    if let Some(v) = r.real(
        "rules.min_confidence",
        w.min_confidence,
        limits::MIN_CONFIDENCE,
    ) {
        p.min_confidence = v;
    }
    if let Some(v) = r.real("rules.min_lift", w.min_lift, limits::MIN_LIFT) {
        p.min_lift = v;
    }
    if let Some(v) = r.whole("rules.max_len", w.max_len, limits::MAX_LEN) {
        p.max_len = v;
    }
    if let Some(sort) = w.sort.as_ref() {
        match SortBy::parse(sort.trim()) {
            Some(b) => s.rules_sort = b,
            None => {
                let names: Vec<&str> = SortBy::ALL.iter().map(|b| b.name()).collect();
                r.bad(
                    "rules.sort",
                    format!("unknown value \"{sort}\" (use {})", names.join(", ")),
                )
            }
        }
    }
    s.rules_filter = w.filter.clone().filter(|f| !f.trim().is_empty());

    let w = &ws.predict;
    let p = &mut s.predict;
    s.target = w.target.clone();
    if let Some(m) = r.choice("predict.model", w.model.as_ref(), &MODELS) {
        p.model = m;
    }
    if let Some(v) = r.whole("predict.trees", w.trees, limits::TREES) {
        p.n_trees = v;
    }
    if let Some(v) = r.whole("predict.max_depth", w.max_depth, limits::MAX_DEPTH) {
        p.tree.max_depth = v;
    }
    if let Some(v) = r.whole("predict.min_leaf", w.min_leaf, limits::MIN_LEAF) {
        p.tree.min_samples_leaf = v;
    }
    if let Some(c) = r.choice("predict.criterion", w.criterion.as_ref(), &CRITERIA) {
        p.tree.criterion = c;
    }
    if let Some(v) = r.real("predict.alpha", w.alpha, limits::ALPHA) {
        p.logistic.alpha = v;
    }
    if let Some(v) = r.real("predict.threshold", w.threshold, limits::THRESHOLD) {
        p.threshold = v;
    }
    if let Some(v) = r.whole("predict.folds", w.folds, limits::FOLDS) {
        p.folds = v;
    }
    if let Some(v) = r.real("predict.test_size", w.test_size, limits::TEST_SIZE) {
        p.test_size = v;
    }
    if let Some(seed) = w.seed {
        p.seed = seed;
        p.tree.seed = seed;
    }

    let w = &ws.clv;
    s.clv.calibration_end = w.calibration_end;
    if let Some(weeks) = r.choice(
        "clv.unit",
        w.unit.as_ref(),
        &[("days", false), ("weeks", true)],
    ) {
        s.clv.weeks = weeks;
    }
    if let Some(v) = r.whole(
        "clv.horizon_months",
        w.horizon_months,
        limits::HORIZON_MONTHS,
    ) {
        s.clv.horizon_months = v;
    }
    if let Some(v) = r.real("clv.discount_rate", w.discount_rate, limits::DISCOUNT_RATE) {
        s.clv.discount_rate = v;
    }

    let w = &ws.recommend;
    if let Some(v) = r.whole("recommend.top", w.top, limits::TOP) {
        s.top = v;
    }
    if let Some(v) = r.whole("recommend.neighbours", w.neighbours, limits::NEIGHBOURS) {
        s.neighbours = v;
    }
    (s, r.problems)
}

/// Writes the screens' parameters into `ws`'s analysis sections, every value spelled out
/// (so a saved workspace replays the same run even if a default changes).
pub fn to_workspace(s: &Settings, ws: &mut Workspace) {
    let p = &s.segment;
    let gmm = p.algorithm == Algorithm::Gmm;
    ws.segment = workspace::SegmentSettings {
        algorithm: Some(name_of(&SEGMENT_ALGORITHMS, p.algorithm)),
        k: Some(if gmm { p.gmm.k } else { p.kmeans.k }),
        n_init: Some(if gmm { p.gmm.n_init } else { p.kmeans.n_init }),
        max_iter: Some(if gmm {
            p.gmm.max_iter
        } else {
            p.kmeans.max_iter
        }),
        tol: Some(if gmm { p.gmm.tol } else { p.kmeans.tol }),
        seed: Some(if gmm { p.gmm.seed } else { p.kmeans.seed }),
        eps: Some(p.eps),
        min_points: Some(p.min_points),
        covariance: Some(p.gmm.covariance.name().to_string()),
        sweep_max_k: Some(s.sweep_max_k),
    };
    let p = &s.rules;
    ws.rules = workspace::RulesSettings {
        baskets: Some(if p.per_customer { "customer" } else { "order" }.into()),
        items: Some(if p.by_category { "category" } else { "product" }.into()),
        algorithm: Some(name_of(&ITEMSET_ALGORITHMS, p.algorithm)),
        min_support: Some(p.min_support),
        min_confidence: Some(p.min_confidence),
        min_lift: Some(p.min_lift),
        max_len: Some(p.max_len),
        sort: Some(s.rules_sort.name().to_string()),
        filter: s.rules_filter.clone(),
    };
    let p = &s.predict;
    ws.predict = workspace::PredictSettings {
        target: s.target.clone(),
        model: Some(name_of(&MODELS, p.model)),
        trees: Some(p.n_trees),
        max_depth: Some(p.tree.max_depth),
        min_leaf: Some(p.tree.min_samples_leaf),
        criterion: Some(name_of(&CRITERIA, p.tree.criterion)),
        alpha: Some(p.logistic.alpha),
        threshold: Some(p.threshold),
        folds: Some(p.folds),
        test_size: Some(p.test_size),
        seed: Some(p.seed),
    };
    ws.clv = workspace::ClvSettings {
        calibration_end: s.clv.calibration_end,
        unit: Some(if s.clv.weeks { "weeks" } else { "days" }.into()),
        horizon_months: Some(s.clv.horizon_months),
        discount_rate: Some(s.clv.discount_rate),
    };
    ws.recommend = workspace::RecommendSettings {
        top: Some(s.top),
        neighbours: Some(s.neighbours),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(extra: &str) -> Workspace {
        let text = format!("[sources.customers]\npath = \"c.csv\"\n{extra}");
        Workspace::parse(&text, std::path::Path::new("w.toml")).unwrap()
    }

    #[test]
    fn sections_set_the_parameters() {
        let w = ws(
            "[segment]\nalgorithm = \"gmm\"\nk = 6\nseed = 7\ncovariance = \"diag\"\n\
             [rules]\nbaskets = \"customer\"\nmin_support = 0.02\nsort = \"confidence\"\n\
             [predict]\nmodel = \"logistic\"\nalpha = 0.5\nfolds = 3\n\
             [clv]\nunit = \"weeks\"\nhorizon_months = 6\n[recommend]\ntop = 5\n",
        );
        let (s, problems) = from_workspace(&w);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.segment.algorithm, Algorithm::Gmm);
        assert_eq!((s.segment.gmm.k, s.segment.gmm.seed), (6, 7));
        assert_eq!(s.segment.gmm.covariance, CovarianceType::Diag);
        assert!(s.rules.per_customer);
        assert_eq!(s.rules.min_support, 0.02);
        assert_eq!(s.rules_sort, SortBy::Confidence);
        assert_eq!(s.predict.model, ModelKind::Logistic);
        assert_eq!((s.predict.logistic.alpha, s.predict.folds), (0.5, 3));
        assert!(s.clv.weeks);
        assert_eq!((s.clv.horizon_months, s.top), (6, 5));
    }

    #[test]
    fn a_bad_value_is_a_problem_naming_key_and_line_and_keeps_the_default() {
        let text = "[sources.customers]\npath = \"c.csv\"\n[segment]\nk = 5\nalgorithm = \"kmedoids\"\n[predict]\nfolds = 1\n";
        let w = Workspace::parse(text, std::path::Path::new("w.toml")).unwrap();
        let (s, problems) = from_workspace(&w);
        assert_eq!(s.segment.algorithm, Algorithm::KMeans);
        assert_eq!(s.segment.kmeans.k, 5);
        assert_eq!(s.predict.folds, PredictParams::default().folds);
        assert_eq!(problems.len(), 2);
        let first = problems[0].describe(std::path::Path::new("w.toml"), Some(text));
        assert!(
            first.starts_with("w.toml: line 5: `segment.algorithm`: unknown value \"kmedoids\""),
            "{first}"
        );
        let second = problems[1].describe(std::path::Path::new("w.toml"), Some(text));
        assert!(
            second.contains("line 7: `predict.folds`: 1 is out of range"),
            "{second}"
        );
    }

    #[test]
    fn settings_survive_a_round_trip_through_toml() {
        let mut s = Settings::default();
        s.segment.algorithm = Algorithm::Dbscan;
        s.segment.eps = 0.75;
        s.segment.min_points = 9;
        s.rules.by_category = true;
        s.rules.algorithm = ItemsetAlgorithm::Apriori;
        s.rules_filter = Some("tent".into());
        s.predict.model = ModelKind::Tree;
        s.predict.tree.criterion = Criterion::Entropy;
        s.predict.seed = 9;
        s.predict.tree.seed = 9;
        s.target = Some("churned".into());
        s.clv.calibration_end = chrono::NaiveDate::from_ymd_opt(2024, 6, 30);
        s.neighbours = 20;
        let mut w = ws("");
        to_workspace(&s, &mut w);
        let text = w.to_toml(std::path::Path::new(".")).unwrap();
        let back = Workspace::parse(&text, std::path::Path::new("w.toml")).unwrap();
        let (again, problems) = from_workspace(&back);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(again, s);
    }
}
