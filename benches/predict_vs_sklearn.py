"""Prediction side by side with scikit-learn, in one run, on the same file (the Prediction
issue's benchmark).

Usage (from the repo root, with a venv that has scikit-learn and pandas):
    python benches/predict_vs_sklearn.py target/release/crmlens [rows] [workdir] [out.json]

Writes a rows x 10 CSV (seeded; a non-linear boundary with noise, about 30% positives) once,
then times two whole jobs on each side, each from reading the CSV to the finished result:

  tree:   5-fold stratified cross-validation of a depth-10 decision tree, plus the fit on a
          stratified 75% and the test metrics (crmlens also computes permutation importance);
  forest: 2-fold stratified cross-validation of a 100-tree random forest (depth 8, sqrt
          features per split), the fit on 75%, and permutation importance (5 repeats) on 10,000
          test rows, scored by ROC-AUC.

scikit-learn runs with n_jobs=2 (this machine's cores). Reported: seconds, the ratio
crmlens / scikit-learn, test and cv ROC-AUC on both sides, and crmlens's peak memory.
"""
import json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from predict_data import FEATURES, ensure_csv  # noqa: E402

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

binary = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-predict-bench"
out_json = sys.argv[4] if len(sys.argv) > 4 else None
path = ensure_csv(rows, work)
features = FEATURES


def crmlens(args):
    t0 = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-v", binary, "predict", "--input", path, "--target", "target",
         "--features", ",".join(features), "--seed", "42", "--json"] + args,
        capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    peak_kb = next(int(l.split()[-1]) for l in out.stderr.splitlines()
                   if "Maximum resident set size" in l)
    v = json.loads(out.stdout)
    return {"seconds": round(seconds, 2), "peak_mb": round(peak_kb / 1024),
            "test_roc_auc": v["test"]["roc_auc"], "cv_roc_auc": v["cv"]["roc_auc"]["mean"]}


def load():
    df = pd.read_csv(path)
    x = StandardScaler().fit_transform(df[features].to_numpy())
    return x, df["target"].to_numpy()


def sklearn_tree():
    t0 = time.perf_counter()
    x, y = load()
    model = DecisionTreeClassifier(max_depth=10, random_state=42)
    cv = cross_val_score(model, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=42),
                         scoring="roc_auc", n_jobs=2)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=42)
    model.fit(xtr, ytr)
    auc = roc_auc_score(yte, model.predict_proba(xte)[:, 1])
    return {"seconds": round(time.perf_counter() - t0, 2), "test_roc_auc": auc,
            "cv_roc_auc": float(cv.mean())}


def sklearn_forest():
    t0 = time.perf_counter()
    x, y = load()
    model = RandomForestClassifier(n_estimators=100, max_depth=8, max_features="sqrt",
                                   n_jobs=2, random_state=42)
    cv = cross_val_score(model, x, y, cv=StratifiedKFold(2, shuffle=True, random_state=42),
                         scoring="roc_auc")
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=42)
    t_fit = time.perf_counter()
    model.fit(xtr, ytr)
    fit_seconds = time.perf_counter() - t_fit
    model.predict_proba(x)
    auc = roc_auc_score(yte, model.predict_proba(xte)[:, 1])
    pick = np.random.default_rng(42).choice(len(yte), size=min(10_000, len(yte)), replace=False)
    permutation_importance(model, xte[pick], yte[pick], n_repeats=5, random_state=42,
                           scoring="roc_auc", n_jobs=1)
    return {"seconds": round(time.perf_counter() - t0, 2), "fit_seconds": round(fit_seconds, 2),
            "test_roc_auc": auc, "cv_roc_auc": float(cv.mean())}


result = {"rows": rows, "features": 10, "file": path}
ours = crmlens(["--model", "tree", "--max-depth", "10", "--folds", "5"])
theirs = sklearn_tree()
result["tree_5fold_cv"] = {"crmlens": ours, "sklearn": theirs,
                           "ratio": round(ours["seconds"] / theirs["seconds"], 3)}
print(json.dumps(result["tree_5fold_cv"]), flush=True)
ours = crmlens(["--model", "forest", "--n-trees", "100", "--max-depth", "8", "--folds", "2"])
theirs = sklearn_forest()
result["forest_2fold_cv"] = {"crmlens": ours, "sklearn": theirs,
                             "ratio": round(ours["seconds"] / theirs["seconds"], 3)}
print(json.dumps(result["forest_2fold_cv"]), flush=True)
if out_json:
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
