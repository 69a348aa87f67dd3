#!/usr/bin/env node
// Local STS: an offline, CPU-only speech-to-speech service for the nginx
// dubbing module, built from Debian packages.  Each fragment's audio goes
// through speech recognition (pocketsphinx, en-us), machine translation
// (apertium) and speech synthesis (espeak-ng), whose speed is chosen so
// that the speech fits the fragment.  It speaks the Socket.IO contract of
// docs/protocol.md, as any STS does.  Quality is modest; it needs no
// account and no network.
//
// Usage: node server.js [--host 127.0.0.1] [--port 8000] [--jobs N]
// stdout: "listening <port>" once ready.  stderr: one JSON line per
// fragment (transcript, translation, stage timings), and errors.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const { Server } = require('socket.io');

const USAGE = `usage: node server.js [options]
  --host ADDR     listen address (default 127.0.0.1)
  --port N        listen port, 0 = any free port (default 8000)
  --jobs N        fragments processed at once (default: number of CPUs)
  --max-inflight N  the most fragments a stream may have in flight (default 3)`;

// language codes of the contract (ISO 639-1) to apertium's (ISO 639-3)
const ISO3 = { en: 'eng', es: 'spa', fr: 'fra', de: 'deu', it: 'ita',
               pt: 'por', ca: 'cat', gl: 'glg', eo: 'epo' };

const ASR_MODELS = { en: '/usr/share/pocketsphinx/model/en-us' };

const ESPEAK_WPM = 165;
const ESPEAK_MAX_WPM = 400;

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 8000, jobs: os.cpus().length,
              maxInflight: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--host') o.host = v();
    else if (a === '--port') o.port = int(a, v());
    else if (a === '--jobs') o.jobs = int(a, v());
    else if (a === '--max-inflight') o.maxInflight = int(a, v());
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else usage(`unknown option ${a}`);
  }
  return o;
}

function int(name, s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) usage(`${name}: not a number: ${s}`);
  return n;
}

function usage(msg) {
  process.stderr.write(`local STS: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

function log(obj) {
  process.stderr.write(JSON.stringify({ t: new Date().toISOString(), ...obj })
                       + '\n');
}

// the translation pairs apertium has here, e.g. "eng-spa"
let PAIRS = [];
try {
  PAIRS = execFileSync('apertium', ['-l'], { encoding: 'utf8' })
    .split(/\s+/).filter(Boolean);
} catch (e) {
  log({ error: `apertium -l: ${e.message}` });
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

// runs a program; resolves with its stdout (a Buffer), rejects with a
// message that names it and carries the end of its stderr
function run(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => { err = (err + d).slice(-2000); });
    p.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} exited with ${code}: ${err.trim().split('\n').pop()}`));
    });
    p.stdin.on('error', () => {});
    p.stdin.end(input || null);
  });
}

// a queue of jobs, "jobs" at a time over all streams
const queue = [];
let running = 0;

function enqueue(job) {
  return new Promise((resolve, reject) => {
    queue.push({ job, resolve, reject });
    pump();
  });
}

function pump() {
  while (running < opts.jobs && queue.length) {
    const { job, resolve, reject } = queue.shift();
    running++;
    job().then(resolve, reject).finally(() => { running--; pump(); });
  }
}

// ---------------------------------------------------------------------------
// The pipeline
// ---------------------------------------------------------------------------

class StageError extends Error {
  constructor(stage, message, code) {
    super(message);
    this.stage = stage;
    this.code = code || 'MODEL_ERROR';
  }
}

// 16-bit PCM in a WAV file: the "data" chunk and the format
function parseWav(buf) {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF'
      || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a WAV file');
  }
  let off = 12;
  let fmt = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = { channels: buf.readUInt16LE(body + 2),
              rate: buf.readUInt32LE(body + 4),
              bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      // espeak-ng writing to a pipe leaves the sizes unset
      if (size === 0 || size === 0xffffffff || body + size > buf.length) {
        size = buf.length - body;
      }
      if (!fmt || fmt.bits !== 16) throw new Error('not 16-bit PCM');
      return { ...fmt, pcm: buf.subarray(body, body + (size & ~1)) };
    }
    off = body + size + (size & 1);
  }
  throw new Error('no data chunk');
}

