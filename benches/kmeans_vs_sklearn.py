"""K-Means side by side with scikit-learn, in one run, on the same file (the Segmentation issue's
benchmark).

Usage (from the repo root, with a venv that has scikit-learn and pandas):
    python benches/kmeans_vs_sklearn.py target/release/crmlens [rows] [workdir] [out.json]

Writes a rows x 8 CSV of customer-like features (seeded, overlapping clusters) once, then for
each tolerance setting and seed times
  - the whole scikit-learn job: pandas.read_csv + StandardScaler + KMeans(n_clusters=8,
    n_init=1, max_iter=100, tol=..., random_state=seed), and
  - the whole `crmlens segment --k 8 --n-init 1 --max-iter 100 --tol ... --seed seed` process,
and reports both times, their ratio, both inertias (scaled space), iterations, per-iteration
cost and peak memory. Settings: scikit-learn's default tol (1e-4), and tol = 0 (both run until
no row changes cluster, or 100 iterations). The seeds differ between the two libraries'
random generators, so each seed is a different k-means++ start on each side.

Also measures the memory-bandwidth floor of one assignment pass (one read of the 1M x 8
matrix) and checks crmlens's silhouette against scikit-learn's on the same labels.
"""
import json, os, resource, statistics, subprocess, sys, time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

binary = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-kmeans-bench"
out_json = sys.argv[4] if len(sys.argv) > 4 else None
os.makedirs(work, exist_ok=True)
path = os.path.join(work, f"overlap_{rows}.csv")
features = [f"f{i}" for i in range(8)]
if not os.path.exists(path):
    rng = np.random.default_rng(7)
    # Overlapping clusters, so Lloyd iterates for a while rather than converging at once.
    centres = rng.normal(0, 1.2, size=(8, 8))
    which = rng.integers(0, 8, size=rows)
    x = centres[which] + rng.normal(0, 1.5, size=(rows, 8))
    df = pd.DataFrame(x, columns=features)
    df.insert(0, "customer_id", [f"C{i:07d}" for i in range(rows)])
    df.to_csv(path, index=False, float_format="%.6f")


def sklearn_job(tol, seed):
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    xs = StandardScaler().fit_transform(df[features].to_numpy())
    t1 = time.perf_counter()
    km = KMeans(n_clusters=8, n_init=1, max_iter=100, tol=tol, random_state=seed).fit(xs)
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "kmeans_seconds": t2 - t1, "inertia": float(km.inertia_),
            "iterations": int(km.n_iter_)}, df, xs


def crmlens_job(tol, seed):
    t0 = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-v", binary, "segment", "--input", path, "--features",
         ",".join(features), "--k", "8", "--n-init", "1", "--max-iter", "100", "--tol", str(tol),
         "--seed", str(seed), "--no-silhouette", "--json"],
        capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    r = json.loads(out.stdout)
    peak = next(int(l.split()[-1]) for l in out.stderr.splitlines() if "Maximum resident" in l)
    return {"seconds": seconds, "kmeans_seconds": r["seconds"], "inertia": r["inertia"],
            "iterations": r["iterations"], "peak_mb": round(peak / 1024)}


runs = []
df = xs = None
for label, tol in [("default tol 1e-4", 1e-4), ("tol 0 (until no row moves)", 0.0)]:
    for seed in [0, 1, 2]:
        sk, df, xs = sklearn_job(tol, seed)
        cl = crmlens_job(tol, seed)
        runs.append({
            "setting": label, "seed": seed,
            "sklearn": {k: round(v, 3) if isinstance(v, float) and k != "inertia" else v
                        for k, v in sk.items()},
            "crmlens": {k: round(v, 3) if isinstance(v, float) and k != "inertia" else v
                        for k, v in cl.items()},
            "time_ratio": round(cl["seconds"] / sk["seconds"], 3),
            "inertia_crmlens_minus_sklearn": cl["inertia"] - sk["inertia"],
            "sklearn_ms_per_iteration": round(1000 * sk["kmeans_seconds"] / sk["iterations"], 2),
            "crmlens_ms_per_iteration_incl_init": round(
                1000 * cl["kmeans_seconds"] / cl["iterations"], 2),
        })
        print(json.dumps(runs[-1]), flush=True)
sk_peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

# Memory-bandwidth floor: one read of the n x 8 float64 matrix (what an assignment pass must
# read at least once), best of 5.
m = np.ascontiguousarray(xs)
best = min((lambda t: (m.sum(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
floor_ms = 1000 * best

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

summary = {
    "rows": rows,
    "runs": runs,
    "median_time_ratio": {
        s: statistics.median(r["time_ratio"] for r in runs if r["setting"] == s)
        for s in dict.fromkeys(r["setting"] for r in runs)},
    "crmlens_lower_or_equal_inertia": sum(r["inertia_crmlens_minus_sklearn"] <= 0 for r in runs),
    "of_runs": len(runs),
    "sklearn_peak_mb_whole_script": sk_peak_mb,
    "matrix_read_floor_ms": round(floor_ms, 2),
    "silhouette_crmlens": res["silhouette"],
    "silhouette_sklearn_same_labels": float(sk_sil),
}
print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
if out_json:
    with open(out_json, "w") as f:
        json.dump(summary, f, indent=2)
