import { Injectable } from '@nestjs/common';
import { Problems } from '../../common/problem/domain-error';
import { RefreshSessionEntity } from './refresh-session.entity';
import { RevocationService } from './revocation.service';
import { SessionsRepository } from './sessions.repository';

export interface SessionView {
  id: string;
  authMethod: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

/** A user's refresh sessions: listing and ending them. Every revocation reaches the access-token check at once. */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly revocations: RevocationService,
  ) {}

  async list(userId: string, currentSessionId?: string): Promise<SessionView[]> {
    const rows = await this.sessions.listLive(userId, new Date());
    return rows.map((s) => toView(s, currentSessionId));
  }

  async revoke(sessionId: string, reason: string): Promise<boolean> {
    const revoked = await this.sessions.revoke(sessionId, reason, new Date());
    this.revocations.markRevoked([sessionId]);
    return revoked;
  }

  /** Ends one of the caller's own sessions; another user's session id is "not found", not "forbidden". */
  async revokeOwn(userId: string, sessionId: string): Promise<void> {
    const session = await this.sessions.findById(sessionId);
    if (!session || session.userId !== userId || session.revokedAt) {
      throw Problems.notFound('No such session', 'session_not_found');
    }
    await this.revoke(sessionId, 'user_revoked');
  }

  async revokeAllForUser(userId: string, reason: string): Promise<number> {
    const ids = await this.sessions.revokeAllForUser(userId, reason, new Date());
    this.revocations.markRevoked(ids);
    return ids.length;
  }
}

function toView(s: RefreshSessionEntity, currentSessionId?: string): SessionView {
  return {
    id: s.id,
    authMethod: s.authMethod,
    createdAt: s.createdAt.toISOString(),
    lastUsedAt: s.lastUsedAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
    ip: s.ip,
    userAgent: s.userAgent,
    current: s.id === currentSessionId,
  };
}
