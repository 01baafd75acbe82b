"""K-Means side by side with scikit-learn, one run, same file (the Segmentation issue's benchmark).

Usage (from the repo root, with a venv that has scikit-learn and pandas):
    python benches/kmeans_vs_sklearn.py target/release/crmlens [rows] [workdir]

Writes a rows x 8 CSV of customer-like features (seeded), then times
  - pandas.read_csv + StandardScaler + KMeans(n_clusters=8, n_init=1, max_iter=100), and
  - `crmlens segment --k 8 --n-init 1 --max-iter 100` on the same file (whole process),
and prints both times, their ratio, both inertias (in the scaled space), and peak memory.
Also checks crmlens's silhouette against scikit-learn's on the same labels (5,000 rows).
"""
import json, os, resource, subprocess, sys, time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

binary = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-kmeans-bench"
os.makedirs(work, exist_ok=True)
path = os.path.join(work, f"overlap_{rows}.csv")
features = [f"f{i}" for i in range(8)]
if not os.path.exists(path):
    rng = np.random.default_rng(7)
    # Overlapping clusters, so Lloyd runs its 100 iterations rather than converging at once.
    centres = rng.normal(0, 1.2, size=(8, 8))
    which = rng.integers(0, 8, size=rows)
    x = centres[which] + rng.normal(0, 1.5, size=(rows, 8))
    df = pd.DataFrame(x, columns=features)
    df.insert(0, "customer_id", [f"C{i:07d}" for i in range(rows)])
    df.to_csv(path, index=False, float_format="%.6f")

# scikit-learn, whole job.
t0 = time.perf_counter()
df = pd.read_csv(path)
xs = StandardScaler().fit_transform(df[features].to_numpy())
km = KMeans(n_clusters=8, n_init=1, max_iter=100, random_state=0).fit(xs)
sk_seconds = time.perf_counter() - t0
sk_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# crmlens, whole process.
t0 = time.perf_counter()
out = subprocess.run(
    ["/usr/bin/time", "-v", binary, "segment", "--input", path, "--features", ",".join(features),
     "--k", "8", "--n-init", "1", "--max-iter", "100", "--seed", "0", "--no-silhouette", "--json"],
    capture_output=True, text=True, check=True)
cl_seconds = time.perf_counter() - t0
cl = json.loads(out.stdout)
cl_peak_mb = next(int(l.split()[-1]) for l in out.stderr.splitlines() if "Maximum resident" in l) / 1024

# Silhouette agreement on 5,000 rows (exact in both).
small = os.path.join(work, "features_5000.csv")
df.head(5000).to_csv(small, index=False, float_format="%.6f")
lab_path = os.path.join(work, "labels_5000.csv")
res = json.loads(subprocess.run(
    [binary, "segment", "--input", small, "--features", ",".join(features), "--k", "4",
     "--seed", "1", "--out", lab_path, "--json"], capture_output=True, text=True, check=True).stdout)
labels = pd.read_csv(lab_path)["label"].to_numpy()
xs_small = StandardScaler().fit_transform(pd.read_csv(small)[features].to_numpy())
sk_sil = silhouette_score(xs_small, labels)

print(json.dumps({
    "rows": rows,
    "sklearn_seconds": round(sk_seconds, 3),
    "sklearn_inertia": float(km.inertia_),
    "sklearn_iterations": int(km.n_iter_),
    "sklearn_peak_mb": round(sk_peak_mb),
    "crmlens_seconds": round(cl_seconds, 3),
    "crmlens_kmeans_seconds": cl["seconds"],
    "crmlens_inertia": cl["inertia"],
    "crmlens_iterations": cl["iterations"],
    "crmlens_peak_mb": round(cl_peak_mb),
    "time_ratio_crmlens_over_sklearn": round(cl_seconds / sk_seconds, 3),
    "silhouette_crmlens": res["silhouette"],
    "silhouette_sklearn_same_labels": float(sk_sil),
}, indent=2))
