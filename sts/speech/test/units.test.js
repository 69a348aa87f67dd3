// Speech STS: the logic alone (fitting, error mapping, keys, options).

'use strict';

const test = require('node:test');
const assert = require('node:assert');
const http = require('http');

const audio = require('../lib/audio');
const H = require('../lib/http');
const stages = require('../lib/stages');
const options = require('../lib/options');
const { addSecret, redact, Cancelled } = require('../lib/util');

function tone(ms, rate) {
  const n = Math.round(ms * rate / 1000);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin(i / 10)), i * 2);
  }
  return { pcm, rate, channels: 1 };
}

const bounds = { minTempo: 0.9, maxTempo: 1.5 };

test('fitting: the tempo stays within its bounds', () => {
  assert.strictEqual(audio.fitTempo(3000, 2000, 0.9, 1.5), 1.5);
  assert.strictEqual(audio.fitTempo(2400, 2000, 0.9, 1.5), 1.2);
  assert.strictEqual(audio.fitTempo(9000, 2000, 0.9, 1.5), 1.5);
  assert.strictEqual(audio.fitTempo(1000, 2000, 0.9, 1.5), 0.9);
  assert.strictEqual(audio.fitTempo(2010, 2000, 0.9, 1.5), 1);
  assert.strictEqual(audio.fitTempo(0, 2000, 0.9, 1.5), 1);
});

test('fitting: exactly the fragment, whatever length the speech', async () => {
  for (const [ms, tempo, padded, trimmed] of [[3000, 1.5, false, false],
                                              [6000, 1.5, false, true],
                                              [1000, 0.9, true, false],
                                              [2000, 1, false, false]]) {
    const r = await audio.fit(tone(ms, 24000), 2000, bounds, {});
    assert.strictEqual(r.pcm.length, 2000 * 24 * 2, `${ms} ms: length`);
    assert.strictEqual(r.rate, 24000);
    assert.strictEqual(r.tempo, tempo, `${ms} ms: tempo`);
    assert.strictEqual(r.speech_ms, ms);
    assert.strictEqual(r.padded_ms > 20, padded, `${ms} ms: padded ${r.padded_ms}`);
    assert.strictEqual(r.trimmed_ms > 20, trimmed,
                       `${ms} ms: trimmed ${r.trimmed_ms}`);
  }
  // 6 s at 1.5x is 4 s: 2 s of it are cut, with a fade at the end
  const r = await audio.fit(tone(6000, 24000), 2000, bounds, {});
  assert.ok(Math.abs(r.trimmed_ms - 2000) < 50, `trimmed ${r.trimmed_ms}`);
  assert.strictEqual(r.pcm.readInt16LE(r.pcm.length - 2), 0);
  // 1 s at 0.9x is 1.11 s: the rest is silence
  const p = await audio.fit(tone(1000, 24000), 2000, bounds, {});
  assert.ok(Math.abs(p.padded_ms - 889) < 30, `padded ${p.padded_ms}`);
  assert.ok(p.pcm.subarray(p.pcm.length - 2000).every((b) => b === 0));
});

// a 440 Hz sine: [frames, zero crossings per second, largest step]
function sineStats(s) {
  const ch = s.channels;
  const n = s.pcm.length / 2 / ch;
  let cross = 0;
  let step = 0;
  for (let i = 1; i < n; i++) {
    const a = s.pcm.readInt16LE((i - 1) * ch * 2);
    const b = s.pcm.readInt16LE(i * ch * 2);
    if ((a < 0) !== (b < 0)) cross++;
    step = Math.max(step, Math.abs(b - a));
  }
  return [n, cross / (n / s.rate), step];
}

test('tempo: shorter or longer, the same pitch, no clicks', () => {
  for (const [tempo, channels] of [[1.5, 1], [0.9, 1], [1.25, 2]]) {
    const rate = 24000;
    const n = 3 * rate;
    const pcm = Buffer.alloc(n * channels * 2);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < channels; c++) {
        pcm.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / rate)),
                         (i * channels + c) * 2);
      }
    }
    const [frames, zc, step] = sineStats(audio.changeTempo(
      { pcm, rate, channels }, tempo));
    assert.strictEqual(frames, Math.round(n / tempo), `${tempo}: length`);
    assert.ok(Math.abs(zc - 880) < 880 * 0.03, `${tempo}: ${zc} crossings/s`);
    // a 440 Hz sine of 8000 moves at most 922 a sample at 24 kHz
    assert.ok(step < 1400, `${tempo}: a step of ${step}`);
  }
});

test('fitting: stereo frames stay whole', () => {
  const s = { pcm: Buffer.alloc(1001 * 4, 1), rate: 1000, channels: 2 };
  assert.strictEqual(audio.padOrTrim(s, 500).pcm.length, 500 * 4);
  assert.strictEqual(audio.padOrTrim(s, 1500).pcm.length, 1500 * 4);
});

