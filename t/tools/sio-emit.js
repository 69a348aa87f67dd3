#!/usr/bin/env node
// Sends one event to a Socket.IO server from a client of its own and
// prints what came back, as one line of JSON: the tests use it for the
// echo STS's in-band events (config:error_simulation, simulate:disconnect),
// which a client sends and which then apply to the module's connections
// too.
//
// usage: node sio-emit.js URL EVENT JSON [REPLY_EVENT]
//   URL          http://host:port/namespace
//   REPLY_EVENT  wait for this event and print {"event":...,"payload":...};
//                without it, wait for the server's acknowledgement of the
//                event and print {"acked":true}
// Exits 1 after 20 s without an answer.

'use strict';

const path = require('path');
const { io } = require(path.join(__dirname, '../../sts/echo/node_modules/socket.io-client'));

const [url, event, json, reply] = process.argv.slice(2);

if (!url || !event || json === undefined) {
  process.stderr.write('usage: node sio-emit.js URL EVENT JSON [REPLY_EVENT]\n');
  process.exit(2);
}

const payload = JSON.parse(json);
const socket = io(url, { transports: ['websocket'], reconnection: false });

const timer = setTimeout(() => {
  process.stderr.write(`sio-emit: no answer to ${event} from ${url}\n`);
  process.exit(1);
}, 20000);

function done(result) {
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(result) + '\n');
  socket.close();
}

socket.on('connect_error', (e) => {
  process.stderr.write(`sio-emit: ${url}: ${e.message}\n`);
  process.exit(1);
});

socket.on('connect', () => {
  if (reply) {
    socket.once(reply, (p) => done({ event: reply, payload: p }));
    socket.emit(event, payload);
  } else {
    // the echo STS acknowledges every event that asks for it
    socket.emit(event, payload, () => done({ acked: true }));
  }
});
