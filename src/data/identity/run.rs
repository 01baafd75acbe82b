//! Identity resolution over files: read each input, find its record id and the fields to
//! compare, standardise, and run [`crate::data::identity::link::link`]. One input is
//! deduplicated; several are linked (pairs across inputs, and within each when asked). The
//! front ends reach it through `pipeline::link`; the integration calls it for `[identity]
//! person_key`.

use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use crate::data::DataError;
use crate::data::error::Result;
use crate::data::identity::blocking::Scope;
use crate::data::identity::fields;
use crate::data::identity::link::{self, DEFAULT_THRESHOLD, LinkError, Linked, Options};
use crate::data::identity::records::Records;
use crate::data::sources::file::{ReadOptions, read_frame};
use crate::data::sources::roles::words;
use crate::progress::Progress;

/// The settings of a run, shared by `crmlens link`, the workspace's `[identity]` and the
/// Identity screen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSettings {
    /// Fields to compare: kinds (name, email, phone, birth_date, street, house_number, town,
    /// postcode, state) or columns every input has. Empty: detected.
    pub fields: Vec<String>,
    /// Accept pairs with a match probability at least this.
    pub threshold: f64,
    /// With several inputs, also find duplicates within each.
    pub dedupe: bool,
    /// Seed of the random pairs that estimate u.
    pub seed: u64,
    /// In a workspace: the other customer lists to link with `[sources.customers]` (a
    /// loyalty programme's members, a web shop's accounts), each with its record id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<IdentitySource>,
    /// In a workspace: the person is the row of the 360 table. Customer rows found to be one
    /// person are merged (kept as the dedup policy says, their activity moved to the kept
    /// id), and activity keyed by a linked list's id is attached to its person.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub person_key: bool,
}

/// Another customer list in a workspace's `[identity]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySource {
    /// The file, relative to the workspace's folder.
    pub path: PathBuf,
    /// Its record id column (default: found as `crmlens link` finds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            fields: Vec::new(),
            threshold: DEFAULT_THRESHOLD,
            dedupe: false,
            seed: 42,
            sources: Vec::new(),
            person_key: false,
        }
    }
}

/// `path` as an absolute path, relative ones taken from `base` (itself made absolute from
/// the current folder): a list named in a workspace read from `sample_data/crmlens.toml`
/// is `<cwd>/sample_data/list.csv`, and joining it to the folder again changes nothing.
pub fn resolved(base: &Path, path: &Path) -> PathBuf {
    let p = base.join(path);
    std::path::absolute(&p).unwrap_or(p)
}

/// The inputs the workbench links: the workspace's customers (its customer key as the
/// record id) and the `[identity]` sources, or the one file open (deduplicated).
pub fn workspace_inputs(
    ws: &crate::data::sources::workspace::Workspace,
    settings: &LinkSettings,
) -> Vec<LinkInput> {
    let c = &ws.sources.customers;
    let mut out = vec![LinkInput {
        path: ws.base_dir.join(&c.path),
        id: Some(
            c.key
                .clone()
                .unwrap_or_else(|| ws.workspace.customer_key.clone()),
        ),
    }];
    out.extend(settings.sources.iter().map(|s| LinkInput {
        path: resolved(&ws.base_dir, &s.path),
        id: s.key.clone(),
    }));
    out
}

impl LinkSettings {
    /// Checks the values a user can get wrong, naming the setting.
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(format!(
                "threshold {}: a match probability strictly between 0 and 1, e.g. {DEFAULT_THRESHOLD}",
                self.threshold
            ));
        }
        Ok(())
    }
}

/// One input: its file and, when given, its record id column.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInput {
    pub path: PathBuf,
    pub id: Option<String>,
}

/// A run's result with where its records came from.
#[derive(Debug)]
pub struct LinkRun {
    pub linked: Linked,
    /// Per input: its file and the id column used.
    pub inputs: Vec<(PathBuf, String)>,
    /// Detected kinds of field some input lacks (not compared).
    pub left_out: Vec<String>,
    /// Seconds spent reading the files.
    pub read_seconds: f64,
}

