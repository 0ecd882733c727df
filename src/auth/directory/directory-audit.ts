import { AuditSink } from '../../audit/audit.port';

/** Who changes the directory: an administrator's request, or `system` (start-up, CLI). */
export interface Actor {
  username: string;
  requestId?: string;
  ip?: string;
}

/** Records a change to users or groups as the audit row of `event`. */
export function recordDirectoryChange(
  audit: AuditSink,
  event: string,
  actor: Actor,
  details: Record<string, unknown>,
): void {
  audit.record({
    event,
    outcome: 'success',
    actor: actor.username,
    requestId: actor.requestId,
    ip: actor.ip,
    details,
  });
}
