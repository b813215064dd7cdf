#!/usr/bin/env bash
# deploy/haproxy.cfg, run by the real HAProxy in front of turbo-hello
# processes: the health check (GET /hello, status 200) takes out a backend
# that answers it wrongly and puts it back once it answers right, exact
# bodies through the proxy, round robin, and no failed request when a
# backend stops.
#
#   tests/deploy/haproxy.sh BUILD/turbo-hello
#
# The file is used as committed except for the port numbers on its lines
# marked "# port" (free ports here: other tests run in parallel).
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
HELLO=${1:?usage: haproxy.sh TURBO_HELLO}
HAPROXY=/usr/sbin/haproxy

read -r PH P1 P2 P3 < <(free_ports 4)
start_hello "$HELLO" "$P1" backend1
start_hello "$HELLO" "$P2" backend2

# Backend 3 starts as an impostor that answers 503 to everything and
# records what it was asked: the health check must see it as down.
cat >"$TMP/stub.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[2], "a") as f:
            f.write("%s Host=%s\n" % (self.requestline, self.headers.get("Host")))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
"$PY" "$TMP/stub.py" "$P3" "$TMP/stub-requests.txt" >"$TMP/stub.log" 2>&1 &
STUB_PID=$!
started "$STUB_PID"

adapt_ports "$DEPLOY_DIR/haproxy.cfg" "$TMP/haproxy.cfg" 8080="$PH" 8001="$P1" 8002="$P2" 8003="$P3"
check "haproxy -c: valid, no warning" "Configuration file is valid" "$("$HAPROXY" -c -f "$TMP/haproxy.cfg" 2>&1)"
# -db: foreground, no daemon; its log (stdout, as configured) to a file,
# opened to append so that the test can empty it between steps.
"$HAPROXY" -db -f "$TMP/haproxy.cfg" >>"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
started "$HAPROXY_PID"
URL=http://127.0.0.1:$PH
wait_http "$URL/"

wait_for "$TMP/haproxy.log" "Server turbo_hello/hello3 is DOWN" 15
check "the health check asks GET /hello, HTTP/1.1 with a Host" "GET /hello HTTP/1.1 Host=localhost" \
  "$(sort -u "$TMP/stub-requests.txt")"

check_hello_routes "$URL" haproxy
head -c 300000 /dev/urandom >"$TMP/big.bin"
check "haproxy POST /echo 300 kB" "$(sha256sum <"$TMP/big.bin")" \
  "$(curl -s -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big.bin" "$URL/echo" | sha256sum)"
check "haproxy POST /echo chunked" "chunked body" \
  "$(printf 'chunked body' | curl -s -H 'Transfer-Encoding: chunked' --data-binary @- "$URL/echo")"

# spread N SERVERS...: N requests, each on a new client connection; every
# one answered by one of SERVERS (as the log's backend/server field says),
# and each of SERVERS answering at least a fifth of them.
spread() {
  local n=$1 i s count total=0 bad=""
  shift
  : >"$TMP/haproxy.log"
  for i in $(seq 1 "$n"); do curl -s -o /dev/null "$URL/hello"; done
  sleep 0.2
  for s in "$@"; do
    count=$(grep -ac " turbo_hello/$s .*\"GET /hello HTTP/1.1\"" "$TMP/haproxy.log" || true)
    total=$((total + count))
    [ "$count" -ge $((n / 5)) ] || bad="$bad $s=$count"
  done
  [ "$total" = "$n" ] || bad="$bad total=$total"
  echo "${bad:-ok}"
}
check "20 requests, round robin over the two healthy backends" ok "$(spread 20 hello1 hello2)"
check "the impostor got health checks only" "GET /hello HTTP/1.1 Host=localhost" "$(sort -u "$TMP/stub-requests.txt")"

# The real backend 3 replaces the impostor: the check puts it back.
kill -TERM "$STUB_PID"
wait "$STUB_PID" || true
start_hello "$HELLO" "$P3" backend3
wait_for "$TMP/haproxy.log" "Server turbo_hello/hello3 is UP" 15
check "30 requests, round robin over three" ok "$(spread 30 hello1 hello2 hello3)"
# Keep-alive to the backends (http-reuse): the 30 requests, each on its
# own client connection, left idle server connections open, not 30.
c=$(established "$P1" "$P2" "$P3")
check "1..6 kept-alive backend connections after 30 requests" yes "$([ "$c" -ge 1 ] && [ "$c" -le 6 ] && echo yes || echo "no, $c")"

# Backend 2 stops (SIGTERM) before any health check noticed: the requests
# it refuses are retried on the others (retries, redispatch). None fails.
stop_hello "$P2" backend2
: >"$TMP/haproxy.log"
ok=0
for i in $(seq 1 15); do
  [ "$(curl -s "$URL/")" = "Hello from libturbo" ] && [ "$(curl -s --data-binary "n=$i" "$URL/echo")" = "n=$i" ] && ok=$((ok + 1))
done
check "15 GET + 15 POST answered with backend 2 stopped" 15 "$ok"
wait_for "$TMP/haproxy.log" "Server turbo_hello/hello2 is DOWN" 15
check "20 requests after the check took backend 2 out" ok "$(spread 20 hello1 hello3)"

kill -USR1 "$HAPROXY_PID" # soft stop: finish what is in flight, then exit
status=0
wait "$HAPROXY_PID" || status=$?
check "haproxy stops cleanly" 0 "$status"
stop_hello "$P1" backend1
stop_hello "$P3" backend3
finish
