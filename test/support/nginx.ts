import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The documented nginx configuration that the nginx tests run, rendered for loopback. */
export const DOCS_NGINX_CONF = join(__dirname, '..', '..', 'docs', 'nginx.conf');

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const ATTEMPTS = 3;

/** Where nginx is looked for: NGINX_BIN, then PATH, then the sbin directories PATH often lacks. */
export function findNginx(): string | null {
  const explicit = process.env.NGINX_BIN;
  if (explicit) return existsSync(explicit) ? explicit : null;
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
    '/usr/local/nginx/sbin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'nginx');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Why this nginx cannot run the documented configuration, or null when it can. */
export function nginxProblem(): string | null {
  const bin = findNginx();
  if (!bin) return 'nginx was not found (looked at NGINX_BIN, PATH, /usr/sbin, /usr/local/sbin)';
  // `nginx -V` writes its version and configure arguments to stderr.
  const run = spawnSync(bin, ['-V'], { encoding: 'utf8' });
  const version = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.error || !version.includes('nginx version'))
    return `${bin} -V failed: ${run.error?.message ?? version.trim()}`;
  if (!version.includes('--with-http_auth_request_module'))
    return `${bin} was built without the auth_request module that docs/nginx.conf uses`;
  return null;
}

/**
 * Suites that need nginx call this in beforeAll. Under CI a missing nginx (or one without the
 * auth_request module) is a failure; on a developer machine the suite says so and is skipped.
 */
export function requireNginx(): boolean {
  const problem = nginxProblem();
  if (!problem) return true;
  if (process.env.CI)
    throw new Error(`nginx is required under CI (.ci/run installs it): ${problem}`);
  process.stderr.write(`${problem}: skipping the nginx tests\n`);
  return false;
}

export interface RenderTargets {
  /** host:port for `upstream warden`. */
  warden: string;
  /** host:port for `upstream protected_api`. */
  protectedApi: string;
  /** What the server's `listen` directive becomes, e.g. 127.0.0.1:40123. */
  listen: string;
}

/**
 * docs/nginx.conf with its compose host names replaced: every `server` line of `upstream warden`
 * becomes one line naming the test Warden, the same for `upstream protected_api`, and the one
 * `listen` becomes a loopback port. Anything the rendering expects and does not find (or an
 * upstream it does not know how to point somewhere) is an error, so that a change to the
 * documented file that the test cannot follow is noticed instead of silently tested around.
 */
export function renderServerBlock(source: string, targets: RenderTargets): string {
  const upstreamTargets: Record<string, string> = {
    warden: targets.warden,
    protected_api: targets.protectedApi,
  };
  const serversReplaced = new Map<string, number>();
  let upstream: string | null = null;
  let listens = 0;
  const out: string[] = [];

  source.split('\n').forEach((line, index) => {
    const where = `docs/nginx.conf line ${index + 1}`;
    const trimmed = line.trim();
    const indent = line.slice(0, line.length - line.trimStart().length);
    if (trimmed.startsWith('#') || trimmed === '') {
      out.push(line);
      return;
    }
    const opening = /^upstream\s+([A-Za-z0-9_.-]+)\s*\{/.exec(trimmed);
    if (opening) {
      if (upstream) throw new Error(`${where}: upstream inside upstream ${upstream}`);
      upstream = opening[1];
      if (!(upstream in upstreamTargets)) {
        throw new Error(
          `${where}: upstream "${upstream}" is not one the nginx test knows how to point at a ` +
            `loopback server (known: ${Object.keys(upstreamTargets).join(', ')}); update test/support/nginx.ts`,
        );
      }
      if (serversReplaced.has(upstream)) throw new Error(`${where}: upstream ${upstream} twice`);
      serversReplaced.set(upstream, 0);
      out.push(line);
      return;
    }
    if (upstream) {
      if (/^\}/.test(trimmed)) {
        upstream = null;
        out.push(line);
        return;
      }
      if (/^server\s/.test(trimmed)) {
        if (!/^server\s+[^;]+;/.test(trimmed)) throw new Error(`${where}: unreadable ${trimmed}`);
        const count = serversReplaced.get(upstream)!;
        serversReplaced.set(upstream, count + 1);
        out.push(
          count === 0
            ? `${indent}server ${upstreamTargets[upstream]};  # test: was ${trimmed}`
            : `${indent}# test: dropped ${trimmed}`,
        );
        return;
      }
      out.push(line);
      return;
    }
    if (/^listen\s/.test(trimmed)) {
      if (!/^listen\s+[^;]+;/.test(trimmed)) throw new Error(`${where}: unreadable ${trimmed}`);
      listens += 1;
      out.push(`${indent}listen ${targets.listen};  # test: was ${trimmed}`);
      return;
    }
    out.push(line);
  });

  if (upstream) throw new Error(`docs/nginx.conf: upstream ${upstream} is never closed`);
  for (const name of Object.keys(upstreamTargets)) {
    const count = serversReplaced.get(name);
    if (count === undefined) throw new Error(`docs/nginx.conf: no "upstream ${name} { … }" block`);
    if (count === 0) throw new Error(`docs/nginx.conf: upstream ${name} has no server line`);
  }
  if (listens !== 1) {
    throw new Error(
      `docs/nginx.conf: expected exactly one listen directive, found ${listens}; update test/support/nginx.ts`,
    );
  }
  return out.join('\n');
}

