//! The workspace's analysis sections (`[segment]`, `[rules]`, `[predict]`, `[clv]`,
//! `[recommend]`) to and from the analyses' settings. Each section is the serde form of its
//! analysis's one settings type ([`PredictSettings`], ...; the command line flattens the
//! same types into its flags). Reading goes key by key: a key that does not parse, names no
//! setting or is out of range is a problem naming it (and its line, when the text is at
//! hand) and keeps the default for that value only, so the workbench opens with everything
//! else.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::analytics::segment::SegmentParams;
use crate::data::sources::workspace::{self, Workspace};

use crate::pipeline::clv::ClvSettings;
use crate::pipeline::link::LinkSettings;
use crate::pipeline::predict::PredictSettings;
use crate::pipeline::recommend::RecommendSettings;
use crate::pipeline::rules::RulesSettings;
use crate::pipeline::segment::SegmentSettings;

/// Every screen's parameters as a workspace sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The Segments screen keeps every algorithm's values; `[segment]` holds the chosen
    /// one's ([`SegmentSettings`] translates).
    pub segment: SegmentParams,
    /// The k sweep's largest k.
    pub sweep_max_k: usize,
    pub rules: RulesSettings,
    pub predict: PredictSettings,
    pub clv: ClvSettings,
    pub recommend: RecommendSettings,
    pub identity: LinkSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            segment: SegmentParams::default(),
            sweep_max_k: SegmentSettings::SWEEP_MAX_K,
            rules: RulesSettings::default(),
            predict: PredictSettings::default(),
            clv: ClvSettings::default(),
            recommend: RecommendSettings::default(),
            identity: LinkSettings::default(),
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

/// An analysis's settings as a workspace section holds them: serde names the keys (every
/// key optional, `#[serde(default, deny_unknown_fields)]`), `out_of_range` holds the values
/// to the ranges the command line and the screens use (`analytics::limits`).
pub trait Section: Serialize + DeserializeOwned + Default {
    /// The section's name: `segment`.
    const NAME: &'static str;
    /// The keys whose values are out of range, with why.
    fn out_of_range(&self) -> Vec<(&'static str, String)>;
}

/// `(key, why)` when `limit` refuses `v`.
pub fn check_whole(
    key: &'static str,
    v: usize,
    limit: crate::analytics::limits::Whole,
) -> Option<(&'static str, String)> {
    limit.check(v).err().map(|m| (key, m))
}

/// `(key, why)` when `limit` refuses `v`.
pub fn check_real(
    key: &'static str,
    v: f64,
    limit: crate::analytics::limits::Real,
) -> Option<(&'static str, String)> {
    limit.check(v).err().map(|m| (key, m))
}

/// The serde message without toml's position and quoting of the whole table.
fn message(e: &toml::de::Error) -> String {
    let m = e.message().trim();
    match m.strip_prefix("unknown field ") {
        Some(rest) => {
            let (name, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
            let keys = expected
                .trim()
                .trim_start_matches("one of")
                .replace('`', "");
            format!("unknown key {name} (use {})", keys.trim())
        }
        None => m.to_string(),
    }
}

/// Section `T` from its raw table, key by key (in file order); each key that does not parse
/// or is out of range is a problem and keeps its default.
pub fn read<T: Section>(raw: &toml::Table, problems: &mut Vec<Problem>) -> T {
    let parse = |t: &toml::Table| toml::Value::Table(t.clone()).try_into::<T>();
    let mut good = toml::Table::new();
    for (key, value) in raw {
        let mut trial = good.clone();
        trial.insert(key.clone(), value.clone());
        let why = match parse(&trial) {
            Ok(t) => t
                .out_of_range()
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, m)| m),
            Err(e) => Some(message(&e)),
        };
        match why {
            Some(message) => problems.push(Problem {
                key: format!("{}.{key}", T::NAME),
                message,
            }),
            None => good = trial,
        }
    }
    parse(&good).unwrap_or_default()
}

/// Section `T` as a workspace table, every value spelled out (so a saved workspace replays
/// the same run even if a default changes).
pub fn write<T: Section>(t: &T) -> toml::Table {
    toml::Table::try_from(t).unwrap_or_default()
}

/// The screens' parameters from a workspace, and what it sets wrongly (those values keep
/// their defaults).
pub fn from_workspace(ws: &Workspace) -> (Settings, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut s = Settings::default();
    let segment: SegmentSettings = read(&ws.segment, &mut problems);
    segment.apply(&mut s.segment, &mut s.sweep_max_k);
    s.rules = read(&ws.rules, &mut problems);
    s.predict = read(&ws.predict, &mut problems);
    s.clv = read(&ws.clv, &mut problems);
    s.recommend = read(&ws.recommend, &mut problems);
    s.identity = read(&ws.identity, &mut problems);
    // The other customer lists as files wherever the workspace is (a saved copy elsewhere
    // writes them relative to itself, see `Workspace::to_toml`).
    for src in &mut s.identity.sources {
        src.path = crate::data::identity::run::resolved(&ws.base_dir, &src.path);
    }
    (s, problems)
}

