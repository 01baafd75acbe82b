"""Frequent itemsets and rules side by side with pyfim (Borgelt's C FP-Growth) and mlxtend, in
one run, on the same baskets (the Association-rules issue's benchmark).

Usage (from the repo root, with a venv that has pyfim, mlxtend and pandas):
    python benches/rules_vs_pyfim.py target/release/crmlens [baskets] [workdir] [out.json]

Writes an order-lines CSV (basket, item) of `baskets` baskets (default 1,000,000) over 2,000
items with Zipf-like popularity (seeded) and some planted co-purchases, then times:
  - `crmlens rules --min-support 0.001` (whole process, and the itemset and rule steps it
    reports), checked against pyfim's itemsets and supports;
  - pyfim.fpgrowth on the baskets already in memory (itemsets; then rules with target='r');
  - mlxtend.frequent_patterns.fpgrowth on a sparse one-hot DataFrame (itemsets only), with a
    time limit: it is far slower.
Peak memory of the crmlens process comes from /usr/bin/time.
"""
import json, os, subprocess, sys, time, multiprocessing as mp

import numpy as np

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-rules-bench"
out_json = sys.argv[4] if len(sys.argv) > 4 else None
os.makedirs(work, exist_ok=True)
path = os.path.join(work, f"baskets_{n}.csv")
m = 2000
min_support = 0.001


def make_baskets():
    rng = np.random.default_rng(11)
    w = 1.0 / np.arange(1, m + 1)
    w /= w.sum()
    sizes = rng.integers(1, 9, size=n)
    items = rng.choice(m, size=int(sizes.sum()), p=w)
    baskets = np.split(items, np.cumsum(sizes)[:-1])
    # Planted pairs and triples: when the first item is bought, the others often follow.
    plants = [(5, 40), (12, 77, 150), (30, 31), (100, 300, 301)]
    for b in range(0, n, 1):
        basket = baskets[b]
        for p in plants:
            if p[0] in basket and rng.random() < 0.5:
                basket = np.concatenate([basket, np.array(p[1:])])
        baskets[b] = np.unique(basket)
    return baskets


if not os.path.exists(path):
    baskets = make_baskets()
    with open(path, "w") as f:
        f.write("basket,item\n")
        for b, basket in enumerate(baskets):
            for i in basket:
                f.write(f"B{b:07d},item{int(i):04d}\n")
with open(path) as f:
    next(f)
    per = {}
    for line in f:
        b, i = line.rstrip("\n").split(",")
        per.setdefault(b, set()).add(i)
tx = [sorted(s) for s in per.values()]
lines = sum(len(t) for t in tx)

# crmlens, whole process.
t0 = time.perf_counter()
out = subprocess.run(
    ["/usr/bin/time", "-v", binary, "rules", "--input", path, "--transaction-col", "basket",
     "--item-col", "item", "--min-support", str(min_support), "--json"],
    capture_output=True, text=True, check=True)
cl_total = time.perf_counter() - t0
cl = json.loads(out.stdout)
cl_peak_mb = next(int(l.split()[-1]) for l in out.stderr.splitlines() if "Maximum resident" in l) / 1024

# pyfim: itemsets (supp is a percentage; negative = absolute count), then rules.
import fim

min_count = cl["min_count"]
t0 = time.perf_counter()
py_sets = fim.fpgrowth(tx, target="s", supp=-min_count, zmin=1, report="a")
py_itemsets = time.perf_counter() - t0
t0 = time.perf_counter()
# mode 'o': rule support is that of body and head together, as crmlens (and mlxtend) define
# it. pyfim's rules have one-item heads only, so it reports fewer rules than crmlens.
py_rules = fim.fpgrowth(tx, target="r", supp=-min_count, conf=0, zmin=2, report="a", mode="o")
py_rules_s = time.perf_counter() - t0

# Agreement: the same itemsets with the same counts.
ours = {tuple(s["items"]): s["count"] for s in cl["itemsets"]}
theirs = {tuple(sorted(s[0])): s[1] for s in py_sets}
same_itemsets = ours == theirs


def run_mlxtend(q):
    import pandas as pd
    from mlxtend.frequent_patterns import fpgrowth
    from mlxtend.preprocessing import TransactionEncoder
    te = TransactionEncoder()
    arr = te.fit(tx).transform(tx, sparse=True)
    df = pd.DataFrame.sparse.from_spmatrix(arr, columns=te.columns_)
    t = time.perf_counter()
    res = fpgrowth(df, min_support=min_support, use_colnames=True)
    q.put((time.perf_counter() - t, len(res)))


limit = float(os.environ.get("MLXTEND_TIMEOUT", "600"))
q = mp.Queue()
p = mp.Process(target=run_mlxtend, args=(q,))
p.start()
p.join(limit)
if p.is_alive():
    p.terminate()
    mlx = {"seconds": None, "note": f"did not finish in {limit:.0f} s"}
else:
    s, k = q.get()
    mlx = {"seconds": round(s, 2), "itemsets": k}

summary = {
    "baskets": len(tx), "items": m, "order_lines": lines, "min_support": min_support,
    "min_count": min_count,
    "crmlens": {"process_seconds": round(cl_total, 3), "load_seconds": cl["seconds"]["load"],
                "itemsets_seconds": cl["seconds"]["itemsets"],
                "rules_seconds": cl["seconds"]["rules"], "itemsets": len(cl["itemsets"]),
                "rules": len(cl["rules"]), "peak_mb": round(cl_peak_mb)},
    "pyfim": {"itemsets_seconds": round(py_itemsets, 3), "rules_seconds": round(py_rules_s, 3),
              "itemsets": len(py_sets), "rules": len(py_rules)},
    "mlxtend": mlx,
    "same_itemsets_and_counts_as_pyfim": same_itemsets,
    "itemsets_time_ratio_crmlens_over_pyfim": round(cl["seconds"]["itemsets"] / py_itemsets, 3),
}
if mlx.get("seconds"):
    summary["mlxtend_over_crmlens_itemsets"] = round(mlx["seconds"] / cl["seconds"]["itemsets"], 1)
print(json.dumps(summary, indent=2))
if out_json:
    with open(out_json, "w") as f:
        json.dump(summary, f, indent=2)
