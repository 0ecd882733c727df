import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CliIo, EXIT_CONFIG, EXIT_USAGE, runCli, runCliAndReport, UsageError } from './cli';

const COMMANDS = [
  'migrate',
  'create-admin',
  'reset-password',
  'clear-allow-list',
  'rotate-keys',
  'reencrypt',
  'export-config',
  'import-config',
  'purge-audit',
  'help',
];

/** A terminal-less run that records what the CLI writes, on an empty data directory. */
function harness(options: { env?: Record<string, string>; stdin?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'warden-cli-spec-'));
  const database = join(dir, 'warden.sqlite');
  const io: CliIo = {
    env: {
      NODE_ENV: 'test',
      WARDEN_DATA_DIR: dir,
      DATABASE_URL: `sqlite:${database}`,
      WARDEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'silent',
      ...options.env,
    },
    stdin:
      options.stdin === undefined
        ? Object.assign(Readable.from([]), { isTTY: true })
        : Readable.from([Buffer.from(options.stdin)]),
    out: (s) => out.push(s),
    err: (s) => err.push(s),
  };
  return {
    io,
    out: () => out.join(''),
    err: () => err.join(''),
    /** Whether a command got as far as opening the database. */
    touchedDatabase: () => existsSync(database),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

describe(runCli.name, () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness();
  });
  afterEach(() => h.cleanup());

  const usageErrorOf = async (argv: string[]): Promise<UsageError> => {
    const error = await runCli(argv, h.io).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  };

  it('help lists every command and exits 0', async () => {
    await expect(runCli(['help'], h.io)).resolves.toBe(0);
    for (const command of COMMANDS) expect(h.out()).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(h.out()).toContain('Usage: npm run cli -- ');
    expect(h.err()).toBe('');
  });

  it('--help is the same list', async () => {
    await expect(runCli(['--help'], h.io)).resolves.toBe(0);
    for (const command of COMMANDS) expect(h.out()).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('no command prints the list on err and is a usage error', async () => {
    await expect(runCli([], h.io)).resolves.toBe(EXIT_USAGE);
    expect(h.err()).toContain('reset-password <username>');
    expect(h.out()).toBe('');
  });

  it.each(COMMANDS.filter((c) => c !== 'help'))(
    '%s: --help and `help <command>` show its usage without running it',
    async (command) => {
      await expect(runCli([command, '--help'], h.io)).resolves.toBe(0);
      await expect(runCli(['help', command], h.io)).resolves.toBe(0);
      const usage = new RegExp(`Usage: npm run cli -- ${command}\\b`, 'g');
      expect(h.out().match(usage)).toHaveLength(2);
      expect(h.touchedDatabase()).toBe(false);
    },
  );

  it('describes the arguments: the username, the algorithms, the dry run', async () => {
    await runCli(['help', 'reset-password'], h.io);
    await runCli(['help', 'rotate-keys'], h.io);
    await runCli(['help', 'import-config'], h.io);
    expect(h.out()).toContain('reset-password [options] <username>');
    expect(h.out()).toMatch(/choices: "RS256", "ES256"\)/);
    expect(h.out()).toContain('--dry-run');
  });

  it('an unknown command is a usage error, with a suggestion and the command list', async () => {
    const error = await usageErrorOf(['rotate-key']);
    expect(error.message).toMatch(/^unknown command 'rotate-key'/);
    expect(error.message).toContain('Did you mean rotate-keys?');
    expect(error.help).toContain('Commands:');
    expect(h.touchedDatabase()).toBe(false);
  });

  it('help for an unknown command says which name it did not know', async () => {
    const error = await usageErrorOf(['help', 'frobnicate']);
    expect(error.message).toBe("unknown command 'frobnicate'");
  });

  it.each([
    [['reset-password'], /missing required argument 'username'/, 'reset-password'],
    [['import-config'], /missing required argument 'file'/, 'import-config'],
    [['import-config', '--dry-run'], /missing required argument 'file'/, 'import-config'],
    [['rotate-keys', 'HS256'], /Allowed choices are RS256, ES256\./, 'rotate-keys'],
    [['export-config', 'a.json', 'b.json'], /too many arguments/, 'export-config'],
    [['purge-audit', '--force'], /unknown option '--force'/, 'purge-audit'],
  ])('%j is a usage error before anything runs', async (argv, message, command) => {
    const error = await usageErrorOf(argv);
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/^error:/);
    expect(error.help).toContain(`Usage: npm run cli -- ${command}`);
    expect(h.touchedDatabase()).toBe(false);
    expect(h.out()).toBe('');
  });
});

describe(runCliAndReport.name, () => {
  const cleanups: (() => void)[] = [];
  const run = async (argv: string[], options?: Parameters<typeof harness>[0]) => {
    const h = harness(options);
    cleanups.push(h.cleanup);
    const code = await runCliAndReport(argv, h.io);
    return { code, out: h.out(), err: h.err(), touchedDatabase: h.touchedDatabase() };
  };
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

  it('reports a usage error on err with the usage, no stack, exit 64', async () => {
    const result = await run(['rotate-keys', 'HS256']);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(/^command-argument value 'HS256' is invalid/);
    expect(result.err).toContain('Usage: npm run cli -- rotate-keys [options] [algorithm]');
    expect(result.err).not.toMatch(/\n\s+at /);
    expect(result.out).toBe('');
  });

  it('reports an invalid configuration with every problem, no stack, exit 78', async () => {
    const result = await run(['migrate'], {
      env: { NODE_ENV: 'production', WARDEN_ENCRYPTION_KEY: '', PORT: 'nope' },
    });
    expect(result.code).toBe(EXIT_CONFIG);
    expect(result.err).toMatch(/^Invalid configuration:/);
    expect(result.err).toContain('PORT must be an integer');
    expect(result.err).toContain('WARDEN_ENCRYPTION_KEY is required in production');
    expect(result.err).not.toMatch(/\n\s+at /);
    expect(result.touchedDatabase).toBe(false);
  });

  it.each([
    [{}, /WARDEN_NEW_ENCRYPTION_KEY must be 32 random bytes/],
    [{ WARDEN_NEW_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }, /must be 32 random/],
    [{ WARDEN_NEW_ENCRYPTION_KEY: 'c2hvcnQ=' }, /must be 32 random/],
  ])('refuses reencrypt with %j before opening the database', async (env, message) => {
    const result = await run(['reencrypt'], { env });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(message);
    expect(result.touchedDatabase).toBe(false);
  });

  it('refuses reencrypt under the key in use', async () => {
    const key = randomBytes(32).toString('base64');
    const result = await run(['reencrypt'], {
      env: { WARDEN_ENCRYPTION_KEY: key, WARDEN_NEW_ENCRYPTION_KEY: key },
    });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(/^WARDEN_NEW_ENCRYPTION_KEY is the key in use/);
    expect(result.touchedDatabase).toBe(false);
  });

  it('refuses a short password from stdin before opening the database', async () => {
    const result = await run(['reset-password', 'someone'], { stdin: 'too-short\n' });
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.err).toMatch(/^the new password needs at least 12 characters/);
    expect(result.err).toContain('Usage: npm run cli -- reset-password');
    expect(result.touchedDatabase).toBe(false);
  });

  it('reports any other failure by its message alone, exit 1', async () => {
    const result = await run(['import-config', '/nonexistent/warden-export.json']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^ENOENT: no such file or directory/);
    expect(result.err).not.toMatch(/\n\s+at /);
  });
});
