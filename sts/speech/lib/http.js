// Speech STS: one call to an HTTP API, and what its failures mean on the
// contract.  A timeout or a 5xx is retryable; 401/403 is not (the key is
// wrong: AUTH_FAILED); any other 4xx is not (the request itself is
// refused); 429 is waited out (Retry-After, or the default delay) and
// tried again while the stage has time left, the caller being told so
// that it can slow the streams down.

'use strict';

const { StageError, Cancelled, redact, sleep } = require('./util');

// the URL as it may be shown: no user or password
function safeUrl(u) {
  try {
    const x = new URL(u);
    x.username = '';
    x.password = '';
    return x.toString();
  } catch (e) {
    return '(bad URL)';
  }
}

// the start of a body, on one line, as it may be shown
function snippet(buf) {
  const s = Buffer.isBuffer(buf) ? buf.toString('utf8') : String(buf || '');
  const one = s.replace(/\s+/g, ' ').trim();
  return redact(one.length > 200 ? one.slice(0, 200) + '...' : one);
}

// Retry-After in ms (seconds, or an HTTP date), or null
function retryAfterMs(value, now) {
  if (!value) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - (now || Date.now()));
}

// What an HTTP status means for the stage: a StageError (null for 2xx)
function statusError(stage, service, status, body) {
  const text = snippet(body);
  const said = text ? `: ${text}` : '';
  if (status >= 200 && status < 300) return null;
  if (status === 401 || status === 403) {
    return new StageError(stage, 'AUTH_FAILED', `${service} refused the `
      + `credentials (HTTP ${status})${said}`, false, { auth: true, status });
  }
  if (status === 429) {
    return new StageError(stage, 'RATE_LIMIT', `${service} is rate limiting `
      + `(HTTP 429)${said}`, true, { status });
  }
  if (status === 408 || status === 504) {
    return new StageError(stage, 'TIMEOUT', `${service} timed out `
      + `(HTTP ${status})${said}`, true, { status });
  }
  if (status >= 500) {
    return new StageError(stage, 'MODEL_ERROR', `${service} failed `
      + `(HTTP ${status})${said}`, true, { status });
  }
  return new StageError(stage, 'MODEL_ERROR', `${service} refused the `
    + `request (HTTP ${status})${said}`, false, { status });
}

// Calls the API: { url, method, headers, body } (a fresh body for each
// try: "body" may be a function).  o: stage, service, timeoutMs (for the
// whole stage, retries included), signal (the stream's), rateLimitMs
// (default wait on 429), onRateLimit(ms), onOk().  Resolves with
// { status, headers, body (Buffer) } of a 2xx answer; rejects with a
// StageError or Cancelled.
async function call(req, o) {
  const deadline = Date.now() + o.timeoutMs;
  const where = safeUrl(req.url);

  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new StageError(o.stage, 'TIMEOUT', `${o.service} did not answer `
        + `within ${o.timeoutMs} ms`, true);
    }
    const timer = AbortSignal.timeout(left);
    const signal = o.signal ? AbortSignal.any([o.signal, timer]) : timer;
    let res;
    let body;
    try {
      res = await fetch(req.url, {
        method: req.method || 'POST', headers: req.headers,
        body: typeof req.body === 'function' ? req.body() : req.body, signal,
      });
      body = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      if (o.signal && o.signal.aborted) throw new Cancelled();
      if (timer.aborted) {
        throw new StageError(o.stage, 'TIMEOUT', `${o.service} did not `
          + `answer within ${o.timeoutMs} ms`, true);
      }
      const c = e.cause || {};
      throw new StageError(o.stage, 'MODEL_ERROR', `cannot reach ${o.service} `
        + `at ${where}: ${redact(c.code || c.message || e.message)}`, true);
    }

    const err = statusError(o.stage, o.service, res.status, body);
    if (!err) {
      if (o.onOk) o.onOk();
      return { status: res.status, headers: res.headers, body };
    }
    if (res.status !== 429) throw err;

    const wait = retryAfterMs(res.headers.get('retry-after')) ?? o.rateLimitMs;
    if (o.onRateLimit) o.onRateLimit(wait);
    if (Date.now() + wait >= deadline) {
      err.message += `; no time left for another try within ${o.timeoutMs} ms`;
      throw err;
    }
    await sleep(wait, o.signal);
  }
}

// the JSON of an answer, or a retryable MODEL_ERROR saying what is wrong
function json(stage, service, r) {
  try {
    return JSON.parse(r.body.toString('utf8'));
  } catch (e) {
    throw new StageError(stage, 'MODEL_ERROR', `${service} answered `
      + `something that is not JSON: ${snippet(r.body)}`, true);
  }
}

module.exports = { call, json, statusError, retryAfterMs, safeUrl, snippet };
