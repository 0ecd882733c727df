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
import { isAdmin } from '../../common/principal';
import { requestMeta } from '../../common/request-meta';
import { AuthenticatorService } from '../authenticator.service';

const DEFAULT_POLICY: AuthPolicy = { kinds: DEFAULT_KINDS };

/**
 * The one global guard: every route is protected unless marked @Public(); the route's policy
 * names the credential kinds it takes and whether it is for administrators.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: AuthenticatorService,
    private readonly audit: AuditSink,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy =
      this.reflector.getAllAndOverride<AuthPolicy | undefined>(AUTH_POLICY, [
        context.getHandler(),
        context.getClass(),
      ]) ?? DEFAULT_POLICY;
    if (policy.public) return true;
    const request = context
      .switchToHttp()
      .getRequest<AuthenticatedRequest & { refreshClaims?: unknown }>();
    try {
      const { principal, refreshClaims } = await this.authenticator.authenticate(
        request,
        policy.kinds ?? DEFAULT_KINDS,
      );
      request.principal = principal;
      if (refreshClaims) request.refreshClaims = refreshClaims;
    } catch (err) {
      if (policy.failureEvent && err instanceof DomainError && err.status === 401)
        this.recordFailure(policy.failureEvent, request, err);
      throw err;
    }
    if (policy.admin && !isAdmin(request.principal!)) {
      throw Problems.forbidden('admin_required', 'This operation is for administrators');
    }
    return true;
  }

  private recordFailure(event: string, request: AuthenticatedRequest, err: DomainError): void {
    const credential = parseAuthorization(request.headers.authorization);
    const meta = requestMeta(request);
    this.audit.record({
      event,
      outcome: 'failure',
      actor: credential.scheme === 'basic' ? credential.username.slice(0, 255) : null,
      authMethod:
        credential.scheme === 'basic' ? 'basic' : credential.scheme === 'none' ? 'session' : null,
      ip: meta.ip,
      userAgent: meta.userAgent,
      requestId: meta.requestId,
      method: meta.method,
      path: meta.path,
      status: 401,
      reason: err.code,
    });
  }
}
