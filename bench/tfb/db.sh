#!/usr/bin/env bash
# A throwaway PostgreSQL for the TechEmpower suite: scripts/pg-cluster.sh's
# cluster (World with 10,000 rows, Fortune with the 12 published rows),
# addressed by one connection URL.
#
# usage: bench/tfb/db.sh start   start a cluster (or find the one running)
#                                and print its URL on stdout:
#                                postgresql://postgres@127.0.0.1:PORT/hello_world
#        bench/tfb/db.sh url     print the running cluster's URL (exit 1 if none)
#        bench/tfb/db.sh stop    stop it and remove its files; safe to repeat
#
# start and stop pair up through a state file, $TFB_STATE (default
# ${XDG_RUNTIME_DIR:-/tmp}/turbo-tfb-db.UID), which holds the cluster's
# directory (made by mktemp under /tmp). A second start while one runs
# prints the same URL and starts nothing. The URL is TCP to 127.0.0.1 with
# trust authentication: for this machine's benchmarks only. libpq and
# asyncpg both take it as it is.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/../../scripts/pg-cluster.sh
state=${TFB_STATE:-${XDG_RUNTIME_DIR:-/tmp}/turbo-tfb-db.$(id -u)}

die() {
  echo "tfb/db.sh: $*" >&2
  exit 1
}

url_of() { # DIR -> the URL, from the cluster's recorded port
  [ -f "$1/port" ] || return 1
  echo "postgresql://postgres@127.0.0.1:$(cat "$1/port")/hello_world"
}

running() { # DIR: its server answers
  [ -f "$1/port" ] && "$cluster" psql "$1" -c 'SELECT 1' >/dev/null 2>&1
}

case ${1:-} in
start)
  if [ -f "$state" ]; then
    dir=$(cat "$state")
    if running "$dir"; then
      url_of "$dir"
      exit 0
    fi
    # A stale state file (the machine rebooted, or a start failed): clean up.
    "$cluster" stop "$dir" >/dev/null 2>&1 || true
    rm -f "$state"
  fi
  dir=$(mktemp -d /tmp/tfb-pg.XXXXXX)
  echo "$dir" >"$state"
  if ! "$cluster" start "$dir" >/dev/null; then
    "$cluster" stop "$dir" >/dev/null 2>&1 || true
    rm -f "$state"
    die "the cluster did not start (scripts/pg-cluster.sh said why above)"
  fi
  url_of "$dir"
  ;;
url)
  [ -f "$state" ] && running "$(cat "$state")" || die "no cluster running ($state)"
  url_of "$(cat "$state")"
  ;;
stop)
  if [ -f "$state" ]; then
    "$cluster" stop "$(cat "$state")"
    rm -f "$state"
  fi
  ;;
*)
  die "usage: $0 start|url|stop"
  ;;
esac
