//! New records joined to the people an earlier run found, without linking everything again:
//! the run's model (its fields, m, u, prior, term-frequency settings and threshold) is kept
//! in a [`LinkModel`]; [`attach`] compares each new record with the existing records (the
//! same blocking keys, comparison levels and weights as the run) and gives it the person of
//! its most probable accepted match, else a new person.
//!
//! On the records a run linked (its first inputs as the existing records, its last as the
//! new ones), the pairs and their probabilities are the run's to the bit: the records, and so
//! the blocking keys, the values' frequencies and the vectors, are the same, and the weights
//! are computed by the same function ([`super::link::pair_weights`]).

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::blocking::{self, Scope};
use super::fields::{self, Field};
use super::link::{LinkError, Linked, Scoring, cluster, frequencies, pair_weights, vectors_of};
use super::model::{Dependent, Model};
use super::records::Records;
use crate::progress::Progress;

/// What scoring new records needs of a link run; nothing personal (no value, no id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkModel {
    /// The compared fields, by the names `--fields` takes (a kind such as `name`, or a
    /// column every input has), in order.
    pub fields: Vec<String>,
    /// Each field's kind.
    pub kinds: Vec<String>,
    /// Each field's comparison levels, by name, in the order of `m` and `u`.
    pub levels: Vec<Vec<String>>,
    /// Per field: whether exact agreement is adjusted by the value's frequency, and u of the
    /// exact level (the adjustment's reference).
    pub term_frequency: Vec<bool>,
    pub u_exact: Vec<f64>,
    /// The prior: the match probability of two random records in scope.
    pub lambda: f64,
    /// Per field and level: P(level | same person) and P(level | different people).
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// An e-mail's u when the names agree (see the link run's `email_given_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependent: Option<Dependent>,
    /// Pairs at or above this match probability are the same person.
    pub threshold: f64,
    /// The run's scope: pairs across inputs, within one. New records are compared with each
    /// other only when the run compared records within an input.
    pub scope: Scope,
}

impl LinkModel {
    /// The model of a finished run.
    pub fn of(l: &Linked) -> LinkModel {
        LinkModel {
            fields: l.records().fields.iter().map(|f| f.name.clone()).collect(),
            kinds: l
                .records()
                .fields
                .iter()
                .map(|f| f.kind.name().to_string())
                .collect(),
            levels: l
                .base
                .levels
                .iter()
                .map(|(names, _)| names.clone())
                .collect(),
            term_frequency: l.base.levels.iter().map(|(_, tf)| *tf).collect(),
            u_exact: l.base.u_exact.clone(),
            lambda: l.model.lambda,
            m: l.model.m.clone(),
            u: l.model.u.clone(),
            dependent: l.model.dependent.clone(),
            threshold: l.threshold,
            scope: l.scope,
        }
    }

    fn model(&self) -> Model {
        Model {
            lambda: self.lambda,
            m: self.m.clone(),
            u: self.u.clone(),
            dependent: self.dependent.clone(),
        }
    }

    /// The model's own numbers agree with each other (a hand-edited file might not).
    fn check(&self) -> Result<(), LinkError> {
        let n = self.fields.len();
        let sizes_ok = [
            self.kinds.len(),
            self.levels.len(),
            self.term_frequency.len(),
            self.u_exact.len(),
            self.m.len(),
            self.u.len(),
        ]
        .iter()
        .all(|&x| x == n)
            && (0..n).all(|f| {
                self.m[f].len() == self.levels[f].len() && self.u[f].len() == self.levels[f].len()
            });
        if !sizes_ok || n == 0 {
            return Err(LinkError::Input(
                "the link model's fields, levels, m and u differ in length; write the model again with link --save-model".into(),
            ));
        }
        let probability = |x: f64| x > 0.0 && x < 1.0;
        if !(probability(self.lambda) && probability(self.threshold)) {
            return Err(LinkError::Input(format!(
                "the link model's prior {} or threshold {} is not a probability strictly between 0 and 1",
                self.lambda, self.threshold
            )));
        }
        Ok(())
    }
}

/// Where each new record went.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// Per new record: its person id (an existing one, or a new one above them all).
    pub person: Vec<u32>,
    /// Per new record: the existing record it matched best (its index among the existing
    /// records) with the match probability, if any pair reached the threshold.
    pub matched: Vec<Option<(usize, f64)>>,
    /// Per new record: its best probability against any existing record (0 when no
    /// candidate pair).
    pub best: Vec<f64>,
    /// New people made (new records that matched nobody existing, grouped when the model
    /// compares records within an input).
    pub new_people: usize,
    /// Candidate pairs compared: new with existing, and new with new.
    pub compared: usize,
    /// New records whose accepted matches belong to more than one existing person (each
    /// took the person of its most probable match).
    pub conflicts: usize,
}

