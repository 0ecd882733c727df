import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import { KeyedSerializer } from '../../common/keyed-serializer';
import { isUniqueViolation } from '../../common/database/db-errors';
import { TenantEntity } from './tenant.entity';

/** Lifecycle tokens remembered for one `iat` second (more in one second is not plausible). */
const MAX_DIGESTS_PER_SECOND = 16;

/** Why a lifecycle callback stored nothing. */
export type LifecycleRefusal = 'replayed' | 'unknown_tenant';

@Injectable()
export class TenantsRepository {
  private readonly queues = new KeyedSerializer();

  constructor(@InjectRepository(TenantEntity) private readonly tenants: Repository<TenantEntity>) {}

  find(clientKey: string): Promise<TenantEntity | null> {
    return this.tenants.findOne({ where: { clientKey } });
  }

  all(): Promise<TenantEntity[]> {
    return this.tenants.find({ order: { clientKey: 'ASC' } });
  }

  changedSince(since: Date): Promise<TenantEntity[]> {
    return this.tenants.find({ where: { updatedAt: MoreThan(since) } });
  }

  /**
   * Applies a lifecycle callback in one transaction: `apply` sees the stored row (null for a new
   * tenant) and returns the row to store, or why nothing is stored. The token's `iat` and
   * digest are stored with the row, so the next callback can be judged against them.
   */
  async lifecycle(
    clientKey: string,
    token: { iat: number; digest: string },
    apply: (current: TenantEntity | null) => TenantEntity | LifecycleRefusal,
  ): Promise<TenantEntity | LifecycleRefusal> {
    // One callback of a tenant at a time in this process (SQLite has one connection, whose
    // transactions do not isolate concurrent callers from each other).
    const run = this.queues.run(clientKey, () => this.lifecycleOnce(clientKey, token, apply));
    try {
      return await run;
    } catch (err) {
      // PostgreSQL: another instance inserted the same new tenant first. Once more, now that the
      // row exists (and is locked while this runs).
      if (!isUniqueViolation(err)) throw err;
      return this.lifecycleOnce(clientKey, token, apply);
    }
  }

  private lifecycleOnce(
    clientKey: string,
    token: { iat: number; digest: string },
    apply: (current: TenantEntity | null) => TenantEntity | LifecycleRefusal,
  ): Promise<TenantEntity | LifecycleRefusal> {
    return this.tenants.manager.transaction(async (manager) => {
      const repo = manager.getRepository(TenantEntity);
      const current = await repo.findOne({
        where: { clientKey },
        // PostgreSQL: two instances handling callbacks of one tenant take turns.
        ...(manager.connection.options.type === 'postgres'
          ? { lock: { mode: 'pessimistic_write' as const } }
          : {}),
      });
      const next = apply(current);
      if (typeof next === 'string') return next;
      // Digests of tokens with the newest iat are kept (a second can hold an uninstall and a
      // reinstall); an older iat is refused before this point.
      const sameSecond = current !== null && Number(current.lifecycleIat) === token.iat;
      const digests = sameSecond ? current.lifecycleDigests.split(' ').filter(Boolean) : [];
      if (!digests.includes(token.digest)) digests.push(token.digest);
      next.lifecycleIat = String(token.iat);
      next.lifecycleDigests = digests.slice(-MAX_DIGESTS_PER_SECOND).join(' ');
      if (!current) return repo.save(next);
      // The administrator's switch is not the lifecycle's to write: a concurrent change of it
      // must survive this callback.
      const { enabled: _enabled, ...lifecycleFields } = next;
      await repo.update({ clientKey }, lifecycleFields);
      return (await repo.findOne({ where: { clientKey } }))!;
    });
  }

  async setEnabled(clientKey: string, enabled: boolean, at: Date): Promise<TenantEntity | null> {
    const result = await this.tenants.update({ clientKey }, { enabled, updatedAt: at });
    return (result.affected ?? 0) > 0 ? this.find(clientKey) : null;
  }
}
