import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/load-config';
import { buildDataSourceOptions } from './src/database/data-source';

/** The DataSource for the TypeORM CLI: `npx typeorm-ts-node-commonjs -d ormconfig.ts migration:run`. */
export default new DataSource(buildDataSourceOptions(loadConfig()));
