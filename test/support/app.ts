import { missingServices, Service } from './services';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.factory';
import { DirectoryService } from '../../src/auth/directory/directory.service';
import { SettingsService } from '../../src/settings/settings.service';
import { WardenConfig } from '../../src/config/warden-config';
import { testConfig } from './config';
import { createTestDatabase, requirePostgres } from './postgres';

export interface TestApp {
  app: NestFastifyApplication;
  config: WardenConfig;
  env: Record<string, string>;
  /** Base URL of the listening server, e.g. http://127.0.0.1:40123 */
  url: string;
  dataSource: DataSource;
  close: () => Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Settings to apply before the first request, as an admin's PATCH would. */
  settings?: Record<string, unknown>;
  database?: 'sqlite' | 'postgres';
  logger?: import('pino').Logger;
}

/**
 * A real Warden listening on a loopback port, on its own SQLite file (or its own PostgreSQL
 * database), with the bootstrap admin created as `npm start` does.
 */
export async function startApp(options: StartOptions = {}): Promise<TestApp> {
  const env = { ...(options.env ?? {}) };
  let dropDatabase: (() => Promise<void>) | undefined;
  if (options.database === 'postgres') {
    const db = await createTestDatabase();
    env.DATABASE_URL = db.url;
    dropDatabase = db.drop;
  }
  const { config, env: fullEnv, cleanup } = testConfig(env);
  const app = await createApp(config, { logger: options.logger });
  if (options.settings) {
    await app
      .get(SettingsService)
      .patch(options.settings, { ifMatch: '*', force: true, actor: { username: 'test-setup' } });
  }
  await app.get(DirectoryService).ensureBootstrapAdmin();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    config,
    env: fullEnv,
    url: `http://127.0.0.1:${port}`,
    dataSource: app.get(DataSource),
    close: async () => {
      await app.close();
      cleanup();
      await dropDatabase?.();
    },
  };
}

/** Runs a suite against both databases: SQLite always, PostgreSQL when available (required under CI). */
export const DATABASES: ('sqlite' | 'postgres')[] = ['sqlite', 'postgres'];

export async function databaseReady(kind: 'sqlite' | 'postgres'): Promise<boolean> {
  return kind === 'sqlite' ? true : requirePostgres();
}

/**
 * `it` for tests that need services which may be absent: outside CI, a test whose service the
 * global setup found missing is registered as skipped, so Jest's summary counts it as such; under
 * CI it runs, and the suite's own check (requirePostgres, requireNginx…) fails it.
 */
export function itWhen(...needs: Service[]) {
  const missing = process.env.CI ? [] : missingServices(needs);
  return (name: string, fn: () => Promise<void>, timeoutMs?: number) =>
    missing.length > 0
      ? it.skip(`${name} (needs ${missing.join(', ')})`, fn, timeoutMs)
      : it(name, fn, timeoutMs);
}
