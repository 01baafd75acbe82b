#!/usr/bin/env bash
# Saved models at scale: train with --save-model, score the same rows with `crmlens score`,
# and check the scored file equals the training run's --out (labels; probabilities without
# the `actual` column). Times and peak memory from /usr/bin/time.
#
#   bash benches/score.sh CRMLENS C360 [OUT_JSON]
#
# C360: a customer-360 table with the generated sample's columns, e.g.
#   crmlens gen-sample --customers 1100000 --order-scale 0.001 --out /tmp/id1m
#   crmlens integrate --workspace /tmp/id1m/crmlens.toml --out /tmp/id1m/c360.parquet
set -euo pipefail
bin=${1:?crmlens binary}
c360=${2:?customer-360 table}
out=${3:-benches/results/score.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
features=recency_days,frequency,monetary,avg_order_value,tenure_days,tickets,sessions,income,age

timed() { # name, command...: seconds and peak MB into $work/name.time
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.out"
}
timed segment "$bin" segment --input "$c360" --features "$features" --categorical channel \
  --log1p monetary,avg_order_value --k 8 --n-init 1 --no-silhouette \
  --out "$work/labels.csv" --save-model "$work/kmeans.toml"
timed score_kmeans "$bin" score --model "$work/kmeans.toml" --input "$c360" \
  --out "$work/labels_scored.csv" --json
timed predict "$bin" predict --input "$c360" --features "$features" --categorical channel \
  --target churned --n-trees 50 --folds 2 --out "$work/scores.csv" --save-model "$work/forest.toml"
timed score_forest "$bin" score --model "$work/forest.toml" --input "$c360" \
  --out "$work/scores_scored.csv" --json

cmp -s "$work/labels.csv" "$work/labels_scored.csv" && labels_equal=true || labels_equal=false
cut -d, -f1,3- "$work/scores.csv" | cmp -s - "$work/scores_scored.csv" \
  && scores_equal=true || scores_equal=false
rows=$(($(wc -l < "$work/labels.csv") - 1))
field() { awk -v i="$2" '{print $i}' "$work/$1.time"; }
mb() { echo "scale=1; $(field "$1" 2) / 1024" | bc; }
tmp="$out.tmp.$$"
cat > "$tmp" <<EOF
{
  "rows": $rows,
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "cores": $(nproc),
  "kmeans": {"train_seconds": $(field segment 1), "train_peak_mb": $(mb segment),
             "score_seconds": $(field score_kmeans 1), "score_peak_mb": $(mb score_kmeans),
             "model_bytes": $(stat -c %s "$work/kmeans.toml"), "scored_equal_trained": $labels_equal},
  "forest": {"train_seconds": $(field predict 1), "train_peak_mb": $(mb predict),
             "score_seconds": $(field score_forest 1), "score_peak_mb": $(mb score_forest),
             "model_bytes": $(stat -c %s "$work/forest.toml"), "scored_equal_trained": $scores_equal}
}
EOF
mv "$tmp" "$out"
cat "$out"
