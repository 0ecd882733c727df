import { CronTime } from 'cron';

/** Cron expressions in the settings are read in UTC, whatever the host's zone. */
export const CRON_TIME_ZONE = 'UTC';

/**
 * Whether `expression` can be scheduled: it parses, and it fires. An expression can parse and
 * still never fire (30 February, 31 April); the cron library then throws when asked for the
 * next firing, after searching eight years ahead (tens of milliseconds, once per check).
 */
export function isSchedulableCron(expression: string): boolean {
  try {
    new CronTime(expression, CRON_TIME_ZONE).sendAt();
    return true;
  } catch {
    return false;
  }
}
