import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { nginxProblem } from './nginx';
import { postgresAvailable } from './postgres';
import { redisAvailable } from './redis';

/** What a suite may need beyond Node itself; the embedded SQLite is always there. */
export type Service = 'sqlite' | 'postgres' | 'redis' | 'redis-server' | 'nginx' | 'chromium';

/** Where the browser suites find Debian's Chromium. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) =>
  existsSync(p),
);

/** A redis-server binary of the tests' own (the outage suites start and stop their own Redis). */
export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(
  (p) => spawnSync(p, ['--version']).status === 0,
);

/** The probe results travel from the global setup to the suites in this variable. */
const MISSING_VARIABLE = 'WARDEN_TEST_MISSING_SERVICES';

/** Asks each service once, before any suite is collected (Jest's globalSetup). */
export async function probeServices(): Promise<Service[]> {
  const checks: [Service, () => boolean | Promise<boolean>][] = [
    ['postgres', postgresAvailable],
    ['redis', redisAvailable],
    ['redis-server', () => REDIS_SERVER !== undefined],
    ['nginx', () => nginxProblem() === null],
    ['chromium', () => CHROMIUM !== undefined],
  ];
  const missing: Service[] = [];
  for (const [service, available] of checks) if (!(await available())) missing.push(service);
  process.env[MISSING_VARIABLE] = missing.join(',');
  return missing;
}

/** Services the global setup found missing (none when it did not run). */
export function missingServices(needs: readonly Service[]): Service[] {
  const missing = (process.env[MISSING_VARIABLE] ?? '').split(',');
  return needs.filter((need) => missing.includes(need));
}