test('WAV: 16-bit read, sizes of a streamed WAV ignored', () => {
  const w = audio.wavFile(Buffer.alloc(3200), 16000, 1);
  w.writeUInt32LE(0xffffffff, 40);
  const r = audio.parseWav(w);
  assert.deepStrictEqual([r.rate, r.channels, r.pcm.length], [16000, 1, 3200]);
  assert.throws(() => audio.parseWav(Buffer.from('not a wav at all')),
                /not a WAV/);
});

test('HTTP status to the contract', () => {
  const e = (s) => H.statusError('tts', 'svc', s, '');
  assert.strictEqual(e(200), null);
  for (const s of [401, 403]) {
    assert.strictEqual(e(s).code, 'AUTH_FAILED');
    assert.strictEqual(e(s).retryable, false);
    assert.strictEqual(e(s).auth, true);
  }
  assert.deepStrictEqual([e(429).code, e(429).retryable], ['RATE_LIMIT', true]);
  for (const s of [500, 502, 503]) {
    assert.deepStrictEqual([e(s).code, e(s).retryable, e(s).stage],
                           ['MODEL_ERROR', true, 'tts']);
  }
  assert.deepStrictEqual([e(504).code, e(504).retryable], ['TIMEOUT', true]);
  for (const s of [400, 404, 422]) assert.strictEqual(e(s).retryable, false);
  assert.strictEqual(H.retryAfterMs('3'), 3000);
  assert.strictEqual(H.retryAfterMs('0.5'), 500);
  assert.strictEqual(H.retryAfterMs(null), null);
  const at = new Date(Date.now() + 10000).toUTCString();
  assert.ok(Math.abs(H.retryAfterMs(at) - 10000) <= 1000);
});

test('keys never shown', () => {
  addSecret('sk-unit-secret-123');
  assert.strictEqual(redact('key sk-unit-secret-123 twice sk-unit-secret-123'),
                     'key [key] twice [key]');
  assert.strictEqual(redact('http://user:pw@host/x'), 'http://user:[key]@host/x');
  assert.strictEqual(H.safeUrl('http://user:pw@host:5/v1'), 'http://host:5/v1');
  const e = H.statusError('asr', 'svc', 401,
                          '{"error":"Incorrect API key provided: sk-unit-secret-123"}');
  assert.ok(!e.message.includes('sk-unit-secret-123'), e.message);
  assert.ok(e.message.includes('[key]'));
});

// a server answering each request with the next of "answers":
// [status, headers, body] or "hang"
function server(answers) {
  const seen = [];
  const s = http.createServer((req, res) => {
    const a = answers[Math.min(seen.length, answers.length - 1)];
    seen.push({ at: Date.now() });
    if (a === 'hang') return;
    res.writeHead(a[0], a[1]);
    res.end(a[2]);
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => {
    resolve({ url: `http://127.0.0.1:${s.address().port}/x`, seen,
              close: () => { s.closeAllConnections(); s.close(); } });
  }));
}

const base = { stage: 'asr', service: 'svc', timeoutMs: 5000, rateLimitMs: 100 };

test('call: 429 waited out and tried again, the caller told', async () => {
  const s = await server([[429, { 'Retry-After': '0.2' }, 'slow down'],
                          [429, {}, 'slow down'], [200, {}, '{"text":"ok"}']]);
  const waits = [];
  let ok = 0;
  const r = await H.call({ url: s.url, body: 'x' },
                         { ...base, onRateLimit: (ms) => waits.push(ms),
                           onOk: () => ok++ });
  assert.strictEqual(H.json('asr', 'svc', r).text, 'ok');
  assert.deepStrictEqual(waits, [200, 100]);
  assert.strictEqual(ok, 1);
  assert.ok(s.seen[1].at - s.seen[0].at >= 190);
  s.close();
});

test('call: 429 past the stage time is RATE_LIMIT', async () => {
  const s = await server([[429, { 'Retry-After': '30' }, '']]);
  await assert.rejects(H.call({ url: s.url, body: 'x' }, base),
                       (e) => e.code === 'RATE_LIMIT' && e.retryable
                         && e.stage === 'asr');
  assert.strictEqual(s.seen.length, 1);
  s.close();
});

test('call: a server that does not answer is a TIMEOUT', async () => {
  const s = await server(['hang']);
  const t0 = Date.now();
  await assert.rejects(H.call({ url: s.url, body: 'x' },
                              { ...base, timeoutMs: 300 }),
                       (e) => e.code === 'TIMEOUT' && e.retryable);
  assert.ok(Date.now() - t0 >= 290);
  s.close();
});

test('call: cancelled with its stream', async () => {
  const s = await server(['hang']);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(H.call({ url: s.url, body: 'x' },
                              { ...base, signal: ac.signal }),
                       (e) => e instanceof Cancelled);
  s.close();
});

test('call: nobody listening is retryable', async () => {
  const s = await server([[200, {}, '']]);
  s.close();
  await assert.rejects(H.call({ url: s.url, body: 'x' }, base),
                       (e) => e.code === 'MODEL_ERROR' && e.retryable
                         && /cannot reach svc/.test(e.message));
});

