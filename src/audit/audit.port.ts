export type AuditOutcome = 'success' | 'failure' | 'allowed' | 'denied';

/** One decision or security event. Never carries a secret or a token. */
export interface AuditEvent {
  event: string;
  outcome: AuditOutcome;
  actor?: string | null;
  authMethod?: string | null;
  credentialId?: string | null;
  ip?: string | null;
  method?: string | null;
  path?: string | null;
  status?: number | null;
  reason?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Where modules send audit events. Recording must never block or fail a request, so the port
 * is fire-and-forget; the implementation decides how rows reach storage.
 */
export abstract class AuditSink {
  abstract record(event: AuditEvent): void;
}
