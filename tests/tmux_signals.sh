#!/usr/bin/env bash
# Real-terminal test of how the workbench ends (issue 21): SIGTERM, SIGHUP, SIGINT from
# outside, `timeout`, Ctrl-Z/fg and SIGTSTP, a job that panics (a test hook and a real input
# that panicked polars), a panic on the UI thread. After each, the terminal must be as the
# shell left it: main screen, cursor shown, mouse tracking off, the same tty modes (not raw),
# and the prompt back. Usage: tests/tmux_signals.sh [path/to/crmlens] (a debug build: the
# panic hooks are only in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/debug/crmlens}"
SESSION="crmlens-signals-$$"
OUT="$(mktemp -d)"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$OUT"' EXIT

TEST_NAME="tmux signals"
# shellcheck source=tests/tmux_lib.sh
source tests/tmux_lib.sh
# The pane's terminal modes: alternate screen, cursor visible, mouse any/button/standard/SGR.
modes() { tmux display -p -t "$SESSION" '#{alternate_on} #{cursor_flag} #{mouse_any_flag} #{mouse_button_flag} #{mouse_standard_flag} #{mouse_sgr_flag}'; }
# The workbench's own modes: alternate screen on, cursor hidden, mouse tracking on.
expect_workbench_modes() {
  local m; m="$(modes)"
  [[ "$m" == "1 0 "* && "$m" != *" 0 0 0 0" ]] || fail "$1: workbench modes expected, got '$m'"
}
# The shell's terminal, as it was before the workbench ran: main screen, cursor shown, no
# mouse tracking, the tty modes saved at the start (raw mode would differ), the prompt last,
# and typed text echoed.
n_checks=0
expect_restored() {
  local what="$1" m
  m="$(modes)"
  [[ "$m" == "0 1 0 0 0 0" ]] || fail "$what: terminal not restored: modes '$m' (want alternate 0, cursor 1, mouse 0 0 0 0)"
  tmux send-keys -t "$SESSION" clear Enter
  tmux send-keys -t "$SESSION" -l '[ "$(stty -g)" = "$S0" ] && echo TTY-SAME || echo TTY-CHANGED'
  tmux send-keys -t "$SESSION" Enter
  wait_for "TTY-" 10
  screen | grep -qF "TTY-SAME" || fail "$what: tty modes changed (raw mode left on?)"
  # Typed text shows as it is typed, and the command's output on a line of its own.
  tmux send-keys -t "$SESSION" -l "echo typed-$n_checks"
  wait_for "READY> echo typed-$n_checks" 10
  tmux send-keys -t "$SESSION" Enter
  local i=0
  until screen | grep -qxF "typed-$n_checks"; do
    (( i++ < 100 )) || fail "$what: typed text not echoed"
    sleep 0.1
  done
  n_checks=$((n_checks + 1))
  tmux send-keys -t "$SESSION" clear Enter
  sleep 0.3
}
# The workbench's pid: the shell's child.
workbench_pid() {
  local shell pid i=0
  shell="$(tmux display -p -t "$SESSION" '#{pane_pid}')"
  while (( i < 50 )); do
    pid="$(pgrep -P "$shell" | head -1 || true)"
    if [ -n "$pid" ]; then echo "$pid"; return 0; fi
    sleep 0.1; i=$((i + 1))
  done
  fail "no workbench process under the shell"
}
# escape: Esc on its own (a key right after it would read as Alt+key: ESC is also a prefix).
escape() { tmux send-keys -t "$SESSION" Escape; sleep 0.5; }
# start [env...]: runs the workbench on the sample, exit code echoed, and waits for the data.
start() {
  tmux send-keys -t "$SESSION" -l "$* $BIN sample_data/crmlens.toml; echo EXIT=\$?"
  tmux send-keys -t "$SESSION" Enter
  wait_for "5000 rows x 29 cols" 120
}

tmux new-session -d -s "$SESSION" -x 120 -y 32 "env PS1='READY> ' bash --norc --noprofile"
wait_for "READY>" 10
tmux send-keys -t "$SESSION" 'S0=$(stty -g)' Enter

# SIGTERM, SIGHUP, SIGINT from outside: restored, exit 128 + the number.
for sig in TERM:15 HUP:1 INT:2; do
  name="${sig%%:*}"; num="${sig##*:}"
  start
  expect_workbench_modes "before SIG$name"
  kill -s "$name" "$(workbench_pid)"
  wait_for "EXIT=$((128 + num))" 10
  expect_restored "SIG$name"
