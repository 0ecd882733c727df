import { JobLock } from '../common/database/job-lock';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SettingsModule } from '../settings/settings.module';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditController } from './audit.controller';
import { AuditStatsController } from './audit-stats.controller';
import { AuditStatsService } from './audit-stats.service';
import { AuditSink } from './audit.port';
import { AuditQueryService } from './audit-query.service';
import { AuditRepository } from './audit.repository';
import { AuditSettingsLink } from './audit-settings.link';
import { AuditWriter } from './audit-writer.service';
import { AuditRetentionJob } from './retention/audit-retention.job';
import { AuditRetentionService } from './retention/audit-retention.service';

/**
 * Imported by every module that records to AuditSink. Deliberately not global: Nest ends
 * non-global modules before global ones, so the writer's last flush (after the HTTP server has
 * answered its last request) runs while TypeORM's connection, a global module's, is still open.
 */
@Module({
  imports: [SettingsModule, TypeOrmModule.forFeature([AuditEntryEntity])],
  controllers: [AuditController, AuditStatsController],
  providers: [
    JobLock,
    AuditRepository,
    AuditWriter,
    { provide: AuditSink, useExisting: AuditWriter },
    AuditSettingsLink,
    AuditQueryService,
    AuditStatsService,
    AuditRetentionService,
    AuditRetentionJob,
  ],
  exports: [AuditSink, AuditWriter],
})
export class AuditModule {}
