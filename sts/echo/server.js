#!/usr/bin/env node
// Echo STS: a test/demo speech-to-speech service for the nginx dubbing module.
//
// It is a Socket.IO server speaking the contract of docs/protocol.md: it
// answers stream:init with stream:ready and every fragment:data with
// fragment:ack then fragment:processed, whose dubbed audio is either a copy
// of the input ("echo") or a generated sine tone ("tone"). Rules, set on the
// command line or at run time through an HTTP control endpoint on the same
// port, make it misbehave on purpose (errors, drops, delays, malformed
// packets, connections cut in the middle of a message, ...) so that the
// module's tests can drive every failure path from outside.
//
// Usage: node server.js --port 0 [options]   (see USAGE below)
// stdout: exactly one line "listening <port>" once ready. Logs: stderr.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { Server } = require('socket.io');

const USAGE = `usage: node server.js [options]
  --host ADDR               listen address (default 127.0.0.1)
  --port N                  listen port, 0 = any free port (default 0)
  --path P                  Socket.IO path (default /socket.io)
  --ping-interval MS        Engine.IO pingInterval (default 25000)
  --ping-timeout MS         Engine.IO pingTimeout (default 20000)
  --max-payload BYTES       maxHttpBufferSize (default 10000000)
  --tls-cert FILE --tls-key FILE   serve https/wss
  --namespace NSP           accepted namespace (repeatable; default: all)
  --refuse-namespace        refuse every namespace ("namespace refused")
  --auth-token TOKEN        require handshake auth.token === TOKEN
  --auth-mode M             connect_error (default) | error_event
  --mode M                  echo (default) | tone
  --tone-hz HZ              tone frequency (default 1000)
  --tone-lang L=HZ,...      tone frequency per target_language (e.g.
                            es=700,fr=1300), --tone-hz for the others
  --tone-scale X            tone duration = fragment duration * X (default 1)
  --tone-format F           pcm_s16le (default) | pcm_f32le | wav | m4a | aac | mp3
  --latency-ms N            fixed delay before fragment:processed (default 0)
  --text T                  each answer's translated_text: {seq} becomes its
                            sequence_number, {lang} the target language
                            (default "[{lang}] echo of fragment {seq}"; "": none)
  --transcript T            each answer's transcript, {seq} and {lang} as in
                            --text (default "echo of fragment {seq}"; "": none)
  --latency-min-ms A --latency-max-ms B   uniform random delay instead
  --max-inflight N          cap of stream:ready max_inflight (default 3)
  --ready-delay-ms N        delay before stream:ready (default 0)
  --no-ready                never answer stream:init
  --disconnect-after N      drop the connection at its Nth fragment:data
  --no-complete             never answer stream:end
  --rules FILE.json         fault injection rules (JSON array)
HTTP control (same port): GET /stats, POST /control /reset /disconnect
  /backpressure /emit /flood`;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

// One entry per option. The command line flag is the key with "_" -> "-".
// `runtime: false` marks what only makes sense at start-up (the listening
// socket); POST /control refuses to change those.
const OPTIONS = {
  host: { type: 'str', def: '127.0.0.1', runtime: false },
  port: { type: 'int', def: 0, runtime: false },
  path: { type: 'str', def: '/socket.io', runtime: false },
  tls_cert: { type: 'str?', def: null, runtime: false },
  tls_key: { type: 'str?', def: null, runtime: false },
  ping_interval: { type: 'int', def: 25000 },
  ping_timeout: { type: 'int', def: 20000 },
  max_payload: { type: 'int', def: 10000000 },
  namespace: { type: 'list', def: [] },
  refuse_namespace: { type: 'bool', def: false },
  auth_token: { type: 'str?', def: null },
  auth_mode: { type: ['connect_error', 'error_event'], def: 'connect_error' },
  mode: { type: ['echo', 'tone'], def: 'echo' },
  tone_hz: { type: 'num', def: 1000 },
  tone_lang: { type: 'tones', def: {} },
  tone_scale: { type: 'num', def: 1.0 },
  tone_format: {
    type: ['pcm_s16le', 'pcm_f32le', 'wav', 'm4a', 'aac', 'mp3'],
    def: 'pcm_s16le',
  },
  latency_ms: { type: 'int', def: 0 },
  text: { type: 'str', def: '[{lang}] echo of fragment {seq}' },
  transcript: { type: 'str', def: 'echo of fragment {seq}' },
  latency_min_ms: { type: 'int?', def: null },
  latency_max_ms: { type: 'int?', def: null },
  max_inflight: { type: 'int', def: 3 },
  ready_delay_ms: { type: 'int', def: 0 },
  no_ready: { type: 'bool', def: false },
  disconnect_after: { type: 'int?', def: null },
  no_complete: { type: 'bool', def: false },
  rules: { type: 'rules', def: [] },
};

const TRIGGERS = ['sequence_number', 'nth_fragment', 'fragment_id', 'all'];
const ACTIONS = [
  'error', 'error_event', 'partial', 'drop', 'delay', 'malformed_json',
  'wrong_types', 'unknown_event', 'oversize', 'bad_base64', 'undecodable',
  'close_mid_message', 'backpressure', 'duplicate',
];

// Converts and checks one option value (from the command line, where every
// value is a string, or from JSON). Throws an Error with a readable message.
function coerce(key, value) {
  const spec = OPTIONS[key];
  if (!spec) throw new Error(`unknown option "${key}"`);
  const t = spec.type;
  const fail = (what) => {
    throw new Error(`${key}: expected ${what}, got ${JSON.stringify(value)}`);
  };
  if (Array.isArray(t)) {
    if (!t.includes(value)) fail(t.join('|'));
    return value;
  }
  switch (t) {
    case 'str':
      if (typeof value !== 'string') fail('a string');
      return value;
    case 'str?':
      if (value === null) return null;
      if (typeof value !== 'string') fail('a string or null');
      return value;
    case 'int':
    case 'int?': {
      if (value === null && t === 'int?') return null;
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (!Number.isInteger(n) || n < 0) fail('an integer >= 0');
      // "0" means "off" for the optional counters (e.g. disconnect_after)
      return t === 'int?' && key === 'disconnect_after' && n === 0 ? null : n;
    }
    case 'num': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) fail('a number >= 0');
      return n;
    }
    case 'bool':
      if (value === true || value === 'true' || value === 1 || value === '1') return true;
      if (value === false || value === 'false' || value === 0 || value === '0') return false;
      return fail('a boolean');
    case 'list': {
      const list = Array.isArray(value) ? value : [value];
      return list.map((ns) => {
        if (typeof ns !== 'string' || ns === '') fail('namespace names');
        return ns.startsWith('/') ? ns : '/' + ns;
      });
    }
    case 'rules':
      return checkRules(value);
    case 'tones':
      return checkTones(value);
    default:
      throw new Error(`internal: bad type for ${key}`);
  }
}

