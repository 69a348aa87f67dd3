#!/usr/bin/env node
// Speech STS: speech to speech for the nginx dubbing module, behind the
// Socket.IO contract of docs/protocol.md.  Each fragment's audio goes
// through three stages, each chosen on the command line: recognition
// (local pocketsphinx, or an OpenAI-compatible /audio/transcriptions),
// translation (local apertium, LibreTranslate or DeepL) and speech (local
// espeak-ng, or an OpenAI-compatible /audio/speech), then is fitted to
// the fragment's duration.
//
// The contract as a whole: backpressure from its own queue depth and on a
// service's 429, STREAM_PAUSED while the module has paused the stream,
// answers in sequence order, a timeout per stage, INVALID_VOICE_PROFILE,
// a stream's work cancelled when its connection goes; /health (JSON) and
// /metrics (Prometheus) on the same port.
//
// Usage: node server.js [options] (--help).  stdout: "listening <port>"
// once ready.  stderr: one JSON line per fragment (transcript,
// translation, stage timings) and per event; no key ever.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { Server } = require('socket.io');

const audio = require('./lib/audio');
const options = require('./lib/options');
const stages = require('./lib/stages');
const { Registry } = require('./lib/metrics');
const { StageError, Cancelled, addSecret, log } = require('./lib/util');

