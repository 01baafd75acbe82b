# shellcheck shell=bash
# A throwaway PostgreSQL server for crmlens's database tests. Meant to be SOURCED (bash):
#
#   source .ci/postgres.sh   # starts a server, exports CRMLENS_TEST_PG_URL and CRMLENS_TEST_PG_DIR
#   cargo test               # the database tests query that server
#   crmlens_pg_stop          # stops it and deletes its directory (safe to call more than once)
#
# The server's cluster lives in a new temporary directory; it listens on 127.0.0.1 only, on a
# free port, with its Unix socket in that directory, so it never clashes with a system server.
# Authentication is `trust` (user `crmlens`, a superuser, database `crmlens`): any local user
# can connect while it runs, which is fine for a throwaway cluster of test data.
#
# TLS: the script makes a throwaway CA and a server certificate for localhost and 127.0.0.1
# (openssl, installed from Debian's packages if missing), turns `ssl` on and exports
# CRMLENS_TEST_PG_CA (the CA's PEM) and CRMLENS_TEST_PG_OTHER_CA (a CA that signed nothing).
# A second superuser, `crmlens_tls`, may connect over TLS only (pg_hba: hostssl trust,
# hostnossl reject); `crmlens` may connect either way. Without openssl the server starts
# without TLS and CRMLENS_TEST_PG_CA is not set (the TLS tests then skip, or fail under
# CRMLENS_REQUIRE_PG).
#
# The server binaries (initdb, pg_ctl, postgres) come from $CRMLENS_PG_BINDIR if set, else
# PATH, else the newest /usr/lib/postgresql/*/bin; if none has them, Debian's `postgresql`
# package is installed (needs root or password-less sudo). initdb refuses to run as root, so
# as root the cluster belongs to the `postgres` user (or a system user `crmlens-pg`, created
# if need be). Safe under `set -euo pipefail`; returns non-zero (never exits) on failure.

if [ -z "${BASH_VERSION:-}" ]; then
  echo "postgres.sh: needs bash (source it from bash)" >&2
  # shellcheck disable=SC2317  # exit runs when the file is executed by another shell
  return 1 2>/dev/null || exit 1
fi
if [ "${BASH_SOURCE[0]:-}" = "$0" ]; then
  echo "usage: source ${BASH_SOURCE[0]}   (running it would leave a server nobody can stop)" >&2
  exit 2
fi

_crmlens_pg_say() { echo "postgres: $*" >&2; }

# Runs a command as the cluster's owner (the current user unless we are root), from the
# cluster's directory so that the owner never needs access to the caller's working directory.
_crmlens_pg_as_owner() {
  local user="${_CRMLENS_PG_USER:-}" dir="${_CRMLENS_PG_DIR:-/}"
  if [ -z "$user" ]; then
    (cd "$dir" && "$@")
  elif command -v runuser >/dev/null 2>&1; then
    (cd "$dir" && runuser -u "$user" -- "$@")
  else
    (cd "$dir" && setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups -- "$@")
  fi
}

# Stops the server and deletes its directory. Idempotent; always returns 0 (it runs from
# EXIT traps).
crmlens_pg_stop() {
  local dir="${_CRMLENS_PG_DIR:-}" bindir="${_CRMLENS_PG_BINDIR:-}" pid=""
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    if [ -f "$dir/data/postmaster.pid" ]; then
      if [ -n "$bindir" ]; then
        _crmlens_pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
          _crmlens_pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
          true
      fi
      if [ -f "$dir/data/postmaster.pid" ]; then
        pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
        case "$pid" in
          '' | *[!0-9]*) ;;
          *)
            kill -QUIT "$pid" 2>/dev/null || true
            sleep 1
            kill -KILL "$pid" 2>/dev/null || true
            ;;
        esac
      fi
    fi
    # Only ever delete a directory this script made.
    case "$dir" in
      */crmlens-pg.*) rm -rf -- "$dir" 2>/dev/null || true ;;
    esac
  fi
  unset _CRMLENS_PG_DIR _CRMLENS_PG_BINDIR _CRMLENS_PG_USER CRMLENS_TEST_PG_URL CRMLENS_TEST_PG_DIR \
    CRMLENS_TEST_PG_CA CRMLENS_TEST_PG_OTHER_CA
  return 0
}

