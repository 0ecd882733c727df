import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Argument, Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { AppModule } from '../app.module';
import { AuditRetentionService } from '../audit/retention/audit-retention.service';
import { DirectoryService } from '../auth/directory/directory.service';
import { KeyRingService } from '../auth/keys/key-ring.service';
import { API_TOKEN_MARK } from '../common/credentials';
import { createRootLogger, PinoNestLogger } from '../common/logging';
import { loadConfig } from '../config/load-config';
import { SIGNING_ALGORITHMS, SigningAlgorithm, WardenConfig } from '../config/warden-config';
import { buildDataSourceOptions } from '../database/data-source';
import { runMigrations } from '../database/migrate';
import { reencryptSecrets } from '../database/reencrypt';
import { MigrationService } from '../migration-spi/migration.service';
import { SettingsService } from '../settings/settings.service';

/** sysexits(3): the command line was wrong / the configuration was. */
export const EXIT_USAGE = 64;
export const EXIT_CONFIG = 78;

/** A mistake in the command line; `help` is the usage of the command it concerns. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly help = '',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  out: (text: string) => void;
  /** Usage shown after a mistake and the report of a failed command; `out` when absent. */
  err?: (text: string) => void;
}

const ALGORITHMS: readonly SigningAlgorithm[] = SIGNING_ALGORITHMS;
const MIN_PASSWORD_LENGTH = 12;

