import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { SettingsService } from '../restrictions/settings.service';
import { AuditWriter } from './audit-writer.service';

/**
 * Keeps the writer on `settings.audit.enabled`. A provider of its own because the settings
 * service itself writes to the audit (settings.changed): the writer cannot depend on it.
 */
@Injectable()
export class AuditSettingsLink implements OnApplicationBootstrap {
  constructor(
    private readonly settings: SettingsService,
    private readonly writer: AuditWriter,
  ) {}

  onApplicationBootstrap(): void {
    this.writer.setEnabled(this.settings.get().audit.enabled);
    this.settings.onChange((settings) => this.writer.setEnabled(settings.audit.enabled));
  }
}
