import { Inject, Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AuditSink } from '../audit/audit.port';
import { Clock } from '../common/clock';
import { Principal } from '../common/principal';
import { DomainError, Problems } from '../common/problem/domain-error';
import { madeBy, RequestMeta } from '../common/request-meta';
import { flattenValidationErrors } from '../common/validation-errors';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { LifecyclePayloadDto, TenantView } from './dto/connect.dto';
import { TenantDirectory } from './tenants/tenant-directory.service';
import { TenantEntity } from './tenants/tenant.entity';
import { TenantsRepository } from './tenants/tenants.repository';

type LifecycleEvent = 'installed' | 'uninstalled';

/**
 * The lifecycle callbacks, after the guard verified their signature (`connect-install`): the
 * token's issuer must be the body's clientKey, and each token is accepted once and in order, so
 * a captured callback cannot be replayed with another body. A reinstall replaces the shared
 * secret; an uninstall marks the tenant uninstalled (its tokens stop at once) and keeps it.
 */
@Injectable()
export class ConnectLifecycleService {
  constructor(
    private readonly repository: TenantsRepository,
    private readonly directory: TenantDirectory,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  async handle(
    event: LifecycleEvent,
    principal: Principal,
    body: unknown,
    meta: RequestMeta,
  ): Promise<void> {
    try {
      const payload = await this.payload(event, body);
      if (principal.tenant !== payload.clientKey) {
        throw Problems.unauthorized(
          'The lifecycle token was issued for another clientKey than the body names',
          [{ scheme: 'JWT', error: 'invalid_token' }],
          'invalid_token',
        );
      }
      const row = await this.apply(event, principal, payload);
      this.directory.changed(row);
      this.record(`connect.${event}`, 'success', principal, meta, null, {
        baseUrl: row.baseUrl,
        productType: row.productType,
      });
    } catch (err) {
      if (err instanceof DomainError)
        this.record(`connect.${event}`, 'failure', principal, meta, err.code, {});
      throw err;
    }
  }

  private async payload(event: LifecycleEvent, body: unknown): Promise<LifecyclePayloadDto> {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw Problems.badRequest('The lifecycle payload must be a JSON object', 'validation_failed');
    const payload = plainToInstance(LifecyclePayloadDto, body);
    // Atlassian sends more fields than Warden keeps; those are ignored, not refused.
    const errors = flattenValidationErrors(await validate(payload, { whitelist: true }));
    if (event === 'installed' && payload.sharedSecret === undefined)
      errors.push({ field: 'sharedSecret', messages: ['sharedSecret is required on install'] });
    if (errors.length > 0)
      throw Problems.badRequest('The lifecycle payload is not valid', 'validation_failed', {
        errors,
      });
    if (payload.eventType !== event)
      throw Problems.badRequest(`eventType must be ${event} on this callback`, 'validation_failed');
    if (payload.key !== this.config.connect.appKey)
      throw Problems.badRequest(
        `The payload is for app ${payload.key}, not ${this.config.connect.appKey}`,
        'app_key_mismatch',
      );
    return payload;
  }

  private async apply(
    event: LifecycleEvent,
    principal: Principal,
    payload: LifecyclePayloadDto,
  ): Promise<TenantEntity> {
    const token = principal.connect!.lifecycle!;
    const now = new Date(this.clock.now());
    const result = await this.repository.lifecycle(payload.clientKey, token, (current) => {
      if (current) {
        // Each token once, and none issued before the last one accepted; a host retrying the
        // very same callback (same token, same body) is answered as before, with no change.
        const seen =
          Number(current.lifecycleIat) === token.iat &&
          current.lifecycleDigests.split(' ').includes(token.digest);
        if (seen && this.unchangedBy(event, current, payload)) return current;
        if (seen || Number(current.lifecycleIat) > token.iat) return 'replayed';
      }
      if (event === 'uninstalled') {
        if (!current) return 'unknown_tenant';
        current.installed = false;
        current.uninstalledAt = now;
        current.updatedAt = now;
        return current;
      }
      const row = current ?? new TenantEntity();
      if (!current) {
        row.clientKey = payload.clientKey;
        row.enabled = true;
      }
      row.sharedSecret = this.directory.seal(payload.clientKey, payload.sharedSecret!);
      row.baseUrl = payload.baseUrl.replace(/\/+$/, '');
      row.displayUrl = payload.displayUrl?.replace(/\/+$/, '') ?? null;
      row.productType = payload.productType;
      row.description = payload.description ?? null;
      row.oauthClientId = payload.oauthClientId ?? null;
      row.installed = true;
      row.installedAt = now;
      row.uninstalledAt = null;
      row.updatedAt = now;
      return row;
    });
    if (result === 'replayed') {
      throw Problems.unauthorized(
        'This lifecycle token was already used, or an earlier one than the last accepted',
        [{ scheme: 'JWT', error: 'invalid_token' }],
        'lifecycle_replayed',
      );
    }
    if (result === 'unknown_tenant')
      throw Problems.notFound('No tenant with this clientKey was installed', 'tenant_not_found');
    return result;
  }

  /** Would this callback leave the stored tenant as it is (a retry of the one that stored it)? */
  private unchangedBy(
    event: LifecycleEvent,
    current: TenantEntity,
    payload: LifecyclePayloadDto,
  ): boolean {
    if (event === 'uninstalled') return !current.installed;
    return (
      current.installed &&
      current.baseUrl === payload.baseUrl.replace(/\/+$/, '') &&
      this.directory.secretMatches(current, payload.sharedSecret ?? '')
    );
  }

  private record(
    event: string,
    outcome: 'success' | 'failure',
    principal: Principal,
    meta: RequestMeta,
    reason: string | null,
    details: Record<string, unknown>,
  ): void {
    this.audit.record({
      event,
      outcome,
      ...madeBy(principal, meta),
      status: null,
      reason,
      details,
    });
  }
}

export function tenantView(row: TenantEntity): TenantView {
  return {
    clientKey: row.clientKey,
    baseUrl: row.baseUrl,
    displayUrl: row.displayUrl,
    productType: row.productType,
    description: row.description,
    oauthClientId: row.oauthClientId,
    installed: row.installed,
    enabled: row.enabled,
    installedAt: row.installedAt.toISOString(),
    uninstalledAt: row.uninstalledAt?.toISOString() ?? null,
  };
}
