import { FastifyAdapter } from '@nestjs/platform-fastify';
import {
  FastifyBaseLogger,
  FastifyError,
  FastifyReply,
  FastifyRequest,
  LogController,
} from 'fastify';
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { problem, sendProblem } from '../common/problem/problem.filter';
import { BODY_LIMIT_BYTES } from './body-parsing';
import { requestIdGenerator } from './request-id';
import { SecurityHeaders, stampAnswer } from './response-headers';
import type { Shutdown } from './shutdown';

/** A caller-supplied request id is kept only when it is short and plain, so logs cannot be forged through it. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The Fastify adapter: Warden's logger, request ids, limits, and problem documents for the
 * requests refused before any hook runs (a URL the router refuses, bytes the HTTP parser
 * refuses).
 */
export function createAdapter(
  logger: Logger,
  headers: SecurityHeaders,
  shutdown: Shutdown,
): FastifyAdapter {
  // The API's security headers as header lines, for the answers written straight to the socket.
  const rawApiHeaders = Object.entries(headers.api)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  // One prefix per instance, drawn at start, and a counter (request-id.ts).
  const nextRequestId = requestIdGenerator();
  return new FastifyAdapter({
    loggerInstance: logger,
    // One line per response is written by the onResponse hook (access-record.ts), at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: building one (with redaction) costs more than the lines it
    // would write; the few request lines carry reqId themselves.
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 500 },
    // Fastify's own answer while closing is plain JSON without any of Warden's headers; the
    // onRequest hook of shutdown.ts answers instead, with a problem document.
    return503OnClosing: false,
    // A URL the router refuses (bad percent-encoding, a parameter over maxParamLength) is a
    // problem document like every other refusal.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const status = tooLong ? 414 : 400;
      // Fastify answers these before routing, outside every hook: the headers the onSend hook
      // gives other answers are set here.
      reply.headers(headers.api);
      stampAnswer(request, reply, shutdown);
      sendProblem(
        reply,
        problem(
          status,
          tooLong ? 'uri_too_long' : 'bad_url',
          tooLong ? 'URI Too Long' : 'Bad Request',
          tooLong ? 'A path segment is too long' : 'The URL is not valid',
          String(request.id),
        ),
      );
    },
    // Requests the HTTP parser refuses (bad framing, oversized headers) get a problem document
    // too, not Fastify's own JSON; the connection is closed after it.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      // A response already on its way on this connection (the error came after it): only close.
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })
        ._httpMessage;
      if (!socket.writable || inFlight?.headersSent) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const title = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      const requestId = nextRequestId();
      const body = JSON.stringify(
        problem(
          status,
          status === 431 ? 'headers_too_large' : 'bad_request',
          title,
          status === 431 ? 'The request headers are too large' : 'The request could not be parsed',
          requestId,
        ),
      );
      socket.end(
        `HTTP/1.1 ${status} ${title}\r\n${rawApiHeaders}X-Request-Id: ${requestId}\r\n` +
          `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Connection: close\r\n\r\n${body}`,
        // Closed both ways once written: a client sending garbage holds no descriptor.
        () => socket.destroy(),
      );
    },
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : nextRequestId();
    },
  });
}