// "es=700,fr=1300" (or {es: 700, ...}): a tone per target language
function checkTones(value) {
  if (value && typeof value === 'object' && !Array.isArray(value)) return { ...value };
  if (typeof value !== 'string') throw new Error('tone_lang: expected LANG=HZ,...');
  const tones = {};
  for (const item of value.split(',').filter((x) => x !== '')) {
    const m = /^([A-Za-z0-9-]+)=([0-9.]+)$/.exec(item);
    if (!m || !(Number(m[2]) > 0)) throw new Error(`tone_lang: bad item "${item}"`);
    tones[m[1]] = Number(m[2]);
  }
  return tones;
}

function checkRules(rules) {
  // Accept {rules:[...]} as well, the shape of config:error_simulation.
  if (rules && !Array.isArray(rules) && Array.isArray(rules.rules)) rules = rules.rules;
  if (!Array.isArray(rules)) throw new Error('rules: expected an array');
  return rules.map((r, i) => {
    if (!r || typeof r !== 'object') throw new Error(`rules[${i}]: not an object`);
    if (!TRIGGERS.includes(r.trigger)) {
      throw new Error(`rules[${i}].trigger: expected ${TRIGGERS.join('|')}`);
    }
    const action = r.action === undefined ? 'error' : r.action;
    if (!ACTIONS.includes(action)) {
      throw new Error(`rules[${i}].action: expected ${ACTIONS.join('|')}`);
    }
    if (r.trigger === 'nth_fragment' && !(Number.isInteger(Number(r.value)) && Number(r.value) > 0)) {
      throw new Error(`rules[${i}].value: nth_fragment needs an integer > 0`);
    }
    return { ...r, action };
  });
}

function parseArgs(argv) {
  const cfg = {};
  for (const [k, spec] of Object.entries(OPTIONS)) {
    cfg[k] = Array.isArray(spec.def) ? spec.def.slice() : spec.def;
  }
  let namespaces = null;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    let value;
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const key = arg.slice(2).replace(/-/g, '_');
    if (key === 'rules') {
      if (value === undefined) value = argv[++i];
      if (value === undefined) throw new Error('--rules needs a file');
      cfg.rules = coerce('rules', JSON.parse(fs.readFileSync(value, 'utf8')));
      continue;
    }
    const spec = OPTIONS[key];
    if (!spec) throw new Error(`unknown option "${arg}"`);
    if (spec.type === 'bool') {
      cfg[key] = value === undefined ? true : coerce(key, value);
      continue;
    }
    if (value === undefined) value = argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    if (key === 'namespace') {
      namespaces = (namespaces || []).concat(coerce(key, value));
    } else {
      cfg[key] = coerce(key, value);
    }
  }
  if (namespaces) cfg.namespace = namespaces;
  if (!!cfg.tls_cert !== !!cfg.tls_key) throw new Error('--tls-cert and --tls-key go together');
  return cfg;
}

