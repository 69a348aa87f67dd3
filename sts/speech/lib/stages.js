// Speech STS: the three stages, each local or an HTTP API.
//
//   asr  local (pocketsphinx) | openai=BASE_URL (POST BASE_URL/audio/transcriptions)
//   mt   local (apertium) | libretranslate=URL (POST URL/translate)
//        | deepl=URL (POST URL/v2/translate)
//   tts  local (espeak-ng, an mbrola voice if one is installed)
//        | openai=BASE_URL (POST BASE_URL/audio/speech)
//
// Each stage's run() takes a context { signal, timeoutMs, onRateLimit,
// onOk, dir } and throws a StageError (or Cancelled).

'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const audio = require('./audio');
const http = require('./http');
const { StageError, Cancelled } = require('./util');

// language codes of the contract (ISO 639-1) to apertium's (ISO 639-3)
const ISO3 = { en: 'eng', es: 'spa', fr: 'fra', de: 'deu', it: 'ita',
               pt: 'por', ca: 'cat', gl: 'glg', eo: 'epo' };

const POCKETSPHINX = { en: '/usr/share/pocketsphinx/model/en-us' };

const ESPEAK_WPM = 165;
const ESPEAK_MAX_WPM = 400;

// the voices of OpenAI's speech endpoint, which compatible servers
// mostly accept too; others are reached through --voice PROFILE=VOICE
const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable',
                       'nova', 'onyx', 'sage', 'shimmer', 'verse'];