/// Writes the screens' parameters into `ws`'s analysis sections, every value spelled out.
pub fn to_workspace(s: &Settings, ws: &mut Workspace) {
    ws.segment = write(&SegmentSettings::of(&s.segment, s.sweep_max_k));
    ws.rules = write(&s.rules);
    ws.predict = write(&s.predict);
    ws.clv = write(&s.clv);
    ws.recommend = write(&s.recommend);
    ws.identity = write(&s.identity);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::gmm::CovarianceType;
    use crate::analytics::itemsets::Algorithm as ItemsetAlgorithm;
    use crate::analytics::predict::ModelKind;
    use crate::analytics::rules::SortBy;
    use crate::analytics::segment::Algorithm;
    use crate::analytics::tree::Criterion;
    use crate::pipeline::clv::TimeUnit;
    use crate::pipeline::rules::{Baskets, Items};

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
        assert_eq!(s.rules.baskets, Baskets::Customer);
        assert_eq!(s.rules.min_support, 0.02);
        assert_eq!(s.rules.sort, SortBy::Confidence);
        assert_eq!(s.predict.model, ModelKind::Logistic);
        assert_eq!((s.predict.alpha, s.predict.folds), (Some(0.5), 3));
        assert_eq!(s.clv.unit, TimeUnit::Weeks);
        assert_eq!((s.clv.horizon_months, s.recommend.top), (6, 5));
    }

    #[test]
    fn a_bad_value_is_a_problem_naming_key_and_line_and_keeps_the_default() {
        let text = "[sources.customers]\npath = \"c.csv\"\n[segment]\nk = 5\nalgorithm = \"kmedoids\"\n[predict]\nfolds = 1\n";
        let w = Workspace::parse(text, std::path::Path::new("w.toml")).unwrap();
        let (s, problems) = from_workspace(&w);
        assert_eq!(s.segment.algorithm, Algorithm::KMeans);
        assert_eq!(s.segment.kmeans.k, 5);
        assert_eq!(s.predict.folds, PredictSettings::default().folds);
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
    fn unknown_keys_and_wrong_types_are_problems_too() {
        let text = "[sources.customers]\npath = \"c.csv\"\n[rules]\nmin_suport = 0.1\nmax_len = \"three\"\nmin_lift = 2.0\n[recommend]\niuf = -1.0\n";
        let w = Workspace::parse(text, std::path::Path::new("w.toml")).unwrap();
        let (s, problems) = from_workspace(&w);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["rules.min_suport", "rules.max_len", "recommend.iuf"]);
        assert!(
            problems[0]
                .message
                .starts_with("unknown key `min_suport` (use baskets,"),
            "{}",
            problems[0].message
        );
        assert!(
            problems[1].message.contains("string"),
            "{}",
            problems[1].message
        );
        // The good key of the same section is kept.
        assert_eq!(s.rules.min_lift, 2.0);
        assert_eq!(s.rules.max_len, RulesSettings::default().max_len);
        assert_eq!(s.recommend.iuf, 1.0);
    }

    #[test]
    fn settings_survive_a_round_trip_through_toml() {
        let mut s = Settings::default();
        s.segment.algorithm = Algorithm::Dbscan;
        s.segment.eps = 0.75;
        s.segment.min_points = 9;
        s.rules.items = Items::Category;
        s.rules.algorithm = ItemsetAlgorithm::Apriori;
        s.rules.filter = Some("tent".into());
        s.predict.model = ModelKind::Tree;
        s.predict.criterion = Criterion::Entropy;
        s.predict.seed = 9;
        s.predict.target = Some("churned".into());
        s.clv.calibration_end = chrono::NaiveDate::from_ymd_opt(2024, 6, 30);
        s.recommend.neighbours = 20;
        let mut w = ws("");
        to_workspace(&s, &mut w);
        let text = w.to_toml(std::path::Path::new(".")).unwrap();
        // Keys in the order the settings types declare them.
        let at = |k: &str| text.find(k).unwrap_or_else(|| panic!("{k} in {text}"));
        assert!(at("\nalgorithm = \"dbscan\"") < at("\nk = 4"), "{text}");
        let back = Workspace::parse(&text, std::path::Path::new("w.toml")).unwrap();
        let (again, problems) = from_workspace(&back);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(again, s);
    }
}
