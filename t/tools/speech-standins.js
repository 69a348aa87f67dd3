#!/usr/bin/env node
// Stand-ins for the HTTP APIs the speech STS (sts/speech/) can use, for
// the tests: written from the published request and response shapes of
//
//   OpenAI-compatible recognition  POST .../audio/transcriptions
//       multipart: file, model, language, response_format -> {"text": ...}
//   OpenAI-compatible speech       POST .../audio/speech
//       JSON {model, input, voice, response_format} -> audio (WAV)
//   LibreTranslate                 POST .../translate
//       JSON {q, source, target, format[, api_key]} -> {"translatedText": ...}
//   DeepL                          POST .../v2/translate
//       Authorization: DeepL-Auth-Key KEY, JSON {text: [...], source_lang,
//       target_lang} (or a form) -> {"translations": [{"text": ...}]}
//
// Any path before those is a base URL (http://host:port/anything/v1), and
// rules may apply to one base only, so that one process serves several
// speech STSs that each see a different service.  Every request is
// recorded (headers, fields, the WAV's format) for the tests to check.
//
// Answers: the recognizer says --asr-text; LibreTranslate and DeepL
// "translate" to "[target] text" (target as the request spelled it); the
// speech is a 220 Hz tone, 24 kHz mono 16-bit WAV, --tts-ms-per-char
// milliseconds per character of the input.
//
// usage: node speech-standins.js --port N [--asr-text TEXT]
//            [--tts-ms-per-char MS] [--key API=KEY]... [--rules JSON]
//   API: asr | tts | libretranslate | deepl.  With a key, a request
//   without it is refused: 401 and the key it sent quoted back, as
//   OpenAI's servers do (DeepL: 403).
// stdout: "listening <port>".  HTTP, same port:
//   GET /_requests          what was asked, in order
//   POST /_rules [...]      replaces the rules: {base, api, status,
//                           times, latency_ms, hang, retry_after, text}
//     base: the path before the API's ("/e500/v1"; default any), api:
//     one of the above or "any"; status: answer it (401, 429, 500, ...)
//     instead; times: for the next N requests that match only; hang:
//     never answer; latency_ms: wait first (a list: one per matching
//     request, the last one repeats); retry_after: the 429's header;
//     text: what the recognizer says; min_ms: only for a recognition
//     whose WAV lasts at least that long.

'use strict';

const http = require('http');

const USAGE = 'usage: node speech-standins.js --port N [--asr-text TEXT] '
  + '[--tts-ms-per-char MS] [--key API=KEY]... [--rules JSON]';

const cfg = { port: 0, asrText: 'hello world', ttsMsPerChar: 60, keys: {},
              rules: [] };

const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const v = () => {
    if (i + 1 >= argv.length) fatal(`${argv[i]} needs a value`);
    return argv[++i];
  };
  switch (argv[i]) {
    case '--port': cfg.port = Number(v()); break;
    case '--asr-text': cfg.asrText = v(); break;
    case '--tts-ms-per-char': cfg.ttsMsPerChar = Number(v()); break;
    case '--key': {
      const m = /^(asr|tts|libretranslate|deepl)=(.+)$/.exec(v());
      if (!m) fatal('--key API=KEY');
      cfg.keys[m[1]] = m[2];
      break;
    }
    case '--rules': cfg.rules = rules(JSON.parse(v())); break;
    default: fatal(`unknown option ${argv[i]}`);
  }
}

