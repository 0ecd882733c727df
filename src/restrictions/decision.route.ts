import type { INestApplicationContext } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { answerProblem } from '../common/problem/problem.filter';
import { DecisionService, DecisionVerdict } from './decision.service';

/** Where reverse proxies ask (DecisionController's route, as Nest registers it). */
export const DECISION_PATH = '/authz/decision';

/**
 * The decision endpoint served off Nest's per-route machinery: every request a proxy lets
 * through asks it first, and Nest's guards, interceptors, pipes, parameter decorators and
 * exception-filter lookup cost more per request than the judging itself. The rules are where
 * they were: DecisionService → AccessPipeline → audit; the errors get the problem filter's own
 * answer (answerProblem); the Fastify hooks every request goes through (request id, security
 * headers, access record and metrics, body limits, text check, shutdown) run as before.
 *
 * DecisionController stays, for the OpenAPI document and so the route is declared where every
 * other is; Fastify refuses a second route on the same URL, so an onRoute hook, added before
 * Nest registers its routes, gives that route this handler instead of Nest's. Returns what
 * binds the DecisionService once the application is built; no request is served before, and
 * the server does not start if the route was never swapped.
 */
export function serveDecisionsOffNest(
  fastify: FastifyInstance,
): (app: INestApplicationContext) => void {
  let decisions: DecisionService;
  let swapped = false;

  function decide(request: FastifyRequest, reply: FastifyReply): void {
    const send = (verdict: DecisionVerdict) => {
      reply.headers(verdict.headers).send(verdict.body);
    };
    const fail = (err: unknown) => answerProblem(err, request, reply);
    // decide answers at once when all it needs is in memory, and with a promise otherwise.
    let verdict: DecisionVerdict | Promise<DecisionVerdict>;
    try {
      verdict = decisions.decide({
        headers: request.headers,
        ip: request.clientIp,
        requestId: String(request.id),
      });
    } catch (err) {
      return fail(err);
    }
    if (verdict instanceof Promise) void verdict.then(send, fail);
    else send(verdict);
  }

  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (route.url !== DECISION_PATH) return;
    route.handler = decide;
    swapped = true;
  });
  fastify.addHook('onReady', (done) => {
    done(swapped ? undefined : new Error(`${DECISION_PATH}: no route to serve decisions on`));
  });
  return (app) => {
    decisions = app.get(DecisionService);
  };
}
