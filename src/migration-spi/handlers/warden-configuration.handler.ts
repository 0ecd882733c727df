import { Injectable } from '@nestjs/common';
import { DirectoryService } from '../../auth/directory/directory.service';
import { assertValidGroupName } from '../../auth/directory/group-name';
import { DomainError } from '../../common/problem/domain-error';
import { TenantDirectory } from '../../connect/tenants/tenant-directory.service';
import { TenantsRepository } from '../../connect/tenants/tenants.repository';
import { Clock } from '../../common/clock';
import { diff, SettingsService } from '../../restrictions/settings.service';
import type { OperationProblem } from '../operations/operations-api.client';
import {
  ImportContext,
  ImportReport,
  MigrationChange,
  MigrationHandler,
} from './migration-handler';

export const WARDEN_CONFIGURATION = 'warden.configuration';

/** What Warden's own configuration exports: no secret (the settings' secrets are masked). */
export interface WardenConfigurationData {
  settings: Record<string, unknown>;
  groups: string[];
  tenants: {
    clientKey: string;
    baseUrl: string;
    displayUrl: string | null;
    productType: string;
    description: string | null;
    enabled: boolean;
  }[];
}

const ACTOR = { username: 'cmj-migration' };

/**
 * Warden's configuration as a migratable data type: the settings document (restriction lists,
 * toggles, IdP settings; secrets stay masked, so the target keeps its own), the groups, and the
 * Connect tenants' non-secret metadata. A tenant is the host that installed the app; on another
 * instance only the same clientKey can be matched (its administrator's switch is carried over);
 * any other tenant is reported, since it must install the app there itself.
 */
@Injectable()
export class WardenConfigurationHandler extends MigrationHandler {
  readonly type = WARDEN_CONFIGURATION;

  constructor(
    private readonly settings: SettingsService,
    private readonly directory: DirectoryService,
    private readonly tenants: TenantsRepository,
    private readonly tenantDirectory: TenantDirectory,
    private readonly clock: Clock,
  ) {
    super();
  }

  async exportData(): Promise<WardenConfigurationData> {
    return {
      settings: this.settings.masked() as unknown as Record<string, unknown>,
      groups: (await this.directory.listGroups()).map((g) => g.name).sort(),
      tenants: (await this.tenants.all()).map((t) => ({
        clientKey: t.clientKey,
        baseUrl: t.baseUrl,
        displayUrl: t.displayUrl,
        productType: t.productType,
        description: t.description,
        enabled: t.enabled,
      })),
    };
  }

  async importData(data: unknown, context: ImportContext): Promise<ImportReport> {
    const problems: OperationProblem[] = [];
    const changes: MigrationChange[] = [];
    if (!isConfiguration(data)) {
      problems.push({
        message: 'The Warden configuration in the export is not valid; nothing was imported',
        severity: 'ERROR',
      });
      return { changes, problems };
    }
    await this.importSettings(data.settings, context.dryRun, changes, problems);
    context.progress(1 / 3);
    await this.importGroups(data.groups, context.dryRun, changes, problems);
    context.progress(2 / 3);
    await this.importTenants(data.tenants, context.dryRun, changes, problems);
    context.progress(1);
    return { changes, problems };
  }

  private async importSettings(
    incoming: Record<string, unknown>,
    dryRun: boolean,
    changes: MigrationChange[],
    problems: OperationProblem[],
  ): Promise<void> {
    const changed = diff(this.settings.masked(), incoming);
    const entries = Object.entries(changed);
    if (entries.length === 0) return;
    try {
      if (dryRun) await this.settings.check(incoming);
      else await this.settings.replace(incoming, { ifMatch: '*', force: true, actor: ACTOR });
      for (const [key, { from, to }] of entries)
        changes.push({ target: 'settings', key, action: 'update', from, to });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const fields =
        (err.extras.fields?.errors as { field: string; messages: string[] }[] | undefined) ?? [];
      problems.push({
        message: `The settings were not imported: ${err.detail}${
          fields.length
            ? ` (${fields.map((f) => `${f.field}: ${f.messages.join(', ')}`).join('; ')})`
            : ''
        }`,
        severity: 'ERROR',
      });
    }
  }

  private async importGroups(
    groups: string[],
    dryRun: boolean,
    changes: MigrationChange[],
    problems: OperationProblem[],
  ): Promise<void> {
    const existing = new Set((await this.directory.listGroups()).map((g) => g.name.toLowerCase()));
    for (const name of groups) {
      if (existing.has(name.toLowerCase())) continue;
      try {
        // The directory checks the name itself; a dry run asks the same rule.
        if (dryRun) assertValidGroupName(name);
        else await this.directory.createGroup({ name }, ACTOR);
        changes.push({ target: 'group', key: name, action: 'create' });
        existing.add(name.toLowerCase());
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        problems.push({
          // Quoted as JSON: a name from the file may hold control characters.
          message: `Group ${JSON.stringify(name)} was not created: ${err.detail}`,
          severity: 'ERROR',
        });
      }
    }
  }

  private async importTenants(
    tenants: WardenConfigurationData['tenants'],
    dryRun: boolean,
    changes: MigrationChange[],
    problems: OperationProblem[],
  ): Promise<void> {
    for (const tenant of tenants) {
      const here = await this.tenants.find(tenant.clientKey);
      if (!here) {
        problems.push({
          message: `Connect tenant ${tenant.clientKey} (${tenant.baseUrl}) has not installed the app on this instance; install it there, its settings cannot be carried over`,
          severity: 'WARNING',
        });
        continue;
      }
      if (here.enabled === tenant.enabled) continue;
      changes.push({
        target: 'tenant',
        key: tenant.clientKey,
        action: 'update',
        from: { enabled: here.enabled },
        to: { enabled: tenant.enabled },
      });
      if (!dryRun) {
        const row = await this.tenants.setEnabled(
          tenant.clientKey,
          tenant.enabled,
          new Date(this.clock.now()),
        );
        if (row) this.tenantDirectory.changed(row);
      }
    }
  }
}

function isConfiguration(data: unknown): data is WardenConfigurationData {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    typeof d.settings === 'object' &&
    d.settings !== null &&
    !Array.isArray(d.settings) &&
    Array.isArray(d.groups) &&
    d.groups.every((g) => typeof g === 'string') &&
    Array.isArray(d.tenants) &&
    d.tenants.every(
      (t) =>
        typeof t === 'object' &&
        t !== null &&
        typeof (t as Record<string, unknown>).clientKey === 'string' &&
        typeof (t as Record<string, unknown>).enabled === 'boolean',
    )
  );
}