/** What was piped in (trimmed), or undefined when stdin is a terminal. */
async function readStdin(stdin: CliIo['stdin']): Promise<string | undefined> {
  if (stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** Starts the application context (which applies pending migrations), runs `work`, closes it. */
async function withApp<T>(
  config: WardenConfig,
  work: (app: INestApplicationContext) => Promise<T>,
): Promise<T> {
  // stdout carries the command's output (export-config writes JSON there), so logs go to stderr.
  const logger = createRootLogger(
    config.logLevel === 'info' ? 'warn' : config.logLevel,
    process.stderr,
  );
  // abortOnError: false, or Nest ends the process itself when a module fails to start.
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot(config, { databaseRetries: 0 }),
    {
      logger: new PinoNestLogger(logger, {
        stackTraces: config.logLevel === 'debug' || config.logLevel === 'trace',
      }),
      abortOnError: false,
    },
  );
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

/**
 * A bare connection (migrations applied), without the application: starting the application
 * opens stored secrets (signing keys, settings), so one the current key cannot open would stop it
 * before `reencrypt` could name that secret's row.
 */
async function withDataSource<T>(
  config: WardenConfig,
  work: (dataSource: DataSource) => Promise<T>,
): Promise<T> {
  const dataSource = await new DataSource(buildDataSourceOptions(config)).initialize();
  try {
    await runMigrations(dataSource);
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

/** The new key `reencrypt` seals under, refused on the same terms production refuses a key. */
function newEncryptionKey(io: CliIo, config: WardenConfig): Buffer {
  const raw = io.env.WARDEN_NEW_ENCRYPTION_KEY;
  const next = raw ? Buffer.from(raw, 'base64') : null;
  if (!next || next.length !== 32 || new Set(next).size < 8)
    throw new UsageError('WARDEN_NEW_ENCRYPTION_KEY must be 32 random bytes, base64');
  if (next.equals(config.encryptionKey.key))
    throw new UsageError('WARDEN_NEW_ENCRYPTION_KEY is the key in use');
  return next;
}

/**
 * The operator commands, each on `program`. A command that fails throws; one that ends with a
 * non-zero code without an error (an import with ERRORs, a purge already running) calls `exit`.
 */
export function defineCommands(program: Command, io: CliIo, exit: (code: number) => void): void {
  const config = () => loadConfig(io.env);

  program
    .command('migrate')
    .summary('apply pending database migrations')
    .description('Apply pending database migrations (every command applies them first).')
    .action(async () => {
      await withApp(config(), async () => io.out('Database schema is up to date.\n'));
    });

  program
    .command('create-admin')
    .summary('create the bootstrap admin if none exists')
    .description(
      'Create the bootstrap administrator when no administrator exists. ' +
        'The name is WARDEN_ADMIN_USERNAME; the password WARDEN_ADMIN_PASSWORD, or a generated ' +
        'one, printed once.',
    )
    .action(async () => {
      const created = await withApp(config(), (app) =>
        app.get(DirectoryService).ensureBootstrapAdmin(),
      );
      if (!created) io.out('An administrator exists already; nothing changed.\n');
      else if (created.generatedPassword)
        io.out(
          `Created administrator "${created.username}" with password: ${created.generatedPassword}\n`,
        );
      else
        io.out(
          `Created administrator "${created.username}" with the password from WARDEN_ADMIN_PASSWORD.\n`,
        );
    });

  program
    .command('reset-password')
    .summary("set a new password, end the user's sessions")
    .description(
      `Set a new password, read from stdin (at least ${MIN_PASSWORD_LENGTH} characters) or, when ` +
        'stdin is a terminal, generated and printed. Re-enables the user and ends their sessions.',
    )
    .argument('<username>', 'the user whose password is replaced')
    .action(async (username: string) => {
      const given = await readStdin(io.stdin);
      // Nothing piped in is a mistake upstream of here (an unset variable), not a request for a
      // generated password: that is only made for someone at a terminal.
      if (given === '')
        throw new UsageError(
          'stdin is empty: pipe the new password in, or run this at a terminal to have one generated',
        );
      if (given !== undefined && given.length < MIN_PASSWORD_LENGTH)
        throw new UsageError(`the new password needs at least ${MIN_PASSWORD_LENGTH} characters`);
      if (given?.startsWith(API_TOKEN_MARK))
        throw new UsageError(
          `the new password must not start with ${API_TOKEN_MARK} (personal API tokens do)`,
        );
      const password = given ?? randomBytes(18).toString('base64url');
      await withApp(config(), (app) => app.get(DirectoryService).resetPassword(username, password));
      io.out(
        given
          ? `Password of "${username}" changed; their sessions ended.\n`
          : `New password of "${username}": ${password}\n`,
      );
    });

  program
    .command('clear-allow-list')
    .summary('empty ip.allow (an admin shut out by it)')
    .description(
      'Empty ip.allow, for an administrator shut out by it; every running instance applies it ' +
        'within a second.',
    )
    .action(async () => {
      await withApp(config(), (app) =>
        app
          .get(SettingsService)
          .patch({ ip: { allow: [] } }, { ifMatch: '*', force: true, actor: { username: 'cli' } }),
      );
      io.out('ip.allow cleared; every instance applies it within a second.\n');
    });

  program
    .command('rotate-keys')
    .summary('create a new signing key')
    .description(
      'Create a new signing key. It is published in the JWKS at once and signs after ' +
        'keys.prePublishSeconds (at once when no key signs); older keys stay published until ' +
        'every token they signed has expired.',
    )
    .addArgument(
      new Argument(
        '[algorithm]',
        'algorithm of the new key (default: WARDEN_SIGNING_ALGORITHM)',
      ).choices(ALGORITHMS),
    )
    .action(async (chosen: SigningAlgorithm | undefined) => {
      const settings = config();
      const algorithm = chosen ?? settings.signingAlgorithm;
      const key = await withApp(settings, (app) =>
        app.get(KeyRingService).rotate(algorithm, { username: 'cli' }),
      );
      io.out(
        `New ${algorithm} signing key ${key.kid} is published (${key.state}) and signs from ${key.activatesAt}; ` +
          'older keys stay published until their tokens expire.\n',
      );
    });

  program
    .command('reencrypt')
    .summary('seal secrets under WARDEN_NEW_ENCRYPTION_KEY')
    .description(
      'Seal every stored secret again under WARDEN_NEW_ENCRYPTION_KEY (32 random bytes, base64), ' +
        'in one transaction: a secret that does not open under WARDEN_ENCRYPTION_KEY stops the run, ' +
        'named, and nothing changes. Stop every instance first; start them with ' +
        'WARDEN_ENCRYPTION_KEY set to the new key after.',
    )
    .action(async () => {
      const settings = config();
      // Checked before the application starts, so a bad key touches nothing.
      const next = newEncryptionKey(io, settings);
      const counts = await withDataSource(settings, (dataSource) =>
        reencryptSecrets(dataSource, settings.encryptionKey.key, next),
      );
      io.out(
        `Re-sealed ${counts.signingKeys} signing key(s), ${counts.settingsSecrets} settings secret(s), ` +
          `${counts.tenantSecrets} Connect tenant secret(s), ${counts.operationTokens} CMJ operation token(s); ` +
          `dropped ${counts.graceValuesDropped} refresh grace value(s). Start every instance with ` +
          `WARDEN_ENCRYPTION_KEY set to the new key.\n`,
      );
    });

  program
    .command('export-config')
    .summary('write the configuration as JSON')
    .description(
      "Write the configuration (settings without secrets, groups, Connect tenants' metadata) as " +
        'JSON to the file (created readable by its owner only) or to stdout.',
    )
    .argument('[file]', 'where to write; stdout when absent')
    .action(async (file: string | undefined) => {
      const exported = await withApp(config(), (app) => app.get(MigrationService).exportDocument());
      const document = JSON.stringify(exported, null, 2);
      if (file) {
        writeFileSync(file, `${document}\n`, { mode: 0o600 });
        io.out(`Configuration written to ${file}.\n`);
      } else io.out(`${document}\n`);
    });

  program
    .command('import-config')
    .summary('import an export-config file (or --dry-run)')
    .description(
      'Import a file written by export-config. Exits with 1 when the import reports an ERROR.',
    )
    .argument('<file>', 'the exported configuration')
    .option('--dry-run', 'only report what would change')
    .action(async (file: string, options: { dryRun?: boolean }) => {
      const dryRun = options.dryRun === true;
      const text = readFileSync(file, 'utf8');
      const report = await withApp(config(), (app) =>
        app.get(MigrationService).importDocument(text, { dryRun }),
      );
      for (const change of report.changes)
        io.out(`${dryRun ? 'would ' : ''}${change.action} ${change.target} ${change.key}\n`);
      for (const problem of report.problems) io.out(`${problem.severity}: ${problem.message}\n`);
      io.out(`${report.changes.length} change(s)${dryRun ? ' would be made' : ' made'}.\n`);
      if (report.problems.some((p) => p.severity === 'ERROR')) exit(1);
    });

  program
    .command('purge-audit')
    .summary('run the audit retention now')
    .description(
      'Run the audit retention now. Exits with 1 when a purge is running already (here or on ' +
        'another instance).',
    )
    .action(async () => {
      const run = await withApp(config(), (app) => app.get(AuditRetentionService).purge('manual'));
      if (!run) {
        io.out('A purge is running already (here or on another instance); nothing started.\n');
        exit(1);
        return;
      }
      io.out(
        `Removed ${run.deletedByAge} row(s) older than ${run.retentionDays} days and ` +
          `${run.deletedByCount} beyond ${run.maxEntries} rows in ${run.durationMs} ms.\n`,
      );
    });

  // Commander's own help command answers an unknown name with the full help and no reason;
  // this one says which name it did not know.
  program
    .command('help')
    .summary("show the commands or one command's usage")
    .description('Show the commands, or the usage of one command.')
    .argument('[command]', 'the command to describe')
    .action((name: string | undefined) => {
      if (!name) return program.outputHelp();
      const command = program.commands.find((c) => c.name() === name);
      if (!command) throw new UsageError(`unknown command '${name}'`, program.helpInformation());
      command.outputHelp();
    });
}
