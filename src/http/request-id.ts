import { randomBytes } from 'node:crypto';

/**
 * Request ids for one instance: a random prefix drawn once at start (48 bits, 12 hex digits)
 * and a counter, e.g. `3f9a0c1b7e2d-1a`. Unique across instances and restarts by the prefix,
 * within one by the counter, and far cheaper per request than a random UUID.
 */
export function requestIdGenerator(): () => string {
  const prefix = randomBytes(6).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}
