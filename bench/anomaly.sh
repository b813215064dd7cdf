#!/usr/bin/env bash
# What the client pays per response: turbo-hello, the raw-epoll floor
# (bench/floor.c), the floor sending turbo-hello's exact bytes (its Server
# and Date lines added: "floorT") and nginx side by side on GET /hello, same pinning as
# bench/lib.sh (server on core 0, `wrk -t1 -c50` on core 1), the three
# servers interleaved in each round so that the machine's other load hits
# them alike. See bench/README.md, "The wrk anomaly".
#
# Per server and round it prints:
#   req/s        wrk's own figure
#   wrk us/req   wrk's CPU (user+sys, from the shell's `times`) / requests
#   wrk usr/sys  the same split into user and system time
#   wrk%         wrk's CPU time / wall time: the share of core 1 it got
#   oth1%        core 1 busy time (/proc/stat) not wrk's, / wall time: other
#                sessions' load on the client's core (approximate: softirq
#                work charged to no process counts here)
#   rd/req       read() calls wrk made per response (syscalls:sys_enter_read)
#   ep/req       epoll_wait calls wrk made per response
#   wr/req       write() calls wrk made per response
#   srv us/req   server CPU (utime+stime of its process tree) / requests
#   srv sc/req   server syscalls per request (raw_syscalls:sys_enter)
#   pkt/req      packets sent on lo per request (both directions)
#   resp B       response size, headers + body
#
# With WRK_IR=1 it then prints wrk's own user-space instructions per
# response against each server (callgrind; independent of the machine's
# load): (Ir of a 6 s run - Ir of a 2 s run) / (their request difference),
# which cancels wrk's start-up.
#
# Usage: [WRK_IR=1] bench/anomaly.sh [DURATION=5] [ROUNDS=3]
# Needs: wrk, nginx, perf (syscall tracepoints), curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
ROUNDS=${2:-3}
BUILD=${BUILD:-build}
PORT_T=18181
PORT_F=18182
PORT_N=18183
PORT_FT=18184
[ -x "$BUILD/turbo-hello" ] && [ -x "$BUILD/bench/floor" ] || {
  echo "build turbo-hello and floor first (cmake --build $BUILD --target turbo-hello floor)" >&2
  exit 1
}

tmp=$(mktemp -d)
. bench/lib.sh
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

taskset -c 0 "$BUILD/turbo-hello" --host 127.0.0.1 --port $PORT_T --threads 1 >/dev/null 2>&1 &
BENCH_PIDS+=($!)
tpid=$!
taskset -c 0 "$BUILD/bench/floor" --port $PORT_F 2>/dev/null &
BENCH_PIDS+=($!)
fpid=$!
wait_up "http://127.0.0.1:$PORT_T/hello"
# turbo-hello's header lines that the floor does not send (Server, Date)
extra=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT_T/hello" | grep -E '^(Server|Date):')
extra+=$'\n' # each line keeps its CR; $(...) dropped the last LF
taskset -c 0 "$BUILD/bench/floor" --port $PORT_FT --headers "$extra" 2>/dev/null &
BENCH_PIDS+=($!)
ftpid=$!
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  server {
    listen 127.0.0.1:$PORT_N;
    location = /hello { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
  }
}
CONF
taskset -c 0 nginx -c "$tmp/nginx/nginx.conf" &
BENCH_PIDS+=($!)
npid=$!
for p in $PORT_T $PORT_F $PORT_N $PORT_FT; do wait_up "http://127.0.0.1:$p/hello"; done
check_hello turbo "http://127.0.0.1:$PORT_T/hello"
check_hello floor "http://127.0.0.1:$PORT_F/hello"
check_hello nginx "http://127.0.0.1:$PORT_N/hello"
check_hello floorT "http://127.0.0.1:$PORT_FT/hello"
[ "$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT_FT/hello" | grep -cE '^(Server|Date):')" = 2 ] || {
  echo "floorT does not send turbo's Server and Date lines" >&2
  exit 1
}

resp_bytes() { curl -s -o /dev/null -w '%{size_header} %{size_download}' "$1" | awk '{print $1 + $2}'; }