let config;
try {
  config = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`echo-sts: ${e.message} (see --help)\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Logging and statistics
// ---------------------------------------------------------------------------

function log(msg) {
  process.stderr.write(`echo-sts: ${msg}\n`);
}

// Keeps the event logs bounded if a test runs for a long time.
const MAX_LOG = 20000;

function newStats() {
  return {
    started_at: Date.now(),
    connections: [],
    refused: [],
    inits: [],
    fragments: [],
    client_acks: [],
    events: [],
    sent: [],
    floods: [],
    max_inflight_seen: 0,
  };
}
let stats = newStats();

function pushBounded(list, item) {
  list.push(item);
  if (list.length > MAX_LOG) list.splice(0, list.length - MAX_LOG);
}

// A copy of an event payload small enough to keep: base64 audio becomes its
// length, other long strings and binary attachments become a placeholder.
function summarize(v, depth = 0) {
  if (typeof v === 'string') return v.length > 200 ? `<string ${v.length} chars>` : v;
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer) return `<binary ${v.byteLength} bytes>`;
  if (typeof v === 'function') return '<ack callback>';
  if (Array.isArray(v)) {
    if (depth >= 4) return `<array ${v.length}>`;
    return v.slice(0, 20).map((x) => summarize(x, depth + 1));
  }
  if (v && typeof v === 'object') {
    if (depth >= 4) return '<object>';
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'data_base64' && typeof x === 'string') out.data_base64_len = x.length;
      else out[k] = summarize(x, depth + 1);
    }
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------
// Audio: the dubbed audio of a fragment
// ---------------------------------------------------------------------------

let tmpDir = null;
function tempFile(ext) {
  if (!tmpDir) tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'echo-sts-'));
  return path.join(tmpDir, `${crypto.randomUUID()}.${ext}`);
}

// Interleaved sine samples in [-0.5, 0.5] (amplitude 0.5 full scale).
function sineSamples(sampleRate, channels, frames, hz) {
  const out = new Float64Array(frames * channels);
  const w = (2 * Math.PI * hz) / sampleRate;
  for (let i = 0; i < frames; i++) {
    const s = 0.5 * Math.sin(w * i);
    for (let c = 0; c < channels; c++) out[i * channels + c] = s;
  }
  return out;
}

function toS16(samples) {
  const buf = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(Math.round(samples[i] * 32767), i * 2);
  return buf;
}

function toF32(samples) {
  const buf = Buffer.alloc(samples.length * 4);
  for (let i = 0; i < samples.length; i++) buf.writeFloatLE(samples[i], i * 4);
  return buf;
}

function wavFile(pcmS16, sampleRate, channels) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + pcmS16.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16); // fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28); // byte rate
  h.writeUInt16LE(channels * 2, 32); // block align
  h.writeUInt16LE(16, 34); // bits per sample
  h.write('data', 36);
  h.writeUInt32LE(pcmS16.length, 40);
  return Buffer.concat([h, pcmS16]);
}

// Runs ffmpeg asynchronously; resolves with its stdout. `input` (a Buffer)
// is written to its stdin when given.
function runFfmpeg(args, input) {
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args], {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    // -nostdin only stops ffmpeg reading keyboard commands; "pipe:0" input
    // still works.
    const out = [];
    let err = '';
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`ffmpeg exited ${code}: ${err.trim().split('\n').pop()}`));
    });
    if (input) {
      p.stdin.on('error', () => {}); // EPIPE if ffmpeg dies early: reported by 'close'
      p.stdin.end(input);
    }
  });
}

const FFMPEG_OUT = {
  aac: ['-c:a', 'aac', '-b:a', '128k', '-f', 'adts'],
  mp3: ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'],
  // "ipod" is ffmpeg's .m4a muxer. MP4 needs a seekable output to write a
  // normal (non-fragmented) file, hence a temporary file instead of a pipe.
  m4a: ['-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', '-f', 'ipod'],
};

async function encodeWithFfmpeg(pcmS16, sampleRate, channels, format) {
  const inArgs = ['-f', 's16le', '-ar', String(sampleRate), '-ac', String(channels), '-i', 'pipe:0'];
  if (format !== 'm4a') return runFfmpeg([...inArgs, ...FFMPEG_OUT[format], 'pipe:1'], pcmS16);
  const file = tempFile('m4a');
  try {
    await runFfmpeg([...inArgs, ...FFMPEG_OUT.m4a, '-y', file], pcmS16);
    return await fs.promises.readFile(file);
  } finally {
    fs.promises.unlink(file).catch(() => {});
  }
}

// Encoding with ffmpeg costs tens of ms on an idle machine and seconds on
// a busy one; fragments ask for nearly the same length (a segment's length
// varies by a few ms), so an encoded tone is made in steps of 20 ms (the
// module fits what it gets to the segment) and the last few are kept, the
// ones being made included: fragments arriving together share one ffmpeg.
const TONE_STEP_MS = 20;
const toneCache = new Map();

function makeTone(sampleRate, channels, durationMs, format, hz) {
  const encoded = FFMPEG_OUT[format] !== undefined;
  const ms = encoded ? Math.round(durationMs / TONE_STEP_MS) * TONE_STEP_MS : durationMs;
  const frames = Math.max(0, Math.min(Math.round((ms * sampleRate) / 1000), sampleRate * 600));
  const key = [format, sampleRate, channels, frames, hz].join('|');
  if (toneCache.has(key)) return toneCache.get(key);
  const made = (async () => {
    const samples = sineSamples(sampleRate, channels, frames, hz);
    let data;
    if (format === 'pcm_s16le') data = toS16(samples);
    else if (format === 'pcm_f32le') data = toF32(samples);
    else if (format === 'wav') data = wavFile(toS16(samples), sampleRate, channels);
    else data = await encodeWithFfmpeg(toS16(samples), sampleRate, channels, format);
    return { data, duration_ms: Math.round((frames * 1000) / sampleRate) };
  })();
  made.catch(() => toneCache.delete(key));
  toneCache.set(key, made);
  if (toneCache.size > 32) toneCache.delete(toneCache.keys().next().value);
  return made;
}

const PCM_BYTES = { pcm_s16le: 2, pcm_f32le: 4 };
const MUXER = { m4a: 'ipod', aac: 'adts', mp3: 'mp3', wav: 'wav' };

// Echo mode, "partial" rule: the first half of the fragment's own audio.
async function halfOf(audio) {
  const bytes = Buffer.from(audio.data_base64, 'base64');
  const frame = PCM_BYTES[audio.format];
  if (frame) {
    const step = frame * (audio.channels || 1);
    const len = Math.floor(bytes.length / 2 / step) * step;
    return bytes.subarray(0, len).toString('base64');
  }
  // Compressed formats: cut without re-encoding (input from a file since
  // an MP4 may need seeking).
  const muxer = MUXER[audio.format] || audio.format;
  const inFile = tempFile('in');
  const outFile = tempFile('out');
  try {
    await fs.promises.writeFile(inFile, bytes);
    await runFfmpeg(['-i', inFile, '-t', String(audio.duration_ms / 2000), '-c', 'copy',
      '-f', muxer, '-y', outFile]);
    return (await fs.promises.readFile(outFile)).toString('base64');
  } finally {
    fs.promises.unlink(inFile).catch(() => {});
    fs.promises.unlink(outFile).catch(() => {});
  }
}

async function dubbedAudio(audio, partial, lang) {
  const half = partial ? 0.5 : 1;
  if (config.mode === 'tone') {
    const fmt = config.tone_format;
    const hz = (lang && config.tone_lang[lang]) || config.tone_hz;
    const tone = await makeTone(audio.sample_rate_hz, audio.channels,
      audio.duration_ms * config.tone_scale * half, fmt, hz);
    return {
      format: fmt,
      sample_rate_hz: audio.sample_rate_hz,
      channels: audio.channels,
      duration_ms: tone.duration_ms,
      data_base64: tone.data.toString('base64'),
    };
  }
  // echo: the fragment's own audio object
  const copy = { ...audio };
  if (partial) {
    try {
      copy.data_base64 = await halfOf(audio);
    } catch (e) {
      log(`partial: cannot cut ${audio.format} audio (${e.message}); sending it whole`);
    }
    copy.duration_ms = Math.round(audio.duration_ms / 2);
  }
  return copy;
}

// ---------------------------------------------------------------------------
// Socket.IO server
// ---------------------------------------------------------------------------

const httpServer = config.tls_cert
  ? https.createServer({ cert: fs.readFileSync(config.tls_cert), key: fs.readFileSync(config.tls_key) })
  : http.createServer();

// Socket.IO takes over the requests under its path and hands the others to
// the listeners that existed before it was attached: the control endpoint.
httpServer.on('request', handleControl);

const io = new Server(httpServer, {
  path: config.path,
  pingInterval: config.ping_interval,
  pingTimeout: config.ping_timeout,
  maxHttpBufferSize: config.max_payload,
  serveClient: false,
  cleanupEmptyChildNamespaces: true,
});

// Applies run-time changes of the Engine.IO settings. Engine.IO reads
// pingInterval/pingTimeout on every heartbeat; the WebSocket size limit is
// given to each new connection by the ws server.
function applyEngineOptions() {
  io.engine.opts.pingInterval = config.ping_interval;
  io.engine.opts.pingTimeout = config.ping_timeout;
  io.engine.opts.maxHttpBufferSize = config.max_payload;
  if (io.engine.ws && io.engine.ws.options) io.engine.ws.options.maxPayload = config.max_payload;
}

// Live connections, by connection id (the Socket.IO socket id).
const live = new Map();
let nextErrorId = 1;

// Namespace admission and authentication, for "/" and every dynamic
// namespace alike.
function admission(socket, next) {
  const nsp = socket.nsp.name;
  const auth = socket.handshake.auth || {};
  let reason = null;
  if (config.refuse_namespace) reason = 'namespace refused';
  else if (config.namespace.length && !config.namespace.includes(nsp)) reason = 'Invalid namespace';
  else if (config.auth_token !== null && config.auth_mode === 'connect_error'
    && auth.token !== config.auth_token) reason = 'AUTH_FAILED';
  if (!reason) return next();
  log(`refused ${nsp}: ${reason}`);
  pushBounded(stats.refused, {
    at: Date.now(), namespace: nsp, headers: socket.handshake.headers, auth, reason,
  });
  return next(new Error(reason));
}

io.of('/').use(admission);
io.of('/').on('connection', onConnection);
// Every other namespace: a dynamic "parent" matching any name. Its
// middleware and connection handler are copied to each child namespace.
const anyNsp = io.of(/^\/.*$/);
anyNsp.use(admission);
anyNsp.on('connection', onConnection);

function onConnection(socket) {
  const now = Date.now();
  const record = {
    id: socket.id,
    engine_id: socket.conn.id,
    namespace: socket.nsp.name,
    headers: socket.handshake.headers,
    raw_headers: socket.request.rawHeaders,
    auth: socket.handshake.auth,
    remote_address: socket.handshake.address,
    transport: socket.conn.transport.name,
    connected_at: now,
    disconnected_at: null,
    disconnect_reason: null,
    stream_id: null,
    fragments_received: 0,
    inflight: 0,
    max_inflight_seen: 0,
  };
  stats.connections.push(record);
  // Per-connection state ("ctx") next to its stats record.
  const ctx = {
    socket,
    record,
    closed: false,
    count: 0, // fragment:data received (for nth_fragment and disconnect_after)
    inflight: 0,
    timers: new Set(),
    pending: new Map(), // fragment_id -> fragment stats record, not answered yet
    streamId: socket.handshake.headers['x-stream-id'] || null,
    targetLanguage: null,
    authorized: true,
    results: [], // {status, processing_time_ms, duration_ms} for stream:complete
  };
  live.set(socket.id, ctx);
  log(`connection ${socket.id} nsp=${socket.nsp.name} stream=${ctx.streamId} `
    + `worker=${socket.handshake.headers['x-worker-id'] || '-'} transport=${record.transport}`);

  socket.onAny((name, ...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    pushBounded(stats.events, {
      name, at: Date.now(), connection_id: socket.id, namespace: socket.nsp.name,
      summary: summarize(args.length > 1 ? args : args[0]),
    });
    // The client asked for an acknowledgement: give an empty one, as a
    // handler that returns nothing does in python-socketio.
    if (ack) ack();
  });

  socket.on('stream:init', (p) => onInit(ctx, p));
  socket.on('fragment:data', (p) => onFragment(ctx, p));
  socket.on('fragment:ack', (p) => {
    p = p || {};
    pushBounded(stats.client_acks, {
      fragment_id: p.fragment_id, status: p.status, timestamp: p.timestamp,
      at: Date.now(), connection_id: socket.id,
    });
  });
  socket.on('stream:pause', (p) => log(`stream:pause ${socket.id} ${JSON.stringify(summarize(p))}`));
  socket.on('stream:resume', (p) => log(`stream:resume ${socket.id} ${JSON.stringify(summarize(p))}`));
  socket.on('stream:end', (p) => onEnd(ctx, p));
  socket.on('config:error_simulation', (p) => {
    p = p || {};
    try {
      config.rules = p.enabled === false ? [] : checkRules(p.rules || []);
      firedOnce = new WeakSet();
      log(`error simulation: ${config.rules.length} rule(s)`);
      send(ctx, 'config:error_simulation:ack', { status: 'ok', rules_count: config.rules.length });
    } catch (e) {
      send(ctx, 'config:error_simulation:ack', { status: 'error', message: e.message, rules_count: config.rules.length });
    }
  });
  socket.on('simulate:disconnect', (p) => {
    p = p || {};
    const delay = Math.max(0, Number(p.delay_ms) || 0);
    // With a stream_id, the connections of that stream (a test's own
    // client sends it for the module's connection); otherwise the sender.
    const targets = typeof p.stream_id === 'string'
      ? [...live.values()].filter((c) => c.streamId === p.stream_id) : [ctx];
    log(`simulate:disconnect ${targets.map((c) => c.socket.id).join(' ') || 'nobody'} in ${delay} ms`);
    for (const c of targets) later(c, delay, () => c.socket.disconnect(true));
  });

  socket.on('disconnect', (reason) => {
    ctx.closed = true;
    for (const t of ctx.timers) clearTimeout(t);
    ctx.timers.clear();
    for (const frag of ctx.pending.values()) {
      if (!frag.answer) frag.answer = 'abandoned';
    }
    ctx.pending.clear();
    ctx.inflight = 0;
    record.inflight = 0;
    record.disconnected_at = Date.now();
    record.disconnect_reason = reason;
    live.delete(socket.id);
    log(`disconnect ${socket.id}: ${reason}`);
  });
}

// setTimeout bound to a connection: cancelled when it goes away.
function later(ctx, ms, fn) {
  const t = setTimeout(() => {
    ctx.timers.delete(t);
    if (!ctx.closed) fn();
  }, ms);
  ctx.timers.add(t);
}

function send(ctx, event, payload) {
  if (ctx.closed) return;
  pushBounded(stats.sent, {
    name: event, at: Date.now(), connection_id: ctx.socket.id, summary: summarize(payload),
  });
  ctx.socket.emit(event, payload);
}

function sendError(ctx, fields) {
  send(ctx, 'error', {
    severity: 'error',
    retryable: false,
    error_id: `err-${nextErrorId++}`,
    stream_id: ctx.streamId,
    ...fields,
  });
}

function onInit(ctx, p) {
  p = p || {};
  const at = Date.now();
  pushBounded(stats.inits, { at, connection_id: ctx.socket.id, payload: summarize(p) });
  if (p.stream_id) ctx.streamId = p.stream_id;
  ctx.record.stream_id = ctx.streamId;
  ctx.targetLanguage = p.config && p.config.target_language;
  log(`init ${ctx.socket.id} stream=${p.stream_id} max_inflight=${p.max_inflight}`);

  if (config.auth_token !== null && config.auth_mode === 'error_event') {
    const auth = ctx.socket.handshake.auth || {};
    ctx.authorized = auth.token === config.auth_token;
    if (!ctx.authorized) {
      log(`init ${ctx.socket.id}: AUTH_FAILED (error event)`);
      sendError(ctx, { code: 'AUTH_FAILED', message: 'bad credentials', severity: 'fatal', retryable: false });
      return;
    }
  }
  const missing = ['stream_id', 'worker_id', 'config'].filter((k) => p[k] === undefined || p[k] === null);
  if (p.config && typeof p.config === 'object') {
    for (const k of ['source_language', 'target_language']) {
      if (p.config[k] === undefined || p.config[k] === null) missing.push(`config.${k}`);
    }
  }
  if (missing.length) {
    log(`init ${ctx.socket.id}: INVALID_CONFIG, missing ${missing.join(', ')}`);
    sendError(ctx, { code: 'INVALID_CONFIG', message: `stream:init missing ${missing.join(', ')}` });
    return;
  }
  if (config.no_ready) {
    log(`init ${ctx.socket.id}: not answering (no_ready)`);
    return;
  }
  const requested = Number.isInteger(p.max_inflight) && p.max_inflight > 0 ? p.max_inflight : 3;
  later(ctx, config.ready_delay_ms, () => {
    const ready = {
      stream_id: p.stream_id,
      session_id: crypto.randomUUID(),
      max_inflight: Math.min(requested, config.max_inflight),
      capabilities: { batch_processing: false, async_delivery: true },
    };
    log(`ready ${ctx.socket.id} session=${ready.session_id} max_inflight=${ready.max_inflight}`);
    send(ctx, 'stream:ready', ready);
  });
}

function onEnd(ctx, p) {
  p = p || {};
  log(`stream:end ${ctx.socket.id} stream=${p.stream_id} reason=${p.reason}`);
  if (config.no_complete) {
    log(`stream:end ${ctx.socket.id}: not answering (no_complete)`);
    return;
  }
  const r = ctx.results;
  const times = r.map((x) => x.processing_time_ms).sort((a, b) => a - b);
  const avg = times.length ? Math.round(times.reduce((a, b) => a + b, 0) / times.length) : 0;
  const p95 = times.length ? times[Math.min(times.length - 1, Math.ceil(0.95 * times.length) - 1)] : 0;
  send(ctx, 'stream:complete', {
    stream_id: p.stream_id || ctx.streamId,
    total_fragments: ctx.count,
    total_duration_ms: ctx.totalDurationMs || 0,
    statistics: {
      success_count: r.filter((x) => x.status === 'success').length,
      partial_count: r.filter((x) => x.status === 'partial').length,
      failed_count: r.filter((x) => x.status === 'failed').length,
      avg_processing_time_ms: avg,
      p95_processing_time_ms: p95,
    },
  });
}

// ---------------------------------------------------------------------------
// Fragments
// ---------------------------------------------------------------------------

let firedOnce = new WeakSet(); // rules with once:true that already fired

function matchRule(ctx, frag, n) {
  for (const rule of config.rules) {
    if (rule.once && firedOnce.has(rule)) continue;
    const vals = Array.isArray(rule.value) ? rule.value : [rule.value];
    let hit = false;
    switch (rule.trigger) {
      case 'all': hit = true; break;
      case 'sequence_number': hit = vals.some((v) => Number(v) === frag.sequence_number); break;
      case 'fragment_id': hit = vals.some((v) => v === frag.fragment_id); break;
      case 'nth_fragment': hit = n % Number(rule.value) === 0; break;
      default: break;
    }
    if (hit) {
      if (rule.once) firedOnce.add(rule);
      return rule;
    }
  }
  return null;
}

function fragmentProblem(f) {
  if (!f || typeof f !== 'object') return 'payload is not an object';
  if (typeof f.fragment_id !== 'string' || !f.fragment_id) return 'fragment_id';
  if (typeof f.stream_id !== 'string' || !f.stream_id) return 'stream_id';
  if (!Number.isInteger(f.sequence_number)) return 'sequence_number';
  const a = f.audio;
  if (!a || typeof a !== 'object') return 'audio';
  if (typeof a.format !== 'string') return 'audio.format';
  if (!Number.isInteger(a.sample_rate_hz) || a.sample_rate_hz <= 0) return 'audio.sample_rate_hz';
  if (!Number.isInteger(a.channels) || a.channels <= 0) return 'audio.channels';
  if (typeof a.duration_ms !== 'number' || a.duration_ms < 0) return 'audio.duration_ms';
  if (typeof a.data_base64 !== 'string') return 'audio.data_base64';
  return null;
}

function latencyMs() {
  const { latency_min_ms: min, latency_max_ms: max } = config;
  if (min === null && max === null) return config.latency_ms;
  const lo = min === null ? 0 : min;
  const hi = max === null ? lo : Math.max(lo, max);
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

function onFragment(ctx, f) {
  const now = Date.now();
  ctx.count++;
  const n = ctx.count;
  ctx.record.fragments_received = n;
  const a = (f && f.audio) || {};
  const rec = {
    fragment_id: f && f.fragment_id,
    sequence_number: f && f.sequence_number,
    stream_id: f && f.stream_id,
    connection_id: ctx.socket.id,
    n,
    received_at: now,
    answered_at: null,
    answer: null,
    rule: null,
    audio_format: a.format,
    duration_ms: a.duration_ms,
    base64_len: typeof a.data_base64 === 'string' ? a.data_base64.length : null,
  };
  pushBounded(stats.fragments, rec);
  log(`fragment ${ctx.socket.id} #${n} seq=${rec.sequence_number} id=${rec.fragment_id} `
    + `${rec.audio_format} ${rec.duration_ms} ms b64=${rec.base64_len}`);

  const problem = fragmentProblem(f);
  if (problem) {
    rec.answer = 'invalid';
    rec.answered_at = Date.now();
    log(`fragment ${ctx.socket.id} #${n}: INVALID_CONFIG (${problem})`);
    sendError(ctx, {
      code: 'INVALID_CONFIG',
      message: `fragment:data: missing or bad ${problem}`,
      fragment_id: f && typeof f === 'object' ? f.fragment_id : undefined,
    });
    return;
  }
  ctx.totalDurationMs = (ctx.totalDurationMs || 0) + a.duration_ms;

  if (config.disconnect_after !== null && n >= config.disconnect_after) {
    rec.answer = 'disconnected';
    log(`fragment ${ctx.socket.id} #${n}: disconnect_after=${config.disconnect_after}, closing`);
    ctx.socket.disconnect(true);
    return;
  }

  if (!ctx.authorized) {
    rec.answer = 'auth_failed';
    rec.answered_at = Date.now();
    sendError(ctx, {
      code: 'AUTH_FAILED', message: 'bad credentials', severity: 'fatal', fragment_id: f.fragment_id,
    });
    return;
  }

  ctx.inflight++;
  ctx.record.inflight = ctx.inflight;
  ctx.record.max_inflight_seen = Math.max(ctx.record.max_inflight_seen, ctx.inflight);
  stats.max_inflight_seen = Math.max(stats.max_inflight_seen, ctx.inflight);
  ctx.pending.set(f.fragment_id, rec);

  const rule = matchRule(ctx, f, n);
  const delay = rule && rule.action === 'delay' ? Number(rule.delay_ms) || 0 : latencyMs();
  send(ctx, 'fragment:ack', {
    fragment_id: f.fragment_id,
    status: 'queued',
    queue_position: ctx.inflight - 1,
    estimated_completion_ms: delay,
  });

  if (rule) {
    rec.rule = rule.action;
    const on = rule.trigger === 'all' ? 'all' : `${rule.trigger}=${JSON.stringify(rule.value)}`;
    log(`fragment ${ctx.socket.id} #${n} seq=${f.sequence_number}: rule ${on} -> ${rule.action}`);
  }
  respond(ctx, f, rec, rule, delay).catch((e) => {
    log(`fragment ${ctx.socket.id} #${n}: internal error ${e.stack}`);
  });
}

