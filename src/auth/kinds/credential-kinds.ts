import { Injectable } from '@nestjs/common';
import type { StrategyName } from '../../common/passport/local-strategy';
import type { CredentialKind } from '../../common/principal';
import { StrategyRequest, StrategyRunner } from '../strategies/strategy-runner';
import { AuthenticationRules, CredentialKindHandler, KIND_PRECEDENCE } from './credential-kind';

/**
 * The credential kinds of this application: each module that owns a kind registers it when it
 * starts (its strategy joins the application's passport instance with it).
 */
@Injectable()
export class CredentialKinds {
  private readonly byKind = new Map<CredentialKind, CredentialKindHandler>();
  private ordered: readonly CredentialKindHandler[] = [];

  constructor(private readonly runner: StrategyRunner) {}

  register(...handlers: CredentialKindHandler[]): void {
    for (const handler of handlers) {
      this.byKind.set(handler.kind, handler);
      this.runner.register(handler.kind, handler.strategy);
      for (const [name, strategy] of Object.entries(handler.otherStrategies ?? {}))
        this.runner.register(name as StrategyName, strategy);
    }
    this.ordered = KIND_PRECEDENCE.map((kind) => this.byKind.get(kind)).filter(
      (h): h is CredentialKindHandler => h !== undefined,
    );
  }

  /** Every registered kind, in order of precedence. */
  all(): readonly CredentialKindHandler[] {
    return this.ordered;
  }

  get(kind: CredentialKind): CredentialKindHandler | undefined {
    return this.byKind.get(kind);
  }

  /** Runs the kind's passport strategy on the request, as the route's rules present it. */
  run<T>(
    strategy: StrategyName,
    request: StrategyRequest,
    rules: Pick<AuthenticationRules, 'connectContext' | 'login'>,
  ): Promise<T> {
    return this.runner.run<T>(strategy, request, rules);
  }
}
