#!/usr/bin/env node
// Self-check of the echo STS (a development aid, not the project's tests).
//
//   node selftest.js                 starts server.js on port 0 and checks it
//   node selftest.js --url http://127.0.0.1:PORT    checks a running server
//
// The running server's config is changed through POST /control; the
// selftest puts the defaults back at the end. Part 1 speaks Socket.IO with
// socket.io-client (WebSocket only, like the module); part 2 checks the
// hostile modes at the wire level with a raw `ws` client, and the tone
// formats with ffprobe. Exit status 0 when everything passed.

'use strict';

const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFile } = require('child_process');
const { io: ioc } = require('socket.io-client');
const WebSocket = require('ws');

let base = null;
let server = null;
let failures = 0;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(process.execPath, [path.join(__dirname, 'server.js'), '--port', '0'], {
      stdio: ['ignore', 'pipe', process.env.SELFTEST_VERBOSE ? 'inherit' : 'ignore'],
    });
    let buf = '';
    server.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/^listening (\d+)\n/);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

async function http(method, route, body) {
  const res = await fetch(base + route, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const control = (c) => http('POST', '/control', c);

const DEFAULTS = {
  mode: 'echo', rules: [], latency_ms: 0, latency_min_ms: null, latency_max_ms: null,
  tone_format: 'pcm_s16le', tone_hz: 1000, tone_scale: 1, disconnect_after: null,
  no_ready: false, no_complete: false, refuse_namespace: false, namespace: [],
  auth_token: null, auth_mode: 'connect_error', max_inflight: 3, ready_delay_ms: 0,
};

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Resolves with the event's first argument, rejects after ms.
function next(sock, event, ms = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      sock.off(event, on);
      reject(new Error(`no "${event}" within ${ms} ms`));
    }, ms);
    function on(v) {
      clearTimeout(t);
      sock.off(event, on);
      resolve(v);
    }
    sock.on(event, on);
  });
}

// Resolves true if the event does NOT come within ms.
function absent(sock, event, ms) {
  return next(sock, event, ms).then(() => false, () => true);
}

function connect(nsp = '/sts', opts = {}) {
  return ioc(base + nsp, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: {
      'X-Stream-ID': 'stream-selftest',
      'X-Worker-ID': 'worker-7',
      'X-Api-Key': 'k123',
      ...(opts.headers || {}),
    },
    auth: opts.auth || {},
  });
}

// 10 ms of stereo 48 kHz s16le: small and valid.
function fragment(seq, extra = {}) {
  const pcm = Buffer.alloc(480 * 2 * 2);
  for (let i = 0; i < 480; i++) {
    const s = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000));
    pcm.writeInt16LE(s, i * 4);
    pcm.writeInt16LE(s, i * 4 + 2);
  }
  return {
    fragment_id: crypto.randomUUID(),
    stream_id: 'stream-selftest',
    sequence_number: seq,
    timestamp: Date.now(),
    audio: {
      format: 'pcm_s16le', sample_rate_hz: 48000, channels: 2, duration_ms: 10,
      data_base64: pcm.toString('base64'),
    },
    metadata: { pts_ns: seq * 10e6, source_pts_ns: seq * 10e6 },
    ...extra,
  };
}

const INIT = {
  stream_id: 'stream-selftest',
  worker_id: 'worker-7',
  config: {
    source_language: 'en', target_language: 'es', voice_profile: 'default',
    chunk_duration_ms: 6000, sample_rate_hz: 48000, channels: 2, format: 'pcm_s16le',
  },
  max_inflight: 5,
  timeout_ms: 8000,
};

// A connected, initialised socket.io-client.
async function ready(nsp = '/sts', opts = {}) {
  const s = connect(nsp, opts);
  await next(s, 'connect');
  const r = next(s, 'stream:ready');
  s.emit('stream:init', INIT);
  const msg = await r;
  return { s, ready: msg };
}

// Sends a fragment and waits for its fragment:processed.
async function roundTrip(s, f, ms = 3000) {
  const p = next(s, 'fragment:processed', ms);
  s.emit('fragment:data', f);
  return p;
}

