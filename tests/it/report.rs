//! `crmlens report`: the HTML page parsed back (a small strict XML reader below) and checked
//! against what the headless commands print for the same workspace; the Markdown variant;
//! determinism, privacy, no external references, refusing to overwrite, and bad input.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use crate::cli::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

/// An element of the parsed page.
#[derive(Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    El(El),
    Text(String),
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("an entity ends with ;") + at;
        out.push_str(match &rest[at..=end] {
            "&amp;" => "&",
            "&lt;" => "<",
            "&gt;" => ">",
            "&quot;" => "\"",
            "&#39;" => "'",
            other => panic!("unknown entity {other}"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses `doc` as XML after its doctype, panicking on anything not well-formed: a tag
/// closed out of order, one left open, a stray `<` or `&`, an attribute without quotes.
fn parse(doc: &str) -> El {
    let doc = doc
        .strip_prefix("<!DOCTYPE html>")
        .expect("starts with the HTML5 doctype");
    let mut stack = vec![El {
        name: "#document".into(),
        attrs: Vec::new(),
        children: Vec::new(),
    }];
    let mut rest = doc;
    while !rest.is_empty() {
        let Some(at) = rest.find('<') else {
            assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
            break;
        };
        let text = &rest[..at];
        if stack.len() == 1 {
            assert!(text.trim().is_empty(), "text outside <html>: {text:?}");
        } else if !text.is_empty() {
            assert!(!text.contains('>'), "stray > in text {text:?}");
            let t = unescape(text);
            stack.last_mut().unwrap().children.push(Node::Text(t));
        }
        let end = rest[at..].find('>').expect("a tag ends") + at;
        let tag = &rest[at + 1..end];
        rest = &rest[end + 1..];
        assert!(!tag.contains('<'), "< inside a tag: {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            let el = stack.pop().expect("an open element");
            assert_eq!(el.name, name.trim(), "closing tag out of order");
            stack.last_mut().unwrap().children.push(Node::El(el));
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_text) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad tag name {name:?}"
        );
        let mut attrs = Vec::new();
        loop {
            attrs_text = attrs_text.trim_start();
            if attrs_text.is_empty() {
                break;
            }
            let (key, after) = attrs_text.split_once("=\"").expect("attr=\"value\"");
            let close = after.find('"').expect("a closing quote");
            let key = key.trim();
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "bad attribute name {key:?}"
            );
            attrs.push((key.to_string(), unescape(&after[..close])));
            attrs_text = &after[close + 1..];
        }
        let el = El {
            name: name.to_string(),
            attrs,
            children: Vec::new(),
        };
        if self_closing {
            stack.last_mut().unwrap().children.push(Node::El(el));
        } else {
            stack.push(el);
        }
    }
    assert_eq!(stack.len(), 1, "unclosed: {:?}", stack.last().unwrap().name);
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    match root.children.pop().unwrap() {
        Node::El(e) => {
            assert_eq!(e.name, "html");
            e
        }
        Node::Text(_) => unreachable!(),
    }
}

impl El {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }

    /// Every element below this one, in document order.
    fn all(&self) -> Vec<&El> {
        let mut out = Vec::new();
        for c in &self.children {
            if let Node::El(e) = c {
                out.push(e);
                out.extend(e.all());
            }
        }
        out
    }

    fn by_id(&self, id: &str) -> &El {
        self.all()
            .into_iter()
            .find(|e| e.attr("id") == Some(id))
            .unwrap_or_else(|| panic!("no element with id {id}"))
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            match c {
                Node::Text(t) => out.push_str(t),
                Node::El(e) => out.push_str(&e.text()),
            }
        }
        out
    }

    fn child_with_class(&self, name: &str, class: &str) -> &El {
        self.all()
            .into_iter()
            .find(|e| e.name == name && e.has_class(class))
            .unwrap_or_else(|| panic!("no <{name} class={class}> in {}", self.name))
    }
}

fn workspace() -> String {
    sample_dir().join("crmlens.toml").display().to_string()
}

/// Runs `crmlens report` on `ws` into `dir/name`, returns the file's text.
fn report(dir: &Path, ws: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["report", "--workspace", ws, "--out", name];
    args.extend(extra);
    let o = crmlens(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("wrote {name} (")), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    fs::read_to_string(dir.join(name)).unwrap()
}

/// A report of the sample workspace as `crmlens report` writes it, and the folder it was
/// written in.
struct SampleReport {
    text: String,
    dir: String,
}

/// `crmlens report` of the sample workspace into `report.{ext}` (`html` or `md`) of a fresh
/// folder; run once per test process and shared by the tests that only read the report.
fn sample_report(ext: &str) -> &'static SampleReport {
    static HTML: OnceLock<SampleReport> = OnceLock::new();
    static MD: OnceLock<SampleReport> = OnceLock::new();
    let cell = match ext {
        "html" => &HTML,
        "md" => &MD,
        other => panic!("no {other} report"),
    };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let text = report(dir.path(), &workspace(), &format!("report.{ext}"), &[]);
        SampleReport {
            text,
            dir: dir.path().display().to_string(),
        }
    })
}

