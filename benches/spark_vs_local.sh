#!/usr/bin/env bash
# Local polars vs Spark (local[2], Spark Connect) on the same generated set, in one run:
#   bash benches/spark_vs_local.sh [CUSTOMERS] [ORDER_SCALE]   (defaults: 920000 1 = 15.4M lines)
# Builds crmlens --release --features spark, writes the set to $OUT (default /tmp/crmlens-15m),
# starts a throwaway Spark Connect server (.ci/spark.sh), runs `crmlens bench integrate` with
# each engine, checks the two 360 tables are equal, and writes benches/results/spark_vs_local.json.
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-920000}"
scale="${2:-1}"
out="${OUT:-/tmp/crmlens-15m}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/crmlens/target}"
source .ci/spark.sh
trap spark_stop EXIT
spark_setup
cargo build --release --features spark
bin="$CARGO_TARGET_DIR/release/crmlens"
if [ ! -f "$out/crmlens.toml" ]; then
  "$bin" gen-sample --customers "$customers" --seed 7 --order-scale "$scale" --out "$out"
fi
mkdir -p benches/results
# Local first, before the server starts: a JVM starting up takes the same two cores.
"$bin" bench integrate -w "$out/crmlens.toml" --engine local --out /tmp/crmlens-bench-local.json --force >/dev/null
spark_start
"$bin" bench integrate -w "$out/crmlens.toml" --engine spark --spark-remote "$CRMLENS_SPARK_URL" \
  --out /tmp/crmlens-bench-spark.json --force >/dev/null
"$bin" integrate -w "$out/crmlens.toml" --engine local --out /tmp/crmlens-local.csv --force >/dev/null 2>&1
"$bin" integrate -w "$out/crmlens.toml" --engine spark --spark-remote "$CRMLENS_SPARK_URL" \
  --out /tmp/crmlens-spark.csv --force >/dev/null 2>&1
# The two tables, value for value (floats within 1e-9 relative).
python3 - <<'PY'
import csv
a = csv.reader(open("/tmp/crmlens-local.csv")); b = csv.reader(open("/tmp/crmlens-spark.csv"))
rows = diffs = 0
for x, y in zip(a, b):
    rows += 1
    for u, v in zip(x, y):
        if u != v:
            try:
                fu, fv = float(u), float(v)
                if abs(fu - fv) <= 1e-9 * max(abs(fu), abs(fv)):
                    continue
            except ValueError:
                pass
            diffs += 1
print(f"360 tables compared: {rows} lines, {diffs} values differ")
assert diffs == 0
PY
python3 - "$out" <<'PY'
import json, sys
local = json.load(open("/tmp/crmlens-bench-local.json"))
spark = json.load(open("/tmp/crmlens-bench-spark.json"))
res = {
    "set": sys.argv[1],
    "order_lines": local["order_lines"],
    "customers_out": local["customers_out"],
    "local": {k: local[k] for k in ("seconds", "peak_rss_mb", "steps_ms")},
    "spark_local2": {k: spark[k] for k in ("seconds", "peak_rss_mb", "steps_ms")},
    "spark_over_local": round(spark["seconds"] / local["seconds"], 2),
}
assert local["customers_out"] == spark["customers_out"] and local["order_lines"] == spark["order_lines"], (local, spark)
json.dump(res, open("benches/results/spark_vs_local.json", "w"), indent=2)
print(json.dumps(res, indent=2))
PY

