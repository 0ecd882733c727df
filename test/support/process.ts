import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface WardenProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<number | string>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface WardenProcessOptions {
  /** Moves the process's wall clock by this much, as another host's clock may be off. */
  clockSkewMs?: number;
}

/** `npm start` as a real process, from the sources, on the given environment; waits until ready. */
export async function startWardenProcess(
  env: Record<string, string>,
  options: WardenProcessOptions = {},
): Promise<WardenProcess> {
  const port = await freePort();
  let output = '';
  const skewed = options.clockSkewMs
    ? {
        args: ['-r', join(ROOT, 'test/support/clock-skew.js')],
        env: { TEST_CLOCK_SKEW_MS: String(options.clockSkewMs) },
      }
    : { args: [], env: {} };
  const child = spawn(
    process.execPath,
    [...skewed.args, '-r', join(ROOT, 'test/support/ts-register.js'), join(ROOT, 'src/main.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...env,
        PORT: String(port),
        HOST: '127.0.0.1',
        ...skewed.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Warden exited at start:\n${output}`);
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Warden did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, output: () => output, exited };
}

/**
 * Stops a Warden the way an orchestrator does: SIGTERM, then SIGKILL if it has not ended within
 * `ms`. Resolves with how it ended.
 */
export async function stopWardenProcess(
  warden: WardenProcess,
  ms = 15_000,
): Promise<number | string> {
  if (warden.child.exitCode === null && warden.child.signalCode === null)
    warden.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const ended = await Promise.race([warden.exited, late]);
  clearTimeout(timer);
  if (ended !== 'late') return ended;
  warden.child.kill('SIGKILL');
  return warden.exited;
}
