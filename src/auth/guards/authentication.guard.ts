import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditSink } from '../../audit/audit.port';
import { parseAuthorization } from '../../common/credentials';
import {
  AUTH_POLICY,
  AuthenticatedRequest,
  AuthPolicy,
  DEFAULT_KINDS,
} from '../../common/decorators/auth-policy.decorator';
import { DomainError, Problems } from '../../common/problem/domain-error';
import { isAdmin, Principal, READ_METHODS } from '../../common/principal';
import { requestMeta } from '../../common/request-meta';
import { SettingsService } from '../../restrictions/settings.service';
import { AuthenticatorService } from '../authenticator.service';

const DEFAULT_POLICY: AuthPolicy = { kinds: DEFAULT_KINDS };

const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  username: 'anonymous',
  groups: [],
  authMethod: 'anonymous',
  credentialId: 'anonymous',
  scopes: [],
}) as Principal;

/**
 * The one global guard: every route is protected unless marked @Public(); the route's policy
 * names the credential kinds it takes, whether it is for administrators, and whether it is an
 * API route that restApiAuthentication may open.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  /** Route metadata never changes after start: read it once per handler, not per request. */
  private readonly policies = new WeakMap<object, AuthPolicy>();

  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: AuthenticatorService,
    private readonly settings: SettingsService,
    private readonly audit: AuditSink,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const handler = context.getHandler();
    let policy = this.policies.get(handler);
    if (!policy) {
      policy =
        this.reflector.getAllAndOverride<AuthPolicy | undefined>(AUTH_POLICY, [
          handler,
          context.getClass(),
        ]) ?? DEFAULT_POLICY;
      this.policies.set(handler, policy);
    }
    if (policy.public) return true;
    const request = context
      .switchToHttp()
      .getRequest<AuthenticatedRequest & { refreshClaims?: unknown }>();
    if (policy.api && !this.settings.get().restApiAuthentication.enabled) {
      request.principal = ANONYMOUS;
      this.audit.record({
        ...auditBase(request),
        event: 'access.allowed',
        outcome: 'allowed',
        reason: 'rest_api_authentication_disabled',
      });
      return true;
    }
    try {
      const { principal, refreshClaims } = await this.authenticator.authenticate(request, {
        kinds: policy.kinds ?? DEFAULT_KINDS,
        login: policy.login,
      });
      request.principal = principal;
      if (refreshClaims) request.refreshClaims = refreshClaims;
    } catch (err) {
      if (policy.failureEvent && err instanceof DomainError && err.status === 401)
        this.recordFailure(policy.failureEvent, request, err);
      throw err;
    }
    const principal = request.principal!;
    if (policy.admin && !isAdmin(principal)) {
      throw Problems.forbidden('admin_required', 'This operation is for administrators');
    }
    const needed = policy.admin ? 'admin' : READ_METHODS.has(request.method) ? 'read' : 'write';
    if (!hasScope(principal.scopes, needed)) {
      throw Problems.forbidden('scope_insufficient', `The token's scopes do not include ${needed}`);
    }
    return true;
  }

  private recordFailure(event: string, request: AuthenticatedRequest, err: DomainError): void {
    const credential = parseAuthorization(request.headers.authorization);
    this.audit.record({
      ...auditBase(request),
      event,
      outcome: 'failure',
      actor: credential.scheme === 'basic' ? credential.username.slice(0, 255) : null,
      authMethod:
        credential.scheme === 'basic' ? 'basic' : credential.scheme === 'none' ? 'session' : null,
      status: 401,
      reason: err.code,
    });
  }
}

/** `write` covers reading too; `admin` is needed on its own for administration routes. */
function hasScope(scopes: readonly string[], needed: 'read' | 'write' | 'admin'): boolean {
  return scopes.includes(needed) || (needed === 'read' && scopes.includes('write'));
}

function auditBase(request: AuthenticatedRequest) {
  const meta = requestMeta(request);
  return {
    ip: meta.ip,
    userAgent: meta.userAgent,
    requestId: meta.requestId,
    method: meta.method,
    path: meta.path,
  };
}
