#!/usr/bin/env node
// Drives the watch page (www/) in Debian's chromium, headless, for
// t/page.t: the page lists the stream, its video plays, a language
// switched loads the other application's HLS, the original too, and each
// language's state follows the STS as the test stops and starts it.
//
// usage: node watch-page.js PAGE_URL APP/NAME LANG1=HZ LANG2=HZ
//   HZ   the tone the echo STS answers in that language (--tone-lang)
//
// Prints TAP lines ("ok - ...", "not ok - ...", "# ...") for the test to
// pass on, and asks the test to act with "ask stop-sts" or
// "ask start-sts", then waits for a line on its standard input.
// Exits 1 on the first failure (what follows would depend on it).

'use strict';

const path = require('path');
const readline = require('readline');
const puppeteer = require(path.join(__dirname, 'node_modules/puppeteer-core'));

const [url, stream, l1, l2] = process.argv.slice(2);
const [app, name] = stream.split('/');
const [lang1, hz1] = l1.split('=');
const [lang2, hz2] = l2.split('=');

const input = readline.createInterface({ input: process.stdin });
const replies = [];
let waiting = null;

input.on('line', (line) => {
  if (waiting) {
    const w = waiting;
    waiting = null;
    w(line);
  } else {
    replies.push(line);
  }
});

function ask(what) {
  console.log('ask ' + what);
  return new Promise((resolve) => {
    if (replies.length) {
      resolve(replies.shift());
    } else {
      waiting = resolve;
    }
  });
}

let browser = null;

function pass(what) {
  console.log('ok - ' + what);
}

async function fail(what, why) {
  console.log('not ok - ' + what);
  console.log('# ' + String(why).split('\n').join('\n# '));
  await finish(1);
}

async function finish(code) {
  if (browser) {
    await browser.close().catch(() => {});
  }
  process.exit(code);
}

// never left behind: chromium runs in a process group of its own
process.on('exit', () => {
  const p = browser && browser.process();
  if (p && p.exitCode === null) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch (e) {
      // gone already
    }
  }
});

process.on('SIGTERM', () => finish(1));

// "check" true within "seconds", else fails with "what" and the last
// value seen
async function until(page, what, seconds, check, ...args) {
  try {
    await page.waitForFunction(check, { timeout: seconds * 1000,
                                        polling: 250 }, ...args);
    pass(what);
  } catch (e) {
    const last = await page.evaluate(() => ({
      source: document.getElementById('source').textContent,
      time: document.getElementById('video').currentTime,
      error: document.getElementById('video').error
        && document.getElementById('video').error.message,
      message: document.getElementById('player-message').textContent,
      choices: document.getElementById('choices').innerText,
      streams: document.getElementById('streams').innerText,
    })).catch((x) => String(x));
    await fail(what, e.message + '\nthe page: ' + JSON.stringify(last));
  }
}

// the video's time advances by "by" seconds from now, without an error
async function plays(page, what, by, seconds) {
  const from = await page.evaluate(() => document.getElementById('video')
    .currentTime);
  await until(page, what, seconds, (from, by) => {
    const v = document.getElementById('video');
    return !v.error && v.currentTime >= from + by;
  }, from, by);
}

// Which of two tones the video's audio carries: over 3 s, the number of
// 100 ms looks where each stands out of the other by 20 dB (Web Audio,
// the element's output taken before the speakers).
function tones(page, hzA, hzB) {
  return page.evaluate(async (a, b) => {
    const video = document.getElementById('video');
    if (!window.probe) {
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      ctx.createMediaElementSource(video).connect(analyser);
      analyser.connect(ctx.destination);
      window.probe = { ctx, analyser };
    }
    video.muted = false;
    const { ctx, analyser } = window.probe;
    await ctx.resume();
    const level = new Float32Array(analyser.frequencyBinCount);  // dB
    const bin = (hz) => Math.round(hz * analyser.fftSize / ctx.sampleRate);
    const n = { [a]: 0, [b]: 0 };
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(level);
      const la = level[bin(a)];
      const lb = level[bin(b)];
      if (la > lb + 20) n[a]++;
      if (lb > la + 20) n[b]++;
    }
    return n;
  }, hzA, hzB);
}

// the audio carries the tone of one language and not the other's, in
// one of four looks (a segment may go out with its original audio)
async function hears(page, what, hz, other) {
  let n;
  for (let i = 0; i < 4; i++) {
    n = await tones(page, hz, other);
    if (n[hz] >= 5 && n[other] === 0) {
      pass(what + ' (' + hz + ' Hz in ' + n[hz] + ' of 30 looks)');
      return;
    }
  }
  await fail(what, JSON.stringify(n));
}

// a button clicked, in the page at once
function click(page, selector) {
  return page.$eval(selector, (e) => e.click());
}

