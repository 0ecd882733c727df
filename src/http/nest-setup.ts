import { ValidationPipe } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Problems } from '../common/problem/domain-error';
import { flattenValidationErrors } from '../common/validation-errors';

/** Cross-origin calls only from the origins an operator names; none by default. */
export function allowCrossOrigin(app: NestFastifyApplication, origins: string[]): void {
  if (origins.length === 0) return;
  app.enableCors({
    origin: origins,
    credentials: false,
    maxAge: 600,
    exposedHeaders: [
      'ETag',
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'RateLimit-Policy',
      'X-Request-Id',
      'WWW-Authenticate',
    ],
  });
}

/** DTOs are whitelisted and transformed; a refusal is the validation_failed problem listing the fields. */
export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) =>
      Problems.badRequest('The request is not valid', 'validation_failed', {
        errors: flattenValidationErrors(errors),
      }),
  });
}
