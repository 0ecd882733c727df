import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditModule } from './audit/audit.module';
import { MetricsModule } from './metrics/metrics.module';
import { ClockModule } from './common/clock';
import { InvalidationModule } from './common/invalidation/invalidation.module';
import { SettingsModule } from './settings/settings.module';
import { AuthModule } from './auth/auth.module';
import { ProblemFilter } from './common/problem/problem.filter';
import { ConfigModule } from './config/config.module';
import { WardenConfig } from './config/warden-config';
import { buildDataSourceOptions } from './database/data-source';
import { runMigrations } from './database/migrate';
import { SqliteCheckpointer } from './database/sqlite-checkpointer';
import { HealthController } from './health/health.controller';
import { TokensModule } from './tokens/tokens.module';
import { ConnectModule } from './connect/connect.module';
import { MigrationSpiModule } from './migration-spi/migration-spi.module';
import { RestrictionsModule } from './restrictions/restrictions.module';
import { ScheduleModule } from '@nestjs/schedule';

@Module({})
export class AppModule {
  /**
   * `databaseRetries`: how many times a database that does not answer at start is tried again
   * (TypeORM's default, 9 over some 27 s, for the service; the CLI says at once).
   */
  static forRoot(config: WardenConfig, options: { databaseRetries?: number } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            ...buildDataSourceOptions(config),
            ...(options.databaseRetries === undefined
              ? {}
              : { retryAttempts: options.databaseRetries }),
          }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            await runMigrations(dataSource);
            return dataSource;
          },
        }),
        ClockModule,
        InvalidationModule,
        MetricsModule,
        SettingsModule,
        AuditModule,
        AuthModule,
        TokensModule,
        ConnectModule,
        MigrationSpiModule,
        RestrictionsModule,
        ScheduleModule.forRoot(),
      ],
      controllers: [HealthController],
      providers: [{ provide: APP_FILTER, useClass: ProblemFilter }, SqliteCheckpointer],
    };
  }
}