# one NAME PID URL: one measured wrk run; prints the row.
one() {
  local name=$1 pid=$2 url=$3 b0 b1 k0 k1 p0 p1 out
  b0=$(tree_ticks "$pid")
  k0=$(core_busy 1)
  p0=$(cat /sys/class/net/lo/statistics/tx_packets)
  # The server's syscalls, counted for the run's length.
  perf stat -x, -e raw_syscalls:sys_enter -p "$(echo $pid $(pgrep -P "$pid") | tr ' ' ,)" -o "$tmp/srv.perf" -- sleep "$DURATION" &
  local sp=$!
  out=$( (taskset -c 1 perf stat -x, -o "$tmp/wrk.perf" \
    -e syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait \
    wrk -t1 -c50 -d"${DURATION}s" "$url"
    times) 2>&1)
  wait "$sp" || true
  b1=$(tree_ticks "$pid")
  k1=$(core_busy 1)
  p1=$(cat /sys/class/net/lo/statistics/tx_packets)
  local reqs rps cu cs
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  # `times` second line: children's user and system time, e.g. 0m1.234s 0m2.345s
  read -r cu cs < <(echo "$out" | tail -1 | awk '{
    split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2], s[1] * 60 + s[2] }')
  local rd wr ep sc
  rd=$(awk -F, '/sys_enter_read/ {print $1}' "$tmp/wrk.perf")
  wr=$(awk -F, '/sys_enter_write/ {print $1}' "$tmp/wrk.perf")
  ep=$(awk -F, '/sys_enter_epoll_wait/ {print $1}' "$tmp/wrk.perf")
  sc=$(awk -F, '/raw_syscalls/ {print $1}' "$tmp/srv.perf")
  awk -v n="$name" -v q="$reqs" -v rps="$rps" -v cu="$cu" -v cs="$cs" -v rd="$rd" -v wr="$wr" -v ep="$ep" \
    -v st=$((b1 - b0)) -v hz="$hz" -v sc="$sc" -v pk=$((p1 - p0)) -v rb="$RB" \
    -v k=$((k1 - k0)) -v d="$DURATION" 'BEGIN {
      w = (cu + cs) / d; o = k / hz / d - w; if (o < 0) o = 0
      printf "%-6s %9.0f %7.2f %5.2f/%-5.2f %5.0f%% %5.0f%% %6.3f %6.3f %6.3f %7.2f %6.2f %6.2f %5d\n", n, rps,
        (cu + cs) * 1e6 / q, cu * 1e6 / q, cs * 1e6 / q, 100 * w, 100 * o, rd / q, ep / q, wr / q,
        st / hz * 1e6 / q, sc / q, pk / q, rb }'
}

server_of() {
  case $1 in
  turbo) pid=$tpid port=$PORT_T ;;
  floor) pid=$fpid port=$PORT_F ;;
  floorT) pid=$ftpid port=$PORT_FT ;;
  nginx) pid=$npid port=$PORT_N ;;
  esac
}

echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1 -c50 -d${DURATION}s on core 1, server on core 0"
printf '%-6s %9s %7s %11s %6s %6s %6s %6s %6s %7s %6s %6s %5s\n' server req/s 'wrk us' 'usr/sys' 'wrk%' 'oth1%' rd/req ep/req wr/req \
  'srv us' sc/req pkt/req respB
for _ in $(seq 1 "$ROUNDS"); do
  for s in turbo floor floorT nginx; do
    server_of $s
    RB=$(resp_bytes "http://127.0.0.1:$port/hello")
    taskset -c 1 wrk -t1 -c50 -d1s "http://127.0.0.1:$port/hello" >/dev/null # warm-up
    one $s "$pid" "http://127.0.0.1:$port/hello"
  done
done

[ "${WRK_IR:-0}" = 1 ] || exit 0
echo "# wrk's user-space instructions per response (callgrind, 6 s run minus 2 s run)"
printf '%-6s %6s %10s\n' server respB 'wrk Ir/resp'
for s in turbo floor floorT nginx; do
  server_of $s
  for d in 2 6; do
    out=$(valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$d" wrk -t1 -c50 -d${d}s \
      "http://127.0.0.1:$port/hello" 2>/dev/null)
    eval "q$d=$(echo "$out" | awk '/requests in/ {print $1}')"
    eval "i$d=$(awk '/^summary:/ {print $2}' "$tmp/cg.$d")"
  done
  awk -v n=$s -v rb="$(resp_bytes "http://127.0.0.1:$port/hello")" -v q2="$q2" -v q6="$q6" -v i2="$i2" -v i6="$i6" \
    'BEGIN { printf "%-6s %6d %10.0f\n", n, rb, (i6 - i2) / (q6 - q2) }'
done
