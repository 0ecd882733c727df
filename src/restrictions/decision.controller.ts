import { All, Controller, Headers, Res } from '@nestjs/common';
import {
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
  ApiForbiddenResponse,
  ApiBasicAuth,
  ApiBearerAuth,
  ApiSecurity,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { Public } from '../common/decorators/auth-policy.decorator';
import { RequestMeta } from '../common/request-meta';
import { DecisionBody, DecisionService } from './decision.service';

/**
 * Declares the decision endpoint and describes it in the OpenAPI document. Fastify serves the
 * route with the plain handler of decision.route.ts instead of this method (Nest's per-route
 * machinery costs more than the judging); both ask DecisionService the same question.
 */
@ApiTags('decision endpoint')
@Controller('authz')
export class DecisionController {
  constructor(private readonly decisions: DecisionService) {}

  // @Public: the endpoint judges the *original* request itself, through the same pipeline.
  @All('decision')
  @Public()
  @ApiOperation({
    summary:
      'Judge a request on behalf of a reverse proxy (nginx auth_request, Traefik ForwardAuth)',
  })
  @ApiHeader({
    name: 'X-Original-Method',
    required: false,
    description: 'nginx: method of the original request',
  })
  @ApiHeader({
    name: 'X-Original-URI',
    required: false,
    description: 'nginx: URI of the original request',
  })
  @ApiHeader({
    name: 'X-Forwarded-Method',
    required: false,
    description: 'Traefik: method of the original request',
  })
  @ApiHeader({
    name: 'X-Forwarded-Uri',
    required: false,
    description: 'Traefik: URI of the original request',
  })
  @ApiBearerAuth('bearer')
  @ApiSecurity('apiToken')
  @ApiBasicAuth('basic')
  @ApiSecurity('connectJwt')
  @ApiSecurity('upstreamSession')
  @ApiOkResponse({
    description:
      'Allowed; X-Warden-User, X-Warden-Groups, X-Warden-Auth-Method, X-Warden-Credential-Id name the caller (X-Warden-Tenant: the Connect clientKey)',
    schema: { example: { decision: 'allow', user: 'alice', authMethod: 'access' } },
  })
  @ApiUnauthorizedResponse({
    description: 'No or bad credentials',
    schema: { $ref: '#/components/schemas/Problem' },
  })
  @ApiForbiddenResponse({
    description: 'Known caller, not allowed; `code` names the rule',
    schema: { $ref: '#/components/schemas/Problem' },
  })
  @ApiTooManyRequestsResponse({
    description: 'Over the rate limit; Retry-After says when to retry',
    schema: { $ref: '#/components/schemas/Problem' },
  })
  async decide(
    @Headers() headers: IncomingHttpHeaders,
    @RequestMeta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DecisionBody> {
    const verdict = await this.decisions.decide({
      headers,
      ip: meta.ip,
      requestId: meta.requestId,
    });
    reply.headers(verdict.headers);
    return verdict.body;
  }
}
