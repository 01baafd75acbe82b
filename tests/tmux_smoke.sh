#!/usr/bin/env bash
# Real-terminal test: run the built binary in tmux as a person would, send keys, read the
# screen, quit, and check the terminal came back. Usage: tests/tmux_smoke.sh [path/to/crmlens]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/crmlens}"
SESSION="crmlens-smoke-$$"
OUT="$(mktemp -d)"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$OUT"' EXIT

TEST_NAME="tmux smoke"
# shellcheck source=tests/tmux_lib.sh
source tests/tmux_lib.sh

# A plain shell in tmux; the workbench runs in it and the prompt must come back after quit.
tmux new-session -d -s "$SESSION" -x 120 -y 32 "env PS1='READY> ' bash --norc --noprofile"
wait_for "READY>" 10
tmux send-keys -t "$SESSION" "$BIN sample_data/crmlens.toml; echo EXIT=\$?" Enter
wait_for "5000 rows x 29 cols" 120
screen | grep -qF "1:Data" || fail "no tab bar"
# Personal data masked by default: masked e-mails and phones, no raw ones, no PII VISIBLE.
wait_for "l***@e***.net" 10
screen | grep -qF "***-***-0063" || fail "phone not masked"
if screen | grep -qF -e "lily.kelly53@example.net" -e "Lily Kelly" -e "PII VISIBLE"; then
  fail "personal data shown unmasked"
fi

