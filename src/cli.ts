import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { CliIo, defineCommands, EXIT_CONFIG, EXIT_USAGE, UsageError } from './cli/commands';
import { ConfigError } from './config/load-config';

export type { CliIo };
export { EXIT_CONFIG, EXIT_USAGE, UsageError };

function buildProgram(io: CliIo, exit: (code: number) => void): Command {
  const program = new Command('npm run cli --')
    .description('Bootstrap and recovery for Warden.')
    .addHelpText(
      'after',
      "\nEvery command reads the server's environment (DATABASE_URL, WARDEN_ENCRYPTION_KEY,\n" +
        '...) and applies pending migrations first. `help <command>` describes one command.\n' +
        `Exit codes: 0 done, 1 failed, ${EXIT_USAGE} usage mistake, ${EXIT_CONFIG} invalid configuration.\n`,
    )
    .helpCommand(false)
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err ?? io.out,
      // Reported once, by whoever catches the UsageError, with the command's usage.
      outputError: () => undefined,
    })
    // Throw instead of process.exit, so that in-process callers get a result.
    .exitOverride();
  defineCommands(program, io, exit);
  return program;
}

/** The help of the command `argv` names, or of the whole CLI. */
function helpFor(program: Command, argv: string[]): string {
  return (program.commands.find((c) => c.name() === argv[0]) ?? program).helpInformation();
}

/**
 * Runs one command and returns its exit code. A command-line mistake throws a UsageError;
 * every other failure is thrown as it is, for the caller to report (see runCliAndReport).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof UsageError && !err.help)
      throw new UsageError(err.message, helpFor(program, argv));
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed') return 0;
    // The help commander prints in place of a missing command (to err).
    if (err.code === 'commander.help') return EXIT_USAGE;
    throw new UsageError(err.message.replace(/^error: /, ''), helpFor(program, argv));
  }
  return code;
}

/**
 * Runs one command as the process does: the exit code, with a failure reported on `err` by its
 * message alone (a usage mistake with the command's usage). An operator needs the reason, not the
 * code path; LOG_LEVEL=debug or trace adds the stack trace.
 */
export async function runCliAndReport(argv: string[], io: CliIo): Promise<number> {
  const write = io.err ?? io.out;
  try {
    return await runCli(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      write(`${err.message}\n\n${err.help}`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      write(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    // Not `instanceof Error`: errors from Node's core can come from another realm (a test VM).
    const { message, stack } = (err ?? {}) as Partial<Error>;
    const verbose = ['debug', 'trace'].includes(io.env.LOG_LEVEL ?? '');
    write(`${(verbose && stack) || message || String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void runCliAndReport(process.argv.slice(2), {
    env: process.env,
    stdin: process.stdin,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  }).then((code) => process.exit(code));
}
