import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import { TenantEntity } from './tenant.entity';

/** Why a lifecycle callback stored nothing. */
export type LifecycleRefusal = 'replayed' | 'unknown_tenant';

@Injectable()
export class TenantsRepository {
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
      next.lifecycleIat = String(token.iat);
      next.lifecycleDigest = token.digest;
      return repo.save(next);
    });
  }

  async setEnabled(clientKey: string, enabled: boolean, at: Date): Promise<TenantEntity | null> {
    const result = await this.tenants.update({ clientKey }, { enabled, updatedAt: at });
    return (result.affected ?? 0) > 0 ? this.find(clientKey) : null;
  }
}