function fatal(msg) {
  process.stderr.write(`speech-standins: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function rules(list) {
  if (!Array.isArray(list)) throw new Error('rules: a JSON array');
  return list.map((r) => ({ ...r, seen: 0 }));
}

const requests = [];

const APIS = [
  ['asr', /^(.*)\/audio\/transcriptions$/],
  ['tts', /^(.*)\/audio\/speech$/],
  ['deepl', /^(.*)\/v2\/translate$/],
  ['libretranslate', /^(.*)\/translate$/],
];

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// multipart/form-data: { name: { value (string) | filename, type, data } }
function multipart(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType || '');
  if (!m) throw new Error('multipart without a boundary');
  const sep = Buffer.from(`--${m[1] || m[2]}`);
  const parts = {};
  let at = body.indexOf(sep);
  while (at >= 0) {
    const start = at + sep.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(sep, start);
    if (next < 0) throw new Error('multipart cut short');
    const part = body.subarray(start + 2, next - 2);   // CRLF ... CRLF
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) throw new Error('multipart part without headers');
    const head = part.subarray(0, split).toString('utf8');
    const data = part.subarray(split + 4);
    const name = /name="([^"]*)"/i.exec(head);
    const file = /filename="([^"]*)"/i.exec(head);
    const type = /content-type:\s*([^\r\n]+)/i.exec(head);
    if (name) {
      parts[name[1]] = file ? { filename: file[1], type: type && type[1], data }
        : { value: data.toString('utf8') };
    }
    at = next;
  }
  return parts;
}

// what a WAV file holds, as the tests check it
function wavInfo(buf) {
  if (buf.length < 44 || buf.toString('ascii', 0, 4) !== 'RIFF'
      || buf.toString('ascii', 8, 12) !== 'WAVE') return { wav: false };
  const rate = buf.readUInt32LE(24);
  const channels = buf.readUInt16LE(22);
  const bits = buf.readUInt16LE(34);
  return { wav: true, rate, channels, bits,
           duration_ms: Math.round((buf.length - 44) / (bits / 8) / channels
                                   / rate * 1000) };
}

function tone(ms) {
  const rate = 24000;
  const n = Math.round(ms * rate / 1000);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 220 * i / rate)),
                     i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

// ---------------------------------------------------------------------------
// The APIs
// ---------------------------------------------------------------------------

function send(res, status, body, headers) {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': Buffer.isBuffer(body) ? 'audio/wav'
    : 'application/json', 'Content-Length': data.length, ...(headers || {}) });
  res.end(data);
}

function authorized(api, req, rec) {
  const key = cfg.keys[api];
  if (!key) return null;
  const h = req.headers.authorization || '';
  const want = api === 'deepl' ? `DeepL-Auth-Key ${key}` : `Bearer ${key}`;
  if (h === want) return null;
  // the key it was sent, quoted back (as OpenAI does, in part)
  const sent = h.replace(/^(Bearer|DeepL-Auth-Key) /, '');
  rec.status = api === 'deepl' ? 403 : 401;
  return { status: rec.status, body: { error: {
    message: `Incorrect API key provided: ${sent || '(none)'}`,
    type: 'invalid_request_error', code: 'invalid_api_key' } } };
}

function answerFor(api, rec, rule) {
  const b = rec.json || {};
  switch (api) {
    case 'asr': {
      const f = rec.fields;
      if (!f.file || !f.file.wav || !f.model || !f.language) {
        return { status: 400, body: { error: { message: 'file (WAV), model '
          + 'and language are required' } } };
      }
      return { status: 200, body: { text: (rule && rule.text) || cfg.asrText } };
    }
    case 'tts':
      if (typeof b.input !== 'string' || !b.model || !b.voice) {
        return { status: 400, body: { error: { message: 'model, input and '
          + 'voice are required' } } };
      }
      if (b.response_format !== 'wav') {
        return { status: 400, body: { error: { message: 'this stand-in '
          + 'speaks wav only' } } };
      }
      return { status: 200, body: tone(Math.max(100, b.input.length
                                                 * cfg.ttsMsPerChar)) };
    case 'libretranslate':
      if (typeof b.q !== 'string' || !b.source || !b.target) {
        return { status: 400, body: { error: 'Invalid request: missing q, '
          + 'source or target parameter' } };
      }
      return { status: 200, body: { translatedText: `[${b.target}] ${b.q}` } };
    case 'deepl': {
      const texts = Array.isArray(b.text) ? b.text : [b.text];
      if (!texts.length || typeof texts[0] !== 'string' || !b.target_lang) {
        return { status: 400, body: { message: 'Value for \'target_lang\' not '
          + 'supported.' } };
      }
      return { status: 200, body: { translations: texts.map((t) => ({
        detected_source_language: b.source_lang || 'EN',
        text: `[${b.target_lang}] ${t}` })) } };
    }
    default:
      return { status: 404, body: { error: 'no such API' } };
  }
}

function matchRule(api, base, rec) {
  const file = rec.fields.file;
  for (const r of cfg.rules) {
    if (r.api && r.api !== 'any' && r.api !== api) continue;
    if (r.base && r.base !== base) continue;
    if (r.min_ms !== undefined && !(file && file.duration_ms >= r.min_ms)) {
      continue;
    }
    if (r.times !== undefined && r.seen >= r.times) continue;
    r.seen++;
    return r;
  }
  return null;
}

async function handleApi(req, res, api, base) {
  const body = await readBody(req);
  const rec = { at: Date.now(), method: req.method, path: req.url, api, base,
                headers: req.headers, fields: {} };
  requests.push(rec);

  try {
    const type = req.headers['content-type'] || '';
    if (type.startsWith('multipart/form-data')) {
      for (const [k, v] of Object.entries(multipart(body, type))) {
        rec.fields[k] = v.filename !== undefined
          ? { filename: v.filename, type: v.type, size: v.data.length,
              ...wavInfo(v.data) }
          : v.value;
      }
    } else if (type.startsWith('application/x-www-form-urlencoded')) {
      const q = new URLSearchParams(body.toString('utf8'));
      rec.json = {};
      for (const k of new Set(q.keys())) {
        rec.json[k] = k === 'text' ? q.getAll(k) : q.get(k);
      }
    } else if (body.length) {
      rec.json = JSON.parse(body.toString('utf8'));
    }
  } catch (e) {
    rec.status = 400;
    return send(res, 400, { error: `bad request body: ${e.message}` });
  }

  const rule = matchRule(api, base, rec);
  if (rule) rec.rule = cfg.rules.indexOf(rule);
  if (rule && rule.hang) {
    rec.status = 'hang';
    req.socket.on('close', () => { rec.closed_at = Date.now(); });
    return undefined;
  }
  if (rule && rule.latency_ms !== undefined) {
    const l = Array.isArray(rule.latency_ms)
      ? rule.latency_ms[Math.min(rule.seen - 1, rule.latency_ms.length - 1)]
      : rule.latency_ms;
    await new Promise((r) => setTimeout(r, l));
  }

  let a = authorized(api, req, rec);
  if (!a && rule && rule.status) {
    a = { status: rule.status, body: { error: { message: `stand-in: HTTP `
      + `${rule.status} on demand` } } };
  }
  if (!a) a = answerFor(api, rec, rule);
  rec.status = a.status;
  rec.answered_at = Date.now();
  const headers = a.status === 429 && rule && rule.retry_after !== undefined
    ? { 'Retry-After': String(rule.retry_after) } : {};
  return send(res, a.status, a.body, headers);
}

const server = http.createServer((req, res) => {
  const url = (req.url || '').split('?')[0];
  (async () => {
    if (req.method === 'GET' && url === '/_requests') {
      return send(res, 200, requests);
    }
    if (req.method === 'POST' && url === '/_rules') {
      cfg.rules = rules(JSON.parse((await readBody(req)).toString('utf8')));
      return send(res, 200, { rules: cfg.rules.length });
    }
    if (req.method === 'POST') {
      for (const [api, re] of APIS) {
        const m = re.exec(url);
        if (m) return handleApi(req, res, api, m[1]);
      }
    }
    return send(res, 404, { error: `no route ${req.method} ${url}` });
  })().catch((e) => send(res, 500, { error: e.message }));
});

server.listen(cfg.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
