#!/usr/bin/env bash
# turbo-hello answers the documented routes with exactly the documented
# bytes, prints the URL it serves, and stops on SIGTERM with status 0.
set -euo pipefail
bin=$1
out=$(mktemp)
"$bin" --host 127.0.0.1 --port 0 --threads 2 >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
  grep -q 'http://' "$out" && break
  sleep 0.05
done
url=$(grep -o 'http://[^ ]*' "$out")
case $url in http://127.0.0.1:[0-9]*/) ;; *) echo "bad URL line: $(cat "$out")"; exit 1 ;; esac

fail=0
check() { # name expected actual
  if [ "$2" != "$3" ]; then
    printf 'FAIL %s\n  expected: %q\n  actual:   %q\n' "$1" "$2" "$3"
    fail=1
  else
    printf 'ok   %s\n' "$1"
  fi
}
fmt='%{http_code} %{content_type} '
# Bodies are compared byte for byte, including the trailing newline.
body=$(curl -s "$url"; echo x); check root-body $'Hello from libturbo\nx' "$body"
check root-status "200 text/plain" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url")"
check hello "{\"message\":\"Hello, World!\"}" "$(curl -s "${url}hello")"
check hello-status "200 application/json" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "${url}hello")"
check user '{"id":"42"}' "$(curl -s "${url}users/42")"
check user-as-sent '{"id":"a%20b"}' "$(curl -s "${url}users/a%20b")"
check echo 'ping pong' "$(curl -s -H 'Content-Type: text/x-test' --data-binary 'ping pong' "${url}echo")"
check echo-type "200 text/x-test" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' -H 'Content-Type: text/x-test' --data-binary 'x' "${url}echo")"
check not-found 404 "$(curl -s -o /dev/null -w '%{http_code}' "${url}nope")"
check wrong-method "405 GET, HEAD" "$(curl -s -o /dev/null -w '%{http_code} %header{allow}' -X DELETE "${url}hello")"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
check sigterm-exit 0 "$status"
check stopped-line 1 "$(grep -c 'stopped' "$out")"
exit $fail