test('stage flags', () => {
  const k = ['local', 'openai'];
  assert.deepStrictEqual(stages.parseSpec('--asr', 'local', k),
                         { kind: 'local', url: null });
  assert.deepStrictEqual(stages.parseSpec('--asr', 'openai=http://gpu:8000/v1/', k),
                         { kind: 'openai', url: 'http://gpu:8000/v1' });
  assert.throws(() => stages.parseSpec('--asr', 'openai', k), /needs a URL/);
  assert.throws(() => stages.parseSpec('--asr', 'whisper=http://x', k),
                /expected local \| openai=URL/);
  assert.throws(() => stages.parseSpec('--asr', 'openai=gpu:8000', k),
                /not an http/);
  const o = options.parse(['--asr=openai=http://a/v1', '--mt', 'deepl=http://d',
                           '--voice', 'narrator=nova', '--jobs', '3'],
                          { STS_MT_KEY: 'k' });
  assert.deepStrictEqual([o.asr.kind, o.mt.kind, o.tts.kind, o.mtKey,
                          o.voices.narrator, o.bpSlowDown, o.bpPause],
                         ['openai', 'deepl', 'local', 'k', 'nova', 6, 12]);
  assert.throws(() => options.parse(['--min-tempo', '1.2'], {}), /min-tempo/);
});

test('DeepL language codes', () => {
  assert.strictEqual(stages.deeplTarget('es'), 'ES');
  assert.strictEqual(stages.deeplTarget('en'), 'EN-US');
  assert.strictEqual(stages.deeplTarget('pt'), 'PT-PT');
});

const VOICES_ES = `Pty Language       Age/Gender VoiceName          File                 Other Languages
 3  es-es           --/F      spanish-mbrola-3   mb/mb-es3            (es 3)
 5  es              --/M      Spanish_(Spain)    roa/es
 7  es-es           --/M      spanish-mbrola-1   mb/mb-es1            (es 7)
 7  es-mx           --/M      mexican-mbrola-1   mb/mb-mx1            (es 8)
`;

test('an mbrola voice when its database is installed', () => {
  const installed = (files) => (f) => files.includes(f);
  assert.strictEqual(stages.mbrolaVoice('es', VOICES_ES, installed([])), null);
  assert.strictEqual(stages.mbrolaVoice('es', VOICES_ES,
                                        installed(['/usr/share/mbrola/es1/es1'])),
                     'mb-es1');
  assert.strictEqual(stages.mbrolaVoice('es', VOICES_ES,
                                        installed(['/usr/share/mbrola/mx1',
                                                   '/usr/share/mbrola/es3/es3'])),
                     'mb-es3');
  assert.strictEqual(stages.mbrolaVoice('fr', VOICES_ES,
                                        installed(['/usr/share/mbrola/es1/es1'])),
                     null);
  const v = stages.espeakVoices(VOICES_ES);
  assert.ok(v.has('es') && v.has('es-mx') && v.has('spanish-mbrola-1')
            && v.has('mb-es1') && !v.has('Pty'));
});

test('voice profiles onto voices', () => {
  const o = options.parse(['--tts', 'openai=http://x/v1', '--voice',
                           'narrator=af_bella'], {});
  const { tts } = stages.make({ ...o, mt: { kind: 'deepl', url: 'http://d' },
                                asr: { kind: 'openai', url: 'http://a' } });
  assert.strictEqual(tts.voice('default', 'es'), 'alloy');
  assert.strictEqual(tts.voice('narrator', 'es'), 'af_bella');
  assert.strictEqual(tts.voice('nova', 'es'), 'nova');
  assert.strictEqual(tts.voice('nosuch', 'es'), null);
  const l = stages.make(options.parse(['--voice', 'narrator=es+f3'], {})).tts;
  assert.strictEqual(l.voice('narrator', 'es'), 'es+f3');
  assert.strictEqual(l.voice('es-419', 'es'), 'es-419');
  assert.strictEqual(l.voice('nosuch', 'es'), null);
});

test('an M4A fragment with its index at the end decodes whole', async () => {
  const fs = require('fs');
  const os = require('os');
  const path = require('path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'speech-unit-'));
  try {
    // as the module packs a segment: AAC in an M4A, index last
    const file = path.join(dir, 'frag.m4a');
    await audio.run('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i',
                               'sine=frequency=440:duration=6', '-ac', '2',
                               '-ar', '44100', '-c:a', 'aac', '-f', 'ipod',
                               file]);
    const data = fs.readFileSync(file);
    assert.ok(data.indexOf('moov') > data.indexOf('mdat'), 'index at the end');
    const wav = await audio.fragmentWav({ format: 'm4a', duration_ms: 6000,
                                          data_base64: data.toString('base64') },
                                        dir, {});
    const w = audio.parseWav(wav);
    assert.deepStrictEqual([w.rate, w.channels], [16000, 1]);
    assert.ok(Math.abs(audio.durationMs(w) - 6000) < 100,
              `${audio.durationMs(w)} ms`);
    await assert.rejects(audio.fragmentWav({ format: 'm4a', duration_ms: 6000,
      data_base64: data.subarray(0, 2000).toString('base64') }, dir, {}));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
