import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/load-config';
import { buildDataSourceOptions } from './src/database/data-source';

/**
 * The DataSource the TypeORM CLI loads (`npx typeorm-ts-node-commonjs -d ormconfig.ts migration:show`,
 * with ts-node at hand); built from the same options as the application. `npm run cli -- migrate`
 * applies migrations without either.
 */
export default new DataSource(buildDataSourceOptions(loadConfig()));
