import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { MigratedUserDto } from '../../auth/directory/dto/directory.dto';
import { illFormedTextAt } from '../../common/text';
import { flattenValidationErrors } from '../../common/validation-errors';
import { DirectoryService } from '../../auth/directory/directory.service';
import { assertValidGroupName } from '../../auth/directory/group-name';
import { DomainError } from '../../common/problem/domain-error';
import { TenantDirectory } from '../../connect/tenants/tenant-directory.service';
import { TenantsRepository } from '../../connect/tenants/tenants.repository';
import { Clock } from '../../common/clock';
import { diff, SettingsService } from '../../settings/settings.service';
import type { OperationProblem } from '../operations/operations-api.client';
import {
  ImportContext,
  ImportReport,
  MigrationChange,
  MigrationHandler,
  MigrationItem,
} from './migration-handler';

type Report = { changes: MigrationChange[]; problems: OperationProblem[]; items: MigrationItem[] };

export const WARDEN_CONFIGURATION = 'warden.configuration';

/** What Warden's own configuration exports: no secret (the settings' secrets are masked). */
export interface WardenConfigurationData {
  settings: Record<string, unknown>;
  groups: string[];
  /** Users and their groups (the groups' members), without passwords or tokens; absent in older exports. */
  users?: MigratedUserDto[];
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
      users: await this.directory.exportUsers(),
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
    const report: Report = { changes: [], problems: [], items: [] };
    if (!isConfiguration(data)) {
      report.problems.push({
        message: 'The Warden configuration in the export is not valid; nothing was imported',
        severity: 'ERROR',
      });
      return report;
    }
    await this.importSettings(data.settings, context.dryRun, report);
    context.progress(1 / 4);
    const groupsHere = await this.importGroups(data.groups, context.dryRun, report);
    context.progress(2 / 4);
    // After the groups: a user's memberships name groups the import has just created.
    await this.importUsers(data.users ?? [], groupsHere, context.dryRun, report);
    context.progress(3 / 4);
    await this.importTenants(data.tenants, context.dryRun, report);
    context.progress(1);
    return report;
  }

  private async importSettings(
    incoming: Record<string, unknown>,
    dryRun: boolean,
    { changes, problems, items }: Report,
  ): Promise<void> {
    const changed = diff(this.settings.masked(), incoming);
    const entries = Object.entries(changed);
    if (entries.length === 0) {
      items.push({ target: 'settings', key: 'settings', outcome: 'skipped', reason: 'unchanged' });
      return;
    }
    try {
      if (dryRun) await this.settings.check(incoming);
      else await this.settings.replace(incoming, { ifMatch: '*', force: true, actor: ACTOR });
      for (const [key, { from, to }] of entries)
        changes.push({ target: 'settings', key, action: 'update', from, to });
      items.push({ target: 'settings', key: 'settings', outcome: 'updated' });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const fields =
        (err.extras.fields?.errors as { field: string; messages: string[] }[] | undefined) ?? [];
      const reason = `${err.detail}${
        fields.length
          ? ` (${fields.map((f) => `${f.field}: ${f.messages.join(', ')}`).join('; ')})`
          : ''
      }`;
      problems.push({ message: `The settings were not imported: ${reason}`, severity: 'ERROR' });
      items.push({ target: 'settings', key: 'settings', outcome: 'failed', reason });
    }
  }

  private async importGroups(
    groups: string[],
    dryRun: boolean,
    { changes, problems, items }: Report,
  ): Promise<Set<string>> {
    const existing = new Set((await this.directory.listGroups()).map((g) => g.name.toLowerCase()));
    for (const name of groups) {
      if (existing.has(name.toLowerCase())) {
        items.push({ target: 'group', key: name, outcome: 'skipped', reason: 'exists' });
        continue;
      }
      try {
        // The directory checks the name itself; a dry run asks the same rule.
        if (dryRun) assertValidGroupName(name);
        else await this.directory.createGroup({ name }, ACTOR);
        changes.push({ target: 'group', key: name, action: 'create' });
        items.push({ target: 'group', key: name, outcome: 'created' });
        existing.add(name.toLowerCase());
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        problems.push({
          // Quoted as JSON: a name from the file may hold control characters.
          message: `Group ${JSON.stringify(name)} was not created: ${err.detail}`,
          severity: 'ERROR',
        });
        items.push({ target: 'group', key: name, outcome: 'failed', reason: err.detail });
      }
    }
    // The group names here once the groups are imported (in a dry run: would be), lower case.
    return existing;
  }

  /**
   * Users with their display name, e-mail, state and groups; never a password or a token (the
   * export has none). In a dry run the groups the import would create count as there.
   */
  private async importUsers(
    users: unknown[],
    groupsHere: Set<string>,
    dryRun: boolean,
    { changes, problems, items }: Report,
  ): Promise<void> {
    for (const raw of users) {
      const key =
        typeof (raw as { username?: unknown })?.username === 'string'
          ? (raw as { username: string }).username
          : (JSON.stringify(raw)?.slice(0, 100) ?? 'unnamed');
      const fail = (reason: string) => {
        problems.push({
          message: `User ${JSON.stringify(key)} was not imported: ${reason}`,
          severity: 'ERROR',
        });
        items.push({ target: 'user', key, outcome: 'failed', reason });
      };
      // Text no database keeps (NUL, half a surrogate pair) is this item's failure, never a 500:
      // the document comes from a download, not through the HTTP body checks.
      const illFormed = illFormedTextAt(raw);
      if (illFormed !== null) {
        fail(`${illFormed || 'the user'} holds a NUL or a lone surrogate`);
        continue;
      }
      const user = plainToInstance(MigratedUserDto, raw);
      const errors = flattenValidationErrors(
        await validate(user, { whitelist: true, forbidUnknownValues: true }),
      );
      if (typeof raw !== 'object' || raw === null || errors.length > 0) {
        fail(errors.map((e) => `${e.field}: ${e.messages.join(', ')}`).join('; ') || 'not a user');
        continue;
      }
      const missing = user.groups.filter((g) => !groupsHere.has(g.toLowerCase()));
      if (missing.length > 0) {
        fail(`its groups ${missing.map((g) => JSON.stringify(g)).join(', ')} are not here`);
        continue;
      }
      try {
        const done = await this.directory.applyMigratedUser(user, dryRun, ACTOR);
        items.push({ target: 'user', key, outcome: done.outcome, reason: done.reason });
        if (done.outcome !== 'skipped')
          changes.push({
            target: 'user',
            key,
            action: done.outcome === 'created' ? 'create' : 'update',
            to: {
              displayName: user.displayName,
              email: user.email,
              disabled: user.disabled,
              groups: user.groups,
            },
          });
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        fail(err.detail);
      }
    }
  }

  private async importTenants(
    tenants: WardenConfigurationData['tenants'],
    dryRun: boolean,
    { changes, problems, items }: Report,
  ): Promise<void> {
    for (const tenant of tenants) {
      const here = await this.tenants.find(tenant.clientKey);
      if (!here) {
        problems.push({
          message: `Connect tenant ${tenant.clientKey} (${tenant.baseUrl}) has not installed the app on this instance; install it there, its settings cannot be carried over`,
          severity: 'WARNING',
        });
        items.push({
          target: 'tenant',
          key: tenant.clientKey,
          outcome: 'skipped',
          reason: 'not installed on this instance',
        });
        continue;
      }
      if (here.enabled === tenant.enabled) {
        items.push({
          target: 'tenant',
          key: tenant.clientKey,
          outcome: 'skipped',
          reason: 'unchanged',
        });
        continue;
      }
      items.push({ target: 'tenant', key: tenant.clientKey, outcome: 'updated' });
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
    (d.users === undefined || Array.isArray(d.users)) &&
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