/// [`segment_json`], run once per test process in a fresh folder.
fn sample_segment_json() -> &'static serde_json::Value {
    static JSON: OnceLock<serde_json::Value> = OnceLock::new();
    JSON.get_or_init(|| segment_json(tempfile::tempdir().unwrap().path()))
}

/// What `crmlens segment --json` prints for the sample workspace with the parameters the
/// workspace sets (its [features] and [segment], read through the library).
fn segment_json(dir: &Path) -> serde_json::Value {
    let ws = crmlens::data::sources::workspace::Workspace::load(&sample_dir().join("crmlens.toml"))
        .unwrap();
    let (s, problems) = crmlens::pipeline::settings::from_workspace(&ws);
    assert!(problems.is_empty());
    assert_eq!(
        s.segment.algorithm,
        crmlens::analytics::segment::Algorithm::KMeans,
        "this comparison is written for k-means"
    );
    let f = &ws.features;
    let k = &s.segment.kmeans;
    let scale = match f.scaling {
        crmlens::data::sources::workspace::Scaling::Standard => "standard",
        crmlens::data::sources::workspace::Scaling::Minmax => "minmax",
        crmlens::data::sources::workspace::Scaling::Robust => "robust",
        crmlens::data::sources::workspace::Scaling::None => "none",
    };
    let args: Vec<String> = vec![
        "segment".into(),
        "--input".into(),
        workspace(),
        "--features".into(),
        f.numeric.join(","),
        "--categorical".into(),
        f.categorical.join(","),
        "--log1p".into(),
        f.log1p.join(","),
        "--scale".into(),
        scale.into(),
        "--algo".into(),
        "kmeans".into(),
        "--k".into(),
        k.k.to_string(),
        "--n-init".into(),
        k.n_init.to_string(),
        "--max-iter".into(),
        k.max_iter.to_string(),
        "--tol".into(),
        k.tol.to_string(),
        "--seed".into(),
        k.seed.to_string(),
        "--no-silhouette".into(),
        "--json".into(),
    ];
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let o = crmlens(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn sizes_of(v: &serde_json::Value) -> Vec<u64> {
    v["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

#[test]
fn html_report_has_every_section_and_charts_that_match_the_headless_results() {
    let text = &sample_report("html").text;
    let html = parse(text);

    // Every section, in order, with its heading; none skipped on the sample.
    let sections: Vec<&El> = html
        .all()
        .into_iter()
        .filter(|e| e.name == "section")
        .collect();
    let ids: Vec<&str> = sections.iter().map(|s| s.attr("id").unwrap()).collect();
    let want: Vec<&str> = crmlens::report::SECTIONS.iter().map(|s| s.0).collect();
    assert_eq!(ids, want);
    assert_eq!(
        want,
        [
            "quality",
            "segments",
            "rules",
            "prediction",
            "clv",
            "parameters"
        ]
    );
    for (s, (_, heading)) in sections.iter().zip(crmlens::report::SECTIONS) {
        let h2 = s.all().into_iter().find(|e| e.name == "h2").unwrap();
        assert_eq!(h2.text(), heading);
        assert!(
            !s.all().iter().any(|e| e.has_class("skipped")),
            "{} was skipped: {}",
            heading,
            s.text()
        );
    }

    // Cluster sizes: one bar per cluster, labelled and valued as `segment --json` says.
    let seg = sample_segment_json();
    let sizes = sizes_of(seg);
    assert!(sizes.len() >= 2, "{sizes:?}");
    let chart = html.by_id("chart-sizes");
    assert_eq!(chart.name, "svg");
    let bars: Vec<&El> = chart
        .all()
        .into_iter()
        .filter(|e| e.has_class("bar"))
        .collect();
    assert_eq!(bars.len(), sizes.len());
    for (i, (bar, size)) in bars.iter().zip(&sizes).enumerate() {
        assert_eq!(
            bar.attr("data-label"),
            Some(format!("cluster {i}").as_str())
        );
        assert_eq!(bar.attr("data-value"), Some(size.to_string().as_str()));
        assert_eq!(
            bar.child_with_class("text", "bar-value").text(),
            size.to_string()
        );
        assert_eq!(
            bar.child_with_class("text", "bar-label").text(),
            format!("cluster {i}")
        );
    }
    // The bars' heights follow the sizes.
    let heights: Vec<f64> = bars
        .iter()
        .map(|b| {
            let r = b.all().into_iter().find(|e| e.name == "rect").unwrap();
            r.attr("height").unwrap().parse().unwrap()
        })
        .collect();
    for i in 1..sizes.len() {
        let want = sizes[i] as f64 / sizes[0] as f64;
        assert!((heights[i] / heights[0] - want).abs() < 0.01, "{heights:?}");
    }
    // The size table agrees too.
    let rows: Vec<Vec<String>> = html
        .by_id("segment-sizes")
        .all()
        .into_iter()
        .filter(|e| e.name == "tr")
        .skip(1)
        .map(|tr| {
            tr.all()
                .into_iter()
                .filter(|e| e.name == "td")
                .map(|td| td.text())
                .collect()
        })
        .collect();
    let table_sizes: Vec<u64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(table_sizes, sizes);

    // ROC curve: a polyline of points in the unit square from (0,0) to (1,1), and the
    // diagonal.
    let roc = html.by_id("chart-roc");
    let line = roc.child_with_class("polyline", "curve");
    let points: Vec<(f64, f64)> = line
        .attr("points")
        .unwrap()
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert!(points.len() >= 10, "{points:?}");
    for &(x, y) in &points {
        assert!(
            (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y),
            "{x},{y}"
        );
    }
    assert_eq!(points[0], (0.0, 0.0));
    assert_eq!(*points.last().unwrap(), (1.0, 1.0));
    assert!(
        points
            .windows(2)
            .all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1)
    );
    roc.child_with_class("line", "diagonal");

    // Importance: one bar per model column (the segment matrix's width: the same features,
    // one-hot columns included; the target is not among them).
    let ws = crmlens::data::sources::workspace::Workspace::load(&sample_dir().join("crmlens.toml"))
        .unwrap();
    assert!(!ws.features.numeric.contains(&"churned".to_string()));
    let width = seg["centroids"][0].as_array().unwrap().len();
    let imp: Vec<&El> = html
        .by_id("chart-importance")
        .all()
        .into_iter()
        .filter(|e| e.has_class("bar"))
        .collect();
    assert_eq!(imp.len(), width);
    let mut labels: Vec<&str> = imp.iter().map(|b| b.attr("data-label").unwrap()).collect();
    assert!(labels.contains(&"recency_days") && labels.contains(&"channel=web"));
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), width, "one bar per feature");
    for b in &imp {
        let v: f64 = b.attr("data-value").unwrap().parse().unwrap();
        assert!(v >= 0.0);
    }

    // Self-contained: no script, no external reference of any kind.
    for e in html.all() {
        assert!(
            !matches!(
                e.name.as_str(),
                "script" | "link" | "img" | "iframe" | "object"
            ),
            "<{}>",
            e.name
        );
        assert!(e.attr("src").is_none(), "src on <{}>", e.name);
        if let Some(h) = e.attr("href") {
            assert!(h.starts_with('#'), "external link {h}");
        }
    }
    for needle in ["http", "src=", "url(", "@import", "<script"] {
        assert!(!text.contains(needle), "{needle} in the report");
    }
}

/// No personal data: not one customer id, e-mail or name of the sample's customers, and
/// no path of this machine.
#[test]
fn report_holds_no_personal_data_and_no_paths() {
    let (html, md) = (sample_report("html"), sample_report("md"));
    let (html_dir, md_dir) = (&html.dir, &md.dir);
    let (html, md) = (&html.text, &md.text);
    let customers = fs::read_to_string(sample_dir().join("customers.csv")).unwrap();
    let mut checked = 0;
    for line in customers.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (id, name, email) = (f[0].trim(), f[1].trim(), f[2].trim());
        for v in [id, name, email] {
            if v.len() >= 5 {
                assert!(!html.contains(v), "{v} in the HTML report");
                assert!(!md.contains(v), "{v} in the Markdown report");
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
    let re = regex::Regex::new(r"C\d{6}").unwrap();
    assert!(!re.is_match(html) && !re.is_match(md));
    let base = sample_dir().display().to_string();
    for (text, tmp) in [(html, html_dir), (md, md_dir)] {
        assert!(!text.contains(&base) && !text.contains(tmp.as_str()));
        assert!(!text.contains('@'), "an e-mail-like text");
    }
}

#[test]
fn two_runs_are_byte_identical_and_an_existing_file_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    // The first run is the shared one; the second runs here.
    let a = &sample_report("html").text;
    fs::write(dir.path().join("a.html"), a).unwrap();
    let b = report(dir.path(), &workspace(), "b.html", &[]);
    assert!(*a == b, "two runs differ");
    let ws = workspace();
    let o = crmlens(
        dir.path(),
        &[
            "report",
            "--workspace",
            &ws,
            "--out",
            "a.html",
            "--format",
            "md",
        ],
    );
    assert_user_error(&o, &["a.html", "exists", "--force"]);
    assert_eq!(fs::read_to_string(dir.path().join("a.html")).unwrap(), *a);
    let md = report(dir.path(), &ws, "a.html", &["--format", "md", "--force"]);
    assert!(md.starts_with("# crmlens report"), "{md}");
    // No temporary file left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn markdown_report_has_the_same_headings_and_the_cluster_size_table() {
    let md = &sample_report("md").text;
    let headings: Vec<&str> = md.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    let want: Vec<&str> = crmlens::report::SECTIONS.iter().map(|s| s.1).collect();
    assert_eq!(headings, want);
    assert!(md.starts_with("# crmlens report: sample CRM\n"));
    let sizes = sizes_of(sample_segment_json());
    // The "Cluster sizes" table: | cluster i | size | share | profile |.
    let at = md
        .find("**Cluster sizes**")
        .expect("the cluster-size table");
    let rows: Vec<Vec<&str>> = md[at..]
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), sizes.len(), "{rows:?}");
    for (i, (r, s)) in rows.iter().zip(&sizes).enumerate() {
        assert_eq!(r[0], format!("cluster {i}"));
        assert_eq!(r[1], s.to_string());
    }
    // The chart as a table with a text bar, the longest for the largest cluster.
    let at = md.find("**Customers per cluster (chart)**").unwrap();
    let bars: Vec<usize> = md[at..]
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.matches('█').count())
        .collect();
    let biggest = (0..sizes.len()).max_by_key(|&i| sizes[i]).unwrap();
    assert_eq!(bars.len(), sizes.len());
    assert_eq!(bars[biggest], crmlens::report::markdown::BAR_WIDTH);
    for needle in [
        "| ROC-AUC |",
        "**Top rules by lift**",
        "| predict | seed | 42 |",
    ] {
        assert!(md.contains(needle), "{needle} missing");
    }
}