async function asr(dir, audio, lang) {
  const input = path.join(dir, `in.${audio.format === 'm4a' ? 'm4a' : 'raw'}`);
  const wav = path.join(dir, 'in.wav');
  fs.writeFileSync(input, Buffer.from(audio.data_base64, 'base64'));

  const inFmt = audio.format === 'pcm_s16le' ? ['-f', 's16le']
    : audio.format === 'pcm_f32le' ? ['-f', 'f32le'] : [];
  const raw = inFmt.length ? ['-ar', String(audio.sample_rate_hz),
                              '-ac', String(audio.channels)] : [];

  try {
    await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...inFmt, ...raw,
                         '-i', input, '-ar', '16000', '-ac', '1',
                         '-c:a', 'pcm_s16le', wav]);
  } catch (e) {
    throw new StageError('asr', `decoding the fragment: ${e.message}`);
  }

  const model = ASR_MODELS[lang];
  try {
    const out = await run('pocketsphinx_continuous', [
      '-infile', wav, '-hmm', path.join(model, 'en-us'),
      '-lm', path.join(model, 'en-us.lm.bin'),
      '-dict', path.join(model, 'cmudict-en-us.dict'),
      '-logfn', '/dev/null']);
    return out.toString('utf8').split('\n').map((l) => l.trim())
      .filter(Boolean).join(' ');
  } catch (e) {
    throw new StageError('asr', e.message);
  }
}

async function translate(dir, text, pair) {
  if (!text) return '';
  // apertium's format filter wants a file, not a pipe
  const file = path.join(dir, 'text.txt');
  fs.writeFileSync(file, text + '\n');
  try {
    const out = await run('apertium', ['-u', pair, file]);
    return out.toString('utf8').replace(/\s+/g, ' ').trim();
  } catch (e) {
    throw new StageError('translation', e.message);
  }
}

// espeak-ng at a speed that makes the speech last no longer than the
// fragment: once at the normal speed, again faster if it is too long
async function tts(text, voice, durationMs) {
  const say = async (wpm) => {
    try {
      return parseWav(await run('espeak-ng', ['-v', voice, '-s', String(wpm),
                                              '--stdout', text]));
    } catch (e) {
      throw new StageError('tts', e.message);
    }
  };

  let wpm = ESPEAK_WPM;
  let w = await say(wpm);
  let ms = (w.pcm.length / 2 / w.channels) * 1000 / w.rate;

  if (ms > durationMs * 0.95) {
    wpm = Math.min(ESPEAK_MAX_WPM, Math.ceil(wpm * ms / (durationMs * 0.9)));
    w = await say(wpm);
    ms = (w.pcm.length / 2 / w.channels) * 1000 / w.rate;
  }

  return { ...w, ms, wpm };
}

function silence(durationMs, rate) {
  return { pcm: Buffer.alloc(Math.round(durationMs * rate / 1000) * 2),
           rate, channels: 1, ms: durationMs, wpm: 0 };
}

