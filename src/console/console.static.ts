import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { problem, sendProblem } from '../common/problem/problem.filter';

/** Where `npm run build` puts the operator console (scripts/build-console.js). */
export const CONSOLE_DIR = join(resolve(__dirname, '..', '..'), 'dist', 'console-ui');
export const CONSOLE_PREFIX = '/console/';

/**
 * The operator console: static files built from console/ at build time, served by Warden itself
 * (no other origin). The files are public, like the sign-in form they hold; everything the console
 * shows comes from the admin API, under its usual rules. Answers carry the console's own strict
 * Content-Security-Policy (security-headers.ts).
 */
export async function serveConsole(app: NestFastifyApplication, dir = CONSOLE_DIR): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/console', (_request, reply) => {
    void reply.redirect(CONSOLE_PREFIX, 301);
  });
  if (!existsSync(join(dir, 'index.html'))) {
    // A checkout started without `npm run build`: say so, instead of a bare 404.
    fastify.get('/console/*', (request, reply) =>
      sendProblem(
        reply,
        problem(
          503,
          'console_not_built',
          'Service Unavailable',
          'The operator console is not built: run npm run build (npm start builds it when needed)',
          String(request.id),
        ),
      ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: CONSOLE_PREFIX,
    // Swagger's explorer registers the reply decorator already.
    decorateReply: false,
    index: ['index.html'],
    // Small files, rebuilt in place: revalidated by ETag on every load.
    cacheControl: false,
    setHeaders: (res) => {
      res.header('Cache-Control', 'no-cache');
    },
  });
}
