import { Inject, Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Not, IsNull, Repository } from 'typeorm';
import { JOB_LOCKS, JobLock } from '../../common/database/job-lock';
import { Clock } from '../../common/clock';
import { SecretBox } from '../../common/crypto/secret-box';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { isUniqueViolation } from '../../common/database/db-errors';
import { OperationEntity, OperationKind, OperationStatus } from './operation.entity';

/** An operation token whose expiry cannot be read from it is kept at most this long. */
const DEFAULT_TOKEN_LIFETIME_MS = 3_600_000;
/** However far away a token's `exp`, it is not kept longer than this. */
const MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000;

/** The context a sealed operation token is bound to: it opens for its own operation only. */
export function tokenContext(operationId: string): string {
  return `spi-operation:${operationId}`;
}

/**
 * Operation records and their tokens. A token is sealed with the operation's id as associated
 * data, so it can only ever be opened for the operation it came with; it is wiped when the
 * operation ends, and a sweep wipes tokens past their expiry.
 */
@Injectable()
export class OperationStore {
  private readonly logger = new Logger(OperationStore.name);
  private readonly box: SecretBox;

  constructor(
    @InjectRepository(OperationEntity) private readonly operations: Repository<OperationEntity>,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) config: WardenConfig,
    private readonly lock: JobLock,
  ) {
    this.box = new SecretBox(config.encryptionKey.key);
  }

  /**
   * Creates the operation on its first call, keeping the token it came with; a later call of
   * the same operation continues it (its token does not replace the first one).
   */
  async begin(
    id: string,
    kind: OperationKind,
    token: string,
    dryRun: boolean,
  ): Promise<{ operation: OperationEntity; created: boolean }> {
    try {
      return await this.beginOnce(id, kind, token, dryRun);
    } catch (err) {
      // Two first calls of one operation at once: the second continues what the first created.
      if (!isUniqueViolation(err)) throw err;
      return this.beginOnce(id, kind, token, dryRun);
    }
  }

  private async beginOnce(
    id: string,
    kind: OperationKind,
    token: string,
    dryRun: boolean,
  ): Promise<{ operation: OperationEntity; created: boolean }> {
    const existing = await this.operations.findOne({ where: { id } });
    const now = new Date(this.clock.now());
    if (existing) {
      existing.updatedAt = now;
      // The first token stays while it lives; an operation whose token is gone or has expired
      // (the sweep may not have wiped it yet) takes the new one.
      const kept =
        existing.operationToken !== null &&
        existing.tokenExpiresAt !== null &&
        existing.tokenExpiresAt.getTime() > now.getTime();
      if (!kept) {
        existing.operationToken = this.box.seal(token, tokenContext(id));
        existing.tokenExpiresAt = tokenExpiry(token, now.getTime());
      }
      if (existing.status !== 'running') {
        // A finished operation called again (an import after the export, a dry run then the
        // real one): the row describes the call now running, not the one before.
        existing.status = 'running';
        existing.finishedAt = null;
        existing.kind = kind;
        existing.dryRun = dryRun;
        existing.summary = null;
      }
      return { operation: await this.operations.save(existing), created: false };
    }
    const operation = Object.assign(new OperationEntity(), {
      id,
      kind,
      status: 'running' as const,
      dryRun,
      operationToken: this.box.seal(token, tokenContext(id)),
      tokenExpiresAt: tokenExpiry(token, now.getTime()),
      summary: null,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    });
    return { operation: await this.operations.save(operation), created: true };
  }

  /** The operation's own token, while it has one that has not expired. */
  async token(id: string): Promise<string | null> {
    const operation = await this.operations.findOne({ where: { id } });
    if (!operation?.operationToken || !operation.tokenExpiresAt) return null;
    if (operation.tokenExpiresAt.getTime() <= this.clock.now()) {
      await this.wipe(id);
      return null;
    }
    return this.box.openText(operation.operationToken, tokenContext(id));
  }

  async end(id: string, status: OperationStatus, summary: unknown): Promise<void> {
    const now = new Date(this.clock.now());
    await this.operations.update(
      { id },
      {
        status,
        summary: JSON.stringify(summary),
        operationToken: null,
        tokenExpiresAt: null,
        updatedAt: now,
        finishedAt: now,
      },
    );
  }

  find(id: string): Promise<OperationEntity | null> {
    return this.operations.findOne({ where: { id } });
  }

  list(limit: number): Promise<OperationEntity[]> {
    return this.operations.find({ order: { createdAt: 'DESC' }, take: limit });
  }

  private async wipe(id: string): Promise<void> {
    await this.operations.update({ id }, { operationToken: null, tokenExpiresAt: null });
  }

  /** Tokens past their expiry go, whether or not their operation ended; on one instance at a time. */
  @Interval('spi-operation-token-sweep', 60_000)
  async sweep(): Promise<number> {
    let wiped = 0;
    try {
      await this.lock.runAlone(JOB_LOCKS.spiTokenSweep, async () => {
        const result = await this.operations.update(
          { operationToken: Not(IsNull()), tokenExpiresAt: LessThan(new Date(this.clock.now())) },
          { operationToken: null, tokenExpiresAt: null },
        );
        wiped = result.affected ?? 0;
      });
    } catch (err) {
      this.logger.warn(`Could not sweep expired operation tokens: ${(err as Error).message}`);
    }
    return wiped;
  }
}

function tokenExpiry(token: string, now: number): Date {
  const exp = expiryOf(token) ?? now + DEFAULT_TOKEN_LIFETIME_MS;
  return new Date(Math.min(exp, now + MAX_TOKEN_LIFETIME_MS));
}

/** `exp` of a token that is a compact JWS (read, not trusted: it only shortens how long it is kept). */
function expiryOf(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp)
      ? payload.exp * 1000
      : null;
  } catch {
    return null;
  }
}