async function dub(stream, f) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-sts-'));
  const t = {};
  try {
    let t0 = Date.now();
    const transcript = await asr(dir, f.audio, stream.source);
    t.asr_ms = Date.now() - t0;

    t0 = Date.now();
    const translated = await translate(dir, transcript, stream.pair);
    t.translation_ms = Date.now() - t0;

    t0 = Date.now();
    const speech = translated
      ? await tts(translated, stream.voice, f.audio.duration_ms)
      : silence(f.audio.duration_ms, 22050);
    t.tts_ms = Date.now() - t0;

    return { transcript, translated, speech, timings: t };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------

function validFragment(f) {
  return f && typeof f.fragment_id === 'string' && f.fragment_id
    && Number.isInteger(f.sequence_number) && f.audio
    && typeof f.audio.data_base64 === 'string'
    && ['m4a', 'pcm_s16le', 'pcm_f32le'].includes(f.audio.format)
    && Number.isFinite(f.audio.duration_ms) && f.audio.duration_ms > 0;
}

function percentile(a, p) {
  if (!a.length) return 0;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

function onConnection(socket) {
  let stream = null;

  const fail = (code, message, retryable, extra) => {
    socket.emit('error', { code, message, severity: retryable ? 'error' : 'fatal',
                           retryable, error_id: crypto.randomUUID(),
                           stream_id: stream ? stream.id : undefined, ...extra });
  };

  socket.on('stream:init', (m) => {
    const c = (m && m.config) || {};
    const src = c.source_language;
    const tgt = c.target_language;
    const pair = `${ISO3[src]}-${ISO3[tgt]}`;

    if (!m || typeof m.stream_id !== 'string' || !ASR_MODELS[src]
        || !PAIRS.includes(pair)) {
      log({ stream: m && m.stream_id, error: `unsupported config ${src}->${tgt}` });
      fail('INVALID_CONFIG', `cannot dub ${src} to ${tgt} here `
           + `(speech recognition: ${Object.keys(ASR_MODELS).join(', ')}; `
           + `translation: ${PAIRS.join(', ')})`, false);
      return;
    }

    const voice = c.voice_profile && c.voice_profile !== 'default'
      ? c.voice_profile : tgt;

    const timeout = Number.isInteger(m.timeout_ms) && m.timeout_ms > 0
      ? m.timeout_ms : 8000;

    stream = { id: m.stream_id, source: src, target: tgt, pair, voice,
               timeout, total: 0,
               stats: { success: 0, partial: 0, failed: 0, times: [],
                        duration: 0 } };

    const max = Math.max(1, Math.min(opts.maxInflight,
                                     Number.isInteger(m.max_inflight)
                                       ? m.max_inflight : 3));

    socket.emit('stream:ready', {
      stream_id: stream.id, session_id: crypto.randomUUID(),
      max_inflight: max,
      capabilities: { batch_processing: false, async_delivery: true,
                      stages: ['asr', 'translation', 'tts'] },
    });
    log({ stream: stream.id, ready: `${src}->${tgt}`, voice, max_inflight: max });
  });

  socket.on('fragment:data', async (f) => {
    if (!stream) {
      fail('STREAM_NOT_FOUND', 'fragment:data before stream:init', false,
           { fragment_id: f && f.fragment_id });
      return;
    }
    if (!validFragment(f)) {
      fail('INVALID_CONFIG', 'fragment:data without the contract\'s fields',
           false, { fragment_id: f && f.fragment_id });
      return;
    }

    const s = stream;
    const start = Date.now();
    s.total++;
    s.stats.duration += f.audio.duration_ms;

    socket.emit('fragment:ack', { fragment_id: f.fragment_id, status: 'queued',
                                  queue_position: queue.length });

    const reply = { fragment_id: f.fragment_id, stream_id: s.id,
                    sequence_number: f.sequence_number };

    try {
      // a fragment that waited past its timeout in the queue is of no
      // use to the module any more: skip it, spare the CPU for the others
      const r = await enqueue(() => {
        const waited = Date.now() - start;
        if (waited >= s.timeout) {
          return Promise.reject(new StageError('asr', `waited ${waited}ms `
            + `in the queue, past the fragment's ${s.timeout}ms timeout`,
            'TIMEOUT'));
        }
        return dub(s, f);
      });
      const ms = Date.now() - start;
      s.stats.success++;
      s.stats.times.push(ms);

      socket.emit('fragment:processed', {
        ...reply, status: 'success', processing_time_ms: ms,
        dubbed_audio: { format: 'pcm_s16le', sample_rate_hz: r.speech.rate,
                        channels: r.speech.channels,
                        duration_ms: Math.round(r.speech.ms),
                        data_base64: r.speech.pcm.toString('base64') },
        transcript: r.transcript, translated_text: r.translated,
        stage_timings: r.timings,
        metadata: { original_duration_ms: f.audio.duration_ms,
                    dubbed_duration_ms: Math.round(r.speech.ms),
                    speed_wpm: r.speech.wpm },
      });
      log({ stream: s.id, fragment_id: f.fragment_id, seq: f.sequence_number,
            ms, ...r.timings, transcript: r.transcript,
            translated: r.translated, speech_ms: Math.round(r.speech.ms),
            wpm: r.speech.wpm });

    } catch (e) {
      const ms = Date.now() - start;
      s.stats.failed++;
      s.stats.times.push(ms);
      socket.emit('fragment:processed', {
        ...reply, status: 'failed', processing_time_ms: ms,
        error: { code: e.code || 'MODEL_ERROR', message: e.message,
                 stage: e.stage || 'asr', retryable: true },
      });
      log({ stream: s.id, fragment_id: f.fragment_id, seq: f.sequence_number,
            ms, error: e.message, code: e.code || 'MODEL_ERROR',
            stage: e.stage });
    }
  });

  socket.on('fragment:ack', () => {});
  socket.on('stream:pause', () => {});
  socket.on('stream:resume', () => {});

  socket.on('stream:end', () => {
    if (!stream) return;
    const st = stream.stats;
    socket.emit('stream:complete', {
      stream_id: stream.id, total_fragments: stream.total,
      total_duration_ms: st.duration,
      statistics: {
        success_count: st.success, partial_count: st.partial,
        failed_count: st.failed,
        avg_processing_time_ms: st.times.length
          ? Math.round(st.times.reduce((a, b) => a + b, 0) / st.times.length) : 0,
        p95_processing_time_ms: percentile(st.times, 0.95),
      },
    });
    log({ stream: stream.id, complete: st.success + st.failed });
  });
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, {
  serveClient: false,
  maxHttpBufferSize: 10e6,
  cleanupEmptyChildNamespaces: true,
});

io.of('/').on('connection', onConnection);
io.of(/^\/.*$/).on('connection', onConnection);

httpServer.listen(opts.port, opts.host, () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
  log({ listening: httpServer.address().port, jobs: opts.jobs,
        pairs: PAIRS.join(' ') });
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