_crmlens_pg_has_bins() {
  [ -n "$1" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]
}

# Prints the directory holding initdb, pg_ctl and postgres, or returns 1.
_crmlens_pg_find_bindir() {
  local d pg_ctl
  if [ -n "${CRMLENS_PG_BINDIR:-}" ]; then
    if _crmlens_pg_has_bins "$CRMLENS_PG_BINDIR"; then
      echo "$CRMLENS_PG_BINDIR"
      return 0
    fi
    _crmlens_pg_say "CRMLENS_PG_BINDIR=$CRMLENS_PG_BINDIR lacks initdb, pg_ctl or postgres"
    return 1
  fi
  # pg_ctl and initdb look for postgres next to their real file, so follow symlinks.
  if pg_ctl="$(command -v pg_ctl 2>/dev/null)" && command -v initdb >/dev/null 2>&1; then
    d="$(dirname -- "$(readlink -f -- "$pg_ctl" 2>/dev/null || echo "$pg_ctl")")"
    if _crmlens_pg_has_bins "$d"; then
      echo "$d"
      return 0
    fi
  fi
  # Newest version first (an unmatched glob stays literal and fails the check).
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
    if _crmlens_pg_has_bins "$d"; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# Prints how to run apt-get as root here ("" as root, "sudo -n" with password-less sudo); if
# neither works, or there is no apt-get, says that $1 is missing (the manual step $2, then $3)
# and returns 1.
_crmlens_pg_root() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      _crmlens_pg_say "$1 is not installed and installing it needs root: $2$3"
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    _crmlens_pg_say "$1 is not installed and there is no apt-get to install it$3"
    return 1
  fi
  echo "$sudo"
}

# Installs openssl (for the test certificates) from Debian's packages; returns 1 if it cannot.
_crmlens_pg_install_openssl() {
  local sudo="" rc=0
  sudo="$(_crmlens_pg_root openssl "apt-get install openssl" "")" || return 1
  _crmlens_pg_say "installing Debian's openssl package"
  $sudo env DEBIAN_FRONTEND=noninteractive sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends openssl' >&2 ||
    rc=$?
  if [ "$rc" -ne 0 ]; then
    _crmlens_pg_say "apt-get install openssl failed (exit $rc)"
  fi
  return "$rc"
}

# Makes a throwaway CA, a server certificate it signs (CN localhost; SAN localhost and
# 127.0.0.1) and a second CA that signs nothing, in $1 (EC P-256, valid for 2 days).
_crmlens_pg_make_certs() {
  local d="$1"
  mkdir -p "$d" || return 1
  printf '%s\n' \
    "[req]" \
    "distinguished_name = dn" \
    "prompt = no" \
    "[dn]" \
    "CN = crmlens throwaway test CA" \
    "[v3_ca]" \
    "basicConstraints = critical,CA:TRUE" \
    "keyUsage = critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier = hash" \
    "[server]" \
    "basicConstraints = critical,CA:FALSE" \
    "keyUsage = critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage = serverAuth" \
    "subjectAltName = DNS:localhost,IP:127.0.0.1" \
    "subjectKeyIdentifier = hash" \
    "authorityKeyIdentifier = keyid" >"$d/openssl.cnf" || return 1
  # The server key must be private to its owner, or postgres refuses it.
  (
    umask 077
    openssl req -x509 -config "$d/openssl.cnf" -extensions v3_ca -newkey ec \
      -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout "$d/ca.key" -out "$d/ca.pem" &&
      openssl req -x509 -config "$d/openssl.cnf" -extensions v3_ca -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=crmlens other CA" \
        -keyout "$d/other-ca.key" -out "$d/other-ca.pem" &&
      openssl req -new -config "$d/openssl.cnf" -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$d/server.key" -out "$d/server.csr" &&
      openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/openssl.cnf" -extensions server \
        -out "$d/server.pem"
  ) >"$d/openssl.log" 2>&1 || return 1
  chmod 644 "$d/ca.pem" "$d/other-ca.pem" "$d/server.pem" || return 1
}

