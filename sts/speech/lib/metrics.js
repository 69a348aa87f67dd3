// Speech STS: its /metrics, in the Prometheus text format 0.0.4.

'use strict';

function esc(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')
    .replace(/\n/g, '\\n');
}

function labels(obj) {
  const k = Object.keys(obj);
  return k.length ? `{${k.map((n) => `${n}="${esc(obj[n])}"`).join(',')}}` : '';
}

function num(v) {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

class Registry {
  constructor() {
    this.families = [];
  }

  family(name, type, help, extra) {
    const f = { name, type, help, series: new Map(), ...extra };
    this.families.push(f);
    return f;
  }

  counter(name, help) {
    const f = this.family(name, 'counter', help);
    return {
      inc: (l, n) => {
        const key = labels(l || {});
        f.series.set(key, (f.series.get(key) || 0) + (n === undefined ? 1 : n));
      },
      init: (l) => {
        const key = labels(l || {});
        if (!f.series.has(key)) f.series.set(key, 0);
      },
    };
  }

  // a gauge read when scraped
  gauge(name, help, read) {
    this.family(name, 'gauge', help, { read });
  }

  histogram(name, help, buckets) {
    const f = this.family(name, 'histogram', help, { buckets });
    return {
      observe: (l, v) => {
        const key = labels(l || {});
        let h = f.series.get(key);
        if (!h) {
          h = { l: l || {}, counts: buckets.map(() => 0), sum: 0, count: 0 };
          f.series.set(key, h);
        }
        buckets.forEach((b, i) => { if (v <= b) h.counts[i]++; });
        h.sum += v;
        h.count++;
      },
    };
  }

  text() {
    const out = [];
    for (const f of this.families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      if (f.read) {
        const v = f.read();
        const rows = Array.isArray(v) ? v : [[{}, v]];
        for (const [l, x] of rows) out.push(`${f.name}${labels(l)} ${num(x)}`);
      } else if (f.type === 'histogram') {
        for (const h of f.series.values()) {
          f.buckets.forEach((b, i) => {
            out.push(`${f.name}_bucket${labels({ ...h.l, le: num(b) })} `
                     + `${h.counts[i]}`);
          });
          out.push(`${f.name}_bucket${labels({ ...h.l, le: '+Inf' })} ${h.count}`,
                   `${f.name}_sum${labels(h.l)} ${num(h.sum)}`,
                   `${f.name}_count${labels(h.l)} ${h.count}`);
        }
      } else {
        for (const [key, x] of f.series) out.push(`${f.name}${key} ${num(x)}`);
      }
    }
    return out.join('\n') + '\n';
  }
}

module.exports = { Registry };
