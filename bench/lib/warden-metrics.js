// @ts-check
'use strict';
// What Warden's GET /metrics tells of it: a counter by name, its garbage collection and heap.

const { call } = require('./http');

/** @typedef {import('./warden').Warden} Warden */

/**
 * One of Warden's counters from GET /metrics (Prometheus text), by metric name; null if absent.
 *
 * @param {Warden} warden
 * @param {string} name
 */
async function metricValue(warden, name) {
  const res = await call('GET', `${warden.base}/metrics`);
  const line = res.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : null;
}

/** @typedef {{ seconds: Record<string, number>, heapUsed: number | null }} GcSnapshot */

/**
 * Warden's garbage collection so far (seconds, by kind: minor, major, incremental, weakcb) and its
 * heap in use (bytes), from the default Node.js metrics.
 *
 * @param {Warden} warden
 * @returns {Promise<GcSnapshot>}
 */
async function gcSnapshot(warden) {
  const res = await call('GET', `${warden.base}/metrics`);
  /** @type {GcSnapshot} */
  const snapshot = { seconds: {}, heapUsed: null };
  for (const line of res.text.split('\n')) {
    const gc = /^warden_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)/.exec(line);
    if (gc) snapshot.seconds[gc[1]] = Number(gc[2]);
    else if (line.startsWith('warden_nodejs_heap_size_used_bytes '))
      snapshot.heapUsed = Number(line.split(' ')[1]);
  }
  return snapshot;
}

/**
 * Milliseconds of collection between two snapshots, by kind.
 *
 * @param {GcSnapshot} before
 * @param {GcSnapshot} after
 */
function gcSpent(before, after) {
  /** @type {Record<string, number>} */
  const spent = {};
  for (const [kind, seconds] of Object.entries(after.seconds))
    spent[kind] = (seconds - (before.seconds[kind] ?? 0)) * 1000;
  return spent;
}

module.exports = { metricValue, gcSnapshot, gcSpent };
