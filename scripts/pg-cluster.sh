#!/usr/bin/env bash
# A throwaway PostgreSQL cluster holding the TechEmpower benchmark schema,
# for the tests and the benchmarks (Debian's postgresql package; nothing
# else is installed or touched: no system cluster, no service).
#
# usage: scripts/pg-cluster.sh start DIR   create DIR, a cluster in it, start it, load the
#                                          schema; print one line of connection settings
#        scripts/pg-cluster.sh stop DIR    stop the server (if running) and remove DIR
#        scripts/pg-cluster.sh down DIR    stop the server, keep the cluster (an outage)
#        scripts/pg-cluster.sh up DIR      start it again, same socket and port
#        scripts/pg-cluster.sh psql DIR [ARGS...]   psql on the cluster's database
#
# `start` prints exactly one line on stdout, the libpq environment:
#     PGHOST=DIR PGPORT=PORT PGDATABASE=hello_world PGUSER=postgres
# so `export $(scripts/pg-cluster.sh start DIR)` points libpq (psql, the
# examples) at it. The same settings are in DIR/env (`. DIR/env`) and, as a
# libpq conninfo string ("host=DIR port=PORT dbname=hello_world
# user=postgres"), in DIR/conninfo. The server listens on a Unix socket in
# DIR and on 127.0.0.1:PORT, a free port (or $PG_PORT), with trust
# authentication: it is for this machine's tests only.
#
# The schema: World(id int primary key, randomNumber int), rows 1..10000
# with random numbers 1..10000, and Fortune(id int primary key,
# message varchar(2048)) with the benchmark's 12 fortunes. Unquoted, so
# PostgreSQL folds the names to world, randomnumber and fortune.
#
# PostgreSQL refuses to run as root: as root, the server runs as the system
# user $PG_USER (default turbo-pg, created when missing), which owns DIR;
# DIR's parent directories must let that user through (a directory made by
# `mktemp -d` under /tmp does). Otherwise it runs as the caller.
#
# Every failure prints the server's log (DIR/postgres.log) on stderr and
# exits non-zero, after stopping a server it had started. A caller that
# starts a cluster stops it in a trap (`trap 'scripts/pg-cluster.sh stop
# DIR' EXIT`); `stop` is safe to repeat and on a half-made DIR.
#
# Environment: PG_BIN (default: the newest /usr/lib/postgresql/*/bin),
# PG_PORT (a fixed TCP port), PG_USER (see above), PG_MAX_CONNECTIONS
# (default 200).
set -euo pipefail

die() {
  echo "pg-cluster: $*" >&2
  exit 1
}

