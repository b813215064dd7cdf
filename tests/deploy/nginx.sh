#!/usr/bin/env bash
# deploy/nginx.conf, run by the real nginx in front of three turbo-hello
# processes: exact bodies through the proxy, requests spread over the
# backends on kept-alive connections, and no failed request while backends
# stop one after the other.
#
#   tests/deploy/nginx.sh BUILD/turbo-hello
#
# The file is used as committed except for the port numbers on its lines
# marked "# port" (free ports here: other tests run in parallel). nginx's
# own main context (pid, logs, temp paths: the scratch directory) is this
# script's, as /etc/nginx/nginx.conf is on a real host.
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
HELLO=${1:?usage: nginx.sh TURBO_HELLO}
NGINX=/usr/sbin/nginx

read -r PN P1 P2 P3 < <(free_ports 4)
start_hello "$HELLO" "$P1" backend1
start_hello "$HELLO" "$P2" backend2
start_hello "$HELLO" "$P3" backend3

adapt_ports "$DEPLOY_DIR/nginx.conf" "$TMP/turbo-hello.conf" 8080="$PN" 8001="$P1" 8002="$P2" 8003="$P3"
cat >"$TMP/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log info;
events { worker_connections 512; }
http {
    log_format upstream '\$request \$status \$upstream_addr';
    access_log $TMP/nginx-access.log upstream;
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fastcgi;
    uwsgi_temp_path $TMP/uwsgi;
    scgi_temp_path $TMP/scgi;
    include $TMP/turbo-hello.conf;
}
EOF

"$NGINX" -t -q -p "$TMP/" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log"
"$NGINX" -p "$TMP/" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
started "$NGINX_PID"
URL=http://127.0.0.1:$PN
wait_http "$URL/"

check_hello_routes "$URL" nginx
# Bodies larger than nginx's in-memory buffer go through a temp file, and
# a chunked request body reaches the backend with a Content-Length.
head -c 300000 /dev/urandom >"$TMP/big.bin"
check "nginx POST /echo 300 kB" "$(sha256sum <"$TMP/big.bin")" \
  "$(curl -s -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big.bin" "$URL/echo" | sha256sum)"
check "nginx POST /echo chunked" "chunked body" \
  "$(printf 'chunked body' | curl -s -H 'Transfer-Encoding: chunked' --data-binary @- "$URL/echo")"
check "nginx over the limit: 413" 413 \
  "$(head -c 1100000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "$URL/echo")"

# Spread and keep-alive: 30 requests, each on a new client connection.
# Round robin sends each backend its share, and the nginx->backend
# connections stay open (upstream keepalive) instead of one per request.
: >"$TMP/nginx-access.log"
for i in $(seq 1 30); do curl -s -o /dev/null "$URL/hello"; done
sleep 0.2
for p in "$P1" "$P2" "$P3"; do
  n=$(grep -c "^GET /hello HTTP/1.1 200 127.0.0.1:$p\$" "$TMP/nginx-access.log" || true)
  check "backend :$p served its share of 30 requests (>= 5)" yes "$([ "$n" -ge 5 ] && echo yes || echo "no, $n")"
  # Server-side sockets of the backend: open and idle, kept by nginx.
  c=$(established "$p")
  check "backend :$p holds 1..2 kept-alive connections" yes "$([ "$c" -ge 1 ] && [ "$c" -le 2 ] && echo yes || echo "no, $c")"
done

# A backend stops (SIGTERM): it finishes, closes its idle connections,
# exits 0; nginx moves every request to the others, GET and POST alike.
stop_hello "$P2" backend2
: >"$TMP/nginx-access.log"
ok=0
for i in $(seq 1 20); do
  [ "$(curl -s "$URL/")" = "Hello from libturbo" ] && [ "$(curl -s --data-binary "n=$i" "$URL/echo")" = "n=$i" ] && ok=$((ok + 1))
done
check "20 GET + 20 POST answered with backend 2 stopped" 20 "$ok"
check "none of them answered by backend 2" 0 "$(grep -c "127.0.0.1:$P2\$" "$TMP/nginx-access.log" || true)"

stop_hello "$P1" backend1
ok=0
for i in $(seq 1 10); do
  [ "$(curl -s --data-binary "m=$i" "$URL/echo")" = "m=$i" ] && ok=$((ok + 1))
done
check "10 requests answered by the last backend" 10 "$ok"

# None left: nginx answers 502 itself.
stop_hello "$P3" backend3
check "no backend: 502" 502 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")"

kill -QUIT "$NGINX_PID" # graceful stop
status=0
wait "$NGINX_PID" || status=$?
check "nginx stops cleanly" 0 "$status"
check "nginx logged no emergency or alert" "" "$(grep -E '\[(emerg|alert|crit)\]' "$TMP/nginx-error.log" || true)"
finish
