// Speech STS: audio in and out of the stages.  The fragment's audio is
// decoded to 16 kHz mono WAV for the recognizers (ffmpeg); whatever a
// speech synthesizer returns is decoded to 16-bit PCM and fitted to the
// fragment's duration: a tempo change within bounds (here, in
// JavaScript: one process less per fragment), then silence or a trim, so
// that the module gets exactly the fragment's length.

'use strict';

const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { Cancelled } = require('./util');

// Runs a program; resolves with its stdout (a Buffer).  Rejects with a
// message naming it and carrying the end of its stderr, or Cancelled if
// "signal" aborts (the program is killed), or a timeout after "ms".
function run(cmd, args, input, opts) {
  const o = opts || {};
  return new Promise((resolve, reject) => {
    if (o.signal && o.signal.aborted) return reject(new Cancelled());
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    let why = null;
    const stop = (reason) => {
      why = reason;
      p.kill('SIGKILL');
    };
    const onAbort = () => stop('cancelled');
    const timer = o.timeoutMs ? setTimeout(() => stop('timeout'), o.timeoutMs)
      : null;
    if (o.signal) o.signal.addEventListener('abort', onAbort, { once: true });
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => { err = (err + d).slice(-2000); });
    p.on('error', (e) => {
      why = why || 'error';
      reject(new Error(`${cmd}: ${e.message}`));
    });
    p.on('close', (code) => {
      if (timer) clearTimeout(timer);
      if (o.signal) o.signal.removeEventListener('abort', onAbort);
      if (why === 'cancelled') return reject(new Cancelled());
      if (why === 'timeout') {
        const e = new Error(`${cmd} did not finish within ${o.timeoutMs} ms`);
        e.timeout = true;
        return reject(e);
      }
      if (why) return undefined;
      if (code === 0) return resolve(Buffer.concat(out));
      return reject(new Error(`${cmd} exited with ${code}: `
                              + err.trim().split('\n').pop()));
    });
    p.stdin.on('error', () => {});
    p.stdin.end(input || null);
  });
}

// 16-bit PCM in a WAV file: { rate, channels, pcm }
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
      fmt = { tag: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2),
              rate: buf.readUInt32LE(body + 4),
              bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      // a WAV written to a pipe (espeak-ng, streaming servers) leaves
      // the sizes unset
      if (size === 0 || size === 0xffffffff || body + size > buf.length) {
        size = buf.length - body;
      }
      if (!fmt || fmt.bits !== 16 || (fmt.tag !== 1 && fmt.tag !== 0xfffe)) {
        throw new Error('not 16-bit PCM');
      }
      if (!fmt.channels || !fmt.rate) throw new Error('no channels or rate');
      const frame = 2 * fmt.channels;
      return { rate: fmt.rate, channels: fmt.channels,
               pcm: buf.subarray(body, body + size - (size % frame)) };
    }
    off = body + size + (size & 1);
  }
  throw new Error('no data chunk');
}

function wavFile(pcm, rate, channels) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

function durationMs(s) {
  return s.pcm.length / 2 / s.channels * 1000 / s.rate;
}

// speech of any format a synthesizer may send (16-bit WAV read here,
// anything else through ffmpeg) as 16-bit PCM
async function decodeSpeech(buf, opts) {
  try {
    return parseWav(buf);
  } catch (e) {
    const wav = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', 'pipe:0',
                                     '-c:a', 'pcm_s16le', '-f', 'wav',
                                     'pipe:1'], buf, opts);
    return parseWav(wav);
  }
}

// the fragment's audio (the contract's "audio" object) as 16 kHz mono
// 16-bit WAV, what recognizers want; an M4A is read from a file in
// "dir" (its index may be at its end, which a pipe cannot seek to)
async function fragmentWav(audio, dir, opts) {
  const inFmt = audio.format === 'pcm_s16le' ? ['-f', 's16le']
    : audio.format === 'pcm_f32le' ? ['-f', 'f32le'] : [];
  const raw = inFmt.length ? ['-ar', String(audio.sample_rate_hz),
                              '-ac', String(audio.channels)] : [];
  const data = Buffer.from(audio.data_base64, 'base64');
  let input = 'pipe:0';
  if (!inFmt.length) {
    input = path.join(dir, 'in.m4a');
    fs.writeFileSync(input, data);
  }
  const out = await run('ffmpeg', ['-nostdin', '-v', 'error', ...inFmt, ...raw,
                                   '-i', input, '-ar', '16000', '-ac', '1',
                                   '-c:a', 'pcm_s16le', '-f', 'wav', 'pipe:1'],
                        inFmt.length ? data : null, opts);
  // ffmpeg writing WAV to a pipe cannot go back to fill in the sizes
  const w = parseWav(out);
  const ms = durationMs(w);
  if (ms < audio.duration_ms / 2) {
    throw new Error(`the fragment decoded to ${Math.round(ms)} ms of audio, `
                    + `not ${audio.duration_ms}`);
  }
  return wavFile(w.pcm, w.rate, w.channels);
}

function silence(ms, rate, channels) {
  const c = channels || 1;
  return { pcm: Buffer.alloc(Math.round(ms * rate / 1000) * 2 * c), rate,
           channels: c };
}

