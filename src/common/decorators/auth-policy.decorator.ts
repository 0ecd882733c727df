import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
} from '@nestjs/common';
import {
  ApiBasicAuth,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CredentialKind, Principal } from '../principal';

export interface AuthPolicy {
  public?: boolean;
  /** Credential kinds this route takes; the guard refuses any other. */
  kinds?: CredentialKind[];
  admin?: boolean;
  /** Audit event recorded when authentication on this route fails (e.g. `auth.login.failed`). */
  failureEvent?: string;
  /** Exchanges a password for tokens: takes one even when basicAuth.enabled is off. */
  login?: boolean;
  /** An API route in the sense of restApiAuthentication: open to all when that is switched off. */
  api?: boolean;
  /** Takes Atlassian Connect context tokens (`qsh: context-qsh`), issued to the app's front end. */
  connectContext?: boolean;
}

export const AUTH_POLICY = 'warden:auth-policy';

/** What a route without any decorator takes: protected, by Warden's own access token or Basic. */
export const DEFAULT_KINDS: CredentialKind[] = ['access', 'api-token', 'basic'];

const SECURITY_BY_KIND: Partial<Record<CredentialKind, () => MethodDecorator & ClassDecorator>> = {
  access: () => ApiBearerAuth('bearer'),
  'api-token': () => ApiSecurity('apiToken'),
  refresh: () => ApiBearerAuth('refreshToken'),
  basic: () => ApiBasicAuth('basic'),
  session: () => ApiSecurity('upstreamSession'),
  connect: () => ApiSecurity('connectJwt'),
  'connect-install': () => ApiSecurity('connectJwt'),
  'cmj-spi': () => ApiBearerAuth('cmjSpiJwt'),
};

function securityFor(kinds: CredentialKind[]) {
  return kinds
    .map((k) => SECURITY_BY_KIND[k])
    .filter((d): d is NonNullable<typeof d> => !!d)
    .map((d) => d());
}

const problemSchema = { $ref: '#/components/schemas/Problem' };

/** Opens a route to anyone (the guard is global, so everything else is protected). */
export const Public = (options: Pick<AuthPolicy, 'login'> = {}) =>
  SetMetadata(AUTH_POLICY, { public: true, ...options } satisfies AuthPolicy);

/** Protected route taking the given credential kinds; also documents them in OpenAPI. */
export const Authenticated = (
  kinds: CredentialKind[] = DEFAULT_KINDS,
  options: Pick<AuthPolicy, 'failureEvent' | 'login' | 'api' | 'connectContext'> = {},
) =>
  applyDecorators(
    SetMetadata(AUTH_POLICY, { kinds, ...options } satisfies AuthPolicy),
    ...securityFor(kinds),
    ApiUnauthorizedResponse({ description: 'No or bad credentials', schema: problemSchema }),
  );

/** Protected route for members of the admin group only. */
export const AdminOnly = (kinds: CredentialKind[] = DEFAULT_KINDS) =>
  applyDecorators(
    SetMetadata(AUTH_POLICY, { kinds, admin: true } satisfies AuthPolicy),
    ...securityFor(kinds),
    ApiUnauthorizedResponse({ description: 'No or bad credentials', schema: problemSchema }),
    ApiForbiddenResponse({ description: 'Caller is not an administrator', schema: problemSchema }),
  );

export type AuthenticatedRequest = FastifyRequest & { principal?: Principal };

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => {
    return ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal!;
  },
);
