import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/**
 * Paths that may carry credentials anywhere in a log object. Redaction is by key, so a secret
 * never reaches a log line through a header, a body or an error's context.
 */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-forwarded-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
  '*.refresh',
  '*.authentication',
  '*.secret',
  '*.clientSecret',
  'password',
  'token',
  'secret',
];

export function createRootLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'warden' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

/** Nest's own start-up chatter (modules loaded, routes mapped) is debug detail, not news. */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/** Nest's logger interface on top of pino: structured objects stay objects, context becomes a field. */
/** A stack trace as Nest passes it along with an error: "Error: …\n    at …". */
const STACK_TRACE = /\n\s+at /;

export class PinoNestLogger implements LoggerService {
  /**
   * `stackTraces: false` (the CLI below debug level) writes errors as their message alone: the
   * operator reads the output, and an expected failure (a database that does not answer) is not
   * a program error.
   */
  constructor(
    private readonly root: Logger,
    private readonly options: { stackTraces?: boolean } = {},
  ) {}

  log(message: unknown, ...params: unknown[]) {
    const context = params[params.length - 1];
    this.write(
      typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : 'info',
      message,
      params,
    );
  }
  error(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.write('fatal', message, params);
  }

  private write(level: pino.Level, message: unknown, params: unknown[]) {
    if (!this.root.isLevelEnabled(level)) return;
    // Nest appends the logger's context as the last string parameter.
    const context =
      params.length > 0 && typeof params[params.length - 1] === 'string'
        ? (params.pop() as string)
        : undefined;
    const withoutStacks = this.options.stackTraces === false;
    const text = params.find(
      (p): p is string => typeof p === 'string' && !(withoutStacks && STACK_TRACE.test(p)),
    );
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      this.root[level]({ context, ...(message as object) }, text ?? context ?? '');
    } else if (message instanceof Error) {
      const err = withoutStacks ? { type: message.name, message: message.message } : message;
      this.root[level]({ context, err }, text ?? message.message);
    } else {
      this.root[level]({ context }, String(message));
    }
  }
}
