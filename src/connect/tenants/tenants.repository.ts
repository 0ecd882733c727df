import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import { TenantEntity } from './tenant.entity';

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
   * Applies a lifecycle callback in one transaction, only if its token comes after the last one
   * accepted for the tenant (`apply` decides from the stored row, null for a new tenant).
   * Returns the stored row, or null when the token was refused as a replay.
   */
  async lifecycle(
    clientKey: string,
    iat: number,
    digest: string,
    apply: (current: TenantEntity | null) => TenantEntity | null,
  ): Promise<TenantEntity | 'replayed' | null> {
    return this.tenants.manager.transaction(async (manager) => {
      const repo = manager.getRepository(TenantEntity);
      const current = await repo.findOne({
        where: { clientKey },
        // PostgreSQL: two instances handling callbacks of one tenant take turns.
        ...(manager.connection.options.type === 'postgres'
          ? { lock: { mode: 'pessimistic_write' as const } }
          : {}),
      });
      if (current && (current.lifecycleDigest === digest || Number(current.lifecycleIat) > iat))
        return 'replayed';
      const next = apply(current);
      if (!next) return null;
      next.lifecycleIat = String(iat);
      next.lifecycleDigest = digest;
      return repo.save(next);
    });
  }

  async setEnabled(clientKey: string, enabled: boolean, at: Date): Promise<TenantEntity | null> {
    const result = await this.tenants.update({ clientKey }, { enabled, updatedAt: at });
    return (result.affected ?? 0) > 0 ? this.find(clientKey) : null;
  }
}
