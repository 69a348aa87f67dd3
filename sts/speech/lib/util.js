// Speech STS: errors, logging, and keeping the API keys out of both.

'use strict';

// A stage failed: "code" is the contract's error code (TIMEOUT,
// MODEL_ERROR, AUTH_FAILED, RATE_LIMIT, ...), "retryable" what the
// module's breaker is told.
class StageError extends Error {
  constructor(stage, code, message, retryable, extra) {
    super(message);
    this.stage = stage;
    this.code = code;
    this.retryable = retryable;
    Object.assign(this, extra || {});
  }
}

// The stream went away (or was told to stop): its work is dropped.
class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.cancelled = true;
  }
}

// Every key the STS knows: no log line and no error message carries one.
const secrets = new Set();

function addSecret(s) {
  if (typeof s === 'string' && s.length) secrets.add(s);
}

// the text with every key, and the password of any URL, replaced
function redact(text) {
  let s = String(text);
  for (const k of secrets) s = s.split(k).join('[key]');
  return s.replace(/(\/\/[^/\s:@]*):[^/\s@]*@/g, '$1:[key]@');
}

function log(obj) {
  process.stderr.write(redact(JSON.stringify({ t: new Date().toISOString(),
                                                ...obj })) + '\n');
}

// waits "ms", or less if "signal" aborts (then rejects with Cancelled)
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(new Cancelled());
    const done = () => {
      if (signal) signal.removeEventListener('abort', stop);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    const stop = () => {
      clearTimeout(timer);
      reject(new Cancelled());
    };
    if (signal) signal.addEventListener('abort', stop, { once: true });
  });
}

module.exports = { StageError, Cancelled, addSecret, redact, log, sleep };