// Marks a fragment as answered (it leaves the connection's inflight count).
function answered(ctx, rec, answer) {
  rec.answer = answer;
  rec.answered_at = Date.now();
  if (ctx.pending.delete(rec.fragment_id)) {
    ctx.inflight--;
    ctx.record.inflight = ctx.inflight;
  }
}

// --text and --transcript for one fragment; "" leaves the field out
function answerText(template, ctx, f) {
  if (template === '') return undefined;
  return template.replace(/\{seq\}/g, String(f.sequence_number))
    .replace(/\{lang\}/g, ctx.targetLanguage || 'xx');
}

function baseProcessed(ctx, f, rec) {
  const t = Date.now() - rec.received_at;
  return {
    fragment_id: f.fragment_id,
    stream_id: f.stream_id,
    sequence_number: f.sequence_number,
    status: 'success',
    processing_time_ms: t,
    transcript: answerText(config.transcript, ctx, f),
    translated_text: answerText(config.text, ctx, f),
    stage_timings: {
      asr_ms: Math.round(t * 0.4),
      translation_ms: Math.round(t * 0.2),
      tts_ms: t - Math.round(t * 0.4) - Math.round(t * 0.2),
    },
    metadata: {},
  };
}

function nspPrefix(socket) {
  return socket.nsp.name === '/' ? '' : `${socket.nsp.name},`;
}