// The tempo that makes "speechMs" last "targetMs", within the bounds:
// speech a little long is spoken faster (up to maxTempo), speech a little
// short slower (down to minTempo); what is left is padded or trimmed.
function fitTempo(speechMs, targetMs, minTempo, maxTempo) {
  if (!(speechMs > 0) || !(targetMs > 0)) return 1;
  const t = Math.min(maxTempo, Math.max(minTempo, speechMs / targetMs));
  return Math.abs(t - 1) < 0.01 ? 1 : t;
}

// Exactly "frames" frames of "s": silence added at the end, or the end
// cut with a 10 ms fade so that the cut does not click.
function padOrTrim(s, frames) {
  const bpf = 2 * s.channels;
  const have = s.pcm.length / bpf;
  if (have >= frames) {
    const pcm = Buffer.from(s.pcm.subarray(0, frames * bpf));
    if (have > frames) {
      const fade = Math.min(frames, Math.round(s.rate / 100));
      for (let i = 0; i < fade; i++) {
        const g = i / fade;
        for (let c = 0; c < s.channels; c++) {
          const o = ((frames - 1 - i) * s.channels + c) * 2;
          pcm.writeInt16LE(Math.round(pcm.readInt16LE(o) * g), o);
        }
      }
    }
    return { ...s, pcm };
  }
  return { ...s, pcm: Buffer.concat([s.pcm, Buffer.alloc((frames - have) * bpf)]) };
}

// Speech "tempo" times faster (or slower), its pitch unchanged: WSOLA.
// Frames of 30 ms, Hann-windowed, are laid every 15 ms in the output,
// taken every 15 ms x tempo in the input, each shifted by up to 7.5 ms
// to where it best continues the frame before (cross-correlation on the
// channels' mix), so that the overlaps add up in phase.
function changeTempo(s, tempo) {
  const ch = s.channels;
  const inFrames = s.pcm.length / 2 / ch;
  const n = Math.max(4, Math.round(s.rate * 0.03) & ~1);
  const hs = n / 2;
  const delta = Math.round(n / 4);
  const outFrames = Math.round(inFrames / tempo);
  const x = new Float32Array(inFrames * ch);
  const mix = new Float32Array(inFrames);
  for (let i = 0; i < inFrames * ch; i++) {
    x[i] = s.pcm.readInt16LE(i * 2);
    mix[Math.floor(i / ch)] += x[i] / ch;
  }
  const win = new Float32Array(n);
  for (let i = 0; i < n; i++) win[i] = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / n);

  const y = new Float32Array((outFrames + n) * ch);
  const w = new Float32Array(outFrames + n);
  let prev = -1;
  for (let k = 0; k * hs < outFrames; k++) {
    let pos = Math.round(k * hs * tempo);
    if (prev >= 0) {
      // the natural continuation of the previous frame
      const want = prev + hs;
      let best = -Infinity;
      let bestPos = pos;
      for (let d = -delta; d <= delta; d += 2) {
        const p = pos + d;
        if (p < 0 || p + hs > inFrames || want + hs > inFrames) continue;
        let c = 0;
        for (let i = 0; i < hs; i += 2) c += mix[want + i] * mix[p + i];
        if (c > best) {
          best = c;
          bestPos = p;
        }
      }
      pos = bestPos;
    }
    pos = Math.max(0, Math.min(pos, Math.max(0, inFrames - 1)));
    const o = k * hs;
    for (let i = 0; i < n && pos + i < inFrames; i++) {
      // the first frame starts at full weight: nothing overlaps it
      const g = k === 0 && i < hs ? 1 : win[i];
      for (let c = 0; c < ch; c++) y[(o + i) * ch + c] += x[(pos + i) * ch + c] * g;
      w[o + i] += g;
    }
    prev = pos;
  }

  const pcm = Buffer.alloc(outFrames * ch * 2);
  for (let i = 0; i < outFrames; i++) {
    const g = w[i] > 1e-3 ? 1 / w[i] : 0;
    for (let c = 0; c < ch; c++) {
      const v = Math.round(y[i * ch + c] * g);
      pcm.writeInt16LE(Math.max(-32768, Math.min(32767, v)), (i * ch + c) * 2);
    }
  }
  return { ...s, pcm };
}

// Fits speech to "targetMs": { rate, channels, pcm (exactly targetMs),
// tempo, speech_ms (before), padded_ms, trimmed_ms }
async function fit(speech, targetMs, bounds) {
  const speechMs = durationMs(speech);
  const tempo = fitTempo(speechMs, targetMs, bounds.minTempo, bounds.maxTempo);
  let s = speech;
  if (tempo !== 1) s = changeTempo(s, tempo);
  const frames = Math.round(targetMs * s.rate / 1000);
  const tempoMs = durationMs(s);
  const out = padOrTrim(s, frames);
  return { ...out, tempo, speech_ms: Math.round(speechMs),
           padded_ms: Math.max(0, Math.round(targetMs - tempoMs)),
           trimmed_ms: Math.max(0, Math.round(tempoMs - targetMs)) };
}

module.exports = { run, parseWav, wavFile, durationMs, decodeSpeech,
                   fragmentWav, silence, fitTempo, padOrTrim, changeTempo,
                   fit };
