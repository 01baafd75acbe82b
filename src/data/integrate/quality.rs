//! The data-quality report: rows in and out of every cleaning step, duplicates removed, missing
//! values per column before and after the fill policy, invalid values by rule. Plain data,
//! serialised as the `--report-json` of `crmlens integrate`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One cleaning or integration step on one source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepReport {
    pub source: String,
    pub step: String,
    pub rows_in: u64,
    pub rows_out: u64,
    /// Free-text detail (what was changed or why rows left).
    #[serde(default)]
    pub detail: String,
}

/// Values breaking one validity rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvalidCount {
    pub source: String,
    pub column: String,
    pub rule: String,
    pub count: u64,
    /// "set null" or "row dropped"
    pub action: String,
}

/// Missing values of one column of the 360 table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MissingReport {
    pub column: String,
    pub before: u64,
    pub after: u64,
    pub policy: String,
    /// The value filled in (mean, median, constant...), when one was.
    #[serde(default)]
    pub fill_value: Option<String>,
    /// The rows (positions in the customer-360 table) whose value was filled in, so the
    /// workbench can mark them; not written to reports (one number per customer).
    #[serde(skip)]
    pub filled_rows: Vec<u32>,
}

/// One source as read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceSummary {
    pub role: String,
    pub path: String,
    pub format: String,
    pub rows: u64,
    pub columns: usize,
    /// What the reader noted (a database type read as text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Duplicates removed, by kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DuplicateSummary {
    /// Customer rows identical to an earlier row after text normalisation.
    pub customers_exact: u64,
    /// Further customer rows sharing a customer key with a kept row.
    pub customers_same_key: u64,
    /// Customers merged into another through the fuzzy key.
    pub customers_fuzzy_key: u64,
    /// Order lines identical to an earlier line: removed, or (when `order_lines_kept`) kept
    /// as repeat purchases and counted as possible duplicates.
    pub order_lines: u64,
    pub tickets: u64,
    pub sessions: u64,
    /// The order lines had no order or line id, so identical ones were kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub order_lines_kept: bool,
}

/// Identity resolution's part of the report (`[identity] person_key`): how many records of
/// each customer list were linked to another record, how surely, and how many stayed
/// single.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IdentityReport {
    /// The accepted pairs' match probability at least this.
    pub threshold: f64,
    pub inputs: Vec<IdentityInput>,
    pub candidate_pairs: u64,
    pub accepted_pairs: u64,
    /// Accepted pairs by probability band (label, pairs), surest first.
    pub confidence: Vec<(String, u64)>,
    pub mean_probability: f64,
    /// People (clusters), and those of more than one record.
    pub people: u64,
    pub linked_people: u64,
    /// Records of the other lists attached to a customer of the 360 table.
    pub attached: u64,
    /// Customer rows merged into another row of the same person.
    pub customer_rows_merged: u64,
    /// Clusters much larger than the rest (chains of weak links to check).
    pub large_clusters: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking_recall: Option<f64>,
}

/// One customer list in [`IdentityReport`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IdentityInput {
    /// The file's name.
    pub name: String,
    pub records: u64,
    /// Records in a person with another record (of any list).
    pub linked: u64,
    /// Records that are a person on their own.
    pub single: u64,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QualityReport {
    pub reference_date: String,
    pub reference_date_source: String,
    pub sources: Vec<SourceSummary>,
    pub steps: Vec<StepReport>,
    pub duplicates: DuplicateSummary,
    pub invalid: Vec<InvalidCount>,
    /// Text values changed by trimming, white-space collapsing or lower-casing, per column.
    pub text_normalised: Vec<(String, u64)>,
    pub orphans: Vec<(String, u64)>,
    pub missing: Vec<MissingReport>,
    pub customers_out: u64,
    pub customers_without_orders: u64,
    pub columns_out: usize,
    /// Wall-clock milliseconds per integration step.
    #[serde(default)]
    pub timings_ms: Vec<(String, f64)>,
    /// What a lenient reading (the workbench) left out, e.g. a fill policy for a column whose
    /// source was missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Identity resolution, when `[identity] person_key` made the person the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityReport>,
}

impl QualityReport {
    pub fn step(&mut self, source: &str, step: &str, rows_in: u64, rows_out: u64, detail: String) {
        self.steps.push(StepReport {
            source: source.into(),
            step: step.into(),
            rows_in,
            rows_out,
            detail,
        });
    }

    pub fn invalid_total(&self) -> u64 {
        self.invalid.iter().map(|i| i.count).sum()
    }

    /// A human summary for the terminal (headless `integrate` without `--report-json`).
    /// The report as text for a terminal (names and values from the data with their control
    /// characters escaped).
    pub fn to_text(&self) -> String {
        use crate::text::escape;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "customer 360: {} customers x {} columns (reference date {}, {})",
            self.customers_out, self.columns_out, self.reference_date, self.reference_date_source
        );
        let _ = writeln!(s, "\nsources:");
        for src in &self.sources {
            let _ = writeln!(
                s,
                "  {:<10} {:>10} rows  {:>3} cols  {} ({})",
                src.role,
                src.rows,
                src.columns,
                escape(&src.path),
                src.format
            );
            for n in &src.notes {
                let _ = writeln!(s, "             note: {}", escape(n));
            }
        }
        let _ = writeln!(s, "\nsteps:");
        for st in &self.steps {
            let _ = writeln!(
                s,
                "  {:<10} {:<28} {:>10} -> {:>10}  {}",
                st.source,
                st.step,
                st.rows_in,
                st.rows_out,
                escape(&st.detail)
            );
        }
        if !self.invalid.is_empty() {
            let _ = writeln!(s, "\ninvalid values:");
            for i in &self.invalid {
                let _ = writeln!(
                    s,
                    "  {:<10} {:<20} {:<28} {:>8}  {}",
                    i.source,
                    escape(&i.column),
                    i.rule,
                    i.count,
                    i.action
                );
            }
        }
        if let Some(id) = &self.identity {
            let _ = writeln!(
                s,
                "\nidentity resolution (threshold {}): {} pairs accepted of {} candidates (mean p {:.3}); {} people, {} of more than one record; {} records attached to a customer, {} customer rows merged",
                id.threshold,
                id.accepted_pairs,
                id.candidate_pairs,
                id.mean_probability,
                id.people,
                id.linked_people,
                id.attached,
                id.customer_rows_merged
            );
            for i in &id.inputs {
                let _ = writeln!(
                    s,
                    "  {:<28} {:>8} records  {:>8} linked  {:>8} single",
                    escape(&i.name),
                    i.records,
                    i.linked,
                    i.single
                );
            }
            let bands: Vec<String> = id
                .confidence
                .iter()
                .map(|(b, n)| format!("{b}: {n}"))
                .collect();
            let _ = writeln!(s, "  accepted pairs by probability: {}", bands.join(", "));
            if id.large_clusters > 0 {
                let _ = writeln!(
                    s,
                    "  {} cluster(s) much larger than the rest: check them with `crmlens link --clusters-out`",
                    id.large_clusters
                );
            }
        }
        let _ = writeln!(s, "\nmissing values (before -> after fill):");
        for m in self.missing.iter().filter(|m| m.before > 0 || m.after > 0) {
            let fill = m
                .fill_value
                .as_deref()
                .map(|v| format!(" = {}", escape(v)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<24} {:>8} -> {:>8}  {}{}",
                escape(&m.column),
                m.before,
                m.after,
                m.policy,
                fill
            );
        }
        s
    }
}
