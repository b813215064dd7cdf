#!/usr/bin/env python3
"""Opens page.html, as served by the server under test, in headless
Chromium (Debian's `chromium`), waits until its WebSocket and EventSource
are done, and prints what the page received (JSON).

    run_browser.py URL [--timeout S] [--no-echo] [--screenshot PNG]

URL is the page on the server under test, with page.html's query
parameters, e.g. http://127.0.0.1:8000/page.html?ws=/ws&sse=/sse&ssen=3.
Chromium is driven through the DevTools protocol over a pipe
(--remote-debugging-pipe), with the standard library only: the page is
opened, and #result is read until its data-done is "1".

Checks (exit 1 when one fails): the WebSocket opened, closed cleanly with
1000, and (unless --no-echo) got back exactly what it sent, in order (type,
length, FNV-1a of the bytes): an echo; the EventSource opened and got the
number of events the page waited for (ssen). Exit 2 when Chromium could not
run or the page was not done in time.
"""
import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qs, urlsplit

READ_RESULT = """(() => {
  const e = document.getElementById('result');
  return e ? [e.dataset.done, e.textContent] : null;
})()"""


class DevTools:
    """The DevTools protocol over Chromium's pipe: JSON messages ended by NUL."""

    def __init__(self, write_fd, read_fd):
        self.write_fd, self.read_fd = write_fd, read_fd
        self.next_id = 0
        self.buf = b""

    def call(self, method, params=None, session=None, timeout=10.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.write_fd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") != self.next_id:
                    continue  # an event, or a reply to an earlier call
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError(f"{method}: no answer from Chromium in {timeout} s")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"{method}: Chromium closed its pipe")
            self.buf += chunk


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("run_browser.py: no chromium on PATH (scripts/install-deps.sh installs it)")


def run_page(url, timeout, screenshot):
    """The page's result (dict), or raises."""
    profile = tempfile.mkdtemp(prefix="turbo-chromium-")
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    flags = ["--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--no-first-run", "--no-default-browser-check", "--disable-gpu",
             "--disable-extensions", "--disable-background-networking", "about:blank"]
    if os.geteuid() == 0:
        flags.insert(0, "--no-sandbox")  # Chromium refuses to run as root otherwise
    # The pipe is fds 3 (commands in) and 4 (replies out) in the browser.
    cmd = ["/bin/sh", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}',
           find_chromium(), *flags]
    proc = subprocess.Popen(cmd, pass_fds=(to_browser_r, from_browser_w),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(to_browser_r)
    os.close(from_browser_w)
    try:
        dt = DevTools(to_browser_w, from_browser_r)
        target = dt.call("Target.createTarget", {"url": url}, timeout=30)["targetId"]
        session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = dt.call("Runtime.evaluate", {"expression": READ_RESULT, "returnByValue": True},
                            session=session)
                value = r.get("result", {}).get("value")
            except RuntimeError as e:  # no page yet (loading, or an error page)
                value = str(e)
            if isinstance(value, list) and value[0] == "1":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page was not done within {timeout} s: {value}")
            time.sleep(0.1)
        if screenshot:
            import base64
            png = dt.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(png))
        try:
            dt.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError):
            pass  # it may close the pipe before answering
        return json.loads(value[1])
    finally:
        os.close(to_browser_w)
        os.close(from_browser_r)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


def check(result, url, echo):
    """The failed checks, as sentences."""
    q = parse_qs(urlsplit(url).query)
    failed = []
    ws = result.get("ws")
    if ws is not None:
        if not ws["open"]:
            failed.append("the WebSocket did not open")
        close = ws.get("close") or {}
        if close.get("code") != 1000 or not close.get("wasClean"):
            failed.append(f"the WebSocket did not close cleanly with 1000: {close}")
        if echo:
            got = [{k: m[k] for k in ("type", "len", "fnv")} for m in ws["messages"]]
            if got != ws["sent"]:
                failed.append(f"the WebSocket's messages are not an echo: sent {ws['sent']}, got {got}")
    sse = result.get("sse")
    if sse is not None:
        want = int(q.get("ssen", ["3"])[0])
        if not sse["open"]:
            failed.append("the EventSource did not open")
        if len(sse["events"]) != want:
            failed.append(f"the EventSource got {len(sse['events'])} events, not {want}")
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="page.html on the server under test, with its query")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds for the page (20)")
    ap.add_argument("--no-echo", action="store_true",
                    help="do not require the WebSocket's messages to echo what it sent")
    ap.add_argument("--screenshot", metavar="PNG", help="save the page as PNG when done")
    args = ap.parse_args()
    try:
        result = run_page(args.url, args.timeout, args.screenshot)
    except (OSError, RuntimeError, TimeoutError, ValueError) as e:
        print(f"run_browser.py: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, ensure_ascii=False))
    failed = check(result, args.url, not args.no_echo)
    for f in failed:
        print(f"run_browser.py: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
