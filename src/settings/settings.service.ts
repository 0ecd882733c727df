import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { identityProviderProblems, settingsWarnings, SettingsWarning } from './external-jwt.rules';
import { completeProviders, upgradeExternalJwt } from './legacy-external-jwt';
import { isSecretKey, maskedWithin, SEALED_SETTINGS_PATHS, secretSlots } from './settings-secrets';
import { SecretBox } from '../common/crypto/secret-box';
import { InvalidationBus } from '../common/invalidation/invalidation-bus';
import { RefreshedView } from '../common/invalidation/refreshed-view';
import { DomainError, Problems } from '../common/problem/domain-error';
import { flattenValidationErrors } from '../common/validation-errors';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { SettingsDto } from './dto/settings.dto';
import { DEFAULT_SETTINGS, MASK, Settings } from './settings.defaults';
import { SettingsRepository } from './settings.repository';

/** How often the stored version is compared, in case a pub/sub message was lost or Redis is absent. */
export const SETTINGS_POLL_MS = 1000;
const MAX_ERRORS_LISTED = 50;

export interface SettingsActor {
  username: string;
  requestId?: string;
  ip?: string;
}

/** Decides whether a new document would lock out the admin who is saving it (lock-out rules live with the restrictions). */
export type LockoutCheck = (next: Settings, actor: SettingsActor) => string[];

/** A change saved through this instance: who made it, and what changed (secrets masked). */
export interface SettingsSaved {
  actor: SettingsActor;
  version: number;
  changes: Record<string, { from: unknown; to: unknown }>;
  /** Saved over a lock-out warning. */
  forced: boolean;
}

export interface SettingsWrite {
  ifMatch: string | undefined;
  actor: SettingsActor;
  force: boolean;
  lockout?: LockoutCheck;
}

/**
 * The settings document: one row, versioned, cached in memory and read synchronously on every
 * request. A change is compare-and-set on the version (If-Match), announced on the invalidation
 * bus, and picked up by polling the version when a message is lost.
 */
