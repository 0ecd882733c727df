import { Inject, Injectable, Logger } from '@nestjs/common';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { readCapped } from '../../common/http/fetch-json';
import { OperationStore } from './operation-store.service';

export type ProblemSeverity = 'WARNING' | 'ERROR';

export interface OperationProblem {
  message: string;
  severity: ProblemSeverity;
}

export interface OperationResult {
  resultHtml?: string;
  resultLink?: string;
  problems: OperationProblem[];
  /** An import's outcome: succeeded, partial (some items applied, some failed) or failed. */
  status?: 'succeeded' | 'partial' | 'failed';
  /** An import's every item: created, updated, skipped or failed, with the reason. */
  items?: { target: string; key: string; outcome: string; reason?: string }[];
}

export interface ObjectMapping {
  sourceId: string;
  targetId: string | null;
}

export class OperationsApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OperationsApiError';
  }
}

const ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;
/** A Retry-After longer than this is not waited for: the call fails instead. */
const MAX_RETRY_AFTER_MS = 30_000;
const CALL_TIMEOUT_MS = 10_000;

/**
 * CMJ Cloud's Operations API, called for one operation with that operation's own token as
 * `Authorization: Bearer` (never logged): progress, result, and mapping look-ups. 5xx, 429 and
 * network failures are retried with exponential backoff, honouring `Retry-After`.
 */
@Injectable()
export class OperationsApiClient {
  private readonly logger = new Logger(OperationsApiClient.name);
  /** Waits between attempts; tests may shorten it. */
  sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  constructor(
    private readonly store: OperationStore,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  async progress(operationId: string, progress: number): Promise<void> {
    const value = Math.min(1, Math.max(0, progress));
    await this.call(operationId, 'progress', { progress: value });
  }

  async result(operationId: string, result: OperationResult): Promise<void> {
    await this.call(operationId, 'result', result);
  }

  /** Target ids of `sourceIds` of one object type (users, groups…), null where none is known. */
  async mappings(operationId: string, type: string, sourceIds: string[]): Promise<ObjectMapping[]> {
    const body = (await this.call(operationId, 'mappings', { type, sourceIds })) as {
      mappings?: unknown;
    };
    if (!Array.isArray(body?.mappings))
      throw new OperationsApiError('The mappings answer has no mappings');
    return body.mappings
      .filter(
        (m): m is { sourceId: string; targetId?: unknown } =>
          typeof m === 'object' &&
          m !== null &&
          typeof (m as { sourceId?: unknown }).sourceId === 'string',
      )
      .map((m) => ({
        sourceId: m.sourceId,
        targetId: typeof m.targetId === 'string' ? m.targetId : null,
      }));
  }

  private async call(operationId: string, what: string, body: unknown): Promise<unknown> {
    const token = await this.store.token(operationId);
    if (!token) throw new OperationsApiError(`Operation ${operationId} has no usable token`);
    const url = `${this.config.cmj.baseUrl}/operations/${encodeURIComponent(operationId)}/${what}`;
    let lastProblem = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      let wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempt - 1));
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
        const text = (await readCapped(response, 1024 * 1024)) ?? '';
        if (response.status >= 200 && response.status < 300) {
          try {
            return text ? JSON.parse(text) : null;
          } catch {
            return null;
          }
        }
        lastProblem = `CMJ answered ${response.status}`;
        if (response.status !== 429 && response.status < 500)
          throw new OperationsApiError(`${what}: ${lastProblem}`, response.status);
        const retryAfter = retryAfterMs(response.headers.get('retry-after'));
        if (retryAfter !== null) {
          if (retryAfter > MAX_RETRY_AFTER_MS)
            throw new OperationsApiError(
              `${what}: CMJ asked to wait ${retryAfter} ms`,
              response.status,
            );
          wait = retryAfter;
        }
      } catch (err) {
        if (err instanceof OperationsApiError) throw err;
        lastProblem = `CMJ did not answer (${(err as Error).name})`;
      }
      if (attempt < ATTEMPTS) await this.sleep(wait);
    }
    this.logger.warn(`Operations API ${what} for ${operationId} failed: ${lastProblem}`);
    throw new OperationsApiError(`${what}: ${lastProblem} after ${ATTEMPTS} attempts`);
  }
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  // IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`; anything else is not a Retry-After.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(header.trim()))
    return null;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
