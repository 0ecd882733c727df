import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { SettingsService } from '../settings/settings.service';
import { AuditWriter } from './audit-writer.service';

/**
 * Keeps the writer on `settings.audit.enabled` and records each change saved here as
 * `settings.changed`. The settings tell rather than record: the audit depends on them, so
 * they cannot depend on it.
 */
@Injectable()
export class AuditSettingsLink implements OnApplicationBootstrap {
  constructor(
    private readonly settings: SettingsService,
    private readonly writer: AuditWriter,
  ) {
    settings.onSaved((saved) =>
      writer.record({
        event: 'settings.changed',
        outcome: 'success',
        actor: saved.actor.username,
        requestId: saved.actor.requestId,
        ip: saved.actor.ip,
        details: { version: saved.version, changes: saved.changes, forced: saved.forced },
      }),
    );
  }

  onApplicationBootstrap(): void {
    this.writer.setEnabled(this.settings.get().audit.enabled);
    this.settings.onChange((settings) => this.writer.setEnabled(settings.audit.enabled));
  }
}