/// A workspace without orders still gets a full report: the rules and lifetime-value
/// sections say why they are empty.
#[test]
fn sections_without_their_data_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let customers = sample_dir().join("customers.csv");
    let ws = dir.path().join("w.toml");
    fs::write(
        &ws,
        format!(
            "[sources.customers]\npath = {:?}\nschema = {{ income = \"float\", churned = \"int\" }}\n\
             [cleaning.missing]\nincome = \"median\"\n\
             [features]\nnumeric = [\"income\"]\ncategorical = [\"channel\"]\n\
             [segment]\nk = 3\nseed = 7\n",
            customers.display().to_string()
        ),
    )
    .unwrap();
    let text = report(dir.path(), ws.to_str().unwrap(), "r.html", &[]);
    let html = parse(&text);
    for id in ["rules", "clv"] {
        let s = html.by_id(id);
        let note = s.child_with_class("p", "skipped").text();
        assert!(note.contains("no orders source"), "{note}");
    }
    let sizes: Vec<&El> = html
        .by_id("chart-sizes")
        .all()
        .into_iter()
        .filter(|e| e.has_class("bar"))
        .collect();
    assert_eq!(sizes.len(), 3);
    html.by_id("chart-roc");
    assert!(text.contains("<td>seed</td><td>7</td>"));
    assert!(!text.contains(&dir.path().display().to_string()));
}