// the state shown for a language
function state(page, lang) {
  return page.$eval('#choices li[data-choice="' + lang + '"] .state',
    (e) => e.textContent).catch(() => '');
}

async function main() {
  browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',                   // root, in a container
      '--disable-dev-shm-usage',
      '--autoplay-policy=no-user-gesture-required',
      '--mute-audio',
    ],
  });

  const page = await browser.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  page.on('pageerror', (e) => console.log('# page error: ' + e.message));

  await page.goto(url, { waitUntil: 'load' });

  // the stream, listed from /status

  const button = '#streams button[data-stream="' + stream + '"]';
  await until(page, 'the page lists ' + stream, 60,
    (sel) => document.querySelector(sel) !== null, button);

  // watched: its first language plays

  await click(page, button);
  const hls = (a) => '/hls/' + a + '/' + name + '.m3u8';

  await until(page, 'its first language chosen: ' + hls('dubbed_' + lang1),
    10, (want) => document.getElementById('source').textContent === want,
    hls('dubbed_' + lang1));
  await plays(page, 'the video plays (its time advances 3 s, no error)', 3,
    90);
  await hears(page, 'with ' + lang1 + '\'s tone (Web Audio), not '
    + lang2 + '\'s', hz1, hz2);

  // the captions in the video: hls.js makes them a text track, shown,
  // with the language's text (the echo STS's "[es] echo of fragment N")

  await until(page, 'captions shown: a text track with ' + lang1 + '\'s text',
    60, (l) => Array.from(document.getElementById('video').textTracks)
      .some((t) => (t.kind === 'captions' || t.kind === 'subtitles')
            && t.mode === 'showing' && t.cues
            && Array.from(t.cues).some((c) => c.text.includes('[' + l + ']')
                                             && c.text.includes('echo'))),
    lang1);

  // each language's state

  await until(page, lang1 + ' and ' + lang2 + ' shown dubbing', 30,
    (l1, l2) => [l1, l2].every((l) => {
      const e = document.querySelector(
        '#choices li[data-choice="' + l + '"] .state');
      return e && e.textContent === 'dubbing';
    }), lang1, lang2);

  // another language: the other application's HLS

  const before = requests.length;
  await click(page, '#choices li[data-choice="' + lang2 + '"] button');
  await until(page, 'switched to ' + lang2 + ': ' + hls('dubbed_' + lang2),
    10, (want) => document.getElementById('source').textContent === want,
    hls('dubbed_' + lang2));

  await plays(page, lang2 + ' plays', 3, 90);
  await hears(page, 'and sounds ' + lang2 + '\'s tone, not ' + lang1 + '\'s',
    hz2, hz1);

  // from its first request on, the player asks for the new language's
  // playlist and fragments only (the old one's last requests may still
  // be reported just after the click)
  const after = requests.slice(before).filter((p) => p.startsWith('/hls/'));
  const first = after.findIndex((p) => p.startsWith('/hls/dubbed_' + lang2
                                                    + '/'));
  const since = first < 0 ? [] : after.slice(first);
  if (since.length > 1 && since.every((p) => p.startsWith('/hls/dubbed_'
                                                          + lang2 + '/'))) {
    pass('the player loads /hls/dubbed_' + lang2 + '/ only now ('
         + since.length + ' requests)');
  } else {
    await fail('the player loads /hls/dubbed_' + lang2 + '/ only now',
      after.join('\n'));
  }

  // the original: the input application's HLS

  await click(page, '#choices li[data-choice="original"] button');
  await until(page, 'the original: ' + hls(app), 10,
    (want) => document.getElementById('source').textContent === want,
    hls(app));
  await plays(page, 'the original plays', 3, 60);

  await click(page, '#choices li[data-choice="' + lang1 + '"] button');
  await plays(page, lang1 + ' plays again', 3, 90);

  // the STS gone, then back

  await ask('stop-sts');

  await until(page, 'the state turns to original, sts unavailable', 60,
    (l1, l2) => [l1, l2].every((l) => {
      const e = document.querySelector(
        '#choices li[data-choice="' + l + '"] .state');
      return e && e.textContent === 'original audio: sts unavailable';
    }), lang1, lang2);

  await ask('start-sts');

  await until(page, 'back to dubbing when the STS returns', 60,
    (l1, l2) => [l1, l2].every((l) => {
      const e = document.querySelector(
        '#choices li[data-choice="' + l + '"] .state');
      return e && e.textContent === 'dubbing';
    }), lang1, lang2);

  console.log('# states: ' + lang1 + ' ' + await state(page, lang1) + ', '
              + lang2 + ' ' + await state(page, lang2));

  await plays(page, 'the video still plays, no error', 2, 60);

  await finish(0);
}

main().catch((e) => fail('the browser ran the page', e.stack || e));
