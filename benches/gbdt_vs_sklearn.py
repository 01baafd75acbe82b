"""Gradient boosting side by side with scikit-learn's HistGradientBoostingClassifier and
LightGBM, in one run, on the same file as benches/predict_vs_sklearn.py (the Prediction
beyond trees issue's benchmark).

Usage (from the repo root, with a venv that has scikit-learn, lightgbm and pandas):
    python benches/gbdt_vs_sklearn.py target/release/crmlens [rows] [workdir] [out.json]

The file: rows x 10 standard normal features (seeded), a non-linear boundary with noise,
about 30% positives (written once; the same CSV as the predict benchmark). Each side runs
the whole job, from reading the CSV to the finished result, with the same model: 100 rounds,
learning rate 0.1, 31 leaves, depth 8, min leaf 20, 255/256 bins, no L2, no subsampling:

  fixed:  early stopping off: 2-fold stratified cross-validation (ROC-AUC), the fit on a
          stratified 75%, every row's probabilities and the test ROC-AUC (crmlens also
          computes permutation importance on 10,000 test rows; the others do not);
  early:  the same with early stopping on 10% of the training rows (patience 10).

scikit-learn and LightGBM use both cores (OpenMP). Reported: seconds, the ratio
crmlens / competitor, test and cv ROC-AUC on each side, the rounds kept, crmlens's peak memory.
"""
import json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from predict_data import FEATURES, ensure_csv  # noqa: E402

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.preprocessing import StandardScaler

binary = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-predict-bench"
out_json = sys.argv[4] if len(sys.argv) > 4 else None
path = ensure_csv(rows, work)
features = FEATURES

ROUNDS, LR, LEAVES, DEPTH, MIN_LEAF = 100, 0.1, 31, 8, 20


def crmlens(early):
    args = ["--model", "gbdt", "--rounds", str(ROUNDS), "--learning-rate", str(LR),
            "--max-leaves", str(LEAVES), "--max-depth", str(DEPTH), "--min-leaf", str(MIN_LEAF),
            "--folds", "2", "--early-stopping", "true" if early else "false"]
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
            "test_roc_auc": v["test"]["roc_auc"], "cv_roc_auc": v["cv"]["roc_auc"]["mean"],
            "rounds": v["gbdt"]["rounds"]}


def load():
    df = pd.read_csv(path)
    x = StandardScaler().fit_transform(df[features].to_numpy())
    return x, df["target"].to_numpy()


def job(model, rounds_of):
    t0 = time.perf_counter()
    x, y = load()
    cv = cross_val_score(model, x, y, cv=StratifiedKFold(2, shuffle=True, random_state=42),
                         scoring="roc_auc")
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=42)
    model.fit(xtr, ytr)
    model.predict_proba(x)
    auc = roc_auc_score(yte, model.predict_proba(xte)[:, 1])
    return {"seconds": round(time.perf_counter() - t0, 2), "test_roc_auc": auc,
            "cv_roc_auc": float(cv.mean()), "rounds": rounds_of(model)}


def sklearn(early):
    m = HistGradientBoostingClassifier(
        max_iter=ROUNDS, learning_rate=LR, max_leaf_nodes=LEAVES, max_depth=DEPTH,
        min_samples_leaf=MIN_LEAF, max_bins=255, l2_regularization=0.0,
        early_stopping=early, validation_fraction=0.1, n_iter_no_change=10, random_state=42)
    return job(m, lambda m: int(m.n_iter_))


def lightgbm(early):
    import lightgbm as lgb

    class Early(lgb.LGBMClassifier):
        # LightGBM's early stopping needs an explicit validation set: 10% of the training rows.
        def fit(self, x, y):
            if not early:
                return super().fit(x, y)
            xt, xv, yt, yv = train_test_split(x, y, test_size=0.1, stratify=y, random_state=42)
            return super().fit(xt, yt, eval_set=[(xv, yv)],
                               callbacks=[lgb.early_stopping(10, verbose=False)])

    m = Early(n_estimators=ROUNDS, learning_rate=LR, num_leaves=LEAVES, max_depth=DEPTH,
              min_child_samples=MIN_LEAF, max_bin=255, reg_lambda=0.0, n_jobs=2,
              random_state=42, verbose=-1)
    return job(m, lambda m: int(m.best_iteration_ or m.n_estimators))


result = {"rows": rows, "features": 10, "file": path,
          "model": {"rounds": ROUNDS, "learning_rate": LR, "leaves": LEAVES, "depth": DEPTH,
                    "min_leaf": MIN_LEAF}}
for name, early in [("fixed_rounds", False), ("early_stopping", True)]:
    ours = crmlens(early)
    sk = sklearn(early)
    lg = lightgbm(early)
    result[name] = {
        "crmlens": ours, "sklearn_hist_gb": sk, "lightgbm": lg,
        "ratio_vs_sklearn": round(ours["seconds"] / sk["seconds"], 3),
        "ratio_vs_lightgbm": round(ours["seconds"] / lg["seconds"], 3),
        "test_auc_minus_sklearn": round(ours["test_roc_auc"] - sk["test_roc_auc"], 5),
    }
    print(json.dumps({name: result[name]}), flush=True)
if out_json:
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
