import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { CRON_TIME_ZONE } from '../../common/cron';
import { DEFAULT_SETTINGS } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { AuditRetentionService } from './audit-retention.service';

export const RETENTION_JOB_NAME = 'audit-retention';
/** Cron expressions in the settings are read in UTC, whatever the host's zone. */
export const PURGE_TIME_ZONE = CRON_TIME_ZONE;

/**
 * Schedules the retention run with @nestjs/schedule's registry, on `settings.audit.purgeCron`;
 * a changed expression (from any instance) replaces the job at once, without a restart.
 *
 * The service is never left without a job: a new expression is built and asked for its next
 * firing before the job in force is replaced, so one that cannot be scheduled (it never fires)
 * leaves the old job running; at start, where there is no old job, the default expression
 * stands in. The settings refuse such an expression, but a database written by an older
 * version may hold one.
 */
@Injectable()
export class AuditRetentionJob implements OnApplicationBootstrap {
  private readonly logger = new Logger('audit-retention');
  private cron: string | null = null;
  /** The last expression refused, so that it is reported once, not on every settings change. */
  private refused: string | null = null;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly settings: SettingsService,
    private readonly retention: AuditRetentionService,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(this.settings.get().audit.purgeCron);
    this.settings.onChange((settings) => this.schedule(settings.audit.purgeCron));
  }

  /** The expression of the job in force (the default one while the stored one cannot be scheduled). */
  get expression(): string | null {
    return this.cron;
  }

  nextRunAt(): Date | null {
    if (!this.cron) return null;
    return this.registry.getCronJob(RETENTION_JOB_NAME).nextDate().toJSDate();
  }

  private schedule(cron: string): void {
    if (cron === this.cron) return;
    let job = this.build(cron);
    if (!job) {
      if (this.cron !== null) {
        if (this.refused !== cron)
          this.logger.error(
            `Audit retention cannot be scheduled on "${cron}" (it never fires); it keeps running on "${this.cron}"`,
          );
        this.refused = cron;
        return;
      }
      const fallback = DEFAULT_SETTINGS.audit.purgeCron;
      this.logger.error(
        `Audit retention cannot be scheduled on the stored "${cron}" (it never fires); it runs on the default "${fallback}" until the settings hold an expression that does`,
      );
      this.refused = cron;
      job = this.build(fallback);
      if (!job) throw new Error(`The default retention cron "${fallback}" cannot be scheduled`);
      cron = fallback;
    } else {
      this.refused = null;
    }
    if (this.registry.doesExist('cron', RETENTION_JOB_NAME))
      this.registry.deleteCronJob(RETENTION_JOB_NAME);
    this.registry.addCronJob(RETENTION_JOB_NAME, job);
    job.start();
    if (this.cron) this.logger.log(`Audit retention rescheduled: "${this.cron}" → "${cron}"`);
    this.cron = cron;
  }

  /** A stopped job on `cron`, or null when the expression does not parse or never fires. */
  private build(cron: string): CronJob | null {
    try {
      const job = CronJob.from({
        cronTime: cron,
        timeZone: PURGE_TIME_ZONE,
        start: false,
        onTick: () => this.retention.purgeOnSchedule(this.nextRunAt()),
      });
      // Throws for an expression that parses but has no firing (30 February).
      job.nextDate();
      return job;
    } catch {
      return null;
    }
  }
}
