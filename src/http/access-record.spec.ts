import Fastify, { FastifyInstance, FastifyRequest } from 'fastify';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { AuditEvent, AuditSink } from '../audit/audit.port';
import { MetricsService } from '../metrics/metrics.service';
import type { GuardedRequest } from '../restrictions/access.guard';
import { DECISION_PATH } from '../restrictions/decision.route';
import { recordAccess } from './access-record';
import { eventually } from '../../test/support/eventually';
import { Shutdown } from './shutdown';

class RecordingSink extends AuditSink {
  readonly rows: AuditEvent[] = [];
  record(event: AuditEvent): void {
    this.rows.push(event);
  }
}

/**
 * Where an answered, or abandoned, request is accounted for: a guard's pending row is recorded
 * with the status sent, and without one when the client hung up first. Real Fastify, real sockets.
 */
describe('recordAccess', () => {
  let fastify: FastifyInstance;
  let sink: RecordingSink;
  let base: string;
  /** Per path: resolves when the handler has started, and the request's `close` listeners then. */
  const entered = new Map<string, (closeListeners: number) => void>();
  let release: () => void = () => undefined;

  beforeEach(async () => {
    sink = new RecordingSink();
    fastify = Fastify();
    const bind = recordAccess(fastify, pino({ level: 'silent' }), new Shutdown());
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = async (request: FastifyRequest) => {
      // What the access guard leaves for an allowed request.
      (request as GuardedRequest).pendingAudit = {
        event: 'access.allowed',
        outcome: 'allowed',
        path: request.url,
      };
      // Fastify adds its listener once the hooks and the handler's synchronous part have run.
      await new Promise((resolve) => setImmediate(resolve));
      entered.get(request.url)?.(request.raw.listenerCount('close'));
      await held;
      return { ok: true };
    };
    fastify.get('/held', slow);
    fastify.get(DECISION_PATH, slow);
    await fastify.ready();
    const metrics = new MetricsService();
    bind({
      get: (token: unknown) => (token === AuditSink ? sink : metrics),
    } as never);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    release();
    await fastify.close();
  });

  /** Sends GET `path`, waits until its handler runs, and answers its `close` listener count. */
  function start(path: string): {
    listeners: Promise<number>;
    hangUp: () => void;
    done: Promise<number>;
  } {
    const listeners = new Promise<number>((resolve) => entered.set(path, resolve));
    const req = httpRequest(`${base}${path}`);
    const done = new Promise<number>((resolve) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(-1));
    });
    req.end();
    return { listeners, hangUp: () => req.destroy(), done };
  }

  const rowsRecorded = () =>
    eventually(
      async () => sink.rows.length,
      (n) => n > 0,
      2000,
    );

  it('records a pending row with the status of the answer', async () => {
    const call = start('/held');
    await call.listeners;
    release();
    expect(await call.done).toBe(200);
    await rowsRecorded();
    expect(sink.rows).toEqual([expect.objectContaining({ path: '/held', status: 200 })]);
  });

  it('records a pending row, without a status, when the client hangs up before the answer', async () => {
    const call = start('/held');
    await call.listeners;
    call.hangUp();
    await rowsRecorded();
    expect(sink.rows).toEqual([expect.objectContaining({ path: '/held' })]);
    expect(sink.rows[0].status).toBeUndefined();
    // The answer that comes after is not a second row.
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.rows).toHaveLength(1);
  });

  it('leaves the decision endpoint without the per-request close listener (it records its own rows)', async () => {
    const guarded = start('/held');
    const guardedListeners = await guarded.listeners;
    const decision = start(DECISION_PATH);
    const decisionListeners = await decision.listeners;
    expect(decisionListeners).toBe(guardedListeners - 1);
    release();
    await Promise.all([guarded.done, decision.done]);
  });
});
