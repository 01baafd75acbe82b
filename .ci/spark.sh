# shellcheck shell=bash
# A throwaway Spark Connect server for the Spark engine's tests (sourced by .ci/run). Tried on
# this machine:
# pyspark 4.3.0 from the package mirror (its wheel bundles the connect jar; no --packages),
# Java 17 from PATH, the venv cached in ~/.cache/crmlens-spark. Port open 6-20 s after start,
# 330 MB idle. Never export SPARK_REMOTE: spark-submit reads it and the server dies at start.
# Result streams end after 5 s or 64 KB (the defaults are 2 minutes and 1 GB), so every test
# reads results across several streams: the client must reattach (see
# vendor/apache-spark-connect-core/CRMLENS_PATCH.md).
#
#   source .ci/spark.sh; spark_setup && spark_start   # exports CRMLENS_SPARK_URL=sc://127.0.0.1:PORT
#   ...; spark_stop
SPARK_CACHE="${SPARK_CACHE:-$HOME/.cache/crmlens-spark}"
SPARK_VERSION_PIN="4.3.0"

spark_setup() {
  if ! command -v protoc >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null || return 1
  fi
  local venv="$SPARK_CACHE/venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pyspark,sys; sys.exit(pyspark.__version__ != '$SPARK_VERSION_PIN')" 2>/dev/null; then
    mkdir -p "$SPARK_CACHE"
    python3 -m venv "$venv" || return 1
    "$venv/bin/pip" install -q "pyspark==$SPARK_VERSION_PIN" || return 1
  fi
  export SPARK_HOME
  SPARK_HOME="$("$venv/bin/python" -c 'import os,pyspark; print(os.path.dirname(pyspark.__file__))')" || return 1
  export SPARK_RUN_DIR="${SPARK_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/crmlens-spark.XXXXXX")}"
  export SPARK_LOG_DIR="$SPARK_RUN_DIR/logs" SPARK_PID_DIR="$SPARK_RUN_DIR/pid"
  export SPARK_IDENT_STRING=crmlens          # $USER may be unset in CI
  export SPARK_LOCAL_IP=127.0.0.1            # else the driver binds eth0's address (warning in the log)
  export SPARK_CONF_DIR="$SPARK_RUN_DIR/conf" # empty conf dir: ignore any spark-defaults elsewhere
  mkdir -p "$SPARK_CONF_DIR"
}

spark_start() {
  SPARK_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # Do NOT name the URL variable SPARK_REMOTE: spark-submit reads it and then refuses
  # --master ("Remote cannot be specified with master and/or deploy mode").
  export SPARK_PORT CRMLENS_SPARK_URL="sc://127.0.0.1:$SPARK_PORT"
  # cd: the server's cwd receives spark-warehouse/ and metastore_db/ if they are not redirected.
  (cd "$SPARK_RUN_DIR" && env -u SPARK_REMOTE -u SPARK_CONNECT_MODE "$SPARK_HOME/sbin/start-connect-server.sh" \
      --master 'local[2]' --driver-memory 2g \
      --conf spark.connect.grpc.binding.address=127.0.0.1 \
      --conf spark.connect.grpc.binding.port="$SPARK_PORT" \
      --conf spark.ui.enabled=false \
      --conf spark.connect.execute.reattachable.senderMaxStreamDuration=5s \
      --conf spark.connect.execute.reattachable.senderMaxStreamSize=65536 \
      --conf spark.sql.warehouse.dir="$SPARK_RUN_DIR/warehouse" \
      --conf spark.local.dir="$SPARK_RUN_DIR/local" >/dev/null) || return 1
  for _ in $(seq 1 240); do                 # up to 120 s (2-core machine under load: ~20 s seen)
    if (exec 3<>"/dev/tcp/127.0.0.1/$SPARK_PORT") 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$SPARK_PID_DIR"/*.pid 2>/dev/null)" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "spark connect server did not come up; log:" >&2
  grep -v "^Spark Command" "$SPARK_LOG_DIR"/*.out | tail -n 30 | cut -c1-300 >&2
  spark_stop
  return 1
}

spark_stop() {
  [ -n "${SPARK_HOME:-}" ] && [ -n "${SPARK_PID_DIR:-}" ] || return 0
  local pids pid
  pids="$(cat "$SPARK_PID_DIR"/*.pid 2>/dev/null || true)"  # read first: the stop script deletes it
  # SIGTERM, returns at once; fails (harmlessly) when the server is already gone.
  "$SPARK_HOME/sbin/stop-connect-server.sh" >/dev/null 2>&1 || true
  for pid in $pids; do                      # JVM exits ~2 s later; wait up to 10 s, then SIGKILL
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$SPARK_PID_DIR"/*.pid
}
