import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditSink } from '../audit/audit.port';
import { AdminOnly, CurrentPrincipal } from '../common/decorators/auth-policy.decorator';
import { Principal } from '../common/principal';
import { madeBy, RequestMeta } from '../common/request-meta';
import { DecisionExplainer, Explanation } from './decision-explainer.service';
import { ExplainDecisionDto } from './dto/explain.dto';

@ApiTags('decision endpoint')
@AdminOnly()
@Controller('admin/decision')
export class DecisionExplainerController {
  constructor(
    private readonly explainer: DecisionExplainer,
    private readonly audit: AuditSink,
  ) {}

  @Post('explain')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Dry run of the decision endpoint: every step of the pipeline, and the one that decided. Spends no rate-limit budget; records one decision.explained audit event',
  })
  @ApiOkResponse({
    schema: {
      example: {
        decision: 'deny',
        status: 403,
        code: 'ip_not_allowed',
        decidedBy: 'allow-list',
        steps: [
          {
            step: 'client-address',
            verdict: 'info',
            detail: 'Judged as coming from 203.0.113.7',
            decided: false,
          },
          { step: 'allow-list', verdict: 'deny', code: 'ip_not_allowed', decided: true },
        ],
      },
    },
  })
  @ApiBadRequestResponse({ description: 'The method, URI or client address is not valid' })
  async explain(
    @Body() body: ExplainDecisionDto,
    @CurrentPrincipal() operator: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<Explanation> {
    const explanation = await this.explainer.explain(body, meta.ip);
    this.audit.record({
      event: 'decision.explained',
      outcome: 'success',
      ...madeBy(operator, meta),
      // The request explained, not the explaining one.
      method: explanation.method,
      path: explanation.path,
      status: explanation.status,
      reason: explanation.code ?? explanation.decision,
      // What was asked and answered; the credential itself is never recorded.
      details: {
        clientIp: explanation.clientIp,
        decision: explanation.decision,
        decidedBy: explanation.decidedBy,
        credentialPresented: body.authorization !== undefined && body.authorization !== '',
        user: explanation.principal?.username ?? null,
      },
    });
    return explanation;
  }
}
