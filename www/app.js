// The watch page: every 2 s it asks nginx for the streams it dubs
// (dub_status, docs/status.md) and shows them; a stream chosen plays in
// the language chosen (the HLS of that language's output application)
// or with its original audio (the HLS of the input application).

'use strict';

// Where nginx answers: change these if your conf differs.
const STATUS_URL = '/status';
const POLL_MS = 2000;

// The HLS playlist of a stream in an application: the conf writes each
// application's HLS into its own directory under /hls/.
function hlsUrl(app, name) {
  return '/hls/' + encodeURIComponent(app) + '/' + urlName(name) + '.m3u8';
}

// Names in the status are printable text, with %XX for the bytes that
// are not (docs/protocol.md): those are already URL-encoded, the rest is
// not yet.
function urlName(name) {
  return name.split(/(%[0-9A-F]{2})/)
    .map((part, i) => (i % 2 ? part : encodeURIComponent(part)))
    .join('');
}


// What is shown: the streams of the last answer, the one being watched
// and its audio ('original' or a language).
const page = {
  streams: [],
  app: null,
  name: null,
  choice: null,
};

const $ = (id) => document.getElementById(id);


// The status, every POLL_MS.

async function poll() {
  try {
    const answer = await fetch(STATUS_URL, { cache: 'no-store' });
    if (!answer.ok) {
      throw new Error(STATUS_URL + ' answered ' + answer.status);
    }
    const status = await answer.json();
    page.streams = status.streams;
    $('status-error').hidden = true;
  } catch (e) {
    $('status-error').textContent = 'No status from nginx: ' + e.message;
    $('status-error').hidden = false;
  }

  showStreams();
  showWatched();
  setTimeout(poll, POLL_MS);
}


// The list of streams: live first, ended ones after them.

function showStreams() {
  const sorted = [...page.streams].sort((a, b) => b.publishing - a.publishing);

  fillList($('streams'), sorted.map((s) => s.app + '/' + s.name),
    (item) => {
      const button = document.createElement('button');
      button.textContent = item.dataset.key;
      button.dataset.stream = item.dataset.key;
      const s = sorted.find((x) => x.app + '/' + x.name === item.dataset.key);
      button.onclick = () => watch(s.app, s.name);
      item.append(button, ' ', document.createElement('span'));
    },
    (item, i) => {
      const s = sorted[i];
      const what = item.querySelector('span');
      what.className = s.publishing ? 'live' : 'ended';
      what.textContent = s.publishing
        ? 'live, ' + s.languages.map((l) => l.lang).join(', ')
        : 'ended';
      item.querySelector('button').classList.toggle('selected',
        s.app === page.app && s.name === page.name);
    });

  $('no-streams').hidden = page.streams.length > 0;
}


// Makes "list" hold an item per key, in that order.  The items it has
// are kept and only updated: a button made anew every 2 s would lose the
// keyboard's focus, or a click under way.  "make" fills a new item,
// "update" sets what changes in the i-th.

function fillList(list, keys, make, update) {
  const have = [...list.children].map((item) => item.dataset.key);

  if (have.join('\n') !== keys.join('\n')) {
    list.replaceChildren(...keys.map((key) => {
      const item = document.createElement('li');
      item.dataset.key = key;
      make(item);
      return item;
    }));
  }

  [...list.children].forEach(update);
}


function watched() {
  return page.streams.find((s) => s.app === page.app && s.name === page.name);
}


// A stream chosen: its first language (the original if it has none).

function watch(app, name) {
  page.app = app;
  page.name = name;

  const s = watched();
  choose(s && s.languages.length ? s.languages[0].lang : 'original');
  showStreams();
}


// The stream being watched: its title and its audio choices, each
// language with its state now, and the original.

function showWatched() {
  const s = watched();
  $('watch').hidden = page.app === null;

  if (page.app === null) {
    return;
  }

  $('title').textContent = page.app + '/' + page.name
    + (s && s.publishing ? '' : ' (ended)');

  const langs = s ? s.languages : [];

  fillList($('choices'), [...langs.map((l) => l.lang), 'original'],
    (item) => {
      const button = document.createElement('button');
      const choice = item.dataset.key;
      button.textContent = choice === 'original' ? 'Original' : choice;
      button.onclick = () => choose(choice);
      item.dataset.choice = choice;
      item.append(button, ' ', document.createElement('span'));
    },
    (item, i) => {
      const state = item.querySelector('span');
      const l = langs[i];
      state.className = 'state ' + (l ? l.state : 'live');
      state.textContent = l ? stateText(l) : 'as published';
      item.querySelector('button').classList.toggle('selected',
        item.dataset.choice === page.choice);
    });
}


// "dubbing", "original: sts_unavailable", "starting" (docs/status.md)

function stateText(lang) {
  if (lang.state === 'original' && lang.reason) {
    return 'original audio: ' + lang.reason.replace(/_/g, ' ');
  }
  return lang.state;
}


// The audio chosen: the HLS of the language's output application, or
// that of the input for the original.

function choose(choice) {
  const s = watched();
  const lang = s && s.languages.find((l) => l.lang === choice);
  const app = lang ? lang.output : page.app;

  page.choice = lang ? choice : 'original';
  play(hlsUrl(app, page.name));
  showWatched();
}


// The player: hls.js where the browser has Media Source Extensions,
// the browser's own HLS otherwise (Safari).

let hls = null;
let retry = null;

function play(url) {
  const video = $('video');

  if (hls) {
    hls.destroy();
    hls = null;
  }
  clearTimeout(retry);

  $('source').textContent = url;
  $('player-message').hidden = true;

  if (window.Hls && Hls.isSupported()) {
    // CEA-608 captions carried in the video become a text track
    hls = new Hls({ enableCEA708Captions: true });
    hls.on(Hls.Events.ERROR, (event, data) => {
      if (data.fatal) {
        // the playlist comes a few fragments after the stream starts:
        // try again
        message('Waiting for ' + url + ' (' + data.details + ')');
        retry = setTimeout(() => play(url), 3000);
      }
    });
    hls.loadSource(url);
    hls.attachMedia(video);

  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;

  } else {
    message('This browser cannot play HLS.');
  }
}


function message(text) {
  $('player-message').textContent = text;
  $('player-message').hidden = false;
}


// Captions: shown when the stream has them and the box is checked.

function showCaptions() {
  const tracks = $('video').textTracks;
  const on = $('captions').checked;

  for (const track of tracks) {
    if (track.kind === 'captions' || track.kind === 'subtitles') {
      track.mode = on ? 'showing' : 'hidden';
    }
  }

  $('captions-line').hidden = tracks.length === 0;
}

$('video').textTracks.addEventListener('addtrack', showCaptions);
$('video').textTracks.addEventListener('removetrack', showCaptions);
$('captions').addEventListener('change', showCaptions);

poll();