# Data: select monetary (16 columns right of the key), sort twice: descending.
for _ in $(seq 1 16); do tmux send-keys -t "$SESSION" l; done
tmux send-keys -t "$SESSION" s
wait_for "sorted by monetary ascending" 30
tmux send-keys -t "$SESSION" s
wait_for "sorted by monetary descending" 30
# Filter.
tmux send-keys -t "$SESSION" / g l a s g o w Enter
wait_for "rows match \"glasgow\"" 30
# Quality screen by number key, help overlay, close it.
tmux send-keys -t "$SESSION" 2
wait_for "missing values before fill" 10
tmux send-keys -t "$SESSION" "?"
wait_for "Quality keys" 10
tmux send-keys -t "$SESSION" Escape
# Features: the workspace's selection and the correlation table; Space drops a feature.
tmux send-keys -t "$SESSION" 3
wait_for "11 numeric · 1 one-hot" 10
wait_for "correlation of the selected numeric features" 10
tmux send-keys -t "$SESSION" Space
wait_for "10 numeric · 1 one-hot" 10
# Segments: run k-means with k = 4 (typed), wait for the result.
tmux send-keys -t "$SESSION" 4
wait_for "no result yet" 10
tmux send-keys -t "$SESSION" Enter 4 Enter r
wait_for "4 clusters: sizes" 120
screen | grep -qF "cluster profiles" || fail "no profile table"
for c in c0 c1 c2 c3; do screen | grep -qF "$c" || fail "cluster $c not shown"; done
# Up to the algorithm row: - picks the Gaussian mixture, r runs it.
tmux send-keys -t "$SESSION" k -
wait_for "Gaussian mixture" 10
tmux send-keys -t "$SESSION" r
wait_for "BIC" 120
# + + goes round to DBSCAN; w draws the k-distance curve, r runs it.
tmux send-keys -t "$SESSION" + +
wait_for "min points" 10
tmux send-keys -t "$SESSION" w
wait_for "k-distance (min points 5)" 120
tmux send-keys -t "$SESSION" r
wait_for "DBSCAN: " 120
# Rules: mine the sample's order lines, filter for printers, drill down to the baskets.
tmux send-keys -t "$SESSION" 5
wait_for "no rules yet" 10
tmux send-keys -t "$SESSION" r
wait_for "frequent itemsets · sorted by lift" 120
tmux send-keys -t "$SESSION" / p r i n t e r Enter
wait_for "match \"printer\"" 10
tmux send-keys -t "$SESSION" Enter
wait_for "baskets have both sides" 10
# Predict: churn with the default random forest; the missed churners; the at-risk list.
tmux send-keys -t "$SESSION" 6
wait_for "no model yet" 10
tmux send-keys -t "$SESSION" r
wait_for "test ROC-AUC" 120
screen | grep -qF "baseline" || fail "no baseline row"
tmux send-keys -t "$SESSION" d
wait_for "customers (missed)" 10
tmux send-keys -t "$SESSION" Escape v
wait_for "at risk: not (yet) churned" 10
# CLV: fit the sample's orders; the holdout check and the top customers appear.
tmux send-keys -t "$SESSION" 7
wait_for "no model yet" 10
tmux send-keys -t "$SESSION" r
wait_for "top customers by CLV" 120
screen | grep -qF "holdout 184 days" || fail "no holdout chart"
# Recommend: build the model, find a customer, see the reasons.
tmux send-keys -t "$SESSION" 8
wait_for "no model yet" 10
tmux send-keys -t "$SESSION" r
wait_for "hit rate" 120
tmux send-keys -t "$SESSION" / C 0 0 0 0 0 2 Enter
wait_for "because you bought" 10
# Identity: link the customers with the loyalty list; label the least sure pair "same
# person" and see the model retrain. Then back to Recommend for the undo below.
tmux send-keys -t "$SESSION" 9
wait_for "no run yet" 10
tmux send-keys -t "$SESSION" r
wait_for "least sure first" 120
screen | grep -qF "waterfall" || fail "no waterfall"
tmux send-keys -t "$SESSION" y
wait_for "retrained on 1 labels" 60
tmux send-keys -t "$SESSION" 8
wait_for "because you bought" 10
# Undo the last change (N went up with +), then save the session: the first Ctrl-S asks.
tmux send-keys -t "$SESSION" +
tmux send-keys -t "$SESSION" u
wait_for "undone: recommendation parameters" 10
tmux send-keys -t "$SESSION" C-s
wait_for "save workspace as:" 10
for _ in $(seq 1 40); do tmux send-keys -t "$SESSION" BSpace; done
tmux send-keys -t "$SESSION" -l "$OUT/session.toml"
tmux send-keys -t "$SESSION" Enter
wait_for "saved the workspace to" 10
grep -q '^\[segment\]' "$OUT/session.toml" || fail "saved workspace has no [segment] section"
grep -q 'loyalty_members.csv' "$OUT/session.toml" || fail "saved workspace lost its [identity] source"
# Command palette: ":" and a query; Enter runs the action (here: go to Data). y copies the
# selected cell with OSC 52.
tmux send-keys -t "$SESSION" :
wait_for "command palette" 10
tmux send-keys -t "$SESSION" -l "go to data"
wait_for "Go to Data" 10
tmux send-keys -t "$SESSION" Enter
wait_for "y/Y copy" 10
tmux send-keys -t "$SESSION" y
wait_for "to the clipboard (OSC 52)" 10
# Quit; the shell prompt must be back and the exit code 0.
tmux send-keys -t "$SESSION" q
wait_for "EXIT=0" 10
wait_for "READY>" 10
# The saved workspace opens again; the source picker opens its orders file as it is, then
# a path that is not there fails in a panel and the orders stay.
tmux send-keys -t "$SESSION" clear Enter
tmux send-keys -t "$SESSION" "$BIN $OUT/session.toml; echo EXIT2=\$?" Enter
wait_for "5000 rows x 29 cols" 120
tmux send-keys -t "$SESSION" o
wait_for "Enter opens" 10
screen | grep -F "orders" | grep -qF "83494 rows x 7 cols" || fail "picker: no orders row"
tmux send-keys -t "$SESSION" j j Enter
wait_for "83494 rows x 7 cols  loaded" 60
tmux send-keys -t "$SESSION" o
wait_for "Enter opens" 10
tmux send-keys -t "$SESSION" a
wait_for "open:" 10
tmux send-keys -t "$SESSION" -l "no/such.csv"
tmux send-keys -t "$SESSION" Enter
wait_for "could not load" 30
screen | grep -qF "The data loaded before is still here" || fail "failed open lost the data"
tmux send-keys -t "$SESSION" Escape
tmux send-keys -t "$SESSION" q
wait_for "EXIT2=0" 10
# The demo: step 1 plays after the load, Space goes on, Esc leaves it, q quits.
tmux send-keys -t "$SESSION" clear Enter
tmux send-keys -t "$SESSION" "$BIN demo; echo EXIT3=\$?" Enter
wait_for "Demo step 1/" 120
tmux send-keys -t "$SESSION" Space
wait_for "Demo step 2/" 30
# Step 2 sorts twice; a sort still running when Esc is pressed finishes afterwards and its
# message replaces "demo over", so leave once the step is complete.
wait_for "sorted by monetary descending" 60
tmux send-keys -t "$SESSION" Escape
wait_for "demo over" 10
tmux send-keys -t "$SESSION" q
wait_for "EXIT3=0" 10
echo "tmux smoke: ok (personal data masked, sorted, filtered, switched screens, help, feature toggle, k-means k=4, Gaussian mixture, DBSCAN with k-distance, rules with filter and drill-down, churn forest with drill-down and at-risk list, CLV with holdout, recommendations for a customer, undo, command palette, copy, Ctrl-S save and reopen, source picker open and failed open, demo steps, quit; terminal restored)"
