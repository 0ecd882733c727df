import type { FastifyInstance } from 'fastify';
import { Problems } from '../common/problem/domain-error';
import { sendProblem, toProblem } from '../common/problem/problem.filter';
import { ILL_FORMED_TEXT_MESSAGE, illFormedTextAt } from '../common/text';

/**
 * One check for every route, before its guards and its DTO: a NUL or a lone surrogate anywhere
 * in a body, a query or a path parameter is a 400 naming the field, as a validation error is.
 * Left to each field, it reaches validators that throw on it (class-validator's isEmail) and
 * a PostgreSQL text column that refuses it: a 500 either way.
 */
export function refuseIllFormedText(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, reply, done) => {
    const field =
      illFormedTextAt(request.body) ??
      illFormedTextAt(request.query) ??
      illFormedTextAt(request.params);
    if (field === null) return done();
    const refused = Problems.badRequest('The request is not valid', 'validation_failed', {
      errors: [{ field, messages: [ILL_FORMED_TEXT_MESSAGE] }],
    });
    const { body, headers } = toProblem(refused, String(request.id));
    sendProblem(reply, body, headers);
  });
}
