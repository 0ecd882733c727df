import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { modeOf, PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE, tighten } from './private-files';
import { isAbsolute, join, resolve } from 'node:path';
import { DatabaseKind, SIGNING_ALGORITHMS, SigningAlgorithm, WardenConfig } from './warden-config';

/** Every environment variable Warden reads (the README lists each; compose may set only these). */
export const CONFIG_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'HOST',
  'WARDEN_BASE_URL',
  'WARDEN_ISSUER',
  'WARDEN_DATA_DIR',
  'DATABASE_URL',
  'REDIS_URL',
  'WARDEN_ENCRYPTION_KEY',
  'WARDEN_ADMIN_USERNAME',
  'WARDEN_ADMIN_PASSWORD',
  'WARDEN_SIGNING_ALGORITHM',
  'WARDEN_CORS_ORIGINS',
  'WARDEN_IDP_ALLOW_HTTP',
  'UPSTREAM_BASE_URL',
  'CONNECT_APP_KEY',
  'CONNECT_SCOPES',
  'CONNECT_KEYS_URL',
  'CONNECT_KEYS_FALLBACK_URL',
  'CONNECT_AUTH_SERVER_URL',
  'CMJ_BASE_URL',
  'CMJ_KEYS_URL',
  'CMJ_DOWNLOAD_HOSTS',
  'CMJ_ALLOW_HTTP',
  'CMJ_DOWNLOAD_MAX_BYTES',
  'CMJ_JWT_ISSUER',
  'CMJ_JWT_AUDIENCE',
  'LOG_LEVEL',
] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const ATLASSIAN_CONNECT_KEYS_URL = 'https://connect-install-keys.atlassian.com';
/** Atlassian's second location for the same install keys, asked when the first fails. */
const ATLASSIAN_CONNECT_KEYS_FALLBACK_URL =
  'https://cs-migrations--cdn.us-east-1.prod.public.atl-paas.net/connect/app/asymmetric-jwt';
/** Connect scopes an app descriptor may ask for. */
const CONNECT_SCOPES = [
  'NONE',
  'READ',
  'WRITE',
  'DELETE',
  'PROJECT_ADMIN',
  'SPACE_ADMIN',
  'ADMIN',
  'ACT_AS_USER',
  'ACCESS_EMAIL_ADDRESSES',
];
const ATLASSIAN_AUTH_SERVER_URL = 'https://oauth-2-authorization-server.services.atlassian.com';
/** CMJ Cloud's Operations API (Appfire's SPI documentation). */
const CMJ_PRODUCTION_URL = 'https://spi.cmj.botronsoftcloud.com';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ENCRYPTION_KEY_FILE = 'encryption.key';

/**
 * Values that show up in samples and compose files. Production refuses them, because a secret
 * everybody can read in a public file protects nothing.
 */
const PLACEHOLDER_SECRETS = new Set([
  'changeme',
  'change-me',
  'password',
  'admin',
  'secret',
  'placeholder',
  'example',
  'please-change-me',
]);

function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  return (
    PLACEHOLDER_SECRETS.has(v) ||
    v.includes('changeme') ||
    v.includes('change-me') ||
    v.includes('placeholder') ||
    /^(.)\1*$/.test(v)
  );
}

