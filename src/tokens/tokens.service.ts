import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditSink } from '../audit/audit.port';
import { DirectoryService } from '../auth/directory/directory.service';
import { RevocationService } from '../auth/sessions/revocation.service';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { Problems } from '../common/problem/domain-error';
import { isAdmin, Principal } from '../common/principal';
import { SettingsService } from '../settings/settings.service';
import { ApiTokenEntity, scopesOf, TokenScope } from './api-token.entity';
import { displayPrefix, generateApiToken, hashApiToken } from './api-token-format';
import { ApiTokensRepository } from './api-tokens.repository';
import { CreateTokenDto, CreatedTokenView, TokenView } from './dto/tokens.dto';

/** Last use is written at most this often per token: never a database write per request. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;
const MAX_TRACKED_USES = 100_000;
const DAY_MS = 86_400_000;
const DEFAULT_SCOPES: TokenScope[] = ['read', 'write'];

export interface RequestContext {
  requestId?: string;
  ip?: string;
}

/** Personal API tokens: creation under the settings' limits, listing, revocation, usage. */
@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);
  private readonly lastWritten = new BoundedCache<string, number>(MAX_TRACKED_USES);

  constructor(
    private readonly tokens: ApiTokensRepository,
    private readonly directory: DirectoryService,
    private readonly revocations: RevocationService,
    private readonly settings: SettingsService,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
  ) {
    revocations.addSource((since) => this.tokens.revokedSince(since));
  }

  async create(
    principal: Principal,
    dto: CreateTokenDto,
    context: RequestContext,
  ): Promise<CreatedTokenView> {
    const policy = this.settings.get();
    const admin = isAdmin(principal);
    // A token of the IdP's must not become a Warden credential that outlives it.
    if (principal.authMethod === 'external')
      throw Problems.forbidden(
        'external_token_not_allowed',
        "Personal API tokens are created with Warden's own credentials, not an identity provider's",
      );
    if (!policy.apiTokens.enabled)
      throw Problems.forbidden(
        'api_tokens_disabled',
        'API tokens are switched off (apiTokens.enabled)',
      );
    if (!admin && !policy.apiTokens.usersCanCreate) {
      throw Problems.forbidden(
        'token_creation_disabled',
        'Only administrators may create API tokens (apiTokens.usersCanCreate)',
      );
    }
    const creators = policy.groups.tokenCreators.map((g) => g.toLowerCase());
    if (
      !admin &&
      creators.length > 0 &&
      !principal.groups.some((g) => creators.includes(g.toLowerCase()))
    ) {
      throw Problems.forbidden(
        'not_in_token_creators_group',
        'Creating API tokens needs membership of a group in groups.tokenCreators',
      );
    }
    const scopes = [...new Set(dto.scopes ?? DEFAULT_SCOPES)];
    if (scopes.includes('admin') && !admin) {
      throw Problems.forbidden(
        'scope_not_allowed',
        'Only administrators may create tokens with the admin scope',
      );
    }
    const maxDays = policy.apiTokens.maxLifetimeDays;
    const days = dto.expiresInDays ?? maxDays;
    if (days > maxDays) {
      throw Problems.badRequest(
        `expiresInDays may be at most ${maxDays} (apiTokens.maxLifetimeDays)`,
        'lifetime_too_long',
      );
    }
    const now = new Date(this.clock.now());
    const secret = generateApiToken();
    const entity = Object.assign(new ApiTokenEntity(), {
      id: randomUUID(),
      userId: principal.id,
      name: dto.name,
      tokenHash: hashApiToken(secret),
      displayPrefix: displayPrefix(secret),
      scopes: scopes.join(','),
      createdAt: now,
      expiresAt: new Date(now.getTime() + days * DAY_MS),
      lastUsedAt: null,
      lastUsedIp: null,
      revokedAt: null,
    });
    if (!(await this.tokens.insertWithinLimit(entity, policy.apiTokens.maxPerUser, now))) {
      throw Problems.conflict(
        `You have ${policy.apiTokens.maxPerUser} live tokens already (apiTokens.maxPerUser); revoke one first`,
        'token_limit_reached',
      );
    }
    this.record('token.created', principal.username, entity, context);
    return { ...toView(entity, now), token: secret };
  }

  async list(userId: string): Promise<TokenView[]> {
    const now = new Date(this.clock.now());
    return (await this.tokens.listForUser(userId)).map((t) => toView(t, now));
  }

  async listForUsername(username: string): Promise<TokenView[]> {
    return this.list(await this.userId(username));
  }

  /** Revokes one of the user's tokens; another user's token id is "not found". */
  async revoke(
    userId: string,
    tokenId: string,
    actor: string,
    context: RequestContext,
  ): Promise<void> {
    const token = await this.tokens.findForUser(userId, tokenId);
    if (!token || token.revokedAt) throw Problems.notFound('No such token', 'token_not_found');
    await this.tokens.revoke(token.id, new Date(this.clock.now()));
    this.revocations.markRevoked([token.id]);
    this.record('token.revoked', actor, token, context);
  }

  async revokeForUsername(
    username: string,
    tokenId: string,
    actor: string,
    context: RequestContext,
  ): Promise<void> {
    await this.revoke(await this.userId(username), tokenId, actor, context);
  }

  async revokeAll(userId: string, actor: string, context: RequestContext): Promise<number> {
    const ids = await this.tokens.revokeAllForUser(userId, new Date(this.clock.now()));
    this.revocations.markRevoked(ids);
    if (ids.length > 0) {
      this.audit.record({
        event: 'token.revoked',
        outcome: 'success',
        actor,
        requestId: context.requestId,
        ip: context.ip,
        details: { tokenIds: ids, all: true },
      });
    }
    return ids.length;
  }

  async revokeAllForUsername(
    username: string,
    actor: string,
    context: RequestContext,
  ): Promise<number> {
    return this.revokeAll(await this.userId(username), actor, context);
  }

  /** The stored token for a presented one, found by hash; the caller checks expiry and revocation. */
  findByHash(tokenHash: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findByHash(tokenHash);
  }

  /** Notes a use; writes last-used time and address at most once a minute per token, off the request path. */
  recordUse(tokenId: string, ip: string): void {
    const now = this.clock.now();
    const last = this.lastWritten.get(tokenId, now);
    if (last !== undefined && now - last < LAST_USED_WRITE_INTERVAL_MS) return;
    this.lastWritten.set(tokenId, now, now + LAST_USED_WRITE_INTERVAL_MS);
    this.tokens
      .recordUse(tokenId, new Date(now), ip)
      .catch((err) => this.logger.warn({ err, tokenId }, 'Could not record token use'));
  }

  /** Scheduled: removes expired tokens and tokens revoked long ago. */
  async removeStale(revokedRetentionDays: number): Promise<number> {
    const now = this.clock.now();
    return this.tokens.removeStale(new Date(now), new Date(now - revokedRetentionDays * DAY_MS));
  }

  private async userId(username: string): Promise<string> {
    const user = await this.directory.findByUsername(username);
    if (!user) throw Problems.notFound(`No user ${username}`, 'user_not_found');
    return user.id;
  }

  private record(
    event: string,
    actor: string,
    token: ApiTokenEntity,
    context: RequestContext,
  ): void {
    this.audit.record({
      event,
      outcome: 'success',
      actor,
      authMethod: 'api-token',
      credentialId: token.id,
      requestId: context.requestId,
      ip: context.ip,
      details: {
        tokenId: token.id,
        name: token.name,
        prefix: token.displayPrefix,
        scopes: scopesOf(token),
        userId: token.userId,
      },
    });
  }
}

function toView(token: ApiTokenEntity, now: Date): TokenView {
  return {
    id: token.id,
    name: token.name,
    prefix: token.displayPrefix,
    scopes: scopesOf(token),
    createdAt: token.createdAt.toISOString(),
    expiresAt: token.expiresAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    lastUsedIp: token.lastUsedIp,
    revokedAt: token.revokedAt?.toISOString() ?? null,
    status: token.revokedAt ? 'revoked' : token.expiresAt <= now ? 'expired' : 'active',
  };
}