@Injectable()
export class SettingsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SettingsService.name);
  private readonly box: SecretBox;
  private current: Settings = structuredClone(DEFAULT_SETTINGS);
  private version = 0;
  private listeners: ((settings: Settings) => void)[] = [];
  private savedListeners: ((saved: SettingsSaved) => void)[] = [];
  private currentWarnings: SettingsWarning[] = [];
  private readonly view: RefreshedView;

  constructor(
    private readonly repository: SettingsRepository,
    private readonly bus: InvalidationBus,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    this.box = new SecretBox(config.encryptionKey.key);
    this.view = new RefreshedView({
      bus,
      channel: 'settings',
      pollMs: SETTINGS_POLL_MS,
      refresh: () => this.reloadIfChanged(),
      onError: (err) => this.logger.warn({ err }, 'Settings reload failed; retrying'),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.repository.createIfMissing(this.serialize(DEFAULT_SETTINGS));
    await this.reload();
    this.view.start();
  }

  onModuleDestroy(): void {
    this.view.stop();
  }

  /** The settings in force; never waits on the database. */
  get(): Settings {
    return this.current;
  }

  /** What an administrator should know of the document in force (logged when it first holds). */
  warnings(): readonly SettingsWarning[] {
    return this.currentWarnings;
  }

  etag(): string {
    return `"${this.version}"`;
  }

  /** Called after every change, on every instance (to reschedule jobs, rebuild matchers…). */
  onChange(listener: (settings: Settings) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Called after a change saved through this instance (not on the others), for the audit: the
   * settings come before the audit, which depends on them, so they tell rather than record.
   */
  onSaved(listener: (saved: SettingsSaved) => void): void {
    this.savedListeners.push(listener);
  }

  /** The document for display: secrets replaced by a mask. */
  masked(settings: Settings = this.current): Settings {
    const copy = structuredClone(settings);
    for (const slot of secretSlots(copy)) if (slot.get() !== null) slot.set(MASK);
    return copy;
  }

  async replace(document: unknown, write: SettingsWrite): Promise<Settings> {
    return this.write(document, write);
  }

  /**
   * Takes up a document another repository changed in its own transaction (a group renamed in
   * the lists that name it) and tells the other instances, as a change made here would.
   */
  async storedChanged(): Promise<void> {
    await this.reload();
    this.bus.publish('settings', String(this.version));
  }

  /** Validates a whole document as `replace` would, without saving it (a dry run). */
  async check(document: unknown): Promise<Settings> {
    return this.validated(this.unmask(upgraded(document)));
  }

  /** JSON merge patch (RFC 7396) over the current document; arrays are replaced, `null` is a value. */
  async patch(patch: unknown, write: SettingsWrite): Promise<Settings> {
    if (!isObject(patch))
      throw Problems.badRequest('A settings patch must be a JSON object', 'validation_failed');
    return this.write(mergePatch(this.current, patch), write);
  }

  private async write(candidate: unknown, write: SettingsWrite): Promise<Settings> {
    const expected = this.expectedVersion(write.ifMatch);
    const next = await this.validated(this.unmask(upgraded(candidate)));
    const lockout = write.lockout?.(next, write.actor) ?? [];
    if (lockout.length > 0 && !write.force) {
      throw new DomainError(
        409,
        'lockout',
        'Conflict',
        `This change would lock you out: ${lockout.join('; ')}. Repeat it with force=true to apply it anyway.`,
        {
          fields: { lockout },
        },
      );
    }
    const before = this.current;
    const ok = await this.repository.replace(expected, this.serialize(next), write.actor.username);
    if (!ok) throw preconditionFailed();
    await this.reload();
    this.bus.publish('settings', String(this.version));
    const saved: SettingsSaved = {
      actor: write.actor,
      version: this.version,
      changes: maskedDiff(before, next),
      forced: lockout.length > 0,
    };
    for (const listener of this.savedListeners) listener(saved);
    return next;
  }

  private expectedVersion(ifMatch: string | undefined): number {
    if (ifMatch === undefined) {
      throw new DomainError(
        428,
        'precondition_required',
        'Precondition Required',
        'Send If-Match with the ETag of the settings you read, so concurrent changes cannot overwrite each other',
      );
    }
    if (ifMatch.trim() === '*') return this.version;
    const match = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(ifMatch);
    if (!match || Number(match[1]) !== this.version) throw preconditionFailed();
    return this.version;
  }

  private async validated(candidate: unknown): Promise<Settings> {
    if (!isObject(candidate))
      throw Problems.badRequest('The settings must be a JSON object', 'validation_failed');
    const instance = plainToInstance(SettingsDto, candidate);
    const errors = flattenValidationErrors(
      await validate(instance, { whitelist: true, forbidNonWhitelisted: true }),
    );
    const next = candidate as unknown as Settings;
    if (errors.length === 0 && next.tokens.accessTtlSeconds > next.tokens.refreshTtlSeconds) {
      errors.push({
        field: 'tokens.accessTtlSeconds',
        messages: ['accessTtlSeconds must not exceed refreshTtlSeconds'],
      });
    }
    if (errors.length === 0) {
      errors.push(
        ...identityProviderProblems(next, {
          wardenIssuer: this.config.issuer,
          allowHttp: this.config.idpAllowHttp,
        }),
      );
    }
    if (errors.length > 0) {
      throw Problems.badRequest(
        `The settings are not valid: ${errors
          .map((e) => e.field)
          .slice(0, MAX_ERRORS_LISTED)
          .join(', ')}`,
        'validation_failed',
        {
          errors: errors.slice(0, MAX_ERRORS_LISTED),
        },
      );
    }
    return structuredClone(next);
  }

  /**
   * A secret sent back as the mask keeps its stored value: a list entry's, that of the stored
   * entry of the same name. A mask with no stored secret behind it (a new entry, an export from
   * another instance) is no secret: null.
   */
  private unmask(candidate: unknown): unknown {
    if (!isObject(candidate)) return candidate;
    const copy = structuredClone(candidate);
    const stored = new Map(secretSlots(this.current).map((slot) => [slot.key, slot.get()]));
    for (const slot of secretSlots(copy)) {
      const value = stored.get(slot.key);
      if (slot.get() === MASK) slot.set(typeof value === 'string' ? value : null);
    }
    return copy;
  }

  /** Compares the stored version (a cheap read) before taking the whole document. */
  private async reloadIfChanged(): Promise<void> {
    const version = await this.repository.version();
    if (version !== null && version !== this.version) await this.reload();
  }

  private async reload(): Promise<void> {
    const row = await this.repository.load();
    if (!row || row.version === this.version) return;
    const stored = JSON.parse(row.document) as Record<string, unknown>;
    for (const slot of secretSlots(stored, SEALED_SETTINGS_PATHS)) {
      const sealed = slot.get();
      if (typeof sealed === 'string') slot.set(this.box.openText(sealed, slot.context));
    }
    // Fields added by newer versions of the document get their defaults.
    const document = mergePatch(DEFAULT_SETTINGS, stored);
    const legacy = upgradeExternalJwt(document);
    completeProviders(document);
    this.current = document as unknown as Settings;
    this.version = row.version;
    // Left by the upgrade (its client secret is re-sealed under the new path, which takes the
    // key migrations do not have), or written around the API by an older version: stored in
    // the new shape once, by whichever instance gets there first.
    if (legacy) await this.storeUpgraded(row.version);
    this.warn(settingsWarnings(this.current));
    for (const listener of this.listeners) {
      try {
        listener(this.current);
      } catch (err) {
        this.logger.error({ err }, 'Settings listener failed');
      }
    }
  }

  private async storeUpgraded(version: number): Promise<void> {
    try {
      const stored = await this.repository.replace(
        version,
        this.serialize(this.current),
        'upgrade',
      );
      if (!stored) return;
      this.version = version + 1;
      this.logger.warn(
        'Settings: the externalJwt block was moved into identityProviders as the provider named "default"',
      );
    } catch (err) {
      // Served in the new shape all the same; the next start tries again.
      this.logger.warn({ err }, 'Settings: the upgraded document could not be stored');
    }
  }

  /** Logs each warning once, when it first holds (at start, or after a change elsewhere). */
  private warn(warnings: SettingsWarning[]): void {
    const before = new Set(this.currentWarnings.map((w) => `${w.field}\n${w.message}`));
    for (const w of warnings)
      if (!before.has(`${w.field}\n${w.message}`))
        this.logger.warn({ field: w.field }, `Settings: ${w.field}: ${w.message}`);
    this.currentWarnings = warnings;
  }

  private serialize(settings: Settings): string {
    const copy = structuredClone(settings);
    for (const slot of secretSlots(copy)) {
      const value = slot.get();
      if (typeof value === 'string') slot.set(this.box.seal(value, slot.context));
    }
    return JSON.stringify(copy);
  }
}

function preconditionFailed(): DomainError {
  return new DomainError(
    412,
    'precondition_failed',
    'Precondition Failed',
    'The settings changed since you read them; read them again (new ETag) and reapply your change',
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function mergePatch(
  target: unknown,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const base = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    base[key] =
      isObject(value) && isObject(base[key])
        ? mergePatch(base[key], value)
        : structuredClone(value);
  }
  return base;
}

/** A candidate document in today's shape: an `externalJwt` block moved, entries completed. */
function upgraded(candidate: unknown): unknown {
  if (!isObject(candidate)) return candidate;
  const copy = structuredClone(candidate);
  upgradeExternalJwt(copy);
  completeProviders(copy);
  return copy;
}

/**
 * The changes with secrets masked: a secret that changed (set, replaced, cleared) is named, its
 * values shown only as the mask or null.
 */
function maskedDiff(before: Settings, after: Settings): ReturnType<typeof diff> {
  const changes = diff(before, after);
  for (const [key, change] of Object.entries(changes)) {
    changes[key] = isSecretKey(key)
      ? { from: change.from == null ? null : MASK, to: change.to == null ? null : MASK }
      : { from: maskedWithin(key, change.from), to: maskedWithin(key, change.to) };
  }
  return changes;
}

/**
 * Changed leaves as `path: {from, to}`. Arrays compare whole, except lists of named entries
 * (identityProviders), compared entry by entry as `list[name].field`.
 */
export function diff(
  before: unknown,
  after: unknown,
  prefix = '',
): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  if (namedList(before) && namedList(after)) {
    const was = new Map(before.map((e) => [e.name, e]));
    const is = new Map(after.map((e) => [e.name, e]));
    for (const name of new Set([...was.keys(), ...is.keys()]))
      Object.assign(out, diff(was.get(name), is.get(name), `${prefix}[${name}]`));
    return out;
  }
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      Object.assign(out, diff(before[key], after[key], prefix ? `${prefix}.${key}` : key));
    }
    return out;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out[prefix] = { from: before, to: after };
  return out;
}

function namedList(value: unknown): value is { name: string }[] {
  if (!Array.isArray(value)) return false;
  const names = value.map((e) => (isObject(e) && typeof e.name === 'string' ? e.name : null));
  return !names.includes(null) && new Set(names).size === names.length;
}
