#!/usr/bin/env bash
# deploy/multihost: three "hosts" (network namespaces, each with its own
# address on a veth pair) running turbo-serve with two workers, HAProxy in
# front (deploy/multihost/haproxy.cfg, as committed) with health checks,
# PROXY protocol v2 and retry-on, and a client in a namespace of its own.
# Under a steady load (wrk):
#   - kill -9 every process of one host: failed requests are counted
#     (target 0) and the host must be marked DOWN;
#   - SIGHUP each host's supervisor in turn (a rolling restart): 0 failed;
#   - the hosts see the client's own address (PROXY v2), not HAProxy's;
#   - requests/s through HAProxy with 1, 2 and 3 hosts in rotation.
# The network is made and torn down here; traffic stays inside it.
#
#   tests/deploy/multihost.sh BUILD/bindings/python/turbo-serve
#
# Needs root (network namespaces), ip (iproute2), haproxy, wrk, curl.
# Exits 77 (skipped, with the reason) when they are not there.
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
SERVE=${1-}
HAPROXY=/usr/sbin/haproxy
DIR=$DEPLOY_DIR/multihost
NET=10.77
NS_CLIENT=turbo-c
HOSTS=(1 2 3)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
for tool in ip wrk curl; do command -v $tool >/dev/null || skip "$tool is missing"; done
[ -x "$HAPROXY" ] || skip "haproxy is missing"
[ -n "$SERVE" ] && [ -x "$SERVE" ] || skip "no turbo-serve (built with the Python binding) given"
ip netns add turbo-probe 2>/dev/null || skip "cannot make a network namespace here"
ip netns del turbo-probe

# ---- the network: one veth pair per namespace, the root side routes ----
teardown_net() {
  local ns
  for ns in $NS_CLIENT turbo-h1 turbo-h2 turbo-h3; do
    ip netns pids $ns 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  for i in 0 1 2 3; do ip link del tv$i 2>/dev/null || true; done
}
teardown_net # leftovers of a run that was killed
# The namespaces (and whatever runs in them) go first, then lib.sh's
# cleanup stops the processes it knows and removes the scratch directory.
on_exit() {
  local rc=$?
  exec 2>/dev/null # not the shell's "Killed" notices of the hosts torn down
  teardown_net
  (exit "$rc")
  cleanup
}
trap on_exit EXIT

make_ns() { # NAME INDEX
  local ns=$1 i=$2
  ip netns add "$ns"
  ip link add tv$i type veth peer name eth0 netns "$ns"
  ip addr add $NET.$i.1/24 dev tv$i
  ip link set tv$i up
  ip -n "$ns" addr add $NET.$i.2/24 dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via $NET.$i.1
}
make_ns $NS_CLIENT 0
for h in "${HOSTS[@]}"; do make_ns turbo-h$h "$h"; done

# ---- the hosts ----
PYPATH=$(cd "$(dirname "$SERVE")" && pwd):$DIR
declare -A HOST_PID
start_host() { # N
  local h=$1
  : >"$TMP/host$h.log"
  ip netns exec turbo-h$h env TURBO_HOST_NAME=host$h PYTHONPATH="$PYPATH" \
    PYTHONDONTWRITEBYTECODE=1 "$SERVE" backend_app:app --host $NET.$h.2 --port 8000 \
    --workers 2 --proxy-protocol --health-path /healthz --metrics-path /metrics \
    >>"$TMP/host$h.log" 2>&1 &
  HOST_PID[$h]=$!
  started $!
  wait_for "$TMP/host$h.log" "serving" 20
}
for h in "${HOSTS[@]}"; do start_host "$h"; done

# ---- HAProxy ----
export HAPROXY_SOCK=$TMP/haproxy.sock
check "haproxy -c: valid" "Configuration file is valid" \
  "$("$HAPROXY" -c -f "$DIR/haproxy.cfg" 2>&1 | grep -o 'Configuration file is valid')"
"$HAPROXY" -db -f "$DIR/haproxy.cfg" >>"$TMP/haproxy.log" 2>&1 &
started $!
URL=http://$NET.0.1:8080/
in_client() { ip netns exec $NS_CLIENT "$@"; }
haproxy_cmd() { "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(0)  # not listening yet: no answer
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().read(), end="")' "$HAPROXY_SOCK" "$1"; }
up_hosts() { haproxy_cmd "show servers state hosts" | awk 'NR > 2 && $6 == 2 {print $4}' | sort | tr '\n' ' '; }
wait_up() { # "host1 host2 host3 " SECONDS
  local _
  for _ in $(seq 1 $(($2 * 10))); do [ "$(up_hosts)" = "$1" ] && return 0; sleep 0.1; done
  echo "FAIL: hosts up: '$(up_hosts)', not '$1'"
  return 1
}
wait_up "host1 host2 host3 " 20

