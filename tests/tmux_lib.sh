# shellcheck shell=bash
# Helpers shared by the tmux tests (sourced): set TEST_NAME and SESSION first.
fail() { echo "$TEST_NAME: FAIL: $*"; echo "--- screen ---"; tmux capture-pane -p -t "$SESSION" || true; exit 1; }
screen() { tmux capture-pane -p -t "$SESSION"; }
# wait_for TEXT [seconds]: poll the screen until TEXT shows up.
wait_for() {
  local text="$1" secs="${2:-60}" i=0
  while (( i < secs * 10 )); do
    if screen | grep -qF -- "$text"; then return 0; fi
    sleep 0.1; i=$((i + 1))
  done
  fail "waited ${secs}s for: $text"
}
