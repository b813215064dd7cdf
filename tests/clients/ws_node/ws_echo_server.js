#!/usr/bin/env node
// The benchmark's Node peer (bench/): a WebSocket echo server on Node's `ws`
// package. Every message goes back as it came (text as text, binary as
// binary); no compression, no payload limit.
//
//   node ws_echo_server.js PORT [HOST]     (HOST: 127.0.0.1)
//
// Prints "listening on ws://HOST:PORT/" once it accepts; stops on SIGINT or
// SIGTERM.
'use strict';
const WebSocket = require('ws');

const port = Number(process.argv[2]);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node ws_echo_server.js PORT [HOST]\n');
  process.exit(2);
}

const wss = new WebSocket.WebSocketServer({host, port, perMessageDeflate: false, maxPayload: 0});
wss.on('listening', () => {
  process.stdout.write(`listening on ws://${host}:${wss.address().port}/\n`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary}));
  ws.on('error', () => ws.terminate());
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => process.exit(0));
  });
}