/** The main configuration around the rendered server block: foreground, everything in `dir`. */
export function mainConfig(dir: string, include: string): string {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return [
    // As root nginx would hand its temp directories to `nobody`; keep everything ours.
    ...(root ? ['user root;'] : []),
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    '    access_log off;',
    `    client_body_temp_path ${join(dir, 'client_body')};`,
    `    proxy_temp_path ${join(dir, 'proxy')};`,
    `    fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `    uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `    scgi_temp_path ${join(dir, 'scgi')};`,
    `    include ${include};`,
    '}',
    '',
  ].join('\n');
}

export interface StartNginxOptions {
  /** The test Warden, e.g. http://127.0.0.1:40123 */
  wardenUrl: string;
  /** The API that nginx protects with auth_request, e.g. the upstream stub. */
  upstreamUrl: string;
  /** Loopback address nginx listens on; 127.0.0.1 unless told. */
  host?: string;
  /** The server block to render; docs/nginx.conf unless told. */
  source?: string;
}

export interface RunningNginx {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  host: string;
  port: number;
  /** nginx's error log so far (for failure messages). */
  errorLog: () => string;
  close: () => Promise<void>;
}

function hostPort(url: string, what: string): string {
  const parsed = new URL(url);
  if (!parsed.port) throw new Error(`${what} must name its port explicitly: ${url}`);
  return parsed.host;
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * A real nginx running docs/nginx.conf in the foreground, on a free loopback port, with its
 * upstreams pointed at the test Warden and the given API. Call requireNginx() first.
 */
export async function startNginx(options: StartNginxOptions): Promise<RunningNginx> {
  const bin = findNginx();
  if (!bin) throw new Error('nginx was not found; call requireNginx() first');
  const host = options.host ?? '127.0.0.1';
  const source = options.source ?? readFileSync(DOCS_NGINX_CONF, 'utf8');
  const warden = hostPort(options.wardenUrl, 'wardenUrl');
  const protectedApi = hostPort(options.upstreamUrl, 'upstreamUrl');

  let lastError = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'warden-nginx-'));
    const port = await freePort(host);
    const serverBlock = join(dir, 'warden-server.conf');
    const conf = join(dir, 'nginx.conf');
    const log = join(dir, 'error.log');
    writeFileSync(
      serverBlock,
      renderServerBlock(source, { warden, protectedApi, listen: `${host}:${port}` }),
    );
    writeFileSync(conf, mainConfig(dir, serverBlock));

    // -e: the compiled-in error log is opened before the configuration is read.
    const child = spawn(bin, ['-c', conf, '-p', `${dir}/`, '-e', log], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));

    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT'); // graceful: finish requests in flight, close idle connections
        if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
          child.kill('SIGKILL');
          await waitForExit(child, STOP_TIMEOUT_MS);
        }
      }
      cleanup();
    };

    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (Date.now() < deadline) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) break;
      if (await connects(host, port)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (up) {
      return {
        url: `http://${host}:${port}`,
        host,
        port,
        errorLog: () => readIfExists(log),
        close: stop,
      };
    }
    await waitForExit(child, 200);
    lastError =
      `nginx (${bin}) did not start on ${host}:${port}` +
      (spawnError ? `: ${spawnError.message}` : '') +
      (child.exitCode !== null ? ` (exit code ${child.exitCode})` : '') +
      `\n--- output ---\n${output}\n--- error.log ---\n${readIfExists(log)}` +
      `\n--- ${serverBlock} ---\n${readIfExists(serverBlock)}`;
    const portTaken = /Address already in use/.test(output + readIfExists(log));
    await stop();
    if (!portTaken) break; // only a lost race for the port is worth another attempt
  }
  throw new Error(lastError);
}
