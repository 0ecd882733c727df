import { Inject, Injectable } from '@nestjs/common';
import { API_TOKEN_MARK, parseAuthorization } from '../common/credentials';
import { decodeJws } from '../common/jwt/jws';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { SettingsService } from './settings.service';

/**
 * nativeOAuthTokens.allowed: a bearer token that is none of Warden's kinds (not a `wdn_` token,
 * not a JWT issued by Warden or the configured IdP) belongs to the upstream product itself (a
 * Jira / Confluence OAuth or personal access token); the decision endpoint lets it through for
 * the upstream to judge.
 */
@Injectable()
export class NativeTokenRule {
  constructor(
    private readonly settings: SettingsService,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  passes(authorization: string | string[] | undefined): boolean {
    const settings = this.settings.get();
    if (!settings.nativeOAuthTokens.allowed || !settings.restApiAuthentication.enabled)
      return false;
    const credential = parseAuthorization(authorization);
    if (credential.scheme !== 'bearer' || credential.token.startsWith(API_TOKEN_MARK)) return false;
    let issuer: unknown;
    try {
      issuer = decodeJws(credential.token).payload.iss;
    } catch {
      return true; // not a JWS at all: an opaque upstream token
    }
    const ours = [
      this.config.issuer,
      settings.externalJwt.enabled ? settings.externalJwt.issuer : null,
    ];
    return typeof issuer === 'string' && !ours.includes(issuer);
  }
}
