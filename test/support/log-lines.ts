import type { Logger } from 'pino';
import { Writable } from 'node:stream';
import { createRootLogger } from '../../src/common/logging';

/**
 * A root logger at `level` whose JSON lines are kept in `lines`, one entry per line, for a test
 * to read what an app logged. Nest's context loggers write to the app created last in the
 * process: start the app that logs here after any other the test reads nothing from.
 */
export function loggedLines(level: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createRootLogger(level, sink), lines };
}
