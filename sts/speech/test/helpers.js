// Speech STS tests: start the stand-in APIs (t/tools/speech-standins.js)
// and the STS on free ports, talk to them as the module would.

'use strict';

const path = require('path');
const { spawn } = require('child_process');
const { io } = require('socket.io-client');

const TOP = path.join(__dirname, '../../..');
const children = [];

// starts "node script args"; resolves with { port, proc, log() }
function start(script, args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn('node', [script, '--port', '0', ...args],
                    { env: { ...process.env, ...(env || {}) },
                      stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\d+)/m.exec(out);
      if (m) {
        resolve({ port: Number(m[1]), proc: p, log: () => err,
                  waitLog: (re) => waitFor(() => re.test(err)) });
      }
    });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => reject(new Error(`${script} exited ${code}: ${err}`)));
  });
}

// polls "cond" every 50 ms for up to 20 s; resolves true or false
async function waitFor(cond) {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function standins(args) {
  return start(path.join(TOP, 't/tools/speech-standins.js'), args || []);
}

function sts(args, env) {
  return start(path.join(TOP, 'sts/speech/server.js'), args, env);
}

function stopAll() {
  for (const p of children) p.kill('SIGKILL');
  children.length = 0;
}

async function get(port, p) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  const text = await r.text();
  return p === '/metrics' ? text : JSON.parse(text);
}

async function post(port, p, body) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' } });
  return r.json();
}

// a connected, initialized stream: { socket, events (all received, in
// order), next(name, pred) }
async function stream(port, init) {
  const socket = io(`http://127.0.0.1:${port}/sts`,
                    { transports: ['websocket'], reconnection: false });
  const events = [];
  const waiters = [];
  socket.onAny((name, payload) => {
    const e = { name, payload, at: Date.now() };
    events.push(e);
    const w = waiters.find((x) => x.name === name && x.pred(payload));
    if (w) {
      waiters.splice(waiters.indexOf(w), 1);
      e.taken = true;
      w.resolve(payload);
    }
  });
  const next = (name, pred, ms) => new Promise((resolve, reject) => {
    const seen = events.find((e) => e.name === name && (!pred || pred(e.payload))
                             && !e.taken);
    if (seen) {
      seen.taken = true;
      return resolve(seen.payload);
    }
    const w = { name, pred: pred || (() => true), resolve };
    waiters.push(w);
    setTimeout(() => reject(new Error(`no ${name} within ${ms || 120000} ms`)),
               ms || 120000).unref();
    return undefined;
  });
  await new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', reject);
  });
  socket.emit('stream:init', {
    stream_id: 'live/test', worker_id: 'test:1',
    config: { source_language: 'en', target_language: 'es',
              voice_profile: 'default', chunk_duration_ms: 2000,
              sample_rate_hz: 16000, channels: 1, format: 'pcm_s16le' },
    // a fragment timeout no busy machine reaches, unless a test sets one
    max_inflight: 3, timeout_ms: 120000, ...(init || {}) });
  return { socket, events, next };
}

let seq = 0;

// fragment:data of "ms" of silence as raw PCM
function fragment(ms, n) {
  const pcm = Buffer.alloc(Math.round(16000 * ms / 1000) * 2);
  const s = n === undefined ? seq++ : n;
  return { fragment_id: `00000000-0000-4000-8000-${String(s).padStart(12, '0')}`,
           stream_id: 'live/test', sequence_number: s, timestamp: Date.now(),
           audio: { format: 'pcm_s16le', sample_rate_hz: 16000, channels: 1,
                    duration_ms: ms, data_base64: pcm.toString('base64') } };
}

module.exports = { TOP, waitFor, standins, sts, stopAll, get, post, stream, fragment };
