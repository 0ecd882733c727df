import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { SettingsService } from '../../restrictions/settings.service';
import { AuditRetentionService } from './audit-retention.service';

const JOB_NAME = 'audit-retention';
/** Cron expressions in the settings are read in UTC, whatever the host's zone. */
export const PURGE_TIME_ZONE = 'UTC';

/**
 * Schedules the retention run with @nestjs/schedule's registry, on `settings.audit.purgeCron`;
 * a changed expression (from any instance) replaces the job at once, without a restart.
 */
@Injectable()
export class AuditRetentionJob implements OnApplicationBootstrap {
  private readonly logger = new Logger('audit-retention');
  private cron: string | null = null;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly settings: SettingsService,
    private readonly retention: AuditRetentionService,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(this.settings.get().audit.purgeCron);
    this.settings.onChange((settings) => this.schedule(settings.audit.purgeCron));
  }

  get expression(): string | null {
    return this.cron;
  }

  nextRunAt(): Date | null {
    if (!this.cron) return null;
    return this.registry.getCronJob(JOB_NAME).nextDate().toJSDate();
  }

  private schedule(cron: string): void {
    if (cron === this.cron) return;
    if (this.registry.doesExist('cron', JOB_NAME)) this.registry.deleteCronJob(JOB_NAME);
    const job = CronJob.from({
      cronTime: cron,
      timeZone: PURGE_TIME_ZONE,
      onTick: () => this.retention.purgeOnSchedule(this.nextRunAt()),
    });
    this.registry.addCronJob(JOB_NAME, job);
    job.start();
    if (this.cron) this.logger.log(`Audit retention rescheduled: "${this.cron}" → "${cron}"`);
    this.cron = cron;
  }
}
