#!/usr/bin/env node
// A real WebSocket client (Node's `ws` package, pinned in package-lock.json)
// for any server: connects to URL, runs a script of sends, prints one JSON
// line per thing that happens, and exits by how the connection closed.
//
//   node ws_client.js URL [--script FILE.json] [--no-deflate] [--timeout MS]
//
// The default script (an echo peer answers it): a text, a text with 2-, 3-
// and 4-byte UTF-8, 256 bytes of binary, 64 KiB of binary, 64 KiB of text,
// a ping; then it waits for 5 messages and closes with 1000 "done".
// A script is a JSON array of steps:
//   {"text": "..."}            {"text_len": N}    (N bytes of "a".."z")
//   {"binary_hex": "00ff"}     {"binary_len": N}  (bytes i % 251)
//   {"ping": "payload"}        {"wait": N}        (until N messages in all)
//   {"close": 1000, "reason": "done"}             (then wait for the server's)
//   {"wait_close": true}       (wait for the server to close)
// Output lines: {"event":"open","extensions":"..."}; {"event":"message",
// "type":"text"|"binary","len":N,"sha256":"...","data":"..." (text or hex,
// first 64 bytes)}; {"event":"pong","data":"..."}; {"event":"close",
// "code":N,"reason":"..."}; {"event":"error","message":"..."}.
// Exit status: 0 when the close code is --expect-close (default 1000),
// 1 for another close code, 2 when the connection failed or timed out
// (process exit codes stop at 255, so the code itself is in the close line).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');

function usage() {
  process.stderr.write('usage: node ws_client.js URL [--script FILE.json] [--no-deflate] ' +
                       '[--timeout MS] [--expect-close CODE]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let url = null, scriptFile = null, deflate = true, timeoutMs = 10000, expectClose = 1000;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--script') scriptFile = args[++i];
  else if (a === '--no-deflate') deflate = false;
  else if (a === '--timeout') timeoutMs = Number(args[++i]);
  else if (a === '--expect-close') expectClose = Number(args[++i]);
  else if (a.startsWith('--') || url !== null) usage();
  else url = a;
}
if (url === null || !(timeoutMs > 0)) usage();

const DEFAULT_SCRIPT = [
  {text: 'hello'},
  {text: 'κόσμε € 😀'},
  {binary_len: 256},
  {binary_len: 65536},
  {text_len: 65536},
  {ping: 'p1'},
  {wait: 5},
  {close: 1000, reason: 'done'},
];
const script = scriptFile ? JSON.parse(fs.readFileSync(scriptFile, 'utf8')) : DEFAULT_SCRIPT;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function textOf(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}

function bytesOf(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

const ws = new WebSocket(url, {perMessageDeflate: deflate, maxPayload: 0});
let received = 0, step = 0, waitFor = null, finished = false;
const timer = setTimeout(() => {
  out({event: 'error', message: `timed out after ${timeoutMs} ms (step ${step}, ${received} messages)`});
  finish(2);
}, timeoutMs);

function finish(status) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  ws.terminate();
  process.exitCode = status;
}

// Runs steps until one has to wait for the server.
function advance() {
  while (step < script.length) {
    const s = script[step];
    if (s.wait !== undefined) {
      if (received < s.wait) { waitFor = s.wait; return; }
    } else if (s.wait_close) {
      return;
    } else if (s.text !== undefined) {
      ws.send(s.text);
    } else if (s.text_len !== undefined) {
      ws.send(textOf(s.text_len));
    } else if (s.binary_hex !== undefined) {
      ws.send(Buffer.from(s.binary_hex, 'hex'));
    } else if (s.binary_len !== undefined) {
      ws.send(bytesOf(s.binary_len));
    } else if (s.ping !== undefined) {
      ws.ping(s.ping);
    } else if (s.close !== undefined) {
      ws.close(s.close, s.reason || '');
      step = script.length;
      return;
    } else {
      out({event: 'error', message: 'unknown script step ' + JSON.stringify(s)});
      finish(2);
      return;
    }
    step++;
  }
}

ws.on('open', () => {
  out({event: 'open', extensions: ws.extensions, protocol: ws.protocol});
  advance();
});
ws.on('message', (data, isBinary) => {
  received++;
  const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  const head = buf.subarray(0, 64);
  out({event: 'message', type: isBinary ? 'binary' : 'text', len: buf.length,
       sha256: crypto.createHash('sha256').update(buf).digest('hex'),
       data: isBinary ? head.toString('hex') : head.toString('utf8')});
  if (waitFor !== null && received >= waitFor) {
    waitFor = null;
    step++;
    advance();
  }
});
ws.on('pong', (data) => out({event: 'pong', data: data.toString('utf8')}));
ws.on('close', (code, reason) => {
  out({event: 'close', code, reason: reason.toString('utf8')});
  finish(code === expectClose ? 0 : 1);
});
ws.on('error', (err) => {
  out({event: 'error', message: err.message});
  finish(2);
});
