import { Logger } from '@nestjs/common';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { modeOf, OTHERS, PRIVATE_FOLDER_MODE, tighten } from '../config/private-files';

/** The database holds password hashes, token hashes and sealed secrets: its owner's only. */
const logger = new Logger('database');

/** The database file and the two SQLite keeps beside it in WAL mode. */
export function sqliteFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`];
}

/**
 * Before SQLite opens `path`: its folder is created for the owner only (TypeORM would create it
 * 0755), and files left readable by others by an earlier version are tightened, with a warning.
 * An existing folder is not changed (it may be shared, e.g. a mounted volume): a warning says
 * it is open.
 */
export function prepareSqliteFiles(path: string): void {
  if (path === ':memory:') return;
  const folder = dirname(path);
  if (!existsSync(folder)) {
    mkdirSync(folder, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  } else if ((statSync(folder).mode & OTHERS) !== 0) {
    logger.warn(
      `The database folder ${folder} can be read by other users (mode ${modeOf(folder)}); chmod 700 it`,
    );
  }
  for (const file of sqliteFiles(path)) {
    if (!existsSync(file)) continue;
    const before = modeOf(file);
    if (tighten(file))
      logger.warn(`${file} could be read by other users (mode ${before}); made it 600`);
  }
}

/**
 * Right after SQLite opens `path`: a file it has just created carries the process umask (0644,
 * usually) and is made 0600 before anything is written to it. The -wal and -shm files SQLite
 * creates later take the database file's mode, so they are 0600 from their first byte.
 */
export function tightenOpenedSqliteFile(path: string): void {
  if (path === ':memory:') return;
  for (const file of sqliteFiles(path)) if (existsSync(file)) tighten(file);
}
