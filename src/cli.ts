import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { AuditRetentionService } from './audit/retention/audit-retention.service';
import { reencryptSecrets } from './database/reencrypt';
import { MigrationService } from './migration-spi/migration.service';
import { AppModule } from './app.module';
import { DirectoryService } from './auth/directory/directory.service';
import { KeyRingService } from './auth/keys/key-ring.service';
import { createRootLogger, PinoNestLogger } from './common/logging';
import { ConfigError, loadConfig } from './config/load-config';
import { SigningAlgorithm } from './config/warden-config';
import { SettingsService } from './restrictions/settings.service';

export class UsageError extends Error {}

const USAGE = `Usage: npm run cli -- <command>

  migrate                            apply pending database migrations
  create-admin                       create the bootstrap admin when no admin exists
                                     (WARDEN_ADMIN_USERNAME / WARDEN_ADMIN_PASSWORD, or a generated password)
  reset-password <username>          set a new password (read from stdin, or generated and printed);
                                     re-enables the user and ends their sessions
  clear-allow-list                   empty ip.allow, for an administrator shut out by it
  rotate-keys [RS256|ES256|EdDSA]    create a new signing key; older keys stay published until
                                     every token they signed has expired
  reencrypt                          seal every stored secret again under WARDEN_NEW_ENCRYPTION_KEY
                                     (stop every instance first; start them with the new key after)
  export-config [file]               write the configuration (settings without secrets, groups,
                                     Connect tenants' metadata) as JSON to the file or stdout
  import-config <file> [--dry-run]   import such a file; --dry-run only reports what would change
  purge-audit                        run the audit retention now
`;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  out: (text: string) => void;
}

async function readStdin(stdin: CliIo['stdin']): Promise<string | undefined> {
  if (stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  const text = Buffer.concat(chunks).toString('utf8').trim();
  return text || undefined;
}

/** Runs one command; returns the exit code. Errors are thrown for the caller to report. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help') {
    io.out(USAGE);
    return command ? 0 : 64;
  }
  const config = loadConfig(io.env);
  const logger = createRootLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  // Migrations run when the data source starts, so every command begins with an up-to-date schema.
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new PinoNestLogger(logger),
  });
  try {
    switch (command) {
      case 'migrate':
        io.out('Database schema is up to date.\n');
        return 0;
      case 'create-admin': {
        const created = await app.get(DirectoryService).ensureBootstrapAdmin();
        if (!created) io.out('An administrator exists already; nothing changed.\n');
        else if (created.generatedPassword)
          io.out(
            `Created administrator "${created.username}" with password: ${created.generatedPassword}\n`,
          );
        else
          io.out(
            `Created administrator "${created.username}" with the password from WARDEN_ADMIN_PASSWORD.\n`,
          );
        return 0;
      }
      case 'reset-password': {
        const [username] = args;
        if (!username) throw new UsageError('reset-password needs a username');
        const given = await readStdin(io.stdin);
        if (given !== undefined && given.length < 12)
          throw new UsageError('the new password needs at least 12 characters');
        const password = given ?? randomBytes(18).toString('base64url');
        await app.get(DirectoryService).resetPassword(username, password);
        io.out(
          given
            ? `Password of "${username}" changed; their sessions ended.\n`
            : `New password of "${username}": ${password}\n`,
        );
        return 0;
      }
      case 'clear-allow-list': {
        await app
          .get(SettingsService)
          .patch({ ip: { allow: [] } }, { ifMatch: '*', force: true, actor: { username: 'cli' } });
        io.out('ip.allow cleared; every instance applies it within a second.\n');
        return 0;
      }
      case 'rotate-keys': {
        const algorithm = (args[0] ?? config.signingAlgorithm) as SigningAlgorithm;
        if (!['RS256', 'ES256', 'EdDSA'].includes(algorithm))
          throw new UsageError(`unknown algorithm ${algorithm}`);
        const kid = await app.get(KeyRingService).rotate(algorithm);
        io.out(
          `New ${algorithm} signing key ${kid} is active; older keys stay published until their tokens expire.\n`,
        );
        return 0;
      }
      case 'reencrypt': {
        const raw = io.env.WARDEN_NEW_ENCRYPTION_KEY;
        const next = raw ? Buffer.from(raw, 'base64') : null;
        // The same rule production starts with: a key it would refuse is never sealed under.
        if (!next || next.length !== 32 || new Set(next).size < 8)
          throw new UsageError('WARDEN_NEW_ENCRYPTION_KEY must be 32 random bytes, base64');
        if (next.equals(config.encryptionKey.key))
          throw new UsageError('WARDEN_NEW_ENCRYPTION_KEY is the key in use');
        const counts = await reencryptSecrets(app.get(DataSource), config.encryptionKey.key, next);
        io.out(
          `Re-sealed ${counts.signingKeys} signing key(s), ${counts.settingsSecrets} settings secret(s), ` +
            `${counts.tenantSecrets} Connect tenant secret(s), ${counts.operationTokens} CMJ operation token(s); ` +
            `dropped ${counts.graceValuesDropped} refresh grace value(s). Start every instance with ` +
            `WARDEN_ENCRYPTION_KEY set to the new key.\n`,
        );
        return 0;
      }
      case 'export-config': {
        const document = JSON.stringify(await app.get(MigrationService).exportDocument(), null, 2);
        if (args[0]) {
          writeFileSync(args[0], `${document}\n`, { mode: 0o600 });
          io.out(`Configuration written to ${args[0]}.\n`);
        } else io.out(`${document}\n`);
        return 0;
      }
      case 'import-config': {
        const file = args.find((a) => !a.startsWith('--'));
        if (!file) throw new UsageError('import-config needs a file');
        const dryRun = args.includes('--dry-run');
        const report = await app
          .get(MigrationService)
          .importDocument(readFileSync(file, 'utf8'), { dryRun });
        for (const change of report.changes)
          io.out(`${dryRun ? 'would ' : ''}${change.action} ${change.target} ${change.key}\n`);
        for (const problem of report.problems) io.out(`${problem.severity}: ${problem.message}\n`);
        io.out(`${report.changes.length} change(s)${dryRun ? ' would be made' : ' made'}.\n`);
        return report.problems.some((p) => p.severity === 'ERROR') ? 1 : 0;
      }
      case 'purge-audit': {
        const run = await app.get(AuditRetentionService).purge('manual');
        if (!run) {
          io.out('A purge is running already (here or on another instance); nothing started.\n');
          return 1;
        }
        io.out(
          `Removed ${run.deletedByAge} row(s) older than ${run.retentionDays} days and ` +
            `${run.deletedByCount} beyond ${run.maxEntries} rows in ${run.durationMs} ms.\n`,
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2), {
    env: process.env,
    stdin: process.stdin,
    out: (text) => process.stdout.write(text),
  }).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof ConfigError || err instanceof UsageError) {
        process.stderr.write(`${err.message}\n${err instanceof UsageError ? USAGE : ''}`);
        process.exit(err instanceof UsageError ? 64 : 78);
      }
      process.stderr.write(`${(err as Error).message ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