let opts;
try {
  opts = options.parse(process.argv.slice(2), process.env);
} catch (e) {
  process.stderr.write(`speech STS: ${e.message}\n${options.USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(options.USAGE + '\n');
  process.exit(0);
}
for (const k of [opts.asrKey, opts.mtKey, opts.ttsKey]) addSecret(k);

const S = stages.make(opts);
const STAGES = ['asr', 'translation', 'tts'];
const started = Date.now();

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

const reg = new Registry();
const mFragments = reg.counter('speech_sts_fragments_total',
  'Fragments answered or dropped, by status (success, failed, cancelled: '
  + 'its connection went first).');
for (const status of ['success', 'failed', 'cancelled']) mFragments.init({ status });
const mErrors = reg.counter('speech_sts_stage_errors_total',
  'Stage failures, by stage and contract error code.');
const mStage = reg.histogram('speech_sts_stage_duration_seconds',
  'Time of each stage for one fragment.', [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8,
                                           16, 32]);
const mTotal = reg.histogram('speech_sts_fragment_duration_seconds',
  'From fragment:data to its answer being ready.', [0.25, 0.5, 1, 2, 4, 8,
                                                    16, 32]);
const mBp = reg.counter('speech_sts_backpressure_events_total',
  'backpressure events sent to streams, by action.');
for (const action of ['none', 'slow_down', 'pause']) mBp.init({ action });
const mRate = reg.counter('speech_sts_rate_limited_total',
  'HTTP 429 answers from a stage\'s service.');
reg.gauge('speech_sts_queue_depth', 'Fragments waiting for a job.',
          () => queue.length);
reg.gauge('speech_sts_fragments_running', 'Fragments being worked on.',
          () => running);
reg.gauge('speech_sts_streams', 'Streams connected and initialized.',
          () => streams.size);
reg.gauge('speech_sts_stage_info', 'Always 1: what each stage is.',
          () => [[{ stage: 'asr', kind: S.asr.kind }, 1],
                 [{ stage: 'translation', kind: S.mt.kind }, 1],
                 [{ stage: 'tts', kind: S.tts.kind }, 1]]);

// ---------------------------------------------------------------------------
// The queue: "jobs" fragments at a time over all streams, in arrival order
// ---------------------------------------------------------------------------

const queue = [];
let running = 0;
const streams = new Set();

function enqueue(job) {
  queue.push(job);
  pump();
  backpressure();
}

function pump() {
  while (running < opts.jobs && queue.length) {
    const job = queue.shift();
    running++;
    job.run().finally(() => {
      running--;
      pump();
      backpressure();
    });
  }
}

// ---------------------------------------------------------------------------
// Backpressure: from the queue depth, and while a service says 429
// ---------------------------------------------------------------------------

const rateLimit = {};         // stage -> { ms, timer }

function wanted() {
  const depth = queue.length;
  if (opts.bpPause && depth >= opts.bpPause) {
    return { action: 'pause', delay: 0, severity: 'high' };
  }
  const limited = Object.values(rateLimit);
  if (limited.length || (opts.bpSlowDown && depth >= opts.bpSlowDown)) {
    const delay = Math.max(limited.length ? 0 : opts.bpDelayMs,
                           ...limited.map((r) => r.ms));
    return { action: 'slow_down', delay, severity: 'medium' };
  }
  return { action: 'none', delay: 0, severity: 'low' };
}

// tells each stream what changed for it
function backpressure() {
  const w = wanted();
  for (const s of streams) {
    if (s.bp.action === w.action && s.bp.delay === w.delay) continue;
    s.bp = w;
    mBp.inc({ action: w.action });
    s.socket.emit('backpressure', {
      stream_id: s.id, severity: w.severity, current_inflight: s.pending.length,
      queue_depth: queue.length, action: w.action,
      recommended_delay_ms: w.delay,
    });
    log({ stream: s.id, backpressure: w.action, delay_ms: w.delay,
          queue_depth: queue.length,
          rate_limited: Object.keys(rateLimit).join(' ') || undefined });
  }
}

// a stage's service said 429: slow the streams down until it answers
// again (or twice the wait passes without another 429)
function rateLimited(stage, ms) {
  mRate.inc({ stage });
  const r = rateLimit[stage];
  if (r) clearTimeout(r.timer);
  else log({ stage, rate_limited: `HTTP 429, waiting ${ms} ms` });
  rateLimit[stage] = { ms, timer: setTimeout(() => rateLimitOver(stage),
                                             2 * ms + 1000) };
  backpressure();
}

function rateLimitOver(stage) {
  const r = rateLimit[stage];
  if (!r) return;
  clearTimeout(r.timer);
  delete rateLimit[stage];
  log({ stage, rate_limited: 'over' });
  backpressure();
}

// ---------------------------------------------------------------------------
// One fragment through the stages
// ---------------------------------------------------------------------------

const authLogged = {};

function stageContext(stage, s, signal, dir) {
  const t = { asr: opts.asrTimeout, translation: opts.mtTimeout,
              tts: opts.ttsTimeout }[stage];
  return { signal, dir, timeoutMs: t || s.timeout,
           rateLimitMs: opts.rateLimitMs,
           onRateLimit: (ms) => rateLimited(stage, ms),
           onOk: () => rateLimitOver(stage) };
}

async function timed(stage, timings, fn) {
  const t0 = Date.now();
  try {
    const r = await fn();
    if (authLogged[stage]) {
      log({ stage, auth: 'accepted again' });
      authLogged[stage] = false;
    }
    return r;
  } catch (e) {
    if (!(e instanceof Cancelled) && !(e instanceof StageError)) {
      throw new StageError(stage, 'MODEL_ERROR', e.message, true);
    }
    throw e;
  } finally {
    const ms = Date.now() - t0;
    timings[`${stage}_ms`] = ms;
    mStage.observe({ stage }, ms / 1000);
  }
}

async function dub(s, f, signal) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'speech-sts-'));
  const t = {};
  const dur = f.audio.duration_ms;
  try {
    const transcript = await timed('asr', t, async () => {
      const ctx = stageContext('asr', s, signal, dir);
      let wav;
      try {
        // our own work: not the recognizer's time
        wav = await audio.fragmentWav(f.audio, dir,
                                      { signal, timeoutMs: s.timeout });
      } catch (e) {
        if (e instanceof Cancelled) throw e;
        throw new StageError('asr', e.timeout ? 'TIMEOUT' : 'MODEL_ERROR',
                             `decoding the fragment: ${e.message}`, true);
      }
      return S.asr.run(wav, s.source, ctx);
    });

    const translated = transcript ? await timed('translation', t,
      () => S.mt.run(transcript, s.source, s.target,
                     stageContext('translation', s, signal, dir))) : '';

    const speech = await timed('tts', t, async () => {
      const ctx = stageContext('tts', s, signal, dir);
      const raw = translated ? await S.tts.run(translated, s.voice, dur, ctx)
        : audio.silence(dur, 16000);
      const fitted = await audio.fit(raw, dur, opts);
      return { ...fitted, wpm: raw.wpm };
    });

    return { transcript, translated, speech, timings: t };
  } catch (e) {
    if (e instanceof StageError) e.timings = t;
    throw e;
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
    && Number.isFinite(f.audio.duration_ms) && f.audio.duration_ms > 0
    && f.audio.duration_ms <= 120000;
}

function percentile(a, p) {
  if (!a.length) return 0;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

// Answers go out in the order the fragments came: one that is ready
// waits for those before it.
function flush(s) {
  while (s.pending.length && s.pending[0].answer) {
    const p = s.pending.shift();
    if (s.closed) continue;
    s.socket.emit('fragment:processed', p.answer);
    const held = Date.now() - p.readyAt;
    log({ ...p.line, held_ms: held > 0 ? held : undefined });
  }
}

function answer(s, p, msg, line) {
  p.answer = msg;
  p.line = line;
  p.readyAt = Date.now();
  if (s.pending[0] !== p) {
    log({ stream: s.id, held: msg.fragment_id, seq: msg.sequence_number,
          behind: s.pending[0].seq });
  }
  flush(s);
}

function failure(s, p, e, ms) {
  const first = e.auth && !authLogged[e.stage];
  if (e.auth) {
    if (first) {
      authLogged[e.stage] = true;
      log({ stage: e.stage, auth: `${e.message}; check STS_${
        { asr: 'ASR', translation: 'MT', tts: 'TTS' }[e.stage]}_KEY` });
    }
  }
  mErrors.inc({ stage: e.stage, code: e.code });
  mFragments.inc({ status: 'failed' });
  s.stats.failed++;
  s.stats.times.push(ms);
  answer(s, p, {
    fragment_id: p.id, stream_id: s.id, sequence_number: p.seq,
    status: 'failed', processing_time_ms: ms,
    error: { code: e.code, message: e.message, stage: e.stage,
             retryable: e.retryable },
    stage_timings: e.timings,
  }, { stream: s.id, fragment_id: p.id, seq: p.seq, ms, ...(e.timings || {}),
       code: e.code, stage: e.stage, retryable: e.retryable,
       error: e.auth && !first ? `${e.code} (logged once)` : e.message });
}

function onConnection(socket) {
  let stream = null;

  const fail = (code, message, retryable, extra) => {
    socket.emit('error', { code, message, severity: retryable ? 'error' : 'fatal',
                           retryable, error_id: crypto.randomUUID(),
                           stream_id: stream ? stream.id : undefined, ...extra });
  };

  const close = (why) => {
    const s = stream;
    if (!s) return;
    stream = null;
    s.closed = true;
    streams.delete(s);
    s.abort.abort();
    let cancelled = 0;
    for (let i = queue.length - 1; i >= 0; i--) {
      if (queue[i].s === s) {
        queue.splice(i, 1);
        cancelled++;
        mFragments.inc({ status: 'cancelled' });
      }
    }
    const working = s.pending.filter((p) => !p.answer).length - cancelled;
    log({ stream: s.id, closed: why, cancelled_waiting: cancelled,
          cancelled_working: working });
    backpressure();
  };

  socket.on('stream:init', (m) => {
    const c = (m && m.config) || {};
    const src = c.source_language;
    const tgt = c.target_language;

    if (!m || typeof m.stream_id !== 'string' || typeof src !== 'string'
        || typeof tgt !== 'string' || !S.asr.supports(src)
        || !S.mt.supports(src, tgt)) {
      log({ stream: m && m.stream_id, error: `unsupported config ${src}->${tgt}` });
      fail('INVALID_CONFIG', `cannot dub ${src} to ${tgt} here `
           + `(speech recognition: ${S.asr.languages().join(', ')}; `
           + `translation: ${S.mt.languages().join(', ')})`, false);
      return;
    }

    const profile = typeof c.voice_profile === 'string' ? c.voice_profile
      : 'default';
    const voice = S.tts.voice(profile, tgt);
    if (!voice) {
      log({ stream: m.stream_id, error: `no voice for profile "${profile}"` });
      fail('INVALID_VOICE_PROFILE', `no voice for voice_profile "${profile}" `
           + `(profiles: default${Object.keys(opts.voices).map((v) => `, ${v}`)
             .join('')}; see --voice)`, false);
      return;
    }

    close('stream:init again');

    const timeout = Number.isInteger(m.timeout_ms) && m.timeout_ms > 0
      ? m.timeout_ms : 8000;
    const max = Math.max(1, Math.min(opts.maxInflight,
                                     Number.isInteger(m.max_inflight)
                                       ? m.max_inflight : 3));

    stream = { id: m.stream_id, socket, source: src, target: tgt, voice,
               timeout, total: 0, paused: false, closed: false, pending: [],
               abort: new AbortController(),
               bp: { action: 'none', delay: 0 },
               stats: { success: 0, partial: 0, failed: 0, times: [],
                        duration: 0 } };
    streams.add(stream);

    socket.emit('stream:ready', {
      stream_id: stream.id, session_id: crypto.randomUUID(),
      max_inflight: max,
      capabilities: { batch_processing: false, async_delivery: true,
                      stages: STAGES },
    });
    log({ stream: stream.id, ready: `${src}->${tgt}`, voice, max_inflight: max,
          timeout_ms: timeout });
    backpressure();
  });

  socket.on('fragment:data', (f) => {
    const s = stream;
    if (!s) {
      fail('STREAM_NOT_FOUND', 'fragment:data before stream:init', false,
           { fragment_id: f && f.fragment_id });
      return;
    }
    if (!validFragment(f)) {
      fail('INVALID_CONFIG', 'fragment:data without the contract\'s fields',
           false, { fragment_id: f && f.fragment_id });
      return;
    }

    const start = Date.now();
    const p = { id: f.fragment_id, seq: f.sequence_number, answer: null };
    s.pending.push(p);
    s.total++;
    s.stats.duration += f.audio.duration_ms;

    if (s.paused) {
      failure(s, p, new StageError('asr', 'STREAM_PAUSED', 'the stream is '
        + 'paused (stream:pause); send stream:resume first', false), 0);
      return;
    }

    socket.emit('fragment:ack', { fragment_id: f.fragment_id, status: 'queued',
                                  queue_position: queue.length });

    enqueue({ s, run: async () => {
      if (s.closed) return;
      // a fragment that waited past its timeout is of no use to the
      // module any more: skip it, spare the work for the others
      const waited = Date.now() - start;
      if (waited >= s.timeout) {
        failure(s, p, new StageError('asr', 'TIMEOUT', `waited ${waited}ms `
          + `in the queue, past the fragment's ${s.timeout}ms timeout`, true),
                waited);
        return;
      }
      try {
        const r = await dub(s, f, s.abort.signal);
        const ms = Date.now() - start;
        mTotal.observe({}, ms / 1000);
        mFragments.inc({ status: 'success' });
        s.stats.success++;
        s.stats.times.push(ms);
        const sp = r.speech;
        answer(s, p, {
          fragment_id: p.id, stream_id: s.id, sequence_number: p.seq,
          status: 'success', processing_time_ms: ms,
          dubbed_audio: { format: 'pcm_s16le', sample_rate_hz: sp.rate,
                          channels: sp.channels,
                          duration_ms: Math.round(audio.durationMs(sp)),
                          data_base64: sp.pcm.toString('base64') },
          transcript: r.transcript, translated_text: r.translated,
          stage_timings: r.timings,
          metadata: { original_duration_ms: f.audio.duration_ms,
                      speech_ms: sp.speech_ms, tempo: sp.tempo,
                      padded_ms: sp.padded_ms, trimmed_ms: sp.trimmed_ms,
                      voice: s.voice, speed_wpm: sp.wpm },
        }, { stream: s.id, fragment_id: p.id, seq: p.seq, ms, ...r.timings,
             transcript: r.transcript, translated: r.translated,
             speech_ms: sp.speech_ms, tempo: sp.tempo, padded_ms: sp.padded_ms,
             trimmed_ms: sp.trimmed_ms, wpm: sp.wpm });
      } catch (e) {
        if (e instanceof Cancelled || s.closed) {
          mFragments.inc({ status: 'cancelled' });
          return;
        }
        const err = e instanceof StageError ? e
          : new StageError('asr', 'MODEL_ERROR', e.message, true);
        failure(s, p, err, Date.now() - start);
      }
    } });
  });

  socket.on('fragment:ack', () => {});

  socket.on('stream:pause', (m) => {
    if (!stream) return;
    stream.paused = true;
    log({ stream: stream.id, paused: (m && m.reason) || true });
  });

  socket.on('stream:resume', () => {
    if (!stream) return;
    stream.paused = false;
    log({ stream: stream.id, resumed: true });
  });

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

  socket.on('disconnect', (reason) => close(reason));
}

