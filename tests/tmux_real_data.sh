#!/usr/bin/env bash
# Real-terminal test on real public data crmlens did not make (tests/data/real, each with its
# licence): `crmlens FILE` in tmux with no workspace and no flags, keys as a person presses
# them, until each applicable screen shows a result; quit; the shell prompt comes back.
# Usage: tests/tmux_real_data.sh [path/to/crmlens]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/crmlens}"
SESSION="crmlens-real-$$"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true' EXIT

TEST_NAME="tmux real data"
# shellcheck source=tests/tmux_lib.sh
source tests/tmux_lib.sh

tmux new-session -d -s "$SESSION" -x 120 -y 36 "env PS1='READY> ' bash --norc --noprofile"
wait_for "READY>" 10

# A transaction log (CDNOW as pymc-marketing ships it): one row per customer, Quality lists
# the identical lines kept, Segments, CLV and Recommend-less screens reach results.
tmux send-keys -t "$SESSION" "$BIN tests/data/real/cdnow/cdnow_transactions.csv; echo EXIT1=\$?" Enter
wait_for "transaction log · 115 rows x 8 cols" 60
tmux send-keys -t "$SESSION" 2
wait_for "possible duplicates" 10
screen | grep -F "possible duplicates" | grep -qF " 4 " || fail "the 4 identical lines are not listed"
tmux send-keys -t "$SESSION" 4
wait_for "no result yet" 10
tmux send-keys -t "$SESSION" r
wait_for "clusters: sizes" 60
tmux send-keys -t "$SESSION" 7
wait_for "no model yet" 10
tmux send-keys -t "$SESSION" r
wait_for "top customers by CLV" 60
# Rules need an item column the log does not have: the error says so, whole in the log.
tmux send-keys -t "$SESSION" 5
wait_for "no rules yet" 10
tmux send-keys -t "$SESSION" r
wait_for "(! full text)" 30
tmux send-keys -t "$SESSION" "!"
wait_for "item (product)" 10
tmux send-keys -t "$SESSION" Escape
sleep 0.5
tmux send-keys -t "$SESSION" q
wait_for "EXIT1=0" 10

# A churn table (MLC++ from R modeldata): Predict picks `churn` and fits; t reads a column
# as another type.
tmux send-keys -t "$SESSION" clear Enter
tmux send-keys -t "$SESSION" "$BIN tests/data/real/mlc_churn/mlc_churn.csv; echo EXIT2=\$?" Enter
wait_for "200 rows x 20 cols" 60
tmux send-keys -t "$SESSION" l t
wait_for "read \`account_length\` as" 10
tmux send-keys -t "$SESSION" f
wait_for "type     f64" 30
tmux send-keys -t "$SESSION" 6
wait_for "no model yet" 10
screen | grep -qF "churn" || fail "the churn target is not picked"
tmux send-keys -t "$SESSION" r
wait_for "test ROC-AUC" 60
tmux send-keys -t "$SESSION" 4 r
wait_for "clusters: sizes" 60
tmux send-keys -t "$SESSION" q
wait_for "EXIT2=0" 10

# A basket file (UCI Online Retail as PyARMViz ships it): one basket per line, no header.
tmux send-keys -t "$SESSION" clear Enter
tmux send-keys -t "$SESSION" "$BIN tests/data/real/online_retail_baskets/online_retail_baskets.csv; echo EXIT3=\$?" Enter
wait_for "3906 rows x 2 cols" 60
screen | grep -qF "basket_id" || fail "no basket_id column"
tmux send-keys -t "$SESSION" 5
wait_for "no rules yet" 10
tmux send-keys -t "$SESSION" r
wait_for "(! full text)" 60
tmux send-keys -t "$SESSION" "!"
wait_for "on the Rules screen (5) raise" 10
# (Esc alone: Esc then + at once would read as Alt-+.)
tmux send-keys -t "$SESSION" Escape
sleep 0.5
tmux send-keys -t "$SESSION" + + + + r
wait_for "3786 rules from 1116 frequent itemsets" 60
tmux send-keys -t "$SESSION" q
wait_for "EXIT3=0" 10
wait_for "READY>" 10
echo "tmux real data: ok (CDNOW log: 115 customers, 4 kept duplicates, k-means, CLV, rules' missing-item error; MLC++ churn: t as float, Predict on churn, k-means; Online Retail baskets: rules advice, 3786 rules at support 0.1; each quit with exit 0)"
