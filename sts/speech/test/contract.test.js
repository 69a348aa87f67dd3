// Speech STS: the contract, from a Socket.IO client of the test's own in
// place of the module, with the stand-in APIs behind it: answers in
// sequence order, STREAM_PAUSED, INVALID_VOICE_PROFILE, backpressure
// from the queue depth, work cancelled with its connection, /health and
// /metrics.

'use strict';

const test = require('node:test');
const assert = require('node:assert');
const h = require('./helpers');

test.after(h.stopAll);

async function setup(rules, args) {
  const api = await h.standins(['--rules', JSON.stringify(rules || [])]);
  const base = `http://127.0.0.1:${api.port}/v1`;
  const sts = await h.sts(['--asr', `openai=${base}`,
                           '--mt', `libretranslate=http://127.0.0.1:${api.port}`,
                           '--tts', `openai=${base}`, ...(args || [])]);
  return { api, sts };
}

test('answers in sequence order, whichever is ready first', async () => {
  // the recognition of the first fragment (3 s long) takes 4 s, the
  // others' (2 s) none
  const { api, sts } = await setup([{ api: 'asr', min_ms: 2500,
                                      latency_ms: 4000 }], ['--jobs', '3']);
  // a timeout no busy machine reaches: the order is what is tested
  const s = await h.stream(sts.port, { timeout_ms: 120000 });
  await s.next('stream:ready');
  const frags = [0, 1, 2].map((n) => h.fragment(n ? 2000 : 3000, n));
  for (const f of frags) s.socket.emit('fragment:data', f);
  for (let i = 0; i < 3; i++) await s.next('fragment:processed', null, 120000);
  const got = s.events.filter((e) => e.name === 'fragment:processed')
    .map((e) => [e.payload.sequence_number, e.payload.status]);
  assert.deepStrictEqual(got, [[0, 'success'], [1, 'success'], [2, 'success']]);
  // worked on at once: the last two were answered by the recognizer
  // while the first was still waiting for it
  const reqs = (await h.get(api.port, '/_requests'))
    .filter((r) => r.api === 'asr');
  const slow = reqs.filter((r) => r.fields.file.duration_ms >= 2500);
  const fast = reqs.filter((r) => r.fields.file.duration_ms < 2500);
  assert.deepStrictEqual([slow.length, fast.length], [1, 2]);
  assert.ok(fast.every((r) => r.answered_at < slow[0].answered_at));
  assert.ok(await sts.waitLog(/"held":"[^"]+","seq":1,"behind":0/));
  s.socket.close();
});

test('STREAM_PAUSED between stream:pause and stream:resume', async () => {
  const { sts } = await setup();
  const s = await h.stream(sts.port);
  await s.next('stream:ready');
  s.socket.emit('stream:pause', { stream_id: 'live/test', reason: 'breaker_open' });
  s.socket.emit('fragment:data', h.fragment(2000, 0));
  const p = await s.next('fragment:processed');
  assert.strictEqual(p.status, 'failed');
  assert.strictEqual(p.error.code, 'STREAM_PAUSED');
  assert.strictEqual(p.error.retryable, false);
  s.socket.emit('stream:resume', { stream_id: 'live/test' });
  s.socket.emit('fragment:data', h.fragment(2000, 1));
  const q = await s.next('fragment:processed', (x) => x.sequence_number === 1);
  assert.strictEqual(q.status, 'success');
  s.socket.close();
});

test('INVALID_VOICE_PROFILE for a profile without a voice', async () => {
  const { sts } = await setup([], ['--voice', 'narrator=fable']);
  const bad = await h.stream(sts.port, { config: {
    source_language: 'en', target_language: 'es', voice_profile: 'nosuch' } });
  const e = await bad.next('error');
  assert.strictEqual(e.code, 'INVALID_VOICE_PROFILE');
  assert.strictEqual(e.retryable, false);
  assert.ok(!bad.events.some((x) => x.name === 'stream:ready'));
  const good = await h.stream(sts.port, { config: {
    source_language: 'en', target_language: 'es', voice_profile: 'narrator' } });
  await good.next('stream:ready');
  assert.ok(await sts.waitLog(/"ready":"en->es","voice":"fable"/));
  bad.socket.close();
  good.socket.close();
});

test('backpressure from the queue depth: slow_down, pause, none', async () => {
  // one job, each recognition 1 s: six fragments at once queue up
  const { sts } = await setup([{ api: 'asr', latency_ms: 1000 }],
                              ['--jobs', '1', '--bp-slow-down', '2',
                               '--bp-pause', '4', '--bp-delay-ms', '1500',
                               '--max-inflight', '10']);
  const s = await h.stream(sts.port, { max_inflight: 10 });
  await s.next('stream:ready');
  for (let n = 0; n < 6; n++) s.socket.emit('fragment:data', h.fragment(2000, n));
  for (let n = 0; n < 6; n++) await s.next('fragment:processed');
  await s.next('backpressure', (b) => b.action === 'none');
  const bp = s.events.filter((e) => e.name === 'backpressure').map((e) => e.payload);
  assert.deepStrictEqual(bp.map((b) => b.action),
                         ['slow_down', 'pause', 'slow_down', 'none']);
  assert.strictEqual(bp[0].recommended_delay_ms, 1500);
  assert.ok(bp[0].queue_depth >= 2 && bp[1].queue_depth >= 4);
  assert.deepStrictEqual(bp.map((b) => b.severity),
                         ['medium', 'high', 'medium', 'low']);
  const m = await h.get(sts.port, '/metrics');
  assert.match(m, /speech_sts_backpressure_events_total\{action="pause"\} 1/);
  s.socket.close();
});

test('a stream\'s work cancelled when its connection goes', async () => {
  const { api, sts } = await setup([{ api: 'asr', hang: true }],
                                   ['--jobs', '1']);
  const s = await h.stream(sts.port);
  await s.next('stream:ready');
  s.socket.emit('fragment:data', h.fragment(2000, 0));
  s.socket.emit('fragment:data', h.fragment(2000, 1));
  // the first is at the recognizer, the second waits for the job
  for (let i = 0; i < 100; i++) {
    const r = await h.get(api.port, '/_requests');
    if (r.length) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  let hl = await h.get(sts.port, '/health');
  assert.deepStrictEqual([hl.streams, hl.running, hl.queue_depth], [1, 1, 1]);
  s.socket.close();
  let m;
  for (let i = 0; i < 100; i++) {
    m = await h.get(sts.port, '/metrics');
    if (/fragments_total\{status="cancelled"\} 2/.test(m)) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.match(m, /speech_sts_fragments_total\{status="cancelled"\} 2/);
  hl = await h.get(sts.port, '/health');
  assert.deepStrictEqual([hl.streams, hl.running, hl.queue_depth], [0, 0, 0]);
  // the recognizer's request was given up, not left open
  const r = await h.get(api.port, '/_requests');
  assert.strictEqual(r.length, 1);
  for (let i = 0; i < 100 && !r[0].closed_at; i++) {
    await new Promise((res) => setTimeout(res, 50));
    r[0] = (await h.get(api.port, '/_requests'))[0];
  }
  assert.ok(r[0].closed_at, 'the hanging request was closed');
  assert.ok(await sts.waitLog(/"closed":"client namespace disconnect","cancelled_waiting":1,"cancelled_working":1/));
});

test('/health and /metrics', async () => {
  const { sts } = await setup();
  const s = await h.stream(sts.port);
  await s.next('stream:ready');
  s.socket.emit('fragment:data', h.fragment(2000, 0));
  await s.next('fragment:processed');
  const hl = await h.get(sts.port, '/health');
  assert.strictEqual(hl.status, 'ok');
  assert.match(hl.stages.asr, /^openai http:\/\/127\.0\.0\.1:\d+\/v1 model whisper-1$/);
  assert.match(hl.stages.translation, /^libretranslate /);
  assert.strictEqual(hl.streams, 1);
  const m = await h.get(sts.port, '/metrics');
  assert.match(m, /speech_sts_fragments_total\{status="success"\} 1/);
  for (const st of ['asr', 'translation', 'tts']) {
    assert.match(m, new RegExp(`speech_sts_stage_duration_seconds_count\\{stage="${st}"\\} 1`));
    assert.match(m, new RegExp(`speech_sts_stage_duration_seconds_bucket\\{stage="${st}",le="\\+Inf"\\} 1`));
  }
  assert.match(m, /speech_sts_queue_depth 0/);
  assert.match(m, /# TYPE speech_sts_stage_duration_seconds histogram/);
  s.socket.close();
});
