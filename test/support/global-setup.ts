import { missingServices, probeServices } from './services';

/**
 * Runs once before the suites are collected, so that a suite whose service is missing is
 * registered as skipped (and counted so in Jest's summary) instead of passing without running.
 * Under CI nothing is skipped: the suites' own checks fail on a missing service.
 */
export default async function globalSetup(): Promise<void> {
  const missing = await probeServices();
  if (missing.length > 0 && !process.env.CI) {
    process.stderr.write(
      `\nNot available here, so their tests are skipped: ${missingServices(missing).join(', ')}\n`,
    );
  }
}