// "kind" or "kind=URL" of a --asr/--mt/--tts flag
function parseSpec(flag, value, kinds) {
  const m = /^([a-z]+)(?:=(.+))?$/.exec(value || '');
  if (!m || !kinds.includes(m[1])) {
    throw new Error(`${flag}: expected ${kinds.map((k) => (k === 'local' ? k
      : `${k}=URL`)).join(' | ')}, got "${value}"`);
  }
  if (m[1] === 'local' && m[2]) throw new Error(`${flag}: local takes no URL`);
  if (m[1] !== 'local') {
    if (!m[2]) throw new Error(`${flag}: ${m[1]} needs a URL (${m[1]}=URL)`);
    let u;
    try {
      u = new URL(m[2]);
    } catch (e) {
      throw new Error(`${flag}: not a URL: ${http.safeUrl(m[2])}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new Error(`${flag}: not an http or https URL`);
    }
  }
  return { kind: m[1], url: m[2] ? m[2].replace(/\/+$/, '') : null };
}

function bearer(key) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// a local program's failure as the stage's error
function local(stage, e) {
  if (e instanceof Cancelled) return e;
  if (e.timeout) return new StageError(stage, 'TIMEOUT', e.message, true);
  return new StageError(stage, 'MODEL_ERROR', e.message, true);
}

// ---------------------------------------------------------------------------
// Speech recognition
// ---------------------------------------------------------------------------

function localAsr() {
  return {
    kind: 'local',
    describe: 'local (pocketsphinx)',
    supports: (lang) => !!POCKETSPHINX[lang],
    languages: () => Object.keys(POCKETSPHINX),
    async run(wav, lang, ctx) {
      const file = path.join(ctx.dir, 'in.wav');
      fs.writeFileSync(file, wav);
      const model = POCKETSPHINX[lang];
      try {
        const out = await audio.run('pocketsphinx_continuous', [
          '-infile', file, '-hmm', path.join(model, 'en-us'),
          '-lm', path.join(model, 'en-us.lm.bin'),
          '-dict', path.join(model, 'cmudict-en-us.dict'),
          '-logfn', '/dev/null'], null, ctx);
        return out.toString('utf8').split('\n').map((l) => l.trim())
          .filter(Boolean).join(' ');
      } catch (e) {
        throw local('asr', e);
      }
    },
  };
}

function openaiAsr(url, o) {
  const service = 'the recognizer';
  return {
    kind: 'openai',
    describe: `openai ${http.safeUrl(url)} model ${o.asrModel}`,
    supports: (lang) => /^[a-z]{2,3}$/.test(lang),
    languages: () => ['any'],
    async run(wav, lang, ctx) {
      const body = () => {
        const form = new FormData();
        form.append('file', new Blob([wav], { type: 'audio/wav' }),
                    'fragment.wav');
        form.append('model', o.asrModel);
        form.append('language', lang);
        form.append('response_format', 'json');
        return form;
      };
      const r = await http.call({
        url: `${url}/audio/transcriptions`, headers: bearer(o.asrKey), body,
      }, { ...ctx, stage: 'asr', service });
      const j = http.json('asr', service, r);
      if (!j || typeof j.text !== 'string') {
        throw new StageError('asr', 'MODEL_ERROR', `${service} answered `
          + 'without "text"', true);
      }
      return j.text.replace(/\s+/g, ' ').trim();
    },
  };
}

// ---------------------------------------------------------------------------
// Translation
// ---------------------------------------------------------------------------

function localMt() {
  let pairs = [];
  try {
    pairs = execFileSync('apertium', ['-l'], { encoding: 'utf8' })
      .split(/\s+/).filter(Boolean);
  } catch (e) {
    pairs = [];
  }
  const pair = (s, t) => `${ISO3[s]}-${ISO3[t]}`;
  return {
    kind: 'local',
    describe: 'local (apertium)',
    pairs,
    supports: (s, t) => pairs.includes(pair(s, t)),
    languages: () => pairs,
    async run(text, s, t, ctx) {
      // apertium's format filter wants a file, not a pipe
      const file = path.join(ctx.dir, 'text.txt');
      fs.writeFileSync(file, text + '\n');
      try {
        const out = await audio.run('apertium', ['-u', pair(s, t), file], null,
                                    ctx);
        return out.toString('utf8').replace(/\s+/g, ' ').trim();
      } catch (e) {
        throw local('translation', e);
      }
    },
  };
}

function libreTranslate(url, o) {
  const service = 'LibreTranslate';
  return {
    kind: 'libretranslate',
    describe: `libretranslate ${http.safeUrl(url)}`,
    supports: (s, t) => /^[a-z]{2,3}$/.test(s) && /^[a-z]{2,3}$/.test(t),
    languages: () => ['any'],
    async run(text, s, t, ctx) {
      const req = { q: text, source: s, target: t, format: 'text' };
      // LibreTranslate reads its key from the body
      if (o.mtKey) req.api_key = o.mtKey;
      const r = await http.call({
        url: `${url}/translate`,
        headers: { 'Content-Type': 'application/json', ...bearer(o.mtKey) },
        body: JSON.stringify(req),
      }, { ...ctx, stage: 'translation', service });
      const j = http.json('translation', service, r);
      if (!j || typeof j.translatedText !== 'string') {
        throw new StageError('translation', 'MODEL_ERROR', `${service} `
          + 'answered without "translatedText"', true);
      }
      return j.translatedText.replace(/\s+/g, ' ').trim();
    },
  };
}

// DeepL's codes: upper case; English and Portuguese need a variant as
// targets
function deeplTarget(t) {
  return { en: 'EN-US', pt: 'PT-PT' }[t] || t.toUpperCase();
}

function deepl(url, o) {
  const service = 'DeepL';
  return {
    kind: 'deepl',
    describe: `deepl ${http.safeUrl(url)}`,
    supports: (s, t) => /^[a-z]{2}$/.test(s) && /^[a-z]{2}$/.test(t),
    languages: () => ['any'],
    async run(text, s, t, ctx) {
      const headers = { 'Content-Type': 'application/json' };
      if (o.mtKey) headers.Authorization = `DeepL-Auth-Key ${o.mtKey}`;
      const r = await http.call({
        url: `${url}/v2/translate`, headers,
        body: JSON.stringify({ text: [text], source_lang: s.toUpperCase(),
                               target_lang: deeplTarget(t) }),
      }, { ...ctx, stage: 'translation', service });
      const j = http.json('translation', service, r);
      const tr = j && Array.isArray(j.translations) && j.translations[0];
      if (!tr || typeof tr.text !== 'string') {
        throw new StageError('translation', 'MODEL_ERROR', `${service} `
          + 'answered without "translations[0].text"', true);
      }
      return tr.text.replace(/\s+/g, ' ').trim();
    },
  };
}

// ---------------------------------------------------------------------------
// Speech
// ---------------------------------------------------------------------------

// "espeak-ng --voices" as a set of what -v accepts: languages, names,
// files
function espeakVoices(text) {
  const v = new Set();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    v.add(f[1]);
    v.add(f[3]);
    v.add(f[4]);
    v.add(f[4].split('/').pop());
  }
  return v;
}

// The first mbrola voice of "lang" whose database is installed, from the
// text of "espeak-ng --voices=LANG" (e.g. "mb/mb-es1" -> "mb-es1", whose
// database is /usr/share/mbrola/es1/es1); null without one.
function mbrolaVoice(lang, text, exists) {
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[4].startsWith('mb/mb-')) continue;
    if (f[1] !== lang && !f[1].startsWith(`${lang}-`)
        && !line.includes(`(${lang} `)) continue;
    const db = f[4].slice('mb/mb-'.length);
    if (exists(`/usr/share/mbrola/${db}/${db}`)
        || exists(`/usr/share/mbrola/${db}`)) {
      return f[4].slice('mb/'.length);
    }
  }
  return null;
}

function hasProgram(name) {
  return (process.env.PATH || '').split(':')
    .some((d) => d && fs.existsSync(path.join(d, name)));
}

function localTts(o) {
  let known = new Set();
  try {
    known = espeakVoices(execFileSync('espeak-ng', ['--voices'],
                                      { encoding: 'utf8' }));
  } catch (e) {
    known = new Set();
  }
  const mbrola = {};
  const defaultVoice = (lang) => {
    if (!(lang in mbrola)) {
      let v = null;
      if (hasProgram('mbrola')) {
        try {
          v = mbrolaVoice(lang, execFileSync('espeak-ng', [`--voices=${lang}`],
                                             { encoding: 'utf8' }),
                          fs.existsSync);
        } catch (e) {
          v = null;
        }
      }
      mbrola[lang] = v;
    }
    return mbrola[lang] || lang;
  };

  return {
    kind: 'local',
    describe: 'local (espeak-ng)',
    voice(profile, lang) {
      if (!profile || profile === 'default') return o.ttsVoice || defaultVoice(lang);
      if (o.voices[profile]) return o.voices[profile];
      return known.has(profile.split('+')[0]) ? profile : null;
    },
    // espeak-ng at a speed that makes the speech last about the
    // fragment: once at the normal speed, again faster if too long
    async run(text, voice, targetMs, ctx) {
      const say = async (wpm) => {
        try {
          return audio.parseWav(await audio.run('espeak-ng', [
            '-v', voice, '-s', String(wpm), '--stdout', text], null, ctx));
        } catch (e) {
          throw local('tts', e);
        }
      };
      let wpm = ESPEAK_WPM;
      let w = await say(wpm);
      const ms = audio.durationMs(w);
      if (ms > targetMs * 0.95) {
        wpm = Math.min(ESPEAK_MAX_WPM, Math.ceil(wpm * ms / (targetMs * 0.9)));
        w = await say(wpm);
      }
      return { ...w, wpm };
    },
  };
}

function openaiTts(url, o) {
  const service = 'the speech server';
  return {
    kind: 'openai',
    describe: `openai ${http.safeUrl(url)} model ${o.ttsModel}`,
    voice(profile) {
      const def = o.ttsVoice || 'alloy';
      if (!profile || profile === 'default') return def;
      if (o.voices[profile]) return o.voices[profile];
      return OPENAI_VOICES.includes(profile) || profile === def ? profile : null;
    },
    async run(text, voice, targetMs, ctx) {
      const r = await http.call({
        url: `${url}/audio/speech`,
        headers: { 'Content-Type': 'application/json', ...bearer(o.ttsKey) },
        body: JSON.stringify({ model: o.ttsModel, input: text, voice,
                               response_format: 'wav' }),
      }, { ...ctx, stage: 'tts', service });
      try {
        return await audio.decodeSpeech(r.body, ctx);
      } catch (e) {
        if (e instanceof Cancelled) throw e;
        throw new StageError('tts', 'MODEL_ERROR', `${service} answered `
          + `audio that cannot be read: ${e.message}`, true);
      }
    },
  };
}

// the stages of the options (o.asr, o.mt, o.tts: specs from parseSpec)
function make(o) {
  const asr = o.asr.kind === 'local' ? localAsr() : openaiAsr(o.asr.url, o);
  const mt = o.mt.kind === 'local' ? localMt()
    : o.mt.kind === 'libretranslate' ? libreTranslate(o.mt.url, o)
      : deepl(o.mt.url, o);
  const tts = o.tts.kind === 'local' ? localTts(o) : openaiTts(o.tts.url, o);
  return { asr, mt, tts };
}

module.exports = { make, parseSpec, espeakVoices, mbrolaVoice, deeplTarget,
                   OPENAI_VOICES };
