// Speech STS: the command line and the keys from the environment.

'use strict';

const os = require('os');
const { parseSpec } = require('./stages');

const USAGE = `usage: node server.js [options]
  --host ADDR          listen address (default 127.0.0.1)
  --port N             listen port, 0 = any free port (default 8000)
  --asr local | openai=BASE_URL
                       speech recognition (default local: pocketsphinx)
  --mt local | libretranslate=URL | deepl=URL
                       translation (default local: apertium)
  --tts local | openai=BASE_URL
                       speech synthesis (default local: espeak-ng)
  --asr-model NAME     model of openai recognition (default whisper-1)
  --tts-model NAME     model of openai speech (default tts-1)
  --tts-voice NAME     the voice of voice_profile "default" (openai: alloy;
                       local: the target language's mbrola voice if one is
                       installed, else espeak-ng's voice of the language)
  --voice PROFILE=VOICE  a voice_profile and the voice it means (repeatable)
  --asr-timeout MS, --mt-timeout MS, --tts-timeout MS
                       the most a stage's recognizer, translator or
                       synthesizer may take for one fragment (default: the
                       stream's timeout_ms; decoding the fragment and
                       fitting the speech are bounded by that one)
  --jobs N             fragments worked on at once (default: number of CPUs)
  --max-inflight N     the most fragments a stream may have in flight (default 3)
  --bp-slow-down N     fragments waiting at which streams are told slow_down
                       (default 2 x jobs; 0: never)
  --bp-pause N         fragments waiting at which streams are told pause
                       (default 4 x jobs; 0: never)
  --bp-delay-ms MS     recommended_delay_ms of a slow_down (default 2000)
  --rate-limit-ms MS   wait after a 429 without Retry-After (default 2000)
  --min-tempo X, --max-tempo X
                       bounds of the tempo that fits speech to its fragment
                       (default 0.9 and 1.5); then silence or a trim
Keys, from the environment, sent as "Authorization: Bearer KEY" (DeepL:
"DeepL-Auth-Key KEY"; LibreTranslate also gets it as "api_key"), never
logged: STS_ASR_KEY, STS_MT_KEY, STS_TTS_KEY.`;

function parse(argv, env) {
  const e = env || {};
  const o = {
    host: '127.0.0.1', port: 8000, jobs: os.cpus().length, maxInflight: 3,
    asr: parseSpec('--asr', 'local', ['local', 'openai']),
    mt: parseSpec('--mt', 'local', ['local', 'libretranslate', 'deepl']),
    tts: parseSpec('--tts', 'local', ['local', 'openai']),
    asrModel: 'whisper-1', ttsModel: 'tts-1', ttsVoice: null, voices: {},
    asrTimeout: null, mtTimeout: null, ttsTimeout: null,
    bpSlowDown: null, bpPause: null, bpDelayMs: 2000, rateLimitMs: 2000,
    minTempo: 0.9, maxTempo: 1.5,
    asrKey: e.STS_ASR_KEY || null, mtKey: e.STS_MT_KEY || null,
    ttsKey: e.STS_TTS_KEY || null,
  };

  const int = (name, s, min) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < (min || 0)) {
      throw new Error(`${name}: expected an integer >= ${min || 0}, got "${s}"`);
    }
    return n;
  };
  const real = (name, s) => {
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) {
      throw new Error(`${name}: expected a number > 0, got "${s}"`);
    }
    return n;
  };

  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const v = () => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '-h': case '--help': o.help = true; break;
      case '--host': o.host = v(); break;
      case '--port': o.port = int(a, v()); break;
      case '--jobs': o.jobs = int(a, v(), 1); break;
      case '--max-inflight': o.maxInflight = int(a, v(), 1); break;
      case '--asr': o.asr = parseSpec(a, v(), ['local', 'openai']); break;
      case '--mt':
        o.mt = parseSpec(a, v(), ['local', 'libretranslate', 'deepl']);
        break;
      case '--tts': o.tts = parseSpec(a, v(), ['local', 'openai']); break;
      case '--asr-model': o.asrModel = v(); break;
      case '--tts-model': o.ttsModel = v(); break;
      case '--tts-voice': o.ttsVoice = v(); break;
      case '--voice': {
        const m = /^([^=]+)=(.+)$/.exec(v());
        if (!m) throw new Error('--voice: expected PROFILE=VOICE');
        o.voices[m[1]] = m[2];
        break;
      }
      case '--asr-timeout': o.asrTimeout = int(a, v(), 1); break;
      case '--mt-timeout': o.mtTimeout = int(a, v(), 1); break;
      case '--tts-timeout': o.ttsTimeout = int(a, v(), 1); break;
      case '--bp-slow-down': o.bpSlowDown = int(a, v()); break;
      case '--bp-pause': o.bpPause = int(a, v()); break;
      case '--bp-delay-ms': o.bpDelayMs = int(a, v()); break;
      case '--rate-limit-ms': o.rateLimitMs = int(a, v()); break;
      case '--min-tempo': o.minTempo = real(a, v()); break;
      case '--max-tempo': o.maxTempo = real(a, v()); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }

  if (o.bpSlowDown === null) o.bpSlowDown = 2 * o.jobs;
  if (o.bpPause === null) o.bpPause = 4 * o.jobs;
  if (o.minTempo > 1 || o.maxTempo < 1) {
    throw new Error('--min-tempo must be at most 1 and --max-tempo at least 1');
  }
  return o;
}

module.exports = { parse, USAGE };