# ---- the client's address reaches the hosts ----
seen=$(for _ in 1 2 3 4 5 6; do in_client curl -s -m 5 "$URL"; echo; done)
check "every host answers through HAProxy" "host1 host2 host3" \
  "$(echo "$seen" | "$PY" -c 'import json, sys
print(" ".join(sorted({json.loads(l)["host"] for l in sys.stdin if l.strip()})))')"
check "the hosts see the client's address (PROXY v2), not HAProxy's" "$NET.0.2" \
  "$(echo "$seen" | "$PY" -c 'import json, sys
print(" ".join(sorted({json.loads(l)["client"] for l in sys.stdin if l.strip()})))')"

# ---- load, and what failed ----
# load SECONDS CONNECTIONS LABEL: wrk from the client's namespace, in the
# background; `failures LABEL` then reads its report.
load() {
  in_client wrk -t1 -c"$2" -d"$1"s --timeout 5s "$URL" >"$TMP/wrk-$3.txt" 2>&1 &
  WRK_PID=$!
  started $WRK_PID
}
failures() { # LABEL -> "REQUESTS FAILED RPS"
  "$PY" - "$TMP/wrk-$1.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
req = int(re.search(r"(\d+) requests in", t).group(1))
errs = sum(map(int, re.findall(r"(?:connect|read|write|timeout) (\d+)", t)))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", t) or [0, 0])[1])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(req, errs + non2xx, int(rps))
PY
}

# Failover: one host dies (every process of it, SIGKILL) under load.
load 8 16 failover
sleep 2
t0=$(date +%s.%N)
ip netns pids turbo-h2 | xargs -r kill -KILL
for _ in $(seq 1 100); do grep -q "hosts/host2 is DOWN" "$TMP/haproxy.log" && break; sleep 0.05; done
t1=$(date +%s.%N)
wait "$WRK_PID" || true
read -r req failed rps < <(failures failover)
down_s=$("$PY" -c "print(round($t1 - $t0, 2))")
echo "failover: kill -9 of host2 under load: $req requests, $failed failed; host2 DOWN after ${down_s}s (checks every 0.5 s, fall 2)"
check "failover: host2 marked DOWN" "yes" "$(grep -q 'hosts/host2 is DOWN' "$TMP/haproxy.log" && echo yes || echo no)"
check "failover: no failed request (HAProxy retried them)" "0" "$failed"

# The host comes back.
start_host 2
wait_up "host1 host2 host3 " 20

# Which worker processes answer (12 requests: every worker of every host).
pids_seen() {
  for _ in $(seq 1 24); do in_client curl -s -m 5 "$URL"; echo; done |
    "$PY" -c 'import json, sys
print(" ".join(sorted({str(json.loads(l)["pid"]) for l in sys.stdin if l.strip()})))'
}
before=$(pids_seen)

# Rolling restart: SIGHUP each host in turn, under load; each replaces
# its workers one at a time, a new one serving before an old one stops.
load 12 16 rolling
sleep 1
for h in "${HOSTS[@]}"; do
  kill -HUP "${HOST_PID[$h]}"
  sleep 3 # pacing: the host's two workers are replaced in about a second
done
wait "$WRK_PID" || true
read -r req failed rps < <(failures rolling)
echo "rolling restart (SIGHUP, one host at a time) under load: $req requests, $failed failed"
check "rolling restart: no failed request" "0" "$failed"
check "rolling restart: every host served throughout" "host1 host2 host3 " "$(up_hosts)"
after=$(pids_seen)
check "rolling restart: every worker was replaced" "" \
  "$(comm -12 <(tr ' ' '\n' <<<"$before" | sort) <(tr ' ' '\n' <<<"$after" | sort))"

# Throughput with 1, 2 and 3 hosts in rotation.
echo "hosts  requests/s (wrk -t1 -c32, 3 s, through HAProxy; this machine's cores are shared)"
for n in 1 2 3; do
  for h in "${HOSTS[@]}"; do
    if [ "$h" -le "$n" ]; then haproxy_cmd "enable server hosts/host$h" >/dev/null
    else haproxy_cmd "disable server hosts/host$h" >/dev/null; fi
  done
  load 3 32 "n$n"
  wait "$WRK_PID" || true
  read -r req failed rps < <(failures "n$n")
  printf '%5d  %10d   (%d failed)\n' "$n" "$rps" "$failed"
done

finish
