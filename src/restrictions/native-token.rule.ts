import { Inject, Injectable } from '@nestjs/common';
import { matchesOpaqueTokens } from '../auth/external/provider-routing';
import { KeyRingService } from '../auth/keys/key-ring.service';
import { API_TOKEN_MARK, parseAuthorization } from '../common/credentials';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { SettingsService } from '../settings/settings.service';
import { namesAny } from './token-readings';

/**
 * nativeOAuthTokens.allowed: a bearer token that is none of Warden's kinds belongs to the
 * upstream product itself (a Jira / Confluence OAuth or personal access token); the decision
 * endpoint lets it through for the upstream to judge.
 *
 * Asked only once every strategy has refused the token, so a token is native only when it is
 * none of Warden's by every reading: not a `wdn_` token, not an opaque token an enabled identity
 * provider's opaqueTokens pattern claims, and nothing in any lenient reading of it
 * (token-readings) names Warden's issuer, one of Warden's signing keys (retired ones too) or any
 * enabled provider's issuer. Such a token failed verification and is refused, however it is spelt: an
 * `alg: none` token with Warden's issuer, a revoked access token with `=` appended.
 */
@Injectable()
export class NativeTokenRule {
  constructor(
    private readonly settings: SettingsService,
    private readonly keys: KeyRingService,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  passes(authorization: string | string[] | undefined): boolean {
    const settings = this.settings.get();
    if (!settings.nativeOAuthTokens.allowed || !settings.restApiAuthentication.enabled)
      return false;
    const credential = parseAuthorization(authorization);
    if (credential.scheme !== 'bearer' || credential.token.startsWith(API_TOKEN_MARK)) return false;
    const token = credential.token;
    const providers = settings.identityProviders.filter((p) => p.enabled);
    if (providers.some((provider) => matchesOpaqueTokens(provider, token))) return false;
    const marks = [
      this.config.issuer,
      ...this.keys.publishedKeys().keys.map((k) => String(k.kid ?? '')),
      ...providers.map((provider) => provider.issuer ?? ''),
    ];
    return !namesAny(token, marks);
  }
}
