"""End-to-end timing of `crmlens recommend` at the Recommendations issue's scale.

Usage: python benches/recommend_cli.py target/release/crmlens [DIR]
(a venv with numpy and pandas; DIR defaults to /tmp/crmlens-recommend-bench)

Writes (once, seeded) order lines for 1,000,000 customers over 2,000 items, 15,000,000 lines
in 5 orders per customer: each customer follows one of 20 tastes (a permutation of the items)
with a heavy head and a long tail. Then runs the whole process, from reading the CSV to the
evaluation and everyone's top 10 written to Parquet, and reports its stage times and peak RSS
(from /usr/bin/time) as JSON on stdout.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

USERS, ITEMS, LINES, ORDERS_PER_USER, TASTES = 1_000_000, 2_000, 15_000_000, 5, 20


def write(path):
    rng = np.random.default_rng(7)
    tastes = np.stack([rng.permutation(ITEMS) for _ in range(TASTES)])
    per_user = LINES // USERS
    user = np.repeat(np.arange(USERS), per_user)
    rank = (np.floor(ITEMS ** rng.random(LINES)) - 1).clip(0, ITEMS - 1).astype(np.int64)
    item = tastes[user % TASTES, rank]
    order_in_user = np.tile(np.arange(per_user) % ORDERS_PER_USER, USERS)
    order = user * ORDERS_PER_USER + order_in_user
    day = np.datetime64("2023-01-01") + (order_in_user * 60 + user % 50).astype("timedelta64[D]")
    df = pd.DataFrame(
        {
            "order_id": pd.Series(order).map("O{:08d}".format),
            "customer_id": pd.Series(user).map("C{:07d}".format),
            "order_date": day.astype(str),
            "product": pd.Series(item).map("P{:04d}".format),
        }
    )
    df.to_csv(path, index=False)


def main():
    binary = os.path.abspath(sys.argv[1])
    out_dir = sys.argv[2] if len(sys.argv) > 2 else "/tmp/crmlens-recommend-bench"
    os.makedirs(out_dir, exist_ok=True)
    csv = os.path.join(out_dir, "orders.csv")
    if not os.path.exists(csv):
        t = time.time()
        write(csv)
        print(f"wrote {csv} in {time.time() - t:.0f} s", file=sys.stderr)
    recs = os.path.join(out_dir, "recs.parquet")
    cmd = ["/usr/bin/time", "-v", binary, "recommend", "--input", csv, "--evaluate",
           "--out", recs, "--json"]
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t
    if p.returncode != 0:
        sys.exit(p.stderr)
    rss_kb = next(int(l.split(":")[1]) for l in p.stderr.splitlines()
                  if "Maximum resident set size" in l)
    v = json.loads(p.stdout)
    print(json.dumps({
        "lines": LINES, "customers": USERS, "items": ITEMS,
        "wall_seconds": round(wall, 2), "peak_rss_mb": round(rss_kb / 1024),
        "stage_seconds": v["stage_seconds"],
        "model": v["model"], "baseline": v["baseline"],
        "evaluated_customers": v["evaluated_customers"],
    }, indent=2))


if __name__ == "__main__":
    main()