async function respond(ctx, f, rec, rule, delay) {
  const action = rule ? rule.action : null;
  const nth = `${ctx.socket.id} #${rec.n}`;

  if (action === 'drop') {
    rec.answer = 'dropped'; // stays in flight until the connection goes away
    return;
  }

  // Audio is prepared first (ffmpeg in tone mode), then the rest of the
  // latency is waited for.
  let audio = null;
  let audioError = null;
  if (action === null
    || ['delay', 'partial', 'unknown_event', 'backpressure', 'duplicate'].includes(action)) {
    try {
      audio = await dubbedAudio(f.audio, action === 'partial', ctx.targetLanguage);
    } catch (e) {
      audioError = e;
    }
  }
  const left = Math.max(0, delay - (Date.now() - rec.received_at));
  await new Promise((resolve) => later(ctx, left, resolve));
  if (ctx.closed) return;

  const msg = baseProcessed(ctx, f, rec);
  const finish = (answer, status) => {
    answered(ctx, rec, answer);
    if (status) ctx.results.push({ status, processing_time_ms: msg.processing_time_ms });
    log(`answered ${nth} seq=${f.sequence_number}: ${answer}`);
  };

  switch (action) {
    case 'error':
      msg.status = 'failed';
      msg.error = {
        code: rule.error_code || 'MODEL_ERROR',
        message: rule.error_message || 'simulated failure',
        stage: rule.stage || 'asr',
        retryable: rule.retryable === undefined ? true : rule.retryable,
      };
      send(ctx, 'fragment:processed', msg);
      return finish('failed', 'failed');

    case 'error_event':
      sendError(ctx, {
        code: rule.error_code || 'MODEL_ERROR',
        message: rule.error_message || 'simulated failure',
        severity: rule.severity || 'error',
        retryable: rule.retryable === undefined ? true : rule.retryable,
        fragment_id: f.fragment_id,
      });
      return finish('error_event', 'failed');

    case 'malformed_json': {
      // Raw Engine.IO message data (engine.io prepends the "4"): a Socket.IO
      // EVENT packet ("2") whose JSON is cut short.
      const raw = `2${nspPrefix(ctx.socket)}["fragment:processed",{"fragment_id":"${f.fragment_id}","status":`;
      pushBounded(stats.sent, { name: '<raw>', at: Date.now(), connection_id: ctx.socket.id, summary: raw });
      ctx.socket.conn.write(raw);
      return finish('malformed_json', null);
    }

    case 'wrong_types':
      msg.fragment_id = 12345;
      msg.status = 42;
      msg.dubbed_audio = 'this is not an audio object';
      send(ctx, 'fragment:processed', msg);
      return finish('wrong_types', null);

    case 'oversize': {
      const size = Math.floor((Number(rule.size) || 20 * 1000 * 1000) / 4) * 4;
      msg.dubbed_audio = { ...f.audio, data_base64: 'A'.repeat(size) };
      send(ctx, 'fragment:processed', msg);
      return finish('oversize', 'success');
    }

    case 'bad_base64':
      msg.dubbed_audio = { ...f.audio, data_base64: '!!!not*base64###' };
      send(ctx, 'fragment:processed', msg);
      return finish('bad_base64', 'success');

    case 'undecodable':
      msg.dubbed_audio = {
        format: 'm4a',
        sample_rate_hz: f.audio.sample_rate_hz,
        channels: f.audio.channels,
        duration_ms: f.audio.duration_ms,
        data_base64: crypto.randomBytes(20000).toString('base64'),
      };
      send(ctx, 'fragment:processed', msg);
      return finish('undecodable', 'success');

    case 'close_mid_message':
      closeMidMessage(ctx, f, msg, rule);
      return finish('close_mid_message', null);

    default:
      break;
  }

  // success / partial, possibly after an extra event
  if (action === 'unknown_event') {
    send(ctx, 'weird:event', { hello: 'world', n: rec.n, at: Date.now() });
  }
  if (action === 'backpressure') {
    sendBackpressure(ctx, rule.bp_action || 'slow_down', rule.recommended_delay_ms || 0, rule.severity || 'high');
  }
  if (audioError) {
    log(`fragment ${nth}: audio generation failed: ${audioError.message}`);
    msg.status = 'failed';
    msg.error = { code: 'MODEL_ERROR', message: audioError.message, stage: 'tts', retryable: true };
    send(ctx, 'fragment:processed', msg);
    return finish('failed', 'failed');
  }
  msg.status = action === 'partial' ? 'partial' : 'success';
  msg.dubbed_audio = audio;
  send(ctx, 'fragment:processed', msg);
  // "duplicate": the same answer a second time, at once
  if (action === 'duplicate') send(ctx, 'fragment:processed', msg);
  return finish(msg.status, msg.status);
}

