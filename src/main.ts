import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/load-config';
import { createApp } from './app.factory';
import { createRootLogger } from './common/logging';
import { DirectoryService } from './auth/directory/directory.service';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createRootLogger(config.logLevel);
  if (config.encryptionKey.generatedAt) {
    logger.warn(
      `WARDEN_ENCRYPTION_KEY is not set: generated one into ${config.encryptionKey.generatedAt}. Keep that file; set WARDEN_ENCRYPTION_KEY in production.`,
    );
  }
  if (config.encryptionKey.tightened) {
    const { file, mode } = config.encryptionKey.tightened;
    logger.warn(`${file} could be read by other users (mode ${mode}); made it 600`);
  }
  const app = await createApp(config, { logger });
  const admin = await app.get(DirectoryService).ensureBootstrapAdmin();
  await app.listen({ port: config.port, host: config.host });
  if (admin?.generatedPassword) {
    logger.warn(
      `Created administrator "${admin.username}" with the generated password: ${admin.generatedPassword}  (shown once; change it with PATCH /admin/users/${admin.username})`,
    );
  } else if (admin) {
    logger.info(
      `Created administrator "${admin.username}" with the password from WARDEN_ADMIN_PASSWORD`,
    );
  }
  logger.info(
    `Warden listens on ${config.host}:${config.port}; operator console at ${config.baseUrl}/console/, API explorer at ${config.baseUrl}/docs (sign in with an admin's username and password)`,
  );
}

void main().catch((err) => {
  process.stderr.write(
    `Warden failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