done

# timeout sends SIGTERM: timeout's own code (124), the terminal restored.
tmux send-keys -t "$SESSION" -l "timeout 8 $BIN sample_data/crmlens.toml; echo EXIT=\$?"
tmux send-keys -t "$SESSION" Enter
wait_for "5000 rows x 29 cols" 120
expect_workbench_modes "under timeout"
wait_for "EXIT=124" 20
expect_restored "timeout"

# Ctrl-Z (a key in raw mode): the shell's prompt with the terminal restored; fg redraws,
# keys work, q quits with 0.
tmux send-keys -t "$SESSION" -l "$BIN sample_data/crmlens.toml"
tmux send-keys -t "$SESSION" Enter
wait_for "5000 rows x 29 cols" 120
tmux send-keys -t "$SESSION" C-z
wait_for "Stopped" 10
expect_restored "Ctrl-Z"
tmux send-keys -t "$SESSION" fg Enter
wait_for "5000 rows x 29 cols" 10
expect_workbench_modes "after fg"
screen | grep -qF "1:Data" || fail "no redraw after fg"
tmux send-keys -t "$SESSION" 2
wait_for "missing values before fill" 10
# SIGTSTP from outside: the same.
kill -s TSTP "$(workbench_pid)"
wait_for "Stopped" 10
expect_restored "SIGTSTP"
tmux send-keys -t "$SESSION" fg Enter
wait_for "missing values before fill" 10
expect_workbench_modes "after the second fg"
tmux send-keys -t "$SESSION" q
i=0
until [[ "$(modes)" == "0 "* ]]; do
  (( i++ < 100 )) || fail "q after fg: still on the workbench's screen"
  sleep 0.1
done
tmux send-keys -t "$SESSION" -l 'echo FG=$?'
tmux send-keys -t "$SESSION" Enter
wait_for "FG=0" 10
expect_restored "q after fg"

# A job that panics (debug builds' test hook): an error panel, the workbench goes on (still
# its screen), Esc closes the panel, q quits with 0.
tmux send-keys -t "$SESSION" -l "CRMLENS_TEST_PANIC_IN_JOB=load $BIN sample_data/crmlens.toml; echo EXIT=\$?"
tmux send-keys -t "$SESSION" Enter
wait_for "could not load" 60
wait_for "internal error in integrating" 10
screen | grep -qF "please report it" || fail "the panel does not ask to report the panic"
expect_workbench_modes "after a job's panic"
if screen | grep -qF "panicked at"; then fail "the panic message scribbled over the screen"; fi
escape
if screen | grep -qF "could not load"; then fail "Esc did not close the panel"; fi
tmux send-keys -t "$SESSION" "?"
wait_for "Data keys" 10
escape
tmux send-keys -t "$SESSION" q
wait_for "EXIT=0" 10
expect_restored "q after a job's panic"

# A real input that panicked polars (a JSON integer wider than 64 bits): read, or an error
# panel if polars still panics; either way q quits with 0 and the terminal is restored.
printf '{"n":123456789012345678901234567890}\n' > "$OUT/wide.ndjson"
tmux send-keys -t "$SESSION" -l "$BIN $OUT/wide.ndjson; echo EXIT=\$?"
tmux send-keys -t "$SESSION" Enter
i=0
until screen | grep -qF -e "could not load" -e "1 rows x 1 cols"; do
  (( i++ < 600 )) || fail "the wide-integer file neither loaded nor failed"
  sleep 0.1
done
expect_workbench_modes "after opening the wide-integer file"
escape
tmux send-keys -t "$SESSION" q
wait_for "EXIT=0" 10
expect_restored "q after the wide-integer file"

# A panic on the UI thread: the terminal restored first, then the message on the main
# screen, exit 101.
tmux send-keys -t "$SESSION" -l "CRMLENS_TEST_PANIC_IN_UI=1 $BIN sample_data/crmlens.toml; echo EXIT=\$?"
tmux send-keys -t "$SESSION" Enter
wait_for "EXIT=101" 60
screen | grep -qF "injected by CRMLENS_TEST_PANIC_IN_UI" || fail "the UI panic's message is not on the main screen"
expect_restored "a UI panic"

echo "tmux signals: ok (SIGTERM 143, SIGHUP 129, SIGINT 130, timeout 124, Ctrl-Z and SIGTSTP with fg, a job's panic as an error panel, the wide-integer file, a UI panic 101; terminal restored after each: main screen, cursor shown, mouse off, tty modes as before, prompt and echo back)"
