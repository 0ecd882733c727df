import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditController } from './audit.controller';
import { AuditSink } from './audit.port';
import { AuditQueryService } from './audit-query.service';
import { AuditRepository } from './audit.repository';
import { AuditSettingsLink } from './audit-settings.link';
import { AuditWriter } from './audit-writer.service';
import { AuditRetentionJob } from './retention/audit-retention.job';
import { AuditRetentionService } from './retention/audit-retention.service';

/**
 * Global: every module records to AuditSink. Its shutdown hook (the last flush) runs before the
 * database closes: Nest ends global modules in the reverse order they were registered, and
 * AppModule imports this one after TypeORM's.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEntryEntity])],
  controllers: [AuditController],
  providers: [
    AuditRepository,
    AuditWriter,
    { provide: AuditSink, useExisting: AuditWriter },
    AuditSettingsLink,
    AuditQueryService,
    AuditRetentionService,
    AuditRetentionJob,
  ],
  exports: [AuditSink, AuditWriter],
})
export class AuditModule {}