/// The record id of a frame: the given column, else a column whose name says it is an id
/// (`customer_id`, `member_id`, `id`, ...) with no value twice, else the first column.
pub fn id_column(df: &DataFrame, path: &Path, given: Option<&str>) -> Result<String> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(g) = given {
        if names.iter().any(|n| n == g) {
            return Ok(g.to_string());
        }
        return Err(DataError::Invalid(format!(
            "{}: no column `{g}` for --id-col; its columns are {}",
            path.display(),
            names.join(", ")
        )));
    }
    let id_like = |n: &str| {
        let w = words(n);
        w.last()
            .is_some_and(|l| matches!(l.as_str(), "id" | "key" | "no" | "number" | "uid"))
            || w.iter().any(|x| x == "customerid" || x == "userid")
    };
    let unique = |n: &str| {
        df.column(n)
            .ok()
            .and_then(|c| c.n_unique().ok())
            .is_some_and(|u| u == df.height())
    };
    if let Some(n) = names.iter().find(|n| id_like(n) && unique(n)) {
        return Ok(n.clone());
    }
    if let Some(n) = names.iter().find(|n| id_like(n)) {
        return Ok(n.clone());
    }
    names
        .first()
        .cloned()
        .ok_or_else(|| DataError::Invalid(format!("{}: no columns", path.display())))
}

/// Reads the inputs and runs identity resolution on them.
pub fn run(
    inputs: &[LinkInput],
    settings: &LinkSettings,
    labels: &[(u32, u32, bool)],
    progress: &Progress,
) -> Result<LinkRun> {
    check(inputs, settings)?;
    let t = std::time::Instant::now();
    let mut frames = Vec::with_capacity(inputs.len());
    for (k, input) in inputs.iter().enumerate() {
        progress.check().map_err(|_| DataError::Cancelled)?;
        progress.label(&format!(
            "reading {} ({} of {})",
            input.path.display(),
            k + 1,
            inputs.len()
        ));
        frames.push(read_frame(&input.path, &ReadOptions::default())?);
    }
    let mut ids = Vec::with_capacity(inputs.len());
    for (input, df) in inputs.iter().zip(&frames) {
        ids.push(id_column(df, &input.path, input.id.as_deref())?);
    }
    let read_seconds = t.elapsed().as_secs_f64();
    let (linked, left_out) = link_frames(frames, &ids, settings, labels, progress)?;
    Ok(LinkRun {
        linked,
        inputs: inputs
            .iter()
            .zip(ids)
            .map(|(i, id)| (i.path.clone(), id))
            .collect(),
        left_out,
        read_seconds,
    })
}

/// The settings' values and that there is an input.
pub fn check(inputs: &[LinkInput], settings: &LinkSettings) -> Result<()> {
    settings.check().map_err(DataError::Invalid)?;
    if inputs.is_empty() {
        return Err(DataError::Invalid(
            "no input: give --input FILE (once to deduplicate it, several times to link them)"
                .into(),
        ));
    }
    Ok(())
}

/// Links frames already read (each with its record id column), as [`run`] does files.
pub fn link_frames(
    frames: Vec<DataFrame>,
    ids: &[String],
    settings: &LinkSettings,
    labels: &[(u32, u32, bool)],
    progress: &Progress,
) -> Result<(Linked, Vec<String>)> {
    let sources: Vec<(&DataFrame, &str)> = frames
        .iter()
        .zip(ids)
        .map(|(df, id)| (df, id.as_str()))
        .collect();
    let given = (!settings.fields.is_empty()).then_some(settings.fields.as_slice());
    let (fields, left_out) = fields::plan(&sources, given).map_err(invalid)?;
    progress.label("standardising");
    let records = Records::build(&sources, &fields).map_err(invalid)?;
    drop(sources);
    drop(frames);
    let opts = options(settings, ids.len(), labels);
    let linked = link::link(records, &opts, progress).map_err(|e| match e {
        LinkError::Cancelled => DataError::Cancelled,
        LinkError::Input(m) => invalid(m),
    })?;
    Ok((linked, left_out))
}

/// The engine's options for `inputs` inputs.
pub fn options(settings: &LinkSettings, inputs: usize, labels: &[(u32, u32, bool)]) -> Options {
    Options {
        threshold: settings.threshold,
        scope: Scope {
            across: inputs > 1,
            within: inputs == 1 || settings.dedupe,
        },
        seed: settings.seed,
        labels: labels.to_vec(),
        ..Options::default()
    }
}

fn invalid(m: String) -> DataError {
    DataError::Invalid(m)
}
