import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/load-config';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** What `docker compose` does with `${VAR}`, `${VAR:-default}` and `${VAR:?message}`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_m, name, kind, rest) => {
    if (env[name] !== undefined && env[name] !== '') return env[name];
    if (kind === '-') return rest;
    throw new Error(`${name} is required: ${rest}`);
  });
}

describe('docker-compose.yml: the scaled shape', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, Record<string, any>>;
    volumes: Record<string, unknown>;
  };
  const wardens = Object.entries(compose.services).filter(([name]) => name.startsWith('warden-'));
  const secrets = {
    WARDEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    WARDEN_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
    POSTGRES_PASSWORD: randomBytes(16).toString('hex'),
  };

  it('runs two Warden instances, PostgreSQL, Redis and nginx', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['nginx', 'postgres', 'protected-api', 'redis', 'warden-1', 'warden-2'].sort(),
    );
    expect(wardens).toHaveLength(2);
  });

  it('gives each instance only variables Warden reads, and a configuration Warden accepts in production', () => {
    for (const [, service] of wardens) {
      const environment = service.environment as Record<string, string>;
      for (const name of Object.keys(environment)) expect(CONFIG_VARIABLES).toContain(name);
      const env = Object.fromEntries(
        Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), secrets)]),
      );
      const config = loadConfig({ ...env, WARDEN_DATA_DIR: '/data' });
      expect(config.production).toBe(true);
      expect(config.database.kind).toBe('postgres');
      expect(new URL(config.database.url!).hostname).toBe('postgres');
      expect(new URL(config.redisUrl!).hostname).toBe('redis');
      expect(config.port).toBe(3000);
      // The shared secrets are the operator's, never written in the file.
      expect(String(environment.WARDEN_ENCRYPTION_KEY)).toMatch(/^\$\{WARDEN_ENCRYPTION_KEY:\?/);
      expect(String(environment.WARDEN_ADMIN_PASSWORD)).toMatch(/^\$\{WARDEN_ADMIN_PASSWORD:\?/);
    }
  });

  it('refuses to start without the secrets', () => {
    const [, service] = wardens[0];
    expect(() => interpolate(String(service.environment.WARDEN_ENCRYPTION_KEY), {})).toThrow(
      /WARDEN_ENCRYPTION_KEY is required/,
    );
  });

  it('waits for healthy PostgreSQL and Redis, and asks each instance /health/ready', () => {
    for (const [, service] of wardens) {
      expect(service.depends_on.postgres.condition).toBe('service_healthy');
      expect(service.depends_on.redis.condition).toBe('service_healthy');
      expect(service.healthcheck.test.join(' ')).toContain('/health/ready');
      // Each keeps its data directory (where the image's WARDEN_DATA_DIR points) on a volume.
      const [volume, path] = String(service.volumes[0]).split(':');
      expect(path).toBe('/data');
      expect(compose.volumes).toHaveProperty(volume);
    }
    expect(read('Dockerfile')).toMatch(/WARDEN_DATA_DIR=\/data/);
    expect(read('Dockerfile')).toMatch(/EXPOSE 3000/);
  });

  it('puts nginx in front with docs/nginx.conf, balancing over both instances on their port', () => {
    const nginx = compose.services.nginx;
    expect(nginx.ports).toEqual(['8080:80']);
    expect(nginx.volumes).toContain('./docs/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    const conf = read('docs/nginx.conf');
    expect(conf).toMatch(/listen 80;/);
    const upstream = /upstream warden \{([^}]*)\}/.exec(conf)![1];
    const servers = [...upstream.matchAll(/server ([\w-]+):(\d+);/g)].map((m) => [m[1], m[2]]);
    expect(servers).toEqual(wardens.map(([name]) => [name, '3000']));
    const protectedApi = /upstream protected_api \{([^}]*)\}/.exec(conf);
    if (protectedApi) expect(protectedApi[1]).toContain('protected-api:');
  });
});

describe('README: every variable Warden reads is documented', () => {
  const readme = read('README.md');

  it.each(CONFIG_VARIABLES.map((v) => [v]))('%s', (name) => {
    expect(readme).toContain(`\`${name}\``);
  });

  it('and load-config reads no variable the list leaves out', () => {
    const source = read('src/config/load-config.ts');
    const read_ = new Set([...source.matchAll(/env\.([A-Z_]+)/g)].map((m) => m[1]));
    for (const name of read_) expect(CONFIG_VARIABLES).toContain(name);
  });
});