// Sends the head of a large fragment:processed and cuts the TCP connection
// before the rest. The WebSocket frame is built here rather than handed to
// ws: a 5 MB ws.send() followed by a destroy may or may not get everything
// into the kernel first; writing a frame whose header announces the full
// length but only half of the payload, then closing, always leaves the
// client with a partial frame.
function closeMidMessage(ctx, f, msg, rule) {
  const size = Number(rule.size) || 5 * 1000 * 1000;
  msg.dubbed_audio = { ...f.audio, data_base64: 'A'.repeat(Math.floor(size / 4) * 4) };
  const transport = ctx.socket.conn.transport;
  const net = transport && transport.socket && transport.socket._socket;
  if (transport.name !== 'websocket' || !net) {
    log(`close_mid_message: transport ${transport.name} is not a WebSocket; closing the connection`);
    ctx.socket.conn.close();
    return;
  }
  // Engine.IO "4" (message) + Socket.IO "2" (event) + namespace + JSON
  const text = Buffer.from(`42${nspPrefix(ctx.socket)}${JSON.stringify(['fragment:processed', msg])}`);
  const header = Buffer.alloc(10);
  header[0] = 0x81; // FIN, text frame
  header[1] = 127; // 64-bit length follows; server frames are not masked
  header.writeBigUInt64BE(BigInt(text.length), 2);
  const cut = Math.floor(text.length / 2);
  log(`close_mid_message ${ctx.socket.id}: frame of ${text.length} bytes, sending ${cut} then closing TCP`);
  pushBounded(stats.sent, {
    name: '<partial frame>', at: Date.now(), connection_id: ctx.socket.id,
    summary: { frame_len: text.length, sent: cut },
  });
  // end() flushes what was written then sends FIN; destroy() in case the
  // peer never closes its side.
  net.write(Buffer.concat([header, text.subarray(0, cut)]));
  net.end();
  setTimeout(() => net.destroy(), 2000).unref();
}

