import { Injectable } from '@nestjs/common';

export interface TokenPolicy {
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  rotateRefreshTokens: boolean;
  reuseGraceSeconds: number;
}

/** DESIGN section 7, `tokens` block: 15-minute access, 7-day refresh, rotation on, 30 s grace. */
export const DEFAULT_TOKEN_POLICY: TokenPolicy = {
  accessTtlSeconds: 900,
  refreshTtlSeconds: 604_800,
  rotateRefreshTokens: true,
  reuseGraceSeconds: 30,
};

/** The token lifetimes and rotation rules in force. */
@Injectable()
export class TokenPolicyService {
  private policy: TokenPolicy = { ...DEFAULT_TOKEN_POLICY };

  current(): TokenPolicy {
    return this.policy;
  }

  update(policy: Partial<TokenPolicy>): void {
    this.policy = { ...this.policy, ...policy };
  }
}