[ $# -ge 2 ] || die "usage: $0 start|stop|down|up|psql DIR [ARGS...]"
cmd=$1
dir=$2
shift 2
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
dir=${dir%/}
# The socket's path (DIR/.s.PGSQL.PORT) must fit in sockaddr_un, and the
# one-line output must split on spaces.
[[ $dir =~ ^[A-Za-z0-9_./-]+$ ]] || die "DIR may hold only letters, digits and _ . / - ('$dir')"
[ ${#dir} -le 80 ] || die "DIR is too long for a Unix socket path (${#dir} > 80 characters)"

if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$PG_BIN" ] || die "no PostgreSQL server under /usr/lib/postgresql (scripts/install-deps.sh installs it)"
fi
[ -x "$PG_BIN/postgres" ] || die "$PG_BIN/postgres does not exist"
PG_USER=${PG_USER:-turbo-pg}
db=hello_world

# Runs a command as the cluster's owner, from DIR (the server's working
# directory must be readable by it).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$dir" && runuser -u "$PG_USER" -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

show_log() {
  if [ -f "$dir/postgres.log" ]; then
    echo "---- $dir/postgres.log" >&2
    tail -n 50 "$dir/postgres.log" >&2
    echo "----" >&2
  fi
}

fail() {
  echo "pg-cluster: $*" >&2
  show_log
  server_stop immediate || true
  exit 1
}

running() {
  [ -f "$dir/data/postmaster.pid" ] && as_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

server_stop() { # fast|immediate
  [ -d "$dir/data" ] || return 0
  running || return 0
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m "$1" -w -t 30 stop >/dev/null
}

server_start() {
  local port
  port=$(cat "$dir/port")
  # -w: pg_ctl returns once the server accepts connections, or fails.
  if ! as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null; then
    return 1
  fi
  local i
  for i in $(seq 1 100); do
    "$PG_BIN/pg_isready" -q -h "$dir" -p "$port" -d "$db" -U postgres && return 0
    "$PG_BIN/pg_isready" -q -h "$dir" -p "$port" -U postgres && return 0
    sleep 0.1
  done
  return 1
}

free_port() {
  if [ -n "${PG_PORT:-}" ]; then
    echo "$PG_PORT"
  elif [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 20000))
  fi
}

psql_db() { # the database's psql, as the caller: trust authentication
  PGCLIENTENCODING=UTF8 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" \
    -U postgres "$@"
}

load_schema() {
  psql_db -d postgres -c "CREATE DATABASE $db ENCODING 'UTF8' TEMPLATE template0" >/dev/null
  psql_db -d "$db" >/dev/null <<'SQL'
CREATE TABLE World (
  id integer NOT NULL PRIMARY KEY,
  randomNumber integer NOT NULL DEFAULT 0
);
INSERT INTO World (id, randomNumber)
  SELECT i, 1 + floor(random() * 10000)::integer FROM generate_series(1, 10000) AS i;

CREATE TABLE Fortune (
  id integer NOT NULL PRIMARY KEY,
  message varchar(2048) NOT NULL
);
INSERT INTO Fortune (id, message) VALUES
  (1, 'fortune: No such file or directory'),
  (2, 'A computer scientist is someone who fixes things that aren''t broken.'),
  (3, 'After enough decimal places, nobody gives a damn.'),
  (4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'),
  (5, 'A computer program does what you tell it to do, not what you want it to do.'),
  (6, 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen'),
  (7, 'Any program that runs right is obsolete.'),
  (8, 'A list is only as strong as its weakest link. — Donald Knuth'),
  (9, 'Feature: A bug with seniority.'),
  (10, 'Computers make very fast, very accurate mistakes.'),
  (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
  (12, 'フレームワークのベンチマーク');
ANALYZE World;
ANALYZE Fortune;
SQL
}

start() {
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    die "$dir exists and is not empty"
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    if ! getent passwd "$PG_USER" >/dev/null; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        "$PG_USER" || die "cannot create the system user $PG_USER"
    fi
    chown "$PG_USER:" "$dir"
    runuser -u "$PG_USER" -- test -w "$dir" ||
      die "$PG_USER cannot write $dir: a parent directory keeps it out"
  fi
  chmod 0700 "$dir"
  as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # A throwaway cluster: durability is not wanted, speed is.
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
# pg-cluster.sh: a throwaway cluster for tests and benchmarks
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = ${PG_MAX_CONNECTIONS:-200}
shared_buffers = 64MB
unix_socket_permissions = 0777
log_min_messages = warning
CONF
  local attempt ok=0
  for attempt in 1 2 3; do
    free_port >"$dir/port"
    if server_start; then
      ok=1
      break
    fi
    # Another process may have taken the free port meanwhile: try another,
    # unless it was fixed.
    grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/postgres.log" 2>/dev/null &&
      [ -z "${PG_PORT:-}" ] || break
  done
  [ $ok -eq 1 ] || fail "the server did not start"
  load_schema || fail "loading the schema failed"
  local port
  port=$(cat "$dir/port")
  printf 'export PGHOST=%s PGPORT=%s PGDATABASE=%s PGUSER=postgres\n' "$dir" "$port" "$db" >"$dir/env"
  printf 'host=%s port=%s dbname=%s user=postgres\n' "$dir" "$port" "$db" >"$dir/conninfo"
  printf 'PGHOST=%s PGPORT=%s PGDATABASE=%s PGUSER=postgres\n' "$dir" "$port" "$db"
}

case $cmd in
start)
  start
  ;;
stop)
  [ -e "$dir" ] || exit 0
  if ! server_stop fast; then
    server_stop immediate || { show_log; die "cannot stop the server in $dir"; }
  fi
  rm -rf "$dir"
  ;;
down)
  [ -d "$dir/data" ] || die "$dir holds no cluster"
  server_stop fast || fail "cannot stop the server"
  ;;
up)
  [ -d "$dir/data" ] || die "$dir holds no cluster"
  running || server_start || fail "the server did not start again"
  ;;
psql)
  [ -f "$dir/port" ] || die "$dir holds no cluster"
  psql_db -d "$db" "$@"
  ;;
*)
  die "unknown command '$cmd' (start, stop, down, up, psql)"
  ;;
esac