// ---------------------------------------------------------------------------
// HTTP: /health and /metrics
// ---------------------------------------------------------------------------

function health() {
  return {
    status: Object.values(authLogged).some(Boolean) ? 'degraded' : 'ok',
    stages: { asr: S.asr.describe, translation: S.mt.describe,
              tts: S.tts.describe },
    auth_failed: STAGES.filter((s) => authLogged[s]),
    rate_limited: Object.keys(rateLimit),
    streams: streams.size, queue_depth: queue.length, running,
    jobs: opts.jobs, uptime_s: Math.round((Date.now() - started) / 1000),
  };
}

const httpServer = http.createServer((req, res) => {
  const url = (req.url || '').split('?')[0];
  if (req.method === 'GET' && url === '/health') {
    const body = JSON.stringify(health());
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
  } else if (req.method === 'GET' && url === '/metrics') {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(reg.text());
  } else {
    res.writeHead(404);
    res.end();
  }
});

const io = new Server(httpServer, {
  serveClient: false,
  maxHttpBufferSize: 10e6,
  cleanupEmptyChildNamespaces: true,
});

io.of('/').on('connection', onConnection);
io.of(/^\/.*$/).on('connection', onConnection);

httpServer.on('error', (e) => {
  log({ error: `listen ${opts.host}:${opts.port}: ${e.message}` });
  process.exit(1);
});

httpServer.listen(opts.port, opts.host, () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
  log({ listening: httpServer.address().port, jobs: opts.jobs,
        asr: S.asr.describe, translation: S.mt.describe, tts: S.tts.describe,
        pairs: S.mt.pairs ? S.mt.pairs.join(' ') : undefined,
        bp_slow_down: opts.bpSlowDown, bp_pause: opts.bpPause });
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