async function check(name, fn) {
  try {
    await fn();
    process.stdout.write(`ok - ${name}\n`);
  } catch (e) {
    failures++;
    process.stdout.write(`not ok - ${name}: ${e.stack}\n`);
  }
}

// A raw Engine.IO v4 client over `ws`: answers pings, records every
// WebSocket message as it arrived (text or binary), nothing parsed.
function rawClient(nsp = '/sts') {
  const url = `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024, headers: { 'X-Stream-ID': 'raw' } });
  const c = { ws, messages: [], closed: null, waiters: [] };
  ws.on('message', (data, isBinary) => {
    const m = isBinary ? data : data.toString();
    if (m === '2') ws.send('3');
    if (typeof m === 'string' && m.startsWith('0')) ws.send(nsp === '/' ? '40' : `40${nsp},`);
    c.messages.push(m);
    c.waiters.forEach((w) => w());
  });
  ws.on('close', (code) => {
    c.closed = { code, bytesRead: ws._socket ? ws._socket.bytesRead : null };
    c.waiters.forEach((w) => w());
  });
  ws.on('error', () => {});
  c.until = (pred, ms = 5000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('raw client: timeout')), ms);
    const w = () => {
      const hit = pred(c);
      if (hit) {
        clearTimeout(t);
        c.waiters = c.waiters.filter((x) => x !== w);
        resolve(hit);
      }
    };
    c.waiters.push(w);
    w();
  });
  c.emit = (event, payload) => ws.send(`42${nsp === '/' ? '' : nsp + ','}${JSON.stringify([event, payload])}`);
  return c;
}

async function rawReady(nsp = '/sts') {
  const c = rawClient(nsp);
  const prefix = nsp === '/' ? '40' : `40${nsp},`;
  await c.until((x) => x.messages.find((m) => typeof m === 'string' && m.startsWith(prefix)));
  c.emit('stream:init', INIT);
  await c.until((x) => x.messages.find((m) => typeof m === 'string' && m.includes('"stream:ready"')));
  return c;
}

function ffprobe(file) {
  return new Promise((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels:format=format_name,duration',
      '-of', 'json', file], (err, out) => (err ? reject(err) : resolve(JSON.parse(out))));
  });
}

// Decodes a file to s16le mono with ffmpeg and returns the number of samples.
function decodedSamples(file) {
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (err, out) => (err ? reject(err) : resolve(out.length / 2)));
  });
}

// ---------------------------------------------------------------------------
// part 1: the protocol with socket.io-client
// ---------------------------------------------------------------------------

async function part1() {
  await check('stream:init -> stream:ready, two fragments echoed', async () => {
    await http('POST', '/reset');
    await control({ ...DEFAULTS, latency_ms: 20 });
    const { s, ready: r } = await ready();
    assert.equal(r.stream_id, INIT.stream_id);
    assert.match(r.session_id, /^[0-9a-f-]{36}$/);
    assert.equal(r.max_inflight, 3); // min(5 requested, 3 server)
    assert.deepEqual(r.capabilities, { batch_processing: false, async_delivery: true });

    const acks = [];
    s.on('fragment:ack', (a) => acks.push(a));
    const done = [];
    const both = new Promise((resolve) => s.on('fragment:processed', (p) => {
      done.push(p);
      if (done.length === 2) resolve();
    }));
    const f0 = fragment(0);
    const f1 = fragment(1);
    s.emit('fragment:data', f0);
    s.emit('fragment:data', f1);
    await Promise.race([both, sleep(3000).then(() => { throw new Error('no processed'); })]);
    assert.equal(acks.length, 2);
    assert.deepEqual(acks.map((a) => a.status), ['queued', 'queued']);
    assert.deepEqual(acks.map((a) => a.fragment_id), [f0.fragment_id, f1.fragment_id]);
    for (const [i, f] of [f0, f1].entries()) {
      const p = done.find((x) => x.fragment_id === f.fragment_id);
      assert.equal(p.status, 'success');
      assert.equal(p.sequence_number, i);
      assert.equal(p.stream_id, f.stream_id);
      assert.deepEqual(p.dubbed_audio, f.audio);
      assert.ok(p.processing_time_ms >= 15, `processing_time_ms ${p.processing_time_ms}`);
      assert.equal(typeof p.transcript, 'string');
      assert.equal(typeof p.translated_text, 'string');
      assert.deepEqual(Object.keys(p.stage_timings).sort(), ['asr_ms', 'translation_ms', 'tts_ms']);
      s.emit('fragment:ack', { fragment_id: f.fragment_id, status: 'applied', timestamp: Date.now() });
    }

    // tone mode, pcm_s16le: 10 ms * 48 kHz * 2 ch * 2 bytes
    await control({ mode: 'tone', tone_format: 'pcm_s16le', latency_ms: 0 });
    let p = await roundTrip(s, fragment(2));
    assert.equal(p.status, 'success');
    assert.equal(p.dubbed_audio.format, 'pcm_s16le');
    assert.equal(p.dubbed_audio.sample_rate_hz, 48000);
    assert.equal(p.dubbed_audio.channels, 2);
    assert.equal(p.dubbed_audio.duration_ms, 10);
    const pcm = Buffer.from(p.dubbed_audio.data_base64, 'base64');
    assert.equal(pcm.length, 480 * 2 * 2);
    let peak = 0;
    for (let i = 0; i < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
    assert.ok(peak > 16000 && peak <= 16384, `peak ${peak}`);

    // a rule: sequence 3 fails
    await control({ mode: 'echo', rules: [{ trigger: 'sequence_number', value: 3, error_code: 'GPU_OOM', stage: 'tts' }] });
    p = await roundTrip(s, fragment(3));
    assert.equal(p.status, 'failed');
    assert.deepEqual(p.error, { code: 'GPU_OOM', message: 'simulated failure', stage: 'tts', retryable: true });
    assert.equal(p.dubbed_audio, undefined);
    p = await roundTrip(s, fragment(4));
    assert.equal(p.status, 'success');

    const complete = next(s, 'stream:complete');
    s.emit('stream:end', { stream_id: INIT.stream_id, reason: 'selftest' });
    const c = await complete;
    assert.equal(c.total_fragments, 5);
    assert.equal(c.total_duration_ms, 50);
    assert.equal(c.statistics.success_count, 4);
    assert.equal(c.statistics.failed_count, 1);

    const st = await http('GET', '/stats');
    const conn = st.connections.find((x) => x.id === s.id);
    assert.equal(conn.namespace, '/sts');
    assert.equal(conn.headers['x-stream-id'], 'stream-selftest');
    assert.equal(conn.headers['x-worker-id'], 'worker-7');
    assert.equal(conn.headers['x-api-key'], 'k123');
    assert.equal(st.inits.length, 1);
    assert.equal(st.fragments.length, 5);
    assert.deepEqual(st.fragments.map((f) => f.answer), ['success', 'success', 'success', 'failed', 'success']);
    assert.equal(st.fragments[3].rule, 'error');
    assert.equal(st.fragments[0].base64_len, f0.audio.data_base64.length);
    assert.ok(st.fragments.every((f) => f.answered_at >= f.received_at));
    assert.deepEqual(st.client_acks.map((a) => a.status), ['applied', 'applied']);
    assert.ok(st.max_inflight_seen >= 1 && st.max_inflight_seen <= 2);
    assert.equal(st.inflight, 0);
    const names = st.events.map((e) => e.name);
    for (const n of ['stream:init', 'fragment:data', 'fragment:ack', 'stream:end']) assert.ok(names.includes(n), n);
    assert.ok(!JSON.stringify(st).includes(f0.audio.data_base64), 'base64 audio kept in stats');

    const id = s.id; // the client forgets it on disconnect
    const gone = next(s, 'disconnect');
    await http('POST', '/disconnect');
    assert.equal(await gone, 'io server disconnect');
    const gone2 = (await http('GET', '/stats')).connections.find((x) => x.id === id);
    assert.ok(gone2.disconnected_at >= gone2.connected_at);
    assert.equal(gone2.disconnect_reason, 'server namespace disconnect');
  });

  await check('max_inflight tracking with latency', async () => {
    await http('POST', '/reset');
    await control({ ...DEFAULTS, latency_ms: 300 });
    const { s } = await ready();
    for (let i = 0; i < 3; i++) s.emit('fragment:data', fragment(i));
    await sleep(100);
    let st = await http('GET', '/stats');
    assert.equal(st.inflight, 3);
    assert.equal(st.max_inflight_seen, 3);
    await sleep(400);
    st = await http('GET', '/stats');
    assert.equal(st.inflight, 0);
    s.close();
  });

  await check('rules: partial, delay, drop, error_event, unknown_event, backpressure, wrong_types, bad_base64, undecodable', async () => {
    await control({
      ...DEFAULTS,
      rules: [
        { trigger: 'sequence_number', value: 0, action: 'partial' },
        { trigger: 'sequence_number', value: 1, action: 'delay', delay_ms: 400 },
        { trigger: 'sequence_number', value: 2, action: 'drop' },
        { trigger: 'sequence_number', value: 3, action: 'error_event', error_code: 'QUEUE_FULL' },
        { trigger: 'sequence_number', value: 4, action: 'unknown_event' },
        { trigger: 'sequence_number', value: 5, action: 'backpressure', bp_action: 'pause', recommended_delay_ms: 50 },
        { trigger: 'sequence_number', value: 6, action: 'wrong_types' },
        { trigger: 'sequence_number', value: 7, action: 'bad_base64' },
        { trigger: 'sequence_number', value: 8, action: 'undecodable' },
        { trigger: 'nth_fragment', value: 10, action: 'error', once: true },
      ],
    });
    const { s } = await ready();
    let p = await roundTrip(s, fragment(0));
    assert.equal(p.status, 'partial');
    assert.equal(p.dubbed_audio.duration_ms, 5);
    assert.equal(Buffer.from(p.dubbed_audio.data_base64, 'base64').length, 240 * 4);

    let t = Date.now();
    p = await roundTrip(s, fragment(1));
    assert.ok(Date.now() - t >= 380 && p.status === 'success');

    s.emit('fragment:data', fragment(2));
    assert.ok(await absent(s, 'fragment:processed', 500), 'dropped fragment answered');

    const f3 = fragment(3);
    const err = next(s, 'error');
    s.emit('fragment:data', f3);
    const e = await err;
    assert.equal(e.code, 'QUEUE_FULL');
    assert.equal(e.severity, 'error');
    assert.equal(e.retryable, true);
    assert.equal(e.fragment_id, f3.fragment_id);
    assert.equal(e.stream_id, INIT.stream_id);

    const weird = next(s, 'weird:event');
    p = await roundTrip(s, fragment(4));
    await weird;
    assert.equal(p.status, 'success');

    const bp = next(s, 'backpressure');
    p = await roundTrip(s, fragment(5));
    const b = await bp;
    assert.equal(b.action, 'pause');
    assert.equal(b.recommended_delay_ms, 50);
    assert.equal(b.severity, 'high');
    assert.equal(b.stream_id, INIT.stream_id);
    assert.ok(b.current_inflight >= 1);

    p = await roundTrip(s, fragment(6));
    assert.equal(typeof p.fragment_id, 'number');
    assert.equal(p.status, 42);
    assert.equal(typeof p.dubbed_audio, 'string');

    p = await roundTrip(s, fragment(7));
    assert.equal(p.dubbed_audio.data_base64, '!!!not*base64###');

    p = await roundTrip(s, fragment(8));
    assert.equal(p.dubbed_audio.format, 'm4a');
    assert.equal(Buffer.from(p.dubbed_audio.data_base64, 'base64').length, 20000);

    p = await roundTrip(s, fragment(9)); // 10th fragment: the once rule
    assert.equal(p.status, 'failed');
    t = 10;
    for (let i = 11; i <= 20; i++) {
      p = await roundTrip(s, fragment(t++)); // the 20th is not failed: once
      assert.equal(p.status, 'success');
    }
    const st = await http('GET', '/stats');
    assert.equal(st.fragments.find((f) => f.sequence_number === 2 && f.connection_id === s.id).answer, 'dropped');
    assert.equal(st.inflight, 1); // the dropped one
    s.close();
  });

  await check('in-band config:error_simulation and simulate:disconnect', async () => {
    await control(DEFAULTS);
    const { s } = await ready();
    const ack = next(s, 'config:error_simulation:ack');
    s.emit('config:error_simulation', {
      enabled: true,
      rules: [{ trigger: 'fragment_id', value: 'ffff', error_code: 'TIMEOUT', error_message: 'slow', retryable: true }],
    });
    assert.deepEqual(await ack, { status: 'ok', rules_count: 1 });
    const p = await roundTrip(s, fragment(0, { fragment_id: 'ffff' }));
    assert.equal(p.status, 'failed');
    assert.equal(p.error.code, 'TIMEOUT');
    assert.equal(p.error.stage, 'asr');
    const gone = next(s, 'disconnect');
    const t = Date.now();
    s.emit('simulate:disconnect', { delay_ms: 200 });
    assert.equal(await gone, 'io server disconnect');
    assert.ok(Date.now() - t >= 190);
    await control({ rules: [] });
  });

  await check('simulate:disconnect naming another stream', async () => {
    await control(DEFAULTS);
    const { s: target } = await ready();
    const sender = connect('/sts', { headers: { 'X-Stream-ID': 'controller' } });
    await next(sender, 'connect');
    const gone = next(target, 'disconnect');
    const t = Date.now();
    sender.emit('simulate:disconnect', { delay_ms: 200, stream_id: 'stream-selftest' });
    assert.equal(await gone, 'io server disconnect');
    assert.ok(Date.now() - t >= 190);
    assert.ok(sender.connected);
    sender.close();
  });

  await check('disconnect_after, no_ready, no_complete, ready_delay', async () => {
    await control({ ...DEFAULTS, disconnect_after: 2 });
    let { s } = await ready();
    await roundTrip(s, fragment(0));
    const gone = next(s, 'disconnect');
    s.emit('fragment:data', fragment(1));
    assert.equal(await gone, 'io server disconnect');

    await control({ ...DEFAULTS, no_ready: true });
    s = connect();
    await next(s, 'connect');
    s.emit('stream:init', INIT);
    assert.ok(await absent(s, 'stream:ready', 500));
    s.close();

    await control({ ...DEFAULTS, no_complete: true, ready_delay_ms: 300 });
    const t = Date.now();
    ({ s } = await ready());
    assert.ok(Date.now() - t >= 290);
    s.emit('stream:end', { stream_id: INIT.stream_id, reason: 'x' });
    assert.ok(await absent(s, 'stream:complete', 500));
    s.close();
  });

  await check('auth and namespaces', async () => {
    await control({ ...DEFAULTS, auth_token: 'sesame' });
    let s = connect('/sts', { auth: { token: 'wrong' } });
    let e = await next(s, 'connect_error');
    assert.equal(e.message, 'AUTH_FAILED');
    s.close();
    ({ s } = await ready('/sts', { auth: { token: 'sesame' } }));
    s.close();

    await control({ auth_mode: 'error_event' });
    s = connect('/sts', { auth: { token: 'wrong' } });
    await next(s, 'connect');
    const err = next(s, 'error');
    s.emit('stream:init', INIT);
    e = await err;
    assert.equal(e.code, 'AUTH_FAILED');
    assert.equal(e.severity, 'fatal');
    assert.equal(e.retryable, false);
    assert.equal(e.stream_id, INIT.stream_id);
    assert.ok(await absent(s, 'stream:ready', 300));
    s.close();

    await control({ ...DEFAULTS, refuse_namespace: true });
    for (const nsp of ['/', '/sts']) {
      s = connect(nsp);
      e = await next(s, 'connect_error');
      assert.equal(e.message, 'namespace refused');
      s.close();
    }
    await control({ ...DEFAULTS, namespace: ['/sts'] });
    s = connect('/other');
    e = await next(s, 'connect_error');
    assert.equal(e.message, 'Invalid namespace');
    s.close();
    await control({ namespace: [] });
    for (const nsp of ['/', '/x/y']) {
      ({ s } = await ready(nsp));
      s.close();
    }
    const st = await http('GET', '/stats');
    assert.ok(st.refused.some((r) => r.reason === 'AUTH_FAILED'));
  });

  await check('HTTP /emit and /backpressure, socket.io-client on a malformed packet', async () => {
    await control(DEFAULTS);
    const { s } = await ready();
    let got = next(s, 'custom:thing');
    await http('POST', '/emit', { event: 'custom:thing', payload: { a: 1 } });
    assert.deepEqual(await got, { a: 1 });
    got = next(s, 'backpressure');
    await http('POST', '/backpressure', { action: 'slow_down', recommended_delay_ms: 250, severity: 'medium' });
    const b = await got;
    assert.deepEqual([b.action, b.recommended_delay_ms, b.severity, b.stream_id],
      ['slow_down', 250, 'medium', INIT.stream_id]);
    // socket.io-client treats the malformed packet as a parse error
    await control({ rules: [{ trigger: 'all', action: 'malformed_json' }] });
    const gone = next(s, 'disconnect');
    s.emit('fragment:data', fragment(0));
    assert.equal(await gone, 'parse error');
    await control({ rules: [] });
  });
}

// ---------------------------------------------------------------------------
// part 2: wire-level checks with a raw WebSocket client, ffprobe
// ---------------------------------------------------------------------------

async function part2() {
  await check('malformed_json arrives as a truncated Socket.IO packet', async () => {
    await control({ ...DEFAULTS, rules: [{ trigger: 'all', action: 'malformed_json' }] });
    for (const nsp of ['/sts', '/']) {
      const c = await rawReady(nsp);
      const f = fragment(0);
      c.emit('fragment:data', f);
      const prefix = `42${nsp === '/' ? '' : nsp + ','}`;
      const m = await c.until((x) => x.messages.find((s) => typeof s === 'string'
        && s.startsWith(`${prefix}["fragment:processed"`)));
      assert.equal(m, `${prefix}["fragment:processed",{"fragment_id":"${f.fragment_id}","status":`);
      assert.throws(() => JSON.parse(m.slice(prefix.length)));
      c.ws.close();
    }
  });

  await check('close_mid_message leaves a partial frame then closes TCP', async () => {
    await control({ ...DEFAULTS, rules: [{ trigger: 'all', action: 'close_mid_message' }] });
    const c = await rawReady('/sts');
    const before = c.messages.length;
    const readBefore = c.ws._socket.bytesRead;
    c.emit('fragment:data', fragment(0));
    await c.until((x) => x.closed);
    const after = c.messages.slice(before);
    // only the small fragment:ack may have arrived; no fragment:processed
    assert.ok(after.every((m) => typeof m === 'string' && m.length < 1000 && !m.includes('fragment:processed')),
      JSON.stringify(after.map((m) => m.slice(0, 60))));
    assert.equal(c.closed.code, 1006); // no close frame: the TCP connection ended
    const got = c.closed.bytesRead - readBefore;
    assert.ok(got > 2e6 && got < 5e6, `read ${got} bytes of a ~5 MB frame`);
    process.stdout.write(`# close_mid_message: client read ${got} bytes, then EOF, close code ${c.closed.code}\n`);
  });

  await check('oversize: a 20 MB message', async () => {
    await control({ ...DEFAULTS, rules: [{ trigger: 'all', action: 'oversize' }] });
    const c = await rawReady('/sts');
    c.emit('fragment:data', fragment(0));
    const m = await c.until((x) => x.messages.find((s) => s.includes('"fragment:processed"')), 10000);
    const p = JSON.parse(m.slice('42/sts,'.length))[1];
    assert.equal(p.dubbed_audio.data_base64.length, 20000000);
    assert.ok(m.length > 20000000);
    c.ws.close();
  });

  await check('heartbeat and maxPayload follow the config', async () => {
    await control({ ...DEFAULTS, ping_interval: 300, ping_timeout: 1000, max_payload: 123456 });
    const c = rawClient('/sts');
    const open = await c.until((x) => x.messages.find((m) => m.startsWith('0{')));
    const o = JSON.parse(open.slice(1));
    assert.deepEqual([o.pingInterval, o.pingTimeout, o.maxPayload], [300, 1000, 123456]);
    assert.deepEqual(o.upgrades, []);
    await c.until((x) => x.messages.includes('2'), 1500);
    // a message over max_payload closes the connection (1009)
    c.emit('fragment:data', fragment(0, { pad: 'x'.repeat(200000) }));
    await c.until((x) => x.closed);
    assert.equal(c.closed.code, 1009);
    await control({ ping_interval: 25000, ping_timeout: 20000, max_payload: 10000000 });
  });

  await check('tone formats decode with ffprobe', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'echo-selftest-'));
    try {
      const { s } = await ready();
      const f = fragment(0);
      f.audio.duration_ms = 2000; // the tone length; the input data does not matter
      for (const [fmt, codec] of [['m4a', 'aac'], ['aac', 'aac'], ['mp3', 'mp3'], ['wav', 'pcm_s16le']]) {
        await control({ ...DEFAULTS, mode: 'tone', tone_format: fmt, tone_scale: 1.5 });
        f.fragment_id = crypto.randomUUID();
        const p = await roundTrip(s, f, 10000);
        assert.equal(p.status, 'success');
        assert.equal(p.dubbed_audio.format, fmt);
        assert.equal(p.dubbed_audio.duration_ms, 3000);
        const file = path.join(dir, `tone.${fmt}`);
        fs.writeFileSync(file, Buffer.from(p.dubbed_audio.data_base64, 'base64'));
        const info = await ffprobe(file);
        const st = info.streams[0];
        assert.equal(st.codec_name, codec);
        assert.equal(Number(st.sample_rate), 48000);
        assert.equal(st.channels, 2);
        const secs = (await decodedSamples(file)) / 48000;
        assert.ok(Math.abs(secs - 3) < 0.1, `${fmt}: decoded ${secs} s`);
        process.stdout.write(`# tone ${fmt}: ${info.format.format_name} ${codec} decoded ${secs.toFixed(3)} s\n`);
      }
      // echo partial of a compressed fragment: cut with ffmpeg, still decodable
      await control({ ...DEFAULTS, tone_format: 'm4a', mode: 'tone' });
      f.fragment_id = crypto.randomUUID();
      const m4a = (await roundTrip(s, f, 10000)).dubbed_audio;
      await control({ ...DEFAULTS, rules: [{ trigger: 'all', action: 'partial' }] });
      const g = fragment(1, { audio: m4a });
      const p = await roundTrip(s, g, 10000);
      assert.equal(p.status, 'partial');
      assert.equal(p.dubbed_audio.duration_ms, 1000);
      const file = path.join(dir, 'half.m4a');
      fs.writeFileSync(file, Buffer.from(p.dubbed_audio.data_base64, 'base64'));
      const secs = (await decodedSamples(file)) / 48000;
      assert.ok(Math.abs(secs - 1) < 0.1, `partial m4a: decoded ${secs} s`);
      s.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

// Never leave the spawned server behind, whatever happens here.
process.on('exit', () => {
  if (server) server.kill('SIGTERM');
});
process.stdout.on('error', () => process.exit(1)); // e.g. piped into head

async function main() {
  const i = process.argv.indexOf('--url');
  if (i > 0) {
    base = process.argv[i + 1].replace(/\/+$/, '');
  } else {
    const port = await startServer();
    base = `http://127.0.0.1:${port}`;
  }
  process.stdout.write(`# echo STS at ${base}\n`);
  await part1();
  await part2();
  await control(DEFAULTS).catch(() => {});
  process.stdout.write(failures ? `# ${failures} check(s) failed\n` : '# all checks passed\n');
  if (server) server.kill('SIGTERM');
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  process.stdout.write(`not ok - ${e.stack}\n`);
  if (server) server.kill('SIGTERM');
  process.exit(1);
});