_crmlens_pg_install() {
  local sudo="" policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  sudo="$(_crmlens_pg_root PostgreSQL "apt-get install postgresql" " (or set CRMLENS_PG_BINDIR)")" ||
    return 1
  _crmlens_pg_say "installing Debian's postgresql package"
  # Debian's package starts a system cluster on port 5432; a policy-rc.d that forbids
  # service starts keeps that from happening (only if there is none already).
  if [ ! -e "$policy" ]; then
    if printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy"; then
      added_policy=1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql postgresql-client' >&2 ||
    rc=$?
  if [ "$added_policy" = 1 ]; then
    $sudo rm -f "$policy" || true
  fi
  if [ "$rc" -ne 0 ]; then
    _crmlens_pg_say "apt-get install postgresql failed (exit $rc)"
  fi
  return "$rc"
}

# Prints a TCP port nothing listens on at 127.0.0.1.
_crmlens_pg_free_port() {
  local p _
  if command -v python3 >/dev/null 2>&1 &&
    p="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)" &&
    [ -n "$p" ]; then
    echo "$p"
    return 0
  fi
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

_crmlens_pg_fail() {
  local f dir="${_CRMLENS_PG_DIR:-}"
  _crmlens_pg_say "$*"
  if [ -n "$dir" ]; then
    for f in initdb.log pg_ctl.log server.log createdb.log tls/openssl.log; do
      if [ -s "$dir/$f" ]; then
        echo "--- last lines of $f" >&2
        tail -n 30 "$dir/$f" >&2 || true
      fi
    done
  fi
  crmlens_pg_stop
  return 1
}

_crmlens_pg_start() {
  local bindir user="" base dir port attempt started=0 createdb createuser url tls=0

  if [ -n "${_CRMLENS_PG_DIR:-}" ]; then
    _crmlens_pg_say "stopping the previous test server ($_CRMLENS_PG_DIR)"
    crmlens_pg_stop
  fi

  if ! bindir="$(_crmlens_pg_find_bindir)"; then
    # A wrong CRMLENS_PG_BINDIR is a mistake to report, not a reason to install packages.
    [ -z "${CRMLENS_PG_BINDIR:-}" ] || return 1
    _crmlens_pg_install || return 1
    if ! bindir="$(_crmlens_pg_find_bindir)"; then
      _crmlens_pg_say "installed postgresql but found no initdb, pg_ctl and postgres"
      return 1
    fi
  fi

  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" -eq 0 ]; then
    if getent passwd postgres >/dev/null 2>&1; then
      user=postgres
    else
      user=crmlens-pg
      if ! getent passwd "$user" >/dev/null 2>&1; then
        useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$user" || {
          _crmlens_pg_say "could not create the system user $user"
          return 1
        }
      fi
    fi
  fi

  # The owner must be able to reach the directory (so as root: /tmp, not root's TMPDIR), and
  # the socket's path must stay under the 107-byte limit.
  base="${TMPDIR:-/tmp}"
  if [ -n "$user" ] || [ "${#base}" -gt 60 ] || [ ! -d "$base" ]; then
    base=/tmp
  fi
  dir="$(mktemp -d "${base%/}/crmlens-pg.XXXXXX")" || {
    _crmlens_pg_say "mktemp -d in $base failed"
    return 1
  }
  chmod 700 "$dir" || true
  _CRMLENS_PG_DIR="$dir"
  _CRMLENS_PG_BINDIR="$bindir"
  _CRMLENS_PG_USER="$user"
  if [ -n "$user" ]; then
    chown "$user:" "$dir" || {
      _crmlens_pg_fail "could not give $dir to $user"
      return 1
    }
  fi

  if ! _crmlens_pg_as_owner "$bindir/initdb" -D "$dir/data" -U crmlens --auth=trust \
    --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
    _crmlens_pg_fail "initdb failed"
    return 1
  fi
  # TLS with a throwaway CA (without openssl: no TLS, and the TLS tests say so).
  if command -v openssl >/dev/null 2>&1 || _crmlens_pg_install_openssl; then
    if _crmlens_pg_make_certs "$dir/tls"; then
      tls=1
      if [ -n "$user" ]; then
        chown -R "$user:" "$dir/tls" || tls=0
      fi
    else
      _crmlens_pg_say "could not make the test certificates (see $dir/tls/openssl.log); no TLS"
    fi
  else
    _crmlens_pg_say "no openssl: the server runs without TLS"
  fi
  # Loopback TCP and the private socket only; durability is pointless for test data. The
  # TLS-only user's lines come first (the first matching line decides).
  if ! {
    {
      echo "local all all trust"
      if [ "$tls" = 1 ]; then
        echo "hostssl   all crmlens_tls 127.0.0.1/32 trust"
        echo "hostnossl all crmlens_tls 127.0.0.1/32 reject"
      fi
      echo "host  all all 127.0.0.1/32 trust"
    } >"$dir/data/pg_hba.conf" &&
      printf '%s\n' \
        "" \
        "# crmlens throwaway test server (.ci/postgres.sh)" \
        "listen_addresses = '127.0.0.1'" \
        "unix_socket_directories = '$dir'" \
        "fsync = off" \
        "synchronous_commit = off" \
        "full_page_writes = off" >>"$dir/data/postgresql.conf" &&
      if [ "$tls" = 1 ]; then
        printf '%s\n' \
          "ssl = on" \
          "ssl_cert_file = '$dir/tls/server.pem'" \
          "ssl_key_file = '$dir/tls/server.key'" >>"$dir/data/postgresql.conf"
      fi
  }; then
    _crmlens_pg_fail "could not write the server's configuration"
    return 1
  fi
  if [ -n "$user" ]; then
    chown "$user:" "$dir/data/pg_hba.conf" "$dir/data/postgresql.conf" || true
  fi

  # Another process may take the port between choosing and binding it: then try another.
  for attempt in 1 2 3 4 5; do
    if ! port="$(_crmlens_pg_free_port)"; then
      _crmlens_pg_fail "found no free TCP port on 127.0.0.1"
      return 1
    fi
    rm -f "$dir/server.log"
    if _crmlens_pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
      -o "-p $port" -w -t 60 start >"$dir/pg_ctl.log" 2>&1; then
      started=1
      break
    fi
    if grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets' \
      "$dir/server.log" 2>/dev/null; then
      _crmlens_pg_say "port $port was taken (attempt $attempt of 5)"
      continue
    fi
    break
  done
  if [ "$started" != 1 ]; then
    _crmlens_pg_fail "the server did not start"
    return 1
  fi

  if [ -x "$bindir/createdb" ]; then
    createdb="$bindir/createdb"
  elif ! createdb="$(command -v createdb 2>/dev/null)"; then
    _crmlens_pg_fail "found no createdb (install postgresql-client)"
    return 1
  fi
  if ! PGCONNECT_TIMEOUT=10 "$createdb" -h 127.0.0.1 -p "$port" -U crmlens -O crmlens crmlens \
    >"$dir/createdb.log" 2>&1; then
    _crmlens_pg_fail "could not create the database crmlens"
    return 1
  fi

  if [ "$tls" = 1 ]; then
    if [ -x "$bindir/createuser" ]; then
      createuser="$bindir/createuser"
    elif ! createuser="$(command -v createuser 2>/dev/null)"; then
      _crmlens_pg_fail "found no createuser (install postgresql-client)"
      return 1
    fi
    if ! PGCONNECT_TIMEOUT=10 "$createuser" -h 127.0.0.1 -p "$port" -U crmlens --superuser \
      crmlens_tls >>"$dir/createdb.log" 2>&1; then
      _crmlens_pg_fail "could not create the user crmlens_tls"
      return 1
    fi
    export CRMLENS_TEST_PG_CA="$dir/tls/ca.pem"
    export CRMLENS_TEST_PG_OTHER_CA="$dir/tls/other-ca.pem"
  fi

  url="postgres://crmlens@127.0.0.1:$port/crmlens"
  export CRMLENS_TEST_PG_URL="$url"
  export CRMLENS_TEST_PG_DIR="$dir"
  echo "postgres: test server at $url (stop with crmlens_pg_stop)"
  return 0
}

_crmlens_pg_start || return 1