// POST /flood: "count" copies of an event (or of raw Engine.IO message
// data) to every client, "per_second" of them a second, in batches every
// 10 ms. Each flood is recorded in stats.floods with what it has sent.
function startFlood(spec) {
  const rec = {
    event: spec.raw === undefined ? spec.event : '<raw>',
    count: spec.count, per_second: spec.per_second,
    sent: 0, clients: live.size, started_at: Date.now(), done_at: null,
  };
  stats.floods.push(rec);
  log(`flood: ${rec.count} x ${rec.event} at ${rec.per_second}/s to ${rec.clients} client(s)`);
  const tick = () => {
    const due = Math.min(rec.count,
      Math.floor(((Date.now() - rec.started_at) * rec.per_second) / 1000) + 1);
    for (; rec.sent < due; rec.sent++) {
      for (const ctx of live.values()) {
        if (spec.raw !== undefined) ctx.socket.conn.write(spec.raw);
        else ctx.socket.emit(spec.event, spec.payload);
      }
    }
    if (rec.sent < rec.count) {
      setTimeout(tick, 10);
      return;
    }
    rec.done_at = Date.now();
    log(`flood: ${rec.count} x ${rec.event} done in ${rec.done_at - rec.started_at} ms`);
  };
  tick();
  return rec;
}

