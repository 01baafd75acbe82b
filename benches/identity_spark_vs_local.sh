#!/usr/bin/env bash
# Identity resolution on Spark against the local engine, in one run on the same files:
# `crmlens link` with each engine (the Spark one against a local[2] Spark Connect server
# started here, or SPARK_URL when given), whole-process seconds and crmlens's peak memory,
# and whether the accepted pairs are the same (pairs only in one run, largest probability
# difference). Results as JSON in OUT.
#
#   bash benches/identity_spark_vs_local.sh CRMLENS_BINARY OUT.json NAME A.csv B.csv [NAME A B ...]
#
# CRMLENS_BINARY must be built with --features spark. The data sets are given as triples
# (a name, then the two files to link). WORK=DIR keeps the runs' outputs there (a run whose
# output is already there is not run again).
set -euo pipefail
bin="$(realpath "$1")"; out="$2"; shift 2
cd "$(dirname "$0")/.."
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
: >"$work/results.ndjson"
if [ -z "${SPARK_URL:-}" ]; then
  # shellcheck source=/dev/null
  source .ci/spark.sh
  spark_setup
  spark_start
  trap spark_stop EXIT
  SPARK_URL="$CRMLENS_SPARK_URL"
fi
while [ $# -ge 3 ]; do
  name="$1"; a="$2"; b="$3"; shift 3
  for engine in local spark; do
    if [ -s "$work/$name.$engine.json" ] && [ -s "$work/$name.$engine.time" ]; then continue; fi
    /usr/bin/time -v -o "$work/$name.$engine.time" "$bin" link --input "$a" --input "$b" \
      --engine "$engine" --spark-remote "$SPARK_URL" --json >"$work/$name.$engine.json"
  done
  python3 - "$work" "$name" >>"$work/results.ndjson" <<'EOF'
import json, re, sys
work, name = sys.argv[1], sys.argv[2]
def load(engine):
    j = json.load(open(f"{work}/{name}.{engine}.json"))
    t = open(f"{work}/{name}.{engine}.time").read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    secs = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return j, round(secs, 2), round(rss, 1)
(lj, ls, lr), (sj, ss, sr) = load("local"), load("spark")
lp = {(p["left"], p["right"]): p["probability"] for p in lj["pairs"]}
sp = {(p["left"], p["right"]): p["probability"] for p in sj["pairs"]}
common = lp.keys() & sp.keys()
print(json.dumps({
    "data": name,
    "records": lj["n_records"],
    "candidate_pairs": {"local": lj["n_candidate_pairs"], "spark": sj["n_candidate_pairs"]},
    "pairs": {"local": len(lp), "spark": len(sp)},
    "pairs_only_local": len(lp.keys() - sp.keys()),
    "pairs_only_spark": len(sp.keys() - lp.keys()),
    "max_probability_difference": max((abs(lp[k] - sp[k]) for k in common), default=0.0),
    "sample": sj.get("sample"),
    "spark_version": sj.get("spark", {}).get("version"),
    "seconds": {"local": ls, "spark": ss},
    "peak_rss_mb_crmlens": {"local": lr, "spark": sr},
    "spark_timings": sj.get("timings"),
}))
EOF
done
python3 - "$out" "$work/results.ndjson" <<'EOF'
import json, sys, datetime, platform, os
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
doc = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
       "date": datetime.date.today().isoformat(), "runs": rows}
tmp = sys.argv[1] + ".tmp"
json.dump(doc, open(tmp, "w"), indent=1)
os.replace(tmp, sys.argv[1])
for r in rows:
    s, p = r["seconds"], r["pairs"]
    print(f"{r['data']:>15} {r['records']:>8} records  local {s['local']:>7.1f} s  spark {s['spark']:>7.1f} s"
          f"  pairs {p['local']}/{p['spark']}  only local {r['pairs_only_local']}  only spark {r['pairs_only_spark']}")
EOF
if [ -z "${WORK:-}" ]; then rm -rf "$work"; fi