/// Joins the records of `new` (frame, id column) to the people of `existing` (frames with
/// their id columns; `persons` holds each existing record's person id, in the frames'
/// order) under `model`.
pub fn attach(
    existing: &[(&DataFrame, &str)],
    persons: &[u32],
    new: (&DataFrame, &str),
    model: &LinkModel,
    progress: &Progress,
) -> Result<Attachment, LinkError> {
    model.check()?;
    if existing.is_empty() {
        return Err(LinkError::Input(
            "no existing records to join the new ones to".into(),
        ));
    }
    let mut sources: Vec<(&DataFrame, &str)> = existing.to_vec();
    sources.push(new);
    let (fields, _) = fields::plan(&sources, Some(&model.fields)).map_err(LinkError::Input)?;
    for (f, kind) in fields.iter().zip(&model.kinds) {
        if f.kind.name() != kind {
            return Err(LinkError::Input(format!(
                "field `{}` reads as {} here but was {kind} when the model was trained; name its columns as the training inputs did",
                f.name,
                f.kind.name()
            )));
        }
    }
    progress.start("joining new records", 3);
    let mut records = Records::build(&sources, &fields).map_err(LinkError::Input)?;
    let k = existing.len();
    let n_existing = records.starts[k];
    if persons.len() != n_existing {
        return Err(LinkError::Input(format!(
            "{} person ids for {n_existing} existing records",
            persons.len()
        )));
    }
    // The existing records are one source, the new ones the other: only pairs of a new and
    // an existing record are made.
    records.starts = vec![0, n_existing, records.len()];
    let n_new = records.len() - n_existing;
    let across = Scope {
        across: true,
        within: false,
    };
    let probabilities = |records: &Records, scope: Scope, progress: &Progress| {
        let keys = blocking::candidate_keys(records);
        let budget = blocking::default_budget(records.len() as u64);
        let c = blocking::candidates(records, &keys, scope, budget, progress)?;
        let vectors = vectors_of(records, &c.pairs);
        let freq = frequencies(records);
        let weights = pair_weights(
            &model.model(),
            &Scoring {
                records,
                pairs: &c.pairs,
                vectors: &vectors,
                frequencies: &freq,
                term_frequency: &model.term_frequency,
                u_exact: &model.u_exact,
                scope,
            },
        );
        let p: Vec<f64> = weights.iter().map(|w| 1.0 / (1.0 + (-w).exp2())).collect();
        Ok::<_, LinkError>((c.pairs, p))
    };
    let (pairs, p) = probabilities(&records, across, progress)?;
    progress.next("comparing the new records with each other");
    let mut best = vec![0.0f64; n_new];
    let mut matched: Vec<Option<(usize, f64)>> = vec![None; n_new];
    // Accepted matches' persons per new record, to count conflicts.
    let mut matched_persons: Vec<Vec<u32>> = vec![Vec::new(); n_new];
    for (&(i, j), &q) in pairs.iter().zip(&p) {
        // Pairs are (smaller, larger): the existing record first.
        let (e, m) = (i as usize, j as usize - n_existing);
        best[m] = best[m].max(q);
        if q < model.threshold {
            continue;
        }
        matched_persons[m].push(persons[e]);
        let better = match matched[m] {
            None => true,
            Some((e0, q0)) => q > q0 || (q == q0 && e < e0),
        };
        if better {
            matched[m] = Some((e, q));
        }
    }
    let mut compared = pairs.len();
    // New records with each other, when the run compared records within an input.
    let mut groups = cluster(n_new, std::iter::empty());
    if model.scope.within && n_new > 1 {
        let new_fields: Vec<Field> = fields
            .iter()
            .map(|f| Field {
                columns: vec![f.columns[k].clone()],
                ..f.clone()
            })
            .collect();
        let only_new = Records::build(&[new], &new_fields).map_err(LinkError::Input)?;
        let within = Scope {
            across: false,
            within: true,
        };
        let (pairs, p) = probabilities(&only_new, within, progress)?;
        compared += pairs.len();
        groups = cluster(
            n_new,
            pairs
                .iter()
                .zip(&p)
                .filter(|(_, q)| **q >= model.threshold)
                .map(|(pair, _)| *pair),
        );
    }
    progress.next("assigning people");
    // Each group of new records joins the person of its most probable match, if any; a
    // record's own match decides for it.
    let mut group_best: Vec<Option<(usize, f64)>> = vec![None; groups.sizes.len()];
    for (m, hit) in matched.iter().enumerate() {
        if let Some((e, q)) = *hit {
            let g = &mut group_best[groups.person[m] as usize];
            if g.is_none_or(|(e0, q0)| q > q0 || (q == q0 && e < e0)) {
                *g = Some((e, q));
            }
        }
    }
    let mut next = persons.iter().copied().max().unwrap_or(0);
    let mut fresh: Vec<Option<u32>> = vec![None; groups.sizes.len()];
    let mut new_people = 0;
    let person: Vec<u32> = (0..n_new)
        .map(|m| {
            if let Some((e, _)) = matched[m] {
                return persons[e];
            }
            let g = groups.person[m] as usize;
            if let Some((e, _)) = group_best[g] {
                return persons[e];
            }
            *fresh[g].get_or_insert_with(|| {
                next += 1;
                new_people += 1;
                next
            })
        })
        .collect();
    let conflicts = matched_persons
        .into_iter()
        .filter(|v| {
            let mut v = v.clone();
            v.sort_unstable();
            v.dedup();
            v.len() > 1
        })
        .count();
    progress.advance(1);
    Ok(Attachment {
        person,
        matched,
        best,
        new_people,
        compared,
        conflicts,
    })
}