function sendBackpressure(ctx, action, recommendedDelayMs, severity) {
  log(`backpressure ${ctx.socket.id}: ${action} ${recommendedDelayMs} ms (${severity})`);
  send(ctx, 'backpressure', {
    stream_id: ctx.streamId,
    severity,
    current_inflight: ctx.inflight,
    queue_depth: ctx.inflight,
    action,
    recommended_delay_ms: recommendedDelayMs,
  });
}

// ---------------------------------------------------------------------------
// HTTP control endpoint
// ---------------------------------------------------------------------------

function reply(res, code, body) {
  const data = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let len = 0;
    req.on('data', (d) => {
      len += d.length;
      if (len > 64 * 1024 * 1024) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(d);
      }
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const v = JSON.parse(text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
        return resolve(v);
      } catch (e) {
        return reject(new Error(`bad JSON body: ${e.message}`));
      }
    });
    req.on('error', reject);
  });
}

function currentStats() {
  let inflight = 0;
  for (const ctx of live.values()) inflight += ctx.inflight;
  return { ...stats, inflight, live_connections: live.size, config };
}

// Checks the whole patch before changing anything.
function applyControl(body) {
  const next = { ...config };
  for (const [key, value] of Object.entries(body)) {
    const spec = OPTIONS[key];
    if (!spec) throw new Error(`unknown key "${key}"`);
    const v = coerce(key, value);
    if (spec.runtime === false && JSON.stringify(v) !== JSON.stringify(config[key])) {
      throw new Error(`"${key}" can only be set on the command line`);
    }
    next[key] = v;
  }
  if ('rules' in body) firedOnce = new WeakSet();
  config = next;
  applyEngineOptions();
  return config;
}

async function handleControl(req, res) {
  const url = new URL(req.url, 'http://x');
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '') || '/'}`;
  try {
    switch (route) {
      case 'GET /':
        return reply(res, 200, { ok: true, service: 'echo-sts' });
      case 'GET /stats':
        return reply(res, 200, currentStats());
      case 'GET /control':
        return reply(res, 200, config);
      case 'POST /control': {
        const body = await readJson(req);
        const cfg = applyControl(body);
        const text = JSON.stringify(summarize(body));
        log(`control: ${text.length > 300 ? text.slice(0, 300) + '...' : text}`);
        return reply(res, 200, cfg);
      }
      case 'POST /reset':
        // Forget what happened; the records of live connections stay, since
        // they are still connected.
        stats = { ...newStats(), connections: stats.connections.filter((c) => live.has(c.id)) };
        for (const ctx of live.values()) {
          ctx.record.max_inflight_seen = ctx.inflight;
          stats.max_inflight_seen = Math.max(stats.max_inflight_seen, ctx.inflight);
        }
        log('control: reset');
        return reply(res, 200, { ok: true });
      case 'POST /disconnect': {
        const n = live.size;
        log(`control: disconnecting ${n} client(s)`);
        for (const ctx of [...live.values()]) ctx.socket.disconnect(true);
        return reply(res, 200, { ok: true, disconnected: n });
      }
      case 'POST /backpressure': {
        const b = await readJson(req);
        const action = b.action || 'slow_down';
        if (!['slow_down', 'pause', 'none'].includes(action)) throw new Error('action: slow_down|pause|none');
        for (const ctx of live.values()) {
          sendBackpressure(ctx, action, Number(b.recommended_delay_ms) || 0, b.severity || 'high');
        }
        return reply(res, 200, { ok: true, sent: live.size });
      }
      case 'POST /emit': {
        const b = await readJson(req);
        if (typeof b.raw === 'string') {
          // Extension: raw Engine.IO message data, e.g. "2/sts,[...".
          log(`control: raw packet to ${live.size} client(s): ${b.raw.slice(0, 80)}`);
          for (const ctx of live.values()) ctx.socket.conn.write(b.raw);
          return reply(res, 200, { ok: true, sent: live.size });
        }
        if (typeof b.event !== 'string' || !b.event) throw new Error('event: expected a string');
        log(`control: emit ${b.event} to ${live.size} client(s)`);
        for (const ctx of live.values()) send(ctx, b.event, b.payload);
        return reply(res, 200, { ok: true, sent: live.size });
      }
      case 'POST /flood': {
        const b = await readJson(req);
        if (b.raw !== undefined && typeof b.raw !== 'string') throw new Error('raw: expected a string');
        if (b.raw === undefined && (typeof b.event !== 'string' || !b.event)) {
          throw new Error('event: expected a string');
        }
        const count = Number(b.count);
        const perSecond = b.per_second === undefined ? 1000 : Number(b.per_second);
        if (!Number.isInteger(count) || count < 1) throw new Error('count: expected an integer > 0');
        if (!(perSecond > 0)) throw new Error('per_second: expected a number > 0');
        const rec = startFlood({
          event: b.event, payload: b.payload, raw: b.raw, count, per_second: perSecond,
        });
        return reply(res, 200, { ok: true, clients: rec.clients });
      }
      default:
        return reply(res, 404, { error: `no route ${route}` });
    }
  } catch (e) {
    return reply(res, 400, { error: e.message });
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

function shutdown(sig) {
  log(`${sig}: exiting`);
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

httpServer.on('error', (e) => {
  log(`listen ${config.host}:${config.port}: ${e.message}`);
  process.exit(1);
});

httpServer.listen(config.port, config.host, () => {
  applyEngineOptions();
  const { port } = httpServer.address();
  config.port = port;
  log(`${config.tls_cert ? 'https' : 'http'}://${config.host}:${port}${config.path} mode=${config.mode} `
    + `rules=${config.rules.length}`);
  process.stdout.write(`listening ${port}\n`);
});