/**
 * Reads and validates every variable at once, so one start reports every mistake.
 * Outside production a missing encryption key is generated into the data directory.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WardenConfig {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';

  const port = parsePort(env.PORT || '3000', problems);
  const host = env.HOST || '0.0.0.0';
  const baseUrl = stripSlash(
    parseUrl('WARDEN_BASE_URL', env.WARDEN_BASE_URL, problems) ?? `http://localhost:${port}`,
  );
  const issuer = env.WARDEN_ISSUER || baseUrl;
  const dataDir = resolve(env.WARDEN_DATA_DIR || './data');

  const database = parseDatabase(
    env.DATABASE_URL ?? `sqlite:${join(dataDir, 'warden.sqlite')}`,
    problems,
  );
  const redisUrl = env.REDIS_URL
    ? parseUrl('REDIS_URL', env.REDIS_URL, problems, ['redis:', 'rediss:'])
    : undefined;

  const signingAlgorithm = (env.WARDEN_SIGNING_ALGORITHM || 'RS256') as SigningAlgorithm;
  if (!SIGNING_ALGORITHMS.includes(signingAlgorithm)) {
    problems.push(`WARDEN_SIGNING_ALGORITHM must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const adminUsername = env.WARDEN_ADMIN_USERNAME || 'admin';
  const adminPassword = env.WARDEN_ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined) {
    if (adminPassword.length < 12)
      problems.push('WARDEN_ADMIN_PASSWORD must have at least 12 characters');
    else if (production && isPlaceholder(adminPassword)) {
      problems.push('WARDEN_ADMIN_PASSWORD is a placeholder; production needs a real secret');
    }
  }

  const upstreamBaseUrl = env.UPSTREAM_BASE_URL
    ? stripSlash(parseUrl('UPSTREAM_BASE_URL', env.UPSTREAM_BASE_URL, problems) ?? '')
    : undefined;
  const cmjBaseUrl = stripSlash(
    parseUrl('CMJ_BASE_URL', env.CMJ_BASE_URL, problems) ?? CMJ_PRODUCTION_URL,
  );
  const connectScopes = (env.CONNECT_SCOPES || 'READ')
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const badScopes = connectScopes.filter((s) => !CONNECT_SCOPES.includes(s));
  if (badScopes.length > 0)
    problems.push(
      `CONNECT_SCOPES holds unknown scopes (${badScopes.join(', ')}); known: ${CONNECT_SCOPES.join(', ')}`,
    );
  const appKey = env.CONNECT_APP_KEY || 'warden';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(appKey))
    problems.push('CONNECT_APP_KEY may hold letters, digits, ".", "_" and "-" (at most 64)');
  const connect = {
    appKey,
    scopes: [...new Set(connectScopes)],
    keysUrl: stripSlash(
      parseUrl('CONNECT_KEYS_URL', env.CONNECT_KEYS_URL, problems) ?? ATLASSIAN_CONNECT_KEYS_URL,
    ),
    keysFallbackUrl: stripSlash(
      parseUrl('CONNECT_KEYS_FALLBACK_URL', env.CONNECT_KEYS_FALLBACK_URL, problems) ??
        (env.CONNECT_KEYS_URL ? '' : ATLASSIAN_CONNECT_KEYS_FALLBACK_URL),
    ),
    authServerUrl: stripSlash(
      parseUrl('CONNECT_AUTH_SERVER_URL', env.CONNECT_AUTH_SERVER_URL, problems) ??
        ATLASSIAN_AUTH_SERVER_URL,
    ),
  };
  const cmj = {
    baseUrl: cmjBaseUrl,
    keysUrl: stripSlash(
      parseUrl('CMJ_KEYS_URL', env.CMJ_KEYS_URL, problems) ?? `${cmjBaseUrl}/keys`,
    ),
    allowHttp: parseBoolean('CMJ_ALLOW_HTTP', env.CMJ_ALLOW_HTTP, problems),
    downloadMaxBytes: parsePositiveInt(
      'CMJ_DOWNLOAD_MAX_BYTES',
      env.CMJ_DOWNLOAD_MAX_BYTES,
      64 * 1024 * 1024,
      problems,
    ),
    jwtIssuer: env.CMJ_JWT_ISSUER || undefined,
    jwtAudience: env.CMJ_JWT_AUDIENCE || undefined,
    downloadHosts: (env.CMJ_DOWNLOAD_HOSTS || new URL(cmjBaseUrl).host)
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  };

  const corsOrigins = (env.WARDEN_CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin)
      problems.push(`WARDEN_CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
  }
  const idpAllowHttpRaw = (env.WARDEN_IDP_ALLOW_HTTP ?? '').toLowerCase();
  if (!['', 'true', 'false'].includes(idpAllowHttpRaw))
    problems.push('WARDEN_IDP_ALLOW_HTTP must be true or false');
  const idpAllowHttp = idpAllowHttpRaw === 'true';

  const encryptionKey = parseEncryptionKey(
    env.WARDEN_ENCRYPTION_KEY,
    production,
    dataDir,
    problems,
  );

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    production,
    port,
    host,
    baseUrl,
    issuer,
    dataDir,
    database,
    redisUrl,
    encryptionKey: encryptionKey!,
    admin: { username: adminUsername, password: adminPassword },
    signingAlgorithm,
    upstreamBaseUrl,
    corsOrigins,
    connect,
    cmj,
    idpAllowHttp,
    logLevel,
  };
}

function parsePort(raw: string, problems: string[]): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`PORT must be an integer between 0 and 65535 (got "${raw}")`);
    return 0;
  }
  return port;
}

function parseUrl(
  name: string,
  raw: string | undefined,
  problems: string[],
  protocols = ['http:', 'https:'],
): string | undefined {
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    if (!protocols.includes(url.protocol)) {
      problems.push(`${name} must use ${protocols.join(' or ')} (got "${url.protocol}")`);
      return undefined;
    }
    return raw;
  } catch {
    problems.push(`${name} is not a valid URL`);
    return undefined;
  }
}

function parseBoolean(name: string, raw: string | undefined, problems: string[]): boolean {
  const value = (raw ?? '').toLowerCase();
  if (!['', 'true', 'false'].includes(value)) problems.push(`${name} must be true or false`);
  return value === 'true';
}

function parsePositiveInt(
  name: string,
  raw: string | undefined,
  fallback: number,
  problems: string[],
): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    problems.push(`${name} must be a positive integer (got "${raw}")`);
    return fallback;
  }
  return value;
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function parseDatabase(raw: string, problems: string[]): WardenConfig['database'] {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!path)
      problems.push('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/warden.sqlite');
    const sqlitePath = path === ':memory:' ? path : isAbsolute(path) ? path : resolve(path);
    return { kind: 'sqlite', url: raw, sqlitePath };
  }
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      problems.push('DATABASE_URL is not a valid postgres:// URL');
    }
    return { kind: 'postgres' as DatabaseKind, url: raw };
  }
  problems.push('DATABASE_URL must start with sqlite: or postgres://');
  return { kind: 'sqlite', url: raw };
}

function parseEncryptionKey(
  raw: string | undefined,
  production: boolean,
  dataDir: string,
  problems: string[],
): WardenConfig['encryptionKey'] | undefined {
  if (raw) {
    const key = Buffer.from(raw, 'base64');
    if (key.length !== 32) {
      problems.push(
        'WARDEN_ENCRYPTION_KEY must be 32 bytes encoded as base64 (openssl rand -base64 32)',
      );
      return undefined;
    }
    if (production && (isPlaceholder(raw) || new Set(key).size < 8)) {
      problems.push('WARDEN_ENCRYPTION_KEY is a placeholder; production needs a random key');
      return undefined;
    }
    return { key };
  }
  if (production) {
    problems.push('WARDEN_ENCRYPTION_KEY is required in production (openssl rand -base64 32)');
    return undefined;
  }
  // Outside production a fresh clone must start with no configuration: keep a generated key
  // beside the database so that restarts can still decrypt what was stored.
  const file = join(dataDir, ENCRYPTION_KEY_FILE);
  try {
    if (existsSync(file)) {
      // A key file others could read (written by an earlier version) is made 0600, and said so.
      const mode = modeOf(file);
      const tightened = tighten(file);
      const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
      if (key.length !== 32) {
        problems.push(`${file} does not hold a 32-byte base64 key`);
        return undefined;
      }
      return tightened ? { key, tightened: { file, mode } } : { key };
    }
    // The folder holds this key and, by default, the database: its owner's only.
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_FOLDER_MODE });
    const key = randomBytes(32);
    writeFileSync(file, key.toString('base64') + '\n', { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    return { key, generatedAt: file };
  } catch (err) {
    problems.push(
      `WARDEN_ENCRYPTION_KEY is unset and ${file} could not be used: ${(err as Error).message}`,
    );
    return undefined;
  }
}