#[test]
fn bad_input_is_one_line_naming_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = crmlens(
        d,
        &["report", "--workspace", "nope.toml", "--out", "r.html"],
    );
    assert_user_error(&o, &["nope.toml"]);

    let ws = workspace();
    let o = crmlens(
        d,
        &["report", "-w", &ws, "--out", "r.pdf", "--format", "pdf"],
    );
    assert_user_error(&o, &["'pdf' for '--format", "html, md"]);

    let customers = sample_dir().join("customers.csv");
    let write = |body: &str| {
        let p = d.join("w.toml");
        fs::write(
            &p,
            format!(
                "[sources.customers]\npath = {:?}\n{body}",
                customers.display().to_string()
            ),
        )
        .unwrap();
        p.display().to_string()
    };
    let w = write("[features]\nnumeric = [\"income\", \"shoe_size\"]\n");
    let o = crmlens(d, &["report", "-w", &w, "--out", "r.html"]);
    assert_user_error(&o, &["w.toml", "[features]", "shoe_size", "use one of"]);

    let w = write("[features]\nnumeric = [\"churned\"]\n[segment]\nalgorithm = \"kmedoids\"\n");
    let o = crmlens(d, &["report", "-w", &w, "--out", "r.html"]);
    assert_user_error(&o, &["w.toml", "line 6", "segment.algorithm", "kmedoids"]);

    let w = write("[features]\nnumeric = [\"churned\"]\n[predict]\ntarget = \"loyal\"\n");
    let o = crmlens(d, &["report", "-w", &w, "--out", "r.html"]);
    assert_user_error(&o, &["w.toml", "[predict] target `loyal`"]);

    assert!(!d.join("r.html").exists() && !d.join("r.pdf").exists());
}
